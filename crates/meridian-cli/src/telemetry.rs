//! OpenTelemetry trace export over OTLP/HTTP (protobuf), off by default.
//!
//! Export starts when the standard variable `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
//! (the full URL, e.g. `http://collector:4318/v1/traces`) or
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (the base URL; `/v1/traces` is appended) is
//! set, unless `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. The
//! other `OTEL_EXPORTER_OTLP_*` variables (headers, timeout) are read by the
//! exporter as the specification says; compression is not built in, so
//! `OTEL_EXPORTER_OTLP_COMPRESSION` is ignored (spans go uncompressed).
//!
//! Spans go through a batch processor, which runs on its own thread with a
//! blocking HTTP client, so exporting never competes with the run for the
//! async runtime. Every span carries the resource attributes
//! `service.name=meridian` and, when the process serves one region,
//! `meridian.region`; model-call spans carry the OpenTelemetry GenAI
//! attributes and the region themselves (see `meridian_models`). `main`
//! shuts the exporter down before the process exits, which flushes the spans
//! still queued ([`Telemetry::shutdown`]).

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// `service.name` of every exported span.
pub const SERVICE_NAME: &str = "meridian";
/// Resource attribute naming the region a process serves.
pub const REGION_ATTRIBUTE: &str = "meridian.region";
/// Which spans are exported, unless `MERIDIAN_OTEL_FILTER` says otherwise (an
/// `EnvFilter` directive). The HTTP stack is left out, above all the
/// exporter's own requests, which would otherwise be traced and exported in
/// turn.
pub const DEFAULT_EXPORT_FILTER: &str = "info,hyper=off,hyper_util=off,h2=off,reqwest=off,opentelemetry=off,opentelemetry_sdk=off,opentelemetry_otlp=off,sqlx=warn";

/// Whether the environment asks for OTLP trace export (see the module docs).
#[must_use]
pub fn otlp_requested() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let is = |name: &str, value: &str| {
        std::env::var(name).is_ok_and(|v| v.trim().eq_ignore_ascii_case(value))
    };
    (set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") || set("OTEL_EXPORTER_OTLP_ENDPOINT"))
        && !is("OTEL_SDK_DISABLED", "true")
        && !is("OTEL_TRACES_EXPORTER", "none")
}

/// A tracer provider exporting over OTLP/HTTP protobuf through a batch
/// processor. `endpoint` is the full traces URL; `None` reads it from the
/// environment. `region`, when the process serves one, becomes the resource
/// attribute [`REGION_ATTRIBUTE`].
///
/// # Errors
/// When the exporter cannot be built (an invalid endpoint URL).
pub fn tracer_provider(
    endpoint: Option<&str>,
    region: Option<&str>,
) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    // The exporter's reqwest client is built with `rustls-no-provider` (through
    // feature unification) and panics without a process-wide provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary);
    if let Some(endpoint) = endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    let exporter = builder.build()?;
    let mut resource = Resource::builder().with_service_name(SERVICE_NAME);
    if let Some(region) = region {
        resource = resource.with_attribute(KeyValue::new(REGION_ATTRIBUTE, region.to_owned()));
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}

/// The `tracing` layer that hands spans to `provider`, with its own filter
/// ([`DEFAULT_EXPORT_FILTER`] or `MERIDIAN_OTEL_FILTER`), independent of how
/// much is logged to stderr.
pub fn layer<S>(provider: &SdkTracerProvider) -> impl Layer<S> + use<S>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let filter = std::env::var("MERIDIAN_OTEL_FILTER")
        .ok()
        .and_then(|f| tracing_subscriber::EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(DEFAULT_EXPORT_FILTER));
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(SERVICE_NAME))
        .with_filter(filter)
}

/// The exporter of a process, if export is on. `main` keeps it and calls
/// [`Telemetry::shutdown`] before exiting; dropping it does the same, so an
/// early return loses no spans either.
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Export off.
    #[must_use]
    pub fn disabled() -> Self {
        Self { provider: None }
    }

    /// Export through `provider`.
    #[must_use]
    pub fn exporting(provider: SdkTracerProvider) -> Self {
        Self {
            provider: Some(provider),
        }
    }

    /// Whether spans are exported.
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.provider.is_some()
    }

    /// Flushes the spans still queued and stops the exporter.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("warning: exporting the last traces failed: {e}");
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use meridian_config::{ModelConfig, ProviderKind, Weights};
    use meridian_core::{Jurisdiction, RegionId, Segment, Transcript, TranscriptSource};
    use meridian_egress::{EgressClient, EgressOptions, EgressRules};
    use meridian_models::{InsightChain, ModelProvider, OllamaProvider};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue as ProtoKeyValue, any_value};
    use prost::Message as _;
    use serde_json::json;
    use tracing_subscriber::layer::SubscriberExt as _;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    fn value(attributes: &[ProtoKeyValue], key: &str) -> Option<any_value::Value> {
        attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.clone())
            .and_then(|AnyValue { value }| value)
    }

    fn text(s: &str) -> Option<any_value::Value> {
        Some(any_value::Value::StringValue(s.to_owned()))
    }

    /// A model entry as `RegionConfig::validate` makes it.
    fn qwen(endpoint: &str) -> ModelConfig {
        let cn = Jurisdiction::parse("CN").unwrap();
        ModelConfig {
            name: "qwen".to_owned(),
            provider: ProviderKind::Ollama,
            endpoint: Some(url::Url::parse(endpoint).unwrap()),
            model: "qwen2.5:7b-instruct".to_owned(),
            api_key_env: None,
            api_key: None,
            hosted_in: cn,
            origin: cn,
            weights: Weights::Open,
            digest: None,
            timeout: Duration::from_secs(20),
            max_retries: 0,
            max_concurrency: 1,
            attributes: Vec::new(),
            unavailable: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn model_call_spans_reach_an_otlp_collector_with_genai_attributes_and_the_region() {
        let collector = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/traces"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&collector)
            .await;
        let ollama = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/chat"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "model": "qwen2.5:7b-instruct",
                "created_at": "2025-05-14T09:21:07.511624Z",
                "message": {"role": "assistant", "content": "{\"insights\":[]}"},
                "done_reason": "stop",
                "done": true,
                "total_duration": 5_191_566_416_u64,
                "load_duration": 2_154_458,
                "prompt_eval_count": 812,
                "prompt_eval_duration": 383_809_000,
                "eval_count": 97,
                "eval_duration": 4_799_921_000_u64
            })))
            .mount(&ollama)
            .await;
        let region = RegionId::parse("cn").unwrap();
        let rules = EgressRules::new(&[ollama.address().to_string()], false).unwrap();
        let egress = EgressClient::new(region.clone(), rules, EgressOptions::default()).unwrap();
        let chain = InsightChain::new(region, &[qwen(&ollama.uri())], |config| {
            #[expect(
                clippy::disallowed_methods,
                reason = "a span test of the provider alone, with no region and so no gate"
            )]
            let http = egress.legacy_reqwest_client().clone();
            OllamaProvider::new(config, http).map(ModelProvider::Ollama)
        });
        let transcript = Transcript {
            source: TranscriptSource::ShowNotes,
            language: Some("zh".to_owned()),
            segments: vec![Segment {
                start: Some(0.0),
                end: None,
                speaker: None,
                text: "今年的数据显示，出口增长了百分之八。".to_owned(),
            }],
        };
        let provider =
            tracer_provider(Some(&format!("{}/v1/traces", collector.uri())), Some("cn")).unwrap();
        let subscriber = tracing_subscriber::registry().with(layer(&provider));

        {
            let _default = tracing::subscriber::set_default(subscriber);
            let x = chain
                .extract(&transcript, "小账本", "出口", 5)
                .await
                .unwrap();
            assert_eq!(x.model, "qwen");
        }
        provider.force_flush().unwrap();

        let mut spans = Vec::new();
        for request in collector.received_requests().await.unwrap() {
            let export = ExportTraceServiceRequest::decode(&request.body[..]).unwrap();
            for resource_spans in export.resource_spans {
                let resource = resource_spans.resource.unwrap_or_default().attributes;
                for scope in resource_spans.scope_spans {
                    spans.extend(scope.spans.into_iter().map(|s| (resource.clone(), s)));
                }
            }
        }
        let (resource, span) = spans
            .iter()
            .find(|(_, s)| {
                value(
                    &s.attributes,
                    meridian_core::telemetry::GEN_AI_OPERATION_NAME,
                ) == text("chat")
            })
            .unwrap_or_else(|| panic!("no model-call span among {} exported", spans.len()));
        assert_eq!(span.name, "chat qwen2.5:7b-instruct");
        let attributes = &span.attributes;
        assert_eq!(
            value(attributes, meridian_core::telemetry::GEN_AI_PROVIDER_NAME),
            text("ollama")
        );
        assert_eq!(
            value(attributes, meridian_core::telemetry::GEN_AI_REQUEST_MODEL),
            text("qwen2.5:7b-instruct")
        );
        assert_eq!(
            value(
                attributes,
                meridian_core::telemetry::GEN_AI_USAGE_INPUT_TOKENS
            ),
            Some(any_value::Value::IntValue(812))
        );
        assert_eq!(
            value(
                attributes,
                meridian_core::telemetry::GEN_AI_USAGE_OUTPUT_TOKENS
            ),
            Some(any_value::Value::IntValue(97))
        );
        assert_eq!(
            value(attributes, meridian_core::telemetry::REGION),
            text("cn")
        );
        assert_eq!(value(resource, "service.name"), text(SERVICE_NAME));
        assert_eq!(value(resource, REGION_ATTRIBUTE), text("cn"));
        provider.shutdown().unwrap();
    }
}

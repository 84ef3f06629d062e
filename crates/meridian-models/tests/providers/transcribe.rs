//! Speech-to-text: the enclosure fetched through the region's egress client
//! and sent to a fake OpenAI `/v1/audio/transcriptions` answering
//! `verbose_json`, as whisper-1 does.

use meridian_core::{Enclosure, RegionId, TranscriptSource};
use meridian_egress::{EgressClient, EgressOptions, EgressRules};
use meridian_models::{ModelError, TranscribeChain, transcribe};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Kind, build_provider, model_config};

/// A few bytes that start like an MP3 file.
const AUDIO: &[u8] = b"ID3\x04\x00\x00\x00\x00\x00\x0f\xff\xfbP\xc4fake mpeg frames";

/// `POST /v1/audio/transcriptions` with `response_format=verbose_json`, as
/// OpenAI's whisper-1 answers it (segments with their decoder statistics,
/// usage in seconds).
fn verbose_json() -> Value {
    json!({
        "task": "transcribe",
        "language": "english",
        "duration": 14.72,
        "text": "Sodium-ion cells cost about thirty percent less than LFP. They also work at minus twenty degrees.",
        "segments": [
            {"id": 0, "seek": 0, "start": 0.0, "end": 6.4,
             "text": " Sodium-ion cells cost about thirty percent less than LFP.",
             "tokens": [50364, 318, 47214, 12, 313, 5438, 2063, 466, 11790, 3043, 1570, 813, 441, 45882, 13, 50684],
             "temperature": 0.0, "avg_logprob": -0.2860786020755768, "compression_ratio": 1.2363636493682861,
             "no_speech_prob": 0.00985979475080967},
            {"id": 1, "seek": 0, "start": 6.4, "end": 14.72,
             "text": " They also work at minus twenty degrees.",
             "tokens": [50684, 814, 611, 589, 412, 3175, 7699, 5310, 13, 51100],
             "temperature": 0.0, "avg_logprob": -0.2860786020755768, "compression_ratio": 1.2363636493682861,
             "no_speech_prob": 0.00985979475080967},
            {"id": 2, "seek": 1472, "start": 14.72, "end": 14.72, "text": " ",
             "tokens": [], "temperature": 0.0, "avg_logprob": -1.0, "compression_ratio": 0.0, "no_speech_prob": 0.9}
        ],
        "usage": {"type": "duration", "seconds": 15}
    })
}

struct Setup {
    server: MockServer,
    egress: EgressClient,
    region: RegionId,
}

impl Setup {
    async fn start() -> Self {
        crate::support::install_crypto();
        let server = MockServer::builder().start().await;
        let region = RegionId::parse("us").expect("region");
        let rules = EgressRules::new(&[server.address().to_string()], false).expect("rules");
        let egress = EgressClient::new(region.clone(), rules, EgressOptions::default())
            .expect("egress client");
        Self {
            server,
            egress,
            region,
        }
    }

    fn whisper(&self, name: &str) -> meridian_config::ModelConfig {
        let mut config = model_config(Kind::OpenAi, &format!("{}/v1", self.server.uri()));
        config.name = name.to_owned();
        config.model = "whisper-1".to_owned();
        config.max_retries = 0;
        config
    }

    fn chain(&self, configs: &[meridian_config::ModelConfig]) -> TranscribeChain {
        TranscribeChain::new(self.region.clone(), configs, build_provider)
    }

    fn enclosure(&self, file: &str) -> Enclosure {
        Enclosure {
            url: format!("{}/media/{file}", self.server.uri()),
            mime_type: Some("audio/mpeg".to_owned()),
            length: Some(AUDIO.len() as u64),
        }
    }

    async fn serve_audio(&self, times: u64) {
        Mock::given(method("GET"))
            .and(path("/media/sodium-7.mp3"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "audio/mpeg")
                    .set_body_bytes(AUDIO),
            )
            .expect(times)
            .mount(&self.server)
            .await;
    }

    async fn transcriptions(&self) -> Vec<wiremock::Request> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == "/v1/audio/transcriptions")
            .collect()
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn enclosure_is_transcribed_into_timed_segments() {
    let s = Setup::start().await;
    s.serve_audio(1).await;
    Mock::given(method("POST"))
        .and(path("/v1/audio/transcriptions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(verbose_json()))
        .expect(1)
        .mount(&s.server)
        .await;
    let chain = s.chain(&[s.whisper("whisper")]);

    let done = transcribe(
        &chain,
        &s.egress,
        &s.enclosure("sodium-7.mp3"),
        Some("en-US"),
    )
    .await
    .expect("transcribed");

    assert_eq!(done.model, "whisper");
    let t = &done.transcript;
    assert_eq!(t.source, TranscriptSource::SpeechToText);
    assert_eq!(t.language.as_deref(), Some("en"));
    let segments: Vec<(Option<f64>, Option<f64>, &str)> = t
        .segments
        .iter()
        .map(|s| (s.start, s.end, s.text.as_str()))
        .collect();
    assert_eq!(
        segments,
        [
            (
                Some(0.0),
                Some(6.4),
                "Sodium-ion cells cost about thirty percent less than LFP."
            ),
            (
                Some(6.4),
                Some(14.72),
                "They also work at minus twenty degrees."
            ),
        ],
        "times kept, text trimmed, the silent segment dropped"
    );
    // The upload: the enclosure's own bytes under its own name, asking for
    // verbose_json with segment timestamps.
    let sent = s.transcriptions().await;
    assert_eq!(sent.len(), 1);
    let body = &sent[0].body;
    let content_type = sent[0]
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("multipart/form-data"),
        "{content_type}"
    );
    for part in [
        &b"filename=\"sodium-7.mp3\""[..],
        AUDIO,
        b"name=\"model\"\r\n\r\nwhisper-1",
        b"name=\"response_format\"\r\n\r\nverbose_json",
        b"name=\"timestamp_granularities[]\"\r\n\r\nsegment",
        b"name=\"language\"\r\n\r\nen",
    ] {
        assert!(
            contains(body, part),
            "upload carries {:?}",
            String::from_utf8_lossy(part)
        );
    }
    assert_eq!(
        sent[0]
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer sk-test-123")
    );
}

#[tokio::test]
async fn failing_model_falls_back_to_the_next_of_the_same_region() {
    let s = Setup::start().await;
    s.serve_audio(1).await;
    // Two entries on the same fake: the first one's requests fail.
    let first = s.whisper("whisper-a");
    let mut second = s.whisper("whisper-b");
    second.model = "whisper-large-v3".to_owned();
    Mock::given(method("POST"))
        .and(path("/v1/audio/transcriptions"))
        .and(|r: &wiremock::Request| contains(&r.body, b"whisper-large-v3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(verbose_json()))
        .expect(1)
        .mount(&s.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/audio/transcriptions"))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(
                json!({"error": {"message": "GPU fell over", "type": "server_error"}}),
            ),
        )
        .expect(1)
        .mount(&s.server)
        .await;
    let chain = s.chain(&[first, second]);

    let done = transcribe(&chain, &s.egress, &s.enclosure("sodium-7.mp3"), None)
        .await
        .expect("second model transcribes");

    assert_eq!(done.model, "whisper-b");
    assert_eq!(done.attempts.len(), 2);
    assert!(
        matches!(&done.attempts[0].outcome, meridian_models::AttemptOutcome::Failed { kind, .. } if kind == "server_error")
    );
    assert_eq!(
        done.transcript.language.as_deref(),
        Some("en"),
        "from whisper's `english`"
    );
}

#[tokio::test]
async fn without_a_usable_model_nothing_is_downloaded() {
    let s = Setup::start().await;
    s.serve_audio(0).await;
    let mut keyless = s.whisper("whisper");
    keyless.unavailable =
        Some("no API key: environment variable OPENAI_API_KEY is not set".to_owned());
    let ollama = model_config(Kind::Ollama, &s.server.uri());
    let chain = s.chain(&[keyless, ollama]);

    let err = transcribe(&chain, &s.egress, &s.enclosure("sodium-7.mp3"), None)
        .await
        .expect_err("no model");

    assert!(
        matches!(
            err,
            ModelError::NoUsableModel {
                role: "transcribe",
                ..
            }
        ),
        "{err}"
    );
    let status = chain.status();
    assert!(
        status[1]
            .unavailable
            .as_deref()
            .is_some_and(|r| r.contains("Ollama serves no speech-to-text API")),
        "{status:?}"
    );
}

#[tokio::test]
async fn audio_over_the_cap_or_off_the_allow_list_is_not_fetched() {
    let s = Setup::start().await;
    s.serve_audio(0).await;
    let chain = s.chain(&[s.whisper("whisper")]);
    let mut huge = s.enclosure("sodium-7.mp3");
    huge.length = Some(2 * meridian_models::transcribe::MAX_AUDIO_BYTES);

    let too_large = transcribe(&chain, &s.egress, &huge, None)
        .await
        .expect_err("too large");
    let elsewhere = Enclosure {
        url: "http://127.0.0.1:9/media/sodium-7.mp3".to_owned(),
        mime_type: None,
        length: None,
    };
    let refused = transcribe(&chain, &s.egress, &elsewhere, None)
        .await
        .expect_err("not allowed");

    assert!(
        matches!(too_large, ModelError::AudioUnavailable { .. }),
        "{too_large}"
    );
    assert!(
        too_large.to_string().contains("limit for speech-to-text"),
        "{too_large}"
    );
    assert!(
        matches!(refused, ModelError::AudioUnavailable { .. }),
        "{refused}"
    );
    assert!(s.transcriptions().await.is_empty());
}

//! `Region`: one region's assembled stack.

use std::net::SocketAddr;

use std::sync::Arc;

use meridian_config::{ModelConfig, ProviderKind, RegionConfig};
use meridian_egress::{EgressClient, EgressOptions, EgressRules};
use meridian_mail::Mailer;
use meridian_models::{
    InsightChain, ModelProvider, ModelStatus, ProviderError, TokenBudget, TranscribeChain,
};
use meridian_store::RegionStore;

use crate::RuntimeError;
use crate::links::LinkSigner;
use crate::rate::SendRate;

/// Adjustments the caller makes when assembling (the demo, tests).
#[derive(Debug, Clone, Default)]
pub struct AssembleOptions {
    /// Host names resolved to fixed addresses instead of DNS, like curl's
    /// `--resolve`: the demo serves its sample podcasts this way. A host listed
    /// here must still pass the region's egress allow-list.
    pub resolve: Vec<(String, SocketAddr)>,
}

/// One region's stack: config, store, egress client, model chain, mailer.
/// Built only by [`Region::assemble`].
#[derive(Debug)]
pub struct Region {
    config: RegionConfig,
    /// This region's database, and no other region's.
    store: RegionStore,
    /// This region's only way out to the network.
    egress: EgressClient,
    /// This region's `insight` models, in order.
    insight: InsightChain,
    /// This region's `transcribe` models, in order.
    transcribe: TranscribeChain,
    /// This region's daily token budget, shared by its chains.
    budget: Arc<TokenBudget>,
    /// This region's relay or outbox.
    mailer: Mailer,
    /// Signs this region's confirm and unsubscribe links.
    links: LinkSigner,
    /// This region's send rate (`mail.max_per_second`).
    send_rate: SendRate,
}

impl Region {
    /// Opens the region's store, builds its egress client, model chain and mailer.
    ///
    /// # Errors
    /// [`RuntimeError`] naming the part that failed.
    #[tracing::instrument(skip_all, fields(region = %config.id))]
    pub async fn assemble(
        config: RegionConfig,
        options: &AssembleOptions,
    ) -> Result<Self, RuntimeError> {
        let region = config.id.clone();
        let store = RegionStore::open(&region, &config.storage_url, config.max_connections).await?;
        let egress_err = |source| RuntimeError::Egress {
            region: region.clone(),
            source,
        };
        let rules = EgressRules::new(&config.egress.allow, config.egress.allow_private)
            .map_err(egress_err)?;
        let egress_options = EgressOptions {
            connect_timeout: config.egress.connect_timeout,
            total_timeout: config.egress.timeout,
            max_body_bytes: config.egress.max_body_bytes,
            user_agent: format!(
                "Meridian/{} (+{})",
                env!("CARGO_PKG_VERSION"),
                config.egress.contact_url
            ),
            resolve: options.resolve.clone(),
            ..EgressOptions::default()
        };
        let egress =
            EgressClient::new(region.clone(), rules, egress_options).map_err(egress_err)?;
        let budget = Arc::new(TokenBudget::new(config.daily_token_budget));
        let insight = InsightChain::new(region.clone(), &config.insight_models, |model| {
            build_provider(&egress, model)
        })
        .with_budget(Arc::clone(&budget));
        let transcribe = TranscribeChain::new(region.clone(), &config.transcribe_models, |model| {
            build_provider(&egress, model)
        })
        .with_budget(Arc::clone(&budget));
        let mailer = Mailer::new(
            &config.mail.smtp_url,
            config.mail.password_env.as_deref(),
            &config.mail.outbox_dir,
        )
        .map_err(|source| RuntimeError::Mail {
            region: region.clone(),
            source,
        })?;
        let links = LinkSigner::for_region(&config).map_err(|reason| RuntimeError::LinkSecret {
            region: region.clone(),
            reason,
        })?;
        let send_rate = SendRate::new(config.mail.max_per_second);
        Ok(Self {
            config,
            store,
            egress,
            insight,
            transcribe,
            budget,
            mailer,
            links,
            send_rate,
        })
    }

    /// The region's validated config.
    #[must_use]
    pub fn config(&self) -> &RegionConfig {
        &self.config
    }

    /// The region's store.
    #[must_use]
    pub fn store(&self) -> &RegionStore {
        &self.store
    }

    /// The region's egress client.
    #[must_use]
    pub fn egress(&self) -> &EgressClient {
        &self.egress
    }

    /// The region's mailer.
    #[must_use]
    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    /// The `insight` models and whether each can be used.
    #[must_use]
    pub fn insight_models(&self) -> Vec<ModelStatus> {
        self.insight.status()
    }

    pub(crate) fn insight_chain(&self) -> &InsightChain {
        &self.insight
    }

    /// The `transcribe` models and whether each can be used.
    #[must_use]
    pub fn transcribe_models(&self) -> Vec<ModelStatus> {
        self.transcribe.status()
    }

    pub(crate) fn transcribe_chain(&self) -> &TranscribeChain {
        &self.transcribe
    }

    /// The region's daily token budget (`models.daily_token_budget`) and what
    /// has been counted against it.
    #[must_use]
    pub fn token_budget(&self) -> &TokenBudget {
        &self.budget
    }

    /// The region's link signer.
    #[must_use]
    pub fn links(&self) -> &LinkSigner {
        &self.links
    }

    pub(crate) fn send_rate(&self) -> &SendRate {
        &self.send_rate
    }

    /// Closes the store and the mail transport.
    pub async fn shutdown(&self) {
        self.mailer.shutdown().await;
        self.store.close().await;
    }
}

/// The provider of a remote model entry, sending through the region's own
/// egress clients (reqwest 0.13 for `openai`, its 0.12 twin for `ollama`).
fn build_provider(
    egress: &EgressClient,
    model: &ModelConfig,
) -> Result<ModelProvider, ProviderError> {
    match model.provider {
        ProviderKind::OpenAi => {
            meridian_models::openai::OpenAiProvider::new(model, egress.reqwest_client().clone())
                .map(ModelProvider::OpenAi)
        }
        ProviderKind::Ollama => meridian_models::ollama::OllamaProvider::new(
            model,
            egress.legacy_reqwest_client().clone(),
        )
        .map(ModelProvider::Ollama),
        ProviderKind::Builtin => Ok(ModelProvider::Builtin(
            meridian_models::builtin::BuiltinOptions {
                model: model.name.clone(),
                ..Default::default()
            },
        )),
    }
}

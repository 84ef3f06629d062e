//! `Region`: one region's assembled stack.

use std::net::SocketAddr;

use meridian_config::{ProviderKind, RegionConfig};
use meridian_egress::{EgressClient, EgressOptions, EgressRules};
use meridian_mail::Mailer;
use meridian_models::{InsightChain, ModelProvider, ModelStatus};
use meridian_store::RegionStore;

use crate::RuntimeError;

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
    /// This region's relay or outbox.
    mailer: Mailer,
}

impl Region {
    /// Opens the region's store, builds its egress client, model chain and mailer.
    ///
    /// # Errors
    /// [`RuntimeError`] naming the part that failed.
    #[tracing::instrument(skip_all, fields(region = %config.id))]
    pub async fn assemble(config: RegionConfig, options: &AssembleOptions) -> Result<Self, RuntimeError> {
        let region = config.id.clone();
        let store = RegionStore::open(&region, &config.storage_url, config.max_connections).await?;
        let egress_err = |source| RuntimeError::Egress { region: region.clone(), source };
        let rules = EgressRules::new(&config.egress.allow, config.egress.allow_private).map_err(egress_err)?;
        let egress_options = EgressOptions {
            connect_timeout: config.egress.connect_timeout,
            total_timeout: config.egress.timeout,
            max_body_bytes: config.egress.max_body_bytes,
            user_agent: format!("Meridian/{} (+{})", env!("CARGO_PKG_VERSION"), config.egress.contact_url),
            resolve: options.resolve.clone(),
            ..EgressOptions::default()
        };
        let egress = EgressClient::new(region.clone(), rules, egress_options).map_err(egress_err)?;
        let insight = InsightChain::new(region.clone(), &config.insight_models, |model| match model.provider {
            ProviderKind::OpenAi => {
                meridian_models::openai::OpenAiProvider::new(model, egress.reqwest_client().clone()).map(ModelProvider::OpenAi)
            }
            ProviderKind::Ollama => {
                meridian_models::ollama::OllamaProvider::new(model, egress.legacy_reqwest_client().clone()).map(ModelProvider::Ollama)
            }
            ProviderKind::Builtin => Ok(ModelProvider::Builtin(meridian_models::builtin::BuiltinOptions {
                model: model.name.clone(),
                ..Default::default()
            })),
        });
        let mailer = Mailer::new(&config.mail.smtp_url, config.mail.password_env.as_deref(), &config.mail.outbox_dir)
            .map_err(|source| RuntimeError::Mail { region: region.clone(), source })?;
        Ok(Self { config, store, egress, insight, mailer })
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

    /// Closes the store and the mail transport.
    pub async fn shutdown(&self) {
        self.mailer.shutdown().await;
        self.store.close().await;
    }
}

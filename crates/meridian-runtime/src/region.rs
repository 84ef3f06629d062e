//! `Region`: one region's assembled stack.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use meridian_audit::{AuditEvent, AuditLog, keys};
use meridian_config::{ModelRole, RegionConfig};
use meridian_egress::{EgressClient, EgressOptions, EgressRules};
use meridian_mail::Mailer;
use meridian_models::{InsightChain, ModelStatus, TokenBudget, TranscribeChain};
use meridian_store::RegionStore;

use crate::RuntimeError;
use crate::links::LinkSigner;
use crate::rate::SendRate;
use crate::sovereignty::{self, Sovereignty};

/// Adjustments the caller makes when assembling (the demo, tests).
#[derive(Debug, Clone, Default)]
pub struct AssembleOptions {
    /// Host names resolved to fixed addresses instead of DNS, like curl's
    /// `--resolve`: the demo serves its sample podcasts this way. A host listed
    /// here must still pass the region's egress allow-list.
    pub resolve: Vec<(String, SocketAddr)>,
    /// The policies directory (`schema.cedarschema`, `global/`, `<region>/`).
    /// Default: beside the region file's folder, `regions/../policies`.
    pub policies_dir: Option<PathBuf>,
    /// The audit signing key file. Default: the environment variable
    /// `MERIDIAN_<REGION>__AUDIT__SIGNING_KEY`, else
    /// `{data_dir}/keys/<region>.ed25519`, generated there when neither exists.
    pub audit_key_file: Option<PathBuf>,
}

/// One region's stack: config, store, egress client, model chain, mailer,
/// policy gate and audit log. Built only by [`Region::assemble`].
#[derive(Debug)]
pub struct Region {
    config: RegionConfig,
    /// This region's database, and no other region's.
    store: RegionStore,
    /// This region's only way out to the network, asking its gate about
    /// every request.
    egress: EgressClient,
    /// This region's `insight` models, in order, gated.
    insight: InsightChain,
    /// This region's `transcribe` models, in order, gated.
    transcribe: TranscribeChain,
    /// This region's daily token budget, shared by its chains.
    budget: Arc<TokenBudget>,
    /// This region's relay or outbox.
    mailer: Mailer,
    /// Signs this region's confirm and unsubscribe links.
    links: LinkSigner,
    /// This region's send rate (`mail.max_per_second`).
    send_rate: SendRate,
    /// This region's policy gate and audit log, shared with its egress
    /// client and model chains.
    sovereignty: Arc<Sovereignty>,
}

impl Region {
    /// Loads the region's policies and refuses a region whose own config
    /// breaks them; opens its store and audit log (with its signing key,
    /// made when it has none); builds its gated egress client, model chains
    /// (checking pinned `ollama` digests) and mailer; records a `config_load`
    /// event with the region file's and the policy bundle's hashes.
    ///
    /// # Errors
    /// [`RuntimeError::Policies`] when the policies do not load,
    /// [`RuntimeError::PolicyViolations`] naming each model, endpoint or relay
    /// the policies refuse (region, model or host, policy id, reason);
    /// otherwise [`RuntimeError`] naming the part that failed.
    #[tracing::instrument(skip_all, fields(region = %config.id))]
    pub async fn assemble(
        config: RegionConfig,
        options: &AssembleOptions,
    ) -> Result<Self, RuntimeError> {
        let region = config.id.clone();
        // Fail closed: the policies first, before anything is opened.
        let policies_dir = options
            .policies_dir
            .clone()
            .unwrap_or_else(|| sovereignty::policies_dir_of(&config));
        let gate =
            sovereignty::load_gate(&policies_dir, &config).map_err(|e| RuntimeError::Policies {
                region: region.clone(),
                dir: policies_dir.display().to_string(),
                problems: e.problems().iter().map(ToString::to_string).collect(),
            })?;
        let violations =
            meridian_policy::check_region(&gate, &sovereignty::configured_models(&config));
        if !violations.is_empty() {
            return Err(RuntimeError::PolicyViolations {
                region: region.clone(),
                violations: violations.iter().map(ToString::to_string).collect(),
            });
        }
        let store =
            RegionStore::open(&region, config.storage_url.expose(), config.max_connections).await?;
        let audit_err = |source| RuntimeError::Audit {
            region: region.clone(),
            source,
        };
        let key = match keys::load_signing_key(
            &region,
            &config.data_dir,
            options.audit_key_file.as_deref(),
        )
        .map_err(audit_err)?
        {
            Some(key) => key,
            None => {
                let (key, _) =
                    keys::ensure_key_file(&config.data_dir, &region).map_err(audit_err)?;
                tracing::info!(region = %region, key = key.source(), fingerprint = %key.public_key().fingerprint(), "Audit signing key made");
                key
            }
        };
        let audit = AuditLog::open(store.clone(), Some(key))
            .await
            .map_err(audit_err)?;
        let sovereignty = Arc::new(Sovereignty::new(gate.clone(), audit.clone()));

        let egress_err = |source| RuntimeError::Egress {
            region: region.clone(),
            source,
        };
        let rules = EgressRules::from_entries(&config.egress.allow, config.egress.allow_private);
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
        let egress = EgressClient::new(region.clone(), rules, egress_options)
            .map_err(egress_err)?
            .with_gate(Arc::clone(&sovereignty) as Arc<dyn meridian_egress::RequestGate>);
        let budget = Arc::new(TokenBudget::new(config.daily_token_budget));
        let call_gate = Arc::clone(&sovereignty) as Arc<dyn meridian_models::CallGate>;
        let mut insight = InsightChain::new(region.clone(), &config.insight_models, |model| {
            sovereignty::model_provider(&gate, &egress, ModelRole::Insight, model)
        })
        .with_budget(Arc::clone(&budget))
        .with_gate(Arc::clone(&call_gate));
        let stopped = insight.check_pinned_digests().await;
        let transcribe = TranscribeChain::new(region.clone(), &config.transcribe_models, |model| {
            sovereignty::model_provider(&gate, &egress, ModelRole::Transcribe, model)
        })
        .with_budget(Arc::clone(&budget))
        .with_gate(call_gate);
        let mailer = Mailer::from_relay(
            &config.mail.relay,
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

        // The same hashes the audit report's identity section shows.
        let config_hash = meridian_audit::report::config_hash(&config.source)
            .unwrap_or_else(|e| format!("unreadable: {e}"));
        let policy_hash = meridian_audit::report::policy_bundle_hash(&policies_dir, &region)
            .map_or_else(|e| format!("unreadable: {e}"), |(hash, _)| hash);
        let mut event = AuditEvent::config_load("runtime", &config_hash, &policy_hash)
            .with_detail("gate_bundle_hash", gate.bundle_hash().to_hex())
            .with_count("policies", gate.policies().len() as u64)
            .with_count("models", config.all_models().count() as u64);
        for (name, reason) in &stopped {
            event = event.with_detail(format!("model_stopped.{name}"), reason.as_str());
        }
        audit.record(event).await.map_err(audit_err)?;
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
            sovereignty,
        })
    }

    pub(crate) fn sovereignty(&self) -> &Sovereignty {
        &self.sovereignty
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

    /// Appends the audit records still buffered, then closes the store and
    /// the mail transport.
    pub async fn shutdown(&self) {
        if let Err(e) = self.flush_audit().await {
            tracing::error!(region = %self.config().id, error = %e, "Buffered audit records could not be written at shutdown");
        }
        self.mailer.shutdown().await;
        self.store.close().await;
    }
}

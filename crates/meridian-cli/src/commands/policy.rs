//! `meridian policy check|explain`, and the bridge from a region's config to
//! its policy gate (`meridian config check` uses it too).
//!
//! The policy crate takes plain facts; this module turns a `RegionConfig`
//! into them: [`region_facts`], [`configured_models`], [`load_gate`].

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use meridian_config::{ModelConfig, ModelRole, RegionConfig};
use meridian_core::DataClass;
use meridian_policy::{
    ConfiguredModel, Decision, Endpoint, ModelFacts, ModelUse, OUTBOX_RELAY, PolicyError,
    PolicyGate, RegionFacts, Violation,
};

use crate::{Cli, EXIT_CONFIG};

/// Exit code of `policy check` naming a model the region does not configure (a usage error).
const EXIT_USAGE: u8 = 2;

/// `meridian policy …`
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Decide whether a region may send data of one class to one of its configured models.
    /// Exit 0 on allow, 3 on deny.
    Check {
        /// The region.
        #[arg(long)]
        region: String,
        /// The model's `name` in the region file.
        #[arg(long)]
        model: String,
        /// The data class sent: public, derived or personal.
        #[arg(long = "data-class")]
        data_class: DataClass,
    },
    /// Print a region's policy facts, the policies in force with their text,
    /// and the decision for every configured model and data class.
    Explain {
        /// The region.
        #[arg(long)]
        region: String,
    },
}

/// Runs the command.
///
/// # Errors
/// None today; problems are printed and turned into the exit code.
pub fn run(cli: &Cli, command: &PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Check {
            region,
            model,
            data_class,
        } => check(cli, region, model, *data_class),
        PolicyCommand::Explain { region } => explain(cli, region),
    }
}

/// The policies directory: `--config-dir/../policies`.
pub(crate) fn policies_dir(cli: &Cli) -> PathBuf {
    let dir = cli.config_dir.join("..").join("policies");
    // Resolved for readable messages (`/srv/meridian/policies/cn/models.cedar`).
    dir.canonicalize().unwrap_or(dir)
}

/// What a region's config says that its policies need.
pub(crate) fn region_facts(config: &RegionConfig) -> RegionFacts {
    let mut facts = RegionFacts::new(config.id.clone(), config.jurisdiction);
    facts
        .forbidden_origins
        .clone_from(&config.policy.forbidden_origins);
    facts.egress_allow.clone_from(&config.egress.allow);
    facts.allow_private = config.egress.allow_private;
    facts.mail_relay = mail_relay(&config.mail.smtp_url);
    facts
}

/// The SMTP relay's host, or [`OUTBOX_RELAY`] when mail goes to the outbox.
fn mail_relay(smtp_url: &str) -> String {
    if smtp_url.trim().is_empty() {
        return OUTBOX_RELAY.to_owned();
    }
    url::Url::parse(smtp_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        // Config validation refuses a bad URL first; should one get here, it names no relay at all.
        .unwrap_or_default()
}

/// A model's facts for the gate.
pub(crate) fn model_facts(m: &ModelConfig) -> ModelFacts {
    ModelFacts {
        name: m.name.clone(),
        provider: m.provider.as_str().to_owned(),
        hosted_in: m.hosted_in,
        origin: m.origin,
        weights: m.weights.as_str().to_owned(),
        digest: m.digest.clone(),
        attributes: m.attributes.clone(),
    }
}

/// Every model of every role, with its config key and endpoint.
pub(crate) fn configured_models(config: &RegionConfig) -> Vec<ConfiguredModel> {
    let mut index: std::collections::HashMap<&'static str, usize> =
        std::collections::HashMap::new();
    config
        .all_models()
        .map(|(role, m)| {
            let i = index.entry(role.as_str()).or_insert(0);
            let key = format!("models.{}[{i}]", role.as_str());
            *i += 1;
            ConfiguredModel {
                key,
                role: match role {
                    ModelRole::Insight => ModelUse::Insight,
                    ModelRole::Transcribe => ModelUse::Transcribe,
                    ModelRole::Embed => ModelUse::Embed,
                    ModelRole::Translate => ModelUse::Translate,
                },
                facts: model_facts(m),
                endpoint: m.endpoint.as_ref().and_then(|u| {
                    let host = u.host_str()?.to_owned();
                    Some(Endpoint {
                        private: is_private_literal(&host),
                        port: u.port_or_known_default()?,
                        host,
                    })
                }),
            }
        })
        .collect()
}

/// Whether a host is known to be private without a DNS lookup: an IP literal
/// in a private, loopback, link-local or unspecified range, or `localhost`.
/// Names are judged by the egress guard at connect time; here they count as public.
fn is_private_literal(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            ip.is_private() || ip.is_loopback() || ip.is_link_local() || ip.is_unspecified()
        }
        Ok(IpAddr::V6(ip)) => {
            let first = ip.segments()[0];
            ip.is_loopback()
                || ip.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
        Err(_) => {
            bare.eq_ignore_ascii_case("localhost")
                || bare.to_ascii_lowercase().ends_with(".localhost")
        }
    }
}

/// Loads a region's gate from the policies directory.
pub(crate) fn load_gate(cli: &Cli, config: &RegionConfig) -> Result<PolicyGate, PolicyError> {
    PolicyGate::load(&policies_dir(cli), &region_facts(config))
}

/// Loads the region's gate and checks its configured models, endpoints and
/// relay against it: the region's policy problems, one line each (empty when
/// it passes).
pub(crate) fn policy_problems(cli: &Cli, config: &RegionConfig) -> Vec<String> {
    match load_gate(cli, config) {
        Ok(gate) => meridian_policy::check_region(&gate, &configured_models(config))
            .iter()
            .map(|v: &Violation| format!("{}: {v}", config.source.display()))
            .collect(),
        Err(e) => e
            .problems()
            .iter()
            .map(|p| format!("region `{}`: policies: {p}", config.id))
            .collect(),
    }
}

/// Loads a region's config and gate, printing problems; the exit code when either fails.
fn region_and_gate(cli: &Cli, region: &str) -> Result<(RegionConfig, PolicyGate), ExitCode> {
    let config = super::load_region(cli, region)?;
    match load_gate(cli, &config) {
        Ok(gate) => Ok((config, gate)),
        Err(e) => {
            for p in e.problems() {
                eprintln!("error: {p}");
            }
            eprintln!(
                "region `{}` does not start until its policies load",
                config.id
            );
            Err(ExitCode::from(EXIT_CONFIG))
        }
    }
}

fn check(cli: &Cli, region: &str, model: &str, class: DataClass) -> anyhow::Result<ExitCode> {
    let (config, gate) = match region_and_gate(cli, region) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let models = configured_models(&config);
    let matching: Vec<&ConfiguredModel> = models.iter().filter(|m| m.facts.name == model).collect();
    if matching.is_empty() {
        let names: Vec<&str> = models.iter().map(|m| m.facts.name.as_str()).collect();
        eprintln!(
            "error: region `{}` configures no model `{model}`; its models: {}",
            config.id,
            names.join(", ")
        );
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    let mut allowed = true;
    for m in matching {
        let decision = meridian_policy::check_model(&gate, m, class);
        allowed &= decision.allowed;
        crate::say!(
            "{}: region `{}` `{}` model `{}` ({}: {}, hosted in {}, origin {}) with {class} data",
            decision.verdict(),
            config.id,
            m.role.action(),
            m.facts.name,
            m.key,
            m.facts.provider,
            m.facts.hosted_in,
            m.facts.origin,
        );
        print_decision(&decision, "  ");
    }
    Ok(if allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CONFIG)
    })
}

fn print_decision(decision: &Decision, indent: &str) {
    crate::say!("{indent}determining policies: {}", decision.policies_text());
    for r in &decision.reasons {
        crate::say!("{indent}reason: {r}");
    }
    for e in &decision.errors {
        crate::say!("{indent}evaluation error: {e}");
    }
}

fn explain(cli: &Cli, region: &str) -> anyhow::Result<ExitCode> {
    let (config, gate) = match region_and_gate(cli, region) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let facts = gate.facts();
    let dir = policies_dir(cli);
    crate::say!(
        "Region `{}` ({}), jurisdiction {}",
        facts.id,
        config.name,
        facts.jurisdiction
    );
    crate::say!(
        "  forbidden model origins: {}",
        list_or_none(facts.forbidden_origins.iter().map(ToString::to_string))
    );
    crate::say!(
        "  egress allow: {}",
        list_or_none(facts.egress_allow.iter().cloned())
    );
    crate::say!(
        "  private hosts: {}",
        if facts.allow_private {
            "allowed (egress.allow_private)"
        } else {
            "only when named in egress.allow"
        }
    );
    crate::say!("  mail relay: {}", facts.mail_relay);
    crate::say!(
        "Policy bundle: {} (global/ + {}/), sha256 {}",
        dir.display(),
        facts.id,
        gate.bundle_hash()
    );
    crate::say!();
    let policies = gate.policies();
    crate::say!("Policies in force ({}):", policies.len());
    for p in &policies {
        crate::say!();
        crate::say!(
            "{} [{}] {}:{}",
            p.id,
            p.effect,
            relative(&dir, &p.file),
            p.line
        );
        if let Some(r) = &p.reason {
            crate::say!("  reason: {r}");
        }
        for line in p.text.lines() {
            crate::say!("  | {line}");
        }
    }
    crate::say!();
    crate::say!("Decision matrix (each configured model, as its role calls it, × data class):");
    for row in meridian_policy::decision_matrix(&gate, &configured_models(&config)) {
        let m = &row.model;
        crate::say!(
            "  {} ({}, `{}`; {}, hosted in {}, origin {}{})",
            m.facts.name,
            m.key,
            m.role.action(),
            m.facts.provider,
            m.facts.hosted_in,
            m.facts.origin,
            if m.facts.attributes.is_empty() {
                String::new()
            } else {
                format!(", attributes {}", m.facts.attributes.join(", "))
            },
        );
        for (class, d) in &row.decisions {
            crate::say!(
                "    {:<9} {:<5} {}: {}",
                class.as_str(),
                d.verdict(),
                d.policies_text(),
                d.reasons_text()
            );
        }
    }
    crate::say!();
    let violations = meridian_policy::check_region(&gate, &configured_models(&config));
    if violations.is_empty() {
        crate::say!("Configured models, endpoints and mail relay: all allowed.");
    } else {
        crate::say!("Configured models, endpoints and mail relay that the policies refuse:");
        for v in &violations {
            crate::say!("  {v}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list_or_none(items: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = items.collect();
    if v.is_empty() {
        "(none)".to_owned()
    } else {
        v.join(", ")
    }
}

/// `policies/cn/models.cedar` rather than the bare relative name.
fn relative(dir: &Path, file: &str) -> String {
    dir.file_name().map_or_else(
        || file.to_owned(),
        |d| format!("{}/{file}", d.to_string_lossy()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_literals_are_known_without_dns() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.1.1",
            "[::1]",
            "fd00::1",
            "fe80::1",
            "localhost",
            "demo.localhost",
        ] {
            assert!(is_private_literal(private), "{private}");
        }
        for public in ["8.8.8.8", "api.openai.com", "2001:4860::8888"] {
            assert!(!is_private_literal(public), "{public}");
        }
    }

    #[test]
    fn the_relay_is_the_smtp_host_or_the_outbox() {
        assert_eq!(mail_relay(""), OUTBOX_RELAY);
        assert_eq!(
            mail_relay("smtps://Relay.Example.com:465"),
            "relay.example.com"
        );
    }
}

//! `meridian policy check|explain`.
//!
//! The bridge from a region's config to its policy facts lives in
//! `meridian_runtime::sovereignty` (`region_facts`, `configured_models`,
//! `load_gate`, `policy_problems`), so that `config check`, `policy check`,
//! `policy explain` and `Region::assemble` judge a region the same way.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use meridian_config::RegionConfig;
use meridian_core::DataClass;
use meridian_policy::{ConfiguredModel, Decision, PolicyError, PolicyGate};
use meridian_runtime::sovereignty::{self, configured_models};

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
    sovereignty::policies_dir_for(&cli.config_dir)
}

/// Loads a region's gate from the policies directory.
pub(crate) fn load_gate(cli: &Cli, config: &RegionConfig) -> Result<PolicyGate, PolicyError> {
    sovereignty::load_gate(&policies_dir(cli), config)
}

/// Loads the region's gate and checks its configured models, endpoints and
/// relay against it: the region's policy problems, one line each (empty when
/// it passes). The same check refuses the region in `Region::assemble`.
pub(crate) fn policy_problems(cli: &Cli, config: &RegionConfig) -> Vec<String> {
    sovereignty::policy_problems(&policies_dir(cli), config)
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
        list_or_none(facts.egress_allow.iter().map(ToString::to_string))
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

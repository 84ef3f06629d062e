//! `meridian config check`.

use std::process::ExitCode;

use crate::{Cli, EXIT_CONFIG};

/// `meridian config …`
#[derive(Debug, clap::Subcommand)]
pub enum ConfigAction {
    /// Load and validate every region and check it against its own policies; exit non-zero
    /// naming file, key and reason (and policy id) of each problem.
    Check,
}

/// Runs the command.
///
/// # Errors
/// None today; problems are printed and turned into the exit code.
pub fn run(cli: &Cli, action: &ConfigAction) -> anyhow::Result<ExitCode> {
    match action {
        ConfigAction::Check => {
            let loaded = meridian_config::load_all(&cli.config_dir, &cli.data_dir);
            // Every valid region is also checked against its own policies: its
            // models, their endpoints and its mail relay (fail closed).
            let mut policy_problems: Vec<String> = Vec::new();
            let mut ok = 0;
            for r in &loaded.regions {
                let problems = super::policy::policy_problems(cli, r);
                if !problems.is_empty() {
                    for p in problems {
                        // Global policy files are shared: report each problem once.
                        if !policy_problems.contains(&p) {
                            policy_problems.push(p);
                        }
                    }
                    continue;
                }
                ok += 1;
                let models: Vec<String> = r
                    .insight_models
                    .iter()
                    .map(|m| match &m.unavailable {
                        None => format!(
                            "{} ({}, hosted in {})",
                            m.name,
                            m.provider.as_str(),
                            m.hosted_in
                        ),
                        Some(why) => format!(
                            "{} ({}, hosted in {}; will be skipped: {why})",
                            m.name,
                            m.provider.as_str(),
                            m.hosted_in
                        ),
                    })
                    .collect();
                crate::say!(
                    "ok   {} ({}, {}, {}): insight models {}",
                    r.id,
                    r.name,
                    r.jurisdiction,
                    r.locale,
                    models.join(" → ")
                );
            }
            for p in &loaded.problems {
                eprintln!("FAIL {p}");
            }
            for p in &policy_problems {
                eprintln!("FAIL {p}");
            }
            let count = loaded.problems.len() + policy_problems.len();
            if count == 0 {
                crate::say!("{ok} region(s) OK");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("{count} problem(s); a region with problems does not start");
                Ok(ExitCode::from(EXIT_CONFIG))
            }
        }
    }
}

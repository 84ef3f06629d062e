//! `meridian config check`.

use std::process::ExitCode;

use crate::{Cli, EXIT_CONFIG};

/// `meridian config …`
#[derive(Debug, clap::Subcommand)]
pub enum ConfigAction {
    /// Load and validate every region; exit non-zero naming file, key and reason of each problem.
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
            for r in &loaded.regions {
                let models: Vec<String> = r
                    .insight_models
                    .iter()
                    .map(|m| match &m.unavailable {
                        None => format!("{} ({}, hosted in {})", m.name, m.provider.as_str(), m.hosted_in),
                        Some(why) => format!("{} ({}, hosted in {}; will be skipped: {why})", m.name, m.provider.as_str(), m.hosted_in),
                    })
                    .collect();
                crate::say!("ok   {} ({}, {}, {}): insight models {}", r.id, r.name, r.jurisdiction, r.locale, models.join(" → "));
            }
            for p in &loaded.problems {
                eprintln!("FAIL {p}");
            }
            if loaded.problems.is_empty() {
                crate::say!("{} region(s) OK", loaded.regions.len());
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("{} problem(s); a region with problems does not start", loaded.problems.len());
                Ok(ExitCode::from(EXIT_CONFIG))
            }
        }
    }
}

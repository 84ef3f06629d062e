//! The `meridian` command line: argument parsing and one module per command.
//!
//! `main` stays thin: it parses [`Cli`], sets up logging and calls [`run`],
//! which returns the process exit code:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | runtime failure (storage, network, mail) |
//! | 2 | usage error (from clap) |
//! | 3 | configuration or policy problem: the region does not start |
//! | 4 | bad input (a feed or transcript that cannot be read) |
//! | 5 | integrity failure: an audit chain or export does not verify (`audit verify`) |

/// `println!` that ends the process quietly when stdout is closed (`meridian … | head`)
/// instead of panicking on the broken pipe.
macro_rules! say {
    () => { $crate::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}
pub(crate) use say;

/// Writes to stdout; a closed pipe ends the process with success, as `head` expects.
pub(crate) fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

mod commands;
pub mod demo;
pub mod telemetry;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code of a runtime failure.
pub const EXIT_RUNTIME: u8 = 1;
/// Exit code of a configuration or policy problem.
pub const EXIT_CONFIG: u8 = 3;
/// Exit code of unreadable input.
pub const EXIT_INPUT: u8 = 4;
/// Exit code of an audit chain or export that does not verify.
pub const EXIT_INTEGRITY: u8 = 5;
/// Exit code of a `meridian run` that finished while confirmed subscribers
/// still wait for the day's digest (a crash mid-delivery, a relay outage,
/// temporary refusals): run again to deliver to them.
pub const EXIT_WAITING: u8 = 6;

/// Meridian: region-partitioned podcast insights, one sovereign stack per region.
#[derive(Debug, Parser)]
#[command(name = "meridian", version, about, long_about = None)]
pub struct Cli {
    /// Directory of region files (`<id>.toml`); policies are read from `DIR/../policies`.
    #[arg(
        long,
        global = true,
        default_value = "./regions",
        env = "MERIDIAN_CONFIG_DIR"
    )]
    pub config_dir: PathBuf,
    /// Directory for data: SQLite files, outboxes, reports.
    #[arg(
        long,
        global = true,
        default_value = "./data",
        env = "MERIDIAN_DATA_DIR"
    )]
    pub data_dir: PathBuf,
    /// More log output on stderr (-v: info, -vv: debug). `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every region end to end on the bundled sample podcasts, offline.
    Demo,
    /// Perform one daily run of a region.
    Run(commands::run::RunArgs),
    /// Work a region's job queue (the stages of its runs) beside other workers.
    Worker(commands::worker::WorkerArgs),
    /// Serve a region's HTTP service: subscribe, confirm, one-click unsubscribe, health.
    Serve(commands::serve::ServeArgs),
    /// Apply the region's retention rules (delete old transcripts and insights).
    Maintain(commands::maintain::MaintainArgs),
    /// Check region configuration.
    Config {
        /// What to do.
        #[command(subcommand)]
        action: commands::config::ConfigAction,
    },
    /// Parse feeds and transcripts and print what Meridian reads from them.
    Inspect {
        /// What to inspect.
        #[command(subcommand)]
        what: commands::inspect::InspectWhat,
    },
    /// Manage a region's podcast list.
    Feeds {
        /// What to do.
        #[command(subcommand)]
        action: commands::feeds::FeedsAction,
    },
    /// Manage a region's subscribers.
    Subscribers {
        /// What to do.
        #[command(subcommand)]
        action: commands::subscribers::SubscribersAction,
    },
    /// Bearer tokens of a region's admin API: create (printed once), list, revoke.
    Tokens {
        /// What to do.
        #[command(subcommand)]
        action: commands::tokens::TokensAction,
    },
    /// The tamper-evident audit log: keys, checkpoints, verification, export, compliance report.
    Audit {
        /// What to do.
        #[command(subcommand)]
        action: commands::audit::AuditAction,
    },
    /// Explain and check a region's policy decisions.
    Policy {
        /// What to do.
        #[command(subcommand)]
        action: commands::policy::PolicyCommand,
    },
    /// Deployment: generate a region's Helm values from its region file and policies.
    Deploy {
        /// What to do.
        #[command(subcommand)]
        action: commands::deploy::DeployAction,
    },
}

/// Sets up logging to stderr. Progress and results go to stdout, logs to
/// stderr, so `--json` output stays machine-readable. Commands that report
/// their own progress (`demo`) pass `quiet_default` so that recovered
/// problems they already print are not logged twice.
///
/// When the environment asks for OTLP export (see [`telemetry`]), spans are
/// also exported, with `region` (when the command serves one region) as a
/// resource attribute. The caller keeps the returned [`telemetry::Telemetry`]
/// and shuts it down before exiting, which flushes the last spans.
pub fn init_logging(
    verbose: u8,
    quiet_default: bool,
    region: Option<&str>,
) -> telemetry::Telemetry {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let default = match verbose {
        0 if quiet_default => "error",
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{default},sqlx=warn,hyper=warn,reqwest=warn"))
    });
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(ansi)
        .with_filter(filter);
    let (export, telemetry) = if telemetry::otlp_requested() {
        match telemetry::tracer_provider(None, region) {
            Ok(provider) => (
                Some(telemetry::layer(&provider)),
                telemetry::Telemetry::exporting(provider),
            ),
            Err(e) => {
                eprintln!("warning: OTLP trace export is off: {e}");
                (None, telemetry::Telemetry::disabled())
            }
        }
    } else {
        (None, telemetry::Telemetry::disabled())
    };
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(export)
        .try_init();
    telemetry
}

/// Runs a parsed command line and returns the exit code.
pub async fn run(cli: Cli) -> ExitCode {
    let result = match &cli.command {
        Command::Demo => demo::run(&cli).await,
        Command::Run(args) => commands::run::run(&cli, args).await,
        Command::Worker(args) => commands::worker::run(&cli, args).await,
        Command::Serve(args) => commands::serve::run(&cli, args).await,
        Command::Maintain(args) => commands::maintain::run(&cli, args).await,
        Command::Config { action } => commands::config::run(&cli, action),
        Command::Inspect { what } => commands::inspect::run(what).await,
        Command::Feeds { action } => commands::feeds::run(&cli, action).await,
        Command::Subscribers { action } => commands::subscribers::run(&cli, action).await,
        Command::Tokens { action } => commands::tokens::run(&cli, action).await,
        Command::Audit { action } => commands::audit::run(&cli, action).await,
        Command::Policy { action } => commands::policy::run(&cli, action),
        Command::Deploy { action } => commands::deploy::run(&cli, action),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            // A region refused for its policies is a configuration problem
            // (fail closed), like `config check` reports it.
            match e.downcast_ref::<meridian_runtime::RuntimeError>() {
                Some(
                    meridian_runtime::RuntimeError::Policies { .. }
                    | meridian_runtime::RuntimeError::PolicyViolations { .. },
                ) => ExitCode::from(EXIT_CONFIG),
                _ => ExitCode::from(EXIT_RUNTIME),
            }
        }
    }
}

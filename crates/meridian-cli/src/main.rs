//! The `meridian` binary: parses arguments, sets up logging, runs the command.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = meridian_cli::Cli::parse();
    // Commands that print their own progress log only errors by default.
    let quiet = match &cli.command {
        meridian_cli::Command::Demo => true,
        meridian_cli::Command::Run(args) => !args.json,
        _ => false,
    };
    // A process that serves one region says so on every exported span.
    let region = match &cli.command {
        meridian_cli::Command::Run(args) => Some(args.region.clone()),
        meridian_cli::Command::Serve(args) => Some(args.region.clone()),
        meridian_cli::Command::Worker(args) => Some(args.region.clone()),
        _ => None,
    };
    // Dropped on every return path, which flushes the exporter (when on).
    let telemetry = meridian_cli::init_logging(cli.verbose, quiet, region.as_deref());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(meridian_cli::EXIT_RUNTIME);
        }
    };
    let code = runtime.block_on(meridian_cli::run(cli));
    // Let the runtime's tasks end (and their spans close) before the last
    // spans are flushed.
    drop(runtime);
    telemetry.shutdown();
    code
}

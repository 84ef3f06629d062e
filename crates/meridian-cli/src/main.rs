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
    meridian_cli::init_logging(cli.verbose, quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(meridian_cli::EXIT_RUNTIME);
        }
    };
    runtime.block_on(meridian_cli::run(cli))
}

//! `meridian-bench`: how fast Meridian ingests podcasts.
//!
//! Run everything with `bench/run.sh` from the repository root: it builds this
//! binary in release mode, installs Python feedparser (for the comparison) in
//! `target/bench-venv`, runs the subcommands below and prints a table. Results
//! and the machine they were measured on are in `docs/benchmarks.md`.
//!
//! - `meridian-bench parse`: every feed of the corpus (`MERIDIAN_CORPUS`,
//!   default the `shared/corpus` folder beside the checkout) parsed by `meridian_ingest::parse_feed` and
//!   scanned by a bare quick-xml event loop, interleaved, many times; prints JSON.
//! - `meridian-bench daily --feeds N`: a region with N feeds generated from the
//!   corpus feeds, served on loopback under many host names by a `serve` child
//!   process; two daily runs (the second answered with 304s); prints JSON with
//!   wall times and the peak RSS of this process (the server is not counted).
//! - `meridian-bench serve`: that loopback server.
//! - `meridian-bench insights`: the quality of the builtin engine's insights
//!   against the editor's gold annotations (`MERIDIAN_EVAL`, default
//!   the `shared/eval` folder beside the checkout), optionally beside sumy's LexRank and TextRank; run it
//!   with `bench/quality.sh`, results in `docs/quality.md`.
//! - `meridian-bench engine-speed`: one transcript (by default the corpus's
//!   4.5-hour episode) from bytes to insights — parse, normalisation, builtin
//!   engine — on one thread, repeated; prints JSON with min/median/max ms.

mod daily;
mod insights;
mod parse;
mod server;
mod shape;
mod speed;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "meridian-bench",
    about = "Benchmarks of Meridian's ingest (see bench/run.sh)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse every corpus feed with Meridian and with a bare quick-xml scan.
    Parse(parse::Args),
    /// Serve generated feeds and transcripts on loopback until stdin closes.
    Serve(server::Args),
    /// Two daily runs of a region over N generated feeds.
    Daily(daily::Args),
    /// Score the builtin engine's insights against the gold annotations.
    Insights(insights::Args),
    /// Time one transcript through parsing, normalisation and the engine.
    EngineSpeed(speed::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::EngineSpeed(args) => {
            let report = speed::run(&args)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Parse(args) => {
            let report = parse::run(&args)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Serve(args) => runtime()?.block_on(server::run(args))?,
        Command::Daily(args) => {
            let report = runtime()?.block_on(daily::run(args))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Insights(args) => insights::run(&args)?,
    }
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

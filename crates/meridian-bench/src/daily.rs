//! Two daily runs of one region over N generated feeds on loopback.
//!
//! The region is what an operator would write: SQLite storage, the builtin
//! insight engine only, an OPML list of N feeds, egress allowing the bench's
//! host names, default limits (16 fetches at once, 2 per host). The first run
//! fetches and parses every feed, stores every episode (the newest three per
//! feed as news, the rest archived), fetches and parses their transcripts,
//! extracts insights and makes the digest. The second run checks every feed
//! again (`force_refresh`, as `meridian run --refresh-all`): the server answers
//! 304 to the stored `ETag`s, so nothing is parsed and no model runs.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context as _, bail};
use meridian_core::RegionId;
use meridian_runtime::{AssembleOptions, Region, RunOptions, RunReport};
use serde::Serialize;

use crate::shape;

/// `daily` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shared corpus (feeds and transcripts are generated from it).
    #[arg(long, env = "MERIDIAN_CORPUS", default_value_os_t = shape::default_corpus())]
    corpus: PathBuf,
    /// Number of feeds in the region.
    #[arg(long)]
    feeds: usize,
    /// Feed host names (transcripts get a quarter as many).
    #[arg(long, default_value_t = 64)]
    hosts: usize,
    /// Folder for the region's config and database (a temporary folder inside
    /// it is removed at the end); default: the system's temporary folder.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// The region's `[digest] languages` (comma-separated); default: the
    /// language of its locale, `en`. Episodes in other languages are not
    /// summarised, so naming every language of the corpus (`en,de,zh,ja`)
    /// gives the run the same work as a build that summarises everything.
    #[arg(long, value_delimiter = ',')]
    digest_languages: Vec<String>,
}

/// The `serve` child process; closing its stdin stops it.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    fn start(args: &Args) -> anyhow::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("serve")
            .arg("--corpus")
            .arg(&args.corpus)
            .arg("--hosts")
            .arg(args.hosts.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting `meridian-bench serve`")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let Some(addr) = line.trim().strip_prefix("listening ") else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the bench server did not start (it printed {line:?})");
        };
        let addr = addr
            .parse()
            .with_context(|| format!("bench server address {addr:?}"))?;
        Ok(Self { child, addr })
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// One run's figures.
#[derive(Debug, Serialize)]
pub struct RunFigures {
    wall_secs: f64,
    /// Seconds from the start of the run to the end of each stage.
    stages: Vec<(String, f64)>,
    feeds: std::collections::BTreeMap<String, u64>,
    transcripts: std::collections::BTreeMap<String, u64>,
    insights: std::collections::BTreeMap<String, u64>,
    digest_items: usize,
    /// The first few feed failures (none expected).
    feed_errors: Vec<String>,
    feed_error_count: usize,
    /// Peak resident set of this process so far (`VmHWM`), MB.
    peak_rss_mb: f64,
}

/// What `daily` prints.
#[derive(Debug, Serialize)]
pub struct Report {
    feeds: usize,
    hosts: usize,
    media_hosts: usize,
    /// Size of the N feeds as served (from the templates' sizes), MB.
    feed_mb: f64,
    first: RunFigures,
    second: RunFigures,
    /// The region's SQLite database after both runs, MB.
    database_mb: f64,
}

/// Peak resident set size of this process, from `/proc/self/status`.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The region's policies beside its config folder (`regions/../policies`):
/// the shipped schema and global rules, and an empty `bench/` folder (global
/// rules only), as `Region::assemble` needs them.
fn write_policies(dir: &Path) -> anyhow::Result<()> {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    std::fs::create_dir_all(dir.join("global"))?;
    std::fs::create_dir_all(dir.join("bench"))?;
    std::fs::copy(
        shipped.join("schema.cedarschema"),
        dir.join("schema.cedarschema"),
    )?;
    for entry in std::fs::read_dir(shipped.join("global"))? {
        let path = entry?.path();
        if let Some(name) = path.file_name()
            && path.extension().is_some_and(|e| e == "cedar")
        {
            std::fs::copy(&path, dir.join("global").join(name))?;
        }
    }
    Ok(())
}

fn write_region(dir: &Path, args: &Args) -> anyhow::Result<()> {
    let allow: Vec<String> = shape::all_hosts(args.hosts)
        .iter()
        .map(|h| format!("\"{h}\""))
        .collect();
    let toml = format!(
        r#"id = "bench"
name = "Benchmark"
jurisdiction = "US"
locale = "en-US"
timezone = "UTC"

[storage]
url = "sqlite://{{data_dir}}/bench.db"

[[models.insight]]
name = "builtin"
provider = "builtin"

[egress]
allow = [{}]
allow_private = false

[mail]
from = "Meridian <digest@bench.example.com>"
ai_label = "AI-generated: benchmark."

[feeds]
opml = "bench.opml"

[subscribers]
seed = ["reader@bench.example.com"]
"#,
        allow.join(", ")
    );
    let toml = if args.digest_languages.is_empty() {
        toml
    } else {
        let languages: Vec<String> = args
            .digest_languages
            .iter()
            .map(|l| format!("\"{}\"", l.trim()))
            .collect();
        format!("{toml}\n[digest]\nlanguages = [{}]\n", languages.join(", "))
    };
    std::fs::write(dir.join("bench.toml"), toml)?;
    let mut opml = String::from(
        "<?xml version=\"1.0\"?>\n<opml version=\"2.0\"><head><title>bench</title></head><body>\n",
    );
    for i in 0..args.feeds {
        opml.push_str(&format!(
            "<outline type=\"rss\" text=\"Feed {i}\" xmlUrl=\"{}\"/>\n",
            shape::feed_url(i, args.hosts)
        ));
    }
    opml.push_str("</body></opml>\n");
    std::fs::write(dir.join("bench.opml"), opml)?;
    Ok(())
}

async fn timed_run(region: &Region, options: &RunOptions) -> anyhow::Result<RunFigures> {
    let start = Instant::now();
    let stages = Mutex::new(Vec::new());
    let progress = |line: &str| {
        let stage = line.split([':', ' ']).next().unwrap_or("").to_owned();
        if let Ok(mut s) = stages.lock() {
            s.push((stage, start.elapsed().as_secs_f64()));
        }
    };
    let report: RunReport = region.run_daily(options, &progress).await?;
    let wall_secs = start.elapsed().as_secs_f64();
    Ok(RunFigures {
        wall_secs,
        stages: stages.into_inner().unwrap_or_default(),
        feeds: report.feeds.0,
        transcripts: report.transcripts.0,
        insights: report.insights.0,
        digest_items: report.digest.map_or(0, |d| d.items.len()),
        feed_error_count: report.feed_errors.len(),
        feed_errors: report
            .feed_errors
            .iter()
            .take(5)
            .map(|(u, k, m)| format!("{u} ({k}): {m}"))
            .collect(),
        peak_rss_mb: peak_rss_mb(),
    })
}

/// Runs the daily benchmark.
///
/// # Errors
/// When the server, the region or a run fails.
pub async fn run(args: Args) -> anyhow::Result<Report> {
    let server = ServerProcess::start(&args)?;
    let work = match &args.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            tempfile::tempdir_in(dir)?
        }
        None => tempfile::tempdir()?,
    };
    let config_dir = work.path().join("regions");
    let data_dir = work.path().join("data");
    std::fs::create_dir_all(&config_dir)?;
    std::fs::create_dir_all(&data_dir)?;
    write_region(&config_dir, &args)?;
    write_policies(&work.path().join("policies"))?;
    let config = meridian_config::load_region(&config_dir, &data_dir, &RegionId::parse("bench")?)?;
    let resolve = shape::all_hosts(args.hosts)
        .into_iter()
        .map(|h| (h, server.addr))
        .collect();
    let region = Region::assemble(
        config,
        &AssembleOptions {
            resolve,
            ..AssembleOptions::default()
        },
    )
    .await?;

    let first_options = RunOptions::today(&region);
    let first = timed_run(&region, &first_options).await?;
    let second_options = RunOptions {
        force_refresh: true,
        ..first_options
    };
    let second = timed_run(&region, &second_options).await?;
    region.shutdown().await;
    drop(server);

    let mut template_sizes = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(args.corpus.join("feeds"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    names.sort();
    for path in names.iter().filter(|p| p.is_file()) {
        template_sizes.push(std::fs::metadata(path)?.len());
    }
    let feed_bytes: u64 = (0..args.feeds)
        .map(|i| {
            template_sizes
                .get(i % template_sizes.len().max(1))
                .copied()
                .unwrap_or(0)
        })
        .sum();
    let database_bytes: u64 = std::fs::read_dir(&data_dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("bench.db"))
        .filter_map(|e| e.metadata().ok().map(|m| m.len()))
        .sum();
    Ok(Report {
        feeds: args.feeds,
        hosts: args.hosts,
        media_hosts: shape::media_hosts(args.hosts),
        feed_mb: feed_bytes as f64 / 1e6,
        first,
        second,
        database_mb: database_bytes as f64 / 1e6,
    })
}

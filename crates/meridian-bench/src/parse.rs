//! Parse speed: Meridian's `parse_feed` against a bare quick-xml event scan of
//! the same bytes (Python feedparser is measured by `bench/feedparser_bench.py`
//! in the same `bench/run.sh` run).
//!
//! Both run over every file of the corpus' `feeds/` folder, interleaved
//! (Meridian, then the scan, then Meridian again…) so that a neighbour's load
//! on this shared machine hits both alike; the median pass counts.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use meridian_core::FeedUrl;
use quick_xml::events::Event;
use serde::Serialize;

/// `parse` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shared corpus (its `feeds/` folder is parsed).
    #[arg(long, env = "MERIDIAN_CORPUS", default_value_os_t = crate::shape::default_corpus())]
    corpus: PathBuf,
    /// Passes over all feeds, for each of the two parsers.
    #[arg(long, default_value_t = 30)]
    iterations: usize,
}

/// One parser's speed.
#[derive(Debug, Serialize)]
pub struct Speed {
    /// Median time of one pass over every feed.
    median_secs: f64,
    /// Fastest pass.
    min_secs: f64,
    feeds_per_sec: f64,
    mb_per_sec: f64,
}

impl Speed {
    fn of(mut passes: Vec<Duration>, files: usize, bytes: usize) -> Self {
        passes.sort();
        let median = passes
            .get(passes.len() / 2)
            .copied()
            .unwrap_or_default()
            .as_secs_f64();
        let min = passes.first().copied().unwrap_or_default().as_secs_f64();
        Self {
            median_secs: median,
            min_secs: min,
            feeds_per_sec: files as f64 / median,
            mb_per_sec: bytes as f64 / 1e6 / median,
        }
    }
}

/// What `parse` prints.
#[derive(Debug, Serialize)]
pub struct Report {
    corpus: String,
    files: usize,
    bytes: usize,
    iterations: usize,
    /// Episodes Meridian read from all feeds (one pass).
    episodes: usize,
    /// XML events the bare scan counted (one pass).
    events: usize,
    /// Feeds Meridian refused (none expected: they are real feeds).
    refused: Vec<String>,
    /// Feeds the bare scan could not read to the end (none expected).
    scan_errors: Vec<String>,
    meridian: Speed,
    scan: Speed,
    /// Meridian's time over the bare scan's (the target is at most 3).
    meridian_over_scan: f64,
}

/// Counts the XML events of `bytes` without allocating: quick-xml borrows
/// names and text from the input slice. This is the floor any streaming XML
/// feed parser stands on.
fn scan(bytes: &[u8]) -> Result<usize, String> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut events = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => return Ok(events),
            Ok(_) => events += 1,
            Err(e) => return Err(format!("at byte {}: {e}", reader.error_position())),
        }
    }
}

/// Runs the parse benchmark.
///
/// # Errors
/// When the corpus cannot be read.
pub fn run(args: &Args) -> anyhow::Result<Report> {
    let dir = args.corpus.join("feeds");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {} (set MERIDIAN_CORPUS)", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    let mut feeds = Vec::with_capacity(paths.len());
    for path in &paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let url = FeedUrl::parse(&format!("https://bench.example/{name}"))?;
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        feeds.push((name, url, bytes));
    }
    let bytes: usize = feeds.iter().map(|(_, _, b)| b.len()).sum();

    // Warm-up pass, which also counts what each parser sees.
    let mut episodes = 0;
    let mut events = 0;
    let mut refused = Vec::new();
    let mut scan_errors = Vec::new();
    for (name, url, data) in &feeds {
        match meridian_ingest::parse_feed(data, url) {
            Ok(feed) => episodes += feed.episodes.len(),
            Err(e) => refused.push(format!("{name}: {e}")),
        }
        match scan(data) {
            Ok(n) => events += n,
            // The scan stops at the first error, so it would not have read the
            // whole feed: say so rather than report a flattering ratio.
            Err(e) => scan_errors.push(format!("{name}: {e}")),
        }
    }

    let mut meridian = Vec::with_capacity(args.iterations);
    let mut scanned = Vec::with_capacity(args.iterations);
    for _ in 0..args.iterations.max(1) {
        let start = Instant::now();
        for (_, url, data) in &feeds {
            let _ = black_box(meridian_ingest::parse_feed(black_box(data), url));
        }
        meridian.push(start.elapsed());
        let start = Instant::now();
        for (_, _, data) in &feeds {
            let _ = black_box(scan(black_box(data)));
        }
        scanned.push(start.elapsed());
    }
    let meridian = Speed::of(meridian, feeds.len(), bytes);
    let scan = Speed::of(scanned, feeds.len(), bytes);
    Ok(Report {
        corpus: dir.display().to_string(),
        files: feeds.len(),
        bytes,
        iterations: args.iterations.max(1),
        episodes,
        events,
        refused,
        scan_errors,
        meridian_over_scan: meridian.median_secs / scan.median_secs,
        meridian,
        scan,
    })
}

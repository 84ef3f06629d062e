//! `meridian-bench engine-speed`: how long one transcript takes from its
//! bytes to five insights — parsing, normalisation into sentences and the
//! builtin engine — on one thread, repeated.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use meridian_core::{Transcript, TranscriptFormat, TranscriptSource};
use meridian_models::builtin::{BuiltinOptions, extract};
use serde::Serialize;

/// Arguments of `engine-speed`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// The corpus folder (holding `transcripts/`).
    #[arg(long, env = "MERIDIAN_CORPUS", default_value_os_t = crate::shape::default_corpus())]
    corpus: PathBuf,
    /// The transcript, relative to the corpus: by default the longest one,
    /// a 4.5-hour five-speaker episode.
    #[arg(long, default_value = "transcripts/de-freakshow-fs207.json")]
    file: PathBuf,
    /// Timed runs (after one untimed warm-up).
    #[arg(long, default_value_t = 20)]
    runs: usize,
}

/// What `engine-speed` prints.
#[derive(Debug, Serialize)]
pub struct Report {
    file: String,
    bytes: usize,
    sentences: usize,
    insights: usize,
    runs: usize,
    min_ms: f64,
    median_ms: f64,
    max_ms: f64,
    /// Median of the parse and normalisation alone.
    parse_median_ms: f64,
}

/// Runs the measurement.
///
/// # Errors
/// When the file cannot be read or parsed.
pub fn run(args: &Args) -> Result<Report> {
    let path = args.corpus.join(&args.file);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let name = args.file.display().to_string();
    let format = meridian_ingest::sniff_transcript_format(&bytes).unwrap_or(TranscriptFormat::Text);
    let once = || -> Result<(usize, usize)> {
        let segments = meridian_ingest::parse_transcript(&bytes, format, &name)?;
        let sentences = segments.len();
        let transcript = Transcript {
            source: TranscriptSource::Feed(format),
            language: None,
            segments,
        };
        let insights = extract(&transcript, &BuiltinOptions::default());
        Ok((sentences, insights.len()))
    };
    let (sentences, insights) = once()?;
    let mut times: Vec<f64> = Vec::with_capacity(args.runs);
    let mut parse_times: Vec<f64> = Vec::with_capacity(args.runs);
    for _ in 0..args.runs.max(1) {
        let started = Instant::now();
        std::hint::black_box(once()?);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        std::hint::black_box(meridian_ingest::parse_transcript(&bytes, format, &name)?);
        parse_times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    parse_times.sort_by(f64::total_cmp);
    Ok(Report {
        file: name,
        bytes: bytes.len(),
        sentences,
        insights,
        runs: times.len(),
        min_ms: times[0],
        median_ms: times[times.len() / 2],
        max_ms: times[times.len() - 1],
        parse_median_ms: parse_times[parse_times.len() / 2],
    })
}

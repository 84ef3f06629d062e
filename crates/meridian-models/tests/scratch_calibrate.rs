//! TEMPORARY calibration harness (to be deleted).
#![expect(missing_docs, clippy::unwrap_used, reason = "scratch")]
use meridian_core::{Transcript, TranscriptFormat, TranscriptSource, format_offset};
use meridian_models::builtin::{BuiltinOptions, extract};

#[test]
fn calibrate() {
    let filter = std::env::var("SCRATCH").unwrap_or_default();
    let max: usize = std::env::var("SCRATCH_MAX").ok().and_then(|m| m.parse().ok()).unwrap_or(5);
    let dir = "/work/shared/corpus/transcripts";
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.contains(&filter) { continue; }
        let ext = path.extension().unwrap().to_string_lossy().to_string();
        let format = TranscriptFormat::from_extension(&ext).unwrap();
        let segments = match meridian_ingest::parse_transcript(&std::fs::read(&path).unwrap(), format, &name) {
            Ok(s) => s,
            Err(e) => { println!("=== {name}: {e}"); continue; }
        };
        let n = segments.len();
        let t = Transcript { source: TranscriptSource::Feed(format), language: None, segments };
        let started = std::time::Instant::now();
        let insights = extract(&t, &BuiltinOptions { max_insights: max, ..BuiltinOptions::default() });
        let took = started.elapsed();
        println!("\n=== {name} ({n} segments, {took:?})");
        for i in &insights {
            println!("[{:.3}] {} {}", i.importance, i.start.map(format_offset).unwrap_or_default(), i.text);
        }
    }
}

//! `parse_transcript` in every format. A first byte 0–4 forces the format
//! (JSON, VTT, SRT, HTML, text, in `TranscriptFormat::PREFERENCE` order) and
//! the rest is the file; any other input is a whole file whose format
//! `sniff_transcript_format` picks, as for a link without a type, so that real
//! transcripts seed the fuzzer as they are.
//!
//! Besides "never panics": an error names the file on one line and a success
//! has at least one segment.
//!
//! Run with `RUSTC_BOOTSTRAP=1 cargo fuzz run transcript` from the repository
//! root (see docs/fuzzing.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meridian_core::TranscriptFormat;

const SOURCE: &str = "https://fuzz.example/episode.transcript";

fuzz_target!(|data: &[u8]| {
    let formats = TranscriptFormat::PREFERENCE;
    let (format, bytes) = match data.split_first() {
        Some((&selector, rest)) if usize::from(selector) < formats.len() => (formats[usize::from(selector)], rest),
        _ => match meridian_ingest::sniff_transcript_format(data) {
            Some(format) => (format, data),
            None => return,
        },
    };
    match meridian_ingest::parse_transcript(bytes, format, SOURCE) {
        Ok(segments) => {
            assert!(!segments.is_empty(), "{format:?}: success without segments");
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.contains(SOURCE), "the error does not name the file: {message}");
            assert!(!message.contains('\n'), "the error spans lines: {message:?}");
        }
    }
});

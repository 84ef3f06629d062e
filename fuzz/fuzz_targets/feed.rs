//! `parse_feed` on arbitrary bytes (RSS, Atom, RDF, JSON Feed, anything else).
//!
//! Besides "never panics", it checks what every caller relies on: an error
//! names the feed and fits on one line, and every episode has a non-empty key.
//!
//! Run with `RUSTC_BOOTSTRAP=1 cargo fuzz run feed` from the repository root
//! (see docs/fuzzing.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use meridian_core::FeedUrl;

const SOURCE: &str = "https://fuzz.example/feed.xml";

fuzz_target!(|data: &[u8]| {
    let Ok(url) = FeedUrl::parse(SOURCE) else {
        return;
    };
    match meridian_ingest::parse_feed(data, &url) {
        Ok(feed) => {
            for episode in &feed.episodes {
                assert!(!episode.guid.0.is_empty(), "an episode without a key: {episode:?}");
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.contains(SOURCE), "the error does not name the feed: {message}");
            assert!(!message.contains('\n'), "the error spans lines: {message:?}");
            assert!(!e.kind().is_empty());
        }
    }
});

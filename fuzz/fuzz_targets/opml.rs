//! `parse_opml` on arbitrary bytes, and the round trip `write_opml` promises:
//! whatever `parse_opml` reads, written back and read again, is the same list.
//!
//! Run with `RUSTC_BOOTSTRAP=1 cargo fuzz run opml` from the repository root
//! (see docs/fuzzing.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

const SOURCE: &str = "fuzz.opml";

fuzz_target!(|data: &[u8]| {
    match meridian_ingest::parse_opml(data, SOURCE) {
        Ok(outlines) => {
            let written = meridian_ingest::write_opml("fuzz", &outlines);
            match meridian_ingest::parse_opml(written.as_bytes(), "written.opml") {
                Ok(again) => assert_eq!(again, outlines, "the round trip changed the list; written:\n{written}"),
                Err(e) => panic!("write_opml wrote OPML that parse_opml refuses: {e}\n{written}"),
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.contains(SOURCE), "the error does not name the file: {message}");
            assert!(!message.contains('\n'), "the error spans lines: {message:?}");
        }
    }
});

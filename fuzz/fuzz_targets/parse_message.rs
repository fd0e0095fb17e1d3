//! Fuzzes `parse_message` (one RFC 5322 / MIME message) and the stream reader on raw bytes.
//!
//! Run: `cargo +nightly fuzz run parse_message` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shrike_ingest::{parse_message, read_reader, Limits, ReadOptions, RecordOrigin};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_parts: 64,
        max_mime_depth: 8,
        ..Limits::default()
    };
    if let Err(e) = parse_message(data, RecordOrigin::default(), &limits) {
        // A caught panic inside a dependency is still a bug worth a crash file.
        assert_ne!(e.reason(), "parser_panic", "{e}");
    }
    // The same bytes as a stream of unknown kind: mbox, JSON, CSV, tar or message.
    let opts = ReadOptions {
        limits,
        ..ReadOptions::default()
    };
    let mut items = 0usize;
    let _ = read_reader("fuzz", data, &opts, &mut |_| items += 1);
    assert!(items > 0, "every input yields an item");
});

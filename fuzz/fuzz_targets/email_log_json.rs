//! Fuzzes email-log JSON: the stream splitter (objects, arrays, NDJSON) and `parse_email_log`.
//!
//! Run: `cargo +nightly fuzz run email_log_json` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shrike_ingest::{parse_email_log, read_reader, InputFormat, ReadOptions, RecordOrigin};

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = parse_email_log(&value, RecordOrigin::default());
    }
    let opts = ReadOptions {
        format: InputFormat::Json,
        ..ReadOptions::default()
    };
    let mut items = 0usize;
    let _ = read_reader("fuzz.ndjson", data, &opts, &mut |_| items += 1);
    assert!(items > 0, "every input yields an item");
});

//! Fuzzes the JSON decoder: NDJSON / array / pretty-printed splitting, envelope unwrapping,
//! source detection and canonicalization (Windows, Zeek, VPC, CloudTrail, email-log).
//!
//! Run: `cargo +nightly fuzz run decode_json` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shrike_normalize::decode::{decode_bytes, DecodeOptions, Format};

fuzz_target!(|data: &[u8]| {
    let mut opts = DecodeOptions {
        format: Format::Json,
        ..DecodeOptions::default()
    };
    opts.limits.max_record_bytes = 1 << 20;
    let mut items = 0u64;
    let stats = decode_bytes("fuzz.json", data, &opts, &mut |_| items += 1);
    assert_eq!(stats.records + stats.quarantined, items);
    // Also through detection (containers by magic bytes, text by content).
    opts.format = Format::Auto;
    let _ = decode_bytes("fuzz", data, &opts, &mut |_| {});
});

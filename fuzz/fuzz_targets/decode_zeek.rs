//! Fuzzes the Zeek TSV decoder: `#` headers (separators, escapes, types), typed rows.
//!
//! Run: `cargo +nightly fuzz run decode_zeek` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shrike_normalize::decode::{decode_bytes, DecodeOptions, Format};

fuzz_target!(|data: &[u8]| {
    let mut opts = DecodeOptions {
        format: Format::ZeekTsv,
        ..DecodeOptions::default()
    };
    opts.limits.max_record_bytes = 1 << 20;
    let mut items = 0u64;
    let stats = decode_bytes("conn.log", data, &opts, &mut |_| items += 1);
    assert_eq!(stats.records + stats.quarantined, items);
    opts.format = Format::Vpcflow;
    let _ = decode_bytes("flow.log", data, &opts, &mut |_| {});
});

//! Fuzzes EVTX decoding (the `evtx` crate's parser and Shrike's canonicalization of its JSON).
//! Seed the corpus with real `.evtx` files; inputs without the `ElfFile\0` magic get it
//! prepended so the fuzzer spends its time inside the parser.
//!
//! Run: `cargo +nightly fuzz run decode_evtx` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shrike_normalize::decode::{decode_bytes, DecodeOptions, Format};

fuzz_target!(|data: &[u8]| {
    let opts = DecodeOptions {
        format: Format::Evtx,
        ..DecodeOptions::default()
    };
    let mut input;
    let bytes = if data.starts_with(b"ElfFile\0") {
        data
    } else {
        input = b"ElfFile\0".to_vec();
        input.extend_from_slice(data);
        &input
    };
    let mut items = 0u64;
    let stats = decode_bytes("fuzz.evtx", bytes, &opts, &mut |_| items += 1);
    assert_eq!(stats.records + stats.quarantined, items);
});

//! Fuzzes the mapping engine end to end: arbitrary bytes → decoders (auto-detected) → every
//! bundled mapping → observables → schema validation. Records may be rejected (no_mapping,
//! missing_time, ocsf_invalid); nothing may panic, and every emitted event must be valid OCSF.
//!
//! Run: `cargo +nightly fuzz run normalize_engine` (or `RUSTC_BOOTSTRAP=1 cargo fuzz run
//! normalize_engine` on a stable toolchain) from the repository root.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shrike_normalize::decode::{decode_bytes, DecodeOptions};
use shrike_normalize::{DecodeItem, Engine, Source};

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::embedded().expect("bundled mappings compile"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    // The first byte picks a forced source (or auto-detection), so every mapping family is reached
    // even by inputs that don't look like it.
    let source = Source::ALL.get(usize::from(selector) % (Source::ALL.len() + 1)).copied();
    let opts = DecodeOptions { source, ..DecodeOptions::default() };
    decode_bytes("fuzz.json", body, &opts, &mut |item| {
        if let DecodeItem::Record(rec) = item {
            if let Ok(n) = engine().normalize(rec) {
                assert!(shrike_ocsf::Schema::shared().validate(&n.event).is_empty());
            }
        }
    });
});

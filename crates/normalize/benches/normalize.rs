//! Normalization throughput (events/s on one core): decode + map + observables + validation,
//! over real records from ../shared/data held in memory (skipped when the data is absent).
//!
//! `cargo bench -p shrike-normalize --bench normalize`

use std::hint::black_box;
use std::io::Read;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shrike_normalize::decode::{decode_bytes, DecodeOptions};
use shrike_normalize::{DecodeItem, Engine};

/// The `shrike` binary's allocator, so the numbers match `shrike normalize`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

/// The decompressed NDJSON of every record in `path`, as the decoders produce them, re-serialised
/// line by line (so the benchmark input is plain NDJSON held in memory).
fn ndjson_of(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = shrike_normalize::decode::decode_path(path, &DecodeOptions::default(), &mut |item| {
        if let DecodeItem::Record(r) = item {
            out.extend_from_slice(&r.raw);
            out.push(b'\n');
        }
    });
    out
}

fn count_lines(b: &[u8]) -> u64 {
    b.iter().filter(|&&c| c == b'\n').count() as u64
}

fn bench_set(c: &mut Criterion, name: &str, input: &[u8], engine: &Engine) {
    let n = count_lines(input);
    let mut g = c.benchmark_group("normalize");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.bench_function(name, |b| {
        b.iter(|| {
            let mut events = 0u64;
            let mut out = Vec::with_capacity(4096);
            decode_bytes(
                "bench.ndjson",
                input,
                &DecodeOptions::default(),
                &mut |item| {
                    if let DecodeItem::Record(r) = item {
                        if let Ok(n) = engine.normalize(r) {
                            out.clear();
                            let _ = serde_json::to_writer(&mut out, &n.event);
                            events += 1;
                        }
                    }
                },
            );
            black_box(events)
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let root = data();
    if !root.is_dir() {
        eprintln!("skipping: {} not found", root.display());
        return;
    }
    let engine = match Engine::embedded() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("skipping: mappings do not load: {e}");
            return;
        }
    };
    // Sysmon-heavy Mordor capture (25,208 events, 99% Sysmon).
    let sysmon = ndjson_of(&root.join("endpoint/mordor/atomic/windows/defense_evasion/host/cmd_wevtutil_modify_security_eventlog_path.zip"));
    // Windows Security + PowerShell + Sysmon mix.
    let mixed = ndjson_of(&root.join(
        "endpoint/mordor/atomic/windows/credential_access/host/empire_mimikatz_logonpasswords.zip",
    ));
    // Suricata EVE: every EVE file in the shared data, concatenated.
    let mut eve = Vec::new();
    for f in [
        "network/c2/icedid-2022-03-21-mta/eve.json.xz",
        "network/c2/icedid-2023-11/eve.json.xz",
        "network/suricata/nmap-webscan-ec2-2025/eve.json.xz",
        "network/suricata/ssh-tls-flow-2023/eve.json.xz",
        "network/suricata/wrccdc-alert-samples/wrccdc-2018.alerts.eve.json.xz",
    ] {
        let mut s = Vec::new();
        if let Ok(file) = std::fs::File::open(root.join(f)) {
            let _ = liblzma::read::XzDecoder::new(file).read_to_end(&mut s);
        }
        eve.extend_from_slice(&s);
    }
    bench_set(c, "sysmon_json", &sysmon, &engine);
    bench_set(c, "windows_mixed_json", &mixed, &engine);
    bench_set(c, "suricata_eve", &eve, &engine);
    let mut fast = match Engine::embedded() {
        Ok(e) => e,
        Err(_) => return,
    };
    fast.set_validate(false);
    bench_set(c, "sysmon_json_no_validate", &sysmon, &fast);
    bench_set(c, "suricata_eve_no_validate", &eve, &fast);
}

criterion_group!(group, benches);
criterion_main!(group);

//! Parsing throughput on the SpamAssassin easy_ham corpus (2,500 messages, ~4 KB median).
//!
//! The messages are read from the shared `.tar.xz` once, outside the timing; when the shared
//! data is absent the benchmarks are skipped with a note. Run:
//! `cargo bench -p shrike-ingest --bench parse -- --quick`.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shrike_ingest::{parse_message, Limits, RecordOrigin};

fn easy_ham() -> Option<Vec<Vec<u8>>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/email/spamassassin/spamassassin_easy_ham.tar.xz");
    let file = std::fs::File::open(path).ok()?;
    let mut archive = tar::Archive::new(liblzma::read::XzDecoder::new(file));
    let mut out = Vec::new();
    for entry in archive.entries().ok()? {
        let mut entry = entry.ok()?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let mut raw = Vec::new();
        entry.read_to_end(&mut raw).ok()?;
        out.push(raw);
    }
    Some(out)
}

fn bench_parse(c: &mut Criterion) {
    let Some(messages) = easy_ham() else {
        eprintln!("skipping: ../shared/data not found");
        return;
    };
    let limits = Limits::default();
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("parse_message");
    group.measurement_time(Duration::from_secs(10));
    group.sample_size(20);

    group.throughput(Throughput::Elements(messages.len() as u64));
    group.bench_function("easy_ham/messages", |b| {
        b.iter(|| {
            let mut ok = 0usize;
            for raw in &messages {
                if let Ok(rec) =
                    parse_message(std::hint::black_box(raw), RecordOrigin::default(), &limits)
                {
                    ok += rec.headers.len();
                }
            }
            ok
        })
    });
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("easy_ham/bytes", |b| {
        b.iter(|| {
            for raw in &messages {
                let _ = std::hint::black_box(parse_message(raw, RecordOrigin::default(), &limits));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);

//! Raw MIME → calibrated score, one core, over the SpamAssassin corpus (../shared/data).
//!
//! Stages measured separately and together, each over every message of the corpus per iteration
//! (throughput in messages/s): MIME parse, feature extraction, scoring without reasons, the whole
//! path without reasons, and the whole path with 5 TreeSHAP reasons.
//!
//! Run: `cargo bench -p shrike --bench pipeline`. Skips (prints why) when the data is absent.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shrike_score::features::extract_email;
use shrike_score::scorer::ScoreScratch;
use shrike_score::FeatureContext;
use shrike_types::RecordOrigin;
use std::io::Read;
use std::path::Path;

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/email/spamassassin");
    let mut out = Vec::new();
    for name in [
        "spamassassin_easy_ham.tar.xz",
        "spamassassin_easy_ham_2.tar.xz",
        "spamassassin_hard_ham.tar.xz",
        "spamassassin_spam.tar.xz",
        "spamassassin_spam_2.tar.xz",
    ] {
        let Ok(f) = std::fs::File::open(dir.join(name)) else {
            continue;
        };
        let mut ar = tar::Archive::new(liblzma::read::XzDecoder::new(f));
        let Ok(entries) = ar.entries() else { continue };
        for e in entries.flatten() {
            if !e.header().entry_type().is_file() {
                continue;
            }
            let mut buf = Vec::new();
            let mut e = e;
            if e.read_to_end(&mut buf).is_ok() {
                out.push(buf);
            }
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let msgs = corpus();
    if msgs.is_empty() {
        eprintln!("skipping pipeline bench: ../shared/data/email/spamassassin not found");
        return;
    }
    let total: usize = msgs.iter().map(Vec::len).sum();
    eprintln!(
        "corpus: {} messages, {} bytes (mean {} bytes)",
        msgs.len(),
        total,
        total / msgs.len()
    );
    let limits = shrike_ingest::Limits::default();
    let scorer = shrike::load_scorer(None).expect("bundled model");
    let ctx = FeatureContext::default();
    let recs: Vec<_> = msgs
        .iter()
        .filter_map(|m| shrike_ingest::parse_message(m, RecordOrigin::default(), &limits).ok())
        .collect();
    let feats: Vec<Vec<f32>> = recs
        .iter()
        .map(|r| {
            let mut x = Vec::new();
            extract_email(r, &ctx, &mut x);
            x
        })
        .collect();
    let mut g = c.benchmark_group("spamassassin");
    g.sample_size(10);
    g.throughput(Throughput::Elements(msgs.len() as u64));
    g.bench_function("mime_parse", |b| {
        b.iter(|| {
            msgs.iter()
                .filter(|m| {
                    shrike_ingest::parse_message(m, RecordOrigin::default(), &limits).is_ok()
                })
                .count()
        })
    });
    g.bench_function("features", |b| {
        let mut x = Vec::new();
        b.iter(|| {
            for r in &recs {
                extract_email(r, &ctx, &mut x);
            }
        })
    });
    g.bench_function("score_no_reasons", |b| {
        let mut s = ScoreScratch::default();
        b.iter(|| {
            feats
                .iter()
                .map(|x| scorer.score_features(x, 0, &mut s).score)
                .sum::<f64>()
        })
    });
    g.bench_function("raw_to_score_no_reasons", |b| {
        let mut s = ScoreScratch::default();
        b.iter(|| {
            let mut acc = 0.0;
            for m in &msgs {
                if let Ok(r) = shrike_ingest::parse_message(m, RecordOrigin::default(), &limits) {
                    acc += scorer.score_email(&r, &ctx, 0, &mut s).score;
                }
            }
            acc
        })
    });
    g.bench_function("raw_to_score_5_reasons", |b| {
        let mut s = ScoreScratch::default();
        b.iter(|| {
            let mut acc = 0.0;
            for m in &msgs {
                if let Ok(r) = shrike_ingest::parse_message(m, RecordOrigin::default(), &limits) {
                    acc += scorer.score_email(&r, &ctx, 5, &mut s).score;
                }
            }
            acc
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

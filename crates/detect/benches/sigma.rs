//! Sigma matching throughput: the whole SigmaHQ rule set over real normalized Mordor events
//! (three captures, normalized at setup with shrike-normalize), on one core; with the literal
//! prefilter (`matches`) and without (`matches_unfiltered`).
//!
//! `cargo bench -p shrike-detect --bench sigma`

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::Value;
use shrike_detect::sigma::SigmaRules;
use shrike_normalize::decode::{decode_path, DecodeOptions};
use shrike_normalize::{DecodeItem, Engine};

const CAPTURES: [&str; 3] = [
    "endpoint/mordor/atomic/windows/credential_access/host/psh_lsass_memory_dump_comsvcs.zip",
    "endpoint/mordor/atomic/windows/defense_evasion/host/empire_psinject_PEinjection.zip",
    "endpoint/mordor/atomic/windows/lateral_movement/host/covenant_psremoting_command.zip",
];

fn load() -> Option<(SigmaRules, Vec<Value>)> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    let rules_dir = data.join("sigma/rules");
    if !rules_dir.is_dir() {
        eprintln!("skipped: {} absent", rules_dir.display());
        return None;
    }
    let (rules, _) = SigmaRules::load_dir(&rules_dir).ok()?;
    let engine = Engine::embedded().ok()?;
    let mut events = Vec::new();
    for c in CAPTURES {
        let mut sink = |item: DecodeItem| {
            if let DecodeItem::Record(rec) = item {
                if let Ok(n) = engine.normalize(rec) {
                    events.push(n.event);
                }
            }
        };
        if decode_path(&data.join(c), &DecodeOptions::default(), &mut sink).is_err() {
            eprintln!("skipped: {c} absent");
            return None;
        }
    }
    Some((rules, events))
}

fn bench(c: &mut Criterion) {
    let Some((rules, events)) = load() else {
        return;
    };
    // `SIGMA_PASSES=n[,unfiltered]`: n plain passes and exit, for `perf stat` on a busy
    // machine (CPU time and instruction counts are steadier than wall time there).
    if let Ok(v) = std::env::var("SIGMA_PASSES") {
        let (n, how) = v.split_once(',').unwrap_or((v.as_str(), ""));
        let n: usize = n.parse().unwrap_or(0);
        let mut out = Vec::new();
        for _ in 0..n {
            out.clear();
            for e in &events {
                if how == "unfiltered" {
                    rules.matches_unfiltered(e, &mut out);
                } else {
                    rules.matches(e, &mut out);
                }
            }
        }
        eprintln!("{n} passes, {} hits in the last", out.len());
        return;
    }
    let mut g = c.benchmark_group("sigma");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.sample_size(20);
    let mut out = Vec::new();
    let name = format!("match_{}_rules_{}_events", rules.len(), events.len());
    g.bench_function(name, |b| {
        b.iter(|| {
            out.clear();
            for e in &events {
                rules.matches(e, &mut out);
            }
            out.len()
        })
    });
    // The same pass without the literal prefilter (direct evaluation of every rule).
    g.bench_function("unfiltered", |b| {
        b.iter(|| {
            out.clear();
            for e in &events {
                rules.matches_unfiltered(e, &mut out);
            }
            out.len()
        })
    });
    g.finish();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sigma/rules");
    let mut g = c.benchmark_group("sigma_load");
    g.sample_size(10);
    g.bench_function("load_rules_dir", |b| {
        b.iter(|| {
            SigmaRules::load_dir(&dir)
                .map(|(r, _)| r.len())
                .unwrap_or(0)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

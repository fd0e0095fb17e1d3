//! Local-store lookup throughput (issue 4 target: ≥ 500,000 lookups/s per core) over a
//! realistic mix: IPs from the feeds and random IPs, feed domains, subdomains of them (parent
//! walk) and unknown names, feed URLs and unknown URLs; every default feed and the MISP warning
//! lists loaded, so suppression checks run on hits.
//!
//! The store is loaded once, outside the timing; when the shared data is absent the benchmark
//! is skipped with a note. Run: `cargo bench -p shrike-intel --bench lookup -- --quick`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shrike_intel::store::IntelStore;
use shrike_intel::{Indicator, IndicatorKind};

enum Query {
    Ip(IpAddr),
    Domain(String),
    Url(String),
}

/// A fixed-seed xorshift, so every run asks the same questions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn queries(store: &IntelStore) -> Vec<Query> {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let pick = |kind: IndicatorKind, n: usize| -> Vec<String> {
        let all: Vec<&str> = store
            .hits()
            .filter(|h| h.indicator.kind == kind)
            .map(|h| h.indicator.value.as_str())
            .collect();
        let step = (all.len() / n.max(1)).max(1);
        all.iter()
            .step_by(step)
            .take(n)
            .map(|s| (*s).to_string())
            .collect()
    };
    let mut q = Vec::new();
    for v in pick(IndicatorKind::Ipv4, 4_000) {
        if let Ok(ip) = v.parse() {
            q.push(Query::Ip(ip));
        }
    }
    for _ in 0..4_000 {
        // Truncation on purpose: 32 random bits.
        q.push(Query::Ip(IpAddr::V4(Ipv4Addr::from(rng.next() as u32))));
    }
    for d in pick(IndicatorKind::Domain, 2_000) {
        q.push(Query::Domain(format!("www.cdn.{d}")));
        q.push(Query::Domain(d));
    }
    for i in 0..2_000 {
        q.push(Query::Domain(format!(
            "host{i}.svc{}.example-unknown.net",
            rng.next() % 97
        )));
    }
    for u in pick(IndicatorKind::Url, 1_000) {
        q.push(Query::Url(u));
    }
    for i in 0..1_000 {
        q.push(Query::Url(format!(
            "https://app{i}.unknown-site.org/login.php?id={}",
            rng.next() % 1000
        )));
    }
    // Interleave so branch prediction sees a mix, deterministically.
    let n = q.len();
    for i in (1..n).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        q.swap(i, j);
    }
    q
}

fn bench_lookup(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/threat-intel");
    let Ok((store, report)) = IntelStore::load_default(&dir) else {
        eprintln!("skipping: ../shared/data/threat-intel not found");
        return;
    };
    let qs = queries(&store);
    let hits = qs
        .iter()
        .filter(|q| match q {
            Query::Ip(ip) => !store.lookup_ip(*ip).is_empty(),
            Query::Domain(d) => !store.lookup_domain(d).is_empty(),
            Query::Url(u) => !store.lookup_url(u).is_empty(),
        })
        .count();
    eprintln!(
        "store: {} hits from {:?}; {} queries, {} answered",
        store.len(),
        report.per_source,
        qs.len(),
        hits
    );
    let mut group = c.benchmark_group("intel_store");
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(qs.len() as u64));
    group.bench_function("mixed_lookups", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for q in &qs {
                n += match q {
                    Query::Ip(ip) => store.lookup_ip(black_box(*ip)).len(),
                    Query::Domain(d) => store.lookup_domain(black_box(d)).len(),
                    Query::Url(u) => store.lookup_url(black_box(u)).len(),
                };
            }
            n
        })
    });
    let inds: Vec<Indicator> = qs
        .iter()
        .filter_map(|q| match q {
            Query::Ip(ip) => Indicator::new(IndicatorKind::Ipv4, &ip.to_string()),
            Query::Domain(d) => Indicator::new(IndicatorKind::Domain, d),
            Query::Url(u) => Indicator::new(IndicatorKind::Url, u),
        })
        .collect();
    group.throughput(Throughput::Elements(inds.len() as u64));
    group.bench_function("exact_lookups", |b| {
        b.iter(|| {
            inds.iter()
                .map(|i| store.lookup(black_box(i)).len())
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_lookup);
criterion_main!(benches);

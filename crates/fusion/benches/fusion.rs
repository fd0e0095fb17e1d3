//! `Fuser::observe` throughput on 100k synthetic entities, and the measured bytes per entity.
//! Every rule fires on every 50th entity, so the prevalence discount is exercised at full
//! spread (2,000+ entities per rule).
//!
//! Run: `cargo bench -p shrike-fusion --bench fusion`

#![allow(missing_docs)]

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shrike_detect::{Alert, Domain, Hit, ModelScore, Origin};
use shrike_fusion::{Fuser, FusionConfig};
use shrike_normalize::entities::{Entity, EntityKind};

const ENTITIES: usize = 100_000;

fn alert(k: usize, t: i64) -> Alert {
    let rule = k % 50;
    let sev = (k % 5) as u8 + 1;
    Alert {
        uid: format!("alert-{k}"),
        time_ms: t,
        domain: Domain::Endpoint,
        hits: vec![Hit {
            origin: Origin::Sigma {
                rule_id: format!("rule-{rule}"),
                title: format!("Rule {rule}"),
                author: "bench".into(),
                level: "high".into(),
                path: String::new(),
            },
            title: format!("Rule {rule}"),
            severity_id: sev,
            techniques: vec!["T1059.001".into()],
            tactics: vec!["execution".into()],
        }],
        score: k.is_multiple_of(3).then(|| ModelScore {
            model: "shrike-endpoint-gbdt".into(),
            version: "1".into(),
            probability: (k % 97) as f64 / 97.0,
            verdict: "alert".into(),
            reasons: Vec::new(),
        }),
        title: format!("Rule {rule}"),
        severity_id: sev,
        techniques: vec!["T1059.001".into()],
        tactics: vec!["execution".into()],
        event_uid: format!("ev-{k}"),
        class_uid: 1007,
        entities: vec![Entity {
            kind: EntityKind::Host,
            key: format!("host-{}", k % ENTITIES),
            role: "device".into(),
            aliases: Vec::new(),
        }],
    }
}

fn bench(c: &mut Criterion) {
    let mut fuser = match Fuser::new(FusionConfig::default()) {
        Ok(f) => f,
        Err(e) => panic!("default config: {e}"),
    };
    let t0 = 1_700_000_000_000i64;
    // Fill: 4 alerts per entity, so each entity has several slots.
    let mut pool: Vec<Alert> = (0..ENTITIES * 4).map(|k| alert(k, t0)).collect();
    let mut clock = t0;
    for a in &mut pool {
        a.time_ms = clock;
        clock += 1;
        fuser.observe(a, None);
    }
    let s = fuser.stats();
    println!(
        "fusion state: {} live entities; size_of state {} B; hot {:.1} B/entity (map + keys); \
         side {:.1} B/entity (alert strings, aliases); total {:.1} B/entity; {} side entries; \
         prevalence table {} rules, {} B",
        s.entities_live,
        s.state_bytes,
        s.hot_bytes_per_entity,
        s.side_bytes_per_entity,
        s.hot_bytes_per_entity + s.side_bytes_per_entity,
        s.side_entries,
        s.prevalence_rules,
        s.prevalence_bytes
    );
    let mut g = c.benchmark_group("fusion");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(5));
    let mut k = 0usize;
    g.bench_function("observe_100k_entities", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let i = k % pool.len();
                k += 1;
                if let Some(a) = pool.get_mut(i) {
                    a.time_ms = clock;
                    clock += 1;
                    std::hint::black_box(fuser.observe(a, None));
                }
            }
            start.elapsed()
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Rule prevalence discount and peak score: a rule that fires across the fleet counts less per
//! entity; the model's rule key is the model plus the alert title; `sum_severity` stays the plain
//! additive baseline; reports rank by peak score.

#![allow(clippy::unwrap_used)]

mod common;

use shrike_detect::{Alert, Domain, ModelScore};
use shrike_fusion::prevalence::discount;
use shrike_fusion::{EntityId, EntityReport, Fuser, FusionConfig, StrategyKind};
use shrike_normalize::entities::{Entity, EntityKind};

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

fn on(host: &str) -> Vec<Entity> {
    vec![Entity {
        kind: EntityKind::Host,
        key: host.into(),
        role: "device".into(),
        aliases: vec![],
    }]
}

fn hit(uid: &str, t: i64, rule: &str, sev: u8, entities: Vec<Entity>) -> Alert {
    common::sigma_alert(uid, t, rule, sev, &[], "execution", entities)
}

fn model(uid: &str, t: i64, title: &str, p: f64, entities: Vec<Entity>) -> Alert {
    Alert {
        uid: uid.into(),
        time_ms: t,
        domain: Domain::Endpoint,
        hits: vec![],
        score: Some(ModelScore {
            model: "shrike-endpoint-gbdt".into(),
            version: "1".into(),
            probability: p,
            verdict: "alert".into(),
            reasons: vec![],
        }),
        title: title.into(),
        severity_id: 3,
        techniques: vec![],
        tactics: vec![],
        event_uid: format!("ev-{uid}"),
        class_uid: 1007,
        entities,
    }
}

fn host(k: &str) -> EntityId {
    EntityId {
        kind: EntityKind::Host,
        key: k.into(),
    }
}

fn cfg(strategy: StrategyKind) -> FusionConfig {
    FusionConfig {
        strategy,
        ..FusionConfig::default()
    }
}

/// Fires rule `r` (high) on `n` hosts `h0..`, one minute apart, then reports `h0`.
fn spread(strategy: StrategyKind, n: usize) -> (EntityReport, f64) {
    let mut f = Fuser::new(cfg(strategy)).unwrap();
    for i in 0..n {
        f.observe(
            &hit(&format!("a{i}"), T0, "r", 4, on(&format!("h{i}"))),
            None,
        );
    }
    let r = f.report(&host("h0")).unwrap();
    let s = f.score_at(&host("h0"), T0).unwrap();
    (r, s)
}

#[test]
fn a_rule_on_fifty_entities_counts_less_than_on_one() {
    let single = (0.6f64 / 0.4).ln() - (0.01f64 / 0.99).ln();
    for k in [StrategyKind::LogOdds, StrategyKind::NoisyOr] {
        let (rare, rare_score) = spread(k, 1);
        let (wide, wide_score) = spread(k, 50);
        let (c1, c50) = (&rare.contributions[0], &wide.contributions[0]);
        assert_eq!((c1.kind.as_str(), c50.kind.as_str()), ("alert", "alert"));
        assert_eq!(c1.prevalence, Some(1));
        assert_eq!(c1.discount, Some(1.0));
        assert!((c1.weight - single).abs() < 1e-4, "{}", c1.weight);
        let n = c50.prevalence.unwrap();
        // Linear-counting estimate of 50 distinct entities.
        assert!((45..=56).contains(&n), "{n}");
        let d = c50.discount.unwrap();
        assert!(
            (d - 1.0 / (1.0 + 0.25 * f64::from(n - 2))).abs() < 1e-12,
            "{d}"
        );
        assert!(d > 0.0 && d < 0.1, "{d}");
        assert!((c50.weight - single * d).abs() < 1e-4, "{}", c50.weight);
        assert!(c50.share < c1.share, "{k:?}");
        assert!(
            wide_score < rare_score,
            "{k:?}: {wide_score} >= {rare_score}"
        );
    }
}

#[test]
fn sum_severity_is_not_discounted() {
    let (rare, rare_score) = spread(StrategyKind::SumSeverity, 1);
    let (wide, wide_score) = spread(StrategyKind::SumSeverity, 50);
    assert_eq!(rare_score, wide_score);
    assert_eq!(rare.contributions[0].weight, 4.0);
    assert_eq!(wide.contributions[0].weight, 4.0);
    assert_eq!(wide.contributions[0].discount, Some(1.0));
    assert!(wide.contributions[0].prevalence.unwrap() > 40);
}

#[test]
fn two_entities_of_one_alert_are_not_discounted() {
    // A host and its user in one alert: the rule has fired on two entities, weight x1.
    let mut f = Fuser::new(FusionConfig::default()).unwrap();
    let mut es = on("ws-1");
    es.push(Entity {
        kind: EntityKind::User,
        key: "alice@corp".into(),
        role: "actor.user".into(),
        aliases: vec![],
    });
    f.observe(&hit("a", T0, "r", 4, es), None);
    for r in f.reports() {
        assert_eq!(r.contributions[0].prevalence, Some(2));
        assert_eq!(r.contributions[0].discount, Some(1.0));
    }
}

#[test]
fn model_alerts_are_keyed_by_model_and_title() {
    // The same model: a fleet-wide false-positive title on 40 hosts, a rare title on one.
    let mut f = Fuser::new(FusionConfig::default()).unwrap();
    let noisy = "endpoint model: suspicious process svchost.exe";
    let rare = "endpoint model: suspicious process rundll32.exe";
    for i in 0..40 {
        f.observe(
            &model(&format!("n{i}"), T0, noisy, 0.9, on(&format!("h{i}"))),
            None,
        );
    }
    f.observe(&model("r", T0 + MIN, rare, 0.95, on("h0")), None);
    let r = f.report(&host("h0")).unwrap();
    let by_title = |t: &str| {
        r.contributions
            .iter()
            .find(|c| c.title == t)
            .cloned()
            .unwrap()
    };
    let (cn, cr) = (by_title(noisy), by_title(rare));
    assert_eq!(cr.rule, format!("shrike-endpoint-gbdt: {rare}"));
    assert_eq!(cr.prevalence, Some(1));
    assert_eq!(cr.discount, Some(1.0));
    assert!(cn.prevalence.unwrap() >= 35, "{cn:?}");
    assert!(cn.discount.unwrap() < 0.15, "{cn:?}");
    assert!(cr.weight > 5.0 * cn.weight, "{cr:?} {cn:?}");
    // A host with only the noisy title stays low; h0 with the rare one routes.
    assert!(f.score_at(&host("h7"), T0 + MIN).unwrap() < 0.1);
    assert!(f.score_at(&host("h0"), T0 + MIN).unwrap() >= 0.7);
}

#[test]
fn prevalence_ages_out_after_two_windows() {
    let c = FusionConfig {
        window_secs: 3600,
        ..FusionConfig::default()
    };
    let mut f = Fuser::new(c).unwrap();
    for i in 0..30 {
        f.observe(
            &hit(&format!("a{i}"), T0, "r", 4, on(&format!("h{i}"))),
            None,
        );
    }
    // Three windows later the rule's spread is forgotten: a new host gets full weight.
    let t = T0 + 3 * 3_600_000;
    f.observe(&hit("b", t, "r", 4, on("fresh")), None);
    let r = f.report(&host("fresh")).unwrap();
    assert_eq!(r.contributions[0].prevalence, Some(1));
    assert_eq!(r.contributions[0].discount, Some(1.0));
    assert!(f.stats().prevalence_rules >= 1);
}

#[test]
fn peak_score_is_kept_and_orders_reports() {
    let mut f = Fuser::new(FusionConfig::default()).unwrap();
    // "burst": two high hits, then nothing for a day; "slow": one medium hit now.
    f.observe(&hit("b1", T0, "r1", 4, on("burst")), None);
    let o = f.observe(&hit("b2", T0 + MIN, "r2", 4, on("burst")), None);
    let burst_peak = o.updates[0].1;
    assert!(burst_peak >= 0.7);
    let later = T0 + 24 * 3_600_000;
    f.observe(&hit("s1", later, "r3", 3, on("slow")), None);
    let reports = f.reports();
    let burst = reports.iter().find(|r| r.entity == host("burst")).unwrap();
    let slow = reports.iter().find(|r| r.entity == host("slow")).unwrap();
    // The burst has decayed below the slow entity's live score but ranks first by its peak.
    assert!(burst.score < slow.score, "{} {}", burst.score, slow.score);
    assert_eq!(reports[0].entity, host("burst"));
    assert!(burst.peak_score >= burst_peak && burst.peak_score - burst_peak < 3e-4);
    assert_eq!(burst.peak_ms, T0 + MIN);
    assert!(slow.peak_score >= slow.score);
    assert_eq!(slow.peak_ms, later);
    // The state stays within its budget.
    assert_eq!(f.stats().state_bytes, 168);
}

#[test]
fn discount_is_in_unit_interval() {
    for n in [0u32, 1, 2, 3, 10, 50, 212, 3194, u32::MAX] {
        for a in [0.0, 0.25, 1.0, 100.0] {
            let w = discount(n, a);
            assert!(w > 0.0 && w <= 1.0, "{n} {a} {w}");
        }
    }
    assert!((discount(212, 0.25) - 1.0 / 53.5).abs() < 1e-12);
    let bad = FusionConfig {
        prevalence_alpha: f64::NAN,
        ..FusionConfig::default()
    };
    assert!(Fuser::new(bad)
        .unwrap_err()
        .to_string()
        .contains("prevalence_alpha"));
}

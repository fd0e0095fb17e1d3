//! Behaviour of the fuser on small scenarios: attribution, repeat cap, boosts, intel, late data,
//! capacity, the stacked strategy, and the OCSF Detection Finding (validated against the
//! bundled OCSF 1.8.0 schema).

#![allow(clippy::unwrap_used)]

mod common;

use shrike_detect::{Alert, Domain, ModelScore};
use shrike_fusion::{
    detection_finding, finding_uid, EntityId, Fuser, FusionConfig, StackedModel, StrategyKind,
    FEATURE_NAMES, N_FEATURES,
};
use shrike_normalize::entities::{Entity, EntityKind};

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

fn ent(kind: EntityKind, key: &str, role: &str) -> Entity {
    Entity {
        kind,
        key: key.into(),
        role: role.into(),
        aliases: vec![],
    }
}

fn sigma(
    uid: &str,
    t: i64,
    rule: &str,
    sev: u8,
    technique: &str,
    tactic: &str,
    entities: Vec<Entity>,
) -> Alert {
    common::sigma_alert(uid, t, rule, sev, &[technique], tactic, entities)
}

fn host(k: &str) -> EntityId {
    EntityId {
        kind: EntityKind::Host,
        key: k.into(),
    }
}

fn win31() -> Vec<Entity> {
    vec![
        ent(EntityKind::Host, "win-client-31", "device"),
        ent(EntityKind::User, "pgustavo@theshire", "actor.user"),
        ent(EntityKind::Ip, "203.0.113.9", "dst_endpoint"),
    ]
}

#[test]
fn kill_chain_scenario_crosses_once_and_the_finding_validates() {
    let mut f = Fuser::new(FusionConfig::default()).unwrap();
    let steps = [
        ("T1566.001", "initial-access", "r-phish", 3),
        ("T1059.001", "execution", "r-ps", 4),
        ("T1003.001", "credential-access", "r-lsass", 5),
        ("T1021.002", "lateral-movement", "r-smb", 4),
    ];
    let mut crossings = Vec::new();
    let mut scores = Vec::new();
    for (i, (tech, tactic, rule, sev)) in steps.iter().enumerate() {
        let a = sigma(
            &format!("a{i}"),
            T0 + i as i64 * 10 * MIN,
            rule,
            *sev,
            tech,
            tactic,
            win31(),
        );
        let o = f.observe(&a, None);
        // Host and user count; the public destination IP does not.
        let who: Vec<String> = o.updates.iter().map(|(e, _)| e.to_string()).collect();
        assert_eq!(who, vec!["user pgustavo@theshire", "host win-client-31"]);
        scores.push(o.updates[1].1);
        crossings.extend(o.crossings);
    }
    assert!(scores.windows(2).all(|w| w[1] > w[0]), "{scores:?}");
    // Each entity crossed exactly once.
    let crossed: Vec<String> = crossings.iter().map(|r| r.entity.to_string()).collect();
    assert_eq!(
        crossed,
        vec!["user pgustavo@theshire", "host win-client-31"]
    );
    let r = f.report(&host("win-client-31")).unwrap();
    assert_eq!(r.kill_chain, 4);
    assert_eq!(
        r.tactics,
        vec![
            "initial-access",
            "execution",
            "credential-access",
            "lateral-movement"
        ]
    );
    assert_eq!(r.alerts, 4);
    assert_eq!(r.features.len(), N_FEATURES);
    assert!(r.score > 0.9 && r.level == "critical", "{r:?}");
    // The strongest contribution is the critical LSASS rule.
    assert_eq!(r.contributions[0].alert_uid, "a2");
    assert_eq!(r.contributions[0].unit, "log_odds");
    assert!(r
        .contributions
        .iter()
        .any(|c| c.kind == "term" && c.source == "kill_chain"));

    let ev = detection_finding(&r, T0 + 3_600_000);
    let errors = shrike_ocsf::Schema::shared().validate(&ev);
    assert!(errors.is_empty(), "{errors:?}\n{ev:#}");
    assert_eq!(
        ev["finding_info"]["title"],
        "Entity risk: host win-client-31"
    );
    assert_eq!(ev["finding_info"]["uid"], finding_uid(&r));
    assert_eq!(ev["metadata"]["uid"], finding_uid(&r));
    assert_eq!(
        ev["finding_info"]["analytic"]["name"],
        "shrike-fusion log_odds"
    );
    assert_eq!(ev["risk_level"], "Critical");
    assert_eq!(ev["severity_id"], 5);
    assert_eq!(ev["device"]["hostname"], "win-client-31");
    assert_eq!(ev["metadata"]["product"]["feature"]["name"], "fusion");
    let attacks = ev["finding_info"]["attacks"].as_array().unwrap();
    let lsass = attacks
        .iter()
        .find(|a| a["sub_technique"]["uid"] == "T1003.001")
        .unwrap();
    assert_eq!(lsass["sub_technique"]["name"], "LSASS Memory");
    assert_eq!(lsass["technique"]["name"], "OS Credential Dumping");
    assert_eq!(lsass["tactic"]["name"], "Credential Access");
    let related = ev["finding_info"]["related_events"].as_array().unwrap();
    assert_eq!(related.len(), 4);
    let back: shrike_fusion::EntityReport =
        serde_json::from_value(ev["unmapped"]["shrike_fusion"].clone()).unwrap();
    assert_eq!(back, r);

    // Findings for a user, an IP and every strategy validate too.
    let u = f
        .report(&EntityId {
            kind: EntityKind::User,
            key: "pgustavo@theshire".into(),
        })
        .unwrap();
    assert!(shrike_ocsf::Schema::shared()
        .validate(&detection_finding(&u, T0))
        .is_empty());
    let mut g = Fuser::new(FusionConfig {
        strategy: StrategyKind::SumSeverity,
        ..FusionConfig::default()
    })
    .unwrap();
    g.observe(
        &sigma(
            "x",
            T0,
            "r",
            2,
            "T1046",
            "discovery",
            vec![ent(EntityKind::Ip, "10.1.2.3", "src_endpoint")],
        ),
        None,
    );
    let ip = g.reports().remove(0);
    assert_eq!(ip.entity.to_string(), "ip 10.1.2.3");
    let ev = detection_finding(&ip, T0);
    assert!(
        shrike_ocsf::Schema::shared().validate(&ev).is_empty(),
        "{ev:#}"
    );
    assert_eq!(ev["finding_info"]["analytic"]["type"], "Rule");
}

#[test]
fn repeated_identical_alerts_saturate() {
    let mut f = Fuser::new(FusionConfig::default()).unwrap();
    let e = || vec![ent(EntityKind::Host, "h1", "device")];
    let first = f
        .observe(&sigma("a0", T0, "r1", 4, "T1059", "execution", e()), None)
        .updates[0]
        .1;
    let mut last = first;
    for i in 1..500 {
        last = f
            .observe(
                &sigma(&format!("a{i}"), T0, "r1", 4, "T1059", "execution", e()),
                None,
            )
            .updates[0]
            .1;
    }
    let r = f.report(&host("h1")).unwrap();
    let c = &r.contributions[0];
    // Evidence of one high hit: logit(.6) - logit(.01); 500 repeats count at most twice that.
    let single = (0.6f64 / 0.4).ln() - (0.01f64 / 0.99).ln();
    assert!(
        c.weight <= 2.0 * single + 1e-4 && c.weight > 1.9 * single,
        "{}",
        c.weight
    );
    assert!(last > first && last < 0.9, "{first} {last}");
    assert_eq!(r.alerts, 500);
    // A different rule adds fully.
    let o = f.observe(&sigma("b", T0, "r2", 4, "T1059", "execution", e()), None);
    assert!(o.updates[0].1 > last);
}

#[test]
fn criticality_and_intel_raise_the_score_and_are_explained() {
    let e = || vec![ent(EntityKind::Host, "srv-db", "device")];
    let base = {
        let mut f = Fuser::new(FusionConfig::default()).unwrap();
        f.observe(&sigma("a", T0, "r", 3, "T1059", "execution", e()), None)
            .updates[0]
            .1
    };
    let mut f = Fuser::new(FusionConfig::default())
        .unwrap()
        .with_criticality(Box::new(|id: &EntityId| (id.key == "srv-db").then_some(5)));
    let crit = f
        .observe(&sigma("a", T0, "r", 3, "T1059", "execution", e()), None)
        .updates[0]
        .1;
    assert!(crit > base, "{crit} <= {base}");
    let intel = f
        .observe(
            &sigma("b", T0, "r", 3, "T1059", "execution", e()),
            Some((0.9, "198.51.100.7")),
        )
        .updates[0]
        .1;
    assert!(intel > crit);
    let r = f.report(&host("srv-db")).unwrap();
    assert_eq!(r.criticality, Some(5));
    assert!(r
        .contributions
        .iter()
        .any(|c| c.source == "intel" && c.rule == "198.51.100.7" && c.alert_uid == "b"));
    assert!(r
        .contributions
        .iter()
        .any(|c| c.kind == "term" && c.source == "criticality"));
}

#[test]
fn late_alerts_are_counted_and_capacity_is_bounded() {
    let cfg = FusionConfig {
        max_entities: 64,
        allowed_lateness_secs: 60,
        ..FusionConfig::default()
    };
    let mut f = Fuser::new(cfg).unwrap();
    for i in 0..1000 {
        let e = vec![ent(EntityKind::Host, &format!("h{i}"), "device")];
        f.observe(
            &sigma(
                &format!("a{i}"),
                T0 + i * 1000,
                "r",
                3,
                "T1059",
                "execution",
                e,
            ),
            None,
        );
        assert!(f.stats().entities_live <= 64);
    }
    assert_eq!(f.watermark_ms(), Some(T0 + 999_000 - 60_000));
    let o = f.observe(
        &sigma(
            "late",
            T0,
            "r",
            5,
            "T1059",
            "execution",
            vec![ent(EntityKind::Host, "h999", "device")],
        ),
        None,
    );
    assert!(o.late);
    let s = f.stats();
    assert_eq!(s.alerts_late, 1);
    assert_eq!(s.alerts_fused, 1000);
    assert!(s.evicted_capacity >= 936);
    // The survivors are the most recently updated.
    assert!(f.report(&host("h999")).is_some());
    assert!(f.report(&host("h0")).is_none());
    // Alerts without a subject are counted.
    f.observe(
        &sigma(
            "ext",
            T0 + 1_000_000,
            "r",
            3,
            "T1059",
            "execution",
            vec![ent(EntityKind::Ip, "8.8.8.8", "dst_endpoint")],
        ),
        None,
    );
    assert_eq!(f.stats().alerts_without_entity, 1);
}

#[test]
fn stacked_strategy_uses_trained_weights_and_requires_them() {
    let e = || vec![ent(EntityKind::Host, "h1", "device")];
    // Rows: sigma evidence predicts true positives.
    let rows: Vec<(Vec<f64>, f32)> = (0..100)
        .map(|i| {
            let mut x = vec![0.0; N_FEATURES];
            x[5] = f64::from(i % 10);
            (x, if i % 10 >= 5 { 1.0 } else { 0.0 })
        })
        .collect();
    let model = StackedModel::train(&rows, 0.1).unwrap();
    assert_eq!(model.feature_names, FEATURE_NAMES.to_vec());
    let json = serde_json::to_string(&model).unwrap();
    let back: StackedModel = serde_json::from_str(&json).unwrap();
    assert_eq!(back, model);
    let cfg = FusionConfig {
        strategy: StrategyKind::Stacked,
        stacked: Some(model),
        ..FusionConfig::default()
    };
    let mut f = Fuser::new(cfg).unwrap();
    let s1 = f
        .observe(&sigma("a", T0, "r1", 2, "T1059", "execution", e()), None)
        .updates[0]
        .1;
    let s2 = f
        .observe(&sigma("b", T0, "r2", 5, "T1059", "execution", e()), None)
        .updates[0]
        .1;
    assert!(s2 > s1);
    assert_eq!(f.reports()[0].strategy, "stacked");
    let err = Fuser::new(FusionConfig {
        strategy: StrategyKind::Stacked,
        ..FusionConfig::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("stacked"), "{err}");
}

#[test]
fn restore_rejects_garbage() {
    let cfg = FusionConfig::default();
    assert!(Fuser::restore(cfg.clone(), b"not json").is_err());
    assert!(Fuser::restore(cfg.clone(), br#"{"format":"x","version":1}"#).is_err());
    let mut f = Fuser::new(cfg.clone()).unwrap();
    f.observe(
        &sigma(
            "a",
            T0,
            "r",
            3,
            "T1059",
            "execution",
            vec![ent(EntityKind::Host, "h", "device")],
        ),
        None,
    );
    let mut v: serde_json::Value = serde_json::from_slice(&f.snapshot()).unwrap();
    v["side"]["items"] = serde_json::json!([]);
    let err = Fuser::restore(cfg, &serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(err.to_string().contains("missing alert"), "{err}");
}

#[test]
fn model_scores_count_by_domain() {
    let mut f = Fuser::new(FusionConfig::default()).unwrap();
    let mut a = sigma(
        "m",
        T0,
        "r",
        3,
        "T1078",
        "initial-access",
        vec![ent(
            EntityKind::CloudPrincipal,
            "aws:1:user/alice",
            "actor.user",
        )],
    );
    a.hits.clear();
    a.domain = Domain::Cloud;
    a.score = Some(ModelScore {
        model: "shrike-cloud-gbdt".into(),
        version: "1".into(),
        probability: 0.97,
        verdict: "alert".into(),
        reasons: vec![],
    });
    let o = f.observe(&a, None);
    assert_eq!(
        o.updates[0].0.to_string(),
        "cloud_principal aws:1:user/alice"
    );
    let r = f.reports().remove(0);
    assert_eq!(r.contributions[0].source, "cloud");
    assert_eq!(
        r.contributions[0].probability.map(|p| (p * 100.0).round()),
        Some(97.0)
    );
    assert!(r.features[2] > 7.0, "{:?}", r.features);
}

#[test]
fn extreme_times_and_hostile_strings_do_not_panic() {
    for k in [
        StrategyKind::LogOdds,
        StrategyKind::NoisyOr,
        StrategyKind::SumSeverity,
    ] {
        let mut f = Fuser::new(FusionConfig {
            strategy: k,
            threshold: 0.01,
            ..FusionConfig::default()
        })
        .unwrap();
        let long = "x".repeat(100_000);
        for (i, t) in [
            i64::MIN,
            i64::MIN + 1,
            -1,
            0,
            T0,
            i64::MAX - 1,
            i64::MAX,
            i64::MIN,
        ]
        .iter()
        .enumerate()
        {
            let e = vec![
                ent(EntityKind::Host, &long, "device"),
                ent(EntityKind::User, "u", "user"),
            ];
            let mut a = sigma(&long, *t, &format!("r{i}"), 200, &long, &long, e);
            a.score = Some(ModelScore {
                model: long.clone(),
                version: String::new(),
                probability: f64::NAN,
                verdict: String::new(),
                reasons: vec![],
            });
            let o = f.observe(&a, Some((f64::INFINITY, &long)));
            for (_, s) in &o.updates {
                assert!((0.0..=1.0).contains(s));
            }
        }
        for r in f.reports() {
            assert!(r.score.is_finite());
            assert!(r.entity.key.len() <= 256);
            assert!(
                shrike_ocsf::Schema::shared()
                    .validate(&detection_finding(&r, 0))
                    .len()
                    < 100
            );
        }
        let snap = f.snapshot();
        assert!(Fuser::restore(
            FusionConfig {
                strategy: k,
                ..FusionConfig::default()
            },
            &snap
        )
        .is_ok());
    }
}

#[test]
fn fuser_can_move_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Fuser>();
}

#[test]
fn one_rule_twice_in_an_alert_for_two_entities_keeps_references_valid() {
    let mut f = Fuser::new(FusionConfig::default()).unwrap();
    let e = vec![
        ent(EntityKind::Host, "h1", "device"),
        ent(EntityKind::User, "u1", "actor.user"),
    ];
    let mut a = sigma("a", T0, "r", 2, "T1059", "execution", e.clone());
    // The same rule twice, the second stronger: it replaces the first in each entity's slot.
    let mut strong = a.hits[0].clone();
    strong.severity_id = 5;
    a.hits.push(strong);
    f.observe(&a, None);
    // Later alerts must not reuse a side-table entry still referenced.
    for i in 0..5 {
        f.observe(
            &sigma(
                &format!("b{i}"),
                T0 + 1,
                &format!("q{i}"),
                3,
                "T1059",
                "execution",
                e.clone(),
            ),
            None,
        );
    }
    for r in f.reports() {
        let c = r.contributions.iter().find(|c| c.rule == "r").unwrap();
        assert_eq!(c.alert_uid, "a", "{r:?}");
        assert_eq!(c.probability, Some(0.8));
    }
    // 2 live refs for "a" (the strong hit, shared) + 5 alerts x 1 hit.
    assert_eq!(f.stats().side_entries, 6);
}

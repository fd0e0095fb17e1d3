//! Properties of the playbook engine's pure parts: the combined risk is bounded and its
//! explanation adds up; routing always lands in a queue; loading never panics on any text.

use proptest::prelude::*;
use serde_json::{json, Value};
use shrike_intel::{Indicator, IndicatorKind, IntelHit};
use shrike_triage::enrich::{AssetFacts, ProviderResult, RarityFacts};
use shrike_triage::playbook::cond::Facts;
use shrike_triage::playbook::risk::{combine, RiskStep, Weights};
use shrike_triage::playbook::routing::{RouteStep, RoutingTable};
use shrike_triage::playbook::{Playbook, ScoreSource};
use std::path::Path;

fn hit(conf: u8, threat: &str) -> IntelHit {
    IntelHit::new(
        Indicator::new(IndicatorKind::Ipv4, "198.51.100.9").expect("ip"),
        "feed",
        threat,
        conf,
    )
}

fn status(code: u8, name: &str) -> Option<ProviderResult> {
    match code % 4 {
        0 => None,
        1 => Some(ProviderResult::ok(name)),
        2 => Some(ProviderResult::failed(name, "down")),
        _ => Some(ProviderResult::skipped(name, "off")),
    }
}

proptest! {
    #[test]
    fn risk_is_bounded_and_contributions_add_up(
        w in proptest::array::uniform4(0.0f64..5.0),
        score in 0.0f64..=1.0,
        confs in proptest::collection::vec((0u8..=100, prop_oneof![Just("c2"), Just("scanner"), Just("malicious")]), 0..4),
        crit in 1u8..=5,
        privileged in proptest::option::of(any::<bool>()),
        rarity in 0.0f64..=1.0,
        codes in proptest::array::uniform3(0u8..4),
    ) {
        prop_assume!(w.iter().sum::<f64>() > 0.0);
        let step = RiskStep {
            weights: Weights { model: w[0], intel: w[1], asset: w[2], rarity: w[3] },
            floors: vec![],
        };
        let hits: Vec<IntelHit> = confs.iter().map(|(c, t)| hit(*c, t)).collect();
        let asset = AssetFacts {
            hostname: None, criticality: crit, criticality_defaulted: false, owner: None,
            business_service: None, data_classes: vec![], user: None, user_privileged: privileged,
        };
        let rf = RarityFacts { first_seen: rarity == 1.0, rarity, pairs: vec![] };
        let results: Vec<ProviderResult> = [
            status(codes[0], "intel"), status(codes[1], "assets"), status(codes[2], "baseline"),
        ].into_iter().flatten().collect();
        let ev = json!({});
        let facts = Facts {
            playbook: "p", source: "s", class_uid: 2004, event: &ev,
            score: Some((score, ScoreSource::Model)), risk: None, hits: &hits,
            asset: Some(&asset), rarity: Some(&rf), technique: "", entity_kind: "host",
            enrichment_failed: false,
        };
        let out = combine(&step, score, &results, &facts);
        prop_assert!((0.0..=100.0).contains(&out.risk), "risk {}", out.risk);
        let comps = out.explanation["components"].as_array().expect("components");
        let sum: f64 = comps.iter().map(|c| c["contribution"].as_f64().unwrap_or(f64::NAN)).sum();
        prop_assert!((sum - out.risk).abs() < 0.05 * comps.len() as f64 + 0.01, "sum {sum} vs {}", out.risk);
        // Each component is computed or excluded, never both, never neither.
        let excluded = out.explanation["excluded"].as_array().expect("excluded").len();
        prop_assert_eq!(comps.len() + excluded, 4);
    }

    #[test]
    fn routing_always_lands_in_a_queue(
        risk in 0.0f64..=100.0,
        score in 0.0f64..=1.0,
        src in prop_oneof![Just(ScoreSource::Model), Just(ScoreSource::Field), Just(ScoreSource::Fallback)],
        source in prop_oneof![Just("zeek"), Just("suricata"), Just("other")],
    ) {
        let table = RoutingTable::from_yaml(
            shrike_triage::playbook::EMBEDDED_ROUTING, Path::new("content/routing.yaml"),
        ).expect("bundled routing");
        let ev = json!({});
        for playbook in ["c2-network", "phishing-finding", "cloud-finding", "generic-finding", "x"] {
            let facts = Facts {
                playbook, source, class_uid: 2004, event: &ev, score: Some((score, src)),
                risk: Some(risk), hits: &[], asset: None, rarity: None, technique: "",
                entity_kind: "ip", enrichment_failed: false,
            };
            let d = table.route(&RouteStep::default(), &facts);
            prop_assert!(!d.queue.is_empty() && d.sla_ms > 0);
            let banded = src != ScoreSource::Fallback && (0.4..0.6).contains(&score);
            prop_assert_eq!(d.queue == "human-review", banded, "{:?}", d);
        }
    }

    #[test]
    fn loading_any_text_never_panics(text in "\\PC{0,400}") {
        let _ = Playbook::from_yaml(&text, Path::new("fuzz.yaml"));
        let _ = RoutingTable::from_yaml(&text, Path::new("fuzz.yaml"));
    }

    #[test]
    fn loading_mutated_playbooks_never_panics(
        cut in 0usize..2000,
        junk in "[\\[\\]{}:,\\- a-z0-9\\n]{0,12}",
    ) {
        let base = include_str!("../../../content/playbooks/c2-network.yaml");
        let cut = base.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(base.len());
        let text = format!("{}{}{}", &base[..cut], junk, &base[cut..]);
        let _ = Playbook::from_yaml(&text, Path::new("mutated.yaml"));
    }
}

#[test]
fn conditions_on_huge_or_deep_events_do_not_blow_up() {
    let mut deep = json!(1);
    for _ in 0..200 {
        deep = json!({ "a": [deep] });
    }
    let cond: shrike_triage::playbook::Conditions =
        serde_yaml_ng::from_str("{fields: {a.a.a.a: 1}}").expect("condition");
    let many: Value = json!({"a": (0..10_000).map(|i| json!({"b": i})).collect::<Vec<_>>()});
    for ev in [&deep, &many] {
        let facts = Facts::of_event("p", "s", 1, ev);
        let _ = cond.holds(&facts);
    }
}

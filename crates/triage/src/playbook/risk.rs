//! Combined risk (0–100) from the score, intel, asset criticality and rarity, with the
//! explanation stored on the ticket.
//!
//! Each component is a number in 0–1:
//! - `model`: the alert's score (model, upstream field or fallback rule).
//! - `intel`: the largest `confidence / 100` over unsuppressed intel hits; hits whose threat
//!   is `scanner` count half (mass scanners touch everyone). No hit gives 0 (the providers
//!   answered and know nothing against the indicators).
//! - `asset`: `(criticality − 1) / 4`; a privileged user raises it to at least 0.75.
//! - `rarity`: the baseline's rarity (1: never seen before).
//!
//! `risk = 100 × Σ wᵢ·cᵢ / Σ wᵢ` over the components that could be computed. A component whose
//! providers all failed or were not asked is **left out** (weights renormalised) and named in
//! `excluded` with the reason: an intel outage is "unknown", not "clean". Then `floors` apply:
//! the first floor whose condition holds lifts the risk to at least its value (a known C2 hit
//! on any host deserves attention whatever the weights say), recorded too.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shrike_intel::IntelHit;

use crate::enrich::{AssetFacts, ProviderResult, RarityFacts};
use crate::playbook::cond::{Conditions, Facts};

/// The `risk` step.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RiskStep {
    /// Component weights.
    #[serde(default)]
    pub weights: Weights,
    /// Minimum risks, first match wins.
    #[serde(default)]
    pub floors: Vec<Floor>,
}

/// Component weights (≥ 0, not all 0).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    /// Score.
    #[serde(default = "w_model")]
    pub model: f64,
    /// Intel.
    #[serde(default = "w_intel")]
    pub intel: f64,
    /// Asset criticality.
    #[serde(default = "w_side")]
    pub asset: f64,
    /// Rarity.
    #[serde(default = "w_side")]
    pub rarity: f64,
}

fn w_model() -> f64 {
    0.4
}
fn w_intel() -> f64 {
    0.3
}
fn w_side() -> f64 {
    0.15
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            model: w_model(),
            intel: w_intel(),
            asset: w_side(),
            rarity: w_side(),
        }
    }
}

/// A minimum risk.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Floor {
    /// Name (in the explanation).
    pub name: String,
    /// When.
    pub when: Conditions,
    /// At least this risk (0–100).
    pub risk: f64,
}

impl RiskStep {
    pub(crate) fn check(&self) -> Result<(), String> {
        let w = &self.weights;
        let all = [w.model, w.intel, w.asset, w.rarity];
        if all.iter().any(|x| !x.is_finite() || *x < 0.0) || all.iter().sum::<f64>() <= 0.0 {
            return Err("risk weights must be ≥ 0 and not all 0".into());
        }
        if self.floors.iter().any(|f| !(0.0..=100.0).contains(&f.risk)) {
            return Err("risk floors must be within 0–100".into());
        }
        Ok(())
    }
}

/// The risk and how it was computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskResult {
    /// 0–100.
    pub risk: f64,
    /// `{method, components: [{name, value, weight, contribution, detail}], excluded: [{name,
    /// reason}], floor}`.
    pub explanation: Value,
}

/// Providers feeding each component.
const INTEL_PROVIDERS: &[&str] = &["intel", "virustotal"];

fn component_state(results: &[ProviderResult], providers: &[&str]) -> Result<(), String> {
    let asked: Vec<&ProviderResult> = results
        .iter()
        .filter(|r| providers.contains(&r.provider.as_str()))
        .collect();
    if asked.iter().any(|r| r.is_ok()) {
        return Ok(());
    }
    if asked.is_empty() {
        return Err(format!("not asked ({})", providers.join(", ")));
    }
    Err(asked
        .iter()
        .map(|r| match &r.status {
            crate::enrich::ProviderStatus::Failed { error } => {
                format!("{} failed: {error}", r.provider)
            }
            crate::enrich::ProviderStatus::Skipped { reason } => {
                format!("{} skipped: {reason}", r.provider)
            }
            crate::enrich::ProviderStatus::Ok => String::new(),
        })
        .collect::<Vec<_>>()
        .join("; "))
}

fn intel_component(hits: &[IntelHit]) -> (f64, Value) {
    let mut best: Option<(f64, &IntelHit)> = None;
    for h in hits
        .iter()
        .filter(|h| !shrike_intel::store::is_suppressed(h))
    {
        let mut c = f64::from(h.confidence.min(100)) / 100.0;
        if h.threat.eq_ignore_ascii_case("scanner") {
            c *= 0.5;
        }
        if best.is_none_or(|(b, _)| c > b) {
            best = Some((c, h));
        }
    }
    match best {
        Some((c, h)) => (
            c,
            json!({"indicator": h.indicator.value, "source": h.source, "family": h.family,
                   "threat": h.threat, "confidence": h.confidence,
                   "unsuppressed_hits": hits.iter().filter(|h| !shrike_intel::store::is_suppressed(h)).count(),
                   "suppressed_hits": hits.iter().filter(|h| shrike_intel::store::is_suppressed(h)).count()}),
        ),
        None => (
            0.0,
            json!({"unsuppressed_hits": 0, "suppressed_hits": hits.len()}),
        ),
    }
}

fn asset_component(a: &AssetFacts) -> (f64, Value) {
    let mut c = f64::from(a.criticality.clamp(1, 5) - 1) / 4.0;
    if a.user_privileged == Some(true) {
        c = c.max(0.75);
    }
    (
        c,
        json!({"hostname": a.hostname, "criticality": a.criticality,
               "criticality_defaulted": a.criticality_defaulted,
               "user": a.user, "user_privileged": a.user_privileged}),
    )
}

fn rarity_component(r: &RarityFacts) -> (f64, Value) {
    (
        r.rarity.clamp(0.0, 1.0),
        json!({"first_seen": r.first_seen, "pairs": r.pairs.len()}),
    )
}

/// Computes the risk. `facts.risk` is ignored (floors see the computed value).
pub fn combine(
    step: &RiskStep,
    score: f64,
    results: &[ProviderResult],
    facts: &Facts<'_>,
) -> RiskResult {
    let w = &step.weights;
    let mut components = Vec::new();
    let mut excluded = Vec::new();
    let mut push = |name: &str, weight: f64, got: Result<(f64, Value), String>| match got {
        Ok((value, detail)) => components.push((name.to_owned(), value, weight, detail)),
        Err(reason) => excluded.push(json!({"name": name, "reason": reason})),
    };
    push("model", w.model, Ok((score.clamp(0.0, 1.0), json!({}))));
    push(
        "intel",
        w.intel,
        component_state(results, INTEL_PROVIDERS).map(|()| intel_component(facts.hits)),
    );
    push(
        "asset",
        w.asset,
        component_state(results, &["assets"]).and_then(|()| {
            facts
                .asset
                .map(asset_component)
                .ok_or_else(|| "assets answered without asset facts".to_owned())
        }),
    );
    push(
        "rarity",
        w.rarity,
        component_state(results, &["baseline"]).and_then(|()| {
            facts
                .rarity
                .map(rarity_component)
                .ok_or_else(|| "baseline answered without rarity facts".to_owned())
        }),
    );
    let total_w: f64 = components.iter().map(|c| c.2).sum();
    let mut risk = if total_w > 0.0 {
        100.0 * components.iter().map(|c| c.1 * c.2).sum::<f64>() / total_w
    } else {
        100.0 * score.clamp(0.0, 1.0)
    };
    let computed = round2(risk);
    let mut floor_applied = Value::Null;
    let mut f = *facts;
    f.risk = Some(risk);
    if let Some(fl) = step.floors.iter().find(|fl| fl.when.holds(&f)) {
        if fl.risk > risk {
            floor_applied = json!({"name": fl.name, "risk": fl.risk, "computed": computed});
            risk = fl.risk;
        }
    }
    let risk = round2(risk.clamp(0.0, 100.0));
    let components: Vec<Value> = components
        .into_iter()
        .map(|(name, value, weight, detail)| {
            json!({"name": name, "value": round4(value), "weight": weight,
                   "contribution": if total_w > 0.0 { round2(100.0 * value * weight / total_w) } else { 0.0 },
                   "detail": detail})
        })
        .collect();
    RiskResult {
        risk,
        explanation: json!({
            "method": "weighted_mean",
            "formula": "100 × Σ weight·value / Σ weight over available components, then floors",
            "components": components,
            "excluded": excluded,
            "floor": floor_applied,
            "risk": risk,
        }),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::engine::ScoreSource;
    use shrike_intel::{Indicator, IndicatorKind};

    fn hit(conf: u8, threat: &str) -> IntelHit {
        IntelHit {
            family: Some("IcedID".into()),
            ..IntelHit::new(
                Indicator::new(IndicatorKind::Ipv4, "162.33.179.136").expect("ip"),
                "maltrail",
                threat,
                conf,
            )
        }
    }

    fn facts<'a>(
        ev: &'a Value,
        hits: &'a [IntelHit],
        asset: Option<&'a AssetFacts>,
        rarity: Option<&'a RarityFacts>,
    ) -> Facts<'a> {
        Facts {
            playbook: "p",
            source: "zeek",
            class_uid: 4001,
            event: ev,
            score: Some((0.8, ScoreSource::Fallback)),
            risk: None,
            hits,
            asset,
            rarity,
            technique: "",
            entity_kind: "host",
            enrichment_failed: false,
        }
    }

    fn asset(c: u8) -> AssetFacts {
        AssetFacts {
            hostname: Some("h".into()),
            criticality: c,
            criticality_defaulted: false,
            owner: None,
            business_service: None,
            data_classes: vec![],
            user: None,
            user_privileged: None,
        }
    }

    #[test]
    fn weighted_mean_of_available_components() {
        let ev = json!({});
        let hits = [hit(90, "c2")];
        let a = asset(5);
        let r = RarityFacts {
            first_seen: true,
            rarity: 1.0,
            pairs: vec![],
        };
        let results = vec![
            ProviderResult::ok("intel"),
            ProviderResult::ok("assets"),
            ProviderResult::ok("baseline"),
        ];
        let out = combine(
            &RiskStep::default(),
            0.8,
            &results,
            &facts(&ev, &hits, Some(&a), Some(&r)),
        );
        // 100 × (0.4·0.8 + 0.3·0.9 + 0.15·1 + 0.15·1) / 1.0 = 89
        assert!((out.risk - 89.0).abs() < 1e-9, "{}", out.risk);
        let sum: f64 = out.explanation["components"]
            .as_array()
            .expect("components")
            .iter()
            .map(|c| c["contribution"].as_f64().expect("number"))
            .sum();
        assert!((sum - out.risk).abs() < 0.05);
    }

    #[test]
    fn failed_providers_are_excluded_and_named_not_zeroed() {
        let ev = json!({});
        let results = vec![
            ProviderResult::failed("intel", "unavailable: store not loaded"),
            ProviderResult::failed("virustotal", "timeout"),
        ];
        let out = combine(
            &RiskStep::default(),
            0.7,
            &results,
            &facts(&ev, &[], None, None),
        );
        assert!((out.risk - 70.0).abs() < 1e-9, "{}", out.risk);
        let ex = out.explanation["excluded"].to_string();
        assert!(
            ex.contains("intel failed: unavailable") && ex.contains("virustotal failed: timeout"),
            "{ex}"
        );
        assert!(ex.contains("not asked (assets)"), "{ex}");
    }

    #[test]
    fn scanners_count_half_and_floors_lift() {
        let ev = json!({});
        let hits = [hit(100, "scanner")];
        let results = vec![ProviderResult::ok("intel")];
        let step = RiskStep::default();
        let out = combine(&step, 0.0, &results, &facts(&ev, &hits, None, None));
        // (0.4·0 + 0.3·0.5) / 0.7 = 21.43
        assert!((out.risk - 21.43).abs() < 0.01, "{}", out.risk);
        let step: RiskStep = serde_yaml_ng::from_str(
            "floors: [{name: known-c2, when: {intel_threat: c2}, risk: 70}]",
        )
        .expect("risk step");
        let hits = [hit(40, "c2")];
        let out = combine(&step, 0.1, &results, &facts(&ev, &hits, None, None));
        assert_eq!(out.risk, 70.0);
        assert_eq!(out.explanation["floor"]["name"], "known-c2");
    }
}

//! Playbook test cases: each playbook carries `tests:`, run by `shrike test playbooks`.
//!
//! ```yaml
//! tests:
//!   - name: IcedID TLS alert from a critical workstation
//!     event_file: samples/suricata-icedid-alert.json  # raw telemetry (normalized first) or OCSF
//!     model: { score: 0.9 }            # or { unhealthy: "drift" }; default: missing
//!     providers:                       # what each provider answers; absent: skipped
//!       intel: { hits: [{indicator: {kind: ipv4, value: 162.33.179.136}, source: maltrail,
//!                        family: IcedID, threat: c2, confidence: 80}] }
//!       assets: { asset: { hostname: win-client-31, criticality: 4, criticality_defaulted: false } }
//!       baseline: { rarity: { first_seen: true, rarity: 1.0 } }
//!       virustotal: { error: "timeout" }
//!     expect: { outcome: ticket, queue: c2-response, priority: P1, risk_at_least: 80 }
//! ```
//!
//! The whole pipeline a case runs is the real one (the normalizer's embedded mappings, the
//! engine, the routing table); only the providers' and the model's answers come from the case.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use shrike_intel::provider::BoxFuture;
use shrike_intel::IntelHit;

use crate::cases::Priority;
use crate::enrich::{AlertView, AssetFacts, EnrichBackend, ProviderResult, RarityFacts};
use crate::playbook::engine::{Decision, Engine, ModelAnswer, Models, Outcome, ScoreSource};
use crate::playbook::Playbook;

/// One test case.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// Name.
    pub name: String,
    /// The event, inline (OCSF).
    #[serde(default)]
    pub event: Option<Value>,
    /// The event from a file next to the playbook: one OCSF event, or one raw telemetry
    /// record (Suricata EVE, Zeek JSON, CloudTrail, …) that is normalized first.
    #[serde(default)]
    pub event_file: Option<String>,
    /// The model's answer.
    #[serde(default)]
    pub model: ModelFixture,
    /// Provider answers.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderFixture>,
    /// What must come out.
    pub expect: Expect,
}

/// The model's answer in a case (default: missing).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFixture {
    /// Scored with this.
    #[serde(default)]
    pub score: Option<f64>,
    /// Unhealthy, for this reason.
    #[serde(default)]
    pub unhealthy: Option<String>,
}

/// A provider's answer in a case.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderFixture {
    /// Hits.
    #[serde(default)]
    pub hits: Vec<IntelHit>,
    /// Asset facts.
    #[serde(default)]
    pub asset: Option<AssetFacts>,
    /// Rarity facts.
    #[serde(default)]
    pub rarity: Option<RarityFacts>,
    /// Failed with this error.
    #[serde(default)]
    pub error: Option<String>,
}

/// Expectations; only the given ones are checked.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Outcome.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// The playbook that must run (default: the one carrying the case).
    #[serde(default)]
    pub playbook: Option<String>,
    /// Queue.
    #[serde(default)]
    pub queue: Option<String>,
    /// Priority.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Routing rule.
    #[serde(default)]
    pub rule: Option<String>,
    /// Score source.
    #[serde(default)]
    pub score_source: Option<ScoreSource>,
    /// Risk ≥.
    #[serde(default)]
    pub risk_at_least: Option<f64>,
    /// Risk <.
    #[serde(default)]
    pub risk_below: Option<f64>,
    /// Auto-closed or not.
    #[serde(default)]
    pub auto_closed: Option<bool>,
    /// Proposed action names, in order.
    #[serde(default)]
    pub actions: Option<Vec<String>>,
    /// `kind:key` of the ticket entity.
    #[serde(default)]
    pub entity: Option<String>,
    /// Technique.
    #[serde(default)]
    pub technique: Option<String>,
    /// Risk components left out (names).
    #[serde(default)]
    pub excluded: Option<Vec<String>>,
}

/// Result of one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    /// Playbook carrying the case.
    pub playbook: String,
    /// Case name.
    pub name: String,
    /// What differed (empty: passed).
    pub failures: Vec<String>,
    /// The decision, for `--verbose` output.
    pub decision: Option<Decision>,
}

impl CaseReport {
    /// Passed?
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

struct FixtureModels(ModelFixture);

impl Models for FixtureModels {
    fn score(&self, _model: &str, _event: &Value) -> ModelAnswer {
        match (&self.0.score, &self.0.unhealthy) {
            (_, Some(why)) => ModelAnswer::Unhealthy(why.clone()),
            (Some(s), None) => ModelAnswer::Scored {
                score: *s,
                reasons: Vec::new(),
            },
            (None, None) => ModelAnswer::Missing,
        }
    }
}

struct FixtureBackend<'a>(&'a BTreeMap<String, ProviderFixture>);

impl EnrichBackend for FixtureBackend<'_> {
    fn enrich<'a>(
        &'a self,
        provider: &'a str,
        _alert: &'a AlertView,
    ) -> BoxFuture<'a, ProviderResult> {
        let r = match self.0.get(provider) {
            None => ProviderResult::skipped(provider, "not in the test case"),
            Some(f) => match &f.error {
                Some(e) => ProviderResult::failed(provider, e.clone()),
                None => {
                    let mut r = ProviderResult::ok(provider);
                    r.hits = f.hits.clone();
                    r.asset = f.asset.clone();
                    r.rarity = f.rarity.clone();
                    r
                }
            },
        };
        Box::pin(async move { r })
    }
}

/// Loads a case's event: inline, or a file next to the playbook (OCSF or raw telemetry).
///
/// # Errors
/// Unreadable file, no event, or a raw record the normalizer rejects.
pub fn case_event(pb: &Playbook, case: &TestCase) -> Result<Value, String> {
    if let Some(ev) = &case.event {
        return Ok(ev.clone());
    }
    let Some(file) = &case.event_file else {
        return Err("the case has neither `event` nor `event_file`".into());
    };
    let path = pb.path.parent().unwrap_or(Path::new(".")).join(file);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    normalize_one(&path.display().to_string(), &bytes)
}

/// One OCSF event from `bytes`: passed through when it already is OCSF (`class_uid` and
/// `metadata.version`), otherwise decoded and normalized with the bundled mappings.
///
/// # Errors
/// Nothing decodable, or the normalizer's rejection reason.
pub fn normalize_one(name: &str, bytes: &[u8]) -> Result<Value, String> {
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        if v.get("class_uid").is_some_and(Value::is_i64) && v.pointer("/metadata/version").is_some()
        {
            return Ok(v);
        }
    }
    use shrike_normalize::decode::{decode_bytes, DecodeOptions};
    use shrike_normalize::DecodeItem;
    let engine = shrike_normalize::mapping::Engine::embedded()
        .map_err(|e| format!("bundled mappings: {e}"))?;
    let mut first: Option<Result<Value, String>> = None;
    decode_bytes(name, bytes, &DecodeOptions::default(), &mut |item| {
        if first.is_some() {
            return;
        }
        first = Some(match item {
            DecodeItem::Record(r) => engine
                .normalize(r)
                .map(|n| n.event)
                .map_err(|rej| format!("{name}: not normalized: {} ({})", rej.reason, rej.detail)),
            DecodeItem::Quarantined(q) => Err(format!("{name}: not decoded: {q:?}")),
        });
    });
    first.unwrap_or_else(|| Err(format!("{name}: no record")))
}

fn check<T: PartialEq + std::fmt::Debug>(
    failures: &mut Vec<String>,
    what: &str,
    want: Option<&T>,
    got: Option<&T>,
) {
    if let Some(w) = want {
        if got != Some(w) {
            failures.push(format!("{what}: expected {w:?}, got {got:?}"));
        }
    }
}

/// Runs one case.
pub async fn run_case(engine: &Engine, pb: &Playbook, case: &TestCase) -> CaseReport {
    let mut failures = Vec::new();
    let event = match case_event(pb, case) {
        Ok(e) => e,
        Err(e) => {
            return CaseReport {
                playbook: pb.id.clone(),
                name: case.name.clone(),
                failures: vec![e],
                decision: None,
            }
        }
    };
    let d = engine
        .run(
            &event,
            &FixtureModels(case.model.clone()),
            &FixtureBackend(&case.providers),
        )
        .await;
    let e = &case.expect;
    let want_pb = e.playbook.clone().unwrap_or_else(|| pb.id.clone());
    if e.outcome != Some(Outcome::NoPlaybook) && d.playbook.as_deref() != Some(&want_pb) {
        failures.push(format!(
            "playbook: expected {want_pb:?}, got {:?}",
            d.playbook
        ));
    }
    check(
        &mut failures,
        "outcome",
        e.outcome.as_ref(),
        Some(&d.outcome),
    );
    check(
        &mut failures,
        "queue",
        e.queue.as_ref(),
        d.route.as_ref().map(|r| &r.queue),
    );
    check(
        &mut failures,
        "priority",
        e.priority.as_ref(),
        d.route.as_ref().map(|r| &r.priority),
    );
    check(
        &mut failures,
        "rule",
        e.rule.as_ref(),
        d.route.as_ref().map(|r| &r.rule),
    );
    check(
        &mut failures,
        "score_source",
        e.score_source.as_ref(),
        d.score.as_ref().map(|s| &s.source),
    );
    let risk = d.risk.as_ref().map(|r| r.risk);
    if let Some(min) = e.risk_at_least {
        if risk.is_none_or(|r| r < min) {
            failures.push(format!("risk: expected ≥ {min}, got {risk:?}"));
        }
    }
    if let Some(max) = e.risk_below {
        if risk.is_none_or(|r| r >= max) {
            failures.push(format!("risk: expected < {max}, got {risk:?}"));
        }
    }
    check(
        &mut failures,
        "auto_closed",
        e.auto_closed.as_ref(),
        Some(&d.auto_close.is_some()),
    );
    let actions: Vec<String> = d.actions.iter().map(|a| a.name.clone()).collect();
    check(&mut failures, "actions", e.actions.as_ref(), Some(&actions));
    let entity = d.entity.as_ref().map(|en| {
        format!(
            "{}:{}",
            serde_json::to_value(en.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            en.key
        )
    });
    check(&mut failures, "entity", e.entity.as_ref(), entity.as_ref());
    check(
        &mut failures,
        "technique",
        e.technique.as_ref(),
        Some(&d.technique),
    );
    if let Some(want) = &e.excluded {
        let got: Vec<String> = d
            .risk
            .as_ref()
            .and_then(|r| r.explanation["excluded"].as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if &got != want {
            failures.push(format!("excluded: expected {want:?}, got {got:?}"));
        }
    }
    CaseReport {
        playbook: pb.id.clone(),
        name: case.name.clone(),
        failures,
        decision: Some(d),
    }
}

/// Runs every case of every playbook (whose id contains `filter`, when given).
pub async fn run_all(engine: &Engine, filter: Option<&str>) -> Vec<CaseReport> {
    let mut out = Vec::new();
    for pb in engine.playbooks() {
        if filter.is_some_and(|f| !pb.id.contains(f)) {
            continue;
        }
        for case in &pb.tests {
            out.push(run_case(engine, pb, case).await);
        }
    }
    out
}

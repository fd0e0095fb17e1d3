//! The cloud model: CloudTrail API activity scored by a gradient-boosted tree model over the
//! stateful [`CloudFeatures`], and GuardDuty findings scored by a small documented
//! severity/type rule ([`guardduty_probability`]) because no labelled GuardDuty data exists to
//! train on.
//!
//! - [`features`]: the `cloud` feature schema and the extractor (per-principal API rarity,
//!   first-seen region / user agent / IP, failure rate, IAM / logging / MFA changes, bursts).
//! - [`CloudModel`]: implements [`DomainModel`] for [`Domain::Cloud`]; the bundled model is
//!   `models/cloud-default.json` (trained by `shrike train cloud`, card beside it).
//!
//! Invariants: no I/O at scoring time; no event panics the model; events the model does not
//! cover (not CloudTrail, not a GuardDuty finding, no operation or time) give `None` and leave
//! the state untouched. Scoring reuses its buffers: the only per-event allocations are the
//! principal key, first-seen history entries and the returned score.

pub mod features;

use serde_json::Value;
use shrike_score::scorer::ScoreScratch;
use shrike_score::{ModelError, ModelFile, Reason, Scorer};

pub use features::{cloud_schema, CallView, Caps, CloudFeatures, CLOUD_SCHEMA_VERSION};

use crate::alert::{Domain, Hit, ModelScore};
use crate::models::{verdict_of, DomainModel};
use crate::vendor::guardduty::{self, FindingInfo};

/// The bundled model file (`models/cloud-default.json`).
pub const EMBEDDED_MODEL: &[u8] = include_bytes!("../../../../../models/cloud-default.json");

/// Model id of the GuardDuty severity/type scorer (reported in its scores).
pub const GUARDDUTY_SCORER_ID: &str = "shrike-cloud-guardduty-rule";
/// Version of the GuardDuty scorer's rule.
pub const GUARDDUTY_SCORER_VERSION: &str = "1";
/// GuardDuty scorer: `alert` at or above this (GuardDuty severity 7.0, its "High" band).
pub const GUARDDUTY_ALERT: f64 = 0.68;
/// GuardDuty scorer: `suspicious` at or above this (GuardDuty severity 4.0, "Medium").
pub const GUARDDUTY_SUSPICIOUS: f64 = 0.41;

/// Calibrated-looking probability of a GuardDuty finding, from its severity and type, with its
/// reasons. The rule (not trained; there are no labelled GuardDuty findings to fit on):
/// - base = 0.05 + 0.9 × severity / 10, GuardDuty's own 0–10 severity, or the OCSF
///   `severity_id` band's midpoint (1→1.0, 2→2.5, 3→5.5, 4→8.0, 5→9.5) when absent;
/// - × 0.1 for GuardDuty-generated sample findings (`additionalInfo.sample`: not real
///   detections; Panther's GuardDuty rules ignore them for the same reason);
/// - × 0.5 for `Policy:*` findings (a configuration choice, not behaviour).
pub fn guardduty_probability(info: &FindingInfo<'_>) -> (f64, [(f64, &'static str); 3]) {
    let sev = info.severity.unwrap_or(match info.severity_id {
        1 => 1.0,
        2 => 2.5,
        3 => 5.5,
        4 => 8.0,
        _ => 9.5,
    });
    let base = 0.05 + 0.9 * (sev / 10.0).clamp(0.0, 1.0);
    let sample = if info.is_sample { 0.1 } else { 1.0 };
    let policy = if info.purpose.eq_ignore_ascii_case("policy") {
        0.5
    } else {
        1.0
    };
    let p = (base * sample * policy).clamp(0.0, 1.0);
    (
        p,
        [
            (base, "GuardDuty severity (0-10) scaled to 0.05-0.95"),
            (
                sample,
                "0.1 for a GuardDuty-generated sample finding, else 1",
            ),
            (
                policy,
                "0.5 for a Policy:* finding (configuration, not behaviour), else 1",
            ),
        ],
    )
}

/// The cloud domain model.
#[derive(Debug)]
pub struct CloudModel {
    scorer: Scorer,
    features: CloudFeatures,
    x: Vec<f32>,
    scratch: ScoreScratch,
}

impl CloudModel {
    /// The bundled model (`models/cloud-default.json`).
    ///
    /// # Errors
    /// When the bundled file is not a model for this schema (e.g. not trained yet).
    pub fn embedded() -> Result<CloudModel, ModelError> {
        CloudModel::from_bytes(EMBEDDED_MODEL)
    }

    /// A model from model-file bytes, checked against the `cloud` schema.
    ///
    /// # Errors
    /// When the bytes are not a model file for this schema.
    pub fn from_bytes(bytes: &[u8]) -> Result<CloudModel, ModelError> {
        let loaded = ModelFile::load(bytes, cloud_schema())?;
        Ok(CloudModel {
            scorer: Scorer::new(loaded, cloud_schema())?,
            features: CloudFeatures::new(),
            x: Vec::with_capacity(features::N_FEATURES),
            scratch: ScoreScratch::default(),
        })
    }

    /// Replaces the extractor (e.g. with other [`Caps`]).
    pub fn with_features(mut self, features: CloudFeatures) -> Self {
        self.features = features;
        self
    }

    /// Forgets all history (e.g. between unrelated streams).
    pub fn reset(&mut self) {
        self.features.reset();
    }

    /// The scorer (model file, thresholds).
    pub fn scorer(&self) -> &Scorer {
        &self.scorer
    }

    /// The suspicious threshold of the trained model.
    pub fn suspicious_threshold(&self) -> f64 {
        self.scorer.model().thresholds.suspicious
    }

    fn score_guardduty(info: &FindingInfo<'_>, n_reasons: usize) -> ModelScore {
        let (p, parts) = guardduty_probability(info);
        let reasons = parts
            .iter()
            .zip(["guardduty_severity", "guardduty_sample", "guardduty_policy"])
            .take(n_reasons)
            .map(|(&(v, d), name)| Reason {
                feature: name.into(),
                value: v as f32,
                contribution: v,
                description: d.into(),
            })
            .collect();
        ModelScore {
            model: GUARDDUTY_SCORER_ID.into(),
            version: GUARDDUTY_SCORER_VERSION.into(),
            probability: p,
            verdict: verdict_of(p, GUARDDUTY_ALERT, GUARDDUTY_SUSPICIOUS).into(),
            reasons,
        }
    }
}

impl DomainModel for CloudModel {
    fn domain(&self) -> Domain {
        Domain::Cloud
    }

    fn id(&self) -> (&str, &str) {
        let m = self.scorer.model();
        (&m.id, &m.version)
    }

    fn alert_threshold(&self) -> f64 {
        self.scorer.model().thresholds.phishing
    }

    fn score(&mut self, event: &Value, hits: &[Hit], n_reasons: usize) -> Option<ModelScore> {
        if let Ok(info) = guardduty::finding(event) {
            return Some(Self::score_guardduty(&info, n_reasons));
        }
        let view = CallView::of(event)?;
        self.features.extract_view(&view, &mut self.x);
        Some(super::score_vector(
            &self.scorer,
            &self.x,
            &mut self.scratch,
            n_reasons,
            !hits.is_empty(),
        ))
    }

    fn state_bytes(&self) -> usize {
        self.features.state_bytes() + self.x.capacity() * std::mem::size_of::<f32>()
    }
}

/// The `Logs:` of a Panther test-scenario YAML file (`LogType`, `Format`, `Logs: [...]`) as
/// JSON values, for training and tests. Pure parsing, no I/O.
///
/// # Errors
/// When the text is not YAML or has no `Logs` list.
pub fn scenario_logs(yaml: &str) -> Result<Vec<Value>, String> {
    let v: Value = serde_yaml_ng::from_str(yaml).map_err(|e| e.to_string())?;
    match v.get("Logs") {
        Some(Value::Array(a)) => Ok(a.clone()),
        _ => Err("no Logs list".into()),
    }
}

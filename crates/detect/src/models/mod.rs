//! One scoring model per telemetry domain.
//!
//! Each domain model owns a feature schema (a `shrike_score::FeatureSchema`, fingerprinted into
//! its model file), a *stateful* feature extractor (per-host, per-principal and per-service
//! history: rarity, counts and error rates over recent events) and a `shrike_score::Scorer`.
//! Training (`shrike train endpoint|network|cloud`) runs the very same extractor over the
//! training stream in time order, so serving computes each feature exactly as training did.
//!
//! - [`endpoint`]: process lineage and parent–child rarity, LOLBins, command-line obfuscation and
//!   entropy, LSASS access, persistence locations, privilege, rarity on the host.
//! - [`network`]: a flow model over connection records (NSL-KDD-style traffic features computed
//!   from the stream) and Suricata alert triage.
//! - [`cloud`]: CloudTrail and GuardDuty (API rarity per principal, new region / user agent /
//!   source IP, failed calls, IAM and logging changes, MFA).

use serde_json::Value;

use crate::alert::{Domain, Hit, ModelScore};

pub mod cloud;
pub mod endpoint;
pub mod network;

/// A model that scores the events of one domain.
///
/// `score` both *observes* the event (updates the extractor's history) and scores it against
/// the history *before* it, so calling it once per event in time order is the whole contract.
/// Events the model does not cover (another domain, a class it has no features for) give `None`
/// and leave the state untouched.
pub trait DomainModel: Send {
    /// The domain it covers.
    fn domain(&self) -> Domain;
    /// Model id and version (`shrike-endpoint-gbdt`, `2026.11.24`).
    fn id(&self) -> (&str, &str);
    /// The calibrated probability at or above which a scored event becomes an alert on its own.
    fn alert_threshold(&self) -> f64;
    /// Observes and scores one event; `hits` are the detectors that matched it (some models use
    /// them as features, e.g. Suricata signature severity). Up to `n_reasons` reasons are
    /// computed only when the event becomes an alert (probability at or above the alert
    /// threshold, or `hits` non-empty): TreeSHAP costs about a hundred times the score.
    fn score(&mut self, event: &Value, hits: &[Hit], n_reasons: usize) -> Option<ModelScore>;
    /// Approximate bytes of history held (for memory reporting).
    fn state_bytes(&self) -> usize;
}

/// Scores a feature vector with a model file's scorer: the calibrated probability, the verdict
/// from the model's thresholds, and up to `n_reasons` TreeSHAP reasons only when the event
/// becomes an alert (at or above the alert threshold, or `explain` because a detector matched):
/// TreeSHAP costs about a hundred times the score.
pub fn score_vector(
    scorer: &shrike_score::Scorer,
    x: &[f32],
    scratch: &mut shrike_score::scorer::ScoreScratch,
    n_reasons: usize,
    explain: bool,
) -> ModelScore {
    let m = scorer.model();
    let (alert, suspicious) = (m.thresholds.phishing, m.thresholds.suspicious);
    let mut r = scorer.score_features(x, 0, scratch);
    if n_reasons > 0 && (explain || r.score >= alert) {
        r.reasons = scorer.score_features(x, n_reasons, scratch).reasons;
    }
    ModelScore {
        model: m.id.clone(),
        version: m.version.clone(),
        probability: r.score,
        verdict: verdict_of(r.score, alert, suspicious).into(),
        reasons: r.reasons,
    }
}

/// The verdict name for a probability against a model's alert and suspicious thresholds.
pub fn verdict_of(probability: f64, alert: f64, suspicious: f64) -> &'static str {
    if probability >= alert {
        "alert"
    } else if probability >= suspicious {
        "suspicious"
    } else {
        "benign"
    }
}

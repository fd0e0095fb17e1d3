//! `FeatureVector -> Score`: the ensemble, calibration, verdict and reasons in one call.
//!
//! Reasons are exact TreeSHAP contributions (log-odds space for boosted models, probability space
//! for forests), the largest in absolute value first, each with the feature's name, its value and
//! its description. Computing them costs more than the score itself, so callers that only need
//! the score ask for zero reasons.

use crate::ensemble::TreeEnsemble;
use crate::features::{email_schema, extract_email, FeatureContext, FeatureSchema};
use crate::model::{LoadedModel, ModelError, ModelFile};
use serde::{Deserialize, Serialize};
use shrike_types::EmailRecord;

/// The verdict derived from the calibrated score and the model's thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Score at or above the phishing threshold.
    Phishing,
    /// Score at or above the suspicious threshold: send to a human.
    Suspicious,
    /// Below both thresholds.
    Benign,
}

impl Verdict {
    /// The verdict's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Phishing => "phishing",
            Verdict::Suspicious => "suspicious",
            Verdict::Benign => "benign",
        }
    }
}

/// One feature's contribution to a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// Feature name.
    pub feature: String,
    /// The feature's value for this email (NaN when unknown).
    pub value: f32,
    /// TreeSHAP contribution (positive raises the score).
    pub contribution: f64,
    /// What the feature measures.
    pub description: String,
}

/// The result of scoring one email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreResult {
    /// Calibrated probability of phishing.
    pub score: f64,
    /// The ensemble's raw value before the link and calibration.
    pub raw: f64,
    /// Verdict from the model's thresholds.
    pub verdict: Verdict,
    /// Top contributions, largest magnitude first.
    pub reasons: Vec<Reason>,
}

/// Reusable buffers for scoring: one per thread, so scoring allocates only the reasons it returns.
#[derive(Debug, Default)]
pub struct ScoreScratch {
    features: Vec<f32>,
    phi: Vec<f64>,
    order: Vec<usize>,
}

/// A loaded model ready to score emails.
#[derive(Debug, Clone)]
pub struct Scorer {
    model: ModelFile,
    sha256: String,
    compiled: crate::compiled::CompiledEnsemble,
    schema: &'static FeatureSchema,
}

impl Scorer {
    /// Loads a model file for the email schema.
    pub fn load_email(bytes: &[u8]) -> Result<Scorer, ModelError> {
        let loaded = ModelFile::load(bytes, email_schema())?;
        Scorer::new(loaded, email_schema())
    }

    /// Wraps a checked model (compiling its trees for fast evaluation).
    pub fn new(loaded: LoadedModel, schema: &'static FeatureSchema) -> Result<Scorer, ModelError> {
        let compiled = loaded.file.ensemble.compile()?;
        Ok(Scorer {
            model: loaded.file,
            sha256: loaded.sha256,
            compiled,
            schema,
        })
    }

    /// The model file.
    pub fn model(&self) -> &ModelFile {
        &self.model
    }

    /// SHA-256 of the model file.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The ensemble.
    pub fn ensemble(&self) -> &TreeEnsemble {
        &self.model.ensemble
    }

    /// Calibrated probability for a feature vector.
    pub fn probability(&self, x: &[f32]) -> f64 {
        let raw = self.compiled.raw(x);
        self.calibrated(raw)
    }

    fn calibrated(&self, raw: f64) -> f64 {
        let p = crate::ensemble::apply_link(self.model.ensemble.link, raw);
        let c = self.model.calibration.apply(p);
        if c.is_finite() {
            c.clamp(0.0, 1.0)
        } else {
            p
        }
    }

    /// The verdict for a calibrated score.
    pub fn verdict(&self, score: f64) -> Verdict {
        let t = &self.model.thresholds;
        if score >= t.phishing {
            Verdict::Phishing
        } else if score >= t.suspicious {
            Verdict::Suspicious
        } else {
            Verdict::Benign
        }
    }

    /// Scores a feature vector, with up to `n_reasons` reasons.
    pub fn score_features(
        &self,
        x: &[f32],
        n_reasons: usize,
        scratch: &mut ScoreScratch,
    ) -> ScoreResult {
        let raw = self.compiled.raw(x);
        let score = self.calibrated(raw);
        let verdict = self.verdict(score);
        let reasons = if n_reasons == 0 {
            Vec::new()
        } else {
            self.reasons(x, n_reasons, scratch)
        };
        ScoreResult {
            score,
            raw,
            verdict,
            reasons,
        }
    }

    /// Extracts features and scores an email.
    pub fn score_email(
        &self,
        rec: &EmailRecord,
        ctx: &FeatureContext,
        n_reasons: usize,
        scratch: &mut ScoreScratch,
    ) -> ScoreResult {
        let mut x = std::mem::take(&mut scratch.features);
        extract_email(rec, ctx, &mut x);
        let r = self.score_features(&x, n_reasons, scratch);
        scratch.features = x;
        r
    }

    fn reasons(&self, x: &[f32], n: usize, scratch: &mut ScoreScratch) -> Vec<Reason> {
        let nf = self.model.ensemble.n_features;
        scratch.phi.clear();
        scratch.phi.resize(nf, 0.0);
        self.model.ensemble.shap_values(x, &mut scratch.phi);
        scratch.order.clear();
        scratch
            .order
            .extend((0..nf).filter(|&i| scratch.phi[i] != 0.0));
        let phi = &scratch.phi;
        scratch
            .order
            .sort_by(|&a, &b| phi[b].abs().total_cmp(&phi[a].abs()).then(a.cmp(&b)));
        scratch
            .order
            .iter()
            .take(n)
            .map(|&i| {
                let def = self.schema.features.get(i);
                Reason {
                    feature: def
                        .map(|d| d.name.clone())
                        .unwrap_or_else(|| format!("f{i}")),
                    value: x.get(i).copied().unwrap_or(f32::NAN),
                    contribution: phi[i],
                    description: def.map(|d| d.description.clone()).unwrap_or_default(),
                }
            })
            .collect()
    }
}

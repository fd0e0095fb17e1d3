//! The model file: one versioned JSON document holding the ensemble, its calibration, its
//! thresholds, the feature schema it was trained on, and its model card.
//!
//! Loading checks, in order: the format name and version, the feature-schema fingerprint against
//! the schema the caller will extract, the ensemble's structure, the calibration map and the
//! thresholds. The SHA-256 of the file's bytes is computed at load and reported with every score.

use crate::calibrate::Calibration;
use crate::ensemble::{EnsembleError, TreeEnsemble};
use crate::features::{hex, FeatureSchema};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `format` field of every Shrike model file.
pub const MODEL_FORMAT: &str = "shrike-model";
/// The model-file format version this build reads and writes.
pub const MODEL_FORMAT_VERSION: u32 = 1;

/// The schema a model was trained on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaRef {
    /// Schema name (`email`).
    pub name: String,
    /// Schema version.
    pub version: u32,
    /// [`FeatureSchema::fingerprint`] at training time.
    pub fingerprint: String,
    /// Feature names in vector order (for reasons and for humans reading the file).
    pub feature_names: Vec<String>,
}

impl SchemaRef {
    /// The reference to a schema.
    pub fn of(schema: &FeatureSchema) -> SchemaRef {
        SchemaRef {
            name: schema.name.clone(),
            version: schema.version,
            fingerprint: schema.fingerprint(),
            feature_names: schema.features.iter().map(|f| f.name.clone()).collect(),
        }
    }
}

/// Decision thresholds on the calibrated probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// At or above: verdict `phishing`.
    pub phishing: f64,
    /// At or above (and below `phishing`): verdict `suspicious`.
    pub suspicious: f64,
    /// How they were chosen (`precision >= 0.99 on validation`, `FPR <= 0.001 on validation`).
    #[serde(default)]
    pub basis: String,
}

/// A Shrike model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// Always [`MODEL_FORMAT`].
    pub format: String,
    /// [`MODEL_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// Model id (`shrike-email-gbdt`).
    pub id: String,
    /// Model version (`2026.11.23`).
    pub version: String,
    /// When it was trained (RFC 3339), as given by the trainer.
    pub created_at: String,
    /// Algorithm (`gbdt`, `random_forest`, `xgboost`, `lightgbm`).
    pub algorithm: String,
    /// The feature schema it expects.
    pub schema: SchemaRef,
    /// The trees.
    pub ensemble: TreeEnsemble,
    /// The calibration map.
    pub calibration: Calibration,
    /// Verdict thresholds on the calibrated probability.
    pub thresholds: Thresholds,
    /// The model card (data sources, licenses, metrics, top features), free-form JSON.
    #[serde(default)]
    pub card: serde_json::Value,
}

/// Why a model file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// Not JSON, or not a model file's shape.
    #[error("model file is not valid: {0}")]
    Parse(String),
    /// The `format` field names something else.
    #[error("not a Shrike model file (format is {0:?})")]
    WrongFormat(String),
    /// Written by a newer Shrike.
    #[error(
        "model format version {found} is not supported (this build reads {MODEL_FORMAT_VERSION})"
    )]
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
    },
    /// Trained on a different feature schema than this build extracts.
    #[error(
        "model was trained on feature schema {model_schema} v{model_version} ({model_fp}), \
         this build extracts {want_schema} v{want_version} ({want_fp}); retrain or use a matching build"
    )]
    SchemaMismatch {
        /// Schema name in the model.
        model_schema: String,
        /// Schema version in the model.
        model_version: u32,
        /// Fingerprint in the model.
        model_fp: String,
        /// Expected schema name.
        want_schema: String,
        /// Expected schema version.
        want_version: u32,
        /// Expected fingerprint.
        want_fp: String,
    },
    /// The trees are malformed.
    #[error("model trees are invalid: {0}")]
    Ensemble(#[from] EnsembleError),
    /// The calibration map or thresholds are malformed.
    #[error("model is invalid: {0}")]
    Invalid(String),
}

/// A loaded, checked model and the SHA-256 of its file.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    /// The model.
    pub file: ModelFile,
    /// SHA-256 of the file's bytes, lower-case hex.
    pub sha256: String,
}

impl ModelFile {
    /// Parses and checks a model file against the schema the caller will extract.
    pub fn load(bytes: &[u8], expected: &FeatureSchema) -> Result<LoadedModel, ModelError> {
        let sha256 = hex(&Sha256::digest(bytes));
        let file: ModelFile =
            serde_json::from_slice(bytes).map_err(|e| ModelError::Parse(e.to_string()))?;
        file.check(expected)?;
        Ok(LoadedModel { file, sha256 })
    }

    /// Checks format, schema, trees, calibration and thresholds.
    pub fn check(&self, expected: &FeatureSchema) -> Result<(), ModelError> {
        if self.format != MODEL_FORMAT {
            return Err(ModelError::WrongFormat(self.format.clone()));
        }
        if self.format_version != MODEL_FORMAT_VERSION {
            return Err(ModelError::UnsupportedVersion {
                found: self.format_version,
            });
        }
        let want_fp = expected.fingerprint();
        if self.schema.fingerprint != want_fp {
            return Err(ModelError::SchemaMismatch {
                model_schema: self.schema.name.clone(),
                model_version: self.schema.version,
                model_fp: self.schema.fingerprint.clone(),
                want_schema: expected.name.clone(),
                want_version: expected.version,
                want_fp,
            });
        }
        if self.ensemble.n_features != expected.len() {
            return Err(ModelError::Invalid(format!(
                "ensemble expects {} features, schema has {}",
                self.ensemble.n_features,
                expected.len()
            )));
        }
        self.ensemble.validate()?;
        self.calibration.validate().map_err(ModelError::Invalid)?;
        let t = &self.thresholds;
        let in_unit = |v: f64| (0.0..=1.0).contains(&v);
        if !(in_unit(t.phishing) && in_unit(t.suspicious) && t.suspicious <= t.phishing) {
            return Err(ModelError::Invalid(format!(
                "thresholds must satisfy 0 <= suspicious ({}) <= phishing ({}) <= 1",
                t.suspicious, t.phishing
            )));
        }
        Ok(())
    }

    /// Serializes the model file (compact JSON).
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing plain data structs to a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

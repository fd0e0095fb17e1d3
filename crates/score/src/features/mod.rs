//! Email features: `EmailRecord -> FeatureVector` (a dense `Vec<f32>`, NaN = unknown).
//!
//! The feature set is a versioned [`FeatureSchema`] whose fingerprint is stored in every model
//! file and checked at load.
//!
//! Invariant: no feature may depend on how a dataset was collected. Only sender-side headers are
//! read (never `Received`, `Delivered-To`, `X-MS-Exchange-*`, list headers or the recipient), and
//! recipient addresses are masked out of bodies and URLs before any text feature sees them.

use sha2::{Digest, Sha256};
use shrike_types::EmailRecord;

/// Context that is not in the message itself, looked up by the caller before extraction
/// (extraction itself does no I/O).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FeatureContext {
    /// Age in days of the sender's domain at the message time (RDAP), `None` when unknown.
    pub sender_domain_age_days: Option<f32>,
}

/// One feature's definition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeatureDef {
    /// Stable name (`url_count`, `word_hash_017`).
    pub name: String,
    /// Group (`sender`, `auth`, `url`, `content`, `attachment`, `ngram`).
    pub group: String,
    /// What it measures, for reasons and the model card.
    pub description: String,
}

/// A versioned list of features.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeatureSchema {
    /// Schema name (`email`).
    pub name: String,
    /// Bumped whenever a feature's meaning changes.
    pub version: u32,
    /// The features, in vector order.
    pub features: Vec<FeatureDef>,
}

impl FeatureSchema {
    /// Number of features.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// Whether the schema has no features.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// `sha256(name \n version \n feature names joined by \n)`, lower-case hex.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.name.as_bytes());
        h.update(b"\n");
        h.update(self.version.to_string().as_bytes());
        for f in &self.features {
            h.update(b"\n");
            h.update(f.name.as_bytes());
        }
        hex(&h.finalize())
    }

    /// Index of a feature by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.features.iter().position(|f| f.name == name)
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The email feature schema.
pub fn email_schema() -> &'static FeatureSchema {
    static SCHEMA: std::sync::OnceLock<FeatureSchema> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| FeatureSchema {
        name: "email".into(),
        version: 0,
        features: Vec::new(),
    })
}

/// Extracts the email features of `rec` into `out` (cleared first; `out.len()` becomes
/// `email_schema().len()`).
pub fn extract_email(_rec: &EmailRecord, _ctx: &FeatureContext, out: &mut Vec<f32>) {
    out.clear();
}

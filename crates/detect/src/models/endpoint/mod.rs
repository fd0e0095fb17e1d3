//! The endpoint model: a gradient-boosted tree model over OCSF endpoint events (process, file,
//! module, registry, host network and Windows audit events), trained on the Mordor Windows
//! captures (`shrike train endpoint`; docs/models/endpoint.md).
//!
//! - [`features`]: [`EndpointFeatures`], the stateful extractor (process lineage and
//!   parent–child rarity per host, LOLBins, command-line obfuscation and entropy, LSASS access,
//!   persistence locations, privilege, network from unusual processes) and its schema.
//! - [`labels`]: event labels derived from per-capture attack seeds (training and tests only).
//! - [`EndpointModel`]: the bundled model behind [`crate::models::DomainModel`].
//!
//! Invariants: the same extractor runs in training and serving, event by event in time order;
//! no identity string or lab artifact is a feature; no event panics the model.

pub mod features;
pub mod labels;

use serde_json::Value;
use shrike_score::scorer::ScoreScratch;
use shrike_score::{ModelError, ModelFile, Scorer};

pub use features::{endpoint_schema, EndpointFeatures};

use crate::alert::{Domain, Hit, ModelScore};
use crate::models::DomainModel;

/// The bundled model file (trained by `shrike train endpoint`).
pub const EMBEDDED_MODEL: &[u8] = include_bytes!("../../../../../models/endpoint-default.json");

/// The endpoint model: extractor state plus the scorer.
#[derive(Debug)]
pub struct EndpointModel {
    features: EndpointFeatures,
    scorer: Scorer,
    scratch: ScoreScratch,
    x: Vec<f32>,
}

impl EndpointModel {
    /// Loads the bundled model.
    pub fn embedded() -> Result<EndpointModel, ModelError> {
        Self::from_bytes(EMBEDDED_MODEL)
    }

    /// Loads a model file trained on the endpoint schema.
    pub fn from_bytes(bytes: &[u8]) -> Result<EndpointModel, ModelError> {
        let loaded = ModelFile::load(bytes, endpoint_schema())?;
        Ok(EndpointModel {
            features: EndpointFeatures::new(),
            scorer: Scorer::new(loaded, endpoint_schema())?,
            scratch: ScoreScratch::default(),
            x: Vec::with_capacity(features::N_FEATURES),
        })
    }

    /// The suspicious threshold on the calibrated probability.
    pub fn suspicious_threshold(&self) -> f64 {
        self.scorer.model().thresholds.suspicious
    }

    /// The scorer (model file, SHA-256).
    pub fn scorer(&self) -> &Scorer {
        &self.scorer
    }

    /// Observes an event and returns its calibrated probability only (no reasons, no
    /// allocation once warmed up); `None` when the model does not cover the event.
    pub fn probability(&mut self, event: &Value) -> Option<f64> {
        if !self.features.extract(event, &mut self.x) {
            return None;
        }
        Some(self.scorer.probability(&self.x))
    }
}

impl DomainModel for EndpointModel {
    fn domain(&self) -> Domain {
        Domain::Endpoint
    }

    fn id(&self) -> (&str, &str) {
        let m = self.scorer.model();
        (&m.id, &m.version)
    }

    fn alert_threshold(&self) -> f64 {
        self.scorer.model().thresholds.phishing
    }

    fn score(&mut self, event: &Value, hits: &[Hit], n_reasons: usize) -> Option<ModelScore> {
        if !self.features.extract(event, &mut self.x) {
            return None;
        }
        Some(super::score_vector(
            &self.scorer,
            &self.x,
            &mut self.scratch,
            n_reasons,
            !hits.is_empty(),
        ))
    }

    fn state_bytes(&self) -> usize {
        self.features.state_bytes() + self.x.capacity() * 4
    }
}

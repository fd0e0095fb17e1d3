//! Per-entity correlation and fusion: the stage `candidate Alert -> EntityState -> entity risk`.
//!
//! [`Fuser::observe`] attributes each [`shrike_detect::Alert`] to its subject entities (hosts,
//! users, cloud principals, internal IPs that resolve to no host; see [`entity`]), turns the
//! alert into evidence per source (domain model scores, Sigma and vendor hits, threat intel),
//! folds it into a small fixed-size state per entity with exponential decay over **event time**,
//! and fuses the state into one explainable score in `[0, 1]` with a [`FusionStrategy`]
//! (weighted log-odds, noisy-OR, stacked logistic regression, or the additive severity baseline).
//! An entity whose score reaches the threshold produces a [`Crossing`](Observed::crossings) at
//! most once per routing window; [`detection_finding`] renders it as an OCSF Detection Finding.
//!
//! Evidence of a rule that fires on many entities (fleet-wide noise) is discounted by its
//! prevalence ([`prevalence::discount`]); every report carries the entity's peak score, and
//! [`Fuser::reports`] ranks by it.
//!
//! Time: a watermark (`max event time seen - allowed lateness`) decides what is late; late alerts
//! are counted and returned, never fused. Entities idle longer than `idle_evict_secs` are evicted
//! as the watermark advances, and `max_entities` bounds the map. State can be snapshotted and
//! restored (`restore(snapshot(x))` behaves like `x`).
//!
//! Invariants: no I/O; no input panics (NaN/inf probabilities are clamped, hostile strings are
//! bounded); every fused score carries its contributions; scores are finite and in `[0, 1]`.
//! The model of time, formulas and defaults are in `docs/fusion.md`.

pub mod config;
pub mod entity;
mod finding;
mod fuser;
pub mod prevalence;
mod state;
pub mod strategy;

pub use config::{FusionConfig, Levels, StrategyKind};
pub use entity::{EntityId, Resolver};
pub use finding::{detection_finding, finding_uid};
pub use fuser::{Contribution, EntityReport, Fuser, FusionStats, Observed};
pub use state::{Source, FEATURE_NAMES, N_FEATURES, N_SOURCES, TOP_K};
pub use strategy::{
    Context, Evidence, EvidenceItem, Fused, FusionStrategy, LogOdds, NoisyOr, StackedModel,
    StackedStrategy, SumSeverity,
};

/// What went wrong in fusion.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FusionError {
    /// A configuration field is invalid.
    #[error("invalid fusion config: {field}: {reason}")]
    Config {
        /// The field (`half_life_secs`, `reliability.sigma`).
        field: String,
        /// Why.
        reason: String,
    },
    /// A snapshot could not be read.
    #[error("invalid fusion snapshot: {0}")]
    Snapshot(String),
    /// Training data or a stacked model is unusable.
    #[error("stacked model: {0}")]
    Stacked(String),
}

impl FusionError {
    pub(crate) fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FusionError::Config {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

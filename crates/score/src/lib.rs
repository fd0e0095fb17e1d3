//! Scoring: email features, the tree-ensemble evaluator, calibration and the model file.
//!
//! Stages owned here: `EmailRecord -> FeatureVector` ([`features`]) and
//! `FeatureVector -> Score` ([`ensemble`], [`calibrate`], [`model`], [`scorer`]).
//!
//! Invariants:
//! - Pure: no I/O, no clocks, no threads, no tokio. Callers pass bytes and records in.
//! - Serving never depends on a training library: models from Shrike's trainer, XGBoost JSON and
//!   LightGBM text all load into one [`ensemble::TreeEnsemble`] and run on Shrike's own evaluator.
//! - A model is only used with the feature schema it was trained on: the schema fingerprint is
//!   checked when a model file is loaded.
//! - No panics on input: malformed model files and odd feature values give errors or NaN-safe
//!   results, never a panic.

pub mod calibrate;
pub mod compiled;
pub mod ensemble;
pub mod features;
pub mod import;
pub mod model;
pub mod scorer;
pub mod shap;

pub use ensemble::{Aggregation, Link, Node, Tree, TreeEnsemble};
pub use features::{FeatureContext, FeatureSchema};
pub use model::{LoadedModel, ModelError, ModelFile, Thresholds};
pub use scorer::{Reason, ScoreResult, Scorer, Verdict};

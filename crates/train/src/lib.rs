//! Training and evaluation for Shrike's models: a pure-Rust histogram tree trainer, probability
//! calibration fitting, evaluation metrics, time-based splits and SVG plots.
//!
//! Stage owned here: `Dataset -> TreeEnsemble (+ Calibration)`, plus the maths that judges the
//! result. Key items:
//! - [`Dataset`]: dense row-major `f32` features (NaN = missing), 0/1 labels, sample weights.
//! - [`train_gbdt`] (default): gradient-boosted trees on binary log-loss; [`train_random_forest`]:
//!   bagged trees. Both run the one histogram tree builder (`tree`) and return a
//!   [`TrainedModel`] whose [`shrike_score::TreeEnsemble`] serving loads as is.
//! - [`calibration`]: Platt scaling and isotonic regression →
//!   [`shrike_score::calibrate::Calibration`].
//! - [`metrics`]: PR/ROC curves, AP, ROC-AUC, recall at a fixed FPR, calibration error,
//!   threshold selection. [`time_split`]: train/validation/test by time. [`plot`]: SVG plots.
//!
//! Invariants:
//! - Deterministic: the same data, parameters and seed give a bitwise-identical ensemble, whatever
//!   the thread count (threads split work by feature or by tree, never race on a sum).
//! - Every split uses the serving rule `x < threshold` with thresholds strictly between distinct
//!   training values, so the trainer's binned view of a training row and the evaluator's float view
//!   route it identically.
//! - No panics on input: bad shapes, labels, weights, parameters and degenerate data give a
//!   [`TrainError`] (or `None` from a metric), never a panic or a NaN model.
//! - No I/O, no training-library dependency, no global state; the only randomness is [`rng::Rng`].

pub mod calibration;
mod dataset;
mod forest;
mod gbdt;
pub mod metrics;
pub mod plot;
pub mod rng;
pub mod time_split;

mod binning;
mod tree;

pub use dataset::Dataset;
pub use forest::{train_random_forest, ForestParams};
pub use gbdt::{train_gbdt, GbdtParams};

use serde::Serialize;
use shrike_score::TreeEnsemble;

/// Why training, calibration fitting or a split failed.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum TrainError {
    /// The dataset (or calibration set) has no rows.
    #[error("the dataset is empty")]
    EmptyDataset,
    /// The dataset has no feature columns.
    #[error("the dataset has no features")]
    NoFeatures,
    /// More rows or features than the trainer indexes (`u32`).
    #[error("{what} = {len} is more than the trainer supports (u32 indices)")]
    TooLarge {
        /// `"n_rows"` or `"n_features"`.
        what: &'static str,
        /// The size given.
        len: usize,
    },
    /// An array has the wrong length.
    #[error("{what} has length {found}, expected {expected}")]
    ShapeMismatch {
        /// Which array.
        what: &'static str,
        /// Required length.
        expected: usize,
        /// Actual length.
        found: usize,
    },
    /// A label is not exactly 0 or 1.
    #[error("row {row}: label {value} is not 0 or 1")]
    InvalidLabel {
        /// Row index.
        row: usize,
        /// The label.
        value: f32,
    },
    /// A sample weight is negative, NaN or infinite.
    #[error("row {row}: weight {value} is not a finite non-negative number")]
    InvalidWeight {
        /// Row index.
        row: usize,
        /// The weight.
        value: f32,
    },
    /// A score given to a calibrator is NaN or outside [0, 1].
    #[error("row {row}: score {value} is not a probability in [0, 1]")]
    InvalidScore {
        /// Row index.
        row: usize,
        /// The score.
        value: f64,
    },
    /// All sample weights are zero.
    #[error("all sample weights are zero")]
    ZeroTotalWeight,
    /// Only one class carries weight: there is nothing to separate.
    #[error("only one class present (positive weight {positive_weight}, negative weight {negative_weight}); both classes are needed")]
    OneClass {
        /// Total weight of positive rows.
        positive_weight: f64,
        /// Total weight of negative rows.
        negative_weight: f64,
    },
    /// The validation set's feature count differs from the training set's.
    #[error("validation set has {valid} features, training set has {train}")]
    FeatureCountMismatch {
        /// Training features.
        train: usize,
        /// Validation features.
        valid: usize,
    },
    /// A parameter is out of range.
    #[error("parameter {name}: {reason}")]
    InvalidParam {
        /// Parameter name.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A row index given to a helper is out of range.
    #[error("row index {index} is out of range ({len} rows)")]
    IndexOutOfRange {
        /// The index.
        index: usize,
        /// Number of rows.
        len: usize,
    },
    /// A time split left one side empty.
    #[error("time split leaves the {side} side empty ({timed} timed rows)")]
    EmptySplit {
        /// `"train"`, `"test"`, `"fit"` or `"valid"`.
        side: &'static str,
        /// Number of rows with a timestamp.
        timed: usize,
    },
    /// Training produced a non-finite value (extreme weights with `lambda = 0` and
    /// `min_child_weight = 0` can do this); the model is not returned.
    #[error("training diverged: {0}")]
    Diverged(String),
}

/// A trained tree ensemble with what training learned about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainedModel {
    /// The model, ready for `shrike_score` (already validated).
    pub ensemble: TreeEnsemble,
    /// Per feature: total split gain over all splits of all kept trees (loss reduction for
    /// boosting, weighted squared-error reduction for forests). Not normalised.
    pub gain_importance: Vec<f64>,
    /// Per iteration (1-based tree count): training loss and validation loss. Losses are weighted
    /// mean log-loss. For forests the third element is the out-of-bag log-loss (rows not in any
    /// bootstrap sample yet are skipped; `None` until some row is out of bag).
    pub history: Vec<(usize, f64, Option<f64>)>,
    /// The iteration (tree count) the returned ensemble ends at: the best validation iteration
    /// when early stopping ran, otherwise the number of trees trained.
    pub best_iteration: usize,
}

/// Training progress, reported once per tree.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Progress {
    /// Trees built so far (1-based).
    pub iteration: usize,
    /// Trees requested.
    pub n_trees: usize,
    /// Weighted mean training log-loss after this tree.
    pub train_loss: f64,
    /// Validation log-loss (boosting) or out-of-bag log-loss (forest), when available.
    pub valid_loss: Option<f64>,
}

/// Numerically stable `ln(1 + e^x)`.
pub(crate) fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// Logistic function.
pub(crate) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Checks a float parameter is finite and inside `[lo, hi]`.
pub(crate) fn check_range(name: &'static str, v: f64, lo: f64, hi: f64) -> Result<(), TrainError> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(())
    } else {
        Err(TrainError::InvalidParam {
            name,
            reason: format!("{v} is not within [{lo}, {hi}]"),
        })
    }
}

/// The parameter checks both trainers share: tree count, depth, leaf size, bins and threads.
pub(crate) fn check_tree_params(
    n_trees: usize,
    max_depth: usize,
    min_samples_leaf: usize,
    max_bins: usize,
    n_threads: usize,
) -> Result<(), TrainError> {
    let bad = |name, reason: &str| {
        Err(TrainError::InvalidParam {
            name,
            reason: reason.to_string(),
        })
    };
    if n_trees == 0 {
        return bad("n_trees", "must be at least 1");
    }
    if !(1..=gbdt::MAX_DEPTH).contains(&max_depth) {
        return bad("max_depth", "must be within 1..=64");
    }
    if min_samples_leaf == 0 {
        return bad("min_samples_leaf", "must be at least 1");
    }
    if !(2..=binning::MAX_VALUE_BINS).contains(&max_bins) {
        return bad("max_bins", "must be within 2..=255");
    }
    if n_threads == 0 {
        return bad("n_threads", "must be at least 1");
    }
    Ok(())
}

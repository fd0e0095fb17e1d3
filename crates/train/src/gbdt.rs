//! Gradient-boosted trees on binary log-loss (Shrike's default model).
//!
//! Newton boosting as in XGBoost: each tree fits the per-row gradient `g = (p - y)·w` and hessian
//! `h = p(1 - p)·w` of the weighted log-loss at the current margin, with leaf values
//! `-G / (H + λ)` scaled by the learning rate and split gain `½[G_L²/(H_L+λ) + G_R²/(H_R+λ) -
//! G²/(H+λ)]`, required to exceed `gamma`. Trees come from the shared histogram builder
//! (depth-wise growth, histogram subtraction, learned missing-value directions); see `tree`.
//!
//! Output: [`Aggregation::Sum`], [`Link::Logistic`], `base_score` = log-odds of the weighted class
//! prior, node covers = hessian sums (what TreeSHAP expects of a boosted model).
//!
//! Per iteration: rows are subsampled (Bernoulli, `subsample`), features per tree
//! (`colsample_bytree`); zero-weight rows never enter a tree. Every training row's margin is then
//! updated by routing it through the new tree on its bin codes, which is exactly what the
//! serving evaluator computes from the float features (see `binning`).

use serde::{Deserialize, Serialize};
use shrike_score::{Aggregation, Link, TreeEnsemble};

use crate::binning::{Binned, MAX_VALUE_BINS};
use crate::rng::Rng;
use crate::tree::{grow, Sampling, Stats, TreeConfig, Workspace, HIST_BUDGET_BYTES};
use crate::{check_range, sigmoid, softplus, Dataset, Progress, TrainError, TrainedModel};

/// Deepest tree either trainer builds (the score crate accepts deeper ones).
pub(crate) const MAX_DEPTH: usize = 64;

/// Boosting parameters. `Default` gives a sound starting point for ~10k–50k rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GbdtParams {
    /// Most trees (boosting rounds). Default 300.
    pub n_trees: usize,
    /// Shrinkage applied to every leaf, in (0, 1]. Default 0.1.
    pub learning_rate: f64,
    /// Deepest leaf (root = 0), 1..=64. Default 6.
    pub max_depth: usize,
    /// Most leaves per tree; `None` = limited by depth only. Default `None`.
    pub max_leaves: Option<usize>,
    /// Least hessian sum per child. Default 1.0.
    pub min_child_weight: f64,
    /// Least (sampled) rows per child. Default 1.
    pub min_samples_leaf: usize,
    /// L2 penalty on leaf values (XGBoost's `lambda`). Default 1.0.
    pub lambda: f64,
    /// Least loss reduction to split (XGBoost's `gamma`). Default 0.
    pub gamma: f64,
    /// Fraction of rows each tree sees (Bernoulli), in (0, 1]. Default 0.8.
    pub subsample: f64,
    /// Fraction of features each tree may use, in (0, 1]. Default 0.8.
    pub colsample_bytree: f64,
    /// Stop after this many rounds without a lower validation loss and keep the best round's
    /// trees; only with a validation set. `None` = never stop early. Default `Some(30)`.
    pub early_stopping_rounds: Option<usize>,
    /// Value bins per feature, 2..=255 (plus a missing bin). Default 255.
    pub max_bins: usize,
    /// Seed for row and feature sampling.
    pub seed: u64,
    /// Threads (histograms split by feature; results do not depend on it). Default 2.
    pub n_threads: usize,
}

impl Default for GbdtParams {
    fn default() -> Self {
        GbdtParams {
            n_trees: 300,
            learning_rate: 0.1,
            max_depth: 6,
            max_leaves: None,
            min_child_weight: 1.0,
            min_samples_leaf: 1,
            lambda: 1.0,
            gamma: 0.0,
            subsample: 0.8,
            colsample_bytree: 0.8,
            early_stopping_rounds: Some(30),
            max_bins: MAX_VALUE_BINS,
            seed: 0,
            n_threads: 2,
        }
    }
}

impl GbdtParams {
    /// Checks every parameter's range.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |name, reason: &str| {
            Err(TrainError::InvalidParam {
                name,
                reason: reason.to_string(),
            })
        };
        crate::check_tree_params(
            self.n_trees,
            self.max_depth,
            self.min_samples_leaf,
            self.max_bins,
            self.n_threads,
        )?;
        if self.max_leaves.is_some_and(|l| l < 2) {
            return bad("max_leaves", "must be at least 2");
        }
        if self.early_stopping_rounds == Some(0) {
            return bad("early_stopping_rounds", "must be at least 1 (or None)");
        }
        check_range("learning_rate", self.learning_rate, f64::MIN_POSITIVE, 1.0)?;
        check_range("min_child_weight", self.min_child_weight, 0.0, f64::MAX)?;
        check_range("lambda", self.lambda, 0.0, f64::MAX)?;
        check_range("gamma", self.gamma, 0.0, f64::MAX)?;
        check_range("subsample", self.subsample, f64::MIN_POSITIVE, 1.0)?;
        check_range(
            "colsample_bytree",
            self.colsample_bytree,
            f64::MIN_POSITIVE,
            1.0,
        )?;
        Ok(())
    }
}

/// Trains gradient-boosted trees on `data` (binary log-loss, sample weights `data.w`).
///
/// With `valid`, its weighted log-loss is recorded per round and, with
/// `params.early_stopping_rounds`, drives early stopping (the returned ensemble ends at the best
/// round). `progress` is called once per tree, on the calling thread.
///
/// Errors: invalid data or parameters, a validation set with another feature count or no weight,
/// a training set with only one weighted class ([`TrainError::OneClass`]).
pub fn train_gbdt(
    data: &Dataset,
    params: &GbdtParams,
    valid: Option<&Dataset>,
    progress: &mut dyn FnMut(Progress),
) -> Result<TrainedModel, TrainError> {
    fit(data, params, valid, progress).map(|r| r.model)
}

/// A finished run plus the trainer's own margins for the training rows (all trees trained,
/// before early-stopping truncation), for consistency checks.
pub(crate) struct GbdtRun {
    pub(crate) model: TrainedModel,
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) train_margins: Vec<f64>,
}

pub(crate) fn fit(
    data: &Dataset,
    params: &GbdtParams,
    valid: Option<&Dataset>,
    progress: &mut dyn FnMut(Progress),
) -> Result<GbdtRun, TrainError> {
    data.validate()?;
    params.validate()?;
    if let Some(v) = valid {
        v.validate()?;
        if v.n_features != data.n_features {
            return Err(TrainError::FeatureCountMismatch {
                train: data.n_features,
                valid: v.n_features,
            });
        }
        if v.w.iter().all(|&w| w == 0.0) {
            return Err(TrainError::ZeroTotalWeight);
        }
    }
    let (pos, neg) = data.require_both_classes()?;
    let base_score = (pos / neg).ln();
    let (n, nf) = (data.n_rows, data.n_features);
    let binned = Binned::new(data, params.max_bins, params.n_threads);
    let cfg = TreeConfig {
        max_depth: params.max_depth,
        max_leaves: params.max_leaves.unwrap_or(usize::MAX),
        min_child_weight: params.min_child_weight,
        min_samples_leaf: params.min_samples_leaf as f64,
        lambda: params.lambda,
        gamma: params.gamma,
        n_threads: params.n_threads,
        hist_budget_bytes: HIST_BUDGET_BYTES,
    };
    let mut ensemble = TreeEnsemble {
        trees: Vec::new(),
        base_score,
        aggregation: Aggregation::Sum,
        link: Link::Logistic,
        n_features: nf,
    };
    let mut rng = Rng::new(params.seed);
    let mut ws = Workspace::default();
    // Sum of leaf values per row, kept apart from base_score so that base_score + sum is
    // computed exactly as `TreeEnsemble::raw` does.
    let mut leaf_sum = vec![0.0f64; n];
    let mut valid_sum = vec![0.0f64; valid.map_or(0, |v| v.n_rows)];
    let mut history = Vec::new();
    let mut tree_gains: Vec<Vec<f64>> = Vec::new();
    let n_cols = ((params.colsample_bytree * nf as f64).round() as usize).clamp(1, nf);
    let mut rows: Vec<u32> = Vec::with_capacity(n);
    let mut grads: Vec<Stats> = Vec::with_capacity(n);
    let (mut best_loss, mut best_iter) = (f64::INFINITY, 0usize);
    for iter in 1..=params.n_trees {
        rows.clear();
        grads.clear();
        for (r, ((&w, &y), &sum)) in data.w.iter().zip(&data.y).zip(&leaf_sum).enumerate() {
            let w = f64::from(w);
            if w == 0.0 || (params.subsample < 1.0 && rng.next_f64() >= params.subsample) {
                continue;
            }
            let p = sigmoid(base_score + sum);
            rows.push(r as u32);
            grads.push(Stats {
                g: (p - f64::from(y)) * w,
                h: (p * (1.0 - p)).max(1e-16) * w,
                n: 1.0,
            });
        }
        let feats: Vec<u32> = rng
            .sample_indices(nf, n_cols)
            .into_iter()
            .map(|f| f as u32)
            .collect();
        let raw = grow(
            &binned,
            &cfg,
            &mut rows,
            &mut grads,
            Sampling::PerTree(&feats),
            &mut ws,
        );
        let (lr, lambda) = (params.learning_rate, params.lambda);
        let tree = raw.to_tree(&binned, |s| {
            if s.h + lambda > 0.0 {
                -s.g / (s.h + lambda) * lr
            } else {
                0.0
            }
        });
        let mut gains = vec![0.0; nf];
        raw.add_gains(&mut gains);
        tree_gains.push(gains);
        for (r, sum) in leaf_sum.iter_mut().enumerate() {
            let leaf = raw.leaf_of(&binned, r);
            if let Some(shrike_score::Node::Leaf { value, .. }) = tree.nodes.get(leaf) {
                *sum += *value;
            }
        }
        if let Some(v) = valid {
            for (r, sum) in valid_sum.iter_mut().enumerate() {
                let x = &v.x[r * nf..(r + 1) * nf];
                *sum += ensemble.tree_value(&tree, x);
            }
        }
        ensemble.trees.push(tree);
        let train_loss = log_loss_margins(data, base_score, &leaf_sum);
        let valid_loss = valid.map(|v| log_loss_margins(v, base_score, &valid_sum));
        if !(train_loss.is_finite() && valid_loss.is_none_or(f64::is_finite)) {
            return Err(TrainError::Diverged(format!(
                "log-loss is not finite after tree {iter}"
            )));
        }
        history.push((iter, train_loss, valid_loss));
        progress(Progress {
            iteration: iter,
            n_trees: params.n_trees,
            train_loss,
            valid_loss,
        });
        if let (Some(rounds), Some(vl)) = (params.early_stopping_rounds, valid_loss) {
            if vl < best_loss {
                (best_loss, best_iter) = (vl, iter);
            } else if iter - best_iter >= rounds {
                break;
            }
        }
    }
    let kept = if valid.is_some() && params.early_stopping_rounds.is_some() {
        best_iter.max(1)
    } else {
        ensemble.trees.len()
    };
    ensemble.trees.truncate(kept);
    let mut gain_importance = vec![0.0; nf];
    for g in tree_gains.iter().take(kept) {
        for (a, b) in gain_importance.iter_mut().zip(g) {
            *a += b;
        }
    }
    ensemble
        .validate()
        .map_err(|e| TrainError::Diverged(e.to_string()))?;
    let train_margins = leaf_sum.iter().map(|s| base_score + s).collect();
    Ok(GbdtRun {
        model: TrainedModel {
            ensemble,
            gain_importance,
            history,
            best_iteration: kept,
        },
        train_margins,
    })
}

/// Weighted mean log-loss of `d` at margins `base + sums[r]`.
fn log_loss_margins(d: &Dataset, base: f64, sums: &[f64]) -> f64 {
    let (mut loss, mut weight) = (0.0, 0.0);
    for ((&y, &w), &s) in d.y.iter().zip(&d.w).zip(sums) {
        let m = base + s;
        let w = f64::from(w);
        loss += w * if y == 1.0 { softplus(-m) } else { softplus(m) };
        weight += w;
    }
    loss / weight
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::roc_auc;

    /// XOR of two signs with noise features and NaNs; when x0 is missing the label follows x1.
    fn xor_data(n: usize, seed: u64) -> Dataset {
        let nf = 8;
        let mut rng = Rng::new(seed);
        let mut x = Vec::with_capacity(n * nf);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let row: Vec<f32> = (0..nf).map(|_| rng.normal() as f32).collect();
            let x0_missing = rng.next_f64() < 0.15;
            let label = if x0_missing {
                row[1] > 0.0
            } else {
                (row[0] > 0.0) != (row[1] > 0.0)
            };
            for (f, v) in row.iter().enumerate() {
                let missing = (f == 0 && x0_missing) || (f >= 4 && rng.next_f64() < 0.3);
                x.push(if missing { f32::NAN } else { *v });
            }
            y.push(f32::from(u8::from(label)));
        }
        Dataset::new(x, n, nf, y, vec![1.0; n]).expect("valid")
    }

    fn raw_scores(e: &TreeEnsemble, d: &Dataset) -> Vec<f64> {
        (0..d.n_rows)
            .map(|r| e.raw(d.row(r).expect("row in range")))
            .collect()
    }

    #[test]
    fn trainer_margins_equal_ensemble_raw_on_training_rows() {
        // Ties, -0.0/0.0, infinities, >255 distinct values (so bins group values), NaNs, row and
        // column subsampling: any threshold off-by-one would show as a mismatch.
        let mut d = xor_data(3000, 11);
        for r in 0..d.n_rows {
            let v = &mut d.x[r * d.n_features + 2];
            *v = match r % 7 {
                0 => -0.0,
                1 => 0.0,
                2 => f32::INFINITY,
                3 => f32::NEG_INFINITY,
                4 => (*v * 4.0).round(),
                _ => *v,
            };
        }
        let params = GbdtParams {
            n_trees: 40,
            max_depth: 5,
            subsample: 0.7,
            colsample_bytree: 0.6,
            max_bins: 64,
            ..Default::default()
        };
        let run = fit(&d, &params, None, &mut |_| {}).expect("trains");
        run.model.ensemble.validate().expect("valid ensemble");
        assert_eq!(run.model.ensemble.trees.len(), 40);
        let raw = raw_scores(&run.model.ensemble, &d);
        for (r, (a, b)) in raw.iter().zip(&run.train_margins).enumerate() {
            assert_eq!(
                a.to_bits(),
                b.to_bits(),
                "row {r}: ensemble {a} trainer {b}"
            );
        }
    }

    #[test]
    fn learns_xor_with_missing_values_and_beats_a_stump() {
        let train = xor_data(4000, 1);
        let test = xor_data(2000, 2);
        let params = GbdtParams {
            n_trees: 120,
            max_depth: 4,
            early_stopping_rounds: None,
            ..Default::default()
        };
        let m = train_gbdt(&train, &params, None, &mut |_| {}).expect("trains");
        m.ensemble.validate().expect("valid");
        let auc = roc_auc(&raw_scores(&m.ensemble, &test), &test.y, &[]).expect("two classes");
        let stump = train_gbdt(
            &train,
            &GbdtParams {
                max_depth: 1,
                ..params.clone()
            },
            None,
            &mut |_| {},
        )
        .expect("trains");
        let stump_auc =
            roc_auc(&raw_scores(&stump.ensemble, &test), &test.y, &[]).expect("two classes");
        assert!(auc > 0.95, "gbdt AUC {auc}");
        assert!(auc > stump_auc + 0.15, "gbdt {auc} vs stump {stump_auc}");
        // The informative features carry the gain.
        let g = &m.gain_importance;
        assert!(g[0] > g[4] * 5.0 && g[1] > g[4] * 5.0, "{g:?}");
        // Margins are probabilities after the logistic link.
        let p = m.ensemble.predict_proba(test.row(0).expect("row"));
        assert!((0.0..=1.0).contains(&p));
        assert_eq!(m.ensemble.aggregation, Aggregation::Sum);
        assert_eq!(m.ensemble.link, Link::Logistic);
    }
}

//! Random forest: bagged trees on the 0/1 label (the classic SOC model).
//!
//! Each tree sees a bootstrap sample (seeded, uniform with replacement; multiplicities become
//! weights) and draws `max_features` candidate features at every node. Splits minimise weighted
//! squared error on the label, which for 0/1 labels is the Gini criterion: the shared histogram
//! builder runs with `g = -w·c·y`, `h = w·c`, `λ = 0` (see `tree`). A leaf holds the weighted
//! positive fraction of its in-bag rows.
//!
//! Output: [`Aggregation::Mean`], [`Link::Identity`], `base_score = 0`, covers = weighted sample
//! counts (weight × bootstrap multiplicity). History reports training log-loss of the forest so
//! far and the out-of-bag log-loss.
//!
//! Trees are independent, so threads build them in chunks of `n_threads`; tree `t` always uses
//! random stream `t` of the seed, so the forest does not depend on the thread count.

use serde::{Deserialize, Serialize};
use shrike_score::{Aggregation, Link, Node, TreeEnsemble};

use crate::binning::{Binned, MAX_VALUE_BINS};
use crate::rng::Rng;
use crate::tree::{grow, RawTree, Sampling, Stats, TreeConfig, Workspace, HIST_BUDGET_BYTES};
use crate::{check_range, Dataset, Progress, TrainError, TrainedModel};

/// Forest parameters. `Default` follows scikit-learn where it can (sqrt features, bootstrap).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ForestParams {
    /// Number of trees. Default 200.
    pub n_trees: usize,
    /// Deepest leaf (root = 0), 1..=64. Default 16.
    pub max_depth: usize,
    /// Least in-bag rows (counting bootstrap repeats) per leaf. Default 1.
    pub min_samples_leaf: usize,
    /// Candidate features per split; `None` = `max(1, floor(sqrt(n_features)))`. A node whose
    /// candidates give no valid split becomes a leaf (scikit-learn would draw more features).
    pub max_features: Option<usize>,
    /// Bootstrap rows (with replacement); `false` = every tree sees every row once.
    pub bootstrap: bool,
    /// Bootstrap sample size as a fraction of the rows, in (0, 1]. Default 1.
    pub sample_fraction: f64,
    /// Value bins per feature, 2..=255 (plus a missing bin). Default 255.
    pub max_bins: usize,
    /// Seed for bootstrap and feature draws.
    pub seed: u64,
    /// Threads (trees built in parallel; results do not depend on it). Default 2.
    pub n_threads: usize,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            n_trees: 200,
            max_depth: 16,
            min_samples_leaf: 1,
            max_features: None,
            bootstrap: true,
            sample_fraction: 1.0,
            max_bins: MAX_VALUE_BINS,
            seed: 0,
            n_threads: 2,
        }
    }
}

impl ForestParams {
    /// Checks every parameter's range.
    pub fn validate(&self) -> Result<(), TrainError> {
        crate::check_tree_params(
            self.n_trees,
            self.max_depth,
            self.min_samples_leaf,
            self.max_bins,
            self.n_threads,
        )?;
        if self.max_features == Some(0) {
            return Err(TrainError::InvalidParam {
                name: "max_features",
                reason: "must be at least 1 (or None)".to_string(),
            });
        }
        check_range(
            "sample_fraction",
            self.sample_fraction,
            f64::MIN_POSITIVE,
            1.0,
        )
    }
}

/// Trains a random forest on `data` (labels 0/1, sample weights `data.w`). `progress` is called
/// once per tree, in tree order, on the calling thread.
///
/// Errors: invalid data or parameters, only one weighted class ([`TrainError::OneClass`]).
pub fn train_random_forest(
    data: &Dataset,
    params: &ForestParams,
    progress: &mut dyn FnMut(Progress),
) -> Result<TrainedModel, TrainError> {
    fit(data, params, progress).map(|(m, _)| m)
}

/// One built tree with the bootstrap multiplicity of every row.
struct Bagged {
    raw: RawTree,
    counts: Vec<u32>,
}

/// Trains and also returns the trainer's raw value (mean leaf) per training row.
pub(crate) fn fit(
    data: &Dataset,
    params: &ForestParams,
    progress: &mut dyn FnMut(Progress),
) -> Result<(TrainedModel, Vec<f64>), TrainError> {
    data.validate()?;
    params.validate()?;
    let (pos, neg) = data.require_both_classes()?;
    let prior = pos / (pos + neg);
    let (n, nf) = (data.n_rows, data.n_features);
    let binned = Binned::new(data, params.max_bins, params.n_threads);
    let k = params
        .max_features
        .unwrap_or_else(|| ((nf as f64).sqrt().floor() as usize).max(1))
        .min(nf);
    let cfg = TreeConfig {
        max_depth: params.max_depth,
        max_leaves: usize::MAX,
        min_child_weight: 0.0,
        min_samples_leaf: params.min_samples_leaf as f64,
        lambda: 0.0,
        gamma: 0.0,
        n_threads: 1,
        hist_budget_bytes: HIST_BUDGET_BYTES,
    };
    let build_tree = |t: usize, ws: &mut Workspace| -> Bagged {
        let mut rng = Rng::stream(params.seed, t as u64);
        let mut counts = vec![0u32; n];
        if params.bootstrap {
            let draws = ((params.sample_fraction * n as f64).round() as usize).max(1);
            for _ in 0..draws {
                counts[rng.below(n as u64) as usize] += 1;
            }
        } else {
            counts.fill(1);
        }
        let mut rows = Vec::new();
        let mut grads = Vec::new();
        for (r, &c) in counts.iter().enumerate() {
            let w = f64::from(data.w[r]) * f64::from(c);
            if w > 0.0 {
                rows.push(r as u32);
                grads.push(Stats {
                    g: -w * f64::from(data.y[r]),
                    h: w,
                    n: f64::from(c),
                });
            }
        }
        let raw = grow(
            &binned,
            &cfg,
            &mut rows,
            &mut grads,
            Sampling::PerNode { k, rng: &mut rng },
            ws,
        );
        Bagged { raw, counts }
    };
    let threads = params.n_threads.min(params.n_trees).max(1);
    let mut workspaces: Vec<Workspace> = (0..threads).map(|_| Workspace::default()).collect();
    let mut ensemble = TreeEnsemble {
        trees: Vec::with_capacity(params.n_trees),
        base_score: 0.0,
        aggregation: Aggregation::Mean,
        link: Link::Identity,
        n_features: nf,
    };
    let mut gain_importance = vec![0.0; nf];
    let mut leaf_sum = vec![0.0f64; n];
    let mut oob_sum = vec![0.0f64; n];
    let mut oob_count = vec![0u32; n];
    let mut history = Vec::with_capacity(params.n_trees);
    let mut start = 0;
    while start < params.n_trees {
        let chunk = threads.min(params.n_trees - start);
        let built: Vec<Bagged> = if chunk == 1 {
            vec![build_tree(start, &mut workspaces[0])]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = workspaces
                    .iter_mut()
                    .take(chunk)
                    .enumerate()
                    .map(|(i, ws)| {
                        let build_tree = &build_tree;
                        s.spawn(move || build_tree(start + i, ws))
                    })
                    .collect();
                handles
                    .into_iter()
                    // A panic in a worker is a bug in the builder; re-raise it here.
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            })
        };
        for b in built {
            let tree = b.raw.to_tree(&binned, |s| {
                if s.h > 0.0 {
                    (-s.g / s.h).clamp(0.0, 1.0)
                } else {
                    prior
                }
            });
            b.raw.add_gains(&mut gain_importance);
            for r in 0..n {
                let leaf = b.raw.leaf_of(&binned, r);
                if let Some(Node::Leaf { value, .. }) = tree.nodes.get(leaf) {
                    leaf_sum[r] += *value;
                    if b.counts[r] == 0 {
                        oob_sum[r] += *value;
                        oob_count[r] += 1;
                    }
                }
            }
            ensemble.trees.push(tree);
            let t = ensemble.trees.len();
            let train_loss =
                weighted_log_loss(data, |r| Some(leaf_sum[r] / t as f64)).unwrap_or(f64::NAN);
            let oob_loss = weighted_log_loss(data, |r| {
                (oob_count[r] > 0).then(|| oob_sum[r] / f64::from(oob_count[r]))
            });
            history.push((t, train_loss, oob_loss));
            progress(Progress {
                iteration: t,
                n_trees: params.n_trees,
                train_loss,
                valid_loss: oob_loss,
            });
        }
        start += chunk;
    }
    ensemble
        .validate()
        .map_err(|e| TrainError::Diverged(e.to_string()))?;
    let t = ensemble.trees.len() as f64;
    let raw = leaf_sum.iter().map(|s| s / t).collect();
    Ok((
        TrainedModel {
            ensemble,
            gain_importance,
            history,
            best_iteration: params.n_trees,
        },
        raw,
    ))
}

/// Weighted mean log-loss over rows where `prob(r)` is `Some` (probabilities clipped to
/// `[1e-15, 1 - 1e-15]`); `None` when no such row carries weight.
fn weighted_log_loss(d: &Dataset, prob: impl Fn(usize) -> Option<f64>) -> Option<f64> {
    let (mut loss, mut weight) = (0.0, 0.0);
    for (r, (&y, &w)) in d.y.iter().zip(&d.w).enumerate() {
        if let Some(p) = prob(r) {
            let p = p.clamp(1e-15, 1.0 - 1e-15);
            let w = f64::from(w);
            loss -= w * if y == 1.0 { p.ln() } else { (1.0 - p).ln() };
            weight += w;
        }
    }
    (weight > 0.0).then(|| loss / weight)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trainer_raw_equals_ensemble_raw_on_training_rows() {
        let n = 1500;
        let nf = 6;
        let mut rng = Rng::new(21);
        let mut x: Vec<f32> = (0..n * nf)
            .map(|i| {
                if i % 13 == 0 {
                    f32::NAN
                } else {
                    (rng.normal() * 3.0).round() as f32 * 0.5
                }
            })
            .collect();
        x[5] = -0.0;
        x[11] = f32::INFINITY;
        let y: Vec<f32> = (0..n)
            .map(|r| {
                f32::from(u8::from(
                    x[r * nf].max(-9.0) + x[r * nf + 1].max(-9.0) > 0.0,
                ))
            })
            .collect();
        let w: Vec<f32> = (0..n)
            .map(|r| {
                if r % 10 == 0 {
                    0.0
                } else {
                    1.0 + (r % 3) as f32
                }
            })
            .collect();
        let d = Dataset::new(x, n, nf, y, w).expect("valid");
        let params = ForestParams {
            n_trees: 9,
            max_depth: 10,
            n_threads: 2,
            ..Default::default()
        };
        let (m, raw) = fit(&d, &params, &mut |_| {}).expect("trains");
        for (r, v) in raw.iter().enumerate() {
            let e = m.ensemble.raw(d.row(r).expect("row"));
            assert_eq!(e.to_bits(), v.to_bits(), "row {r}");
        }
        // Thread count does not change the forest.
        let one = fit(
            &d,
            &ForestParams {
                n_threads: 1,
                ..params
            },
            &mut |_| {},
        )
        .expect("trains");
        assert_eq!(one.0.ensemble, m.ensemble);
    }
}

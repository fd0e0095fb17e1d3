//! One-shot timing of realistic training runs (a training run takes seconds, too long for
//! criterion's repeated sampling).
//!
//! `cargo bench -p shrike-train --bench timing` times, in the release profile:
//! - GBDT, 20,000 rows × 300 features, 300 trees, depth 6 (default sampling 0.8/0.8, and again
//!   without sampling), 2 threads;
//! - random forest, same data, 200 trees, depth 16.
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it trains a tiny model and exits, so
//! the target stays compiled and working without costing test time. `SHRIKE_BENCH_TREES` and
//! `SHRIKE_BENCH_THREADS` override the tree count and thread count (quick A/B comparisons).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use shrike_train::metrics::roc_auc;
use shrike_train::{train_gbdt, train_random_forest, ForestParams, GbdtParams};

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (rows, features, mut trees) = if full {
        (20_000, 300, 300)
    } else {
        (500, 20, 5)
    };
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
    trees = env("SHRIKE_BENCH_TREES").unwrap_or(trees);
    let threads = env("SHRIKE_BENCH_THREADS").unwrap_or(2);
    let t0 = Instant::now();
    let train = common::logistic(rows, features, 1);
    let test = common::logistic(rows / 4, features, 2);
    eprintln!(
        "data: {rows} rows x {features} features ({:.2}s to generate), {threads} threads",
        t0.elapsed().as_secs_f64()
    );
    for (name, subsample, colsample) in [
        ("gbdt default sampling", 0.8, 0.8),
        ("gbdt no sampling", 1.0, 1.0),
    ] {
        let params = GbdtParams {
            n_trees: trees,
            max_depth: 6,
            subsample,
            colsample_bytree: colsample,
            early_stopping_rounds: None,
            n_threads: threads,
            ..Default::default()
        };
        let t = Instant::now();
        let m = train_gbdt(&train, &params, None, &mut |_| {}).expect("trains");
        let secs = t.elapsed().as_secs_f64();
        let auc = roc_auc(&common::raw_scores(&m.ensemble, &test), &test.y, &[]);
        let leaves: usize = m
            .ensemble
            .trees
            .iter()
            .map(|t| t.nodes.len().div_ceil(2))
            .sum();
        eprintln!(
            "{name}: {} trees depth 6, {leaves} leaves, {secs:.2}s, test AUC {:.4}",
            m.ensemble.trees.len(),
            auc.unwrap_or(f64::NAN)
        );
    }
    let params = ForestParams {
        n_trees: if full { trees * 2 / 3 } else { 5 },
        max_depth: 16,
        n_threads: threads,
        ..Default::default()
    };
    let t = Instant::now();
    let m = train_random_forest(&train, &params, &mut |_| {}).expect("trains");
    let secs = t.elapsed().as_secs_f64();
    let auc = roc_auc(&common::probabilities(&m.ensemble, &test), &test.y, &[]);
    eprintln!(
        "random forest: {} trees depth 16, {secs:.2}s, test AUC {:.4}",
        m.ensemble.trees.len(),
        auc.unwrap_or(f64::NAN)
    );
}

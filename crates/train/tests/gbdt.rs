//! Gradient boosting through the public API: learning, determinism, early stopping, edge cases.

mod common;

use shrike_score::{Node, TreeEnsemble};
use shrike_train::metrics::roc_auc;
use shrike_train::{train_gbdt, Dataset, GbdtParams, Progress, TrainError};

fn quick() -> GbdtParams {
    GbdtParams {
        n_trees: 60,
        max_depth: 4,
        early_stopping_rounds: None,
        ..Default::default()
    }
}

fn fingerprint(e: &TreeEnsemble) -> Vec<u64> {
    let mut bits = vec![e.base_score.to_bits()];
    for t in &e.trees {
        for n in &t.nodes {
            match *n {
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                    default_left,
                    cover,
                } => bits.extend([
                    u64::from(feature),
                    u64::from(threshold.to_bits()),
                    u64::from(left),
                    u64::from(right),
                    u64::from(default_left),
                    cover.to_bits(),
                ]),
                Node::Leaf { value, cover } => bits.extend([value.to_bits(), cover.to_bits()]),
            }
        }
    }
    bits
}

#[test]
fn xor_with_missing_values_generalises() {
    let train = common::xor(5000, 10, 0.0, 1);
    let test = common::xor(2000, 10, 0.0, 2);
    let m = train_gbdt(&train, &quick(), None, &mut |_| {}).expect("trains");
    m.ensemble.validate().expect("valid ensemble");
    let auc = roc_auc(&common::raw_scores(&m.ensemble, &test), &test.y, &[]).expect("auc");
    let stump = train_gbdt(
        &train,
        &GbdtParams {
            max_depth: 1,
            ..quick()
        },
        None,
        &mut |_| {},
    )
    .expect("trains");
    let stump_auc =
        roc_auc(&common::raw_scores(&stump.ensemble, &test), &test.y, &[]).expect("auc");
    assert!(auc > 0.95, "AUC {auc}");
    assert!(stump_auc < 0.8, "a stump cannot learn XOR: {stump_auc}");
    // Prior: balanced XOR, so base_score = log-odds of the training prior, near 0.
    let (pos, neg) = train.class_weights();
    assert_eq!(m.ensemble.base_score, (pos / neg).ln());
}

#[test]
fn deterministic_given_seed_and_independent_of_threads() {
    let d = common::logistic(3000, 30, 5);
    let p = GbdtParams {
        n_trees: 25,
        subsample: 0.7,
        colsample_bytree: 0.5,
        seed: 99,
        ..quick()
    };
    let a = train_gbdt(&d, &p, None, &mut |_| {}).expect("trains");
    let b = train_gbdt(&d, &p, None, &mut |_| {}).expect("trains");
    assert_eq!(fingerprint(&a.ensemble), fingerprint(&b.ensemble));
    assert_eq!(a, b);
    let one_thread = train_gbdt(
        &d,
        &GbdtParams {
            n_threads: 1,
            ..p.clone()
        },
        None,
        &mut |_| {},
    )
    .expect("trains");
    assert_eq!(fingerprint(&a.ensemble), fingerprint(&one_thread.ensemble));
    let other_seed =
        train_gbdt(&d, &GbdtParams { seed: 100, ..p }, None, &mut |_| {}).expect("trains");
    assert_ne!(fingerprint(&a.ensemble), fingerprint(&other_seed.ensemble));
}

#[test]
fn training_loss_decreases_every_round_and_progress_reports_each_tree() {
    let d = common::logistic(2000, 12, 8);
    let mut seen: Vec<Progress> = Vec::new();
    let p = GbdtParams {
        n_trees: 40,
        subsample: 1.0,
        colsample_bytree: 1.0,
        ..quick()
    };
    let m = train_gbdt(&d, &p, None, &mut |pr| seen.push(pr)).expect("trains");
    assert_eq!(m.history.len(), 40);
    assert_eq!(seen.len(), 40);
    assert_eq!(seen[39].iteration, 40);
    assert_eq!(seen[0].n_trees, 40);
    for w in m.history.windows(2) {
        assert!(w[1].1 <= w[0].1, "loss rose: {:?} -> {:?}", w[0], w[1]);
    }
    // Starting from the prior's log-loss (≈ entropy of the base rate), it falls a lot.
    let (pos, neg) = d.class_weights();
    let q = pos / (pos + neg);
    let prior_loss = -(q * q.ln() + (1.0 - q) * (1.0 - q).ln());
    assert!(m.history[0].1 < prior_loss);
    assert!(m.history[39].1 < 0.75 * prior_loss, "{:?}", m.history[39]);
    assert_eq!(m.best_iteration, 40);
    assert!(m.history.iter().all(|h| h.2.is_none()));
}

#[test]
fn early_stopping_stops_and_keeps_the_best_round() {
    // Noisy labels and deep trees: validation loss bottoms out early.
    let train = common::xor(1500, 10, 0.3, 3);
    let valid = common::xor(1500, 10, 0.3, 4);
    let p = GbdtParams {
        n_trees: 500,
        max_depth: 8,
        learning_rate: 0.3,
        min_child_weight: 0.0,
        early_stopping_rounds: Some(10),
        ..Default::default()
    };
    let m = train_gbdt(&train, &p, Some(&valid), &mut |_| {}).expect("trains");
    let best = m.best_iteration;
    assert!(best < 100, "best iteration {best}");
    assert_eq!(m.ensemble.trees.len(), best);
    assert_eq!(
        m.history.len(),
        best + 10,
        "stopped 10 rounds after the best"
    );
    let losses: Vec<f64> = m.history.iter().map(|h| h.2.expect("valid loss")).collect();
    let min = losses.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(losses[best - 1], min);
    // The kept ensemble's validation log-loss is that minimum.
    let probs = common::probabilities(&m.ensemble, &valid);
    let ll = shrike_train::metrics::log_loss(&probs, &valid.y, &[]).expect("defined");
    assert!((ll - min).abs() < 1e-9, "{ll} vs {min}");
    // Gain importance only counts kept trees; x0 and x1 lead it.
    let g = &m.gain_importance;
    assert!(g[2..].iter().all(|&n| n < g[0] && n < g[1]), "{g:?}");
}

#[test]
fn weights_shift_the_prior_and_zero_weight_rows_are_ignored() {
    let d = common::logistic(1500, 8, 12);
    let mut w2 = d.clone();
    w2.w = d.class_balance_weights();
    let (pos, neg) = w2.class_weights();
    assert!((pos - neg).abs() < 1e-3 * neg);
    let m = train_gbdt(&w2, &quick(), None, &mut |_| {}).expect("trains");
    assert!(m.ensemble.base_score.abs() < 1e-3);
    // Zeroing half the rows' weights equals dropping them... except the bins, which see all
    // rows; so compare against a model whose zero-weight rows carry garbage labels instead.
    let mut zeroed = d.clone();
    let mut garbage = d.clone();
    for r in 0..d.n_rows {
        if r % 2 == 0 {
            zeroed.w[r] = 0.0;
            garbage.w[r] = 0.0;
            garbage.y[r] = 1.0 - garbage.y[r];
        }
    }
    let a = train_gbdt(&zeroed, &quick(), None, &mut |_| {}).expect("trains");
    let b = train_gbdt(&garbage, &quick(), None, &mut |_| {}).expect("trains");
    assert_eq!(a.ensemble, b.ensemble);
}

#[test]
fn covers_are_hessian_sums_and_leaves_add_up() {
    let d = common::logistic(1000, 6, 2);
    let p = GbdtParams {
        n_trees: 3,
        subsample: 1.0,
        ..quick()
    };
    let m = train_gbdt(&d, &p, None, &mut |_| {}).expect("trains");
    // First tree: every row has p = prior q, so h = q(1 - q) and the root cover is n·q(1 - q).
    let (pos, neg) = d.class_weights();
    let q = pos / (pos + neg);
    let root = m.ensemble.trees[0].nodes[0].cover();
    let expected = d.n_rows as f64 * (q * (1.0 - q));
    assert!(
        (root - expected).abs() < 1e-9 * expected,
        "{root} vs {expected}"
    );
    for t in &m.ensemble.trees {
        for n in &t.nodes {
            if let Node::Split {
                left, right, cover, ..
            } = n
            {
                let sum = t.nodes[*left as usize].cover() + t.nodes[*right as usize].cover();
                assert!((sum - cover).abs() < 1e-9 * cover);
            }
        }
    }
}

#[test]
fn degenerate_inputs_give_clear_errors_or_sane_models() {
    let noop = &mut |_: Progress| {};
    // One class.
    let one = Dataset::new(vec![1.0, 2.0], 2, 1, vec![1.0, 1.0], vec![1.0, 1.0]).expect("ok");
    assert!(matches!(
        train_gbdt(&one, &quick(), None, noop),
        Err(TrainError::OneClass { .. })
    ));
    // All weights zero.
    let zero = Dataset::new(vec![1.0, 2.0], 2, 1, vec![0.0, 1.0], vec![0.0, 0.0]).expect("ok");
    assert_eq!(
        train_gbdt(&zero, &quick(), None, noop),
        Err(TrainError::ZeroTotalWeight)
    );
    // Fields edited after construction are re-checked.
    let mut broken = common::logistic(50, 5, 1);
    broken.y.pop();
    assert!(matches!(
        train_gbdt(&broken, &quick(), None, noop),
        Err(TrainError::ShapeMismatch { what: "y", .. })
    ));
    // Validation set with other features.
    let d = common::logistic(200, 5, 1);
    let v = common::logistic(50, 6, 2);
    assert_eq!(
        train_gbdt(&d, &quick(), Some(&v), noop),
        Err(TrainError::FeatureCountMismatch { train: 5, valid: 6 })
    );
    // Bad parameters.
    for bad in [
        GbdtParams {
            n_trees: 0,
            ..quick()
        },
        GbdtParams {
            learning_rate: f64::NAN,
            ..quick()
        },
        GbdtParams {
            max_depth: 0,
            ..quick()
        },
        GbdtParams {
            subsample: 0.0,
            ..quick()
        },
        GbdtParams {
            max_bins: 256,
            ..quick()
        },
    ] {
        assert!(matches!(
            train_gbdt(&d, &bad, None, noop),
            Err(TrainError::InvalidParam { .. })
        ));
    }
    // Features that are all NaN, or constant, or infinite: trees are single leaves, and the
    // model predicts the prior.
    let x = vec![
        f32::NAN,
        3.0,
        f32::INFINITY,
        f32::NAN,
        3.0,
        f32::INFINITY,
        f32::NAN,
        3.0,
        f32::INFINITY,
    ];
    let flat = Dataset::new(x, 3, 3, vec![1.0, 0.0, 0.0], vec![1.0; 3]).expect("ok");
    let full = GbdtParams {
        subsample: 1.0,
        ..quick()
    };
    let m = train_gbdt(&flat, &full, None, noop).expect("trains");
    m.ensemble.validate().expect("valid");
    assert!(m.ensemble.trees.iter().all(|t| t.nodes.len() == 1));
    let p = m.ensemble.predict_proba(&[f32::NAN, 3.0, f32::INFINITY]);
    assert!((p - 1.0 / 3.0).abs() < 1e-9, "{p}");
    // A single row per class still trains (no split can satisfy min_child_weight = 1).
    let tiny = Dataset::new(vec![0.0, 1.0], 2, 1, vec![0.0, 1.0], vec![1.0; 2]).expect("ok");
    let m = train_gbdt(&tiny, &quick(), None, noop).expect("trains");
    m.ensemble.validate().expect("valid");
}

#[test]
fn ensemble_survives_the_model_file_round_trip() {
    // Thresholds can be infinite (a cut between f32::MAX and inf); the wire form must keep them.
    let mut d = common::logistic(800, 6, 4);
    for r in 0..d.n_rows {
        if r % 5 == 0 {
            d.x[r * 6] = f32::INFINITY;
        }
        if r % 7 == 0 {
            d.x[r * 6] = f32::MAX;
        }
    }
    let m = train_gbdt(&d, &quick(), None, &mut |_| {}).expect("trains");
    let json = serde_json::to_string(&m.ensemble).expect("serialises");
    let back: TreeEnsemble = serde_json::from_str(&json).expect("parses");
    back.validate().expect("valid");
    assert_eq!(fingerprint(&back), fingerprint(&m.ensemble));
}

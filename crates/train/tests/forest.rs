//! Random forest through the public API.

mod common;

use shrike_score::{Aggregation, Link, Node};
use shrike_train::metrics::roc_auc;
use shrike_train::{train_random_forest, Dataset, ForestParams, TrainError};

fn quick() -> ForestParams {
    ForestParams {
        n_trees: 40,
        max_depth: 10,
        ..Default::default()
    }
}

#[test]
fn forest_learns_and_predicts_probabilities() {
    let train = common::logistic(4000, 20, 31);
    let test = common::logistic(2000, 20, 32);
    let mut seen = 0;
    let m = train_random_forest(&train, &quick(), &mut |p| {
        seen += 1;
        assert_eq!(p.iteration, seen);
    })
    .expect("trains");
    assert_eq!(seen, 40);
    m.ensemble.validate().expect("valid ensemble");
    assert_eq!(m.ensemble.aggregation, Aggregation::Mean);
    assert_eq!(m.ensemble.link, Link::Identity);
    assert_eq!(m.ensemble.base_score, 0.0);
    assert_eq!(m.ensemble.trees.len(), 40);
    let probs = common::probabilities(&m.ensemble, &test);
    assert!(probs.iter().all(|p| (0.0..=1.0).contains(p)));
    let auc = roc_auc(&probs, &test.y, &[]).expect("auc");
    // Labels are drawn from a logistic model, so no model is perfect: boosting reaches about 0.86
    // on this task (tests/pipeline.rs), this small forest about 0.85.
    assert!(auc > 0.82, "AUC {auc}");
    // Leaves hold positive fractions.
    for t in &m.ensemble.trees {
        for n in &t.nodes {
            if let Node::Leaf { value, .. } = n {
                assert!((0.0..=1.0).contains(value));
            }
        }
    }
    // OOB loss exists once rows have been out of bag, and is worse than the training loss.
    let last = m.history.last().expect("history");
    let oob = last.2.expect("oob loss");
    assert!(oob > last.1, "{last:?}");
    assert_eq!(m.best_iteration, 40);
    // Informative features 0 and 1 lead the gain importance.
    let mut order: Vec<usize> = (0..20).collect();
    order.sort_by(|&a, &b| m.gain_importance[b].total_cmp(&m.gain_importance[a]));
    assert!(
        order[..3].contains(&0) && order[..3].contains(&1),
        "{order:?}"
    );
}

#[test]
fn forest_separates_an_easy_task_above_0_9() {
    // y = 1 exactly when x0 + x1 > 0: separable, so the forest's AUC is near 1.
    let n = 3000;
    let mut d = common::logistic(n, 6, 41);
    for r in 0..n {
        let (a, b) = (d.x[r * 6], d.x[r * 6 + 1]);
        d.y[r] = f32::from(u8::from(a.max(-5.0) + b.max(-5.0) > 0.0));
    }
    let test = d.subset(&(2000..n).collect::<Vec<_>>()).expect("subset");
    let train = d.subset(&(0..2000).collect::<Vec<_>>()).expect("subset");
    let m = train_random_forest(&train, &quick(), &mut |_| {}).expect("trains");
    let auc = roc_auc(&common::probabilities(&m.ensemble, &test), &test.y, &[]).expect("auc");
    assert!(auc > 0.9, "AUC {auc}");
}

#[test]
fn covers_are_weighted_bootstrap_counts() {
    let d = common::logistic(500, 6, 7);
    let mut weighted = d.clone();
    weighted.w = (0..d.n_rows)
        .map(|r| if r % 2 == 0 { 2.0 } else { 0.5 })
        .collect();
    for (data, bootstrap) in [(&d, false), (&weighted, false), (&d, true)] {
        let p = ForestParams {
            n_trees: 5,
            bootstrap,
            ..quick()
        };
        let m = train_random_forest(data, &p, &mut |_| {}).expect("trains");
        for t in &m.ensemble.trees {
            let root = t.nodes[0].cover();
            if !bootstrap {
                // Every row once: the root cover is the total weight.
                let total: f64 = data.w.iter().map(|&w| f64::from(w)).sum();
                assert!((root - total).abs() < 1e-9, "{root} vs {total}");
            } else {
                // n draws with unit weights: the root cover is n.
                assert_eq!(root, data.n_rows as f64);
            }
        }
    }
}

#[test]
fn forest_is_deterministic_and_rejects_bad_input() {
    let d = common::xor(1500, 8, 0.05, 9);
    let a = train_random_forest(&d, &quick(), &mut |_| {}).expect("trains");
    let b = train_random_forest(&d, &quick(), &mut |_| {}).expect("trains");
    assert_eq!(a, b);
    let c =
        train_random_forest(&d, &ForestParams { seed: 1, ..quick() }, &mut |_| {}).expect("trains");
    assert_ne!(a.ensemble, c.ensemble);
    let one = Dataset::new(vec![1.0, 2.0], 2, 1, vec![0.0, 0.0], vec![1.0, 1.0]).expect("ok");
    assert!(matches!(
        train_random_forest(&one, &quick(), &mut |_| {}),
        Err(TrainError::OneClass { .. })
    ));
    for bad in [
        ForestParams {
            max_features: Some(0),
            ..quick()
        },
        ForestParams {
            sample_fraction: 1.5,
            ..quick()
        },
        ForestParams {
            min_samples_leaf: 0,
            ..quick()
        },
    ] {
        assert!(matches!(
            train_random_forest(&d, &bad, &mut |_| {}),
            Err(TrainError::InvalidParam { .. })
        ));
    }
    // min_samples_leaf bounds every leaf's in-bag count from below (without bootstrap, the
    // count is the row count: covers equal counts with unit weights).
    let m = train_random_forest(
        &d,
        &ForestParams {
            min_samples_leaf: 25,
            bootstrap: false,
            ..quick()
        },
        &mut |_| {},
    )
    .expect("trains");
    for t in &m.ensemble.trees {
        for n in &t.nodes {
            if let Node::Leaf { cover, .. } = n {
                assert!(*cover >= 25.0, "{cover}");
            }
        }
    }
}

//! Properties of the evaluator, TreeSHAP and the tree wire form over random valid ensembles:
//! the compiled evaluator equals the reference bit for bit (single row and batch), TreeSHAP is
//! locally accurate and gives unused features nothing, and trees survive a JSON round trip.

use proptest::prelude::*;
use shrike_score::compiled::CompiledEnsemble;
use shrike_score::shap::ShapScratch;
use shrike_score::{Aggregation, Link, Node, Tree, TreeEnsemble};

/// Thresholds and inputs share values so that `x == threshold` is common.
const GRID: [f32; 10] = [
    -1.0,
    -0.5,
    -0.0,
    0.0,
    0.5,
    1.0,
    2.0,
    f32::MIN_POSITIVE,
    f32::INFINITY,
    f32::NEG_INFINITY,
];

#[derive(Debug, Clone)]
struct Desc {
    split: bool,
    feature: u32,
    threshold: f32,
    default_left: bool,
    swap: bool,
    value: f64,
    cover: f64,
}

fn desc() -> impl Strategy<Value = Desc> {
    (
        prop::bool::weighted(0.6),
        0u32..6,
        prop_oneof![prop::sample::select(GRID.to_vec()), -3.0f32..3.0],
        any::<bool>(),
        any::<bool>(),
        -10.0f64..10.0,
        0.5f64..100.0,
    )
        .prop_map(
            |(split, feature, threshold, default_left, swap, value, cover)| Desc {
                split,
                feature,
                threshold,
                default_left,
                swap,
                value,
                cover,
            },
        )
}

/// Builds a tree from descriptors, depth-first, with children sometimes stored right-first so
/// the reference layout differs from the compiled one.
fn build(descs: &[Desc], n_features: u32, max_depth: usize) -> Tree {
    let placeholder = Node::Leaf {
        value: 0.0,
        cover: 0.0,
    };
    let mut nodes = vec![placeholder];
    let mut stack = vec![(0usize, 0usize)];
    let mut k = 0;
    while let Some((slot, depth)) = stack.pop() {
        let d = &descs[k % descs.len()];
        k += 1;
        let node = if d.split && depth < max_depth && k < descs.len() {
            let a = nodes.len() as u32;
            nodes.extend([placeholder, placeholder]);
            let (left, right) = if d.swap { (a + 1, a) } else { (a, a + 1) };
            stack.push((left as usize, depth + 1));
            stack.push((right as usize, depth + 1));
            Node::Split {
                feature: d.feature % n_features,
                threshold: d.threshold,
                left,
                right,
                default_left: d.default_left,
                cover: d.cover,
            }
        } else {
            Node::Leaf {
                value: d.value,
                cover: d.cover,
            }
        };
        nodes[slot] = node;
    }
    Tree { nodes }
}

fn ensemble() -> impl Strategy<Value = TreeEnsemble> {
    (
        prop::collection::vec(prop::collection::vec(desc(), 1..40), 0..8),
        any::<bool>(),
        -2.0f64..2.0,
        1u32..6,
        1usize..9,
    )
        .prop_map(|(trees, mean, base_score, n_features, max_depth)| {
            let e = TreeEnsemble {
                trees: trees
                    .iter()
                    .map(|d| build(d, n_features, max_depth))
                    .collect(),
                base_score,
                aggregation: if mean {
                    Aggregation::Mean
                } else {
                    Aggregation::Sum
                },
                link: if mean { Link::Identity } else { Link::Logistic },
                n_features: n_features as usize,
            };
            assert_eq!(e.validate(), Ok(()), "generator builds valid trees");
            e
        })
}

fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        prop::sample::select(GRID.to_vec()),
        Just(f32::NAN),
        -3.0f32..3.0,
    ]
}

/// Rows of `n` features (the ensemble may use fewer).
fn rows(n: usize, max_rows: usize) -> impl Strategy<Value = Vec<f32>> {
    (1..max_rows).prop_flat_map(move |r| prop::collection::vec(value(), r * n))
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || a == b || (a.is_nan() && b.is_nan())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Exact equality: the compiled form sums the same f64 leaves in the same tree order.
    #[test]
    fn compiled_equals_reference(e in ensemble(), xs in rows(6, 150)) {
        let c: CompiledEnsemble = e.compile().expect("valid ensembles compile");
        let n_rows = xs.len() / 6;
        let mut batch = vec![0.0; n_rows];
        c.raw_batch(&xs, 6, &mut batch);
        let mut proba = vec![0.0; n_rows];
        c.predict_proba_batch(&xs, 6, &mut proba);
        for (r, x) in xs.chunks_exact(6).enumerate() {
            let want = e.raw(x);
            prop_assert!(same(c.raw(x), want), "row {r}: {} vs {want}", c.raw(x));
            prop_assert!(same(batch[r], want), "batch row {r}: {} vs {want}", batch[r]);
            prop_assert!(same(c.predict_proba(x), e.predict_proba(x)));
            prop_assert!(same(proba[r], e.predict_proba(x)));
            // A short row reads the rest as NaN in both.
            prop_assert!(same(c.raw(&x[..r % 6]), e.raw(&x[..r % 6])));
        }
    }

    #[test]
    fn shap_is_locally_accurate(e in ensemble(), xs in rows(6, 8)) {
        let mut scratch = ShapScratch::new();
        let mut phi = vec![0.0; e.n_features];
        let mut phi2 = vec![0.0; e.n_features];
        for x in xs.chunks_exact(6) {
            let bias = e.shap_values_with(x, &mut phi, &mut scratch);
            let raw = e.raw(x);
            let total = bias + phi.iter().sum::<f64>();
            // Leaves are within ±10: the sums stay small, so an absolute bound is meaningful.
            prop_assert!((total - raw).abs() <= 1e-9, "bias {bias} + {phi:?} = {total} vs {raw}");
            // The thread-local entry point agrees with the explicit scratch.
            let bias2 = e.shap_values(x, &mut phi2);
            prop_assert_eq!(bias, bias2);
            prop_assert_eq!(&phi, &phi2);
            // The bias does not depend on x (up to summation order).
            let mut p0 = vec![0.0; e.n_features];
            prop_assert!((e.shap_values(&[], &mut p0) - bias).abs() <= 1e-12);
        }
    }

    /// A feature no split reads gets exactly zero ("missingness").
    #[test]
    fn unused_features_get_nothing(e in ensemble(), xs in rows(6, 4)) {
        let wide = TreeEnsemble { n_features: e.n_features + 2, ..e };
        let mut phi = vec![1.0; wide.n_features];
        for x in xs.chunks_exact(6) {
            wide.shap_values(x, &mut phi);
            prop_assert_eq!(&phi[wide.n_features - 2..], &[0.0, 0.0]);
        }
    }

    #[test]
    fn trees_round_trip_through_json(e in ensemble()) {
        let json = serde_json::to_string(&e).expect("serializes");
        let back: TreeEnsemble = serde_json::from_str(&json).expect("parses");
        prop_assert_eq!(&back, &e);
        if let Some(t) = e.trees.first() {
            let v: serde_json::Value = serde_json::to_value(t).expect("serializes");
            prop_assert_eq!(v["left"].as_array().map(Vec::len), Some(t.nodes.len()));
        }
    }
}

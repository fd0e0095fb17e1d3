//! The XGBoost and LightGBM loaders on tiny hand-written model files (values checked by hand) and
//! on hostile input (truncated, wrong types, cycles, huge counts, random bytes): errors that name
//! the problem, never panics.

use proptest::prelude::*;
use shrike_score::ensemble::EnsembleError;
use shrike_score::import::{from_lightgbm_text, from_xgboost_json, ImportError};
use shrike_score::{Aggregation, Link, Node};

/// One stump on feature 1 (< 0.5 left, NaN left): leaves -0.25 / 0.75; base score 0.5.
const XGB_TINY: &str = r#"{"learner":{
  "attributes":{},"feature_names":[],"feature_types":[],
  "learner_model_param":{"base_score":"[5E-1]","boost_from_average":"1","num_class":"0",
                         "num_feature":"2","num_target":"1"},
  "objective":{"name":"binary:logistic","reg_loss_param":{"scale_pos_weight":"1"}},
  "gradient_booster":{"name":"gbtree","model":{
    "gbtree_model_param":{"num_parallel_tree":"1","num_trees":"1"},
    "iteration_indptr":[0,1],"tree_info":[0],
    "trees":[{"id":0,
      "left_children":[1,-1,-1],"right_children":[2,-1,-1],"parents":[2147483647,0,0],
      "split_indices":[1,0,0],"split_conditions":[0.5,-0.25,0.75],"split_type":[0,0,0],
      "default_left":[1,0,0],"base_weights":[0.1,-0.5,1.5],"sum_hessian":[10.0,4.0,6.0],
      "loss_changes":[1.0,0.0,0.0],
      "categories":[],"categories_nodes":[],"categories_segments":[],"categories_sizes":[],
      "tree_param":{"num_deleted":"0","num_feature":"2","num_nodes":"3","size_leaf_vector":"1"}}]}}},
  "version":[3,2,0]}"#;

/// Two trees. Tree 0: x0 <= 0.5 (missing type None with the default-left bit clear: NaN still
/// goes left, because LightGBM reads it as 0) → 0.1, else
/// x1 <= 1.0000000000000002 (missing type NaN, default right) → 0.2 / 0.3. Tree 1: one leaf.
const LGB_TINY: &str = "tree
version=v4
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=1
objective=binary sigmoid:1
feature_names=a b
tree_sizes=300 100

Tree=0
num_leaves=3
num_cat=0
split_feature=0 1
split_gain=1 1
threshold=0.5 1.0000000000000002
decision_type=0 8
left_child=-1 -2
right_child=1 -3
leaf_value=0.1 0.2 0.30000000000000004
leaf_weight=1 1 1
leaf_count=5 3 2
internal_value=0 0
internal_weight=0 0
internal_count=10 5
is_linear=0
shrinkage=1


Tree=1
num_leaves=1
num_cat=0
split_feature=
split_gain=
threshold=
decision_type=
left_child=
right_child=
leaf_value=-0.5
leaf_weight=
leaf_count=
internal_value=
internal_weight=
internal_count=
is_linear=0
shrinkage=1


end of trees

feature_importances:
a=1
b=1

parameters:
[boosting: gbdt]
end of parameters

pandas_categorical:null
";

#[test]
fn xgboost_tiny_model() {
    let e = from_xgboost_json(XGB_TINY.as_bytes()).expect("loads");
    assert_eq!(e.n_features, 2);
    assert_eq!(e.link, Link::Logistic);
    assert_eq!(e.aggregation, Aggregation::Sum);
    // logit(0.5) = 0.
    assert_eq!(e.base_score, 0.0);
    assert_eq!(
        e.trees[0].nodes[0],
        Node::Split {
            feature: 1,
            threshold: 0.5,
            left: 1,
            right: 2,
            default_left: true,
            cover: 10.0
        }
    );
    // Leaf values come from split_conditions, not base_weights.
    assert_eq!(e.raw(&[0.0, 0.2]), -0.25);
    assert_eq!(e.raw(&[0.0, 0.5]), 0.75);
    assert_eq!(e.raw(&[0.0, f32::NAN]), -0.25);
    let p = e.predict_proba(&[0.0, 0.5]);
    assert!((p - 1.0 / (1.0 + (-0.75f64).exp())).abs() < 1e-15);
}

#[test]
fn xgboost_objectives_and_base_score() {
    let with = |objective: &str, base: &str| {
        from_xgboost_json(
            XGB_TINY
                .replace("binary:logistic", objective)
                .replace("[5E-1]", base)
                .as_bytes(),
        )
    };
    let e = with("binary:logistic", "2.5E-1").expect("loads");
    assert!((e.base_score - (1.0f64 / 3.0).ln()).abs() < 1e-15);
    assert_eq!(e.link, Link::Logistic);
    // logitraw: base_score is already a margin (XGBoost >= 1.4), so it may be any number.
    let e = with("binary:logitraw", "-2.5E0").expect("loads");
    assert_eq!((e.base_score, e.link), (-2.5, Link::Logistic));
    let old = XGB_TINY
        .replace("binary:logistic", "binary:logitraw")
        .replace("[3,2,0]", "[1,3,1]");
    assert!(matches!(
        from_xgboost_json(old.as_bytes()),
        Err(ImportError::Unsupported(m)) if m.contains("1.4")
    ));
    let e = with("reg:squarederror", "[2.5E-1]").expect("loads");
    assert_eq!((e.base_score, e.link), (0.25, Link::Identity));
    assert!(matches!(
        with("multi:softprob", "5E-1"),
        Err(ImportError::Unsupported(m)) if m.contains("multi:softprob")
    ));
    assert!(matches!(
        with("binary:logistic", "1E0"),
        Err(ImportError::Field {
            field: "learner_model_param.base_score",
            ..
        })
    ));
}

#[test]
fn lightgbm_tiny_model() {
    let e = from_lightgbm_text(LGB_TINY).expect("loads");
    assert_eq!((e.n_features, e.trees.len()), (2, 2));
    assert_eq!(e.link, Link::Logistic);
    assert_eq!(e.base_score, 0.0);
    let root = e.trees[0].nodes[0];
    // x <= 0.5 becomes x < next_up(0.5f32); None-missing with 0 <= 0.5: NaN goes left.
    assert_eq!(
        root,
        Node::Split {
            feature: 0,
            threshold: 0.5f32.next_up(),
            left: 1,
            right: 2,
            default_left: true,
            cover: 10.0
        }
    );
    let cases: [([f32; 2], f64); 7] = [
        ([0.5, 9.0], 0.1),
        ([0.5f32.next_up(), 1.0], 0.2),
        // 1.0000001 (the next f32 after 1) is above the double threshold.
        ([1.0, 1.0f32.next_up()], 0.30000000000000004),
        ([f32::NAN, 5.0], 0.1),
        ([1.0, f32::NAN], 0.30000000000000004),
        ([f32::NEG_INFINITY, 0.0], 0.1),
        ([f32::INFINITY, f32::NEG_INFINITY], 0.2),
    ];
    for (x, leaf) in cases {
        assert_eq!(e.raw(&x), leaf + -0.5, "{x:?}");
    }
}

/// LightGBM writes `threshold=inf` for "missing versus the rest" splits: every number, +inf
/// included, goes left. Shrike mirrors the split (`x < -inf`, children swapped).
#[test]
fn lightgbm_infinite_thresholds() {
    let x0 = 1.0; // root goes right, to node 1 on x1
    let e = from_lightgbm_text(
        &LGB_TINY.replace("threshold=0.5 1.0000000000000002", "threshold=0.5 inf"),
    )
    .expect("loads");
    for x1 in [f32::NEG_INFINITY, -1.0, 0.0, 1e30, f32::MAX, f32::INFINITY] {
        assert_eq!(e.raw(&[x0, x1]), 0.2 - 0.5, "{x1}");
    }
    // Missing type NaN, default right: NaN takes the other branch.
    assert_eq!(e.raw(&[x0, f32::NAN]), 0.30000000000000004 - 0.5);
    // Default left: everything goes left.
    let e = from_lightgbm_text(
        &LGB_TINY
            .replace("threshold=0.5 1.0000000000000002", "threshold=0.5 inf")
            .replace("decision_type=0 8", "decision_type=0 10"),
    )
    .expect("loads");
    assert_eq!(e.raw(&[x0, f32::NAN]), 0.2 - 0.5);
    assert_eq!(e.raw(&[x0, f32::INFINITY]), 0.2 - 0.5);
    // `x <= -inf`: only -inf goes left.
    let e = from_lightgbm_text(
        &LGB_TINY.replace("threshold=0.5 1.0000000000000002", "threshold=0.5 -inf"),
    )
    .expect("loads");
    assert_eq!(e.raw(&[x0, f32::NEG_INFINITY]), 0.2 - 0.5);
    assert_eq!(e.raw(&[x0, -f32::MAX]), 0.30000000000000004 - 0.5);
}

#[test]
fn lightgbm_sigmoid_and_average_output() {
    let e = from_lightgbm_text(&LGB_TINY.replace("sigmoid:1", "sigmoid:2")).expect("loads");
    // Leaves are scaled so that raw is the log-odds: 2 * (0.1 - 0.5).
    assert!((e.raw(&[0.0, 0.0]) - -0.8).abs() < 1e-15);
    let e = from_lightgbm_text(&LGB_TINY.replace("tree_sizes", "average_output\ntree_sizes"))
        .expect("loads");
    assert_eq!(e.aggregation, Aggregation::Mean);
    assert!((e.raw(&[0.0, 0.0]) - (0.1 - 0.5) / 2.0).abs() < 1e-15);
    let e = from_lightgbm_text(&LGB_TINY.replace("binary sigmoid:1", "regression")).expect("ok");
    assert_eq!(e.link, Link::Identity);
}

#[test]
fn lightgbm_zero_as_missing() {
    // Zero missing type (4) with default left: the zero band is already left of 0.5, so NaN and
    // zero both go left; representable.
    let e = from_lightgbm_text(&LGB_TINY.replace("decision_type=0 8", "decision_type=6 8"))
        .expect("loads");
    assert_eq!(e.raw(&[f32::NAN, 0.0]), 0.1 - 0.5);
    assert_eq!(e.raw(&[1e-36, 0.0]), 0.1 - 0.5);
    // Default right while zero compares left: not expressible with one `x < t` split.
    let err = from_lightgbm_text(&LGB_TINY.replace("decision_type=0 8", "decision_type=4 8"))
        .expect_err("rejected");
    assert!(
        matches!(&err, ImportError::Unsupported(m) if m.contains("tree 0 node 0") && m.contains("zero")),
        "{err}"
    );
}

#[test]
fn lightgbm_rejects_unsupported_features() {
    let cases = [
        ("decision_type=0 8", "decision_type=3 8", "categorical"),
        ("num_class=1", "num_class=3", "num_class"),
        (
            "objective=binary sigmoid:1",
            "objective=lambdarank",
            "lambdarank",
        ),
        (
            "is_linear=0\nshrinkage=1\n\n\nTree=1",
            "is_linear=1\nshrinkage=1\n\n\nTree=1",
            "linear",
        ),
    ];
    for (from, to, word) in cases {
        let err = from_lightgbm_text(&LGB_TINY.replace(from, to)).expect_err(to);
        assert!(
            matches!(&err, ImportError::Unsupported(m) if m.contains(word)),
            "{to}: {err}"
        );
    }
}

/// (replacement in LGB_TINY, expected tree, expected field).
#[test]
fn lightgbm_errors_name_tree_and_field() {
    let cases = [
        ("left_child=-1 -2", "left_child=-1 0", "left_child"), // cycle back to the root
        ("left_child=-1 -2", "left_child=-1 -1", "left_child"), // leaf 0 shared
        ("right_child=1 -3", "right_child=1 -9", "right_child"), // no leaf 8
        ("right_child=1 -3", "right_child=1 7", "right_child"), // no internal node 7
        (
            "threshold=0.5 1.0000000000000002",
            "threshold=0.5 nan",
            "threshold",
        ),
        (
            "threshold=0.5 1.0000000000000002",
            "threshold=0.5 x",
            "threshold",
        ),
        (
            "threshold=0.5 1.0000000000000002",
            "threshold=0.5",
            "threshold",
        ),
        ("leaf_count=5 3 2", "leaf_count=5 3 2 1", "leaf_count"),
        ("split_feature=0 1", "split_feature=0 -1", "split_feature"),
        ("decision_type=0 8", "decision_type=2 12", "decision_type"),
        ("internal_count=10 5\n", "", "internal_count"),
        (
            "num_leaves=3",
            "num_leaves=18446744073709551615",
            "leaf_value",
        ),
        ("num_leaves=3", "num_leaves=0", "num_leaves"),
    ];
    for (from, to, field) in cases {
        let err = from_lightgbm_text(&LGB_TINY.replacen(from, to, 1)).expect_err(to);
        assert!(
            matches!(&err, ImportError::Tree { tree: 0, field: f, .. } if *f == field),
            "{to}: {err}"
        );
    }
}

#[test]
fn lightgbm_structure_errors() {
    // Feature beyond max_feature_idx: caught by validate.
    let err = from_lightgbm_text(&LGB_TINY.replace("split_feature=0 1", "split_feature=0 2"))
        .expect_err("bad feature");
    assert!(matches!(
        err,
        ImportError::Ensemble(EnsembleError::BadFeature {
            tree: 0,
            feature: 2,
            ..
        })
    ));
    // Truncated between trees: no `end of trees`.
    let cut = &LGB_TINY[..LGB_TINY.find("Tree=1").expect("has tree 1")];
    assert!(matches!(
        from_lightgbm_text(cut),
        Err(ImportError::Syntax { line: 0, .. })
    ));
    // Trees out of order.
    assert!(matches!(
        from_lightgbm_text(&LGB_TINY.replace("Tree=1", "Tree=5")),
        Err(ImportError::Syntax { .. })
    ));
    assert!(matches!(
        from_lightgbm_text(""),
        Err(ImportError::Syntax { .. })
    ));
    // A chain of 300 splits is deeper than MAX_TREE_DEPTH.
    let n = 300;
    let internal: Vec<String> = (1..n).map(|i| i.to_string()).collect();
    let leaves: Vec<String> = (0..n).map(|j| (-(j as i64) - 1).to_string()).collect();
    let chain = format!(
        "tree\nnum_class=1\nnum_tree_per_iteration=1\nmax_feature_idx=0\nobjective=binary sigmoid:1\n\n\
         Tree=0\nnum_leaves={}\nsplit_feature={}\nthreshold={}\ndecision_type={}\nleft_child={}\n\
         right_child={} -{}\nleaf_value={}\nleaf_count={}\ninternal_count={}\n\nend of trees\n",
        n + 1,
        vec!["0"; n].join(" "),
        vec!["0.5"; n].join(" "),
        vec!["8"; n].join(" "),
        leaves.join(" "),
        internal.join(" "),
        n + 1,
        vec!["0.1"; n + 1].join(" "),
        vec!["1"; n + 1].join(" "),
        vec!["1"; n].join(" "),
    );
    assert!(matches!(
        from_lightgbm_text(&chain),
        Err(ImportError::Ensemble(EnsembleError::TooDeep {
            tree: 0,
            ..
        }))
    ));
}

#[test]
fn xgboost_errors() {
    type Check = fn(&ImportError) -> bool;
    let cases: [(&str, &str, Check); 9] = [
        // Wrong type.
        (
            "\"split_indices\":[1,0,0]",
            "\"split_indices\":[\"1\",0,0]",
            |e| matches!(e, ImportError::Json(_)),
        ),
        // Missing field.
        (
            "\"sum_hessian\":[10.0,4.0,6.0],",
            "",
            |e| matches!(e, ImportError::Json(m) if m.contains("sum_hessian")),
        ),
        // Cycle.
        (
            "\"left_children\":[1,-1,-1]",
            "\"left_children\":[0,-1,-1]",
            |e| {
                matches!(
                    e,
                    ImportError::Tree {
                        tree: 0,
                        field: "left_children",
                        ..
                    }
                )
            },
        ),
        // Length mismatch.
        ("\"default_left\":[1,0,0]", "\"default_left\":[1,0]", |e| {
            matches!(
                e,
                ImportError::Tree {
                    tree: 0,
                    field: "default_left",
                    ..
                }
            )
        }),
        (
            "\"default_left\":[1,0,0]",
            "\"default_left\":[2,0,0]",
            |e| {
                matches!(
                    e,
                    ImportError::Tree {
                        tree: 0,
                        field: "default_left",
                        ..
                    }
                )
            },
        ),
        // A huge declared count is compared, never allocated.
        (
            "\"num_nodes\":\"3\"",
            "\"num_nodes\":\"99999999999999\"",
            |e| {
                matches!(
                    e,
                    ImportError::Tree {
                        tree: 0,
                        field: "tree_param.num_nodes",
                        ..
                    }
                )
            },
        ),
        (
            "\"split_type\":[0,0,0]",
            "\"split_type\":[1,0,0]",
            |e| matches!(e, ImportError::Unsupported(m) if m.contains("categorical")),
        ),
        (
            "\"name\":\"gbtree\"",
            "\"name\":\"dart\"",
            |e| matches!(e, ImportError::Unsupported(m) if m.contains("dart")),
        ),
        ("\"num_class\":\"0\"", "\"num_class\":\"3\"", |e| {
            matches!(e, ImportError::Unsupported(_))
        }),
    ];
    for (from, to, check) in cases {
        let text = XGB_TINY.replacen(from, to, 1);
        assert_ne!(text, XGB_TINY, "{from} not found");
        let err = from_xgboost_json(text.as_bytes()).expect_err(to);
        assert!(check(&err), "{to}: {err}");
    }
    // Also accepts booleans for default_left.
    let e = from_xgboost_json(
        XGB_TINY
            .replace(
                "\"default_left\":[1,0,0]",
                "\"default_left\":[false,false,false]",
            )
            .as_bytes(),
    )
    .expect("loads");
    assert_eq!(e.raw(&[0.0, f32::NAN]), 0.75);
}

#[test]
fn every_truncation_is_an_error() {
    for cut in 0..XGB_TINY.len() {
        assert!(
            from_xgboost_json(&XGB_TINY.as_bytes()[..cut]).is_err(),
            "{cut}"
        );
    }
    let end = LGB_TINY.find("end of trees").expect("marker");
    for cut in (0..end).filter(|&c| LGB_TINY.is_char_boundary(c)) {
        assert!(from_lightgbm_text(&LGB_TINY[..cut]).is_err(), "{cut}");
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = from_xgboost_json(&bytes);
        let _ = from_lightgbm_text(&String::from_utf8_lossy(&bytes));
    }

    /// Single-byte corruptions of valid files load (and evaluate) or fail, never panic.
    #[test]
    fn corrupted_files_never_panic(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut x = XGB_TINY.as_bytes().to_vec();
        let i = pos.index(x.len());
        x[i] = byte;
        if let Ok(e) = from_xgboost_json(&x) {
            let _ = e.compile().map(|c| c.raw(&[0.0, f32::NAN]));
        }
        let mut l = LGB_TINY.as_bytes().to_vec();
        let i = pos.index(l.len());
        l[i] = byte;
        if let Ok(e) = from_lightgbm_text(&String::from_utf8_lossy(&l)) {
            let mut phi = vec![0.0; e.n_features];
            let _ = e.shap_values(&[0.0, f32::NAN], &mut phi);
        }
    }
}

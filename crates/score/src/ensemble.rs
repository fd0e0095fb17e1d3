//! Tree ensembles: the one in-memory form every model loads into.
//!
//! A [`TreeEnsemble`] is a list of binary decision trees plus how their leaf values combine
//! ([`Aggregation`]) and how the combined value becomes a probability ([`Link`]):
//! - gradient boosting (Shrike's trainer, XGBoost, LightGBM): `Sum` of leaves plus `base_score`,
//!   `Logistic` link (the raw value is a log-odds margin);
//! - random forest: `Mean` of leaves (each leaf holds a class-1 probability), `Identity` link.
//!
//! Split rule, for every source format: go left when `x < threshold`; a missing value (NaN) goes
//! the `default_left` way. Loaders convert other conventions (LightGBM's `x <= t`) to this one.
//!
//! This is the reference form: readable, serializable and checked by [`TreeEnsemble::validate`].
//! Serving evaluates the flattened [`crate::compiled::CompiledEnsemble`] built from it by
//! [`TreeEnsemble::compile`]; explanations come from [`TreeEnsemble::shap_values`]
//! ([`crate::shap`]).
//!
//! Wire form: a [`Tree`] serializes as struct-of-arrays ([`TreeArrays`]), one array per node field,
//! because the derived per-node objects were several times larger.

use serde::{Deserialize, Serialize};

/// The deepest tree [`TreeEnsemble::validate`] accepts (edges from the root to the deepest leaf).
///
/// Real boosted trees are rarely deeper than 30; the bound keeps TreeSHAP's recursion and its
/// O(depth²) path scratch small for any model file, including hostile ones.
pub const MAX_TREE_DEPTH: usize = 256;

/// How tree outputs combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// `base_score + sum(leaf)` (boosting).
    Sum,
    /// `base_score + mean(leaf)` (bagging; `base_score` is normally 0).
    Mean,
}

/// How the aggregated raw value maps to a probability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// `p = raw` (clamped to [0, 1]).
    Identity,
    /// `p = 1 / (1 + exp(-raw))`.
    Logistic,
}

/// One tree node.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Node {
    /// A split: `x[feature] < threshold` goes to `left`, else `right`; NaN goes to `left` when
    /// `default_left`.
    Split {
        /// Feature index.
        feature: u32,
        /// Threshold.
        threshold: f32,
        /// Index of the left child in [`Tree::nodes`].
        left: u32,
        /// Index of the right child in [`Tree::nodes`].
        right: u32,
        /// Where missing values go.
        default_left: bool,
        /// Training cover (sample count or hessian sum) that reached this node; TreeSHAP needs it.
        cover: f64,
    },
    /// A leaf.
    Leaf {
        /// Leaf value (a margin contribution for boosting, a probability for forests).
        value: f64,
        /// Training cover that reached this leaf.
        cover: f64,
    },
}

impl Node {
    /// The training cover of this node.
    pub fn cover(&self) -> f64 {
        match *self {
            Node::Split { cover, .. } | Node::Leaf { cover, .. } => cover,
        }
    }
}

/// A binary decision tree; `nodes[0]` is the root.
///
/// Serializes as [`TreeArrays`] (struct-of-arrays); deserializing rejects arrays of different
/// lengths and malformed child references.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "TreeArrays", try_from = "TreeArrays")]
pub struct Tree {
    /// The nodes; children are referenced by index.
    pub nodes: Vec<Node>,
}

/// The wire form of a [`Tree`]: one array per node field, all of the same length.
///
/// A leaf has `left == right == -1`, its value in `value`, and `feature`, `threshold` and
/// `default_left` unused (written as 0, 0, false). A split has `value` 0. Floats that are not
/// finite (an infinite threshold is legal) are written as the strings `"inf"`, `"-inf"`, `"nan"`,
/// since JSON has no such numbers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TreeArrays {
    /// Split feature per node.
    pub feature: Vec<u32>,
    /// Split threshold per node.
    #[serde(with = "wire_float::vec_f32")]
    pub threshold: Vec<f32>,
    /// Left child per node, -1 for a leaf.
    pub left: Vec<i64>,
    /// Right child per node, -1 for a leaf.
    pub right: Vec<i64>,
    /// Missing-value direction per node.
    pub default_left: Vec<bool>,
    /// Leaf value per node.
    #[serde(with = "wire_float::vec_f64")]
    pub value: Vec<f64>,
    /// Training cover per node.
    #[serde(with = "wire_float::vec_f64")]
    pub cover: Vec<f64>,
}

/// Why a [`TreeArrays`] is not a tree.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum TreeArraysError {
    /// An array's length differs from `feature`'s.
    #[error("tree arrays have different lengths: feature has {expected}, {field} has {found}")]
    Length {
        /// The array whose length is wrong.
        field: &'static str,
        /// Length of `feature`.
        expected: usize,
        /// Length of `field`.
        found: usize,
    },
    /// A child reference is negative but not -1, beyond `u32`, or only one child is -1.
    #[error("node {node}: bad child references left={left} right={right}")]
    Child {
        /// Node index.
        node: usize,
        /// The left reference.
        left: i64,
        /// The right reference.
        right: i64,
    },
}

impl From<Tree> for TreeArrays {
    fn from(tree: Tree) -> TreeArrays {
        let n = tree.nodes.len();
        let mut a = TreeArrays {
            feature: Vec::with_capacity(n),
            threshold: Vec::with_capacity(n),
            left: Vec::with_capacity(n),
            right: Vec::with_capacity(n),
            default_left: Vec::with_capacity(n),
            value: Vec::with_capacity(n),
            cover: Vec::with_capacity(n),
        };
        for node in tree.nodes {
            let (feature, threshold, left, right, default_left, value, cover) = match node {
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                    default_left,
                    cover,
                } => (
                    feature,
                    threshold,
                    i64::from(left),
                    i64::from(right),
                    default_left,
                    0.0,
                    cover,
                ),
                Node::Leaf { value, cover } => (0, 0.0, -1, -1, false, value, cover),
            };
            a.feature.push(feature);
            a.threshold.push(threshold);
            a.left.push(left);
            a.right.push(right);
            a.default_left.push(default_left);
            a.value.push(value);
            a.cover.push(cover);
        }
        a
    }
}

impl TryFrom<TreeArrays> for Tree {
    type Error = TreeArraysError;

    fn try_from(a: TreeArrays) -> Result<Tree, TreeArraysError> {
        let n = a.feature.len();
        for (field, found) in [
            ("threshold", a.threshold.len()),
            ("left", a.left.len()),
            ("right", a.right.len()),
            ("default_left", a.default_left.len()),
            ("value", a.value.len()),
            ("cover", a.cover.len()),
        ] {
            if found != n {
                return Err(TreeArraysError::Length {
                    field,
                    expected: n,
                    found,
                });
            }
        }
        let mut nodes = Vec::with_capacity(n);
        let fields = a
            .feature
            .iter()
            .zip(&a.threshold)
            .zip(a.left.iter().zip(&a.right))
            .zip(a.default_left.iter().zip(a.value.iter().zip(&a.cover)));
        for (
            node,
            (((&feature, &threshold), (&left, &right)), (&default_left, (&value, &cover))),
        ) in fields.enumerate()
        {
            let bad = || TreeArraysError::Child { node, left, right };
            nodes.push(match (left, right) {
                (-1, -1) => Node::Leaf { value, cover },
                _ => Node::Split {
                    feature,
                    threshold,
                    left: u32::try_from(left).map_err(|_| bad())?,
                    right: u32::try_from(right).map_err(|_| bad())?,
                    default_left,
                    cover,
                },
            });
        }
        Ok(Tree { nodes })
    }
}

/// Serde helpers for float arrays that may hold non-finite values (JSON has no inf or NaN).
mod wire_float {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// One array element on the wire.
    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Wire<T> {
        Num(T),
        // Owned: a borrowed `&str` would fail for readers that cannot lend their input.
        Word(String),
    }

    fn word(v: f64) -> &'static str {
        if v.is_nan() {
            "nan"
        } else if v > 0.0 {
            "inf"
        } else {
            "-inf"
        }
    }

    fn parse<E: serde::de::Error>(w: &str) -> Result<f64, E> {
        match w {
            "nan" => Ok(f64::NAN),
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            other => Err(E::custom(format!(
                "expected a number, \"inf\", \"-inf\" or \"nan\", found {other:?}"
            ))),
        }
    }

    pub mod vec_f32 {
        use super::*;

        pub fn serialize<S: Serializer>(v: &[f32], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|&x| {
                if x.is_finite() {
                    Wire::Num(x)
                } else {
                    Wire::Word(word(f64::from(x)).to_owned())
                }
            }))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
            Vec::<Wire<f32>>::deserialize(d)?
                .into_iter()
                .map(|w| match w {
                    Wire::Num(x) => Ok(x),
                    // Narrowing an infinity or NaN keeps it.
                    Wire::Word(w) => parse(&w).map(|x| x as f32),
                })
                .collect()
        }
    }

    pub mod vec_f64 {
        use super::*;

        pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|&x| {
                if x.is_finite() {
                    Wire::Num(x)
                } else {
                    Wire::Word(word(x).to_owned())
                }
            }))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
            Vec::<Wire<f64>>::deserialize(d)?
                .into_iter()
                .map(|w| match w {
                    Wire::Num(x) => Ok(x),
                    Wire::Word(w) => parse(&w),
                })
                .collect()
        }
    }
}

/// A tree ensemble in the reference (readable, serializable) form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeEnsemble {
    /// The trees.
    pub trees: Vec<Tree>,
    /// Added to the aggregated leaf values (a log-odds prior for boosting).
    pub base_score: f64,
    /// How leaves combine.
    pub aggregation: Aggregation,
    /// How the raw value becomes a probability.
    pub link: Link,
    /// Number of input features the trees may reference.
    pub n_features: usize,
}

/// Why an ensemble is not usable.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum EnsembleError {
    /// A tree has no nodes.
    #[error("tree {tree} is empty")]
    EmptyTree {
        /// Tree index.
        tree: usize,
    },
    /// A child index points outside the tree, or back to an ancestor.
    #[error("tree {tree} node {node}: child index {child} is invalid (tree has {len} nodes)")]
    BadChild {
        /// Tree index.
        tree: usize,
        /// Node index.
        node: usize,
        /// The offending child index.
        child: u32,
        /// Number of nodes in the tree.
        len: usize,
    },
    /// A split references a feature the ensemble does not have.
    #[error("tree {tree} node {node}: feature {feature} out of range (n_features = {n_features})")]
    BadFeature {
        /// Tree index.
        tree: usize,
        /// Node index.
        node: usize,
        /// The feature index.
        feature: u32,
        /// Declared number of features.
        n_features: usize,
    },
    /// A node is unreachable or reachable twice (the nodes do not form a tree).
    #[error("tree {tree}: nodes do not form a tree ({reason})")]
    NotATree {
        /// Tree index.
        tree: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A threshold or leaf value is NaN or infinite.
    #[error("tree {tree} node {node}: non-finite value")]
    NonFinite {
        /// Tree index.
        tree: usize,
        /// Node index.
        node: usize,
    },
    /// A tree is deeper than [`MAX_TREE_DEPTH`].
    #[error("tree {tree} is deeper than {max} levels")]
    TooDeep {
        /// Tree index.
        tree: usize,
        /// The limit.
        max: usize,
    },
    /// The ensemble does not fit the compiled layout (more than 2^31 features or 2^32 - 2 nodes).
    #[error("ensemble too large to compile: {what}")]
    TooLarge {
        /// What overflowed.
        what: &'static str,
    },
}

impl TreeEnsemble {
    /// Checks the structure: every child in range, every node reached exactly once from the root,
    /// features in range, finite values, depth at most [`MAX_TREE_DEPTH`]. Loaders call this so
    /// evaluation can never loop or index out of bounds and TreeSHAP's scratch stays bounded.
    pub fn validate(&self) -> Result<(), EnsembleError> {
        for (t, tree) in self.trees.iter().enumerate() {
            let len = tree.nodes.len();
            if len == 0 {
                return Err(EnsembleError::EmptyTree { tree: t });
            }
            let mut seen = vec![false; len];
            let mut stack = vec![(0usize, 0usize)];
            while let Some((i, depth)) = stack.pop() {
                if depth > MAX_TREE_DEPTH {
                    return Err(EnsembleError::TooDeep {
                        tree: t,
                        max: MAX_TREE_DEPTH,
                    });
                }
                if std::mem::replace(&mut seen[i], true) {
                    return Err(EnsembleError::NotATree {
                        tree: t,
                        reason: "a node is reached twice",
                    });
                }
                match tree.nodes[i] {
                    Node::Leaf { value, .. } => {
                        if !value.is_finite() {
                            return Err(EnsembleError::NonFinite { tree: t, node: i });
                        }
                    }
                    Node::Split {
                        feature,
                        threshold,
                        left,
                        right,
                        ..
                    } => {
                        if feature as usize >= self.n_features {
                            return Err(EnsembleError::BadFeature {
                                tree: t,
                                node: i,
                                feature,
                                n_features: self.n_features,
                            });
                        }
                        if threshold.is_nan() {
                            return Err(EnsembleError::NonFinite { tree: t, node: i });
                        }
                        for child in [left, right] {
                            if child as usize >= len {
                                return Err(EnsembleError::BadChild {
                                    tree: t,
                                    node: i,
                                    child,
                                    len,
                                });
                            }
                            stack.push((child as usize, depth + 1));
                        }
                    }
                }
            }
            if seen.iter().any(|s| !s) {
                return Err(EnsembleError::NotATree {
                    tree: t,
                    reason: "a node is unreachable from the root",
                });
            }
        }
        Ok(())
    }

    /// The leaf value one tree gives `x` (reference implementation: walks the node list).
    /// `x` shorter than `n_features` reads the missing features as NaN.
    pub fn tree_value(&self, tree: &Tree, x: &[f32]) -> f64 {
        let mut i = 0usize;
        // A valid tree reaches a leaf in fewer steps than it has nodes; the bound only stops a
        // cycle in an ensemble that failed `validate` from looping forever.
        for _ in 0..=tree.nodes.len() {
            match tree.nodes.get(i) {
                Some(Node::Leaf { value, .. }) => return *value,
                Some(Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                    default_left,
                    ..
                }) => {
                    let v = x.get(*feature as usize).copied().unwrap_or(f32::NAN);
                    let go_left = if v.is_nan() {
                        *default_left
                    } else {
                        v < *threshold
                    };
                    i = if go_left { *left } else { *right } as usize;
                }
                // Only reachable for an ensemble that failed `validate`.
                None => return 0.0,
            }
        }
        0.0
    }

    /// The raw (pre-link) value for `x`: a log-odds margin for boosting, a mean leaf for forests.
    pub fn raw(&self, x: &[f32]) -> f64 {
        let sum: f64 = self.trees.iter().map(|t| self.tree_value(t, x)).sum();
        aggregate(self.aggregation, self.base_score, sum, self.trees.len())
    }

    /// The probability for `x` (raw value through the link).
    pub fn predict_proba(&self, x: &[f32]) -> f64 {
        apply_link(self.link, self.raw(x))
    }
}

/// Turns the sum of `n_trees` tree values into the raw value (the one aggregation rule, shared by
/// the reference walker and the compiled evaluator so they agree bit for bit).
#[inline(always)]
pub fn aggregate(aggregation: Aggregation, base_score: f64, sum: f64, n_trees: usize) -> f64 {
    match aggregation {
        Aggregation::Sum => base_score + sum,
        Aggregation::Mean => {
            base_score
                + if n_trees == 0 {
                    0.0
                } else {
                    sum / n_trees as f64
                }
        }
    }
}

/// Maps a raw value to a probability.
pub fn apply_link(link: Link, raw: f64) -> f64 {
    match link {
        Link::Identity => raw.clamp(0.0, 1.0),
        Link::Logistic => 1.0 / (1.0 + (-raw).exp()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn stump(feature: u32, threshold: f32, l: f64, r: f64) -> Tree {
        Tree {
            nodes: vec![
                Node::Split {
                    feature,
                    threshold,
                    left: 1,
                    right: 2,
                    default_left: true,
                    cover: 10.0,
                },
                Node::Leaf {
                    value: l,
                    cover: 4.0,
                },
                Node::Leaf {
                    value: r,
                    cover: 6.0,
                },
            ],
        }
    }

    #[test]
    fn sum_and_logistic() {
        let e = TreeEnsemble {
            trees: vec![stump(0, 0.5, -1.0, 1.0), stump(1, 2.0, 0.5, -0.5)],
            base_score: 0.25,
            aggregation: Aggregation::Sum,
            link: Link::Logistic,
            n_features: 2,
        };
        e.validate().expect("valid");
        assert_eq!(e.raw(&[0.0, 3.0]), 0.25 - 1.0 - 0.5);
        assert_eq!(e.raw(&[f32::NAN, f32::NAN]), 0.25 - 1.0 + 0.5);
        let p = e.predict_proba(&[1.0, 0.0]);
        assert!((p - 1.0 / (1.0 + (-1.75f64).exp())).abs() < 1e-12);
    }

    #[test]
    fn tree_serializes_as_arrays() {
        let mut t = stump(1, f32::INFINITY, -1.5, 2.0);
        if let Node::Split { threshold, .. } = &mut t.nodes[0] {
            *threshold = f32::NEG_INFINITY;
        }
        let json = serde_json::to_string(&t).expect("serializes");
        assert_eq!(
            json,
            r#"{"feature":[1,0,0],"threshold":["-inf",0.0,0.0],"left":[1,-1,-1],"right":[2,-1,-1],"default_left":[true,false,false],"value":[0.0,-1.5,2.0],"cover":[10.0,4.0,6.0]}"#
        );
        let back: Tree = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, t);
        // f32 thresholds are written in their shortest form and read back exactly.
        let t = stump(0, 0.1, 0.0, 1.0);
        let json = serde_json::to_string(&t).expect("serializes");
        assert!(json.contains(r#""threshold":[0.1,"#), "{json}");
        assert_eq!(serde_json::from_str::<Tree>(&json).expect("parses"), t);
    }

    #[test]
    fn tree_arrays_must_be_consistent() {
        let good = r#"{"feature":[1,0,0],"threshold":[0.5,0,0],"left":[1,-1,-1],"right":[2,-1,-1],"default_left":[true,false,false],"value":[0,-1.5,2],"cover":[10,4,6]}"#;
        assert!(serde_json::from_str::<Tree>(good).is_ok());
        for (bad, want) in [
            (
                good.replace(r#""cover":[10,4,6]"#, r#""cover":[10,4]"#),
                "cover has 2",
            ),
            (
                good.replace(
                    r#""default_left":[true,false,false]"#,
                    r#""default_left":[]"#,
                ),
                "default_left has 0",
            ),
            (
                good.replace(r#""right":[2,-1,-1]"#, r#""right":[2,-1,1]"#),
                "node 2: bad child references left=-1 right=1",
            ),
            (
                good.replace(r#""left":[1,-1,-1]"#, r#""left":[-2,-1,-1]"#),
                "node 0: bad child references left=-2",
            ),
            (
                good.replace(r#""left":[1,-1,-1]"#, r#""left":[4294967296,-1,-1]"#),
                "node 0: bad child references",
            ),
            (
                good.replace(r#""threshold":[0.5,0,0]"#, r#""threshold":["half",0,0]"#),
                "expected a number",
            ),
        ] {
            let err = serde_json::from_str::<Tree>(&bad)
                .expect_err(&bad)
                .to_string();
            assert!(err.contains(want), "{bad}: {err}");
        }
        // "nan" parses, and validate then rejects the tree.
        let nan = good.replace(r#""threshold":[0.5,0,0]"#, r#""threshold":["nan",0,0]"#);
        let t: Tree = serde_json::from_str(&nan).expect("parses");
        let e = TreeEnsemble {
            trees: vec![t],
            base_score: 0.0,
            aggregation: Aggregation::Sum,
            link: Link::Identity,
            n_features: 2,
        };
        assert_eq!(
            e.validate(),
            Err(EnsembleError::NonFinite { tree: 0, node: 0 })
        );
    }

    #[test]
    fn validate_bounds_depth() {
        // A chain: split i (at 2i) has children leaf 2i + 1 and split i + 1 (at 2i + 2).
        let chain = |depth: usize| {
            let mut nodes = Vec::new();
            for i in 0..depth as u32 {
                nodes.push(Node::Split {
                    feature: 0,
                    threshold: 0.5,
                    left: 2 * i + 1,
                    right: 2 * i + 2,
                    default_left: false,
                    cover: 1.0,
                });
                nodes.push(Node::Leaf {
                    value: 1.0,
                    cover: 1.0,
                });
            }
            nodes.push(Node::Leaf {
                value: 2.0,
                cover: 1.0,
            });
            TreeEnsemble {
                trees: vec![Tree { nodes }],
                base_score: 0.0,
                aggregation: Aggregation::Sum,
                link: Link::Identity,
                n_features: 1,
            }
        };
        let ok = chain(MAX_TREE_DEPTH);
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(ok.raw(&[1.0]), 2.0);
        assert_eq!(
            chain(MAX_TREE_DEPTH + 1).validate(),
            Err(EnsembleError::TooDeep {
                tree: 0,
                max: MAX_TREE_DEPTH
            })
        );
    }

    #[test]
    fn validate_rejects_cycles_and_bad_features() {
        let mut t = stump(0, 0.5, 0.0, 1.0);
        if let Node::Split { right, .. } = &mut t.nodes[0] {
            *right = 0;
        }
        let e = TreeEnsemble {
            trees: vec![t],
            base_score: 0.0,
            aggregation: Aggregation::Sum,
            link: Link::Identity,
            n_features: 1,
        };
        assert!(matches!(e.validate(), Err(EnsembleError::NotATree { .. })));
        let e = TreeEnsemble {
            trees: vec![stump(3, 0.5, 0.0, 1.0)],
            n_features: 1,
            ..e
        };
        assert!(matches!(
            e.validate(),
            Err(EnsembleError::BadFeature { .. })
        ));
    }
}

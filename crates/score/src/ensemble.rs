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

use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// The nodes; children are referenced by index.
    pub nodes: Vec<Node>,
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
}

impl TreeEnsemble {
    /// Checks the structure: every child in range, every node reached exactly once from the root,
    /// features in range, finite values. Loaders call this so evaluation can never loop or index
    /// out of bounds.
    pub fn validate(&self) -> Result<(), EnsembleError> {
        for (t, tree) in self.trees.iter().enumerate() {
            let len = tree.nodes.len();
            if len == 0 {
                return Err(EnsembleError::EmptyTree { tree: t });
            }
            let mut seen = vec![false; len];
            let mut stack = vec![0usize];
            while let Some(i) = stack.pop() {
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
                            stack.push(child as usize);
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
        loop {
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
    }

    /// The raw (pre-link) value for `x`: a log-odds margin for boosting, a mean leaf for forests.
    pub fn raw(&self, x: &[f32]) -> f64 {
        let sum: f64 = self.trees.iter().map(|t| self.tree_value(t, x)).sum();
        match self.aggregation {
            Aggregation::Sum => self.base_score + sum,
            Aggregation::Mean => {
                self.base_score
                    + if self.trees.is_empty() {
                        0.0
                    } else {
                        sum / self.trees.len() as f64
                    }
            }
        }
    }

    /// The probability for `x` (raw value through the link).
    pub fn predict_proba(&self, x: &[f32]) -> f64 {
        apply_link(self.link, self.raw(x))
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

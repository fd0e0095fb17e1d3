//! Explanations: exact path-dependent TreeSHAP (Lundberg, Erion and Lee 2018, "Consistent
//! individualized feature attribution for tree ensembles", Algorithm 2).
//!
//! [`TreeEnsemble::shap_values`] splits a prediction's raw (margin) value into one contribution
//! per feature plus an expected value (the bias), with `bias + sum(phi) == raw(x)` up to rounding
//! (local accuracy). The "expectation" is the path-dependent one: at a split on a feature outside
//! the coalition, both children are followed, weighted by the share of training cover each
//! received. XGBoost's `pred_contribs` and LightGBM's `pred_contrib` compute the same quantity.
//!
//! Conventions:
//! - Missing values (NaN) follow the split's default direction, as prediction does.
//! - Cover shares at a split are `cover(child) / (cover(left) + cover(right))`; that equals the
//!   paper's `cover(child) / cover(node)` for well-formed trees and stays a proper distribution
//!   when a file's covers are slightly inconsistent. Covers that are negative, NaN or sum to 0
//!   count as an even split. The bias is computed with the same shares, so local accuracy holds
//!   whatever the covers.
//! - `Aggregation::Mean` averages contributions like outputs; `base_score` goes into the bias.
//!
//! Cost: O(leaves × depth²) per tree. Allocation-free after warm-up: the path buffer lives in a
//! reusable [`ShapScratch`] ([`TreeEnsemble::shap_values`] keeps one per thread). The recursion
//! is bounded by [`MAX_TREE_DEPTH`] and each tree's node count, so even an ensemble that failed
//! `validate` (cycles, shared subtrees) cannot recurse without end; its values are then
//! meaningless but finite work.

use crate::ensemble::{Aggregation, Node, Tree, TreeEnsemble, MAX_TREE_DEPTH};
use std::cell::RefCell;

/// Feature index of the path's root element, which stands for no feature.
const NO_FEATURE: u32 = u32::MAX;

/// One element of the unique feature path (the paper's `m`).
#[derive(Debug, Clone, Copy, Default)]
struct PathElement {
    /// The split feature.
    feature: u32,
    /// Share of coalitions without the feature that flow down this path (cover share).
    zero_fraction: f64,
    /// Share of coalitions with the feature that flow down this path (1 if `x` goes this way).
    one_fraction: f64,
    /// The permutation weight.
    pweight: f64,
}

/// Reusable working memory for [`TreeEnsemble::shap_values_with`].
///
/// Holds the unique-path buffer: O(depth²) elements, grown on first use to the deepest tree seen,
/// then reused without allocating.
#[derive(Debug, Clone, Default)]
pub struct ShapScratch {
    path: Vec<PathElement>,
}

impl ShapScratch {
    /// An empty scratch; it grows to fit the first ensemble it explains.
    pub fn new() -> ShapScratch {
        ShapScratch::default()
    }
}

thread_local! {
    static SCRATCH: RefCell<ShapScratch> = RefCell::new(ShapScratch::new());
}

impl TreeEnsemble {
    /// Exact TreeSHAP: fills `phi` (length `n_features`) with per-feature contributions to
    /// [`TreeEnsemble::raw`] and returns the expected value (bias), so that
    /// `bias + phi.iter().sum() == raw(x)` up to rounding.
    ///
    /// Uses a per-thread [`ShapScratch`], so it does not allocate after the first call on a
    /// thread. Contributions of features at or beyond `phi.len()` are dropped (a short `phi`
    /// breaks local accuracy); `x` shorter than `n_features` reads the rest as NaN.
    pub fn shap_values(&self, x: &[f32], phi: &mut [f64]) -> f64 {
        SCRATCH
            .try_with(|s| match s.try_borrow_mut() {
                Ok(mut scratch) => self.shap_values_with(x, phi, &mut scratch),
                // Not reachable (no callbacks run while borrowed), but never panic.
                Err(_) => self.shap_values_with(x, phi, &mut ShapScratch::new()),
            })
            // The thread-local is gone only during thread teardown.
            .unwrap_or_else(|_| self.shap_values_with(x, phi, &mut ShapScratch::new()))
    }

    /// [`TreeEnsemble::shap_values`] with caller-provided scratch.
    pub fn shap_values_with(&self, x: &[f32], phi: &mut [f64], scratch: &mut ShapScratch) -> f64 {
        phi.fill(0.0);
        let mut expected = -0.0;
        for tree in &self.trees {
            let mut walk = Walk {
                tree,
                x,
                phi: &mut *phi,
                path: &mut scratch.path,
                expected: 0.0,
                budget: tree.nodes.len(),
            };
            walk.recurse(0, 0, 0, 1.0, 1.0, NO_FEATURE, 1.0, 0);
            expected += walk.expected;
        }
        match self.aggregation {
            Aggregation::Sum => self.base_score + expected,
            Aggregation::Mean => {
                if self.trees.is_empty() {
                    return self.base_score;
                }
                let n = self.trees.len() as f64;
                for p in phi.iter_mut() {
                    *p /= n;
                }
                self.base_score + expected / n
            }
        }
    }
}

/// The state of one tree's TreeSHAP recursion.
struct Walk<'a> {
    tree: &'a Tree,
    x: &'a [f32],
    phi: &'a mut [f64],
    /// All unique paths of the current recursion stack, each after its parent's.
    path: &'a mut Vec<PathElement>,
    /// Σ leaf value × probability of reaching the leaf under the cover shares.
    expected: f64,
    /// Nodes the walk may still visit: a valid tree visits each node once.
    budget: usize,
}

impl Walk<'_> {
    /// Algorithm 2's RECURSE for node `node`. The parent's unique path (length `unique_depth`,
    /// plus a slot) starts at `parent_start`; `parent_*` describe the split that led here.
    /// `reach` is the product of cover shares from the root.
    #[allow(clippy::too_many_arguments)]
    fn recurse(
        &mut self,
        node: usize,
        mut unique_depth: usize,
        parent_start: usize,
        parent_zero: f64,
        parent_one: f64,
        parent_feature: u32,
        reach: f64,
        depth: usize,
    ) {
        if self.budget == 0 || depth > MAX_TREE_DEPTH {
            return;
        }
        self.budget -= 1;
        let Some(&current) = self.tree.nodes.get(node) else {
            return;
        };
        // This node's path: a copy of the parent's, then extended by the split that led here.
        let start = parent_start + unique_depth + 1;
        let end = start + unique_depth + 1;
        if self.path.len() < end {
            self.path.resize(end, PathElement::default());
        }
        self.path.copy_within(parent_start..start, start);
        let Some(m) = self.path.get_mut(start..end) else {
            return;
        };
        extend(m, unique_depth, parent_zero, parent_one, parent_feature);

        match current {
            Node::Leaf { value, .. } => {
                self.expected += reach * value;
                // For an element `x` does not follow (one_fraction 0), UNWOUND-SUM is
                // `cold_sum / zero_fraction`, so its contribution `w * (0 - zero) * value` is
                // `-cold_sum * value` for every such element: O(d) once instead of per element.
                let cold = cold_sum(m, unique_depth);
                for (i, el) in m.iter().enumerate().take(unique_depth + 1).skip(1) {
                    let contribution = if el.one_fraction == 0.0 {
                        -cold * value
                    } else {
                        unwound_sum(m, unique_depth, i)
                            * (el.one_fraction - el.zero_fraction)
                            * value
                    };
                    if let Some(p) = self.phi.get_mut(el.feature as usize) {
                        *p += contribution;
                    }
                }
            }
            Node::Split {
                feature,
                threshold,
                left,
                right,
                default_left,
                ..
            } => {
                let v = self.x.get(feature as usize).copied().unwrap_or(f32::NAN);
                let go_left = if v.is_nan() {
                    default_left
                } else {
                    v < threshold
                };
                let cover = |i: u32| {
                    self.tree
                        .nodes
                        .get(i as usize)
                        .map_or(f64::NAN, Node::cover)
                };
                let (share_left, share_right) = shares(cover(left), cover(right));
                let (hot, cold, hot_share, cold_share) = if go_left {
                    (left, right, share_left, share_right)
                } else {
                    (right, left, share_right, share_left)
                };
                // If the feature was split on higher up, undo that split and redo it here with
                // the combined fractions.
                let mut incoming_zero = 1.0;
                let mut incoming_one = 1.0;
                // Element 0 stands for no feature; skip it even if `feature` is `NO_FEATURE`.
                if let Some(k) = m
                    .iter()
                    .take(unique_depth + 1)
                    .skip(1)
                    .position(|el| el.feature == feature)
                    .map(|k| k + 1)
                {
                    if let Some(el) = m.get(k) {
                        incoming_zero = el.zero_fraction;
                        incoming_one = el.one_fraction;
                    }
                    unwind(m, unique_depth, k);
                    unique_depth -= 1;
                }
                for (child, share, one) in [(hot, hot_share, incoming_one), (cold, cold_share, 0.0)]
                {
                    let zero = share * incoming_zero;
                    // No coalition reaches the child: it contributes nothing (and would divide
                    // by zero in `unwind`).
                    if zero == 0.0 && one == 0.0 {
                        continue;
                    }
                    self.recurse(
                        child as usize,
                        unique_depth + 1,
                        start,
                        zero,
                        one,
                        feature,
                        reach * share,
                        depth + 1,
                    );
                }
            }
        }
    }
}

/// Cover shares of a split's children; an even split when the covers are unusable.
fn shares(left: f64, right: f64) -> (f64, f64) {
    let total = left + right;
    if left >= 0.0 && right >= 0.0 && total > 0.0 && total.is_finite() {
        (left / total, right / total)
    } else {
        (0.5, 0.5)
    }
}

/// `RECIP[k] == 1 / k`: the algorithm divides by small integers (path positions) in its inner
/// loops; multiplying by a reciprocal is several times cheaper than a division.
const RECIP: [f64; MAX_TREE_DEPTH + 4] = {
    let mut a = [0.0; MAX_TREE_DEPTH + 4];
    let mut k = 1;
    while k < a.len() {
        a[k] = 1.0 / k as f64;
        k += 1;
    }
    a
};

fn recip(k: usize) -> f64 {
    RECIP.get(k).copied().unwrap_or(1.0 / k as f64)
}

/// EXTEND: adds a split on `feature` to the path `m` of length `d` (writes `m[d]`).
fn extend(m: &mut [PathElement], d: usize, zero: f64, one: f64, feature: u32) {
    if let Some(el) = m.get_mut(d) {
        *el = PathElement {
            feature,
            zero_fraction: zero,
            one_fraction: one,
            pweight: if d == 0 { 1.0 } else { 0.0 },
        };
    }
    let inv_scale = recip(d + 1);
    for i in (0..d).rev() {
        let Some([a, b]) = m
            .get_mut(i..i + 2)
            .and_then(|s| <&mut [_; 2]>::try_from(s).ok())
        else {
            return;
        };
        b.pweight += a.pweight * (one * (i + 1) as f64 * inv_scale);
        a.pweight *= zero * (d - i) as f64 * inv_scale;
    }
}

/// UNWIND: removes element `k` from the path `m` of length `d + 1`.
fn unwind(m: &mut [PathElement], d: usize, k: usize) {
    let Some(&PathElement {
        zero_fraction: zero,
        one_fraction: one,
        ..
    }) = m.get(k)
    else {
        return;
    };
    let Some(m) = m.get_mut(..=d) else {
        return;
    };
    let mut next = m.last().map_or(0.0, |el| el.pweight);
    let scale = (d + 1) as f64;
    let inv_scale = recip(d + 1);
    if one != 0.0 {
        let inv_one = 1.0 / one;
        for (i, el) in m.iter_mut().enumerate().take(d).rev() {
            let tmp = el.pweight;
            el.pweight = next * (scale * recip(i + 1) * inv_one);
            next = tmp - el.pweight * (zero * (d - i) as f64 * inv_scale);
        }
    } else {
        // `zero != 0` here: children with both fractions 0 are never entered.
        let inv_zero = 1.0 / zero;
        for (i, el) in m.iter_mut().enumerate().take(d).rev() {
            el.pweight *= scale * inv_zero * recip(d - i);
        }
    }
    for i in k..d {
        if let Some([a, b]) = m
            .get_mut(i..i + 2)
            .and_then(|s| <&mut [_; 2]>::try_from(s).ok())
        {
            a.feature = b.feature;
            a.zero_fraction = b.zero_fraction;
            a.one_fraction = b.one_fraction;
        }
    }
}

/// `zero_fraction ×` UNWOUND-SUM of any element with `one_fraction == 0`, which does not depend
/// on the element: `Σ_{i<d} pweight_i (d + 1) / (d - i)`.
fn cold_sum(m: &[PathElement], d: usize) -> f64 {
    let scale = (d + 1) as f64;
    m.iter()
        .enumerate()
        .take(d)
        .map(|(i, el)| el.pweight * (scale * recip(d - i)))
        .sum()
}

/// UNWOUND-SUM: the total permutation weight of the path `m` (length `d + 1`) with element `k`
/// removed, without modifying it.
fn unwound_sum(m: &[PathElement], d: usize, k: usize) -> f64 {
    let Some(&PathElement {
        zero_fraction: zero,
        one_fraction: one,
        ..
    }) = m.get(k)
    else {
        return 0.0;
    };
    let Some(m) = m.get(..=d) else {
        return 0.0;
    };
    let mut next = m.last().map_or(0.0, |el| el.pweight);
    let scale = (d + 1) as f64;
    let inv_scale = recip(d + 1);
    let mut total = 0.0;
    if one != 0.0 {
        let inv_one = 1.0 / one;
        for (i, el) in m.iter().enumerate().take(d).rev() {
            // Parenthesized so only one multiply and one multiply-subtract sit on the chain
            // through `next`; the factors are computed alongside.
            let tmp = next * (scale * recip(i + 1) * inv_one);
            total += tmp;
            next = el.pweight - tmp * (zero * (d - i) as f64 * inv_scale);
        }
    } else {
        let inv_zero = 1.0 / zero;
        for (i, el) in m.iter().enumerate().take(d).rev() {
            total += el.pweight * inv_zero * scale * recip(d - i);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ensemble::Link;

    fn split(feature: u32, threshold: f32, left: u32, right: u32, cover: f64) -> Node {
        Node::Split {
            feature,
            threshold,
            left,
            right,
            default_left: false,
            cover,
        }
    }

    fn leaf(value: f64, cover: f64) -> Node {
        Node::Leaf { value, cover }
    }

    /// `x0 < 0.5 ? (x1 < 0.5 ? 1 : 2) : (x1 < 0.5 ? 3 : 4)`, leaves covering 1, 1, 1, 1
    /// ... except the last, which covers 2, so the expectation is not a plain mean.
    fn two_feature_tree() -> TreeEnsemble {
        TreeEnsemble {
            trees: vec![Tree {
                nodes: vec![
                    split(0, 0.5, 1, 2, 5.0),
                    split(1, 0.5, 3, 4, 2.0),
                    split(1, 0.5, 5, 6, 3.0),
                    leaf(1.0, 1.0),
                    leaf(2.0, 1.0),
                    leaf(3.0, 1.0),
                    leaf(4.0, 2.0),
                ],
            }],
            base_score: 0.0,
            aggregation: Aggregation::Sum,
            link: Link::Identity,
            n_features: 2,
        }
    }

    /// Worked by hand from the Shapley formula with v(S) the path-dependent expectation:
    /// x = (1, 1) reaches leaf 4.
    ///   v({})     = (1·1 + 2·1 + 3·1 + 4·2) / 5 = 14/5
    ///   v({0})    = x0 right; x1 by cover 1:2 → (3 + 2·4) / 3 = 11/3
    ///   v({1})    = x1 right; x0 by cover 2:3 → (2/5)·2 + (3/5)·(x1 right of the right split: 4)
    ///             = 4/5 + 12/5 = 16/5
    ///   v({0, 1}) = 4
    ///   phi0 = ½[(v0 - v{}) + (v01 - v1)] = ½[(11/3 - 14/5) + (4 - 16/5)] = ½[13/15 + 4/5] = 5/6
    ///   phi1 = ½[(v1 - v{}) + (v01 - v0)] = ½[(16/5 - 14/5) + (4 - 11/3)] = ½[2/5 + 1/3] = 11/30
    #[test]
    fn hand_computed_two_features() {
        let e = two_feature_tree();
        let mut phi = [0.0; 2];
        let bias = e.shap_values(&[1.0, 1.0], &mut phi);
        assert!((bias - 14.0 / 5.0).abs() < 1e-12, "bias {bias}");
        assert!((phi[0] - 5.0 / 6.0).abs() < 1e-12, "phi0 {}", phi[0]);
        assert!((phi[1] - 11.0 / 30.0).abs() < 1e-12, "phi1 {}", phi[1]);
        assert!((bias + phi[0] + phi[1] - 4.0).abs() < 1e-12);
    }

    /// A feature split twice on one path (x0 < 0.5, then x0 < 0.25) exercises UNWIND: it must
    /// behave as one feature, so phi1 is zero and phi0 carries everything.
    #[test]
    fn repeated_feature_is_one_player() {
        let e = TreeEnsemble {
            trees: vec![Tree {
                nodes: vec![
                    split(0, 0.5, 1, 2, 4.0),
                    split(0, 0.25, 3, 4, 2.0),
                    leaf(10.0, 2.0),
                    leaf(-2.0, 1.0),
                    leaf(2.0, 1.0),
                ],
            }],
            base_score: 1.0,
            aggregation: Aggregation::Sum,
            link: Link::Logistic,
            n_features: 2,
        };
        let mut phi = [0.0; 2];
        let bias = e.shap_values(&[0.3, 7.0], &mut phi);
        // E = (−2·1 + 2·1 + 10·2) / 4 = 5; f(x) = 2.
        assert!((bias - 6.0).abs() < 1e-12);
        assert!((phi[0] - (2.0 - 5.0)).abs() < 1e-12, "phi0 {}", phi[0]);
        assert_eq!(phi[1], 0.0);
    }

    #[test]
    fn mean_aggregation_averages_contributions() {
        let mut e = two_feature_tree();
        e.trees.push(e.trees[0].clone());
        e.trees.push(Tree {
            nodes: vec![leaf(7.0, 1.0)],
        });
        e.aggregation = Aggregation::Mean;
        e.base_score = 0.5;
        let mut phi = [0.0; 2];
        let bias = e.shap_values(&[1.0, 1.0], &mut phi);
        assert!((bias - (0.5 + (14.0 / 5.0 * 2.0 + 7.0) / 3.0)).abs() < 1e-12);
        assert!((phi[0] - 2.0 * (5.0 / 6.0) / 3.0).abs() < 1e-12);
        assert!((bias + phi[0] + phi[1] - e.raw(&[1.0, 1.0])).abs() < 1e-12);
    }

    #[test]
    fn missing_values_follow_the_default_direction() {
        let mut e = two_feature_tree();
        if let Some(Node::Split { default_left, .. }) = e.trees[0].nodes.get_mut(0) {
            *default_left = true;
        }
        let mut phi = [0.0; 2];
        let bias = e.shap_values(&[f32::NAN, 1.0], &mut phi);
        // NaN goes left, then x1 = 1 goes right: leaf 2.
        assert_eq!(e.raw(&[f32::NAN, 1.0]), 2.0);
        assert!((bias + phi[0] + phi[1] - 2.0).abs() < 1e-12);
        assert!(phi[0] < 0.0, "going left lowers the value: {}", phi[0]);
    }

    #[test]
    fn zero_and_bad_covers_keep_local_accuracy() {
        let mut e = two_feature_tree();
        // A cold child with zero cover, and a split whose covers are NaN.
        e.trees[0].nodes[3] = leaf(1.0, 0.0);
        e.trees[0].nodes[5] = leaf(3.0, f64::NAN);
        let mut phi = [0.0; 2];
        for x in [[1.0, 1.0], [0.0, 0.0], [0.0, 1.0], [1.0, 0.0]] {
            let bias = e.shap_values(&x, &mut phi);
            assert!(bias.is_finite() && phi.iter().all(|p| p.is_finite()));
            assert!((bias + phi[0] + phi[1] - e.raw(&x)).abs() < 1e-12, "{x:?}");
        }
    }

    #[test]
    fn invalid_ensembles_terminate() {
        // Both children of every split point at the next split: a shared chain that would make
        // the recursion exponential (2^300 paths) without the node budget.
        let n = 300u32;
        let mut nodes: Vec<Node> = (0..n).map(|i| split(0, 0.5, i + 1, i + 1, 1.0)).collect();
        nodes.push(leaf(1.0, 1.0));
        let e = TreeEnsemble {
            trees: vec![Tree { nodes }],
            base_score: 0.0,
            aggregation: Aggregation::Sum,
            link: Link::Identity,
            n_features: 1,
        };
        assert!(e.validate().is_err());
        let mut phi = [0.0; 1];
        let bias = e.shap_values(&[0.0], &mut phi);
        assert!(bias.is_finite() && phi[0].is_finite());
    }

    #[test]
    fn scratch_is_reused_without_growing() {
        let e = two_feature_tree();
        let mut scratch = ShapScratch::new();
        let mut phi = [0.0; 2];
        e.shap_values_with(&[1.0, 1.0], &mut phi, &mut scratch);
        let (len, cap) = (scratch.path.len(), scratch.path.capacity());
        assert!(len > 0);
        e.shap_values_with(&[0.0, f32::NAN], &mut phi, &mut scratch);
        assert_eq!((scratch.path.len(), scratch.path.capacity()), (len, cap));
    }
}

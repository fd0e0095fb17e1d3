//! The serving evaluator: every tree of a validated [`TreeEnsemble`] flattened into one compact,
//! cache-friendly node array.
//!
//! Layout. A node is 12 bytes (`CompiledNode`): the feature index with the default-left flag in
//! the top bit, the `f32` threshold, and the index of the left child; the right child is always
//! `left + 1` (children are laid out as adjacent pairs, breadth-first within each tree, so the top
//! levels every row visits share a few cache lines). A step reads one 12-byte node; LightGBM keeps
//! each node field in its own array (`f64` threshold, `i32` children, feature, decision type), so
//! its step touches about five cache lines. Leaf values stay `f64` in a side
//! array indexed by node: they are read once per tree, off the traversal's critical path, and
//! keeping them `f64` makes [`CompiledEnsemble::raw`] bit-for-bit equal to [`TreeEnsemble::raw`]
//! (the same leaves summed in the same order); `f32` leaves would drift by ~1e-7 per tree for
//! models trained in `f64` (Shrike's trainer, LightGBM).
//!
//! A leaf is a node whose threshold is NaN, whose flag is clear and whose `left` is its own index
//! minus one: `v < NaN` is false for every `v`, so one more step from a leaf lands on the leaf
//! itself. Every step is therefore branch-free, and a tree can be walked a fixed number of steps
//! (its depth) with no per-level "is this a leaf" branch to mispredict.
//!
//! Walk order. A single tree walk is a chain of dependent loads, so [`CompiledEnsemble::raw`]
//! walks `TREE_LANES` (8) trees in lockstep (for as many steps as the deepest of them needs): eight
//! independent chains keep the memory system busy (measured ~4x faster than one tree at a time
//! on a 300-tree, 255-leaf model). [`CompiledEnsemble::raw_batch`] does the same per row, but
//! applies each group of trees to a block of `BLOCK` (64) rows before moving on, so the group's
//! nodes stay in L1/L2 across rows. Walking several rows (instead of trees) in lockstep measured
//! no faster. Leaf values are still added in tree order, so results are exact.
//!
//! Invariants: built only from an ensemble that passed [`TreeEnsemble::validate`], so every child
//! index is in range and every walk ends at a leaf within the tree's depth. Evaluation still uses
//! checked access and never panics.

use crate::ensemble::{apply_link, Aggregation, EnsembleError, Link, Node, TreeEnsemble};

/// Top bit of [`CompiledNode::key`]: missing values go left.
const DEFAULT_LEFT: u32 = 1 << 31;
/// Low bits of [`CompiledNode::key`]: the feature index.
const FEATURE_MASK: u32 = !DEFAULT_LEFT;
/// Trees walked together, in lockstep, for one row (16 measured slower: register spills).
const TREE_LANES: usize = 8;
/// Rows a group of trees is applied to before the next group (64 rows × 300 features is 77 KB,
/// so the block stays in L2 while the trees stream past).
const BLOCK: usize = 64;

/// One node of the flattened ensemble (12 bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
struct CompiledNode {
    /// Feature index; top bit set when missing values go left. Zero for a leaf.
    key: u32,
    /// Go left when `x < threshold`; NaN marks a leaf.
    threshold: f32,
    /// Index of the left child (the right child is `left + 1`); for a leaf, its own index
    /// minus one (wrapping), so that a step from a leaf stays on it.
    left: u32,
}

/// Where one tree lives in the node array.
#[derive(Debug, Clone, Copy, PartialEq)]
struct TreeRef {
    /// Index of the root.
    root: u32,
    /// Steps from the root to the deepest leaf.
    depth: u32,
}

/// A [`TreeEnsemble`] compiled for fast evaluation; see the module docs for the layout.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledEnsemble {
    nodes: Vec<CompiledNode>,
    /// Leaf value per node index (0 for splits).
    values: Vec<f64>,
    trees: Vec<TreeRef>,
    base_score: f64,
    aggregation: Aggregation,
    link: Link,
    n_features: usize,
}

impl TreeEnsemble {
    /// Validates the ensemble and flattens it into a [`CompiledEnsemble`].
    ///
    /// Fails when [`TreeEnsemble::validate`] does, or when the ensemble exceeds the compact
    /// layout (2^31 features or about 4 billion nodes).
    pub fn compile(&self) -> Result<CompiledEnsemble, EnsembleError> {
        self.validate()?;
        if self.n_features > FEATURE_MASK as usize + 1 {
            return Err(EnsembleError::TooLarge {
                what: "more than 2^31 features",
            });
        }
        let total: usize = self.trees.iter().map(|t| t.nodes.len()).sum();
        // Indices must fit u32 with room for the leaf self-loop arithmetic.
        if total >= u32::MAX as usize {
            return Err(EnsembleError::TooLarge {
                what: "more than 2^32 - 2 nodes",
            });
        }
        let mut nodes = Vec::with_capacity(total);
        let mut values = Vec::with_capacity(total);
        let mut trees = Vec::with_capacity(self.trees.len());
        // (reference index, depth) in breadth-first order; reused across trees.
        let mut queue: Vec<(usize, u32)> = Vec::new();
        for tree in &self.trees {
            let root = nodes.len();
            queue.clear();
            queue.push((0, 0));
            nodes.push(LEAF_PLACEHOLDER);
            values.push(0.0);
            let mut depth = 0;
            let mut head = 0;
            // Node `root + head` is the compiled slot of `queue[head]`: slots are handed out in
            // the order nodes are queued, two at a time for a split's children.
            while let Some(&(i, d)) = queue.get(head) {
                let slot = root + head;
                depth = depth.max(d);
                let (node, value) = match tree.nodes.get(i) {
                    Some(&Node::Split {
                        feature,
                        threshold,
                        left,
                        right,
                        default_left,
                        ..
                    }) => {
                        let left_slot = nodes.len();
                        queue.push((left as usize, d + 1));
                        queue.push((right as usize, d + 1));
                        nodes.extend([LEAF_PLACEHOLDER; 2]);
                        values.extend([0.0; 2]);
                        let flag = if default_left { DEFAULT_LEFT } else { 0 };
                        let node = CompiledNode {
                            key: feature | flag,
                            threshold,
                            left: left_slot as u32,
                        };
                        (node, 0.0)
                    }
                    Some(&Node::Leaf { value, .. }) => (leaf(slot as u32), value),
                    // `validate` guarantees every child exists.
                    None => (leaf(slot as u32), 0.0),
                };
                if let (Some(n), Some(v)) = (nodes.get_mut(slot), values.get_mut(slot)) {
                    *n = node;
                    *v = value;
                }
                head += 1;
            }
            trees.push(TreeRef {
                root: root as u32,
                depth,
            });
        }
        Ok(CompiledEnsemble {
            nodes,
            values,
            trees,
            base_score: self.base_score,
            aggregation: self.aggregation,
            link: self.link,
            n_features: self.n_features,
        })
    }
}

/// Filler for slots not yet written during compilation.
const LEAF_PLACEHOLDER: CompiledNode = CompiledNode {
    key: 0,
    threshold: f32::NAN,
    left: 0,
};

/// A leaf at `slot`: NaN threshold and clear flag send every value right, to `left + 1 = slot`.
fn leaf(slot: u32) -> CompiledNode {
    CompiledNode {
        key: 0,
        threshold: f32::NAN,
        left: slot.wrapping_sub(1),
    }
}

/// One branch-free step from node `i` for row `x` (a leaf steps to itself). Features beyond `x`
/// read as NaN, like [`TreeEnsemble::tree_value`].
#[inline(always)]
fn step(nodes: &[CompiledNode], i: u32, x: &[f32]) -> u32 {
    match nodes.get(i as usize) {
        Some(n) => {
            let v = x
                .get((n.key & FEATURE_MASK) as usize)
                .copied()
                .unwrap_or(f32::NAN);
            // `v < t` is false for NaN, so NaN goes left only by the flag; `|`/`&` on bools keep
            // this free of branches.
            let go_left = (v < n.threshold) | (v.is_nan() & (n.key & DEFAULT_LEFT != 0));
            n.left.wrapping_add(u32::from(!go_left))
        }
        // Unreachable for a compiled ensemble; stay put rather than panic.
        None => i,
    }
}

/// The roots of a group of [`TREE_LANES`] trees and the steps the deepest needs.
#[inline(always)]
fn group_start(group: &[TreeRef]) -> ([u32; TREE_LANES], u32) {
    let mut roots = [0; TREE_LANES];
    let mut depth = 0;
    for (r, t) in roots.iter_mut().zip(group) {
        *r = t.root;
        depth = depth.max(t.depth);
    }
    (roots, depth)
}

impl CompiledEnsemble {
    /// Number of features the trees may read.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Number of nodes over all trees.
    pub fn n_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// The link that maps raw values to probabilities.
    pub fn link(&self) -> Link {
        self.link
    }

    /// The leaf value one compiled tree gives `x`.
    #[inline(always)]
    fn tree_value(&self, tree: TreeRef, x: &[f32]) -> f64 {
        let mut i = tree.root;
        for _ in 0..tree.depth {
            i = step(&self.nodes, i, x);
        }
        self.leaf_value(i)
    }

    /// Turns a sum of tree values into the raw value, exactly as [`TreeEnsemble::raw`] does.
    #[inline(always)]
    fn finish(&self, sum: f64) -> f64 {
        crate::ensemble::aggregate(self.aggregation, self.base_score, sum, self.trees.len())
    }

    /// The raw (pre-link) value for `x`; bit-for-bit equal to [`TreeEnsemble::raw`] on the
    /// ensemble it was compiled from. `x` shorter than `n_features` reads the rest as NaN.
    pub fn raw(&self, x: &[f32]) -> f64 {
        // -0.0 is the identity of `+`, and what `Iterator::sum` starts from.
        let mut sum = -0.0;
        let mut groups = self.trees.chunks_exact(TREE_LANES);
        for group in &mut groups {
            let (roots, depth) = group_start(group);
            // Added in tree order, as the reference does.
            for i in self.walk(roots, depth, x) {
                sum += self.leaf_value(i);
            }
        }
        for &tree in groups.remainder() {
            sum += self.tree_value(tree, x);
        }
        self.finish(sum)
    }

    /// Walks one group of trees in lockstep for `x`; returns the leaf reached in each.
    #[inline(always)]
    fn walk(&self, mut idx: [u32; TREE_LANES], depth: u32, x: &[f32]) -> [u32; TREE_LANES] {
        for _ in 0..depth {
            for i in idx.iter_mut() {
                *i = step(&self.nodes, *i, x);
            }
        }
        idx
    }

    #[inline(always)]
    fn leaf_value(&self, i: u32) -> f64 {
        self.values.get(i as usize).copied().unwrap_or(0.0)
    }

    /// The probability for `x` (raw value through the link).
    pub fn predict_proba(&self, x: &[f32]) -> f64 {
        apply_link(self.link, self.raw(x))
    }

    /// Raw values for a row-major batch: row `r` is `rows[r * n_features..(r + 1) * n_features]`
    /// and its value goes to `out[r]`, equal to [`CompiledEnsemble::raw`] on that row.
    ///
    /// `n_features` is the row stride; the model reads features beyond it as NaN. Entries of
    /// `out` without a complete row in `rows` are set to NaN (with `n_features == 0`, every row
    /// is empty and all features read as NaN).
    ///
    /// Rows are taken in blocks of 64; each group of 8 trees is applied to the whole block before
    /// the next group (see the module docs).
    pub fn raw_batch(&self, rows: &[f32], n_features: usize, out: &mut [f64]) {
        let n_rows = rows
            .len()
            .checked_div(n_features)
            .map_or(out.len(), |r| r.min(out.len()));
        let (done, rest) = out.split_at_mut(n_rows);
        rest.fill(f64::NAN);
        for (b, out) in done.chunks_mut(BLOCK).enumerate() {
            let start = b * BLOCK * n_features;
            let block = rows
                .get(start..start + out.len() * n_features)
                .unwrap_or(&[]);
            self.block(block, n_features, out);
        }
    }

    /// [`CompiledEnsemble::raw_batch`] through the link.
    pub fn predict_proba_batch(&self, rows: &[f32], n_features: usize, out: &mut [f64]) {
        self.raw_batch(rows, n_features, out);
        for v in out {
            *v = apply_link(self.link, *v);
        }
    }

    /// Raw values for at most [`BLOCK`] rows (`out.len()` rows of `n_features` in `rows`).
    fn block(&self, rows: &[f32], n_features: usize, out: &mut [f64]) {
        let row = |r: usize| {
            rows.get(r * n_features..(r + 1) * n_features)
                .unwrap_or(&[])
        };
        let mut sums = [-0.0f64; BLOCK];
        let n = out.len().min(BLOCK);
        let mut groups = self.trees.chunks_exact(TREE_LANES);
        for group in &mut groups {
            let (roots, depth) = group_start(group);
            for (r, s) in sums.iter_mut().enumerate().take(n) {
                for i in self.walk(roots, depth, row(r)) {
                    *s += self.leaf_value(i);
                }
            }
        }
        for &tree in groups.remainder() {
            for (r, s) in sums.iter_mut().enumerate().take(n) {
                *s += self.tree_value(tree, row(r));
            }
        }
        for (o, s) in out.iter_mut().zip(sums) {
            *o = self.finish(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ensemble::Tree;

    fn split(feature: u32, threshold: f32, left: u32, right: u32, default_left: bool) -> Node {
        Node::Split {
            feature,
            threshold,
            left,
            right,
            default_left,
            cover: 1.0,
        }
    }

    fn leaf_node(value: f64) -> Node {
        Node::Leaf { value, cover: 1.0 }
    }

    /// An unbalanced tree: the root's left child is a leaf, its right a split, nodes listed in a
    /// scrambled order.
    fn ensemble() -> TreeEnsemble {
        let t0 = Tree {
            nodes: vec![
                split(0, 0.5, 3, 1, true),
                split(1, -1.0, 4, 2, false),
                leaf_node(3.0),
                leaf_node(1.0),
                leaf_node(2.0),
            ],
        };
        let t1 = Tree {
            nodes: vec![leaf_node(0.125)],
        };
        TreeEnsemble {
            trees: vec![t0, t1],
            base_score: -0.5,
            aggregation: Aggregation::Sum,
            link: Link::Logistic,
            n_features: 2,
        }
    }

    #[test]
    fn layout_is_breadth_first_with_adjacent_children() {
        let c = ensemble().compile().expect("valid");
        assert_eq!(c.n_nodes(), 6);
        assert_eq!(c.n_trees(), 2);
        assert_eq!(
            c.trees,
            vec![TreeRef { root: 0, depth: 2 }, TreeRef { root: 5, depth: 0 }]
        );
        // Root: feature 0 default-left, children at 1 and 2.
        assert_eq!(c.nodes[0].key, DEFAULT_LEFT);
        assert_eq!(c.nodes[0].left, 1);
        // Slot 1 is the reference leaf 3 (value 1.0): self-loop.
        assert!(c.nodes[1].threshold.is_nan());
        assert_eq!(c.nodes[1].left, 0);
        assert_eq!(c.values[1], 1.0);
        // Slot 2 is the split on feature 1; its children are slots 3 and 4.
        assert_eq!(c.nodes[2].key, 1);
        assert_eq!(c.nodes[2].left, 3);
        assert_eq!(c.values[3..5], [2.0, 3.0]);
        assert_eq!(std::mem::size_of::<CompiledNode>(), 12);
    }

    #[test]
    fn leaves_loop_onto_themselves() {
        let c = ensemble().compile().expect("valid");
        for x in [[0.0, 0.0], [f32::NAN, f32::NAN], [f32::INFINITY, -5.0]] {
            for slot in [1u32, 3, 4, 5] {
                assert_eq!(step(&c.nodes, slot, &x), slot);
            }
        }
    }

    #[test]
    fn matches_reference_on_hand_picked_rows() {
        let e = ensemble();
        let c = e.compile().expect("valid");
        let rows: [&[f32]; 7] = [
            &[0.0, 0.0],
            &[0.5, -1.0],
            &[0.5, -1.5],
            &[f32::NAN, 0.0],
            &[1.0, f32::NAN],
            &[1.0],
            &[],
        ];
        let expected = [0.625, 2.625, 1.625, 0.625, 2.625, 2.625, 0.625];
        for (x, want) in rows.iter().zip(expected) {
            assert_eq!(e.raw(x), want, "reference {x:?}");
            assert_eq!(c.raw(x), want, "compiled {x:?}");
            assert_eq!(c.predict_proba(x), e.predict_proba(x));
        }
    }

    #[test]
    fn batch_handles_ragged_input() {
        let c = ensemble().compile().expect("valid");
        // 2.5 rows of 2 features: the half row and the extra output slot become NaN.
        let rows = [0.0, 0.0, 0.5, -1.5, 9.0];
        let mut out = [0.0; 4];
        c.raw_batch(&rows, 2, &mut out);
        assert_eq!(out[..2], [0.625, 1.625]);
        assert!(out[2].is_nan() && out[3].is_nan());
        // Zero-width rows: every feature missing.
        let mut out = [0.0; 3];
        c.raw_batch(&[], 0, &mut out);
        assert_eq!(out, [0.625; 3]);
        // A stride narrower than the model: feature 1 reads as NaN (goes right: 3.0).
        let mut out = [0.0; 2];
        c.raw_batch(&[1.0, 0.0], 1, &mut out);
        assert_eq!(out, [2.625, 0.625]);
    }

    #[test]
    fn mean_aggregation_matches_reference() {
        let e = TreeEnsemble {
            aggregation: Aggregation::Mean,
            link: Link::Identity,
            base_score: 0.0,
            ..ensemble()
        };
        let c = e.compile().expect("valid");
        assert_eq!(c.raw(&[1.0, 0.0]), (3.0 + 0.125) / 2.0);
        assert_eq!(c.predict_proba(&[1.0, 0.0]), 1.0);
        let empty = TreeEnsemble { trees: vec![], ..e };
        assert_eq!(empty.compile().expect("valid").raw(&[1.0]), 0.0);
    }

    #[test]
    fn compile_rejects_invalid_ensembles() {
        let mut e = ensemble();
        if let Some(Node::Split { right, .. }) = e.trees[0].nodes.get_mut(1) {
            *right = 0;
        }
        assert!(matches!(
            e.compile(),
            Err(EnsembleError::NotATree { tree: 0, .. })
        ));
    }
}

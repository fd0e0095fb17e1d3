//! The histogram tree builder shared by boosting and the forest.
//!
//! Both trainers describe each sampled row by a gradient triple [`Stats`] `(g, h, n)` and let this
//! module grow one tree minimising the second-order objective `G²/(H + λ)`:
//! - boosting: `g`, `h` = log-loss gradient and hessian times the sample weight, `n` = 1;
//! - forest: `g = -w·c·y`, `h = w·c`, `n = c` (`c` = bootstrap multiplicity). With `λ = 0` the
//!   gain is the weighted squared-error (variance, i.e. Gini for 0/1 labels) reduction and
//!   `-G/H` is the weighted positive fraction.
//!
//! Growth is depth-wise (level by level). Without `max_leaves` that is the same tree best-first
//! growth would build, since each node's best split depends only on its own rows; with
//! `max_leaves`, each level splits its highest-gain nodes first until the leaf budget is spent.
//!
//! Histograms: one `[Stats; 256]` per feature and node (bins `0..=254`, missing at 255).
//! [`Sampling::PerTree`] (boosting: one feature subset per tree) builds the smaller child's
//! histogram from its rows and gets the larger child's by subtracting it from the parent's;
//! the work of a level is split across threads by feature. Kept histograms are capped at
//! [`HIST_BUDGET_BYTES`] (largest nodes first); deep trees rebuild the rest from rows. [`Sampling::PerNode`] (forest:
//! fresh candidates at every node) builds each node's few candidate histograms directly, single
//! threaded; the forest parallelises over trees instead.
//!
//! Missing values: every split is scored with the missing rows sent left and sent right, and the
//! better direction is kept (`default_left`). A node that saw no missing rows sends them to the
//! child with more hessian cover. "Missing vs everything else" is a split of its own (`bin = -1`).
//!
//! Determinism: rows are partitioned stably, features are scanned in ascending order, ties keep
//! the first (lowest feature, lowest bin) candidate, and thread results are merged in feature
//! order, so the tree does not depend on the thread count.

use std::ops::{Add, AddAssign, Range, Sub, SubAssign};

use shrike_score::{Node, Tree};

use crate::binning::{goes_left, Binned, MISSING};
use crate::rng::Rng;

/// Sums of gradient, hessian and row count over a set of rows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Stats {
    pub(crate) g: f64,
    pub(crate) h: f64,
    pub(crate) n: f64,
}

impl Add for Stats {
    type Output = Stats;
    fn add(self, o: Stats) -> Stats {
        Stats {
            g: self.g + o.g,
            h: self.h + o.h,
            n: self.n + o.n,
        }
    }
}

impl Sub for Stats {
    type Output = Stats;
    fn sub(self, o: Stats) -> Stats {
        Stats {
            g: self.g - o.g,
            h: self.h - o.h,
            n: self.n - o.n,
        }
    }
}

impl AddAssign for Stats {
    fn add_assign(&mut self, o: Stats) {
        *self = *self + o;
    }
}

impl SubAssign for Stats {
    fn sub_assign(&mut self, o: Stats) {
        *self = *self - o;
    }
}

/// One feature's histogram at one node.
type FeatureHist = [Stats; 256];

/// Memory for histograms kept for subtraction (the rest are rebuilt from rows): a histogram is
/// `n_features × 6 KiB`, and deep trees would otherwise keep thousands.
pub(crate) const HIST_BUDGET_BYTES: usize = 256 << 20;

/// Tree-shape and regularisation settings.
#[derive(Debug, Clone)]
pub(crate) struct TreeConfig {
    /// Deepest leaf (root = depth 0).
    pub(crate) max_depth: usize,
    /// Most leaves.
    pub(crate) max_leaves: usize,
    /// Least hessian per child; a child also needs a positive hessian.
    pub(crate) min_child_weight: f64,
    /// Least row count (`n`) per child, at least 1.
    pub(crate) min_samples_leaf: f64,
    /// L2 penalty on leaf values.
    pub(crate) lambda: f64,
    /// Least gain to split.
    pub(crate) gamma: f64,
    /// Threads for [`Sampling::PerTree`] levels.
    pub(crate) n_threads: usize,
    /// Memory for kept histograms ([`HIST_BUDGET_BYTES`] outside tests).
    pub(crate) hist_budget_bytes: usize,
}

/// Which features a node may split on.
pub(crate) enum Sampling<'a> {
    /// These features (ascending) at every node; histograms by subtraction.
    PerTree(&'a [u32]),
    /// `k` features drawn afresh at each node from all of them.
    PerNode { k: usize, rng: &'a mut Rng },
}

/// A grown tree in bin terms.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawNode {
    /// Rows with bin `<= bin` go left (`bin = -1`: none do); missing go `default_left`.
    Split {
        feature: u32,
        bin: i32,
        default_left: bool,
        left: u32,
        right: u32,
        gain: f64,
        stats: Stats,
    },
    /// A leaf with its rows' sums.
    Leaf { stats: Stats },
}

/// Nodes of a grown tree; `nodes[0]` is the root, children follow their parents.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawTree {
    pub(crate) nodes: Vec<RawNode>,
}

impl RawTree {
    /// Index of the leaf training row `row` reaches, using bin codes.
    pub(crate) fn leaf_of(&self, binned: &Binned, row: usize) -> usize {
        let mut i = 0;
        // Children always have larger indices than parents, so this walk ends.
        while let Some(RawNode::Split {
            feature,
            bin,
            default_left,
            left,
            right,
            ..
        }) = self.nodes.get(i)
        {
            let code = binned.column(*feature as usize)[row];
            i = if goes_left(code, *bin, *default_left) {
                *left
            } else {
                *right
            } as usize;
        }
        i
    }

    /// The serving form: thresholds from the bins, covers = hessian sums, leaf values from
    /// `leaf_value(stats)`.
    pub(crate) fn to_tree(&self, binned: &Binned, leaf_value: impl Fn(&Stats) -> f64) -> Tree {
        let nodes = self
            .nodes
            .iter()
            .map(|n| match *n {
                RawNode::Split {
                    feature,
                    bin,
                    default_left,
                    left,
                    right,
                    stats,
                    ..
                } => Node::Split {
                    feature,
                    threshold: binned.threshold(feature as usize, bin),
                    left,
                    right,
                    default_left,
                    cover: stats.h,
                },
                RawNode::Leaf { stats } => Node::Leaf {
                    value: leaf_value(&stats),
                    cover: stats.h,
                },
            })
            .collect();
        Tree { nodes }
    }

    /// Adds each split's gain to `importance[feature]`.
    pub(crate) fn add_gains(&self, importance: &mut [f64]) {
        for n in &self.nodes {
            if let RawNode::Split { feature, gain, .. } = *n {
                if let Some(v) = importance.get_mut(feature as usize) {
                    *v += gain;
                }
            }
        }
    }
}

/// A proposed split of one node.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    gain: f64,
    feature: u32,
    bin: i32,
    default_left: bool,
    left: Stats,
    right: Stats,
}

/// `better` replaces `best` only with a strictly larger gain, so the first candidate (lowest
/// feature, lowest bin) wins ties.
fn keep_better(best: &mut Option<Candidate>, other: Option<Candidate>) {
    if let Some(o) = other {
        if best.is_none_or(|b| o.gain > b.gain) {
            *best = Some(o);
        }
    }
}

/// A node waiting for its split decision.
struct Open {
    id: usize,
    rows: Range<usize>,
    depth: usize,
    stats: Stats,
    /// Its histogram (PerTree mode only, while it may still split).
    hist: Option<Vec<FeatureHist>>,
    best: Option<Candidate>,
}

/// Reusable buffers for growing trees.
#[derive(Default)]
pub(crate) struct Workspace {
    pool: Vec<Vec<FeatureHist>>,
    tmp_rows: Vec<u32>,
    tmp_grads: Vec<Stats>,
}

impl Workspace {
    fn take_hist(&mut self, n_features: usize) -> Vec<FeatureHist> {
        match self.pool.pop() {
            Some(h) if h.len() == n_features => h,
            _ => vec![[Stats::default(); 256]; n_features],
        }
    }

    fn give_hist(&mut self, h: Option<Vec<FeatureHist>>) {
        if let Some(h) = h {
            self.pool.push(h);
        }
    }
}

/// Grows one tree on the rows `rows` (indices into `binned`) with gradient triples `grads`
/// (same order). Both are reordered in place (rows of a node end up contiguous).
pub(crate) fn grow(
    binned: &Binned,
    cfg: &TreeConfig,
    rows: &mut [u32],
    grads: &mut [Stats],
    mut sampling: Sampling<'_>,
    ws: &mut Workspace,
) -> RawTree {
    let total = grads.iter().fold(Stats::default(), |a, &s| a + s);
    let mut nodes = vec![RawNode::Leaf { stats: total }];
    let mut frontier = vec![Open {
        id: 0,
        rows: 0..rows.len(),
        depth: 0,
        stats: total,
        hist: None,
        best: None,
    }];
    if cfg.max_depth > 0 {
        evaluate(
            binned,
            cfg,
            rows,
            grads,
            &mut frontier,
            &[],
            &mut sampling,
            ws,
        );
    }
    let mut n_leaves = 1usize;
    while !frontier.is_empty() {
        // Which open nodes split: all with a valid candidate, best gains first under a budget.
        let mut splitting: Vec<usize> = (0..frontier.len())
            .filter(|&i| frontier[i].best.is_some() && frontier[i].depth < cfg.max_depth)
            .collect();
        let budget = cfg.max_leaves.saturating_sub(n_leaves);
        if splitting.len() > budget {
            let gain = |i: usize| frontier[i].best.map_or(f64::NEG_INFINITY, |c| c.gain);
            // Stable sort: equal gains keep node order.
            splitting.sort_by(|&a, &b| gain(b).total_cmp(&gain(a)));
            splitting.truncate(budget);
            splitting.sort_unstable();
        }
        let mut next = Vec::new();
        // (index in `next` of the left child, parent's histogram).
        let mut pairs = Vec::new();
        let mut it = splitting.into_iter().peekable();
        for (i, open) in frontier.into_iter().enumerate() {
            if it.peek() != Some(&i) {
                ws.give_hist(open.hist);
                continue;
            }
            it.next();
            let Some(c) = open.best else { continue };
            let range = open.rows.clone();
            let n_left = partition(
                binned,
                &c,
                &mut rows[range.clone()],
                &mut grads[range.clone()],
                ws,
            );
            let (left_id, right_id) = (nodes.len(), nodes.len() + 1);
            nodes.push(RawNode::Leaf { stats: c.left });
            nodes.push(RawNode::Leaf { stats: c.right });
            nodes[open.id] = RawNode::Split {
                feature: c.feature,
                bin: c.bin,
                default_left: c.default_left,
                left: left_id as u32,
                right: right_id as u32,
                gain: c.gain,
                stats: open.stats,
            };
            n_leaves += 1;
            let depth = open.depth + 1;
            if depth >= cfg.max_depth {
                ws.give_hist(open.hist);
                continue;
            }
            let mid = range.start + n_left;
            pairs.push((next.len(), open.hist));
            next.push(Open {
                id: left_id,
                rows: range.start..mid,
                depth,
                stats: c.left,
                hist: None,
                best: None,
            });
            next.push(Open {
                id: right_id,
                rows: mid..range.end,
                depth,
                stats: c.right,
                hist: None,
                best: None,
            });
        }
        // Hand each parent's histogram to the larger child (to be turned into its histogram by
        // subtraction); the smaller child gets a fresh one.
        let mut large_of_pair = Vec::with_capacity(pairs.len());
        for (l, parent_hist) in pairs {
            let large = if next[l].rows.len() >= next[l + 1].rows.len() {
                l
            } else {
                l + 1
            };
            next[large].hist = parent_hist;
            large_of_pair.push(large);
        }
        if n_leaves < cfg.max_leaves {
            evaluate(
                binned,
                cfg,
                rows,
                grads,
                &mut next,
                &large_of_pair,
                &mut sampling,
                ws,
            );
        } else {
            for o in &mut next {
                ws.give_hist(o.hist.take());
            }
            next.clear();
        }
        frontier = next;
    }
    RawTree { nodes }
}

/// Stable partition of a node's rows by its split; returns the number going left.
fn partition(
    binned: &Binned,
    c: &Candidate,
    rows: &mut [u32],
    grads: &mut [Stats],
    ws: &mut Workspace,
) -> usize {
    let col = binned.column(c.feature as usize);
    ws.tmp_rows.clear();
    ws.tmp_grads.clear();
    let mut n_left = 0;
    for i in 0..rows.len() {
        let (r, g) = (rows[i], grads[i]);
        if goes_left(col[r as usize], c.bin, c.default_left) {
            rows[n_left] = r;
            grads[n_left] = g;
            n_left += 1;
        } else {
            ws.tmp_rows.push(r);
            ws.tmp_grads.push(g);
        }
    }
    rows[n_left..].copy_from_slice(&ws.tmp_rows);
    grads[n_left..].copy_from_slice(&ws.tmp_grads);
    n_left
}

/// Finds the best split of every node in `open`.
///
/// PerTree: nodes are the children of one level, in (left, right) pairs; `large` lists which
/// child of each pair holds its parent's histogram (empty for the root, whose histogram is built).
/// PerNode: every node draws its candidates and builds its own histograms.
#[allow(clippy::too_many_arguments)]
fn evaluate(
    binned: &Binned,
    cfg: &TreeConfig,
    rows: &[u32],
    grads: &[Stats],
    open: &mut [Open],
    large: &[usize],
    sampling: &mut Sampling<'_>,
    ws: &mut Workspace,
) {
    match sampling {
        Sampling::PerNode { k, rng } => {
            let mut hist = ws.take_hist(binned.n_features);
            let mut scratch = Scratch::new();
            let mut feats = Vec::new();
            for o in open.iter_mut() {
                feats.clear();
                feats.extend(
                    rng.sample_indices(binned.n_features, *k)
                        .into_iter()
                        .map(|f| f as u32),
                );
                let mut best = None;
                for &f in &feats {
                    let h = &mut hist[f as usize];
                    let nb = binned.n_value_bins(f as usize);
                    build(
                        h,
                        nb,
                        binned.column(f as usize),
                        &rows[o.rows.clone()],
                        &grads[o.rows.clone()],
                    );
                    keep_better(&mut best, best_split(h, nb, f, o.stats, cfg, &mut scratch));
                }
                o.best = best;
            }
            ws.give_hist(Some(hist));
        }
        Sampling::PerTree(feats) => {
            let feats: &[u32] = feats;
            let per_buffer = binned.n_features * std::mem::size_of::<FeatureHist>();
            let budget = (cfg.hist_budget_bytes / per_buffer.max(1)).max(4);
            // Tasks: (node to build, node holding its parent's histogram to subtract into). A
            // pair whose parent kept no histogram builds both children.
            let mut tasks: Vec<(usize, Option<usize>)> = Vec::new();
            if large.is_empty() {
                tasks.extend((0..open.len()).map(|i| (i, None)));
            } else {
                for &l in large {
                    let pair = l - l % 2;
                    if open[l].hist.is_some() {
                        tasks.push((if l == pair { pair + 1 } else { pair }, Some(l)));
                    } else {
                        tasks.push((pair, None));
                        tasks.push((pair + 1, None));
                    }
                }
            }
            // Which nodes keep their histogram for their children: those whose children may
            // split, largest first (subtraction saves most there), within the memory budget.
            let mut keep = vec![false; open.len()];
            let mut eligible: Vec<usize> = (0..open.len())
                .filter(|&i| open[i].depth + 1 < cfg.max_depth)
                .collect();
            eligible.sort_by_key(|&i| std::cmp::Reverse(open[i].rows.len()));
            for &i in eligible.iter().take(budget) {
                keep[i] = true;
            }
            // Chunks bound the histograms in flight.
            for chunk in tasks.chunks((budget / 2).clamp(1, 32)) {
                for &(s, _) in chunk {
                    open[s].hist = Some(ws.take_hist(binned.n_features));
                }
                run_tasks(binned, cfg, rows, grads, feats, open, chunk);
                for &(s, l) in chunk {
                    for i in std::iter::once(s).chain(l) {
                        if !keep[i] {
                            ws.give_hist(open[i].hist.take());
                        }
                    }
                }
            }
        }
    }
}

/// Runs build-and-subtract `tasks` (see [`evaluate`]), splitting features across two threads
/// when the work is large enough, and stores each node's best split.
fn run_tasks(
    binned: &Binned,
    cfg: &TreeConfig,
    rows: &[u32],
    grads: &[Stats],
    feats: &[u32],
    open: &mut [Open],
    tasks: &[(usize, Option<usize>)],
) {
    let work: usize = tasks
        .iter()
        .map(|&(s, _)| open[s].rows.len())
        .sum::<usize>()
        * feats.len();
    // Thread split: features before `split_f` on this thread, the rest on a helper.
    let threads = if cfg.n_threads >= 2 && work >= 1 << 17 && feats.len() >= 2 {
        2
    } else {
        1
    };
    let split_f = if threads == 2 {
        feats[feats.len() / 2] as usize
    } else {
        binned.n_features
    };
    // What each task needs besides histograms, read before borrowing them mutably.
    let infos: Vec<TaskInfo> = tasks
        .iter()
        .map(|&(s, l)| TaskInfo {
            rows: open[s].rows.clone(),
            small_stats: open[s].stats,
            large_stats: l.map(|l| open[l].stats),
        })
        .collect();
    // Per task, the two (or one) histograms split at `split_f`.
    let mut lo_views = Vec::with_capacity(tasks.len());
    let mut hi_views = Vec::with_capacity(tasks.len());
    let mut task_info = Vec::with_capacity(tasks.len());
    let mut metas = Vec::with_capacity(tasks.len());
    {
        // Borrow the histograms of `open` disjointly.
        let mut hists: Vec<Option<&mut Vec<FeatureHist>>> =
            open.iter_mut().map(|o| o.hist.as_mut()).collect();
        for (&(s, l), info) in tasks.iter().zip(infos) {
            // Every task's small node got a histogram above; skip defensively if not.
            let Some(sh) = hists[s].take() else { continue };
            let lh = l.and_then(|l| hists[l].take());
            let (s_lo, s_hi) = sh.split_at_mut(split_f);
            let (l_lo, l_hi) = match lh {
                Some(h) => {
                    let (a, b) = h.split_at_mut(split_f);
                    (Some(a), Some(b))
                }
                None => (None, None),
            };
            lo_views.push((s_lo, l_lo));
            hi_views.push((s_hi, l_hi));
            task_info.push(info);
            metas.push((s, l));
        }
    }
    let (f_lo, f_hi) = feats.split_at(feats.partition_point(|&f| (f as usize) < split_f));
    let results_lo;
    let results_hi;
    if threads == 2 {
        (results_lo, results_hi) = std::thread::scope(|sc| {
            let h = sc.spawn(|| {
                scan_tasks(
                    binned, cfg, rows, grads, &task_info, hi_views, f_hi, split_f,
                )
            });
            let lo = scan_tasks(binned, cfg, rows, grads, &task_info, lo_views, f_lo, 0);
            // A panic in the helper is a bug in this module; re-raise it here.
            let hi = h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            (lo, hi)
        });
    } else {
        results_lo = scan_tasks(binned, cfg, rows, grads, &task_info, lo_views, f_lo, 0);
        results_hi = vec![(None, None); metas.len()];
    }
    for (k, &(s, l)) in metas.iter().enumerate() {
        let (mut bs, mut bl) = results_lo[k];
        keep_better(&mut bs, results_hi[k].0);
        keep_better(&mut bl, results_hi[k].1);
        open[s].best = bs;
        if let Some(l) = l {
            open[l].best = bl;
        }
    }
}

/// What a thread needs to know about one build-and-subtract task.
struct TaskInfo {
    rows: Range<usize>,
    small_stats: Stats,
    large_stats: Option<Stats>,
}

type HistView<'h> = (&'h mut [FeatureHist], Option<&'h mut [FeatureHist]>);

/// For each task: builds the small node's histograms of `feats` (features are offset by
/// `offset` in the views), subtracts them from the large node's, and returns both nodes' best
/// splits over `feats`.
#[allow(clippy::too_many_arguments)]
fn scan_tasks(
    binned: &Binned,
    cfg: &TreeConfig,
    rows: &[u32],
    grads: &[Stats],
    info: &[TaskInfo],
    views: Vec<HistView<'_>>,
    feats: &[u32],
    offset: usize,
) -> Vec<(Option<Candidate>, Option<Candidate>)> {
    let mut out = Vec::with_capacity(info.len());
    let mut scratch = Scratch::new();
    for (t, (small, mut large)) in info.iter().zip(views) {
        let (mut bs, mut bl) = (None, None);
        for &f in feats {
            let fi = f as usize - offset;
            let nb = binned.n_value_bins(f as usize);
            let sh = &mut small[fi];
            build(
                sh,
                nb,
                binned.column(f as usize),
                &rows[t.rows.clone()],
                &grads[t.rows.clone()],
            );
            keep_better(
                &mut bs,
                best_split(sh, nb, f, t.small_stats, cfg, &mut scratch),
            );
            if let (Some(lh), Some(ls)) = (large.as_deref_mut(), t.large_stats) {
                let lh = &mut lh[fi];
                // Only the value bins in use and the missing bin hold data.
                for (a, b) in lh[..nb].iter_mut().zip(&sh[..nb]) {
                    *a -= *b;
                }
                let m = usize::from(MISSING);
                lh[m] -= sh[m];
                keep_better(&mut bl, best_split(lh, nb, f, ls, cfg, &mut scratch));
            }
        }
        out.push((bs, bl));
    }
    out
}

/// Fills `hist` (value bins `0..n_bins` and the missing bin; other slots are never read) with
/// the sums of `grads` by bin of `col` over `rows`.
#[inline]
fn build(hist: &mut FeatureHist, n_bins: usize, col: &[u8], rows: &[u32], grads: &[Stats]) {
    hist[..n_bins].fill(Stats::default());
    hist[usize::from(MISSING)] = Stats::default();
    for (&r, s) in rows.iter().zip(grads) {
        let e = &mut hist[usize::from(col[r as usize])];
        e.g += s.g;
        e.h += s.h;
        e.n += s.n;
    }
}

/// Per-thread buffers for [`best_split`], so its arrays need no zeroing per call.
struct Scratch {
    gl: Box<[f64; 256]>,
    hl: Box<[f64; 256]>,
    nl: Box<[f64; 256]>,
    own: Box<[f64; 256]>,
    right: Box<[f64; 256]>,
    left: Box<[f64; 256]>,
}

impl Scratch {
    fn new() -> Self {
        let a = || Box::new([0.0; 256]);
        Scratch {
            gl: a(),
            hl: a(),
            nl: a(),
            own: a(),
            right: a(),
            left: a(),
        }
    }
}

/// The best valid split of a node with sums `total` on feature `f`, or `None`.
///
/// Written for speed (this scan is the trainer's hottest loop): prefix sums go into plain
/// arrays, then one branch-free loop per missing-value direction computes every boundary's gain
/// (invalid boundaries get -inf), which LLVM vectorises, and a final pass takes the first
/// maximum. A boundary after an empty bin is invalid: it repeats the previous partition.
fn best_split(
    hist: &FeatureHist,
    n_bins: usize,
    f: u32,
    total: Stats,
    cfg: &TreeConfig,
    scratch: &mut Scratch,
) -> Option<Candidate> {
    if n_bins == 0 {
        return None;
    }
    let parent = total.g * total.g / (total.h + cfg.lambda);
    // Below this a "gain" is rounding noise (e.g. splitting a pure forest node).
    let floor = cfg.gamma.max(1e-10 * parent.abs()).max(0.0);
    let miss = hist[usize::from(MISSING)];
    let has_missing = miss.n > 0.0;
    let mut best: Option<Candidate> = None;
    let mut best_gain = floor;
    let mut take = |gain: f64, left: Stats, bin: i32, default_left: bool| {
        if gain > best_gain {
            best_gain = gain;
            best = Some(Candidate {
                gain,
                feature: f,
                bin,
                default_left,
                left,
                right: total - left,
            });
        }
    };
    let zero = Stats::default();
    if has_missing {
        // "Missing vs everything else": all values right, missing left.
        let mut g = [f64::NEG_INFINITY];
        gains(
            &[0.0],
            &[0.0],
            &[0.0],
            &[1.0],
            miss,
            total,
            cfg,
            parent,
            &mut g,
        );
        take(g[0], miss, -1, true);
    }
    let nb = n_bins - 1;
    if nb > 0 {
        let Scratch {
            gl,
            hl,
            nl,
            own,
            right,
            left,
        } = scratch;
        let mut acc = zero;
        for b in 0..nb {
            acc += hist[b];
            (gl[b], hl[b], nl[b], own[b]) = (acc.g, acc.h, acc.n, hist[b].n);
        }
        gains(
            &gl[..],
            &hl[..],
            &nl[..],
            &own[..],
            zero,
            total,
            cfg,
            parent,
            &mut right[..nb],
        );
        if has_missing {
            gains(
                &gl[..],
                &hl[..],
                &nl[..],
                &own[..],
                miss,
                total,
                cfg,
                parent,
                &mut left[..nb],
            );
        } else {
            left[..nb].fill(f64::NEG_INFINITY);
        }
        for b in 0..nb {
            let l = Stats {
                g: gl[b],
                h: hl[b],
                n: nl[b],
            };
            take(right[b], l, b as i32, false);
            take(left[b], l + miss, b as i32, true);
        }
    }
    if let Some(c) = best.as_mut() {
        if !has_missing {
            // No missing rows seen here: send future ones where most of the cover went.
            c.default_left = c.left.h >= c.right.h;
        }
    }
    best
}

/// Gains of the boundaries whose left sides are the prefix sums `(gl, hl, nl)` plus `add`;
/// `-inf` where a side breaks a constraint or the boundary's bin is empty (`own == 0`).
#[allow(clippy::too_many_arguments)]
#[inline]
fn gains(
    gl: &[f64],
    hl: &[f64],
    nl: &[f64],
    own: &[f64],
    add: Stats,
    total: Stats,
    cfg: &TreeConfig,
    parent: f64,
    out: &mut [f64],
) {
    let n = out.len();
    let (gl, hl, nl, own) = (&gl[..n], &hl[..n], &nl[..n], &own[..n]);
    let (lambda, msl, mcw) = (cfg.lambda, cfg.min_samples_leaf, cfg.min_child_weight);
    for b in 0..n {
        let (g, h, c) = (gl[b] + add.g, hl[b] + add.h, nl[b] + add.n);
        let (gr, hr, cr) = (total.g - g, total.h - h, total.n - c);
        // Non-short-circuit `&` keeps the loop branch-free.
        let ok = (own[b] > 0.0)
            & (c >= msl)
            & (cr >= msl)
            & (h > 0.0)
            & (hr > 0.0)
            & (h >= mcw)
            & (hr >= mcw);
        // G_L²/a + G_R²/b as one division: division throughput bounds this loop.
        let (a, ar) = (h + lambda, hr + lambda);
        let gain = 0.5 * ((g * g * ar + gr * gr * a) / (a * ar) - parent);
        out[b] = if ok { gain } else { f64::NEG_INFINITY };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dataset;

    fn cfg(depth: usize) -> TreeConfig {
        TreeConfig {
            max_depth: depth,
            max_leaves: usize::MAX,
            min_child_weight: 0.0,
            min_samples_leaf: 1.0,
            lambda: 0.0,
            gamma: 0.0,
            n_threads: 1,
            hist_budget_bytes: HIST_BUDGET_BYTES,
        }
    }

    /// Squared-loss triples for labels y: g = -y, h = 1, n = 1.
    fn sq(y: &[f32]) -> Vec<Stats> {
        y.iter()
            .map(|&v| Stats {
                g: -f64::from(v),
                h: 1.0,
                n: 1.0,
            })
            .collect()
    }

    #[test]
    fn stump_finds_the_separating_threshold_and_missing_direction() {
        // x: 1 2 3 4 NaN NaN; y: 0 0 1 1 1 1 -> split between 2 and 3, missing right.
        let x = vec![1.0, 2.0, 3.0, 4.0, f32::NAN, f32::NAN];
        let y = vec![0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
        let d = Dataset::new(x, 6, 1, y.clone(), vec![1.0; 6]).expect("valid");
        let b = Binned::new(&d, 255, 1);
        let mut rows: Vec<u32> = (0..6).collect();
        let mut grads = sq(&y);
        let t = grow(
            &b,
            &cfg(1),
            &mut rows,
            &mut grads,
            Sampling::PerTree(&[0]),
            &mut Workspace::default(),
        );
        assert_eq!(t.nodes.len(), 3);
        let RawNode::Split {
            bin,
            default_left,
            gain,
            ..
        } = t.nodes[0]
        else {
            panic!("root should split: {t:?}")
        };
        assert_eq!((bin, default_left), (1, false));
        assert_eq!(b.threshold(0, bin), 2.5);
        // Squared-error reduction: parent G²/H = 16/6, children 0/2 and 16/4; gain = ½(4 - 8/3).
        assert!((gain - 0.5 * (4.0 - 16.0 / 6.0)).abs() < 1e-12);
        let tree = t.to_tree(&b, |s| -s.g / s.h);
        let Node::Leaf { value, cover } = tree.nodes[2] else {
            panic!("leaf")
        };
        assert_eq!((value, cover), (1.0, 4.0));
    }

    #[test]
    fn missing_versus_rest_split_is_available() {
        // Only missingness predicts the label.
        let x = vec![1.0, 2.0, 3.0, f32::NAN, f32::NAN, 2.0];
        let y = vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0];
        let d = Dataset::new(x, 6, 1, y.clone(), vec![1.0; 6]).expect("valid");
        let b = Binned::new(&d, 255, 1);
        let mut rows: Vec<u32> = (0..6).collect();
        let mut grads = sq(&y);
        let t = grow(
            &b,
            &cfg(3),
            &mut rows,
            &mut grads,
            Sampling::PerTree(&[0]),
            &mut Workspace::default(),
        );
        let RawNode::Split {
            bin, default_left, ..
        } = t.nodes[0]
        else {
            panic!("split")
        };
        assert_eq!((bin, default_left), (-1, true));
        // Both children are pure: no further splits.
        assert_eq!(t.nodes.len(), 3);
        for r in 0..6 {
            let leaf = t.leaf_of(&b, r);
            assert_eq!(leaf, if r == 3 || r == 4 { 1 } else { 2 });
        }
    }

    #[test]
    fn thread_count_and_leaf_budget() {
        let n = 3000;
        let nf = 12;
        let mut rng = Rng::new(5);
        let x: Vec<f32> = (0..n * nf).map(|_| rng.normal() as f32).collect();
        let y: Vec<f32> = (0..n)
            .map(|r| f32::from(u8::from(x[r * nf] * x[r * nf + 1] > 0.0)))
            .collect();
        let d = Dataset::new(x, n, nf, y.clone(), vec![1.0; n]).expect("valid");
        let b = Binned::new(&d, 255, 1);
        let feats: Vec<u32> = (0..nf as u32).collect();
        let run = |threads: usize, leaves: usize| {
            let mut c = cfg(6);
            c.n_threads = threads;
            c.max_leaves = leaves;
            let mut rows: Vec<u32> = (0..n as u32).collect();
            let mut grads = sq(&y);
            grow(
                &b,
                &c,
                &mut rows,
                &mut grads,
                Sampling::PerTree(&feats),
                &mut Workspace::default(),
            )
        };
        let one = run(1, usize::MAX);
        let two = run(2, usize::MAX);
        assert_eq!(one, two);
        // With no memory for kept histograms (rebuild instead of subtract) the tree is the same:
        // squared-loss sums of 0/1 labels are exact integers either way.
        let mut c = cfg(6);
        c.hist_budget_bytes = 0;
        let mut rows: Vec<u32> = (0..n as u32).collect();
        let mut grads = sq(&y);
        let rebuilt = grow(
            &b,
            &c,
            &mut rows,
            &mut grads,
            Sampling::PerTree(&feats),
            &mut Workspace::default(),
        );
        assert_eq!(one, rebuilt);
        assert!(one.nodes.len() > 31, "a deep tree: {}", one.nodes.len());
        let capped = run(2, 5);
        let leaves = capped
            .nodes
            .iter()
            .filter(|n| matches!(n, RawNode::Leaf { .. }))
            .count();
        assert_eq!(leaves, 5);
        // Every node's cover equals its children's.
        for t in [&one, &capped] {
            for n in &t.nodes {
                if let RawNode::Split {
                    left, right, stats, ..
                } = n
                {
                    let s = |i: u32| match &t.nodes[i as usize] {
                        RawNode::Split { stats, .. } | RawNode::Leaf { stats } => *stats,
                    };
                    assert_eq!(s(*left).n + s(*right).n, stats.n);
                }
            }
        }
    }
}

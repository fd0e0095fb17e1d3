//! Evaluation metrics for binary scores, with scikit-learn's definitions.
//!
//! Conventions, everywhere:
//! - A row is flagged (predicted positive) when `score >= threshold`. Curve thresholds are the
//!   distinct scores, highest first; tied scores form one point (one step), never an arbitrary
//!   order.
//! - Labels are 0 or 1. Weights: functions taking `w` accept an empty slice for "all 1"; otherwise
//!   `w` needs one finite non-negative weight per row, and zero-weight rows are ignored. Functions
//!   without `w` are unweighted; each has a `_weighted` twin.
//! - Invalid input (length mismatch, NaN score, label not 0/1, bad weight) or an undefined value
//!   (e.g. ROC-AUC with one class) gives `None` / an empty curve / a [`MetricError`]; nothing
//!   panics or returns NaN. Ranking metrics accept infinite scores; probability metrics (log-loss,
//!   Brier, calibration) need scores in [0, 1].
//!
//! Definitions: average precision is the step-wise `Σ (Rₖ - Rₖ₋₁)·Pₖ` over the PR points
//! (`sklearn.metrics.average_precision_score`, no interpolation); ROC-AUC is the trapezoid over the
//! ROC points, which with tied groups as single points equals the Mann–Whitney statistic (a tied
//! positive–negative pair counts ½); ECE uses equal-width bins weighted by their share of rows.

use serde::Serialize;

/// Why a threshold could not be chosen.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum MetricError {
    /// Scores, labels or weights are malformed (see the module docs).
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// An argument (target precision, FPR) is outside [0, 1] or NaN.
    #[error("argument {name} = {value} is outside [0, 1]")]
    InvalidArgument {
        /// Argument name.
        name: &'static str,
        /// Its value.
        value: f64,
    },
    /// There is no (weighted) positive row.
    #[error("no positive rows")]
    NoPositives,
    /// There is no (weighted) negative row.
    #[error("no negative rows")]
    NoNegatives,
    /// No threshold reaches the target precision.
    #[error("no threshold reaches precision {target}; the best is {best}")]
    PrecisionUnreachable {
        /// The requested precision.
        target: f64,
        /// The highest precision at any threshold.
        best: f64,
    },
}

/// One point of a precision–recall curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PrPoint {
    /// Flag rows with `score >= threshold`.
    pub threshold: f64,
    /// Precision at the threshold.
    pub precision: f64,
    /// Recall at the threshold.
    pub recall: f64,
}

/// A precision–recall curve: one point per distinct score, thresholds descending (recall
/// non-decreasing). Empty when undefined (no positives, invalid input).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PrCurve {
    /// The points.
    pub points: Vec<PrPoint>,
}

impl PrCurve {
    /// Average precision `Σ (Rₖ - Rₖ₋₁)·Pₖ` with `R₀ = 0`; `None` for an empty curve.
    pub fn average_precision(&self) -> Option<f64> {
        if self.points.is_empty() {
            return None;
        }
        let mut prev = 0.0;
        let mut ap = 0.0;
        for p in &self.points {
            ap += (p.recall - prev) * p.precision;
            prev = p.recall;
        }
        Some(ap)
    }
}

/// One point of a ROC curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RocPoint {
    /// Flag rows with `score >= threshold`.
    pub threshold: f64,
    /// False-positive rate.
    pub fpr: f64,
    /// True-positive rate (recall).
    pub tpr: f64,
}

/// A ROC curve from (0, 0) (threshold just above the top score) to (1, 1). Empty when undefined
/// (one class, invalid input).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RocCurve {
    /// The points, thresholds descending.
    pub points: Vec<RocPoint>,
}

impl RocCurve {
    /// Area under the curve (trapezoid); `None` for an empty curve.
    pub fn auc(&self) -> Option<f64> {
        if self.points.is_empty() {
            return None;
        }
        Some(
            self.points
                .windows(2)
                .map(|w| (w[1].fpr - w[0].fpr) * (w[1].tpr + w[0].tpr) / 2.0)
                .sum(),
        )
    }
}

/// Recall reachable at a bounded false-positive rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RecallAtFpr {
    /// Recall at `threshold`.
    pub recall: f64,
    /// The lowest threshold whose FPR is within the bound (flag `score >= threshold`).
    pub threshold: f64,
    /// FPR at `threshold`.
    pub fpr: f64,
}

/// Confusion counts at a threshold (unweighted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Confusion {
    /// Flagged positives.
    pub tp: u64,
    /// Flagged negatives.
    pub fp: u64,
    /// Unflagged negatives.
    pub tn: u64,
    /// Unflagged positives.
    pub fn_: u64,
}

/// Weighted confusion sums at a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct WeightedConfusion {
    /// Weight of flagged positives.
    pub tp: f64,
    /// Weight of flagged negatives.
    pub fp: f64,
    /// Weight of unflagged negatives.
    pub tn: f64,
    /// Weight of unflagged positives.
    pub fn_: f64,
}

fn ratio(num: f64, den: f64) -> Option<f64> {
    (den > 0.0).then(|| num / den)
}

fn f1_of(tp: f64, fp: f64, fn_: f64) -> Option<f64> {
    ratio(2.0 * tp, 2.0 * tp + fp + fn_)
}

impl Confusion {
    /// `tp / (tp + fp)`; `None` when nothing is flagged.
    pub fn precision(&self) -> Option<f64> {
        ratio(self.tp as f64, (self.tp + self.fp) as f64)
    }
    /// `tp / (tp + fn)`; `None` without positives.
    pub fn recall(&self) -> Option<f64> {
        ratio(self.tp as f64, (self.tp + self.fn_) as f64)
    }
    /// `fp / (fp + tn)`; `None` without negatives.
    pub fn fpr(&self) -> Option<f64> {
        ratio(self.fp as f64, (self.fp + self.tn) as f64)
    }
    /// `2tp / (2tp + fp + fn)`; `None` when there are no positives and nothing is flagged.
    pub fn f1(&self) -> Option<f64> {
        f1_of(self.tp as f64, self.fp as f64, self.fn_ as f64)
    }
}

impl WeightedConfusion {
    /// Weighted precision; `None` when nothing is flagged.
    pub fn precision(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fp)
    }
    /// Weighted recall; `None` without positives.
    pub fn recall(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fn_)
    }
    /// Weighted FPR; `None` without negatives.
    pub fn fpr(&self) -> Option<f64> {
        ratio(self.fp, self.fp + self.tn)
    }
    /// Weighted F1; `None` when undefined.
    pub fn f1(&self) -> Option<f64> {
        f1_of(self.tp, self.fp, self.fn_)
    }
}

/// One equal-width probability bin of a reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReliabilityBin {
    /// Lower edge (inclusive).
    pub lower: f64,
    /// Upper edge (exclusive, except 1.0 in the last bin).
    pub upper: f64,
    /// Rows in the bin.
    pub count: usize,
    /// Their total weight (= `count` unweighted).
    pub weight: f64,
    /// Weighted mean score; `None` for an empty bin.
    pub mean_predicted: Option<f64>,
    /// Weighted fraction of positives; `None` for an empty bin.
    pub observed_fraction: Option<f64>,
}

/// One validated row.
#[derive(Clone, Copy)]
struct Obs {
    score: f64,
    positive: bool,
    weight: f64,
}

/// Validates and returns the rows with positive weight, plus (positive, negative) weight.
fn prepare(scores: &[f64], y: &[f32], w: &[f32]) -> Option<(Vec<Obs>, f64, f64)> {
    if y.len() != scores.len() || !(w.is_empty() || w.len() == scores.len()) {
        return None;
    }
    let mut out = Vec::with_capacity(scores.len());
    let (mut pos, mut neg) = (0.0, 0.0);
    for (i, (&score, &label)) in scores.iter().zip(y).enumerate() {
        let weight = w.get(i).copied().unwrap_or(1.0);
        if score.is_nan()
            || (label != 0.0 && label != 1.0)
            || !(weight.is_finite() && weight >= 0.0)
        {
            return None;
        }
        if weight == 0.0 {
            continue;
        }
        let weight = f64::from(weight);
        let positive = label == 1.0;
        if positive {
            pos += weight;
        } else {
            neg += weight;
        }
        out.push(Obs {
            score,
            positive,
            weight,
        });
    }
    Some((out, pos, neg))
}

/// Cumulative (threshold, tp weight, fp weight) at the end of each tied group, thresholds
/// descending.
fn cumulative(mut obs: Vec<Obs>) -> Vec<(f64, f64, f64)> {
    obs.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out: Vec<(f64, f64, f64)> = Vec::new();
    let (mut tp, mut fp) = (0.0, 0.0);
    for (i, o) in obs.iter().enumerate() {
        if o.positive {
            tp += o.weight;
        } else {
            fp += o.weight;
        }
        // `!=`, not total order: -0.0 and 0.0 are one threshold.
        let group_ends = obs.get(i + 1).is_none_or(|next| next.score != o.score);
        if group_ends {
            out.push((o.score, tp, fp));
        }
    }
    out
}

/// A threshold above every score: nothing is flagged.
fn above_all(cum: &[(f64, f64, f64)]) -> f64 {
    cum.first().map_or(f64::INFINITY, |c| c.0.next_up())
}

/// Precision–recall curve, unweighted. See [`pr_curve_weighted`].
pub fn pr_curve(scores: &[f64], y: &[f32]) -> PrCurve {
    pr_curve_weighted(scores, y, &[])
}

/// Precision–recall curve: one point per distinct score (highest first). Empty without positives
/// or on invalid input.
pub fn pr_curve_weighted(scores: &[f64], y: &[f32], w: &[f32]) -> PrCurve {
    let Some((obs, pos, _)) = prepare(scores, y, w) else {
        return PrCurve::default();
    };
    if pos <= 0.0 {
        return PrCurve::default();
    }
    let points = cumulative(obs)
        .into_iter()
        .map(|(threshold, tp, fp)| PrPoint {
            threshold,
            precision: tp / (tp + fp),
            recall: tp / pos,
        })
        .collect();
    PrCurve { points }
}

/// Average precision (PR-AUC, step-wise, scikit-learn's definition); `None` without positives or
/// on invalid input. With positives only it is 1.
pub fn average_precision(scores: &[f64], y: &[f32], w: &[f32]) -> Option<f64> {
    pr_curve_weighted(scores, y, w).average_precision()
}

/// ROC curve; empty unless both classes carry weight and the input is valid.
pub fn roc_curve(scores: &[f64], y: &[f32], w: &[f32]) -> RocCurve {
    let Some((obs, pos, neg)) = prepare(scores, y, w) else {
        return RocCurve::default();
    };
    if !(pos > 0.0 && neg > 0.0) {
        return RocCurve::default();
    }
    let cum = cumulative(obs);
    let mut points = vec![RocPoint {
        threshold: above_all(&cum),
        fpr: 0.0,
        tpr: 0.0,
    }];
    points.extend(cum.into_iter().map(|(threshold, tp, fp)| RocPoint {
        threshold,
        fpr: fp / neg,
        tpr: tp / pos,
    }));
    RocCurve { points }
}

/// ROC-AUC (= Mann–Whitney U / (n₊·n₋) with ties counting ½); `None` with one class or invalid
/// input.
pub fn roc_auc(scores: &[f64], y: &[f32], w: &[f32]) -> Option<f64> {
    roc_curve(scores, y, w).auc()
}

/// Relative slack for comparing accumulated weight sums against a bound.
const SLACK: f64 = 1e-12;

/// Best recall with FPR `<= max_fpr`, unweighted. See [`recall_at_fpr_weighted`].
pub fn recall_at_fpr(scores: &[f64], y: &[f32], max_fpr: f64) -> Option<RecallAtFpr> {
    recall_at_fpr_weighted(scores, y, &[], max_fpr)
}

/// Highest recall with false-positive rate `<= max_fpr`, at the lowest such threshold (a
/// distinct score). When even the top score's group exceeds the bound, the answer is recall 0 at
/// a threshold just above the top score. `None` with one class, invalid input or `max_fpr`
/// outside [0, 1].
pub fn recall_at_fpr_weighted(
    scores: &[f64],
    y: &[f32],
    w: &[f32],
    max_fpr: f64,
) -> Option<RecallAtFpr> {
    if !(0.0..=1.0).contains(&max_fpr) {
        return None;
    }
    let (obs, pos, neg) = prepare(scores, y, w)?;
    if !(pos > 0.0 && neg > 0.0) {
        return None;
    }
    let cum = cumulative(obs);
    let best = cum
        .iter()
        .take_while(|c| c.2 <= max_fpr * neg * (1.0 + SLACK))
        .last();
    Some(match best {
        Some(&(threshold, tp, fp)) => RecallAtFpr {
            recall: tp / pos,
            threshold,
            fpr: fp / neg,
        },
        None => RecallAtFpr {
            recall: 0.0,
            threshold: above_all(&cum),
            fpr: 0.0,
        },
    })
}

/// Lowest threshold with FPR `<= max_fpr`, unweighted. See [`threshold_for_fpr_weighted`].
pub fn threshold_for_fpr(scores: &[f64], y: &[f32], max_fpr: f64) -> Result<f64, MetricError> {
    threshold_for_fpr_weighted(scores, y, &[], max_fpr)
}

/// The lowest threshold (a distinct score) whose false-positive rate is `<= max_fpr`, i.e. the
/// one flagging most. Positives are not needed. If even flagging only the top score's group
/// exceeds the bound, returns a threshold just above the top score (flags nothing).
pub fn threshold_for_fpr_weighted(
    scores: &[f64],
    y: &[f32],
    w: &[f32],
    max_fpr: f64,
) -> Result<f64, MetricError> {
    if !(0.0..=1.0).contains(&max_fpr) {
        return Err(MetricError::InvalidArgument {
            name: "max_fpr",
            value: max_fpr,
        });
    }
    let (obs, _, neg) = prepare(scores, y, w).ok_or(MetricError::InvalidInput(
        "lengths differ, a score is NaN, a label is not 0/1 or a weight is invalid",
    ))?;
    if neg <= 0.0 {
        return Err(MetricError::NoNegatives);
    }
    let cum = cumulative(obs);
    Ok(cum
        .iter()
        .take_while(|c| c.2 <= max_fpr * neg * (1.0 + SLACK))
        .last()
        .map_or_else(|| above_all(&cum), |c| c.0))
}

/// Lowest threshold reaching `target` precision, unweighted. See
/// [`threshold_for_precision_weighted`].
pub fn threshold_for_precision(scores: &[f64], y: &[f32], target: f64) -> Result<f64, MetricError> {
    threshold_for_precision_weighted(scores, y, &[], target)
}

/// The lowest threshold (a distinct score) at which precision is `>= target`: among thresholds
/// meeting the target, the one with most recall. Precision is not monotone in the threshold, so
/// higher thresholds may miss the target. When no threshold reaches it, returns
/// [`MetricError::PrecisionUnreachable`] with the best precision available.
pub fn threshold_for_precision_weighted(
    scores: &[f64],
    y: &[f32],
    w: &[f32],
    target: f64,
) -> Result<f64, MetricError> {
    if !(0.0..=1.0).contains(&target) {
        return Err(MetricError::InvalidArgument {
            name: "target",
            value: target,
        });
    }
    let curve = pr_curve_weighted(scores, y, w);
    if curve.points.is_empty() {
        let (_, pos, _) = prepare(scores, y, w).ok_or(MetricError::InvalidInput(
            "lengths differ, a score is NaN, a label is not 0/1 or a weight is invalid",
        ))?;
        debug_assert!(pos <= 0.0);
        return Err(MetricError::NoPositives);
    }
    curve
        .points
        .iter()
        .rev()
        .find(|p| p.precision >= target * (1.0 - SLACK))
        .map(|p| p.threshold)
        .ok_or_else(|| MetricError::PrecisionUnreachable {
            target,
            best: curve.points.iter().map(|p| p.precision).fold(0.0, f64::max),
        })
}

/// Confusion counts with rows flagged when `score >= threshold`. Unweighted. A NaN score is never
/// flagged; a label counts as positive when `>= 0.5`. Only the common prefix of `scores` and `y`
/// is counted.
pub fn confusion_at(scores: &[f64], y: &[f32], threshold: f64) -> Confusion {
    let mut c = Confusion::default();
    for (&s, &label) in scores.iter().zip(y) {
        match (s >= threshold, label >= 0.5) {
            (true, true) => c.tp += 1,
            (true, false) => c.fp += 1,
            (false, false) => c.tn += 1,
            (false, true) => c.fn_ += 1,
        }
    }
    c
}

/// Weighted confusion sums at `threshold` (same conventions as [`confusion_at`]; `w` empty = all
/// 1, a missing or invalid weight counts as 0).
pub fn confusion_at_weighted(
    scores: &[f64],
    y: &[f32],
    w: &[f32],
    threshold: f64,
) -> WeightedConfusion {
    let mut c = WeightedConfusion::default();
    for (i, (&s, &label)) in scores.iter().zip(y).enumerate() {
        let wt = if w.is_empty() {
            1.0
        } else {
            w.get(i)
                .copied()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map_or(0.0, f64::from)
        };
        match (s >= threshold, label >= 0.5) {
            (true, true) => c.tp += wt,
            (true, false) => c.fp += wt,
            (false, false) => c.tn += wt,
            (false, true) => c.fn_ += wt,
        }
    }
    c
}

/// Validated probability rows: like `prepare`, plus every score within [0, 1] and positive total
/// weight.
fn prepare_probs(scores: &[f64], y: &[f32], w: &[f32]) -> Option<Vec<Obs>> {
    let (obs, pos, neg) = prepare(scores, y, w)?;
    if obs.iter().any(|o| !(0.0..=1.0).contains(&o.score)) || pos + neg <= 0.0 {
        return None;
    }
    Some(obs)
}

/// Weighted mean log-loss of probabilities (clipped to `[1e-15, 1 - 1e-15]` like scikit-learn);
/// `None` on empty or invalid input or scores outside [0, 1].
pub fn log_loss(scores: &[f64], y: &[f32], w: &[f32]) -> Option<f64> {
    let obs = prepare_probs(scores, y, w)?;
    let (mut loss, mut total) = (0.0, 0.0);
    for o in obs {
        let p = o.score.clamp(1e-15, 1.0 - 1e-15);
        loss -= o.weight * if o.positive { p.ln() } else { (1.0 - p).ln() };
        total += o.weight;
    }
    Some(loss / total)
}

/// Brier score (mean squared error of probabilities), unweighted. See [`brier_weighted`].
pub fn brier(scores: &[f64], y: &[f32]) -> Option<f64> {
    brier_weighted(scores, y, &[])
}

/// Weighted Brier score; `None` on empty or invalid input or scores outside [0, 1].
pub fn brier_weighted(scores: &[f64], y: &[f32], w: &[f32]) -> Option<f64> {
    let obs = prepare_probs(scores, y, w)?;
    let (mut sum, mut total) = (0.0, 0.0);
    for o in obs {
        let d = o.score - if o.positive { 1.0 } else { 0.0 };
        sum += o.weight * d * d;
        total += o.weight;
    }
    Some(sum / total)
}

/// Reliability bins, unweighted. See [`reliability_bins_weighted`].
pub fn reliability_bins(scores: &[f64], y: &[f32], n_bins: usize) -> Vec<ReliabilityBin> {
    reliability_bins_weighted(scores, y, &[], n_bins)
}

/// `n_bins` equal-width bins over [0, 1] (a score `p` falls in bin `min(floor(p·n), n - 1)`), each
/// with its mean score and observed positive fraction. Empty on invalid input, scores outside
/// [0, 1] or `n_bins == 0`.
pub fn reliability_bins_weighted(
    scores: &[f64],
    y: &[f32],
    w: &[f32],
    n_bins: usize,
) -> Vec<ReliabilityBin> {
    let Some(obs) = prepare_probs(scores, y, w).filter(|_| n_bins > 0) else {
        return Vec::new();
    };
    let nb = n_bins as f64;
    let mut acc = vec![(0usize, 0.0f64, 0.0f64, 0.0f64); n_bins];
    for o in obs {
        let b = ((o.score * nb) as usize).min(n_bins - 1);
        let a = &mut acc[b];
        a.0 += 1;
        a.1 += o.weight;
        a.2 += o.weight * o.score;
        a.3 += if o.positive { o.weight } else { 0.0 };
    }
    acc.iter()
        .enumerate()
        .map(|(b, &(count, weight, sp, sy))| ReliabilityBin {
            lower: b as f64 / nb,
            upper: (b + 1) as f64 / nb,
            count,
            weight,
            mean_predicted: ratio(sp, weight),
            observed_fraction: ratio(sy, weight),
        })
        .collect()
}

/// Expected calibration error, unweighted. See [`expected_calibration_error_weighted`].
pub fn expected_calibration_error(scores: &[f64], y: &[f32], n_bins: usize) -> Option<f64> {
    expected_calibration_error_weighted(scores, y, &[], n_bins)
}

/// `Σ_b (W_b / W)·|mean score_b - positive fraction_b|` over [`reliability_bins_weighted`] (the
/// usual ECE uses 10 bins); `None` when the bins are empty.
pub fn expected_calibration_error_weighted(
    scores: &[f64],
    y: &[f32],
    w: &[f32],
    n_bins: usize,
) -> Option<f64> {
    ece_of(&reliability_bins_weighted(scores, y, w, n_bins))
}

/// ECE of already computed bins; `None` when they hold no weight.
pub fn ece_of(bins: &[ReliabilityBin]) -> Option<f64> {
    let total: f64 = bins.iter().map(|b| b.weight).sum();
    if total <= 0.0 {
        return None;
    }
    Some(
        bins.iter()
            .filter_map(|b| {
                Some(b.weight / total * (b.mean_predicted? - b.observed_fraction?).abs())
            })
            .sum(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    // The scikit-learn documentation example: y = [0, 0, 1, 1], s = [0.1, 0.4, 0.35, 0.8].
    // Sorted: 0.8(+) 0.4(-) 0.35(+) 0.1(-).
    // PR points (P, R): (1, .5), (.5, .5), (2/3, 1), (.5, 1) ->
    //   AP = .5·1 + 0·.5 + .5·(2/3) + 0·.5 = 0.8333 (sklearn: 0.8333...).
    // ROC-AUC: pairs (pos > neg): 0.8 > both, 0.35 > 0.1, 0.35 < 0.4 -> 3/4 (sklearn: 0.75).
    const S: [f64; 4] = [0.1, 0.4, 0.35, 0.8];
    const Y: [f32; 4] = [0.0, 0.0, 1.0, 1.0];

    #[test]
    fn sklearn_doc_example() {
        let c = pr_curve(&S, &Y);
        let got: Vec<(f64, f64, f64)> = c
            .points
            .iter()
            .map(|p| (p.threshold, p.precision, p.recall))
            .collect();
        assert_eq!(
            got,
            vec![
                (0.8, 1.0, 0.5),
                (0.4, 0.5, 0.5),
                (0.35, 2.0 / 3.0, 1.0),
                (0.1, 0.5, 1.0)
            ]
        );
        assert!(close(
            average_precision(&S, &Y, &[]).expect("ap"),
            5.0 / 6.0
        ));
        assert!(close(roc_auc(&S, &Y, &[]).expect("auc"), 0.75));
        let roc = roc_curve(&S, &Y, &[]);
        let pts: Vec<(f64, f64)> = roc.points.iter().map(|p| (p.fpr, p.tpr)).collect();
        assert_eq!(
            pts,
            vec![(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]
        );
        assert_eq!(roc.points[0].threshold, 0.8f64.next_up());
    }

    #[test]
    fn ties_are_one_step() {
        // y = [0, 1, 0, 1], s = [0.5, 0.5, 0.2, 0.9].
        // AUC pairs: 0.9>0.5, 0.9>0.2, 0.5=0.5 (½), 0.5>0.2 -> 3.5/4 = 0.875.
        // PR: 0.9 -> (P 1, R .5); 0.5 group -> (2/3, 1); 0.2 -> (.5, 1).
        //   AP = .5·1 + .5·(2/3) = 0.8333 (sklearn average_precision_score gives 0.8333...).
        let s = [0.5, 0.5, 0.2, 0.9];
        let y = [0.0, 1.0, 0.0, 1.0];
        assert!(close(roc_auc(&s, &y, &[]).expect("auc"), 0.875));
        assert!(close(
            average_precision(&s, &y, &[]).expect("ap"),
            5.0 / 6.0
        ));
        assert_eq!(pr_curve(&s, &y).points.len(), 3);
        // -0.0 and 0.0 are one tie group.
        assert!(close(
            roc_auc(&[-0.0, 0.0], &[0.0, 1.0], &[]).expect("auc"),
            0.5
        ));
        // All-equal scores: AUC ½, AP = prevalence.
        assert!(close(roc_auc(&[0.3; 4], &Y, &[]).expect("auc"), 0.5));
        assert!(close(
            average_precision(&[0.3; 4], &Y, &[]).expect("ap"),
            0.5
        ));
    }

    #[test]
    fn weights_act_like_duplicated_rows() {
        let w = [1.0, 2.0, 3.0, 1.0];
        let (s2, y2): (Vec<f64>, Vec<f32>) = S
            .iter()
            .zip(&Y)
            .zip(&w)
            .flat_map(|((&s, &y), &k)| std::iter::repeat_n((s, y), k as usize))
            .unzip();
        assert!(close(
            roc_auc(&S, &Y, &w).expect("auc"),
            roc_auc(&s2, &y2, &[]).expect("auc")
        ));
        assert!(close(
            average_precision(&S, &Y, &w).expect("ap"),
            average_precision(&s2, &y2, &[]).expect("ap")
        ));
        // Zero weights drop rows.
        assert_eq!(
            roc_auc(&S, &Y, &[1.0, 0.0, 1.0, 1.0]),
            roc_auc(&[0.1, 0.35, 0.8], &[0.0, 1.0, 1.0], &[])
        );
    }

    #[test]
    fn degenerate_inputs_give_none() {
        assert_eq!(roc_auc(&[], &[], &[]), None);
        assert_eq!(average_precision(&[], &[], &[]), None);
        assert_eq!(roc_auc(&[0.1, 0.2], &[1.0, 1.0], &[]), None);
        // Positives only: AP is defined (1), ROC-AUC is not.
        assert_eq!(average_precision(&[0.1, 0.2], &[1.0, 1.0], &[]), Some(1.0));
        assert_eq!(average_precision(&[0.1, 0.2], &[0.0, 0.0], &[]), None);
        assert_eq!(roc_auc(&[0.1, f64::NAN], &[0.0, 1.0], &[]), None);
        assert_eq!(roc_auc(&[0.1, 0.2], &[0.0, 0.5], &[]), None);
        assert_eq!(roc_auc(&[0.1, 0.2], &[0.0], &[]), None);
        assert_eq!(roc_auc(&[0.1, 0.2], &[0.0, 1.0], &[1.0]), None);
        assert_eq!(roc_auc(&[0.1, 0.2], &[0.0, 1.0], &[1.0, -1.0]), None);
        // Infinite scores rank fine.
        assert_eq!(
            roc_auc(&[f64::NEG_INFINITY, f64::INFINITY], &[0.0, 1.0], &[]),
            Some(1.0)
        );
        assert!(pr_curve(&[0.1], &[0.0]).points.is_empty());
        assert_eq!(log_loss(&[], &[], &[]), None);
        assert_eq!(brier(&[1.5], &[1.0]), None);
        assert_eq!(expected_calibration_error(&[0.2], &[1.0], 0), None);
        assert!(reliability_bins(&[0.2, f64::NAN], &[1.0, 0.0], 10).is_empty());
    }

    #[test]
    fn recall_at_fpr_and_thresholds() {
        // 10 negatives scored 0.0..0.9, 4 positives at 0.95, 0.85, 0.55, 0.05.
        let mut s: Vec<f64> = (0..10).map(|i| f64::from(i) / 10.0).collect();
        let mut y = vec![0.0f32; 10];
        s.extend([0.95, 0.85, 0.55, 0.05]);
        y.extend([1.0; 4]);
        // FPR <= 10%: one negative (0.9) may be flagged: lowest threshold 0.85 -> recall 2/4.
        let r = recall_at_fpr(&s, &y, 0.1).expect("defined");
        assert_eq!((r.threshold, r.recall, r.fpr), (0.85, 0.5, 0.1));
        // FPR <= 0: only above 0.9 -> 0.95, recall 1/4.
        let r = recall_at_fpr(&s, &y, 0.0).expect("defined");
        assert_eq!((r.threshold, r.recall, r.fpr), (0.95, 0.25, 0.0));
        assert_eq!(threshold_for_fpr(&s, &y, 0.1), Ok(0.85));
        // FPR <= 50%: negatives 0.5..0.9 flagged -> threshold 0.5 (0.55 also caught), recall 3/4.
        assert_eq!(threshold_for_fpr(&s, &y, 0.5), Ok(0.5));
        assert_eq!(threshold_for_fpr(&s, &y, 1.0), Ok(0.0));
        // Top score is a negative and no FP allowed: threshold just above it, recall 0.
        let r = recall_at_fpr(&[0.9, 0.1], &[0.0, 1.0], 0.0).expect("defined");
        assert_eq!((r.recall, r.threshold), (0.0, 0.9f64.next_up()));
        assert_eq!(
            threshold_for_fpr(&[0.9, 0.1], &[0.0, 1.0], 0.0),
            Ok(0.9f64.next_up())
        );
        assert_eq!(
            threshold_for_fpr(&[0.9], &[1.0], 0.1),
            Err(MetricError::NoNegatives)
        );
        assert!(matches!(
            threshold_for_fpr(&s, &y, 1.5),
            Err(MetricError::InvalidArgument { .. })
        ));
        assert_eq!(recall_at_fpr(&s, &y, f64::NAN), None);
    }

    #[test]
    fn threshold_for_precision_edge_cases() {
        // Sorted: 0.9(+) 0.8(-) 0.7(+) 0.6(+) 0.5(-) 0.4(-)
        // precision by threshold: .9→1, .8→.5, .7→2/3, .6→3/4, .5→3/5, .4→1/2.
        let s = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4];
        let y = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0];
        // 0.75 is reached at 0.9 and again at 0.6: the lowest is 0.6 (not monotone!).
        assert_eq!(threshold_for_precision(&s, &y, 0.75), Ok(0.6));
        assert_eq!(threshold_for_precision(&s, &y, 1.0), Ok(0.9));
        assert_eq!(threshold_for_precision(&s, &y, 0.5), Ok(0.4));
        assert_eq!(threshold_for_precision(&s, &y, 0.0), Ok(0.4));
        // The top score is a negative: precision 1 is unreachable.
        assert_eq!(
            threshold_for_precision(&[0.9, 0.1], &[0.0, 1.0], 0.9),
            Err(MetricError::PrecisionUnreachable {
                target: 0.9,
                best: 0.5
            })
        );
        assert_eq!(
            threshold_for_precision(&[0.9, 0.1], &[0.0, 0.0], 0.9),
            Err(MetricError::NoPositives)
        );
        assert!(matches!(
            threshold_for_precision(&[0.9, f64::NAN], &[0.0, 1.0], 0.9),
            Err(MetricError::InvalidInput(_))
        ));
    }

    #[test]
    fn confusion_rates() {
        let c = confusion_at(&S, &Y, 0.35);
        assert_eq!(
            c,
            Confusion {
                tp: 2,
                fp: 1,
                tn: 1,
                fn_: 0
            }
        );
        assert_eq!(c.precision(), Some(2.0 / 3.0));
        assert_eq!(c.recall(), Some(1.0));
        assert_eq!(c.fpr(), Some(0.5));
        assert_eq!(c.f1(), Some(0.8));
        let none = confusion_at(&S, &Y, 2.0);
        assert_eq!(none.precision(), None);
        assert_eq!(none.f1(), Some(0.0));
        assert_eq!(confusion_at(&[f64::NAN], &[1.0], 0.0).fn_, 1);
        let wc = confusion_at_weighted(&S, &Y, &[1.0, 3.0, 1.0, 1.0], 0.35);
        assert_eq!((wc.tp, wc.fp, wc.tn, wc.fn_), (2.0, 3.0, 1.0, 0.0));
        assert_eq!(wc.precision(), Some(0.4));
    }

    #[test]
    fn probability_metrics() {
        // log-loss of [0.8 (y=1), 0.4 (y=0)] = -(ln 0.8 + ln 0.6)/2.
        let ll = log_loss(&[0.8, 0.4], &[1.0, 0.0], &[]).expect("defined");
        assert!(close(ll, -(0.8f64.ln() + 0.6f64.ln()) / 2.0));
        // Clipping keeps a confident mistake finite: -ln(1e-15) = 34.54.
        let ll = log_loss(&[0.0], &[1.0], &[]).expect("defined");
        assert!(close(ll, -(1e-15f64).ln()));
        // Brier: ((0.8-1)² + 0.4²)/2 = 0.1.
        assert!(close(
            brier(&[0.8, 0.4], &[1.0, 0.0]).expect("defined"),
            0.1
        ));
        assert!(close(
            brier_weighted(&[0.8, 0.4], &[1.0, 0.0], &[3.0, 1.0]).expect("defined"),
            (3.0 * 0.04 + 0.16) / 4.0
        ));
    }

    #[test]
    fn ece_and_reliability_bins() {
        // Bin [0.1,0.2): scores .1 .1 .15 .15 (mean .125), labels 0 0 0 1 (frac .25) -> gap .125.
        // Bin [0.9,1.0]: scores .9 1.0 (mean .95), labels 1 1 (frac 1) -> gap .05.
        // ECE = 4/6·0.125 + 2/6·0.05 = 0.1.
        let s = [0.1, 0.1, 0.15, 0.15, 0.9, 1.0];
        let y = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let bins = reliability_bins(&s, &y, 10);
        assert_eq!(bins.len(), 10);
        assert_eq!(bins[1].count, 4);
        assert!(close(bins[1].mean_predicted.expect("non-empty"), 0.125));
        assert_eq!(bins[1].observed_fraction, Some(0.25));
        assert_eq!(bins[9].count, 2);
        assert_eq!(bins[0].count, 0);
        assert_eq!(bins[0].mean_predicted, None);
        assert!(close(bins[9].upper, 1.0));
        let ece = expected_calibration_error(&s, &y, 10).expect("defined");
        assert!(close(ece, 4.0 / 6.0 * 0.125 + 2.0 / 6.0 * 0.05), "{ece}");
        // Perfectly calibrated constant: ECE 0.
        assert_eq!(
            expected_calibration_error(&[0.5; 4], &[0.0, 1.0, 0.0, 1.0], 10),
            Some(0.0)
        );
    }
}

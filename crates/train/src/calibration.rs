//! Fitting the probability calibration applied after the ensemble
//! ([`shrike_score::calibrate::Calibration`]).
//!
//! - [`fit_platt`]: Platt scaling on the logit of the uncalibrated probability,
//!   `p = σ(a·logit(p0) + b)`, fitted by Newton's method with backtracking line search (the
//!   robust variant of Lin, Lin and Weng 2007) on Platt's smoothed targets
//!   `(N₊ + 1)/(N₊ + 2)` and `1/(N₋ + 2)`. Two parameters: the choice for small validation sets.
//! - [`fit_isotonic`]: isotonic regression by pool-adjacent-violators ([`pava`]) on the scores'
//!   order; knots at each pooled block's smallest and largest score, so the linear interpolation
//!   `Calibration::apply` does is flat inside a block and a ramp between blocks.
//!
//! Inputs are uncalibrated probabilities in [0, 1] (what `predict_proba` returns), labels 0 or 1
//! and sample weights (empty slice = all 1; zero-weight rows are ignored). Calibrating needs both
//! classes; anything else is a [`TrainError`]. Fitted maps always pass `Calibration::validate`.

use shrike_score::calibrate::Calibration;

use crate::{sigmoid, softplus, TrainError};

/// One validated calibration row.
struct Row {
    score: f64,
    label: f64,
    weight: f64,
}

/// Checks shapes and values; drops zero-weight rows; needs both classes.
fn rows(scores: &[f64], y: &[f32], w: &[f32]) -> Result<(Vec<Row>, f64, f64), TrainError> {
    if scores.is_empty() {
        return Err(TrainError::EmptyDataset);
    }
    if y.len() != scores.len() {
        return Err(TrainError::ShapeMismatch {
            what: "y",
            expected: scores.len(),
            found: y.len(),
        });
    }
    if !w.is_empty() && w.len() != scores.len() {
        return Err(TrainError::ShapeMismatch {
            what: "w",
            expected: scores.len(),
            found: w.len(),
        });
    }
    let mut out = Vec::with_capacity(scores.len());
    let (mut pos, mut neg) = (0.0, 0.0);
    for (i, (&s, &label)) in scores.iter().zip(y).enumerate() {
        let weight = w.get(i).copied().unwrap_or(1.0);
        if !(0.0..=1.0).contains(&s) {
            return Err(TrainError::InvalidScore { row: i, value: s });
        }
        if label != 0.0 && label != 1.0 {
            return Err(TrainError::InvalidLabel {
                row: i,
                value: label,
            });
        }
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(TrainError::InvalidWeight {
                row: i,
                value: weight,
            });
        }
        if weight == 0.0 {
            continue;
        }
        let weight = f64::from(weight);
        if label == 1.0 {
            pos += weight;
        } else {
            neg += weight;
        }
        out.push(Row {
            score: s,
            label: f64::from(label),
            weight,
        });
    }
    if out.is_empty() {
        return Err(TrainError::ZeroTotalWeight);
    }
    if !(pos > 0.0 && neg > 0.0) {
        return Err(TrainError::OneClass {
            positive_weight: pos,
            negative_weight: neg,
        });
    }
    Ok((out, pos, neg))
}

/// The log-odds `Calibration::Platt` applies its line to (same clamp, same formula).
fn logit(p: f64) -> f64 {
    let q = p.clamp(1e-12, 1.0 - 1e-12);
    (q / (1.0 - q)).ln()
}

/// Fits Platt scaling `p = σ(a·logit(p0) + b)` to uncalibrated probabilities `scores`, labels
/// `y` and weights `w` (empty = all 1). Class counts in Platt's target smoothing are weight sums.
pub fn fit_platt(scores: &[f64], y: &[f32], w: &[f32]) -> Result<Calibration, TrainError> {
    let (rows, pos, neg) = rows(scores, y, w)?;
    let t_pos = (pos + 1.0) / (pos + 2.0);
    let t_neg = 1.0 / (neg + 2.0);
    let pts: Vec<(f64, f64, f64)> = rows
        .iter()
        .map(|r| {
            let t = if r.label == 1.0 { t_pos } else { t_neg };
            (logit(r.score), t, r.weight)
        })
        .collect();
    // Cross-entropy against the smoothed targets, in the stable form softplus(m) - t·m.
    let objective = |a: f64, b: f64| -> f64 {
        pts.iter()
            .map(|&(z, t, w)| {
                let m = a * z + b;
                w * (softplus(m) - t * m)
            })
            .sum()
    };
    let total_w: f64 = pts.iter().map(|p| p.2).sum();
    let (mut a, mut b) = (0.0, ((pos + 1.0) / (neg + 1.0)).ln());
    let mut f = objective(a, b);
    for _ in 0..100 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for &(z, t, w) in &pts {
            let p = sigmoid(a * z + b);
            let d = w * (p - t);
            let s = w * (p * (1.0 - p)).max(1e-12);
            ga += d * z;
            gb += d;
            haa += s * z * z;
            hab += s * z;
            hbb += s;
        }
        if ga.abs().max(gb.abs()) < 1e-10 * total_w {
            break;
        }
        // Newton direction with a tiny ridge so equal scores (singular hessian) still solve.
        let (haa, hbb) = (haa + 1e-12 * total_w, hbb + 1e-12 * total_w);
        let det = haa * hbb - hab * hab;
        if det.is_nan() || det <= 0.0 {
            break;
        }
        let da = -(hbb * ga - hab * gb) / det;
        let db = -(haa * gb - hab * ga) / det;
        let slope = ga * da + gb * db;
        let mut step = 1.0;
        let mut moved = false;
        while step >= 1e-10 {
            let (na, nb) = (a + step * da, b + step * db);
            let nf = objective(na, nb);
            if nf <= f + 1e-4 * step * slope {
                (a, b, f) = (na, nb, nf);
                moved = true;
                break;
            }
            step /= 2.0;
        }
        if !moved {
            break;
        }
    }
    let c = Calibration::Platt { a, b };
    c.validate().map_err(TrainError::Diverged)?;
    Ok(c)
}

/// Fits isotonic regression of labels `y` on uncalibrated probabilities `scores` with weights `w`
/// (empty = all 1). Equal scores are pooled first (one knot per distinct score, as scikit-learn
/// does); the fitted map is non-decreasing in the score.
pub fn fit_isotonic(scores: &[f64], y: &[f32], w: &[f32]) -> Result<Calibration, TrainError> {
    let (mut rows, _, _) = rows(scores, y, w)?;
    rows.sort_by(|a, b| a.score.total_cmp(&b.score));
    // Distinct scores (== equality, so -0.0 and 0.0 pool) with weighted label sums.
    let mut xs: Vec<f64> = Vec::new();
    let mut sum_wy: Vec<f64> = Vec::new();
    let mut sum_w: Vec<f64> = Vec::new();
    for r in &rows {
        match xs.last() {
            Some(&x) if x == r.score => {
                if let (Some(a), Some(b)) = (sum_wy.last_mut(), sum_w.last_mut()) {
                    *a += r.weight * r.label;
                    *b += r.weight;
                }
            }
            _ => {
                xs.push(r.score + 0.0);
                sum_wy.push(r.weight * r.label);
                sum_w.push(r.weight);
            }
        }
    }
    let blocks = pav_blocks(&sum_wy, &sum_w);
    let (mut kx, mut ky) = (Vec::new(), Vec::new());
    for blk in &blocks {
        let v = (blk.sum_wy / blk.sum_w).clamp(0.0, 1.0);
        kx.push(xs[blk.start]);
        ky.push(v);
        if blk.end - 1 > blk.start {
            kx.push(xs[blk.end - 1]);
            ky.push(v);
        }
    }
    let c = Calibration::Isotonic { x: kx, y: ky };
    c.validate().map_err(TrainError::Diverged)?;
    Ok(c)
}

/// A pooled run `start..end` of the input with its weighted sums.
struct Block {
    start: usize,
    end: usize,
    sum_wy: f64,
    sum_w: f64,
}

/// Pool-adjacent-violators on points given as (weighted value sum, weight), weights > 0.
/// Adjacent blocks are pooled while the left mean is >= the right one, so block means come out
/// strictly increasing.
fn pav_blocks(sum_wy: &[f64], sum_w: &[f64]) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::with_capacity(sum_w.len());
    for (i, (&wy, &w)) in sum_wy.iter().zip(sum_w).enumerate() {
        blocks.push(Block {
            start: i,
            end: i + 1,
            sum_wy: wy,
            sum_w: w,
        });
        while blocks.len() >= 2 {
            let k = blocks.len();
            let (l, r) = (&blocks[k - 2], &blocks[k - 1]);
            // l.mean >= r.mean, without dividing.
            if l.sum_wy * r.sum_w >= r.sum_wy * l.sum_w {
                let r = blocks.pop().expect("len >= 2");
                let l = blocks.last_mut().expect("len >= 1");
                l.end = r.end;
                l.sum_wy += r.sum_wy;
                l.sum_w += r.sum_w;
            } else {
                break;
            }
        }
    }
    blocks
}

/// Isotonic (non-decreasing) least-squares fit of `values` in their given order, with
/// `weights`: the classic pool-adjacent-violators algorithm, O(n). Returns one fitted value per
/// input, or `None` when lengths differ, a value is not finite or a weight is not finite and
/// positive.
pub fn pava(values: &[f64], weights: &[f64]) -> Option<Vec<f64>> {
    if values.len() != weights.len()
        || values.iter().any(|v| !v.is_finite())
        || weights.iter().any(|w| !(w.is_finite() && *w > 0.0))
    {
        return None;
    }
    let wy: Vec<f64> = values.iter().zip(weights).map(|(v, w)| v * w).collect();
    let mut out = vec![0.0; values.len()];
    for b in pav_blocks(&wy, weights) {
        out[b.start..b.end].fill(b.sum_wy / b.sum_w);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
    }

    #[test]
    fn pava_textbook_examples() {
        // 1 3 2 4 3 5: violators (3,2) and (4,3) pool to 2.5 and 3.5.
        let v = pava(&[1.0, 3.0, 2.0, 4.0, 3.0, 5.0], &[1.0; 6]).expect("valid");
        assert!(close(&v, &[1.0, 2.5, 2.5, 3.5, 3.5, 5.0]), "{v:?}");
        // A cascade: 5 then 3 pool to 4, then 2 pulls the block down to (5+3+2)/3.
        let v = pava(&[1.0, 5.0, 3.0, 2.0], &[1.0; 4]).expect("valid");
        assert!(
            close(&v, &[1.0, 10.0 / 3.0, 10.0 / 3.0, 10.0 / 3.0]),
            "{v:?}"
        );
        // Decreasing input collapses to the mean; weights count: (3·1 + 1·3)/4 = 1.5.
        let v = pava(&[4.0, 3.0, 2.0, 1.0], &[1.0; 4]).expect("valid");
        assert!(close(&v, &[2.5; 4]));
        let v = pava(&[3.0, 1.0], &[1.0, 3.0]).expect("valid");
        assert!(close(&v, &[1.5, 1.5]));
        assert_eq!(pava(&[], &[]), Some(vec![]));
        assert_eq!(pava(&[1.0], &[0.0]), None);
        assert_eq!(pava(&[f64::NAN], &[1.0]), None);
    }

    #[test]
    fn isotonic_knots_pool_ties_and_blocks() {
        // Scores 0.1 0.2 0.2 0.3 0.4 0.5 with labels 0 1 0 0 1 1.
        // Distinct scores: 0.1→0, 0.2→0.5 (pooled tie), 0.3→0, 0.4→1, 0.5→1.
        // PAV: 0.5 then 0 violate → pool (0.2, 0.3) = 1/3; 0.4 and 0.5 pool (equal) = 1.
        let s = [0.1, 0.2, 0.2, 0.3, 0.4, 0.5];
        let y = [0.0, 1.0, 0.0, 0.0, 1.0, 1.0];
        let c = fit_isotonic(&s, &y, &[]).expect("fits");
        c.validate().expect("valid");
        let Calibration::Isotonic { x, y } = &c else {
            panic!("isotonic")
        };
        assert_eq!(x, &vec![0.1, 0.2, 0.3, 0.4, 0.5]);
        assert!(close(y, &[0.0, 1.0 / 3.0, 1.0 / 3.0, 1.0, 1.0]), "{y:?}");
        assert!((c.apply(0.25) - 1.0 / 3.0).abs() < 1e-12);
        assert!((c.apply(0.35) - (1.0 / 3.0 + 2.0 / 3.0 * 0.5)).abs() < 1e-12);
    }

    #[test]
    fn platt_recovers_known_parameters() {
        // Scores p0 = σ(z); true probability σ(2z - 1).
        let mut rng = Rng::new(42);
        let n = 40_000;
        let mut s = Vec::with_capacity(n);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let z = rng.next_f64() * 8.0 - 4.0;
            s.push(sigmoid(z));
            y.push(f32::from(u8::from(rng.next_f64() < sigmoid(2.0 * z - 1.0))));
        }
        let Calibration::Platt { a, b } = fit_platt(&s, &y, &[]).expect("fits") else {
            panic!("platt")
        };
        assert!((a - 2.0).abs() < 0.08, "a = {a}");
        assert!((b + 1.0).abs() < 0.08, "b = {b}");
        // Weights equal to duplication: doubling every row's weight changes nothing but the
        // smoothing, which is negligible here.
        let Calibration::Platt { a: a2, b: b2 } = fit_platt(&s, &y, &vec![2.0; n]).expect("fits")
        else {
            panic!("platt")
        };
        assert!((a - a2).abs() < 1e-3 && (b - b2).abs() < 1e-3);
    }

    #[test]
    fn platt_on_equal_scores_gives_the_smoothed_prior() {
        // Three positives, one negative, all scored 0.5: targets 4/5 and 1/3; the best constant is
        // their mean (3·0.8 + 1/3)/4 = 0.68333.
        let c = fit_platt(&[0.5; 4], &[1.0, 1.0, 1.0, 0.0], &[]).expect("fits");
        c.validate().expect("finite");
        assert!((c.apply(0.5) - (3.0 * 0.8 + 1.0 / 3.0) / 4.0).abs() < 1e-6);
    }

    #[test]
    fn calibration_input_errors() {
        assert_eq!(fit_platt(&[], &[], &[]), Err(TrainError::EmptyDataset));
        assert!(matches!(
            fit_platt(&[0.1, 0.2], &[0.0, 0.0], &[]),
            Err(TrainError::OneClass { .. })
        ));
        assert!(matches!(
            fit_isotonic(&[0.1, f64::NAN], &[0.0, 1.0], &[]),
            Err(TrainError::InvalidScore { row: 1, .. })
        ));
        assert!(matches!(
            fit_isotonic(&[0.1, 1.5], &[0.0, 1.0], &[]),
            Err(TrainError::InvalidScore { row: 1, .. })
        ));
        assert!(matches!(
            fit_isotonic(&[0.1, 0.5], &[0.0, 1.0], &[1.0]),
            Err(TrainError::ShapeMismatch { what: "w", .. })
        ));
        assert_eq!(
            fit_isotonic(&[0.1, 0.5], &[0.0, 1.0], &[0.0, 0.0]),
            Err(TrainError::ZeroTotalWeight)
        );
        // A positive with zero weight does not count as a class.
        assert!(matches!(
            fit_platt(&[0.1, 0.5], &[0.0, 1.0], &[1.0, 0.0]),
            Err(TrainError::OneClass { .. })
        ));
    }
}

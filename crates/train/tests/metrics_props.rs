//! Property tests for the metrics and isotonic fitting.

use proptest::prelude::*;
use shrike_train::calibration::{fit_isotonic, pava};
use shrike_train::metrics::{
    average_precision, confusion_at, pr_curve, recall_at_fpr, roc_auc, threshold_for_fpr,
    threshold_for_precision,
};

/// Scores on a coarse grid (so ties happen and `1 - s` is exact) with labels.
fn scored() -> impl Strategy<Value = (Vec<f64>, Vec<f32>)> {
    prop::collection::vec((0u8..=20, any::<bool>()), 0..60).prop_map(|v| {
        v.into_iter()
            .map(|(k, b)| (f64::from(k) / 20.0, f32::from(u8::from(b))))
            .unzip()
    })
}

/// The Mann–Whitney statistic by brute force: P(s+ > s-) + ½ P(s+ = s-).
fn mann_whitney(s: &[f64], y: &[f32]) -> Option<f64> {
    let pos: Vec<f64> = s
        .iter()
        .zip(y)
        .filter(|p| *p.1 == 1.0)
        .map(|p| *p.0)
        .collect();
    let neg: Vec<f64> = s
        .iter()
        .zip(y)
        .filter(|p| *p.1 == 0.0)
        .map(|p| *p.0)
        .collect();
    if pos.is_empty() || neg.is_empty() {
        return None;
    }
    let mut u = 0.0;
    for &a in &pos {
        for &b in &neg {
            u += if a > b {
                1.0
            } else if a == b {
                0.5
            } else {
                0.0
            };
        }
    }
    Some(u / (pos.len() * neg.len()) as f64)
}

proptest! {
    #[test]
    fn roc_auc_is_mann_whitney_in_unit_interval_and_antisymmetric((s, y) in scored()) {
        let auc = roc_auc(&s, &y, &[]);
        let mw = mann_whitney(&s, &y);
        prop_assert_eq!(auc.is_some(), mw.is_some());
        if let (Some(a), Some(m)) = (auc, mw) {
            prop_assert!((0.0..=1.0).contains(&a));
            prop_assert!((a - m).abs() < 1e-12, "trapezoid {} vs Mann–Whitney {}", a, m);
            let flipped: Vec<f64> = s.iter().map(|v| 1.0 - v).collect();
            let b = roc_auc(&flipped, &y, &[]).expect("same classes");
            prop_assert!((a + b - 1.0).abs() < 1e-12, "AUC(s) {} + AUC(1-s) {}", a, b);
        }
    }

    #[test]
    fn average_precision_is_in_unit_interval_and_curve_is_monotone((s, y) in scored()) {
        let c = pr_curve(&s, &y);
        if let Some(ap) = average_precision(&s, &y, &[]) {
            prop_assert!(ap > 0.0 && ap <= 1.0 + 1e-12);
            prop_assert!(c.points.windows(2).all(|w| w[0].threshold > w[1].threshold));
            prop_assert!(c.points.windows(2).all(|w| w[0].recall <= w[1].recall));
            prop_assert!((c.points.last().expect("non-empty").recall - 1.0).abs() < 1e-12);
        } else {
            prop_assert!(y.iter().all(|&v| v == 0.0));
            prop_assert!(c.points.is_empty());
        }
    }

    #[test]
    fn integer_weights_equal_duplicated_rows(
        (s, y) in scored(),
        k in prop::collection::vec(1u8..4, 60),
    ) {
        let w: Vec<f32> = k.iter().take(s.len()).map(|&v| f32::from(v)).collect();
        let mut s2 = Vec::new();
        let mut y2 = Vec::new();
        for ((&a, &b), &c) in s.iter().zip(&y).zip(&w) {
            for _ in 0..c as usize {
                s2.push(a);
                y2.push(b);
            }
        }
        let pairs = [
            (roc_auc(&s, &y, &w), roc_auc(&s2, &y2, &[])),
            (average_precision(&s, &y, &w), average_precision(&s2, &y2, &[])),
        ];
        for (a, b) in pairs {
            prop_assert_eq!(a.is_some(), b.is_some());
            if let (Some(a), Some(b)) = (a, b) {
                prop_assert!((a - b).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn chosen_thresholds_meet_their_targets((s, y) in scored(), target in 0.0f64..=1.0) {
        if let Ok(t) = threshold_for_fpr(&s, &y, target) {
            let c = confusion_at(&s, &y, t);
            prop_assert!(c.fpr().expect("negatives exist") <= target + 1e-12);
            // Lowering to the next score below would break the bound (or there is none).
            if let Some(&lower) = s.iter().filter(|&&v| v < t).max_by(|a, b| a.total_cmp(b)) {
                let c2 = confusion_at(&s, &y, lower);
                prop_assert!(c2.fpr().expect("negatives exist") > target);
            }
            if let Some(r) = recall_at_fpr(&s, &y, target) {
                prop_assert_eq!(r.threshold, t);
                prop_assert_eq!(Some(r.recall), c.recall());
            }
        }
        if let Ok(t) = threshold_for_precision(&s, &y, target) {
            let c = confusion_at(&s, &y, t);
            prop_assert!(c.precision().expect("something flagged") >= target - 1e-12);
            // No lower score reaches the target.
            for &lower in s.iter().filter(|&&v| v < t) {
                let p = confusion_at(&s, &y, lower).precision().expect("flagged");
                prop_assert!(p < target * (1.0 - 1e-12), "{} reaches {}", lower, target);
            }
        }
    }

    #[test]
    fn pava_is_monotone_and_preserves_the_weighted_mean(
        v in prop::collection::vec((-100.0f64..100.0, 0.1f64..10.0), 0..80),
    ) {
        let (values, weights): (Vec<f64>, Vec<f64>) = v.into_iter().unzip();
        let fit = pava(&values, &weights).expect("valid input");
        prop_assert_eq!(fit.len(), values.len());
        prop_assert!(fit.windows(2).all(|w| w[0] <= w[1] + 1e-9));
        let total: f64 = weights.iter().sum();
        if total > 0.0 {
            let m0: f64 = values.iter().zip(&weights).map(|(a, b)| a * b).sum::<f64>() / total;
            let m1: f64 = fit.iter().zip(&weights).map(|(a, b)| a * b).sum::<f64>() / total;
            prop_assert!((m0 - m1).abs() < 1e-9 * (1.0 + m0.abs()));
        }
        // Idempotent: an isotonic sequence is its own fit.
        let again = pava(&fit, &weights).expect("valid");
        prop_assert!(again.iter().zip(&fit).all(|(a, b)| (a - b).abs() < 1e-9));
    }

    #[test]
    fn isotonic_calibration_always_validates((s, y) in scored()) {
        match fit_isotonic(&s, &y, &[]) {
            Ok(c) => {
                prop_assert!(c.validate().is_ok());
                let mut prev = f64::NEG_INFINITY;
                for k in 0..=20 {
                    let p = c.apply(f64::from(k) / 20.0);
                    prop_assert!((0.0..=1.0).contains(&p) && p >= prev);
                    prev = p;
                }
            }
            Err(e) => {
                let one_class = y.iter().all(|&v| v == 1.0) || y.iter().all(|&v| v == 0.0);
                prop_assert!(one_class, "{}", e);
            }
        }
    }
}

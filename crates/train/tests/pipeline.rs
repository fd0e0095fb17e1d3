//! The whole training flow the CLI runs: time split, fit with early stopping on the newest
//! training slice, calibrate, pick thresholds, evaluate on the newest rows, plot.

mod common;

use shrike_score::calibrate::Calibration;
use shrike_train::calibration::{fit_isotonic, fit_platt};
use shrike_train::metrics::{self, pr_curve, reliability_bins};
use shrike_train::plot::{pr_curve_svg, reliability_svg, roc_svg};
use shrike_train::time_split::{split_newest_fraction, split_validation};
use shrike_train::{train_gbdt, GbdtParams};

#[test]
fn split_train_calibrate_threshold_evaluate_plot() {
    let all = common::logistic(6000, 15, 77);
    // One row in 50 has no timestamp; the rest arrive one per minute.
    let ts: Vec<Option<i64>> = (0..all.n_rows)
        .map(|i| (i % 50 != 7).then_some(1_700_000_000 + 60 * i as i64))
        .collect();
    let split = split_newest_fraction(&ts, 0.25).expect("splits");
    assert_eq!(split.untimed.len(), 120);
    assert!(split
        .train
        .iter()
        .all(|&i| split.test.iter().all(|&j| ts[i] < ts[j])));
    let fv = split_validation(&ts, &split.train, 0.2).expect("splits");
    let fit = all.subset(&fv.fit).expect("subset");
    let valid = all.subset(&fv.valid).expect("subset");
    let test = all.subset(&split.test).expect("subset");

    let params = GbdtParams {
        n_trees: 300,
        max_depth: 3,
        learning_rate: 0.1,
        early_stopping_rounds: Some(20),
        ..Default::default()
    };
    let m = train_gbdt(&fit, &params, Some(&valid), &mut |_| {}).expect("trains");
    assert!(
        m.best_iteration < 300,
        "early stopping: {}",
        m.best_iteration
    );

    let pv = common::probabilities(&m.ensemble, &valid);
    let iso = fit_isotonic(&pv, &valid.y, &[]).expect("fits");
    let platt = fit_platt(&pv, &valid.y, &[]).expect("fits");
    iso.validate().expect("valid");
    platt.validate().expect("valid");
    let Calibration::Platt { a, .. } = platt else {
        panic!("platt")
    };
    // A boosted model early-stopped on this data is roughly calibrated already.
    assert!((0.6..1.6).contains(&a), "platt slope {a}");

    let cal_valid: Vec<f64> = pv.iter().map(|&p| iso.apply(p)).collect();
    let th = metrics::threshold_for_fpr(&cal_valid, &valid.y, 0.05).expect("threshold");
    let c = metrics::confusion_at(&cal_valid, &valid.y, th);
    assert!(c.fpr().expect("negatives") <= 0.05);

    let pt: Vec<f64> = common::probabilities(&m.ensemble, &test)
        .into_iter()
        .map(|p| iso.apply(p))
        .collect();
    let auc = metrics::roc_auc(&pt, &test.y, &[]).expect("auc");
    let ap = metrics::average_precision(&pt, &test.y, &[]).expect("ap");
    let ece = metrics::expected_calibration_error(&pt, &test.y, 10).expect("ece");
    let brier = metrics::brier(&pt, &test.y).expect("brier");
    assert!(auc > 0.8, "test AUC {auc}");
    assert!(ap > 0.6, "test AP {ap}");
    assert!(ece < 0.08, "test ECE {ece}");
    assert!(brier < 0.2, "test Brier {brier}");
    let test_fpr = metrics::confusion_at(&pt, &test.y, th)
        .fpr()
        .expect("negatives");
    assert!(
        test_fpr < 0.12,
        "threshold holds roughly out of time: {test_fpr}"
    );

    let pr = pr_curve(&pt, &test.y);
    let svg = pr_curve_svg(&[
        ("test", pr.clone()),
        ("validation", pr_curve(&cal_valid, &valid.y)),
    ]);
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<polyline").count(), 2);
    let bins = reliability_bins(&pt, &test.y, 10);
    assert_eq!(bins.iter().map(|b| b.count).sum::<usize>(), test.n_rows);
    let svg = reliability_svg(&bins, ece);
    assert!(svg.contains(&format!("ECE {ece:.4}")));
    let roc = metrics::roc_curve(&pt, &test.y, &[]);
    assert!((roc.auc().expect("auc") - auc).abs() < 1e-15);
    assert!(roc_svg(&[("test", roc)]).contains("AUC"));
}

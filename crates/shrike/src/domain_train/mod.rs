//! Training the per-domain models (`shrike train endpoint|network|cloud`) and the stacked fusion
//! weights (`shrike train fusion`), on the same machinery as the email model: gradient-boosted
//! trees (`shrike_train::train_gbdt`) with early stopping on a validation period, probability
//! calibration fitted on that period, thresholds chosen on it, metrics on a later test period,
//! and a model file with its card.
//!
//! Each domain module turns its data into [`Sample`]s (features from the domain's stateful
//! extractor, run over the stream in time order exactly as serving runs it; a label; a time; a
//! group such as the capture or source) and calls [`train_domain`].

pub mod cloud;
pub mod endpoint;
pub mod fusion;
pub mod network;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use shrike_score::model::{SchemaRef, MODEL_FORMAT, MODEL_FORMAT_VERSION};
use shrike_score::{FeatureSchema, ModelFile, Thresholds};
use shrike_train::metrics;

/// One labelled training row.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Event time, ms since the epoch (what the time-based split uses).
    pub time_ms: i64,
    /// Features in schema order (NaN = missing).
    pub features: Vec<f32>,
    /// 1 = malicious, 0 = benign.
    pub label: f32,
    /// Sample weight (0 excludes the row from fitting; it is still counted).
    pub weight: f32,
    /// Where it came from (capture, source file, attack category): reported per group.
    pub group: String,
}

/// Which rows fit, validate and test.
#[derive(Debug, Clone)]
pub enum Split {
    /// `time < valid_from_ms` fits, `valid_from_ms <= time < test_from_ms` validates,
    /// `time >= test_from_ms` tests.
    ByTime {
        /// Start of the validation period.
        valid_from_ms: i64,
        /// Start of the test period.
        test_from_ms: i64,
    },
    /// Row indices given by the caller (for data without usable timestamps, e.g. NSL-KDD's
    /// train and test files); `basis` says why this split stands in for a time split.
    Explicit {
        /// Rows to fit on.
        fit: Vec<usize>,
        /// Validation rows.
        valid: Vec<usize>,
        /// Test rows.
        test: Vec<usize>,
        /// Why.
        basis: String,
    },
}

/// What to train and how to choose its thresholds.
#[derive(Debug, Clone)]
pub struct DomainSpec<'a> {
    /// Model id (`shrike-endpoint-gbdt`).
    pub model_id: &'a str,
    /// Model version (`2026.11.24`).
    pub version: String,
    /// The domain's feature schema.
    pub schema: &'static FeatureSchema,
    /// Where to write the model file; the card goes beside it as `.card.md`.
    pub out: &'a Path,
    /// Boosting parameters.
    pub params: shrike_train::GbdtParams,
    /// The alert threshold is the lowest calibrated score whose validation precision reaches
    /// this (`alert` verdict; stored as the model's `phishing` threshold field).
    pub alert_precision: f64,
    /// The suspicious threshold: lowest score whose validation precision reaches this.
    pub suspicious_precision: f64,
    /// Balance the classes' total weight when fitting.
    pub balance: bool,
    /// Domain-specific card content: data sources, licenses, labelling method, caveats.
    pub card: Value,
}

/// The written model and its evaluation.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The model file as written.
    pub model: ModelFile,
    /// SHA-256 of the written file.
    pub sha256: String,
    /// The evaluation report (also in the card).
    pub report: Value,
}

fn rows_of(samples: &[Sample], split: &Split) -> (Vec<usize>, Vec<usize>, Vec<usize>, String) {
    match split {
        Split::ByTime {
            valid_from_ms,
            test_from_ms,
        } => {
            let (mut fit, mut valid, mut test) = (Vec::new(), Vec::new(), Vec::new());
            for (i, s) in samples.iter().enumerate() {
                if s.time_ms >= *test_from_ms {
                    test.push(i);
                } else if s.time_ms >= *valid_from_ms {
                    valid.push(i);
                } else {
                    fit.push(i);
                }
            }
            let basis = format!(
                "by event time: fit before {}, validate from {}, test from {}",
                crate::output::rfc3339_ms(*valid_from_ms),
                crate::output::rfc3339_ms(*valid_from_ms),
                crate::output::rfc3339_ms(*test_from_ms)
            );
            (fit, valid, test, basis)
        }
        Split::Explicit {
            fit,
            valid,
            test,
            basis,
        } => (fit.clone(), valid.clone(), test.clone(), basis.clone()),
    }
}

fn dataset(
    samples: &[Sample],
    rows: &[usize],
    nf: usize,
    balance: bool,
) -> Result<shrike_train::Dataset> {
    let mut x = Vec::with_capacity(rows.len() * nf);
    let mut y = Vec::with_capacity(rows.len());
    let mut w = Vec::with_capacity(rows.len());
    for &i in rows {
        let s = &samples[i];
        if s.features.len() != nf {
            bail!(
                "row {i} ({}) has {} features, the schema has {nf}",
                s.group,
                s.features.len()
            );
        }
        x.extend_from_slice(&s.features);
        y.push(s.label);
        w.push(s.weight);
    }
    let mut d = shrike_train::Dataset::new(x, rows.len(), nf, y, w)?;
    if balance {
        let bw = d.class_balance_weights();
        for (w, b) in d.w.iter_mut().zip(bw) {
            *w *= b;
        }
    }
    Ok(d)
}

/// Counts of each class among rows with weight > 0.
fn class_counts(samples: &[Sample], rows: &[usize]) -> (usize, usize) {
    let pos = rows
        .iter()
        .filter(|&&i| samples[i].weight > 0.0 && samples[i].label > 0.5)
        .count();
    let neg = rows
        .iter()
        .filter(|&&i| samples[i].weight > 0.0 && samples[i].label <= 0.5)
        .count();
    (pos, neg)
}

/// Trains, calibrates, chooses thresholds, evaluates and writes a domain model and its card.
///
/// Rows with weight 0 are not fitted on and not evaluated (they are the ones a labelling method
/// could not attribute); they are counted in the report.
pub fn train_domain(
    spec: &DomainSpec<'_>,
    samples: &[Sample],
    split: &Split,
    quiet: bool,
) -> Result<Trained> {
    let nf = spec.schema.len();
    let (fit_rows, valid_rows, test_rows, basis) = rows_of(samples, split);
    let keep = |rows: &[usize]| -> Vec<usize> {
        rows.iter()
            .copied()
            .filter(|&i| samples[i].weight > 0.0)
            .collect()
    };
    let (fit_rows, valid_rows, test_rows) = (keep(&fit_rows), keep(&valid_rows), keep(&test_rows));
    let counts = json!({
        "fit": class_counts(samples, &fit_rows),
        "valid": class_counts(samples, &valid_rows),
        "test": class_counts(samples, &test_rows),
        "excluded_weight_zero": samples.iter().filter(|s| s.weight <= 0.0).count(),
        "format": "[positives, negatives]",
    });
    for (name, rows) in [
        ("fit", &fit_rows),
        ("validation", &valid_rows),
        ("test", &test_rows),
    ] {
        let (p, n) = class_counts(samples, rows);
        if p == 0 || n == 0 {
            bail!("the {name} side of the split has {p} positive and {n} negative rows; both are needed ({basis})");
        }
    }
    tracing::info!(
        "{}: {} fit, {} validation, {} test rows ({basis})",
        spec.model_id,
        fit_rows.len(),
        valid_rows.len(),
        test_rows.len()
    );
    let fit = dataset(samples, &fit_rows, nf, spec.balance)?;
    let valid = dataset(samples, &valid_rows, nf, spec.balance)?;
    let pb = crate::inputs::progress_bar(spec.params.n_trees as u64, quiet, "training");
    let mut on_progress = |p: shrike_train::Progress| {
        if let Some(pb) = &pb {
            pb.set_position(p.iteration as u64);
        }
    };
    let trained = shrike_train::train_gbdt(&fit, &spec.params, Some(&valid), &mut on_progress)
        .context("training")?;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let compiled = trained.ensemble.compile().context("compiling the trees")?;
    let link = trained.ensemble.link;
    let raw = |rows: &[usize]| -> Vec<f64> {
        rows.iter()
            .map(|&i| shrike_score::ensemble::apply_link(link, compiled.raw(&samples[i].features)))
            .collect()
    };
    let labels = |rows: &[usize]| -> Vec<f32> { rows.iter().map(|&i| samples[i].label).collect() };
    let (raw_valid, y_valid) = (raw(&valid_rows), labels(&valid_rows));
    let (vp, vn) = class_counts(samples, &valid_rows);
    let ones = vec![1.0f32; y_valid.len()];
    let (calibration, cal_name) = if vp.min(vn) >= 200 {
        (
            shrike_train::calibration::fit_isotonic(&raw_valid, &y_valid, &ones)?,
            "isotonic",
        )
    } else {
        (
            shrike_train::calibration::fit_platt(&raw_valid, &y_valid, &ones)?,
            "platt",
        )
    };
    let cal = |p: &[f64]| -> Vec<f64> {
        p.iter()
            .map(|&v| calibration.apply(v).clamp(0.0, 1.0))
            .collect()
    };
    let cal_valid = cal(&raw_valid);
    let pick = |target: f64| -> (f64, String) {
        match metrics::threshold_for_precision(&cal_valid, &y_valid, target) {
            Ok(t) => (t, format!("precision >= {target} on validation")),
            Err(e) => {
                // Unreachable precision: fall back to a 1% false-positive rate.
                let t = metrics::threshold_for_fpr(&cal_valid, &y_valid, 0.01).unwrap_or(0.5);
                (
                    t,
                    format!("FPR <= 0.01 on validation (precision {target} unreachable: {e})"),
                )
            }
        }
    };
    let (t_alert, b_alert) = pick(spec.alert_precision);
    let (t_susp, b_susp) = pick(spec.suspicious_precision);
    let thresholds = Thresholds {
        phishing: t_alert,
        suspicious: t_susp.min(t_alert),
        basis: format!(
            "alert: {b_alert}; suspicious: {b_susp}; validation {vp} positive / {vn} negative"
        ),
    };
    let mut model = ModelFile {
        format: MODEL_FORMAT.into(),
        format_version: MODEL_FORMAT_VERSION,
        id: spec.model_id.into(),
        version: spec.version.clone(),
        created_at: crate::output::rfc3339_ms(crate::scoring::now_ms()),
        algorithm: "gbdt".into(),
        schema: SchemaRef::of(spec.schema),
        ensemble: trained.ensemble,
        calibration: calibration.clone(),
        thresholds,
        card: Value::Null,
    };
    // Test-period evaluation.
    let cal_test = cal(&raw(&test_rows));
    let y_test = labels(&test_rows);
    let at = |t: f64| {
        let c = metrics::confusion_at(&cal_test, &y_test, t);
        json!({
            "threshold": crate::output::round6(t),
            "tp": c.tp, "fp": c.fp, "tn": c.tn, "fn": c.fn_,
            "precision": c.precision().map(crate::output::round6),
            "recall": c.recall().map(crate::output::round6),
            "fpr": c.fpr().map(crate::output::round6),
        })
    };
    let mut groups: BTreeMap<&str, (usize, usize, usize, usize)> = BTreeMap::new();
    for (k, &i) in test_rows.iter().enumerate() {
        let g = groups.entry(samples[i].group.as_str()).or_default();
        let flagged = cal_test[k] >= model.thresholds.phishing;
        if samples[i].label > 0.5 {
            g.0 += 1;
            g.1 += usize::from(flagged);
        } else {
            g.2 += 1;
            g.3 += usize::from(flagged);
        }
    }
    let per_group: Value = groups
        .into_iter()
        .map(|(g, (p, tp, n, fp))| {
            (
                g.to_string(),
                json!({"positives": p, "alerted_positives": tp, "negatives": n, "alerted_negatives": fp}),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    let report = json!({
        "split": basis,
        "rows": counts,
        "calibration": cal_name,
        "best_iteration": trained.best_iteration,
        "trees": model.ensemble.trees.len(),
        "thresholds": model.thresholds,
        "test": {
            "average_precision": metrics::average_precision(&cal_test, &y_test, &[]).map(crate::output::round6),
            "roc_auc": metrics::roc_auc(&cal_test, &y_test, &[]).map(crate::output::round6),
            "ece_10_bins": metrics::expected_calibration_error(&cal_test, &y_test, 10).map(crate::output::round6),
            "brier": metrics::brier(&cal_test, &y_test).map(crate::output::round6),
            "at_alert_threshold": at(model.thresholds.phishing),
            "at_suspicious_threshold": at(model.thresholds.suspicious),
            "per_group_at_alert_threshold": per_group,
        },
        "top_features": top_features(&model, spec.schema, samples, &test_rows),
    });
    model.card = json!({
        "domain_card": spec.card,
        "training": {
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "algorithm": "gbdt",
            "params": {"n_trees": spec.params.n_trees, "learning_rate": spec.params.learning_rate, "max_depth": spec.params.max_depth, "seed": spec.params.seed},
            "class_balance": spec.balance,
        },
        "evaluation": report,
    });
    if let Some(dir) = spec.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let bytes = model.to_bytes();
    std::fs::write(spec.out, &bytes).with_context(|| format!("writing {}", spec.out.display()))?;
    let loaded = ModelFile::load(&bytes, spec.schema).context("re-reading the written model")?;
    let card_path = spec.out.with_extension("card.md");
    std::fs::write(&card_path, card_markdown(&model, &loaded.sha256, &[]))
        .with_context(|| format!("writing {}", card_path.display()))?;
    Ok(Trained {
        model,
        sha256: loaded.sha256,
        report,
    })
}

/// Mean |TreeSHAP| over up to 3,000 evenly spaced test rows: the top 20 features.
fn top_features(
    model: &ModelFile,
    schema: &FeatureSchema,
    samples: &[Sample],
    rows: &[usize],
) -> Value {
    top_features_of(
        model,
        schema,
        rows.iter().map(|&i| samples[i].features.as_slice()),
        rows.len(),
    )
}

/// The 20 features with the largest mean |TreeSHAP| over up to 3,000 evenly spaced rows of
/// `rows` (`n_rows` of them), as model-card JSON; shared by every trainer.
pub(crate) fn top_features_of<'a>(
    model: &ModelFile,
    schema: &FeatureSchema,
    rows: impl Iterator<Item = &'a [f32]>,
    n_rows: usize,
) -> Value {
    let nf = schema.len();
    let mut sum = vec![0.0f64; nf];
    let mut phi = vec![0.0f64; nf];
    let step = (n_rows / 3000).max(1);
    let mut n = 0usize;
    for x in rows.step_by(step) {
        phi.iter_mut().for_each(|v| *v = 0.0);
        model.ensemble.shap_values(x, &mut phi);
        for (a, p) in sum.iter_mut().zip(&phi) {
            *a += p.abs();
        }
        n += 1;
    }
    let mut order: Vec<usize> = (0..nf).collect();
    order.sort_by(|&a, &b| sum[b].total_cmp(&sum[a]));
    order
        .into_iter()
        .take(20)
        .filter(|&i| sum[i] > 0.0)
        .map(|i| {
            let f = &schema.features[i];
            json!({"feature": f.name, "group": f.group, "mean_abs_shap": crate::output::round6(sum[i] / n.max(1) as f64), "description": f.description})
        })
        .collect()
}

/// The Markdown model card: header, data and labels, test metrics, then `extra` sections
/// (title, JSON) a domain adds, top features and training.
pub(crate) fn card_markdown(model: &ModelFile, sha256: &str, extra: &[(&str, &Value)]) -> String {
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let ev = &model.card["evaluation"];
    let mut top = String::new();
    for f in ev["top_features"].as_array().into_iter().flatten() {
        top.push_str(&format!(
            "| {} | {} | {} |\n",
            f["feature"].as_str().unwrap_or(""),
            f["mean_abs_shap"],
            f["description"].as_str().unwrap_or("")
        ));
    }
    let extra: String = extra
        .iter()
        .map(|(title, v)| format!("## {title}\n\n```json\n{}\n```\n\n", pretty(v)))
        .collect();
    format!(
        "# Model card: {id} {version}\n\n\
         - SHA-256: `{sha256}`\n- Algorithm: gbdt, {trees} trees; schema `{schema}` v{sv} ({nf} features)\n\
         - Created: {created}\n- Thresholds: alert {ta:.4}, suspicious {ts:.4} ({basis})\n\
         - Split: {split}\n- Calibration: {cal}\n\n\
         ## Data, labels and caveats\n\n```json\n{domain}\n```\n\n\
         ## Test-period metrics\n\n```json\n{test}\n```\n\n\
         {extra}\
         ## Top features (mean |TreeSHAP| on the test period)\n\n| feature | mean abs SHAP | what it measures |\n|---|---|---|\n{top}\n\
         ## Training\n\n```json\n{training}\n```\n",
        id = model.id,
        version = model.version,
        trees = model.ensemble.trees.len(),
        schema = model.schema.name,
        sv = model.schema.version,
        nf = model.schema.feature_names.len(),
        created = model.created_at,
        ta = model.thresholds.phishing,
        ts = model.thresholds.suspicious,
        basis = model.thresholds.basis,
        split = ev["split"].as_str().unwrap_or(""),
        cal = ev["calibration"].as_str().unwrap_or(""),
        domain = pretty(&model.card["domain_card"]),
        test = pretty(&ev["test"]),
        training = pretty(&model.card["training"]),
    )
}

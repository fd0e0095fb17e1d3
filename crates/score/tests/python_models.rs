//! Parity with the real Python libraries: `scripts/py/make_models.py` trains XGBoost and LightGBM
//! models with fixed seeds and records their own predictions; Shrike loads the model files and
//! must reproduce the margins, probabilities and TreeSHAP contributions.
//!
//! The interpreter is `$SHRIKE_PYTHON`, else `<workspace>/.venv/bin/python`; without one that
//! imports xgboost, lightgbm and numpy the tests print `skipping: ...` and pass. Set up with
//! `python3 -m venv .venv && .venv/bin/pip install xgboost-cpu lightgbm numpy scipy`.
//!
//! The 200 test rows hold NaNs everywhere (features 10..19 never saw one in training, so
//! LightGBM gives them missing type None), an all-zero row, an all-NaN row, rows of ±inf, rows
//! that hit XGBoost's thresholds exactly, and rows on both sides of LightGBM's double thresholds
//! (the largest `f32` <= t and the next one up), including its ±1e-35 zero-band edges.
//!
//! Tolerances, and the maxima observed with xgboost 3.2.0 / lightgbm 4.7.0:
//! - XGBoost margins: XGBoost sums leaves and computes the base margin (`logit(base_score)`) in
//!   `f32`, Shrike in `f64`; 50 trees give a few `f32` ulps of the margin: 1e-5 absolute
//!   (observed 2.3e-6). Probabilities 1e-6 (observed 1.1e-7).
//! - XGBoost contributions (`pred_contribs`): also `f32` arithmetic: 1e-4 (observed 1.1e-6).
//! - LightGBM works in `f64` like Shrike: margins and probabilities agree exactly (observed 0),
//!   contributions to 1e-9 (observed 1.1e-15; TreeSHAP's operation order differs).

use serde_json::Value;
use shrike_score::import::{from_lightgbm_text, from_xgboost_json};
use shrike_score::TreeEnsemble;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

struct Fixtures {
    dir: PathBuf,
    /// Test rows, `n_features` each, NaN for missing.
    rows: Vec<Vec<f32>>,
    predictions: Value,
}

fn workspace() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // Canonical, so a venv's python finds its pyvenv.cfg (Python normalizes `..` lexically).
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

/// Runs the script once for all tests; `None` (after printing why) when Python is unavailable.
fn fixtures() -> Option<&'static Fixtures> {
    static F: OnceLock<Option<Fixtures>> = OnceLock::new();
    F.get_or_init(|| {
        let python = match std::env::var_os("SHRIKE_PYTHON") {
            Some(p) => PathBuf::from(p),
            None => workspace().join(".venv/bin/python"),
        };
        if !python.exists() {
            eprintln!(
                "skipping: no Python at {} (set SHRIKE_PYTHON or create .venv)",
                python.display()
            );
            return None;
        }
        let probe = Command::new(&python)
            .args(["-c", "import xgboost, lightgbm, numpy"])
            .output();
        if !probe.as_ref().is_ok_and(|o| o.status.success()) {
            eprintln!(
                "skipping: {} cannot import xgboost, lightgbm and numpy",
                python.display()
            );
            return None;
        }
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("python_models");
        let out = Command::new(&python)
            .arg(workspace().join("scripts/py/make_models.py"))
            .arg(&dir)
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "make_models.py failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let matrix = read_json(&dir.join("test_matrix.json"));
        let rows = matrix["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                r.as_array()
                    .expect("row")
                    .iter()
                    .map(|v| number(v) as f32)
                    .collect()
            })
            .collect();
        let predictions = read_json(&dir.join("predictions.json"));
        Some(Fixtures {
            dir,
            rows,
            predictions,
        })
    })
    .as_ref()
}

fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).expect("valid JSON")
}

/// The script writes NaN as null and infinities as strings.
fn number(v: &Value) -> f64 {
    match v {
        Value::Null => f64::NAN,
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        v => v.as_f64().expect("number"),
    }
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(number).collect()
}

struct Observed {
    margin: f64,
    proba: f64,
    contrib: f64,
    rows: usize,
}

/// Compares `e` with the library's predictions for `name`; returns the largest differences.
fn compare(f: &Fixtures, name: &str, e: &TreeEnsemble) -> Observed {
    let p = &f.predictions[name];
    let rows: Vec<usize> = p["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r.as_u64().expect("index") as usize)
        .collect();
    let margins = numbers(&p["margin"]);
    let probas = numbers(&p["proba"]);
    let contribs: Vec<Vec<f64>> = p["contribs"]
        .as_array()
        .expect("contribs")
        .iter()
        .map(numbers)
        .collect();
    assert_eq!(rows.len(), margins.len());
    let compiled = e.compile().expect("compiles");
    let mut phi = vec![0.0; e.n_features];
    let mut obs = Observed {
        margin: 0.0,
        proba: 0.0,
        contrib: 0.0,
        rows: rows.len(),
    };
    for (k, &r) in rows.iter().enumerate() {
        let x = &f.rows[r];
        let raw = e.raw(x);
        assert_eq!(compiled.raw(x), raw, "{name} row {r}: compiled differs");
        obs.margin = obs.margin.max((raw - margins[k]).abs());
        obs.proba = obs.proba.max((e.predict_proba(x) - probas[k]).abs());
        let bias = e.shap_values(x, &mut phi);
        let theirs = &contribs[k];
        assert_eq!(theirs.len(), e.n_features + 1, "{name}: contribs + bias");
        obs.contrib = obs.contrib.max((bias - theirs[e.n_features]).abs());
        for (a, b) in phi.iter().zip(theirs) {
            obs.contrib = obs.contrib.max((a - b).abs());
        }
        // Local accuracy against our own raw value.
        let total = bias + phi.iter().sum::<f64>();
        assert!(
            (total - raw).abs() < 1e-9,
            "{name} row {r}: {total} vs {raw}"
        );
    }
    eprintln!(
        "{name}: {} rows, max |margin diff| {:.3e}, |proba diff| {:.3e}, |contrib diff| {:.3e}",
        obs.rows, obs.margin, obs.proba, obs.contrib
    );
    obs
}

fn load_xgb(f: &Fixtures, name: &str) -> TreeEnsemble {
    let bytes = std::fs::read(f.dir.join(format!("{name}.json"))).expect("model file");
    from_xgboost_json(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn load_lgb(f: &Fixtures, name: &str) -> TreeEnsemble {
    let text = std::fs::read_to_string(f.dir.join(format!("{name}.txt"))).expect("model file");
    from_lightgbm_text(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn xgboost_binary_logistic() {
    let Some(f) = fixtures() else { return };
    let e = load_xgb(f, "xgb_binary");
    assert_eq!((e.trees.len(), e.n_features), (50, 20));
    let o = compare(f, "xgb_binary", &e);
    // Rows with ±inf are not in XGBoost's set (its DMatrix rejects inf).
    assert!(o.rows >= 190, "{} rows", o.rows);
    assert!(o.margin <= 1e-5, "margin {}", o.margin);
    assert!(o.proba <= 1e-6, "proba {}", o.proba);
    assert!(o.contrib <= 1e-4, "contrib {}", o.contrib);
}

#[test]
fn xgboost_logitraw_and_squarederror() {
    let Some(f) = fixtures() else { return };
    for name in ["xgb_logitraw", "xgb_squarederror"] {
        let e = load_xgb(f, name);
        let o = compare(f, name, &e);
        assert!(o.margin <= 1e-5, "{name} margin {}", o.margin);
        assert!(o.proba <= 1e-5, "{name} proba {}", o.proba);
        assert!(o.contrib <= 1e-4, "{name} contrib {}", o.contrib);
    }
}

#[test]
fn lightgbm_binary() {
    let Some(f) = fixtures() else { return };
    let e = load_lgb(f, "lgb_binary");
    assert_eq!((e.trees.len(), e.n_features), (50, 20));
    // The model exercises the conversions: `threshold=inf` splits and both NaN and None
    // missing types (decision_type bits 2-3).
    let text = std::fs::read_to_string(f.dir.join("lgb_binary.txt")).expect("model file");
    let field = |key: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix(key))
            .flat_map(|l| l.split(' ').map(str::to_owned))
            .collect()
    };
    assert!(field("threshold=").iter().any(|t| t == "inf"));
    let missing: Vec<i64> = field("decision_type=")
        .iter()
        .map(|d| (d.parse::<i64>().expect("int") >> 2) & 3)
        .collect();
    assert!(missing.contains(&0) && missing.contains(&2), "{missing:?}");
    let o = compare(f, "lgb_binary", &e);
    // All 200 rows, including all-NaN, all-zero and ±inf rows.
    assert_eq!(o.rows, 200);
    assert!(o.margin <= 1e-9, "margin {}", o.margin);
    assert!(o.proba <= 1e-9, "proba {}", o.proba);
    assert!(o.contrib <= 1e-9, "contrib {}", o.contrib);
}

#[test]
fn lightgbm_sigmoid_and_regression() {
    let Some(f) = fixtures() else { return };
    // sigmoid:2 — Shrike's raw is the log-odds, 2 × LightGBM's raw score.
    let e = load_lgb(f, "lgb_sigmoid2");
    let theirs = numbers(&f.predictions["lgb_sigmoid2"]["margin"]);
    let probas = numbers(&f.predictions["lgb_sigmoid2"]["proba"]);
    for (k, x) in f.rows.iter().enumerate() {
        assert!((e.raw(x) - 2.0 * theirs[k]).abs() <= 1e-9, "row {k}");
        assert!((e.predict_proba(x) - probas[k]).abs() <= 1e-9, "row {k}");
    }
    let e = load_lgb(f, "lgb_regression");
    let o = compare(f, "lgb_regression", &e);
    assert!(
        o.margin <= 1e-9 && o.proba <= 1e-9,
        "{} {}",
        o.margin,
        o.proba
    );
    assert!(o.contrib <= 1e-9, "contrib {}", o.contrib);
}

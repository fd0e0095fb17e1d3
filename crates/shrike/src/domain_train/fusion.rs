//! `shrike train fusion`: learns the stacked fusion weights ([`shrike_fusion::StackedModel`])
//! from analyst dispositions.
//!
//! Inputs:
//! - `--feedback`: the case store's feedback export (`GET /v1/feedback`, JSON array or NDJSON):
//!   one object per dispositioned ticket with `disposition` and `alerts[].uid`.
//! - `--entities`: what fusion emitted: `entities.ndjson` lines (`EntityReport`) and/or entity
//!   risk findings (OCSF 2004 with `unmapped.shrike_fusion`), NDJSON or a JSON array.
//!
//! Join: a ticket's alert uid is the uid of the entity risk finding it was opened from
//! (`finding_info.uid` = `metadata.uid` = [`shrike_fusion::finding_uid`] of the report), which
//! gives the fusion feature vector stored at that moment. Labels: `true_positive` = 1,
//! `false_positive` and `benign_positive` = 0; other dispositions are skipped and counted.
//! Each (ticket, finding) pair is one row.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use shrike_fusion::{finding_uid, EntityReport, StackedModel, FEATURE_NAMES, N_FEATURES};

/// `shrike train fusion` arguments.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  curl -s -H 'Authorization: Bearer s3cret' 'http://127.0.0.1:8080/v1/feedback?format=ndjson' > feedback.ndjson\n  shrike train fusion --feedback feedback.ndjson --entities out/entities.ndjson --out models/fusion-stacked.json\n  shrike train fusion --feedback feedback.json --entities findings-*.ndjson --l2 0.5 --json"
)]
pub struct FusionArgs {
    /// Feedback export (`/v1/feedback`, JSON array or NDJSON).
    #[arg(long)]
    pub feedback: PathBuf,
    /// Fusion outputs: `entities.ndjson` and/or entity risk findings (NDJSON or JSON array).
    #[arg(long, num_args = 1.., required = true)]
    pub entities: Vec<PathBuf>,
    /// Output model file (JSON), for `fusion.stacked` with strategy `stacked`.
    #[arg(long, default_value = "models/fusion-stacked.json")]
    pub out: PathBuf,
    /// L2 penalty on the coefficients.
    #[arg(long, default_value_t = 1.0)]
    pub l2: f64,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Most bytes read from one input line (longer lines are skipped and counted).
const MAX_LINE: usize = 16 << 20;

#[derive(Default, Debug)]
struct Counts {
    lines_bad: u64,
    reports: u64,
    tickets: u64,
    tickets_skipped_disposition: u64,
    tickets_unmatched: u64,
    rows: u64,
    positives: u64,
    features_bad: u64,
}

/// JSON values of a file: a JSON array, or one value per line. Unparseable lines are counted.
fn values(path: &Path, bad: &mut u64) -> Result<Vec<Value>> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut r = BufReader::new(file);
    let starts_array = {
        let buf = r
            .fill_buf()
            .with_context(|| format!("reading {}", path.display()))?;
        buf.iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'[')
    };
    if starts_array {
        let mut s = String::new();
        r.read_to_string(&mut s)
            .with_context(|| format!("reading {}", path.display()))?;
        let v: Value = serde_json::from_str(&s)
            .with_context(|| format!("parsing {} as a JSON array", path.display()))?;
        return Ok(match v {
            Value::Array(a) => a,
            other => vec![other],
        });
    }
    let mut out = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        if line.len() > MAX_LINE && !line.ends_with(b"\n") {
            *bad += 1;
            // Skip the rest of the overlong line.
            let mut sink = Vec::new();
            r.read_until(b'\n', &mut sink)
                .with_context(|| format!("reading {}", path.display()))?;
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Value>(&line) {
            Ok(v) => out.push(v),
            Err(_) => *bad += 1,
        }
    }
    Ok(out)
}

/// Finding uid(s) -> feature vector, from reports or findings.
fn index_entities(paths: &[PathBuf], c: &mut Counts) -> Result<HashMap<String, Vec<f64>>> {
    let mut out = HashMap::new();
    for p in paths {
        for v in values(p, &mut c.lines_bad)? {
            let (report, uids) = if let Some(r) = v.pointer("/unmapped/shrike_fusion") {
                let mut uids: Vec<String> = ["/finding_info/uid", "/metadata/uid"]
                    .iter()
                    .filter_map(|ptr| v.pointer(ptr).and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect();
                uids.dedup();
                (serde_json::from_value::<EntityReport>(r.clone()).ok(), uids)
            } else {
                let r = serde_json::from_value::<EntityReport>(v).ok();
                let uids = r.iter().map(finding_uid).collect();
                (r, uids)
            };
            let Some(report) = report else {
                c.lines_bad += 1;
                continue;
            };
            c.reports += 1;
            if report.features.len() != N_FEATURES || report.features.iter().any(|x| !x.is_finite())
            {
                c.features_bad += 1;
                continue;
            }
            for u in uids {
                out.insert(u, report.features.clone());
            }
        }
    }
    Ok(out)
}

/// Runs `shrike train fusion`.
pub fn run(args: FusionArgs, quiet: bool) -> Result<ExitCode> {
    let mut c = Counts::default();
    let features = index_entities(&args.entities, &mut c)?;
    let feedback = values(&args.feedback, &mut c.lines_bad)?;
    let mut rows: Vec<(Vec<f64>, f32)> = Vec::new();
    for t in &feedback {
        c.tickets += 1;
        let label = match t.get("disposition").and_then(Value::as_str) {
            Some("true_positive") => 1.0f32,
            Some("false_positive" | "benign_positive") => 0.0,
            _ => {
                c.tickets_skipped_disposition += 1;
                continue;
            }
        };
        let mut uids: Vec<&str> = t
            .get("alerts")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.get("uid").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        uids.sort_unstable();
        uids.dedup();
        let before = rows.len();
        for u in uids {
            if let Some(f) = features.get(u) {
                rows.push((f.clone(), label));
            }
        }
        if rows.len() == before {
            c.tickets_unmatched += 1;
        }
    }
    c.rows = rows.len() as u64;
    c.positives = rows.iter().filter(|r| r.1 > 0.5).count() as u64;
    if rows.is_empty() {
        bail!(
            "no training rows: {} tickets, {} skipped by disposition, {} without a matching \
             entity risk finding among {} fusion reports",
            c.tickets,
            c.tickets_skipped_disposition,
            c.tickets_unmatched,
            c.reports
        );
    }
    let model = StackedModel::train(&rows, args.l2).context("training the stacked model")?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let body = serde_json::to_vec_pretty(&model)?;
    std::fs::write(&args.out, body).with_context(|| format!("writing {}", args.out.display()))?;
    let coefs: serde_json::Map<String, Value> = FEATURE_NAMES
        .iter()
        .zip(&model.coefficients)
        .map(|(n, v)| ((*n).to_owned(), json!(v)))
        .collect();
    let summary = json!({
        "out": args.out.display().to_string(),
        "rows": c.rows,
        "positives": c.positives,
        "negatives": c.rows - c.positives,
        "tickets": c.tickets,
        "tickets_skipped_disposition": c.tickets_skipped_disposition,
        "tickets_unmatched": c.tickets_unmatched,
        "fusion_reports": c.reports,
        "reports_with_bad_features": c.features_bad,
        "lines_unreadable": c.lines_bad,
        "intercept": model.intercept,
        "coefficients": coefs,
        "iterations": model.iterations,
        "converged": model.converged,
    });
    if args.json {
        println!("{summary}");
    } else {
        println!(
            "wrote {}: {} rows ({} true positive, {} false/benign) from {} tickets; skipped {} \
             (other disposition), {} unmatched; {} unreadable lines",
            args.out.display(),
            c.rows,
            c.positives,
            c.rows - c.positives,
            c.tickets,
            c.tickets_skipped_disposition,
            c.tickets_unmatched,
            c.lines_bad
        );
        println!("  {:<18} {:>10.4}", "intercept", model.intercept);
        for (n, v) in FEATURE_NAMES.iter().zip(&model.coefficients) {
            println!("  {n:<18} {v:>10.4}");
        }
        if !model.converged && !quiet {
            eprintln!(
                "warning: IRLS did not converge in {} iterations",
                model.iterations
            );
        }
    }
    Ok(if c.lines_bad > 0 || c.features_bad > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(i: usize, sigma: f64) -> Value {
        let mut features = vec![0.0; N_FEATURES];
        features[5] = sigma;
        json!({"entity": {"kind": "host", "key": format!("h{i}")}, "aliases": [], "score": 0.8,
               "level": "high", "strategy": "log_odds", "threshold": 0.7, "above_threshold": true,
               "crossed_ms": 1000 + i, "first_alert_ms": 1000, "last_alert_ms": 1000 + i, "alerts": 2,
               "contributions": [], "tactics": [], "techniques": [], "kill_chain": 1,
               "criticality": null, "features": features})
    }

    #[test]
    fn joins_dispositions_to_fusion_features_and_writes_a_model() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut entities = String::new();
        let mut findings = String::new();
        let mut feedback = Vec::new();
        for i in 0..40 {
            let tp = i % 2 == 0;
            let r = report(
                i,
                if tp {
                    6.0 + (i % 5) as f64
                } else {
                    (i % 5) as f64
                },
            );
            let uid = if i % 4 == 0 {
                // A finding line: joined by its finding_info.uid.
                let uid = format!("custom-{i}");
                findings.push_str(
                    &json!({"class_uid": 2004, "finding_info": {"uid": uid},
                    "unmapped": {"shrike_fusion": r}})
                    .to_string(),
                );
                findings.push('\n');
                uid
            } else {
                let rep: EntityReport =
                    serde_json::from_value(r.clone()).unwrap_or_else(|e| panic!("{e}"));
                entities.push_str(&r.to_string());
                entities.push('\n');
                finding_uid(&rep)
            };
            let d = if i == 7 {
                "escalated"
            } else if tp {
                "true_positive"
            } else {
                "false_positive"
            };
            feedback.push(json!({"ticket_id": i, "disposition": d, "alerts": [{"uid": uid}]}));
        }
        feedback.push(
            json!({"ticket_id": 99, "disposition": "true_positive", "alerts": [{"uid": "none"}]}),
        );
        entities.push_str("not json\n");
        let e = dir.path().join("entities.ndjson");
        let f = dir.path().join("findings.ndjson");
        let fb = dir.path().join("feedback.json");
        let out = dir.path().join("m/fusion-stacked.json");
        std::fs::write(&e, entities).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&f, findings).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&fb, Value::Array(feedback).to_string()).unwrap_or_else(|e| panic!("{e}"));
        let args = FusionArgs {
            feedback: fb,
            entities: vec![e, f],
            out: out.clone(),
            l2: 1.0,
            json: true,
        };
        let code = run(args, true).unwrap_or_else(|e| panic!("{e}"));
        // One unreadable line: finished, exit 1.
        assert_eq!(code, ExitCode::from(1));
        let model: StackedModel = serde_json::from_slice(&std::fs::read(&out).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(model.training_rows, 39);
        assert_eq!(model.positives, 20);
        assert!(model.coefficients[5] > 0.0, "{:?}", model.coefficients);
    }
}

//! `shrike train cloud`: the cloud model from Panther's labelled CloudTrail rule tests, Panther's
//! CloudTrail attack scenarios and Mordor's attacker CloudTrail.
//!
//! Sources (all under `--data`, the shared `cloud/` folder):
//! - `panther/cloudtrail.ndjson.gz`: one line per (rule, test event) with the rule's
//!   `expected_result`, severity and MITRE list. Cases are grouped by event (the `log` with its
//!   Panther `p_*` enrichment keys stripped) and labelled per event (see [`label_of`]). Each
//!   event is a standalone unit-test fixture, so it runs through a *fresh* extractor: no
//!   history.
//! - `panther/test_scenarios/*/{attacker,victim}_cloudtrail.yml`: per scenario, attacker and
//!   victim events in one time-ordered stream through one extractor; `attacker_*` = positive,
//!   `victim_*` = negative (the file name is the only label).
//! - `mordor-aws/atomic/aws/collection/ec2_proxy_s3_exfiltration.zip`: one stream; the events
//!   made with the stolen instance-profile credentials (assumed-role sessions) are positive,
//!   the lab operator's IAM-user events and AWS-service events negative (background).
//!
//! Everything is decoded and normalized with the bundled mappings, exactly as `shrike
//! normalize` does; the split is by event time (`--valid-from`, `--test-from`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use shrike_detect::models::cloud::features::{stateful_features, CloudFeatures};
use shrike_detect::models::cloud::{cloud_schema, scenario_logs};
use shrike_normalize::decode::{decode_bytes, decode_path, DecodeOptions};
use shrike_normalize::{DecodeItem, Engine, Source};

use super::{train_domain, DomainSpec, Sample, Split};

/// `shrike train cloud` arguments.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  shrike train cloud --data ../shared/data/cloud --out models/cloud-default.json\n  shrike train cloud --data ../shared/data/cloud --valid-from 2021-06-01 --test-from 2024-01-01 --out /tmp/cloud.json"
)]
pub struct CloudArgs {
    /// The shared cloud data folder (panther/, mordor-aws/).
    #[arg(long, default_value = "../shared/data/cloud")]
    pub data: PathBuf,
    /// Output model file; the card is written beside it (`.card.md`).
    #[arg(long, default_value = "models/cloud-default.json")]
    pub out: PathBuf,
    /// Start of the validation period (event time, UTC date).
    #[arg(long, default_value = "2022-01-01")]
    pub valid_from: String,
    /// Start of the test period (event time, UTC date).
    #[arg(long, default_value = "2024-01-01")]
    pub test_from: String,
    /// Boosting rounds.
    #[arg(long, default_value_t = 200)]
    pub trees: usize,
    /// Tree depth.
    #[arg(long, default_value_t = 3)]
    pub depth: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 0.1)]
    pub learning_rate: f64,
    /// Random seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Alert threshold: lowest calibrated score with this precision on validation.
    #[arg(long, default_value_t = 0.8)]
    pub alert_precision: f64,
    /// Suspicious threshold: lowest calibrated score with this precision on validation.
    #[arg(long, default_value_t = 0.5)]
    pub suspicious_precision: f64,
    /// Also train a variant with every history feature blanked (NaN), to measure whether the
    /// stateful features matter; the variant with the higher validation average precision is
    /// written.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub ablation: bool,
    /// Model version (default: today's date).
    #[arg(long)]
    pub model_version: Option<String>,
    /// Also write every labelled row (time, label, group, operation, features by name) as
    /// NDJSON here, for analysis.
    #[arg(long)]
    pub dump_rows: Option<PathBuf>,
}

/// Severities whose expected-true cases count as attacker behaviour (with a MITRE mapping).
const POSITIVE_SEVERITIES: &[&str] = &["Medium", "High", "Critical"];

/// The label of one Panther test event, from all the (rule, expected result) cases it appears
/// in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PantherLabel {
    /// Some rule of severity Medium or above with an ATT&CK mapping is expected to fire on it.
    Positive,
    /// Every case is an expected-false (near-miss) case or an Info-level rule firing.
    Negative,
    /// Some rule fires on it but the rule is Low severity or has no ATT&CK mapping
    /// (compliance / hygiene rules): neither clearly malicious nor benign. Dropped.
    Ambiguous,
    /// Every case depends on mocked helpers (lookup tables, caches), so the outcome is not
    /// reproducible from the event alone. Dropped.
    MocksOnly,
}

/// One (rule, event) case of the Panther file.
#[derive(Debug, Clone)]
pub struct PantherCase {
    /// Rule id.
    pub rule_id: String,
    /// Whether the rule is expected to fire.
    pub expected: bool,
    /// Rule severity (`Info` … `Critical`).
    pub severity: String,
    /// Whether the rule has an ATT&CK mapping.
    pub has_mitre: bool,
    /// Whether the test mocks helper calls.
    pub has_mocks: bool,
}

/// Labels one event from its cases (see [`PantherLabel`]); cases with mocks are ignored.
pub fn label_of(cases: &[PantherCase]) -> PantherLabel {
    let real: Vec<&PantherCase> = cases.iter().filter(|c| !c.has_mocks).collect();
    if real.is_empty() {
        return PantherLabel::MocksOnly;
    }
    let positive = real
        .iter()
        .any(|c| c.expected && c.has_mitre && POSITIVE_SEVERITIES.contains(&c.severity.as_str()));
    if positive {
        return PantherLabel::Positive;
    }
    let ambiguous = real.iter().any(|c| c.expected && c.severity != "Info");
    if ambiguous {
        return PantherLabel::Ambiguous;
    }
    PantherLabel::Negative
}

/// `YYYY-MM-DD` → ms since the epoch (UTC midnight).
fn date_ms(s: &str) -> Option<i64> {
    let mut it = s.trim().splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let d: i64 = it.next()?.get(..2)?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = if y2 >= 0 { y2 } else { y2 - 399 } / 400;
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400_000)
}

/// Counters of what went in and what was left out.
#[derive(Debug, Default)]
struct Counts {
    not_normalized: BTreeMap<String, u64>,
    not_covered: u64,
}

/// Decodes and normalizes CloudTrail bytes (one record or NDJSON) into OCSF events.
fn normalize_bytes(engine: &Engine, name: &str, bytes: &[u8], counts: &mut Counts) -> Vec<Value> {
    let opts = DecodeOptions {
        source: Some(Source::Cloudtrail),
        ..DecodeOptions::default()
    };
    let mut out = Vec::new();
    decode_bytes(name, bytes, &opts, &mut |item| {
        normalize_item(engine, item, &mut out, counts)
    });
    out
}

fn normalize_item(engine: &Engine, item: DecodeItem, out: &mut Vec<Value>, counts: &mut Counts) {
    match item {
        DecodeItem::Record(rec) => match engine.normalize(rec) {
            Ok(n) => out.push(n.event),
            Err(r) => {
                let q = r.into_quarantined(0);
                *counts
                    .not_normalized
                    .entry(format!("{}/{}", q.stage, q.reason))
                    .or_default() += 1;
            }
        },
        DecodeItem::Quarantined(q) => {
            *counts
                .not_normalized
                .entry(format!("{}/{}", q.stage, q.reason))
                .or_default() += 1;
        }
    }
}

fn time_of(event: &Value) -> i64 {
    event.get("time").and_then(Value::as_i64).unwrap_or(0)
}

/// One labelled event before feature extraction.
struct Labelled {
    event: Value,
    label: f32,
    group: String,
}

/// Runs one stream (time-ordered) through one extractor into samples.
fn extract_stream(
    stream: &mut [Labelled],
    fx: &mut CloudFeatures,
    samples: &mut Vec<Sample>,
    ops: &mut Vec<String>,
    counts: &mut Counts,
) {
    stream.sort_by_key(|l| time_of(&l.event));
    let mut x = Vec::new();
    for l in stream.iter() {
        if !fx.extract(&l.event, &mut x) {
            counts.not_covered += 1;
            continue;
        }
        ops.push(
            l.event
                .pointer("/api/operation")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        );
        samples.push(Sample {
            time_ms: time_of(&l.event),
            features: x.clone(),
            label: l.label,
            weight: 1.0,
            group: l.group.clone(),
        });
    }
}

/// Reads the Panther CloudTrail cases: events (p_* stripped) with their cases, in file order.
/// Panther events (p_* keys stripped) with their cases.
type PantherEvents = Vec<(Value, Vec<PantherCase>)>;

fn read_panther(path: &Path) -> Result<(PantherEvents, u64)> {
    let opts = DecodeOptions {
        source: Some(Source::Cloudtrail),
        ..DecodeOptions::default()
    };
    let mut by_log: BTreeMap<String, usize> = BTreeMap::new();
    let mut logs: Vec<(Value, Vec<PantherCase>)> = Vec::new();
    let mut bad = 0u64;
    decode_path(path, &opts, &mut |item| {
        let DecodeItem::Record(rec) = item else {
            bad += 1;
            return;
        };
        let Ok(wrapper) = serde_json::from_slice::<Value>(&rec.raw) else {
            bad += 1;
            return;
        };
        let Some(Value::Object(log)) = wrapper.get("log") else {
            bad += 1;
            return;
        };
        let log: serde_json::Map<String, Value> = log
            .iter()
            .filter(|(k, _)| !k.starts_with("p_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let log = Value::Object(log);
        let key = log.to_string();
        let s = |k: &str| {
            wrapper
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let case = PantherCase {
            rule_id: s("rule_id"),
            expected: wrapper.get("expected_result").and_then(Value::as_bool) == Some(true),
            severity: s("severity"),
            has_mitre: wrapper
                .get("mitre")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty()),
            has_mocks: wrapper.get("has_mocks").and_then(Value::as_bool) == Some(true),
        };
        let i = *by_log.entry(key).or_insert_with(|| {
            logs.push((log, Vec::new()));
            logs.len() - 1
        });
        if let Some(l) = logs.get_mut(i) {
            l.1.push(case);
        }
    })
    .with_context(|| format!("reading {}", path.display()))?;
    Ok((logs, bad))
}

/// Runs `shrike train cloud`.
pub fn run(args: CloudArgs, quiet: bool) -> Result<ExitCode> {
    let valid_from = date_ms(&args.valid_from).context("--valid-from must be YYYY-MM-DD")?;
    let test_from = date_ms(&args.test_from).context("--test-from must be YYYY-MM-DD")?;
    if valid_from >= test_from {
        bail!("--valid-from must be before --test-from");
    }
    let engine = Engine::embedded().context("loading the bundled mappings")?;
    let mut counts = Counts::default();
    let mut samples: Vec<Sample> = Vec::new();
    let mut fx = CloudFeatures::new();
    let mut ops: Vec<String> = Vec::new();

    // 1. Panther rule tests: standalone events, fresh state each.
    let panther_path = args.data.join("panther/cloudtrail.ndjson.gz");
    let (logs, panther_bad) = read_panther(&panther_path)?;
    let n_cases: usize = logs.iter().map(|l| l.1.len()).sum();
    let mut panther_labels: BTreeMap<String, u64> = BTreeMap::new();
    let mut positive_with_false_case = 0u64;
    let mut panther_used = (0u64, 0u64);
    for (log, cases) in &logs {
        let label = label_of(cases);
        *panther_labels.entry(format!("{label:?}")).or_default() += 1;
        let y = match label {
            PantherLabel::Positive => 1.0,
            PantherLabel::Negative => 0.0,
            _ => continue,
        };
        if y > 0.5 && cases.iter().any(|c| !c.expected && !c.has_mocks) {
            positive_with_false_case += 1;
        }
        let bytes = log.to_string();
        let events = normalize_bytes(&engine, "panther-cloudtrail", bytes.as_bytes(), &mut counts);
        let group = if y > 0.5 {
            "panther-positive"
        } else {
            "panther-negative"
        };
        let mut stream: Vec<Labelled> = events
            .into_iter()
            .map(|event| Labelled {
                event,
                label: y,
                group: group.into(),
            })
            .collect();
        fx.reset();
        let before = samples.len();
        extract_stream(&mut stream, &mut fx, &mut samples, &mut ops, &mut counts);
        let added = (samples.len() - before) as u64;
        if y > 0.5 {
            panther_used.0 += added;
        } else {
            panther_used.1 += added;
        }
    }

    // 2. Panther attack scenarios: one stream per scenario.
    let mut scenario_counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let scen_dir = args.data.join("panther/test_scenarios");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&scen_dir)
        .with_context(|| format!("reading {}", scen_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let mut stream = Vec::new();
        for (file, y) in [
            ("attacker_cloudtrail.yml", 1.0f32),
            ("victim_cloudtrail.yml", 0.0),
        ] {
            let p = dir.join(file);
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            let logs = scenario_logs(&text)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("parsing {}", p.display()))?;
            for log in logs {
                let bytes = log.to_string();
                for event in normalize_bytes(&engine, file, bytes.as_bytes(), &mut counts) {
                    stream.push(Labelled {
                        event,
                        label: y,
                        group: format!("scenario-{name}"),
                    });
                }
            }
        }
        if stream.is_empty() {
            continue;
        }
        let pos = stream.iter().filter(|l| l.label > 0.5).count() as u64;
        scenario_counts.insert(name, (pos, stream.len() as u64 - pos));
        fx.reset();
        extract_stream(&mut stream, &mut fx, &mut samples, &mut ops, &mut counts);
    }

    // 3. Mordor: the attacker's session among the lab operator's background.
    let mordor_path = args
        .data
        .join("mordor-aws/atomic/aws/collection/ec2_proxy_s3_exfiltration.zip");
    let mut mordor_events = Vec::new();
    decode_path(&mordor_path, &DecodeOptions::default(), &mut |item| {
        normalize_item(&engine, item, &mut mordor_events, &mut counts)
    })
    .with_context(|| format!("reading {}", mordor_path.display()))?;
    let mut stream: Vec<Labelled> = mordor_events
        .into_iter()
        .map(|event| {
            let stolen = event
                .pointer("/actor/user/type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("assumedrole"));
            Labelled {
                event,
                label: if stolen { 1.0 } else { 0.0 },
                group: if stolen {
                    "mordor-stolen-credentials".into()
                } else {
                    "mordor-background".into()
                },
            }
        })
        .collect();
    let mordor_pos = stream.iter().filter(|l| l.label > 0.5).count();
    let mordor_neg = stream.len() - mordor_pos;
    fx.reset();
    extract_stream(&mut stream, &mut fx, &mut samples, &mut ops, &mut counts);

    let with_history = samples
        .iter()
        .filter(|s| {
            cloud_schema()
                .index_of("principal_events_before")
                .and_then(|i| s.features.get(i))
                .is_some_and(|v| *v > 0.0)
        })
        .count();
    if let Some(path) = &args.dump_rows {
        let mut text = String::new();
        for (s, op) in samples.iter().zip(&ops) {
            let features: serde_json::Map<String, Value> = cloud_schema()
                .features
                .iter()
                .zip(&s.features)
                .map(|(d, v)| (d.name.clone(), json!(v.is_finite().then_some(*v))))
                .collect();
            let row = json!({"time_ms": s.time_ms, "label": s.label, "group": s.group, "operation": op, "features": features});
            text.push_str(&row.to_string());
            text.push('\n');
        }
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let split = Split::ByTime {
        valid_from_ms: valid_from,
        test_from_ms: test_from,
    };
    let version = args.model_version.clone().unwrap_or_else(|| {
        crate::output::rfc3339_ms(crate::scoring::now_ms())
            .chars()
            .take(10)
            .collect::<String>()
            .replace('-', ".")
    });
    let params = shrike_train::GbdtParams {
        n_trees: args.trees,
        learning_rate: args.learning_rate,
        max_depth: args.depth,
        seed: args.seed,
        min_samples_leaf: 3,
        early_stopping_rounds: Some(40),
        ..Default::default()
    };

    // Two variants on the same rows, split and parameters: all features ("full"), and every
    // history feature blanked ("stateless"). The one with the higher validation average
    // precision is written (ties: full); both are reported.
    let mut blank = samples.clone();
    let idx: Vec<usize> = stateful_features().collect();
    for s in &mut blank {
        for &i in &idx {
            if let Some(v) = s.features.get_mut(i) {
                *v = f32::NAN;
            }
        }
    }
    let tmp_dir = std::env::temp_dir();
    let mut variants = Vec::new();
    for (name, rows) in [("full", &samples), ("stateless", &blank)] {
        if name == "stateless" && !args.ablation {
            continue;
        }
        let tmp = tmp_dir.join(format!("shrike-cloud-{name}-{}.json", std::process::id()));
        let spec = DomainSpec {
            model_id: "shrike-cloud-gbdt",
            version: version.clone(),
            schema: cloud_schema(),
            out: &tmp,
            params: params.clone(),
            alert_precision: args.alert_precision,
            suspicious_precision: args.suspicious_precision,
            balance: true,
            card: json!({}),
        };
        let r = train_domain(&spec, rows, &split, true);
        let valid_ap = r.as_ref().ok().and_then(|t| {
            let scorer = shrike_score::Scorer::new(
                shrike_score::ModelFile::load(&t.model.to_bytes(), cloud_schema()).ok()?,
                cloud_schema(),
            )
            .ok()?;
            let (mut p, mut y) = (Vec::new(), Vec::new());
            for s in rows
                .iter()
                .filter(|s| s.time_ms >= valid_from && s.time_ms < test_from)
            {
                p.push(scorer.probability(&s.features));
                y.push(s.label);
            }
            shrike_train::metrics::average_precision(&p, &y, &[])
        });
        let _ = std::fs::remove_file(&tmp);
        let _ = std::fs::remove_file(tmp.with_extension("card.md"));
        let t = r?;
        variants.push((name, valid_ap.unwrap_or(0.0), t));
    }
    let chosen = variants
        .iter()
        .fold(None::<&(&str, f64, super::Trained)>, |best, v| match best {
            Some(b) if b.1 >= v.1 => Some(b),
            _ => Some(v),
        })
        .map_or("full", |v| v.0);
    let selection = json!({
        "rule": "train both variants on the same rows and split; write the one with the higher average precision on the validation period (ties: full)",
        "stateless_means": "every history feature (principal_*, api_count_*, *_new_principal, *_burst, instance_session_new_ip, api_count_global) set to NaN in fit, validation and test; the trees then never use them, so serving computes them but they do not change the score",
        "chosen": chosen,
        "variants": variants.iter().map(|(n, vap, t)| json!({
            "variant": n,
            "validation_average_precision": crate::output::round6(*vap),
            "test_average_precision": t.report["test"]["average_precision"],
            "test_roc_auc": t.report["test"]["roc_auc"],
            "best_iteration": t.report["best_iteration"],
            "test_at_alert_threshold": t.report["test"]["at_alert_threshold"],
        })).collect::<Vec<_>>(),
    });
    let train_rows = if chosen == "stateless" {
        &blank
    } else {
        &samples
    };

    let card = json!({
        "data": {
            "sources": [
                {"name": "Panther detection-rule unit tests (panther-labs/panther-analysis @ daa10c888566839e9918dfba1cd652743781e5fe), panther/cloudtrail.ndjson.gz and panther/test_scenarios", "license": "Apache-2.0"},
                {"name": "OTRF Security-Datasets (Mordor) @ d9d40ef123d2c87d5d3df28c96bcab4f0faccc87, atomic/aws/collection/ec2_proxy_s3_exfiltration.zip", "license": "MIT"},
            ],
            "panther_cases": n_cases,
            "panther_distinct_events": logs.len(),
            "panther_lines_unreadable": panther_bad,
            "panther_event_labels": panther_labels,
            "panther_positive_events_that_are_also_a_near_miss_for_another_rule": positive_with_false_case,
            "panther_rows_used": {"positive": panther_used.0, "negative": panther_used.1},
            "scenarios_used": scenario_counts.iter().map(|(k, (p, n))| json!({"scenario": k, "attacker_events": p, "victim_events": n})).collect::<Vec<_>>(),
            "mordor_rows": {"positive_stolen_credentials": mordor_pos, "negative_background": mordor_neg},
            "records_not_normalized": counts.not_normalized,
            "events_not_covered_by_the_model": counts.not_covered,
            "rows_with_principal_history": with_history,
            "rows_total": samples.len(),
            "left_out": [
                "Panther log types other than AWS.CloudTrail (GCP, Azure, Okta, Google Workspace, M365, EKS audit, WAF, S3 access, ...): Shrike does not normalize them into the cloud model's input (the model reads CloudTrail API activity only).",
                "Panther GuardDuty findings (8) and the guardduty/ folder (25): too few and mostly sample/fixture findings; scored by the documented severity/type rule instead (shrike_detect::models::cloud::guardduty_probability).",
                "Panther VPC Flow / DNS tests: network domain.",
                "Mordor S3 honey-bucket CSV: a processed alert table, not CloudTrail records (not normalized).",
                "Okta / S3-access / VPC files of the test scenarios: not CloudTrail.",
            ],
        },
        "labelling": {
            "panther": "Cases are grouped by event (the log with Panther's p_* enrichment keys stripped; the same event can appear under several rules). Positive = some rule of severity Medium/High/Critical with an ATT&CK mapping is expected to fire on it (cases with mocked helpers ignored). Negative = every non-mocked case is expected_result false (rule-writers' near-miss look-alikes) or an Info-level rule firing (routine activity such as a console login). Dropped as ambiguous = expected to fire only for Low-severity rules or rules without an ATT&CK mapping (hygiene/compliance). Dropped = all cases use mocks. Events whose eventTime is missing or unparseable are quarantined by normalization (records_not_normalized).",
            "scenarios": "Panther test_scenarios: every attacker_cloudtrail.yml event positive, every victim_cloudtrail.yml event negative (the file name is the only label).",
            "mordor": "ec2_proxy_s3_exfiltration: every event made with the stolen instance-profile credentials (actor type AssumedRole: ListBuckets, ListObjects, GetObject) positive; the lab operator's IAM-user events (console set-up) and AWS-service events negative background.",
            "history": "Panther rule tests are standalone fixtures: each runs on a fresh extractor, so its history features are those of a first-seen principal. Each scenario and the Mordor capture run as one time-ordered stream on its own extractor. All of those streams date from 2020 and fall in the fit period: the test period has no principal history at all.",
        },
        "split": {
            "valid_from": args.valid_from,
            "test_from": args.test_from,
            "basis": "by the events' own eventTime; cut dates chosen so that each side has both classes (Panther fixtures' dates are when the tests were written, not when an attack happened)",
        },
        "variant_selection": selection,
        "must_not_learn": "account ids, ARNs, names, bucket names, IPs, user-agent strings, regions and dates are never feature values (only hashed history keys); user agents enter as a family (CLI / SDK / console / AWS internal / offensive tool).",
        "caveats": [
            "Small data: a few hundred events, mostly hand-written unit-test fixtures with placeholder accounts and IPs; metrics have wide uncertainty.",
            "Panther labels say whether a detection rule fires, not whether an incident happened; near-miss negatives are often the same API as the positive with one field changed.",
            "GuardDuty findings are not scored by this GBDT but by a fixed severity/type rule.",
        ],
    });
    let spec = DomainSpec {
        model_id: "shrike-cloud-gbdt",
        version,
        schema: cloud_schema(),
        out: &args.out,
        params,
        alert_precision: args.alert_precision,
        suspicious_precision: args.suspicious_precision,
        balance: true,
        card,
    };
    let trained = train_domain(&spec, train_rows, &split, quiet)?;
    let top: Vec<String> = trained.report["top_features"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["feature"].as_str().map(str::to_string))
        .collect();
    let mut summary: BTreeMap<&str, Value> = BTreeMap::new();
    summary.insert("model", json!(args.out));
    summary.insert("sha256", json!(trained.sha256));
    summary.insert("thresholds", json!(trained.model.thresholds));
    summary.insert("rows", trained.report["rows"].clone());
    summary.insert("test", trained.report["test"].clone());
    summary.insert("top_features", json!(top));
    summary.insert(
        "variant_selection",
        trained.model.card["domain_card"]["variant_selection"].clone(),
    );
    summary.insert("data", trained.model.card["domain_card"]["data"].clone());
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(crate::finished(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(expected: bool, severity: &str, mitre: bool, mocks: bool) -> PantherCase {
        PantherCase {
            rule_id: "r".into(),
            expected,
            severity: severity.into(),
            has_mitre: mitre,
            has_mocks: mocks,
        }
    }

    #[test]
    fn labels_follow_the_documented_rule() {
        use PantherLabel::*;
        assert_eq!(label_of(&[case(true, "High", true, false)]), Positive);
        assert_eq!(label_of(&[case(true, "High", false, false)]), Ambiguous);
        assert_eq!(label_of(&[case(true, "Low", true, false)]), Ambiguous);
        assert_eq!(label_of(&[case(true, "Info", true, false)]), Negative);
        assert_eq!(label_of(&[case(false, "Critical", true, false)]), Negative);
        assert_eq!(label_of(&[case(true, "High", true, true)]), MocksOnly);
        assert_eq!(
            label_of(&[
                case(false, "High", true, false),
                case(true, "Medium", true, false)
            ]),
            Positive
        );
    }

    #[test]
    fn dates_parse() {
        assert_eq!(date_ms("1970-01-02"), Some(86_400_000));
        assert_eq!(date_ms("2024-01-01"), Some(1_704_067_200_000));
        assert_eq!(date_ms("2024-13-01"), None);
    }
}

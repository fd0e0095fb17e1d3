//! `shrike train email` and `shrike eval`: labelled email in, model file + model card +
//! evaluation report out.
//!
//! The protocol, in order, and why:
//! 1. Read every labelled source (an `index.tsv` like `../shared/data/email/index.tsv`, or
//!    `--input LABEL=PATH` pairs). Quarantine what cannot be read.
//! 2. Deduplicate by content (subject + bodies): the Nazario mboxes overlap, and the bounce set
//!    carries line-ending copies; a duplicate across the split would leak.
//! 3. Drop undated mail (counted) and split by time: everything dated before `--test-from` trains,
//!    everything from it on tests. The newest `--valid-fraction` of the training period is held
//!    out for early stopping, calibration and thresholds. Nothing is shuffled across time.
//! 4. Spam is not phishing and not ham: excluded from training by default and reported on its own.
//! 5. Train (GBDT by default, random forest on request) with class-balance weights and a seed.
//! 6. Calibrate on the validation slice (isotonic; Platt when the slice is small), choose the
//!    verdict thresholds there for target false-positive rates, store them in the model.
//! 7. Evaluate on the test period: overall and per source (each phishing source against the test
//!    period's pooled ham), PR and ROC, recall at FPR 1% and 0.1%, ECE and a reliability plot,
//!    top features by mean |TreeSHAP|.

use crate::inputs::{InputArgs, Reader};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use shrike_score::calibrate::Calibration;
use shrike_score::features::{email_schema, extract_email};
use shrike_score::model::{ModelFile, SchemaRef, Thresholds, MODEL_FORMAT, MODEL_FORMAT_VERSION};
use shrike_score::{FeatureContext, TreeEnsemble};
use shrike_train::metrics;
use shrike_types::Label;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `shrike train` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum TrainCommand {
    /// Train the phishing model on labelled email.
    #[command(after_help = "Examples:
  shrike train email --index ../shared/data/email/index.tsv --out models/email-default.json
  shrike train email --algorithm random-forest --input phishing=phish/ --input ham=ham.mbox --out rf.json
  shrike train email --index ../shared/data/email/index.tsv --exclude-source phishing_pot --out models/email-commercial.json")]
    Email(TrainEmailArgs),
    /// Train the endpoint model on Mordor captures (event labels derived from the attack tooling's process trees).
    Endpoint(crate::domain_train::endpoint::EndpointArgs),
    /// Train the network flow model on NSL-KDD traffic features.
    Network(crate::domain_train::network::NetworkArgs),
    /// Train the cloud model on the labelled Panther samples and Mordor's attacker CloudTrail.
    Cloud(crate::domain_train::cloud::CloudArgs),
    /// Learn the stacked fusion weights from analyst dispositions (the case store's feedback export).
    Fusion(crate::domain_train::fusion::FusionArgs),
}

/// Where the labelled data comes from and how it is split.
#[derive(clap::Args, Debug, Clone)]
pub struct DataArgs {
    /// A TSV index with columns `archive`, `source`, `label` (paths relative to the index file).
    #[arg(long)]
    pub index: Option<PathBuf>,
    /// A labelled input, `LABEL=PATH` (label: phishing, ham, spam, bounce); the source name is the file name.
    #[arg(long = "input", value_name = "LABEL=PATH")]
    pub inputs: Vec<String>,
    /// Leave a source out (e.g. `phishing_pot`, CC BY-NC, for a commercial build).
    #[arg(long)]
    pub exclude_source: Vec<String>,
    /// First day of the test period (YYYY-MM-DD); earlier mail trains.
    #[arg(long, default_value = "2024-01-01")]
    pub test_from: String,
    /// Newest fraction of the training period held out for early stopping, calibration and thresholds.
    #[arg(long, default_value_t = 0.2)]
    pub valid_fraction: f64,
    /// Input options.
    #[command(flatten)]
    pub input: InputArgs,
}

/// Algorithms.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Gradient-boosted trees (default).
    Gbdt,
    /// Random forest.
    RandomForest,
}

/// Calibration methods.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalibrationMethod {
    /// Platt scaling: smooth and monotone, keeps the ranking (default).
    Platt,
    /// Isotonic regression: more flexible, but flat steps tie many emails at one score.
    Isotonic,
}

/// `shrike train email` arguments.
#[derive(clap::Args, Debug)]
pub struct TrainEmailArgs {
    /// Data options.
    #[command(flatten)]
    pub data: DataArgs,
    /// Algorithm.
    #[arg(long, value_enum, default_value = "gbdt")]
    pub algorithm: Algorithm,
    /// Output model file; the model card is written beside it (`.card.md`).
    #[arg(long, default_value = "models/email-default.json")]
    pub out: PathBuf,
    /// Where the evaluation report and plots go.
    #[arg(long, default_value = "docs/eval/email-default")]
    pub eval_dir: PathBuf,
    /// Number of trees.
    #[arg(long, default_value_t = 200)]
    pub trees: usize,
    /// Maximum tree depth.
    #[arg(long, default_value_t = 5)]
    pub depth: usize,
    /// Learning rate (GBDT).
    #[arg(long, default_value_t = 0.1)]
    pub learning_rate: f64,
    /// Random seed.
    #[arg(long, default_value_t = 20261123)]
    pub seed: u64,
    /// Largest false-positive rate on validation ham for the `phishing` verdict.
    #[arg(long, default_value_t = 0.002)]
    pub phishing_fpr: f64,
    /// Largest false-positive rate on validation ham for the `suspicious` verdict.
    #[arg(long, default_value_t = 0.02)]
    pub suspicious_fpr: f64,
    /// Calibration fitted on the validation period.
    #[arg(long, value_enum, default_value = "platt")]
    pub calibration: CalibrationMethod,
    /// Model version string (default: the test-from date and algorithm).
    #[arg(long)]
    pub model_version: Option<String>,
}

/// `shrike features` arguments.
#[derive(clap::Args, Debug)]
pub struct FeaturesArgs {
    /// Data options (the time split options are ignored: every deduplicated, dated email is written).
    #[command(flatten)]
    pub data: DataArgs,
    /// Output CSV: `id,source,label,date,<one column per feature in schema order>`; empty = unknown.
    #[arg(long)]
    pub out: PathBuf,
}

/// `shrike eval` arguments.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Model file; the bundled default when absent.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Data options.
    #[command(flatten)]
    pub data: DataArgs,
    /// Where the report and plots go.
    #[arg(long, default_value = "eval")]
    pub out_dir: PathBuf,
}

/// One labelled, featurized email.
pub struct Sample {
    /// Record id.
    pub id: String,
    /// Source name.
    pub source: String,
    /// Label.
    pub label: Label,
    /// Unix seconds.
    pub date: i64,
    /// Features.
    pub x: Vec<f32>,
}

/// What loading found, per source.
#[derive(Default, Debug, Clone, serde::Serialize)]
pub struct SourceStats {
    /// Records read.
    pub read: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Records without a usable date, dropped.
    pub undated: u64,
    /// Records kept.
    pub kept: u64,
}

/// Labelled data.
pub struct Loaded {
    /// The samples, sorted by date.
    pub samples: Vec<Sample>,
    /// Per source.
    pub stats: BTreeMap<String, SourceStats>,
    /// Quarantined records.
    pub quarantined: u64,
    /// Source name -> license note.
    pub licenses: BTreeMap<String, String>,
}

struct InputSpec {
    path: PathBuf,
    source: String,
    label: Label,
}

fn read_index(index: &Path) -> Result<Vec<InputSpec>> {
    let text =
        std::fs::read_to_string(index).with_context(|| format!("reading {}", index.display()))?;
    let base = index.parent().unwrap_or(Path::new("."));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let col = |name: &str| header.iter().position(|h| h.trim() == name);
    let (Some(a), Some(s), Some(l)) = (col("archive"), col("source"), col("label")) else {
        bail!(
            "{}: the header must have archive, source and label columns",
            index.display()
        );
    };
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split('\t').collect();
        let (Some(path), Some(source), Some(label)) = (cells.get(a), cells.get(s), cells.get(l))
        else {
            bail!("{} line {}: too few columns", index.display(), i + 2);
        };
        // Labels like "ham (automated notifications)": the first word decides; "test" rows are not labelled data.
        let Some(label) = Label::parse(label.split_whitespace().next().unwrap_or("")) else {
            tracing::info!(
                "{}: skipping {path} (label {label:?} is not a class)",
                index.display()
            );
            continue;
        };
        out.push(InputSpec {
            path: base.join(path),
            source: (*source).to_string(),
            label,
        });
    }
    Ok(out)
}

fn parse_input(s: &str) -> Result<InputSpec> {
    let Some((label, path)) = s.split_once('=') else {
        bail!("--input {s:?}: expected LABEL=PATH");
    };
    let label =
        Label::parse(label).with_context(|| format!("--input {s:?}: unknown label {label:?}"))?;
    let path = PathBuf::from(path);
    let source = path
        .file_name()
        .and_then(|n| n.to_str())
        .map(|n| n.split('.').next().unwrap_or(n).to_string())
        .unwrap_or_else(|| "input".into());
    Ok(InputSpec {
        path,
        source,
        label,
    })
}

/// License notes for the shared corpus' sources (see ../shared/data/email/SOURCES.md).
fn license_of(source: &str) -> &'static str {
    match source {
        "spamassassin" => "ODC PDDL 1.0 / CC0 per the stdlib redistribution; message text copyright of the senders",
        "nazario" => "no license stated by the mirrors; upstream terms unverified (reported as CC BY 4.0)",
        "phishing_pot" => "CC BY-NC 4.0 (NonCommercial): a model trained on it inherits the restriction",
        "sisimai" => "BSD-2-Clause",
        "parsedmarc" => "Apache-2.0",
        "blaze" => "MIT",
        s if s.starts_with("lfdr_") => "public mailing-list archive; no license stated; copyright with the authors",
        _ => "not recorded",
    }
}

fn content_key(rec: &shrike_types::EmailRecord) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [&rec.subject, &rec.body_text, &rec.body_html] {
        if let Some(p) = part {
            for w in p.split_whitespace() {
                h.update(w.as_bytes());
                h.update(b" ");
            }
        }
        h.update(b"\0");
    }
    h.finalize().into()
}

/// Parses `YYYY-MM-DD` to Unix seconds (UTC midnight).
pub fn parse_day(s: &str) -> Result<i64> {
    crate::rdap::parse_rfc3339(&format!("{s}T00:00:00Z"))
        .with_context(|| format!("{s:?} is not a YYYY-MM-DD date"))
}

/// Reads, deduplicates, dates and featurizes the labelled data.
pub fn load(args: &DataArgs, quiet: bool) -> Result<Loaded> {
    let mut specs = Vec::new();
    if let Some(ix) = &args.index {
        specs.extend(read_index(ix)?);
    }
    for s in &args.inputs {
        specs.push(parse_input(s)?);
    }
    if specs.is_empty() {
        bail!("no training data: give --index FILE or --input LABEL=PATH");
    }
    specs.retain(|s| !args.exclude_source.contains(&s.source));
    // Newest plausible date: mail "from the future" has a forged Date and no usable time.
    let latest = crate::scoring::now_ms() / 1000 + 86_400;
    let earliest = parse_day("1995-01-01")?;
    let mut seen: HashSet<[u8; 32]> = HashSet::new();
    let mut stats: BTreeMap<String, SourceStats> = BTreeMap::new();
    let mut licenses = BTreeMap::new();
    let mut samples = Vec::new();
    let mut reader = Reader::new(&args.input.quarantine, quiet, "reading");
    let ctx = FeatureContext::default();
    for spec in &specs {
        licenses.insert(spec.source.clone(), license_of(&spec.source).to_string());
        let opts = args
            .input
            .read_options(Some(spec.label), Some(spec.source.clone()), false);
        let st = stats.entry(spec.source.clone()).or_default();
        reader.read(&spec.path, &opts, &mut |rec| {
            st.read += 1;
            if !seen.insert(content_key(&rec)) {
                st.duplicates += 1;
                return Ok(());
            }
            let Some(date) = rec.date.filter(|d| (earliest..=latest).contains(d)) else {
                st.undated += 1;
                return Ok(());
            };
            let mut x = Vec::new();
            extract_email(&rec, &ctx, &mut x);
            neutralize(&mut x);
            st.kept += 1;
            samples.push(Sample {
                id: rec.id,
                source: spec.source.clone(),
                label: rec.label.unwrap_or(spec.label),
                date,
                x,
            });
            Ok(())
        })?;
        tracing::info!(
            "{}: {} read, {} duplicates, {} undated, {} kept",
            spec.source,
            st.read,
            st.duplicates,
            st.undated,
            st.kept
        );
    }
    let (_, quarantined) = reader.finish()?;
    samples.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.id.cmp(&b.id)));
    Ok(Loaded {
        samples,
        stats,
        quarantined,
        licenses,
    })
}

/// Feature groups set to unknown in training because, in the bundled corpus, their presence and
/// values are written by the collecting mailbox rather than the sender (see the model card).
pub const NEUTRALIZED_GROUPS: &[&str] = &["auth"];

/// Single features set to unknown in training: nearly all legitimate mail in the corpus arrived
/// through mailing lists, which replace the envelope sender (Return-Path) with the list's bounce
/// address, so the Return-Path/From relation there says "came through a list", not "is legitimate".
pub const NEUTRALIZED_FEATURES: &[&str] = &["sender_return_path_differs"];

/// Sets the neutralised groups' and features' values to NaN (unknown).
pub fn neutralize(x: &mut [f32]) {
    for (v, f) in x.iter_mut().zip(&email_schema().features) {
        if NEUTRALIZED_GROUPS.contains(&f.group.as_str())
            || NEUTRALIZED_FEATURES.contains(&f.name.as_str())
        {
            *v = f32::NAN;
        }
    }
}

/// The binary target: phishing is 1; ham and bounces are 0; spam is not a class here.
fn target(l: Label) -> Option<f32> {
    match l {
        Label::Phishing => Some(1.0),
        Label::Ham | Label::Bounce => Some(0.0),
        Label::Spam => None,
    }
}

/// Index lists of the time split.
pub struct Split {
    /// Fitting rows (oldest).
    pub fit: Vec<usize>,
    /// Validation rows (newest of the training period).
    pub valid: Vec<usize>,
    /// Test rows (from `test_from` on).
    pub test: Vec<usize>,
    /// First second of the validation period.
    pub valid_from: i64,
}

/// Splits samples (sorted by date) by time; spam rows go nowhere.
pub fn split(samples: &[Sample], test_from: i64, valid_fraction: f64) -> Result<Split> {
    let train: Vec<usize> = (0..samples.len())
        .filter(|&i| samples[i].date < test_from && target(samples[i].label).is_some())
        .collect();
    let test: Vec<usize> = (0..samples.len())
        .filter(|&i| samples[i].date >= test_from && target(samples[i].label).is_some())
        .collect();
    if train.is_empty() {
        bail!("no labelled mail before the test period");
    }
    let n_valid = ((train.len() as f64) * valid_fraction.clamp(0.0, 0.5)).round() as usize;
    let cut = train.len() - n_valid;
    let valid_from = train
        .get(cut)
        .map(|&i| samples[i].date)
        .unwrap_or(test_from);
    // Keep whole seconds on one side so equal timestamps never straddle the cut.
    let fit: Vec<usize> = train
        .iter()
        .copied()
        .filter(|&i| samples[i].date < valid_from)
        .collect();
    let valid: Vec<usize> = train
        .iter()
        .copied()
        .filter(|&i| samples[i].date >= valid_from)
        .collect();
    Ok(Split {
        fit,
        valid,
        test,
        valid_from,
    })
}

fn dataset(samples: &[Sample], rows: &[usize], balance: bool) -> Result<shrike_train::Dataset> {
    let nf = email_schema().len();
    let mut x = Vec::with_capacity(rows.len() * nf);
    let mut y = Vec::with_capacity(rows.len());
    for &i in rows {
        x.extend_from_slice(&samples[i].x);
        y.push(target(samples[i].label).unwrap_or(0.0));
    }
    let w = vec![1.0; rows.len()];
    let mut d =
        shrike_train::Dataset::new(x, rows.len(), nf, y, w).context("building the dataset")?;
    if balance {
        d.w = d.class_balance_weights();
    }
    Ok(d)
}

fn probabilities(
    e: &TreeEnsemble,
    cal: &Calibration,
    samples: &[Sample],
    rows: &[usize],
) -> Result<Vec<f64>> {
    let c = e.compile().context("compiling the trained trees")?;
    Ok(rows
        .iter()
        .map(|&i| {
            let p = shrike_score::ensemble::apply_link(e.link, c.raw(&samples[i].x));
            cal.apply(p)
        })
        .collect())
}

fn labels(samples: &[Sample], rows: &[usize]) -> Vec<f32> {
    rows.iter()
        .map(|&i| target(samples[i].label).unwrap_or(0.0))
        .collect()
}

/// Runs `shrike train`.
pub fn run_train(cmd: TrainCommand, quiet: bool) -> Result<ExitCode> {
    let args = match cmd {
        TrainCommand::Email(args) => args,
        TrainCommand::Endpoint(a) => return crate::domain_train::endpoint::run(a, quiet),
        TrainCommand::Network(a) => return crate::domain_train::network::run(a, quiet),
        TrainCommand::Cloud(a) => return crate::domain_train::cloud::run(a, quiet),
        TrainCommand::Fusion(a) => return crate::domain_train::fusion::run(a, quiet),
    };
    let test_from = parse_day(&args.data.test_from)?;
    let data = load(&args.data, quiet)?;
    let sp = split(&data.samples, test_from, args.data.valid_fraction)?;
    tracing::info!(
        "split: {} fit, {} validation (from {}), {} test (from {})",
        sp.fit.len(),
        sp.valid.len(),
        crate::output::rfc3339_ms(sp.valid_from * 1000),
        sp.test.len(),
        args.data.test_from
    );
    let fit = dataset(&data.samples, &sp.fit, true)?;
    let valid = dataset(&data.samples, &sp.valid, true)?;
    let pb = crate::inputs::progress_bar(args.trees as u64, quiet, "training");
    let mut on_progress = |p: shrike_train::Progress| {
        if let Some(pb) = &pb {
            pb.set_position(p.iteration as u64);
        }
    };
    let trained = match args.algorithm {
        Algorithm::Gbdt => {
            let params = shrike_train::GbdtParams {
                n_trees: args.trees,
                learning_rate: args.learning_rate,
                max_depth: args.depth,
                seed: args.seed,
                ..Default::default()
            };
            shrike_train::train_gbdt(&fit, &params, Some(&valid), &mut on_progress)?
        }
        Algorithm::RandomForest => {
            let params = shrike_train::ForestParams {
                n_trees: args.trees,
                max_depth: args.depth.max(8),
                seed: args.seed,
                ..Default::default()
            };
            shrike_train::train_random_forest(&fit, &params, &mut on_progress)?
        }
    };
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let ensemble = trained.ensemble;
    // Calibrate on validation (unweighted: calibrated to the validation mix).
    let raw_valid = probabilities(&ensemble, &Calibration::Identity, &data.samples, &sp.valid)?;
    let y_valid = labels(&data.samples, &sp.valid);
    let n_pos = y_valid.iter().filter(|&&y| y > 0.5).count();
    let n_neg = y_valid.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        bail!("the validation period has {n_pos} phishing and {n_neg} legitimate emails; both are needed (move --test-from or --valid-fraction)");
    }
    let ones = vec![1.0f32; y_valid.len()];
    let calibration = match args.calibration {
        CalibrationMethod::Isotonic if n_pos.min(n_neg) >= 200 => {
            shrike_train::calibration::fit_isotonic(&raw_valid, &y_valid, &ones)?
        }
        CalibrationMethod::Isotonic => {
            tracing::warn!("validation too small for isotonic calibration ({n_pos} phishing, {n_neg} legitimate); using Platt");
            shrike_train::calibration::fit_platt(&raw_valid, &y_valid, &ones)?
        }
        CalibrationMethod::Platt => {
            shrike_train::calibration::fit_platt(&raw_valid, &y_valid, &ones)?
        }
    };
    let cal_valid: Vec<f64> = raw_valid.iter().map(|&p| calibration.apply(p)).collect();
    let th_phish = metrics::threshold_for_fpr(&cal_valid, &y_valid, args.phishing_fpr)
        .context("choosing the phishing threshold")?;
    let th_susp = metrics::threshold_for_fpr(&cal_valid, &y_valid, args.suspicious_fpr)
        .context("choosing the suspicious threshold")?
        .min(th_phish);
    let thresholds = Thresholds {
        phishing: th_phish,
        suspicious: th_susp,
        basis: format!(
            "FPR <= {} (phishing) and <= {} (suspicious) on the validation period ({} ham, {} phishing)",
            args.phishing_fpr, args.suspicious_fpr, n_neg, n_pos
        ),
    };
    let algorithm = match args.algorithm {
        Algorithm::Gbdt => "gbdt",
        Algorithm::RandomForest => "random_forest",
    };
    let version = args
        .model_version
        .clone()
        .unwrap_or_else(|| format!("{}-{algorithm}", args.data.test_from));
    let mut model = ModelFile {
        format: MODEL_FORMAT.into(),
        format_version: MODEL_FORMAT_VERSION,
        id: format!("shrike-email-{algorithm}"),
        version,
        created_at: crate::output::rfc3339_ms(crate::scoring::now_ms()),
        algorithm: algorithm.into(),
        schema: SchemaRef::of(email_schema()),
        ensemble,
        calibration,
        thresholds,
        card: Value::Null,
    };
    let report = evaluate(&model, &data, &sp, &args.data, &args.eval_dir)?;
    model.card = json!({
        "training": {
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "algorithm": algorithm,
            "trees": model.ensemble.trees.len(),
            "best_iteration": trained.best_iteration,
            "seed": args.seed,
            "fit_rows": sp.fit.len(),
            "valid_rows": sp.valid.len(),
            "valid_from": crate::output::rfc3339_ms(sp.valid_from * 1000),
            "test_from": args.data.test_from,
            "spam": "excluded from training (spam is not phishing); scored and reported on its own",
            "neutralized_groups": NEUTRALIZED_GROUPS,
            "neutralized_features": NEUTRALIZED_FEATURES,
        },
        "sources": data.stats,
        "licenses": data.licenses,
        "metrics": report["test"],
        "top_features": report["top_features"],
    });
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let bytes = model.to_bytes();
    std::fs::write(&args.out, &bytes).with_context(|| format!("writing {}", args.out.display()))?;
    let loaded = ModelFile::load(&bytes, email_schema()).context("re-reading the written model")?;
    let card_path = args.out.with_extension("card.md");
    std::fs::write(
        &card_path,
        model_card(&model, &loaded.sha256, &report, &data),
    )
    .with_context(|| format!("writing {}", card_path.display()))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "model": args.out, "sha256": loaded.sha256, "card": card_path, "eval_dir": args.eval_dir,
            "thresholds": model.thresholds, "test": report["test"]["overall"],
        }))?
    );
    Ok(crate::finished(data.quarantined))
}

/// Runs `shrike features`: the feature matrix as CSV, for training elsewhere (XGBoost, LightGBM)
/// and importing with `shrike model import`. The training neutralisation is applied, so a model
/// trained on these columns sees what Shrike's own trainer sees.
pub fn run_features(args: FeaturesArgs, quiet: bool) -> Result<ExitCode> {
    use std::io::Write;
    let data = load(&args.data, quiet)?;
    let f = std::fs::File::create(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut w = std::io::BufWriter::new(f);
    let csv_field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    write!(w, "id,source,label,date")?;
    for f in &email_schema().features {
        write!(w, ",{}", f.name)?;
    }
    writeln!(w)?;
    for s in &data.samples {
        write!(
            w,
            "{},{},{},{}",
            csv_field(&s.id),
            csv_field(&s.source),
            s.label.as_str(),
            s.date
        )?;
        for v in &s.x {
            if v.is_finite() {
                write!(w, ",{v}")?;
            } else {
                write!(w, ",")?;
            }
        }
        writeln!(w)?;
    }
    w.flush()?;
    eprintln!(
        "wrote {} rows x {} features to {}",
        data.samples.len(),
        email_schema().len(),
        args.out.display()
    );
    Ok(crate::finished(data.quarantined))
}

/// Runs `shrike eval`.
pub fn run_eval(args: EvalArgs, quiet: bool) -> Result<ExitCode> {
    let scorer = crate::load_scorer(args.model.as_ref())?;
    let test_from = parse_day(&args.data.test_from)?;
    let data = load(&args.data, quiet)?;
    let sp = split(&data.samples, test_from, args.data.valid_fraction)?;
    let report = evaluate(scorer.model(), &data, &sp, &args.data, &args.out_dir)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&report["test"]["overall"])?
    );
    Ok(crate::finished(data.quarantined))
}

fn pr_summary(scores: &[f64], y: &[f32], th: &Thresholds) -> Value {
    let w = vec![1.0f32; y.len()];
    let pos = y.iter().filter(|&&v| v > 0.5).count();
    let neg = y.len() - pos;
    let at = |t: f64| {
        let c = metrics::confusion_at(scores, y, t);
        json!({"threshold": crate::output::round6(t), "precision": c.precision(), "recall": c.recall(), "fpr": c.fpr(), "tp": c.tp, "fp": c.fp, "tn": c.tn, "fn": c.fn_})
    };
    let mut v = json!({
        "emails": y.len(), "phishing": pos, "legitimate": neg,
        "at_phishing_threshold": at(th.phishing),
        "at_suspicious_threshold": at(th.suspicious),
    });
    if pos > 0 && neg > 0 {
        let o = v.as_object_mut().expect("json! built an object");
        o.insert(
            "pr_auc".into(),
            json!(metrics::average_precision(scores, y, &w)),
        );
        o.insert("roc_auc".into(), json!(metrics::roc_auc(scores, y, &w)));
        for (name, fpr) in [
            ("recall_at_fpr_1pct", 0.01),
            ("recall_at_fpr_0_1pct", 0.001),
        ] {
            if let Some(r) = metrics::recall_at_fpr(scores, y, fpr) {
                o.insert(
                    name.into(),
                    json!({"recall": r.recall, "threshold": r.threshold}),
                );
            }
        }
        o.insert(
            "ece".into(),
            json!(metrics::expected_calibration_error(scores, y, 10)),
        );
        o.insert("brier".into(), json!(metrics::brier(scores, y)));
    }
    v
}

/// Evaluates a model on the split's test rows; writes report.json, report.md and SVG plots.
pub fn evaluate(
    model: &ModelFile,
    data: &Loaded,
    sp: &Split,
    args: &DataArgs,
    dir: &Path,
) -> Result<Value> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let s = &data.samples;
    let scores = probabilities(&model.ensemble, &model.calibration, s, &sp.test)?;
    let y = labels(s, &sp.test);
    let th = &model.thresholds;
    let overall = pr_summary(&scores, &y, th);
    // Per source: each phishing source against the period's pooled legitimate mail; each
    // legitimate source by its false-positive rate.
    let ham_idx: Vec<usize> = (0..y.len()).filter(|&k| y[k] < 0.5).collect();
    let mut sources: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (k, &i) in sp.test.iter().enumerate() {
        sources.entry(s[i].source.clone()).or_default().push(k);
    }
    let mut per_source = serde_json::Map::new();
    let mut curves = Vec::new();
    for (name, ks) in &sources {
        let is_phish = ks.iter().all(|&k| y[k] > 0.5);
        let rows: Vec<usize> = if is_phish {
            ks.iter().copied().chain(ham_idx.iter().copied()).collect()
        } else {
            ks.clone()
        };
        let sc: Vec<f64> = rows.iter().map(|&k| scores[k]).collect();
        let yy: Vec<f32> = rows.iter().map(|&k| y[k]).collect();
        let mut v = pr_summary(&sc, &yy, th);
        if let Some(o) = v.as_object_mut() {
            o.insert("source_emails".into(), json!(ks.len()));
            o.insert(
                "role".into(),
                json!(if is_phish {
                    "phishing source vs pooled test ham"
                } else {
                    "legitimate source"
                }),
            );
            o.insert(
                "mean_score".into(),
                json!(ks.iter().map(|&k| scores[k]).sum::<f64>() / ks.len().max(1) as f64),
            );
        }
        if is_phish && !ham_idx.is_empty() {
            curves.push((format!("{name} vs test ham"), metrics::pr_curve(&sc, &yy)));
        }
        per_source.insert(name.clone(), v);
    }
    // Spam, which never trained: how much of it the model calls phishing.
    let spam: Vec<usize> = (0..s.len())
        .filter(|&i| s[i].label == Label::Spam)
        .collect();
    let spam_scores = probabilities(&model.ensemble, &model.calibration, s, &spam)?;
    let spam_v = json!({
        "emails": spam.len(),
        "flagged_phishing": spam_scores.iter().filter(|&&p| p >= th.phishing).count(),
        "flagged_suspicious_or_above": spam_scores.iter().filter(|&&p| p >= th.suspicious).count(),
    });
    let mut all_curves = vec![("all test mail".to_string(), metrics::pr_curve(&scores, &y))];
    all_curves.extend(curves);
    std::fs::write(
        dir.join("pr_curve.svg"),
        shrike_train::plot::pr_curve_svg(&all_curves),
    )?;
    let bins = metrics::reliability_bins(&scores, &y, 10);
    let ece = metrics::expected_calibration_error(&scores, &y, 10);
    std::fs::write(
        dir.join("reliability.svg"),
        shrike_train::plot::reliability_svg(&bins, ece.unwrap_or(f64::NAN)),
    )?;
    let top = top_features(model, s, &sp.test);
    let report = json!({
        "test_from": args.test_from,
        "model": {"id": model.id, "version": model.version},
        "thresholds": th,
        "test": {"overall": overall, "per_source": per_source, "spam_not_trained": spam_v},
        "top_features": top,
        "splits": {"fit": sp.fit.len(), "valid": sp.valid.len(), "test": sp.test.len(), "valid_from": crate::output::rfc3339_ms(sp.valid_from * 1000)},
    });
    std::fs::write(dir.join("report.json"), serde_json::to_vec_pretty(&report)?)?;
    Ok(report)
}

/// Mean |TreeSHAP| over (up to 3,000 evenly spaced) test rows: the model's top 20 features.
fn top_features(model: &ModelFile, s: &[Sample], rows: &[usize]) -> Value {
    crate::domain_train::top_features_of(
        model,
        email_schema(),
        rows.iter().map(|&i| s[i].x.as_slice()),
        rows.len(),
    )
}

fn fmt_num(v: &Value) -> String {
    match v.as_f64() {
        Some(f) => format!("{f:.4}"),
        None => "n/a".into(),
    }
}

/// The model card (Markdown).
fn model_card(model: &ModelFile, sha256: &str, report: &Value, data: &Loaded) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "# Model card: {} {}\n", model.id, model.version);
    let _ = writeln!(s, "- File SHA-256: `{sha256}`");
    let _ = writeln!(
        s,
        "- Algorithm: {} ({} trees), calibration: {}",
        model.algorithm,
        model.ensemble.trees.len(),
        match model.calibration {
            Calibration::Identity => "none",
            Calibration::Platt { .. } => "Platt",
            Calibration::Isotonic { .. } => "isotonic",
        }
    );
    let _ = writeln!(
        s,
        "- Feature schema: {} v{} ({} features), fingerprint `{}`",
        model.schema.name,
        model.schema.version,
        model.schema.feature_names.len(),
        model.schema.fingerprint
    );
    let _ = writeln!(
        s,
        "- Trained with: `{}`",
        model.card["training"]["command"].as_str().unwrap_or("")
    );
    let _ = writeln!(s, "- Created: {}\n", model.created_at);
    let _ = writeln!(s, "## Intended use\n\nScores single emails for phishing (credential theft, malware delivery, fraud) in a SOC triage flow; `phishing` verdicts are meant for automated quarantine with analyst review, `suspicious` for an analyst queue. Spam is not phishing: it was not a training class.\n");
    let _ = writeln!(s, "## Data sources and licenses\n\n| source | read | duplicates | undated | kept | license |\n|---|---|---|---|---|---|");
    for (name, st) in &data.stats {
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} | {} | {} |",
            st.read,
            st.duplicates,
            st.undated,
            st.kept,
            data.licenses.get(name).map(String::as_str).unwrap_or("")
        );
    }
    if data.licenses.contains_key("phishing_pot") {
        let _ = writeln!(s, "\n**phishing_pot is CC BY-NC 4.0: this model may not be used commercially.** Train with `--exclude-source phishing_pot` for a model without it.");
    }
    let t = &report["splits"];
    let _ = writeln!(s, "\n## Time-based split\n\nFit: {} emails before {}; validation (early stopping, calibration, thresholds): {} emails from {}; test: {} emails from {}. Nothing is shuffled across time; duplicates (by subject and body) were removed before splitting.\n",
        t["fit"], t["valid_from"].as_str().unwrap_or(""), t["valid"], t["valid_from"].as_str().unwrap_or(""), t["test"], report["test_from"].as_str().unwrap_or(""));
    let _ = writeln!(
        s,
        "## Thresholds\n\n- phishing: score >= {:.4}\n- suspicious: score >= {:.4}\n- basis: {}\n",
        model.thresholds.phishing, model.thresholds.suspicious, model.thresholds.basis
    );
    let o = &report["test"]["overall"];
    let _ = writeln!(
        s,
        "## Test metrics (period from {})\n",
        report["test_from"].as_str().unwrap_or("")
    );
    let _ = writeln!(s, "| set | source emails | PR-AUC | ROC-AUC | recall@FPR1% | recall@FPR0.1% | ECE | recall@phishing thr | FPR@phishing thr | recall@suspicious thr | FPR@suspicious thr |\n|---|---|---|---|---|---|---|---|---|---|---|");
    let row = |name: &str, v: &Value| {
        let n = if v["source_emails"].is_null() {
            &v["emails"]
        } else {
            &v["source_emails"]
        };
        format!(
            "| {name} | {n} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            fmt_num(&v["pr_auc"]),
            fmt_num(&v["roc_auc"]),
            fmt_num(&v["recall_at_fpr_1pct"]["recall"]),
            fmt_num(&v["recall_at_fpr_0_1pct"]["recall"]),
            fmt_num(&v["ece"]),
            fmt_num(&v["at_phishing_threshold"]["recall"]),
            fmt_num(&v["at_phishing_threshold"]["fpr"]),
            fmt_num(&v["at_suspicious_threshold"]["recall"]),
            fmt_num(&v["at_suspicious_threshold"]["fpr"]),
        )
    };
    let _ = writeln!(s, "{}", row("all test mail", o));
    if let Some(ps) = report["test"]["per_source"].as_object() {
        for (name, v) in ps {
            let _ = writeln!(
                s,
                "{}",
                row(&format!("{name} ({})", v["role"].as_str().unwrap_or("")), v)
            );
        }
    }
    let sp = &report["test"]["spam_not_trained"];
    let _ = writeln!(s, "\nSpam (never a training class, all periods): {} emails, {} called phishing, {} suspicious or above.\n", sp["emails"], sp["flagged_phishing"], sp["flagged_suspicious_or_above"]);
    let _ = writeln!(s, "Calibration is fitted on the validation period's class mix; the probability assumes a similar base rate. Plots: `pr_curve.svg`, `reliability.svg` in the evaluation directory.\n");
    let _ = writeln!(s, "## Top features (mean |TreeSHAP| on the test period)\n\n| feature | group | mean abs SHAP | what it measures |\n|---|---|---|---|");
    for f in report["top_features"].as_array().into_iter().flatten() {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            f["feature"].as_str().unwrap_or(""),
            f["group"].as_str().unwrap_or(""),
            fmt_num(&f["mean_abs_shap"]),
            f["description"].as_str().unwrap_or("")
        );
    }
    let _ = writeln!(s, "\n## Collection artifacts\n\nThe extractor reads only sender-side information (From, Reply-To, Return-Path, Subject, Message-ID, MIME structure, bodies, attachments, authentication results). It never reads `Received`, `Delivered-To`, `X-MS-Exchange-*`, list headers, mbox status headers, `X-Mailer` or `Date`, masks recipient addresses and the corpora's honeypot/collector addresses in bodies and URLs, strips mailing-list footers and normalises line endings (see `crates/score/src/features`). None of the top features above is a header or value that identifies a collector. Authentication results: in this corpus they are written by the collecting mailbox (phishing_pot's Outlook.com) and are absent from 2002 mail, so they are neutralised (set to unknown) in training; the served model therefore does not use them. Likewise `sender_return_path_differs`: nearly all legitimate mail here came through mailing lists, which replace the envelope sender with the list's bounce address, so in this corpus that feature would say \"came through a list\" rather than anything about the sender; it is neutralised too.\n\n## Known limitations\n\n- The legitimate mail of the training and test periods is mostly plain-text technical mailing lists (SpamAssassin 2002 lists, lfdr.de-collected lists 2019-2025) while phishing is mostly HTML. HTML structure (`content_html_text_ratio`, `content_html_only`) is therefore among the strongest features, and the test metrics above are optimistic for organisations whose legitimate mail is HTML-heavy (newsletters, notifications, marketing). Expect more false positives there; the spam line above (bulk HTML mail that is not phishing) shows the direction.\n- The only phishing source in the test period is phishing_pot (one honeypot), so per-source metrics cannot show generalisation across phishing collections.\n- Sender domain age is unknown in training (no RDAP in the build environment), so the model does not use it.");
    s
}

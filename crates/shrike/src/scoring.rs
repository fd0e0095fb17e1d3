//! `shrike score` and `shrike model`: scoring files from the command line, inspecting and
//! importing model files.

use crate::inputs::{InputArgs, Reader};
use crate::output::{ModelRef, OutputFormat, Scored};
use crate::rdap::{DomainAges, RdapArgs};
use anyhow::{bail, Context, Result};
use shrike_score::model::{ModelFile, SchemaRef, Thresholds, MODEL_FORMAT, MODEL_FORMAT_VERSION};
use shrike_score::scorer::ScoreScratch;
use shrike_score::Scorer;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// `shrike score` arguments.
#[derive(clap::Args, Debug)]
pub struct ScoreArgs {
    /// Model file; the bundled default model when absent.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Output shape.
    #[arg(long, value_enum, default_value = "shrike")]
    pub format: OutputFormat,
    /// How many reasons (TreeSHAP contributions) per email; 0 skips explanations (faster).
    #[arg(long, default_value_t = 5)]
    pub reasons: usize,
    /// Input options.
    #[command(flatten)]
    pub input: InputArgs,
    /// RDAP options.
    #[command(flatten)]
    pub rdap: RdapArgs,
    /// Files, directories, archives, or - for stdin.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// The model reference reported with every score.
pub fn model_ref(scorer: &Scorer) -> ModelRef {
    ModelRef {
        id: scorer.model().id.clone(),
        version: scorer.model().version.clone(),
        sha256: scorer.sha256().to_string(),
        engine: "model",
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Runs `shrike score`.
pub fn run_score(args: ScoreArgs, quiet: bool) -> Result<ExitCode> {
    let scorer = crate::load_scorer(args.model.as_ref())?;
    let mref = model_ref(&scorer);
    let mut ages = DomainAges::from_args(&args.rdap)?;
    let opts = args.input.read_options(None, None, false);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut scratch = ScoreScratch::default();
    let mut reader = Reader::new(&args.input.quarantine, quiet, "scoring");
    for path in &args.paths {
        reader.read(path, &opts, &mut |rec| {
            let ctx = ages.context_for(&rec);
            let result = scorer.score_email(&rec, &ctx, args.reasons, &mut scratch);
            let scored = Scored {
                rec: &rec,
                result: &result,
                model: &mref,
                scored_at_ms: now_ms(),
            };
            serde_json::to_writer(&mut out, &scored.render(args.format))?;
            out.write_all(b"\n")?;
            Ok(())
        })?;
    }
    out.flush()?;
    ages.save()?;
    let (_, quarantined) = reader.finish()?;
    Ok(crate::finished(quarantined))
}

/// `shrike model` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ModelCommand {
    /// Print a model's id, version, SHA-256, schema, thresholds and card summary.
    #[command(after_help = "Example:\n  shrike model info models/email-default.json")]
    Info {
        /// The model file; the bundled default when absent.
        path: Option<PathBuf>,
    },
    /// Wrap an XGBoost JSON or LightGBM text model trained in Python on Shrike's email features
    /// (the columns `shrike features` exports, in that order) into a Shrike model file.
    #[command(after_help = "Examples:
  shrike model import --xgboost xgb.json --out models/xgb-email.json
  shrike model import --lightgbm lgbm.txt --phishing-threshold 0.9 --out models/lgbm-email.json")]
    Import {
        /// XGBoost JSON model file.
        #[arg(long, conflicts_with = "lightgbm")]
        xgboost: Option<PathBuf>,
        /// LightGBM text model file.
        #[arg(long)]
        lightgbm: Option<PathBuf>,
        /// Verdict threshold for `phishing` (no calibration is fitted on import).
        #[arg(long, default_value_t = 0.9)]
        phishing_threshold: f64,
        /// Verdict threshold for `suspicious`.
        #[arg(long, default_value_t = 0.5)]
        suspicious_threshold: f64,
        /// Output model file.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs `shrike model`.
pub fn run_model(cmd: ModelCommand) -> Result<ExitCode> {
    match cmd {
        ModelCommand::Info { path } => {
            let scorer = crate::load_scorer(path.as_ref())?;
            let m = scorer.model();
            let info = serde_json::json!({
                "id": m.id,
                "version": m.version,
                "algorithm": m.algorithm,
                "created_at": m.created_at,
                "sha256": scorer.sha256(),
                "schema": {"name": m.schema.name, "version": m.schema.version, "fingerprint": m.schema.fingerprint, "features": m.schema.feature_names.len()},
                "trees": m.ensemble.trees.len(),
                "thresholds": m.thresholds,
                "calibration": match &m.calibration {
                    shrike_score::calibrate::Calibration::Identity => "identity",
                    shrike_score::calibrate::Calibration::Platt { .. } => "platt",
                    shrike_score::calibrate::Calibration::Isotonic { .. } => "isotonic",
                },
                "metrics": m.card.get("metrics"),
            });
            println!("{}", serde_json::to_string_pretty(&info)?);
            Ok(ExitCode::SUCCESS)
        }
        ModelCommand::Import {
            xgboost,
            lightgbm,
            phishing_threshold,
            suspicious_threshold,
            out,
        } => {
            let (algorithm, ensemble, src) = match (xgboost, lightgbm) {
                (Some(p), None) => {
                    let b =
                        std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
                    let e = shrike_score::import::from_xgboost_json(&b)
                        .with_context(|| format!("importing XGBoost model {}", p.display()))?;
                    ("xgboost", e, p)
                }
                (None, Some(p)) => {
                    let t = std::fs::read_to_string(&p)
                        .with_context(|| format!("reading {}", p.display()))?;
                    let e = shrike_score::import::from_lightgbm_text(&t)
                        .with_context(|| format!("importing LightGBM model {}", p.display()))?;
                    ("lightgbm", e, p)
                }
                _ => bail!("give exactly one of --xgboost or --lightgbm"),
            };
            let schema = shrike_score::features::email_schema();
            if ensemble.n_features != schema.len() {
                bail!(
                    "the model was trained on {} features but Shrike's email schema v{} has {}: \
                     train it on the columns `shrike features` exports, in that order",
                    ensemble.n_features,
                    schema.version,
                    schema.len()
                );
            }
            let file = ModelFile {
                format: MODEL_FORMAT.into(),
                format_version: MODEL_FORMAT_VERSION,
                id: format!("imported-{algorithm}"),
                version: "1".into(),
                created_at: crate::output::rfc3339_ms(now_ms()),
                algorithm: algorithm.into(),
                schema: SchemaRef::of(schema),
                ensemble,
                calibration: Default::default(),
                thresholds: Thresholds {
                    phishing: phishing_threshold,
                    suspicious: suspicious_threshold,
                    basis: "given on import".into(),
                },
                card: serde_json::json!({"imported_from": src.display().to_string()}),
            };
            file.check(schema).context("checking the imported model")?;
            std::fs::write(&out, file.to_bytes())
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!("wrote {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

//! `shrike scenario`: build an attack scenario from real captures with ground truth
//! ([`build`]), and measure triage output against it ([`eval`]).
//!
//! `build` splices whole real attack captures (Mordor Windows and AWS, IcedID Suricata) into
//! real background activity (Mordor hosts that did not carry the attack, Zeek/Suricata records,
//! benign CloudTrail) replayed across a synthetic estate with consistent remapping
//! ([`remap`]); `eval` ranks the attacked entities in each triage output; `compare` runs the
//! triage pipeline once per fusion strategy and evaluates them all. Nothing here scores or
//! detects: it only produces inputs and reads outputs.

pub mod build;
pub mod eval;
pub mod remap;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

/// `shrike scenario` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ScenarioCommand {
    /// Build events.ndjson, truth.json, assets.csv and manifest.json from real captures.
    #[command(after_help = "Examples:
  shrike scenario build --out /tmp/scenario
  shrike scenario build --data ../shared/data --definition content/scenario/default.toml --seed 7 --scale 0.1 --out /tmp/small")]
    Build(BuildArgs),
    /// Measure triage outputs (one per fusion strategy) against a scenario's truth.json.
    #[command(after_help = "Examples:
  shrike scenario eval --truth /tmp/scenario/truth.json --triage /tmp/out/log_odds --triage /tmp/out/sum_severity
  shrike scenario eval --truth /tmp/scenario/truth.json --triage /tmp/out/log_odds --out report.md")]
    Eval(EvalArgs),
    /// Run triage once per fusion strategy over a built scenario, then evaluate them all.
    #[command(after_help = "Examples:
  shrike scenario compare --scenario /tmp/scenario --out /tmp/compare
  shrike scenario compare --scenario /tmp/scenario --config content/triage/triage.toml --out /tmp/compare")]
    Compare(CompareArgs),
    /// Simulate analyst dispositions from the ground truth: every ticket of a triage run becomes
    /// true_positive (its entity was attacked) or false_positive, in the case store's feedback
    /// export format, to train the stacked fusion weights (`shrike train fusion`).
    #[command(after_help = "Example:
  shrike scenario feedback --truth /tmp/train-scenario/truth.json --triage /tmp/train-out --out /tmp/feedback.ndjson")]
    Feedback(FeedbackArgs),
}

/// `shrike scenario feedback` arguments.
#[derive(clap::Args, Debug)]
pub struct FeedbackArgs {
    /// The scenario's truth.json.
    #[arg(long)]
    pub truth: PathBuf,
    /// A triage output directory (its tickets.ndjson).
    #[arg(long)]
    pub triage: PathBuf,
    /// Where to write the feedback (NDJSON).
    #[arg(long)]
    pub out: PathBuf,
}

/// `shrike scenario build` arguments.
#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// The shared data directory.
    #[arg(long, default_value = "../shared/data")]
    pub data: PathBuf,
    /// The scenario definition.
    #[arg(long, default_value = "content/scenario/default.toml")]
    pub definition: PathBuf,
    /// Seed (default: the definition's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Multiplies the number of background events (1.0 = the definition's count).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
}

/// `shrike scenario eval` arguments.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// The scenario's truth.json.
    #[arg(long)]
    pub truth: PathBuf,
    /// A triage output directory (repeat for several strategies).
    #[arg(long, required = true)]
    pub triage: Vec<PathBuf>,
    /// Write the markdown report here (default: stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the evaluation as JSON on stdout instead of markdown.
    #[arg(long)]
    pub json: bool,
}

/// `shrike scenario compare` arguments.
#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// A built scenario directory (events.ndjson, assets.csv, truth.json).
    #[arg(long)]
    pub scenario: PathBuf,
    /// Output directory: one subdirectory per strategy, plus report.md.
    #[arg(long)]
    pub out: PathBuf,
    /// Triage configuration file (its fusion strategy is overridden per run).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// The fusion strategies `compare` runs, in report order.
pub const STRATEGIES: [&str; 4] = ["log_odds", "noisy_or", "stacked", "sum_severity"];

/// Runs `shrike scenario`.
pub fn run(cmd: ScenarioCommand, quiet: bool) -> Result<ExitCode> {
    match cmd {
        ScenarioCommand::Feedback(a) => {
            let (tp, fp) = eval::simulate_feedback(&a.truth, &a.triage, &a.out)?;
            eprintln!(
                "feedback: {tp} true_positive, {fp} false_positive -> {}",
                a.out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        ScenarioCommand::Build(a) => {
            let started = std::time::Instant::now();
            let opts = build::BuildOptions {
                data: a.data,
                definition: a.definition,
                seed: a.seed,
                scale: a.scale,
                out: a.out,
            };
            let (m, t) = build::build(&opts, quiet)?;
            eprintln!(
                "scenario: {} events ({} attacked entities, {} attacks, {} instances) in {:.1} s -> {}",
                m.events,
                t.attacked.len(),
                t.attacks.len(),
                m.instances,
                started.elapsed().as_secs_f64(),
                opts.out.display()
            );
            for (k, n) in &m.by_source {
                eprintln!("  {k:<22} {n:>9}");
            }
            Ok(crate::finished(0))
        }
        ScenarioCommand::Eval(a) => {
            let ev = eval::evaluate(&a.truth, &a.triage)?;
            emit_report(&ev, a.out.as_deref(), a.json)?;
            Ok(ExitCode::SUCCESS)
        }
        ScenarioCommand::Compare(a) => run_compare(&a, quiet),
    }
}

fn emit_report(ev: &eval::Evaluation, out: Option<&Path>, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(ev)?);
        return Ok(());
    }
    let md = eval::report_markdown(ev);
    match out {
        Some(p) => {
            std::fs::write(p, &md).with_context(|| format!("writing {}", p.display()))?;
            eprintln!("scenario: report written to {}", p.display());
        }
        None => print!("{md}"),
    }
    Ok(())
}

fn run_compare(a: &CompareArgs, quiet: bool) -> Result<ExitCode> {
    let events = a.scenario.join("events.ndjson");
    let assets = a.scenario.join("assets.csv");
    let truth = a.scenario.join("truth.json");
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let mut dirs = Vec::new();
    for strategy in STRATEGIES {
        let out = a.out.join(strategy);
        match run_triage_for_strategy(&events, &assets, a.config.as_deref(), strategy, &out, quiet)?
        {
            StrategyRun::Done => dirs.push(out),
            StrategyRun::Skipped(why) => eprintln!("scenario: {strategy} skipped: {why}"),
        }
    }
    if dirs.is_empty() {
        anyhow::bail!("no strategy ran");
    }
    let ev = eval::evaluate(&truth, &dirs)?;
    emit_report(&ev, Some(&a.out.join("report.md")), false)?;
    print!("{}", eval::report_markdown(&ev));
    Ok(ExitCode::SUCCESS)
}

/// What happened to one strategy's run.
pub enum StrategyRun {
    /// Output written.
    Done,
    /// Not run, with the reason.
    Skipped(String),
}

/// Runs the offline triage pipeline (`crate::triage::run_pipeline`) over the scenario with one
/// fusion strategy into `out`. The configuration file (or the default configuration) is used
/// as is, except that its fusion strategy is replaced; `stacked` is skipped when no stacked
/// weights are configured.
pub fn run_triage_for_strategy(
    events: &Path,
    assets: &Path,
    config: Option<&Path>,
    strategy: &str,
    out: &Path,
    quiet: bool,
) -> Result<StrategyRun> {
    use shrike_fusion::StrategyKind;
    let mut cfg = match config {
        Some(p) => crate::triage::TriageConfig::load(p)?,
        None => crate::triage::TriageConfig::default(),
    };
    let kind = match strategy {
        "log_odds" => StrategyKind::LogOdds,
        "noisy_or" => StrategyKind::NoisyOr,
        "stacked" => StrategyKind::Stacked,
        "sum_severity" => StrategyKind::SumSeverity,
        other => anyhow::bail!("unknown fusion strategy {other:?}"),
    };
    if kind == StrategyKind::Stacked
        && cfg.stacked_weights.is_none()
        && cfg.fusion.stacked.is_none()
    {
        return Ok(StrategyRun::Skipped(
            "no stacked weights configured (set `stacked_weights` in the triage config; \
             train them with `shrike train fusion`)"
                .to_owned(),
        ));
    }
    cfg.fusion.strategy = kind;
    let opts = crate::triage::TriageOptions {
        inputs: vec![events.to_path_buf()],
        assets: assets.is_file().then(|| assets.to_path_buf()),
        config: cfg,
        out: out.to_path_buf(),
    };
    let summary = crate::triage::run_pipeline(&opts, quiet)
        .with_context(|| format!("triage with strategy {strategy}"))?;
    eprintln!(
        "scenario: {strategy}: {} events, {} alerts, {} entities, {} tickets",
        summary.events, summary.alerts, summary.entities, summary.tickets
    );
    Ok(StrategyRun::Done)
}

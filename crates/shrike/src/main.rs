//! The `shrike` binary: parses the command line and dispatches to the library (`src/lib.rs`).

use clap::{Parser, Subcommand};
use shrike::{demo, normalize, replay, scenario, scoring, server, training, triage, validate};
use std::process::ExitCode;

/// mimalloc: the pipelines allocate many small JSON nodes per record; glibc's allocator cost a
/// quarter of normalization time (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Shrike: alert triage for SOCs. Scores email for phishing with a calibrated, explained model.
#[derive(Parser, Debug)]
#[command(name = "shrike", version, about, propagate_version = true)]
struct Cli {
    /// Less output on stderr (no progress bars, warnings only).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Score emails (files, directories, mbox, .tar/.tar.gz/.tar.xz, email-log JSON/NDJSON, CSV, or - for stdin).
    #[command(after_help = "Examples:
  shrike score testdata/email/paypal-lookalike.eml
  shrike score --format ocsf ~/mail/suspicious/
  cat message.eml | shrike score -
  shrike score --model models/email-default.json --reasons 0 corpus.tar.xz > scores.ndjson")]
    Score(scoring::ScoreArgs),
    /// Serve the scoring HTTP API.
    #[command(after_help = "Examples:
  SHRIKE_API_TOKENS=s3cret shrike serve --listen 127.0.0.1:8080
  shrike serve --config shrike.toml
  curl -H 'Authorization: Bearer s3cret' -H 'Content-Type: message/rfc822' \\
       --data-binary @message.eml 'http://127.0.0.1:8080/v1/email/score?format=ocsf'")]
    Serve(server::ServeArgs),
    /// Train a model.
    #[command(subcommand)]
    Train(training::TrainCommand),
    /// Evaluate a model on labelled email with a time-based split: PR/ROC, recall at FPR, calibration, per source.
    #[command(after_help = "Examples:
  shrike eval --index ../shared/data/email/index.tsv --out-dir eval/
  shrike eval --model my-model.json --input phishing=new-phish/ --input ham=new-ham/ --test-from 2024-01-01")]
    Eval(training::EvalArgs),
    /// Export the email feature matrix (CSV, schema order) of labelled data, to train in Python and `shrike model import`.
    #[command(after_help = "Examples:
  shrike features --input phishing=phish/ --input ham=ham.mbox --out features.csv
  shrike features --index ../shared/data/email/index.tsv --out /tmp/email-features.csv")]
    Features(training::FeaturesArgs),
    /// Validate OCSF events (NDJSON) against the pinned OCSF 1.8.0 schema.
    #[command(after_help = "Examples:
  shrike score --format ocsf mail/ > findings.ndjson && shrike validate findings.ndjson
  cat events.ndjson | shrike validate -")]
    Validate(validate::ValidateArgs),
    /// Normalize telemetry to OCSF 1.8.0 (Windows EVTX/JSON, Sysmon, Suricata EVE, Zeek, CloudTrail, GuardDuty, VPC Flow, email).
    #[command(after_help = "Examples:
  shrike normalize ../shared/data/endpoint/mordor/ --out events.ndjson
  shrike normalize --source zeek --format zeek-tsv conn.log -o conn.ocsf.ndjson
  shrike normalize Security.evtx --entities entities.ndjson | shrike validate -")]
    Normalize(normalize::NormalizeArgs),
    /// Run content tests: `shrike test mappings` checks every mapping's sample pairs.
    #[command(subcommand)]
    Test(normalize::TestCommand),
    /// Send emails to a running Shrike API at a chosen rate and concurrency; write results; print latency percentiles.
    #[command(after_help = "Examples:
  shrike replay --url http://127.0.0.1:8080 --token s3cret --rate 500 --concurrency 8 mail/ --out results.ndjson
  shrike replay --url http://127.0.0.1:8080 --token s3cret --format ocsf --max 1000 emails.ndjson")]
    Replay(replay::ReplayArgs),
    /// Inspect or import model files.
    #[command(subcommand)]
    Model(scoring::ModelCommand),
    /// Quickstart: start the API on loopback with the bundled model, score the bundled sample emails over HTTP, print the verdicts, stop.
    #[command(after_help = "Example:
  cargo run --release -- demo")]
    Demo(demo::DemoArgs),
    /// Run the whole triage pipeline over files: normalize, detect (Sigma, vendor), score (domain models), enrich (local intel), fuse per entity, route; write alerts, entities and tickets.
    #[command(after_help = "Examples:
  shrike triage ../shared/data/endpoint/mordor/atomic/windows/credential_access/ --out /tmp/triage
  shrike triage scenario/events.ndjson --assets scenario/assets.csv --config content/triage/triage.toml --out out/")]
    Triage(triage::TriageArgs),
    /// Build an attack scenario from real captures with ground truth, and measure triage output against it.
    #[command(subcommand)]
    Scenario(scenario::ScenarioCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.quiet);
    let result = match cli.command {
        Command::Score(a) => scoring::run_score(a, cli.quiet),
        Command::Serve(a) => server::run_serve(a),
        Command::Train(c) => training::run_train(c, cli.quiet),
        Command::Eval(a) => training::run_eval(a, cli.quiet),
        Command::Replay(a) => replay::run_replay(a, cli.quiet),
        Command::Features(a) => training::run_features(a, cli.quiet),
        Command::Validate(a) => validate::run_validate(a),
        Command::Model(c) => scoring::run_model(c),
        Command::Demo(a) => demo::run_demo(a),
        Command::Normalize(a) => normalize::run_normalize(a, cli.quiet),
        Command::Test(c) => normalize::run_test(c),
        Command::Triage(a) => triage::run(a, cli.quiet),
        Command::Scenario(c) => scenario::run(c, cli.quiet),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn init_tracing(quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if quiet { "warn" } else { "info" };
    let filter = EnvFilter::try_from_env("SHRIKE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}

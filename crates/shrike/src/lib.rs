//! Shrike's command line and HTTP API (the `shrike` binary's library half).
//!
//! This is the only crate that knows HTTP, wire formats (OCSF, ECS, Splunk HEC), configuration
//! files, terminals and the process exit code. Everything it does with an email goes through the
//! library crates: `shrike-ingest` reads, `shrike-score` scores, `shrike-train` trains/evaluates.
//!
//! Exit codes: 0 ok; 1 finished but some records were quarantined or a check failed;
//! 2 usage, configuration or I/O error. A closed stdout (`| head`) ends quietly with 0.

pub mod analyst;
pub mod config;
pub mod demo;
pub mod domain_train;
pub mod inputs;
pub mod metrics;
pub mod normalize;
pub mod outbound;
pub mod output;
pub mod rdap;
pub mod replay;
pub mod scenario;
pub mod scoring;
pub mod server;
pub mod soar;
pub mod training;
pub mod triage;
pub mod validate;

use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code for a run that finished: 1 when records were quarantined.
pub fn finished(quarantined: u64) -> ExitCode {
    if quarantined > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The bundled default model (trained from ../shared/data/email; see models/email-default.card.md).
pub const DEFAULT_MODEL: &[u8] = include_bytes!("../../../models/email-default.json");

/// Loads the model at `path`, or the bundled one.
pub fn load_scorer(path: Option<&PathBuf>) -> Result<shrike_score::Scorer> {
    use anyhow::Context;
    match path {
        Some(p) => {
            let bytes =
                std::fs::read(p).with_context(|| format!("reading model {}", p.display()))?;
            shrike_score::Scorer::load_email(&bytes)
                .with_context(|| format!("loading model {}", p.display()))
        }
        None => shrike_score::Scorer::load_email(DEFAULT_MODEL)
            .context("loading the bundled default model"),
    }
}

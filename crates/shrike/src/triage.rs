//! `shrike triage` (being written).

use std::process::ExitCode;

/// `shrike triage` arguments.
#[derive(clap::Args, Debug)]
pub struct TriageArgs {}

/// Runs `shrike triage`.
pub fn run(_args: TriageArgs, _quiet: bool) -> anyhow::Result<ExitCode> {
    anyhow::bail!("shrike triage is not built yet")
}

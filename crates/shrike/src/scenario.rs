//! `shrike scenario` (being written).

use std::process::ExitCode;

/// `shrike scenario` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ScenarioCommand {
    /// Build a scenario.
    Build,
}

/// Runs `shrike scenario`.
pub fn run(_cmd: ScenarioCommand, _quiet: bool) -> anyhow::Result<ExitCode> {
    anyhow::bail!("shrike scenario is not built yet")
}

//! `shrike train cloud` (being written).

use std::process::ExitCode;

/// `shrike train cloud` arguments.
#[derive(clap::Args, Debug)]
pub struct CloudArgs {}

/// Runs `shrike train cloud`.
pub fn run(_args: CloudArgs, _quiet: bool) -> anyhow::Result<ExitCode> {
    anyhow::bail!("shrike train cloud is not built yet")
}

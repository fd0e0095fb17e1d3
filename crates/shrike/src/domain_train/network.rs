//! `shrike train network` (being written).

use std::process::ExitCode;

/// `shrike train network` arguments.
#[derive(clap::Args, Debug)]
pub struct NetworkArgs {}

/// Runs `shrike train network`.
pub fn run(_args: NetworkArgs, _quiet: bool) -> anyhow::Result<ExitCode> {
    anyhow::bail!("shrike train network is not built yet")
}

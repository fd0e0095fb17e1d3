//! `shrike train fusion` (being written).

use std::process::ExitCode;

/// `shrike train fusion` arguments.
#[derive(clap::Args, Debug)]
pub struct FusionArgs {}

/// Runs `shrike train fusion`.
pub fn run(_args: FusionArgs, _quiet: bool) -> anyhow::Result<ExitCode> {
    anyhow::bail!("shrike train fusion is not built yet")
}

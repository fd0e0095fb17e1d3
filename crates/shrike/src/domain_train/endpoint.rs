//! `shrike train endpoint` (being written).

use std::process::ExitCode;

/// `shrike train endpoint` arguments.
#[derive(clap::Args, Debug)]
pub struct EndpointArgs {}

/// Runs `shrike train endpoint`.
pub fn run(_args: EndpointArgs, _quiet: bool) -> anyhow::Result<ExitCode> {
    anyhow::bail!("shrike train endpoint is not built yet")
}

//! `shrike demo`: the quickstart. Starts the real API on a loopback port with the bundled model
//! and a one-time token, sends the bundled sample emails over HTTP, prints each verdict with its
//! top reasons, checks health and readiness, and stops.

use crate::server::{random_bytes, spawn, AppState, StateOptions};
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::process::ExitCode;
use std::sync::Arc;

/// `shrike demo` arguments.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Model file; the bundled default when absent.
    #[arg(long)]
    pub model: Option<std::path::PathBuf>,
}

/// The bundled sample emails (also used by the tests).
pub const SAMPLES: &[(&str, &[u8])] = &[
    (
        "paypal-lookalike.eml",
        include_bytes!("../../../testdata/email/paypal-lookalike.eml"),
    ),
    (
        "invoice-macro.eml",
        include_bytes!("../../../testdata/email/invoice-macro.eml"),
    ),
    (
        "team-lunch.eml",
        include_bytes!("../../../testdata/email/team-lunch.eml"),
    ),
];

/// Runs the demo.
pub fn run_demo(args: DemoArgs) -> Result<ExitCode> {
    let scorer = crate::load_scorer(args.model.as_ref())?;
    let mut raw = [0u8; 16];
    random_bytes(&mut raw);
    let token = shrike_score::features::hex(&raw);
    let opts = StateOptions {
        tokens: vec![crate::config::TokenConfig {
            name: "demo".into(),
            token: token.clone(),
            role: crate::config::Role::Ingest,
        }],
        ..StateOptions::default()
    };
    let state = Arc::new(AppState::new(scorer, opts));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding 127.0.0.1")?;
        let server = spawn(listener, state)?;
        let base = format!("http://{}", server.addr);
        println!("Shrike API listening on {base} (bundled model, one-time token)");
        let client = reqwest::Client::new();
        let ready: Value = client
            .get(format!("{base}/readyz"))
            .send()
            .await?
            .json()
            .await?;
        println!(
            "ready: model {} version {} sha256 {}",
            ready["model"]["id"].as_str().unwrap_or("?"),
            ready["model"]["version"].as_str().unwrap_or("?"),
            ready["model"]["sha256"]
                .as_str()
                .unwrap_or("?")
                .get(..12)
                .unwrap_or("?")
        );
        for (name, bytes) in SAMPLES {
            let resp = client
                .post(format!("{base}/v1/email/score"))
                .bearer_auth(&token)
                .header("content-type", "message/rfc822")
                .body(bytes.to_vec())
                .send()
                .await
                .with_context(|| format!("POST {name}"))?;
            let status = resp.status();
            let v: Value = resp.json().await?;
            if !status.is_success() {
                bail!("{name}: HTTP {status}: {v}");
            }
            println!(
                "\n{name}: {} (score {:.3})",
                v["verdict"].as_str().unwrap_or("?").to_uppercase(),
                v["score"].as_f64().unwrap_or(f64::NAN)
            );
            for r in v["reasons"].as_array().into_iter().flatten().take(3) {
                println!(
                    "  {:+.2}  {} = {}  ({})",
                    r["contribution"].as_f64().unwrap_or(0.0),
                    r["feature"].as_str().unwrap_or("?"),
                    r["value"],
                    r["description"].as_str().unwrap_or("")
                );
            }
        }
        let unauth = client
            .post(format!("{base}/v1/email/score"))
            .body("x")
            .send()
            .await?;
        println!("\nwithout a token the API answers {}", unauth.status());
        server.shutdown().await?;
        println!("stopped. Next: `shrike serve` (see README) or `shrike score --help`.");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

//! `shrike replay`: sends emails to a running Shrike API at a chosen rate and concurrency,
//! writes the playbook-shaped results, and prints counts by verdict and latency percentiles.
//!
//! Raw message files are sent as `message/rfc822` bytes, NDJSON/JSON lines as they are, and
//! records read from archives or mboxes as email-log JSON. Runs are bounded: `--max` emails and
//! `--duration-secs` seconds at most.

use crate::inputs::{InputArgs, Reader};
use crate::output::OutputFormat;
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use shrike_types::{AuthVerdict, EmailRecord, Mailbox};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `shrike replay` arguments.
#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// Base URL of the Shrike API.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Bearer token (or SHRIKE_API_TOKEN in the environment).
    #[arg(long, env = "SHRIKE_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Requests per second (0 = as fast as the concurrency allows).
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Result shape asked of the API.
    #[arg(long, value_enum, default_value = "shrike")]
    pub format: OutputFormat,
    /// Reasons per score asked of the API.
    #[arg(long, default_value_t = 5)]
    pub reasons: usize,
    /// Results file (NDJSON: index, id, status, latency_ms, result or error).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Send at most this many emails (cycling through the inputs if there are fewer).
    #[arg(long)]
    pub max: Option<usize>,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 300)]
    pub duration_secs: u64,
    /// Input options.
    #[command(flatten)]
    pub input: InputArgs,
    /// Directories, .eml/mbox files, archives, or NDJSON of email-log records.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// One request to send.
#[derive(Clone)]
pub struct Payload {
    id: String,
    content_type: &'static str,
    body: bytes_body::Body,
}

mod bytes_body {
    /// Request bytes shared between repeats.
    pub type Body = std::sync::Arc<[u8]>;
}

/// Email-log JSON for a record (the shape `parse_email_log` reads).
pub fn record_to_email_log(rec: &EmailRecord) -> Value {
    let mb = |m: &Mailbox| match &m.name {
        Some(n) if !n.is_empty() => json!({"name": n, "address": m.address}),
        _ => json!(m.address),
    };
    let auth = |a: Option<AuthVerdict>| {
        a.map(|a| match a {
            AuthVerdict::Pass => "pass",
            AuthVerdict::Fail => "fail",
            AuthVerdict::SoftFail => "softfail",
            AuthVerdict::Neutral => "neutral",
            AuthVerdict::None => "none",
            AuthVerdict::Error => "temperror",
            _ => "other",
        })
    };
    let mut v = json!({
        "id": rec.id,
        "from": rec.from.as_ref().map(mb),
        "to": rec.to.iter().map(mb).collect::<Vec<_>>(),
        "cc": rec.cc.iter().map(mb).collect::<Vec<_>>(),
        "reply_to": rec.reply_to.iter().map(mb).collect::<Vec<_>>(),
        "return_path": rec.return_path,
        "subject": rec.subject,
        "date": rec.date,
        "message_id": rec.message_id,
        "headers": rec.headers.iter().map(|(n, v)| json!([n, v])).collect::<Vec<_>>(),
        "body_text": rec.body_text,
        "body_html": rec.body_html,
        "urls": rec.urls,
        "attachments": rec.attachments.iter().map(|a| json!({"name": a.name, "content_type": a.content_type, "size": a.size, "sha256": a.sha256})).collect::<Vec<_>>(),
        "auth": {"spf": auth(rec.auth.spf), "dkim": auth(rec.auth.dkim), "dmarc": auth(rec.auth.dmarc)},
    });
    // Drop nulls so the record reads like a SIEM export.
    if let Some(o) = v.as_object_mut() {
        o.retain(|_, x| !x.is_null());
        if let Some(a) = o.get_mut("auth").and_then(Value::as_object_mut) {
            a.retain(|_, x| !x.is_null());
        }
    }
    v
}

fn is_raw_message_file(p: &Path) -> bool {
    let name = p
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let archive = [
        ".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".json", ".ndjson", ".jsonl", ".csv", ".mbox",
    ];
    !archive.iter().any(|s| name.ends_with(s))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// Loads the payloads: raw files as message/rfc822, everything else through ingest as JSON.
pub fn load_payloads(args: &ReplayArgs, quiet: bool) -> Result<(Vec<Payload>, u64)> {
    let limit = args.max.unwrap_or(usize::MAX);
    let mut files = Vec::new();
    for p in &args.paths {
        if p.is_dir() {
            walk(p, &mut files)?;
        } else {
            files.push(p.clone());
        }
    }
    let mut out: Vec<Payload> = Vec::new();
    let opts = args.input.read_options(None, None, false);
    let mut reader = Reader::new(&args.input.quarantine, quiet, "loading");
    for f in files {
        if out.len() >= limit {
            break;
        }
        if f != Path::new("-") && is_raw_message_file(&f) && !looks_like_mbox(&f) {
            let bytes = std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?;
            out.push(Payload {
                id: f.display().to_string(),
                content_type: "message/rfc822",
                body: bytes.into(),
            });
            continue;
        }
        reader.read(&f, &opts, &mut |rec| {
            if out.len() < limit {
                out.push(Payload {
                    id: rec.id.clone(),
                    content_type: "application/json",
                    body: serde_json::to_vec(&record_to_email_log(&rec))?.into(),
                });
            }
            Ok(())
        })?;
    }
    let (_, quarantined) = reader.finish()?;
    Ok((out, quarantined))
}

/// A file whose first bytes are an mbox `From ` line followed by more than one message.
fn looks_like_mbox(p: &Path) -> bool {
    let Ok(bytes) = std::fs::read(p) else {
        return false;
    };
    bytes.starts_with(b"From ") && bytes.windows(7).filter(|w| w == b"\n\nFrom ").count() > 0
}

/// Latency percentiles over a sorted list of seconds.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// The verdict inside any result shape.
pub fn verdict_of(v: &Value) -> Option<&str> {
    v.get("verdict")
        .or_else(|| v.pointer("/unmapped/shrike/verdict"))
        .or_else(|| v.pointer("/shrike/verdict"))
        .or_else(|| v.pointer("/event/verdict"))
        .and_then(Value::as_str)
}

struct Outcome {
    index: usize,
    id: String,
    status: u16,
    latency: f64,
    body: Value,
}

/// Runs `shrike replay`.
pub fn run_replay(args: ReplayArgs, quiet: bool) -> Result<ExitCode> {
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if !args.url.starts_with("http://") && !args.url.starts_with("https://") {
        bail!("--url must start with http:// or https://");
    }
    let (payloads, quarantined) = load_payloads(&args, quiet)?;
    if payloads.is_empty() {
        bail!("no emails to send");
    }
    let total = args.max.unwrap_or(payloads.len());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let outcomes = rt.block_on(send_all(&args, Arc::new(payloads), total, quiet))?;
    let summary = summarize(&outcomes);
    if let Some(path) = &args.out {
        let f =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = std::io::BufWriter::new(f);
        for o in &outcomes {
            let ok = (200..300).contains(&o.status);
            let line = json!({
                "index": o.index, "id": o.id, "status": o.status,
                "latency_ms": crate::output::round6(o.latency * 1000.0),
                if ok { "result" } else { "error" }: o.body,
            });
            serde_json::to_writer(&mut w, &line)?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
    }
    println!("{}", serde_json::to_string_pretty(&summary)?);
    let failed = outcomes
        .iter()
        .filter(|o| !(200..300).contains(&o.status))
        .count() as u64;
    Ok(crate::finished(quarantined + failed))
}

async fn send_all(
    args: &ReplayArgs,
    payloads: Arc<Vec<Payload>>,
    total: usize,
    quiet: bool,
) -> Result<Vec<Outcome>> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let base = args.url.trim_end_matches('/').to_string();
    let fmt = match args.format {
        OutputFormat::Shrike => "shrike",
        OutputFormat::Ocsf => "ocsf",
        OutputFormat::Ecs => "ecs",
        OutputFormat::Hec => "hec",
    };
    let url = Arc::new(format!(
        "{base}/v1/email/score?format={fmt}&reasons={}",
        args.reasons
    ));
    let token = args.token.clone();
    let sem = Arc::new(tokio::sync::Semaphore::new(args.concurrency));
    let deadline = Instant::now() + Duration::from_secs(args.duration_secs);
    let interval = (args.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / args.rate));
    let pb = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let pb = ProgressBar::new(total as u64);
        pb.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} ({per_sec}, eta {eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb
    });
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        if Instant::now() >= deadline {
            tracing::warn!("--duration-secs reached after {i} requests");
            break;
        }
        if let Some(iv) = interval {
            let due = start + iv.mul_f64(i as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        let permit = sem.clone().acquire_owned().await?;
        let p = payloads[i % payloads.len()].clone();
        let (client, url, token, pb) = (client.clone(), url.clone(), token.clone(), pb.clone());
        tasks.spawn(async move {
            let t0 = Instant::now();
            let mut req = client
                .post(url.as_str())
                .header("content-type", p.content_type)
                .body(p.body.to_vec());
            if let Some(t) = &token {
                req = req.bearer_auth(t);
            }
            let res = req.send().await;
            let (status, body) = match res {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let body = r.json::<Value>().await.unwrap_or(Value::Null);
                    (status, body)
                }
                Err(e) => (
                    0,
                    json!({"error": {"code": "transport", "message": e.to_string()}}),
                ),
            };
            let latency = t0.elapsed().as_secs_f64();
            drop(permit);
            if let Some(pb) = &pb {
                pb.inc(1);
            }
            Outcome {
                index: i,
                id: p.id,
                status,
                latency,
                body,
            }
        });
    }
    let mut out = Vec::with_capacity(total);
    while let Some(r) = tasks.join_next().await {
        out.push(r?);
    }
    if let Some(pb) = &pb {
        pb.finish_and_clear();
    }
    out.sort_by_key(|o| o.index);
    let elapsed = start.elapsed().as_secs_f64();
    tracing::info!("sent {} requests in {elapsed:.2}s", out.len());
    Ok(out)
}

fn summarize(outcomes: &[Outcome]) -> Value {
    let mut by_verdict = std::collections::BTreeMap::<String, u64>::new();
    let mut by_status = std::collections::BTreeMap::<String, u64>::new();
    let mut lat: Vec<f64> = Vec::with_capacity(outcomes.len());
    for o in outcomes {
        *by_status.entry(o.status.to_string()).or_default() += 1;
        lat.push(o.latency);
        if (200..300).contains(&o.status) {
            let v = verdict_of(&o.body).unwrap_or("unknown").to_string();
            *by_verdict.entry(v).or_default() += 1;
        }
    }
    lat.sort_by(f64::total_cmp);
    let ms = |q: f64| crate::output::round6(percentile(&lat, q) * 1000.0);
    json!({
        "sent": outcomes.len(),
        "by_status": by_status,
        "by_verdict": by_verdict,
        "latency_ms": {"p50": ms(0.5), "p90": ms(0.9), "p99": ms(0.99), "max": ms(1.0)},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_ranks() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 51.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&v, 1.0), 100.0);
        assert!(percentile(&[], 0.5).is_nan());
    }

    #[test]
    fn verdict_found_in_every_shape() {
        assert_eq!(verdict_of(&json!({"verdict": "benign"})), Some("benign"));
        assert_eq!(
            verdict_of(&json!({"unmapped": {"shrike": {"verdict": "phishing"}}})),
            Some("phishing")
        );
        assert_eq!(
            verdict_of(&json!({"shrike": {"verdict": "suspicious"}})),
            Some("suspicious")
        );
        assert_eq!(
            verdict_of(&json!({"event": {"verdict": "benign"}})),
            Some("benign")
        );
    }

    #[test]
    fn email_log_round_trips_through_ingest() {
        let rec = EmailRecord {
            id: "r1".into(),
            from: Some(Mailbox {
                name: Some("PayPal".into()),
                address: "a@paypa1.com".into(),
            }),
            subject: Some("Verify".into()),
            body_text: Some("hello https://x.example/".into()),
            auth: shrike_types::AuthResults {
                spf: Some(AuthVerdict::SoftFail),
                dkim: None,
                dmarc: Some(AuthVerdict::Fail),
            },
            ..Default::default()
        };
        let v = record_to_email_log(&rec);
        let back = shrike_ingest::parse_email_log(&v, shrike_types::RecordOrigin::default())
            .expect("parses");
        assert_eq!(back.from, rec.from);
        assert_eq!(back.subject, rec.subject);
        assert_eq!(back.body_text, rec.body_text);
        assert_eq!(back.auth, rec.auth);
    }
}

//! `shrike triage PATH... [--assets FILE] [--config FILE] --out DIR`: the whole pipeline over
//! files.
//!
//! Stages, in order (the same stages `shrike serve` runs on live input):
//! 1. **read**: raw telemetry through the normalizer (`shrike_normalize`), or OCSF 1.8.0 NDJSON
//!    passed through; undecodable and unmappable records go to `DIR/quarantine.ndjson`, named
//!    with the reason. Events are then ordered by event time (stable), so several files and
//!    archives become one timeline.
//! 2. **detect** (stateless, both cores): Sigma rules and vendor detections (`shrike_detect`).
//! 3. **score** (stateful, in time order): the domain model of the event's domain observes every
//!    event and scores it; an event becomes a candidate [`Alert`] when a detector matched, the
//!    model's probability reached its alert threshold, or the local intel store knows one of
//!    its indicators.
//! 4. **fuse**: alerts update their entities in `shrike_fusion::Fuser` (event-time windows,
//!    decay, watermark); an entity crossing the routing threshold becomes an entity risk
//!    finding (OCSF Detection Finding).
//! 5. **route**: each finding runs through the SOAR playbooks and routing table into the case
//!    store (`DIR/cases.db`), which opens or joins the entity's ticket.
//!
//! Outputs: `DIR/alerts.ndjson` (one [`Alert`] per line, with `intel` when the store matched),
//! `DIR/entities.ndjson` (one `EntityReport` per entity, highest fused score first),
//! `DIR/findings.ndjson` (the entity risk findings), `DIR/tickets.ndjson` (the routed tickets),
//! `DIR/summary.json`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shrike_detect::models::DomainModel;
use shrike_detect::sigma::SigmaRules;
use shrike_detect::{Alert, Domain, Hit, ModelScore};
use shrike_fusion::{EntityReport, Fuser, FusionConfig};
use shrike_normalize::decode::{decode_path, DecodeOptions};
use shrike_normalize::{DecodeItem, Engine};
use shrike_triage::playbook::Engine as Playbooks;

/// `shrike triage` arguments.
#[derive(clap::Args, Debug)]
pub struct TriageArgs {
    /// Telemetry files, directories or archives (anything `shrike normalize` reads), or OCSF
    /// 1.8.0 events as NDJSON.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Asset inventory (CSV or JSON, as `[soar] assets`): criticality for fusion and routing,
    /// IP-to-host resolution.
    #[arg(long)]
    pub assets: Option<PathBuf>,
    /// Configuration (TOML; every key optional: see content/triage/triage.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Output directory (created; existing outputs are replaced).
    #[arg(long)]
    pub out: PathBuf,
}

/// The `[sigma]` table.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SigmaConfig {
    /// Run Sigma rules at all.
    pub enabled: bool,
    /// The SigmaHQ rules directory (read in place).
    pub rules: PathBuf,
}

impl Default for SigmaConfig {
    fn default() -> Self {
        SigmaConfig {
            enabled: true,
            rules: PathBuf::from("../shared/data/sigma/rules"),
        }
    }
}

/// The `[models]` table: model files replacing the bundled defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelPaths {
    /// Endpoint model file.
    pub endpoint: Option<PathBuf>,
    /// Network model file.
    pub network: Option<PathBuf>,
    /// Cloud model file.
    pub cloud: Option<PathBuf>,
}

/// `shrike triage` configuration (TOML).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TriageConfig {
    /// Sigma rules.
    pub sigma: SigmaConfig,
    /// Domain model files (bundled defaults when absent).
    pub models: ModelPaths,
    /// The threat-intel data directory (IOC feeds, MISP warning lists); absent: no intel.
    pub intel_dir: Option<PathBuf>,
    /// Playbooks directory (bundled when absent).
    pub playbooks: Option<PathBuf>,
    /// Routing table (bundled when absent).
    pub routing: Option<PathBuf>,
    /// Stacked fusion weights (`shrike train fusion`), required by `strategy = "stacked"`.
    pub stacked_weights: Option<PathBuf>,
    /// Fusion.
    pub fusion: FusionConfig,
    /// Reasons (TreeSHAP contributions) kept per model-scored alert.
    pub reasons: usize,
    /// Threads for the stateless stages (reading, detection).
    pub threads: usize,
}

impl Default for TriageConfig {
    fn default() -> Self {
        TriageConfig {
            sigma: SigmaConfig::default(),
            models: ModelPaths::default(),
            intel_dir: Some(PathBuf::from("../shared/data/threat-intel")),
            playbooks: None,
            routing: None,
            stacked_weights: None,
            fusion: FusionConfig::default(),
            reasons: 3,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .min(8),
        }
    }
}

impl TriageConfig {
    /// Reads a TOML configuration; unknown keys are errors naming the key.
    pub fn load(path: &Path) -> Result<TriageConfig> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// Everything one run needs.
#[derive(Debug, Clone)]
pub struct TriageOptions {
    /// Inputs.
    pub inputs: Vec<PathBuf>,
    /// Asset inventory.
    pub assets: Option<PathBuf>,
    /// Configuration.
    pub config: TriageConfig,
    /// Output directory.
    pub out: PathBuf,
}

/// What one run did (also `DIR/summary.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TriageSummary {
    /// Fusion strategy.
    pub strategy: String,
    /// Records read (decoded records plus OCSF lines).
    pub records: u64,
    /// OCSF events that went through detection.
    pub events: u64,
    /// Records quarantined (undecodable, unmappable, not OCSF), by reason.
    pub quarantined: BTreeMap<String, u64>,
    /// Events by domain.
    pub events_by_domain: BTreeMap<String, u64>,
    /// Candidate alerts.
    pub alerts: u64,
    /// Alerts by what raised them (`sigma`, `vendor`, `model`, `intel`; an alert may count
    /// under several).
    pub alerts_by_origin: BTreeMap<String, u64>,
    /// Alerts that arrived behind the fusion watermark (kept in alerts.ndjson, not fused).
    pub late_alerts: u64,
    /// Entities with at least one alert.
    pub entities: u64,
    /// Entities whose fused score is at or above the routing threshold at the end.
    pub entities_above_threshold: u64,
    /// Entity risk findings emitted (crossings).
    pub findings: u64,
    /// Tickets in the case store after the run.
    pub tickets: u64,
    /// Sigma rules loaded (0 when disabled or absent).
    pub sigma_rules: usize,
    /// Sigma rules skipped, by reason kind.
    pub sigma_skipped: BTreeMap<String, usize>,
    /// Wall time of the whole run, ms.
    pub elapsed_ms: u64,
    /// Wall time per stage, ms (`read`, `detect`, `score_fuse`, `route`, `write`).
    pub stage_ms: BTreeMap<String, u64>,
    /// Events per second over the whole run.
    pub events_per_sec: f64,
    /// Fusion state (entities live, bytes per entity).
    pub fusion: Value,
}

/// Runs `shrike triage`.
pub fn run(args: TriageArgs, quiet: bool) -> Result<ExitCode> {
    let config = match &args.config {
        Some(p) => TriageConfig::load(p)?,
        None => TriageConfig::default(),
    };
    let opts = TriageOptions {
        inputs: args.paths,
        assets: args.assets,
        config,
        out: args.out,
    };
    let s = run_pipeline(&opts, quiet)?;
    print_summary(&s, &opts.out);
    Ok(ExitCode::SUCCESS)
}

fn print_summary(s: &TriageSummary, out: &Path) {
    eprintln!(
        "triage ({}): {} records, {} events, {} alerts, {} entities ({} above threshold), {} findings, {} tickets in {:.1}s ({:.0} events/s)",
        s.strategy,
        s.records,
        s.events,
        s.alerts,
        s.entities,
        s.entities_above_threshold,
        s.findings,
        s.tickets,
        s.elapsed_ms as f64 / 1000.0,
        s.events_per_sec
    );
    let q: u64 = s.quarantined.values().sum();
    if q > 0 {
        eprintln!("  quarantined: {q} ({}/quarantine.ndjson)", out.display());
        for (k, n) in &s.quarantined {
            eprintln!("    {k:<40} {n}");
        }
    }
    eprintln!("  alerts by origin: {:?}", s.alerts_by_origin);
    eprintln!(
        "  outputs: {}/{{alerts,entities,findings,tickets}}.ndjson, summary.json",
        out.display()
    );
}

/// One event with its time and the detectors that matched it.
pub struct Ev {
    /// Event time (OCSF `time`), ms.
    pub time_ms: i64,
    /// The OCSF event.
    pub event: Value,
    /// Detector hits (filled by [`Stages::detect`]).
    pub hits: Vec<Hit>,
}

impl Ev {
    /// An event with no hits yet.
    pub fn new(event: Value) -> Ev {
        Ev {
            time_ms: event.get("time").and_then(Value::as_i64).unwrap_or(0),
            event,
            hits: Vec::new(),
        }
    }
}

/// Reads every input into events (normalizing raw telemetry), quarantining what cannot be read.
fn read_inputs(
    inputs: &[PathBuf],
    threads: usize,
    quarantine: &mut dyn FnMut(&str, Value),
    summary: &mut TriageSummary,
) -> Result<Vec<Ev>> {
    let engine = Engine::embedded().context("loading the bundled mappings")?;
    let mut events = Vec::new();
    for path in inputs {
        if is_ocsf_ndjson(path) {
            read_ocsf(path, threads, &mut events, quarantine, summary)?;
            continue;
        }
        let opts = DecodeOptions::default();
        let mut sink = |item: DecodeItem| match item {
            DecodeItem::Record(rec) => {
                summary.records += 1;
                match engine.normalize(rec) {
                    Ok(n) => events.push(Ev {
                        time_ms: n.event.get("time").and_then(Value::as_i64).unwrap_or(0),
                        event: n.event,
                        hits: Vec::new(),
                    }),
                    Err(r) => {
                        let q = r.into_quarantined(64 << 10);
                        quarantine(
                            &format!("{}/{}", q.stage, q.reason),
                            serde_json::to_value(&q).unwrap_or(Value::Null),
                        );
                    }
                }
            }
            DecodeItem::Quarantined(q) => {
                summary.records += 1;
                quarantine(
                    &format!("{}/{}", q.stage, q.reason),
                    serde_json::to_value(&q).unwrap_or(Value::Null),
                );
            }
        };
        decode_path(path, &opts, &mut sink)
            .with_context(|| format!("reading {}", path.display()))?;
    }
    Ok(events)
}

/// A file whose first non-empty line is an OCSF event (an object with `class_uid` and
/// `metadata.version`).
fn is_ocsf_ndjson(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !matches!(ext, "ndjson" | "jsonl" | "json") {
        return false;
    }
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let mut r = std::io::BufReader::new(f);
    let mut line = String::new();
    loop {
        line.clear();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => return false,
            Ok(_) if line.trim().is_empty() => continue,
            Ok(_) => break,
        }
    }
    serde_json::from_str::<Value>(line.trim()).is_ok_and(|v| {
        v.get("class_uid").is_some_and(Value::is_u64)
            && v.pointer("/metadata/version").is_some_and(Value::is_string)
    })
}

/// Parses an OCSF NDJSON file on `threads` threads (chunks of lines), in order.
fn read_ocsf(
    path: &Path,
    threads: usize,
    events: &mut Vec<Ev>,
    quarantine: &mut dyn FnMut(&str, Value),
    summary: &mut TriageSummary,
) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let lines: Vec<&[u8]> = bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .collect();
    summary.records += lines.len() as u64;
    let threads = threads.max(1);
    let chunk = lines.len().div_ceil(threads).max(1);
    let parsed: Vec<Vec<std::result::Result<Ev, String>>> = std::thread::scope(|s| {
        let handles: Vec<_> = lines
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|l| match serde_json::from_slice::<Value>(l) {
                            Ok(v) if v.get("class_uid").is_some_and(Value::is_u64) => Ok(Ev {
                                time_ms: v.get("time").and_then(Value::as_i64).unwrap_or(0),
                                event: v,
                                hits: Vec::new(),
                            }),
                            Ok(_) => Err("not an OCSF event (no class_uid)".to_string()),
                            Err(e) => Err(format!("not JSON: {e}")),
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for (res, line) in parsed.into_iter().flatten().zip(&lines) {
        match res {
            Ok(ev) => events.push(ev),
            Err(why) => quarantine(
                "read/not_ocsf",
                json!({
                    "stage": "read",
                    "reason": "not_ocsf",
                    "detail": format!("{}: {why}", path.display()),
                    "raw": String::from_utf8_lossy(&line[..line.len().min(64 << 10)]),
                }),
            ),
        }
    }
    Ok(())
}

/// A parsed line, or why it is not an OCSF event (with its bytes, for the quarantine).
type StreamItem = std::result::Result<Ev, (String, Vec<u8>)>;

/// Streams an OCSF NDJSON file: a reader thread cuts it into blocks of whole lines, `threads`
/// workers parse and detect each block, and `f` receives the blocks in file order (each block
/// stably ordered by event time). Bounded memory: a few blocks in flight.
fn stream_ocsf(
    path: &Path,
    threads: usize,
    det: &Detector,
    mut f: impl FnMut(Vec<StreamItem>) -> Result<()>,
) -> Result<()> {
    use std::sync::mpsc::sync_channel;
    use std::sync::Mutex;
    const BLOCK_BYTES: usize = 4 << 20;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let workers = threads.max(1);
    std::thread::scope(|s| -> Result<()> {
        let (work_tx, work_rx) = sync_channel::<(u64, Vec<u8>)>(workers * 2);
        let work_rx = Arc::new(Mutex::new(work_rx));
        let (done_tx, done_rx) = sync_channel::<(u64, Vec<StreamItem>)>(workers * 2);
        for _ in 0..workers {
            let rx = work_rx.clone();
            let tx = done_tx.clone();
            s.spawn(move || loop {
                let job = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok((seq, block)) = job else { break };
                let mut items: Vec<StreamItem> = block
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                    .map(|l| match serde_json::from_slice::<Value>(l) {
                        Ok(v) if v.get("class_uid").is_some_and(Value::is_u64) => {
                            let mut ev = Ev::new(v);
                            det.detect(&mut ev);
                            Ok(ev)
                        }
                        Ok(_) => Err(("not an OCSF event (no class_uid)".into(), l.to_vec())),
                        Err(e) => Err((format!("not JSON: {e}"), l.to_vec())),
                    })
                    .collect();
                items.sort_by_key(|i| i.as_ref().map_or(i64::MIN, |e| e.time_ms));
                if tx.send((seq, items)).is_err() {
                    break;
                }
            });
        }
        drop(done_tx);
        drop(work_rx);
        let reading = s.spawn(move || -> std::io::Result<()> {
            let mut seq = 0u64;
            loop {
                let mut block = Vec::with_capacity(BLOCK_BYTES + (64 << 10));
                while block.len() < BLOCK_BYTES {
                    if reader.read_until(b'\n', &mut block)? == 0 {
                        break;
                    }
                }
                if block.is_empty() || work_tx.send((seq, block)).is_err() {
                    return Ok(());
                }
                seq += 1;
            }
        });
        let mut next = 0u64;
        let mut pending: BTreeMap<u64, Vec<StreamItem>> = BTreeMap::new();
        let mut failed: Option<anyhow::Error> = None;
        for (seq, items) in done_rx.iter() {
            pending.insert(seq, items);
            while let Some(items) = pending.remove(&next) {
                next += 1;
                if let Err(e) = f(items) {
                    failed = Some(e);
                    break;
                }
            }
            if failed.is_some() {
                break;
            }
        }
        drop(done_rx);
        let read = reading
            .join()
            .map_err(|_| anyhow::anyhow!("the reader thread panicked"))?;
        if let Some(e) = failed {
            return Err(e);
        }
        read.with_context(|| format!("reading {}", path.display()))
    })
}

/// The domain models in use.
struct Models {
    endpoint: Box<dyn DomainModel>,
    network: Box<dyn DomainModel>,
    cloud: Box<dyn DomainModel>,
}

impl Models {
    fn load(paths: &ModelPaths) -> Result<Models> {
        use shrike_detect::models::{
            cloud::CloudModel, endpoint::EndpointModel, network::NetworkModel,
        };
        let read = |p: &Option<PathBuf>| -> Result<Option<Vec<u8>>> {
            p.as_ref()
                .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
                .transpose()
        };
        let endpoint: Box<dyn DomainModel> = match read(&paths.endpoint)? {
            Some(b) => {
                Box::new(EndpointModel::from_bytes(&b).context("loading the endpoint model")?)
            }
            None => {
                Box::new(EndpointModel::embedded().context("loading the bundled endpoint model")?)
            }
        };
        let network: Box<dyn DomainModel> = match read(&paths.network)? {
            Some(b) => Box::new(NetworkModel::from_bytes(&b).context("loading the network model")?),
            None => {
                Box::new(NetworkModel::embedded().context("loading the bundled network model")?)
            }
        };
        let cloud: Box<dyn DomainModel> = match read(&paths.cloud)? {
            Some(b) => Box::new(CloudModel::from_bytes(&b).context("loading the cloud model")?),
            None => Box::new(CloudModel::embedded().context("loading the bundled cloud model")?),
        };
        Ok(Models {
            endpoint,
            network,
            cloud,
        })
    }

    fn for_domain(&mut self, d: Domain) -> Option<&mut Box<dyn DomainModel>> {
        match d {
            Domain::Endpoint => Some(&mut self.endpoint),
            Domain::Network => Some(&mut self.network),
            Domain::Cloud => Some(&mut self.cloud),
            Domain::Email | Domain::Other => None,
        }
    }

    fn state_bytes(&self) -> usize {
        self.endpoint.state_bytes() + self.network.state_bytes() + self.cloud.state_bytes()
    }
}

/// An intel match on one of an event's indicators: the best non-suppressed hit.
fn intel_of(store: &shrike_intel::store::IntelStore, event: &Value) -> Option<(f64, String)> {
    event.get("observables")?;
    let mut best: Option<(u8, String)> = None;
    for ind in shrike_triage::enrich::indicators_of(event) {
        for hit in store.lookup(&ind) {
            if shrike_intel::store::is_suppressed(hit) {
                continue;
            }
            if best.as_ref().is_none_or(|(c, _)| hit.confidence > *c) {
                let family = hit.family.as_deref().unwrap_or("");
                best = Some((
                    hit.confidence,
                    format!("{} {} {} {}", hit.source, hit.threat, family, ind.value)
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" "),
                ));
            }
        }
    }
    best.map(|(c, what)| (f64::from(c) / 100.0, what))
}

fn alert_uid(event_uid: &str, hits: &[Hit], score: Option<&ModelScore>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(event_uid.as_bytes());
    for hit in hits {
        h.update(serde_json::to_vec(&hit.origin).unwrap_or_default());
    }
    if let Some(s) = score {
        h.update(s.model.as_bytes());
    }
    let d = h.finalize();
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn severity_of_probability(p: f64) -> u8 {
    match p {
        p if p >= 0.9 => 4,
        p if p >= 0.7 => 3,
        p if p >= 0.4 => 2,
        _ => 1,
    }
}

/// Builds the candidate alert for one event, or `None` when nothing raised it.
fn make_alert(
    ev: &Ev,
    domain: Domain,
    score: Option<ModelScore>,
    model_threshold: f64,
    intel: Option<&(f64, String)>,
) -> Option<Alert> {
    let model_alert = score
        .as_ref()
        .is_some_and(|s| s.probability >= model_threshold);
    if ev.hits.is_empty() && !model_alert && intel.is_none() {
        return None;
    }
    let event = &ev.event;
    let event_uid = event
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let top = ev.hits.iter().max_by_key(|h| h.severity_id);
    let (title, severity_id) = match (top, &score, intel) {
        (Some(h), _, _) => (h.title.clone(), h.severity_id),
        (None, Some(s), _) if model_alert => (
            format!(
                "{} model: suspicious {} {}",
                domain.as_str(),
                class_name(event),
                subject_of(event)
            )
            .replace("  ", " "),
            severity_of_probability(s.probability),
        ),
        (None, _, Some((c, what))) => (
            format!("threat intel match: {what}"),
            severity_of_probability(*c),
        ),
        _ => (String::from("alert"), 1),
    };
    let mut techniques: Vec<String> = ev
        .hits
        .iter()
        .flat_map(|h| h.techniques.iter().cloned())
        .collect();
    techniques.sort();
    techniques.dedup();
    let mut tactics: Vec<String> = ev
        .hits
        .iter()
        .flat_map(|h| h.tactics.iter().cloned())
        .collect();
    tactics.sort();
    tactics.dedup();
    Some(Alert {
        uid: alert_uid(&event_uid, &ev.hits, score.as_ref()),
        time_ms: ev.time_ms,
        domain,
        hits: ev.hits.clone(),
        score,
        title,
        severity_id,
        techniques,
        tactics,
        event_uid,
        class_uid: event
            .get("class_uid")
            .and_then(Value::as_u64)
            .and_then(|c| u32::try_from(c).ok())
            .unwrap_or(0),
        entities: shrike_normalize::entities::entities(event),
    })
}

/// What a model alert is about, for its title (fusion keys a model alert's prevalence on the
/// title, so one false-positive pattern across the fleet is discounted as one rule): the
/// process, the API call, or the destination service.
fn subject_of(event: &Value) -> String {
    let s = |p: &str| event.pointer(p).and_then(Value::as_str);
    if let Some(v) = s("/process/file/name").or_else(|| s("/actor/process/file/name")) {
        return v.to_ascii_lowercase();
    }
    if let Some(op) = s("/api/operation") {
        return match s("/api/service/name") {
            Some(svc) => format!("{svc} {op}"),
            None => op.to_string(),
        };
    }
    match event.pointer("/dst_endpoint/port").and_then(Value::as_u64) {
        Some(port) => format!("to port {port}"),
        None => String::new(),
    }
}

fn class_name(event: &Value) -> &'static str {
    match event.get("class_uid").and_then(Value::as_u64).unwrap_or(0) {
        1001 => "file",
        1005 => "module",
        1007 => "process",
        201_001 | 201_002 => "registry",
        4001 => "network",
        4003 => "dns",
        6003 => "api",
        2004 => "detection",
        _ => "event",
    }
}

/// The stateless detectors (Sigma, vendor detections): shared by threads.
#[derive(Clone)]
pub struct Detector {
    sigma: Option<Arc<SigmaRules>>,
}

impl Detector {
    /// Appends the Sigma and vendor hits of one event.
    pub fn detect(&self, ev: &mut Ev) {
        if let Some(rules) = &self.sigma {
            rules.matches(&ev.event, &mut ev.hits);
        }
        shrike_detect::vendor::hits(&ev.event, &mut ev.hits);
    }
}

/// What one event produced in the stateful stages.
pub struct EventOutcome {
    /// The candidate alert.
    pub alert: Alert,
    /// The alert as written to alerts.ndjson (with `intel` when the store matched).
    pub alert_json: Value,
    /// Entities that crossed the routing threshold because of it.
    pub crossings: Vec<EntityReport>,
}

/// The detection, scoring and fusion stages, shared by `shrike triage` and `shrike serve`.
pub struct Stages {
    /// The stateless detectors.
    pub detector: Detector,
    models: Models,
    /// The local intel store (also handed to the playbooks' enrichment).
    pub intel: Option<Arc<shrike_intel::store::IntelStore>>,
    /// Per-entity fusion.
    pub fuser: Fuser,
    reasons: usize,
}

impl Stages {
    /// Loads Sigma rules, the domain models, the intel store and the fusion state from the
    /// configuration; `inventory` gives asset criticality and static IP-to-host pairs.
    pub fn build(
        cfg: &TriageConfig,
        inventory: Arc<shrike_triage::assets::Inventory>,
        summary: &mut TriageSummary,
        quiet: bool,
        keep_evicted: bool,
    ) -> Result<Stages> {
        let sigma = if cfg.sigma.enabled && cfg.sigma.rules.is_dir() {
            let (rules, report) = SigmaRules::load_dir(&cfg.sigma.rules).with_context(|| {
                format!("loading Sigma rules from {}", cfg.sigma.rules.display())
            })?;
            summary.sigma_rules = rules.len();
            summary.sigma_skipped = report
                .summary()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            Some(Arc::new(rules))
        } else {
            if cfg.sigma.enabled && !quiet {
                tracing::warn!(
                    "Sigma rules not found at {}: running without Sigma (set [sigma] rules)",
                    cfg.sigma.rules.display()
                );
            }
            None
        };
        let models = Models::load(&cfg.models)?;
        let intel = match &cfg.intel_dir {
            Some(dir) if dir.is_dir() => Some(Arc::new(
                shrike_intel::store::IntelStore::load_default(dir)
                    .with_context(|| format!("loading the intel store from {}", dir.display()))?
                    .0,
            )),
            Some(dir) => {
                tracing::warn!(
                    "intel directory {} is absent: no intel matching",
                    dir.display()
                );
                None
            }
            None => None,
        };
        let mut fusion_cfg = cfg.fusion.clone();
        if let Some(p) = &cfg.stacked_weights {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            fusion_cfg.stacked = Some(
                serde_json::from_slice(&bytes)
                    .with_context(|| format!("parsing stacked weights {}", p.display()))?,
            );
        }
        let mut fuser = Fuser::new(fusion_cfg).context("fusion configuration")?;
        if keep_evicted {
            fuser = fuser.keep_evicted_reports();
        }
        let inv = inventory.clone();
        fuser = fuser.with_criticality(Box::new(move |id: &shrike_fusion::EntityId| {
            inv.criticality_of(&id.key)
        }));
        for host in inventory.hosts() {
            for ip in &host.ips {
                fuser
                    .resolver_mut()
                    .add_static(&ip.to_string(), &host.hostname);
            }
        }
        Ok(Stages {
            detector: Detector { sigma },
            models,
            intel,
            fuser,
            reasons: cfg.reasons,
        })
    }

    /// Stateless detection: Sigma and vendor hits.
    pub fn detect(&self, ev: &mut Ev) {
        self.detector.detect(ev);
    }

    /// Stateful stages for one event, in event-time order: domain model, intel, alert, fusion.
    pub fn score_fuse(&mut self, ev: &Ev, summary: &mut TriageSummary) -> Option<EventOutcome> {
        let domain = Domain::of_event(&ev.event);
        *summary
            .events_by_domain
            .entry(domain.as_str().into())
            .or_default() += 1;
        if ev.event.get("class_uid").and_then(Value::as_u64) == Some(4004) {
            self.fuser.resolver_mut().observe_dhcp(&ev.event);
        }
        let (score, threshold) = match self.models.for_domain(domain) {
            Some(m) => (
                m.score(&ev.event, &ev.hits, self.reasons),
                m.alert_threshold(),
            ),
            None => (None, f64::INFINITY),
        };
        let intel_hit = self.intel.as_ref().and_then(|s| intel_of(s, &ev.event));
        let alert = make_alert(ev, domain, score, threshold, intel_hit.as_ref())?;
        summary.alerts += 1;
        for h in &alert.hits {
            *summary
                .alerts_by_origin
                .entry(h.origin.kind().into())
                .or_default() += 1;
        }
        if alert
            .score
            .as_ref()
            .is_some_and(|s| s.probability >= threshold)
        {
            *summary.alerts_by_origin.entry("model".into()).or_default() += 1;
        }
        if intel_hit.is_some() {
            *summary.alerts_by_origin.entry("intel".into()).or_default() += 1;
        }
        let observed = self
            .fuser
            .observe(&alert, intel_hit.as_ref().map(|(c, w)| (*c, w.as_str())));
        if observed.late {
            summary.late_alerts += 1;
        }
        let mut alert_json = serde_json::to_value(&alert).unwrap_or(Value::Null);
        if let (Some((c, what)), Some(o)) = (&intel_hit, alert_json.as_object_mut()) {
            o.insert("intel".into(), json!({"confidence": c, "match": what}));
        }
        Some(EventOutcome {
            alert,
            alert_json,
            crossings: observed.crossings,
        })
    }
}

/// Runs the whole pipeline and writes the outputs.
pub fn run_pipeline(opts: &TriageOptions, quiet: bool) -> Result<TriageSummary> {
    let started = Instant::now();
    let cfg = &opts.config;
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("creating {}", opts.out.display()))?;
    let mut summary = TriageSummary {
        strategy: cfg.fusion.strategy.as_str().to_string(),
        ..TriageSummary::default()
    };
    // Quarantine.
    let qpath = opts.out.join("quarantine.ndjson");
    let mut qfile = BufWriter::new(
        std::fs::File::create(&qpath).with_context(|| format!("creating {}", qpath.display()))?,
    );
    let mut qerr: Option<std::io::Error> = None;
    let mut quarantined: BTreeMap<String, u64> = BTreeMap::new();
    let mut quarantine = |reason: &str, line: Value| {
        *quarantined.entry(reason.to_string()).or_default() += 1;
        if let Err(e) = writeln!(qfile, "{line}") {
            qerr.get_or_insert(e);
        }
    };

    let mut inventory = shrike_triage::assets::Inventory::new();
    if let Some(p) = &opts.assets {
        inventory
            .load_path(p, shrike_triage::assets::InputFormat::Auto)
            .with_context(|| format!("loading assets {}", p.display()))?;
    }
    let inventory = Arc::new(inventory);
    let mut stages = Stages::build(cfg, inventory.clone(), &mut summary, quiet, true)?;

    let alerts_path = opts.out.join("alerts.ndjson");
    let mut alerts_out = BufWriter::new(
        std::fs::File::create(&alerts_path)
            .with_context(|| format!("creating {}", alerts_path.display()))?,
    );
    let mut crossings: Vec<EntityReport> = Vec::new();
    let mut line = Vec::with_capacity(4096);
    let mut sink = |stages: &mut Stages, ev: &Ev, summary: &mut TriageSummary| -> Result<()> {
        if let Some(out) = stages.score_fuse(ev, summary) {
            crossings.extend(out.crossings);
            line.clear();
            serde_json::to_writer(&mut line, &out.alert_json)?;
            line.push(b'\n');
            alerts_out.write_all(&line)?;
        }
        Ok(())
    };
    let t = Instant::now();
    if opts.inputs.iter().all(|p| is_ocsf_ndjson(p)) {
        // OCSF NDJSON: streamed in file order (parse and detect on worker threads, score and
        // fuse here, in order); events must be time-ordered within the allowed lateness.
        for path in &opts.inputs {
            stream_ocsf(path, cfg.threads, &stages.detector.clone(), |batch| {
                for item in batch {
                    match item {
                        Ok(ev) => {
                            summary.records += 1;
                            summary.events += 1;
                            sink(&mut stages, &ev, &mut summary)?;
                        }
                        Err((why, raw)) => {
                            summary.records += 1;
                            quarantine(
                                "read/not_ocsf",
                                json!({"stage": "read", "reason": "not_ocsf",
                                       "detail": format!("{}: {why}", path.display()),
                                       "raw": String::from_utf8_lossy(&raw[..raw.len().min(64 << 10)])}),
                            );
                        }
                    }
                }
                Ok(())
            })?;
        }
        summary.stage_ms.insert(
            "read_detect_score_fuse".into(),
            t.elapsed().as_millis() as u64,
        );
    } else {
        // Raw telemetry: normalize everything, order by event time, detect on all threads,
        // then score and fuse in order.
        let mut events = read_inputs(&opts.inputs, cfg.threads, &mut quarantine, &mut summary)?;
        events.sort_by_key(|e| e.time_ms);
        summary.events = events.len() as u64;
        summary
            .stage_ms
            .insert("read".into(), t.elapsed().as_millis() as u64);
        let t = Instant::now();
        let chunk = events.len().div_ceil(cfg.threads.max(1)).max(1);
        std::thread::scope(|s| {
            for part in events.chunks_mut(chunk) {
                let det = &stages.detector;
                s.spawn(move || {
                    for ev in part {
                        det.detect(ev);
                    }
                });
            }
        });
        summary
            .stage_ms
            .insert("detect".into(), t.elapsed().as_millis() as u64);
        let t = Instant::now();
        for ev in &events {
            sink(&mut stages, ev, &mut summary)?;
        }
        summary
            .stage_ms
            .insert("score_fuse".into(), t.elapsed().as_millis() as u64);
    }
    alerts_out.flush()?;

    // 5. Route the crossings through the playbooks into the case store.
    let t = Instant::now();
    let findings_path = opts.out.join("findings.ndjson");
    let mut findings_out = BufWriter::new(std::fs::File::create(&findings_path)?);
    let db = opts.out.join("cases.db");
    for p in [
        db.clone(),
        db.with_extension("db-wal"),
        db.with_extension("db-shm"),
    ] {
        let _ = std::fs::remove_file(p);
    }
    let playbooks = Playbooks::load(cfg.playbooks.as_deref(), cfg.routing.as_deref())
        .context("loading playbooks")?;
    let cases = shrike_triage::cases::CaseStore::open(&db)
        .with_context(|| format!("opening {}", db.display()))?;
    let mut enricher = shrike_triage::enrich::Enricher::new().with_inventory(inventory.clone());
    enricher = match stages.intel.clone() {
        Some(store) => enricher.with_intel(store),
        None => enricher.with_intel_unavailable("no intel directory".into()),
    };
    let soar = Arc::new(crate::soar::Soar::new(
        cases,
        playbooks,
        Arc::new(enricher),
        crate::outbound::Outbound::new(&[], |_| None)?,
        cfg.fusion
            .window_secs
            .saturating_mul(1000)
            .try_into()
            .unwrap_or(i64::MAX),
    )?);
    summary.findings = crossings.len() as u64;
    let mut findings = Vec::with_capacity(crossings.len());
    for report in &crossings {
        let at = report.crossed_ms.unwrap_or(report.last_alert_ms);
        let finding = shrike_fusion::detection_finding(report, at);
        serde_json::to_writer(&mut findings_out, &finding)?;
        findings_out.write_all(b"\n")?;
        findings.push((finding, at));
    }
    // The playbooks are async (enrichment may call out): run them on a runtime of their own, on
    // a thread of their own, so this works from inside a caller's runtime too.
    let soar2 = soar.clone();
    std::thread::scope(|sc| {
        sc.spawn(move || -> Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the runtime")?;
            for (finding, at) in findings {
                rt.block_on(soar2.process(finding, at))
                    .map_err(|e| anyhow::anyhow!("case store: {e}"))?;
            }
            Ok(())
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the routing thread panicked"))?
    })?;
    findings_out.flush()?;
    summary
        .stage_ms
        .insert("route".into(), t.elapsed().as_millis() as u64);

    // Outputs.
    let t = Instant::now();
    // Every entity seen: the live ones and those evicted along the way, peak score first.
    let mut reports = stages.fuser.take_evicted_reports();
    reports.extend(stages.fuser.reports());
    reports.sort_by(|a, b| {
        b.peak_score
            .total_cmp(&a.peak_score)
            .then(b.score.total_cmp(&a.score))
    });
    summary.entities = reports.len() as u64;
    summary.entities_above_threshold = reports.iter().filter(|r| r.above_threshold).count() as u64;
    write_ndjson(&opts.out.join("entities.ndjson"), &reports)?;
    let tickets = export_tickets(&soar)?;
    summary.tickets = tickets.len() as u64;
    write_ndjson(&opts.out.join("tickets.ndjson"), &tickets)?;
    summary
        .stage_ms
        .insert("write".into(), t.elapsed().as_millis() as u64);
    qfile.flush()?;
    if let Some(e) = qerr {
        return Err(anyhow::Error::from(e).context("writing the quarantine file"));
    }
    summary.quarantined = quarantined;
    let stats = stages.fuser.stats();
    summary.fusion = json!({
        "stats": serde_json::to_value(&stats).unwrap_or(Value::Null),
        "model_state_bytes": stages.models.state_bytes(),
    });
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    summary.events_per_sec = summary.events as f64 / started.elapsed().as_secs_f64().max(1e-9);
    std::fs::write(
        opts.out.join("summary.json"),
        serde_json::to_vec_pretty(&summary)?,
    )?;
    Ok(summary)
}

fn write_ndjson<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let mut w = BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    for r in rows {
        serde_json::to_writer(&mut w, r)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}

/// Every ticket in the case store, oldest first, as JSON.
fn export_tickets(soar: &crate::soar::Soar) -> Result<Vec<Value>> {
    let store = crate::soar::lock(&soar.cases);
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let filter = shrike_triage::cases::Filter {
            limit: Some(shrike_triage::cases::MAX_LIST_LIMIT),
            after_id: after,
            ..Default::default()
        };
        let page = store
            .list(&filter)
            .map_err(|e| anyhow::anyhow!("listing tickets: {e}"))?;
        let Some(last) = page.last().map(|t| t.id) else {
            break;
        };
        for t in page {
            let full = store
                .get(t.id)
                .map_err(|e| anyhow::anyhow!("reading ticket {}: {e}", t.id))?;
            out.push(serde_json::to_value(&full)?);
        }
        after = Some(last);
    }
    Ok(out)
}

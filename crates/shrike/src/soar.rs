//! Alert triage inside `shrike serve`: `POST /v1/alerts` runs each record through
//! normalize → playbook (score, enrich, combined risk, route) → case store → outbound.
//!
//! # The request
//! The body is telemetry or alerts in any form `shrike normalize` reads (Suricata EVE, Zeek
//! JSON or TSV, CloudTrail, GuardDuty, Windows event JSON, …; NDJSON, a JSON array or one
//! object) or OCSF 1.8.0 events (objects with `class_uid` and `metadata.version`), which are
//! validated and passed through. `?source=` and `?format=` override detection as in
//! `shrike normalize`.
//!
//! # The answer
//! One result per record, by index, in order: `ticket` (with the ticket id, whether it was
//! created, queue, priority, risk, score and its source, failed enrichments, proposed
//! actions), `duplicate` (this alert uid is already stored: nothing changed — replays after a
//! restart are safe), `below_threshold`, `no_playbook`, or `rejected` (with the reason and the
//! record named; also written to the quarantine file when one is configured). A bad record
//! never fails the others. 200 unless the case store itself failed (then 503
//! `store_unavailable`, with the results so far: alerts are idempotent by uid, so a retry of
//! the whole request is safe).

use crate::config::SoarConfig;
use crate::outbound::{Outbound, OutboundEvent};
use crate::server::AppState;
use anyhow::{Context, Result};
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use shrike_intel::provider::{Guarded, Policy, SystemClock};
use shrike_normalize::decode::{decode_bytes, DecodeOptions, Format};
use shrike_normalize::{DecodeItem, Source};
use shrike_triage::cases::{ActionId, CaseError, CaseStore, NewAction, TicketId};
use shrike_triage::enrich::{EnrichBackend, Enricher};
use shrike_triage::playbook::{Decision, Engine as Playbooks, Models, NoModels, Outcome};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Largest number of records in one `POST /v1/alerts`.
pub const MAX_ALERTS_PER_REQUEST: usize = 10_000;

/// Counters of the alert pipeline (exported on `/metrics`).
#[derive(Debug, Default)]
pub struct SoarStats {
    /// Records received.
    pub records: AtomicU64,
    /// Tickets opened.
    pub tickets_created: AtomicU64,
    /// Alerts that joined an open ticket.
    pub alerts_joined: AtomicU64,
    /// Alerts already stored (replays).
    pub duplicates: AtomicU64,
    /// Stopped below a playbook's score threshold.
    pub below_threshold: AtomicU64,
    /// No playbook matched.
    pub no_playbook: AtomicU64,
    /// Rejected records.
    pub rejected: AtomicU64,
    /// Enrichment provider failures.
    pub enrichment_failures: AtomicU64,
}

impl SoarStats {
    /// Prometheus text: `shrike_alerts_total{outcome=…}` and
    /// `shrike_enrichment_failures_total`.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP shrike_alerts_total Alert records posted to /v1/alerts, by outcome.\n\
             # TYPE shrike_alerts_total counter\n",
        );
        for (outcome, c) in [
            ("ticket_created", &self.tickets_created),
            ("joined", &self.alerts_joined),
            ("duplicate", &self.duplicates),
            ("below_threshold", &self.below_threshold),
            ("no_playbook", &self.no_playbook),
            ("rejected", &self.rejected),
        ] {
            out.push_str(&format!(
                "shrike_alerts_total{{outcome=\"{outcome}\"}} {}\n",
                c.load(Ordering::Relaxed)
            ));
        }
        out.push_str(&format!(
            "# HELP shrike_alert_records_total Records received on /v1/alerts.\n\
             # TYPE shrike_alert_records_total counter\nshrike_alert_records_total {}\n\
             # HELP shrike_enrichment_failures_total Enrichment provider calls that failed.\n\
             # TYPE shrike_enrichment_failures_total counter\nshrike_enrichment_failures_total {}\n",
            self.records.load(Ordering::Relaxed),
            self.enrichment_failures.load(Ordering::Relaxed)
        ));
        out
    }
}

/// The SOAR half of the server state.
pub struct Soar {
    /// The case store (SQLite; blocking: call it from `spawn_blocking`).
    pub cases: Arc<Mutex<CaseStore>>,
    /// Playbooks and routing.
    pub playbooks: Playbooks,
    enricher: Arc<dyn EnrichBackend>,
    models: Arc<dyn Models>,
    normalizer: shrike_normalize::Engine,
    outbound: Arc<Outbound>,
    dedup_window_ms: i64,
    quarantine: Option<Mutex<std::fs::File>>,
    /// Detection, scoring and fusion on live events (`POST /v1/events`), when configured.
    pub stages: Option<Mutex<crate::triage::Stages>>,
    /// Counters.
    pub stats: SoarStats,
}

/// Locks, recovering from poisoning (every critical section leaves the store consistent: each
/// mutation is one SQLite transaction).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Soar {
    /// A SOAR state from its parts (tests build one around their own providers).
    pub fn new(
        cases: CaseStore,
        playbooks: Playbooks,
        enricher: Arc<dyn EnrichBackend>,
        outbound: Outbound,
        dedup_window_ms: i64,
    ) -> Result<Soar> {
        Ok(Soar {
            cases: Arc::new(Mutex::new(cases)),
            playbooks,
            enricher,
            models: Arc::new(NoModels),
            normalizer: shrike_normalize::Engine::embedded()
                .context("loading the bundled mappings")?,
            outbound: Arc::new(outbound),
            dedup_window_ms,
            quarantine: None,
            stages: None,
            stats: SoarStats::default(),
        })
    }

    /// Appends rejected records to `path` (NDJSON) from now on.
    pub fn with_quarantine(mut self, path: &Path) -> Result<Soar> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening quarantine file {}", path.display()))?;
        self.quarantine = Some(Mutex::new(f));
        Ok(self)
    }

    /// Builds everything `[soar]` configures. Providers that cannot start (no intel directory,
    /// no VirusTotal key) do not stop the server: their enrichments fail or are skipped, named
    /// on every ticket, and a warning is logged now.
    pub fn from_config(cfg: &SoarConfig) -> Result<Soar> {
        for p in [
            Some(&cfg.db),
            cfg.baseline_db.as_ref(),
            cfg.quarantine.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(parent) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
        }
        let cases = CaseStore::open(&cfg.db)
            .with_context(|| format!("opening the case store {}", cfg.db.display()))?;
        let playbooks = Playbooks::load(cfg.playbooks.as_deref(), cfg.routing.as_deref())
            .context("loading playbooks")?;
        let mut enricher = Enricher::new();
        match &cfg.intel_dir {
            Some(dir) => match shrike_intel::store::IntelStore::load_default(dir) {
                Ok((store, report)) => {
                    tracing::info!(
                        "intel store: {} hits from {} ({} feeds)",
                        store.len(),
                        dir.display(),
                        report.feeds.len()
                    );
                    enricher = enricher.with_intel(Arc::new(store));
                }
                Err(e) => {
                    tracing::warn!("intel store not loaded from {}: {e}", dir.display());
                    enricher = enricher.with_intel_unavailable(format!(
                        "intel store not loaded from {}: {e}",
                        dir.display()
                    ));
                }
            },
            None => {
                enricher = enricher.with_intel_unavailable("no intel_dir configured".into());
            }
        }
        if !cfg.assets.is_empty() {
            let mut inv = shrike_triage::assets::Inventory::new();
            for p in &cfg.assets {
                let s = inv
                    .load_path(p, shrike_triage::assets::InputFormat::Auto)
                    .with_context(|| format!("loading assets {}", p.display()))?;
                tracing::info!("assets {}: {s:?}", p.display());
            }
            enricher = enricher.with_inventory(Arc::new(inv));
        }
        if let Some(p) = &cfg.baseline_db {
            let b = shrike_triage::baseline::Baseline::open(p)
                .with_context(|| format!("opening the baseline store {}", p.display()))?;
            enricher = enricher.with_baseline(Arc::new(Mutex::new(b)));
        }
        if let Some(vt) = &cfg.virustotal {
            let env_name = vt.api_key_env.as_deref().unwrap_or("VT_API_KEY");
            let mut c = shrike_intel::vt::VtConfig::from_vars(|k| {
                if k == "VT_API_KEY" {
                    std::env::var(env_name).ok()
                } else {
                    std::env::var(k).ok()
                }
            });
            if let Some(u) = &vt.base_url {
                c.base_url = u.clone();
            }
            if let Some(n) = vt.per_minute {
                c.quota_per_minute = n;
            }
            c.offline = c.offline || vt.offline;
            let clock = Arc::new(SystemClock::new());
            let client = shrike_intel::vt::VtClient::new(c, clock.clone())
                .context("building the VirusTotal client")?;
            enricher = enricher.with_virustotal(Guarded::new(client, Policy::default(), clock));
        }
        let outbound = Outbound::new(&cfg.outbound, |k| std::env::var(k).ok())?;
        let window = match &cfg.dedup_window {
            Some(w) => shrike_triage::playbook::parse_duration_ms(w)
                .with_context(|| format!("dedup_window {w:?} is not a duration (30m, 1h, 2d)"))?,
            None => 3_600_000,
        };
        let mut soar = Soar::new(cases, playbooks, Arc::new(enricher), outbound, window)?;
        if let Some(path) = &cfg.fusion {
            let tcfg = crate::triage::TriageConfig::load(path)?;
            let mut inventory = shrike_triage::assets::Inventory::new();
            for p in &cfg.assets {
                inventory
                    .load_path(p, shrike_triage::assets::InputFormat::Auto)
                    .with_context(|| format!("loading assets {}", p.display()))?;
            }
            let mut summary = crate::triage::TriageSummary::default();
            let stages = crate::triage::Stages::build(
                &tcfg,
                Arc::new(inventory),
                &mut summary,
                false,
                false,
            )
            .with_context(|| format!("starting fusion from {}", path.display()))?;
            tracing::info!(
                "live fusion: {} Sigma rules, strategy {}",
                summary.sigma_rules,
                summary.strategy
            );
            soar.stages = Some(Mutex::new(stages));
        }
        match &cfg.quarantine {
            Some(q) => soar.with_quarantine(q),
            None => Ok(soar),
        }
    }

    /// Tells the configured outbound targets about `event` on `ticket`, in the background
    /// (deliveries never hold up the API); each report lands in the ticket's audit log
    /// (`delivered`).
    pub fn notify(self: &Arc<Self>, event: OutboundEvent, ticket: TicketId) {
        self.deliver_in_background(event, ticket, None);
    }

    /// Hands an approved action to the outbound targets subscribed to `action_approved`; the
    /// action becomes `delivered` when every one of them accepted it, `failed` otherwise (an
    /// approved action with no subscribed target stays `approved`).
    pub fn notify_action(self: &Arc<Self>, ticket: TicketId, action: ActionId) {
        self.deliver_in_background(OutboundEvent::ActionApproved, ticket, Some(action));
    }

    fn deliver_in_background(
        self: &Arc<Self>,
        event: OutboundEvent,
        ticket: TicketId,
        action_id: Option<ActionId>,
    ) {
        if self.outbound.is_empty() {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let cases = me.cases.clone();
            let loaded = tokio::task::spawn_blocking(move || lock(&cases).get(ticket)).await;
            let t = match loaded {
                Ok(Ok(t)) => t,
                Ok(Err(e)) => {
                    tracing::warn!("outbound {event:?} for ticket {ticket}: {e}");
                    return;
                }
                Err(e) => {
                    tracing::error!("outbound {event:?} for ticket {ticket}: {e}");
                    return;
                }
            };
            let action = action_id.and_then(|id| {
                t.actions
                    .iter()
                    .find(|a| a.id == id)
                    .and_then(|a| serde_json::to_value(a).ok())
            });
            let reports = me.outbound.deliver(event, &t, action.as_ref()).await;
            let cases = me.cases.clone();
            let _ = tokio::task::spawn_blocking(move || {
                let mut store = lock(&cases);
                for r in &reports {
                    if !r.ok {
                        tracing::warn!(
                            "outbound {} for ticket {ticket} failed: {:?}",
                            r.target,
                            r.error
                        );
                    }
                    let after = serde_json::to_value(r).unwrap_or(Value::Null);
                    if let Err(e) = store.note(ticket, "outbound", "delivered", &after) {
                        tracing::warn!("recording delivery for ticket {ticket}: {e}");
                    }
                }
                if let (Some(id), false) = (action_id, reports.is_empty()) {
                    let delivered = reports.iter().all(|r| r.ok);
                    let result = serde_json::to_value(&reports).unwrap_or(Value::Null);
                    if let Err(e) = store.record_action_result(id, delivered, &result) {
                        tracing::warn!("recording the result of action {id}: {e}");
                    }
                }
            })
            .await;
        });
    }

    /// Runs one OCSF event through the playbooks and the case store. `Err` only for a case
    /// store failure (the caller answers 503).
    pub async fn process(
        self: &Arc<Self>,
        mut event: Value,
        received_ms: i64,
    ) -> std::result::Result<Value, CaseError> {
        let uid = ensure_uid(&mut event);
        let decision = self
            .playbooks
            .run(&event, self.models.as_ref(), self.enricher.as_ref())
            .await;
        let failed: Vec<Value> = decision
            .enrichments
            .iter()
            .filter_map(|r| match &r.status {
                shrike_triage::enrich::ProviderStatus::Failed { error } => {
                    Some(json!({"provider": r.provider, "error": error}))
                }
                _ => None,
            })
            .collect();
        self.stats
            .enrichment_failures
            .fetch_add(failed.len() as u64, Ordering::Relaxed);
        let mut out = json!({
            "uid": uid,
            "playbook": decision.playbook,
            "outcome": decision.outcome,
            "score": decision.score.as_ref().map(|s| s.value),
            "score_source": decision.score.as_ref().map(|s| s.source),
        });
        let Some(alert) = decision.new_alert(&event, &uid, received_ms) else {
            let counter = match decision.outcome {
                Outcome::NoPlaybook => &self.stats.no_playbook,
                _ => &self.stats.below_threshold,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            return Ok(out);
        };
        let cases = self.cases.clone();
        let window = self.dedup_window_ms;
        let d: Decision = decision;
        let (res, d, auto_closed) = tokio::task::spawn_blocking(move || {
            let mut store = lock(&cases);
            let res = store.ingest_alert(&alert, window)?;
            let mut auto_closed = false;
            if res.created && !res.duplicate_alert {
                if let Some(why) = &d.auto_close {
                    store.auto_close(res.ticket_id, why)?;
                    auto_closed = true;
                }
            }
            if !res.duplicate_alert && !auto_closed {
                for a in &d.actions {
                    store.request_action(
                        res.ticket_id,
                        &NewAction {
                            name: a.name.clone(),
                            kind: a.kind,
                            target: a.target.clone(),
                            params: a.params.clone(),
                            requested_by: format!(
                                "playbook:{}",
                                d.playbook.as_deref().unwrap_or("")
                            ),
                        },
                    )?;
                }
            }
            Ok::<_, CaseError>((res, d, auto_closed))
        })
        .await
        .map_err(|e| CaseError::Invalid(format!("case store task failed: {e}")))??;
        let counter = if res.duplicate_alert {
            out["outcome"] = json!("duplicate");
            &self.stats.duplicates
        } else if res.created {
            &self.stats.tickets_created
        } else {
            &self.stats.alerts_joined
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let route = d.route.as_ref();
        let o = out.as_object_mut().expect("built as an object");
        o.insert("ticket_id".into(), json!(res.ticket_id));
        o.insert("created".into(), json!(res.created));
        o.insert("queue".into(), json!(route.map(|r| &r.queue)));
        o.insert("priority".into(), json!(route.map(|r| r.priority)));
        o.insert("rule".into(), json!(route.map(|r| &r.rule)));
        o.insert("risk".into(), json!(d.risk.as_ref().map(|r| r.risk)));
        o.insert("entity".into(), json!(d.entity));
        o.insert("technique".into(), json!(d.technique));
        o.insert("auto_closed".into(), json!(auto_closed));
        o.insert(
            "actions".into(),
            json!(d.actions.iter().map(|a| &a.name).collect::<Vec<_>>()),
        );
        o.insert("failed_enrichments".into(), json!(failed));
        if res.created && !res.duplicate_alert && !auto_closed {
            self.notify(OutboundEvent::TicketCreated, res.ticket_id);
        } else if res.escalated {
            self.notify(OutboundEvent::TicketEscalated, res.ticket_id);
        }
        o.insert("escalated".into(), json!(res.escalated));
        Ok(out)
    }

    fn quarantine(&self, index: usize, reason: &str, detail: &str, raw: &[u8]) {
        self.stats.rejected.fetch_add(1, Ordering::Relaxed);
        if let Some(q) = &self.quarantine {
            let line = json!({
                "index": index,
                "reason": reason,
                "detail": detail,
                "raw": String::from_utf8_lossy(&raw[..raw.len().min(64 * 1024)]),
                "at_ms": shrike_triage::db::now_ms(),
            });
            let mut f = lock(q);
            if let Err(e) = writeln!(f, "{line}") {
                tracing::error!("writing the quarantine file: {e}");
            }
        }
    }
}

/// The event's `metadata.uid`, set to a content hash (first 128 bits of SHA-256 of the event
/// JSON, hex) when absent or empty.
pub fn ensure_uid(event: &mut Value) -> String {
    if let Some(u) = event
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
    {
        return u.to_owned();
    }
    let digest = Sha256::digest(serde_json::to_vec(event).unwrap_or_default());
    let uid: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    if let Some(m) = event.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("uid".into(), json!(uid));
    }
    uid
}

fn is_ocsf(v: &Value) -> bool {
    v.get("class_uid").is_some_and(Value::is_u64) && v.pointer("/metadata/version").is_some()
}

/// `?source=` and `?format=` of `POST /v1/alerts`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// Source override (`zeek`, `suricata`, …).
    pub source: Option<String>,
    /// Format override (`zeek-tsv`, `json`, …).
    pub format: Option<String>,
}

/// One input record: an OCSF event, raw bytes to decode, or a record already rejected.
enum Item {
    Ocsf(Value),
    Raw(Vec<u8>),
}

/// Splits the body into records: a JSON array, NDJSON, one JSON object, or (anything else)
/// one stream for the decoders.
fn split_body(body: &[u8]) -> Vec<Item> {
    let trimmed = body.trim_ascii_start();
    if trimmed.starts_with(b"[") {
        if let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(body) {
            return items
                .into_iter()
                .map(|v| {
                    if is_ocsf(&v) {
                        Item::Ocsf(v)
                    } else {
                        Item::Raw(serde_json::to_vec(&v).unwrap_or_default())
                    }
                })
                .collect();
        }
    }
    if trimmed.starts_with(b"{") {
        if let Ok(v) = serde_json::from_slice::<Value>(body) {
            return vec![if is_ocsf(&v) {
                Item::Ocsf(v)
            } else {
                Item::Raw(body.to_vec())
            }];
        }
        return body
            .split(|b| *b == b'\n')
            .filter(|l| !l.trim_ascii().is_empty())
            .map(|l| match serde_json::from_slice::<Value>(l) {
                Ok(v) if is_ocsf(&v) => Item::Ocsf(v),
                _ => Item::Raw(l.to_vec()),
            })
            .collect();
    }
    vec![Item::Raw(body.to_vec())]
}

fn api_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message.into()}})),
    )
        .into_response()
}

/// The common prologue of the ingest endpoints: the SOAR state (404 `soar_disabled`), the
/// body up to the size limit (413 `body_too_large`, 400 `empty_body`), the decode options
/// (400 naming a bad `source` or `format`).
#[allow(clippy::result_large_err)] // the error is the finished response
async fn ingest_request(
    st: &AppState,
    q: &AlertQuery,
    body: Body,
) -> std::result::Result<(Arc<Soar>, axum::body::Bytes, DecodeOptions), Response> {
    let Some(soar) = st.soar().cloned() else {
        return Err(api_error(
            StatusCode::NOT_FOUND,
            "soar_disabled",
            "alert triage is off: add a [soar] section to the serve configuration",
        ));
    };
    let bytes = match axum::body::to_bytes(body, st.max_body_bytes()).await {
        Ok(b) if b.trim_ascii().is_empty() => {
            return Err(api_error(
                StatusCode::BAD_REQUEST,
                "empty_body",
                "the request body is empty",
            ))
        }
        Ok(b) => b,
        Err(_) => {
            return Err(api_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("request body exceeds {} bytes", st.max_body_bytes()),
            ))
        }
    };
    Ok((soar, bytes, decode_options(q)?))
}

/// `POST /v1/alerts` (role `ingest`): telemetry or OCSF events in, one result per record out.
pub async fn ingest_alerts(
    State(st): State<Arc<AppState>>,
    Query(q): Query<AlertQuery>,
    body: Body,
) -> Response {
    let (soar, bytes, opts) = match ingest_request(&st, &q, body).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let received_ms = shrike_triage::db::now_ms();
    // Decode and normalize (CPU-bound) off the async workers.
    let soar2 = soar.clone();
    let prepared = tokio::task::spawn_blocking(move || prepare(&soar2, &bytes, &opts)).await;
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("decoding alerts: {e}");
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "decoding the alerts failed",
            );
        }
    };
    if prepared.len() > MAX_ALERTS_PER_REQUEST {
        return api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_alerts",
            format!(
                "{} records in one request; at most {MAX_ALERTS_PER_REQUEST}",
                prepared.len()
            ),
        );
    }
    soar.stats
        .records
        .fetch_add(prepared.len() as u64, Ordering::Relaxed);
    let mut results = Vec::with_capacity(prepared.len());
    let mut store_error = None;
    for (index, p) in prepared.into_iter().enumerate() {
        match p {
            Err((reason, detail, raw)) => {
                soar.quarantine(index, &reason, &detail, &raw);
                results.push(json!({"index": index, "outcome": "rejected",
                                    "error": {"reason": reason, "detail": detail}}));
            }
            Ok(event) => {
                if store_error.is_some() {
                    results.push(json!({"index": index, "outcome": "not_processed"}));
                    continue;
                }
                match soar.process(event, received_ms).await {
                    Ok(mut r) => {
                        r["index"] = json!(index);
                        results.push(r);
                    }
                    Err(CaseError::Invalid(m)) => {
                        let detail = format!("record {index}: {m}");
                        soar.quarantine(index, "store_rejected", &detail, b"");
                        results.push(json!({"index": index, "outcome": "rejected",
                                            "error": {"reason": "store_rejected", "detail": detail}}));
                    }
                    Err(e) => {
                        tracing::error!("case store: {e}");
                        store_error = Some(e.to_string());
                        results.push(json!({"index": index, "outcome": "not_processed"}));
                    }
                }
            }
        }
    }
    let count = |o: &str| results.iter().filter(|r| r["outcome"] == o).count();
    let summary = json!({
        "count": results.len(),
        "tickets_created": results.iter().filter(|r| r["created"] == true).count(),
        "joined": results.iter().filter(|r| r["outcome"] == "ticket" && r["created"] == false).count(),
        "duplicate": count("duplicate"),
        "below_threshold": count("below_threshold"),
        "no_playbook": count("no_playbook"),
        "rejected": count("rejected"),
        "results": results,
    });
    match store_error {
        None => (StatusCode::OK, axum::Json(summary)).into_response(),
        Some(e) => {
            let mut body = summary;
            body["error"] = json!({"code": "store_unavailable",
                                   "message": format!("the case store failed ({e}); alerts are idempotent by uid: retry the request")});
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
        }
    }
}

/// `POST /v1/events` (role `ingest`): telemetry or OCSF events through the detection, scoring
/// and fusion stages of `shrike triage`; entities crossing the routing threshold become entity
/// risk findings that run through the playbooks into the case store. One result per record.
/// Events must arrive roughly in event-time order: one behind the fusion watermark is counted
/// `late` and not fused.
pub async fn ingest_events(
    State(st): State<Arc<AppState>>,
    Query(q): Query<AlertQuery>,
    body: Body,
) -> Response {
    let (soar, bytes, opts) = match ingest_request(&st, &q, body).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if soar.stages.is_none() {
        return api_error(
            StatusCode::NOT_FOUND,
            "fusion_disabled",
            "live fusion is off: set [soar] fusion = \"<triage config>.toml\"",
        );
    }
    let soar2 = soar.clone();
    let done = tokio::task::spawn_blocking(move || {
        let prepared = prepare(&soar2, &bytes, &opts);
        if prepared.len() > MAX_ALERTS_PER_REQUEST {
            return Err(prepared.len());
        }
        let mut results = Vec::with_capacity(prepared.len());
        let mut crossings = Vec::new();
        let mut summary = crate::triage::TriageSummary::default();
        let Some(stages) = soar2.stages.as_ref() else {
            return Ok((results, crossings));
        };
        let mut stages = lock(stages);
        for (index, p) in prepared.into_iter().enumerate() {
            match p {
                Err((reason, detail, raw)) => {
                    soar2.quarantine(index, &reason, &detail, &raw);
                    results.push(json!({"index": index, "outcome": "rejected",
                                        "error": {"reason": reason, "detail": detail}}));
                }
                Ok(event) => {
                    let mut ev = crate::triage::Ev::new(event);
                    stages.detect(&mut ev);
                    let late_before = summary.late_alerts;
                    match stages.score_fuse(&ev, &mut summary) {
                        None => results.push(json!({"index": index, "outcome": "no_alert"})),
                        Some(out) => {
                            let late = summary.late_alerts > late_before;
                            results.push(json!({
                                "index": index,
                                "outcome": if late { "late" } else { "alert" },
                                "alert_uid": out.alert.uid,
                                "title": out.alert.title,
                                "crossings": out.crossings.iter().map(|c| json!({"entity": c.entity, "score": c.score, "level": c.level})).collect::<Vec<_>>(),
                            }));
                            crossings.extend(out.crossings);
                        }
                    }
                }
            }
        }
        Ok((results, crossings))
    })
    .await;
    let (mut results, crossings) = match done {
        Ok(Ok(r)) => r,
        Ok(Err(n)) => {
            return api_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_many_events",
                format!("{n} records in one request; at most {MAX_ALERTS_PER_REQUEST}"),
            )
        }
        Err(e) => {
            tracing::error!("fusing events: {e}");
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "fusing the events failed",
            );
        }
    };
    let mut tickets = Vec::new();
    for report in &crossings {
        let at = report.crossed_ms.unwrap_or(report.last_alert_ms);
        let finding = shrike_fusion::detection_finding(report, at);
        match soar.process(finding, shrike_triage::db::now_ms()).await {
            Ok(r) => tickets.push(r),
            Err(e) => {
                tracing::error!("case store: {e}");
                let body = json!({"results": results, "tickets": tickets,
                                  "error": {"code": "store_unavailable", "message": format!("the case store failed ({e}); findings are idempotent by uid: retry the request")}});
                return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
            }
        }
    }
    let count = |o: &str| results.iter().filter(|r| r["outcome"] == o).count();
    let body = json!({
        "count": results.len(),
        "alerts": count("alert"),
        "late": count("late"),
        "no_alert": count("no_alert"),
        "rejected": count("rejected"),
        "findings": crossings.len(),
        "tickets": tickets,
        "results": std::mem::take(&mut results),
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// `source` and `format` query parameters as decode options (400 naming a bad value).
#[allow(clippy::result_large_err)] // the error is the finished 400 response
fn decode_options(q: &AlertQuery) -> std::result::Result<DecodeOptions, Response> {
    let mut opts = DecodeOptions::default();
    if let Some(s) = &q.source {
        match Source::parse(s) {
            Some(src) => opts.source = Some(src),
            None => {
                return Err(api_error(
                    StatusCode::BAD_REQUEST,
                    "bad_source",
                    format!("unknown source {s:?}"),
                ))
            }
        }
    }
    if let Some(f) = &q.format {
        match Format::parse(f) {
            Some(fmt) => opts.format = fmt,
            None => {
                return Err(api_error(
                    StatusCode::BAD_REQUEST,
                    "bad_format",
                    format!("unknown format {f:?}"),
                ))
            }
        }
    }
    Ok(opts)
}

type Prepared = std::result::Result<Value, (String, String, Vec<u8>)>;

/// Decodes, normalizes and validates every record of a body, in order.
fn prepare(soar: &Soar, body: &[u8], opts: &DecodeOptions) -> Vec<Prepared> {
    let schema = shrike_ocsf::Schema::shared();
    let mut out: Vec<Prepared> = Vec::new();
    for (i, item) in split_body(body).into_iter().enumerate() {
        match item {
            Item::Ocsf(v) => {
                let errs = schema.validate(&v);
                if errs.is_empty() {
                    out.push(Ok(v));
                } else {
                    let detail = errs
                        .iter()
                        .take(3)
                        .map(|e| format!("{e:?}"))
                        .collect::<Vec<_>>()
                        .join("; ");
                    out.push(Err((
                        "ocsf_invalid".into(),
                        format!("record {i}: not valid OCSF 1.8.0: {detail}"),
                        serde_json::to_vec(&v).unwrap_or_default(),
                    )));
                }
            }
            Item::Raw(bytes) => {
                let name = format!("request record {i}");
                decode_bytes(&name, &bytes, opts, &mut |d| match d {
                    DecodeItem::Record(r) => {
                        let raw = r.raw.clone();
                        out.push(
                            soar.normalizer
                                .normalize(r)
                                .map(|n| n.event)
                                .map_err(|rej| {
                                    (
                                        rej.reason.to_string(),
                                        format!("{name}: {}", rej.detail),
                                        raw,
                                    )
                                }),
                        );
                    }
                    DecodeItem::Quarantined(q) => out.push(Err((
                        q.reason.to_string(),
                        format!("{name}: {}", q.detail),
                        {
                            use base64::Engine as _;
                            base64::engine::general_purpose::STANDARD
                                .decode(&q.raw_b64)
                                .unwrap_or_default()
                        },
                    ))),
                });
            }
        }
    }
    out
}

//! Outbound deliveries of ticket events: a signed (HMAC-SHA256) generic webhook, and the payload
//! shapes XSOAR incidents, Splunk SOAR containers/artifacts and TheHive 5 alerts take.
//!
//! Key items: [`payload`] (pure: ticket → JSON body of one [`OutboundKind`]), [`Outbound`] (the
//! configured targets; [`Outbound::deliver`] posts one event to every subscribed target and
//! returns one [`DeliveryReport`] each), [`sign`] / [`verify`] (the webhook signature).
//!
//! # Webhook signing
//!
//! Like Stripe's and GitHub's webhooks. Every webhook request carries
//!
//! | header | value |
//! |---|---|
//! | `X-Shrike-Timestamp` | Unix seconds when this attempt was sent |
//! | `X-Shrike-Signature` | `sha256=` + lowercase hex of HMAC-SHA256(secret, `"{timestamp}.{body}"`) |
//! | `X-Shrike-Event` | `ticket_created`, `ticket_escalated`, `action_approved`, `ticket_resolved` |
//! | `X-Shrike-Delivery` | unique id of the delivery, the same on each retry (an idempotency key) |
//! | `Content-Type` | `application/json` |
//!
//! The body is signed exactly as sent (raw bytes, before any JSON parsing). Signing the
//! timestamp with it stops replays: a receiver calls [`verify`] (or does the same: recompute,
//! compare in constant time, reject a timestamp more than a few minutes from its clock) and
//! remembers delivery ids it has processed. Each retry is signed afresh with its own timestamp.
//! Webhooks are always signed: a webhook target without a secret is a configuration error.
//!
//! # Delivery
//!
//! POST with a 10 s timeout; up to [`MAX_ATTEMPTS`] attempts with exponential backoff (base
//! 200 ms, doubled each retry) on connection errors, timeouts, 429 and 5xx, honouring a
//! `Retry-After` in seconds up to [`MAX_RETRY_AFTER`]; other 4xx are never retried (the payload
//! or credentials are wrong; retrying cannot help). Redirects are not followed (a 3xx is a
//! failure), so a compromised or misconfigured receiver cannot bounce the secret-bearing request
//! to another host. Nothing here ever fetches a URL found in an alert: alert data is only ever
//! payload. Deliveries never panic; a receiver that is down gives `ok: false` with the error.
//!
//! # Repeated events on one ticket
//!
//! - XSOAR: every event creates an incident (`POST /incident` without `id`/`version` never
//!   updates); a playbook correlates them on `CustomFields.shriketicketid`.
//! - Splunk SOAR: the container's `source_data_identifier` is stable (`shrike-ticket-<id>`), so
//!   SOAR recognises a later event's container as a duplicate of the first; artifacts have stable
//!   content-derived identifiers too.
//! - TheHive: `(type, source, sourceRef)` must be unique, so `sourceRef` is `shrike-<id>` for
//!   `ticket_created` and `shrike-<id>-<event>-v<version>` (plus the action's `id` for
//!   `action_approved`) for the others; TheHive rejects an exact repeat with a 4xx, which is
//!   reported and not retried.
//!
//! Must not: log or report secrets; follow redirects; block the caller on a slow receiver
//! beyond the attempt budget.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use shrike_triage::cases::{Priority, Ticket};

use crate::output::rfc3339_ms;

/// Attempts per delivery (the first try included).
pub const MAX_ATTEMPTS: u32 = 3;
/// Default backoff before the first retry; doubled for each later one.
pub const DEFAULT_BACKOFF: Duration = Duration::from_millis(200);
/// Longest `Retry-After` honoured; a longer one is cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Timeout of one attempt (connect, send, response).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most artifacts (Splunk SOAR) or observables (TheHive) in one payload.
pub const MAX_OBSERVABLES: usize = 100;
/// Most alerts listed in a payload (the newest are kept).
pub const MAX_ALERTS: usize = 50;
/// Most bytes of a response body read (for the remote id and error messages).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Where a delivery goes and in which shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboundKind {
    /// Shrike's own JSON, signed with HMAC-SHA256.
    Webhook,
    /// Cortex XSOAR `POST /incident`.
    Xsoar,
    /// Splunk SOAR `POST /rest/container` (artifacts inline).
    SplunkSoar,
    /// TheHive 5 `POST /api/v1/alert`.
    Thehive,
}

impl OutboundKind {
    /// The configuration spelling (`webhook`, `xsoar`, `splunk_soar`, `thehive`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Xsoar => "xsoar",
            Self::SplunkSoar => "splunk_soar",
            Self::Thehive => "thehive",
        }
    }
}

impl fmt::Display for OutboundKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to a ticket that is worth telling a SOAR platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboundEvent {
    /// A playbook opened a ticket.
    TicketCreated,
    /// An alert raised an open ticket's priority or risk.
    TicketEscalated,
    /// An analyst approved a containment action; the receiver carries it out.
    ActionApproved,
    /// An analyst recorded a disposition.
    TicketResolved,
}

impl OutboundEvent {
    /// The wire spelling (`ticket_created`, …), as in `X-Shrike-Event`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TicketCreated => "ticket_created",
            Self::TicketEscalated => "ticket_escalated",
            Self::ActionApproved => "action_approved",
            Self::TicketResolved => "ticket_resolved",
        }
    }
}

impl fmt::Display for OutboundEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[[soar.outbound]]` entry of the serve configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundConfig {
    /// Name used in logs and in the ticket's audit log.
    pub name: String,
    /// Payload shape.
    pub kind: OutboundKind,
    /// Full URL to POST to.
    pub url: String,
    /// Environment variable holding the secret: the HMAC key (webhook) or the API key/token
    /// (XSOAR `Authorization`, Splunk SOAR `ph-auth-token`, TheHive `Bearer`).
    pub secret_env: Option<String>,
    /// Events delivered; default all.
    #[serde(default)]
    pub events: Vec<OutboundEvent>,
    /// Link to a ticket in Shrike's UI, `{id}` replaced by the ticket id (webhook `ticket.url`,
    /// TheHive `externalLink`); absent: no link.
    #[serde(default)]
    pub ticket_url: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Signing

type HmacSha256 = Hmac<Sha256>;

/// Why a webhook signature was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The header is not `sha256=<64 hex digits>`.
    Malformed,
    /// The timestamp is further from the receiver's clock than the tolerance.
    Stale {
        /// Timestamp sent.
        timestamp_s: i64,
        /// Its distance from the receiver's clock.
        skew_s: i64,
        /// Allowed distance.
        tolerance_s: i64,
    },
    /// The signature does not match the body and timestamp.
    Mismatch,
}

// By hand: `shrike` has no thiserror (the binary crate uses anyhow).
impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("malformed signature header (want sha256=<hex>)"),
            Self::Stale {
                timestamp_s,
                skew_s,
                tolerance_s,
            } => write!(
                f,
                "timestamp {timestamp_s} is {skew_s} s away from now (tolerance {tolerance_s} s)"
            ),
            Self::Mismatch => f.write_str("signature mismatch"),
        }
    }
}

impl std::error::Error for VerifyError {}

fn mac(secret: &[u8], timestamp_s: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length (longer ones are hashed first), so this cannot fail.
    let mut m = <HmacSha256 as Mac>::new_from_slice(secret)
        .expect("invariant: HMAC accepts keys of every length");
    m.update(timestamp_s.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The `X-Shrike-Signature` value: `sha256=` + lowercase hex of HMAC-SHA256(`secret`,
/// `"{timestamp_s}.{body}"`).
pub fn sign(secret: &[u8], timestamp_s: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp_s, body).finalize().into_bytes();
    format!("sha256={}", hex(&tag))
}

/// Checks a webhook signature: the header matches `body` and `timestamp_s` under `secret`
/// (compared in constant time), and `timestamp_s` is within `tolerance_s` seconds of `now_s`.
///
/// # Errors
/// [`VerifyError::Malformed`], [`VerifyError::Stale`] or [`VerifyError::Mismatch`].
pub fn verify(
    secret: &[u8],
    timestamp_s: i64,
    body: &[u8],
    signature_header: &str,
    now_s: i64,
    tolerance_s: i64,
) -> Result<(), VerifyError> {
    let given = signature_header
        .trim()
        .strip_prefix("sha256=")
        .and_then(unhex)
        .filter(|b| b.len() == 32)
        .ok_or(VerifyError::Malformed)?;
    let skew_s = now_s.saturating_sub(timestamp_s).saturating_abs();
    if skew_s > tolerance_s {
        return Err(VerifyError::Stale {
            timestamp_s,
            skew_s,
            tolerance_s,
        });
    }
    // `verify_slice` compares in constant time.
    mac(secret, timestamp_s, body)
        .verify_slice(&given)
        .map_err(|_| VerifyError::Mismatch)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            let hi = char::from(*pair.first()?).to_digit(16)?;
            let lo = char::from(*pair.get(1)?).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Payloads

/// The JSON body `kind` takes for `event` on `ticket` (with the approved `action`, if any).
/// Pure: no clock, no I/O; the webhook's `delivery_id` is added by [`Outbound::deliver`].
pub fn payload(
    kind: OutboundKind,
    event: OutboundEvent,
    ticket: &Ticket,
    action: Option<&Value>,
) -> Value {
    match kind {
        OutboundKind::Webhook => webhook_payload(event, ticket, action, None),
        OutboundKind::Xsoar => xsoar_payload(event, ticket, action),
        OutboundKind::SplunkSoar => splunk_payload(event, ticket, action),
        OutboundKind::Thehive => thehive_payload(event, ticket, action, None),
    }
}

fn technique_tag(ticket: &Ticket) -> Option<String> {
    let t = ticket.summary.technique.trim();
    (!t.is_empty()).then(|| format!("attack:{t}"))
}

fn tags(event: OutboundEvent, ticket: &Ticket) -> Vec<String> {
    let s = &ticket.summary;
    let mut tags = vec!["shrike".to_owned()];
    tags.extend(technique_tag(ticket));
    tags.push(format!("queue:{}", s.queue));
    tags.push(format!("priority:{}", s.priority));
    tags.push(format!("event:{event}"));
    tags
}

fn ticket_url(template: Option<&str>, ticket: &Ticket) -> Option<String> {
    template.map(|t| t.replace("{id}", &ticket.summary.id.0.to_string()))
}

/// The ticket's own fields, as in the webhook and XSOAR's `rawJSON`.
fn ticket_json(ticket: &Ticket, url: Option<String>) -> Value {
    let s = &ticket.summary;
    let mut t = json!({
        "id": s.id.0,
        "title": s.title,
        "queue": s.queue,
        "priority": s.priority.as_str(),
        "status": s.status.as_str(),
        "sla_due": rfc3339_ms(s.sla_due_ms),
        "combined_risk": s.combined_risk,
        "risk_explanation": s.risk_explanation,
        "entity": {"kind": s.entity_kind, "key": s.entity_key},
        "technique": if s.technique.is_empty() { Value::Null } else { Value::from(s.technique.as_str()) },
        "assignee": s.assignee,
        "created": rfc3339_ms(s.created_ms),
        "first_alert": rfc3339_ms(s.first_alert_ms),
        "last_alert": rfc3339_ms(s.last_alert_ms),
        "version": s.version,
    });
    if let (Some(u), Some(obj)) = (url, t.as_object_mut()) {
        obj.insert("url".to_owned(), Value::String(u));
    }
    t
}

/// The newest [`MAX_ALERTS`] alerts (the ticket keeps them oldest first).
fn recent_alerts(ticket: &Ticket) -> &[shrike_triage::cases::StoredAlert] {
    let skip = ticket.alerts.len().saturating_sub(MAX_ALERTS);
    ticket.alerts.get(skip..).unwrap_or_default()
}

fn enrichment_status(outcome: &Value) -> (&'static str, Option<String>) {
    match outcome.get("error") {
        Some(Value::String(e)) => ("error", Some(e.clone())),
        Some(Value::Null) | None => ("ok", None),
        Some(other) => ("error", Some(other.to_string())),
    }
}

fn webhook_payload(
    event: OutboundEvent,
    ticket: &Ticket,
    action: Option<&Value>,
    url: Option<String>,
) -> Value {
    let alerts: Vec<Value> = recent_alerts(ticket)
        .iter()
        .map(|a| {
            json!({
                "uid": a.uid,
                "source": a.source,
                "class_uid": a.class_uid,
                "model_score": a.model_score,
                "received": rfc3339_ms(a.received_ms),
            })
        })
        .collect();
    let enrichments: Vec<Value> = ticket
        .enrichments
        .iter()
        .map(|e| {
            let (status, error) = enrichment_status(&e.outcome);
            let mut v = json!({"provider": e.provider, "status": status, "alert_uid": e.alert_uid});
            if let (Some(err), Some(obj)) = (error, v.as_object_mut()) {
                obj.insert("error".to_owned(), Value::String(err));
            }
            v
        })
        .collect();
    json!({
        "event": event.as_str(),
        "ticket": ticket_json(ticket, url),
        "alerts": alerts,
        "alert_count": ticket.alerts.len(),
        "enrichments": enrichments,
        "action": action.cloned().unwrap_or(Value::Null),
    })
}

/// One-paragraph summary of the risk explanation: its `summary`/`text` string when it has one,
/// else its top-level fields.
fn risk_text(explanation: &Value) -> String {
    for key in ["summary", "text"] {
        if let Some(s) = explanation.get(key).and_then(Value::as_str) {
            return s.to_owned();
        }
    }
    match explanation {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("- {k}: {s}"),
                other => format!("- {k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => "(none)".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Markdown description: the ticket, its risk explanation, enrichments and alerts.
fn description(event: OutboundEvent, ticket: &Ticket, action: Option<&Value>) -> String {
    let s = &ticket.summary;
    let mut d = format!(
        "**Shrike ticket {}** ({event}): {}\n\n- Priority: {} · queue `{}` · status {}\n- Combined \
         risk: {:.3}\n- Entity: {} `{}`\n",
        s.id, s.title, s.priority, s.queue, s.status, s.combined_risk, s.entity_kind, s.entity_key
    );
    if let Some(t) = technique_tag(ticket) {
        d.push_str(&format!("- Technique: {t}\n"));
    }
    d.push_str(&format!("- SLA due: {}\n", rfc3339_ms(s.sla_due_ms)));
    d.push_str("\n### Risk\n\n");
    d.push_str(&risk_text(&s.risk_explanation));
    d.push('\n');
    if !ticket.enrichments.is_empty() {
        d.push_str("\n### Enrichment\n\n");
        for e in &ticket.enrichments {
            match enrichment_status(&e.outcome) {
                (_, Some(err)) => d.push_str(&format!("- {}: failed ({err})\n", e.provider)),
                (status, None) => d.push_str(&format!("- {}: {status}\n", e.provider)),
            }
        }
    }
    d.push_str(&format!("\n### Alerts ({})\n\n", ticket.alerts.len()));
    for a in recent_alerts(ticket) {
        d.push_str(&format!(
            "- `{}` {} class {} score {:.3} at {}\n",
            a.uid,
            a.source,
            a.class_uid,
            a.model_score,
            rfc3339_ms(a.received_ms)
        ));
    }
    if let Some(a) = action {
        d.push_str(&format!("\n### Approved action\n\n```json\n{a}\n```\n"));
    }
    d
}

/// XSOAR severity: 0 unknown, 0.5 informational, 1 low, 2 medium, 3 high, 4 critical.
fn xsoar_severity(p: Priority) -> u8 {
    match p {
        Priority::P1 => 4,
        Priority::P2 => 3,
        Priority::P3 => 2,
        Priority::P4 => 1,
    }
}

fn xsoar_payload(event: OutboundEvent, ticket: &Ticket, action: Option<&Value>) -> Value {
    let s = &ticket.summary;
    let mut labels = vec![
        json!({"type": "shrike:event", "value": event.as_str()}),
        json!({"type": "shrike:queue", "value": s.queue}),
        json!({"type": "shrike:priority", "value": s.priority.as_str()}),
        json!({"type": format!("entity:{}", s.entity_kind), "value": s.entity_key}),
    ];
    if let Some(t) = technique_tag(ticket) {
        labels.push(json!({"type": "tag", "value": t}));
    }
    for o in ticket_observables(ticket) {
        labels.push(json!({"type": o.caption, "value": o.value}));
    }
    let raw = webhook_payload(event, ticket, action, None).to_string();
    json!({
        "name": format!("Shrike {}: {}", s.id, s.title),
        "type": "Unclassified",
        "severity": xsoar_severity(s.priority),
        "details": description(event, ticket, action),
        "occurred": rfc3339_ms(s.first_alert_ms),
        "labels": labels,
        "rawJSON": raw,
        "createInvestigation": true,
        "CustomFields": {
            "shrikerisk": s.combined_risk,
            "shrikequeue": s.queue,
            "shriketicketid": s.id.0,
        },
    })
}

/// One observable of a ticket's alerts (OCSF `observables[]` entry).
struct Observable {
    /// OCSF dotted attribute path (`evidences.dst_endpoint.ip`).
    name: String,
    type_id: u64,
    caption: &'static str,
    value: String,
}

/// The alerts' OCSF observables, deduplicated on (type, value), newest alerts last.
fn ticket_observables(ticket: &Ticket) -> Vec<Observable> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for alert in &ticket.alerts {
        let Some(list) = alert.payload.get("observables").and_then(Value::as_array) else {
            continue;
        };
        for o in list {
            let (Some(type_id), Some(value)) = (
                o.get("type_id").and_then(Value::as_u64),
                o.get("value").and_then(Value::as_str),
            ) else {
                continue;
            };
            let value = value.trim();
            if value.is_empty() || !seen.insert((type_id, value.to_owned())) {
                continue;
            }
            let name = o
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            out.push(Observable {
                name,
                type_id,
                caption: shrike_normalize::observables::type_caption(
                    u8::try_from(type_id).unwrap_or(u8::MAX),
                ),
                value: value.to_owned(),
            });
            if out.len() >= MAX_OBSERVABLES {
                return out;
            }
        }
    }
    out
}

/// Which side of a connection an OCSF attribute path is on.
fn is_source(name: &str) -> bool {
    name.split('.')
        .any(|seg| matches!(seg, "src_endpoint" | "actor" | "src" | "client" | "from"))
}

/// Hostnames from DNS queries, answers and URLs are domains; those of endpoints and devices
/// are host names.
fn is_dns_name(name: &str) -> bool {
    name.split('.')
        .any(|seg| matches!(seg, "query" | "answers" | "url" | "domain" | "rdata"))
}

/// Splunk SOAR CEF field and its `contains` type for an observable; `None`: no CEF field fits.
fn cef_field(o: &Observable) -> Option<(&'static str, &'static str)> {
    let src = is_source(&o.name);
    Some(match o.type_id {
        2 if src => ("sourceAddress", "ip"),
        2 => ("destinationAddress", "ip"),
        1 if is_dns_name(&o.name) => ("destinationDnsDomain", "domain"),
        1 if src => ("sourceHostName", "host name"),
        1 => ("destinationHostName", "host name"),
        6 => ("requestURL", "url"),
        8 => ("fileHash", "hash"),
        5 if o.name.ends_with(".from") || o.name == "from" => ("fromEmail", "email"),
        5 => ("toEmail", "email"),
        4 if src => ("sourceUserName", "user name"),
        4 => ("destinationUserName", "user name"),
        7 => ("fileName", "file name"),
        45 => ("filePath", "file path"),
        9 => ("destinationProcessName", "process name"),
        3 if src => ("sourceMacAddress", "mac address"),
        3 => ("destinationMacAddress", "mac address"),
        16 => ("requestClientApplication", "user agent"),
        _ => return None,
    })
}

/// Splunk SOAR severity names (the defaults: high, medium, low).
fn splunk_severity(p: Priority) -> &'static str {
    match p {
        Priority::P1 | Priority::P2 => "high",
        Priority::P3 => "medium",
        Priority::P4 => "low",
    }
}

fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex(h.finalize().get(..8).unwrap_or_default())
}

fn splunk_payload(event: OutboundEvent, ticket: &Ticket, action: Option<&Value>) -> Value {
    let s = &ticket.summary;
    let severity = splunk_severity(s.priority);
    let ticket_id = s.id.0.to_string();
    let mut artifacts: Vec<Value> = ticket_observables(ticket)
        .iter()
        .filter_map(|o| {
            let (field, contains) = cef_field(o)?;
            Some(json!({
                "name": o.caption,
                "label": "event",
                "cef": {field: o.value},
                "cef_types": {field: [contains]},
                "source_data_identifier": format!(
                    "shrike-ticket-{ticket_id}-{}",
                    short_hash(&[field, &o.value])
                ),
                "severity": severity,
                "tags": [format!("ocsf:{}", o.name)],
                "run_automation": false,
            }))
        })
        .collect();
    // Playbooks run once, after the last artifact (Splunk's advice for bulk artifact creation).
    if let Some(last) = artifacts.last_mut().and_then(Value::as_object_mut) {
        last.insert("run_automation".to_owned(), Value::Bool(true));
    }
    json!({
        "name": format!("Shrike {}: {}", s.id, s.title),
        "label": "events",
        "severity": severity,
        "description": description(event, ticket, action),
        "source_data_identifier": format!("shrike-ticket-{ticket_id}"),
        "status": "new",
        "tags": tags(event, ticket),
        "start_time": rfc3339_ms(s.first_alert_ms),
        "due_time": rfc3339_ms(s.sla_due_ms),
        "data": {
            "shrike_event": event.as_str(),
            "ticket_id": s.id.0,
            "queue": s.queue,
            "priority": s.priority.as_str(),
            "combined_risk": s.combined_risk,
            "technique": s.technique,
            "action": action.cloned().unwrap_or(Value::Null),
        },
        "artifacts": artifacts,
    })
}

/// TheHive severity: 1 low, 2 medium, 3 high, 4 critical.
fn thehive_severity(p: Priority) -> u8 {
    match p {
        Priority::P1 => 4,
        Priority::P2 => 3,
        Priority::P3 => 2,
        Priority::P4 => 1,
    }
}

fn thehive_data_type(o: &Observable) -> &'static str {
    match o.type_id {
        2 => "ip",
        1 if is_dns_name(&o.name) => "domain",
        1 => "fqdn",
        6 => "url",
        8 => "hash",
        5 => "mail",
        7 => "filename",
        16 => "user-agent",
        40 => "mail-subject",
        46 => "registry",
        _ => "other",
    }
}

/// TheHive `sourceRef`, unique per `(type, source)`; see the module doc.
fn thehive_source_ref(event: OutboundEvent, ticket: &Ticket, action: Option<&Value>) -> String {
    let s = &ticket.summary;
    match event {
        OutboundEvent::TicketCreated => format!("shrike-{}", s.id.0),
        _ => {
            let mut r = format!("shrike-{}-{event}-v{}", s.id.0, s.version);
            if let Some(id) = action.and_then(|a| a.get("id")) {
                match id {
                    Value::String(x) => r.push_str(&format!("-{x}")),
                    Value::Number(n) => r.push_str(&format!("-{n}")),
                    _ => {}
                }
            }
            r
        }
    }
}

fn thehive_payload(
    event: OutboundEvent,
    ticket: &Ticket,
    action: Option<&Value>,
    url: Option<String>,
) -> Value {
    let s = &ticket.summary;
    let observables: Vec<Value> = ticket_observables(ticket)
        .iter()
        .map(|o| {
            let data_type = thehive_data_type(o);
            let mut v = json!({
                "dataType": data_type,
                "data": o.value,
                "tags": [format!("ocsf:{}", o.name)],
            });
            if data_type == "other" {
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("message".to_owned(), Value::from(o.caption));
                }
            }
            v
        })
        .collect();
    let mut alert = json!({
        "type": "shrike-ticket",
        "source": "shrike",
        "sourceRef": thehive_source_ref(event, ticket, action),
        "title": format!("Shrike {}: {}", s.id, s.title),
        "description": description(event, ticket, action),
        "severity": thehive_severity(s.priority),
        "date": s.first_alert_ms,
        "tags": tags(event, ticket),
        "tlp": 2,
        "pap": 2,
        "observables": observables,
    });
    if let (Some(u), Some(obj)) = (url, alert.as_object_mut()) {
        obj.insert("externalLink".to_owned(), Value::String(u));
    }
    alert
}

// ---------------------------------------------------------------------------------------------
// Delivery

/// What happened to one delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// Target name (from the configuration).
    pub target: String,
    /// Payload shape.
    pub kind: OutboundKind,
    /// Event delivered.
    pub event: OutboundEvent,
    /// The receiver answered 2xx.
    pub ok: bool,
    /// HTTP status of the last attempt, if one got an answer.
    pub status: Option<u16>,
    /// Attempts made (1 ..= [`MAX_ATTEMPTS`]).
    pub attempts: u32,
    /// Why it failed (never contains the secret).
    pub error: Option<String>,
    /// The id the receiver gave the created object (response JSON `id`, `_id` or Splunk SOAR's
    /// `existing_container_id`).
    pub remote_id: Option<String>,
    /// `X-Shrike-Delivery` (webhooks only).
    pub delivery_id: Option<String>,
}

struct Target {
    config: OutboundConfig,
    url: reqwest::Url,
    secret: Option<String>,
}

/// The configured outbound targets and their HTTP client.
pub struct Outbound {
    targets: Vec<Arc<Target>>,
    http: reqwest::Client,
    backoff: Duration,
}

impl fmt::Debug for Outbound {
    // By hand: the secrets must never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbound")
            .field(
                "targets",
                &self
                    .targets
                    .iter()
                    .map(|t| (&t.config.name, t.config.kind, t.url.as_str()))
                    .collect::<Vec<_>>(),
            )
            .field("backoff", &self.backoff)
            .finish()
    }
}

impl Outbound {
    /// Checks the configuration and reads each secret through `env` (`std::env::var(..).ok()`
    /// in production).
    ///
    /// # Errors
    /// Naming the target: empty or duplicate name, a URL that is not http(s), a `secret_env`
    /// whose variable is unset or empty, a secret that cannot be an HTTP header value, a webhook
    /// without `secret_env` (webhooks are always signed); or the HTTP client cannot be built.
    pub fn new(configs: &[OutboundConfig], env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut targets: Vec<Arc<Target>> = Vec::with_capacity(configs.len());
        for c in configs {
            if c.name.trim().is_empty() {
                bail!("outbound target with url {:?} has an empty name", c.url);
            }
            if targets.iter().any(|t| t.config.name == c.name) {
                bail!("outbound target {:?} is configured twice", c.name);
            }
            let url = reqwest::Url::parse(&c.url)
                .with_context(|| format!("outbound target {:?}: bad url {:?}", c.name, c.url))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                bail!(
                    "outbound target {:?}: url {:?} must be http:// or https:// with a host",
                    c.name,
                    c.url
                );
            }
            let secret = match &c.secret_env {
                Some(var) => {
                    let value = env(var).filter(|v| !v.trim().is_empty()).with_context(|| {
                        format!(
                            "outbound target {:?}: environment variable {var} (secret_env) is \
                             unset or empty",
                            c.name
                        )
                    })?;
                    if reqwest::header::HeaderValue::from_str(&value).is_err() {
                        bail!(
                            "outbound target {:?}: the secret in {var} contains characters not \
                             allowed in an HTTP header",
                            c.name
                        );
                    }
                    Some(value)
                }
                None if c.kind == OutboundKind::Webhook => bail!(
                    "outbound target {:?}: a webhook needs secret_env (webhooks are always signed)",
                    c.name
                ),
                None => None,
            };
            targets.push(Arc::new(Target {
                config: c.clone(),
                url,
                secret,
            }));
        }
        let http = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("shrike/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the outbound HTTP client")?;
        Ok(Self {
            targets,
            http,
            backoff: DEFAULT_BACKOFF,
        })
    }

    /// Sets the backoff before the first retry (doubled for each later one); tests use a small
    /// one.
    #[must_use]
    pub fn with_backoff(mut self, base: Duration) -> Self {
        self.backoff = base;
        self
    }

    /// No targets configured.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Posts `event` on `ticket` to every target subscribed to it (empty `events`: all), all
    /// targets concurrently; one report per target, in configuration order. Never panics and
    /// never fails as a whole: each target's outcome is in its report.
    pub async fn deliver(
        &self,
        event: OutboundEvent,
        ticket: &Ticket,
        action: Option<&Value>,
    ) -> Vec<DeliveryReport> {
        let mut set = tokio::task::JoinSet::new();
        let mut pending: Vec<(usize, Arc<Target>, Option<String>)> = Vec::new();
        for (i, t) in self.targets.iter().enumerate() {
            if !t.config.events.is_empty() && !t.config.events.contains(&event) {
                continue;
            }
            let url = ticket_url(t.config.ticket_url.as_deref(), ticket);
            let (body, delivery_id) = match t.config.kind {
                OutboundKind::Webhook => {
                    let id = delivery_id(&t.config.name);
                    let mut v = webhook_payload(event, ticket, action, url);
                    if let Some(obj) = v.as_object_mut() {
                        obj.insert("delivery_id".to_owned(), Value::String(id.clone()));
                    }
                    (v, Some(id))
                }
                OutboundKind::Thehive => (thehive_payload(event, ticket, action, url), None),
                kind => (payload(kind, event, ticket, action), None),
            };
            let body = body.to_string().into_bytes();
            pending.push((i, Arc::clone(t), delivery_id.clone()));
            let http = self.http.clone();
            let target = Arc::clone(t);
            let backoff = self.backoff;
            set.spawn(async move {
                let r = send_with_retries(&http, &target, event, body, delivery_id, backoff).await;
                (i, r)
            });
        }
        let mut reports: Vec<(usize, DeliveryReport)> = Vec::with_capacity(pending.len());
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(r) => reports.push(r),
                Err(e) => tracing::error!("outbound delivery task failed: {e}"),
            }
        }
        // A task that died (it should not) still gets a report.
        for (i, t, delivery_id) in pending {
            if !reports.iter().any(|(j, _)| *j == i) {
                reports.push((
                    i,
                    DeliveryReport {
                        target: t.config.name.clone(),
                        kind: t.config.kind,
                        event,
                        ok: false,
                        status: None,
                        attempts: 0,
                        error: Some("delivery task failed".to_owned()),
                        remote_id: None,
                        delivery_id,
                    },
                ));
            }
        }
        reports.sort_by_key(|(i, _)| *i);
        let reports: Vec<DeliveryReport> = reports.into_iter().map(|(_, r)| r).collect();
        for r in &reports {
            if r.ok {
                tracing::info!(target_name = %r.target, event = %r.event, attempts = r.attempts, "outbound delivered");
            } else {
                tracing::warn!(
                    target_name = %r.target,
                    event = %r.event,
                    attempts = r.attempts,
                    "outbound delivery failed: {}",
                    r.error.as_deref().unwrap_or("unknown error")
                );
            }
        }
        reports
    }
}

/// A unique delivery id: a hash of the clock, the process, a counter and the target.
fn delivery_id(target: &str) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let h = Sha256::new()
        .chain_update(nanos.to_le_bytes())
        .chain_update(std::process::id().to_le_bytes())
        .chain_update(seq.to_le_bytes())
        .chain_update(target.as_bytes())
        .finalize();
    format!("dlv_{}", hex(h.get(..16).unwrap_or_default()))
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// The error and its causes on one line (reqwest's own message leaves out the cause).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cause = c.source();
    }
    s
}

/// Reads at most [`MAX_RESPONSE_BYTES`] of a response body.
async fn read_capped(mut resp: reqwest::Response) -> Vec<u8> {
    let mut buf = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = MAX_RESPONSE_BYTES.saturating_sub(buf.len());
        buf.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
        if buf.len() >= MAX_RESPONSE_BYTES {
            break;
        }
    }
    buf
}

fn remote_id(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    ["id", "_id", "existing_container_id"]
        .iter()
        .find_map(|k| match v.get(*k)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let secs: u64 = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

fn build_request(
    http: &reqwest::Client,
    target: &Target,
    event: OutboundEvent,
    body: &[u8],
    delivery_id: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut req = http
        .post(target.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::ACCEPT, "application/json")
        .body(body.to_vec());
    let secret = target.secret.as_deref();
    match (target.config.kind, secret) {
        (OutboundKind::Webhook, Some(secret)) => {
            let ts = now_s();
            req = req
                .header("X-Shrike-Timestamp", ts.to_string())
                .header("X-Shrike-Signature", sign(secret.as_bytes(), ts, body))
                .header("X-Shrike-Event", event.as_str());
            if let Some(id) = delivery_id {
                req = req.header("X-Shrike-Delivery", id);
            }
        }
        (OutboundKind::Xsoar, Some(key)) => req = req.header("Authorization", key),
        (OutboundKind::SplunkSoar, Some(token)) => req = req.header("ph-auth-token", token),
        (OutboundKind::Thehive, Some(key)) => req = req.bearer_auth(key),
        // Without a secret (not allowed for webhooks by `Outbound::new`) no auth header is sent.
        (_, None) => {}
    }
    req
}

async fn send_with_retries(
    http: &reqwest::Client,
    target: &Target,
    event: OutboundEvent,
    body: Vec<u8>,
    delivery_id: Option<String>,
    backoff: Duration,
) -> DeliveryReport {
    let mut report = DeliveryReport {
        target: target.config.name.clone(),
        kind: target.config.kind,
        event,
        ok: false,
        status: None,
        attempts: 0,
        error: None,
        remote_id: None,
        delivery_id: delivery_id.clone(),
    };
    let mut wait = backoff;
    for attempt in 1..=MAX_ATTEMPTS {
        report.attempts = attempt;
        let req = build_request(http, target, event, &body, delivery_id.as_deref());
        let retry_in = match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                report.status = Some(status.as_u16());
                let hinted = retry_after(&resp);
                let text = read_capped(resp).await;
                if status.is_success() {
                    report.ok = true;
                    report.error = None;
                    report.remote_id = remote_id(&text);
                    return report;
                }
                let snippet: String = String::from_utf8_lossy(&text).chars().take(300).collect();
                report.error = Some(if status.is_redirection() {
                    format!("HTTP {status} (redirects are not followed)")
                } else if snippet.trim().is_empty() {
                    format!("HTTP {status}")
                } else {
                    format!("HTTP {status}: {}", snippet.trim())
                });
                if status.as_u16() == 429 || status.is_server_error() {
                    Some(hinted.unwrap_or(wait))
                } else {
                    None
                }
            }
            Err(e) => {
                report.status = None;
                report.error = Some(error_chain(&e));
                if e.is_builder() || e.is_redirect() {
                    None
                } else {
                    // Connection refused/reset, timeouts, a connection closed mid-answer.
                    Some(wait)
                }
            }
        };
        match retry_in {
            Some(d) if attempt < MAX_ATTEMPTS => {
                tokio::time::sleep(d).await;
                wait = wait.saturating_mul(2);
            }
            _ => break,
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed with Python: `hmac.new(b'whsec_test_secret',
    /// b'1700000000.{"event":"ticket_created"}', hashlib.sha256).hexdigest()`.
    const KNOWN: &str = "sha256=b5c07058301f8314304c54dab1e3fdd866d66d20177b5013fa4c8119e70e050e";
    const SECRET: &[u8] = b"whsec_test_secret";
    const BODY: &[u8] = br#"{"event":"ticket_created"}"#;

    #[test]
    fn sign_matches_python_hmac() {
        assert_eq!(sign(SECRET, 1_700_000_000, BODY), KNOWN);
    }

    #[test]
    fn verify_accepts_the_known_answer_within_tolerance() {
        assert_eq!(
            verify(SECRET, 1_700_000_000, BODY, KNOWN, 1_700_000_000, 300),
            Ok(())
        );
        assert_eq!(
            verify(SECRET, 1_700_000_000, BODY, KNOWN, 1_700_000_300, 300),
            Ok(())
        );
        // Upper-case hex is the same signature.
        let upper = format!(
            "sha256={}",
            KNOWN.trim_start_matches("sha256=").to_uppercase()
        );
        assert_eq!(
            verify(SECRET, 1_700_000_000, BODY, &upper, 1_700_000_000, 300),
            Ok(())
        );
    }

    #[test]
    fn verify_rejects_stale_and_future_timestamps() {
        assert_eq!(
            verify(SECRET, 1_700_000_000, BODY, KNOWN, 1_700_000_301, 300),
            Err(VerifyError::Stale {
                timestamp_s: 1_700_000_000,
                skew_s: 301,
                tolerance_s: 300
            })
        );
        assert!(matches!(
            verify(SECRET, 1_700_000_000, BODY, KNOWN, 1_699_999_000, 300),
            Err(VerifyError::Stale { skew_s: 1000, .. })
        ));
    }

    #[test]
    fn verify_rejects_tampering() {
        let now = 1_700_000_000;
        let tampered = br#"{"event":"ticket_resolved"}"#;
        assert_eq!(
            verify(SECRET, now, tampered, KNOWN, now, 300),
            Err(VerifyError::Mismatch)
        );
        // Same body, another timestamp (a replay with a fresh timestamp).
        assert_eq!(
            verify(SECRET, now + 1, BODY, KNOWN, now, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"other secret", now, BODY, KNOWN, now, 300),
            Err(VerifyError::Mismatch)
        );
        let mut flipped = KNOWN.to_owned();
        flipped.pop();
        flipped.push('f');
        assert_eq!(
            verify(SECRET, now, BODY, &flipped, now, 300),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn verify_rejects_malformed_headers() {
        let now = 1_700_000_000;
        for bad in [
            "",
            "sha256=",
            "sha1=b5c07058301f8314304c54dab1e3fdd866d66d20177b5013fa4c8119e70e050e",
            "sha256=zz",
            "sha256=b5c0",
            "sha256=b5c07058301f8314304c54dab1e3fdd866d66d20177b5013fa4c8119e70e050",
            "sha256=ü5c07058301f8314304c54dab1e3fdd866d66d20177b5013fa4c8119e70e050e",
        ] {
            assert_eq!(
                verify(SECRET, now, BODY, bad, now, 300),
                Err(VerifyError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn hex_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(unhex(&hex(&bytes)), Some(bytes));
    }

    #[test]
    fn delivery_ids_are_unique() {
        let a = delivery_id("t");
        let b = delivery_id("t");
        assert_ne!(a, b);
        assert_eq!(a.len(), "dlv_".len() + 32);
    }

    #[test]
    fn event_and_kind_spellings_match_serde() {
        for e in [
            OutboundEvent::TicketCreated,
            OutboundEvent::TicketEscalated,
            OutboundEvent::ActionApproved,
            OutboundEvent::TicketResolved,
        ] {
            assert_eq!(serde_json::to_value(e).ok(), Some(Value::from(e.as_str())));
        }
        for k in [
            OutboundKind::Webhook,
            OutboundKind::Xsoar,
            OutboundKind::SplunkSoar,
            OutboundKind::Thehive,
        ] {
            assert_eq!(serde_json::to_value(k).ok(), Some(Value::from(k.as_str())));
        }
    }
}

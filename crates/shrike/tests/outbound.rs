//! Outbound deliveries end to end (issue 4): a real ticket from the case store, delivered over
//! real HTTP to local receivers (axum on 127.0.0.1:0), one per payload shape. Each receiver
//! checks its shape strictly — required fields present with the right JSON types and value
//! ranges, no unknown top-level fields, the auth header, and for the webhook the HMAC signature
//! (and that a tampered body fails it) — records what it got and answers 201 with an id, or 422
//! with the problems found. Also: retries (503 then success, 429 with `Retry-After`, giving up
//! after three 5xx), no retry on 400, a receiver that is down, redirects not followed,
//! subscription filtering and configuration errors.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use shrike::outbound::{
    payload, verify, DeliveryReport, Outbound, OutboundConfig, OutboundEvent, OutboundKind,
    VerifyError,
};
use shrike_triage::cases::{CaseStore, EnrichmentOutcome, NewAlert, Priority, Routing, Ticket};
use std::collections::{HashSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WEBHOOK_SECRET: &str = "whsec_0123456789abcdef";
const XSOAR_KEY: &str = "xsoar-api-key-42";
const SPLUNK_TOKEN: &str = "ph-token-0123456789";
const THEHIVE_KEY: &str = "thehive-api-key-7";
/// 2024-05-06T21:02:44Z, in ms.
const RECEIVED_MS: i64 = 1_715_029_364_000;

// ---------------------------------------------------------------------------------------------
// The ticket

/// A Suricata detection finding (OCSF 2004): an internal host beaconing to a C2 server.
fn suricata_c2_finding(uid: &str) -> Value {
    json!({
        "time": RECEIVED_MS,
        "class_uid": 2004,
        "category_uid": 2,
        "activity_id": 1,
        "type_uid": 200401,
        "severity_id": 4,
        "is_alert": true,
        "message": "ET MALWARE Cobalt Strike Beacon Observed",
        "metadata": {
            "uid": uid,
            "version": "1.8.0",
            "log_name": "alert",
            "product": {"name": "Suricata", "vendor_name": "OISF"},
        },
        "finding_info": {
            "uid": "2024-05-06T21:02:44.870211+0000:1:2027082:4",
            "title": "ET MALWARE Cobalt Strike Beacon Observed",
            "analytic": {"uid": "2027082", "name": "ET MALWARE Cobalt Strike Beacon Observed", "type_id": 1},
            "attacks": [{"technique": {"uid": "T1071.001", "name": "Web Protocols"}}],
        },
        "evidences": [{
            "src_endpoint": {"ip": "10.10.31.101", "port": 49823},
            "dst_endpoint": {"ip": "162.33.179.136", "port": 443},
            "query": {"hostname": "asleytomafa.com"},
            "url": {"url_string": "https://asleytomafa.com/jquery-3.3.1.min.js"},
        }],
        "observables": [
            {"name": "evidences.src_endpoint.ip", "type": "IP Address", "type_id": 2, "value": "10.10.31.101"},
            {"name": "evidences.dst_endpoint.ip", "type": "IP Address", "type_id": 2, "value": "162.33.179.136"},
            {"name": "evidences.query.hostname", "type": "Hostname", "type_id": 1, "value": "asleytomafa.com"},
            {"name": "evidences.url.url_string", "type": "URL String", "type_id": 6, "value": "https://asleytomafa.com/jquery-3.3.1.min.js"},
            {"name": "evidences.file.hashes.value", "type": "Hash", "type_id": 8, "value": "9a1a7ad2e9e5d1e4a5c1ad9a4c4b2d3f1e0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a"},
            {"name": "evidences.process.cmd_line", "type": "Command Line", "type_id": 13, "value": "rundll32.exe beacon.dll,Start"},
        ],
    })
}

fn c2_alert(uid: &str, received_ms: i64, priority: Priority, risk: f64) -> NewAlert {
    NewAlert {
        uid: uid.into(),
        entity_kind: "ip".into(),
        entity_key: "10.10.31.101".into(),
        technique: "T1071.001".into(),
        source: "suricata_eve".into(),
        class_uid: 2004,
        model_score: 0.91,
        payload: suricata_c2_finding(uid),
        received_ms,
        enrichments: vec![
            EnrichmentOutcome {
                provider: "intel".into(),
                outcome: json!({"matches": [{"indicator": "162.33.179.136", "feed": "c2-tracker"}]}),
            },
            EnrichmentOutcome {
                provider: "virustotal".into(),
                outcome: json!({"error": "timeout"}),
            },
        ],
        proposed: Routing {
            queue: "network-c2".into(),
            priority,
            sla_ms: 3_600_000,
            combined_risk: risk,
            risk_explanation: json!({
                "summary": "model 0.91 × intel match (c2-tracker) on a server host",
                "model_score": 0.91,
                "intel": 1.0,
                "asset_criticality": "high",
            }),
            title: "C2 beaconing from 10.10.31.101 to 162.33.179.136".into(),
        },
    }
}

/// A P1 ticket with one alert, read back from an in-memory case store.
fn c2_ticket() -> Ticket {
    let mut store = CaseStore::open(Path::new(":memory:")).expect("in-memory store");
    let r = store
        .ingest_alert(
            &c2_alert("suricata-1", RECEIVED_MS, Priority::P1, 0.93),
            3_600_000,
        )
        .expect("ingest");
    assert!(r.created);
    store.get(r.ticket_id).expect("ticket")
}

/// The same ticket after a second, higher-risk alert escalated it.
fn escalated_ticket() -> (Ticket, Ticket) {
    let mut store = CaseStore::open(Path::new(":memory:")).expect("in-memory store");
    let r = store
        .ingest_alert(
            &c2_alert("suricata-1", RECEIVED_MS, Priority::P2, 0.7),
            3_600_000,
        )
        .expect("ingest");
    let before = store.get(r.ticket_id).expect("ticket");
    let r2 = store
        .ingest_alert(
            &c2_alert("suricata-2", RECEIVED_MS + 60_000, Priority::P1, 0.95),
            3_600_000,
        )
        .expect("ingest");
    assert_eq!(r2.ticket_id, r.ticket_id);
    (before, store.get(r.ticket_id).expect("ticket"))
}

// ---------------------------------------------------------------------------------------------
// Receivers

#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    Webhook,
    Xsoar,
    Splunk,
    TheHive,
    /// Accepts anything (for retry and redirect tests).
    Any,
}

/// One request as a receiver saw it.
#[derive(Clone, Debug)]
struct Hit {
    path: String,
    headers: HeaderMap,
    body: Value,
    problems: Vec<String>,
}

/// A scripted answer: status and an optional extra header.
type Scripted = (u16, Option<(&'static str, String)>);

#[derive(Clone)]
struct RecvState {
    shape: Shape,
    path: &'static str,
    /// Scripted answers (status, extra header), in order; then 201.
    script: Arc<Mutex<VecDeque<Scripted>>>,
    hits: Arc<Mutex<Vec<Hit>>>,
}

struct Receiver {
    url: String,
    state: RecvState,
    _task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(shape: Shape, path: &'static str) -> Receiver {
        let state = RecvState {
            shape,
            path,
            script: Arc::default(),
            hits: Arc::default(),
        };
        let app = Router::new().fallback(receive).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{addr}{path}"),
            state,
            _task: task,
        }
    }

    fn then_answer(&self, status: u16, header: Option<(&'static str, &str)>) -> &Self {
        self.state
            .script
            .lock()
            .expect("script lock")
            .push_back((status, header.map(|(k, v)| (k, v.to_owned()))));
        self
    }

    fn hits(&self) -> Vec<Hit> {
        self.state.hits.lock().expect("hits lock").clone()
    }

    /// The only request received, which passed the shape checks.
    fn single_clean_hit(&self) -> Hit {
        let hits = self.hits();
        assert_eq!(hits.len(), 1, "{:?}: {hits:#?}", self.state.shape);
        let hit = hits.into_iter().next().expect("one hit");
        assert!(
            hit.problems.is_empty(),
            "{:?}: {:#?}",
            self.state.shape,
            hit.problems
        );
        assert_eq!(hit.path, self.state.path);
        hit
    }
}

async fn receive(
    State(st): State<RecvState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut problems = Vec::new();
    if uri.path() != st.path {
        problems.push(format!("POST to {} instead of {}", uri.path(), st.path));
    }
    if headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.starts_with("application/json"))
        != Some(true)
    {
        problems.push("content-type is not application/json".into());
    }
    let parsed: Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
        problems.push(format!("body is not JSON: {e}"));
        Value::Null
    });
    match st.shape {
        Shape::Webhook => check_webhook(&headers, &body, &parsed, &mut problems),
        Shape::Xsoar => check_xsoar(&headers, &parsed, &mut problems),
        Shape::Splunk => check_splunk(&headers, &parsed, &mut problems),
        Shape::TheHive => check_thehive(&headers, &parsed, &mut problems),
        Shape::Any => {}
    }
    let n = {
        let mut hits = st.hits.lock().expect("hits lock");
        hits.push(Hit {
            path: uri.path().to_owned(),
            headers: headers.clone(),
            body: parsed,
            problems: problems.clone(),
        });
        hits.len()
    };
    if !problems.is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"problems": problems})),
        )
            .into_response();
    }
    let scripted = st.script.lock().expect("script lock").pop_front();
    match scripted {
        Some((status, header)) => {
            let status = StatusCode::from_u16(status).expect("scripted status");
            let mut resp = (
                status,
                axum::Json(json!({"message": format!("scripted {status}")})),
            )
                .into_response();
            if let Some((k, v)) = header {
                resp.headers_mut()
                    .insert(k, v.parse().expect("scripted header value"));
            }
            resp
        }
        None => (
            StatusCode::CREATED,
            axum::Json(json!({"id": format!("remote-{n}")})),
        )
            .into_response(),
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Small JSON-shape checker: each failed expectation is one problem line.
struct Check<'a> {
    problems: &'a mut Vec<String>,
}

impl Check<'_> {
    fn fail(&mut self, msg: String) {
        self.problems.push(msg);
    }

    fn only_keys(&mut self, what: &str, v: &Value, allowed: &[&str]) {
        match v.as_object() {
            Some(m) => {
                for k in m.keys() {
                    if !allowed.contains(&k.as_str()) {
                        self.fail(format!("{what}: unexpected field {k:?}"));
                    }
                }
            }
            None => self.fail(format!("{what}: not an object")),
        }
    }

    fn string<'v>(&mut self, what: &str, v: &'v Value, key: &str) -> &'v str {
        match v.get(key).and_then(Value::as_str) {
            Some(s) if !s.trim().is_empty() => s,
            _ => {
                self.fail(format!(
                    "{what}.{key}: want a non-empty string, got {:?}",
                    v.get(key)
                ));
                ""
            }
        }
    }

    fn string_or_null(&mut self, what: &str, v: &Value, key: &str) {
        match v.get(key) {
            Some(Value::String(_) | Value::Null) => {}
            other => self.fail(format!("{what}.{key}: want string or null, got {other:?}")),
        }
    }

    fn int_in(&mut self, what: &str, v: &Value, key: &str, lo: i64, hi: i64) -> i64 {
        match v.get(key).and_then(Value::as_i64) {
            Some(n) if (lo..=hi).contains(&n) => n,
            _ => {
                self.fail(format!(
                    "{what}.{key}: want an integer in {lo}..={hi}, got {:?}",
                    v.get(key)
                ));
                0
            }
        }
    }

    fn number(&mut self, what: &str, v: &Value, key: &str) -> f64 {
        match v.get(key).and_then(Value::as_f64) {
            Some(n) if n.is_finite() => n,
            _ => {
                self.fail(format!("{what}.{key}: want a number, got {:?}", v.get(key)));
                f64::NAN
            }
        }
    }

    fn one_of(&mut self, what: &str, v: &Value, key: &str, allowed: &[&str]) -> String {
        let s = self.string(what, v, key).to_owned();
        if !allowed.contains(&s.as_str()) {
            self.fail(format!("{what}.{key}: {s:?} not one of {allowed:?}"));
        }
        s
    }

    fn rfc3339(&mut self, what: &str, v: &Value, key: &str) {
        let s = self.string(what, v, key).to_owned();
        // `2024-05-06T21:02:44.000Z`
        let b = s.as_bytes();
        let ok = b.len() >= 20
            && b.get(4) == Some(&b'-')
            && b.get(7) == Some(&b'-')
            && b.get(10) == Some(&b'T')
            && b.get(13) == Some(&b':')
            && (s.ends_with('Z') || s.contains('+'));
        if !ok {
            self.fail(format!("{what}.{key}: {s:?} is not RFC 3339"));
        }
    }

    fn array<'v>(&mut self, what: &str, v: &'v Value, key: &str) -> &'v [Value] {
        match v.get(key).and_then(Value::as_array) {
            Some(a) => a,
            None => {
                self.fail(format!("{what}.{key}: want an array, got {:?}", v.get(key)));
                &[]
            }
        }
    }

    fn strings(&mut self, what: &str, v: &Value, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (i, s) in self.array(what, v, key).iter().enumerate() {
            match s.as_str() {
                Some(s) => out.push(s.to_owned()),
                None => self.fail(format!("{what}.{key}[{i}]: not a string")),
            }
        }
        out
    }
}

fn check_webhook(h: &HeaderMap, raw: &[u8], v: &Value, problems: &mut Vec<String>) {
    let mut c = Check { problems };
    let ts = header(h, "x-shrike-timestamp").and_then(|t| t.parse::<i64>().ok());
    let sig = header(h, "x-shrike-signature");
    match (ts, sig) {
        (Some(ts), Some(sig)) => {
            if let Err(e) = verify(WEBHOOK_SECRET.as_bytes(), ts, raw, sig, now_s(), 300) {
                c.fail(format!("signature does not verify: {e}"));
            }
            let mut tampered = raw.to_vec();
            if let Some(b) = tampered.iter_mut().rev().find(|b| b.is_ascii_digit()) {
                *b = if *b == b'9' { b'8' } else { b'9' };
            }
            if verify(WEBHOOK_SECRET.as_bytes(), ts, &tampered, sig, now_s(), 300)
                != Err(VerifyError::Mismatch)
            {
                c.fail("a tampered body still verifies".into());
            }
        }
        _ => c.fail("missing X-Shrike-Timestamp or X-Shrike-Signature".into()),
    }
    let event = c.one_of(
        "webhook",
        v,
        "event",
        &[
            "ticket_created",
            "ticket_escalated",
            "action_approved",
            "ticket_resolved",
        ],
    );
    if header(h, "x-shrike-event") != Some(event.as_str()) {
        c.fail(format!(
            "X-Shrike-Event {:?} != body event {event:?}",
            header(h, "x-shrike-event")
        ));
    }
    let delivery = c.string("webhook", v, "delivery_id").to_owned();
    if header(h, "x-shrike-delivery") != Some(delivery.as_str()) {
        c.fail("X-Shrike-Delivery differs from delivery_id".into());
    }
    c.only_keys(
        "webhook",
        v,
        &[
            "event",
            "delivery_id",
            "ticket",
            "alerts",
            "alert_count",
            "enrichments",
            "action",
        ],
    );
    let t = v.get("ticket").cloned().unwrap_or(Value::Null);
    c.only_keys(
        "ticket",
        &t,
        &[
            "id",
            "title",
            "queue",
            "priority",
            "status",
            "sla_due",
            "combined_risk",
            "risk_explanation",
            "entity",
            "technique",
            "assignee",
            "url",
            "created",
            "first_alert",
            "last_alert",
            "version",
        ],
    );
    c.int_in("ticket", &t, "id", 1, i64::MAX);
    c.string("ticket", &t, "title");
    c.string("ticket", &t, "queue");
    c.one_of("ticket", &t, "priority", &["P1", "P2", "P3", "P4"]);
    c.one_of(
        "ticket",
        &t,
        "status",
        &["new", "in_progress", "resolved", "closed", "auto_closed"],
    );
    c.rfc3339("ticket", &t, "sla_due");
    let risk = c.number("ticket", &t, "combined_risk");
    if risk < 0.0 {
        c.fail(format!("ticket.combined_risk {risk} < 0"));
    }
    if t.get("risk_explanation").is_none() {
        c.fail("ticket.risk_explanation missing".into());
    }
    let entity = t.get("entity").cloned().unwrap_or(Value::Null);
    c.string("ticket.entity", &entity, "kind");
    c.string("ticket.entity", &entity, "key");
    c.string_or_null("ticket", &t, "technique");
    c.string_or_null("ticket", &t, "assignee");
    for a in c.array("webhook", v, "alerts").to_vec() {
        c.string("alert", &a, "uid");
        c.string("alert", &a, "source");
    }
    for e in c.array("webhook", v, "enrichments").to_vec() {
        c.string("enrichment", &e, "provider");
        c.one_of("enrichment", &e, "status", &["ok", "error"]);
    }
    if v.get("action").is_none() {
        c.fail("webhook.action missing (null when none)".into());
    }
}

fn check_xsoar(h: &HeaderMap, v: &Value, problems: &mut Vec<String>) {
    let mut c = Check { problems };
    if header(h, "authorization") != Some(XSOAR_KEY) {
        c.fail(format!(
            "Authorization {:?} is not the API key",
            header(h, "authorization")
        ));
    }
    c.only_keys(
        "incident",
        v,
        &[
            "name",
            "type",
            "severity",
            "details",
            "occurred",
            "labels",
            "rawJSON",
            "createInvestigation",
            "CustomFields",
        ],
    );
    c.string("incident", v, "name");
    c.string("incident", v, "type");
    let sev = c.number("incident", v, "severity");
    if ![0.0, 0.5, 1.0, 2.0, 3.0, 4.0].contains(&sev) {
        c.fail(format!("incident.severity {sev} not an XSOAR severity"));
    }
    c.string("incident", v, "details");
    c.rfc3339("incident", v, "occurred");
    for l in c.array("incident", v, "labels").to_vec() {
        c.only_keys("label", &l, &["type", "value"]);
        c.string("label", &l, "type");
        c.string("label", &l, "value");
    }
    let raw = c.string("incident", v, "rawJSON").to_owned();
    match serde_json::from_str::<Value>(&raw) {
        Ok(r) if r.get("ticket").is_some_and(Value::is_object) => {}
        _ => c.fail("incident.rawJSON is not a JSON string of the ticket".into()),
    }
    if v.get("createInvestigation") != Some(&Value::Bool(true)) {
        c.fail("incident.createInvestigation is not true".into());
    }
    let cf = v.get("CustomFields").cloned().unwrap_or(Value::Null);
    c.only_keys(
        "CustomFields",
        &cf,
        &["shrikerisk", "shrikequeue", "shriketicketid"],
    );
    c.number("CustomFields", &cf, "shrikerisk");
    c.string("CustomFields", &cf, "shrikequeue");
    c.int_in("CustomFields", &cf, "shriketicketid", 1, i64::MAX);
}

/// Splunk SOAR's standard CEF fields that Shrike may fill.
const CEF_FIELDS: &[&str] = &[
    "sourceAddress",
    "destinationAddress",
    "destinationDnsDomain",
    "sourceHostName",
    "destinationHostName",
    "requestURL",
    "fileHash",
    "fromEmail",
    "toEmail",
    "sourceUserName",
    "destinationUserName",
    "fileName",
    "filePath",
    "destinationProcessName",
    "sourceMacAddress",
    "destinationMacAddress",
    "requestClientApplication",
];

fn check_splunk(h: &HeaderMap, v: &Value, problems: &mut Vec<String>) {
    let mut c = Check { problems };
    if header(h, "ph-auth-token") != Some(SPLUNK_TOKEN) {
        c.fail("ph-auth-token missing or wrong".into());
    }
    c.only_keys(
        "container",
        v,
        &[
            "name",
            "label",
            "severity",
            "description",
            "source_data_identifier",
            "status",
            "tags",
            "start_time",
            "due_time",
            "data",
            "artifacts",
        ],
    );
    c.string("container", v, "name");
    c.string("container", v, "label");
    c.one_of("container", v, "severity", &["high", "medium", "low"]);
    c.string("container", v, "description");
    let sdi = c
        .string("container", v, "source_data_identifier")
        .to_owned();
    if !sdi.starts_with("shrike-ticket-") {
        c.fail(format!("container.source_data_identifier {sdi:?}"));
    }
    c.one_of("container", v, "status", &["new"]);
    c.strings("container", v, "tags");
    c.rfc3339("container", v, "start_time");
    c.rfc3339("container", v, "due_time");
    if !v.get("data").is_some_and(Value::is_object) {
        c.fail("container.data is not an object".into());
    }
    let artifacts = c.array("container", v, "artifacts").to_vec();
    let mut ids = HashSet::new();
    for (i, a) in artifacts.iter().enumerate() {
        let what = format!("artifacts[{i}]");
        c.only_keys(
            &what,
            a,
            &[
                "name",
                "label",
                "cef",
                "cef_types",
                "source_data_identifier",
                "severity",
                "tags",
                "run_automation",
            ],
        );
        c.string(&what, a, "name");
        c.string(&what, a, "label");
        c.one_of(&what, a, "severity", &["high", "medium", "low"]);
        c.strings(&what, a, "tags");
        if !ids.insert(c.string(&what, a, "source_data_identifier").to_owned()) {
            c.fail(format!("{what}.source_data_identifier repeats"));
        }
        let cef = a
            .get("cef")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if cef.is_empty() {
            c.fail(format!("{what}.cef is empty or not an object"));
        }
        for (k, val) in &cef {
            if !CEF_FIELDS.contains(&k.as_str()) {
                c.fail(format!("{what}.cef.{k}: not a standard CEF field"));
            }
            if val.as_str().is_none_or(str::is_empty) {
                c.fail(format!("{what}.cef.{k}: not a non-empty string"));
            }
        }
        if let Some(types) = a.get("cef_types") {
            for (k, val) in types.as_object().cloned().unwrap_or_default() {
                if !cef.contains_key(&k) {
                    c.fail(format!("{what}.cef_types.{k}: no such cef field"));
                }
                if !val
                    .as_array()
                    .is_some_and(|l| l.iter().all(Value::is_string))
                {
                    c.fail(format!("{what}.cef_types.{k}: not a list of strings"));
                }
            }
        }
        let last = i + 1 == artifacts.len();
        if a.get("run_automation") != Some(&Value::Bool(last)) {
            c.fail(format!("{what}.run_automation must be {last}"));
        }
    }
}

fn check_thehive(h: &HeaderMap, v: &Value, problems: &mut Vec<String>) {
    let mut c = Check { problems };
    if header(h, "authorization") != Some(&format!("Bearer {THEHIVE_KEY}")) {
        c.fail("Authorization is not Bearer <key>".into());
    }
    c.only_keys(
        "alert",
        v,
        &[
            "type",
            "source",
            "sourceRef",
            "title",
            "description",
            "severity",
            "date",
            "tags",
            "tlp",
            "pap",
            "observables",
            "externalLink",
        ],
    );
    c.string("alert", v, "type");
    c.string("alert", v, "source");
    c.string("alert", v, "sourceRef");
    c.string("alert", v, "title");
    c.string("alert", v, "description");
    c.int_in("alert", v, "severity", 1, 4);
    // Epoch milliseconds, not seconds.
    c.int_in("alert", v, "date", 1_000_000_000_000, 10_000_000_000_000);
    c.strings("alert", v, "tags");
    c.int_in("alert", v, "tlp", 0, 4);
    c.int_in("alert", v, "pap", 0, 3);
    for (i, o) in c
        .array("alert", v, "observables")
        .to_vec()
        .iter()
        .enumerate()
    {
        let what = format!("observables[{i}]");
        c.only_keys(&what, o, &["dataType", "data", "message", "tags"]);
        c.one_of(
            &what,
            o,
            "dataType",
            &[
                "ip",
                "domain",
                "fqdn",
                "url",
                "hash",
                "mail",
                "filename",
                "user-agent",
                "mail-subject",
                "registry",
                "other",
            ],
        );
        c.string(&what, o, "data");
        if o.get("message").is_some() {
            c.string(&what, o, "message");
        }
        if o.get("tags").is_some() {
            c.strings(&what, o, "tags");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn target(name: &str, kind: OutboundKind, url: &str, secret_env: Option<&str>) -> OutboundConfig {
    OutboundConfig {
        name: name.into(),
        kind,
        url: url.into(),
        secret_env: secret_env.map(Into::into),
        events: vec![],
        ticket_url: None,
    }
}

fn env(var: &str) -> Option<String> {
    match var {
        "WEBHOOK_SECRET" => Some(WEBHOOK_SECRET.into()),
        "XSOAR_KEY" => Some(XSOAR_KEY.into()),
        "SPLUNK_TOKEN" => Some(SPLUNK_TOKEN.into()),
        "THEHIVE_KEY" => Some(THEHIVE_KEY.into()),
        _ => None,
    }
}

fn outbound(configs: &[OutboundConfig]) -> Outbound {
    Outbound::new(configs, env)
        .expect("valid outbound config")
        .with_backoff(Duration::from_millis(1))
}

fn webhook(url: &str) -> OutboundConfig {
    target("hook", OutboundKind::Webhook, url, Some("WEBHOOK_SECRET"))
}

fn only(reports: &[DeliveryReport]) -> &DeliveryReport {
    assert_eq!(reports.len(), 1, "{reports:#?}");
    &reports[0]
}

fn free_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    format!("http://127.0.0.1:{port}/hook")
}

// ---------------------------------------------------------------------------------------------
// Shapes

#[tokio::test]
async fn every_shape_passes_its_receivers_checks() {
    let hook = Receiver::start(Shape::Webhook, "/hooks/shrike").await;
    let xsoar = Receiver::start(Shape::Xsoar, "/incident").await;
    let splunk = Receiver::start(Shape::Splunk, "/rest/container").await;
    let hive = Receiver::start(Shape::TheHive, "/api/v1/alert").await;
    let mut hook_cfg = webhook(&hook.url);
    hook_cfg.ticket_url = Some("https://shrike.example/tickets/{id}".into());
    let out = outbound(&[
        hook_cfg,
        target("xsoar", OutboundKind::Xsoar, &xsoar.url, Some("XSOAR_KEY")),
        target(
            "soar",
            OutboundKind::SplunkSoar,
            &splunk.url,
            Some("SPLUNK_TOKEN"),
        ),
        target(
            "hive",
            OutboundKind::Thehive,
            &hive.url,
            Some("THEHIVE_KEY"),
        ),
    ]);
    assert!(!out.is_empty());
    let ticket = c2_ticket();
    let id = ticket.summary.id.0;
    let reports = out
        .deliver(OutboundEvent::TicketCreated, &ticket, None)
        .await;

    let names: Vec<&str> = reports.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        names,
        ["hook", "xsoar", "soar", "hive"],
        "configuration order"
    );
    for r in &reports {
        assert!(r.ok, "{r:#?}");
        assert_eq!(
            (r.status, r.attempts, r.error.as_deref()),
            (Some(201), 1, None),
            "{r:#?}"
        );
        assert_eq!(r.remote_id.as_deref(), Some("remote-1"));
        assert_eq!(r.event, OutboundEvent::TicketCreated);
    }
    assert_eq!(reports[0].kind, OutboundKind::Webhook);
    assert!(reports[0].delivery_id.is_some());
    assert_eq!(reports[1].delivery_id, None);

    let w = hook.single_clean_hit();
    assert_eq!(w.body["event"], "ticket_created");
    assert_eq!(
        Some(w.body["delivery_id"].clone()),
        reports[0].delivery_id.clone().map(Value::from)
    );
    assert_eq!(w.body["ticket"]["id"], id);
    assert_eq!(w.body["ticket"]["priority"], "P1");
    assert_eq!(w.body["ticket"]["technique"], "T1071.001");
    assert_eq!(
        w.body["ticket"]["entity"],
        json!({"kind": "ip", "key": "10.10.31.101"})
    );
    assert_eq!(
        w.body["ticket"]["url"],
        format!("https://shrike.example/tickets/{id}")
    );
    assert_eq!(w.body["ticket"]["sla_due"], "2024-05-06T22:02:44.000Z");
    assert_eq!(w.body["alerts"][0]["uid"], "suricata-1");
    assert_eq!(w.body["alerts"][0]["source"], "suricata_eve");
    assert_eq!(
        w.body["enrichments"],
        json!([
            {"provider": "intel", "status": "ok", "alert_uid": "suricata-1"},
            {"provider": "virustotal", "status": "error", "alert_uid": "suricata-1", "error": "timeout"},
        ])
    );
    assert_eq!(w.body["action"], Value::Null);
    assert_eq!(
        header(&w.headers, "user-agent").map(|u| u.starts_with("shrike/")),
        Some(true)
    );

    let x = xsoar.single_clean_hit();
    assert_eq!(x.body["severity"], 4, "P1 is XSOAR critical");
    assert_eq!(x.body["occurred"], "2024-05-06T21:02:44.000Z");
    assert_eq!(x.body["CustomFields"]["shriketicketid"], id);
    assert_eq!(x.body["CustomFields"]["shrikequeue"], "network-c2");
    assert_eq!(x.body["CustomFields"]["shrikerisk"], 0.93);
    let labels = x.body["labels"].as_array().expect("labels");
    assert!(
        labels.contains(&json!({"type": "tag", "value": "attack:T1071.001"})),
        "{labels:?}"
    );
    assert!(labels.contains(&json!({"type": "IP Address", "value": "162.33.179.136"})));
    let raw: Value =
        serde_json::from_str(x.body["rawJSON"].as_str().expect("rawJSON")).expect("json");
    assert_eq!(raw["ticket"]["id"], id);

    let s = splunk.single_clean_hit();
    assert_eq!(s.body["severity"], "high");
    assert_eq!(s.body["label"], "events");
    assert_eq!(
        s.body["source_data_identifier"],
        format!("shrike-ticket-{id}")
    );
    let tags = s.body["tags"].as_array().expect("tags");
    assert!(tags.contains(&json!("attack:T1071.001")), "{tags:?}");
    let cefs: Vec<Value> = s.body["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .map(|a| a["cef"].clone())
        .collect();
    assert_eq!(
        cefs,
        [
            json!({"sourceAddress": "10.10.31.101"}),
            json!({"destinationAddress": "162.33.179.136"}),
            json!({"destinationDnsDomain": "asleytomafa.com"}),
            json!({"requestURL": "https://asleytomafa.com/jquery-3.3.1.min.js"}),
            json!({"fileHash": "9a1a7ad2e9e5d1e4a5c1ad9a4c4b2d3f1e0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a"}),
        ],
        "the command line has no standard CEF field and is left out"
    );
    assert_eq!(
        s.body["artifacts"][0]["cef_types"],
        json!({"sourceAddress": ["ip"]})
    );

    let t = hive.single_clean_hit();
    assert_eq!(t.body["type"], "shrike-ticket");
    assert_eq!(t.body["source"], "shrike");
    assert_eq!(t.body["sourceRef"], format!("shrike-{id}"));
    assert_eq!(t.body["severity"], 4);
    assert_eq!(t.body["date"], RECEIVED_MS);
    assert_eq!(
        (t.body["tlp"].clone(), t.body["pap"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(
        t.body["externalLink"],
        Value::Null,
        "only the webhook target has ticket_url"
    );
    let obs: Vec<(String, String)> = t.body["observables"]
        .as_array()
        .expect("observables")
        .iter()
        .map(|o| {
            (
                o["dataType"].as_str().unwrap_or("").into(),
                o["data"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    for want in [
        ("ip", "10.10.31.101"),
        ("ip", "162.33.179.136"),
        ("domain", "asleytomafa.com"),
        ("url", "https://asleytomafa.com/jquery-3.3.1.min.js"),
        ("other", "rundll32.exe beacon.dll,Start"),
    ] {
        assert!(
            obs.contains(&(want.0.into(), want.1.into())),
            "{want:?} in {obs:?}"
        );
    }
    let desc = t.body["description"].as_str().expect("description");
    assert!(
        desc.contains("intel match (c2-tracker)"),
        "risk explanation: {desc}"
    );
    assert!(
        desc.contains("virustotal: failed (timeout)"),
        "enrichment summary: {desc}"
    );
    assert!(t.body["tags"]
        .as_array()
        .expect("tags")
        .contains(&json!("attack:T1071.001")));
}

#[tokio::test]
async fn escalation_and_approved_action_payloads() {
    let (before, after) = escalated_ticket();
    assert_eq!(after.summary.priority, Priority::P1);
    assert_ne!(before.summary.version, after.summary.version);
    let hive_created = payload(
        OutboundKind::Thehive,
        OutboundEvent::TicketCreated,
        &before,
        None,
    );
    let hive_escalated = payload(
        OutboundKind::Thehive,
        OutboundEvent::TicketEscalated,
        &after,
        None,
    );
    let id = after.summary.id.0;
    assert_eq!(hive_created["sourceRef"], format!("shrike-{id}"));
    assert_eq!(
        hive_escalated["sourceRef"],
        format!("shrike-{id}-ticket_escalated-v{}", after.summary.version),
        "a later event is a new TheHive alert, not a duplicate sourceRef"
    );
    assert_eq!(
        (
            hive_created["severity"].clone(),
            hive_escalated["severity"].clone()
        ),
        (json!(3), json!(4))
    );
    // Splunk SOAR: the container identifier is stable, and the same observables of both alerts
    // give the same artifacts once.
    let s1 = payload(
        OutboundKind::SplunkSoar,
        OutboundEvent::TicketCreated,
        &before,
        None,
    );
    let s2 = payload(
        OutboundKind::SplunkSoar,
        OutboundEvent::TicketEscalated,
        &after,
        None,
    );
    assert_eq!(s1["source_data_identifier"], s2["source_data_identifier"]);
    assert_eq!(
        s1["artifacts"], s2["artifacts"],
        "P2 and P1 are both high; the second alert's observables repeat the first's"
    );

    // An approved action reaches the webhook receiver verbatim.
    let hook = Receiver::start(Shape::Webhook, "/hook").await;
    let out = outbound(&[webhook(&hook.url)]);
    let action = json!({"id": "act-7", "kind": "block_ip", "target": "162.33.179.136", "approved_by": "alice"});
    let r = out
        .deliver(OutboundEvent::ActionApproved, &after, Some(&action))
        .await;
    assert!(only(&r).ok, "{r:#?}");
    let hit = hook.single_clean_hit();
    assert_eq!(hit.body["action"], action);
    assert_eq!(hit.body["alert_count"], 2);
    assert_eq!(
        header(&hit.headers, "x-shrike-event"),
        Some("action_approved")
    );
    let hive_action = payload(
        OutboundKind::Thehive,
        OutboundEvent::ActionApproved,
        &after,
        Some(&action),
    );
    assert!(
        hive_action["sourceRef"]
            .as_str()
            .is_some_and(|s| s.ends_with("-act-7")),
        "{}",
        hive_action["sourceRef"]
    );
}

#[test]
fn xsoar_severity_follows_priority() {
    let mut ticket = c2_ticket();
    for (p, sev) in [
        (Priority::P1, 4),
        (Priority::P2, 3),
        (Priority::P3, 2),
        (Priority::P4, 1),
    ] {
        ticket.summary.priority = p;
        let x = payload(
            OutboundKind::Xsoar,
            OutboundEvent::TicketCreated,
            &ticket,
            None,
        );
        assert_eq!(x["severity"], sev, "{p:?}");
        let h = payload(
            OutboundKind::Thehive,
            OutboundEvent::TicketCreated,
            &ticket,
            None,
        );
        assert_eq!(h["severity"], sev, "{p:?}");
    }
}

#[test]
fn a_ticket_without_technique_or_observables_still_has_every_field() {
    let mut ticket = c2_ticket();
    ticket.summary.technique.clear();
    for a in &mut ticket.alerts {
        a.payload = json!({"class_uid": 2004});
    }
    let w = payload(
        OutboundKind::Webhook,
        OutboundEvent::TicketResolved,
        &ticket,
        None,
    );
    assert_eq!(w["ticket"]["technique"], Value::Null);
    let s = payload(
        OutboundKind::SplunkSoar,
        OutboundEvent::TicketResolved,
        &ticket,
        None,
    );
    assert_eq!(s["artifacts"], json!([]));
    assert!(!s["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .any(|t| t.as_str().is_some_and(|t| t.starts_with("attack:"))));
    let h = payload(
        OutboundKind::Thehive,
        OutboundEvent::TicketResolved,
        &ticket,
        None,
    );
    assert_eq!(h["observables"], json!([]));
    let mut problems = Vec::new();
    check_splunk(&HeaderMap::new(), &s, &mut problems);
    assert_eq!(problems, ["ph-auth-token missing or wrong"]);
}

// ---------------------------------------------------------------------------------------------
// Retries and failures

#[tokio::test]
async fn retries_a_503_then_succeeds() {
    let hook = Receiver::start(Shape::Webhook, "/hook").await;
    hook.then_answer(503, None);
    let out = outbound(&[webhook(&hook.url)]);
    let r = out
        .deliver(OutboundEvent::TicketCreated, &c2_ticket(), None)
        .await;
    let r = only(&r);
    assert!(r.ok, "{r:#?}");
    assert_eq!(
        (r.attempts, r.status, r.error.as_deref()),
        (2, Some(201), None)
    );
    assert_eq!(r.remote_id.as_deref(), Some("remote-2"));
    let hits = hook.hits();
    assert_eq!(hits.len(), 2);
    assert!(hits.iter().all(|h| h.problems.is_empty()), "{hits:#?}");
    assert_eq!(
        header(&hits[0].headers, "x-shrike-delivery"),
        header(&hits[1].headers, "x-shrike-delivery"),
        "a retry keeps its delivery id"
    );
}

#[tokio::test]
async fn retries_a_429_honouring_retry_after() {
    let rx = Receiver::start(Shape::Any, "/x").await;
    rx.then_answer(429, Some(("retry-after", "0")));
    let out = outbound(&[target("x", OutboundKind::Xsoar, &rx.url, None)]);
    let r = out
        .deliver(OutboundEvent::TicketCreated, &c2_ticket(), None)
        .await;
    assert_eq!((only(&r).ok, only(&r).attempts), (true, 2), "{r:#?}");
}

#[tokio::test]
async fn gives_up_after_three_5xx() {
    let rx = Receiver::start(Shape::Any, "/x").await;
    rx.then_answer(500, None)
        .then_answer(502, None)
        .then_answer(500, None);
    let out = outbound(&[target("x", OutboundKind::Thehive, &rx.url, None)]);
    let r = out
        .deliver(OutboundEvent::TicketCreated, &c2_ticket(), None)
        .await;
    let r = only(&r);
    assert!(!r.ok);
    assert_eq!((r.attempts, r.status), (3, Some(500)));
    assert_eq!(rx.hits().len(), 3);
    assert!(
        r.error.as_deref().is_some_and(|e| e.contains("500")),
        "{r:#?}"
    );
}

#[tokio::test]
async fn never_retries_a_400() {
    let rx = Receiver::start(Shape::Any, "/x").await;
    rx.then_answer(400, None);
    let out = outbound(&[target("soar", OutboundKind::SplunkSoar, &rx.url, None)]);
    let r = out
        .deliver(OutboundEvent::TicketCreated, &c2_ticket(), None)
        .await;
    let r = only(&r);
    assert!(!r.ok);
    assert_eq!((r.attempts, r.status), (1, Some(400)));
    assert_eq!(rx.hits().len(), 1);
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.contains("400") && e.contains("scripted")),
        "the receiver's message is in the report: {r:#?}"
    );
}

#[tokio::test]
async fn a_receiver_that_is_down_gives_a_failed_report() {
    let out = outbound(&[webhook(&free_port_url())]);
    let r = out
        .deliver(OutboundEvent::TicketCreated, &c2_ticket(), None)
        .await;
    let r = only(&r);
    assert!(!r.ok);
    assert_eq!(
        (r.status, r.attempts),
        (None, 3),
        "connection errors are retried"
    );
    let e = r.error.as_deref().expect("error");
    assert!(!e.is_empty());
    assert!(!e.contains(WEBHOOK_SECRET));
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let elsewhere = Receiver::start(Shape::Any, "/steal").await;
    let rx = Receiver::start(Shape::Any, "/x").await;
    rx.then_answer(307, Some(("location", elsewhere.url.as_str())));
    let out = outbound(&[target(
        "hive",
        OutboundKind::Thehive,
        &rx.url,
        Some("THEHIVE_KEY"),
    )]);
    let r = out
        .deliver(OutboundEvent::TicketCreated, &c2_ticket(), None)
        .await;
    let r = only(&r);
    assert!(!r.ok);
    assert_eq!((r.status, r.attempts), (Some(307), 1));
    assert!(
        elsewhere.hits().is_empty(),
        "the key must not travel to another host"
    );
}

// ---------------------------------------------------------------------------------------------
// Subscriptions and configuration

#[tokio::test]
async fn delivers_only_subscribed_events() {
    let all = Receiver::start(Shape::Webhook, "/all").await;
    let created_only = Receiver::start(Shape::Xsoar, "/incident").await;
    let mut x = target(
        "xsoar",
        OutboundKind::Xsoar,
        &created_only.url,
        Some("XSOAR_KEY"),
    );
    x.events = vec![OutboundEvent::TicketCreated];
    let out = outbound(&[webhook(&all.url), x]);
    let ticket = c2_ticket();

    let r = out
        .deliver(OutboundEvent::TicketResolved, &ticket, None)
        .await;
    assert_eq!(only(&r).target, "hook");
    assert!(created_only.hits().is_empty());

    let r = out
        .deliver(OutboundEvent::TicketCreated, &ticket, None)
        .await;
    assert_eq!(
        r.iter().map(|r| r.ok).collect::<Vec<_>>(),
        [true, true],
        "{r:#?}"
    );
    created_only.single_clean_hit();
    assert_eq!(all.hits().len(), 2);
}

#[tokio::test]
async fn no_targets_deliver_nothing() {
    let out = outbound(&[]);
    assert!(out.is_empty());
    assert!(out
        .deliver(OutboundEvent::TicketCreated, &c2_ticket(), None)
        .await
        .is_empty());
}

#[test]
fn configuration_errors_name_the_target() {
    let err = |configs: &[OutboundConfig]| {
        format!(
            "{:#}",
            Outbound::new(configs, env).expect_err("config must be rejected")
        )
    };
    let e = err(&[target(
        "siem-hook",
        OutboundKind::Webhook,
        "https://h.example/x",
        None,
    )]);
    assert!(e.contains("siem-hook") && e.contains("signed"), "{e}");
    let e = err(&[target(
        "xsoar-prod",
        OutboundKind::Xsoar,
        "https://x.example/incident",
        Some("NOT_SET"),
    )]);
    assert!(e.contains("xsoar-prod") && e.contains("NOT_SET"), "{e}");
    let e = err(&[target(
        "hive",
        OutboundKind::Thehive,
        "ftp://h.example/api/v1/alert",
        Some("THEHIVE_KEY"),
    )]);
    assert!(e.contains("hive") && e.contains("http"), "{e}");
    let e = err(&[target("hive", OutboundKind::Thehive, "not a url", None)]);
    assert!(e.contains("hive"), "{e}");
    let e = err(&[
        target(
            "dup",
            OutboundKind::Xsoar,
            "https://a.example/incident",
            None,
        ),
        target(
            "dup",
            OutboundKind::Thehive,
            "https://b.example/api/v1/alert",
            None,
        ),
    ]);
    assert!(e.contains("dup") && e.contains("twice"), "{e}");
    let e = format!(
        "{:#}",
        Outbound::new(
            &[target(
                "hook",
                OutboundKind::Webhook,
                "https://h.example/",
                Some("S")
            )],
            |_| Some("line\nbreak".into())
        )
        .expect_err("a secret with a newline is rejected")
    );
    assert!(e.contains("hook") && !e.contains("line\nbreak"), "{e}");
    // The config file's spelling.
    let c: OutboundConfig = toml::from_str(
        "name = \"soar\"\nkind = \"splunk_soar\"\nurl = \"https://soar.example/rest/container\"\nsecret_env = \"SPLUNK_TOKEN\"\nevents = [\"ticket_created\", \"action_approved\"]\n",
    )
    .expect("config parses");
    assert_eq!(c.kind, OutboundKind::SplunkSoar);
    assert_eq!(
        c.events,
        [OutboundEvent::TicketCreated, OutboundEvent::ActionApproved]
    );
    let out = Outbound::new(&[c], env).expect("valid");
    assert!(!out.is_empty());
    assert!(
        !format!("{out:?}").contains(SPLUNK_TOKEN),
        "Debug hides secrets"
    );
}

/// The receivers' checks are not vacuous: wrong shapes and bad signatures are caught.
#[test]
fn receiver_checks_catch_wrong_shapes() {
    let ticket = c2_ticket();
    let mut headers = HeaderMap::new();
    headers.insert("authorization", XSOAR_KEY.parse().expect("header"));
    let mut x = payload(
        OutboundKind::Xsoar,
        OutboundEvent::TicketCreated,
        &ticket,
        None,
    );
    x["severity"] = json!(5);
    x["createInvestigation"] = json!(false);
    x["extra"] = json!(1);
    let mut problems = Vec::new();
    check_xsoar(&headers, &x, &mut problems);
    assert_eq!(problems.len(), 3, "{problems:#?}");

    let mut h = payload(
        OutboundKind::Thehive,
        OutboundEvent::TicketCreated,
        &ticket,
        None,
    );
    h["date"] = json!(RECEIVED_MS / 1000);
    h["observables"][0]["dataType"] = json!("ipv4");
    let mut problems = Vec::new();
    check_thehive(&HeaderMap::new(), &h, &mut problems);
    assert_eq!(
        problems.len(),
        3,
        "auth, date in seconds, unknown dataType: {problems:#?}"
    );

    let body = payload(
        OutboundKind::Webhook,
        OutboundEvent::TicketCreated,
        &ticket,
        None,
    );
    let mut body = body;
    body["delivery_id"] = json!("dlv_1");
    let raw = body.to_string();
    let ts = now_s();
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-shrike-timestamp",
        ts.to_string().parse().expect("header"),
    );
    headers.insert("x-shrike-event", "ticket_created".parse().expect("header"));
    headers.insert("x-shrike-delivery", "dlv_1".parse().expect("header"));
    let good = shrike::outbound::sign(WEBHOOK_SECRET.as_bytes(), ts, raw.as_bytes());
    headers.insert("x-shrike-signature", good.parse().expect("header"));
    let mut problems = Vec::new();
    check_webhook(&headers, raw.as_bytes(), &body, &mut problems);
    assert_eq!(problems, Vec::<String>::new());
    let forged = shrike::outbound::sign(b"not the secret", ts, raw.as_bytes());
    headers.insert("x-shrike-signature", forged.parse().expect("header"));
    check_webhook(&headers, raw.as_bytes(), &body, &mut problems);
    assert_eq!(problems, ["signature does not verify: signature mismatch"]);
}

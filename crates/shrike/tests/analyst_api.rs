//! The analyst API end to end (issue 4): the real server on 127.0.0.1:0 over a case store in a
//! temp dir, spoken to over HTTP with tokens of each role. Tickets and action requests are put
//! in with `CaseStore` directly (the alert pipeline has its own tests).
#![allow(missing_docs)]

use serde_json::{json, Value};
use shrike::config::{Role, TokenConfig};
use shrike::outbound::Outbound;
use shrike::server::{spawn, AppState, RunningServer, StateOptions};
use shrike::soar::Soar;
use shrike_triage::cases::{
    ActionKind, CaseStore, NewAction, NewAlert, Priority, Routing, TicketId,
};
use std::path::Path;
use std::sync::Arc;

const INGEST: &str = "ingest-token-0123456789";
const ALICE: &str = "alice-token-0123456789";
const BOB: &str = "bob-token-0123456789";
const ADMIN: &str = "admin-token-0123456789";
const MAX_BODY: usize = 64 * 1024;

fn tokens() -> Vec<TokenConfig> {
    [
        ("forwarder", INGEST, Role::Ingest),
        ("alice", ALICE, Role::Analyst),
        ("bob", BOB, Role::Analyst),
        ("root", ADMIN, Role::Admin),
    ]
    .into_iter()
    .map(|(name, token, role)| TokenConfig {
        name: name.into(),
        token: token.into(),
        role,
    })
    .collect()
}

fn open_soar(db: &Path) -> Arc<Soar> {
    let cases = CaseStore::open(db).expect("case store opens");
    let playbooks = shrike_triage::playbook::Engine::embedded().expect("bundled playbooks");
    let enricher = Arc::new(shrike_triage::enrich::Enricher::new());
    let outbound = Outbound::new(&[], |_| None).expect("no outbound targets");
    Arc::new(Soar::new(cases, playbooks, enricher, outbound, 3_600_000).expect("soar state"))
}

struct Api {
    base: String,
    client: reqwest::Client,
    server: Option<RunningServer>,
    soar: Option<Arc<Soar>>,
}

impl Api {
    async fn start(soar: Option<Arc<Soar>>, auth_required: bool) -> Api {
        let scorer = shrike::load_scorer(None).expect("bundled model loads");
        let opts = StateOptions {
            tokens: tokens(),
            auth_required,
            max_body_bytes: MAX_BODY,
            soar: soar.clone(),
            ..StateOptions::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let server = spawn(listener, Arc::new(AppState::new(scorer, opts))).expect("spawn");
        Api {
            base: format!("http://{}", server.addr),
            client: reqwest::Client::new(),
            server: Some(server),
            soar,
        }
    }

    async fn with_db(db: &Path) -> Api {
        Api::start(Some(open_soar(db)), true).await
    }

    fn store(&self) -> std::sync::MutexGuard<'_, CaseStore> {
        self.soar
            .as_ref()
            .expect("soar configured")
            .cases
            .lock()
            .expect("store mutex")
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> (u16, String) {
        let mut r = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.header("content-type", "application/json").body(b);
        }
        let resp = r.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("body"))
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let (s, text) = self
            .send(reqwest::Method::GET, path, Some(token), None)
            .await;
        (s, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.post_raw(path, Some(token), body.to_string()).await
    }

    async fn post_raw(&self, path: &str, token: Option<&str>, body: String) -> (u16, Value) {
        let (s, text) = self
            .send(reqwest::Method::POST, path, token, Some(body))
            .await;
        (s, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.expect("clean shutdown");
        }
    }
}

fn alert(uid: &str, key: &str, queue: &str) -> NewAlert {
    NewAlert {
        uid: uid.into(),
        entity_kind: "host".into(),
        entity_key: key.into(),
        technique: "T1071.001".into(),
        source: "zeek".into(),
        class_uid: 4001,
        model_score: 0.9,
        payload: json!({ "metadata": { "uid": uid } }),
        received_ms: 1_700_000_000_000,
        enrichments: vec![],
        proposed: Routing {
            queue: queue.into(),
            priority: Priority::P3,
            sla_ms: 3_600_000,
            combined_risk: 50.0,
            risk_explanation: json!({ "model_score": 0.9 }),
            title: format!("C2 beacon from {key}"),
        },
    }
}

/// Opens one ticket per `(key, queue)`; returns their ids in order.
fn seed(api: &Api, tickets: &[(&str, &str)]) -> Vec<i64> {
    let mut s = api.store();
    tickets
        .iter()
        .enumerate()
        .map(|(i, (key, queue))| {
            s.ingest_alert(&alert(&format!("uid-{i}-{key}"), key, queue), 0)
                .expect("ingest")
                .ticket_id
                .0
        })
        .collect()
}

fn ids(v: &Value) -> Vec<i64> {
    v["tickets"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["id"].as_i64()).collect())
        .unwrap_or_default()
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

fn last_audit<'a>(ticket: &'a Value, action: &str) -> &'a Value {
    ticket["audit"]
        .as_array()
        .and_then(|a| a.iter().rev().find(|e| e["action"] == action))
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn lists_filters_and_paginates_queues_and_tickets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = Api::with_db(&dir.path().join("cases.db")).await;
    let t = seed(
        &api,
        &[
            ("h1", "network"),
            ("h2", "endpoint"),
            ("h3", "network"),
            ("h4", "network"),
            ("h5", "endpoint"),
        ],
    );

    let (s, q) = api.get("/v1/queues", ALICE).await;
    assert_eq!(s, 200, "{q}");
    assert_eq!(
        q,
        json!([{ "queue": "endpoint", "open": 2 }, { "queue": "network", "open": 3 }])
    );

    let (s, page) = api.get("/v1/tickets?queue=network&limit=2", ALICE).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(ids(&page), [t[0], t[2]]);
    assert_eq!(page["next_after_id"], t[2]);
    assert_eq!(page["tickets"][0]["status"], "new");
    assert_eq!(page["tickets"][0]["entity_key"], "h1");
    let (_, rest) = api
        .get(
            &format!("/v1/tickets?queue=network&limit=2&after_id={}", t[2]),
            ALICE,
        )
        .await;
    assert_eq!(ids(&rest), [t[3]]);
    assert_eq!(rest["next_after_id"], Value::Null);
    let (_, all) = api.get("/v1/tickets", ALICE).await;
    assert_eq!(ids(&all), t);

    // Claim one, then filter by assignee and status.
    let (s, _) = api
        .post(
            &format!("/v1/tickets/{}/claim", t[1]),
            ALICE,
            json!({ "version": 1 }),
        )
        .await;
    assert_eq!(s, 200);
    let (_, mine) = api.get("/v1/tickets?assignee=alice", ALICE).await;
    assert_eq!(ids(&mine), [t[1]]);
    let (_, working) = api.get("/v1/tickets?status=in_progress", ALICE).await;
    assert_eq!(ids(&working), [t[1]]);
    let (_, fresh) = api
        .get("/v1/tickets?status=new&queue=endpoint", ALICE)
        .await;
    assert_eq!(ids(&fresh), [t[4]]);

    let (s, one) = api.get(&format!("/v1/tickets/{}", t[0]), ALICE).await;
    assert_eq!(s, 200, "{one}");
    assert_eq!(one["id"], t[0]);
    assert_eq!(one["alerts"][0]["uid"], "uid-0-h1");
    assert_eq!(one["audit"][0]["action"], "created");
    assert_eq!(one["actions"], json!([]));
    let (s, missing) = api.get("/v1/tickets/999", ALICE).await;
    assert_eq!((s, code(&missing)), (404, "ticket_not_found"));
    api.stop().await;
}

#[tokio::test]
async fn claim_conflicts_comments_and_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = Api::with_db(&dir.path().join("cases.db")).await;
    let t = seed(&api, &[("h1", "network")])[0];
    let claim = format!("/v1/tickets/{t}/claim");

    let (s, mine) = api.post(&claim, ALICE, json!({ "version": 1 })).await;
    assert_eq!(s, 200, "{mine}");
    assert_eq!(mine["assignee"], "alice");
    assert_eq!(mine["status"], "in_progress");
    assert_eq!(mine["version"], 2);
    assert_eq!(last_audit(&mine, "claimed")["actor"], "alice");

    // Bob saw version 1: someone changed it since.
    let (s, err) = api.post(&claim, BOB, json!({ "version": 1 })).await;
    assert_eq!((s, code(&err)), (409, "version_conflict"), "{err}");
    assert!(err["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("version 2")));
    assert!(err["error"]["request_id"].is_string());

    // Only an admin claims for someone else.
    let (s, err) = api
        .post(&claim, BOB, json!({ "version": 2, "analyst": "carol" }))
        .await;
    assert_eq!((s, code(&err)), (403, "forbidden"));
    let (s, carol) = api
        .post(&claim, ADMIN, json!({ "version": 2, "analyst": "carol" }))
        .await;
    assert_eq!(s, 200, "{carol}");
    assert_eq!(carol["assignee"], "carol");
    assert_eq!(last_audit(&carol, "claimed")["actor"], "root");

    let (s, c) = api
        .post(
            &format!("/v1/tickets/{t}/comments"),
            BOB,
            json!({ "body": "beacon interval 60s, JA3 matches Cobalt Strike" }),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["comments"][0]["author"], "bob");
    assert_eq!(
        c["comments"][0]["body"],
        "beacon interval 60s, JA3 matches Cobalt Strike"
    );
    assert_eq!(last_audit(&c, "commented")["actor"], "bob");

    let status = format!("/v1/tickets/{t}/status");
    let (s, released) = api.post(&status, ALICE, json!({ "status": "new" })).await;
    assert_eq!(s, 200, "{released}");
    assert_eq!(released["status"], "new");
    assert_eq!(released["assignee"], Value::Null);
    // Resolving goes through a disposition.
    let (s, err) = api
        .post(&status, ALICE, json!({ "status": "resolved" }))
        .await;
    assert_eq!((s, code(&err)), (409, "invalid_transition"), "{err}");
    let (s, closed) = api
        .post(&status, ALICE, json!({ "status": "closed" }))
        .await;
    assert_eq!(s, 200);
    assert_eq!(closed["status"], "closed");
    let (s, err) = api.post(&claim, ALICE, json!({ "version": 5 })).await;
    assert_eq!((s, code(&err)), (409, "invalid_transition"), "{err}");
    api.stop().await;
}

#[tokio::test]
async fn disposition_is_exported_as_feedback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = Api::with_db(&dir.path().join("cases.db")).await;
    let t = seed(&api, &[("h1", "network"), ("h2", "network")]);
    let (s, r) = api
        .post(
            &format!("/v1/tickets/{}/disposition", t[0]),
            ALICE,
            json!({ "disposition": "false_positive", "reason": "vulnerability scanner" }),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], "resolved");
    assert_eq!(
        r["disposition"],
        json!({
            "disposition": "false_positive", "reason": "vulnerability scanner",
            "analyst": "alice", "at_ms": r["disposition"]["at_ms"],
        })
    );
    // Not twice.
    let (s, err) = api
        .post(
            &format!("/v1/tickets/{}/disposition", t[0]),
            BOB,
            json!({ "disposition": "true_positive", "reason": "second opinion" }),
        )
        .await;
    assert_eq!((s, code(&err)), (409, "invalid_transition"));

    let (s, fb) = api.get("/v1/feedback", ADMIN).await;
    assert_eq!(s, 200, "{fb}");
    let rows = fb.as_array().expect("array");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["ticket_id"], t[0]);
    assert_eq!(rows[0]["disposition"], "false_positive");
    assert_eq!(rows[0]["reason"], "vulnerability scanner");
    assert_eq!(rows[0]["analyst"], "alice");
    assert_eq!(rows[0]["alerts"][0]["uid"], "uid-0-h1");

    let (s, text) = api
        .send(
            reqwest::Method::GET,
            "/v1/feedback?format=ndjson",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("ndjson line"))
        .collect();
    assert_eq!(lines, rows.clone());

    let later = rows[0]["at_ms"].as_i64().expect("at_ms") + 1;
    let (_, none) = api
        .get(&format!("/v1/feedback?since_ms={later}"), ADMIN)
        .await;
    assert_eq!(none, json!([]));
    api.stop().await;
}

#[tokio::test]
async fn overrides_are_audited_with_before_and_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = Api::with_db(&dir.path().join("cases.db")).await;
    let t = seed(&api, &[("h1", "network")])[0];
    let path = format!("/v1/tickets/{t}/override");

    let (s, r) = api
        .post(
            &path,
            ALICE,
            json!({ "queue": "tier2", "priority": "p1", "reason": "domain admin involved" }),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["queue"], "tier2");
    assert_eq!(r["priority"], "P1");
    let a = last_audit(&r, "route_overridden");
    assert_eq!(a["actor"], "alice");
    assert_eq!(a["before"]["queue"], "network");
    assert_eq!(a["before"]["priority"], "P3");
    assert_eq!(a["after"]["queue"], "tier2");
    assert_eq!(a["after"]["priority"], "P1");
    assert_eq!(a["after"]["reason"], "domain admin involved");

    let (s, r) = api
        .post(
            &path,
            BOB,
            json!({ "risk": 90.5, "reason": "known campaign infrastructure" }),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["combined_risk"], 90.5);
    assert_eq!(r["risk_explanation"]["overridden_by"], "bob");
    assert_eq!(r["risk_explanation"]["previous_risk"], 50.0);
    let a = last_audit(&r, "risk_overridden");
    assert_eq!(a["actor"], "bob");
    assert_eq!(a["before"]["combined_risk"], 50.0);
    assert_eq!(a["after"]["combined_risk"], 90.5);
    assert_eq!(a["after"]["reason"], "known campaign infrastructure");

    // Exactly one kind, a known priority, a reason, a sane risk.
    for bad in [
        json!({ "queue": "x", "priority": "P1", "risk": 1.0, "reason": "r" }),
        json!({ "queue": "x", "reason": "r" }),
        json!({ "reason": "r" }),
        json!({ "queue": "x", "priority": "P9", "reason": "r" }),
        json!({ "risk": 10.0 }),
        json!({ "risk": 10.0, "reason": "  " }),
        json!({ "risk": -1.0, "reason": "r" }),
    ] {
        let (s, err) = api.post(&path, ALICE, bad.clone()).await;
        assert_eq!((s, code(&err)), (422, "invalid_input"), "{bad} -> {err}");
    }
    let (_, unchanged) = api.get(&format!("/v1/tickets/{t}"), ALICE).await;
    assert_eq!(unchanged["combined_risk"], 90.5);
    api.stop().await;
}

#[tokio::test]
async fn roles_are_enforced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = Api::with_db(&dir.path().join("cases.db")).await;
    let t = seed(&api, &[("h1", "network")])[0];

    // Ingest token on analyst endpoints.
    for path in ["/v1/queues", "/v1/tickets", "/v1/actions"] {
        let (s, err) = api.get(path, INGEST).await;
        assert_eq!((s, code(&err)), (403, "forbidden"), "{path}");
        assert!(err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("role analyst")));
    }
    let (s, err) = api
        .post(
            &format!("/v1/tickets/{t}/comments"),
            INGEST,
            json!({ "body": "x" }),
        )
        .await;
    assert_eq!((s, code(&err)), (403, "forbidden"));
    // Analyst on the admin export and on ingest.
    let (s, err) = api.get("/v1/feedback", ALICE).await;
    assert_eq!((s, code(&err)), (403, "forbidden"));
    assert!(err["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("role admin")));
    let (s, err) = api.post_raw("/v1/alerts", Some(ALICE), "{}".into()).await;
    assert_eq!((s, code(&err)), (403, "forbidden"));
    // No token, a wrong token.
    let (s, err) = api
        .send(reqwest::Method::GET, "/v1/tickets", None, None)
        .await;
    assert_eq!(s, 401, "{err}");
    let (s, err) = api.get("/v1/tickets", "not-a-token-at-all").await;
    assert_eq!((s, code(&err)), (401, "unauthorized"));
    let (s, err) = api.get("/v1/feedback", "").await;
    assert_eq!(s, 401, "{err}");
    // Admin passes everything; the ingest token reaches ingest and scoring.
    assert_eq!(api.get("/v1/tickets", ADMIN).await.0, 200);
    assert_eq!(api.get("/v1/feedback", ADMIN).await.0, 200);
    let (s, _) = api.post_raw("/v1/alerts", Some(INGEST), "{}".into()).await;
    assert!(s != 401 && s != 403, "ingest token on /v1/alerts: {s}");
    let (s, _) = api
        .send(reqwest::Method::GET, "/metrics", Some(INGEST), None)
        .await;
    assert_eq!(s, 200);
    let (s, _) = api.get("/metrics", ALICE).await;
    assert_eq!(s, 200);
    // Nothing changed through the denied calls.
    assert!(api
        .store()
        .get(TicketId(t))
        .expect("ticket")
        .comments
        .is_empty());
    api.stop().await;
}

#[tokio::test]
async fn containment_needs_an_analysts_approval() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = Api::with_db(&dir.path().join("cases.db")).await;
    let t = seed(&api, &[("win-client-31", "endpoint")])[0];
    let (isolate, block) = {
        let mut s = api.store();
        let mut req = |name: &str, key: &str| {
            s.request_action(
                TicketId(t),
                &NewAction {
                    name: name.into(),
                    kind: ActionKind::Containment,
                    target: json!({ "kind": "host", "key": key }),
                    params: json!({}),
                    requested_by: "playbook:endpoint-alert".into(),
                },
            )
            .expect("request")
            .0
        };
        (
            req("isolate_host", "win-client-31"),
            req("block_ip", "203.0.113.7"),
        )
    };

    let (s, pending) = api.get("/v1/actions?status=pending_approval", ALICE).await;
    assert_eq!(s, 200, "{pending}");
    let listed: Vec<i64> = pending["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(|a| a["id"].as_i64())
        .collect();
    assert_eq!(listed, [isolate, block]);
    assert_eq!(pending["actions"][0]["target"]["key"], "win-client-31");
    assert_eq!(api.get("/v1/actions", ALICE).await.1, pending);

    let (s, a) = api
        .post(
            &format!("/v1/actions/{isolate}/decision"),
            ALICE,
            json!({ "approve": true }),
        )
        .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["status"], "approved");
    assert_eq!(a["decided_by"], "alice");
    assert_eq!(a["ticket_id"], t);

    // Rejecting needs a reason.
    let decide_block = format!("/v1/actions/{block}/decision");
    let (s, err) = api
        .post(&decide_block, BOB, json!({ "approve": false }))
        .await;
    assert_eq!((s, code(&err)), (422, "invalid_input"), "{err}");
    assert!(err["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("reason")));
    let (s, r) = api
        .post(
            &decide_block,
            BOB,
            json!({ "approve": false, "reason": "shared NAT address" }),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], "rejected");
    assert_eq!(r["reason"], "shared NAT address");
    // Decided is decided.
    let (s, err) = api
        .post(&decide_block, ALICE, json!({ "approve": true }))
        .await;
    assert_eq!((s, code(&err)), (409, "invalid_transition"));
    let (s, err) = api
        .post(
            "/v1/actions/9999/decision",
            ALICE,
            json!({ "approve": true }),
        )
        .await;
    assert_eq!((s, code(&err)), (404, "action_not_found"));

    let (_, ticket) = api.get(&format!("/v1/tickets/{t}"), ALICE).await;
    let statuses: Vec<&str> = ticket["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(|a| a["status"].as_str())
        .collect();
    assert_eq!(statuses, ["approved", "rejected"]);
    assert_eq!(last_audit(&ticket, "action_approved")["actor"], "alice");
    assert_eq!(last_audit(&ticket, "action_rejected")["actor"], "bob");
    let (_, left) = api.get("/v1/actions", ALICE).await;
    assert_eq!(left["actions"], json!([]));
    let (_, all) = api.get("/v1/actions?status=all", ALICE).await;
    assert_eq!(all["actions"].as_array().map(Vec::len), Some(2));
    api.stop().await;
}

#[tokio::test]
async fn bad_inputs_get_4xx_never_5xx() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = Api::with_db(&dir.path().join("cases.db")).await;
    let t = seed(&api, &[("h1", "network")])[0];
    let huge = json!({ "body": "x".repeat(MAX_BODY * 2) }).to_string();
    let cases: Vec<(&str, String, Option<String>, u16, &str)> = vec![
        (
            "non-integer id",
            "/v1/tickets/abc".into(),
            None,
            400,
            "invalid_id",
        ),
        (
            "fractional id",
            "/v1/tickets/1.5".into(),
            None,
            400,
            "invalid_id",
        ),
        (
            "non-integer id on a post",
            "/v1/tickets/x/claim".into(),
            Some(r#"{"version":1}"#.into()),
            400,
            "invalid_id",
        ),
        (
            "non-integer action id",
            "/v1/actions/%20/decision".into(),
            Some(r#"{"approve":true}"#.into()),
            400,
            "invalid_id",
        ),
        (
            "unknown field",
            format!("/v1/tickets/{t}/claim"),
            Some(r#"{"version":1,"force":true}"#.into()),
            422,
            "invalid_input",
        ),
        (
            "wrong type",
            format!("/v1/tickets/{t}/claim"),
            Some(r#"{"version":"1"}"#.into()),
            422,
            "invalid_input",
        ),
        (
            "missing field",
            format!("/v1/tickets/{t}/claim"),
            Some("{}".into()),
            422,
            "invalid_input",
        ),
        (
            "not an object",
            format!("/v1/tickets/{t}/comments"),
            Some("[1,2]".into()),
            422,
            "invalid_input",
        ),
        (
            "malformed JSON",
            format!("/v1/tickets/{t}/comments"),
            Some(r#"{"body": "#.into()),
            400,
            "json_invalid",
        ),
        (
            "empty body",
            format!("/v1/tickets/{t}/comments"),
            Some(String::new()),
            400,
            "empty",
        ),
        (
            "empty comment",
            format!("/v1/tickets/{t}/comments"),
            Some(r#"{"body":"  "}"#.into()),
            422,
            "invalid_input",
        ),
        (
            "huge body",
            format!("/v1/tickets/{t}/comments"),
            Some(huge),
            413,
            "payload_too_large",
        ),
        (
            "missing reason",
            format!("/v1/tickets/{t}/disposition"),
            Some(r#"{"disposition":"true_positive"}"#.into()),
            422,
            "invalid_input",
        ),
        (
            "unknown disposition",
            format!("/v1/tickets/{t}/disposition"),
            Some(r#"{"disposition":"maybe","reason":"r"}"#.into()),
            422,
            "invalid_input",
        ),
        (
            "unknown status",
            format!("/v1/tickets/{t}/status"),
            Some(r#"{"status":"done"}"#.into()),
            422,
            "invalid_input",
        ),
        (
            "approve not a bool",
            "/v1/actions/1/decision".into(),
            Some(r#"{"approve":"yes"}"#.into()),
            422,
            "invalid_input",
        ),
        (
            "unknown query parameter",
            "/v1/tickets?queu=network".into(),
            None,
            400,
            "invalid_query",
        ),
        (
            "limit not a number",
            "/v1/tickets?limit=ten".into(),
            None,
            400,
            "invalid_query",
        ),
        (
            "limit zero",
            "/v1/tickets?limit=0".into(),
            None,
            422,
            "invalid_input",
        ),
        (
            "limit too big",
            "/v1/tickets?limit=5000".into(),
            None,
            422,
            "invalid_input",
        ),
        (
            "after_id not a number",
            "/v1/tickets?after_id=x".into(),
            None,
            400,
            "invalid_query",
        ),
        (
            "unknown ticket status",
            "/v1/tickets?status=open".into(),
            None,
            422,
            "invalid_input",
        ),
        (
            "unknown action status",
            "/v1/actions?status=done".into(),
            None,
            422,
            "invalid_input",
        ),
        (
            "unknown ticket",
            "/v1/tickets/424242".into(),
            None,
            404,
            "ticket_not_found",
        ),
        (
            "comment on an unknown ticket",
            "/v1/tickets/424242/comments".into(),
            Some(r#"{"body":"x"}"#.into()),
            404,
            "ticket_not_found",
        ),
    ];
    for (what, path, body, status, want) in cases {
        let method = if body.is_some() {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        };
        let (s, text) = api.send(method, &path, Some(ALICE), body).await;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_eq!((s, code(&v)), (status, want), "{what}: {path} -> {text}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}: {text}"
        );
    }
    let (s, err) = api.get("/v1/feedback?since_ms=yesterday", ADMIN).await;
    assert_eq!((s, code(&err)), (400, "invalid_query"));
    let (s, err) = api.get("/v1/feedback?format=xml", ADMIN).await;
    assert_eq!((s, code(&err)), (400, "invalid_query"));
    // The ticket is as it was.
    let ticket = api.store().get(TicketId(t)).expect("ticket");
    assert_eq!(ticket.summary.version, 1);
    assert!(ticket.comments.is_empty() && ticket.disposition.is_none());
    api.stop().await;
}

#[tokio::test]
async fn without_soar_every_analyst_endpoint_says_how_to_enable_it() {
    let api = Api::start(None, true).await;
    for (path, token) in [
        ("/v1/queues", ALICE),
        ("/v1/tickets", ALICE),
        ("/v1/tickets/1", ALICE),
        ("/v1/actions", ALICE),
        ("/v1/feedback", ADMIN),
    ] {
        let (s, err) = api.get(path, token).await;
        assert_eq!((s, code(&err)), (404, "soar_disabled"), "{path}");
        assert!(err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("[soar]")));
    }
    let (s, err) = api
        .post("/v1/tickets/1/claim", ALICE, json!({ "version": 1 }))
        .await;
    assert_eq!((s, code(&err)), (404, "soar_disabled"));
    // Roles are still checked first.
    let (s, _) = api.get("/v1/tickets", INGEST).await;
    assert_eq!(s, 403);
    api.stop().await;
}

#[tokio::test]
async fn no_auth_allows_everything_as_anonymous() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = Api::start(Some(open_soar(&dir.path().join("cases.db"))), false).await;
    let t = seed(&api, &[("h1", "network")])[0];
    let (s, r) = api
        .send(
            reqwest::Method::POST,
            &format!("/v1/tickets/{t}/comments"),
            None,
            Some(r#"{"body":"looked at it"}"#.into()),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let r: Value = serde_json::from_str(&r).expect("json");
    assert_eq!(r["comments"][0]["author"], "anonymous");
    let (s, _) = api
        .send(reqwest::Method::GET, "/v1/feedback", None, None)
        .await;
    assert_eq!(s, 200);
    api.stop().await;
}

#[tokio::test]
async fn tickets_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("cases.db");
    let api = Api::with_db(&db).await;
    let t = seed(&api, &[("h1", "network"), ("h2", "endpoint")]);
    let (s, _) = api
        .post(
            &format!("/v1/tickets/{}/claim", t[0]),
            ALICE,
            json!({ "version": 1 }),
        )
        .await;
    assert_eq!(s, 200);
    let (_, before) = api.get(&format!("/v1/tickets/{}", t[0]), ALICE).await;
    api.stop().await; // drops the server's state and with it the store

    let api = Api::with_db(&db).await;
    let (s, after) = api.get(&format!("/v1/tickets/{}", t[0]), ALICE).await;
    assert_eq!(s, 200, "{after}");
    assert_eq!(after, before);
    assert_eq!(after["assignee"], "alice");
    let (_, all) = api.get("/v1/tickets", ALICE).await;
    assert_eq!(ids(&all), t);
    // And it keeps working: bob sees the current version and can re-claim with it.
    let (s, r) = api
        .post(
            &format!("/v1/tickets/{}/claim", t[0]),
            BOB,
            json!({ "version": after["version"] }),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["assignee"], "bob");
    api.stop().await;
}

//! The HTTP API end to end: the real axum server on 127.0.0.1:0 with the bundled model, spoken to
//! over real HTTP with reqwest. Covers auth, every endpoint, every output shape, the batch
//! contract and the bad-input suite (each bad input gets a 4xx with a stable code, never a 5xx).

use serde_json::{json, Value};
use shrike::config::TokenConfig;
use shrike::server::{spawn, AppState, RunningServer, StateOptions};
use std::sync::Arc;

const TOKEN: &str = "test-token-0123456789";

struct Api {
    base: String,
    client: reqwest::Client,
    server: Option<RunningServer>,
}

impl Api {
    async fn start(max_body_bytes: usize) -> Api {
        let scorer = shrike::load_scorer(None).expect("bundled model loads");
        let opts = StateOptions {
            tokens: vec![TokenConfig {
                name: "tests".into(),
                token: TOKEN.into(),
                role: shrike::config::Role::Ingest,
            }],
            max_body_bytes,
            max_batch: 10,
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
        }
    }

    async fn post(&self, path: &str, ct: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Posts a bundled sample email as `message/rfc822`.
    async fn score_sample(&self, path: &str, name: &str) -> (u16, Value) {
        self.post(path, "message/rfc822", sample(name)).await
    }

    async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.expect("clean shutdown");
        }
    }
}

fn sample(name: &str) -> Vec<u8> {
    shrike::demo::SAMPLES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| b.to_vec())
        .expect("bundled sample")
}

#[tokio::test]
async fn scores_raw_email_with_reasons_and_model_identity() {
    let api = Api::start(10 << 20).await;
    let (s, phish) = api
        .score_sample("/v1/email/score", "paypal-lookalike.eml")
        .await;
    assert_eq!(s, 200, "{phish}");
    let (s, ham) = api.score_sample("/v1/email/score", "team-lunch.eml").await;
    assert_eq!(s, 200, "{ham}");
    let p = phish["score"].as_f64().expect("score");
    let h = ham["score"].as_f64().expect("score");
    assert!((0.0..=1.0).contains(&p) && (0.0..=1.0).contains(&h));
    assert!(
        p > h,
        "lookalike phish {p} must outscore the team lunch {h}"
    );
    assert_eq!(ham["verdict"], "benign");
    assert_ne!(phish["verdict"], "benign", "{phish}");
    let reasons = phish["reasons"].as_array().expect("reasons");
    assert!(!reasons.is_empty() && reasons.len() <= 5);
    assert!(reasons[0]["feature"].is_string() && reasons[0]["contribution"].is_number());
    assert_eq!(phish["model"]["sha256"].as_str().map(str::len), Some(64));
    // Asking for no reasons gives none, with the same score.
    let (_, again) = api
        .score_sample("/v1/email/score?reasons=0", "paypal-lookalike.eml")
        .await;
    assert_eq!(again["reasons"], json!([]));
    assert_eq!(again["score"], phish["score"]);
    api.stop().await;
}

#[tokio::test]
async fn output_shapes_for_playbooks() {
    let api = Api::start(10 << 20).await;
    let (s, ocsf) = api
        .score_sample("/v1/email/score?format=ocsf", "paypal-lookalike.eml")
        .await;
    assert_eq!(s, 200);
    assert_eq!(ocsf["class_uid"], 2004);
    assert_eq!(ocsf["metadata"]["version"], "1.8.0");
    assert_eq!(
        ocsf["evidences"][0]["email"]["from"],
        "service@paypa1-secure.com"
    );
    let (_, ecs) = api
        .score_sample("/v1/email/score?format=ecs", "paypal-lookalike.eml")
        .await;
    assert_eq!(
        ecs["email"]["from"]["address"][0],
        "service@paypa1-secure.com"
    );
    assert_eq!(ecs["event"]["dataset"], "shrike.email");
    let (_, hec) = api
        .score_sample("/v1/email/score?format=hec", "team-lunch.eml")
        .await;
    assert_eq!(hec["sourcetype"], "shrike:email:score");
    assert_eq!(hec["event"]["verdict"], "benign");
    let (s, bad) = api
        .score_sample("/v1/email/score?format=xml", "team-lunch.eml")
        .await;
    assert_eq!(s, 400, "{bad}");
    api.stop().await;
}

#[tokio::test]
async fn email_log_json_and_batch_report_bad_items_by_index() {
    let api = Api::start(10 << 20).await;
    let log = json!({
        "id": "siem-42",
        "from": "\"PayPal\" <service@paypa1-secure.com>",
        "to": ["customer@example.org"],
        "subject": "Your account has been limited",
        "body_text": "Verify your account within 24 hours: http://198.51.100.23/login",
        "urls": ["http://198.51.100.23/login"],
        "auth": {"spf": "fail", "dkim": "none", "dmarc": "fail"}
    });
    let (s, one) = api
        .post("/v1/email/score", "application/json", log.to_string())
        .await;
    assert_eq!(s, 200, "{one}");
    assert_eq!(one["id"], "siem-42");
    let raw = String::from_utf8(sample("team-lunch.eml")).expect("utf8");
    let batch = json!([log, {"raw": raw}, {"from": 7, "subject": "x"}, "not an object"]);
    let (s, res) = api
        .post(
            "/v1/email/score/batch",
            "application/json",
            batch.to_string(),
        )
        .await;
    assert_eq!(s, 200, "{res}");
    assert_eq!(res["count"], 4);
    let ok: Vec<u64> = res["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["index"].as_u64())
        .collect();
    assert_eq!(ok, vec![0, 1]);
    let errs = res["errors"].as_array().expect("errors");
    assert_eq!(errs.len(), 2);
    assert_eq!(errs[0]["index"], 2);
    assert!(
        errs[0]["message"].as_str().unwrap_or("").contains("from"),
        "{}",
        errs[0]
    );
    // NDJSON batch, with a broken line that fails alone.
    let nd = format!("{log}\n{{broken\n{}\n", json!({"raw": raw}));
    let (s, res) = api
        .post("/v1/email/score/batch", "application/x-ndjson", nd)
        .await;
    assert_eq!(s, 200);
    assert_eq!(res["results"].as_array().map(Vec::len), Some(2));
    assert_eq!(res["errors"][0]["code"], "json_invalid");
    // Too many items.
    let many = Value::Array(vec![log.clone(); 11]);
    let (s, res) = api
        .post(
            "/v1/email/score/batch",
            "application/json",
            many.to_string(),
        )
        .await;
    assert_eq!(
        (s, res["error"]["code"].as_str()),
        (413, Some("batch_too_large"))
    );
    api.stop().await;
}

#[tokio::test]
async fn bad_input_gets_clear_4xx_never_5xx() {
    let api = Api::start(1 << 20).await;
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        ("empty body", "message/rfc822", Vec::new(), 400, "empty"),
        (
            "png bytes",
            "message/rfc822",
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0".to_vec(),
            422,
            "not_an_email",
        ),
        (
            "no content type",
            "",
            b"Subject: x\n\nhi".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "image content type",
            "image/png",
            b"x".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "invalid json",
            "application/json",
            b"{\"from\": ".to_vec(),
            400,
            "json_invalid",
        ),
        (
            "json array to single",
            "application/json",
            b"[1,2]".to_vec(),
            400,
            "json_wrong_type",
        ),
        (
            "wrong json types",
            "application/json",
            br#"{"from": 12, "subject": ["a"]}"#.to_vec(),
            422,
            "json_wrong_type",
        ),
        (
            "missing fields",
            "application/json",
            br#"{"id": "x"}"#.to_vec(),
            422,
            "missing_fields",
        ),
        (
            "too large",
            "message/rfc822",
            vec![b'a'; (1 << 20) + 10],
            413,
            "payload_too_large",
        ),
    ];
    for (what, ct, body, status, code) in cases {
        let (s, v) = if ct.is_empty() {
            let r = api
                .client
                .post(format!("{}/v1/email/score", api.base))
                .bearer_auth(TOKEN)
                .body(body)
                .send()
                .await
                .expect("request");
            (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
        } else {
            api.post("/v1/email/score", ct, body).await
        };
        assert_eq!(s, status, "{what}: {v}");
        assert_eq!(v["error"]["code"], code, "{what}: {v}");
        assert!(v["error"]["request_id"].is_string(), "{what}: {v}");
    }
    // Invalid UTF-8 and a deeply nested multipart are emails: scored or rejected with 4xx, never 5xx.
    let mut bad_utf8 =
        b"From: a@b.example\nSubject: \xff\xfe bad\n\n\xc3\x28 body \xa0\xa1\n".to_vec();
    let (s, v) = api
        .post(
            "/v1/email/score",
            "message/rfc822",
            std::mem::take(&mut bad_utf8),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let mut nested = String::from("From: a@b.example\nSubject: deep\nMIME-Version: 1.0\n");
    for i in 0..2000 {
        nested.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\n\n--b{i}\n"
        ));
    }
    nested.push_str("Content-Type: text/plain\n\nhello\n");
    let (s, v) = api.post("/v1/email/score", "message/rfc822", nested).await;
    assert!(s < 500, "deep nesting must not 5xx: {s} {v}");
    if s != 200 {
        assert_eq!(v["error"]["code"], "mime_too_deep", "{v}");
    }
    api.stop().await;
}

#[tokio::test]
async fn auth_health_openapi_and_metrics() {
    let api = Api::start(10 << 20).await;
    let c = &api.client;
    for path in ["/healthz", "/readyz", "/openapi.json"] {
        let r = c
            .get(format!("{}{path}", api.base))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status().as_u16(), 200, "{path} is open");
    }
    let ready: Value = c
        .get(format!("{}/readyz", api.base))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["status"], "ready");
    let r = c
        .post(format!("{}/v1/email/score", api.base))
        .header("content-type", "message/rfc822")
        .body(sample("team-lunch.eml"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 401);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "unauthorized");
    let r = c
        .post(format!("{}/v1/email/score", api.base))
        .bearer_auth("wrong-token-xxxxxxxx")
        .header("content-type", "message/rfc822")
        .body(sample("team-lunch.eml"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 401);
    let r = c
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 401, "metrics need a token");
    let (s, _) = api.score_sample("/v1/email/score", "team-lunch.eml").await;
    assert_eq!(s, 200);
    let r = c
        .get(format!("{}/nope", api.base))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 404);
    let text = c
        .get(format!("{}/metrics", api.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(
        text.contains("shrike_http_requests_total{endpoint=\"score\",code=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("shrike_http_requests_total{endpoint=\"score\",code=\"401\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("shrike_errors_total{code=\"unauthorized\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("shrike_emails_scored_total{verdict=\"benign\"} 1"),
        "{text}"
    );
    assert!(text.contains("shrike_model_info{"), "{text}");
    api.stop().await;
}

#[tokio::test]
async fn a_50_mb_body_is_refused_without_reading_it_all() {
    let api = Api::start(10 << 20).await;
    let mut body = b"From: a@b.example\nSubject: big\n\n".to_vec();
    body.resize(50 << 20, b'x');
    let (s, v) = api.post("/v1/email/score", "message/rfc822", body).await;
    assert_eq!(s, 413, "{v}");
    assert_eq!(v["error"]["code"], "payload_too_large");
    api.stop().await;
}

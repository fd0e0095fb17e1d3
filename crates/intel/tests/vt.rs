//! VirusTotal v3 client behind the provider guard, against a local HTTP/1.1 server on
//! 127.0.0.1 that answers with VirusTotal's documented JSON (the real response fixtures in
//! `shared/data/threat-intel/virustotal`). Time is a `FakeClock`: no test sleeps.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use shrike_intel::provider::{
    BreakerState, FakeClock, Guarded, Origin, Outcome, Policy, ProviderError, Status,
};
use shrike_intel::vt::{VtClient, VtConfig, DEFAULT_BASE_URL};
use shrike_intel::{Indicator, IndicatorKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

const KEY: &str = "test-key-0123";

// ---------------------------------------------------------------------------------------------
// A tiny HTTP/1.1 responder.

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    api_key: Option<String>,
}

enum Reply {
    Respond {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// Read the request, never answer (until the client hangs up).
    Hang,
}

fn json_reply(status: u16, body: impl Into<String>) -> Reply {
    Reply::Respond {
        status,
        headers: Vec::new(),
        body: body.into(),
    }
}

type Handler = Arc<dyn Fn(&Req, usize) -> Reply + Send + Sync>;

struct Server {
    base: String,
    requests: Arc<Mutex<Vec<Req>>>,
    count: watch::Receiver<usize>,
}

impl Server {
    fn requests(&self) -> Vec<Req> {
        self.requests.lock().expect("lock").clone()
    }
    fn count(&self) -> usize {
        self.requests.lock().expect("lock").len()
    }
    async fn wait_for(&self, n: usize) {
        let mut rx = self.count.clone();
        rx.wait_for(|c| *c >= n).await.expect("server alive");
    }
}

async fn serve(handler: Handler) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = watch::channel(0usize);
    let tx = Arc::new(tx);
    let reqs = Arc::clone(&requests);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (handler, reqs, tx) = (Arc::clone(&handler), Arc::clone(&reqs), Arc::clone(&tx));
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&buf).to_string();
                let mut lines = text.split("\r\n");
                let mut first = lines.next().unwrap_or("").split(' ');
                let method = first.next().unwrap_or("").to_string();
                let path = first.next().unwrap_or("").to_string();
                let api_key = lines
                    .filter_map(|l| l.split_once(':'))
                    .find(|(k, _)| k.eq_ignore_ascii_case("x-apikey"))
                    .map(|(_, v)| v.trim().to_string());
                let req = Req {
                    method,
                    path,
                    api_key,
                };
                let n = {
                    let mut r = reqs.lock().expect("lock");
                    r.push(req.clone());
                    r.len()
                };
                tx.send_replace(n);
                match handler(&req, n) {
                    Reply::Hang => {
                        let _ = sock.read(&mut chunk).await;
                    }
                    Reply::Respond {
                        status,
                        headers,
                        body,
                    } => {
                        let mut out = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                             content-length: {}\r\nconnection: close\r\n",
                            body.len()
                        );
                        for (k, v) in headers {
                            out.push_str(&format!("{k}: {v}\r\n"));
                        }
                        out.push_str("\r\n");
                        out.push_str(&body);
                        let _ = sock.write_all(out.as_bytes()).await;
                        let _ = sock.shutdown().await;
                    }
                }
            });
        }
    });
    Server {
        base: format!("http://{addr}/api/v3"),
        requests,
        count: rx,
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures and setup.

fn fixture_dir() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/threat-intel/virustotal");
    if d.join("ip_address.json").is_file() {
        Some(d)
    } else {
        eprintln!("skipping: {} not present", d.display());
        None
    }
}

fn fixture(dir: &std::path::Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).expect("fixture readable")
}

const NOT_FOUND: &str = r#"{"error": {"code": "NotFoundError", "message": "Resource not found"}}"#;

/// Serves the real fixtures by path, like the API: key checked, unknown paths 404.
fn fixture_handler(dir: &std::path::Path) -> Handler {
    let ip = fixture(dir, "ip_address.json");
    let domain = fixture(dir, "domain.json");
    let url = fixture(dir, "url.json");
    let file = fixture(dir, "file.json");
    Arc::new(move |req, _| {
        if req.api_key.as_deref() != Some(KEY) {
            return json_reply(
                401,
                r#"{"error": {"code": "WrongCredentialsError", "message": "Wrong API key"}}"#,
            );
        }
        let p = req.path.as_str();
        let body = if p.starts_with("/api/v3/ip_addresses/") {
            &ip
        } else if p.starts_with("/api/v3/domains/") {
            &domain
        } else if p.starts_with("/api/v3/urls/") {
            &url
        } else if p.starts_with("/api/v3/files/") {
            &file
        } else {
            return json_reply(404, NOT_FOUND);
        };
        json_reply(200, body.clone())
    })
}

/// A small body in the documented shape, 10 malicious of 90 (for the non-fixture tests).
fn small_body() -> String {
    json!({"data": {"type": "ip_address", "id": "192.0.2.1", "attributes": {
        "last_analysis_stats": {"malicious": 10, "suspicious": 0, "harmless": 70, "undetected": 10},
        "reputation": -3, "tags": []}}})
    .to_string()
}

fn config(base: &str) -> VtConfig {
    VtConfig {
        api_key: Some(KEY.to_string()),
        base_url: base.to_string(),
        quota_per_minute: 0,
        ..VtConfig::default()
    }
}

fn policy() -> Policy {
    Policy {
        jitter_seed: Some(1),
        ..Policy::default()
    }
}

fn guarded(cfg: VtConfig, policy: Policy) -> (Arc<Guarded<VtClient>>, FakeClock) {
    let clock = FakeClock::new();
    let client = VtClient::new(cfg, Arc::new(clock.clone())).expect("client");
    (
        Arc::new(Guarded::new(client, policy, Arc::new(clock.clone()))),
        clock,
    )
}

fn ind(kind: IndicatorKind, v: &str) -> Indicator {
    Indicator::new(kind, v).expect("valid indicator")
}

fn failed(o: &Outcome) -> &ProviderError {
    o.error()
        .unwrap_or_else(|| panic!("expected a failure, got {o:?}"))
}

// ---------------------------------------------------------------------------------------------
// Hit parsing, one per kind, with the request checked.

#[tokio::test]
async fn ip_hit_from_fixture_then_cached() {
    let Some(dir) = fixture_dir() else { return };
    let server = serve(fixture_handler(&dir)).await;
    let (g, _clock) = guarded(config(&server.base), policy());
    let ip = ind(IndicatorKind::Ipv4, "8.8.8.8");

    let o = g.lookup(&ip).await;
    assert_eq!(o.origin(), Some(Origin::Network), "{o:?}");
    assert_eq!(o.attempts, 1);
    assert_eq!(o.provider, "virustotal");
    let hits = o.hits();
    assert_eq!(hits.len(), 1);
    let h = &hits[0];
    assert_eq!(h.source, "virustotal");
    assert_eq!(h.threat, "malicious");
    // 5 malicious of 87 votes (72 harmless, 2 suspicious, 8 undetected): 50 + round(250*5/87).
    assert_eq!(h.confidence, 64);
    assert_eq!(h.family, None);
    assert_eq!(h.tags, vec!["detections:5/87", "reputation:-4"]);
    assert_eq!(
        h.reference.as_deref(),
        Some("https://www.virustotal.com/gui/ip-address/8.8.8.8")
    );
    assert_eq!((h.first_seen, h.last_seen), (None, None));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, "/api/v3/ip_addresses/8.8.8.8");
    assert_eq!(reqs[0].api_key.as_deref(), Some(KEY));

    let again = g.lookup(&ip).await;
    assert_eq!(again.origin(), Some(Origin::Cache));
    assert_eq!(again.attempts, 0);
    assert_eq!(again.hits(), hits);
    assert_eq!(server.count(), 1, "a cache hit makes no request");
}

#[tokio::test]
async fn domain_hit_from_fixture() {
    let Some(dir) = fixture_dir() else { return };
    let server = serve(fixture_handler(&dir)).await;
    let (g, _clock) = guarded(config(&server.base), policy());
    let o = g
        .lookup(&ind(IndicatorKind::Domain, "Evil-Domain.Example."))
        .await;
    let h = &o.hits()[0];
    assert_eq!(h.indicator.value, "evil-domain.example");
    assert_eq!(h.threat, "malicious");
    // 8 of 98: 50 + round(20.4).
    assert_eq!(h.confidence, 70);
    assert_eq!(h.tags, vec!["detections:8/98", "reputation:0"]);
    assert_eq!(
        h.reference.as_deref(),
        Some("https://www.virustotal.com/gui/domain/evil-domain.example")
    );
    assert_eq!(
        server.requests()[0].path,
        "/api/v3/domains/evil-domain.example"
    );
}

#[tokio::test]
async fn url_hit_from_fixture_with_base64url_id() {
    let Some(dir) = fixture_dir() else { return };
    let server = serve(fixture_handler(&dir)).await;
    let (g, _clock) = guarded(config(&server.base), policy());
    let url = ind(
        IndicatorKind::Url,
        "http://something_definitely_unsecure.com",
    );
    let o = g.lookup(&url).await;
    // base64url of the URL, no padding (computed independently with Python's base64).
    assert_eq!(
        server.requests()[0].path,
        "/api/v3/urls/aHR0cDovL3NvbWV0aGluZ19kZWZpbml0ZWx5X3Vuc2VjdXJlLmNvbQ"
    );
    let h = &o.hits()[0];
    assert_eq!(h.threat, "malicious");
    // 7 of 92: 50 + round(19.02).
    assert_eq!(h.confidence, 69);
    assert_eq!(h.first_seen, Some(1_603_275_371_000));
    assert_eq!(h.last_seen, Some(1_635_971_126_000));
    // The GUI keys URLs by VirusTotal's SHA-256, taken from the response's `self` link
    // (the fixture's `data.id` is the placeholder "1234").
    assert_eq!(
        h.reference.as_deref(),
        Some(
            "https://www.virustotal.com/gui/url/\
             2b2f1f47449495b69986a40beffc86bb1978832c3f6264ff02ea712ac9f3c9a1"
        )
    );
}

#[tokio::test]
async fn file_fixture_is_clean_and_a_detected_variant_is_a_hit_with_family() {
    let Some(dir) = fixture_dir() else { return };
    // The real fixture (0 malicious, 59 undetected): answered, no hit.
    let server = serve(fixture_handler(&dir)).await;
    let (g, _clock) = guarded(config(&server.base), policy());
    let sha256 = "699ec052ecc898bdbdafea0027c4ab44c3d01ae011c17745dd2b7fbddaa077f3";
    let o = g.lookup(&ind(IndicatorKind::Sha256, sha256)).await;
    assert_eq!(
        o.status,
        Status::Answered {
            origin: Origin::Network,
            hits: vec![]
        }
    );
    assert_eq!(server.requests()[0].path, format!("/api/v3/files/{sha256}"));

    // The same fixture with 40 engines flagging it and a threat classification.
    let mut v: Value = serde_json::from_str(&fixture(&dir, "file.json")).expect("json");
    v["data"]["attributes"]["last_analysis_stats"]["malicious"] = json!(40);
    v["data"]["attributes"]["popular_threat_classification"] =
        json!({"suggested_threat_label": "trojan.emotet/fsysna"});
    let body = v.to_string();
    let server = serve(Arc::new(move |_, _| json_reply(200, body.clone()))).await;
    let (g, _clock) = guarded(config(&server.base), policy());
    let md5 = "44d88612fea8a8f36de82e1278abb02f";
    let o = g.lookup(&ind(IndicatorKind::Md5, md5)).await;
    assert_eq!(server.requests()[0].path, format!("/api/v3/files/{md5}"));
    let h = &o.hits()[0];
    assert_eq!(h.threat, "malicious");
    assert_eq!(h.family.as_deref(), Some("emotet"));
    // 40 of 99: over 20 %, capped.
    assert_eq!(h.confidence, 100);
    assert_eq!(
        h.tags,
        vec![
            "software-collection",
            "nsrl",
            "attachment",
            "trusted",
            "via-tor",
            "detections:40/99",
            "reputation:-889"
        ]
    );
    assert_eq!(h.first_seen, Some(1_170_892_383_000));
    assert_eq!(h.last_seen, Some(1_502_355_193_000));
    assert_eq!(
        h.reference.as_deref(),
        Some(format!("https://www.virustotal.com/gui/file/{md5}").as_str())
    );
}

#[tokio::test]
async fn email_is_unsupported_without_a_request() {
    let server = serve(Arc::new(|_, _| json_reply(200, small_body()))).await;
    let (g, _clock) = guarded(config(&server.base), policy());
    let o = g
        .lookup(&ind(IndicatorKind::Email, "bob@example.com"))
        .await;
    assert_eq!(o.status, Status::Unsupported);
    assert_eq!(server.count(), 0);
}

// ---------------------------------------------------------------------------------------------
// Negative answers, TTLs, auth.

#[tokio::test]
async fn not_found_is_a_cached_negative_until_its_ttl() {
    let server = serve(Arc::new(|_, _| json_reply(404, NOT_FOUND))).await;
    let (g, clock) = guarded(config(&server.base), policy());
    let ip = ind(IndicatorKind::Ipv4, "192.0.2.77");

    let o = g.lookup(&ip).await;
    assert_eq!(
        o.status,
        Status::NotFound {
            origin: Origin::Network
        }
    );
    assert_eq!(o.attempts, 1, "not_found is an answer, not retried");
    let o = g.lookup(&ip).await;
    assert_eq!(
        o.status,
        Status::NotFound {
            origin: Origin::Cache
        }
    );
    assert_eq!(server.count(), 1);

    // ttl_negative is 1 h by default.
    clock.advance(Duration::from_secs(3599));
    assert_eq!(g.lookup(&ip).await.origin(), Some(Origin::Cache));
    clock.advance(Duration::from_secs(1));
    assert_eq!(g.lookup(&ip).await.origin(), Some(Origin::Network));
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn positive_answers_expire_after_ttl_hit() {
    let server = serve(Arc::new(|_, _| json_reply(200, small_body()))).await;
    let ttl = Duration::from_secs(600);
    let (g, clock) = guarded(
        config(&server.base),
        Policy {
            ttl_hit: ttl,
            ..policy()
        },
    );
    let ip = ind(IndicatorKind::Ipv4, "192.0.2.1");
    assert_eq!(g.lookup(&ip).await.origin(), Some(Origin::Network));
    clock.advance(ttl - Duration::from_millis(1));
    let o = g.lookup(&ip).await;
    assert_eq!(o.origin(), Some(Origin::Cache));
    assert_eq!(o.hits()[0].confidence, 78); // 10 of 90: 50 + round(27.8)
    clock.advance(Duration::from_millis(1));
    assert_eq!(g.lookup(&ip).await.origin(), Some(Origin::Network));
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn wrong_key_is_auth_not_retried_and_no_key_makes_no_request() {
    let Some(dir) = fixture_dir() else { return };
    let server = serve(fixture_handler(&dir)).await;
    let cfg = VtConfig {
        api_key: Some("wrong".into()),
        ..config(&server.base)
    };
    let (g, _clock) = guarded(cfg, policy());
    let o = g.lookup(&ind(IndicatorKind::Ipv4, "8.8.8.8")).await;
    assert_eq!(failed(&o).reason(), "auth", "{o:?}");
    assert_eq!(o.attempts, 1);
    assert_eq!(server.count(), 1);

    let cfg = VtConfig {
        api_key: None,
        ..config(&server.base)
    };
    let (g, _clock) = guarded(cfg, policy());
    let o = g.lookup(&ind(IndicatorKind::Ipv4, "8.8.8.8")).await;
    assert_eq!(failed(&o).reason(), "auth");
    assert_eq!(server.count(), 1);
}

#[test]
fn config_reads_the_key_from_the_environment_and_defaults_to_the_real_endpoint() {
    let cfg = VtConfig::from_vars(|k| (k == "VT_API_KEY").then(|| " abc ".to_string()));
    assert_eq!(cfg.api_key.as_deref(), Some("abc"));
    assert_eq!(cfg.base_url, DEFAULT_BASE_URL);
    assert_eq!(DEFAULT_BASE_URL, "https://www.virustotal.com/api/v3");
    assert_eq!(cfg.quota_per_minute, 4);
    assert_eq!(cfg.malicious_threshold, 3);
    assert!(!format!("{cfg:?}").contains("abc"), "Debug redacts the key");
    let blank = VtConfig::from_vars(|_| Some("  ".to_string()));
    assert_eq!(blank.api_key, None);
}

// ---------------------------------------------------------------------------------------------
// Quota, 429, breaker, timeout, offline.

#[tokio::test]
async fn fifth_call_within_a_minute_is_rate_limited_client_side() {
    let server = serve(Arc::new(|_, _| json_reply(200, small_body()))).await;
    let cfg = VtConfig {
        quota_per_minute: 4,
        ..config(&server.base)
    };
    let (g, clock) = guarded(cfg, policy());
    for i in 1..=4 {
        let o = g
            .lookup(&ind(IndicatorKind::Ipv4, &format!("192.0.2.{i}")))
            .await;
        assert_eq!(o.origin(), Some(Origin::Network), "{o:?}");
        clock.advance(Duration::from_secs(1));
    }
    let fifth = ind(IndicatorKind::Ipv4, "192.0.2.5");
    // t = 4 s: the first slot frees at t = 60 s; 56 s is over max_retry_after (10 s): fail now.
    let o = g.lookup(&fifth).await;
    assert_eq!(
        failed(&o),
        &ProviderError::RateLimited {
            retry_after_ms: Some(56_000)
        }
    );
    assert_eq!(o.attempts, 1);
    assert_eq!(server.count(), 4, "over quota: no request");
    assert!(clock.sleeps().is_empty());

    // t = 54 s: the slot frees in 6 s, within max_retry_after: the guard waits and retries.
    clock.advance(Duration::from_secs(50));
    let o = g.lookup(&fifth).await;
    assert_eq!(o.origin(), Some(Origin::Network), "{o:?}");
    assert_eq!(o.attempts, 2);
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(6)]);
    assert_eq!(server.count(), 5);
}

#[tokio::test]
async fn http_429_is_retried_after_retry_after() {
    let server = serve(Arc::new(|_, n| {
        if n == 1 {
            Reply::Respond {
                status: 429,
                headers: vec![("retry-after", "2".into())],
                body: r#"{"error": {"code": "QuotaExceededError"}}"#.into(),
            }
        } else {
            json_reply(200, small_body())
        }
    }))
    .await;
    let (g, clock) = guarded(config(&server.base), policy());
    let o = g.lookup(&ind(IndicatorKind::Ipv4, "192.0.2.1")).await;
    assert_eq!(o.origin(), Some(Origin::Network), "{o:?}");
    assert_eq!(o.attempts, 2);
    assert_eq!(o.hits().len(), 1);
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(2)]);
    assert_eq!(o.elapsed_ms, 2000);
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn breaker_opens_on_5xx_fails_fast_then_half_open_success_closes_it() {
    let healthy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let h = Arc::clone(&healthy);
    let server = serve(Arc::new(move |_, _| {
        if h.load(std::sync::atomic::Ordering::SeqCst) {
            json_reply(200, small_body())
        } else {
            json_reply(503, r#"{"error": {"code": "TransientError"}}"#)
        }
    }))
    .await;
    let pol = Policy {
        max_attempts: 2,
        breaker_threshold: 3,
        breaker_cool_down: Duration::from_secs(30),
        ..policy()
    };
    let (g, clock) = guarded(config(&server.base), pol);

    // Two failed attempts.
    let o = g.lookup(&ind(IndicatorKind::Ipv4, "192.0.2.1")).await;
    assert_eq!(
        failed(&o),
        &ProviderError::Upstream {
            status: Some(503),
            message: "TransientError".into()
        }
    );
    assert_eq!((o.attempts, server.count()), (2, 2));
    assert_eq!(g.breaker_state(), BreakerState::Closed);

    // The third failed attempt opens the breaker; the retry is not made; the real error is
    // reported.
    let o = g.lookup(&ind(IndicatorKind::Ipv4, "192.0.2.2")).await;
    assert_eq!(failed(&o).reason(), "upstream");
    assert_eq!((o.attempts, server.count()), (1, 3));
    assert_eq!(g.breaker_state(), BreakerState::Open);

    // Open: fail fast, the server is not reached.
    for i in 3..6 {
        let o = g
            .lookup(&ind(IndicatorKind::Ipv4, &format!("192.0.2.{i}")))
            .await;
        assert_eq!(failed(&o).reason(), "unavailable", "{o:?}");
        assert_eq!(o.attempts, 0);
    }
    assert_eq!(server.count(), 3);

    // After the cool-down one probe goes through; it succeeds and closes the breaker.
    clock.advance(Duration::from_secs(30));
    assert_eq!(g.breaker_state(), BreakerState::HalfOpen);
    healthy.store(true, std::sync::atomic::Ordering::SeqCst);
    let o = g.lookup(&ind(IndicatorKind::Ipv4, "192.0.2.9")).await;
    assert_eq!(o.origin(), Some(Origin::Network), "{o:?}");
    assert_eq!(server.count(), 4);
    assert_eq!(g.breaker_state(), BreakerState::Closed);
    let o = g.lookup(&ind(IndicatorKind::Ipv4, "192.0.2.10")).await;
    assert_eq!(o.origin(), Some(Origin::Network));
    assert_eq!(server.count(), 5);
}

#[tokio::test]
async fn a_hanging_server_times_out_and_is_retried() {
    let server = serve(Arc::new(|_, _| Reply::Hang)).await;
    let pol = Policy {
        timeout: Duration::from_secs(5),
        max_attempts: 2,
        ..policy()
    };
    let (g, clock) = guarded(config(&server.base), pol);
    let task = {
        let g = Arc::clone(&g);
        tokio::spawn(async move { g.lookup(&ind(IndicatorKind::Ipv4, "192.0.2.1")).await })
    };
    // Virtual time only moves when told: the deadline fires when the request is in flight.
    server.wait_for(1).await;
    clock.advance(Duration::from_secs(5));
    server.wait_for(2).await;
    clock.advance(Duration::from_secs(5));
    let o = task.await.expect("task");
    assert_eq!(failed(&o), &ProviderError::Timeout { after_ms: 5000 });
    assert_eq!(o.attempts, 2);
    assert_eq!(server.count(), 2);
    // One backoff between the attempts: equal jitter over 500 ms.
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 1);
    assert!(
        (Duration::from_millis(250)..=Duration::from_millis(500)).contains(&sleeps[0]),
        "{sleeps:?}"
    );
}

#[tokio::test]
async fn offline_mode_serves_the_cache_and_never_touches_the_server() {
    let server = serve(Arc::new(|_, _| json_reply(200, small_body()))).await;
    let cfg = VtConfig {
        offline: true,
        ..config(&server.base)
    };
    let (g, _clock) = guarded(cfg, policy());
    let o = g.lookup(&ind(IndicatorKind::Ipv4, "192.0.2.1")).await;
    assert_eq!(failed(&o), &ProviderError::Offline);
    assert_eq!(o.attempts, 1, "offline is not retried");
    assert_eq!(server.count(), 0);

    // Online: fill the cache; offline again: cached answers only.
    g.provider().set_offline(false);
    let cached = ind(IndicatorKind::Ipv4, "192.0.2.2");
    assert_eq!(g.lookup(&cached).await.origin(), Some(Origin::Network));
    g.provider().set_offline(true);
    assert_eq!(g.lookup(&cached).await.origin(), Some(Origin::Cache));
    let o = g.lookup(&ind(IndicatorKind::Ipv4, "192.0.2.3")).await;
    assert_eq!(failed(&o).reason(), "offline");
    assert_eq!(server.count(), 1);
    assert_eq!(
        g.breaker_state(),
        BreakerState::Closed,
        "offline is not an outage"
    );
}

#[tokio::test]
async fn a_failed_enrichment_says_which_provider_and_why_in_json() {
    // Nothing listens on this port once the listener is dropped: connection refused.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let pol = Policy {
        max_attempts: 1,
        ..policy()
    };
    let (g, _clock) = guarded(config(&format!("http://{addr}/api/v3")), pol);
    let o = g.lookup(&ind(IndicatorKind::Ipv4, "192.0.2.1")).await;
    let v = serde_json::to_value(&o).expect("serializes");
    assert_eq!(v["provider"], "virustotal");
    assert_eq!(v["status"], "failed");
    assert_eq!(v["error"]["reason"], "upstream");
    assert_eq!(v["indicator"]["value"], "192.0.2.1");
    let back: Outcome = serde_json::from_value(v).expect("round-trips");
    assert_eq!(back, o);
}

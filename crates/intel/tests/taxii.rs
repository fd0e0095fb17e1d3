//! The TAXII 2.1 client against a real TAXII 2.1 server: medallion (PyPI) with its memory backend,
//! started per test on 127.0.0.1 from `shared/data/threat-intel/taxii` (data and config described
//! in that folder's README.md).
//!
//! Needs the repo's `.venv` (created by `.ci/run`, which installs `scripts/py/requirements.txt`,
//! medallion included); skips with a message when the venv, medallion or the shared data is absent.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use shrike_intel::taxii::{BasicAuth, ObjectsQuery, TaxiiClient, TaxiiError};

const USER: &str = "shrike";
const PASSWORD: &str = "shrike-test-password";
const ROOT: &str = "/shrike/";
const INDICATORS: &str = "2b0a5f0c-5a0e-4f1d-9d7b-1c1a6f0e2a01";
const ATTACK_PATTERNS: &str = "6f1f3c2e-8c7d-4a55-b1a4-2d4c9f3b7e02";
const SCRATCH: &str = "9e4d7a61-0c3b-4f2a-8e5d-3b2a1c0d4e03";
const RESTRICTED: &str = "c0ffee00-0000-4000-8000-00000000dead";
/// Newest `date_added` in the indicators collection (README: `added_after=2026-08-01` → Last).
const INDICATORS_LAST: &str = "2026-08-19T15:00:18.122000Z";

/// A medallion child process; killed (and reaped) on drop, also when a test panics.
struct Medallion {
    child: Child,
    base: String,
}

impl Drop for Medallion {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Starts medallion on a free port, or `None` (after saying why) when it cannot run here.
fn medallion() -> Option<Medallion> {
    let data =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/threat-intel/taxii");
    if !data.join("medallion_config.json").is_file() {
        eprintln!("skipping: {} is absent", data.display());
        return None;
    }
    let python = repo_root().join(".venv/bin/python");
    if !python.exists() {
        eprintln!(
            "skipping: {} is absent (run .ci/run, or: python3 -m venv .venv && \
             .venv/bin/pip install -r scripts/py/requirements.txt)",
            python.display()
        );
        return None;
    }
    let import = Command::new(&python)
        .args(["-c", "import medallion"])
        .output()
        .expect("running the venv's python");
    if !import.status.success() {
        eprintln!(
            "skipping: medallion is not importable by {} (.venv/bin/pip install -r \
             scripts/py/requirements.txt): {}",
            python.display(),
            String::from_utf8_lossy(&import.stderr).trim()
        );
        return None;
    }
    // A free port can be taken between probing and medallion binding it: retry a few times.
    let mut failures = Vec::new();
    for _ in 0..3 {
        match start(&python, &data) {
            Ok(m) => return Some(m),
            Err(e) => failures.push(e),
        }
    }
    panic!("medallion did not start:\n{}", failures.join("\n---\n"));
}

fn start(python: &Path, data: &Path) -> Result<Medallion, String> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    // Started from the data folder: the config names default_data.json relative to the cwd.
    let mut child = Command::new(python)
        .args([
            "-m",
            "medallion.scripts.run",
            "--host",
            "127.0.0.1",
            "--port",
        ])
        .arg(port.to_string())
        .arg("medallion_config.json")
        .current_dir(data)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawning medallion: {e}"))?;
    let stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let mut server = Medallion {
        child,
        base: format!("http://127.0.0.1:{port}/"),
    };
    // Readiness signal: werkzeug prints "Running on http://127.0.0.1:<port>" once it listens.
    // The reader thread keeps draining stderr (one access-log line per request) so the pipe
    // never fills and blocks the server.
    let log = Arc::new(Mutex::new(String::new()));
    let (ready_tx, ready_rx) = mpsc::channel();
    let thread_log = Arc::clone(&log);
    let running = format!("Running on http://127.0.0.1:{port}");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains(&running) {
                let _ = ready_tx.send(());
            }
            if let Ok(mut l) = thread_log.lock() {
                l.push_str(&line);
                l.push('\n');
            }
        }
    });
    match ready_rx.recv_timeout(Duration::from_secs(15)) {
        Ok(()) => Ok(server),
        Err(_) => {
            let status = server.child.try_wait().ok().flatten();
            let _ = server.child.kill();
            let _ = server.child.wait();
            let log = log.lock().map(|l| l.clone()).unwrap_or_default();
            Err(format!(
                "medallion on port {port} not ready within 15 s (exit status: {status:?}); \
                 stderr:\n{log}"
            ))
        }
    }
}

fn client(server: &Medallion, password: &str) -> TaxiiClient {
    TaxiiClient::new(
        &server.base,
        Some(BasicAuth::new(USER, password)),
        Duration::from_secs(10),
    )
    .expect("client")
}

fn count_types(objects: &[Value]) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for o in objects {
        let t = o.get("type").and_then(Value::as_str).unwrap_or("?");
        *counts.entry(t.to_owned()).or_insert(0) += 1;
    }
    counts.into_iter().collect()
}

#[tokio::test]
async fn discovery_api_root_and_collections() {
    let Some(server) = medallion() else { return };
    let c = client(&server, PASSWORD);

    let d = c.discovery().await.expect("discovery");
    assert_eq!(d.title, "Shrike test TAXII server");
    // medallion serves discovery verbatim from the data file, so the advertised root names the
    // fixture's port 5000, not ours; the path is what identifies it.
    assert_eq!(d.api_roots, ["http://127.0.0.1:5000/shrike/"]);
    assert_eq!(d.default.as_deref(), Some("http://127.0.0.1:5000/shrike/"));
    let advertised = c.resolve(&d.api_roots[0]).expect("absolute URL");
    assert_eq!(advertised.path(), ROOT);

    let root = c.api_root(ROOT).await.expect("api root");
    assert_eq!(root.title, "Shrike threat-intel test API root");
    assert_eq!(root.versions, ["application/taxii+json;version=2.1"]);
    assert_eq!(root.max_content_length, 10_485_760);

    let cols = c.collections(ROOT).await.expect("collections");
    let got: Vec<(&str, &str, bool, bool)> = cols
        .iter()
        .map(|c| (c.id.as_str(), c.title.as_str(), c.can_read, c.can_write))
        .collect();
    assert_eq!(
        got,
        [
            (INDICATORS, "indicators", true, false),
            (ATTACK_PATTERNS, "attack-patterns", true, false),
            (SCRATCH, "writable-scratch", true, true),
            (RESTRICTED, "restricted", false, false),
        ]
    );
    assert_eq!(cols[0].alias.as_deref(), Some("indicators"));
    assert_eq!(cols[0].media_types, ["application/stix+json;version=2.1"]);

    let one = c
        .collection(ROOT, ATTACK_PATTERNS)
        .await
        .expect("collection");
    assert_eq!(one, cols[1]);
}

#[tokio::test]
async fn objects_paginate_across_pages_of_at_most_100() {
    let Some(server) = medallion() else { return };
    let c = client(&server, PASSWORD);

    // One page by hand: the envelope, the token and the date headers.
    let first = c
        .objects(
            ROOT,
            INDICATORS,
            &ObjectsQuery {
                limit: Some(5),
                ..ObjectsQuery::default()
            },
        )
        .await
        .expect("first page");
    assert_eq!(first.objects.len(), 5);
    assert!(first.more);
    assert_eq!(
        first.date_added_first.as_deref(),
        Some("2025-01-02T00:00:00.000000Z")
    );
    assert_eq!(
        first.date_added_last.as_deref(),
        Some("2025-01-03T00:00:03.000000Z")
    );
    let second = c
        .objects(
            ROOT,
            INDICATORS,
            &ObjectsQuery {
                limit: Some(5),
                next: first.next.clone(),
                ..ObjectsQuery::default()
            },
        )
        .await
        .expect("second page");
    assert_eq!(second.objects.len(), 5);
    assert!(second.more);
    assert!(second.date_added_first > first.date_added_last);
    assert_ne!(first.objects, second.objects);

    // Everything, at the server's default page size (max_page_size 100): 6 requests.
    let before = c.request_count();
    let all = c
        .all_objects(ROOT, INDICATORS, &ObjectsQuery::default())
        .await
        .expect("all indicators");
    assert_eq!(all.len(), 527);
    assert_eq!(c.request_count() - before, 6, "527 objects in pages of 100");
    assert_eq!(
        count_types(&all),
        [
            ("identity".to_owned(), 1),
            ("indicator".to_owned(), 362),
            ("malware".to_owned(), 12),
            ("relationship".to_owned(), 152),
        ]
    );
    let ids: std::collections::HashSet<&str> = all
        .iter()
        .filter_map(|o| o.get("id").and_then(Value::as_str))
        .collect();
    assert_eq!(ids.len(), 527, "no object twice, none lost between pages");

    // Asking for more than max_page_size still gets pages of at most 100.
    let page = c
        .objects(
            ROOT,
            INDICATORS,
            &ObjectsQuery {
                limit: Some(1000),
                ..ObjectsQuery::default()
            },
        )
        .await
        .expect("big limit");
    assert_eq!(page.objects.len(), 100);
    assert!(page.more);

    // Smaller pages, same result set.
    let before = c.request_count();
    let small = c
        .all_objects(
            ROOT,
            INDICATORS,
            &ObjectsQuery {
                limit: Some(60),
                ..ObjectsQuery::default()
            },
        )
        .await
        .expect("pages of 60");
    assert_eq!(small, all);
    assert_eq!(c.request_count() - before, 9, "ceil(527 / 60)");

    let before = c.request_count();
    let patterns = c
        .all_objects(ROOT, ATTACK_PATTERNS, &ObjectsQuery::default())
        .await
        .expect("attack patterns");
    assert_eq!(patterns.len(), 47);
    assert_eq!(c.request_count() - before, 1);
    assert_eq!(
        count_types(&patterns),
        [
            ("attack-pattern".to_owned(), 45),
            ("identity".to_owned(), 1),
            ("marking-definition".to_owned(), 1),
        ]
    );

    let malware = c
        .all_objects(
            ROOT,
            INDICATORS,
            &ObjectsQuery {
                match_type: vec!["malware".to_owned()],
                ..ObjectsQuery::default()
            },
        )
        .await
        .expect("match[type]");
    assert_eq!(malware.len(), 12);
    let first_id = all[0].get("id").and_then(Value::as_str).expect("id");
    let by_id = c
        .all_objects(
            ROOT,
            INDICATORS,
            &ObjectsQuery {
                match_id: vec![first_id.to_owned()],
                ..ObjectsQuery::default()
            },
        )
        .await
        .expect("match[id]");
    assert_eq!(by_id, [all[0].clone()]);

    let empty = c
        .objects(ROOT, SCRATCH, &ObjectsQuery::default())
        .await
        .expect("empty collection");
    assert!(empty.objects.is_empty() && !empty.more && empty.next.is_none());
    assert_eq!(empty.date_added_last, None);
}

#[tokio::test]
async fn added_after_polling_advances_the_watermark() {
    let Some(server) = medallion() else { return };
    let c = client(&server, PASSWORD);

    // First poll: everything (6 pages), watermark = the newest date_added.
    let p1 = c.poll(ROOT, INDICATORS, None).await.expect("first poll");
    assert_eq!(p1.objects.len(), 527);
    assert_eq!(p1.since.as_deref(), Some(INDICATORS_LAST));
    // Second poll from that watermark: nothing new, watermark unchanged.
    let p2 = c
        .poll(ROOT, INDICATORS, p1.since.as_deref())
        .await
        .expect("second poll");
    assert_eq!(p2.objects.len(), 0);
    assert_eq!(p2.since, p1.since);

    // From a point in the middle: only newer objects, and the watermark is the *last* page's.
    let since = "2026-01-01T00:00:00Z";
    let before = c.request_count();
    let p = c.poll(ROOT, INDICATORS, Some(since)).await.expect("poll");
    let pages = c.request_count() - before;
    let manifest = c
        .all_manifest(
            ROOT,
            INDICATORS,
            &ObjectsQuery {
                added_after: Some(since.to_owned()),
                ..ObjectsQuery::default()
            },
        )
        .await
        .expect("manifest");
    assert!(p.objects.len() > 100, "{} objects", p.objects.len());
    assert!(p.objects.len() < 527);
    assert_eq!(pages, p.objects.len().div_ceil(100) as u64);
    assert_eq!(p.objects.len(), manifest.len());
    // Server timestamps share one format, so string order is time order.
    assert!(manifest.iter().all(|m| m.date_added.as_str() > since));
    let ids: Vec<&str> = p.objects.iter().filter_map(|o| o["id"].as_str()).collect();
    let manifest_ids: Vec<&str> = manifest.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, manifest_ids);
    assert_eq!(p.since.as_deref(), Some(INDICATORS_LAST));

    let p = c
        .poll(ROOT, INDICATORS, Some("2026-08-01T00:00:00Z"))
        .await
        .expect("poll august");
    assert_eq!(p.objects.len(), 17);
    assert_eq!(p.since.as_deref(), Some(INDICATORS_LAST));

    // Manifest paging by hand.
    let m = c
        .manifest(
            ROOT,
            INDICATORS,
            &ObjectsQuery {
                limit: Some(2),
                ..ObjectsQuery::default()
            },
        )
        .await
        .expect("manifest page");
    assert_eq!(m.objects.len(), 2);
    assert!(m.more && m.next.is_some());
    assert_eq!(m.objects[0].date_added, "2025-01-02T00:00:00.000000Z");
    assert!(m.objects[0].id.starts_with("identity--"));
}

#[tokio::test]
async fn errors_name_the_status_and_the_server_message() {
    let Some(server) = medallion() else { return };

    let wrong = client(&server, "wrong-password");
    let e = wrong.discovery().await.expect_err("wrong password");
    assert!(matches!(e, TaxiiError::Unauthorized { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.starts_with("401 Unauthorized from http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("wrong or missing credentials"), "{text}");
    assert!(text.contains("Unauthorized Access"), "{text}");
    assert!(!text.contains("wrong-password"), "{text}");

    let anonymous = TaxiiClient::new(&server.base, None, Duration::from_secs(10)).expect("client");
    let e = anonymous
        .collections(ROOT)
        .await
        .expect_err("no credentials");
    assert!(matches!(e, TaxiiError::Unauthorized { .. }), "{e:?}");

    let c = client(&server, PASSWORD);
    let e = c
        .objects(ROOT, RESTRICTED, &ObjectsQuery::default())
        .await
        .expect_err("restricted");
    assert!(matches!(e, TaxiiError::Forbidden { .. }), "{e:?}");
    assert!(
        e.to_string().ends_with(
            "ProcessingError: Forbidden to read collection 'c0ffee00-0000-4000-8000-00000000dead'."
        ),
        "{e}"
    );

    let e = c
        .all_objects(ROOT, "no-such-collection", &ObjectsQuery::default())
        .await
        .expect_err("unknown collection");
    assert!(matches!(e, TaxiiError::NotFound { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("Collection 'no-such-collection' not found."),
        "{e}"
    );
    let e = c
        .collection(ROOT, "no-such-collection")
        .await
        .expect_err("unknown collection");
    assert!(matches!(e, TaxiiError::NotFound { .. }), "{e:?}");
    let e = c.api_root("/nope/").await.expect_err("unknown api root");
    assert!(matches!(e, TaxiiError::NotFound { .. }), "{e:?}");
}

/// Answers one request with a canned TAXII API root and hands back the request head.
async fn one_shot_server() -> (String, tokio::task::JoinHandle<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.expect("read");
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let body = r#"{"title": "other", "versions": ["application/taxii+json;version=2.1"], "max_content_length": 1}"#;
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/taxii+json;version=2.1\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(response.as_bytes()).await.expect("write");
        String::from_utf8_lossy(&head).to_lowercase()
    });
    (format!("http://{addr}/"), handle)
}

#[tokio::test]
async fn credentials_go_only_to_the_base_origin() {
    let auth = Some(BasicAuth::new(USER, PASSWORD));

    let (other, request) = one_shot_server().await;
    let c = TaxiiClient::new("http://127.0.0.1:9/", auth.clone(), Duration::from_secs(5))
        .expect("client");
    let root = c
        .api_root(&format!("{other}root/"))
        .await
        .expect("api root");
    assert_eq!(root.title, "other");
    let head = request.await.expect("request");
    assert!(head.starts_with("get /root/ http/1.1"), "{head}");
    assert!(
        head.contains("accept: application/taxii+json;version=2.1"),
        "{head}"
    );
    assert!(
        !head.contains("authorization"),
        "credentials leaked: {head}"
    );

    let (same, request) = one_shot_server().await;
    let c = TaxiiClient::new(&same, auth, Duration::from_secs(5)).expect("client");
    c.api_root("root/").await.expect("api root");
    let head = request.await.expect("request");
    // base64("shrike:shrike-test-password")
    assert!(
        head.contains("authorization: basic c2hyawtlonnocmlrzs10zxn0lxbhc3n3b3jk"),
        "{head}"
    );
}

#[tokio::test]
async fn a_silent_server_times_out() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let c = TaxiiClient::new(&format!("http://{addr}/"), None, Duration::from_millis(300))
        .expect("client");
    let e = c.discovery().await.expect_err("timeout");
    assert!(
        matches!(e, TaxiiError::Timeout { timeout, .. } if timeout == Duration::from_millis(300)),
        "{e:?}"
    );
    assert!(e.to_string().contains("timed out after 300ms"), "{e}");
    hold.abort();
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let c = TaxiiClient::new(
        &format!("http://127.0.0.1:{port}/"),
        None,
        Duration::from_secs(5),
    )
    .expect("client");
    let e = c.discovery().await.expect_err("refused");
    assert!(matches!(e, TaxiiError::Transport { .. }), "{e:?}");
}

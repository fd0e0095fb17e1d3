//! `shrike triage` (issue 5) end to end: a real Mordor capture through normalize → Sigma and the
//! endpoint model → fusion → playbook routing → case store; hostile input quarantined without
//! losing the other events; and the same stages live behind `POST /v1/events`. Needs
//! ../shared/data for the capture and the Sigma rules (skips with a message).

use serde_json::{json, Value};
use shrike::config::{Role, SoarConfig, TokenConfig};
use shrike::server::{spawn, AppState, StateOptions};
use shrike::soar::Soar;
use shrike::triage::{run_pipeline, TriageConfig, TriageOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn shared(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "skipped: {} is absent (the shared data is not mounted)",
            p.display()
        );
        None
    }
}

fn config() -> Option<TriageConfig> {
    let mut c = TriageConfig::default();
    c.sigma.rules = shared("sigma/rules")?;
    c.intel_dir = Some(shared("threat-intel")?);
    Some(c)
}

fn ndjson(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("read")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

const LSASS: &str =
    "endpoint/mordor/atomic/windows/credential_access/host/psh_lsass_memory_dump_comsvcs.zip";

#[test]
fn a_real_lsass_dump_becomes_one_routed_entity_ticket() {
    let (Some(config), Some(capture)) = (config(), shared(LSASS)) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    let s = run_pipeline(
        &TriageOptions {
            inputs: vec![capture],
            assets: None,
            config,
            out: out.clone(),
        },
        true,
    )
    .expect("triage runs");
    assert_eq!(s.events, 179, "{s:?}");
    assert!(s.sigma_rules > 2000, "{}", s.sigma_rules);
    assert_eq!(s.quarantined.get("normalize/no_mapping"), Some(&5));
    let alerts = ndjson(&out.join("alerts.ndjson"));
    assert_eq!(alerts.len() as u64, s.alerts);
    // The comsvcs MiniDump is caught by a SigmaHQ rule that keeps its author (DRL 1.1) and its
    // ATT&CK technique.
    let dump = alerts
        .iter()
        .flat_map(|a| a["hits"].as_array().into_iter().flatten())
        .find(|h| h["title"] == "Lsass Memory Dump via Comsvcs DLL")
        .expect("the comsvcs rule fires");
    assert_eq!(dump["origin"]["kind"], "sigma");
    assert!(!dump["origin"]["author"].as_str().unwrap_or("").is_empty());
    assert!(dump["techniques"]
        .as_array()
        .expect("techniques")
        .contains(&json!("T1003.001")));
    // The host is the top entity, above the threshold, with its contributions.
    let entities = ndjson(&out.join("entities.ndjson"));
    let host = entities
        .iter()
        .find(|e| e["entity"] == json!({"kind": "host", "key": "workstation5"}))
        .expect("host entity");
    assert_eq!(host["above_threshold"], true);
    assert!(host["peak_score"].as_f64().expect("peak") >= 0.7);
    assert!(host["tactics"]
        .as_array()
        .expect("tactics")
        .contains(&json!("credential-access")));
    assert!(!host["contributions"]
        .as_array()
        .expect("contributions")
        .is_empty());
    // Every finding is valid OCSF 1.8.0 and every routed finding has its ticket.
    let schema = shrike_ocsf::Schema::shared();
    let findings = ndjson(&out.join("findings.ndjson"));
    assert!(!findings.is_empty());
    for f in &findings {
        assert_eq!(schema.validate(f), vec![], "{f}");
    }
    let tickets = ndjson(&out.join("tickets.ndjson"));
    assert_eq!(tickets.len() as u64, s.tickets);
    let t = tickets
        .iter()
        .find(|t| t["entity_key"] == "workstation5")
        .expect("host ticket");
    assert_eq!(t["entity_kind"], "host");
    assert!(["tier2", "incident-response"].contains(&t["queue"].as_str().unwrap_or("")));
    // Far fewer tickets than alerts.
    assert!(
        s.tickets * 10 <= s.alerts,
        "{} tickets, {} alerts",
        s.tickets,
        s.alerts
    );
}

#[test]
fn hostile_lines_are_quarantined_and_the_rest_is_processed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let input = tmp.path().join("events.ndjson");
    let good = json!({"class_uid": 1007, "category_uid": 1, "activity_id": 1, "type_uid": 100701,
        "severity_id": 1, "time": 1_700_000_000_000i64,
        "metadata": {"version": "1.8.0", "uid": "e1", "product": {"name": "Sysmon", "vendor_name": "Microsoft"}},
        "device": {"hostname": "WKS-1"},
        "process": {"name": "rundll32.exe", "cmd_line": "rundll32.exe C:\\windows\\System32\\comsvcs.dll MiniDump 624 C:\\t\\l.dmp full",
                    "file": {"path": "C:\\Windows\\System32\\rundll32.exe", "name": "rundll32.exe"}}});
    let text = format!(
        "{good}\n{{not json\n{{\"no\": \"class\"}}\n[1,2,3]\n{}\n",
        "x".repeat(100_000)
    );
    std::fs::write(&input, text).expect("write");
    let mut config = TriageConfig::default();
    config.sigma.enabled = false;
    config.intel_dir = None;
    let out = tmp.path().join("out");
    let s = run_pipeline(
        &TriageOptions {
            inputs: vec![input],
            assets: None,
            config,
            out: out.clone(),
        },
        true,
    )
    .expect("triage runs");
    assert_eq!(s.records, 5);
    assert_eq!(s.events, 1);
    assert_eq!(s.quarantined.get("read/not_ocsf"), Some(&4), "{s:?}");
    let q = ndjson(&out.join("quarantine.ndjson"));
    assert_eq!(q.len(), 4);
    assert!(q
        .iter()
        .all(|l| l["detail"].as_str().unwrap_or("").contains("events.ndjson")));
    // An empty input set and a missing file are errors, not panics.
    let err = run_pipeline(
        &TriageOptions {
            inputs: vec![tmp.path().join("missing.ndjson")],
            assets: None,
            config: TriageConfig::default(),
            out: tmp.path().join("out2"),
        },
        true,
    );
    assert!(err.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_are_fused_and_routed_by_the_server() {
    let (Some(_), Some(capture)) = (config(), shared(LSASS)) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    // The capture as OCSF NDJSON: the same events a forwarder would send.
    let norm = tmp.path().join("norm");
    let s = run_pipeline(
        &TriageOptions {
            inputs: vec![capture],
            assets: None,
            config: {
                let mut c = TriageConfig::default();
                c.sigma.enabled = false;
                c.intel_dir = None;
                c
            },
            out: norm.clone(),
        },
        true,
    )
    .expect("triage");
    assert!(s.events > 0);
    let fusion_cfg = tmp.path().join("triage.toml");
    std::fs::write(
        &fusion_cfg,
        format!(
            "intel_dir = {:?}\n[sigma]\nrules = {:?}\n",
            shared("threat-intel").expect("intel"),
            shared("sigma/rules").expect("rules")
        ),
    )
    .expect("config");
    let soar = Soar::from_config(&SoarConfig {
        db: tmp.path().join("cases.db"),
        fusion: Some(fusion_cfg),
        ..SoarConfig::default()
    })
    .expect("soar with fusion");
    let state = Arc::new(AppState::new(
        shrike::load_scorer(None).expect("model"),
        StateOptions {
            tokens: vec![TokenConfig {
                name: "fwd".into(),
                token: "ingest-token-0123456789".into(),
                role: Role::Ingest,
            }],
            soar: Some(Arc::new(soar)),
            ..StateOptions::default()
        },
    ));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let server = spawn(l, state).expect("serve");
    let base = format!("http://{}", server.addr);
    // Raw Sysmon-over-JSON records would do as well; the capture's events re-sent as OCSF.
    let raw = shrike_normalize_events(&tmp, LSASS);
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/v1/events"))
        .bearer_auth("ingest-token-0123456789")
        .header("content-type", "application/x-ndjson")
        .body(raw)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.expect("json");
    assert!(v["alerts"].as_u64().unwrap_or(0) > 0, "{v}");
    assert!(v["findings"].as_u64().unwrap_or(0) > 0, "{v}");
    let tickets = v["tickets"].as_array().expect("tickets");
    assert!(
        tickets.iter().any(|t| t["entity"]["key"] == "workstation5"),
        "{v}"
    );
    // A garbage body is a 4xx or a per-record rejection, never a 5xx.
    let r = http
        .post(format!("{base}/v1/events"))
        .bearer_auth("ingest-token-0123456789")
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert!(r.status().as_u16() < 500, "{}", r.status());
}

/// The capture's records as they come off the wire (the archive's JSON lines).
fn shrike_normalize_events(tmp: &tempfile::TempDir, rel: &str) -> String {
    let out = tmp.path().join("raw");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_shrike"))
        .args(["normalize", "-q", "--quarantine"])
        .arg(tmp.path().join("q.ndjson"))
        .arg("-o")
        .arg(&out)
        .arg(shared(rel).expect("capture"))
        .status()
        .expect("shrike normalize");
    assert!(status.success());
    std::fs::read_to_string(out).expect("events")
}

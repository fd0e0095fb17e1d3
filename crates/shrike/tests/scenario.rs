//! `shrike scenario` (issue 5): the generator is deterministic, remaps consistently, leaks no lab
//! identity and records what it injected; the evaluator's rank, percentile, time-to-threshold,
//! reduction and precision/recall arithmetic on hand-made triage outputs.
#![allow(missing_docs)]

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use shrike::scenario::build::{build, BuildOptions, Truth, TruthAttack, TruthEntity};
use shrike::scenario::eval::{evaluate, evaluate_dir, report_markdown};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

/// A small definition over small captures so the test stays fast in the dev profile.
const SMALL_DEF: &str = r#"
version = 1
name = "test-small"
seed = 11
start_ms = 1772409600000
days = 1.0
background_events = 3000

[estate]
hosts = 60
servers = 6
dcs = 2
users = 40
cloud_principals = 8
domain = "corp.example"
netbios = "CORP"
domain_sid = "S-1-5-21-3623811015-3361044348-30300820"
account_id = "210987654321"
ip_prefix = "10.20"

[lab]
domains = ["theshire.local", "mordor.local", "burnincandle.com", "mshome.net"]
netbios = ["THESHIRE", "MORDOR", "BURNINCANDLE"]
attack_markers = ["-noP -sta -w 1 -enc", "Invoke-Mimikatz", "mimikatz"]
host_names = ["WORKSTATION5", "WORKSTATION6", "MORDORDC", "DESKTOP-5QS3D5D"]

[background]
windows_share = 0.5
network_share = 0.4
cloud_share = 0.1
chunk_events = 100

[[background.windows]]
path = "endpoint/mordor/atomic/windows/discovery/host/empire_shell_samr_EnumDomainUsers.zip"
metadata = "endpoint/mordor/_metadata/atomic/SDWIN-190319021158.yaml"
[[background.network]]
path = "network/zeek/rita-proxy/dns.log.xz"
[[background.cloud]]
path = "cloud/panther/cloudtrail.ndjson.gz"
benign_only = true

[[attack]]
id = "bravo-lsass-comsvcs"
story = "bravo"
domain = "windows"
capture = "endpoint/mordor/atomic/windows/credential_access/host/psh_lsass_memory_dump_comsvcs.zip"
metadata = "endpoint/mordor/_metadata/atomic/SDWIN-201018195009.yaml"
at_hours = 5.0
hosts = { WORKSTATION5 = "host" }
users = { wardog = "user" }

[[attack]]
id = "charlie-dcsync"
story = "charlie"
domain = "windows"
capture = "endpoint/mordor/atomic/windows/credential_access/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges.zip"
metadata = "endpoint/mordor/_metadata/atomic/SDWIN-200805020926.yaml"
at_hours = 8.0
hosts = { WORKSTATION5 = "host", MORDORDC = "dc" }
users = { pgustavo = "user" }

[[attack]]
id = "delta-icedid"
story = "delta"
domain = "network"
capture = "network/c2/icedid-2022-03-21-mta/eve.json.xz"
techniques = ["T1071.001"]
at_hours = 12.0
hosts = { "DESKTOP-5QS3D5D" = "host" }
ips = { "10.0.19.14" = "host" }
users = { "patrick.zimmerman" = "user" }

[[attack]]
id = "echo-aws"
story = "echo"
domain = "cloud"
capture = "cloud/mordor-aws/atomic/aws/collection/ec2_proxy_s3_exfiltration.zip"
metadata = "cloud/mordor-aws/_metadata/SDAWS-200914011940.yaml"
at_hours = 16.0
principals = { "mordornginxstack-bankingwafrole-9s3e0uae1mm0" = "role", pedro = "admin" }
"#;

fn small_build(tmp: &Path, name: &str, seed: Option<u64>) -> (PathBuf, Truth) {
    let def = tmp.join("def.toml");
    std::fs::write(&def, SMALL_DEF).expect("write def");
    let out = tmp.join(name);
    let (_, truth) = build(
        &BuildOptions {
            data: data_dir(),
            definition: def,
            seed,
            scale: 1.0,
            out: out.clone(),
        },
        true,
    )
    .expect("build");
    (out, truth)
}

fn attack<'a>(t: &'a Truth, id: &str) -> &'a TruthAttack {
    t.attacks
        .iter()
        .find(|a| a.id == id)
        .expect("attack in truth")
}

fn has_attacked(t: &Truth, kind: &str, key: &str) -> bool {
    t.attacked.iter().any(|e| e.kind == kind && e.key == key)
}

#[test]
fn build_is_deterministic_consistent_and_truthful() {
    if !data_dir().join("endpoint/mordor").is_dir() {
        eprintln!("skipped: shared data (endpoint/mordor) absent");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, truth) = small_build(tmp.path(), "a", None);
    let (b, truth_b) = small_build(tmp.path(), "b", None);
    let (c, _) = small_build(tmp.path(), "c", Some(12));
    let ev_a = std::fs::read(a.join("events.ndjson")).expect("events a");
    let ev_b = std::fs::read(b.join("events.ndjson")).expect("events b");
    let ev_c = std::fs::read(c.join("events.ndjson")).expect("events c");
    assert_eq!(ev_a, ev_b, "same seed, same bytes");
    assert_eq!(truth, truth_b);
    assert_eq!(
        std::fs::read(a.join("truth.json")).expect("truth a"),
        std::fs::read(b.join("truth.json")).expect("truth b")
    );
    assert_ne!(ev_a, ev_c, "another seed gives another scenario");

    // Every line is an OCSF 1.8.0 event, sorted by time, with a unique uid.
    let text = String::from_utf8(ev_a).expect("utf-8");
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert!(events.len() > 3000, "{} events", events.len());
    let mut last = i64::MIN;
    let mut uids = std::collections::HashSet::new();
    for e in &events {
        let t = e["time"].as_i64().expect("time");
        assert!(t >= last, "sorted by time");
        last = t;
        assert_eq!(e["metadata"]["version"], "1.8.0");
        assert!(uids.insert(e["metadata"]["uid"].as_str().expect("uid").to_owned()));
    }

    // No lab identity leaks.
    let lower = text.to_ascii_lowercase();
    for leak in [
        "workstation5",
        "workstation6",
        "mordordc",
        "desktop-5qs3d5d",
        "theshire",
        "burnincandle",
        "pgustavo",
        "wardog",
        "patrick.zimmerman",
        "123456789123",
        "bankingwafrole",
    ] {
        assert!(!lower.contains(leak), "{leak} leaks into the output");
    }

    // Ground truth: the single-host LSASS capture landed whole on the story's host.
    let bravo = attack(&truth, "bravo-lsass-comsvcs");
    let host = bravo.roles.get("host:host").expect("bravo host").clone();
    assert!(host.starts_with("ws-"));
    // The capture has 184 records; a few have no mapping and are counted as quarantined.
    assert!(
        (170..=184).contains(&bravo.events),
        "{} events",
        bravo.events
    );
    assert_eq!(bravo.first_ms, 1772409600000 + 5 * 3_600_000);
    assert!(bravo.techniques.contains(&"T1003.001".to_owned()));
    let on_host = events
        .iter()
        .filter(|e| {
            e["time"]
                .as_i64()
                .is_some_and(|t| t >= bravo.first_ms && t <= bravo.last_ms)
                && e["device"]["hostname"]
                    .as_str()
                    .is_some_and(|h| h.to_ascii_lowercase().starts_with(&host))
        })
        .count();
    assert!(on_host as u64 >= bravo.events, "{on_host} events on {host}");
    assert!(has_attacked(&truth, "host", &host));
    let bravo_host = truth
        .attacked
        .iter()
        .find(|e| e.kind == "host" && e.key == host)
        .expect("bravo host in truth");
    assert_eq!(bravo_host.first_ms, bravo.first_ms);
    assert_eq!(bravo_host.stories, vec!["bravo".to_owned()]);

    // IcedID: the victim IP is the story host's IP from assets.csv; the C2 IP is kept.
    let delta = attack(&truth, "delta-icedid");
    let dhost = delta.roles.get("host:host").expect("delta host");
    let assets = std::fs::read_to_string(a.join("assets.csv")).expect("assets");
    let row = assets
        .lines()
        .find(|l| l.starts_with(&format!("host,{dhost},")))
        .expect("delta host in assets");
    let ip = row.split(',').nth(3).expect("ips column").to_owned();
    assert!(has_attacked(&truth, "ip", &ip), "victim ip {ip} attacked");
    assert!(has_attacked(&truth, "host", dhost));
    assert!(text.contains("188.166.154.118"), "external C2 address kept");

    // AWS: the stolen role lands on an estate principal in the estate account.
    let echo = attack(&truth, "echo-aws");
    let role = echo.roles.get("principal:role").expect("echo role");
    assert!(has_attacked(
        &truth,
        "cloud_principal",
        &format!("aws:210987654321:role/{role}")
    ));
    // Attacked entities are never also incidental.
    for e in &truth.incidental {
        assert!(!has_attacked(&truth, &e.kind, &e.key));
    }
    // The manifest counts what was written.
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("manifest.json")).expect("manifest"))
            .expect("manifest json");
    assert_eq!(manifest["events"].as_u64(), Some(events.len() as u64));
    assert!(manifest["by_source"]["background/network"].as_u64() > Some(0));
    assert!(manifest["by_source"]["background/cloud"].as_u64() > Some(0));
}

fn write_lines(path: &Path, lines: &[Value]) {
    let s: String = lines.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(path, s).expect("write fixture");
}

fn truth_fixture() -> Truth {
    let ent = |kind: &str, key: &str, story: &str, first: i64| TruthEntity {
        kind: kind.into(),
        key: key.into(),
        stories: vec![story.into()],
        captures: vec!["c.zip".into()],
        techniques: vec!["T1003.001".into()],
        first_ms: first,
        last_ms: first + 1000,
        events: 3,
    };
    Truth {
        version: 1,
        scenario: "fixture".into(),
        seed: 1,
        attacked: vec![
            ent("host", "ws-0001", "a", 1_000_000),
            ent("user", "alice@corp", "a", 1_000_000),
            ent("ip", "10.20.1.30", "b", 2_000_000),
        ],
        incidental: vec![ent("host", "dc-01", "a", 1_000_000)],
        attacks: vec![],
    }
}

#[test]
fn evaluator_math_on_fixtures() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log_odds");
    std::fs::create_dir_all(&dir).expect("mkdir");
    // 200 entities: ws-0001 ranks 1st, alice ties with a background host for 2nd-3rd (ranked
    // pessimistically: 3rd),
    // the attacked IP has no report at all.
    let mut reports = vec![
        json!({"entity": {"kind": "host", "key": "ws-0001"}, "score": 0.99, "level": "critical",
               "above_threshold": true, "crossed_ms": 1_090_000}),
        json!({"entity": {"kind": "user", "key": "alice@corp"}, "score": 0.9,
               "above_threshold": true, "crossed_ms": 1_300_000}),
        json!({"entity": {"kind": "host", "key": "ws-0100"}, "score": 0.9,
               "above_threshold": true, "crossed_ms": 5}),
    ];
    for i in 0..197 {
        reports.push(json!({"entity": {"kind": "host", "key": format!("bg-{i}")},
                            "score": 0.1, "above_threshold": false, "crossed_ms": null}));
    }
    write_lines(&dir.join("entities.ndjson"), &reports);
    write_lines(
        &dir.join("tickets.ndjson"),
        &[
            json!({"entity_kind": "host", "entity_key": "ws-0001", "queue": "q", "priority": "p1", "created_ms": 1}),
            json!({"entity_kind": "user", "entity_key": "alice@corp", "queue": "q", "priority": "p1", "created_ms": 2}),
            json!({"entity_kind": "host", "entity_key": "ws-0100", "queue": "q", "priority": "p2", "created_ms": 3}),
            json!({"entity_kind": "host", "entity_key": "dc-01", "queue": "q", "priority": "p2", "created_ms": 4}),
        ],
    );
    std::fs::write(dir.join("alerts.ndjson"), "{}\n".repeat(7)).expect("alerts");
    std::fs::write(
        dir.join("summary.json"),
        json!({"events": 1000, "alerts": 100, "entities": 200, "entities_above_threshold": 3,
               "tickets": 4, "elapsed_ms": 10, "strategy": "log_odds"})
        .to_string(),
    )
    .expect("summary");

    let r = evaluate_dir(&truth_fixture(), &dir).expect("evaluate");
    assert_eq!(r.label, "log_odds");
    assert_eq!(r.entities, 200);
    assert_eq!(r.alerts, 100, "summary's alert count wins over the file");
    assert_eq!(r.tickets, 4);
    assert_eq!(r.reduction, Some(1.0 - 4.0 / 100.0));
    let host = &r.per_entity[0];
    assert_eq!(host.rank, Some(1));
    assert_eq!(host.percentile, Some(0.5));
    assert_eq!(host.time_to_threshold_ms, Some(90_000));
    assert!(host.crossed && host.ticketed);
    let user = &r.per_entity[1];
    assert_eq!(user.rank, Some(3), "ties count against the attacked entity");
    assert_eq!(user.percentile, Some(1.5));
    assert_eq!(user.time_to_threshold_ms, Some(300_000));
    let ip = &r.per_entity[2];
    assert_eq!(
        (ip.rank, ip.percentile, ip.crossed, ip.ticketed),
        (None, None, false, false)
    );
    assert_eq!(r.in_top_1pct, 1);
    assert_eq!(r.crossed, 2);
    // Tickets: 2 attacked, 1 false (ws-0100), 1 incidental (dc-01, not counted).
    assert_eq!(
        (r.tickets_true, r.tickets_false, r.tickets_incidental),
        (2, 1, 1)
    );
    assert_eq!(r.precision, Some(2.0 / 3.0));
    assert_eq!(r.recall, Some(2.0 / 3.0));
    assert_eq!(r.story_recall, Some(0.5));

    // Without summary.json: alerts counted from the file, label from the directory.
    let dir2 = tmp.path().join("sum_severity");
    std::fs::create_dir_all(&dir2).expect("mkdir");
    for f in ["entities.ndjson", "tickets.ndjson", "alerts.ndjson"] {
        std::fs::copy(dir.join(f), dir2.join(f)).expect("copy");
    }
    let truth_path = tmp.path().join("truth.json");
    std::fs::write(
        &truth_path,
        serde_json::to_string(&truth_fixture()).expect("truth json"),
    )
    .expect("truth");
    let ev = evaluate(&truth_path, &[dir.clone(), dir2.clone()]).expect("evaluate both");
    assert_eq!(ev.runs[1].label, "sum_severity");
    assert_eq!(ev.runs[1].alerts, 7);
    assert_eq!(ev.runs[1].reduction, Some(1.0 - 4.0 / 7.0));
    let md = report_markdown(&ev);
    assert!(md.contains("| log_odds | 200 | 1/3 | missing |"), "{md}");
    assert!(md.contains("| sum_severity |"));

    // A malformed line is an error naming the file and line, not a panic.
    std::fs::write(dir2.join("entities.ndjson"), "{\"entity\":\n").expect("bad");
    let err = evaluate_dir(&truth_fixture(), &dir2).expect_err("malformed");
    assert!(format!("{err:#}").contains("entities.ndjson:1"), "{err:#}");
}

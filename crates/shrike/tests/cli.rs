//! The `shrike` binary end to end: golden output of `shrike score` on the bundled samples, exit
//! codes and the quarantine file, stdin, `model info`, and `serve` + `replay` as two processes.
//!
//! Golden files live in `testdata/golden/`; after an intended change (a retrained bundled model),
//! regenerate them with `SHRIKE_BLESS=1 cargo test -p shrike --test cli` and review the diff.

use serde_json::Value;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shrike"));
    c.current_dir(root())
        .env_remove("SHRIKE_API_TOKENS")
        .env("SHRIKE_LOG", "warn");
    c
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each stdout line is JSON"))
        .collect()
}

fn golden(name: &str, actual: &str) {
    let path = root().join("testdata/golden").join(name);
    if std::env::var_os("SHRIKE_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, actual).expect("bless");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden file {}; run with SHRIKE_BLESS=1",
            path.display()
        )
    });
    assert_eq!(
        actual,
        want,
        "output differs from {}; if intended, re-bless",
        path.display()
    );
}

#[test]
fn score_samples_matches_golden_output() {
    let out = bin()
        .args([
            "score",
            "testdata/email/paypal-lookalike.eml",
            "testdata/email/invoice-macro.eml",
            "testdata/email/team-lunch.eml",
        ])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = lines(&out.stdout);
    assert_eq!(rows.len(), 3);
    for r in &rows {
        for k in ["id", "score", "verdict", "reasons", "model"] {
            assert!(r.get(k).is_some(), "missing {k} in {r}");
        }
    }
    assert_eq!(rows[2]["verdict"], "benign");
    golden(
        "score-samples.ndjson",
        &String::from_utf8_lossy(&out.stdout),
    );
}

#[test]
fn stdin_and_ocsf_format() {
    let mut child = bin()
        .args(["score", "--format", "ocsf", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let eml = std::fs::read(root().join("testdata/email/paypal-lookalike.eml")).expect("sample");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&eml)
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    let rows = lines(&out.stdout);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["class_uid"], 2004);
    assert_eq!(
        rows[0]["evidences"][0]["email"]["subject"],
        "Urgent: Your account has been limited"
    );
}

#[test]
fn bad_records_are_quarantined_and_the_run_continues() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).expect("mkdir");
    std::fs::copy(
        root().join("testdata/email/team-lunch.eml"),
        inbox.join("a-good.eml"),
    )
    .expect("copy");
    std::fs::write(inbox.join("b-empty.eml"), b"").expect("write");
    std::fs::write(
        inbox.join("c-image.eml"),
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01",
    )
    .expect("write");
    std::fs::copy(
        root().join("testdata/email/invoice-macro.eml"),
        inbox.join("d-good.eml"),
    )
    .expect("copy");
    let q = dir.path().join("q.ndjson");
    let out = bin()
        .args(["score", "--quarantine"])
        .arg(&q)
        .arg(&inbox)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "quarantine gives exit 1");
    let rows = lines(&out.stdout);
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(
        ids[0].ends_with("a-good.eml") && ids[1].ends_with("d-good.eml"),
        "{ids:?}"
    );
    let quarantined = lines(&std::fs::read(&q).expect("quarantine file"));
    let reasons: Vec<&str> = quarantined
        .iter()
        .map(|v| v["reason"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(reasons, vec!["empty", "not_an_email"]);
    assert!(quarantined[1]["origin"]["path"]
        .as_str()
        .unwrap_or("")
        .ends_with("c-image.eml"));
    assert!(quarantined[1]["raw_b64"]
        .as_str()
        .is_some_and(|s| s.starts_with("iVBORw0KGgo")));
}

#[test]
fn usage_errors_exit_2_and_help_has_examples() {
    let out = bin().args(["score"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let out = bin()
        .args(["score", "/nonexistent/path.eml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/path.eml"));
    let out = bin().args(["score", "--help"]).output().expect("runs");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Examples:"));
}

#[test]
fn model_info_reports_the_bundled_models_sha256() {
    use sha2::Digest;
    let out = bin().args(["model", "info"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let bytes = std::fs::read(root().join("models/email-default.json")).expect("model");
    let want = shrike_score::features::hex(&sha2::Sha256::digest(&bytes));
    assert_eq!(v["sha256"], want);
    assert_eq!(
        v["schema"]["fingerprint"],
        shrike_score::features::email_schema().fingerprint()
    );
}

#[test]
fn serve_and_replay_as_two_processes() {
    let mut server = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--workers", "1"])
        .env("SHRIKE_API_TOKENS", "replay-token-123456")
        .env("SHRIKE_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let stderr = server.stderr.take().expect("stderr");
    let mut addr = None;
    for line in std::io::BufReader::new(stderr).lines().take(50) {
        let line = line.expect("line");
        if let Some(rest) = line.split("listening on ").nth(1) {
            addr = rest.split_whitespace().next().map(str::to_string);
            break;
        }
    }
    let addr = addr.expect("server printed its address");
    let dir = tempfile::tempdir().expect("tempdir");
    let results = dir.path().join("results.ndjson");
    let out = bin()
        .args([
            "replay",
            "--url",
            &addr,
            "--rate",
            "0",
            "--concurrency",
            "2",
            "--max",
            "6",
            "--format",
            "ocsf",
            "--out",
        ])
        .arg(&results)
        .arg("testdata/email")
        .env("SHRIKE_API_TOKEN", "replay-token-123456")
        .output()
        .expect("replay");
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).expect("summary json");
    assert_eq!(summary["sent"], 6);
    assert_eq!(summary["by_status"]["200"], 6);
    let total: u64 = summary["by_verdict"]
        .as_object()
        .expect("verdicts")
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(total, 6);
    assert!(summary["latency_ms"]["p99"]
        .as_f64()
        .is_some_and(|v| v > 0.0));
    let rows = lines(&std::fs::read(&results).expect("results"));
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[0]["result"]["class_uid"], 2004);
}

/// The bundled model is what the documented command produces from ../shared/data (regression
/// guard for issue 2: "one documented, reproducible command"), and training is deterministic.
#[test]
fn bundled_model_is_reproduced_by_the_documented_training_command() {
    let index = root().join("../shared/data/email/index.tsv");
    if !index.exists() {
        eprintln!("skipping: ../shared/data not found (bundled-model reproduction needs the email corpus)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = bin()
        .args(["train", "email", "--quiet", "--index"])
        .arg(&index)
        .arg("--out")
        .arg(dir.path().join("model.json"))
        .arg("--eval-dir")
        .arg(dir.path().join("eval"))
        .arg("--quarantine")
        .arg(dir.path().join("q.ndjson"))
        .output()
        .expect("runs");
    // 1: the corpus holds 7 files that are not email (README, LICENSE, empty files); they are quarantined.
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let q = lines(&std::fs::read(dir.path().join("q.ndjson")).expect("quarantine"));
    assert_eq!(q.len(), 7);
    let fresh: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("model.json")).expect("model"))
            .expect("json");
    let bundled: Value = serde_json::from_slice(
        &std::fs::read(root().join("models/email-default.json")).expect("bundled"),
    )
    .expect("json");
    for key in [
        "schema",
        "ensemble",
        "calibration",
        "thresholds",
        "algorithm",
        "id",
    ] {
        assert!(
            fresh[key] == bundled[key],
            "retrained model differs from the bundled one in {key:?}"
        );
    }
    let report: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("eval/report.json")).expect("report"),
    )
    .expect("json");
    let overall = &report["test"]["overall"];
    assert!(
        overall["pr_auc"].as_f64().is_some_and(|v| v > 0.99),
        "{overall}"
    );
    assert!(
        report["test"]["per_source"]["phishing_pot"]["source_emails"]
            .as_u64()
            .is_some_and(|n| n > 3000)
    );
    assert!(
        dir.path().join("eval/pr_curve.svg").exists()
            && dir.path().join("eval/reliability.svg").exists()
    );
}

fn python() -> Option<PathBuf> {
    let p = std::env::var_os("SHRIKE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/python"));
    let ok = Command::new(&p)
        .args(["-c", "import xgboost, numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(p)
}

/// Features exported by Shrike, trained on by the real XGBoost, imported back and served: the
/// "train in Python, serve in Shrike" path end to end.
#[test]
fn xgboost_trained_on_exported_features_imports_and_scores() {
    let data = root().join("../shared/data/email");
    let Some(py) = python() else {
        eprintln!("skipping: no Python with xgboost (run .ci/run, or set SHRIKE_PYTHON)");
        return;
    };
    if !data.exists() {
        eprintln!("skipping: ../shared/data not found");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("features.csv");
    let out = bin()
        .args(["features", "--quiet", "--input"])
        .arg(format!(
            "phishing={}",
            data.join("phishing/phishing_pot/phishing_pot_2022.tar.xz")
                .display()
        ))
        .arg("--input")
        .arg(format!(
            "ham={}",
            data.join("ham_modern/ham_modern_open-iscsi_2019-2025.tar.xz")
                .display()
        ))
        .arg("--out")
        .arg(&csv)
        .arg("--quarantine")
        .arg(dir.path().join("q.ndjson"))
        .output()
        .expect("features");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&csv).expect("csv");
    let header: Vec<&str> = text.lines().next().expect("header").split(',').collect();
    let schema = shrike_score::features::email_schema();
    assert_eq!(header.len(), 4 + schema.len());
    assert_eq!(header[4], schema.features[0].name);
    assert_eq!(
        text.lines().count(),
        1 + 148 + 1230,
        "148 phishing_pot 2022 + 1230 open-iscsi, deduplicated"
    );
    let model = dir.path().join("xgb.json");
    let st = Command::new(&py)
        .arg(root().join("scripts/py/train_xgboost_on_features.py"))
        .arg(&csv)
        .arg(&model)
        .output()
        .expect("python");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let shrike_model = dir.path().join("shrike.json");
    let st = bin()
        .args(["model", "import", "--xgboost"])
        .arg(&model)
        .arg("--out")
        .arg(&shrike_model)
        .output()
        .expect("import");
    assert_eq!(
        st.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let out = bin()
        .args(["score", "--reasons", "3", "--model"])
        .arg(&shrike_model)
        .args([
            "testdata/email/paypal-lookalike.eml",
            "testdata/email/team-lunch.eml",
        ])
        .output()
        .expect("score");
    assert_eq!(out.status.code(), Some(0));
    let rows = lines(&out.stdout);
    assert_eq!(rows[0]["model"]["id"], "imported-xgboost");
    let (p, h) = (
        rows[0]["score"].as_f64().expect("score"),
        rows[1]["score"].as_f64().expect("score"),
    );
    assert!(
        p > h,
        "imported model ranks the lookalike ({p}) above the team lunch ({h})"
    );
    assert_eq!(rows[0]["reasons"].as_array().map(Vec::len), Some(3));
    // A model trained on other columns is refused with a message saying why.
    let st = Command::new(&py)
        .args(["-c", "import numpy as np, xgboost as xgb, sys; b = xgb.train({'objective':'binary:logistic'}, xgb.DMatrix(np.random.rand(50, 5), label=np.arange(50) % 2), 2); b.save_model(sys.argv[1])"])
        .arg(dir.path().join("small.json"))
        .output()
        .expect("python");
    assert!(st.status.success());
    let st = bin()
        .args(["model", "import", "--xgboost"])
        .arg(dir.path().join("small.json"))
        .arg("--out")
        .arg(dir.path().join("bad.json"))
        .output()
        .expect("import");
    assert_eq!(st.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&st.stderr).contains("trained on 5 features"));
}

/// Every OCSF finding `shrike score --format ocsf` emits validates against the pinned OCSF 1.8.0
/// schema (the bundled samples, and a real phishing archive when ../shared/data is present), and
/// `shrike validate` reports a broken event with its line and rule.
#[test]
fn ocsf_findings_validate_against_ocsf_1_8_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut inputs = vec![root().join("testdata/email")];
    let archive =
        root().join("../shared/data/email/phishing/phishing_pot/phishing_pot_2022.tar.xz");
    if archive.exists() {
        inputs.push(archive);
    } else {
        eprintln!("skipping the corpus part: ../shared/data not found");
    }
    let out = bin()
        .args([
            "score",
            "--format",
            "ocsf",
            "--reasons",
            "3",
            "--quarantine",
        ])
        .arg(dir.path().join("q.ndjson"))
        .args(&inputs)
        .output()
        .expect("score");
    let findings = dir.path().join("findings.ndjson");
    std::fs::write(&findings, &out.stdout).expect("write");
    let n = lines(&out.stdout).len();
    assert!(n >= 3, "{n} findings");
    let v = bin()
        .arg("validate")
        .arg(&findings)
        .output()
        .expect("validate");
    let summary: Value = serde_json::from_slice(&v.stdout).expect("summary");
    assert_eq!(summary["events"], n as u64);
    assert_eq!(
        summary["invalid"],
        0,
        "{}",
        String::from_utf8_lossy(&v.stderr)
    );
    assert_eq!(v.status.code(), Some(0));
    // A broken event: wrong type_uid for the activity, and a string where an integer belongs.
    let mut bad: Value = lines(&out.stdout).remove(0);
    bad["type_uid"] = serde_json::json!(200402);
    bad["severity_id"] = serde_json::json!("high");
    let broken = dir.path().join("broken.ndjson");
    std::fs::write(&broken, format!("{bad}\n")).expect("write");
    let v = bin()
        .arg("validate")
        .arg(&broken)
        .output()
        .expect("validate");
    assert_eq!(v.status.code(), Some(1));
    let summary: Value = serde_json::from_slice(&v.stdout).expect("summary");
    assert_eq!(summary["invalid"], 1);
    assert_eq!(summary["errors_by_rule"]["type_uid_mismatch"], 1);
    assert_eq!(summary["errors_by_rule"]["type_mismatch"], 1);
    assert!(String::from_utf8_lossy(&v.stderr).contains("broken.ndjson:1: severity_id"));
}

#[test]
fn normalize_writes_valid_ocsf_entities_and_quarantines_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let q = dir.path().join("q.ndjson");
    let ents = dir.path().join("entities.ndjson");
    let out = bin()
        .args([
            "normalize",
            "testdata/telemetry/sysmon-and-bad.ndjson",
            "--quarantine",
        ])
        .arg(&q)
        .arg("--entities")
        .arg(&ents)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = lines(&out.stdout);
    assert_eq!(events.len(), 2);
    let schema = shrike_ocsf::Schema::shared();
    for e in &events {
        assert_eq!(schema.validate(e), vec![], "{e}");
    }
    assert_eq!(events[0]["class_uid"], 1007);
    assert_eq!(
        events[0]["process"]["cmd_line"]
            .as_str()
            .map(|s| s.contains("MiniDump")),
        Some(true)
    );
    assert_eq!(events[1]["class_uid"], 4001);
    assert_eq!(events[1]["dst_endpoint"]["ip"], "203.0.113.80");
    // Bad lines: one invalid JSON, one unknown shape, one Windows event no mapping selects.
    let qtext = std::fs::read_to_string(&q).expect("quarantine written");
    let reasons: Vec<String> = lines(qtext.as_bytes())
        .iter()
        .map(|v| {
            format!(
                "{}/{}",
                v["stage"].as_str().unwrap_or(""),
                v["reason"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "decode/json_invalid",
            "normalize/no_mapping",
            "decode/unknown_source"
        ]
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("5 records in (3 decoded, 2 undecodable), 2 events out, 3 quarantined"),
        "{stderr}"
    );
    assert!(stderr.contains("EventID=9999"), "{stderr}");
    let ents = lines(std::fs::read_to_string(&ents).expect("entities").as_bytes());
    assert_eq!(ents.len(), 2);
    let keys: Vec<&str> = ents[0]["entities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["key"].as_str())
        .collect();
    assert!(
        keys.contains(&"alice@corp") && keys.contains(&"ws01"),
        "{keys:?}"
    );
    // --strict turns quarantine into exit 1.
    let strict = bin()
        .args([
            "normalize",
            "--strict",
            "-o",
            "/dev/null",
            "testdata/telemetry/sysmon-and-bad.ndjson",
            "--quarantine",
        ])
        .arg(&q)
        .output()
        .expect("run");
    assert_eq!(strict.status.code(), Some(1));
}

#[test]
fn normalize_reads_stdin_with_an_explicit_source() {
    let mut child = bin()
        .args([
            "normalize",
            "--source",
            "suricata",
            "--quarantine",
            "/dev/null",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(br#"{"timestamp":"2022-03-21T10:00:00.000000+0000","flow_id":7,"event_type":"alert","src_ip":"10.0.19.14","src_port":49790,"dest_ip":"203.0.113.118","dest_port":80,"proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":2032086,"rev":2,"signature":"ET MALWARE Win32/IcedID Request Cookie","category":"A Network Trojan was detected","severity":1}}"#)
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = lines(&out.stdout);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["class_uid"], 2004);
    assert_eq!(events[0]["severity_id"], 4);
    assert_eq!(
        events[0]["evidences"][0]["dst_endpoint"]["ip"],
        "203.0.113.118"
    );
    assert_eq!(shrike_ocsf::Schema::shared().validate(&events[0]), vec![]);
}

#[test]
fn test_mappings_passes_on_the_bundled_content() {
    let out = bin().args(["test", "mappings"]).output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(" 0 failed, 0 folders without samples"),
        "{stdout}"
    );
    let bad = bin()
        .args(["test", "mappings", "--dir", "testdata/email"])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(1));
}

//! The bundled cloud model on real data: Mordor's attacker session (stolen instance-profile
//! credentials: ListBuckets, ListObjects, GetObject) must score above Panther's benign
//! (expected-false) CloudTrail test events. Skipped when the shared data is absent.
//!
//! Caveat: the Mordor capture (2020) and most Panther events are in the model's fit period, so
//! this is an in-sample sanity check of the bundled model and the serving path (normalize ->
//! CloudModel::score in time order), not an evaluation; the evaluation is the card's test period.

use std::path::Path;

use serde_json::{json, Value};
use shrike_detect::models::cloud::{CloudModel, GUARDDUTY_SCORER_ID};
use shrike_detect::models::DomainModel;
use shrike_detect::Domain;
use shrike_normalize::decode::{decode_bytes, decode_path, DecodeOptions};
use shrike_normalize::{DecodeItem, Engine, Source};

fn data() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/cloud")
}

fn normalize(engine: &Engine, path: &Path, source: Option<Source>) -> Vec<Value> {
    let opts = DecodeOptions {
        source,
        ..DecodeOptions::default()
    };
    let mut out = Vec::new();
    decode_path(path, &opts, &mut |item| {
        if let DecodeItem::Record(r) = item {
            if let Ok(n) = engine.normalize(r) {
                out.push(n.event);
            }
        }
    })
    .expect("read");
    out
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn bundled_model_loads_and_rejects_hostile_events() {
    let mut m = CloudModel::embedded().expect("bundled cloud model (run `shrike train cloud`)");
    assert_eq!(m.domain(), Domain::Cloud);
    assert_eq!(m.id().0, "shrike-cloud-gbdt");
    let t = m.alert_threshold();
    assert!(t > 0.0 && t <= 1.0, "{t}");
    for e in [
        json!(null),
        json!("CloudTrail"),
        json!({"metadata": {"product": {"name": "CloudTrail"}}}),
        json!({"metadata": {"product": {"name": "CloudTrail"}}, "api": {"operation": ""}, "time": 1}),
        json!({"metadata": {"product": {"name": "Zeek"}}, "api": {"operation": "GetObject"}, "time": 1}),
        json!({"class_uid": 2004, "metadata": {"product": {"name": "GuardDuty"}}}),
    ] {
        assert!(m.score(&e, &[], 3).is_none(), "{e}");
    }
    let before = m.state_bytes();
    let e = json!({
        "time": 1_600_000_000_000i64, "class_uid": 6003,
        "metadata": {"product": {"name": "CloudTrail"}},
        "actor": {"user": {"type": "IAMUser", "uid": "arn:aws:iam::111122223333:user/alice"}},
        "api": {"operation": "StopLogging", "service": {"name": "cloudtrail.amazonaws.com"}},
        "src_endpoint": {"ip": "203.0.113.5"}, "status_id": 1
    });
    let s = m.score(&e, &[], 3).expect("covered");
    assert!((0.0..=1.0).contains(&s.probability));
    assert!(!s.reasons.is_empty() && s.reasons.len() <= 3);
    assert!(m.state_bytes() > before);
    let s0 = m.score(&e, &[], 0).expect("covered");
    assert!(s0.reasons.is_empty());
    // A GuardDuty finding goes to the severity/type scorer.
    let gd = json!({"class_uid": 2004, "time": 1, "metadata": {"product": {"name": "GuardDuty"}},
        "finding_info": {"types": ["CryptoCurrency:EC2/BitcoinTool.B!DNS"]}, "severity_id": 4,
        "unmapped": {"severity": 8.0}});
    let s = m.score(&gd, &[], 2).expect("GuardDuty finding");
    assert_eq!(s.model, GUARDDUTY_SCORER_ID);
    assert_eq!(s.verdict, "alert");
    assert_eq!(s.reasons.len(), 2);
}

#[test]
fn mordor_attacker_session_scores_above_benign_panther_events() {
    let root = data();
    let mordor = root.join("mordor-aws/atomic/aws/collection/ec2_proxy_s3_exfiltration.zip");
    let panther = root.join("panther/cloudtrail.ndjson.gz");
    if !mordor.exists() || !panther.exists() {
        eprintln!("skipped: {} absent", root.display());
        return;
    }
    let engine = Engine::embedded().expect("bundled mappings");
    let mut model = CloudModel::embedded().expect("bundled cloud model");

    // Mordor: one stream in time order.
    let mut events = normalize(&engine, &mordor, None);
    events.sort_by_key(|e| e.get("time").and_then(Value::as_i64).unwrap_or(0));
    let mut attacker = Vec::new();
    let mut attacker_ops = Vec::new();
    for e in &events {
        let Some(s) = model.score(e, &[], 0) else {
            continue;
        };
        if e.pointer("/actor/user/type").and_then(Value::as_str) == Some("AssumedRole") {
            attacker.push(s.probability);
            attacker_ops.push(
                e.pointer("/api/operation")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            );
        }
    }
    assert_eq!(attacker.len(), 11, "{attacker_ops:?}");

    // Panther: events whose every case is expected_result false (benign look-alikes), each on
    // fresh state (they are standalone fixtures).
    let opts = DecodeOptions {
        source: Some(Source::Cloudtrail),
        ..DecodeOptions::default()
    };
    let mut wrappers = Vec::new();
    decode_path(&panther, &opts, &mut |item| {
        if let DecodeItem::Record(r) = item {
            if let Ok(v) = serde_json::from_slice::<Value>(&r.raw) {
                wrappers.push(v);
            }
        }
    })
    .expect("read panther");
    let mut benign = Vec::new();
    for w in &wrappers {
        if w.get("expected_result").and_then(Value::as_bool) != Some(false) {
            continue;
        }
        let Some(Value::Object(log)) = w.get("log") else {
            continue;
        };
        let log: serde_json::Map<String, Value> = log
            .iter()
            .filter(|(k, _)| !k.starts_with("p_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let bytes = Value::Object(log).to_string();
        decode_bytes("t", bytes.as_bytes(), &opts, &mut |item| {
            if let DecodeItem::Record(r) = item {
                if let Ok(n) = engine.normalize(r) {
                    model.reset();
                    if let Some(s) = model.score(&n.event, &[], 0) {
                        benign.push(s.probability);
                    }
                }
            }
        });
    }
    assert!(benign.len() >= 150, "{} benign events", benign.len());
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (ma, mb) = (mean(&attacker), mean(&benign));
    let (da, db) = (median(&mut attacker.clone()), median(&mut benign.clone()));
    let t = model.alert_threshold();
    let above = |v: &[f64]| v.iter().filter(|&&p| p >= t).count();
    eprintln!(
        "attacker mean {ma:.3} median {da:.3}, {}/{} at or above the alert threshold {t:.3}; benign mean {mb:.3} median {db:.3}, {}/{} at or above",
        above(&attacker),
        attacker.len(),
        above(&benign),
        benign.len()
    );
    assert!(ma > mb, "attacker mean {ma} <= benign mean {mb}");
    assert!(da > db, "attacker median {da} <= benign median {db}");
}

//! GuardDuty findings as hits, and the cloud model's GuardDuty scorer, on hand-made findings and
//! on the shared GuardDuty samples (normalized with the bundled mappings; skipped when absent).

use std::path::Path;

use serde_json::{json, Value};
use shrike_detect::attack::AttackTable;
use shrike_detect::models::cloud::{guardduty_probability, GUARDDUTY_ALERT};
use shrike_detect::vendor::guardduty::{self, finding, Skip, TypeTable};
use shrike_detect::{Hit, Origin};
use shrike_normalize::decode::{decode_path, DecodeOptions};
use shrike_normalize::{DecodeItem, Engine};

fn gd(ty: &str, severity: f64, severity_id: u8) -> Value {
    json!({
        "class_uid": 2004, "time": 1,
        "metadata": {"product": {"name": "GuardDuty", "vendor_name": "AWS"}, "event_code": ty},
        "finding_info": {"types": [ty], "title": format!("title of {ty}")},
        "severity_id": severity_id,
        "unmapped": {"severity": severity},
    })
}

fn hit_of(e: &Value) -> Option<Hit> {
    let mut out = Vec::new();
    guardduty::hits(e, &mut out);
    assert!(out.len() <= 1);
    out.pop()
}

#[test]
fn finding_types_map_to_attack() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "CryptoCurrency:EC2/BitcoinTool.B!DNS",
            &["T1496.001"],
            &["impact"],
        ),
        (
            "Backdoor:EC2/C&CActivity.B!DNS",
            &["T1071.004"],
            &["command-and-control"],
        ),
        (
            "Backdoor:EC2/C&CActivity.B",
            &["T1071"],
            &["command-and-control"],
        ),
        (
            "Backdoor:Lambda/C&CActivity.B",
            &["T1071"],
            &["command-and-control"],
        ),
        (
            "Stealth:IAMUser/CloudTrailLoggingDisabled",
            &["T1562.008"],
            &["defense-evasion"],
        ),
        (
            "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
            &["T1078.004", "T1552.005"],
            &[
                "credential-access",
                "defense-evasion",
                "initial-access",
                "persistence",
                "privilege-escalation",
            ],
        ),
        (
            "Recon:EC2/PortProbeUnprotectedPort",
            &["T1595"],
            &["reconnaissance"],
        ),
        (
            "Exfiltration:S3/ObjectRead.Unusual",
            &["T1530"],
            &["collection", "exfiltration"],
        ),
        ("Backdoor:EC2/XORDDOS", &[], &["command-and-control"]),
        (
            "Persistence:IAMUser/AnomalousBehavior",
            &[],
            &["persistence"],
        ),
        ("Policy:S3/BucketBlockPublicAccessDisabled", &[], &[]),
        ("PenTest:S3/ParrotLinux", &[], &[]),
        ("Behavior:EC2/NetworkPortUnusual", &[], &[]),
        (
            "UnauthorizedAccess:EC2/TorIPCaller",
            &["T1090.003"],
            &["command-and-control"],
        ),
        ("Test:Minimal/Finding", &[], &[]),
    ];
    let attack = AttackTable::embedded();
    for (ty, techniques, tactics) in cases {
        let h = hit_of(&gd(ty, 5.0, 3)).unwrap_or_else(|| panic!("no hit for {ty}"));
        assert_eq!(h.techniques, *techniques, "{ty}");
        assert_eq!(h.tactics, *tactics, "{ty}");
        for t in &h.techniques {
            assert!(attack.technique(t).is_some_and(|t| t.active), "{t}");
        }
        let Origin::Vendor {
            product,
            rule,
            category,
        } = &h.origin
        else {
            panic!("not a vendor hit");
        };
        assert_eq!(product, "Amazon GuardDuty");
        assert_eq!(rule, ty);
        assert_eq!(category, ty.split(':').next().unwrap_or(""));
        assert_eq!(h.severity_id, 3);
    }
    // The table itself: every technique and tactic exists.
    for r in TypeTable::embedded().rows() {
        for t in &r.techniques {
            assert!(attack.technique(t).is_some(), "{t} in {}", r.pattern);
        }
        for t in &r.tactics {
            assert!(attack.tactic(t).is_some(), "{t} in {}", r.pattern);
        }
    }
}

#[test]
fn malformed_findings_are_skipped_without_panic() {
    // Not GuardDuty.
    for e in [
        json!(null),
        json!({"class_uid": 2004}),
        json!({"class_uid": "2004", "metadata": {"product": {"name": "GuardDuty"}}}),
    ] {
        assert_eq!(finding(&e), Err(Skip::NotGuardDuty), "{e}");
        assert!(hit_of(&e).is_none());
    }
    // GuardDuty without a type.
    let e = json!({"class_uid": 2004, "metadata": {"product": {"name": "GuardDuty"}}, "finding_info": {"types": [""]}});
    assert_eq!(finding(&e), Err(Skip::NoType));
    assert!(hit_of(&e).is_none());
    // Odd types and values: a hit, clamped severity, no technique.
    let mut e = gd("Trojan", 99.0, 9);
    e["finding_info"]["types"] = json!([42]);
    e["metadata"]["event_code"] = json!("::::");
    let h = hit_of(&e).expect("event_code is the fallback type");
    assert_eq!(h.severity_id, 1);
    assert!(h.techniques.is_empty() && h.tactics.is_empty());
    let info = finding(&e).expect("finding");
    assert_eq!(info.severity, None, "99 is out of GuardDuty's range");
    let (p, _) = guardduty_probability(&info);
    assert!((0.0..=1.0).contains(&p));
}

#[test]
fn guardduty_scorer_orders_by_severity_and_discounts_samples() {
    let hi = gd("Backdoor:EC2/C&CActivity.B", 8.5, 4);
    let lo = gd("Backdoor:EC2/C&CActivity.B", 2.0, 2);
    let mut sample = hi.clone();
    sample["unmapped"]["service"] = json!({"additionalInfo": {"sample": true}});
    let policy = gd("Policy:S3/BucketBlockPublicAccessDisabled", 8.5, 4);
    let p = |e: &Value| guardduty_probability(&finding(e).expect("finding")).0;
    assert!(p(&hi) >= GUARDDUTY_ALERT, "{}", p(&hi));
    assert!(p(&lo) < p(&hi));
    assert!(p(&sample) < 0.1);
    assert!(p(&policy) < GUARDDUTY_ALERT);
}

#[test]
fn shared_guardduty_samples_give_hits() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/cloud/guardduty");
    if !root.exists() {
        eprintln!("skipped: {} absent", root.display());
        return;
    }
    let engine = Engine::embedded().expect("bundled mappings");
    let (mut events, mut quarantined) = (Vec::new(), 0);
    decode_path(&root, &DecodeOptions::default(), &mut |item| match item {
        DecodeItem::Record(r) => match engine.normalize(r) {
            Ok(n) => events.push(n.event),
            Err(_) => quarantined += 1,
        },
        DecodeItem::Quarantined(_) => quarantined += 1,
    })
    .expect("read dir");
    // 25 findings in 24 files, plus the invalid-JSON fixture and 4 non-finding files.
    assert!(events.len() >= 20, "{} events", events.len());
    assert!(quarantined >= 1, "the invalid-JSON fixture is quarantined");
    let mut n_hits = 0;
    let mut mapped = 0;
    for e in &events {
        if let Some(h) = hit_of(e) {
            n_hits += 1;
            mapped += usize::from(!h.techniques.is_empty());
            assert!((1..=5).contains(&h.severity_id));
        }
    }
    assert_eq!(n_hits, events.len(), "every normalized finding has a type");
    assert!(mapped >= 8, "{mapped} findings mapped to a technique");
}

//! The cloud feature extractor on hand-made CloudTrail (OCSF API Activity) sequences.

use serde_json::{json, Value};
use shrike_detect::models::cloud::features::{cloud_schema, Caps, CloudFeatures};

fn call(t_s: i64, arn: &str, op: &str, svc: &str, ip: &str, error: Option<&str>) -> Value {
    let mut e = json!({
        "time": t_s * 1000,
        "class_uid": 6003,
        "metadata": {"product": {"name": "CloudTrail", "vendor_name": "AWS"}, "uid": format!("u{t_s}")},
        "cloud": {"provider": "AWS", "region": "us-east-1", "account": {"uid": "111122223333"}},
        "actor": {"user": {"type": if arn.contains("assumed-role") {"AssumedRole"} else {"IAMUser"}, "uid": arn}},
        "src_endpoint": {"ip": ip},
        "http_request": {"user_agent": "aws-cli/2.13.5 Python/3.11.4"},
        "api": {"operation": op, "service": {"name": svc}},
        "status_id": 1,
    });
    if let Some(err) = error {
        e["status_id"] = json!(2);
        e["api"]["response"] = json!({"error": err});
    }
    e
}

fn get(x: &[f32], name: &str) -> f32 {
    let i = cloud_schema()
        .index_of(name)
        .unwrap_or_else(|| panic!("no feature {name}"));
    x[i]
}

const ALICE: &str = "arn:aws:iam::111122223333:user/alice";

#[test]
fn first_seen_api_per_principal() {
    let mut fx = CloudFeatures::new();
    let mut x = Vec::new();
    assert!(fx.extract(
        &call(
            0,
            ALICE,
            "ListBuckets",
            "s3.amazonaws.com",
            "203.0.113.5",
            None
        ),
        &mut x
    ));
    // A new principal: first-seen flags are unknown (NaN), counts are 0.
    assert!(get(&x, "api_first_seen_principal").is_nan());
    assert_eq!(get(&x, "principal_events_before"), 0.0);
    assert!(fx.extract(
        &call(
            10,
            ALICE,
            "ListBuckets",
            "s3.amazonaws.com",
            "203.0.113.5",
            None
        ),
        &mut x
    ));
    assert_eq!(get(&x, "api_first_seen_principal"), 0.0);
    assert!((get(&x, "api_count_principal") - 2f32.ln()).abs() < 1e-6);
    assert_eq!(get(&x, "service_first_seen_principal"), 0.0);
    assert!(fx.extract(
        &call(
            20,
            ALICE,
            "CreateAccessKey",
            "iam.amazonaws.com",
            "203.0.113.5",
            None
        ),
        &mut x
    ));
    assert_eq!(get(&x, "api_first_seen_principal"), 1.0);
    assert_eq!(get(&x, "service_first_seen_principal"), 1.0);
    assert_eq!(get(&x, "is_credential_create"), 1.0);
    assert_eq!(get(&x, "ip_new_principal"), 0.0);
    // Another principal's history is separate; the global count is not.
    let bob = "arn:aws:iam::111122223333:user/bob";
    assert!(fx.extract(
        &call(
            30,
            bob,
            "CreateAccessKey",
            "iam.amazonaws.com",
            "198.51.100.7",
            None
        ),
        &mut x
    ));
    assert!(get(&x, "api_first_seen_principal").is_nan());
    assert!((get(&x, "api_count_global") - 2f32.ln()).abs() < 1e-6);
    assert_eq!(fx.n_principals(), 2);
}

#[test]
fn sessions_of_one_role_share_history_and_new_ip_is_flagged() {
    let mut fx = CloudFeatures::new();
    let mut x = Vec::new();
    let s1 = "arn:aws:sts::111122223333:assumed-role/WebRole/i-0123456789abcdef0";
    let s2 = "arn:aws:sts::111122223333:assumed-role/WebRole/i-0fedcba9876543210";
    assert!(fx.extract(
        &call(
            0,
            s1,
            "DescribeInstances",
            "ec2.amazonaws.com",
            "10.0.0.5",
            None
        ),
        &mut x
    ));
    assert_eq!(get(&x, "instance_session"), 1.0);
    assert_eq!(get(&x, "src_private_ip"), 1.0);
    assert!(fx.extract(
        &call(
            60,
            s2,
            "ListBuckets",
            "s3.amazonaws.com",
            "203.0.113.9",
            None
        ),
        &mut x
    ));
    assert!(
        get(&x, "principal_events_before") > 0.0,
        "same role, same history"
    );
    assert_eq!(get(&x, "ip_new_principal"), 1.0);
    assert_eq!(get(&x, "instance_session_new_ip"), 1.0);
    assert_eq!(get(&x, "is_recon"), 1.0);
}

#[test]
fn failure_rate_and_access_denied() {
    let mut fx = CloudFeatures::new();
    let mut x = Vec::new();
    for (i, err) in [None, Some("AccessDenied"), Some("AccessDenied"), None]
        .iter()
        .enumerate()
    {
        assert!(fx.extract(
            &call(
                i as i64,
                ALICE,
                "GetObject",
                "s3.amazonaws.com",
                "203.0.113.5",
                *err
            ),
            &mut x
        ));
    }
    // Before the 4th call: 2 failures among 3 calls.
    assert!((get(&x, "principal_fail_rate") - 2.0 / 3.0).abs() < 1e-6);
    assert_eq!(get(&x, "failed"), 0.0);
    assert!(get(&x, "principal_fail_burst") > 1.9);
    assert!(get(&x, "principal_data_burst") > 3.9);
    assert!(fx.extract(
        &call(
            5,
            ALICE,
            "PutBucketPolicy",
            "s3.amazonaws.com",
            "203.0.113.5",
            Some("AccessDenied")
        ),
        &mut x
    ));
    assert_eq!(get(&x, "failed"), 1.0);
    assert_eq!(get(&x, "access_denied"), 1.0);
    assert_eq!(get(&x, "is_exposure_change"), 1.0);
}

#[test]
fn iam_logging_and_mfa_flags() {
    let mut fx = CloudFeatures::new();
    let mut x = Vec::new();
    let cases = [
        ("AttachUserPolicy", "iam.amazonaws.com", "is_iam_change"),
        (
            "UpdateAssumeRolePolicy",
            "iam.amazonaws.com",
            "is_iam_change",
        ),
        ("CreateUser", "iam.amazonaws.com", "is_iam_change"),
        (
            "StopLogging",
            "cloudtrail.amazonaws.com",
            "is_defense_change",
        ),
        (
            "PutEventSelectors",
            "cloudtrail.amazonaws.com",
            "is_defense_change",
        ),
        ("DeleteFlowLogs", "ec2.amazonaws.com", "is_defense_change"),
        (
            "DeleteDetector",
            "guardduty.amazonaws.com",
            "is_defense_change",
        ),
        ("DeactivateMFADevice", "iam.amazonaws.com", "is_mfa_change"),
        (
            "GetSecretValue",
            "secretsmanager.amazonaws.com",
            "is_secret_read",
        ),
        ("GetCallerIdentity", "sts.amazonaws.com", "is_whoami"),
    ];
    for (i, (op, svc, f)) in cases.iter().enumerate() {
        assert!(fx.extract(&call(i as i64, ALICE, op, svc, "203.0.113.5", None), &mut x));
        assert_eq!(get(&x, f), 1.0, "{op} -> {f}");
    }
    assert!(fx.extract(
        &call(
            100,
            ALICE,
            "DescribeInstances",
            "ec2.amazonaws.com",
            "203.0.113.5",
            None
        ),
        &mut x
    ));
    for f in [
        "is_iam_change",
        "is_defense_change",
        "is_mfa_change",
        "is_write",
    ] {
        assert_eq!(get(&x, f), 0.0, "DescribeInstances -> {f}");
    }
    assert_eq!(get(&x, "is_read"), 1.0);
}

#[test]
fn console_login_without_mfa_and_root() {
    let mut fx = CloudFeatures::new();
    let mut x = Vec::new();
    let login = json!({
        "time": 1_000, "class_uid": 3002,
        "metadata": {"product": {"name": "CloudTrail"}},
        "actor": {"user": {"type": "Root", "uid": "arn:aws:iam::111122223333:root"}},
        "is_mfa": false,
        "src_endpoint": {"ip": "192.0.2.1"},
        "http_request": {"user_agent": "Mozilla/5.0"},
        "api": {"operation": "ConsoleLogin", "service": {"name": "signin.amazonaws.com"}, "response": {"data": {"ConsoleLogin": "Failure"}}},
        "status_id": 1
    });
    assert!(fx.extract(&login, &mut x));
    assert_eq!(get(&x, "actor_root"), 1.0);
    assert_eq!(get(&x, "console_login_no_mfa"), 1.0);
    assert_eq!(get(&x, "console_login_failed"), 1.0);
    assert_eq!(get(&x, "failed"), 1.0);
    assert_eq!(get(&x, "ua_console"), 1.0);
}

#[test]
fn hostile_and_foreign_events_are_not_covered() {
    let mut fx = CloudFeatures::new();
    let mut x = vec![1.0];
    for e in [
        json!(null),
        json!([]),
        json!({"class_uid": 6003}),
        json!({"metadata": {"product": {"name": "CloudTrail"}}, "time": 1}),
        json!({"metadata": {"product": {"name": "CloudTrail"}}, "api": {"operation": "X"}, "time": "soon"}),
        json!({"metadata": {"product": {"name": "Sysmon"}}, "api": {"operation": "X"}, "time": 1}),
        json!({"metadata": {"product": {"name": 7}}, "api": {"operation": ["X"]}, "time": 1}),
    ] {
        assert!(!fx.extract(&e, &mut x), "{e}");
    }
    assert_eq!(x, vec![1.0], "out untouched");
    assert_eq!(fx.n_principals(), 0);
    // Odd but covered: huge strings, odd types elsewhere, out-of-order time.
    let mut e = call(
        100,
        &"x".repeat(100_000),
        &"A".repeat(10_000),
        "s3.amazonaws.com",
        "not an ip",
        None,
    );
    e["actor"]["session"] = json!({"is_mfa": "yes"});
    assert!(fx.extract(&e, &mut x));
    assert!(fx.extract(&call(-5, ALICE, "ListBuckets", "", "::1", None), &mut x));
    assert!(fx.extract(&call(-50, ALICE, "ListBuckets", "", "::1", None), &mut x));
    // Extreme times: no overflow.
    for t in [i64::MIN, i64::MAX, i64::MIN, 0] {
        let mut e = call(0, ALICE, "ListBuckets", "", "::1", None);
        e["time"] = json!(t);
        assert!(fx.extract(&e, &mut x));
    }
    assert!(x.iter().all(|v| v.is_nan() || v.is_finite()));
}

#[test]
fn state_is_bounded() {
    let caps = Caps {
        principals: 64,
        apis: 8,
        values: 4,
        global_apis: 32,
    };
    let mut fx = CloudFeatures::with_caps(caps);
    let mut x = Vec::new();
    for i in 0..5_000i64 {
        let arn = format!("arn:aws:iam::111122223333:user/u{}", i % 500);
        let op = format!("Op{}", i % 97);
        let ip = format!("203.0.{}.{}", (i / 256) % 256, i % 256);
        assert!(fx.extract(&call(i, &arn, &op, "ec2.amazonaws.com", &ip, None), &mut x));
    }
    assert!(fx.n_principals() <= 64, "{}", fx.n_principals());
    let bytes = fx.state_bytes();
    assert!(bytes > 0 && bytes < 64 * 4096, "{bytes}");
}

fn arb_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-zA-Z0-9:/*._ -]{0,24}".prop_map(Value::from),
        Just(json!("0.0.0.0/0")),
        Just(json!(
            "arn:aws:sts::111122223333:assumed-role/R/i-0123456789abcdef0"
        )),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("time".to_string()),
                    Just("api".to_string()),
                    Just("operation".to_string()),
                    Just("actor".to_string()),
                    Just("user".to_string()),
                    Just("uid".to_string()),
                    Just("requestParameters".to_string()),
                    "[a-z]{1,8}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    #[test]
    fn arbitrary_events_never_panic(body in arb_json(), op in arb_json(), actor in arb_json(), req in arb_json(), t in proptest::prelude::any::<i64>()) {
        let mut fx = CloudFeatures::new();
        let mut x = Vec::new();
        let e = json!({
            "time": t, "metadata": {"product": {"name": "CloudTrail"}},
            "api": {"operation": op, "service": body},
            "actor": actor, "unmapped": {"requestParameters": req}
        });
        let covered = fx.extract(&e, &mut x);
        let e2 = json!({"time": t, "metadata": {"product": {"name": "CloudTrail"}}, "api": {"operation": "GetObject"}, "actor": {"user": actor}, "unmapped": {"requestParameters": req}});
        proptest::prop_assert!(fx.extract(&e2, &mut x));
        proptest::prop_assert_eq!(x.len(), cloud_schema().len());
        proptest::prop_assert!(x.iter().all(|v| v.is_nan() || v.is_finite()));
        let _ = covered;
    }
}

//! Validator behaviour on hand-written events, the committed table, and Shrike's own finding.

// The reproduced Shrike finding is one large `json!` literal.
#![recursion_limit = "256"]

use std::path::Path;
use std::sync::LazyLock;

use proptest::prelude::*;
use serde_json::{json, Value};
use shrike_ocsf::{validate_ndjson, Rule, Schema, ValidationError};

const COMMITTED: &str = include_str!("../schema/ocsf-1.8.0.json");
/// Parsed once: the table is ~430 KB and proptest validates hundreds of cases.
static SCHEMA: LazyLock<Schema> = LazyLock::new(Schema::embedded);

const SCHEMA_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/ocsf/schema-1.8.0"
);

/// A hand-written valid Detection Finding (class 2004, activity Create).
fn detection_finding() -> Value {
    json!({
        "activity_id": 1,
        "activity_name": "Create",
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "time": 1_763_900_000_000_i64,
        "severity_id": 4,
        "severity": "High",
        "status_id": 1,
        "status": "New",
        "is_alert": true,
        "confidence_score": 93,
        "message": "Phishing email: score 0.930",
        "metadata": {
            "version": "1.8.0",
            "product": {"name": "Shrike", "vendor_name": "Shrike", "version": "0.1.0"},
            "log_name": "email_triage"
        },
        "finding_info": {
            "uid": "shrike-email-0001",
            "title": "Phishing email",
            "types": ["Phishing"],
            "analytic": {"name": "email-gbdt", "uid": "abc", "type_id": 4, "type": "Learning (ML/DL)"}
        },
        "evidences": [{
            "email": {
                "from": "alice@example.com",
                "to": ["bob@example.org"],
                "subject": "Invoice",
                "message_uid": "<m1@example.com>",
                "size": 2048,
                "files": [{
                    "name": "invoice.pdf",
                    "type_id": 1,
                    "size": 1000,
                    "hashes": [{"algorithm_id": 3, "algorithm": "SHA-256", "value": "00ff"}]
                }]
            }
        }],
        "observables": [{"name": "evidences[0].email.from", "type_id": 5, "value": "alice@example.com"}],
        "unmapped": {"shrike": {"score": 0.93, "anything": [1, "two"]}}
    })
}

fn errors(v: &Value) -> Vec<ValidationError> {
    SCHEMA.validate(v)
}

fn one(v: &Value) -> (String, Rule, String) {
    let e = errors(v);
    assert_eq!(e.len(), 1, "expected exactly one error, got {e:?}");
    let e = &e[0];
    (e.path.clone(), e.rule, e.to_string())
}

#[test]
fn embedded_table_round_trips() {
    let s = Schema::embedded();
    assert_eq!(s.table().version, "1.8.0");
    // 76 core classes + 7 of the Windows extension; 177 core objects + reg_key, reg_value,
    // win_resource, win_service.
    assert_eq!(s.table().classes.len(), 83);
    assert_eq!(s.table().objects.len(), 181);
    assert_eq!(
        s.table().types.get("timestamp_t").map(String::as_str),
        Some("long_t")
    );
    assert_eq!(
        s.table().types.get("port_t").map(String::as_str),
        Some("integer_t")
    );
    assert_eq!(s.table().to_json_lines(), COMMITTED);
    let df = &s.table().classes[&2004];
    assert_eq!(
        (df.name.as_str(), df.category_uid),
        ("detection_finding", 2)
    );
    assert_eq!(
        df.enums["activity_id"],
        vec![json!(0), json!(1), json!(2), json!(3), json!(99)]
    );
}

#[test]
fn committed_table_is_what_the_compiler_produces() {
    if !Path::new(SCHEMA_DIR).is_dir() {
        eprintln!("skipping: {SCHEMA_DIR} not present");
        return;
    }
    let table = shrike_ocsf::compile(Path::new(SCHEMA_DIR)).expect("shared schema compiles");
    assert!(
        table.to_json_lines() == COMMITTED,
        "crates/ocsf/schema/ocsf-1.8.0.json is stale: rerun `cargo run -p shrike-ocsf --bin ocsf-compile -- {SCHEMA_DIR} crates/ocsf/schema/ocsf-1.8.0.json`"
    );
}

#[test]
fn valid_detection_finding_has_no_errors() {
    assert_eq!(errors(&detection_finding()), vec![]);
}

fn mutated(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut v = detection_finding();
    if let Some(o) = v.as_object_mut() {
        f(o);
    }
    v
}

#[test]
fn missing_severity_id() {
    let v = mutated(|o| {
        o.remove("severity_id");
    });
    assert_eq!(
        one(&v),
        (
            "severity_id".into(),
            Rule::MissingRequired,
            "severity_id: required attribute missing".into()
        )
    );
}

#[test]
fn type_uid_inconsistent_with_activity() {
    let v = mutated(|o| {
        o.insert("type_uid".into(), json!(200402));
    });
    assert_eq!(
        one(&v),
        (
            "type_uid".into(),
            Rule::TypeUidMismatch,
            "type_uid: expected 200401 (class_uid * 100 + activity_id), got 200402".into()
        )
    );
}

#[test]
fn category_inconsistent_with_class() {
    let v = mutated(|o| {
        o.insert("category_uid".into(), json!(4));
    });
    assert_eq!(
        one(&v),
        (
            "category_uid".into(),
            Rule::CategoryMismatch,
            "category_uid: class 2004 is in category 2, got 4".into()
        )
    );
}

#[test]
fn string_where_integer_belongs() {
    let v = mutated(|o| {
        o.insert("severity_id".into(), json!("4"));
    });
    assert_eq!(
        one(&v),
        (
            "severity_id".into(),
            Rule::TypeMismatch,
            "severity_id: expected integer, got string".into()
        )
    );
}

#[test]
fn number_where_email_string_belongs() {
    let mut v = detection_finding();
    v["evidences"][0]["email"]["from"] = json!(42);
    assert_eq!(
        one(&v).2,
        "evidences[0].email.from: expected string, got number"
    );
}

#[test]
fn timestamp_must_be_integer_ms() {
    let v = mutated(|o| {
        o.insert("time".into(), json!("2025-11-23T10:00:00Z"));
    });
    assert_eq!(one(&v).2, "time: expected integer, got string");
}

#[test]
fn unknown_attribute() {
    let mut v = detection_finding();
    v["finding_info"]["score"] = json!(0.9);
    assert_eq!(
        one(&v),
        (
            "finding_info.score".into(),
            Rule::UnknownAttribute,
            "finding_info.score: attribute not defined here".into()
        )
    );
}

#[test]
fn enum_value_not_allowed_and_other_is() {
    let v = mutated(|o| {
        o.insert("severity_id".into(), json!(7));
    });
    assert_eq!(
        one(&v),
        (
            "severity_id".into(),
            Rule::EnumValue,
            "severity_id: value 7 not in enum [0,1,2,3,4,5,6,99]".into()
        )
    );
    let v = mutated(|o| {
        o.insert("severity_id".into(), json!(99));
    });
    assert_eq!(errors(&v), vec![]);
}

#[test]
fn array_where_scalar_belongs_and_back() {
    let mut v = detection_finding();
    v["evidences"][0]["email"]["subject"] = json!(["a", "b"]);
    assert_eq!(
        one(&v),
        (
            "evidences[0].email.subject".into(),
            Rule::TypeMismatch,
            "evidences[0].email.subject: expected string, got array".into()
        )
    );
    let mut v = detection_finding();
    v["evidences"][0]["email"]["to"] = json!("bob@example.org");
    assert_eq!(
        one(&v).2,
        "evidences[0].email.to: expected array, got string"
    );
}

#[test]
fn required_attributes_checked_inside_present_objects() {
    let mut v = detection_finding();
    if let Some(f) = v["evidences"][0]["email"]["files"][0].as_object_mut() {
        f.remove("type_id");
    }
    assert_eq!(
        one(&v).2,
        "evidences[0].email.files[0].type_id: required attribute missing"
    );
}

#[test]
fn unknown_class_and_non_objects() {
    let v = mutated(|o| {
        o.insert("class_uid".into(), json!(9999));
    });
    assert_eq!(one(&v).1, Rule::UnknownClass);
    assert_eq!(one(&json!([1, 2])).2, "(event): expected object, got array");
    assert_eq!(one(&json!({})).2, "class_uid: required attribute missing");
}

#[test]
fn profile_attributes_allowed_and_required_only_when_applied() {
    // `cloud` comes from the cloud profile, where it is required.
    let mut v = detection_finding();
    v["cloud"] = json!({"provider": "AWS", "region": "eu-west-1"});
    assert_eq!(errors(&v), vec![]);
    let mut v = detection_finding();
    v["metadata"]["profiles"] = json!(["cloud"]);
    assert_eq!(one(&v).2, "cloud: required attribute missing");
}

#[test]
fn deep_nesting_is_bounded_not_a_stack_overflow() {
    // process.parent_process.parent_process... 10 000 levels, built in code (no parser limit).
    let mut p = json!({"pid": 1});
    for _ in 0..10_000 {
        // Built by hand: `json!` would serialise `p` recursively.
        let mut m = serde_json::Map::new();
        m.insert("pid".into(), Value::from(1));
        m.insert("parent_process".into(), p);
        p = Value::Object(m);
    }
    let mut v = detection_finding();
    v["evidences"][0]["process"] = p;
    let e = errors(&v);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].rule, Rule::TooDeep);
    assert!(e[0]
        .path
        .starts_with("evidences[0].process.parent_process.parent_process"));
    // Dropping a 10 000-deep Value recurses in serde_json itself; leak it instead so the test
    // exercises the validator, not serde_json's Drop.
    std::mem::forget(v);
}

#[test]
fn ndjson_summary_counts_per_rule() {
    let good = detection_finding().to_string();
    let mut bad = detection_finding();
    bad["severity_id"] = json!("high");
    bad["extra"] = json!(1);
    let input = format!("{good}\n\n{}\nnot json\n{good}", bad);
    let s = validate_ndjson(input.as_bytes(), &SCHEMA);
    assert_eq!((s.lines, s.valid, s.invalid), (4, 2, 2));
    assert_eq!(
        s.errors_by_rule.into_iter().collect::<Vec<_>>(),
        vec![
            ("invalid_json", 1),
            ("type_mismatch", 1),
            ("unknown_attribute", 1)
        ]
    );
    assert_eq!(s.io_error, None);
}

#[test]
fn ndjson_overlong_line_is_skipped_and_the_stream_continues() {
    let good = detection_finding().to_string();
    let long = "x".repeat(usize::try_from(shrike_ocsf::MAX_LINE_BYTES).unwrap_or(0) + 10);
    let input = format!("{long}\n{good}\n{long}");
    let s = validate_ndjson(input.as_bytes(), &SCHEMA);
    assert_eq!((s.lines, s.valid, s.invalid), (3, 1, 2));
    assert_eq!(
        s.errors_by_rule.into_iter().collect::<Vec<_>>(),
        vec![("line_too_long", 2)]
    );
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        prop_oneof![
            Just("class_uid".to_owned()),
            Just("evidences".to_owned()),
            ".{0,8}".prop_map(String::from)
        ]
        .prop_map(Value::from),
        prop_oneof![Just(2004_i64), Just(4009), Just(0), Just(200401)].prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("class_uid".to_owned()),
                        Just("activity_id".to_owned()),
                        Just("type_uid".to_owned()),
                        Just("evidences".to_owned()),
                        Just("email".to_owned()),
                        Just("metadata".to_owned()),
                        Just("profiles".to_owned()),
                        "[a-z_]{1,10}".prop_map(String::from)
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn validator_never_panics(v in arb_json()) {
        let errs = SCHEMA.validate(&v);
        // Every error names a rule and renders.
        for e in &errs {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn mutating_a_valid_finding_never_panics(key in "[a-z_]{1,12}", val in arb_json()) {
        let mut v = detection_finding();
        v[key.as_str()] = val;
        let _ = SCHEMA.validate(&v);
    }
}

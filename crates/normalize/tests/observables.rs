//! `observables()` on hand-written OCSF events: expected lists, schema validity, no panics.

mod entities_fixtures;

use std::collections::BTreeSet;

use entities_fixtures as fx;
use proptest::prelude::*;
use serde_json::{json, Value};
use shrike_normalize::observables::{
    observables, ObservableIndex, EMITTED_TYPE_IDS, MAX_OBSERVABLES,
};
use shrike_ocsf::Schema;

fn allowed_type_ids() -> BTreeSet<u64> {
    let schema = Schema::embedded();
    schema
        .table()
        .objects
        .get("observable")
        .and_then(|o| o.enums.get("type_id"))
        .map(|ids| ids.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

/// `(name, type_id, value)`, sorted: the output follows the event's key order, which depends on
/// serde_json's `preserve_order` feature; the tests should not.
fn triples(ev: &Value) -> Vec<(String, u64, String)> {
    let mut v: Vec<_> = observables(ev, ObservableIndex::embedded())
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap_or("?").to_owned(),
                o["type_id"].as_u64().unwrap_or(0),
                o["value"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<(String, u64, String)>) -> Vec<(String, u64, String)> {
    v.sort();
    v
}

fn t(name: &str, type_id: u64, value: &str) -> (String, u64, String) {
    (name.to_owned(), type_id, value.to_owned())
}

#[test]
fn every_emittable_type_id_is_in_the_schema_enum() {
    let allowed = allowed_type_ids();
    assert!(allowed.len() > 40, "enum read from the table: {allowed:?}");
    for id in EMITTED_TYPE_IDS {
        assert!(allowed.contains(&u64::from(*id)), "type_id {id}");
    }
    assert!(
        !EMITTED_TYPE_IDS.contains(&11),
        "ports are left out on purpose"
    );
}

#[test]
fn fixtures_and_their_observables_validate() {
    let schema = Schema::embedded();
    let allowed = allowed_type_ids();
    for (label, mut ev) in fx::valid_events() {
        assert_eq!(schema.validate(&ev), vec![], "{label} as written");
        let obs = observables(&ev, ObservableIndex::embedded());
        assert!(!obs.is_empty(), "{label} has observables");
        for o in &obs {
            let id = o["type_id"].as_u64().unwrap_or(u64::MAX);
            assert!(allowed.contains(&id), "{label}: {o}");
            assert!(
                EMITTED_TYPE_IDS.iter().any(|x| u64::from(*x) == id),
                "{label}: {o}"
            );
        }
        if let Value::Object(m) = &mut ev {
            m.insert("observables".into(), Value::Array(obs));
        }
        assert_eq!(schema.validate(&ev), vec![], "{label} with observables");
    }
}

#[test]
fn registry_value_activity_validates_and_gives_registry_observables() {
    // Registry Key/Value Activity (201001/201002) come from the Windows extension, which the
    // compiled table carries.
    let ev = fx::registry_value_activity();
    assert_eq!(Schema::embedded().validate(&ev), vec![]);
    assert_eq!(
        triples(&ev),
        sorted(vec![
            t("actor.process.name", 9, "reg.exe"),
            t("actor.process.uid", 39, "{AAAA}"),
            t("device.hostname", 1, "WORKSTATION5"),
            t("reg_value.name", 43, "evil"),
            t(
                "reg_value.path",
                46,
                "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\evil"
            ),
        ])
    );
}

#[test]
fn process_activity() {
    let sid = "S-1-5-21-1111111111-2222222222-3333333333-1104";
    let parent = "{A1B2C3D4-0000-1111-2222-333344445555}";
    let child = "{A1B2C3D4-0000-1111-2222-666677778888}";
    assert_eq!(
        triples(&fx::process_activity()),
        sorted(vec![
            t("actor.process.name", 9, "cmd.exe"),
            t("actor.process.uid", 39, parent),
            t("actor.process.cmd_line", 13, "cmd.exe /c whoami"),
            t("actor.process.user.name", 4, "THESHIRE\\pgustavo"),
            t("process.name", 9, "powershell.exe"),
            t("process.uid", 39, child),
            t("process.cmd_line", 13, "powershell.exe -enc SQBFAFgA"),
            t("process.file.name", 7, "powershell.exe"),
            t(
                "process.file.path",
                45,
                "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
            ),
            t(
                "process.file.hashes.value",
                8,
                "9f914d42706fe215501044acd85a32d58aaef1419d404fddfa5d3b48f66ccd9f"
            ),
            t("process.user.name", 4, "pgustavo"),
            t("process.user.uid", 31, sid),
            t("process.parent_process.name", 9, "cmd.exe"),
            t("process.parent_process.uid", 39, parent),
            t("device.hostname", 1, "WORKSTATION5.theshire.local"),
            t("device.ip", 2, "10.0.1.15"),
        ])
    );
}

#[test]
fn authentication_skips_ports_and_placeholders() {
    assert_eq!(
        triples(&fx::authentication_noise()),
        sorted(vec![
            t("actor.user.name", 4, "SYSTEM"),
            t("user.name", 4, "ANONYMOUS LOGON"),
            t("src_endpoint.ip", 2, "127.0.0.1"),
            t("dst_endpoint.ip", 2, "0.0.0.0"),
        ])
    );
    let got = triples(&fx::authentication());
    assert!(got.iter().all(|(n, _, _)| !n.ends_with("port")), "{got:?}");
    assert!(got.contains(&t("src_endpoint.ip", 2, "::ffff:10.0.1.15")));
    assert!(got.contains(&t("logon_process.name", 9, "NtLmSsp")));
}

#[test]
fn dns_answers_by_content() {
    assert_eq!(
        triples(&fx::dns_activity()),
        sorted(vec![
            t("query.hostname", 1, "evil.example.com"),
            t("answers.rdata", 1, "edge.example.net."),
            t("answers.rdata", 2, "93.184.216.34"),
            t("src_endpoint.ip", 2, "10.0.1.15"),
            t("dst_endpoint.ip", 2, "10.0.0.2"),
        ])
    );
}

#[test]
fn http_and_network() {
    assert_eq!(
        triples(&fx::http_activity()),
        sorted(vec![
            t(
                "http_request.url.url_string",
                6,
                "http://evil.example.com/payload.ps1"
            ),
            t("http_request.url.hostname", 1, "evil.example.com"),
            t(
                "http_request.user_agent",
                16,
                "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1"
            ),
            t("src_endpoint.ip", 2, "10.0.1.15"),
            t("dst_endpoint.ip", 2, "93.184.216.34"),
        ])
    );
    assert_eq!(
        triples(&fx::network_activity()),
        sorted(vec![
            t("src_endpoint.ip", 2, "10.0.1.15"),
            t("src_endpoint.mac", 3, "00:11:22:33:44:55"),
            t("dst_endpoint.ip", 2, "2001:0DB8::0001"),
            t("dst_endpoint.hostname", 1, "cdn.example.net"),
        ])
    );
}

#[test]
fn api_activity_skips_metadata() {
    assert_eq!(
        triples(&fx::api_activity()),
        sorted(vec![
            t(
                "actor.user.uid",
                31,
                "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/Alice@Example.com"
            ),
            t("actor.user.credential_uid", 19, "ASIAEXAMPLEKEY"),
            t("actor.user.account.uid", 35, "123456789012"),
            t("src_endpoint.ip", 2, "198.51.100.7"),
            t("http_request.user_agent", 16, "aws-cli/2.15.0"),
            t("resources.uid", 10, "arn:aws:s3:::finance-reports"),
            t("cloud.account.uid", 35, "123456789012"),
        ])
    );
}

#[test]
fn email_activity() {
    assert_eq!(
        triples(&fx::email_activity()),
        sorted(vec![
            t("email.from", 5, "Payroll <payroll@evil.example>"),
            t("email.to", 5, "Bob@Corp.Example.com"),
            t("email.to", 5, "alice@corp.example.com"),
            t("email.cc", 5, "carol@corp.example.com"),
            t("email.reply_to", 5, "collect@evil2.example"),
            t("email.smtp_from", 5, "bounce@evil.example"),
            t("email.smtp_to", 5, "bob@corp.example.com"),
            t("email.subject", 40, "Your payslip"),
            t("email.message_uid", 42, "<1234@evil.example>"),
            t("email.uid", 41, "msg-0001"),
            t("email.x_originating_ip", 2, "203.0.113.9"),
            t("email.urls.url_string", 6, "https://evil.example/login"),
            t("email.files.name", 7, "payslip.html"),
            t("email.files.hashes.value", 8, "aa"),
        ])
    );
}

#[test]
fn detection_finding_walks_resources_and_evidences() {
    let got = triples(&fx::detection_finding());
    for want in [
        t(
            "resources.uid",
            10,
            "arn:aws:iam::123456789012:user/path/Bob",
        ),
        t("resources.name", 38, "Bob"),
        t("resources.hostname", 1, "web01.corp.example.com"),
        t("resources.ip", 2, "10.2.3.4"),
        t("evidences.process.name", 9, "curl"),
        t("evidences.device.hostname", 1, "web01"),
        t("evidences.email.to", 5, "bob@corp.example.com"),
        t("evidences.actor.user.email_addr", 5, "Bob@Corp.Example.com"),
    ] {
        assert!(got.contains(&want), "{want:?} in {got:?}");
    }
    assert_eq!(got.len(), 12, "{got:?}");
}

#[test]
fn endpoint_classes() {
    assert_eq!(
        triples(&fx::scheduled_job_activity()),
        sorted(vec![
            t("actor.user.name", 4, "pgustavo"),
            t("device.hostname", 1, "WORKSTATION5"),
            t("job.cmd_line", 13, "C:\\Temp\\evil.exe"),
            t("job.user.name", 4, "LOCAL SERVICE"),
        ])
    );
    assert_eq!(
        triples(&fx::module_activity()),
        sorted(vec![
            t("actor.process.name", 9, "rundll32.exe"),
            t("module.file.name", 7, "evil.dll"),
            t("module.file.path", 45, "C:\\Temp\\evil.dll"),
        ])
    );
}

#[test]
fn skipped_branches_and_dedup() {
    let ev = json!({
        "class_uid": 4001,
        "src_endpoint": {"ip": "10.0.0.1"},
        "unmapped": {"src_endpoint": {"ip": "10.9.9.9"}},
        "metadata": {"product": {"url_string": "https://vendor.example"}},
        "observables": [{"name": "x", "type_id": 2, "value": "10.8.8.8"}],
        "raw_data": "10.7.7.7",
        "enrichments": [{"name": "ip", "value": "10.6.6.6", "data": {}}],
    });
    assert_eq!(
        triples(&ev),
        sorted(vec![t("src_endpoint.ip", 2, "10.0.0.1")])
    );
    // Same (name, type_id, value) once; same value under another name kept.
    let ev = json!({
        "class_uid": 4009,
        "direction_id": 1,
        "email": {"to": ["a@b.c", "a@b.c"], "cc": ["a@b.c"]},
    });
    assert_eq!(
        triples(&ev),
        sorted(vec![t("email.to", 5, "a@b.c"), t("email.cc", 5, "a@b.c")])
    );
}

#[test]
fn cap_holds_and_output_validates() {
    let to: Vec<Value> = (0..600)
        .map(|i| json!(format!("u{i}@example.com")))
        .collect();
    let mut ev = fx::event(4009, 2, json!({"direction_id": 1, "email": {"to": to}}));
    let obs = observables(&ev, ObservableIndex::embedded());
    assert_eq!(obs.len(), MAX_OBSERVABLES);
    if let Value::Object(m) = &mut ev {
        m.insert("observables".into(), Value::Array(obs));
    }
    assert_eq!(Schema::embedded().validate(&ev), vec![]);
}

#[test]
fn deep_nesting_is_bounded() {
    // `process.parent_process` recursion far beyond any real event.
    let mut p = json!({"name": "leaf.exe"});
    for _ in 0..500 {
        p = json!({"parent_process": p});
    }
    let ev = json!({"class_uid": 1007, "process": p});
    assert_eq!(triples(&ev), vec![]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics_and_stays_valid(ev in fx::arb_event()) {
        let allowed = allowed_type_ids();
        let obs = observables(&ev, ObservableIndex::embedded());
        prop_assert!(obs.len() <= MAX_OBSERVABLES);
        let mut seen = BTreeSet::new();
        for o in &obs {
            let id = o["type_id"].as_u64().unwrap_or(u64::MAX);
            prop_assert!(allowed.contains(&id));
            prop_assert!(o["name"].as_str().is_some_and(|n| !n.is_empty()));
            prop_assert!(o["value"].as_str().is_some_and(|v| !v.trim().is_empty()));
            prop_assert!(seen.insert(o.to_string()), "duplicate {}", o);
        }
        // The observables themselves validate as a Base Event's `observables`.
        let wrapped = fx::event(0, 0, json!({"observables": obs}));
        prop_assert_eq!(Schema::embedded().validate(&wrapped), vec![]);
    }
}

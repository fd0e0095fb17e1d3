use serde_json::{json, Value};
use shrike_types::RecordOrigin;

use super::*;

fn engine(files: &[(&str, &str)]) -> Result<Engine, MappingError> {
    Engine::from_files(
        files
            .iter()
            .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
            .collect(),
    )
}

fn rec(source: Source, v: Value) -> RawRecord {
    let raw = v.to_string().into_bytes();
    RawRecord {
        source,
        fields: v.as_object().cloned().unwrap_or_default(),
        raw,
        origin: RecordOrigin {
            path: "test.json".into(),
            index: Some(0),
            ..RecordOrigin::default()
        },
    }
}

const BASE: &str = "source: windows\nproduct: {name: Windows, vendor_name: Microsoft}\nset:\n  time: {from: TimeCreated, fn: time}\n  device.hostname: {from: Computer}\n  device.type_id: 0\n";

const LOGON: &str = "id: logon\nextends: _base.yaml\nwhen: {Channel: Security, EventID: 4624}\nclass_uid: 3002\nactivity_id: 1\nset:\n  user.name: {from: TargetUserName}\n  src_endpoint.ip: {from: IpAddress, fn: ip}\n  logon_type_id: {from: LogonType, as: int}\n";

const LOGON_NET: &str = "id: logon_network\nextends: _base.yaml\nwhen: {Channel: Security, EventID: 4624, LogonType: [3, 10]}\nclass_uid: 3002\nactivity_id: 1\nset:\n  user.name: {from: TargetUserName}\n  is_remote: true\n";

const CATCH_ALL: &str = "id: other\nextends: _base.yaml\nclass_uid: 1008\nactivity_id: 99\nset:\n  message: {template: 'event {EventID} in {Channel}'}\n";

fn logon(extra: Value) -> RawRecord {
    let mut v = json!({"Channel": "security", "EventID": 4624, "Computer": "WS01.corp.example", "TimeCreated": "2023-05-04T10:11:12.345Z",
        "TargetUserName": "alice", "IpAddress": "::ffff:192.0.2.10", "LogonType": "2"});
    if let (Value::Object(m), Value::Object(x)) = (&mut v, extra) {
        m.extend(x);
    }
    rec(Source::Windows, v)
}

#[test]
fn most_specific_mapping_wins_and_catch_all_takes_the_rest(
) -> Result<(), Box<dyn std::error::Error>> {
    let e = engine(&[
        ("ms/_base.yaml", BASE),
        ("ms/logon.yaml", LOGON),
        ("ms/net.yaml", LOGON_NET),
        ("ms/other.yaml", CATCH_ALL),
    ])?;
    assert_eq!(e.normalize(logon(json!({})))?.mapping, "logon");
    let net = e.normalize(logon(json!({"LogonType": 3})))?;
    assert_eq!(net.mapping, "logon_network");
    assert_eq!(net.event["is_remote"], json!(true));
    let other = e.normalize(logon(json!({"EventID": 4625})))?;
    assert_eq!(other.mapping, "other");
    assert_eq!(other.event["message"], json!("event 4625 in security"));
    assert_eq!(other.event["type_uid"], json!(100899));
    Ok(())
}

#[test]
fn event_shape_metadata_and_unmapped() -> Result<(), Box<dyn std::error::Error>> {
    let e = engine(&[("ms/_base.yaml", BASE), ("ms/logon.yaml", LOGON)])?;
    let r = logon(json!({"Extra": {"a": 1, "b": 2}, "LogonType": "not a number"}));
    let n = e.normalize(r)?;
    let ev = &n.event;
    assert_eq!(ev["class_uid"], json!(3002));
    assert_eq!(ev["category_uid"], json!(3));
    assert_eq!(ev["type_uid"], json!(300201));
    assert_eq!(ev["severity_id"], json!(1));
    assert_eq!(ev["time"], json!(1_683_195_072_345i64));
    assert_eq!(ev["src_endpoint"]["ip"], json!("192.0.2.10"));
    assert_eq!(ev["metadata"]["version"], json!("1.8.0"));
    assert_eq!(ev["metadata"]["product"]["vendor_name"], json!("Microsoft"));
    assert_eq!(ev["metadata"]["uid"].as_str().map(str::len), Some(32));
    // Used fields and `when` fields are gone; the unconvertible LogonType and unknown fields stay.
    assert_eq!(
        ev["unmapped"],
        json!({"Extra": {"a": 1, "b": 2}, "LogonType": "not a number"})
    );
    assert!(ev.get("logon_type_id").is_none());
    Ok(())
}

#[test]
fn nested_fields_are_pruned_from_unmapped() -> Result<(), Box<dyn std::error::Error>> {
    let m = "id: api\nsource: cloudtrail\nproduct: {name: CloudTrail, vendor_name: AWS}\nclass_uid: 6003\nactivity_id: 99\nset:\n  time: {from: eventTime, fn: time}\n  api.operation: {from: eventName}\n  actor.user.uid: {from: userIdentity.arn}\n  src_endpoint.ip: {from: sourceIPAddress, fn: ip}\n";
    let e = engine(&[("aws/api.yaml", m)])?;
    let r = rec(
        Source::Cloudtrail,
        json!({"eventTime": "2019-01-01T00:00:00Z", "eventName": "ListBuckets", "sourceIPAddress": "203.0.113.9",
        "userIdentity": {"arn": "arn:aws:iam::123456789012:user/alice", "type": "IAMUser"}, "requestParameters": null}),
    );
    let n = e.normalize(r)?;
    assert_eq!(
        n.event["actor"]["user"]["uid"],
        json!("arn:aws:iam::123456789012:user/alice")
    );
    assert_eq!(
        n.event["unmapped"],
        json!({"userIdentity": {"type": "IAMUser"}, "requestParameters": null})
    );
    Ok(())
}

#[test]
fn literals_inside_objects_never_create_the_object() -> Result<(), Box<dyn std::error::Error>> {
    let m = "id: p\nextends: _base.yaml\nwhen: {EventID: 1}\nclass_uid: 1007\nactivity_id: 1\nset:\n  process.file.name: {from: Image, fn: basename}\n  process.file.type_id: 1\n  actor.process.file.name: {from: ParentImage, fn: basename}\n  actor.process.file.type_id: 1\n";
    let mut e = engine(&[("ms/_base.yaml", BASE), ("ms/p.yaml", m)])?;
    // Process Activity requires an actor; this test is about object creation, not validity.
    e.set_validate(false);
    let n = e.normalize(rec(Source::Windows, json!({"EventID": 1, "Computer": "ws01", "TimeCreated": "2023-05-04 10:11:12", "Image": "C:\\x\\a.exe", "ParentImage": "-"})))?;
    assert_eq!(
        n.event["process"]["file"],
        json!({"name": "a.exe", "type_id": 1})
    );
    assert!(n.event.get("actor").is_none() || n.event["actor"].get("process").is_none());
    Ok(())
}

#[test]
fn each_and_element_build_arrays() -> Result<(), Box<dyn std::error::Error>> {
    let m = "id: dns\nsource: zeek\nproduct: {name: Zeek, vendor_name: Zeek}\nwhen: {_path: dns}\nclass_uid: 4003\nactivity_id: 2\nset:\n  time: {from: ts, fn: time}\n  query.hostname: {from: query}\n  answers: {each: answers, set: {rdata: {from: $}}}\n";
    let e = engine(&[("zeek/dns.yaml", m)])?;
    let n = e.normalize(rec(Source::Zeek, json!({"_path": "dns", "ts": 1521911720.5, "query": "example.com", "answers": ["192.0.2.1", "203.0.113.5"]})))?;
    assert_eq!(
        n.event["answers"],
        json!([{"rdata": "192.0.2.1"}, {"rdata": "203.0.113.5"}])
    );
    assert_eq!(n.event["time"], json!(1_521_911_720_500i64));
    assert!(n.event.get("unmapped").is_none());
    Ok(())
}

#[test]
fn keep_leaves_a_used_field_in_unmapped() -> Result<(), Box<dyn std::error::Error>> {
    let m = "id: task\nextends: _base.yaml\nwhen: {EventID: 4698}\nclass_uid: 1006\nactivity_id: 1\nkeep: [TaskContent]\nset:\n  job.name: {from: TaskName}\n  job.cmd_line: {from: TaskContent, fn: {xml_text: Command}}\n";
    let mut e = engine(&[("ms/_base.yaml", BASE), ("ms/task.yaml", m)])?;
    e.set_validate(false);
    let xml = "<Task><Actions><Exec><Command>c:\\x.exe</Command></Exec></Actions></Task>";
    let n = e.normalize(rec(Source::Windows, json!({"EventID": 4698, "Computer": "ws01", "TimeCreated": "2023-05-04 10:11:12", "TaskName": "\\t", "TaskContent": xml})))?;
    assert_eq!(n.event["job"]["cmd_line"], json!("c:\\x.exe"));
    assert_eq!(n.event["unmapped"], json!({"TaskContent": xml}));
    Ok(())
}

#[test]
fn each_dollar_builds_one_object_from_the_record() -> Result<(), Box<dyn std::error::Error>> {
    let m = "id: alert\nsource: suricata\nproduct: {name: Suricata, vendor_name: OISF}\nwhen: {event_type: alert}\nclass_uid: 2004\nactivity_id: 1\nset:\n  time: {from: timestamp, fn: time}\n  finding_info.uid: {from: flow_id, as: string}\n  finding_info.title: {from: alert.signature}\n  evidences: {each: $, set: {src_endpoint.ip: {from: src_ip, fn: ip}, dst_endpoint.port: {from: dest_port, as: int}}}\n";
    let e = engine(&[("s/alert.yaml", m)])?;
    let n = e.normalize(rec(Source::Suricata, json!({"event_type": "alert", "timestamp": "2022-03-21T10:00:00Z", "flow_id": 7, "src_ip": "192.0.2.1", "dest_port": 443, "proto": "TCP", "alert": {"signature": "ET X"}})))?;
    assert_eq!(
        n.event["evidences"],
        json!([{"src_endpoint": {"ip": "192.0.2.1"}, "dst_endpoint": {"port": 443}}])
    );
    assert_eq!(n.event["unmapped"], json!({"proto": "TCP"}));
    Ok(())
}

#[test]
fn records_that_cannot_become_valid_events_are_rejected_with_reasons(
) -> Result<(), Box<dyn std::error::Error>> {
    let e = engine(&[("ms/_base.yaml", BASE), ("ms/logon.yaml", LOGON)])?;
    let no_time = e
        .normalize(logon(json!({"TimeCreated": "yesterday"})))
        .err()
        .ok_or("accepted")?;
    assert_eq!(no_time.reason, "missing_time");
    assert!(no_time.detail.contains("test.json#0"), "{}", no_time.detail);
    assert!(!no_time.raw.is_empty());
    let none = e
        .normalize(rec(Source::Suricata, json!({"event_type": "stats"})))
        .err()
        .ok_or("accepted")?;
    assert_eq!(none.reason, "no_mapping");
    assert!(none.detail.contains("event_type=stats"), "{}", none.detail);
    let other = e
        .normalize(logon(json!({"EventID": 4634})))
        .err()
        .ok_or("accepted")?;
    assert_eq!(other.reason, "no_mapping");
    // An enum value outside the schema: the event is invalid and never emitted.
    let bad = "id: bad\nextends: _base.yaml\nwhen: {EventID: 1}\nclass_uid: 1007\nactivity_id: 42\nset:\n  process.pid: {from: Pid, as: int}\n";
    let e = engine(&[("ms/_base.yaml", BASE), ("ms/bad.yaml", bad)])?;
    let r = e.normalize(rec(
        Source::Windows,
        json!({"EventID": 1, "Computer": "ws01", "TimeCreated": "2023-05-04 10:11:12", "Pid": 4}),
    ));
    let r = r.err().ok_or("accepted")?;
    assert_eq!(r.reason, "ocsf_invalid");
    assert!(r.detail.contains("activity_id"), "{}", r.detail);
    let q = r.into_quarantined(8);
    assert_eq!(q.stage, "normalize");
    assert!(q.raw_truncated);
    Ok(())
}

#[test]
fn bad_mappings_are_load_errors_that_name_the_file_and_attribute() {
    let cases: &[(&str, &str)] = &[
        ("id: a\nextends: _base.yaml\nclass_uid: 1007\nset:\n  process.pid: {form: Pid}\n", "unknown key \"form\""),
        ("id: a\nextends: _base.yaml\nclass_uid: 1007\nset:\n  process.pid: {from: Pid, fn: bogus}\n", "unknown fn"),
        ("id: a\nextends: _base.yaml\nclass_uid: 424242\nset: {}\n", "not a class"),
        ("id: a\nsource: windows\nproduct: {name: X}\nclass_uid: 1007\nset:\n  process.pid: 1\n", "needs time"),
        ("id: a\nextends: _base.yaml\nclass_uid: 1007\nset:\n  type_uid: 5\n", "set by the engine"),
        ("id: a\nextends: _base.yaml\nclass_uid: 1007\nset:\n  process: {from: P}\n  process.pid: {from: Pid}\n", "inside it"),
        ("id: a\nextends: nope.yaml\nclass_uid: 1007\nset: {}\n", "not found"),
        ("id: a\nextends: _base.yaml\nclass_uid: 1007\nbogus: 1\nset: {}\n", "unknown key \"bogus\""),
        ("id: [\n", "YAML"),
    ];
    for (text, want) in cases {
        let err = engine(&[("ms/_base.yaml", BASE), ("ms/m.yaml", text)]).err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.contains(want) && msg.contains("ms/m.yaml"),
            "{want:?} not in {msg:?}"
        );
    }
    let dup = engine(&[
        ("ms/_base.yaml", BASE),
        ("ms/a.yaml", LOGON),
        ("ms/b.yaml", &LOGON.replace("id: logon", "id: logon2")),
    ]);
    assert!(dup
        .err()
        .is_some_and(|e| e.message.contains("same records")));
}

proptest::proptest! {
    #[test]
    fn arbitrary_records_never_panic(keys in proptest::collection::vec("[A-Za-z]{1,8}", 0..6), vals in proptest::collection::vec(".{0,12}", 0..6), n in 0i64..5000) {
        let e = engine(&[("ms/_base.yaml", BASE), ("ms/logon.yaml", LOGON), ("ms/other.yaml", CATCH_ALL)]).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
        let mut m = serde_json::Map::new();
        m.insert("EventID".into(), json!(n));
        m.insert("Channel".into(), json!("Security"));
        for (k, v) in keys.iter().zip(vals.iter()) {
            m.insert(k.clone(), json!(v));
        }
        let _ = e.normalize(rec(Source::Windows, Value::Object(m)));
    }
}

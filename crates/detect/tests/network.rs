//! The network model: flow features on a synthetic stream (hand-computed values), Suricata
//! category mapping, hostile events, and the bundled model on real normalized events.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use shrike_detect::models::network::{
    flow_schema, Conn, FlowFeatures, NetworkModel, FLAGS, HOST_WINDOW, N_FEATURES, SERVICES,
    TRIAGE_MODEL_ID,
};
use shrike_detect::models::DomainModel;
use shrike_detect::vendor::suricata::{self, CategoryTable};
use shrike_detect::{Hit, Origin};

fn conn(t: i64, src: &str, sport: u16, dst: &str, dport: u16, state: &str) -> Value {
    json!({
        "class_uid": 4001,
        "metadata": {"log_name": "conn", "product": {"name": "Zeek"}},
        "start_time": t, "time": t,
        "src_endpoint": {"ip": src, "port": sport},
        "dst_endpoint": {"ip": dst, "port": dport},
        "connection_info": {"protocol_name": "tcp", "protocol_num": 6},
        "status_code": state,
        "duration": 1500,
        "traffic": {"bytes_out": 10, "bytes_in": 0}
    })
}

fn idx(name: &str) -> usize {
    flow_schema().index_of(name).expect(name)
}

fn features(stream: &[Value]) -> Vec<f32> {
    let mut f = FlowFeatures::new();
    let mut x = Vec::new();
    for e in stream {
        let c = Conn::from_event(e).expect("a connection");
        f.observe(&c, &mut x);
    }
    x
}

#[test]
fn traffic_features_match_hand_computed_values() {
    // 1..4 build the history; 5 is scored. 2-second window at t=3000: events 3 (t=1000, on the
    // edge), 4 and 5. Host window: all five.
    let stream = [
        conn(0, "10.0.0.1", 1000, "10.0.0.9", 80, "SF"),
        conn(500, "10.0.0.1", 1001, "10.0.0.9", 80, "S0"),
        conn(1000, "10.0.0.2", 2000, "10.0.0.9", 23, "REJ"),
        conn(1500, "10.0.0.1", 1002, "10.0.0.8", 80, "SF"),
        conn(3000, "10.0.0.1", 1000, "10.0.0.9", 80, "S0"),
    ];
    let x = features(&stream);
    assert_eq!(x.len(), N_FEATURES);
    let expect = [
        ("duration", 1.0),
        ("protocol_type", 0.0),
        (
            "service",
            SERVICES.iter().position(|s| *s == "http").expect("http") as f32,
        ),
        (
            "flag",
            FLAGS.iter().position(|s| *s == "S0").expect("S0") as f32,
        ),
        ("src_bytes", 10.0),
        ("dst_bytes", 0.0),
        ("land", 0.0),
        // Same host in the past 2 s: events 3 (REJ, telnet) and 5 (S0, http).
        ("count", 2.0),
        // Same service (http) in the past 2 s: events 4 (host .8) and 5.
        ("srv_count", 2.0),
        ("serror_rate", 0.5),
        ("srv_serror_rate", 0.5),
        ("rerror_rate", 0.5),
        ("srv_rerror_rate", 0.0),
        ("same_srv_rate", 0.5),
        ("diff_srv_rate", 0.5),
        ("srv_diff_host_rate", 0.5),
        // Host window: host .9 = events 1, 2, 3, 5; http = events 1, 2, 4, 5.
        ("dst_host_count", 4.0),
        ("dst_host_srv_count", 4.0),
        ("dst_host_same_srv_rate", 0.75),
        ("dst_host_diff_srv_rate", 0.25),
        // Source port 1000: events 1 and 5.
        ("dst_host_same_src_port_rate", 0.5),
        ("dst_host_srv_diff_host_rate", 0.25),
        ("dst_host_serror_rate", 0.5),
        ("dst_host_srv_serror_rate", 0.5),
        ("dst_host_rerror_rate", 0.25),
        ("dst_host_srv_rerror_rate", 0.0),
    ];
    for (name, want) in expect {
        assert_eq!(x[idx(name)], want, "{name}");
    }
}

#[test]
fn windows_are_bounded_and_evict() {
    let mut stream = Vec::new();
    for i in 0..300 {
        stream.push(conn(
            i * 10,
            "10.0.0.1",
            40000 + i as u16,
            "10.0.0.5",
            22,
            "S0",
        ));
    }
    let x = features(&stream);
    assert_eq!(x[idx("dst_host_count")], HOST_WINDOW as f32);
    assert_eq!(x[idx("dst_host_serror_rate")], 1.0);
    // 2-second window at t=2990: t in [990, 2990] = 201 connections.
    assert_eq!(x[idx("count")], 201.0);
    // Ten seconds later, the time window holds only the new connection.
    stream.push(conn(12_990, "10.0.0.1", 1, "10.0.0.6", 22, "SF"));
    let x = features(&stream);
    assert_eq!(x[idx("count")], 1.0);
    assert_eq!(x[idx("srv_count")], 1.0);
    assert_eq!(x[idx("dst_host_count")], 1.0);
    assert_eq!(x[idx("dst_host_srv_count")], HOST_WINDOW as f32);
    assert_eq!(x[idx("serror_rate")], 0.0);
}

#[test]
fn suricata_flow_flags_and_services() {
    let ev = json!({
        "class_uid": 4001, "metadata": {"log_name": "flow", "product": {"name": "Suricata"}},
        "start_time": 1000, "end_time": 4500,
        "src_endpoint": {"ip": "10.0.0.1", "port": 5555},
        "dst_endpoint": {"ip": "10.0.0.2", "port": 443},
        "connection_info": {"protocol_name": "tcp"},
        "traffic": {"bytes_out": 100, "bytes_in": 2000},
        "unmapped": {"tcp": {"tcp_flags_ts": "02", "tcp_flags_tc": "14"}}
    });
    let c = Conn::from_event(&ev).expect("flow");
    assert_eq!(c.flag.map(|f| FLAGS[f as usize]), Some("REJ"));
    assert_eq!(SERVICES[c.service as usize], "http_443");
    assert_eq!(c.duration_ms, Some(3500.0));
    // A Suricata TLS record is also 4001 but not a connection record.
    let mut tls = ev.clone();
    tls["metadata"]["log_name"] = json!("tls");
    assert!(Conn::from_event(&tls).is_none());
}

fn alert(category: &str, attacks: Option<Value>) -> Value {
    let mut e = json!({
        "class_uid": 2004, "severity_id": 4,
        "metadata": {"log_name": "alert", "product": {"name": "Suricata"}},
        "finding_info": {"title": "ET TEST sig", "analytic": {"uid": "2000001", "name": "ET TEST sig", "category": category}},
        "evidences": [{"src_endpoint": {"ip": "10.0.0.1"}, "dst_endpoint": {"ip": "192.0.2.1"}}]
    });
    if let Some(a) = attacks {
        e["finding_info"]["attacks"] = a;
    }
    e
}

fn hit_of(e: &Value) -> Option<Hit> {
    let mut out = Vec::new();
    suricata::hits(e, &mut out);
    assert!(out.len() <= 1);
    out.pop()
}

#[test]
fn suricata_categories_map_to_attack_where_sound() {
    let cases: [(&str, &[&str], &[&str]); 8] = [
        ("Detection of a Network Scan", &["T1046"], &["discovery"]),
        (
            "A Network Trojan was detected",
            &["T1071"],
            &["command-and-control"],
        ),
        (
            "Malware Command and Control Activity Detected",
            &["T1071"],
            &["command-and-control"],
        ),
        ("Web Application Attack", &["T1190"], &["initial-access"]),
        ("Attempted Denial of Service", &[], &["impact"]),
        ("Potentially Bad Traffic", &[], &[]),
        ("Misc activity", &[], &[]),
        ("Not Suspicious Traffic", &[], &[]),
    ];
    for (cat, tech, tac) in cases {
        let h = hit_of(&alert(cat, None)).expect(cat);
        assert_eq!(h.techniques, tech, "{cat}");
        assert_eq!(h.tactics, tac, "{cat}");
        assert_eq!(h.severity_id, 4);
        assert_eq!(h.title, "ET TEST sig");
        assert_eq!(
            h.origin,
            Origin::Vendor {
                product: "Suricata".into(),
                rule: "2000001 ET TEST sig".into(),
                category: cat.into()
            }
        );
    }
    // Unknown category: a hit, no labels.
    let h = hit_of(&alert("Something New", None)).expect("hit");
    assert!(h.techniques.is_empty() && h.tactics.is_empty());
    assert!(CategoryTable::embedded().get("network-scan").is_some());
}

#[test]
fn rule_metadata_wins_over_the_category() {
    let attacks = json!([{"technique": {"uid": "T1071"}, "sub_technique": {"uid": "T1071.001", "name": "Web Protocols"}, "tactic": {"uid": "TA0011", "name": "Command And Control"}}]);
    let h = hit_of(&alert("Misc activity", Some(attacks))).expect("hit");
    assert_eq!(h.techniques, ["T1071.001"]);
    assert_eq!(h.tactics, ["command-and-control"]);
    // Ids that are not in the ATT&CK table are dropped, and the category is used instead.
    let bogus = json!([{"technique": {"uid": "T9999"}, "tactic": {"name": "Nonsense"}}]);
    let h = hit_of(&alert("Detection of a Network Scan", Some(bogus))).expect("hit");
    assert_eq!(h.techniques, ["T1046"]);
}

fn model() -> Option<NetworkModel> {
    match NetworkModel::embedded() {
        Ok(m) => Some(m),
        Err(e) => panic!("the bundled network model must load: {e}"),
    }
}

#[test]
fn hostile_events_give_none() {
    let Some(mut m) = model() else { return };
    let good = conn(0, "10.0.0.1", 1, "10.0.0.2", 80, "SF");
    let mut hostile = vec![
        json!(null),
        json!([]),
        json!({}),
        json!({"class_uid": "4001"}),
        json!({"class_uid": 4001}),
        json!({"class_uid": 2004}),
        json!({"class_uid": 2004, "metadata": {"product": {"name": "Suricata"}}}),
        json!({"class_uid": 2004, "metadata": {"product": {"name": "Suricata"}}, "finding_info": {"analytic": {"name": 5}}}),
        json!({"class_uid": 1007, "metadata": {"log_name": "conn"}}),
    ];
    for (ptr, bad) in [
        ("/src_endpoint/ip", json!(7)),
        ("/start_time", json!("yesterday")),
        ("/metadata/log_name", json!(["conn"])),
        ("/class_uid", json!(4001.5)),
    ] {
        let mut e = good.clone();
        *e.pointer_mut(ptr).expect(ptr) = bad;
        if ptr == "/start_time" {
            e["time"] = json!(null);
        }
        hostile.push(e);
    }
    for e in &hostile {
        assert!(m.score(e, &[], 3).is_none(), "{e}");
    }
    // Odd but well-typed values still score, within [0, 1].
    let mut odd = good.clone();
    odd["duration"] = json!(-5);
    odd["traffic"] = json!({"bytes_out": "many", "bytes_in": 1e300});
    odd["src_endpoint"]["port"] = json!(99_999_999);
    odd["status_code"] = json!("???");
    odd["start_time"] = json!(i64::MIN);
    let s = m.score(&odd, &[], 3).expect("scored");
    assert!((0.0..=1.0).contains(&s.probability));
}

fn shared(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/network")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: {} absent", p.display());
        None
    }
}

fn normalize(path: &Path) -> Vec<Value> {
    let engine = shrike_normalize::Engine::embedded().expect("mappings");
    let mut out = Vec::new();
    let opts = shrike_normalize::decode::DecodeOptions::default();
    shrike_normalize::decode::decode_path(path, &opts, &mut |item| {
        if let shrike_normalize::DecodeItem::Record(r) = item {
            if let Ok(n) = engine.normalize(r) {
                out.push(n.event);
            }
        }
    })
    .expect("decode");
    out
}

#[test]
fn bundled_model_scores_real_zeek_and_suricata_events() {
    let (Some(zeek), Some(eve)) = (
        shared("zeek/rita-json/conn.log"),
        shared("c2/icedid-2023-11/eve.json.xz"),
    ) else {
        return;
    };
    let Some(mut m) = model() else { return };
    assert_eq!(m.id().0, "shrike-network-flow-gbdt");
    assert!((0.0..=1.0).contains(&m.alert_threshold()));
    let mut flows = 0;
    for e in normalize(&zeek) {
        let s = m
            .score(&e, &[], 2)
            .expect("every Zeek conn record is scored");
        assert!((0.0..=1.0).contains(&s.probability), "{}", s.probability);
        // Reasons only for what becomes an alert (TreeSHAP is ~100x the score).
        if s.probability >= m.alert_threshold() {
            assert!(!s.reasons.is_empty() && s.reasons.len() <= 2);
        } else {
            assert!(s.reasons.is_empty());
        }
        flows += 1;
    }
    assert_eq!(flows, 29);
    let (mut malware, mut policy) = (Vec::new(), Vec::new());
    let (mut n_flow, mut n_none) = (0, 0);
    for e in normalize(&eve) {
        match m.score(&e, &[], 3) {
            Some(s) if s.model == TRIAGE_MODEL_ID => {
                assert!((0.0..=1.0).contains(&s.probability));
                assert!(!s.reasons.is_empty());
                let title = e
                    .pointer("/finding_info/title")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if title.starts_with("ET MALWARE") {
                    malware.push(s.probability);
                } else {
                    policy.push(s.probability);
                }
                let h = hit_of(&e).expect("every alert is a hit");
                if title.starts_with("ET MALWARE") {
                    assert!(
                        h.tactics.contains(&"command-and-control".to_string()),
                        "{title}"
                    );
                }
            }
            Some(s) => {
                assert!((0.0..=1.0).contains(&s.probability));
                n_flow += 1;
            }
            None => n_none += 1,
        }
    }
    assert_eq!(malware.len() + policy.len(), 35);
    assert_eq!(n_flow, 84, "Suricata flow records");
    assert!(n_none > 0, "dns/tls/http records are not scored");
    // The IcedID C2 alerts rank above the OpenSSL demo-CA policy alerts.
    let max_policy = policy.iter().copied().fold(0.0, f64::max);
    let min_malware = malware.iter().copied().fold(1.0, f64::min);
    assert!(min_malware > max_policy, "{min_malware} vs {max_policy}");
    assert!(m.state_bytes() > 0);
    // It is usable as a boxed `DomainModel` (which requires `Send`).
    let boxed: Box<dyn DomainModel> = Box::new(m);
    assert_eq!(boxed.domain(), shrike_detect::Domain::Network);
}

fn leaf() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        "[a-zA-Z0-9.:/ _-]{0,12}".prop_map(Value::from),
        Just(json!("tcp")),
        Just(json!("S0")),
        Just(json!("10.0.0.1")),
        Just(json!("1b")),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    /// Any values in any of the fields the model reads: a score in [0, 1] or `None`, never a panic.
    #[test]
    fn arbitrary_field_values_never_panic(
        class in proptest::prelude::prop_oneof![proptest::strategy::Just(4001u64), proptest::strategy::Just(2004u64)],
        log in proptest::prelude::prop_oneof![proptest::strategy::Just("conn"), proptest::strategy::Just("flow"), proptest::strategy::Just("alert")],
        vals in proptest::collection::vec(leaf(), 16),
    ) {
        let Ok(mut m) = NetworkModel::embedded() else { return Ok(()) };
        let mut e = alert("Misc Attack", None);
        e["class_uid"] = json!(class);
        e["metadata"]["log_name"] = json!(log);
        let paths: [&[&str]; 16] = [
            &["start_time"], &["time"], &["end_time"], &["duration"], &["status_code"],
            &["severity_id"], &["traffic", "bytes_out"], &["traffic", "bytes_in"],
            &["unmapped", "icmp_type"], &["unmapped", "tcp"], &["finding_info", "attacks"],
            &["finding_info", "tags"], &["evidences"], &["finding_info", "analytic", "uid"],
            &["connection_info"], &["metadata", "product"],
        ];
        e["src_endpoint"] = json!({"ip": "10.0.0.1", "port": 1});
        e["dst_endpoint"] = json!({"ip": "10.0.0.2", "port": 80});
        for (p, v) in paths.iter().zip(vals) {
            let mut cur = &mut e;
            for (i, k) in p.iter().enumerate() {
                if !cur.is_object() {
                    *cur = json!({});
                }
                if i + 1 == p.len() {
                    cur[*k] = v.clone();
                } else {
                    cur = &mut cur[*k];
                }
            }
        }
        for _ in 0..2 {
            if let Some(s) = m.score(&e, &[], 2) {
                proptest::prop_assert!((0.0..=1.0).contains(&s.probability), "{}", s.probability);
            }
        }
        let mut hits = Vec::new();
        suricata::hits(&e, &mut hits);
        proptest::prop_assert!(hits.len() <= 1);
    }
}

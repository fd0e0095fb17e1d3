//! STIX example bundles as an indicator store: hits resolve families and techniques.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use proptest::prelude::*;
use shrike_intel::stix::{load_bundle, simple_indicators, Observations, Pattern, StixError};
use shrike_intel::{Indicator, IndicatorKind};

fn example(rel: &str) -> Option<String> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/threat-intel/stix21-examples")
        .join(rel);
    std::fs::read_to_string(p).ok()
}

fn ind(kind: IndicatorKind, v: &str) -> Indicator {
    Indicator::new(kind, v).unwrap()
}

#[test]
fn example_bundles_resolve_families() {
    let Some(c2) = example("cti-stix2-json-schemas/examples/indicator-for-c2-ip-address.json")
    else {
        eprintln!("skipping: stix21-examples not found");
        return;
    };
    let b = load_bundle(&c2).unwrap();
    let hits = b.hits_for(&ind(IndicatorKind::Ipv4, "10.0.0.0"));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].threat, "malicious");
    assert_eq!(hits[0].family, None);
    assert_eq!(hits[0].first_seen, Some(1_399_539_600_000));
    assert!(hits[0].source.starts_with("stix:bundle--"));
    assert!(b.hits_for(&ind(IndicatorKind::Ipv4, "10.0.0.1")).is_empty());

    let fh = example("cti-documentation/malware-indicator-for-file-hash.json").unwrap();
    let b = load_bundle(&fh).unwrap().with_name("docs");
    let h = ind(
        IndicatorKind::Sha256,
        "EF537F25C895BFA782526529A9B63D97AA631564D5D789C2B765448C8635FB6C",
    );
    let hits = b.hits_for(&h);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].family.as_deref(), Some("Poison Ivy"));
    assert_eq!(hits[0].threat, "malware");
    assert_eq!(hits[0].source, "stix:docs");

    let url = example("cti-documentation/indicator-for-malicious-url.json").unwrap();
    let b = load_bundle(&url).unwrap();
    let hits = b.hits_for(&ind(IndicatorKind::Url, "http://x4z9arb.cn/4712/"));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].family.as_deref(), Some("x4z9arb backdoor"));

    let apt1 = example("cti-stix2-json-schemas/examples/threat-reports/apt1.json").unwrap();
    let b = load_bundle(&apt1).unwrap();
    assert_eq!(b.indicators.len(), 12);
    assert!(b.indicators.iter().all(|i| i.pattern.is_some()));
    assert_eq!(b.attack_patterns.len(), 7);
    let hits = b.hits_for(&ind(IndicatorKind::Domain, "hugesoft.org"));
    assert_eq!(hits.len(), 1);
    // apt1's indicators point at threat actors or unnamed malware: check what resolves.
    let md5 = ind(IndicatorKind::Md5, "001dd76872d80801692ff942308c64e6");
    assert_eq!(b.hits_for(&md5).len(), 1);
    // CIDR values are not indexable indicators.
    assert!(b
        .hits_for(&ind(IndicatorKind::Ipv4, "223.166.0.0"))
        .is_empty());

    let pivy = example("cti-stix2-json-schemas/examples/threat-reports/poisonivy.json").unwrap();
    let b = load_bundle(&pivy).unwrap();
    assert_eq!(b.indicators.len(), 25);
    let hits = b.hits_for(&ind(IndicatorKind::Ipv4, "219.76.208.163"));
    assert_eq!(hits.len(), 1);
    // This bundle's indicators point at per-sample "PIVY Variant (md5)" malware objects.
    let fam = hits[0].family.clone().unwrap();
    assert!(fam.starts_with("PIVY Variant ("), "{fam}");
    assert!(hits[0].tags.contains(&"attribution".to_string()));
    // no created_by_ref on these indicators: the source falls back to the bundle id
    assert!(hits[0].source.starts_with("stix:bundle--"));
    // one IP shared by several indicators
    assert!(
        b.hits_for(&ind(IndicatorKind::Ipv4, "101.78.151.179"))
            .len()
            >= 3
    );
}

#[test]
fn techniques_from_mitre_attack_references() {
    let json = r#"{"type":"bundle","id":"bundle--1","objects":[
      {"type":"identity","id":"identity--1","name":"ACME CERT"},
      {"type":"indicator","id":"indicator--1","pattern_type":"stix","created_by_ref":"identity--1",
       "pattern":"[domain-name:value = 'Evil.Example' OR url:value = 'http://evil.example/x']",
       "valid_from":"2024-01-01T00:00:00Z","indicator_types":["malicious-activity"],"confidence":85},
      {"type":"indicator","id":"indicator--2","pattern_type":"sigma","pattern":"title: x"},
      {"type":"malware","id":"malware--1","name":"IcedID","is_family":true},
      {"type":"attack-pattern","id":"attack-pattern--1","name":"Web Protocols",
       "external_references":[{"source_name":"mitre-attack","external_id":"T1071.001"}]},
      {"type":"attack-pattern","id":"attack-pattern--2","name":"Phishing",
       "external_references":[{"source_name":"mitre-attack","external_id":"T1566"}]},
      {"type":"relationship","id":"relationship--1","relationship_type":"indicates",
       "source_ref":"indicator--1","target_ref":"malware--1"},
      {"type":"relationship","id":"relationship--2","relationship_type":"uses",
       "source_ref":"malware--1","target_ref":"attack-pattern--1"},
      {"type":"relationship","id":"relationship--3","relationship_type":"indicates",
       "source_ref":"indicator--1","target_ref":"attack-pattern--2"}]}"#;
    let b = load_bundle(json).unwrap();
    assert_eq!(b.indicators.len(), 1, "non-stix pattern types are skipped");
    let hits = b.hits_for(&ind(IndicatorKind::Domain, "evil.example"));
    assert_eq!(hits.len(), 1);
    let h = &hits[0];
    assert_eq!(h.family.as_deref(), Some("IcedID"));
    assert_eq!(h.attack, vec!["T1071.001".to_string(), "T1566".to_string()]);
    assert_eq!(h.confidence, 85);
    assert_eq!(h.source, "stix:ACME CERT");
    assert_eq!(h.reference.as_deref(), Some("indicator--1"));
    assert_eq!(h.first_seen, Some(1_704_067_200_000));
    assert_eq!(
        b.hits_for(&ind(IndicatorKind::Url, "http://evil.example/x"))
            .len(),
        1
    );
    assert!(matches!(load_bundle("[1"), Err(StixError::Bundle(_))));
}

#[test]
fn simple_indicators_extracts_equalities() {
    let p = Pattern::parse(
        "[domain-name:value = 'x.example' OR url:value = 'http://y.example/'] AND \
         [file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' \
         AND file:hashes.MD5 != 'cead3f77f6cda6ec00f57d76c9a6879f'] \
         FOLLOWEDBY [ipv4-addr:value = '1.2.3.4' AND ipv6-addr:value NOT = '::1']",
    )
    .unwrap();
    let got: Vec<(IndicatorKind, String)> = simple_indicators(&p)
        .into_iter()
        .map(|i| (i.kind, i.value))
        .collect();
    assert_eq!(
        got,
        vec![
            (IndicatorKind::Ipv4, "1.2.3.4".into()),
            (IndicatorKind::Domain, "x.example".into()),
            (IndicatorKind::Url, "http://y.example/".into()),
            (
                IndicatorKind::Sha256,
                "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f".into()
            ),
        ]
    );
}

#[test]
fn network_traffic_references_and_cidr() {
    let obs: Vec<serde_json::Value> = vec![serde_json::json!({
        "type": "bundle", "id": "bundle--x", "objects": [
        {"type":"observed-data","id":"observed-data--1","number_observed":1,
         "first_observed":"2024-01-01T00:00:00Z","last_observed":"2024-01-01T00:00:10Z",
         "object_refs":["network-traffic--1","ipv4-addr--1","ipv4-addr--2"]},
        {"type":"ipv4-addr","id":"ipv4-addr--1","value":"10.1.2.3"},
        {"type":"ipv4-addr","id":"ipv4-addr--2","value":"198.51.100.7"},
        {"type":"network-traffic","id":"network-traffic--1","src_ref":"ipv4-addr--1",
         "dst_ref":"ipv4-addr--2","src_port":50000,"dst_port":443,"protocols":["ipv4","tcp"]}
    ]})];
    let o = Observations::new(&obs).unwrap();
    let m = |p: &str| Pattern::parse(p).unwrap().matches(&o).unwrap();
    assert!(m("[network-traffic:dst_ref.value ISSUBSET '198.51.100.0/24' AND network-traffic:dst_port = 443]"));
    assert!(m(
        "[network-traffic:protocols[*] = 'tcp' AND network-traffic:src_ref.value = '10.1.2.3']"
    ));
    assert!(m("[network-traffic:protocols[1] = 'tcp']"));
    assert!(!m("[network-traffic:protocols[0] = 'tcp']"));
    assert!(m("[EXISTS network-traffic:src_port]"));
    assert!(!m("[EXISTS network-traffic:dst_ref.resolves_to_refs]"));
    assert!(m("[ipv4-addr:value = '198.51.100.7'] START t'2024-01-01T00:00:05Z' STOP t'2024-01-02T00:00:00Z'"));
    assert!(!m(
        "[ipv4-addr:value = '198.51.100.7'] AND [ipv4-addr:value = '10.1.2.3']"
    ));
}

#[test]
fn deep_nesting_is_rejected() {
    let deep = format!("{}[a:b = 1]{}", "(".repeat(10_000), ")".repeat(10_000));
    let e = Pattern::parse(&deep).unwrap_err();
    assert!(e.to_string().contains("nesting deeper than 64"), "{e}");
    let deep_cmp = format!("[{}a:b = 1{}]", "(".repeat(10_000), ")".repeat(10_000));
    assert!(Pattern::parse(&deep_cmp).is_err());
    let ok = format!("{}[a:b = 1]{}", "(".repeat(20), ")".repeat(20));
    assert!(Pattern::parse(&ok).is_ok());
}

#[test]
fn matches_reports_unsupported_regex() {
    let e = Pattern::parse("[a:b MATCHES '(x)\\\\1']").unwrap_err();
    assert!(
        e.to_string().contains("backreferences are not supported"),
        "{e}"
    );
}

proptest! {
    #[test]
    fn parser_never_panics(s in "\\PC{0,200}") {
        let _ = Pattern::parse(&s);
        let _ = Pattern::validate(&s);
    }

    #[test]
    fn parser_never_panics_on_pattern_like(s in "[\\[\\]() a-z:.'*=<>!0-9,tbh-]{0,80}") {
        let _ = Pattern::parse(&s);
        let _ = Pattern::validate(&s);
    }
}

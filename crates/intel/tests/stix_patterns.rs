//! The official STIX patterning cases (cti-pattern-validator, cti-pattern-matcher) from the
//! shared data: validator pass/fail and matcher match/nomatch/error, with counts per category.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use shrike_intel::stix::{Observations, Pattern};

fn data() -> Option<Value> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/threat-intel/stix21-examples/patterning/patterns.json");
    let text = std::fs::read_to_string(&p).ok()?;
    serde_json::from_str(&text).ok()
}

#[test]
fn validator_cases() {
    let Some(d) = data() else {
        eprintln!("skipping: patterns.json not found");
        return;
    };
    let cases = d["validator"].as_array().unwrap();
    let mut per: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for c in cases {
        let pat = c["pattern"].as_str().unwrap();
        let valid = c["valid"].as_bool().unwrap();
        let got = Pattern::validate(pat);
        let ok = got.is_ok() == valid;
        let e = per
            .entry(c["case"].as_str().unwrap().to_string())
            .or_default();
        e.1 += 1;
        if ok {
            e.0 += 1;
        } else {
            failures.push(format!("{pat} -> {got:?}"));
        }
    }
    eprintln!("validator per case: {per:?}");
    for f in &failures {
        eprintln!("FAIL {f}");
    }
    assert_eq!(cases.len(), 87);
    assert_eq!(failures.len(), 0, "{failures:#?}");
}

#[test]
fn matcher_cases() {
    let Some(d) = data() else {
        eprintln!("skipping: patterns.json not found");
        return;
    };
    let sets = d["observation_sets"].as_object().unwrap();
    let cases = d["matcher"].as_array().unwrap();
    let mut per: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for c in cases {
        let pat = c["pattern"].as_str().unwrap();
        let expected = c["expected"].as_str().unwrap();
        let set_name = c["observations"].as_str().unwrap();
        let set = sets[set_name].as_array().unwrap();
        let obs = Observations::new(set).unwrap();
        let got = match Pattern::parse(pat).and_then(|p| p.matches(&obs)) {
            Ok(true) => "match".to_string(),
            Ok(false) => "nomatch".to_string(),
            Err(e) => format!("error: {e}"),
        };
        let ok = if expected == "error" {
            got.starts_with("error")
        } else {
            got == expected
        };
        let cat = set_name
            .rsplit('/')
            .next()
            .unwrap()
            .trim_start_matches("test_")
            .replace(".py#_observations", "");
        let e = per.entry(cat.clone()).or_default();
        e.1 += 1;
        if ok {
            e.0 += 1;
        } else {
            failures.push(format!("[{cat}] {pat}: expected {expected}, got {got}"));
        }
    }
    eprintln!("matcher per category (passed, total): {per:#?}");
    for f in &failures {
        eprintln!("FAIL {f}");
    }
    let passed: usize = per.values().map(|v| v.0).sum();
    assert_eq!(cases.len(), 409);
    // The 12 misses are all unicode_normalization LIKE/MATCHES cases: no NFC (see module docs).
    assert_eq!(passed, 397, "{failures:#?}");
}

//! Coverage of the Suricata EVE mappings over the real captures in `../shared/data/network`
//! (`suricata/**` and the IcedID `c2/icedid-*/eve.json.xz`): every record decodes as Suricata,
//! and none is rejected `ocsf_invalid` or `missing_time`. `no_mapping` is allowed only for the
//! event types outside the list (`stats`: engine counters, not security events, have no
//! clean OCSF class). Prints events per class, rejections per reason and the unmapped event
//! types. Skipped when the shared data is absent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use shrike_normalize::decode::{decode_path, DecodeOptions};
use shrike_normalize::{DecodeItem, Engine, Source};

/// Event types the issue lists for Suricata (plus the protocol types this mapping set covers):
/// none of them may end as `no_mapping`.
const MAPPED: &[&str] = &[
    "alert", "flow", "dns", "http", "tls", "fileinfo", "anomaly", "ssh", "smb", "krb5", "dhcp",
    "dcerpc", "smtp",
];

fn data_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/network")
}

fn inputs(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.join("suricata")];
    if let Ok(rd) = std::fs::read_dir(root.join("c2")) {
        let mut c2: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("icedid-"))
            })
            .map(|p| p.join("eve.json.xz"))
            .filter(|p| p.is_file())
            .collect();
        c2.sort();
        out.extend(c2);
    }
    out
}

#[derive(Default)]
struct Tally {
    records: usize,
    per_class: BTreeMap<u32, usize>,
    per_mapping: BTreeMap<String, usize>,
    rejected: BTreeMap<&'static str, usize>,
    no_mapping: BTreeMap<String, usize>,
    failures: Vec<String>,
    not_suricata: Vec<String>,
}

#[test]
fn every_suricata_record_normalizes() {
    let root = data_root();
    if !root.join("suricata").is_dir() {
        eprintln!("skipping: ../shared/data not found");
        return;
    }
    let engine = Engine::embedded().unwrap_or_else(|e| panic!("{e}"));
    let mut t = Tally::default();
    for path in inputs(&root) {
        decode_path(&path, &DecodeOptions::default(), &mut |item| match item {
            DecodeItem::Record(rec) => {
                t.records += 1;
                if rec.source != Source::Suricata {
                    t.not_suricata
                        .push(format!("{} at {}", rec.source, rec.origin));
                    return;
                }
                let event_type = rec
                    .fields
                    .get("event_type")
                    .and_then(|v| v.as_str())
                    .unwrap_or("(none)")
                    .to_owned();
                match engine.normalize(rec) {
                    Ok(n) => {
                        *t.per_class.entry(n.class_uid).or_default() += 1;
                        *t.per_mapping.entry(n.mapping).or_default() += 1;
                    }
                    Err(r) => {
                        *t.rejected.entry(r.reason).or_default() += 1;
                        if r.reason == "no_mapping" {
                            *t.no_mapping.entry(event_type.clone()).or_default() += 1;
                        }
                        if (r.reason != "no_mapping" || MAPPED.contains(&event_type.as_str()))
                            && t.failures.len() < 20
                        {
                            t.failures.push(format!("[{}] {}", r.reason, r.detail));
                        }
                    }
                }
            }
            DecodeItem::Quarantined(q) => t
                .not_suricata
                .push(format!("decoder quarantined ({}): {}", q.reason, q.detail)),
        })
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    eprintln!("suricata records: {}", t.records);
    eprintln!("events per class_uid: {:?}", t.per_class);
    eprintln!("events per mapping: {:#?}", t.per_mapping);
    eprintln!("rejections per reason: {:?}", t.rejected);
    eprintln!("no_mapping event types: {:?}", t.no_mapping);
    assert!(
        t.records > 4000,
        "expected the Suricata captures (4,581 records), read {}",
        t.records
    );
    assert!(
        t.not_suricata.is_empty(),
        "records not decoded as Suricata: {:?}",
        &t.not_suricata[..t.not_suricata.len().min(10)]
    );
    assert!(
        t.failures.is_empty(),
        "rejected records:\n{}",
        t.failures.join("\n")
    );
    assert_eq!(t.rejected.get("ocsf_invalid"), None);
    assert_eq!(t.rejected.get("missing_time"), None);
}

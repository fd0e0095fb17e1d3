//! Coverage of the Windows Security and System mappings (`content/mappings/microsoft/security`,
//! `content/mappings/microsoft/system`) over the real data in `../shared/data`: every record of
//! the `Security` and `System` channels in `endpoint/mordor` (atomic and compound captures, all
//! three field layouts: NXLog/HELK flat, Winlogbeat 6, Sentinel `SecurityEvent`) and
//! `endpoint/evtx` is normalized with the bundled mappings.
//!
//! Checked: no record of those channels is rejected `ocsf_invalid` or `missing_time`, and every
//! event type the issue lists (4624, 4625, 4634, 4648, 4672, 4688, 4689, 4663, 4656, 4661,
//! 4673, 4697, 7045, 4698, 4720, 4722, 4724, 4728, 4732, 4768, 4769, 4771, 5140, 5145, 1102)
//! that occurs in the data is mapped. `no_mapping` is allowed for the other event types; their
//! ids and counts are printed, with the events per class and the rejections per reason.
//!
//! Skipped when the shared data is absent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use shrike_normalize::decode::{decode_path, DecodeOptions};
use shrike_normalize::{DecodeItem, Engine};

/// The Security / System event ids the issue asks to map.
const REQUIRED: &[(&str, i64)] = &[
    ("security", 4624),
    ("security", 4625),
    ("security", 4634),
    ("security", 4648),
    ("security", 4672),
    ("security", 4688),
    ("security", 4689),
    ("security", 4663),
    ("security", 4656),
    ("security", 4661),
    ("security", 4673),
    ("security", 4697),
    ("system", 7045),
    ("security", 4698),
    ("security", 4720),
    ("security", 4722),
    ("security", 4724),
    ("security", 4728),
    ("security", 4732),
    ("security", 4768),
    ("security", 4769),
    ("security", 4771),
    ("security", 5140),
    ("security", 5145),
    ("security", 1102),
];

#[derive(Default)]
struct Tally {
    records: u64,
    events: u64,
    per_class: BTreeMap<u32, u64>,
    per_mapping: BTreeMap<String, u64>,
    rejected: BTreeMap<&'static str, u64>,
    /// (channel, event id) → count, for `no_mapping`.
    unmapped_ids: BTreeMap<(String, i64), u64>,
    /// (channel, event id) → count, for every record seen.
    seen_ids: BTreeMap<(String, i64), u64>,
    /// (channel, event id) → count of events produced.
    mapped_ids: BTreeMap<(String, i64), u64>,
    problems: Vec<String>,
    decode_quarantined: u64,
}

#[test]
fn security_and_system_channels_normalize() {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if !data.is_dir() {
        eprintln!("skipping: ../shared/data not found");
        return;
    }
    let engine =
        Engine::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../content/mappings"))
            .unwrap_or_else(|e| panic!("{e}"));
    let mut t = Tally::default();
    for sub in ["endpoint/mordor", "endpoint/evtx"] {
        let dir = data.join(sub);
        if !dir.is_dir() {
            eprintln!("skipping {sub}: not found");
            continue;
        }
        decode_path(&dir, &DecodeOptions::default(), &mut |item| {
            let rec = match item {
                DecodeItem::Record(r) => r,
                DecodeItem::Quarantined(_) => {
                    t.decode_quarantined += 1;
                    return;
                }
            };
            let channel = rec
                .fields
                .get("Channel")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .trim()
                .to_lowercase();
            if channel != "security" && channel != "system" {
                return;
            }
            let id = rec
                .fields
                .get("EventID")
                .and_then(|v| v.as_i64())
                .unwrap_or(-1);
            let key = (channel, id);
            t.records += 1;
            *t.seen_ids.entry(key.clone()).or_default() += 1;
            match engine.normalize(rec) {
                Ok(n) => {
                    t.events += 1;
                    *t.per_class.entry(n.class_uid).or_default() += 1;
                    *t.per_mapping.entry(n.mapping).or_default() += 1;
                    *t.mapped_ids.entry(key).or_default() += 1;
                }
                Err(r) => {
                    *t.rejected.entry(r.reason).or_default() += 1;
                    match r.reason {
                        "no_mapping" => *t.unmapped_ids.entry(key).or_default() += 1,
                        _ => {
                            if t.problems.len() < 20 {
                                t.problems.push(format!("{}: {}", r.reason, r.detail));
                            }
                        }
                    }
                }
            }
        })
        .unwrap_or_else(|e| panic!("{sub}: {e}"));
    }

    eprintln!(
        "Security/System: {} records, {} events, {} rejected, {} decoder quarantines (all channels)",
        t.records,
        t.events,
        t.rejected.values().sum::<u64>(),
        t.decode_quarantined
    );
    eprintln!("events per class_uid:");
    for (c, n) in &t.per_class {
        eprintln!("  {c:>6}  {n}");
    }
    eprintln!("events per mapping:");
    for (m, n) in &t.per_mapping {
        eprintln!("  {n:>6}  {m}");
    }
    eprintln!("rejections per reason: {:?}", t.rejected);
    let mut top: Vec<_> = t.unmapped_ids.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    eprintln!("no_mapping by channel/event id:");
    for ((ch, id), n) in top {
        eprintln!("  {n:>6}  {ch} {id}");
    }

    assert!(
        t.records > 40_000,
        "expected the Mordor and EVTX Security/System records, got {}",
        t.records
    );
    assert!(
        t.problems.is_empty(),
        "ocsf_invalid / missing_time rejections:\n{}",
        t.problems.join("\n")
    );
    assert_eq!(t.rejected.get("ocsf_invalid"), None);
    assert_eq!(t.rejected.get("missing_time"), None);
    let mut missing = Vec::new();
    for (ch, id) in REQUIRED {
        let key = ((*ch).to_owned(), *id);
        let seen = t.seen_ids.get(&key).copied().unwrap_or(0);
        let mapped = t.mapped_ids.get(&key).copied().unwrap_or(0);
        if mapped != seen {
            missing.push(format!("{ch} {id}: {mapped} of {seen} mapped"));
        }
    }
    assert!(
        missing.is_empty(),
        "event types the issue lists are not all mapped: {missing:?}"
    );
    // The listed ids that the data holds at all (4722/4732/4771 only in the EVTX samples).
    let present = REQUIRED
        .iter()
        .filter(|(ch, id)| t.seen_ids.contains_key(&((*ch).to_owned(), *id)))
        .count();
    assert!(
        present >= 24,
        "only {present} of the listed event types occur in the data"
    );
}

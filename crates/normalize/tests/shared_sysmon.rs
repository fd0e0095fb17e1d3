//! Coverage of the Sysmon and PowerShell mappings over the real captures in `../shared/data`:
//! every Sysmon (`Microsoft-Windows-Sysmon/Operational`) and PowerShell
//! (`Microsoft-Windows-PowerShell/Operational`, `Windows PowerShell`) record in
//! `endpoint/mordor` (every archive, `compound/` included) and `endpoint/evtx` must normalize
//! without an `ocsf_invalid` or `missing_time` rejection, and the event types issue 3 lists must
//! all be mapped. Prints events per class, rejections per reason and what is left unmapped.

use std::collections::BTreeMap;
use std::path::PathBuf;

use shrike_normalize::decode::{decode_path, DecodeOptions};
use shrike_normalize::{DecodeItem, Engine, RawRecord};

const SYSMON: &str = "microsoft-windows-sysmon/operational";
const PS_OPERATIONAL: &str = "microsoft-windows-powershell/operational";
const PS_CLASSIC: &str = "windows powershell";

/// Event ids issue 3 lists, per channel (lowercase).
const REQUIRED: &[(&str, &[i64])] = &[
    (SYSMON, &[1, 3, 5, 7, 8, 10, 11, 12, 13, 14, 22, 23, 26]),
    (PS_OPERATIONAL, &[4103, 4104]),
];

fn channel_and_id(rec: &RawRecord) -> Option<(String, i64)> {
    let ch = rec.fields.get("Channel")?.as_str()?.trim().to_lowercase();
    if ch != SYSMON && ch != PS_OPERATIONAL && ch != PS_CLASSIC {
        return None;
    }
    let id = match rec.fields.get("EventID")? {
        serde_json::Value::Number(n) => n.as_i64()?,
        serde_json::Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    Some((ch, id))
}

#[test]
fn sysmon_and_powershell_over_shared_data() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = manifest.join("../../../shared/data");
    if !data.is_dir() {
        eprintln!("skipping: ../shared/data not found");
        return;
    }
    let engine = Engine::load_dir(&manifest.join("../../content/mappings"))
        .unwrap_or_else(|e| panic!("{e}"));

    let mut records = 0u64;
    let mut per_class: BTreeMap<u32, u64> = BTreeMap::new();
    let mut per_mapping: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_reason: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut unmapped_types: BTreeMap<(String, i64), u64> = BTreeMap::new();
    let mut bad: Vec<String> = Vec::new();
    let mut decode_quarantine: BTreeMap<String, u64> = BTreeMap::new();

    for sub in ["endpoint/mordor", "endpoint/evtx"] {
        let dir = data.join(sub);
        if !dir.is_dir() {
            continue;
        }
        decode_path(&dir, &DecodeOptions::default(), &mut |item| match item {
            DecodeItem::Record(rec) => {
                let Some(key) = channel_and_id(&rec) else {
                    return;
                };
                records += 1;
                match engine.normalize(rec) {
                    Ok(n) => {
                        *per_class.entry(n.class_uid).or_default() += 1;
                        *per_mapping.entry(n.mapping).or_default() += 1;
                    }
                    Err(r) => {
                        *per_reason.entry(r.reason).or_default() += 1;
                        if r.reason == "no_mapping" {
                            *unmapped_types.entry(key).or_default() += 1;
                        } else if bad.len() < 20 {
                            bad.push(format!("{} {}: {}", r.reason, key.1, r.detail));
                        }
                    }
                }
            }
            DecodeItem::Quarantined(q) => *decode_quarantine.entry(q.reason).or_default() += 1,
        })
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }

    eprintln!("Sysmon + PowerShell records: {records}");
    eprintln!("events per class_uid:");
    for (c, n) in &per_class {
        eprintln!("  {c:>6} {n:>8}");
    }
    eprintln!("events per mapping:");
    for (m, n) in &per_mapping {
        eprintln!("  {m:<50} {n:>8}");
    }
    eprintln!("rejections per reason: {per_reason:?}");
    let mut top: Vec<_> = unmapped_types.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    eprintln!("no_mapping by channel / event id:");
    for ((ch, id), n) in &top {
        eprintln!("  {ch} {id}: {n}");
    }
    eprintln!("decoder quarantine (all sources in these folders): {decode_quarantine:?}");

    assert!(
        records > 250_000,
        "expected the Mordor and EVTX Sysmon/PowerShell records, got {records}"
    );
    assert!(
        bad.is_empty(),
        "ocsf_invalid / missing_time rejections:\n{}",
        bad.join("\n")
    );
    assert_eq!(per_reason.get("ocsf_invalid"), None);
    assert_eq!(per_reason.get("missing_time"), None);
    let missing: Vec<String> = REQUIRED
        .iter()
        .flat_map(|(ch, ids)| ids.iter().map(move |id| (ch.to_string(), *id)))
        .filter(|k| unmapped_types.contains_key(k))
        .map(|(ch, id)| format!("{ch} {id}"))
        .collect();
    assert!(
        missing.is_empty(),
        "event types issue 3 lists left unmapped: {missing:?}"
    );
}

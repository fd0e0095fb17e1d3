//! Every Zeek record in `../shared/data` (TSV and JSON under `network/zeek`, the labelled
//! Stratosphere captures under `network/c2/stratosphere-ctu`, and the Zeek logs zipped with the
//! Mordor LSASS campaign) decodes and normalizes to valid OCSF 1.8.0: no decode quarantine, no
//! `ocsf_invalid`, no `missing_time`, and every Zeek log type the mappings cover is mapped.
//! Prints events per class and per log, and the logs left as `no_mapping` (Zeek's bookkeeping
//! and inventory logs: `stats`, `capture_loss`, `packet_filter`, `loaded_scripts`, `known_*`,
//! `software`, ... are not activity and are not mapped on purpose).
//!
//! About 310,000 records; the files are normalized in parallel.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;
use shrike_normalize::decode::{decode_path, DecodeOptions};
use shrike_normalize::{DecodeItem, Engine, Source};

/// Log types that must be mapped (the issue's list, plus the ones the mappings add).
const MAPPED: &str = "conn dns http ssl x509 smtp ssh rdp ftp files notice weird dhcp kerberos \
                      ntlm smb_mapping smb_files ntp";

/// The issue's list: each must have events in the shared data.
const ISSUE_LOGS: &str = "conn dns http ssl x509 smtp ssh rdp ftp files notice";

/// Logs whose every event must carry both endpoints' addresses.
const WITH_ENDPOINTS: &str =
    "conn dns http ssl smtp ssh rdp ftp kerberos ntlm smb_mapping smb_files ntp";

#[derive(Default)]
struct Tally {
    records: u64,
    events_by_class: BTreeMap<u64, u64>,
    events_by_log: BTreeMap<(String, u64), u64>,
    rejected: BTreeMap<String, u64>,
    no_mapping: BTreeMap<String, u64>,
    problems: Vec<String>,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        self.records += o.records;
        for (k, v) in o.events_by_class {
            *self.events_by_class.entry(k).or_default() += v;
        }
        for (k, v) in o.events_by_log {
            *self.events_by_log.entry(k).or_default() += v;
        }
        for (k, v) in o.rejected {
            *self.rejected.entry(k).or_default() += v;
        }
        for (k, v) in o.no_mapping {
            *self.no_mapping.entry(k).or_default() += v;
        }
        self.problems.extend(o.problems);
    }

    fn problem(&mut self, p: String) {
        if self.problems.len() < 50 {
            self.problems.push(p);
        }
    }
}

fn data_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            collect(&p, out);
        } else {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            // The Stratosphere folders also hold READMEs and a labels.config.
            if name.contains(".log") || name.ends_with(".json.xz") || name.ends_with(".zip") {
                out.push(p);
            }
        }
    }
}

fn run(engine: &Engine, path: &Path) -> Tally {
    let mut t = Tally::default();
    let res = decode_path(path, &DecodeOptions::default(), &mut |item| match item {
        DecodeItem::Record(rec) => {
            t.records += 1;
            let log = rec
                .fields
                .get("_path")
                .and_then(Value::as_str)
                .unwrap_or("(none)")
                .to_owned();
            if rec.source != Source::Zeek {
                t.problem(format!(
                    "{}: a {} record, expected zeek",
                    rec.origin, rec.source
                ));
            }
            match engine.normalize(rec) {
                Ok(n) => {
                    let class = u64::from(n.class_uid);
                    *t.events_by_class.entry(class).or_default() += 1;
                    *t.events_by_log.entry((log.clone(), class)).or_default() += 1;
                    if WITH_ENDPOINTS.split_whitespace().any(|l| l == log)
                        && (n.event.pointer("/src_endpoint/ip").is_none()
                            || n.event.pointer("/dst_endpoint/ip").is_none())
                    {
                        t.problem(format!(
                            "{log} event without both endpoint addresses: {}",
                            n.event
                        ));
                    }
                }
                Err(r) => {
                    *t.rejected.entry(r.reason.to_owned()).or_default() += 1;
                    if r.reason == "no_mapping" {
                        *t.no_mapping.entry(log).or_default() += 1;
                    } else {
                        t.problem(format!("{}: {}", r.reason, r.detail));
                    }
                }
            }
        }
        DecodeItem::Quarantined(q) => {
            *t.rejected
                .entry(format!("decode:{}", q.reason))
                .or_default() += 1;
            t.problem(format!("decode {}: {}", q.reason, q.detail));
        }
    });
    if let Err(e) = res {
        t.problem(format!("{}: {e}", path.display()));
    }
    t
}

#[test]
fn every_zeek_record_in_shared_data_normalizes() {
    let root = data_root();
    if !root.is_dir() {
        eprintln!("skipping: ../shared/data not found");
        return;
    }
    let mut files = Vec::new();
    collect(&root.join("network/zeek"), &mut files);
    collect(&root.join("network/c2/stratosphere-ctu"), &mut files);
    let lsass = root.join("endpoint/mordor/compound/LSASS_campaign_01");
    if let Ok(rd) = std::fs::read_dir(&lsass) {
        let mut zips: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.contains("zeek") && n.ends_with(".zip"))
            })
            .collect();
        zips.sort();
        files.extend(zips);
    }
    assert!(
        !files.is_empty(),
        "no Zeek files found under {}",
        root.display()
    );

    let content = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../content/mappings");
    let engine = Engine::load_dir(&content).unwrap_or_else(|e| panic!("{e}"));
    // Largest files first, spread over the available cores.
    files.sort_by_key(|p| std::cmp::Reverse(std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)));
    let queue = Mutex::new(files);
    let total = Mutex::new(Tally::default());
    let workers = std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .min(8);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let next = queue
                    .lock()
                    .map(|mut q| {
                        if q.is_empty() {
                            None
                        } else {
                            Some(q.remove(0))
                        }
                    })
                    .ok()
                    .flatten();
                let Some(path) = next else { break };
                let t = run(&engine, &path);
                if let Ok(mut total) = total.lock() {
                    total.merge(t);
                }
            });
        }
    });
    let t = total.into_inner().unwrap_or_default();

    eprintln!("zeek records: {}", t.records);
    eprintln!("events per class_uid: {:?}", t.events_by_class);
    eprintln!("events per log → class:");
    for ((log, class), n) in &t.events_by_log {
        eprintln!("  {log:>14} → {class}: {n}");
    }
    eprintln!("rejected per reason: {:?}", t.rejected);
    eprintln!(
        "no_mapping per log (not activity logs, left unmapped on purpose): {:?}",
        t.no_mapping
    );

    assert!(
        t.problems.is_empty(),
        "{} problems (first 50):\n{}",
        t.problems.len(),
        t.problems.join("\n")
    );
    for bad in ["ocsf_invalid", "missing_time"] {
        assert_eq!(t.rejected.get(bad), None, "{bad} rejections");
    }
    for log in MAPPED.split_whitespace() {
        assert_eq!(
            t.no_mapping.get(log),
            None,
            "{log} records without a mapping"
        );
    }
    for log in ISSUE_LOGS.split_whitespace() {
        assert!(
            t.events_by_log.keys().any(|(l, _)| l == log),
            "no {log} event in the shared data"
        );
    }
    assert!(
        t.records > 200_000,
        "only {} Zeek records decoded",
        t.records
    );
}

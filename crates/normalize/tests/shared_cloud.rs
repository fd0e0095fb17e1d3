//! Coverage of the AWS (CloudTrail, GuardDuty, VPC Flow Logs) and email mappings over the real
//! data in `../shared/data`:
//!
//! - CloudTrail: `cloud/mordor-aws/**/*.zip` and `cloud/panther/cloudtrail.ndjson.gz`; GuardDuty:
//!   `cloud/guardduty/**` and `cloud/panther/guardduty.ndjson`; VPC Flow Logs:
//!   `cloud/vpcflow/*.log` and `cloud/panther/vpcflow.ndjson`. No record is rejected
//!   `ocsf_invalid` or `no_mapping` (every source has a catch-all), and none `missing_time`
//!   unless it carries no time field at all (Panther unit-test fragments, the VPC NAT-gateway
//!   example with only address columns): those are counted and checked to really be timeless.
//!   Decoder quarantines are allowed only where expected (the deliberately broken GuardDuty
//!   fixture, the Mordor honey-bucket CSV) and must name their reason.
//! - The other Panther files (GCP, Azure, Okta, EKS, WAF, ...) are outside the issue: their
//!   outcome (decoder `unknown_source`, or the source they were detected as and the engine's
//!   answer) is printed, and none may be `ocsf_invalid`.
//! - Email: every message of one mid-size phishing archive
//!   (`email/phishing/nazario/phishing_nazario_yearly_2015-2020.tar.xz`, 1,094 messages) and of
//!   the malformed-MIME archive (`email/malformed/malformed_stalwart_mail-parser.tar.xz`): zero
//!   `ocsf_invalid`.
//!
//! Skipped when the shared data is absent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use shrike_normalize::decode::{decode_path, DecodeOptions};
use shrike_normalize::{DecodeItem, Engine, Source};

fn data_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

fn engine() -> Engine {
    Engine::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../content/mappings"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Files under `dir` (recursively, sorted) whose name ends with one of `exts`.
fn files(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| exts.iter().any(|x| n.ends_with(x)))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Whether the record has any field a mapping of its source takes the time from, holding
/// something that could be a time (Panther's redacted fixtures write `redacted` or `...`).
fn has_time_field(source: Source, fields: &Map<String, Value>) -> bool {
    let keys: &[&str] = match source {
        Source::Cloudtrail => &["eventTime", "@timestamp", "p_event_time"],
        Source::Guardduty => &["updatedAt", "createdAt"],
        Source::Vpcflow => &["start"],
        Source::Email => &["date"],
        _ => return true,
    };
    keys.iter().any(|k| match fields.get(*k) {
        Some(Value::Number(_)) => true,
        Some(Value::String(t)) => t.bytes().any(|b| b.is_ascii_digit()),
        _ => false,
    })
}

/// What a record is, for the no_mapping / failure listing.
fn kind(source: Source, fields: &Map<String, Value>) -> String {
    let s = |k: &str| {
        fields
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_owned()
    };
    match source {
        Source::Cloudtrail => format!("{} {}", s("eventSource"), s("eventName")),
        Source::Guardduty => s("type"),
        Source::Vpcflow => s("log-status"),
        _ => String::new(),
    }
}

#[derive(Default)]
struct Tally {
    records: BTreeMap<Source, usize>,
    per_class: BTreeMap<(Source, u32), usize>,
    per_mapping: BTreeMap<String, usize>,
    rejected: BTreeMap<(Source, &'static str), usize>,
    /// `missing_time` for records with no time field at all, per source.
    timeless: BTreeMap<Source, usize>,
    no_mapping: BTreeMap<String, usize>,
    /// Decoder quarantines: (file name, reason) → count.
    quarantined: BTreeMap<(String, String), usize>,
    failures: Vec<String>,
}

impl Tally {
    fn run(&mut self, engine: &Engine, path: &Path) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        decode_path(path, &DecodeOptions::default(), &mut |item| match item {
            DecodeItem::Record(rec) => {
                let source = rec.source;
                *self.records.entry(source).or_default() += 1;
                let timed = has_time_field(source, &rec.fields);
                let what = kind(source, &rec.fields);
                match engine.normalize(rec) {
                    Ok(n) => {
                        *self.per_class.entry((source, n.class_uid)).or_default() += 1;
                        *self.per_mapping.entry(n.mapping).or_default() += 1;
                    }
                    Err(r) => {
                        *self.rejected.entry((source, r.reason)).or_default() += 1;
                        match r.reason {
                            "missing_time" if !timed => {
                                *self.timeless.entry(source).or_default() += 1
                            }
                            "no_mapping" => {
                                *self
                                    .no_mapping
                                    .entry(format!("{source} {what}"))
                                    .or_default() += 1;
                                self.fail(format!("[no_mapping] {}", r.detail));
                            }
                            _ => self.fail(format!("[{}] {what}: {}", r.reason, r.detail)),
                        }
                    }
                }
            }
            DecodeItem::Quarantined(q) => {
                *self
                    .quarantined
                    .entry((name.clone(), q.reason.clone()))
                    .or_default() += 1;
                assert!(!q.detail.is_empty(), "{name}: quarantine without a detail");
            }
        })
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    fn fail(&mut self, msg: String) {
        if self.failures.len() < 30 {
            self.failures.push(msg);
        }
    }

    fn print(&self, what: &str) {
        eprintln!("== {what}");
        eprintln!("records per source: {:?}", self.records);
        eprintln!("events per (source, class_uid): {:?}", self.per_class);
        eprintln!("events per mapping: {:#?}", self.per_mapping);
        eprintln!("rejections per (source, reason): {:?}", self.rejected);
        eprintln!(
            "missing_time on records without any time field: {:?}",
            self.timeless
        );
        eprintln!("no_mapping: {:?}", self.no_mapping);
        eprintln!(
            "decoder quarantine per (file, reason): {:?}",
            self.quarantined
        );
    }
}

#[test]
fn every_cloudtrail_guardduty_and_vpcflow_record_normalizes() {
    let root = data_root();
    let cloud = root.join("cloud");
    if !cloud.is_dir() {
        eprintln!("skipping: ../shared/data not found");
        return;
    }
    let engine = engine();
    let mut inputs = files(&cloud.join("mordor-aws"), &[".zip"]);
    inputs.push(cloud.join("panther/cloudtrail.ndjson.gz"));
    inputs.extend(files(
        &cloud.join("guardduty"),
        &[".json", ".jsonl", ".txt"],
    ));
    inputs.push(cloud.join("panther/guardduty.ndjson"));
    inputs.extend(files(&cloud.join("vpcflow"), &[".log"]));
    inputs.push(cloud.join("panther/vpcflow.ndjson"));
    let mut t = Tally::default();
    for p in &inputs {
        t.run(&engine, p);
    }
    t.print("CloudTrail, GuardDuty, VPC Flow Logs");
    assert!(
        t.failures.is_empty(),
        "rejected records:\n{}",
        t.failures.join("\n")
    );
    for source in [Source::Cloudtrail, Source::Guardduty, Source::Vpcflow] {
        assert_eq!(t.rejected.get(&(source, "ocsf_invalid")), None, "{source}");
        assert_eq!(t.rejected.get(&(source, "no_mapping")), None, "{source}");
        // Every missing_time is a record without any time field.
        assert_eq!(
            t.rejected.get(&(source, "missing_time")),
            t.timeless.get(&source),
            "{source}: missing_time on a record that has a time field"
        );
    }
    let sources: Vec<&Source> = t.records.keys().collect();
    assert_eq!(
        sources,
        [&Source::Cloudtrail, &Source::Guardduty, &Source::Vpcflow],
        "unexpected sources decoded"
    );
    // 103 Mordor + 475 Panther CloudTrail; 25 + 8 GuardDuty findings less the broken file;
    // 33 VPC Flow text rows + 23 Panther VPC records.
    assert_eq!(t.records.get(&Source::Cloudtrail), Some(&578));
    assert_eq!(t.records.get(&Source::Guardduty), Some(&32));
    assert_eq!(t.records.get(&Source::Vpcflow), Some(&56));
    let expected_quarantine = |file: &str, reason: &str| {
        (file == "invalid-json-syntax.txt" && reason == "json_invalid")
            || (file == "aws_s3_honeybucketlogs.zip" && reason == "unknown_format")
    };
    let bad: Vec<_> = t
        .quarantined
        .keys()
        .filter(|(f, r)| !expected_quarantine(f, r))
        .collect();
    assert!(bad.is_empty(), "unexpected decoder quarantines: {bad:?}");
    assert!(t.quarantined.contains_key(&(
        "invalid-json-syntax.txt".to_owned(),
        "json_invalid".to_owned()
    )));
}

#[test]
fn other_panther_logs_are_reported() {
    let panther = data_root().join("cloud/panther");
    if !panther.is_dir() {
        eprintln!("skipping: ../shared/data not found");
        return;
    }
    let engine = engine();
    let mine = ["cloudtrail.ndjson.gz", "guardduty.ndjson", "vpcflow.ndjson"];
    let mut t = Tally::default();
    for p in files(&panther, &[".ndjson", ".ndjson.gz"]) {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if !mine.contains(&name) {
            t.run(&engine, &p);
        }
    }
    t.print("other Panther logs (outside the issue)");
    let invalid: usize = t
        .rejected
        .iter()
        .filter(|((_, r), _)| *r == "ocsf_invalid")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        invalid, 0,
        "ocsf_invalid among the other Panther logs: {:?}",
        t.failures
    );
}

#[test]
fn phishing_and_malformed_email_normalize() {
    let email = data_root().join("email");
    if !email.is_dir() {
        eprintln!("skipping: ../shared/data not found");
        return;
    }
    let engine = engine();
    let mut t = Tally::default();
    for rel in [
        "phishing/nazario/phishing_nazario_yearly_2015-2020.tar.xz",
        "malformed/malformed_stalwart_mail-parser.tar.xz",
    ] {
        t.run(&engine, &email.join(rel));
    }
    t.print("email: phishing_nazario_yearly_2015-2020 + malformed_stalwart_mail-parser");
    assert_eq!(
        t.rejected.get(&(Source::Email, "ocsf_invalid")),
        None,
        "{:?}",
        t.failures
    );
    assert_eq!(t.rejected.get(&(Source::Email, "no_mapping")), None);
    assert_eq!(
        t.rejected.get(&(Source::Email, "missing_time")),
        t.timeless.get(&Source::Email)
    );
    assert!(t.records.get(&Source::Email).copied().unwrap_or(0) > 1000);
}

//! The official OCSF example mappings (`/work/shared/data/ocsf/examples/mappings`, targeting OCSF
//! 1.0.0-rc.2 … 1.5.0, see its SOURCES.md) validated against the 1.8.0 table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use shrike_ocsf::Schema;

const EXAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/ocsf/examples/mappings"
);

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|e| e == "ocsf" || e == "json") {
            out.push(p);
        }
    }
}

/// `"Detection Finding"` → `"detection_finding"`, to compare with the table's class name.
fn snake(caption: &str) -> String {
    caption.trim().to_lowercase().replace([' ', '-'], "_")
}

#[derive(Debug, Default)]
struct Outcome {
    /// Files that are not strict JSON (or empty) upstream.
    not_json: Vec<String>,
    /// Events whose `class_uid`/`class_name` is not a 1.8.0 class (renumbered or removed).
    other_class: Vec<String>,
    /// Valid against 1.8.0.
    pass: Vec<String>,
    /// Invalid against 1.8.0: file → rendered errors.
    fail: BTreeMap<String, Vec<String>>,
}

fn run() -> Option<Outcome> {
    let root = Path::new(EXAMPLES);
    if !root.is_dir() {
        return None;
    }
    let schema = Schema::embedded();
    let mut all = Vec::new();
    files(root, &mut all);
    let mut o = Outcome::default();
    for path in all {
        let name = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let Ok(bytes) = std::fs::read(&path) else {
            o.not_json.push(name);
            continue;
        };
        let events = match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Array(a)) => a,
            Ok(v) => vec![v],
            Err(_) => {
                o.not_json.push(name);
                continue;
            }
        };
        for (i, ev) in events.iter().enumerate() {
            let label = if events.len() > 1 {
                format!("{name}[{i}]")
            } else {
                name.clone()
            };
            // Raw inputs stored as .json (e.g. eks.json) have no class_uid: not OCSF output.
            let Some(uid) = ev.get("class_uid").and_then(Value::as_u64) else {
                continue;
            };
            let class = u32::try_from(uid)
                .ok()
                .and_then(|u| schema.table().classes.get(&u));
            let same_class = class.is_some_and(|c| {
                ev.get("class_name")
                    .and_then(Value::as_str)
                    // Ignore a plural `s`: Okta's sample says "Detection Findings" for 2004.
                    .is_none_or(|n| snake(n).trim_end_matches('s') == c.name.trim_end_matches('s'))
            });
            if !same_class {
                o.other_class.push(label);
                continue;
            }
            let errs = schema.validate(ev);
            if errs.is_empty() {
                o.pass.push(label);
            } else {
                o.fail
                    .insert(label, errs.iter().map(ToString::to_string).collect());
            }
        }
    }
    Some(o)
}

#[test]
fn official_examples_against_1_8_0() {
    let Some(o) = run() else {
        eprintln!("skipping: {EXAMPLES} not present");
        return;
    };
    for (f, e) in &o.fail {
        eprintln!("upstream example {f} fails against 1.8.0:");
        for x in e {
            eprintln!("    {x}");
        }
    }
    // Not strict JSON upstream (see examples/SOURCES.md): trailing commas, `//` comments,
    // two documents concatenated, one empty file.
    assert_eq!(
        o.not_json,
        [
            "bloblang/AWS/route53/v1.1.0/samples/OCSF_dns_activity.json",
            "markdown/AWS/v1.5.0/CloudTrail/API Activity/samples/generic_api_activity.ocsf",
            "markdown/AWS/v1.5.0/CloudTrail/Authentication/samples/authentication.ocsf",
            "markdown/AWS/v1.5.0/EKS Audit Logs/samples/eks.ocsf",
            "markdown/Zeek/v1.3.0/dns_log/samples/dns_log.ocsf",
            "markdown/Zeek/v1.3.0/rdp_log/samples/rdp_log.ocsf",
            "markdown/Zeek/v1.3.0/smtp_log/samples/smtp_log.ocsf",
        ]
    );
    // 1.0.0-rc.2 class uids renumbered later: 3005 "API Activity" (now 6003; 3005 is User
    // Access Management), 1010 "Windows Resource Activity" (now the windows extension; 1010 is
    // Peripheral Activity). Their class_name differs, so they are not validated.
    assert_eq!(
        o.other_class,
        [
            "markdown/AWS/v1.0.0-rc.2/CloudTrail/API Activity/samples/generic_api_activity.ocsf",
            "markdown/Microsoft/Windows Events/4663/4663_0.json",
        ]
    );
    assert_eq!(o.pass.len(), 53, "valid against 1.8.0: {:#?}", o.pass);
    // Known upstream differences from 1.8.0 (FIXME upstream, not here):
    // - route53 v1.0.0 (bloblang): no type_uid, `time`/`port` as strings, `answers` not an
    //   array, `cloud.account_uid` (removed in 1.0.0; now `cloud.account.uid`),
    //   `connection_info.direction_id` missing.
    // - VPC Flow (dataprepper): type_uid 400106 with activity_id 5.
    // - AWS 1.0.0-rc.2: rc-era `user.uuid`, `user.account_uid`, `mfa`, `cloud.account_uid`,
    //   `resources[].details`, `cve.cvss` as an object (now an array).
    // - SiLK: no `time`; `start_time`/`end_time` as strings; fractional `duration`.
    // - Falco (0.1.0 schema): `classname`.
    // - QRadar: no severity_id/type_uid, camelCase analytic fields, enrichments without
    //   the required `data`, numeric `metadata.original_time`.
    // - Windows Events (rc.2): `user.account_type(_id)` (moved to `account`); 4661/4673 carry
    //   class_uid 1010 without class_name, so they are checked as Peripheral Activity and fail
    //   on `win_resource`/`peripheral_device`.
    // - SSC (1.0.0): numeric `confidence` (now a string), `-1` enum values, top-level `data`,
    //   `resources[].owner` as a string, `resources[].group_name`.
    // - Zeek http 1.3.0: `message` as an array, `x_forwarded_for` as a string.
    // - Zeek conn 1.4.0: `connection_info.community_id` (not an attribute of network_connection_info).
    // - Zeek x509 1.4.0: type_uid 300299 on class 4001, string `sans`, numeric certificate
    //   version, `not_valid_before/after`, top-level `service`/`user`, no `tls.version`.
    let fail_counts: Vec<(&str, usize)> =
        o.fail.iter().map(|(f, e)| (f.as_str(), e.len())).collect();
    assert_eq!(
        fail_counts,
        [
            ("bloblang/AWS/route53/v1.0.0/samples/OCSF_dns_activity.json", 6),
            ("dataprepper/AWS/v1.1.0/VPC Flow/samples/vpcflowlog.ocsf", 1),
            ("markdown/AWS/v1.0.0-rc.2/CloudTrail/Account Change/samples/account_change.ocsf", 3),
            ("markdown/AWS/v1.0.0-rc.2/CloudTrail/Authentication/samples/authentication.ocsf", 4),
            ("markdown/AWS/v1.0.0-rc.2/Route53/samples/route53.ocsf", 1),
            ("markdown/AWS/v1.0.0-rc.2/Security Hub/samples/Security Hub.ocsf", 3),
            ("markdown/AWS/v1.0.0-rc.2/VPC Flowlogs/samples/vpcflowlog.ocsf", 1),
            ("markdown/CERT-NetSA at CMU-SEI/SiLK Network Flow Data/samples/SampleOCSF_FCCX.json", 4),
            ("markdown/Falco/samples/falco.ocsf", 1),
            ("markdown/IBM/QRadar SIEM/samples/offense.ocsf", 23),
            ("markdown/Microsoft/Windows Events/4624/4624_0.json", 4),
            ("markdown/Microsoft/Windows Events/4625/4625_0.json", 4),
            ("markdown/Microsoft/Windows Events/4661/4661.json", 5),
            ("markdown/Microsoft/Windows Events/4673/4673_0.json", 5),
            ("markdown/Microsoft/Windows Events/4688/4688_0.json", 2),
            ("markdown/Microsoft/Windows Events/4689/4689_0.json", 2),
            ("markdown/SSC/samples/malware_infection_detected_sample.json[0]", 9),
            ("markdown/SSC/samples/malware_infection_detected_sample.json[1]", 9),
            ("markdown/SSC/samples/malware_infection_detected_sample.json[2]", 9),
            ("markdown/SSC/samples/malware_infection_detected_sample.json[3]", 9),
            ("markdown/Zeek/v1.3.0/http_log/samples/http_log.ocsf", 2),
            ("markdown/Zeek/v1.4.0/conn_log/samples/conn_log.ocsf", 1),
            ("markdown/Zeek/v1.4.0/x509_log/samples/x509_log.ocsf", 9),
        ]
    );
}

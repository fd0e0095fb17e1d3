//! Decodes every file under the shared corpus's `endpoint/`, `network/` and `cloud/` folders and
//! checks the record counts against the ones their `SOURCES.md` files state, and that the only
//! quarantine reasons are the expected ones (damaged upstream archives, deliberately malformed
//! fixtures, tables that are not a supported source, documentation files).
//!
//! Skipped (with a message) when `../shared/data` is not next to the repository.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value;
use shrike_normalize::decode::{decode_path, DecodeOptions};
use shrike_normalize::{DecodeItem, Source};

/// What one file produced.
#[derive(Debug, Default, Clone)]
struct FileCounts {
    by_source: BTreeMap<Source, u64>,
    /// Zeek records per `_path`.
    zeek_paths: BTreeMap<String, u64>,
    by_reason: BTreeMap<String, u64>,
    details: Vec<String>,
}

impl FileCounts {
    fn records(&self) -> u64 {
        self.by_source.values().sum()
    }
    fn of(&self, s: Source) -> u64 {
        self.by_source.get(&s).copied().unwrap_or(0)
    }
    fn reasons(&self) -> Vec<&str> {
        self.by_reason.keys().map(String::as_str).collect()
    }
}

fn data_root() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    root.is_dir().then_some(root)
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn decode_all(root: &Path) -> BTreeMap<String, FileCounts> {
    let opts = DecodeOptions::default();
    let mut out = BTreeMap::new();
    for family in ["endpoint", "network", "cloud"] {
        for file in files_under(&root.join(family)) {
            let rel = file
                .strip_prefix(root)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut c = FileCounts::default();
            let res = decode_path(&file, &opts, &mut |item| match item {
                DecodeItem::Record(r) => {
                    *c.by_source.entry(r.source).or_insert(0) += 1;
                    if r.source == Source::Zeek {
                        let p = r
                            .fields
                            .get("_path")
                            .and_then(Value::as_str)
                            .unwrap_or("(none)")
                            .to_owned();
                        *c.zeek_paths.entry(p).or_insert(0) += 1;
                    }
                }
                DecodeItem::Quarantined(q) => {
                    *c.by_reason.entry(q.reason.clone()).or_insert(0) += 1;
                    if c.details.len() < 3 {
                        c.details.push(format!("{}: {}", q.reason, q.detail));
                    }
                }
            });
            assert!(res.is_ok(), "{rel}: io error {res:?}");
            out.insert(rel, c);
        }
    }
    out
}

/// Sums the counts of every file whose relative path starts with `prefix`.
fn sum(files: &BTreeMap<String, FileCounts>, prefix: &str) -> FileCounts {
    let mut total = FileCounts::default();
    for (_, c) in files.iter().filter(|(p, _)| p.starts_with(prefix)) {
        for (s, n) in &c.by_source {
            *total.by_source.entry(*s).or_insert(0) += n;
        }
        for (s, n) in &c.zeek_paths {
            *total.zeek_paths.entry(s.clone()).or_insert(0) += n;
        }
        for (s, n) in &c.by_reason {
            *total.by_reason.entry(s.clone()).or_insert(0) += n;
        }
    }
    total
}

fn get<'a>(files: &'a BTreeMap<String, FileCounts>, rel: &str) -> &'a FileCounts {
    files
        .get(rel)
        .unwrap_or_else(|| panic!("{rel} was not decoded"))
}

/// Documentation, licences, metadata and tables that are not telemetry: the decoder must say
/// `unknown_format` about them and nothing else.
fn is_not_telemetry(rel: &str) -> bool {
    let base = rel.rsplit('/').next().unwrap_or(rel);
    base.ends_with(".md")
        || base.ends_with(".yaml")
        || base.ends_with(".yml")
        || base.starts_with("LICENSE")
        || base == "labels.config"
        || rel.starts_with("network/nsl-kdd/")
}

#[test]
fn shared_corpus_decodes_with_stated_counts() {
    let Some(root) = data_root() else {
        eprintln!("skipping: ../shared/data is not present next to the repository");
        return;
    };
    let started = Instant::now();
    let files = decode_all(&root);
    let elapsed = started.elapsed();

    // Summary table.
    let all = sum(&files, "");
    eprintln!("decoded {} files in {elapsed:.1?}", files.len());
    eprintln!("{:<12} {:>10}", "source", "records");
    for (s, n) in &all.by_source {
        eprintln!("{:<12} {:>10}", s.as_str(), n);
    }
    eprintln!("{:<22} {:>6}", "quarantine reason", "items");
    for (r, n) in &all.by_reason {
        eprintln!("{r:<22} {n:>6}");
    }
    for (rel, c) in &files {
        if !c.by_reason.is_empty() && !is_not_telemetry(rel) {
            eprintln!("  {rel}: {:?} {:?}", c.by_reason, c.details);
        }
    }

    // Non-telemetry files: unknown_format only, no records.
    for (rel, c) in files.iter().filter(|(p, _)| is_not_telemetry(p)) {
        assert_eq!(c.records(), 0, "{rel}: {:?}", c.by_source);
        assert_eq!(c.reasons(), vec!["unknown_format"], "{rel}");
    }

    // --- endpoint/mordor: 308,628 JSON events, of which AAD audit (4), M365 Defender (9),
    // OfficeActivity (1) and Sysmon-for-Linux over syslog (93) are not Windows events.
    let mordor = sum(&files, "endpoint/mordor/");
    assert_eq!(mordor.of(Source::Windows), 308_628 - 4 - 9 - 1 - 93);
    assert_eq!(
        mordor.by_reason.get("unknown_source"),
        Some(&(4 + 9 + 1 + 93))
    );
    assert_eq!(mordor.by_reason.get("archive_truncated"), Some(&3));
    for damaged in [
        "endpoint/mordor/atomic/windows/defense_evasion/host/empire_wdigest_downgrade.tar.gz",
        "endpoint/mordor/atomic/windows/persistence/host/covenant_persistwmi.tar.gz",
        "endpoint/mordor/atomic/windows/persistence/host/covenant_persiststartup.tar.gz",
    ] {
        let c = get(&files, damaged);
        assert_eq!(c.reasons(), vec!["archive_truncated"], "{damaged}");
    }
    assert_eq!(
        get(
            &files,
            "endpoint/mordor/atomic/windows/defense_evasion/host/empire_wdigest_downgrade.tar.gz"
        )
        .of(Source::Windows),
        2710
    );
    assert_eq!(
        get(
            &files,
            "endpoint/mordor/atomic/windows/persistence/host/covenant_persistwmi.tar.gz"
        )
        .of(Source::Windows),
        1001
    );
    assert_eq!(
        get(
            &files,
            "endpoint/mordor/atomic/windows/persistence/host/covenant_persiststartup.tar.gz"
        )
        .of(Source::Windows),
        1238
    );
    assert_eq!(
        get(&files, "endpoint/mordor/compound/LSASS_campaign_01/metasploit_logonpasswords_lsass_memory_dump.zip").of(Source::Windows),
        53_698
    );
    assert_eq!(
        get(
            &files,
            "endpoint/mordor/compound/GoldenSAMLADFSMailAccess/WindowsEvents.Zip"
        )
        .of(Source::Windows),
        38
    );
    let zeek_zip = get(
        &files,
        "endpoint/mordor/compound/LSASS_campaign_01/metasploit_logonpasswords_lsass_memory_dump_zeek_logs.zip",
    );
    assert!(zeek_zip.of(Source::Zeek) > 0 && zeek_zip.by_reason.is_empty());
    let mordor_reasons: Vec<&str> = mordor.reasons();
    assert_eq!(
        mordor_reasons,
        vec!["archive_truncated", "unknown_format", "unknown_source"]
    );

    // --- endpoint/evtx: 61 files, 537 event records, parsed without record errors.
    let evtx = sum(&files, "endpoint/evtx/");
    assert_eq!(evtx.of(Source::Windows), 537);
    assert_eq!(evtx.reasons(), vec!["unknown_format"]);

    // --- network/suricata and c2 EVE: records per file as stated.
    for (rel, n) in [
        (
            "network/suricata/wrccdc-alert-samples/wrccdc-2018.alerts.eve.json.xz",
            207,
        ),
        (
            "network/suricata/wrccdc-alert-samples/wrccdc-2017.alerts.eve.json.xz",
            161,
        ),
        (
            "network/suricata/wrccdc-alert-samples/first-org-conf-2015.alerts.eve.json.xz",
            136,
        ),
        (
            "network/suricata/wrccdc-alert-samples/honeypot-2018.alerts.eve.json.xz",
            44,
        ),
        ("network/suricata/nmap-webscan-ec2-2025/eve.json.xz", 691),
        ("network/suricata/ssh-tls-flow-2023/eve.json.xz", 253),
        ("network/c2/icedid-2022-03-21-mta/eve.json.xz", 2854),
        ("network/c2/icedid-2023-11/eve.json.xz", 235),
    ] {
        let c = get(&files, rel);
        assert_eq!((c.of(Source::Suricata), c.records()), (n, n), "{rel}");
        assert!(c.by_reason.is_empty(), "{rel}: {:?}", c.by_reason);
    }

    // --- network/zeek/wrccdc2018: TSV and JSON hold the same counts per log.
    let wrccdc: &[(&str, u64)] = &[
        ("dns", 53615),
        ("ssl", 49474),
        ("weird", 24202),
        ("rdp", 4122),
        ("syslog", 2378),
        ("known_services", 1579),
        ("ocsp", 1308),
        ("smtp", 1188),
        ("ntp", 904),
        ("ntlm", 422),
        ("smb_mapping", 393),
        ("software", 376),
        ("x509", 348),
        ("modbus", 268),
        ("known_hosts", 253),
        ("notice", 207),
        ("ftp", 93),
        ("dce_rpc", 78),
        ("dpd", 77),
        ("snmp", 65),
        ("known_certs", 35),
        ("ssh", 22),
        ("pe", 21),
        ("smb_files", 13),
        ("kerberos", 11),
        ("stats", 6),
        ("capture_loss", 3),
        ("rfb", 3),
        ("ldap_search", 1),
        ("packet_filter", 1),
    ];
    for (log, n) in wrccdc {
        for rel in [
            format!("network/zeek/wrccdc2018/tsv/{log}.log.xz"),
            format!("network/zeek/wrccdc2018/json/{log}.json.xz"),
        ] {
            let c = get(&files, &rel);
            assert_eq!(c.of(Source::Zeek), *n, "{rel}");
            assert_eq!(c.zeek_paths.get(*log), Some(n), "{rel}: {:?}", c.zeek_paths);
            assert!(c.by_reason.is_empty(), "{rel}: {:?}", c.by_reason);
        }
    }

    // --- network/zeek/rita-proxy (TSV) and rita-json.
    let rita: &[(&str, u64)] = &[
        ("conn", 463),
        ("http", 407),
        ("ssl", 407),
        ("dns", 942),
        ("dpd", 371),
        ("files", 194),
        ("x509", 173),
        ("weird", 131),
        ("dhcp", 57),
        ("stats", 217),
        ("capture_loss", 102),
        ("known_hosts", 4),
        ("known_services", 4),
        ("software", 4),
        ("tunnel", 1),
        ("packet_filter", 1),
    ];
    for (log, n) in rita {
        let rel = format!("network/zeek/rita-proxy/{log}.log.xz");
        let c = get(&files, &rel);
        assert_eq!(c.zeek_paths.get(*log), Some(n), "{rel}: {:?}", c.zeek_paths);
        assert!(c.by_reason.is_empty(), "{rel}: {:?}", c.by_reason);
    }
    for (log, n) in [("conn", 29), ("dns", 34), ("http", 10), ("ssl", 10)] {
        let rel = format!("network/zeek/rita-json/{log}.log");
        assert_eq!(get(&files, &rel).zeek_paths.get(log), Some(&n), "{rel}");
    }

    // --- network/c2/stratosphere-ctu: labelled and JSON Zeek logs.
    let ctu = "network/c2/stratosphere-ctu";
    for (rel, log, n) in [
        (
            "001-zeek-scenario-malicious/labeled-conn.log.xz",
            "conn",
            244 + 739 + 9,
        ),
        ("003-zeek-scenario-malicious/conn.log.xz", "conn", 361),
        ("003-zeek-scenario-malicious/dns.log.xz", "dns", 1),
        ("005-zeek-scenario-malicious/conn.log.xz", "conn", 992),
        ("005-zeek-scenario-malicious/dns.log.xz", "dns", 992),
        ("005-zeek-scenario-malicious/http.log.xz", "http", 992),
        ("007-zeek-scenario-ssh-infected/ssh.log.xz", "ssh", 8528),
        ("007-zeek-scenario-ssh-infected/http.log.xz", "http", 6721),
        (
            "007-zeek-scenario-ssh-infected/software.log.xz",
            "software",
            724,
        ),
        (
            "007-zeek-scenario-ssh-infected/notice.log.xz",
            "notice",
            345,
        ),
        ("009-zeek-malicious/dns.log.labeled.xz", "dns", 24181),
        ("009-zeek-malicious/files.log.labeled.xz", "files", 2029),
        ("009-zeek-malicious/http.log.labeled.xz", "http", 1464),
        ("009-zeek-malicious/ssl.log.labeled.xz", "ssl", 744),
        ("009-zeek-malicious/weird.log.labeled.xz", "weird", 2838),
        ("009-zeek-malicious/notice.log.labeled.xz", "notice", 39),
        ("009-zeek-malicious/dpd.log.labeled.xz", "dpd", 4),
    ] {
        let rel = format!("{ctu}/{rel}");
        let c = get(&files, &rel);
        assert_eq!(c.zeek_paths.get(log), Some(&n), "{rel}: {:?}", c.zeek_paths);
        assert!(c.by_reason.is_empty(), "{rel}: {:?}", c.by_reason);
    }
    let network = sum(&files, "network/");
    assert_eq!(network.reasons(), vec!["unknown_format"]);

    // --- cloud: CloudTrail (Panther 475 + Mordor AWS 103), GuardDuty (Panther 8 + 24 findings
    // in guardduty/, whose deliberately invalid file is one json_invalid), VPC Flow (Panther 23
    // + 33 text records).
    let panther = "cloud/panther";
    let ct = get(&files, &format!("{panther}/cloudtrail.ndjson.gz"));
    assert_eq!((ct.of(Source::Cloudtrail), ct.records()), (475, 475));
    let gd = get(&files, &format!("{panther}/guardduty.ndjson"));
    assert_eq!((gd.of(Source::Guardduty), gd.records()), (8, 8));
    let vpc = get(&files, &format!("{panther}/vpcflow.ndjson"));
    assert_eq!((vpc.of(Source::Vpcflow), vpc.records()), (23, 23));
    let mordor_aws = get(
        &files,
        "cloud/mordor-aws/atomic/aws/collection/ec2_proxy_s3_exfiltration.zip",
    );
    assert_eq!(mordor_aws.of(Source::Cloudtrail), 103);
    let guardduty = sum(&files, "cloud/guardduty/");
    assert_eq!(guardduty.of(Source::Guardduty), 24);
    assert_eq!(guardduty.records(), 24);
    assert_eq!(guardduty.by_reason.get("json_invalid"), Some(&1));
    let vpcflow = sum(&files, "cloud/vpcflow/");
    assert_eq!(vpcflow.of(Source::Vpcflow), 7 + 8 + 6 + 4 + 2 + 6);
    assert_eq!(vpcflow.reasons(), vec!["unknown_format"]);
    let cloud = sum(&files, "cloud/");
    assert_eq!(cloud.of(Source::Cloudtrail), 475 + 103);
    assert_eq!(cloud.of(Source::Guardduty), 8 + 24);
    assert_eq!(cloud.of(Source::Vpcflow), 23 + 33);
    // Panther's other log types (Okta, GCP, Azure, M365, ...) are not Shrike sources.
    let other_panther = files
        .iter()
        .filter(|(p, _)| {
            p.starts_with(panther)
                && p.contains(".ndjson")
                && !p.contains("cloudtrail")
                && !p.contains("guardduty")
                && !p.contains("vpcflow")
        })
        .map(|(_, c)| c.by_reason.get("unknown_source").copied().unwrap_or(0))
        .sum::<u64>();
    assert!(other_panther > 1000, "{other_panther}");
    assert_eq!(
        cloud.reasons(),
        vec!["json_invalid", "unknown_format", "unknown_source"]
    );
}

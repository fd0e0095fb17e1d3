//! Decoder tests on small hand-written fixtures (`tests/fixtures/decode/`, made-up values in the
//! real shapes) and on containers built in the test: one test per source and shape, then the
//! container and path behaviour.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use shrike_normalize::decode::{
    decode_bytes, decode_path, decode_reader, DecodeOptions, DecodeStats, Format,
};
use shrike_normalize::{DecodeItem, RawRecord, Source};
use shrike_types::Quarantined;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/decode")
        .join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

#[derive(Debug, Default)]
struct Out {
    records: Vec<RawRecord>,
    quarantined: Vec<Quarantined>,
    stats: DecodeStats,
}

impl Out {
    fn reasons(&self) -> Vec<&str> {
        self.quarantined.iter().map(|q| q.reason.as_str()).collect()
    }
    fn field(&self, i: usize, key: &str) -> Option<&Value> {
        self.records.get(i).and_then(|r| r.fields.get(key))
    }
}

fn collect(f: impl FnOnce(&mut dyn FnMut(DecodeItem)) -> DecodeStats) -> Out {
    let mut out = Out::default();
    let mut records = Vec::new();
    let mut quarantined = Vec::new();
    let stats = f(&mut |item| match item {
        DecodeItem::Record(r) => records.push(r),
        DecodeItem::Quarantined(q) => quarantined.push(q),
    });
    out.records = records;
    out.quarantined = quarantined;
    out.stats = stats;
    assert_eq!(out.stats.records, out.records.len() as u64);
    assert_eq!(out.stats.quarantined, out.quarantined.len() as u64);
    out
}

fn bytes_with(name: &str, data: &[u8], opts: &DecodeOptions) -> Out {
    collect(|sink| decode_bytes(name, data, opts, sink))
}

fn bytes(name: &str, data: &[u8]) -> Out {
    bytes_with(name, data, &DecodeOptions::default())
}

fn file(name: &str) -> Out {
    bytes(name, &fixture(name))
}

fn sources(out: &Out) -> Vec<Source> {
    out.records.iter().map(|r| r.source).collect()
}

// ---------------------------------------------------------------- Windows

#[test]
fn nxlog_sysmon_ndjson_keeps_good_lines_around_bad_ones() {
    let out = file("sysmon_nxlog.ndjson");
    assert_eq!(sources(&out), vec![Source::Windows; 3]);
    assert_eq!(
        out.reasons(),
        vec![
            "json_invalid",
            "unknown_source",
            "not_an_object",
            "not_an_object"
        ]
    );
    // Canonical system fields, moved keys gone, other keys as they were.
    assert_eq!(out.field(0, "Computer"), Some(&json!("ws01.corp.example")));
    assert_eq!(
        out.field(0, "Provider"),
        Some(&json!("Microsoft-Windows-Sysmon"))
    );
    // NXLog's EventTime has no zone (collector local time): the shipper's UTC @timestamp wins.
    assert_eq!(
        out.field(0, "TimeCreated"),
        Some(&json!("2023-05-04T10:11:13.500Z"))
    );
    assert_eq!(
        out.field(0, "EventTime"),
        Some(&json!("2023-05-04 10:11:12"))
    );
    assert_eq!(out.field(0, "EventRecordID"), Some(&json!(1001)));
    assert_eq!(out.field(0, "ExecutionThreadID"), Some(&json!(3104)));
    assert_eq!(out.field(0, "ProcessId"), Some(&json!("4242")));
    assert_eq!(out.field(0, "Message"), Some(&json!("Process Create")));
    for gone in [
        "Hostname",
        "SourceName",
        "@timestamp",
        "RecordNumber",
        "ThreadID",
    ] {
        assert_eq!(out.field(0, gone), None, "{gone}");
    }
    assert_eq!(
        out.field(1, "TimeCreated"),
        Some(&json!("2023-05-04T10:11:14.250Z"))
    );
    assert_eq!(out.field(1, "EventRecordID"), Some(&json!(1002)));
    assert_eq!(out.field(2, "EventID"), Some(&json!(4624)));
    assert_eq!(out.field(2, "LogonType"), Some(&json!("3")));

    // Origins: record index in the stream, byte offset of the line; raw bytes are the line.
    let first = &out.records[0];
    assert_eq!(first.origin.path, "sysmon_nxlog.ndjson");
    assert_eq!(
        (first.origin.index, first.origin.offset),
        (Some(0), Some(0))
    );
    let line0 = fixture("sysmon_nxlog.ndjson");
    let end = line0
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(line0.len());
    assert_eq!(first.raw, &line0[..end]);
    let bad = &out.quarantined[0];
    assert_eq!(bad.stage, "decode");
    assert_eq!(bad.origin.index, Some(2));
    assert!(bad.detail.contains("record 2"), "{}", bad.detail);
    assert!(out.quarantined[1].detail.contains("OperationName"));
}

#[test]
fn winlogbeat_6_and_8() {
    let out = file("winlogbeat.ndjson");
    assert_eq!(sources(&out), vec![Source::Windows; 2]);
    assert!(out.quarantined.is_empty());
    let wb6 = &out.records[0].fields;
    assert_eq!(
        wb6.get("Channel"),
        Some(&json!("Microsoft-Windows-Sysmon/Operational"))
    );
    assert_eq!(wb6.get("EventID"), Some(&json!(13)));
    assert_eq!(wb6.get("EventRecordID"), Some(&json!(2275)));
    assert_eq!(wb6.get("Computer"), Some(&json!("hr01.corp.example")));
    assert_eq!(wb6.get("UserID"), Some(&json!("S-1-5-18")));
    assert_eq!(wb6.get("ExecutionProcessID"), Some(&json!(1960)));
    assert_eq!(
        wb6.get("TargetObject")
            .and_then(Value::as_str)
            .map(|s| s.ends_with("UseLogonCredential")),
        Some(true)
    );
    assert_eq!(
        wb6.get("beat"),
        Some(&json!({"hostname": "wec01", "name": "wec01", "version": "6.7.0"}))
    );
    assert!(!wb6.contains_key("event_data") && !wb6.contains_key("log_name"));
    let wb8 = &out.records[1].fields;
    assert_eq!(wb8.get("EventID"), Some(&json!(4688)));
    assert_eq!(wb8.get("Computer"), Some(&json!("ws02.corp.example")));
    assert_eq!(wb8.get("EventRecordID"), Some(&json!(88123)));
    assert_eq!(wb8.get("ExecutionThreadID"), Some(&json!(7300)));
    assert_eq!(wb8.get("Keywords"), Some(&json!(["Audit Success"])));
    assert_eq!(wb8.get("CommandLine"), Some(&json!("whoami /all")));
    assert_eq!(
        wb8.get("TimeCreated"),
        Some(&json!("2021-03-01T09:00:00.123Z"))
    );
    assert_eq!(wb8.get("winlog"), Some(&json!({"api": "wineventlog"})));
}

#[test]
fn sentinel_exports_parse_event_data_strings() {
    let out = file("sentinel.ndjson");
    assert_eq!(sources(&out), vec![Source::Windows; 2]);
    let sec = &out.records[0].fields;
    assert_eq!(
        sec.get("Provider"),
        Some(&json!("Microsoft-Windows-Security-Auditing"))
    );
    assert_eq!(
        sec.get("TimeCreated"),
        Some(&json!("2022-05-13T08:54:05.21Z"))
    );
    assert_eq!(sec.get("SourceAddress"), Some(&json!("192.0.2.33")));
    assert_eq!(
        sec.get("Application"),
        Some(&json!("\\device\\harddiskvolume2\\app & co\\java.exe"))
    );
    assert_eq!(sec.get("Type"), Some(&json!("SecurityEvent")));
    assert!(!sec.contains_key("EventData"));
    let sysmon = &out.records[1].fields;
    assert_eq!(sysmon.get("DestinationIp"), Some(&json!("198.51.100.20")));
    assert_eq!(sysmon.get("Level"), Some(&json!(4)));
    assert_eq!(
        sysmon.get("Provider"),
        Some(&json!("Microsoft-Windows-Sysmon"))
    );
}

// ---------------------------------------------------------------- Zeek

#[test]
fn zeek_tsv_typed_rows_and_bad_rows() {
    let out = file("zeek_conn.log");
    assert_eq!(sources(&out), vec![Source::Zeek; 4]);
    assert_eq!(out.reasons(), vec!["zeek_bad_row", "zeek_bad_row"]);
    assert!(
        out.quarantined[0].detail.contains("4 fields"),
        "{}",
        out.quarantined[0].detail
    );
    assert!(out.quarantined[1].detail.contains("orig_bytes"));
    let r = &out.records[0].fields;
    assert_eq!(r.get("_path"), Some(&json!("conn")));
    assert_eq!(r.get("ts"), Some(&json!(1704067200.123456)));
    assert_eq!(r.get("id.orig_p"), Some(&json!(49152)));
    assert_eq!(r.get("duration"), Some(&json!(1.5)));
    assert_eq!(r.get("local_orig"), Some(&json!(true)));
    assert_eq!(r.get("tunnel_parents"), Some(&json!([])));
    assert_eq!(r.get("label"), Some(&json!("Benign")));
    let unset = &out.records[1].fields;
    assert!(!unset.contains_key("duration") && !unset.contains_key("local_orig"));
    assert_eq!(unset.get("tunnel_parents"), Some(&json!(["CX1", "CX2"])));
    let escaped = &out.records[2].fields;
    assert_eq!(escaped.get("service"), Some(&json!("http")));
    assert_eq!(escaped.get("history"), Some(&json!("Sh\tx")));
    // Second header block.
    let dns = &out.records[3].fields;
    assert_eq!(dns.get("_path"), Some(&json!("dns")));
    assert_eq!(
        dns.get("answers"),
        Some(&json!(["192.0.2.80", "192.0.2.81"]))
    );
    assert_eq!(dns.get("TTLs"), Some(&json!([60.0, 60.0])));
    assert!(out.records.iter().all(|r| r.raw.first() != Some(&b'#')));
}

#[test]
fn zeek_header_only_and_json() {
    let out = file("zeek_header_only.log");
    assert!(out.records.is_empty() && out.quarantined.is_empty());

    let out = file("dns.json");
    assert_eq!(sources(&out), vec![Source::Zeek; 2]);
    assert_eq!(out.field(0, "_path"), Some(&json!("dns")));
    assert_eq!(
        out.field(1, "ts"),
        Some(&json!("2018-03-24T17:15:20.865716Z"))
    );
    // Inferred from fields when the name says nothing.
    let out = bytes("capture.json", &fixture("dns.json"));
    assert_eq!(out.field(0, "_path"), Some(&json!("dns")));
    // No connection fields: the file name makes it a Zeek software log.
    let out = file("software.log");
    assert_eq!(sources(&out), vec![Source::Zeek]);
    assert_eq!(out.field(0, "_path"), Some(&json!("software")));
    let out = bytes("other.json", &fixture("software.log"));
    assert_eq!(out.reasons(), vec!["unknown_source"]);
}

#[test]
fn zeek_wrong_counts_and_rows_before_header() {
    let data = b"1.0\tC1\n#fields\ta\tb\n#types\tcount\tstring\n1\tx\n1\n1\tx\ty\n2\t(empty)\n";
    let out = bytes_with(
        "x.log",
        data,
        &DecodeOptions {
            format: Format::ZeekTsv,
            ..DecodeOptions::default()
        },
    );
    assert_eq!(out.reasons(), vec!["zeek_bad_row"; 3]);
    assert!(out.quarantined[0].detail.contains("before any #fields"));
    assert_eq!(out.records.len(), 2);
    assert_eq!(out.field(1, "b"), Some(&json!("")));
}

// ---------------------------------------------------------------- Suricata, cloud

#[test]
fn suricata_eve_passes_through() {
    let out = file("eve.json");
    assert_eq!(sources(&out), vec![Source::Suricata; 2]);
    assert_eq!(
        out.field(0, "alert").and_then(|a| a.get("signature_id")),
        Some(&json!(2032086))
    );
    let line0 = fixture("eve.json");
    let v: Value = serde_json::from_slice(&out.records[0].raw).unwrap_or(Value::Null);
    assert_eq!(v.get("flow_id"), Some(&json!(1289348572934021u64)));
    assert!(line0.starts_with(&out.records[0].raw));
}

#[test]
fn cloudtrail_records_envelope_is_streamed() -> TestResult {
    let out = file("cloudtrail_records.json");
    assert_eq!(sources(&out), vec![Source::Cloudtrail; 2]);
    assert_eq!(out.reasons(), vec!["not_an_object"]);
    assert_eq!(out.field(1, "eventName"), Some(&json!("StopLogging")));
    assert_eq!(out.records[0].origin.index, Some(0));
    assert_eq!(out.records[1].origin.index, Some(1));
    let raw: Value = serde_json::from_slice(&out.records[1].raw).unwrap_or(Value::Null);
    assert_eq!(
        raw.get("eventID"),
        Some(&json!("66666666-7777-8888-9999-000000000000"))
    );
    // The same envelope on one line (as CloudTrail writes it to S3) gives the same records,
    // streamed too: the line may be larger than the record limit.
    let compact: Value = serde_json::from_slice(&fixture("cloudtrail_records.json"))?;
    let line = serde_json::to_vec(&compact)?;
    let again = bytes("ct.json", &line);
    assert_eq!(sources(&again), vec![Source::Cloudtrail; 2]);
    assert_eq!(again.records[0].fields, out.records[0].fields);
    let mut small = DecodeOptions::default();
    small.limits.max_record_bytes = 600;
    let again = bytes_with("ct.json", &line, &small);
    assert_eq!(sources(&again), vec![Source::Cloudtrail; 2]);
    // Inside an NDJSON line among other lines, it is unwrapped in memory.
    let mut two = line.clone();
    two.extend_from_slice(b"\n");
    two.extend_from_slice(&line);
    let again = bytes("ct.ndjson", &two);
    assert_eq!(sources(&again), vec![Source::Cloudtrail; 4]);
    Ok(())
}

#[test]
fn guardduty_envelopes_and_hints() {
    let out = file("guardduty_eventbridge.json");
    assert_eq!(sources(&out), vec![Source::Guardduty]);
    assert_eq!(
        out.field(0, "type"),
        Some(&json!("Recon:EC2/PortProbeUnprotectedPort"))
    );
    let env = out.field(0, "_envelope");
    assert_eq!(
        env.and_then(|e| e.get("detail-type")),
        Some(&json!("GuardDuty Finding"))
    );
    assert_eq!(
        env.and_then(|e| e.get("account")),
        Some(&json!("111122223333"))
    );
    assert!(env.and_then(|e| e.get("detail")).is_none());
    // The raw bytes are the whole envelope as read.
    assert_eq!(
        out.records[0].raw,
        fixture("guardduty_eventbridge.json").trim_ascii()
    );

    let out = file("guardduty_findings.json");
    assert_eq!(sources(&out), vec![Source::Guardduty; 2]);
    assert_eq!(out.field(1, "id"), Some(&json!("f3")));
}

#[test]
fn panther_wrapper_keeps_labels_in_envelope() {
    let out = file("panther.ndjson");
    assert_eq!(sources(&out), vec![Source::Cloudtrail, Source::Vpcflow]);
    assert_eq!(out.reasons(), vec!["unknown_source"]);
    assert_eq!(out.field(0, "eventName"), Some(&json!("StopLogging")));
    assert_eq!(
        out.field(0, "eventSource"),
        Some(&json!("cloudtrail.amazonaws.com"))
    );
    assert_eq!(
        out.field(0, "_envelope")
            .and_then(|e| e.get("expected_result")),
        Some(&json!(true))
    );
    assert_eq!(out.field(1, "srcaddr"), Some(&json!("203.0.113.9")));
    assert_eq!(out.field(1, "dstport"), Some(&json!(22)));
    assert_eq!(out.field(1, "log-status"), Some(&json!("OK")));
}

#[test]
fn source_override_skips_detection() {
    let opts = DecodeOptions {
        source: Some(Source::Suricata),
        ..DecodeOptions::default()
    };
    let out = bytes_with("x.json", br#"{"anything": 1}"#, &opts);
    assert_eq!(sources(&out), vec![Source::Suricata]);
}

// ---------------------------------------------------------------- VPC Flow Logs

#[test]
fn vpcflow_text_with_header_and_default_order() {
    let out = file("vpcflow_custom.log");
    assert_eq!(sources(&out), vec![Source::Vpcflow; 3]);
    assert_eq!(out.reasons(), vec!["vpcflow_bad_row"]);
    let r = &out.records[0].fields;
    assert_eq!(r.get("tcp-flags"), Some(&json!(19)));
    assert_eq!(r.get("pkt-srcaddr"), Some(&json!("192.0.2.15")));
    assert_eq!(r.get("account-id"), Some(&json!("111122223333")));
    assert_eq!(r.get("bytes"), Some(&json!(4249)));
    // The double space does not shift the columns.
    assert_eq!(out.field(1, "type"), Some(&json!("IPv4")));
    assert_eq!(out.field(1, "dstport"), Some(&json!(22)));
    let nodata = &out.records[2].fields;
    assert_eq!(nodata.get("log-status"), Some(&json!("NODATA")));
    assert!(!nodata.contains_key("srcaddr") && !nodata.contains_key("instance-id"));

    let out = file("vpcflow_v2.log");
    assert_eq!(sources(&out), vec![Source::Vpcflow; 2]);
    assert_eq!(out.field(1, "action"), Some(&json!("REJECT")));
    assert_eq!(out.field(1, "protocol"), Some(&json!(1)));
}

// ---------------------------------------------------------------- Email

#[test]
fn email_message_and_email_log() {
    let out = file("phish.eml");
    assert_eq!(sources(&out), vec![Source::Email]);
    let r = &out.records[0].fields;
    assert_eq!(
        r.get("from"),
        Some(&json!({"name": "Payments Team", "address": "billing@pay.example.net"}))
    );
    assert_eq!(
        r.get("to"),
        Some(&json!([{"address": "alice@corp.example"}]))
    );
    assert_eq!(
        r.get("reply_to"),
        Some(&json!([{"address": "collect@other.example.org"}]))
    );
    assert_eq!(r.get("subject"), Some(&json!("Invoice overdue")));
    assert_eq!(
        r.get("message_id"),
        Some(&json!("20230504095950.1@pay.example.net"))
    );
    assert_eq!(r.get("received_count"), Some(&json!(2)));
    assert_eq!(r.get("x_originating_ip"), Some(&json!("[198.51.100.77]")));
    assert_eq!(
        r.get("auth").and_then(|a| a.get("spf")),
        Some(&json!("fail"))
    );
    assert!(r.get("date").and_then(Value::as_i64).is_some());
    assert!(r
        .get("size")
        .and_then(Value::as_u64)
        .is_some_and(|s| s > 500));
    let headers = r.get("headers").and_then(Value::as_object);
    assert_eq!(
        headers.and_then(|h| h.get("subject")),
        Some(&json!("Invoice overdue"))
    );
    assert!(headers.is_some_and(|h| !h.contains_key("received")));
    assert!(!r.contains_key("body_text") && !r.contains_key("body_html"));

    let out = file("email_log.ndjson");
    assert_eq!(sources(&out), vec![Source::Email]);
    assert_eq!(out.field(0, "id"), Some(&json!("msg-1")));
    assert_eq!(
        out.field(0, "urls"),
        Some(&json!(["http://pay.example.net/login"]))
    );
    assert_eq!(out.reasons(), vec!["json_wrong_type"]);

    // Format::Email hands the whole input to shrike-ingest.
    let opts = DecodeOptions {
        format: Format::Email,
        ..DecodeOptions::default()
    };
    let out = bytes_with("x", &fixture("phish.eml"), &opts);
    assert_eq!(sources(&out), vec![Source::Email]);
}

// ---------------------------------------------------------------- containers and paths

fn tar_of(members: &[(&str, &[u8])]) -> Result<Vec<u8>, std::io::Error> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, *data)?;
    }
    b.into_inner()
}

fn gzip(data: &[u8]) -> Result<Vec<u8>, std::io::Error> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data)?;
    e.finish()
}

fn xz(data: &[u8]) -> Result<Vec<u8>, std::io::Error> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
    e.write_all(data)?;
    e.finish()
}

fn zip_of(members: &[(&str, &[u8])]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in members {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file(*name, opts)?;
        w.write_all(data)?;
    }
    Ok(w.finish()?.into_inner())
}

#[test]
fn archives_nest_and_name_their_members() -> TestResult {
    let tar = tar_of(&[
        ("logs/eve.json", &fixture("eve.json")),
        ("logs/conn.log", &fixture("zeek_conn.log")),
        ("._eve.json", b"\x00\x05\x16\x07 resource fork"),
    ])?;
    let tgz = gzip(&tar)?;
    let txz = xz(&tar)?;
    let zip = zip_of(&[
        ("bundle.tar.gz", &tgz),
        ("vpc.log", &fixture("vpcflow_v2.log")),
        ("__MACOSX/._vpc.log", b"junk"),
    ])?;
    for (name, data) in [("a.tar.gz", &tgz), ("a.tar.xz", &txz), ("a.Zip", &zip)] {
        let out = bytes(name, data);
        let suricata = out
            .records
            .iter()
            .filter(|r| r.source == Source::Suricata)
            .count();
        let zeek = out
            .records
            .iter()
            .filter(|r| r.source == Source::Zeek)
            .count();
        assert_eq!((suricata, zeek), (2, 4), "{name}");
        assert_eq!(out.reasons(), vec!["zeek_bad_row"; 2], "{name}");
        let eve = out
            .records
            .iter()
            .find(|r| r.source == Source::Suricata)
            .map(|r| r.origin.member.clone());
        let want = if name == "a.Zip" {
            "bundle.tar.gz!logs/eve.json"
        } else {
            "logs/eve.json"
        };
        assert_eq!(eve, Some(Some(want.to_owned())), "{name}");
    }
    let out = bytes("a.Zip", &zip);
    assert_eq!(
        out.records
            .iter()
            .filter(|r| r.source == Source::Vpcflow)
            .count(),
        2
    );
    // A single compressed file: the name without .gz decides the Zeek log.
    let out = bytes("dns.json.gz", &gzip(&fixture("dns.json"))?);
    assert_eq!(out.field(0, "_path"), Some(&json!("dns")));
    Ok(())
}

#[test]
fn truncated_gzip_xz_and_zip_keep_what_came_before() -> TestResult {
    let mut lines = Vec::new();
    for i in 0..2000 {
        lines.extend_from_slice(
            format!("{{\"event_type\":\"flow\",\"timestamp\":\"t{i}\",\"src_ip\":\"192.0.2.1\",\"pad\":\"{}\"}}\n", i * 7919).as_bytes(),
        );
    }
    let tar = tar_of(&[("eve.json", &lines)])?;
    for (name, data) in [
        ("cut.tar.gz", gzip(&tar)?),
        ("cut.tar.xz", xz(&tar)?),
        ("cut.json.gz", gzip(&lines)?),
    ] {
        let cut = &data[..data.len() / 2];
        let out = bytes(name, cut);
        assert!(
            out.records.len() > 10 && out.records.len() < 2000,
            "{name}: {}",
            out.records.len()
        );
        assert!(out.records.iter().all(|r| r.source == Source::Suricata));
        assert_eq!(
            out.reasons(),
            vec!["archive_truncated"],
            "{name}: {:?}",
            out.quarantined
        );
        assert!(out.quarantined[0].detail.contains(name));
    }
    // Cut just before the end: every record, then the truncation.
    let gz = gzip(&lines)?;
    let out = bytes("tail.json.gz", &gz[..gz.len() - 4]);
    assert_eq!(out.records.len(), 2000);
    assert_eq!(out.reasons(), vec!["archive_truncated"]);

    let zip = zip_of(&[("a.json", &fixture("eve.json")), ("b.json", &lines)])?;
    let out = bytes("cut.zip", &zip[..zip.len() - 300]);
    let from_a = out
        .records
        .iter()
        .filter(|r| r.origin.member.as_deref() == Some("a.json"))
        .count();
    assert_eq!(from_a, 2);
    assert!(out.records.len() > 2);
    assert_eq!(
        out.reasons().last(),
        Some(&"archive_truncated"),
        "{:?}",
        out.quarantined
    );
    // A local header that stops short is a truncation; one with nonsense in it is invalid.
    let out = bytes("short.zip", b"PK\x03\x04garbage");
    assert_eq!(out.reasons(), vec!["archive_truncated"]);
    let mut bad = b"PK\x03\x04".to_vec();
    bad.extend(std::iter::repeat_n(0xffu8, 200));
    let out = bytes("garbage.zip", &bad);
    assert_eq!(
        out.reasons(),
        vec!["archive_invalid"],
        "{:?}",
        out.quarantined
    );
    assert!(out.records.is_empty());
    Ok(())
}

#[test]
fn decompression_budget_stops_a_bomb() -> TestResult {
    let zeros = vec![b' '; 20 * 1024 * 1024];
    let mut member = b"{\"event_type\":\"flow\",\"timestamp\":\"t\"}\n".to_vec();
    member.extend_from_slice(&zeros);
    let zip = zip_of(&[("bomb.json", &member), ("after.json", &fixture("eve.json"))])?;
    assert!(zip.len() < 200_000);
    let mut opts = DecodeOptions::default();
    opts.limits.max_decompressed_bytes = 1024 * 1024;
    let out = bytes_with("bomb.zip", &zip, &opts);
    assert_eq!(out.reasons(), vec!["archive_too_large"]);
    assert_eq!(out.records.len(), 1);
    let gz = gzip(&member)?;
    let out = bytes_with("bomb.json.gz", &gz, &opts);
    assert_eq!(out.reasons(), vec!["archive_too_large"]);
    Ok(())
}

#[test]
fn too_many_members_is_reported() -> TestResult {
    let tar = tar_of(&[
        ("a.json", &fixture("eve.json")),
        ("b.json", &fixture("eve.json")),
        ("c.json", &fixture("eve.json")),
    ])?;
    let mut opts = DecodeOptions::default();
    opts.limits.max_archive_members = 2;
    let out = bytes_with("x.tar", &tar, &opts);
    assert_eq!(out.records.len(), 4);
    assert_eq!(out.reasons(), vec!["too_many_members"]);
    Ok(())
}

#[test]
fn oversize_line_is_skipped_without_losing_the_next() {
    let mut data = b"{\"event_type\":\"flow\",\"timestamp\":\"a\",\"x\":\"".to_vec();
    data.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
    data.extend_from_slice(b"\"}\n{\"event_type\":\"dns\",\"timestamp\":\"b\"}\n");
    let out = bytes("big.ndjson", &data);
    assert_eq!(out.reasons(), vec!["record_too_large"]);
    let q = &out.quarantined[0];
    assert!(q.raw_truncated && q.raw_len > 10 * 1024 * 1024);
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.field(0, "event_type"), Some(&json!("dns")));
    assert_eq!(out.records[0].origin.index, Some(1));
}

#[test]
fn hostile_json() {
    // Invalid UTF-8, deep nesting (serde_json's recursion limit), stray closers.
    let mut data = b"{\"event_type\":\"a\",\"timestamp\":\"\xff\xfe\"}\n".to_vec();
    data.extend(std::iter::repeat_n(b'[', 100_000));
    data.push(b'\n');
    data.extend(std::iter::repeat_n(b'{', 50_000));
    data.extend_from_slice(b"\n}}]]\n{\"event_type\":\"ok\",\"timestamp\":\"t\"}\n");
    let out = bytes("x.ndjson", &data);
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.reasons(), vec!["json_invalid"; 4]);
    // The same nesting inside an array (scanner mode) and a pretty-printed document.
    let mut arr = b"[".to_vec();
    arr.extend(std::iter::repeat_n(b'[', 100_000));
    arr.extend(std::iter::repeat_n(b']', 100_000));
    arr.extend_from_slice(b",{\"event_type\":\"ok\",\"timestamp\":\"t\"}\n]");
    let out = bytes("x.json", &arr);
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.reasons(), vec!["json_invalid"]);
    let out = bytes(
        "x.json",
        b"{\n  \"event_type\": \"alert\",\n  \"timestamp\": \"t\"\n",
    );
    assert_eq!(out.reasons(), vec!["json_invalid"]);
    let out = bytes(
        "x.json",
        b"[{\"event_type\":\"a\",\"timestamp\":\"t\"}, 3, \"s\"",
    );
    assert_eq!(out.records.len(), 1);
    assert_eq!(
        out.reasons(),
        vec!["not_an_object", "not_an_object", "json_invalid"]
    );
}

#[test]
fn empty_and_unknown_inputs() {
    let out = bytes("empty.json", b"");
    assert_eq!(out.reasons(), vec!["empty"]);
    let out = bytes("blank.log", b"  \n\n ");
    assert_eq!(out.reasons(), vec!["empty"]);
    let out = bytes("notes.txt", b"some text\nthat is nothing we know\n");
    assert_eq!(out.reasons(), vec!["unknown_format"]);
    let out = bytes_with(
        "x.evtx",
        b"not an evtx file at all",
        &DecodeOptions {
            format: Format::Evtx,
            ..DecodeOptions::default()
        },
    );
    assert_eq!(out.reasons(), vec!["evtx_invalid"]);
    let out = bytes("fake.evtx", b"ElfFile\0 but then nothing useful");
    assert_eq!(out.reasons(), vec!["evtx_invalid"]);
}

#[test]
fn directories_are_walked_in_order_and_paths_fail_only_at_the_top() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir(dir.path().join("b"))?;
    std::fs::write(dir.path().join("b/eve.json"), fixture("eve.json"))?;
    std::fs::write(dir.path().join("a.log"), fixture("vpcflow_v2.log"))?;
    std::fs::write(dir.path().join(".hidden.json"), b"{")?;
    std::fs::write(dir.path().join("c.json"), b"")?;
    let opts = DecodeOptions::default();
    let out = collect(|sink| decode_path(dir.path(), &opts, sink).unwrap_or_default());
    assert_eq!(
        sources(&out),
        vec![
            Source::Vpcflow,
            Source::Vpcflow,
            Source::Suricata,
            Source::Suricata
        ]
    );
    assert_eq!(out.reasons(), vec!["empty"]);
    assert_eq!(out.stats.files, 3);
    assert!(out.stats.bytes_read > 0);
    assert!(out.records[2].origin.path.ends_with("eve.json"));

    let missing = decode_path(&dir.path().join("nope"), &opts, &mut |_| {});
    assert!(missing.is_err());

    let mut reader: &[u8] = &fixture("eve.json");
    let out = collect(|sink| decode_reader("-", &mut reader, &opts, sink).unwrap_or_default());
    assert_eq!(sources(&out), vec![Source::Suricata; 2]);
    assert_eq!(out.records[0].origin.path, "-");
    // A zip from a stream is buffered and read the same way.
    let zip = zip_of(&[("e.json", &fixture("eve.json"))])?;
    let mut reader: &[u8] = &zip;
    let out = collect(|sink| decode_reader("-", &mut reader, &opts, sink).unwrap_or_default());
    assert_eq!(sources(&out), vec![Source::Suricata; 2]);
    Ok(())
}

/// EVTX from the shared corpus (GPL data, read in place): records come out canonical, and a
/// damaged copy never panics.
#[test]
fn evtx_sample_and_damaged_copies() -> TestResult {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/endpoint/evtx/Defense Evasion/DE_WinEventLogSvc_Crash_System_7036.evtx");
    if !path.is_file() {
        eprintln!("skipping: {} is not present", path.display());
        return Ok(());
    }
    let data = std::fs::read(&path)?;
    let out = bytes("s.evtx", &data);
    assert_eq!(out.records.len(), 6);
    assert!(out.quarantined.is_empty());
    let r = &out.records[0].fields;
    assert_eq!(r.get("EventID"), Some(&json!(7036)));
    assert_eq!(r.get("Channel"), Some(&json!("System")));
    assert_eq!(r.get("Provider"), Some(&json!("Service Control Manager")));
    assert!(r.get("param1").is_some());
    let raw: Value = serde_json::from_slice(&out.records[0].raw)?;
    assert!(raw.get("Event").is_some());
    // Through a zip (buffered) and from a reader.
    let zip = zip_of(&[("s.evtx", &data)])?;
    assert_eq!(bytes("s.zip", &zip).records.len(), 6);
    // Damaged copies: truncated, and bytes flipped through the chunk.
    for cut in [100usize, 4096, 4096 + 600, data.len() - 1000] {
        let _ = bytes("cut.evtx", &data[..cut]);
    }
    let mut flipped = data.clone();
    for i in (4096..flipped.len()).step_by(97) {
        flipped[i] ^= 0x5a;
    }
    let out = bytes("flipped.evtx", &flipped);
    assert!(out.records.len() + out.quarantined.len() > 0);
    Ok(())
}

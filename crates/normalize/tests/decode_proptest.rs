//! Property tests: the decoders never panic, keep their counts straight and only use bounded
//! reason codes, whatever the bytes (random, or fixtures mutated and wrapped in containers).

use std::io::Write;
use std::path::Path;

use proptest::prelude::*;
use shrike_normalize::decode::{decode_bytes, DecodeOptions, Format};
use shrike_normalize::DecodeItem;

const REASONS: &[&str] = &[
    "empty",
    "io",
    "unknown_format",
    "unknown_source",
    "json_invalid",
    "not_an_object",
    "record_too_large",
    "zeek_bad_row",
    "vpcflow_bad_row",
    "evtx_invalid",
    "evtx_record_invalid",
    "archive_truncated",
    "archive_invalid",
    "archive_too_large",
    "archive_too_deep",
    "too_many_members",
];

/// shrike-ingest's reasons (email input passes its quarantine items through, and email-log
/// JSON found in a JSON stream keeps its reasons).
const INGEST_REASONS: &[&str] = &[
    "io",
    "empty",
    "not_an_email",
    "message_too_large",
    "mime_too_deep",
    "too_many_parts",
    "too_many_headers",
    "json_invalid",
    "json_wrong_type",
    "missing_fields",
    "record_too_large",
    "csv_invalid",
    "archive_corrupt",
    "too_many_members",
    "member_too_large",
    "archive_too_deep",
];

const FIXTURES: &[&str] = &[
    "sysmon_nxlog.ndjson",
    "winlogbeat.ndjson",
    "sentinel.ndjson",
    "zeek_conn.log",
    "dns.json",
    "eve.json",
    "cloudtrail_records.json",
    "guardduty_eventbridge.json",
    "panther.ndjson",
    "vpcflow_custom.log",
    "phish.eml",
    "email_log.ndjson",
];

fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/decode")
        .join(name);
    std::fs::read(p).unwrap_or_default()
}

/// Decodes and checks the invariants that hold for any input.
fn check(name: &str, data: &[u8], format: Format) {
    let mut opts = DecodeOptions {
        format,
        ..DecodeOptions::default()
    };
    opts.limits.max_record_bytes = 64 * 1024;
    opts.limits.max_decompressed_bytes = 8 * 1024 * 1024;
    opts.limits.quarantine_raw_cap = 256;
    let (mut records, mut quarantined) = (0u64, 0u64);
    let stats = decode_bytes(name, data, &opts, &mut |item| match item {
        DecodeItem::Record(r) => {
            records += 1;
            assert!(r.origin.path == name);
        }
        DecodeItem::Quarantined(q) => {
            quarantined += 1;
            // Email-log JSON records found in a JSON stream keep ingest's reason codes.
            let known =
                REASONS.contains(&q.reason.as_str()) || INGEST_REASONS.contains(&q.reason.as_str());
            assert!(known, "unexpected reason {} ({})", q.reason, q.detail);
            assert!(q.raw_b64.len() <= 4 * 256 / 3 + 4);
        }
    });
    assert_eq!((stats.records, stats.quarantined), (records, quarantined));
}

fn mutate(mut data: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(pos, op, byte) in edits {
        if data.is_empty() {
            data.push(byte);
            continue;
        }
        let i = pos % data.len();
        match op % 4 {
            0 => data[i] = byte,
            1 => data.insert(i, byte),
            2 => {
                data.remove(i);
            }
            _ => data.truncate(i),
        }
    }
    data
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

fn zip_one(name: &str, data: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    if w.start_file(name, opts).is_err() || w.write_all(data).is_err() {
        return Vec::new();
    }
    w.finish().map(|c| c.into_inner()).unwrap_or_default()
}

const FORMATS: [Format; 6] = [
    Format::Auto,
    Format::Json,
    Format::ZeekTsv,
    Format::Evtx,
    Format::Vpcflow,
    Format::Email,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048), f in 0usize..6) {
        check("random.bin", &data, FORMATS[f]);
    }

    #[test]
    fn structured_noise_never_panics(parts in proptest::collection::vec(
        prop_oneof![
            Just(&b"{"[..]), Just(&b"}"[..]), Just(&b"["[..]), Just(&b"]"[..]), Just(&b"\""[..]),
            Just(&b"\\"[..]), Just(&b","[..]), Just(&b":"[..]), Just(&b"\n"[..]), Just(&b"\t"[..]),
            Just(&b"#fields\ta\tb\n"[..]), Just(&b"#types\tcount\tvector[vector[string]]\n"[..]),
            Just(&b"#separator \\x09\n"[..]), Just(&b"(empty)"[..]), Just(&b"-"[..]),
            Just(&b"\"Records\":["[..]), Just(&b"\"detail-type\":\"x\",\"detail\":"[..]),
            Just(&b"\"EventID\":1,\"EventData\":\"<Data Name=\\\"a\\\">&amp;</Data>\""[..]),
            Just(&b"\"ts\":1.5,\"uid\":\"C\""[..]), Just(&b"version srcaddr dstaddr action\n"[..]),
            Just(&b"From: a@b.example\nSubject: x\n\n"[..]), Just(&b"\xff\xfe"[..]),
        ],
        0..64,
    ), f in 0usize..6) {
        let data: Vec<u8> = parts.concat();
        check("noise", &data, FORMATS[f]);
        check("noise.json", &data, Format::Auto);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0usize..FIXTURES.len(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..12),
        wrap in 0u8..4,
    ) {
        let name = FIXTURES[which];
        let data = mutate(fixture(name), &edits);
        check(name, &data, Format::Auto);
        let wrapped = match wrap {
            0 => gzip(&data),
            1 => zip_one(name, &data),
            2 => mutate(gzip(&fixture(name)), &edits),
            _ => mutate(zip_one(name, &fixture(name)), &edits),
        };
        check(&format!("{name}.wrapped"), &wrapped, Format::Auto);
    }
}

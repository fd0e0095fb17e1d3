//! Golden test against the official OCSF Zeek example pairs
//! (`../shared/data/ocsf/examples/mappings/markdown/Zeek/v1.{3,4}.0/*/samples/*.raw` → `*.ocsf`).
//!
//! Each `.raw` goes through decode + normalize; the key fields of every event are compared with
//! the official `.ocsf`. Where Shrike deliberately differs (the official example targets 1.3/1.4,
//! is invalid against 1.8.0, or maps a field to an attribute whose meaning differs), the check
//! pins Shrike's own value instead; every such difference is listed in `docs/mappings.md`
//! (`## Official OCSF examples: Zeek`). The test also pins which official events are invalid
//! against OCSF 1.8.0.

use std::path::{Path, PathBuf};

use serde_json::Value;
use shrike_normalize::decode::{decode_path, DecodeOptions};
use shrike_normalize::{DecodeItem, Engine};

/// One check on every event of a sample.
enum Check {
    /// Shrike's value at the first pointer equals the official value at the second (both absent
    /// counts as equal).
    Same(&'static str, &'static str),
    /// Shrike's value at the pointer, per event (JSON; `null` = absent): a documented difference.
    Ours(&'static str, &'static str),
}
use Check::{Ours, Same};

struct Case {
    dir: &'static str,
    /// Whether the official events validate against OCSF 1.8.0 (one flag per event).
    official_valid: &'static [bool],
    checks: &'static [Check],
}

const ENDPOINTS: [Check; 5] = [
    Same("/class_uid", "/class_uid"),
    Same("/src_endpoint/ip", "/src_endpoint/ip"),
    Same("/src_endpoint/port", "/src_endpoint/port"),
    Same("/dst_endpoint/ip", "/dst_endpoint/ip"),
    Same("/dst_endpoint/port", "/dst_endpoint/port"),
];

const CONN: &[Check] = &[
    Same("/activity_id", "/activity_id"),
    Same("/metadata/log_name", "/metadata/log_name"),
    Same("/metadata/product", "/metadata/product"),
    Same("/src_endpoint/mac", "/src_endpoint/mac"),
    Same("/dst_endpoint/mac", "/dst_endpoint/mac"),
    Same(
        "/dst_endpoint/location/country",
        "/dst_endpoint/location/country",
    ),
    Same(
        "/connection_info/protocol_name",
        "/connection_info/protocol_name",
    ),
    Same("/status_code", "/status_code"),
    Same("/traffic/bytes_in", "/traffic/bytes_in"),
    Same("/traffic/bytes_out", "/traffic/bytes_out"),
    Same("/traffic/packets_in", "/traffic/packets_in"),
    Same("/traffic/packets_out", "/traffic/packets_out"),
    Same("/app_protocol_name", "/app_name"),
    // Epoch milliseconds (the official example writes seconds, 20 minutes off the raw ts).
    Ours("/time", "[1729051621489]"),
    Ours("/start_time", "[1729051621489]"),
    Ours("/metadata/logged_time", "[1729051691828]"),
    Ours("/duration", "[65338]"),
    Ours("/app_name", "[null]"),
    Ours("/connection_info/direction_id", "[2]"),
    Ours("/connection_info/uid", "[\"CmRFd61N7G7YA909D1\"]"),
    Ours("/metadata/correlation_uid", "[\"CmRFd61N7G7YA909D1\"]"),
    Ours("/traffic/bytes", "[null]"),
    Ours("/traffic/packets", "[null]"),
];

const CASES: &[Case] = &[
    Case {
        dir: "v1.3.0/conn_log",
        official_valid: &[true],
        // history, missed_bytes and community_id are left in unmapped there.
        checks: &[
            Same("/connection_info/flag_history", "/unmapped/history"),
            Same("/traffic/bytes_missed", "/unmapped/missed_bytes"),
            Same("/connection_info/community_uid", "/unmapped/community_id"),
        ],
    },
    Case {
        dir: "v1.4.0/conn_log",
        // `connection_info.community_id` is not an attribute (1.8.0: community_uid).
        official_valid: &[false],
        checks: &[
            Same(
                "/connection_info/flag_history",
                "/connection_info/flag_history",
            ),
            Same("/traffic/bytes_missed", "/traffic/bytes_missed"),
            Same(
                "/connection_info/community_uid",
                "/connection_info/community_id",
            ),
        ],
    },
    Case {
        dir: "v1.3.0/dns_log",
        // No activity_id / type_uid / connection_info.direction_id; response_time is a float rtt.
        official_valid: &[false],
        checks: &[
            Same(
                "/connection_info/protocol_name",
                "/connection_info/protocol_name",
            ),
            Same("/query/hostname", "/query/hostname"),
            Same("/query/type", "/query/type"),
            Same("/query/class", "/query/class"),
            Same("/query/packet_uid", "/query/packet_uid"),
            Same("/rcode_id", "/rcode_id"),
            Same("/status_id", "/status_id"),
            Same("/answers/0/rdata", "/answers/0/rdata"),
            Same("/answers/1/rdata", "/answers/1/rdata"),
            Ours("/activity_id", "[6]"),
            Ours("/rcode", "[\"NoError\"]"),
            Ours("/query_time", "[1729261829145]"),
            Ours("/response_time", "[null]"),
            Ours("/answers/0/ttl", "[null]"),
            Ours("/answers/0/flag_ids", "[null]"),
        ],
    },
    Case {
        dir: "v1.3.0/ftp_log",
        official_valid: &[true],
        checks: &[
            Same("/activity_id", "/activity_id"),
            Same("/codes", "/codes"),
            Same("/status_code", "/status_code"),
            Same("/status_detail", "/status_detail"),
            Ours("/command", "[\"PORT\"]"),
            Ours("/name", "[\"192,168,4,59,218,125\"]"),
            Ours("/file", "[null]"),
            Ours("/port", "[55933]"),
            Ours("/type", "[\"active\"]"),
            Ours("/actor/user/name", "[\"osbox\"]"),
        ],
    },
    Case {
        dir: "v1.3.0/http_log",
        // x_forwarded_for is a string (ip_t array), message an array (string).
        official_valid: &[false],
        checks: &[
            Same("/activity_id", "/activity_id"),
            Same("/http_request/http_method", "/http_request/http_method"),
            Same("/http_request/referrer", "/http_request/referrer"),
            Same("/http_request/url/hostname", "/http_request/url/hostname"),
            Same("/http_request/url/path", "/http_request/url/path"),
            Same("/http_request/user_agent", "/http_request/user_agent"),
            Same("/http_request/version", "/http_request/version"),
            Same("/http_request/body_length", "/http_request/length"),
            Same("/http_response/code", "/http_response/code"),
            Same("/http_response/status", "/http_response/status"),
            Same("/http_response/body_length", "/http_response/length"),
            Ours("/http_status", "[404]"),
            Ours("/http_request/x_forwarded_for", "[null]"),
            Ours("/message", "[null]"),
            Ours("/http_cookies", "[null]"),
            Ours(
                "/http_request/http_headers",
                "[[{\"name\":\"Origin\",\"value\":\"http://172.0.0.101\"}]]",
            ),
        ],
    },
    Case {
        dir: "v1.3.0/rdp_log",
        official_valid: &[true, true],
        checks: &[
            Same("/activity_id", "/activity_id"),
            Same("/identifier_cookie", "/identifier_cookie"),
            Same("/status_detail", "/status_detail"),
            Same("/src_endpoint/hostname", "/src_endpoint/hostname"),
            Same("/remote_display", "/remote_display"),
            Ours("/protocol_ver", "[null, \"RDP 5.1\"]"),
            Ours("/status_id", "[null, 1]"),
            Ours("/tls", "[null, null]"),
            Ours("/src_endpoint/agent_list", "[null, null]"),
        ],
    },
    Case {
        dir: "v1.3.0/smtp_log",
        // No activity_id (type_uid 400903 implies Scan).
        official_valid: &[false, false],
        checks: &[
            Same("/direction_id", "/direction_id"),
            Same("/type_uid", "/type_uid"),
            Same("/smtp_hello", "/smtp_hello"),
            Same("/status_detail", "/status_detail"),
            Same("/email/message_uid", "/email/message_uid"),
            Same("/email/from", "/email/from"),
            Same("/email/smtp_from", "/email/smtp_from"),
            Same("/email/smtp_to", "/email/smtp_to"),
            Same("/email/to_mailboxes", "/email/to"),
            Ours("/activity_id", "[3, 3]"),
            Ours("/email/to", "[null, null]"),
            Ours(
                "/from",
                "[\"richq@resultslifecoaching.com.au\", \"martin.tor@4salet.com\"]",
            ),
            Ours(
                "/to",
                "[[\"estimating@beenleighinterior.com.au\"], [\"bert.manly@five8nine.com\"]]",
            ),
        ],
    },
    Case {
        dir: "v1.3.0/ssh_log",
        official_valid: &[true],
        checks: &[
            Same(
                "/connection_info/direction_id",
                "/connection_info/direction_id",
            ),
            Same("/count", "/count"),
            Same("/protocol_ver", "/protocol_ver"),
            Same("/src_endpoint/location", "/src_endpoint/location"),
            Same(
                "/client_hassh/fingerprint/value",
                "/client_hassh/fingerprint/value",
            ),
            Same(
                "/server_hassh/fingerprint/value",
                "/server_hassh/fingerprint/value",
            ),
            Ours("/activity_id", "[6]"),
            Ours("/status_id", "[1]"),
            Ours("/client_hassh/fingerprint/algorithm_id", "[20]"),
            Ours(
                "/src_endpoint/agent_list",
                "[[{\"name\":\"SSH-2.0-OpenSSH_8.1p1 Debian-1\",\"type_id\":9}]]",
            ),
        ],
    },
    Case {
        dir: "v1.3.0/ssl_log",
        official_valid: &[true],
        checks: &[
            Same("/activity_id", "/activity_id"),
            Same("/status_detail", "/status_detail"),
            Same("/tls/version", "/tls/version"),
            Same("/tls/cipher", "/tls/cipher"),
            Same("/tls/sni", "/tls/sni"),
            Same("/tls/ja3_hash", "/tls/ja3_hash"),
            Same("/tls/ja3s_hash", "/tls/ja3s_hash"),
            Ours("/tls/certificate", "[null]"),
            Ours("/status_id", "[2]"),
            Ours("/dst_endpoint/hostname", "[\"code.yengo.com\"]"),
        ],
    },
    Case {
        dir: "v1.4.0/x509_log",
        // type_uid 300299 with class 4001, service/user (not 4001 attributes), tls without
        // version, not_valid_* (not certificate attributes), fingerprint without algorithm_id.
        official_valid: &[false],
        checks: &[
            Same("/activity_id", "/activity_id"),
            Same("/activity_name", "/activity_name"),
            Same("/tls/certificate/issuer", "/tls/certificate/issuer"),
            Same(
                "/tls/certificate/serial_number",
                "/tls/certificate/serial_number",
            ),
            Same("/tls/certificate/subject", "/tls/certificate/subject"),
            Same(
                "/tls/certificate/fingerprints/0/value",
                "/tls/certificate/fingerprints/0/value",
            ),
            Ours("/type_uid", "[400199]"),
            Ours("/tls/version", "[\"Unknown\"]"),
            Ours("/tls/certificate/version", "[\"3\"]"),
            Ours("/tls/certificate/created_time", "[1719446400000]"),
            Ours("/tls/certificate/expiration_time", "[1750982399000]"),
            Ours("/tls/certificate/fingerprints/0/algorithm_id", "[3]"),
            Ours(
                "/tls/certificate/sans",
                "[[{\"name\":\"ecs.office.com\",\"type\":\"DNS\"}]]",
            ),
            Ours("/tls/key_length", "[null]"),
            Ours("/tls/tls_extension_list", "[null]"),
            Ours("/service", "[null]"),
            Ours("/user", "[null]"),
        ],
    },
];

fn examples_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/ocsf/examples/mappings/markdown/Zeek")
}

/// The official `.ocsf` files are JSON objects, some several to a file, some with `// ...`
/// comments after a value.
fn parse_lenient(text: &str) -> Vec<Value> {
    let cleaned: Vec<&str> = text
        .lines()
        .map(|line| {
            let mut in_str = false;
            let mut escaped = false;
            let bytes = line.as_bytes();
            for (i, &b) in bytes.iter().enumerate() {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' if in_str => escaped = true,
                    b'"' => in_str = !in_str,
                    b'/' if !in_str && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
                    _ => {}
                }
            }
            line
        })
        .collect();
    let joined = cleaned.join("\n");
    serde_json::Deserializer::from_str(&joined)
        .into_iter::<Value>()
        .map(|v| v.unwrap_or_else(|e| panic!("official example does not parse: {e}")))
        .collect()
}

fn only_file(dir: &Path, ext: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{}: one .{ext} file expected",
        dir.display()
    );
    found.remove(0)
}

#[test]
fn official_zeek_examples_match() {
    let root = examples_root();
    if !root.is_dir() {
        eprintln!("skipping: ../shared/data not found");
        return;
    }
    let content = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../content/mappings");
    let engine = Engine::load_dir(&content).unwrap_or_else(|e| panic!("{e}"));
    let mut failures = Vec::new();
    for case in CASES {
        let samples = root.join(case.dir).join("samples");
        let raw = only_file(&samples, "raw");
        let official = parse_lenient(
            &std::fs::read_to_string(only_file(&samples, "ocsf")).unwrap_or_default(),
        );
        let mut ours = Vec::new();
        decode_path(&raw, &DecodeOptions::default(), &mut |item| match item {
            DecodeItem::Record(r) => match engine.normalize(r) {
                Ok(n) => ours.push(n.event),
                Err(e) => failures.push(format!(
                    "{}: rejected ({}): {}",
                    case.dir, e.reason, e.detail
                )),
            },
            DecodeItem::Quarantined(q) => failures.push(format!(
                "{}: decode quarantined ({}): {}",
                case.dir, q.reason, q.detail
            )),
        })
        .unwrap_or_else(|e| panic!("{}: {e}", raw.display()));
        if ours.len() != official.len() {
            failures.push(format!(
                "{}: {} events, the official example has {}",
                case.dir,
                ours.len(),
                official.len()
            ));
            continue;
        }
        for (i, off) in official.iter().enumerate() {
            let valid = shrike_ocsf::Schema::shared().validate(off).is_empty();
            if case.official_valid.get(i) != Some(&valid) {
                failures.push(format!("{} event {i}: official example valid against 1.8.0 = {valid}, documented otherwise", case.dir));
            }
        }
        for (i, (mine, off)) in ours.iter().zip(&official).enumerate() {
            for check in ENDPOINTS
                .iter()
                .chain(if case.dir.ends_with("conn_log") {
                    CONN
                } else {
                    &[]
                })
                .chain(case.checks)
            {
                match check {
                    Same(p, q) => {
                        let (a, b) = (mine.pointer(p), off.pointer(q));
                        if a != b {
                            failures.push(format!(
                                "{} event {i}: ours {p} = {a:?}, official {q} = {b:?}",
                                case.dir
                            ));
                        }
                    }
                    Ours(p, want) => {
                        let want: Value =
                            serde_json::from_str(want).unwrap_or_else(|e| panic!("{p}: {e}"));
                        let want = want.get(i).filter(|v| !v.is_null());
                        let got = mine.pointer(p);
                        if got != want {
                            failures.push(format!(
                                "{} event {i}: ours {p} = {got:?}, documented {want:?}",
                                case.dir
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

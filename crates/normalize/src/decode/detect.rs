//! Which source a JSON object comes from, decided on its keys (after envelopes are unwrapped),
//! and which Zeek log a Zeek object belongs to.

use serde_json::{Map, Value};

use crate::record::Source;

/// The source of a decoded JSON object, from its keys; `name_hint` (the file or member name)
/// only helps Zeek logs whose records carry no connection fields (`software.log`).
///
/// Rules, first match wins: a Panther `p_log_type` naming an AWS source; Windows (`EventID`,
/// `winlog`, `Event.System`, `Channel`, or Winlogbeat 6's `event_id` with `log_name` /
/// `computer_name` / `source_name` / `event_data`); Suricata (`event_type` + `timestamp`); Zeek
/// (`ts` + `uid`, `id.orig_h` or `_path`, or `ts` in a file named like a Zeek log); CloudTrail
/// (`eventVersion` or `eventSource`, + `eventName`); GuardDuty (`schemaVersion` + `type` +
/// `service.serviceName == "guardduty"`, or an `arn` containing `:guardduty:`); VPC Flow Logs
/// (`srcaddr`/`srcAddr` + `dstaddr`/`dstAddr` + `action`); email-log JSON (`from` or `subject`
/// with a body, headers, recipients, a message id, attachments or URLs).
pub fn detect_source(obj: &Map<String, Value>, name_hint: &str) -> Option<Source> {
    if let Some(s) = obj.get("p_log_type").and_then(Value::as_str) {
        if let Some(src) = panther_log_type(s) {
            return Some(src);
        }
    }
    if is_windows(obj) {
        return Some(Source::Windows);
    }
    let has = |k: &str| obj.contains_key(k);
    if has("event_type") && has("timestamp") {
        return Some(Source::Suricata);
    }
    if has("ts")
        && (has("uid") || has("id.orig_h") || has("_path") || zeek_log_name(name_hint).is_some())
    {
        return Some(Source::Zeek);
    }
    if (has("eventVersion") || has("eventSource")) && has("eventName") {
        return Some(Source::Cloudtrail);
    }
    if is_guardduty(obj) {
        return Some(Source::Guardduty);
    }
    if (has("srcaddr") || has("srcAddr")) && (has("dstaddr") || has("dstAddr")) && has("action") {
        return Some(Source::Vpcflow);
    }
    if is_email_log(obj) {
        return Some(Source::Email);
    }
    None
}

/// Panther's log type names for the sources Shrike maps.
pub(crate) fn panther_log_type(s: &str) -> Option<Source> {
    match s {
        "AWS.CloudTrail" => Some(Source::Cloudtrail),
        "AWS.GuardDuty" => Some(Source::Guardduty),
        "AWS.VPCFlow" => Some(Source::Vpcflow),
        _ => None,
    }
}

fn is_windows(obj: &Map<String, Value>) -> bool {
    if obj.contains_key("EventID") || obj.get("Channel").is_some_and(Value::is_string) {
        return true;
    }
    if obj.get("winlog").is_some_and(Value::is_object) {
        return true;
    }
    if obj
        .get("Event")
        .and_then(Value::as_object)
        .is_some_and(|e| e.contains_key("System"))
    {
        return true;
    }
    obj.contains_key("event_id")
        && ["log_name", "computer_name", "source_name", "event_data"]
            .iter()
            .any(|k| obj.contains_key(*k))
}

fn is_guardduty(obj: &Map<String, Value>) -> bool {
    if obj
        .get("arn")
        .and_then(Value::as_str)
        .is_some_and(|a| a.contains(":guardduty:"))
    {
        return true;
    }
    obj.contains_key("schemaVersion")
        && obj.contains_key("type")
        && obj
            .get("service")
            .and_then(|s| s.get("serviceName"))
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case("guardduty"))
}

/// The shape `shrike_ingest::parse_email_log` reads.
pub(crate) fn is_email_log(obj: &Map<String, Value>) -> bool {
    (obj.contains_key("from") || obj.contains_key("subject"))
        && [
            "body_text",
            "body_html",
            "headers",
            "to",
            "message_id",
            "attachments",
            "urls",
        ]
        .iter()
        .any(|k| obj.contains_key(*k))
}

/// Zeek's standard log names (and common package logs), for `_path` from a file name.
const ZEEK_LOGS: &[&str] = &[
    "analyzer",
    "broker",
    "capture_loss",
    "cluster",
    "config",
    "conn",
    "conn_long",
    "dce_rpc",
    "dhcp",
    "dnp3",
    "dns",
    "dpd",
    "files",
    "ftp",
    "http",
    "intel",
    "irc",
    "kerberos",
    "known_certs",
    "known_hosts",
    "known_modbus",
    "known_services",
    "ldap",
    "ldap_search",
    "loaded_scripts",
    "modbus",
    "mqtt_connect",
    "mqtt_publish",
    "mqtt_subscribe",
    "mysql",
    "netcontrol",
    "notice",
    "notice_alarm",
    "ntlm",
    "ntp",
    "ocsp",
    "packet_filter",
    "pe",
    "print",
    "quic",
    "radius",
    "rdp",
    "reporter",
    "rfb",
    "signatures",
    "sip",
    "smb_cmd",
    "smb_files",
    "smb_mapping",
    "smtp",
    "snmp",
    "socks",
    "software",
    "ssh",
    "ssl",
    "stats",
    "stderr",
    "stdout",
    "syslog",
    "traceroute",
    "tunnel",
    "unknown_protocols",
    "weird",
    "websocket",
    "x509",
];

/// The Zeek log a file or member name stands for: the part before the first `.` of its base
/// name (`conn.log`, `dns.json.xz`, `http.log.labeled` → conn, dns, http), when it is a known
/// Zeek log name.
pub(crate) fn zeek_log_name(name: &str) -> Option<&'static str> {
    let base = super::base_name(name);
    let stem = base.split('.').next().unwrap_or(base);
    ZEEK_LOGS.iter().copied().find(|l| *l == stem)
}

/// The Zeek log an object without `_path` most likely comes from, by its fields.
pub(crate) fn infer_zeek_path(obj: &Map<String, Value>) -> Option<&'static str> {
    let has = |k: &str| obj.contains_key(k);
    if has("query") && has("qtype") {
        Some("dns")
    } else if has("conn_state") {
        Some("conn")
    } else if has("method") && has("uri") {
        Some("http")
    } else if has("certificate.subject") {
        Some("x509")
    } else if (has("version") && has("cipher")) || has("server_name") {
        Some("ssl")
    } else if has("mailfrom") || has("rcptto") {
        Some("smtp")
    } else if has("auth_success") && has("client") {
        Some("ssh")
    } else if has("cookie") || has("security_protocol") {
        Some("rdp")
    } else if has("command") && has("reply_code") {
        Some("ftp")
    } else if (has("fuid") && has("mime_type")) || (has("source") && has("analyzers")) {
        Some("files")
    } else if has("note") && has("msg") {
        Some("notice")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn detects_each_source() {
        let cases = [
            (json!({"EventID": 1, "Channel": "x"}), Some(Source::Windows)),
            (json!({"winlog": {"event_id": "1"}}), Some(Source::Windows)),
            (json!({"Event": {"System": {}}}), Some(Source::Windows)),
            (
                json!({"event_id": 1, "log_name": "Security"}),
                Some(Source::Windows),
            ),
            (
                json!({"event_id": "m1", "subject": "x", "body_text": "y"}),
                Some(Source::Email),
            ),
            (
                json!({"event_type": "alert", "timestamp": "t", "src_ip": "192.0.2.1"}),
                Some(Source::Suricata),
            ),
            (json!({"ts": 1.0, "uid": "C1"}), Some(Source::Zeek)),
            (json!({"ts": 1.0, "host": "192.0.2.1"}), None),
            (
                json!({"eventVersion": "1.08", "eventName": "GetObject"}),
                Some(Source::Cloudtrail),
            ),
            (
                json!({"schemaVersion": "2.0", "type": "Recon:EC2/Portscan", "service": {"serviceName": "guardduty"}}),
                Some(Source::Guardduty),
            ),
            (
                json!({"arn": "arn:aws:guardduty:us-east-1:111122223333:detector/d/finding/f"}),
                Some(Source::Guardduty),
            ),
            (
                json!({"srcAddr": "192.0.2.1", "dstAddr": "198.51.100.2", "action": "ACCEPT"}),
                Some(Source::Vpcflow),
            ),
            (
                json!({"p_log_type": "AWS.VPCFlow", "status": "OK"}),
                Some(Source::Vpcflow),
            ),
            (
                json!({"TimeGenerated": "t", "OperationName": "Add user"}),
                None,
            ),
        ];
        for (v, want) in cases {
            assert_eq!(detect_source(&obj(v.clone()), ""), want, "{v}");
        }
        let sw = obj(json!({"ts": 1.0, "host": "192.0.2.1", "software_type": "HTTP::BROWSER"}));
        assert_eq!(detect_source(&sw, "logs/software.log"), Some(Source::Zeek));
    }

    #[test]
    fn zeek_names_and_inference() {
        assert_eq!(zeek_log_name("a/conn.log"), Some("conn"));
        assert_eq!(zeek_log_name("dns.json"), Some("dns"));
        assert_eq!(zeek_log_name("http.log.labeled"), Some("http"));
        assert_eq!(zeek_log_name("eve.json"), None);
        assert_eq!(
            infer_zeek_path(&obj(json!({"query": "a", "qtype": 1}))),
            Some("dns")
        );
        assert_eq!(
            infer_zeek_path(&obj(json!({"note": "n", "msg": "m"}))),
            Some("notice")
        );
        assert_eq!(infer_zeek_path(&obj(json!({"x": 1}))), None);
    }
}

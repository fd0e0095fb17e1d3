//! AWS VPC Flow Logs: the space-separated text format (an optional header line of field names,
//! else the default version-2 order) and Panther's camelCase JSON form.
//!
//! Canonical layout: the hyphenated field names as AWS writes them in a header (`version`,
//! `account-id`, `interface-id`, `srcaddr`, `dstaddr`, `srcport`, `dstport`, `protocol`,
//! `packets`, `bytes`, `start`, `end`, `action`, `log-status`, `vpc-id`, `tcp-flags`,
//! `pkt-srcaddr`, `flow-direction`, `traffic-path`, ...). `-` means absent and the key is left
//! out; `log-status` is kept as written (`OK`, `NODATA`, `SKIPDATA`); integer columns
//! (`version`, ports, `protocol`, `packets`, `bytes`, `start`, `end`, `tcp-flags`,
//! `traffic-path`) become integers when they parse.

use std::io::BufRead;

use serde_json::{Map, Number, Value};

use super::lines::{trim, LineReader};
use super::{record_label, Decoder, Flow, Loc};
use crate::record::Source;

/// Every field name AWS documents for flow-log records (versions 2 to 8).
const FIELDS: &[&str] = &[
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "flow-direction",
    "traffic-path",
    "ecs-cluster-arn",
    "ecs-cluster-name",
    "ecs-container-instance-arn",
    "ecs-container-instance-id",
    "ecs-container-id",
    "ecs-second-container-id",
    "ecs-service-name",
    "ecs-task-definition-arn",
    "ecs-task-arn",
    "ecs-task-id",
    "reject-reason",
    "resource-id",
    "encryption-status",
];

/// The default (version 2) record format: the first 14 documented fields, in order.
const DEFAULT_V2: &[&str] = FIELDS.split_at(14).0;

/// Columns whose values are integers.
const INTEGER_FIELDS: &[&str] = &[
    "version",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "tcp-flags",
    "traffic-path",
];

fn is_header(tokens: &[&[u8]]) -> bool {
    tokens.len() >= 2
        && tokens
            .iter()
            .all(|t| FIELDS.iter().any(|f| f.as_bytes() == *t))
}

/// A default-format record: 14 fields, a small version, an `eni-` interface and a log status.
fn is_v2_row(tokens: &[&[u8]]) -> bool {
    tokens.len() == DEFAULT_V2.len()
        && tokens
            .first()
            .is_some_and(|v| !v.is_empty() && v.len() <= 2 && v.iter().all(u8::is_ascii_digit))
        && tokens
            .get(2)
            .is_some_and(|i| i.starts_with(b"eni-") || *i == b"-")
        && tokens
            .get(13)
            .is_some_and(|s| matches!(*s, b"OK" | b"NODATA" | b"SKIPDATA"))
}

fn tokens(line: &[u8]) -> Vec<&[u8]> {
    line.split(u8::is_ascii_whitespace)
        .filter(|t| !t.is_empty())
        .collect()
}

/// Whether text (the start of a stream) looks like flow-log records.
pub(crate) fn looks_like_vpcflow(text: &[u8]) -> bool {
    let first = text
        .split(|b| *b == b'\n')
        .map(trim)
        .find(|l| !l.is_empty() && !l.starts_with(b"#"));
    first.is_some_and(|l| {
        let t = tokens(l);
        is_header(&t) || is_v2_row(&t)
    })
}

/// Decodes flow-log text; a header line (at the start or later) sets the columns.
pub(crate) fn decode_text(d: &mut Decoder, r: &mut dyn BufRead, loc: &Loc) -> Flow {
    let limit = d.opts.limits.max_record_bytes;
    let keep = d.opts.limits.quarantine_raw_cap;
    let mut lr = LineReader::new(r);
    let mut buf = Vec::new();
    let mut columns: Vec<String> = DEFAULT_V2.iter().map(|s| (*s).to_owned()).collect();
    let mut index = 0u64;
    loop {
        let info = match lr.next_line(&mut buf, limit, keep) {
            Ok(Some(info)) => info,
            Ok(None) => return Flow::Continue,
            Err(e) => {
                let offset = lr.offset;
                d.read_error(&e, loc, Some(index), Some(offset), &buf);
                return Flow::Stop;
            }
        };
        let origin = loc.origin(Some(index), Some(info.offset));
        if info.too_long {
            let detail = format!(
                "{}: line is at least {} bytes, over the {limit}-byte limit",
                record_label(index),
                info.len
            );
            d.quarantine_len("record_too_large", detail, origin, &buf, info.len);
            index += 1;
            continue;
        }
        let line = trim(&buf);
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let toks = tokens(line);
        if is_header(&toks) {
            columns = toks
                .iter()
                .map(|t| String::from_utf8_lossy(t).into_owned())
                .collect();
            continue;
        }
        if toks.len() != columns.len() {
            let detail = format!(
                "{}: {} fields, the format has {}",
                record_label(index),
                toks.len(),
                columns.len()
            );
            d.quarantine("vpcflow_bad_row", detail, origin, line);
            index += 1;
            continue;
        }
        let mut obj = Map::with_capacity(columns.len());
        for (name, tok) in columns.iter().zip(&toks) {
            if *tok == b"-" {
                continue;
            }
            obj.insert(name.clone(), value(name, tok));
        }
        d.record(Source::Vpcflow, obj, line.to_vec(), origin);
        index += 1;
    }
}

fn value(name: &str, tok: &[u8]) -> Value {
    let text = String::from_utf8_lossy(tok);
    if INTEGER_FIELDS.contains(&name) {
        if let Ok(n) = text.parse::<u64>() {
            return Value::Number(Number::from(n));
        }
        if let Ok(n) = text.parse::<i64>() {
            return Value::Number(Number::from(n));
        }
    }
    Value::String(text.into_owned())
}

/// Panther / Firehose camelCase names → the canonical hyphenated names.
const JSON_NAMES: &[(&str, &str)] = &[
    ("accountId", "account-id"),
    ("account", "account-id"),
    ("interfaceId", "interface-id"),
    ("srcAddr", "srcaddr"),
    ("dstAddr", "dstaddr"),
    ("srcPort", "srcport"),
    ("dstPort", "dstport"),
    ("logStatus", "log-status"),
    ("status", "log-status"),
    ("vpcId", "vpc-id"),
    ("subnetId", "subnet-id"),
    ("instanceId", "instance-id"),
    ("tcpFlags", "tcp-flags"),
    ("pktSrcAddr", "pkt-srcaddr"),
    ("pktDstAddr", "pkt-dstaddr"),
    ("azId", "az-id"),
    ("sublocationType", "sublocation-type"),
    ("sublocationId", "sublocation-id"),
    ("pktSrcAwsService", "pkt-src-aws-service"),
    ("pktDstAwsService", "pkt-dst-aws-service"),
    ("flowDirection", "flow-direction"),
    ("trafficPath", "traffic-path"),
    ("rejectReason", "reject-reason"),
];

/// Renames the JSON form's camelCase keys to the canonical names (values kept; `-` dropped).
pub(crate) fn canonicalize_json(obj: &mut Map<String, Value>) {
    for (from, to) in JSON_NAMES {
        if obj.contains_key(*to) {
            continue;
        }
        if let Some(v) = obj.remove(*from) {
            obj.insert((*to).to_owned(), v);
        }
    }
    obj.retain(|k, v| !(v.as_str() == Some("-") && FIELDS.contains(&k.as_str())));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn recognises_headers_and_rows() {
        assert!(looks_like_vpcflow(
            b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"
        ));
        assert!(looks_like_vpcflow(
            b"instance-id interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr\n"
        ));
        assert!(looks_like_vpcflow(
            b"2 123456789010 eni-1235b8ca123456789 192.0.2.1 198.51.100.2 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK\n"
        ));
        assert!(!looks_like_vpcflow(b"title: something\n"));
    }

    #[test]
    fn canonicalizes_camel_case() {
        let mut m = match json!({"srcAddr": "192.0.2.1", "dstAddr": "198.51.100.2", "dstPort": 22, "status": "OK", "vpcId": "-", "p_log_type": "AWS.VPCFlow"})
        {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        canonicalize_json(&mut m);
        assert_eq!(m.get("srcaddr"), Some(&json!("192.0.2.1")));
        assert_eq!(m.get("dstport"), Some(&json!(22)));
        assert_eq!(m.get("log-status"), Some(&json!("OK")));
        assert!(!m.contains_key("vpc-id"));
        assert!(m.contains_key("p_log_type"));
    }
}

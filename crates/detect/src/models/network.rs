//! The network model: a flow model over connection records and a triage scorer for Suricata
//! alerts.
//!
//! **Flow model.** [`FlowFeatures`] turns OCSF Network Activity (4001) connection records —
//! Zeek `conn` and Suricata `flow` — into the NSL-KDD traffic features ([`flow_schema`]), computed
//! by the KDD'99 definitions over the live stream: the basic per-connection features (duration,
//! protocol, service, flag, bytes, land), the time-based traffic features over the connections
//! of the past 2 seconds (`count`, `srv_count`, SYN/REJ error rates, same/different service and
//! host rates) and the host-based traffic features over the last [`HOST_WINDOW`] connections
//! (`dst_host_*`). The trainer (`shrike train network`) reads the same features from the NSL-KDD
//! rows, where the KDD tooling computed them by the same definitions; serving computes them here.
//! The KDD content features (10–22: hot indicators, failed logins, root shells, file creations…)
//! and `wrong_fragment` / `urgent` need packet payloads or packet-level counters that connection
//! records do not carry: they are not in the schema.
//!
//! **Suricata alert triage.** There are no analyst dispositions for Suricata alerts in the data
//! Shrike was built with, so [`AlertTriage`] is a transparent rule-based scorer, not a learned
//! model: a logistic sum of fixed, documented log-odds terms (finding severity, the rule's
//! `signature_severity`, category, the latest ATT&CK tactic, how often the signature already
//! fired in recent history and for this source/destination, how many distinct signatures the
//! source raised recently). Its reasons are those terms. The stacked fusion learns from
//! dispositions once they exist.
//!
//! Invariants: history is bounded (fixed-size rings, no per-host maps); scoring a flow allocates
//! nothing but the returned [`ModelScore`] (and its reasons when asked for); no event panics;
//! events the model does not cover give `None` and leave the state untouched.

use std::collections::VecDeque;
use std::sync::OnceLock;

use serde_json::Value;
use shrike_score::scorer::ScoreScratch;
use shrike_score::{FeatureSchema, ModelError, ModelFile, Reason, Scorer};

use crate::alert::{Domain, Hit, ModelScore};
use crate::attack::AttackTable;
use crate::models::{verdict_of, DomainModel};
use crate::vendor::suricata::{alert_info, attack_labels};

/// Feature schema name.
pub const SCHEMA_NAME: &str = "network-flow";
/// Feature schema version: bumped when a feature or a code table changes.
pub const SCHEMA_VERSION: u32 = 1;
/// The bundled model (`models/network-default.json`).
pub const EMBEDDED_MODEL: &[u8] = include_bytes!("../../../../models/network-default.json");
/// Model id of the flow model.
pub const FLOW_MODEL_ID: &str = "shrike-network-flow-gbdt";
/// Model id of the Suricata alert triage scorer.
pub const TRIAGE_MODEL_ID: &str = "shrike-suricata-triage-rules";
/// Version of the triage scorer's rules.
pub const TRIAGE_VERSION: &str = "1";
/// Triage probability at or above which the verdict is `alert`.
pub const TRIAGE_ALERT: f64 = 0.8;
/// Triage probability at or above which the verdict is `suspicious`.
pub const TRIAGE_SUSPICIOUS: f64 = 0.5;

/// The time-based window (KDD: "the past two seconds").
pub const TIME_WINDOW_MS: i64 = 2_000;
/// Most connections kept for the 2-second window (bounds memory under floods; the largest
/// `count` in NSL-KDD is 511).
pub const TIME_RING: usize = 4_096;
/// The host-based window, in connections. The KDD papers say "the last 100 connections", but
/// NSL-KDD's `dst_host_count` and `dst_host_srv_count` reach 255 (their cap) in about a third of
/// the rows, which a 100-connection window cannot produce; the last 255 connections (including
/// the current one) spans exactly the range the trainer sees.
pub const HOST_WINDOW: usize = 255;

/// Protocol codes (`protocol_type`): index in this table.
pub const PROTOCOLS: [&str; 3] = ["tcp", "udp", "icmp"];

/// KDD connection flags (`flag`): index in this table. Zeek's later states `RSTRH` and `SHR`
/// are not in KDD and map to `OTH`.
pub const FLAGS: [&str; 11] = [
    "OTH", "REJ", "RSTO", "RSTOS0", "RSTR", "S0", "S1", "S2", "S3", "SF", "SH",
];

/// The KDD service vocabulary (`service`): index in this table (NSL-KDD's 70 values, sorted).
pub const SERVICES: [&str; 70] = [
    "IRC",
    "X11",
    "Z39_50",
    "aol",
    "auth",
    "bgp",
    "courier",
    "csnet_ns",
    "ctf",
    "daytime",
    "discard",
    "domain",
    "domain_u",
    "echo",
    "eco_i",
    "ecr_i",
    "efs",
    "exec",
    "finger",
    "ftp",
    "ftp_data",
    "gopher",
    "harvest",
    "hostnames",
    "http",
    "http_2784",
    "http_443",
    "http_8001",
    "imap4",
    "iso_tsap",
    "klogin",
    "kshell",
    "ldap",
    "link",
    "login",
    "mtp",
    "name",
    "netbios_dgm",
    "netbios_ns",
    "netbios_ssn",
    "netstat",
    "nnsp",
    "nntp",
    "ntp_u",
    "other",
    "pm_dump",
    "pop_2",
    "pop_3",
    "printer",
    "private",
    "red_i",
    "remote_job",
    "rje",
    "shell",
    "smtp",
    "sql_net",
    "ssh",
    "sunrpc",
    "supdup",
    "systat",
    "telnet",
    "tftp_u",
    "tim_i",
    "time",
    "urh_i",
    "urp_i",
    "uucp",
    "uucp_path",
    "vmnet",
    "whois",
];

/// TCP destination port -> KDD service (the /etc/services names the KDD tooling used).
const TCP_PORTS: &[(u16, &str)] = &[
    (7, "echo"),
    (9, "discard"),
    (11, "systat"),
    (13, "daytime"),
    (15, "netstat"),
    (20, "ftp_data"),
    (21, "ftp"),
    (22, "ssh"),
    (23, "telnet"),
    (25, "smtp"),
    (37, "time"),
    (42, "name"),
    (43, "whois"),
    (53, "domain"),
    (57, "mtp"),
    (70, "gopher"),
    (71, "remote_job"),
    (77, "rje"),
    (79, "finger"),
    (80, "http"),
    (84, "ctf"),
    (87, "link"),
    (95, "supdup"),
    (101, "hostnames"),
    (102, "iso_tsap"),
    (105, "csnet_ns"),
    (109, "pop_2"),
    (110, "pop_3"),
    (111, "sunrpc"),
    (113, "auth"),
    (117, "uucp_path"),
    (119, "nntp"),
    (137, "netbios_ns"),
    (138, "netbios_dgm"),
    (139, "netbios_ssn"),
    (143, "imap4"),
    (150, "sql_net"),
    (175, "vmnet"),
    (179, "bgp"),
    (194, "IRC"),
    (210, "Z39_50"),
    (389, "ldap"),
    (433, "nnsp"),
    (443, "http_443"),
    (512, "exec"),
    (513, "login"),
    (514, "shell"),
    (515, "printer"),
    (520, "efs"),
    (530, "courier"),
    (540, "uucp"),
    (543, "klogin"),
    (544, "kshell"),
    (2784, "http_2784"),
    (5190, "aol"),
    (6667, "IRC"),
    (8001, "http_8001"),
];

/// Number of features.
pub const N_FEATURES: usize = 26;

/// Feature index of `protocol_type`.
pub const F_PROTOCOL: usize = 1;
/// Feature index of `service`.
pub const F_SERVICE: usize = 2;
/// Feature index of `flag`.
pub const F_FLAG: usize = 3;

/// (name, group, description) of each feature, in vector order. `kdd_column` of feature `i` is
/// `i` for the basic features and `i + 15` for the traffic ones (the content features 10–22 are
/// left out).
const DEFS: [(&str, &str, &str); N_FEATURES] = [
    ("duration", "basic", "connection length in whole seconds"),
    ("protocol_type", "basic", "protocol code: index in PROTOCOLS (tcp 0, udp 1, icmp 2)"),
    ("service", "basic", "destination service code: index in the KDD service table (by protocol and destination port; unknown ports below 1024 'private', others 'other')"),
    ("flag", "basic", "connection status code: index in FLAGS (OTH REJ RSTO RSTOS0 RSTR S0 S1 S2 S3 SF SH), from Zeek conn_state or Suricata TCP flags"),
    ("src_bytes", "basic", "bytes from source to destination"),
    ("dst_bytes", "basic", "bytes from destination to source"),
    ("land", "basic", "1 if source and destination address and port are equal"),
    ("count", "time", "connections to the same destination host in the past 2 seconds (including this one)"),
    ("srv_count", "time", "connections to the same service in the past 2 seconds"),
    ("serror_rate", "time", "share of the `count` connections with SYN errors (S0, S1, S2, S3)"),
    ("srv_serror_rate", "time", "share of the `srv_count` connections with SYN errors"),
    ("rerror_rate", "time", "share of the `count` connections rejected (REJ)"),
    ("srv_rerror_rate", "time", "share of the `srv_count` connections rejected (REJ)"),
    ("same_srv_rate", "time", "share of the `count` connections to the same service"),
    ("diff_srv_rate", "time", "share of the `count` connections to other services"),
    ("srv_diff_host_rate", "time", "share of the `srv_count` connections to other hosts"),
    ("dst_host_count", "host", "connections to the same destination host among the last 255"),
    ("dst_host_srv_count", "host", "connections to the same service among the last 255"),
    ("dst_host_same_srv_rate", "host", "share of the dst_host_count connections to the same service"),
    ("dst_host_diff_srv_rate", "host", "share of the dst_host_count connections to other services"),
    ("dst_host_same_src_port_rate", "host", "share of the dst_host_count connections from the same source port"),
    ("dst_host_srv_diff_host_rate", "host", "share of the dst_host_srv_count connections to other hosts"),
    ("dst_host_serror_rate", "host", "share of the dst_host_count connections with SYN errors"),
    ("dst_host_srv_serror_rate", "host", "share of the dst_host_srv_count connections with SYN errors"),
    ("dst_host_rerror_rate", "host", "share of the dst_host_count connections rejected (REJ)"),
    ("dst_host_srv_rerror_rate", "host", "share of the dst_host_srv_count connections rejected (REJ)"),
];

/// The NSL-KDD column (0-based, in `KDDTrain+.txt`) of each feature.
pub fn kdd_column(feature: usize) -> usize {
    if feature <= 6 {
        feature
    } else {
        feature + 15
    }
}

/// The flow feature schema (`network-flow` v1), built once.
pub fn flow_schema() -> &'static FeatureSchema {
    static S: OnceLock<FeatureSchema> = OnceLock::new();
    S.get_or_init(|| FeatureSchema::from_defs(SCHEMA_NAME, SCHEMA_VERSION, &DEFS))
}

/// Code of a protocol name (`tcp`), `None` for others.
pub fn protocol_code(name: &str) -> Option<u8> {
    PROTOCOLS
        .iter()
        .position(|p| p.eq_ignore_ascii_case(name))
        .map(|i| i as u8)
}

/// Code of a KDD flag name (`S0`); unknown names are `OTH`.
pub fn flag_code(name: &str) -> u8 {
    FLAGS.iter().position(|f| *f == name).unwrap_or(0) as u8
}

/// Code of a KDD service name (`http`); unknown names are `other`.
pub fn service_code(name: &str) -> u8 {
    SERVICES
        .binary_search(&name)
        .unwrap_or(OTHER_SERVICE as usize) as u8
}

const OTHER_SERVICE: u8 = 44;
const PRIVATE_SERVICE: u8 = 49;

/// The KDD service of a connection: by protocol and destination port (TCP, UDP), by ICMP type and
/// code (ICMP: Zeek puts the type in the source port and the code in the destination port).
/// Unknown ports below 1024 are `private`, others `other` (as the KDD tooling named them).
pub fn service_of(protocol: u8, dst_port: Option<u16>, icmp: Option<(u16, u16)>) -> u8 {
    let name = match protocol {
        0 => match dst_port {
            Some(p) => match TCP_PORTS.binary_search_by_key(&p, |(port, _)| *port) {
                Ok(i) => TCP_PORTS[i].1,
                Err(_) if (6000..=6063).contains(&p) => "X11",
                Err(_) if p < 1024 => "private",
                Err(_) => "other",
            },
            None => "other",
        },
        1 => match dst_port {
            Some(53) => "domain_u",
            Some(69) => "tftp_u",
            Some(123) => "ntp_u",
            Some(p) if p < 1024 => "private",
            _ => "other",
        },
        2 => match icmp {
            Some((8, _)) => "eco_i",
            Some((0, _)) => "ecr_i",
            Some((13 | 14, _)) => "tim_i",
            Some((3, 3)) => "urp_i",
            Some((3, 1)) => "urh_i",
            Some((5, _)) => "red_i",
            _ => "other",
        },
        _ => return OTHER_SERVICE,
    };
    match name {
        "private" => PRIVATE_SERVICE,
        "other" => OTHER_SERVICE,
        n => service_code(n),
    }
}

/// The KDD flag of a Zeek `conn_state`.
pub fn flag_of_conn_state(state: &str) -> Option<u8> {
    Some(match state {
        "SF" | "S0" | "REJ" | "RSTO" | "RSTR" | "RSTOS0" | "SH" | "S1" | "S2" | "S3" | "OTH" => {
            flag_code(state)
        }
        "RSTRH" | "SHR" => 0,
        _ => return None,
    })
}

/// The KDD flag of a Suricata TCP flow from the union of TCP flags each side sent (bits: FIN 1,
/// SYN 2, RST 4, ACK 16). An approximation of Zeek's `conn_state`: Suricata logs flag unions,
/// not their order.
pub fn flag_of_tcp_flags(to_server: u8, to_client: u8) -> u8 {
    const FIN: u8 = 1;
    const SYN: u8 = 2;
    const RST: u8 = 4;
    const ACK: u8 = 16;
    let syn_c = to_server & SYN != 0;
    let synack_s = to_client & (SYN | ACK) == (SYN | ACK);
    let name = if !syn_c {
        "OTH"
    } else if to_client == 0 {
        if to_server & RST != 0 {
            "RSTOS0"
        } else if to_server & FIN != 0 {
            "SH"
        } else {
            "S0"
        }
    } else if !synack_s {
        if to_client & RST != 0 {
            "REJ"
        } else {
            "OTH"
        }
    } else if to_server & RST != 0 {
        "RSTO"
    } else if to_client & RST != 0 {
        "RSTR"
    } else {
        match (to_server & FIN != 0, to_client & FIN != 0) {
            (true, true) => "SF",
            (true, false) => "S2",
            (false, true) => "S3",
            (false, false) => "S1",
        }
    };
    flag_code(name)
}

/// Whether a flag is a SYN error (S0, S1, S2, S3).
pub fn is_syn_error(flag: u8) -> bool {
    matches!(FLAGS.get(flag as usize), Some(&("S0" | "S1" | "S2" | "S3")))
}

/// Whether a flag is a REJ error.
pub fn is_rej_error(flag: u8) -> bool {
    FLAGS.get(flag as usize) == Some(&"REJ")
}

/// One connection, as the extractor sees it (numbers only: no strings are kept).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conn {
    /// Start time, ms since the epoch.
    pub time_ms: i64,
    /// Hash of the destination address.
    pub dst: u64,
    /// Hash of the source address.
    pub src: u64,
    /// Source port (`u32::MAX` when unknown).
    pub src_port: u32,
    /// Destination port, when known.
    pub dst_port: Option<u16>,
    /// Protocol code (see [`PROTOCOLS`]), `None` for other protocols.
    pub protocol: Option<u8>,
    /// Service code.
    pub service: u8,
    /// Flag code, `None` when it could not be derived.
    pub flag: Option<u8>,
    /// Duration in ms, when known.
    pub duration_ms: Option<f64>,
    /// Bytes from source to destination.
    pub src_bytes: Option<f64>,
    /// Bytes from destination to source.
    pub dst_bytes: Option<f64>,
    /// Source and destination address and port equal.
    pub land: bool,
}

/// FNV-1a, for address hashing without allocation.
pub fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Whether an event is a connection record the flow model scores: OCSF 4001 from Zeek `conn`
/// or Suricata `flow`.
pub fn is_flow(event: &Value) -> bool {
    event.get("class_uid").and_then(Value::as_u64) == Some(4001)
        && matches!(
            at(event, &["metadata", "log_name"]).and_then(Value::as_str),
            Some("conn" | "flow")
        )
}

/// `v` at a path of object keys (and array indices), without the allocation
/// `Value::pointer` makes per segment.
pub fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut v = v;
    for seg in path {
        v = match v {
            Value::Object(m) => m.get(*seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

fn num(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64).filter(|f| f.is_finite())
}

fn port(v: Option<&Value>) -> Option<u16> {
    v.and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
}

fn hex_u8(v: Option<&Value>) -> Option<u8> {
    let s = v?.as_str()?;
    u8::from_str_radix(s.trim_start_matches("0x"), 16).ok()
}

impl Conn {
    /// Reads a connection record; `None` for events that are not one or lack the endpoints or
    /// time.
    pub fn from_event(event: &Value) -> Option<Conn> {
        if !is_flow(event) {
            return None;
        }
        let time_ms = event
            .get("start_time")
            .and_then(Value::as_i64)
            .or_else(|| event.get("time").and_then(Value::as_i64))?;
        let src_ip = at(event, &["src_endpoint", "ip"]).and_then(Value::as_str)?;
        let dst_ip = at(event, &["dst_endpoint", "ip"]).and_then(Value::as_str)?;
        let src_port = port(at(event, &["src_endpoint", "port"]));
        let dst_port = port(at(event, &["dst_endpoint", "port"]));
        let ci = event.get("connection_info");
        let proto_name = ci
            .and_then(|c| c.get("protocol_name"))
            .and_then(Value::as_str);
        let protocol = match proto_name {
            Some(n) => protocol_code(n).or(match n {
                "ipv6-icmp" | "icmpv6" => Some(2),
                _ => None,
            }),
            None => match ci
                .and_then(|c| c.get("protocol_num"))
                .and_then(Value::as_u64)
            {
                Some(6) => Some(0),
                Some(17) => Some(1),
                Some(1 | 58) => Some(2),
                _ => None,
            },
        };
        let is_zeek = at(event, &["metadata", "log_name"]).and_then(Value::as_str) == Some("conn");
        let icmp = if protocol == Some(2) {
            if is_zeek {
                src_port.zip(dst_port)
            } else {
                port(at(event, &["unmapped", "icmp_type"]))
                    .zip(port(at(event, &["unmapped", "icmp_code"])))
            }
        } else {
            None
        };
        let service = match protocol {
            Some(p) => service_of(p, dst_port, icmp),
            None => OTHER_SERVICE,
        };
        let flag = match protocol {
            // KDD marks every UDP and ICMP connection SF.
            Some(1 | 2) => Some(flag_code("SF")),
            _ if is_zeek => event
                .get("status_code")
                .and_then(Value::as_str)
                .and_then(flag_of_conn_state),
            Some(0) => {
                let ts = hex_u8(at(event, &["unmapped", "tcp", "tcp_flags_ts"]));
                let tc = hex_u8(at(event, &["unmapped", "tcp", "tcp_flags_tc"]));
                match (ts, tc) {
                    (Some(ts), tc) => Some(flag_of_tcp_flags(ts, tc.unwrap_or(0))),
                    _ => None,
                }
            }
            _ => None,
        };
        let duration_ms = num(event.get("duration")).or_else(|| {
            let s = event.get("start_time").and_then(Value::as_i64)?;
            let e = event.get("end_time").and_then(Value::as_i64)?;
            Some(e.saturating_sub(s).max(0) as f64)
        });
        let traffic = event.get("traffic");
        let src_bytes = num(traffic.and_then(|t| t.get("bytes_out")));
        let dst_bytes = num(traffic.and_then(|t| t.get("bytes_in")));
        Some(Conn {
            time_ms,
            dst: fnv1a(dst_ip),
            src: fnv1a(src_ip),
            src_port: src_port.map_or(u32::MAX, u32::from),
            dst_port,
            protocol,
            service,
            flag,
            duration_ms,
            src_bytes,
            dst_bytes,
            land: src_ip == dst_ip && src_port.is_some() && src_port == dst_port,
        })
    }
}

/// What the windows remember of a connection.
#[derive(Debug, Clone, Copy)]
struct Seen {
    time_ms: i64,
    dst: u64,
    src_port: u32,
    service: u8,
    serror: bool,
    rerror: bool,
}

/// The stateful flow feature extractor: two bounded rings (the past 2 seconds, at most
/// [`TIME_RING`] connections; the last [`HOST_WINDOW`] connections).
#[derive(Debug, Clone)]
pub struct FlowFeatures {
    recent: VecDeque<Seen>,
    last: VecDeque<Seen>,
    newest_ms: i64,
}

impl Default for FlowFeatures {
    fn default() -> Self {
        FlowFeatures::new()
    }
}

/// Rounds a share to 2 decimals, as the KDD tooling wrote them.
fn rate(n: u32, d: u32) -> f32 {
    if d == 0 {
        0.0
    } else {
        ((f64::from(n) / f64::from(d)) * 100.0).round() as f32 / 100.0
    }
}

impl FlowFeatures {
    /// Empty history (rings allocated once, at their bound).
    pub fn new() -> FlowFeatures {
        FlowFeatures {
            recent: VecDeque::with_capacity(TIME_RING),
            last: VecDeque::with_capacity(HOST_WINDOW),
            newest_ms: i64::MIN,
        }
    }

    /// Connections held.
    pub fn len(&self) -> usize {
        self.recent.len() + self.last.len()
    }

    /// Whether no connection is held.
    pub fn is_empty(&self) -> bool {
        self.recent.is_empty() && self.last.is_empty()
    }

    /// Approximate bytes held.
    pub fn state_bytes(&self) -> usize {
        (self.recent.capacity() + self.last.capacity()) * std::mem::size_of::<Seen>()
            + std::mem::size_of::<Self>()
    }

    /// Observes a connection and writes its features (schema order) into `x` (resized to
    /// [`N_FEATURES`]). The windows include the connection itself, as KDD's counts do.
    pub fn observe(&mut self, c: &Conn, x: &mut Vec<f32>) {
        let serror = c.flag.is_some_and(is_syn_error);
        let rerror = c.flag.is_some_and(is_rej_error);
        let seen = Seen {
            time_ms: c.time_ms,
            dst: c.dst,
            src_port: c.src_port,
            service: c.service,
            serror,
            rerror,
        };
        // Time window: evict what is older than 2 s before the newest connection seen (records
        // arrive roughly, not exactly, in start-time order), then count those within 2 s before
        // this one.
        self.newest_ms = self.newest_ms.max(c.time_ms);
        let horizon = self.newest_ms.saturating_sub(TIME_WINDOW_MS);
        while self.recent.front().is_some_and(|s| s.time_ms < horizon) {
            self.recent.pop_front();
        }
        if self.recent.len() >= TIME_RING {
            self.recent.pop_front();
        }
        self.recent.push_back(seen);
        let lo = c.time_ms.saturating_sub(TIME_WINDOW_MS);
        let (mut count, mut srv_count) = (0u32, 0u32);
        let (mut serr, mut srv_serr, mut rerr, mut srv_rerr) = (0u32, 0u32, 0u32, 0u32);
        let (mut same_srv, mut srv_diff_host) = (0u32, 0u32);
        // Newest first; records are near start-time order, so stop once they are older than the
        // window by a further 2 s of allowed disorder.
        let stop = lo.saturating_sub(TIME_WINDOW_MS);
        for s in self.recent.iter().rev() {
            if s.time_ms < stop {
                break;
            }
            if s.time_ms < lo || s.time_ms > c.time_ms {
                continue;
            }
            if s.dst == c.dst {
                count += 1;
                serr += u32::from(s.serror);
                rerr += u32::from(s.rerror);
                same_srv += u32::from(s.service == c.service);
            }
            if s.service == c.service {
                srv_count += 1;
                srv_serr += u32::from(s.serror);
                srv_rerr += u32::from(s.rerror);
                srv_diff_host += u32::from(s.dst != c.dst);
            }
        }
        // Host window: the last HOST_WINDOW connections, this one included.
        if self.last.len() >= HOST_WINDOW {
            self.last.pop_front();
        }
        self.last.push_back(seen);
        let (mut h_count, mut h_srv) = (0u32, 0u32);
        let (mut h_same_srv, mut h_same_port, mut h_srv_diff_host) = (0u32, 0u32, 0u32);
        let (mut h_serr, mut h_srv_serr, mut h_rerr, mut h_srv_rerr) = (0u32, 0u32, 0u32, 0u32);
        for s in &self.last {
            if s.dst == c.dst {
                h_count += 1;
                h_serr += u32::from(s.serror);
                h_rerr += u32::from(s.rerror);
                h_same_srv += u32::from(s.service == c.service);
                h_same_port += u32::from(s.src_port == c.src_port && c.src_port != u32::MAX);
            }
            if s.service == c.service {
                h_srv += 1;
                h_srv_serr += u32::from(s.serror);
                h_srv_rerr += u32::from(s.rerror);
                h_srv_diff_host += u32::from(s.dst != c.dst);
            }
        }
        let opt = |v: Option<f64>| v.map_or(f32::NAN, |v| v as f32);
        x.clear();
        x.extend_from_slice(&[
            c.duration_ms
                .map_or(f32::NAN, |d| (d / 1000.0).floor() as f32),
            c.protocol.map_or(f32::NAN, f32::from),
            f32::from(c.service),
            c.flag.map_or(f32::NAN, f32::from),
            opt(c.src_bytes),
            opt(c.dst_bytes),
            f32::from(u8::from(c.land)),
            count as f32,
            srv_count as f32,
            rate(serr, count),
            rate(srv_serr, srv_count),
            rate(rerr, count),
            rate(srv_rerr, srv_count),
            rate(same_srv, count),
            rate(count - same_srv, count),
            rate(srv_diff_host, srv_count),
            h_count as f32,
            h_srv as f32,
            rate(h_same_srv, h_count),
            rate(h_count - h_same_srv, h_count),
            rate(h_same_port, h_count),
            rate(h_srv_diff_host, h_srv),
            rate(h_serr, h_count),
            rate(h_srv_serr, h_srv),
            rate(h_rerr, h_count),
            rate(h_srv_rerr, h_srv),
        ]);
    }
}

/// Capacity of the triage scorer's recent-alert ring.
pub const TRIAGE_RING: usize = 4_096;

#[derive(Debug, Clone, Copy)]
struct RecentAlert {
    sig: u64,
    src: u64,
    dst: u64,
}

/// The rule-based Suricata alert triage scorer (see the module docs). Terms, in log-odds:
///
/// | term | value |
/// |---|---|
/// | base | −1.5 |
/// | finding `severity_id` (Suricata severity 1 → 4 high … 4 → 1 informational) | +0.7 × (severity_id − 2) |
/// | ET `signature_severity` | Critical +1.0, Major +0.5, Minor −0.3, Informational −0.8 |
/// | category | C2 / trojan / exploit kit / credential theft / coin mining +1.2; web attack, privilege gain, shellcode +0.6; scan, DoS, default login +0.3; policy, not suspicious, misc activity, protocol decode, unknown, potentially bad −1.0 |
/// | latest ATT&CK tactic in kill-chain order (0 = reconnaissance … 13 = impact) | +0.08 × order |
/// | signature rarity: times it fired among the last 4,096 alerts | −0.35 × ln(1 + n), at most −1.5 |
/// | same signature, same source and destination already in that history | −0.5 |
/// | distinct other signatures from the source in that history | +0.3 × n, at most +1.2 |
#[derive(Debug, Clone)]
pub struct AlertTriage {
    ring: VecDeque<RecentAlert>,
    distinct: Vec<u64>,
}

impl Default for AlertTriage {
    fn default() -> Self {
        AlertTriage::new()
    }
}

/// One term of the triage score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TriageTerm {
    /// Name (used as the reason's feature name).
    pub name: &'static str,
    /// The input value.
    pub value: f32,
    /// Log-odds contribution.
    pub contribution: f64,
    /// What it measures.
    pub description: &'static str,
}

/// Number of triage terms.
pub const N_TRIAGE_TERMS: usize = 7;

fn category_weight(category: &str) -> f64 {
    let c = category.to_ascii_lowercase();
    let has = |s: &str| c.contains(s);
    if has("command and control")
        || has("trojan")
        || has("exploit kit")
        || has("credential theft")
        || has("crypto currency mining")
        || has("used for c2")
    {
        1.2
    } else if has("web application attack")
        || has("privilege gain")
        || has("executable code")
        || has("targeted malicious")
    {
        0.6
    } else if has("network scan")
        || has("denial of service")
        || has("default username")
        || has("misc attack")
    {
        0.3
    } else if c.is_empty()
        || has("not suspicious")
        || has("privacy violation")
        || has("misc activity")
        || has("protocol command decode")
        || has("unknown traffic")
        || has("potentially bad")
    {
        -1.0
    } else {
        0.0
    }
}

impl AlertTriage {
    /// Empty history.
    pub fn new() -> AlertTriage {
        AlertTriage {
            ring: VecDeque::with_capacity(TRIAGE_RING),
            distinct: Vec::with_capacity(64),
        }
    }

    /// Approximate bytes held.
    pub fn state_bytes(&self) -> usize {
        self.ring.capacity() * std::mem::size_of::<RecentAlert>()
            + self.distinct.capacity() * 8
            + std::mem::size_of::<Self>()
    }

    /// Observes a Suricata alert and returns its probability and terms; `None` for events that
    /// are not Suricata alerts.
    pub fn observe(&mut self, event: &Value) -> Option<(f64, [TriageTerm; N_TRIAGE_TERMS])> {
        let info = alert_info(event)?;
        let sig = if info.sid.is_empty() {
            fnv1a(info.signature)
        } else {
            fnv1a(info.sid)
        };
        let src = info.src_ip.map_or(0, fnv1a);
        let dst = info.dst_ip.map_or(0, fnv1a);
        let (_, tactics) = attack_labels(event, info.category);
        let attack = AttackTable::embedded();
        let tactic_order = tactics
            .iter()
            .filter_map(|t| attack.order_of(t))
            .max()
            .map(f64::from);
        let (mut sig_n, mut pair_seen) = (0u32, false);
        self.distinct.clear();
        for a in &self.ring {
            if a.sig == sig {
                sig_n += 1;
                pair_seen |= a.src == src && a.dst == dst;
            } else if src != 0 && a.src == src && !self.distinct.contains(&a.sig) {
                // Bounded: at most 64 distinct signatures are tracked per score.
                if self.distinct.len() < 64 {
                    self.distinct.push(a.sig);
                }
            }
        }
        if self.ring.len() >= TRIAGE_RING {
            self.ring.pop_front();
        }
        self.ring.push_back(RecentAlert { sig, src, dst });
        let sev = f64::from(info.severity_id);
        let sig_sev = match info
            .signature_severity
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("critical") => 1.0,
            Some("major") => 0.5,
            Some("minor") => -0.3,
            Some("informational") => -0.8,
            _ => 0.0,
        };
        let n_distinct = self.distinct.len() as f64;
        let terms = [
            TriageTerm {
                name: "severity_id",
                value: sev as f32,
                contribution: 0.7 * (sev - 2.0),
                description: "the finding's OCSF severity_id (from Suricata's alert.severity)",
            },
            TriageTerm {
                name: "signature_severity",
                value: sig_sev as f32,
                contribution: sig_sev,
                description: "the rule's signature_severity metadata (ET rules)",
            },
            TriageTerm {
                name: "category",
                value: category_weight(info.category) as f32,
                contribution: category_weight(info.category),
                description: "prior of the alert category (classtype)",
            },
            TriageTerm {
                name: "attack_tactic_order",
                value: tactic_order.map_or(f32::NAN, |o| o as f32),
                contribution: tactic_order.map_or(0.0, |o| 0.08 * o),
                description: "kill-chain position of the latest ATT&CK tactic of the alert",
            },
            TriageTerm {
                name: "signature_recent_count",
                value: sig_n as f32,
                contribution: (-0.35 * f64::from(sig_n).ln_1p()).max(-1.5),
                description:
                    "times the signature fired among the last 4,096 alerts (noisy rules weigh less)",
            },
            TriageTerm {
                name: "same_pair_repeat",
                value: f32::from(u8::from(pair_seen)),
                contribution: if pair_seen { -0.5 } else { 0.0 },
                description: "the signature already fired for this source and destination",
            },
            TriageTerm {
                name: "source_distinct_signatures",
                value: n_distinct as f32,
                contribution: (0.3 * n_distinct).min(1.2),
                description:
                    "other distinct signatures the source raised among the last 4,096 alerts",
            },
        ];
        let z: f64 = -1.5 + terms.iter().map(|t| t.contribution).sum::<f64>();
        let p = 1.0 / (1.0 + (-z).exp());
        Some((p.clamp(0.0, 1.0), terms))
    }
}

/// The network domain model: the flow model and the Suricata alert triage scorer.
#[derive(Debug)]
pub struct NetworkModel {
    scorer: Scorer,
    flows: FlowFeatures,
    triage: AlertTriage,
    x: Vec<f32>,
    scratch: ScoreScratch,
    alert: f64,
}

impl NetworkModel {
    /// The bundled model.
    pub fn embedded() -> Result<NetworkModel, ModelError> {
        NetworkModel::from_bytes(EMBEDDED_MODEL)
    }

    /// A model file for the `network-flow` schema.
    pub fn from_bytes(bytes: &[u8]) -> Result<NetworkModel, ModelError> {
        let loaded = ModelFile::load(bytes, flow_schema())?;
        let alert = loaded.file.thresholds.phishing;
        Ok(NetworkModel {
            scorer: Scorer::new(loaded, flow_schema())?,
            flows: FlowFeatures::new(),
            triage: AlertTriage::new(),
            x: Vec::with_capacity(N_FEATURES),
            scratch: ScoreScratch::default(),
            alert,
        })
    }

    /// The flow model's scorer.
    pub fn scorer(&self) -> &Scorer {
        &self.scorer
    }

    /// The features of the last flow scored (schema order).
    pub fn last_features(&self) -> &[f32] {
        &self.x
    }

    /// Observes a flow and returns its calibrated probability without building a
    /// [`ModelScore`] (no allocation); `None` for events that are not flows.
    pub fn flow_probability(&mut self, event: &Value) -> Option<f64> {
        let c = Conn::from_event(event)?;
        self.flows.observe(&c, &mut self.x);
        Some(self.scorer.probability(&self.x))
    }

    fn score_flow(&mut self, event: &Value, n_reasons: usize) -> Option<ModelScore> {
        let c = Conn::from_event(event)?;
        self.flows.observe(&c, &mut self.x);
        Some(super::score_vector(
            &self.scorer,
            &self.x,
            &mut self.scratch,
            n_reasons,
            false,
        ))
    }

    fn score_alert(&mut self, event: &Value, n_reasons: usize) -> Option<ModelScore> {
        let (p, terms) = self.triage.observe(event)?;
        let mut reasons: Vec<Reason> = Vec::new();
        if n_reasons > 0 {
            let mut order: Vec<&TriageTerm> =
                terms.iter().filter(|t| t.contribution != 0.0).collect();
            order.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
            reasons = order
                .into_iter()
                .take(n_reasons)
                .map(|t| Reason {
                    feature: t.name.into(),
                    value: t.value,
                    contribution: t.contribution,
                    description: t.description.into(),
                })
                .collect();
        }
        Some(ModelScore {
            model: TRIAGE_MODEL_ID.into(),
            version: TRIAGE_VERSION.into(),
            probability: p,
            verdict: verdict_of(p, TRIAGE_ALERT, TRIAGE_SUSPICIOUS).into(),
            reasons,
        })
    }
}

impl DomainModel for NetworkModel {
    fn domain(&self) -> Domain {
        Domain::Network
    }

    fn id(&self) -> (&str, &str) {
        let m = self.scorer.model();
        (&m.id, &m.version)
    }

    fn alert_threshold(&self) -> f64 {
        self.alert
    }

    fn score(&mut self, event: &Value, _hits: &[Hit], n_reasons: usize) -> Option<ModelScore> {
        match event.get("class_uid").and_then(Value::as_u64) {
            Some(4001) => self.score_flow(event, n_reasons),
            Some(2004) => self.score_alert(event, n_reasons),
            _ => None,
        }
    }

    fn state_bytes(&self) -> usize {
        self.flows.state_bytes()
            + self.triage.state_bytes()
            + self.x.capacity() * 4
            + std::mem::size_of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_consistent() {
        assert_eq!(flow_schema().len(), N_FEATURES);
        let mut sorted = SERVICES;
        sorted.sort_unstable();
        assert_eq!(sorted, SERVICES, "SERVICES must stay sorted");
        assert_eq!(SERVICES[OTHER_SERVICE as usize], "other");
        assert_eq!(SERVICES[PRIVATE_SERVICE as usize], "private");
        assert!(TCP_PORTS.windows(2).all(|w| w[0].0 < w[1].0));
        for (_, s) in TCP_PORTS {
            assert!(SERVICES.contains(s), "{s}");
        }
        assert_eq!(kdd_column(0), 0);
        assert_eq!(kdd_column(6), 6);
        assert_eq!(kdd_column(7), 22);
        assert_eq!(kdd_column(25), 40);
    }

    #[test]
    fn services_and_flags() {
        assert_eq!(SERVICES[service_of(0, Some(80), None) as usize], "http");
        assert_eq!(SERVICES[service_of(0, Some(6010), None) as usize], "X11");
        assert_eq!(SERVICES[service_of(0, Some(161), None) as usize], "private");
        assert_eq!(SERVICES[service_of(0, Some(49152), None) as usize], "other");
        assert_eq!(SERVICES[service_of(1, Some(53), None) as usize], "domain_u");
        assert_eq!(
            SERVICES[service_of(2, None, Some((8, 0))) as usize],
            "eco_i"
        );
        assert_eq!(
            SERVICES[service_of(2, None, Some((3, 3))) as usize],
            "urp_i"
        );
        assert_eq!(flag_of_conn_state("RSTRH"), Some(0));
        assert_eq!(
            flag_of_conn_state("S0").map(|f| FLAGS[f as usize]),
            Some("S0")
        );
        assert_eq!(flag_of_conn_state("bogus"), None);
        // SYN, no answer -> S0; SYN, RST back -> REJ; full handshake with FINs -> SF.
        assert_eq!(FLAGS[flag_of_tcp_flags(0x02, 0) as usize], "S0");
        assert_eq!(FLAGS[flag_of_tcp_flags(0x02, 0x14) as usize], "REJ");
        assert_eq!(FLAGS[flag_of_tcp_flags(0x1b, 0x1b) as usize], "SF");
        assert_eq!(FLAGS[flag_of_tcp_flags(0x1f, 0x1a) as usize], "RSTO");
        assert_eq!(FLAGS[flag_of_tcp_flags(0x18, 0x18) as usize], "OTH");
    }
}

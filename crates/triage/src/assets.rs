//! The asset and identity inventory: what a host or user is worth to the business.
//!
//! [`Inventory`] is loaded from CSV or JSON files ([`Inventory::load_path`],
//! [`Inventory::load_str`]) and answers lookups by the same canonical keys the normalizer's
//! entity extraction produces, so an entity key from an alert finds its inventory row directly.
//!
//! # Input
//!
//! - **Formats** ([`InputFormat`]): CSV with a header row (names trimmed, case-insensitive;
//!   list columns `ips`, `data_classes`, `tags` are `;`-separated), a JSON array of objects,
//!   NDJSON (one object per line), or a single JSON object. Detected by extension (`.csv`,
//!   `.ndjson`/`.jsonl`; `.json` is sniffed between array, object and NDJSON) or else by
//!   content (first non-blank byte `[` or `{` is JSON, anything else CSV). In JSON a list may
//!   be an array of strings or one `;`-separated string; numbers and booleans may be strings.
//! - **Row kind**: one file may mix hosts and identities. An explicit `kind` column/field
//!   (`host`/`asset`, or `identity`/`user`) decides; without it (or when it is empty) a row with
//!   a `hostname` (alias `host`) is a host and otherwise a row with a `user` (alias `username`)
//!   is an identity. A row with both keys and no `kind` is a host.
//! - **Hosts** ([`Host`]): `hostname` (short or FQDN; required), `ips`, `owner`,
//!   `business_service`, `criticality` (integer 1–5; a missing value defaults to
//!   [`DEFAULT_CRITICALITY`] and the host says so in [`Host::criticality_defaulted`]),
//!   `data_classes`, `environment`, `tags`.
//! - **Identities** ([`Identity`]): `user` (`DOMAIN\user`, `user@domain.tld` or bare;
//!   required), `department`, `privileged` (`true/false/yes/no/y/n/1/0`; missing = false),
//!   `email`, `title`, `manager`. Unknown columns are ignored.
//!
//! A bad row never stops loading: it is collected in [`Inventory::rejected`] with its source,
//! line (CSV, NDJSON) or array index (JSON array) and a bounded reason code. A later row for the
//! same host (same short name) or user (same canonical key) replaces the earlier one, within a
//! file and across files, and a [`Warning`] records it; the same holds for an IP claimed by two
//! hosts (the later host owns it).
//!
//! # Keys (as in `shrike-normalize`'s `entities` module)
//!
//! - Host: the lowercase short name (first DNS label); the FQDN is kept as an alias. Lookups
//!   by short name or by any FQDN with that short name find the host (hosts in different DNS
//!   domains with the same short name share a key, as in the normalizer).
//! - IP: [`IpAddr`]; IPv4-mapped IPv6 addresses are stored and looked up as IPv4.
//! - User: `name@<first domain label>` lowercased (`CORP\alice`, `alice@corp.example` →
//!   `alice@corp`); a bare name is its own key and matches only a bare row.
//!
//! Pure data after loading: no network, no database.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

/// Criticality given to a host whose row has no `criticality`.
pub const DEFAULT_CRITICALITY: u8 = 3;

/// A host of the inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Host {
    /// Canonical key: lowercase short name.
    pub hostname: String,
    /// Lowercase FQDN when the row gave one.
    pub fqdn: Option<String>,
    /// Addresses of the host (canonical: IPv4-mapped IPv6 as IPv4).
    pub ips: Vec<IpAddr>,
    /// Owner (team or person).
    pub owner: Option<String>,
    /// Business service the host supports.
    pub business_service: Option<String>,
    /// 1 (lowest) to 5 (highest).
    pub criticality: u8,
    /// True when the row had no criticality and [`DEFAULT_CRITICALITY`] was used.
    pub criticality_defaulted: bool,
    /// Classes of data on the host (e.g. `pii`, `pci`).
    pub data_classes: Vec<String>,
    /// Environment (`prod`, `dev`, …), lowercased.
    pub environment: Option<String>,
    /// Free tags.
    pub tags: Vec<String>,
}

/// A user of the inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// Canonical key: `name@<domain label>` or bare `name`, lowercased.
    pub user: String,
    /// The spelling in the row.
    pub original: String,
    /// Department.
    pub department: Option<String>,
    /// Privileged account (admin, service with broad rights).
    pub is_privileged: bool,
    /// Mailbox address, lowercased.
    pub email: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Manager, as written in the row.
    pub manager: Option<String>,
}

/// Input format of an inventory file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// Decide from extension, then content.
    Auto,
    /// CSV with a header row.
    Csv,
    /// A JSON array of objects, or one object.
    Json,
    /// One JSON object per line.
    Ndjson,
}

/// A row that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedRow {
    /// File path or the caller's source name.
    pub source: String,
    /// 1-based line (CSV, NDJSON, unparseable JSON) or 0-based array index (JSON array).
    pub location: Location,
    /// Bounded reason code, usable as a metric label: `malformed_csv`, `malformed_json`, `not_an_object`, `unknown_kind`,
    /// `missing_hostname`, `invalid_hostname`, `invalid_ip`, `invalid_criticality`,
    /// `criticality_out_of_range`, `missing_user`, `invalid_user`, `invalid_privileged`).
    pub reason: &'static str,
    /// Human-readable detail.
    pub detail: String,
}

/// Where a row was in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// 1-based line number.
    Line(u64),
    /// 0-based index in a JSON array.
    Index(usize),
}

/// Something worth telling the operator that did not reject a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// File path or source name.
    pub source: String,
    /// Where the row that caused it was.
    pub location: Location,
    /// Bounded code: `duplicate_host`, `duplicate_user`, `ip_reassigned`,
    /// `criticality_defaulted`.
    pub code: &'static str,
    /// Human-readable detail.
    pub detail: String,
}

/// Errors that stop a load (only I/O: bad content is per row).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssetsError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Hosts and identities, indexed for lookup.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    hosts: BTreeMap<String, Host>,
    by_ip: HashMap<IpAddr, String>,
    users: BTreeMap<String, Identity>,
    rejected: Vec<RejectedRow>,
    warnings: Vec<Warning>,
}

/// Counts of one load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LoadSummary {
    /// Host rows accepted (including ones that replaced an earlier row).
    pub hosts: usize,
    /// Identity rows accepted.
    pub identities: usize,
    /// Rows rejected.
    pub rejected: usize,
}

impl Inventory {
    /// An empty inventory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads one file into this inventory (later files override earlier rows).
    ///
    /// # Errors
    /// Only when the file cannot be read; bad content goes to [`Inventory::rejected`].
    pub fn load_path(
        &mut self,
        path: &Path,
        format: InputFormat,
    ) -> Result<LoadSummary, AssetsError> {
        let bytes = std::fs::read(path).map_err(|source| AssetsError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes);
        let format = match format {
            InputFormat::Auto => {
                let ext = path
                    .extension()
                    .and_then(|e| e.to_str())
                    .map(str::to_ascii_lowercase);
                match ext.as_deref() {
                    Some("csv") => InputFormat::Csv,
                    Some("ndjson" | "jsonl") => InputFormat::Ndjson,
                    _ => InputFormat::Auto,
                }
            }
            f => f,
        };
        Ok(self.load_str(&text, format, &path.display().to_string()))
    }

    /// Loads rows from text; `source` names it in rejections and warnings.
    pub fn load_str(&mut self, text: &str, format: InputFormat, source: &str) -> LoadSummary {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let format = match format {
            InputFormat::Auto => sniff(text),
            f => f,
        };
        let rejected_before = self.rejected.len();
        let mut summary = LoadSummary::default();
        let mut sink = |inv: &mut Self, row: Result<Row, RejectedRow>| match row {
            Ok(row) => match inv.add_row(row, source) {
                Some(RowKind::Host) => summary.hosts += 1,
                Some(RowKind::Identity) => summary.identities += 1,
                None => {}
            },
            Err(r) => inv.rejected.push(r),
        };
        match format {
            InputFormat::Csv => {
                for row in csv_rows(text, source) {
                    sink(self, row);
                }
            }
            InputFormat::Ndjson => {
                for row in ndjson_rows(text, source) {
                    sink(self, row);
                }
            }
            InputFormat::Json | InputFormat::Auto => {
                // Auto after sniff is JSON-ish: an array, one object, or NDJSON.
                for row in json_rows(text, source) {
                    sink(self, row);
                }
            }
        }
        summary.rejected = self.rejected.len() - rejected_before;
        summary
    }

    /// The host by short name or FQDN (case-insensitive, trailing dot ignored), or by IP text.
    pub fn host(&self, name: &str) -> Option<&Host> {
        let name = name.trim();
        if let Some(ip) = parse_ip(name) {
            return self.host_by_ip(ip);
        }
        let (short, _) = host_key(name)?;
        self.hosts.get(&short)
    }

    /// The host that owns `ip` (IPv4-mapped IPv6 matches IPv4).
    pub fn host_by_ip(&self, ip: IpAddr) -> Option<&Host> {
        let key = self.by_ip.get(&canonical_ip(ip))?;
        self.hosts.get(key)
    }

    /// The identity for `DOMAIN\user`, `user@domain.tld` or a bare name (matches only a bare
    /// row), case-insensitive; see the module doc for the key.
    pub fn user(&self, name: &str) -> Option<&Identity> {
        self.users.get(&user_key(name)?)
    }

    /// Criticality of a host given by name, FQDN or IP text; `None` when not in the inventory.
    pub fn criticality_of(&self, host_or_ip: &str) -> Option<u8> {
        self.host(host_or_ip).map(|h| h.criticality)
    }

    /// All hosts, by key.
    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.values()
    }

    /// All identities, by key.
    pub fn identities(&self) -> impl Iterator<Item = &Identity> {
        self.users.values()
    }

    /// Rows rejected by every load so far.
    pub fn rejected(&self) -> &[RejectedRow] {
        &self.rejected
    }

    /// Warnings from every load so far.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    fn add_row(&mut self, row: Row, source: &str) -> Option<RowKind> {
        let loc = row.location;
        let reject = |reason: &'static str, detail: String| RejectedRow {
            source: source.to_owned(),
            location: loc,
            reason,
            detail,
        };
        let parsed = match row_kind(&row.fields) {
            Err(k) => Err(reject("unknown_kind", k)),
            Ok(RowKind::Host) => parse_host(&row.fields)
                .map(Parsed::Host)
                .map_err(|(r, d)| reject(r, d)),
            Ok(RowKind::Identity) => parse_identity(&row.fields)
                .map(Parsed::Identity)
                .map_err(|(r, d)| reject(r, d)),
        };
        let mut warn = |code: &'static str, detail: String| {
            self.warnings.push(Warning {
                source: source.to_owned(),
                location: loc,
                code,
                detail,
            });
        };
        match parsed {
            Err(r) => {
                self.rejected.push(r);
                None
            }
            Ok(Parsed::Host(host)) => {
                if host.criticality_defaulted {
                    warn(
                        "criticality_defaulted",
                        format!(
                            "host {} has no criticality; using {DEFAULT_CRITICALITY}",
                            host.hostname
                        ),
                    );
                }
                if let Some(old) = self.hosts.remove(&host.hostname) {
                    warn(
                        "duplicate_host",
                        format!("host {} defined again; the later row wins", host.hostname),
                    );
                    for ip in &old.ips {
                        if self.by_ip.get(ip) == Some(&old.hostname) {
                            self.by_ip.remove(ip);
                        }
                    }
                }
                for ip in &host.ips {
                    if let Some(prev) = self.by_ip.insert(*ip, host.hostname.clone()) {
                        if prev != host.hostname {
                            warn(
                                "ip_reassigned",
                                format!("{ip} moved from host {prev} to {}", host.hostname),
                            );
                            if let Some(p) = self.hosts.get_mut(&prev) {
                                p.ips.retain(|x| x != ip);
                            }
                        }
                    }
                }
                self.hosts.insert(host.hostname.clone(), host);
                Some(RowKind::Host)
            }
            Ok(Parsed::Identity(id)) => {
                if self.users.contains_key(&id.user) {
                    warn(
                        "duplicate_user",
                        format!("user {} defined again; the later row wins", id.user),
                    );
                }
                self.users.insert(id.user.clone(), id);
                Some(RowKind::Identity)
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowKind {
    Host,
    Identity,
}

enum Parsed {
    Host(Host),
    Identity(Identity),
}

/// One input row: lowercase field names to JSON values (CSV cells are strings; empty cells
/// are absent).
struct Row {
    location: Location,
    fields: Map<String, Value>,
}

fn sniff(text: &str) -> InputFormat {
    match text.trim_start().as_bytes().first() {
        Some(b'[' | b'{') => InputFormat::Json,
        _ => InputFormat::Csv,
    }
}

fn csv_rows<'a>(
    text: &'a str,
    source: &'a str,
) -> impl Iterator<Item = Result<Row, RejectedRow>> + 'a {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Result<Vec<String>, String> = rdr
        .headers()
        .map(|h| h.iter().map(|s| s.trim().to_ascii_lowercase()).collect())
        .map_err(|e| e.to_string());
    let (headers, header_err) = match headers {
        Ok(h) => (h, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let reject = move |line: u64, reason: &'static str, detail: String| RejectedRow {
        source: source.to_owned(),
        location: Location::Line(line),
        reason,
        detail,
    };
    let header_rej = header_err.map(|e| Err(reject(1, "malformed_csv", e)));
    let records = rdr.into_records().map(move |rec| {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            reject(line, "malformed_csv", e.to_string())
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        if rec.len() > headers.len() {
            return Err(reject(
                line,
                "malformed_csv",
                format!("{} fields, header has {}", rec.len(), headers.len()),
            ));
        }
        let fields = headers
            .iter()
            .zip(rec.iter())
            .filter(|(_, v)| !v.is_empty())
            .map(|(h, v)| (h.clone(), Value::String(v.to_owned())))
            .collect();
        Ok(Row {
            location: Location::Line(line),
            fields,
        })
    });
    // A header error means no records can be trusted: report it once.
    let stop = header_rej.is_some();
    header_rej
        .into_iter()
        .chain(records.take_while(move |_| !stop))
}

fn ndjson_rows<'a>(
    text: &'a str,
    source: &'a str,
) -> impl Iterator<Item = Result<Row, RejectedRow>> + 'a {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(move |(i, l)| {
            let location = Location::Line(i as u64 + 1);
            match serde_json::from_str::<Value>(l) {
                Ok(v) => object_row(v, location, source),
                Err(e) => Err(RejectedRow {
                    source: source.to_owned(),
                    location,
                    reason: "malformed_json",
                    detail: e.to_string(),
                }),
            }
        })
}

fn json_rows<'a>(
    text: &'a str,
    source: &'a str,
) -> Box<dyn Iterator<Item = Result<Row, RejectedRow>> + 'a> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => Box::new(
            items
                .into_iter()
                .enumerate()
                .map(move |(i, v)| object_row(v, Location::Index(i), source)),
        ),
        Ok(v @ Value::Object(_)) => {
            Box::new(std::iter::once(object_row(v, Location::Line(1), source)))
        }
        Ok(_) => Box::new(std::iter::once(Err(RejectedRow {
            source: source.to_owned(),
            location: Location::Line(1),
            reason: "not_an_object",
            detail: "top-level JSON is neither an array nor an object".into(),
        }))),
        Err(e) if text.trim_start().starts_with('[') => {
            Box::new(std::iter::once(Err(RejectedRow {
                source: source.to_owned(),
                location: Location::Line(e.line() as u64),
                reason: "malformed_json",
                detail: e.to_string(),
            })))
        }
        // Several objects: NDJSON.
        Err(_) => Box::new(ndjson_rows(text, source)),
    }
}

fn object_row(v: Value, location: Location, source: &str) -> Result<Row, RejectedRow> {
    match v {
        Value::Object(m) => Ok(Row {
            location,
            fields: m
                .into_iter()
                .filter(|(_, v)| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty()))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v))
                .collect(),
        }),
        other => Err(RejectedRow {
            source: source.to_owned(),
            location,
            reason: "not_an_object",
            detail: format!("expected an object, got {}", json_type(&other)),
        }),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn field<'a>(f: &'a Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|n| f.get(*n))
}

fn text(f: &Map<String, Value>, names: &[&str]) -> Option<String> {
    match field(f, names)? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn list(f: &Map<String, Value>, name: &str) -> Vec<String> {
    let split = |s: &str| {
        s.split(';')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    match f.get(name) {
        Some(Value::String(s)) => split(s),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn row_kind(f: &Map<String, Value>) -> Result<RowKind, String> {
    if let Some(k) = text(f, &["kind"]) {
        return match k.to_ascii_lowercase().as_str() {
            "host" | "asset" => Ok(RowKind::Host),
            "identity" | "user" => Ok(RowKind::Identity),
            _ => Err(format!("kind {k:?} is neither host nor identity")),
        };
    }
    if field(f, &["hostname", "host"]).is_some() {
        Ok(RowKind::Host)
    } else if field(f, &["user", "username"]).is_some() {
        Ok(RowKind::Identity)
    } else {
        Err("row has no kind, hostname or user".into())
    }
}

type RowError = (&'static str, String);

fn parse_host(f: &Map<String, Value>) -> Result<Host, RowError> {
    let name = text(f, &["hostname", "host"]).ok_or(("missing_hostname", String::new()))?;
    let (hostname, fqdn) =
        host_key(&name).ok_or(("invalid_hostname", format!("{name:?} is not a host name")))?;
    let mut ips = Vec::new();
    for s in list(f, "ips") {
        let ip = parse_ip(&s).ok_or(("invalid_ip", format!("{s:?} is not an IP address")))?;
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    let (criticality, criticality_defaulted) = match field(f, &["criticality"]) {
        None => (DEFAULT_CRITICALITY, true),
        Some(v) => {
            let n = match v {
                Value::Number(n) => n.as_i64().or_else(|| {
                    n.as_f64()
                        .filter(|x| x.fract() == 0.0 && x.abs() < 1e9)
                        .map(|x| x as i64)
                }),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            }
            .ok_or((
                "invalid_criticality",
                format!("criticality {v} is not an integer"),
            ))?;
            if !(1..=5).contains(&n) {
                return Err((
                    "criticality_out_of_range",
                    format!("criticality {n} is outside 1–5"),
                ));
            }
            (n as u8, false)
        }
    };
    Ok(Host {
        hostname,
        fqdn,
        ips,
        owner: text(f, &["owner"]),
        business_service: text(f, &["business_service"]),
        criticality,
        criticality_defaulted,
        data_classes: list(f, "data_classes"),
        environment: text(f, &["environment", "env"]).map(|s| s.to_lowercase()),
        tags: list(f, "tags"),
    })
}

fn parse_identity(f: &Map<String, Value>) -> Result<Identity, RowError> {
    let original = text(f, &["user", "username"]).ok_or(("missing_user", String::new()))?;
    let user =
        user_key(&original).ok_or(("invalid_user", format!("{original:?} is not a user name")))?;
    let is_privileged = match field(f, &["privileged"]) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) if n.as_i64() == Some(0) => false,
        Some(Value::Number(n)) if n.as_i64() == Some(1) => true,
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" => true,
            "false" | "no" | "n" | "0" => false,
            _ => return Err(("invalid_privileged", format!("privileged {s:?}"))),
        },
        Some(v) => return Err(("invalid_privileged", format!("privileged {v}"))),
    };
    Ok(Identity {
        user,
        original,
        department: text(f, &["department"]),
        is_privileged,
        email: text(f, &["email", "mail"]).map(|s| s.to_lowercase()),
        title: text(f, &["title"]),
        manager: text(f, &["manager"]),
    })
}

fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    let s = s.split_once('%').map_or(s, |(a, _)| a);
    s.parse().ok().map(canonical_ip)
}

/// `(short name, FQDN)` lowercased, as the normalizer keys hosts; `None` for names with
/// characters other than letters, digits, `-`, `_`, `.` or empty labels.
fn host_key(name: &str) -> Option<(String, Option<String>)> {
    let lower = name.trim().trim_end_matches('.').to_lowercase();
    if lower.is_empty()
        || lower.split('.').any(str::is_empty)
        || !lower
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return None;
    }
    // An address is not a host name (the normalizer makes it an Ip entity).
    if parse_ip(&lower).is_some()
        || lower
            .split('.')
            .all(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let short = lower.split('.').next()?.to_owned();
    let fqdn = lower.contains('.').then_some(lower);
    Some((short, fqdn))
}

/// Canonical user key: `DOMAIN\user` and `user@domain.tld` → `user@<first domain label>`,
/// bare `user` → `user`, lowercased. `None` for empty parts.
pub fn user_key(name: &str) -> Option<String> {
    let name = name.trim();
    let (user, domain) = if let Some((d, u)) = name.split_once('\\') {
        (u, Some(d))
    } else if let Some((u, d)) = name.rsplit_once('@') {
        (u, Some(d))
    } else {
        (name, None)
    };
    let user = user.trim().to_lowercase();
    if user.is_empty() || user.contains(['\\', '@']) || user.chars().any(char::is_whitespace) {
        return None;
    }
    match domain {
        None => Some(user),
        Some(d) => {
            let label = d
                .split('.')
                .map(str::trim)
                .find(|l| !l.is_empty())?
                .to_lowercase();
            if label.contains(['\\', '@']) || label.chars().any(char::is_whitespace) {
                return None;
            }
            Some(format!("{user}@{label}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_keys_match_the_normalizer() {
        assert_eq!(user_key("CORP\\Alice").as_deref(), Some("alice@corp"));
        assert_eq!(
            user_key("alice@corp.example").as_deref(),
            Some("alice@corp")
        );
        assert_eq!(user_key("alice@corp").as_deref(), Some("alice@corp"));
        assert_eq!(user_key("Bob").as_deref(), Some("bob"));
        assert_eq!(user_key("\\x"), None);
        assert_eq!(user_key("x@"), None);
        assert_eq!(user_key(""), None);
    }

    #[test]
    fn host_keys_are_short_names() {
        assert_eq!(
            host_key("WS01.Corp.Example."),
            Some(("ws01".into(), Some("ws01.corp.example".into())))
        );
        assert_eq!(host_key("ws01"), Some(("ws01".into(), None)));
        assert_eq!(host_key("a..b"), None);
        assert_eq!(host_key("a b"), None);
    }
}

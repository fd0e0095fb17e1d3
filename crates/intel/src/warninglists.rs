//! MISP warning lists: known-benign values (public DNS resolvers, CDN and cloud ranges, top
//! domains, empty-file hashes) used to *suppress* intel hits, never to drop them.
//!
//! - [`WarningLists::load_dir`] reads `lists/<name>/list.json` (MISP/misp-warninglists layout);
//!   a list is named by its directory (`public-dns-v4`), which is what
//!   [`WarningLists::matches`] returns.
//! - Supported list types: `cidr` (IPv4 and IPv6 prefixes; a bare address is a /32 or /128),
//!   `string` (exact, compared lowercased; Shrike reads an entry with a leading dot,
//!   `.google.ad`, as "this domain and its subdomains", which is how those lists are meant),
//!   `hostname` (the name or any subdomain of it) and `substring`. `regex` lists are reported
//!   in [`WarningLists::skipped`] with their name and not used.
//! - A list applies only to the indicator kinds its `matching_attributes` name (`ip-dst` →
//!   IPs, `domain`/`hostname` → domains, `url`/`uri` → URLs (compared by their host, and for
//!   `string`/`substring` lists also as a whole), `md5`/`sha1`/`sha256` → hashes, `email-*` →
//!   emails); a list without `matching_attributes` applies to every kind.
//!
//! Matching allocates nothing unless something matches (the answer vector), except for URLs
//! checked against `string`/`substring` lists, which lowercase the URL once.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Indicator, IndicatorKind};

/// Why warning lists could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WarningListError {
    /// The lists directory could not be read.
    #[error("reading warning lists in {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A `list.json` is not a MISP warning list.
    #[error("warning list {name}: {source}")]
    Json {
        /// The list's name.
        name: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// The list's `type` is not supported (`regex`, or unknown).
    #[error("warning list {name}: unsupported type {kind:?}")]
    Unsupported {
        /// The list's name.
        name: String,
        /// The list's type.
        kind: String,
    },
}

/// An IP prefix (`192.0.2.0/24`, `2001:db8::/32`); the address is stored masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// An IPv4-mapped IPv6 address as its IPv4 address; anything else unchanged.
pub(crate) fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn mask4(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0)
}

fn mask6(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix.min(128)))
        .unwrap_or(0)
}

impl Cidr {
    /// A prefix; `None` when `prefix` is longer than the address.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Cidr> {
        let addr = canonical_ip(addr);
        match addr {
            IpAddr::V4(v4) if prefix <= 32 => Some(Cidr {
                addr: IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask4(prefix))),
                prefix,
            }),
            IpAddr::V6(v6) if prefix <= 128 => Some(Cidr {
                addr: IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask6(prefix))),
                prefix,
            }),
            _ => None,
        }
    }

    /// Parses `addr/len` or a bare address (a host prefix); case-insensitive for IPv6.
    pub fn parse(raw: &str) -> Option<Cidr> {
        let raw = raw.trim();
        let (addr, len) = match raw.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (raw, None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let addr = canonical_ip(addr);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match len {
            Some(l) if !l.is_empty() && l.len() <= 3 && l.bytes().all(|b| b.is_ascii_digit()) => {
                l.parse::<u8>().ok()?
            }
            Some(_) => return None,
            None => max,
        };
        Cidr::new(addr, prefix)
    }

    /// The (masked) network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is inside the prefix (IPv4-mapped IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical_ip(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                u32::from(ip) & mask4(self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                u128::from(ip) & mask6(self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Values keyed by prefix, answering "which prefixes contain this IP" with one hash probe per
/// distinct prefix length present (longest first).
#[derive(Debug, Clone)]
pub(crate) struct CidrTable<T> {
    v4: Vec<(u8, HashMap<u32, T>)>,
    v6: Vec<(u8, HashMap<u128, T>)>,
}

impl<T> Default for CidrTable<T> {
    fn default() -> Self {
        CidrTable {
            v4: Vec::new(),
            v6: Vec::new(),
        }
    }
}

impl<T: Default> CidrTable<T> {
    /// The value for exactly this prefix, created empty if absent.
    pub(crate) fn entry(&mut self, cidr: Cidr) -> &mut T {
        match cidr.addr {
            IpAddr::V4(a) => {
                let i = slot(&mut self.v4, cidr.prefix);
                self.v4[i].1.entry(u32::from(a)).or_default()
            }
            IpAddr::V6(a) => {
                let i = slot(&mut self.v6, cidr.prefix);
                self.v6[i].1.entry(u128::from(a)).or_default()
            }
        }
    }
}

/// Index of the table for `prefix`, inserted so that lengths stay in descending order.
fn slot<K, T>(tables: &mut Vec<(u8, HashMap<K, T>)>, prefix: u8) -> usize {
    match tables.binary_search_by(|(p, _)| prefix.cmp(p)) {
        Ok(i) => i,
        Err(i) => {
            tables.insert(i, (prefix, HashMap::new()));
            i
        }
    }
}

impl<T> CidrTable<T> {
    /// Every stored prefix containing `ip`, longest first.
    pub(crate) fn matches(&self, ip: IpAddr) -> impl Iterator<Item = (Cidr, &T)> + '_ {
        let ip = canonical_ip(ip);
        let (v4, v6) = match ip {
            IpAddr::V4(a) => (Some(u32::from(a)), None),
            IpAddr::V6(a) => (None, Some(u128::from(a))),
        };
        let a = v4.into_iter().flat_map(move |key| {
            self.v4.iter().filter_map(move |(p, m)| {
                let net = key & mask4(*p);
                m.get(&net).map(|t| {
                    (
                        Cidr {
                            addr: IpAddr::V4(Ipv4Addr::from(net)),
                            prefix: *p,
                        },
                        t,
                    )
                })
            })
        });
        let b = v6.into_iter().flat_map(move |key| {
            self.v6.iter().filter_map(move |(p, m)| {
                let net = key & mask6(*p);
                m.get(&net).map(|t| {
                    (
                        Cidr {
                            addr: IpAddr::V6(Ipv6Addr::from(net)),
                            prefix: *p,
                        },
                        t,
                    )
                })
            })
        });
        a.chain(b)
    }

    /// Whether the table holds nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Number of stored prefixes.
    pub(crate) fn len(&self) -> usize {
        self.v4.iter().map(|(_, m)| m.len()).sum::<usize>()
            + self.v6.iter().map(|(_, m)| m.len()).sum::<usize>()
    }
}

/// A MISP warning list's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    /// IP prefixes.
    Cidr,
    /// Exact values.
    String,
    /// Host names and their subdomains.
    Hostname,
    /// Substrings.
    Substring,
}

impl ListType {
    /// The MISP name.
    pub fn as_str(self) -> &'static str {
        match self {
            ListType::Cidr => "cidr",
            ListType::String => "string",
            ListType::Hostname => "hostname",
            ListType::Substring => "substring",
        }
    }
}

const K_IP: u8 = 1;
const K_DOMAIN: u8 = 2;
const K_URL: u8 = 4;
const K_HASH: u8 = 8;
const K_EMAIL: u8 = 16;
const K_ALL: u8 = 31;

fn kinds_of(attrs: &[String]) -> u8 {
    let mut k = 0;
    for a in attrs {
        for part in a.split('|') {
            k |= match part.trim() {
                "ip-src" | "ip-dst" | "ip" => K_IP,
                "domain" | "hostname" => K_DOMAIN,
                "url" | "uri" | "link" => K_URL,
                "md5" | "sha1" | "sha224" | "sha256" | "sha512" => K_HASH,
                "email" | "email-src" | "email-dst" | "target-email" => K_EMAIL,
                _ => 0,
            };
        }
    }
    if k == 0 {
        K_ALL
    } else {
        k
    }
}

/// One loaded list.
#[derive(Debug, Clone)]
pub struct WarningList {
    /// Its name: the directory name (`public-dns-v4`).
    pub name: String,
    /// Its title (`name` in the JSON).
    pub title: String,
    /// Its type.
    pub list_type: ListType,
    /// Its `version`.
    pub version: Option<u64>,
    /// Entries used.
    pub entries: usize,
    /// Entries that could not be read (bad prefixes, empty strings).
    pub bad_entries: usize,
    kinds: u8,
}

#[derive(Deserialize)]
struct RawList {
    #[serde(default)]
    name: String,
    #[serde(rename = "type", default)]
    list_type: String,
    #[serde(default)]
    version: Option<serde_json::Value>,
    #[serde(default)]
    matching_attributes: Vec<String>,
    list: Vec<serde_json::Value>,
}

/// How a name entry matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameMode {
    /// Only the value itself.
    Exact,
    /// The name and every subdomain of it.
    Suffix,
}

/// A set of warning lists, compiled for lookups.
#[derive(Debug, Clone, Default)]
pub struct WarningLists {
    lists: Vec<WarningList>,
    cidrs: CidrTable<Vec<u16>>,
    names: HashMap<Box<str>, Vec<(u16, NameMode)>>,
    substrings: Vec<(u16, Box<str>)>,
    skipped: Vec<(String, String)>,
}

impl WarningLists {
    /// No lists.
    pub fn new() -> WarningLists {
        WarningLists::default()
    }

    /// Loads every `<dir>/<name>/list.json`, in name order. Lists that cannot be used (regex,
    /// bad JSON) are recorded in [`WarningLists::skipped`]; only an unreadable `dir` fails.
    pub fn load_dir(dir: &Path) -> Result<WarningLists, WarningListError> {
        let io = |source| WarningListError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let path = entry.path().join("list.json");
            if path.is_file() {
                names.push((entry.file_name().to_string_lossy().into_owned(), path));
            }
        }
        names.sort();
        let mut out = WarningLists::new();
        for (name, path) in names {
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    out.skipped.push((name, format!("unreadable: {e}")));
                    continue;
                }
            };
            if let Err(e) = out.add_json(&name, &text) {
                out.skipped.push((name, e.to_string()));
            }
        }
        Ok(out)
    }

    /// Adds one list from its `list.json` text under `name`.
    pub fn add_json(&mut self, name: &str, json: &str) -> Result<(), WarningListError> {
        let raw: RawList = serde_json::from_str(json).map_err(|source| WarningListError::Json {
            name: name.to_string(),
            source,
        })?;
        let list_type = match raw.list_type.as_str() {
            "cidr" => ListType::Cidr,
            "string" => ListType::String,
            "hostname" => ListType::Hostname,
            "substring" => ListType::Substring,
            other => {
                return Err(WarningListError::Unsupported {
                    name: name.to_string(),
                    kind: other.to_string(),
                })
            }
        };
        let Ok(idx) = u16::try_from(self.lists.len()) else {
            return Err(WarningListError::Unsupported {
                name: name.to_string(),
                kind: "more than 65535 lists".to_string(),
            });
        };
        let mut entries = 0;
        let mut bad = 0;
        for v in &raw.list {
            let Some(s) = v.as_str() else {
                bad += 1;
                continue;
            };
            let s = s.trim();
            let ok = match list_type {
                ListType::Cidr => match Cidr::parse(s) {
                    Some(c) => {
                        let ids = self.cidrs.entry(c);
                        if !ids.contains(&idx) {
                            ids.push(idx);
                        }
                        true
                    }
                    None => false,
                },
                ListType::String | ListType::Hostname => {
                    let lower = s.to_ascii_lowercase();
                    let (name_part, mode) = match lower.strip_prefix('.') {
                        Some(rest) => (rest, NameMode::Suffix),
                        None if list_type == ListType::Hostname => {
                            (lower.as_str(), NameMode::Suffix)
                        }
                        None => (lower.as_str(), NameMode::Exact),
                    };
                    let name_part = name_part.trim_end_matches('.');
                    if name_part.is_empty() {
                        false
                    } else {
                        let ids = self.names.entry(name_part.into()).or_default();
                        if !ids.contains(&(idx, mode)) {
                            ids.push((idx, mode));
                        }
                        true
                    }
                }
                ListType::Substring => {
                    if s.is_empty() {
                        false
                    } else {
                        self.substrings.push((idx, s.to_ascii_lowercase().into()));
                        true
                    }
                }
            };
            if ok {
                entries += 1;
            } else {
                bad += 1;
            }
        }
        let version = raw.version.and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        });
        self.lists.push(WarningList {
            name: name.to_string(),
            title: raw.name,
            list_type,
            version,
            entries,
            bad_entries: bad,
            kinds: kinds_of(&raw.matching_attributes),
        });
        Ok(())
    }

    /// The lists in use.
    pub fn lists(&self) -> &[WarningList] {
        &self.lists
    }

    /// Lists not used, with why (`regex` lists, unreadable files).
    pub fn skipped(&self) -> &[(String, String)] {
        &self.skipped
    }

    /// Whether no list is loaded.
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    fn name_of(&self, idx: u16) -> Option<&str> {
        self.lists.get(usize::from(idx)).map(|l| l.name.as_str())
    }

    fn applies(&self, idx: u16, kind: u8) -> bool {
        self.lists
            .get(usize::from(idx))
            .is_some_and(|l| l.kinds & kind != 0)
    }

    /// Names of the lists `indicator` is on, sorted, without repeats.
    pub fn matches(&self, indicator: &Indicator) -> Vec<&str> {
        let mut ids: Vec<u16> = Vec::new();
        self.match_ids(indicator, &mut ids);
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter().filter_map(|i| self.name_of(i)).collect()
    }

    /// Pushes the indices of matching lists (possibly repeated) onto `out`.
    pub(crate) fn match_ids(&self, indicator: &Indicator, out: &mut Vec<u16>) {
        let v = indicator.value.as_str();
        match indicator.kind {
            IndicatorKind::Ipv4 | IndicatorKind::Ipv6 => {
                if let Ok(ip) = v.parse::<IpAddr>() {
                    self.match_ip(ip, K_IP, out);
                }
                self.match_exact(v, K_IP, out);
            }
            IndicatorKind::Domain => {
                self.match_domain(v, K_DOMAIN, out);
                self.match_substring(v, K_DOMAIN, out);
            }
            IndicatorKind::Url => {
                if let Some(host) = url_host(v) {
                    match host.parse::<IpAddr>() {
                        Ok(ip) => self.match_ip(ip, K_URL, out),
                        Err(_) => self.match_domain(host, K_URL, out),
                    }
                }
                if !self.substrings.is_empty() || !self.names.is_empty() {
                    let lower = v.to_ascii_lowercase();
                    self.match_exact(&lower, K_URL, out);
                    self.match_substring(&lower, K_URL, out);
                }
            }
            IndicatorKind::Email => {
                self.match_exact(v, K_EMAIL, out);
                self.match_substring(v, K_EMAIL, out);
            }
            IndicatorKind::Md5 | IndicatorKind::Sha1 | IndicatorKind::Sha256 => {
                self.match_exact(v, K_HASH, out);
            }
        }
    }

    /// Whether `ip` is in a `cidr` list for IPs (allocation-free).
    pub(crate) fn ip_listed(&self, ip: IpAddr, out: &mut Vec<u16>) {
        self.match_ip(ip, K_IP, out);
    }

    /// Domain match, pushing list indices (allocation-free unless something matches).
    pub(crate) fn domain_listed(&self, domain: &str, out: &mut Vec<u16>) {
        self.match_domain(domain, K_DOMAIN, out);
        self.match_substring(domain, K_DOMAIN, out);
    }

    /// Name of list `idx`.
    pub(crate) fn list_name(&self, idx: u16) -> &str {
        self.name_of(idx).unwrap_or("?")
    }

    fn match_ip(&self, ip: IpAddr, kind: u8, out: &mut Vec<u16>) {
        for (_, ids) in self.cidrs.matches(ip) {
            out.extend(ids.iter().copied().filter(|&i| self.applies(i, kind)));
        }
    }

    fn match_exact(&self, v: &str, kind: u8, out: &mut Vec<u16>) {
        if let Some(ids) = self.names.get(v) {
            out.extend(
                ids.iter()
                    .filter(|(i, _)| self.applies(*i, kind))
                    .map(|(i, _)| *i),
            );
        }
    }

    fn match_domain(&self, domain: &str, kind: u8, out: &mut Vec<u16>) {
        let domain = domain.trim_end_matches('.');
        let mut rest = domain;
        let mut whole = true;
        loop {
            if let Some(ids) = self.names.get(rest) {
                out.extend(
                    ids.iter()
                        .filter(|(i, m)| {
                            (whole || *m == NameMode::Suffix) && self.applies(*i, kind)
                        })
                        .map(|(i, _)| *i),
                );
            }
            match rest.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => rest = parent,
                _ => break,
            }
            whole = false;
        }
    }

    fn match_substring(&self, v: &str, kind: u8, out: &mut Vec<u16>) {
        for (i, s) in &self.substrings {
            if self.applies(*i, kind) && v.contains(&**s) {
                out.push(*i);
            }
        }
    }
}

/// `url` without its `scheme://`; unchanged when it has none (a `://` later in the path, as in
/// `web.archive.org/web/2022/https://x`, is not a scheme).
pub(crate) fn strip_scheme(url: &str) -> &str {
    match url.split_once("://") {
        Some((scheme, rest))
            if !scheme.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b)) =>
        {
            rest
        }
        _ => url,
    }
}

/// The host of a normalized URL (`scheme://[user@]host[:port]/...`), without port or brackets.
pub(crate) fn url_host(url: &str) -> Option<&str> {
    let rest = strip_scheme(url);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..end)?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split_once(']').map_or(v6, |(h, _)| h)
    } else {
        match host_port.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host_port,
        }
    };
    let host = host.trim_end_matches('.');
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ind(raw: &str) -> Indicator {
        Indicator::guess(raw).unwrap_or_else(|| panic!("not an indicator: {raw}"))
    }

    #[test]
    fn cidr_parse_and_contains() {
        let c = Cidr::parse("10.1.2.3/8").expect("test fixture");
        assert_eq!(c.to_string(), "10.0.0.0/8");
        assert!(c.contains("10.255.0.1".parse().expect("test fixture")));
        assert!(!c.contains("11.0.0.1".parse().expect("test fixture")));
        assert!(c.contains("::ffff:10.0.0.1".parse().expect("test fixture")));
        let v6 = Cidr::parse("FE80::/10").expect("test fixture");
        assert!(v6.contains("fe80::1".parse().expect("test fixture")));
        assert!(!v6.contains("2001:db8::1".parse().expect("test fixture")));
        assert_eq!(Cidr::parse("1.2.3.4").expect("test fixture").prefix(), 32);
        assert_eq!(Cidr::parse("0.0.0.0/0").expect("test fixture").prefix(), 0);
        assert!(Cidr::parse("0.0.0.0/0")
            .expect("test fixture")
            .contains("8.8.8.8".parse().expect("test fixture")));
        assert_eq!(Cidr::parse("1.2.3.4/33"), None);
        assert_eq!(Cidr::parse("1.2.3.4/"), None);
        assert_eq!(Cidr::parse("1.2.3.4/-1"), None);
        assert_eq!(Cidr::parse("host/24"), None);
    }

    #[test]
    fn list_types() {
        let mut w = WarningLists::new();
        w.add_json(
            "dns",
            r#"{"name":"DNS","type":"cidr","matching_attributes":["ip-dst"],"list":["8.8.8.8","2001:4860:4860::8888/128","10.0.0.0/8","bad/99"]}"#,
        )
        .expect("test fixture");
        w.add_json(
            "top",
            r#"{"name":"Top","type":"hostname","matching_attributes":["domain","url"],"list":["Example.COM"]}"#,
        )
        .expect("test fixture");
        w.add_json(
            "str",
            r#"{"name":"S","type":"string","matching_attributes":["domain","md5"],"list":["exact.test",".suffix.test","D41D8CD98F00B204E9800998ECF8427E"]}"#,
        )
        .expect("test fixture");
        w.add_json(
            "sub",
            r#"{"name":"Sub","type":"substring","list":["ngrok"]}"#,
        )
        .expect("test fixture");
        let e = w.add_json("re", r#"{"name":"R","type":"regex","list":["^a"]}"#);
        assert!(matches!(e, Err(WarningListError::Unsupported { .. })));
        assert_eq!(w.lists()[0].entries, 3);
        assert_eq!(w.lists()[0].bad_entries, 1);

        assert_eq!(w.matches(&ind("8.8.8.8")), vec!["dns"]);
        assert_eq!(w.matches(&ind("10.9.9.9")), vec!["dns"]);
        assert_eq!(w.matches(&ind("2001:4860:4860::8888")), vec!["dns"]);
        assert!(w.matches(&ind("8.8.4.4")).is_empty());
        assert_eq!(w.matches(&ind("example.com")), vec!["top"]);
        assert_eq!(w.matches(&ind("a.b.example.com")), vec!["top"]);
        assert!(w.matches(&ind("notexample.com")).is_empty());
        assert_eq!(w.matches(&ind("exact.test")), vec!["str"]);
        assert!(w.matches(&ind("a.exact.test")).is_empty());
        assert_eq!(w.matches(&ind("suffix.test")), vec!["str"]);
        assert_eq!(w.matches(&ind("x.suffix.test")), vec!["str"]);
        assert_eq!(
            w.matches(&ind("d41d8cd98f00b204e9800998ecf8427e")),
            vec!["str"]
        );
        assert_eq!(w.matches(&ind("x.ngrok.io")), vec!["sub"]);
        assert_eq!(w.matches(&ind("https://www.example.com/x")), vec!["top"]);
        // "str" does not list url among its matching attributes
        assert!(w.matches(&ind("http://exact.test/")).is_empty());
    }

    #[test]
    fn hosts_of_urls() {
        assert_eq!(url_host("http://a.b/c"), Some("a.b"));
        assert_eq!(url_host("http://u:p@a.b:8080/c"), Some("a.b"));
        assert_eq!(url_host("http://[2001:db8::1]:80/"), Some("2001:db8::1"));
        assert_eq!(url_host("http://a.b?x"), Some("a.b"));
        assert_eq!(url_host("http:///x"), None);
    }
}

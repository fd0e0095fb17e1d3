//! Consistent remapping of lab identities to the synthetic estate, and the seeded RNG.
//!
//! A template's *originals* (host names, user names, SIDs, private IPs, AWS account ids,
//! principal names, email addresses, lab domain names) are collected once from its OCSF events
//! with `shrike_normalize::entities`. An [`Instance`] is one replay of a template: it maps each
//! original to an estate value, either fixed by the scenario definition (a story's role) or drawn
//! from its own RNG on first sight and remembered, so one instance is consistent with itself.
//!
//! Replacement works on whole tokens of every string *value* of the event (object keys are left
//! alone): a token is a run of ASCII letters, digits, `.`, `-` and `_`; inside a run, candidate
//! spans start at the run start or after a `.`/`-` and end at the run end or before a `.`/`-`,
//! and the longest matching span wins (so `WORKSTATION5.theshire.local` can match as an FQDN,
//! `S-1-5-21-…-1104` as a user SID before its domain SID prefix). Matching is ASCII
//! case-insensitive; an all-uppercase original gets an uppercase replacement.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use shrike_normalize::entities::{self, EntityKind};

/// splitmix64: small, fast, deterministic; quality is plenty for picking entities and times.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from `seed` and a stream label (instances get independent streams).
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next_u64();
        r
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`0` when `n == 0`).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What an original value is, which decides its replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrigKind {
    /// A host short name (lowercase key).
    Host,
    /// A host FQDN outside the lab domains; the payload is its short name.
    Fqdn(String),
    /// A user name (the part before `@` / after `\`).
    User,
    /// A user's SID; the payload is the user name it belongs to.
    UserSid(String),
    /// A lab domain SID (`S-1-5-21-a-b-c`).
    DomainSid,
    /// A private IPv4 address; the payload is the host short name it belongs to, if known.
    Ip(Option<String>),
    /// A 12-digit AWS account id.
    Account,
    /// A cloud principal name (IAM user or role name).
    Principal,
    /// An email address; the payload is the user name it belongs to.
    Email(String),
    /// A lab DNS domain.
    Domain,
    /// A lab NetBIOS domain.
    Netbios,
}

/// The originals of one template: lowercase token → kind.
#[derive(Debug, Clone, Default)]
pub struct Originals {
    /// Lowercase original → kind.
    pub map: HashMap<String, OrigKind>,
}

/// Names that are never remapped: shared/builtin accounts and words too common to be a token
/// of one identity.
const USER_STOPLIST: &[&str] = &[
    "administrator",
    "admin",
    "guest",
    "krbtgt",
    "defaultaccount",
    "wdagutilityaccount",
    "user",
    "users",
    "test",
    "root",
    "ubuntu",
    "ec2-user",
    "unknown",
    "none",
    "null",
];

/// True for RFC 1918 IPv4 addresses.
pub fn is_private_v4(ip: &str) -> bool {
    let Ok(std::net::IpAddr::V4(v4)) = ip.parse::<std::net::IpAddr>() else {
        return false;
    };
    v4.is_private()
}

impl Originals {
    /// Registers the lab domains (DNS names and NetBIOS names).
    pub fn add_lab_domains(&mut self, dns: &[String], netbios: &[String]) {
        for d in dns {
            self.map.insert(d.to_ascii_lowercase(), OrigKind::Domain);
        }
        for d in netbios {
            self.map.insert(d.to_ascii_lowercase(), OrigKind::Netbios);
        }
    }

    /// Collects the originals of one event.
    pub fn collect(&mut self, event: &Value, lab_dns: &[String]) {
        let mut host_of_ip: Vec<(String, String)> = Vec::new();
        for e in entities::entities(event) {
            match e.kind {
                EntityKind::Host => {
                    // Only lab hosts: a bare name, or an FQDN in a lab domain. External names
                    // (`www.example.com` from an HTTP Host header) stay as they are.
                    let external = e.aliases.iter().filter(|a| a.contains('.')).any(|a| {
                        let a = a.to_ascii_lowercase();
                        !lab_dns
                            .iter()
                            .any(|d| a.ends_with(&format!(".{}", d.to_ascii_lowercase())))
                    });
                    if e.key.len() < 3 || external {
                        continue;
                    }
                    self.map.entry(e.key.clone()).or_insert(OrigKind::Host);
                }
                EntityKind::User => {
                    let name = e.key.split('@').next().unwrap_or("").to_owned();
                    if name.len() < 3 || USER_STOPLIST.contains(&name.as_str()) {
                        continue;
                    }
                    self.map.entry(name.clone()).or_insert(OrigKind::User);
                    for a in &e.aliases {
                        if a.starts_with("S-1-5-21-") {
                            let parts: Vec<&str> = a.split('-').collect();
                            if parts.len() >= 8 {
                                let dom = parts[..7].join("-").to_ascii_lowercase();
                                self.map.entry(dom).or_insert(OrigKind::DomainSid);
                                self.map
                                    .entry(a.to_ascii_lowercase())
                                    .or_insert_with(|| OrigKind::UserSid(name.clone()));
                            }
                        }
                    }
                }
                EntityKind::Ip => {
                    if is_private_v4(&e.key) {
                        self.map.entry(e.key.clone()).or_insert(OrigKind::Ip(None));
                    }
                }
                EntityKind::CloudPrincipal => {
                    // aws:<account>:<type>/<name>
                    let mut it = e.key.splitn(3, ':');
                    let (_, acct, rest) = (it.next(), it.next(), it.next());
                    if let Some(acct) = acct.filter(|a| a.len() == 12) {
                        self.map.entry(acct.to_owned()).or_insert(OrigKind::Account);
                    }
                    if let Some(name) = rest.and_then(|r| r.split_once('/')).map(|(_, n)| n) {
                        if name.len() >= 3 && !USER_STOPLIST.contains(&name) {
                            self.map
                                .entry(name.to_owned())
                                .or_insert(OrigKind::Principal);
                        }
                    }
                }
                EntityKind::Email => {
                    if let Some((local, _)) = e.key.split_once('@') {
                        if local.len() >= 3 && !USER_STOPLIST.contains(&local) {
                            self.map
                                .entry(e.key.clone())
                                .or_insert_with(|| OrigKind::Email(local.to_owned()));
                        }
                    }
                }
                EntityKind::Process => {}
            }
        }
        // Tie private IPs to the host named in the same endpoint object.
        if let Some(obj) = event.as_object() {
            for k in ["device", "src_endpoint", "dst_endpoint"] {
                let Some(ep) = obj.get(k) else { continue };
                let ip = ep.get("ip").and_then(Value::as_str);
                let host = ep
                    .get("hostname")
                    .or_else(|| ep.get("name"))
                    .and_then(Value::as_str)
                    .and_then(entities::normalize_host);
                if let (Some(ip), Some((short, _))) = (ip, host) {
                    if is_private_v4(ip) {
                        host_of_ip.push((ip.to_owned(), short));
                    }
                }
            }
        }
        for (ip, host) in host_of_ip {
            if self.map.get(&host) == Some(&OrigKind::Host) {
                self.map.insert(ip, OrigKind::Ip(Some(host)));
            }
        }
        // AWS account ids that appear without a principal (cloud.account.uid).
        if let Some(acct) = event.pointer("/cloud/account/uid").and_then(Value::as_str) {
            if acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit()) {
                self.map.entry(acct.to_owned()).or_insert(OrigKind::Account);
            }
        }
    }
}

/// The synthetic estate's identities that replacements are drawn from.
#[derive(Debug, Clone)]
pub struct EstatePools {
    /// Workstation short names.
    pub workstations: Vec<String>,
    /// Server short names.
    pub servers: Vec<String>,
    /// Domain controller short names.
    pub dcs: Vec<String>,
    /// Host short name → IP.
    pub host_ip: HashMap<String, String>,
    /// User names (no domain).
    pub users: Vec<String>,
    /// Cloud principal names.
    pub principals: Vec<String>,
    /// User name → RID (for SIDs).
    pub user_rid: HashMap<String, u32>,
    /// DNS domain (`corp.example`).
    pub domain: String,
    /// NetBIOS domain (`CORP`).
    pub netbios: String,
    /// Domain SID (`S-1-5-21-…`).
    pub domain_sid: String,
    /// AWS account id.
    pub account_id: String,
}

/// One replay of a template: fixed (role) mappings plus remembered random draws.
#[derive(Debug)]
pub struct Instance {
    rng: Rng,
    /// `kind:original` → replacement (host short, user name, ip, principal).
    memo: BTreeMap<String, String>,
    /// Which originals were fixed by the definition.
    fixed: BTreeMap<String, String>,
}

/// A host name looks like a domain controller's.
pub fn looks_like_dc(short: &str) -> bool {
    let s = short.to_ascii_lowercase();
    s.contains("dc") && !s.starts_with("desktop")
}

impl Instance {
    /// A fresh instance with its own RNG stream.
    pub fn new(rng: Rng) -> Instance {
        Instance {
            rng,
            memo: BTreeMap::new(),
            fixed: BTreeMap::new(),
        }
    }

    /// Fixes `kind:original` (kinds `host`, `user`, `ip`, `principal`) to `replacement`.
    pub fn fix(&mut self, kind: &str, original: &str, replacement: &str) {
        let k = format!("{kind}:{}", original.to_ascii_lowercase());
        self.fixed.insert(k.clone(), replacement.to_owned());
        self.memo.insert(k, replacement.to_owned());
    }

    /// Every mapping made so far that the definition did not fix: `(kind, original, replacement)`.
    pub fn drawn(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.memo
            .iter()
            .filter(|(k, _)| !self.fixed.contains_key(*k))
            .filter_map(|(k, v)| k.split_once(':').map(|(a, b)| (a, b, v.as_str())))
    }

    fn host(&mut self, short: &str, pools: &EstatePools) -> String {
        let key = format!("host:{short}");
        if let Some(v) = self.memo.get(&key) {
            return v.clone();
        }
        let pool = if looks_like_dc(short) && !pools.dcs.is_empty() {
            &pools.dcs
        } else if pools.workstations.is_empty() {
            &pools.servers
        } else {
            &pools.workstations
        };
        let v = pool
            .get(self.rng.below(pool.len()))
            .cloned()
            .unwrap_or_else(|| "host".to_owned());
        self.memo.insert(key, v.clone());
        v
    }

    fn user(&mut self, name: &str, pools: &EstatePools) -> String {
        let key = format!("user:{name}");
        if let Some(v) = self.memo.get(&key) {
            return v.clone();
        }
        let v = pools
            .users
            .get(self.rng.below(pools.users.len()))
            .cloned()
            .unwrap_or_else(|| "user".to_owned());
        self.memo.insert(key, v.clone());
        v
    }

    fn principal(&mut self, name: &str, pools: &EstatePools) -> String {
        let key = format!("principal:{name}");
        if let Some(v) = self.memo.get(&key) {
            return v.clone();
        }
        let v = pools
            .principals
            .get(self.rng.below(pools.principals.len()))
            .cloned()
            .unwrap_or_else(|| "principal".to_owned());
        self.memo.insert(key, v.clone());
        v
    }

    fn ip(&mut self, ip: &str, host: Option<&str>, pools: &EstatePools) -> String {
        let key = format!("ip:{ip}");
        if let Some(v) = self.memo.get(&key) {
            return v.clone();
        }
        let v = if ip.ends_with(".255") {
            broadcast_of(pools)
        } else if let Some(h) = host {
            let h = self.host(h, pools);
            pools.host_ip.get(&h).cloned().unwrap_or_default()
        } else {
            // An address no event names: some estate host's address.
            let all = pools.workstations.len() + pools.servers.len() + pools.dcs.len();
            let i = self.rng.below(all);
            let h = pools
                .workstations
                .iter()
                .chain(&pools.servers)
                .chain(&pools.dcs)
                .nth(i)
                .cloned()
                .unwrap_or_default();
            pools.host_ip.get(&h).cloned().unwrap_or_default()
        };
        let v = if v.is_empty() { broadcast_of(pools) } else { v };
        self.memo.insert(key, v.clone());
        v
    }

    /// The replacement for an original token of the given kind.
    pub fn replacement(
        &mut self,
        orig_lower: &str,
        kind: &OrigKind,
        pools: &EstatePools,
    ) -> String {
        match kind {
            OrigKind::Host => self.host(orig_lower, pools),
            OrigKind::Fqdn(short) => format!("{}.{}", self.host(short, pools), pools.domain),
            OrigKind::User => self.user(orig_lower, pools),
            OrigKind::UserSid(user) => {
                let u = self.user(user, pools);
                let rid = pools.user_rid.get(&u).copied().unwrap_or(1000);
                format!("{}-{rid}", pools.domain_sid)
            }
            OrigKind::DomainSid => pools.domain_sid.clone(),
            OrigKind::Ip(host) => self.ip(orig_lower, host.as_deref(), pools),
            OrigKind::Account => pools.account_id.clone(),
            OrigKind::Principal => self.principal(orig_lower, pools),
            OrigKind::Email(local) => format!("{}@{}", self.user(local, pools), pools.domain),
            OrigKind::Domain => pools.domain.clone(),
            OrigKind::Netbios => pools.netbios.clone(),
        }
    }
}

fn broadcast_of(pools: &EstatePools) -> String {
    pools
        .host_ip
        .values()
        .next()
        .and_then(|ip| ip.rsplit_once('.'))
        .and_then(|(a, _)| a.rsplit_once('.'))
        .map(|(a, _)| format!("{a}.255.255"))
        .unwrap_or_else(|| "10.255.255.255".to_owned())
}

fn is_run_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_'
}

fn is_sep(b: u8) -> bool {
    b == b'.' || b == b'-'
}

/// Longest span of separator-bounded pieces considered inside one run.
const MAX_SPAN_PIECES: usize = 12;

/// Rewrites every original token in `s`; `None` when nothing matched (the common case).
pub fn remap_str(
    s: &str,
    originals: &Originals,
    inst: &mut Instance,
    pools: &EstatePools,
) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0usize;
    let mut lower: Vec<u8> = Vec::new();
    let mut i = 0usize;
    while i < bytes.len() {
        if !is_run_byte(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_run_byte(bytes[i]) {
            i += 1;
        }
        let end = i;
        if end - start < 3 {
            continue;
        }
        lower.clear();
        lower.extend(bytes[start..end].iter().map(u8::to_ascii_lowercase));
        // starts: 0 and after each separator; ends: before each separator and the run end.
        let starts: Vec<usize> = std::iter::once(0)
            .chain(
                lower
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| is_sep(**b))
                    .map(|(k, _)| k + 1),
            )
            .collect();
        let ends: Vec<usize> = lower
            .iter()
            .enumerate()
            .filter(|(_, b)| is_sep(**b))
            .map(|(k, _)| k)
            .chain(std::iter::once(lower.len()))
            .collect();
        let mut pos = 0usize;
        let mut si = 0usize;
        while si < starts.len() {
            let st = starts[si];
            if st < pos {
                si += 1;
                continue;
            }
            let mut hit: Option<(usize, &OrigKind)> = None;
            let first_end = ends.partition_point(|&e| e <= st);
            let last = (first_end + MAX_SPAN_PIECES).min(ends.len());
            for &en in ends[first_end..last].iter().rev() {
                let Some(piece) = std::str::from_utf8(&lower[st..en]).ok() else {
                    continue;
                };
                if let Some(kind) = originals.map.get(piece) {
                    hit = Some((en, kind));
                    break;
                }
            }
            if let Some((en, kind)) = hit {
                let orig_text = &s[start + st..start + en];
                let Ok(orig_lower) = std::str::from_utf8(&lower[st..en]) else {
                    si += 1;
                    continue;
                };
                let mut rep = inst.replacement(orig_lower, kind, pools);
                let has_lower = orig_text.bytes().any(|b| b.is_ascii_lowercase());
                let has_upper = orig_text.bytes().any(|b| b.is_ascii_uppercase());
                if has_upper && !has_lower {
                    rep = rep.to_ascii_uppercase();
                }
                let o = out.get_or_insert_with(|| String::with_capacity(s.len() + 16));
                o.push_str(&s[copied..start + st]);
                o.push_str(&rep);
                copied = start + en;
                pos = en;
            }
            si += 1;
        }
    }
    let mut o = out?;
    o.push_str(&s[copied..]);
    Some(o)
}

/// Rewrites every string value in `v` in place (object keys untouched).
pub fn remap_value(v: &mut Value, originals: &Originals, inst: &mut Instance, pools: &EstatePools) {
    match v {
        Value::String(s) => {
            if let Some(n) = remap_str(s, originals, inst, pools) {
                *s = n;
            }
        }
        Value::Array(a) => {
            for x in a {
                remap_value(x, originals, inst, pools);
            }
        }
        Value::Object(m) => {
            for (_, x) in m.iter_mut() {
                remap_value(x, originals, inst, pools);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pools() -> EstatePools {
        let mut host_ip = HashMap::new();
        host_ip.insert("ws-0001".to_owned(), "10.20.0.21".to_owned());
        host_ip.insert("dc-01".to_owned(), "10.20.9.1".to_owned());
        let mut user_rid = HashMap::new();
        user_rid.insert("alice.moreau".to_owned(), 1105);
        EstatePools {
            workstations: vec!["ws-0001".into()],
            servers: vec![],
            dcs: vec!["dc-01".into()],
            host_ip,
            users: vec!["alice.moreau".into()],
            principals: vec!["deploy-01".into()],
            user_rid,
            domain: "corp.example".into(),
            netbios: "CORP".into(),
            domain_sid: "S-1-5-21-1-2-3".into(),
            account_id: "210987654321".into(),
        }
    }

    #[test]
    fn tokens_are_replaced_whole_and_consistently() {
        let mut o = Originals::default();
        o.add_lab_domains(&["theshire.local".into()], &["THESHIRE".into()]);
        o.map.insert("workstation5".into(), OrigKind::Host);
        o.map.insert("pgustavo".into(), OrigKind::User);
        o.map.insert(
            "172.18.39.5".into(),
            OrigKind::Ip(Some("workstation5".into())),
        );
        o.map.insert("s-1-5-21-9-8-7".into(), OrigKind::DomainSid);
        let p = pools();
        let mut inst = Instance::new(Rng::new(1, 2));
        let s = "THESHIRE\\pgustavo logged on WORKSTATION5.theshire.local from 172.18.39.5 \
                 (not 172.18.39.50, not xworkstation5) sid S-1-5-21-9-8-7-1104\r\n\tpgustavo$";
        let r = remap_str(s, &o, &mut inst, &p).unwrap_or_default();
        assert_eq!(
            r,
            "CORP\\alice.moreau logged on WS-0001.corp.example from 10.20.0.21 \
             (not 172.18.39.50, not xworkstation5) sid S-1-5-21-1-2-3-1104\r\n\talice.moreau$"
        );
        assert!(remap_str("nothing here", &o, &mut inst, &p).is_none());
    }
}

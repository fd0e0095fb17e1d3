//! Entity keys for correlation, extracted from OCSF events.
//!
//! [`entities`] reads the identity-bearing objects of an OCSF event and returns one [`Entity`]
//! per (kind, key, role): a canonical, lowercase `key` that fusion joins on, the OCSF path it
//! came from (`role`), and the other spellings seen for the same identity (`aliases`). Pure: no
//! I/O, no lookups, no panics on any input.
//!
//! # Canonical keys
//!
//! - **User** ([`normalize_user`]): `DOMAIN\user`, `user@domain.tld` and a (`name`, `domain`)
//!   pair resolve to one key `user@<domain label>`, lowercased, where the label is the NetBIOS
//!   domain or the *first* label of a DNS domain (AD's default NetBIOS name), so
//!   `THESHIRE\pgustavo`, `pgustavo@theshire.local` and (`pgustavo`, `THESHIRE`) are all
//!   `pgustavo@theshire`. A user without a domain is just `name` (no `@`); it joins only other
//!   domainless spellings. Skipped: machine accounts (`WS01$`, emitted as a Host instead) and
//!   the identities in [`NOISE_USERS`]. Aliases keep the original spellings and the account's
//!   domain SID (`S-1-5-21-…`) from `user.uid`.
//! - **Host** ([`normalize_host`]): lowercased, trailing dots stripped; the key is the short
//!   name (first label), the FQDN is an alias (`WORKSTATION5.theshire.local` → `workstation5`,
//!   alias `workstation5.theshire.local`). Hosts in different DNS domains with the same short
//!   name share a key. An IP-looking host name is an Ip entity instead; `localhost` is skipped.
//! - **Ip** ([`normalize_ip`]): `std::net::IpAddr` text form (IPv6 lowercase and compressed,
//!   IPv4-mapped IPv6 as IPv4). Unspecified, loopback, broadcast and multicast addresses are
//!   skipped (they would join every host); link-local and private addresses are kept.
//! - **Process**: `<host>:<process uid>` (the producer's id, e.g. Sysmon's ProcessGuid, braces
//!   stripped) or else `<host>:<pid>:<created_time>`; only when the event names the host
//!   (`device.hostname`/`name`). A pid without uid or start time is no key.
//! - **CloudPrincipal** ([`normalize_arn`]): IAM/STS principal ARNs become
//!   `<partition>:<account>:<type>/<name>`: `…:iam::123456789012:user/path/alice` →
//!   `aws:123456789012:user/alice`; `…:sts::123456789012:assumed-role/Admin/alice@example.com`
//!   → `aws:123456789012:role/admin` (session name in aliases); `…:iam::123456789012:root` →
//!   `aws:123456789012:root`; federated users `…:federated-user/<name>`. Other partitions
//!   (`aws-us-gov`, `aws-cn`) keep their name. An assumed-role session name that is an email
//!   address also gives a User entity by the user rule (`alice@example`). Non-principal ARNs
//!   (buckets, instances, policies, identity stores) are not entities.
//! - **Email** ([`normalize_email`]): the address only (display name and angle brackets
//!   stripped), lowercased. Email and User stay separate entities: `alice@example.com` the
//!   mailbox is not joined to the account `alice@example` (except the assumed-role case above).
//!
//! # Where entities are read
//!
//! `actor.user`, `actor.process` (+ `.user`, `.parent_process`), `actor.session` (`issuer`
//! ARN), `user` and `user_result` (target of Authentication, Account Change, Group
//! Management), `device`, `src_endpoint`, `dst_endpoint` (`hostname`, else `name`; `ip`;
//! `domain` completes a short host name into an FQDN alias), `process` (+ `.user`,
//! `.parent_process`), `logon_process`, `session` (`uid`/`issuer` ARNs), `job.user`, `email`
//! (`from`, `to`, `cc`, `reply_to`, `smtp_from`, `smtp_to`; `x_originating_ip` as Ip), every
//! user's `email_addr`, finding `resources[]` (`uid` principal ARNs, `hostname`, `ip`), and the
//! same paths inside each `evidences[]` item (roles prefixed `evidences.`). A user object whose
//! `uid` is an ARN is a cloud principal, not a directory user; without an ARN, an AWS `IAMUser`
//! or `Root` user with an account id (`user.account.uid`, else `cloud.account.uid`) gets the
//! same key as its ARN would.
//!
//! `role` is the path of the object an entity was read from (`actor.user`, `src_endpoint`,
//! `device`), or of the attribute for email addresses (`email.from`, `actor.user.email_addr`),
//! without array indexes.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What an [`Entity`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A directory or local user account.
    User,
    /// A computer, by short host name.
    Host,
    /// An IP address.
    Ip,
    /// One process instance on one host.
    Process,
    /// A cloud IAM principal (user, role, root, federated user).
    CloudPrincipal,
    /// A mailbox address.
    Email,
}

/// One identity seen in an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entity {
    /// What it is.
    pub kind: EntityKind,
    /// Canonical, lowercase: what correlation joins on (rules in the module doc).
    pub key: String,
    /// The OCSF path it came from: `actor.user`, `src_endpoint`, `device`, `email.to`.
    pub role: String,
    /// Other spellings seen for the same identity (FQDN, `DOMAIN\user`, the full ARN, SID).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// Identities that would join everything, matched case-insensitively against the user part
/// (and, for `domain\*`, the domain): `name` matches exactly, `prefix*` by prefix, `domain\*`
/// any user of that domain.
pub const NOISE_USERS: &[&str] = &[
    "system",
    "localsystem",
    "local service",
    "localservice",
    "network service",
    "networkservice",
    "anonymous logon",
    "-",
    "dwm-*",
    "umfd-*",
    "window manager\\*",
    "nt authority\\*",
    "font driver host\\*",
];

/// Host names that are not a host of their own.
const NOISE_HOSTS: &[&str] = &["localhost", "-"];

/// Aliases kept per entity; more spellings of one identity in one event mean garbage input.
const MAX_ALIASES: usize = 16;

/// Most entities returned for one event (a finding with thousands of evidences or recipients);
/// the first ones in reading order are kept. Bounds the (linear) deduplication too.
pub const MAX_ENTITIES: usize = 256;

/// Entities found in one event, deduplicated by (kind, key, role) with their aliases merged, at
/// most [`MAX_ENTITIES`]. Anything that is not a JSON object gives an empty list.
pub fn entities(event: &Value) -> Vec<Entity> {
    let Some(ev) = event.as_object() else {
        return Vec::new();
    };
    let cloud = CloudCx::from_event(ev);
    let mut out = Out::default();
    scope(ev, "", None, &cloud, &mut out);
    if let Some(items) = ev.get("evidences").and_then(Value::as_array) {
        let outer_host = device_host(ev);
        for item in items.iter().filter_map(Value::as_object) {
            scope(item, "evidences.", outer_host.as_deref(), &cloud, &mut out);
        }
    }
    out.list
}

/// Canonical user key (module doc): `user@<domain label>` or `user`, lowercased. `name` may
/// itself be `DOMAIN\user` or `user@domain` (then `domain` is ignored). `None` for empty
/// names, machine accounts (`…$`), [`NOISE_USERS`] and unparseable spellings.
pub fn normalize_user(name: &str, domain: Option<&str>) -> Option<String> {
    let (user, domain) = split_user(name, domain)?;
    if user.ends_with('$') {
        return None;
    }
    user_key(&user, domain.as_deref())
}

/// Canonical host: `(short name, FQDN if the name had a domain)`, lowercased, trailing dots
/// stripped. `None` for IP addresses, all-numeric dotted names, `localhost`, and strings with
/// characters other than letters, digits, `-`, `_` and `.`.
pub fn normalize_host(name: &str) -> Option<(String, Option<String>)> {
    let name = name.trim().trim_end_matches('.').trim_start_matches('.');
    if name.is_empty() || looks_like_ip(name) {
        return None;
    }
    let lower = name.to_lowercase();
    if NOISE_HOSTS.contains(&lower.as_str()) {
        return None;
    }
    let valid_chars = lower
        .chars()
        .all(|c| c.is_alphanumeric() || c == '-' || c == '_' || c == '.');
    if !valid_chars || !lower.chars().any(char::is_alphanumeric) {
        return None;
    }
    if lower.split('.').any(str::is_empty) {
        return None;
    }
    let short = lower.split('.').next()?;
    if lower.contains('.')
        && lower
            .split('.')
            .all(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    if NOISE_HOSTS.contains(&short) {
        return None;
    }
    let fqdn = lower.contains('.').then(|| lower.clone());
    Some((short.to_owned(), fqdn))
}

/// Canonical key of an IAM/STS principal ARN (module doc), e.g.
/// `arn:aws:sts::123456789012:assumed-role/Admin/alice` → `aws:123456789012:role/admin`.
/// Also accepts its own output. `None` for anything that is not a principal ARN.
pub fn normalize_arn(arn: &str) -> Option<String> {
    parse_principal(arn).map(|p| p.key())
}

/// Canonical IP text (module doc); `None` for unparseable, unspecified, loopback, broadcast and
/// multicast addresses. Accepts `[v6]` brackets and strips a `%zone`.
pub fn normalize_ip(ip: &str) -> Option<String> {
    let s = ip.trim();
    let s = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    let s = s.split_once('%').map_or(s, |(a, _)| a);
    let addr: IpAddr = s.parse().ok()?;
    let addr = match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    };
    let noise = addr.is_unspecified()
        || addr.is_loopback()
        || addr.is_multicast()
        || matches!(addr, IpAddr::V4(v4) if v4.is_broadcast());
    (!noise).then(|| addr.to_string())
}

/// Canonical mailbox address: display name, angle brackets and `mailto:` stripped, lowercased.
/// `None` unless it is `local@domain` without spaces or delimiters.
pub fn normalize_email(addr: &str) -> Option<String> {
    let mut s = addr.trim();
    if let Some(open) = s.rfind('<') {
        let inner = s.get(open + 1..)?;
        s = inner.split_once('>').map_or(inner, |(a, _)| a).trim();
    }
    if s.len() >= 7
        && s.get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("mailto:"))
    {
        s = s.get(7..)?.trim();
    }
    let lower = s.to_lowercase();
    let (local, domain) = lower.rsplit_once('@')?;
    let bad =
        |c: char| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | ':' | '"' | '(' | ')');
    if local.is_empty() || local.contains(bad) || local.contains('@') {
        return None;
    }
    let domain_ok = !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.' || c == '_');
    domain_ok.then_some(lower)
}

// ---------------------------------------------------------------------------------------------
// Users

/// Splits `DOMAIN\user`, `user@domain` or (`user`, `domain`) into trimmed parts; the domain is
/// `None` when absent, empty or `.` (the local machine in some Windows logs).
fn split_user(name: &str, domain: Option<&str>) -> Option<(String, Option<String>)> {
    let name = name.trim();
    let (user, dom) = if let Some((d, u)) = name.split_once('\\') {
        (u, Some(d))
    } else if let Some((u, d)) = name.rsplit_once('@') {
        (u, Some(d))
    } else {
        (name, domain)
    };
    let user = user.trim();
    if user.is_empty() || user.contains(['\\', '@']) {
        return None;
    }
    let dom = dom
        .map(|d| d.trim().trim_matches('.').trim())
        .filter(|d| !d.is_empty());
    Some((user.to_owned(), dom.map(str::to_owned)))
}

/// The user key from already split parts; applies the noise list.
fn user_key(user: &str, domain: Option<&str>) -> Option<String> {
    let user = user.to_lowercase();
    let domain = domain.map(str::to_lowercase);
    // The noise check sees the label, not the whole domain, so a key normalises to itself.
    let label = match &domain {
        None => None,
        Some(d) => Some(d.split('.').map(str::trim).find(|l| !l.is_empty())?),
    };
    if label.is_some_and(|l| l.contains(['@', '\\'])) || is_noise_user(&user, label) {
        return None;
    }
    Some(match label {
        None => user,
        Some(l) => format!("{user}@{l}"),
    })
}

fn is_noise_user(user: &str, domain: Option<&str>) -> bool {
    NOISE_USERS.iter().any(|pat| {
        if let Some(dom) = pat.strip_suffix("\\*") {
            domain == Some(dom)
        } else if let Some(prefix) = pat.strip_suffix('*') {
            user.starts_with(prefix)
        } else {
            user == *pat
        }
    })
}

fn is_domain_sid(uid: &str) -> bool {
    uid.len() > 9
        && uid
            .get(..9)
            .is_some_and(|p| p.eq_ignore_ascii_case("S-1-5-21-"))
}

// ---------------------------------------------------------------------------------------------
// Cloud principals

enum PrincipalKind<'a> {
    Root,
    User(&'a str),
    Role(&'a str),
    AssumedRole(&'a str, &'a str),
    FederatedUser(&'a str),
}

struct Principal<'a> {
    partition: &'a str,
    account: &'a str,
    kind: PrincipalKind<'a>,
}

impl Principal<'_> {
    fn key(&self) -> String {
        let tail = match self.kind {
            PrincipalKind::Root => "root".to_owned(),
            PrincipalKind::User(n) => format!("user/{n}"),
            PrincipalKind::Role(n) | PrincipalKind::AssumedRole(n, _) => format!("role/{n}"),
            PrincipalKind::FederatedUser(n) => format!("federated-user/{n}"),
        };
        format!("{}:{}:{tail}", self.partition, self.account).to_lowercase()
    }

    fn session(&self) -> Option<&str> {
        match self.kind {
            PrincipalKind::AssumedRole(_, s) => Some(s),
            _ => None,
        }
    }
}

fn parse_principal(s: &str) -> Option<Principal<'_>> {
    let s = s.trim();
    let is_arn = s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("arn:"));
    let (partition, account, resource, service) = if is_arn {
        let mut it = s.get(4..)?.splitn(5, ':');
        let partition = it.next()?;
        let service = it.next()?;
        let _region = it.next()?;
        let account = it.next()?;
        let resource = it.next()?;
        (partition, account, resource, Some(service))
    } else {
        let mut it = s.splitn(3, ':');
        (it.next()?, it.next()?, it.next()?, None)
    };
    let partition_ok = partition.len() >= 3
        && partition
            .get(..3)
            .is_some_and(|p| p.eq_ignore_ascii_case("aws"))
        && partition
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !partition_ok || account.is_empty() || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let name_ok =
        |n: &str| !n.is_empty() && !n.contains(|c: char| c.is_whitespace() || c == ':' || c == '/');
    let lower_service = service.map(str::to_ascii_lowercase);
    let iam = lower_service.as_deref().is_none_or(|x| x == "iam");
    let sts = lower_service.as_deref().is_none_or(|x| x == "sts");
    let (ty, rest) = resource.split_once('/').unwrap_or((resource, ""));
    let kind = match ty.to_ascii_lowercase().as_str() {
        "root" if iam && rest.is_empty() => PrincipalKind::Root,
        // IAM paths (`user/division/alice`): the name is the last segment.
        "user" if iam => PrincipalKind::User(rest.rsplit('/').next().filter(|n| name_ok(n))?),
        "role" if iam => PrincipalKind::Role(rest.rsplit('/').next().filter(|n| name_ok(n))?),
        "assumed-role" if sts && service.is_some() => {
            let (role, session) = rest.split_once('/')?;
            if !name_ok(role) || session.is_empty() || session.contains(char::is_whitespace) {
                return None;
            }
            PrincipalKind::AssumedRole(role, session)
        }
        "federated-user" if sts => PrincipalKind::FederatedUser(Some(rest).filter(|n| name_ok(n))?),
        _ => return None,
    };
    Some(Principal {
        partition,
        account,
        kind,
    })
}

/// What the event says about its cloud, for building keys of principals without an ARN.
struct CloudCx<'a> {
    account: Option<&'a str>,
    partition: &'a str,
}

impl<'a> CloudCx<'a> {
    fn from_event(ev: &'a Map<String, Value>) -> Self {
        let cloud = ev.get("cloud");
        let account = cloud
            .and_then(|c| c.get("account"))
            .and_then(|a| a.get("uid"))
            .and_then(Value::as_str);
        let partition = cloud
            .and_then(|c| c.get("cloud_partition"))
            .and_then(Value::as_str)
            .filter(|p| p.get(..3).is_some_and(|x| x.eq_ignore_ascii_case("aws")))
            .unwrap_or("aws");
        CloudCx { account, partition }
    }
}

// ---------------------------------------------------------------------------------------------
// Collection

#[derive(Default)]
struct Out {
    list: Vec<Entity>,
}

impl Out {
    fn push(&mut self, kind: EntityKind, key: String, role: &str, aliases: Vec<String>) {
        let idx = match self
            .list
            .iter()
            .position(|e| e.kind == kind && e.key == key && e.role == role)
        {
            Some(i) => i,
            None if self.list.len() >= MAX_ENTITIES => return,
            None => {
                self.list.push(Entity {
                    kind,
                    key,
                    role: role.to_owned(),
                    aliases: Vec::new(),
                });
                self.list.len() - 1
            }
        };
        let Some(e) = self.list.get_mut(idx) else {
            return;
        };
        for a in aliases {
            if e.aliases.len() < MAX_ALIASES && a != e.key && !e.aliases.contains(&a) {
                e.aliases.push(a);
            }
        }
    }
}

fn get_obj<'a>(v: &'a Map<String, Value>, k: &str) -> Option<&'a Map<String, Value>> {
    v.get(k).and_then(Value::as_object)
}

fn get_str<'a>(v: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// Strings of an attribute that may be a string or an array of strings.
fn strs<'a>(v: &'a Map<String, Value>, k: &str) -> impl Iterator<Item = &'a str> {
    let (one, many) = match v.get(k) {
        Some(Value::String(s)) => (Some(s.as_str()), None),
        Some(Value::Array(a)) => (None, Some(a.iter().filter_map(Value::as_str))),
        _ => (None, None),
    };
    one.into_iter().chain(many.into_iter().flatten())
}

/// The short name of the scope's `device`, the host processes run on.
fn device_host(scope: &Map<String, Value>) -> Option<String> {
    let device = get_obj(scope, "device")?;
    ["hostname", "name"]
        .iter()
        .filter_map(|k| get_str(device, k))
        .find_map(normalize_host)
        .map(|(short, _)| short)
}

/// One event, or one `evidences[]` item (`prefix` = `evidences.`).
fn scope(
    s: &Map<String, Value>,
    prefix: &str,
    outer_host: Option<&str>,
    cloud: &CloudCx<'_>,
    out: &mut Out,
) {
    let host = device_host(s).or_else(|| outer_host.map(str::to_owned));
    let host = host.as_deref();
    let role = |path: &str| format!("{prefix}{path}");

    if let Some(actor) = get_obj(s, "actor") {
        if let Some(u) = get_obj(actor, "user") {
            user(u, &role("actor.user"), cloud, out);
        }
        if let Some(p) = get_obj(actor, "process") {
            process(p, &role("actor.process"), host, true, cloud, out);
        }
        if let Some(sess) = get_obj(actor, "session") {
            session(sess, &role("actor.session"), out);
        }
    }
    for path in ["user", "user_result"] {
        if let Some(u) = get_obj(s, path) {
            user(u, &role(path), cloud, out);
        }
    }
    for path in ["device", "src_endpoint", "dst_endpoint"] {
        if let Some(e) = get_obj(s, path) {
            endpoint(e, &role(path), out);
        }
    }
    for path in ["process", "logon_process"] {
        if let Some(p) = get_obj(s, path) {
            process(p, &role(path), host, true, cloud, out);
        }
    }
    if let Some(sess) = get_obj(s, "session") {
        session(sess, &role("session"), out);
    }
    if let Some(u) = get_obj(s, "job").and_then(|j| get_obj(j, "user")) {
        user(u, &role("job.user"), cloud, out);
    }
    if let Some(e) = get_obj(s, "email") {
        email(e, &role("email"), out);
    }
    if let Some(items) = s.get("resources").and_then(Value::as_array) {
        let r = role("resources");
        for item in items.iter().filter_map(Value::as_object) {
            resource(item, &r, out);
        }
    }
}

fn user(u: &Map<String, Value>, role: &str, cloud: &CloudCx<'_>, out: &mut Out) {
    if let Some(addr) = get_str(u, "email_addr").and_then(normalize_email) {
        out.push(
            EntityKind::Email,
            addr,
            &format!("{role}.email_addr"),
            Vec::new(),
        );
    }
    let uid = get_str(u, "uid");
    if let Some(arn) = uid.filter(|x| {
        x.trim_start()
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("arn:"))
    }) {
        // A cloud principal; its `name` is the IAM name already in the key.
        principal_arn(arn, role, out);
        return;
    }
    let name = get_str(u, "name");
    let domain = get_str(u, "domain");
    if let Some(key) = aws_principal_without_arn(u, name, cloud) {
        out.push(EntityKind::CloudPrincipal, key, role, Vec::new());
        return;
    }
    let Some(name) = name else {
        return;
    };
    let Some((user_part, dom)) = split_user(name, domain) else {
        return;
    };
    if let Some(machine) = user_part.strip_suffix('$') {
        let original = original_spelling(name, domain);
        machine_account(machine, dom.as_deref(), original, role, out);
        return;
    }
    let Some(key) = user_key(&user_part, dom.as_deref()) else {
        return;
    };
    let mut aliases = vec![original_spelling(name, domain)];
    if let Some(sid) = uid.map(str::trim).filter(|x| is_domain_sid(x)) {
        aliases.push(sid.to_owned());
    }
    out.push(EntityKind::User, key, role, aliases);
}

/// `IAMUser`/`Root` users of AWS events without an ARN: the key their ARN would give.
fn aws_principal_without_arn(
    u: &Map<String, Value>,
    name: Option<&str>,
    cloud: &CloudCx<'_>,
) -> Option<String> {
    let ty = get_str(u, "type")?;
    let account = get_obj(u, "account")
        .and_then(|a| get_str(a, "uid"))
        .or(cloud.account)?;
    let candidate = if ty.eq_ignore_ascii_case("root") {
        format!("{}:{account}:root", cloud.partition)
    } else if ty.eq_ignore_ascii_case("iamuser") {
        format!("{}:{account}:user/{}", cloud.partition, name?.trim())
    } else {
        return None;
    };
    normalize_arn(&candidate)
}

/// The account as the source spelled it; a separate `domain` is joined the way the directory
/// would write it: UPN for a DNS domain, else `DOMAIN\user`.
fn original_spelling(name: &str, domain: Option<&str>) -> String {
    let name = name.trim();
    match domain.map(str::trim).filter(|d| !d.is_empty() && *d != ".") {
        Some(d) if !name.contains(['\\', '@']) => {
            if d.contains('.') {
                format!("{name}@{d}")
            } else {
                format!("{d}\\{name}")
            }
        }
        _ => name.to_owned(),
    }
}

fn machine_account(
    machine: &str,
    domain: Option<&str>,
    original: String,
    role: &str,
    out: &mut Out,
) {
    let Some((short, fqdn)) = normalize_host(machine) else {
        return;
    };
    let mut aliases: Vec<String> = fqdn.into_iter().collect();
    if let Some(d) = domain.filter(|d| d.contains('.')) {
        if let Some((_, Some(f))) = normalize_host(&format!("{short}.{d}")) {
            aliases.push(f);
        }
    }
    aliases.push(original);
    out.push(EntityKind::Host, short, role, aliases);
}

fn principal_arn(arn: &str, role: &str, out: &mut Out) {
    let Some(p) = parse_principal(arn) else {
        return;
    };
    let mut aliases = vec![arn.trim().to_owned()];
    let session = p.session();
    if let Some(s) = session {
        aliases.push(s.to_owned());
    }
    out.push(EntityKind::CloudPrincipal, p.key(), role, aliases);
    // Federated sessions named after the person's email address: that person is a user too.
    if let Some(s) = session {
        let is_email = normalize_email(s)
            .and_then(|e| e.rsplit_once('@').map(|(_, d)| d.contains('.')))
            .unwrap_or(false);
        if is_email {
            if let Some(key) = normalize_user(s, None) {
                out.push(EntityKind::User, key, role, vec![s.to_owned()]);
            }
        }
    }
}

fn session(s: &Map<String, Value>, role: &str, out: &mut Out) {
    for k in ["uid", "issuer"] {
        if let Some(arn) = get_str(s, k) {
            principal_arn(arn, role, out);
        }
    }
}

fn endpoint(e: &Map<String, Value>, role: &str, out: &mut Out) {
    // Host: `hostname`, else `name`; either may be an IP address.
    let mut host: Option<(String, Vec<String>)> = None;
    for k in ["hostname", "name"] {
        let Some(raw) = get_str(e, k) else {
            continue;
        };
        if let Some(ip) = normalize_ip(raw) {
            out.push(EntityKind::Ip, ip, role, Vec::new());
            continue;
        }
        let Some((short, fqdn)) = normalize_host(raw) else {
            continue;
        };
        match &mut host {
            None => host = Some((short, fqdn.into_iter().collect())),
            // `name` spelling the same host as `hostname` (e.g. its FQDN) adds an alias.
            Some((key, aliases)) if *key == short => aliases.extend(fqdn),
            Some(_) => {}
        }
    }
    if let Some((short, mut aliases)) = host {
        if aliases.is_empty() {
            let domain = get_str(e, "domain")
                .map(str::trim)
                .filter(|d| d.contains('.'));
            if let Some(d) = domain {
                if let Some((_, Some(f))) = normalize_host(&format!("{short}.{d}")) {
                    aliases.push(f);
                }
            }
        }
        out.push(EntityKind::Host, short, role, aliases);
    }
    if let Some(ip) = get_str(e, "ip").and_then(normalize_ip) {
        out.push(EntityKind::Ip, ip, role, Vec::new());
    }
}

fn process(
    p: &Map<String, Value>,
    role: &str,
    host: Option<&str>,
    with_parent: bool,
    cloud: &CloudCx<'_>,
    out: &mut Out,
) {
    if let Some(u) = get_obj(p, "user") {
        user(u, &format!("{role}.user"), cloud, out);
    }
    if let Some(host) = host {
        let uid = get_str(p, "uid")
            .map(|u| {
                u.trim()
                    .trim_start_matches('{')
                    .trim_end_matches('}')
                    .trim()
            })
            .filter(|u| !u.is_empty())
            .map(str::to_lowercase);
        let pid_form = match (
            p.get("pid").and_then(Value::as_u64),
            p.get("created_time").and_then(Value::as_i64),
        ) {
            (Some(pid), Some(t)) => Some(format!("{host}:{pid}:{t}")),
            _ => None,
        };
        match (uid, pid_form) {
            (Some(uid), pid_form) => {
                let aliases = pid_form.into_iter().collect();
                out.push(EntityKind::Process, format!("{host}:{uid}"), role, aliases);
            }
            (None, Some(pid_form)) => out.push(EntityKind::Process, pid_form, role, Vec::new()),
            (None, None) => {}
        }
    }
    if with_parent {
        if let Some(parent) = get_obj(p, "parent_process") {
            process(
                parent,
                &format!("{role}.parent_process"),
                host,
                false,
                cloud,
                out,
            );
        }
    }
}

fn email(e: &Map<String, Value>, role: &str, out: &mut Out) {
    for k in ["from", "to", "cc", "reply_to", "smtp_from", "smtp_to"] {
        let r = format!("{role}.{k}");
        for addr in strs(e, k).filter_map(normalize_email) {
            out.push(EntityKind::Email, addr, &r, Vec::new());
        }
    }
    let r = format!("{role}.x_originating_ip");
    for ip in strs(e, "x_originating_ip").filter_map(normalize_ip) {
        out.push(EntityKind::Ip, ip, &r, Vec::new());
    }
}

fn resource(r: &Map<String, Value>, role: &str, out: &mut Out) {
    if let Some(uid) = get_str(r, "uid") {
        principal_arn(uid, role, out);
    }
    if let Some(h) = get_str(r, "hostname") {
        if let Some(ip) = normalize_ip(h) {
            out.push(EntityKind::Ip, ip, role, Vec::new());
        } else if let Some((short, fqdn)) = normalize_host(h) {
            out.push(EntityKind::Host, short, role, fqdn.into_iter().collect());
        }
    }
    if let Some(ip) = get_str(r, "ip").and_then(normalize_ip) {
        out.push(EntityKind::Ip, ip, role, Vec::new());
    }
}

fn looks_like_ip(s: &str) -> bool {
    let s = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    let s = s.split_once('%').map_or(s, |(a, _)| a);
    s.parse::<IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_equivalences() {
        let k = Some("pgustavo@theshire".to_owned());
        assert_eq!(normalize_user("THESHIRE\\pgustavo", None), k);
        assert_eq!(normalize_user("pgustavo@theshire.local", None), k);
        assert_eq!(normalize_user("pgustavo", Some("THESHIRE")), k);
        assert_eq!(normalize_user("PGustavo", Some("theshire.local")), k);
        assert_eq!(normalize_user("pgustavo@theshire", None), k);
        assert_eq!(normalize_user("bob", None), Some("bob".to_owned()));
        assert_eq!(normalize_user("bob", Some(".")), Some("bob".to_owned()));
    }

    #[test]
    fn user_noise_and_machines() {
        for n in [
            "SYSTEM",
            "NT AUTHORITY\\SYSTEM",
            "NT AUTHORITY\\whatever",
            "LOCAL SERVICE",
            "NETWORK SERVICE",
            "ANONYMOUS LOGON",
            "-",
            "",
            "  ",
            "DWM-1",
            "UMFD-0",
            "Window Manager\\DWM-1",
            "Font Driver Host\\UMFD-2",
            "WS01$",
            "THESHIRE\\WS01$",
        ] {
            assert_eq!(normalize_user(n, None), None, "{n}");
        }
        assert_eq!(normalize_user("SYSTEM", Some("NT AUTHORITY")), None);
        assert_eq!(normalize_user("anyone", Some("NT AUTHORITY")), None);
    }

    #[test]
    fn hosts() {
        assert_eq!(
            normalize_host("WORKSTATION5.theshire.local."),
            Some((
                "workstation5".to_owned(),
                Some("workstation5.theshire.local".to_owned())
            ))
        );
        assert_eq!(normalize_host("WS01"), Some(("ws01".to_owned(), None)));
        assert_eq!(normalize_host("10.0.0.1"), None);
        assert_eq!(normalize_host("::1"), None);
        assert_eq!(normalize_host("1.2.3"), None);
        assert_eq!(normalize_host("localhost"), None);
        assert_eq!(normalize_host("-"), None);
        assert_eq!(normalize_host("a b"), None);
        assert_eq!(normalize_host("a..b"), None);
    }

    #[test]
    fn ips() {
        assert_eq!(normalize_ip("::ffff:1.2.3.4"), Some("1.2.3.4".to_owned()));
        assert_eq!(
            normalize_ip("2001:0DB8:0000:0000:0000:0000:0000:0001"),
            Some("2001:db8::1".to_owned())
        );
        assert_eq!(normalize_ip("[fe80::1%eth0]"), Some("fe80::1".to_owned()));
        for n in [
            "0.0.0.0",
            "::",
            "127.0.0.1",
            "::1",
            "::ffff:127.0.0.1",
            "255.255.255.255",
            "224.0.0.251",
            "-",
            "",
        ] {
            assert_eq!(normalize_ip(n), None, "{n}");
        }
    }

    #[test]
    fn arns() {
        let cases = [
            ("arn:aws:iam::123456789012:user/alice", "aws:123456789012:user/alice"),
            ("arn:aws:iam::123456789012:user/division/Alice", "aws:123456789012:user/alice"),
            (
                "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.com",
                "aws:123456789012:role/admin",
            ),
            ("arn:aws:iam::123456789012:role/Admin", "aws:123456789012:role/admin"),
            (
                "arn:aws:iam::123456789012:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
                "aws:123456789012:role/awsserviceroleforecs",
            ),
            ("arn:aws:iam::123456789012:root", "aws:123456789012:root"),
            ("arn:aws-us-gov:iam::123456789012:user/bob", "aws-us-gov:123456789012:user/bob"),
            ("arn:aws-cn:sts::123456789012:federated-user/carol", "aws-cn:123456789012:federated-user/carol"),
        ];
        for (arn, key) in cases {
            assert_eq!(normalize_arn(arn).as_deref(), Some(key), "{arn}");
            assert_eq!(normalize_arn(key).as_deref(), Some(key), "{key}");
        }
        for bad in [
            "arn:aws:s3:::my-bucket",
            "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc",
            "arn:aws:identitystore::123456789012:identitystore/d-9911111111",
            "arn:aws:iam::123456789012:policy/P",
            "arn:aws:iam::abc:user/alice",
            "arn:gcp:iam::123456789012:user/alice",
            "arn:aws:iam::123456789012:user/",
            "arn:aws",
            "",
        ] {
            assert_eq!(normalize_arn(bad), None, "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(
            normalize_email("\"Alice A.\" <Alice@Example.COM>"),
            Some("alice@example.com".to_owned())
        );
        assert_eq!(
            normalize_email("mailto:bob@x.org"),
            Some("bob@x.org".to_owned())
        );
        assert_eq!(normalize_email("not an email"), None);
        assert_eq!(normalize_email("a b@x.org"), None);
        assert_eq!(normalize_email("@x.org"), None);
        assert_eq!(normalize_email("bob@"), None);
    }
}

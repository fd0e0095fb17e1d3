//! Entity attribution and resolution.
//!
//! # Attribution: which entities an alert counts toward
//!
//! An alert counts toward its *subject* entities, from the entities the normalizer read
//! (`shrike_normalize::entities`, each with the OCSF path it came from, its `role`):
//!
//! - **Host**: from `device`, `src_endpoint`, `actor.*`, `user*`, `process*`, `resources` (and
//!   the same under `evidences.`). Never from `dst_endpoint`: a destination host name cannot be
//!   told internal from external, and the destination of a connection is not its subject.
//! - **User**: from `actor.user`, `user`, `user_result` (the account acted upon), process users,
//!   `job.user`, cloud session names (the normalizer's assumed-role rule).
//! - **CloudPrincipal**: any role.
//! - **Ip**, from any role but `email.*`: an IP that the [`Resolver`] maps to a host at the
//!   alert's event time (DHCP lease or inventory) counts for that host; otherwise only private/
//!   internal addresses count, as IP entities (RFC 1918, CGNAT 100.64/10, link-local, IPv6 ULA
//!   and link-local). Other IPs never count (an attacker's address is not an entity at risk; it
//!   belongs in threat intel).
//! - **Process** and **Email** entities are not fused (a process is transient and its host
//!   already counts; mailboxes are the email pipeline's subjects).
//!
//! Each resolved entity counts once per alert; at most [`MAX_ENTITIES_PER_ALERT`] per alert.
//!
//! # Resolution
//!
//! The normalizer already canonicalizes spellings inside one event (`DOMAIN\user`,
//! `user@domain`, FQDN hosts, ARNs). [`Resolver`] adds what needs memory across events:
//! - **Alias ties**: every alias of an entity (SID, FQDN, the original spelling, an assumed-role
//!   session name and ARN) is tied to the entity's canonical id the first time it is seen; later
//!   entities with a tied alias resolve to that id (first seen wins; conflicts are counted). The
//!   alias set is bounded ([`Resolver::with_capacity`]); beyond it, new ties are dropped and
//!   counted. An assumed-role principal whose session name is a user's address thus resolves to
//!   that user, while the role key itself is never tied (many users assume one role).
//! - **IP -> host over time**: DHCP leases ([`Resolver::add_lease`]) and static assignments from
//!   the asset inventory ([`Resolver::add_static`]), looked up by event time; the latest lease
//!   covering the time wins, then the static assignment. Bounded: [`MAX_LEASES_PER_IP`] per IP
//!   (oldest dropped) and a total IP count.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use shrike_normalize::entities::{normalize_host, normalize_ip, Entity, EntityKind};

/// Most entities one alert counts toward.
pub const MAX_ENTITIES_PER_ALERT: usize = 16;

/// Leases kept per IP.
pub const MAX_LEASES_PER_IP: usize = 8;

/// Longest key or alias kept (longer ones are truncated at a char boundary).
const MAX_KEY_BYTES: usize = 256;

/// A fused entity: kind + canonical key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityId {
    /// Host, user, cloud principal or IP.
    pub kind: EntityKind,
    /// Canonical key (`shrike_normalize::entities` rules).
    pub key: String,
}

impl EntityId {
    /// `kind` as text (`host`, `user`, `cloud_principal`, `ip`).
    pub fn kind_str(&self) -> &'static str {
        kind_str(self.kind)
    }
}

impl std::fmt::Display for EntityId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind_str(), self.key)
    }
}

pub(crate) fn kind_str(k: EntityKind) -> &'static str {
    match k {
        EntityKind::User => "user",
        EntityKind::Host => "host",
        EntityKind::Ip => "ip",
        EntityKind::Process => "process",
        EntityKind::CloudPrincipal => "cloud_principal",
        EntityKind::Email => "email",
    }
}

fn bounded(s: &str) -> String {
    if s.len() <= MAX_KEY_BYTES {
        return s.to_owned();
    }
    let mut end = MAX_KEY_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("").to_owned()
}

/// Is this IP private/internal (see the module doc)?
pub fn is_internal_ip(ip: &str) -> bool {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            let o = v4.octets();
            v4.is_private() || v4.is_link_local() || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments()[0];
            (s & 0xfe00) == 0xfc00 || (s & 0xffc0) == 0xfe80
        }
        Err(_) => false,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Lease {
    from_ms: i64,
    to_ms: i64,
    host: String,
}

/// Entity resolution across events (module doc).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolver {
    aliases: HashMap<String, EntityId>,
    leases: HashMap<String, Vec<Lease>>,
    statics: HashMap<String, String>,
    max_aliases: usize,
    max_ips: usize,
    /// Ties not recorded because the alias set was full.
    pub dropped_ties: u64,
    /// Aliases seen for a second canonical id (the first tie was kept).
    pub alias_conflicts: u64,
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver::with_capacity(1_000_000, 1_000_000)
    }
}

impl Resolver {
    /// A resolver holding at most `max_aliases` alias ties and `max_ips` leased/static IPs.
    pub fn with_capacity(max_aliases: usize, max_ips: usize) -> Self {
        Resolver {
            aliases: HashMap::new(),
            leases: HashMap::new(),
            statics: HashMap::new(),
            max_aliases,
            max_ips,
            dropped_ties: 0,
            alias_conflicts: 0,
        }
    }

    /// Records that `ip` was leased to `host` during `[from_ms, to_ms)` (DHCP, OCSF 4004).
    /// Invalid IPs or host names are ignored; returns whether it was recorded.
    pub fn add_lease(&mut self, ip: &str, host: &str, from_ms: i64, to_ms: i64) -> bool {
        let (Some(ip), Some((host, _))) = (normalize_ip(ip), normalize_host(host)) else {
            return false;
        };
        if to_ms <= from_ms {
            return false;
        }
        if !self.leases.contains_key(&ip) && self.leases.len() >= self.max_ips {
            return false;
        }
        let list = self.leases.entry(ip).or_default();
        list.push(Lease {
            from_ms,
            to_ms,
            host: bounded(&host),
        });
        list.sort_by_key(|l| l.from_ms);
        if list.len() > MAX_LEASES_PER_IP {
            list.remove(0);
        }
        true
    }

    /// Feeds one normalized OCSF DHCP Activity event (class 4004): an Ack (`activity_id` 5)
    /// leases `src_endpoint.ip` to `src_endpoint.hostname` from `time` for `lease_dur` seconds
    /// (1 day when absent); a Release (7) or Expire (9) ends the client's lease covering `time`.
    /// Returns whether a lease was added or ended. (Both the Zeek and the Suricata mappings put
    /// the client in `src_endpoint`.)
    pub fn observe_dhcp(&mut self, event: &serde_json::Value) -> bool {
        use serde_json::Value;
        if event.get("class_uid").and_then(Value::as_u64) != Some(4004) {
            return false;
        }
        let Some(time) = event.get("time").and_then(Value::as_i64) else {
            return false;
        };
        let src = event.get("src_endpoint");
        let Some(ip) = src
            .and_then(|s| s.get("ip"))
            .and_then(Value::as_str)
            .and_then(normalize_ip)
        else {
            return false;
        };
        match event.get("activity_id").and_then(Value::as_u64) {
            Some(5) => {
                let Some(host) = src
                    .and_then(|s| s.get("hostname").or_else(|| s.get("name")))
                    .and_then(Value::as_str)
                else {
                    return false;
                };
                let secs = event
                    .get("lease_dur")
                    .and_then(Value::as_i64)
                    .filter(|d| *d > 0)
                    .unwrap_or(86_400);
                self.add_lease(
                    &ip,
                    host,
                    time,
                    time.saturating_add(secs.saturating_mul(1000)),
                )
            }
            Some(7 | 9) => match self.leases.get_mut(&ip).and_then(|l| {
                l.iter_mut()
                    .rev()
                    .find(|x| x.from_ms <= time && time < x.to_ms)
            }) {
                Some(lease) => {
                    lease.to_ms = time.max(lease.from_ms.saturating_add(1));
                    true
                }
                None => false,
            },
            _ => false,
        }
    }

    /// Records a static assignment `ip -> host` (asset inventory); returns whether it was
    /// recorded.
    pub fn add_static(&mut self, ip: &str, host: &str) -> bool {
        let (Some(ip), Some((host, _))) = (normalize_ip(ip), normalize_host(host)) else {
            return false;
        };
        if !self.statics.contains_key(&ip) && self.statics.len() >= self.max_ips {
            return false;
        }
        self.statics.insert(ip, bounded(&host));
        true
    }

    /// The host `ip` belonged to at `time_ms`: the latest lease covering it, else the static
    /// assignment.
    pub fn host_for_ip(&self, ip: &str, time_ms: i64) -> Option<&str> {
        let lease = self.leases.get(ip).and_then(|l| {
            l.iter()
                .rev()
                .find(|x| x.from_ms <= time_ms && time_ms < x.to_ms)
        });
        lease
            .map(|l| l.host.as_str())
            .or_else(|| self.statics.get(ip).map(String::as_str))
    }

    /// Canonical id of an entity: its first alias or key that is tied, else itself.
    pub fn resolve(&self, e: &Entity) -> EntityId {
        for a in &e.aliases {
            if let Some(id) = self.aliases.get(a.as_str()) {
                return id.clone();
            }
        }
        if let Some(id) = self.aliases.get(&tie_key(e.kind, &e.key)) {
            return id.clone();
        }
        EntityId {
            kind: e.kind,
            key: bounded(&e.key),
        }
    }

    fn tie(&mut self, alias: String, id: &EntityId) {
        match self.aliases.get(&alias) {
            Some(old) if old != id => self.alias_conflicts += 1,
            Some(_) => {}
            None if self.aliases.len() >= self.max_aliases => self.dropped_ties += 1,
            None => {
                self.aliases.insert(alias, id.clone());
            }
        }
    }

    /// The subject entities of an alert at `time_ms` (module doc), resolved, deduplicated,
    /// at most [`MAX_ENTITIES_PER_ALERT`]; records alias ties seen in the alert. Returns each
    /// entity with the aliases seen for it in this alert.
    pub fn attribute(&mut self, entities: &[Entity], time_ms: i64) -> Vec<(EntityId, Vec<String>)> {
        let mut out: Vec<(EntityId, Vec<String>)> = Vec::new();
        // Users first, so an assumed-role principal's session name ties to its user.
        let order = [
            EntityKind::User,
            EntityKind::Host,
            EntityKind::CloudPrincipal,
            EntityKind::Ip,
        ];
        for kind in order {
            for e in entities.iter().filter(|e| e.kind == kind) {
                if out.len() >= MAX_ENTITIES_PER_ALERT {
                    return out;
                }
                let Some(id) = self.subject(e, time_ms) else {
                    continue;
                };
                if kind != EntityKind::Ip {
                    for a in &e.aliases {
                        self.tie(bounded(a), &id);
                    }
                    // The role key of an assumed role is shared by every session: never tie it.
                    let role_key = kind == EntityKind::CloudPrincipal && e.key.contains(":role/");
                    if id.key != e.key && !role_key {
                        self.tie(tie_key(e.kind, &e.key), &id);
                    }
                }
                let aliases: Vec<String> = e.aliases.iter().take(4).map(|a| bounded(a)).collect();
                match out.iter_mut().find(|(x, _)| *x == id) {
                    Some((_, al)) => {
                        for a in aliases {
                            if al.len() < 8 && !al.contains(&a) {
                                al.push(a);
                            }
                        }
                    }
                    None => out.push((id, aliases)),
                }
            }
        }
        out
    }

    fn subject(&self, e: &Entity, time_ms: i64) -> Option<EntityId> {
        let role = e.role.strip_prefix("evidences.").unwrap_or(&e.role);
        match e.kind {
            EntityKind::Process | EntityKind::Email => None,
            EntityKind::Host if role.starts_with("dst_endpoint") => None,
            EntityKind::Host | EntityKind::User | EntityKind::CloudPrincipal => {
                Some(self.resolve(e))
            }
            EntityKind::Ip if role.starts_with("email") => None,
            EntityKind::Ip => match self.host_for_ip(&e.key, time_ms) {
                // Leased or in the inventory: an asset of ours, whatever its range.
                Some(h) => Some(EntityId {
                    kind: EntityKind::Host,
                    key: h.to_owned(),
                }),
                None if is_internal_ip(&e.key) => Some(self.resolve(e)),
                None => None,
            },
        }
    }

    /// Alias ties held.
    pub fn n_aliases(&self) -> usize {
        self.aliases.len()
    }
}

fn tie_key(kind: EntityKind, key: &str) -> String {
    format!("{}:{key}", kind_str(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ent(kind: EntityKind, key: &str, role: &str, aliases: &[&str]) -> Entity {
        Entity {
            kind,
            key: key.into(),
            role: role.into(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn attribution_rules() {
        let mut r = Resolver::default();
        let es = vec![
            ent(EntityKind::Host, "ws1", "device", &["ws1.corp.local"]),
            ent(EntityKind::Ip, "10.0.0.5", "src_endpoint", &[]),
            ent(EntityKind::Ip, "8.8.8.8", "dst_endpoint", &[]),
            ent(EntityKind::Host, "evil", "dst_endpoint", &["evil.com"]),
            ent(EntityKind::Process, "ws1:abc", "process", &[]),
            ent(EntityKind::Email, "a@b.com", "email.from", &[]),
            ent(
                EntityKind::User,
                "alice@corp",
                "actor.user",
                &["CORP\\alice", "S-1-5-21-1-2-3-1001"],
            ),
        ];
        let got: Vec<String> = r
            .attribute(&es, 0)
            .into_iter()
            .map(|(e, _)| e.to_string())
            .collect();
        assert_eq!(got, vec!["user alice@corp", "host ws1", "ip 10.0.0.5"]);
        // Lease: 10.0.0.5 belongs to ws2 during [100, 200).
        assert!(r.add_lease("10.0.0.5", "WS2.corp.local", 100, 200));
        let got: Vec<String> = r
            .attribute(&es[1..2], 150)
            .into_iter()
            .map(|(e, _)| e.to_string())
            .collect();
        assert_eq!(got, vec!["host ws2"]);
        let got: Vec<String> = r
            .attribute(&es[1..2], 250)
            .into_iter()
            .map(|(e, _)| e.to_string())
            .collect();
        assert_eq!(got, vec!["ip 10.0.0.5"]);
        assert!(r.add_static("10.0.0.5", "ws3"));
        // A public IP counts only when the inventory knows it.
        let public = vec![ent(EntityKind::Ip, "198.51.100.7", "dst_endpoint", &[])];
        assert!(r.attribute(&public, 0).is_empty());
        assert!(r.add_static("198.51.100.7", "dmz-web"));
        let got: Vec<String> = r
            .attribute(&public, 0)
            .into_iter()
            .map(|(e, _)| e.to_string())
            .collect();
        assert_eq!(got, vec!["host dmz-web"]);
        let got: Vec<String> = r
            .attribute(&es[1..2], 250)
            .into_iter()
            .map(|(e, _)| e.to_string())
            .collect();
        assert_eq!(got, vec!["host ws3"]);
        // SID tie: a domainless spelling with the same SID resolves to the first user.
        let later = vec![ent(
            EntityKind::User,
            "alice",
            "user",
            &["alice", "S-1-5-21-1-2-3-1001"],
        )];
        let got: Vec<String> = r
            .attribute(&later, 300)
            .into_iter()
            .map(|(e, _)| e.to_string())
            .collect();
        assert_eq!(got, vec!["user alice@corp"]);
    }

    #[test]
    fn dhcp_ack_leases_and_release_ends() {
        let mut r = Resolver::default();
        let ack = serde_json::json!({"class_uid": 4004, "activity_id": 5, "time": 1000,
            "lease_dur": 60, "src_endpoint": {"ip": "192.0.2.30", "hostname": "ws05.corp.example"}});
        assert!(r.observe_dhcp(&ack));
        assert_eq!(r.host_for_ip("192.0.2.30", 1000), Some("ws05"));
        assert_eq!(r.host_for_ip("192.0.2.30", 60_999), Some("ws05"));
        assert_eq!(r.host_for_ip("192.0.2.30", 61_000), None);
        let release = serde_json::json!({"class_uid": 4004, "activity_id": 7, "time": 5000,
            "src_endpoint": {"ip": "192.0.2.30"}});
        assert!(r.observe_dhcp(&release));
        assert_eq!(r.host_for_ip("192.0.2.30", 5000), None);
        assert_eq!(r.host_for_ip("192.0.2.30", 4999), Some("ws05"));
        assert!(!r.observe_dhcp(&serde_json::json!({"class_uid": 4001})));
        assert!(!r.observe_dhcp(&serde_json::json!("garbage")));
    }

    #[test]
    fn assumed_role_session_ties_to_user_but_role_key_does_not() {
        let mut r = Resolver::default();
        let alice = vec![
            ent(
                EntityKind::CloudPrincipal,
                "aws:1:role/admin",
                "actor.user",
                &[
                    "arn:aws:sts::1:assumed-role/Admin/alice@example.com",
                    "alice@example.com",
                ],
            ),
            ent(
                EntityKind::User,
                "alice@example",
                "actor.user",
                &["alice@example.com"],
            ),
        ];
        let got: Vec<String> = r
            .attribute(&alice, 0)
            .into_iter()
            .map(|(e, _)| e.to_string())
            .collect();
        assert_eq!(got, vec!["user alice@example"]);
        let bob = vec![ent(
            EntityKind::CloudPrincipal,
            "aws:1:role/admin",
            "actor.user",
            &["arn:aws:sts::1:assumed-role/Admin/i-123", "i-123"],
        )];
        let got: Vec<String> = r
            .attribute(&bob, 0)
            .into_iter()
            .map(|(e, _)| e.to_string())
            .collect();
        assert_eq!(got, vec!["cloud_principal aws:1:role/admin"]);
    }
}

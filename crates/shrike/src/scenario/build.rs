//! `shrike scenario build`: real background replicated over a synthetic estate, real attack
//! captures spliced in at chosen entities and times, with ground truth.
//!
//! Steps: load the definition (TOML); build the estate (hosts, users, cloud principals, IPs);
//! normalize every capture once with the bundled mappings into *templates* (a Windows
//! background capture gives one template per lab host that did not carry the attack; a network
//! or cloud file gives one template); plan *instances* (a contiguous chunk of a template at a
//! random time with its own remap table; each attack is one instance of its whole capture at
//! its definition time with its story's entities fixed); then merge all instances' events in
//! time order and write them, remapped, time-shifted and with fresh `metadata.uid`s.
//!
//! Everything random comes from [`Rng`] streams derived from the seed, and every collection
//! that is iterated is ordered, so a seed gives the same bytes.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shrike_normalize::decode::{decode_path, DecodeOptions};
use shrike_normalize::entities::{self, EntityKind};
use shrike_normalize::{DecodeItem, Engine};

use super::remap::{remap_value, EstatePools, Instance, Originals, Rng};

/// The scenario definition file (`content/scenario/default.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// Schema version (1).
    pub version: u32,
    /// Scenario name.
    pub name: String,
    /// Default seed (`--seed` overrides).
    pub seed: u64,
    /// Event time of the scenario start (epoch ms).
    pub start_ms: i64,
    /// Length of the scenario in days.
    pub days: f64,
    /// Background events at scale 1.
    pub background_events: u64,
    /// The synthetic estate.
    pub estate: EstateDef,
    /// What identifies the labs the captures came from.
    pub lab: LabDef,
    /// Background sources.
    pub background: BackgroundDef,
    /// Attack captures to splice in.
    #[serde(default)]
    pub attack: Vec<AttackDef>,
}

/// The synthetic estate's size and naming.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstateDef {
    /// All hosts (workstations + servers + domain controllers).
    pub hosts: usize,
    /// Servers among them.
    pub servers: usize,
    /// Domain controllers among them.
    pub dcs: usize,
    /// Directory users.
    pub users: usize,
    /// Cloud principals (IAM users and roles).
    pub cloud_principals: usize,
    /// DNS domain.
    pub domain: String,
    /// NetBIOS domain (its lowercase must equal the DNS domain's first label).
    pub netbios: String,
    /// Domain SID.
    pub domain_sid: String,
    /// AWS account id (12 digits).
    pub account_id: String,
    /// First two octets of the estate's IPv4 addresses (`10.20`).
    pub ip_prefix: String,
}

/// Lab identification.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabDef {
    /// Lab DNS domains (remapped to the estate domain everywhere).
    pub domains: Vec<String>,
    /// Lab NetBIOS domains.
    pub netbios: Vec<String>,
    /// Strings whose presence in a host's events marks it as an attack host (case-insensitive).
    pub attack_markers: Vec<String>,
    /// Lab host names that must not appear in the output (checked by the tests).
    #[serde(default)]
    pub host_names: Vec<String>,
}

/// Background sources and their shares of the background events.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackgroundDef {
    /// Share of Windows events.
    pub windows_share: f64,
    /// Share of network events.
    pub network_share: f64,
    /// Share of cloud events.
    pub cloud_share: f64,
    /// Events per replayed chunk.
    pub chunk_events: usize,
    /// Mordor Windows captures (hosts that carried the attack are excluded).
    pub windows: Vec<CaptureRef>,
    /// Zeek / Suricata files.
    pub network: Vec<CaptureRef>,
    /// CloudTrail files.
    pub cloud: Vec<CaptureRef>,
}

/// One capture file under `--data`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureRef {
    /// Path relative to the data directory.
    pub path: String,
    /// Metadata YAML (Mordor), relative to the data directory.
    #[serde(default)]
    pub metadata: Option<String>,
    /// More hosts to exclude from the background (short names).
    #[serde(default)]
    pub exclude_hosts: Vec<String>,
    /// Keep only Panther test events with `expected_result: false`.
    #[serde(default)]
    pub benign_only: bool,
}

/// One attack capture spliced in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttackDef {
    /// Attack id.
    pub id: String,
    /// Story: attacks of one story share its entities (by role name).
    pub story: String,
    /// Capture path relative to the data directory.
    pub capture: String,
    /// `windows`, `network` or `cloud`.
    pub domain: String,
    /// Metadata YAML for techniques.
    #[serde(default)]
    pub metadata: Option<String>,
    /// Techniques when the capture has no metadata (or in addition).
    #[serde(default)]
    pub techniques: Vec<String>,
    /// Hours after the scenario start of the capture's first event.
    pub at_hours: f64,
    /// Lab host short name → story role. For Windows captures only these hosts' events are kept.
    #[serde(default)]
    pub hosts: BTreeMap<String, String>,
    /// Lab user name → story role.
    #[serde(default)]
    pub users: BTreeMap<String, String>,
    /// Lab IP → story host role (the IP becomes that host's estate IP).
    #[serde(default)]
    pub ips: BTreeMap<String, String>,
    /// Lab principal name → story role.
    #[serde(default)]
    pub principals: BTreeMap<String, String>,
}

/// Options of one build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The shared data directory.
    pub data: PathBuf,
    /// The definition file.
    pub definition: PathBuf,
    /// Seed override.
    pub seed: Option<u64>,
    /// Multiplies the background event count.
    pub scale: f64,
    /// Output directory.
    pub out: PathBuf,
}

/// One entity of the ground truth.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TruthEntity {
    /// `host`, `user`, `ip`, `cloud_principal`.
    pub kind: String,
    /// Canonical key (as `shrike_normalize::entities`).
    pub key: String,
    /// Stories it belongs to.
    pub stories: Vec<String>,
    /// Attack captures it appears in.
    pub captures: Vec<String>,
    /// ATT&CK techniques of those captures.
    pub techniques: Vec<String>,
    /// Event time of its first attack event (ms).
    pub first_ms: i64,
    /// Event time of its last attack event (ms).
    pub last_ms: i64,
    /// Attack events naming it.
    pub events: u64,
}

/// `truth.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Truth {
    /// Format version (1).
    pub version: u32,
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// Attacked entities: the story's entities (fixed by the definition) seen in attack events.
    pub attacked: Vec<TruthEntity>,
    /// Entities in attack events that the definition did not assign to a story (lab bystanders
    /// remapped at random, e.g. the victim's DC); a ticket for them is neither a hit nor a false
    /// positive.
    pub incidental: Vec<TruthEntity>,
    /// The attacks spliced in.
    pub attacks: Vec<TruthAttack>,
}

/// One spliced attack.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TruthAttack {
    /// Attack id.
    pub id: String,
    /// Story.
    pub story: String,
    /// Capture path.
    pub capture: String,
    /// Techniques.
    pub techniques: Vec<String>,
    /// Events emitted.
    pub events: u64,
    /// First event time (ms).
    pub first_ms: i64,
    /// Last event time (ms).
    pub last_ms: i64,
    /// Story role → estate entity.
    pub roles: BTreeMap<String, String>,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Manifest {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Scale.
    pub scale: f64,
    /// Events written.
    pub events: u64,
    /// Events by source (`background/windows`, `attack/network`, ...).
    pub by_source: BTreeMap<String, u64>,
    /// Events by OCSF class_uid.
    pub by_class: BTreeMap<u32, u64>,
    /// Estate sizes.
    pub estate: BTreeMap<String, usize>,
    /// First and last event time.
    pub start_ms: i64,
    /// Last event time.
    pub end_ms: i64,
    /// Background templates: name → events available.
    pub templates: BTreeMap<String, usize>,
    /// Windows background captures: host → why it was excluded.
    pub excluded_hosts: BTreeMap<String, BTreeMap<String, String>>,
    /// Instances replayed (background chunks + attacks).
    pub instances: usize,
    /// Records that could not be decoded or mapped while loading the captures.
    pub quarantined: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Dom {
    Windows,
    Network,
    Cloud,
}

impl Dom {
    fn as_str(self) -> &'static str {
        match self {
            Dom::Windows => "windows",
            Dom::Network => "network",
            Dom::Cloud => "cloud",
        }
    }
}

struct Template {
    name: String,
    dom: Dom,
    events: Vec<Value>,
    times: Vec<i64>,
    originals: Rc<Originals>,
}

struct Plan {
    template: usize,
    start: usize,
    len: usize,
    base_ms: i64,
    retime: bool,
    inst: Instance,
    attack: Option<usize>,
}

/// Loads and checks a definition file.
pub fn load_definition(path: &Path) -> Result<Definition> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let def: Definition =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if def.version != 1 {
        bail!("{}: unsupported version {}", path.display(), def.version);
    }
    let e = &def.estate;
    if e.hosts < e.servers + e.dcs + 1 || e.users == 0 || e.cloud_principals == 0 {
        bail!(
            "{}: the estate needs workstations, users and cloud principals",
            path.display()
        );
    }
    if e.account_id.len() != 12 || !e.account_id.bytes().all(|b| b.is_ascii_digit()) {
        bail!("{}: estate.account_id must be 12 digits", path.display());
    }
    if def.days.is_nan() || def.days <= 0.0 || def.background.chunk_events == 0 {
        bail!(
            "{}: days and background.chunk_events must be positive",
            path.display()
        );
    }
    for a in &def.attack {
        if !matches!(a.domain.as_str(), "windows" | "network" | "cloud") {
            bail!("attack {}: domain must be windows, network or cloud", a.id);
        }
    }
    Ok(def)
}

const FIRST: &[&str] = &[
    "alice", "bruno", "chloe", "diego", "elena", "farid", "grace", "hiro", "ines", "jonas", "kara",
    "liam", "maya", "noah", "olga", "pavel", "quinn", "rosa", "sami", "tara",
];
const LAST: &[&str] = &[
    "moreau",
    "keller",
    "santos",
    "novak",
    "lindqvist",
    "okafor",
    "tanaka",
    "rossi",
    "dubois",
    "meyer",
    "silva",
    "kowalski",
    "nguyen",
    "haddad",
    "jansen",
    "ferreira",
    "brennan",
    "ivanova",
    "costa",
    "weber",
];
const PRINCIPAL_WORDS: &[&str] = &[
    "deploy",
    "billing",
    "data",
    "etl",
    "ci",
    "backup",
    "web",
    "analytics",
    "ops",
    "audit",
];

/// The estate's identities, and its inventory rows.
pub struct Estate {
    /// Replacement pools.
    pub pools: EstatePools,
    def: EstateDef,
}

impl Estate {
    /// Builds the estate from its definition.
    pub fn new(def: &EstateDef) -> Estate {
        let ws = def.hosts - def.servers - def.dcs;
        let workstations: Vec<String> = (1..=ws).map(|i| format!("ws-{i:04}")).collect();
        let servers: Vec<String> = (1..=def.servers).map(|i| format!("srv-{i:03}")).collect();
        let dcs: Vec<String> = (1..=def.dcs).map(|i| format!("dc-{i:02}")).collect();
        let mut host_ip = HashMap::new();
        for (i, h) in workstations.iter().chain(&servers).chain(&dcs).enumerate() {
            let ip = format!("{}.{}.{}", def.ip_prefix, 1 + i / 200, 20 + i % 200);
            host_ip.insert(h.clone(), ip);
        }
        let mut users = Vec::with_capacity(def.users);
        for i in 0..def.users {
            let f = FIRST[i % FIRST.len()];
            let l = LAST[(i / FIRST.len()) % LAST.len()];
            let round = i / (FIRST.len() * LAST.len());
            users.push(if round == 0 {
                format!("{f}.{l}")
            } else {
                format!("{f}.{l}{round}")
            });
        }
        let user_rid = users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.clone(), 1100 + i as u32))
            .collect();
        let principals = (0..def.cloud_principals)
            .map(|i| {
                format!(
                    "svc-{}-{:02}",
                    PRINCIPAL_WORDS[i % PRINCIPAL_WORDS.len()],
                    i / PRINCIPAL_WORDS.len() + 1
                )
            })
            .collect();
        Estate {
            pools: EstatePools {
                workstations,
                servers,
                dcs,
                host_ip,
                users,
                principals,
                user_rid,
                domain: def.domain.to_ascii_lowercase(),
                netbios: def.netbios.to_ascii_uppercase(),
                domain_sid: def.domain_sid.clone(),
                account_id: def.account_id.clone(),
            },
            def: def.clone(),
        }
    }

    /// The inventory CSV (the format `shrike_triage::assets` reads: hosts and identities).
    pub fn assets_csv(&self) -> String {
        let p = &self.pools;
        let mut s = String::from(
            "kind,hostname,fqdn,ips,owner,business_service,criticality,data_classes,environment,user,department,privileged,email,title\n",
        );
        let depts = ["finance", "sales", "engineering", "hr", "legal", "support"];
        for (i, h) in p.workstations.iter().enumerate() {
            let crit = if i % 10 == 0 { 3 } else { 2 };
            let d = depts[i % depts.len()];
            s.push_str(&format!(
                "host,{h},{h}.{dom},{ip},{d},workstation,{crit},,prod,,,,,\n",
                dom = p.domain,
                ip = p.host_ip.get(h).map_or("", String::as_str)
            ));
        }
        for h in &p.servers {
            s.push_str(&format!(
                "host,{h},{h}.{dom},{ip},platform,line-of-business,4,pii,prod,,,,,\n",
                dom = p.domain,
                ip = p.host_ip.get(h).map_or("", String::as_str)
            ));
        }
        for h in &p.dcs {
            s.push_str(&format!(
                "host,{h},{h}.{dom},{ip},infrastructure,active-directory,5,credentials,prod,,,,,\n",
                dom = p.domain,
                ip = p.host_ip.get(h).map_or("", String::as_str)
            ));
        }
        for (i, u) in p.users.iter().enumerate() {
            let privileged = i % 25 == 0;
            s.push_str(&format!(
                "identity,,,,,,,,,{nb}\\{u},{d},{privileged},{u}@{dom},{t}\n",
                nb = p.netbios,
                d = depts[i % depts.len()],
                dom = p.domain,
                t = if privileged { "administrator" } else { "staff" }
            ));
        }
        s
    }

    fn sizes(&self) -> BTreeMap<String, usize> {
        BTreeMap::from([
            ("hosts".to_owned(), self.def.hosts),
            ("servers".to_owned(), self.def.servers),
            ("dcs".to_owned(), self.def.dcs),
            ("users".to_owned(), self.def.users),
            ("cloud_principals".to_owned(), self.def.cloud_principals),
        ])
    }
}

fn event_time(v: &Value) -> Option<i64> {
    v.get("time").and_then(Value::as_i64)
}

fn device_short(v: &Value) -> Option<String> {
    v.pointer("/device/hostname")
        .or_else(|| v.pointer("/device/name"))
        .and_then(Value::as_str)
        .and_then(entities::normalize_host)
        .map(|(s, _)| s)
}

/// Normalizes one capture into OCSF events; counts what could not be decoded or mapped.
fn normalize_capture(
    engine: &Engine,
    path: &Path,
    benign_only: bool,
    quarantined: &mut u64,
) -> Result<Vec<Value>> {
    let mut events = Vec::new();
    let mut q = 0u64;
    let mut sink = |item: DecodeItem| match item {
        DecodeItem::Record(rec) => {
            if benign_only && !is_benign_panther(&rec) {
                return;
            }
            match engine.normalize(rec) {
                Ok(n) => {
                    if event_time(&n.event).is_some() {
                        events.push(n.event);
                    } else {
                        q += 1;
                    }
                }
                Err(_) => q += 1,
            }
        }
        DecodeItem::Quarantined(_) => q += 1,
    };
    decode_path(path, &DecodeOptions::default(), &mut sink)
        .with_context(|| format!("reading {}", path.display()))?;
    *quarantined += q;
    // Stable sort: ties keep file order.
    events.sort_by_key(|v| event_time(v).unwrap_or(0));
    Ok(events)
}

/// A Panther rule test whose rule is expected not to fire (`expected_result: false`).
fn is_benign_panther(rec: &shrike_normalize::RawRecord) -> bool {
    if let Some(b) = rec
        .fields
        .get("_envelope")
        .and_then(|e| e.get("expected_result"))
        .and_then(Value::as_bool)
    {
        return !b;
    }
    serde_json::from_slice::<Value>(&rec.raw)
        .ok()
        .and_then(|v| v.get("expected_result").and_then(Value::as_bool))
        .is_some_and(|b| !b)
}

/// Techniques from a Mordor metadata YAML (`attack_mappings`: `technique`, `sub-technique`).
/// A line scanner: the metadata files are regular and the binary has no YAML parser.
pub fn metadata_techniques(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_block = false;
    let mut cur: Option<String> = None;
    for line in text.lines() {
        let t = line.trim();
        if !line.starts_with(' ') && !line.starts_with('-') && !t.is_empty() {
            in_block = t.starts_with("attack_mappings:");
            continue;
        }
        if !in_block {
            continue;
        }
        let t = t.trim_start_matches("- ").trim();
        if let Some(v) = t.strip_prefix("technique:") {
            if let Some(c) = cur.take() {
                out.push(c);
            }
            let v = v.trim().trim_matches('"').trim_matches('\'');
            if v.starts_with('T') {
                cur = Some(v.to_owned());
            }
        } else if let Some(v) = t.strip_prefix("sub-technique:") {
            let v = v.trim().trim_matches('"').trim_matches('\'');
            if let Some(c) = cur.as_mut() {
                if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                    c.push('.');
                    c.push_str(v);
                }
            }
        }
    }
    if let Some(c) = cur {
        out.push(c);
    }
    out.sort();
    out.dedup();
    out
}

fn word_in(text_lower: &str, word_lower: &str) -> bool {
    let b = text_lower.as_bytes();
    let mut from = 0;
    while let Some(p) = text_lower.get(from..).and_then(|s| s.find(word_lower)) {
        let s = from + p;
        let e = s + word_lower.len();
        let before = s == 0 || !b[s - 1].is_ascii_alphanumeric();
        let after = e >= b.len() || !b[e].is_ascii_alphanumeric();
        if before && after {
            return true;
        }
        from = s + 1;
    }
    false
}

/// Runs a build.
pub fn build(opts: &BuildOptions, quiet: bool) -> Result<(Manifest, Truth)> {
    let def = load_definition(&opts.definition)?;
    let seed = opts.seed.unwrap_or(def.seed);
    if opts.scale.is_nan() || opts.scale <= 0.0 {
        bail!("--scale must be positive");
    }
    let engine = Engine::embedded().context("loading the bundled mappings")?;
    let estate = Estate::new(&def.estate);
    let mut manifest = Manifest {
        scenario: def.name.clone(),
        seed,
        scale: opts.scale,
        estate: estate.sizes(),
        ..Manifest::default()
    };
    let lab_dns = def.lab.domains.clone();
    let markers: Vec<String> = def
        .lab
        .attack_markers
        .iter()
        .map(|m| m.to_ascii_lowercase())
        .collect();
    let new_originals = || {
        let mut o = Originals::default();
        o.add_lab_domains(&def.lab.domains, &def.lab.netbios);
        o
    };

    // Templates.
    let mut templates: Vec<Template> = Vec::new();
    for c in &def.background.windows {
        let path = opts.data.join(&c.path);
        let events = normalize_capture(&engine, &path, false, &mut manifest.quarantined)?;
        let meta_text = match &c.metadata {
            Some(m) => std::fs::read_to_string(opts.data.join(m))
                .with_context(|| format!("reading {m}"))?
                .to_ascii_lowercase(),
            None => String::new(),
        };
        let mut orig = new_originals();
        let mut by_host: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for ev in events {
            orig.collect(&ev, &lab_dns);
            if let Some(h) = device_short(&ev) {
                by_host.entry(h).or_default().push(ev);
            }
        }
        let orig = Rc::new(orig);
        let mut excluded = BTreeMap::new();
        let single = by_host.len() < 2;
        for (host, evs) in by_host {
            let reason = if single {
                Some("single-host capture: its host carried the attack".to_owned())
            } else if c.metadata.is_none() {
                Some("no metadata: cannot tell attack hosts".to_owned())
            } else if word_in(&meta_text, &host) {
                Some("named in the capture metadata".to_owned())
            } else if c
                .exclude_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&host))
            {
                Some("excluded by the definition".to_owned())
            } else {
                let mut found = None;
                let mut buf = String::new();
                'ev: for ev in &evs {
                    buf.clear();
                    buf.push_str(&ev.to_string().to_ascii_lowercase());
                    for m in &markers {
                        if buf.contains(m.as_str()) {
                            found = Some(format!("attack marker {m:?} in its events"));
                            break 'ev;
                        }
                    }
                }
                found
            };
            if let Some(r) = reason {
                excluded.insert(host, r);
                continue;
            }
            let times = evs.iter().map(|v| event_time(v).unwrap_or(0)).collect();
            templates.push(Template {
                name: format!("{}#{host}", c.path),
                dom: Dom::Windows,
                events: evs,
                times,
                originals: Rc::clone(&orig),
            });
        }
        manifest.excluded_hosts.insert(c.path.clone(), excluded);
    }
    for (dom, list) in [
        (Dom::Network, &def.background.network),
        (Dom::Cloud, &def.background.cloud),
    ] {
        for c in list {
            let path = opts.data.join(&c.path);
            let events =
                normalize_capture(&engine, &path, c.benign_only, &mut manifest.quarantined)?;
            if events.is_empty() {
                continue;
            }
            let mut orig = new_originals();
            for ev in &events {
                orig.collect(ev, &lab_dns);
            }
            let times = events.iter().map(|v| event_time(v).unwrap_or(0)).collect();
            templates.push(Template {
                name: c.path.clone(),
                dom,
                events,
                times,
                originals: Rc::new(orig),
            });
        }
    }
    for t in &templates {
        manifest.templates.insert(t.name.clone(), t.events.len());
    }
    let n_background_templates = templates.len();

    // Attack templates and story roles.
    let mut story_rng = Rng::new(seed, 0x00A7_7AC4);
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut roles: BTreeMap<(String, String), String> = BTreeMap::new();
    let pick = |pool: &[String], rng: &mut Rng, taken: &mut BTreeSet<String>| -> String {
        for _ in 0..1000 {
            if let Some(c) = pool.get(rng.below(pool.len())) {
                if taken.insert(c.clone()) {
                    return c.clone();
                }
            }
        }
        pool.first().cloned().unwrap_or_default()
    };
    let mut attack_templates: Vec<(usize, Vec<String>)> = Vec::new();
    for a in &def.attack {
        let path = opts.data.join(&a.capture);
        let mut events = normalize_capture(&engine, &path, false, &mut manifest.quarantined)?;
        if a.domain == "windows" {
            let keep: BTreeSet<String> = a.hosts.keys().map(|h| h.to_ascii_lowercase()).collect();
            events.retain(|ev| device_short(ev).is_some_and(|h| keep.contains(&h)));
        }
        if events.is_empty() {
            bail!("attack {}: no events kept from {}", a.id, a.capture);
        }
        let mut orig = new_originals();
        for ev in &events {
            orig.collect(ev, &lab_dns);
        }
        let mut techniques = a.techniques.clone();
        if let Some(m) = &a.metadata {
            let text = std::fs::read_to_string(opts.data.join(m))
                .with_context(|| format!("reading {m}"))?;
            techniques.extend(metadata_techniques(&text));
        }
        techniques.sort();
        techniques.dedup();
        // Resolve the story's roles to estate entities (first use of a role picks it).
        for role in a.hosts.values().chain(a.ips.values()) {
            let k = (a.story.clone(), format!("host:{role}"));
            if let std::collections::btree_map::Entry::Vacant(slot) = roles.entry(k) {
                let pool = if role.starts_with("dc") {
                    &estate.pools.dcs
                } else if role.starts_with("srv") {
                    &estate.pools.servers
                } else {
                    &estate.pools.workstations
                };
                slot.insert(pick(pool, &mut story_rng, &mut taken));
            }
        }
        for role in a.users.values() {
            let k = (a.story.clone(), format!("user:{role}"));
            if let std::collections::btree_map::Entry::Vacant(slot) = roles.entry(k) {
                slot.insert(pick(&estate.pools.users, &mut story_rng, &mut taken));
            }
        }
        for role in a.principals.values() {
            let k = (a.story.clone(), format!("principal:{role}"));
            if let std::collections::btree_map::Entry::Vacant(slot) = roles.entry(k) {
                slot.insert(pick(&estate.pools.principals, &mut story_rng, &mut taken));
            }
        }
        let times = events.iter().map(|v| event_time(v).unwrap_or(0)).collect();
        templates.push(Template {
            name: a.capture.clone(),
            dom: match a.domain.as_str() {
                "network" => Dom::Network,
                "cloud" => Dom::Cloud,
                _ => Dom::Windows,
            },
            events,
            times,
            originals: Rc::new(orig),
        });
        attack_templates.push((templates.len() - 1, techniques));
    }

    // Plans: background chunks.
    let span_ms = (def.days * 86_400_000.0) as i64;
    let mut plan_rng = Rng::new(seed, 0xB4C6);
    let mut plans: Vec<Plan> = Vec::new();
    let total_bg = (def.background_events as f64 * opts.scale).round() as u64;
    let shares = [
        (Dom::Windows, def.background.windows_share),
        (Dom::Network, def.background.network_share),
        (Dom::Cloud, def.background.cloud_share),
    ];
    let share_sum: f64 = shares.iter().map(|(_, s)| s.max(0.0)).sum();
    for (dom, share) in shares {
        let pool: Vec<usize> = (0..n_background_templates)
            .filter(|&i| templates[i].dom == dom)
            .collect();
        if pool.is_empty() || share <= 0.0 || share_sum <= 0.0 {
            continue;
        }
        let budget = (total_bg as f64 * share / share_sum).round() as u64;
        let mut emitted = 0u64;
        while emitted < budget {
            let ti = pool[plan_rng.below(pool.len())];
            let t = &templates[ti];
            let want = (def.background.chunk_events as u64).min(budget - emitted) as usize;
            let len = want.min(t.events.len()).max(1);
            let start = plan_rng.below(t.events.len() - len + 1);
            let span = t.times[start + len - 1] - t.times[start];
            let base_ms = def.start_ms + (plan_rng.unit() * span_ms as f64) as i64;
            let stream = plans.len() as u64 + 1;
            plans.push(Plan {
                template: ti,
                start,
                len,
                base_ms,
                retime: !(0..=6 * 3_600_000).contains(&span),
                inst: Instance::new(Rng::new(seed, stream)),
                attack: None,
            });
            emitted += len as u64;
        }
    }
    // Plans: attacks.
    for (ai, (a, (ti, _))) in def.attack.iter().zip(&attack_templates).enumerate() {
        let mut inst = Instance::new(Rng::new(seed, 0xA000_0000 + ai as u64));
        for (lab, role) in &a.hosts {
            if let Some(v) = roles.get(&(a.story.clone(), format!("host:{role}"))) {
                inst.fix("host", lab, v);
            }
        }
        for (lab, role) in &a.users {
            if let Some(v) = roles.get(&(a.story.clone(), format!("user:{role}"))) {
                inst.fix("user", lab, v);
            }
        }
        for (lab, role) in &a.ips {
            if let Some(h) = roles.get(&(a.story.clone(), format!("host:{role}"))) {
                if let Some(ip) = estate.pools.host_ip.get(h) {
                    inst.fix("ip", lab, ip);
                }
            }
        }
        for (lab, role) in &a.principals {
            if let Some(v) = roles.get(&(a.story.clone(), format!("principal:{role}"))) {
                inst.fix("principal", lab, v);
            }
        }
        let t = &templates[*ti];
        let span = t.times.last().copied().unwrap_or(0) - t.times.first().copied().unwrap_or(0);
        plans.push(Plan {
            template: *ti,
            start: 0,
            len: t.events.len(),
            base_ms: def.start_ms + (a.at_hours * 3_600_000.0) as i64,
            retime: !(0..=6 * 3_600_000).contains(&span),
            inst,
            attack: Some(ai),
        });
    }
    manifest.instances = plans.len();

    // Story entities per attack, by kind, for the truth.
    let mut story_keys: Vec<BTreeSet<(String, String)>> = Vec::new();
    for a in &def.attack {
        let mut s = BTreeSet::new();
        for ((story, rk), v) in &roles {
            if story != &a.story {
                continue;
            }
            if let Some(kind) = rk.split(':').next() {
                match kind {
                    "host" => {
                        s.insert(("host".to_owned(), v.clone()));
                        if let Some(ip) = estate.pools.host_ip.get(v) {
                            s.insert(("ip".to_owned(), ip.clone()));
                        }
                    }
                    "user" => {
                        s.insert(("user_name".to_owned(), v.clone()));
                    }
                    "principal" => {
                        s.insert(("principal_name".to_owned(), v.clone()));
                    }
                    _ => {}
                }
            }
        }
        story_keys.push(s);
    }

    // Emit.
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("creating {}", opts.out.display()))?;
    let events_path = opts.out.join("events.ndjson");
    let mut w = BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(&events_path)
            .with_context(|| format!("creating {}", events_path.display()))?,
    );
    let out_time = |p: &Plan, templates: &[Template], pos: usize| -> i64 {
        if p.retime {
            p.base_ms + pos as i64 * 20_000
        } else {
            let t = &templates[p.template];
            p.base_ms + (t.times[p.start + pos] - t.times[p.start])
        }
    };
    let mut heap: BinaryHeap<Reverse<(i64, usize, usize)>> = BinaryHeap::new();
    for (pi, p) in plans.iter().enumerate() {
        if p.len > 0 {
            heap.push(Reverse((out_time(p, &templates, 0), pi, 0)));
        }
    }
    let mut uid_rng = Rng::new(seed, 0x0D1D);
    let mut attacked: BTreeMap<(String, String), TruthEntity> = BTreeMap::new();
    let mut incidental: BTreeMap<(String, String), TruthEntity> = BTreeMap::new();
    let mut attack_stats: Vec<(u64, i64, i64)> = vec![(0, i64::MAX, i64::MIN); def.attack.len()];
    let mut line = Vec::with_capacity(1 << 14);
    let mut first_ms = i64::MAX;
    let mut last_ms = i64::MIN;
    let progress_every = 100_000u64;
    while let Some(Reverse((t_out, pi, pos))) = heap.pop() {
        let (tmpl_idx, idx, attack) = {
            let p = &plans[pi];
            (p.template, p.start + pos, p.attack)
        };
        let t = &templates[tmpl_idx];
        let mut ev = t.events[idx].clone();
        let delta = t_out - t.times[idx];
        {
            let p = &mut plans[pi];
            remap_value(&mut ev, &t.originals, &mut p.inst, &estate.pools);
        }
        shift_times(&mut ev, delta);
        let uid = format!("{:016x}{:016x}", uid_rng.next_u64(), uid_rng.next_u64());
        if let Some(m) = ev.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("uid".to_owned(), Value::String(uid));
        }
        let class = ev.get("class_uid").and_then(Value::as_u64).unwrap_or(0) as u32;
        *manifest.by_class.entry(class).or_default() += 1;
        let src = format!(
            "{}/{}",
            if attack.is_some() {
                "attack"
            } else {
                "background"
            },
            t.dom.as_str()
        );
        *manifest.by_source.entry(src).or_default() += 1;
        if let Some(ai) = attack {
            let a = &def.attack[ai];
            let st = &mut attack_stats[ai];
            st.0 += 1;
            st.1 = st.1.min(t_out);
            st.2 = st.2.max(t_out);
            let techniques = &attack_templates[ai].1;
            for e in entities::entities(&ev) {
                let kind = match e.kind {
                    EntityKind::Host => "host",
                    EntityKind::User => "user",
                    EntityKind::Ip => "ip",
                    EntityKind::CloudPrincipal => "cloud_principal",
                    _ => continue,
                };
                let name_part = match e.kind {
                    EntityKind::User => e.key.split('@').next().unwrap_or(""),
                    EntityKind::CloudPrincipal => e.key.rsplit('/').next().unwrap_or(""),
                    _ => e.key.as_str(),
                };
                let sk = &story_keys[ai];
                let is_story = match e.kind {
                    EntityKind::Host => sk.contains(&("host".to_owned(), e.key.clone())),
                    EntityKind::Ip => sk.contains(&("ip".to_owned(), e.key.clone())),
                    EntityKind::User => {
                        sk.contains(&("user_name".to_owned(), name_part.to_owned()))
                    }
                    EntityKind::CloudPrincipal => {
                        sk.contains(&("principal_name".to_owned(), name_part.to_owned()))
                    }
                    _ => false,
                };
                // Only estate identities count (public IPs of C2 servers are not entities of the estate).
                let is_estate = match e.kind {
                    EntityKind::Ip => super::remap::is_private_v4(&e.key),
                    _ => true,
                };
                if !is_estate {
                    continue;
                }
                let target = if is_story {
                    &mut attacked
                } else {
                    &mut incidental
                };
                let te = target
                    .entry((kind.to_owned(), e.key.clone()))
                    .or_insert_with(|| TruthEntity {
                        kind: kind.to_owned(),
                        key: e.key.clone(),
                        stories: Vec::new(),
                        captures: Vec::new(),
                        techniques: Vec::new(),
                        first_ms: t_out,
                        last_ms: t_out,
                        events: 0,
                    });
                te.events += 1;
                te.first_ms = te.first_ms.min(t_out);
                te.last_ms = te.last_ms.max(t_out);
                if !te.stories.contains(&a.story) {
                    te.stories.push(a.story.clone());
                }
                if !te.captures.contains(&a.capture) {
                    te.captures.push(a.capture.clone());
                }
                for tq in techniques {
                    if !te.techniques.contains(tq) {
                        te.techniques.push(tq.clone());
                    }
                }
            }
        }
        first_ms = first_ms.min(t_out);
        last_ms = last_ms.max(t_out);
        line.clear();
        serde_json::to_writer(&mut line, &ev)?;
        line.push(b'\n');
        w.write_all(&line).context("writing events")?;
        manifest.events += 1;
        if !quiet && manifest.events.is_multiple_of(progress_every) {
            eprintln!("scenario: {} events written", manifest.events);
        }
        let next = pos + 1;
        if next < plans[pi].len {
            heap.push(Reverse((out_time(&plans[pi], &templates, next), pi, next)));
        }
    }
    w.flush().context("writing events")?;
    manifest.start_ms = if first_ms == i64::MAX { 0 } else { first_ms };
    manifest.end_ms = if last_ms == i64::MIN { 0 } else { last_ms };

    // Truth.
    for k in attacked.keys() {
        incidental.remove(k);
    }
    let mut truth = Truth {
        version: 1,
        scenario: def.name.clone(),
        seed,
        attacked: attacked.into_values().collect(),
        incidental: incidental.into_values().collect(),
        attacks: Vec::new(),
    };
    for te in truth.attacked.iter_mut().chain(truth.incidental.iter_mut()) {
        te.stories.sort();
        te.captures.sort();
        te.techniques.sort();
    }
    for (ai, a) in def.attack.iter().enumerate() {
        let (n, f, l) = attack_stats[ai];
        let r: BTreeMap<String, String> = roles
            .iter()
            .filter(|((s, _), _)| s == &a.story)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect();
        truth.attacks.push(TruthAttack {
            id: a.id.clone(),
            story: a.story.clone(),
            capture: a.capture.clone(),
            techniques: attack_templates[ai].1.clone(),
            events: n,
            first_ms: if n == 0 { 0 } else { f },
            last_ms: if n == 0 { 0 } else { l },
            roles: r,
        });
    }
    write_json(&opts.out.join("truth.json"), &truth)?;
    write_json(&opts.out.join("manifest.json"), &manifest)?;
    let assets = opts.out.join("assets.csv");
    std::fs::write(&assets, estate.assets_csv())
        .with_context(|| format!("writing {}", assets.display()))?;
    Ok((manifest, truth))
}

fn write_json(path: &Path, v: &impl Serialize) -> Result<()> {
    let mut s = serde_json::to_string_pretty(v)?;
    s.push('\n');
    std::fs::write(path, s).with_context(|| format!("writing {}", path.display()))
}

/// Earliest epoch-ms value treated as a timestamp (1973): smaller numbers are durations/counts.
const MIN_EPOCH_MS: i64 = 100_000_000_000;

/// Shifts `time` and every `*_time` integer field (epoch ms) by `delta`.
fn shift_times(v: &mut Value, delta: i64) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "time" || k.ends_with("_time") {
                    if let Some(t) = x.as_i64().filter(|t| *t >= MIN_EPOCH_MS) {
                        *x = Value::from(t.saturating_add(delta));
                        continue;
                    }
                }
                if k != "unmapped" {
                    shift_times(x, delta);
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                shift_times(x, delta);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn techniques_come_from_attack_mappings() {
        let y = "title: x\nattack_mappings:\n  - technique: T1003\n    sub-technique: \"001\"\n    tactics:\n      - TA0006\n  - technique: T1530\n    sub-technique:\n    tactics:\n      - TA0009\nnotebooks:\n  - technique: T9999\n";
        assert_eq!(metadata_techniques(y), vec!["T1003.001", "T1530"]);
    }

    #[test]
    fn times_shift_but_not_small_numbers() {
        let mut v = serde_json::json!({"time": 1_600_000_000_000i64, "process": {"created_time": 1_600_000_000_500i64, "pid": 4},
            "duration_time": 5, "unmapped": {"time": 1_600_000_000_000i64}});
        shift_times(&mut v, 1000);
        assert_eq!(v["time"], 1_600_000_001_000i64);
        assert_eq!(v["process"]["created_time"], 1_600_000_001_500i64);
        assert_eq!(v["duration_time"], 5);
        assert_eq!(v["unmapped"]["time"], 1_600_000_000_000i64);
    }
}

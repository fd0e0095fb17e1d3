//! OCSF `observables`, derived from an event through the schema's typed attributes.
//!
//! [`observables`] walks an event through the OCSF 1.8.0 table: the class by `class_uid`
//! (unknown or missing: `base_event`, so profile attributes such as `actor` and `device` still
//! count), nested objects by their attribute types, arrays element by element. Every string leaf
//! that has an observable id becomes one OCSF `observable` object
//! `{"name": "actor.process.cmd_line", "type": "Command Line", "type_id": 13, "value": "…"}`;
//! `name` is the dotted path without array indexes (`answers.rdata`, `email.to`).
//!
//! Which leaves count (precedence: object attribute, then dictionary attribute, then data type):
//! - data types: `hostname_t` 1, `ip_t` 2, `mac_t` 3, `username_t` 4, `email_t` 5, `url_t` 6,
//!   `file_name_t` 7, `file_hash_t` 8, `process_name_t` 9, `resource_uid_t` 10, `subnet_t` 12,
//!   `file_path_t` 45;
//! - dictionary attributes: `cmd_line` 13, `user_agent` 16, `credential_uid` 19,
//!   `message_uid` 42;
//! - object attributes: `cve.uid` 18, `user.uid` 31, `group.name` 32, `group.uid` 33,
//!   `account.name` 34, `account.uid` 35, `resource_details.name` 38, `process[_entity].uid`
//!   39, `email.subject` 40, `email.uid` 41, `device.uid` 47, `network_endpoint.uid` (and
//!   `network_proxy.uid`) 48;
//! - one content rule: `dns_answer.rdata` is `string_t`, but resolved addresses are what a SOC
//!   pivots on, so an `rdata` that parses as an IP address is an IP Address (2) and one that
//!   looks like a DNS name (CNAME/NS/PTR targets) a Hostname (1); other record data (TXT, MX
//!   with preference, …) is not an observable.
//!
//! Left out on purpose: `port_t` (11; ports join unrelated activity and would flood the list),
//! `pid` (15; meaningless without host and start time), `country` (14), `script_content` (36;
//! whole scripts), `serial_number` (37), `cwe.uid` (17) and `advisory.uid` (44) (classes of
//! weakness and KB numbers, not indicators), whole-object observables (`endpoint` 20, `user` 21,
//! …; the leaves inside them are listed instead). Never walked: `unmapped`, `raw_data`,
//! `observables`, `metadata`, `enrichments`, free-form (`object`) and `json_t` attributes.
//! From the Windows extension: `reg_key_path_t` 46 (`reg_key.path`, `reg_value.path`) and
//! `reg_value.name` 43; the whole-object ids `reg_key` 28 and `reg_value` 29 are not emitted
//! (their leaves are).
//!
//! Output: deduplicated on (name, type_id, value), in the event's key order, at most
//! [`MAX_OBSERVABLES`]; non-string, blank and `-` (the logs' "absent") values are skipped (values are copied verbatim,
//! not normalised: that is [`crate::entities`]' job). Every emitted `type_id` is in the table's
//! `observable.type_id` enum (tested), so the result validates as the event's `observables`.
//!
//! Cost: [`ObservableIndex`] is built once from the table and keeps, per class and per object,
//! only the attributes that are observables or lead to an object that can contain one; the walk
//! looks each event key up in that (unknown and unproductive branches are never entered), keeps
//! the current path as borrowed segments and formats a dotted name only when it emits. No input
//! panics: branches nested deeper than [`shrike_ocsf::MAX_DEPTH`] objects are not followed.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::sync::OnceLock;

use serde_json::{Map, Value};
use shrike_ocsf::{Schema, Table, MAX_DEPTH};

/// Most observables emitted for one event; the walk stops once this many are found.
pub const MAX_OBSERVABLES: usize = 256;

/// Data type → observable `type_id` (OCSF 1.8.0 `dictionary.json` types), minus `port_t` (11).
const TYPE_OBSERVABLES: &[(&str, u8)] = &[
    ("hostname_t", 1),
    ("ip_t", 2),
    ("mac_t", 3),
    ("username_t", 4),
    ("email_t", 5),
    ("url_t", 6),
    ("file_name_t", 7),
    ("file_hash_t", 8),
    ("process_name_t", 9),
    ("resource_uid_t", 10),
    ("subnet_t", 12),
    ("file_path_t", 45),
    ("reg_key_path_t", 46),
];

/// Dictionary attributes with their own observable id, wherever they appear.
const ATTRIBUTE_OBSERVABLES: &[(&str, u8)] = &[
    ("cmd_line", 13),
    ("user_agent", 16),
    ("credential_uid", 19),
    ("message_uid", 42),
];

/// `(object, attribute, type_id)` from `objects/*.json`; objects that inherit the attribute
/// (`process` from `process_entity`, `network_proxy` from `network_endpoint`) are listed too,
/// because the compiled table does not record `extends`.
const OBJECT_ATTRIBUTE_OBSERVABLES: &[(&str, &str, u8)] = &[
    ("cve", "uid", 18),
    ("user", "uid", 31),
    ("group", "name", 32),
    ("group", "uid", 33),
    ("account", "name", 34),
    ("account", "uid", 35),
    ("resource_details", "name", 38),
    ("process_entity", "uid", 39),
    ("process", "uid", 39),
    ("email", "subject", 40),
    ("email", "uid", 41),
    ("device", "uid", 47),
    ("network_endpoint", "uid", 48),
    ("network_proxy", "uid", 48),
    ("reg_value", "name", 43),
];

/// Attributes never walked, at any level.
const SKIPPED: &[&str] = &[
    "unmapped",
    "raw_data",
    "observables",
    "metadata",
    "enrichments",
];

const TYPE_ID_IP: u8 = 2;
const TYPE_ID_HOSTNAME: u8 = 1;

/// Every observable `type_id` this module can emit.
pub const EMITTED_TYPE_IDS: &[u8] = &[
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 16, 18, 19, 31, 32, 33, 34, 35, 38, 39, 40, 41, 42, 43,
    45, 46, 47, 48,
];

/// The OCSF caption of an observable `type_id` (written as the observable's `type`).
pub fn type_caption(type_id: u8) -> &'static str {
    match type_id {
        1 => "Hostname",
        2 => "IP Address",
        3 => "MAC Address",
        4 => "User Name",
        5 => "Email Address",
        6 => "URL String",
        7 => "File Name",
        8 => "Hash",
        9 => "Process Name",
        10 => "Resource UID",
        12 => "Subnet",
        13 => "Command Line",
        16 => "HTTP User-Agent",
        18 => "CVE: uid",
        19 => "User Credential ID",
        31 => "User: uid",
        32 => "Group: name",
        33 => "Group: uid",
        34 => "Account: name",
        35 => "Account: uid",
        38 => "Resource Details: name",
        39 => "Process Entity: uid",
        40 => "Email: subject",
        41 => "Email: uid",
        42 => "Message UID",
        43 => "Registry Value: name",
        45 => "File Path",
        46 => "Registry Key Path",
        47 => "Device: uid",
        48 => "Network Endpoint: uid",
        _ => "Other",
    }
}

/// FNV-1a: attribute names are short and trusted-length keys of a table built once; SipHash's
/// DoS resistance buys nothing here and costs on every event key.
#[derive(Default, Clone, Copy)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// What to do with one attribute's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A string leaf with this observable `type_id`.
    Leaf(u8),
    /// `dns_answer.rdata`: IP address or host name, decided by the value.
    DnsRdata,
    /// An object (or array of objects) described by `nodes[i]`.
    Object(usize),
}

/// One class or object: the attributes worth looking at, nothing else.
#[derive(Debug, Default)]
struct Node {
    steps: FnvMap<Box<str>, Step>,
}

/// Per-class and per-object lookup of the attributes that are observables or can lead to one,
/// built once from the schema table. Build with [`ObservableIndex::new`] or share
/// [`ObservableIndex::embedded`].
#[derive(Debug)]
pub struct ObservableIndex {
    nodes: Vec<Node>,
    classes: FnvMap<u32, usize>,
    /// `base_event`, used for unknown or missing `class_uid`.
    fallback: Option<usize>,
}

impl ObservableIndex {
    /// Precomputes the walk for every class and object of `table`.
    pub fn new(table: &Table) -> Self {
        // Node ids: objects first (in table order), then classes.
        let object_ids: HashMap<&str, usize> = table
            .objects
            .keys()
            .enumerate()
            .map(|(i, name)| (name.as_str(), i))
            .collect();
        let n_objects = table.objects.len();
        let containers = table
            .objects
            .iter()
            .map(|(name, o)| (name.as_str(), &o.attributes))
            .chain(
                table
                    .classes
                    .values()
                    .map(|c| (c.name.as_str(), &c.attributes)),
            );

        // Raw steps: every leaf with an id and every object-typed attribute.
        let mut raw: Vec<Vec<(&str, Step)>> = Vec::with_capacity(n_objects + table.classes.len());
        for (container, attrs) in containers {
            let mut steps = Vec::new();
            for (attr_name, attr) in attrs {
                if SKIPPED.contains(&attr_name.as_str()) {
                    continue;
                }
                let ty = attr.type_name();
                let step = if let Some(&id) = object_ids.get(ty) {
                    Some(Step::Object(id))
                } else if container == "dns_answer" && attr_name == "rdata" {
                    Some(Step::DnsRdata)
                } else {
                    leaf_type_id(container, attr_name, ty).map(Step::Leaf)
                };
                if let Some(step) = step {
                    steps.push((attr_name.as_str(), step));
                }
            }
            raw.push(steps);
        }

        // Which objects can contain an observable at any depth: a fixpoint over the (cyclic)
        // object graph, e.g. `process.parent_process`.
        let mut productive = vec![false; n_objects];
        loop {
            let mut changed = false;
            for (i, steps) in raw.iter().enumerate().take(n_objects) {
                if productive[i] {
                    continue;
                }
                let yes = steps.iter().any(|(_, s)| match s {
                    Step::Leaf(_) | Step::DnsRdata => true,
                    Step::Object(o) => productive.get(*o).copied().unwrap_or(false),
                });
                if yes {
                    productive[i] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }

        let nodes = raw
            .into_iter()
            .map(|steps| Node {
                steps: steps
                    .into_iter()
                    .filter(|(_, s)| match s {
                        Step::Object(o) => productive.get(*o).copied().unwrap_or(false),
                        _ => true,
                    })
                    .map(|(k, s)| (Box::from(k), s))
                    .collect(),
            })
            .collect();
        let classes: FnvMap<u32, usize> = table
            .classes
            .keys()
            .enumerate()
            .map(|(i, uid)| (*uid, n_objects + i))
            .collect();
        let fallback = classes.get(&0).copied();
        ObservableIndex {
            nodes,
            classes,
            fallback,
        }
    }

    /// The index over the embedded OCSF 1.8.0 table, built on first use.
    pub fn embedded() -> &'static ObservableIndex {
        static INDEX: OnceLock<ObservableIndex> = OnceLock::new();
        INDEX.get_or_init(|| ObservableIndex::new(Schema::embedded().table()))
    }

    fn class_node(&self, event: &Map<String, Value>) -> Option<usize> {
        event
            .get("class_uid")
            .and_then(Value::as_u64)
            .and_then(|u| u32::try_from(u).ok())
            .and_then(|u| self.classes.get(&u).copied())
            .or(self.fallback)
    }
}

/// The observable id of a scalar attribute, by the precedence in the module doc.
fn leaf_type_id(container: &str, attr: &str, ty: &str) -> Option<u8> {
    OBJECT_ATTRIBUTE_OBSERVABLES
        .iter()
        .find(|(o, a, _)| *o == container && *a == attr)
        .map(|(_, _, id)| *id)
        .or_else(|| {
            ATTRIBUTE_OBSERVABLES
                .iter()
                .find(|(a, _)| *a == attr)
                .map(|(_, id)| *id)
        })
        .or_else(|| {
            TYPE_OBSERVABLES
                .iter()
                .find(|(t, _)| *t == ty)
                .map(|(_, id)| *id)
        })
}

/// The OCSF `observable` objects of `event` (see the module doc). Returns an empty list for
/// anything that is not a JSON object.
pub fn observables(event: &Value, index: &ObservableIndex) -> Vec<Value> {
    let Some(obj) = event.as_object() else {
        return Vec::new();
    };
    let Some(node) = index.class_node(obj) else {
        return Vec::new();
    };
    let mut walker = Walker {
        index,
        path: Vec::with_capacity(8),
        found: Vec::new(),
    };
    walker.object(obj, node, 0);
    walker
        .found
        .into_iter()
        .map(|f| {
            let mut m = Map::with_capacity(4);
            m.insert("name".to_owned(), Value::String(f.name));
            m.insert(
                "type".to_owned(),
                Value::String(type_caption(f.type_id).to_owned()),
            );
            m.insert("type_id".to_owned(), Value::from(f.type_id));
            m.insert("value".to_owned(), Value::String(f.value.to_owned()));
            Value::Object(m)
        })
        .collect()
}

struct Found<'a> {
    name: String,
    type_id: u8,
    value: &'a str,
}

struct Walker<'i, 'a> {
    index: &'i ObservableIndex,
    path: Vec<&'a str>,
    found: Vec<Found<'a>>,
}

impl<'a> Walker<'_, 'a> {
    fn object(&mut self, obj: &'a Map<String, Value>, node: usize, depth: usize) {
        let Some(node) = self.index.nodes.get(node) else {
            return;
        };
        if node.steps.is_empty() {
            return;
        }
        for (key, value) in obj {
            if self.found.len() >= MAX_OBSERVABLES {
                return;
            }
            let Some(&step) = node.steps.get(key.as_str()) else {
                continue;
            };
            self.path.push(key);
            match value {
                // Arrays element-wise; an array where the schema wants a scalar is read the
                // same way (lenient), but arrays of arrays are not OCSF and are skipped.
                Value::Array(items) => {
                    for item in items {
                        if self.found.len() >= MAX_OBSERVABLES {
                            break;
                        }
                        self.value(item, step, depth);
                    }
                }
                _ => self.value(value, step, depth),
            }
            self.path.pop();
        }
    }

    fn value(&mut self, value: &'a Value, step: Step, depth: usize) {
        match (step, value) {
            (Step::Leaf(id), Value::String(s)) => self.emit(id, s),
            (Step::DnsRdata, Value::String(s)) => {
                if let Some(id) = rdata_type_id(s) {
                    self.emit(id, s);
                }
            }
            (Step::Object(node), Value::Object(o)) if depth < MAX_DEPTH => {
                self.object(o, node, depth + 1);
            }
            _ => {}
        }
    }

    fn emit(&mut self, type_id: u8, value: &'a str) {
        // `-` is how Windows and Zeek logs spell "absent".
        let blank = value.trim().is_empty() || value == "-";
        if blank || self.found.len() >= MAX_OBSERVABLES {
            return;
        }
        let name = self.path.join(".");
        let dup = self
            .found
            .iter()
            .any(|f| f.type_id == type_id && f.value == value && f.name == name);
        if !dup {
            self.found.push(Found {
                name,
                type_id,
                value,
            });
        }
    }
}

/// IP Address for an `rdata` that parses as one, Hostname for a plausible DNS name, else none.
fn rdata_type_id(s: &str) -> Option<u8> {
    if s.parse::<IpAddr>().is_ok() {
        return Some(TYPE_ID_IP);
    }
    let name = s.strip_suffix('.').unwrap_or(s);
    let plausible = name.contains('.')
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        && name.bytes().any(|b| b.is_ascii_alphabetic());
    plausible.then_some(TYPE_ID_HOSTNAME)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Sorted: output order follows the event's key order (serde_json `preserve_order`).
    fn names(v: &[Value]) -> Vec<(String, u64, String)> {
        let mut out: Vec<_> = v
            .iter()
            .map(|o| {
                (
                    o["name"].as_str().unwrap_or_default().to_owned(),
                    o["type_id"].as_u64().unwrap_or_default(),
                    o["value"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn emitted_ids_cover_the_tables() {
        let ids = TYPE_OBSERVABLES
            .iter()
            .map(|(_, id)| *id)
            .chain(ATTRIBUTE_OBSERVABLES.iter().map(|(_, id)| *id))
            .chain(OBJECT_ATTRIBUTE_OBSERVABLES.iter().map(|(_, _, id)| *id))
            .chain([TYPE_ID_IP, TYPE_ID_HOSTNAME]);
        for id in ids {
            assert!(EMITTED_TYPE_IDS.contains(&id), "{id}");
        }
        for id in EMITTED_TYPE_IDS {
            assert_ne!(type_caption(*id), "Other", "{id}");
        }
    }

    #[test]
    fn precedence_object_attribute_over_type() {
        assert_eq!(leaf_type_id("user", "uid", "string_t"), Some(31));
        assert_eq!(leaf_type_id("user", "name", "username_t"), Some(4));
        assert_eq!(leaf_type_id("process", "cmd_line", "string_t"), Some(13));
        assert_eq!(leaf_type_id("network_endpoint", "port", "port_t"), None);
        assert_eq!(leaf_type_id("process", "pid", "integer_t"), None);
        assert_eq!(leaf_type_id("file", "path", "file_path_t"), Some(45));
    }

    #[test]
    fn rdata_classification() {
        assert_eq!(rdata_type_id("93.184.216.34"), Some(2));
        assert_eq!(rdata_type_id("2606:2800:220:1::248"), Some(2));
        assert_eq!(rdata_type_id("edge.example.net."), Some(1));
        assert_eq!(rdata_type_id("v=spf1 include:_spf.example.com ~all"), None);
        assert_eq!(rdata_type_id("10 mail.example.com"), None);
        assert_eq!(rdata_type_id("1.2.3"), None);
    }

    #[test]
    fn index_prunes_unproductive_objects() {
        let index = ObservableIndex::embedded();
        let Some(&class) = index.classes.get(&1007) else {
            panic!("process_activity in the table");
        };
        let steps = &index.nodes[class].steps;
        assert!(steps.contains_key("process"));
        assert!(steps.contains_key("device"));
        assert!(!steps.contains_key("metadata"));
        assert!(!steps.contains_key("unmapped"));
        assert!(!steps.contains_key("severity_id"));
        assert!(!steps.contains_key("time"));
    }

    #[test]
    fn walks_nested_arrays_and_dedups() {
        let ev = json!({
            "class_uid": 4003,
            "query": {"hostname": "example.com"},
            "answers": [{"rdata": "1.2.3.4"}, {"rdata": "1.2.3.4"}, {"rdata": "txt record"}],
            "src_endpoint": {"ip": "10.0.0.5", "port": 5353},
            "unmapped": {"ip": "9.9.9.9"},
        });
        let got = names(&observables(&ev, ObservableIndex::embedded()));
        assert_eq!(
            got,
            vec![
                ("answers.rdata".into(), 2, "1.2.3.4".into()),
                ("query.hostname".into(), 1, "example.com".into()),
                ("src_endpoint.ip".into(), 2, "10.0.0.5".into()),
            ]
        );
    }

    #[test]
    fn caps_at_max() {
        let ips: Vec<Value> = (0..1000)
            .map(|i| json!(format!("10.0.{}.{}", i / 256, i % 256)))
            .collect();
        let ev = json!({"class_uid": 4009, "email": {"x_originating_ip": ips}});
        assert_eq!(
            observables(&ev, ObservableIndex::embedded()).len(),
            MAX_OBSERVABLES
        );
    }

    #[test]
    fn unknown_class_falls_back_to_base_event() {
        let ev = json!({"class_uid": 201001, "device": {"hostname": "ws01", "ip": "10.1.1.1"}});
        let got = names(&observables(&ev, ObservableIndex::embedded()));
        assert_eq!(
            got,
            vec![
                ("device.hostname".into(), 1, "ws01".into()),
                ("device.ip".into(), 2, "10.1.1.1".into()),
            ]
        );
        assert!(observables(&json!([1, 2]), ObservableIndex::embedded()).is_empty());
    }
}

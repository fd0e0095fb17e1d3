//! Sigma logsources and field names on OCSF events: the bundled
//! `content/sigma/ocsf-fields.yaml`, compiled into [`FieldMap`], and the per-event value cache
//! ([`EventFields`]) that reads, formats and lowercases each field once per event.
//!
//! Invariant: a field resolves to a list of candidate extractors; the first one that yields a
//! value wins, so a Sigma field that the normalizer places differently per event id still reads
//! the right value.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// The bundled mapping.
pub const EMBEDDED_YAML: &str = include_str!("../../../../content/sigma/ocsf-fields.yaml");

#[derive(Debug, Deserialize)]
struct FileDoc {
    #[allow(dead_code)]
    version: u32,
    keywords: Vec<String>,
    logsources: Vec<LogsourceDoc>,
    fieldsets: BTreeMap<String, BTreeMap<String, SpecDoc>>,
}

#[derive(Debug, Deserialize)]
struct LogsourceDoc {
    sigma: SigmaLogsource,
    events: Vec<EventSelector>,
    #[serde(default)]
    fieldsets: Vec<String>,
    #[serde(default)]
    fields: BTreeMap<String, SpecDoc>,
    #[serde(default)]
    unmapped: Vec<String>,
    #[serde(default)]
    fallback_unmapped: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SpecDoc {
    One(String),
    Many(Vec<String>),
}

/// A Sigma `logsource` (the three keys that select telemetry).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SigmaLogsource {
    /// `windows`, `aws`.
    #[serde(default)]
    pub product: Option<String>,
    /// `process_creation`.
    #[serde(default)]
    pub category: Option<String>,
    /// `security`, `cloudtrail`.
    #[serde(default)]
    pub service: Option<String>,
}

impl SigmaLogsource {
    /// `product/category/service` with `-` for absent keys.
    pub fn label(&self) -> String {
        format!(
            "{}/{}/{}",
            self.product.as_deref().unwrap_or("-"),
            self.category.as_deref().unwrap_or("-"),
            self.service.as_deref().unwrap_or("-")
        )
    }
}

/// Which normalized events a logsource covers.
#[derive(Debug, Clone, Deserialize)]
pub struct EventSelector {
    /// `metadata.product.name` (case-insensitive).
    pub product: String,
    /// `metadata.log_name` (case-insensitive), any when absent.
    #[serde(default)]
    pub log_name: Option<String>,
    /// `metadata.event_code`, any when absent.
    #[serde(default)]
    pub event_code: Vec<String>,
    /// `activity_id`, any when absent.
    #[serde(default)]
    pub activity_id: Vec<i64>,
}

/// How one candidate value is read from an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Extractor {
    /// A dotted path; arrays along the way yield every element.
    Path(Vec<String>),
    /// `domain\name` of an OCSF user object path.
    User(Vec<String>),
    /// Integer as `0x…` hex.
    Hex(Vec<String>),
    /// Sysmon `Hashes` string from an OCSF hashes array.
    Hashes(Vec<String>),
    /// One hash (`algorithm_id`) of an OCSF hashes array.
    Hash(Vec<String>, u64),
    /// Registry object path.
    RegObject,
    /// Sysmon registry `Details`.
    RegDetails,
    /// Sysmon registry `EventType`.
    RegEvent,
    /// Pipe name with a leading backslash.
    Pipe(Vec<String>),
    /// Sysmon `Initiated` from `direction_id`.
    Initiated(Vec<String>),
}

fn split_path(p: &str) -> Vec<String> {
    p.split('.').map(str::to_string).collect()
}

fn parse_extractor(spec: &str) -> Result<Extractor, String> {
    let (func, path) = match spec.split_once(':') {
        Some((f, p)) => (Some(f), p),
        None => (None, spec),
    };
    let p = split_path(path);
    Ok(match func {
        None => Extractor::Path(p),
        Some("user") => Extractor::User(p),
        Some("hex") => Extractor::Hex(p),
        Some("hashes") => Extractor::Hashes(p),
        Some("md5") => Extractor::Hash(p, 1),
        Some("sha1") => Extractor::Hash(p, 2),
        Some("sha256") => Extractor::Hash(p, 3),
        Some("imphash") => Extractor::Hash(p, 18),
        Some("regobj") => Extractor::RegObject,
        Some("regdetails") => Extractor::RegDetails,
        Some("regevent") => Extractor::RegEvent,
        Some("pipe") => Extractor::Pipe(p),
        Some("initiated") => Extractor::Initiated(p),
        Some(other) => return Err(format!("unknown field function {other}")),
    })
}

/// A Sigma field's candidates, in order.
pub type FieldSpec = Vec<Extractor>;

/// One supported logsource.
#[derive(Debug)]
pub struct Logsource {
    /// The Sigma logsource it serves.
    pub sigma: SigmaLogsource,
    /// The events it covers.
    pub events: Vec<EventSelector>,
    fields: BTreeMap<String, FieldSpec>,
    unmapped: Vec<String>,
    fallback_unmapped: bool,
}

impl Logsource {
    /// The candidates of a Sigma field, or `None` when the field cannot be placed.
    pub fn resolve(&self, field: &str) -> Option<FieldSpec> {
        if let Some(s) = self.fields.get(field) {
            return Some(s.clone());
        }
        if let Some((_, s)) = self
            .fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(field))
        {
            return Some(s.clone());
        }
        if field.is_empty() || field.split('.').any(str::is_empty) {
            return None;
        }
        if self.fallback_unmapped || self.unmapped.iter().any(|u| u == field) {
            let mut spec = vec![Extractor::Path(split_path(&format!("unmapped.{field}")))];
            if let Some(rest) = field.strip_prefix("responseElements.") {
                spec.push(Extractor::Path(split_path(&format!(
                    "api.response.data.{rest}"
                ))));
            }
            return Some(spec);
        }
        None
    }

    /// Whether the event is one this logsource covers.
    pub fn covers(&self, key: &EventKey<'_>) -> bool {
        self.events.iter().any(|s| {
            s.product.eq_ignore_ascii_case(key.product)
                && s.log_name
                    .as_deref()
                    .is_none_or(|l| l.eq_ignore_ascii_case(key.log_name))
                && (s.event_code.is_empty() || s.event_code.iter().any(|c| c == key.event_code))
                && (s.activity_id.is_empty() || s.activity_id.contains(&key.activity_id))
        })
    }
}

/// The parts of an event that select logsources.
#[derive(Debug, Clone, Copy)]
pub struct EventKey<'a> {
    /// `metadata.product.name`.
    pub product: &'a str,
    /// `metadata.log_name`.
    pub log_name: &'a str,
    /// `metadata.event_code`.
    pub event_code: &'a str,
    /// `activity_id`.
    pub activity_id: i64,
}

impl<'a> EventKey<'a> {
    /// Reads the key of an event (empty strings when absent).
    pub fn of(event: &'a Value) -> EventKey<'a> {
        let md = event.get("metadata");
        let s = |v: Option<&'a Value>| v.and_then(Value::as_str).unwrap_or("");
        EventKey {
            product: s(md
                .and_then(|m| m.get("product"))
                .and_then(|p| p.get("name"))),
            log_name: s(md.and_then(|m| m.get("log_name"))),
            event_code: s(md.and_then(|m| m.get("event_code"))),
            activity_id: event
                .get("activity_id")
                .and_then(Value::as_i64)
                .unwrap_or(-1),
        }
    }
}

/// All supported logsources.
#[derive(Debug)]
pub struct FieldMap {
    /// Logsources in file order.
    pub logsources: Vec<Logsource>,
    /// Keyword search paths.
    pub keywords: FieldSpec,
}

impl FieldMap {
    /// The bundled mapping.
    pub fn embedded() -> Result<FieldMap, String> {
        FieldMap::parse(EMBEDDED_YAML)
    }

    /// Parses a mapping document.
    pub fn parse(text: &str) -> Result<FieldMap, String> {
        let doc: FileDoc = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        let to_spec = |s: &SpecDoc| -> Result<FieldSpec, String> {
            match s {
                SpecDoc::One(x) => Ok(vec![parse_extractor(x)?]),
                SpecDoc::Many(xs) => xs.iter().map(|x| parse_extractor(x)).collect(),
            }
        };
        let mut logsources = Vec::new();
        for ls in doc.logsources {
            let mut fields = BTreeMap::new();
            for set in &ls.fieldsets {
                let fs = doc
                    .fieldsets
                    .get(set)
                    .ok_or_else(|| format!("unknown fieldset {set}"))?;
                for (k, v) in fs {
                    fields.insert(k.clone(), to_spec(v)?);
                }
            }
            for (k, v) in &ls.fields {
                fields.insert(k.clone(), to_spec(v)?);
            }
            logsources.push(Logsource {
                sigma: ls.sigma,
                events: ls.events,
                fields,
                unmapped: ls.unmapped,
                fallback_unmapped: ls.fallback_unmapped,
            });
        }
        let keywords = doc
            .keywords
            .iter()
            .map(|k| Extractor::Path(split_path(k)))
            .collect();
        Ok(FieldMap {
            logsources,
            keywords,
        })
    }

    /// The logsource serving a rule's logsource, by exact product/category/service.
    pub fn find(&self, ls: &SigmaLogsource) -> Option<usize> {
        let norm = |s: &Option<String>| s.as_deref().map(str::to_ascii_lowercase);
        self.logsources.iter().position(|l| {
            norm(&l.sigma.product) == norm(&ls.product)
                && norm(&l.sigma.category) == norm(&ls.category)
                && norm(&l.sigma.service) == norm(&ls.service)
        })
    }
}

/// One value of a field in one event: as written and lowercased. Strings of the event are
/// borrowed, not copied (PowerShell payloads run to tens of kilobytes), and the lowercased copy
/// exists only when lowercasing changes something.
#[derive(Debug, Clone)]
pub struct FieldValue<'e> {
    /// As in the event (numbers and booleans rendered).
    pub raw: Cow<'e, str>,
    /// Lowercased (Unicode) when it differs from `raw`.
    lowered: Option<String>,
}

impl<'e> FieldValue<'e> {
    /// A value, lowercased once here.
    pub fn new(raw: Cow<'e, str>) -> FieldValue<'e> {
        let lowered = if raw.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
            let l = raw.to_lowercase();
            (l != *raw).then_some(l)
        } else {
            None
        };
        FieldValue { raw, lowered }
    }

    /// The value lowercased (Unicode).
    pub fn lower(&self) -> &str {
        self.lowered.as_deref().unwrap_or(&self.raw)
    }
}

/// The values of one field in one event (empty: absent or null).
#[derive(Debug, Clone, Default)]
pub struct Values<'e> {
    /// The values (several when the path crosses an array).
    pub vals: Vec<FieldValue<'e>>,
}

fn walk<'a>(v: &'a Value, path: &[String], out: &mut Vec<&'a Value>) {
    match path.split_first() {
        None => match v {
            Value::Array(items) => out.extend(items.iter().filter(|i| !i.is_array())),
            _ => out.push(v),
        },
        Some((head, rest)) => match v {
            Value::Object(m) => {
                if let Some(next) = m.get(head.as_str()) {
                    walk(next, rest, out);
                }
            }
            Value::Array(items) => {
                for i in items {
                    if let Value::Object(m) = i {
                        if let Some(next) = m.get(head.as_str()) {
                            walk(next, rest, out);
                        }
                    }
                }
            }
            _ => {}
        },
    }
}

fn get<'a>(event: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut v = event;
    for p in path {
        v = v.get(p.as_str())?;
    }
    Some(v)
}

fn scalar_string(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        // Objects (e.g. CloudTrail responseElements) are matched as their JSON text.
        other => Some(Cow::Owned(other.to_string())),
    }
}

fn hash_name(id: u64) -> Option<&'static str> {
    Some(match id {
        1 => "MD5",
        2 => "SHA1",
        3 => "SHA256",
        4 => "SHA512",
        18 => "IMPHASH",
        _ => return None,
    })
}

/// Reads one extractor's values.
pub fn extract<'e>(event: &'e Value, ex: &Extractor, out: &mut Vec<Cow<'e, str>>) {
    match ex {
        Extractor::Path(p) => {
            let mut vs = Vec::new();
            walk(event, p, &mut vs);
            out.extend(vs.into_iter().filter_map(scalar_string));
        }
        Extractor::User(p) => {
            let Some(u) = get(event, p) else { return };
            let name = u.get("name").and_then(Value::as_str);
            let domain = u.get("domain").and_then(Value::as_str);
            match (domain, name) {
                (Some(d), Some(n)) if !d.is_empty() => out.push(Cow::Owned(format!("{d}\\{n}"))),
                (_, Some(n)) => out.push(Cow::Borrowed(n)),
                _ => {}
            }
        }
        Extractor::Hex(p) => match get(event, p) {
            Some(Value::Number(n)) => {
                if let Some(i) = n.as_u64() {
                    out.push(Cow::Owned(format!("0x{i:x}")));
                } else if let Some(i) = n.as_i64() {
                    out.push(Cow::Owned(format!("0x{:x}", i as u64)));
                }
            }
            Some(Value::String(s)) => out.push(Cow::Borrowed(s)),
            _ => {}
        },
        Extractor::Hashes(p) => {
            let Some(Value::Array(hs)) = get(event, p) else {
                return;
            };
            let parts: Vec<String> = hs
                .iter()
                .filter_map(|h| {
                    let name = hash_name(h.get("algorithm_id")?.as_u64()?)?;
                    let v = h.get("value")?.as_str()?;
                    Some(format!("{name}={}", v.to_ascii_uppercase()))
                })
                .collect();
            if !parts.is_empty() {
                out.push(Cow::Owned(parts.join(",")));
            }
        }
        Extractor::Hash(p, id) => {
            let Some(Value::Array(hs)) = get(event, p) else {
                return;
            };
            for h in hs {
                if h.get("algorithm_id").and_then(Value::as_u64) == Some(*id) {
                    if let Some(v) = h.get("value").and_then(Value::as_str) {
                        out.push(Cow::Borrowed(v));
                    }
                }
            }
        }
        Extractor::RegObject => {
            if let Some(p) = event.pointer("/prev_reg_key/path").and_then(Value::as_str) {
                out.push(Cow::Borrowed(p));
            } else if let Some(rv) = event.get("reg_value") {
                let path = rv.get("path").and_then(Value::as_str).unwrap_or("");
                match rv.get("name").and_then(Value::as_str) {
                    Some(n) => out.push(Cow::Owned(format!("{path}\\{n}"))),
                    None => out.push(Cow::Borrowed(path)),
                }
            } else if let Some(p) = event.pointer("/reg_key/path").and_then(Value::as_str) {
                out.push(Cow::Borrowed(p));
            }
        }
        Extractor::RegDetails => {
            let Some(rv) = event.get("reg_value") else {
                return;
            };
            if let Some(d) = rv.get("data").and_then(scalar_string) {
                out.push(d);
                return;
            }
            let ty = rv.get("type").and_then(Value::as_str).unwrap_or("");
            if let Some(i) = rv.get("reg_integer_data").and_then(Value::as_i64) {
                let u = i as u64;
                if ty == "REG_QWORD" {
                    out.push(Cow::Owned(format!(
                        "QWORD (0x{:08x}-0x{:08x})",
                        u >> 32,
                        u & 0xffff_ffff
                    )));
                } else {
                    out.push(Cow::Owned(format!("DWORD (0x{:08x})", u & 0xffff_ffff)));
                }
            } else if ty == "REG_BINARY" {
                out.push(Cow::Borrowed("Binary Data"));
            }
        }
        Extractor::RegEvent => {
            let class = event.get("class_uid").and_then(Value::as_u64).unwrap_or(0);
            let act = event
                .get("activity_id")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let name = match (class, act) {
                (201001, 1) => "CreateKey",
                (201001, 4) => "DeleteKey",
                (201001, 5) => "RenameKey",
                (201002, 2) => "SetValue",
                (201002, 4) => "DeleteValue",
                _ => return,
            };
            out.push(Cow::Borrowed(name));
        }
        Extractor::Pipe(p) => {
            if let Some(s) = get(event, p).and_then(Value::as_str) {
                if s.starts_with('\\') {
                    out.push(Cow::Borrowed(s));
                } else {
                    out.push(Cow::Owned(format!("\\{s}")));
                }
            }
        }
        Extractor::Initiated(p) => {
            if let Some(d) = get(event, p).and_then(Value::as_u64) {
                out.push(Cow::Borrowed(if d == 2 { "true" } else { "false" }));
            }
        }
    }
}

/// Reads a field's values: the first candidate that yields any.
pub fn read<'e>(event: &'e Value, spec: &[Extractor]) -> Values<'e> {
    let mut raw = Vec::new();
    for ex in spec {
        extract(event, ex, &mut raw);
        if !raw.is_empty() {
            break;
        }
    }
    Values {
        vals: raw.into_iter().map(FieldValue::new).collect(),
    }
}

/// Reads every candidate (keyword search looks at all of them).
pub fn read_all<'e>(event: &'e Value, spec: &[Extractor]) -> Values<'e> {
    let mut raw = Vec::new();
    for ex in spec {
        extract(event, ex, &mut raw);
    }
    Values {
        vals: raw.into_iter().map(FieldValue::new).collect(),
    }
}

/// Per-event cache of field values, indexed by the slot numbers of one compiled logsource.
#[derive(Debug)]
pub struct EventFields<'e> {
    event: &'e Value,
    slots: Vec<Option<Values<'e>>>,
}

impl<'e> EventFields<'e> {
    /// An empty cache with `n` slots.
    pub fn new(event: &'e Value, n: usize) -> Self {
        EventFields {
            event,
            slots: vec![None; n],
        }
    }

    /// The event.
    pub fn event(&self) -> &'e Value {
        self.event
    }

    /// The values of slot `i` (spec `spec`), read on first use.
    pub fn get(&mut self, i: usize, spec: &[Extractor], all: bool) -> &Values<'e> {
        let event = self.event;
        if i >= self.slots.len() {
            self.slots.resize(i + 1, None);
        }
        let slot = &mut self.slots[i];
        slot.get_or_insert_with(|| {
            if all {
                read_all(event, spec)
            } else {
                read(event, spec)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn embedded_map_parses_and_resolves() {
        let m = FieldMap::embedded().expect("bundled mapping parses");
        let pc = m
            .find(&SigmaLogsource {
                product: Some("windows".into()),
                category: Some("process_creation".into()),
                service: None,
            })
            .expect("process_creation");
        let ls = &m.logsources[pc];
        assert!(ls.resolve("Image").is_some());
        assert!(ls.resolve("NoSuchField").is_none());
    }

    #[test]
    fn extractors_format_like_sysmon() {
        let e = json!({"actual_permissions": 4112, "process": {"user": {"name": "bob", "domain": "CORP"},
            "file": {"hashes": [{"algorithm_id": 1, "value": "ab"}, {"algorithm_id": 18, "value": "cd"}]}},
            "reg_value": {"path": "HKLM\\X", "name": "V", "reg_integer_data": 1, "type": "REG_DWORD"}});
        let one = |ex: Extractor| {
            let mut o = Vec::new();
            extract(&e, &ex, &mut o);
            o
        };
        assert_eq!(
            one(Extractor::Hex(split_path("actual_permissions"))),
            ["0x1010"]
        );
        assert_eq!(
            one(Extractor::User(split_path("process.user"))),
            ["CORP\\bob"]
        );
        assert_eq!(
            one(Extractor::Hashes(split_path("process.file.hashes"))),
            ["MD5=AB,IMPHASH=CD"]
        );
        assert_eq!(one(Extractor::RegObject), ["HKLM\\X\\V"]);
        assert_eq!(one(Extractor::RegDetails), ["DWORD (0x00000001)"]);
    }
}

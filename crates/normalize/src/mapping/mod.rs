//! The mapping engine: YAML mappings (see `docs/mappings.md`) compiled into a dispatch table and
//! applied to [`RawRecord`]s to produce OCSF 1.8.0 events.
//!
//! One engine for every source; what differs per vendor is data. A mapping names its `source`,
//! the `when` conditions that select records, the OCSF `class_uid`, `activity_id` and
//! `severity_id`, the `product`, and a `set:` table of OCSF attribute path → expression. The
//! engine adds what every event carries: `category_uid`, `type_uid`, `metadata.version`,
//! `metadata.product`, `metadata.profiles`, `metadata.uid`, `observables`, and every raw field no
//! expression used under `unmapped`.

mod expr;
mod time;
pub(crate) mod transforms;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use shrike_ocsf::Schema;
use shrike_types::{Quarantined, RecordOrigin};

use crate::observables::{observables, ObservableIndex};
use crate::record::{RawRecord, Source};
use expr::{compile_expr, field_index, insert_path, split_path, Expr, FieldPath, Scope};
pub use time::{number_to_ms, parse_time_str};

/// A mapping file that cannot be loaded: the file (and attribute) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingError {
    /// `file: attribute` where the problem is.
    pub at: String,
    /// What is wrong.
    pub message: String,
}

impl MappingError {
    pub(crate) fn new(at: &str, message: impl Into<String>) -> MappingError {
        MappingError {
            at: at.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

impl std::error::Error for MappingError {}

/// A record the engine could not turn into a valid event, with what quarantine needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// Bounded reason code: `no_mapping`, `missing_time`, `ocsf_invalid`.
    pub reason: &'static str,
    /// Names the record's source and the problem.
    pub detail: String,
    /// The record's original bytes.
    pub raw: Vec<u8>,
    /// Where the record was.
    pub origin: RecordOrigin,
}

impl Rejected {
    /// The quarantine item (raw bytes base64, cut at `cap` bytes).
    pub fn into_quarantined(self, cap: usize) -> Quarantined {
        use base64::Engine as _;
        let kept = self.raw.get(..cap).unwrap_or(&self.raw);
        Quarantined {
            stage: "normalize".into(),
            reason: self.reason.into(),
            detail: self.detail,
            origin: self.origin,
            raw_len: self.raw.len() as u64,
            raw_b64: base64::engine::general_purpose::STANDARD.encode(kept),
            raw_truncated: kept.len() < self.raw.len(),
        }
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

impl std::error::Error for Rejected {}

/// One normalized event.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    /// The OCSF event.
    pub event: Value,
    /// Its `class_uid`.
    pub class_uid: u32,
    /// The id of the mapping that produced it.
    pub mapping: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Cond {
    /// One of these values (strings compared lowercased, numbers as decimal text).
    AnyOf(Vec<String>),
    /// Present (and not empty) or absent.
    Exists(bool),
    /// A string field starting with this prefix (lowercased).
    Prefix(String),
}

impl Cond {
    fn holds(&self, v: Option<&Value>) -> bool {
        let v = v.filter(|v| !transforms::is_empty(v));
        match self {
            Cond::Exists(want) => v.is_some() == *want,
            Cond::AnyOf(vals) => v.and_then(key_text).is_some_and(|t| vals.contains(&t)),
            Cond::Prefix(p) => v
                .and_then(key_text)
                .is_some_and(|t| t.starts_with(p.as_str())),
        }
    }
}

/// The text a value is matched and dispatched on: lowercased strings, numbers in decimal.
fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_lowercase()),
        Value::Number(n) => Some(match n.as_i64() {
            Some(i) => i.to_string(),
            None => n.to_string(),
        }),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A compiled mapping.
#[derive(Debug, Clone)]
struct Compiled {
    id: String,
    file: String,
    source: Source,
    when: Vec<(usize, Cond)>,
    class_uid: u32,
    category_uid: u32,
    activity: Expr,
    severity: Expr,
    product: Value,
    profiles: Vec<String>,
    set: Vec<(Vec<String>, Expr)>,
    /// Literal values, applied after `set` (see `Engine::normalize`).
    consts: Vec<(Vec<String>, Value)>,
    fields: Vec<FieldPath>,
    /// Field-table indexes of raw fields kept under `unmapped` even when used (`keep:`).
    keep: Vec<usize>,
}

#[derive(Debug, Default, Clone)]
struct SourceTable {
    /// Field-table-independent dispatch: the fields every non-catch-all mapping tests.
    keys: Vec<FieldPath>,
    index: HashMap<String, Vec<usize>>,
    /// Mappings tried when the index has nothing (no conditions on the dispatch keys).
    rest: Vec<usize>,
}

/// Loaded, compiled mappings for every source.
pub struct Engine {
    mappings: Vec<Compiled>,
    tables: BTreeMap<Source, SourceTable>,
    schema: &'static Schema,
    obs: &'static ObservableIndex,
    validate: bool,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("mappings", &self.mappings.len())
            .field("validate", &self.validate)
            .finish()
    }
}

/// The mapping files compiled into the binary: `(path under content/mappings, YAML text)`.
pub const EMBEDDED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/mappings.rs"));

impl Engine {
    /// The engine over the mappings bundled with Shrike (`content/mappings`).
    ///
    /// # Errors
    /// A bundled mapping does not compile (a build-time mistake; tests catch it).
    pub fn embedded() -> Result<Engine, MappingError> {
        Engine::from_files(
            EMBEDDED
                .iter()
                .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
                .collect(),
        )
    }

    /// The engine over every `*.yaml` under `dir` (files starting with `_` are bases for
    /// `extends:`, not mappings).
    ///
    /// # Errors
    /// The directory cannot be read or a mapping does not compile.
    pub fn load_dir(dir: &Path) -> Result<Engine, MappingError> {
        let mut files = Vec::new();
        collect_yaml(dir, dir, &mut files)?;
        Engine::from_files(files)
    }

    /// The engine over `(relative path, YAML text)` pairs.
    ///
    /// # Errors
    /// A mapping does not parse or compile, two mappings select the same records, or an
    /// `extends:` target is missing.
    pub fn from_files(mut files: Vec<(String, String)>) -> Result<Engine, MappingError> {
        files.sort();
        let docs: BTreeMap<String, Value> = files
            .iter()
            .map(|(p, t)| {
                let v: Value = serde_yaml_ng::from_str(t)
                    .map_err(|e| MappingError::new(p, format!("YAML: {e}")))?;
                Ok((p.clone(), v))
            })
            .collect::<Result<_, MappingError>>()?;
        let schema = Schema::shared();
        let mut mappings = Vec::new();
        for (path, doc) in &docs {
            let is_base = Path::new(path)
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('_'));
            if is_base {
                continue;
            }
            let merged = resolve_extends(path, doc, &docs, 0)?;
            mappings.push(compile_mapping(path, &merged, schema)?);
        }
        let tables = build_tables(&mappings)?;
        Ok(Engine {
            mappings,
            tables,
            schema,
            obs: ObservableIndex::embedded(),
            validate: true,
        })
    }

    /// Whether every event is validated against the schema before it is returned (default on;
    /// an invalid event is rejected as `ocsf_invalid`).
    pub fn set_validate(&mut self, on: bool) {
        self.validate = on;
    }

    /// Number of compiled mappings.
    pub fn len(&self) -> usize {
        self.mappings.len()
    }

    /// Whether no mapping is loaded.
    pub fn is_empty(&self) -> bool {
        self.mappings.is_empty()
    }

    /// `(id, file, source, class_uid)` of every mapping, in load order.
    pub fn mappings(&self) -> impl Iterator<Item = (&str, &str, Source, u32)> {
        self.mappings
            .iter()
            .map(|m| (m.id.as_str(), m.file.as_str(), m.source, m.class_uid))
    }

    /// The mapping that selects this record, if any.
    fn select(&self, rec: &RawRecord) -> Option<&Compiled> {
        let table = self.tables.get(&rec.source)?;
        let matches = |i: &usize| {
            let m = &self.mappings[*i];
            m.when
                .iter()
                .all(|(fi, c)| c.holds(m.fields[*fi].get(&rec.fields).map(|(v, _)| v)))
        };
        if !table.keys.is_empty() {
            let mut k = String::new();
            for (n, key) in table.keys.iter().enumerate() {
                if n > 0 {
                    k.push('\u{1f}');
                }
                if let Some(v) = key.get(&rec.fields).and_then(|(v, _)| key_text(v)) {
                    k.push_str(&v);
                }
            }
            if let Some(c) = table
                .index
                .get(&k)
                .and_then(|c| c.iter().find(|i| matches(i)))
            {
                return Some(&self.mappings[*c]);
            }
        }
        table
            .rest
            .iter()
            .find(|i| matches(i))
            .map(|i| &self.mappings[*i])
    }

    /// Maps one record to an OCSF event.
    ///
    /// # Errors
    /// No mapping selects the record (`no_mapping`), the mapping yields no `time`
    /// (`missing_time`), or the event fails schema validation (`ocsf_invalid`).
    pub fn normalize(&self, rec: RawRecord) -> Result<Normalized, Box<Rejected>> {
        let Some(m) = self.select(&rec) else {
            let detail = format!(
                "{} record at {}: no mapping for {}",
                rec.source,
                rec.origin,
                describe(&rec)
            );
            return Err(reject("no_mapping", detail, rec));
        };
        let mut used = Vec::with_capacity(m.fields.len());
        let scope = Scope {
            fields: &rec.fields,
            element: None,
            table: &m.fields,
        };
        let mut ev = Map::new();
        for (path, ex) in &m.set {
            if let Some(v) = ex.eval(&scope, &mut used) {
                insert_path(&mut ev, path, v);
            }
        }
        // Constants inside objects complete what the record filled in; they never create an
        // object on their own (a `file.type_id` without a file would be an invalid file).
        for (path, v) in &m.consts {
            let parent_exists = match path.split_last() {
                Some((_, [])) | None => true,
                Some((_, parents)) => lookup_obj(&ev, parents),
            };
            if parent_exists {
                insert_path(&mut ev, path, v.clone());
            }
        }
        let activity = m
            .activity
            .eval(&scope, &mut used)
            .and_then(|v| transforms::to_int(&v))
            .unwrap_or(0);
        let severity = m
            .severity
            .eval(&scope, &mut used)
            .and_then(|v| transforms::to_int(&v))
            .unwrap_or(1);
        if !ev.get("time").is_some_and(Value::is_i64) {
            let detail = format!(
                "{} record at {}: mapping {} found no event time",
                rec.source, rec.origin, m.id
            );
            return Err(reject("missing_time", detail, rec));
        }
        ev.insert("class_uid".into(), Value::from(m.class_uid));
        ev.insert("category_uid".into(), Value::from(m.category_uid));
        ev.insert("activity_id".into(), Value::from(activity));
        ev.insert(
            "type_uid".into(),
            Value::from(i64::from(m.class_uid) * 100 + activity),
        );
        ev.insert("severity_id".into(), Value::from(severity));
        {
            let meta = ev
                .entry("metadata")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(meta) = meta {
                meta.insert(
                    "version".into(),
                    Value::String(self.schema.table().version.clone()),
                );
                meta.insert("product".into(), m.product.clone());
                if !m.profiles.is_empty() {
                    meta.insert("profiles".into(), Value::from(m.profiles.clone()));
                }
                meta.insert(
                    "uid".into(),
                    Value::String(content_uid(rec.source.as_str().as_bytes(), &rec.raw)),
                );
            }
        }
        let RawRecord {
            source,
            mut fields,
            raw,
            origin,
        } = rec;
        for (fi, _) in &m.when {
            m.fields[*fi].remove(&mut fields);
        }
        for i in used {
            if !m.keep.contains(&i) {
                m.fields[i].remove(&mut fields);
            }
        }
        if !fields.is_empty() {
            ev.insert("unmapped".into(), Value::Object(fields));
        }
        let mut event = Value::Object(ev);
        let obs = observables(&event, self.obs);
        if !obs.is_empty() {
            if let Value::Object(o) = &mut event {
                o.insert("observables".into(), Value::Array(obs));
            }
        }
        if self.validate {
            let errs = self.schema.validate(&event);
            if !errs.is_empty() {
                let first: Vec<String> = errs
                    .iter()
                    .take(3)
                    .map(|e| format!("{} {}: {}", e.path, e.rule.as_str(), e.message))
                    .collect();
                let detail = format!("{source} record at {origin}: mapping {} produced an invalid event ({} errors): {}", m.id, errs.len(), first.join("; "));
                return Err(Box::new(Rejected {
                    reason: "ocsf_invalid",
                    detail,
                    raw,
                    origin,
                }));
            }
        }
        Ok(Normalized {
            event,
            class_uid: m.class_uid,
            mapping: m.id.clone(),
        })
    }
}

fn lookup_obj(m: &Map<String, Value>, path: &[String]) -> bool {
    let mut cur = m;
    for p in path {
        match cur.get(p) {
            Some(Value::Object(o)) => cur = o,
            _ => return false,
        }
    }
    true
}

fn reject(reason: &'static str, detail: String, rec: RawRecord) -> Box<Rejected> {
    Box::new(Rejected {
        reason,
        detail,
        raw: rec.raw,
        origin: rec.origin,
    })
}

/// A short description of what kind of record it is, for `no_mapping` details.
fn describe(rec: &RawRecord) -> String {
    let keys: &[&str] = match rec.source {
        Source::Windows => &["Channel", "EventID"],
        Source::Suricata => &["event_type"],
        Source::Zeek => &["_path"],
        Source::Cloudtrail => &["eventSource", "eventName"],
        Source::Guardduty => &["type"],
        Source::Vpcflow => &["version"],
        Source::Email => &["id"],
    };
    let parts: Vec<String> = keys
        .iter()
        .map(|k| {
            let v = FieldPath::new(k)
                .get(&rec.fields)
                .and_then(|(v, _)| transforms::as_text(v))
                .unwrap_or_else(|| "(absent)".into());
            format!("{k}={v}")
        })
        .collect();
    parts.join(" ")
}

/// A stable content id for `metadata.uid` (de-duplication): the first 128 bits of SHA-256 over
/// the source name, a 0 byte and the raw record, in hex. SHA-256 runs on the CPU's SHA
/// instructions where present, faster than a byte-wise FNV over multi-KB Windows records.
fn content_uid(prefix: &[u8], data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(prefix);
    h.update([0u8]);
    h.update(data);
    let d = h.finalize();
    let mut out = String::with_capacity(32);
    for b in &d[..16] {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

fn collect_yaml(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, String)>,
) -> Result<(), MappingError> {
    let at = dir.display().to_string();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| MappingError::new(&at, format!("cannot read directory: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_yaml(root, &p, out)?;
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p)
                .map_err(|e| MappingError::new(&rel, format!("cannot read: {e}")))?;
            out.push((rel, text));
        }
    }
    Ok(())
}

/// Merges `extends:` bases (relative paths) under the document: the document wins; `set:`
/// tables merge key by key.
fn resolve_extends(
    path: &str,
    doc: &Value,
    docs: &BTreeMap<String, Value>,
    depth: usize,
) -> Result<Map<String, Value>, MappingError> {
    let obj = doc
        .as_object()
        .ok_or_else(|| MappingError::new(path, "a mapping is a YAML mapping (key: value)"))?;
    let Some(ext) = obj.get("extends") else {
        return Ok(obj.clone());
    };
    if depth > 8 {
        return Err(MappingError::new(
            path,
            "extends: nested more than 8 deep (a cycle?)",
        ));
    }
    let ext = ext
        .as_str()
        .ok_or_else(|| MappingError::new(path, "extends: is a relative path"))?;
    let base_path = join_rel(path, ext);
    let base_doc = docs
        .get(&base_path)
        .ok_or_else(|| MappingError::new(path, format!("extends: {base_path} not found")))?;
    let mut merged = resolve_extends(&base_path, base_doc, docs, depth + 1)?;
    for (k, v) in obj {
        if k == "extends" {
            continue;
        }
        if k == "set" {
            let mut set = merged
                .get("set")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            if let Some(own) = v.as_object() {
                for (a, e) in own {
                    set.insert(a.clone(), e.clone());
                }
            }
            merged.insert("set".into(), Value::Object(set));
        } else {
            merged.insert(k.clone(), v.clone());
        }
    }
    merged.remove("extends");
    Ok(merged)
}

fn join_rel(from: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for seg in rel.split('/') {
        match seg {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

const TOP_KEYS: &[&str] = &[
    "keep",
    "id",
    "description",
    "source",
    "when",
    "class_uid",
    "activity_id",
    "severity_id",
    "product",
    "profiles",
    "set",
];
/// Attributes the engine sets itself; a mapping may not.
const ENGINE_SET: &[&str] = &[
    "class_uid",
    "category_uid",
    "type_uid",
    "activity_id",
    "severity_id",
    "observables",
    "unmapped",
    "metadata.version",
    "metadata.product",
    "metadata.profiles",
    "metadata.uid",
];

fn compile_mapping(
    path: &str,
    doc: &Map<String, Value>,
    schema: &Schema,
) -> Result<Compiled, MappingError> {
    for k in doc.keys() {
        if !TOP_KEYS.contains(&k.as_str()) {
            return Err(MappingError::new(
                path,
                format!("unknown key {k:?}; expected {}", TOP_KEYS.join(", ")),
            ));
        }
    }
    let id = doc
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| MappingError::new(path, "id: is required"))?
        .to_owned();
    let at = |attr: &str| format!("{path} ({id}): {attr}");
    let source = doc
        .get("source")
        .and_then(Value::as_str)
        .and_then(Source::parse)
        .ok_or_else(|| {
            MappingError::new(
                &at("source"),
                format!(
                    "source: is one of {}",
                    Source::ALL.map(Source::as_str).join(", ")
                ),
            )
        })?;
    let class_uid = doc
        .get("class_uid")
        .and_then(Value::as_u64)
        .and_then(|u| u32::try_from(u).ok())
        .ok_or_else(|| {
            MappingError::new(
                &at("class_uid"),
                "class_uid: is required (an OCSF 1.8.0 class)",
            )
        })?;
    let class = schema.table().classes.get(&class_uid).ok_or_else(|| {
        MappingError::new(
            &at("class_uid"),
            format!(
                "{class_uid} is not a class of OCSF {}",
                schema.table().version
            ),
        )
    })?;
    let product = match doc.get("product") {
        Some(Value::Object(p)) if p.get("name").is_some_and(Value::is_string) => {
            Value::Object(p.clone())
        }
        _ => {
            return Err(MappingError::new(
                &at("product"),
                "product: {name, vendor_name} is required",
            ))
        }
    };
    let profiles = match doc.get("profiles") {
        None => vec![],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(_) => {
            return Err(MappingError::new(
                &at("profiles"),
                "profiles: is a list of names",
            ))
        }
    };
    let mut fields = Vec::new();
    let mut when = Vec::new();
    if let Some(w) = doc.get("when") {
        let w = w
            .as_object()
            .ok_or_else(|| MappingError::new(&at("when"), "when: is field: value(s)"))?;
        for (k, v) in w {
            let cond = match v {
                Value::Array(a) => Cond::AnyOf(a.iter().filter_map(key_text).collect()),
                Value::Object(o) => match (o.get("exists"), o.get("prefix")) {
                    (Some(Value::Bool(b)), None) => Cond::Exists(*b),
                    (None, Some(Value::String(p))) => Cond::Prefix(p.to_lowercase()),
                    _ => {
                        return Err(MappingError::new(
                            &at(&format!("when.{k}")),
                            "a condition is a value, a list, {exists: bool} or {prefix: text}",
                        ))
                    }
                },
                scalar => Cond::AnyOf(key_text(scalar).into_iter().collect()),
            };
            when.push((field_index(&mut fields, k), cond));
        }
    }
    let set_doc = doc
        .get("set")
        .and_then(Value::as_object)
        .ok_or_else(|| MappingError::new(&at("set"), "set: {attribute: expression} is required"))?;
    let mut set = Vec::new();
    let mut consts = Vec::new();
    for (k, v) in set_doc {
        if ENGINE_SET.contains(&k.as_str()) {
            return Err(MappingError::new(&at(k), "set by the engine; use the top-level key (activity_id, severity_id, product, profiles)"));
        }
        let e = compile_expr(v, &at(k), &mut fields, false)?;
        match (
            e.getters.as_slice(),
            e.fns.is_empty() && e.map.is_none() && e.cast.is_none(),
        ) {
            ([expr::Getter::Const(c)], true) => consts.push((split_path(k), c.clone())),
            _ => set.push((split_path(k), e)),
        }
    }
    if !set_doc.contains_key("time") {
        return Err(MappingError::new(
            &at("set.time"),
            "every event needs time (epoch ms): set time: {from: ..., fn: time}",
        ));
    }
    // A path may not be both a leaf and a parent (`a.b` and `a.b.c`).
    let keys: Vec<&String> = set_doc.keys().collect();
    for a in &keys {
        for b in &keys {
            if b.len() > a.len() && b.starts_with(a.as_str()) && b.as_bytes()[a.len()] == b'.' {
                return Err(MappingError::new(
                    &at(b),
                    format!("{a} is set as a whole and {b} inside it"),
                ));
            }
        }
    }
    let compile_opt = |name: &str, fields: &mut Vec<FieldPath>| -> Result<Expr, MappingError> {
        match doc.get(name) {
            Some(v) => compile_expr(v, &at(name), fields, false),
            None => compile_expr(&Value::Null, &at(name), fields, false),
        }
    };
    let activity = compile_opt("activity_id", &mut fields)?;
    let severity = compile_opt("severity_id", &mut fields)?;
    // `keep:` raw fields that expressions only extract from (an XML document, a rendered
    // message) stay whole under `unmapped` as well.
    let keep = match doc.get("keep") {
        None => vec![],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(|n| field_index(&mut fields, n))
                    .ok_or_else(|| MappingError::new(&at("keep"), "keep: is a list of field names"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(MappingError::new(
                &at("keep"),
                "keep: is a list of field names",
            ))
        }
    };
    Ok(Compiled {
        id,
        file: path.to_owned(),
        source,
        when,
        class_uid,
        category_uid: class.category_uid,
        activity,
        severity,
        product,
        profiles,
        set,
        consts,
        fields,
        keep,
    })
}

fn build_tables(mappings: &[Compiled]) -> Result<BTreeMap<Source, SourceTable>, MappingError> {
    let mut out: BTreeMap<Source, SourceTable> = BTreeMap::new();
    for src in Source::ALL {
        let ids: Vec<usize> = (0..mappings.len())
            .filter(|i| mappings[*i].source == src)
            .collect();
        if ids.is_empty() {
            continue;
        }
        let conds = |i: usize| -> Vec<(&str, &Cond)> {
            mappings[i]
                .when
                .iter()
                .map(|(f, c)| (mappings[i].fields[*f].key.as_str(), c))
                .collect()
        };
        // Dispatch keys: fields tested with plain values by every mapping that has conditions.
        let mut keys: Option<Vec<String>> = None;
        for &i in &ids {
            let ks: Vec<String> = conds(i)
                .iter()
                .filter(|(_, c)| matches!(c, Cond::AnyOf(_)))
                .map(|(k, _)| (*k).to_owned())
                .collect();
            if mappings[i].when.is_empty() {
                continue;
            }
            keys = Some(match keys {
                None => ks,
                Some(prev) => prev.into_iter().filter(|k| ks.contains(k)).collect(),
            });
        }
        let mut keys = keys.unwrap_or_default();
        keys.sort();
        let mut t = SourceTable {
            keys: keys.iter().map(|k| FieldPath::new(k)).collect(),
            ..SourceTable::default()
        };
        // Most specific first: more conditions win; then file order.
        let mut ordered = ids.clone();
        ordered.sort_by_key(|i| std::cmp::Reverse(mappings[*i].when.len()));
        let mut seen: HashMap<String, &str> = HashMap::new();
        for &i in &ordered {
            let c = conds(i);
            let mut sig: Vec<String> = c.iter().map(|(k, c)| format!("{k}={c:?}")).collect();
            sig.sort();
            if let Some(other) = seen.insert(sig.join("&"), &mappings[i].id) {
                return Err(MappingError::new(
                    &mappings[i].file,
                    format!("selects the same records as mapping {other}"),
                ));
            }
            if keys.is_empty() || mappings[i].when.is_empty() {
                t.rest.push(i);
                continue;
            }
            // The cartesian product of the dispatch keys' alternatives.
            let mut combos: Vec<String> = vec![String::new()];
            for (n, k) in keys.iter().enumerate() {
                let alts = c.iter().find_map(|(ck, cond)| match cond {
                    Cond::AnyOf(v) if ck == k => Some(v.clone()),
                    _ => None,
                });
                let alts = alts.unwrap_or_default();
                let mut next = Vec::new();
                for prefix in &combos {
                    for a in &alts {
                        let mut s = prefix.clone();
                        if n > 0 {
                            s.push('\u{1f}');
                        }
                        s.push_str(a);
                        next.push(s);
                    }
                }
                combos = next;
                if combos.len() > 10_000 {
                    return Err(MappingError::new(
                        &mappings[i].file,
                        "when: too many value combinations",
                    ));
                }
            }
            for k in combos {
                t.index.entry(k).or_default().push(i);
            }
        }
        out.insert(src, t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;

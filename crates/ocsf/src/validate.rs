//! The validator: one OCSF event (`serde_json::Value`) against the compiled [`Table`].
//!
//! `type_uid` is checked by formula, not by enum: it must equal `class_uid * 100 + activity_id`
//! (e.g. Detection Finding 2004 with `activity_id` 1 gives 200401); `category_uid` must equal the
//! class's category (2004 → 2).
//!
//! [`Schema::from_table`] turns the table into a graph of nodes (one per class and per object)
//! once; [`Schema::validate`] then walks the event against node indices: attribute names are
//! found in a small per-node open-addressing table (FxHash-style hash written here), every
//! attribute already knows its JSON kind, its object node, its enum (integers as a bit set plus a
//! sorted list, strings as a sorted list) and its bit in the node's required mask. The event's
//! maps are only iterated, never looked up in (except for a node with more than 64 required
//! attributes, which OCSF has not), and nothing is allocated unless an error is reported: the
//! path to the value being checked lives on the stack and is rendered only for an error.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{BufRead, Read};

use serde_json::{Map, Value};

use crate::table::{Attr, Requirement, Table};

/// The compiled table committed in the repository.
const EMBEDDED: &str = include_str!("../schema/ocsf-1.8.0.json");

/// Object nesting the validator follows before giving up on a branch ([`Rule::TooDeep`]).
/// Parsed JSON is already bounded (serde_json stops at 128 levels); this bounds the stack for
/// `Value`s built in code. Real OCSF events nest well under 20 objects.
pub const MAX_DEPTH: usize = 64;

/// Longest NDJSON line [`validate_ndjson`] parses; longer lines are counted invalid and skipped
/// without being held in memory.
pub const MAX_LINE_BYTES: u64 = 8 << 20;

/// A loaded schema table, ready to validate events.
#[derive(Debug, Clone)]
pub struct Schema {
    table: Table,
    /// The table as a graph of nodes, built once (validation runs per event).
    compiled: Compiled,
}

/// Classes and objects as nodes that refer to each other by index.
#[derive(Debug, Clone)]
struct Compiled {
    /// Objects first (index = position in `Table::objects`), then classes.
    nodes: Vec<Node>,
    /// Classes sorted by uid.
    classes: Vec<ClassEntry>,
}

#[derive(Debug, Clone, Copy)]
struct ClassEntry {
    uid: u32,
    category_uid: u32,
    node: u32,
}

/// One class or object.
#[derive(Debug, Clone)]
struct Node {
    /// The object's name (its key in `Table::objects`), for `expected object {name}` messages;
    /// the class name for a class.
    name: Box<str>,
    /// Attributes in name order.
    attrs: Box<[CAttr]>,
    /// Open addressing over `attrs`: index + 1, 0 for an empty slot; a power of two long and at
    /// most half full, so every probe sequence ends.
    slots: Box<[u32]>,
    /// `64 - log2(slots.len())`: the slot of a hash is its top bits.
    shift: u32,
    /// Required attributes in name order (the order errors are reported in).
    required: Box<[Required]>,
    /// Bits of the first 64 `required` entries (their `CAttr::req_bit`s).
    required_mask: u64,
}

/// A required attribute and the profile it comes from, if any.
#[derive(Debug, Clone)]
struct Required {
    name: Box<str>,
    profile: Option<Box<str>>,
}

/// One attribute, resolved.
#[derive(Debug, Clone)]
struct CAttr {
    name: Box<str>,
    hash: u64,
    kind: Kind,
    is_array: bool,
    /// This attribute's bit in `Node::required_mask`; 0 when not required (or past the 64th
    /// required attribute, which is checked by lookup).
    req_bit: u64,
    /// Allowed values (scalar kinds only).
    allowed: Option<Box<Enum>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A data type of `Table::types`, by its base type.
    Scalar(Scalar),
    /// `object`: free-form, contents not checked.
    FreeObject,
    /// An object of `Table::objects`: index into `Compiled::nodes`.
    Object(u32),
    /// A type name absent from the table: not checked (the compiler never emits one).
    Unchecked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    String,
    Integer,
    Float,
    Boolean,
    /// `json_t` and any other base type: any JSON value.
    Any,
}

impl Scalar {
    fn of_base(base: &str) -> Scalar {
        match base {
            "string_t" => Scalar::String,
            "integer_t" | "long_t" => Scalar::Integer,
            "float_t" => Scalar::Float,
            "boolean_t" => Scalar::Boolean,
            _ => Scalar::Any,
        }
    }

    fn accepts(self, v: &Value) -> bool {
        match self {
            Scalar::String => v.is_string(),
            Scalar::Integer => v.is_i64() || v.is_u64(),
            Scalar::Float => v.is_number(),
            Scalar::Boolean => v.is_boolean(),
            Scalar::Any => true,
        }
    }

    /// The name in `expected ..., got ...` messages.
    fn name(self) -> &'static str {
        match self {
            Scalar::String => "string",
            Scalar::Integer => "integer",
            Scalar::Float => "float",
            Scalar::Boolean => "boolean",
            Scalar::Any => "json",
        }
    }
}

/// An attribute's allowed values: the table's list (for messages) and a set to test membership
/// with exactly `Vec<Value>::contains`'s result.
#[derive(Debug, Clone)]
struct Enum {
    values: Vec<Value>,
    set: EnumSet,
}

#[derive(Debug, Clone)]
enum EnumSet {
    /// Every value is an integer that fits `i64` (all of OCSF's integer enums): `low` has bit `i`
    /// for each value `i` in `0..64`, `others` the rest, sorted.
    Ints { low: u64, others: Box<[i64]> },
    /// Every value is a string; sorted.
    Strings(Box<[Box<str>]>),
    /// Anything else: `values.contains`.
    Values,
}

impl Enum {
    fn new(values: &[Value]) -> Enum {
        let set = if values.iter().all(|v| v.as_i64().is_some()) {
            let mut low = 0u64;
            let mut others = Vec::new();
            for i in values.iter().filter_map(Value::as_i64) {
                match u32::try_from(i) {
                    Ok(b) if b < 64 => low |= 1 << b,
                    _ => others.push(i),
                }
            }
            others.sort_unstable();
            others.dedup();
            EnumSet::Ints {
                low,
                others: others.into(),
            }
        } else if values.iter().all(Value::is_string) {
            let mut s: Vec<Box<str>> = values
                .iter()
                .filter_map(Value::as_str)
                .map(Box::from)
                .collect();
            s.sort_unstable();
            s.dedup();
            EnumSet::Strings(s.into())
        } else {
            EnumSet::Values
        };
        Enum {
            values: values.to_vec(),
            set,
        }
    }

    /// Same as `self.values.contains(v)`: integers compare by value (an integer never equals a
    /// float), strings by content.
    #[inline]
    fn contains(&self, v: &Value) -> bool {
        match &self.set {
            EnumSet::Ints { low, others } => match v.as_i64() {
                Some(i) => match u32::try_from(i) {
                    Ok(b) if b < 64 => low >> b & 1 == 1,
                    _ => others.binary_search(&i).is_ok(),
                },
                None => false,
            },
            EnumSet::Strings(s) => v
                .as_str()
                .is_some_and(|v| s.binary_search_by(|x| (**x).cmp(v)).is_ok()),
            EnumSet::Values => self.values.contains(v),
        }
    }
}

/// FxHash's multiplier.
const FX: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// FxHash-style hash of an attribute name, eight bytes at a time (the last word overlapping the
/// one before). The slot is taken from the top bits, which the final multiply mixes best.
#[inline]
fn hash_name(s: &str) -> u64 {
    let b = s.as_bytes();
    let mut h = (b.len() as u64).wrapping_mul(FX);
    if b.len() < 8 {
        return (h ^ short_word(b)).wrapping_mul(FX);
    }
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        h = (h.rotate_left(5) ^ word(c)).wrapping_mul(FX);
    }
    if !chunks.remainder().is_empty() {
        h = (h.rotate_left(5) ^ word(&b[b.len() - 8..])).wrapping_mul(FX);
    }
    h
}

/// Whether two names are equal, compared a word at a time (no `memcmp` call for short names).
#[inline]
fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let n = a.len();
    if n < 8 {
        return short_word(a) == short_word(b);
    }
    a.chunks_exact(8)
        .zip(b.chunks_exact(8))
        .all(|(x, y)| word(x) == word(y))
        && word(&a[n - 8..]) == word(&b[n - 8..])
}

/// The first eight bytes of `b` (at least eight long) as a word.
#[inline]
fn word(b: &[u8]) -> u64 {
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// Up to seven bytes as a word that tells apart any two byte strings of the same length: four
/// bytes from each end (overlapping), or for one to three bytes the first, middle and last.
#[inline]
fn short_word(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        let lo = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let hi = u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]);
        u64::from(lo) | u64::from(hi) << 32
    } else if n > 0 {
        u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16
    } else {
        0
    }
}

impl Node {
    fn new(
        name: &str,
        attributes: &BTreeMap<String, Attr>,
        enums: &BTreeMap<String, Vec<Value>>,
        kind_of: &dyn Fn(&str) -> Kind,
    ) -> Node {
        let mut attrs = Vec::with_capacity(attributes.len());
        let mut required = Vec::new();
        let mut required_mask = 0u64;
        for (n, a) in attributes {
            let mut req_bit = 0;
            if a.requirement() == Requirement::Required {
                if required.len() < 64 {
                    req_bit = 1u64 << required.len();
                    required_mask |= req_bit;
                }
                required.push(Required {
                    name: n.as_str().into(),
                    profile: a.profile().map(Box::from),
                });
            }
            let kind = kind_of(a.type_name());
            let allowed = match kind {
                Kind::Scalar(_) => enums.get(n).map(|v| Box::new(Enum::new(v))),
                _ => None,
            };
            attrs.push(CAttr {
                name: n.as_str().into(),
                hash: hash_name(n),
                kind,
                is_array: a.is_array(),
                req_bit,
                allowed,
            });
        }
        let len = (attrs.len() * 2).next_power_of_two().max(2);
        let shift = 64 - len.trailing_zeros();
        let mut slots = vec![0u32; len];
        for (i, a) in attrs.iter().enumerate() {
            let mut s = slot_of(a.hash, shift);
            while slots[s] != 0 {
                s = (s + 1) & (len - 1);
            }
            // At most half of `len` slots, and `len` fits a u32 for any real table.
            slots[s] = u32::try_from(i + 1).unwrap_or(u32::MAX);
        }
        Node {
            name: name.into(),
            attrs: attrs.into(),
            slots: slots.into(),
            shift,
            required: required.into(),
            required_mask,
        }
    }

    #[inline]
    fn attr(&self, name: &str) -> Option<&CAttr> {
        let h = hash_name(name);
        let mask = self.slots.len() - 1;
        let mut s = slot_of(h, self.shift);
        loop {
            let i = *self.slots.get(s)?;
            let a = self.attrs.get(usize::try_from(i.checked_sub(1)?).ok()?)?;
            if a.hash == h && same_name(&a.name, name) {
                return Some(a);
            }
            s = (s + 1) & mask;
        }
    }
}

#[inline]
fn slot_of(hash: u64, shift: u32) -> usize {
    // `shift` >= 1, and the result is below the slot count.
    (hash >> shift) as usize
}

impl Compiled {
    fn new(table: &Table) -> Compiled {
        let object_index: HashMap<&str, u32> = table
            .objects
            .keys()
            .zip(0u32..)
            .map(|(n, i)| (n.as_str(), i))
            .collect();
        // The order the validator has always resolved a type name in: `object` (free-form),
        // then data types, then objects; anything else is not checked.
        let kind_of = |ty: &str| -> Kind {
            if ty == "object" {
                Kind::FreeObject
            } else if let Some(base) = table.types.get(ty) {
                Kind::Scalar(Scalar::of_base(base))
            } else if let Some(&i) = object_index.get(ty) {
                Kind::Object(i)
            } else {
                Kind::Unchecked
            }
        };
        let mut nodes = Vec::with_capacity(table.objects.len() + table.classes.len());
        for (name, o) in &table.objects {
            nodes.push(Node::new(name, &o.attributes, &o.enums, &kind_of));
        }
        let mut classes = Vec::with_capacity(table.classes.len());
        for (uid, c) in &table.classes {
            classes.push(ClassEntry {
                uid: *uid,
                category_uid: c.category_uid,
                node: u32::try_from(nodes.len()).unwrap_or(u32::MAX),
            });
            nodes.push(Node::new(&c.name, &c.attributes, &c.enums, &kind_of));
        }
        // `Table::classes` is a BTreeMap: already sorted by uid.
        Compiled { nodes, classes }
    }

    #[inline]
    fn node(&self, i: u32) -> Option<&Node> {
        self.nodes.get(usize::try_from(i).ok()?)
    }

    fn class(&self, uid: u32) -> Option<ClassEntry> {
        let i = self.classes.binary_search_by_key(&uid, |c| c.uid).ok()?;
        self.classes.get(i).copied()
    }
}

/// One step of the path to the value being checked; rendered only when an error is reported.
#[derive(Debug, Clone, Copy)]
enum Part<'a> {
    Key(&'a str),
    Index(usize),
}

/// The path to the value being checked, as a list linked through the validator's stack frames
/// (nothing to allocate or reset per event).
#[derive(Debug, Clone, Copy)]
struct Path<'p, 'a> {
    part: Part<'a>,
    up: Option<&'p Path<'p, 'a>>,
}

fn render_path(at: Option<&Path<'_, '_>>) -> String {
    let mut parts = Vec::new();
    let mut p = at;
    while let Some(n) = p {
        parts.push(n.part);
        p = n.up;
    }
    parts.reverse();
    render(&parts)
}

fn render(path: &[Part<'_>]) -> String {
    let mut s = String::new();
    for p in path {
        match p {
            Part::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Part::Index(i) => {
                s.push('[');
                s.push_str(&i.to_string());
                s.push(']');
            }
        }
    }
    s
}

/// Which rule an event broke. [`Rule::as_str`] is bounded and usable as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// The line is not JSON (NDJSON only).
    InvalidJson,
    /// The event is not a JSON object.
    NotAnObject,
    /// `class_uid` is not a class of this schema version.
    UnknownClass,
    /// A required attribute is absent or null.
    MissingRequired,
    /// An attribute the class/object does not define.
    UnknownAttribute,
    /// Wrong JSON type (including array vs scalar).
    TypeMismatch,
    /// A value outside the attribute's enum.
    EnumValue,
    /// `category_uid` is not the class's category.
    CategoryMismatch,
    /// `type_uid` is not `class_uid * 100 + activity_id`.
    TypeUidMismatch,
    /// Objects nested deeper than [`MAX_DEPTH`]; the rest of that branch is not checked.
    TooDeep,
    /// An NDJSON line longer than [`MAX_LINE_BYTES`] (skipped unread).
    LineTooLong,
}

impl Rule {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::InvalidJson => "invalid_json",
            Rule::NotAnObject => "not_an_object",
            Rule::UnknownClass => "unknown_class",
            Rule::MissingRequired => "missing_required",
            Rule::UnknownAttribute => "unknown_attribute",
            Rule::TypeMismatch => "type_mismatch",
            Rule::EnumValue => "enum_value",
            Rule::CategoryMismatch => "category_mismatch",
            Rule::TypeUidMismatch => "type_uid_mismatch",
            Rule::TooDeep => "too_deep",
            Rule::LineTooLong => "line_too_long",
        }
    }
}

/// One problem in one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// JSON path, e.g. `evidences[0].email.from`; empty for the event itself.
    pub path: String,
    /// The rule broken.
    pub rule: Rule,
    /// What was wrong, e.g. `expected string, got number`.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "(event)"
        } else {
            &self.path
        };
        write!(f, "{path}: {}", self.message)
    }
}

/// Result of [`validate_ndjson`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Non-blank lines read.
    pub lines: u64,
    /// Events without errors.
    pub valid: u64,
    /// Lines with at least one error (including lines that are not JSON).
    pub invalid: u64,
    /// Error count per [`Rule::as_str`].
    pub errors_by_rule: BTreeMap<&'static str, u64>,
    /// The read error that ended the stream early, if any.
    pub io_error: Option<String>,
}

/// Validates newline-delimited OCSF events from `reader`. Blank lines are skipped; a line that
/// is not JSON counts as invalid (`invalid_json`) and the stream continues; so does a line over
/// [`MAX_LINE_BYTES`] (`line_too_long`). An I/O error ends the stream and is recorded in
/// [`Summary::io_error`].
pub fn validate_ndjson<R: BufRead>(mut reader: R, schema: &Schema) -> Summary {
    let mut s = Summary::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut reader)
            .take(MAX_LINE_BYTES + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                s.io_error = Some(e.to_string());
                break;
            }
        }
        let too_long = line.len() as u64 > MAX_LINE_BYTES && line.last() != Some(&b'\n');
        if too_long {
            if let Err(e) = skip_line(&mut reader) {
                s.io_error = Some(e.to_string());
            }
        } else if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        s.lines += 1;
        let parsed = if too_long {
            Err(ValidationError {
                path: String::new(),
                rule: Rule::LineTooLong,
                message: format!("line longer than {MAX_LINE_BYTES} bytes"),
            })
        } else {
            serde_json::from_slice::<Value>(&line).map_err(|e| ValidationError {
                path: String::new(),
                rule: Rule::InvalidJson,
                message: e.to_string(),
            })
        };
        let errors = match parsed {
            Ok(v) => schema.validate(&v),
            Err(e) => vec![e],
        };
        if errors.is_empty() {
            s.valid += 1;
        } else {
            s.invalid += 1;
        }
        for e in errors {
            *s.errors_by_rule.entry(e.rule.as_str()).or_insert(0) += 1;
        }
        if s.io_error.is_some() {
            break;
        }
    }
    s
}

/// Discards input up to and including the next newline (or to the end).
fn skip_line<R: BufRead>(reader: &mut R) -> std::io::Result<()> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match memchr_newline(buf) {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
}

fn memchr_newline(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n')
}

impl Schema {
    /// The OCSF 1.8.0 table embedded at build time. Parses ~430 KB of JSON: build one
    /// `Schema` and reuse it rather than calling this per event.
    pub fn embedded() -> Schema {
        let table: Table = serde_json::from_str(EMBEDDED)
            .expect("the embedded OCSF table is valid JSON of the Table shape (tested)");
        Schema::from_table(table)
    }

    /// The embedded table parsed once per process and shared.
    pub fn shared() -> &'static Schema {
        static SCHEMA: std::sync::OnceLock<Schema> = std::sync::OnceLock::new();
        SCHEMA.get_or_init(Schema::embedded)
    }

    /// Wraps a table (e.g. fresh from [`crate::compile()`]).
    pub fn from_table(table: Table) -> Schema {
        let compiled = Compiled::new(&table);
        Schema { table, compiled }
    }

    /// The underlying table.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Validates one event; an empty result means valid.
    pub fn validate(&self, event: &Value) -> Vec<ValidationError> {
        let mut out = Vec::new();
        let Some(obj) = event.as_object() else {
            push_at(
                &mut out,
                "",
                Rule::NotAnObject,
                format!("expected object, got {}", kind(event)),
            );
            return out;
        };
        // The event-level attributes read here, in one pass over the event's keys.
        let mut class_uid = None;
        let mut metadata = None;
        let mut category_uid = None;
        let mut type_uid = None;
        let mut activity_id = None;
        for (k, v) in obj {
            match k.as_str() {
                "class_uid" => class_uid = Some(v),
                "metadata" => metadata = Some(v),
                "category_uid" => category_uid = Some(v),
                "type_uid" => type_uid = Some(v),
                "activity_id" => activity_id = Some(v),
                _ => {}
            }
        }
        let class_uid = match class_uid {
            None | Some(Value::Null) => {
                push_at(
                    &mut out,
                    "class_uid",
                    Rule::MissingRequired,
                    "required attribute missing".into(),
                );
                return out;
            }
            Some(v) => match v.as_u64() {
                Some(u) => u,
                None => {
                    push_at(
                        &mut out,
                        "class_uid",
                        Rule::TypeMismatch,
                        format!("expected integer, got {}", kind(v)),
                    );
                    return out;
                }
            },
        };
        let Some((class, node)) = u32::try_from(class_uid)
            .ok()
            .and_then(|u| self.compiled.class(u))
            .and_then(|c| Some((c, self.compiled.node(c.node)?)))
        else {
            push_at(
                &mut out,
                "class_uid",
                Rule::UnknownClass,
                format!("unknown class {class_uid} in OCSF {}", self.table.version),
            );
            return out;
        };
        let profiles = metadata
            .and_then(Value::as_object)
            .and_then(|m| m.iter().find(|(k, _)| k.as_str() == "profiles"))
            .and_then(|(_, p)| p.as_array())
            .map_or(&[][..], Vec::as_slice);
        let cx = Cx {
            nodes: &self.compiled.nodes,
            profiles,
        };
        cx.check_object(obj, node, None, 0, &mut out);

        if let Some(cat) = category_uid.and_then(Value::as_u64) {
            if cat != u64::from(class.category_uid) {
                push_at(
                    &mut out,
                    "category_uid",
                    Rule::CategoryMismatch,
                    format!(
                        "class {class_uid} is in category {}, got {cat}",
                        class.category_uid
                    ),
                );
            }
        }
        if let (Some(tu), Some(act)) = (
            type_uid.and_then(Value::as_i64),
            activity_id.and_then(Value::as_i64),
        ) {
            let want = i64::from(class.uid)
                .checked_mul(100)
                .and_then(|c| c.checked_add(act));
            if want != Some(tu) {
                let want = want.map_or_else(|| "overflow".to_owned(), |w| w.to_string());
                push_at(
                    &mut out,
                    "type_uid",
                    Rule::TypeUidMismatch,
                    format!("expected {want} (class_uid * 100 + activity_id), got {tu}"),
                );
            }
        }
        out
    }
}

struct Cx<'a> {
    nodes: &'a [Node],
    /// `metadata.profiles` (its strings are the applied profiles).
    profiles: &'a [Value],
}

impl<'a> Cx<'a> {
    fn applied(&self, profile: &str) -> bool {
        self.profiles.iter().any(|p| p.as_str() == Some(profile))
    }

    fn check_object(
        &self,
        obj: &'a Map<String, Value>,
        node: &'a Node,
        at: Option<&Path<'_, 'a>>,
        depth: usize,
        out: &mut Vec<ValidationError>,
    ) {
        if depth > MAX_DEPTH {
            push(
                out,
                at,
                Rule::TooDeep,
                format!("objects nested deeper than {MAX_DEPTH}"),
            );
            return;
        }
        // Missing required attributes are reported before anything else of this object; they
        // are known after the walk and inserted here.
        let start = out.len();
        let mut seen = 0u64;
        for (name, value) in obj {
            let here = Path {
                part: Part::Key(name),
                up: at,
            };
            let Some(attr) = node.attr(name) else {
                push(
                    out,
                    Some(&here),
                    Rule::UnknownAttribute,
                    "attribute not defined here".into(),
                );
                continue;
            };
            if value.is_null() {
                continue;
            }
            seen |= attr.req_bit;
            if attr.is_array {
                match value {
                    Value::Array(items) => {
                        for (i, item) in items.iter().enumerate() {
                            let el = Path {
                                part: Part::Index(i),
                                up: Some(&here),
                            };
                            self.check_value(item, attr, &el, depth, out);
                        }
                    }
                    _ => push(
                        out,
                        Some(&here),
                        Rule::TypeMismatch,
                        format!("expected array, got {}", kind(value)),
                    ),
                }
            } else {
                self.check_value(value, attr, &here, depth, out);
            }
        }
        if seen & node.required_mask != node.required_mask || node.required.len() > 64 {
            self.missing_required(obj, node, seen, at, start, out);
        }
    }

    /// Reports the required attributes absent (or null) from `obj`, in name order, at `start`.
    #[cold]
    fn missing_required(
        &self,
        obj: &'a Map<String, Value>,
        node: &'a Node,
        seen: u64,
        at: Option<&Path<'_, 'a>>,
        start: usize,
        out: &mut Vec<ValidationError>,
    ) {
        let mut missing = Vec::new();
        for (i, r) in node.required.iter().enumerate() {
            let present = if i < 64 {
                seen >> i & 1 == 1
            } else {
                obj.get(&*r.name).is_some_and(|v| !v.is_null())
            };
            if present || !r.profile.as_deref().is_none_or(|p| self.applied(p)) {
                continue;
            }
            let here = Path {
                part: Part::Key(&r.name),
                up: at,
            };
            push(
                &mut missing,
                Some(&here),
                Rule::MissingRequired,
                "required attribute missing".into(),
            );
        }
        if !missing.is_empty() {
            drop(out.splice(start..start, missing));
        }
    }

    /// Checks one scalar or object value (an array element, or a non-array attribute).
    #[inline]
    fn check_value(
        &self,
        value: &'a Value,
        attr: &'a CAttr,
        at: &Path<'_, 'a>,
        depth: usize,
        out: &mut Vec<ValidationError>,
    ) {
        match attr.kind {
            Kind::Scalar(s) => {
                let ok =
                    s.accepts(value) && attr.allowed.as_ref().is_none_or(|e| e.contains(value));
                if !ok {
                    scalar_error(value, attr, s, at, out);
                }
            }
            Kind::Object(i) => self.check_nested(value, i, at, depth, out),
            // Free-form object such as `unmapped`: contents are not checked.
            Kind::FreeObject => {
                if !value.is_object() {
                    push(
                        out,
                        Some(at),
                        Rule::TypeMismatch,
                        format!("expected object, got {}", kind(value)),
                    );
                }
            }
            Kind::Unchecked => {}
        }
    }

    /// Checks a value of an object attribute (node `i`).
    fn check_nested(
        &self,
        value: &'a Value,
        i: u32,
        at: &Path<'_, 'a>,
        depth: usize,
        out: &mut Vec<ValidationError>,
    ) {
        let Some(node) = self.nodes.get(usize::try_from(i).unwrap_or(usize::MAX)) else {
            return;
        };
        match value {
            Value::Object(o) => self.check_object(o, node, Some(at), depth + 1, out),
            _ => push(
                out,
                Some(at),
                Rule::TypeMismatch,
                format!("expected object {}, got {}", node.name, kind(value)),
            ),
        }
    }
}

/// Reports a scalar of the wrong JSON type, or outside the attribute's enum.
#[cold]
fn scalar_error(
    value: &Value,
    attr: &CAttr,
    s: Scalar,
    at: &Path<'_, '_>,
    out: &mut Vec<ValidationError>,
) {
    if !s.accepts(value) {
        push(
            out,
            Some(at),
            Rule::TypeMismatch,
            format!("expected {}, got {}", s.name(), kind(value)),
        );
    } else if let Some(allowed) = &attr.allowed {
        push(
            out,
            Some(at),
            Rule::EnumValue,
            format!(
                "value {value} not in enum {}",
                Value::from(allowed.values.clone())
            ),
        );
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn push_at(out: &mut Vec<ValidationError>, path: &str, rule: Rule, message: String) {
    out.push(ValidationError {
        path: path.to_owned(),
        rule,
        message,
    });
}

#[cold]
fn push(out: &mut Vec<ValidationError>, at: Option<&Path<'_, '_>>, rule: Rule, message: String) {
    out.push(ValidationError {
        path: render_path(at),
        rule,
        message,
    });
}

/// The validator as it was before the compiled form: string-keyed lookups in the [`Table`] per
/// value. Kept to check that [`Schema::validate`] reports exactly the same errors.
#[cfg(test)]
mod reference {
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    use serde_json::{Map, Value};

    use super::{kind, push_at, render, Part, Rule, Schema, ValidationError, MAX_DEPTH};
    use crate::table::{Attr, Requirement, Table};

    /// `(attribute, profile)` pairs that are required, per class and per object.
    #[derive(Debug, Clone, Default)]
    struct Required {
        classes: HashMap<u32, Vec<(String, Option<String>)>>,
        objects: HashMap<String, Vec<(String, Option<String>)>>,
    }

    impl Required {
        fn of(table: &Table) -> Required {
            let req = |attrs: &BTreeMap<String, Attr>| -> Vec<(String, Option<String>)> {
                attrs
                    .iter()
                    .filter(|(_, a)| a.requirement() == Requirement::Required)
                    .map(|(n, a)| (n.clone(), a.profile().map(str::to_owned)))
                    .collect()
            };
            Required {
                classes: table
                    .classes
                    .iter()
                    .map(|(u, c)| (*u, req(&c.attributes)))
                    .collect(),
                objects: table
                    .objects
                    .iter()
                    .map(|(n, o)| (n.clone(), req(&o.attributes)))
                    .collect(),
            }
        }
    }

    fn push(out: &mut Vec<ValidationError>, path: &[Part<'_>], rule: Rule, message: String) {
        out.push(ValidationError {
            path: render(path),
            rule,
            message,
        });
    }

    fn expected_name(base: &str) -> &str {
        match base {
            "integer_t" | "long_t" => "integer",
            other => other.strip_suffix("_t").unwrap_or(other),
        }
    }

    impl Schema {
        /// The previous `validate`, unchanged.
        pub(super) fn validate_reference(&self, event: &Value) -> Vec<ValidationError> {
            let required = Required::of(&self.table);
            let mut out = Vec::new();
            let Some(obj) = event.as_object() else {
                push_at(
                    &mut out,
                    "",
                    Rule::NotAnObject,
                    format!("expected object, got {}", kind(event)),
                );
                return out;
            };
            let class_uid = match obj.get("class_uid") {
                None | Some(Value::Null) => {
                    push_at(
                        &mut out,
                        "class_uid",
                        Rule::MissingRequired,
                        "required attribute missing".into(),
                    );
                    return out;
                }
                Some(v) => match v.as_u64() {
                    Some(u) => u,
                    None => {
                        push_at(
                            &mut out,
                            "class_uid",
                            Rule::TypeMismatch,
                            format!("expected integer, got {}", kind(v)),
                        );
                        return out;
                    }
                },
            };
            let Some(class) = u32::try_from(class_uid)
                .ok()
                .and_then(|u| self.table.classes.get(&u))
            else {
                push_at(
                    &mut out,
                    "class_uid",
                    Rule::UnknownClass,
                    format!("unknown class {class_uid} in OCSF {}", self.table.version),
                );
                return out;
            };
            let profiles: BTreeSet<&str> = obj
                .get("metadata")
                .and_then(|m| m.get("profiles"))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let cx = Cx {
                table: &self.table,
                required: &required,
                profiles,
            };
            let req = required
                .classes
                .get(&class.uid)
                .map_or(&[][..], Vec::as_slice);
            let mut path = Vec::with_capacity(8);
            cx.check_object(
                obj,
                &class.attributes,
                req,
                &class.enums,
                &mut path,
                0,
                &mut out,
            );

            if let Some(cat) = obj.get("category_uid").and_then(Value::as_u64) {
                if cat != u64::from(class.category_uid) {
                    push_at(
                        &mut out,
                        "category_uid",
                        Rule::CategoryMismatch,
                        format!(
                            "class {class_uid} is in category {}, got {cat}",
                            class.category_uid
                        ),
                    );
                }
            }
            if let (Some(tu), Some(act)) = (
                obj.get("type_uid").and_then(Value::as_i64),
                obj.get("activity_id").and_then(Value::as_i64),
            ) {
                let want = i64::from(class.uid)
                    .checked_mul(100)
                    .and_then(|c| c.checked_add(act));
                if want != Some(tu) {
                    let want = want.map_or_else(|| "overflow".to_owned(), |w| w.to_string());
                    push_at(
                        &mut out,
                        "type_uid",
                        Rule::TypeUidMismatch,
                        format!("expected {want} (class_uid * 100 + activity_id), got {tu}"),
                    );
                }
            }
            out
        }
    }

    struct Cx<'a> {
        table: &'a Table,
        required: &'a Required,
        profiles: BTreeSet<&'a str>,
    }

    impl<'a> Cx<'a> {
        #[allow(clippy::too_many_arguments)]
        fn check_object<'v>(
            &self,
            obj: &'v Map<String, Value>,
            attrs: &'a BTreeMap<String, Attr>,
            required: &'a [(String, Option<String>)],
            enums: &'a BTreeMap<String, Vec<Value>>,
            path: &mut Vec<Part<'v>>,
            depth: usize,
            out: &mut Vec<ValidationError>,
        ) where
            'a: 'v,
        {
            if depth > MAX_DEPTH {
                push(
                    out,
                    path,
                    Rule::TooDeep,
                    format!("objects nested deeper than {MAX_DEPTH}"),
                );
                return;
            }
            for (name, profile) in required {
                let applies = profile.as_deref().is_none_or(|p| self.profiles.contains(p));
                if applies && obj.get(name).is_none_or(Value::is_null) {
                    path.push(Part::Key(name));
                    push(
                        out,
                        path,
                        Rule::MissingRequired,
                        "required attribute missing".into(),
                    );
                    path.pop();
                }
            }
            for (name, value) in obj {
                path.push(Part::Key(name));
                match attrs.get(name) {
                    None => push(
                        out,
                        path,
                        Rule::UnknownAttribute,
                        "attribute not defined here".into(),
                    ),
                    Some(_) if value.is_null() => {}
                    Some(attr) => {
                        let allowed = enums.get(name);
                        if attr.is_array() {
                            match value.as_array() {
                                Some(items) => {
                                    for (i, item) in items.iter().enumerate() {
                                        path.push(Part::Index(i));
                                        self.check_value(item, attr, allowed, path, depth, out);
                                        path.pop();
                                    }
                                }
                                None => push(
                                    out,
                                    path,
                                    Rule::TypeMismatch,
                                    format!("expected array, got {}", kind(value)),
                                ),
                            }
                        } else {
                            self.check_value(value, attr, allowed, path, depth, out);
                        }
                    }
                }
                path.pop();
            }
        }

        /// Checks one scalar or object value (an array element, or a non-array attribute).
        fn check_value<'v>(
            &self,
            value: &'v Value,
            attr: &'a Attr,
            allowed: Option<&Vec<Value>>,
            path: &mut Vec<Part<'v>>,
            depth: usize,
            out: &mut Vec<ValidationError>,
        ) where
            'a: 'v,
        {
            let ty = attr.type_name();
            if ty == "object" {
                // Free-form object such as `unmapped`: contents are not checked.
                if !value.is_object() {
                    push(
                        out,
                        path,
                        Rule::TypeMismatch,
                        format!("expected object, got {}", kind(value)),
                    );
                }
                return;
            }
            if let Some(base) = self.table.types.get(ty) {
                let ok = match base.as_str() {
                    "string_t" => value.is_string(),
                    "integer_t" | "long_t" => value.is_i64() || value.is_u64(),
                    "float_t" => value.is_number(),
                    "boolean_t" => value.is_boolean(),
                    _ => true, // json_t and anything unknown: any JSON
                };
                if !ok {
                    push(
                        out,
                        path,
                        Rule::TypeMismatch,
                        format!("expected {}, got {}", expected_name(base), kind(value)),
                    );
                    return;
                }
                if let Some(allowed) = allowed {
                    if !allowed.contains(value) {
                        push(
                            out,
                            path,
                            Rule::EnumValue,
                            format!("value {value} not in enum {}", Value::from(allowed.clone())),
                        );
                    }
                }
                return;
            }
            if let Some(def) = self.table.objects.get(ty) {
                match value.as_object() {
                    Some(o) => {
                        let req = self.required.objects.get(ty).map_or(&[][..], Vec::as_slice);
                        self.check_object(
                            o,
                            &def.attributes,
                            req,
                            &def.enums,
                            path,
                            depth + 1,
                            out,
                        );
                    }
                    None => push(
                        out,
                        path,
                        Rule::TypeMismatch,
                        format!("expected object {ty}, got {}", kind(value)),
                    ),
                }
            }
            // A type name absent from the table is not checked (the compiler never emits one).
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::{Path as FsPath, PathBuf};
    use std::sync::LazyLock;

    use proptest::prelude::*;
    use serde_json::{json, Map, Value};

    use super::{hash_name, Schema};
    use crate::table::{Attr, ClassDef, ObjectDef, Requirement, Table};

    static SCHEMA: LazyLock<Schema> = LazyLock::new(Schema::embedded);

    /// The official OCSF example mappings (see `tests/examples.rs`).
    const EXAMPLES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/ocsf/examples/mappings"
    );
    /// Shrike's own mapping fixtures: what the normalizer emits.
    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../content/mappings");

    /// A valid Detection Finding.
    const DETECTION_FINDING: &str = r#"{
        "activity_id": 1, "activity_name": "Create", "category_uid": 2,
        "category_name": "Findings", "class_uid": 2004, "class_name": "Detection Finding",
        "type_uid": 200401, "type_name": "Detection Finding: Create",
        "time": 1763900000000, "severity_id": 4, "severity": "High", "status_id": 1,
        "status": "New", "is_alert": true, "confidence_score": 93,
        "message": "Phishing email: score 0.930",
        "metadata": {"version": "1.8.0", "log_name": "email_triage",
            "product": {"name": "Shrike", "vendor_name": "Shrike", "version": "0.1.0"}},
        "finding_info": {"uid": "shrike-email-0001", "title": "Phishing email",
            "types": ["Phishing"],
            "analytic": {"name": "email-gbdt", "uid": "abc", "type_id": 4,
                "type": "Learning (ML/DL)"}},
        "evidences": [{"email": {"from": "alice@example.com", "to": ["bob@example.org"],
            "subject": "Invoice", "message_uid": "<m1@example.com>", "size": 2048,
            "files": [{"name": "invoice.pdf", "type_id": 1, "size": 1000,
                "hashes": [{"algorithm_id": 3, "algorithm": "SHA-256", "value": "00ff"}]}]}}],
        "observables": [{"name": "evidences[0].email.from", "type_id": 5,
            "value": "alice@example.com"}],
        "unmapped": {"shrike": {"score": 0.93, "anything": [1, "two"]}}
    }"#;

    /// A Process Activity with the cloud and container profiles applied (so their required
    /// attributes count), a parent chain and an extension attribute.
    const PROCESS_ACTIVITY: &str = r#"{
        "activity_id": 1, "category_uid": 1, "class_uid": 1007, "type_uid": 100701,
        "time": 1763900000000, "severity_id": 1, "launch_type_id": 1,
        "metadata": {"version": "1.8.0", "profiles": ["cloud", "container", "host"],
            "product": {"name": "Sysmon", "vendor_name": "Microsoft"}},
        "cloud": {"provider": "AWS", "region": "eu-west-1"},
        "device": {"type_id": 1, "hostname": "h1", "os": {"name": "Windows", "type_id": 100}},
        "actor": {"user": {"name": "bob", "type_id": 1},
            "process": {"pid": 1, "name": "init", "parent_process": {"pid": 0}}},
        "process": {"pid": 42, "name": "cmd.exe", "cmd_line": "cmd /c",
            "container": {"name": "c1", "uid": "abc"},
            "file": {"name": "cmd.exe", "type_id": 1, "path": "C:\\cmd.exe",
                "hashes": [{"algorithm_id": 1, "value": "00"}]},
            "hosted_services": [{"name": "svc"}],
            "parent_process": {"pid": 41, "parent_process": {"pid": 40}}},
        "observables": [{"name": "process.name", "type_id": 9, "value": "cmd.exe"}]
    }"#;

    fn files(dir: &FsPath, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|e| e == "ocsf" || e == "json") {
                out.push(p);
            }
        }
    }

    /// Events with a `class_uid` from the official examples and Shrike's expected outputs (when
    /// present), and the hand-written ones (always).
    static CORPUS: LazyLock<Vec<Value>> = LazyLock::new(|| {
        let mut out = Vec::new();
        for s in [DETECTION_FINDING, PROCESS_ACTIVITY] {
            out.push(serde_json::from_str(s).expect("hand-written event is JSON"));
        }
        let mut paths = Vec::new();
        files(FsPath::new(EXAMPLES), &mut paths);
        files(FsPath::new(FIXTURES), &mut paths);
        for p in paths {
            let Ok(bytes) = std::fs::read(&p) else {
                continue;
            };
            let events = match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Array(a)) => a,
                Ok(v) => vec![v],
                Err(_) => continue,
            };
            out.extend(events.into_iter().filter(|e| e.get("class_uid").is_some()));
        }
        out
    });

    /// Every attribute name of the table, and a few that are not.
    static NAMES: LazyLock<Vec<String>> = LazyLock::new(|| names_of(SCHEMA.table()));

    fn names_of(t: &Table) -> Vec<String> {
        let mut n: Vec<String> = t
            .classes
            .values()
            .flat_map(|c| c.attributes.keys())
            .chain(t.objects.values().flat_map(|o| o.attributes.keys()))
            .cloned()
            .collect();
        n.extend(["".into(), "Score".into(), "profiles".into()]);
        n.sort();
        n.dedup();
        n
    }

    fn profiles_of(t: &Table) -> Vec<String> {
        let mut p: Vec<String> = t
            .classes
            .values()
            .flat_map(|c| c.attributes.values())
            .chain(t.objects.values().flat_map(|o| o.attributes.values()))
            .filter_map(|a| a.profile().map(str::to_owned))
            .collect();
        p.push("no_such_profile".into());
        p.sort();
        p.dedup();
        p
    }

    fn check(schema: &Schema, ev: &Value) -> Result<(), TestCaseError> {
        let got = schema.validate(ev);
        let want = schema.validate_reference(ev);
        prop_assert_eq!(got, want, "event: {}", ev);
        Ok(())
    }

    #[derive(Debug, Clone)]
    enum Seg {
        Key(String),
        Index(usize),
    }

    /// Paths of every object and array in `v`, `v` first.
    fn containers(v: &Value, at: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
        match v {
            Value::Object(m) => {
                out.push(at.clone());
                for (k, x) in m {
                    at.push(Seg::Key(k.clone()));
                    containers(x, at, out);
                    at.pop();
                }
            }
            Value::Array(a) => {
                out.push(at.clone());
                for (i, x) in a.iter().enumerate() {
                    at.push(Seg::Index(i));
                    containers(x, at, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }

    fn get_mut<'v>(v: &'v mut Value, path: &[Seg]) -> Option<&'v mut Value> {
        let mut cur = v;
        for s in path {
            cur = match s {
                Seg::Key(k) => cur.as_object_mut()?.get_mut(k)?,
                Seg::Index(i) => cur.as_array_mut()?.get_mut(*i)?,
            };
        }
        Some(cur)
    }

    /// One change to an event: `target` picks an object or array of the event (mod their count),
    /// `Op` says what happens to it (members picked mod their count).
    #[derive(Debug, Clone)]
    enum Op {
        Remove(usize),
        Set(usize, Value),
        Add(String, Value),
        Null(usize),
        Wrap(usize),
        Unwrap(usize),
        /// The member becomes a copy of another object/array of the event (nesting).
        Graft(usize, usize),
        /// `metadata.profiles` becomes this.
        Profiles(Vec<Value>),
        /// `class_uid` becomes this.
        Class(Value),
    }

    fn member_mut(c: &mut Value, n: usize) -> Option<&mut Value> {
        match c {
            Value::Object(m) if !m.is_empty() => {
                let len = m.len();
                m.values_mut().nth(n % len)
            }
            Value::Array(a) if !a.is_empty() => {
                let len = a.len();
                a.get_mut(n % len)
            }
            _ => None,
        }
    }

    fn apply(ev: &mut Value, target: usize, op: &Op) {
        let mut all = Vec::new();
        containers(ev, &mut Vec::new(), &mut all);
        if all.is_empty() {
            return;
        }
        match op {
            Op::Profiles(p) => {
                if !ev["metadata"].is_object() {
                    ev["metadata"] = json!({});
                }
                ev["metadata"]["profiles"] = Value::Array(p.clone());
                return;
            }
            Op::Class(c) => {
                if let Some(m) = ev.as_object_mut() {
                    m.insert("class_uid".into(), c.clone());
                }
                return;
            }
            _ => {}
        }
        let path = &all[target % all.len()];
        let graft = match op {
            Op::Graft(_, from) => {
                let from = &all[from % all.len()];
                let mut copy = ev.clone();
                get_mut(&mut copy, from).map(|v| v.clone())
            }
            _ => None,
        };
        let Some(c) = get_mut(ev, path) else {
            return;
        };
        match op {
            Op::Remove(n) => match c {
                Value::Object(m) if !m.is_empty() => {
                    let k = m.keys().nth(n % m.len()).cloned();
                    if let Some(k) = k {
                        m.remove(&k);
                    }
                }
                Value::Array(a) if !a.is_empty() => {
                    let len = a.len();
                    a.remove(n % len);
                }
                _ => {}
            },
            Op::Set(n, v) => {
                if let Some(x) = member_mut(c, *n) {
                    *x = v.clone();
                }
            }
            Op::Add(k, v) => match c {
                Value::Object(m) => {
                    m.insert(k.clone(), v.clone());
                }
                Value::Array(a) => a.push(v.clone()),
                _ => {}
            },
            Op::Null(n) => {
                if let Some(x) = member_mut(c, *n) {
                    *x = Value::Null;
                }
            }
            Op::Wrap(n) => {
                if let Some(x) = member_mut(c, *n) {
                    *x = Value::Array(vec![x.take()]);
                }
            }
            Op::Unwrap(n) => {
                if let Some(x) = member_mut(c, *n) {
                    let first = match x {
                        Value::Array(a) => a.first().cloned(),
                        Value::Object(m) => m.values().next().cloned(),
                        _ => None,
                    };
                    if let Some(f) = first {
                        *x = f;
                    }
                }
            }
            Op::Graft(n, _) => {
                if let (Some(x), Some(g)) = (member_mut(c, *n), graft) {
                    *x = g;
                }
            }
            Op::Profiles(_) | Op::Class(_) => {}
        }
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            prop::sample::select(vec![
                0_i64,
                1,
                2,
                3,
                7,
                63,
                64,
                99,
                100,
                1000,
                -1,
                i64::MIN,
                i64::MAX
            ])
            .prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            Just(Value::from(u64::MAX)),
            prop::sample::select(vec![0.0_f64, 1.0, 2.0, 0.5, -0.0, 99.0]).prop_map(Value::from),
            prop::sample::select(vec!["", "High", "cloud", "Windows", "a", "x"])
                .prop_map(Value::from),
            ".{0,6}".prop_map(Value::from),
        ]
    }

    fn value(names: Vec<String>) -> impl Strategy<Value = Value> {
        scalar().prop_recursive(3, 24, 4, move |inner| {
            let key = prop_oneof![
                prop::sample::select(names.clone()),
                "[a-z_]{1,8}".prop_map(String::from)
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key, inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    fn op(
        names: Vec<String>,
        profiles: Vec<String>,
        classes: Vec<u32>,
    ) -> impl Strategy<Value = Op> {
        let n = any::<usize>();
        let key = prop_oneof![
            3 => prop::sample::select(names.clone()),
            1 => "[a-z_]{1,8}".prop_map(String::from),
        ];
        let profile = prop_oneof![
            4 => prop::sample::select(profiles).prop_map(Value::from),
            1 => scalar(),
        ];
        let class = prop_oneof![
            4 => prop::sample::select(classes).prop_map(Value::from),
            1 => scalar(),
        ];
        prop_oneof![
            3 => n.prop_map(Op::Remove),
            3 => (n, value(names.clone())).prop_map(|(n, v)| Op::Set(n, v)),
            3 => (key, value(names)).prop_map(|(k, v)| Op::Add(k, v)),
            1 => n.prop_map(Op::Null),
            1 => n.prop_map(Op::Wrap),
            1 => n.prop_map(Op::Unwrap),
            1 => (n, n).prop_map(|(a, b)| Op::Graft(a, b)),
            1 => prop::collection::vec(profile, 0..4).prop_map(Op::Profiles),
            1 => class.prop_map(Op::Class),
        ]
    }

    fn mutations(schema: &Schema) -> impl Strategy<Value = Vec<(usize, Op)>> {
        let t = schema.table();
        let classes: Vec<u32> = t.classes.keys().copied().chain([9999]).collect();
        prop::collection::vec(
            (any::<usize>(), op(names_of(t), profiles_of(t), classes)),
            1..6,
        )
    }

    #[test]
    fn corpus_events_agree_with_the_reference() {
        let corpus = &*CORPUS;
        eprintln!("{} corpus events", corpus.len());
        let mut invalid = 0;
        for ev in corpus {
            let got = SCHEMA.validate(ev);
            assert_eq!(got, SCHEMA.validate_reference(ev), "event: {ev}");
            invalid += usize::from(!got.is_empty());
        }
        eprintln!("{invalid} of them invalid");
    }

    #[test]
    fn hand_written_events_are_valid() {
        for s in [DETECTION_FINDING, PROCESS_ACTIVITY] {
            let v: Value = serde_json::from_str(s).expect("JSON");
            assert_eq!(SCHEMA.validate(&v), vec![], "{v}");
        }
    }

    #[test]
    fn every_attribute_is_found_and_nothing_else() {
        let c = &SCHEMA.compiled;
        let t = SCHEMA.table();
        let defs = t
            .objects
            .values()
            .map(|o| &o.attributes)
            .chain(t.classes.values().map(|c| &c.attributes));
        let mut probes = 0usize;
        let mut attrs = 0usize;
        for (node, def) in c.nodes.iter().zip(defs) {
            for name in def.keys() {
                let a = node.attr(name).map(|a| &*a.name);
                assert_eq!(a, Some(name.as_str()));
                attrs += 1;
                let mut s = super::slot_of(hash_name(name), node.shift);
                loop {
                    probes += 1;
                    let i = node.slots[s] as usize;
                    if &*node.attrs[i - 1].name == name.as_str() {
                        break;
                    }
                    s = (s + 1) & (node.slots.len() - 1);
                }
            }
            for name in NAMES.iter().filter(|n| !def.contains_key(*n)) {
                assert!(node.attr(name).is_none(), "{} has no {name}", node.name);
            }
        }
        eprintln!("{attrs} attributes, {probes} probes to find them all");
        assert!(
            probes < attrs * 3 / 2,
            "{probes} probes for {attrs} attributes"
        );
    }

    #[test]
    fn enum_sets_agree_with_vec_contains() {
        let odd = odd_table();
        let lists: Vec<&Vec<Value>> = [SCHEMA.table(), &odd]
            .into_iter()
            .flat_map(|t| {
                t.classes
                    .values()
                    .flat_map(|c| c.enums.values())
                    .chain(t.objects.values().flat_map(|o| o.enums.values()))
            })
            .collect();
        let mut candidates: Vec<Value> = (-2..=130).map(Value::from).collect();
        candidates.extend(lists.iter().flat_map(|l| l.iter().cloned()));
        candidates.extend([
            json!(1000),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(u64::MAX - 1),
            json!(0.0),
            json!(-0.0),
            json!(1.0),
            json!(2.0),
            json!(2.5),
            json!(99.0),
            json!(""),
            json!("x"),
            json!("1"),
            json!(true),
            json!(false),
            Value::Null,
            json!([1]),
            json!({"k": 1}),
        ]);
        for l in lists {
            let e = super::Enum::new(l);
            for c in &candidates {
                assert_eq!(e.contains(c), l.contains(c), "{c} in {l:?}");
            }
        }
    }

    #[test]
    fn deep_nesting_agrees_with_the_reference() {
        for depth in [60, 63, 64, 65, 66, 80] {
            let mut p = json!({"pid": 1});
            for _ in 0..depth {
                let mut m = Map::new();
                m.insert("pid".into(), Value::from("x"));
                m.insert("parent_process".into(), p);
                p = Value::Object(m);
            }
            let mut v: Value = serde_json::from_str(DETECTION_FINDING).expect("JSON");
            v["evidences"][0]["process"] = p;
            assert_eq!(SCHEMA.validate(&v), SCHEMA.validate_reference(&v));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn mutated_events_agree_with_the_reference(
            pick in any::<usize>(),
            muts in mutations(&SCHEMA),
        ) {
            let corpus = &*CORPUS;
            let mut ev = corpus[pick % corpus.len()].clone();
            for (target, op) in &muts {
                apply(&mut ev, *target, op);
            }
            check(&SCHEMA, &ev)?;
        }

        #[test]
        fn same_name_is_string_equality(a in "[ab\u{e9}]{0,20}", b in "[ab\u{e9}]{0,20}") {
            prop_assert_eq!(super::same_name(&a, &b), a == b);
            prop_assert!(super::same_name(&a, &a.clone()));
        }

        #[test]
        fn arbitrary_json_agrees_with_the_reference(v in value(NAMES.clone())) {
            check(&SCHEMA, &v)?;
            let mut ev: Value = serde_json::from_str(DETECTION_FINDING).expect("JSON");
            ev["evidences"][0]["process"] = v;
            check(&SCHEMA, &ev)?;
        }
    }

    fn attr(ty: &str, is_array: bool, req: Requirement, profile: Option<&str>) -> Attr {
        Attr(ty.into(), is_array, req, profile.map(str::to_owned))
    }

    /// A table made to reach the validator's fallbacks: more than 64 required attributes,
    /// enums that are not all `i64`s or all strings (and integer enums on float / json
    /// attributes), a base type the validator does not know, a type that is also an object, a
    /// type absent from the table, an object with no attributes.
    fn odd_table() -> Table {
        use Requirement::{Optional, Required};
        let types: BTreeMap<String, String> = [
            ("string_t", "string_t"),
            ("integer_t", "integer_t"),
            ("long_t", "long_t"),
            ("float_t", "float_t"),
            ("boolean_t", "boolean_t"),
            ("json_t", "json_t"),
            ("weird_t", "weird_t"),
            ("dual", "string_t"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
        let mut class_attrs: BTreeMap<String, Attr> = [
            ("class_uid", attr("integer_t", false, Required, None)),
            ("activity_id", attr("integer_t", false, Required, None)),
            ("category_uid", attr("integer_t", false, Optional, None)),
            ("type_uid", attr("long_t", false, Optional, None)),
            ("f", attr("float_t", false, Optional, None)),
            ("j", attr("json_t", true, Optional, None)),
            ("u", attr("integer_t", false, Optional, None)),
            ("s", attr("string_t", true, Optional, None)),
            ("w", attr("weird_t", false, Optional, None)),
            ("m", attr("mystery", false, Required, Some("p2"))),
            ("o", attr("object", true, Optional, None)),
            ("t", attr("thing", true, Optional, None)),
            ("d", attr("dual", false, Optional, None)),
            ("e", attr("integer_t", false, Optional, None)),
            ("b", attr("boolean_t", false, Optional, None)),
            ("n", attr("nothing", false, Optional, None)),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b))
        .collect();
        for i in 0..70 {
            let profile = match i % 5 {
                0 => Some("p1"),
                1 => Some("p2"),
                _ => None,
            };
            class_attrs.insert(
                format!("r{i:02}"),
                attr("integer_t", false, Required, profile),
            );
        }
        let class_enums: BTreeMap<String, Vec<Value>> = [
            ("activity_id", json!([0, 1, 99])),
            ("f", json!([1, 2])),
            ("j", json!([1, "a", 2.5, null, [1], {"k": 1}])),
            ("u", json!([0, u64::MAX, -1, 70, 63, 64])),
            ("s", json!(["b", "a", "a"])),
            ("w", json!([true])),
            ("m", json!([1])),
            ("t", json!([1])),
            ("e", json!([])),
            ("r00", json!([1, 2.0])),
            ("r01", json!(["1", 1])),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.as_array().cloned().unwrap_or_default()))
        .collect();
        let thing = ObjectDef {
            name: "thing".into(),
            extension: None,
            attributes: [
                ("x", attr("integer_t", false, Required, None)),
                ("y", attr("thing", false, Optional, None)),
                ("z", attr("dual", false, Optional, None)),
                ("tags", attr("string_t", true, Required, Some("p1"))),
                ("none", attr("empty", false, Optional, None)),
            ]
            .into_iter()
            .map(|(a, b)| (a.to_owned(), b))
            .collect(),
            enums: [(
                "x".to_owned(),
                vec![json!(1), json!(2), json!(300), json!(-4)],
            )]
            .into_iter()
            .collect(),
        };
        let dual = ObjectDef {
            name: "dual".into(),
            extension: None,
            attributes: [("q".to_owned(), attr("string_t", false, Required, None))]
                .into_iter()
                .collect(),
            enums: BTreeMap::new(),
        };
        let empty = ObjectDef {
            name: "empty".into(),
            extension: None,
            attributes: BTreeMap::new(),
            enums: BTreeMap::new(),
        };
        let big = ClassDef {
            uid: 1,
            name: "big".into(),
            category_uid: 9,
            extension: None,
            attributes: class_attrs,
            enums: class_enums,
        };
        let small = ClassDef {
            uid: 2,
            name: "small".into(),
            category_uid: 0,
            extension: None,
            attributes: [(
                "class_uid".to_owned(),
                attr("integer_t", false, Required, None),
            )]
            .into_iter()
            .collect(),
            enums: BTreeMap::new(),
        };
        Table {
            version: "odd".into(),
            types,
            extensions: BTreeMap::new(),
            classes: [(1, big), (2, small)].into_iter().collect(),
            objects: [
                ("thing".to_owned(), thing),
                ("dual".to_owned(), dual),
                ("empty".to_owned(), empty),
            ]
            .into_iter()
            .collect(),
        }
    }

    static ODD: LazyLock<Schema> = LazyLock::new(|| Schema::from_table(odd_table()));

    /// A valid event of the odd table's class 1 (with `p1` and `p2` applied).
    fn odd_event() -> Value {
        let mut m = Map::new();
        for i in 0..70 {
            m.insert(format!("r{i:02}"), Value::from(1));
        }
        let rest = json!({
            "class_uid": 1, "activity_id": 1, "category_uid": 9, "type_uid": 101,
            "metadata": {"profiles": ["p1", "p2"]},
            "f": 2, "j": [1, "a", [1], {"k": 1}], "u": u64::MAX, "s": ["a", "b"], "w": true,
            "m": {"anything": 1}, "o": [{}], "d": "dual as a string", "b": false, "n": [1],
            "t": [{"x": 1, "tags": ["a"], "y": {"x": 2, "tags": [], "z": "s", "none": {}}}]
        });
        if let Value::Object(r) = rest {
            m.extend(r);
        }
        Value::Object(m)
    }

    #[test]
    fn odd_table_event() {
        let v = odd_event();
        let errs = ODD.validate(&v);
        // `metadata` is not an attribute of the odd class; it still names the profiles.
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].path, "metadata");
        assert_eq!(errs, ODD.validate_reference(&v));
        let mut v = v;
        v["f"] = json!(1.0);
        v["u"] = json!(-1);
        v["r00"] = json!(2);
        v["r01"] = json!(1);
        v["j"] = json!([2.5, 2]);
        v["t"][0]["y"]["x"] = json!(-4);
        let errs = ODD.validate(&v);
        // `f` (a float is not the integer 1), `j[1]`, `r00` (2 is not 2.0), and `metadata`.
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert_eq!(errs, ODD.validate_reference(&v));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn odd_table_agrees_with_the_reference(muts in mutations(&ODD)) {
            let mut ev = odd_event();
            for (target, op) in &muts {
                apply(&mut ev, *target, op);
            }
            check(&ODD, &ev)?;
        }
    }
}

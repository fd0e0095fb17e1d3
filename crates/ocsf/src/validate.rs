//! The validator: one OCSF event (`serde_json::Value`) against the compiled [`Table`].
//!
//! `type_uid` is checked by formula, not by enum: it must equal `class_uid * 100 + activity_id`
//! (e.g. Detection Finding 2004 with `activity_id` 1 gives 200401); `category_uid` must equal the
//! class's category (2004 → 2).

use std::collections::{BTreeMap, BTreeSet};
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
    /// The OCSF 1.8.0 table embedded at build time. Parses ~400 KB of JSON: build one
    /// `Schema` and reuse it rather than calling this per event.
    pub fn embedded() -> Schema {
        let table: Table = serde_json::from_str(EMBEDDED)
            .expect("the embedded OCSF table is valid JSON of the Table shape (tested)");
        Schema { table }
    }

    /// Wraps a table (e.g. fresh from [`crate::compile()`]).
    pub fn from_table(table: Table) -> Schema {
        Schema { table }
    }

    /// The underlying table.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Validates one event; an empty result means valid.
    pub fn validate(&self, event: &Value) -> Vec<ValidationError> {
        let mut out = Vec::new();
        let Some(obj) = event.as_object() else {
            push(
                &mut out,
                "",
                Rule::NotAnObject,
                format!("expected object, got {}", kind(event)),
            );
            return out;
        };
        let class_uid = match obj.get("class_uid") {
            None | Some(Value::Null) => {
                push(
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
                    push(
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
            push(
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
            profiles,
        };
        cx.check_object(obj, &class.attributes, &class.enums, "", 0, &mut out);

        if let Some(cat) = obj.get("category_uid").and_then(Value::as_u64) {
            if cat != u64::from(class.category_uid) {
                push(
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
                push(
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
    profiles: BTreeSet<&'a str>,
}

impl Cx<'_> {
    fn check_object(
        &self,
        obj: &Map<String, Value>,
        attrs: &BTreeMap<String, Attr>,
        enums: &BTreeMap<String, Vec<Value>>,
        prefix: &str,
        depth: usize,
        out: &mut Vec<ValidationError>,
    ) {
        if depth > MAX_DEPTH {
            push(
                out,
                prefix,
                Rule::TooDeep,
                format!("objects nested deeper than {MAX_DEPTH}"),
            );
            return;
        }
        for (name, attr) in attrs {
            let applies = attr.profile().is_none_or(|p| self.profiles.contains(p));
            if attr.requirement() == Requirement::Required
                && applies
                && obj.get(name).is_none_or(Value::is_null)
            {
                push(
                    out,
                    &join(prefix, name),
                    Rule::MissingRequired,
                    "required attribute missing".into(),
                );
            }
        }
        for (name, value) in obj {
            let path = join(prefix, name);
            let Some(attr) = attrs.get(name) else {
                push(
                    out,
                    &path,
                    Rule::UnknownAttribute,
                    "attribute not defined here".into(),
                );
                continue;
            };
            if value.is_null() {
                continue;
            }
            let allowed = enums.get(name);
            if attr.is_array() {
                match value.as_array() {
                    Some(items) => {
                        for (i, item) in items.iter().enumerate() {
                            let p = format!("{path}[{i}]");
                            self.check_value(item, attr, allowed, &p, depth, out);
                        }
                    }
                    None => push(
                        out,
                        &path,
                        Rule::TypeMismatch,
                        format!("expected array, got {}", kind(value)),
                    ),
                }
            } else {
                self.check_value(value, attr, allowed, &path, depth, out);
            }
        }
    }

    /// Checks one scalar or object value (an array element, or a non-array attribute).
    fn check_value(
        &self,
        value: &Value,
        attr: &Attr,
        allowed: Option<&Vec<Value>>,
        path: &str,
        depth: usize,
        out: &mut Vec<ValidationError>,
    ) {
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
                Some(o) => self.check_object(o, &def.attributes, &def.enums, path, depth + 1, out),
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

fn expected_name(base: &str) -> &str {
    match base {
        "integer_t" | "long_t" => "integer",
        other => other.strip_suffix("_t").unwrap_or(other),
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

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn push(out: &mut Vec<ValidationError>, path: &str, rule: Rule, message: String) {
    out.push(ValidationError {
        path: path.to_owned(),
        rule,
        message,
    });
}

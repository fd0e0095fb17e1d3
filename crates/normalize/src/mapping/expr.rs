//! Compiled value expressions: where a mapping's `set:` entries get their values.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::transforms::{as_text, is_empty, to_bool, to_float, to_int, Transform};
use super::MappingError;

/// A field of the record: the exact top-level key if present, else the dotted path walked
/// through nested objects (`userIdentity.arn`). Zeek's flat dotted keys (`id.orig_h`) match the
/// first way.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldPath {
    pub key: String,
    pub segs: Vec<String>,
}

impl FieldPath {
    pub(crate) fn new(s: &str) -> FieldPath {
        FieldPath {
            key: s.to_owned(),
            segs: s.split('.').map(str::to_owned).collect(),
        }
    }

    /// Looks the field up; `Some(true)` in the second slot when found by the exact key.
    pub(crate) fn get<'a>(&self, m: &'a Map<String, Value>) -> Option<(&'a Value, bool)> {
        if let Some(v) = m.get(&self.key) {
            return Some((v, true));
        }
        if self.segs.len() < 2 {
            return None;
        }
        let mut cur = m.get(&self.segs[0])?;
        for s in &self.segs[1..] {
            cur = match cur {
                Value::Object(o) => o.get(s)?,
                _ => return None,
            };
        }
        Some((cur, false))
    }

    /// Removes the field (and parents left empty) from `m`.
    pub(crate) fn remove(&self, m: &mut Map<String, Value>) {
        if m.remove(&self.key).is_some() || self.segs.len() < 2 {
            return;
        }
        remove_nested(m, &self.segs);
    }
}

fn remove_nested(m: &mut Map<String, Value>, segs: &[String]) {
    let Some((first, rest)) = segs.split_first() else {
        return;
    };
    if rest.is_empty() {
        m.remove(first);
        return;
    }
    let now_empty = match m.get_mut(first) {
        Some(Value::Object(child)) => {
            remove_nested(child, rest);
            child.is_empty()
        }
        _ => false,
    };
    if now_empty {
        m.remove(first);
    }
}

/// Type coercion named by `as:`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cast {
    Int,
    Float,
    Str,
    Bool,
}

/// Where a value comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Getter {
    /// A field of the record (or of the element inside `each`): index into the field table.
    Field(usize),
    /// The current element inside `each` (`from: $`).
    Element,
    /// A literal.
    Const(Value),
    /// `"text {Field} text"`: fields interpolated as text; absent if any field is absent.
    Template(Vec<TemplatePart>),
    /// An array built from an array field, one object per element.
    /// `field: None` (`each: $`) builds a one-element array from the record itself.
    Each {
        field: Option<usize>,
        body: Vec<(Vec<String>, Expr)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TemplatePart {
    Lit(String),
    Field(usize),
}

/// One compiled expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expr {
    pub getters: Vec<Getter>,
    pub fns: Vec<Transform>,
    pub map: Option<HashMap<String, Value>>,
    pub cast: Option<Cast>,
    pub default: Option<Value>,
}

/// The evaluation context: the record (or element) fields and the field table.
pub(crate) struct Scope<'a> {
    pub fields: &'a Map<String, Value>,
    pub element: Option<&'a Value>,
    pub table: &'a [FieldPath],
}

impl Expr {
    /// Evaluates; pushes the indexes of the fields whose values were used into `used`.
    pub(crate) fn eval(&self, scope: &Scope<'_>, used: &mut Vec<usize>) -> Option<Value> {
        let mark = used.len();
        let mut v = None;
        for g in &self.getters {
            if let Some(x) = get(g, scope, used) {
                v = Some(x);
                break;
            }
        }
        let computed = v.and_then(|mut x| {
            for f in &self.fns {
                x = f.apply(x)?;
                if is_empty(&x) {
                    return None;
                }
            }
            if let Some(map) = &self.map {
                let key = as_text(&x)?.to_lowercase();
                x = map.get(&key)?.clone();
            }
            match self.cast {
                None => Some(x),
                Some(Cast::Int) => to_int(&x).map(Value::from),
                Some(Cast::Float) => {
                    to_float(&x).and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
                }
                Some(Cast::Str) => as_text(&x).map(Value::String),
                Some(Cast::Bool) => to_bool(&x).map(Value::Bool),
            }
        });
        match computed {
            Some(x) => Some(x),
            None => {
                // The raw value was not used after all: leave it for `unmapped`.
                used.truncate(mark);
                self.default.clone()
            }
        }
    }
}

fn get(g: &Getter, scope: &Scope<'_>, used: &mut Vec<usize>) -> Option<Value> {
    match g {
        Getter::Const(v) => Some(v.clone()),
        Getter::Element => scope.element.filter(|v| !is_empty(v)).cloned(),
        Getter::Field(i) => {
            let (v, _) = scope.table[*i].get(scope.fields)?;
            if is_empty(v) {
                return None;
            }
            used.push(*i);
            Some(v.clone())
        }
        Getter::Template(parts) => {
            let mark = used.len();
            let mut out = String::new();
            for p in parts {
                match p {
                    TemplatePart::Lit(s) => out.push_str(s),
                    TemplatePart::Field(i) => {
                        let Some((v, _)) = scope.table[*i].get(scope.fields) else {
                            used.truncate(mark);
                            return None;
                        };
                        let Some(t) = as_text(v).filter(|t| !t.is_empty()) else {
                            used.truncate(mark);
                            return None;
                        };
                        used.push(*i);
                        out.push_str(&t);
                    }
                }
            }
            Some(Value::String(out))
        }
        Getter::Each { field: None, body } => {
            // `each: $`: one object built from the record's own fields, which count as used.
            let mark = used.len();
            let mut obj = Map::new();
            for (path, ex) in body {
                if let Some(x) = ex.eval(scope, used) {
                    insert_path(&mut obj, path, x);
                }
            }
            if obj.is_empty() {
                used.truncate(mark);
                return None;
            }
            Some(Value::Array(vec![Value::Object(obj)]))
        }
        Getter::Each {
            field: Some(field),
            body,
        } => {
            let (v, _) = scope.table[*field].get(scope.fields)?;
            let elems: Vec<&Value> = match v {
                Value::Array(a) => a.iter().collect(),
                Value::Null => return None,
                other => vec![other],
            };
            let mut out = Vec::with_capacity(elems.len());
            let mut scratch = Vec::new();
            for e in elems {
                let inner = match e {
                    Value::Object(o) => o,
                    _ => empty_map(),
                };
                let s = Scope {
                    fields: inner,
                    element: Some(e),
                    table: scope.table,
                };
                let mut obj = Map::new();
                for (path, ex) in body {
                    scratch.clear();
                    if let Some(x) = ex.eval(&s, &mut scratch) {
                        insert_path(&mut obj, path, x);
                    }
                }
                if !obj.is_empty() {
                    out.push(Value::Object(obj));
                }
            }
            if out.is_empty() {
                return None;
            }
            used.push(*field);
            Some(Value::Array(out))
        }
    }
}

fn empty_map() -> &'static Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

/// Inserts `v` at `path` in `m`, creating objects on the way (a non-object in the way is
/// replaced: load-time checks keep mappings from asking for that).
pub(crate) fn insert_path(m: &mut Map<String, Value>, path: &[String], v: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = m;
    for p in parents {
        let slot = cur
            .entry(p.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(next) = slot else { return };
        cur = next;
    }
    cur.insert(last.clone(), v);
}

/// Compiles an expression spec (`set:` value). `fields` is the mapping's field table.
pub(crate) fn compile_expr(
    spec: &Value,
    at: &str,
    fields: &mut Vec<FieldPath>,
    in_each: bool,
) -> Result<Expr, MappingError> {
    let obj = match spec {
        Value::Object(o) => o,
        other => {
            return Ok(Expr {
                getters: vec![Getter::Const(other.clone())],
                fns: vec![],
                map: None,
                cast: None,
                default: None,
            })
        }
    };
    const KEYS: &[&str] = &[
        "from", "value", "template", "fn", "map", "as", "default", "each", "set",
    ];
    for k in obj.keys() {
        if !KEYS.contains(&k.as_str()) {
            return Err(MappingError::new(
                at,
                format!(
                    "unknown key {k:?} (expected one of {}; a literal object goes under value:)",
                    KEYS.join(", ")
                ),
            ));
        }
    }
    let mut getters = Vec::new();
    if let Some(from) = obj.get("from") {
        let names: Vec<&str> = match from {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a
                .iter()
                .map(|x| {
                    x.as_str()
                        .ok_or_else(|| MappingError::new(at, "from: lists field names"))
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(MappingError::new(
                    at,
                    "from: is a field name or a list of them",
                ))
            }
        };
        for n in names {
            if n == "$" {
                if !in_each {
                    return Err(MappingError::new(at, "from: $ only inside each"));
                }
                getters.push(Getter::Element);
            } else {
                getters.push(Getter::Field(field_index(fields, n)));
            }
        }
    }
    if let Some(t) = obj.get("template") {
        let t = t
            .as_str()
            .ok_or_else(|| MappingError::new(at, "template: is a string"))?;
        getters.push(Getter::Template(parse_template(t, at, fields)?));
    }
    if let Some(each) = obj.get("each") {
        if in_each {
            return Err(MappingError::new(at, "each: cannot nest"));
        }
        let field = each
            .as_str()
            .ok_or_else(|| MappingError::new(at, "each: names an array field"))?;
        let set = obj
            .get("set")
            .and_then(Value::as_object)
            .ok_or_else(|| MappingError::new(at, "each: needs set: {attribute: expression}"))?;
        let fi = (field != "$").then(|| field_index(fields, field));
        let mut body = Vec::new();
        for (k, v) in set {
            let sub_at = format!("{at}.{k}");
            // Inside `each: $` field names are the record's own (no element, no `$`).
            body.push((
                split_path(k),
                compile_expr(v, &sub_at, fields, fi.is_some())?,
            ));
        }
        getters.push(Getter::Each { field: fi, body });
    } else if obj.contains_key("set") {
        return Err(MappingError::new(
            at,
            "set: inside an expression only with each:",
        ));
    }
    if let Some(v) = obj.get("value") {
        getters.push(Getter::Const(v.clone()));
    }
    if getters.is_empty() && !obj.contains_key("default") {
        return Err(MappingError::new(
            at,
            "an expression needs from:, value:, template:, each: or default:",
        ));
    }
    let fns = match obj.get("fn") {
        None => vec![],
        Some(Value::Array(a)) => a
            .iter()
            .map(|f| super::transforms::Transform::compile(f, at))
            .collect::<Result<_, _>>()?,
        Some(one) => vec![super::transforms::Transform::compile(one, at)?],
    };
    let map = match obj.get("map") {
        None => None,
        Some(Value::Object(m)) => Some(
            m.iter()
                .map(|(k, v)| (k.to_lowercase(), v.clone()))
                .collect(),
        ),
        Some(_) => {
            return Err(MappingError::new(
                at,
                "map: is an object of raw value → OCSF value",
            ))
        }
    };
    let cast = match obj.get("as").map(|v| v.as_str()) {
        None => None,
        Some(Some("int")) => Some(Cast::Int),
        Some(Some("float")) => Some(Cast::Float),
        Some(Some("string")) => Some(Cast::Str),
        Some(Some("bool")) => Some(Cast::Bool),
        Some(_) => return Err(MappingError::new(at, "as: is int, float, string or bool")),
    };
    Ok(Expr {
        getters,
        fns,
        map,
        cast,
        default: obj.get("default").cloned(),
    })
}

pub(crate) fn field_index(fields: &mut Vec<FieldPath>, name: &str) -> usize {
    if let Some(i) = fields.iter().position(|f| f.key == name) {
        return i;
    }
    fields.push(FieldPath::new(name));
    fields.len() - 1
}

pub(crate) fn split_path(p: &str) -> Vec<String> {
    p.split('.').map(str::to_owned).collect()
}

fn parse_template(
    t: &str,
    at: &str,
    fields: &mut Vec<FieldPath>,
) -> Result<Vec<TemplatePart>, MappingError> {
    let mut parts = Vec::new();
    let mut rest = t;
    while let Some(i) = rest.find('{') {
        if i > 0 {
            parts.push(TemplatePart::Lit(rest[..i].to_owned()));
        }
        let j = rest[i..]
            .find('}')
            .ok_or_else(|| MappingError::new(at, "template: unclosed {"))?
            + i;
        let name = &rest[i + 1..j];
        if name.is_empty() {
            return Err(MappingError::new(at, "template: empty {}"));
        }
        parts.push(TemplatePart::Field(field_index(fields, name)));
        rest = &rest[j + 1..];
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Lit(rest.to_owned()));
    }
    Ok(parts)
}

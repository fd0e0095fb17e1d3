//! The compiled schema table: facts only (no descriptions), as written to
//! `crates/ocsf/schema/ocsf-<version>.json` by `ocsf-compile` and read by [`crate::Schema`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How strongly the schema asks for an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Requirement {
    /// Must be present (when its profile, if any, is applied).
    Required,
    /// Should be present; never an error when absent.
    Recommended,
    /// May be present.
    Optional,
}

/// One attribute of a class or object, serialised as a compact array
/// `[type, is_array, requirement, profile]`.
///
/// `type` is either a data type from [`Table::types`] (`string_t`, `email_t`, ...), an object
/// name from [`Table::objects`], or `object` (free-form, e.g. `unmapped`). `profile` names the
/// profile file the attribute was `$include`d from, `null` when it belongs to the class/object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attr(pub String, pub bool, pub Requirement, pub Option<String>);

impl Attr {
    /// The declared type or object name.
    pub fn type_name(&self) -> &str {
        &self.0
    }
    /// Whether the attribute holds an array of `type_name`.
    pub fn is_array(&self) -> bool {
        self.1
    }
    /// The requirement level.
    pub fn requirement(&self) -> Requirement {
        self.2
    }
    /// The profile the attribute comes from, if any.
    pub fn profile(&self) -> Option<&str> {
        self.3.as_deref()
    }
}

/// A resolved event class (after `extends` and `$include`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassDef {
    /// `class_uid` = `category_uid * 1000 + uid`.
    pub uid: u32,
    /// Class name, e.g. `detection_finding`.
    pub name: String,
    /// The category's uid (0 for `base_event`).
    pub category_uid: u32,
    /// Attribute name → definition.
    pub attributes: BTreeMap<String, Attr>,
    /// Attribute name → allowed values (integers, or strings for string enums). `class_uid`,
    /// `category_uid` and `type_uid` are not listed: the validator checks them by formula.
    pub enums: BTreeMap<String, Vec<Value>>,
}

/// A resolved object (after `extends` and `$include`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectDef {
    /// Object name, e.g. `email`.
    pub name: String,
    /// Attribute name → definition.
    pub attributes: BTreeMap<String, Attr>,
    /// Attribute name → allowed values.
    pub enums: BTreeMap<String, Vec<Value>>,
}

/// The whole compiled table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// OCSF version, from the schema's `version.json`.
    pub version: String,
    /// Data type → base type (`email_t` → `string_t`, `timestamp_t` → `long_t`, `port_t` →
    /// `integer_t`; base types map to themselves).
    pub types: BTreeMap<String, String>,
    /// `class_uid` → class.
    pub classes: BTreeMap<u32, ClassDef>,
    /// Object name → object.
    pub objects: BTreeMap<String, ObjectDef>,
}

impl Table {
    /// Renders the table as committed: compact JSON, one class/object per line so diffs between
    /// schema versions stay readable. Deterministic (all maps are ordered).
    pub fn to_json_lines(&self) -> String {
        let mut out = String::from("{\n");
        out.push_str(&format!("\"version\":{},\n", json_str(&self.version)));
        out.push_str(&format!("\"types\":{},\n", compact(&self.types)));
        out.push_str("\"classes\":{\n");
        let n = self.classes.len();
        for (i, (uid, c)) in self.classes.iter().enumerate() {
            let sep = if i + 1 < n { "," } else { "" };
            out.push_str(&format!("\"{uid}\":{}{sep}\n", compact(c)));
        }
        out.push_str("},\n\"objects\":{\n");
        let n = self.objects.len();
        for (i, (name, o)) in self.objects.iter().enumerate() {
            let sep = if i + 1 < n { "," } else { "" };
            out.push_str(&format!("{}:{}{sep}\n", json_str(name), compact(o)));
        }
        out.push_str("}\n}\n");
        out
    }
}

fn json_str(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

fn compact<T: Serialize>(v: &T) -> String {
    // Serialising plain maps/strings/bools to a String cannot fail.
    serde_json::to_string(v).unwrap_or_default()
}

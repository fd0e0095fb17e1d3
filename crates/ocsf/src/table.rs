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

/// A resolved event class (after `extends`, `$include` and extension patches).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassDef {
    /// `class_uid` = `category_uid * 1000 + uid`; for an extension's class
    /// `(extension_uid * 100 + category_uid) * 1000 + uid` (Windows Registry Key Activity:
    /// 201001).
    pub uid: u32,
    /// Class name, e.g. `detection_finding`, `registry_key_activity`.
    pub name: String,
    /// The category's uid (0 for `base_event`; 1 for the Windows extension's system classes).
    pub category_uid: u32,
    /// The extension that defines the class (a key of [`Table::extensions`], e.g. `win`);
    /// `None` (and absent from the JSON) for core classes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    /// Attribute name → definition.
    pub attributes: BTreeMap<String, Attr>,
    /// Attribute name → allowed values (integers, or strings for string enums). `class_uid`,
    /// `category_uid` and `type_uid` are not listed: the validator checks them by formula.
    pub enums: BTreeMap<String, Vec<Value>>,
}

/// A resolved object (after `extends`, `$include` and extension patches).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectDef {
    /// Object name, e.g. `email`, `reg_key`.
    pub name: String,
    /// The extension that defines the object (e.g. `win` for `reg_key`); `None` (and absent
    /// from the JSON) for core objects, including core objects an extension patches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    /// Attribute name → definition.
    pub attributes: BTreeMap<String, Attr>,
    /// Attribute name → allowed values.
    pub enums: BTreeMap<String, Vec<Value>>,
}

/// One schema extension compiled into the table, as an event's `metadata.extensions` entry
/// would describe it (`{"name": "win", "uid": "2", "version": "1.8.0"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionDef {
    /// The extension's uid (Windows: 2), which scopes its class uids.
    pub uid: u32,
    /// The extension's version.
    pub version: String,
}

/// The whole compiled table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// OCSF version, from the schema's `version.json`.
    pub version: String,
    /// Data type → base type (`email_t` → `string_t`, `timestamp_t` → `long_t`, `port_t` →
    /// `integer_t`; base types map to themselves).
    pub types: BTreeMap<String, String>,
    /// Extension name (`linux`, `win`, `macos`) → uid and version.
    #[serde(default)]
    pub extensions: BTreeMap<String, ExtensionDef>,
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
        out.push_str(&format!("\"extensions\":{},\n", compact(&self.extensions)));
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

//! Schema compiler: reads the OCSF source tree (`dictionary.json`, `categories.json`,
//! `events/**`, `objects/*.json`, `profiles/*.json`), resolves `extends` chains and `$include`d
//! profile files, merges each attribute with its dictionary definition and produces a [`Table`].
//!
//! Merge rules (as the OCSF server does): a child's attribute definition is deep-merged over its
//! parent's, so enum values accumulate along the chain (`base_event` gives `activity_id` 0 and
//! 99, `finding` adds 1–3) and the dictionary's enum values are added last. A child attribute
//! with `"profile": null` belongs to the class itself even if a profile also defines it.
//! Two things the OCSF server generates rather than reads are generated here too: the
//! `datetime` profile's `<name>_dt` siblings of `timestamp_t` attributes, and the ids of
//! `observable.type_id` (from the `observable` numbers on types, attributes and objects).
//! Extensions (`extensions/`) are not compiled: the table is the core schema.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::table::{Attr, ClassDef, ObjectDef, Requirement, Table};

/// What failed while compiling the schema sources.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    /// A source file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A source file is not valid JSON.
    #[error("parsing {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The sources are readable but inconsistent (unknown parent, cycle, bad shape).
    #[error("schema: {0}")]
    Invalid(String),
}

/// Attribute map while resolving: name → (merged raw definition, profile).
type RawAttrs = BTreeMap<String, (Map<String, Value>, Option<String>)>;

/// Nesting bound for `extends`/`$include` chains; real chains are 3 deep.
const MAX_DEPTH: usize = 32;

/// Compiles the OCSF schema sources under `root` into a [`Table`].
pub fn compile(root: &Path) -> Result<Table, CompileError> {
    let version = load(&root.join("version.json"))?
        .get("version")
        .and_then(Value::as_str)
        .ok_or_else(|| CompileError::Invalid("version.json has no version".into()))?
        .to_owned();
    let dictionary = load(&root.join("dictionary.json"))?;
    let dict_attrs = dictionary
        .get("attributes")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let types = compile_types(&dictionary)?;

    let categories = load(&root.join("categories.json"))?;
    let mut category_uids: BTreeMap<String, u32> = BTreeMap::new();
    if let Some(cats) = categories.get("attributes").and_then(Value::as_object) {
        for (name, c) in cats {
            if let Some(uid) = c.get("uid").and_then(Value::as_u64) {
                category_uids.insert(name.clone(), to_u32(uid)?);
            }
        }
    }

    let mut event_files = Vec::new();
    collect_json(&root.join("events"), &mut event_files)?;
    let mut events: BTreeMap<String, Value> = BTreeMap::new();
    for f in &event_files {
        let v = load(f)?;
        let name = name_of(&v, f)?;
        events.insert(name, v);
    }
    let mut object_files = Vec::new();
    collect_json(&root.join("objects"), &mut object_files)?;
    let mut objects_raw: BTreeMap<String, Value> = BTreeMap::new();
    for f in &object_files {
        let v = load(f)?;
        let name = name_of(&v, f)?;
        objects_raw.insert(name, v);
    }

    let mut classes = BTreeMap::new();
    for (name, v) in &events {
        let category_uid = match inherited_category(&events, name) {
            Some("other") | None => 0,
            Some(c) => *category_uids
                .get(c)
                .ok_or_else(|| CompileError::Invalid(format!("{name}: unknown category {c}")))?,
        };
        let uid = match (v.get("uid").and_then(Value::as_u64), name.as_str()) {
            (Some(u), _) => category_uid * 1000 + to_u32(u)?,
            (None, "base_event") => 0,
            (None, _) => continue, // abstract category base such as `finding`
        };
        let raw = resolve(root, &events, name, 0)?;
        let (attributes, mut enums) = finish(raw, &dict_attrs);
        for a in ["class_uid", "category_uid", "type_uid"] {
            enums.remove(a);
        }
        classes.insert(
            uid,
            ClassDef {
                uid,
                name: name.clone(),
                category_uid,
                attributes,
                enums,
            },
        );
    }

    let mut objects = BTreeMap::new();
    for name in objects_raw.keys() {
        let raw = resolve(root, &objects_raw, name, 0)?;
        let (attributes, enums) = finish(raw, &dict_attrs);
        objects.insert(
            name.clone(),
            ObjectDef {
                name: name.clone(),
                attributes,
                enums,
            },
        );
    }
    add_observable_types(&dictionary, &objects_raw, &events, &mut objects);
    Ok(Table {
        version,
        types,
        classes,
        objects,
    })
}

/// A class's `category`, taken from the nearest class up its `extends` chain that names one.
fn inherited_category<'a>(events: &'a BTreeMap<String, Value>, name: &str) -> Option<&'a str> {
    let mut cur = events.get(name)?;
    for _ in 0..MAX_DEPTH {
        if let Some(c) = cur.get("category").and_then(Value::as_str) {
            return Some(c);
        }
        cur = events.get(cur.get("extends").and_then(Value::as_str)?)?;
    }
    None
}

/// `observable.type_id` has only 0 and 99 in its source; the OCSF server fills in the other ids
/// from the `observable` numbers on dictionary types (`email_t` → 5), dictionary attributes,
/// objects, and class/object attribute definitions. Done the same way here.
fn add_observable_types(
    dictionary: &Value,
    objects_raw: &BTreeMap<String, Value>,
    events: &BTreeMap<String, Value>,
    objects: &mut BTreeMap<String, ObjectDef>,
) {
    let mut ids: BTreeSet<i64> = BTreeSet::new();
    let add_from_map = |ids: &mut BTreeSet<i64>, m: Option<&Map<String, Value>>| {
        for def in m.into_iter().flat_map(|m| m.values()) {
            if let Some(i) = def.get("observable").and_then(Value::as_i64) {
                ids.insert(i);
            }
        }
    };
    add_from_map(
        &mut ids,
        dictionary
            .pointer("/types/attributes")
            .and_then(Value::as_object),
    );
    add_from_map(
        &mut ids,
        dictionary.get("attributes").and_then(Value::as_object),
    );
    for def in objects_raw.values().chain(events.values()) {
        if let Some(i) = def.get("observable").and_then(Value::as_i64) {
            ids.insert(i);
        }
        add_from_map(&mut ids, def.get("attributes").and_then(Value::as_object));
    }
    if let Some(obs) = objects.get_mut("observable") {
        let entry = obs.enums.entry("type_id".to_owned()).or_default();
        for v in entry.iter().filter_map(Value::as_i64) {
            ids.insert(v);
        }
        *entry = ids.into_iter().map(Value::from).collect();
    }
}

fn to_u32(v: u64) -> Result<u32, CompileError> {
    u32::try_from(v).map_err(|_| CompileError::Invalid(format!("uid {v} out of range")))
}

fn name_of(v: &Value, f: &Path) -> Result<String, CompileError> {
    v.get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| CompileError::Invalid(format!("{} has no name", f.display())))
}

/// Data type → base type, following `type` links (`timestamp_t` → `long_t`).
fn compile_types(dictionary: &Value) -> Result<BTreeMap<String, String>, CompileError> {
    let defs = dictionary
        .pointer("/types/attributes")
        .and_then(Value::as_object)
        .ok_or_else(|| CompileError::Invalid("dictionary has no types".into()))?;
    let mut out = BTreeMap::new();
    for name in defs.keys() {
        let mut cur = name.as_str();
        for _ in 0..MAX_DEPTH {
            match defs
                .get(cur)
                .and_then(|d| d.get("type"))
                .and_then(Value::as_str)
            {
                Some(parent) if parent != cur => cur = parent,
                _ => break,
            }
        }
        out.insert(name.clone(), cur.to_owned());
    }
    Ok(out)
}

fn load(path: &Path) -> Result<Value, CompileError> {
    let bytes = std::fs::read(path).map_err(|source| CompileError::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| CompileError::Json {
        path: path.to_owned(),
        source,
    })
}

/// All `*.json` files under `dir`, sorted for determinism.
fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CompileError> {
    let io = |source| CompileError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_json(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
    Ok(())
}

/// Resolves `name`'s attributes: its parent's (via `extends`, within `defs`), then its own
/// with their `$include`s expanded, deep-merged over them.
fn resolve(
    root: &Path,
    defs: &BTreeMap<String, Value>,
    name: &str,
    depth: usize,
) -> Result<RawAttrs, CompileError> {
    if depth > MAX_DEPTH {
        return Err(CompileError::Invalid(format!("extends cycle at {name}")));
    }
    let def = defs
        .get(name)
        .ok_or_else(|| CompileError::Invalid(format!("unknown parent {name}")))?;
    let mut attrs = match def.get("extends").and_then(Value::as_str) {
        // `object` is the implicit root of objects and has no file.
        Some(parent) if defs.contains_key(parent) => resolve(root, defs, parent, depth + 1)?,
        Some("object") | None => RawAttrs::new(),
        Some(parent) => {
            return Err(CompileError::Invalid(format!(
                "{name} extends unknown {parent}"
            )))
        }
    };
    let empty = Map::new();
    let own = expand(
        root,
        def.get("attributes")
            .and_then(Value::as_object)
            .unwrap_or(&empty),
        depth,
    )?;
    merge_into(&mut attrs, own);
    Ok(attrs)
}

/// Expands `$include` entries of one attribute map, then merges the map's own entries over them.
fn expand(root: &Path, raw: &Map<String, Value>, depth: usize) -> Result<RawAttrs, CompileError> {
    if depth > MAX_DEPTH {
        return Err(CompileError::Invalid("$include too deep".into()));
    }
    let mut out = RawAttrs::new();
    if let Some(incs) = raw.get("$include").and_then(Value::as_array) {
        for inc in incs.iter().filter_map(Value::as_str) {
            let file = load(&root.join(inc))?;
            let profile = (file.get("meta").and_then(Value::as_str) == Some("profile"))
                .then(|| file.get("name").and_then(Value::as_str).map(str::to_owned))
                .flatten();
            let empty = Map::new();
            let sub = expand(
                root,
                file.get("attributes")
                    .and_then(Value::as_object)
                    .unwrap_or(&empty),
                depth + 1,
            )?;
            for (k, (a, p)) in sub {
                let p = profile.clone().or(p);
                merge_into(&mut out, RawAttrs::from([(k, (a, p))]));
            }
        }
    }
    let mut own = RawAttrs::new();
    for (k, v) in raw {
        if k == "$include" {
            continue;
        }
        let a = v.as_object().cloned().unwrap_or_default();
        let p = a.get("profile").and_then(Value::as_str).map(str::to_owned);
        own.insert(k.clone(), (a, p));
    }
    merge_into(&mut out, own);
    Ok(out)
}

/// Merges `over` into `base`: definitions deep-merge; the profile is the newer explicit one
/// (`"profile": null` clears it), else the newer included one, else the older one.
fn merge_into(base: &mut RawAttrs, over: RawAttrs) {
    for (k, (a, p)) in over {
        match base.get_mut(&k) {
            Some((old, old_p)) => {
                if a.contains_key("profile") || p.is_some() {
                    *old_p = p;
                }
                deep_merge(old, &a);
            }
            None => {
                base.insert(k, (a, p));
            }
        }
    }
}

fn deep_merge(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => deep_merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

type Finished = (BTreeMap<String, Attr>, BTreeMap<String, Vec<Value>>);

/// Applies the dictionary and reduces each definition to its facts.
fn finish(raw: RawAttrs, dict: &Map<String, Value>) -> Finished {
    let mut attributes = BTreeMap::new();
    let mut enums = BTreeMap::new();
    for (name, (a, profile)) in raw {
        let d = dict.get(&name).and_then(Value::as_object);
        let field = |k: &str| a.get(k).or_else(|| d.and_then(|d| d.get(k)));
        // An attribute missing from the dictionary has no type; accept any JSON for it.
        let ty = field("type")
            .and_then(Value::as_str)
            .unwrap_or("json_t")
            .to_owned();
        let is_array = field("is_array").and_then(Value::as_bool).unwrap_or(false);
        let requirement = match a.get("requirement").and_then(Value::as_str) {
            Some("required") => Requirement::Required,
            Some("recommended") => Requirement::Recommended,
            _ => Requirement::Optional,
        };
        let mut values: BTreeSet<EnumKey> = BTreeSet::new();
        for src in [a.get("enum"), d.and_then(|d| d.get("enum"))]
            .into_iter()
            .flatten()
        {
            if let Some(m) = src.as_object() {
                values.extend(m.keys().map(|k| EnumKey::parse(k)));
            }
        }
        if !values.is_empty() {
            enums.insert(
                name.clone(),
                values.into_iter().map(EnumKey::into_value).collect(),
            );
        }
        attributes.insert(name, Attr(ty, is_array, requirement, profile));
    }
    // The `datetime` profile file is empty: the OCSF server gives every `timestamp_t`
    // attribute a `<name>_dt` sibling of type `datetime_t` (RFC 3339 string) in every class
    // and object. Reproduced here, attributed to that profile.
    let dt: Vec<(String, bool)> = attributes
        .iter()
        .filter(|(_, a)| a.type_name() == "timestamp_t")
        .map(|(n, a)| (format!("{n}_dt"), a.is_array()))
        .collect();
    for (name, is_array) in dt {
        attributes.entry(name).or_insert_with(|| {
            Attr(
                "datetime_t".to_owned(),
                is_array,
                Requirement::Optional,
                Some("datetime".to_owned()),
            )
        });
    }
    (attributes, enums)
}

/// Enum keys are integer ids (`"99"`) or, rarely, strings; integers sort first, numerically.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum EnumKey {
    Int(i64),
    Str(String),
}

impl EnumKey {
    fn parse(k: &str) -> Self {
        k.parse()
            .map_or_else(|_| Self::Str(k.to_owned()), Self::Int)
    }
    fn into_value(self) -> Value {
        match self {
            Self::Int(i) => Value::from(i),
            Self::Str(s) => Value::String(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(root: &Path, rel: &str, v: &Value) {
        let p = root.join(rel);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).expect("temp dir is writable");
        }
        std::fs::write(p, v.to_string()).expect("temp file is writable");
    }

    /// A miniature schema exercising `extends`, `$include`, `"profile": null`, enum merging,
    /// object inheritance, the datetime siblings and observable ids.
    fn mini_schema() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let r = dir.path();
        write(r, "version.json", &json!({"version": "9.9.9"}));
        write(
            r,
            "dictionary.json",
            &json!({
                "types": {"attributes": {
                    "string_t": {}, "integer_t": {}, "long_t": {},
                    "timestamp_t": {"type": "long_t"},
                    "email_t": {"type": "string_t", "observable": 5}
                }},
                "attributes": {
                    "activity_id": {"type": "integer_t", "enum": {"0": {}, "99": {}}},
                    "class_uid": {"type": "integer_t"},
                    "category_uid": {"type": "integer_t"},
                    "type_uid": {"type": "long_t"},
                    "time": {"type": "timestamp_t"},
                    "extra": {"type": "string_t"},
                    "addr": {"type": "email_t", "is_array": true},
                    "thing": {"type": "thing"},
                    "name": {"type": "string_t"},
                    "type_id": {"type": "integer_t"}
                }
            }),
        );
        write(
            r,
            "categories.json",
            &json!({"attributes": {"findings": {"uid": 2}}}),
        );
        write(
            r,
            "events/base_event.json",
            &json!({"name": "base_event", "category": "other", "attributes": {
                "$include": ["profiles/p.json"],
                "activity_id": {"requirement": "required", "enum": {"0": {}}},
                "class_uid": {"requirement": "required", "enum": {"0": {}}},
                "category_uid": {"requirement": "required"},
                "type_uid": {"requirement": "required"},
                "time": {"requirement": "required"}
            }}),
        );
        write(
            r,
            "events/f/parent.json",
            &json!({"name": "parent", "category": "findings", "extends": "base_event",
            "attributes": {
                "activity_id": {"enum": {"1": {}}},
                "extra": {"requirement": "optional", "profile": null}
            }}),
        );
        write(
            r,
            "events/f/child.json",
            &json!({"name": "child", "uid": 4, "extends": "parent",
                "attributes": {"thing": {"requirement": "required"}}}),
        );
        write(
            r,
            "profiles/p.json",
            &json!({"name": "p", "meta": "profile", "attributes": {
                "extra": {"requirement": "required"},
                "addr": {"requirement": "required"}
            }}),
        );
        write(
            r,
            "objects/_base.json",
            &json!({"name": "_base", "attributes": {"name": {"requirement": "required"}}}),
        );
        write(
            r,
            "objects/thing.json",
            &json!({"name": "thing", "extends": "_base", "attributes": {
                "addr": {"requirement": "optional"},
                "time": {"requirement": "optional"}
            }}),
        );
        write(
            r,
            "objects/observable.json",
            &json!({"name": "observable", "extends": "object", "attributes": {
                "type_id": {"requirement": "required", "enum": {"0": {}, "99": {}}}
            }}),
        );
        dir
    }

    #[test]
    fn resolves_extends_includes_profiles_and_enums() {
        let dir = mini_schema();
        let t = compile(dir.path()).expect("mini schema compiles");
        assert_eq!(t.version, "9.9.9");
        assert_eq!(t.classes.keys().copied().collect::<Vec<_>>(), vec![0, 2004]);
        let c = &t.classes[&2004];
        assert_eq!((c.name.as_str(), c.category_uid), ("child", 2));
        let req = Requirement::Required;
        assert_eq!(
            c.attributes["activity_id"],
            Attr("integer_t".into(), false, req, None)
        );
        assert_eq!(c.enums["activity_id"], vec![json!(0), json!(1), json!(99)]);
        // `class_uid` is checked by formula, so its enum is dropped.
        assert!(!c.enums.contains_key("class_uid"));
        // `"profile": null` in `parent` takes `extra` out of profile `p`; `addr` stays in it.
        assert_eq!(
            c.attributes["extra"],
            Attr("string_t".into(), false, Requirement::Optional, None)
        );
        assert_eq!(
            c.attributes["addr"],
            Attr("email_t".into(), true, req, Some("p".into()))
        );
        assert_eq!(
            c.attributes["thing"],
            Attr("thing".into(), false, req, None)
        );
        assert_eq!(
            c.attributes["time_dt"],
            Attr(
                "datetime_t".into(),
                false,
                Requirement::Optional,
                Some("datetime".into())
            )
        );
        let thing = &t.objects["thing"];
        assert_eq!(
            thing
                .attributes
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["addr", "name", "time", "time_dt"]
        );
        assert_eq!(thing.attributes["name"].requirement(), req);
        assert_eq!(
            t.objects["observable"].enums["type_id"],
            vec![json!(0), json!(5), json!(99)]
        );
        assert_eq!(t.types["timestamp_t"], "long_t");
        assert_eq!(t.types["email_t"], "string_t");
    }

    #[test]
    fn unknown_parent_is_an_error() {
        let dir = mini_schema();
        write(
            dir.path(),
            "objects/thing.json",
            &json!({"name": "thing", "extends": "nowhere", "attributes": {}}),
        );
        let e = compile(dir.path())
            .map(|_| ())
            .expect_err("a dangling extends must not compile");
        assert_eq!(e.to_string(), "schema: thing extends unknown nowhere");
    }
}

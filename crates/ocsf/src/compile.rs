//! Schema compiler: reads the OCSF source tree (`dictionary.json`, `categories.json`,
//! `events/**`, `objects/*.json`, `profiles/*.json`, `extensions/*/`), resolves `extends` chains
//! and `$include`d profile files, merges each attribute with its dictionary definition and
//! produces a [`Table`].
//!
//! Merge rules (as the OCSF server does): a child's attribute definition is deep-merged over its
//! parent's, so enum values accumulate along the chain (`base_event` gives `activity_id` 0 and
//! 99, `finding` adds 1–3) and the dictionary's enum values are added last. A child attribute
//! with `"profile": null` belongs to the class itself even if a profile also defines it.
//! Two things the OCSF server generates rather than reads are generated here too: the
//! `datetime` profile's `<name>_dt` siblings of `timestamp_t` attributes, and the ids of
//! `observable.type_id` (from the `observable` numbers on types, attributes and objects).
//!
//! Extensions (every `extensions/<dir>/` with an `extension.json` giving `name`, `uid`,
//! `version`) are compiled in, in `uid` order, the way the OCSF server does with all of them
//! enabled:
//! - their `dictionary.json` attributes and types join the core dictionary (names are not
//!   scoped: a name defined twice must agree on `type` and `is_array`, and the definitions
//!   merge); their `categories.json` categories get uid `extension_uid * 100 + uid`;
//! - their `events/` are new classes with `class_uid = (extension_uid * 100 + category_uid) *
//!   1000 + uid` (unless the category is already an extension's), so Windows (2) Registry Key
//!   Activity (system 1, uid 1) is 201001; `category_uid` stays the category's own uid (1);
//! - their `objects/` are new objects;
//! - except that a definition (in `events/` or `objects/`) that `extends` an item of its own
//!   name, or has no name, is a patch: its attributes are merged into that class or object (and
//!   so into everything that extends it), e.g. Windows `process` adds `hosted_services`;
//! - `$include`s resolve in the extension first, then in the core schema; a profile file found
//!   in the extension is named `<extension name>/<profile name>` (`linux/linux_users`), as
//!   `metadata.profiles` must list it. An attribute carries a single profile, so `process.euid`
//!   and `egid`, which both `linux/linux_users` and `macos/macos_users` add, end up attributed to
//!   the later one (`macos/macos_users`); they are optional, so validation is unaffected.
//!
//! Class and object names stay plain (`registry_key_activity`, `reg_key`), so a name defined
//! by two sources is an error rather than two scoped entries; [`ClassDef::extension`] and
//! [`ObjectDef::extension`] record the extension that defined a class or object, and
//! [`Table::extensions`] each extension's uid and version.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::table::{Attr, ClassDef, ExtensionDef, ObjectDef, Requirement, Table};

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

/// One schema extension (`extensions/<dir>/extension.json`).
#[derive(Debug, Clone)]
struct Ext {
    name: String,
    uid: u32,
    version: String,
    dir: PathBuf,
}

/// A class or object source definition and the extension it comes from (`None`: core).
struct Item {
    def: Value,
    ext: Option<Ext>,
}

/// The source definitions of one kind (classes or objects) by name, and the extension patches
/// to merge into them (definitions that `extends` an item of their own name).
#[derive(Default)]
struct Defs {
    items: BTreeMap<String, Item>,
    patches: BTreeMap<String, Vec<Item>>,
}

impl Defs {
    /// Every definition, patches included (for the observable ids they carry).
    fn all(&self) -> impl Iterator<Item = &Value> {
        self.items
            .values()
            .chain(self.patches.values().flatten())
            .map(|i| &i.def)
    }
}

/// Compiles the OCSF schema sources under `root` (core and extensions) into a [`Table`].
pub fn compile(root: &Path) -> Result<Table, CompileError> {
    let version = load(&root.join("version.json"))?
        .get("version")
        .and_then(Value::as_str)
        .ok_or_else(|| CompileError::Invalid("version.json has no version".into()))?
        .to_owned();
    let exts = load_extensions(root)?;
    let mut dictionary = load(&root.join("dictionary.json"))?;
    for ext in &exts {
        merge_dictionary(&mut dictionary, ext)?;
    }
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
    for ext in &exts {
        merge_categories(&mut category_uids, ext)?;
    }

    let events = load_defs(root, "events", &exts)?;
    let objects_raw = load_defs(root, "objects", &exts)?;

    let mut classes: BTreeMap<u32, ClassDef> = BTreeMap::new();
    for (name, item) in &events.items {
        let category_uid = match inherited_category(&events, name) {
            Some("other") | None => 0,
            Some(c) => *category_uids
                .get(c)
                .ok_or_else(|| CompileError::Invalid(format!("{name}: unknown category {c}")))?,
        };
        let uid = match (item.def.get("uid").and_then(Value::as_u64), name.as_str()) {
            (Some(u), _) => class_uid(item.ext.as_ref(), category_uid, u)?,
            (None, "base_event") => 0,
            (None, _) => continue, // abstract category base such as `finding`
        };
        if let Some(other) = classes.get(&uid) {
            return Err(CompileError::Invalid(format!(
                "class uid {uid} is both {} and {name}",
                other.name
            )));
        }
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
                extension: item.ext.as_ref().map(|e| e.name.clone()),
                attributes,
                enums,
            },
        );
    }

    let mut objects = BTreeMap::new();
    for (name, item) in &objects_raw.items {
        let raw = resolve(root, &objects_raw, name, 0)?;
        let (attributes, enums) = finish(raw, &dict_attrs);
        objects.insert(
            name.clone(),
            ObjectDef {
                name: name.clone(),
                extension: item.ext.as_ref().map(|e| e.name.clone()),
                attributes,
                enums,
            },
        );
    }
    add_observable_types(&dictionary, &objects_raw, &events, &mut objects);
    let extensions = exts
        .into_iter()
        .map(|e| {
            let def = ExtensionDef {
                uid: e.uid,
                version: e.version,
            };
            (e.name, def)
        })
        .collect();
    Ok(Table {
        version,
        types,
        extensions,
        classes,
        objects,
    })
}

/// The extensions under `root/extensions/` (each direct subdirectory with an
/// `extension.json`), in `uid` order; none when there is no `extensions/` directory.
fn load_extensions(root: &Path) -> Result<Vec<Ext>, CompileError> {
    let dir = root.join("extensions");
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let io = |source| CompileError::Io {
        path: dir.clone(),
        source,
    };
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    subdirs.sort();
    let mut exts: Vec<Ext> = Vec::new();
    for d in subdirs {
        let file = d.join("extension.json");
        if !file.is_file() {
            continue;
        }
        let v = load(&file)?;
        let bad = |what: &str| CompileError::Invalid(format!("{}: no {what}", file.display()));
        let name = v
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("name"))?;
        let uid = v
            .get("uid")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("uid"))?;
        let ext = Ext {
            name: name.to_owned(),
            uid: to_u32(uid)?,
            version: v
                .get("version")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            dir: d,
        };
        if let Some(o) = exts.iter().find(|o| o.uid == ext.uid || o.name == ext.name) {
            return Err(CompileError::Invalid(format!(
                "extensions {} ({}) and {} ({}) share a name or uid",
                o.name, o.uid, ext.name, ext.uid
            )));
        }
        exts.push(ext);
    }
    exts.sort_by_key(|e| e.uid);
    Ok(exts)
}

/// Adds an extension's `dictionary.json` attributes and types to the core dictionary. A name
/// both define must agree on `type` and `is_array`; the definitions are then deep-merged (so
/// enum values accumulate).
fn merge_dictionary(dictionary: &mut Value, ext: &Ext) -> Result<(), CompileError> {
    let file = ext.dir.join("dictionary.json");
    if !file.is_file() {
        return Ok(());
    }
    let add = load(&file)?;
    for (ptr, what) in [("/attributes", "attribute"), ("/types/attributes", "type")] {
        let Some(add) = add.pointer(ptr).and_then(Value::as_object) else {
            continue;
        };
        let target = dictionary
            .pointer_mut(ptr)
            .and_then(Value::as_object_mut)
            .ok_or_else(|| CompileError::Invalid(format!("dictionary has no {ptr}")))?;
        for (k, v) in add {
            match target.get_mut(k) {
                None => {
                    target.insert(k.clone(), v.clone());
                }
                Some(old) => {
                    if ["type", "is_array"].iter().any(|f| old.get(f) != v.get(f)) {
                        return Err(CompileError::Invalid(format!(
                            "extension {} redefines {what} {k} with another type",
                            ext.name
                        )));
                    }
                    if let (Some(o), Some(n)) = (old.as_object_mut(), v.as_object()) {
                        deep_merge(o, n);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Adds an extension's `categories.json` categories, with uid `extension_uid * 100 + uid`,
/// under both their plain and their scoped (`<extension>/<name>`) name.
fn merge_categories(
    category_uids: &mut BTreeMap<String, u32>,
    ext: &Ext,
) -> Result<(), CompileError> {
    let file = ext.dir.join("categories.json");
    if !file.is_file() {
        return Ok(());
    }
    let cats = load(&file)?;
    for (name, c) in cats
        .get("attributes")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let Some(uid) = c.get("uid").and_then(Value::as_u64) else {
            continue;
        };
        let uid = u64::from(ext.uid)
            .checked_mul(100)
            .and_then(|e| e.checked_add(uid))
            .ok_or_else(|| CompileError::Invalid(format!("category {name}: uid overflow")))?;
        let uid = to_u32(uid)?;
        for key in [name.clone(), format!("{}/{name}", ext.name)] {
            if category_uids.insert(key, uid).is_some() {
                return Err(CompileError::Invalid(format!(
                    "extension {} redefines category {name}",
                    ext.name
                )));
            }
        }
    }
    Ok(())
}

/// Reads `<dir>/**/*.json` of the core schema and of each extension. An extension definition
/// that `extends` an item of its own name, or has no name, is a patch of that item.
fn load_defs(root: &Path, dir: &str, exts: &[Ext]) -> Result<Defs, CompileError> {
    let mut defs = Defs::default();
    let mut sources: Vec<(PathBuf, Option<&Ext>)> = vec![(root.join(dir), None)];
    sources.extend(exts.iter().map(|e| (e.dir.join(dir), Some(e))));
    for (path, ext) in sources {
        if ext.is_some() && !path.is_dir() {
            continue;
        }
        let mut files = Vec::new();
        collect_json(&path, &mut files)?;
        for f in &files {
            let def = load(f)?;
            let name = def.get("name").and_then(Value::as_str).map(str::to_owned);
            let base = def
                .get("extends")
                .and_then(Value::as_str)
                .map(|e| descope(e).to_owned());
            let item = Item {
                def,
                ext: ext.cloned(),
            };
            match (ext, name, base) {
                (Some(_), n, Some(base)) if n.as_deref().is_none_or(|n| n == base) => {
                    defs.patches.entry(base.to_owned()).or_default().push(item);
                }
                (_, Some(n), _) => {
                    if defs.items.contains_key(&n) {
                        return Err(CompileError::Invalid(format!(
                            "{} redefines {n}",
                            f.display()
                        )));
                    }
                    defs.items.insert(n, item);
                }
                (_, None, _) => {
                    return Err(CompileError::Invalid(format!(
                        "{} has no name",
                        f.display()
                    )))
                }
            }
        }
    }
    if let Some(base) = defs.patches.keys().find(|b| !defs.items.contains_key(*b)) {
        return Err(CompileError::Invalid(format!(
            "extension patches unknown {base}"
        )));
    }
    Ok(defs)
}

/// `win/reg_key` → `reg_key`: references across extensions may be scoped.
fn descope(name: &str) -> &str {
    name.rsplit_once('/').map_or(name, |(_, n)| n)
}

/// `class_uid` as the OCSF server makes it: `category_uid * 1000 + uid`, where an extension
/// class's category uid is first scoped by the extension (`extension_uid * 100 +
/// category_uid`) unless it already is an extension category's (≥ 100).
fn class_uid(ext: Option<&Ext>, category_uid: u32, uid: u64) -> Result<u32, CompileError> {
    let cat = match ext {
        Some(e) if category_uid < 100 => u64::from(e.uid) * 100 + u64::from(category_uid),
        _ => u64::from(category_uid),
    };
    cat.checked_mul(1000)
        .and_then(|c| c.checked_add(uid))
        .ok_or_else(|| CompileError::Invalid(format!("class uid {uid} out of range")))
        .and_then(to_u32)
}

/// A class's `category`, taken from the nearest class up its `extends` chain that names one.
fn inherited_category<'a>(events: &'a Defs, name: &str) -> Option<&'a str> {
    let mut cur = &events.items.get(name)?.def;
    for _ in 0..MAX_DEPTH {
        if let Some(c) = cur.get("category").and_then(Value::as_str) {
            return Some(c);
        }
        cur = &events
            .items
            .get(descope(cur.get("extends").and_then(Value::as_str)?))?
            .def;
    }
    None
}

/// `observable.type_id` has only 0 and 99 in its source; the OCSF server fills in the other ids
/// from the `observable` numbers on dictionary types (`email_t` → 5), dictionary attributes,
/// objects, and class/object attribute definitions (extensions and patches included). Done the
/// same way here.
fn add_observable_types(
    dictionary: &Value,
    objects_raw: &Defs,
    events: &Defs,
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
    for def in objects_raw.all().chain(events.all()) {
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
/// with their `$include`s expanded, then its extension patches, each deep-merged over the
/// previous. A patch of a parent thus reaches every child, as in the OCSF server (which merges
/// patches into the parent before resolving `extends`).
fn resolve(root: &Path, defs: &Defs, name: &str, depth: usize) -> Result<RawAttrs, CompileError> {
    if depth > MAX_DEPTH {
        return Err(CompileError::Invalid(format!("extends cycle at {name}")));
    }
    let item = defs
        .items
        .get(name)
        .ok_or_else(|| CompileError::Invalid(format!("unknown parent {name}")))?;
    let mut attrs = match item.def.get("extends").and_then(Value::as_str).map(descope) {
        // `object` is the implicit root of objects and has no file.
        Some(parent) if defs.items.contains_key(parent) => resolve(root, defs, parent, depth + 1)?,
        Some("object") | None => RawAttrs::new(),
        Some(parent) => {
            return Err(CompileError::Invalid(format!(
                "{name} extends unknown {parent}"
            )))
        }
    };
    let patches = defs.patches.get(name).into_iter().flatten();
    for it in std::iter::once(item).chain(patches) {
        let empty = Map::new();
        let own = expand(
            root,
            it.ext.as_ref(),
            it.def
                .get("attributes")
                .and_then(Value::as_object)
                .unwrap_or(&empty),
            depth,
        )?;
        merge_into(&mut attrs, own);
    }
    Ok(attrs)
}

/// Expands `$include` entries of one attribute map, then merges the map's own entries over them.
/// Within extension `ext` an include resolves in the extension's directory first, then in the
/// core schema; a profile file found in the extension is named `<extension>/<profile>`.
fn expand(
    root: &Path,
    ext: Option<&Ext>,
    raw: &Map<String, Value>,
    depth: usize,
) -> Result<RawAttrs, CompileError> {
    if depth > MAX_DEPTH {
        return Err(CompileError::Invalid("$include too deep".into()));
    }
    let mut out = RawAttrs::new();
    if let Some(incs) = raw.get("$include").and_then(Value::as_array) {
        for inc in incs.iter().filter_map(Value::as_str) {
            let (path, scope) = match ext.map(|e| (e.dir.join(inc), e)) {
                Some((p, e)) if p.is_file() => (p, Some(e)),
                _ => (root.join(inc), None),
            };
            let file = load(&path)?;
            let profile = (file.get("meta").and_then(Value::as_str) == Some("profile"))
                .then(|| file.get("name").and_then(Value::as_str))
                .flatten()
                .map(|n| scope.map_or_else(|| n.to_owned(), |e| format!("{}/{n}", e.name)));
            let empty = Map::new();
            let sub = expand(
                root,
                scope,
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

    /// Adds extension `ex` (uid 7) to the miniature schema: a dictionary attribute and a data
    /// type, a category, a scoped profile, two classes, a new object and a patch of `thing`.
    fn add_mini_extension(r: &Path) {
        write(
            r,
            "extensions/ex/extension.json",
            &json!({"name": "ex", "uid": 7, "version": "0.1.0", "caption": "Ex"}),
        );
        write(
            r,
            "extensions/ex/dictionary.json",
            &json!({
                "attributes": {
                    "widget": {"type": "widget"},
                    "color": {"type": "string_t"},
                    // Also in the core dictionary, same type: allowed, enums merge.
                    "activity_id": {"type": "integer_t", "enum": {"98": {}}}
                },
                "types": {"attributes": {"key_path_t": {"type": "string_t", "observable": 46}}}
            }),
        );
        write(
            r,
            "extensions/ex/categories.json",
            &json!({"attributes": {"gadgets": {"uid": 3}}}),
        );
        write(
            r,
            "extensions/ex/events/ex_child.json",
            &json!({"name": "ex_child", "uid": 1, "extends": "parent", "attributes": {
                "$include": ["profiles/ep.json"],
                "widget": {"requirement": "required"}
            }}),
        );
        write(
            r,
            "extensions/ex/events/gadget_activity.json",
            &json!({"name": "gadget_activity", "uid": 2, "category": "gadgets",
                "extends": "base_event", "attributes": {}}),
        );
        write(
            r,
            "extensions/ex/profiles/ep.json",
            &json!({"name": "ep", "meta": "profile", "attributes": {
                "color": {"requirement": "required"}
            }}),
        );
        write(
            r,
            "extensions/ex/objects/widget.json",
            &json!({"name": "widget", "extends": "object", "observable": 28, "attributes": {
                "name": {"requirement": "required", "observable": 43},
                "path": {"requirement": "required", "type": "key_path_t"}
            }}),
        );
        // No name, `extends` a core object: a patch of `thing`, reaching its users.
        write(
            r,
            "extensions/ex/objects/thing.json",
            &json!({"extends": "thing", "attributes": {"color": {"requirement": "optional"}}}),
        );
        // A patch of the parent object `_base` reaches `thing`, which extends it.
        write(
            r,
            "extensions/ex/objects/base.json",
            &json!({"name": "_base", "extends": "_base", "attributes": {
                "widget": {"requirement": "optional"}
            }}),
        );
    }

    #[test]
    fn compiles_extensions() {
        let dir = mini_schema();
        add_mini_extension(dir.path());
        let t = compile(dir.path()).expect("mini schema with extension compiles");
        assert_eq!(
            t.extensions["ex"],
            ExtensionDef {
                uid: 7,
                version: "0.1.0".into()
            }
        );
        // (7 * 100 + 2) * 1000 + 1; an extension category is 7 * 100 + 3 already.
        assert_eq!(
            t.classes.keys().copied().collect::<Vec<_>>(),
            vec![0, 2004, 702_001, 703_002]
        );
        let c = &t.classes[&702_001];
        assert_eq!(
            (c.name.as_str(), c.category_uid, c.extension.as_deref()),
            ("ex_child", 2, Some("ex"))
        );
        assert_eq!(t.classes[&703_002].category_uid, 703);
        assert_eq!(t.classes[&2004].extension, None);
        let req = Requirement::Required;
        assert_eq!(
            c.attributes["widget"],
            Attr("widget".into(), false, req, None)
        );
        // Inherited from core `parent`, with the extension dictionary's enum value merged in.
        assert_eq!(
            c.enums["activity_id"],
            vec![json!(0), json!(1), json!(98), json!(99)]
        );
        // A profile from the extension's own directory is scoped by the extension name.
        assert_eq!(
            c.attributes["color"],
            Attr("string_t".into(), false, req, Some("ex/ep".into()))
        );
        let w = &t.objects["widget"];
        assert_eq!(w.extension.as_deref(), Some("ex"));
        assert_eq!(
            w.attributes["path"],
            Attr("key_path_t".into(), false, req, None)
        );
        assert_eq!(t.types["key_path_t"], "string_t");
        // The patches add to the core objects without making them the extension's.
        let thing = &t.objects["thing"];
        assert_eq!(thing.extension, None);
        assert_eq!(
            thing
                .attributes
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["addr", "color", "name", "time", "time_dt", "widget"]
        );
        assert_eq!(
            thing.attributes["color"],
            Attr("string_t".into(), false, Requirement::Optional, None)
        );
        // Object, object-attribute and type observables of the extension.
        assert_eq!(
            t.objects["observable"].enums["type_id"],
            vec![
                json!(0),
                json!(5),
                json!(28),
                json!(43),
                json!(46),
                json!(99)
            ]
        );
    }

    #[test]
    fn extension_conflicts_are_errors() {
        let compile_err = |f: &dyn Fn(&Path)| {
            let dir = mini_schema();
            add_mini_extension(dir.path());
            f(dir.path());
            compile(dir.path())
                .map(|_| ())
                .expect_err("must not compile")
                .to_string()
        };
        assert_eq!(
            compile_err(&|r| write(
                r,
                "extensions/ex/objects/thing.json",
                &json!({"extends": "nowhere", "attributes": {}})
            )),
            "schema: extension patches unknown nowhere"
        );
        // A new object named like a core one (names are not scoped).
        let e = compile_err(&|r| {
            write(
                r,
                "extensions/ex/objects/widget.json",
                &json!({"name": "observable", "extends": "object", "attributes": {}}),
            );
        });
        assert!(e.ends_with("widget.json redefines observable"), "{e}");
        assert_eq!(
            compile_err(&|r| write(
                r,
                "extensions/ex/dictionary.json",
                &json!({"attributes": {"time": {"type": "string_t"}}})
            )),
            "schema: extension ex redefines attribute time with another type"
        );
        assert_eq!(
            compile_err(&|r| write(
                r,
                "extensions/ex/events/gadget_activity.json",
                &json!({"name": "gadget_activity", "uid": 1, "category": "findings",
                    "extends": "base_event", "attributes": {}})
            )),
            "schema: class uid 702001 is both ex_child and gadget_activity"
        );
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

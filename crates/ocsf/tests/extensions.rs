//! The OCSF 1.8.0 extensions in the embedded table: the Windows classes and objects that
//! Shrike's Sysmon (12/13/14) and Windows (4697/7045) mappings emit, validated like core ones.

use serde_json::{json, Value};
use shrike_ocsf::{ClassDef, Requirement, Rule, Schema};

fn schema() -> &'static Schema {
    Schema::shared()
}

fn class(uid: u32) -> &'static ClassDef {
    schema()
        .table()
        .classes
        .get(&uid)
        .unwrap_or_else(|| panic!("class {uid} is in the table"))
}

/// The attributes a class requires outside any profile.
fn required(c: &ClassDef) -> Vec<&str> {
    c.attributes
        .iter()
        .filter(|(_, a)| a.requirement() == Requirement::Required && a.profile().is_none())
        .map(|(n, _)| n.as_str())
        .collect()
}

/// Every System Activity class requires these (from `base_event` and `system`).
const SYSTEM_REQUIRED: &[&str] = &[
    "activity_id",
    "actor",
    "category_uid",
    "class_uid",
    "device",
    "metadata",
    "severity_id",
    "time",
    "type_uid",
];

fn with(extra: &str) -> Vec<&str> {
    let mut v = SYSTEM_REQUIRED.to_vec();
    v.push(extra);
    v.sort_unstable();
    v
}

#[test]
fn windows_extension_is_compiled_in() {
    let t = schema().table();
    let win = &t.extensions["win"];
    assert_eq!((win.uid, win.version.as_str()), (2, "1.8.0"));
    assert_eq!(
        t.extensions.keys().collect::<Vec<_>>(),
        ["linux", "macos", "win"]
    );
    // Registry Key Activity = (2 * 100 + 1) * 1000 + 1, in category System Activity (1).
    let key = class(201_001);
    assert_eq!(
        (
            key.name.as_str(),
            key.category_uid,
            key.extension.as_deref()
        ),
        ("registry_key_activity", 1, Some("win"))
    );
    assert_eq!(required(key), with("reg_key"));
    assert_eq!(
        key.enums["activity_id"],
        (0..=9).chain([99]).map(Value::from).collect::<Vec<_>>()
    );
    let value = class(201_002);
    assert_eq!(
        (value.name.as_str(), value.category_uid),
        ("registry_value_activity", 1)
    );
    assert_eq!(required(value), with("reg_value"));
    let service = class(201_004);
    assert_eq!(
        (service.name.as_str(), service.category_uid),
        ("windows_service_activity", 1)
    );
    assert_eq!(required(service), with("win_service"));
    let ext_classes: Vec<(u32, &str)> = t
        .classes
        .values()
        .filter(|c| c.extension.is_some())
        .map(|c| (c.uid, c.name.as_str()))
        .collect();
    assert_eq!(
        ext_classes,
        [
            (201_001, "registry_key_activity"),
            (201_002, "registry_value_activity"),
            (201_003, "windows_resource_activity"),
            (201_004, "windows_service_activity"),
            (205_004, "registry_key_query"),
            (205_005, "registry_value_query"),
            (205_019, "prefetch_query"),
        ]
    );
    for o in ["reg_key", "reg_value", "win_resource", "win_service"] {
        assert_eq!(t.objects[o].extension.as_deref(), Some("win"), "{o}");
    }
    assert_eq!(t.types["reg_key_path_t"], "string_t");
    assert_eq!(
        t.objects["reg_key"].attributes["path"].type_name(),
        "reg_key_path_t"
    );
    // Patched core objects.
    assert_eq!(
        t.objects["process"].attributes["hosted_services"].type_name(),
        "win_service"
    );
    for o in ["reg_key", "reg_value", "win_service"] {
        assert!(t.objects["evidences"].attributes.contains_key(o), "{o}");
    }
    assert_eq!(
        t.objects["process"].attributes["auid"].profile(),
        Some("linux/linux_users")
    );
    // Observable ids: reg_key 28, reg_value 29, reg_value.name 43, reg_key_path_t 46.
    let ids = &t.objects["observable"].enums["type_id"];
    for id in [28, 29, 43, 46] {
        assert!(ids.contains(&Value::from(id)), "observable type_id {id}");
    }
}

/// A hand-written Sysmon event 13 (registry value set) as Registry Value Activity: Set.
fn registry_value_set() -> Value {
    json!({
        "activity_id": 2,
        "activity_name": "Set",
        "category_uid": 1,
        "category_name": "System Activity",
        "class_uid": 201_002,
        "class_name": "Registry Value Activity",
        "type_uid": 20_100_202,
        "type_name": "Registry Value Activity: Set",
        "time": 1_763_900_000_000_i64,
        "severity_id": 1,
        "severity": "Informational",
        "metadata": {
            "version": "1.8.0",
            "product": {"name": "Sysmon", "vendor_name": "Microsoft"},
            "extensions": [{"name": "win", "uid": "2", "version": "1.8.0"}],
            "log_name": "Microsoft-Windows-Sysmon/Operational",
            "event_code": "13"
        },
        "device": {"hostname": "ws01.corp.example", "type_id": 2,
            "os": {"name": "Windows", "type_id": 100}},
        "actor": {
            "process": {
                "pid": 4242,
                "uid": "{9d1b2c3e-0000-0000-0000-000000000001}",
                "name": "reg.exe",
                "file": {"name": "reg.exe", "path": "C:\\Windows\\System32\\reg.exe", "type_id": 1},
                "hosted_services": [{"name": "Schedule"}]
            },
            "user": {"name": "alice", "domain": "CORP"}
        },
        "reg_value": {
            "path": "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run",
            "name": "updater",
            "type_id": 10,
            "type": "REG_SZ",
            "reg_string_data": "C:\\Users\\alice\\AppData\\Local\\updater.exe"
        },
        "observables": [{"name": "reg_value.path", "type_id": 46,
            "value": "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run"}]
    })
}

#[test]
fn valid_registry_value_activity_has_no_errors() {
    assert_eq!(schema().validate(&registry_value_set()), vec![]);
}

#[test]
fn registry_value_activity_with_unknown_attribute_fails() {
    let mut ev = registry_value_set();
    ev["reg_value"]["hive"] = json!("HKLM");
    let errs = schema().validate(&ev);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        (errs[0].path.as_str(), errs[0].rule),
        ("reg_value.hive", Rule::UnknownAttribute)
    );
}

#[test]
fn registry_value_activity_checks_extension_types_enums_and_requirements() {
    let mut ev = registry_value_set();
    ev["reg_value"]["path"] = json!(7); // reg_key_path_t is a string
    ev["reg_value"]["type_id"] = json!(11); // not a REG_* id
    ev.as_object_mut().map(|o| o.remove("device"));
    let mut got: Vec<(String, Rule)> = schema()
        .validate(&ev)
        .into_iter()
        .map(|e| (e.path, e.rule))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("device".to_owned(), Rule::MissingRequired),
            ("reg_value.path".to_owned(), Rule::TypeMismatch),
            ("reg_value.type_id".to_owned(), Rule::EnumValue),
        ]
    );
}

#[test]
fn windows_service_activity_create_validates() {
    // Windows 7045 / 4697: a service was installed.
    let ev = json!({
        "activity_id": 1,
        "category_uid": 1,
        "class_uid": 201_004,
        "type_uid": 20_100_401,
        "time": 1_763_900_000_000_i64,
        "severity_id": 1,
        "metadata": {"version": "1.8.0", "product": {"name": "Windows", "vendor_name": "Microsoft"},
            "event_code": "7045"},
        "device": {"hostname": "ws01", "type_id": 2},
        "actor": {"user": {"name": "SYSTEM"}},
        "win_service": {
            "name": "evilsvc",
            "cmd_line": "C:\\Windows\\Temp\\evil.exe",
            "service_type_id": 3,
            "service_start_type_id": 3,
            "service_start_name": "LocalSystem",
            "service_file": {"name": "evil.exe", "path": "C:\\Windows\\Temp\\evil.exe", "type_id": 1}
        }
    });
    assert_eq!(schema().validate(&ev), vec![]);
    let mut bad = ev.clone();
    bad["type_uid"] = json!(20_100_402);
    let errs = schema().validate(&bad);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].rule, Rule::TypeUidMismatch);
}

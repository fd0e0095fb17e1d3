//! Windows events: every input shape to one flat canonical layout, and EVTX files.
//!
//! Canonical layout: the System fields under `Channel`, `EventID` (integer), `Provider`,
//! `Computer`, `TimeCreated` (as written), `EventRecordID` (integer), `Level`, `Task`, `Opcode`,
//! `Keywords`, `Version`, `ExecutionProcessID`, `ExecutionThreadID`, `UserID`, `ActivityID`;
//! every EventData / UserData field at the top level under its own name (unnamed `Data` items
//! as `Data`, `Data1`, ...; a field whose name is already taken goes to `EventData.<name>`);
//! `Message` when the source renders one. Values keep their JSON types. Keys the
//! canonicalization moved are removed from their old place; every other key stays as it was.
//!
//! Shapes: EVTX JSON (`Event.System`, `Event.EventData`), Winlogbeat 7/8 (`winlog.*`),
//! Winlogbeat 6 (`log_name`, `event_id`, `event_data`), and flat NXLog / HELK / Azure Sentinel
//! exports (`Hostname`, `SourceName`, `EventTime`, `RecordNumber`; Sentinel's `TimeGenerated`,
//! `EventSourceName`, `EventLog`, and `EventData` as an XML or JSON string).

use std::panic::{catch_unwind, AssertUnwindSafe};

use serde_json::{Map, Number, Value};

use super::container::ReadSeek;
use super::{record_label, xml, Decoder, Loc};
use crate::record::Source;

/// Canonicalizes a Windows event object in place (any shape).
pub(crate) fn canonicalize(obj: &mut Map<String, Value>) {
    let is_evtx = obj
        .get("Event")
        .and_then(Value::as_object)
        .is_some_and(|e| e.contains_key("System"));
    if is_evtx {
        let taken = std::mem::take(obj);
        *obj = from_evtx_json(taken);
    } else if obj.get("winlog").is_some_and(Value::is_object) {
        winlogbeat7(obj);
    } else if obj.contains_key("event_id")
        && ["log_name", "computer_name", "source_name", "event_data"]
            .iter()
            .any(|k| obj.contains_key(*k))
    {
        winlogbeat6(obj);
    } else {
        flat(obj);
    }
    to_integer(obj, "EventID");
    to_integer(obj, "EventRecordID");
}

/// Moves `from` to `to` unless `to` is already there.
fn rename(obj: &mut Map<String, Value>, from: &str, to: &str) {
    if obj.contains_key(to) {
        return;
    }
    if let Some(v) = obj.remove(from) {
        obj.insert(to.to_owned(), v);
    }
}

/// Moves the first present key of `from` to `to` unless `to` is already there.
fn rename_first(obj: &mut Map<String, Value>, from: &[&str], to: &str) {
    if obj.contains_key(to) {
        return;
    }
    if let Some(k) = from.iter().find(|k| obj.contains_key(**k)) {
        rename(obj, k, to);
    }
}

/// Chooses `TimeCreated` for the flat (NXLog/HELK/Sentinel) shape. NXLog's `EventTime` (and the
/// `TimeCreated` of some exports) is the collector's local time without a zone, hours off UTC;
/// a time with an explicit zone (`TimeGenerated`, `@timestamp`, which is the shipper's UTC
/// time, seconds after the event) wins over it. A zone-less `TimeCreated` that loses is kept as
/// `TimeCreatedLocal`; the other candidates keep their names.
fn pick_time(obj: &mut Map<String, Value>) {
    const CANDIDATES: [&str; 4] = ["TimeCreated", "EventTime", "TimeGenerated", "@timestamp"];
    let zoned = |obj: &Map<String, Value>, k: &str| {
        obj.get(k).and_then(Value::as_str).is_some_and(has_zone)
    };
    match CANDIDATES.iter().find(|k| zoned(obj, k)) {
        Some(&"TimeCreated") => {}
        Some(k) => {
            rename(obj, "TimeCreated", "TimeCreatedLocal");
            rename(obj, k, "TimeCreated");
        }
        None => rename_first(obj, &CANDIDATES[1..], "TimeCreated"),
    }
}

/// Whether a timestamp string names its zone (`Z`, `±hh:mm`, `±hhmm`).
fn has_zone(s: &str) -> bool {
    let s = s.trim();
    if s.ends_with(['Z', 'z']) {
        return true;
    }
    // An offset after the time part: the last `+` or `-` past the date (index 10).
    s.rfind(['+', '-']).is_some_and(|i| {
        i > 10 && s[i + 1..].bytes().all(|b| b.is_ascii_digit() || b == b':') && s.len() - i >= 3
    })
}

/// A decimal string (or an EVTX `{"#text": n}`) as an integer; anything else is left alone.
fn to_integer(obj: &mut Map<String, Value>, key: &str) {
    let Some(v) = obj.get_mut(key) else {
        return;
    };
    if let Value::Object(m) = v {
        if let Some(t) = m.remove("#text") {
            *v = t;
        }
    }
    if let Value::String(s) = v {
        let t = s.trim();
        if let Ok(n) = t.parse::<u64>() {
            *v = Value::Number(Number::from(n));
        } else if let Ok(n) = t.parse::<i64>() {
            *v = Value::Number(Number::from(n));
        }
    }
}

/// Column-type suffixes Log Analytics adds when a field name is used with several types.
const LA_SUFFIXES: &[&str] = &[
    "_string",
    "_dynamic",
    "_int",
    "_long",
    "_real",
    "_bool",
    "_datetime",
    "_guid",
];

/// Azure Sentinel / Log Analytics rows: `Protocol_string` → `Protocol` when `Protocol` is free.
fn strip_type_suffixes(obj: &mut Map<String, Value>) {
    let renames: Vec<(String, String)> = obj
        .keys()
        .filter_map(|k| {
            let base = LA_SUFFIXES.iter().find_map(|s| k.strip_suffix(s))?;
            (!base.is_empty() && !obj.contains_key(base)).then(|| (k.clone(), base.to_owned()))
        })
        .collect();
    for (from, to) in renames {
        rename(obj, &from, &to);
    }
}

/// Flat NXLog / HELK / Azure Sentinel exports.
fn flat(obj: &mut Map<String, Value>) {
    if obj.contains_key("TimeGenerated") || obj.contains_key("TenantId") {
        strip_type_suffixes(obj);
    }
    rename(obj, "EventLog", "Channel");
    if !obj.get("Provider").is_some_and(Value::is_string) {
        // PowerShell events carry `ProviderName` as event data when NXLog's `SourceName` is there.
        let mut candidates: Vec<&str> = vec!["SourceName", "ProviderName", "EventSourceName"];
        if obj.contains_key("TimeGenerated") {
            candidates.push("Source");
        }
        if !obj.contains_key("Provider") {
            rename_first(obj, &candidates, "Provider");
        }
    }
    rename(obj, "Hostname", "Computer");
    pick_time(obj);
    rename(obj, "RecordNumber", "EventRecordID");
    if obj.contains_key("ExecutionProcessID") {
        rename(obj, "ThreadID", "ExecutionThreadID");
    }
    rename(obj, "EventLevel", "Level");
    match obj.get("EventData") {
        Some(Value::String(s)) => {
            let s = s.trim_start();
            if s.starts_with('<') {
                let pairs = xml::event_data_pairs(s);
                if !pairs.is_empty() {
                    obj.remove("EventData");
                    let mut fl = Flattener::default();
                    for (name, value) in pairs {
                        fl.put(obj, name, Value::String(value));
                    }
                }
            } else if s.starts_with('{') || s.starts_with('[') {
                // Sentinel `WindowsEvent` rows carry EventData as a JSON object string,
                // `EventData_dynamic` as a JSON array of unnamed values.
                match serde_json::from_str::<Value>(s) {
                    Ok(Value::Object(m)) => {
                        obj.remove("EventData");
                        let mut fl = Flattener::default();
                        for (k, v) in m {
                            fl.put(obj, Some(k), v);
                        }
                    }
                    Ok(Value::Array(items)) => {
                        obj.remove("EventData");
                        let mut fl = Flattener::default();
                        for v in items {
                            fl.put(obj, None, v);
                        }
                    }
                    _ => {}
                }
            }
        }
        Some(Value::Object(_)) => {
            if let Some(v) = obj.remove("EventData") {
                Flattener::default().event_data(obj, v);
            }
        }
        _ => {}
    }
}

/// Winlogbeat 6.x: `log_name`, `computer_name`, `event_id`, `record_number`, `source_name`,
/// nested `event_data` / `user_data`.
fn winlogbeat6(obj: &mut Map<String, Value>) {
    for (from, to) in [
        ("log_name", "Channel"),
        ("event_id", "EventID"),
        ("source_name", "Provider"),
        ("computer_name", "Computer"),
        ("@timestamp", "TimeCreated"),
        ("record_number", "EventRecordID"),
        ("level", "Level"),
        ("task", "Task"),
        ("opcode", "Opcode"),
        ("keywords", "Keywords"),
        ("version", "Version"),
        ("process_id", "ExecutionProcessID"),
        ("thread_id", "ExecutionThreadID"),
        ("activity_id", "ActivityID"),
        ("message", "Message"),
    ] {
        rename(obj, from, to);
    }
    take_nested(obj, "user", "identifier", "UserID");
    let mut fl = Flattener::default();
    if let Some(v) = obj.remove("event_data") {
        fl.event_data(obj, v);
    }
    if let Some(v) = obj.remove("user_data") {
        fl.user_data(obj, v);
    }
}

/// Winlogbeat 7/8: everything Windows under `winlog`.
fn winlogbeat7(obj: &mut Map<String, Value>) {
    let Some(Value::Object(mut w)) = obj.remove("winlog") else {
        return;
    };
    for (from, to) in [
        ("channel", "Channel"),
        ("event_id", "EventID"),
        ("provider_name", "Provider"),
        ("computer_name", "Computer"),
        ("record_id", "EventRecordID"),
        ("task", "Task"),
        ("opcode", "Opcode"),
        ("keywords", "Keywords"),
        ("version", "Version"),
        ("activity_id", "ActivityID"),
    ] {
        if !obj.contains_key(to) {
            if let Some(v) = w.remove(from) {
                obj.insert(to.to_owned(), v);
            }
        }
    }
    if let Some(Value::Object(process)) = w.get_mut("process") {
        if let Some(pid) = process.remove("pid") {
            obj.insert("ExecutionProcessID".to_owned(), pid);
        }
        if let Some(Value::Object(thread)) = process.get_mut("thread") {
            if let Some(tid) = thread.remove("id") {
                obj.insert("ExecutionThreadID".to_owned(), tid);
            }
            if thread.is_empty() {
                process.remove("thread");
            }
        }
        if process.is_empty() {
            w.remove("process");
        }
    }
    take_nested(&mut w, "user", "identifier", "UserID");
    if let Some(uid) = w.remove("UserID") {
        obj.insert("UserID".to_owned(), uid);
    }
    let mut fl = Flattener::default();
    let event_data = w.remove("event_data");
    let user_data = w.remove("user_data");
    if !w.is_empty() {
        obj.insert("winlog".to_owned(), Value::Object(w));
    }
    rename(obj, "@timestamp", "TimeCreated");
    rename(obj, "message", "Message");
    take_nested(obj, "log", "level", "Level");
    if let Some(v) = event_data {
        fl.event_data(obj, v);
    }
    if let Some(v) = user_data {
        fl.user_data(obj, v);
    }
}

/// Moves `obj[outer][inner]` to `obj[to]`, dropping `outer` when it becomes empty.
fn take_nested(obj: &mut Map<String, Value>, outer: &str, inner: &str, to: &str) {
    if obj.contains_key(to) {
        return;
    }
    let Some(Value::Object(o)) = obj.get_mut(outer) else {
        return;
    };
    let Some(v) = o.remove(inner) else {
        return;
    };
    if o.is_empty() {
        obj.remove(outer);
    }
    obj.insert(to.to_owned(), v);
}

/// An EVTX record rendered as JSON by the `evtx` crate.
fn from_evtx_json(mut top: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(Value::Object(mut event)) = top.remove("Event") else {
        return top;
    };
    if let Some(Value::Object(mut sys)) = event.remove("System") {
        let mut provider = None;
        let mut extra: Vec<(&str, Value)> = Vec::new();
        if let Some(p) = sys.remove("Provider") {
            let mut attrs = attributes(p);
            provider = attrs.remove("Name");
            if let Some(g) = attrs.remove("Guid") {
                extra.push(("ProviderGuid", g));
            }
            if let Some(e) = attrs.remove("EventSourceName") {
                extra.push(("EventSourceName", e));
            }
        }
        let mut event_id = sys.remove("EventID");
        if let Some(Value::Object(m)) = &mut event_id {
            if let Some(q) = m
                .get_mut("#attributes")
                .and_then(Value::as_object_mut)
                .and_then(|a| a.remove("Qualifiers"))
            {
                extra.push(("Qualifiers", q));
            }
            event_id = m.remove("#text");
        }
        let time = sys
            .remove("TimeCreated")
            .and_then(|t| attributes(t).remove("SystemTime"));
        let mut correlation = sys
            .remove("Correlation")
            .map(attributes)
            .unwrap_or_default();
        let mut execution = sys.remove("Execution").map(attributes).unwrap_or_default();
        let mut security = sys.remove("Security").map(attributes).unwrap_or_default();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v.map(text_of) {
                out.insert(k.to_owned(), v);
            }
        };
        put("Channel", sys.remove("Channel"));
        put("EventID", event_id);
        put("Provider", provider);
        put("Computer", sys.remove("Computer"));
        put("TimeCreated", time);
        put("EventRecordID", sys.remove("EventRecordID"));
        put("Level", sys.remove("Level"));
        put("Task", sys.remove("Task"));
        put("Opcode", sys.remove("Opcode"));
        put("Keywords", sys.remove("Keywords"));
        put("Version", sys.remove("Version"));
        put("ExecutionProcessID", execution.remove("ProcessID"));
        put("ExecutionThreadID", execution.remove("ThreadID"));
        put("UserID", security.remove("UserID"));
        put("ActivityID", correlation.remove("ActivityID"));
        put("RelatedActivityID", correlation.remove("RelatedActivityID"));
        for (k, v) in extra {
            put(k, Some(v));
        }
        for (k, v) in execution {
            put(&format!("Execution{k}"), Some(v));
        }
        sys.retain(|_, v| !v.is_null());
        if !sys.is_empty() {
            out.insert("System".to_owned(), Value::Object(sys));
        }
    }
    let mut fl = Flattener::default();
    if let Some(v) = event.remove("EventData") {
        fl.event_data(&mut out, v);
    }
    if let Some(v) = event.remove("UserData") {
        fl.user_data(&mut out, v);
    }
    if let Some(Value::Object(mut ri)) = event.remove("RenderingInfo") {
        if let Some(m) = ri.remove("Message") {
            out.insert("Message".to_owned(), text_of(m));
        }
        ri.remove("#attributes");
        if !ri.is_empty() {
            out.insert("RenderingInfo".to_owned(), Value::Object(ri));
        }
    }
    // The namespace attribute says nothing; other children (ProcessingErrorData, ...) stay.
    event.remove("#attributes");
    for (k, v) in event {
        out.entry(k).or_insert(v);
    }
    for (k, v) in top {
        out.entry(k).or_insert(v);
    }
    out
}

/// The `#attributes` object of an EVTX element (empty when it has none).
fn attributes(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(mut m) => match m.remove("#attributes") {
            Some(Value::Object(a)) => a,
            _ => Map::new(),
        },
        _ => Map::new(),
    }
}

/// An element's text: `{"#text": v}` → v; anything else as is.
fn text_of(v: Value) -> Value {
    match v {
        Value::Object(mut m) if m.contains_key("#text") => m.remove("#text").unwrap_or(Value::Null),
        other => other,
    }
}

/// Puts EventData / UserData fields at the top level, numbering unnamed `Data` items.
#[derive(Default)]
struct Flattener {
    unnamed: usize,
}

impl Flattener {
    /// One field: under its name, or `EventData.<name>` when the name is taken; unnamed ones as
    /// `Data`, `Data1`, ...
    fn put(&mut self, obj: &mut Map<String, Value>, name: Option<String>, v: Value) {
        let key = match name {
            Some(n) if !n.is_empty() => n,
            _ => loop {
                let k = if self.unnamed == 0 {
                    "Data".to_owned()
                } else {
                    format!("Data{}", self.unnamed)
                };
                self.unnamed += 1;
                if !obj.contains_key(&k) {
                    break k;
                }
            },
        };
        if obj.contains_key(&key) {
            let alt = format!("EventData.{key}");
            obj.entry(alt).or_insert(v);
        } else {
            obj.insert(key, v);
        }
    }

    /// `EventData` in any rendering: an object of named fields (EVTX, Winlogbeat), with a
    /// `Data` member holding named or unnamed items, or an XML / JSON string.
    fn event_data(&mut self, obj: &mut Map<String, Value>, v: Value) {
        match v {
            Value::Null => {}
            Value::Object(m) => {
                for (k, val) in m {
                    match k.as_str() {
                        "#attributes" => {}
                        "Data" | "#text" => self.data_items(obj, val),
                        _ => self.put(obj, Some(k), val),
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.data_item(obj, item);
                }
            }
            Value::String(s) => {
                let pairs = if s.trim_start().starts_with('<') {
                    xml::event_data_pairs(&s)
                } else {
                    Vec::new()
                };
                if pairs.is_empty() {
                    self.put(obj, Some("EventData".to_owned()), Value::String(s));
                } else {
                    for (name, value) in pairs {
                        self.put(obj, name, Value::String(value));
                    }
                }
            }
            other => self.put(obj, Some("EventData".to_owned()), other),
        }
    }

    /// `Data` items: an array, one item, or `{"#text": [..]}`.
    fn data_items(&mut self, obj: &mut Map<String, Value>, v: Value) {
        match v {
            Value::Array(items) => {
                for item in items {
                    self.data_item(obj, item);
                }
            }
            Value::Object(mut m) if !has_name(&m) && m.contains_key("#text") => {
                match m.remove("#text") {
                    Some(Value::Array(texts)) => {
                        for t in texts {
                            self.put(obj, None, t);
                        }
                    }
                    Some(t) => self.put(obj, None, t),
                    None => {}
                }
            }
            other => self.data_item(obj, other),
        }
    }

    /// One `Data` item: `{"#attributes": {"Name": n}, "#text": v}`, `{"@Name": n, "#text": v}`,
    /// `{"Name": n, "#text"/"Value"/"value": v}`, or a bare value (unnamed).
    fn data_item(&mut self, obj: &mut Map<String, Value>, v: Value) {
        match v {
            Value::Object(mut m) => {
                let name = take_name(&mut m);
                let text = m
                    .remove("#text")
                    .or_else(|| m.remove("Value"))
                    .or_else(|| m.remove("value"));
                match (name, text) {
                    (Some(n), t) => {
                        self.put(obj, Some(n), t.unwrap_or(Value::String(String::new())))
                    }
                    (None, Some(t)) => self.put(obj, None, t),
                    (None, None) => {
                        // Plain named fields (`{"Image": "..."}`).
                        for (k, val) in m {
                            self.put(obj, Some(k), val);
                        }
                    }
                }
            }
            other => self.put(obj, None, other),
        }
    }

    /// `UserData`: one element whose children are the fields (EVTX), or already the fields
    /// (Winlogbeat).
    fn user_data(&mut self, obj: &mut Map<String, Value>, v: Value) {
        let Value::Object(m) = v else {
            if !v.is_null() {
                self.put(obj, Some("UserData".to_owned()), v);
            }
            return;
        };
        let elements: Vec<&Value> = m.values().collect();
        let single_element = m.len() == 1 && elements.first().is_some_and(|e| e.is_object());
        if single_element {
            for (_, inner) in m {
                if let Value::Object(fields) = inner {
                    for (k, val) in fields {
                        if k != "#attributes" {
                            self.put(obj, Some(k), val);
                        }
                    }
                }
            }
        } else {
            for (k, val) in m {
                if k != "#attributes" {
                    self.put(obj, Some(k), val);
                }
            }
        }
    }
}

fn has_name(m: &Map<String, Value>) -> bool {
    m.contains_key("@Name")
        || m.contains_key("Name")
        || m.get("#attributes")
            .and_then(Value::as_object)
            .is_some_and(|a| a.contains_key("Name"))
}

fn take_name(m: &mut Map<String, Value>) -> Option<String> {
    let from_attrs = m
        .get_mut("#attributes")
        .and_then(Value::as_object_mut)
        .and_then(|a| a.remove("Name"));
    let v = from_attrs
        .or_else(|| m.remove("@Name"))
        .or_else(|| m.remove("Name"))?;
    m.remove("#attributes");
    match v {
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

/// Decodes an EVTX file: one Windows record per event record; a record the parser cannot read
/// is quarantined (`evtx_record_invalid`) and the rest go on; a file it cannot open is
/// `evtx_invalid`. The `evtx` crate is trusted not to panic, but a panic is caught and reported
/// as `evtx_invalid` rather than unwinding through the caller.
pub(crate) fn decode_evtx(d: &mut Decoder, f: &mut dyn ReadSeek, loc: &Loc) {
    let opened = catch_unwind(AssertUnwindSafe(|| evtx::EvtxParser::from_read_seek(f)));
    let parser = match opened {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            let detail = format!("{}: not a readable EVTX file: {e}", loc.display());
            d.quarantine("evtx_invalid", detail, loc.origin(None, Some(0)), &[]);
            return;
        }
        Err(_) => {
            let detail = format!(
                "{}: the EVTX parser panicked on the file header",
                loc.display()
            );
            d.quarantine("evtx_invalid", detail, loc.origin(None, Some(0)), &[]);
            return;
        }
    };
    let mut parser = parser.with_configuration(evtx::ParserSettings::new().indent(false));
    let mut records = parser.records_json();
    let mut index = 0u64;
    loop {
        let next = catch_unwind(AssertUnwindSafe(|| records.next()));
        let item = match next {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(_) => {
                let detail = format!(
                    "{}: the EVTX parser panicked after {index} records; the rest of the file was not read",
                    loc.display()
                );
                d.quarantine("evtx_invalid", detail, loc.origin(Some(index), None), &[]);
                break;
            }
        };
        let origin = loc.origin(Some(index), None);
        match item {
            Ok(rec) => {
                let raw = rec.data.into_bytes();
                match serde_json::from_slice::<Value>(&raw) {
                    Ok(Value::Object(mut obj)) => {
                        canonicalize(&mut obj);
                        d.record(Source::Windows, obj, raw, origin);
                    }
                    Ok(_) | Err(_) => {
                        let detail = format!(
                            "{} (event record id {}): rendered JSON is not an object",
                            record_label(index),
                            rec.event_record_id
                        );
                        d.quarantine("evtx_record_invalid", detail, origin, &raw);
                    }
                }
            }
            Err(e) => {
                let detail = format!(
                    "{}: unreadable EVTX record or chunk: {e}",
                    record_label(index)
                );
                d.quarantine("evtx_record_invalid", detail, origin, &[]);
            }
        }
        index += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(v: Value) -> Map<String, Value> {
        let mut m = match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        canonicalize(&mut m);
        m
    }

    #[test]
    fn zones_are_recognised() {
        assert!(!has_zone("2020-10-18 10:56:18.799"));
        assert!(!has_zone("2020-10-18"));
        assert!(has_zone("2020-10-18T10:56:19.000Z"));
        assert!(has_zone("2018-03-24T11:51:02.123456-0600"));
        assert!(has_zone("2019-05-12T18:35:05+05:30"));
        let m = canon(
            json!({"EventID": 1, "Channel": "Security", "TimeCreated": "2020-10-18 06:56:18.799",
            "@timestamp": "2020-10-18T10:56:19.000Z"}),
        );
        assert_eq!(
            m.get("TimeCreated"),
            Some(&json!("2020-10-18T10:56:19.000Z"))
        );
        assert_eq!(
            m.get("TimeCreatedLocal"),
            Some(&json!("2020-10-18 06:56:18.799"))
        );
    }

    #[test]
    fn nxlog_flat_shape() {
        let m = canon(json!({
            "EventID": 4688, "Channel": "Security", "Hostname": "ws01.corp.example",
            "SourceName": "Microsoft-Windows-Security-Auditing", "ProviderName": "Registry",
            "EventTime": "2020-10-18 10:56:18", "@timestamp": "2020-10-18T10:56:19.000Z",
            "RecordNumber": 42, "ExecutionProcessID": 4, "ThreadID": 60,
            "NewProcessId": "0x1a74", "ProcessId": "3428"
        }));
        assert_eq!(m.get("Computer"), Some(&json!("ws01.corp.example")));
        assert_eq!(
            m.get("Provider"),
            Some(&json!("Microsoft-Windows-Security-Auditing"))
        );
        assert_eq!(m.get("ProviderName"), Some(&json!("Registry")));
        // The zone-less local EventTime loses to the shipper's UTC @timestamp.
        assert_eq!(
            m.get("TimeCreated"),
            Some(&json!("2020-10-18T10:56:19.000Z"))
        );
        assert_eq!(m.get("EventTime"), Some(&json!("2020-10-18 10:56:18")));
        assert_eq!(m.get("EventRecordID"), Some(&json!(42)));
        assert_eq!(m.get("ExecutionThreadID"), Some(&json!(60)));
        assert_eq!(m.get("ProcessId"), Some(&json!("3428")));
        for gone in [
            "Hostname",
            "SourceName",
            "@timestamp",
            "RecordNumber",
            "ThreadID",
        ] {
            assert!(!m.contains_key(gone), "{gone}");
        }
    }

    #[test]
    fn sentinel_xml_event_data() {
        let m = canon(json!({
            "TimeGenerated": "2022-05-13T08:54:05.21Z", "Computer": "ws01.corp.example",
            "EventSourceName": "Microsoft-Windows-Security-Auditing", "Channel": "Security",
            "EventID": 5156, "Type": "SecurityEvent",
            "EventData": "<EventData xmlns=\"x\">\r\n <Data Name=\"SourceAddress\">192.0.2.5</Data><Data Name=\"Application\">C:\\a &amp; b</Data></EventData>"
        }));
        assert_eq!(m.get("SourceAddress"), Some(&json!("192.0.2.5")));
        assert_eq!(m.get("Application"), Some(&json!("C:\\a & b")));
        assert_eq!(
            m.get("Provider"),
            Some(&json!("Microsoft-Windows-Security-Auditing"))
        );
        assert_eq!(
            m.get("TimeCreated"),
            Some(&json!("2022-05-13T08:54:05.21Z"))
        );
        assert!(!m.contains_key("EventData"));
        assert_eq!(m.get("Type"), Some(&json!("SecurityEvent")));
    }

    #[test]
    fn sentinel_type_suffixes_and_dynamic_data() {
        let m = canon(json!({
            "TimeGenerated": "2021-08-02T13:09:19.323Z", "Computer": "adfs01.corp.example", "EventID": 5156,
            "Protocol_string": "6", "SourcePort_string": "53121", "Protocol": "17x",
            "EventData_dynamic": "[\"a\",\"-\"]"
        }));
        assert_eq!(m.get("Protocol"), Some(&json!("17x")));
        assert_eq!(m.get("Protocol_string"), Some(&json!("6")));
        assert_eq!(m.get("SourcePort"), Some(&json!("53121")));
        assert_eq!(m.get("Data"), Some(&json!("a")));
        assert_eq!(m.get("Data1"), Some(&json!("-")));
        assert!(!m.contains_key("EventData") && !m.contains_key("EventData_dynamic"));
    }

    #[test]
    fn evtx_json_shape() {
        let m = canon(json!({"Event": {
            "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
            "System": {
                "Provider": {"#attributes": {"Name": "Service Control Manager", "Guid": "{g}", "EventSourceName": "Service Control Manager"}},
                "EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 7036},
                "Version": 0, "Level": 4, "Task": 0, "Opcode": 0, "Keywords": "0x8080000000000000",
                "TimeCreated": {"#attributes": {"SystemTime": "2020-09-23T16:57:41.3726306Z"}},
                "EventRecordID": 65371, "Correlation": null,
                "Execution": {"#attributes": {"ProcessID": 580, "ThreadID": 6460}},
                "Channel": "System", "Computer": "ws01.corp.example",
                "Security": {"#attributes": {"UserID": "S-1-5-18"}}
            },
            "EventData": {"Data": [{"#attributes": {"Name": "param1"}, "#text": "Windows Update"}, "unnamed", "second"], "Binary": "00"}
        }}));
        assert_eq!(m.get("EventID"), Some(&json!(7036)));
        assert_eq!(m.get("Qualifiers"), Some(&json!(16384)));
        assert_eq!(m.get("Provider"), Some(&json!("Service Control Manager")));
        assert_eq!(
            m.get("TimeCreated"),
            Some(&json!("2020-09-23T16:57:41.3726306Z"))
        );
        assert_eq!(m.get("ExecutionProcessID"), Some(&json!(580)));
        assert_eq!(m.get("UserID"), Some(&json!("S-1-5-18")));
        assert_eq!(m.get("param1"), Some(&json!("Windows Update")));
        assert_eq!(m.get("Data"), Some(&json!("unnamed")));
        assert_eq!(m.get("Data1"), Some(&json!("second")));
        assert_eq!(m.get("Binary"), Some(&json!("00")));
        assert!(!m.contains_key("Event") && !m.contains_key("System"));
    }

    #[test]
    fn winlogbeat_shapes() {
        let m = canon(json!({
            "@timestamp": "2019-05-18T20:19:20.052Z", "log_name": "Security", "event_id": 4624,
            "computer_name": "ws01.corp.example", "record_number": "951", "source_name": "Microsoft-Windows-Security-Auditing",
            "user": {"identifier": "S-1-5-18", "name": "SYSTEM"}, "message": "An account was successfully logged on.",
            "event_data": {"TargetUserName": "alice", "LogonType": "3"}, "beat": {"name": "wec"}
        }));
        assert_eq!(m.get("EventRecordID"), Some(&json!(951)));
        assert_eq!(m.get("UserID"), Some(&json!("S-1-5-18")));
        assert_eq!(m.get("user"), Some(&json!({"name": "SYSTEM"})));
        assert_eq!(m.get("LogonType"), Some(&json!("3")));
        assert_eq!(
            m.get("Message"),
            Some(&json!("An account was successfully logged on."))
        );
        assert_eq!(
            m.get("TimeCreated"),
            Some(&json!("2019-05-18T20:19:20.052Z"))
        );

        let m = canon(json!({
            "@timestamp": "2021-01-01T00:00:00.000Z", "message": "Process Create",
            "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": "1", "computer_name": "ws01.corp.example",
                "record_id": 77, "provider_name": "Microsoft-Windows-Sysmon", "api": "wineventlog",
                "process": {"pid": 3000, "thread": {"id": 4000}}, "user": {"identifier": "S-1-5-18"},
                "event_data": {"Image": "C:\\Windows\\System32\\cmd.exe", "ProcessId": "1234"}},
            "log": {"level": "information"}
        }));
        assert_eq!(m.get("EventID"), Some(&json!(1)));
        assert_eq!(m.get("ExecutionThreadID"), Some(&json!(4000)));
        assert_eq!(m.get("UserID"), Some(&json!("S-1-5-18")));
        assert_eq!(
            m.get("Image"),
            Some(&json!("C:\\Windows\\System32\\cmd.exe"))
        );
        assert_eq!(m.get("ProcessId"), Some(&json!("1234")));
        assert_eq!(m.get("winlog"), Some(&json!({"api": "wineventlog"})));
        assert_eq!(m.get("Level"), Some(&json!("information")));
        assert!(!m.contains_key("log"));
    }

    #[test]
    fn colliding_event_data_names_are_kept() {
        let m = canon(json!({"Channel": "x", "EventID": 1, "EventData": {"Channel": "inner"}}));
        assert_eq!(m.get("Channel"), Some(&json!("x")));
        assert_eq!(m.get("EventData.Channel"), Some(&json!("inner")));
    }
}

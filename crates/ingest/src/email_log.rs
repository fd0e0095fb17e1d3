//! Email-log JSON as a SIEM holds it: one record per JSON object.
//!
//! [`parse_email_log`] maps one object to an [`EmailRecord`], checking the type of every known
//! field (a wrong type is an error naming the field and the record; `null` means absent; unknown
//! fields are ignored). Fields missing at the top level are taken from `headers` when present.
//! [`JsonSplitter`] cuts a stream (one object, an array of objects, NDJSON, concatenated objects)
//! into records without parsing the whole document, so one broken line costs one record.

use std::io::{self, BufRead};

use serde_json::{Map, Value};
use shrike_types::{Attachment, AuthResults, EmailRecord, Label, Mailbox, RecordOrigin};

use crate::auth::{apply_authentication_results, apply_received_spf, verdict};
use crate::date::{is_plausible, parse_mail_date, parse_rfc3339};
use crate::error::IngestError;
use crate::header::{angle_content, mailboxes};
use crate::message::default_id;
use crate::text::push_lf_normalized;

/// Parses one email-log JSON object. The record id is the `id` (or `event_id`, `uid`) field, else
/// derived from `origin` as for messages.
///
/// # Errors
/// `json_invalid` (not an object), `json_wrong_type` (naming the field and the record),
/// `missing_fields` (none of from, subject, body_text, body_html, headers).
pub fn parse_email_log(value: &Value, origin: RecordOrigin) -> Result<EmailRecord, IngestError> {
    parse_email_log_inner(value, origin).map(|(rec, _)| rec)
}

/// [`parse_email_log`], also saying whether the record carried its own id.
pub(crate) fn parse_email_log_inner(
    value: &Value,
    origin: RecordOrigin,
) -> Result<(EmailRecord, bool), IngestError> {
    let Some(obj) = value.as_object() else {
        return Err(IngestError::JsonInvalid {
            record: record_name(&origin, None),
            detail: format!("expected an object, got {}", json_type(value)),
        });
    };
    let mut f = Fields {
        obj,
        record: record_name(&origin, None),
    };
    let own_id = f.id()?;
    f.record = record_name(&origin, own_id.as_deref());

    let present = ["from", "subject", "body_text", "body_html", "headers"]
        .iter()
        .any(|k| f.get(k).is_some());
    if !present {
        return Err(IngestError::MissingFields { record: f.record });
    }

    let mut rec = EmailRecord {
        id: own_id.clone().unwrap_or_else(|| default_id(&origin)),
        ..EmailRecord::default()
    };
    rec.headers = f.headers()?;
    rec.from = f.mailboxes("from")?.into_iter().next();
    rec.to = f.mailboxes("to")?;
    rec.cc = f.mailboxes("cc")?;
    rec.reply_to = f.mailboxes("reply_to")?;
    rec.return_path = f.string("return_path")?.and_then(|s| angle_content(&s));
    rec.subject = f.string("subject")?;
    rec.date = f.date("date")?;
    rec.message_id = f.string("message_id")?.and_then(|s| angle_content(&s));
    rec.body_text = f.string("body_text")?.map(|s| lf(&s));
    rec.body_html = f.string("body_html")?.map(|s| lf(&s));
    rec.urls = f.string_array("urls")?;
    rec.attachments = f.attachments()?;
    rec.auth = f.auth()?;
    rec.label = f.label()?;
    rec.source = f.string("source")?;
    fill_from_headers(&mut rec);
    rec.origin = origin;
    Ok((rec, own_id.is_some()))
}

fn lf(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_lf_normalized(&mut out, s);
    out
}

/// `record 3` (stream index), `record "evt-9"` (own id) or `record in <origin>`.
fn record_name(origin: &RecordOrigin, id: Option<&str>) -> String {
    match (origin.index, id) {
        (Some(i), _) => format!("record {i}"),
        (None, Some(id)) => format!("record {id:?}"),
        (None, None) if !origin.path.is_empty() => format!("record in {origin}"),
        (None, None) => "record".to_owned(),
    }
}

/// The JSON type name used in error messages.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Typed access to the fields of one record.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    record: String,
}

impl<'a> Fields<'a> {
    /// A field, `null` counting as absent.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.obj.get(key).filter(|v| !v.is_null())
    }

    fn wrong(&self, field: impl Into<String>, expected: &'static str, got: &Value) -> IngestError {
        IngestError::JsonWrongType {
            record: self.record.clone(),
            field: field.into(),
            expected,
            got: json_type(got),
        }
    }

    fn id(&self) -> Result<Option<String>, IngestError> {
        for key in ["id", "event_id", "uid"] {
            match self.get(key) {
                None => continue,
                Some(Value::String(s)) => return Ok(Some(s.clone())),
                Some(Value::Number(n)) => return Ok(Some(n.to_string())),
                Some(v) => return Err(self.wrong(key, "string or number", v)),
            }
        }
        Ok(None)
    }

    fn string(&self, key: &str) -> Result<Option<String>, IngestError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.wrong(key, "string", v)),
        }
    }

    fn string_array(&self, key: &str) -> Result<Vec<String>, IngestError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_null())
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(self.wrong(format!("{key}[{i}]"), "string", other)),
                })
                .collect(),
            Some(v) => Err(self.wrong(key, "array of strings", v)),
        }
    }

    fn mailboxes(&self, key: &str) -> Result<Vec<Mailbox>, IngestError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, v) in items.iter().enumerate() {
                    out.extend(self.mailbox_value(&format!("{key}[{i}]"), v)?);
                }
                Ok(out)
            }
            Some(v) => self.mailbox_value(key, v),
        }
    }

    fn mailbox_value(&self, field: &str, v: &Value) -> Result<Vec<Mailbox>, IngestError> {
        match v {
            Value::Null => Ok(Vec::new()),
            Value::String(s) => Ok(mailboxes(s.as_bytes())),
            Value::Object(o) => {
                let sub = |k: &str| -> Result<Option<String>, IngestError> {
                    match o.get(k).filter(|v| !v.is_null()) {
                        None => Ok(None),
                        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
                        Some(other) => Err(self.wrong(format!("{field}.{k}"), "string", other)),
                    }
                };
                let name = sub("name")?.filter(|n| !n.is_empty());
                let address = match sub("address")? {
                    Some(a) => a,
                    None => sub("email")?.unwrap_or_default(),
                };
                Ok(if name.is_none() && address.is_empty() {
                    Vec::new()
                } else {
                    vec![Mailbox { name, address }]
                })
            }
            other => Err(self.wrong(field, "string, object or array", other)),
        }
    }

    fn date(&self, key: &str) -> Result<Option<i64>, IngestError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                // `as` saturates: a float too large for i64 becomes i64::MAX, then implausible.
                let secs = n.as_i64().or_else(|| n.as_f64().map(|f| f as i64));
                Ok(secs.map(epoch_seconds).filter(|t| is_plausible(*t)))
            }
            Some(Value::String(s)) => {
                let s = s.trim();
                let parsed = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                    s.parse::<i64>().ok().map(epoch_seconds)
                } else {
                    parse_rfc3339(s).or_else(|| parse_mail_date(s))
                };
                // An unreadable or implausible date is data quality, not a reason to lose the
                // record: the date is left out, as for messages.
                Ok(parsed.filter(|t| is_plausible(*t)))
            }
            Some(v) => Err(self.wrong(key, "string or number", v)),
        }
    }

    fn headers(&self) -> Result<Vec<(String, String)>, IngestError> {
        let mut out = Vec::new();
        match self.get("headers") {
            None => {}
            Some(Value::Object(map)) => {
                for (name, v) in map {
                    match v {
                        Value::Null => {}
                        Value::String(s) => out.push((name.clone(), s.clone())),
                        Value::Array(vals) => {
                            for (i, item) in vals.iter().enumerate() {
                                match item {
                                    Value::String(s) => out.push((name.clone(), s.clone())),
                                    Value::Null => {}
                                    other => {
                                        return Err(self.wrong(
                                            format!("headers.{name}[{i}]"),
                                            "string",
                                            other,
                                        ))
                                    }
                                }
                            }
                        }
                        other => {
                            return Err(self.wrong(
                                format!("headers.{name}"),
                                "string or array of strings",
                                other,
                            ))
                        }
                    }
                }
            }
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let field = format!("headers[{i}]");
                    let pair = match item {
                        Value::Array(pair) if pair.len() == 2 => (pair.first(), pair.get(1)),
                        Value::Object(o) => (o.get("name"), o.get("value")),
                        other => {
                            return Err(self.wrong(field, "[name, value] or {name, value}", other))
                        }
                    };
                    match pair {
                        (Some(Value::String(n)), Some(Value::String(v))) => {
                            out.push((n.clone(), v.clone()))
                        }
                        (Some(Value::String(_)), Some(Value::Null) | None) => {}
                        (Some(Value::String(_)), Some(other)) => {
                            return Err(self.wrong(format!("{field}.value"), "string", other))
                        }
                        (Some(other), _) => {
                            return Err(self.wrong(format!("{field}.name"), "string", other))
                        }
                        (None, _) => {
                            return Err(IngestError::JsonWrongType {
                                record: self.record.clone(),
                                field: format!("{field}.name"),
                                expected: "string",
                                got: "nothing",
                            })
                        }
                    }
                }
            }
            Some(v) => return Err(self.wrong("headers", "object or array", v)),
        }
        Ok(out)
    }

    fn attachments(&self) -> Result<Vec<Attachment>, IngestError> {
        let items = match self.get("attachments") {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(v) => return Err(self.wrong("attachments", "array of objects", v)),
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let field = format!("attachments[{i}]");
            let Value::Object(o) = item else {
                return Err(self.wrong(field, "object", item));
            };
            let text = |k: &str| -> Result<Option<String>, IngestError> {
                match o.get(k).filter(|v| !v.is_null()) {
                    None => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(other) => Err(self.wrong(format!("{field}.{k}"), "string", other)),
                }
            };
            let size = match o.get("size").filter(|v| !v.is_null()) {
                None => 0,
                Some(v) => v.as_u64().ok_or_else(|| {
                    self.wrong(format!("{field}.size"), "non-negative integer", v)
                })?,
            };
            out.push(Attachment {
                name: text("name")?,
                content_type: text("content_type")?.map(|c| c.trim().to_ascii_lowercase()),
                size,
                sha256: text("sha256")?.map(|h| h.trim().to_ascii_lowercase()),
                magic: None,
                has_macros: None,
            });
        }
        Ok(out)
    }

    fn auth(&self) -> Result<AuthResults, IngestError> {
        let mut auth = AuthResults::default();
        let word = |field: String,
                    v: &Value|
         -> Result<Option<shrike_types::AuthVerdict>, IngestError> {
            match v {
                Value::Null => Ok(None),
                Value::String(s) if s.trim().is_empty() => Ok(None),
                Value::String(s) => Ok(Some(verdict(s.split_whitespace().next().unwrap_or("")))),
                other => Err(self.wrong(field, "string", other)),
            }
        };
        match self.get("auth") {
            None => {}
            Some(Value::Object(o)) => {
                for (k, slot) in [
                    ("spf", &mut auth.spf),
                    ("dkim", &mut auth.dkim),
                    ("dmarc", &mut auth.dmarc),
                ] {
                    if let Some(v) = o.get(k) {
                        *slot = word(format!("auth.{k}"), v)?;
                    }
                }
            }
            Some(v) => return Err(self.wrong("auth", "object", v)),
        }
        for (k, slot) in [
            ("spf", &mut auth.spf),
            ("dkim", &mut auth.dkim),
            ("dmarc", &mut auth.dmarc),
        ] {
            if let Some(v) = self.get(k) {
                let w = word(k.to_owned(), v)?;
                if slot.is_none() {
                    *slot = w;
                }
            }
        }
        if let Some(ar) = self.string("authentication_results")? {
            apply_authentication_results(&ar, &mut auth);
        }
        Ok(auth)
    }

    fn label(&self) -> Result<Option<Label>, IngestError> {
        match self.get("label") {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Label::parse(s)),
            Some(Value::Number(n)) => Ok(Label::parse(&n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(if *b { Label::Phishing } else { Label::Ham })),
            Some(v) => Err(self.wrong("label", "string, number or boolean", v)),
        }
    }
}

/// Epoch seconds, or milliseconds when the value is past year 5138 in seconds.
fn epoch_seconds(n: i64) -> i64 {
    if n.unsigned_abs() >= 100_000_000_000 {
        n / 1000
    } else {
        n
    }
}

/// Takes what the top-level fields left out from the record's `headers`.
fn fill_from_headers(rec: &mut EmailRecord) {
    if rec.headers.is_empty() {
        return;
    }
    let first = |name: &str| -> Option<String> {
        rec.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let from = first("from");
    let to = first("to");
    let cc = first("cc");
    let reply_to = first("reply-to");
    let return_path = first("return-path");
    let subject = first("subject");
    let message_id = first("message-id");
    let date = first("date");
    let ar = first("authentication-results");
    let rspf = first("received-spf");
    if rec.from.is_none() {
        rec.from = from.and_then(|v| mailboxes(v.as_bytes()).into_iter().next());
    }
    if rec.to.is_empty() {
        rec.to = to.map(|v| mailboxes(v.as_bytes())).unwrap_or_default();
    }
    if rec.cc.is_empty() {
        rec.cc = cc.map(|v| mailboxes(v.as_bytes())).unwrap_or_default();
    }
    if rec.reply_to.is_empty() {
        rec.reply_to = reply_to
            .map(|v| mailboxes(v.as_bytes()))
            .unwrap_or_default();
    }
    if rec.return_path.is_none() {
        rec.return_path = return_path.and_then(|v| angle_content(&v));
    }
    if rec.subject.is_none() {
        rec.subject = subject;
    }
    if rec.message_id.is_none() {
        rec.message_id = message_id.and_then(|v| angle_content(&v));
    }
    if rec.date.is_none() {
        rec.date = date
            .and_then(|d| parse_mail_date(&d))
            .filter(|t| is_plausible(*t));
    }
    if let Some(ar) = ar {
        apply_authentication_results(&ar, &mut rec.auth);
    }
    if let Some(rspf) = rspf {
        apply_received_spf(&rspf, &mut rec.auth);
    }
}

/// One unit cut from a JSON stream.
#[derive(Debug)]
pub(crate) enum JsonUnit {
    /// A top-level object (or array element): its bytes, possibly broken or cut.
    Record {
        /// The bytes (only the first `keep_when_oversize` when `size` is over the limit).
        bytes: Vec<u8>,
        /// Offset of its first byte.
        offset: u64,
        /// Its size in bytes.
        size: u64,
    },
    /// Top-level bytes that are not an object (a bare value, garbage): up to the line end.
    Garbage {
        /// The bytes.
        bytes: Vec<u8>,
        /// Offset of the first byte.
        offset: u64,
    },
}

/// Whether the records are one per line (NDJSON), which decides what a line break means inside
/// an unfinished record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Unknown,
    Lines,
    Document,
}

/// Cuts a JSON stream into top-level objects (array elements included) by tracking nesting and
/// strings, never holding more than one record.
pub(crate) struct JsonSplitter<'r> {
    reader: &'r mut dyn BufRead,
    offset: u64,
    layout: Layout,
    max_bytes: usize,
    keep_when_oversize: usize,
}

impl<'r> JsonSplitter<'r> {
    pub(crate) fn new(
        reader: &'r mut dyn BufRead,
        ndjson_hint: bool,
        max_bytes: usize,
        keep_when_oversize: usize,
    ) -> Self {
        JsonSplitter {
            reader,
            offset: 0,
            layout: if ndjson_hint {
                Layout::Lines
            } else {
                Layout::Unknown
            },
            max_bytes,
            keep_when_oversize,
        }
    }

    fn next_byte(&mut self) -> io::Result<Option<u8>> {
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let Some(&b) = buf.first() else {
                return Ok(None);
            };
            self.reader.consume(1);
            self.offset += 1;
            return Ok(Some(b));
        }
    }

    fn peek_byte(&mut self) -> io::Result<Option<u8>> {
        loop {
            match self.reader.fill_buf() {
                Ok(b) => return Ok(b.first().copied()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The next unit; `None` at the end.
    pub(crate) fn next_unit(&mut self) -> io::Result<Option<JsonUnit>> {
        // Top level: skip blanks, separators, array brackets and a BOM.
        let first = loop {
            let Some(b) = self.next_byte()? else {
                return Ok(None);
            };
            match b {
                b' ' | b'\t' | b'\r' | b'\n' | b',' | b'[' | b']' | 0xEF | 0xBB | 0xBF => continue,
                _ => break b,
            }
        };
        let offset = self.offset - 1;
        if first != b'{' {
            let mut bytes = vec![first];
            while let Some(b) = self.peek_byte()? {
                if b == b'\n' {
                    break;
                }
                self.next_byte()?;
                if bytes.len() < self.keep_when_oversize {
                    bytes.push(b);
                }
            }
            return Ok(Some(JsonUnit::Garbage { bytes, offset }));
        }
        let mut bytes = vec![b'{'];
        let mut size: u64 = 1;
        let mut depth = 1u32;
        let mut in_string = false;
        let mut escaped = false;
        let mut multiline = false;
        while let Some(b) = self.next_byte()? {
            size += 1;
            if bytes.len() < self.max_bytes {
                bytes.push(b);
            }
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                } else if b == b'\n' {
                    // A raw line break cannot be inside a JSON string: the record is broken here
                    // (the line break is not part of it).
                    if bytes.last() == Some(&b'\n') {
                        bytes.pop();
                    }
                    break;
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        break;
                    }
                }
                b'\n' => {
                    multiline = true;
                    // NDJSON: a record cannot continue on the next line.
                    if self.layout == Layout::Lines {
                        if bytes.last() == Some(&b'\n') {
                            bytes.pop();
                        }
                        break;
                    }
                }
                _ => {}
            }
        }
        if self.layout == Layout::Unknown {
            self.layout = if multiline {
                Layout::Document
            } else {
                Layout::Lines
            };
        }
        if size > self.max_bytes as u64 {
            bytes.truncate(self.keep_when_oversize);
        }
        Ok(Some(JsonUnit::Record {
            bytes,
            offset,
            size,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shrike_types::AuthVerdict;

    fn origin(i: u64) -> RecordOrigin {
        RecordOrigin {
            path: "log.ndjson".into(),
            index: Some(i),
            ..Default::default()
        }
    }

    #[test]
    fn maps_fields_and_shapes() {
        let v = json!({
            "event_id": "evt-9",
            "from": {"name": "PayPal", "address": "service@paypa1.com"},
            "to": ["a@b.c", {"address": "d@e.f"}],
            "cc": "\"X\" <x@y.z>, w@v.u",
            "reply_to": null,
            "subject": "Verify",
            "date": 1_030_016_183_000_i64,
            "headers": [["Received-SPF", "softfail (x)"], {"name": "X-A", "value": "1"}],
            "body_text": "a\r\nb",
            "urls": ["http://x.test/a"],
            "attachments": [{"name": "a.zip", "content_type": "Application/ZIP", "size": 10, "sha256": "AB"}],
            "auth": {"dkim": "pass"},
            "dmarc": "fail",
            "label": "phish",
            "unknown": {"ignored": true}
        });
        let r = parse_email_log(&v, origin(0));
        let r = match r {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(r.id, "evt-9");
        assert_eq!(
            r.from.as_ref().and_then(|m| m.name.as_deref()),
            Some("PayPal")
        );
        assert_eq!(r.to.len(), 2);
        assert_eq!(r.cc.len(), 2);
        assert_eq!(r.cc[0].name.as_deref(), Some("X"));
        assert_eq!(r.date, Some(1_030_016_183));
        assert_eq!(r.body_text.as_deref(), Some("a\nb"));
        assert_eq!(
            r.attachments[0].content_type.as_deref(),
            Some("application/zip")
        );
        assert_eq!(r.attachments[0].sha256.as_deref(), Some("ab"));
        assert_eq!(r.auth.dkim, Some(AuthVerdict::Pass));
        assert_eq!(r.auth.dmarc, Some(AuthVerdict::Fail));
        assert_eq!(r.auth.spf, Some(AuthVerdict::SoftFail));
        assert_eq!(r.label, Some(Label::Phishing));
        assert_eq!(r.headers.len(), 2);
    }

    #[test]
    fn wrong_types_name_field_and_record() {
        let cases = [
            (json!({"from": "a@b", "to": 5}), "record 3: field \"to\": expected string, object or array, got number"),
            (json!({"from": 5}), "record 3: field \"from\": expected string, object or array, got number"),
            (json!({"subject": ["x"]}), "record 3: field \"subject\": expected string, got array"),
            (json!({"subject": "s", "date": true}), "record 3: field \"date\": expected string or number, got boolean"),
            (json!({"subject": "s", "urls": ["a", 1]}), "record 3: field \"urls[1]\": expected string, got number"),
            (json!({"subject": "s", "attachments": [{"size": -1}]}), "record 3: field \"attachments[0].size\": expected non-negative integer, got number"),
            (json!({"headers": {"X": 1}}), "record 3: field \"headers.X\": expected string or array of strings, got number"),
            (json!({"subject": "s", "auth": "pass"}), "record 3: field \"auth\": expected object, got string"),
            (json!({"subject": "s", "id": {}}), "record 3: field \"id\": expected string or number, got object"),
        ];
        for (v, want) in cases {
            let mut o = origin(3);
            o.path = "x".into();
            match parse_email_log(&v, o) {
                Err(e) => {
                    assert_eq!(e.to_string(), want);
                    assert_eq!(e.reason(), "json_wrong_type");
                }
                Ok(_) => panic!("accepted {v}"),
            }
        }
    }

    #[test]
    fn extreme_epoch_values_do_not_overflow() {
        // Found by the email_log_json fuzz target: i64::MIN used to overflow `abs()`.
        for date in [
            json!(i64::MIN),
            json!(-7.2e60),
            json!(i64::MAX),
            json!(0),
            json!("99999999999999999999"),
        ] {
            let r = parse_email_log(&json!({"subject": "s", "date": date}), origin(0)).ok();
            assert_eq!(r.map(|r| r.date), Some(None), "{date}");
        }
    }

    #[test]
    fn missing_fields_and_non_objects() {
        let e = parse_email_log(&json!({"id": "x", "to": "a@b"}), RecordOrigin::default());
        assert!(
            matches!(&e, Err(IngestError::MissingFields { record }) if record == "record \"x\"")
        );
        let e = parse_email_log(&json!([1]), origin(1));
        assert!(matches!(&e, Err(e) if e.reason() == "json_invalid"));
    }

    #[test]
    fn headers_fill_gaps() {
        let v = json!({"headers": {"From": "A <a@b.c>", "Subject": "hi", "Date": "Thu, 22 Aug 2002 12:36:23 +0100",
                       "Authentication-Results": "mx; spf=pass; dkim=fail"}});
        let r = parse_email_log(&v, origin(0)).ok();
        let r = r.as_ref();
        assert_eq!(
            r.and_then(|r| r.from.as_ref()).map(|m| m.address.as_str()),
            Some("a@b.c")
        );
        assert_eq!(r.and_then(|r| r.subject.as_deref()), Some("hi"));
        assert_eq!(r.and_then(|r| r.date), Some(1_030_016_183));
        assert_eq!(r.map(|r| r.auth.dkim), Some(Some(AuthVerdict::Fail)));
        assert_eq!(r.map(|r| r.id.as_str()), Some("log.ndjson#0"));
    }

    fn units(input: &str, ndjson: bool) -> Vec<String> {
        let mut cursor = io::Cursor::new(input.as_bytes().to_vec());
        let mut s = JsonSplitter::new(&mut cursor, ndjson, 1 << 20, 1 << 20);
        let mut out = Vec::new();
        while let Ok(Some(u)) = s.next_unit() {
            out.push(match u {
                JsonUnit::Record { bytes, .. } => format!("R:{}", String::from_utf8_lossy(&bytes)),
                JsonUnit::Garbage { bytes, .. } => format!("G:{}", String::from_utf8_lossy(&bytes)),
            });
        }
        out
    }

    #[test]
    fn splitter_shapes() {
        assert_eq!(units("{\"a\": \"}\"}", false), vec!["R:{\"a\": \"}\"}"]);
        assert_eq!(
            units("[{\"a\":1},\n {\"b\":[2]}]", false),
            vec!["R:{\"a\":1}", "R:{\"b\":[2]}"]
        );
        assert_eq!(
            units("{\n  \"a\": {\n\"b\": 1}\n}\n", false),
            vec!["R:{\n  \"a\": {\n\"b\": 1}\n}"]
        );
        // NDJSON with a truncated line and a garbage line in the middle.
        assert_eq!(
            units("{\"a\":1}\n{\"b\":{\"c\":2}\n42\n{\"d\":3}\n", false),
            vec!["R:{\"a\":1}", "R:{\"b\":{\"c\":2}", "G:42", "R:{\"d\":3}"]
        );
        // A line break inside a string breaks that record only.
        assert_eq!(
            units("{\"a\":\"x\n{\"b\":1}", false),
            vec!["R:{\"a\":\"x", "R:{\"b\":1}"]
        );
    }
}

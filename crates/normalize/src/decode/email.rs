//! Email: RFC 5322 messages, mbox and email-log JSON, read by `shrike-ingest` and turned into
//! the canonical email object. Ingest's quarantine items pass through (stage `ingest`).
//!
//! Canonical layout: `id`, `from` (`{name, address}`), `to` / `cc` / `reply_to` (arrays of
//! the same), `return_path`, `subject`, `message_id`, `date` (Unix seconds), `urls`,
//! `attachments` (`[{name, content_type, size, sha256}]`), `auth` (`{spf, dkim, dmarc}`:
//! `pass`, `fail`, `soft_fail`, `neutral`, `none`, `error`, `other`), `x_originating_ip`,
//! `size` (raw message bytes), `headers` (lowercased name → first value, sender-side headers
//! only), `received_count`, and `label` / `source` when the input carried them. Absent values
//! are left out. Bodies are not included. A record's raw bytes are its email-log JSON line, or
//! the serialized canonical object for messages.

use std::io::Read;
use std::path::Path;

use serde_json::{Map, Number, Value};
use shrike_ingest::{parse_email_log, InputFormat, Item, Limits, ReadOptions};
use shrike_types::{EmailRecord, Mailbox, Quarantined, RecordOrigin};

use super::{make_quarantine, Decoder, Flow, Loc, STAGE};
use crate::record::Source;

/// Header names whose presence among a text's first header lines marks it as an email.
const EMAIL_HEADERS: &[&str] = &[
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "received",
    "return-path",
    "message-id",
    "mime-version",
    "delivered-to",
    "reply-to",
    "sender",
    "x-mailer",
    "dkim-signature",
    "authentication-results",
    "x-original-to",
    "envelope-to",
    "in-reply-to",
    "references",
    "user-agent",
];

/// Sender-side headers copied into `headers` (receiver- and collector-side ones are not).
const KEPT_HEADERS: &[&str] = &[
    "from",
    "sender",
    "reply-to",
    "return-path",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "x-mailer",
    "user-agent",
    "x-originating-ip",
    "x-sender",
    "x-priority",
    "organization",
    "dkim-signature",
    "list-unsubscribe",
    "thread-index",
];

/// Whether text (the start of a stream) is an mbox or an RFC 5322 message: a `From ` line, or
/// a header block whose lines are all well-formed fields, one of them a common email header.
pub(crate) fn looks_like_email(text: &[u8]) -> bool {
    if text.starts_with(b"From ") {
        return true;
    }
    let mut known = false;
    let mut fields = 0usize;
    let mut lines = text.split(|b| *b == b'\n').peekable();
    while let Some(line) = lines.next() {
        if lines.peek().is_none() && fields > 0 {
            break; // possibly cut by the sniff window
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with(b" ") || line.starts_with(b"\t") {
            if fields == 0 {
                return false;
            }
            continue;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            return false;
        };
        let name = line.get(..colon).unwrap_or_default();
        if name.is_empty() || !name.iter().all(|b| (33..=126).contains(b)) {
            return false;
        }
        fields += 1;
        let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
        known |= EMAIL_HEADERS.contains(&lower.as_str());
        if fields >= 64 {
            break;
        }
    }
    known
}

fn read_options(d: &Decoder) -> ReadOptions {
    ReadOptions {
        limits: Limits {
            quarantine_raw_cap: d.opts.limits.quarantine_raw_cap,
            ..Limits::default()
        },
        format: InputFormat::Auto,
        ..ReadOptions::default()
    }
}

/// One leaf stream detected as email (a message or an mbox) inside whatever container.
pub(crate) fn decode_stream(d: &mut Decoder, r: &mut dyn Read, loc: &Loc) -> Flow {
    let ropts = read_options(d);
    let name = loc.member.clone().unwrap_or_else(|| loc.path.clone());
    let result = shrike_ingest::read_reader(&name, r, &ropts, &mut |item| {
        emit_item(d, item, Some(loc));
    });
    if let Err(e) = result {
        let detail = format!("{}: {e}", loc.display());
        d.quarantine("io", detail, loc.origin(None, None), &[]);
    }
    Flow::Continue
}

/// `Format::Email`: a whole file, directory entry or archive handed to `shrike-ingest`.
pub(crate) fn decode_whole_path(d: &mut Decoder, path: &Path) {
    let ropts = read_options(d);
    let result = shrike_ingest::read_path(path, &ropts, &mut |item| emit_item(d, item, None));
    if let Err(e) = result {
        let shown = path.to_string_lossy().into_owned();
        let origin = RecordOrigin {
            path: shown.clone(),
            ..RecordOrigin::default()
        };
        d.quarantine("io", format!("{shown}: {e}"), origin, &[]);
    }
}

/// `Format::Email` on a stream.
pub(crate) fn decode_whole_reader(d: &mut Decoder, name: &str, r: &mut dyn Read) {
    let ropts = read_options(d);
    let result = shrike_ingest::read_reader(name, r, &ropts, &mut |item| emit_item(d, item, None));
    if let Err(e) = result {
        let origin = RecordOrigin {
            path: name.to_owned(),
            ..RecordOrigin::default()
        };
        d.quarantine("io", format!("{name}: {e}"), origin, &[]);
    }
}

/// Ingest's origin, placed at `loc` (ingest only knew the leaf stream's name).
fn place(mut origin: RecordOrigin, loc: Option<&Loc>) -> RecordOrigin {
    if let Some(loc) = loc {
        origin.path.clone_from(&loc.path);
        origin.member = match (&loc.member, origin.member.take()) {
            (Some(outer), Some(inner)) => Some(format!("{outer}!{inner}")),
            (Some(outer), None) => Some(outer.clone()),
            (None, inner) => inner,
        };
    }
    origin
}

fn emit_item(d: &mut Decoder, item: Item, loc: Option<&Loc>) {
    match item {
        Item::Record(mut rec) => {
            let origin = place(std::mem::take(&mut rec.origin), loc);
            let fields = canonical(rec);
            let raw = serde_json::to_vec(&fields).unwrap_or_default();
            d.record(Source::Email, fields, raw, origin);
        }
        Item::Quarantined(q) => {
            let origin = place(q.origin.clone(), loc);
            d.pass_quarantine(Quarantined { origin, ..q });
        }
    }
}

/// An email-log JSON object found in a JSON stream.
pub(crate) fn emit_log(
    d: &mut Decoder,
    obj: Map<String, Value>,
    raw: Vec<u8>,
    origin: RecordOrigin,
    env: Option<Map<String, Value>>,
) {
    match parse_email_log(&Value::Object(obj), origin.clone()) {
        Ok(mut rec) => {
            rec.origin = RecordOrigin::default();
            let mut fields = canonical(rec);
            if let Some(env) = env {
                fields.insert("_envelope".to_owned(), Value::Object(env));
            }
            d.record(Source::Email, fields, raw, origin);
        }
        Err(e) => {
            let q = make_quarantine(
                STAGE,
                e.reason(),
                e.to_string(),
                origin,
                &raw,
                raw.len() as u64,
                d.opts.limits.quarantine_raw_cap,
            );
            d.pass_quarantine(q);
        }
    }
}

fn mailbox(m: Mailbox) -> Value {
    let mut o = Map::new();
    if let Some(n) = m.name {
        o.insert("name".to_owned(), Value::String(n));
    }
    o.insert("address".to_owned(), Value::String(m.address));
    Value::Object(o)
}

fn mailboxes(v: Vec<Mailbox>) -> Value {
    Value::Array(v.into_iter().map(mailbox).collect())
}

/// The canonical email object (see the module documentation).
pub(crate) fn canonical(rec: EmailRecord) -> Map<String, Value> {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    let x_originating_ip = rec.header("X-Originating-IP").map(str::to_owned);
    let received_count = rec.headers_named("Received").count();
    let mut headers = Map::new();
    for (name, value) in &rec.headers {
        let lower = name.to_ascii_lowercase();
        if KEPT_HEADERS.contains(&lower.as_str()) && !headers.contains_key(&lower) {
            headers.insert(lower, Value::String(value.clone()));
        }
    }
    put("id", Value::String(rec.id));
    if let Some(f) = rec.from {
        put("from", mailbox(f));
    }
    if !rec.to.is_empty() {
        put("to", mailboxes(rec.to));
    }
    if !rec.cc.is_empty() {
        put("cc", mailboxes(rec.cc));
    }
    if !rec.reply_to.is_empty() {
        put("reply_to", mailboxes(rec.reply_to));
    }
    if let Some(v) = rec.return_path {
        put("return_path", Value::String(v));
    }
    if let Some(v) = rec.subject {
        put("subject", Value::String(v));
    }
    if let Some(v) = rec.message_id {
        put("message_id", Value::String(v));
    }
    if let Some(v) = rec.date {
        put("date", Value::Number(Number::from(v)));
    }
    if !rec.urls.is_empty() {
        put(
            "urls",
            Value::Array(rec.urls.into_iter().map(Value::String).collect()),
        );
    }
    if !rec.attachments.is_empty() {
        let atts = rec
            .attachments
            .into_iter()
            .map(|a| {
                let mut o = Map::new();
                if let Some(n) = a.name {
                    o.insert("name".to_owned(), Value::String(n));
                }
                if let Some(c) = a.content_type {
                    o.insert("content_type".to_owned(), Value::String(c));
                }
                o.insert("size".to_owned(), Value::Number(Number::from(a.size)));
                if let Some(h) = a.sha256 {
                    o.insert("sha256".to_owned(), Value::String(h));
                }
                Value::Object(o)
            })
            .collect();
        put("attachments", Value::Array(atts));
    }
    let mut auth = Map::new();
    for (k, v) in [
        ("spf", rec.auth.spf),
        ("dkim", rec.auth.dkim),
        ("dmarc", rec.auth.dmarc),
    ] {
        if let Some(v) = v.and_then(|v| serde_json::to_value(v).ok()) {
            auth.insert(k.to_owned(), v);
        }
    }
    if !auth.is_empty() {
        put("auth", Value::Object(auth));
    }
    if let Some(ip) = x_originating_ip {
        put("x_originating_ip", Value::String(ip));
    }
    if rec.raw_size > 0 {
        put("size", Value::Number(Number::from(rec.raw_size)));
    }
    if !headers.is_empty() {
        put("headers", Value::Object(headers));
    }
    put(
        "received_count",
        Value::Number(Number::from(received_count as u64)),
    );
    if let Some(l) = rec.label {
        put("label", Value::String(l.as_str().to_owned()));
    }
    if let Some(s) = rec.source {
        put("source", Value::String(s));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_messages_not_yaml() {
        assert!(looks_like_email(
            b"From alice@example.org Mon Jan  1 00:00:00 2024\n"
        ));
        assert!(looks_like_email(
            b"Received: from mx.example.org\n\tby mx2\nSubject: hi\n\nbody"
        ));
        assert!(!looks_like_email(
            b"title: Empire\nid: SDWIN-1\ncontributors:\n- Someone\n"
        ));
        assert!(!looks_like_email(b"# README\n\ntext"));
        assert!(!looks_like_email(b"Foo: bar\nBaz: qux\n\n"));
    }
}

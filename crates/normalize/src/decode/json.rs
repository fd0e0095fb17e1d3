//! JSON streams: NDJSON (the fast path: one `from_slice` per line), arrays, single and
//! pretty-printed or concatenated objects; envelope unwrapping; per-source canonicalization.
//!
//! Envelopes: CloudTrail `{"Records": [...]}` and GuardDuty-API `{"Findings": [...]}` give one
//! record per element (streamed element by element when the document starts with that key, so a
//! large CloudTrail file is never held whole); EventBridge (`detail-type` + `detail`) and Panther
//! rule tests (`rule_id`/`log_type` + `log`) give their inner object. The envelope's other fields
//! are kept under `_envelope` (nested `_envelope._envelope` for an envelope inside another),
//! except for a streamed `Records`/`Findings` document: its records are emitted before the rest
//! of the document is read, so members after the array (CloudTrail writes none) are skipped.
//! A record's raw bytes are its line (or value) as read; records cut out of an array are
//! re-serialized.

use std::io::{self, BufRead};

use serde_json::{Map, Value};

use super::detect::{detect_source, panther_log_type};
use super::lines::{trim, LineReader};
use super::{cloud, email, record_label, vpcflow, windows, zeek, Decoder, Flow, Loc};
use crate::record::Source;

/// Envelopes unwrapped inside each other at most this deep.
const MAX_ENVELOPE_DEPTH: u8 = 4;
/// Keys named in an `unknown_source` detail.
const KEYS_IN_DETAIL: usize = 8;

/// Decodes a JSON stream.
pub(crate) fn decode(d: &mut Decoder, r: &mut dyn BufRead, loc: &Loc) -> Flow {
    let mut sc = Scanner { r, offset: 0 };
    let mut st = Stream {
        counter: 0,
        buf: Vec::new(),
    };
    let first = match sc.skip_leading() {
        Ok(b) => b,
        Err(e) => {
            d.read_error(&e, loc, Some(0), Some(sc.offset), &[]);
            return Flow::Stop;
        }
    };
    let Some(first) = first else {
        let detail = format!("{}: empty input", loc.display());
        d.quarantine("empty", detail, loc.origin(None, None), &[]);
        return Flow::Continue;
    };
    // A CloudTrail file is often one line holding `{"Records":[...]}`: stream its elements
    // rather than read the line whole.
    let line_mode = first != b'[' && !sc.at_envelope_array_start() && sc.first_line_is_complete();
    if line_mode {
        decode_lines(d, &mut sc, &mut st, loc)
    } else {
        decode_values(d, &mut sc, &mut st, loc)
    }
}

/// Per-stream state.
struct Stream {
    /// Index of the next record or quarantine item in this stream.
    counter: u64,
    buf: Vec<u8>,
}

/// NDJSON: one value per line.
fn decode_lines(d: &mut Decoder, sc: &mut Scanner, st: &mut Stream, loc: &Loc) -> Flow {
    let limit = d.opts.limits.max_record_bytes;
    let keep = d.opts.limits.quarantine_raw_cap;
    let start = sc.offset;
    let mut lr = LineReader::new(&mut *sc.r);
    lr.offset = start;
    loop {
        match lr.next_line(&mut st.buf, limit, keep) {
            Ok(None) => return Flow::Continue,
            Ok(Some(info)) => {
                if info.too_long {
                    too_large(d, st, loc, info.offset, info.len, limit);
                    continue;
                }
                let line = trim(&st.buf);
                if line.is_empty() {
                    continue;
                }
                let mut counter = st.counter;
                unit(d, line, info.offset, &mut counter, loc, None);
                st.counter = counter;
            }
            Err(e) => {
                let offset = lr.offset;
                d.read_error(&e, loc, Some(st.counter), Some(offset), &st.buf);
                return Flow::Stop;
            }
        }
    }
}

fn too_large(d: &mut Decoder, st: &mut Stream, loc: &Loc, offset: u64, len: u64, limit: usize) {
    let index = st.counter;
    st.counter += 1;
    let detail = format!(
        "{}: record is at least {len} bytes, over the {limit}-byte limit",
        record_label(index)
    );
    d.quarantine_len(
        "record_too_large",
        detail,
        loc.origin(Some(index), Some(offset)),
        &st.buf,
        len,
    );
}

/// Arrays, pretty-printed and concatenated values, and streamed `Records`/`Findings` envelopes.
fn decode_values(d: &mut Decoder, sc: &mut Scanner, st: &mut Stream, loc: &Loc) -> Flow {
    let limit = d.opts.limits.max_record_bytes;
    let keep = d.opts.limits.quarantine_raw_cap;
    // Inside a top-level array (`Some(false)`) or a streamed envelope's array (`Some(true)`).
    let mut array: Option<bool> = None;
    // The source a streamed envelope announces (`Findings` are GuardDuty's).
    let mut hint: Option<Source> = None;
    loop {
        let next = match sc.skip_ws_and_commas() {
            Ok(b) => b,
            Err(e) => {
                d.read_error(&e, loc, Some(st.counter), Some(sc.offset), &[]);
                return Flow::Stop;
            }
        };
        let Some(b) = next else {
            if array.is_some() {
                let detail = format!("{}: JSON array is not closed", loc.display());
                d.quarantine(
                    "json_invalid",
                    detail,
                    loc.origin(Some(st.counter), Some(sc.offset)),
                    &[],
                );
            }
            return Flow::Continue;
        };
        match (b, array) {
            (b'[', None) => {
                sc.bump();
                array = Some(false);
                continue;
            }
            (b'{', None) => {
                if let Some(key) = sc.envelope_array_start() {
                    array = Some(true);
                    hint = envelope_hint(key);
                    continue;
                }
            }
            (b']', Some(in_envelope)) => {
                sc.bump();
                array = None;
                hint = None;
                if in_envelope {
                    if let Err(flow) = skip_envelope_rest(d, sc, st, loc) {
                        return flow;
                    }
                }
                continue;
            }
            _ => {}
        }
        let offset = sc.offset;
        match sc.scan_value(&mut st.buf, limit, keep) {
            Ok(scan) if scan.too_long => too_large(d, st, loc, offset, scan.len, limit),
            Ok(scan) if !scan.complete => {
                let index = st.counter;
                st.counter += 1;
                let detail = format!(
                    "{}: invalid JSON: the input ends inside a value",
                    record_label(index)
                );
                d.quarantine_len(
                    "json_invalid",
                    detail,
                    loc.origin(Some(index), Some(offset)),
                    &st.buf,
                    scan.len,
                );
                return Flow::Continue;
            }
            Ok(_) => {
                let bytes = std::mem::take(&mut st.buf);
                let mut counter = st.counter;
                unit(d, &bytes, offset, &mut counter, loc, hint);
                st.counter = counter;
                st.buf = bytes;
            }
            Err(e) => {
                d.read_error(&e, loc, Some(st.counter), Some(offset), &st.buf);
                return Flow::Stop;
            }
        }
    }
}

/// After a streamed envelope's array: the envelope's remaining members (their values are
/// skipped: the records were already emitted) up to its closing brace.
fn skip_envelope_rest(
    d: &mut Decoder,
    sc: &mut Scanner,
    st: &mut Stream,
    loc: &Loc,
) -> Result<(), Flow> {
    let limit = d.opts.limits.max_record_bytes;
    let keep = d.opts.limits.quarantine_raw_cap;
    loop {
        let next = sc.skip_ws_and_commas().map_err(|e| {
            d.read_error(&e, loc, Some(st.counter), Some(sc.offset), &[]);
            Flow::Stop
        })?;
        match next {
            Some(b'}') => {
                sc.bump();
                return Ok(());
            }
            None => return Ok(()),
            Some(b':') => sc.bump(),
            Some(_) => {
                let offset = sc.offset;
                let scan = sc.scan_value(&mut st.buf, limit, keep).map_err(|e| {
                    d.read_error(&e, loc, Some(st.counter), Some(offset), &[]);
                    Flow::Stop
                })?;
                if !scan.complete {
                    return Ok(());
                }
            }
        }
    }
}

/// One JSON text (a line or a scanned value); `hint` is the source a streamed envelope named.
fn unit(
    d: &mut Decoder,
    bytes: &[u8],
    offset: u64,
    counter: &mut u64,
    loc: &Loc,
    hint: Option<Source>,
) {
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            let index = *counter;
            *counter += 1;
            let detail = format!("{}: invalid JSON: {e}", record_label(index));
            d.quarantine(
                "json_invalid",
                detail,
                loc.origin(Some(index), Some(offset)),
                bytes,
            );
            return;
        }
    };
    match value {
        Value::Object(obj) => {
            let mut cx = Cx {
                d,
                loc,
                offset,
                counter,
            };
            emit_object(&mut cx, obj, Some(bytes), None, hint, 0);
        }
        Value::Array(items) => {
            let mut cx = Cx {
                d,
                loc,
                offset,
                counter,
            };
            for item in items {
                match item {
                    Value::Object(obj) => emit_object(&mut cx, obj, None, None, hint, 0),
                    other => cx.not_an_object(&other),
                }
            }
        }
        other => {
            let mut cx = Cx {
                d,
                loc,
                offset,
                counter,
            };
            cx.not_an_object(&other);
        }
    }
}

/// What emitting records from one JSON text needs.
struct Cx<'c, 'a> {
    d: &'c mut Decoder<'a>,
    loc: &'c Loc,
    offset: u64,
    counter: &'c mut u64,
}

impl Cx<'_, '_> {
    fn next_origin(&mut self) -> (u64, shrike_types::RecordOrigin) {
        let index = *self.counter;
        *self.counter += 1;
        (index, self.loc.origin(Some(index), Some(self.offset)))
    }

    fn not_an_object(&mut self, v: &Value) {
        let (index, origin) = self.next_origin();
        let detail = format!(
            "{}: expected a JSON object, got {}",
            record_label(index),
            json_type(v)
        );
        let raw = serde_json::to_vec(v).unwrap_or_default();
        self.d.quarantine("not_an_object", detail, origin, &raw);
    }
}

/// Unwraps envelopes, then emits the record(s).
fn emit_object(
    cx: &mut Cx,
    mut obj: Map<String, Value>,
    raw: Option<&[u8]>,
    env: Option<Map<String, Value>>,
    hint: Option<Source>,
    depth: u8,
) {
    if depth < MAX_ENVELOPE_DEPTH {
        for key in ["Records", "Findings"] {
            let is_envelope = obj.get(key).is_some_and(Value::is_array)
                && detect_source(&obj, &cx.loc.name).is_none();
            if !is_envelope {
                continue;
            }
            let items = match obj.remove(key) {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            let hint = hint.or(envelope_hint(key));
            let env = nest_env(obj, env);
            for item in items {
                match item {
                    Value::Object(inner) => {
                        emit_object(cx, inner, None, env.clone(), hint, depth + 1);
                    }
                    other => cx.not_an_object(&other),
                }
            }
            return;
        }
        if obj.contains_key("detail-type") && obj.get("detail").is_some_and(Value::is_object) {
            let inner_hint = obj
                .get("detail-type")
                .and_then(Value::as_str)
                .and_then(eventbridge_hint);
            if let Some(Value::Object(inner)) = obj.remove("detail") {
                let env = nest_env(obj, env);
                emit_object(cx, inner, raw, env, inner_hint.or(hint), depth + 1);
                return;
            }
        }
        if (obj.contains_key("rule_id") || obj.contains_key("log_type"))
            && obj.get("log").is_some_and(Value::is_object)
        {
            let inner_hint = obj
                .get("log_type")
                .and_then(Value::as_str)
                .and_then(panther_log_type);
            if let Some(Value::Object(inner)) = obj.remove("log") {
                let env = nest_env(obj, env);
                emit_object(cx, inner, raw, env, inner_hint.or(hint), depth + 1);
                return;
            }
        }
    }
    emit_leaf(cx, obj, raw, env, hint);
}

/// The source an array envelope's key announces.
fn envelope_hint(key: &str) -> Option<Source> {
    (key == "Findings").then_some(Source::Guardduty)
}

/// The source an EventBridge `detail-type` announces.
fn eventbridge_hint(detail_type: &str) -> Option<Source> {
    if detail_type == "GuardDuty Finding" {
        Some(Source::Guardduty)
    } else if detail_type.ends_with("via CloudTrail") {
        Some(Source::Cloudtrail)
    } else {
        None
    }
}

/// The envelope of an inner record: the wrapper's remaining fields, with the outer envelope
/// nested under `_envelope`.
fn nest_env(
    mut rest: Map<String, Value>,
    outer: Option<Map<String, Value>>,
) -> Option<Map<String, Value>> {
    if rest.is_empty() {
        return outer;
    }
    if let Some(outer) = outer {
        rest.insert("_envelope".to_owned(), Value::Object(outer));
    }
    Some(rest)
}

fn emit_leaf(
    cx: &mut Cx,
    mut obj: Map<String, Value>,
    raw: Option<&[u8]>,
    env: Option<Map<String, Value>>,
    hint: Option<Source>,
) {
    let (index, origin) = cx.next_origin();
    let source =
        cx.d.opts
            .source
            .or(hint)
            .or_else(|| detect_source(&obj, &cx.loc.name));
    let raw: Vec<u8> = match raw {
        Some(b) => b.to_vec(),
        None => serde_json::to_vec(&obj).unwrap_or_default(),
    };
    let Some(source) = source else {
        let mut keys: Vec<&str> = obj
            .keys()
            .take(KEYS_IN_DETAIL)
            .map(String::as_str)
            .collect();
        if obj.len() > KEYS_IN_DETAIL {
            keys.push("...");
        }
        let detail = format!(
            "{}: no known source matches an object with keys [{}]",
            record_label(index),
            keys.join(", ")
        );
        cx.d.quarantine("unknown_source", detail, origin, &raw);
        return;
    };
    match source {
        Source::Email => {
            email::emit_log(cx.d, obj, raw, origin, env);
            return;
        }
        Source::Windows => windows::canonicalize(&mut obj),
        Source::Zeek => zeek::set_json_path(&mut obj, &cx.loc.name),
        Source::Vpcflow => vpcflow::canonicalize_json(&mut obj),
        Source::Cloudtrail => cloud::canonicalize_cloudtrail(&mut obj),
        Source::Suricata | Source::Guardduty => {}
    }
    if let Some(env) = env {
        obj.insert("_envelope".to_owned(), Value::Object(env));
    }
    cx.d.record(source, obj, raw, origin);
}

/// The JSON type name used in details.
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

/// What [`Scanner::scan_value`] read.
#[derive(Debug, Clone, Copy)]
struct Scan {
    /// Bytes the value spans (all of them, even when only a prefix was kept).
    len: u64,
    too_long: bool,
    /// The value ended before the stream did.
    complete: bool,
}

/// Finds JSON value boundaries in a stream without parsing (strings and escapes are tracked so
/// brackets inside strings do not count).
struct Scanner<'r> {
    r: &'r mut dyn BufRead,
    offset: u64,
}

impl Scanner<'_> {
    fn peek(&mut self) -> io::Result<Option<u8>> {
        loop {
            match self.r.fill_buf() {
                Ok(b) => return Ok(b.first().copied()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn bump(&mut self) {
        self.r.consume(1);
        self.offset += 1;
    }

    /// Skips a byte-order mark and whitespace; the next byte, not consumed.
    fn skip_leading(&mut self) -> io::Result<Option<u8>> {
        if let Ok(b) = self.r.fill_buf() {
            if b.starts_with(b"\xEF\xBB\xBF") {
                self.r.consume(3);
                self.offset += 3;
            }
        }
        self.skip_ws_and(false)
    }

    fn skip_ws_and_commas(&mut self) -> io::Result<Option<u8>> {
        self.skip_ws_and(true)
    }

    fn skip_ws_and(&mut self, commas: bool) -> io::Result<Option<u8>> {
        loop {
            let Some(b) = self.peek()? else {
                return Ok(None);
            };
            if b.is_ascii_whitespace() || (commas && b == b',') {
                self.bump();
            } else {
                return Ok(Some(b));
            }
        }
    }

    /// Whether the buffered first line is a whole JSON text by its look: it ends (trimmed) with
    /// `}` or `]`, or no line end is buffered yet (a long single line). A pretty-printed object's
    /// first line is a lone `{`.
    fn first_line_is_complete(&mut self) -> bool {
        let Ok(buf) = self.r.fill_buf() else {
            return true;
        };
        match memchr::memchr(b'\n', buf) {
            Some(i) => {
                let line = trim(buf.get(..i).unwrap_or_default());
                matches!(line.last(), Some(b'}' | b']'))
            }
            None => true,
        }
    }

    /// Whether the buffered text starts with `{"Records": [` or `{"Findings": [`.
    fn at_envelope_array_start(&mut self) -> bool {
        self.r
            .fill_buf()
            .is_ok_and(|buf| envelope_prefix_len(buf).is_some())
    }

    /// At a `{`: if the buffered text is `{"Records": [` or `{"Findings": [`, consumes it and
    /// returns the key.
    fn envelope_array_start(&mut self) -> Option<&'static str> {
        let buf = self.r.fill_buf().ok()?;
        let len = envelope_prefix_len(buf)?;
        let key = if envelope_key_is_records(buf) {
            "Records"
        } else {
            "Findings"
        };
        self.r.consume(len);
        self.offset += len as u64;
        Some(key)
    }

    /// Reads one JSON value starting at the next byte into `buf`, keeping at most `limit`
    /// bytes (then only the first `keep`).
    fn scan_value(&mut self, buf: &mut Vec<u8>, limit: usize, keep: usize) -> io::Result<Scan> {
        buf.clear();
        let mut len: u64 = 0;
        let mut too_long = false;
        let mut depth: u64 = 0;
        let mut in_string = false;
        let mut escaped = false;
        let mut started = false;
        let mut scalar = false;
        loop {
            let avail = match self.r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                // A scalar ends with the stream; anything else is cut.
                return Ok(Scan {
                    len,
                    too_long,
                    complete: scalar,
                });
            }
            let mut end: Option<usize> = None;
            let mut i = 0usize;
            while i < avail.len() {
                let b = avail.get(i).copied().unwrap_or(0);
                if !started {
                    started = true;
                    match b {
                        b'{' | b'[' => depth = 1,
                        b'"' => in_string = true,
                        b'}' | b']' | b',' | b':' => {
                            // A stray delimiter is a one-byte value of its own (invalid JSON).
                            end = Some(i + 1);
                            break;
                        }
                        _ => scalar = true,
                    }
                    i += 1;
                    continue;
                }
                if in_string {
                    if escaped {
                        escaped = false;
                        i += 1;
                        continue;
                    }
                    match memchr::memchr2(b'"', b'\\', avail.get(i..).unwrap_or_default()) {
                        Some(j) => {
                            i += j;
                            if avail.get(i) == Some(&b'\\') {
                                escaped = true;
                            } else {
                                in_string = false;
                                if depth == 0 && !scalar {
                                    end = Some(i + 1);
                                    break;
                                }
                            }
                            i += 1;
                        }
                        None => i = avail.len(),
                    }
                    continue;
                }
                if scalar {
                    if b.is_ascii_whitespace() || matches!(b, b',' | b']' | b'}' | b'[' | b'{') {
                        end = Some(i);
                        break;
                    }
                    i += 1;
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            let used = end.unwrap_or(avail.len());
            let chunk = avail.get(..used).unwrap_or_default();
            len += used as u64;
            if !too_long {
                if buf.len() + chunk.len() > limit {
                    too_long = true;
                    let room = keep.saturating_sub(buf.len());
                    buf.extend_from_slice(chunk.get(..room).unwrap_or(chunk));
                    buf.truncate(keep);
                } else {
                    buf.extend_from_slice(chunk);
                }
            }
            self.r.consume(used);
            self.offset += used as u64;
            if end.is_some() {
                return Ok(Scan {
                    len,
                    too_long,
                    complete: true,
                });
            }
        }
    }
}

/// Whether an envelope prefix (see [`envelope_prefix_len`]) names `Records`.
fn envelope_key_is_records(buf: &[u8]) -> bool {
    let after_brace = buf.get(1..).unwrap_or_default();
    trim(after_brace).starts_with(b"\"Records\"")
}

/// Length of a `{ "Records" : [` / `{ "Findings" : [` prefix of `buf`, if it is one.
fn envelope_prefix_len(buf: &[u8]) -> Option<usize> {
    let ws = |i: &mut usize| {
        while buf.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i += 1;
        }
    };
    let mut i = 0usize;
    if buf.first() != Some(&b'{') {
        return None;
    }
    i += 1;
    ws(&mut i);
    let rest = buf.get(i..)?;
    let key_len = if rest.starts_with(b"\"Records\"") {
        9
    } else if rest.starts_with(b"\"Findings\"") {
        10
    } else {
        return None;
    };
    i += key_len;
    ws(&mut i);
    if buf.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    ws(&mut i);
    if buf.get(i) != Some(&b'[') {
        return None;
    }
    Some(i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(data: &[u8]) -> Vec<(Vec<u8>, bool)> {
        let mut r = io::BufReader::with_capacity(3, data);
        let mut sc = Scanner {
            r: &mut r,
            offset: 0,
        };
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while let Ok(Some(_)) = sc.skip_ws_and_commas() {
            match sc.scan_value(&mut buf, 1000, 1000) {
                Ok(s) => out.push((buf.clone(), s.complete)),
                Err(_) => break,
            }
        }
        out
    }

    #[test]
    fn scanner_splits_values() {
        let got = scan_all(br#"{"a":"}\"{"} [1,[2]] "x,y" 12 true {"b":1"#);
        let texts: Vec<&[u8]> = got.iter().map(|(b, _)| b.as_slice()).collect();
        assert_eq!(
            texts,
            vec![
                &br#"{"a":"}\"{"}"#[..],
                b"[1,[2]]",
                b"\"x,y\"",
                b"12",
                b"true",
                br#"{"b":1"#
            ]
        );
        assert!(got.iter().take(5).all(|(_, c)| *c));
        assert_eq!(got.last().map(|(_, c)| *c), Some(false));
    }

    #[test]
    fn envelope_prefix() {
        assert_eq!(envelope_prefix_len(b"{ \"Records\" :\n [ {"), Some(16));
        assert_eq!(envelope_prefix_len(b"{\"Findings\":[]}"), Some(13));
        assert_eq!(envelope_prefix_len(b"{\"Records\":{"), None);
        assert_eq!(envelope_prefix_len(b"{\"eventVersion\""), None);
    }
}

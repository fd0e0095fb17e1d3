//! Zeek logs: TSV with `#` headers, and the `_path` of Zeek JSON objects.
//!
//! Canonical layout: one flat object per row keyed by the `#fields` names as written (dotted
//! names such as `id.orig_h` stay flat keys), typed by `#types`: `time`, `interval`, `double` →
//! number (f64); `count`, `int`, `port` → integer; `bool` (`T`/`F`) → boolean; `set[..]` /
//! `vector[..]` → array split on `#set_separator` (`(empty)` → `[]`); everything else (addr,
//! subnet, string, enum, pattern, ...) → string, `\xNN` escapes decoded; an unset field (`-`)
//! is left out. `_path` is the `#path` value (else the file name's log name, else inferred from
//! the fields). Extra columns (Stratosphere's `label`, `detailedlabel`) are kept like any other.
//! Zeek JSON keeps its own values (`ts` may be epoch seconds or an ISO string) and gets `_path`
//! the same way.

use std::io::BufRead;

use serde_json::{Map, Number, Value};

use super::detect::{infer_zeek_path, zeek_log_name};
use super::lines::LineReader;
use super::{record_label, Decoder, Flow, Loc};
use crate::record::Source;

/// Sets `_path` on a Zeek JSON object that has none.
pub(crate) fn set_json_path(obj: &mut Map<String, Value>, name: &str) {
    if obj.contains_key("_path") {
        return;
    }
    if let Some(p) = zeek_log_name(name).or_else(|| infer_zeek_path(obj)) {
        obj.insert("_path".to_owned(), Value::String(p.to_owned()));
    }
}

/// A column type from `#types`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ZType {
    /// time, interval, double.
    Float,
    /// count, port.
    Unsigned,
    /// int.
    Signed,
    Bool,
    /// Everything else.
    Text,
    /// `set[T]` / `vector[T]`.
    List(Box<ZType>),
}

impl ZType {
    fn parse(s: &str) -> ZType {
        let inner = s
            .strip_prefix("set[")
            .or_else(|| s.strip_prefix("vector["))
            .and_then(|r| r.strip_suffix(']'));
        if let Some(inner) = inner {
            // Zeek containers hold scalars (or records, written flat); a nested container
            // type is read as a list of text rather than recursed into.
            return ZType::List(Box::new(ZType::scalar(inner)));
        }
        ZType::scalar(s)
    }

    fn scalar(s: &str) -> ZType {
        match s {
            "time" | "interval" | "double" => ZType::Float,
            "count" | "port" => ZType::Unsigned,
            "int" => ZType::Signed,
            "bool" => ZType::Bool,
            _ => ZType::Text,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ZType::Float => "a number",
            ZType::Unsigned => "an unsigned integer",
            ZType::Signed => "an integer",
            ZType::Bool => "T or F",
            ZType::Text => "text",
            ZType::List(_) => "a list",
        }
    }
}

/// The header state of the current block.
struct Header {
    sep: Vec<u8>,
    set_sep: Vec<u8>,
    empty: Vec<u8>,
    unset: Vec<u8>,
    path: Option<String>,
    fields: Vec<String>,
    types: Vec<ZType>,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            sep: b"\t".to_vec(),
            set_sep: b",".to_vec(),
            empty: b"(empty)".to_vec(),
            unset: b"-".to_vec(),
            path: None,
            fields: Vec::new(),
            types: Vec::new(),
        }
    }
}

/// Decodes a Zeek TSV stream (several header blocks allowed).
pub(crate) fn decode_tsv(d: &mut Decoder, r: &mut dyn BufRead, loc: &Loc) -> Flow {
    let limit = d.opts.limits.max_record_bytes;
    let keep = d.opts.limits.quarantine_raw_cap;
    let mut lr = LineReader::new(r);
    let mut buf = Vec::new();
    let mut h = Header::default();
    let mut index = 0u64;
    let name_path = zeek_log_name(&loc.name);
    loop {
        let info = match lr.next_line(&mut buf, limit, keep) {
            Ok(Some(info)) => info,
            Ok(None) => return Flow::Continue,
            Err(e) => {
                let offset = lr.offset;
                d.read_error(&e, loc, Some(index), Some(offset), &buf);
                return Flow::Stop;
            }
        };
        let origin = || loc.origin(Some(index), Some(info.offset));
        if info.too_long {
            let detail = format!(
                "{}: row is at least {} bytes, over the {limit}-byte limit",
                record_label(index),
                info.len
            );
            d.quarantine_len("record_too_large", detail, origin(), &buf, info.len);
            index += 1;
            continue;
        }
        if buf.first() == Some(&b'#') {
            header_line(&mut h, &buf);
            continue;
        }
        if buf.is_empty() {
            continue;
        }
        let row = match parse_row(&h, &buf) {
            Ok(row) => row,
            Err(problem) => {
                let detail = format!("{}: {problem}", record_label(index));
                d.quarantine("zeek_bad_row", detail, origin(), &buf);
                index += 1;
                continue;
            }
        };
        let mut row = row;
        let path = h
            .path
            .clone()
            .or_else(|| name_path.map(str::to_owned))
            .or_else(|| infer_zeek_path(&row).map(str::to_owned));
        if let Some(p) = path {
            row.insert("_path".to_owned(), Value::String(p));
        }
        d.record(Source::Zeek, row, buf.clone(), origin());
        index += 1;
    }
}

/// Applies one `#` header line.
fn header_line(h: &mut Header, line: &[u8]) {
    // `#separator \x09` uses a space; the others use the separator itself.
    if let Some(v) = line.strip_prefix(b"#separator") {
        let v = v.strip_prefix(b" ").unwrap_or(v);
        let sep = unescape(v);
        *h = Header::default();
        if !sep.is_empty() {
            h.sep = sep;
        }
        return;
    }
    let (name, value) = match find(line, &h.sep) {
        Some(i) => (
            line.get(..i).unwrap_or_default(),
            line.get(i + h.sep.len()..).unwrap_or_default(),
        ),
        None => (line, &b""[..]),
    };
    match name {
        b"#set_separator" => h.set_sep = unescape(value),
        b"#empty_field" => h.empty = unescape(value),
        b"#unset_field" => h.unset = unescape(value),
        b"#path" => h.path = Some(String::from_utf8_lossy(&unescape(value)).into_owned()),
        b"#fields" => {
            h.fields = split(value, &h.sep)
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            h.types.clear();
        }
        b"#types" => {
            h.types = split(value, &h.sep)
                .map(|t| ZType::parse(&String::from_utf8_lossy(t)))
                .collect();
        }
        _ => {} // #open, #close, comments
    }
}

/// One data row → object, or what is wrong with it.
fn parse_row(h: &Header, line: &[u8]) -> Result<Map<String, Value>, String> {
    if h.fields.is_empty() {
        return Err("data row before any #fields header".to_owned());
    }
    let count = split(line, &h.sep).count();
    if count != h.fields.len() {
        return Err(format!(
            "row has {count} fields, the #fields header has {}",
            h.fields.len()
        ));
    }
    let mut obj = Map::with_capacity(h.fields.len() + 1);
    for (i, (name, raw)) in h.fields.iter().zip(split(line, &h.sep)).enumerate() {
        if raw == h.unset.as_slice() {
            continue;
        }
        let ty = h.types.get(i).unwrap_or(&ZType::Text);
        let v = convert(h, ty, raw).ok_or_else(|| {
            format!(
                "field {name:?}: expected {}, got {:?}",
                ty.name(),
                String::from_utf8_lossy(raw)
            )
        })?;
        obj.insert(name.clone(), v);
    }
    Ok(obj)
}

fn convert(h: &Header, ty: &ZType, raw: &[u8]) -> Option<Value> {
    match ty {
        ZType::List(inner) => {
            if raw == h.empty.as_slice() || raw.is_empty() {
                return Some(Value::Array(Vec::new()));
            }
            let mut items = Vec::new();
            for item in split(raw, &h.set_sep) {
                if item == h.unset.as_slice() {
                    items.push(Value::Null);
                } else {
                    items.push(scalar(h, inner, item)?);
                }
            }
            Some(Value::Array(items))
        }
        other => scalar(h, other, raw),
    }
}

fn scalar(h: &Header, ty: &ZType, raw: &[u8]) -> Option<Value> {
    match ty {
        ZType::Float => {
            let s = std::str::from_utf8(raw).ok()?;
            let f: f64 = s.parse().ok()?;
            Some(Number::from_f64(f).map_or(Value::Null, Value::Number))
        }
        ZType::Unsigned => {
            let s = std::str::from_utf8(raw).ok()?;
            s.parse::<u64>()
                .ok()
                .map(|n| Value::Number(Number::from(n)))
        }
        ZType::Signed => {
            let s = std::str::from_utf8(raw).ok()?;
            s.parse::<i64>()
                .ok()
                .map(|n| Value::Number(Number::from(n)))
        }
        ZType::Bool => match raw {
            b"T" => Some(Value::Bool(true)),
            b"F" => Some(Value::Bool(false)),
            _ => None,
        },
        ZType::Text | ZType::List(_) => {
            if raw == h.empty.as_slice() {
                // Zeek writes an empty string as the empty-field marker.
                return Some(Value::String(String::new()));
            }
            Some(Value::String(text(raw)))
        }
    }
}

/// Field bytes as text, `\xNN` escapes decoded (invalid UTF-8 replaced).
fn text(raw: &[u8]) -> String {
    if memchr::memmem::find(raw, b"\\x").is_none() {
        return String::from_utf8_lossy(raw).into_owned();
    }
    String::from_utf8_lossy(&unescape(raw)).into_owned()
}

/// Decodes `\xNN` escapes; anything else is copied.
fn unescape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0usize;
    while i < raw.len() {
        let b = raw.get(i).copied().unwrap_or(0);
        if b == b'\\' && raw.get(i + 1) == Some(&b'x') {
            let hex = raw
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(n) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(n);
                i += 4;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    match needle {
        [b] => memchr::memchr(*b, hay),
        _ => memchr::memmem::find(hay, needle),
    }
}

/// Splits on a (non-empty) separator.
fn split<'a>(s: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let cur = rest?;
        if sep.is_empty() {
            rest = None;
            return Some(cur);
        }
        match find(cur, sep) {
            Some(i) => {
                rest = cur.get(i + sep.len()..);
                cur.get(..i)
            }
            None => {
                rest = None;
                Some(cur)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(fields: &str, types: &str) -> Header {
        let mut h = Header::default();
        header_line(&mut h, format!("#fields\t{fields}").as_bytes());
        header_line(&mut h, format!("#types\t{types}").as_bytes());
        h
    }

    #[test]
    fn converts_typed_columns() -> Result<(), String> {
        let h = header(
            "ts\tid.orig_h\tid.orig_p\tok\tanswers\tTTLs\tname\ttags",
            "time\taddr\tport\tbool\tvector[string]\tvector[interval]\tstring\tset[string]",
        );
        let row = parse_row(
            &h,
            b"1521911720.865716\t192.0.2.10\t41772\tT\ta.example,198.51.100.3\t30.000000,60.000000\tx\\x09y\t(empty)",
        )?;
        assert_eq!(
            row.get("ts").and_then(Value::as_f64),
            Some(1521911720.865716)
        );
        assert_eq!(row.get("id.orig_p").and_then(Value::as_u64), Some(41772));
        assert_eq!(row.get("ok"), Some(&Value::Bool(true)));
        assert_eq!(
            row.get("answers"),
            Some(&serde_json::json!(["a.example", "198.51.100.3"]))
        );
        assert_eq!(row.get("TTLs"), Some(&serde_json::json!([30.0, 60.0])));
        assert_eq!(row.get("name"), Some(&Value::String("x\ty".into())));
        assert_eq!(row.get("tags"), Some(&serde_json::json!([])));
        let row = parse_row(&h, b"1.0\t-\t-\tF\t-\t-\t(empty)\t-")?;
        assert!(!row.contains_key("id.orig_h"));
        assert_eq!(row.get("name"), Some(&Value::String(String::new())));
        Ok(())
    }

    #[test]
    fn rejects_bad_rows() {
        let h = header("ts\tcount", "time\tcount");
        assert!(parse_row(&h, b"1.0").is_err());
        assert!(parse_row(&h, b"1.0\tx").is_err());
        assert!(parse_row(&h, b"1.0\t1\t2").is_err());
        assert!(parse_row(&Header::default(), b"1.0").is_err());
    }

    #[test]
    fn separator_header_is_escaped() {
        let mut h = Header::default();
        header_line(&mut h, b"#separator \\x7c");
        header_line(&mut h, b"#fields|a|b");
        assert_eq!(h.sep, b"|");
        assert_eq!(h.fields, vec!["a".to_owned(), "b".to_owned()]);
    }
}

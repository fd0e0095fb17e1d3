//! The fixed library of value transforms a mapping may name in `fn:`. Each takes one JSON value
//! and returns a value or `None` (absent: the target attribute is not set and the raw field stays
//! in `unmapped`).

use std::net::IpAddr;

use serde_json::{Map, Value};

use super::time::{number_to_ms, parse_time_str};
use super::MappingError;

/// A compiled transform.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Transform {
    Lower,
    Upper,
    Trim,
    Basename,
    Dirname,
    Ext,
    Time,
    Int,
    Float,
    Str,
    Bool,
    Ip,
    Port,
    ProtoNum,
    UserName,
    UserDomain,
    EmailDomain,
    SysmonHashes,
    Split(String),
    Join(String),
    Index(i64),
    First,
    Last,
    Array,
    Len,
    Url,
    SecondsToMs,
    Mul(f64),
    Json,
    Prefix(String),
    StripBraces,
    NonZero,
    Replace(String, String),
    CamelHead,
    Get(Vec<String>),
    NotIp,
    KvLines(String),
    After(String),
    SysmonDnsAnswers,
    Pairs(String, String),
    MitreAttacks,
    XmlText(Vec<String>),
}

/// Names accepted in `fn:`, for error messages and docs.
pub(crate) const NAMES: &[&str] = &[
    "lower",
    "upper",
    "trim",
    "basename",
    "dirname",
    "ext",
    "time",
    "int",
    "float",
    "str",
    "bool",
    "ip",
    "port",
    "proto_num",
    "user_name",
    "user_domain",
    "email_domain",
    "sysmon_hashes",
    "split",
    "join",
    "index",
    "first",
    "last",
    "array",
    "len",
    "url",
    "seconds_to_ms",
    "mul",
    "json",
    "prefix",
    "strip_braces",
    "nonzero",
    "replace",
    "camel_head",
    "get",
    "not_ip",
    "kv_lines",
    "sysmon_dns_answers",
    "after",
    "pairs",
    "mitre_attacks",
    "xml_text",
];

impl Transform {
    /// Compiles one `fn:` entry: a name, or a one-key map `{name: argument}`.
    pub(crate) fn compile(spec: &Value, at: &str) -> Result<Transform, MappingError> {
        let (name, arg) = match spec {
            Value::String(s) => (s.as_str(), None),
            Value::Object(m) if m.len() == 1 => {
                let (k, v) = m
                    .iter()
                    .next()
                    .ok_or_else(|| MappingError::new(at, "empty fn"))?;
                (k.as_str(), Some(v))
            }
            _ => {
                return Err(MappingError::new(
                    at,
                    "fn entries are a name or {name: argument}",
                ))
            }
        };
        let str_arg = |what: &str| -> Result<String, MappingError> {
            match arg {
                Some(Value::String(s)) => Ok(s.clone()),
                _ => Err(MappingError::new(
                    at,
                    format!("fn {name} needs a string argument ({what})"),
                )),
            }
        };
        let num_arg = || -> Result<f64, MappingError> {
            arg.and_then(Value::as_f64)
                .ok_or_else(|| MappingError::new(at, format!("fn {name} needs a number argument")))
        };
        let no_arg = |t: Transform| -> Result<Transform, MappingError> {
            match arg {
                None => Ok(t),
                Some(_) => Err(MappingError::new(
                    at,
                    format!("fn {name} takes no argument"),
                )),
            }
        };
        match name {
            "lower" => no_arg(Transform::Lower),
            "upper" => no_arg(Transform::Upper),
            "trim" => no_arg(Transform::Trim),
            "basename" => no_arg(Transform::Basename),
            "dirname" => no_arg(Transform::Dirname),
            "ext" => no_arg(Transform::Ext),
            "time" => no_arg(Transform::Time),
            "int" => no_arg(Transform::Int),
            "float" => no_arg(Transform::Float),
            "str" => no_arg(Transform::Str),
            "bool" => no_arg(Transform::Bool),
            "ip" => no_arg(Transform::Ip),
            "port" => no_arg(Transform::Port),
            "proto_num" => no_arg(Transform::ProtoNum),
            "user_name" => no_arg(Transform::UserName),
            "user_domain" => no_arg(Transform::UserDomain),
            "email_domain" => no_arg(Transform::EmailDomain),
            "sysmon_hashes" => no_arg(Transform::SysmonHashes),
            "split" => Ok(Transform::Split(str_arg("separator")?)),
            "join" => Ok(Transform::Join(str_arg("separator")?)),
            "index" => Ok(Transform::Index(num_arg()? as i64)),
            "first" => no_arg(Transform::First),
            "last" => no_arg(Transform::Last),
            "array" => no_arg(Transform::Array),
            "len" => no_arg(Transform::Len),
            "url" => no_arg(Transform::Url),
            "seconds_to_ms" => no_arg(Transform::SecondsToMs),
            "mul" => Ok(Transform::Mul(num_arg()?)),
            "json" => no_arg(Transform::Json),
            "prefix" => Ok(Transform::Prefix(str_arg("prefix")?)),
            "strip_braces" => no_arg(Transform::StripBraces),
            "nonzero" => no_arg(Transform::NonZero),
            "replace" => match arg {
                Some(Value::Array(a)) if a.len() == 2 => match (&a[0], &a[1]) {
                    (Value::String(f), Value::String(t)) if !f.is_empty() => {
                        Ok(Transform::Replace(f.clone(), t.clone()))
                    }
                    _ => Err(MappingError::new(at, "fn replace needs [from, to] strings")),
                },
                _ => Err(MappingError::new(at, "fn replace needs [from, to] strings")),
            },
            "camel_head" => no_arg(Transform::CamelHead),
            "not_ip" => no_arg(Transform::NotIp),
            "get" => {
                let path = str_arg("a key or dotted path")?;
                if path.split('.').any(str::is_empty) {
                    return Err(MappingError::new(
                        at,
                        "fn get needs a key or dotted path (a.b)",
                    ));
                }
                Ok(Transform::Get(path.split('.').map(str::to_owned).collect()))
            }
            "kv_lines" => match str_arg("separator")? {
                sep if sep.is_empty() => Err(MappingError::new(
                    at,
                    "fn kv_lines needs a non-empty separator",
                )),
                sep => Ok(Transform::KvLines(sep)),
            },
            "sysmon_dns_answers" => no_arg(Transform::SysmonDnsAnswers),
            "after" => match str_arg("text")? {
                t if t.is_empty() => Err(MappingError::new(at, "fn after needs a non-empty text")),
                t => Ok(Transform::After(t)),
            },
            "pairs" => match arg {
                Some(Value::Array(a)) if a.len() == 2 => match (&a[0], &a[1]) {
                    (Value::String(k), Value::String(v))
                        if !k.is_empty() && !v.is_empty() && k != v =>
                    {
                        Ok(Transform::Pairs(k.clone(), v.clone()))
                    }
                    _ => Err(MappingError::new(
                        at,
                        "fn pairs needs [key_name, value_name] (two different names)",
                    )),
                },
                _ => Err(MappingError::new(
                    at,
                    "fn pairs needs [key_name, value_name] (two different names)",
                )),
            },
            "mitre_attacks" => no_arg(Transform::MitreAttacks),
            "xml_text" => {
                let tags: Vec<String> = match arg {
                    Some(Value::String(t)) => vec![t.clone()],
                    Some(Value::Array(a)) => a
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect(),
                    _ => vec![],
                };
                if tags.is_empty()
                    || tags
                        .iter()
                        .any(|t| t.is_empty() || t.contains(['<', '>', ' ']))
                {
                    return Err(MappingError::new(
                        at,
                        "fn xml_text needs an element name or a list of them",
                    ));
                }
                Ok(Transform::XmlText(tags))
            }
            other => Err(MappingError::new(
                at,
                format!("unknown fn {other:?}; known: {}", NAMES.join(", ")),
            )),
        }
    }

    /// Applies the transform.
    pub(crate) fn apply(&self, v: Value) -> Option<Value> {
        match self {
            Transform::Lower => map_str(v, |s| s.to_lowercase()),
            Transform::Upper => map_str(v, |s| s.to_uppercase()),
            Transform::Trim => map_str(v, |s| s.trim().to_owned()),
            Transform::Basename => {
                let s = as_text(&v)?;
                let b = s.rsplit(['\\', '/']).next().unwrap_or(&s);
                non_empty(b)
            }
            Transform::Dirname => {
                let s = as_text(&v)?;
                let i = s.rfind(['\\', '/'])?;
                non_empty(&s[..i])
            }
            Transform::Ext => {
                let s = as_text(&v)?;
                let base = s.rsplit(['\\', '/']).next().unwrap_or(&s);
                let i = base.rfind('.')?;
                non_empty(&base[i + 1..])
            }
            Transform::Time => match &v {
                Value::Number(n) => n.as_f64().and_then(number_to_ms).map(Value::from),
                Value::String(s) => parse_time_str(s).map(Value::from),
                _ => None,
            },
            Transform::Int => to_int(&v).map(Value::from),
            Transform::Float => {
                to_float(&v).and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
            }
            Transform::Str => as_text(&v).map(Value::String),
            Transform::Bool => to_bool(&v).map(Value::Bool),
            Transform::Ip => {
                let s = as_text(&v)?;
                let s = s.trim().trim_start_matches('[').trim_end_matches(']');
                // Windows writes IPv4-mapped addresses as ::ffff:a.b.c.d.
                let ip: IpAddr = s.parse().ok()?;
                let ip = match ip {
                    IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
                    v4 => v4,
                };
                Some(Value::String(ip.to_string()))
            }
            Transform::Port => to_int(&v)
                .filter(|p| (0..=65_535).contains(p))
                .map(Value::from),
            Transform::ProtoNum => {
                if let Some(n) = to_int(&v) {
                    return (0..=255).contains(&n).then_some(Value::from(n));
                }
                let s = as_text(&v)?.to_ascii_lowercase();
                let n = match s.as_str() {
                    "icmp" => 1,
                    "igmp" => 2,
                    "tcp" => 6,
                    "udp" => 17,
                    "gre" => 47,
                    "esp" => 50,
                    "ah" => 51,
                    "icmpv6" | "ipv6-icmp" | "icmp6" => 58,
                    "sctp" => 132,
                    _ => return None,
                };
                Some(Value::from(n))
            }
            Transform::UserName => {
                let s = as_text(&v)?;
                let name = match (s.rfind('\\'), s.find('@')) {
                    (Some(i), _) => &s[i + 1..],
                    (None, Some(i)) => &s[..i],
                    _ => &s,
                };
                non_empty(name)
            }
            Transform::UserDomain => {
                let s = as_text(&v)?;
                match (s.find('\\'), s.rfind('@')) {
                    (Some(i), _) => non_empty(&s[..i]),
                    (None, Some(i)) => non_empty(&s[i + 1..]),
                    _ => None,
                }
            }
            Transform::EmailDomain => {
                let s = as_text(&v)?;
                let i = s.rfind('@')?;
                non_empty(&s[i + 1..].to_ascii_lowercase())
            }
            Transform::SysmonHashes => sysmon_hashes(&as_text(&v)?),
            Transform::Split(sep) => {
                let s = as_text(&v)?;
                let parts: Vec<Value> = s
                    .split(sep.as_str())
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_owned()))
                    .collect();
                (!parts.is_empty()).then_some(Value::Array(parts))
            }
            Transform::Join(sep) => match v {
                Value::Array(a) => {
                    let parts: Vec<String> = a.iter().filter_map(as_text).collect();
                    (!parts.is_empty()).then(|| Value::String(parts.join(sep)))
                }
                other => Some(other),
            },
            Transform::Index(i) => match v {
                Value::Array(mut a) => {
                    let len = a.len() as i64;
                    let idx = if *i < 0 { len + i } else { *i };
                    if idx < 0 || idx >= len {
                        return None;
                    }
                    Some(a.swap_remove(idx as usize))
                }
                _ => None,
            },
            Transform::First => match v {
                Value::Array(a) => a.into_iter().find(|x| !is_empty(x)),
                other => Some(other),
            },
            Transform::Last => match v {
                Value::Array(a) => a.into_iter().rev().find(|x| !is_empty(x)),
                other => Some(other),
            },
            Transform::Array => match v {
                Value::Array(a) => (!a.is_empty()).then_some(Value::Array(a)),
                other => Some(Value::Array(vec![other])),
            },
            Transform::Len => match &v {
                Value::Array(a) => Some(Value::from(a.len())),
                Value::String(s) => Some(Value::from(s.len())),
                _ => None,
            },
            Transform::Url => url_object(&as_text(&v)?),
            Transform::SecondsToMs => {
                let f = to_float(&v)?;
                (f.is_finite() && f >= 0.0).then(|| Value::from((f * 1000.0).round() as i64))
            }
            Transform::Mul(k) => {
                let f = to_float(&v)? * k;
                if !f.is_finite() {
                    return None;
                }
                if f.fract() == 0.0 && f.abs() < 9e15 {
                    Some(Value::from(f as i64))
                } else {
                    serde_json::Number::from_f64(f).map(Value::Number)
                }
            }
            Transform::Json => match v {
                Value::String(s) => serde_json::from_str(&s).ok(),
                other => Some(other),
            },
            Transform::Prefix(p) => as_text(&v).map(|s| Value::String(format!("{p}{s}"))),
            Transform::StripBraces => map_str(v, |s| {
                s.trim_start_matches('{').trim_end_matches('}').to_owned()
            }),
            Transform::NonZero => {
                let zero = match &v {
                    Value::Number(n) => n.as_f64() == Some(0.0),
                    Value::String(s) => {
                        let t = s.trim().trim_start_matches("0x");
                        !t.is_empty() && t.bytes().all(|b| b == b'0')
                    }
                    _ => false,
                };
                (!zero).then_some(v)
            }
            Transform::Replace(from, to) => map_str(v, |s| s.replace(from.as_str(), to)),
            Transform::CamelHead => {
                let s = as_text(&v)?;
                let s = s.trim();
                let mut chars = s.char_indices();
                let (_, first) = chars.next()?;
                let end = chars
                    .find(|(_, c)| !c.is_lowercase())
                    .map_or(s.len(), |(i, _)| i);
                (first.is_alphabetic()).then(|| Value::String(s[..end].to_owned()))
            }
            Transform::Get(path) => get_path(&v, path),
            Transform::NotIp => {
                let is_ip = as_text(&v).is_some_and(|s| {
                    let s = s.trim().trim_start_matches('[').trim_end_matches(']');
                    s.parse::<IpAddr>().is_ok()
                });
                (!is_ip).then_some(v)
            }
            Transform::KvLines(sep) => kv_lines(&as_text(&v)?, sep),
            Transform::SysmonDnsAnswers => sysmon_dns_answers(&as_text(&v)?),
            Transform::After(t) => {
                let s = as_text(&v)?;
                let i = s.find(t.as_str())?;
                non_empty(&s[i + t.len()..])
            }
            Transform::Pairs(k, val) => pairs(&v, k, val),
            Transform::MitreAttacks => mitre_attacks(&v),
            Transform::XmlText(tags) => xml_text(&as_text(&v)?, tags),
        }
    }
}

/// `key SEP value` lines (PowerShell's `ContextInfo`: `Host Application = powershell.exe ...`)
/// → an object; keys and values trimmed, lines without SEP or with an empty value skipped, the
/// first of a repeated key kept.
fn kv_lines(s: &str, sep: &str) -> Option<Value> {
    let mut m = Map::new();
    for line in s.lines() {
        let Some((k, v)) = line.split_once(sep) else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if !k.is_empty() && !v.is_empty() && !m.contains_key(k) {
            m.insert(k.to_owned(), Value::String(v.to_owned()));
        }
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

/// Sysmon event 22 `QueryResults` (`type:  5 cname.example;::ffff:192.0.2.1;2001:db8::1;`) → OCSF
/// `dns_answer` objects: `type:  N data` items with the RR type named, bare addresses as A /
/// AAAA (IPv4-mapped IPv6 as the IPv4 address). Items without data are skipped.
fn sysmon_dns_answers(s: &str) -> Option<Value> {
    let mut out = Vec::new();
    for item in s.split(';').map(str::trim).filter(|i| !i.is_empty()) {
        let mut m = Map::new();
        if let Some(rest) = item.strip_prefix("type:") {
            let rest = rest.trim_start();
            let (num, data) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let data = data.trim();
            if data.is_empty() {
                continue;
            }
            let ty = match num.parse::<u16>() {
                Ok(1) => "A".to_owned(),
                Ok(2) => "NS".to_owned(),
                Ok(5) => "CNAME".to_owned(),
                Ok(6) => "SOA".to_owned(),
                Ok(12) => "PTR".to_owned(),
                Ok(15) => "MX".to_owned(),
                Ok(16) => "TXT".to_owned(),
                Ok(28) => "AAAA".to_owned(),
                Ok(33) => "SRV".to_owned(),
                Ok(64) => "SVCB".to_owned(),
                Ok(65) => "HTTPS".to_owned(),
                Ok(n) => format!("TYPE{n}"),
                Err(_) => String::new(),
            };
            if !ty.is_empty() {
                m.insert("type".into(), Value::String(ty));
            }
            m.insert("rdata".into(), Value::String(data.to_owned()));
        } else if let Ok(ip) = item.trim_matches(['[', ']']).parse::<IpAddr>() {
            let ip = match ip {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
                v4 => v4,
            };
            let ty = if ip.is_ipv4() { "A" } else { "AAAA" };
            m.insert("type".into(), Value::String(ty.to_owned()));
            m.insert("rdata".into(), Value::String(ip.to_string()));
        } else {
            m.insert("rdata".into(), Value::String(item.to_owned()));
        }
        out.push(Value::Object(m));
    }
    (!out.is_empty()).then_some(Value::Array(out))
}

/// The value at `path` inside an object; over an array, the values found in its elements (absent
/// when none has it).
fn get_path(v: &Value, path: &[String]) -> Option<Value> {
    match v {
        Value::Object(_) => {
            let mut cur = v;
            for seg in path {
                cur = cur.as_object()?.get(seg)?;
            }
            (!is_empty(cur)).then(|| cur.clone())
        }
        Value::Array(items) => {
            let out: Vec<Value> = items.iter().filter_map(|x| get_path(x, path)).collect();
            (!out.is_empty()).then_some(Value::Array(out))
        }
        _ => None,
    }
}

/// `{key: value | [values]}` → `[{K: key, V: value}, ...]`: one item per value (arrays flattened
/// in order, empty values skipped, objects and arrays inside rendered as compact JSON text).
/// Suricata's grouped DNS answers (`{"A": ["192.0.2.1"]}` with `[type, rdata]`) and rule metadata
/// (`{"confidence": ["High"]}` with `[name, value]`, OCSF `key_value_object`s).
fn pairs(v: &Value, key_name: &str, value_name: &str) -> Option<Value> {
    let obj = v.as_object()?;
    let mut out = Vec::new();
    for (k, x) in obj {
        let items: Vec<&Value> = match x {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        for item in items.into_iter().filter(|i| !is_empty(i)) {
            let text = match item {
                Value::Object(_) | Value::Array(_) => item.to_string(),
                scalar => as_text(scalar).unwrap_or_default(),
            };
            let mut m = Map::new();
            m.insert(key_name.to_owned(), Value::String(k.clone()));
            m.insert(value_name.to_owned(), Value::String(text));
            out.push(Value::Object(m));
        }
    }
    (!out.is_empty()).then_some(Value::Array(out))
}

/// Rule metadata in the ET Open convention (`mitre_tactic_id`, `mitre_tactic_name`,
/// `mitre_technique_id`, `mitre_technique_name`: parallel lists, as Suricata logs
/// `alert.metadata`) → OCSF `attack` objects, one per technique (per tactic when no technique is
/// named). A list of one applies to every item; `T1059.001` is sub-technique of `T1059`; `_` in
/// names becomes a space (`Command_And_Control`).
fn mitre_attacks(v: &Value) -> Option<Value> {
    let obj = v.as_object()?;
    let list = |k: &str| -> Vec<String> {
        let items: Vec<&Value> = match obj.get(k) {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(x) => vec![x],
            None => vec![],
        };
        items
            .into_iter()
            .filter(|x| !is_empty(x))
            .filter_map(as_text)
            .map(|s| s.trim().to_owned())
            .collect()
    };
    let (tech, tech_names) = (list("mitre_technique_id"), list("mitre_technique_name"));
    let (tac, tac_names) = (list("mitre_tactic_id"), list("mitre_tactic_name"));
    let n = if tech.is_empty() {
        tac.len()
    } else {
        tech.len()
    };
    let pick = |l: &[String], i: usize| -> Option<String> {
        let s = if l.len() == n {
            l.get(i)
        } else if l.len() == 1 {
            l.first()
        } else {
            None
        };
        s.map(|s| s.replace('_', " "))
    };
    let named = |uid: Option<String>, name: Option<String>| -> Option<Value> {
        let mut m = Map::new();
        if let Some(u) = uid {
            m.insert("uid".into(), Value::String(u));
        }
        if let Some(nm) = name {
            m.insert("name".into(), Value::String(nm));
        }
        (!m.is_empty()).then_some(Value::Object(m))
    };
    let mut out = Vec::new();
    for i in 0..n {
        let mut attack = Map::new();
        if let Some(id) = tech.get(i) {
            match id.split_once('.') {
                Some((parent, _)) => {
                    attack.insert("technique".into(), json_obj("uid", parent));
                    if let Some(s) = named(Some(id.clone()), pick(&tech_names, i)) {
                        attack.insert("sub_technique".into(), s);
                    }
                }
                None => {
                    if let Some(t) = named(Some(id.clone()), pick(&tech_names, i)) {
                        attack.insert("technique".into(), t);
                    }
                }
            }
        }
        if let Some(t) = named(pick(&tac, i), pick(&tac_names, i)) {
            attack.insert("tactic".into(), t);
        }
        if !attack.is_empty() {
            out.push(Value::Object(attack));
        }
    }
    (!out.is_empty()).then_some(Value::Array(out))
}

/// The text of the first element named by each of `tags` in an XML document (a scheduled task's
/// `TaskContent`: `[Command, Arguments]` gives the command line), entities decoded, joined with a
/// space; absent when none is found. A document that is itself entity-escaped (`&lt;Task&gt;`, as
/// NXLog writes it) is unescaped first. Leaf elements only: the text runs to the next `<`.
fn xml_text(s: &str, tags: &[String]) -> Option<Value> {
    let unescaped;
    let doc = if !s.contains('<') && s.contains("&lt;") {
        unescaped = xml_unescape(s);
        unescaped.as_str()
    } else {
        s
    };
    let parts: Vec<String> = tags
        .iter()
        .filter_map(|t| xml_element_text(doc, t))
        .map(|t| xml_unescape(t.trim()))
        .filter(|t| !t.is_empty())
        .collect();
    (!parts.is_empty()).then(|| Value::String(parts.join(" ")))
}

/// The text after the first `<tag>` or `<tag attr...>` (not self-closing) up to the next `<`.
fn xml_element_text<'a>(doc: &'a str, tag: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = doc[from..].find('<') {
        let name_at = from + i + 1;
        from = name_at;
        let Some(after) = doc[name_at..].strip_prefix(tag) else {
            continue;
        };
        let open_end = match after.chars().next() {
            Some('>') => 0,
            Some(c) if c.is_whitespace() => match after.find('>') {
                Some(gt) if !after[..gt].ends_with('/') => gt,
                _ => continue,
            },
            _ => continue,
        };
        let body = name_at + tag.len() + open_end + 1;
        let end = doc[body..].find('<').map_or(doc.len(), |e| body + e);
        return Some(&doc[body..end]);
    }
    None
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn json_obj(k: &str, v: &str) -> Value {
    let mut m = Map::new();
    m.insert(k.to_owned(), Value::String(v.to_owned()));
    Value::Object(m)
}

/// Whether a value counts as absent: null, empty or whitespace string, `-` (the Windows and Zeek
/// placeholder), an empty array or object.
pub(crate) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => {
            let t = s.trim();
            t.is_empty() || t == "-"
        }
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn non_empty(s: &str) -> Option<Value> {
    (!s.trim().is_empty()).then(|| Value::String(s.to_owned()))
}

fn map_str(v: Value, f: impl Fn(&str) -> String) -> Option<Value> {
    map_str_dyn(v, &f)
}

fn map_str_dyn(v: Value, f: &dyn Fn(&str) -> String) -> Option<Value> {
    match v {
        Value::String(s) => {
            let out = f(&s);
            (!out.is_empty()).then_some(Value::String(out))
        }
        Value::Array(a) => {
            let out: Vec<Value> = a.into_iter().filter_map(|x| map_str_dyn(x, f)).collect();
            (!out.is_empty()).then_some(Value::Array(out))
        }
        other => Some(other),
    }
}

/// The text form of a scalar.
pub(crate) fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Integers from numbers (integral floats too) and from decimal or `0x` hex strings.
pub(crate) fn to_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_u64().and_then(|u| i64::try_from(u).ok()).or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                    .map(|f| f as i64)
            })
        }),
        Value::String(s) => {
            let t = s.trim();
            if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                i64::from_str_radix(h, 16).ok()
            } else {
                t.parse::<i64>().ok().or_else(|| {
                    t.parse::<f64>()
                        .ok()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                        .map(|f| f as i64)
                })
            }
        }
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

pub(crate) fn to_float(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

pub(crate) fn to_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" => Some(true),
            "false" | "f" | "no" | "n" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// `SHA1=…,MD5=…,SHA256=…,IMPHASH=…` (Sysmon `Hashes`) → OCSF fingerprint objects.
fn sysmon_hashes(s: &str) -> Option<Value> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let Some((alg, val)) = part.split_once('=') else {
            continue;
        };
        let val = val.trim();
        if val.is_empty() || !val.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let id = match alg.trim().to_ascii_uppercase().as_str() {
            "MD5" => 1,
            "SHA1" => 2,
            "SHA256" => 3,
            "SHA512" => 4,
            "SHA384" => 9,
            "IMPHASH" => 18,
            _ => 99,
        };
        let mut m = Map::new();
        m.insert("algorithm_id".into(), Value::from(id));
        if id == 99 {
            m.insert("algorithm".into(), Value::String(alg.trim().to_owned()));
        }
        m.insert("value".into(), Value::String(val.to_ascii_lowercase()));
        out.push(Value::Object(m));
    }
    (!out.is_empty()).then_some(Value::Array(out))
}

/// A URL string → OCSF `url` object (`url_string`, `scheme`, `hostname`, `port`, `path`,
/// `query_string`). No network access, no normalisation beyond splitting.
fn url_object(s: &str) -> Option<Value> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut m = Map::new();
    m.insert("url_string".into(), Value::String(s.to_owned()));
    let rest = match s.split_once("://") {
        Some((scheme, rest))
            if !scheme.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b)) =>
        {
            m.insert("scheme".into(), Value::String(scheme.to_ascii_lowercase()));
            let (authority, path) = match rest.find(['/', '?', '#']) {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, ""),
            };
            let host_port = authority.rsplit('@').next().unwrap_or(authority);
            let (host, port) = split_host_port(host_port);
            if !host.is_empty() {
                m.insert("hostname".into(), Value::String(host.to_ascii_lowercase()));
            }
            if let Some(p) = port {
                m.insert("port".into(), Value::from(p));
            }
            path
        }
        _ => s,
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q.split('#').next().unwrap_or(q))),
        None => (rest.split('#').next().unwrap_or(rest), None),
    };
    if !path.is_empty() {
        m.insert("path".into(), Value::String(path.to_owned()));
    }
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        m.insert("query_string".into(), Value::String(q.to_owned()));
    }
    Some(Value::Object(m))
}

fn split_host_port(hp: &str) -> (&str, Option<u16>) {
    if let Some(rest) = hp.strip_prefix('[') {
        // [v6]:port
        return match rest.split_once(']') {
            Some((h, tail)) => (h, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (hp, None),
        };
    }
    match hp.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse::<u16>() {
            Ok(port) => (h, Some(port)),
            Err(_) => (hp, None),
        },
        _ => (hp, None),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn t(name: &str, v: Value) -> Option<Value> {
        Transform::compile(&json!(name), "test").ok()?.apply(v)
    }

    #[test]
    fn xml_text_reads_leaf_elements() {
        let c = |arg: Value| Transform::compile(&json!({"xml_text": arg}), "test");
        let Ok(cmd) = c(json!(["Command", "Arguments"])) else {
            panic!("xml_text compiles")
        };
        let task = "<?xml version=\"1.0\"?><Task><Actions Context=\"Author\"><Exec><Command>C:\\Windows\\cmd.exe</Command>\r\n<Arguments>/c echo &quot;a &amp; b&quot;</Arguments></Exec></Actions></Task>";
        assert_eq!(
            cmd.apply(json!(task)),
            Some(json!("C:\\Windows\\cmd.exe /c echo \"a & b\""))
        );
        let escaped = "&lt;Task&gt;&lt;Exec&gt;&lt;Command&gt;calc.exe&lt;/Command&gt;&lt;/Exec&gt;&lt;/Task&gt;";
        assert_eq!(cmd.apply(json!(escaped)), Some(json!("calc.exe")));
        let Ok(user) = c(json!("UserId")) else {
            panic!("xml_text compiles")
        };
        assert_eq!(
            user.apply(json!(
                "<Principal id=\"x\"><UserId>S-1-5-18</UserId></Principal>"
            )),
            Some(json!("S-1-5-18"))
        );
        assert_eq!(
            user.apply(json!("<UserIdentity>x</UserIdentity><UserId/>")),
            None
        );
        assert!(c(json!("")).is_err());
        assert!(c(json!(3)).is_err());
    }

    #[test]
    fn paths_users_and_numbers() {
        assert_eq!(
            t("basename", json!("C:\\Windows\\System32\\cmd.exe")),
            Some(json!("cmd.exe"))
        );
        assert_eq!(
            t("dirname", json!("C:\\Windows\\System32\\cmd.exe")),
            Some(json!("C:\\Windows\\System32"))
        );
        assert_eq!(t("ext", json!("/tmp/a.tar.gz")), Some(json!("gz")));
        assert_eq!(
            t("user_name", json!("THESHIRE\\pgustavo")),
            Some(json!("pgustavo"))
        );
        assert_eq!(
            t("user_domain", json!("THESHIRE\\pgustavo")),
            Some(json!("THESHIRE"))
        );
        assert_eq!(
            t("user_domain", json!("alice@corp.example")),
            Some(json!("corp.example"))
        );
        assert_eq!(t("int", json!("0x1a4")), Some(json!(420)));
        assert_eq!(t("int", json!("3428")), Some(json!(3428)));
        assert_eq!(t("int", json!("x")), None);
        assert_eq!(t("ip", json!("::ffff:192.0.2.7")), Some(json!("192.0.2.7")));
        assert_eq!(t("ip", json!("-")), None);
        assert_eq!(t("proto_num", json!("TCP")), Some(json!(6)));
        assert_eq!(t("port", json!("70000")), None);
        assert_eq!(t("nonzero", json!("0x0")), None);
        assert_eq!(t("nonzero", json!("0x3e7")), Some(json!("0x3e7")));
    }

    #[test]
    fn hashes_and_urls() {
        let h = t("sysmon_hashes", json!("SHA1=AA,MD5=bb,IMPHASH=CC,FOO=DD")).unwrap_or_default();
        assert_eq!(
            h,
            json!([{"algorithm_id":2,"value":"aa"},{"algorithm_id":1,"value":"bb"},{"algorithm_id":18,"value":"cc"},{"algorithm_id":99,"algorithm":"FOO","value":"dd"}])
        );
        let u = t("url", json!("HTTPS://Ex.Example:8443/a/b?x=1#f")).unwrap_or_default();
        assert_eq!(
            u,
            json!({"url_string":"HTTPS://Ex.Example:8443/a/b?x=1#f","scheme":"https","hostname":"ex.example","port":8443,"path":"/a/b","query_string":"x=1"})
        );
        assert_eq!(
            t("url", json!("/index.php?id=1")),
            Some(json!({"url_string":"/index.php?id=1","path":"/index.php","query_string":"id=1"}))
        );
    }

    #[test]
    fn camel_head_and_get() {
        assert_eq!(t("camel_head", json!("CreateUser")), Some(json!("Create")));
        assert_eq!(
            t("camel_head", json!("DescribeDBInstances")),
            Some(json!("Describe"))
        );
        assert_eq!(
            t("camel_head", json!("UpdateFunctionConfiguration20150331v2")),
            Some(json!("Update"))
        );
        assert_eq!(t("camel_head", json!("getObject")), Some(json!("get")));
        assert_eq!(t("camel_head", json!("Get")), Some(json!("Get")));
        assert_eq!(t("camel_head", json!("9lives")), None);
        let get = |path: &str, v: Value| {
            Transform::compile(&json!({"get": path}), "test")
                .ok()?
                .apply(v)
        };
        let nics = json!([{"privateIpAddress": "192.0.2.1", "x": {"y": 1}}, {"x": {"y": 2}}]);
        assert_eq!(
            get("privateIpAddress", nics.clone()),
            Some(json!(["192.0.2.1"]))
        );
        assert_eq!(get("x.y", nics.clone()), Some(json!([1, 2])));
        assert_eq!(get("x.y", json!({"x": {"y": "v"}})), Some(json!("v")));
        assert_eq!(get("missing", nics), None);
        assert_eq!(get("a", json!("scalar")), None);
        assert!(Transform::compile(&json!({"get": "a..b"}), "x").is_err());
        assert_eq!(
            t("not_ip", json!("ec2.amazonaws.com")),
            Some(json!("ec2.amazonaws.com"))
        );
        assert_eq!(
            t("not_ip", json!("AWS Internal")),
            Some(json!("AWS Internal"))
        );
        assert_eq!(t("not_ip", json!("192.0.2.7")), None);
        assert_eq!(t("not_ip", json!("2001:db8::1")), None);
    }

    #[test]
    fn kv_lines_and_dns_answers() {
        let kv = |sep: &str, v: Value| {
            Transform::compile(&json!({"kv_lines": sep}), "test")
                .ok()?
                .apply(v)
        };
        let ctx = "        Severity = Informational\r\n        Host Application = powershell.exe -nop -c a=b\r\n        Script Name = \r\n        User = CORP\\alice\r\n";
        assert_eq!(
            kv("=", json!(ctx)),
            Some(
                json!({"Severity": "Informational", "Host Application": "powershell.exe -nop -c a=b", "User": "CORP\\alice"})
            )
        );
        assert_eq!(kv("=", json!("no separator here")), None);
        assert!(Transform::compile(&json!({"kv_lines": ""}), "x").is_err());
        assert_eq!(
            t(
                "sysmon_dns_answers",
                json!("type:  5 cdn.example.net;::ffff:192.0.2.7;2001:db8::1;type:  33 ;10.0.0.1;")
            ),
            Some(json!([
                {"type": "CNAME", "rdata": "cdn.example.net"},
                {"type": "A", "rdata": "192.0.2.7"},
                {"type": "AAAA", "rdata": "2001:db8::1"},
                {"type": "A", "rdata": "10.0.0.1"}
            ]))
        );
        assert_eq!(
            t("sysmon_dns_answers", json!("type:  99 x;odd")),
            Some(json!([{"type": "TYPE99", "rdata": "x"}, {"rdata": "odd"}]))
        );
        assert_eq!(t("sysmon_dns_answers", json!(";")), None);
        let after = |text: &str, v: Value| {
            Transform::compile(&json!({"after": text}), "test")
                .ok()?
                .apply(v)
        };
        assert_eq!(
            after(
                "):\r\n",
                json!("Creating Scriptblock text (1 of 2):\r\nf(x):\r\n1")
            ),
            Some(json!("f(x):\r\n1"))
        );
        assert_eq!(after("ID:", json!("no marker")), None);
        assert_eq!(after("end", json!("the end")), None);
    }

    #[test]
    fn unknown_fn_is_a_load_error() {
        assert!(Transform::compile(&json!("bogus"), "x").is_err());
        assert!(Transform::compile(&json!({"split": 3}), "x").is_err());
        assert!(Transform::compile(&json!({"lower": "x"}), "x").is_err());
    }

    #[test]
    fn pairs_and_mitre_attacks() {
        let c = |spec: Value| Transform::compile(&spec, "test");
        let Ok(p) = c(json!({"pairs": ["type", "rdata"]})) else {
            panic!("pairs compiles")
        };
        assert_eq!(
            p.apply(json!({"A": ["192.0.2.1", "192.0.2.2"], "CNAME": ["cdn.example"], "TXT": []})),
            Some(
                json!([{"type":"A","rdata":"192.0.2.1"},{"type":"A","rdata":"192.0.2.2"},{"type":"CNAME","rdata":"cdn.example"}])
            )
        );
        assert_eq!(p.apply(json!("x")), None);
        assert!(c(json!({"pairs": ["a", "a"]})).is_err());
        assert!(c(json!({"pairs": "a"})).is_err());
        let Ok(m) = c(json!("mitre_attacks")) else {
            panic!("mitre_attacks compiles")
        };
        let meta = json!({
            "mitre_tactic_id": ["TA0011"], "mitre_tactic_name": ["Command_And_Control"],
            "mitre_technique_id": ["T1071", "T1573.002"], "mitre_technique_name": ["Application_Layer_Protocol", "Asymmetric_Cryptography"],
            "signature_severity": ["Major"]
        });
        assert_eq!(
            m.apply(meta),
            Some(json!([
                {"technique": {"uid": "T1071", "name": "Application Layer Protocol"}, "tactic": {"uid": "TA0011", "name": "Command And Control"}},
                {"technique": {"uid": "T1573"}, "sub_technique": {"uid": "T1573.002", "name": "Asymmetric Cryptography"}, "tactic": {"uid": "TA0011", "name": "Command And Control"}}
            ]))
        );
        assert_eq!(
            m.apply(json!({"mitre_tactic_id": "TA0001"})),
            Some(json!([{"tactic": {"uid": "TA0001"}}]))
        );
        assert_eq!(m.apply(json!({"signature_severity": ["Major"]})), None);
    }
}

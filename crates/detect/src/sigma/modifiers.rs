//! Sigma values and modifiers compiled into [`Pattern`]s, and their evaluation against field
//! values.
//!
//! Plain values are case-insensitive with `*`/`?` wildcards (`\*`, `\?`, `\\` escape them);
//! they compile to the cheapest matcher that is exact (equals, prefix, suffix, substring, or a
//! glob only when a wildcard sits inside the value). Encoding modifiers (`wide`, `base64`,
//! `base64offset`, `windash`) expand one value into variants at load time, never per event.

use std::net::IpAddr;

use regex::{Regex, RegexBuilder};
use serde_yaml_ng::Value as Yaml;

use super::fields::{FieldValue, Values};

/// Regex size limit (compiled program bytes): Sigma's regexes are small; a hostile one fails
/// to compile instead of eating memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Most variants one value may expand to (windash permutations).
const MAX_VARIANTS: usize = 256;

/// One glob token.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(char),
    Star,
    One,
}

/// How a string is compared.
#[derive(Debug, Clone)]
pub enum StrMatch {
    /// Equal.
    Exact(String),
    /// Substring.
    Contains(String),
    /// Prefix.
    Starts(String),
    /// Suffix.
    Ends(String),
    /// Glob with `*` and `?`.
    Glob(Vec<GlobTok>),
    /// Everything (a lone `*`).
    Any,
}

/// A glob token (public for the pattern type).
#[derive(Debug, Clone, PartialEq)]
pub enum GlobTok {
    /// A literal run.
    Lit(String),
    /// `*`.
    Star,
    /// `?`.
    One,
}

/// A compiled matcher for one value of a Sigma field.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// A string comparison; `cased` compares the raw value, else the lowercased one.
    Str {
        /// The comparison.
        m: StrMatch,
        /// Case-sensitive (`|cased`).
        cased: bool,
        /// Id of the pattern's literal in its slot's multi-pattern prefilter (set when the rule
        /// set is indexed; `None`: not prefiltered, evaluated directly).
        needle: Option<u32>,
    },
    /// `|re`.
    Re(Regex),
    /// `|cidr`.
    Cidr(IpAddr, u8),
    /// `|lt` … `|gte`.
    Num(Cmp, f64),
    /// `|exists`.
    Exists(bool),
    /// `null`: field absent or empty.
    Null,
    /// `|fieldref`: compare against another field's value (slot of the referenced field).
    FieldRef {
        /// Slot of the referenced field.
        slot: usize,
        /// How to compare.
        how: RefHow,
        /// Case-sensitive.
        cased: bool,
    },
}

/// Fieldref comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RefHow {
    /// Equal.
    Exact,
    /// Substring.
    Contains,
    /// Prefix.
    Starts,
    /// Suffix.
    Ends,
}

/// Numeric comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cmp {
    /// `<`.
    Lt,
    /// `<=`.
    Lte,
    /// `>`.
    Gt,
    /// `>=`.
    Gte,
}

/// The modifiers of one field key (`CommandLine|contains|all`).
#[derive(Debug, Clone, Default)]
pub struct Modifiers {
    /// `contains` / `startswith` / `endswith`.
    pub position: Option<RefHow>,
    /// `all`.
    pub all: bool,
    /// `re` with flags.
    pub re: Option<(bool, bool, bool)>,
    /// `cidr`.
    pub cidr: bool,
    /// `exists`.
    pub exists: bool,
    /// `cased`.
    pub cased: bool,
    /// `fieldref`.
    pub fieldref: bool,
    /// numeric comparison.
    pub cmp: Option<Cmp>,
    /// Transformations in order (`wide`, `base64`, `base64offset`, `windash`).
    pub transforms: Vec<Transform>,
}

/// A value transformation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transform {
    /// UTF-16LE.
    Utf16Le,
    /// UTF-16BE.
    Utf16Be,
    /// UTF-16LE with BOM.
    Utf16,
    /// Base64.
    Base64,
    /// Base64 at the three byte offsets.
    Base64Offset,
    /// `-` and `/` and dash variants at word starts.
    Windash,
}

/// Parses the modifier chain of a key (after the field name).
pub fn parse_modifiers(mods: &[&str]) -> Result<Modifiers, String> {
    let mut m = Modifiers::default();
    let mut re_flags = (false, false, false);
    for &md in mods {
        match md {
            "contains" => m.position = Some(RefHow::Contains),
            "startswith" => m.position = Some(RefHow::Starts),
            "endswith" => m.position = Some(RefHow::Ends),
            "all" => m.all = true,
            "re" => m.re = Some(re_flags),
            "i" | "ignorecase" => re_flags.0 = true,
            "m" | "multiline" => re_flags.1 = true,
            "s" | "dotall" => re_flags.2 = true,
            "cidr" => m.cidr = true,
            "exists" => m.exists = true,
            "cased" => m.cased = true,
            "fieldref" => m.fieldref = true,
            "lt" => m.cmp = Some(Cmp::Lt),
            "lte" => m.cmp = Some(Cmp::Lte),
            "gt" => m.cmp = Some(Cmp::Gt),
            "gte" => m.cmp = Some(Cmp::Gte),
            "wide" | "utf16le" => m.transforms.push(Transform::Utf16Le),
            "utf16be" => m.transforms.push(Transform::Utf16Be),
            "utf16" => m.transforms.push(Transform::Utf16),
            "base64" => m.transforms.push(Transform::Base64),
            "base64offset" => m.transforms.push(Transform::Base64Offset),
            "windash" => m.transforms.push(Transform::Windash),
            other => return Err(format!("unsupported modifier {other}")),
        }
    }
    if let Some(r) = m.re.as_mut() {
        *r = re_flags;
    } else if re_flags != (false, false, false) {
        return Err("regex flag modifier without re".to_string());
    }
    if m.re.is_some() && (!m.transforms.is_empty() || m.position.is_some()) {
        return Err("unsupported modifier combination re with string modifiers".to_string());
    }
    Ok(m)
}

/// A YAML scalar as a Sigma value string (`None` for null).
pub fn scalar(v: &Yaml) -> Result<Option<String>, String> {
    Ok(match v {
        Yaml::Null => None,
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::String(s) => Some(s.clone()),
        _ => return Err("value is not a scalar".to_string()),
    })
}

fn tokens(s: &str) -> Vec<Tok> {
    let mut out = Vec::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&n @ ('*' | '?' | '\\')) => {
                    chars.next();
                    out.push(Tok::Lit(n));
                }
                _ => out.push(Tok::Lit('\\')),
            },
            '*' => out.push(Tok::Star),
            '?' => out.push(Tok::One),
            c => out.push(Tok::Lit(c)),
        }
    }
    out
}

fn literal(toks: &[Tok]) -> Option<String> {
    toks.iter()
        .map(|t| match t {
            Tok::Lit(c) => Some(*c),
            _ => None,
        })
        .collect()
}

/// Compiles glob tokens to the cheapest string matcher.
fn compile_tokens(mut toks: Vec<Tok>, lower: bool) -> StrMatch {
    // Collapse runs of stars.
    toks.dedup_by(|a, b| *a == Tok::Star && *b == Tok::Star);
    let lc = |s: String| if lower { s.to_lowercase() } else { s };
    if toks.iter().all(|t| *t == Tok::Star) && !toks.is_empty() {
        return StrMatch::Any;
    }
    let lead = toks.first() == Some(&Tok::Star);
    let trail = toks.len() > 1 && toks.last() == Some(&Tok::Star);
    let inner = &toks[usize::from(lead)..toks.len() - usize::from(trail)];
    if let Some(lit) = literal(inner) {
        let lit = lc(lit);
        return match (lead, trail) {
            (false, false) => StrMatch::Exact(lit),
            (true, true) => StrMatch::Contains(lit),
            (true, false) => StrMatch::Ends(lit),
            (false, true) => StrMatch::Starts(lit),
        };
    }
    let mut g: Vec<GlobTok> = Vec::new();
    for t in toks {
        match t {
            Tok::Star => g.push(GlobTok::Star),
            Tok::One => g.push(GlobTok::One),
            Tok::Lit(c) => {
                if let Some(GlobTok::Lit(s)) = g.last_mut() {
                    s.push(c);
                } else {
                    g.push(GlobTok::Lit(c.to_string()));
                }
            }
        }
    }
    for t in &mut g {
        if let GlobTok::Lit(s) = t {
            *s = lc(std::mem::take(s));
        }
    }
    StrMatch::Glob(g)
}

fn b64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Bytes of a value; encoding transforms chain on bytes.
fn transform(vals: Vec<Vec<u8>>, t: Transform) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for v in vals {
        match t {
            Transform::Utf16Le | Transform::Utf16Be | Transform::Utf16 => {
                let s = String::from_utf8_lossy(&v);
                let mut b = Vec::with_capacity(v.len() * 2 + 2);
                if t == Transform::Utf16 {
                    b.extend_from_slice(&[0xff, 0xfe]);
                }
                for u in s.encode_utf16() {
                    if t == Transform::Utf16Be {
                        b.extend_from_slice(&u.to_be_bytes());
                    } else {
                        b.extend_from_slice(&u.to_le_bytes());
                    }
                }
                out.push(b);
            }
            Transform::Base64 => out.push(b64(&v).into_bytes()),
            Transform::Base64Offset => {
                // pySigma's construction: shift by 0..3 bytes, drop the characters that depend
                // on the unknown neighbours.
                const START: [usize; 3] = [0, 2, 3];
                const END: [usize; 3] = [0, 3, 2];
                for i in 0..3 {
                    let mut shifted = vec![b' '; i];
                    shifted.extend_from_slice(&v);
                    let enc = b64(&shifted);
                    let end_cut = END[(v.len() + i) % 3];
                    let end = enc.len().saturating_sub(end_cut);
                    let s = enc.get(START[i]..end).unwrap_or("");
                    if !s.is_empty() {
                        out.push(s.as_bytes().to_vec());
                    }
                }
            }
            Transform::Windash => {
                let s = String::from_utf8_lossy(&v).into_owned();
                for w in windash(&s)? {
                    out.push(w.into_bytes());
                }
            }
        }
        if out.len() > MAX_VARIANTS {
            return Err("value expands to too many variants".to_string());
        }
    }
    Ok(out)
}

fn windash(s: &str) -> Result<Vec<String>, String> {
    const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    let chars: Vec<char> = s.chars().collect();
    let positions: Vec<usize> = (0..chars.len())
        .filter(|&i| {
            DASHES.contains(&chars[i])
                && (i == 0 || !chars[i - 1].is_alphanumeric())
                && chars.get(i + 1).is_some_and(|c| c.is_alphanumeric())
        })
        .collect();
    if positions.len() > 3 {
        return Err("windash value with too many dashes".to_string());
    }
    let mut out = vec![chars];
    for &p in &positions {
        let mut next = Vec::with_capacity(out.len() * DASHES.len());
        for v in &out {
            for d in DASHES {
                let mut w = v.clone();
                w[p] = d;
                next.push(w);
            }
        }
        out = next;
    }
    Ok(out.into_iter().map(|c| c.into_iter().collect()).collect())
}

fn parse_cidr(s: &str) -> Result<(IpAddr, u8), String> {
    let (ip, len) = s.split_once('/').unwrap_or((s, ""));
    let ip: IpAddr = ip.trim().parse().map_err(|_| format!("bad cidr {s}"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = if len.is_empty() {
        max
    } else {
        len.trim().parse().map_err(|_| format!("bad cidr {s}"))?
    };
    if len > max {
        return Err(format!("bad cidr {s}"));
    }
    Ok((ip, len))
}

/// Compiles one value (already a string; `None` for null) into its variant patterns.
/// `resolve_ref` gives the slot of a referenced field (fieldref).
pub fn compile_value(
    value: Option<&str>,
    m: &Modifiers,
    resolve_ref: &mut dyn FnMut(&str) -> Result<usize, String>,
) -> Result<Vec<Pattern>, String> {
    let Some(v) = value else {
        if m.exists || m.re.is_some() || m.cidr || m.cmp.is_some() {
            return Err("null value with a modifier".to_string());
        }
        return Ok(vec![Pattern::Null]);
    };
    if m.exists {
        return match v.to_ascii_lowercase().as_str() {
            "true" | "yes" => Ok(vec![Pattern::Exists(true)]),
            "false" | "no" => Ok(vec![Pattern::Exists(false)]),
            _ => Err("exists needs a boolean".to_string()),
        };
    }
    if let Some((i, ml, s)) = m.re {
        let re = RegexBuilder::new(v)
            .case_insensitive(i)
            .multi_line(ml)
            .dot_matches_new_line(s)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|_| "regex not supported by the regex crate".to_string())?;
        return Ok(vec![Pattern::Re(re)]);
    }
    if m.cidr {
        let (ip, len) = parse_cidr(v)?;
        return Ok(vec![Pattern::Cidr(ip, len)]);
    }
    if let Some(c) = m.cmp {
        let n: f64 = v.trim().parse().map_err(|_| format!("not a number: {v}"))?;
        return Ok(vec![Pattern::Num(c, n)]);
    }
    if m.fieldref {
        let slot = resolve_ref(v)?;
        return Ok(vec![Pattern::FieldRef {
            slot,
            how: m.position.unwrap_or(RefHow::Exact),
            cased: m.cased,
        }]);
    }
    let lower = !m.cased;
    if m.transforms.is_empty() {
        let mut toks = tokens(v);
        wrap(&mut toks, m.position);
        return Ok(vec![Pattern::Str {
            m: compile_tokens(toks, lower),
            cased: m.cased,
            needle: None,
        }]);
    }
    // Encoded values are literal (wildcards inside an encoded value mean nothing); keep
    // the position wildcards around each variant.
    let mut vals = vec![v.as_bytes().to_vec()];
    for t in &m.transforms {
        vals = transform(vals, *t)?;
    }
    let mut out = Vec::new();
    for bytes in vals {
        let s = String::from_utf8_lossy(&bytes).into_owned();
        let mut toks: Vec<Tok> = s.chars().map(Tok::Lit).collect();
        if m.transforms.last() == Some(&Transform::Windash) {
            toks = tokens(&s);
        }
        // base64offset without a position is a substring match (that is its whole point).
        let pos = if m.position.is_none() && m.transforms.contains(&Transform::Base64Offset) {
            Some(RefHow::Contains)
        } else {
            m.position
        };
        wrap(&mut toks, pos);
        out.push(Pattern::Str {
            m: compile_tokens(toks, lower),
            cased: m.cased,
            needle: None,
        });
    }
    Ok(out)
}

fn wrap(toks: &mut Vec<Tok>, pos: Option<RefHow>) {
    match pos {
        Some(RefHow::Contains) => {
            toks.insert(0, Tok::Star);
            toks.push(Tok::Star);
        }
        Some(RefHow::Starts) => toks.push(Tok::Star),
        Some(RefHow::Ends) => toks.insert(0, Tok::Star),
        _ => {}
    }
}

/// Glob match (both sides already in the same case).
fn glob(pat: &[GlobTok], s: &str) -> bool {
    // Iterative matcher with single backtrack point (the last star).
    let mut pi = 0;
    let mut si = 0;
    let mut star: Option<(usize, usize)> = None;
    let sb = s.as_bytes();
    while si < sb.len() || pi < pat.len() {
        if let Some(t) = pat.get(pi) {
            match t {
                GlobTok::Star => {
                    star = Some((pi, si));
                    pi += 1;
                    continue;
                }
                GlobTok::One => {
                    if let Some(c) = s.get(si..).and_then(|r| r.chars().next()) {
                        si += c.len_utf8();
                        pi += 1;
                        continue;
                    }
                }
                GlobTok::Lit(l) => {
                    if sb.get(si..).is_some_and(|r| r.starts_with(l.as_bytes())) {
                        si += l.len();
                        pi += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, ss)) if ss < sb.len() => {
                // Advance the star by one char.
                let step = s
                    .get(ss..)
                    .and_then(|r| r.chars().next())
                    .map_or(1, char::len_utf8);
                star = Some((sp, ss + step));
                pi = sp + 1;
                si = ss + step;
            }
            _ => return false,
        }
    }
    true
}

impl StrMatch {
    /// A literal that every matching string contains (the prefilter's needle): the whole
    /// literal, or the longest literal run of a glob; `None` when nothing is required.
    pub fn required_literal(&self) -> Option<&str> {
        let l = match self {
            StrMatch::Exact(l)
            | StrMatch::Contains(l)
            | StrMatch::Starts(l)
            | StrMatch::Ends(l) => l.as_str(),
            StrMatch::Glob(g) => g
                .iter()
                .filter_map(|t| match t {
                    GlobTok::Lit(l) => Some(l.as_str()),
                    _ => None,
                })
                .max_by_key(|l| l.len())?,
            StrMatch::Any => return None,
        };
        (!l.is_empty()).then_some(l)
    }

    /// Whether `s` matches.
    pub fn is_match(&self, s: &str) -> bool {
        match self {
            StrMatch::Exact(l) => s == l,
            StrMatch::Contains(l) => s.contains(l.as_str()),
            StrMatch::Starts(l) => s.starts_with(l.as_str()),
            StrMatch::Ends(l) => s.ends_with(l.as_str()),
            StrMatch::Glob(g) => glob(g, s),
            StrMatch::Any => true,
        }
    }
}

fn as_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16).ok().map(|u| u as f64);
    }
    t.parse().ok()
}

fn in_cidr(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            (u32::from(a) & mask) == (u32::from(b) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            (u128::from(a) & mask) == (u128::from(b) & mask)
        }
        _ => false,
    }
}

/// Whether a pattern other than `FieldRef` matches the field's values. `FieldRef` is given the
/// referenced values in `other`.
pub fn matches(p: &Pattern, vals: &Values<'_>, other: Option<&Values<'_>>) -> bool {
    match p {
        Pattern::Null => vals.vals.iter().all(|v| v.raw.is_empty()),
        Pattern::Exists(want) => vals.vals.is_empty() != *want,
        _ => vals.vals.iter().any(|v| one(p, v, other)),
    }
}

fn one(p: &Pattern, v: &FieldValue<'_>, other: Option<&Values<'_>>) -> bool {
    match p {
        Pattern::Str { m, cased, .. } => m.is_match(if *cased { &v.raw } else { v.lower() }),
        Pattern::Re(re) => re.is_match(&v.raw),
        Pattern::Cidr(net, len) => v
            .raw
            .trim()
            .parse::<IpAddr>()
            .is_ok_and(|ip| in_cidr(ip, *net, *len)),
        Pattern::Num(c, n) => as_number(&v.raw).is_some_and(|x| match c {
            Cmp::Lt => x < *n,
            Cmp::Lte => x <= *n,
            Cmp::Gt => x > *n,
            Cmp::Gte => x >= *n,
        }),
        Pattern::FieldRef { how, cased, .. } => other.is_some_and(|o| {
            o.vals.iter().any(|r| {
                let (a, b): (&str, &str) = if *cased {
                    (&v.raw, &r.raw)
                } else {
                    (v.lower(), r.lower())
                };
                match how {
                    RefHow::Exact => a == b,
                    RefHow::Contains => a.contains(b),
                    RefHow::Starts => a.starts_with(b),
                    RefHow::Ends => a.ends_with(b),
                }
            })
        }),
        Pattern::Null | Pattern::Exists(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(v: &str, mods: &[&str]) -> Vec<Pattern> {
        let m = parse_modifiers(mods).expect("modifiers");
        compile_value(Some(v), &m, &mut |_| Ok(0)).expect("compiles")
    }

    fn hit(v: &str, mods: &[&str], s: &str) -> bool {
        let vals = Values {
            vals: vec![FieldValue::new(s.into())],
        };
        pats(v, mods).iter().any(|p| matches(p, &vals, None))
    }

    #[test]
    fn wildcards_and_escapes() {
        assert!(hit("*\\cmd.exe", &[], "C:\\Windows\\CMD.EXE"));
        assert!(hit("a?c", &[], "abc"));
        assert!(!hit("a?c", &[], "abbc"));
        assert!(hit("a*b*c", &[], "a--b--c"));
        assert!(!hit("a*b*c", &[], "a--c--b"));
        assert!(hit("a\\*b", &[], "a*b"));
        assert!(!hit("a\\*b", &[], "axb"));
        assert!(hit("C:\\Temp\\", &[], "c:\\temp\\"));
        assert!(hit("*", &[], "anything"));
    }

    #[test]
    fn base64_variants() {
        assert_eq!(b64(b"foo"), "Zm9v");
        assert_eq!(b64(b"fo"), "Zm8=");
        // pySigma's documented example: base64offset of "/bin/bash".
        let want = ["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"];
        let got: Vec<String> = pats("/bin/bash", &["base64offset", "contains"])
            .into_iter()
            .map(|p| match p {
                Pattern::Str {
                    m: StrMatch::Contains(s),
                    ..
                } => s,
                other => format!("{other:?}"),
            })
            .collect();
        let want: Vec<String> = want.iter().map(|s| s.to_lowercase()).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn windash_expands() {
        let w = windash("-enc x").expect("ok");
        assert_eq!(w.len(), 5);
        assert!(w.contains(&"/enc x".to_string()));
        assert!(hit(
            " -enc ",
            &["windash", "contains"],
            "powershell /enc abc"
        ));
    }
}

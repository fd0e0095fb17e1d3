//! Lexer, parser and AST of STIX 2.1 patterns.

use std::fmt;

use super::regex::Regex;
use super::StixError;
use crate::{Indicator, IndicatorKind};

/// Deepest nesting of parentheses/brackets accepted.
pub const MAX_DEPTH: usize = 64;
/// Longest pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 256 * 1024;

/// A UTC instant with nanosecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

impl Timestamp {
    /// Parses `YYYY-MM-DDTHH:MM:SS[.frac]Z` (upper-case `T`/`Z`, seconds up to 60, days up to
    /// 31 whatever the month, as the STIX grammar does).
    pub fn parse(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        if b.len() < 20 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
            return None;
        }
        if b.get(10) != Some(&b'T') || b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let part = b.get(r)?;
            if !part.iter().all(u8::is_ascii_digit) {
                return None;
            }
            part.iter()
                .try_fold(0i64, |acc, d| Some(acc * 10 + i64::from(d - b'0')))
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return None;
        }
        if hour > 23 || min > 59 || sec > 60 {
            return None;
        }
        let rest = b.get(19..)?;
        let mut nanos = 0u32;
        let frac = match rest.split_last() {
            Some((b'Z', frac)) => frac,
            _ => return None,
        };
        if !frac.is_empty() {
            let digits = frac.strip_prefix(b".")?;
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            for i in 0..9 {
                nanos = nanos * 10 + digits.get(i).map_or(0, |d| u32::from(d - b'0'));
            }
        }
        let days = shrike_types::days_from_civil(year, month, day);
        Some(Timestamp {
            secs: days * 86_400 + hour * 3600 + min * 60 + sec,
            nanos,
        })
    }

    /// Epoch milliseconds.
    pub fn epoch_ms(self) -> i64 {
        self.secs * 1000 + i64::from(self.nanos / 1_000_000)
    }

    /// Epoch nanoseconds (wide, so any year fits).
    pub fn epoch_nanos(self) -> i128 {
        i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos)
    }
}

/// A literal in a pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string (escapes resolved).
    Str(String),
    /// `true` / `false`.
    Bool(bool),
    /// `h'..'` or `b'..'`.
    Binary(Vec<u8>),
    /// `t'..'`.
    Timestamp(Timestamp),
}

/// One step of an object path after the object type.
#[derive(Debug, Clone, PartialEq)]
pub enum PathStep {
    /// A property (`.name`, `.'SHA-256'`).
    Key(String),
    /// `[N]`.
    Index(i64),
    /// `[*]`.
    Any,
}

/// Comparison operators (`NOT` and `!=` are kept as flags on [`CompareExpr::Test`]).
#[derive(Debug, Clone, PartialEq)]
pub enum CompOp {
    /// `=` (or `!=` with `negated_op`).
    Eq(Literal),
    /// `<`.
    Lt(Literal),
    /// `<=`.
    Le(Literal),
    /// `>`.
    Gt(Literal),
    /// `>=`.
    Ge(Literal),
    /// `IN (..)`.
    In(Vec<Literal>),
    /// `LIKE '..'` (the compiled wildcard).
    Like(String, Regex),
    /// `MATCHES '..'`.
    Matches(String, Regex),
    /// `ISSUBSET '..'`.
    IsSubset(String),
    /// `ISSUPERSET '..'`.
    IsSuperset(String),
}

/// A comparison expression (inside `[ ]`).
#[derive(Debug, Clone, PartialEq)]
pub enum CompareExpr {
    /// `a AND b`.
    And(Box<CompareExpr>, Box<CompareExpr>),
    /// `a OR b`.
    Or(Box<CompareExpr>, Box<CompareExpr>),
    /// `type:path NOT? op literal`.
    Test {
        /// Object type.
        object_type: String,
        /// Path steps (at least one).
        path: Vec<PathStep>,
        /// `NOT` given.
        not: bool,
        /// `!=` (instead of `=`).
        neq: bool,
        /// The operator and operand.
        op: CompOp,
    },
    /// `EXISTS type:path`.
    Exists {
        /// Object type.
        object_type: String,
        /// Path steps.
        path: Vec<PathStep>,
    },
}

/// A qualifier on an observation expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Qualifier {
    /// `WITHIN n SECONDS`.
    Within(f64),
    /// `REPEATS n TIMES`.
    Repeats(u32),
    /// `START t'..' STOP t'..'`.
    StartStop(Timestamp, Timestamp),
}

/// An observation expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ObsExpr {
    /// `[ comparison ]`.
    Simple(CompareExpr),
    /// `a AND b` (different observations).
    And(Box<ObsExpr>, Box<ObsExpr>),
    /// `a OR b`.
    Or(Box<ObsExpr>, Box<ObsExpr>),
    /// `a FOLLOWEDBY b`.
    FollowedBy(Box<ObsExpr>, Box<ObsExpr>),
    /// A qualified expression.
    Qualified(Box<ObsExpr>, Qualifier),
}

/// A parsed STIX pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    /// The root observation expression.
    pub root: ObsExpr,
    text: String,
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Pattern {
    type Err = StixError;
    fn from_str(s: &str) -> Result<Pattern, StixError> {
        Pattern::parse(s)
    }
}

impl Pattern {
    /// Parses with the matcher's grammar (qualifiers may repeat).
    pub fn parse(text: &str) -> Result<Pattern, StixError> {
        if text.len() > MAX_PATTERN_LEN {
            return Err(StixError::Pattern {
                line: 1,
                column: 0,
                message: format!("pattern longer than {MAX_PATTERN_LEN} bytes"),
            });
        }
        let toks = lex(text)?;
        let mut p = Parser {
            src: text,
            toks,
            pos: 0,
            depth: 0,
            strict: false,
        };
        let root = p.pattern()?;
        Ok(Pattern {
            root,
            text: text.to_string(),
        })
    }

    /// Parses and applies the reference validator's extra checks: no repeated qualifier type
    /// directly on one `[..]`, and hash literals of the right shape for their algorithm.
    pub fn validate(text: &str) -> Result<Pattern, StixError> {
        let toks = lex(text)?;
        let mut p = Parser {
            src: text,
            toks,
            pos: 0,
            depth: 0,
            strict: true,
        };
        let root = p.pattern()?;
        Ok(Pattern {
            root,
            text: text.to_string(),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LBrack,
    RBrack,
    LParen,
    RParen,
    Comma,
    Colon,
    Dot,
    Star,
    Op(&'static str),
    Ident(String),
    Str(String),
    Int(i64, bool),
    Float(f64, bool),
    Bool(bool),
    Hex(Vec<u8>),
    Bin(Vec<u8>),
    Ts(Timestamp),
    Eof,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::LBrack => "'['".into(),
        Tok::RBrack => "']'".into(),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::Comma => "','".into(),
        Tok::Colon => "':'".into(),
        Tok::Dot => "'.'".into(),
        Tok::Star => "'*'".into(),
        Tok::Op(o) => format!("'{o}'"),
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Str(_) => "a string".into(),
        Tok::Int(i, _) => format!("'{i}'"),
        Tok::Float(f, _) => format!("'{f}'"),
        Tok::Bool(b) => format!("'{b}'"),
        Tok::Hex(_) => "a hex literal".into(),
        Tok::Bin(_) => "a binary literal".into(),
        Tok::Ts(_) => "a timestamp".into(),
        Tok::Eof => "<EOF>".into(),
    }
}

fn err_at(src: &str, offset: usize, message: impl Into<String>) -> StixError {
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count();
    StixError::Pattern {
        line,
        column,
        message: message.into(),
    }
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, StixError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let single = match c {
            b'[' => Some(Tok::LBrack),
            b']' => Some(Tok::RBrack),
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            b'*' => Some(Tok::Star),
            _ => None,
        };
        if let Some(t) = single {
            out.push((t, start));
            i += 1;
            continue;
        }
        let next = b.get(i + 1).copied();
        let two = |s: &'static str| (Tok::Op(s), 2usize);
        let op = match (c, next) {
            (b'=', Some(b'=')) => Some(two("=")),
            (b'=', _) => Some((Tok::Op("="), 1)),
            (b'!', Some(b'=')) => Some(two("!=")),
            (b'<', Some(b'>')) => Some(two("!=")),
            (b'<', Some(b'=')) => Some(two("<=")),
            (b'<', _) => Some((Tok::Op("<"), 1)),
            (b'>', Some(b'=')) => Some(two(">=")),
            (b'>', _) => Some((Tok::Op(">"), 1)),
            _ => None,
        };
        if let Some((t, n)) = op {
            out.push((t, start));
            i += n;
            continue;
        }
        if c == b'\'' {
            let (s, end) = lex_string(src, i)?;
            out.push((Tok::Str(s), start));
            i = end;
            continue;
        }
        if c.is_ascii_digit()
            || ((c == b'-' || c == b'+' || c == b'.')
                && next.is_some_and(|n| n.is_ascii_digit() || n == b'.'))
        {
            let mut j = i;
            if c == b'-' || c == b'+' {
                j += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let is_float = b.get(j) == Some(&b'.');
            if is_float {
                j += 1;
                let ds = j;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                if j == ds {
                    return Err(err_at(src, start, "malformed number"));
                }
            }
            let text = &src[i..j];
            let signed = c == b'-';
            let tok = if is_float {
                let v: f64 = text
                    .parse()
                    .map_err(|_| err_at(src, start, format!("malformed number '{text}'")))?;
                Tok::Float(v, signed)
            } else {
                let v: i64 = text
                    .trim_start_matches('+')
                    .parse()
                    .map_err(|_| err_at(src, start, format!("integer out of range '{text}'")))?;
                Tok::Int(v, signed)
            };
            out.push((tok, start));
            i = j;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            if next == Some(b'\'') && matches!(c, b't' | b'h' | b'b') {
                let (s, end) = lex_string(src, i + 1)?;
                let tok = match c {
                    b't' => Tok::Ts(Timestamp::parse(&s).ok_or_else(|| {
                        err_at(src, start, format!("invalid timestamp literal t'{s}'"))
                    })?),
                    b'h' => Tok::Hex(decode_hex(&s).ok_or_else(|| {
                        err_at(src, start, format!("invalid hex literal h'{s}'"))
                    })?),
                    _ => Tok::Bin(decode_base64(&s).ok_or_else(|| {
                        err_at(
                            src,
                            start,
                            format!("invalid binary (base64) literal b'{s}'"),
                        )
                    })?),
                };
                out.push((tok, start));
                i = end;
                continue;
            }
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'-') {
                j += 1;
            }
            let word = &src[i..j];
            let tok = match word {
                "true" => Tok::Bool(true),
                "false" => Tok::Bool(false),
                _ => Tok::Ident(word.to_string()),
            };
            out.push((tok, start));
            i = j;
            continue;
        }
        if c == b'.' {
            out.push((Tok::Dot, start));
            i += 1;
            continue;
        }
        let ch = src[i..].chars().next().unwrap_or('?');
        return Err(err_at(src, start, format!("unexpected character '{ch}'")));
    }
    out.push((Tok::Eof, b.len()));
    Ok(out)
}

/// Lexes `'...'` starting at the quote; only `\'` and `\\` are escapes.
fn lex_string(src: &str, quote: usize) -> Result<(String, usize), StixError> {
    let mut s = String::new();
    let mut it = src[quote + 1..].char_indices();
    while let Some((k, ch)) = it.next() {
        match ch {
            '\'' => return Ok((s, quote + 1 + k + 1)),
            '\\' => match it.next() {
                Some((_, '\'')) => s.push('\''),
                Some((_, '\\')) => s.push('\\'),
                _ => {
                    return Err(err_at(
                        src,
                        quote + 1 + k,
                        "invalid escape in string (only \\' and \\\\ are allowed)",
                    ))
                }
            },
            c => s.push(c),
        }
    }
    Err(err_at(src, quote, "unterminated string"))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|p| {
            let hi = (p[0] as char).to_digit(16)?;
            let lo = (p[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

/// Strict standard base64 (padding required, non-empty), as the grammar's BinaryLiteral.
pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(4) {
        return None;
    }
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    let n = b.len() / 4;
    for (q, chunk) in b.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && q + 1 != n) {
            return None;
        }
        let mut acc = 0u32;
        for &c in &chunk[..4 - pad] {
            acc = (acc << 6) | val(c)?;
        }
        acc <<= 6 * pad as u32;
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
    strict: bool,
}

const KEYWORDS: &[&str] = &[
    "AND",
    "OR",
    "NOT",
    "FOLLOWEDBY",
    "LIKE",
    "MATCHES",
    "ISSUBSET",
    "ISSUPERSET",
    "EXISTS",
    "IN",
    "START",
    "STOP",
    "SECONDS",
    "WITHIN",
    "REPEATS",
    "TIMES",
];

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map_or(&Tok::Eof, |t| &t.0)
    }
    fn offset(&self) -> usize {
        self.toks.get(self.pos).map_or(self.src.len(), |t| t.1)
    }
    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn err(&self, msg: impl Into<String>) -> StixError {
        err_at(self.src, self.offset(), msg)
    }
    fn unexpected(&self, expecting: &str) -> StixError {
        self.err(format!(
            "mismatched input {} expecting {expecting}",
            describe(self.peek())
        ))
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == kw)
    }
    fn expect_kw(&mut self, kw: &str) -> Result<(), StixError> {
        if self.is_kw(kw) {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{kw}'")))
        }
    }
    fn enter(&mut self) -> Result<(), StixError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(format!("nesting deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    fn pattern(&mut self) -> Result<ObsExpr, StixError> {
        if !matches!(self.peek(), Tok::LBrack | Tok::LParen) {
            return Err(self.err("input is missing square brackets"));
        }
        let e = self.followed_by()?;
        if *self.peek() != Tok::Eof {
            return Err(self.unexpected("<EOF>"));
        }
        Ok(e)
    }

    /// One left-associative level of the grammar: `next (KW next)*`.
    fn left_assoc<T>(
        &mut self,
        kw: &str,
        next: fn(&mut Self) -> Result<T, StixError>,
        make: fn(Box<T>, Box<T>) -> T,
    ) -> Result<T, StixError> {
        let mut l = next(self)?;
        while self.is_kw(kw) {
            self.bump();
            let r = next(self)?;
            l = make(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn followed_by(&mut self) -> Result<ObsExpr, StixError> {
        self.left_assoc("FOLLOWEDBY", Self::obs_or, ObsExpr::FollowedBy)
    }
    fn obs_or(&mut self) -> Result<ObsExpr, StixError> {
        self.left_assoc("OR", Self::obs_and, ObsExpr::Or)
    }
    fn obs_and(&mut self) -> Result<ObsExpr, StixError> {
        self.left_assoc("AND", Self::obs_qualified, ObsExpr::And)
    }
    fn obs_qualified(&mut self) -> Result<ObsExpr, StixError> {
        self.enter()?;
        let (mut e, simple) = match self.peek() {
            Tok::LBrack => {
                self.bump();
                let c = self.comparison()?;
                if *self.peek() != Tok::RBrack {
                    return Err(self.unexpected("']'"));
                }
                self.bump();
                (ObsExpr::Simple(c), true)
            }
            Tok::LParen => {
                self.bump();
                let e = self.followed_by()?;
                if *self.peek() != Tok::RParen {
                    return Err(self.unexpected("')'"));
                }
                self.bump();
                (e, false)
            }
            _ => return Err(self.unexpected("'[' or '('")),
        };
        let mut seen: Vec<&'static str> = Vec::new();
        loop {
            let (q, kind) = if self.is_kw("WITHIN") {
                self.bump();
                let v = match self.bump() {
                    Tok::Int(i, false) => i as f64,
                    Tok::Float(f, false) => f,
                    _ => {
                        self.pos -= 1;
                        return Err(self.unexpected("{IntPosLiteral, FloatPosLiteral}"));
                    }
                };
                if v <= 0.0 || !v.is_finite() {
                    self.pos -= 1;
                    return Err(self.err("WITHIN must be positive"));
                }
                self.expect_kw("SECONDS")?;
                (Qualifier::Within(v), "WITHIN")
            } else if self.is_kw("REPEATS") {
                self.bump();
                let n = match self.bump() {
                    Tok::Int(i, false) if i >= 1 && i <= i64::from(u32::MAX) => i as u32,
                    _ => {
                        self.pos -= 1;
                        return Err(self.unexpected("a positive IntPosLiteral"));
                    }
                };
                self.expect_kw("TIMES")?;
                (Qualifier::Repeats(n), "REPEATS")
            } else if self.is_kw("START") {
                self.bump();
                let start = self.qualifier_time()?;
                self.expect_kw("STOP")?;
                let stop = self.qualifier_time()?;
                (Qualifier::StartStop(start, stop), "STARTSTOP")
            } else {
                break;
            };
            if self.strict && simple && seen.contains(&kind) {
                return Err(self.err(format!("Duplicate qualifier type encountered: {kind}")));
            }
            seen.push(kind);
            e = ObsExpr::Qualified(Box::new(e), q);
        }
        self.depth -= 1;
        Ok(e)
    }

    /// A START/STOP time: `t'..'`; the lenient grammar also takes STIX 2.0's plain string.
    fn qualifier_time(&mut self) -> Result<Timestamp, StixError> {
        match self.bump() {
            Tok::Ts(t) => Ok(t),
            Tok::Str(s) if !self.strict => {
                let t = Timestamp::parse(&s);
                t.ok_or_else(|| {
                    self.pos -= 1;
                    self.err(format!("invalid timestamp '{s}'"))
                })
            }
            _ => {
                self.pos -= 1;
                Err(self.unexpected("TimestampLiteral"))
            }
        }
    }

    fn comparison(&mut self) -> Result<CompareExpr, StixError> {
        self.left_assoc("OR", Self::comparison_and, CompareExpr::Or)
    }
    fn comparison_and(&mut self) -> Result<CompareExpr, StixError> {
        self.left_assoc("AND", Self::prop_test, CompareExpr::And)
    }
    fn prop_test(&mut self) -> Result<CompareExpr, StixError> {
        if *self.peek() == Tok::LParen {
            self.enter()?;
            self.bump();
            let c = self.comparison()?;
            if *self.peek() != Tok::RParen {
                return Err(self.unexpected("')'"));
            }
            self.bump();
            self.depth -= 1;
            return Ok(c);
        }
        if self.is_kw("EXISTS") {
            self.bump();
            let (object_type, path) = self.object_path()?;
            return Ok(CompareExpr::Exists { object_type, path });
        }
        let (object_type, path) = self.object_path()?;
        let not = self.is_kw("NOT");
        if not {
            self.bump();
        }
        let op_off = self.offset();
        let mut neq = false;
        let op = match self.bump() {
            Tok::Op(o) => {
                let lit = self.literal(o == "=" || o == "!=")?;
                match o {
                    "=" => CompOp::Eq(lit),
                    "!=" => {
                        neq = true;
                        CompOp::Eq(lit)
                    }
                    "<" => CompOp::Lt(lit),
                    "<=" => CompOp::Le(lit),
                    ">" => CompOp::Gt(lit),
                    _ => CompOp::Ge(lit),
                }
            }
            Tok::Ident(k) if k == "IN" => CompOp::In(self.set_literal()?),
            Tok::Ident(k) if k == "LIKE" => {
                let s = self.string_lit()?;
                let re = Regex::like(&s);
                CompOp::Like(s, re)
            }
            Tok::Ident(k) if k == "MATCHES" => {
                let s = self.string_lit()?;
                let re = Regex::new(&s).map_err(|m| err_at(self.src, op_off, m))?;
                CompOp::Matches(s, re)
            }
            Tok::Ident(k) if k == "ISSUBSET" => CompOp::IsSubset(self.string_lit()?),
            Tok::Ident(k) if k == "ISSUPERSET" => CompOp::IsSuperset(self.string_lit()?),
            _ => {
                self.pos -= 1;
                return Err(self.unexpected("a comparison operator"));
            }
        };
        if self.strict {
            check_hash(&object_type, &path, &op).map_err(|m| err_at(self.src, op_off, m))?;
        }
        Ok(CompareExpr::Test {
            object_type,
            path,
            not,
            neq,
            op,
        })
    }

    fn string_lit(&mut self) -> Result<String, StixError> {
        match self.bump() {
            Tok::Str(s) => Ok(s),
            _ => {
                self.pos -= 1;
                Err(self.unexpected("StringLiteral"))
            }
        }
    }

    fn literal(&mut self, allow_bool: bool) -> Result<Literal, StixError> {
        let lit = match self.bump() {
            Tok::Int(i, _) => Literal::Int(i),
            Tok::Float(f, _) => Literal::Float(f),
            Tok::Str(s) => Literal::Str(s),
            Tok::Bool(b) if allow_bool => Literal::Bool(b),
            Tok::Hex(h) => Literal::Binary(h),
            Tok::Bin(b) => Literal::Binary(b),
            Tok::Ts(t) => Literal::Timestamp(t),
            _ => {
                self.pos -= 1;
                return Err(self.unexpected("a literal"));
            }
        };
        Ok(lit)
    }

    fn set_literal(&mut self) -> Result<Vec<Literal>, StixError> {
        if *self.peek() != Tok::LParen {
            return Err(self.unexpected("'('"));
        }
        let start = self.offset();
        self.bump();
        let mut items = Vec::new();
        if *self.peek() == Tok::RParen {
            self.bump();
            return Ok(items);
        }
        loop {
            items.push(self.literal(true)?);
            match self.bump() {
                Tok::Comma => continue,
                Tok::RParen => break,
                _ => {
                    self.pos -= 1;
                    return Err(self.unexpected("',' or ')'"));
                }
            }
        }
        let class = |l: &Literal| match l {
            Literal::Int(_) | Literal::Float(_) => 0,
            Literal::Str(_) => 1,
            Literal::Bool(_) => 2,
            Literal::Binary(_) => 3,
            Literal::Timestamp(_) => 4,
        };
        if let Some(first) = items.first() {
            if items.iter().any(|l| class(l) != class(first)) {
                return Err(err_at(
                    self.src,
                    start,
                    "set literal elements must all have the same type",
                ));
            }
        }
        Ok(items)
    }

    fn object_path(&mut self) -> Result<(String, Vec<PathStep>), StixError> {
        let object_type = match self.bump() {
            Tok::Ident(s) if !KEYWORDS.contains(&s.as_str()) => s,
            _ => {
                self.pos -= 1;
                return Err(self.unexpected("an object type"));
            }
        };
        if *self.peek() != Tok::Colon {
            return Err(self.err(format!(
                "no viable alternative at input {}: object path needs 'type:property'",
                describe(self.peek())
            )));
        }
        self.bump();
        let mut path = vec![self.key()?];
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.bump();
                    path.push(self.key()?);
                }
                Tok::LBrack => {
                    self.bump();
                    let step = match self.bump() {
                        Tok::Star => PathStep::Any,
                        Tok::Int(i, _) => PathStep::Index(i),
                        _ => {
                            self.pos -= 1;
                            return Err(self.unexpected("'*' or an index"));
                        }
                    };
                    if *self.peek() != Tok::RBrack {
                        return Err(self.unexpected("']'"));
                    }
                    self.bump();
                    path.push(step);
                }
                _ => break,
            }
        }
        Ok((object_type, path))
    }

    fn key(&mut self) -> Result<PathStep, StixError> {
        match self.bump() {
            Tok::Str(s) => Ok(PathStep::Key(s)),
            Tok::Ident(s) if !s.contains('-') => Ok(PathStep::Key(s)),
            Tok::Ident(s) => {
                self.pos -= 1;
                Err(self.err(format!(
                    "property name '{s}' contains '-' and must be quoted"
                )))
            }
            _ => {
                self.pos -= 1;
                Err(self.unexpected("a property name"))
            }
        }
    }
}

/// Expected hex length of a hash algorithm name from the STIX hash vocabulary.
fn hash_len(name: &str) -> Option<usize> {
    match name.to_ascii_uppercase().replace('_', "-").as_str() {
        "MD5" => Some(32),
        "SHA-1" | "SHA1" => Some(40),
        "SHA-256" | "SHA256" | "SHA3-256" => Some(64),
        "SHA-512" | "SHA512" | "SHA3-512" => Some(128),
        "SHA-224" | "SHA3-224" => Some(56),
        "SHA-384" | "SHA3-384" => Some(96),
        _ => None,
    }
}

fn check_hash(object_type: &str, path: &[PathStep], op: &CompOp) -> Result<(), String> {
    let _ = object_type;
    let Some(PathStep::Key(alg)) = path.last() else {
        return Ok(());
    };
    let under_hashes = path.len() >= 2
        && matches!(path.get(path.len() - 2), Some(PathStep::Key(k)) if k == "hashes");
    let Some(len) = hash_len(alg).filter(|_| under_hashes) else {
        return Ok(());
    };
    let values: Vec<&str> = match op {
        CompOp::Eq(Literal::Str(s)) => vec![s.as_str()],
        CompOp::In(items) => items
            .iter()
            .filter_map(|l| match l {
                Literal::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    for v in values {
        if v.len() != len || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("'{v}' is not a valid {alg} hash"));
        }
    }
    Ok(())
}

/// The plain equality observables of a pattern, for indexing: `=` (not negated) on
/// `ipv4-addr:value`, `ipv6-addr:value`, `domain-name:value`, `url:value`, `email-addr:value`
/// and `file:hashes.<MD5|SHA-1|SHA-256>` (any case), collected through OR, AND and every
/// observation operator. Values that don't normalize (a CIDR, a bad hash) are skipped.
pub fn simple_indicators(pattern: &Pattern) -> Vec<Indicator> {
    let mut out = Vec::new();
    collect_obs(&pattern.root, &mut out);
    out.sort();
    out.dedup();
    out
}

fn collect_obs(e: &ObsExpr, out: &mut Vec<Indicator>) {
    match e {
        ObsExpr::Simple(c) => collect_cmp(c, out),
        ObsExpr::And(a, b) | ObsExpr::Or(a, b) | ObsExpr::FollowedBy(a, b) => {
            collect_obs(a, out);
            collect_obs(b, out);
        }
        ObsExpr::Qualified(a, _) => collect_obs(a, out),
    }
}

fn collect_cmp(c: &CompareExpr, out: &mut Vec<Indicator>) {
    match c {
        CompareExpr::And(a, b) | CompareExpr::Or(a, b) => {
            collect_cmp(a, out);
            collect_cmp(b, out);
        }
        CompareExpr::Exists { .. } => {}
        CompareExpr::Test {
            object_type,
            path,
            not,
            neq,
            op,
        } => {
            if *not || *neq {
                return;
            }
            let values: Vec<&str> = match op {
                CompOp::Eq(Literal::Str(s)) => vec![s],
                CompOp::In(items) => items
                    .iter()
                    .filter_map(|l| match l {
                        Literal::Str(s) => Some(s.as_str()),
                        _ => None,
                    })
                    .collect(),
                _ => return,
            };
            let key = |i: usize| match path.get(i) {
                Some(PathStep::Key(k)) => Some(k.as_str()),
                _ => None,
            };
            let kind = match (object_type.as_str(), key(0), path.len()) {
                ("ipv4-addr", Some("value"), 1) => IndicatorKind::Ipv4,
                ("ipv6-addr", Some("value"), 1) => IndicatorKind::Ipv6,
                ("domain-name", Some("value"), 1) => IndicatorKind::Domain,
                ("url", Some("value"), 1) => IndicatorKind::Url,
                ("email-addr", Some("value"), 1) => IndicatorKind::Email,
                ("file", Some("hashes"), 2) => {
                    match key(1).map(|k| k.to_ascii_uppercase().replace(['-', '_'], "")) {
                        Some(k) if k == "MD5" => IndicatorKind::Md5,
                        Some(k) if k == "SHA1" => IndicatorKind::Sha1,
                        Some(k) if k == "SHA256" => IndicatorKind::Sha256,
                        _ => return,
                    }
                }
                _ => return,
            };
            out.extend(values.into_iter().filter_map(|v| Indicator::new(kind, v)));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let t = Timestamp::parse("1970-01-01T00:00:01.5Z").unwrap();
        assert_eq!((t.secs, t.nanos), (1, 500_000_000));
        assert_eq!(
            Timestamp::parse("2014-05-08T09:00:00.000000Z")
                .unwrap()
                .secs,
            1_399_539_600
        );
        assert!(Timestamp::parse("2014-05-08T09:00:00z").is_none());
        assert!(Timestamp::parse("2014-05-08T09:00Z").is_none());
    }

    #[test]
    fn base64() {
        assert_eq!(decode_base64("YWxpY2U=").unwrap(), b"alice");
        assert_eq!(decode_base64("AQIDBA==").unwrap(), [1, 2, 3, 4]);
        assert!(decode_base64("====").is_none());
    }

    #[test]
    fn errors_name_position() {
        let e = Pattern::parse("[file:size = ]").unwrap_err();
        assert_eq!(
            e,
            StixError::Pattern {
                line: 1,
                column: 13,
                message: "mismatched input ']' expecting a literal".into()
            }
        );
    }
}

//! Text decoding: charsets, invalid UTF-8, header unfolding and RFC 2047 encoded words.
//!
//! Nothing here fails: bytes that are not valid in their declared (or assumed UTF-8) charset are
//! decoded with a windows-1252 fallback per invalid byte, which is what raw 8-bit headers and
//! mislabelled bodies almost always are, and never loses a byte. Charset tables and encoded
//! words come from mail-parser (`full_encoding`: ISO-8859-x, windows-125x, KOI8, GB2312/GBK,
//! Big5, Shift-JIS, EUC, ISO-2022-JP, UTF-7/16, ...).

use std::borrow::Cow;

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::parsers::MessageStream;
use mail_parser::HeaderValue;

/// windows-1252 code points for bytes 0x80..=0x9F (the rest of the high half is Latin-1).
const CP1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}',
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
];

fn cp1252_char(b: u8) -> char {
    match b {
        0x80..=0x9F => CP1252_HIGH
            .get(usize::from(b - 0x80))
            .copied()
            .unwrap_or(char::REPLACEMENT_CHARACTER),
        _ => char::from(b),
    }
}

/// UTF-8 where valid; each byte of an invalid sequence decoded as windows-1252.
pub(crate) fn utf8_or_cp1252(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + bytes.len() / 4);
            for chunk in bytes.utf8_chunks() {
                out.push_str(chunk.valid());
                out.extend(chunk.invalid().iter().map(|&b| cp1252_char(b)));
            }
            Cow::Owned(out)
        }
    }
}

fn is_utf8_or_ascii_name(cs: &str) -> bool {
    cs.eq_ignore_ascii_case("utf-8")
        || cs.eq_ignore_ascii_case("utf8")
        || cs.eq_ignore_ascii_case("us-ascii")
        || cs.eq_ignore_ascii_case("ascii")
        || cs.eq_ignore_ascii_case("ansi_x3.4-1968")
}

/// Whether ASCII bytes decode to themselves in this charset (false for UTF-7/16/32 and the
/// escape-based ISO-2022 family, whose ASCII bytes carry other characters).
fn ascii_is_identity(cs: &str, bytes: &[u8]) -> bool {
    let starts = |p: &str| {
        cs.as_bytes()
            .get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p.as_bytes()))
    };
    !(starts("utf-7")
        || starts("utf7")
        || starts("utf-16")
        || starts("utf-32")
        || starts("ucs")
        || starts("unicode")
        || memchr::memchr2(0x1b, 0, bytes).is_some())
}

/// Whether the bytes contain an RFC 2047 encoded-word opener `=?`.
fn has_encoded_word(raw: &[u8]) -> bool {
    memchr::memchr_iter(b'=', raw).any(|i| raw.get(i + 1) == Some(&b'?'))
}

/// Decodes body bytes in a declared charset (unknown or absent: UTF-8 with fallback).
pub(crate) fn decode_charset<'a>(bytes: &'a [u8], charset: Option<&str>) -> Cow<'a, str> {
    let Some(cs) = charset.map(str::trim).filter(|c| !c.is_empty()) else {
        return utf8_or_cp1252(bytes);
    };
    if is_utf8_or_ascii_name(cs) || (bytes.is_ascii() && ascii_is_identity(cs, bytes)) {
        return utf8_or_cp1252(bytes);
    }
    match charset_decoder(cs.as_bytes())
        .or_else(|| charset_alias(cs).and_then(|a| charset_decoder(a.as_bytes())))
    {
        Some(decode) => Cow::Owned(decode(bytes)),
        None => utf8_or_cp1252(bytes),
    }
}

/// Canonical names for charset labels seen in the wild that the tables do not know
/// (`CHINESEBIG5`, `x-sjis`, `windows-1251x`, `iso8859_1`, `"utf8 "`).
fn charset_alias(cs: &str) -> Option<&'static str> {
    let l = cs
        .trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace())
        .to_ascii_lowercase();
    let has = |s: &str| l.contains(s);
    let alias = if has("big5") {
        "big5"
    } else if has("gb18030") {
        "gb18030"
    } else if has("gb2312") || has("gbk") || has("chinese") {
        "gbk"
    } else if has("sjis") || (has("shift") && has("jis")) {
        "shift_jis"
    } else if has("2022") && has("jp") {
        "iso-2022-jp"
    } else if has("euc") && has("jp") {
        "euc-jp"
    } else if (has("euc") && has("kr")) || has("5601") {
        "euc-kr"
    } else if has("koi8") {
        if has("koi8-u") || has("koi8u") {
            "koi8-u"
        } else {
            "koi8-r"
        }
    } else if has("utf") && has("8") {
        "utf-8"
    } else if has("1250") {
        "windows-1250"
    } else if has("1251") {
        "windows-1251"
    } else if has("1252") || has("latin1") || has("latin-1") {
        "windows-1252"
    } else if has("1253") {
        "windows-1253"
    } else if has("1254") {
        "windows-1254"
    } else if has("1255") {
        "windows-1255"
    } else if has("1256") {
        "windows-1256"
    } else if has("1257") {
        "windows-1257"
    } else if has("8859") {
        // iso8859_5, iso_8859-5:1988, ...: the part number follows "8859".
        let tail = l.split("8859").nth(1).unwrap_or("");
        let n: String = tail
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        return match n.as_str() {
            "2" => Some("iso-8859-2"),
            "3" => Some("iso-8859-3"),
            "4" => Some("iso-8859-4"),
            "5" => Some("iso-8859-5"),
            "6" => Some("iso-8859-6"),
            "7" => Some("iso-8859-7"),
            "8" => Some("iso-8859-8"),
            "9" => Some("iso-8859-9"),
            "13" => Some("iso-8859-13"),
            "15" => Some("iso-8859-15"),
            _ => Some("iso-8859-1"),
        };
    } else {
        return None;
    };
    Some(alias)
}

/// Appends `s` to `out` with CRLF and lone CR turned into LF.
pub(crate) fn push_lf_normalized(out: &mut String, s: &str) {
    if !s.contains('\r') {
        out.push_str(s);
        return;
    }
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
}

/// `bytes` with a trailing `\n` (mail-parser's field parsers need the line terminator).
pub(crate) fn with_newline(bytes: &[u8]) -> Cow<'_, [u8]> {
    if bytes.last() == Some(&b'\n') {
        Cow::Borrowed(bytes)
    } else {
        let mut v = Vec::with_capacity(bytes.len() + 1);
        v.extend_from_slice(bytes);
        v.push(b'\n');
        Cow::Owned(v)
    }
}

/// Raw header bytes as text: UTF-8 when valid; else in `charset` (the message's declared body
/// charset, which is what MUAs that write raw 8-bit headers use) when given; else windows-1252
/// per invalid byte.
pub(crate) fn raw_header_str<'a>(raw: &'a [u8], charset: Option<&str>) -> Cow<'a, str> {
    match (std::str::from_utf8(raw), charset) {
        (Ok(s), _) => Cow::Borrowed(s),
        (Err(_), Some(cs)) => decode_charset(raw, Some(cs)),
        (Err(_), None) => utf8_or_cp1252(raw),
    }
}

/// A header value as text: unfolded (continuation lines joined by one space, ends trimmed),
/// RFC 2047 encoded words decoded, invalid UTF-8 decoded as windows-1252.
pub(crate) fn header_text(raw_value: &[u8]) -> String {
    header_text_in(raw_value, None)
}

/// [`header_text`], raw 8-bit bytes read in `charset` (see [`raw_header_str`]).
pub(crate) fn header_text_in(raw_value: &[u8], charset: Option<&str>) -> String {
    if has_encoded_word(raw_value) {
        // Encoded words decode in their own charset; raw 8-bit bytes inside them (seen in the
        // wild) must reach that charset undecoded, so the value goes to mail-parser as it is.
        let bytes = with_newline(raw_value);
        return match MessageStream::new(&bytes).parse_unstructured() {
            HeaderValue::Text(t) => t.into_owned(),
            _ => String::new(),
        };
    }
    let text = raw_header_str(raw_value, charset);
    let trimmed = text.trim_matches([' ', '\t', '\r', '\n']);
    if !trimmed.contains('\n') {
        // One line: nothing to unfold.
        return trimmed.to_owned();
    }
    {
        // No encoded words, so unfolding is all there is to do.
        let mut out = String::with_capacity(text.len());
        for line in text.split('\n') {
            let piece = line.trim_matches([' ', '\t', '\r']);
            if piece.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(piece);
        }
        out
    }
}

/// The bytes of a structured field for mail-parser: as they are when valid UTF-8 or when they
/// hold encoded words (see [`header_text`]), else with invalid bytes decoded as windows-1252.
pub(crate) fn field_bytes<'a>(raw_value: &'a [u8], charset: Option<&str>) -> Cow<'a, [u8]> {
    if has_encoded_word(raw_value) {
        return with_newline(raw_value);
    }
    match raw_header_str(raw_value, charset) {
        Cow::Borrowed(_) => with_newline(raw_value),
        Cow::Owned(s) => {
            let mut v = s.into_bytes();
            if v.last() != Some(&b'\n') {
                v.push(b'\n');
            }
            Cow::Owned(v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_falls_back_per_byte() {
        assert_eq!(utf8_or_cp1252(b"caf\xe9 \x93ok\x94"), "café “ok”");
        assert_eq!(utf8_or_cp1252("déjà".as_bytes()), "déjà");
        assert!(matches!(utf8_or_cp1252(b"plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn charsets() {
        assert_eq!(decode_charset(b"caf\xe9", Some("ISO-8859-1")), "café");
        assert_eq!(decode_charset(b"\xf0\xd2\xc9", Some("koi8-r")), "При");
        assert_eq!(decode_charset(b"\x93x\x94", Some("windows-1252")), "“x”");
        assert_eq!(decode_charset(b"\xc4\xe3\xba\xc3", Some("gb2312")), "你好");
        assert_eq!(
            decode_charset(b"\x1b$B$3$s$K$A$O\x1b(B", Some("iso-2022-jp")),
            "こんにちは"
        );
        assert_eq!(decode_charset(b"x\xffy", Some("no-such-charset")), "xÿy");
        assert_eq!(decode_charset(b"x\xffy", Some("utf-8")), "xÿy");
        // Labels the tables do not know, mapped by alias.
        assert_eq!(decode_charset(b"\xa7\x41", Some("CHINESEBIG5")), "你");
        assert_eq!(decode_charset(b"caf\xe9", Some("iso8859_1")), "café");
    }

    #[test]
    fn header_unfolding_and_encoded_words() {
        assert_eq!(header_text(b" a\r\n   b \r\n"), "a b");
        assert_eq!(header_text(b" one line"), "one line");
        assert_eq!(
            header_text(b" =?ISO-8859-1?Q?Caf=E9?= au =?UTF-8?B?bGFpdA==?=\n"),
            "Café au lait"
        );
        assert_eq!(header_text(b" \xa3100 prize\n"), "£100 prize");
        assert_eq!(header_text(b"\n"), "");
        // Raw GB2312 in a header of a message declaring charset=gb2312.
        assert_eq!(
            header_text_in(b" \xc4\xe3\xba\xc3\n", Some("gb2312")),
            "你好"
        );
        // Raw 8-bit inside an encoded word belongs to the word's charset.
        assert_eq!(
            header_text(b" =?iso-8859-1?Q?Die_Fr\xf6sche?=\r\n"),
            "Die Fr\u{f6}sche"
        );
    }

    #[test]
    fn newline_normalization() {
        let mut s = String::new();
        push_lf_normalized(&mut s, "a\r\nb\rc\n");
        assert_eq!(s, "a\nb\nc\n");
    }
}

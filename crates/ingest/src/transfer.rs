//! Content-Transfer-Encoding decoders (base64, quoted-printable), lenient by design.
//!
//! We decode a part's bytes after its extent is known rather than using mail-parser's
//! boundary-aware stream decoders: those are tied to its own MIME walk, and its quoted-printable
//! one overflows an index on `=\n--boundary` (a debug-build panic).

/// The transfer encoding of a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum TransferEncoding {
    /// 7bit, 8bit, binary or anything unknown: the bytes are the content.
    #[default]
    Identity,
    /// base64.
    Base64,
    /// quoted-printable.
    QuotedPrintable,
}

impl TransferEncoding {
    pub(crate) fn from_header(value: &str) -> Self {
        let v = value.trim();
        if v.eq_ignore_ascii_case("base64") {
            TransferEncoding::Base64
        } else if v.eq_ignore_ascii_case("quoted-printable") {
            TransferEncoding::QuotedPrintable
        } else {
            TransferEncoding::Identity
        }
    }
}

const INVALID: u8 = 0xff;
const SKIP: u8 = 0xfe;
const PAD: u8 = 0xfd;

const fn base64_table() -> [u8; 256] {
    let mut t = [INVALID; 256];
    let mut i = 0u8;
    while i < 26 {
        t[(b'A' + i) as usize] = i;
        t[(b'a' + i) as usize] = 26 + i;
        i += 1;
    }
    let mut d = 0u8;
    while d < 10 {
        t[(b'0' + d) as usize] = 52 + d;
        d += 1;
    }
    t[b'+' as usize] = 62;
    t[b'/' as usize] = 63;
    t[b' ' as usize] = SKIP;
    t[b'\t' as usize] = SKIP;
    t[b'\r' as usize] = SKIP;
    t[b'\n' as usize] = SKIP;
    t[b'=' as usize] = PAD;
    t
}

static BASE64: [u8; 256] = base64_table();

/// Decodes base64, skipping whitespace and stray characters and tolerating missing padding and
/// concatenated padded blocks. Returns `None` when the input is not base64 at all (more than 1
/// in 20 non-whitespace characters invalid), e.g. a plain-text body mislabelled as base64.
pub(crate) fn decode_base64(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let mut acc: u32 = 0;
    let mut n = 0u8;
    let mut invalid = 0usize;
    let mut significant = 0usize;
    for &b in input {
        // `BASE64` has 256 entries, so indexing by a byte cannot fail.
        let v = BASE64[usize::from(b)];
        match v {
            SKIP => continue,
            PAD => {
                significant += 1;
                flush_partial(&mut out, acc, n);
                acc = 0;
                n = 0;
            }
            INVALID => {
                significant += 1;
                invalid += 1;
            }
            _ => {
                significant += 1;
                acc = (acc << 6) | u32::from(v);
                n += 1;
                if n == 4 {
                    out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
                    acc = 0;
                    n = 0;
                }
            }
        }
    }
    flush_partial(&mut out, acc, n);
    if invalid * 20 > significant {
        return None;
    }
    Some(out)
}

fn flush_partial(out: &mut Vec<u8>, acc: u32, n: u8) {
    match n {
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => {}
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Decodes quoted-printable: `=XX` escapes, soft line breaks (`=` before the line end, trailing
/// blanks allowed), trailing whitespace on encoded lines dropped; a `=` that starts neither is
/// kept literally. Hard line breaks are copied as written (CRLF or LF).
pub(crate) fn decode_quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    // Literal blanks at the end of `out` since the last non-blank: dropped at a line end.
    let mut trailing_ws = 0usize;
    let mut i = 0usize;
    while let Some(&b) = input.get(i) {
        match b {
            b'=' => {
                let hi = input.get(i + 1).copied().and_then(hex_val);
                let lo = input.get(i + 2).copied().and_then(hex_val);
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(hi << 4 | lo);
                    trailing_ws = 0;
                    i += 3;
                    continue;
                }
                // Soft line break: `=`, optional blanks, then CRLF / LF / end of input.
                let mut j = i + 1;
                while matches!(input.get(j), Some(b' ' | b'\t')) {
                    j += 1;
                }
                match input.get(j) {
                    None => {
                        i = j;
                    }
                    Some(b'\n') => {
                        i = j + 1;
                    }
                    Some(b'\r') if input.get(j + 1) == Some(&b'\n') => {
                        i = j + 2;
                    }
                    _ => {
                        out.push(b'=');
                        trailing_ws = 0;
                        i += 1;
                    }
                }
            }
            b'\r' if input.get(i + 1) == Some(&b'\n') => {
                out.truncate(out.len().saturating_sub(trailing_ws));
                trailing_ws = 0;
                out.extend_from_slice(b"\r\n");
                i += 2;
            }
            b'\n' => {
                out.truncate(out.len().saturating_sub(trailing_ws));
                trailing_ws = 0;
                out.push(b'\n');
                i += 1;
            }
            b' ' | b'\t' => {
                out.push(b);
                trailing_ws += 1;
                i += 1;
            }
            _ => {
                out.push(b);
                trailing_ws = 0;
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_lenient() {
        assert_eq!(decode_base64(b"aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(
            decode_base64(b"aGVs\r\nbG8gd29y\nbGQ").as_deref(),
            Some(&b"hello world"[..])
        );
        // Two padded blocks back to back.
        assert_eq!(decode_base64(b"aGk=aGk=").as_deref(), Some(&b"hihi"[..]));
        assert_eq!(decode_base64(b"").as_deref(), Some(&b""[..]));
        // Plain text mislabelled as base64.
        assert_eq!(
            decode_base64(b"Dear customer, your account is locked."),
            None
        );
    }

    #[test]
    fn quoted_printable_rules() {
        assert_eq!(decode_quoted_printable(b"caf=E9 =3D ok"), b"caf\xe9 = ok");
        assert_eq!(decode_quoted_printable(b"soft=\r\nbreak"), b"softbreak");
        assert_eq!(decode_quoted_printable(b"soft= \nbreak"), b"softbreak");
        assert_eq!(decode_quoted_printable(b"trail   \nx=20\n"), b"trail\nx \n");
        assert_eq!(decode_quoted_printable(b"a=zz b=\n"), b"a=zz b");
        // The mail-parser 0.11 overflow case decodes to nothing, without panicking.
        assert_eq!(decode_quoted_printable(b"=\n"), b"");
        assert_eq!(decode_quoted_printable(b"="), b"");
    }
}

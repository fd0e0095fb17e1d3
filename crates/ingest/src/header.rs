//! Header blocks: splitting a block into fields, and reading the fields ingest needs
//! (addresses, MIME `Content-*` fields, ids).
//!
//! The split is ours (one pass, bounded by [`crate::Limits::max_headers`] before anything is
//! allocated per field); the grammar of individual fields (addresses, `Content-Type` parameters
//! with RFC 2231 continuations, encoded words) is mail-parser's.

use mail_parser::parsers::MessageStream;
use mail_parser::HeaderValue;
use memchr::memchr;
use shrike_types::Mailbox;

use crate::error::IngestError;
use crate::text::{field_bytes, header_text};
use crate::transfer::TransferEncoding;

/// One header field as written: the name before the colon (trimmed) and the raw value after it,
/// continuation lines and the final line terminator included.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeaderField<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) value: &'a [u8],
}

fn trim_ascii_ws(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

fn is_blank(s: &[u8]) -> bool {
    s.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

/// Whether `line` (no terminator) is a `Name: value` header field: a name of printable ASCII
/// without blanks, then optional blanks (as in `Fro :`), then a colon. Prose such as a license's
/// `THIS SOFTWARE IS ... LICENSE:` is not.
pub(crate) fn looks_like_field(line: &[u8]) -> bool {
    let Some(colon) = memchr(b':', line) else {
        return false;
    };
    let name = line.get(..colon).unwrap_or_default().trim_ascii_end();
    !name.is_empty() && name.len() <= 256 && name.iter().all(u8::is_ascii_graphic)
}

/// Splits the header block at the start of `data` into `out` (cleared first) and returns the
/// offset where the body starts (after the empty line; `data.len()` when there is none).
///
/// Lines without a colon are skipped, as mail-parser does; a first line that is blank ends the
/// (empty) block. More than `max_headers` fields is an error, raised before the block is read
/// further.
pub(crate) fn split_header_block<'a>(
    data: &'a [u8],
    max_headers: usize,
    out: &mut Vec<HeaderField<'a>>,
) -> Result<usize, IngestError> {
    out.clear();
    let mut pos = 0usize;
    // Start of the value of the field being read, while continuation lines may extend it.
    let mut value_start: Option<usize> = None;
    while pos < data.len() {
        let next =
            memchr(b'\n', data.get(pos..).unwrap_or_default()).map_or(data.len(), |i| pos + i + 1);
        let line = data.get(pos..next).unwrap_or_default();
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() {
            return Ok(next);
        }
        if matches!(content.first(), Some(b' ' | b'\t')) {
            if let (Some(start), Some(last)) = (value_start, out.last_mut()) {
                last.value = data.get(start..next).unwrap_or_default();
                pos = next;
                continue;
            }
            if out.is_empty() && is_blank(content) {
                return Ok(next);
            }
        }
        value_start = None;
        if let Some(colon) = memchr(b':', content) {
            let name = trim_ascii_ws(content.get(..colon).unwrap_or_default());
            if !name.is_empty() {
                if out.len() >= max_headers {
                    return Err(IngestError::TooManyHeaders { limit: max_headers });
                }
                let start = pos + colon + 1;
                out.push(HeaderField {
                    name,
                    value: data.get(start..next).unwrap_or_default(),
                });
                value_start = Some(start);
            }
        }
        pos = next;
    }
    Ok(data.len())
}

/// Longest `Content-Type` / `Content-Disposition` value handed to mail-parser. Real ones are
/// under 1 KiB; mail-parser merges RFC 2231 continuations (`name*0=...; name*1=...`) in
/// quadratic time (measured: 16,000 continuations, 0.9 MB, take 0.1 s; a 32 MiB header would
/// take minutes), so the rest of an oversized value is not read.
const MAX_MIME_FIELD_BYTES: usize = 16 * 1024;

fn capped(value: &[u8]) -> &[u8] {
    value.get(..MAX_MIME_FIELD_BYTES).unwrap_or(value)
}

/// The first word of a MIME type or disposition, lower-case.
fn first_token(s: &str) -> Option<String> {
    s.split(|c: char| c.is_whitespace() || c == ';')
        .find(|t| !t.is_empty())
        .map(str::to_ascii_lowercase)
}

/// The MIME fields of one part.
#[derive(Debug, Default)]
pub(crate) struct PartInfo {
    /// `Content-Type` type, lower-case (`None`: no or unreadable field).
    pub(crate) ctype: Option<String>,
    /// `Content-Type` subtype, lower-case.
    pub(crate) subtype: Option<String>,
    pub(crate) boundary: Option<Vec<u8>>,
    pub(crate) charset: Option<String>,
    /// `Content-Type` `name` parameter.
    pub(crate) ct_name: Option<String>,
    /// `Content-Disposition` type, lower-case.
    pub(crate) disposition: Option<String>,
    pub(crate) filename: Option<String>,
    pub(crate) encoding: TransferEncoding,
}

impl PartInfo {
    /// Reads the first `Content-Type`, `Content-Disposition` and `Content-Transfer-Encoding`.
    pub(crate) fn from_fields(fields: &[HeaderField<'_>]) -> PartInfo {
        let mut info = PartInfo::default();
        let (mut seen_ct, mut seen_cd, mut seen_cte) = (false, false, false);
        for f in fields {
            if !seen_ct && f.name.eq_ignore_ascii_case(b"content-type") {
                seen_ct = true;
                info.apply_content_type(f.value);
            } else if !seen_cd && f.name.eq_ignore_ascii_case(b"content-disposition") {
                seen_cd = true;
                info.apply_disposition(f.value);
            } else if !seen_cte && f.name.eq_ignore_ascii_case(b"content-transfer-encoding") {
                seen_cte = true;
                info.encoding = TransferEncoding::from_header(&header_text(f.value));
            }
        }
        info
    }

    pub(crate) fn apply_content_type(&mut self, value: &[u8]) {
        let bytes = field_bytes(capped(value), None);
        if let HeaderValue::ContentType(ct) = MessageStream::new(&bytes).parse_content_type() {
            // `text/plain charset=us-ascii` (no `;`) reaches us as subtype `plain charset=...`.
            self.ctype = first_token(ct.ctype());
            self.subtype = ct.subtype().and_then(first_token);
            // RFC 2046 allows 70 bytes; far longer ones only make delimiter matching costly.
            self.boundary = ct
                .attribute("boundary")
                .map(|b| b.as_bytes().to_vec())
                .filter(|b| !b.is_empty() && b.len() <= 1000);
            self.charset = ct.attribute("charset").map(str::to_owned);
            self.ct_name = ct
                .attribute("name")
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty());
        }
    }

    fn apply_disposition(&mut self, value: &[u8]) {
        let bytes = field_bytes(capped(value), None);
        if let HeaderValue::ContentType(cd) = MessageStream::new(&bytes).parse_content_type() {
            self.disposition = first_token(cd.ctype());
            self.filename = cd
                .attribute("filename")
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty());
        }
    }

    /// The file name: `Content-Disposition` `filename`, else `Content-Type` `name`.
    pub(crate) fn file_name(&self) -> Option<String> {
        self.filename.clone().or_else(|| self.ct_name.clone())
    }
}

/// The mailboxes of an address field (groups flattened; empty entries dropped).
pub(crate) fn mailboxes(value: &[u8]) -> Vec<Mailbox> {
    mailboxes_in(value, None)
}

/// [`mailboxes`], raw 8-bit bytes read in `charset` (see [`crate::text::raw_header_str`]).
pub(crate) fn mailboxes_in(value: &[u8], charset: Option<&str>) -> Vec<Mailbox> {
    let bytes = field_bytes(value, charset);
    match MessageStream::new(&bytes).parse_address() {
        HeaderValue::Address(a) => a
            .into_list()
            .into_iter()
            .filter_map(|addr| {
                let name = addr
                    .name
                    .map(|n| n.trim().to_owned())
                    .filter(|n| !n.is_empty());
                let address = addr
                    .address
                    .map(|a| a.trim().to_owned())
                    .unwrap_or_default();
                (name.is_some() || !address.is_empty()).then_some(Mailbox { name, address })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The first `<...>` of a value (or the whole trimmed value without brackets); `None` when empty
/// (`Return-Path: <>`).
pub(crate) fn angle_content(text: &str) -> Option<String> {
    let t = text.trim();
    let inner = match t.find('<') {
        Some(open) => {
            let after = t.get(open + 1..).unwrap_or_default();
            match after.find('>') {
                Some(close) => after.get(..close).unwrap_or(after),
                None => after,
            }
        }
        None => t,
    };
    let inner = inner.trim();
    (!inner.is_empty()).then(|| inner.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(data: &[u8]) -> (Vec<(String, String)>, usize) {
        let mut out = Vec::new();
        let body = split_header_block(data, 100, &mut out).unwrap_or(usize::MAX);
        let fields = out
            .iter()
            .map(|f| {
                (
                    String::from_utf8_lossy(f.name).into_owned(),
                    String::from_utf8_lossy(f.value).into_owned(),
                )
            })
            .collect();
        (fields, body)
    }

    #[test]
    fn splits_fields_continuations_and_body() {
        let (f, body) = split(b"Subject: a\r\n  b\r\nX-Y : z\r\njunk line\r\n\r\nbody");
        assert_eq!(
            f,
            vec![
                ("Subject".to_owned(), " a\r\n  b\r\n".to_owned()),
                ("X-Y".to_owned(), " z\r\n".to_owned())
            ]
        );
        assert_eq!(body, 39);
        let (f, body) = split(b"A: 1");
        assert_eq!(f, vec![("A".to_owned(), " 1".to_owned())]);
        assert_eq!(body, 4);
    }

    #[test]
    fn header_limit_is_enforced() {
        let block = "X: 1\n".repeat(5);
        let mut out = Vec::new();
        assert!(matches!(
            split_header_block(block.as_bytes(), 4, &mut out),
            Err(IngestError::TooManyHeaders { limit: 4 })
        ));
        assert!(split_header_block(block.as_bytes(), 5, &mut out).is_ok());
        assert_eq!(out.len(), 5);
    }

    #[test]
    fn field_line_detection() {
        assert!(looks_like_field(b"Return-Path: <a@b>"));
        assert!(looks_like_field(b"Fro : x"));
        assert!(!looks_like_field(b"\x89PNG\r"));
        assert!(!looks_like_field(b"hello world"));
        assert!(!looks_like_field(b": no name"));
        assert!(!looks_like_field(
            b"THIS SOFTWARE IS DISTRIBUTED UNDER THE FOLLOWING LICENSE:"
        ));
        assert!(!looks_like_field(b" Subject: indented"));
    }

    #[test]
    fn mime_fields() {
        let mut out = Vec::new();
        let block = b"Content-Type: Multipart/Mixed; BOUNDARY=\"=_b1\"\nContent-Disposition: attachment;\n filename*=utf-8''%E2%82%AC.pdf\nContent-Transfer-Encoding: Base64\n\n";
        assert!(split_header_block(block, 10, &mut out).is_ok());
        let info = PartInfo::from_fields(&out);
        assert_eq!(info.ctype.as_deref(), Some("multipart"));
        assert_eq!(info.subtype.as_deref(), Some("mixed"));
        assert_eq!(info.boundary.as_deref(), Some(&b"=_b1"[..]));
        assert_eq!(info.disposition.as_deref(), Some("attachment"));
        assert_eq!(info.file_name().as_deref(), Some("€.pdf"));
        assert_eq!(info.encoding, TransferEncoding::Base64);
    }

    #[test]
    fn addresses_and_ids() {
        let m = mailboxes(
            b" \"Doe, John\" <john@x.com>, =?utf-8?B?w6k=?= <e@x>, undisclosed-recipients:;\r\n",
        );
        assert_eq!(
            m,
            vec![
                Mailbox {
                    name: Some("Doe, John".into()),
                    address: "john@x.com".into()
                },
                Mailbox {
                    name: Some("é".into()),
                    address: "e@x".into()
                },
            ]
        );
        assert_eq!(angle_content(" <abc@x> (comment)"), Some("abc@x".into()));
        assert_eq!(angle_content("<>"), None);
        assert_eq!(angle_content("bare@x"), Some("bare@x".into()));
    }
}

//! One raw RFC 5322 / MIME message into an [`EmailRecord`].
//!
//! The MIME tree is walked here, iteratively, with an explicit stack of open multiparts, so
//! depth, part count and header count are checked as the walk goes and nothing recurses on the
//! input. mail-parser is used for field grammar and charsets only, not for its whole-message
//! `parse`: that one keeps nested `message/rfc822` parts as nested structures, and (measured,
//! 0.11.9, debug build) 100,000 nested `message/rfc822` levels overflow the stack when the result
//! is dropped, a base64 `message/rfc822` wrapping 10,000 levels overflows it while parsing, and
//! 1,000,000 tiny parts in 7 MB take 177 MB. Multipart nesting alone is iterative there too.
//!
//! Decisions:
//! - Attached `message/rfc822` parts are attachments (hashed as they are), never merged or
//!   parsed: their bodies are someone else's mail.
//! - A `text/plain` / `text/html` leaf is body text unless it is `Content-Disposition:
//!   attachment` or carries a file name (the top-level part is body text even when named);
//!   other leaves are attachments.
//! - Boundary delimiters must start a line and be followed only by `--` or blanks (RFC 2046);
//!   a delimiter of an enclosing multipart also ends the inner ones (unterminated multiparts).
//! - A multipart whose boundary never appears is read as a text body.
//! - Whitespace-only text parts mark the body as present but add nothing to it.

use std::borrow::Cow;
use std::path::Path;

use memchr::{memchr, memmem};
use shrike_types::{Attachment, EmailRecord, RecordOrigin};

use crate::attachment::describe;
use crate::auth::{apply_authentication_results, apply_received_spf};
use crate::date::{from_line_date, is_plausible, parse_mail_date};
use crate::error::IngestError;
use crate::header::{
    angle_content, looks_like_field, mailboxes_in, split_header_block, HeaderField, PartInfo,
};
use crate::options::Limits;
use crate::text::{decode_charset, header_text_in, push_lf_normalized, utf8_or_cp1252};
use crate::transfer::{decode_base64, decode_quoted_printable, TransferEncoding};

/// Parses one RFC 5322 message (a leading mbox `From ` line is allowed and used as a date
/// fallback). `origin` is stored in the record and gives its default id (the archive member or
/// file name, `#N` for the Nth message of a stream).
///
/// # Errors
/// `message_too_large`, `empty`, `not_an_email`, `mime_too_deep`, `too_many_parts`,
/// `too_many_headers`, and `parser_panic` if a dependency panics (caught; a bug to report).
pub fn parse_message(
    raw: &[u8],
    origin: RecordOrigin,
    limits: &Limits,
) -> Result<EmailRecord, IngestError> {
    if raw.len() > limits.max_message_bytes {
        return Err(IngestError::MessageTooLarge {
            size: raw.len() as u64,
            limit: limits.max_message_bytes,
            size_is_exact: true,
        });
    }
    // mail-parser is third-party code on hostile bytes; a panic there must not take the stream
    // down. Our own code does not panic on input (no unwrap/indexing), this is the backstop.
    let parsed = std::panic::catch_unwind(|| parse_inner(raw, limits));
    match parsed {
        Ok(Ok(mut rec)) => {
            rec.id = default_id(&origin);
            rec.origin = origin;
            Ok(rec)
        }
        Ok(Err(e)) => Err(e),
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_owned());
            Err(IngestError::ParserPanic(what))
        }
    }
}

/// The default record id for an origin: the archive member, else the file name, plus `#N`.
pub(crate) fn default_id(origin: &RecordOrigin) -> String {
    let base = match &origin.member {
        Some(m) => m.clone(),
        None => Path::new(&origin.path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| origin.path.clone()),
    };
    match origin.index {
        Some(i) => format!("{base}#{i}"),
        None => base,
    }
}

/// The end of the line starting at `pos` (after its `\n`, or the end of `data`).
fn line_end(data: &[u8], pos: usize) -> usize {
    memchr(b'\n', data.get(pos..).unwrap_or_default()).map_or(data.len(), |i| pos + i + 1)
}

fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Mac-style files use a lone CR as the line end; everything downstream splits on LF.
fn normalize_cr_only(raw: &[u8]) -> Cow<'_, [u8]> {
    let head = raw.get(..4096).unwrap_or(raw);
    if memchr(b'\n', head).is_some() || memchr(b'\r', head).is_none() {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut iter = raw.iter().peekable();
    while let Some(&b) = iter.next() {
        if b == b'\r' && iter.peek() != Some(&&b'\n') {
            out.push(b'\n');
        } else {
            out.push(b);
        }
    }
    Cow::Owned(out)
}

fn parse_inner(raw: &[u8], limits: &Limits) -> Result<EmailRecord, IngestError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::Empty);
    }
    let data = normalize_cr_only(raw);
    let data: &[u8] = &data;

    // Blank lines, then an optional mbox `From ` line (its date is a fallback), then headers.
    let mut start = 0usize;
    let mut envelope_date = None;
    loop {
        let next = line_end(data, start);
        let line = strip_eol(data.get(start..next).unwrap_or_default());
        if next < data.len() && line.iter().all(u8::is_ascii_whitespace) {
            start = next;
        } else if envelope_date.is_none() && line.starts_with(b"From ") {
            envelope_date = Some(from_line_date(line));
            start = next;
        } else {
            break;
        }
    }
    let msg = data.get(start..).unwrap_or_default();
    if msg.iter().all(u8::is_ascii_whitespace) {
        // Only an mbox `From ` line: an envelope without a message.
        return Err(IngestError::Empty);
    }
    let first_line = strip_eol(msg.get(..line_end(msg, 0)).unwrap_or_default());
    if !looks_like_field(first_line) {
        return Err(IngestError::NotAnEmail(
            "no header block: the first line is not a `Name: value` header field".to_owned(),
        ));
    }

    let mut fields = Vec::with_capacity(48);
    let body_start = split_header_block(msg, limits.max_headers, &mut fields)?;
    let mut rec = EmailRecord {
        raw_size: raw.len() as u64,
        ..EmailRecord::default()
    };
    let top = read_top_fields(&fields, &mut rec, envelope_date.flatten());

    let mut body = Body::default();
    walk(msg, body_start, top, limits, &mut body)?;
    rec.body_text = body.has_text.then_some(body.text);
    rec.body_html = body.has_html.then_some(body.html);
    rec.attachments = body.attachments;
    rec.mime_depth = body.max_depth;
    Ok(rec)
}

/// How far a `Date` may run ahead of the transport date (clock skew).
const DATE_AHEAD_SECS: i64 = 86_400;
/// How far a `Date` may lag behind the transport date (queues, slow relays).
const DATE_BEHIND_SECS: i64 = 30 * 86_400;

/// Fills the header-derived fields of `rec`; returns the top-level part's MIME fields.
fn read_top_fields(
    fields: &[HeaderField<'_>],
    rec: &mut EmailRecord,
    envelope_date: Option<i64>,
) -> PartInfo {
    let mut header_date: Option<i64> = None;
    let mut seen_date = false;
    let mut seen_ar = false;
    let mut seen_rspf = false;
    let mut received: Vec<usize> = Vec::new();
    let top = PartInfo::from_fields(fields);
    let cs = top.charset.as_deref();
    rec.headers.reserve(fields.len());
    for f in fields {
        let name = utf8_or_cp1252(f.name).into_owned();
        let value = header_text_in(f.value, cs);
        let n = f.name;
        if n.eq_ignore_ascii_case(b"from") {
            if rec.from.is_none() {
                rec.from = mailboxes_in(f.value, cs).into_iter().next();
            }
        } else if n.eq_ignore_ascii_case(b"to") {
            rec.to.extend(mailboxes_in(f.value, cs));
        } else if n.eq_ignore_ascii_case(b"cc") {
            rec.cc.extend(mailboxes_in(f.value, cs));
        } else if n.eq_ignore_ascii_case(b"reply-to") {
            rec.reply_to.extend(mailboxes_in(f.value, cs));
        } else if n.eq_ignore_ascii_case(b"return-path") {
            if rec.return_path.is_none() {
                rec.return_path = angle_content(&value);
            }
        } else if n.eq_ignore_ascii_case(b"subject") {
            if rec.subject.is_none() {
                rec.subject = Some(value.clone());
            }
        } else if n.eq_ignore_ascii_case(b"message-id") {
            if rec.message_id.is_none() {
                rec.message_id = angle_content(&value);
            }
        } else if n.eq_ignore_ascii_case(b"date") {
            if !seen_date {
                seen_date = true;
                header_date = parse_mail_date(&value);
            }
        } else if n.eq_ignore_ascii_case(b"received") {
            received.push(rec.headers.len());
        } else if n.eq_ignore_ascii_case(b"authentication-results") {
            if !seen_ar {
                seen_ar = true;
                apply_authentication_results(&value, &mut rec.auth);
            }
        } else if n.eq_ignore_ascii_case(b"received-spf") && !seen_rspf {
            seen_rspf = true;
            // Applied after the loop: Authentication-Results wins wherever it sits.
        }
        rec.headers.push((name, value));
    }
    if seen_rspf {
        if let Some((_, v)) = rec
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("received-spf"))
        {
            apply_received_spf(v, &mut rec.auth);
        }
    }
    // Transport dates: the mbox envelope, else the newest `Received` stamp (after its last `;`).
    let transport = envelope_date.filter(|t| is_plausible(*t)).or_else(|| {
        received
            .iter()
            .filter_map(|&i| rec.headers.get(i))
            .filter_map(|(_, v)| v.rsplit_once(';').and_then(|(_, d)| parse_mail_date(d)))
            .filter(|t| is_plausible(*t))
            .max()
    });
    rec.date = match (header_date.filter(|t| is_plausible(*t)), transport) {
        // The sender's clock is believed within a window around delivery; outside it (a forged
        // 2031, a 2000 written by a broken clock in 2002 mail) delivery time is the better date.
        (Some(d), Some(t)) if d > t + DATE_AHEAD_SECS || d < t - DATE_BEHIND_SECS => Some(t),
        (Some(d), _) => Some(d),
        (None, t) => t,
    };
    top
}

/// Bodies and attachments collected during the walk.
#[derive(Default)]
struct Body {
    text: String,
    html: String,
    has_text: bool,
    has_html: bool,
    attachments: Vec<Attachment>,
    max_depth: u32,
}

/// The kind of a multipart, as far as the walk cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Multi {
    Digest,
    Other,
}

/// An open multipart.
struct Frame {
    boundary: Vec<u8>,
    kind: Multi,
    depth: u32,
}

/// A boundary delimiter line.
#[derive(Debug, Clone, Copy)]
struct Delim {
    /// End of the content before it (the line break before the delimiter belongs to it).
    content_end: usize,
    /// Start of the line after it.
    next: usize,
    /// Index in the stack of the multipart it belongs to.
    level: usize,
    /// `--boundary--`.
    close: bool,
}

/// The first delimiter of any open multipart at or after `from` (innermost boundary wins when
/// several match the same line).
fn find_delimiter(data: &[u8], from: usize, stack: &[Frame]) -> Option<Delim> {
    if stack.is_empty() {
        return None;
    }
    let tail = data.get(from..)?;
    let at_line_start = from == 0 || data.get(from - 1) == Some(&b'\n');
    let first = (at_line_start && tail.starts_with(b"--")).then_some(from);
    let rest = memmem::find_iter(tail, b"\n--").map(|i| from + i + 1);
    for p in first.into_iter().chain(rest) {
        let after_dashes = data.get(p + 2..).unwrap_or_default();
        for (level, frame) in stack.iter().enumerate().rev() {
            if !after_dashes.starts_with(&frame.boundary) {
                continue;
            }
            let after = p + 2 + frame.boundary.len();
            let rest_of_line = data.get(after..).unwrap_or_default();
            let close = rest_of_line.starts_with(b"--");
            let next = line_end(data, after);
            if !close
                && !data
                    .get(after..next)
                    .unwrap_or_default()
                    .iter()
                    .all(u8::is_ascii_whitespace)
            {
                // `--boundaryX`: a longer boundary, not this one.
                continue;
            }
            let mut content_end = p.saturating_sub(1).max(from);
            if content_end > from && data.get(content_end - 1) == Some(&b'\r') {
                content_end -= 1;
            }
            return Some(Delim {
                content_end,
                next,
                level,
                close,
            });
        }
    }
    None
}

/// Where the walk goes after a delimiter.
enum Next {
    /// Headers of a new part start at `header_start`; it sits at `depth` inside a `parent`.
    Part {
        header_start: usize,
        depth: u32,
        parent: Multi,
    },
    Done,
}

/// Follows delimiters: a close delimiter ends its multipart and the search continues in the
/// parent (skipping the epilogue); an open one starts a new part.
fn resolve(mut delim: Option<Delim>, stack: &mut Vec<Frame>, data: &[u8]) -> Next {
    loop {
        let Some(d) = delim else {
            return Next::Done;
        };
        stack.truncate(d.level + 1);
        if !d.close {
            return match stack.last() {
                Some(f) => Next::Part {
                    header_start: d.next,
                    depth: f.depth + 1,
                    parent: f.kind,
                },
                None => Next::Done,
            };
        }
        stack.pop();
        if stack.is_empty() {
            return Next::Done;
        }
        delim = find_delimiter(data, d.next, stack);
    }
}

fn walk(
    msg: &[u8],
    body_start: usize,
    top: PartInfo,
    limits: &Limits,
    body: &mut Body,
) -> Result<(), IngestError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut fields: Vec<HeaderField<'_>> = Vec::new();
    let mut info = top;
    let mut pos = body_start;
    let mut depth = 1u32;
    let mut parent: Option<Multi> = None;
    let mut parts = 1usize;
    // The delimiter that ends the current part's region (computed before it was opened).
    let mut region_end: Option<Delim> = None;
    loop {
        body.max_depth = body.max_depth.max(depth);
        let multipart_boundary = if info.ctype.as_deref() == Some("multipart") {
            info.boundary.take()
        } else {
            None
        };
        let mut first_delim = None;
        if let Some(boundary) = multipart_boundary {
            if depth >= limits.max_mime_depth {
                return Err(IngestError::MimeTooDeep {
                    limit: limits.max_mime_depth,
                });
            }
            let kind = if info.subtype.as_deref() == Some("digest") {
                Multi::Digest
            } else {
                Multi::Other
            };
            stack.push(Frame {
                boundary,
                kind,
                depth,
            });
            // Skips the preamble; an enclosing delimiter first means this one is empty.
            first_delim = find_delimiter(msg, pos, &stack);
            if first_delim.is_none() {
                // Its boundary never appears: read the part as text instead.
                stack.pop();
                info.subtype = None;
            }
        }
        let after = match first_delim {
            Some(d) => Some(d),
            None => {
                let end = region_end.map_or(msg.len(), |d| d.content_end).max(pos);
                let content = msg.get(pos..end).unwrap_or_default();
                body.leaf(&info, content, parent, parts == 1);
                region_end
            }
        };
        match resolve(after, &mut stack, msg) {
            Next::Done => return Ok(()),
            Next::Part {
                header_start,
                depth: d,
                parent: p,
            } => {
                parts += 1;
                if parts > limits.max_parts {
                    return Err(IngestError::TooManyParts {
                        limit: limits.max_parts,
                    });
                }
                region_end = find_delimiter(msg, header_start, &stack);
                let end = region_end
                    .map_or(msg.len(), |d| d.content_end)
                    .max(header_start);
                let block = msg.get(header_start..end).unwrap_or_default();
                let consumed = split_header_block(block, limits.max_headers, &mut fields)?;
                info = PartInfo::from_fields(&fields);
                pos = header_start + consumed;
                depth = d;
                parent = Some(p);
            }
        }
    }
}

impl Body {
    /// Files one leaf part under the text body, the HTML body or the attachments.
    fn leaf(&mut self, info: &PartInfo, content: &[u8], parent: Option<Multi>, is_top: bool) {
        let decoded: Cow<'_, [u8]> = match info.encoding {
            TransferEncoding::Identity => Cow::Borrowed(content),
            // Not base64 after all (plain text labelled base64): keep the bytes as they are.
            TransferEncoding::Base64 => {
                decode_base64(content).map_or(Cow::Borrowed(content), Cow::Owned)
            }
            TransferEncoding::QuotedPrintable => Cow::Owned(decode_quoted_printable(content)),
        };
        let (ctype, subtype) = match (&info.ctype, &info.subtype) {
            (Some(t), s) if t != "multipart" => (t.as_str(), s.as_deref()),
            // A multipart without usable boundary is read as text.
            (Some(_), _) => ("text", Some("plain")),
            (None, _) if parent == Some(Multi::Digest) => ("message", Some("rfc822")),
            (None, _) => ("text", Some("plain")),
        };
        let named = info.filename.is_some() || info.ct_name.is_some();
        let is_attachment = info.disposition.as_deref() == Some("attachment");
        let body_kind = if ctype == "text" && !is_attachment && (!named || is_top) {
            match subtype {
                None | Some("plain") => Some(false),
                Some("html") => Some(true),
                _ => None,
            }
        } else {
            None
        };
        match body_kind {
            Some(is_html) => {
                let text = decode_charset(&decoded, info.charset.as_deref());
                let (out, has) = if is_html {
                    (&mut self.html, &mut self.has_html)
                } else {
                    (&mut self.text, &mut self.has_text)
                };
                *has = true;
                if !text.trim().is_empty() {
                    if !out.is_empty() {
                        out.push('\n');
                    }
                    push_lf_normalized(out, &text);
                }
            }
            None => {
                let content_type = match subtype {
                    Some(s) => format!("{ctype}/{s}"),
                    None => ctype.to_owned(),
                };
                self.attachments
                    .push(describe(info.file_name(), content_type, &decoded));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shrike_types::{AuthVerdict, FileMagic};

    fn parse(raw: &[u8]) -> Result<EmailRecord, IngestError> {
        parse_message(
            raw,
            RecordOrigin {
                path: "dir/t.eml".into(),
                ..Default::default()
            },
            &Limits::default(),
        )
    }

    #[test]
    fn simple_message_fields() {
        let raw = b"From jm@example.org  Thu Aug 22 12:36:23 2002\nReturn-Path: <bounce@x.org>\nFrom: \"Service\" <service@paypa1.com>\nTo: a@b.c, \"D\" <d@e.f>\nCc: g@h.i\nReply-To: r@s.t\nSubject: =?UTF-8?B?SGVsbG8=?= world\nMessage-ID: <id1@x>\nDate: Thu, 22 Aug 2002 12:36:23 +0100\nAuthentication-Results: mx; spf=fail; dkim=none; dmarc=fail\nAuthentication-Results: evil; spf=pass\n\nBody line\r\n";
        let r = parse(raw);
        let r = match r {
            Ok(r) => r,
            Err(e) => panic!("parse failed: {e}"),
        };
        assert_eq!(r.id, "t.eml");
        assert_eq!(
            r.from.as_ref().map(|m| m.address.as_str()),
            Some("service@paypa1.com")
        );
        assert_eq!(
            r.from.as_ref().and_then(|m| m.name.as_deref()),
            Some("Service")
        );
        assert_eq!(r.to.len(), 2);
        assert_eq!(r.to[1].name.as_deref(), Some("D"));
        assert_eq!(r.cc[0].address, "g@h.i");
        assert_eq!(r.reply_to[0].address, "r@s.t");
        assert_eq!(r.return_path.as_deref(), Some("bounce@x.org"));
        assert_eq!(r.subject.as_deref(), Some("Hello world"));
        assert_eq!(r.message_id.as_deref(), Some("id1@x"));
        assert_eq!(r.date, Some(1_030_016_183));
        assert_eq!(r.auth.spf, Some(AuthVerdict::Fail));
        assert_eq!(r.auth.dkim, Some(AuthVerdict::None));
        assert_eq!(r.auth.dmarc, Some(AuthVerdict::Fail));
        assert_eq!(r.body_text.as_deref(), Some("Body line\n"));
        assert_eq!(r.body_html, None);
        assert_eq!(r.mime_depth, 1);
        assert_eq!(r.raw_size, raw.len() as u64);
        assert_eq!(r.headers.len(), 10);
        assert_eq!(
            r.headers[0],
            ("Return-Path".to_owned(), "<bounce@x.org>".to_owned())
        );
    }

    #[test]
    fn date_fallbacks() {
        // Bogus Date year: the From_ line wins.
        let r = parse(b"From a@b Thu Aug 22 12:36:23 2002\nDate: Thu, 22 Aug 2031 12:36:23 +0000\nSubject: x\n\nb").ok();
        assert_eq!(r.and_then(|r| r.date), Some(1_030_019_783));
        // No Date, no From_: the newest Received stamp.
        let r = parse(b"Received: from a by b; Thu, 22 Aug 2002 10:00:00 +0000\nReceived: from c by a; Thu, 22 Aug 2002 09:00:00 +0000\nSubject: x\n\nb").ok();
        assert_eq!(r.and_then(|r| r.date), Some(1_030_010_400));
    }

    #[test]
    fn multipart_walk_with_digest_and_unterminated_inner() {
        let raw = b"Content-Type: multipart/mixed; boundary=outer\n\npreamble\n--outer\nContent-Type: multipart/alternative; boundary=inner\n\n--inner\nContent-Type: text/plain\n\nplain\n--inner\nContent-Type: text/html\n\n<p>html</p>\n--outer\nContent-Type: multipart/digest; boundary=dg\n\n--dg\n\nFrom: x@y\n\nforwarded\n--dg--\n--outer\nContent-Type: application/pdf; name=a.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--outer--\nepilogue\n";
        let r = match parse(raw) {
            Ok(r) => r,
            Err(e) => panic!("parse failed: {e}"),
        };
        assert_eq!(r.body_text.as_deref(), Some("plain"));
        assert_eq!(r.body_html.as_deref(), Some("<p>html</p>"));
        assert_eq!(r.attachments.len(), 2);
        assert_eq!(
            r.attachments[0].content_type.as_deref(),
            Some("message/rfc822")
        );
        assert_eq!(r.attachments[0].size, 20);
        assert_eq!(r.attachments[1].name.as_deref(), Some("a.pdf"));
        assert_eq!(r.attachments[1].magic, Some(FileMagic::Pdf));
        assert_eq!(r.attachments[1].size, 9);
        assert_eq!(r.mime_depth, 3);
    }

    #[test]
    fn boundary_prefix_is_not_a_delimiter() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/mixed; boundary=bb\n\n--bb\n\none\n--bb--\n--b\n\ntwo\n--b--\n";
        let r = parse(raw).ok();
        assert_eq!(r.and_then(|r| r.body_text), Some("one\ntwo".to_owned()));
    }

    #[test]
    fn limits_and_rejections() {
        assert!(matches!(parse(b""), Err(IngestError::Empty)));
        assert!(matches!(parse(b" \r\n\t\n"), Err(IngestError::Empty)));
        assert!(matches!(
            parse(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Err(IngestError::NotAnEmail(_))
        ));
        let limits = Limits {
            max_parts: 3,
            ..Limits::default()
        };
        let raw =
            b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\n1\n--b\n\n2\n--b\n\n3\n--b--\n";
        let r = parse_message(raw, RecordOrigin::default(), &limits);
        assert!(matches!(r, Err(IngestError::TooManyParts { limit: 3 })));
        let limits = Limits {
            max_parts: 4,
            ..Limits::default()
        };
        assert!(parse_message(raw, RecordOrigin::default(), &limits).is_ok());
    }

    #[test]
    fn cr_only_message() {
        let r = parse(b"From: a@b\rSubject: mac\r\rline1\rline2\r").ok();
        assert_eq!(r.as_ref().and_then(|r| r.subject.as_deref()), Some("mac"));
        assert_eq!(
            r.and_then(|r| r.body_text),
            Some("line1\nline2\n".to_owned())
        );
    }

    #[test]
    fn default_ids() {
        let o = RecordOrigin {
            path: "/x/a.tar.xz".into(),
            member: Some("m/1.eml".into()),
            index: Some(3),
            offset: None,
        };
        assert_eq!(default_id(&o), "m/1.eml#3");
        let o = RecordOrigin {
            path: "/x/y/00001.abc".into(),
            ..Default::default()
        };
        assert_eq!(default_id(&o), "00001.abc");
    }
}

//! Feature extraction over real mail from `../shared/data/email` (skipped, with a message, when
//! the data or the `xz` tool is absent).
//!
//! `shrike-ingest` is written concurrently, so these tests read the `.tar.xz` archives with the
//! system `xz` and a small tar reader, and turn messages into `EmailRecord`s with a deliberately
//! minimal MIME reader below (headers, multipart, base64 / quoted-printable, attachments with
//! magic bytes). It is test scaffolding, not a parser to reuse.

use super::*;
use shrike_types::{Attachment, FileMagic, Mailbox};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn email_dir() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/email");
    d.is_dir().then_some(d)
}

/// The first `limit` regular files of a `.tar.xz`, as `(name, bytes)`; `None` when it cannot be
/// read (no `xz`, missing archive).
fn read_tar_xz(path: &Path, limit: usize) -> Option<Vec<(String, Vec<u8>)>> {
    let mut child = Command::new("xz")
        .arg("-dc")
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut out = Vec::new();
    {
        let stdout = child.stdout.as_mut()?;
        let mut long_name: Option<String> = None;
        let mut header = [0u8; 512];
        while out.len() < limit {
            if stdout.read_exact(&mut header).is_err() || header.iter().all(|&b| b == 0) {
                break;
            }
            let field = |a: usize, b: usize| {
                String::from_utf8_lossy(header.get(a..b).unwrap_or(&[]))
                    .trim_end_matches('\0')
                    .to_string()
            };
            let size = usize::from_str_radix(
                field(124, 136).trim_matches(|c: char| c == ' ' || c == '\0'),
                8,
            )
            .ok()?;
            let kind = header.get(156).copied().unwrap_or(b'0');
            let mut data = vec![0u8; size];
            stdout.read_exact(&mut data).ok()?;
            let pad = (512 - size % 512) % 512;
            let mut skip = vec![0u8; pad];
            stdout.read_exact(&mut skip).ok()?;
            match kind {
                b'L' => {
                    long_name = Some(
                        String::from_utf8_lossy(&data)
                            .trim_end_matches('\0')
                            .to_string(),
                    )
                }
                b'0' | 0 => {
                    let prefix = field(345, 500);
                    let name = long_name.take().unwrap_or_else(|| {
                        if prefix.is_empty() {
                            field(0, 100)
                        } else {
                            format!("{prefix}/{}", field(0, 100))
                        }
                    });
                    out.push((name, data));
                }
                _ => long_name = None,
            }
        }
    }
    // Stop xz if it is still writing (we read only the first members).
    let _ = child.kill();
    let _ = child.wait();
    Some(out)
}

/// Splits an mbox (or a single message with a leading `From ` line) into messages.
fn split_mbox(data: &[u8]) -> Vec<&[u8]> {
    if !data.starts_with(b"From ") {
        return vec![data];
    }
    let mut starts = vec![0];
    let mut i = 0;
    while let Some(p) = memchr::memmem::find(data.get(i..).unwrap_or(&[]), b"\nFrom ") {
        starts.push(i + p + 1);
        i += p + 1;
    }
    starts.push(data.len());
    starts
        .windows(2)
        .filter_map(|w| {
            let m = data.get(*w.first()?..*w.get(1)?)?;
            let body_start = memchr::memchr(b'\n', m).map_or(m.len(), |p| p + 1);
            m.get(body_start..)
        })
        .collect()
}

fn split_head(raw: &[u8]) -> (&[u8], &[u8]) {
    let crlf = memchr::memmem::find(raw, b"\r\n\r\n").map(|p| (p, 4));
    let lf = memchr::memmem::find(raw, b"\n\n").map(|p| (p, 2));
    let end = match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 < b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    match end {
        Some((p, n)) => (raw.get(..p).unwrap_or(&[]), raw.get(p + n..).unwrap_or(&[])),
        None => (raw, &[]),
    }
}

fn parse_headers(block: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(block);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((n, v)) = line.split_once(':') {
            if !n.contains(' ') {
                out.push((n.trim().to_string(), v.trim().to_string()));
            }
        }
    }
    out
}

fn header<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    hs.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn param(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

fn decode_b64(data: &[u8]) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
    for v in data.iter().filter_map(|&c| val(c)) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn decode_qp(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        let b = data.get(i).copied().unwrap_or(0);
        if b == b'=' {
            match (data.get(i + 1), data.get(i + 2)) {
                (Some(b'\r'), Some(b'\n')) => i += 3,
                (Some(b'\n'), _) => i += 2,
                (Some(&h), Some(&l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                    let hex = [h, l];
                    out.push(
                        u8::from_str_radix(std::str::from_utf8(&hex).unwrap_or("3F"), 16)
                            .unwrap_or(b'?'),
                    );
                    i += 3;
                }
                _ => {
                    out.push(b);
                    i += 1;
                }
            }
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

fn magic_of(b: &[u8]) -> FileMagic {
    let s = |m: &[u8]| b.starts_with(m);
    if s(b"%PDF") {
        FileMagic::Pdf
    } else if s(b"PK\x03\x04") {
        FileMagic::Zip
    } else if s(b"\xD0\xCF\x11\xE0") {
        FileMagic::Ole
    } else if s(b"Rar!") {
        FileMagic::Rar
    } else if s(b"7z\xBC\xAF") {
        FileMagic::SevenZip
    } else if s(b"\x1F\x8B") {
        FileMagic::Gzip
    } else if s(b"MZ") {
        FileMagic::Pe
    } else if s(b"\x7FELF") {
        FileMagic::Elf
    } else if s(b"\x89PNG") || s(b"\xFF\xD8\xFF") || s(b"GIF8") {
        FileMagic::Image
    } else if b.len() > 5
        && b.get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"<html") || p.eq_ignore_ascii_case(b"<!doc"))
    {
        FileMagic::Html
    } else {
        FileMagic::Other
    }
}

fn walk(raw: &[u8], rec: &mut EmailRecord, depth: u32) {
    let (head, body) = split_head(raw);
    let hs = parse_headers(head);
    let ct = header(&hs, "content-type").unwrap_or("text/plain");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let disposition = header(&hs, "content-disposition").unwrap_or("");
    if mime.starts_with("multipart/") && depth < 8 {
        if let Some(boundary) = param(ct, "boundary") {
            let delim = format!("--{boundary}");
            let mut parts = Vec::new();
            let mut i = 0;
            while let Some(p) = memchr::memmem::find(body.get(i..).unwrap_or(&[]), delim.as_bytes())
            {
                parts.push(i + p);
                i += p + delim.len();
            }
            for w in parts.windows(2) {
                let (Some(&a), Some(&b)) = (w.first(), w.get(1)) else {
                    continue;
                };
                let seg = body.get(a + delim.len()..b).unwrap_or(&[]);
                let seg = seg
                    .strip_prefix(b"\r\n")
                    .or_else(|| seg.strip_prefix(b"\n"))
                    .unwrap_or(seg);
                walk(seg, rec, depth + 1);
            }
            return;
        }
    }
    let cte = header(&hs, "content-transfer-encoding")
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let decoded = match cte.as_str() {
        "base64" => decode_b64(body),
        "quoted-printable" => decode_qp(body),
        _ => body.to_vec(),
    };
    let is_attachment = disposition.to_ascii_lowercase().starts_with("attachment");
    let name = param(disposition, "filename").or_else(|| param(ct, "name"));
    match mime.as_str() {
        "text/plain" if !is_attachment && name.is_none() => {
            rec.body_text
                .get_or_insert_with(String::new)
                .push_str(&String::from_utf8_lossy(&decoded));
        }
        "text/html" if !is_attachment && name.is_none() => {
            rec.body_html
                .get_or_insert_with(String::new)
                .push_str(&String::from_utf8_lossy(&decoded));
        }
        _ => rec.attachments.push(Attachment {
            name,
            content_type: Some(mime),
            size: decoded.len() as u64,
            sha256: None,
            magic: Some(magic_of(&decoded)),
            has_macros: Some(
                memchr::memmem::find(&decoded, b"vbaProject.bin").is_some()
                    || memchr::memmem::find(&decoded, b"_VBA_PROJECT").is_some(),
            ),
        }),
    }
}

fn mailboxes(v: &str) -> Vec<Mailbox> {
    // Split on commas outside quotes and angle brackets.
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut angle) = (0, false, false);
    for (i, c) in v.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                parts.push(v.get(start..i).unwrap_or(""));
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(v.get(start..).unwrap_or(""));
    parts
        .into_iter()
        .filter_map(|p| {
            let p = p.trim();
            let (name, addr) = match (p.rfind('<'), p.rfind('>')) {
                (Some(s), Some(e)) if s < e => (
                    p.get(..s).map(|n| n.trim().trim_matches('"').to_string()),
                    p.get(s + 1..e).unwrap_or("").to_string(),
                ),
                _ => (None, p.to_string()),
            };
            (!addr.is_empty()).then(|| Mailbox {
                name: name.filter(|n| !n.is_empty()),
                address: addr,
            })
        })
        .collect()
}

/// A test-only `EmailRecord` from raw RFC 5322 bytes.
fn record_of(raw: &[u8]) -> EmailRecord {
    let (head, _) = split_head(raw);
    let hs = parse_headers(head);
    let h = |n: &str| header(&hs, n).map(str::to_string);
    let mut rec = EmailRecord {
        from: h("from").and_then(|v| {
            let all = mailboxes(&v);
            let first = all.first().cloned();
            all.into_iter().find(|m| m.address.contains('@')).or(first)
        }),
        to: h("to").map(|v| mailboxes(&v)).unwrap_or_default(),
        cc: h("cc").map(|v| mailboxes(&v)).unwrap_or_default(),
        reply_to: h("reply-to").map(|v| mailboxes(&v)).unwrap_or_default(),
        return_path: h("return-path").map(|v| v.trim_matches(['<', '>', ' ']).to_string()),
        subject: h("subject"),
        message_id: h("message-id").map(|v| v.trim_matches(['<', '>', ' ']).to_string()),
        raw_size: raw.len() as u64,
        ..Default::default()
    };
    walk(raw, &mut rec, 0);
    rec.headers = hs;
    rec
}

/// Messages of one archive (mbox members split), up to `limit`.
fn messages(archive: &str, limit: usize) -> Option<Vec<Vec<u8>>> {
    let path = email_dir()?.join(archive);
    if !path.is_file() {
        return None;
    }
    let files = read_tar_xz(&path, limit)?;
    let mut out = Vec::new();
    for (_, data) in &files {
        for m in split_mbox(data) {
            if out.len() < limit {
                out.push(m.to_vec());
            }
        }
    }
    Some(out)
}

const ARCHIVES: &[&str] = &[
    "phishing/phishing_pot/phishing_pot_2024.tar.xz",
    "phishing/nazario/phishing_nazario_yearly_2015-2020.tar.xz",
    "ham_modern/ham_modern_usrp-users_2019-2025.tar.xz",
    "ham_modern/ham_modern_open-iscsi_2019-2025.tar.xz",
    "spamassassin/spamassassin_easy_ham.tar.xz",
];

/// Collector and placeholder strings: must never survive cleaning.
const COLLECTOR: &[&str] = &[
    "phishing@pot",
    "jose@monkey.org",
    "monkey.org",
    "lfdr.de",
    "taint.org",
    "netnoteinc.com",
];

/// List footer remnants: the list's own footer must never survive; copies quoted in replies are
/// removed on a best-effort basis (see `RESIDUAL_QUOTED_FOOTERS`).
const FOOTER: &[&str] = &[
    "mailman/listinfo",
    "mailing list\n",
    "mailing list<br",
    "you received this message because you are subscribed",
    "links: you receive all messages sent to this group",
];

/// Messages (of the first 200) that still contain a footer remnant after cleaning, per archive.
/// FIXME: these are footers quoted in replies that the heuristics miss (Mailman *digest*
/// headers quoted in a reply, footers re-wrapped by the replier's client, HTML quotes where the
/// `____` line is split by markup). Lower these when the heuristics improve.
const RESIDUAL_QUOTED_FOOTERS: &[(&str, usize)] = &[
    ("phishing/phishing_pot/phishing_pot_2024.tar.xz", 0),
    (
        "phishing/nazario/phishing_nazario_yearly_2015-2020.tar.xz",
        0,
    ),
    ("ham_modern/ham_modern_usrp-users_2019-2025.tar.xz", 2),
    ("ham_modern/ham_modern_open-iscsi_2019-2025.tar.xz", 0),
    ("spamassassin/spamassassin_easy_ham.tar.xz", 0),
];

#[test]
fn first_200_messages_of_real_archives() {
    if email_dir().is_none() {
        eprintln!("skipping first_200_messages_of_real_archives: ../shared/data/email not found");
        return;
    }
    let schema = email_schema();
    let mut ex = EmailFeatureExtractor::new();
    let mut x = Vec::new();
    for archive in ARCHIVES {
        let Some(msgs) = messages(archive, 200) else {
            eprintln!("skipping {archive}: archive or the xz tool not available");
            continue;
        };
        assert_eq!(msgs.len(), 200, "{archive}");
        let mut survivors: Vec<String> = Vec::new();
        let mut footer_msgs = 0;
        let mut footer_examples: Vec<String> = Vec::new();
        let mut nan_or_set = vec![0usize; schema.len()];
        for (k, raw) in msgs.iter().enumerate() {
            let rec = record_of(raw);
            ex.extract(&rec, &FeatureContext::default(), &mut x);
            assert_eq!(x.len(), schema.len());
            for (i, v) in x.iter().enumerate() {
                let name = schema.features.get(i).map_or("?", |f| f.name.as_str());
                assert!(v.is_finite() || v.is_nan(), "{archive} #{k}: {name} = {v}");
                if *v != 0.0 {
                    if let Some(c) = nan_or_set.get_mut(i) {
                        *c += 1;
                    }
                }
            }
            let (subject, text, html) = ex.cleaned();
            let mut has_footer = false;
            for (part, bytes) in [("subject", subject), ("text", text), ("html", html)] {
                let lower = String::from_utf8_lossy(bytes).to_ascii_lowercase();
                let snippet = |p: usize, len: usize| {
                    let a = lower.floor_char_boundary(p.saturating_sub(40));
                    let b = lower.ceil_char_boundary((p + len + 40).min(lower.len()));
                    format!("#{k} {part}: {:?}", lower.get(a..b).unwrap_or(""))
                };
                for f in COLLECTOR {
                    if let Some(p) = lower.find(f) {
                        survivors.push(snippet(p, f.len()));
                    }
                }
                for f in FOOTER {
                    if let Some(p) = lower.find(f) {
                        has_footer = true;
                        if footer_examples.len() < 8 {
                            footer_examples.push(snippet(p, f.len()));
                        }
                    }
                }
            }
            footer_msgs += usize::from(has_footer);
        }
        assert!(
            survivors.is_empty(),
            "{archive}: {} collector strings survived cleaning, e.g. {:?}",
            survivors.len(),
            survivors.get(..5.min(survivors.len()))
        );
        let want = RESIDUAL_QUOTED_FOOTERS
            .iter()
            .find(|(a, _)| a == archive)
            .map_or(0, |x| x.1);
        assert_eq!(
            footer_msgs, want,
            "{archive}: messages with footer remnants, e.g. {footer_examples:#?}"
        );
        // Nearly every message has body words (the rest are image- or attachment-only).
        let words = schema
            .index_of("content_word_count_log")
            .and_then(|i| nan_or_set.get(i).copied())
            .unwrap_or(0);
        assert!(
            words >= 170,
            "{archive}: only {words}/200 messages have body words"
        );
    }
}

#[test]
fn real_crlf_messages_match_their_lf_copies() {
    let Some(msgs) = messages("phishing/phishing_pot/phishing_pot_2024.tar.xz", 60) else {
        eprintln!("skipping real_crlf_messages_match_their_lf_copies: ../shared/data/email or xz not available");
        return;
    };
    let mut crlf_seen = 0;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for raw in &msgs {
        if memchr::memmem::find(raw, b"\r\n").is_some() {
            crlf_seen += 1;
        }
        let lf: Vec<u8> = String::from_utf8_lossy(raw)
            .replace("\r\n", "\n")
            .into_bytes();
        let crlf: Vec<u8> = String::from_utf8_lossy(&lf)
            .replace('\n', "\r\n")
            .into_bytes();
        extract_email(&record_of(&lf), &FeatureContext::default(), &mut a);
        extract_email(&record_of(&crlf), &FeatureContext::default(), &mut b);
        for ((x, y), f) in a.iter().zip(&b).zip(&email_schema().features) {
            assert_eq!(
                x.to_bits(),
                y.to_bits(),
                "feature {} differs between LF and CRLF copies",
                f.name
            );
        }
    }
    assert!(
        crlf_seen > 30,
        "phishing_pot is mostly CRLF; saw {crlf_seen}/60"
    );
}

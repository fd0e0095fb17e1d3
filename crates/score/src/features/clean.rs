//! Text normalisation that runs before any text, URL or n-gram feature sees a body, the
//! subject or a URL: line endings, mailing-list footers, recipient and collector masking, and
//! invisible characters.
//!
//! Order, per text (body part, HTML part, subject, supplied URL):
//! 1. cap at [`MAX_BODY_BYTES`] (on a character boundary) and turn CRLF and lone CR into LF;
//! 2. bodies only: cut at the list's own footer (Mailman `____` separator, Google Groups
//!    "You received this message because you are subscribed", groups.io `-=-=-=` block,
//!    SourceForge "This sf.net email is sponsored", or a `.../listinfo/...` paragraph in the last
//!    lines) and drop trailing separator lines; footers quoted in a plain-text reply (`> ____`)
//!    are removed as blocks, keeping the reply text around them;
//! 3. replace every address of a recipient (To, Cc, Delivered-To, X-Original-To, ...) or of a
//!    collector placeholder (`phishing@pot`, `jose@monkey.org`, `*@lfdr.de`, `*.taint.org`, ...),
//!    also `%40`-encoded, and bare mentions of the recipient's (non-free-mail) domain and of the
//!    collectors' domains, with the neutral token [`MASK_TOKEN`];
//! 4. drop zero-width characters and soft hyphens (counted: they break words on purpose) and turn
//!    no-break spaces into spaces.
//!
//! Case is kept (every match here is ASCII case-insensitive); the tokenizer lower-cases words and
//! counts capitals only on words that were not masked. Recipient local parts ("Dear jose") and
//! base64-encoded recipient addresses are masked at the word level, by `text` (and in URLs by
//! `url`).
//! Buffers are reused; nothing here allocates once they have grown.

use super::domain::{brands, is_freemail, registrable};
use super::tables::{
    MASK_TOKEN, PLACEHOLDER_ADDRESSES, PLACEHOLDER_BARE_DOMAINS, PLACEHOLDER_DOMAINS,
};
use super::text;
use memchr::{memchr, memchr2_iter, memchr3_iter, memchr_iter, memmem, memrchr};
use shrike_types::EmailRecord;
use std::sync::OnceLock;

/// Bodies are cut here (bytes): features of a message do not need more, and it bounds the work.
pub(super) const MAX_BODY_BYTES: usize = 256 * 1024;

/// Headers that name the recipient. They are read only to mask their addresses.
const RECIPIENT_HEADERS: &[&str] = &[
    "apparently-to",
    "delivered-to",
    "envelope-to",
    "x-delivered-to",
    "x-envelope-to",
    "x-original-recipient",
    "x-original-to",
    "x-rcpt-to",
];

/// Length of the base64 prefix used to recognise an encoded recipient address.
pub(super) const B64_PREFIX: usize = 12;

/// The recipient masks of one message.
#[derive(Debug, Default)]
pub(super) struct Masks {
    arena: String,
    /// Keys ([`addr_key`]) of recipient addresses, sorted.
    addr_keys: Vec<u64>,
    /// Recipient registrable domains masked when written bare (ranges into `arena`).
    domains: Vec<(usize, usize)>,
    /// Word hashes of recipient local parts ("jose"), masked by the tokenizer.
    pub(super) words: Vec<u64>,
    /// Lower-cased base64 prefixes of recipient and placeholder addresses.
    pub(super) b64: Vec<[u8; B64_PREFIX]>,
}

/// What the sender-side header scan found besides the masks.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct HeaderFlags {
    /// `In-Reply-To` or `References` is present (the message really is a reply).
    pub(super) is_threaded: bool,
}

impl Masks {
    /// Rebuilds the masks from the recipients of `rec` (To, Cc and the recipient headers) and
    /// returns the flags of the one header pass.
    pub(super) fn build(&mut self, rec: &EmailRecord) -> HeaderFlags {
        self.arena.clear();
        self.addr_keys.clear();
        self.domains.clear();
        self.words.clear();
        self.b64.clear();
        self.b64.extend_from_slice(placeholder_b64());
        for m in rec.to.iter().chain(&rec.cc) {
            self.add(&m.address);
        }
        let mut flags = HeaderFlags::default();
        for (name, value) in &rec.headers {
            let n = name.trim();
            if n.eq_ignore_ascii_case("in-reply-to") || n.eq_ignore_ascii_case("references") {
                flags.is_threaded |= !value.trim().is_empty();
            } else if (8..=20).contains(&n.len())
                && RECIPIENT_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(n))
            {
                for part in value.split(',') {
                    let a = match (part.find('<'), part.rfind('>')) {
                        (Some(s), Some(e)) if s < e => part.get(s + 1..e).unwrap_or(part),
                        _ => part,
                    };
                    let a = a.trim();
                    let a = if a.len() > 7
                        && a.get(..7)
                            .is_some_and(|p| p.eq_ignore_ascii_case("rfc822;"))
                    {
                        a.get(7..).unwrap_or(a)
                    } else {
                        a
                    };
                    self.add(a);
                }
            }
        }
        flags
    }

    fn add(&mut self, addr: &str) {
        let a = addr.trim().trim_matches(['<', '>', '"', '\'']).trim();
        let Some((local, domain)) = a.rsplit_once('@') else {
            return;
        };
        let domain = domain.trim_end_matches('.');
        if local.is_empty()
            || domain.is_empty()
            || a.len() > 254
            || self.addr_keys.len() >= MAX_RECIPIENTS
        {
            return;
        }
        let key = addr_key(local.as_bytes(), domain.as_bytes());
        if self.addr_keys.contains(&key) {
            return;
        }
        self.addr_keys.push(key);
        // The rest is per distinct recipient, for the first few only: mass mailings to
        // thousands of recipients do not personalise.
        if self.addr_keys.len() > MAX_PERSONAL {
            return;
        }
        let mut lower = [0u8; 254];
        let n = a.len().min(lower.len());
        for (d, b) in lower.iter_mut().zip(a.bytes()) {
            *d = b.to_ascii_lowercase();
        }
        if let Some(p) = b64_prefix(lower.get(..n).unwrap_or(&[])) {
            self.b64.push(p);
        }
        // The recipient's own organisation domain, written bare ("monkey.org Webmail").
        let ds = self.arena.len();
        self.arena
            .extend(domain.chars().map(|c| c.to_ascii_lowercase()));
        let reg = registrable(self.arena.get(ds..).unwrap_or("")).len();
        let (rs, re) = (self.arena.len() - reg, self.arena.len());
        let keep = self.arena.get(rs..re).is_some_and(|r| {
            r.contains('.')
                && r.len() >= 4
                && !is_freemail(r)
                && !brands().owned_by_any(r)
                && !self
                    .domains
                    .iter()
                    .any(|&(s, e)| self.arena.get(s..e) == Some(r))
        });
        if keep {
            self.domains.push((rs, re));
        }
        // The local part as a word ("Dear jose"), unless it is one of the content keywords.
        let base = local.split(['+', '=']).next().unwrap_or(local);
        if (3..=32).contains(&base.len())
            && base.bytes().all(|b| b.is_ascii_alphanumeric())
            && !base.bytes().all(|b| b.is_ascii_digit())
        {
            let h = text::hash_bytes(base.as_bytes());
            if !text::is_keyword(h) && !self.words.contains(&h) {
                self.words.push(h);
            }
        }
    }

    /// Whether `addr` (any case, optionally in angle brackets) is one of the recipients.
    pub(super) fn is_recipient(&self, addr: &str) -> bool {
        let a = addr.trim().trim_matches(['<', '>', '"', '\'']).trim();
        a.rsplit_once('@').is_some_and(|(l, d)| {
            self.addr_keys
                .contains(&addr_key(l.as_bytes(), d.trim_end_matches('.').as_bytes()))
        })
    }

    /// Whether `local@domain` (as found in text, any case) is a recipient or a placeholder:
    /// hashed lookups, so the cost does not grow with the number of recipients.
    fn is_masked_addr(&self, local: &[u8], domain: &[u8]) -> bool {
        if local.is_empty() || domain.is_empty() {
            return false;
        }
        // The domain or any parent of it is a placeholder domain.
        let sets = placeholder_sets();
        let mut suffix = domain;
        for _ in 0..8 {
            if sets
                .domains
                .binary_search(&text::hash_bytes(suffix))
                .is_ok()
            {
                return true;
            }
            match suffix.iter().position(|&b| b == b'.') {
                Some(p) => suffix = suffix.get(p + 1..).unwrap_or(&[]),
                None => break,
            }
        }
        let key = addr_key(local, domain);
        sets.addresses.binary_search(&key).is_ok() || self.addr_keys.contains(&key)
    }

    /// Whether the domain run ending at `end` in `buf` is (a subdomain of) a domain masked when
    /// written bare, comparing suffixes only.
    fn masked_suffix(&self, buf: &[u8], end: usize) -> bool {
        let under = |d: &[u8]| {
            end >= d.len()
                && buf
                    .get(end - d.len()..end)
                    .is_some_and(|x| x.eq_ignore_ascii_case(d))
                && (end == d.len()
                    || buf
                        .get(end - d.len() - 1)
                        .is_none_or(|&b| b == b'.' || !is_domain_byte(b)))
        };
        PLACEHOLDER_BARE_DOMAINS.iter().any(|d| under(d.as_bytes()))
            || self
                .domains
                .iter()
                .any(|&(s, e)| self.arena.get(s..e).is_some_and(|d| under(d.as_bytes())))
    }
}

/// Recipients remembered per message (addresses beyond this are not masked).
const MAX_RECIPIENTS: usize = 256;
/// Recipients whose domain, name and base64 form are also masked.
const MAX_PERSONAL: usize = 8;

/// The lookup key of an address: its local part and domain hashed (ASCII case-insensitive).
fn addr_key(local: &[u8], domain: &[u8]) -> u64 {
    text::combine(text::hash_bytes(local), text::hash_bytes(domain))
}

/// Hashed placeholder addresses and domains.
struct PlaceholderSets {
    addresses: Vec<u64>,
    domains: Vec<u64>,
}

fn placeholder_sets() -> &'static PlaceholderSets {
    static S: OnceLock<PlaceholderSets> = OnceLock::new();
    S.get_or_init(|| {
        let mut addresses: Vec<u64> = PLACEHOLDER_ADDRESSES
            .iter()
            .filter_map(|a| a.rsplit_once('@'))
            .map(|(l, d)| addr_key(l.as_bytes(), d.as_bytes()))
            .collect();
        addresses.sort_unstable();
        let mut domains: Vec<u64> = PLACEHOLDER_DOMAINS
            .iter()
            .map(|d| text::hash_bytes(d.as_bytes()))
            .collect();
        domains.sort_unstable();
        PlaceholderSets { addresses, domains }
    })
}

/// The lower-cased first [`B64_PREFIX`] characters of the standard base64 encoding of `addr`,
/// when it is long enough to have them.
fn b64_prefix(addr: &[u8]) -> Option<[u8; B64_PREFIX]> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if addr.len() < B64_PREFIX / 4 * 3 {
        return None;
    }
    let mut out = [0u8; B64_PREFIX];
    for (chunk, dst) in addr.chunks_exact(3).zip(out.chunks_exact_mut(4)) {
        let n = (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]);
        for (k, d) in dst.iter_mut().enumerate() {
            let idx = ((n >> (18 - 6 * k)) & 63) as usize;
            *d = ALPHABET
                .get(idx)
                .copied()
                .unwrap_or(b'A')
                .to_ascii_lowercase();
        }
    }
    Some(out)
}

fn placeholder_b64() -> &'static [[u8; B64_PREFIX]] {
    static P: OnceLock<Vec<[u8; B64_PREFIX]>> = OnceLock::new();
    P.get_or_init(|| {
        PLACEHOLDER_ADDRESSES
            .iter()
            .filter_map(|a| b64_prefix(a.as_bytes()))
            .collect()
    })
}

/// What kind of text is being cleaned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A `text/plain` body: footer rules for plain text.
    Text,
    /// A `text/html` body: footer rules for HTML.
    Html,
    /// A subject or a supplied URL: no footer rules.
    Short,
}

/// Counts gathered while cleaning.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct CleanStats {
    /// Zero-width characters and soft hyphens removed.
    pub(super) zero_width: u32,
    /// Addresses, domains masked.
    pub(super) masked: u32,
}

#[derive(Debug, Clone, Copy)]
enum Repl {
    Nothing,
    Space,
    Token,
}

/// Reusable scratch for [`Cleaner::clean`].
#[derive(Debug, Default)]
pub(super) struct Cleaner {
    tmp: Vec<u8>,
    spans: Vec<(usize, usize, Repl)>,
}

/// Bytes that can be part of an address run (`local@domain`, also `%40`-encoded).
fn is_addr_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-' | b'@')
}

/// Bytes of a bare domain run.
fn is_domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
}

/// The longest prefix of `s` that is at most `max` bytes and ends on a character boundary.
pub(super) fn cap(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

impl Cleaner {
    /// Cleans `src` into `out` (see the module docs). `out` is cleared first.
    pub(super) fn clean(
        &mut self,
        src: &str,
        kind: Kind,
        masks: &Masks,
        out: &mut Vec<u8>,
    ) -> CleanStats {
        let mut st = CleanStats::default();
        out.clear();
        let src = cap(src, MAX_BODY_BYTES).as_bytes();
        let mut start = 0;
        for p in memchr_iter(b'\r', src) {
            out.extend_from_slice(src.get(start..p).unwrap_or(&[]));
            if src.get(p + 1) != Some(&b'\n') {
                out.push(b'\n');
            }
            start = p + 1;
        }
        out.extend_from_slice(src.get(start..).unwrap_or(&[]));
        self.spans.clear();
        if kind != Kind::Short {
            let cut = footers(out, kind == Kind::Html, &mut self.spans);
            out.truncate(cut);
            trim_trailing_separators(out);
            let len = out.len();
            self.spans.retain(|sp| sp.0 < len);
            for sp in &mut self.spans {
                sp.1 = sp.1.min(len);
            }
        }
        self.collect_spans(out, masks, &mut st);
        if !self.spans.is_empty() {
            self.rebuild(out);
            if kind != Kind::Short {
                trim_trailing_separators(out);
            }
        }
        st
    }

    fn collect_spans(&mut self, buf: &[u8], masks: &Masks, st: &mut CleanStats) {
        let mut covered = 0;
        for p in memchr3_iter(b'@', b'%', b'.', buf) {
            if p < covered {
                continue;
            }
            match buf.get(p) {
                Some(b'.') => {
                    // Cheap rejects first (a sentence end), then suffix compares at the run's
                    // end; the run's start is only looked for on a match.
                    if !buf.get(p + 1).is_some_and(u8::is_ascii_alphanumeric) {
                        continue;
                    }
                    let mut r = p + 1;
                    while buf.get(r).is_some_and(|&b| is_domain_byte(b)) {
                        r += 1;
                    }
                    covered = r;
                    let run_end = p + trim_end_bytes(buf.get(p..r).unwrap_or(&[]), b".-").len();
                    if !masks.masked_suffix(buf, run_end) {
                        continue;
                    }
                    let (l, _) = expand(buf, p, is_domain_byte);
                    if l > 0 && matches!(buf.get(l - 1), Some(b'@' | b'%')) {
                        continue; // The domain of an address: handled at the '@'.
                    }
                    self.spans.push((l, run_end, Repl::Token));
                    st.masked += 1;
                }
                Some(b'%') if buf.get(p + 1..p + 3).is_none_or(|x| x != b"40") => {}
                _ => {
                    let (l, r) = expand(buf, p, is_addr_byte);
                    covered = r;
                    let run = trim_end_bytes(buf.get(l..r).unwrap_or(&[]), b".-");
                    if run_is_masked(run, masks) {
                        self.spans.push((l, l + run.len(), Repl::Token));
                        st.masked += 1;
                    }
                }
            }
        }
        for p in memchr3_iter(0xE2, 0xEF, 0xC2, buf) {
            let next = |k: usize| buf.get(p + k).copied().unwrap_or(0);
            let (len, repl) = match (buf.get(p).copied().unwrap_or(0), next(1), next(2)) {
                (0xE2, 0x80, 0x8B..=0x8F | 0xAA..=0xAE)
                | (0xE2, 0x81, 0xA0..=0xA4)
                | (0xEF, 0xBB, 0xBF) => (3, Repl::Nothing),
                (0xC2, 0xAD, _) => (2, Repl::Nothing),
                (0xC2, 0xA0, _) => (2, Repl::Space),
                _ => continue,
            };
            if matches!(repl, Repl::Nothing) {
                st.zero_width += 1;
            }
            self.spans.push((p, p + len, repl));
        }
    }

    fn rebuild(&mut self, out: &mut Vec<u8>) {
        self.spans.sort_unstable_by_key(|s| s.0);
        self.tmp.clear();
        let mut pos = 0;
        for &(s, e, r) in &self.spans {
            if s < pos {
                continue;
            }
            self.tmp.extend_from_slice(out.get(pos..s).unwrap_or(&[]));
            match r {
                Repl::Nothing => {}
                Repl::Space => self.tmp.push(b' '),
                Repl::Token => self.tmp.extend_from_slice(MASK_TOKEN.as_bytes()),
            }
            pos = e;
        }
        self.tmp.extend_from_slice(out.get(pos..).unwrap_or(&[]));
        std::mem::swap(out, &mut self.tmp);
    }
}

/// The maximal run of `class` bytes around position `p`: `(start, end)`.
fn expand(buf: &[u8], p: usize, class: fn(u8) -> bool) -> (usize, usize) {
    let mut l = p;
    while l > 0 && buf.get(l - 1).is_some_and(|&b| class(b)) {
        l -= 1;
    }
    let mut r = p + 1;
    while buf.get(r).is_some_and(|&b| class(b)) {
        r += 1;
    }
    (l, r.min(buf.len()))
}

fn trim_end_bytes<'a>(mut s: &'a [u8], set: &[u8]) -> &'a [u8] {
    while let Some((last, rest)) = s.split_last() {
        if set.contains(last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// The local part as written after any `%XX` escape before it (`%2Cjose` gives `jose`).
fn local_after_escapes(s: &[u8]) -> &[u8] {
    let mut start = 0;
    let mut i = 0;
    while i + 2 < s.len() {
        if s.get(i) == Some(&b'%')
            && s.get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
        {
            start = i + 3;
            i += 3;
        } else {
            i += 1;
        }
    }
    s.get(start..).unwrap_or(&[])
}

/// The domain up to the first `%` (an escape that ends it: `taint.org%2Chtm`), without
/// trailing dots and hyphens.
fn domain_before_escapes(s: &[u8]) -> &[u8] {
    let end = s.iter().position(|&b| b == b'%').unwrap_or(s.len());
    trim_end_bytes(s.get(..end).unwrap_or(&[]), b".-")
}

/// Whether an address run contains a masked `local@domain` pair. Runs can chain several `@`
/// (`phishing@pot@outlook.com`, VERP forms): every adjacent pair is tried.
fn run_is_masked(run: &[u8], masks: &Masks) -> bool {
    let mut seps = [(0usize, 0usize); 8];
    let mut n = 0;
    let mut i = 0;
    while i < run.len() && n < seps.len() {
        match run.get(i) {
            Some(b'@') => {
                seps[n] = (i, i + 1);
                n += 1;
            }
            Some(b'%') if run.get(i + 1..i + 3) == Some(b"40") => {
                seps[n] = (i, i + 3);
                n += 1;
                i += 2;
            }
            _ => {}
        }
        i += 1;
    }
    let seps = seps.get(..n).unwrap_or(&[]);
    for (k, &(s, e)) in seps.iter().enumerate() {
        // A placeholder glued to other text by the anonymiser (`phishing@pot-f-p`, from
        // `rodrigo-f-p@...`): its local part ends at the '@' and its domain starts after it.
        let before = run.get(..s).unwrap_or(&[]);
        let after = run.get(e..).unwrap_or(&[]);
        let glued = PLACEHOLDER_ADDRESSES.iter().any(|p| {
            p.split_once('@').is_some_and(|(pl, pd)| {
                before.len() >= pl.len()
                    && after.len() >= pd.len()
                    && before
                        .get(before.len() - pl.len()..)
                        .is_some_and(|x| x.eq_ignore_ascii_case(pl.as_bytes()))
                    && after
                        .get(..pd.len())
                        .is_some_and(|x| x.eq_ignore_ascii_case(pd.as_bytes()))
            })
        });
        if glued {
            return true;
        }
        let local_start = if k == 0 {
            0
        } else {
            seps.get(k - 1).map_or(0, |p| p.1)
        };
        let domain_end = seps.get(k + 1).map_or(run.len(), |p| p.0);
        let local = run
            .get(local_start..s)
            .map(local_after_escapes)
            .unwrap_or(&[]);
        let domain = run
            .get(e..domain_end)
            .map(domain_before_escapes)
            .unwrap_or(&[]);
        if masks.is_masked_addr(local, domain) {
            return true;
        }
    }
    false
}

/// Skips a line's quote prefix (spaces, tabs, `>`, `&gt;`); returns its length and whether it
/// quotes (has `>`).
fn quote_prefix(rest: &[u8]) -> (usize, bool) {
    let (mut i, mut quoted) = (0, false);
    while i < 64 {
        match rest.get(i) {
            Some(b' ' | b'\t') => i += 1,
            Some(b'>') => {
                quoted = true;
                i += 1;
            }
            Some(b'&')
                if rest
                    .get(i..i + 4)
                    .is_some_and(|x| x.eq_ignore_ascii_case(b"&gt;")) =>
            {
                quoted = true;
                i += 4;
            }
            _ => break,
        }
    }
    (i, quoted)
}

/// Whether a list-footer marker starts right after the quote prefix at `pos`; returns whether
/// the line is quoted.
fn footer_marker_at(buf: &[u8], pos: usize) -> Option<bool> {
    let rest = buf.get(pos..).unwrap_or(&[]);
    // Fast path: a tag or a letter that starts no marker.
    if matches!(
        rest.first(),
        Some(b'<' | b'a'..=b'k' | b'm'..=b's' | b'u'..=b'x' | b'z')
    ) {
        return None;
    }
    let (skip, quoted) = quote_prefix(rest);
    let rest = rest.get(skip..).unwrap_or(&[]);
    let starts = |m: &[u8]| {
        rest.len() >= m.len()
            && rest
                .get(..m.len())
                .is_some_and(|x| x.eq_ignore_ascii_case(m))
    };
    let hit = match rest.first() {
        Some(b'_') => underscores(rest) >= 40,
        Some(b'y' | b'Y') => starts(b"you received this message because you are subscribed to"),
        Some(b'-') => starts(b"-=-=-=-=-=-=-=-="),
        Some(b'l' | b'L') => starts(b"links: you receive all messages sent to this group"),
        Some(b't' | b'T') => starts(b"this sf.net email is sponsored"),
        _ => false,
    };
    hit.then_some(quoted)
}

/// Length of the run of `_` at the start of `rest`, looking through `<wbr>` (which mail clients
/// insert into long runs in quoted HTML); counts at most 40.
fn underscores(rest: &[u8]) -> usize {
    let (mut i, mut n) = (0, 0);
    while n < 40 {
        match rest.get(i) {
            Some(b'_') => {
                n += 1;
                i += 1;
            }
            Some(b'<')
                if rest
                    .get(i..i + 4)
                    .is_some_and(|t| t.eq_ignore_ascii_case(b"<wbr")) =>
            {
                match memchr(b'>', rest.get(i..).unwrap_or(&[])) {
                    Some(p) if p <= 8 => i += p + 1,
                    _ => break,
                }
            }
            _ => break,
        }
    }
    n
}

/// The end of a quoted footer block starting at line `pos`: the following quoted lines up to a
/// blank (quote-only) or unquoted line, at most 8 lines.
fn quoted_block_end(buf: &[u8], pos: usize) -> usize {
    let mut end = memchr(b'\n', buf.get(pos..).unwrap_or(&[])).map_or(buf.len(), |p| pos + p + 1);
    for _ in 0..8 {
        if end >= buf.len() {
            break;
        }
        let line_end =
            memchr(b'\n', buf.get(end..).unwrap_or(&[])).map_or(buf.len(), |p| end + p + 1);
        let line = buf.get(end..line_end).unwrap_or(&[]);
        let (skip, quoted) = quote_prefix(line);
        if !quoted
            || line
                .get(skip..)
                .is_none_or(|r| r.iter().all(u8::is_ascii_whitespace))
        {
            break;
        }
        end = line_end;
    }
    end
}

/// List footers: quoted copies (in replies) as blocks to remove, and the position where the
/// list's own footer starts (everything after it is the list's), or `buf.len()`. Markers are
/// looked for at line starts (in HTML also right after a tag); the `listinfo` rule only in the
/// last lines of plain text. In HTML a quoted footer cannot be told from the list's own, so
/// every marker cuts.
fn footers(buf: &[u8], html: bool, blocks: &mut Vec<(usize, usize, Repl)>) -> usize {
    let mut check = |pos: usize| -> Option<usize> {
        match footer_marker_at(buf, pos) {
            Some(true) if !html => {
                let end = quoted_block_end(buf, pos);
                if blocks.last().is_none_or(|b| b.1 <= pos) {
                    blocks.push((pos, end, Repl::Nothing));
                }
                None
            }
            Some(_) => Some(pos),
            None => None,
        }
    };
    if let Some(c) = check(0) {
        return c;
    }
    let mut cut = buf.len();
    if html {
        for p in memchr2_iter(b'\n', b'>', buf) {
            if let Some(c) = check(p + 1) {
                cut = c;
                break;
            }
        }
    } else {
        for p in memchr_iter(b'\n', buf) {
            if let Some(c) = check(p + 1) {
                cut = c;
                break;
            }
        }
    }
    // Lines left over from mangled quoted footers and digests: any line with a Mailman
    // `listinfo` link, and quoted lines with any `/listinfo` link.
    let head = buf.get(..cut).unwrap_or(&[]);
    for h in memmem::find_iter(head, b"/listinfo") {
        let ls = memrchr(b'\n', head.get(..h).unwrap_or(&[])).map_or(0, |p| p + 1);
        let le = memchr(b'\n', head.get(h..).unwrap_or(&[])).map_or(cut, |p| h + p + 1);
        let mailman = h >= 7 && head.get(h - 7..h) == Some(b"mailman");
        let line_ok = le - ls <= 300 && (mailman || quote_prefix(head.get(ls..).unwrap_or(&[])).1);
        if line_ok && blocks.iter().all(|b| b.1 <= ls || b.0 >= le) {
            blocks.push((ls, le, Repl::Nothing));
        }
    }
    if cut < buf.len() || html {
        return cut;
    }
    if cut < buf.len() {
        return cut;
    }
    // A list's "listinfo" line (FoRK, ILUG) in the last lines: cut its paragraph.
    let tail_start = buf.len().saturating_sub(600);
    let tail = buf.get(tail_start..).unwrap_or(&[]);
    let Some(hit) =
        memmem::rfind(tail, b"/listinfo").or_else(|| memmem::rfind(tail, b"mailman/options"))
    else {
        return buf.len();
    };
    let hit = tail_start + hit;
    let mut cut = memrchr(b'\n', buf.get(..hit).unwrap_or(&[])).map_or(0, |p| p + 1);
    if quote_prefix(buf.get(cut..).unwrap_or(&[])).1 {
        return buf.len();
    }
    for _ in 0..3 {
        if cut == 0 {
            break;
        }
        let prev_start = memrchr(b'\n', buf.get(..cut - 1).unwrap_or(&[])).map_or(0, |p| p + 1);
        let prev = buf.get(prev_start..cut - 1).unwrap_or(&[]);
        if prev.iter().all(u8::is_ascii_whitespace) {
            break;
        }
        cut = prev_start;
    }
    cut
}

/// Drops trailing whitespace and separator lines (`--`, `-- `, `-----`, `____`).
fn trim_trailing_separators(out: &mut Vec<u8>) {
    for _ in 0..6 {
        while out.last().is_some_and(u8::is_ascii_whitespace) {
            out.pop();
        }
        let ls = memrchr(b'\n', out).map_or(0, |p| p + 1);
        let line = out.get(ls..).unwrap_or(&[]);
        if !line.is_empty() && line.len() <= 80 && line.iter().all(|b| b"-_=~* ".contains(b)) {
            out.truncate(ls);
        } else {
            break;
        }
    }
}

/// Copies a subject into `out` without list tags: bracketed single tokens such as
/// `[USRP-users]`, `[Linaro-mm-sig]`, `[SAtalk]`, `[tomoyo-users-en 123]` (lists and
/// receiving gateways add them; `[EXTERNAL]`, `[SPAM]` too). Tags with several words
/// (`[PATCH v2 1/3]`, `[Action Required]`) are the sender's and are kept.
pub(super) fn strip_list_tags(subject: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while i < subject.len() {
        let b = subject.get(i).copied().unwrap_or(0);
        if b == b'[' {
            let close = subject
                .get(i + 1..)
                .and_then(|r| r.iter().take(48).position(|&c| c == b']'));
            if let Some(c) = close {
                let inner = subject.get(i + 1..i + 1 + c).unwrap_or(&[]);
                if is_list_tag(inner) {
                    i += c + 2;
                    while subject.get(i) == Some(&b' ') {
                        i += 1;
                    }
                    continue;
                }
            }
        }
        out.push(b);
        i += 1;
    }
}

fn is_list_tag(inner: &[u8]) -> bool {
    let t = trim_ascii(inner);
    if t.is_empty() {
        return false;
    }
    // One token, optionally followed by a list counter ("tomoyo-users-en   123").
    let mut parts = t
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|p| !p.is_empty());
    let first = parts.next().unwrap_or(&[]);
    let rest_ok = parts.all(|p| p.iter().all(u8::is_ascii_digit));
    rest_ok
        && !first.is_empty()
        && first
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b) || b >= 0x80)
}

/// Trims ASCII whitespace on both ends.
pub(super) fn trim_ascii(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |p| p + 1);
    s.get(start..end.max(start)).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use shrike_types::Mailbox;

    fn rec_to(to: &str) -> EmailRecord {
        EmailRecord {
            to: vec![Mailbox {
                name: None,
                address: to.into(),
            }],
            headers: vec![("Delivered-To".into(), "lists+usrp-users@lfdr.de".into())],
            ..Default::default()
        }
    }

    fn clean(src: &str, kind: Kind, to: &str) -> String {
        let mut m = Masks::default();
        m.build(&rec_to(to));
        let mut c = Cleaner::default();
        let mut out = Vec::new();
        c.clean(src, kind, &m, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn masks_recipients_placeholders_and_domains() {
        assert_eq!(
            clean(
                "Dear Bob@Corp.example, see x",
                Kind::Text,
                "bob@corp.example"
            ),
            "Dear rcptmask, see x"
        );
        assert_eq!(
            clean(
                "https://a.xyz/?e=jose%40monkey.org&x=1",
                Kind::Short,
                "x@y.com"
            ),
            "https://a.xyz/?e=rcptmask&x=1"
        );
        assert_eq!(
            clean(
                "l=a%2Czzzz-unspun@spamassassin.taint.org%2Chtm",
                Kind::Short,
                "x@y.com"
            ),
            "l=rcptmask"
        );
        assert_eq!(
            clean("to phishing@pot@outlook.com.", Kind::Short, "x@y.com"),
            "to rcptmask."
        );
        assert_eq!(
            clean("lists+usrp-users@lfdr.de wrote", Kind::Short, "x@y.com"),
            "rcptmask wrote"
        );
        assert_eq!(
            clean("Guten Tag phishing@pot-f-p,", Kind::Short, "x@y.com"),
            "Guten Tag rcptmask,"
        );
        assert_eq!(
            clean(
                "Your monkey.org and login.Monkey.org mailbox",
                Kind::Text,
                "x@y.com"
            ),
            "Your rcptmask and rcptmask mailbox"
        );
        assert_eq!(
            clean(
                "corp.example.com is not corp.example",
                Kind::Text,
                "bob@corp.example"
            ),
            "corp.example.com is not rcptmask"
        );
        assert_eq!(
            clean("gmail.com stays", Kind::Text, "bob@gmail.com"),
            "gmail.com stays"
        );
        assert_eq!(
            clean("alice@other.example stays", Kind::Text, "bob@corp.example"),
            "alice@other.example stays"
        );
    }

    #[test]
    fn normalises_line_endings_and_invisible_characters() {
        assert_eq!(clean("a\r\nb\rc\n", Kind::Text, "x@y.com"), "a\nb\nc");
        assert_eq!(
            clean("Pa\u{200b}ss\u{ad}word\u{a0}now", Kind::Text, "x@y.com"),
            "Password now"
        );
    }

    #[test]
    fn cuts_list_footers() {
        let mailman = "Hello\n\n_______________________________________________\nUSRP-users mailing list\nUSRP-users@lists.ettus.com\n";
        assert_eq!(clean(mailman, Kind::Text, "x@y.com"), "Hello");
        let gg = "Patch ok.\n\n-- \nYou received this message because you are subscribed to the Google Groups \"open-iscsi\" group.\nTo unsubscribe...";
        assert_eq!(clean(gg, Kind::Text, "x@y.com"), "Patch ok.");
        let gio = "Test passed\n\n-=-=-=-=-=-=-=-=-=-=-=-\nLinks: You receive all messages sent to this group.\n";
        assert_eq!(clean(gio, Kind::Text, "x@y.com"), "Test passed");
        let ilug = "My answer.\n\n-- \nIrish Linux Users' Group: ilug@linux.ie\nhttp://www.linux.ie/mailman/listinfo/ilug for (un)subscription information.\nList maintainer: listmaster@linux.ie\n";
        assert_eq!(clean(ilug, Kind::Text, "x@y.com"), "My answer.");
        let quoted = "> question\n> _______________________________________________\n> USRP-users mailing list\n> http://lists.ettus.com/mailman/listinfo/usrp-users\n>\nMy answer.\n";
        assert_eq!(
            clean(quoted, Kind::Text, "x@y.com"),
            "> question\n>\nMy answer."
        );
        let quoted_last = "Agreed.\n\n> question\n> _______________________________________________\n> USRP-users mailing list\n";
        assert_eq!(
            clean(quoted_last, Kind::Text, "x@y.com"),
            "Agreed.\n\n> question"
        );
        let deep = ">>>      >>>>>>> _______________________________________________\n>>>      >>>>>>> USRP-users mailing list\nok";
        assert_eq!(clean(deep, Kind::Text, "x@y.com"), "ok");
        let art = "> |   |     _____________________________________________________\n> |   |    /";
        assert_eq!(clean(art, Kind::Text, "x@y.com"), art);
        let mangled = "> > > > ____________________________________________________\n> > > > USRP-users mailing list\n> > > >\n> > > http://lists.ettus.com/mailman/listinfo/usrp-users\n> >\nYes.";
        assert_eq!(clean(mangled, Kind::Text, "x@y.com"), "> > > >\n> >\nYes.");
        let wbr = "<p>ok</p>&gt; ___<wbr>_____________________________________<br>\nUSRP-users mailing list<br>";
        assert_eq!(clean(wbr, Kind::Html, "x@y.com"), "<p>ok</p>");
        let fork = "Some text.\n\nhttp://xent.com/mailman/listinfo/fork\n";
        assert_eq!(clean(fork, Kind::Text, "x@y.com"), "Some text.");
        let html = "<p>Hi</p><p>-- <br />\nYou received this message because you are subscribed to the Google Groups</p>";
        assert_eq!(clean(html, Kind::Html, "x@y.com"), "<p>Hi</p><p>-- <br />");
        // An Outlook reply separator (32 underscores) is the sender's, not a footer.
        let outlook = "Reply\n________________________________\nFrom: a";
        assert_eq!(
            clean(outlook, Kind::Text, "x@y.com"),
            "Reply\n________________________________\nFrom: a"
        );
    }

    #[test]
    fn strips_list_tags_only() {
        let mut out = Vec::new();
        strip_list_tags(
            b"Re: [USRP-users] [tomoyo-users-en 123] B210 [PATCH v2 1/3] fix [Action Required]",
            &mut out,
        );
        assert_eq!(
            String::from_utf8_lossy(&out),
            "Re: B210 [PATCH v2 1/3] fix [Action Required]"
        );
    }

    #[test]
    fn b64_prefix_of_placeholder() {
        let p = b64_prefix(b"jose@monkey.org").unwrap_or([0; B64_PREFIX]);
        assert_eq!(&p, b"am9zzubtb25r");
        assert_eq!(b64_prefix(b"a@b"), None);
    }
}

//! URL features: URLs found in the cleaned text part (`scheme://...` and `www....`), in the HTML
//! part's `href`/`src`/form `action`/meta refresh, and in `EmailRecord::urls` (email-log
//! sources), de-duplicated by exact string. The HTML's visible text is not searched: a URL
//! written as anchor text is what the reader is shown, not where the link goes (it feeds
//! `url_text_href_mismatch` instead).
//!
//! Every URL has already been through `clean` (recipients masked), so no URL feature can see a
//! recipient or collector address. Hosts are compared by registrable domain. Per distinct URL:
//! scheme, IP-literal host, shortener, risky TLD, free hosting, `@` in the authority, port,
//! punycode, subdomain depth, brand lookalike (cached per registrable domain), brand name in a
//! subdomain, off-From-domain, redirect parameter, risky file extension, length, and Shannon
//! entropy of host + path. Anchors whose visible text is itself a URL or domain are compared
//! with their `href`.

use super::clean::{Cleaner, Kind, Masks, B64_PREFIX};
use super::domain::{
    brands, has_risky_tld, is_ip_literal, registrable, sets, subdomain_depth, Scratch, StrSet,
};
use super::html::{HtmlScan, LinkKind};
use super::put;
use super::tables::{ARCHIVE_EXTENSIONS, MASK_TOKEN};
use super::text::hash_bytes;
use memchr::memmem;

super::feature_group! {
    "url" {
        Count => "url_count_log", "ln(1 + number of distinct URLs) in the text part, HTML links and supplied URLs";
        DistinctDomains => "url_distinct_domains", "Number of distinct registrable domains among the URLs";
        IpHost => "url_ip_host", "URLs whose host is an IP literal (dotted, decimal, hex or IPv6)";
        Shortener => "url_shortener", "URLs on a URL shortener or link redirector (bit.ly, tinyurl, t.co, ...)";
        RiskyTld => "url_risky_tld", "URLs whose host is under a frequently abused TLD (zip, top, xyz, tk, ...)";
        FreeHosting => "url_free_hosting", "URLs on free hosting / cloud storage where anyone can publish (web.app, github.io, r2.dev, ...)";
        TextHrefMismatch => "url_text_href_mismatch", "HTML anchors whose visible text is a URL or domain on a different registrable domain than the href";
        FormPassword => "url_form_password", "1 when the HTML has a password input";
        FormExternalAction => "url_form_external_action", "HTML forms posting to a domain other than the From domain";
        EntropyMax => "url_entropy_max", "Maximum Shannon entropy (bits per character) of host + path over the URLs; NaN without URLs";
        EntropyMean => "url_entropy_mean", "Mean Shannon entropy (bits per character) of host + path; NaN without URLs";
        LengthMax => "url_length_max", "Length of the longest URL in bytes; NaN without URLs";
        AtInAuthority => "url_at_in_authority", "URLs with an @ in the authority (user-info hiding the real host)";
        ManySubdomains => "url_many_subdomains", "URLs with 3 or more labels left of the registrable domain";
        SubdomainDepthMax => "url_subdomain_depth_max", "Most labels left of the registrable domain in any URL host; NaN without URLs";
        Punycode => "url_punycode", "URLs whose host has a punycode (xn--) label or non-ASCII characters";
        Lookalike => "url_lookalike", "URLs whose registrable domain imitates a brand domain (homoglyphs, typos, brand + words)";
        BrandInSubdomain => "url_brand_in_subdomain", "URLs with a brand name as a subdomain label of a domain the brand does not own";
        HttpShare => "url_http_share", "Share of http: (not https:) among URLs with an explicit http(s) scheme; NaN without";
        OffDomainShare => "url_offdomain_share", "Share of URLs whose registrable domain differs from the From domain; NaN without URLs or From domain";
        NonstandardPort => "url_nonstandard_port", "URLs with an explicit port other than 80 and 443";
        ScriptScheme => "url_script_scheme", "HTML links with a javascript:, vbscript: or data: scheme";
        RedirectParam => "url_redirect_param", "URLs carrying another URL in their query (open-redirect abuse)";
        RiskyFileLink => "url_risky_file_link", "URLs whose path ends in an executable, script, disk image or archive extension";
    }
}

/// Most distinct URLs analysed per message (all are counted).
const MAX_URLS: usize = 256;
/// Longest URL kept, in bytes.
const MAX_URL_LEN: usize = 2048;

/// Reusable buffers.
#[derive(Debug, Default)]
pub(super) struct UrlScratch {
    buf: Vec<u8>,
    /// `(hash, start, end)` of each URL in `buf`.
    items: Vec<(u64, usize, usize)>,
    regs: Vec<u64>,
    /// What each distinct host (by hash of its bytes) is.
    hosts: Vec<(u64, HostInfo)>,
    /// Lookalike verdict per registrable domain hash.
    looks: Vec<(u64, bool)>,
    host: String,
    host2: String,
    tmp: Vec<u8>,
    sk: Scratch,
}

/// Everything the URL group needs.
pub(super) struct Inputs<'a> {
    /// The cleaned text part (lower case).
    pub(super) text: &'a [u8],
    /// The HTML scan of the cleaned HTML part.
    pub(super) html: Option<&'a HtmlScan>,
    /// `EmailRecord::urls`.
    pub(super) supplied: &'a [String],
    /// The From registrable domain, lower case, or empty.
    pub(super) from_reg: &'a str,
}

/// A parsed absolute URL (byte ranges of the input).
struct Parsed<'a> {
    scheme: &'a [u8],
    host: &'a [u8],
    port: Option<&'a [u8]>,
    at_in_authority: bool,
    path: &'a [u8],
    query: &'a [u8],
}

fn parse(u: &[u8]) -> Option<Parsed<'_>> {
    let (scheme, rest) = if let Some(p) = find_small(u.get(..u.len().min(12))?, b"://") {
        let s = u.get(..p)?;
        if s.is_empty() || !s.iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        (s, u.get(p + 3..)?)
    } else if let Some(r) = u.strip_prefix(b"//") {
        (&b""[..], r)
    } else if u.len() > 4 && u.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"www.")) {
        (&b""[..], u)
    } else {
        return None;
    };
    let auth_end = rest
        .iter()
        .position(|b| matches!(b, b'/' | b'?' | b'#' | b'\\'))
        .unwrap_or(rest.len());
    let auth = rest.get(..auth_end)?;
    let after = rest.get(auth_end..)?;
    let at = auth.iter().rposition(|&b| b == b'@');
    let hostport = at.map_or(Some(auth), |p| auth.get(p + 1..))?;
    let (host, port) = if hostport.first() == Some(&b'[') {
        let close = hostport
            .iter()
            .position(|&b| b == b']')
            .map_or(hostport.len(), |p| p + 1);
        let port = hostport.get(close..).and_then(|r| r.strip_prefix(b":"));
        (hostport.get(..close)?, port)
    } else {
        match hostport.iter().rposition(|&b| b == b':') {
            Some(p) => (hostport.get(..p)?, hostport.get(p + 1..)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let q = after
        .iter()
        .position(|b| matches!(b, b'?' | b'#'))
        .unwrap_or(after.len());
    Some(Parsed {
        scheme,
        host,
        port,
        at_in_authority: at.is_some(),
        path: after.get(..q)?,
        query: after.get(q..)?,
    })
}

/// Whether a byte can continue a URL written in text.
fn is_url_byte(b: u8) -> bool {
    b > b' '
        && !matches!(
            b,
            b'<' | b'>' | b'"' | b'\'' | b'`' | b'{' | b'}' | b'|' | b'^' | b'\\' | 0x7F
        )
}

/// `c * log2(c)` for the byte counts a URL can have, computed once.
fn clog_table() -> &'static [f32] {
    static T: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        (0..=MAX_URL_LEN)
            .map(|c| {
                if c == 0 {
                    0.0
                } else {
                    c as f32 * (c as f32).log2()
                }
            })
            .collect()
    })
}

/// Shannon entropy in bits per byte: `log2(n) - sum(c log2 c) / n`. Visits only the bytes
/// present (each byte's count is consumed the first time it is seen).
fn entropy(parts: [&[u8]; 2]) -> f32 {
    let mut counts = [0u16; 256];
    let mut n = 0usize;
    for p in parts {
        for &b in p {
            if let Some(c) = counts.get_mut(usize::from(b)) {
                *c = c.saturating_add(1);
            }
        }
        n += p.len();
    }
    if n == 0 {
        return 0.0;
    }
    let table = clog_table();
    let mut sum = 0.0f32;
    for p in parts {
        for &b in p {
            if let Some(c) = counts.get_mut(usize::from(b)) {
                if *c > 0 {
                    sum += table
                        .get(usize::from(*c))
                        .copied()
                        .unwrap_or_else(|| f32::from(*c) * f32::from(*c).log2());
                    *c = 0;
                }
            }
        }
    }
    let nf = n as f32;
    (nf.log2() - sum / nf).max(0.0)
}

/// Position of a short `needle` in a short `hay` (no searcher set-up, unlike `memmem`).
fn find_small(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(p) = hay.get(from..).and_then(|h| memchr::memchr(first, h)) {
        let at = from + p;
        if hay.get(at + 1..at + 1 + rest.len()) == Some(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Whether the anchor text looks like a URL or a bare domain; returns its host.
fn text_host(text: &[u8]) -> Option<&[u8]> {
    let t = super::clean::trim_ascii(text);
    if t.is_empty() || t.len() > 200 || t.iter().any(|b| b.is_ascii_whitespace() || *b == b'@') {
        return None;
    }
    let t = match find_small(t.get(..t.len().min(12))?, b"://") {
        Some(p) => t.get(p + 3..)?,
        None => t,
    };
    let end = t
        .iter()
        .position(|b| matches!(b, b'/' | b'?' | b'#' | b':'))
        .unwrap_or(t.len());
    let host = t.get(..end)?;
    let host = host.strip_suffix(b".").unwrap_or(host);
    let last = host.rsplit(|&b| b == b'.').next()?;
    let dotted = host.contains(&b'.');
    let tld_ok = last.len() >= 2 && last.iter().all(u8::is_ascii_alphabetic);
    let ip = host.iter().all(|b| b.is_ascii_digit() || *b == b'.')
        && host.iter().filter(|&&b| b == b'.').count() == 3;
    (dotted && (tld_ok || ip)).then_some(host)
}

/// Extensions of a link to a file that runs or unpacks (plus [`ARCHIVE_EXTENSIONS`]).
fn link_extensions() -> &'static StrSet {
    static S: std::sync::OnceLock<StrSet> = std::sync::OnceLock::new();
    S.get_or_init(|| StrSet::new(LINK_EXTENSIONS.iter().chain(ARCHIVE_EXTENSIONS).copied()))
}

const LINK_EXTENSIONS: &[&str] = &[
    "apk", "appx", "bat", "cmd", "dmg", "docm", "exe", "hta", "img", "iso", "jar", "js", "jse",
    "lnk", "msi", "msix", "one", "ps1", "scr", "vbe", "vbs", "vhd", "vhdx", "wsf", "xlsm",
];

/// Bytes of a base64 token.
fn is_b64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_')
}

/// Copies `u` into `dst`, replacing base64 tokens (after `#`, `=`, `/`, `?`, `&`) that start with
/// an encoded recipient or placeholder address by the mask token.
fn mask_b64(u: &[u8], prefixes: &[[u8; B64_PREFIX]], dst: &mut Vec<u8>) -> bool {
    let (mut pos, mut found) = (0, false);
    let mut i = 0;
    while let Some(d) = u.get(i..).and_then(|r| {
        r.iter()
            .position(|b| matches!(b, b'#' | b'=' | b'/' | b'?' | b'&'))
    }) {
        let t = i + d + 1;
        i = t;
        let Some(head) = u.get(t..t + B64_PREFIX) else {
            break;
        };
        let first = head.first().map_or(0, u8::to_ascii_lowercase);
        if !prefixes
            .iter()
            .any(|p| p.first() == Some(&first) && head.eq_ignore_ascii_case(p))
        {
            continue;
        }
        let len = u
            .get(t..)
            .map_or(0, |r| r.iter().take_while(|&&b| is_b64_byte(b)).count());
        dst.extend_from_slice(u.get(pos..t).unwrap_or(&[]));
        dst.extend_from_slice(MASK_TOKEN.as_bytes());
        pos = t + len;
        i = pos;
        found = true;
    }
    if found {
        dst.extend_from_slice(u.get(pos..).unwrap_or(&[]));
    }
    found
}

impl UrlScratch {
    fn push(&mut self, url: &[u8], b64: &[[u8; B64_PREFIX]]) {
        let mut u = super::clean::trim_ascii(url);
        while let Some((last, rest)) = u.split_last() {
            if b".,;:!?)]*'\"".contains(last) {
                u = rest;
            } else {
                break;
            }
        }
        if u.len() > MAX_URL_LEN {
            let mut end = MAX_URL_LEN;
            while end > 0 && u.get(end).is_some_and(|b| (b & 0xC0) == 0x80) {
                end -= 1;
            }
            u = u.get(..end).unwrap_or(&[]);
        }
        if u.len() < 4 || self.items.len() >= 4 * MAX_URLS {
            return;
        }
        let start = self.buf.len();
        if !mask_b64(u, b64, &mut self.buf) {
            self.buf.extend_from_slice(u);
        }
        let stored = self.buf.get(start..).unwrap_or(&[]);
        self.items.push((hash_bytes(stored), start, self.buf.len()));
    }

    /// Finds `scheme://` and `www.` URLs in cleaned text.
    fn find_in_text(&mut self, t: &[u8], b64: &[[u8; B64_PREFIX]]) {
        let mut last_end = 0;
        for p in memmem::find_iter(t, b"://") {
            if p < last_end {
                continue;
            }
            let mut s = p;
            while s > 0 && p - s < 10 && t.get(s - 1).is_some_and(u8::is_ascii_alphabetic) {
                s -= 1;
            }
            if s == p {
                continue;
            }
            let e = url_end(t, p + 3);
            last_end = e;
            self.push(t.get(s..e).unwrap_or(&[]), b64);
        }
        for p in memmem::find_iter(t, b"www.") {
            let prev = if p > 0 { t.get(p - 1).copied() } else { None };
            if prev.is_some_and(|b| {
                b.is_ascii_alphanumeric() || b == b'/' || b == b'.' || b == b'@' || b == b'-'
            }) {
                continue;
            }
            let e = url_end(t, p);
            self.push(t.get(p..e).unwrap_or(&[]), b64);
        }
    }
}

fn url_end(t: &[u8], mut e: usize) -> usize {
    while let Some(&b) = t.get(e) {
        // Stop at spaces and at multi-byte punctuation (no-break space, quotes, dashes).
        let stop = !is_url_byte(b)
            || (b == 0xC2 && t.get(e + 1).is_some_and(|&c| (0xA0..=0xBF).contains(&c)))
            || (b == 0xE2 && t.get(e + 1) == Some(&0x80));
        if stop {
            break;
        }
        e += 1;
    }
    e
}

/// What a URL host is, computed once per distinct host of a message.
#[derive(Debug, Clone, Copy, Default)]
struct HostInfo {
    reg_hash: u64,
    ip: bool,
    shortener: bool,
    risky_tld: bool,
    hosting: bool,
    depth: u8,
    punycode: bool,
    off_domain: bool,
    lookalike: bool,
    brand_in_subdomain: bool,
}

/// Classifies a lower-case host.
fn host_info(
    host: &str,
    from_reg: &str,
    sk: &mut Scratch,
    looks: &mut Vec<(u64, bool)>,
) -> HostInfo {
    let bi = brands();
    let reg = registrable(host);
    let ip = is_ip_literal(host);
    let depth = if ip { 0 } else { subdomain_depth(host, reg) };
    let owned = bi.owned_by_any(reg);
    let sub = host
        .get(..host.len().saturating_sub(reg.len() + 1))
        .unwrap_or("");
    HostInfo {
        reg_hash: hash_bytes(reg.as_bytes()),
        ip,
        shortener: sets().shorteners.contains(reg),
        risky_tld: !ip && has_risky_tld(host),
        hosting: reg
            .split_once('.')
            .is_some_and(|(_, suf)| sets().hosting.contains(suf)),
        depth: depth.min(255) as u8,
        punycode: !host.is_ascii() || host.split('.').any(|l| l.starts_with("xn--")),
        off_domain: !from_reg.is_empty() && reg != from_reg,
        lookalike: !ip && !owned && {
            let rh = hash_bytes(reg.as_bytes());
            match looks.iter().find(|x| x.0 == rh) {
                Some(x) => x.1,
                None => {
                    let v = bi.is_lookalike(reg, sk);
                    looks.push((rh, v));
                    v
                }
            }
        },
        brand_in_subdomain: depth > 0
            && !owned
            && sub.split('.').any(|l| bi.label_names_brand(l, sk)),
    }
}

/// Computes the URL group into `out` (length `DEFS.len()`, zero-filled).
pub(super) fn extract(
    inp: &Inputs<'_>,
    masks: &Masks,
    cleaner: &mut Cleaner,
    s: &mut UrlScratch,
    out: &mut [f32],
) {
    s.buf.clear();
    s.items.clear();
    s.regs.clear();
    s.hosts.clear();
    s.looks.clear();
    let b64 = masks.b64.as_slice();
    s.find_in_text(inp.text, b64);
    let mut script_links = 0u32;
    if let Some(h) = inp.html {
        for l in &h.links {
            let v = h.attr.get(l.start..l.end).unwrap_or(&[]);
            let scheme_end = v.iter().take(12).position(|&b| b == b':');
            let scheme = scheme_end.and_then(|p| v.get(..p)).unwrap_or(&[]);
            if [&b"javascript"[..], b"vbscript", b"data"]
                .iter()
                .any(|x| scheme.eq_ignore_ascii_case(x))
            {
                script_links += 1;
            } else if l.kind != LinkKind::Src || v.starts_with(b"http") || v.starts_with(b"//") {
                s.push(v, b64);
            }
        }
    }
    for u in inp.supplied {
        let mut tmp = std::mem::take(&mut s.tmp);
        cleaner.clean(u, Kind::Short, masks, &mut tmp);
        s.push(&tmp, b64);
        s.tmp = tmp;
    }
    s.items.sort_unstable_by_key(|x| x.0);
    s.items.dedup_by_key(|x| x.0);
    put(out, F::ScriptScheme, script_links as f32);

    let (mut n, mut http, mut https) = (0u32, 0u32, 0u32);
    let (
        mut ip,
        mut short,
        mut risky,
        mut hosting,
        mut at,
        mut many,
        mut puny,
        mut look,
        mut brand_sub,
    ) = (0u32, 0u32, 0u32, 0u32, 0u32, 0u32, 0u32, 0u32, 0u32);
    let (mut port, mut redirect, mut file, mut offdomain) = (0u32, 0u32, 0u32, 0u32);
    let (mut ent_max, mut ent_sum, mut len_max, mut depth_max) = (0f32, 0f32, 0usize, 0usize);
    let items = std::mem::take(&mut s.items);
    for &(_, a, b) in items.iter().take(MAX_URLS) {
        let u = s.buf.get(a..b).unwrap_or(&[]);
        let Some(p) = parse(u) else { continue };
        n += 1;
        if p.scheme.eq_ignore_ascii_case(b"http") {
            http += 1;
        } else if p.scheme.eq_ignore_ascii_case(b"https") {
            https += 1;
        }
        let hh = hash_bytes(p.host);
        let info = match s.hosts.iter().find(|x| x.0 == hh) {
            Some(x) => x.1,
            None => {
                lower_into(&mut s.host, p.host);
                let info = host_info(
                    s.host.trim_end_matches('.'),
                    inp.from_reg,
                    &mut s.sk,
                    &mut s.looks,
                );
                if s.hosts.len() < MAX_URLS {
                    s.hosts.push((hh, info));
                }
                info
            }
        };
        ip += u32::from(info.ip);
        short += u32::from(info.shortener);
        risky += u32::from(info.risky_tld);
        hosting += u32::from(info.hosting);
        at += u32::from(p.at_in_authority);
        many += u32::from(info.depth >= 3);
        depth_max = depth_max.max(usize::from(info.depth));
        puny += u32::from(info.punycode);
        port += u32::from(
            p.port
                .is_some_and(|x| !x.is_empty() && x != b"80" && x != b"443"),
        );
        offdomain += u32::from(info.off_domain);
        look += u32::from(info.lookalike);
        brand_sub += u32::from(info.brand_in_subdomain);
        if !s.regs.contains(&info.reg_hash) {
            s.regs.push(info.reg_hash);
        }
        let q = p.query;
        redirect += u32::from(
            find_small(q, b"://").is_some() || find_ci(q, b"%3a%2f%2f") || find_ci(q, b"http%3a"),
        );
        let ext = p
            .path
            .rsplit(|&b| b == b'.')
            .next()
            .filter(|e| e.len() < p.path.len())
            .unwrap_or(&[]);
        let mut lower = [0u8; 8];
        if (1..=lower.len()).contains(&ext.len()) {
            for (d, c) in lower.iter_mut().zip(ext) {
                *d = c.to_ascii_lowercase();
            }
            let e = std::str::from_utf8(lower.get(..ext.len()).unwrap_or(&[])).unwrap_or("");
            file += u32::from(link_extensions().contains(e));
        }
        let e = entropy([p.host, p.path]);
        ent_max = ent_max.max(e);
        ent_sum += e;
        len_max = len_max.max(u.len());
    }
    s.items = items;
    put(out, F::Count, (s.items.len() as f32).ln_1p());
    put(out, F::DistinctDomains, s.regs.len() as f32);
    put(out, F::IpHost, ip as f32);
    put(out, F::Shortener, short as f32);
    put(out, F::RiskyTld, risky as f32);
    put(out, F::FreeHosting, hosting as f32);
    put(out, F::AtInAuthority, at as f32);
    put(out, F::ManySubdomains, many as f32);
    put(out, F::Punycode, puny as f32);
    put(out, F::Lookalike, look as f32);
    put(out, F::BrandInSubdomain, brand_sub as f32);
    put(out, F::NonstandardPort, port as f32);
    put(out, F::RedirectParam, redirect as f32);
    put(out, F::RiskyFileLink, file as f32);
    let nan = f32::NAN;
    if n > 0 {
        put(out, F::EntropyMax, ent_max);
        put(out, F::EntropyMean, ent_sum / n as f32);
        put(out, F::LengthMax, len_max as f32);
        put(out, F::SubdomainDepthMax, depth_max as f32);
        put(
            out,
            F::OffDomainShare,
            if inp.from_reg.is_empty() {
                nan
            } else {
                offdomain as f32 / n as f32
            },
        );
    } else {
        for f in [
            F::EntropyMax,
            F::EntropyMean,
            F::LengthMax,
            F::SubdomainDepthMax,
            F::OffDomainShare,
        ] {
            put(out, f, nan);
        }
    }
    put(
        out,
        F::HttpShare,
        if http + https > 0 {
            http as f32 / (http + https) as f32
        } else {
            nan
        },
    );

    // HTML-only checks: anchor text vs href, forms.
    let (mut mismatch, mut external) = (0u32, 0u32);
    if let Some(h) = inp.html {
        for a in &h.anchors {
            let Some(l) = h.links.get(a.link) else {
                continue;
            };
            // Most anchor texts are words: check the text first.
            let Some(th) = text_host(h.text.get(a.text.0..a.text.1).unwrap_or(&[])) else {
                continue;
            };
            let href = h.attr.get(l.start..l.end).unwrap_or(&[]);
            let Some(hp) = parse(href) else { continue };
            lower_into(&mut s.host, hp.host);
            lower_into(&mut s.host2, th);
            if registrable(s.host.trim_end_matches('.')) != registrable(&s.host2) {
                mismatch += 1;
            }
        }
        for l in h.links.iter().filter(|l| l.kind == LinkKind::Action) {
            let v = h.attr.get(l.start..l.end).unwrap_or(&[]);
            if let Some(p) = parse(v) {
                lower_into(&mut s.host, p.host);
                if inp.from_reg.is_empty()
                    || registrable(s.host.trim_end_matches('.')) != inp.from_reg
                {
                    external += 1;
                }
            }
        }
        put(
            out,
            F::FormPassword,
            f32::from(u8::from(h.password_inputs > 0)),
        );
    }
    put(out, F::TextHrefMismatch, mismatch as f32);
    put(out, F::FormExternalAction, external as f32);
}

/// Replaces `dst` with `src` (lossy UTF-8), ASCII-lower-cased.
fn lower_into(dst: &mut String, src: &[u8]) {
    dst.clear();
    dst.push_str(&String::from_utf8_lossy(src));
    dst.make_ascii_lowercase();
}

fn find_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len()
        && hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let p = parse(b"https://user@evil.example:8443/a/b.exe?x=https://y#f");
        let p = p.map(|p| {
            (
                p.scheme.to_vec(),
                p.host.to_vec(),
                p.port.map(<[u8]>::to_vec),
                p.at_in_authority,
                p.path.to_vec(),
                p.query.to_vec(),
            )
        });
        assert_eq!(
            p,
            Some((
                b"https".to_vec(),
                b"evil.example".to_vec(),
                Some(b"8443".to_vec()),
                true,
                b"/a/b.exe".to_vec(),
                b"?x=https://y#f".to_vec()
            ))
        );
        assert!(parse(b"mailto:a@b.c").is_none());
        assert!(parse(b"/relative/path").is_none());
        assert_eq!(
            parse(b"www.x.com/p").map(|p| p.host.to_vec()),
            Some(b"www.x.com".to_vec())
        );
        assert_eq!(
            parse(b"http://[::1]:80/").map(|p| p.host.to_vec()),
            Some(b"[::1]".to_vec())
        );
        assert!(parse(b"http://").is_none());
    }

    #[test]
    fn finds_urls_in_text() {
        let mut s = UrlScratch::default();
        s.find_in_text(b"see https://a.example/x). and www.b.example, not awww.c.example or http://www.d.example/", &[]);
        let got: Vec<String> = s
            .items
            .iter()
            .map(|&(_, a, b)| String::from_utf8_lossy(s.buf.get(a..b).unwrap_or(&[])).into_owned())
            .collect();
        assert_eq!(
            got,
            [
                "https://a.example/x",
                "http://www.d.example/",
                "www.b.example"
            ]
        );
    }

    #[test]
    fn masks_base64_addresses_in_urls() {
        let p = [*b"am9zzubtb25r"];
        let mut out = Vec::new();
        assert!(mask_b64(
            b"https://x.example/#am9zZUBtb25rZXkub3Jn&y=1",
            &p,
            &mut out
        ));
        assert_eq!(out, b"https://x.example/#rcptmask&y=1");
        out.clear();
        assert!(!mask_b64(b"https://x.example/am9z", &p, &mut out));
        assert!(out.is_empty());
    }

    #[test]
    fn entropy_and_text_hosts() {
        assert_eq!(entropy([b"aaaa", b""]), 0.0);
        assert!((entropy([b"ab", b"cd"]) - 2.0).abs() < 1e-6);
        assert_eq!(
            text_host(b" https://www.paypal.com/signin "),
            Some(&b"www.paypal.com"[..])
        );
        assert_eq!(text_host(b"paypal.com"), Some(&b"paypal.com"[..]));
        assert_eq!(text_host(b"click here"), None);
        assert_eq!(text_host(b"v1.2"), None);
        assert_eq!(text_host(b"a@b.com"), None);
    }
}

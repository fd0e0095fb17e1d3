//! Domain helpers: registrable domain, IP literals, punycode, homoglyph skeletons, bounded edit
//! distance, and the brand index that answers "does this domain belong to / imitate a brand?".
//!
//! Hosts passed in are expected lower-case (ASCII); non-ASCII (IDN) hosts work label by label.
//! Every function is total: odd input gives a conservative answer (no lookalike, the host itself
//! as registrable domain), never a panic. The brand index is built once, on first use.

use super::tables::{
    BRANDS, FREEMAIL, FREEMAIL_LABELS, HOSTING_SUFFIXES, RISKY_TLDS, ROLE_WORDS,
    SECOND_LEVEL_SUFFIXES,
};
use super::text::hash_bytes;
use std::collections::HashMap;
use std::sync::OnceLock;

/// A set of lower-case strings looked up by their 64-bit word hash: no string compares on the
/// hot path (a false match would need a 64-bit hash collision with a listed entry).
#[derive(Debug)]
pub(super) struct StrSet(Vec<u64>);

impl StrSet {
    pub(super) fn new<'a>(items: impl IntoIterator<Item = &'a str>) -> StrSet {
        let mut v: Vec<u64> = items
            .into_iter()
            .map(|s| hash_bytes(s.as_bytes()))
            .collect();
        v.sort_unstable();
        v.dedup();
        StrSet(v)
    }

    /// Whether `s` (lower case) is in the set.
    #[inline]
    pub(super) fn contains(&self, s: &str) -> bool {
        self.0.binary_search(&hash_bytes(s.as_bytes())).is_ok()
    }
}

/// The static string sets, built once.
#[derive(Debug)]
pub(super) struct Sets {
    /// Free-hosting suffixes.
    pub(super) hosting: StrSet,
    /// Two-label public suffixes.
    pub(super) second_level: StrSet,
    /// Free-mail registrable domains.
    pub(super) freemail: StrSet,
    /// URL shorteners.
    pub(super) shorteners: StrSet,
    /// Risky TLDs.
    pub(super) risky_tlds: StrSet,
}

/// The static string sets.
pub(super) fn sets() -> &'static Sets {
    static S: OnceLock<Sets> = OnceLock::new();
    S.get_or_init(|| Sets {
        hosting: StrSet::new(HOSTING_SUFFIXES.iter().copied()),
        second_level: StrSet::new(SECOND_LEVEL_SUFFIXES.iter().copied()),
        freemail: StrSet::new(FREEMAIL.iter().copied()),
        shorteners: StrSet::new(super::tables::SHORTENERS.iter().copied()),
        risky_tlds: StrSet::new(RISKY_TLDS.iter().copied()),
    })
}

/// The last label of a host (`com` in `a.b.com`).
pub(super) fn tld(host: &str) -> &str {
    host.rsplit('.').next().unwrap_or(host)
}

/// Whether a host is an IP literal: dotted IPv4, a bracketed IPv6, or the single-number and hex
/// forms browsers accept (`http://3232236551/`, `http://0xc0a80407/`).
pub(super) fn is_ip_literal(host: &str) -> bool {
    if host.starts_with('[') {
        return true;
    }
    if host.is_empty() {
        return false;
    }
    let mut parts = 0;
    for p in host.split('.') {
        parts += 1;
        let numeric = if let Some(h) = p.strip_prefix("0x") {
            !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit())
        } else {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
        };
        if !numeric || parts > 4 {
            return false;
        }
    }
    parts == 4 || (parts == 1 && host.len() >= 7)
}

/// Start offsets of the last 1..=5 labels of `host` (`starts[k-1]` is where the last `k` labels
/// begin), or `None` past the first label.
fn label_starts(host: &str) -> [Option<usize>; 5] {
    let mut starts = [None; 5];
    let mut k = 0;
    for (i, b) in host.bytes().enumerate().rev() {
        if b == b'.' {
            if let Some(s) = starts.get_mut(k) {
                *s = Some(i + 1);
            }
            k += 1;
            if k >= 5 {
                return starts;
            }
        }
    }
    if let Some(s) = starts.get_mut(k) {
        *s = Some(0);
    }
    starts
}

/// The registrable domain of a lower-case host: the last two labels, three under a two-label
/// public suffix (`co.uk`), and one label plus the suffix under a free-hosting suffix
/// (`evil.web.app`). IP literals and single labels are returned whole.
pub(super) fn registrable(host: &str) -> &str {
    let host = host.trim_end_matches('.');
    if is_ip_literal(host) {
        return host;
    }
    let st = label_starts(host);
    let from = |k: usize| st.get(k.wrapping_sub(1)).copied().flatten();
    let slice = |s: Option<usize>| s.and_then(|s| host.get(s..)).unwrap_or(host);
    for k in (2..=4).rev() {
        if let Some(s) = from(k) {
            if host
                .get(s..)
                .is_some_and(|suf| sets().hosting.contains(suf))
            {
                return slice(from(k + 1));
            }
        }
    }
    if let Some(s) = from(2) {
        if host
            .get(s..)
            .is_some_and(|suf| sets().second_level.contains(suf))
        {
            return slice(from(3));
        }
    }
    slice(from(2))
}

/// Labels left of the registrable domain (`a.b` in `a.b.example.com` gives 2).
pub(super) fn subdomain_depth(host: &str, reg: &str) -> usize {
    let host = host.trim_end_matches('.');
    if host.len() <= reg.len() {
        return 0;
    }
    host.get(..host.len() - reg.len())
        .map_or(0, |sub| sub.bytes().filter(|&b| b == b'.').count())
}

/// Whether a registrable domain is a free-mail provider.
pub(super) fn is_freemail(reg: &str) -> bool {
    if sets().freemail.contains(reg) {
        return true;
    }
    let sld = reg.split('.').next().unwrap_or(reg);
    FREEMAIL_LABELS.contains(&sld) && reg.len() > sld.len()
}

/// Whether a host uses a risky TLD.
pub(super) fn has_risky_tld(host: &str) -> bool {
    sets().risky_tlds.contains(tld(host.trim_end_matches('.')))
}

/// Decodes one punycode label body (after `xn--`) into `out`. Returns false on invalid input
/// (and for labels over 63 characters, the DNS limit, which also bounds the work).
pub(super) fn punycode_decode(input: &str, out: &mut String) -> bool {
    const BASE: u32 = 36;
    const TMIN: u32 = 1;
    const TMAX: u32 = 26;
    fn adapt(delta: u32, numpoints: u32, first: bool) -> u32 {
        let mut delta = if first { delta / 700 } else { delta / 2 };
        delta += delta / numpoints.max(1);
        let mut k = 0;
        while delta > ((BASE - TMIN) * TMAX) / 2 {
            delta /= BASE - TMIN;
            k += BASE;
        }
        k + (BASE * delta) / (delta + 38)
    }
    out.clear();
    if input.len() > 63 {
        return false;
    }
    let mut chars: Vec<char> = Vec::new();
    let (basic, ext) = match input.rfind('-') {
        Some(p) => (
            input.get(..p).unwrap_or(""),
            input.get(p + 1..).unwrap_or(""),
        ),
        None => ("", input),
    };
    for c in basic.chars() {
        if !c.is_ascii() {
            return false;
        }
        chars.push(c);
    }
    let (mut n, mut i, mut bias) = (128u32, 0u32, 72u32);
    let mut it = ext.bytes().peekable();
    while it.peek().is_some() {
        let old_i = i;
        let mut w = 1u32;
        let mut k = BASE;
        loop {
            let Some(b) = it.next() else { return false };
            let digit = match b {
                b'a'..=b'z' => u32::from(b - b'a'),
                b'A'..=b'Z' => u32::from(b - b'A'),
                b'0'..=b'9' => u32::from(b - b'0') + 26,
                _ => return false,
            };
            let Some(v) = digit.checked_mul(w).and_then(|d| i.checked_add(d)) else {
                return false;
            };
            i = v;
            let t = if k <= bias {
                TMIN
            } else if k >= bias + TMAX {
                TMAX
            } else {
                k - bias
            };
            if digit < t {
                break;
            }
            let Some(v) = w.checked_mul(BASE - t) else {
                return false;
            };
            w = v;
            k += BASE;
        }
        let len = chars.len() as u32 + 1;
        bias = adapt(i - old_i, len, old_i == 0);
        let Some(v) = n.checked_add(i / len) else {
            return false;
        };
        n = v;
        i %= len;
        let Some(c) = char::from_u32(n) else {
            return false;
        };
        if chars.len() >= 63 {
            return false;
        }
        chars.insert(i as usize, c);
        i += 1;
    }
    out.extend(chars);
    true
}

/// Maps a character to the ASCII letter it is commonly confused with (after lower-casing):
/// digits and symbols that look like letters, Cyrillic/Greek/Armenian homoglyphs, accented Latin,
/// and full-width forms. `i` and `l` both map to `l` (they are indistinguishable in many fonts).
fn confusable(c: char) -> char {
    let c = if c.is_ascii() {
        c.to_ascii_lowercase()
    } else if ('\u{FF01}'..='\u{FF5E}').contains(&c) {
        // Full-width ASCII.
        char::from_u32(c as u32 - 0xFEE0).map_or(c, |a| a.to_ascii_lowercase())
    } else {
        c.to_lowercase().next().unwrap_or(c)
    };
    match c {
        '0' => 'o',
        '1' | 'i' | '|' => 'l',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' => 't',
        '8' => 'b',
        '9' => 'g',
        'а' | 'ɑ' | 'α' => 'a',
        'в' | 'ь' | 'β' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ё' | 'є' | 'ε' => 'e',
        'ɡ' | 'ց' => 'g',
        'һ' | 'н' => 'h',
        'і' | 'ї' | 'ӏ' | 'ι' | 'ı' | 'ł' => 'l',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'м' => 'm',
        'ո' | 'η' => 'n',
        'о' | 'ο' | 'օ' | 'σ' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'г' => 'r',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'υ' | 'ս' | 'μ' => 'u',
        'ν' => 'v',
        'ԝ' | 'ω' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' => 'y',
        'à'..='å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'ď' | 'đ' => 'd',
        'è'..='ë' | 'ē' | 'ė' | 'ę' | 'ě' => 'e',
        'ğ' => 'g',
        'ì'..='ï' => 'l',
        'ñ' | 'ń' | 'ň' => 'n',
        'ò'..='ö' | 'ø' | 'ō' | 'ő' => 'o',
        'ř' => 'r',
        'ś' | 'ş' | 'š' => 's',
        'ť' => 't',
        'ù'..='ü' | 'ū' | 'ů' | 'ű' => 'u',
        'ý' | 'ÿ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        other => other,
    }
}

/// Writes the homoglyph skeleton of `s` into `out`: confusable characters folded to ASCII,
/// `rn` to `m`, `vv` to `w`. With `words`, anything that is not a letter or digit becomes a
/// single space (for display names); otherwise hyphens are kept and other characters dropped
/// (for domain labels).
pub(super) fn skeleton(s: &str, words: bool, out: &mut String) {
    out.clear();
    for c in s.chars() {
        let m = confusable(c);
        if m.is_alphanumeric() {
            match (m, out.as_bytes().last()) {
                ('n', Some(b'r')) => {
                    out.pop();
                    out.push('m');
                }
                ('v', Some(b'v')) => {
                    out.pop();
                    out.push('w');
                }
                _ => out.push(m),
            }
        } else if words {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else if m == '-' {
            out.push('-');
        }
    }
    if words && out.ends_with(' ') {
        out.pop();
    }
}

/// Whether the optimal-string-alignment distance (edits plus adjacent transpositions) between
/// `a` and `b` is at most `k`. Strings over 63 bytes are never "within".
pub(super) fn osa_within(a: &[u8], b: &[u8], k: usize) -> bool {
    const W: usize = 64;
    if a.len() >= W || b.len() >= W || a.len().abs_diff(b.len()) > k {
        return false;
    }
    // Three rolling rows (i-2, i-1, i), indexed modulo 3: no row copies.
    let mut rows = [[0u8; W]; 3];
    if let Some(r0) = rows.get_mut(0) {
        for (j, p) in r0.iter_mut().enumerate().take(b.len() + 1) {
            *p = j as u8;
        }
    }
    for (i, &ca) in a.iter().enumerate() {
        let [r0, r1, r2] = &mut rows;
        let (prev2, prev, cur) = match i % 3 {
            0 => (&*r2, &*r0, r1),
            1 => (&*r0, &*r1, r2),
            _ => (&*r1, &*r2, r0),
        };
        cur[0] = (i + 1) as u8;
        let mut row_min = cur[0];
        for (j, &cb) in b.iter().enumerate() {
            let cost = u8::from(ca != cb);
            let mut v = (prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + cost);
            if i > 0 && j > 0 && a.get(i - 1) == Some(&cb) && b.get(j - 1) == Some(&ca) {
                v = v.min(prev2[j - 1] + 1);
            }
            cur[j + 1] = v;
            row_min = row_min.min(v);
        }
        if usize::from(row_min) > k {
            return false;
        }
    }
    let last = rows
        .get(a.len() % 3)
        .and_then(|r| r.get(b.len()))
        .copied()
        .unwrap_or(u8::MAX);
    usize::from(last) <= k
}

/// Scratch strings for skeletons and punycode, reused across calls.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    puny: String,
    skel: String,
    flat: String,
}

/// A display-name keyword, pre-folded.
struct Keyword {
    words: Vec<String>,
    brand: usize,
}

/// Brand lookups, built once from [`tables::BRANDS`].
pub(super) struct BrandIndex {
    /// `(hash of domain, brand)`, sorted.
    domains: Vec<(u64, usize)>,
    /// `(skeleton of label without hyphens, raw label, brand)`.
    labels: Vec<(String, &'static str, usize)>,
    /// Label skeletons, for exact lookups.
    label_set: StrSet,
    /// Label skeletons of 6+ characters, for the fuzzy checks.
    long_labels: Vec<String>,
    /// `(hash of raw label, brand)`, sorted.
    raw_labels: Vec<(u64, usize)>,
    /// Keywords by the skeleton of their first word.
    keywords: HashMap<String, Vec<Keyword>>,
    /// Keywords that must equal the whole display name.
    exact: Vec<(String, usize)>,
    /// Skeletons of role words.
    roles: Vec<String>,
}

/// The brand index.
pub(super) fn brands() -> &'static BrandIndex {
    static INDEX: OnceLock<BrandIndex> = OnceLock::new();
    INDEX.get_or_init(BrandIndex::build)
}

/// Bit set of brands (indices into [`tables::BRANDS`]; a unit test keeps them under 64).
pub(super) type BrandSet = u64;

/// The bit of brand `b` (0 for an index that does not fit, which the test rules out).
fn bit(b: usize) -> BrandSet {
    1u64.checked_shl(b as u32).unwrap_or(0)
}

impl BrandIndex {
    fn build() -> BrandIndex {
        let mut domains = Vec::new();
        let mut labels = Vec::new();
        let mut keywords: HashMap<String, Vec<Keyword>> = HashMap::new();
        let mut exact = Vec::new();
        let mut sk = String::new();
        for (bi, b) in BRANDS.iter().enumerate() {
            for d in b.domains {
                domains.push((hash_bytes(d.as_bytes()), bi));
            }
            for l in b.labels {
                skeleton(l, false, &mut sk);
                labels.push((sk.replace('-', ""), *l, bi));
            }
            for k in b.keywords {
                let (is_exact, k) = match k.strip_prefix('=') {
                    Some(rest) => (true, rest),
                    None => (false, *k),
                };
                skeleton(k, true, &mut sk);
                if is_exact {
                    exact.push((sk.clone(), bi));
                    continue;
                }
                let words: Vec<String> = sk.split(' ').map(str::to_owned).collect();
                let first = words.first().cloned().unwrap_or_default();
                keywords
                    .entry(first)
                    .or_default()
                    .push(Keyword { words, brand: bi });
            }
        }
        domains.sort_unstable();
        let roles = ROLE_WORDS
            .iter()
            .map(|r| {
                skeleton(r, true, &mut sk);
                sk.clone()
            })
            .collect::<Vec<String>>();
        let mut roles = roles;
        roles.sort_unstable();
        let label_set = StrSet::new(labels.iter().map(|l| l.0.as_str()));
        let mut long_labels: Vec<String> = labels
            .iter()
            .filter(|l| l.0.len() >= 6)
            .map(|l| l.0.clone())
            .collect();
        long_labels.sort_unstable();
        long_labels.dedup();
        let mut raw_labels: Vec<(u64, usize)> = labels
            .iter()
            .map(|l| (hash_bytes(l.1.as_bytes()), l.2))
            .collect();
        raw_labels.sort_unstable();
        BrandIndex {
            domains,
            labels,
            label_set,
            long_labels,
            raw_labels,
            keywords,
            exact,
            roles,
        }
    }

    /// The brand that owns a registrable domain by the explicit domain lists, if any.
    pub(super) fn owner_of(&self, reg: &str) -> Option<usize> {
        let h = hash_bytes(reg.as_bytes());
        let start = self.domains.partition_point(|(d, _)| *d < h);
        self.domains
            .get(start)
            .filter(|(d, _)| *d == h)
            .map(|(_, b)| *b)
    }

    /// Whether `reg` belongs to brand `b`: listed, or the brand's own label under a country TLD
    /// (`amazon.de`, `paypal.co.uk`) that is not a throw-away TLD.
    pub(super) fn owns(&self, b: usize, reg: &str) -> bool {
        let h = hash_bytes(reg.as_bytes());
        let start = self.domains.partition_point(|(d, _)| *d < h);
        let listed = self
            .domains
            .get(start..)
            .unwrap_or(&[])
            .iter()
            .take_while(|(d, _)| *d == h)
            .any(|(_, bi)| *bi == b);
        listed
            || self
                .country_variant(reg)
                .is_some_and(|set| set & bit(b) != 0)
    }

    /// Brands whose raw label is `reg`'s second-level label under a country suffix.
    fn country_variant(&self, reg: &str) -> Option<BrandSet> {
        let (sld, suffix) = reg.split_once('.')?;
        if !is_country_suffix(suffix) {
            return None;
        }
        let h = hash_bytes(sld.as_bytes());
        let start = self.raw_labels.partition_point(|(l, _)| *l < h);
        let set = self
            .raw_labels
            .get(start..)
            .unwrap_or(&[])
            .iter()
            .take_while(|(l, _)| *l == h)
            .fold(0, |acc, (_, b)| acc | bit(*b));
        (set != 0).then_some(set)
    }

    /// Whether any brand owns `reg`.
    pub(super) fn owned_by_any(&self, reg: &str) -> bool {
        self.owner_of(reg).is_some() || self.country_variant(reg).is_some()
    }

    fn is_label(&self, skel: &str) -> bool {
        self.label_set.contains(skel)
    }

    /// Whether a registrable domain imitates a brand without belonging to it: equal to a brand
    /// label after homoglyph folding, within a small edit distance of one (same first letter;
    /// labels of 6+ characters), or containing one as a hyphen-separated token or (6+
    /// characters) as a prefix or suffix (`paypa1-secure.com`, `xn--pypal-4ve.com`,
    /// `rnicrosoft.com`, `paypal.xyz`).
    pub(super) fn is_lookalike(&self, reg: &str, s: &mut Scratch) -> bool {
        if reg.is_empty() || is_ip_literal(reg) || self.owned_by_any(reg) {
            return false;
        }
        let sld = reg.split('.').next().unwrap_or(reg);
        let decoded: &str = match sld.strip_prefix("xn--") {
            Some(body) if punycode_decode(body, &mut s.puny) => &s.puny,
            _ => sld,
        };
        skeleton(decoded, false, &mut s.skel);
        s.flat.clear();
        s.flat.extend(s.skel.chars().filter(|&c| c != '-'));
        let flat = s.flat.as_bytes();
        if flat.len() < 3 {
            return false;
        }
        if self.is_label(&s.flat) {
            return true;
        }
        for label in &self.long_labels {
            let lb = label.as_bytes();
            let same_first = flat.first() == lb.first();
            // Every test below needs the first or the last letter to match.
            if !same_first && flat.last() != lb.last() {
                continue;
            }
            let k = if lb.len() >= 9 { 2 } else { 1 };
            if same_first && osa_within(flat, lb, k) {
                return true;
            }
            if flat.len() > lb.len() + 1 && (flat.starts_with(lb) || flat.ends_with(lb)) {
                return true;
            }
        }
        s.skel.contains('-')
            && s.skel
                .split('-')
                .any(|tok| tok.len() >= 3 && self.is_label(tok))
    }

    /// Whether one host label (left of the registrable domain) names a brand after folding
    /// (`paypal` in `paypal.com.secure-login.xyz`).
    pub(super) fn label_names_brand(&self, label: &str, s: &mut Scratch) -> bool {
        if label.len() < 3 {
            return false;
        }
        skeleton(label, false, &mut s.skel);
        let skel = &s.skel;
        self.is_label(skel)
            || (skel.contains('-') && skel.split('-').any(|t| t.len() >= 3 && self.is_label(t)))
    }

    /// Brands a display name mentions (whole words after folding; a word starting with a brand
    /// label of 5+ letters also counts, for "PayPalService"), and whether it has role words.
    pub(super) fn display_brands(&self, name: &str, s: &mut Scratch) -> (BrandSet, bool) {
        skeleton(name, true, &mut s.skel);
        let skel = s.skel.as_str();
        let mut set: BrandSet = 0;
        for (k, b) in &self.exact {
            if skel == k {
                set |= bit(*b);
            }
        }
        let mut words: [&str; 24] = [""; 24];
        let mut nw = 0;
        for w in skel.split(' ') {
            if let Some(slot) = words.get_mut(nw) {
                *slot = w;
                nw += 1;
            }
        }
        let words = words.get(..nw).unwrap_or(&[]);
        let mut role = false;
        for (i, w) in words.iter().enumerate() {
            if self.roles.binary_search_by(|r| r.as_str().cmp(w)).is_ok() {
                role = true;
            }
            if let Some(cands) = self.keywords.get(*w) {
                for k in cands {
                    let rest = words.get(i..i + k.words.len());
                    if rest.is_some_and(|r| r.iter().zip(&k.words).all(|(a, b)| a == b)) {
                        set |= bit(k.brand);
                    }
                }
            }
            if w.len() >= 6 {
                for (l, _, b) in &self.labels {
                    if l.len() >= 5 && w.starts_with(l.as_str()) {
                        set |= bit(*b);
                    }
                }
            }
        }
        (set, role)
    }
}

/// Whether a public suffix is a country code (`de`, `co.uk`) that is not a throw-away TLD.
fn is_country_suffix(suffix: &str) -> bool {
    let two_letter = suffix.len() == 2 && suffix.bytes().all(|b| b.is_ascii_lowercase());
    (two_letter && !sets().risky_tlds.contains(suffix)) || sets().second_level.contains(suffix)
}

/// Keeps the sorted-list invariant visible to `tables` users.
#[cfg(test)]
pub(super) fn sorted_lists() -> [(&'static str, &'static [&'static str]); 7] {
    [
        ("FREEMAIL", FREEMAIL),
        ("SHORTENERS", super::tables::SHORTENERS),
        ("HOSTING_SUFFIXES", HOSTING_SUFFIXES),
        ("SECOND_LEVEL_SUFFIXES", SECOND_LEVEL_SUFFIXES),
        ("RISKY_TLDS", RISKY_TLDS),
        ("RISKY_EXTENSIONS", super::tables::RISKY_EXTENSIONS),
        (
            "PLACEHOLDER_ADDRESSES",
            super::tables::PLACEHOLDER_ADDRESSES,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_domains() {
        assert_eq!(registrable("mail.paypal.com"), "paypal.com");
        assert_eq!(registrable("www.bbc.co.uk"), "bbc.co.uk");
        assert_eq!(registrable("evil.web.app"), "evil.web.app");
        assert_eq!(registrable("a.b.evil.web.app"), "evil.web.app");
        assert_eq!(
            registrable("x.blob.core.windows.net"),
            "x.blob.core.windows.net"
        );
        assert_eq!(registrable("192.168.4.7"), "192.168.4.7");
        assert_eq!(registrable("localhost"), "localhost");
        assert_eq!(registrable("example.com."), "example.com");
        assert_eq!(registrable(""), "");
        assert_eq!(registrable("."), "");
        assert_eq!(subdomain_depth("a.b.example.com", "example.com"), 2);
        assert_eq!(subdomain_depth("example.com", "example.com"), 0);
    }

    #[test]
    fn ip_literals() {
        assert!(is_ip_literal("192.168.4.7"));
        assert!(is_ip_literal("[::1]"));
        assert!(is_ip_literal("3232236551"));
        assert!(is_ip_literal("0xc0a80407"));
        assert!(!is_ip_literal("1.2.3.com"));
        assert!(!is_ip_literal("365"));
        assert!(!is_ip_literal("1.2.3.4.5"));
    }

    #[test]
    fn punycode_decodes_cyrillic_lookalike() {
        let mut s = String::new();
        assert!(punycode_decode("pypal-4ve", &mut s));
        assert_eq!(s, "pаypal");
        assert_eq!(s.chars().nth(1), Some('\u{430}'));
        assert!(punycode_decode("bcher-kva", &mut s));
        assert_eq!(s, "bücher");
        assert!(!punycode_decode("!!", &mut s));
        assert!(!punycode_decode("zzzzzzzzzzzzzzzzzzzzzzzz", &mut s));
    }

    #[test]
    fn skeletons_fold_homoglyphs() {
        let mut s = String::new();
        skeleton("rnicrosoft", false, &mut s);
        let mut t = String::new();
        skeleton("microsoft", false, &mut t);
        assert_eq!(s, t);
        skeleton("PayPa1 Security!", true, &mut s);
        assert_eq!(s, "paypal securlty");
        skeleton("ＰａｙＰａｌ", false, &mut s);
        assert_eq!(s, "paypal");
    }

    #[test]
    fn edit_distance() {
        assert!(osa_within(b"paypal", b"paypla", 1));
        assert!(osa_within(b"paypal", b"paypall", 1));
        assert!(!osa_within(b"paypal", b"pyapla", 1));
        assert!(osa_within(b"", b"", 0));
        assert!(!osa_within(b"abc", b"abcdef", 2));
    }

    #[test]
    fn lookalikes() {
        let b = brands();
        let mut s = Scratch::default();
        for d in [
            "paypa1-secure.com",
            "paypai.com",
            "rnicrosoft.com",
            "xn--pypal-4ve.com",
            "paypal.xyz",
            "micros0ft.com",
            "amaz0n.co",
            "secure-paypal.net",
            "paypall.com",
            "dhl-express.top",
        ] {
            assert!(b.is_lookalike(d, &mut s), "{d} should be a lookalike");
        }
        for d in [
            "paypal.com",
            "amazon.de",
            "amazonaws.com",
            "finance.com",
            "morton.com",
            "example.com",
            "gmail.com",
            "purchase-orders.com",
            "192.168.4.7",
            "ab.com",
            "",
        ] {
            assert!(!b.is_lookalike(d, &mut s), "{d} should not be a lookalike");
        }
        assert!(b.label_names_brand("paypal", &mut s));
        assert!(b.label_names_brand("paypa1-login", &mut s));
        assert!(!b.label_names_brand("www", &mut s));
    }

    #[test]
    fn brands_fit_in_a_brand_set() {
        assert!(BRANDS.len() <= 64, "BrandSet is a u64");
        assert_eq!(bit(3), 8);
        assert_eq!(bit(64), 0);
    }

    #[test]
    fn display_names() {
        let b = brands();
        let mut s = Scratch::default();
        let paypal = BRANDS
            .iter()
            .position(|x| x.labels.contains(&"paypal"))
            .unwrap_or(99);
        let (set, role) = b.display_brands("PayPal Security", &mut s);
        assert_eq!(set, 1 << paypal);
        assert!(role);
        assert_eq!(b.display_brands("Chase Smith", &mut s).0, 0);
        assert_ne!(b.display_brands("Chase", &mut s).0, 0);
        assert_ne!(b.display_brands("Office 365 Team", &mut s).0, 0);
        assert_ne!(b.display_brands("PayPalService", &mut s).0, 0);
        assert_eq!(b.display_brands("Jane Doe", &mut s), (0, false));
        assert!(b.owns(paypal, "paypal.co.uk"));
        assert!(!b.owns(paypal, "paypal.tk"));
        assert!(is_freemail("gmail.com"));
        assert!(is_freemail("yahoo.co.uk"));
        assert!(!is_freemail("paypal.com"));
    }
}

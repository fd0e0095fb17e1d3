//! The local indicator store: every feed hit in memory, answering lookups without I/O.
//!
//! - [`IntelStore::insert`] keeps one hit per (indicator, source): a repeat is merged into the
//!   first (highest confidence, earliest `first_seen`, latest `last_seen`, tags and ATT&CK ids
//!   united; a second family or threat becomes a `family:<x>` / `threat:<x>` tag).
//! - [`IntelStore::lookup`] is the exact lookup and returns the stored slice (no allocation).
//!   [`IntelStore::lookup_ip`] adds hits on prefixes containing the IP (`match:cidr`);
//!   [`IntelStore::lookup_domain`] adds hits on parent domains (a hit on `evil.example`
//!   answers `a.b.evil.example`, tagged `match:parent-domain`); [`IntelStore::lookup_url`]
//!   answers the exact URL, then its host as an IP or domain (tagged `match:url-host`).
//! - URLs are keyed without their scheme, and a bare `/` path is dropped (`http://x/` ≡
//!   `https://x`), because URLhaus-filter, phishing-filter and maltrail publish scheme-less
//!   URLs.
//! - Suppression: with [`IntelStore::with_warninglists`], a hit whose indicator, or the looked-up
//!   indicator, is on a MISP warning list carries a `suppressed:<list>` tag per list. Hits are
//!   kept visible, never dropped; [`is_suppressed`] tests for the tag.
//!
//! Performance: IPv4 keys are `u32`, IPv6 `u128`, names are boxed `str` looked up by `&str`,
//! all in hash maps with an Fx-style hasher; a miss allocates nothing (parent-domain walks
//! slice the name at label boundaries); a hit allocates only the answer vector and, for
//! indirect matches, a clone of the hit with its `match:` tag. The hasher is not DoS-resistant:
//! keys come from the bundled feeds, and lookups never insert.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::path::Path;

use crate::feeds::{default_feeds, load_feed};
use crate::warninglists::{canonical_ip, strip_scheme, url_host, Cidr, CidrTable, WarningLists};
use crate::{Indicator, IndicatorKind, IntelHit};

/// Why the default store could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// `data_dir/feeds` is not a directory.
    #[error("no feeds directory under {0}")]
    NoFeeds(std::path::PathBuf),
}

/// Fx-style multiplicative hasher (rustc's FxHasher): fast for the short keys used here.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_u128(&mut self, i: u128) {
        // Truncations on purpose: the two halves of the key.
        self.add(i as u64);
        self.add((i >> 64) as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

type Fx = BuildHasherDefault<FxHasher>;
type Hits = Vec<IntelHit>;

/// Whether a hit carries a `suppressed:<list>` tag.
pub fn is_suppressed(hit: &IntelHit) -> bool {
    hit.tags.iter().any(|t| t.starts_with("suppressed:"))
}

/// The warning lists a hit is suppressed by.
pub fn suppressed_by(hit: &IntelHit) -> impl Iterator<Item = &str> {
    hit.tags
        .iter()
        .filter_map(|t| t.strip_prefix("suppressed:"))
}

/// The key of a normalized URL: without `scheme://`, and without a lone trailing `/`.
fn url_key(url: &str) -> &str {
    let rest = strip_scheme(url);
    match rest.strip_suffix('/') {
        Some(r) if !r.contains(['/', '?', '#']) => r,
        _ => rest,
    }
}

/// What one feed contributed to [`IntelStore::load_default`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedReport {
    /// The spec's name.
    pub name: String,
    /// Its source.
    pub source: String,
    /// Hits parsed (before deduplication).
    pub hits: usize,
    /// CIDR hits parsed.
    pub cidrs: usize,
    /// Lines skipped.
    pub skipped: usize,
    /// Why the file could not be read, if it could not.
    pub error: Option<String>,
}

/// What [`IntelStore::load_default`] loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Per feed file, in load order.
    pub feeds: Vec<FeedReport>,
    /// Distinct hits per source after deduplication.
    pub per_source: BTreeMap<String, usize>,
    /// Warning lists in use.
    pub warninglists: usize,
    /// Warning lists not used, with why.
    pub warninglists_skipped: Vec<(String, String)>,
    /// Why the warning lists could not be read at all, if they could not.
    pub warninglists_error: Option<String>,
}

/// Hits by indicator, for lookups.
#[derive(Debug, Clone, Default)]
pub struct IntelStore {
    v4: HashMap<u32, Hits, Fx>,
    v6: HashMap<u128, Hits, Fx>,
    domains: HashMap<Box<str>, Hits, Fx>,
    urls: HashMap<Box<str>, Hits, Fx>,
    emails: HashMap<Box<str>, Hits, Fx>,
    hashes: HashMap<Box<str>, Hits, Fx>,
    cidrs: CidrTable<Hits>,
    warninglists: WarningLists,
}

/// Merges `new` into the hits of one key, deduplicating by source.
fn merge_into(hits: &mut Hits, new: IntelHit) {
    let Some(old) = hits.iter_mut().find(|h| h.source == new.source) else {
        // Most indicators have one source: don't let Vec's growth policy reserve four hits.
        hits.reserve_exact(1);
        hits.push(new);
        return;
    };
    old.confidence = old.confidence.max(new.confidence);
    old.first_seen = match (old.first_seen, new.first_seen) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    old.last_seen = old.last_seen.max(new.last_seen);
    let mut extra = Vec::new();
    match (&old.family, new.family) {
        (None, f) => old.family = f,
        (Some(a), Some(b)) if *a != b => extra.push(format!("family:{b}")),
        _ => {}
    }
    if old.threat != new.threat {
        extra.push(format!("threat:{}", new.threat));
    }
    for t in new.tags.into_iter().chain(extra) {
        if !old.tags.contains(&t) {
            old.tags.push(t);
        }
    }
    for a in new.attack {
        if !old.attack.contains(&a) {
            old.attack.push(a);
        }
    }
    if old.reference.is_none() {
        old.reference = new.reference;
    }
}

fn tag_suppressed(hit: &mut IntelHit, lists: &[&str]) {
    for l in lists {
        let t = format!("suppressed:{l}");
        if !hit.tags.contains(&t) {
            hit.tags.push(t);
        }
    }
}

/// Adds `tag` to a hit (cloning a borrowed one).
fn with_tag<'a>(mut hit: Cow<'a, IntelHit>, tag: &str) -> Cow<'a, IntelHit> {
    if !hit.tags.iter().any(|t| t == tag) {
        hit.to_mut().tags.push(tag.to_string());
    }
    hit
}

impl IntelStore {
    /// An empty store without warning lists.
    pub fn new() -> IntelStore {
        IntelStore::default()
    }

    /// Uses `lists` for suppression, tagging every hit already stored. (Prefix hits are
    /// suppressed at lookup time, by the looked-up IP.)
    pub fn with_warninglists(mut self, lists: WarningLists) -> IntelStore {
        self.warninglists = lists;
        let wl = &self.warninglists;
        let all = self
            .v4
            .values_mut()
            .chain(self.v6.values_mut())
            .chain(self.domains.values_mut())
            .chain(self.urls.values_mut())
            .chain(self.emails.values_mut())
            .chain(self.hashes.values_mut());
        for hits in all {
            let Some(first) = hits.first() else { continue };
            let lists = wl.matches(&first.indicator);
            if lists.is_empty() {
                continue;
            }
            for h in hits.iter_mut() {
                tag_suppressed(h, &lists);
            }
        }
        self
    }

    /// The warning lists in use.
    pub fn warninglists(&self) -> &WarningLists {
        &self.warninglists
    }

    /// Adds a hit; `false` (and nothing stored) when its indicator value is not valid for its
    /// kind.
    pub fn insert(&mut self, mut hit: IntelHit) -> bool {
        if !self.warninglists.is_empty() {
            let lists = self.warninglists.matches(&hit.indicator);
            tag_suppressed(&mut hit, &lists);
        }
        let v = hit.indicator.value.as_str();
        let slot = match hit.indicator.kind {
            IndicatorKind::Ipv4 | IndicatorKind::Ipv6 => {
                match v.parse::<IpAddr>().map(canonical_ip) {
                    Ok(IpAddr::V4(a)) => self.v4.entry(u32::from(a)).or_default(),
                    Ok(IpAddr::V6(a)) => self.v6.entry(u128::from(a)).or_default(),
                    Err(_) => return false,
                }
            }
            IndicatorKind::Domain => self.domains.entry(v.into()).or_default(),
            IndicatorKind::Url => self.urls.entry(url_key(v).into()).or_default(),
            IndicatorKind::Email => self.emails.entry(v.into()).or_default(),
            IndicatorKind::Md5 | IndicatorKind::Sha1 | IndicatorKind::Sha256 => {
                self.hashes.entry(v.into()).or_default()
            }
        };
        merge_into(slot, hit);
        true
    }

    /// Adds a hit on a whole prefix (answered by [`IntelStore::lookup_ip`]).
    pub fn insert_cidr(&mut self, cidr: Cidr, hit: IntelHit) {
        merge_into(self.cidrs.entry(cidr), hit);
    }

    /// Exact lookup: the stored hits for this indicator (URLs compared without scheme).
    pub fn lookup(&self, indicator: &Indicator) -> &[IntelHit] {
        let v = indicator.value.as_str();
        let hits = match indicator.kind {
            IndicatorKind::Ipv4 | IndicatorKind::Ipv6 => {
                match v.parse::<IpAddr>().map(canonical_ip) {
                    Ok(IpAddr::V4(a)) => self.v4.get(&u32::from(a)),
                    Ok(IpAddr::V6(a)) => self.v6.get(&u128::from(a)),
                    Err(_) => None,
                }
            }
            IndicatorKind::Domain => self.domains.get(v),
            IndicatorKind::Url => self.urls.get(url_key(v)),
            IndicatorKind::Email => self.emails.get(v),
            IndicatorKind::Md5 | IndicatorKind::Sha1 | IndicatorKind::Sha256 => self.hashes.get(v),
        };
        hits.map_or(&[], Vec::as_slice)
    }

    fn exact_ip(&self, ip: IpAddr) -> &[IntelHit] {
        let hits = match canonical_ip(ip) {
            IpAddr::V4(a) => self.v4.get(&u32::from(a)),
            IpAddr::V6(a) => self.v6.get(&u128::from(a)),
        };
        hits.map_or(&[], Vec::as_slice)
    }

    /// Adds `suppressed:<list>` for the lists `listed` names (indices) to every hit.
    fn suppress_all<'a>(&self, out: &mut [Cow<'a, IntelHit>], listed: &mut Vec<u16>) {
        if listed.is_empty() {
            return;
        }
        listed.sort_unstable();
        listed.dedup();
        for h in out.iter_mut() {
            for &i in listed.iter() {
                let tag = format!("suppressed:{}", self.warninglists.list_name(i));
                if !h.tags.contains(&tag) {
                    h.to_mut().tags.push(tag);
                }
            }
        }
    }

    fn ip_hits<'a>(&'a self, ip: IpAddr, out: &mut Vec<Cow<'a, IntelHit>>) {
        out.extend(self.exact_ip(ip).iter().map(Cow::Borrowed));
        if !self.cidrs.is_empty() {
            for (_, hits) in self.cidrs.matches(ip) {
                out.extend(
                    hits.iter()
                        .map(|h| with_tag(Cow::Borrowed(h), "match:cidr")),
                );
            }
        }
    }

    /// Hits on `ip` and on stored prefixes containing it (`match:cidr`), suppressed when `ip` is
    /// on a warning list.
    pub fn lookup_ip(&self, ip: IpAddr) -> Vec<Cow<'_, IntelHit>> {
        let mut out = Vec::new();
        self.ip_hits(ip, &mut out);
        if !out.is_empty() && !self.warninglists.is_empty() {
            let mut listed = Vec::new();
            self.warninglists.ip_listed(ip, &mut listed);
            self.suppress_all(&mut out, &mut listed);
        }
        out
    }

    fn domain_hits<'a>(&'a self, domain: &str, out: &mut Vec<Cow<'a, IntelHit>>) {
        let mut rest = domain;
        let mut whole = true;
        loop {
            if let Some(hits) = self.domains.get(rest) {
                if whole {
                    out.extend(hits.iter().map(Cow::Borrowed));
                } else {
                    out.extend(
                        hits.iter()
                            .map(|h| with_tag(Cow::Borrowed(h), "match:parent-domain")),
                    );
                }
            }
            match rest.split_once('.') {
                // A parent must still have a dot: stored domains always do.
                Some((_, parent)) if parent.contains('.') => rest = parent,
                _ => break,
            }
            whole = false;
        }
    }

    /// Hits on `domain` and its parent domains (`match:parent-domain`), suppressed when
    /// `domain` is on a warning list. Case and a trailing dot are ignored.
    pub fn lookup_domain(&self, domain: &str) -> Vec<Cow<'_, IntelHit>> {
        let d = domain.trim().trim_end_matches('.');
        let lowered;
        let d = if d.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = d.to_ascii_lowercase();
            lowered.as_str()
        } else {
            d
        };
        let mut out = Vec::new();
        self.domain_hits(d, &mut out);
        if !out.is_empty() && !self.warninglists.is_empty() {
            let mut listed = Vec::new();
            self.warninglists.domain_listed(d, &mut listed);
            self.suppress_all(&mut out, &mut listed);
        }
        out
    }

    /// Hits on the exact URL (scheme ignored), then on its host as an IP or domain (tagged
    /// `match:url-host`, parents also `match:parent-domain`). Suppressed when the URL or its
    /// host is on a warning list.
    pub fn lookup_url(&self, url: &str) -> Vec<Cow<'_, IntelHit>> {
        let url = url.trim();
        let host = url_host(url).unwrap_or_default();
        let normalized;
        let url = if host.bytes().any(|b| b.is_ascii_uppercase())
            || url.len() > strip_scheme(url).len()
                && url
                    .bytes()
                    .take_while(|&b| b != b':')
                    .any(|b| b.is_ascii_uppercase())
        {
            match Indicator::new(IndicatorKind::Url, url) {
                Some(i) => {
                    normalized = i.value;
                    normalized.as_str()
                }
                None => url,
            }
        } else {
            url
        };
        let host = url_host(url).unwrap_or_default();
        let mut out: Vec<Cow<'_, IntelHit>> = Vec::new();
        if let Some(hits) = self.urls.get(url_key(url)) {
            out.extend(hits.iter().map(Cow::Borrowed));
        }
        let host_ip = host.parse::<IpAddr>().ok();
        let mut host_hits = Vec::new();
        match host_ip {
            Some(ip) => self.ip_hits(ip, &mut host_hits),
            None if !host.is_empty() => self.domain_hits(host, &mut host_hits),
            None => {}
        }
        out.extend(host_hits.into_iter().map(|h| with_tag(h, "match:url-host")));
        if !out.is_empty() && !self.warninglists.is_empty() {
            let mut listed = Vec::new();
            match host_ip {
                Some(ip) => self.warninglists.ip_listed(ip, &mut listed),
                None => self.warninglists.domain_listed(host, &mut listed),
            }
            if let Some(ind) = Indicator::new(IndicatorKind::Url, url) {
                self.warninglists.match_ids(&ind, &mut listed);
            }
            self.suppress_all(&mut out, &mut listed);
        }
        out
    }

    /// Distinct (indicator, source) hits stored, prefixes included.
    pub fn len(&self) -> usize {
        self.maps().map(|h| h.len()).sum::<usize>() + self.cidr_hits()
    }

    fn cidr_hits(&self) -> usize {
        // Each prefix holds at least one hit; exact counts are not needed for sizing.
        self.cidrs.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Distinct indicators stored (prefixes not included).
    pub fn indicators(&self) -> usize {
        self.v4.len()
            + self.v6.len()
            + self.domains.len()
            + self.urls.len()
            + self.emails.len()
            + self.hashes.len()
    }

    fn maps(&self) -> impl Iterator<Item = &Hits> {
        self.v4
            .values()
            .chain(self.v6.values())
            .chain(self.domains.values())
            .chain(self.urls.values())
            .chain(self.emails.values())
            .chain(self.hashes.values())
    }

    /// Every stored hit (prefix hits not included), in no particular order.
    pub fn hits(&self) -> impl Iterator<Item = &IntelHit> {
        self.maps().flatten()
    }

    /// Distinct hits per source.
    pub fn count_by_source(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for h in self.hits() {
            *m.entry(h.source.clone()).or_insert(0) += 1;
        }
        m
    }

    /// Approximate heap + inline bytes held by the hits and maps (prefix hits not included):
    /// hash table slots at capacity, key strings, each hit's struct and string capacities.
    pub fn memory_estimate(&self) -> usize {
        use std::mem::size_of;
        let s = |x: &String| x.capacity();
        let hit_bytes = |h: &IntelHit| {
            size_of::<IntelHit>()
                + s(&h.indicator.value)
                + s(&h.source)
                + s(&h.threat)
                + h.family.as_ref().map_or(0, s)
                + h.reference.as_ref().map_or(0, s)
                + h.tags.capacity() * size_of::<String>()
                + h.tags.iter().map(s).sum::<usize>()
                + h.attack.capacity() * size_of::<String>()
                + h.attack.iter().map(s).sum::<usize>()
        };
        let vec_bytes = |v: &Hits| {
            (v.capacity() - v.len()) * size_of::<IntelHit>()
                + v.iter().map(hit_bytes).sum::<usize>()
        };
        let slot = size_of::<Hits>() + 1;
        let mut total = self.v4.capacity() * (slot + 4) + self.v6.capacity() * (slot + 16);
        for m in [&self.domains, &self.urls, &self.emails, &self.hashes] {
            total += m.capacity() * (slot + size_of::<Box<str>>());
            total += m.keys().map(|k| k.len()).sum::<usize>();
        }
        total + self.maps().map(vec_bytes).sum::<usize>()
    }

    /// Loads every feed of [`default_feeds`]`(data_dir)` and the warning lists in
    /// `data_dir/misp-warninglists/lists`. `data_dir` is the `threat-intel` directory. Feeds
    /// or lists that cannot be read are reported, not fatal.
    pub fn load_default(data_dir: &Path) -> Result<(IntelStore, LoadReport), StoreError> {
        if !data_dir.join("feeds").is_dir() {
            return Err(StoreError::NoFeeds(data_dir.to_path_buf()));
        }
        let mut report = LoadReport::default();
        let mut store = IntelStore::new();
        match WarningLists::load_dir(&data_dir.join("misp-warninglists/lists")) {
            Ok(wl) => {
                report.warninglists = wl.lists().len();
                report.warninglists_skipped = wl.skipped().to_vec();
                store = store.with_warninglists(wl);
            }
            Err(e) => report.warninglists_error = Some(e.to_string()),
        }
        for spec in default_feeds(data_dir) {
            let mut fr = FeedReport {
                name: spec.name.clone(),
                source: spec.source.clone(),
                hits: 0,
                cidrs: 0,
                skipped: 0,
                error: None,
            };
            match load_feed(&spec) {
                Ok(load) => {
                    fr.hits = load.hits.len();
                    fr.cidrs = load.cidrs.len();
                    fr.skipped = load.skipped.len();
                    for h in load.hits {
                        store.insert(h);
                    }
                    for (c, h) in load.cidrs {
                        store.insert_cidr(c, h);
                    }
                }
                Err(e) => fr.error = Some(e.to_string()),
            }
            report.feeds.push(fr);
        }
        report.per_source = store.count_by_source();
        Ok((store, report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_keys() {
        assert_eq!(url_key("http://a.b/"), "a.b");
        assert_eq!(url_key("https://a.b"), "a.b");
        assert_eq!(url_key("http://a.b/x/"), "a.b/x/");
        assert_eq!(url_key("a.b/x"), "a.b/x");
    }

    #[test]
    fn fx_hashes_differ() {
        let h = |x: u32| {
            let mut f = FxHasher::default();
            f.write_u32(x);
            f.finish()
        };
        assert_ne!(h(1), h(2));
    }
}

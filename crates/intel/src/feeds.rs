//! Loaders for the bundled IOC lists (`threat-intel/feeds/*`, see each feed's `SOURCES.md`).
//!
//! A [`FeedSpec`] says where a list is, how it is written ([`FeedFormat`]) and what a line in
//! it means (source, threat, family, confidence); [`default_feeds`] is the table of bundled
//! feeds and [`load_feed`] turns one into [`IntelHit`]s. A bad line is skipped and reported in
//! [`FeedLoad::skipped`] with its line number and a bounded reason; it never fails the load.
//!
//! Line conventions shared by every format: `#` and `!` start comment lines, blank lines are
//! ignored, CRLF is accepted, a UTF-8 BOM is ignored, invalid UTF-8 is replaced (and the line
//! then usually skipped as not an indicator).
//!
//! What a line becomes:
//! - `1.2.3.4`, `2001:db8::1` → IP; `1.2.3.4:8080` / `evil.example:443` → IP / domain with a
//!   `port:<n>` tag; `evil.example` → domain; `192.0.2.0/24` (plain lists only) → a CIDR entry
//!   in [`FeedLoad::cidrs`]; `0.0.0.0 evil.example` (hosts-file) → the host; adblock rules
//!   `||host/path^$all` (malware-filter's URL lists; their SOURCES.md does not say so) →
//!   `host/path`.
//! - `scheme://host/path` → URL; a scheme-less `host/path` (URLhaus-filter, phishing-filter,
//!   maltrail) → URL `http://host/path` tagged `scheme:assumed` (the store compares URLs
//!   without their scheme, so this matches `https://` too).
//! - maltrail only: a URL without a path (`http://45.61.139.232`) is the host itself (maltrail
//!   strips the scheme and trailing `/` of its trails), and a path-only trail (`/gate.php`) is
//!   skipped as `path-only trail` since there is nothing to look it up by.
//!
//! Seen dates: `last_seen` comes from the feed's own column where it has one (the URLhaus and
//! Feodo Splunk CSVs' `updated`, which is the list's generation time, not a per-URL date), else
//! from [`FeedSpec::snapshot_ms`], the snapshot date stated in the feed's `SOURCES.md`: the
//! indicator was listed on that date. `first_seen` is never known from these lists (`None`).
//!
//! Confidence priors ([`default_feeds`]): maltrail 60 (curated with references, but historic
//! C2 that may be reassigned); IPsum `min(90, 10 + 10 × count)` where count is the number of
//! blocklists listing the IP (1 → 20, 3 → 40, 5 → 60, 8+ → 90; a single list is noisy);
//! C2-Tracker 70, and 40 for the red-team/pentest tools its caveats name (BurpSuite, GoPhish,
//! Metasploit, MobSF, Caldera, RedGuard); ThreatFox 75; Feodo botnet-filter (2024) 70, the
//! 2015 firehol Feodo set 25; URLhaus 80; Phishing.Database ACTIVE / NEW-today 60, INACTIVE 25
//! (`status:inactive`); OpenPhish 80; phishing-filter 60.
//!
//! Licensing: OpenPhish's community feed is for **non-commercial use only** (OpenPhish terms of
//! use), and phishing-filter is partly derived from it; everything else bundled is CC0, MIT,
//! Unlicense or BSD (C2-Tracker states no license, "free-to-use"). A commercial deployment
//! should drop the `openphish` (and `phishing-filter`) specs from [`default_feeds`].

use std::path::{Path, PathBuf};

use crate::warninglists::Cidr;
use crate::{Indicator, IndicatorKind, IntelHit};

/// Why a feed could not be loaded at all (bad lines never are).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    /// The file could not be read.
    #[error("reading feed {name} ({path}): {source}")]
    Io {
        /// The spec's name.
        name: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// How a feed file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedFormat {
    /// maltrail trail list: `# Reference: <url>` comments (kept as each following trail's
    /// `reference`), one trail per line (IP, IP:port, domain, URL, host/path, /path).
    Maltrail,
    /// IPsum: `<ip><TAB><number of blocklists>`.
    IpsumTsv,
    /// One IP / domain / URL / CIDR / hosts-file line per line.
    PlainList,
    /// malware-filter Splunk lookup CSV: `#` comments, a quoted header naming `host` or `ip`,
    /// optionally `path` and `updated`, then quoted rows.
    SplunkCsv,
}

/// One feed file and what its lines mean.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedSpec {
    /// Unique name (`maltrail/icedid`, `ipsum`, `c2-tracker/Sliver_C2_IPs`).
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: FeedFormat,
    /// [`IntelHit::source`] of its hits.
    pub source: String,
    /// [`IntelHit::threat`] of its hits (maltrail: of IPs and domains; its URLs are `malware`).
    pub threat: String,
    /// [`IntelHit::family`] of its hits.
    pub family: Option<String>,
    /// [`IntelHit::confidence`] of its hits (IPsum: computed from the count instead).
    pub confidence: u8,
    /// The snapshot date from the feed's `SOURCES.md` (epoch ms), used as `last_seen` when the
    /// feed has no date column.
    pub snapshot_ms: Option<i64>,
    /// Tags added to every hit (besides `feed:<name>`).
    pub tags: Vec<String>,
}

/// What loading one feed produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedLoad {
    /// One hit per indicator line (a feed may repeat an indicator; the store deduplicates).
    pub hits: Vec<IntelHit>,
    /// Hits on whole prefixes (`192.0.2.0/24` lines); the hit's indicator is the network
    /// address and it is tagged `cidr:<prefix>`.
    pub cidrs: Vec<(Cidr, IntelHit)>,
    /// Lines not used: (1-based line number, reason).
    pub skipped: Vec<(usize, &'static str)>,
}

/// Reads and parses one feed. Only an unreadable file is an error.
pub fn load_feed(spec: &FeedSpec) -> Result<FeedLoad, FeedError> {
    let bytes = std::fs::read(&spec.path).map_err(|source| FeedError::Io {
        name: spec.name.clone(),
        path: spec.path.clone(),
        source,
    })?;
    Ok(parse_feed(spec, &String::from_utf8_lossy(&bytes)))
}

/// Parses feed text as `spec` describes (`spec.path` is not read). Never panics.
pub fn parse_feed(spec: &FeedSpec, text: &str) -> FeedLoad {
    let mut out = FeedLoad::default();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reference: Option<String> = None;
    let mut csv_cols: Option<CsvCols> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('#') || line.starts_with('!') {
            if spec.format == FeedFormat::Maltrail {
                if let Some(r) = line
                    .trim_start_matches('#')
                    .trim()
                    .strip_prefix("Reference:")
                {
                    let r = r.trim();
                    reference = (!r.is_empty()).then(|| r.to_string());
                }
            }
            continue;
        }
        let res = match spec.format {
            FeedFormat::Maltrail => maltrail_line(spec, line, reference.as_deref()),
            FeedFormat::IpsumTsv => ipsum_line(spec, line),
            FeedFormat::PlainList => plain_line(spec, line),
            FeedFormat::SplunkCsv => match &csv_cols {
                None => match CsvCols::from_header(line) {
                    Some(c) => {
                        csv_cols = Some(c);
                        continue;
                    }
                    None => Err("bad csv header"),
                },
                Some(c) => csv_line(spec, c, line),
            },
        };
        match res {
            Ok(Entry::Hit(h)) => out.hits.push(h),
            Ok(Entry::Cidr(c, h)) => out.cidrs.push((c, h)),
            Err(reason) => out.skipped.push((n, reason)),
        }
    }
    out
}

enum Entry {
    Hit(IntelHit),
    Cidr(Cidr, IntelHit),
}

type LineResult = Result<Entry, &'static str>;

fn hit(spec: &FeedSpec, indicator: Indicator) -> IntelHit {
    let mut tags = Vec::with_capacity(1 + spec.tags.len());
    tags.push(format!("feed:{}", spec.name));
    tags.extend(spec.tags.iter().cloned());
    IntelHit {
        indicator,
        source: spec.source.clone(),
        family: spec.family.clone(),
        threat: spec.threat.clone(),
        confidence: spec.confidence.min(100),
        first_seen: None,
        last_seen: spec.snapshot_ms,
        tags,
        attack: Vec::new(),
        reference: None,
    }
}

/// An item parsed from a list line.
struct Item {
    indicator: Indicator,
    port: Option<u16>,
    scheme_assumed: bool,
}

/// Splits `host:port` when the port is numeric.
fn split_port(s: &str) -> (&str, Option<u16>) {
    if s.bytes().filter(|&b| b == b':').count() != 1 {
        return (s, None);
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            match p.parse::<u16>() {
                Ok(port) => (h, Some(port)),
                Err(_) => (s, None),
            }
        }
        _ => (s, None),
    }
}

/// An IP or domain, with an optional `:port`.
fn host_item(s: &str) -> Option<Item> {
    let (h, port) = split_port(s);
    let indicator = Indicator::guess(h)?;
    match indicator.kind {
        IndicatorKind::Ipv4 | IndicatorKind::Ipv6 | IndicatorKind::Domain => Some(Item {
            indicator,
            port,
            scheme_assumed: false,
        }),
        _ => None,
    }
}

/// Parses a line of a plain list (or a maltrail trail after its scheme handling).
fn item(s: &str, maltrail: bool) -> Result<Item, &'static str> {
    let rest = crate::warninglists::strip_scheme(s);
    if rest.len() < s.len() {
        if maltrail {
            let rest = rest.trim_end_matches('/');
            if !rest.contains(['/', '?', '#']) {
                return host_item(rest).ok_or("not an indicator");
            }
        }
        let indicator = Indicator::new(IndicatorKind::Url, s).ok_or("not an indicator")?;
        return Ok(Item {
            indicator,
            port: None,
            scheme_assumed: false,
        });
    }
    if s.starts_with('/') {
        return Err("path-only trail");
    }
    if let Some(cut) = s.find(['/', '?']) {
        let host = s.get(..cut).unwrap_or_default();
        if host_item(host).is_none() {
            return Err("not an indicator");
        }
        let indicator =
            Indicator::new(IndicatorKind::Url, &format!("http://{s}")).ok_or("not an indicator")?;
        return Ok(Item {
            indicator,
            port: None,
            scheme_assumed: true,
        });
    }
    if let Some(i) = host_item(s) {
        return Ok(i);
    }
    match Indicator::guess(s) {
        Some(indicator) => Ok(Item {
            indicator,
            port: None,
            scheme_assumed: false,
        }),
        None => Err("not an indicator"),
    }
}

fn item_hit(spec: &FeedSpec, it: Item) -> IntelHit {
    let mut h = hit(spec, it.indicator);
    if let Some(p) = it.port {
        h.tags.push(format!("port:{p}"));
    }
    if it.scheme_assumed {
        h.tags.push("scheme:assumed".to_string());
    }
    h
}

fn maltrail_line(spec: &FeedSpec, line: &str, reference: Option<&str>) -> LineResult {
    let it = item(line, true)?;
    let is_url = it.indicator.kind == IndicatorKind::Url;
    let mut h = item_hit(spec, it);
    if is_url {
        h.threat = "malware".to_string();
    }
    h.reference = reference.map(str::to_string);
    Ok(Entry::Hit(h))
}

/// IPsum's confidence for an IP listed by `count` blocklists: `min(90, 10 + 10 × count)`.
pub fn ipsum_confidence(count: u32) -> u8 {
    u8::try_from(count.saturating_mul(10).saturating_add(10).min(90)).unwrap_or(90)
}

fn ipsum_line(spec: &FeedSpec, line: &str) -> LineResult {
    let mut parts = line.split_whitespace();
    let ip = parts.next().ok_or("empty")?;
    let count: u32 = parts
        .next()
        .ok_or("missing count")?
        .parse()
        .map_err(|_| "bad count")?;
    if parts.next().is_some() {
        return Err("extra columns");
    }
    let indicator = Indicator::guess(ip)
        .filter(|i| matches!(i.kind, IndicatorKind::Ipv4 | IndicatorKind::Ipv6))
        .ok_or("not an ip")?;
    let mut h = hit(spec, indicator);
    h.confidence = ipsum_confidence(count);
    h.tags.push(format!("lists:{count}"));
    Ok(Entry::Hit(h))
}

/// Strips adblock network-filter syntax (`||host/path^$all`, used by malware-filter's
/// URLhaus and phishing lists) down to `host/path`.
fn strip_adblock(line: &str) -> &str {
    let Some(rest) = line.strip_prefix("||") else {
        return line;
    };
    let rest = rest.rsplit_once('$').map_or(rest, |(r, _)| r);
    rest.strip_suffix('^').unwrap_or(rest)
}

fn plain_line(spec: &FeedSpec, line: &str) -> LineResult {
    let line = strip_adblock(line);
    let mut words = line.split_whitespace();
    let first = words.next().unwrap_or_default();
    let s = match (words.next(), words.next()) {
        (None, _) => first,
        (Some(host), None) if matches!(first, "0.0.0.0" | "127.0.0.1" | "::" | "::1") => host,
        _ => return Err("not an indicator"),
    };
    if let Some((a, len)) = s.split_once('/') {
        if a.parse::<std::net::IpAddr>().is_ok()
            && !len.is_empty()
            && len.bytes().all(|b| b.is_ascii_digit())
        {
            let c = Cidr::parse(s).ok_or("bad cidr")?;
            let ind = Indicator::guess(&c.addr().to_string()).ok_or("bad cidr")?;
            let mut h = hit(spec, ind);
            h.tags.push(format!("cidr:{c}"));
            return Ok(Entry::Cidr(c, h));
        }
    }
    Ok(Entry::Hit(item_hit(spec, item(s, false)?)))
}

/// Column positions of a Splunk lookup CSV.
struct CsvCols {
    host: usize,
    path: Option<usize>,
    updated: Option<usize>,
}

impl CsvCols {
    fn from_header(line: &str) -> Option<CsvCols> {
        let fields = csv_fields(line)?;
        let pos = |name: &str| fields.iter().position(|f| f.eq_ignore_ascii_case(name));
        Some(CsvCols {
            host: pos("host").or_else(|| pos("ip"))?,
            path: pos("path"),
            updated: pos("updated"),
        })
    }
}

/// Splits one CSV line (RFC 4180 quoting, no embedded newlines); `None` on bad quoting.
fn csv_fields(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && at_start {
            quoted = true;
            at_start = false;
        } else if c == ',' {
            out.push(std::mem::take(&mut cur));
            at_start = true;
        } else if c == '"' {
            return None;
        } else {
            cur.push(c);
            at_start = false;
        }
    }
    if quoted {
        return None;
    }
    out.push(cur);
    Some(out)
}

fn csv_line(spec: &FeedSpec, cols: &CsvCols, line: &str) -> LineResult {
    let f = csv_fields(line).ok_or("bad csv row")?;
    let host = f.get(cols.host).map(|s| s.trim()).unwrap_or_default();
    if host.is_empty() {
        return Err("missing host");
    }
    let path = cols
        .path
        .and_then(|p| f.get(p))
        .map(|s| s.trim())
        .unwrap_or_default();
    let it = if path.is_empty() {
        host_item(host).ok_or("not an indicator")?
    } else {
        if host_item(host).is_none() {
            return Err("not an indicator");
        }
        let sep = if path.starts_with(['/', '?']) {
            ""
        } else {
            "/"
        };
        Item {
            indicator: Indicator::new(IndicatorKind::Url, &format!("http://{host}{sep}{path}"))
                .ok_or("not an indicator")?,
            port: None,
            scheme_assumed: true,
        }
    };
    let mut h = item_hit(spec, it);
    if let Some(t) = cols
        .updated
        .and_then(|u| f.get(u))
        .and_then(|s| parse_time_ms(s))
    {
        h.last_seen = Some(t);
    }
    Ok(Entry::Hit(h))
}

/// Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[.fff]Z` (UTC) to epoch ms.
pub fn parse_time_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let num = |a: usize, b: usize| -> Option<i64> {
        let t = s.get(a..b)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())
            .flatten()
    };
    if s.get(4..5) != Some("-") || s.get(7..8) != Some("-") {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut ms = shrike_types::days_from_civil(y, mo, d) * 86_400_000;
    if s.len() > 10 {
        if !matches!(s.get(10..11), Some("T" | " ")) || s.get(13..14) != Some(":") {
            return None;
        }
        let (h, mi, se) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
        if h > 23 || mi > 59 || se > 60 {
            return None;
        }
        ms += (h * 3600 + mi * 60 + se) * 1000;
    }
    Some(ms)
}

/// Display names of maltrail's family files.
fn maltrail_family(stem: &str) -> String {
    let known = [
        ("agenttesla", "AgentTesla"),
        ("amadey", "Amadey"),
        ("asyncrat", "AsyncRAT"),
        ("bazarloader", "BazarLoader"),
        ("cobaltstrike", "Cobalt Strike"),
        ("danabot", "DanaBot"),
        ("dcrat", "DCRat"),
        ("dridex", "Dridex"),
        ("emotet", "Emotet"),
        ("formbook", "FormBook"),
        ("icedid", "IcedID"),
        ("latrodectus", "Latrodectus"),
        ("lokibot", "LokiBot"),
        ("lummac2", "LummaC2"),
        ("nanocore", "NanoCore"),
        ("netwire", "NetWire"),
        ("njrat", "njRAT"),
        ("qakbot", "QakBot"),
        ("quasarrat", "QuasarRAT"),
        ("raccoon", "Raccoon"),
        ("redline", "RedLine"),
        ("remcos", "Remcos"),
        ("smokeloader", "SmokeLoader"),
        ("systembc", "SystemBC"),
        ("trickbot", "TrickBot"),
        ("ursnif", "Ursnif"),
        ("vidar", "Vidar"),
        ("xworm", "XWorm"),
        ("zloader", "ZLoader"),
    ];
    known
        .iter()
        .find(|(k, _)| *k == stem)
        .map_or_else(|| stem.to_string(), |(_, v)| (*v).to_string())
}

/// C2-Tracker's framework from its file stem: `Cobalt_Strike_C2_IPs` → `Cobalt Strike`,
/// `Gh0st_RAT_Trojan_IPs` → `Gh0st RAT`.
pub fn c2_tracker_family(stem: &str) -> String {
    let mut words: Vec<&str> = stem.split('_').filter(|w| !w.is_empty()).collect();
    while matches!(words.last(), Some(&("IPs" | "C2" | "Trojan"))) && words.len() > 1 {
        words.pop();
    }
    words.join(" ")
}

/// Sorted `*.txt` file stems of a directory (empty when unreadable).
fn txt_stems(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".txt").map(str::to_string)
        })
        .collect();
    v.sort();
    v
}

/// The bundled feeds under `data_dir` (the `threat-intel` directory holding `feeds/`), in
/// load order. maltrail and C2-Tracker get one spec per file found; C2-Tracker's `all.txt` is
/// left out (it is exactly the union of the per-framework files, which carry the family).
/// Snapshot dates are those of the feeds' `SOURCES.md`.
pub fn default_feeds(data_dir: &Path) -> Vec<FeedSpec> {
    let feeds = data_dir.join("feeds");
    let date = |s: &str| parse_time_ms(s);
    let spec = |name: &str,
                rel: &str,
                format: FeedFormat,
                source: &str,
                threat: &str,
                family: Option<&str>,
                confidence: u8,
                snapshot: &str,
                tags: &[&str]| FeedSpec {
        name: name.to_string(),
        path: feeds.join(rel),
        format,
        source: source.to_string(),
        threat: threat.to_string(),
        family: family.map(str::to_string),
        confidence,
        snapshot_ms: date(snapshot),
        tags: tags.iter().map(|t| (*t).to_string()).collect(),
    };
    let mut out = Vec::new();
    for stem in txt_stems(&feeds.join("maltrail")) {
        let fam = maltrail_family(&stem);
        out.push(spec(
            &format!("maltrail/{stem}"),
            &format!("maltrail/{stem}.txt"),
            FeedFormat::Maltrail,
            "maltrail",
            "c2",
            Some(&fam),
            60,
            "2026-08-23",
            &[],
        ));
    }
    out.push(spec(
        "ipsum",
        "ipsum/ipsum.txt",
        FeedFormat::IpsumTsv,
        "ipsum",
        "malicious",
        None,
        20,
        "2026-08-22",
        &[],
    ));
    for stem in txt_stems(&feeds.join("c2-tracker/data")) {
        if stem == "all" {
            continue;
        }
        let fam = c2_tracker_family(&stem);
        let red_team = [
            "BurpSuite",
            "GoPhish",
            "Metasploit",
            "MobSF",
            "Caldera",
            "RedGuard",
        ]
        .iter()
        .any(|t| fam.starts_with(t));
        out.push(spec(
            &format!("c2-tracker/{stem}"),
            &format!("c2-tracker/data/{stem}.txt"),
            FeedFormat::PlainList,
            "c2-tracker",
            "c2",
            Some(&fam),
            if red_team { 40 } else { 70 },
            "2026-03-16",
            if red_team { &["red-team-tool"] } else { &[] },
        ));
    }
    out.push(spec(
        "threatfox",
        "threatfox-ioc-ips/ips.txt",
        FeedFormat::PlainList,
        "threatfox",
        "c2",
        None,
        75,
        "2026-08-22",
        &[],
    ));
    out.push(spec(
        "feodo/botnet-filter",
        "feodo/botnet-filter.txt",
        FeedFormat::PlainList,
        "feodo",
        "c2",
        None,
        70,
        "2024-08-09",
        &["botnet"],
    ));
    out.push(spec(
        "feodo/botnet-filter-splunk",
        "feodo/botnet-filter-splunk.csv",
        FeedFormat::SplunkCsv,
        "feodo",
        "c2",
        None,
        70,
        "2024-08-09",
        &["botnet"],
    ));
    out.push(spec(
        "feodo/firehol-2015",
        "feodo/firehol-feodo.ipset",
        FeedFormat::PlainList,
        "feodo",
        "c2",
        Some("Feodo"),
        25,
        "2015-10-23",
        &["botnet", "historic"],
    ));
    for (name, rel, format) in [
        (
            "urlhaus/online",
            "urlhaus-filter/urlhaus-filter-online.txt",
            FeedFormat::PlainList,
        ),
        (
            "urlhaus/hosts-online",
            "urlhaus-filter/urlhaus-filter-hosts-online.txt",
            FeedFormat::PlainList,
        ),
        (
            "urlhaus/splunk",
            "urlhaus-filter/urlhaus-filter-splunk-online.head3000.csv",
            FeedFormat::SplunkCsv,
        ),
    ] {
        out.push(spec(
            name,
            rel,
            format,
            "urlhaus",
            "malware",
            None,
            80,
            "2025-07-19",
            &[],
        ));
    }
    for (name, rel, conf, status) in [
        (
            "phishing-database/ips-active",
            "phishing-database/phishing-IPs-ACTIVE.txt",
            60,
            "status:active",
        ),
        (
            "phishing-database/domains-active",
            "phishing-database/phishing-domains-ACTIVE2.head5000.txt",
            60,
            "status:active",
        ),
        (
            "phishing-database/domains-new",
            "phishing-database/phishing-domains-NEW-today.txt",
            60,
            "status:new",
        ),
        (
            "phishing-database/links-new",
            "phishing-database/phishing-links-NEW-today.txt",
            60,
            "status:new",
        ),
        (
            "phishing-database/links-inactive",
            "phishing-database/phishing-links-INACTIVE1.head3000.txt",
            25,
            "status:inactive",
        ),
    ] {
        out.push(spec(
            name,
            rel,
            FeedFormat::PlainList,
            "phishing-database",
            "phishing",
            None,
            conf,
            "2026-08-01",
            &[status],
        ));
    }
    out.push(spec(
        "openphish",
        "openphish/feed.txt",
        FeedFormat::PlainList,
        "openphish",
        "phishing",
        None,
        80,
        "2026-08-22",
        &["license:non-commercial"],
    ));
    for (name, rel) in [
        (
            "phishing-filter/urls",
            "phishing-filter/phishing-filter.txt",
        ),
        (
            "phishing-filter/domains",
            "phishing-filter/phishing-filter-domains.txt",
        ),
    ] {
        out.push(spec(
            name,
            rel,
            FeedFormat::PlainList,
            "phishing-filter",
            "phishing",
            None,
            60,
            "2024-08-09",
            &[],
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time_ms("1970-01-01"), Some(0));
        assert_eq!(
            parse_time_ms("2024-08-09T12:01:46Z"),
            Some(1_723_204_906_000)
        );
        assert_eq!(parse_time_ms("2024-13-01"), None);
        assert_eq!(parse_time_ms("2024-1-01"), None);
        assert_eq!(parse_time_ms("éééééééééééé"), None);
    }

    #[test]
    fn families() {
        assert_eq!(c2_tracker_family("Cobalt_Strike_C2_IPs"), "Cobalt Strike");
        assert_eq!(c2_tracker_family("Gh0st_RAT_Trojan_IPs"), "Gh0st RAT");
        assert_eq!(c2_tracker_family("Brute_Ratel_C4_IPs"), "Brute Ratel C4");
        assert_eq!(c2_tracker_family("all"), "all");
        assert_eq!(ipsum_confidence(1), 20);
        assert_eq!(ipsum_confidence(3), 40);
        assert_eq!(ipsum_confidence(8), 90);
        assert_eq!(ipsum_confidence(u32::MAX), 90);
    }

    #[test]
    fn csv() {
        assert_eq!(
            csv_fields(r#""a","b,c","d""e""#),
            Some(vec!["a".into(), "b,c".into(), "d\"e".into()])
        );
        assert_eq!(csv_fields(r#""a"#), None);
    }
}

//! The types every intel source shares.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// What kind of observable an indicator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndicatorKind {
    /// An IPv4 address (dotted quad, canonical).
    Ipv4,
    /// An IPv6 address (canonical compressed lowercase).
    Ipv6,
    /// A domain name (lowercase, no trailing dot).
    Domain,
    /// A URL (scheme and host lowercased; path and query as written).
    Url,
    /// An email address (lowercase).
    Email,
    /// MD5 (lowercase hex).
    Md5,
    /// SHA-1 (lowercase hex).
    Sha1,
    /// SHA-256 (lowercase hex).
    Sha256,
}

impl IndicatorKind {
    /// Stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorKind::Ipv4 => "ipv4",
            IndicatorKind::Ipv6 => "ipv6",
            IndicatorKind::Domain => "domain",
            IndicatorKind::Url => "url",
            IndicatorKind::Email => "email",
            IndicatorKind::Md5 => "md5",
            IndicatorKind::Sha1 => "sha1",
            IndicatorKind::Sha256 => "sha256",
        }
    }
}

/// A normalized indicator: equal indicators are equal strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Indicator {
    /// Its kind.
    pub kind: IndicatorKind,
    /// Its canonical text (see [`IndicatorKind`]).
    pub value: String,
}

impl Indicator {
    /// Normalizes `raw` as an indicator of `kind`; `None` when it is not one.
    pub fn new(kind: IndicatorKind, raw: &str) -> Option<Indicator> {
        let raw = raw.trim();
        let value = match kind {
            IndicatorKind::Ipv4 | IndicatorKind::Ipv6 => {
                let ip: IpAddr = raw
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse()
                    .ok()?;
                let ip = match ip {
                    IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
                    v4 => v4,
                };
                let want_v4 = kind == IndicatorKind::Ipv4;
                if ip.is_ipv4() != want_v4 {
                    return None;
                }
                ip.to_string()
            }
            IndicatorKind::Domain => {
                let d = raw.trim_end_matches('.').to_ascii_lowercase();
                let ok = !d.is_empty()
                    && d.len() <= 253
                    && d.contains('.')
                    && d.split('.').all(|l| {
                        !l.is_empty()
                            && l.len() <= 63
                            && l.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    })
                    && raw.parse::<IpAddr>().is_err();
                if !ok {
                    return None;
                }
                d
            }
            IndicatorKind::Url => {
                let (scheme, rest) = raw.split_once("://")?;
                if scheme.is_empty()
                    || !scheme
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b))
                {
                    return None;
                }
                let cut = rest.find(['/', '?', '#']).unwrap_or(rest.len());
                let (host, tail) = rest.split_at(cut);
                if host.is_empty() {
                    return None;
                }
                format!(
                    "{}://{}{}",
                    scheme.to_ascii_lowercase(),
                    host.to_ascii_lowercase(),
                    tail
                )
            }
            IndicatorKind::Email => {
                let (local, domain) = raw.rsplit_once('@')?;
                if local.is_empty() || domain.is_empty() || raw.contains(char::is_whitespace) {
                    return None;
                }
                raw.to_ascii_lowercase()
            }
            IndicatorKind::Md5 | IndicatorKind::Sha1 | IndicatorKind::Sha256 => {
                let len = match kind {
                    IndicatorKind::Md5 => 32,
                    IndicatorKind::Sha1 => 40,
                    _ => 64,
                };
                if raw.len() != len || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                raw.to_ascii_lowercase()
            }
        };
        Some(Indicator { kind, value })
    }

    /// Guesses the kind of a bare string (an IOC list line): IP, URL, email, hash, else domain.
    pub fn guess(raw: &str) -> Option<Indicator> {
        let raw = raw.trim();
        if let Ok(ip) = raw.parse::<IpAddr>() {
            let v4 = match ip {
                IpAddr::V4(_) => true,
                IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some(),
            };
            let kind = if v4 {
                IndicatorKind::Ipv4
            } else {
                IndicatorKind::Ipv6
            };
            return Indicator::new(kind, raw);
        }
        if raw.contains("://") {
            return Indicator::new(IndicatorKind::Url, raw);
        }
        if raw.contains('@') {
            return Indicator::new(IndicatorKind::Email, raw);
        }
        if raw.bytes().all(|b| b.is_ascii_hexdigit()) {
            let kind = match raw.len() {
                32 => Some(IndicatorKind::Md5),
                40 => Some(IndicatorKind::Sha1),
                64 => Some(IndicatorKind::Sha256),
                _ => None,
            };
            if let Some(k) = kind {
                return Indicator::new(k, raw);
            }
        }
        Indicator::new(IndicatorKind::Domain, raw)
    }
}

/// One source's statement about an indicator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntelHit {
    /// The indicator that matched (canonical).
    pub indicator: Indicator,
    /// Where it comes from: `maltrail`, `ipsum`, `c2-tracker`, `threatfox`, `feodo`,
    /// `phishing-database`, `openphish`, `urlhaus`, `stix:<bundle or collection>`, `virustotal`.
    pub source: String,
    /// Malware family or tool (`IcedID`, `Cobalt Strike`), when the source says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// What it is: `c2`, `malware`, `phishing`, `scanner`, `botnet`, `malicious` (generic).
    pub threat: String,
    /// 0–100, the source's confidence or Shrike's calibrated prior for the source.
    pub confidence: u8,
    /// Epoch ms, when the source first saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<i64>,
    /// Epoch ms, when the source last saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<i64>,
    /// Free tags (feed file names, labels).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// ATT&CK technique ids the source ties to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attack: Vec<String>,
    /// Where to read more (a report, an indicator id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl IntelHit {
    /// A hit with only the required fields; the optional ones are empty.
    pub fn new(indicator: Indicator, source: &str, threat: &str, confidence: u8) -> IntelHit {
        IntelHit {
            indicator,
            source: source.to_owned(),
            family: None,
            threat: threat.to_owned(),
            confidence,
            first_seen: None,
            last_seen: None,
            tags: Vec::new(),
            attack: Vec::new(),
            reference: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_guesses() {
        let g = |s: &str| Indicator::guess(s).map(|i| (i.kind, i.value));
        assert_eq!(
            g("192.0.2.1"),
            Some((IndicatorKind::Ipv4, "192.0.2.1".into()))
        );
        assert_eq!(
            g("::ffff:192.0.2.1"),
            Some((IndicatorKind::Ipv4, "192.0.2.1".into()))
        );
        assert_eq!(
            g("2001:DB8::1"),
            Some((IndicatorKind::Ipv6, "2001:db8::1".into()))
        );
        assert_eq!(
            g("Evil.Example."),
            Some((IndicatorKind::Domain, "evil.example".into()))
        );
        assert_eq!(
            g("HTTP://Evil.Example/A?b"),
            Some((IndicatorKind::Url, "http://evil.example/A?b".into()))
        );
        assert_eq!(
            g("Bob@Example.com"),
            Some((IndicatorKind::Email, "bob@example.com".into()))
        );
        assert_eq!(
            g("D41D8CD98F00B204E9800998ECF8427E"),
            Some((
                IndicatorKind::Md5,
                "d41d8cd98f00b204e9800998ecf8427e".into()
            ))
        );
        assert_eq!(g("not a domain"), None);
        assert_eq!(g("localhost"), None);
        assert_eq!(Indicator::new(IndicatorKind::Ipv4, "2001:db8::1"), None);
    }
}

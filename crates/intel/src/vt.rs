//! VirusTotal API v3 client, as a [`Provider`].
//!
//! Looks up IPs (`/ip_addresses/{ip}`), domains (`/domains/{domain}`), URLs
//! (`/urls/{id}`, `id` = the URL in base64url without padding, as the v3 docs define it) and
//! file hashes (`/files/{md5|sha1|sha256}`). Email addresses are unsupported. The key goes in
//! the `x-apikey` header; [`VtConfig::from_env`] reads it from `VT_API_KEY`. The real endpoint
//! ([`DEFAULT_BASE_URL`]) is the default; tests point `base_url` at a local server.
//!
//! Wrap the client in [`crate::provider::Guarded`] for the cache, timeout, retries and breaker:
//! the client itself makes exactly one request per [`Provider::lookup`].
//!
//! **Quota** (`quota_per_minute`, public API: 4): enforced client-side over a sliding 60-second
//! window of requests actually sent. A call over quota does not wait and does not touch the
//! network: it fails `rate_limited` with `retry_after_ms` = when a slot frees. The guard then
//! waits that long only if it is within its `max_retry_after` (default 10 s), otherwise the
//! lookup fails `rate_limited` at once, so an alert is never held up to a minute by the quota.
//! Cache hits cost no quota; retries do.
//!
//! **Offline mode** (`offline`, or [`VtClient::set_offline`] at run time): never touches the network; every lookup fails `offline`, so behind a guard
//! only cached answers are served.
//!
//! **Statuses**: 404 → `not_found` (a negative answer the guard caches); 401/403 → `auth`;
//! 429 → `rate_limited` with `Retry-After` (seconds) when sent; 5xx → `upstream` (retried);
//! other non-2xx or a body not in the documented shape → `bad_response`.
//!
//! **Verdict** from `last_analysis_stats` (`total` = malicious + suspicious + harmless +
//! undetected; timeouts and unsupported types are not votes):
//! - `malicious ≥ malicious_threshold` (default 3 engines): threat `malicious`, confidence
//!   `min(100, 50 + round(250 × malicious / total))`: 3 of 90 engines → 58, 10 % → 75,
//!   20 % or more → 100.
//! - else, if `malicious + suspicious ≥ 1` (and `suspicious_hits`): threat `suspicious`,
//!   confidence `min(35, 10 + 5 × (malicious + suspicious))`: low on purpose, one engine is noise.
//! - else no hit (`Ok(vec![])`: known to VirusTotal, nothing against it).
//!
//! The hit's family is the family part of `popular_threat_classification.suggested_threat_label`
//! (`trojan.emotet/fsysna` → `emotet`), its tags VirusTotal's `tags` plus
//! `detections:<malicious>/<total>` and `reputation:<n>`, `first_seen` the
//! `first_submission_date`, `last_seen` the `last_analysis_date` (both to epoch ms), and its
//! reference the GUI page of the indicator.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use crate::provider::{BoxFuture, Clock, Provider, ProviderError};
use crate::{Indicator, IndicatorKind, IntelHit};

/// The real API endpoint (the default).
pub const DEFAULT_BASE_URL: &str = "https://www.virustotal.com/api/v3";
/// Where the GUI links in hits point.
pub const DEFAULT_GUI_URL: &str = "https://www.virustotal.com/gui";
/// The environment variable holding the API key.
pub const API_KEY_ENV: &str = "VT_API_KEY";
/// `IntelHit::source` and the provider's name.
pub const SOURCE: &str = "virustotal";

const WINDOW: Duration = Duration::from_secs(60);

/// Configuration of a [`VtClient`].
#[derive(Clone, PartialEq)]
pub struct VtConfig {
    /// API key (`x-apikey`); `None`: every lookup fails `auth` without a request.
    pub api_key: Option<String>,
    /// API base, without trailing slash ([`DEFAULT_BASE_URL`]).
    pub base_url: String,
    /// GUI base for hit references ([`DEFAULT_GUI_URL`]).
    pub gui_url: String,
    /// Requests per sliding minute, enforced client-side; 0 = no client-side quota.
    pub quota_per_minute: u32,
    /// Malicious engine votes from which the verdict is `malicious`.
    pub malicious_threshold: u32,
    /// Whether fewer votes still give a low-confidence `suspicious` hit.
    pub suspicious_hits: bool,
    /// Never touch the network (cache only, behind a guard).
    pub offline: bool,
    /// Largest response body read.
    pub max_body_bytes: usize,
}

impl fmt::Debug for VtConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VtConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("gui_url", &self.gui_url)
            .field("quota_per_minute", &self.quota_per_minute)
            .field("malicious_threshold", &self.malicious_threshold)
            .field("suspicious_hits", &self.suspicious_hits)
            .field("offline", &self.offline)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl Default for VtConfig {
    fn default() -> Self {
        VtConfig {
            api_key: None,
            base_url: DEFAULT_BASE_URL.to_string(),
            gui_url: DEFAULT_GUI_URL.to_string(),
            quota_per_minute: 4,
            malicious_threshold: 3,
            suspicious_hits: true,
            offline: false,
            max_body_bytes: 4 << 20,
        }
    }
}

impl VtConfig {
    /// Defaults, with the key from `VT_API_KEY`.
    pub fn from_env() -> VtConfig {
        VtConfig::from_vars(|k| std::env::var(k).ok())
    }

    /// Defaults, with the key from `var("VT_API_KEY")` (blank counts as unset).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> VtConfig {
        let api_key = var(API_KEY_ENV)
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty());
        VtConfig {
            api_key,
            ..VtConfig::default()
        }
    }
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VtError {
    /// `base_url` is not an http(s) URL.
    #[error("VirusTotal base URL must start with http:// or https://: {0:?}")]
    BaseUrl(String),
    /// The HTTP client could not be initialised.
    #[error("building the HTTP client: {0}")]
    Client(String),
}

/// VirusTotal API v3 client.
pub struct VtClient {
    config: VtConfig,
    base: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    /// Send times of the requests in the current quota window.
    sent: Mutex<VecDeque<Duration>>,
    /// Offline mode, switchable at run time (starts as `config.offline`).
    offline: AtomicBool,
}

impl fmt::Debug for VtClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VtClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl VtClient {
    /// A client with `config`, counting its quota with `clock`.
    pub fn new(config: VtConfig, clock: Arc<dyn Clock>) -> Result<VtClient, VtError> {
        let base = config.base_url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(VtError::BaseUrl(config.base_url));
        }
        let http = reqwest::Client::builder()
            // The API does not redirect; following one could leak the key elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("shrike-intel/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| VtError::Client(e.to_string()))?;
        Ok(VtClient {
            base,
            http,
            clock,
            sent: Mutex::new(VecDeque::new()),
            offline: AtomicBool::new(config.offline),
            config,
        })
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &VtConfig {
        &self.config
    }

    /// Switches offline mode (for example when the daily quota is known to be spent).
    pub fn set_offline(&self, offline: bool) {
        self.offline.store(offline, Ordering::Relaxed);
    }

    /// Whether the client is offline.
    pub fn is_offline(&self) -> bool {
        self.offline.load(Ordering::Relaxed)
    }

    /// Takes a quota slot, or says when one frees.
    fn take_quota(&self) -> Result<(), ProviderError> {
        let quota = self.config.quota_per_minute as usize;
        if quota == 0 {
            return Ok(());
        }
        let now = self.clock.now();
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        while sent
            .front()
            .is_some_and(|t| now.saturating_sub(*t) >= WINDOW)
        {
            sent.pop_front();
        }
        if sent.len() >= quota {
            let oldest = sent.front().copied().unwrap_or(now);
            let wait = (oldest + WINDOW).saturating_sub(now);
            return Err(ProviderError::RateLimited {
                retry_after_ms: Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)),
            });
        }
        sent.push_back(now);
        Ok(())
    }

    async fn fetch(&self, indicator: &Indicator) -> Result<Vec<IntelHit>, ProviderError> {
        if !self.supports(indicator.kind) {
            return Err(ProviderError::Unsupported {
                kind: indicator.kind,
            });
        }
        if self.is_offline() {
            return Err(ProviderError::Offline);
        }
        let Some(key) = self.config.api_key.as_deref() else {
            return Err(ProviderError::Auth {
                message: format!("no API key ({API_KEY_ENV} not set)"),
            });
        };
        let path = api_path(indicator)?;
        self.take_quota()?;
        let url = format!("{}{}", self.base, path);
        let mut resp = self
            .http
            .get(&url)
            .header("x-apikey", key)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| ProviderError::Upstream {
                status: None,
                message: e.to_string(),
            })?;
        let status = resp.status().as_u16();
        let retry_after_ms = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| s.saturating_mul(1000));
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > self.config.max_body_bytes {
                        return Err(ProviderError::BadResponse {
                            message: format!(
                                "body over {} bytes (HTTP {status})",
                                self.config.max_body_bytes
                            ),
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(ProviderError::Upstream {
                        status: Some(status),
                        message: format!("reading body: {e}"),
                    })
                }
            }
        }
        match status {
            200..=299 => {
                let v: Value =
                    serde_json::from_slice(&body).map_err(|e| ProviderError::BadResponse {
                        message: format!("not JSON: {e}"),
                    })?;
                Ok(hit_from_response(indicator, &v, &self.config)?
                    .into_iter()
                    .collect())
            }
            404 => Err(ProviderError::NotFound),
            401 | 403 => Err(ProviderError::Auth {
                message: format!("HTTP {status}: {}", error_message(&body)),
            }),
            429 => Err(ProviderError::RateLimited { retry_after_ms }),
            500..=599 => Err(ProviderError::Upstream {
                status: Some(status),
                message: error_message(&body),
            }),
            _ => Err(ProviderError::BadResponse {
                message: format!("HTTP {status}: {}", error_message(&body)),
            }),
        }
    }
}

impl Provider for VtClient {
    fn name(&self) -> &str {
        SOURCE
    }

    fn supports(&self, kind: IndicatorKind) -> bool {
        kind != IndicatorKind::Email
    }

    fn lookup<'a>(
        &'a self,
        indicator: &'a Indicator,
    ) -> BoxFuture<'a, Result<Vec<IntelHit>, ProviderError>> {
        Box::pin(self.fetch(indicator))
    }
}

/// The VirusTotal URL identifier: the URL in base64url without padding.
pub fn url_id(url: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url.as_bytes())
}

/// The API path (after the base URL) for `indicator`.
///
/// The value is re-normalized first, so a hand-built [`Indicator`] cannot put `/`, `?` or `..`
/// into the path.
pub fn api_path(indicator: &Indicator) -> Result<String, ProviderError> {
    let canonical = Indicator::new(indicator.kind, &indicator.value);
    if canonical.as_ref() != Some(indicator) {
        return Err(ProviderError::Invalid {
            message: format!(
                "{} is not a normalized {} indicator",
                indicator.value,
                indicator.kind.as_str()
            ),
        });
    }
    let v = &indicator.value;
    Ok(match indicator.kind {
        IndicatorKind::Ipv4 | IndicatorKind::Ipv6 => format!("/ip_addresses/{v}"),
        IndicatorKind::Domain => {
            if v.bytes().any(|b| b == b'/') {
                return Err(ProviderError::Invalid {
                    message: format!("domain with a slash: {v}"),
                });
            }
            format!("/domains/{v}")
        }
        IndicatorKind::Url => format!("/urls/{}", url_id(v)),
        IndicatorKind::Md5 | IndicatorKind::Sha1 | IndicatorKind::Sha256 => format!("/files/{v}"),
        IndicatorKind::Email => {
            return Err(ProviderError::Unsupported {
                kind: indicator.kind,
            })
        }
    })
}

/// Turns a v3 object response (`{"data": {"attributes": ...}}`) into a hit, per the module's
/// verdict rules; `None` when nothing is held against the indicator.
pub fn hit_from_response(
    indicator: &Indicator,
    response: &Value,
    config: &VtConfig,
) -> Result<Option<IntelHit>, ProviderError> {
    let bad = |m: &str| ProviderError::BadResponse {
        message: m.to_string(),
    };
    let data = response.get("data").ok_or_else(|| bad("no `data`"))?;
    let attrs = data
        .get("attributes")
        .filter(|a| a.is_object())
        .ok_or_else(|| bad("no `data.attributes` object"))?;
    let stats = attrs
        .get("last_analysis_stats")
        .filter(|s| s.is_object())
        .ok_or_else(|| bad("no `last_analysis_stats` object"))?;
    let count = |k: &str| stats.get(k).and_then(Value::as_u64).unwrap_or(0);
    let malicious = count("malicious");
    let suspicious = count("suspicious");
    let total = malicious
        .saturating_add(suspicious)
        .saturating_add(count("harmless"))
        .saturating_add(count("undetected"));

    let (threat, confidence) =
        if malicious >= u64::from(config.malicious_threshold) && malicious > 0 {
            // total ≥ malicious > 0 here.
            let pct = (250u128 * u128::from(malicious) + u128::from(total) / 2) / u128::from(total);
            ("malicious", (50 + pct).min(100))
        } else if config.suspicious_hits && malicious.saturating_add(suspicious) > 0 {
            let votes = u128::from(malicious.saturating_add(suspicious));
            ("suspicious", (10 + 5 * votes.min(100)).min(35))
        } else {
            return Ok(None);
        };

    let label = attrs
        .get("popular_threat_classification")
        .and_then(|p| p.get("suggested_threat_label"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|l| !l.is_empty());
    let mut tags: Vec<String> = attrs
        .get("tags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    tags.push(format!("detections:{malicious}/{total}"));
    if let Some(r) = attrs.get("reputation").and_then(Value::as_i64) {
        tags.push(format!("reputation:{r}"));
    }
    let epoch_ms = |k: &str| {
        attrs
            .get(k)
            .and_then(Value::as_i64)
            .and_then(|s| s.checked_mul(1000))
    };

    Ok(Some(IntelHit {
        indicator: indicator.clone(),
        source: SOURCE.to_string(),
        family: label.and_then(family_from_label),
        threat: threat.to_string(),
        confidence: u8::try_from(confidence).unwrap_or(100),
        first_seen: epoch_ms("first_submission_date"),
        last_seen: epoch_ms("last_analysis_date"),
        tags,
        attack: Vec::new(),
        reference: gui_link(indicator, response, &config.gui_url),
    }))
}

/// The family in a suggested threat label: `trojan.emotet/fsysna` → `emotet`,
/// `emotet/fsysna` → `emotet`, `ransomware.wannacry` → `wannacry`.
pub fn family_from_label(label: &str) -> Option<String> {
    let first = label.split('/').next().unwrap_or(label);
    let family = match first.split_once('.') {
        Some((_, rest)) => rest.split('.').next().unwrap_or(rest),
        None => first,
    };
    let family = family.trim();
    (!family.is_empty()).then(|| family.to_string())
}

/// The GUI page of the indicator. URL pages are keyed by VirusTotal's SHA-256 of the URL,
/// which only the response carries (`data.id`, top-level `id`, or the `self` link).
fn gui_link(indicator: &Indicator, response: &Value, gui: &str) -> Option<String> {
    let gui = gui.trim_end_matches('/');
    let v = &indicator.value;
    match indicator.kind {
        IndicatorKind::Ipv4 | IndicatorKind::Ipv6 => Some(format!("{gui}/ip-address/{v}")),
        IndicatorKind::Domain => Some(format!("{gui}/domain/{v}")),
        IndicatorKind::Md5 | IndicatorKind::Sha1 | IndicatorKind::Sha256 => {
            Some(format!("{gui}/file/{v}"))
        }
        IndicatorKind::Url => {
            let is_sha256 = |s: &&str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
            let self_link = |o: &Value| {
                o.get("links")
                    .and_then(|l| l.get("self"))
                    .and_then(Value::as_str)
                    .and_then(|s| s.rsplit('/').next())
                    .map(str::to_string)
            };
            let data = response.get("data");
            let candidates = [
                data.and_then(|d| d.get("id"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                response
                    .get("id")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                data.and_then(self_link),
                self_link(response),
            ];
            candidates
                .iter()
                .flatten()
                .map(String::as_str)
                .find(is_sha256)
                .map(|id| format!("{gui}/url/{}", id.to_ascii_lowercase()))
        }
        IndicatorKind::Email => None,
    }
}

/// VirusTotal's `{"error": {"code", "message"}}`, or a prefix of the body.
fn error_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        let e = v.get("error");
        let code = e.and_then(|e| e.get("code")).and_then(Value::as_str);
        let msg = e.and_then(|e| e.get("message")).and_then(Value::as_str);
        match (code, msg) {
            (Some(c), Some(m)) => return format!("{c}: {m}"),
            (Some(c), None) => return c.to_string(),
            (None, Some(m)) => return m.to_string(),
            _ => {}
        }
    }
    let text = String::from_utf8_lossy(body);
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_from_labels() {
        assert_eq!(
            family_from_label("trojan.emotet/fsysna").as_deref(),
            Some("emotet")
        );
        assert_eq!(family_from_label("emotet/x").as_deref(), Some("emotet"));
        assert_eq!(
            family_from_label("ransomware.wannacry").as_deref(),
            Some("wannacry")
        );
        assert_eq!(family_from_label("trojan./x"), None);
        assert_eq!(family_from_label(""), None);
    }

    #[test]
    fn url_ids_are_base64url_without_padding() {
        // `?>` encodes to `/` and `_`-bearing base64; the URL-safe alphabet gives `_`.
        assert_eq!(url_id("http://a.b/"), "aHR0cDovL2EuYi8");
        assert_eq!(url_id("http://a.b/?>"), "aHR0cDovL2EuYi8_Pg");
    }

    #[test]
    fn paths_reject_hand_built_indicators() {
        let bad = Indicator {
            kind: IndicatorKind::Domain,
            value: "../files/x".into(),
        };
        assert_eq!(api_path(&bad).map_err(|e| e.reason()), Err("invalid"));
        let ok = Indicator::guess("2001:db8::1").expect("ip");
        assert_eq!(api_path(&ok).as_deref(), Ok("/ip_addresses/2001:db8::1"));
    }

    #[test]
    fn confidence_formula() {
        let ind = Indicator::guess("192.0.2.1").expect("ip");
        let cfg = VtConfig::default();
        let resp = |m: u64, s: u64, h: u64| {
            serde_json::json!({"data": {"attributes": {"last_analysis_stats":
                {"malicious": m, "suspicious": s, "harmless": h, "undetected": 0}}}})
        };
        let conf = |m, s, h| {
            hit_from_response(&ind, &resp(m, s, h), &cfg)
                .expect("parses")
                .map(|h| (h.threat, h.confidence))
        };
        assert_eq!(conf(3, 0, 87), Some(("malicious".into(), 58)));
        assert_eq!(conf(9, 0, 81), Some(("malicious".into(), 75)));
        assert_eq!(conf(50, 0, 40), Some(("malicious".into(), 100)));
        assert_eq!(conf(2, 1, 87), Some(("suspicious".into(), 25)));
        assert_eq!(conf(0, 9, 0), Some(("suspicious".into(), 35)));
        assert_eq!(conf(0, 0, 90), None);
        assert_eq!(conf(0, 0, 0), None);
        assert!(hit_from_response(&ind, &serde_json::json!({"data": {}}), &cfg).is_err());
    }
}

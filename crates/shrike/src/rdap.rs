//! Sender-domain age through RDAP (RFC 9083), with a persistent local cache.
//!
//! Off by default: without `--rdap-url` every age is unknown (NaN to the model), which is also
//! what happens offline or when a lookup fails. With it, `GET {base}/domain/{name}` is asked once
//! per registrable domain and the `registration` event is cached in a JSON file (`--rdap-cache`),
//! so repeated runs ask nothing. The server never blocks a score on RDAP: a miss is looked up in
//! the background and the next email from that domain gets the age.
//!
//! Only sender domains are looked up, never URLs from a message: enrichment never fetches content.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use shrike_score::FeatureContext;
use shrike_types::EmailRecord;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// RDAP options.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RdapArgs {
    /// RDAP base URL (e.g. https://rdap.org); without it domain age is unknown.
    #[arg(long)]
    pub rdap_url: Option<String>,
    /// RDAP cache file (JSON); read at start, written at the end.
    #[arg(long, default_value = "rdap-cache.json")]
    pub rdap_cache: PathBuf,
    /// Per-lookup timeout in milliseconds.
    #[arg(long, default_value_t = 3000)]
    pub rdap_timeout_ms: u64,
}

/// One cached answer.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct CacheEntry {
    /// Registration time, Unix seconds; `None` when the registry did not say.
    pub registered: Option<i64>,
    /// When it was asked, Unix seconds.
    pub fetched_at: i64,
}

/// An RDAP client.
#[derive(Clone)]
pub struct RdapClient {
    http: reqwest::Client,
    base: String,
}

impl RdapClient {
    /// A client for `base` (no trailing slash needed).
    pub fn new(base: &str, timeout: Duration) -> Result<RdapClient> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("shrike/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the RDAP HTTP client")?;
        Ok(RdapClient {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// The registration time of `domain` (Unix seconds), `Ok(None)` when the registry gives none.
    pub async fn registration_time(&self, domain: &str) -> Result<Option<i64>> {
        let url = format!("{}/domain/{}", self.base, domain);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = resp
            .error_for_status()
            .with_context(|| format!("GET {url}"))?;
        let body: serde_json::Value = resp
            .json()
            .await
            .with_context(|| format!("RDAP answer from {url}"))?;
        Ok(registration_from_rdap(&body))
    }
}

/// The `registration` event date of an RDAP domain object.
pub fn registration_from_rdap(body: &serde_json::Value) -> Option<i64> {
    body.get("events")?
        .as_array()?
        .iter()
        .find(|e| e.get("eventAction").and_then(|a| a.as_str()) == Some("registration"))
        .and_then(|e| e.get("eventDate"))
        .and_then(|d| d.as_str())
        .and_then(parse_rfc3339)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` to Unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    // One timestamp parser for the whole project (shrike-normalize's, which also reads the
    // telemetry formats); RDAP dates are RFC 3339.
    shrike_normalize::mapping::parse_time_str(s).map(|ms| ms.div_euclid(1000))
}

/// The registrable domain (last two labels; three under common two-level public suffixes).
pub fn registrable(domain: &str) -> String {
    const TWO_LEVEL: &[&str] = &[
        "co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "co.jp", "ne.jp",
        "co.nz", "com.br", "com.cn", "com.mx", "co.in", "co.za", "com.tr", "com.sg",
    ];
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = d.split('.').filter(|l| !l.is_empty()).collect();
    let n = labels.len();
    if n <= 2 {
        return labels.join(".");
    }
    let last2 = labels[n - 2..].join(".");
    if TWO_LEVEL.contains(&last2.as_str()) {
        labels[n - 3..].join(".")
    } else {
        last2
    }
}

/// A shared cache of domain registration times, optionally backed by a file.
#[derive(Clone, Default)]
pub struct RdapCache {
    map: Arc<Mutex<HashMap<String, CacheEntry>>>,
}

impl RdapCache {
    /// Loads the cache file if it exists (a corrupt file is reported and ignored).
    pub fn load(path: &std::path::Path) -> RdapCache {
        let map = match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
                tracing::warn!("ignoring unreadable RDAP cache {}: {e}", path.display());
                HashMap::new()
            }),
            Err(_) => HashMap::new(),
        };
        RdapCache {
            map: Arc::new(Mutex::new(map)),
        }
    }

    /// The cached entry for a registrable domain.
    pub fn get(&self, domain: &str) -> Option<CacheEntry> {
        self.map.lock().ok()?.get(domain).copied()
    }

    /// Stores an entry.
    pub fn put(&self, domain: &str, e: CacheEntry) {
        if let Ok(mut m) = self.map.lock() {
            m.insert(domain.to_string(), e);
        }
    }

    /// Writes the cache file atomically (temp file + rename).
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        let bytes = {
            let m = self
                .map
                .lock()
                .map_err(|_| anyhow::anyhow!("RDAP cache lock poisoned"))?;
            serde_json::to_vec(&*m)?
        };
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
        Ok(())
    }
}

/// Age in days of `registered` at `at` (both Unix seconds); negative ages are unknown.
pub fn age_days(registered: Option<i64>, at: i64) -> Option<f32> {
    let r = registered?;
    let days = (at - r) as f64 / 86_400.0;
    (days >= 0.0).then_some(days as f32)
}

/// The sender's registrable domain.
pub fn sender_domain(rec: &EmailRecord) -> Option<String> {
    rec.from
        .as_ref()?
        .domain()
        .map(|d| registrable(&d))
        .filter(|d| d.contains('.'))
}

/// The CLI's blocking view: cache first, then (if configured) RDAP.
pub struct DomainAges {
    client: Option<(RdapClient, tokio::runtime::Runtime)>,
    cache: RdapCache,
    cache_path: Option<PathBuf>,
}

impl DomainAges {
    /// From the command-line options; offline when no URL is given.
    pub fn from_args(a: &RdapArgs) -> Result<DomainAges> {
        let Some(url) = &a.rdap_url else {
            return Ok(DomainAges {
                client: None,
                cache: RdapCache::default(),
                cache_path: None,
            });
        };
        let client = RdapClient::new(url, Duration::from_millis(a.rdap_timeout_ms))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the RDAP runtime")?;
        Ok(DomainAges {
            client: Some((client, rt)),
            cache: RdapCache::load(&a.rdap_cache),
            cache_path: Some(a.rdap_cache.clone()),
        })
    }

    /// The feature context for a record (looks the sender domain up when not cached).
    pub fn context_for(&mut self, rec: &EmailRecord) -> FeatureContext {
        let Some((client, rt)) = &self.client else {
            return FeatureContext::default();
        };
        let Some(domain) = sender_domain(rec) else {
            return FeatureContext::default();
        };
        let now = crate::scoring::now_ms() / 1000;
        let entry = match self.cache.get(&domain) {
            Some(e) => Some(e),
            None => match rt.block_on(client.registration_time(&domain)) {
                Ok(registered) => {
                    let e = CacheEntry {
                        registered,
                        fetched_at: now,
                    };
                    self.cache.put(&domain, e);
                    Some(e)
                }
                Err(e) => {
                    tracing::warn!("RDAP lookup for {domain} failed, age unknown: {e:#}");
                    None
                }
            },
        };
        FeatureContext {
            sender_domain_age_days: entry
                .and_then(|e| age_days(e.registered, rec.date.unwrap_or(now))),
        }
    }

    /// Persists the cache (when RDAP is configured).
    pub fn save(&self) -> Result<()> {
        match &self.cache_path {
            Some(p) => self.cache.save(p),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_parses_offsets_and_fractions() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1997-09-15T04:00:00Z"), Some(874_296_000));
        assert_eq!(
            parse_rfc3339("1997-09-15T06:00:00.123+02:00"),
            Some(874_296_000)
        );
        assert_eq!(parse_rfc3339("1997-13-15T04:00:00Z"), None);
        assert_eq!(parse_rfc3339("garbage"), None);
    }

    #[test]
    fn registration_event_is_found() {
        let body = serde_json::json!({"events": [
            {"eventAction": "last changed", "eventDate": "2020-01-01T00:00:00Z"},
            {"eventAction": "registration", "eventDate": "1997-09-15T04:00:00Z"}
        ]});
        assert_eq!(registration_from_rdap(&body), Some(874_296_000));
        assert_eq!(
            registration_from_rdap(&serde_json::json!({"events": 3})),
            None
        );
    }

    #[test]
    fn registrable_domain_handles_two_level_suffixes() {
        assert_eq!(registrable("mail.example.co.uk"), "example.co.uk");
        assert_eq!(registrable("a.b.paypal.com."), "paypal.com");
        assert_eq!(registrable("localhost"), "localhost");
    }

    /// A local RDAP server (RFC 9083 shapes) on 127.0.0.1:0, counting requests; `None` stops it.
    fn rdap_server() -> (
        String,
        Arc<std::sync::atomic::AtomicUsize>,
        std::sync::mpsc::Sender<()>,
    ) {
        use axum::routing::get;
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let h = hits.clone();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let app = axum::Router::new().route(
                    "/domain/{name}",
                    get(move |axum::extract::Path(name): axum::extract::Path<String>| {
                        let h = h.clone();
                        async move {
                            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            match name.as_str() {
                                "old-bank.example" => axum::Json(serde_json::json!({
                                    "objectClassName": "domain", "ldhName": name,
                                    "events": [{"eventAction": "registration", "eventDate": "2000-01-01T00:00:00Z"}]
                                }))
                                .into_response(),
                                _ => axum::http::StatusCode::NOT_FOUND.into_response(),
                            }
                        }
                    }),
                );
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                addr_tx.send(format!("http://{}", l.local_addr().expect("addr"))).expect("send");
                let stop = async move {
                    let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
                };
                axum::serve(l, app).with_graceful_shutdown(stop).await.expect("serve");
            });
        });
        (addr_rx.recv().expect("address"), hits, stop_tx)
    }

    use axum::response::IntoResponse;

    fn mail_from(addr: &str, date: i64) -> EmailRecord {
        EmailRecord {
            from: Some(shrike_types::Mailbox {
                name: None,
                address: addr.into(),
            }),
            date: Some(date),
            ..Default::default()
        }
    }

    #[test]
    fn lookups_hit_a_real_rdap_server_once_per_domain_and_persist() {
        let (base, hits, stop) = rdap_server();
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = dir.path().join("rdap.json");
        let args = RdapArgs {
            rdap_url: Some(base),
            rdap_cache: cache.clone(),
            rdap_timeout_ms: 2000,
        };
        let mut ages = DomainAges::from_args(&args).expect("client");
        let t = parse_rfc3339("2000-01-11T00:00:00Z").expect("date");
        let ctx = ages.context_for(&mail_from("ceo@mail.old-bank.example", t));
        assert_eq!(ctx.sender_domain_age_days, Some(10.0));
        let again = ages.context_for(&mail_from("x@old-bank.example", t + 86_400));
        assert_eq!(again.sender_domain_age_days, Some(11.0));
        let unknown = ages.context_for(&mail_from("a@new-shop.example", t));
        assert_eq!(unknown.sender_domain_age_days, None);
        assert_eq!(
            hits.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "one request per registrable domain"
        );
        ages.save().expect("save");
        let _ = stop.send(());
        // A second run answers from the cache file alone, even with the server gone.
        let dead = RdapArgs {
            rdap_url: Some("http://127.0.0.1:9".into()),
            rdap_cache: cache,
            rdap_timeout_ms: 500,
        };
        let mut ages = DomainAges::from_args(&dead).expect("client");
        let ctx = ages.context_for(&mail_from("ceo@old-bank.example", t));
        assert_eq!(ctx.sender_domain_age_days, Some(10.0));
        // An uncached domain with the server unreachable is unknown, not an error.
        let ctx = ages.context_for(&mail_from("ceo@other.example", t));
        assert_eq!(ctx.sender_domain_age_days, None);
    }

    #[test]
    fn offline_by_default() {
        let mut ages = DomainAges::from_args(&RdapArgs::default()).expect("offline");
        let ctx = ages.context_for(&mail_from("a@b.example", 0));
        assert_eq!(ctx.sender_domain_age_days, None);
    }

    #[test]
    fn age_is_unknown_before_registration() {
        assert_eq!(age_days(Some(86_400), 86_400 * 11), Some(10.0));
        assert_eq!(age_days(Some(86_400 * 11), 86_400), None);
        assert_eq!(age_days(None, 0), None);
    }
}

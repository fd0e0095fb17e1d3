//! Enrichment: what the playbooks' `enrich` steps ask of named providers, and the real backend
//! that answers (the local intel store, VirusTotal, the asset and identity inventory, the
//! behavioural baseline).
//!
//! A provider never fails the alert: a timeout, an open breaker, a missing store or a bad answer
//! is a [`ProviderResult`] with [`ProviderStatus::Failed`], stored on the ticket, so the ticket
//! says which enrichment failed and why, and the playbook goes on with what it has (risk
//! components that could not be computed are left out and named, see `playbook::risk`).
//!
//! Enrichment only **looks indicators up**: no URL, domain or IP found in an alert is ever
//! fetched or connected to. The only outbound calls are to configured provider APIs
//! (VirusTotal's `/api/v3/...` lookup endpoints), with the indicator as a lookup key.
//!
//! # The real backend
//!
//! - [`indicators_of`] turns an OCSF event into the indicators to look up: from its
//!   `observables` (hostnames, IPs, emails, URLs, file hashes), else from its endpoints; every
//!   indicator is kept, private addresses included; what is left out is named in its doc.
//! - [`Enricher`] answers the four [`PROVIDERS`]; the rules of each are in its doc. In short:
//!   not configured → Skipped; intel store failed to load → Failed `unavailable: <reason>`;
//!   VirusTotal sees only public indicators ([`is_public_indicator`]), at most
//!   [`VT_MAX_INDICATORS`] per alert, and fails only when no lookup answered; assets resolve
//!   the subject by host name or IP; the baseline records the alert's [`baseline_pairs`] once
//!   per event (`metadata.uid`), replays not counted again.
//! - Nothing here panics on input, and the baseline's SQLite calls run on tokio's blocking
//!   threads.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shrike_intel::provider::{
    BoxFuture, Guarded, Outcome, Provider, ProviderError, Status as VtStatus,
};
use shrike_intel::store::{is_suppressed, IntelStore};
use shrike_intel::vt::VtClient;
use shrike_intel::{Indicator, IndicatorKind, IntelHit};
use shrike_normalize::entities::{Entity, EntityKind};

use crate::assets::{Host, Identity, Inventory, DEFAULT_CRITICALITY};
use crate::baseline::{Baseline, BaselineKind, Event as BaselineEvent};

/// Provider names a playbook may list in an `enrich` step.
pub const PROVIDERS: &[&str] = &["intel", "virustotal", "assets", "baseline"];

/// What the enrichment backend sees of one alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    /// The OCSF event.
    pub event: Value,
    /// Its entities (`shrike_normalize::entities::entities`).
    pub entities: Vec<Entity>,
    /// Indicators to look up: the event's observables that are IPs, domains, URLs, hashes or
    /// email addresses, canonical and de-duplicated, in reading order.
    pub indicators: Vec<Indicator>,
    /// The entity the ticket is keyed on (chosen by the playbook before enrichment).
    pub subject: Option<Entity>,
    /// Event time (OCSF `time`, epoch ms).
    pub time_ms: i64,
}

/// Whether a provider answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ProviderStatus {
    /// It answered (possibly with nothing against the alert).
    Ok,
    /// It failed; `error` says why (`timeout`, `unavailable: intel store not loaded`, …).
    Failed {
        /// Why.
        error: String,
    },
    /// It was not asked (not configured, offline mode, nothing it handles in this alert).
    Skipped {
        /// Why.
        reason: String,
    },
}

/// Asset and identity context of the alert's subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetFacts {
    /// Inventory host key (short name) the subject resolved to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Host criticality 1–5 (the default when the host is unknown or its row had none).
    pub criticality: u8,
    /// True when no inventory row gave the criticality.
    pub criticality_defaulted: bool,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Business service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_service: Option<String>,
    /// Data classes on the host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_classes: Vec<String>,
    /// Inventory user key of the alert's user, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Whether that user is privileged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_privileged: Option<bool>,
}

/// Baseline context: how new the alert's relations are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RarityFacts {
    /// Some relation (host → destination, user → API, user → host) was never seen before.
    pub first_seen: bool,
    /// 0 (common) … 1 (never seen): the largest over the relations looked at.
    pub rarity: f64,
    /// Per relation: kind, subject, object, first_seen, count, subject_count.
    #[serde(default)]
    pub pairs: Vec<Value>,
}

/// One provider's answer for one alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderResult {
    /// Provider name (one of [`PROVIDERS`]).
    pub provider: String,
    /// Answered, failed or skipped.
    #[serde(flatten)]
    pub status: ProviderStatus,
    /// Intel hits (`intel`, `virustotal`), suppressed ones included and marked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hits: Vec<IntelHit>,
    /// Asset context (`assets`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<AssetFacts>,
    /// Baseline context (`baseline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rarity: Option<RarityFacts>,
    /// Provider-specific detail stored on the ticket (per-indicator outcomes, attempts, cache).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub detail: Value,
}

impl ProviderResult {
    /// A result with `status` and nothing in it yet.
    pub fn with_status(provider: &str, status: ProviderStatus) -> ProviderResult {
        ProviderResult {
            provider: provider.to_owned(),
            status,
            hits: Vec::new(),
            asset: None,
            rarity: None,
            detail: Value::Null,
        }
    }

    /// A failed result.
    pub fn failed(provider: &str, error: impl Into<String>) -> ProviderResult {
        Self::with_status(
            provider,
            ProviderStatus::Failed {
                error: error.into(),
            },
        )
    }

    /// A skipped result.
    pub fn skipped(provider: &str, reason: impl Into<String>) -> ProviderResult {
        Self::with_status(
            provider,
            ProviderStatus::Skipped {
                reason: reason.into(),
            },
        )
    }

    /// An answered result with nothing in it yet.
    pub fn ok(provider: &str) -> ProviderResult {
        Self::with_status(provider, ProviderStatus::Ok)
    }

    /// True when the provider answered.
    pub fn is_ok(&self) -> bool {
        self.status == ProviderStatus::Ok
    }
}

/// Answers `enrich` steps. The real one is [`Enricher`]; `shrike test playbooks` answers from
/// each test case's fixtures.
pub trait EnrichBackend: Send + Sync {
    /// Asks `provider` about `alert`. Never panics; failures are [`ProviderStatus::Failed`].
    fn enrich<'a>(
        &'a self,
        provider: &'a str,
        alert: &'a AlertView,
    ) -> BoxFuture<'a, ProviderResult>;
}

impl AlertView {
    /// The view of one OCSF event: its entities, [`indicators_of`] it and its `time` (0 when
    /// absent), with `subject` as chosen by the caller.
    pub fn from_event(event: Value, subject: Option<Entity>) -> AlertView {
        let entities = shrike_normalize::entities::entities(&event);
        let indicators = indicators_of(&event);
        let time_ms = event.get("time").and_then(Value::as_i64).unwrap_or(0);
        AlertView {
            event,
            entities,
            indicators,
            subject,
            time_ms,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Indicators

/// Most indicators [`indicators_of`] returns for one event.
pub const MAX_INDICATORS: usize = 64;

/// Indicators looked up on VirusTotal per alert unless [`Enricher::with_virustotal_limit`] says
/// otherwise (the public API allows 4 requests a minute).
pub const VT_MAX_INDICATORS: usize = 4;

/// Most host → destination pairs recorded per alert.
pub const MAX_DESTINATIONS: usize = 16;

/// The intel indicators of an OCSF event, canonical ([`Indicator::new`]), de-duplicated, in
/// reading order, at most [`MAX_INDICATORS`] (the first ones are kept).
///
/// From `observables` when the event has a non-empty array of them: Hostname (1) → IP when it
/// parses as one, else domain; IP Address (2) → IPv4/IPv6; Email Address (5) → email (display
/// name and brackets stripped); URL String (6) → URL; File Hash (8, which covers
/// `fingerprint.value`) → MD5/SHA-1/SHA-256 by length. Otherwise (no `observables`), from the
/// `ip` and `hostname` of `src_endpoint` and `dst_endpoint`, at the top level and then in each
/// `evidences[]` item.
///
/// Everything that is an indicator is kept, private, loopback and link-local addresses
/// included: the intel store and its warning lists decide what they mean, and providers that
/// must not see them (VirusTotal) filter them with [`is_public_indicator`]. What is *not* an
/// indicator is left out: other observable types (users, file names, paths, ports, …), host
/// names without a dot (`ws01`, an internal name no feed keys on), URLs without a scheme,
/// hashes of other lengths (SHA-512, ssdeep) and any value [`Indicator::new`] refuses.
pub fn indicators_of(event: &Value) -> Vec<Indicator> {
    let mut out = Vec::new();
    let observables = event
        .get("observables")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty());
    match observables {
        Some(list) => {
            for o in list {
                let type_id = o.get("type_id").and_then(Value::as_u64);
                let value = o.get("value").and_then(Value::as_str);
                if let (Some(t), Some(v)) = (type_id, value) {
                    push_unique(&mut out, observable_indicator(t, v));
                }
            }
        }
        None => {
            endpoint_indicators(event, &mut out);
            if let Some(items) = event.get("evidences").and_then(Value::as_array) {
                for item in items {
                    endpoint_indicators(item, &mut out);
                }
            }
        }
    }
    out
}

fn push_unique(out: &mut Vec<Indicator>, ind: Option<Indicator>) {
    if let Some(ind) = ind {
        if out.len() < MAX_INDICATORS && !out.contains(&ind) {
            out.push(ind);
        }
    }
}

fn observable_indicator(type_id: u64, value: &str) -> Option<Indicator> {
    match type_id {
        1 => host_indicator(value),
        2 => ip_indicator(value),
        5 => shrike_normalize::entities::normalize_email(value)
            .and_then(|a| Indicator::new(IndicatorKind::Email, &a)),
        6 => Indicator::new(IndicatorKind::Url, value),
        8 => hash_indicator(value),
        _ => None,
    }
}

fn ip_indicator(value: &str) -> Option<Indicator> {
    Indicator::new(IndicatorKind::Ipv4, value)
        .or_else(|| Indicator::new(IndicatorKind::Ipv6, value))
}

fn host_indicator(value: &str) -> Option<Indicator> {
    ip_indicator(value).or_else(|| Indicator::new(IndicatorKind::Domain, value))
}

fn hash_indicator(value: &str) -> Option<Indicator> {
    let kind = match value.trim().len() {
        32 => IndicatorKind::Md5,
        40 => IndicatorKind::Sha1,
        64 => IndicatorKind::Sha256,
        _ => return None,
    };
    Indicator::new(kind, value)
}

fn endpoint_indicators(obj: &Value, out: &mut Vec<Indicator>) {
    for key in ["src_endpoint", "dst_endpoint"] {
        let Some(ep) = obj.get(key) else { continue };
        if let Some(ip) = ep.get("ip").and_then(Value::as_str) {
            push_unique(out, ip_indicator(ip));
        }
        if let Some(h) = ep.get("hostname").and_then(Value::as_str) {
            push_unique(out, host_indicator(h));
        }
    }
}

/// Top-level domains that never resolve on the Internet (RFC 6761/6762/8375, ICANN's
/// `.internal`) or are in common use inside networks (`lan`, `corp`, `home`, `intranet`).
const INTERNAL_TLDS: &[&str] = &[
    "local",
    "localhost",
    "localdomain",
    "internal",
    "intranet",
    "lan",
    "home",
    "corp",
    "invalid",
    "arpa",
];

/// Whether `ip` may be an Internet address: not private (RFC 1918, IPv6 ULA), loopback,
/// link-local, unspecified/"this network", broadcast, multicast, shared (100.64.0.0/10),
/// benchmarking (198.18.0.0/15), IETF protocol assignments (192.0.0.0/24) or reserved
/// (240.0.0.0/4).
///
/// Documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) count
/// as public: samples and tests use them as stand-ins for Internet addresses, and real traffic
/// never carries them.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || (a == 192 && b == 0 && c == 0))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_ip(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Whether a domain may be an Internet name: its top-level label is not in the internal list
/// (`local`, `localhost`, `localdomain`, `internal`, `intranet`, `lan`, `home`, `corp`,
/// `invalid`, `arpa`).
pub fn is_public_domain(domain: &str) -> bool {
    let d = domain.trim().trim_end_matches('.');
    let tld = d.rsplit('.').next().unwrap_or(d);
    !d.is_empty() && !INTERNAL_TLDS.iter().any(|t| tld.eq_ignore_ascii_case(t))
}

/// Whether an indicator may be known to an Internet-wide source: IPs by [`is_public_ip`],
/// domains by [`is_public_domain`], URLs and email addresses by their host or domain, hashes
/// always.
pub fn is_public_indicator(indicator: &Indicator) -> bool {
    let v = indicator.value.as_str();
    match indicator.kind {
        IndicatorKind::Ipv4 | IndicatorKind::Ipv6 => v.parse().is_ok_and(is_public_ip),
        IndicatorKind::Domain => is_public_domain(v),
        IndicatorKind::Url => url_host(v).is_some_and(is_public_host),
        IndicatorKind::Email => v.rsplit_once('@').is_some_and(|(_, d)| is_public_host(d)),
        IndicatorKind::Md5 | IndicatorKind::Sha1 | IndicatorKind::Sha256 => true,
    }
}

fn is_public_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => is_public_ip(ip),
        Err(_) => is_public_domain(host),
    }
}

/// The host of a URL (`scheme://[user@]host[:port]/…`), brackets kept for IPv6.
fn url_host(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port.find(']').map_or(host_port, |i| &host_port[..=i])
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host_port,
        }
    };
    (!host.is_empty()).then_some(host)
}

// ---------------------------------------------------------------------------------------------
// The backend

/// Guarded VirusTotal lookups, behind a trait so unit tests can guard a fake provider.
trait VtLookup: Send + Sync {
    fn lookup<'a>(&'a self, indicator: &'a Indicator) -> BoxFuture<'a, Outcome>;
}

impl<P: Provider> VtLookup for Guarded<P> {
    fn lookup<'a>(&'a self, indicator: &'a Indicator) -> BoxFuture<'a, Outcome> {
        Box::pin(Guarded::lookup(self, indicator))
    }
}

/// The local intel store, or why there is none.
#[derive(Debug, Clone)]
enum IntelSource {
    NotConfigured,
    Store(Arc<IntelStore>),
    Unavailable(String),
}

/// The real enrichment backend; the rules each provider follows are below.
///
/// Built with [`Enricher::new`] and the `with_*` methods; a provider that was not configured
/// answers [`ProviderStatus::Skipped`] (`not configured`), except the intel store when it failed
/// to load ([`Enricher::with_intel_unavailable`]): that is a failure the ticket must show.
///
/// - `intel`: every indicator of the alert is looked up in the local store (`lookup_ip` with
///   prefixes, `lookup_domain` with parent domains, `lookup_url` with its host, exact for
///   emails and hashes). All hits are returned, suppressed ones included (they carry
///   `suppressed:<list>` tags). Ok even with no indicators (the store answered: nothing).
///   `detail`: `{indicators: [{indicator, kind, hits, suppressed}], hits, suppressed}`.
/// - `virustotal`: the first [`VT_MAX_INDICATORS`] indicators that are public
///   ([`is_public_indicator`]) and not email addresses (VirusTotal does not look them up),
///   one after the other through the guard (cache, timeout, retries, breaker). Failed when
///   every lookup failed (the error names each indicator and its error); Ok when at least one
///   answered (a "not found" is an answer), the failures listed in `detail.failures`. Skipped
///   when no indicator qualifies. `detail`: `{outcomes: [{indicator, kind, status, origin,
///   hits, attempts, elapsed_ms, error, reason}], failures, not_public, not_looked_up,
///   unsupported}`.
/// - `assets`: host facts from the subject when it is a host or an IP (by short name or FQDN
///   alias, or by `host_by_ip`), otherwise from the first host or IP entity the inventory
///   knows; user facts from the subject when it is a user, otherwise from the first user
///   entity the inventory knows. An unknown host gets [`DEFAULT_CRITICALITY`] with
///   `criticality_defaulted`. Always Ok when configured.
/// - `baseline`: see [`baseline_pairs`]; each pair is observed once per event with the event's
///   `metadata.uid` as event id (a replayed event is not counted again and gets its first
///   answer back), in one transaction on a blocking thread. `rarity` is the largest per-pair
///   rarity of the baseline (`1 − n(s, o) / n(s, *)` before this event, 1 when never seen);
///   `first_seen` is true when any pair was new. Skipped when the alert has no pair.
/// - Any other provider name: Failed `unknown provider`.
///
/// Only VirusTotal's API is ever called over the network, and only through [`VtClient`].
pub struct Enricher {
    intel: IntelSource,
    vt: Option<Box<dyn VtLookup>>,
    vt_max_indicators: usize,
    inventory: Option<Arc<Inventory>>,
    baseline: Option<Arc<Mutex<Baseline>>>,
}

impl Default for Enricher {
    fn default() -> Enricher {
        Enricher::new()
    }
}

impl std::fmt::Debug for Enricher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let intel = match &self.intel {
            IntelSource::NotConfigured => "not configured".to_owned(),
            IntelSource::Store(s) => format!("{} hits", s.len()),
            IntelSource::Unavailable(r) => format!("unavailable: {r}"),
        };
        f.debug_struct("Enricher")
            .field("intel", &intel)
            .field("virustotal", &self.vt.is_some())
            .field("vt_max_indicators", &self.vt_max_indicators)
            .field("inventory", &self.inventory.is_some())
            .field("baseline", &self.baseline.is_some())
            .finish()
    }
}

impl Enricher {
    /// A backend with nothing configured: every known provider is skipped.
    pub fn new() -> Enricher {
        Enricher {
            intel: IntelSource::NotConfigured,
            vt: None,
            vt_max_indicators: VT_MAX_INDICATORS,
            inventory: None,
            baseline: None,
        }
    }

    /// Looks indicators up in `store`.
    pub fn with_intel(mut self, store: Arc<IntelStore>) -> Enricher {
        self.intel = IntelSource::Store(store);
        self
    }

    /// The intel store could not be loaded: every `intel` enrichment fails with
    /// `unavailable: <reason>`.
    pub fn with_intel_unavailable(mut self, reason: String) -> Enricher {
        self.intel = IntelSource::Unavailable(reason);
        self
    }

    /// Looks public indicators up on VirusTotal through `client`'s guard.
    pub fn with_virustotal(mut self, client: Guarded<VtClient>) -> Enricher {
        self.vt = Some(Box::new(client));
        self
    }

    /// Looks up at most `n` indicators per alert on VirusTotal ([`VT_MAX_INDICATORS`] by
    /// default).
    pub fn with_virustotal_limit(mut self, n: usize) -> Enricher {
        self.vt_max_indicators = n;
        self
    }

    /// Resolves subjects through `inventory` (assets, and host names for the baseline).
    pub fn with_inventory(mut self, inventory: Arc<Inventory>) -> Enricher {
        self.inventory = Some(inventory);
        self
    }

    /// Records and reads relations in `baseline`.
    pub fn with_baseline(mut self, baseline: Arc<Mutex<Baseline>>) -> Enricher {
        self.baseline = Some(baseline);
        self
    }

    #[cfg(test)]
    fn with_vt_provider<P: Provider + 'static>(mut self, guarded: Guarded<P>) -> Enricher {
        self.vt = Some(Box::new(guarded));
        self
    }

    fn intel(&self, alert: &AlertView) -> ProviderResult {
        const NAME: &str = "intel";
        let store = match &self.intel {
            IntelSource::NotConfigured => return ProviderResult::skipped(NAME, "not configured"),
            IntelSource::Unavailable(reason) => {
                return ProviderResult::failed(NAME, format!("unavailable: {reason}"))
            }
            IntelSource::Store(store) => store,
        };
        let mut res = ProviderResult::ok(NAME);
        let mut per = Vec::with_capacity(alert.indicators.len());
        let mut suppressed = 0usize;
        for ind in &alert.indicators {
            let hits = store_lookup(store, ind);
            let s = hits.iter().filter(|h| is_suppressed(h)).count();
            suppressed += s;
            per.push(json!({
                "indicator": ind.value,
                "kind": ind.kind.as_str(),
                "hits": hits.len(),
                "suppressed": s,
            }));
            res.hits.extend(hits);
        }
        res.detail = json!({
            "indicators": per,
            "hits": res.hits.len(),
            "suppressed": suppressed,
        });
        res
    }

    async fn virustotal(&self, alert: &AlertView) -> ProviderResult {
        const NAME: &str = "virustotal";
        let Some(vt) = &self.vt else {
            return ProviderResult::skipped(NAME, "not configured");
        };
        let mut asked = Vec::new();
        let (mut not_public, mut not_looked_up, mut unsupported) =
            (Vec::new(), Vec::new(), Vec::new());
        for ind in &alert.indicators {
            if ind.kind == IndicatorKind::Email {
                unsupported.push(ind.value.as_str());
            } else if !is_public_indicator(ind) {
                not_public.push(ind.value.as_str());
            } else if asked.len() < self.vt_max_indicators {
                asked.push(ind);
            } else {
                not_looked_up.push(ind.value.as_str());
            }
        }
        if asked.is_empty() {
            let mut res = ProviderResult::skipped(NAME, "no public indicators to look up");
            res.detail = json!({
                "not_public": not_public,
                "not_looked_up": not_looked_up,
                "unsupported": unsupported,
            });
            return res;
        }
        // One after the other: the quota is a handful of requests a minute anyway.
        let mut outcomes = Vec::with_capacity(asked.len());
        for ind in asked {
            outcomes.push(vt.lookup(ind).await);
        }
        let failures: Vec<String> = outcomes
            .iter()
            .filter_map(|o| o.error().map(|e| format!("{}: {e}", o.indicator.value)))
            .collect();
        let answered = outcomes
            .iter()
            .filter(|o| {
                matches!(
                    o.status,
                    VtStatus::Answered { .. } | VtStatus::NotFound { .. }
                )
            })
            .count();
        let detail = json!({
            "outcomes": outcomes.iter().map(outcome_summary).collect::<Vec<_>>(),
            "failures": failures,
            "not_public": not_public,
            "not_looked_up": not_looked_up,
            "unsupported": unsupported,
        });
        let mut res = if answered == 0 && !failures.is_empty() {
            ProviderResult::failed(NAME, failures.join("; "))
        } else {
            let mut ok = ProviderResult::ok(NAME);
            ok.hits = outcomes
                .iter()
                .flat_map(|o| o.hits().iter().cloned())
                .collect();
            ok
        };
        res.detail = detail;
        res
    }

    fn assets(&self, alert: &AlertView) -> ProviderResult {
        const NAME: &str = "assets";
        let Some(inv) = &self.inventory else {
            return ProviderResult::skipped(NAME, "not configured");
        };
        let subject = alert.subject.as_ref();
        let host = match subject {
            Some(e) if matches!(e.kind, EntityKind::Host | EntityKind::Ip) => {
                resolve_host(inv, e).map(|(h, by)| (h, by, e))
            }
            _ => alert
                .entities
                .iter()
                .filter(|e| matches!(e.kind, EntityKind::Host | EntityKind::Ip))
                .find_map(|e| resolve_host(inv, e).map(|(h, by)| (h, by, e))),
        };
        let user = match subject {
            Some(e) if e.kind == EntityKind::User => resolve_user(inv, e).map(|u| (u, e)),
            _ => alert
                .entities
                .iter()
                .filter(|e| e.kind == EntityKind::User)
                .find_map(|e| resolve_user(inv, e).map(|u| (u, e))),
        };
        let mut facts = AssetFacts {
            hostname: None,
            criticality: DEFAULT_CRITICALITY,
            criticality_defaulted: true,
            owner: None,
            business_service: None,
            data_classes: Vec::new(),
            user: None,
            user_privileged: None,
        };
        if let Some((h, _, _)) = host {
            facts.hostname = Some(h.hostname.clone());
            facts.criticality = h.criticality;
            facts.criticality_defaulted = h.criticality_defaulted;
            facts.owner.clone_from(&h.owner);
            facts.business_service.clone_from(&h.business_service);
            facts.data_classes.clone_from(&h.data_classes);
        }
        if let Some((u, _)) = user {
            facts.user = Some(u.user.clone());
            facts.user_privileged = Some(u.is_privileged);
        }
        let mut res = ProviderResult::ok(NAME);
        res.detail = json!({
            "subject": subject.map(|e| json!({"kind": e.kind, "key": e.key})),
            "host": host.map(|(_, by, e)| json!({"entity": e.key, "kind": e.kind, "resolved_by": by})),
            "user": user.map(|(_, e)| json!({"entity": e.key, "role": e.role})),
        });
        res.asset = Some(facts);
        res
    }

    async fn baseline(&self, alert: &AlertView) -> ProviderResult {
        const NAME: &str = "baseline";
        let Some(baseline) = &self.baseline else {
            return ProviderResult::skipped(NAME, "not configured");
        };
        let pairs = baseline_pairs(alert, self.inventory.as_deref());
        if pairs.is_empty() {
            return ProviderResult::skipped(NAME, "no host, user or API relation in the alert");
        }
        let event_id = alert
            .event
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let t_ms = alert.time_ms;
        let store = Arc::clone(baseline);
        let owned = pairs.clone();
        let work = move || {
            // A panic inside a transaction rolls it back: the store stays consistent.
            let mut b = store.lock().unwrap_or_else(PoisonError::into_inner);
            let events: Vec<BaselineEvent<'_>> = owned
                .iter()
                .map(|p| BaselineEvent {
                    kind: p.kind,
                    subject: &p.subject,
                    object: &p.object,
                    t_ms,
                    event_id: event_id.as_deref(),
                })
                .collect();
            b.observe_many(&events)
        };
        // SQLite blocks: off the async threads when there is a runtime to do it.
        let observed = if tokio::runtime::Handle::try_current().is_ok() {
            match tokio::task::spawn_blocking(work).await {
                Ok(r) => r,
                Err(e) => return ProviderResult::failed(NAME, format!("baseline task: {e}")),
            }
        } else {
            work()
        };
        let observations = match observed {
            Ok(o) => o,
            Err(e) => return ProviderResult::failed(NAME, e.to_string()),
        };
        let mut rarity = 0.0f64;
        let mut first_seen = false;
        let mut out = Vec::with_capacity(pairs.len());
        for (p, o) in pairs.iter().zip(&observations) {
            let r = if o.rarity.is_finite() {
                o.rarity.clamp(0.0, 1.0)
            } else {
                1.0
            };
            rarity = rarity.max(r);
            first_seen |= o.is_first_seen;
            out.push(json!({
                "kind": p.kind.as_str(),
                "subject": p.subject,
                "object": p.object,
                "status": o.status,
                "first_seen": o.is_first_seen,
                "count": o.count,
                "subject_count": o.subject_total,
                "rarity": r,
                "global_rarity": o.global_rarity,
            }));
        }
        let mut res = ProviderResult::ok(NAME);
        res.rarity = Some(RarityFacts {
            first_seen,
            rarity,
            pairs: out,
        });
        res
    }
}

impl EnrichBackend for Enricher {
    fn enrich<'a>(
        &'a self,
        provider: &'a str,
        alert: &'a AlertView,
    ) -> BoxFuture<'a, ProviderResult> {
        Box::pin(async move {
            match provider {
                "intel" => self.intel(alert),
                "virustotal" => self.virustotal(alert).await,
                "assets" => self.assets(alert),
                "baseline" => self.baseline(alert).await,
                other => ProviderResult::failed(other, "unknown provider"),
            }
        })
    }
}

fn store_lookup(store: &IntelStore, ind: &Indicator) -> Vec<IntelHit> {
    let owned = |v: Vec<Cow<'_, IntelHit>>| v.into_iter().map(Cow::into_owned).collect();
    match ind.kind {
        IndicatorKind::Ipv4 | IndicatorKind::Ipv6 => match ind.value.parse::<IpAddr>() {
            Ok(ip) => owned(store.lookup_ip(ip)),
            Err(_) => store.lookup(ind).to_vec(),
        },
        IndicatorKind::Domain => owned(store.lookup_domain(&ind.value)),
        IndicatorKind::Url => owned(store.lookup_url(&ind.value)),
        IndicatorKind::Email | IndicatorKind::Md5 | IndicatorKind::Sha1 | IndicatorKind::Sha256 => {
            store.lookup(ind).to_vec()
        }
    }
}

fn outcome_summary(o: &Outcome) -> Value {
    let status = match &o.status {
        VtStatus::Answered { .. } => "answered",
        VtStatus::NotFound { .. } => "not_found",
        VtStatus::Unsupported => "unsupported",
        VtStatus::Failed { .. } => "failed",
    };
    json!({
        "indicator": o.indicator.value,
        "kind": o.indicator.kind.as_str(),
        "status": status,
        "origin": o.origin(),
        "hits": o.hits().len(),
        "attempts": o.attempts,
        "elapsed_ms": o.elapsed_ms,
        "error": o.error().map(ToString::to_string),
        "reason": o.error().map(ProviderError::reason),
    })
}

/// The inventory host of a host or IP entity, and how it was found (`hostname`, `ip`).
fn resolve_host<'i>(inv: &'i Inventory, e: &Entity) -> Option<(&'i Host, &'static str)> {
    match e.kind {
        EntityKind::Host => std::iter::once(&e.key)
            .chain(&e.aliases)
            .find_map(|n| inv.host(n))
            .map(|h| (h, "hostname")),
        EntityKind::Ip => e
            .key
            .parse::<IpAddr>()
            .ok()
            .and_then(|ip| inv.host_by_ip(ip))
            .map(|h| (h, "ip")),
        _ => None,
    }
}

fn resolve_user<'i>(inv: &'i Inventory, e: &Entity) -> Option<&'i Identity> {
    std::iter::once(&e.key)
        .chain(&e.aliases)
        .find_map(|n| inv.user(n))
}

// ---------------------------------------------------------------------------------------------
// Baseline pairs

/// One relation of an alert to record in the baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaselinePair {
    /// What it relates.
    pub kind: BaselineKind,
    /// Canonical subject key (host, user or principal).
    pub subject: String,
    /// Canonical object key (destination, `<service>:<operation>`, host).
    pub object: String,
}

/// The relations of an alert the baseline records, de-duplicated, in this order:
///
/// - **host → destination**: the host is the subject when it is a host (its key) or an IP (the
///   inventory host owning it when there is an inventory and it does, else the IP); without
///   such a subject, the first host entity from `device` or `src_endpoint` (also inside
///   evidences), else the first IP entity from those roles, resolved the same way. The
///   destinations are the alert's public ([`is_public_indicator`]) IP and domain indicators,
///   whatever their direction, except the host's own addresses (the subject IP, IPs read from
///   the same OCSF object as the host, the inventory host's IPs) and names (the entity's key and aliases such as its FQDN, the inventory
///   FQDN); at most [`MAX_DESTINATIONS`].
/// - **user → API**: events with an `api.operation` and a `actor.user` entity (a cloud
///   principal first, else a directory user); the object is `<service>:<operation>`, the
///   service being the first label of `api.service.name` (`iam.amazonaws.com` →
///   `iam:CreateAccessKey`), or the bare operation without a service.
/// - **user → host**: successful logons (Authentication, `class_uid` 3002, `activity_id` 1,
///   `status_id` not 2 = Failure): the `user` entity (else `actor.user`) and the `dst_endpoint`
///   host (else `device`).
pub fn baseline_pairs(alert: &AlertView, inventory: Option<&Inventory>) -> Vec<BaselinePair> {
    let mut out: Vec<BaselinePair> = Vec::new();
    let mut push = |kind: BaselineKind, subject: &str, object: &str| {
        let p = BaselinePair {
            kind,
            subject: subject.to_owned(),
            object: object.to_owned(),
        };
        if !subject.is_empty() && !object.is_empty() && !out.contains(&p) {
            out.push(p);
        }
    };

    if let Some(Origin {
        host,
        own_ips,
        own_names,
    }) = destination_subject(alert, inventory)
    {
        let mut n = 0;
        for ind in &alert.indicators {
            if n >= MAX_DESTINATIONS {
                break;
            }
            let own = match ind.kind {
                IndicatorKind::Ipv4 | IndicatorKind::Ipv6 => ind
                    .value
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| own_ips.contains(&ip)),
                IndicatorKind::Domain => own_names.contains(&ind.value),
                _ => continue,
            };
            if !own && is_public_indicator(ind) {
                push(BaselineKind::HostDestination, &host, &ind.value);
                n += 1;
            }
        }
    }

    let ev = &alert.event;
    let operation = ev
        .pointer("/api/operation")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(op) = operation {
        let actor = |kind: EntityKind| {
            alert
                .entities
                .iter()
                .find(|e| e.kind == kind && e.role == "actor.user")
        };
        if let Some(principal) =
            actor(EntityKind::CloudPrincipal).or_else(|| actor(EntityKind::User))
        {
            let service = ev
                .pointer("/api/service/name")
                .and_then(Value::as_str)
                .and_then(|s| s.trim().split('.').next())
                .filter(|s| !s.is_empty());
            let object = match service {
                Some(s) => format!("{s}:{op}"),
                None => op.to_owned(),
            };
            push(BaselineKind::UserApi, &principal.key, &object);
        }
    }

    let is_logon = ev.get("class_uid").and_then(Value::as_u64) == Some(3002)
        && ev.get("activity_id").and_then(Value::as_u64) == Some(1)
        && ev.get("status_id").and_then(Value::as_u64) != Some(2);
    if is_logon {
        let find = |kind: EntityKind, roles: &[&str]| {
            roles.iter().find_map(|r| {
                alert
                    .entities
                    .iter()
                    .find(|e| e.kind == kind && e.role == *r)
            })
        };
        let user = find(EntityKind::User, &["user", "actor.user"]);
        let host = find(EntityKind::Host, &["dst_endpoint", "device"]);
        if let (Some(u), Some(h)) = (user, host) {
            push(BaselineKind::UserHost, &u.key, &h.key);
        }
    }
    out
}

/// The host of host → destination pairs, with its own addresses and names (never its
/// destinations).
struct Origin {
    host: String,
    own_ips: Vec<IpAddr>,
    own_names: Vec<String>,
}

fn destination_subject(alert: &AlertView, inventory: Option<&Inventory>) -> Option<Origin> {
    let source_role = |e: &&Entity| {
        let role = e.role.strip_prefix("evidences.").unwrap_or(&e.role);
        role == "device" || role == "src_endpoint"
    };
    let subject = match alert.subject.as_ref() {
        Some(e) if matches!(e.kind, EntityKind::Host | EntityKind::Ip) => e,
        _ => {
            let of = |kind: EntityKind| {
                alert
                    .entities
                    .iter()
                    .filter(source_role)
                    .find(|e| e.kind == kind)
            };
            of(EntityKind::Host).or_else(|| of(EntityKind::Ip))?
        }
    };
    let known = inventory.and_then(|inv| resolve_host(inv, subject));
    let mut own: Vec<IpAddr> = known.map(|(h, _)| h.ips.clone()).unwrap_or_default();
    if let Ok(ip) = subject.key.parse::<IpAddr>() {
        own.push(ip);
    }
    // An address read from the same object as the host (`device.ip` beside `device.hostname`)
    // is the host's own.
    own.extend(
        alert
            .entities
            .iter()
            .filter(|e| e.kind == EntityKind::Ip && e.role == subject.role)
            .filter_map(|e| e.key.parse::<IpAddr>().ok()),
    );
    let mut own_names: Vec<String> = std::iter::once(&subject.key)
        .chain(&subject.aliases)
        .map(|n| n.to_ascii_lowercase())
        .collect();
    if let Some((h, _)) = known {
        own_names.push(h.hostname.clone());
        own_names.extend(h.fqdn.clone());
    }
    let host = match known {
        Some((h, _)) => h.hostname.clone(),
        None => subject.key.clone(),
    };
    Some(Origin {
        host,
        own_ips: own,
        own_names,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use shrike_intel::provider::{FakeClock, Policy};

    use super::*;

    fn ind(v: &str) -> Indicator {
        Indicator::guess(v).expect("test indicator is valid")
    }

    #[test]
    fn public_ips() {
        let public = |s: &str| is_public_ip(s.parse().expect("test IP parses"));
        for ip in [
            "8.8.8.8",
            "104.21.32.6",
            "203.0.113.24",
            "2606:4700::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(public(ip), "{ip} is public");
        }
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.1.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.251",
            "100.64.0.1",
            "198.18.0.1",
            "192.0.0.8",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!public(ip), "{ip} is not public");
        }
    }

    #[test]
    fn public_indicators() {
        assert!(is_public_indicator(&ind("grafielucho.com")));
        assert!(!is_public_indicator(&ind("dc01.corp.local")));
        assert!(!is_public_indicator(&ind("fileserver.internal")));
        assert!(!is_public_indicator(&ind("1.0.168.192.in-addr.arpa")));
        assert!(is_public_indicator(&ind("http://user@Evil.example:8080/x")));
        assert!(!is_public_indicator(&ind("http://10.0.0.5:8080/x")));
        assert!(!is_public_indicator(&ind("http://[fe80::1]/x")));
        assert!(is_public_indicator(&ind(
            "d41d8cd98f00b204e9800998ecf8427e"
        )));
        assert!(!is_public_indicator(&ind("bob@corp.local")));
    }

    #[test]
    fn url_hosts() {
        assert_eq!(url_host("http://a.example/x"), Some("a.example"));
        assert_eq!(url_host("http://u:p@a.example:81/x"), Some("a.example"));
        assert_eq!(url_host("http://[2001:db8::1]:443/"), Some("[2001:db8::1]"));
        assert_eq!(url_host("https://a.example?q#f"), Some("a.example"));
        assert_eq!(url_host("http:///x"), None);
        assert_eq!(url_host("no-scheme"), None);
    }

    #[test]
    fn indicators_from_observables_by_type() {
        let ev = json!({"observables": [
            {"type_id": 1, "value": "WS01"},
            {"type_id": 1, "value": "Evil.Example."},
            {"type_id": 1, "value": "192.0.2.7"},
            {"type_id": 2, "value": "::ffff:192.0.2.7"},
            {"type_id": 2, "value": "not an ip"},
            {"type_id": 4, "value": "alice"},
            {"type_id": 5, "value": "Bob <Bob@Example.com>"},
            {"type_id": 6, "value": "HTTP://Evil.Example/a?b"},
            {"type_id": 6, "value": "evil.example/no-scheme"},
            {"type_id": 7, "value": "invoice.exe"},
            {"type_id": 8, "value": "D41D8CD98F00B204E9800998ECF8427E"},
            {"type_id": 8, "value": "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
            {"type_id": 8, "value": "abc"},
            {"type_id": 2, "value": 7},
            {"value": "8.8.8.8"}
        ]});
        let got: Vec<(IndicatorKind, String)> = indicators_of(&ev)
            .into_iter()
            .map(|i| (i.kind, i.value))
            .collect();
        let want = [
            (IndicatorKind::Domain, "evil.example"),
            (IndicatorKind::Ipv4, "192.0.2.7"),
            (IndicatorKind::Email, "bob@example.com"),
            (IndicatorKind::Url, "http://evil.example/a?b"),
            (IndicatorKind::Md5, "d41d8cd98f00b204e9800998ecf8427e"),
            (
                IndicatorKind::Sha1,
                "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            ),
        ];
        let want: Vec<(IndicatorKind, String)> =
            want.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn indicators_are_capped() {
        let obs: Vec<Value> = (0..100u32)
            .map(|i| json!({"type_id": 2, "value": format!("198.51.{}.{}", i / 200, i % 200)}))
            .collect();
        let got = indicators_of(&json!({ "observables": obs }));
        assert_eq!(got.len(), MAX_INDICATORS);
        assert_eq!(got[0].value, "198.51.0.0");
        assert_eq!(got[63].value, "198.51.0.63");
    }

    #[test]
    fn indicators_fall_back_to_endpoints_when_observables_are_empty() {
        let ev = json!({
            "observables": [],
            "src_endpoint": {"ip": "10.0.0.1", "hostname": "ws01"},
            "dst_endpoint": {"ip": "10.0.0.1", "hostname": "c2.example"},
            "evidences": [{"dst_endpoint": {"ip": "2001:DB8::1"}}, "garbage"]
        });
        let got: Vec<String> = indicators_of(&ev).into_iter().map(|i| i.value).collect();
        assert_eq!(got, ["10.0.0.1", "c2.example", "2001:db8::1"]);
        assert!(indicators_of(&json!("not an object")).is_empty());
    }

    /// Answers "not found" except for one address, whose upstream is down.
    struct Flaky;

    impl Provider for Flaky {
        fn name(&self) -> &str {
            "virustotal"
        }
        fn supports(&self, kind: IndicatorKind) -> bool {
            kind != IndicatorKind::Email
        }
        fn lookup<'a>(
            &'a self,
            indicator: &'a Indicator,
        ) -> BoxFuture<'a, Result<Vec<IntelHit>, ProviderError>> {
            let r = if indicator.value == "198.51.100.7" {
                Err(ProviderError::Upstream {
                    status: Some(503),
                    message: "down".into(),
                })
            } else {
                Err(ProviderError::NotFound)
            };
            Box::pin(std::future::ready(r))
        }
    }

    fn flaky_enricher(limit: usize) -> Enricher {
        let policy = Policy {
            max_attempts: 1,
            timeout: Duration::from_secs(1),
            ..Policy::default()
        };
        Enricher::new()
            .with_vt_provider(Guarded::new(Flaky, policy, Arc::new(FakeClock::new())))
            .with_virustotal_limit(limit)
    }

    fn view(values: &[&str]) -> AlertView {
        let obs: Vec<Value> = values
            .iter()
            .map(|v| json!({"type_id": 2, "value": v}))
            .collect();
        AlertView::from_event(json!({ "observables": obs }), None)
    }

    #[tokio::test]
    async fn virustotal_partial_failure_is_ok_with_failures() {
        let e = flaky_enricher(4);
        let alert = view(&["10.0.0.1", "198.51.100.7", "198.51.100.8"]);
        let r = e.enrich("virustotal", &alert).await;
        assert_eq!(r.status, ProviderStatus::Ok);
        assert_eq!(
            r.detail["failures"],
            json!(["198.51.100.7: upstream error (HTTP 503): down"])
        );
        assert_eq!(r.detail["not_public"], json!(["10.0.0.1"]));
        assert_eq!(r.detail["outcomes"][1]["status"], "not_found");
        assert_eq!(r.detail["outcomes"][1]["origin"], "network");
        assert_eq!(r.detail["outcomes"][0]["reason"], "upstream");
    }

    #[tokio::test]
    async fn virustotal_all_failed_is_failed() {
        let e = flaky_enricher(4);
        let r = e.enrich("virustotal", &view(&["198.51.100.7"])).await;
        assert_eq!(
            r.status,
            ProviderStatus::Failed {
                error: "198.51.100.7: upstream error (HTTP 503): down".into()
            }
        );
        assert_eq!(r.detail["outcomes"][0]["attempts"], 1);
    }

    #[tokio::test]
    async fn virustotal_looks_up_the_first_public_ones_only() {
        let e = flaky_enricher(2);
        let alert = view(&["192.168.0.1", "8.8.8.8", "8.8.4.4", "1.1.1.1", "9.9.9.9"]);
        let r = e.enrich("virustotal", &alert).await;
        assert_eq!(r.status, ProviderStatus::Ok);
        let asked: Vec<&str> = r.detail["outcomes"]
            .as_array()
            .expect("outcomes array")
            .iter()
            .filter_map(|o| o["indicator"].as_str())
            .collect();
        assert_eq!(asked, ["8.8.8.8", "8.8.4.4"]);
        assert_eq!(r.detail["not_looked_up"], json!(["1.1.1.1", "9.9.9.9"]));

        let private = e.enrich("virustotal", &view(&["192.168.0.1"])).await;
        assert_eq!(
            private.status,
            ProviderStatus::Skipped {
                reason: "no public indicators to look up".into()
            }
        );
    }

    #[test]
    fn baseline_pairs_skip_own_addresses_and_names() {
        let ev = json!({
            "device": {"hostname": "ws01.corp.example", "ip": "192.0.2.10"},
            "observables": [
                {"type_id": 1, "value": "ws01.corp.example"},
                {"type_id": 2, "value": "192.0.2.10"},
                {"type_id": 2, "value": "10.0.0.9"},
                {"type_id": 1, "value": "c2.example"},
                {"type_id": 6, "value": "http://c2.example/x"}
            ]
        });
        let alert = AlertView::from_event(ev, None);
        let pairs = baseline_pairs(&alert, None);
        assert_eq!(
            pairs,
            [BaselinePair {
                kind: BaselineKind::HostDestination,
                subject: "ws01".into(),
                object: "c2.example".into(),
            }]
        );
    }
}

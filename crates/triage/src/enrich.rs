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

use serde::{Deserialize, Serialize};
use serde_json::Value;
use shrike_intel::provider::BoxFuture;
use shrike_intel::{Indicator, IntelHit};
use shrike_normalize::entities::Entity;

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
    /// A failed result.
    pub fn failed(provider: &str, error: impl Into<String>) -> ProviderResult {
        ProviderResult {
            provider: provider.to_owned(),
            status: ProviderStatus::Failed {
                error: error.into(),
            },
            hits: Vec::new(),
            asset: None,
            rarity: None,
            detail: Value::Null,
        }
    }

    /// A skipped result.
    pub fn skipped(provider: &str, reason: impl Into<String>) -> ProviderResult {
        ProviderResult {
            provider: provider.to_owned(),
            status: ProviderStatus::Skipped {
                reason: reason.into(),
            },
            hits: Vec::new(),
            asset: None,
            rarity: None,
            detail: Value::Null,
        }
    }

    /// An answered result with nothing in it yet.
    pub fn ok(provider: &str) -> ProviderResult {
        ProviderResult {
            provider: provider.to_owned(),
            status: ProviderStatus::Ok,
            hits: Vec::new(),
            asset: None,
            rarity: None,
            detail: Value::Null,
        }
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
    fn enrich<'a>(&'a self, provider: &'a str, alert: &'a AlertView)
        -> BoxFuture<'a, ProviderResult>;
}

//! The types between detection, scoring and fusion: [`Hit`] (one detector matched one event),
//! [`ModelScore`] (one domain model scored one event) and [`Alert`] (a candidate alert: an event
//! that a detector matched or a model scored at or above its threshold).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use shrike_normalize::entities::Entity;
use shrike_score::Reason;

/// The telemetry domain an event or alert belongs to; one model per domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// Host telemetry: process, file, registry, module, Windows event logs, EDR.
    Endpoint,
    /// Network telemetry: flows and connections, IDS alerts, DNS, HTTP, TLS.
    Network,
    /// Cloud control plane: CloudTrail, GuardDuty, cloud audit logs.
    Cloud,
    /// Email (Shrike's own email findings).
    Email,
    /// Anything else.
    Other,
}

impl Domain {
    /// All domains, in a fixed order (index = position).
    pub const ALL: [Domain; 5] = [
        Domain::Endpoint,
        Domain::Network,
        Domain::Cloud,
        Domain::Email,
        Domain::Other,
    ];

    /// The domain's name (`endpoint`).
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Endpoint => "endpoint",
            Domain::Network => "network",
            Domain::Cloud => "cloud",
            Domain::Email => "email",
            Domain::Other => "other",
        }
    }

    /// The domain of an OCSF event, from its product and class: cloud products (CloudTrail,
    /// GuardDuty, VPC Flow) are cloud, except VPC Flow, which is network traffic; Shrike's email
    /// findings are email; system activity (1xxx) and Windows resource classes (2010xx) are
    /// endpoint; network activity (4xxx) and findings from network products (Suricata, Zeek)
    /// are network.
    pub fn of_event(event: &Value) -> Domain {
        let product = event
            .pointer("/metadata/product/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let class = event.get("class_uid").and_then(Value::as_u64).unwrap_or(0);
        let p = product.to_ascii_lowercase();
        if p.contains("vpc flow") {
            return Domain::Network;
        }
        if p.contains("cloudtrail") || p.contains("guardduty") || class == 6003 || class == 3005 {
            return Domain::Cloud;
        }
        if p.contains("suricata") || p.contains("zeek") {
            return Domain::Network;
        }
        if (p.contains("shrike") && p.contains("email")) || class == 4009 {
            return Domain::Email;
        }
        match class {
            1000..=1999 | 201_000..=201_999 => Domain::Endpoint,
            3000..=3999 if p.contains("windows") => Domain::Endpoint,
            4000..=4999 => Domain::Network,
            _ => Domain::Other,
        }
    }
}

/// What raised an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// A Sigma rule matched.
    Sigma {
        /// The rule's `id`.
        rule_id: String,
        /// The rule's `title`.
        title: String,
        /// The rule's `author` (kept on every alert: DRL 1.1).
        author: String,
        /// The rule's `level` (`informational` … `critical`).
        level: String,
        /// The rule file, relative to the rules directory.
        path: String,
    },
    /// A security product already raised it (Suricata alert, GuardDuty finding).
    Vendor {
        /// Product (`Suricata`, `Amazon GuardDuty`).
        product: String,
        /// The product's rule: signature id and name, or finding type.
        rule: String,
        /// The product's category (Suricata `alert.category`, GuardDuty threat purpose).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        category: String,
    },
    /// No detector matched; the domain model scored the event at or above its threshold.
    Model {
        /// Model id.
        model: String,
    },
}

impl Origin {
    /// A short label for the source of the detection, used as the fusion source name:
    /// `sigma`, `vendor`, `model`.
    pub fn kind(&self) -> &'static str {
        match self {
            Origin::Sigma { .. } => "sigma",
            Origin::Vendor { .. } => "vendor",
            Origin::Model { .. } => "model",
        }
    }
}

/// One detector matched one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// What matched.
    pub origin: Origin,
    /// Human title (`LSASS Memory Dump via Comsvcs DLL`).
    pub title: String,
    /// OCSF `severity_id`: 1 informational, 2 low, 3 medium, 4 high, 5 critical.
    pub severity_id: u8,
    /// ATT&CK technique ids (`T1003.001`), sorted, unique.
    #[serde(default)]
    pub techniques: Vec<String>,
    /// ATT&CK tactic short names (`credential-access`), sorted, unique.
    #[serde(default)]
    pub tactics: Vec<String>,
}

/// One domain model's score of one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelScore {
    /// Model id (`shrike-endpoint-gbdt`).
    pub model: String,
    /// Model version.
    pub version: String,
    /// Calibrated probability that the event is malicious.
    pub probability: f64,
    /// `alert` (at or above the model's alert threshold), `suspicious` or `benign`.
    pub verdict: String,
    /// Top TreeSHAP contributions (empty when reasons were not asked for).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Reason>,
}

/// A candidate alert: one event that a detector matched or a model scored at or above its
/// threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable id: derived from the event uid and what raised the alert.
    pub uid: String,
    /// Event time, ms since the Unix epoch.
    pub time_ms: i64,
    /// Telemetry domain.
    pub domain: Domain,
    /// Every detector that matched (empty when only the model raised it).
    pub hits: Vec<Hit>,
    /// The domain model's score, when a model covers the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<ModelScore>,
    /// Title: the most severe hit's title, or the model's.
    pub title: String,
    /// OCSF `severity_id` (the most severe hit's, or from the model score).
    pub severity_id: u8,
    /// ATT&CK technique ids over all hits, sorted, unique.
    pub techniques: Vec<String>,
    /// ATT&CK tactic short names over all hits, sorted, unique.
    pub tactics: Vec<String>,
    /// The event's `metadata.uid`.
    pub event_uid: String,
    /// The event's OCSF class.
    pub class_uid: u32,
    /// Entities of the event (from `shrike_normalize::entities`).
    pub entities: Vec<Entity>,
}

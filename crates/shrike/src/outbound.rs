//! Outbound deliveries of ticket events: a signed (HMAC-SHA256) generic webhook, and the payload
//! shapes XSOAR incidents, Splunk SOAR containers/artifacts and TheHive 5 alerts take.

use serde::{Deserialize, Serialize};

/// Where a delivery goes and in which shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboundKind {
    /// Shrike's own JSON, signed with HMAC-SHA256.
    Webhook,
    /// Cortex XSOAR `POST /incident`.
    Xsoar,
    /// Splunk SOAR `POST /rest/container` (artifacts inline).
    SplunkSoar,
    /// TheHive 5 `POST /api/v1/alert`.
    Thehive,
}

/// What happened to a ticket that is worth telling a SOAR platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboundEvent {
    /// A playbook opened a ticket.
    TicketCreated,
    /// An alert raised an open ticket's priority or risk.
    TicketEscalated,
    /// An analyst approved a containment action; the receiver carries it out.
    ActionApproved,
    /// An analyst recorded a disposition.
    TicketResolved,
}

/// One `[[soar.outbound]]` entry of the serve configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundConfig {
    /// Name used in logs and in the ticket's audit log.
    pub name: String,
    /// Payload shape.
    pub kind: OutboundKind,
    /// Full URL to POST to.
    pub url: String,
    /// Environment variable holding the secret: the HMAC key (webhook) or the API key/token
    /// (XSOAR `Authorization`, Splunk SOAR `ph-auth-token`, TheHive `Bearer`).
    pub secret_env: Option<String>,
    /// Events delivered; default all.
    #[serde(default)]
    pub events: Vec<OutboundEvent>,
}

//! Alert triage inside `shrike serve`: `POST /v1/alerts` runs each record through
//! normalize → playbook (score, enrich, risk, route) → case store → outbound deliveries.

use crate::outbound::OutboundEvent;
use shrike_triage::cases::{CaseStore, TicketId};
use std::sync::{Arc, Mutex};

/// The SOAR half of the server state.
pub struct Soar {
    /// The case store (SQLite; blocking: call it from `spawn_blocking`).
    pub cases: Arc<Mutex<CaseStore>>,
}

impl Soar {
    /// Tells the configured outbound targets about `event` on `ticket`, in the background
    /// (deliveries never hold up the API; their outcome lands in the ticket's audit log).
    pub fn notify(self: &Arc<Self>, event: OutboundEvent, ticket: TicketId) {
        let _ = (event, ticket);
    }
}

/// `POST /v1/alerts` (role `ingest`): telemetry or OCSF events in, one result per record out.
pub async fn ingest_alerts(
    axum::extract::State(st): axum::extract::State<Arc<crate::server::AppState>>,
    body: axum::body::Body,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let _ = (st, body);
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(serde_json::json!({"error": {"code": "not_ready", "message": "alert pipeline not built yet"}})),
    )
        .into_response()
}

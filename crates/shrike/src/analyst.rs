//! The analyst API of `shrike serve` (with `[soar]`): work the queues of the case store.
//!
//! | endpoint | role | does |
//! |---|---|---|
//! | `GET /v1/queues` | analyst | `[{queue, open}]` |
//! | `GET /v1/tickets?queue=&status=&assignee=&limit=&after_id=` | analyst | `{tickets, next_after_id}` |
//! | `GET /v1/tickets/{id}` | analyst | the full ticket |
//! | `POST /v1/tickets/{id}/claim` `{"version", "analyst"?}` | analyst | claim (409 on a stale version) |
//! | `POST /v1/tickets/{id}/comments` `{"body"}` | analyst | comment |
//! | `POST /v1/tickets/{id}/status` `{"status"}` | analyst | release, close, … |
//! | `POST /v1/tickets/{id}/disposition` `{"disposition", "reason"}` | analyst | resolve with a label |
//! | `POST /v1/tickets/{id}/override` `{"queue", "priority", "reason"}` or `{"risk", "reason"}` | analyst | re-route / re-score |
//! | `GET /v1/actions?status=&limit=` | analyst | response actions (default: pending approval) |
//! | `POST /v1/actions/{id}/decision` `{"approve", "reason"}` | analyst | approve / reject |
//! | `GET /v1/feedback?since_ms=&format=json\|ndjson` | admin | labelled feedback export |
//!
//! Every ticket mutation answers with the updated ticket. The actor in the audit log is the
//! token's configured name (`anonymous` under `--no-auth`); only an admin may claim a ticket for
//! someone else (`"analyst"`).
//!
//! Invariants: bodies are parsed here, never by axum's extractors, so every client fault is a
//! JSON error with a stable code (unknown fields and wrong types are refused, not ignored); the
//! SQLite store is only touched inside `spawn_blocking`; store failures are 500 `store_error`
//! with the details in the log only. Without `[soar]` every endpoint answers 404
//! `soar_disabled`.

use crate::outbound::OutboundEvent;
use crate::server::{read_body, ApiError, AppState, Caller};
use crate::soar::Soar;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use shrike_triage::cases::{
    ActionId, ActionStatus, CaseError, CaseStore, Disposition, Filter, Priority, Status, TicketId,
    DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT,
};
use std::sync::Arc;

/// The routes needing the `analyst` role (the caller adds the role guard).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/queues", get(queues))
        .route("/v1/tickets", get(list_tickets))
        .route("/v1/tickets/{id}", get(get_ticket))
        .route("/v1/tickets/{id}/claim", post(claim))
        .route("/v1/tickets/{id}/comments", post(comment))
        .route("/v1/tickets/{id}/status", post(set_status))
        .route("/v1/tickets/{id}/disposition", post(disposition))
        .route("/v1/tickets/{id}/override", post(override_ticket))
        .route("/v1/actions", get(list_actions))
        .route("/v1/actions/{id}/decision", post(decide_action))
}

/// The routes needing the `admin` role (the caller adds the role guard).
pub fn admin_routes() -> Router<Arc<AppState>> {
    Router::new().route("/v1/feedback", get(feedback))
}

fn soar(st: &AppState) -> Result<Arc<Soar>, ApiError> {
    st.soar().cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "soar_disabled",
            "alert triage is not configured on this server: add a [soar] section (with db = \
             \"<case store file>\") to the serve configuration",
        )
    })
}

/// The HTTP answer for a case-store error.
fn store_error(e: CaseError) -> ApiError {
    let (status, code) = match &e {
        CaseError::NotFound(_) => (StatusCode::NOT_FOUND, "ticket_not_found"),
        CaseError::ActionNotFound(_) => (StatusCode::NOT_FOUND, "action_not_found"),
        CaseError::VersionConflict { .. } => (StatusCode::CONFLICT, "version_conflict"),
        CaseError::InvalidTransition { .. } | CaseError::InvalidActionTransition { .. } => {
            (StatusCode::CONFLICT, "invalid_transition")
        }
        CaseError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
        _ => {
            tracing::error!(error = %e, "case store failed");
            return ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store_error",
                "the case store failed; see the server log",
            );
        }
    };
    ApiError::new(status, code, e.to_string())
}

/// Runs `f` on the case store in the blocking pool. A poisoned mutex is recovered: every store
/// call is one SQLite transaction, so a panic in another caller left no half-written state.
async fn with_store<T, F>(soar: &Soar, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut CaseStore) -> Result<T, CaseError> + Send + 'static,
{
    let cases = Arc::clone(&soar.cases);
    let joined = tokio::task::spawn_blocking(move || {
        let mut store = cases
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut store)
    })
    .await;
    match joined {
        Ok(r) => r.map_err(store_error),
        Err(e) => {
            tracing::error!(error = %e, "case store task failed");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store_error",
                "the case store failed; see the server log",
            ))
        }
    }
}

/// Parses a path id; anything but an integer is a 400.
/// The common start of a ticket mutation: the SOAR state, the ticket id from the path and the
/// JSON body, each with its own 4xx.
async fn ticket_request<T: DeserializeOwned>(
    st: &AppState,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<(Arc<Soar>, TicketId, T), ApiError> {
    let soar = soar(st)?;
    let id = TicketId(path_id(id, "ticket")?);
    let b: T = json_body(st, body).await?;
    Ok((soar, id, b))
}

fn path_id(p: Result<Path<String>, PathRejection>, what: &str) -> Result<i64, ApiError> {
    let bad = |shown: &str| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            format!("{what} id must be an integer, not {shown:?}"),
        )
    };
    let Path(raw) = p.map_err(|e| bad(&e.body_text()))?;
    raw.parse::<i64>().map_err(|_| bad(&raw))
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("invalid query string: {}", e.body_text()),
        )
    })
}

/// Reads and parses a JSON body: malformed JSON is 400 `json_invalid`; the wrong shape (unknown
/// or missing field, wrong type, unknown value) is 422 `invalid_input` naming the field.
async fn json_body<T: DeserializeOwned>(st: &AppState, body: Body) -> Result<T, ApiError> {
    let bytes = read_body(st, body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "empty",
            "request body is empty; send a JSON object",
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
                format!("invalid request: {e}"),
            ),
            Category::Io | Category::Syntax | Category::Eof => ApiError::new(
                StatusCode::BAD_REQUEST,
                "json_invalid",
                format!("invalid JSON: {e}"),
            ),
        }
    })
}

fn invalid_input(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message)
}

/// A reason the caller must give (trimmed, non-empty).
fn required_reason(reason: Option<String>, what: &str) -> Result<String, ApiError> {
    match reason {
        Some(r) if !r.trim().is_empty() => Ok(r),
        _ => Err(invalid_input(format!("\"reason\" is required to {what}"))),
    }
}

async fn queues(State(st): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let soar = soar(&st)?;
    let queues = with_store(&soar, |s| s.queues()).await?;
    let out: Vec<Value> = queues
        .into_iter()
        .map(|(queue, open)| json!({ "queue": queue, "open": open }))
        .collect();
    Ok(Json(out).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TicketQuery {
    queue: Option<String>,
    status: Option<String>,
    assignee: Option<String>,
    limit: Option<u32>,
    after_id: Option<i64>,
}

async fn list_tickets(
    State(st): State<Arc<AppState>>,
    q: Result<Query<TicketQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let soar = soar(&st)?;
    let q = query(q)?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            Status::parse(s).ok_or_else(|| {
                invalid_input(format!(
                    "unknown status {s:?}; use new, in_progress, resolved, closed or auto_closed"
                ))
            })
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(DEFAULT_LIST_LIMIT);
    if limit == 0 || limit > MAX_LIST_LIMIT {
        return Err(invalid_input(format!(
            "limit must be between 1 and {MAX_LIST_LIMIT}"
        )));
    }
    let filter = Filter {
        queue: q.queue,
        status,
        assignee: q.assignee,
        limit: Some(limit),
        after_id: q.after_id.map(TicketId),
    };
    let tickets = with_store(&soar, move |s| s.list(&filter)).await?;
    // A full page may have more behind it; a short one is the last.
    let next = (tickets.len() == limit as usize)
        .then(|| tickets.last().map(|t| t.id))
        .flatten();
    Ok(Json(json!({ "tickets": tickets, "next_after_id": next })).into_response())
}

async fn get_ticket(
    State(st): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let soar = soar(&st)?;
    let id = TicketId(path_id(id, "ticket")?);
    let ticket = with_store(&soar, move |s| s.get(id)).await?;
    Ok(Json(ticket).into_response())
}

/// Runs a ticket mutation and answers with the updated ticket.
async fn mutate_ticket<F>(soar: &Soar, id: TicketId, f: F) -> Result<Response, ApiError>
where
    F: FnOnce(&mut CaseStore) -> Result<(), CaseError> + Send + 'static,
{
    let ticket = with_store(soar, move |s| {
        f(s)?;
        s.get(id)
    })
    .await?;
    Ok(Json(ticket).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimBody {
    /// The version the analyst saw.
    version: i64,
    /// Claim for someone else (admin only).
    analyst: Option<String>,
}

async fn claim(
    State(st): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let (soar, id, b): (_, _, ClaimBody) = ticket_request(&st, id, body).await?;
    let assignee = match b.analyst {
        Some(a) if a != caller.name => {
            if caller.role != crate::config::Role::Admin {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "only an admin may claim a ticket for someone else; leave out \"analyst\"",
                ));
            }
            a
        }
        _ => caller.name.clone(),
    };
    mutate_ticket(&soar, id, move |s| {
        s.claim_for(id, &assignee, &caller.name, b.version)
            .map(drop)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentBody {
    body: String,
}

async fn comment(
    State(st): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let (soar, id, b): (_, _, CommentBody) = ticket_request(&st, id, body).await?;
    mutate_ticket(&soar, id, move |s| {
        s.comment(id, &caller.name, &b.body).map(drop)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: String,
}

async fn set_status(
    State(st): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let (soar, id, b): (_, _, StatusBody) = ticket_request(&st, id, body).await?;
    let status = Status::parse(&b.status).ok_or_else(|| {
        invalid_input(format!(
            "unknown status {:?}; use new (release), in_progress or closed (resolve with a \
             disposition)",
            b.status
        ))
    })?;
    mutate_ticket(&soar, id, move |s| {
        s.set_status(id, status, &caller.name).map(drop)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DispositionBody {
    disposition: Disposition,
    reason: Option<String>,
}

async fn disposition(
    State(st): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let (soar, id, b): (_, _, DispositionBody) = ticket_request(&st, id, body).await?;
    let reason = required_reason(b.reason, "record a disposition")?;
    let resp = mutate_ticket(&soar, id, move |s| {
        s.disposition(id, b.disposition, &reason, &caller.name)
            .map(drop)
    })
    .await?;
    soar.notify(OutboundEvent::TicketResolved, id);
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideBody {
    queue: Option<String>,
    priority: Option<String>,
    risk: Option<f64>,
    reason: Option<String>,
}

const OVERRIDE_SHAPE: &str = "override either the route ({\"queue\", \"priority\", \"reason\"}) \
     or the risk ({\"risk\", \"reason\"}), exactly one of the two";

enum Override {
    Route(String, Priority),
    Risk(f64),
}

async fn override_ticket(
    State(st): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let (soar, id, b): (_, _, OverrideBody) = ticket_request(&st, id, body).await?;
    let kind = match (b.queue, b.priority, b.risk) {
        (Some(queue), Some(p), None) => {
            let priority = Priority::parse(&p).ok_or_else(|| {
                invalid_input(format!("unknown priority {p:?}; use P1, P2, P3 or P4"))
            })?;
            Override::Route(queue, priority)
        }
        (None, None, Some(risk)) => Override::Risk(risk),
        _ => return Err(invalid_input(OVERRIDE_SHAPE)),
    };
    let reason = required_reason(b.reason, "override a ticket")?;
    mutate_ticket(&soar, id, move |s| {
        match kind {
            Override::Route(queue, priority) => {
                s.override_route(id, &queue, priority, &caller.name, &reason)
            }
            Override::Risk(risk) => s.override_risk(id, risk, &caller.name, &reason),
        }
        .map(drop)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionQuery {
    status: Option<String>,
    limit: Option<u32>,
}

async fn list_actions(
    State(st): State<Arc<AppState>>,
    q: Result<Query<ActionQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let soar = soar(&st)?;
    let q = query(q)?;
    let status = match q.status.as_deref() {
        None => Some(ActionStatus::PendingApproval),
        Some("all") => None,
        Some(s) => Some(ActionStatus::parse(s).ok_or_else(|| {
            invalid_input(format!(
                "unknown action status {s:?}; use pending_approval, approved, rejected, \
                 delivered, failed or all"
            ))
        })?),
    };
    let limit = q.limit.unwrap_or(DEFAULT_LIST_LIMIT);
    if limit == 0 || limit > MAX_LIST_LIMIT {
        return Err(invalid_input(format!(
            "limit must be between 1 and {MAX_LIST_LIMIT}"
        )));
    }
    let actions = with_store(&soar, move |s| s.actions(status, limit)).await?;
    Ok(Json(json!({ "actions": actions })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    approve: bool,
    reason: Option<String>,
}

async fn decide_action(
    State(st): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let soar = soar(&st)?;
    let id = ActionId(path_id(id, "action")?);
    let b: DecisionBody = json_body(&st, body).await?;
    let reason = if b.approve {
        b.reason.unwrap_or_default()
    } else {
        required_reason(b.reason, "reject an action")?
    };
    let approve = b.approve;
    let action = with_store(&soar, move |s| {
        s.decide_action(id, approve, &caller.name, &reason)
    })
    .await?;
    if approve {
        soar.notify_action(action.ticket_id, action.id);
    }
    Ok(Json(action).into_response())
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum FeedbackFormat {
    Json,
    Ndjson,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackQuery {
    since_ms: Option<i64>,
    format: Option<FeedbackFormat>,
}

async fn feedback(
    State(st): State<Arc<AppState>>,
    q: Result<Query<FeedbackQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let soar = soar(&st)?;
    let q = query(q)?;
    let since = q.since_ms.unwrap_or(0);
    let rows = with_store(&soar, move |s| s.feedback(since)).await?;
    if q.format == Some(FeedbackFormat::Ndjson) {
        let mut out = Vec::new();
        for row in &rows {
            serde_json::to_writer(&mut out, row).map_err(|e| store_error(e.into()))?;
            out.push(b'\n');
        }
        return Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response());
    }
    Ok(Json(rows).into_response())
}

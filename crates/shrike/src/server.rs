//! `shrike serve`: the scoring HTTP API (axum).
//!
//! Endpoints: `POST /v1/email/score` (one email: `message/rfc822` or email-log JSON),
//! `POST /v1/email/score/batch` (JSON array, `{"emails": [...]}` or NDJSON; each item an
//! email-log object or `{"raw": "<RFC 5322 text>"}` / `{"raw_base64": "..."}`),
//! `GET /openapi.json`, `/healthz`, `/readyz` (open) and `/metrics` (Prometheus; token needed).
//! With `[soar]`: `POST /v1/alerts` ([`crate::soar`]) and the analyst API ([`crate::analyst`]).
//!
//! Roles ([`Role`]): the scoring endpoints and `/metrics` take any valid token;
//! `POST /v1/alerts` needs `ingest`; the analyst API `analyst`; `GET /v1/feedback` `admin`
//! (admin passes everything). No token: 401; the wrong role: 403 `forbidden`.
//!
//! Invariants: every error is JSON `{"error": {"code", "message", "request_id"}}` with a stable
//! code; client faults are 4xx; a bad email in a batch is reported by index and never fails the
//! others; bodies are read up to `max_body_bytes` and no further; scoring panics (there should be
//! none) become a 500 with the request id, never a dropped connection.

use crate::config::{check_tokens, tokens_from_env, FileConfig, Role, TokenConfig};
use crate::metrics::{Endpoint, Metrics};
use crate::output::{ModelRef, OutputFormat, Scored};
use anyhow::{bail, Context, Result};
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use shrike_score::scorer::ScoreScratch;
use shrike_score::{FeatureContext, Scorer};
use shrike_types::{EmailRecord, RecordOrigin};
use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// `shrike serve` arguments (each overrides the config file).
#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long)]
    pub listen: Option<String>,
    /// Model file; the bundled default model when absent.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Configuration file (TOML).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Largest request body in bytes.
    #[arg(long)]
    pub max_body_bytes: Option<usize>,
    /// Most emails in one batch request.
    #[arg(long)]
    pub max_batch: Option<usize>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Serve without bearer-token authentication (loopback testing only).
    #[arg(long)]
    pub no_auth: bool,
}

/// Everything a request needs.
pub struct AppState {
    scorer: Scorer,
    model: ModelRef,
    tokens: Vec<TokenConfig>,
    auth_required: bool,
    metrics: Metrics,
    limits: shrike_ingest::Limits,
    max_body_bytes: usize,
    max_batch: usize,
    default_reasons: usize,
    request_seq: AtomicU64,
    request_prefix: u32,
    soar: Option<Arc<crate::soar::Soar>>,
}

/// Settings for building the state.
pub struct StateOptions {
    /// Bearer tokens.
    pub tokens: Vec<TokenConfig>,
    /// Whether a token is required.
    pub auth_required: bool,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Most emails in a batch.
    pub max_batch: usize,
    /// Reasons per score unless the request says otherwise.
    pub reasons: usize,
    /// Alert triage (`[soar]`); `None`: the alert and analyst APIs answer 404 `soar_disabled`.
    pub soar: Option<Arc<crate::soar::Soar>>,
}

impl Default for StateOptions {
    fn default() -> Self {
        StateOptions {
            tokens: Vec::new(),
            auth_required: true,
            max_body_bytes: 10 * 1024 * 1024,
            max_batch: 1000,
            reasons: 5,
            soar: None,
        }
    }
}

impl AppState {
    /// Largest request body, bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// The SOAR state, when `[soar]` is configured.
    pub fn soar(&self) -> Option<&Arc<crate::soar::Soar>> {
        self.soar.as_ref()
    }

    /// The state for a scorer.
    pub fn new(scorer: Scorer, opts: StateOptions) -> AppState {
        let model = crate::scoring::model_ref(&scorer);
        let mut limits = shrike_ingest::Limits::default();
        limits.max_message_bytes = limits.max_message_bytes.min(opts.max_body_bytes);
        AppState {
            scorer,
            model,
            tokens: opts.tokens,
            auth_required: opts.auth_required,
            metrics: Metrics::default(),
            limits,
            max_body_bytes: opts.max_body_bytes,
            max_batch: opts.max_batch,
            default_reasons: opts.reasons,
            request_seq: AtomicU64::new(0),
            request_prefix: random_u32(),
            soar: opts.soar,
        }
    }
}

/// A JSON API error with a stable code.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// An error answered with `status` and the stable `code`.
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The request id is added to the body by the request middleware (it owns the id).
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut resp = (self.status, axum::Json(body)).into_response();
        resp.extensions_mut().insert(ErrorCode(self.code));
        resp
    }
}

#[derive(Clone, Copy)]
struct ErrorCode(&'static str);

/// The router. Each group of routes carries the role it needs (see [`authorize`]).
pub fn router(state: Arc<AppState>) -> Router {
    let guard = |needs: Option<Role>| {
        middleware::from_fn_with_state(
            Guard {
                state: state.clone(),
                needs,
            },
            authorize,
        )
    };
    let scoring = Router::new()
        .route("/v1/email/score", post(score_one))
        .route("/v1/email/score/batch", post(score_batch))
        .route("/metrics", get(metrics_text))
        .route_layer(guard(None));
    let ingest = Router::new()
        .route("/v1/alerts", post(crate::soar::ingest_alerts))
        .route("/v1/events", post(crate::soar::ingest_events))
        .route_layer(guard(Some(Role::Ingest)));
    let analyst = crate::analyst::routes().route_layer(guard(Some(Role::Analyst)));
    let admin = crate::analyst::admin_routes().route_layer(guard(Some(Role::Admin)));
    Router::new()
        .route(
            "/healthz",
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi))
        .merge(scoring)
        .merge(ingest)
        .merge(analyst)
        .merge(admin)
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this endpoint",
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Request ids, metrics and the request id inside error bodies.
async fn observe(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let ep = Endpoint::of_path(req.uri().path());
    let seq = st.request_seq.fetch_add(1, Ordering::Relaxed);
    let rid = format!("{:08x}-{seq:x}", st.request_prefix);
    let mut resp = next.run(req).await;
    if let Some(ErrorCode(code)) = resp.extensions().get::<ErrorCode>().copied() {
        st.metrics.error(code);
        if resp.status().is_server_error() {
            tracing::error!(request_id = %rid, code, "internal error");
        }
        resp = add_request_id_to_error(resp, &rid).await;
    }
    if let Ok(v) = HeaderValue::from_str(&rid) {
        resp.headers_mut().insert("x-request-id", v);
    }
    st.metrics
        .request(ep, resp.status().as_u16(), start.elapsed().as_secs_f64());
    resp
}

async fn add_request_id_to_error(resp: Response, rid: &str) -> Response {
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let mut v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({"error": {}}));
    if let Some(e) = v.get_mut("error").and_then(Value::as_object_mut) {
        e.insert("request_id".into(), json!(rid));
    }
    let out = serde_json::to_vec(&v).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}

/// Who is calling: the configured name of the bearer token (the actor in the audit log) and its
/// role. Put in the request extensions by [`authorize`] for every protected route.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's configured name; `anonymous` under `--no-auth`.
    pub name: String,
    /// The token's role; `admin` under `--no-auth`.
    pub role: Role,
}

/// State of the [`authorize`] middleware of one route group.
#[derive(Clone)]
struct Guard {
    state: Arc<AppState>,
    /// Role the group needs; `None`: any valid token.
    needs: Option<Role>,
}

/// Finds the bearer token's [`TokenConfig`] (401 without a valid one), checks its role against
/// the group's (403 `forbidden` naming the role needed; admin passes everything), and stores the
/// [`Caller`] in the request extensions. With `--no-auth` every call passes as `anonymous`.
async fn authorize(State(g): State<Guard>, mut req: Request, next: Next) -> Response {
    let st = &g.state;
    if !st.auth_required {
        req.extensions_mut().insert(Caller {
            name: "anonymous".into(),
            role: Role::Admin,
        });
        return next.run(req).await;
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(tok) = presented else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing bearer token",
        )
        .into_response();
    };
    // Compare against every token (no early exit) so timing does not tell which one matched.
    let mut found: Option<&TokenConfig> = None;
    for t in &st.tokens {
        if constant_time_eq(t.token.as_bytes(), tok.as_bytes()) && found.is_none() {
            found = Some(t);
        }
    }
    let Some(t) = found else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "invalid bearer token",
        )
        .into_response();
    };
    if let Some(needs) = g.needs {
        if !t.role.allows(needs) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "this endpoint needs a token with role {} (or admin); token {:?} has role {}",
                    needs.as_str(),
                    t.name,
                    t.role.as_str()
                ),
            )
            .into_response();
        }
    }
    req.extensions_mut().insert(Caller {
        name: t.name.clone(),
        role: t.role,
    });
    next.run(req).await
}

/// Compares secrets without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn readyz(State(st): State<Arc<AppState>>) -> impl IntoResponse {
    axum::Json(json!({"status": "ready", "model": st.model}))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// The OpenAPI 3.1 description of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

async fn metrics_text(State(st): State<Arc<AppState>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], {
        let mut text = st.metrics.render(&st.model);
        if let Some(soar) = st.soar() {
            text.push_str(&soar.stats.render());
        }
        text
    })
}

#[derive(Deserialize, Default)]
struct ScoreQuery {
    format: Option<OutputFormat>,
    reasons: Option<usize>,
}

pub(crate) async fn read_body(st: &AppState, body: Body) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, st.max_body_bytes)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("request body exceeds {} bytes", st.max_body_bytes),
            )
        })
}

enum BodyKind {
    Mime,
    Json,
    Ndjson,
}

fn body_kind(headers: &HeaderMap) -> Result<BodyKind, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match ct.as_str() {
        "message/rfc822" | "application/octet-stream" | "text/plain" | "application/mbox" => Ok(BodyKind::Mime),
        "application/json" => Ok(BodyKind::Json),
        "application/x-ndjson" | "application/jsonl" | "application/ndjson" => Ok(BodyKind::Ndjson),
        "" => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "set Content-Type: message/rfc822 for a raw email or application/json for an email-log record",
        )),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("unsupported Content-Type {other:?}; use message/rfc822 or application/json"),
        )),
    }
}

fn origin(name: &str, index: Option<u64>) -> RecordOrigin {
    RecordOrigin {
        path: name.to_string(),
        member: None,
        index,
        offset: None,
    }
}

fn invalid_email(e: &shrike_ingest::IngestError) -> ApiError {
    let status = if e.reason() == "message_too_large" {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    ApiError::new(status, e.reason(), e.to_string())
}

thread_local! {
    static SCRATCH: RefCell<ScoreScratch> = RefCell::new(ScoreScratch::default());
}

/// Scores one record and renders it; a panic becomes an internal error.
fn score_record(
    st: &AppState,
    rec: &EmailRecord,
    format: OutputFormat,
    reasons: usize,
) -> Result<Value, ApiError> {
    let run = || {
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let result = st
                .scorer
                .score_email(rec, &FeatureContext::default(), reasons, &mut s);
            st.metrics.verdict(result.verdict);
            Scored {
                rec,
                result: &result,
                model: &st.model,
                scored_at_ms: crate::scoring::now_ms(),
            }
            .render(format)
        })
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error while scoring",
        )
    })
}

fn parse_json_record(
    st: &AppState,
    v: &Value,
    index: Option<u64>,
) -> Result<EmailRecord, ApiError> {
    let name = "request";
    if let Some(obj) = v.as_object() {
        if let Some(raw) = obj.get("raw") {
            let text = raw.as_str().ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "json_wrong_type",
                    "field \"raw\" must be a string",
                )
            })?;
            return shrike_ingest::parse_message(text.as_bytes(), origin(name, index), &st.limits)
                .map_err(|e| invalid_email(&e));
        }
        if let Some(raw) = obj.get("raw_base64") {
            use base64::Engine as _;
            let text = raw.as_str().ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "json_wrong_type",
                    "field \"raw_base64\" must be a string",
                )
            })?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_base64",
                        format!("field \"raw_base64\": {e}"),
                    )
                })?;
            return shrike_ingest::parse_message(&bytes, origin(name, index), &st.limits)
                .map_err(|e| invalid_email(&e));
        }
    }
    shrike_ingest::parse_email_log(v, origin(name, index)).map_err(|e| invalid_email(&e))
}

async fn score_one(
    State(st): State<Arc<AppState>>,
    Query(q): Query<ScoreQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let kind = body_kind(&headers)?;
    let bytes = read_body(&st, body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "empty",
            "request body is empty",
        ));
    }
    let rec = match kind {
        BodyKind::Mime => shrike_ingest::parse_message(&bytes, origin("request", None), &st.limits)
            .map_err(|e| invalid_email(&e))?,
        BodyKind::Json | BodyKind::Ndjson => {
            let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "json_invalid",
                    format!("invalid JSON: {e}"),
                )
            })?;
            if !v.is_object() {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "json_wrong_type",
                    "expected one JSON object (use /v1/email/score/batch for arrays)",
                ));
            }
            parse_json_record(&st, &v, None)?
        }
    };
    let format = q.format.unwrap_or(OutputFormat::Shrike);
    let reasons = q.reasons.unwrap_or(st.default_reasons).min(50);
    let v = score_record(&st, &rec, format, reasons)?;
    Ok(axum::Json(v).into_response())
}

async fn score_batch(
    State(st): State<Arc<AppState>>,
    Query(q): Query<ScoreQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let kind = body_kind(&headers)?;
    let bytes = read_body(&st, body).await?;
    let items: Vec<Result<Value, ApiError>> = match kind {
        BodyKind::Mime => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "batch takes application/json (an array or {\"emails\": [...]}) or application/x-ndjson",
            ))
        }
        BodyKind::Json => {
            let v: Value = serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "json_invalid", format!("invalid JSON: {e}")))?;
            let arr = match v {
                Value::Array(a) => a,
                Value::Object(mut o) => match o.remove("emails") {
                    Some(Value::Array(a)) => a,
                    _ => {
                        return Err(ApiError::new(
                            StatusCode::BAD_REQUEST,
                            "json_wrong_type",
                            "expected a JSON array or an object with an \"emails\" array",
                        ))
                    }
                },
                _ => {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "json_wrong_type",
                        "expected a JSON array or an object with an \"emails\" array",
                    ))
                }
            };
            arr.into_iter().map(Ok).collect()
        }
        BodyKind::Ndjson => bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .map(|l| {
                serde_json::from_slice(l)
                    .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "json_invalid", format!("invalid JSON: {e}")))
            })
            .collect(),
    };
    if items.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "empty",
            "the batch holds no emails",
        ));
    }
    if items.len() > st.max_batch {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "the batch holds {} emails; the limit is {}",
                items.len(),
                st.max_batch
            ),
        ));
    }
    let format = q.format.unwrap_or(OutputFormat::Shrike);
    let reasons = q.reasons.unwrap_or(st.default_reasons).min(50);
    let mut results = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let scored = item
            .and_then(|v| parse_json_record(&st, &v, Some(i as u64)))
            .and_then(|rec| score_record(&st, &rec, format, reasons));
        match scored {
            Ok(v) => results.push(json!({"index": i, "result": v})),
            Err(e) => {
                st.metrics.error(e.code);
                errors.push(json!({"index": i, "code": e.code, "message": e.message}));
            }
        }
    }
    Ok(axum::Json(
        json!({"count": results.len() + errors.len(), "results": results, "errors": errors}),
    )
    .into_response())
}

/// A random u32 from the OS (request-id prefix, demo tokens).
pub fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    random_bytes(&mut b);
    u32::from_le_bytes(b)
}

/// Fills `buf` from /dev/urandom, falling back to the clock and the process id.
pub fn random_bytes(buf: &mut [u8]) {
    use std::io::Read;
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .is_ok()
    {
        return;
    }
    let seed = crate::scoring::now_ms() as u64 ^ (u64::from(std::process::id()) << 32);
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (seed.rotate_left(i as u32 * 8) & 0xff) as u8;
    }
}

/// A running server (for the demo and tests): its address and how to stop it.
pub struct RunningServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Stops accepting, finishes in-flight requests, and waits.
    pub async fn shutdown(mut self) -> Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.await.context("server task")?.context("server")?;
        Ok(())
    }
}

/// Starts serving on an already-bound listener.
pub fn spawn(listener: tokio::net::TcpListener, state: Arc<AppState>) -> Result<RunningServer> {
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = router(state);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    Ok(RunningServer {
        addr,
        stop: Some(tx),
        task,
    })
}

/// Runs `shrike serve` until Ctrl-C or SIGTERM.
pub fn run_serve(args: ServeArgs) -> Result<ExitCode> {
    let file = match &args.config {
        Some(p) => FileConfig::load(p)?,
        None => FileConfig::default(),
    };
    let mut tokens = file.tokens.clone();
    if let Ok(v) = std::env::var("SHRIKE_API_TOKENS") {
        tokens.extend(tokens_from_env(&v));
    }
    check_tokens(&tokens)?;
    if tokens.is_empty() && !args.no_auth {
        bail!("no API tokens: set SHRIKE_API_TOKENS, add [[tokens]] to the config file, or pass --no-auth for loopback testing");
    }
    let model = args.model.clone().or(file.model.clone());
    let scorer = crate::load_scorer(model.as_ref())?;
    let listen = args
        .listen
        .clone()
        .or(file.listen.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let defaults = StateOptions::default();
    let opts = StateOptions {
        tokens,
        auth_required: !args.no_auth,
        max_body_bytes: args
            .max_body_bytes
            .or(file.max_body_bytes)
            .unwrap_or(defaults.max_body_bytes),
        max_batch: args
            .max_batch
            .or(file.max_batch)
            .unwrap_or(defaults.max_batch),
        reasons: file.reasons.unwrap_or(defaults.reasons),
        soar: None,
    };
    let mut opts = opts;
    if let Some(cfg) = &file.soar {
        let soar = crate::soar::Soar::from_config(cfg).context("starting alert triage ([soar])")?;
        tracing::info!(
            "alert triage on: {} playbooks, case store {}",
            soar.playbooks.playbooks().len(),
            cfg.db.display()
        );
        opts.soar = Some(Arc::new(soar));
    }
    if args.no_auth {
        tracing::warn!("serving WITHOUT authentication (--no-auth)");
    }
    let state = Arc::new(AppState::new(scorer, opts));
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(w) = args.workers {
        rt.worker_threads(w.max(1));
    }
    let rt = rt.enable_all().build().context("starting the runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        tracing::info!(
            "listening on http://{} (model {} {}, sha256 {})",
            listener.local_addr()?,
            state.model.id,
            state.model.version,
            state.model.sha256
        );
        let app = router(state);
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("serving")?;
        tracing::info!("stopped");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq(b"abcdefgh", b"abcdefgh"));
        assert!(!constant_time_eq(b"abcdefgh", b"abcdefgi"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn content_types_map_to_body_kinds() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("message/rfc822"),
        );
        assert!(matches!(body_kind(&h), Ok(BodyKind::Mime)));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(matches!(body_kind(&h), Ok(BodyKind::Json)));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
        assert_eq!(
            body_kind(&h).err().map(|e| e.code),
            Some("unsupported_media_type")
        );
    }

    #[test]
    fn openapi_is_valid_json_listing_every_route() {
        let v: Value = serde_json::from_str(OPENAPI).expect("openapi.json parses");
        for p in [
            "/v1/email/score",
            "/v1/email/score/batch",
            "/healthz",
            "/readyz",
            "/metrics",
            "/openapi.json",
            "/v1/alerts",
            "/v1/queues",
            "/v1/tickets",
            "/v1/tickets/{id}",
            "/v1/tickets/{id}/claim",
            "/v1/tickets/{id}/comments",
            "/v1/tickets/{id}/status",
            "/v1/tickets/{id}/disposition",
            "/v1/tickets/{id}/override",
            "/v1/actions",
            "/v1/actions/{id}/decision",
            "/v1/feedback",
        ] {
            assert!(v["paths"].get(p).is_some(), "missing {p}");
        }
    }
}

//! The case store: tickets with their alerts, enrichment context, combined risk and how it was
//! computed, queue, priority, SLA, status, assignee, comments, audit log, de-duplication and
//! analyst dispositions (the labelled feedback later issues retrain on). One SQLite file,
//! opened with [`crate::db::open`] and versioned [`MIGRATIONS`].
//!
//! # Ingest and de-duplication
//!
//! [`CaseStore::ingest_alert`] does everything for one alert in ONE immediate transaction: look
//! the alert's `uid` up (the OCSF `metadata.uid`, unique in `alerts`), find or create the ticket,
//! insert the alert and the enrichment outcomes carried with it, escalate the ticket, write the
//! audit rows. A crash between two alerts therefore leaves whole alerts only, and replaying a
//! run after a restart is safe: an alert already stored is a no-op (`duplicate_alert: true`),
//! so a restart in the middle of a run loses no ticket and duplicates none.
//!
//! An alert joins an **open** ticket (status `new` or `in_progress`) with the same
//! `(entity_kind, entity_key, technique)` when its `received_ms` lies within the window of the
//! ticket's alerts: `first_alert_ms - window ≤ received_ms ≤ last_alert_ms + window` (the window
//! slides with each joined alert; of several candidates the one with the latest alert wins).
//! Otherwise it opens a new ticket, also after the old one was resolved or closed. A joining
//! alert whose proposed priority is higher (`P1` is highest) raises the ticket's priority and
//! tightens its SLA to the earlier due time; one whose combined risk is higher replaces the risk
//! and its explanation; both are audited (`escalated`, with before/after). The ticket keeps its
//! queue and title (an analyst may have overridden the route).
//!
//! # Concurrency and audit
//!
//! `version` counts changes of the analyst-visible ticket fields (status, assignee, queue,
//! priority, SLA, risk); [`CaseStore::claim`] takes the version the analyst saw and fails with
//! [`CaseError::VersionConflict`] if someone else changed the ticket since. A plain alert join
//! does not bump it (it changes no field an analyst acted on). Every state change — creation,
//! alert join, escalation, enrichment, claim, comment, status change, disposition, override,
//! auto-close — writes an `audit_log` row in the same transaction, with `before`/`after` JSON.
//!
//! # Status transitions
//!
//! | from \ action | claim | set_status | disposition | override | auto_close |
//! |---|---|---|---|---|---|
//! | `new` | → `in_progress` | `in_progress`, `closed` | → `resolved` | yes | → `auto_closed` |
//! | `in_progress` | re-assign | `new` (release), `closed` | → `resolved` | yes | no |
//! | `resolved` | no | `closed` | no | no | no |
//! | `auto_closed` | no | `closed` | → `resolved` | no | no |
//! | `closed` | no | no | no | no | no |
//!
//! `resolved` is reached only through a disposition (so every resolved ticket carries its label)
//! and `auto_closed` only through [`CaseStore::auto_close`]. An auto-closed ticket is not
//! reopened (a newer open ticket for the same entity and technique may exist by then): an
//! analyst who disagrees records a disposition on it, which is exactly the feedback wanted.
//! Comments and enrichments are accepted in every status.
//!
//! # Response actions
//!
//! Playbooks do not contain anything by themselves: [`CaseStore::request_action`] queues an
//! action (`isolate_host` on `{"kind": "host", "key": "win-client-31"}`, …) on a ticket in
//! status `pending_approval`, and only an analyst moves it on:
//!
//! ```text
//! pending_approval --decide_action(approve)--> approved --record_action_result--> delivered
//!        |                                         |                                 ^
//!        +--decide_action(reject, reason)--> rejected   failed <--------------------+ (retry)
//! ```
//!
//! A request is idempotent while pending: the same `(ticket, name, target)` (targets compared
//! as JSON values) returns the pending action's id. Rejecting needs a reason; `rejected` and
//! `delivered` are final. Every step is audited on the ticket (`action_requested`,
//! `action_approved`, `action_rejected`, `action_delivered`, `action_failed`) but does not bump
//! the ticket's `version` (no analyst-visible ticket field changes). [`CaseStore::note`] adds a
//! free audit row (outbound delivery reports).

use std::fmt;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::db::{self, DbError, Migration};

/// Schema of the case store, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: "
CREATE TABLE tickets (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    entity_kind TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    technique TEXT NOT NULL,
    queue TEXT NOT NULL,
    priority TEXT NOT NULL CHECK (priority IN ('P1','P2','P3','P4')),
    sla_due_ms INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('new','in_progress','resolved','closed','auto_closed')),
    assignee TEXT,
    combined_risk REAL NOT NULL,
    risk_explanation TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    first_alert_ms INTEGER NOT NULL,
    last_alert_ms INTEGER NOT NULL,
    dedup_key TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX tickets_dedup ON tickets (dedup_key, status);
CREATE INDEX tickets_queue ON tickets (queue, status);
CREATE INDEX tickets_assignee ON tickets (assignee);
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    uid TEXT NOT NULL UNIQUE,
    received_ms INTEGER NOT NULL,
    source TEXT NOT NULL,
    class_uid INTEGER NOT NULL,
    model_score REAL NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX alerts_ticket ON alerts (ticket_id);
CREATE TABLE enrichments (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    alert_uid TEXT,
    provider TEXT NOT NULL,
    outcome TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE INDEX enrichments_ticket ON enrichments (ticket_id);
CREATE TABLE comments (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    at_ms INTEGER NOT NULL,
    author TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX comments_ticket ON comments (ticket_id);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    before TEXT,
    after TEXT
);
CREATE INDEX audit_ticket ON audit_log (ticket_id);
CREATE TABLE dispositions (
    ticket_id INTEGER PRIMARY KEY REFERENCES tickets (id),
    disposition TEXT NOT NULL
        CHECK (disposition IN ('true_positive','benign_positive','false_positive')),
    reason TEXT NOT NULL,
    analyst TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE INDEX dispositions_at ON dispositions (at_ms);
",
    },
    Migration {
        version: 2,
        sql: "
CREATE TABLE actions (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('containment','notify')),
    target TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('pending_approval','approved','rejected','delivered','failed')),
    requested_by TEXT NOT NULL,
    requested_ms INTEGER NOT NULL,
    decided_by TEXT,
    decided_ms INTEGER,
    reason TEXT,
    result TEXT
);
CREATE INDEX actions_status ON actions (status);
CREATE INDEX actions_ticket ON actions (ticket_id);
",
    },
];

/// Actor recorded for changes made by the pipeline rather than an analyst.
pub const SYSTEM_ACTOR: &str = "system";

/// Default page size of [`CaseStore::list`].
pub const DEFAULT_LIST_LIMIT: u32 = 100;
/// Largest page size of [`CaseStore::list`].
pub const MAX_LIST_LIMIT: u32 = 1000;

/// Errors of the case store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaseError {
    /// Opening or migrating the file failed.
    #[error("case store: {0}")]
    Db(#[from] DbError),
    /// SQLite failed.
    #[error("case store: sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored JSON column could not be read or written.
    #[error("case store: json: {0}")]
    Json(#[from] serde_json::Error),
    /// No ticket with this id.
    #[error("ticket {0} not found")]
    NotFound(TicketId),
    /// The ticket changed since the caller read it.
    #[error(
        "ticket {ticket} was changed by someone else (you saw version {expected}, it is now at \
         version {found}); reload it and retry"
    )]
    VersionConflict {
        /// Ticket.
        ticket: TicketId,
        /// Version the caller saw.
        expected: i64,
        /// Version in the store.
        found: i64,
    },
    /// The action is not allowed in the ticket's current status.
    #[error("ticket {ticket}: cannot {action} a ticket in status {from}")]
    InvalidTransition {
        /// Ticket.
        ticket: TicketId,
        /// Current status.
        from: Status,
        /// What was attempted.
        action: String,
    },
    /// An input value is unusable (empty alert uid, NaN score, negative window, …).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// No action with this id.
    #[error("action {0} not found")]
    ActionNotFound(ActionId),
    /// The action is not allowed in the action's current status (deciding twice, recording a
    /// result of an action nobody approved, …).
    #[error("action {action}: cannot {attempted} an action in status {from}")]
    InvalidActionTransition {
        /// Action.
        action: ActionId,
        /// Its current status.
        from: ActionStatus,
        /// What was attempted.
        attempted: String,
    },
}

/// `as_str` / `parse` / `Display` for an enum stored as text: one table of variant ↔ spelling.
macro_rules! stored_names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The stored spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)+
                }
            }

            /// Parses the stored spelling (exactly).
            fn from_stored(s: &str) -> Option<Self> {
                match s {
                    $($name => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Ticket id (the `tickets.id` row id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TicketId(pub i64);

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Ticket priority; `P1` is the most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Priority {
    /// Most urgent.
    P1,
    /// High.
    P2,
    /// Medium.
    P3,
    /// Low.
    P4,
}

stored_names!(Priority { P1 => "P1", P2 => "P2", P3 => "P3", P4 => "P4" });

impl Priority {
    /// Parses `"P1"` … `"P4"` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Self::from_stored(&s.to_ascii_uppercase())
    }
}

/// Ticket status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not yet claimed.
    New,
    /// Claimed by an analyst.
    InProgress,
    /// An analyst recorded a disposition.
    Resolved,
    /// Closed for good.
    Closed,
    /// Closed by a playbook (risk below the auto-close threshold).
    AutoClosed,
}

stored_names!(Status {
    New => "new",
    InProgress => "in_progress",
    Resolved => "resolved",
    Closed => "closed",
    AutoClosed => "auto_closed",
});

impl Status {
    /// Parses the stored spelling: `new`, `in_progress`, `resolved`, `closed`, `auto_closed`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::from_stored(s)
    }

    /// Open tickets (`new`, `in_progress`) take new alerts and count in the queues.
    pub fn is_open(self) -> bool {
        matches!(self, Self::New | Self::InProgress)
    }
}

/// An analyst's verdict on a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Malicious activity.
    TruePositive,
    /// Real activity, but authorised or expected.
    BenignPositive,
    /// The detection was wrong.
    FalsePositive,
}

stored_names!(Disposition {
    TruePositive => "true_positive",
    BenignPositive => "benign_positive",
    FalsePositive => "false_positive",
});

impl Disposition {
    /// Parses the stored spelling: `true_positive`, `benign_positive`, `false_positive`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::from_stored(s)
    }
}

/// Action id (the `actions.id` row id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActionId(pub i64);

impl fmt::Display for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What kind of response action a playbook asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Changes something in the environment (isolate a host, disable an account, block an IP).
    Containment,
    /// Tells someone (page the on-call, message the user's manager).
    Notify,
}

stored_names!(ActionKind {
    Containment => "containment",
    Notify => "notify",
});

impl ActionKind {
    /// Parses the stored spelling: `containment`, `notify`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::from_stored(s)
    }
}

/// Where a response action is in its life (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Requested; waits for an analyst.
    PendingApproval,
    /// An analyst approved it; not yet carried out.
    Approved,
    /// An analyst rejected it (final).
    Rejected,
    /// The receiver confirmed it (final).
    Delivered,
    /// Delivery failed; may be retried.
    Failed,
}

stored_names!(ActionStatus {
    PendingApproval => "pending_approval",
    Approved => "approved",
    Rejected => "rejected",
    Delivered => "delivered",
    Failed => "failed",
});

impl ActionStatus {
    /// Parses the stored spelling: `pending_approval`, `approved`, `rejected`, `delivered`,
    /// `failed`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::from_stored(s)
    }
}

/// A response action to request ([`CaseStore::request_action`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAction {
    /// What to do (`isolate_host`, `disable_account`, `page_oncall`, …).
    pub name: String,
    /// Containment or notification.
    pub kind: ActionKind,
    /// What it acts on, e.g. `{"kind": "host", "key": "win-client-31"}`.
    pub target: Value,
    /// Parameters for the receiver.
    pub params: Value,
    /// Who asked (a playbook name, or an analyst).
    pub requested_by: String,
}

/// A stored response action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// Id.
    pub id: ActionId,
    /// The ticket it belongs to.
    pub ticket_id: TicketId,
    /// What to do.
    pub name: String,
    /// Containment or notification.
    pub kind: ActionKind,
    /// What it acts on.
    pub target: Value,
    /// Parameters for the receiver.
    pub params: Value,
    /// Where it is.
    pub status: ActionStatus,
    /// Who asked.
    pub requested_by: String,
    /// When asked (epoch ms).
    pub requested_ms: i64,
    /// The analyst who approved or rejected it.
    pub decided_by: Option<String>,
    /// When decided (epoch ms).
    pub decided_ms: Option<i64>,
    /// The analyst's reason (required to reject).
    pub reason: Option<String>,
    /// What the delivery reported.
    pub result: Option<Value>,
}

/// The route a playbook proposes for an alert: used when it opens a ticket, and to escalate
/// the open ticket it joins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Routing {
    /// Analyst queue.
    pub queue: String,
    /// Priority.
    pub priority: Priority,
    /// SLA: the ticket is due `sla_ms` after the alert was received.
    pub sla_ms: i64,
    /// Combined risk (finite, ≥ 0).
    pub combined_risk: f64,
    /// How the risk was computed: inputs and their contributions.
    pub risk_explanation: Value,
    /// Ticket title.
    pub title: String,
}

/// One enrichment outcome (success or failure) as a provider reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrichmentOutcome {
    /// Provider name (`intel`, `virustotal`, `assets`, …).
    pub provider: String,
    /// What it returned; failures too (`{"error": "timeout"}`), so the ticket says which
    /// enrichment failed.
    pub outcome: Value,
}

/// An alert to store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAlert {
    /// The OCSF event's `metadata.uid`; unique across the store.
    pub uid: String,
    /// Entity kind (`user`, `host`, `ip`, `cloud_principal`, …).
    pub entity_kind: String,
    /// Canonical entity key, as the normalizer produces it.
    pub entity_key: String,
    /// ATT&CK technique id (`T1071.001`) or empty.
    pub technique: String,
    /// Source (`zeek`, `suricata_eve`, …).
    pub source: String,
    /// OCSF `class_uid`.
    pub class_uid: i64,
    /// Model score (finite).
    pub model_score: f64,
    /// The alert (OCSF event) as JSON.
    pub payload: Value,
    /// When Shrike received it (epoch ms).
    pub received_ms: i64,
    /// Enrichment outcomes stored with the alert, in the same transaction.
    #[serde(default)]
    pub enrichments: Vec<EnrichmentOutcome>,
    /// Proposed route.
    pub proposed: Routing,
}

/// What [`CaseStore::ingest_alert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestResult {
    /// The ticket the alert belongs to.
    pub ticket_id: TicketId,
    /// A new ticket was opened.
    pub created: bool,
    /// The alert uid was already stored: nothing changed.
    pub duplicate_alert: bool,
    /// The alert joined an open ticket and raised its priority or risk.
    #[serde(default)]
    pub escalated: bool,
}

/// A ticket's own fields (what [`CaseStore::list`] returns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketSummary {
    /// Id.
    pub id: TicketId,
    /// Title.
    pub title: String,
    /// Entity kind.
    pub entity_kind: String,
    /// Canonical entity key.
    pub entity_key: String,
    /// ATT&CK technique id or empty.
    pub technique: String,
    /// Queue.
    pub queue: String,
    /// Priority.
    pub priority: Priority,
    /// SLA due time (epoch ms).
    pub sla_due_ms: i64,
    /// Status.
    pub status: Status,
    /// Assigned analyst.
    pub assignee: Option<String>,
    /// Combined risk.
    pub combined_risk: f64,
    /// How the risk was computed.
    pub risk_explanation: Value,
    /// Created (epoch ms, wall clock).
    pub created_ms: i64,
    /// Last change (epoch ms, wall clock).
    pub updated_ms: i64,
    /// Earliest `received_ms` of its alerts.
    pub first_alert_ms: i64,
    /// Latest `received_ms` of its alerts.
    pub last_alert_ms: i64,
    /// De-duplication key: JSON `[entity_kind, entity_key, technique]`.
    pub dedup_key: String,
    /// Optimistic-concurrency version.
    pub version: i64,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAlert {
    /// Row id.
    pub id: i64,
    /// OCSF `metadata.uid`.
    pub uid: String,
    /// Received (epoch ms).
    pub received_ms: i64,
    /// Source.
    pub source: String,
    /// OCSF `class_uid`.
    pub class_uid: i64,
    /// Model score.
    pub model_score: f64,
    /// The alert.
    pub payload: Value,
}

/// A stored enrichment outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEnrichment {
    /// Row id.
    pub id: i64,
    /// The alert it was computed for, if stored with one.
    pub alert_uid: Option<String>,
    /// Provider.
    pub provider: String,
    /// Outcome, failures included.
    pub outcome: Value,
    /// When stored (epoch ms).
    pub at_ms: i64,
}

/// An analyst comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// Row id.
    pub id: i64,
    /// When (epoch ms).
    pub at_ms: i64,
    /// Who.
    pub author: String,
    /// Text.
    pub body: String,
}

/// One audit-log row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Row id.
    pub id: i64,
    /// When (epoch ms).
    pub at_ms: i64,
    /// Who (`system` for the pipeline).
    pub actor: String,
    /// What (`created`, `alert_joined`, `escalated`, `enriched`, `claimed`, `commented`,
    /// `status_changed`, `dispositioned`, `route_overridden`, `risk_overridden`, `auto_closed`,
    /// `action_requested`, `action_approved`, `action_rejected`, `action_delivered`,
    /// `action_failed`, or a free [`CaseStore::note`] such as `delivered`).
    pub action: String,
    /// State before, if any.
    pub before: Option<Value>,
    /// State after, if any.
    pub after: Option<Value>,
}

/// A recorded disposition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispositionRecord {
    /// Verdict.
    pub disposition: Disposition,
    /// Why.
    pub reason: String,
    /// Who.
    pub analyst: String,
    /// When (epoch ms).
    pub at_ms: i64,
}

/// A ticket with everything attached to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// The ticket's own fields.
    #[serde(flatten)]
    pub summary: TicketSummary,
    /// Alerts, oldest first.
    pub alerts: Vec<StoredAlert>,
    /// Enrichment outcomes, in insertion order.
    pub enrichments: Vec<StoredEnrichment>,
    /// Comments, in insertion order.
    pub comments: Vec<Comment>,
    /// Audit log, in insertion order.
    pub audit: Vec<AuditEntry>,
    /// The disposition, once resolved.
    pub disposition: Option<DispositionRecord>,
    /// Response actions, in request order.
    #[serde(default)]
    pub actions: Vec<ActionRecord>,
}

/// Selection for [`CaseStore::list`]; all fields optional. Pages by ascending id: pass the last
/// id seen as `after_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Only this queue.
    pub queue: Option<String>,
    /// Only this status.
    pub status: Option<Status>,
    /// Only this assignee.
    pub assignee: Option<String>,
    /// Page size ([`DEFAULT_LIST_LIMIT`] if absent, at most [`MAX_LIST_LIMIT`]).
    pub limit: Option<u32>,
    /// Only tickets with a larger id.
    pub after_id: Option<TicketId>,
}

/// An alert of a dispositioned ticket, as feedback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackAlert {
    /// OCSF `metadata.uid`.
    pub uid: String,
    /// Source.
    pub source: String,
    /// OCSF `class_uid`.
    pub class_uid: i64,
    /// Model score at the time.
    pub model_score: f64,
    /// Received (epoch ms).
    pub received_ms: i64,
}

/// One labelled ticket: the disposition with what the model saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    /// Ticket.
    pub ticket_id: TicketId,
    /// Label.
    pub disposition: Disposition,
    /// Why.
    pub reason: String,
    /// Who.
    pub analyst: String,
    /// When (epoch ms).
    pub at_ms: i64,
    /// Entity kind.
    pub entity_kind: String,
    /// Entity key.
    pub entity_key: String,
    /// Technique or empty.
    pub technique: String,
    /// Queue at disposition time.
    pub queue: String,
    /// Combined risk at disposition time.
    pub combined_risk: f64,
    /// The ticket's alerts, oldest first.
    pub alerts: Vec<FeedbackAlert>,
}

/// The case store (one SQLite connection). Mutations take `&mut self`; share it behind a mutex
/// or open one store per thread (SQLite serialises writers; each mutation is one immediate
/// transaction).
#[derive(Debug)]
pub struct CaseStore {
    conn: Connection,
}

const TICKET_COLUMNS: &str = "id, title, entity_kind, entity_key, technique, queue, priority, \
     sla_due_ms, status, assignee, combined_risk, risk_explanation, created_ms, updated_ms, \
     first_alert_ms, last_alert_ms, dedup_key, version";

/// Row of [`TICKET_COLUMNS`] before JSON/enum decoding (decoding errors are ours, not SQLite's).
struct RawTicket {
    id: i64,
    title: String,
    entity_kind: String,
    entity_key: String,
    technique: String,
    queue: String,
    priority: String,
    sla_due_ms: i64,
    status: String,
    assignee: Option<String>,
    combined_risk: f64,
    risk_explanation: String,
    created_ms: i64,
    updated_ms: i64,
    first_alert_ms: i64,
    last_alert_ms: i64,
    dedup_key: String,
    version: i64,
}

impl RawTicket {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            title: r.get(1)?,
            entity_kind: r.get(2)?,
            entity_key: r.get(3)?,
            technique: r.get(4)?,
            queue: r.get(5)?,
            priority: r.get(6)?,
            sla_due_ms: r.get(7)?,
            status: r.get(8)?,
            assignee: r.get(9)?,
            combined_risk: r.get(10)?,
            risk_explanation: r.get(11)?,
            created_ms: r.get(12)?,
            updated_ms: r.get(13)?,
            first_alert_ms: r.get(14)?,
            last_alert_ms: r.get(15)?,
            dedup_key: r.get(16)?,
            version: r.get(17)?,
        })
    }

    fn decode(self) -> Result<TicketSummary, CaseError> {
        let priority = Priority::parse(&self.priority)
            .ok_or_else(|| CaseError::Invalid(format!("stored priority {:?}", self.priority)))?;
        let status = Status::parse(&self.status)
            .ok_or_else(|| CaseError::Invalid(format!("stored status {:?}", self.status)))?;
        Ok(TicketSummary {
            id: TicketId(self.id),
            title: self.title,
            entity_kind: self.entity_kind,
            entity_key: self.entity_key,
            technique: self.technique,
            queue: self.queue,
            priority,
            sla_due_ms: self.sla_due_ms,
            status,
            assignee: self.assignee,
            combined_risk: self.combined_risk,
            risk_explanation: serde_json::from_str(&self.risk_explanation)?,
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
            first_alert_ms: self.first_alert_ms,
            last_alert_ms: self.last_alert_ms,
            dedup_key: self.dedup_key,
            version: self.version,
        })
    }
}

fn load_summary(conn: &Connection, id: TicketId) -> Result<TicketSummary, CaseError> {
    let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = ?1");
    conn.query_row(&sql, params![id.0], RawTicket::from_row)
        .optional()?
        .ok_or(CaseError::NotFound(id))?
        .decode()
}

fn audit(
    tx: &Transaction<'_>,
    ticket: TicketId,
    at_ms: i64,
    actor: &str,
    action: &str,
    before: Option<&Value>,
    after: Option<&Value>,
) -> Result<i64, CaseError> {
    let before = before.map(serde_json::to_string).transpose()?;
    let after = after.map(serde_json::to_string).transpose()?;
    tx.execute(
        "INSERT INTO audit_log (ticket_id, at_ms, actor, action, before, after)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![ticket.0, at_ms, actor, action, before, after],
    )?;
    Ok(tx.last_insert_rowid())
}

fn dedup_key(kind: &str, key: &str, technique: &str) -> Result<String, CaseError> {
    Ok(serde_json::to_string(&[kind, key, technique])?)
}

fn check_finite(what: &str, x: f64) -> Result<(), CaseError> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(CaseError::Invalid(format!(
            "{what} must be a finite number"
        )))
    }
}

fn check_nonempty(what: &str, s: &str) -> Result<(), CaseError> {
    if s.trim().is_empty() {
        Err(CaseError::Invalid(format!("{what} must not be empty")))
    } else {
        Ok(())
    }
}

fn check_risk(risk: f64) -> Result<(), CaseError> {
    check_finite("combined risk", risk)?;
    if risk < 0.0 {
        return Err(CaseError::Invalid("combined risk must be ≥ 0".into()));
    }
    Ok(())
}

fn invalid(ticket: &TicketSummary, action: &str) -> CaseError {
    CaseError::InvalidTransition {
        ticket: ticket.id,
        from: ticket.status,
        action: action.to_owned(),
    }
}

fn route_state(t: &TicketSummary) -> Value {
    json!({ "queue": t.queue, "priority": t.priority, "sla_due_ms": t.sla_due_ms })
}

impl CaseStore {
    /// Opens (creating and migrating if needed) the case store at `path` (`:memory:` for an
    /// in-memory one).
    ///
    /// # Errors
    /// [`CaseError::Db`] if the file cannot be opened or migrated.
    pub fn open(path: &Path) -> Result<Self, CaseError> {
        Ok(Self {
            conn: db::open(path, "cases", MIGRATIONS)?,
        })
    }

    /// Stores one alert, de-duplicated into a ticket (see the module doc), with its enrichment
    /// outcomes, in one transaction. `dedup_window_ms` ≥ 0.
    ///
    /// # Errors
    /// [`CaseError::Invalid`] for an empty uid / entity, a non-finite score or risk, a negative
    /// SLA or window; SQLite errors.
    pub fn ingest_alert(
        &mut self,
        alert: &NewAlert,
        dedup_window_ms: i64,
    ) -> Result<IngestResult, CaseError> {
        check_nonempty("alert uid", &alert.uid)?;
        check_nonempty("entity kind", &alert.entity_kind)?;
        check_nonempty("entity key", &alert.entity_key)?;
        check_finite("model score", alert.model_score)?;
        check_risk(alert.proposed.combined_risk)?;
        if alert.proposed.sla_ms < 0 {
            return Err(CaseError::Invalid("SLA must be ≥ 0 ms".into()));
        }
        if dedup_window_ms < 0 {
            return Err(CaseError::Invalid(
                "de-duplication window must be ≥ 0 ms".into(),
            ));
        }
        let key = dedup_key(&alert.entity_kind, &alert.entity_key, &alert.technique)?;
        let payload = serde_json::to_string(&alert.payload)?;
        let explanation = serde_json::to_string(&alert.proposed.risk_explanation)?;
        let now = db::now_ms();
        let received = alert.received_ms;
        let sla_due = received.saturating_add(alert.proposed.sla_ms);

        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let existing: Option<i64> = tx
            .query_row(
                "SELECT ticket_id FROM alerts WHERE uid = ?1",
                params![alert.uid],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(t) = existing {
            return Ok(IngestResult {
                ticket_id: TicketId(t),
                created: false,
                duplicate_alert: true,
                escalated: false,
            });
        }

        // Open tickets with the same key whose window holds this alert; latest alert wins.
        let mut candidates: Vec<(i64, i64, i64)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id, first_alert_ms, last_alert_ms FROM tickets
                 WHERE dedup_key = ?1 AND status IN ('new', 'in_progress')",
            )?;
            let rows = stmt.query_map(params![key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        candidates.retain(|&(_, first, last)| {
            first.saturating_sub(dedup_window_ms) <= received
                && received <= last.saturating_add(dedup_window_ms)
        });
        let joined = candidates
            .iter()
            .max_by_key(|&&(id, _, last)| (last, id))
            .map(|&(id, _, _)| TicketId(id));

        let (ticket_id, created, escalated) = if let Some(tid) = joined {
            let t = load_summary(&tx, tid)?;
            let raise_priority = alert.proposed.priority < t.priority;
            let raise_risk = alert.proposed.combined_risk > t.combined_risk;
            let first = t.first_alert_ms.min(received);
            let last = t.last_alert_ms.max(received);
            if raise_priority || raise_risk {
                let priority = if raise_priority {
                    alert.proposed.priority
                } else {
                    t.priority
                };
                let sla = if raise_priority {
                    t.sla_due_ms.min(sla_due)
                } else {
                    t.sla_due_ms
                };
                let (risk, expl) = if raise_risk {
                    (alert.proposed.combined_risk, explanation.clone())
                } else {
                    (t.combined_risk, serde_json::to_string(&t.risk_explanation)?)
                };
                tx.execute(
                    "UPDATE tickets SET priority = ?2, sla_due_ms = ?3, combined_risk = ?4,
                        risk_explanation = ?5, first_alert_ms = ?6, last_alert_ms = ?7,
                        updated_ms = ?8, version = version + 1
                     WHERE id = ?1",
                    params![tid.0, priority.as_str(), sla, risk, expl, first, last, now],
                )?;
                audit(
                    &tx,
                    tid,
                    now,
                    SYSTEM_ACTOR,
                    "escalated",
                    Some(&json!({
                        "priority": t.priority, "sla_due_ms": t.sla_due_ms,
                        "combined_risk": t.combined_risk,
                    })),
                    Some(&json!({
                        "priority": priority, "sla_due_ms": sla, "combined_risk": risk,
                        "alert_uid": alert.uid,
                    })),
                )?;
            } else {
                tx.execute(
                    "UPDATE tickets SET first_alert_ms = ?2, last_alert_ms = ?3, updated_ms = ?4
                     WHERE id = ?1",
                    params![tid.0, first, last, now],
                )?;
            }
            audit(
                &tx,
                tid,
                now,
                SYSTEM_ACTOR,
                "alert_joined",
                None,
                Some(&json!({ "alert_uid": alert.uid, "received_ms": received })),
            )?;
            (tid, false, raise_priority || raise_risk)
        } else {
            let p = &alert.proposed;
            tx.execute(
                "INSERT INTO tickets (title, entity_kind, entity_key, technique, queue, priority,
                    sla_due_ms, status, assignee, combined_risk, risk_explanation, created_ms,
                    updated_ms, first_alert_ms, last_alert_ms, dedup_key, version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'new', NULL, ?8, ?9, ?10, ?10, ?11, ?11,
                    ?12, 1)",
                params![
                    p.title,
                    alert.entity_kind,
                    alert.entity_key,
                    alert.technique,
                    p.queue,
                    p.priority.as_str(),
                    sla_due,
                    p.combined_risk,
                    explanation,
                    now,
                    received,
                    key,
                ],
            )?;
            let tid = TicketId(tx.last_insert_rowid());
            audit(
                &tx,
                tid,
                now,
                SYSTEM_ACTOR,
                "created",
                None,
                Some(&json!({
                    "alert_uid": alert.uid, "queue": p.queue, "priority": p.priority,
                    "sla_due_ms": sla_due, "combined_risk": p.combined_risk, "status": Status::New,
                })),
            )?;
            (tid, true, false)
        };

        tx.execute(
            "INSERT INTO alerts (ticket_id, uid, received_ms, source, class_uid, model_score,
                payload)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                ticket_id.0,
                alert.uid,
                received,
                alert.source,
                alert.class_uid,
                alert.model_score,
                payload,
            ],
        )?;
        for e in &alert.enrichments {
            insert_enrichment(
                &tx,
                ticket_id,
                Some(&alert.uid),
                &e.provider,
                &e.outcome,
                now,
            )?;
        }
        tx.commit()?;
        Ok(IngestResult {
            ticket_id,
            created,
            duplicate_alert: false,
            escalated,
        })
    }

    /// Attaches an enrichment outcome (success or failure) to a ticket; audited. Returns the
    /// row id.
    ///
    /// # Errors
    /// [`CaseError::NotFound`]; [`CaseError::Invalid`] for an empty provider.
    pub fn add_enrichment(
        &mut self,
        ticket: TicketId,
        provider: &str,
        outcome: &Value,
    ) -> Result<i64, CaseError> {
        check_nonempty("provider", provider)?;
        let now = db::now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        load_summary(&tx, ticket)?;
        let id = insert_enrichment(&tx, ticket, None, provider, outcome, now)?;
        tx.commit()?;
        Ok(id)
    }

    /// Assigns the ticket to `analyst` (status `in_progress`) if it is still at
    /// `expected_version`. Allowed from `new` and `in_progress` (re-assignment). Returns the
    /// new version.
    ///
    /// # Errors
    /// [`CaseError::NotFound`], [`CaseError::VersionConflict`],
    /// [`CaseError::InvalidTransition`] (resolved, closed or auto-closed ticket), [`CaseError::Invalid`]
    /// (empty analyst).
    pub fn claim(
        &mut self,
        ticket: TicketId,
        analyst: &str,
        expected_version: i64,
    ) -> Result<i64, CaseError> {
        self.claim_for(ticket, analyst, analyst, expected_version)
    }

    /// [`Self::claim`] on behalf of someone else: assigns the ticket to `assignee`, and the
    /// audit log names `actor` (a lead handing out work).
    ///
    /// # Errors
    /// As [`Self::claim`]; [`CaseError::Invalid`] also for an empty actor.
    pub fn claim_for(
        &mut self,
        ticket: TicketId,
        assignee: &str,
        actor: &str,
        expected_version: i64,
    ) -> Result<i64, CaseError> {
        check_nonempty("analyst", assignee)?;
        check_nonempty("actor", actor)?;
        self.mutate(ticket, actor, Some(expected_version), |t| {
            if !t.status.is_open() {
                return Err(invalid(t, "claim"));
            }
            Ok(Change {
                action: "claimed",
                status: Some(Status::InProgress),
                assignee: Some(Some(assignee.to_owned())),
                ..Change::default()
            })
        })
    }

    /// Adds a comment (any status); audited. Returns the comment's row id.
    ///
    /// # Errors
    /// [`CaseError::NotFound`]; [`CaseError::Invalid`] for an empty author or body.
    pub fn comment(
        &mut self,
        ticket: TicketId,
        author: &str,
        body: &str,
    ) -> Result<i64, CaseError> {
        check_nonempty("author", author)?;
        check_nonempty("comment", body)?;
        let now = db::now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        load_summary(&tx, ticket)?;
        tx.execute(
            "INSERT INTO comments (ticket_id, at_ms, author, body) VALUES (?1, ?2, ?3, ?4)",
            params![ticket.0, now, author, body],
        )?;
        let id = tx.last_insert_rowid();
        audit(
            &tx,
            ticket,
            now,
            author,
            "commented",
            None,
            Some(&json!({ "comment_id": id, "body": body })),
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Moves the ticket to `status` (see the transition table in the module doc; `resolved`
    /// needs a [`Self::disposition`], `auto_closed` [`Self::auto_close`]). Releasing to `new`
    /// clears the assignee. Returns the new version.
    ///
    /// # Errors
    /// [`CaseError::NotFound`], [`CaseError::InvalidTransition`].
    pub fn set_status(
        &mut self,
        ticket: TicketId,
        status: Status,
        actor: &str,
    ) -> Result<i64, CaseError> {
        check_nonempty("actor", actor)?;
        self.mutate(ticket, actor, None, |t| {
            use Status::{AutoClosed, Closed, InProgress, New, Resolved};
            let ok = matches!(
                (t.status, status),
                (New, InProgress | Closed)
                    | (InProgress, New | Closed)
                    | (Resolved, Closed)
                    | (AutoClosed, Closed)
            );
            if !ok {
                return Err(invalid(t, &format!("set to {status}")));
            }
            Ok(Change {
                action: "status_changed",
                status: Some(status),
                assignee: (status == New).then_some(None),
                ..Change::default()
            })
        })
    }

    /// Records the analyst's verdict (the labelled feedback) and resolves the ticket. Allowed
    /// from `new`, `in_progress` and `auto_closed`. Returns the new version.
    ///
    /// # Errors
    /// [`CaseError::NotFound`], [`CaseError::InvalidTransition`] (already resolved or closed),
    /// [`CaseError::Invalid`] (empty analyst or reason).
    pub fn disposition(
        &mut self,
        ticket: TicketId,
        disposition: Disposition,
        reason: &str,
        analyst: &str,
    ) -> Result<i64, CaseError> {
        check_nonempty("analyst", analyst)?;
        check_nonempty("reason", reason)?;
        self.mutate(ticket, analyst, None, |t| {
            if !matches!(
                t.status,
                Status::New | Status::InProgress | Status::AutoClosed
            ) {
                return Err(invalid(t, "disposition"));
            }
            Ok(Change {
                action: "dispositioned",
                status: Some(Status::Resolved),
                disposition: Some((disposition, reason.to_owned())),
                ..Change::default()
            })
        })
    }

    /// Moves an open ticket to another queue and priority (the SLA due time is kept); audited
    /// with before/after and the reason. Returns the new version.
    ///
    /// # Errors
    /// [`CaseError::NotFound`], [`CaseError::InvalidTransition`] (not open),
    /// [`CaseError::Invalid`] (empty queue, analyst or reason).
    pub fn override_route(
        &mut self,
        ticket: TicketId,
        queue: &str,
        priority: Priority,
        analyst: &str,
        reason: &str,
    ) -> Result<i64, CaseError> {
        check_nonempty("queue", queue)?;
        check_nonempty("analyst", analyst)?;
        check_nonempty("reason", reason)?;
        self.mutate(ticket, analyst, None, |t| {
            if !t.status.is_open() {
                return Err(invalid(t, "override the route of"));
            }
            Ok(Change {
                action: "route_overridden",
                queue: Some(queue.to_owned()),
                priority: Some(priority),
                reason: Some(reason.to_owned()),
                ..Change::default()
            })
        })
    }

    /// Sets an open ticket's combined risk by hand; the explanation becomes
    /// `{"overridden_by", "reason", "previous_risk", "computed": <previous explanation>}`.
    /// Audited with before/after. Returns the new version.
    ///
    /// # Errors
    /// [`CaseError::NotFound`], [`CaseError::InvalidTransition`] (not open),
    /// [`CaseError::Invalid`] (risk not finite or negative, empty analyst or reason).
    pub fn override_risk(
        &mut self,
        ticket: TicketId,
        risk: f64,
        analyst: &str,
        reason: &str,
    ) -> Result<i64, CaseError> {
        check_risk(risk)?;
        check_nonempty("analyst", analyst)?;
        check_nonempty("reason", reason)?;
        self.mutate(ticket, analyst, None, |t| {
            if !t.status.is_open() {
                return Err(invalid(t, "override the risk of"));
            }
            Ok(Change {
                action: "risk_overridden",
                risk: Some((
                    risk,
                    json!({
                        "overridden_by": analyst, "reason": reason,
                        "previous_risk": t.combined_risk, "computed": t.risk_explanation,
                    }),
                )),
                reason: Some(reason.to_owned()),
                ..Change::default()
            })
        })
    }

    /// Closes a `new` ticket automatically (a playbook's auto-close threshold); actor
    /// [`SYSTEM_ACTOR`]. Returns the new version.
    ///
    /// # Errors
    /// [`CaseError::NotFound`], [`CaseError::InvalidTransition`] (not `new`: an analyst owns it
    /// or it is already done).
    pub fn auto_close(&mut self, ticket: TicketId, reason: &str) -> Result<i64, CaseError> {
        self.mutate(ticket, SYSTEM_ACTOR, None, |t| {
            if t.status != Status::New {
                return Err(invalid(t, "auto-close"));
            }
            Ok(Change {
                action: "auto_closed",
                status: Some(Status::AutoClosed),
                reason: Some(reason.to_owned()),
                ..Change::default()
            })
        })
    }

    /// Loads a ticket with its alerts, enrichments, comments, audit log and disposition.
    ///
    /// # Errors
    /// [`CaseError::NotFound`]; SQLite or stored-JSON errors.
    pub fn get(&self, ticket: TicketId) -> Result<Ticket, CaseError> {
        let summary = load_summary(&self.conn, ticket)?;
        let alerts = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, uid, received_ms, source, class_uid, model_score, payload
                 FROM alerts WHERE ticket_id = ?1 ORDER BY received_ms, id",
            )?;
            let rows = stmt.query_map(params![ticket.0], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, f64>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, uid, received_ms, source, class_uid, model_score, payload) = row?;
                out.push(StoredAlert {
                    id,
                    uid,
                    received_ms,
                    source,
                    class_uid,
                    model_score,
                    payload: serde_json::from_str(&payload)?,
                });
            }
            out
        };
        let enrichments = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, alert_uid, provider, outcome, at_ms
                 FROM enrichments WHERE ticket_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map(params![ticket.0], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, alert_uid, provider, outcome, at_ms) = row?;
                out.push(StoredEnrichment {
                    id,
                    alert_uid,
                    provider,
                    outcome: serde_json::from_str(&outcome)?,
                    at_ms,
                });
            }
            out
        };
        let comments = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, at_ms, author, body FROM comments WHERE ticket_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map(params![ticket.0], |r| {
                Ok(Comment {
                    id: r.get(0)?,
                    at_ms: r.get(1)?,
                    author: r.get(2)?,
                    body: r.get(3)?,
                })
            })?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        let audit = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, at_ms, actor, action, before, after
                 FROM audit_log WHERE ticket_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map(params![ticket.0], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, at_ms, actor, action, before, after) = row?;
                out.push(AuditEntry {
                    id,
                    at_ms,
                    actor,
                    action,
                    before: before.as_deref().map(serde_json::from_str).transpose()?,
                    after: after.as_deref().map(serde_json::from_str).transpose()?,
                });
            }
            out
        };
        let disposition = self
            .conn
            .query_row(
                "SELECT disposition, reason, analyst, at_ms FROM dispositions WHERE ticket_id = ?1",
                params![ticket.0],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                },
            )
            .optional()?
            .map(|(d, reason, analyst, at_ms)| {
                let disposition = Disposition::parse(&d)
                    .ok_or_else(|| CaseError::Invalid(format!("stored disposition {d:?}")))?;
                Ok::<_, CaseError>(DispositionRecord {
                    disposition,
                    reason,
                    analyst,
                    at_ms,
                })
            })
            .transpose()?;
        let actions = {
            let sql =
                format!("SELECT {ACTION_COLUMNS} FROM actions WHERE ticket_id = ?1 ORDER BY id");
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![ticket.0], RawAction::from_row)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(row?.decode()?);
            }
            out
        };
        Ok(Ticket {
            summary,
            alerts,
            enrichments,
            comments,
            audit,
            disposition,
            actions,
        })
    }

    /// Tickets matching `filter`, by ascending id.
    ///
    /// # Errors
    /// SQLite or stored-JSON errors.
    pub fn list(&self, filter: &Filter) -> Result<Vec<TicketSummary>, CaseError> {
        let limit = filter
            .limit
            .unwrap_or(DEFAULT_LIST_LIMIT)
            .min(MAX_LIST_LIMIT);
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets
             WHERE (?1 IS NULL OR queue = ?1) AND (?2 IS NULL OR status = ?2)
               AND (?3 IS NULL OR assignee = ?3) AND id > ?4
             ORDER BY id LIMIT ?5"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![
                filter.queue,
                filter.status.map(Status::as_str),
                filter.assignee,
                filter.after_id.map_or(i64::MIN, |t| t.0),
                i64::from(limit),
            ],
            RawTicket::from_row,
        )?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row?.decode()?);
        }
        Ok(out)
    }

    /// Every queue that has tickets, with its count of open (`new` + `in_progress`) tickets, by
    /// queue name.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn queues(&self) -> Result<Vec<(String, i64)>, CaseError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT queue, SUM(status IN ('new', 'in_progress')) FROM tickets
             GROUP BY queue ORDER BY queue",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Dispositions recorded at or after `since_ms`, oldest first, each with its ticket's
    /// alerts: the labelled feedback for retraining.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn feedback(&self, since_ms: i64) -> Result<Vec<Feedback>, CaseError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.ticket_id, d.disposition, d.reason, d.analyst, d.at_ms, t.entity_kind,
                    t.entity_key, t.technique, t.queue, t.combined_risk
             FROM dispositions d JOIN tickets t ON t.id = d.ticket_id
             WHERE d.at_ms >= ?1 ORDER BY d.at_ms, d.ticket_id",
        )?;
        let rows = stmt.query_map(params![since_ms], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, f64>(9)?,
            ))
        })?;
        let mut alerts_stmt = self.conn.prepare_cached(
            "SELECT uid, source, class_uid, model_score, received_ms FROM alerts
             WHERE ticket_id = ?1 ORDER BY received_ms, id",
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (tid, d, reason, analyst, at_ms, kind, key, technique, queue, risk) = row?;
            let disposition = Disposition::parse(&d)
                .ok_or_else(|| CaseError::Invalid(format!("stored disposition {d:?}")))?;
            let alerts = alerts_stmt
                .query_map(params![tid], |r| {
                    Ok(FeedbackAlert {
                        uid: r.get(0)?,
                        source: r.get(1)?,
                        class_uid: r.get(2)?,
                        model_score: r.get(3)?,
                        received_ms: r.get(4)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            out.push(Feedback {
                ticket_id: TicketId(tid),
                disposition,
                reason,
                analyst,
                at_ms,
                entity_kind: kind,
                entity_key: key,
                technique,
                queue,
                combined_risk: risk,
                alerts,
            });
        }
        Ok(out)
    }

    /// Applies one analyst/system change to a ticket in an immediate transaction: loads it,
    /// checks `expected_version`, asks `decide` for the change (or a refusal), writes it, bumps
    /// the version and audits before/after.
    fn mutate(
        &mut self,
        ticket: TicketId,
        actor: &str,
        expected_version: Option<i64>,
        decide: impl FnOnce(&TicketSummary) -> Result<Change, CaseError>,
    ) -> Result<i64, CaseError> {
        let now = db::now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let t = load_summary(&tx, ticket)?;
        if let Some(expected) = expected_version {
            if expected != t.version {
                return Err(CaseError::VersionConflict {
                    ticket,
                    expected,
                    found: t.version,
                });
            }
        }
        let change = decide(&t)?;
        let status = change.status.unwrap_or(t.status);
        let assignee = change
            .assignee
            .clone()
            .unwrap_or_else(|| t.assignee.clone());
        let queue = change.queue.clone().unwrap_or_else(|| t.queue.clone());
        let priority = change.priority.unwrap_or(t.priority);
        let (risk, explanation) = change
            .risk
            .clone()
            .unwrap_or_else(|| (t.combined_risk, t.risk_explanation.clone()));
        let version = t.version.saturating_add(1);
        tx.execute(
            "UPDATE tickets SET status = ?2, assignee = ?3, queue = ?4, priority = ?5,
                combined_risk = ?6, risk_explanation = ?7, updated_ms = ?8, version = ?9
             WHERE id = ?1",
            params![
                ticket.0,
                status.as_str(),
                assignee,
                queue,
                priority.as_str(),
                risk,
                serde_json::to_string(&explanation)?,
                now,
                version,
            ],
        )?;
        let mut before = json!({
            "status": t.status, "assignee": t.assignee, "version": t.version,
        });
        let mut after = json!({
            "status": status, "assignee": assignee, "version": version,
        });
        if change.queue.is_some() || change.priority.is_some() {
            merge(&mut before, route_state(&t));
            let mut a = route_state(&t);
            merge(&mut a, json!({ "queue": queue, "priority": priority }));
            merge(&mut after, a);
        }
        if change.risk.is_some() {
            merge(&mut before, json!({ "combined_risk": t.combined_risk }));
            merge(&mut after, json!({ "combined_risk": risk }));
        }
        if let Some(reason) = &change.reason {
            merge(&mut after, json!({ "reason": reason }));
        }
        if let Some((d, reason)) = &change.disposition {
            tx.execute(
                "INSERT INTO dispositions (ticket_id, disposition, reason, analyst, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (ticket_id) DO UPDATE SET disposition = excluded.disposition,
                    reason = excluded.reason, analyst = excluded.analyst, at_ms = excluded.at_ms",
                params![ticket.0, d.as_str(), reason, actor, now],
            )?;
            merge(&mut after, json!({ "disposition": d, "reason": reason }));
        }
        audit(
            &tx,
            ticket,
            now,
            actor,
            change.action,
            Some(&before),
            Some(&after),
        )?;
        tx.commit()?;
        Ok(version)
    }
}

/// What a [`CaseStore::mutate`] call changes (`None`: unchanged).
#[derive(Default)]
struct Change {
    action: &'static str,
    status: Option<Status>,
    assignee: Option<Option<String>>,
    queue: Option<String>,
    priority: Option<Priority>,
    risk: Option<(f64, Value)>,
    disposition: Option<(Disposition, String)>,
    reason: Option<String>,
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, from) {
        a.extend(b);
    }
}

fn insert_enrichment(
    tx: &Transaction<'_>,
    ticket: TicketId,
    alert_uid: Option<&str>,
    provider: &str,
    outcome: &Value,
    now: i64,
) -> Result<i64, CaseError> {
    tx.execute(
        "INSERT INTO enrichments (ticket_id, alert_uid, provider, outcome, at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            ticket.0,
            alert_uid,
            provider,
            serde_json::to_string(outcome)?,
            now
        ],
    )?;
    let id = tx.last_insert_rowid();
    // Outcomes carry `status` (ok / failed / skipped) or, from older callers, `error`.
    let status = outcome.get("status").and_then(Value::as_str).unwrap_or(
        if outcome.get("error").is_some() {
            "failed"
        } else {
            "ok"
        },
    );
    let ok = outcome.get("error").is_none() && status != "failed";
    audit(
        tx,
        ticket,
        now,
        SYSTEM_ACTOR,
        "enriched",
        None,
        Some(&json!({ "provider": provider, "alert_uid": alert_uid, "ok": ok, "status": status })),
    )?;
    Ok(id)
}

const ACTION_COLUMNS: &str = "id, ticket_id, name, kind, target, params, status, requested_by, \
     requested_ms, decided_by, decided_ms, reason, result";

/// Row of [`ACTION_COLUMNS`] before JSON/enum decoding.
struct RawAction {
    id: i64,
    ticket_id: i64,
    name: String,
    kind: String,
    target: String,
    params: String,
    status: String,
    requested_by: String,
    requested_ms: i64,
    decided_by: Option<String>,
    decided_ms: Option<i64>,
    reason: Option<String>,
    result: Option<String>,
}

impl RawAction {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            ticket_id: r.get(1)?,
            name: r.get(2)?,
            kind: r.get(3)?,
            target: r.get(4)?,
            params: r.get(5)?,
            status: r.get(6)?,
            requested_by: r.get(7)?,
            requested_ms: r.get(8)?,
            decided_by: r.get(9)?,
            decided_ms: r.get(10)?,
            reason: r.get(11)?,
            result: r.get(12)?,
        })
    }

    fn decode(self) -> Result<ActionRecord, CaseError> {
        let kind = ActionKind::parse(&self.kind)
            .ok_or_else(|| CaseError::Invalid(format!("stored action kind {:?}", self.kind)))?;
        let status = ActionStatus::parse(&self.status)
            .ok_or_else(|| CaseError::Invalid(format!("stored action status {:?}", self.status)))?;
        Ok(ActionRecord {
            id: ActionId(self.id),
            ticket_id: TicketId(self.ticket_id),
            name: self.name,
            kind,
            target: serde_json::from_str(&self.target)?,
            params: serde_json::from_str(&self.params)?,
            status,
            requested_by: self.requested_by,
            requested_ms: self.requested_ms,
            decided_by: self.decided_by,
            decided_ms: self.decided_ms,
            reason: self.reason,
            result: self
                .result
                .as_deref()
                .map(serde_json::from_str)
                .transpose()?,
        })
    }
}

fn load_action(conn: &Connection, id: ActionId) -> Result<ActionRecord, CaseError> {
    let sql = format!("SELECT {ACTION_COLUMNS} FROM actions WHERE id = ?1");
    conn.query_row(&sql, params![id.0], RawAction::from_row)
        .optional()?
        .ok_or(CaseError::ActionNotFound(id))?
        .decode()
}

/// The part of an action the audit log shows (not its params or result, which may be large).
fn action_state(a: &ActionRecord) -> Value {
    json!({
        "action_id": a.id, "name": a.name, "kind": a.kind, "target": a.target,
        "status": a.status,
    })
}

/// Response actions and free audit notes.
impl CaseStore {
    /// Asks for a response action on a ticket (status `pending_approval`; audited
    /// `action_requested`). Idempotent while one is pending: asking again for the same
    /// `(ticket, name, target)` returns the pending action's id and changes nothing, so a
    /// playbook re-run (or a replayed alert) does not queue the same containment twice.
    ///
    /// # Errors
    /// [`CaseError::NotFound`]; [`CaseError::Invalid`] for an empty name or requester.
    pub fn request_action(
        &mut self,
        ticket: TicketId,
        action: &NewAction,
    ) -> Result<ActionId, CaseError> {
        check_nonempty("action name", &action.name)?;
        check_nonempty("requested_by", &action.requested_by)?;
        let now = db::now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        load_summary(&tx, ticket)?;
        // Compare targets as JSON values, not text: key order must not make a duplicate.
        let pending: Vec<(i64, String)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id, target FROM actions
                 WHERE ticket_id = ?1 AND name = ?2 AND status = 'pending_approval'
                 ORDER BY id",
            )?;
            let rows = stmt.query_map(params![ticket.0, action.name], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        for (id, target) in pending {
            if serde_json::from_str::<Value>(&target)? == action.target {
                return Ok(ActionId(id));
            }
        }
        tx.execute(
            "INSERT INTO actions (ticket_id, name, kind, target, params, status, requested_by,
                requested_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending_approval', ?6, ?7)",
            params![
                ticket.0,
                action.name,
                action.kind.as_str(),
                serde_json::to_string(&action.target)?,
                serde_json::to_string(&action.params)?,
                action.requested_by,
                now,
            ],
        )?;
        let id = ActionId(tx.last_insert_rowid());
        audit(
            &tx,
            ticket,
            now,
            &action.requested_by,
            "action_requested",
            None,
            Some(&json!({
                "action_id": id, "name": action.name, "kind": action.kind,
                "target": action.target, "params": action.params,
                "status": ActionStatus::PendingApproval,
            })),
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// An analyst approves or rejects a pending action (audited `action_approved` /
    /// `action_rejected` on its ticket, with the reason). Rejecting needs a reason. Returns the
    /// updated action.
    ///
    /// # Errors
    /// [`CaseError::ActionNotFound`]; [`CaseError::InvalidActionTransition`] (not pending:
    /// decided already); [`CaseError::Invalid`] (empty analyst, or a rejection without a
    /// reason).
    pub fn decide_action(
        &mut self,
        action: ActionId,
        approve: bool,
        analyst: &str,
        reason: &str,
    ) -> Result<ActionRecord, CaseError> {
        check_nonempty("analyst", analyst)?;
        if !approve {
            check_nonempty("reason (required to reject an action)", reason)?;
        }
        let (status, verb) = if approve {
            (ActionStatus::Approved, "approve")
        } else {
            (ActionStatus::Rejected, "reject")
        };
        self.move_action(
            action,
            analyst,
            verb,
            &[ActionStatus::PendingApproval],
            |tx, a, now| {
                let reason = (!reason.trim().is_empty()).then_some(reason);
                tx.execute(
                    "UPDATE actions SET status = ?2, decided_by = ?3, decided_ms = ?4, reason = ?5
                 WHERE id = ?1",
                    params![a.id.0, status.as_str(), analyst, now, reason],
                )?;
                let action = if approve {
                    "action_approved"
                } else {
                    "action_rejected"
                };
                Ok((action, json!({ "status": status, "reason": reason })))
            },
        )
    }

    /// Records what carrying out an approved action gave: `delivered` or `failed` (audited
    /// `action_delivered` / `action_failed`, with the result). A failed action may be recorded
    /// again (a retry). Returns the updated action.
    ///
    /// # Errors
    /// [`CaseError::ActionNotFound`]; [`CaseError::InvalidActionTransition`] (not approved or
    /// failed: nobody approved it, or it was delivered already).
    pub fn record_action_result(
        &mut self,
        action: ActionId,
        delivered: bool,
        result: &Value,
    ) -> Result<ActionRecord, CaseError> {
        let status = if delivered {
            ActionStatus::Delivered
        } else {
            ActionStatus::Failed
        };
        let from = [ActionStatus::Approved, ActionStatus::Failed];
        self.move_action(
            action,
            SYSTEM_ACTOR,
            "record a result of",
            &from,
            |tx, a, _| {
                tx.execute(
                    "UPDATE actions SET status = ?2, result = ?3 WHERE id = ?1",
                    params![a.id.0, status.as_str(), serde_json::to_string(result)?],
                )?;
                let action = if delivered {
                    "action_delivered"
                } else {
                    "action_failed"
                };
                Ok((action, json!({ "status": status, "result": result })))
            },
        )
    }

    /// One action.
    ///
    /// # Errors
    /// [`CaseError::ActionNotFound`]; SQLite or stored-JSON errors.
    pub fn action(&self, action: ActionId) -> Result<ActionRecord, CaseError> {
        load_action(&self.conn, action)
    }

    /// Actions in `status` (all when `None`), oldest first, at most `limit` (capped at
    /// [`MAX_LIST_LIMIT`]).
    ///
    /// # Errors
    /// SQLite or stored-JSON errors.
    pub fn actions(
        &self,
        status: Option<ActionStatus>,
        limit: u32,
    ) -> Result<Vec<ActionRecord>, CaseError> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions WHERE (?1 IS NULL OR status = ?1)
             ORDER BY id LIMIT ?2"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![
                status.map(ActionStatus::as_str),
                i64::from(limit.min(MAX_LIST_LIMIT))
            ],
            RawAction::from_row,
        )?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row?.decode()?);
        }
        Ok(out)
    }

    /// Actions waiting for an analyst, oldest first (see [`Self::actions`]).
    ///
    /// # Errors
    /// SQLite or stored-JSON errors.
    pub fn pending_actions(&self, limit: u32) -> Result<Vec<ActionRecord>, CaseError> {
        self.actions(Some(ActionStatus::PendingApproval), limit)
    }

    /// Appends a free audit row to a ticket (e.g. `delivered` for an outbound delivery report),
    /// with `after` as its state. Changes nothing else. Returns the audit row id.
    ///
    /// # Errors
    /// [`CaseError::NotFound`]; [`CaseError::Invalid`] for an empty actor or action.
    pub fn note(
        &mut self,
        ticket: TicketId,
        actor: &str,
        action: &str,
        after: &Value,
    ) -> Result<i64, CaseError> {
        check_nonempty("actor", actor)?;
        check_nonempty("audit action", action)?;
        let now = db::now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        load_summary(&tx, ticket)?;
        let id = audit(&tx, ticket, now, actor, action, None, Some(after))?;
        tx.commit()?;
        Ok(id)
    }

    /// Moves an action out of one of the `from` statuses in an immediate transaction: `write`
    /// updates the row and names the audit action and its `after` state; the ticket's audit log
    /// gets before/after.
    fn move_action(
        &mut self,
        action: ActionId,
        actor: &str,
        verb: &str,
        from: &[ActionStatus],
        write: impl FnOnce(
            &Transaction<'_>,
            &ActionRecord,
            i64,
        ) -> Result<(&'static str, Value), CaseError>,
    ) -> Result<ActionRecord, CaseError> {
        let now = db::now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let a = load_action(&tx, action)?;
        if !from.contains(&a.status) {
            return Err(CaseError::InvalidActionTransition {
                action,
                from: a.status,
                attempted: verb.to_owned(),
            });
        }
        let (audit_action, extra) = write(&tx, &a, now)?;
        let before = action_state(&a);
        let mut after = action_state(&a);
        merge(&mut after, extra);
        audit(
            &tx,
            a.ticket_id,
            now,
            actor,
            audit_action,
            Some(&before),
            Some(&after),
        )?;
        let updated = load_action(&tx, action)?;
        tx.commit()?;
        Ok(updated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type R = Result<(), Box<dyn std::error::Error>>;

    fn alert(uid: &str, key: &str) -> NewAlert {
        NewAlert {
            uid: uid.into(),
            entity_kind: "host".into(),
            entity_key: key.into(),
            technique: "T1059.001".into(),
            source: "evtx".into(),
            class_uid: 1007,
            model_score: 0.8,
            payload: json!({ "metadata": { "uid": uid } }),
            received_ms: 1_000,
            enrichments: vec![],
            proposed: Routing {
                queue: "endpoint".into(),
                priority: Priority::P2,
                sla_ms: 3_600_000,
                combined_risk: 70.0,
                risk_explanation: json!({ "model_score": 0.8 }),
                title: format!("PowerShell on {key}"),
            },
        }
    }

    fn isolate(key: &str) -> NewAction {
        NewAction {
            name: "isolate_host".into(),
            kind: ActionKind::Containment,
            target: json!({ "kind": "host", "key": key }),
            params: json!({ "duration_mins": 60 }),
            requested_by: "playbook:endpoint-alert".into(),
        }
    }

    fn audit_actions(s: &CaseStore, t: TicketId) -> Vec<String> {
        s.get(t)
            .map(|t| t.audit.into_iter().map(|a| a.action).collect())
            .unwrap_or_default()
    }

    #[test]
    fn stored_names_round_trip() {
        for k in [ActionKind::Containment, ActionKind::Notify] {
            assert_eq!(ActionKind::parse(k.as_str()), Some(k));
        }
        for st in [
            ActionStatus::PendingApproval,
            ActionStatus::Approved,
            ActionStatus::Rejected,
            ActionStatus::Delivered,
            ActionStatus::Failed,
        ] {
            assert_eq!(ActionStatus::parse(st.as_str()), Some(st));
            assert_eq!(
                serde_json::to_value(st).ok(),
                Some(Value::String(st.as_str().into()))
            );
        }
        assert_eq!(ActionStatus::parse("Approved"), None);
    }

    #[test]
    fn request_is_idempotent_while_pending_and_audited() -> R {
        let mut s = CaseStore::open(Path::new(":memory:"))?;
        let t = s.ingest_alert(&alert("a1", "win-client-31"), 0)?.ticket_id;
        let a = s.request_action(t, &isolate("win-client-31"))?;
        // Same target, keys in another order: still the same pending action.
        let mut again = isolate("win-client-31");
        again.target = serde_json::from_str(r#"{"key":"win-client-31","kind":"host"}"#)?;
        assert_eq!(s.request_action(t, &again)?, a);
        // Another target or another name is another action.
        let b = s.request_action(t, &isolate("win-client-32"))?;
        assert_ne!(a, b);
        let mut page = isolate("win-client-31");
        page.name = "page_oncall".into();
        page.kind = ActionKind::Notify;
        let c = s.request_action(t, &page)?;
        assert_ne!(c, a);
        let got = s.action(a)?;
        assert_eq!(got.status, ActionStatus::PendingApproval);
        assert_eq!(got.ticket_id, t);
        assert_eq!(got.kind, ActionKind::Containment);
        assert_eq!(
            got.target,
            json!({ "kind": "host", "key": "win-client-31" })
        );
        assert_eq!(got.params, json!({ "duration_mins": 60 }));
        assert_eq!(got.requested_by, "playbook:endpoint-alert");
        assert_eq!(got.decided_by, None);
        assert_eq!(got.result, None);
        assert_eq!(
            s.pending_actions(100)?
                .iter()
                .map(|a| a.id)
                .collect::<Vec<_>>(),
            [a, b, c]
        );
        assert_eq!(s.pending_actions(2)?.len(), 2);
        let ticket = s.get(t)?;
        assert_eq!(ticket.actions.len(), 3);
        let requested: Vec<_> = ticket
            .audit
            .iter()
            .filter(|e| e.action == "action_requested")
            .collect();
        assert_eq!(requested.len(), 3);
        assert_eq!(requested[0].actor, "playbook:endpoint-alert");
        assert_eq!(
            requested[0].after.as_ref().map(|v| v["action_id"].clone()),
            Some(json!(a.0))
        );
        // Once decided, the same request opens a new pending action.
        s.decide_action(a, false, "alice", "host is a honeypot")?;
        let d = s.request_action(t, &isolate("win-client-31"))?;
        assert_ne!(d, a);
        Ok(())
    }

    #[test]
    fn request_checks_ticket_and_inputs() -> R {
        let mut s = CaseStore::open(Path::new(":memory:"))?;
        assert!(matches!(
            s.request_action(TicketId(42), &isolate("h")),
            Err(CaseError::NotFound(TicketId(42)))
        ));
        let t = s.ingest_alert(&alert("a1", "h"), 0)?.ticket_id;
        let mut bad = isolate("h");
        bad.name = " ".into();
        assert!(matches!(
            s.request_action(t, &bad),
            Err(CaseError::Invalid(_))
        ));
        let mut bad = isolate("h");
        bad.requested_by = String::new();
        assert!(matches!(
            s.request_action(t, &bad),
            Err(CaseError::Invalid(_))
        ));
        assert!(s.get(t)?.actions.is_empty());
        Ok(())
    }

    #[test]
    fn status_machine_approve_deliver_reject() -> R {
        let mut s = CaseStore::open(Path::new(":memory:"))?;
        let t = s.ingest_alert(&alert("a1", "h1"), 0)?.ticket_id;
        let version = s.get(t)?.summary.version;
        let a = s.request_action(t, &isolate("h1"))?;
        // Nothing to deliver before approval.
        assert!(matches!(
            s.record_action_result(a, true, &json!({})),
            Err(CaseError::InvalidActionTransition {
                from: ActionStatus::PendingApproval,
                ..
            })
        ));
        // Rejecting needs a reason; the failed attempt changes nothing.
        assert!(matches!(
            s.decide_action(a, false, "alice", "  "),
            Err(CaseError::Invalid(_))
        ));
        assert!(matches!(
            s.decide_action(a, true, "", "ok"),
            Err(CaseError::Invalid(_))
        ));
        assert_eq!(s.action(a)?.status, ActionStatus::PendingApproval);
        // Approving does not need one.
        let approved = s.decide_action(a, true, "alice", "")?;
        assert_eq!(approved.status, ActionStatus::Approved);
        assert_eq!(approved.decided_by.as_deref(), Some("alice"));
        assert!(approved.decided_ms.is_some());
        assert_eq!(approved.reason, None);
        assert!(s.pending_actions(10)?.is_empty());
        // Deciding twice is refused.
        assert!(matches!(
            s.decide_action(a, false, "bob", "changed my mind"),
            Err(CaseError::InvalidActionTransition {
                from: ActionStatus::Approved,
                ..
            })
        ));
        // Failed, then a retry that succeeds; delivered is final.
        let failed = s.record_action_result(a, false, &json!({ "error": "edr timeout" }))?;
        assert_eq!(failed.status, ActionStatus::Failed);
        assert_eq!(failed.result, Some(json!({ "error": "edr timeout" })));
        let done = s.record_action_result(a, true, &json!({ "edr_job": "j-1" }))?;
        assert_eq!(done.status, ActionStatus::Delivered);
        assert_eq!(done.result, Some(json!({ "edr_job": "j-1" })));
        assert!(matches!(
            s.record_action_result(a, true, &json!({})),
            Err(CaseError::InvalidActionTransition {
                from: ActionStatus::Delivered,
                ..
            })
        ));
        // Rejected is final too.
        let b = s.request_action(t, &isolate("h2"))?;
        let rejected = s.decide_action(b, false, "bob", "business-critical server")?;
        assert_eq!(rejected.status, ActionStatus::Rejected);
        assert_eq!(rejected.reason.as_deref(), Some("business-critical server"));
        for approve in [true, false] {
            assert!(matches!(
                s.decide_action(b, approve, "bob", "x"),
                Err(CaseError::InvalidActionTransition { .. })
            ));
        }
        assert!(matches!(
            s.record_action_result(b, true, &json!({})),
            Err(CaseError::InvalidActionTransition { .. })
        ));
        assert!(matches!(
            s.decide_action(ActionId(999), true, "bob", ""),
            Err(CaseError::ActionNotFound(ActionId(999)))
        ));
        // The audit trail, in order, with who and before/after.
        let ticket = s.get(t)?;
        let trail: Vec<(&str, &str)> = ticket
            .audit
            .iter()
            .filter(|e| e.action.starts_with("action_"))
            .map(|e| (e.action.as_str(), e.actor.as_str()))
            .collect();
        assert_eq!(
            trail,
            [
                ("action_requested", "playbook:endpoint-alert"),
                ("action_approved", "alice"),
                ("action_failed", SYSTEM_ACTOR),
                ("action_delivered", SYSTEM_ACTOR),
                ("action_requested", "playbook:endpoint-alert"),
                ("action_rejected", "bob"),
            ]
        );
        let approved_row = ticket
            .audit
            .iter()
            .find(|e| e.action == "action_approved")
            .ok_or("approved row")?;
        assert_eq!(
            approved_row.before.as_ref().map(|v| v["status"].clone()),
            Some(json!("pending_approval"))
        );
        assert_eq!(
            approved_row.after.as_ref().map(|v| v["status"].clone()),
            Some(json!("approved"))
        );
        let rejected_row = ticket
            .audit
            .iter()
            .find(|e| e.action == "action_rejected")
            .ok_or("rejected row")?;
        assert_eq!(
            rejected_row.after.as_ref().map(|v| v["reason"].clone()),
            Some(json!("business-critical server"))
        );
        // Actions are not ticket fields: the ticket's version is untouched.
        assert_eq!(ticket.summary.version, version);
        assert_eq!(
            ticket.actions.iter().map(|a| a.status).collect::<Vec<_>>(),
            [ActionStatus::Delivered, ActionStatus::Rejected]
        );
        assert_eq!(
            s.actions(Some(ActionStatus::Rejected), 10)?
                .iter()
                .map(|a| a.id)
                .collect::<Vec<_>>(),
            [b]
        );
        assert_eq!(s.actions(None, 10)?.len(), 2);
        Ok(())
    }

    #[test]
    fn verdicts_and_overrides_need_a_reason() -> R {
        let mut s = CaseStore::open(Path::new(":memory:"))?;
        let t = s.ingest_alert(&alert("a1", "h1"), 0)?.ticket_id;
        let before = s.get(t)?;
        assert!(matches!(
            s.disposition(t, Disposition::FalsePositive, " ", "alice"),
            Err(CaseError::Invalid(_))
        ));
        assert!(matches!(
            s.override_route(t, "tier2", Priority::P1, "alice", ""),
            Err(CaseError::Invalid(_))
        ));
        assert!(matches!(
            s.override_risk(t, 10.0, "alice", ""),
            Err(CaseError::Invalid(_))
        ));
        assert_eq!(s.get(t)?, before);
        Ok(())
    }

    #[test]
    fn claim_for_someone_else_audits_who_did_it() -> R {
        let mut s = CaseStore::open(Path::new(":memory:"))?;
        let t = s.ingest_alert(&alert("a1", "h1"), 0)?.ticket_id;
        assert_eq!(s.claim_for(t, "carol", "lead", 1)?, 2);
        let ticket = s.get(t)?;
        assert_eq!(ticket.summary.assignee.as_deref(), Some("carol"));
        let last = ticket.audit.last().ok_or("audit row")?;
        assert_eq!(
            (last.action.as_str(), last.actor.as_str()),
            ("claimed", "lead")
        );
        assert_eq!(
            last.after.as_ref().map(|v| v["assignee"].clone()),
            Some(json!("carol"))
        );
        assert!(matches!(
            s.claim_for(t, "carol", "", 2),
            Err(CaseError::Invalid(_))
        ));
        assert!(matches!(
            s.claim_for(t, "dave", "lead", 1),
            Err(CaseError::VersionConflict { found: 2, .. })
        ));
        Ok(())
    }

    #[test]
    fn note_appends_a_free_audit_row() -> R {
        let mut s = CaseStore::open(Path::new(":memory:"))?;
        let t = s.ingest_alert(&alert("a1", "h1"), 0)?.ticket_id;
        let before = s.get(t)?;
        let after = json!({ "target": "xsoar", "event": "ticket_created", "http_status": 201 });
        let id = s.note(t, "outbound:xsoar", "delivered", &after)?;
        let ticket = s.get(t)?;
        let last = ticket.audit.last().ok_or("audit row")?;
        assert_eq!(last.id, id);
        assert_eq!(last.actor, "outbound:xsoar");
        assert_eq!(last.action, "delivered");
        assert_eq!(last.before, None);
        assert_eq!(last.after, Some(after));
        assert_eq!(ticket.summary, before.summary);
        assert!(matches!(
            s.note(TicketId(9), "x", "delivered", &json!({})),
            Err(CaseError::NotFound(TicketId(9)))
        ));
        assert!(matches!(
            s.note(t, "x", "", &json!({})),
            Err(CaseError::Invalid(_))
        ));
        assert_eq!(audit_actions(&s, t).len(), before.audit.len() + 1);
        Ok(())
    }

    #[test]
    fn actions_survive_a_restart_and_v1_files_migrate() -> R {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("cases.db");
        // A file written before actions existed.
        let old_ticket = {
            let conn = db::open(&path, "cases", &MIGRATIONS[..1])?;
            let mut s = CaseStore { conn };
            s.ingest_alert(&alert("old", "h0"), 0)?.ticket_id
        };
        let (t, a, b) = {
            let mut s = CaseStore::open(&path)?;
            assert!(s.get(old_ticket)?.actions.is_empty());
            let t = s.ingest_alert(&alert("a1", "h1"), 0)?.ticket_id;
            let a = s.request_action(t, &isolate("h1"))?;
            let b = s.request_action(t, &isolate("h2"))?;
            s.decide_action(a, true, "alice", "confirmed C2")?;
            s.note(t, "outbound:webhook", "delivered", &json!({ "ok": true }))?;
            (t, a, b)
        };
        let mut s = CaseStore::open(&path)?;
        let ticket = s.get(t)?;
        assert_eq!(ticket.actions.len(), 2);
        assert_eq!(ticket.actions[0].id, a);
        assert_eq!(ticket.actions[0].status, ActionStatus::Approved);
        assert_eq!(ticket.actions[0].reason.as_deref(), Some("confirmed C2"));
        assert_eq!(
            s.pending_actions(10)?
                .iter()
                .map(|a| a.id)
                .collect::<Vec<_>>(),
            [b]
        );
        assert_eq!(
            ticket.audit.last().map(|e| e.action.as_str()),
            Some("delivered")
        );
        // Idempotency holds across the restart too.
        assert_eq!(s.request_action(t, &isolate("h2"))?, b);
        Ok(())
    }
}

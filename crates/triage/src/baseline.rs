//! Behavioural baselines: how often a subject was seen with an object, persisted in SQLite.
//!
//! [`Baseline`] counts observations of pairs `(kind, subject, object)` ([`BaselineKind`]: host →
//! destination, user → API call, user → host) and answers whether a pair is new and how rare it
//! is. Subjects and objects are taken as given: callers pass the canonical entity keys of
//! `shrike-normalize` (`ws01`, `alice@corp`, `aws:123456789012:role/admin`, `192.0.2.10`), and
//! API calls as `<service>:<action>` (e.g. `iam:CreateAccessKey`).
//!
//! # Rarity
//!
//! Both are computed from the history *before* the event, so [`Baseline::lookup`] of a pair
//! and the next [`Baseline::observe`] of it return the same values.
//!
//! - [`Observation::rarity`] (per subject): `1 − n(s, o) / n(s, *)`, where `n(s, o)` counts
//!   the subject's earlier events with this object and `n(s, *)` all its earlier events; 1.0
//!   when the pair was never seen (which covers a new subject). A host that sent 9 of its 10
//!   connections to one resolver and 1 to a rare IP gives 0.1 for the resolver and 0.9 for the
//!   rare IP.
//! - [`Observation::global_rarity`] (across subjects of the kind): `1 − d(o) / d(*)`, where
//!   `d(o)` is the number of distinct subjects that have seen the object and `d(*)` the number
//!   of distinct subjects of the kind; 1.0 when no subject has seen it. A domain every host
//!   visits scores 0; one visited by a single host in a fleet of 100 scores 0.99.
//!
//! # Restart safety
//!
//! Every event is applied at most once. Its identity is `(kind, subject, object, t_ms,
//! event_id)`, where `event_id` ([`Event::event_id`]) is optional (empty when absent): a
//! replay of the same events after a crash is recognised and not counted again, and returns
//! the [`Observation`] the first application returned ([`Status::Replayed`]). Without an event
//! id, two genuine events of the same pair in the same millisecond count once; pass the
//! producer's event id (e.g. the OCSF `metadata.uid`) to count them separately. The applied
//! events are kept (one small row each) until pruned. [`Baseline::observe_many`] applies a
//! batch in one transaction: all of it or nothing.
//!
//! # Pruning
//!
//! [`Baseline::prune_older_than`] forgets pairs not seen since `t` (a pair still active keeps
//! its whole count), recomputes the per-subject, per-object and per-kind totals from what
//! remains, and drops the applied-event records older than `t`. Events older than the latest
//! prune horizon can no longer be told apart from replays, so they are refused
//! ([`Status::TooOld`]) rather than risk double counting.
//!
//! Out-of-order events are fine: `first_seen_ms` is the earliest event time of the pair, and
//! [`Observation::is_first_seen`] means "first in processing order".

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use crate::db::{self, DbError, Migration};

/// The store name in `schema_migrations`.
pub const STORE: &str = "baseline";

/// Schema versions of the baseline store.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    sql: "
CREATE TABLE baseline_pair (
    kind TEXT NOT NULL, subject TEXT NOT NULL, object TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (kind, subject, object)) WITHOUT ROWID;
CREATE INDEX baseline_pair_last_seen ON baseline_pair (last_seen_ms);
CREATE TABLE baseline_subject (
    kind TEXT NOT NULL, subject TEXT NOT NULL,
    total INTEGER NOT NULL, distinct_objects INTEGER NOT NULL,
    PRIMARY KEY (kind, subject)) WITHOUT ROWID;
CREATE TABLE baseline_object (
    kind TEXT NOT NULL, object TEXT NOT NULL, distinct_subjects INTEGER NOT NULL,
    PRIMARY KEY (kind, object)) WITHOUT ROWID;
CREATE TABLE baseline_kind (
    kind TEXT NOT NULL PRIMARY KEY, distinct_subjects INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE baseline_applied (
    kind TEXT NOT NULL, subject TEXT NOT NULL, object TEXT NOT NULL, t_ms INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    first_seen INTEGER NOT NULL, rarity REAL NOT NULL, global_rarity REAL NOT NULL,
    PRIMARY KEY (kind, subject, object, t_ms, event_id)) WITHOUT ROWID;
CREATE INDEX baseline_applied_t ON baseline_applied (t_ms);
CREATE TABLE baseline_meta (key TEXT NOT NULL PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
",
}];

/// What a baseline pair relates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineKind {
    /// Host → remote IP or domain.
    HostDestination,
    /// User or cloud principal → API call.
    UserApi,
    /// User → host logged on to.
    UserHost,
}

impl BaselineKind {
    /// The stored name: `host_destination`, `user_api`, `user_host`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HostDestination => "host_destination",
            Self::UserApi => "user_api",
            Self::UserHost => "user_host",
        }
    }

    /// Parses [`BaselineKind::as_str`] names.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "host_destination" => Some(Self::HostDestination),
            "user_api" => Some(Self::UserApi),
            "user_host" => Some(Self::UserHost),
            _ => None,
        }
    }
}

/// One event to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// Pair kind.
    pub kind: BaselineKind,
    /// Canonical subject key.
    pub subject: &'a str,
    /// Canonical object key.
    pub object: &'a str,
    /// Event time, epoch milliseconds.
    pub t_ms: i64,
    /// Producer's event id, to tell apart same-pair events in the same millisecond.
    pub event_id: Option<&'a str>,
}

/// What happened to an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Counted now.
    Recorded,
    /// Already counted earlier (a replay); the observation is the original one, with today's
    /// counts.
    Replayed,
    /// Older than the prune horizon: not counted (it may be a replay of a pruned event).
    TooOld,
    /// A [`Baseline::lookup`]: nothing recorded.
    Lookup,
}

/// The baseline's answer for one pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Observation {
    /// What happened to the event.
    pub status: Status,
    /// The pair had never been seen before this event (lookup: has never been seen).
    pub is_first_seen: bool,
    /// Earliest event time of the pair, after this event (`None`: never seen).
    pub first_seen_ms: Option<i64>,
    /// Latest event time of the pair.
    pub last_seen_ms: Option<i64>,
    /// Events of the pair, including this one.
    pub count: u64,
    /// Events of the subject with any object, including this one.
    pub subject_total: u64,
    /// Distinct objects of the subject, including this one.
    pub subject_distinct_objects: u64,
    /// Distinct subjects that have seen the object, including this one.
    pub object_distinct_subjects: u64,
    /// Per-subject rarity in [0, 1] before this event (module doc).
    pub rarity: f64,
    /// Rarity of the object across all subjects of the kind, before this event (module doc).
    pub global_rarity: f64,
}

/// Errors of the baseline store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaselineError {
    /// Opening or migrating the file failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// An empty subject or object.
    #[error("empty {0} key")]
    EmptyKey(&'static str),
}

/// The baseline store.
#[derive(Debug)]
pub struct Baseline {
    conn: Connection,
}

const PRUNE_HORIZON: &str = "prune_horizon_ms";

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    pair: Option<(i64, i64, i64)>, // first_seen_ms, last_seen_ms, count
    subject_total: i64,
    subject_distinct: i64,
    object_distinct: i64,
    kind_distinct: i64,
}

impl Baseline {
    /// Opens (creating or migrating) the store at `path`; `:memory:` for an in-memory store.
    ///
    /// # Errors
    /// As [`db::open`].
    pub fn open(path: &Path) -> Result<Self, BaselineError> {
        Ok(Self {
            conn: db::open(path, STORE, MIGRATIONS)?,
        })
    }

    /// Records one event without an event id (see [`Baseline::observe_many`]).
    ///
    /// # Errors
    /// SQLite fails, or `subject`/`object` is empty.
    pub fn observe(
        &mut self,
        kind: BaselineKind,
        subject: &str,
        object: &str,
        t_ms: i64,
    ) -> Result<Observation, BaselineError> {
        let ev = Event {
            kind,
            subject,
            object,
            t_ms,
            event_id: None,
        };
        let mut out = self.observe_many(&[ev])?;
        out.pop().ok_or(BaselineError::EmptyKey("event"))
    }

    /// Records events in order, in one transaction (all or nothing), one [`Observation`] per
    /// event. Events already applied are not counted again ([`Status::Replayed`]).
    ///
    /// # Errors
    /// SQLite fails, or a subject/object is empty; then nothing of the batch is recorded.
    pub fn observe_many(
        &mut self,
        events: &[Event<'_>],
    ) -> Result<Vec<Observation>, BaselineError> {
        for e in events {
            check_keys(e.subject, e.object)?;
        }
        let tx = self.conn.transaction()?;
        let horizon = prune_horizon(&tx)?;
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            out.push(apply(&tx, e, horizon)?);
        }
        tx.commit()?;
        Ok(out)
    }

    /// The answer the next observation of the pair would get, recording nothing.
    ///
    /// # Errors
    /// SQLite fails, or `subject`/`object` is empty.
    pub fn lookup(
        &self,
        kind: BaselineKind,
        subject: &str,
        object: &str,
    ) -> Result<Observation, BaselineError> {
        check_keys(subject, object)?;
        let c = counts(&self.conn, kind.as_str(), subject, object)?;
        let (rarity, global_rarity) = rarities(&c);
        Ok(observation(Status::Lookup, &c, rarity, global_rarity))
    }

    /// Forgets pairs last seen before `t_ms` and applied-event records older than `t_ms`,
    /// recomputes the totals, and refuses later events older than `t_ms` (module doc).
    /// Returns the number of pairs removed.
    ///
    /// # Errors
    /// SQLite fails (nothing is changed).
    pub fn prune_older_than(&mut self, t_ms: i64) -> Result<u64, BaselineError> {
        let tx = self.conn.transaction()?;
        let removed = tx.execute(
            "DELETE FROM baseline_pair WHERE last_seen_ms < ?1",
            params![t_ms],
        )?;
        tx.execute(
            "DELETE FROM baseline_applied WHERE t_ms < ?1",
            params![t_ms],
        )?;
        tx.execute_batch(
            "DELETE FROM baseline_subject;
             INSERT INTO baseline_subject (kind, subject, total, distinct_objects)
                 SELECT kind, subject, SUM(count), COUNT(*) FROM baseline_pair
                 GROUP BY kind, subject;
             DELETE FROM baseline_object;
             INSERT INTO baseline_object (kind, object, distinct_subjects)
                 SELECT kind, object, COUNT(*) FROM baseline_pair GROUP BY kind, object;
             DELETE FROM baseline_kind;
             INSERT INTO baseline_kind (kind, distinct_subjects)
                 SELECT kind, COUNT(*) FROM baseline_subject GROUP BY kind;",
        )?;
        let old = prune_horizon(&tx)?;
        tx.execute(
            "INSERT INTO baseline_meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)",
            params![PRUNE_HORIZON, old.map_or(t_ms, |o| o.max(t_ms))],
        )?;
        tx.commit()?;
        Ok(removed as u64)
    }
}

fn check_keys(subject: &str, object: &str) -> Result<(), BaselineError> {
    if subject.is_empty() {
        return Err(BaselineError::EmptyKey("subject"));
    }
    if object.is_empty() {
        return Err(BaselineError::EmptyKey("object"));
    }
    Ok(())
}

fn prune_horizon(conn: &Connection) -> Result<Option<i64>, rusqlite::Error> {
    conn.prepare_cached("SELECT value FROM baseline_meta WHERE key = ?1")?
        .query_row(params![PRUNE_HORIZON], |r| r.get(0))
        .optional()
}

fn counts(
    conn: &Connection,
    kind: &str,
    subject: &str,
    object: &str,
) -> Result<Counts, rusqlite::Error> {
    let pair = conn
        .prepare_cached(
            "SELECT first_seen_ms, last_seen_ms, count FROM baseline_pair
             WHERE kind = ?1 AND subject = ?2 AND object = ?3",
        )?
        .query_row(params![kind, subject, object], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let (subject_total, subject_distinct) = conn
        .prepare_cached(
            "SELECT total, distinct_objects FROM baseline_subject WHERE kind = ?1 AND subject = ?2",
        )?
        .query_row(params![kind, subject], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, 0));
    let object_distinct = conn
        .prepare_cached(
            "SELECT distinct_subjects FROM baseline_object WHERE kind = ?1 AND object = ?2",
        )?
        .query_row(params![kind, object], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    let kind_distinct = conn
        .prepare_cached("SELECT distinct_subjects FROM baseline_kind WHERE kind = ?1")?
        .query_row(params![kind], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    Ok(Counts {
        pair,
        subject_total,
        subject_distinct,
        object_distinct,
        kind_distinct,
    })
}

/// (per-subject, global) rarity from counts before an event.
fn rarities(c: &Counts) -> (f64, f64) {
    let rarity = match c.pair {
        Some((_, _, n)) if n > 0 && c.subject_total > 0 => {
            (1.0 - n as f64 / c.subject_total as f64).clamp(0.0, 1.0)
        }
        _ => 1.0,
    };
    let global = if c.object_distinct > 0 && c.kind_distinct > 0 {
        (1.0 - c.object_distinct as f64 / c.kind_distinct as f64).clamp(0.0, 1.0)
    } else {
        1.0
    };
    (rarity, global)
}

fn observation(status: Status, c: &Counts, rarity: f64, global_rarity: f64) -> Observation {
    let to_u = |x: i64| u64::try_from(x).unwrap_or(0);
    Observation {
        status,
        is_first_seen: c.pair.is_none(),
        first_seen_ms: c.pair.map(|p| p.0),
        last_seen_ms: c.pair.map(|p| p.1),
        count: c.pair.map_or(0, |p| to_u(p.2)),
        subject_total: to_u(c.subject_total),
        subject_distinct_objects: to_u(c.subject_distinct),
        object_distinct_subjects: to_u(c.object_distinct),
        rarity,
        global_rarity,
    }
}

fn apply(
    tx: &Transaction<'_>,
    e: &Event<'_>,
    horizon: Option<i64>,
) -> Result<Observation, BaselineError> {
    let kind = e.kind.as_str();
    let event_id = e.event_id.unwrap_or("");
    if horizon.is_some_and(|h| e.t_ms < h) {
        let c = counts(tx, kind, e.subject, e.object)?;
        let (r, g) = rarities(&c);
        return Ok(observation(Status::TooOld, &c, r, g));
    }
    let before = counts(tx, kind, e.subject, e.object)?;
    let (rarity, global_rarity) = rarities(&before);
    let is_first_seen = before.pair.is_none();
    let inserted = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO baseline_applied
             (kind, subject, object, t_ms, event_id, first_seen, rarity, global_rarity)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            kind,
            e.subject,
            e.object,
            e.t_ms,
            event_id,
            is_first_seen,
            rarity,
            global_rarity
        ])?;
    if inserted == 0 {
        let (first, r, g): (bool, f64, f64) = tx
            .prepare_cached(
                "SELECT first_seen, rarity, global_rarity FROM baseline_applied
                 WHERE kind = ?1 AND subject = ?2 AND object = ?3 AND t_ms = ?4 AND event_id = ?5",
            )?
            .query_row(params![kind, e.subject, e.object, e.t_ms, event_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        let mut o = observation(Status::Replayed, &before, r, g);
        o.is_first_seen = first;
        return Ok(o);
    }
    tx.prepare_cached(
        "INSERT INTO baseline_pair (kind, subject, object, first_seen_ms, last_seen_ms, count)
         VALUES (?1, ?2, ?3, ?4, ?4, 1)
         ON CONFLICT (kind, subject, object) DO UPDATE SET
             first_seen_ms = MIN(first_seen_ms, excluded.first_seen_ms),
             last_seen_ms = MAX(last_seen_ms, excluded.last_seen_ms),
             count = count + 1",
    )?
    .execute(params![kind, e.subject, e.object, e.t_ms])?;
    let new_subject = before.subject_total == 0;
    tx.prepare_cached(
        "INSERT INTO baseline_subject (kind, subject, total, distinct_objects)
         VALUES (?1, ?2, 1, 1)
         ON CONFLICT (kind, subject) DO UPDATE SET
             total = total + 1, distinct_objects = distinct_objects + ?3",
    )?
    .execute(params![kind, e.subject, i64::from(is_first_seen)])?;
    if is_first_seen {
        tx.prepare_cached(
            "INSERT INTO baseline_object (kind, object, distinct_subjects) VALUES (?1, ?2, 1)
             ON CONFLICT (kind, object) DO UPDATE SET distinct_subjects = distinct_subjects + 1",
        )?
        .execute(params![kind, e.object])?;
    }
    if new_subject {
        tx.prepare_cached(
            "INSERT INTO baseline_kind (kind, distinct_subjects) VALUES (?1, 1)
             ON CONFLICT (kind) DO UPDATE SET distinct_subjects = distinct_subjects + 1",
        )?
        .execute(params![kind])?;
    }
    let after = Counts {
        pair: Some(match before.pair {
            None => (e.t_ms, e.t_ms, 1),
            Some((f, l, n)) => (f.min(e.t_ms), l.max(e.t_ms), n + 1),
        }),
        subject_total: before.subject_total + 1,
        subject_distinct: before.subject_distinct + i64::from(is_first_seen),
        object_distinct: before.object_distinct + i64::from(is_first_seen),
        kind_distinct: before.kind_distinct + i64::from(new_subject),
    };
    let mut o = observation(Status::Recorded, &after, rarity, global_rarity);
    o.is_first_seen = is_first_seen;
    Ok(o)
}

//! SOAR state for issue 4: what Shrike knows about the environment and what analysts decided.
//!
//! - [`db`]: one SQLite file per store, with versioned migrations applied at open.
//! - `assets`: the asset and identity inventory (hosts, IPs, owners, business services,
//!   criticality 1–5, data classes; users, departments, privileged flags).
//! - `baseline`: first-seen and rarity of host → destination, user → API call, user → host,
//!   persisted.
//! - `cases`: tickets with their alerts, enrichment context, combined risk and how it was
//!   computed, queue, priority, SLA, status, assignee, audit log, de-duplication, dispositions.

pub mod assets;
pub mod baseline;
pub mod cases;
pub mod db;
pub mod enrich;
pub mod playbook;

//! Detection over normalized (OCSF 1.8.0) events: the stage `OCSF event -> candidate alert`.
//!
//! - [`sigma`]: SigmaHQ rules compiled against OCSF field paths; a match is a [`Hit`] carrying
//!   the rule's ATT&CK tags and author (DRL 1.1 requires the author on every alert a rule makes).
//! - [`vendor`]: detections a product already made (Suricata alerts, GuardDuty findings) become
//!   hits, with their categories mapped to ATT&CK where the mapping is sound.
//! - [`models`]: one scoring model per [`Domain`] (endpoint, network, cloud), each with a feature
//!   schema computed from the event stream the same way in training and serving, a calibrated
//!   probability, reasons and a threshold from time-based validation.
//! - [`attack`]: ATT&CK technique names and tactics in kill-chain order, from a table compiled
//!   from the ATT&CK bundle and bundled with the binary.
//!
//! Invariants: nothing here does I/O at detection time; no event panics a detector or a model;
//! every [`Alert`] names what raised it (rule, vendor signature or model) and keeps the event's
//! uid so an analyst can find the evidence.

pub mod alert;
pub mod attack;
pub mod models;
pub mod sigma;
pub mod vendor;

pub use alert::{Alert, Domain, Hit, ModelScore, Origin};

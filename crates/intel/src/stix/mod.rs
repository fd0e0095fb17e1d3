//! STIX 2.1: the patterning language and indicator bundles.
//!
//! - [`Pattern`]: a parsed STIX pattern ([`Pattern::parse`] is the matcher's grammar,
//!   [`Pattern::validate`] adds the reference validator's checks: duplicate qualifiers on one
//!   observation, malformed hashes). Parsing is bounded: nesting deeper than [`MAX_DEPTH`] and
//!   patterns longer than [`MAX_PATTERN_LEN`] are rejected with an error, never a panic.
//! - [`Observations`] + [`Pattern::matches`]: evaluation against `observed-data` SDOs with the
//!   semantics of the reference `stix2-matcher` (bindings of observations to observation
//!   expressions; AND/FOLLOWEDBY need distinct observations). Evaluation work is budgeted:
//!   a pattern whose bindings explode returns [`StixError::Budget`].
//! - [`simple_indicators`]: the plain equality observables of a pattern, for indexing.
//! - [`load_bundle`] / [`Bundle::hits_for`]: indicators with their malware family and ATT&CK
//!   techniques, as [`IntelHit`](crate::IntelHit)s.
//!
//! MATCHES uses a small Pike-VM regex (no backtracking, linear in the input); backreferences,
//! lookaround and inline flags are rejected at parse time. Unicode normalization (NFC) before
//! LIKE/MATCHES, which the reference does, is not implemented.

mod bundle;
mod matcher;
mod pattern;
mod regex;

pub use bundle::{load_bundle, AttackPattern, Bundle, Malware, Relationship, StixIndicator};
pub use matcher::Observations;
pub use pattern::{
    simple_indicators, CompOp, CompareExpr, Literal, ObsExpr, PathStep, Pattern, Qualifier,
    Timestamp, MAX_DEPTH, MAX_PATTERN_LEN,
};

/// What failed in STIX parsing or matching.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StixError {
    /// The pattern is not valid STIX patterning.
    #[error("pattern error at line {line}:{column}: {message}")]
    Pattern {
        /// 1-based line.
        line: usize,
        /// 0-based column in characters (as the reference validator counts).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Evaluation failed (invalid timestamp in the data, bad observed-data, ...).
    #[error("match error: {0}")]
    Match(String),
    /// Evaluation would exceed the work budget (combinatorial REPEATS/AND).
    #[error("pattern evaluation exceeded its budget of {0} steps")]
    Budget(u64),
    /// The JSON is not a STIX bundle or object list.
    #[error("bundle error: {0}")]
    Bundle(String),
}

//! Threat intelligence for the SOAR stage (issue 4): indicators, what is known about them, and
//! where that knowledge comes from.
//!
//! - [`Indicator`]: a normalized observable that intel can be looked up by (IP, domain, URL,
//!   email address, file hash).
//! - [`IntelHit`]: one source's statement about an indicator (family, threat type, confidence,
//!   first/last seen).
//!
//! Enrichment only ever *looks indicators up*; nothing here fetches a URL found in an alert.

pub mod attack;
pub mod feeds;
pub mod provider;
pub mod stix;
pub mod store;
pub mod taxii;
mod types;
pub mod vt;
pub mod warninglists;

pub use types::{Indicator, IndicatorKind, IntelHit};

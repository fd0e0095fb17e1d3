//! Normalization to OCSF 1.8.0: decoders turn files into [`RawRecord`]s with one canonical layout
//! per [`Source`]; YAML mappings (`content/mappings`), compiled by the mapping engine, turn records
//! into OCSF events; [`observables`] and [`entities`] are derived from the OCSF events.
//!
//! What cannot be decoded or mapped becomes a [`shrike_types::Quarantined`] item with a reason
//! and the original bytes; nothing is dropped silently.

pub mod decode;
pub mod entities;
pub mod mapping;
pub mod observables;
mod record;
pub mod testing;

pub use mapping::{Engine, MappingError, Normalized, Rejected};
pub use record::{DecodeItem, RawRecord, Source};

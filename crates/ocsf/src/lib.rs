//! OCSF schema table and event validator.
//!
//! - [`compile()`] resolves the OCSF source schema (`extends`, `$include`d profiles, the
//!   dictionary, and the `extensions/` — `linux`, `win`, `macos` in 1.8.0) into a compact
//!   [`Table`]; the `ocsf-compile` binary writes it to `crates/ocsf/schema/ocsf-1.8.0.json`,
//!   which is committed and embedded. Extension classes keep their plain names and get the
//!   server's uids (`registry_key_activity` is 201001, `registry_value_activity` 201002,
//!   `windows_service_activity` 201004, all in category 1); extension objects (`reg_key`,
//!   `reg_value`, `win_service`, ...) join the core ones, and extension patches add attributes
//!   to core objects (`process.hosted_services`, `evidences.reg_key`, ...).
//! - [`Schema::embedded`] loads that table; [`Schema::validate`] checks one event and returns
//!   every [`ValidationError`] with its JSON path and [`Rule`].
//! - [`validate_ndjson`] checks a stream of events, one per line, into a [`Summary`].
//!
//! The validator checks: known `class_uid`; required attributes present (recursively in present
//! objects; profile attributes only when the profile is listed in `metadata.profiles`); no
//! unknown attributes (free-form: `unmapped`, `object`-typed and `json_t` attributes); JSON
//! types (string / integer / long / float / boolean; `timestamp_t` is integer milliseconds;
//! arrays vs scalars; objects recursively); enum values; `category_uid` equal to the class's
//! category; `type_uid` equal to `class_uid * 100 + activity_id`.
//! Extension classes and objects are checked like core ones. It does not check regexes of string
//! types (`email_t`, `ip_t`, ...), integer ranges, `constraints` (at-least-one-of),
//! deprecations, or that `metadata.extensions` lists the extension an event's class comes from.
//!
//! No input panics: the validator follows the event's own JSON and stops a branch at
//! [`MAX_DEPTH`] nested objects; [`validate_ndjson`] bounds lines at [`MAX_LINE_BYTES`].
//!
//! Regenerate the table after changing the compiler (a test fails while it is stale):
//!
//! ```text
//! cargo run -p shrike-ocsf --bin ocsf-compile -- \
//!     /work/shared/data/ocsf/schema-1.8.0 crates/ocsf/schema/ocsf-1.8.0.json
//! ```

mod compile;
mod table;
mod validate;

pub use compile::{compile, CompileError};
pub use table::{Attr, ClassDef, ExtensionDef, ObjectDef, Requirement, Table};
pub use validate::{
    validate_ndjson, Rule, Schema, Summary, ValidationError, MAX_DEPTH, MAX_LINE_BYTES,
};

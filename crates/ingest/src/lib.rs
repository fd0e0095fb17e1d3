//! Email ingest: every email input form into [`EmailRecord`]s, and whatever cannot be read into
//! [`Quarantined`] items.
//!
//! Inputs: raw RFC 5322 / MIME messages (`.eml`, SpamAssassin-style files with a leading mbox
//! `From ` line), mbox files (mboxo/mboxrd, LF / CRLF / CR line ends), directories of these,
//! `.tar`, `.tar.gz`, `.tar.xz` archives of any of these, email-log JSON (one object, an array,
//! NDJSON) and CSV in the Nazario/Champa layout. [`read_path`] and [`read_reader`] detect the form
//! (or take [`InputFormat`]) and stream [`Item`]s to a sink in a deterministic order;
//! [`parse_message`] and [`parse_email_log`] read one message or one JSON record.
//!
//! Invariants:
//! - Never panics, never hangs, never stops the stream, never drops a record silently: each input
//!   unit becomes exactly one [`Item`], a record or a quarantine item naming its origin and a
//!   bounded reason code ([`IngestError::reason`]).
//! - Memory per record is bounded by [`Limits`]: mbox files, archives and JSON arrays are
//!   streamed, and an oversize message is quarantined after reading at most `limit + 1` bytes.
//! - Work is linear in the input: the MIME walk is iterative and checks depth, part and header
//!   counts as it goes.
//!
//! This crate does not score, deduplicate or strip collector artifacts (that is `shrike-score`
//! and training's business), and knows nothing about HTTP or the CLI.

mod attachment;
mod auth;
mod csv_input;
mod date;
mod email_log;
mod error;
mod header;
mod mbox;
mod message;
mod options;
mod quarantine;
mod read;
mod text;
mod transfer;

pub use email_log::parse_email_log;
pub use error::IngestError;
pub use message::parse_message;
pub use options::{InputFormat, Limits, ReadOptions};
pub use quarantine::{quarantine, QuarantineWriter};
pub use read::{read_path, read_reader, Exact, Item, ReadStats};

#[doc(no_inline)]
pub use shrike_types::{EmailRecord, Quarantined, RecordOrigin};

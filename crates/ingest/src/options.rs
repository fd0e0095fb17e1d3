//! Reader configuration: resource limits, the input-format override and labelling options.
//!
//! Limits exist because every input is hostile: each one bounds memory or work per record, and
//! exceeding one quarantines that record (never the stream).

use shrike_types::Label;

/// Resource limits applied while reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest raw message (one `.eml`, one mbox message, one CSV row) in bytes. Default 32 MiB.
    pub max_message_bytes: usize,
    /// Deepest MIME multipart nesting (a single-part message has depth 1). Default 32.
    pub max_mime_depth: u32,
    /// Most MIME parts in one message, containers included. Default 1000.
    pub max_parts: usize,
    /// Most header fields in one header block. Default 2000.
    pub max_headers: usize,
    /// Most members read from one archive. Default 1,000,000.
    pub max_archive_members: u64,
    /// Largest archive member read, in bytes (an mbox member may hold many messages). A larger
    /// member is quarantined and the archive is not read further: skipping it inside a
    /// compressed stream would mean decompressing it all. Default 4 GiB.
    pub max_member_bytes: u64,
    /// Largest email-log JSON record (one object or NDJSON line) in bytes. Default 32 MiB.
    pub max_json_record_bytes: usize,
    /// How many raw bytes a quarantine item keeps. Default 1 MiB.
    pub quarantine_raw_cap: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 32 * 1024 * 1024,
            max_mime_depth: 32,
            max_parts: 1000,
            max_headers: 2000,
            max_archive_members: 1_000_000,
            max_member_bytes: 4 * 1024 * 1024 * 1024,
            max_json_record_bytes: 32 * 1024 * 1024,
            quarantine_raw_cap: 1024 * 1024,
        }
    }
}

/// How to interpret an input; `Auto` detects it from the extension and the leading bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputFormat {
    /// Detect: archives and compression by magic bytes; `.json`/`.ndjson`/`.jsonl` and a leading
    /// `{`/`[` as email-log JSON; `.csv` or a Nazario header row as CSV; `.mbox` as mbox; `.eml`
    /// and `.mail` as one message; otherwise a leading `From ` line means mbox when a second
    /// message follows (else one message), and anything else is one RFC 5322 message.
    #[default]
    Auto,
    /// One RFC 5322 message per file (a leading mbox `From ` line is allowed).
    Eml,
    /// An mbox: messages separated by `From ` lines.
    Mbox,
    /// Email-log JSON: one object, an array of objects, or NDJSON.
    Json,
    /// CSV in the Nazario/Champa layout.
    Csv,
}

/// Options for [`crate::read_path`] and [`crate::read_reader`].
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Resource limits.
    pub limits: Limits,
    /// Format override for files and archive members (archives and compression are always
    /// detected from their magic bytes).
    pub format: InputFormat,
    /// Derive the label from path components (archive member directories, then the archive's
    /// name, then the directories), innermost first.
    pub label_from_path: bool,
    /// Data-source name to put on every record that does not name its own.
    pub source: Option<String>,
    /// Label to put on every record that does not carry its own (a JSON/CSV `label` field wins;
    /// this wins over `label_from_path`).
    pub label: Option<Label>,
}

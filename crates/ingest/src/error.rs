//! The ingest error type.
//!
//! Every failure to read one record is an [`IngestError`]; readers turn it into a
//! [`shrike_types::Quarantined`] item (see [`crate::quarantine()`]) and keep going. Only an I/O
//! error on the top-level path given to [`crate::read_path`] is returned to the caller.
//!
//! [`IngestError::reason`] is a bounded snake_case code, safe to use as a metric label.

/// Why a record (or an input) could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// Reading the input failed (not found, permission, a broken pipe).
    #[error("{context}: {source}")]
    Io {
        /// What was being read.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The input is empty or whitespace only.
    #[error("empty input")]
    Empty,
    /// The bytes have no RFC 5322 header block (a PNG, a PDF, a text file).
    #[error("not an email: {0}")]
    NotAnEmail(String),
    /// The message is larger than [`crate::Limits::max_message_bytes`].
    #[error("message is {} {size} bytes, over the {limit}-byte limit", if *.size_is_exact { "exactly" } else { "at least" })]
    MessageTooLarge {
        /// Its size in bytes; a lower bound when `size_is_exact` is false.
        size: u64,
        /// The limit.
        limit: usize,
        /// Whether `size` is the exact size (known from the file system, a tar header or a full scan).
        size_is_exact: bool,
    },
    /// MIME multiparts nest deeper than [`crate::Limits::max_mime_depth`].
    #[error("MIME nesting deeper than {limit} levels")]
    MimeTooDeep {
        /// The limit.
        limit: u32,
    },
    /// The message has more MIME parts than [`crate::Limits::max_parts`].
    #[error("more than {limit} MIME parts")]
    TooManyParts {
        /// The limit.
        limit: usize,
    },
    /// A header block has more fields than [`crate::Limits::max_headers`].
    #[error("more than {limit} header fields in one header block")]
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// An email-log record is not valid JSON, or not a JSON object.
    #[error("{record}: invalid JSON: {detail}")]
    JsonInvalid {
        /// Names the record (`record 3`).
        record: String,
        /// What is wrong.
        detail: String,
    },
    /// An email-log field has the wrong JSON type.
    #[error("{record}: field \"{field}\": expected {expected}, got {got}")]
    JsonWrongType {
        /// Names the record (`record 3`).
        record: String,
        /// The field path (`to`, `attachments[1].size`).
        field: String,
        /// The accepted types.
        expected: &'static str,
        /// The JSON type found.
        got: &'static str,
    },
    /// An email-log or CSV record has none of from, subject, body_text, body_html, headers.
    #[error(
        "{record}: none of the fields from, subject, body_text, body_html, headers is present"
    )]
    MissingFields {
        /// Names the record (`record 3`).
        record: String,
    },
    /// An email-log record (one JSON object, one NDJSON line) is larger than
    /// [`crate::Limits::max_json_record_bytes`], or a CSV row larger than
    /// [`crate::Limits::max_message_bytes`].
    #[error("{record}: record is at least {size} bytes, over the {limit}-byte limit")]
    RecordTooLarge {
        /// Names the record (`record 3`).
        record: String,
        /// Bytes seen (a lower bound).
        size: u64,
        /// The limit.
        limit: usize,
    },
    /// A CSV file or row could not be read.
    #[error("invalid CSV: {0}")]
    CsvInvalid(String),
    /// A compressed stream or tar archive is truncated or corrupt; what came before was read.
    #[error("corrupt archive: {0}")]
    ArchiveCorrupt(String),
    /// An archive has more members than [`crate::Limits::max_archive_members`]; the rest was not read.
    #[error("archive has more than {limit} members; the rest was not read")]
    TooManyMembers {
        /// The limit.
        limit: u64,
    },
    /// An archive member is larger than [`crate::Limits::max_member_bytes`]; the rest of the
    /// archive was not read.
    #[error("archive member is {size} bytes, over the {limit}-byte member limit; the rest of the archive was not read")]
    MemberTooLarge {
        /// Its declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Archives or compressed streams nest deeper than the reader follows.
    #[error("archives nested more than {limit} levels deep")]
    ArchiveTooDeep {
        /// The limit.
        limit: u32,
    },
    /// A third-party parser panicked on this input (a bug; the input is kept for a regression test).
    #[error("parser failure: {0}")]
    ParserPanic(String),
}

impl IngestError {
    /// A bounded, stable snake_case reason code (a metric label).
    pub fn reason(&self) -> &'static str {
        match self {
            IngestError::Io { .. } => "io",
            IngestError::Empty => "empty",
            IngestError::NotAnEmail(_) => "not_an_email",
            IngestError::MessageTooLarge { .. } => "message_too_large",
            IngestError::MimeTooDeep { .. } => "mime_too_deep",
            IngestError::TooManyParts { .. } => "too_many_parts",
            IngestError::TooManyHeaders { .. } => "too_many_headers",
            IngestError::JsonInvalid { .. } => "json_invalid",
            IngestError::JsonWrongType { .. } => "json_wrong_type",
            IngestError::MissingFields { .. } => "missing_fields",
            IngestError::RecordTooLarge { .. } => "record_too_large",
            IngestError::CsvInvalid(_) => "csv_invalid",
            IngestError::ArchiveCorrupt(_) => "archive_corrupt",
            IngestError::TooManyMembers { .. } => "too_many_members",
            IngestError::MemberTooLarge { .. } => "member_too_large",
            IngestError::ArchiveTooDeep { .. } => "archive_too_deep",
            IngestError::ParserPanic(_) => "parser_panic",
        }
    }

    /// The original size in bytes this error knows about (at least), if any: used as the
    /// quarantine `raw_len` when only a prefix of the bytes was kept.
    pub(crate) fn known_size(&self) -> Option<u64> {
        match self {
            IngestError::MessageTooLarge { size, .. }
            | IngestError::RecordTooLarge { size, .. }
            | IngestError::MemberTooLarge { size, .. } => Some(*size),
            _ => None,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        IngestError::Io {
            context: context.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_field_and_record() {
        let e = IngestError::JsonWrongType {
            record: "record 3".into(),
            field: "to".into(),
            expected: "string, object or array",
            got: "number",
        };
        assert_eq!(
            e.to_string(),
            "record 3: field \"to\": expected string, object or array, got number"
        );
        assert_eq!(e.reason(), "json_wrong_type");
        let e = IngestError::MessageTooLarge {
            size: 11,
            limit: 10,
            size_is_exact: false,
        };
        assert_eq!(
            e.to_string(),
            "message is at least 11 bytes, over the 10-byte limit"
        );
        assert_eq!(e.known_size(), Some(11));
    }
}

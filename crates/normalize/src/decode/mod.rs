//! Decoders: files, archives and streams → canonical [`RawRecord`]s, one layout per [`Source`].
//!
//! [`decode_path`] (a file or a directory, recursively in sorted order), [`decode_reader`] (stdin,
//! an HTTP body) and [`decode_bytes`] (tests, fuzzing, sample inputs) detect what they are given
//! by content (extension only as a tie-breaker; [`DecodeOptions::format`] overrides) and call the
//! sink once per record or quarantine item, in input order:
//!
//! - containers: directories, `.zip`, `.tar`, gzip and xz (nested: `.tar.gz`, `.tar.xz`, a `.gz`
//!   inside a zip), all recognised by their magic bytes (`container.rs`); hidden files and
//!   members and macOS `__MACOSX/` resource forks are skipped;
//! - EVTX (`ElfFile\0`) through the `evtx` crate (`windows.rs`);
//! - JSON: one object, an array, NDJSON or pretty-printed objects, with the CloudTrail,
//!   GuardDuty-API, EventBridge and Panther-test envelopes unwrapped (`json.rs`); the source of each
//!   object is found by [`detect_source`];
//! - Zeek TSV (`zeek.rs`), VPC Flow Logs text (`vpcflow.rs`) and email (RFC 5322, mbox, email-log
//!   JSON, through `shrike-ingest`: `email.rs`).
//!
//! Invariants:
//! - Never panics and never stops the stream on bad data: whatever cannot be decoded becomes one
//!   [`DecodeItem::Quarantined`] (stage `decode`, a bounded snake_case reason, a detail naming the
//!   record, its origin and raw bytes cut at [`DecodeLimits::quarantine_raw_cap`]), and the records
//!   around it still come out. Only an unreadable top-level path is an `Err`.
//! - Memory is bounded per record: line-oriented inputs are streamed and an over-long line is
//!   skipped without buffering it ([`DecodeLimits::max_record_bytes`]); decompression is bounded
//!   by [`DecodeLimits::max_decompressed_bytes`]; only zip and EVTX inputs that arrive as a
//!   non-seekable stream are buffered (up to 1 GiB).
//!
//! What this module does not do: map to OCSF (that is [`crate::mapping`]), deduplicate, or look
//! anything up.
//!
//! Quarantine reasons: `empty`, `io`, `unknown_format`, `unknown_source`, `json_invalid`,
//! `not_an_object`, `record_too_large`, `zeek_bad_row`, `vpcflow_bad_row`, `evtx_invalid`,
//! `evtx_record_invalid`, `archive_truncated`, `archive_invalid`, `archive_too_large`,
//! `archive_too_deep`, `too_many_members`, plus `shrike-ingest`'s reasons for email input (stage
//! `ingest`).

mod cloud;
mod container;
mod detect;
mod email;
mod json;
mod lines;
mod vpcflow;
mod windows;
mod xml;
mod zeek;

use std::cell::Cell;
use std::io::{self, Read};
use std::ops::{Add, AddAssign};
use std::path::Path;
use std::rc::Rc;

use base64::Engine as _;
use serde_json::{Map, Value};
use shrike_types::{Quarantined, RecordOrigin};

use crate::record::{DecodeItem, RawRecord, Source};

pub use detect::detect_source;

/// The stage name on every quarantine item this module produces.
pub const STAGE: &str = "decode";

/// How to read an input. `Auto` detects it from the content (the extension breaks ties);
/// archives and compression are always recognised by their magic bytes whatever the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// Detect from the content.
    #[default]
    Auto,
    /// JSON: one object, an array of objects, NDJSON or concatenated objects.
    Json,
    /// Zeek TSV logs (`#separator` / `#fields` / `#types` headers).
    ZeekTsv,
    /// Windows `.evtx` binary event logs.
    Evtx,
    /// AWS VPC Flow Logs text (space-separated, optional header line).
    Vpcflow,
    /// Email: RFC 5322 messages, mbox, email-log JSON (read by `shrike-ingest`).
    Email,
}

impl Format {
    /// Every format, in a stable order.
    pub const ALL: [Format; 6] = [
        Format::Auto,
        Format::Json,
        Format::ZeekTsv,
        Format::Evtx,
        Format::Vpcflow,
        Format::Email,
    ];

    /// Stable lowercase name (the CLI spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Json => "json",
            Format::ZeekTsv => "zeek-tsv",
            Format::Evtx => "evtx",
            Format::Vpcflow => "vpcflow",
            Format::Email => "email",
        }
    }

    /// Parses [`Format::as_str`] spellings (case-insensitive; `zeek_tsv`, `zeek`, `ndjson`,
    /// `eml` and `mbox` are accepted too).
    pub fn parse(s: &str) -> Option<Format> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "auto" => Some(Format::Auto),
            "json" | "ndjson" | "jsonl" => Some(Format::Json),
            "zeek-tsv" | "zeek_tsv" | "zeek" | "tsv" => Some(Format::ZeekTsv),
            "evtx" => Some(Format::Evtx),
            "vpcflow" | "vpc-flow" | "vpc_flow" => Some(Format::Vpcflow),
            "email" | "eml" | "mbox" => Some(Format::Email),
            _ => None,
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Resource limits. Exceeding one quarantines the record (or the rest of the archive), never
/// the whole run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest record in bytes: one JSON line or object, one TSV row. Default 4 MiB.
    pub max_record_bytes: usize,
    /// Most members read from one zip or tar archive. Default 1,000,000.
    pub max_archive_members: usize,
    /// Most bytes produced by decompression (gzip, xz, zip members) for one input file, all
    /// layers counted. Default 16 GiB.
    pub max_decompressed_bytes: u64,
    /// How many raw bytes a quarantine item keeps. Default 64 KiB.
    pub quarantine_raw_cap: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_record_bytes: 4 * 1024 * 1024,
            max_archive_members: 1_000_000,
            max_decompressed_bytes: 16 * 1024 * 1024 * 1024,
            quarantine_raw_cap: 64 * 1024,
        }
    }
}

/// Options for [`decode_path`], [`decode_reader`] and [`decode_bytes`].
#[derive(Debug, Clone, Default)]
pub struct DecodeOptions {
    /// Format override for files and archive members (`Auto` detects).
    pub format: Format,
    /// Source override for JSON objects: skips [`detect_source`]. Text formats keep their own
    /// source (Zeek TSV is Zeek, EVTX is Windows, ...).
    pub source: Option<Source>,
    /// Resource limits.
    pub limits: DecodeLimits,
}

/// Counts for one decode call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Input files opened (a directory's files, not archive members; 1 for a stream).
    pub files: u64,
    /// Records produced.
    pub records: u64,
    /// Quarantine items produced.
    pub quarantined: u64,
    /// Bytes read from the inputs as stored (compressed bytes for compressed files).
    pub bytes_read: u64,
}

impl DecodeStats {
    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &DecodeStats) {
        self.files += other.files;
        self.records += other.records;
        self.quarantined += other.quarantined;
        self.bytes_read += other.bytes_read;
    }
}

impl AddAssign for DecodeStats {
    fn add_assign(&mut self, rhs: DecodeStats) {
        self.merge(&rhs);
    }
}

impl Add for DecodeStats {
    type Output = DecodeStats;
    fn add(mut self, rhs: DecodeStats) -> DecodeStats {
        self.merge(&rhs);
        self
    }
}

/// Decodes a file, a directory (recursively, sorted by path, hidden entries skipped, symlinked
/// directories not followed) or `-` for stdin, calling `sink` for every record and quarantine
/// item in order.
///
/// # Errors
/// Only an I/O error on `path` itself (not found, permission denied); everything below it is a
/// [`DecodeItem::Quarantined`].
pub fn decode_path(
    path: &Path,
    opts: &DecodeOptions,
    sink: &mut dyn FnMut(DecodeItem),
) -> io::Result<DecodeStats> {
    if path.as_os_str() == "-" {
        return decode_reader("-", &mut io::stdin().lock(), opts, sink);
    }
    let meta = std::fs::metadata(path)?;
    let mut d = Decoder::new(opts, sink);
    if meta.is_dir() {
        let entries = container::sorted_entries(path)?;
        d.walk_dir(entries);
    } else {
        let file = std::fs::File::open(path)?;
        d.decode_file(file, path, meta.len());
    }
    Ok(d.stats)
}

/// Decodes a stream of unknown kind named `name` (`-` for stdin), like a file of that name.
/// Zip and EVTX streams are buffered in memory (up to 1 GiB) because they need seeking.
///
/// # Errors
/// None at present (read errors are quarantined); the `Result` leaves room for setup failures.
pub fn decode_reader(
    name: &str,
    reader: &mut dyn Read,
    opts: &DecodeOptions,
    sink: &mut dyn FnMut(DecodeItem),
) -> io::Result<DecodeStats> {
    let mut d = Decoder::new(opts, sink);
    d.stats.files += 1;
    if opts.format == Format::Email {
        let mut counting = container::Counting::new(reader);
        email::decode_whole_reader(&mut d, name, &mut counting);
        d.stats.bytes_read += counting.count;
        return Ok(d.stats);
    }
    let loc = Loc::top(name);
    let mut counting = container::Counting::new(reader);
    d.decode_stream(&mut counting, &loc);
    d.stats.bytes_read += counting.count;
    Ok(d.stats)
}

/// Decodes an in-memory input named `name` (the name is used for origins and as a tie-breaker
/// for detection). Never fails: everything wrong is quarantined.
pub fn decode_bytes(
    name: &str,
    bytes: &[u8],
    opts: &DecodeOptions,
    sink: &mut dyn FnMut(DecodeItem),
) -> DecodeStats {
    let mut d = Decoder::new(opts, sink);
    d.stats.files += 1;
    d.stats.bytes_read += bytes.len() as u64;
    if opts.format == Format::Email {
        email::decode_whole_reader(&mut d, name, &mut &bytes[..]);
        return d.stats;
    }
    let loc = Loc::top(name);
    let mut cursor = io::Cursor::new(bytes);
    d.decode_seekable(&mut cursor, &loc);
    d.stats
}

/// Where a stream is: what its records' origins say, and what detection may look at.
#[derive(Debug, Clone)]
pub(crate) struct Loc {
    /// `origin.path`: the file as reached from the argument, or the stream name.
    pub(crate) path: String,
    /// `origin.member`: the archive member path (`outer.tar!inner.json` when nested).
    pub(crate) member: Option<String>,
    /// The leaf name (file or member base name, compression suffix removed) for extension
    /// tie-breaks and Zeek log names.
    pub(crate) name: String,
    /// Inside an archive or a compressed stream: read errors mean a damaged archive.
    pub(crate) in_archive: bool,
    /// Archive / compression layers entered so far.
    pub(crate) depth: u32,
}

impl Loc {
    fn top(path: &str) -> Loc {
        Loc {
            path: path.to_owned(),
            member: None,
            name: base_name(path).to_owned(),
            in_archive: false,
            depth: 0,
        }
    }

    pub(crate) fn origin(&self, index: Option<u64>, offset: Option<u64>) -> RecordOrigin {
        RecordOrigin {
            path: self.path.clone(),
            member: self.member.clone(),
            index,
            offset,
        }
    }

    /// `path` or `path!member`, for details.
    pub(crate) fn display(&self) -> String {
        match &self.member {
            Some(m) => format!("{}!{m}", self.path),
            None => self.path.clone(),
        }
    }
}

/// The last `/`- or `\`-separated component of a name.
pub(crate) fn base_name(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

/// What a stream reader tells its container: go on, or the underlying stream is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    Stop,
}

/// Decompression budget for one input file, shared by every decompressing reader under it.
#[derive(Debug)]
pub(crate) struct Budget {
    used: Cell<u64>,
    limit: u64,
    exceeded: Cell<bool>,
}

impl Budget {
    fn new(limit: u64) -> Rc<Budget> {
        Rc::new(Budget {
            used: Cell::new(0),
            limit,
            exceeded: Cell::new(false),
        })
    }

    /// Counts `n` more bytes; false (and marks the budget exceeded) when over the limit.
    pub(crate) fn spend(&self, n: usize) -> bool {
        let used = self.used.get().saturating_add(n as u64);
        self.used.set(used);
        if used > self.limit {
            self.exceeded.set(true);
            false
        } else {
            true
        }
    }

    pub(crate) fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used.get())
    }
}

/// The walk's state: options, sink, counts and the current file's decompression budget.
pub(crate) struct Decoder<'a> {
    pub(crate) opts: &'a DecodeOptions,
    sink: &'a mut dyn FnMut(DecodeItem),
    pub(crate) stats: DecodeStats,
    pub(crate) budget: Rc<Budget>,
}

impl<'a> Decoder<'a> {
    fn new(opts: &'a DecodeOptions, sink: &'a mut dyn FnMut(DecodeItem)) -> Self {
        Decoder {
            opts,
            sink,
            stats: DecodeStats::default(),
            budget: Budget::new(opts.limits.max_decompressed_bytes),
        }
    }

    /// Emits a record.
    pub(crate) fn record(
        &mut self,
        source: Source,
        fields: Map<String, Value>,
        raw: Vec<u8>,
        origin: RecordOrigin,
    ) {
        self.stats.records += 1;
        (self.sink)(DecodeItem::Record(RawRecord {
            source,
            fields,
            raw,
            origin,
        }));
    }

    /// Emits a quarantine item whose original length is `raw.len()`.
    pub(crate) fn quarantine(
        &mut self,
        reason: &'static str,
        detail: String,
        origin: RecordOrigin,
        raw: &[u8],
    ) {
        self.quarantine_len(reason, detail, origin, raw, raw.len() as u64);
    }

    /// Emits a quarantine item whose original length is `raw_len` (at least `raw.len()`): `raw`
    /// may be a prefix of the record.
    pub(crate) fn quarantine_len(
        &mut self,
        reason: &'static str,
        detail: String,
        origin: RecordOrigin,
        raw: &[u8],
        raw_len: u64,
    ) {
        let q = make_quarantine(
            STAGE,
            reason,
            detail,
            origin,
            raw,
            raw_len,
            self.opts.limits.quarantine_raw_cap,
        );
        self.pass_quarantine(q);
    }

    /// Emits a quarantine item built elsewhere (`shrike-ingest`'s).
    pub(crate) fn pass_quarantine(&mut self, q: Quarantined) {
        self.stats.quarantined += 1;
        (self.sink)(DecodeItem::Quarantined(q));
    }

    /// A read error on a stream: the decompression budget, a damaged archive, or an I/O failure.
    /// `raw` is the partial record being read, if any.
    pub(crate) fn read_error(
        &mut self,
        e: &io::Error,
        loc: &Loc,
        index: Option<u64>,
        offset: Option<u64>,
        raw: &[u8],
    ) {
        let origin = loc.origin(index, offset);
        let at = match index {
            Some(i) => format!(" at record {i}"),
            None => String::new(),
        };
        if self.budget.exceeded.get() {
            let detail = format!(
                "{}: decompressed data exceeds the {}-byte limit{at}; the rest of the file was not read",
                loc.display(),
                self.budget.limit
            );
            self.quarantine(REASON_ARCHIVE_TOO_LARGE, detail, origin, raw);
        } else if loc.in_archive {
            let reason = if e.kind() == io::ErrorKind::UnexpectedEof {
                REASON_ARCHIVE_TRUNCATED
            } else {
                REASON_ARCHIVE_INVALID
            };
            let detail = format!(
                "{}: compressed stream or archive {}{at}: {e}; records before this point were decoded",
                loc.display(),
                if reason == REASON_ARCHIVE_TRUNCATED {
                    "truncated"
                } else {
                    "corrupt"
                }
            );
            self.quarantine(reason, detail, origin, raw);
        } else {
            let detail = format!("reading {}{at}: {e}", loc.display());
            self.quarantine("io", detail, origin, raw);
        }
    }
}

pub(crate) const REASON_ARCHIVE_TRUNCATED: &str = "archive_truncated";
pub(crate) const REASON_ARCHIVE_INVALID: &str = "archive_invalid";
pub(crate) const REASON_ARCHIVE_TOO_LARGE: &str = "archive_too_large";

/// Builds a quarantine item like `shrike_ingest::quarantine`: raw bytes base64, cut at `cap`.
pub(crate) fn make_quarantine(
    stage: &str,
    reason: &str,
    detail: String,
    origin: RecordOrigin,
    raw: &[u8],
    raw_len: u64,
    cap: usize,
) -> Quarantined {
    let raw_len = raw_len.max(raw.len() as u64);
    let kept = raw.get(..cap).unwrap_or(raw);
    Quarantined {
        stage: stage.to_owned(),
        reason: reason.to_owned(),
        detail,
        origin,
        raw_len,
        raw_b64: base64::engine::general_purpose::STANDARD.encode(kept),
        raw_truncated: (kept.len() as u64) < raw_len,
    }
}

/// `record 3` for details.
pub(crate) fn record_label(index: u64) -> String {
    format!("record {index}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.as_str()), Some(f));
        }
        assert_eq!(Format::parse("Zeek_TSV"), Some(Format::ZeekTsv));
        assert_eq!(Format::parse("ndjson"), Some(Format::Json));
        assert_eq!(Format::parse("pcap"), None);
    }

    #[test]
    fn stats_add_up() {
        let a = DecodeStats {
            files: 1,
            records: 2,
            quarantined: 3,
            bytes_read: 4,
        };
        let b = a + a;
        assert_eq!(b.records, 4);
        let mut c = DecodeStats::default();
        c += b;
        assert_eq!(c, b);
    }

    #[test]
    fn quarantine_caps_raw() {
        let q = make_quarantine(
            STAGE,
            "json_invalid",
            "x".into(),
            RecordOrigin::default(),
            b"abcdef",
            6,
            4,
        );
        assert_eq!(q.raw_b64, "YWJjZA==");
        assert!(q.raw_truncated);
        assert_eq!(q.raw_len, 6);
    }
}

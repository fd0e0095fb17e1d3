//! Reading paths and streams: format detection, directories, archives, and the record /
//! quarantine sink.
//!
//! Every record, and every unit that could not be read, becomes one [`Item`], in a deterministic
//! order (directories sorted by path, archives and streams in their own order); a stream that
//! yields nothing at all (an empty file, a CSV with only a header) is reported as `empty`. Only an I/O error on the top-level path is an
//! `Err`; everything below it (an unreadable directory entry, a corrupt archive member, a bad
//! record) is quarantined and the walk goes on.
//!
//! Origins: `path` is the file (or archive) path as reached from the argument; `member` is the
//! archive member path (`outer/inner.tar!member` for nested archives); `index` is the 0-based
//! position of a record in a multi-record stream (mbox, NDJSON, JSON array, CSV); `offset` is the
//! record's byte offset in its file or member for stream records, and the position of a
//! member's data in the decompressed archive for a message that is a whole member.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use shrike_types::{EmailRecord, Label, Quarantined, RecordOrigin};

use crate::csv_input::{looks_like_header, read_csv, CsvItem};
use crate::email_log::{parse_email_log_inner, JsonSplitter, JsonUnit};
use crate::error::IngestError;
use crate::mbox::{unescape_from_lines, MboxMessage, MboxSplitter};
use crate::message::parse_message;
use crate::options::{InputFormat, ReadOptions};
use crate::quarantine::quarantine;

/// What a reader produces for each input unit.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // Moved once into the sink; boxing would cost an allocation per record.
pub enum Item {
    /// A record that was read.
    Record(EmailRecord),
    /// A unit that could not be read.
    Quarantined(Quarantined),
}

/// Counts for one read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Records produced.
    pub records: u64,
    /// Quarantine items produced.
    pub quarantined: u64,
    /// Quarantine items per reason code.
    pub by_reason: BTreeMap<String, u64>,
}

/// How many archive / compression layers are followed (`.tar.xz` is two).
const MAX_NESTING: u32 = 6;
/// Bytes looked at to detect a stream's format.
const SNIFF_BYTES: usize = 8192;
/// liblzma's memory limit for one `.xz` stream (`xz -9` needs 65 MiB).
const XZ_MEMLIMIT: u64 = 256 * 1024 * 1024;

/// Reads one path: a file (message, mbox, JSON, CSV, archive, compressed file), a directory
/// (recursively, sorted by path, hidden entries skipped) or `-` for stdin, calling `sink` for
/// every record and quarantine item in order.
///
/// # Errors
/// Only an I/O error on `path` itself (not found, permission denied); everything else is an
/// [`Item::Quarantined`].
pub fn read_path(
    path: &Path,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(Item),
) -> Result<ReadStats, IngestError> {
    if path.as_os_str() == "-" {
        return read_reader("-", io::stdin().lock(), opts, sink);
    }
    let shown = path.to_string_lossy().into_owned();
    let meta = fs::metadata(path).map_err(|e| IngestError::io(shown.clone(), e))?;
    let mut r = Reader::new(opts, sink);
    if meta.is_dir() {
        let root_parts: Vec<String> = name_of(path).into_iter().collect();
        let entries = sorted_entries(path).map_err(|e| IngestError::io(shown, e))?;
        r.walk_dir(path, entries, &root_parts);
    } else {
        let mut file = File::open(path).map_err(|e| IngestError::io(shown.clone(), e))?;
        let parent_parts: Vec<String> = path.parent().and_then(name_of).into_iter().collect();
        let loc = Loc::file(
            shown,
            name_of(path).unwrap_or_default(),
            meta.len(),
            parent_parts,
            opts,
        );
        r.read_stream(&mut file, &loc);
    }
    Ok(r.stats)
}

/// Reads a stream of unknown kind (stdin, an HTTP body) named `name`: like a file of that name.
///
/// # Errors
/// None at present (read errors are quarantined); the `Result` leaves room for setup failures.
pub fn read_reader(
    name: &str,
    mut reader: impl Read,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(Item),
) -> Result<ReadStats, IngestError> {
    let mut r = Reader::new(opts, sink);
    let p = Path::new(name);
    let file_name = name_of(p).unwrap_or_else(|| name.to_owned());
    let parent_parts: Vec<String> = p.parent().and_then(name_of).into_iter().collect();
    let mut loc = Loc::file(name.to_owned(), file_name, 0, parent_parts, opts);
    loc.size = None;
    r.read_stream(&mut reader, &loc);
    Ok(r.stats)
}

fn name_of(p: &Path) -> Option<String> {
    p.file_name().map(|n| n.to_string_lossy().into_owned())
}

fn sorted_entries(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut v = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden {
            v.push(entry.path());
        }
    }
    v.sort();
    Ok(v)
}

/// The first recognised label among `parts` (innermost first). Purely numeric components (`2015`,
/// `1`) are skipped: `Label::parse` reads `0`/`1` as label values, not folder names.
fn label_of(parts: &[String]) -> Option<Label> {
    parts
        .iter()
        .filter(|p| !p.is_empty() && !p.bytes().all(|b| b.is_ascii_digit()))
        .find_map(|p| Label::parse(p))
}

/// An archive or compressed file's name without its archive suffixes.
fn archive_stem(name: &str) -> &str {
    let lower = name.to_ascii_lowercase();
    for suffix in [".tar.xz", ".tar.gz", ".tar", ".tgz", ".txz", ".xz", ".gz"] {
        if lower.ends_with(suffix) {
            return name.get(..name.len() - suffix.len()).unwrap_or(name);
        }
    }
    name
}

/// Where a stream is, and what records read from it inherit.
#[derive(Debug, Clone)]
struct Loc {
    /// `origin.path`.
    path: String,
    /// `origin.member`.
    member: Option<String>,
    /// Record id base: member path, path relative to the walked directory, or file name.
    id_base: String,
    /// File name, for extension-based detection.
    name: String,
    /// Label candidates, innermost first (directories, archive names, member directories).
    label_parts: Vec<String>,
    /// Label from `label_parts` when `label_from_path` is on.
    path_label: Option<Label>,
    /// Inside an archive or compressed stream: read errors mean corruption.
    in_archive: bool,
    /// Offset to report for a record that is this whole stream.
    offset: Option<u64>,
    /// Size when known (file system, tar header).
    size: Option<u64>,
    /// Archive / compression layers entered so far.
    depth: u32,
}

impl Loc {
    fn file(
        path: String,
        id_base: String,
        size: u64,
        label_parts: Vec<String>,
        opts: &ReadOptions,
    ) -> Loc {
        let path_label = if opts.label_from_path {
            label_of(&label_parts)
        } else {
            None
        };
        Loc {
            path,
            member: None,
            name: id_base.rsplit('/').next().unwrap_or(&id_base).to_owned(),
            id_base,
            label_parts,
            path_label,
            in_archive: false,
            offset: Some(0),
            size: Some(size),
            depth: 0,
        }
    }

    fn origin(&self, index: Option<u64>, offset: Option<u64>) -> RecordOrigin {
        RecordOrigin {
            path: self.path.clone(),
            member: self.member.clone(),
            index,
            offset,
        }
    }

    fn id(&self, index: Option<u64>) -> String {
        match index {
            Some(i) => format!("{}#{i}", self.id_base),
            None => self.id_base.clone(),
        }
    }
}

/// What a stream reader tells its archive: go on, or the underlying stream is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// How a stream was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Empty,
    Gzip,
    Xz,
    Tar,
    Eml,
    /// Messages separated by `From ` lines; `forced` keeps indexes even for one message.
    Mbox {
        forced: bool,
    },
    Json {
        ndjson: bool,
    },
    Csv,
}

fn detect(prefix: &[u8], name: &str, format: InputFormat) -> Kind {
    if prefix.is_empty() {
        return Kind::Empty;
    }
    if prefix.starts_with(&[0x1f, 0x8b]) {
        return Kind::Gzip;
    }
    if prefix.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        return Kind::Xz;
    }
    if prefix.get(257..262) == Some(b"ustar") {
        return Kind::Tar;
    }
    let lower = name.to_ascii_lowercase();
    let ndjson = lower.ends_with(".ndjson") || lower.ends_with(".jsonl");
    match format {
        InputFormat::Eml => return Kind::Eml,
        InputFormat::Mbox => return Kind::Mbox { forced: true },
        InputFormat::Json => return Kind::Json { ndjson },
        InputFormat::Csv => return Kind::Csv,
        InputFormat::Auto => {}
    }
    if ndjson || lower.ends_with(".json") {
        return Kind::Json { ndjson };
    }
    if lower.ends_with(".csv") {
        return Kind::Csv;
    }
    if lower.ends_with(".mbox") || lower.ends_with(".mbx") {
        return Kind::Mbox { forced: true };
    }
    if lower.ends_with(".eml") || lower.ends_with(".mail") {
        // One message by definition, even when a bounce quotes an unescaped `From ` line.
        return Kind::Eml;
    }
    let body = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        return Kind::Eml; // whitespace only: parse_message says `empty`
    };
    let rest = body.get(start..).unwrap_or_default();
    if matches!(rest.first(), Some(b'{' | b'[')) {
        return Kind::Json { ndjson: false };
    }
    let first_line = rest
        .split(|&b| b == b'\n' || b == b'\r')
        .next()
        .unwrap_or_default();
    if rest.starts_with(b"From ") {
        return Kind::Mbox { forced: false };
    }
    if looks_like_header(first_line) {
        return Kind::Csv;
    }
    Kind::Eml
}

/// Fails with `UnexpectedEof` when the stream ends before its declared size (a truncated
/// archive member would otherwise look like a short file). Also used by shrike-normalize's
/// containers.
pub struct Exact<'a> {
    inner: &'a mut dyn Read,
    remaining: u64,
}

impl<'a> Exact<'a> {
    /// Reads exactly `size` bytes from `inner` (an archive member of that declared size).
    pub fn new(inner: &'a mut dyn Read, size: u64) -> Exact<'a> {
        Exact {
            inner,
            remaining: size,
        }
    }
}

impl Read for Exact<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(buf.get_mut(..want).unwrap_or_default())?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("archive member ends {} bytes early", self.remaining),
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Reads until `buf` holds `want` bytes or the stream ends.
fn fill_prefix(reader: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> io::Result<()> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    while buf.len() < want {
        let room = (want - buf.len()).min(chunk.len());
        match reader.read(chunk.get_mut(..room).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The walk's state: options, sink and counts.
struct Reader<'a> {
    opts: &'a ReadOptions,
    sink: &'a mut dyn FnMut(Item),
    stats: ReadStats,
}

impl<'a> Reader<'a> {
    fn new(opts: &'a ReadOptions, sink: &'a mut dyn FnMut(Item)) -> Self {
        Reader {
            opts,
            sink,
            stats: ReadStats::default(),
        }
    }

    /// Emits a record, applying id, label and source rules.
    fn record(&mut self, mut rec: EmailRecord, loc: &Loc, own_id: bool) {
        if !own_id {
            rec.id = loc.id(rec.origin.index);
        }
        if rec.label.is_none() {
            rec.label = self.opts.label.or(loc.path_label);
        }
        if rec.source.is_none() {
            rec.source.clone_from(&self.opts.source);
        }
        self.stats.records += 1;
        (self.sink)(Item::Record(rec));
    }

    fn quarantine(&mut self, err: &IngestError, origin: RecordOrigin, raw: &[u8]) {
        let q = quarantine("ingest", err, origin, raw, &self.opts.limits);
        self.stats.quarantined += 1;
        *self.stats.by_reason.entry(q.reason.clone()).or_insert(0) += 1;
        (self.sink)(Item::Quarantined(q));
    }

    /// A read error on a stream: corruption inside archives, an I/O failure otherwise.
    fn stream_error(&mut self, e: io::Error, loc: &Loc, origin: RecordOrigin, raw: &[u8]) {
        let err = if loc.in_archive {
            IngestError::ArchiveCorrupt(e.to_string())
        } else {
            IngestError::io(format!("reading {origin}"), e)
        };
        self.quarantine(&err, origin, raw);
    }

    fn walk_dir(&mut self, root: &Path, entries: Vec<PathBuf>, root_parts: &[String]) {
        // Depth-first in sorted order; a stack instead of recursion keeps deep trees safe.
        let mut stack: Vec<PathBuf> = entries.into_iter().rev().collect();
        while let Some(path) = stack.pop() {
            let shown = path.to_string_lossy().into_owned();
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let rel_id = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let origin = RecordOrigin {
                path: shown.clone(),
                ..RecordOrigin::default()
            };
            let meta = match fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    self.quarantine(&IngestError::io(shown, e), origin, &[]);
                    continue;
                }
            };
            let is_link = fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
            if meta.is_dir() {
                if is_link {
                    // Symlinked directories can form cycles; they are not followed.
                    continue;
                }
                match sorted_entries(&path) {
                    Ok(children) => stack.extend(children.into_iter().rev()),
                    Err(e) => self.quarantine(&IngestError::io(shown, e), origin, &[]),
                }
                continue;
            }
            if !meta.is_file() {
                continue;
            }
            let mut parts: Vec<String> = rel
                .parent()
                .map(|p| {
                    p.components()
                        .rev()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            parts.extend(root_parts.iter().cloned());
            match File::open(&path) {
                Ok(mut file) => {
                    let loc = Loc::file(shown, rel_id, meta.len(), parts, self.opts);
                    self.read_stream(&mut file, &loc);
                }
                Err(e) => self.quarantine(&IngestError::io(shown, e), origin, &[]),
            }
        }
    }

    /// Reads one stream of unknown kind.
    fn read_stream(&mut self, reader: &mut dyn Read, loc: &Loc) -> Flow {
        let mut prefix = Vec::with_capacity(SNIFF_BYTES);
        if let Err(e) = fill_prefix(reader, &mut prefix, SNIFF_BYTES) {
            self.stream_error(e, loc, loc.origin(None, loc.offset), &prefix);
            return Flow::Stop;
        }
        let kind = detect(&prefix, &loc.name, self.opts.format);
        let mut whole = io::Cursor::new(prefix).chain(reader);
        match kind {
            Kind::Empty => {
                self.quarantine(&IngestError::Empty, loc.origin(None, loc.offset), &[]);
                Flow::Continue
            }
            Kind::Gzip | Kind::Xz | Kind::Tar if loc.depth >= MAX_NESTING => {
                let err = IngestError::ArchiveTooDeep { limit: MAX_NESTING };
                self.quarantine(&err, loc.origin(None, loc.offset), &[]);
                Flow::Continue
            }
            Kind::Gzip => {
                let mut dec = flate2::read::MultiGzDecoder::new(whole);
                self.read_stream(&mut dec, &decompressed(loc))
            }
            Kind::Xz => {
                let stream = match liblzma::stream::Stream::new_stream_decoder(
                    XZ_MEMLIMIT,
                    liblzma::stream::CONCATENATED,
                ) {
                    Ok(s) => s,
                    Err(e) => {
                        let err = IngestError::ArchiveCorrupt(format!("xz decoder: {e}"));
                        self.quarantine(&err, loc.origin(None, loc.offset), &[]);
                        return Flow::Continue;
                    }
                };
                let mut dec = liblzma::read::XzDecoder::new_stream(whole, stream);
                self.read_stream(&mut dec, &decompressed(loc))
            }
            Kind::Tar => self.read_tar(&mut whole, loc),
            Kind::Eml => self.read_single(&mut whole, loc),
            Kind::Mbox { forced } => self.read_mbox(&mut whole, loc, forced),
            Kind::Json { ndjson } => self.read_json(&mut whole, loc, ndjson),
            Kind::Csv => self.read_csv_stream(&mut whole, loc),
        }
    }

    /// One message: the whole stream, bounded by the message limit.
    fn read_single(&mut self, reader: &mut dyn Read, loc: &Loc) -> Flow {
        let limits = &self.opts.limits;
        let origin = loc.origin(None, loc.offset);
        let limit = limits.max_message_bytes;
        if let Some(size) = loc.size.filter(|s| *s > limit as u64) {
            // Known to be too large: keep the quarantine prefix, read nothing more.
            let mut raw = Vec::new();
            let cap = limits.quarantine_raw_cap as u64;
            if let Err(e) = reader.take(cap).read_to_end(&mut raw) {
                self.stream_error(e, loc, origin, &raw);
                return Flow::Stop;
            }
            let err = IngestError::MessageTooLarge {
                size,
                limit,
                size_is_exact: true,
            };
            self.quarantine(&err, origin, &raw);
            return Flow::Continue;
        }
        let mut raw = Vec::with_capacity(loc.size.map_or(16 * 1024, |s| {
            usize::try_from(s).unwrap_or(0).saturating_add(1)
        }));
        if let Err(e) = reader.take(limit as u64 + 1).read_to_end(&mut raw) {
            self.stream_error(e, loc, origin, &raw);
            return Flow::Stop;
        }
        if raw.len() > limit {
            let err = IngestError::MessageTooLarge {
                size: raw.len() as u64,
                limit,
                size_is_exact: false,
            };
            self.quarantine(&err, origin, &raw);
            return Flow::Continue;
        }
        self.message(&raw, loc, origin);
        Flow::Continue
    }

    fn message(&mut self, raw: &[u8], loc: &Loc, origin: RecordOrigin) {
        match parse_message(raw, origin.clone(), &self.opts.limits) {
            Ok(rec) => self.record(rec, loc, false),
            Err(e) => self.quarantine(&e, origin, raw),
        }
    }

    fn mbox_message(&mut self, mut m: MboxMessage, loc: &Loc, index: Option<u64>) {
        let origin = loc.origin(index, Some(m.offset));
        if m.oversize {
            let err = IngestError::MessageTooLarge {
                size: m.len,
                limit: self.opts.limits.max_message_bytes,
                size_is_exact: true,
            };
            self.quarantine(&err, origin, &m.data);
            return;
        }
        if index.is_some() {
            unescape_from_lines(&mut m.data);
        }
        // A single message read as the whole stream keeps the stream's offset.
        let origin = if index.is_none() {
            loc.origin(None, loc.offset)
        } else {
            origin
        };
        self.message(&m.data, loc, origin);
    }

    /// An mbox; when not `forced`, a stream holding one message is that message (no index).
    fn read_mbox(&mut self, reader: &mut dyn Read, loc: &Loc, forced: bool) -> Flow {
        let limits = &self.opts.limits;
        let mut buffered = BufReader::with_capacity(64 * 1024, reader);
        let mut splitter = MboxSplitter::new(
            &mut buffered,
            limits.max_message_bytes,
            limits.quarantine_raw_cap,
        );
        let mut held: Option<MboxMessage> = None;
        let mut count = 0u64;
        loop {
            match splitter.next_message() {
                Ok(Some(m)) => {
                    if !forced && count == 0 {
                        held = Some(m);
                    } else {
                        if let Some(first) = held.take() {
                            self.mbox_message(first, loc, Some(0));
                        }
                        self.mbox_message(m, loc, Some(count));
                    }
                    count += 1;
                }
                Ok(None) => {
                    if let Some(only) = held.take() {
                        self.mbox_message(only, loc, None);
                    }
                    if count == 0 {
                        self.quarantine(&IngestError::Empty, loc.origin(None, loc.offset), &[]);
                    }
                    return Flow::Continue;
                }
                Err(e) => {
                    if let Some(first) = held.take() {
                        self.mbox_message(first, loc, Some(0));
                    }
                    let partial = splitter.take_partial();
                    let offset = partial.as_ref().map(|p| p.offset);
                    let raw = partial.map(|p| p.data).unwrap_or_default();
                    self.stream_error(e, loc, loc.origin(Some(count), offset), &raw);
                    return Flow::Stop;
                }
            }
        }
    }

    fn json_unit(&mut self, unit: JsonUnit, loc: &Loc, index: Option<u64>) {
        let limit = self.opts.limits.max_json_record_bytes;
        match unit {
            JsonUnit::Garbage { bytes, offset } => {
                let err = IngestError::JsonInvalid {
                    record: record_label(index),
                    detail: "expected a JSON object".to_owned(),
                };
                self.quarantine(&err, loc.origin(index, Some(offset)), &bytes);
            }
            JsonUnit::Record {
                bytes,
                offset,
                size,
            } => {
                let origin = loc.origin(index, Some(offset));
                if size > limit as u64 {
                    let err = IngestError::RecordTooLarge {
                        record: record_label(index),
                        size,
                        limit,
                    };
                    self.quarantine(&err, origin, &bytes);
                    return;
                }
                let value: serde_json::Value = match serde_json::from_slice(&bytes) {
                    Ok(v) => v,
                    Err(e) => {
                        let err = IngestError::JsonInvalid {
                            record: record_label(index),
                            detail: e.to_string(),
                        };
                        self.quarantine(&err, origin, &bytes);
                        return;
                    }
                };
                match parse_email_log_inner(&value, origin.clone()) {
                    Ok((rec, own_id)) => self.record(rec, loc, own_id),
                    Err(e) => self.quarantine(&e, origin, &bytes),
                }
            }
        }
    }

    /// Email-log JSON: an array (records indexed), NDJSON (indexed) or a single object (not).
    fn read_json(&mut self, reader: &mut dyn Read, loc: &Loc, ndjson: bool) -> Flow {
        let limits = &self.opts.limits;
        let mut buffered = BufReader::with_capacity(64 * 1024, reader);
        let is_array = match buffered.fill_buf() {
            Ok(buf) => {
                buf.iter()
                    .find(|b| !b.is_ascii_whitespace() && !matches!(b, 0xEF | 0xBB | 0xBF))
                    == Some(&b'[')
            }
            Err(_) => false,
        };
        let indexed = ndjson || is_array;
        let mut splitter = JsonSplitter::new(
            &mut buffered,
            ndjson,
            limits.max_json_record_bytes,
            limits.quarantine_raw_cap,
        );
        let mut held: Option<JsonUnit> = None;
        let mut count = 0u64;
        loop {
            match splitter.next_unit() {
                Ok(Some(unit)) => {
                    if !indexed && count == 0 {
                        held = Some(unit);
                    } else {
                        if let Some(first) = held.take() {
                            self.json_unit(first, loc, Some(0));
                        }
                        self.json_unit(unit, loc, Some(count));
                    }
                    count += 1;
                }
                Ok(None) => {
                    if let Some(only) = held.take() {
                        self.json_unit(only, loc, None);
                    }
                    if count == 0 {
                        self.quarantine(&IngestError::Empty, loc.origin(None, loc.offset), &[]);
                    }
                    return Flow::Continue;
                }
                Err(e) => {
                    if let Some(first) = held.take() {
                        self.json_unit(first, loc, Some(0));
                    }
                    self.stream_error(e, loc, loc.origin(Some(count), None), &[]);
                    return Flow::Stop;
                }
            }
        }
    }

    fn read_csv_stream(&mut self, reader: &mut dyn Read, loc: &Loc) -> Flow {
        let base = loc.origin(None, None);
        let max = self.opts.limits.max_message_bytes;
        match read_csv(reader, &base, max, &mut |item| self.csv_item(item, loc)) {
            Ok(()) => Flow::Continue,
            Err(e) => {
                self.stream_error(e, loc, loc.origin(None, None), &[]);
                Flow::Stop
            }
        }
    }

    fn csv_item(&mut self, item: CsvItem, loc: &Loc) {
        match item {
            CsvItem::Record(rec) => self.record(rec, loc, false),
            CsvItem::Bad(err, origin, raw) => self.quarantine(&err, origin, &raw),
        }
    }

    fn read_tar(&mut self, reader: &mut dyn Read, loc: &Loc) -> Flow {
        let mut archive = tar::Archive::new(reader);
        let entries = match archive.entries() {
            Ok(e) => e,
            Err(e) => {
                self.quarantine(
                    &IngestError::ArchiveCorrupt(e.to_string()),
                    loc.origin(None, None),
                    &[],
                );
                return Flow::Stop;
            }
        };
        let archive_name = loc.name.clone();
        let mut members = 0u64;
        let mut last_member: Option<String> = None;
        for entry in entries {
            let mut entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let mut origin = loc.origin(None, None);
                    if let Some(m) = &last_member {
                        origin.member = Some(format!("{m} (after)"));
                    }
                    self.quarantine(&IngestError::ArchiveCorrupt(e.to_string()), origin, &[]);
                    return Flow::Stop;
                }
            };
            let kind = entry.header().entry_type();
            if !(kind.is_file() || kind.is_contiguous()) {
                continue;
            }
            let member_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let member_path = member_path.trim_start_matches("./").to_owned();
            let file_name = member_path
                .rsplit('/')
                .next()
                .unwrap_or(&member_path)
                .to_owned();
            if file_name.starts_with('.') || file_name.is_empty() {
                continue;
            }
            members += 1;
            if members > self.opts.limits.max_archive_members {
                let err = IngestError::TooManyMembers {
                    limit: self.opts.limits.max_archive_members,
                };
                self.quarantine(&err, loc.origin(None, None), &[]);
                return Flow::Continue;
            }
            let full_member = match &loc.member {
                Some(outer) => format!("{outer}!{member_path}"),
                None => member_path.clone(),
            };
            let mut label_parts: Vec<String> = member_path
                .rsplit('/')
                .skip(1)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect();
            label_parts.push(archive_stem(&archive_name).to_owned());
            label_parts.extend(loc.label_parts.iter().cloned());
            let size = entry.size();
            if size > self.opts.limits.max_member_bytes {
                let err = IngestError::MemberTooLarge {
                    size,
                    limit: self.opts.limits.max_member_bytes,
                };
                let mut origin = loc.origin(None, Some(entry.raw_file_position()));
                origin.member = Some(match &loc.member {
                    Some(outer) => format!("{outer}!{member_path}"),
                    None => member_path.clone(),
                });
                self.quarantine(&err, origin, &[]);
                // This archive is abandoned; whatever encloses it can go on.
                return Flow::Continue;
            }
            let mloc = Loc {
                path: loc.path.clone(),
                member: Some(full_member.clone()),
                id_base: full_member.clone(),
                name: file_name,
                path_label: if self.opts.label_from_path {
                    label_of(&label_parts)
                } else {
                    None
                },
                label_parts,
                in_archive: true,
                offset: Some(entry.raw_file_position()),
                size: Some(size),
                depth: loc.depth + 1,
            };
            last_member = Some(full_member);
            let mut exact = Exact {
                inner: &mut entry,
                remaining: size,
            };
            if self.read_stream(&mut exact, &mloc) == Flow::Stop {
                return Flow::Stop;
            }
            // Skip what the member reader left (an oversize message), noticing truncation.
            if let Err(e) = io::copy(&mut exact, &mut io::sink()) {
                self.stream_error(e, &mloc, mloc.origin(None, mloc.offset), &[]);
                return Flow::Stop;
            }
        }
        if members == 0 {
            // No regular file in it: say so rather than produce nothing.
            self.quarantine(&IngestError::Empty, loc.origin(None, loc.offset), &[]);
        }
        Flow::Continue
    }
}

/// The `Loc` of a decompressed stream: same place, one layer deeper, name without `.gz`/`.xz`.
fn decompressed(loc: &Loc) -> Loc {
    let mut inner = loc.clone();
    inner.in_archive = true;
    inner.size = None;
    inner.depth += 1;
    let lower = inner.name.to_ascii_lowercase();
    if lower.ends_with(".tgz") || lower.ends_with(".txz") {
        let keep = inner.name.len() - 4;
        inner.name = format!("{}.tar", inner.name.get(..keep).unwrap_or_default());
    } else if lower.ends_with(".gz") || lower.ends_with(".xz") {
        let keep = inner.name.len() - 3;
        inner.name = inner.name.get(..keep).unwrap_or_default().to_owned();
    }
    inner
}

fn record_label(index: Option<u64>) -> String {
    match index {
        Some(i) => format!("record {i}"),
        None => "record".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_from_parts() {
        let parts = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            label_of(&parts(&["easy_ham", "spamassassin_easy_ham"])),
            Some(Label::Ham)
        );
        assert_eq!(
            label_of(&parts(&[
                "2015",
                "nazario_yearly",
                "phishing_nazario_yearly_2015-2020"
            ])),
            Some(Label::Phishing)
        );
        assert_eq!(label_of(&parts(&["1", "x"])), None);
        assert_eq!(
            archive_stem("phishing_pot_2023.tar.xz"),
            "phishing_pot_2023"
        );
        assert_eq!(archive_stem("a.tgz"), "a");
        assert_eq!(archive_stem("a.eml"), "a.eml");
    }

    #[test]
    fn detection() {
        let auto = InputFormat::Auto;
        assert_eq!(detect(b"", "x", auto), Kind::Empty);
        assert_eq!(detect(b"\x1f\x8b\x08", "x", auto), Kind::Gzip);
        assert_eq!(
            detect(b"From a@b Thu Aug 22 12:36:23 2002\n", "00001.abc", auto),
            Kind::Mbox { forced: false }
        );
        assert_eq!(
            detect(b"Return-Path: <a@b>\n", "x.mbox", auto),
            Kind::Mbox { forced: true }
        );
        assert_eq!(
            detect(b"  [{\"a\":1}]", "x", auto),
            Kind::Json { ndjson: false }
        );
        assert_eq!(detect(b"{}", "x.jsonl", auto), Kind::Json { ndjson: true });
        assert_eq!(
            detect(b"sender,receiver,date,subject,body,urls,label\n", "x", auto),
            Kind::Csv
        );
        assert_eq!(detect(b"Subject: x\n\nb", "x.txt", auto), Kind::Eml);
        assert_eq!(
            detect(b"From a@b Thu Aug 22 12:36:23 2002\n", "x.eml", auto),
            Kind::Eml
        );
        assert_eq!(
            detect(b"Subject: x\n\nb", "x.json", InputFormat::Eml),
            Kind::Eml
        );
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(detect(&tar, "x", auto), Kind::Tar);
    }
}

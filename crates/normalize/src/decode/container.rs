//! Containers: directories, gzip, xz, tar and zip, and the content sniffing that routes each
//! leaf stream to its decoder.
//!
//! Compression and archives are always recognised by their magic bytes; the format override and
//! the extension only matter for leaf streams. Decompressed bytes are counted against the input
//! file's [`super::Budget`]; a zip or EVTX that arrives as a non-seekable stream (stdin, a tar
//! member, a gzip stream) is buffered, up to [`MAX_BUFFERED`].

use shrike_ingest::Exact;
use std::fs::{self, File};
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::{
    base_name, email, json, vpcflow, windows, zeek, Budget, Decoder, Flow, Format, Loc,
    REASON_ARCHIVE_INVALID, REASON_ARCHIVE_TOO_LARGE, REASON_ARCHIVE_TRUNCATED,
};

/// Bytes looked at to recognise a stream.
pub(crate) const SNIFF_BYTES: usize = 8192;
/// How many archive / compression layers are followed (`.tar.xz` is two).
const MAX_NESTING: u32 = 6;
/// Largest zip or EVTX buffered in memory when it cannot be read in place.
pub(crate) const MAX_BUFFERED: u64 = 1 << 30;
/// liblzma's memory limit for one `.xz` stream (`xz -9` needs 65 MiB).
const XZ_MEMLIMIT: u64 = 256 * 1024 * 1024;
/// Read buffer for line-oriented decoders.
const LINE_BUFFER: usize = 64 * 1024;

/// `Read + Seek` as one object-safe trait.
pub(crate) trait ReadSeek: Read + Seek {}
impl<T: Read + Seek + ?Sized> ReadSeek for T {}

/// Counts the bytes read through it (`DecodeStats::bytes_read`).
pub(crate) struct Counting<R> {
    inner: R,
    pub(crate) count: u64,
}

impl<R> Counting<R> {
    pub(crate) fn new(inner: R) -> Self {
        Counting { inner, count: 0 }
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Counting<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// Counts decompressed bytes against the file's budget; fails once it is spent.
struct Budgeted<'r> {
    inner: &'r mut dyn Read,
    budget: Rc<Budget>,
}

impl Read for Budgeted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.budget.spend(n) {
            Ok(n)
        } else {
            Err(io::Error::other("decompressed size over the limit"))
        }
    }
}

/// What a stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Empty,
    Gzip,
    Xz,
    Zip,
    Tar,
    Evtx,
    Json,
    ZeekTsv,
    Vpcflow,
    Email,
    Unknown,
}

/// Recognises a stream from its first bytes (`complete`: the prefix is the whole stream).
pub(crate) fn sniff(prefix: &[u8], complete: bool, name: &str, format: Format) -> Kind {
    if prefix.starts_with(&[0x1f, 0x8b]) {
        return Kind::Gzip;
    }
    if prefix.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        return Kind::Xz;
    }
    if prefix.starts_with(b"PK\x03\x04") || prefix.starts_with(b"PK\x05\x06") {
        return Kind::Zip;
    }
    if prefix.starts_with(b"ElfFile\0") {
        return Kind::Evtx;
    }
    if prefix.get(257..262) == Some(b"ustar") {
        return Kind::Tar;
    }
    let body = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    if start.is_none() && complete {
        return Kind::Empty;
    }
    match format {
        Format::Json => return Kind::Json,
        Format::ZeekTsv => return Kind::ZeekTsv,
        Format::Evtx => return Kind::Evtx,
        Format::Vpcflow => return Kind::Vpcflow,
        Format::Email => return Kind::Email,
        Format::Auto => {}
    }
    let rest = body.get(start.unwrap_or(0)..).unwrap_or_default();
    if rest.starts_with(b"#separator")
        || rest.starts_with(b"#fields")
        || rest.starts_with(b"#path")
        || rest.starts_with(b"#set_separator")
    {
        return Kind::ZeekTsv;
    }
    if matches!(rest.first(), Some(b'{' | b'[')) {
        return Kind::Json;
    }
    if vpcflow::looks_like_vpcflow(rest) {
        return Kind::Vpcflow;
    }
    if email::looks_like_email(rest) {
        return Kind::Email;
    }
    // Content gave no answer: the extension breaks the tie.
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".json") || lower.ends_with(".ndjson") || lower.ends_with(".jsonl") {
        Kind::Json
    } else if lower.ends_with(".evtx") {
        Kind::Evtx
    } else if lower.ends_with(".eml") || lower.ends_with(".mbox") || lower.ends_with(".mbx") {
        Kind::Email
    } else if start.is_none() {
        Kind::Empty
    } else {
        Kind::Unknown
    }
}

/// Reads until `buf` holds `want` bytes or the stream ends.
pub(crate) fn fill_prefix(reader: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> io::Result<()> {
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

/// A directory's entries, hidden ones skipped, sorted by path.
pub(crate) fn sorted_entries(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut v = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_name().to_string_lossy().starts_with('.') {
            v.push(entry.path());
        }
    }
    v.sort();
    Ok(v)
}

/// An archive member worth reading: not a directory, not hidden, not macOS resource-fork
/// metadata (`__MACOSX/._x.json` are AppleDouble blobs, not data).
fn member_wanted(path: &str) -> bool {
    let base = base_name(path);
    !(base.is_empty()
        || base.starts_with('.')
        || path.starts_with("__MACOSX/")
        || path.contains("/__MACOSX/"))
}

/// The `Loc` of a decompressed stream: same place, one layer deeper, name without `.gz`/`.xz`.
fn decompressed(loc: &Loc) -> Loc {
    let mut inner = loc.clone();
    inner.in_archive = true;
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

/// The `Loc` of an archive member.
fn member_loc(loc: &Loc, member_path: &str) -> Loc {
    Loc {
        path: loc.path.clone(),
        member: Some(match &loc.member {
            Some(outer) => format!("{outer}!{member_path}"),
            None => member_path.to_owned(),
        }),
        name: base_name(member_path).to_owned(),
        in_archive: true,
        depth: loc.depth + 1,
    }
}

impl Decoder<'_> {
    /// Walks a directory depth-first in sorted order (a stack, not recursion: deep trees are
    /// safe). Unreadable entries are quarantined with reason `io`.
    pub(crate) fn walk_dir(&mut self, entries: Vec<PathBuf>) {
        let mut stack: Vec<PathBuf> = entries.into_iter().rev().collect();
        while let Some(path) = stack.pop() {
            let shown = path.to_string_lossy().into_owned();
            let origin = Loc::top(&shown).origin(None, None);
            let meta = match fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    self.quarantine("io", format!("reading {shown}: {e}"), origin, &[]);
                    continue;
                }
            };
            if meta.is_dir() {
                let is_link = fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
                if is_link {
                    // Symlinked directories can form cycles; they are not followed.
                    continue;
                }
                match sorted_entries(&path) {
                    Ok(children) => stack.extend(children.into_iter().rev()),
                    Err(e) => self.quarantine("io", format!("reading {shown}: {e}"), origin, &[]),
                }
                continue;
            }
            if !meta.is_file() {
                continue;
            }
            match File::open(&path) {
                Ok(file) => self.decode_file(file, &path, meta.len()),
                Err(e) => self.quarantine("io", format!("opening {shown}: {e}"), origin, &[]),
            }
        }
    }

    /// Decodes one opened file with a fresh decompression budget.
    pub(crate) fn decode_file(&mut self, file: File, path: &Path, len: u64) {
        self.stats.files += 1;
        self.budget = Budget::new(self.opts.limits.max_decompressed_bytes);
        if self.opts.format == Format::Email {
            email::decode_whole_path(self, path);
            self.stats.bytes_read += len;
            return;
        }
        let shown = path.to_string_lossy().into_owned();
        let loc = Loc::top(&shown);
        let mut counting = Counting::new(file);
        self.decode_seekable(&mut counting, &loc);
        self.stats.bytes_read += counting.count;
    }

    /// Decodes a seekable input: zip and EVTX are read in place, everything else as a stream.
    pub(crate) fn decode_seekable(&mut self, f: &mut dyn ReadSeek, loc: &Loc) -> Flow {
        let Some((kind, prefix)) = self.sniff_input(f, loc) else {
            return Flow::Stop;
        };
        match kind {
            Kind::Zip | Kind::Evtx => {
                if let Err(e) = f.seek(SeekFrom::Start(0)) {
                    self.read_error(&e, loc, None, Some(0), &prefix);
                    return Flow::Stop;
                }
                if kind == Kind::Zip {
                    self.decode_zip(f, loc)
                } else {
                    windows::decode_evtx(self, f, loc);
                    Flow::Continue
                }
            }
            _ => self.dispatch(kind, prefix, f, loc),
        }
    }

    /// Decodes a stream of unknown kind.
    pub(crate) fn decode_stream(&mut self, r: &mut dyn Read, loc: &Loc) -> Flow {
        let Some((kind, prefix)) = self.sniff_input(r, loc) else {
            return Flow::Stop;
        };
        self.dispatch(kind, prefix, r, loc)
    }

    /// Reads the first bytes of an input and decides what it is; `None` (after reporting the
    /// read error) when even that fails.
    fn sniff_input(&mut self, r: &mut dyn Read, loc: &Loc) -> Option<(Kind, Vec<u8>)> {
        let mut prefix = Vec::with_capacity(SNIFF_BYTES);
        if let Err(e) = fill_prefix(r, &mut prefix, SNIFF_BYTES) {
            self.read_error(&e, loc, None, Some(0), &prefix);
            return None;
        }
        let kind = sniff(
            &prefix,
            prefix.len() < SNIFF_BYTES,
            &loc.name,
            self.opts.format,
        );
        Some((kind, prefix))
    }

    /// Routes a stream whose first bytes (`prefix`) were already read from `rest`.
    fn dispatch(&mut self, kind: Kind, prefix: Vec<u8>, rest: &mut dyn Read, loc: &Loc) -> Flow {
        let head_len = prefix.len().min(512);
        let head = prefix.get(..head_len).unwrap_or_default().to_vec();
        let mut whole = Cursor::new(prefix).chain(rest);
        match kind {
            Kind::Empty => {
                let detail = format!("{}: empty input", loc.display());
                self.quarantine("empty", detail, loc.origin(None, None), &[]);
                Flow::Continue
            }
            Kind::Gzip | Kind::Xz | Kind::Tar | Kind::Zip if loc.depth >= MAX_NESTING => {
                let detail = format!(
                    "{}: archives nested more than {MAX_NESTING} levels deep",
                    loc.display()
                );
                self.quarantine("archive_too_deep", detail, loc.origin(None, None), &head);
                Flow::Continue
            }
            Kind::Gzip => {
                let mut dec = flate2::read::MultiGzDecoder::new(whole);
                let mut counted = Budgeted {
                    inner: &mut dec,
                    budget: Rc::clone(&self.budget),
                };
                self.decompressed_stream(&mut counted, loc)
            }
            Kind::Xz => {
                let stream = match liblzma::stream::Stream::new_stream_decoder(
                    XZ_MEMLIMIT,
                    liblzma::stream::CONCATENATED,
                ) {
                    Ok(s) => s,
                    Err(e) => {
                        let detail = format!("{}: xz decoder: {e}", loc.display());
                        self.quarantine(
                            REASON_ARCHIVE_INVALID,
                            detail,
                            loc.origin(None, None),
                            &head,
                        );
                        return Flow::Continue;
                    }
                };
                let mut dec = liblzma::read::XzDecoder::new_stream(whole, stream);
                let mut counted = Budgeted {
                    inner: &mut dec,
                    budget: Rc::clone(&self.budget),
                };
                self.decompressed_stream(&mut counted, loc)
            }
            Kind::Tar => self.decode_tar(&mut whole, loc),
            Kind::Zip | Kind::Evtx => self.decode_buffered(kind, &mut whole, loc),
            Kind::Json => {
                let mut br = BufReader::with_capacity(LINE_BUFFER, whole);
                json::decode(self, &mut br, loc)
            }
            Kind::ZeekTsv => {
                let mut br = BufReader::with_capacity(LINE_BUFFER, whole);
                zeek::decode_tsv(self, &mut br, loc)
            }
            Kind::Vpcflow => {
                let mut br = BufReader::with_capacity(LINE_BUFFER, whole);
                vpcflow::decode_text(self, &mut br, loc)
            }
            Kind::Email => email::decode_stream(self, &mut whole, loc),
            Kind::Unknown => {
                let detail = format!(
                    "{}: not a recognised format (JSON, Zeek TSV, EVTX, VPC Flow Logs, email, or an archive of these)",
                    loc.display()
                );
                self.quarantine("unknown_format", detail, loc.origin(None, Some(0)), &head);
                Flow::Continue
            }
        }
    }

    /// The content of a gzip or xz stream, then the rest of the stream, so that a truncated or
    /// corrupt stream is reported even when its content ended cleanly (a tar archive whose
    /// end-of-archive blocks came before the cut).
    fn decompressed_stream(&mut self, r: &mut dyn Read, loc: &Loc) -> Flow {
        let inner = decompressed(loc);
        if self.decode_stream(r, &inner) == Flow::Stop {
            return Flow::Stop;
        }
        match io::copy(r, &mut io::sink()) {
            Ok(_) => Flow::Continue,
            Err(e) => {
                self.read_error(&e, &inner, None, None, &[]);
                Flow::Stop
            }
        }
    }

    /// A zip or EVTX that arrived as a stream: buffered, then read in place.
    fn decode_buffered(&mut self, kind: Kind, r: &mut dyn Read, loc: &Loc) -> Flow {
        let cap = MAX_BUFFERED.min(self.budget.remaining());
        let mut buf = Vec::new();
        if let Err(e) = r.take(cap.saturating_add(1)).read_to_end(&mut buf) {
            self.read_error(&e, loc, None, Some(0), &[]);
            return Flow::Stop;
        }
        if buf.len() as u64 > cap {
            let detail = format!(
                "{}: {} read from a stream must be buffered and is over the {cap}-byte limit",
                loc.display(),
                if kind == Kind::Zip {
                    "zip archive"
                } else {
                    "EVTX file"
                }
            );
            let head = buf.get(..512).unwrap_or(&buf).to_vec();
            self.quarantine_len(
                REASON_ARCHIVE_TOO_LARGE,
                detail,
                loc.origin(None, Some(0)),
                &head,
                buf.len() as u64,
            );
            // The rest of this stream was not read: whatever encloses it cannot go on.
            return Flow::Stop;
        }
        let mut cursor = Cursor::new(buf);
        if kind == Kind::Zip {
            self.decode_zip(&mut cursor, loc)
        } else {
            windows::decode_evtx(self, &mut cursor, loc);
            Flow::Continue
        }
    }

    fn decode_tar(&mut self, reader: &mut dyn Read, loc: &Loc) -> Flow {
        let mut archive = tar::Archive::new(reader);
        let entries = match archive.entries() {
            Ok(e) => e,
            Err(e) => {
                self.read_error(&e, &as_archive(loc), None, Some(0), &[]);
                return Flow::Stop;
            }
        };
        let mut members = 0usize;
        let mut last_member: Option<String> = None;
        for entry in entries {
            let mut entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let mut at = as_archive(loc);
                    if let Some(m) = &last_member {
                        at.member = Some(format!("{m} (after)"));
                    }
                    self.read_error(&e, &at, None, None, &[]);
                    return Flow::Stop;
                }
            };
            let kind = entry.header().entry_type();
            if !(kind.is_file() || kind.is_contiguous()) {
                continue;
            }
            let member_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let member_path = member_path.trim_start_matches("./").to_owned();
            if !member_wanted(&member_path) {
                continue;
            }
            members += 1;
            if members > self.opts.limits.max_archive_members {
                self.too_many_members(loc);
                return Flow::Continue;
            }
            let mloc = member_loc(loc, &member_path);
            last_member.clone_from(&mloc.member);
            let size = entry.size();
            let mut exact = Exact::new(&mut entry, size);
            if self.decode_stream(&mut exact, &mloc) == Flow::Stop {
                return Flow::Stop;
            }
            // Skip what the member decoder left unread, noticing truncation.
            if let Err(e) = io::copy(&mut exact, &mut io::sink()) {
                self.read_error(&e, &mloc, None, None, &[]);
                return Flow::Stop;
            }
        }
        if members == 0 {
            let detail = format!("{}: archive holds no regular file", loc.display());
            self.quarantine("empty", detail, loc.origin(None, None), &[]);
        }
        Flow::Continue
    }

    fn too_many_members(&mut self, loc: &Loc) {
        let detail = format!(
            "{}: archive has more than {} members; the rest was not read",
            loc.display(),
            self.opts.limits.max_archive_members
        );
        self.quarantine("too_many_members", detail, loc.origin(None, None), &[]);
    }

    /// A zip archive, read through its central directory; a zip whose central directory cannot
    /// be read (a truncated download) is read member by member from the start instead.
    pub(crate) fn decode_zip(&mut self, f: &mut dyn ReadSeek, loc: &Loc) -> Flow {
        if loc.depth >= MAX_NESTING {
            let detail = format!(
                "{}: archives nested more than {MAX_NESTING} levels deep",
                loc.display()
            );
            self.quarantine("archive_too_deep", detail, loc.origin(None, None), &[]);
            return Flow::Continue;
        }
        let mut archive = match zip::ZipArchive::new(&mut *f) {
            Ok(a) => a,
            Err(cd_err) => return self.decode_zip_stream(f, loc, &cd_err),
        };
        let mut members = 0usize;
        for i in 0..archive.len() {
            let listed_name = archive
                .name_for_index(i)
                .and_then(Result::ok)
                .map(|n| n.into_owned())
                .unwrap_or_else(|| format!("#{i}"));
            let mut file = match archive.by_index(i) {
                Ok(file) => file,
                Err(e) => {
                    let mloc = member_loc(loc, &listed_name);
                    let detail = format!("{}: unreadable zip member: {e}", mloc.display());
                    self.quarantine(REASON_ARCHIVE_INVALID, detail, mloc.origin(None, None), &[]);
                    continue;
                }
            };
            if file.is_dir() {
                continue;
            }
            let member_path = String::from_utf8_lossy(file.name_raw()).into_owned();
            if !member_wanted(&member_path) {
                continue;
            }
            members += 1;
            if members > self.opts.limits.max_archive_members {
                self.too_many_members(loc);
                return Flow::Continue;
            }
            let mloc = member_loc(loc, &member_path);
            let mut counted = Budgeted {
                inner: &mut file,
                budget: Rc::clone(&self.budget),
            };
            // A broken member does not stop the others: the central directory says where
            // each one starts. A spent budget does.
            self.decode_stream(&mut counted, &mloc);
            if self.budget.exceeded.get() {
                return Flow::Stop;
            }
        }
        if members == 0 {
            let detail = format!("{}: archive holds no regular file", loc.display());
            self.quarantine("empty", detail, loc.origin(None, None), &[]);
        }
        Flow::Continue
    }

    /// Reads local file headers in order (no central directory), then reports why the central
    /// directory could not be used.
    fn decode_zip_stream(
        &mut self,
        f: &mut dyn ReadSeek,
        loc: &Loc,
        cd_err: &zip::result::ZipError,
    ) -> Flow {
        if let Err(e) = f.seek(SeekFrom::Start(0)) {
            self.read_error(&e, loc, None, Some(0), &[]);
            return Flow::Stop;
        }
        let mut reader = io::BufReader::new(f);
        let mut members = 0usize;
        let mut stream_err: Option<zip::result::ZipError> = None;
        loop {
            let mut file = match zip::read::read_zipfile_from_stream(&mut reader) {
                Ok(Some(file)) => file,
                Ok(None) => break,
                Err(e) => {
                    stream_err = Some(e);
                    break;
                }
            };
            if file.is_dir() {
                continue;
            }
            let member_path = String::from_utf8_lossy(file.name_raw()).into_owned();
            if !member_wanted(&member_path) {
                if let Err(e) = io::copy(&mut file, &mut io::sink()) {
                    stream_err = Some(zip::result::ZipError::Io(e));
                    break;
                }
                continue;
            }
            members += 1;
            if members > self.opts.limits.max_archive_members {
                self.too_many_members(loc);
                return Flow::Continue;
            }
            let mloc = member_loc(loc, &member_path);
            let mut counted = Budgeted {
                inner: &mut file,
                budget: Rc::clone(&self.budget),
            };
            if self.decode_stream(&mut counted, &mloc) == Flow::Stop {
                // The member decoder reported the damage.
                return Flow::Stop;
            }
            if let Err(e) = io::copy(&mut counted, &mut io::sink()) {
                self.read_error(&e, &mloc, None, None, &[]);
                return Flow::Stop;
            }
        }
        let truncated = match &stream_err {
            Some(zip::result::ZipError::Io(e)) => e.kind() == io::ErrorKind::UnexpectedEof,
            Some(_) => false,
            // Every member was read but the central directory is missing: cut inside it.
            None => members > 0,
        };
        let (reason, what) = if truncated {
            (REASON_ARCHIVE_TRUNCATED, "truncated")
        } else {
            (REASON_ARCHIVE_INVALID, "not a readable zip archive")
        };
        let mut detail = format!("{}: zip {what}: central directory: {cd_err}", loc.display());
        if let Some(e) = &stream_err {
            detail.push_str(&format!("; reading members in order: {e}"));
        }
        if members > 0 {
            detail.push_str(&format!(
                "; {members} member(s) before the damage were decoded"
            ));
        }
        self.quarantine(reason, detail, loc.origin(None, None), &[]);
        Flow::Continue
    }
}

/// `loc` as a place whose read errors mean a damaged archive.
fn as_archive(loc: &Loc) -> Loc {
    let mut l = loc.clone();
    l.in_archive = true;
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_magic_then_content_then_name() {
        let a = Format::Auto;
        assert_eq!(sniff(b"\x1f\x8b\x08", true, "x.json", a), Kind::Gzip);
        assert_eq!(sniff(b"PK\x03\x04rest", true, "x", a), Kind::Zip);
        assert_eq!(sniff(b"ElfFile\0....", true, "x", a), Kind::Evtx);
        assert_eq!(sniff(b"  \n", true, "x.json", a), Kind::Empty);
        assert_eq!(sniff(b"", true, "x.json", a), Kind::Empty);
        assert_eq!(sniff(b"\xEF\xBB\xBF{\"a\":1}", true, "x", a), Kind::Json);
        assert_eq!(sniff(b"#separator \\x09\n", true, "x", a), Kind::ZeekTsv);
        assert_eq!(sniff(b"garbage here", true, "x.json", a), Kind::Json);
        assert_eq!(sniff(b"garbage here", true, "x.txt", a), Kind::Unknown);
        assert_eq!(
            sniff(b"{\"a\":1}", true, "x", Format::ZeekTsv),
            Kind::ZeekTsv
        );
    }

    #[test]
    fn member_filter_skips_resource_forks() {
        assert!(member_wanted("a/b.json"));
        assert!(!member_wanted("__MACOSX/._b.json"));
        assert!(!member_wanted("x/.hidden"));
        assert!(!member_wanted("dir/"));
    }

    #[test]
    fn decompressed_names_drop_suffixes() {
        let loc = Loc::top("/d/dns.json.xz");
        assert_eq!(decompressed(&loc).name, "dns.json");
        let loc = Loc::top("x.tgz");
        assert_eq!(decompressed(&loc).name, "x.tar");
    }
}

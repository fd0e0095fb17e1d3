//! Quarantine: unreadable records kept with their reason, origin and raw bytes.
//!
//! [`quarantine`] builds the item (raw bytes base64, cut at [`crate::Limits::quarantine_raw_cap`]);
//! [`QuarantineWriter`] appends items as NDJSON and counts them per reason.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use base64::Engine;
use shrike_types::{Quarantined, RecordOrigin};

use crate::error::IngestError;
use crate::options::Limits;

/// Builds the quarantine item for `err` on the record at `origin` whose raw bytes (or the prefix
/// that was read) are `raw`. `raw_len` is the larger of `raw.len()` and the size the error knows
/// (an oversize message read only up to its limit).
pub fn quarantine(
    stage: &str,
    err: &IngestError,
    origin: RecordOrigin,
    raw: &[u8],
    limits: &Limits,
) -> Quarantined {
    let raw_len = (raw.len() as u64).max(err.known_size().unwrap_or(0));
    let kept = raw.get(..limits.quarantine_raw_cap).unwrap_or(raw);
    Quarantined {
        stage: stage.to_owned(),
        reason: err.reason().to_owned(),
        detail: err.to_string(),
        origin,
        raw_len,
        raw_b64: base64::engine::general_purpose::STANDARD.encode(kept),
        raw_truncated: (kept.len() as u64) < raw_len,
    }
}

/// Appends [`Quarantined`] items to a writer (normally a file) as NDJSON, one per line, and
/// counts them per reason.
#[derive(Debug)]
pub struct QuarantineWriter<W: Write = BufWriter<File>> {
    out: W,
    by_reason: BTreeMap<String, u64>,
}

impl QuarantineWriter<BufWriter<File>> {
    /// Opens `path` for appending, creating it if needed.
    ///
    /// # Errors
    /// The file cannot be opened or created.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(QuarantineWriter::new(BufWriter::new(file)))
    }
}

impl<W: Write> QuarantineWriter<W> {
    /// Wraps a writer.
    pub fn new(out: W) -> Self {
        QuarantineWriter {
            out,
            by_reason: BTreeMap::new(),
        }
    }

    /// Appends one item as a JSON line.
    ///
    /// # Errors
    /// Writing fails.
    pub fn write(&mut self, item: &Quarantined) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, item)?;
        self.out.write_all(b"\n")?;
        *self.by_reason.entry(item.reason.clone()).or_insert(0) += 1;
        Ok(())
    }

    /// Items written so far, per reason.
    pub fn counts(&self) -> &BTreeMap<String, u64> {
        &self.by_reason
    }

    /// Items written so far.
    pub fn total(&self) -> u64 {
        self.by_reason.values().sum()
    }

    /// Flushes buffered lines.
    ///
    /// # Errors
    /// Flushing fails.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and returns the writer.
    ///
    /// # Errors
    /// Flushing fails.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_raw_and_keeps_length() {
        let limits = Limits {
            quarantine_raw_cap: 4,
            ..Limits::default()
        };
        let q = quarantine(
            "ingest",
            &IngestError::Empty,
            RecordOrigin::default(),
            b"abcdef",
            &limits,
        );
        assert_eq!(q.reason, "empty");
        assert_eq!(q.raw_len, 6);
        assert_eq!(q.raw_b64, "YWJjZA==");
        assert!(q.raw_truncated);
        let err = IngestError::MessageTooLarge {
            size: 100,
            limit: 10,
            size_is_exact: true,
        };
        let q = quarantine("ingest", &err, RecordOrigin::default(), b"ab", &limits);
        assert_eq!(q.raw_len, 100);
        assert!(q.raw_truncated);
    }

    #[test]
    fn writer_appends_lines_and_counts() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("q.ndjson");
        let q = quarantine(
            "ingest",
            &IngestError::Empty,
            RecordOrigin::default(),
            b"",
            &Limits::default(),
        );
        let mut w = QuarantineWriter::open(&path)?;
        w.write(&q)?;
        w.write(&q)?;
        assert_eq!(w.counts().get("empty"), Some(&2));
        assert_eq!(w.total(), 2);
        w.flush()?;
        drop(w);
        let mut w = QuarantineWriter::open(&path)?;
        w.write(&q)?;
        w.flush()?;
        let text = std::fs::read_to_string(&path)?;
        assert_eq!(text.lines().count(), 3);
        let back: Quarantined =
            serde_json::from_str(text.lines().next().unwrap_or("")).map_err(io::Error::other)?;
        assert_eq!(back, q);
        Ok(())
    }
}

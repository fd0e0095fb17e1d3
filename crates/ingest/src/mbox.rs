//! mbox streams: messages separated by `From ` lines, read line by line with bounded memory.
//!
//! A separator is a line starting with `From ` whose rest is an envelope sender and an asctime
//! date with a time of day (`From jm@x.org  Thu Aug 22 12:36:23 2002`); a body line such as
//! `From home recordings to ...` is not. Blank lines before separators are not required (some
//! writers omit them). LF, CRLF and lone-CR line ends are all line ends.
//!
//! Each message is buffered up to [`crate::Limits::max_message_bytes`]; past that only the first
//! [`crate::Limits::quarantine_raw_cap`] bytes are kept and the rest is counted, so the exact size
//! is known when the oversize message is quarantined. `>From ` lines are unescaped (mboxrd: one
//! `>` removed from `>+From `, which also undoes mboxo's single level) when a message is taken
//! from a multi-message mbox.

use std::io::{self, BufRead};

use memchr::{memchr2, memmem};

use crate::date::from_line_date;

/// Longest piece of a line handled at once; longer lines are read in pieces.
const CHUNK: usize = 64 * 1024;

/// Reads lines of any line-end convention from a `BufRead`, in pieces of at most [`CHUNK`].
pub(crate) struct LineReader<'r> {
    inner: &'r mut dyn BufRead,
    /// Bytes consumed so far.
    pub(crate) offset: u64,
    /// Whether the next piece starts a line.
    at_line_start: bool,
}

/// One piece of a line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Piece {
    /// Whether it starts a line.
    pub(crate) starts_line: bool,
    /// Offset of its first byte in the stream.
    pub(crate) offset: u64,
}

impl<'r> LineReader<'r> {
    pub(crate) fn new(inner: &'r mut dyn BufRead) -> Self {
        LineReader {
            inner,
            offset: 0,
            at_line_start: true,
        }
    }

    fn fill(&mut self) -> io::Result<&[u8]> {
        // Retry interruptions first; returning the borrowed buffer from inside the retry loop
        // is beyond the borrow checker.
        while let Err(e) = self.inner.fill_buf() {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        self.inner.fill_buf()
    }

    /// Replaces `out` with the next piece (terminator included); `None` at the end.
    pub(crate) fn next_piece(&mut self, out: &mut Vec<u8>) -> io::Result<Option<Piece>> {
        out.clear();
        let piece = Piece {
            starts_line: self.at_line_start,
            offset: self.offset,
        };
        loop {
            let room = CHUNK.saturating_sub(out.len());
            let buf = self.fill()?;
            if buf.is_empty() {
                self.at_line_start = true;
                return Ok((!out.is_empty()).then_some(piece));
            }
            let scan = buf.get(..buf.len().min(room)).unwrap_or(buf);
            let (take, ends_line, cr_at_end) = match memchr2(b'\n', b'\r', scan) {
                Some(i) if scan.get(i) == Some(&b'\n') => (i + 1, true, false),
                Some(i) => match buf.get(i + 1) {
                    Some(b'\n') => (i + 2, true, false),
                    Some(_) => (i + 1, true, false),
                    // CR at the end of the buffer: a LF may follow in the next fill.
                    None => (i + 1, true, true),
                },
                None => (scan.len(), false, false),
            };
            out.extend_from_slice(buf.get(..take).unwrap_or_default());
            self.inner.consume(take);
            self.offset += take as u64;
            if cr_at_end && self.fill()?.first() == Some(&b'\n') {
                out.push(b'\n');
                self.inner.consume(1);
                self.offset += 1;
            }
            if ends_line || out.len() >= CHUNK {
                self.at_line_start = ends_line;
                return Ok(Some(piece));
            }
        }
    }
}

/// Whether a line (with or without terminator) is an mbox `From ` separator.
pub(crate) fn is_separator(line: &[u8]) -> bool {
    line.starts_with(b"From ") && from_line_date(trim_eol(line)).is_some()
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn is_blank_line(line: &[u8]) -> bool {
    trim_eol(line).is_empty()
}

/// One message taken from an mbox.
#[derive(Debug, Default)]
pub(crate) struct MboxMessage {
    /// The bytes (separator line included); only a prefix when `oversize`.
    pub(crate) data: Vec<u8>,
    /// The exact size in bytes.
    pub(crate) len: u64,
    /// Offset of its first byte in the stream.
    pub(crate) offset: u64,
    /// Larger than the message limit (`data` holds only the quarantine prefix).
    pub(crate) oversize: bool,
    /// Length of its last line when that line is blank: the separator's blank line, not message
    /// content.
    trailing_blank: usize,
}

impl MboxMessage {
    fn push(&mut self, piece: &[u8], max_bytes: usize, keep_when_oversize: usize) {
        self.len += piece.len() as u64;
        if !self.oversize {
            if self.data.len() + piece.len() > max_bytes {
                self.oversize = true;
                self.data.truncate(keep_when_oversize);
                self.data.shrink_to_fit();
                let room = keep_when_oversize.saturating_sub(self.data.len());
                self.data
                    .extend_from_slice(piece.get(..room.min(piece.len())).unwrap_or_default());
            } else {
                self.data.extend_from_slice(piece);
            }
        }
        self.trailing_blank = if is_blank_line(piece) { piece.len() } else { 0 };
    }

    /// Drops the blank line that precedes the next separator.
    fn finish(mut self) -> Self {
        if self.trailing_blank > 0 && self.len > self.trailing_blank as u64 {
            self.len -= self.trailing_blank as u64;
            if !self.oversize {
                self.data
                    .truncate(self.data.len().saturating_sub(self.trailing_blank));
            }
        }
        self
    }
}

/// Splits a stream into mbox messages.
pub(crate) struct MboxSplitter<'r> {
    lines: LineReader<'r>,
    max_bytes: usize,
    keep_when_oversize: usize,
    piece: Vec<u8>,
    /// A separator already read: the start of the next message.
    carry: Option<(Vec<u8>, u64)>,
    /// The message being read when an I/O error struck.
    partial: Option<MboxMessage>,
    done: bool,
}

impl<'r> MboxSplitter<'r> {
    pub(crate) fn new(
        inner: &'r mut dyn BufRead,
        max_bytes: usize,
        keep_when_oversize: usize,
    ) -> Self {
        MboxSplitter {
            lines: LineReader::new(inner),
            max_bytes,
            keep_when_oversize,
            piece: Vec::with_capacity(256),
            carry: None,
            partial: None,
            done: false,
        }
    }

    /// The message that was being read when [`Self::next_message`] failed.
    pub(crate) fn take_partial(&mut self) -> Option<MboxMessage> {
        self.partial.take()
    }

    /// The next message; `None` at the end. Content before the first separator (when the stream
    /// does not start with one) is a message of its own.
    pub(crate) fn next_message(&mut self) -> io::Result<Option<MboxMessage>> {
        if self.done {
            return Ok(None);
        }
        let mut msg = MboxMessage::default();
        let mut started = false;
        if let Some((line, offset)) = self.carry.take() {
            msg.offset = offset;
            msg.push(&line, self.max_bytes, self.keep_when_oversize);
            started = true;
        }
        loop {
            let piece = match self.lines.next_piece(&mut self.piece) {
                Ok(p) => p,
                Err(e) => {
                    self.done = true;
                    self.partial = started.then_some(msg);
                    return Err(e);
                }
            };
            let Some(piece) = piece else {
                self.done = true;
                return Ok(started.then(|| msg.finish()));
            };
            if piece.starts_line && is_separator(&self.piece) && started {
                self.carry = Some((std::mem::take(&mut self.piece), piece.offset));
                return Ok(Some(msg.finish()));
            }
            if !started {
                msg.offset = piece.offset;
                started = true;
            }
            msg.push(&self.piece, self.max_bytes, self.keep_when_oversize);
        }
    }
}

/// mboxrd unescaping: removes one `>` from every line (after the first) matching `>+From `.
pub(crate) fn unescape_from_lines(data: &mut Vec<u8>) {
    let needs = memmem::find_iter(data.as_slice(), b">From ").any(|i| {
        let start = data
            .get(..i)
            .and_then(|before| before.iter().rposition(|&b| b != b'>'))
            .map_or(0, |p| p + 1);
        start > 0 && matches!(data.get(start - 1), Some(b'\n' | b'\r'))
    });
    if !needs {
        return;
    }
    let mut out = Vec::with_capacity(data.len());
    let mut at_line_start = false; // the first line is the separator itself
    let mut i = 0usize;
    while let Some(&b) = data.get(i) {
        if at_line_start && b == b'>' {
            let run = data
                .get(i..)
                .map_or(0, |s| s.iter().take_while(|&&c| c == b'>').count());
            if data.get(i + run..).is_some_and(|s| s.starts_with(b"From ")) {
                // Drop one `>`.
                i += 1;
                at_line_start = false;
                continue;
            }
        }
        out.push(b);
        at_line_start = b == b'\n' || (b == b'\r' && data.get(i + 1) != Some(&b'\n'));
        i += 1;
    }
    *data = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(input: &[u8], max: usize) -> Vec<MboxMessage> {
        let mut cursor = io::Cursor::new(input.to_vec());
        let mut s = MboxSplitter::new(&mut cursor, max, 8);
        let mut out = Vec::new();
        while let Ok(Some(m)) = s.next_message() {
            out.push(m);
        }
        out
    }

    #[test]
    fn splits_on_dated_separators_only() {
        let mbox = b"From a@b Thu Aug 22 12:36:23 2002\nSubject: 1\n\nFrom home recordings to mp3s\n\nFrom c@d Fri Aug 23 01:02:03 2002\nSubject: 2\n\nx\n";
        let msgs = split(mbox, 1 << 20);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].offset, 0);
        assert_eq!(
            msgs[0].data,
            b"From a@b Thu Aug 22 12:36:23 2002\nSubject: 1\n\nFrom home recordings to mp3s\n"
        );
        assert_eq!(msgs[1].offset, 76);
        assert_eq!(msgs[1].len, msgs[1].data.len() as u64);
    }

    #[test]
    fn crlf_and_cr_only_line_ends() {
        let crlf = b"From a@b Thu Aug 22 12:36:23 2002\r\nS: 1\r\n\r\nFrom a@b Thu Aug 22 12:36:24 2002\r\nS: 2\r\n";
        assert_eq!(split(crlf, 1 << 20).len(), 2);
        let cr =
            b"From a@b Thu Aug 22 12:36:23 2002\rS: 1\r\rFrom a@b Thu Aug 22 12:36:24 2002\rS: 2\r";
        let msgs = split(cr, 1 << 20);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[1].data, b"From a@b Thu Aug 22 12:36:24 2002\rS: 2\r");
    }

    #[test]
    fn oversize_message_is_counted_not_kept() {
        let mut mbox = b"From a@b Thu Aug 22 12:36:23 2002\n".to_vec();
        mbox.extend(std::iter::repeat_n(b'x', 1000));
        mbox.extend_from_slice(b"\nFrom a@b Thu Aug 22 12:36:24 2002\nS: 2\n");
        let msgs = split(&mbox, 100);
        assert_eq!(msgs.len(), 2);
        assert!(msgs[0].oversize);
        assert_eq!(msgs[0].len, 34 + 1001);
        assert_eq!(msgs[0].data.len(), 8);
        assert!(!msgs[1].oversize);
    }

    #[test]
    fn long_lines_come_in_pieces() {
        let mut input = vec![b'a'; CHUNK + 10];
        input.push(b'\n');
        input.extend_from_slice(b"From x\n");
        let mut cursor = io::Cursor::new(input);
        let mut r = LineReader::new(&mut cursor);
        let mut buf = Vec::new();
        let mut starts = Vec::new();
        while let Ok(Some(p)) = r.next_piece(&mut buf) {
            starts.push((p.starts_line, buf.len()));
        }
        assert_eq!(starts, vec![(true, CHUNK), (false, 11), (true, 7)]);
    }

    #[test]
    fn mboxrd_unescape() {
        let mut d =
            b"From a@b Thu Aug 22 12:36:23 2002\n>From me\n>>From you\n> From not\nx>From no\n"
                .to_vec();
        unescape_from_lines(&mut d);
        assert_eq!(
            d,
            b"From a@b Thu Aug 22 12:36:23 2002\nFrom me\n>From you\n> From not\nx>From no\n"
        );
    }
}

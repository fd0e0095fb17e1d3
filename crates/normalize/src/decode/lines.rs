//! A bounded line reader: one line at a time from a `BufRead`, never buffering more than the
//! record limit (an over-long line is consumed to its newline and reported with its length and
//! only a prefix kept).

use std::io::{self, BufRead};

/// What [`LineReader::next_line`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineInfo {
    /// Byte offset of the line's first byte in the stream.
    pub(crate) offset: u64,
    /// Length of the line without its line end (the full length even when `too_long`).
    pub(crate) len: u64,
    /// Longer than the limit: the buffer holds only a prefix.
    pub(crate) too_long: bool,
}

/// Reads lines from a `BufRead`, tracking byte offsets.
pub(crate) struct LineReader<'r> {
    r: &'r mut dyn BufRead,
    /// Bytes consumed so far.
    pub(crate) offset: u64,
}

impl<'r> LineReader<'r> {
    pub(crate) fn new(r: &'r mut dyn BufRead) -> Self {
        LineReader { r, offset: 0 }
    }

    /// Reads the next line into `buf` (without `\n` and a trailing `\r`). A line longer than
    /// `limit` bytes is consumed to its end but only its first `keep` bytes are kept. `None` at
    /// the end of the stream. On an error, `buf` holds what was read of the line.
    pub(crate) fn next_line(
        &mut self,
        buf: &mut Vec<u8>,
        limit: usize,
        keep: usize,
    ) -> io::Result<Option<LineInfo>> {
        buf.clear();
        let start = self.offset;
        let mut len: u64 = 0;
        let mut too_long = false;
        let mut any = false;
        loop {
            let avail = match self.r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                if !any {
                    return Ok(None);
                }
                break;
            }
            any = true;
            let (chunk, used, done) = match memchr::memchr(b'\n', avail) {
                Some(i) => (avail.get(..i).unwrap_or_default(), i + 1, true),
                None => (avail, avail.len(), false),
            };
            len += chunk.len() as u64;
            if !too_long {
                if buf.len() + chunk.len() > limit {
                    too_long = true;
                    let room = keep.saturating_sub(buf.len());
                    buf.extend_from_slice(chunk.get(..room).unwrap_or(chunk));
                    buf.truncate(keep);
                } else {
                    buf.extend_from_slice(chunk);
                }
            }
            self.r.consume(used);
            self.offset += used as u64;
            if done {
                break;
            }
        }
        if !too_long && buf.last() == Some(&b'\r') {
            buf.pop();
            len -= 1;
        }
        Ok(Some(LineInfo {
            offset: start,
            len,
            too_long,
        }))
    }
}

/// `s` without leading and trailing ASCII whitespace.
pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        return &[];
    };
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lines_with_offsets_and_limits() -> io::Result<()> {
        let data = b"ab\r\n0123456789\nlast";
        let mut r = io::BufReader::with_capacity(4, &data[..]);
        let mut lr = LineReader::new(&mut r);
        let mut buf = Vec::new();
        let l = lr.next_line(&mut buf, 5, 3)?;
        assert_eq!(
            l,
            Some(LineInfo {
                offset: 0,
                len: 2,
                too_long: false
            })
        );
        assert_eq!(buf, b"ab");
        let l = lr.next_line(&mut buf, 5, 3)?;
        assert_eq!(
            l,
            Some(LineInfo {
                offset: 4,
                len: 10,
                too_long: true
            })
        );
        assert_eq!(buf, b"012");
        let l = lr.next_line(&mut buf, 5, 3)?;
        assert_eq!(l.map(|l| l.offset), Some(15));
        assert_eq!(buf, b"last");
        assert_eq!(lr.next_line(&mut buf, 5, 3)?, None);
        Ok(())
    }

    #[test]
    fn trims_ascii_whitespace() {
        assert_eq!(trim(b"  a b \r"), b"a b");
        assert_eq!(trim(b" \t "), b"");
    }
}

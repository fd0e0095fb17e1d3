//! CSV email exports in the Nazario/Champa layout: a header row naming `sender`, `receiver`
//! (also the real-world `reciever`), `date`, `subject`, `body`, `urls` (or `url`) and `label`,
//! case-insensitive and in any order; one email per row, the body quoted.
//!
//! Rows are read through a byte budget so a runaway quoted field cannot grow without bound: past
//! [`crate::Limits::max_message_bytes`] the row is quarantined and the file is not read further
//! (the CSV reader cannot resynchronise inside an unterminated quote).

use std::cell::Cell;
use std::io::{self, Read};

use shrike_types::{EmailRecord, Label, RecordOrigin};

use crate::date::{parse_mail_date, parse_rfc3339};
use crate::error::IngestError;
use crate::header::mailboxes;
use crate::message::default_id;
use crate::text::{push_lf_normalized, utf8_or_cp1252};

/// Column positions of the known fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Columns {
    sender: Option<usize>,
    receiver: Option<usize>,
    date: Option<usize>,
    subject: Option<usize>,
    body: Option<usize>,
    urls: Option<usize>,
    label: Option<usize>,
}

impl Columns {
    /// Maps a header row; `None` unless it names a sender, subject or body column.
    pub(crate) fn from_header<'a>(names: impl IntoIterator<Item = &'a [u8]>) -> Option<Columns> {
        let mut c = Columns::default();
        for (i, raw) in names.into_iter().enumerate() {
            let name = String::from_utf8_lossy(raw)
                .trim()
                .trim_matches('"')
                .trim()
                .to_ascii_lowercase();
            let slot = match name.as_str() {
                "sender" | "from" => &mut c.sender,
                "receiver" | "reciever" | "recipient" | "to" => &mut c.receiver,
                "date" => &mut c.date,
                "subject" => &mut c.subject,
                "body" | "text" => &mut c.body,
                "urls" | "url" => &mut c.urls,
                "label" => &mut c.label,
                _ => continue,
            };
            slot.get_or_insert(i);
        }
        (c.sender.is_some() || c.subject.is_some() || c.body.is_some()).then_some(c)
    }
}

/// Whether a first line looks like a Nazario-layout CSV header (used when sniffing).
pub(crate) fn looks_like_header(first_line: &[u8]) -> bool {
    if !first_line.contains(&b',') {
        return false;
    }
    let text = String::from_utf8_lossy(first_line).to_ascii_lowercase();
    let known = text
        .split(',')
        .map(|f| f.trim().trim_matches('"').trim())
        .filter(|f| {
            matches!(
                *f,
                "sender"
                    | "receiver"
                    | "reciever"
                    | "date"
                    | "subject"
                    | "body"
                    | "urls"
                    | "url"
                    | "label"
            )
        })
        .count();
    known >= 2 && (text.contains("subject") || text.contains("body"))
}

/// Reads bytes while a row budget allows: more than `limit` bytes since `row_start` is an error.
struct Budget<'a, R> {
    inner: R,
    read: u64,
    row_start: &'a Cell<u64>,
    limit: u64,
}

impl<R: Read> Read for Budget<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read.saturating_sub(self.row_start.get()) > self.limit {
            return Err(io::Error::other(RowTooLarge));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

#[derive(Debug)]
struct RowTooLarge;

impl std::fmt::Display for RowTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CSV row over the size limit")
    }
}

impl std::error::Error for RowTooLarge {}

/// What happened to one CSV unit.
#[allow(clippy::large_enum_variant)] // Handed straight to the sink; boxing costs an allocation per row.
pub(crate) enum CsvItem {
    /// A row read into a record.
    Record(EmailRecord),
    /// A row or the file could not be read: the error, its origin and raw bytes.
    Bad(IngestError, RecordOrigin, Vec<u8>),
}

/// Reads a CSV stream, handing each row's outcome to `emit`. `origin` is the stream's origin
/// (index and offset are filled per row). Returns `Err` only for an I/O error of the underlying
/// stream (the caller decides whether that is a corrupt archive or an I/O failure).
pub(crate) fn read_csv(
    reader: &mut dyn Read,
    origin: &RecordOrigin,
    max_row_bytes: usize,
    emit: &mut dyn FnMut(CsvItem),
) -> io::Result<()> {
    let row_start = Cell::new(0u64);
    let budget = Budget {
        inner: reader,
        read: 0,
        row_start: &row_start,
        // The reader buffers ahead; allow for its buffer on top of the row limit.
        limit: max_row_bytes as u64 + 64 * 1024,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(budget);
    let mut row = csv::ByteRecord::new();
    let at = |index: Option<u64>, offset: u64| RecordOrigin {
        index,
        offset: Some(offset),
        ..origin.clone()
    };

    let columns = match rdr.read_byte_record(&mut row) {
        Ok(false) => {
            emit(CsvItem::Bad(IngestError::Empty, at(None, 0), Vec::new()));
            return Ok(());
        }
        Ok(true) => Columns::from_header(row.iter()),
        Err(e) => return csv_error(e, at(None, 0), emit),
    };
    let Some(columns) = columns else {
        let raw = row.as_slice().to_vec();
        emit(CsvItem::Bad(
            IngestError::CsvInvalid(
                "header row names none of sender, subject, body (Nazario layout expected)"
                    .to_owned(),
            ),
            at(None, 0),
            raw,
        ));
        return Ok(());
    };
    let mut index = 0u64;
    loop {
        let start = rdr.position().byte();
        row_start.set(start);
        match rdr.read_byte_record(&mut row) {
            Ok(false) => {
                if index == 0 {
                    // A header and no rows: say so rather than produce nothing.
                    emit(CsvItem::Bad(
                        IngestError::Empty,
                        at(None, start),
                        Vec::new(),
                    ));
                }
                return Ok(());
            }
            Ok(true) => {
                let o = at(Some(index), start);
                match row_to_record(&row, &columns, o.clone()) {
                    Ok(rec) => emit(CsvItem::Record(rec)),
                    Err(e) => emit(CsvItem::Bad(e, o, join_row(&row))),
                }
                index += 1;
            }
            Err(e) => {
                let o = at(Some(index), start);
                if let csv::ErrorKind::Io(io_err) = e.kind() {
                    if io_err
                        .get_ref()
                        .is_some_and(|inner| inner.is::<RowTooLarge>())
                    {
                        let err = IngestError::RecordTooLarge {
                            record: format!("record {index}"),
                            size: max_row_bytes as u64 + 1,
                            limit: max_row_bytes,
                        };
                        emit(CsvItem::Bad(err, o, Vec::new()));
                        return Ok(());
                    }
                }
                return csv_error(e, o, emit);
            }
        }
    }
}

fn csv_error(e: csv::Error, origin: RecordOrigin, emit: &mut dyn FnMut(CsvItem)) -> io::Result<()> {
    match e.into_kind() {
        csv::ErrorKind::Io(io_err) => Err(io_err),
        other => {
            emit(CsvItem::Bad(
                IngestError::CsvInvalid(format!("{other:?}")),
                origin,
                Vec::new(),
            ));
            Ok(())
        }
    }
}

fn join_row(row: &csv::ByteRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(row.as_slice().len() + row.len());
    for (i, f) in row.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(f);
    }
    out
}

fn field(row: &csv::ByteRecord, col: Option<usize>) -> Option<String> {
    let raw = row.get(col?)?;
    let s = utf8_or_cp1252(raw);
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// URLs in a `urls` cell: `http(s)://` and `www.` tokens (the Champa files hold a 0/1 flag there,
/// which yields none).
fn urls_in(cell: &str) -> Vec<String> {
    cell.split(|c: char| c.is_whitespace() || matches!(c, ',' | '\'' | '"' | '[' | ']' | ';'))
        .map(|t| t.trim_end_matches(['.', ')', '>']))
        .filter(|t| {
            let l = t.to_ascii_lowercase();
            l.starts_with("http://") || l.starts_with("https://") || l.starts_with("www.")
        })
        .map(str::to_owned)
        .collect()
}

fn row_to_record(
    row: &csv::ByteRecord,
    c: &Columns,
    origin: RecordOrigin,
) -> Result<EmailRecord, IngestError> {
    let from = field(row, c.sender).and_then(|s| mailboxes(s.as_bytes()).into_iter().next());
    let subject = field(row, c.subject);
    let body = field(row, c.body);
    if from.is_none() && subject.is_none() && body.is_none() {
        return Err(IngestError::MissingFields {
            record: format!("record {}", origin.index.unwrap_or(0)),
        });
    }
    let mut rec = EmailRecord {
        id: default_id(&origin),
        from,
        to: field(row, c.receiver)
            .map(|s| mailboxes(s.as_bytes()))
            .unwrap_or_default(),
        subject,
        date: field(row, c.date).and_then(|d| {
            if d.bytes().all(|b| b.is_ascii_digit()) {
                d.parse::<i64>().ok()
            } else {
                parse_rfc3339(&d).or_else(|| parse_mail_date(&d))
            }
        }),
        urls: field(row, c.urls).map(|u| urls_in(&u)).unwrap_or_default(),
        label: field(row, c.label).and_then(|l| Label::parse(&l)),
        origin,
        ..EmailRecord::default()
    };
    if let Some(body) = body {
        let mut text = String::with_capacity(body.len());
        push_lf_normalized(&mut text, &body);
        let lower_head = text
            .get(..text.len().min(2048))
            .unwrap_or("")
            .to_ascii_lowercase();
        if lower_head.contains("<html") || lower_head.contains("<body") {
            rec.body_html = Some(text);
        } else {
            rec.body_text = Some(text);
        }
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &str, max: usize) -> Vec<Result<EmailRecord, (String, RecordOrigin)>> {
        let origin = RecordOrigin {
            path: "n.csv".into(),
            ..Default::default()
        };
        let mut out = Vec::new();
        let mut cursor = io::Cursor::new(input.as_bytes().to_vec());
        let r = read_csv(&mut cursor, &origin, max, &mut |item| {
            out.push(match item {
                CsvItem::Record(r) => Ok(r),
                CsvItem::Bad(e, o, _) => Err((e.reason().to_owned(), o)),
            })
        });
        assert!(r.is_ok());
        out
    }

    #[test]
    fn nazario_layout_with_misspelling() {
        let csv = "Sender,Reciever,Date,Subject,Body,URL,Label\n\"PayPal <service@paypa1.com>\",user@x.com,\"Tue, 08 Aug 2006 10:45:01 -0500\",Verify,\"Dear user,\r\nclick http://x\",1,1\n,,,,,,\n";
        let rows = read(csv, 1 << 20);
        assert_eq!(rows.len(), 2);
        let r = match &rows[0] {
            Ok(r) => r,
            Err(e) => panic!("{e:?}"),
        };
        assert_eq!(r.id, "n.csv#0");
        assert_eq!(
            r.from.as_ref().map(|m| m.address.as_str()),
            Some("service@paypa1.com")
        );
        assert_eq!(r.to[0].address, "user@x.com");
        assert_eq!(r.date, Some(1_155_051_901));
        assert_eq!(r.body_text.as_deref(), Some("Dear user,\nclick http://x"));
        assert!(r.urls.is_empty());
        assert_eq!(r.label, Some(Label::Phishing));
        assert_eq!(r.origin.offset, Some(44));
        assert!(
            matches!(&rows[1], Err((reason, o)) if reason == "missing_fields" && o.index == Some(1))
        );
    }

    #[test]
    fn header_detection() {
        assert!(looks_like_header(
            b"sender,receiver,date,subject,body,urls,label"
        ));
        assert!(!looks_like_header(b"Subject: a, b"));
        assert_eq!(Columns::from_header([&b"a"[..], b"b"]), None);
        let rows = read("a,b\n1,2\n", 1 << 20);
        assert!(matches!(&rows[0], Err((reason, _)) if reason == "csv_invalid"));
    }

    #[test]
    fn oversize_row_stops_the_file() {
        let mut csv = "subject,body\nok,fine\nbig,\"".to_owned();
        csv.push_str(&"x".repeat(300_000));
        csv.push_str("\"\nafter,row\n");
        let rows = read(&csv, 1000);
        assert_eq!(rows.len(), 2);
        assert!(rows[0].is_ok());
        assert!(
            matches!(&rows[1], Err((reason, o)) if reason == "record_too_large" && o.index == Some(1))
        );
    }
}

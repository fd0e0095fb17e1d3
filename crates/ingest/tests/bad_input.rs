//! Hostile and broken inputs: each must end as a record or a quarantine item naming the record
//! and the reason, without panics, hangs or unbounded reads.

use std::io::{self, Read, Write};

use shrike_ingest::{
    parse_message, read_path, read_reader, IngestError, Item, Limits, ReadOptions, RecordOrigin,
};
use shrike_types::{EmailRecord, Quarantined};

fn collect(
    name: &str,
    input: impl Read,
    opts: &ReadOptions,
) -> (Vec<EmailRecord>, Vec<Quarantined>) {
    let mut records = Vec::new();
    let mut quarantined = Vec::new();
    let res = read_reader(name, input, opts, &mut |item| match item {
        Item::Record(r) => records.push(r),
        Item::Quarantined(q) => quarantined.push(q),
    });
    if let Err(e) = res {
        panic!("read_reader({name}) failed: {e}");
    }
    (records, quarantined)
}

fn collect_bytes(name: &str, input: &[u8]) -> (Vec<EmailRecord>, Vec<Quarantined>) {
    collect(name, input, &ReadOptions::default())
}

fn parse(raw: &[u8]) -> Result<EmailRecord, IngestError> {
    parse_message(raw, RecordOrigin::default(), &Limits::default())
}

fn reasons(q: &[Quarantined]) -> Vec<&str> {
    q.iter().map(|q| q.reason.as_str()).collect()
}

/// Deterministic incompressible bytes (an LCG), base64-safe letters only.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|i| {
            if i % 77 == 76 {
                return b'\n';
            }
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(x >> 58) as usize]
        })
        .collect()
}

#[test]
fn malformed_mime_is_recovered() {
    // Unterminated inner multipart, a part without a blank line, junk header lines, a boundary
    // that never closes.
    let raw = b"From: a@b.example\nSubject: broken\nContent-Type: multipart/mixed; boundary=\"o\"\n\n--o\nContent-Type: multipart/alternative; boundary=\"i\"\n\n--i\nContent-Type: text/plain\n\ninner text\n--o\nthis line is junk\nContent-Type: text/html\n\n<b>html</b>\n--o\nContent-Type: text/plain\n";
    let r = match parse(raw) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(r.subject.as_deref(), Some("broken"));
    assert_eq!(r.body_text.as_deref(), Some("inner text"));
    assert_eq!(r.body_html.as_deref(), Some("<b>html</b>"));
    assert_eq!(r.mime_depth, 3);
    // Base64 that is not base64 and a multipart whose boundary never appears stay readable.
    let r = parse(b"Subject: x\nContent-Type: multipart/mixed; boundary=zz\n\nplain words\n").ok();
    assert_eq!(
        r.and_then(|r| r.body_text),
        Some("plain words\n".to_owned())
    );
    let r =
        parse(b"Subject: x\nContent-Transfer-Encoding: base64\n\nDear user, this is not base64!\n")
            .ok();
    assert_eq!(
        r.and_then(|r| r.body_text),
        Some("Dear user, this is not base64!\n".to_owned())
    );
    // The mail-parser 0.11 debug-build overflow (QP `=` before a delimiter) is harmless here.
    let r = parse(b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: quoted-printable\n\n=\n--b--\n").ok();
    assert_eq!(
        r.map(|r| (r.body_text, r.mime_depth)),
        Some((Some(String::new()), 2))
    );
}

#[test]
fn invalid_utf8_in_headers_and_body() {
    let raw = b"From: J\xfcrgen <j@x.example>\nSubject: \xa3100 prize \xff\nContent-Type: text/plain; charset=utf-8\n\nbad \xe9t\xe9 bytes \xc3\x28 end\n";
    let r = match parse(raw) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(r.subject.as_deref(), Some("£100 prize ÿ"));
    assert_eq!(
        r.from.as_ref().and_then(|m| m.name.as_deref()),
        Some("Jürgen")
    );
    assert_eq!(r.body_text.as_deref(), Some("bad été bytes Ã( end\n"));
    // A declared charset decodes raw 8-bit headers too.
    let r = parse(b"Subject: \xd0\xd2\xc9\xd7\xc5\xd4\nContent-Type: text/plain; charset=koi8-r\n\n\xd0\xd2\xc9\xd7\xc5\xd4\n").ok();
    assert_eq!(
        r.as_ref().and_then(|r| r.subject.as_deref()),
        Some("привет")
    );
    assert_eq!(r.and_then(|r| r.body_text), Some("привет\n".to_owned()));
}

/// A reader producing a message with a huge body, counting what was taken from it.
struct HugeMessage {
    header: Vec<u8>,
    total: u64,
    pos: u64,
}

impl Read for HugeMessage {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() && self.pos < self.total {
            let b = match self.header.get(self.pos as usize) {
                Some(b) => *b,
                None if self.pos % 100 == 99 => b'\n',
                None => b'A',
            };
            if let Some(slot) = buf.get_mut(n) {
                *slot = b;
            }
            n += 1;
            self.pos += 1;
        }
        Ok(n)
    }
}

const FIFTY_MB: u64 = 50 * 1024 * 1024;

#[test]
fn fifty_megabyte_message_is_quarantined_without_reading_it_all() {
    let limits = Limits::default();
    let mut huge = HugeMessage {
        header: b"From: big@x.example\nSubject: huge\n\n".to_vec(),
        total: FIFTY_MB,
        pos: 0,
    };
    let mut items = Vec::new();
    let res = read_reader("huge.eml", &mut huge, &ReadOptions::default(), &mut |i| {
        items.push(i)
    });
    assert!(res.is_ok());
    // Reading stopped right after the limit.
    assert_eq!(huge.pos, limits.max_message_bytes as u64 + 1);
    assert_eq!(items.len(), 1);
    let Some(Item::Quarantined(q)) = items.first() else {
        panic!("expected a quarantine item");
    };
    assert_eq!(q.reason, "message_too_large");
    assert_eq!(q.origin.path, "huge.eml");
    // Size unknown on a stream: raw_len is the lower bound that was read.
    assert_eq!(q.raw_len, limits.max_message_bytes as u64 + 1);
    assert!(q.raw_truncated);
    // 1 MiB kept, base64.
    assert_eq!(q.raw_b64.len(), limits.quarantine_raw_cap.div_ceil(3) * 4);
    assert_eq!(
        q.detail,
        "message is at least 33554433 bytes, over the 33554432-byte limit"
    );
}

#[test]
fn fifty_megabyte_file_uses_its_known_size() -> io::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("huge.eml");
    let mut f = std::fs::File::create(&path)?;
    f.write_all(b"From: big@x.example\nSubject: huge\n\n")?;
    // Sparse: the test does not write 50 MB.
    f.set_len(FIFTY_MB)?;
    drop(f);
    let mut items = Vec::new();
    let stats = read_path(&path, &ReadOptions::default(), &mut |i| items.push(i));
    let stats = stats.map_err(io::Error::other)?;
    assert_eq!(stats.quarantined, 1);
    assert_eq!(stats.by_reason.get("message_too_large"), Some(&1));
    let Some(Item::Quarantined(q)) = items.first() else {
        panic!("expected a quarantine item");
    };
    assert_eq!(q.raw_len, FIFTY_MB);
    assert!(q.raw_truncated);
    assert_eq!(
        q.detail,
        "message is exactly 52428800 bytes, over the 33554432-byte limit"
    );
    Ok(())
}

#[test]
fn oversize_message_inside_an_mbox_does_not_stop_it() {
    let mut mbox = b"From a@x Mon Sep  2 08:00:00 2024\nSubject: one\n\nsmall\n\nFrom b@x Mon Sep  2 09:00:00 2024\nSubject: two\n\n".to_vec();
    let big_start = 55;
    mbox.extend(
        std::iter::repeat_n(b"0123456789".repeat(10).into_iter().chain([b'\n']), 2000).flatten(),
    );
    mbox.extend_from_slice(b"\nFrom c@x Mon Sep  2 10:00:00 2024\nSubject: three\n\nsmall\n");
    let opts = ReadOptions {
        limits: Limits {
            max_message_bytes: 10_000,
            ..Limits::default()
        },
        ..ReadOptions::default()
    };
    let (records, quarantined) = collect("x.mbox", &mbox[..], &opts);
    let subjects: Vec<_> = records
        .iter()
        .filter_map(|r| r.subject.as_deref())
        .collect();
    assert_eq!(subjects, vec!["one", "three"]);
    assert_eq!(reasons(&quarantined), vec!["message_too_large"]);
    let q = &quarantined[0];
    assert_eq!(q.origin.index, Some(1));
    assert_eq!(q.origin.offset, Some(big_start));
    // Exact: the separator line, the headers and 2000 lines of 101 bytes.
    assert_eq!(q.raw_len, 34 + 13 + 1 + 2000 * 101);
    assert_eq!(
        q.detail,
        "message is exactly 202048 bytes, over the 10000-byte limit"
    );
}

fn nested_multipart(levels: usize) -> Vec<u8> {
    let mut s = String::from("From: a@b.example\nSubject: deep\n");
    for i in 0..levels {
        s.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\n\n--b{i}\n"
        ));
    }
    s.push_str("Content-Type: text/plain\n\nhello\n");
    for i in (0..levels).rev() {
        s.push_str(&format!("--b{i}--\n"));
    }
    s.into_bytes()
}

/// Runs `f` on a thread with a small stack: deep inputs must not recurse.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let handle = std::thread::Builder::new().stack_size(256 * 1024).spawn(f);
    match handle.map(|h| h.join()) {
        Ok(Ok(v)) => v,
        _ => panic!("thread failed"),
    }
}

#[test]
fn ten_thousand_nested_multiparts_are_too_deep() {
    let raw = nested_multipart(10_000);
    let err = on_small_stack(move || parse(&raw).err().map(|e| (e.reason(), e.to_string())));
    assert_eq!(
        err,
        Some((
            "mime_too_deep",
            "MIME nesting deeper than 32 levels".to_owned()
        ))
    );
    // At the limit it parses: 31 multiparts and the text part make depth 32.
    let r = parse(&nested_multipart(31)).ok();
    assert_eq!(r.as_ref().map(|r| r.mime_depth), Some(32));
    assert_eq!(r.and_then(|r| r.body_text), Some("hello".to_owned()));
    assert!(matches!(
        parse(&nested_multipart(32)),
        Err(IngestError::MimeTooDeep { limit: 32 })
    ));
    // Through a reader: quarantined with the reason and the raw bytes.
    let (records, quarantined) = collect_bytes("deep.eml", &nested_multipart(10_000));
    assert!(records.is_empty());
    assert_eq!(reasons(&quarantined), vec!["mime_too_deep"]);
    assert_eq!(
        quarantined[0].raw_len,
        nested_multipart(10_000).len() as u64
    );
}

#[test]
fn nested_attached_messages_do_not_recurse() {
    // 100,000 nested message/rfc822 levels overflow mail-parser's stack when its result is
    // dropped; here the attached message is an opaque attachment.
    let mut s = String::from("From: a@b.example\nSubject: nest\n");
    for _ in 0..100_000 {
        s.push_str("Content-Type: message/rfc822\n\nFrom: x@y\n");
    }
    s.push_str("Content-Type: text/plain\n\nhello\n");
    let raw = s.into_bytes();
    let len = raw.len();
    let r = on_small_stack(move || {
        parse(&raw)
            .ok()
            .map(|r| (r.attachments.len(), r.attachments.first().map(|a| a.size)))
    });
    // Everything after the top header block (62 bytes) is the one attachment.
    assert_eq!(r, Some((1, Some(len as u64 - 62))));
}

#[test]
fn huge_mime_parameter_lists_are_cut() {
    // mail-parser merges RFC 2231 continuations in quadratic time; only the first 16 KiB of a
    // Content-Type / Content-Disposition value is handed to it.
    let mut raw = String::from("Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/pdf\nContent-Disposition: attachment");
    for i in 0..40_000 {
        raw.push_str(&format!(";\n filename*{i}=\"aaaaaaaaaa\""));
    }
    raw.push_str("\n\n%PDF-1.4\n--b--\n");
    let r = parse(raw.as_bytes()).ok();
    let name = r.and_then(|r| r.attachments.first().and_then(|a| a.name.clone()));
    let len = name.as_ref().map_or(0, String::len);
    assert!(name.as_deref().is_some_and(|n| n.starts_with("aaaaaaaaaa")));
    assert!(len > 1000 && len < 16 * 1024, "{len}");
    // A boundary longer than 1000 bytes is not used: the body is read as text.
    let long = "x".repeat(1001);
    let raw =
        format!("Subject: x\nContent-Type: multipart/mixed; boundary={long}\n\n--{long}\n\nbody\n");
    let r = parse(raw.as_bytes()).ok();
    assert_eq!(
        r.and_then(|r| r.body_text),
        Some(format!("--{long}\n\nbody\n"))
    );
}

#[test]
fn too_many_parts_and_headers() {
    let mut s = String::from("Subject: parts\nContent-Type: multipart/mixed; boundary=b\n\n");
    for _ in 0..1000 {
        s.push_str("--b\n\nx\n");
    }
    s.push_str("--b--\n");
    assert!(matches!(
        parse(s.as_bytes()),
        Err(IngestError::TooManyParts { limit: 1000 })
    ));
    let mut h = String::new();
    for i in 0..2001 {
        h.push_str(&format!("X-H{i}: v\n"));
    }
    h.push_str("\nbody\n");
    let (_, q) = collect_bytes("headers.eml", h.as_bytes());
    assert_eq!(reasons(&q), vec!["too_many_headers"]);
    assert_eq!(
        q[0].detail,
        "more than 2000 header fields in one header block"
    );
}

#[test]
fn empty_and_non_email_inputs() {
    assert!(matches!(parse(b""), Err(IngestError::Empty)));
    assert!(matches!(parse(b"  \r\n\n\t"), Err(IngestError::Empty)));
    assert!(matches!(
        parse(b"From someone Mon Sep  2 08:00:00 2024\n"),
        Err(IngestError::Empty)
    ));
    for (name, bytes) in [
        ("a.eml", &b""[..]),
        ("b.json", &b""[..]),
        ("c.csv", &b""[..]),
        ("d.mbox", &b""[..]),
        ("e", &b"\n\n  \n"[..]),
    ] {
        let (records, q) = collect_bytes(name, bytes);
        assert!(records.is_empty(), "{name}");
        assert_eq!(reasons(&q), vec!["empty"], "{name}");
        assert_eq!(q[0].origin.path, name);
    }
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde";
    let (_, q) = collect_bytes("image.png", png);
    assert_eq!(reasons(&q), vec!["not_an_email"]);
    assert_eq!(
        q[0].detail,
        "not an email: no header block: the first line is not a `Name: value` header field"
    );
    let (_, q) = collect_bytes(
        "license.txt",
        b"Permission is hereby granted, free of charge:\nto anyone\n",
    );
    assert_eq!(reasons(&q), vec!["not_an_email"]);
}

#[test]
fn json_wrong_types_missing_fields_and_broken_lines() {
    let lines = [
        r#"{"id": 1, "from": "a@b.example", "subject": "ok"}"#,
        r#"{"from": ["a@b.example", 7], "subject": "s"}"#,
        r#"{"subject": "s", "cc": true}"#,
        r#"{"subject": "s", "headers": [["X-A"]]}"#,
        r#"{"subject": "s", "attachments": [{"name": "a", "size": "10"}]}"#,
        r#"{"subject": "s", "auth": {"spf": 1}}"#,
        r#"{"subject": "s", "body_html": {"x": 1}}"#,
        r#"{"to": "a@b.example", "urls": ["x"]}"#,
        r#"{"subject": "s", "label": []}"#,
        r#"{"from": "a@b.example", "subject": "unterminated"#,
        r#"[1, 2]"#,
        r#"{"from": "z@b.example", "subject": "last"}"#,
    ];
    let input = lines.join("\n");
    let (records, q) = collect_bytes("log.ndjson", input.as_bytes());
    let ids: Vec<_> = records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, vec!["1", "log.ndjson#11"]);
    let details: Vec<&str> = q.iter().map(|q| q.detail.as_str()).collect();
    assert_eq!(
        details,
        vec![
            "record 1: field \"from[1]\": expected string, object or array, got number",
            "record 2: field \"cc\": expected string, object or array, got boolean",
            "record 3: field \"headers[0]\": expected [name, value] or {name, value}, got array",
            "record 4: field \"attachments[0].size\": expected non-negative integer, got string",
            "record 5: field \"auth.spf\": expected string, got number",
            "record 6: field \"body_html\": expected string, got object",
            "record 7: none of the fields from, subject, body_text, body_html, headers is present",
            "record 8: field \"label\": expected string, number or boolean, got array",
            "record 9: invalid JSON: EOF while parsing a string at line 1 column 48",
            // `[1, 2]` on its own line: one unit, not a record.
            "record 10: invalid JSON: expected a JSON object",
        ]
    );
    assert_eq!(
        reasons(&q),
        vec![
            "json_wrong_type",
            "json_wrong_type",
            "json_wrong_type",
            "json_wrong_type",
            "json_wrong_type",
            "json_wrong_type",
            "missing_fields",
            "json_wrong_type",
            "json_invalid",
            "json_invalid"
        ]
    );
    // Every quarantined line names its index and keeps its bytes.
    assert_eq!(q[6].origin.index, Some(7));
    assert!(q.iter().all(|q| !q.raw_b64.is_empty()));
    // A record larger than the JSON limit.
    let opts = ReadOptions {
        limits: Limits {
            max_json_record_bytes: 64,
            ..Limits::default()
        },
        ..ReadOptions::default()
    };
    let big = format!(
        "[{{\"subject\": \"{}\"}}, {{\"subject\": \"ok\"}}]",
        "x".repeat(100)
    );
    let (records, q) = collect("big.json", big.as_bytes(), &opts);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].id, "big.json#1");
    assert_eq!(reasons(&q), vec!["record_too_large"]);
    // `{"subject": "` + 100 bytes + `"}`.
    assert_eq!(q[0].raw_len, 115);
}

#[test]
fn csv_without_known_columns_and_missing_fields() {
    let (records, q) = collect_bytes("x.csv", b"a,b,c\n1,2,3\n");
    assert!(records.is_empty());
    assert_eq!(reasons(&q), vec!["csv_invalid"]);
    let (records, q) = collect_bytes("y.csv", b"subject,body,label\n,,1\nhi,there,0\n");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].id, "y.csv#1");
    assert_eq!(reasons(&q), vec!["missing_fields"]);
    assert_eq!(
        q[0].detail,
        "record 0: none of the fields from, subject, body_text, body_html, headers is present"
    );
}

/// A tar of `n` messages of about 4 KiB of incompressible text each (`m0.eml`, `m1.eml`, ...).
fn tar_of_messages(n: usize) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for i in 0..n {
        let mut msg = format!("From: m{i}@x.example\nSubject: member {i}\n\n").into_bytes();
        msg.extend(noise(4000, i as u64 + 1));
        let mut header = tar::Header::new_gnu();
        header.set_size(msg.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        if let Err(e) = builder.append_data(&mut header, format!("m{i}.eml"), &msg[..]) {
            panic!("tar: {e}");
        }
    }
    match builder.into_inner() {
        Ok(v) => v,
        Err(e) => panic!("tar: {e}"),
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut enc = liblzma::write::XzEncoder::new(Vec::new(), 6);
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

#[test]
fn whole_archives_read_in_order() {
    let tar = tar_of_messages(5);
    for (name, bytes) in [
        ("a.tar", tar.clone()),
        ("a.tar.gz", gzip(&tar)),
        ("a.tar.xz", xz(&tar)),
    ] {
        let (records, q) = collect_bytes(name, &bytes);
        assert!(q.is_empty(), "{name}: {q:?}");
        let ids: Vec<_> = records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            vec!["m0.eml", "m1.eml", "m2.eml", "m3.eml", "m4.eml"],
            "{name}"
        );
        assert_eq!(records[1].origin.member.as_deref(), Some("m1.eml"));
        assert_eq!(records[1].origin.path, name);
        // Member data follows its 512-byte header: 512 + 4608 for the second member.
        assert_eq!(records[1].origin.offset, Some(5120), "{name}");
    }
}

#[test]
fn truncated_archives_keep_what_came_before_the_break() {
    let tar = tar_of_messages(5);
    for (name, compressed) in [("cut.tar.gz", gzip(&tar)), ("cut.tar.xz", xz(&tar))] {
        // Cut in the middle of the third member's data (members span 4608 bytes each).
        let cut = compressed.len() / 2;
        let (records, q) = collect_bytes(name, compressed.get(..cut).unwrap_or_default());
        let ids: Vec<_> = records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, vec!["m0.eml", "m1.eml"], "{name}");
        assert_eq!(reasons(&q), vec!["archive_corrupt"], "{name}");
        assert_eq!(q[0].origin.member.as_deref(), Some("m2.eml"), "{name}");
        assert!(
            q[0].detail.starts_with("corrupt archive: "),
            "{}",
            q[0].detail
        );
    }
    // A plain tar cut inside a member: the member is short, not silently accepted. The third
    // member's 4038 data bytes start at 9728; 1272 of them are left before the cut at 11000.
    let (records, q) = collect_bytes("cut.tar", tar.get(..11_000).unwrap_or_default());
    assert_eq!(records.len(), 2);
    assert_eq!(reasons(&q), vec!["archive_corrupt"]);
    assert_eq!(
        q[0].detail,
        "corrupt archive: archive member ends 2766 bytes early"
    );
}

#[test]
fn archive_member_limit_and_nesting_limit() {
    let tar = tar_of_messages(5);
    let opts = ReadOptions {
        limits: Limits {
            max_archive_members: 2,
            ..Limits::default()
        },
        ..ReadOptions::default()
    };
    let (records, q) = collect("a.tar", &tar[..], &opts);
    assert_eq!(records.len(), 2);
    assert_eq!(reasons(&q), vec!["too_many_members"]);
    // A member over the member limit ends the archive with a quarantine item.
    let opts = ReadOptions {
        limits: Limits {
            max_member_bytes: 4000,
            ..Limits::default()
        },
        ..ReadOptions::default()
    };
    let (records, q) = collect("a.tar", &tar[..], &opts);
    assert!(records.is_empty());
    assert_eq!(reasons(&q), vec!["member_too_large"]);
    assert_eq!(q[0].origin.member.as_deref(), Some("m0.eml"));
    assert_eq!(q[0].raw_len, 4038);
    // gzip inside gzip inside ... seven layers.
    let mut data = b"Subject: deep\n\nx\n".to_vec();
    for _ in 0..7 {
        data = gzip(&data);
    }
    let (records, q) = collect_bytes("deep.gz", &data);
    assert!(records.is_empty());
    assert_eq!(reasons(&q), vec!["archive_too_deep"]);
    // Three layers are fine: a gzipped message.
    let (records, _) = collect_bytes("msg.eml.gz", &gzip(&gzip(b"Subject: ok\n\nx\n")));
    assert_eq!(
        records.first().and_then(|r| r.subject.as_deref()),
        Some("ok")
    );
}

#[test]
fn unreadable_top_level_path_is_an_error() {
    let res = read_path(
        std::path::Path::new("/nonexistent/shrike/input.eml"),
        &ReadOptions::default(),
        &mut |_| {},
    );
    match res {
        Err(e) => {
            assert_eq!(e.reason(), "io");
            assert!(
                e.to_string().starts_with("/nonexistent/shrike/input.eml: "),
                "{e}"
            );
        }
        Ok(_) => panic!("expected an error"),
    }
}

//! The hand-written fixtures in `testdata/`, read through the public entry points.

use std::path::{Path, PathBuf};

use shrike_ingest::{read_path, Item, ReadOptions, ReadStats};
use shrike_types::{AuthVerdict, EmailRecord, FileMagic, Label, Mailbox, Quarantined};

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

fn read_with(path: &Path, opts: &ReadOptions) -> (Vec<EmailRecord>, Vec<Quarantined>, ReadStats) {
    let mut records = Vec::new();
    let mut quarantined = Vec::new();
    let stats = read_path(path, opts, &mut |item| match item {
        Item::Record(r) => records.push(r),
        Item::Quarantined(q) => quarantined.push(q),
    });
    let stats = match stats {
        Ok(s) => s,
        Err(e) => panic!("read_path({}) failed: {e}", path.display()),
    };
    (records, quarantined, stats)
}

fn read(name: &str) -> (Vec<EmailRecord>, Vec<Quarantined>) {
    let (r, q, stats) = read_with(&testdata(name), &ReadOptions::default());
    assert_eq!(stats.records, r.len() as u64);
    assert_eq!(stats.quarantined, q.len() as u64);
    (r, q)
}

fn one(name: &str) -> EmailRecord {
    let (mut records, quarantined) = read(name);
    assert!(
        quarantined.is_empty(),
        "{name}: unexpected quarantine {quarantined:?}"
    );
    assert_eq!(records.len(), 1, "{name}");
    records.remove(0)
}

fn mailbox(name: Option<&str>, address: &str) -> Mailbox {
    Mailbox {
        name: name.map(str::to_owned),
        address: address.to_owned(),
    }
}

#[test]
fn alternative_with_qp_base64_and_encoded_words() {
    let r = one("alternative_qp_b64.eml");
    assert_eq!(r.id, "alternative_qp_b64.eml");
    assert_eq!(r.origin.offset, Some(0));
    assert_eq!(r.origin.index, None);
    // RFC 2047: the blank between two encoded words is not part of the text.
    assert_eq!(r.subject.as_deref(), Some("Café– action required"));
    assert_eq!(
        r.from,
        Some(mailbox(Some("PayPal Sécurité"), "service@paypa1.example"))
    );
    assert_eq!(r.to, vec![mailbox(Some("José"), "jose@example.org")]);
    assert_eq!(r.return_path.as_deref(), Some("bounce@mailer.example"));
    assert_eq!(r.message_id.as_deref(), Some("alt-1@mailer.example"));
    // Tue, 3 Sep 2024 11:59:58 +0200.
    assert_eq!(r.date, Some(1_725_357_598));
    assert_eq!(
        r.body_text.as_deref(),
        Some("Café crème: your account is limited. \nPlease verify at http://paypa1.example/login today.")
    );
    assert_eq!(
        r.body_html.as_deref(),
        Some("<html><body><p>Café crème – <a href=\"http://paypa1.example/login\">verify</a></p></body></html>\n")
    );
    assert!(r.attachments.is_empty());
    assert_eq!(r.auth.spf, Some(AuthVerdict::SoftFail));
    assert_eq!(r.auth.dkim, Some(AuthVerdict::None));
    assert_eq!(r.auth.dmarc, Some(AuthVerdict::Fail));
    assert_eq!(r.mime_depth, 2);
    assert_eq!(r.raw_size, 1114);
    // Headers: every field, name as written, unfolded and decoded.
    assert_eq!(r.headers.len(), 10);
    assert_eq!(
        r.header("received"),
        Some("from mx.example (mx.example [192.0.2.1]) by mail.example.org with ESMTP; Tue, 3 Sep 2024 10:00:05 +0000")
    );
    assert_eq!(r.headers[3].0, "From");
    assert_eq!(r.headers[3].1, "PayPal Sécurité <service@paypa1.example>");
}

#[test]
fn nested_mixed_with_macro_document_and_attached_message() {
    let r = one("nested_docm.eml");
    assert_eq!(r.cc, vec![mailbox(None, "boss@example.org")]);
    assert_eq!(r.reply_to, vec![mailbox(None, "collect@elsewhere.example")]);
    assert_eq!(
        r.body_text.as_deref(),
        Some("Please find the invoice attached. Enable content to view it.")
    );
    assert_eq!(
        r.body_html.as_deref(),
        Some("<p>Please find the invoice attached.</p>")
    );
    assert_eq!(r.mime_depth, 3);
    assert_eq!(r.attachments.len(), 3);

    let docm = &r.attachments[0];
    assert_eq!(docm.name.as_deref(), Some("Invoice_4471.docm"));
    assert_eq!(
        docm.content_type.as_deref(),
        Some("application/vnd.ms-word.document.macroenabled.12")
    );
    assert_eq!(docm.size, 130);
    assert_eq!(
        docm.sha256.as_deref(),
        Some("3bb23f0d6a8a6d35f93bf89ad54e3b1eb6d308991f4f96612eca4271d736e39f")
    );
    assert_eq!(docm.magic, Some(FileMagic::Zip));
    assert_eq!(docm.has_macros, Some(true));

    let pdf = &r.attachments[1];
    assert_eq!(pdf.name.as_deref(), Some("terms.pdf"));
    assert_eq!(pdf.size, 51);
    assert_eq!(pdf.magic, Some(FileMagic::Pdf));
    assert_eq!(pdf.has_macros, Some(false));
    assert_eq!(
        pdf.sha256.as_deref(),
        Some("92d4ef0d3bd81e9fe82b0920b20e8b02e81b98e79377609929b388ee763e7db5")
    );

    // The attached message is an attachment; its body is not merged into ours.
    let fwd = &r.attachments[2];
    assert_eq!(fwd.content_type.as_deref(), Some("message/rfc822"));
    assert_eq!(fwd.size, 82);
    assert_eq!(
        fwd.sha256.as_deref(),
        Some("f447ae5faf3f384632d3b98a0b571868185bf4038347c8525367524bfaa67266")
    );
    assert!(!r.body_text.as_deref().unwrap_or("").contains("Inner body"));
}

#[test]
fn mbox_with_three_messages_and_escaped_from_lines() {
    let (records, quarantined) = read("three.mbox");
    assert!(quarantined.is_empty());
    let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, vec!["three.mbox#0", "three.mbox#1", "three.mbox#2"]);
    let offsets: Vec<Option<u64>> = records.iter().map(|r| r.origin.offset).collect();
    assert_eq!(offsets, vec![Some(0), Some(146), Some(310)]);
    assert_eq!(records[1].origin.index, Some(1));
    let subjects: Vec<&str> = records
        .iter()
        .filter_map(|r| r.subject.as_deref())
        .collect();
    assert_eq!(subjects, vec!["first", "second", "third"]);
    // mboxrd: one `>` removed.
    assert_eq!(
        records[1].body_text.as_deref(),
        Some("Quoted line below:\nFrom the archive, with love.\n>From a deeper quote.\n")
    );
    // The separator's blank line is not part of the message.
    assert_eq!(records[0].body_text.as_deref(), Some("Hello one.\n"));
    // No Date header: the `From ` line's date (Mon Sep 2 09:00:00 2024).
    assert_eq!(records[1].date, Some(1_725_267_600));
    assert_eq!(records[2].date, Some(1_725_271_200));
}

#[test]
fn crlf_message() {
    let r = one("crlf.eml");
    assert_eq!(r.subject.as_deref(), Some("CRLF line ends"));
    assert_eq!(r.body_text.as_deref(), Some("Line one\nLine two\n\nBye\n"));
    // Wed, 04 Sep 2024 12:00:00 -0400.
    assert_eq!(r.date, Some(1_725_465_600));
    assert_eq!(r.auth.spf, Some(AuthVerdict::Pass));
    assert_eq!(r.auth.dkim, None);
    assert_eq!(r.raw_size, 321);
    assert!(r.headers.iter().all(|(_, v)| !v.contains('\r')));
}

#[test]
fn email_log_object() {
    let r = one("email_log.json");
    assert_eq!(r.id, "evt-20240905-0001");
    assert_eq!(r.origin.index, None);
    assert_eq!(
        r.from,
        Some(mailbox(Some("IT Helpdesk"), "helpdesk@examp1e.com"))
    );
    assert_eq!(
        r.to,
        vec![
            mailbox(Some("Frank"), "frank@example.org"),
            mailbox(None, "grace@example.org")
        ]
    );
    assert_eq!(r.reply_to, vec![mailbox(None, "harvest@collector.example")]);
    assert_eq!(r.return_path.as_deref(), Some("bounces@examp1e.com"));
    assert_eq!(r.message_id.as_deref(), Some("evt-1@examp1e.com"));
    assert_eq!(r.date, Some(1_725_521_400));
    assert_eq!(
        r.body_text.as_deref(),
        Some("Your password expires today.\nKeep it: https://examp1e.com/reset")
    );
    assert_eq!(r.urls, vec!["https://examp1e.com/reset".to_owned()]);
    assert_eq!(r.attachments.len(), 1);
    assert_eq!(r.attachments[0].content_type.as_deref(), Some("text/html"));
    assert_eq!(r.attachments[0].size, 2048);
    assert_eq!(
        r.attachments[0].sha256.as_deref(),
        Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
    );
    assert_eq!(r.attachments[0].has_macros, None);
    assert_eq!(r.auth.spf, Some(AuthVerdict::Fail));
    assert_eq!(r.auth.dkim, Some(AuthVerdict::None));
    assert_eq!(r.auth.dmarc, Some(AuthVerdict::Fail));
    assert_eq!(r.label, Some(Label::Phishing));
    assert_eq!(r.source.as_deref(), Some("siem-export"));
    // Header object: one entry per value of a repeated header.
    assert_eq!(r.headers_named("received").count(), 2);
    assert_eq!(r.header("x-mailer"), Some("PHPMailer 6.0"));
}

#[test]
fn ndjson_with_a_broken_line_in_the_middle() {
    let (records, quarantined) = read("bad_line.ndjson");
    let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, vec!["n1", "n2", "n5"]);
    assert_eq!(records[0].date, Some(1_725_521_400));
    // Milliseconds and RFC 2822 strings read as the same instant.
    assert_eq!(records[1].date, Some(1_725_521_400));
    assert_eq!(records[2].date, Some(1_725_521_400));
    assert_eq!(records[2].origin.index, Some(4));
    assert_eq!(quarantined.len(), 2);
    assert_eq!(quarantined[0].reason, "json_invalid");
    assert_eq!(quarantined[0].origin.index, Some(2));
    assert!(
        quarantined[0]
            .detail
            .starts_with("record 2: invalid JSON: "),
        "{}",
        quarantined[0].detail
    );
    assert_eq!(quarantined[1].reason, "json_wrong_type");
    assert_eq!(
        quarantined[1].detail,
        "record 3: field \"to\": expected string, object or array, got number"
    );
    // The broken line is kept verbatim (base64) for inspection.
    assert_eq!(
        quarantined[0].raw_b64,
        "eyJpZCI6ICJuMyIsICJmcm9tIjogImNAZXhhbXBsZS5vcmciLCAic3ViamVjdCI6ICJ0aHJlZSBpcyB0cnVuY2F0ZWQ="
    );
}

#[test]
fn nazario_csv() {
    let (records, quarantined) = read("nazario.csv");
    assert_eq!(records.len(), 2);
    let r = &records[0];
    assert_eq!(r.id, "nazario.csv#0");
    assert_eq!(
        r.from,
        Some(mailbox(Some("PayPal"), "service@paypa1.example"))
    );
    assert_eq!(r.to, vec![mailbox(None, "user@example.org")]);
    assert_eq!(r.subject.as_deref(), Some("Account limited"));
    assert_eq!(r.date, Some(1_155_051_901));
    assert_eq!(
        r.body_text.as_deref(),
        Some("Dear member,\nwe noticed unusual activity.\nVisit http://paypa1.example/verify now.")
    );
    assert_eq!(r.label, Some(Label::Phishing));
    let r = &records[1];
    assert_eq!(r.to.len(), 2);
    assert_eq!(r.date, Some(1_155_124_800));
    assert_eq!(
        r.body_html.as_deref(),
        Some("<html><body>Deals!</body></html>")
    );
    assert_eq!(r.body_text, None);
    assert_eq!(r.label, Some(Label::Ham));
    // The all-empty row is not dropped silently.
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0].reason, "missing_fields");
    assert_eq!(quarantined[0].origin.index, Some(2));
}

#[test]
fn directory_walk_is_sorted_and_labels_from_path() {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let spam = dir.path().join("corpus").join("spam");
    let ham = dir.path().join("corpus").join("easy_ham").join("2024");
    for d in [&spam, &ham] {
        if let Err(e) = std::fs::create_dir_all(d) {
            panic!("mkdir: {e}");
        }
    }
    let copy = |from: &str, to: &Path| {
        if let Err(e) = std::fs::copy(testdata(from), to) {
            panic!("copy: {e}");
        }
    };
    copy("crlf.eml", &spam.join("b.eml"));
    copy("nested_docm.eml", &spam.join("a.eml"));
    copy("crlf.eml", &ham.join("x"));
    copy("crlf.eml", &spam.join(".hidden.eml"));
    let opts = ReadOptions {
        label_from_path: true,
        source: Some("unit".into()),
        ..ReadOptions::default()
    };
    let (records, quarantined, _) = read_with(&dir.path().join("corpus"), &opts);
    assert!(quarantined.is_empty());
    let got: Vec<(&str, Option<Label>)> =
        records.iter().map(|r| (r.id.as_str(), r.label)).collect();
    assert_eq!(
        got,
        vec![
            ("easy_ham/2024/x", Some(Label::Ham)),
            ("spam/a.eml", Some(Label::Spam)),
            ("spam/b.eml", Some(Label::Spam)),
        ]
    );
    assert!(records.iter().all(|r| r.source.as_deref() == Some("unit")));
    // An explicit label wins over the path.
    let opts = ReadOptions {
        label_from_path: true,
        label: Some(Label::Phishing),
        ..ReadOptions::default()
    };
    let (records, _, _) = read_with(&dir.path().join("corpus"), &opts);
    assert!(records.iter().all(|r| r.label == Some(Label::Phishing)));
}

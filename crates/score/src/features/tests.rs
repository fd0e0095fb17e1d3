//! Unit tests of the email feature extractor as a whole: schema, crafted phishing and ham,
//! artifact invariance (recipients, line endings, collector/list headers and footers),
//! lookalike domains, attachments, and a property test over arbitrary records.

use super::*;
use proptest::prelude::*;
use shrike_types::{Attachment, AuthResults, AuthVerdict, FileMagic, Mailbox};

fn mb(name: Option<&str>, address: &str) -> Mailbox {
    Mailbox {
        name: name.map(str::to_owned),
        address: address.to_owned(),
    }
}

fn features(rec: &EmailRecord) -> Vec<f32> {
    let mut out = Vec::new();
    extract_email(rec, &FeatureContext::default(), &mut out);
    out
}

/// The value of a named feature.
fn get(x: &[f32], name: &str) -> f32 {
    let i = email_schema()
        .index_of(name)
        .unwrap_or_else(|| panic!("no feature {name}"));
    x.get(i).copied().unwrap_or(f32::INFINITY)
}

/// Bit-exact equality (NaN equals NaN), reporting the first differing feature.
fn assert_same(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len());
    for ((x, y), f) in a.iter().zip(b).zip(&email_schema().features) {
        assert_eq!(
            x.to_bits(),
            y.to_bits(),
            "{what}: feature {} differs: {x} vs {y}",
            f.name
        );
    }
}

fn ngram_part(x: &[f32]) -> Vec<u32> {
    x.iter()
        .zip(&email_schema().features)
        .filter(|(_, f)| f.group == "ngram")
        .map(|(v, _)| v.to_bits())
        .collect()
}

fn paypal_phish() -> EmailRecord {
    EmailRecord {
        id: "phish".into(),
        from: Some(mb(Some("PayPal Security"), "service@paypa1-secure.com")),
        to: vec![mb(None, "victim@corp.example")],
        reply_to: vec![mb(None, "paypal.help.desk@gmail.com")],
        return_path: Some("service@paypa1-secure.com".into()),
        message_id: Some("1234.5678@paypa1-secure.com".into()),
        subject: Some("Urgent: your account has been limited".into()),
        body_html: Some(
            "<html><body><p>Dear Customer,</p><p>We noticed unusual activity. Verify your account within 24 hours or it will be suspended.</p>\
             <a href=\"http://192.168.4.7/login\">https://www.paypal.com</a>\
             <form action=\"http://192.168.4.7/collect\"><input type=\"text\" name=\"email\"><input type=\"password\" name=\"pw\"></form></body></html>"
                .into(),
        ),
        auth: AuthResults { spf: Some(AuthVerdict::Fail), dkim: Some(AuthVerdict::None), dmarc: None },
        ..Default::default()
    }
}

fn plain_ham() -> EmailRecord {
    EmailRecord {
        id: "ham".into(),
        from: Some(mb(Some("Alice Smith"), "alice@university.edu")),
        to: vec![mb(Some("Bob Jones"), "bob@university.edu")],
        message_id: Some("20240501.abc@university.edu".into()),
        return_path: Some("alice@university.edu".into()),
        subject: Some("Lunch on Friday?".into()),
        body_text: Some("Hi Bob,\n\nAre you free for lunch on Friday? The new place on Main Street looks good.\nThe menu is at https://www.mainstreetdeli.example/menu\n\nAlice\n".into()),
        auth: AuthResults { spf: Some(AuthVerdict::Pass), dkim: Some(AuthVerdict::Pass), dmarc: Some(AuthVerdict::Pass) },
        ..Default::default()
    }
}

#[test]
fn schema_is_unique_versioned_and_sized() {
    let s = email_schema();
    assert_eq!((s.name.as_str(), s.version), ("email", 1));
    let mut names: Vec<&str> = s.features.iter().map(|f| f.name.as_str()).collect();
    names.sort_unstable();
    let n = names.len();
    names.dedup();
    assert_eq!(names.len(), n, "feature names must be unique");
    let count = |g: &str| s.features.iter().filter(|f| f.group == g).count();
    assert_eq!(
        [
            count("sender"),
            count("auth"),
            count("url"),
            count("content"),
            count("attachment"),
            count("ngram")
        ],
        [21, 5, 24, 27, 10, 192]
    );
    assert_eq!(s.len(), 279);
    assert!(s.features.iter().all(|f| !f.description.is_empty()));
    assert_eq!(s.index_of("word_hash_017"), Some(87 + 17));
    assert_eq!(s.index_of("char_hash_063"), Some(278));
    // The fingerprint pins names and order; a change must bump EMAIL_SCHEMA_VERSION.
    assert_eq!(s.fingerprint().len(), 64);
    for rec in [EmailRecord::default(), paypal_phish(), plain_ham()] {
        assert_eq!(features(&rec).len(), s.len());
    }
    let mut out = vec![1.0; 3];
    EmailFeatureExtractor::new().extract(
        &EmailRecord::default(),
        &FeatureContext::default(),
        &mut out,
    );
    assert_eq!(out.len(), s.len());
}

#[test]
fn sorted_tables_are_sorted() {
    for (name, list) in domain::sorted_lists() {
        assert!(
            list.windows(2).all(|w| w.first() < w.get(1)),
            "{name} must be sorted and unique"
        );
    }
}

#[test]
fn paypal_impersonation_lights_up() {
    let x = features(&paypal_phish());
    let expect = [
        ("sender_display_brand", 1.0),
        ("sender_display_brand_mismatch", 1.0),
        ("sender_display_role", 1.0),
        ("sender_display_has_address", 0.0),
        ("sender_from_missing", 0.0),
        ("sender_from_lookalike", 1.0),
        ("sender_reply_to_lookalike", 0.0),
        ("sender_freemail", 0.0),
        ("sender_reply_to_differs", 1.0),
        ("sender_reply_to_freemail", 1.0),
        ("sender_return_path_differs", 0.0),
        ("sender_message_id_differs", 0.0),
        ("sender_from_domain_labels", 2.0),
        ("sender_from_domain_digits", 1.0),
        ("auth_spf", 0.0),
        ("auth_dkim", 0.5),
        ("auth_any_fail", 1.0),
        ("auth_all_pass", 0.0),
        ("url_count_log", 2f32.ln_1p()),
        ("url_distinct_domains", 1.0),
        ("url_ip_host", 2.0),
        ("url_text_href_mismatch", 1.0),
        ("url_form_password", 1.0),
        ("url_form_external_action", 1.0),
        ("url_http_share", 1.0),
        ("url_offdomain_share", 1.0),
        ("url_lookalike", 0.0),
        ("url_shortener", 0.0),
        ("url_length_max", "http://192.168.4.7/collect".len() as f32),
        ("content_html_only", 1.0),
        ("content_generic_greeting", 1.0),
        ("content_urgency_density", 300.0 / 21.0),
        ("content_credential_density", 200.0 / 21.0),
        ("content_has_form", 1.0),
        ("content_has_script", 0.0),
        ("subject_urgency", 2.0),
        ("subject_fake_reply", 0.0),
        ("subject_missing", 0.0),
        ("att_count", 0.0),
    ];
    for (name, want) in expect {
        let got = get(&x, name);
        assert!((got - want).abs() < 1e-5, "{name}: got {got}, want {want}");
    }
    assert!(get(&x, "auth_dmarc").is_nan());
    assert!(get(&x, "sender_domain_age_days").is_nan());
    let mut ctx_out = Vec::new();
    extract_email(
        &paypal_phish(),
        &FeatureContext {
            sender_domain_age_days: Some(3.0),
        },
        &mut ctx_out,
    );
    assert_eq!(get(&ctx_out, "sender_domain_age_days"), 3.0);
}

#[test]
fn plain_ham_is_quiet() {
    let x = features(&plain_ham());
    for name in [
        "sender_display_brand",
        "sender_display_brand_mismatch",
        "sender_display_role",
        "sender_from_lookalike",
        "sender_punycode",
        "sender_freemail",
        "sender_reply_to_differs",
        "sender_return_path_differs",
        "sender_message_id_differs",
        "url_ip_host",
        "url_shortener",
        "url_risky_tld",
        "url_text_href_mismatch",
        "url_form_password",
        "url_form_external_action",
        "url_lookalike",
        "url_http_share",
        "content_html_only",
        "content_urgency_density",
        "content_credential_density",
        "content_financial_density",
        "content_generic_greeting",
        "content_has_form",
        "content_zero_width_chars",
        "subject_urgency",
        "subject_fake_reply",
        "att_count",
    ] {
        assert_eq!(get(&x, name), 0.0, "{name}");
    }
    assert_eq!(get(&x, "url_count_log"), 1f32.ln_1p());
    assert_eq!(get(&x, "url_offdomain_share"), 1.0);
    assert_eq!(get(&x, "auth_all_pass"), 1.0);
    assert!(get(&x, "content_hidden_text_share").is_nan());
    assert!(x.iter().all(|v| v.is_finite() || v.is_nan()));
}

#[test]
fn recipient_masking_hides_who_received_it() {
    let body = |addr: &str| {
        format!("Dear {addr},\nyour mailbox {addr} is almost full. Visit https://evil.example/q?u={addr}&id=7\nhttps://evil.example/#{}\n", {
            // A phishing kit's base64-encoded copy of the address.
            let mut s = String::new();
            let b64 = |a: &str| {
                const AL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                let mut o = String::new();
                for c in a.as_bytes().chunks(3) {
                    let n = c.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
                    for k in 0..=c.len() {
                        o.push(char::from(AL.get(((n >> (18 - 6 * k)) & 63) as usize).copied().unwrap_or(b'A')));
                    }
                }
                o
            };
            s.push_str(&b64(addr));
            s
        })
    };
    let mk = |to: &str, addr: &str| EmailRecord {
        from: Some(mb(Some("Webmail Admin"), "admin@mailbox-upgrade.example")),
        to: vec![mb(None, to)],
        subject: Some(format!("{addr}: mailbox quota exceeded")),
        body_text: Some(body(addr)),
        ..Default::default()
    };
    let jose = features(&mk("jose@monkey.org", "jose@monkey.org"));
    let alice = features(&mk("alice@corp.example", "alice@corp.example"));
    assert_eq!(ngram_part(&jose), ngram_part(&alice));
    assert_same(&jose, &alice, "different recipient");
    // The collector placeholder is masked even when it is not this message's recipient.
    let other = features(&mk("alice@corp.example", "jose@monkey.org"));
    assert_same(&jose, &other, "placeholder in body");

    let mut ex = EmailFeatureExtractor::new();
    let mut out = Vec::new();
    ex.extract(
        &mk("jose@monkey.org", "jose@monkey.org"),
        &FeatureContext::default(),
        &mut out,
    );
    let (subject, text, _) = ex.cleaned();
    assert_eq!(
        String::from_utf8_lossy(subject),
        "rcptmask: mailbox quota exceeded"
    );
    assert_eq!(
        String::from_utf8_lossy(text),
        "Dear rcptmask,\nyour mailbox rcptmask is almost full. Visit https://evil.example/q?u=rcptmask&id=7\nhttps://evil.example/#am9zZUBtb25rZXkub3Jn"
    );
}

#[test]
fn names_of_recipients_are_masked_as_words() {
    let mk = |to: &str, greeting: &str| EmailRecord {
        to: vec![mb(None, to)],
        body_text: Some(format!("Dear {greeting}, your password expires today.")),
        ..Default::default()
    };
    let a = features(&mk("jose@monkey.org", "jose"));
    let b = features(&mk("phishing@pot", "phishing"));
    assert_same(&a, &b, "recipient name");
    assert_eq!(get(&a, "content_generic_greeting"), 0.0);
}

#[test]
fn line_endings_do_not_matter() {
    let lf = EmailRecord {
        from: Some(mb(Some("IT Helpdesk"), "it@help-desk.example")),
        subject: Some("Password expiry".into()),
        body_text: Some("Hello,\n\nYour password expires today.\nClick https://x.example/reset\n\n-- \nIT\n".into()),
        body_html: Some("<html>\n<body>\n<p>Hello,</p>\n<p style=\"display:none\">hidden\ntext</p>\n<a href=\"https://x.example/reset\">Reset</a>\n</body>\n</html>\n".into()),
        ..Default::default()
    };
    let crlf = EmailRecord {
        body_text: lf.body_text.as_ref().map(|t| t.replace('\n', "\r\n")),
        body_html: lf.body_html.as_ref().map(|t| t.replace('\n', "\r\n")),
        ..lf.clone()
    };
    let cr = EmailRecord {
        body_text: lf.body_text.as_ref().map(|t| t.replace('\n', "\r")),
        body_html: lf.body_html.as_ref().map(|t| t.replace('\n', "\r")),
        raw_size: 12345,
        ..lf.clone()
    };
    let base = features(&lf);
    assert_same(&base, &features(&crlf), "CRLF");
    assert_same(&base, &features(&cr), "CR");
}

#[test]
fn collector_and_list_artifacts_do_not_matter() {
    let base = EmailRecord {
        from: Some(mb(Some("Marcus Müller"), "marcus@ettus.example")),
        to: vec![mb(None, "usrp-users@lists.ettus.com")],
        reply_to: vec![],
        subject: Some("B210 overflow at 56 MS/s".into()),
        message_id: Some("CAF123@mail.gmail.com".into()),
        body_text: Some("Hi all,\n\nI see overflows (O) at 56 MS/s on a B210 over USB 3.\nAny ideas?\n\nMarcus\n".into()),
        date: Some(1_600_000_000),
        ..Default::default()
    };
    let mut listed = base.clone();
    // Mailman's DMARC mitigation: From rewritten to the list, the author moved to Reply-To.
    listed.from = Some(mb(
        Some("Marcus Müller via USRP-users"),
        "usrp-users@lists.ettus.com",
    ));
    listed.reply_to = vec![mb(Some("Marcus Müller"), "marcus@ettus.example")];
    listed.subject = Some("[USRP-users] B210 overflow at 56 MS/s".into());
    listed.headers = vec![
        (
            "Received".into(),
            "from lists.ettus.com by mail.lfdr.de with ESMTPS; Mon, 14 Sep 2020 12:00:00 +0000"
                .into(),
        ),
        ("Delivered-To".into(), "lists+usrp-users@lfdr.de".into()),
        ("X-Original-To".into(), "lists+usrp-users@lfdr.de".into()),
        ("X-MS-Exchange-Organization-SCL".into(), "1".into()),
        ("X-MS-Exchange-CrossTenant-Id".into(), "84df9e7f".into()),
        ("X-Microsoft-Antispam".into(), "BCL:0;".into()),
        (
            "List-Id".into(),
            "Discussion and technical support related to USRP <usrp-users.lists.ettus.com>".into(),
        ),
        (
            "List-Unsubscribe".into(),
            "<mailto:usrp-users-leave@lists.ettus.com>".into(),
        ),
        ("Precedence".into(), "list".into()),
        ("X-Spam-Status".into(), "No, score=-1.9".into()),
        (
            "X-Mailer".into(),
            "Microsoft Outlook Express 6.00.2800.1106".into(),
        ),
        ("Status".into(), "RO".into()),
        ("Date".into(), "Tue, 20 Aug 2002 10:00:00 +0100".into()),
    ];
    listed.return_path = Some("usrp-users-bounces+lists+usrp-users=lfdr.de@lists.ettus.com".into());
    listed.body_text = base.body_text.as_ref().map(|t| {
        format!("{t}_______________________________________________\nUSRP-users mailing list -- usrp-users@lists.ettus.com\nTo unsubscribe send an email to usrp-users-leave@lists.ettus.com\n")
    });
    listed.date = Some(1_030_000_000);
    listed.raw_size = 99_999;
    listed.mime_depth = 2;
    let mut no_rp = base.clone();
    no_rp.return_path = None;
    assert_same(
        &features(&no_rp),
        &features(&listed),
        "list and collector artifacts",
    );
    // A list that sets Reply-To to itself.
    let mut reply_to_list = no_rp.clone();
    reply_to_list.reply_to = vec![mb(None, "usrp-users@lists.ettus.com")];
    assert_same(
        &features(&no_rp),
        &features(&reply_to_list),
        "Reply-To: the list",
    );
    // The Google Groups footer too.
    let mut gg = base.clone();
    gg.body_text = base.body_text.as_ref().map(|t| {
        format!("{t}\n-- \nYou received this message because you are subscribed to the Google Groups \"open-iscsi\" group.\nTo unsubscribe from this group, send an email to open-iscsi+unsubscribe@googlegroups.com.\n")
    });
    assert_same(&features(&base), &features(&gg), "Google Groups footer");
}

#[test]
fn punycode_and_homoglyph_domains() {
    let from = |addr: &str| EmailRecord {
        from: Some(mb(Some("Service"), addr)),
        body_html: Some(format!(
            "<a href=\"https://{}/signin\">Sign in</a>",
            addr.rsplit_once('@').map_or("", |x| x.1)
        )),
        ..Default::default()
    };
    for (addr, puny) in [
        ("service@xn--pypal-4ve.com", 1.0),
        ("service@paypaI.com", 0.0),
        ("service@rnicrosoft.com", 0.0),
        ("no-reply@micros0ft-support.com", 0.0),
    ] {
        let x = features(&from(addr));
        assert_eq!(get(&x, "sender_from_lookalike"), 1.0, "{addr}");
        assert_eq!(get(&x, "url_lookalike"), 1.0, "{addr}");
        assert_eq!(get(&x, "sender_punycode"), puny, "{addr}");
        assert_eq!(get(&x, "url_punycode"), puny, "{addr}");
    }
    for addr in [
        "service@paypal.com",
        "news@amazon.de",
        "alice@university.edu",
    ] {
        let x = features(&from(addr));
        assert_eq!(get(&x, "sender_from_lookalike"), 0.0, "{addr}");
        assert_eq!(get(&x, "url_lookalike"), 0.0, "{addr}");
    }
    // A Cyrillic domain written directly, and a brand name in a subdomain.
    let x = features(&EmailRecord {
        from: Some(mb(None, "info@раураl.com")),
        body_text: Some("Log in at http://paypal.com.account-verify.xyz/login".into()),
        ..Default::default()
    });
    assert_eq!(get(&x, "sender_non_ascii_domain"), 1.0);
    assert_eq!(get(&x, "sender_from_lookalike"), 1.0);
    assert_eq!(get(&x, "url_brand_in_subdomain"), 1.0);
    assert_eq!(get(&x, "url_risky_tld"), 1.0);
    assert_eq!(get(&x, "url_many_subdomains"), 0.0);
    assert_eq!(get(&x, "url_subdomain_depth_max"), 2.0);
}

#[test]
fn attachments() {
    let att = |name: &str, ct: &str, magic: Option<FileMagic>, macros: Option<bool>| Attachment {
        name: Some(name.into()),
        content_type: Some(ct.into()),
        size: 1000,
        sha256: None,
        magic,
        has_macros: macros,
    };
    let rec = EmailRecord {
        attachments: vec![
            att(
                "Invoice.PDF.exe",
                "application/octet-stream",
                Some(FileMagic::Pe),
                None,
            ),
            att(
                "report.docm",
                "application/vnd.ms-word.document.macroEnabled.12",
                Some(FileMagic::Zip),
                Some(true),
            ),
            att(
                "scan.xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                Some(FileMagic::Zip),
                Some(true),
            ),
            att("page.html", "text/html", Some(FileMagic::Html), None),
            att("docs.zip", "application/zip", Some(FileMagic::Zip), None),
            att("photo.jpg", "image/jpeg", Some(FileMagic::Pe), None),
            att("signature.asc", "application/pgp-signature", None, None),
            att(
                "statement.pdf",
                "application/pdf",
                Some(FileMagic::Pdf),
                None,
            ),
        ],
        ..Default::default()
    };
    let x = features(&rec);
    let expect = [
        ("att_count", 7.0),
        ("att_risky_ext", 3.0),
        ("att_double_ext", 1.0),
        ("att_macro", 2.0),
        ("att_html_svg", 1.0),
        ("att_archive", 1.0),
        ("att_exec_magic", 2.0),
        ("att_ext_magic_mismatch", 1.0),
        ("att_image_count", 1.0),
        ("att_pdf_count", 1.0),
    ];
    for (name, want) in expect {
        assert_eq!(get(&x, name), want, "{name}");
    }
    let rlo = features(&EmailRecord {
        attachments: vec![att("invoice\u{202e}fdp.exe", "", None, None)],
        ..Default::default()
    });
    assert_eq!(get(&rlo, "att_double_ext"), 1.0);
}

#[test]
fn hidden_text_and_html_structure() {
    let rec = EmailRecord {
        body_html: Some(
            "<html><body><div style=\"display:none;font-size:0\">free money bitcoin winner</div><p>Your parcel is waiting.</p>\
             <img src=\"https://cdn.example/logo.png\"><img src=\"cid:x\"><script>alert(1)</script><iframe src=\"https://x.example/\"></iframe>\
             <meta http-equiv=\"refresh\" content=\"5;url=https://bit.ly/abc\"><a href=\"javascript:void(0)\">x</a></body></html>"
                .into(),
        ),
        ..Default::default()
    };
    let x = features(&rec);
    assert_eq!(get(&x, "content_hidden_elements"), 1.0);
    let hidden = "freemoneybitcoinwinner".len() as f32;
    let shown = "yourparceliswaiting.x".len() as f32;
    assert!((get(&x, "content_hidden_text_share") - hidden / (hidden + shown)).abs() < 1e-6);
    assert_eq!(get(&x, "content_financial_density"), 0.0);
    assert_eq!(get(&x, "content_image_count"), 2.0);
    assert_eq!(get(&x, "content_has_script"), 1.0);
    assert_eq!(get(&x, "content_has_iframe"), 1.0);
    assert_eq!(get(&x, "content_meta_refresh"), 1.0);
    assert_eq!(get(&x, "url_shortener"), 1.0);
    assert_eq!(get(&x, "url_script_scheme"), 1.0);
    assert_eq!(get(&x, "url_count_log"), 3f32.ln_1p());
}

#[test]
fn subject_features() {
    let mk = |s: &str, threaded: bool| EmailRecord {
        subject: Some(s.into()),
        headers: if threaded {
            vec![("In-Reply-To".into(), "<a@b>".into())]
        } else {
            vec![]
        },
        ..Default::default()
    };
    let x = features(&mk("RE: URGENT!! Invoice payment", false));
    assert_eq!(get(&x, "subject_fake_reply"), 1.0);
    assert_eq!(get(&x, "subject_exclaim_count"), 2.0);
    assert_eq!(get(&x, "subject_urgency"), 1.0);
    assert_eq!(get(&x, "subject_lure"), 2.0);
    assert_eq!(get(&x, "subject_length"), 28.0);
    assert!((get(&x, "subject_uppercase_ratio") - 9.0 / 22.0).abs() < 1e-6);
    assert_eq!(
        get(
            &features(&mk("RE: URGENT!! Invoice payment", true)),
            "subject_fake_reply"
        ),
        0.0
    );
    let x = features(&mk("", false));
    assert_eq!(get(&x, "subject_missing"), 1.0);
    assert!(get(&x, "subject_uppercase_ratio").is_nan());
}

#[test]
fn ngrams_are_deterministic_and_normalised() {
    let x = features(&plain_ham());
    let words: Vec<f32> = (0..128)
        .map(|i| get(&x, &format!("word_hash_{i:03}")))
        .collect();
    let chars: Vec<f32> = (0..64)
        .map(|i| get(&x, &format!("char_hash_{i:03}")))
        .collect();
    assert!((chars.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    assert!(words.iter().all(|&v| v >= 0.0) && words.iter().any(|&v| v > 0.0));
    // Pinned: bucket assignment must not change without a schema version bump.
    let nonzero: Vec<usize> = words
        .iter()
        .enumerate()
        .filter(|(_, v)| **v > 0.0)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(nonzero.len(), PINNED_HAM_WORD_BUCKETS);
    assert_same(&x, &features(&plain_ham()), "repeat");
}

const PINNED_HAM_WORD_BUCKETS: usize = 26;

/// Fragments that exercise every scanner (tags, styles, entities, URLs, addresses, footers).
const FRAGMENTS: &[&str] = &[
    "<a href=\"",
    "\">",
    "</a>",
    "<form action=",
    "<input type=password>",
    "<div style=\"display:none\">",
    "</div>",
    "<p style='color:#fff'>",
    "<td bgcolor=white>",
    "<!--",
    "-->",
    "<script>",
    "</script>",
    "&#x200b;",
    "&amp;",
    "&",
    "&#",
    ";",
    "@",
    "%40",
    "\r\n",
    "\r",
    "\n",
    "xn--",
    "xn--pypal-4ve",
    "http://",
    "https://",
    "www.",
    "//",
    "____________________________________________",
    "You received this message because you are subscribed to",
    "-=-=-=-=-=-=-=-=-=",
    "/listinfo/",
    "jose@monkey.org",
    "phishing@pot",
    "monkey.org",
    "lfdr.de",
    "[",
    "]",
    "re:",
    "€",
    "$",
    "1",
    "0x",
    "[::1]",
    ".",
    "-",
    "paypa1",
    "rn",
    "\u{202e}",
    "\u{a0}",
    "é",
    "🙂",
    "\u{ad}",
    "<",
    ">",
    "\"",
    "'",
    "=",
    "?",
    "#",
    ":",
    " ",
];

fn soup() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(prop::sample::select(FRAGMENTS), 0..60).prop_map(|v| v.concat()),
        (
            any::<String>(),
            prop::collection::vec(prop::sample::select(FRAGMENTS), 0..20)
        )
            .prop_map(|(a, v)| format!("{a}{}", v.concat())),
    ]
}

fn mailbox() -> impl Strategy<Value = Mailbox> {
    (prop::option::of(soup()), soup()).prop_map(|(name, address)| Mailbox { name, address })
}

fn magic() -> impl Strategy<Value = Option<FileMagic>> {
    prop::option::of(prop::sample::select(vec![
        FileMagic::Pdf,
        FileMagic::Zip,
        FileMagic::Ole,
        FileMagic::Rar,
        FileMagic::SevenZip,
        FileMagic::Gzip,
        FileMagic::Pe,
        FileMagic::Elf,
        FileMagic::Iso,
        FileMagic::Html,
        FileMagic::Image,
        FileMagic::Other,
    ]))
}

fn verdict() -> impl Strategy<Value = Option<AuthVerdict>> {
    prop::option::of(prop::sample::select(vec![
        AuthVerdict::Pass,
        AuthVerdict::Fail,
        AuthVerdict::SoftFail,
        AuthVerdict::Neutral,
        AuthVerdict::None,
        AuthVerdict::Error,
        AuthVerdict::Other,
    ]))
}

fn record() -> impl Strategy<Value = EmailRecord> {
    (
        (
            prop::option::of(mailbox()),
            prop::collection::vec(mailbox(), 0..3),
            prop::collection::vec(mailbox(), 0..3),
            prop::collection::vec(mailbox(), 0..2),
        ),
        (
            prop::option::of(soup()),
            prop::option::of(soup()),
            prop::option::of(soup()),
        ),
        (
            prop::collection::vec((soup(), soup()), 0..4),
            prop::option::of(soup()),
            prop::option::of(soup()),
            prop::collection::vec(soup(), 0..3),
        ),
        prop::collection::vec(
            (
                prop::option::of(soup()),
                prop::option::of(soup()),
                magic(),
                prop::option::of(any::<bool>()),
            ),
            0..3,
        ),
        (verdict(), verdict(), verdict()),
    )
        .prop_map(
            |(
                (from, to, cc, reply_to),
                (return_path, subject, message_id),
                (headers, body_text, body_html, urls),
                atts,
                (spf, dkim, dmarc),
            )| EmailRecord {
                from,
                to,
                cc,
                reply_to,
                return_path,
                subject,
                message_id,
                headers,
                body_text,
                body_html,
                urls,
                attachments: atts
                    .into_iter()
                    .map(|(name, content_type, magic, has_macros)| Attachment {
                        name,
                        content_type,
                        size: 0,
                        sha256: None,
                        magic,
                        has_macros,
                    })
                    .collect(),
                auth: AuthResults { spf, dkim, dmarc },
                ..Default::default()
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_and_values_are_finite_or_nan(rec in record(), age in prop::option::of(any::<f32>())) {
        let mut out = Vec::new();
        let mut ex = EmailFeatureExtractor::new();
        ex.extract(&rec, &FeatureContext { sender_domain_age_days: age }, &mut out);
        prop_assert_eq!(out.len(), email_schema().len());
        for (v, f) in out.iter().zip(&email_schema().features) {
            prop_assert!(v.is_finite() || v.is_nan(), "{} = {}", f.name, v);
        }
        // Reusing the extractor gives the same answer.
        let mut again = Vec::new();
        ex.extract(&rec, &FeatureContext { sender_domain_age_days: age }, &mut again);
        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&out), bits(&again));
    }
}

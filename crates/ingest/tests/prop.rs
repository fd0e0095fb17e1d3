//! Property tests: the parsers never panic, and every input yields at least one item whose
//! reason (if quarantined) is a known code.

use proptest::prelude::*;
use serde_json::{Map, Value};
use shrike_ingest::{
    parse_email_log, parse_message, read_reader, Item, Limits, ReadOptions, RecordOrigin,
};

const REASONS: &[&str] = &[
    "io",
    "empty",
    "not_an_email",
    "message_too_large",
    "mime_too_deep",
    "too_many_parts",
    "too_many_headers",
    "json_invalid",
    "json_wrong_type",
    "missing_fields",
    "record_too_large",
    "csv_invalid",
    "archive_corrupt",
    "too_many_members",
    "archive_too_deep",
    "member_too_large",
];

/// Pieces that steer random messages into the interesting paths of the MIME walk.
fn mime_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"From: a@b.example\n".to_vec()),
        Just(b"From x Mon Sep  2 08:00:00 2024\n".to_vec()),
        Just(b"Subject: =?utf-8?B?w6k=?= =?iso-8859-1?Q?caf=E9?=\n".to_vec()),
        Just(b"Content-Type: multipart/mixed; boundary=b\n".to_vec()),
        Just(b"Content-Type: multipart/digest; boundary=bb\n".to_vec()),
        Just(b"Content-Type: text/html; charset=koi8-r\n".to_vec()),
        Just(b"Content-Type: message/rfc822\n".to_vec()),
        Just(b"Content-Transfer-Encoding: base64\n".to_vec()),
        Just(b"Content-Transfer-Encoding: quoted-printable\n".to_vec()),
        Just(b"Content-Disposition: attachment; filename*=utf-8''%E2%82%AC.pdf\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"--b\n".to_vec()),
        Just(b"--b--\n".to_vec()),
        Just(b"--bb\n".to_vec()),
        Just(b"=\n".to_vec()),
        Just(b"=E9=\r\n".to_vec()),
        Just(b"JVBERi0xLjQK\n".to_vec()),
        Just(b" folded continuation\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..64),
    ]
}

fn mime_like() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(mime_piece(), 0..40).prop_map(|v| v.concat())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e15f64).prop_map(Value::from),
        ".{0,24}".prop_map(Value::String),
        Just(Value::String("Name <a@b.example>".into())),
        Just(Value::String("2024-09-05T07:30:00Z".into())),
    ];
    let key = prop_oneof![
        Just("id"),
        Just("from"),
        Just("to"),
        Just("cc"),
        Just("reply_to"),
        Just("return_path"),
        Just("subject"),
        Just("date"),
        Just("message_id"),
        Just("headers"),
        Just("body_text"),
        Just("body_html"),
        Just("urls"),
        Just("attachments"),
        Just("auth"),
        Just("spf"),
        Just("authentication_results"),
        Just("label"),
        Just("source"),
        Just("name"),
        Just("address"),
        Just("value"),
        Just("size"),
        Just("other"),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..8).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

fn origin() -> RecordOrigin {
    RecordOrigin {
        path: "prop".into(),
        index: Some(0),
        ..RecordOrigin::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_message_never_panics_on_bytes(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Err(e) = parse_message(&raw, origin(), &Limits::default()) {
            prop_assert!(REASONS.contains(&e.reason()), "{}", e.reason());
        }
    }

    #[test]
    fn parse_message_never_panics_on_mime_like_input(raw in mime_like()) {
        let limits = Limits { max_parts: 20, max_mime_depth: 4, ..Limits::default() };
        match parse_message(&raw, origin(), &limits) {
            Ok(r) => {
                prop_assert!(r.mime_depth >= 1 && r.mime_depth <= 4);
                prop_assert_eq!(r.raw_size, raw.len() as u64);
            }
            Err(e) => prop_assert!(REASONS.contains(&e.reason()), "{}", e.reason()),
        }
    }

    #[test]
    fn parse_email_log_never_panics(v in json_value()) {
        match parse_email_log(&v, origin()) {
            Ok(r) => prop_assert!(!r.id.is_empty()),
            Err(e) => prop_assert!(
                ["json_invalid", "json_wrong_type", "missing_fields"].contains(&e.reason()),
                "{}", e.reason()
            ),
        }
    }

    #[test]
    fn every_stream_yields_items(
        raw in prop_oneof![mime_like(), proptest::collection::vec(any::<u8>(), 0..512)],
        name in prop_oneof![Just("x.eml"), Just("x"), Just("x.mbox"), Just("x.json"), Just("x.ndjson"), Just("x.csv"), Just("x.tar")],
    ) {
        let opts = ReadOptions { limits: Limits { max_parts: 20, max_mime_depth: 4, ..Limits::default() }, ..ReadOptions::default() };
        let mut items = Vec::new();
        let res = read_reader(name, &raw[..], &opts, &mut |i| items.push(i));
        prop_assert!(res.is_ok());
        prop_assert!(!items.is_empty());
        for item in &items {
            if let Item::Quarantined(q) = item {
                prop_assert!(REASONS.contains(&q.reason.as_str()), "{}", q.reason);
                prop_assert_eq!(q.origin.path.as_str(), name);
            }
        }
    }
}

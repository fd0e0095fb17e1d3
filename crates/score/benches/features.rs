//! Email feature extraction speed (`EmailRecord -> Vec<f32>`), one core, per message.
//!
//! Synthetic but realistic records (no data files needed):
//! - `marketing_html_5k`: a ~5 KB table-layout HTML newsletter (inline styles, hidden preheader,
//!   ~20 tracked links, images, footer) with no text part;
//! - `marketing_multipart_8k`: the same HTML plus its ~2.5 KB text alternative;
//! - `plain_text_3k`: a ~3 KB plain-text reply with links, quoted text and a signature, plus an
//!   `.xlsx` attachment;
//! - `phish_html_2k`: a short credential-phishing HTML message (lookalike sender, form, IP link).
//!
//! Measures a reused `EmailFeatureExtractor` (the serving path) and the `extract_email` wrapper.
//! Target: at most 15 µs per typical 4-8 KB message.
//!
//! Run: `cargo bench -p shrike-score --bench features` (add `-- --quick` for a short run).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shrike_score::features::{email_schema, extract_email, EmailFeatureExtractor};
use shrike_score::FeatureContext;
use shrike_types::{Attachment, AuthResults, AuthVerdict, EmailRecord, FileMagic, Mailbox};
use std::hint::black_box;

fn mb(name: Option<&str>, address: &str) -> Mailbox {
    Mailbox {
        name: name.map(str::to_owned),
        address: address.to_owned(),
    }
}

fn marketing_html() -> String {
    let mut h = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Spring sale</title>\
         <style>body{margin:0;padding:0} .btn{background:#0a66c2;color:#fff} @media (max-width:600px){.col{width:100%!important}}</style></head>\
         <body style=\"margin:0;padding:0;background-color:#f4f4f4\">\
         <div style=\"display:none;max-height:0;overflow:hidden;mso-hide:all\">Up to 40% off outdoor gear this weekend only &zwnj;&nbsp;&zwnj;&nbsp;</div>\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" bgcolor=\"#f4f4f4\"><tr><td align=\"center\">\
         <table width=\"600\" cellpadding=\"0\" cellspacing=\"0\" style=\"background-color:#ffffff;font-family:Arial,Helvetica,sans-serif\">\
         <tr><td style=\"padding:20px\"><a href=\"https://click.news.trailco.example/ls/click?upn=u001.Xk7aQ2&amp;c=1\"><img src=\"https://cdn.trailco.example/img/logo.png\" width=\"180\" alt=\"TrailCo\" style=\"display:block;border:0\"></a></td></tr>",
    );
    for (i, item) in [
        "Ultralight tent",
        "Down sleeping bag",
        "Trail running shoes",
        "Hydration pack",
        "Headlamp 400lm",
        "Trekking poles",
    ]
    .iter()
    .enumerate()
    {
        h.push_str(&format!(
            "<tr><td class=\"col\" style=\"padding:10px 20px;border-bottom:1px solid #eeeeee\">\
             <a href=\"https://click.news.trailco.example/ls/click?upn=u001.p{i}Qm9vZ3Vz&amp;item={i}\"><img src=\"https://cdn.trailco.example/img/p{i}.jpg\" width=\"120\" alt=\"{item}\"></a>\
             <h3 style=\"margin:6px 0;font-size:16px;color:#222222\">{item}</h3>\
             <p style=\"margin:0;font-size:14px;line-height:20px;color:#555555\">Built for long days on the trail. Now {pct}% off &ndash; was $1{i}9.00, now $9{i}.00.</p>\
             <a class=\"btn\" href=\"https://click.news.trailco.example/ls/click?upn=u001.b{i}&amp;cta=shop\" style=\"display:inline-block;padding:8px 16px;background-color:#0a66c2;color:#ffffff;text-decoration:none;border-radius:4px\">Shop now</a></td></tr>",
            pct = 20 + i * 3
        ));
    }
    h.push_str(
        "<tr><td style=\"padding:20px;font-size:12px;color:#888888\">You are receiving this email because you signed up at trailco.example. \
         <a href=\"https://click.news.trailco.example/ls/click?upn=u001.unsub\">Unsubscribe</a> | <a href=\"https://www.trailco.example/preferences\">Preferences</a> | \
         <a href=\"https://www.trailco.example/privacy\">Privacy</a><br>TrailCo Inc., 100 Summit Road, Boulder, CO 80301<br>\
         <a href=\"https://www.facebook.com/trailco\"><img src=\"https://cdn.trailco.example/img/fb.png\" width=\"24\"></a> \
         <a href=\"https://www.instagram.com/trailco\"><img src=\"https://cdn.trailco.example/img/ig.png\" width=\"24\"></a>\
         <img src=\"https://click.news.trailco.example/o/open.gif?u=8f7a6\" width=\"1\" height=\"1\" style=\"display:block\"></td></tr></table></td></tr></table></body></html>",
    );
    h
}

fn marketing_text() -> String {
    let mut t =
        String::from("TrailCo Spring Sale - up to 40% off outdoor gear this weekend only\r\n\r\n");
    for (i, item) in [
        "Ultralight tent",
        "Down sleeping bag",
        "Trail running shoes",
        "Hydration pack",
        "Headlamp 400lm",
        "Trekking poles",
    ]
    .iter()
    .enumerate()
    {
        t.push_str(&format!(
            "{item}\r\nBuilt for long days on the trail. Now {}% off - was $1{i}9.00, now $9{i}.00.\r\nShop now: https://click.news.trailco.example/ls/click?upn=u001.b{i}&cta=shop\r\n\r\n",
            20 + i * 3
        ));
    }
    t.push_str(
        "You are receiving this email because you signed up at trailco.example.\r\nUnsubscribe: https://click.news.trailco.example/ls/click?upn=u001.unsub\r\n\
         Preferences: https://www.trailco.example/preferences\r\nTrailCo Inc., 100 Summit Road, Boulder, CO 80301\r\n",
    );
    t
}

fn marketing(with_text: bool) -> EmailRecord {
    EmailRecord {
        id: "marketing".into(),
        from: Some(mb(Some("TrailCo"), "news@news.trailco.example")),
        to: vec![mb(None, "jane.doe@corp.example")],
        reply_to: vec![mb(None, "support@trailco.example")],
        return_path: Some("bounce-8f7a6-jane.doe=corp.example@news.trailco.example".into()),
        subject: Some("Spring sale: up to 40% off outdoor gear \u{1F3D5}".into()),
        message_id: Some("0100018f.8f7a6b1c@email.amazonses.com".into()),
        headers: vec![
            ("From".into(), "TrailCo <news@news.trailco.example>".into()),
            ("To".into(), "jane.doe@corp.example".into()),
            ("Subject".into(), "Spring sale".into()),
            ("MIME-Version".into(), "1.0".into()),
            (
                "List-Unsubscribe".into(),
                "<https://click.news.trailco.example/ls/click?upn=u001.unsub>".into(),
            ),
            (
                "Received".into(),
                "from a8-1.smtp-out.amazonses.com by mx.corp.example".into(),
            ),
        ],
        body_text: with_text.then(marketing_text),
        body_html: Some(marketing_html()),
        auth: AuthResults {
            spf: Some(AuthVerdict::Pass),
            dkim: Some(AuthVerdict::Pass),
            dmarc: Some(AuthVerdict::Pass),
        },
        mime_depth: 2,
        raw_size: 9000,
        ..Default::default()
    }
}

fn plain_text() -> EmailRecord {
    let mut body = String::from(
        "Hi Jane,\n\nThanks for the quick turnaround on the Q3 capacity plan. A few comments inline below; nothing blocking.\n\n\
         1. The storage growth estimate looks low to me. Last quarter we added 38 TB against a forecast of 30 TB, mostly from the new\n\
         analytics cluster. Can we add a 20% buffer, or at least call out the assumption explicitly?\n\n\
         2. For the network refresh, I agree we should stagger the switch replacements across two maintenance windows. Marco's team\n\
         can take the first one on the 14th if facilities confirms the power work is done by then.\n\n\
         3. Budget: finance wants the final numbers by Friday. I'll send the spreadsheet to Priya once you've updated section 4.\n\n\
         Let me know if you want to go through it on a call tomorrow; I'm free after 2pm.\n\nBest,\nTom\n\n",
    );
    body.push_str(
        "PS: two more things from the review meeting. The backup window overlaps with the batch jobs on\n\
         Sundays; Priya suggested moving the full backup to Saturday night and keeping incrementals on\n\
         weekdays. Also, the monitoring dashboards still point at the old Grafana instance - can someone\n\
         update the links in the runbook (https://wiki.corp.example/infra/runbooks/capacity) before the\n\
         handover? Details in the ticket: https://jira.corp.example/browse/INFRA-4821\n\n",
    );
    for _ in 0..6 {
        body.push_str(
            "> On Tue, Jane Doe wrote:\n> Please find attached the draft capacity plan for Q3. The main changes from the last version are\n\
             > the storage forecast, the network refresh schedule and the updated cost model. Comments welcome before Thursday.\n>\n",
        );
    }
    body.push_str("--\nTom Becker | Infrastructure | +1 555 0100\n");
    EmailRecord {
        id: "plain".into(),
        from: Some(mb(Some("Tom Becker"), "tom.becker@corp.example")),
        to: vec![mb(Some("Jane Doe"), "jane.doe@corp.example")],
        cc: vec![mb(None, "infra-team@corp.example")],
        subject: Some("Re: Q3 capacity plan draft".into()),
        message_id: Some("CAKx7=abc123@mail.gmail.com".into()),
        headers: vec![("In-Reply-To".into(), "<xyz@corp.example>".into())],
        body_text: Some(body),
        attachments: vec![Attachment {
            name: Some("capacity-plan-q3.xlsx".into()),
            content_type: Some(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".into(),
            ),
            size: 48_000,
            sha256: None,
            magic: Some(FileMagic::Zip),
            has_macros: Some(false),
        }],
        ..Default::default()
    }
}

fn phish() -> EmailRecord {
    EmailRecord {
        id: "phish".into(),
        from: Some(mb(Some("Microsoft 365 Security"), "no-reply@rnicrosoft-secure.top")),
        to: vec![mb(None, "jane.doe@corp.example")],
        reply_to: vec![mb(None, "helpdesk.m365@gmail.com")],
        subject: Some("RE: Action required: unusual sign-in activity".into()),
        body_html: Some(
            "<html><body><p>Dear jane.doe@corp.example,</p><p>We detected <b>unusual sign in activity</b> on your account. \
             To avoid suspension, verify your account within 24 hours.</p>\
             <p><a href=\"http://185.203.116.7/owa/?e=jane.doe@corp.example\">https://login.microsoftonline.com/</a></p>\
             <div style=\"color:#ffffff;font-size:1px\">lorem ipsum invoice meeting schedule</div>\
             <form action=\"https://secure-login.web.app/collect\"><input type=\"email\" name=\"u\"><input type=\"password\" name=\"p\"><button>Sign in</button></form>\
             <p>Microsoft Corporation, One Microsoft Way, Redmond, WA 98052</p></body></html>"
                .into(),
        ),
        ..Default::default()
    }
}

fn bench(c: &mut Criterion) {
    let ctx = FeatureContext::default();
    let cases = [
        ("marketing_html_5k", marketing(false)),
        ("marketing_multipart_8k", marketing(true)),
        ("plain_text_3k", plain_text()),
        ("phish_html_2k", phish()),
    ];
    for (name, rec) in &cases {
        let bytes = rec.body_text.as_ref().map_or(0, String::len)
            + rec.body_html.as_ref().map_or(0, String::len);
        eprintln!(
            "{name}: {bytes} body bytes, {} features",
            email_schema().len()
        );
    }
    let mut g = c.benchmark_group("features");
    g.throughput(Throughput::Elements(1));
    for (name, rec) in &cases {
        let mut ex = EmailFeatureExtractor::new();
        let mut out = Vec::new();
        g.bench_function(*name, |b| {
            b.iter(|| ex.extract(black_box(rec), &ctx, &mut out))
        });
    }
    let mut out = Vec::new();
    let rec = &cases[1].1;
    g.bench_function("extract_email_wrapper_multipart_8k", |b| {
        b.iter(|| extract_email(black_box(rec), &ctx, &mut out))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! The shared email corpus (`../shared/data/email`, read in place): record counts per archive
//! against `index.tsv`, labels from paths, and the malformed-MIME corpus. Skipped when the
//! shared data is absent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use shrike_ingest::{read_path, Item, ReadOptions};
use shrike_types::{EmailRecord, Label, Quarantined};

fn shared_email() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/email");
    p.is_dir().then_some(p)
}

struct Got {
    records: Vec<EmailRecord>,
    quarantined: Vec<Quarantined>,
}

fn read_archive(path: &Path) -> Got {
    let opts = ReadOptions {
        label_from_path: true,
        ..ReadOptions::default()
    };
    let mut records = Vec::new();
    let mut quarantined = Vec::new();
    let stats = read_path(path, &opts, &mut |item| match item {
        Item::Record(mut r) => {
            // Keep memory down: the bodies are not needed here.
            r.body_text = None;
            r.body_html = None;
            r.headers.clear();
            records.push(r);
        }
        Item::Quarantined(mut q) => {
            q.raw_b64.clear();
            quarantined.push(q);
        }
    });
    match stats {
        Ok(s) => {
            assert_eq!(s.records, records.len() as u64);
            assert_eq!(s.quarantined, quarantined.len() as u64);
        }
        Err(e) => panic!("{}: {e}", path.display()),
    }
    Got {
        records,
        quarantined,
    }
}

/// Regular files in a `.tar.xz`, by path.
fn members(path: &Path) -> Vec<String> {
    let Ok(file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let mut archive = tar::Archive::new(liblzma::read::XzDecoder::new(file));
    let mut out = Vec::new();
    if let Ok(entries) = archive.entries() {
        for e in entries.flatten() {
            if e.header().entry_type().is_file() {
                out.push(String::from_utf8_lossy(&e.path_bytes()).into_owned());
            }
        }
    }
    out
}

fn quarantine_summary(q: &[Quarantined]) -> Vec<(String, String)> {
    q.iter()
        .map(|q| {
            (
                q.origin.member.clone().unwrap_or_default(),
                q.reason.clone(),
            )
        })
        .collect()
}

#[test]
fn every_archive_in_the_index_reads_with_the_expected_counts() {
    let Some(root) = shared_email() else {
        eprintln!("skipping: ../shared/data not found");
        return;
    };
    let index = match std::fs::read_to_string(root.join("index.tsv")) {
        Ok(s) => s,
        Err(e) => panic!("index.tsv: {e}"),
    };
    let mut checked = 0;
    for line in index.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(archive), Some(label), Some(count)) = (cols.first(), cols.get(2), cols.get(3))
        else {
            panic!("bad index line {line:?}");
        };
        let listed: u64 = count
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("bad count {count:?}"));
        let path = root.join(archive);
        let got = read_archive(&path);
        let records = got.records.len() as u64;
        let q = quarantine_summary(&got.quarantined);

        if archive.contains("nazario_classic") {
            // Three mboxes; every `From ` separator line (with an asctime date) starts a message.
            // Measured 414 + 456 + 438 = 1308, which is also the index count.
            let mut per_file: BTreeMap<String, u64> = BTreeMap::new();
            for r in &got.records {
                *per_file
                    .entry(r.origin.member.clone().unwrap_or_default())
                    .or_insert(0) += 1;
            }
            let expected: BTreeMap<String, u64> = [
                ("nazario_classic/20051114.mbox".to_owned(), 438),
                ("nazario_classic/phishing0.mbox".to_owned(), 414),
                ("nazario_classic/phishing1.mbox".to_owned(), 456),
            ]
            .into_iter()
            .collect();
            assert_eq!(per_file, expected);
            assert!(q.is_empty(), "{q:?}");
        } else if archive.contains("sisimai") {
            // Measured: 836 single-message files (bsd 629, dos 80, mac 80, err 37, not 3, tmp 3,
            // to-be-debugged 4; `.eml` files are one message each even where a bounce quotes an
            // unescaped `From ` line) + 37 messages of mailbox/mbox-0 + 1 of mbox-1 = 874. The
            // index's 673 counts bounces only. Five members are not mail: README.md and LICENSE
            // (not_an_email), the empty mbox size-0 and the 1-byte size-1 (empty) and size-2,
            // which holds "22\n" (not_an_email).
            assert_eq!(records, 874);
            let expected: Vec<(String, String)> = [
                ("sisimai_set-of-emails/LICENSE", "not_an_email"),
                ("sisimai_set-of-emails/README.md", "not_an_email"),
                ("sisimai_set-of-emails/mailbox/size-0", "empty"),
                ("sisimai_set-of-emails/mailbox/size-1", "empty"),
                ("sisimai_set-of-emails/mailbox/size-2", "not_an_email"),
            ]
            .iter()
            .map(|(m, r)| ((*m).to_owned(), (*r).to_owned()))
            .collect();
            let mut sorted = q.clone();
            sorted.sort();
            assert_eq!(sorted, expected);
            let mbox0 = got
                .records
                .iter()
                .filter(|r| {
                    r.origin.member.as_deref() == Some("sisimai_set-of-emails/mailbox/mbox-0")
                })
                .count();
            assert_eq!(mbox0, 37);
        } else if archive.contains("nazario_yearly") {
            // phishing-2020-0.txt holds only a `From ` line: an envelope without a message.
            assert_eq!(records, listed - 1);
            assert_eq!(
                q,
                vec![(
                    "nazario_yearly/2020/phishing-2020-0.txt".to_owned(),
                    "empty".to_owned()
                )]
            );
        } else if archive.contains("phishing_pot_other") {
            // sample-2227.eml is a 0-byte file.
            assert_eq!(records, listed - 1);
            assert_eq!(
                q,
                vec![(
                    "phishing_pot/sample-2227.eml".to_owned(),
                    "empty".to_owned()
                )]
            );
        } else if archive.contains("malformed") {
            // 107 test messages, all readable; the 5 license / COPYING notes are not mail.
            assert_eq!(records, listed);
            assert_eq!(q.len(), 5);
            assert!(
                q.iter().all(|(_, reason)| reason == "not_an_email"),
                "{q:?}"
            );
        } else {
            assert_eq!(records, listed, "{archive}: {q:?}");
            assert!(q.is_empty(), "{archive}: {q:?}");
        }

        // Labels from the archive path agree with the index.
        let want = Label::parse(label);
        let labels: BTreeMap<Option<Label>, usize> =
            got.records.iter().fold(BTreeMap::new(), |mut m, r| {
                *m.entry(r.label).or_insert(0) += 1;
                m
            });
        assert_eq!(labels.len(), 1, "{archive}: {labels:?}");
        assert_eq!(labels.keys().next().copied().flatten(), want, "{archive}");
        // Every record carries its archive and member.
        assert!(got
            .records
            .iter()
            .all(|r| r.origin.path.ends_with(*archive) && r.origin.member.is_some()));
        checked += 1;
    }
    assert_eq!(checked, 22);
}

#[test]
fn labels_and_ids_from_paths() {
    let Some(root) = shared_email() else {
        eprintln!("skipping: ../shared/data not found");
        return;
    };
    let cases = [
        (
            "spamassassin/spamassassin_easy_ham.tar.xz",
            "easy_ham/00001.7c53336b37003a9286aba55d2945844c",
            Label::Ham,
        ),
        (
            "spamassassin/spamassassin_spam_2.tar.xz",
            "spam_2/00001.317e78fa8ee2f54cd4890fdc09ba8176",
            Label::Spam,
        ),
        (
            "phishing/phishing_pot/phishing_pot_2023.tar.xz",
            "phishing_pot/sample-1.eml",
            Label::Phishing,
        ),
        (
            "ham_modern/ham_modern_usrp-users_2019-2025.tar.xz",
            "usrp-users/000002_734e6674492e.eml",
            Label::Ham,
        ),
        (
            "phishing/nazario/phishing_nazario_classic_2004-2005.tar.xz",
            "nazario_classic/phishing0.mbox#5",
            Label::Phishing,
        ),
        (
            "bounces/bounces_sisimai_set-of-emails.tar.xz",
            "sisimai_set-of-emails/maildir/bsd/arf-01.eml",
            Label::Bounce,
        ),
    ];
    for (archive, id, label) in cases {
        let got = read_archive(&root.join(archive));
        let Some(r) = got.records.iter().find(|r| r.id == id) else {
            panic!("{archive}: no record {id}");
        };
        assert_eq!(r.label, Some(label), "{id}");
        if id.ends_with("#5") {
            assert_eq!(
                r.origin.member.as_deref(),
                Some("nazario_classic/phishing0.mbox")
            );
            assert_eq!(r.origin.index, Some(5));
        } else {
            assert_eq!(r.origin.member.as_deref(), Some(id));
            assert_eq!(r.origin.index, None);
        }
    }
    // The first SpamAssassin ham, field by field.
    let got = read_archive(&root.join("spamassassin/spamassassin_easy_ham.tar.xz"));
    let Some(r) = got.records.first() else {
        panic!("no records");
    };
    assert_eq!(r.id, "easy_ham/00001.7c53336b37003a9286aba55d2945844c");
    assert_eq!(r.subject.as_deref(), Some("Re: New Sequences Window"));
    assert_eq!(
        r.from.as_ref().map(|m| m.address.as_str()),
        Some("kre@munnari.OZ.AU")
    );
    assert_eq!(
        r.message_id.as_deref(),
        Some("13258.1030015585@munnari.OZ.AU")
    );
    // Date: Thu, 22 Aug 2002 18:26:25 +0700.
    assert_eq!(r.date, Some(1_030_015_585));
}

#[test]
fn malformed_corpus_reads_without_panic_one_item_per_file() {
    let Some(root) = shared_email() else {
        eprintln!("skipping: ../shared/data not found");
        return;
    };
    let path = root.join("malformed/malformed_stalwart_mail-parser.tar.xz");
    let files = members(&path);
    assert_eq!(files.len(), 112);
    let got = read_archive(&path);
    let mut seen: Vec<String> = got
        .records
        .iter()
        .filter_map(|r| r.origin.member.clone())
        .chain(
            got.quarantined
                .iter()
                .filter_map(|q| q.origin.member.clone()),
        )
        .collect();
    seen.sort();
    let mut files = files;
    files.sort();
    assert_eq!(seen, files);
    // Every .eml is a record; spot checks on legacy charsets.
    assert!(got.records.iter().all(|r| r.id.ends_with(".eml")));
    let subject = |id: &str| {
        got.records
            .iter()
            .find(|r| r.id.ends_with(id))
            .and_then(|r| r.subject.clone())
    };
    assert_eq!(
        subject("legacy/009.eml").as_deref(),
        Some("Die Hasen und die Frösche")
    );
}

#[test]
fn cr_only_and_crlf_copies_parse_like_the_originals() {
    let Some(root) = shared_email() else {
        eprintln!("skipping: ../shared/data not found");
        return;
    };
    let got = read_archive(&root.join("bounces/bounces_sisimai_set-of-emails.tar.xz"));
    let find = |dir: &str| {
        got.records
            .iter()
            .find(|r| r.id == format!("sisimai_set-of-emails/maildir/{dir}/arf-01.eml"))
    };
    let (Some(bsd), Some(mac), Some(dos)) = (find("bsd"), find("mac"), find("dos")) else {
        panic!("arf-01.eml missing from bsd/mac/dos");
    };
    assert!(bsd.subject.is_some());
    assert_eq!(mac.subject, bsd.subject);
    assert_eq!(dos.subject, bsd.subject);
    assert_eq!(mac.date, bsd.date);
    assert_eq!(mac.attachments.len(), bsd.attachments.len());
    assert_eq!(dos.attachments.len(), bsd.attachments.len());
}

//! Email features: `EmailRecord -> FeatureVector` (a dense `Vec<f32>`, NaN = unknown).
//!
//! The feature set is a versioned [`FeatureSchema`] (`email`, version 1) whose fingerprint is
//! stored in every model file and checked at load. [`email_schema`] lists every feature with its
//! group and description; [`EmailFeatureExtractor::extract`] (or the [`extract_email`]
//! convenience wrapper) fills exactly `email_schema().len()` values in schema order.
//!
//! Groups, in vector order: `sender` (display-name brand impersonation, lookalike/punycode
//! domains, free-mail, Reply-To/Return-Path/Message-ID consistency, domain age), `auth`
//! (SPF/DKIM/DMARC), `url` (counts, domains, IP hosts, shorteners, risky TLDs, free hosting,
//! anchor text vs href, credential forms, entropy, lookalike hosts, ...), `content` (keyword
//! densities, greeting, money, capitals, hidden HTML text, scripts/forms, subject features),
//! `attachment` (risky and double extensions, macros, HTML/SVG, archives, executables,
//! extension/magic mismatch) and `ngram` (128 hashed word unigram+bigram buckets, 64 hashed
//! character 4-gram buckets).
//!
//! # Collection artifacts
//!
//! No feature may exist only because of how a dataset was collected (see
//! `shared/data/email/SOURCES.md`, "Cross-source leakage checklist"). The extractor enforces
//! this itself, so training and serving do exactly the same thing:
//!
//! - **Headers read.** Only sender-side information: `From`, `Reply-To`, `Return-Path`,
//!   `Subject`, `Message-ID`, the presence of `In-Reply-To`/`References` (for the fake-reply
//!   feature), the MIME structure as ingest decoded it (bodies, attachments) and `rec.auth`.
//!   `Received`, `Delivered-To`, `X-Original-To`, `X-MS-*`/`X-Microsoft-*`, `X-FDA`/`X-HE-*`,
//!   `X-Spam-*`, `List-*`, `Precedence`, `Status`/`X-Status`/`X-UID`/`X-Keywords`, `X-Mailer`,
//!   `User-Agent` and `Date` are never read; `To`, `Cc`, `Delivered-To`, `X-Original-To` and the
//!   other recipient headers are read only to build the masks below. `raw_size` and
//!   `mime_depth` are not used (line endings change the first, list footers the second).
//! - **Masking.** Before any text, URL or n-gram feature sees a body, the subject or a URL,
//!   every recipient address and every collector placeholder (`phishing@pot`, `phish@pot`,
//!   `honey@pot`, `jose@monkey.org`, `username@domain.com`, `*@lfdr.de`, `*.taint.org`,
//!   `*@netnoteinc.com`, `phish.me.again@gmail.com`, `*@pot`, `*@monkey.org`, the RFC 2606
//!   `example.*` anonymisations) is replaced with the neutral word `rcptmask`, also when
//!   `%40`-encoded, chained (`phishing@pot@outlook.com`) or glued to other text by an
//!   anonymiser (`phishing@pot-f-p`). Bare mentions of the recipient's organisation domain and of
//!   the collectors' domains (`monkey.org`, `lfdr.de`) and base64-encoded recipient addresses in
//!   URLs become `rcptmask` too; the recipient's local part used as a word ("Dear jose") becomes
//!   `rcptname`. See `clean`, `text` and `url`.
//! - **List artifacts.** Mailing-list footers are cut from both bodies (Mailman `____` block,
//!   Google Groups "You received this message because you are subscribed", groups.io
//!   `-=-=-=` block, SourceForge sponsor block, trailing `.../listinfo/...` paragraphs) and
//!   removed where a plain-text reply quotes them; list tags are removed from the subject
//!   (`[USRP-users]`); a list's DMARC "via" rewrite of `From` is undone (the author moved to
//!   `Reply-To` becomes the sender again), a `Reply-To` pointing at a recipient (the list) is
//!   ignored, list/VERP bounce `Return-Path`s count as unknown, and signature parts are not
//!   attachments.
//! - **Framing.** CRLF and lone CR become LF before anything else; no feature uses byte sizes of
//!   the raw message. All-digit words become one number token, so years and dates in bodies
//!   cannot carry the era.
//!
//! Tests in this module check that adding `Received`, `X-MS-Exchange-*`, `List-Id` and a Mailman
//! footer, the list's From/Reply-To rewrites, changing line endings, or changing the recipient
//! does not change the vector; on the shared corpus they check that no collector string survives
//! cleaning.
//!
//! What stays era- or genre-dependent in the bundled corpus (and is a real signal elsewhere):
//! `url_http_share` (2002 mail predates HTTPS), `sender_message_id_differs` (webmail and ESP
//! Message-IDs), the `auth` group (recorded by the collecting mailbox; training neutralises it).
//!
//! # Cost
//!
//! Static tables (brands, phrase table, hashed word lists) are built once; an
//! [`EmailFeatureExtractor`] keeps all scratch buffers, so extraction does not allocate once
//! warmed up (rare inputs aside: punycode labels, invalid UTF-8 in URL hosts). Each body is passed over a small, fixed number of times (copy, `memchr`-driven
//! footer and mask search, one tag scan for HTML, one tokenizer pass); per-host URL facts and
//! lookalike verdicts are computed once per message. Bodies are capped at 256 KiB, character
//! 4-grams at the first 1 KiB of words. `benches/features.rs` measures it.
//!
//! Invariant: extraction never panics and every value is finite or NaN, whatever the record.

use sha2::{Digest, Sha256};
use shrike_types::EmailRecord;
use std::cell::RefCell;

/// Declares a feature group: an enum `F` of its features in schema order, `GROUP` and `DEFS`
/// (`(name, description)` per feature), so names and positions cannot drift apart.
macro_rules! feature_group {
    ($group:literal { $($var:ident => $name:literal, $desc:literal;)* }) => {
        /// This group's features, in schema order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(usize)]
        pub(super) enum F {
            $(#[doc = $desc] $var,)*
        }
        /// The group name in the schema.
        pub(super) const GROUP: &str = $group;
        /// `(name, description)` of each feature, in the order of [`F`].
        pub(super) const DEFS: &[(&str, &str)] = &[$(($name, $desc)),*];
        impl From<F> for usize {
            fn from(f: F) -> usize {
                f as usize
            }
        }
    };
}
use feature_group;

mod attachment;
mod auth;
mod clean;
mod content;
mod domain;
mod html;
mod sender;
mod tables;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_corpus;
mod text;
mod url;

/// Writes `v` at position `i` of a group's slice (positions come from the group's enum, so this
/// never misses; a miss would leave the default instead of panicking).
#[inline]
fn put(out: &mut [f32], i: impl Into<usize>, v: f32) {
    if let Some(slot) = out.get_mut(i.into()) {
        *slot = v;
    }
}

/// Context that is not in the message itself, looked up by the caller before extraction
/// (extraction itself does no I/O).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FeatureContext {
    /// Age in days of the sender's domain at the message time (RDAP), `None` when unknown.
    pub sender_domain_age_days: Option<f32>,
}

/// One feature's definition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeatureDef {
    /// Stable name (`url_count`, `word_hash_017`).
    pub name: String,
    /// Group (`sender`, `auth`, `url`, `content`, `attachment`, `ngram`).
    pub group: String,
    /// What it measures, for reasons and the model card.
    pub description: String,
}

/// A versioned list of features.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeatureSchema {
    /// Schema name (`email`).
    pub name: String,
    /// Bumped whenever a feature's meaning changes.
    pub version: u32,
    /// The features, in vector order.
    pub features: Vec<FeatureDef>,
}

impl FeatureSchema {
    /// A schema from `(name, group, description)` triples, in vector order.
    pub fn from_defs(name: &str, version: u32, defs: &[(&str, &str, &str)]) -> FeatureSchema {
        FeatureSchema {
            name: name.into(),
            version,
            features: defs
                .iter()
                .map(|(n, g, d)| FeatureDef {
                    name: (*n).into(),
                    group: (*g).into(),
                    description: (*d).into(),
                })
                .collect(),
        }
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// Whether the schema has no features.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// `sha256(name \n version \n feature names joined by \n)`, lower-case hex.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.name.as_bytes());
        h.update(b"\n");
        h.update(self.version.to_string().as_bytes());
        for f in &self.features {
            h.update(b"\n");
            h.update(f.name.as_bytes());
        }
        hex(&h.finalize())
    }

    /// Index of a feature by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.features.iter().position(|f| f.name == name)
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Schema version: bumped whenever a feature is added, removed, reordered or changes meaning.
pub const EMAIL_SCHEMA_VERSION: u32 = 1;

/// The email feature schema (built once).
pub fn email_schema() -> &'static FeatureSchema {
    static SCHEMA: std::sync::OnceLock<FeatureSchema> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut features = Vec::new();
        for (group, defs) in [
            (sender::GROUP, sender::DEFS),
            (auth::GROUP, auth::DEFS),
            (url::GROUP, url::DEFS),
            (content::GROUP, content::DEFS),
            (attachment::GROUP, attachment::DEFS),
        ] {
            features.extend(defs.iter().map(|(name, description)| FeatureDef {
                name: (*name).into(),
                group: group.into(),
                description: (*description).into(),
            }));
        }
        for i in 0..text::WORD_BUCKETS {
            features.push(FeatureDef {
                name: format!("word_hash_{i:03}"),
                group: "ngram".into(),
                description: format!(
                    "ln(1 + count) of subject and body word unigrams and bigrams (stop words skipped, numbers folded) hashing to bucket {i} of {}",
                    text::WORD_BUCKETS
                ),
            });
        }
        for i in 0..text::CHAR_BUCKETS {
            features.push(FeatureDef {
                name: format!("char_hash_{i:03}"),
                group: "ngram".into(),
                description: format!(
                    "Share of the subject and body's character 4-grams (words joined by spaces, digits as 0) hashing to bucket {i} of {}",
                    text::CHAR_BUCKETS
                ),
            });
        }
        FeatureSchema { name: "email".into(), version: EMAIL_SCHEMA_VERSION, features }
    })
}

/// A reusable email feature extractor: owns every scratch buffer, so repeated extraction does
/// not allocate once the buffers have grown to the messages seen. Not shared between threads;
/// make one per worker (or use [`extract_email`], which keeps one per thread).
#[derive(Debug, Default)]
pub struct EmailFeatureExtractor {
    masks: clean::Masks,
    cleaner: clean::Cleaner,
    text: Vec<u8>,
    html: Vec<u8>,
    html_scan: html::HtmlScan,
    sender: sender::SenderScratch,
    urls: url::UrlScratch,
    content: content::ContentScratch,
    name: String,
}

/// Splits `k` values off the front of `rest`.
fn take<'a>(rest: &mut &'a mut [f32], k: usize) -> &'a mut [f32] {
    let all = std::mem::take(rest);
    let k = k.min(all.len());
    let (head, tail) = all.split_at_mut(k);
    *rest = tail;
    head
}

impl EmailFeatureExtractor {
    /// A new extractor with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Extracts the email features of `rec` into `out` (cleared first; `out.len()` becomes
    /// `email_schema().len()`, values in schema order, NaN = unknown).
    pub fn extract(&mut self, rec: &EmailRecord, ctx: &FeatureContext, out: &mut Vec<f32>) {
        out.clear();
        out.resize(email_schema().len(), 0.0);
        let flags = self.masks.build(rec);
        let mut rest = out.as_mut_slice();
        let sender_out = take(&mut rest, sender::DEFS.len());
        let auth_out = take(&mut rest, auth::DEFS.len());
        let url_out = take(&mut rest, url::DEFS.len());
        let content_out = take(&mut rest, content::DEFS.len());
        let att_out = take(&mut rest, attachment::DEFS.len());
        let ngram_out = take(&mut rest, content::ngram_len());

        sender::extract(rec, ctx, &self.masks, &mut self.sender, sender_out);
        auth::extract(&rec.auth, auth_out);

        let text_stats = match rec.body_text.as_deref() {
            Some(t) => self
                .cleaner
                .clean(t, clean::Kind::Text, &self.masks, &mut self.text),
            None => {
                self.text.clear();
                clean::CleanStats::default()
            }
        };
        let html_stats = match rec.body_html.as_deref() {
            Some(h) if !h.trim().is_empty() => {
                let st = self
                    .cleaner
                    .clean(h, clean::Kind::Html, &self.masks, &mut self.html);
                self.html_scan.scan(&self.html);
                Some(st)
            }
            _ => {
                self.html.clear();
                None
            }
        };
        let html = html_stats.map(|st| (&self.html_scan, self.html.len(), st));

        let inputs = url::Inputs {
            text: &self.text,
            html: html.map(|h| h.0),
            supplied: &rec.urls,
            from_reg: &self.sender.from_reg,
        };
        url::extract(
            &inputs,
            &self.masks,
            &mut self.cleaner,
            &mut self.urls,
            url_out,
        );

        let bodies = content::Bodies {
            text: &self.text,
            text_stats,
            html,
            threaded: flags.is_threaded,
        };
        content::extract(
            rec.subject.as_deref(),
            &bodies,
            &self.masks,
            &mut self.cleaner,
            &mut self.content,
            content_out,
            ngram_out,
        );

        attachment::extract(&rec.attachments, &mut self.name, att_out);
    }

    /// The cleaned subject, text part and HTML part of the last message (for tests).
    #[cfg(test)]
    fn cleaned(&self) -> (&[u8], &[u8], &[u8]) {
        (self.content.subject(), &self.text, &self.html)
    }
}

/// Extracts the email features of `rec` into `out` (cleared first; `out.len()` becomes
/// `email_schema().len()`). Uses one [`EmailFeatureExtractor`] per thread.
pub fn extract_email(rec: &EmailRecord, ctx: &FeatureContext, out: &mut Vec<f32>) {
    thread_local! {
        static EXTRACTOR: RefCell<EmailFeatureExtractor> = RefCell::new(EmailFeatureExtractor::new());
    }
    EXTRACTOR.with(|ex| match ex.try_borrow_mut() {
        Ok(mut ex) => ex.extract(rec, ctx, out),
        Err(_) => EmailFeatureExtractor::new().extract(rec, ctx, out),
    });
}

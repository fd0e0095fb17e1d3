//! Shrike's shared record types.
//!
//! These are the types that travel between stages:
//! `ingest` produces [`EmailRecord`]s (and [`Quarantined`] records for what it could not parse),
//! `score` turns an `EmailRecord` into a feature vector and a score, the binary renders results.
//!
//! Invariants: this crate does no I/O and no parsing; every type here serializes with serde so a
//! record can be written to NDJSON, quarantined or sent over the wire unchanged.

use serde::{Deserialize, Serialize};

/// A mailbox: an optional display name and an address (`"PayPal" <service@paypa1.com>`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Mailbox {
    /// The display name, decoded (RFC 2047 encoded words resolved), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The address as written (`local@domain`); may be empty or malformed in hostile mail.
    #[serde(default)]
    pub address: String,
}

impl Mailbox {
    /// The domain part of the address, lower-cased, without a trailing dot; `None` when there is no `@`.
    pub fn domain(&self) -> Option<String> {
        let (_, d) = self.address.rsplit_once('@')?;
        let d = d.trim().trim_end_matches('>').trim_end_matches('.');
        if d.is_empty() {
            None
        } else {
            Some(d.to_ascii_lowercase())
        }
    }
}

/// An attachment as seen in the message (or as reported by an email-log JSON record).
/// Contents are not kept: only what features and analysts need.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Attachment {
    /// File name as given (`Content-Disposition` filename or `Content-Type` name), decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Declared MIME type, lower-cased (`application/pdf`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Decoded size in bytes.
    #[serde(default)]
    pub size: u64,
    /// SHA-256 of the decoded contents, lower-case hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// What the leading bytes say the file is, when the contents were available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub magic: Option<FileMagic>,
    /// Whether the contents carry Office macros (OLE `_VBA_PROJECT` / OOXML `vbaProject.bin`);
    /// `None` when the contents were not available (email-log records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_macros: Option<bool>,
}

/// File type recognised from an attachment's leading bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FileMagic {
    /// PDF document.
    Pdf,
    /// ZIP container (also OOXML documents, JAR, APK).
    Zip,
    /// OLE2 compound file (legacy Office documents, MSI).
    Ole,
    /// RAR archive.
    Rar,
    /// 7-Zip archive.
    SevenZip,
    /// gzip stream.
    Gzip,
    /// Windows PE executable.
    Pe,
    /// ELF executable.
    Elf,
    /// ISO 9660 disk image.
    Iso,
    /// HTML document.
    Html,
    /// An image (PNG, JPEG, GIF, BMP, WebP).
    Image,
    /// Anything else.
    Other,
}

/// The verdict of one authentication mechanism as recorded by a receiving MTA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthVerdict {
    /// `pass`.
    Pass,
    /// `fail` / `hardfail`.
    Fail,
    /// `softfail`.
    SoftFail,
    /// `neutral`.
    Neutral,
    /// `none` (no policy / no signature).
    None,
    /// `temperror` / `permerror`.
    Error,
    /// `bestguesspass` and other values.
    Other,
}

/// SPF / DKIM / DMARC results from `Authentication-Results` and `Received-SPF`
/// (or from an email-log record's auth fields). `None` means the result was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuthResults {
    /// SPF result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spf: Option<AuthVerdict>,
    /// DKIM result (the best of several signatures: any pass is a pass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dkim: Option<AuthVerdict>,
    /// DMARC result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dmarc: Option<AuthVerdict>,
}

/// A training label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// Legitimate mail.
    Ham,
    /// Unsolicited bulk mail that is not phishing.
    Spam,
    /// Phishing (credential theft, malware delivery, fraud).
    Phishing,
    /// A delivery status notification (bounce); legitimate automated mail.
    Bounce,
}

impl Label {
    /// Parses a label name as written in folder names, index files and JSON fields
    /// (`ham`, `easy_ham`, `spam`, `phish`, `phishing`, `bounce`, `legit`, `benign`, ...).
    pub fn parse(s: &str) -> Option<Label> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.as_str();
        if s.starts_with("phish") || s == "malicious" || s == "1" {
            Some(Label::Phishing)
        } else if s.contains("ham")
            || s == "legit"
            || s == "legitimate"
            || s == "benign"
            || s == "0"
        {
            Some(Label::Ham)
        } else if s.starts_with("spam") {
            Some(Label::Spam)
        } else if s.starts_with("bounce") {
            Some(Label::Bounce)
        } else {
            None
        }
    }

    /// The label's canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Ham => "ham",
            Label::Spam => "spam",
            Label::Phishing => "phishing",
            Label::Bounce => "bounce",
        }
    }
}

/// Where a record came from: enough to find it again and to name it in errors.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RecordOrigin {
    /// The input path as given (a file, a directory entry, an archive), or `-` for stdin.
    pub path: String,
    /// The member inside an archive (`easy_ham/00001.7c53336b37003a9286aba55d2945844c`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// 0-based index of the message inside an mbox, NDJSON or CSV stream, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// Byte offset of the record in its (decompressed) stream, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

impl std::fmt::Display for RecordOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.path)?;
        if let Some(m) = &self.member {
            write!(f, "!{m}")?;
        }
        if let Some(i) = self.index {
            write!(f, "#{i}")?;
        }
        Ok(())
    }
}

/// One email, normalized: what every source (raw MIME, mbox, email-log JSON, CSV) is read into.
///
/// Everything the feature extractor may look at is here; nothing else about the original message
/// survives ingest. `headers` keeps every header so that later stages can choose which to trust
/// (the feature extractor deliberately reads only sender-side headers: see `shrike-score`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EmailRecord {
    /// A stable id: the record id of a JSON log, else the file or archive-member name
    /// (with `#N` for the Nth message of an mbox / NDJSON / CSV).
    pub id: String,
    /// Where it was read from.
    #[serde(default)]
    pub origin: RecordOrigin,
    /// Data-source name for per-source evaluation (`spamassassin`, `phishing_pot`), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Training label, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    /// `From`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Mailbox>,
    /// `To`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<Mailbox>,
    /// `Cc`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<Mailbox>,
    /// `Reply-To`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reply_to: Vec<Mailbox>,
    /// `Return-Path` address (envelope sender), without angle brackets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_path: Option<String>,
    /// `Subject`, decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Best-effort message time, Unix seconds UTC: the `Date` header when plausible, else the mbox
    /// `From_` line, else the newest `Received` timestamp. Used for time-based splits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<i64>,
    /// `Message-ID` without angle brackets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Every header, in order, name as written, value decoded to text (unfolded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// The text body (all `text/plain` parts joined), decoded to UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
    /// The HTML body (all `text/html` parts joined), decoded to UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_html: Option<String>,
    /// URLs supplied by the source (email-log JSON). Features also find URLs in the bodies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Attachments (and inline non-text parts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// SPF / DKIM / DMARC results.
    #[serde(default)]
    pub auth: AuthResults,
    /// Deepest MIME nesting seen (1 for a single-part message).
    #[serde(default)]
    pub mime_depth: u32,
    /// Size of the raw message in bytes (0 when unknown, e.g. email-log JSON).
    #[serde(default)]
    pub raw_size: u64,
}

impl EmailRecord {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All headers with this name (case-insensitive), in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A record that could not be read, kept with the reason and its raw bytes.
///
/// Quarantine never drops data silently: `raw_b64` holds the original bytes (base64, so binary
/// survives), cut at the quarantine cap, with `raw_truncated` saying whether it was cut;
/// `raw_len` is the exact original length where known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    /// The pipeline stage that rejected it (`ingest`, `features`, `score`).
    pub stage: String,
    /// A bounded, stable reason code usable as a metric label (`message_too_large`, `json_invalid`).
    pub reason: String,
    /// A human-readable detail naming the problem.
    pub detail: String,
    /// Where the record was.
    pub origin: RecordOrigin,
    /// Original length in bytes (a lower bound when reading stopped at a limit).
    pub raw_len: u64,
    /// The raw bytes, base64 (standard alphabet, padded), possibly cut at the quarantine cap.
    pub raw_b64: String,
    /// Whether `raw_b64` holds fewer bytes than the original.
    pub raw_truncated: bool,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
/// Out-of-range days roll over (`(2021, 2, 30)` is 2021-03-02); callers validate dates first.
/// The one calendar routine of the project: timestamps in telemetry, feeds and STIX use it.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_parse_covers_folder_names() {
        assert_eq!(Label::parse("easy_ham_2"), Some(Label::Ham));
        assert_eq!(Label::parse("hard_ham"), Some(Label::Ham));
        assert_eq!(Label::parse("Phishing"), Some(Label::Phishing));
        assert_eq!(Label::parse("spam_2"), Some(Label::Spam));
        assert_eq!(Label::parse("bounce"), Some(Label::Bounce));
        assert_eq!(Label::parse("test"), None);
    }

    #[test]
    fn mailbox_domain_is_lowercased_and_trimmed() {
        let m = Mailbox {
            name: None,
            address: "Service@PayPa1.COM.".into(),
        };
        assert_eq!(m.domain().as_deref(), Some("paypa1.com"));
        let m = Mailbox {
            name: None,
            address: "nobody".into(),
        };
        assert_eq!(m.domain(), None);
    }

    #[test]
    fn origin_display_names_member_and_index() {
        let o = RecordOrigin {
            path: "a.tar.xz".into(),
            member: Some("x/mbox".into()),
            index: Some(3),
            offset: None,
        };
        assert_eq!(o.to_string(), "a.tar.xz!x/mbox#3");
    }

    #[test]
    fn record_round_trips_through_json() {
        let r = EmailRecord {
            id: "m1".into(),
            subject: Some("hi".into()),
            headers: vec![("Subject".into(), "hi".into())],
            ..Default::default()
        };
        let s = serde_json::to_string(&r).expect("serializes");
        let back: EmailRecord = serde_json::from_str(&s).expect("parses");
        assert_eq!(back, r);
        assert_eq!(back.header("subject"), Some("hi"));
    }
}

//! The types between the decoders and the mapping engine.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shrike_types::{Quarantined, RecordOrigin};

/// The decoder family a record belongs to. Mappings are grouped by it, and each family has one
/// canonical field layout (documented in `docs/mappings.md`) whatever the file format was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Windows event logs: EVTX, Winlogbeat / HELK / NXLog JSON, Sentinel exports.
    Windows,
    /// Suricata EVE JSON.
    Suricata,
    /// Zeek logs (TSV with `#fields` headers, or JSON); the log type is in `_path`.
    Zeek,
    /// AWS CloudTrail records.
    Cloudtrail,
    /// Amazon GuardDuty findings (raw or unwrapped from EventBridge).
    Guardduty,
    /// AWS VPC Flow Logs.
    Vpcflow,
    /// Email records (RFC 5322, mbox, email-log JSON) as read by `shrike-ingest`.
    Email,
}

impl Source {
    /// Every source, in a stable order.
    pub const ALL: [Source; 7] = [
        Source::Windows,
        Source::Suricata,
        Source::Zeek,
        Source::Cloudtrail,
        Source::Guardduty,
        Source::Vpcflow,
        Source::Email,
    ];

    /// Stable lowercase name (also the YAML and CLI spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Windows => "windows",
            Source::Suricata => "suricata",
            Source::Zeek => "zeek",
            Source::Cloudtrail => "cloudtrail",
            Source::Guardduty => "guardduty",
            Source::Vpcflow => "vpcflow",
            Source::Email => "email",
        }
    }

    /// Parses [`Source::as_str`] spellings.
    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL
            .into_iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(s))
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One decoded record, ready for the mapping engine.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    /// Which family's mappings apply.
    pub source: Source,
    /// The canonical fields of the record (see `docs/mappings.md` for each source's layout).
    pub fields: Map<String, Value>,
    /// The record's original bytes (one JSON line or object, one TSV row, one EVTX record
    /// rendered as JSON), kept for quarantine.
    pub raw: Vec<u8>,
    /// Where it was read from.
    pub origin: RecordOrigin,
}

/// What a decoder yields: a record, or a quarantine item for bytes it could not decode.
#[derive(Debug, Clone, PartialEq)]
pub enum DecodeItem {
    /// A decoded record.
    Record(RawRecord),
    /// Input that could not be decoded, with its reason and raw bytes.
    Quarantined(Quarantined),
}

//! Amazon GuardDuty findings as [`Hit`]s.
//!
//! A GuardDuty finding (raw or EventBridge-wrapped) normalizes to an OCSF Detection Finding
//! (class 2004, product `GuardDuty`; see `content/mappings/aws/guardduty/`): the finding type
//! (`ThreatPurpose:ResourceType/ThreatFamily.Variant!Artifact`) is `finding_info.types[0]` (and
//! `metadata.event_code`), the title `finding_info.title`, the OCSF `severity_id` comes from
//! GuardDuty's 0–10 severity, which stays in `unmapped.severity`.
//!
//! ATT&CK labels come from `content/attack/guardduty-types.tsv`: ordered glob patterns over the
//! finding type (first match wins), then a threat-purpose row that gives a tactic only where
//! GuardDuty's definition of the purpose names one tactic. `Policy:*`, `Behavior:*`, `PenTest:*`,
//! `Trojan:*` and generic `UnauthorizedAccess:*` map to nothing on purpose.
//!
//! Findings without a type are skipped (no hit; [`finding`] says why). Invariant: never panics
//! on any event; events that are not GuardDuty findings add no hit.

use std::sync::OnceLock;

use serde_json::Value;

use crate::alert::{Hit, Origin};
use crate::attack::AttackTable;

/// The bundled finding-type table.
pub const TYPES_TSV: &str = include_str!("../../../../content/attack/guardduty-types.tsv");

/// Product name on the hits.
pub const PRODUCT: &str = "Amazon GuardDuty";

/// One row of the type table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeMapping {
    /// Glob over the finding type (`Backdoor:*/C&CActivity*`), or `purpose:<ThreatPurpose>`.
    pub pattern: String,
    /// ATT&CK technique ids, sorted, unique (empty = deliberately unmapped).
    pub techniques: Vec<String>,
    /// ATT&CK tactic short names, sorted, unique.
    pub tactics: Vec<String>,
    /// Why this mapping (or why none).
    pub justification: String,
}

/// The parsed type table.
#[derive(Debug, Default)]
pub struct TypeTable {
    rows: Vec<TypeMapping>,
}

/// Case-insensitive glob with `*` only.
fn glob(pattern: &str, text: &str) -> bool {
    let p = pattern.to_ascii_lowercase();
    let t = text.to_ascii_lowercase();
    let parts: Vec<&str> = p.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return p == t;
    };
    let Some(mut rest) = t.strip_prefix(first) else {
        return false;
    };
    for m in middle {
        match rest.find(m) {
            Some(i) => rest = rest.get(i + m.len()..).unwrap_or(""),
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

impl TypeTable {
    /// The bundled table, parsed once.
    pub fn embedded() -> &'static TypeTable {
        static T: OnceLock<TypeTable> = OnceLock::new();
        T.get_or_init(|| TypeTable::parse(TYPES_TSV, AttackTable::embedded()))
    }

    /// Parses the TSV (`pattern\ttechniques\ttactics\tjustification`, `#` comments). Techniques
    /// without tactics get their own tactics from `attack`; malformed lines are skipped.
    pub fn parse(tsv: &str, attack: &AttackTable) -> TypeTable {
        let mut t = TypeTable::default();
        for line in tsv.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            let [pattern, techniques, tactics, justification] = f.as_slice() else {
                continue;
            };
            let list = |s: &str| -> Vec<String> {
                let mut v: Vec<String> = s
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                v.sort();
                v.dedup();
                v
            };
            let techniques = list(techniques);
            let mut tactics = list(tactics);
            if tactics.is_empty() {
                tactics = attack.tactics_of(techniques.iter().map(String::as_str));
            }
            t.rows.push(TypeMapping {
                pattern: pattern.trim().to_string(),
                techniques,
                tactics,
                justification: (*justification).to_string(),
            });
        }
        t
    }

    /// The mapping of a finding type: the first type row that matches, else its threat
    /// purpose's row.
    pub fn get(&self, finding_type: &str) -> Option<&TypeMapping> {
        let ty = finding_type.trim();
        if ty.is_empty() {
            return None;
        }
        self.rows
            .iter()
            .filter(|r| !r.pattern.starts_with("purpose:"))
            .find(|r| glob(&r.pattern, ty))
            .or_else(|| {
                let purpose = threat_purpose(ty)?;
                self.rows.iter().find(|r| {
                    r.pattern
                        .strip_prefix("purpose:")
                        .is_some_and(|p| p.eq_ignore_ascii_case(purpose))
                })
            })
    }

    /// All rows, in file order.
    pub fn rows(&self) -> &[TypeMapping] {
        &self.rows
    }
}

/// The threat purpose of a finding type (`Backdoor` of `Backdoor:EC2/C&CActivity.B`).
pub fn threat_purpose(finding_type: &str) -> Option<&str> {
    let (p, rest) = finding_type.trim().split_once(':')?;
    (!p.is_empty() && !rest.is_empty()).then_some(p)
}

/// The fields of a GuardDuty finding the detectors and the cloud model use, borrowed from the
/// event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FindingInfo<'a> {
    /// Finding type (`Backdoor:EC2/C&CActivity.B!DNS`).
    pub finding_type: &'a str,
    /// Threat purpose (`Backdoor`), empty when the type has none.
    pub purpose: &'a str,
    /// Title (the type when the finding has none).
    pub title: &'a str,
    /// OCSF `severity_id`, 1..=5 (0 and out-of-range values become 1).
    pub severity_id: u8,
    /// GuardDuty's own 0–10 severity, when the finding carries a usable one.
    pub severity: Option<f64>,
    /// GuardDuty's sample-finding flag (`service.additionalInfo.sample`).
    pub is_sample: bool,
}

/// Why a GuardDuty-looking event gave no hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Not a GuardDuty Detection Finding.
    NotGuardDuty,
    /// A GuardDuty finding without a finding type.
    NoType,
}

/// Whether an event is a GuardDuty finding (Detection Finding from product GuardDuty).
pub fn is_guardduty_finding(event: &Value) -> bool {
    event.get("class_uid").and_then(Value::as_u64) == Some(2004)
        && event
            .pointer("/metadata/product/name")
            .and_then(Value::as_str)
            .is_some_and(|p| p.to_ascii_lowercase().contains("guardduty"))
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|x| x.is_finite() && (0.0..=10.0).contains(x))
}

fn as_bool(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => s.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// The finding's fields, or why it gives no hit.
pub fn finding(event: &Value) -> Result<FindingInfo<'_>, Skip> {
    if !is_guardduty_finding(event) {
        return Err(Skip::NotGuardDuty);
    }
    let s = |p: &str| {
        event
            .pointer(p)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let finding_type = s("/finding_info/types/0")
        .or_else(|| s("/metadata/event_code"))
        .ok_or(Skip::NoType)?;
    let severity_id = event
        .get("severity_id")
        .and_then(Value::as_u64)
        .filter(|v| (1..=5).contains(v))
        .map_or(1, |v| v as u8);
    let severity = event.pointer("/unmapped/severity").and_then(as_f64);
    let is_sample = event
        .pointer("/unmapped/service/additionalInfo/sample")
        .is_some_and(as_bool);
    Ok(FindingInfo {
        finding_type,
        purpose: threat_purpose(finding_type).unwrap_or(""),
        title: s("/finding_info/title").unwrap_or(finding_type),
        severity_id,
        severity,
        is_sample,
    })
}

/// ATT&CK techniques and tactics of a finding type (both sorted, unique; empty when unmapped).
pub fn attack_labels(finding_type: &str) -> (Vec<String>, Vec<String>) {
    match TypeTable::embedded().get(finding_type) {
        Some(m) => (m.techniques.clone(), m.tactics.clone()),
        None => (Vec::new(), Vec::new()),
    }
}

/// Appends the hit of one GuardDuty finding (nothing for other events or findings without a
/// type).
pub fn hits(event: &Value, out: &mut Vec<Hit>) {
    let Ok(info) = finding(event) else {
        return;
    };
    let (techniques, tactics) = attack_labels(info.finding_type);
    out.push(Hit {
        origin: Origin::Vendor {
            product: PRODUCT.into(),
            rule: info.finding_type.to_string(),
            category: info.purpose.to_string(),
        },
        title: info.title.to_string(),
        severity_id: info.severity_id,
        techniques,
        tactics,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mapped_technique_and_tactic_exists() {
        let attack = AttackTable::embedded();
        let t = TypeTable::embedded();
        assert!(t.rows().len() >= 40, "{} rows", t.rows().len());
        for r in t.rows() {
            for id in &r.techniques {
                let tech = attack.technique(id);
                assert!(tech.is_some_and(|t| t.active), "{id} ({})", r.pattern);
            }
            for tac in &r.tactics {
                assert!(attack.tactic(tac).is_some(), "{tac} ({})", r.pattern);
            }
            assert!(!r.justification.is_empty(), "{}", r.pattern);
        }
    }

    #[test]
    fn glob_matches() {
        assert!(glob(
            "Backdoor:*/C&CActivity*!DNS",
            "Backdoor:EC2/C&CActivity.B!DNS"
        ));
        assert!(!glob(
            "Backdoor:*/C&CActivity*!DNS",
            "Backdoor:EC2/C&CActivity.B"
        ));
        assert!(glob("CryptoCurrency:*", "cryptocurrency:ec2/bitcointool.b"));
        assert!(glob(
            "Policy:*",
            "Policy:S3/BucketBlockPublicAccessDisabled"
        ));
        assert!(!glob("a*b", "a"));
        assert!(glob("exact", "EXACT"));
    }
}

//! Suricata alerts as [`Hit`]s.
//!
//! A Suricata `alert` record normalizes to an OCSF Detection Finding (class 2004, product
//! `Suricata`; see `content/mappings/oisf/suricata/_alert.yaml`): the rule is
//! `finding_info.analytic` (sid as `uid`, signature as `name`, classtype description as
//! `category`), the ET rule metadata is in `finding_info.tags`, and the metadata's `mitre_*` lists
//! are in `finding_info.attacks`.
//!
//! ATT&CK labels, in order of preference:
//! 1. the rule's own metadata (`finding_info.attacks`: technique / sub-technique / tactic), kept
//!    only where the id exists in the bundled ATT&CK table;
//! 2. otherwise the category table `content/attack/suricata-categories.tsv`, which maps a
//!    category only where the mapping is sound and says why (catch-all categories such as
//!    "Potentially Bad Traffic" or "Misc activity" map to nothing rather than to a guess).
//!
//! Invariant: never panics on any event; events that are not Suricata alerts add no hit.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::alert::{Hit, Origin};
use crate::attack::AttackTable;
use crate::models::network::at;

/// The bundled category table.
pub const CATEGORY_TSV: &str = include_str!("../../../../content/attack/suricata-categories.tsv");

/// One row of the category table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryMapping {
    /// The category as Suricata writes it in `alert.category` (`Detection of a Network Scan`).
    pub category: String,
    /// The classtype short name (`network-scan`).
    pub classtype: String,
    /// ATT&CK technique ids, sorted, unique (empty = deliberately unmapped).
    pub techniques: Vec<String>,
    /// ATT&CK tactic short names, sorted, unique.
    pub tactics: Vec<String>,
    /// Why this mapping (or why none).
    pub justification: String,
}

/// The parsed category table.
#[derive(Debug, Default)]
pub struct CategoryTable {
    rows: Vec<CategoryMapping>,
    by_key: HashMap<String, usize>,
}

impl CategoryTable {
    /// The bundled table, parsed once.
    pub fn embedded() -> &'static CategoryTable {
        static T: OnceLock<CategoryTable> = OnceLock::new();
        T.get_or_init(|| CategoryTable::parse(CATEGORY_TSV, AttackTable::embedded()))
    }

    /// Parses the TSV (`category\tclasstype\ttechniques\ttactics\tjustification`, `#` comments).
    /// Techniques without tactics get their own tactics from `attack`; malformed lines are
    /// skipped.
    pub fn parse(tsv: &str, attack: &AttackTable) -> CategoryTable {
        let mut t = CategoryTable::default();
        for line in tsv.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            let [category, classtype, techniques, tactics, justification] = f.as_slice() else {
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
            let i = t.rows.len();
            t.by_key.insert(category.to_ascii_lowercase(), i);
            t.by_key.insert(classtype.to_ascii_lowercase(), i);
            t.rows.push(CategoryMapping {
                category: (*category).to_string(),
                classtype: (*classtype).to_string(),
                techniques,
                tactics,
                justification: (*justification).to_string(),
            });
        }
        t
    }

    /// The mapping of a category (by its description or classtype, case-insensitive).
    pub fn get(&self, category: &str) -> Option<&CategoryMapping> {
        let k = category.trim();
        self.by_key
            .get(k)
            .or_else(|| self.by_key.get(&k.to_ascii_lowercase()))
            .and_then(|&i| self.rows.get(i))
    }

    /// All rows, in file order.
    pub fn rows(&self) -> &[CategoryMapping] {
        &self.rows
    }
}

/// The fields of a Suricata alert the detectors and the triage scorer use, borrowed from the
/// event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertInfo<'a> {
    /// Signature id (`2030053`), empty when absent.
    pub sid: &'a str,
    /// Signature (`ET MALWARE Win32/IcedID Requesting Encoded Binary M4`).
    pub signature: &'a str,
    /// Category (`Malware Command and Control Activity Detected`), empty when absent.
    pub category: &'a str,
    /// OCSF `severity_id` of the finding, 1..=5 (1 when absent or out of range).
    pub severity_id: u8,
    /// ET metadata `signature_severity` (`Major`, `Critical`, `Minor`, `Informational`).
    pub signature_severity: Option<&'a str>,
    /// ET metadata `confidence` (`High`, `Medium`, `Low`).
    pub confidence: Option<&'a str>,
    /// Source IP of the evidence.
    pub src_ip: Option<&'a str>,
    /// Destination IP of the evidence.
    pub dst_ip: Option<&'a str>,
}

/// Whether an event is a Suricata alert (Detection Finding from product Suricata).
pub fn is_suricata_alert(event: &Value) -> bool {
    event.get("class_uid").and_then(Value::as_u64) == Some(2004)
        && at(event, &["metadata", "product", "name"])
            .and_then(Value::as_str)
            .is_some_and(|p| p.eq_ignore_ascii_case("suricata"))
}

fn tag<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    at(event, &["finding_info", "tags"])
        .and_then(Value::as_array)?
        .iter()
        .find(|t| t.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|t| t.get("value"))
        .and_then(Value::as_str)
}

/// The alert's fields; `None` for events that are not Suricata alerts or have no signature.
pub fn alert_info(event: &Value) -> Option<AlertInfo<'_>> {
    if !is_suricata_alert(event) {
        return None;
    }
    let s = |p: &[&str]| at(event, p).and_then(Value::as_str);
    let signature = s(&["finding_info", "analytic", "name"])
        .or_else(|| s(&["finding_info", "title"]))
        .or_else(|| s(&["message"]))
        .filter(|v| !v.is_empty())?;
    let sid = s(&["finding_info", "analytic", "uid"]).unwrap_or("");
    let category = s(&["finding_info", "analytic", "category"])
        .or_else(|| s(&["finding_info", "types", "0"]))
        .unwrap_or("");
    let severity_id = event
        .get("severity_id")
        .and_then(Value::as_u64)
        .filter(|v| (1..=5).contains(v))
        .map_or(1, |v| v as u8);
    let ev = at(event, &["evidences", "0"]);
    let ip = |side: &str| {
        ev.and_then(|e| e.get(side))
            .and_then(|e| e.get("ip"))
            .and_then(Value::as_str)
    };
    Some(AlertInfo {
        sid,
        signature,
        category,
        severity_id,
        signature_severity: tag(event, "signature_severity"),
        confidence: tag(event, "confidence"),
        src_ip: ip("src_endpoint"),
        dst_ip: ip("dst_endpoint"),
    })
}

/// ATT&CK techniques and tactics from the rule's own metadata (`finding_info.attacks`), each
/// checked against `attack`; both sorted and unique. Tactics include the techniques' own when
/// the metadata names none.
pub fn attacks_from_metadata(event: &Value, attack: &AttackTable) -> (Vec<String>, Vec<String>) {
    let mut techniques = Vec::new();
    let mut tactics = Vec::new();
    let Some(list) = at(event, &["finding_info", "attacks"]).and_then(Value::as_array) else {
        return (techniques, tactics);
    };
    for a in list {
        let uid = |k: &str| a.get(k).and_then(|t| t.get("uid")).and_then(Value::as_str);
        let name = |k: &str| a.get(k).and_then(|t| t.get("name")).and_then(Value::as_str);
        if let Some(t) = uid("sub_technique")
            .or_else(|| uid("technique"))
            .and_then(|id| attack.technique(id.trim()))
        {
            techniques.push(t.id.clone());
        }
        if let Some(t) = uid("tactic")
            .and_then(|id| attack.tactic(id.trim()))
            .or_else(|| name("tactic").and_then(|n| attack.tactic(n.trim())))
        {
            tactics.push(t.shortname.clone());
        }
    }
    techniques.sort();
    techniques.dedup();
    if tactics.is_empty() {
        tactics = attack.tactics_of(techniques.iter().map(String::as_str));
    }
    tactics.sort();
    tactics.dedup();
    (techniques, tactics)
}

/// ATT&CK labels of an alert: the rule's own metadata when it has any, else the category table.
pub fn attack_labels(event: &Value, category: &str) -> (Vec<String>, Vec<String>) {
    let (techniques, tactics) = attacks_from_metadata(event, AttackTable::embedded());
    if !techniques.is_empty() || !tactics.is_empty() {
        return (techniques, tactics);
    }
    match CategoryTable::embedded().get(category) {
        Some(m) => (m.techniques.clone(), m.tactics.clone()),
        None => (Vec::new(), Vec::new()),
    }
}

/// Appends the hit of one Suricata alert (nothing for other events).
pub fn hits(event: &Value, out: &mut Vec<Hit>) {
    let Some(info) = alert_info(event) else {
        return;
    };
    let (techniques, tactics) = attack_labels(event, info.category);
    let rule = if info.sid.is_empty() {
        info.signature.to_string()
    } else {
        format!("{} {}", info.sid, info.signature)
    };
    out.push(Hit {
        origin: Origin::Vendor {
            product: "Suricata".into(),
            rule,
            category: info.category.to_string(),
        },
        title: info.signature.to_string(),
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
        let t = CategoryTable::embedded();
        assert!(t.rows().len() >= 40, "{} rows", t.rows().len());
        for r in t.rows() {
            for id in &r.techniques {
                let tech = attack.technique(id);
                assert!(tech.is_some_and(|t| t.active), "{id} ({})", r.category);
            }
            for tac in &r.tactics {
                assert!(attack.tactic(tac).is_some(), "{tac} ({})", r.category);
            }
            assert!(!r.justification.is_empty(), "{}", r.category);
        }
    }
}

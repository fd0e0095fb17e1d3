//! Conditions: the one small language of triggers, fallback rules, routing rules, risk floors
//! and actions. Every field given must hold (AND); `any` holds when one of its entries does
//! (OR). A condition on something not known yet (risk before the `risk` step, asset before the
//! `assets` provider answered) is false, never an error.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use shrike_intel::IntelHit;

use crate::enrich::{AssetFacts, RarityFacts};
use crate::playbook::engine::ScoreSource;

/// One value or a list of them (`source: zeek` or `source: [zeek, suricata]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct List<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany<T> {
            Many(Vec<T>),
            One(T),
        }
        Ok(match OneOrMany::deserialize(d)? {
            OneOrMany::Many(v) => List(v),
            OneOrMany::One(x) => List(vec![x]),
        })
    }
}

/// A condition (all given fields must hold).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// Playbook id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook: Option<List<String>>,
    /// `metadata.product.name`, case-insensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<List<String>>,
    /// OCSF class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_uid: Option<List<i64>>,
    /// Score ≥.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_at_least: Option<f64>,
    /// Score <.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_below: Option<f64>,
    /// Where the score came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_source: Option<List<ScoreSource>>,
    /// Risk ≥.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_at_least: Option<f64>,
    /// Risk <.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_below: Option<f64>,
    /// Some unsuppressed intel hit has one of these threats (`c2`, `malware`, …; `any`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intel_threat: Option<List<String>>,
    /// Some unsuppressed intel hit names one of these families (case-insensitive; `any`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intel_family: Option<List<String>>,
    /// Asset criticality ≥ (1–5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criticality_at_least: Option<u8>,
    /// The alert's user is (not) privileged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged_user: Option<bool>,
    /// Some baseline relation is (not) new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<bool>,
    /// ATT&CK technique, by prefix (`T1071` matches `T1071.001`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technique: Option<List<String>>,
    /// Kind of the ticket's entity (`host`, `ip`, `user`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_kind: Option<List<String>>,
    /// Some enrichment provider failed (true) or none did (false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrichment_failed: Option<bool>,
    /// Event fields by dotted path (arrays are searched): equal to one of the values (strings
    /// case-insensitively, numbers numerically).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, List<Value>>,
    /// At least one of these holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub any: Vec<Conditions>,
}

/// What conditions are evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// Playbook id.
    pub playbook: &'a str,
    /// `metadata.product.name`.
    pub source: &'a str,
    /// OCSF class.
    pub class_uid: i64,
    /// The event.
    pub event: &'a Value,
    /// Score and its source, once scored.
    pub score: Option<(f64, ScoreSource)>,
    /// Risk, once computed.
    pub risk: Option<f64>,
    /// Intel hits so far (suppressed included).
    pub hits: &'a [IntelHit],
    /// Asset context, once known.
    pub asset: Option<&'a AssetFacts>,
    /// Baseline context, once known.
    pub rarity: Option<&'a RarityFacts>,
    /// Technique.
    pub technique: &'a str,
    /// Entity kind of the ticket.
    pub entity_kind: &'a str,
    /// Some provider failed.
    pub enrichment_failed: bool,
}

impl<'a> Facts<'a> {
    /// What is known before any step: the event alone.
    pub fn of_event(
        playbook: &'a str,
        source: &'a str,
        class_uid: i64,
        event: &'a Value,
    ) -> Facts<'a> {
        Facts {
            playbook,
            source,
            class_uid,
            event,
            score: None,
            risk: None,
            hits: &[],
            asset: None,
            rarity: None,
            technique: "",
            entity_kind: "",
            enrichment_failed: false,
        }
    }
}

fn any_eq_ci(list: &Option<List<String>>, v: &str) -> bool {
    list.as_ref()
        .is_none_or(|l| l.0.iter().any(|x| x.eq_ignore_ascii_case(v)))
}

impl Conditions {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        *self == Conditions::default()
    }

    /// Evaluates against `f`.
    pub fn holds(&self, f: &Facts<'_>) -> bool {
        let unsuppressed = || {
            f.hits
                .iter()
                .filter(|h| !shrike_intel::store::is_suppressed(h))
        };
        any_eq_ci(&self.playbook, f.playbook)
            && any_eq_ci(&self.source, f.source)
            && self
                .class_uid
                .as_ref()
                .is_none_or(|l| l.0.contains(&f.class_uid))
            && self
                .score_at_least
                .is_none_or(|t| f.score.is_some_and(|(s, _)| s >= t))
            && self
                .score_below
                .is_none_or(|t| f.score.is_some_and(|(s, _)| s < t))
            && self
                .score_source
                .as_ref()
                .is_none_or(|l| f.score.is_some_and(|(_, src)| l.0.contains(&src)))
            && self
                .risk_at_least
                .is_none_or(|t| f.risk.is_some_and(|r| r >= t))
            && self
                .risk_below
                .is_none_or(|t| f.risk.is_some_and(|r| r < t))
            && self.intel_threat.as_ref().is_none_or(|l| {
                unsuppressed().any(|h| {
                    l.0.iter()
                        .any(|t| t == "any" || t.eq_ignore_ascii_case(&h.threat))
                })
            })
            && self.intel_family.as_ref().is_none_or(|l| {
                unsuppressed().any(|h| {
                    h.family.as_deref().is_some_and(|fam| {
                        l.0.iter()
                            .any(|t| t == "any" || t.eq_ignore_ascii_case(fam))
                    })
                })
            })
            && self
                .criticality_at_least
                .is_none_or(|c| f.asset.is_some_and(|a| a.criticality >= c))
            && self
                .privileged_user
                .is_none_or(|p| f.asset.and_then(|a| a.user_privileged) == Some(p))
            && self
                .first_seen
                .is_none_or(|b| f.rarity.is_some_and(|r| r.first_seen == b))
            && self.technique.as_ref().is_none_or(|l| {
                !f.technique.is_empty() && l.0.iter().any(|t| f.technique.starts_with(t.as_str()))
            })
            && any_eq_ci(&self.entity_kind, f.entity_kind)
            && self
                .enrichment_failed
                .is_none_or(|b| f.enrichment_failed == b)
            && self
                .fields
                .iter()
                .all(|(path, want)| field_matches(f.event, path, &want.0))
            && (self.any.is_empty() || self.any.iter().any(|c| c.holds(f)))
    }
}

/// Whether some value at dotted `path` of `event` equals one of `want`.
pub fn field_matches(event: &Value, path: &str, want: &[Value]) -> bool {
    let mut found = false;
    visit(
        event,
        path.split('.').collect::<Vec<_>>().as_slice(),
        &mut |v| {
            if want.iter().any(|w| value_eq(v, w)) {
                found = true;
            }
        },
    );
    found
}

/// First value at dotted `path` (arrays: the first element that has it).
pub fn field_first<'a>(event: &'a Value, path: &str) -> Option<&'a Value> {
    fn go<'a>(v: &'a Value, parts: &[&str]) -> Option<&'a Value> {
        match v {
            Value::Array(items) => items.iter().find_map(|i| go(i, parts)),
            _ => match parts.split_first() {
                None => Some(v),
                Some((head, rest)) => go(v.get(*head)?, rest),
            },
        }
    }
    go(event, &path.split('.').collect::<Vec<_>>())
}

fn visit<'a>(v: &'a Value, parts: &[&str], f: &mut impl FnMut(&'a Value)) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| visit(i, parts, f)),
        _ => match parts.split_first() {
            None => f(v),
            Some((head, rest)) => {
                if let Some(next) = v.get(*head) {
                    visit(next, rest, f);
                }
            }
        },
    }
}

fn value_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::Number(y)) | (Value::Number(y), Value::String(x)) => {
            x.parse::<f64>().ok() == y.as_f64()
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shrike_intel::{Indicator, IndicatorKind};

    fn facts<'a>(event: &'a Value, hits: &'a [IntelHit]) -> Facts<'a> {
        Facts {
            playbook: "c2-network",
            source: "Suricata",
            class_uid: 2004,
            event,
            score: Some((0.9, ScoreSource::Fallback)),
            risk: None,
            hits,
            asset: None,
            rarity: None,
            technique: "T1071.001",
            entity_kind: "ip",
            enrichment_failed: false,
        }
    }

    fn cond(yaml: &str) -> Conditions {
        serde_yaml_ng::from_str(yaml).expect("condition parses")
    }

    fn hit(threat: &str, family: Option<&str>, tags: &[&str]) -> IntelHit {
        IntelHit {
            family: family.map(str::to_owned),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            ..IntelHit::new(
                Indicator::new(IndicatorKind::Ipv4, "162.33.179.136").expect("ip"),
                "maltrail",
                threat,
                80,
            )
        }
    }

    #[test]
    fn conditions_and_or_and_unknowns() {
        let ev = json!({"severity_id": 4, "evidences": [{"dst_endpoint": {"port": 443}}],
                        "finding_info": {"types": ["A Network Trojan was detected"]}});
        let hits = [hit("c2", Some("IcedID"), &[])];
        let f = facts(&ev, &hits);
        assert!(cond("{}").holds(&f));
        assert!(cond("{source: suricata, class_uid: [2004, 4001]}").holds(&f));
        assert!(cond("{fields: {severity_id: [4, 5]}}").holds(&f));
        assert!(cond("{fields: {evidences.dst_endpoint.port: '443'}}").holds(&f));
        assert!(cond("{fields: {finding_info.types: 'a network trojan was detected'}}").holds(&f));
        assert!(!cond("{fields: {severity_id: 5}}").holds(&f));
        assert!(!cond("{fields: {no.such.path: 1}}").holds(&f));
        assert!(cond("{intel_threat: c2, intel_family: icedid}").holds(&f));
        assert!(cond("{intel_family: any, technique: T1071}").holds(&f));
        assert!(!cond("{technique: T1059}").holds(&f));
        assert!(cond("{score_at_least: 0.9, score_source: fallback}").holds(&f));
        assert!(!cond("{score_source: model}").holds(&f));
        // Unknown yet: false, not an error.
        assert!(!cond("{risk_at_least: 0}").holds(&f));
        assert!(!cond("{criticality_at_least: 1}").holds(&f));
        assert!(!cond("{first_seen: true}").holds(&f));
        // OR.
        assert!(cond("{any: [{source: zeek}, {fields: {severity_id: 4}}]}").holds(&f));
        assert!(!cond("{any: [{source: zeek}, {fields: {severity_id: 1}}]}").holds(&f));
        // Suppressed hits do not count.
        let hits = [hit("c2", Some("IcedID"), &["suppressed:top-1m"])];
        assert!(!cond("{intel_threat: any}").holds(&facts(&ev, &hits)));
        // Unknown keys are refused.
        assert!(serde_yaml_ng::from_str::<Conditions>("{sorce: zeek}").is_err());
    }

    #[test]
    fn first_value_at_a_path() {
        let ev = json!({"evidences": [{"a": 1}, {"dst_endpoint": {"ip": "1.2.3.4"}}]});
        assert_eq!(
            field_first(&ev, "evidences.dst_endpoint.ip"),
            Some(&json!("1.2.3.4"))
        );
        assert_eq!(field_first(&ev, "evidences.x"), None);
    }
}

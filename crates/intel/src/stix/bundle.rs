//! STIX bundles as an indicator store: indicators with their parsed pattern, malware,
//! threat actors, attack patterns and the `indicates` / `uses` relationships between them.

use std::collections::HashMap;

use serde_json::Value;

use super::pattern::{simple_indicators, Pattern, Timestamp};
use super::StixError;
use crate::{Indicator, IntelHit};

/// A STIX `indicator` with `pattern_type` `stix`.
#[derive(Debug, Clone)]
pub struct StixIndicator {
    /// `id`.
    pub id: String,
    /// `name`.
    pub name: Option<String>,
    /// `pattern` as written.
    pub pattern_text: String,
    /// The parsed pattern; `None` when it does not parse (kept, with the error).
    pub pattern: Option<Pattern>,
    /// Why the pattern did not parse.
    pub pattern_error: Option<String>,
    /// `indicator_types` (2.1) or `labels` (2.0).
    pub indicator_types: Vec<String>,
    /// `labels`.
    pub labels: Vec<String>,
    /// `valid_from`, epoch ms.
    pub valid_from: Option<i64>,
    /// `valid_until`, epoch ms.
    pub valid_until: Option<i64>,
    /// `confidence` (0–100).
    pub confidence: Option<u8>,
    /// `created_by_ref`.
    pub created_by_ref: Option<String>,
    /// `external_references` (raw JSON).
    pub external_references: Vec<Value>,
    /// The plain observables of the pattern (see [`simple_indicators`]).
    pub observables: Vec<Indicator>,
}

/// A `malware` (or `tool`) object.
#[derive(Debug, Clone, PartialEq)]
pub struct Malware {
    /// `id`.
    pub id: String,
    /// `name`.
    pub name: String,
}

/// An `attack-pattern` object.
#[derive(Debug, Clone, PartialEq)]
pub struct AttackPattern {
    /// `id`.
    pub id: String,
    /// `name`.
    pub name: String,
    /// ATT&CK technique id (`external_references` with `source_name` `mitre-attack`).
    pub technique_id: Option<String>,
}

/// A `relationship` object.
#[derive(Debug, Clone, PartialEq)]
pub struct Relationship {
    /// `relationship_type` (`indicates`, `uses`, ...).
    pub relationship_type: String,
    /// `source_ref`.
    pub source_ref: String,
    /// `target_ref`.
    pub target_ref: String,
}

/// A loaded bundle.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    /// The bundle's `id`, when it was a bundle.
    pub id: Option<String>,
    /// A name for hit sources (`stix:<name>`); defaults to the creating identity or the id.
    pub name: Option<String>,
    /// Indicators with `pattern_type` `stix` (or no `pattern_type`, STIX 2.0).
    pub indicators: Vec<StixIndicator>,
    /// Malware and tools by id.
    pub malware: HashMap<String, Malware>,
    /// Threat actors and intrusion sets: id → name.
    pub threat_actors: HashMap<String, String>,
    /// Attack patterns by id.
    pub attack_patterns: HashMap<String, AttackPattern>,
    /// Identities: id → name.
    pub identities: HashMap<String, String>,
    /// `indicates`, `uses` (and other) relationships.
    pub relationships: Vec<Relationship>,
    index: HashMap<Indicator, Vec<usize>>,
}

fn strings(o: &Value, k: &str) -> Vec<String> {
    o.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn string(o: &Value, k: &str) -> Option<String> {
    o.get(k).and_then(Value::as_str).map(str::to_string)
}

fn ms(o: &Value, k: &str) -> Option<i64> {
    o.get(k)
        .and_then(Value::as_str)
        .and_then(Timestamp::parse)
        .map(Timestamp::epoch_ms)
}

/// Reads a STIX 2.x bundle, a JSON list of objects, or one object.
pub fn load_bundle(json: &str) -> Result<Bundle, StixError> {
    let v: Value = serde_json::from_str(json).map_err(|e| StixError::Bundle(e.to_string()))?;
    let mut b = Bundle::default();
    let objects: Vec<&Value> = match &v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("bundle") => {
            b.id = string(&v, "id");
            match o.get("objects") {
                Some(Value::Array(a)) => a.iter().collect(),
                None => Vec::new(),
                Some(_) => return Err(StixError::Bundle("bundle objects is not a list".into())),
            }
        }
        Value::Object(_) => vec![&v],
        _ => return Err(StixError::Bundle("not a bundle, object or list".into())),
    };
    for o in objects {
        let (Some(ty), Some(id)) = (string(o, "type"), string(o, "id")) else {
            continue;
        };
        let name = string(o, "name");
        match ty.as_str() {
            "indicator" => {
                let pt = o.get("pattern_type").and_then(Value::as_str);
                if pt.is_some_and(|p| p != "stix") {
                    continue;
                }
                let Some(pattern_text) = string(o, "pattern") else {
                    continue;
                };
                let (pattern, pattern_error) = match Pattern::parse(&pattern_text) {
                    Ok(p) => (Some(p), None),
                    Err(e) => (None, Some(e.to_string())),
                };
                let observables = pattern.as_ref().map(simple_indicators).unwrap_or_default();
                let mut indicator_types = strings(o, "indicator_types");
                let labels = strings(o, "labels");
                if indicator_types.is_empty() {
                    indicator_types = labels.clone();
                }
                b.indicators.push(StixIndicator {
                    id,
                    name,
                    pattern_text,
                    pattern,
                    pattern_error,
                    indicator_types,
                    labels,
                    valid_from: ms(o, "valid_from"),
                    valid_until: ms(o, "valid_until"),
                    confidence: o
                        .get("confidence")
                        .and_then(Value::as_u64)
                        .map(|c| c.min(100) as u8),
                    created_by_ref: string(o, "created_by_ref"),
                    external_references: o
                        .get("external_references")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                    observables,
                });
            }
            "malware" | "tool" => {
                b.malware.insert(
                    id.clone(),
                    Malware {
                        id,
                        name: name.unwrap_or_default(),
                    },
                );
            }
            "threat-actor" | "intrusion-set" => {
                b.threat_actors.insert(id, name.unwrap_or_default());
            }
            "identity" => {
                b.identities.insert(id, name.unwrap_or_default());
            }
            "attack-pattern" => {
                let technique_id = o
                    .get("external_references")
                    .and_then(Value::as_array)
                    .and_then(|refs| {
                        refs.iter().find_map(|r| {
                            (r.get("source_name").and_then(Value::as_str) == Some("mitre-attack"))
                                .then(|| string(r, "external_id"))
                                .flatten()
                        })
                    });
                b.attack_patterns.insert(
                    id.clone(),
                    AttackPattern {
                        id,
                        name: name.unwrap_or_default(),
                        technique_id,
                    },
                );
            }
            "relationship" => {
                if let (Some(t), Some(s), Some(d)) = (
                    string(o, "relationship_type"),
                    string(o, "source_ref"),
                    string(o, "target_ref"),
                ) {
                    b.relationships.push(Relationship {
                        relationship_type: t,
                        source_ref: s,
                        target_ref: d,
                    });
                }
            }
            _ => {}
        }
    }
    for (i, ind) in b.indicators.iter().enumerate() {
        for obs in &ind.observables {
            b.index.entry(obs.clone()).or_default().push(i);
        }
    }
    Ok(b)
}

impl Bundle {
    /// Sets the name used in hit sources.
    pub fn with_name(mut self, name: impl Into<String>) -> Bundle {
        self.name = Some(name.into());
        self
    }

    /// Indicators whose pattern has `indicator` among its plain observables.
    pub fn indicators_for(&self, indicator: &Indicator) -> Vec<&StixIndicator> {
        self.index
            .get(indicator)
            .map(|v| v.iter().filter_map(|&i| self.indicators.get(i)).collect())
            .unwrap_or_default()
    }

    fn targets<'s>(&'s self, source: &'s str, rel: &'s str) -> impl Iterator<Item = &'s str> {
        self.relationships
            .iter()
            .filter(move |r| r.source_ref == source && r.relationship_type == rel)
            .map(|r| r.target_ref.as_str())
    }

    /// The malware family names an indicator `indicates`.
    pub fn families(&self, ind: &StixIndicator) -> Vec<String> {
        let mut v: Vec<String> = self
            .targets(&ind.id, "indicates")
            .filter_map(|t| self.malware.get(t).map(|m| m.name.clone()))
            .collect();
        v.dedup();
        v
    }

    /// ATT&CK technique ids tied to an indicator: attack-patterns it indicates, and those
    /// used by the malware or threat actors it indicates.
    pub fn techniques(&self, ind: &StixIndicator) -> Vec<String> {
        let mut out = Vec::new();
        for t in self.targets(&ind.id, "indicates") {
            if let Some(tid) = self
                .attack_patterns
                .get(t)
                .and_then(|a| a.technique_id.clone())
            {
                out.push(tid);
            }
            for u in self.targets(t, "uses") {
                if let Some(tid) = self
                    .attack_patterns
                    .get(u)
                    .and_then(|a| a.technique_id.clone())
                {
                    out.push(tid);
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn source(&self, ind: &StixIndicator) -> String {
        let name = self
            .name
            .clone()
            .or_else(|| {
                ind.created_by_ref
                    .as_ref()
                    .and_then(|r| self.identities.get(r).cloned())
            })
            .or_else(|| self.id.clone())
            .unwrap_or_else(|| "bundle".into());
        format!("stix:{name}")
    }

    /// One hit per indicator in the bundle that has `indicator` as a plain observable.
    pub fn hits_for(&self, indicator: &Indicator) -> Vec<IntelHit> {
        self.indicators_for(indicator)
            .into_iter()
            .map(|ind| {
                let family = self.families(ind).into_iter().next();
                let benign = ind.indicator_types.iter().any(|t| t == "benign");
                let threat = if benign {
                    "benign"
                } else if family.is_some() {
                    "malware"
                } else {
                    "malicious"
                };
                let mut tags = ind.indicator_types.clone();
                tags.extend(ind.labels.iter().cloned());
                tags.sort();
                tags.dedup();
                IntelHit {
                    indicator: indicator.clone(),
                    source: self.source(ind),
                    family,
                    threat: threat.into(),
                    confidence: ind.confidence.unwrap_or(50),
                    first_seen: ind.valid_from,
                    last_seen: None,
                    tags,
                    attack: self.techniques(ind),
                    reference: Some(ind.id.clone()),
                }
            })
            .collect()
    }
}

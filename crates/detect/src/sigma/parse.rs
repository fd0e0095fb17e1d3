//! One Sigma rule (YAML text) compiled against a [`FieldMap`] logsource: selections of field
//! conditions, keyword searches and the condition tree. Every reason a rule cannot be compiled
//! is a [`Skip`] with a bounded kind (for the load report) and a precise detail.

use std::collections::HashMap;

use serde_yaml_ng::{Mapping, Value as Yaml};

use super::condition::{self, Cond};
use super::fields::{FieldMap, FieldSpec, SigmaLogsource};
use super::modifiers::{self, Pattern};
use crate::alert::{Hit, Origin};
use crate::attack::AttackTable;

/// Why a rule was not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// Bounded kind (`unmapped field`, `unsupported logsource`, …).
    pub kind: &'static str,
    /// The full reason.
    pub detail: String,
}

impl Skip {
    fn new(kind: &'static str, detail: impl Into<String>) -> Skip {
        Skip {
            kind,
            detail: detail.into(),
        }
    }
}

/// A field condition: `field|mods: values`.
#[derive(Debug, Clone)]
pub struct FieldCond {
    /// Slot of the field in its logsource group.
    pub slot: usize,
    /// One entry per listed value; each entry holds the value's variants (any may match).
    pub values: Vec<Vec<Pattern>>,
    /// `|all`: every value must match (else any).
    pub all: bool,
}

/// A selection: OR over AND-groups of field conditions.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The AND-groups.
    pub groups: Vec<Vec<FieldCond>>,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The hit the rule makes.
    pub hit: Hit,
    /// Selections, by index.
    pub selections: Vec<Selection>,
    /// The condition.
    pub cond: Cond,
}

/// Field slots of one logsource group: every distinct field spec gets one slot, shared by all
/// rules of the group, so each event field is read and lowercased once.
#[derive(Debug, Default)]
pub struct Slots {
    /// Specs by slot; `true` = read every candidate (keyword search).
    pub specs: Vec<(FieldSpec, bool)>,
    index: HashMap<(FieldSpec, bool), usize>,
}

impl Slots {
    fn intern(&mut self, spec: FieldSpec, all: bool) -> usize {
        let key = (spec, all);
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let i = self.specs.len();
        self.specs.push(key.clone());
        self.index.insert(key, i);
        i
    }
}

/// The parts of a rule's header.
#[derive(Debug, Clone)]
pub struct Header {
    /// Logsource.
    pub logsource: SigmaLogsource,
}

fn str_of<'a>(m: &'a Mapping, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Yaml::as_str)
}

/// Parses the YAML and checks the header; returns the document and its logsource.
pub fn header(text: &str) -> Result<(Mapping, SigmaLogsource), Skip> {
    let doc: Yaml = serde_yaml_ng::from_str(text)
        .map_err(|e| Skip::new("yaml error", format!("yaml error: {e}")))?;
    let Yaml::Mapping(m) = doc else {
        return Err(Skip::new(
            "not a rule",
            "not a rule: document is not a mapping",
        ));
    };
    if m.contains_key("correlation") {
        return Err(Skip::new(
            "correlation rule",
            "correlation rule (unsupported)",
        ));
    }
    if m.contains_key("filter") && !m.contains_key("detection") {
        return Err(Skip::new("filter rule", "meta filter rule (unsupported)"));
    }
    if let Some(s) = str_of(&m, "status") {
        if s == "deprecated" || s == "unsupported" {
            return Err(Skip::new("status", format!("status {s}")));
        }
    }
    let ls = m
        .get("logsource")
        .cloned()
        .ok_or_else(|| Skip::new("invalid rule", "invalid rule: no logsource"))?;
    let ls: SigmaLogsource = serde_yaml_ng::from_value(ls)
        .map_err(|e| Skip::new("invalid rule", format!("invalid rule: logsource: {e}")))?;
    Ok((m, ls))
}

fn level_severity(level: &str) -> u8 {
    match level {
        "informational" => 1,
        "low" => 2,
        "medium" => 3,
        "high" => 4,
        "critical" => 5,
        _ => 3,
    }
}

/// Technique and tactic tags of a rule.
pub fn attack_tags(tags: &[String]) -> (Vec<String>, Vec<String>) {
    let table = AttackTable::embedded();
    let mut techniques = Vec::new();
    let mut tactics = Vec::new();
    for t in tags {
        let Some(rest) = t
            .to_ascii_lowercase()
            .strip_prefix("attack.")
            .map(str::to_string)
        else {
            continue;
        };
        let is_tech = rest.len() >= 5
            && rest.starts_with('t')
            && rest[1..].chars().all(|c| c.is_ascii_digit() || c == '.');
        if is_tech {
            techniques.push(rest.to_ascii_uppercase());
        } else {
            let short = rest.replace('_', "-");
            if let Some(tac) = table.tactic(&short) {
                tactics.push(tac.shortname.clone());
            }
        }
    }
    techniques.sort();
    techniques.dedup();
    tactics.extend(table.tactics_of(techniques.iter().map(String::as_str)));
    tactics.sort();
    tactics.dedup();
    (techniques, tactics)
}

fn build_hit(m: &Mapping, path: &str) -> Hit {
    let s = |k: &str| str_of(m, k).unwrap_or("").to_string();
    let level = s("level");
    let tags: Vec<String> = match m.get("tags") {
        Some(Yaml::Sequence(items)) => items
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let (techniques, tactics) = attack_tags(&tags);
    let author = match m.get("author") {
        Some(Yaml::String(a)) => a.clone(),
        Some(Yaml::Sequence(items)) => items
            .iter()
            .filter_map(Yaml::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    };
    let title = s("title");
    Hit {
        origin: Origin::Sigma {
            rule_id: s("id"),
            title: title.clone(),
            author,
            level: level.clone(),
            path: path.to_string(),
        },
        title,
        severity_id: level_severity(&level),
        techniques,
        tactics,
    }
}

struct Ctx<'a> {
    map: &'a FieldMap,
    ls: usize,
    slots: &'a mut Slots,
}

impl Ctx<'_> {
    fn field_slot(&mut self, field: &str) -> Result<usize, Skip> {
        let logsource = &self.map.logsources[self.ls];
        let spec = logsource.resolve(field).ok_or_else(|| {
            Skip::new(
                "unmapped field",
                format!("unmapped field {field} ({})", logsource.sigma.label()),
            )
        })?;
        Ok(self.slots.intern(spec, false))
    }

    fn keyword_slot(&mut self) -> usize {
        self.slots.intern(self.map.keywords.clone(), true)
    }
}

fn values_of(v: &Yaml) -> Result<Vec<Option<String>>, Skip> {
    let bad = |e: String| Skip::new("invalid detection", format!("invalid detection: {e}"));
    match v {
        Yaml::Sequence(items) => {
            if items.is_empty() {
                return Err(bad("empty value list".to_string()));
            }
            items
                .iter()
                .map(|i| modifiers::scalar(i).map_err(bad))
                .collect()
        }
        other => Ok(vec![modifiers::scalar(other).map_err(bad)?]),
    }
}

fn field_cond(ctx: &mut Ctx<'_>, key: &str, v: &Yaml) -> Result<FieldCond, Skip> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or("");
    let mods: Vec<&str> = parts.collect();
    let m = modifiers::parse_modifiers(&mods).map_err(|e| {
        let kind = if e.starts_with("unsupported modifier ") {
            "unsupported modifier"
        } else {
            "invalid modifier"
        };
        Skip::new(kind, e)
    })?;
    let keyword = field.is_empty();
    let slot = if keyword {
        ctx.keyword_slot()
    } else {
        ctx.field_slot(field)?
    };
    let vals = values_of(v)?;
    let mut values = Vec::with_capacity(vals.len());
    for val in &vals {
        let mut resolve = |name: &str| ctx.field_slot(name).map_err(|s| s.detail);
        let mut pats = if keyword && val.is_some() {
            // Keywords are substring searches over the keyword fields.
            let mut km = m.clone();
            if km.position.is_none() && km.re.is_none() {
                km.position = Some(modifiers::RefHow::Contains);
            }
            modifiers::compile_value(val.as_deref(), &km, &mut resolve)
        } else {
            modifiers::compile_value(val.as_deref(), &m, &mut resolve)
        }
        .map_err(|e| {
            let kind = if e.starts_with("unmapped field") {
                "unmapped field"
            } else if e.starts_with("regex") {
                "regex unsupported"
            } else {
                "invalid value"
            };
            Skip::new(kind, e)
        })?;
        values.push(std::mem::take(&mut pats));
    }
    Ok(FieldCond {
        slot,
        values,
        all: m.all,
    })
}

fn selection(ctx: &mut Ctx<'_>, v: &Yaml) -> Result<Selection, Skip> {
    let bad = |e: &str| Skip::new("invalid detection", format!("invalid detection: {e}"));
    let group = |ctx: &mut Ctx<'_>, m: &Mapping| -> Result<Vec<FieldCond>, Skip> {
        let mut conds = Vec::with_capacity(m.len());
        for (k, val) in m {
            let key = match k {
                Yaml::String(s) => s.clone(),
                Yaml::Number(n) => n.to_string(),
                _ => return Err(bad("non-string field name")),
            };
            conds.push(field_cond(ctx, &key, val)?);
        }
        Ok(conds)
    };
    match v {
        Yaml::Mapping(m) => Ok(Selection {
            groups: vec![group(ctx, m)?],
        }),
        Yaml::Sequence(items) if items.iter().all(|i| matches!(i, Yaml::Mapping(_))) => {
            let mut groups = Vec::with_capacity(items.len());
            for i in items {
                if let Yaml::Mapping(m) = i {
                    groups.push(group(ctx, m)?);
                }
            }
            if groups.is_empty() {
                return Err(bad("empty selection"));
            }
            Ok(Selection { groups })
        }
        Yaml::Sequence(_) | Yaml::String(_) | Yaml::Number(_) => {
            let fc = field_cond(ctx, "", v)?;
            Ok(Selection {
                groups: vec![vec![fc]],
            })
        }
        _ => Err(bad("selection is neither a map, a list nor a keyword")),
    }
}

/// Compiles a rule whose header was read, against logsource `ls` of `map`.
pub fn compile(
    m: &Mapping,
    path: &str,
    map: &FieldMap,
    ls: usize,
    slots: &mut Slots,
) -> Result<Rule, Skip> {
    let Some(Yaml::Mapping(det)) = m.get("detection") else {
        return Err(Skip::new("invalid rule", "invalid rule: no detection map"));
    };
    let mut ctx = Ctx { map, ls, slots };
    let mut names = Vec::new();
    let mut selections = Vec::new();
    let mut cond_text: Option<String> = None;
    for (k, v) in det {
        let Some(name) = k.as_str() else {
            return Err(Skip::new(
                "invalid detection",
                "invalid detection: non-string selection name",
            ));
        };
        match name {
            "condition" => {
                cond_text = Some(match v {
                    Yaml::String(s) => s.clone(),
                    Yaml::Sequence(items) => {
                        let parts: Vec<String> = items
                            .iter()
                            .filter_map(Yaml::as_str)
                            .map(|s| format!("({s})"))
                            .collect();
                        if parts.len() != items.len() {
                            return Err(Skip::new(
                                "invalid detection",
                                "invalid detection: condition list holds a non-string",
                            ));
                        }
                        parts.join(" or ")
                    }
                    _ => {
                        return Err(Skip::new(
                            "invalid detection",
                            "invalid detection: condition is not a string",
                        ))
                    }
                });
            }
            "timeframe" => {
                return Err(Skip::new(
                    "timeframe",
                    "timeframe (aggregation over time) unsupported",
                ))
            }
            _ => {
                names.push(name.to_string());
                selections.push(selection(&mut ctx, v)?);
            }
        }
    }
    let cond_text = cond_text
        .ok_or_else(|| Skip::new("invalid detection", "invalid detection: no condition"))?;
    let cond = condition::parse(&cond_text, &names).map_err(|e| {
        let kind = if e.starts_with("aggregation") {
            "aggregation"
        } else {
            "invalid condition"
        };
        Skip::new(kind, format!("{e}: {cond_text}"))
    })?;
    Ok(Rule {
        hit: build_hit(m, path),
        selections,
        cond,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_become_techniques_and_tactics() {
        let tags: Vec<String> = [
            "attack.credential_access",
            "attack.t1003.001",
            "attack.s0002",
            "attack.execution",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (t, a) = attack_tags(&tags);
        assert_eq!(t, ["T1003.001"]);
        assert_eq!(a, ["credential-access", "execution"]);
    }
}

//! SigmaHQ rules (Sigma specification 2.x, DRL 1.1) over normalized OCSF events.
//!
//! - [`fields`]: which OCSF events a Sigma logsource covers and where each Sigma field sits in
//!   them (the bundled `content/sigma/ocsf-fields.yaml`).
//! - [`parse`]: one rule's YAML compiled into selections and a condition tree.
//! - [`modifiers`]: values and modifiers compiled into matchers (wildcards, `contains`, `re`,
//!   `cidr`, `base64offset`, `windash`, …).
//! - [`condition`]: the condition grammar.
//!
//! [`SigmaRules`] groups compiled rules by logsource, so an event is tested only against the
//! rules whose logsource covers it; inside a group each field is read (borrowed from the event)
//! and lowercased once per event ([`fields::EventFields`]), and scanned once by an Aho-Corasick
//! automaton holding every literal the group's rules look for in it (`prefilter`): a rule whose
//! condition needs literals the event lacks is not evaluated, and `contains` reads its answer
//! from the scan. [`SigmaRules::matches_unfiltered`] is the direct evaluation the prefiltered
//! one is tested against. A rule that uses anything unsupported (correlation,
//! aggregation, an unknown modifier, a field with no OCSF place for its logsource) is skipped at
//! load with its reason, never compiled into something that silently matches nothing.
//!
//! Every [`Hit`] keeps the rule's `author` verbatim: the Detection Rule License 1.1 requires it
//! on every message based on a match.

pub mod condition;
pub mod fields;
pub mod modifiers;
pub mod parse;
mod prefilter;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::alert::Hit;
use fields::{EventFields, EventKey, FieldMap};
use modifiers::{Pattern, StrMatch};
use parse::{FieldCond, Rule, Selection, Skip, Slots};

/// What failed when loading Sigma rules (a bad rule is skipped, not an error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigmaError {
    /// The rules directory could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The bundled field mapping is invalid (a build defect).
    #[error("sigma field mapping: {0}")]
    Mapping(String),
    /// The single rule given to [`SigmaRules::from_yaml`] was skipped.
    #[error("rule {path} skipped: {reason}")]
    Skipped {
        /// The rule's label.
        path: String,
        /// Why.
        reason: String,
    },
}

/// What [`SigmaRules::load_dir`] did.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Rule files found (`*.yml`, `*.yaml`).
    pub files: usize,
    /// Rules compiled.
    pub loaded: usize,
    /// Skipped rules: (path relative to the directory, reason).
    pub skipped: Vec<(String, String)>,
    /// The bounded kind of each skipped rule's reason (parallel to `skipped`).
    kinds: Vec<&'static str>,
    /// Loaded rules per logsource label (`windows/process_creation/-`).
    pub loaded_by_logsource: BTreeMap<String, usize>,
}

impl LoadReport {
    /// Skipped rules per reason kind (`unmapped field`, `unsupported logsource`, …).
    pub fn summary(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for k in &self.kinds {
            *out.entry((*k).to_string()).or_insert(0) += 1;
        }
        out
    }

    fn skip(&mut self, path: &str, s: Skip) {
        self.skipped.push((path.to_string(), s.detail));
        self.kinds.push(s.kind);
    }
}

/// Rules of one logsource, with the field slots they share.
#[derive(Debug)]
struct Group {
    ls: usize,
    slots: Slots,
    rules: Vec<Rule>,
    /// Per-slot multi-pattern prefilters (built by [`SigmaRules::index`]).
    scans: Vec<prefilter::SlotScan>,
    /// Per rule (parallel to `rules`): the literals it needs (CNF; empty: always evaluate).
    gates: Vec<prefilter::Gate>,
    /// Words of the per-event needle bitset of all slots together.
    words: usize,
}

/// A compiled Sigma rule set. `Send + Sync`; matching takes `&self`.
#[derive(Debug)]
pub struct SigmaRules {
    map: FieldMap,
    groups: Vec<Group>,
    /// Lowercased `metadata.product.name` -> groups whose logsource may cover it.
    by_product: Vec<(String, Vec<usize>)>,
}

impl SigmaRules {
    fn empty() -> Result<SigmaRules, SigmaError> {
        Ok(SigmaRules {
            map: FieldMap::embedded().map_err(SigmaError::Mapping)?,
            groups: Vec::new(),
            by_product: Vec::new(),
        })
    }

    /// Compiles one rule text into the set; the logsource label on success.
    fn add(&mut self, path: &str, text: &str) -> Result<String, Skip> {
        let (doc, ls) = parse::header(text)?;
        let Some(li) = self.map.find(&ls) else {
            return Err(Skip {
                kind: "unsupported logsource",
                detail: format!("unsupported logsource {}", ls.label()),
            });
        };
        let gi = match self.groups.iter().position(|g| g.ls == li) {
            Some(i) => i,
            None => {
                self.groups.push(Group {
                    ls: li,
                    slots: Slots::default(),
                    rules: Vec::new(),
                    scans: Vec::new(),
                    gates: Vec::new(),
                    words: 0,
                });
                self.groups.len() - 1
            }
        };
        let group = &mut self.groups[gi];
        let n_slots = group.slots.specs.len();
        match parse::compile(&doc, path, &self.map, li, &mut group.slots) {
            Ok(rule) => {
                group.rules.push(rule);
                Ok(ls.label())
            }
            Err(e) => {
                // Slots interned by a rule that failed stay (harmless: read lazily, never used).
                let _ = n_slots;
                Err(e)
            }
        }
    }

    fn index(&mut self) {
        self.groups.retain(|g| !g.rules.is_empty());
        for g in &mut self.groups {
            let (scans, words) = prefilter::build(&mut g.rules, g.slots.specs.len());
            g.gates = g.rules.iter().map(prefilter::gate).collect();
            g.scans = scans;
            g.words = words;
        }
        let mut by_product: Vec<(String, Vec<usize>)> = Vec::new();
        for (gi, g) in self.groups.iter().enumerate() {
            for sel in &self.map.logsources[g.ls].events {
                let p = sel.product.to_lowercase();
                match by_product.iter_mut().find(|(k, _)| *k == p) {
                    Some((_, v)) => {
                        if !v.contains(&gi) {
                            v.push(gi);
                        }
                    }
                    None => by_product.push((p, vec![gi])),
                }
            }
        }
        self.by_product = by_product;
    }

    /// Loads every `*.yml`/`*.yaml` under `dir` (recursively, in path order). A rule that
    /// cannot be compiled is skipped with its reason; only an unreadable directory fails.
    pub fn load_dir(dir: &Path) -> Result<(SigmaRules, LoadReport), SigmaError> {
        let mut files = Vec::new();
        collect(dir, &mut files)?;
        files.sort();
        let mut set = SigmaRules::empty()?;
        let mut report = LoadReport {
            files: files.len(),
            ..LoadReport::default()
        };
        for f in &files {
            let rel = f
                .strip_prefix(dir)
                .unwrap_or(f)
                .to_string_lossy()
                .into_owned();
            let text = match std::fs::read_to_string(f) {
                Ok(t) => t,
                Err(e) => {
                    report.skip(
                        &rel,
                        Skip {
                            kind: "unreadable",
                            detail: format!("unreadable: {e}"),
                        },
                    );
                    continue;
                }
            };
            match set.add(&rel, &text) {
                Ok(label) => {
                    report.loaded += 1;
                    *report.loaded_by_logsource.entry(label).or_insert(0) += 1;
                }
                Err(s) => report.skip(&rel, s),
            }
        }
        set.index();
        Ok((set, report))
    }

    /// Compiles one rule (tests, single-rule tools); a skipped rule is an error with its reason.
    pub fn from_yaml(path_label: &str, text: &str) -> Result<SigmaRules, SigmaError> {
        let mut set = SigmaRules::empty()?;
        set.add(path_label, text).map_err(|s| SigmaError::Skipped {
            path: path_label.to_string(),
            reason: s.detail,
        })?;
        set.index();
        Ok(set)
    }

    /// Number of compiled rules.
    pub fn len(&self) -> usize {
        self.groups.iter().map(|g| g.rules.len()).sum()
    }

    /// No rules.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rules the literal prefilter gates: evaluated only on events holding the literals their
    /// condition needs (the others are evaluated on every event their logsource covers).
    pub fn gated_len(&self) -> usize {
        self.groups
            .iter()
            .map(|g| g.gates.iter().filter(|gate| !gate.is_empty()).count())
            .sum()
    }

    /// Appends one [`Hit`] per rule that matches the event, in rule order.
    ///
    /// Each field a group's rules search is scanned once per event for all their literals
    /// (Aho-Corasick); a rule whose condition needs literals that are absent is not evaluated,
    /// and a `contains` reads its answer from the scan. Same hits as [`Self::matches_unfiltered`].
    pub fn matches(&self, event: &Value, out: &mut Vec<Hit>) {
        self.run(event, out, true);
    }

    /// Appends one [`Hit`] per matching rule, evaluating every rule of every covering logsource
    /// directly, without the literal prefilter: the reference the prefiltered [`Self::matches`]
    /// is tested against (and benchmarked against).
    pub fn matches_unfiltered(&self, event: &Value, out: &mut Vec<Hit>) {
        self.run(event, out, false);
    }

    fn run(&self, event: &Value, out: &mut Vec<Hit>, filtered: bool) {
        let key = EventKey::of(event);
        let Some((_, groups)) = self
            .by_product
            .iter()
            .find(|(p, _)| p.eq_ignore_ascii_case(key.product))
        else {
            return;
        };
        for &gi in groups {
            let Some(g) = self.groups.get(gi) else {
                continue;
            };
            if !self.map.logsources[g.ls].covers(&key) {
                continue;
            }
            let mut ev = Eval {
                fields: EventFields::new(event, g.slots.specs.len()),
                slots: &g.slots,
                scans: &g.scans,
                found: Vec::new(),
                state: Vec::new(),
                filtered,
            };
            if filtered {
                ev.found = vec![0; g.words];
                ev.state = vec![prefilter::UNSCANNED; g.slots.specs.len()];
            }
            for (ri, rule) in g.rules.iter().enumerate() {
                if filtered && !g.gates.get(ri).is_none_or(|gate| ev.passes(gate)) {
                    continue;
                }
                if rule_matches(rule, &mut ev) {
                    out.push(rule.hit.clone());
                }
            }
        }
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SigmaError> {
    let rd = std::fs::read_dir(dir).map_err(|e| SigmaError::Io {
        path: dir.display().to_string(),
        source: e,
    })?;
    for entry in rd.flatten() {
        let p = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            collect(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(p);
        }
    }
    Ok(())
}

/// One event under one group's rules: field values, and the prefilter's needle bits.
struct Eval<'g, 'e> {
    fields: EventFields<'e>,
    slots: &'g Slots,
    scans: &'g [prefilter::SlotScan],
    /// Needle bits of all slots (`SlotScan::word_off` locates a slot's words).
    found: Vec<u64>,
    /// Per slot: unscanned, scanned, or not scannable.
    state: Vec<u8>,
    filtered: bool,
}

impl Eval<'_, '_> {
    /// Scans slot `slot` once (no-op when scanned or when the slot has no prefilter).
    fn scan(&mut self, slot: usize) {
        let Some(st) = self.state.get_mut(slot) else {
            return;
        };
        if *st != prefilter::UNSCANNED {
            return;
        }
        let (Some(scan), Some((spec, all))) = (self.scans.get(slot), self.slots.specs.get(slot))
        else {
            *st = prefilter::UNSCANNABLE;
            return;
        };
        if !scan.is_active() {
            *st = prefilter::UNSCANNABLE;
            return;
        }
        let vals = self.fields.get(slot, spec, *all);
        *st = scan.scan(vals, &mut self.found);
    }

    /// Whether needle `needle` of slot `slot` occurs in the slot's lowercased values; `None`
    /// when unknown (no prefilter for the slot, or the scan failed).
    fn found(&mut self, slot: usize, needle: u32) -> Option<bool> {
        if !self.filtered {
            return None;
        }
        self.scan(slot);
        if self.state.get(slot) != Some(&prefilter::SCANNED) {
            return None;
        }
        let scan = self.scans.get(slot)?;
        Some(scan.is_set(&self.found, needle))
    }

    /// Whether a rule's gate lets it through: every clause has a needle that may be present.
    fn passes(&mut self, gate: &prefilter::Gate) -> bool {
        gate.iter().all(|clause| {
            clause
                .iter()
                .any(|&(slot, needle)| self.found(slot as usize, needle) != Some(false))
        })
    }
}

fn rule_matches(rule: &Rule, ev: &mut Eval<'_, '_>) -> bool {
    // Memoize selections (a condition may name one several times); up to 64 selections.
    let mut done: u64 = 0;
    let mut res: u64 = 0;
    condition::eval(&rule.cond, &mut |i| {
        let bit = if i < 64 { 1u64 << i } else { 0 };
        if bit != 0 && done & bit != 0 {
            return res & bit != 0;
        }
        let r = rule
            .selections
            .get(i)
            .is_some_and(|s| selection_matches(s, ev));
        if bit != 0 {
            done |= bit;
            if r {
                res |= bit;
            }
        }
        r
    })
}

fn selection_matches(s: &Selection, ev: &mut Eval<'_, '_>) -> bool {
    s.groups
        .iter()
        .any(|g| g.iter().all(|fc| field_matches(fc, ev)))
}

fn field_matches(fc: &FieldCond, ev: &mut Eval<'_, '_>) -> bool {
    let slots = ev.slots;
    let Some((spec, all)) = slots.specs.get(fc.slot) else {
        return false;
    };
    if ev.filtered {
        ev.scan(fc.slot);
    }
    // A fieldref needs a second field's values: read them first (cloned; fieldref is rare).
    let mut other = None;
    for p in fc.values.iter().flatten() {
        if let Pattern::FieldRef { slot, .. } = p {
            if let Some((ospec, oall)) = slots.specs.get(*slot) {
                other = Some(ev.fields.get(*slot, ospec, *oall).clone());
            }
        }
    }
    let known = ev.filtered && ev.state.get(fc.slot) == Some(&prefilter::SCANNED);
    let scan = ev.scans.get(fc.slot);
    let found = &ev.found;
    let vals = ev.fields.get(fc.slot, spec, *all);
    let one = |variants: &Vec<Pattern>| {
        variants.iter().any(|p| {
            if let (
                true,
                Some(scan),
                Pattern::Str {
                    m, needle: Some(n), ..
                },
            ) = (known, scan, p)
            {
                // The scan saw every occurrence of every needle in the lowercased values: an
                // absent needle fails the pattern, and a present one is a whole `contains`.
                if !scan.is_set(found, *n) {
                    return false;
                }
                if matches!(m, StrMatch::Contains(_)) {
                    return true;
                }
            }
            modifiers::matches(p, vals, other.as_ref())
        })
    };
    if fc.all {
        fc.values.iter().all(one)
    } else {
        fc.values.iter().any(one)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<SigmaRules>();
    }
}

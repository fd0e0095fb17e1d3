//! The literal prefilter of a logsource group: per field slot, one Aho-Corasick automaton over
//! every literal ("needle") the group's case-insensitive string patterns need, so a field is
//! scanned once per event for all rules instead of once per rule value; and per rule, a
//! conservative [`Gate`] saying which needles must be present for its condition to hold.
//!
//! Invariants (what keeps the prefiltered engine equal to direct evaluation):
//! - A needle is the lowercased literal a `Pattern::Str` (not `cased`) needs in the lowercased
//!   value: the whole literal of an equals/prefix/suffix/substring match, or the longest literal
//!   run of a glob. Every matching value contains it, so "needle absent from every value" proves
//!   the pattern false; for a substring match "present" also proves it true.
//! - The scan is overlapping (every occurrence of every needle), over exactly the lowercased
//!   strings the direct evaluation compares.
//! - A gate is a conjunction of clauses, each a disjunction of (slot, needle): implied by the
//!   condition. `not`, regexes, numbers, CIDR, `exists`, `null`, fieldref, `cased` and
//!   empty/`*` values give no clause (the rule is always evaluated there); an `or` gates only
//!   when every branch does.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::condition::Cond;
use super::fields::Values;
use super::modifiers::Pattern;
use super::parse::{FieldCond, Rule, Selection};

/// Slot state in one event: not scanned yet.
pub(super) const UNSCANNED: u8 = 0;
/// Slot state: scanned, needle bits valid.
pub(super) const SCANNED: u8 = 1;
/// Slot state: no prefilter (no needles, or the scan failed); evaluate directly.
pub(super) const UNSCANNABLE: u8 = 2;

/// Most clauses kept per gate (the cheapest to check come first; fewer is still sound).
const MAX_CLAUSES: usize = 4;

/// Slots whose needles total at most this many bytes get a full DFA (fastest scan; memory
/// about states x byte classes x 4 bytes); larger ones what the crate picks (an NFA).
const DFA_MAX_NEEDLE_BYTES: usize = 8 * 1024;

/// A (slot, needle) pair.
pub(super) type NeedleRef = (u32, u32);

/// Conjunction of clauses; a clause is a disjunction of needles. Empty: always evaluate.
pub(super) type Gate = Vec<Vec<NeedleRef>>;

/// The prefilter of one field slot.
#[derive(Debug)]
pub(super) struct SlotScan {
    ac: Option<AhoCorasick>,
    /// First word of this slot's bits in the per-event bitset.
    word_off: usize,
}

impl SlotScan {
    /// Whether the slot has a prefilter at all.
    pub(super) fn is_active(&self) -> bool {
        self.ac.is_some()
    }

    /// Sets the bits of every needle found in `vals`; the slot's new state.
    pub(super) fn scan(&self, vals: &Values<'_>, found: &mut [u64]) -> u8 {
        let Some(ac) = &self.ac else {
            return UNSCANNABLE;
        };
        for v in &vals.vals {
            let Ok(it) = ac.try_find_overlapping_iter(v.lower()) else {
                return UNSCANNABLE;
            };
            for m in it {
                let id = m.pattern().as_usize();
                if let Some(w) = found.get_mut(self.word_off + id / 64) {
                    *w |= 1u64 << (id % 64);
                }
            }
        }
        SCANNED
    }

    /// Whether needle `id` was found (valid once the slot is [`SCANNED`]).
    pub(super) fn is_set(&self, found: &[u64], id: u32) -> bool {
        let id = id as usize;
        found
            .get(self.word_off + id / 64)
            .is_some_and(|w| w & (1u64 << (id % 64)) != 0)
    }
}

/// Assigns needle ids to the group's prefilterable patterns and builds one automaton per slot;
/// returns the slot prefilters and the number of bitset words they need together.
pub(super) fn build(rules: &mut [Rule], n_slots: usize) -> (Vec<SlotScan>, usize) {
    let mut needles: Vec<Vec<String>> = vec![Vec::new(); n_slots];
    let mut ids: Vec<HashMap<String, u32>> = vec![HashMap::new(); n_slots];
    for rule in rules.iter_mut() {
        for sel in &mut rule.selections {
            for fc in sel.groups.iter_mut().flatten() {
                let slot = fc.slot;
                let (Some(list), Some(index)) = (needles.get_mut(slot), ids.get_mut(slot)) else {
                    continue;
                };
                for p in fc.values.iter_mut().flatten() {
                    let Pattern::Str {
                        m,
                        cased: false,
                        needle,
                    } = p
                    else {
                        continue;
                    };
                    let Some(lit) = m.required_literal() else {
                        continue;
                    };
                    let id = match index.get(lit) {
                        Some(&id) => id,
                        None => {
                            let Ok(id) = u32::try_from(list.len()) else {
                                continue;
                            };
                            list.push(lit.to_string());
                            index.insert(lit.to_string(), id);
                            id
                        }
                    };
                    *needle = Some(id);
                }
            }
        }
    }
    let mut words = 0;
    let scans = needles
        .iter()
        .map(|list| {
            let word_off = words;
            words += list.len().div_ceil(64);
            let ac = if list.is_empty() {
                None
            } else {
                // Standard semantics: required by overlapping search, which reports every
                // occurrence of every needle (leftmost kinds would hide needles inside others).
                let bytes: usize = list.iter().map(String::len).sum();
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .kind((bytes <= DFA_MAX_NEEDLE_BYTES).then_some(AhoCorasickKind::DFA))
                    .build(list)
                    .ok()
            };
            SlotScan { ac, word_off }
        })
        .collect();
    (scans, words)
}

/// The gate of a compiled rule (after [`build`] assigned needles).
pub(super) fn gate(rule: &Rule) -> Gate {
    let mut g = cond(&rule.cond, &rule.selections);
    g.sort_by_key(Vec::len);
    g.truncate(MAX_CLAUSES);
    g
}

fn cond(c: &Cond, sels: &[Selection]) -> Gate {
    match c {
        Cond::Sel(i) => sels.get(*i).map(selection).unwrap_or_default(),
        Cond::And(items) => items.iter().flat_map(|x| cond(x, sels)).collect(),
        Cond::Or(items) => any_of(items.iter().map(|x| cond(x, sels))),
        Cond::Not(_) => Vec::new(),
    }
}

fn selection(s: &Selection) -> Gate {
    any_of(
        s.groups
            .iter()
            .map(|g| g.iter().flat_map(field_cond).collect::<Gate>()),
    )
}

/// A disjunction of gates implies the disjunction of one clause from each: the union of each
/// branch's smallest clause. Any ungated branch ungates the whole.
fn any_of(branches: impl Iterator<Item = Gate>) -> Gate {
    let mut union: Vec<NeedleRef> = Vec::new();
    let mut any = false;
    for b in branches {
        let Some(smallest) = b.into_iter().min_by_key(Vec::len) else {
            return Vec::new();
        };
        union.extend(smallest);
        any = true;
    }
    if !any {
        return Vec::new();
    }
    union.sort_unstable();
    union.dedup();
    vec![union]
}

fn field_cond(fc: &FieldCond) -> Gate {
    let slot = u32::try_from(fc.slot).ok();
    // One clause per listed value (its variants OR'ed), `None` when the value needs no literal.
    let value = |variants: &Vec<Pattern>| -> Option<Vec<NeedleRef>> {
        let mut clause = Vec::with_capacity(variants.len());
        for p in variants {
            match p {
                Pattern::Str {
                    needle: Some(n), ..
                } => clause.push((slot?, *n)),
                _ => return None,
            }
        }
        (!clause.is_empty()).then_some(clause)
    };
    if fc.all {
        fc.values.iter().filter_map(value).collect()
    } else {
        any_of(fc.values.iter().map(|v| value(v).into_iter().collect()))
    }
}

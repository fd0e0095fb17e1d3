//! Rule prevalence: on how many distinct entities each (source, rule) fired recently, and the
//! evidence discount that follows from it (RBA "risk-rule throttling", IDF-like).
//!
//! Per rule key (the slot key of `state.rs`: rule hash with the source in its low 3 bits) the
//! table keeps two 512-bit entity bitmaps, one per routing-window epoch (`floor(t / window)`):
//! the epoch of the fuser's clock and the previous one. The count is a linear-counting estimate
//! over the union of both, `n = round(-m ln(zero bits / m))` with `m = 512`: exact in practice
//! for a handful of entities (two entities share a bit with probability 1/512), about 3 %
//! standard error at 200 entities, saturating at `512 ln 512 = 3194` when every bit is set.
//! A rule that stopped firing is forgotten after one to two windows.
//!
//! Memory is bounded: 144 bytes per rule (two bitmaps, epoch, last time), at most [`MAX_RULES`]
//! rules; beyond that, rules older than the previous epoch are dropped, then the least recently
//! fired 1/32. Two rules whose 32-bit keys collide share one count (FNV-1a over the rule).
//!
//! Invariants: no I/O; [`discount`] is in `(0, 1]` for every input.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Bits per entity bitmap.
const BITS: usize = 512;
const WORDS: usize = BITS / 64;
/// Most rules tracked.
pub const MAX_RULES: usize = 65_536;

/// The evidence multiplier of a rule that fired on `n` distinct entities in the recent period:
/// `1 / (1 + alpha * max(0, n - 2))`: 1 for one or two entities (an alert usually names a host
/// and its user; lateral movement names two hosts), ~`1 / (alpha n)` for a widespread rule.
/// Always in `(0, 1]` (a non-finite or negative `alpha` counts as 0).
pub fn discount(n: u32, alpha: f64) -> f64 {
    let a = if alpha.is_finite() && alpha > 0.0 {
        alpha
    } else {
        0.0
    };
    let extra = f64::from(n.saturating_sub(2));
    let w = 1.0 / (1.0 + a * extra);
    if w.is_finite() && w > 0.0 {
        w.min(1.0)
    } else {
        f64::MIN_POSITIVE
    }
}

/// One rule's recent entities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RuleSeen {
    /// Epoch of `cur`.
    epoch: i64,
    /// Latest event time the rule fired.
    last_ms: i64,
    /// Entities in epoch `epoch`.
    cur: [u64; WORDS],
    /// Entities in epoch `epoch - 1`.
    prev: [u64; WORDS],
}

impl RuleSeen {
    fn rotate_to(&mut self, epoch: i64) {
        if epoch <= self.epoch {
            return;
        }
        self.prev = if epoch == self.epoch.saturating_add(1) {
            self.cur
        } else {
            [0; WORDS]
        };
        self.cur = [0; WORDS];
        self.epoch = epoch;
    }
}

/// The prevalence table (module doc).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Prevalence {
    /// Epoch of the fuser's clock.
    epoch: i64,
    rules: BTreeMap<u32, RuleSeen>,
}

/// Bit of an entity (by its map key) in a bitmap.
pub(crate) fn entity_bit(entity_hash: u64) -> usize {
    // Top 9 bits of a Fibonacci-hash mix: FNV-1a's low bits are weak for short keys.
    (entity_hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 55) as usize % BITS
}

fn estimate(bits: u32) -> u32 {
    if bits == 0 {
        return 0;
    }
    let m = BITS as f64;
    let zeros = m - f64::from(bits);
    let n = if zeros <= 0.0 {
        m * m.ln()
    } else {
        -m * (zeros / m).ln()
    };
    (n.round() as u32).max(1)
}

impl Prevalence {
    /// Moves the table's clock to the epoch of `t_ms` (never backwards).
    pub fn advance(&mut self, t_ms: i64, window_ms: i64) {
        let e = t_ms.div_euclid(window_ms.max(1));
        self.epoch = self.epoch.max(e);
    }

    /// Records that rule `key` fired on the entity whose bit is `bit` at `t_ms`.
    pub fn insert(&mut self, key: u32, bit: usize, t_ms: i64) {
        if !self.rules.contains_key(&key) && self.rules.len() >= MAX_RULES {
            self.evict();
        }
        let epoch = self.epoch;
        let r = self.rules.entry(key).or_insert(RuleSeen {
            epoch,
            last_ms: t_ms,
            cur: [0; WORDS],
            prev: [0; WORDS],
        });
        r.rotate_to(epoch);
        r.last_ms = r.last_ms.max(t_ms);
        let bit = bit % BITS;
        if let Some(w) = r.cur.get_mut(bit / 64) {
            *w |= 1u64 << (bit % 64);
        }
    }

    /// Distinct entities (estimate) rule `key` fired on in the current and previous epoch.
    pub fn count(&self, key: u32) -> u32 {
        let Some(r) = self.rules.get(&key) else {
            return 0;
        };
        let ones = |a: &[u64; WORDS], b: Option<&[u64; WORDS]>| -> u32 {
            a.iter()
                .enumerate()
                .map(|(i, w)| (w | b.and_then(|b| b.get(i)).copied().unwrap_or(0)).count_ones())
                .sum()
        };
        if r.epoch >= self.epoch {
            estimate(ones(&r.cur, Some(&r.prev)))
        } else if r.epoch == self.epoch.saturating_sub(1) {
            estimate(ones(&r.cur, None))
        } else {
            0
        }
    }

    /// Drops rules that fired in neither the current nor the previous epoch; returns how many.
    pub fn sweep(&mut self) -> usize {
        let before = self.rules.len();
        let keep_from = self.epoch.saturating_sub(1);
        self.rules.retain(|_, r| r.epoch >= keep_from);
        before - self.rules.len()
    }

    fn evict(&mut self) {
        self.sweep();
        if self.rules.len() < MAX_RULES {
            return;
        }
        let excess = self.rules.len() - (MAX_RULES - MAX_RULES / 32);
        let mut all: Vec<(i64, u32)> = self.rules.iter().map(|(k, r)| (r.last_ms, *k)).collect();
        all.sort_unstable();
        for (_, k) in all.iter().take(excess) {
            self.rules.remove(k);
        }
    }

    /// Rules tracked.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Bytes held (BTreeMap nodes approximated by entry size + one pointer).
    pub fn bytes(&self) -> usize {
        self.rules.len() * (std::mem::size_of::<(u32, RuleSeen)>() + 8)
    }

    /// Checks a restored table.
    pub fn check(&self) -> Result<(), String> {
        if self.rules.len() > MAX_RULES {
            return Err(format!(
                "{} prevalence rules (at most {MAX_RULES})",
                self.rules.len()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discount_is_one_for_two_entities_and_bounded() {
        assert_eq!(discount(0, 0.25), 1.0);
        assert_eq!(discount(1, 0.25), 1.0);
        assert_eq!(discount(2, 0.25), 1.0);
        assert!((discount(6, 0.25) - 0.5).abs() < 1e-12);
        assert!((discount(212, 0.25) - 1.0 / 53.5).abs() < 1e-12);
        for n in [0, 1, 3, 50, 1000, u32::MAX] {
            for a in [0.0, 0.25, 1e300, f64::NAN, f64::INFINITY, -1.0] {
                let w = discount(n, a);
                assert!(w > 0.0 && w <= 1.0, "{n} {a} {w}");
            }
        }
        assert!(discount(50, 0.25) < discount(10, 0.25));
    }

    #[test]
    fn counts_distinct_entities_and_ages_out() {
        let w = 1000;
        let mut p = Prevalence::default();
        p.advance(0, w);
        for i in 0..3u64 {
            // Same entity twice counts once.
            p.insert(7, entity_bit(crate::state::fnv64(&format!("h{i}"))), 0);
            p.insert(7, entity_bit(crate::state::fnv64(&format!("h{i}"))), 1);
        }
        assert_eq!(p.count(7), 3);
        assert_eq!(p.count(8), 0);
        for i in 0..200u64 {
            p.insert(9, entity_bit(crate::state::fnv64(&format!("h{i}"))), 2);
        }
        let n = p.count(9);
        assert!((180..=220).contains(&n), "{n}");
        // Next epoch: the previous one still counts; two epochs later it is gone.
        p.advance(1500, w);
        assert_eq!(p.count(7), 3);
        p.advance(2500, w);
        assert_eq!(p.count(7), 0);
        assert_eq!(p.sweep(), 2);
        assert_eq!(p.len(), 0);
    }
}

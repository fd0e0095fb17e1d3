//! The hot per-entity state: fixed-size decayed accumulators, a tactic bitmask per window epoch,
//! and the top-[`TOP_K`] contributing (source, rule) slots, each pointing at its strongest alert
//! in a shared side table of strings (pruned as slots are released).
//!
//! All accumulators hold values *as of* the state's reference time `t_ref` (the latest event time
//! folded in); an alert older than `t_ref` is decayed to `t_ref` before it is added, so the sums
//! do not depend on arrival order (up to float rounding) while at most [`TOP_K`] distinct
//! (source, rule) pairs are live. Layout: 168 bytes (see `docs/fusion.md` for the budget); the
//! peak score fits in what was padding (an i16 in 1/800 logit and a u32 age).

use serde::{Deserialize, Serialize};

/// Evidence sources, in feature order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Endpoint model score.
    Endpoint,
    /// Network model score.
    Network,
    /// Cloud model score.
    Cloud,
    /// Email model score.
    Email,
    /// Model score of any other domain.
    Other,
    /// A Sigma rule hit.
    Sigma,
    /// A vendor detection (Suricata, GuardDuty).
    Vendor,
    /// A threat-intel match.
    Intel,
}

/// Number of sources.
pub const N_SOURCES: usize = 8;

/// Contribution slots kept per entity.
pub const TOP_K: usize = 6;

/// Length of the stacked feature vector.
pub const N_FEATURES: usize = N_SOURCES + 3;

/// Names of the stacked features, in order: per-source decayed evidence (log-odds units),
/// distinct tactics in the window, asset criticality (0 = unknown), `ln(1 + alerts)`.
pub const FEATURE_NAMES: [&str; N_FEATURES] = [
    "evidence_endpoint",
    "evidence_network",
    "evidence_cloud",
    "evidence_email",
    "evidence_other",
    "evidence_sigma",
    "evidence_vendor",
    "evidence_intel",
    "kill_chain",
    "criticality",
    "log1p_alerts",
];

impl Source {
    /// All sources in order (index = position).
    pub const ALL: [Source; N_SOURCES] = [
        Source::Endpoint,
        Source::Network,
        Source::Cloud,
        Source::Email,
        Source::Other,
        Source::Sigma,
        Source::Vendor,
        Source::Intel,
    ];

    /// snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Endpoint => "endpoint",
            Source::Network => "network",
            Source::Cloud => "cloud",
            Source::Email => "email",
            Source::Other => "other",
            Source::Sigma => "sigma",
            Source::Vendor => "vendor",
            Source::Intel => "intel",
        }
    }

    /// Parses [`Source::as_str`].
    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL.iter().copied().find(|x| x.as_str() == s)
    }

    /// Index in [`Source::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    fn from_index(i: usize) -> Source {
        Source::ALL.get(i).copied().unwrap_or(Source::Other)
    }
}

/// Per-alert evidence cap in log-odds units (a probability of ~0.99995 over a 0.01 prior).
pub(crate) const MAX_EVIDENCE: f64 = 10.0;

/// Decay factor over `dt_ms` (>= 0) with half-life `hl_ms`.
pub(crate) fn decay(dt_ms: i64, hl_ms: f64) -> f64 {
    if dt_ms <= 0 {
        return 1.0;
    }
    (-(dt_ms as f64) / hl_ms).exp2()
}

/// Repeats of one (source, rule) saturate: `m` is the strongest single (decayed) evidence, `r`
/// the decayed sum over the rule's alerts; the rule counts `m + m(1 - e^-(r-m)/m)`, which is
/// `r` for one alert and approaches `2m` however many identical alerts arrive.
pub(crate) fn capped(r: f64, m: f64) -> f64 {
    if m <= 0.0 || !m.is_finite() {
        return 0.0;
    }
    let extra = (r - m).max(0.0);
    m + m * (1.0 - (-extra / m).exp())
}

/// One (source, rule) slot: 16 bytes. The strongest single evidence of the rule (`m` of
/// [`capped`]) is not stored: it is the evidence of the slot's alert (side table), decayed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Slot {
    /// Rule hash with the source index in the low 3 bits ([`slot_key`]).
    pub key: u32,
    /// Side-table id of the strongest alert of this rule.
    pub alert: u32,
    /// Decayed evidence sum (log-odds units).
    pub r: f32,
    /// Decayed severity points (for the `sum_severity` baseline).
    pub sev: f32,
}

impl Slot {
    pub fn source(&self) -> Source {
        Source::from_index((self.key & 7) as usize)
    }
}

/// `crossed_ago` value for "no crossing in force".
const NO_CROSSING: u32 = u32::MAX;

/// `peak_ago` value for "no peak recorded" (none yet, or older than `u32::MAX` ms = 49.7 days).
const NO_PEAK: u32 = u32::MAX;

/// Peak scores are kept as `ceil(800 * logit(score))` in an i16: resolution 1/800 logit,
/// range +-40.9 logit (beyond which f64 sigmoid is 0 or 1 anyway); `i16::MIN` is exactly 0 and
/// `i16::MAX` exactly 1.
const PEAK_SCALE: f64 = 800.0;

/// Encodes a score in `[0, 1]` as a peak value (rounded up: never below the score's logit).
pub(crate) fn peak_encode(score: f64) -> i16 {
    if score.is_nan() || score <= 0.0 {
        return i16::MIN;
    }
    if score >= 1.0 {
        return i16::MAX;
    }
    let z = score.ln() - (-score).ln_1p();
    let q = (z * PEAK_SCALE).ceil();
    if q.is_nan() {
        return i16::MIN;
    }
    q.clamp(-32767.0, 32766.0) as i16
}

/// Decodes [`peak_encode`].
pub(crate) fn peak_decode(q: i16) -> f64 {
    match q {
        i16::MIN => 0.0,
        i16::MAX => 1.0,
        _ => crate::strategy::sigmoid(f64::from(q) / PEAK_SCALE),
    }
}

/// Slot key of a (source, rule hash): the hash with the source index in its low 3 bits.
pub(crate) fn slot_key(source: Source, rule_hash: u32) -> u32 {
    (rule_hash & !7) | (source.index() as u32 & 7)
}

/// The hot state of one entity (168 bytes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct EntityState {
    /// Reference time of all accumulators: latest event time folded in.
    pub t_ref: i64,
    /// Earliest alert time.
    pub first_ms: i64,
    /// Evidence folded out of the slots, per source (log-odds units, as of `t_ref`), each
    /// rule's prevalence discount applied when it was folded.
    pub rest: [f32; N_SOURCES],
    /// Severity points folded out of the slots.
    pub rest_sev: f32,
    /// Alerts fused (lifetime of the entity).
    pub alerts: u32,
    /// `t_ref - crossed_ms` of the crossing of the current routing window, in ms;
    /// [`NO_CROSSING`] when none (or older than `u32::MAX` ms, beyond any allowed window).
    pub crossed_ago: u32,
    /// Tactic bits (kill-chain position) seen in the window epoch of `t_ref`
    /// (`floor(t_ref / window)`).
    pub tactics_cur: u16,
    /// Tactic bits seen in the previous epoch.
    pub tactics_prev: u16,
    /// Asset criticality 1..5, 0 = unknown.
    pub criticality: u8,
    /// Live slots.
    pub n_slots: u8,
    /// Highest fused score at any alert time ([`peak_encode`]).
    pub peak: i16,
    /// `t_ref - peak time` in ms; [`NO_PEAK`] when none.
    pub peak_ago: u32,
    /// Top contributing (source, rule) slots.
    pub slots: [Slot; TOP_K],
}

/// One evidence item to fold in.
pub(crate) struct Item {
    pub source: Source,
    pub rule_hash: u32,
    /// Evidence at the alert's time (log-odds units, >= 0).
    pub evidence: f64,
    /// Severity points.
    pub sev: f64,
    /// Side-table id of the alert evidence.
    pub alert: u32,
}

fn epoch(t: i64, window_ms: i64) -> i64 {
    t.div_euclid(window_ms.max(1))
}

impl EntityState {
    pub fn new(t: i64) -> Self {
        EntityState {
            t_ref: t,
            first_ms: t,
            rest: [0.0; N_SOURCES],
            rest_sev: 0.0,
            alerts: 0,
            crossed_ago: NO_CROSSING,
            tactics_cur: 0,
            tactics_prev: 0,
            criticality: 0,
            n_slots: 0,
            peak: i16::MIN,
            peak_ago: NO_PEAK,
            slots: [Slot::default(); TOP_K],
        }
    }

    /// The peak `(score, event time)`, if one is recorded.
    pub fn peak(&self) -> Option<(f64, i64)> {
        (self.peak_ago != NO_PEAK).then(|| {
            (
                peak_decode(self.peak),
                self.t_ref.saturating_sub(i64::from(self.peak_ago)),
            )
        })
    }

    /// Records `score` at `t_ref` if it is the highest so far (ties keep the earlier time).
    pub fn record_peak(&mut self, score: f64) {
        let q = peak_encode(score);
        if self.peak_ago == NO_PEAK || q > self.peak {
            self.peak = q;
            self.peak_ago = 0;
        }
    }

    pub fn live_slots(&self) -> &[Slot] {
        self.slots.get(..usize::from(self.n_slots)).unwrap_or(&[])
    }

    /// Event time of the crossing in force, if any.
    pub fn crossed_ms(&self) -> Option<i64> {
        (self.crossed_ago != NO_CROSSING)
            .then(|| self.t_ref.saturating_sub(i64::from(self.crossed_ago)))
    }

    /// Records a crossing at `t_ref`.
    pub fn set_crossed_now(&mut self) {
        self.crossed_ago = 0;
    }

    /// Moves `t_ref` forward to `t`, decaying every accumulator and rotating the tactic epochs.
    pub fn advance(&mut self, t: i64, hl_ms: f64, window_ms: i64) {
        if t <= self.t_ref {
            return;
        }
        let dt = t.saturating_sub(self.t_ref);
        let d = decay(dt, hl_ms) as f32;
        for v in &mut self.rest {
            *v *= d;
        }
        self.rest_sev *= d;
        for s in &mut self.slots {
            s.r *= d;
            s.sev *= d;
        }
        if self.crossed_ago != NO_CROSSING {
            self.crossed_ago = u32::try_from(i64::from(self.crossed_ago).saturating_add(dt))
                .ok()
                .filter(|x| *x != NO_CROSSING)
                .unwrap_or(NO_CROSSING);
        }
        if self.peak_ago != NO_PEAK {
            self.peak_ago = u32::try_from(i64::from(self.peak_ago).saturating_add(dt))
                .ok()
                .filter(|x| *x != NO_PEAK)
                .unwrap_or(NO_PEAK);
        }
        let (old, new) = (epoch(self.t_ref, window_ms), epoch(t, window_ms));
        if new > old {
            self.tactics_prev = if new == old.saturating_add(1) {
                self.tactics_cur
            } else {
                0
            };
            self.tactics_cur = 0;
        }
        self.t_ref = t;
    }

    /// Records tactics seen at `t` (<= `t_ref`): in the current or previous epoch of `t_ref`,
    /// else (older) not at all.
    pub fn add_tactics(&mut self, t: i64, mask: u16, window_ms: i64) {
        let (cur, ep) = (epoch(self.t_ref, window_ms), epoch(t, window_ms));
        if ep == cur {
            self.tactics_cur |= mask;
        } else if ep == cur.saturating_sub(1) {
            self.tactics_prev |= mask;
        }
    }

    /// Tactic bits in force at time `t` (current and previous window epoch).
    pub fn tactics_at(&self, t: i64, window_ms: i64) -> u16 {
        let (cur, ep) = (epoch(self.t_ref, window_ms), epoch(t, window_ms));
        if ep <= cur {
            self.tactics_cur | self.tactics_prev
        } else if ep == cur.saturating_add(1) {
            self.tactics_cur
        } else {
            0
        }
    }

    /// Folds one evidence item observed at `t` (<= `t_ref`). `m_of(alert id)` gives the
    /// evidence of a side-table alert decayed to `t_ref`; `w_of(slot key)` the rule's
    /// prevalence discount: slots compete on discounted strength, and evidence folded into
    /// `rest` is discounted as it is folded. Pushes side-table ids whose reference was released
    /// to `released`; returns whether the item's id is now referenced.
    pub fn add(
        &mut self,
        item: &Item,
        t: i64,
        hl_ms: f64,
        m_of: &dyn Fn(u32) -> f64,
        w_of: &dyn Fn(u32) -> f64,
        released: &mut Vec<u32>,
    ) -> bool {
        let d = decay(self.t_ref.saturating_sub(t), hl_ms);
        let e = item.evidence * d;
        let sev = (item.sev * d) as f32;
        let key = slot_key(item.source, item.rule_hash);
        let n = usize::from(self.n_slots);
        if let Some(s) = self.slots.iter_mut().take(n).find(|s| s.key == key) {
            s.r += e as f32;
            s.sev += sev;
            if e > m_of(s.alert) {
                released.push(s.alert);
                s.alert = item.alert;
                return true;
            }
            return false;
        }
        let new = Slot {
            key,
            alert: item.alert,
            r: e as f32,
            sev,
        };
        if n < TOP_K {
            if let Some(s) = self.slots.get_mut(n) {
                *s = new;
                self.n_slots += 1;
                return true;
            }
        }
        // Full: the weaker of the new item and the weakest slot is folded into `rest`.
        let strength =
            |s: &Slot, m: f64| (capped(f64::from(s.r), m) * w_of(s.key), f64::from(s.sev));
        let weakest = self
            .slots
            .iter()
            .take(n)
            .map(|s| strength(s, m_of(s.alert)))
            .enumerate()
            .min_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal));
        let Some((w, weakest_strength)) = weakest else {
            return false;
        };
        let Some(slot) = self.slots.get_mut(w) else {
            return false;
        };
        if strength(&new, e) > weakest_strength {
            let old = *slot;
            *slot = new;
            if let Some(r) = self.rest.get_mut(old.source().index()) {
                *r += weakest_strength.0 as f32;
            }
            self.rest_sev += old.sev;
            released.push(old.alert);
            true
        } else {
            if let Some(r) = self.rest.get_mut(item.source.index()) {
                *r += (e * w_of(key)) as f32;
            }
            self.rest_sev += sev;
            false
        }
    }
}

/// The strings of one alert's evidence item, shared by the slots of every entity it counts for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AlertRef {
    pub uid: Box<str>,
    pub rule: Box<str>,
    pub title: Box<str>,
    /// ATT&CK technique ids of the alert, comma-joined.
    pub techniques: Box<str>,
    pub time_ms: i64,
    pub probability: f32,
    /// Evidence at `time_ms` (log-odds units).
    pub evidence: f32,
    pub source: Source,
    pub refs: u32,
}

/// Slab of [`AlertRef`]s with reference counts; freed ids are reused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SideTable {
    pub items: Vec<Option<AlertRef>>,
    pub free: Vec<u32>,
}

impl SideTable {
    pub fn insert(&mut self, a: AlertRef) -> u32 {
        if let Some(id) = self.free.pop() {
            if let Some(s) = self.items.get_mut(id as usize) {
                *s = Some(a);
                return id;
            }
        }
        self.items.push(Some(a));
        u32::try_from(self.items.len() - 1).unwrap_or(u32::MAX)
    }

    pub fn get(&self, id: u32) -> Option<&AlertRef> {
        self.items.get(id as usize).and_then(Option::as_ref)
    }

    pub fn retain(&mut self, id: u32) {
        if let Some(Some(a)) = self.items.get_mut(id as usize) {
            a.refs = a.refs.saturating_add(1);
        }
    }

    pub fn release(&mut self, id: u32) {
        if let Some(slot) = self.items.get_mut(id as usize) {
            let gone = match slot {
                Some(a) => {
                    a.refs = a.refs.saturating_sub(1);
                    a.refs == 0
                }
                None => false,
            };
            if gone {
                *slot = None;
                self.free.push(id);
            }
        }
    }

    /// Drops entries nobody references (created for an alert that no slot kept).
    pub fn release_if_unused(&mut self, id: u32) {
        if let Some(slot) = self.items.get_mut(id as usize) {
            if slot.as_ref().is_some_and(|a| a.refs == 0) {
                *slot = None;
                self.free.push(id);
            }
        }
    }

    pub fn live(&self) -> usize {
        self.items.len() - self.free.len()
    }

    /// Bytes held: the slab, the free list and the strings.
    pub fn bytes(&self) -> usize {
        let strings: usize = self
            .items
            .iter()
            .flatten()
            .map(|a| a.uid.len() + a.rule.len() + a.title.len() + a.techniques.len())
            .sum();
        self.items.capacity() * std::mem::size_of::<Option<AlertRef>>()
            + self.free.capacity() * 4
            + strings
    }
}

/// FNV-1a, 32 bit: rule keys (collisions only merge two rules' repeat caps).
pub(crate) fn fnv32(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// FNV-1a, 64 bit: finding uids.
pub(crate) fn fnv64(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_small_and_cap_saturates() {
        assert_eq!(std::mem::size_of::<Slot>(), 16);
        assert_eq!(std::mem::size_of::<EntityState>(), 168);
        assert!((capped(2.0, 2.0) - 2.0).abs() < 1e-12);
        assert!(capped(1000.0, 2.0) <= 4.0);
        assert!(capped(1000.0, 2.0) > 3.99);
        assert!(capped(4.0, 2.0) > capped(3.0, 2.0));
    }

    #[test]
    fn peak_round_trips_and_never_understates() {
        for s in [0.0, 1e-9, 0.01, 0.5, 0.7, 0.9999, 1.0 - 1e-12, 1.0] {
            let d = peak_decode(peak_encode(s));
            assert!(d >= s - 1e-15, "{s} -> {d}");
            assert!(d - s <= 0.0003, "{s} -> {d}");
        }
        assert!(peak_encode(0.8) > peak_encode(0.7));
        assert_eq!(peak_encode(f64::NAN), i16::MIN);
        let mut st = EntityState::new(1000);
        assert_eq!(st.peak(), None);
        st.record_peak(0.5);
        st.advance(2000, 1000.0, 10_000);
        st.record_peak(0.4);
        let (p, t) = st.peak().unwrap_or_default();
        assert!((p - 0.5).abs() < 1e-3 && t == 1000, "{p} {t}");
    }

    #[test]
    fn decay_halves_per_half_life() {
        assert!((decay(1000, 1000.0) - 0.5).abs() < 1e-12);
        assert_eq!(decay(-5, 1000.0), 1.0);
    }
}

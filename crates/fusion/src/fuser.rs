//! [`Fuser`]: the per-entity fusion engine over event time.
//!
//! Time model (details in `docs/fusion.md`):
//! - **Event time** only: `alert.time_ms`; wall-clock time is never read.
//! - **Watermark** = `max event time seen - allowed_lateness`; an alert older than the watermark
//!   is *late*: counted, returned with `late: true`, and changes nothing (not even alias ties).
//! - **Decay**: each entity's accumulators are kept as of its latest event time `t_ref`;
//!   evidence decays by `2^(-dt / half_life)`. An on-time alert older than `t_ref` is decayed to
//!   `t_ref` before it is added, so arrival order within the lateness bound does not change the
//!   sums.
//! - **Routing window**: an entity crosses when its score (at `t_ref`) reaches `threshold` and it
//!   has no crossing yet, or its last crossing is at least `window_secs` older than `t_ref`. The
//!   crossing's event time (`crossed_ms` = `t_ref`) opens a window `[crossed_ms, crossed_ms +
//!   window)`, in which the entity does not cross again.
//! - **Kill chain**: distinct tactics (bitmask) seen in the current and the previous window
//!   epoch (`floor(t / window_secs)`).
//! - **Eviction**: entities whose `t_ref` is older than `watermark - idle_evict` are evicted by
//!   [`Fuser::evict_idle`], which runs automatically each time the watermark has advanced by
//!   `idle_evict / 16`; an expired entity that receives an alert before the sweep starts afresh.
//!   Beyond `max_entities`, the least recently updated (smallest `t_ref`) are evicted in a batch
//!   down to `max_entities - max_entities / 32`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use shrike_detect::attack::AttackTable;
use shrike_detect::{Alert, Domain, Origin};
use shrike_normalize::entities::EntityKind;

use crate::config::{FusionConfig, StrategyKind};
use crate::entity::{EntityId, Resolver};
use crate::prevalence::{discount, entity_bit, Prevalence};
use crate::state::{
    capped, decay, fnv32, fnv64, slot_key, AlertRef, EntityState, Item, SideTable, Slot, Source,
    MAX_EVIDENCE, N_SOURCES,
};
use crate::strategy::{
    logit, Context, Evidence, EvidenceItem, FusionStrategy, LogOdds, NoisyOr, StackedStrategy,
    SumSeverity,
};
use crate::FusionError;

/// Most evidence items taken from one alert (hits + model score + intel).
const MAX_ITEMS_PER_ALERT: usize = 32;
/// Longest string kept in the side table (uid, rule, title).
const MAX_TEXT: usize = 512;
/// Aliases kept per entity for reports.
const MAX_ALIASES: usize = 8;
/// Snapshot format version (2: peak score in the entity state, prevalence table).
const SNAPSHOT_VERSION: u32 = 2;

/// Probability given to a detector hit by its OCSF `severity_id`: 1 informational .05, 2 low
/// .15, 3 medium .35, 4 high .6, 5 critical .8 (0/unknown as low).
pub fn hit_prior(severity_id: u8) -> f64 {
    match severity_id {
        1 => 0.05,
        3 => 0.35,
        4 => 0.6,
        5.. => 0.8,
        _ => 0.15,
    }
}

/// Asset criticality lookup (1..5) from the inventory.
pub type CriticalityFn = Box<dyn Fn(&EntityId) -> Option<u8> + Send + Sync>;

/// What [`Fuser::observe`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// The alert was older than the watermark: counted, not fused.
    pub late: bool,
    /// Each entity the alert counted toward, with its new fused score.
    pub updates: Vec<(EntityId, f64)>,
    /// Entities that crossed the threshold for the first time in their current window.
    pub crossings: Vec<EntityReport>,
}

/// One contribution to an entity's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// `alert` (the strongest alert of one source+rule, standing for its repeats), `folded`
    /// (evidence of rules beyond the top-K, per source) or `term` (prior, intercept, boosts).
    pub kind: String,
    /// Source (`sigma`, `endpoint`, …) or, for terms, the term (`prior`, `kill_chain`).
    pub source: String,
    /// Rule: Sigma rule id, `product:signature`, `model id: alert title` or intel indicator.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rule: String,
    /// Uid of the strongest alert of the rule.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alert_uid: String,
    /// Title of that detection.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Event time of that alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<i64>,
    /// Probability of that alert's evidence (model score, hit prior, intel confidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Decayed, repeat-capped evidence of the rule times its prevalence `discount` (log-odds
    /// units over the prior); for `sum_severity`, decayed severity points (not discounted).
    pub weight: f64,
    /// Distinct entities the rule fired on in the current and previous routing window
    /// (estimate; `alert` contributions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prevalence: Option<u32>,
    /// The prevalence discount applied to `weight`, in `(0, 1]` (1 for `sum_severity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<f64>,
    /// Share of the fused score, in `unit`.
    pub share: f64,
    /// `log_odds`, `probability` or `points`.
    pub unit: String,
}

/// The state of one entity, explained: one line of `entities.ndjson`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityReport {
    /// The entity.
    pub entity: EntityId,
    /// Other spellings seen (FQDN, `DOMAIN\user`, SID, ARN).
    pub aliases: Vec<String>,
    /// Fused score in `[0, 1]` at the report's time.
    pub score: f64,
    /// Highest fused score the entity reached at any of its alert times (stored as a
    /// 1/800-logit rounded up, so at most ~0.0003 above the true peak).
    #[serde(default)]
    pub peak_score: f64,
    /// Event time of that peak.
    #[serde(default)]
    pub peak_ms: i64,
    /// `info`, `low`, `medium`, `high`, `critical`.
    pub level: String,
    /// Strategy name.
    pub strategy: String,
    /// Routing threshold.
    pub threshold: f64,
    /// `score >= threshold`.
    pub above_threshold: bool,
    /// Event time it first crossed in the current window.
    pub crossed_ms: Option<i64>,
    /// Earliest alert.
    pub first_alert_ms: i64,
    /// Latest alert.
    pub last_alert_ms: i64,
    /// Alerts fused.
    pub alerts: u32,
    /// Contributions, largest share first, terms last.
    pub contributions: Vec<Contribution>,
    /// ATT&CK tactics in the window, in kill-chain order.
    pub tactics: Vec<String>,
    /// ATT&CK techniques of the contributing alerts, sorted.
    pub techniques: Vec<String>,
    /// Distinct tactics in the window.
    pub kill_chain: u8,
    /// Asset criticality 1..5.
    pub criticality: Option<u8>,
    /// Stacked feature vector (`FEATURE_NAMES`) at this moment.
    pub features: Vec<f64>,
}

/// Counters and measured memory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FusionStats {
    /// Live entities.
    pub entities_live: usize,
    /// Evicted for idleness.
    pub evicted_idle: u64,
    /// Evicted by the `max_entities` bound.
    pub evicted_capacity: u64,
    /// Alerts fused (on time, with at least one entity).
    pub alerts_fused: u64,
    /// Late alerts (not fused).
    pub alerts_late: u64,
    /// On-time alerts with no subject entity.
    pub alerts_without_entity: u64,
    /// `size_of` the hot state of one entity.
    pub state_bytes: usize,
    /// Hot bytes per live entity: map buckets (key + state + control byte, at the map's
    /// capacity) plus the key strings' heap, divided by live entities.
    pub hot_bytes_per_entity: f64,
    /// Side bytes per live entity: alert strings (side table) and alias lists.
    pub side_bytes_per_entity: f64,
    /// Live side-table entries.
    pub side_entries: usize,
    /// Resolver alias ties.
    pub resolver_aliases: usize,
    /// (source, rule) keys in the prevalence table.
    #[serde(default)]
    pub prevalence_rules: usize,
    /// Bytes of the prevalence table.
    #[serde(default)]
    pub prevalence_bytes: usize,
}

/// The fusion engine (module doc).
pub struct Fuser {
    cfg: FusionConfig,
    strategy: Box<dyn FusionStrategy>,
    ctx: Context,
    hl_ms: f64,
    window_ms: i64,
    lateness_ms: i64,
    idle_ms: i64,
    entities: HashMap<Key, EntityState>,
    aliases: HashMap<EntityId, Vec<String>>,
    side: SideTable,
    prevalence: Prevalence,
    resolver: Resolver,
    criticality: Option<CriticalityFn>,
    counters: Counters,
    /// Reports of evicted entities, kept when asked ([`Fuser::keep_evicted_reports`]).
    evicted: Option<Vec<EntityReport>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Counters {
    max_seen_ms: Option<i64>,
    last_sweep_wm: Option<i64>,
    evicted_idle: u64,
    evicted_capacity: u64,
    alerts_fused: u64,
    alerts_late: u64,
    alerts_without_entity: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Snapshot {
    format: String,
    version: u32,
    strategy: String,
    counters: Counters,
    entities: Vec<(EntityId, EntityState)>,
    aliases: Vec<(EntityId, Vec<String>)>,
    side: SideTable,
    prevalence: Prevalence,
    resolver: Resolver,
}

/// Map key: one byte for the kind, then the canonical key (16 bytes in the map instead of
/// `EntityId`'s 32).
type Key = Box<str>;

fn key_of(id: &EntityId) -> Key {
    let c = match id.kind {
        EntityKind::User => 'u',
        EntityKind::Host => 'h',
        EntityKind::Ip => 'i',
        EntityKind::Process => 'p',
        EntityKind::CloudPrincipal => 'c',
        EntityKind::Email => 'e',
    };
    let mut s = String::with_capacity(id.key.len() + 1);
    s.push(c);
    s.push_str(&id.key);
    s.into_boxed_str()
}

fn id_of(k: &str) -> EntityId {
    let kind = match k.as_bytes().first() {
        Some(b'u') => EntityKind::User,
        Some(b'h') => EntityKind::Host,
        Some(b'i') => EntityKind::Ip,
        Some(b'p') => EntityKind::Process,
        Some(b'c') => EntityKind::CloudPrincipal,
        _ => EntityKind::Email,
    };
    EntityId {
        kind,
        key: k.get(1..).unwrap_or("").to_owned(),
    }
}

fn text(s: &str) -> Box<str> {
    if s.len() <= MAX_TEXT {
        return s.into();
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("").into()
}

fn source_of(d: Domain) -> Source {
    match d {
        Domain::Endpoint => Source::Endpoint,
        Domain::Network => Source::Network,
        Domain::Cloud => Source::Cloud,
        Domain::Email => Source::Email,
        Domain::Other => Source::Other,
    }
}

/// Probability from outside: NaN is no evidence, infinities and out-of-range clamp to [0, 1].
fn clean_p(p: f64) -> Option<f64> {
    if p.is_nan() {
        None
    } else {
        Some(p.clamp(0.0, 1.0))
    }
}

/// Most evidence a source's folded remainder counts (log-odds units): about one
/// high-severity detection. The remainder has no per-rule repeat cap (it keeps no rules), so
/// without this bound hundreds of repeats of rules beyond the top-K would add up linearly.
pub const REST_CAP: f64 = 5.0;

/// Soft cap of a folded remainder: `REST_CAP * (1 - e^(-x / REST_CAP))`: `x` when small,
/// never above [`REST_CAP`], monotone (so decay still only lowers it).
fn rest_cap(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return 0.0;
    }
    REST_CAP * (-(-x / REST_CAP).exp_m1())
}

/// Rule of a model item: the model id and the alert's title (which names the process, API or
/// service), so that prevalence separates a fleet-wide false-positive pattern from a rare one.
fn model_rule(model: &str, title: &str) -> String {
    format!("{model}: {title}")
}

struct RawItem {
    source: Source,
    rule: String,
    title: String,
    p: f64,
    sev: f64,
}

impl Fuser {
    /// A fuser for `cfg`.
    ///
    /// # Errors
    /// [`FusionError::Config`] naming the invalid field.
    pub fn new(cfg: FusionConfig) -> Result<Fuser, FusionError> {
        cfg.validate()?;
        let strategy: Box<dyn FusionStrategy> = match cfg.strategy {
            StrategyKind::LogOdds => Box::new(LogOdds),
            StrategyKind::NoisyOr => Box::new(NoisyOr),
            StrategyKind::SumSeverity => Box::new(SumSeverity),
            StrategyKind::Stacked => {
                let model = cfg.stacked.clone().ok_or_else(|| {
                    FusionError::config("stacked", "strategy \"stacked\" needs the model weights")
                })?;
                Box::new(StackedStrategy { model })
            }
        };
        let ctx = Context {
            prior: cfg.prior,
            reliability: cfg.reliability_array(),
            kill_chain_boost: cfg.kill_chain_boost,
            criticality_boost: cfg.criticality_boost,
            sum_threshold: cfg.sum_threshold,
        };
        let ms = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
        Ok(Fuser {
            hl_ms: ms(cfg.half_life_secs) as f64,
            window_ms: ms(cfg.window_secs),
            lateness_ms: ms(cfg.allowed_lateness_secs),
            idle_ms: ms(cfg.idle_evict_secs),
            cfg,
            strategy,
            ctx,
            entities: HashMap::new(),
            aliases: HashMap::new(),
            side: SideTable::default(),
            prevalence: Prevalence::default(),
            resolver: Resolver::default(),
            criticality: None,
            counters: Counters::default(),
            evicted: None,
        })
    }

    /// Keeps the final report of every entity evicted from now on (idle, capacity, or expired
    /// and re-created), for [`Fuser::take_evicted_reports`]: an offline run reports every
    /// entity it saw, not only those still live at the end.
    pub fn keep_evicted_reports(mut self) -> Fuser {
        self.evicted = Some(Vec::new());
        self
    }

    /// The reports kept since the last call (empty unless [`Fuser::keep_evicted_reports`]).
    pub fn take_evicted_reports(&mut self) -> Vec<EntityReport> {
        self.evicted
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn note_evicted(&mut self, id: &EntityId, st: &EntityState) {
        if self.evicted.is_some() {
            let r = self.report_of(id, st, st.t_ref);
            if let Some(v) = self.evicted.as_mut() {
                v.push(r);
            }
        }
    }

    /// Asset criticality 1..5 from the inventory, looked up each time an entity is updated.
    pub fn with_criticality(mut self, f: CriticalityFn) -> Fuser {
        self.criticality = Some(f);
        self
    }

    /// Replaces the entity resolver (e.g. one preloaded with leases and static assignments).
    pub fn with_resolver(mut self, r: Resolver) -> Fuser {
        self.resolver = r;
        self
    }

    /// The resolver, to feed DHCP leases and inventory assignments as they arrive.
    pub fn resolver_mut(&mut self) -> &mut Resolver {
        &mut self.resolver
    }

    /// The configuration.
    pub fn config(&self) -> &FusionConfig {
        &self.cfg
    }

    /// `max event time seen - allowed lateness`, once an alert was seen.
    pub fn watermark_ms(&self) -> Option<i64> {
        self.counters
            .max_seen_ms
            .map(|m| m.saturating_sub(self.lateness_ms))
    }

    /// The latest event time seen (the clock [`Fuser::reports`] evaluates at).
    pub fn clock_ms(&self) -> Option<i64> {
        self.counters.max_seen_ms
    }

    fn expired(&self, st: &EntityState) -> bool {
        match self.watermark_ms() {
            Some(wm) => st.t_ref < wm.saturating_sub(self.idle_ms),
            None => false,
        }
    }

    fn items_of(alert: &Alert, intel: Option<(f64, &str)>) -> Vec<RawItem> {
        let mut out = Vec::new();
        if let Some(s) = &alert.score {
            if let Some(p) = clean_p(s.probability) {
                out.push(RawItem {
                    source: source_of(alert.domain),
                    rule: model_rule(&s.model, &alert.title),
                    title: if alert.hits.is_empty() {
                        alert.title.clone()
                    } else {
                        format!("{} score", s.model)
                    },
                    p,
                    sev: if alert.hits.is_empty() {
                        f64::from(alert.severity_id.clamp(1, 5))
                    } else {
                        0.0
                    },
                });
            }
        }
        for h in &alert.hits {
            let (source, rule) = match &h.origin {
                Origin::Sigma { rule_id, .. } => (Source::Sigma, rule_id.clone()),
                Origin::Vendor { product, rule, .. } => {
                    (Source::Vendor, format!("{product}:{rule}"))
                }
                Origin::Model { model } => (source_of(alert.domain), model_rule(model, &h.title)),
            };
            out.push(RawItem {
                source,
                rule,
                title: h.title.clone(),
                p: hit_prior(h.severity_id),
                sev: f64::from(h.severity_id.clamp(1, 5)),
            });
        }
        if let Some((conf, indicator)) = intel {
            if let Some(p) = clean_p(conf) {
                out.push(RawItem {
                    source: Source::Intel,
                    rule: indicator.to_owned(),
                    title: format!("threat intel match: {indicator}"),
                    p,
                    sev: 0.0,
                });
            }
        }
        out.truncate(MAX_ITEMS_PER_ALERT);
        out
    }

    fn tactic_mask(tactics: &[String]) -> u16 {
        let table = AttackTable::embedded();
        tactics
            .iter()
            .filter_map(|t| table.order_of(t))
            .filter(|o| *o < 16)
            .fold(0u16, |m, o| m | (1u16 << o))
    }

    /// Attributes the alert to its entities and updates them (module doc). `intel`: threat
    /// intel confidence in [0, 1] and the matched indicator, when the local intel store matched.
    pub fn observe(&mut self, alert: &Alert, intel: Option<(f64, &str)>) -> Observed {
        let t = alert.time_ms;
        if self.watermark_ms().is_some_and(|wm| t < wm) {
            self.counters.alerts_late += 1;
            return Observed {
                late: true,
                ..Observed::default()
            };
        }
        self.counters.max_seen_ms = Some(self.counters.max_seen_ms.map_or(t, |m| m.max(t)));
        let subjects = self.resolver.attribute(&alert.entities, t);
        let mut obs = Observed::default();
        if subjects.is_empty() {
            self.counters.alerts_without_entity += 1;
            self.maybe_sweep();
            return obs;
        }
        self.counters.alerts_fused += 1;
        let lp = logit(self.cfg.prior);
        let raw = Self::items_of(alert, intel);
        let techniques: Box<str> = text(&alert.techniques.join(","));
        let items: Vec<Item> = raw
            .iter()
            .map(|r| {
                let e = (logit(r.p) - lp).clamp(0.0, MAX_EVIDENCE);
                let id = self.side.insert(AlertRef {
                    uid: text(&alert.uid),
                    rule: text(&r.rule),
                    title: text(&r.title),
                    techniques: techniques.clone(),
                    time_ms: t,
                    probability: r.p as f32,
                    evidence: e as f32,
                    source: r.source,
                    refs: 0,
                });
                Item {
                    source: r.source,
                    rule_hash: fnv32(&r.rule),
                    evidence: e,
                    sev: r.sev,
                    alert: id,
                }
            })
            .collect();
        let mask = Self::tactic_mask(&alert.tactics);
        // Prevalence first, so the discount of this alert's rules counts its own entities.
        if let Some(now) = self.counters.max_seen_ms {
            self.prevalence.advance(now, self.window_ms);
        }
        for (id, _) in &subjects {
            let bit = entity_bit(fnv64(&key_of(id)));
            for item in &items {
                self.prevalence
                    .insert(slot_key(item.source, item.rule_hash), bit, t);
            }
        }
        let alpha = self.cfg.prevalence_alpha;
        let mut released = Vec::new();
        let mut retained = Vec::new();
        for (id, seen_aliases) in subjects {
            let crit = self
                .criticality
                .as_ref()
                .and_then(|f| f(&id))
                .map_or(0, |c| c.min(5));
            let k = key_of(&id);
            let fresh = match self.entities.get(&k) {
                Some(st) => self.expired(st),
                None => true,
            };
            if fresh {
                if let Some(old) = self.entities.remove(&k) {
                    self.note_evicted(&id, &old);
                    self.release_state(&old);
                    self.aliases.remove(&id);
                    self.counters.evicted_idle += 1;
                }
                self.entities.insert(k.clone(), EntityState::new(t));
            }
            let Some(st) = self.entities.get_mut(&k) else {
                continue;
            };
            st.advance(t, self.hl_ms, self.window_ms);
            st.first_ms = st.first_ms.min(t);
            st.alerts = st.alerts.saturating_add(1);
            st.criticality = crit;
            st.add_tactics(t, mask, self.window_ms);
            let t_ref = st.t_ref;
            let side = &self.side;
            let hl_ms = self.hl_ms;
            let m_of = |a: u32| -> f64 {
                side.get(a).map_or(0.0, |x| {
                    f64::from(x.evidence) * decay(t_ref.saturating_sub(x.time_ms), hl_ms)
                })
            };
            let prevalence = &self.prevalence;
            let w_of = |key: u32| discount(prevalence.count(key), alpha);
            retained.clear();
            for item in &items {
                if st.add(item, t, hl_ms, &m_of, &w_of, &mut released) {
                    retained.push(item.alert);
                }
            }
            for r in &retained {
                self.side.retain(*r);
            }
            if !seen_aliases.is_empty() {
                let list = self.aliases.entry(id.clone()).or_default();
                for a in seen_aliases {
                    if list.len() < MAX_ALIASES && !list.contains(&a) && a != id.key {
                        list.push(a);
                    }
                }
            }
            let Some(st) = self.entities.get(&k) else {
                continue;
            };
            let at = st.t_ref;
            let ev = self.evidence(st, at);
            let fused = self.strategy.fuse(&ev, &self.ctx);
            obs.updates.push((id.clone(), fused.score));
            if let Some(st) = self.entities.get_mut(&k) {
                st.record_peak(fused.score);
            }
            let Some(st) = self.entities.get(&k) else {
                continue;
            };
            let may_cross = st
                .crossed_ms()
                .is_none_or(|c| at >= c.saturating_add(self.window_ms));
            if fused.score >= self.cfg.threshold && may_cross {
                if let Some(st) = self.entities.get_mut(&k) {
                    st.set_crossed_now();
                }
                if let Some(st) = self.entities.get(&k) {
                    obs.crossings.push(self.report_of(&id, st, at));
                }
            }
        }
        // Releases only after every entity took its references: an id kept and then replaced
        // within this alert must stay valid for the alert's other entities.
        for r in &released {
            self.side.release(*r);
        }
        for item in &items {
            self.side.release_if_unused(item.alert);
        }
        if self.entities.len() > self.cfg.max_entities {
            self.evict_capacity();
        }
        self.maybe_sweep();
        obs
    }

    fn maybe_sweep(&mut self) {
        let Some(wm) = self.watermark_ms() else {
            return;
        };
        let step = (self.idle_ms / 16).max(1000);
        match self.counters.last_sweep_wm {
            Some(last) if wm.saturating_sub(last) < step => {}
            _ => {
                self.evict_idle();
            }
        }
    }

    fn release_state(&mut self, st: &EntityState) {
        for s in st.live_slots() {
            self.side.release(s.alert);
        }
    }

    /// Evicts entities idle longer than `idle_evict_secs` before the watermark; returns how many.
    pub fn evict_idle(&mut self) -> usize {
        let Some(wm) = self.watermark_ms() else {
            return 0;
        };
        self.counters.last_sweep_wm = Some(wm);
        self.prevalence.sweep();
        let cutoff = wm.saturating_sub(self.idle_ms);
        let gone: Vec<Key> = self
            .entities
            .iter()
            .filter(|(_, s)| s.t_ref < cutoff)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &gone {
            if let Some(st) = self.entities.remove(k) {
                self.note_evicted(&id_of(k), &st);
                self.release_state(&st);
            }
            self.aliases.remove(&id_of(k));
        }
        self.counters.evicted_idle += gone.len() as u64;
        gone.len()
    }

    fn evict_capacity(&mut self) {
        let max = self.cfg.max_entities;
        let target = max.saturating_sub(max / 32).max(1);
        let excess = self.entities.len().saturating_sub(target);
        if excess == 0 {
            return;
        }
        let mut all: Vec<(i64, &Key)> = self.entities.iter().map(|(k, s)| (s.t_ref, k)).collect();
        all.select_nth_unstable_by(excess - 1, |a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        let gone: Vec<Key> = all
            .get(..excess)
            .unwrap_or(&[])
            .iter()
            .map(|(_, k)| (*k).clone())
            .collect();
        for k in &gone {
            if let Some(st) = self.entities.remove(k) {
                self.note_evicted(&id_of(k), &st);
                self.release_state(&st);
            }
            self.aliases.remove(&id_of(k));
        }
        self.counters.evicted_capacity += gone.len() as u64;
    }

    fn evidence(&self, st: &EntityState, at: i64) -> Evidence {
        let d = decay(at.saturating_sub(st.t_ref), self.hl_ms);
        let mut items = Vec::with_capacity(st.live_slots().len() + 2);
        let mut per_source = [0.0f64; N_SOURCES];
        for (k, s) in st.live_slots().iter().enumerate() {
            let m = self.side.get(s.alert).map_or(0.0, |a| {
                f64::from(a.evidence) * decay(at.saturating_sub(a.time_ms), self.hl_ms)
            });
            let e = capped(f64::from(s.r) * d, m) * self.discount_of(s.key);
            let src = s.source();
            if let Some(p) = per_source.get_mut(src.index()) {
                *p += e;
            }
            items.push(EvidenceItem {
                source: src,
                evidence: e,
                severity: f64::from(s.sev) * d,
                slot: Some(k),
            });
        }
        for (i, r) in st.rest.iter().enumerate() {
            let e = rest_cap(f64::from(*r) * d);
            if e > 0.0 {
                if let Some(p) = per_source.get_mut(i) {
                    *p += e;
                }
                items.push(EvidenceItem {
                    source: Source::ALL.get(i).copied().unwrap_or(Source::Other),
                    evidence: e,
                    severity: 0.0,
                    slot: None,
                });
            }
        }
        let rest_sev = f64::from(st.rest_sev) * d;
        if rest_sev > 0.0 {
            items.push(EvidenceItem {
                source: Source::Other,
                evidence: 0.0,
                severity: rest_sev,
                slot: None,
            });
        }
        let severity_sum = items.iter().map(|i| i.severity).sum();
        Evidence {
            items,
            per_source,
            severity_sum,
            kill_chain: st.tactics_at(at, self.window_ms).count_ones() as u8,
            criticality: (st.criticality > 0).then_some(st.criticality),
            alerts: st.alerts,
        }
    }

    /// The prevalence discount of a slot key (module [`crate::prevalence`]).
    fn discount_of(&self, key: u32) -> f64 {
        discount(self.prevalence.count(key), self.cfg.prevalence_alpha)
    }

    fn report_of(&self, id: &EntityId, st: &EntityState, at: i64) -> EntityReport {
        let ev = self.evidence(st, at);
        let fused = self.strategy.fuse(&ev, &self.ctx);
        let unit = fused.unit.to_owned();
        let mut contributions: Vec<Contribution> = Vec::new();
        let mut techniques: Vec<String> = Vec::new();
        for (item, share) in ev.items.iter().zip(&fused.shares) {
            let weight = if self.cfg.strategy == StrategyKind::SumSeverity {
                item.severity
            } else {
                item.evidence
            };
            let slot: Option<&Slot> = item.slot.and_then(|k| st.live_slots().get(k));
            let a = slot.and_then(|s| self.side.get(s.alert));
            let prevalence = slot.map(|s| self.prevalence.count(s.key));
            let discount = slot.map(|s| {
                if self.cfg.strategy == StrategyKind::SumSeverity {
                    1.0
                } else {
                    self.discount_of(s.key)
                }
            });
            if let Some(a) = a {
                techniques.extend(
                    a.techniques
                        .split(',')
                        .filter(|x| !x.is_empty())
                        .map(str::to_owned),
                );
            }
            contributions.push(Contribution {
                kind: if slot.is_some() { "alert" } else { "folded" }.to_owned(),
                source: item.source.as_str().to_owned(),
                rule: a.map(|a| a.rule.to_string()).unwrap_or_default(),
                alert_uid: a.map(|a| a.uid.to_string()).unwrap_or_default(),
                title: a.map_or_else(
                    || format!("{} evidence beyond the top rules", item.source.as_str()),
                    |a| a.title.to_string(),
                ),
                time_ms: a.map(|a| a.time_ms),
                probability: a.map(|a| (f64::from(a.probability) * 1e6).round() / 1e6),
                weight,
                prevalence,
                discount,
                share: *share,
                unit: unit.clone(),
            });
        }
        contributions.sort_by(|a, b| {
            b.share
                .partial_cmp(&a.share)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.alert_uid.cmp(&b.alert_uid))
        });
        for (name, v) in &fused.terms {
            contributions.push(Contribution {
                kind: "term".to_owned(),
                source: name.clone(),
                rule: String::new(),
                alert_uid: String::new(),
                title: String::new(),
                time_ms: None,
                probability: None,
                weight: *v,
                prevalence: None,
                discount: None,
                share: *v,
                unit: unit.clone(),
            });
        }
        techniques.sort();
        techniques.dedup();
        let table = AttackTable::embedded();
        let mask = st.tactics_at(at, self.window_ms);
        let tactics = table
            .kill_chain()
            .iter()
            .filter(|t| t.order < 16 && mask & (1u16 << t.order) != 0)
            .map(|t| t.shortname.clone())
            .collect();
        let crossed = st
            .crossed_ms()
            .filter(|c| at < c.saturating_add(self.window_ms));
        let (peak_score, peak_ms) = st.peak().unwrap_or((fused.score, st.t_ref));
        EntityReport {
            entity: id.clone(),
            aliases: self.aliases.get(id).cloned().unwrap_or_default(),
            score: fused.score,
            peak_score,
            peak_ms,
            level: self.cfg.levels.name(fused.score).to_owned(),
            strategy: self.strategy.name().to_owned(),
            threshold: self.cfg.threshold,
            above_threshold: fused.score >= self.cfg.threshold,
            crossed_ms: crossed,
            first_alert_ms: st.first_ms,
            last_alert_ms: st.t_ref,
            alerts: st.alerts,
            contributions,
            tactics,
            techniques,
            kill_chain: ev.kill_chain,
            criticality: ev.criticality,
            features: ev.features().to_vec(),
        }
    }

    /// The fused score of one live entity at event time `at_ms` (its own latest alert time if
    /// `at_ms` is earlier); `None` if it is not live or has expired.
    pub fn score_at(&self, id: &EntityId, at_ms: i64) -> Option<f64> {
        let st = self
            .entities
            .get(&key_of(id))
            .filter(|s| !self.expired(s))?;
        let ev = self.evidence(st, at_ms.max(st.t_ref));
        Some(self.strategy.fuse(&ev, &self.ctx).score)
    }

    /// The report of one live entity at the fuser's clock.
    pub fn report(&self, id: &EntityId) -> Option<EntityReport> {
        let st = self
            .entities
            .get(&key_of(id))
            .filter(|s| !self.expired(s))?;
        let at = self.counters.max_seen_ms.unwrap_or(st.t_ref).max(st.t_ref);
        Some(self.report_of(id, st, at))
    }

    /// Every live entity at event time `at_ms` (each at least at its own latest alert),
    /// highest peak score first (ties by score at `at_ms`, then by entity): the entity that was
    /// most at risk during the run leads, even if its evidence has decayed since.
    pub fn reports_at(&self, at_ms: i64) -> Vec<EntityReport> {
        let mut out: Vec<EntityReport> = self
            .entities
            .iter()
            .filter(|(_, s)| !self.expired(s))
            .map(|(k, st)| self.report_of(&id_of(k), st, at_ms.max(st.t_ref)))
            .collect();
        out.sort_by(|a, b| {
            b.peak_score
                .total_cmp(&a.peak_score)
                .then_with(|| b.score.total_cmp(&a.score))
                .then_with(|| a.entity.cmp(&b.entity))
        });
        out
    }

    /// Every live entity at the fuser's clock (the latest event time seen), highest peak score
    /// first ([`Fuser::reports_at`]).
    pub fn reports(&self) -> Vec<EntityReport> {
        self.reports_at(self.counters.max_seen_ms.unwrap_or(i64::MIN))
    }

    /// Counters and measured bytes per entity.
    pub fn stats(&self) -> FusionStats {
        let n = self.entities.len();
        let entry = std::mem::size_of::<(Key, EntityState)>() + 1;
        // hashbrown keeps capacity = buckets * 7/8.
        let buckets = if self.entities.capacity() == 0 {
            0
        } else {
            (self.entities.capacity() * 8)
                .div_ceil(7)
                .next_power_of_two()
        };
        let key_heap: usize = self.entities.keys().map(|k| k.len()).sum();
        let alias_entry = std::mem::size_of::<(EntityId, Vec<String>)>() + 1;
        let alias_buckets = if self.aliases.capacity() == 0 {
            0
        } else {
            (self.aliases.capacity() * 8)
                .div_ceil(7)
                .next_power_of_two()
        };
        let alias_heap: usize = self
            .aliases
            .iter()
            .map(|(k, v)| {
                k.key.capacity()
                    + v.capacity() * std::mem::size_of::<String>()
                    + v.iter().map(String::capacity).sum::<usize>()
            })
            .sum();
        let per = |b: usize| if n == 0 { 0.0 } else { b as f64 / n as f64 };
        FusionStats {
            entities_live: n,
            evicted_idle: self.counters.evicted_idle,
            evicted_capacity: self.counters.evicted_capacity,
            alerts_fused: self.counters.alerts_fused,
            alerts_late: self.counters.alerts_late,
            alerts_without_entity: self.counters.alerts_without_entity,
            state_bytes: std::mem::size_of::<EntityState>(),
            hot_bytes_per_entity: per(buckets * entry + key_heap),
            side_bytes_per_entity: per(self.side.bytes()
                + alias_buckets * alias_entry
                + alias_heap),
            side_entries: self.side.live(),
            resolver_aliases: self.resolver.n_aliases(),
            prevalence_rules: self.prevalence.len(),
            prevalence_bytes: self.prevalence.bytes(),
        }
    }

    /// Serializes the whole state (entities, side table, prevalence table, aliases, resolver,
    /// counters) as
    /// versioned JSON. The criticality function is not part of it (re-attach it).
    pub fn snapshot(&self) -> Vec<u8> {
        let mut entities: Vec<(EntityId, EntityState)> = self
            .entities
            .iter()
            .map(|(k, v)| (id_of(k), v.clone()))
            .collect();
        entities.sort_by(|a, b| a.0.cmp(&b.0));
        let mut aliases: Vec<(EntityId, Vec<String>)> = self
            .aliases
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        aliases.sort_by(|a, b| a.0.cmp(&b.0));
        let snap = Snapshot {
            format: "shrike-fusion-snapshot".to_owned(),
            version: SNAPSHOT_VERSION,
            strategy: self.strategy.name().to_owned(),
            counters: self.counters.clone(),
            entities,
            aliases,
            side: self.side.clone(),
            prevalence: self.prevalence.clone(),
            resolver: self.resolver.clone(),
        };
        serde_json::to_vec(&snap).unwrap_or_default()
    }

    /// Restores a [`Fuser::snapshot`] under `cfg` (which may differ, e.g. a new threshold).
    ///
    /// # Errors
    /// [`FusionError::Config`] for an invalid `cfg`; [`FusionError::Snapshot`] for bytes that are
    /// not a snapshot of this version or are inconsistent.
    pub fn restore(cfg: FusionConfig, bytes: &[u8]) -> Result<Fuser, FusionError> {
        let mut f = Fuser::new(cfg)?;
        let snap: Snapshot =
            serde_json::from_slice(bytes).map_err(|e| FusionError::Snapshot(e.to_string()))?;
        if snap.format != "shrike-fusion-snapshot" || snap.version != SNAPSHOT_VERSION {
            return Err(FusionError::Snapshot(format!(
                "format {:?} version {} (expected shrike-fusion-snapshot version {SNAPSHOT_VERSION})",
                snap.format, snap.version
            )));
        }
        snap.prevalence.check().map_err(FusionError::Snapshot)?;
        let mut side = snap.side;
        if side
            .items
            .iter()
            .flatten()
            .any(|a| !a.evidence.is_finite() || !a.probability.is_finite())
        {
            return Err(FusionError::Snapshot("non-finite alert evidence".into()));
        }
        // Reference counts are rebuilt from the slots, so a tampered count cannot leak or
        // free an entry still in use.
        for a in side.items.iter_mut().flatten() {
            a.refs = 0;
        }
        for (id, st) in &snap.entities {
            if usize::from(st.n_slots) > st.slots.len() {
                return Err(FusionError::Snapshot(format!("{id}: n_slots out of range")));
            }
            let finite = st.rest.iter().all(|v| v.is_finite())
                && st.rest_sev.is_finite()
                && st
                    .live_slots()
                    .iter()
                    .all(|s| s.r.is_finite() && s.sev.is_finite());
            if !finite {
                return Err(FusionError::Snapshot(format!("{id}: non-finite state")));
            }
            for s in st.live_slots() {
                if side.get(s.alert).is_none() {
                    return Err(FusionError::Snapshot(format!(
                        "{id}: slot refers to missing alert {}",
                        s.alert
                    )));
                }
                side.retain(s.alert);
            }
        }
        let mut free = Vec::new();
        for (i, slot) in side.items.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(|a| a.refs == 0) {
                *slot = None;
            }
            if slot.is_none() {
                free.push(u32::try_from(i).unwrap_or(u32::MAX));
            }
        }
        let mut kept = side.free.clone();
        kept.sort_unstable();
        if kept != free {
            // Keep the original reuse order when it is consistent (byte-identical re-snapshots).
            free.reverse();
            side.free = free;
        }
        f.entities = snap
            .entities
            .into_iter()
            .map(|(id, st)| (key_of(&id), st))
            .collect();
        f.aliases = snap.aliases.into_iter().collect();
        f.side = side;
        f.prevalence = snap.prevalence;
        f.resolver = snap.resolver;
        f.counters = snap.counters;
        Ok(f)
    }
}

impl std::fmt::Debug for Fuser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fuser")
            .field("strategy", &self.strategy.name())
            .field("entities", &self.entities.len())
            .field("counters", &self.counters)
            .finish()
    }
}

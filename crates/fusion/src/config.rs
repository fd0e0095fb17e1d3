//! Fusion configuration ([`FusionConfig`]) with defaults and validation. Every field has a
//! default; unknown fields are rejected so a typo is an error, not a silent default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::state::Source;
use crate::strategy::StackedModel;
use crate::FusionError;

/// Which fusion strategy turns an entity's evidence into a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// Weighted log-odds (naive Bayes with per-source reliability), plus boosts.
    #[default]
    LogOdds,
    /// Noisy-OR across sources (each source's evidence as one probability), plus boosts.
    NoisyOr,
    /// Logistic regression over the feature vector, weights learned from dispositions.
    Stacked,
    /// Baseline: additive severity points with decay (Splunk RBA / Elastic risk style).
    SumSeverity,
}

impl StrategyKind {
    /// snake_case name (`log_odds`).
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyKind::LogOdds => "log_odds",
            StrategyKind::NoisyOr => "noisy_or",
            StrategyKind::Stacked => "stacked",
            StrategyKind::SumSeverity => "sum_severity",
        }
    }
}

/// Score cut-offs of the risk levels: below `low` is `info`; `[low, medium)` is `low`, and so on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Levels {
    /// Lowest score of `low`.
    pub low: f64,
    /// Lowest score of `medium`.
    pub medium: f64,
    /// Lowest score of `high`.
    pub high: f64,
    /// Lowest score of `critical`.
    pub critical: f64,
}

impl Default for Levels {
    fn default() -> Self {
        Levels {
            low: 0.1,
            medium: 0.4,
            high: 0.7,
            critical: 0.9,
        }
    }
}

impl Levels {
    /// The level name of a score: `info`, `low`, `medium`, `high`, `critical`.
    pub fn name(&self, score: f64) -> &'static str {
        match self.id(score) {
            4 => "critical",
            3 => "high",
            2 => "medium",
            1 => "low",
            _ => "info",
        }
    }

    /// OCSF `risk_level_id` of a score: 0 info, 1 low, 2 medium, 3 high, 4 critical.
    pub fn id(&self, score: f64) -> u8 {
        if score >= self.critical {
            4
        } else if score >= self.high {
            3
        } else if score >= self.medium {
            2
        } else if score >= self.low {
            1
        } else {
            0
        }
    }
}

/// Fusion configuration; see `docs/fusion.md` for the meaning of each field.
#[derive(Deserialize, Serialize, Clone, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct FusionConfig {
    /// Fusion strategy.
    pub strategy: StrategyKind,
    /// Half-life of evidence in event time (default 4 h).
    pub half_life_secs: u64,
    /// Routing window: an entity produces at most one crossing per window (default 24 h).
    pub window_secs: u64,
    /// Watermark = max event time seen - this; older alerts are late (default 10 min).
    pub allowed_lateness_secs: u64,
    /// Entities without an alert for this long (event time, against the watermark) are evicted
    /// (default 7 days).
    pub idle_evict_secs: u64,
    /// Most live entities; the least recently updated are evicted beyond it (default 1,000,000).
    pub max_entities: usize,
    /// Routing threshold on the fused score (default 0.7).
    pub threshold: f64,
    /// Risk level cut-offs.
    pub levels: Levels,
    /// Reliability weight per source (`endpoint`, `network`, `cloud`, `email`, `other`,
    /// `sigma`, `vendor`, `intel`); missing sources take their default.
    pub reliability: BTreeMap<String, f64>,
    /// Base rate: the probability an entity is compromised before any evidence (default 0.01).
    pub prior: f64,
    /// Log-odds added per distinct ATT&CK tactic beyond the first (default 0.5).
    pub kill_chain_boost: f64,
    /// Log-odds added per asset criticality level above 1 (default 0.25).
    pub criticality_boost: f64,
    /// Severity-point sum at which the `sum_severity` baseline scores 0.5 (default 20).
    pub sum_threshold: f64,
    /// Rule prevalence discount: a (source, rule) that fired on `n` distinct entities in the
    /// current and previous routing window counts `1 / (1 + alpha * max(0, n - 2))` of its
    /// evidence (default 0.25; 0 disables). Not applied by `sum_severity`.
    pub prevalence_alpha: f64,
    /// Weights of the `stacked` strategy (required by it).
    pub stacked: Option<StackedModel>,
}

impl Default for FusionConfig {
    fn default() -> Self {
        FusionConfig {
            strategy: StrategyKind::LogOdds,
            half_life_secs: 4 * 3600,
            window_secs: 24 * 3600,
            allowed_lateness_secs: 600,
            idle_evict_secs: 7 * 24 * 3600,
            max_entities: 1_000_000,
            threshold: 0.7,
            levels: Levels::default(),
            reliability: BTreeMap::new(),
            prior: 0.01,
            kill_chain_boost: 0.5,
            criticality_boost: 0.25,
            sum_threshold: 20.0,
            prevalence_alpha: 0.25,
            stacked: None,
        }
    }
}

/// Longest duration accepted for any `*_secs` field (100 years): keeps ms arithmetic in range.
const MAX_SECS: u64 = 100 * 365 * 24 * 3600;

/// Longest routing window (30 days).
pub const MAX_WINDOW_SECS: u64 = 30 * 24 * 3600;

impl FusionConfig {
    /// Default reliability of a source.
    pub fn default_reliability(source: Source) -> f64 {
        match source {
            Source::Endpoint | Source::Network | Source::Cloud | Source::Email => 0.8,
            Source::Other => 0.5,
            Source::Sigma => 0.6,
            Source::Vendor => 0.7,
            Source::Intel => 0.5,
        }
    }

    /// The reliability weights, one per [`Source`] in order.
    pub fn reliability_array(&self) -> [f64; crate::N_SOURCES] {
        let mut out = [0.0; crate::N_SOURCES];
        for (i, s) in Source::ALL.iter().enumerate() {
            let w = self
                .reliability
                .get(s.as_str())
                .copied()
                .unwrap_or_else(|| Self::default_reliability(*s));
            if let Some(slot) = out.get_mut(i) {
                *slot = w;
            }
        }
        out
    }

    /// Checks every field; the error names the first bad one.
    ///
    /// # Errors
    /// [`FusionError::Config`] naming the field.
    pub fn validate(&self) -> Result<(), FusionError> {
        let secs = [
            ("half_life_secs", self.half_life_secs),
            ("window_secs", self.window_secs),
            ("idle_evict_secs", self.idle_evict_secs),
        ];
        for (name, v) in secs {
            if v == 0 || v > MAX_SECS {
                return Err(FusionError::config(
                    name,
                    format!("must be in 1..={MAX_SECS}"),
                ));
            }
        }
        // A crossing's age is kept in a u32 of milliseconds (49.7 days).
        if self.window_secs > MAX_WINDOW_SECS {
            return Err(FusionError::config(
                "window_secs",
                format!("must be at most {MAX_WINDOW_SECS} (30 days)"),
            ));
        }
        if self.allowed_lateness_secs > MAX_SECS {
            return Err(FusionError::config(
                "allowed_lateness_secs",
                format!("must be at most {MAX_SECS}"),
            ));
        }
        if self.max_entities == 0 {
            return Err(FusionError::config("max_entities", "must be at least 1"));
        }
        let unit = |name: &str, v: f64, lo_open: bool, hi_open: bool| {
            let ok = v.is_finite()
                && if lo_open { v > 0.0 } else { v >= 0.0 }
                && if hi_open { v < 1.0 } else { v <= 1.0 };
            if ok {
                Ok(())
            } else {
                Err(FusionError::config(
                    name,
                    format!("{v} is outside its range"),
                ))
            }
        };
        unit("threshold", self.threshold, true, false)?;
        unit("prior", self.prior, true, true)?;
        let l = &self.levels;
        unit("levels.low", l.low, false, false)?;
        unit("levels.medium", l.medium, false, false)?;
        unit("levels.high", l.high, false, false)?;
        unit("levels.critical", l.critical, false, false)?;
        if !(l.low <= l.medium && l.medium <= l.high && l.high <= l.critical) {
            return Err(FusionError::config(
                "levels",
                "must be non-decreasing: low <= medium <= high <= critical",
            ));
        }
        for (k, v) in &self.reliability {
            if Source::parse(k).is_none() {
                return Err(FusionError::config(
                    format!("reliability.{k}"),
                    "unknown source (endpoint, network, cloud, email, other, sigma, vendor, intel)",
                ));
            }
            if !v.is_finite() || *v < 0.0 || *v > 10.0 {
                return Err(FusionError::config(
                    format!("reliability.{k}"),
                    "must be in [0, 10]",
                ));
            }
        }
        for (name, v) in [
            ("kill_chain_boost", self.kill_chain_boost),
            ("criticality_boost", self.criticality_boost),
        ] {
            if !v.is_finite() || !(0.0..=10.0).contains(&v) {
                return Err(FusionError::config(name, "must be in [0, 10]"));
            }
        }
        if !self.prevalence_alpha.is_finite() || !(0.0..=100.0).contains(&self.prevalence_alpha) {
            return Err(FusionError::config(
                "prevalence_alpha",
                "must be in [0, 100]",
            ));
        }
        if !self.sum_threshold.is_finite() || self.sum_threshold <= 0.0 {
            return Err(FusionError::config("sum_threshold", "must be > 0"));
        }
        match (&self.strategy, &self.stacked) {
            (StrategyKind::Stacked, None) => {
                return Err(FusionError::config(
                    "stacked",
                    "strategy \"stacked\" needs the model weights (train them with `shrike train fusion`)",
                ))
            }
            (_, Some(m)) => m
                .check()
                .map_err(|e| FusionError::config("stacked", e.to_string()))?,
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_errors_name_the_field() {
        assert!(FusionConfig::default().validate().is_ok());
        let bad = FusionConfig {
            half_life_secs: 0,
            ..FusionConfig::default()
        };
        let e = bad.validate().map(|_| ()).unwrap_err_or_default();
        assert!(e.contains("half_life_secs"), "{e}");
        let mut bad = FusionConfig::default();
        bad.reliability.insert("sigmaa".into(), 1.0);
        let e = bad.validate().map(|_| ()).unwrap_err_or_default();
        assert!(e.contains("reliability.sigmaa"), "{e}");
        let bad = FusionConfig {
            strategy: StrategyKind::Stacked,
            ..FusionConfig::default()
        };
        let e = bad.validate().map(|_| ()).unwrap_err_or_default();
        assert!(e.contains("stacked"), "{e}");
        let bad = FusionConfig {
            prior: f64::NAN,
            ..FusionConfig::default()
        };
        let e = bad.validate().map(|_| ()).unwrap_err_or_default();
        assert!(e.contains("prior"), "{e}");
        let bad = FusionConfig {
            prevalence_alpha: -0.1,
            ..FusionConfig::default()
        };
        let e = bad.validate().map(|_| ()).unwrap_err_or_default();
        assert!(e.contains("prevalence_alpha"), "{e}");
        let parsed: Result<FusionConfig, _> = serde_json::from_str(r#"{"treshold": 0.5}"#);
        assert!(parsed.is_err());
        let parsed: FusionConfig =
            serde_json::from_str(r#"{"strategy": "noisy_or", "threshold": 0.5}"#)
                .unwrap_or_default();
        assert_eq!(parsed.strategy, StrategyKind::NoisyOr);
        assert_eq!(parsed.threshold, 0.5);
    }

    trait ErrText {
        fn unwrap_err_or_default(self) -> String;
    }
    impl ErrText for Result<(), FusionError> {
        fn unwrap_err_or_default(self) -> String {
            self.err().map(|e| e.to_string()).unwrap_or_default()
        }
    }
}

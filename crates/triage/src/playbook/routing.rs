//! Routing: which analyst queue, priority and SLA a ticket gets.
//!
//! ```yaml
//! unmatched_queue: unmatched      # reserved: where an alert no rule matches goes
//! review_queue: human-review      # reserved: the abstain band and unsure models
//! abstain: { low: 0.35, high: 0.65 }
//! sla: { P1: 1h, P2: 4h, P3: 24h, P4: 72h }
//! rules:
//!   - name: c2-critical
//!     when: { intel_threat: c2, risk_at_least: 70 }
//!     queue: c2-response
//!     priority: P1
//! ```
//!
//! Order of decision, recorded in [`RouteDecision::rule`]:
//! 1. A playbook `route` step with a fixed `queue` wins (`rule: playbook:<id>`).
//! 2. **Abstain band**: a score from a model (or an upstream model's field) with
//!    `low ≤ score < high` goes to the review queue (`rule: abstain_band`): the model is unsure,
//!    so a human decides. Fallback-rule scores are not in the band's scope: they are not
//!    probabilities.
//! 3. Rules in order, first match wins.
//! 4. Nothing matched: the unmatched queue (`rule: unmatched`), never dropped.
//!
//! A rule without `priority` takes it from the risk: ≥ 80 P1, ≥ 60 P2, ≥ 30 P3, else P4. A
//! rule without `sla` takes the table's SLA for the priority.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cases::Priority;
use crate::playbook::cond::{Conditions, Facts};
use crate::playbook::engine::ScoreSource;
use crate::playbook::{parse_duration_ms, PlaybookError};

/// The routing table.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingTable {
    /// Reserved queue of alerts no rule matched.
    #[serde(default = "unmatched")]
    pub unmatched_queue: String,
    /// Reserved queue of alerts a human must look at (abstain band).
    #[serde(default = "review")]
    pub review_queue: String,
    /// Model scores in `[low, high)` go to the review queue.
    #[serde(default)]
    pub abstain: Option<Band>,
    /// SLA per priority (`1h`); defaults P1 1h, P2 4h, P3 24h, P4 72h.
    #[serde(default)]
    pub sla: BTreeMap<Priority, String>,
    /// Rules, in order.
    #[serde(default)]
    pub rules: Vec<RouteRule>,
}

fn unmatched() -> String {
    "unmatched".into()
}
fn review() -> String {
    "human-review".into()
}

/// A score band.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    /// Inclusive.
    pub low: f64,
    /// Exclusive.
    pub high: f64,
}

/// One routing rule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    /// Name (recorded on the ticket).
    pub name: String,
    /// When it applies.
    #[serde(default)]
    pub when: Conditions,
    /// Queue.
    pub queue: String,
    /// Priority; from the risk when absent.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// SLA (`4h`); the table's for the priority when absent.
    #[serde(default)]
    pub sla: Option<String>,
}

/// A playbook's `route` step: `{}` uses the table; `queue` (with optional priority and SLA)
/// forces a route.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteStep {
    /// Fixed queue.
    #[serde(default)]
    pub queue: Option<String>,
    /// Fixed priority.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Fixed SLA.
    #[serde(default)]
    pub sla: Option<String>,
}

impl RouteStep {
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.queue.is_none() && (self.priority.is_some() || self.sla.is_some()) {
            return Err(
                "route: priority/sla need a queue (or route with the table: `route: {}`)".into(),
            );
        }
        if self.queue.as_deref().is_some_and(|q| q.trim().is_empty()) {
            return Err("route: empty queue".into());
        }
        check_sla(self.sla.as_deref())
    }
}

fn check_sla(s: Option<&str>) -> Result<(), String> {
    match s {
        Some(s) if parse_duration_ms(s).is_none() => {
            Err(format!("SLA {s:?} is not a duration (30m, 4h, 2d)"))
        }
        _ => Ok(()),
    }
}

/// Where a ticket goes, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteDecision {
    /// Queue.
    pub queue: String,
    /// Priority.
    pub priority: Priority,
    /// SLA in ms.
    pub sla_ms: i64,
    /// Which rule: a rule name, `abstain_band`, `unmatched`, or `playbook:<id>`.
    pub rule: String,
    /// Human-readable reason.
    pub reason: String,
}

/// Priority from risk when a rule gives none.
pub fn priority_from_risk(risk: f64) -> Priority {
    if risk >= 80.0 {
        Priority::P1
    } else if risk >= 60.0 {
        Priority::P2
    } else if risk >= 30.0 {
        Priority::P3
    } else {
        Priority::P4
    }
}

impl Default for RoutingTable {
    fn default() -> Self {
        RoutingTable {
            unmatched_queue: unmatched(),
            review_queue: review(),
            abstain: None,
            sla: BTreeMap::new(),
            rules: Vec::new(),
        }
    }
}

impl RoutingTable {
    /// Parses and checks a routing table; `path` names it in errors.
    ///
    /// # Errors
    /// Parse errors, empty or duplicate rule names, bad SLAs, a band outside 0–1.
    pub fn from_yaml(text: &str, path: &Path) -> Result<RoutingTable, PlaybookError> {
        let name = path.display().to_string();
        let t: RoutingTable = serde_yaml_ng::from_str(text).map_err(|e| PlaybookError::Parse {
            path: name.clone(),
            message: e.to_string(),
        })?;
        let bad = |m: String| PlaybookError::Parse {
            path: name.clone(),
            message: m,
        };
        if t.unmatched_queue.trim().is_empty() || t.review_queue.trim().is_empty() {
            return Err(bad("reserved queues need names".into()));
        }
        if let Some(b) = t.abstain {
            if !(0.0..=1.0).contains(&b.low) || !(0.0..=1.0).contains(&b.high) || b.low >= b.high {
                return Err(bad("abstain band needs 0 ≤ low < high ≤ 1".into()));
            }
        }
        for s in t.sla.values() {
            check_sla(Some(s)).map_err(&bad)?;
        }
        let mut seen = std::collections::HashSet::new();
        for r in &t.rules {
            if r.name.trim().is_empty() || !seen.insert(r.name.as_str()) {
                return Err(bad(format!(
                    "rule names must be non-empty and unique ({:?})",
                    r.name
                )));
            }
            if r.queue.trim().is_empty() {
                return Err(bad(format!("rule {}: empty queue", r.name)));
            }
            check_sla(r.sla.as_deref()).map_err(|m| bad(format!("rule {}: {m}", r.name)))?;
        }
        Ok(t)
    }

    /// SLA of a priority.
    pub fn sla_ms(&self, p: Priority) -> i64 {
        self.sla
            .get(&p)
            .and_then(|s| parse_duration_ms(s))
            .unwrap_or(match p {
                Priority::P1 => 3_600_000,
                Priority::P2 => 4 * 3_600_000,
                Priority::P3 => 24 * 3_600_000,
                Priority::P4 => 72 * 3_600_000,
            })
    }

    /// Routes an alert (see the module doc for the order).
    pub fn route(&self, step: &RouteStep, facts: &Facts<'_>) -> RouteDecision {
        let risk = facts.risk.unwrap_or(0.0);
        if let Some(q) = &step.queue {
            let priority = step.priority.unwrap_or_else(|| priority_from_risk(risk));
            return RouteDecision {
                queue: q.clone(),
                priority,
                sla_ms: step
                    .sla
                    .as_deref()
                    .and_then(parse_duration_ms)
                    .unwrap_or_else(|| self.sla_ms(priority)),
                rule: format!("playbook:{}", facts.playbook),
                reason: format!("playbook {} routes to {q}", facts.playbook),
            };
        }
        if let (Some(b), Some((s, src))) = (self.abstain, facts.score) {
            if matches!(src, ScoreSource::Model | ScoreSource::Field) && s >= b.low && s < b.high {
                let priority = priority_from_risk(risk);
                return RouteDecision {
                    queue: self.review_queue.clone(),
                    priority,
                    sla_ms: self.sla_ms(priority),
                    rule: "abstain_band".into(),
                    reason: format!(
                        "model score {s:.3} is in the abstain band [{}, {}): a human decides",
                        b.low, b.high
                    ),
                };
            }
        }
        for r in &self.rules {
            if r.when.holds(facts) {
                let priority = r.priority.unwrap_or_else(|| priority_from_risk(risk));
                return RouteDecision {
                    queue: r.queue.clone(),
                    priority,
                    sla_ms: r
                        .sla
                        .as_deref()
                        .and_then(parse_duration_ms)
                        .unwrap_or_else(|| self.sla_ms(priority)),
                    rule: r.name.clone(),
                    reason: format!("rule {} matched", r.name),
                };
            }
        }
        let priority = priority_from_risk(risk);
        RouteDecision {
            queue: self.unmatched_queue.clone(),
            priority,
            sla_ms: self.sla_ms(priority),
            rule: "unmatched".into(),
            reason: "no routing rule matched".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table() -> RoutingTable {
        RoutingTable::from_yaml(
            "abstain: {low: 0.4, high: 0.6}\nsla: {P1: 30m}\nrules:\n  - {name: hot, when: {risk_at_least: 80}, queue: tier2, priority: P1}\n  - {name: zeek, when: {source: zeek}, queue: network, sla: 8h}\n",
            Path::new("r.yaml"),
        )
        .expect("table")
    }

    fn facts(
        ev: &serde_json::Value,
        risk: f64,
        score: (f64, ScoreSource),
        source: &'static str,
    ) -> Facts<'static> {
        let ev: &'static serde_json::Value = Box::leak(Box::new(ev.clone()));
        Facts {
            playbook: "p",
            source,
            class_uid: 4001,
            event: ev,
            score: Some(score),
            risk: Some(risk),
            hits: &[],
            asset: None,
            rarity: None,
            technique: "",
            entity_kind: "host",
            enrichment_failed: false,
        }
    }

    #[test]
    fn first_match_abstain_and_unmatched() {
        let t = table();
        let ev = json!({});
        let step = RouteStep::default();
        let d = t.route(&step, &facts(&ev, 90.0, (0.95, ScoreSource::Model), "zeek"));
        assert_eq!(
            (d.queue.as_str(), d.priority, d.sla_ms, d.rule.as_str()),
            ("tier2", Priority::P1, 1_800_000, "hot")
        );
        let d = t.route(&step, &facts(&ev, 50.0, (0.95, ScoreSource::Model), "zeek"));
        assert_eq!(
            (d.queue.as_str(), d.priority, d.sla_ms),
            ("network", Priority::P3, 8 * 3_600_000)
        );
        // In the band: review, whatever the rules say.
        let d = t.route(&step, &facts(&ev, 90.0, (0.5, ScoreSource::Model), "zeek"));
        assert_eq!(
            (d.queue.as_str(), d.rule.as_str()),
            ("human-review", "abstain_band")
        );
        // Fallback scores are not in the band's scope.
        let d = t.route(
            &step,
            &facts(&ev, 50.0, (0.5, ScoreSource::Fallback), "zeek"),
        );
        assert_eq!(d.queue, "network");
        let d = t.route(
            &step,
            &facts(&ev, 10.0, (0.1, ScoreSource::Model), "suricata"),
        );
        assert_eq!(
            (d.queue.as_str(), d.priority, d.rule.as_str()),
            ("unmatched", Priority::P4, "unmatched")
        );
        let fixed = RouteStep {
            queue: Some("phish".into()),
            priority: None,
            sla: Some("2h".into()),
        };
        let d = t.route(&fixed, &facts(&ev, 65.0, (0.5, ScoreSource::Model), "zeek"));
        assert_eq!(
            (d.queue.as_str(), d.priority, d.sla_ms, d.rule.as_str()),
            ("phish", Priority::P2, 7_200_000, "playbook:p")
        );
    }

    #[test]
    fn bad_tables_are_refused_with_the_file_named() {
        for (y, want) in [
            ("abstain: {low: 0.7, high: 0.6}", "abstain"),
            (
                "rules: [{name: a, queue: q}, {name: a, queue: r}]",
                "unique",
            ),
            ("rules: [{name: a, queue: q, sla: soon}]", "not a duration"),
            ("sla: {P5: 1h}", "P5"),
            ("rulez: []", "rulez"),
        ] {
            let e = RoutingTable::from_yaml(y, Path::new("routing.yaml"))
                .expect_err(want)
                .to_string();
            assert!(
                e.contains(want) && e.contains("routing.yaml"),
                "{want}: {e}"
            );
        }
    }

    #[test]
    fn priority_follows_risk() {
        assert_eq!(priority_from_risk(80.0), Priority::P1);
        assert_eq!(priority_from_risk(79.9), Priority::P2);
        assert_eq!(priority_from_risk(30.0), Priority::P3);
        assert_eq!(priority_from_risk(0.0), Priority::P4);
    }
}

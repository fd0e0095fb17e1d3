//! Playbooks as data: what happens to an alert between the normalizer and the case store.
//!
//! A playbook (one YAML file in `content/playbooks/`) has a **trigger** (sources, OCSF classes,
//! field conditions, a score threshold), an **entity** preference (which identity the ticket
//! is about), a default ATT&CK **technique**, ordered **steps**, and its own **test cases**
//! (`shrike test playbooks` runs them). The routing table (`content/routing.yaml`, see
//! [`routing`]) is shared by all playbooks.
//!
//! ```yaml
//! id: c2-network
//! description: Connection or IDS alert involving a known command-and-control address
//! trigger:
//!   sources: [suricata, zeek]
//!   class_uids: [2004, 4001]
//!   min_score: 0.5            # checked as soon as a score step has run
//! entity: { prefer: [host, ip] }
//! technique: T1071
//! steps:
//!   - enrich: [intel]         # local IOC store (cheap: before scoring, a rule may use it)
//!   - score:
//!       model: network        # the domain model, when one is loaded
//!       fallback:             # first matching rule wins when the model is missing/unhealthy
//!         - { name: ids-high, when: { fields: { severity_id: [4, 5] } }, score: 0.85 }
//!         - { name: c2-ioc, when: { intel_threat: c2 }, score: 0.8 }
//!       default: 0.1
//!   - enrich: [virustotal, assets, baseline]
//!   - risk: { weights: { model: 0.4, intel: 0.3, asset: 0.15, rarity: 0.15 } }
//!   - route: {}
//!   - auto_close: { below_risk: 25 }
//!   - action: { name: isolate_host, kind: containment, target: subject, when: { risk_at_least: 85 } }
//! tests:
//!   - name: known C2 from a critical host
//!     event_file: samples/suricata-icedid.json
//!     providers: { intel: { hits: [...] }, assets: { asset: { criticality: 5 } } }
//!     expect: { outcome: ticket, queue: c2-response, priority: P1 }
//! ```
//!
//! # Invariants (checked when loading)
//! - Steps: exactly one `score`, one `risk` after it, one `route` after that; `auto_close` and
//!   `action` after `route`; `enrich` anywhere, with known provider names.
//! - `min_score` applies right after the `score` step: below it the alert stops with outcome
//!   `below_threshold` (counted, not ticketed).
//! - A `containment` action always waits for a human: the engine only *proposes* it; the case
//!   store keeps it `pending_approval` until an analyst decides.
//! - Playbooks are tried in `order` (then id); the first whose trigger matches runs, alone.

pub mod cond;
pub mod engine;
pub mod risk;
pub mod routing;
pub mod testing;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use shrike_normalize::entities::EntityKind;

pub use cond::{Conditions, List};
pub use engine::{
    Decision, Engine, ModelAnswer, Models, NoModels, Outcome, ScoreFacts, ScoreSource,
};
pub use routing::RoutingTable;

use crate::enrich::PROVIDERS;

/// Errors loading playbooks or the routing table; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The YAML does not parse or does not fit the schema.
    #[error("{path}: {message}")]
    Parse {
        /// File.
        path: String,
        /// What is wrong (with line and column when the parser gives them).
        message: String,
    },
    /// The playbook parses but breaks an invariant.
    #[error("{path}: playbook {id}: {message}")]
    Invalid {
        /// File.
        path: String,
        /// Playbook id.
        id: String,
        /// What is wrong.
        message: String,
    },
}

/// One playbook.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    /// Unique id (`c2-network`).
    pub id: String,
    /// What it is for.
    pub description: String,
    /// Lower runs first; ties by id.
    #[serde(default)]
    pub order: i32,
    /// When it runs.
    pub trigger: Trigger,
    /// Which entity the ticket is about.
    #[serde(default)]
    pub entity: EntitySpec,
    /// ATT&CK technique used for de-duplication when the event names none.
    #[serde(default)]
    pub technique: Option<String>,
    /// What it does, in order.
    pub steps: Vec<Step>,
    /// Its test cases.
    #[serde(default)]
    pub tests: Vec<testing::TestCase>,
    /// The file it came from.
    #[serde(skip)]
    pub path: PathBuf,
}

/// When a playbook runs.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// `metadata.product.name`, case-insensitive; empty: any.
    #[serde(default)]
    pub sources: Vec<String>,
    /// OCSF `class_uid`; empty: any.
    #[serde(default)]
    pub class_uids: Vec<i64>,
    /// Further conditions on the event (only event-level conditions make sense here).
    #[serde(default)]
    pub when: Conditions,
    /// Score threshold, checked right after the `score` step.
    #[serde(default)]
    pub min_score: Option<f64>,
}

/// Which entity a ticket is keyed on.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EntitySpec {
    /// Entity kinds in preference order. Among IPs, private (internal) addresses win.
    #[serde(default = "default_prefer")]
    pub prefer: Vec<EntityKind>,
}

impl Default for EntitySpec {
    fn default() -> Self {
        EntitySpec {
            prefer: default_prefer(),
        }
    }
}

fn default_prefer() -> Vec<EntityKind> {
    vec![
        EntityKind::User,
        EntityKind::Host,
        EntityKind::CloudPrincipal,
        EntityKind::Ip,
        EntityKind::Email,
    ]
}

/// One step. In YAML a one-key map: `- score: {...}`, `- enrich: [intel]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", try_from = "StepRepr")]
pub enum Step {
    /// Score the alert: a model, a score the event carries, or the fallback rules.
    Score(ScoreStep),
    /// Ask these providers (see [`crate::enrich::PROVIDERS`]).
    Enrich(Vec<String>),
    /// Combine score, intel, asset criticality and rarity into one risk (0–100).
    Risk(risk::RiskStep),
    /// Route with the routing table, or to a fixed queue.
    Route(routing::RouteStep),
    /// Close the new ticket right away when the risk is below a threshold.
    AutoClose(AutoCloseStep),
    /// Propose an action (containment waits for human approval).
    Action(Box<ActionStep>),
}

/// The YAML shape of a [`Step`] (the YAML library reads enums from `!tags` only; this keeps
/// the one-key-map spelling with line numbers in errors).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepRepr {
    #[serde(default)]
    score: Option<ScoreStep>,
    #[serde(default)]
    enrich: Option<Vec<String>>,
    #[serde(default)]
    risk: Option<risk::RiskStep>,
    #[serde(default)]
    route: Option<routing::RouteStep>,
    #[serde(default)]
    auto_close: Option<AutoCloseStep>,
    #[serde(default)]
    action: Option<ActionStep>,
}

impl TryFrom<StepRepr> for Step {
    type Error = String;

    fn try_from(r: StepRepr) -> Result<Step, String> {
        let mut steps: Vec<Step> = Vec::new();
        steps.extend(r.score.map(Step::Score));
        steps.extend(r.enrich.map(Step::Enrich));
        steps.extend(r.risk.map(Step::Risk));
        steps.extend(r.route.map(Step::Route));
        steps.extend(r.auto_close.map(Step::AutoClose));
        steps.extend(r.action.map(|a| Step::Action(Box::new(a))));
        match steps.len() {
            1 => Ok(steps.remove(0)),
            0 => Err("a step needs one of: score, enrich, risk, route, auto_close, action".into()),
            _ => Err(
                "a step has exactly one key (score, enrich, risk, route, auto_close, action)"
                    .into(),
            ),
        }
    }
}

impl Step {
    fn name(&self) -> &'static str {
        match self {
            Step::Score(_) => "score",
            Step::Enrich(_) => "enrich",
            Step::Risk(_) => "risk",
            Step::Route(_) => "route",
            Step::AutoClose(_) => "auto_close",
            Step::Action(_) => "action",
        }
    }
}

/// The `score` step.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreStep {
    /// Model name in the model registry.
    #[serde(default)]
    pub model: Option<String>,
    /// Dotted path of a score the event already carries (an upstream model's), used when the
    /// model is absent; multiplied by `scale` to land in 0–1.
    #[serde(default)]
    pub field: Option<String>,
    /// Multiplier of `field` (`0.01` for a 0–100 score).
    #[serde(default = "one")]
    pub scale: f64,
    /// Rule-based fallback: the first matching rule's score.
    #[serde(default)]
    pub fallback: Vec<FallbackRule>,
    /// Score when nothing else gives one.
    #[serde(default)]
    pub default: f64,
}

fn one() -> f64 {
    1.0
}

/// One fallback rule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackRule {
    /// Name (shown in the decision).
    pub name: String,
    /// When it applies.
    #[serde(default)]
    pub when: Conditions,
    /// The score it gives (0–1).
    pub score: f64,
}

/// The `auto_close` step.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AutoCloseStep {
    /// A newly opened ticket whose risk is below this is closed at once (`auto_closed`).
    pub below_risk: f64,
}

pub use crate::cases::ActionKind;

/// What an action acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionTarget {
    /// The ticket's entity.
    Subject,
    /// The first public IP the intel hits name (the C2 address to block).
    IntelIp,
    /// The first domain the intel hits name.
    IntelDomain,
}

/// The `action` step.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ActionStep {
    /// Action name (`isolate_host`, `block_ip`).
    pub name: String,
    /// Its kind.
    pub kind: ActionKind,
    /// What it acts on.
    pub target: ActionTarget,
    /// When it is proposed.
    #[serde(default)]
    pub when: Conditions,
    /// Free parameters handed to the receiver.
    #[serde(default)]
    pub params: Value,
    /// Must stay true for containment (refused otherwise); present so a playbook says so.
    #[serde(default = "yes")]
    pub requires_approval: bool,
}

fn yes() -> bool {
    true
}

/// Parses `30s`, `15m`, `4h`, `2d` (or a bare number of seconds) into milliseconds.
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, "s"),
    };
    let n: i64 = num.parse().ok()?;
    let mult = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

impl Playbook {
    /// Parses one playbook from YAML text; `path` names it in errors.
    ///
    /// # Errors
    /// [`PlaybookError::Parse`] / [`PlaybookError::Invalid`].
    pub fn from_yaml(text: &str, path: &Path) -> Result<Playbook, PlaybookError> {
        let mut pb: Playbook = serde_yaml_ng::from_str(text).map_err(|e| PlaybookError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        pb.path = path.to_path_buf();
        pb.check()?;
        Ok(pb)
    }

    fn invalid(&self, message: impl Into<String>) -> PlaybookError {
        PlaybookError::Invalid {
            path: self.path.display().to_string(),
            id: self.id.clone(),
            message: message.into(),
        }
    }

    /// Checks the invariants of the module doc.
    fn check(&self) -> Result<(), PlaybookError> {
        if self.id.trim().is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(self.invalid("id must be non-empty [A-Za-z0-9_-]"));
        }
        let pos = |name: &str| -> Vec<usize> {
            self.steps
                .iter()
                .enumerate()
                .filter(|(_, s)| s.name() == name)
                .map(|(i, _)| i)
                .collect()
        };
        let (score, risk, route) = (pos("score"), pos("risk"), pos("route"));
        if score.len() != 1 || risk.len() != 1 || route.len() != 1 {
            return Err(self.invalid("needs exactly one score, one risk and one route step"));
        }
        if !(score[0] < risk[0] && risk[0] < route[0]) {
            return Err(self.invalid("steps must run score, then risk, then route"));
        }
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                Step::AutoClose(a) if i < route[0] => {
                    let _ = a;
                    return Err(self.invalid("auto_close must come after route"));
                }
                Step::AutoClose(a) if !(0.0..=100.0).contains(&a.below_risk) => {
                    return Err(self.invalid("auto_close.below_risk must be within 0–100"));
                }
                Step::Action(_) if i < route[0] => {
                    return Err(self.invalid("action must come after route"));
                }
                Step::Action(a) if a.kind == ActionKind::Containment && !a.requires_approval => {
                    return Err(self.invalid(format!(
                        "action {}: containment always requires human approval",
                        a.name
                    )));
                }
                Step::Enrich(names) => {
                    if names.is_empty() {
                        return Err(self.invalid("enrich needs at least one provider"));
                    }
                    if let Some(n) = names.iter().find(|n| !PROVIDERS.contains(&n.as_str())) {
                        return Err(self.invalid(format!(
                            "unknown provider {n:?} (known: {})",
                            PROVIDERS.join(", ")
                        )));
                    }
                }
                Step::Score(s) => {
                    let bad = |x: f64| !(0.0..=1.0).contains(&x);
                    if bad(s.default) || s.fallback.iter().any(|r| bad(r.score)) {
                        return Err(self.invalid("scores must be within 0–1"));
                    }
                    if !s.scale.is_finite() || s.scale <= 0.0 {
                        return Err(self.invalid("score.scale must be > 0"));
                    }
                }
                Step::Risk(r) => r.check().map_err(|m| self.invalid(m))?,
                Step::Route(r) => r.check().map_err(|m| self.invalid(m))?,
                _ => {}
            }
        }
        if let Some(m) = self.trigger.min_score {
            if !(0.0..=1.0).contains(&m) {
                return Err(self.invalid("trigger.min_score must be within 0–1"));
            }
        }
        if let Some(t) = &self.technique {
            if !is_technique_id(t) {
                return Err(self.invalid(format!(
                    "technique {t:?} is not an ATT&CK id (T1071, T1071.001)"
                )));
            }
        }
        for (i, t) in self.tests.iter().enumerate() {
            if t.name.trim().is_empty() {
                return Err(self.invalid(format!("test {} has no name", i + 1)));
            }
        }
        Ok(())
    }
}

/// `T1234` or `T1234.001`.
pub fn is_technique_id(s: &str) -> bool {
    let b = s.as_bytes();
    let main = b.len() >= 5 && b[0] == b'T' && b[1..5].iter().all(u8::is_ascii_digit);
    main && (b.len() == 5
        || (b.len() == 9 && b[5] == b'.' && b[6..].iter().all(u8::is_ascii_digit)))
}

/// Reads every `*.yaml` / `*.yml` under `dir` (recursively, sorted), one playbook per file.
///
/// # Errors
/// The first unreadable, unparsable or invalid file; duplicate ids.
pub fn load_dir(dir: &Path) -> Result<Vec<Playbook>, PlaybookError> {
    let mut files = Vec::new();
    collect_yaml(dir, &mut files)?;
    files.sort();
    let mut out: Vec<Playbook> = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| PlaybookError::Io {
            path: f.display().to_string(),
            source: e,
        })?;
        let pb = Playbook::from_yaml(&text, &f)?;
        if let Some(prev) = out.iter().find(|p| p.id == pb.id) {
            return Err(pb.invalid(format!("duplicate id (also in {})", prev.path.display())));
        }
        out.push(pb);
    }
    Ok(out)
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), PlaybookError> {
    let io = |e| PlaybookError::Io {
        path: dir.display().to_string(),
        source: e,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let p = entry.map_err(io)?.path();
        if p.is_dir() {
            // Sample events of test cases live in sub-directories next to the playbooks.
            if p.file_name().is_some_and(|n| n != "samples") {
                collect_yaml(&p, out)?;
            }
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
    Ok(())
}

/// The bundled playbooks (`content/playbooks`), compiled in: (path, text).
pub const EMBEDDED_PLAYBOOKS: &[(&str, &str)] = &[
    (
        "content/playbooks/entity-risk.yaml",
        include_str!("../../../../content/playbooks/entity-risk.yaml"),
    ),
    (
        "content/playbooks/c2-network.yaml",
        include_str!("../../../../content/playbooks/c2-network.yaml"),
    ),
    (
        "content/playbooks/phishing-finding.yaml",
        include_str!("../../../../content/playbooks/phishing-finding.yaml"),
    ),
    (
        "content/playbooks/cloud-finding.yaml",
        include_str!("../../../../content/playbooks/cloud-finding.yaml"),
    ),
    (
        "content/playbooks/generic-finding.yaml",
        include_str!("../../../../content/playbooks/generic-finding.yaml"),
    ),
];

/// The bundled routing table (`content/routing.yaml`).
pub const EMBEDDED_ROUTING: &str = include_str!("../../../../content/routing.yaml");

/// The bundled playbooks, parsed.
///
/// # Errors
/// Only if the bundled content is broken (a test guards it).
pub fn embedded() -> Result<Vec<Playbook>, PlaybookError> {
    EMBEDDED_PLAYBOOKS
        .iter()
        .map(|(p, t)| Playbook::from_yaml(t, Path::new(p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration_ms("90"), Some(90_000));
        assert_eq!(parse_duration_ms("15m"), Some(900_000));
        assert_eq!(parse_duration_ms("4h"), Some(14_400_000));
        assert_eq!(parse_duration_ms("2d"), Some(172_800_000));
        assert_eq!(parse_duration_ms("2 h"), Some(7_200_000));
        assert_eq!(parse_duration_ms("h"), None);
        assert_eq!(parse_duration_ms("3w"), None);
        assert_eq!(parse_duration_ms("99999999999999999d"), None);
    }

    #[test]
    fn technique_ids() {
        assert!(is_technique_id("T1071"));
        assert!(is_technique_id("T1071.001"));
        assert!(!is_technique_id("T107"));
        assert!(!is_technique_id("t1071"));
        assert!(!is_technique_id("T1071.01"));
    }

    #[test]
    fn bundled_playbooks_load() {
        let pbs = embedded().expect("bundled playbooks are valid");
        assert_eq!(pbs.len(), EMBEDDED_PLAYBOOKS.len());
        let on_disk =
            load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../content/playbooks"))
                .expect("content/playbooks loads");
        assert_eq!(
            on_disk.len(),
            pbs.len(),
            "every file in content/playbooks must be listed in EMBEDDED_PLAYBOOKS"
        );
    }

    fn minimal(steps: &str) -> String {
        format!("id: t\ndescription: d\ntrigger: {{}}\nsteps:\n{steps}")
    }

    #[test]
    fn invariants_are_checked_with_the_file_named() {
        let p = Path::new("x.yaml");
        let ok = "  - score: {}\n  - risk: {}\n  - route: {}\n";
        Playbook::from_yaml(&minimal(ok), p).expect("minimal playbook");
        for (steps, want) in [
            ("  - risk: {}\n  - score: {}\n  - route: {}\n", "score, then risk"),
            ("  - score: {}\n  - route: {}\n", "exactly one"),
            ("  - score: {}\n  - risk: {}\n  - route: {}\n  - enrich: [whois]\n", "unknown provider"),
            ("  - score: {default: 2}\n  - risk: {}\n  - route: {}\n", "0–1"),
            (
                "  - score: {}\n  - risk: {}\n  - route: {}\n  - action: {name: iso, kind: containment, target: subject, requires_approval: false}\n",
                "human approval",
            ),
            ("  - score: {}\n  - risk: {}\n  - auto_close: {below_risk: 5}\n  - route: {}\n", "after route"),
            ("  - score: {}\n  - risk: {}\n  - route: {}\n  - explode: {}\n", "unknown field `explode`"),
            ("  - score: {}\n    risk: {}\n  - route: {}\n", "exactly one key"),
        ] {
            let err = Playbook::from_yaml(&minimal(steps), p).expect_err(want).to_string();
            assert!(err.contains(want) && err.contains("x.yaml"), "{want}: {err}");
        }
    }
}

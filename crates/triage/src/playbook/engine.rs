//! Runs a playbook over one OCSF event: select, score, enrich, combine risk, route, propose
//! auto-close and actions. The result is a [`Decision`]; turning it into a ticket is the
//! caller's (one [`crate::cases::CaseStore::ingest_alert`] call through
//! [`Decision::new_alert`]).

use std::net::IpAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shrike_intel::IntelHit;
use shrike_normalize::entities::{entities, Entity, EntityKind};

use crate::cases::{EnrichmentOutcome, NewAlert, Routing};
use crate::enrich::{AlertView, AssetFacts, EnrichBackend, ProviderResult, RarityFacts};
use crate::playbook::cond::{field_first, Facts};
use crate::playbook::risk::{combine, RiskResult};
use crate::playbook::routing::{RouteDecision, RoutingTable};
use crate::playbook::{
    embedded, is_technique_id, load_dir, ActionKind, ActionTarget, Playbook, PlaybookError,
    ScoreStep, Step, EMBEDDED_ROUTING,
};

/// Where a score came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreSource {
    /// A loaded model scored it.
    Model,
    /// The event carried an upstream model's score.
    Field,
    /// A fallback rule (or the step's default) gave it.
    Fallback,
}

/// A model registry's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelAnswer {
    /// A calibrated probability and its reasons.
    Scored {
        /// 0–1.
        score: f64,
        /// Reasons (feature contributions), as JSON.
        reasons: Vec<Value>,
    },
    /// No such model is loaded.
    Missing,
    /// The model is loaded but must not be trusted now (failed health check, drift alarm).
    Unhealthy(String),
}

/// The models playbooks can name.
pub trait Models: Send + Sync {
    /// Scores `event` with `model`.
    fn score(&self, model: &str, event: &Value) -> ModelAnswer;
}

/// No models: every `score` step uses the event's field or the fallback rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoModels;

impl Models for NoModels {
    fn score(&self, _model: &str, _event: &Value) -> ModelAnswer {
        ModelAnswer::Missing
    }
}

/// The score and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreFacts {
    /// 0–1.
    pub value: f64,
    /// Its source.
    pub source: ScoreSource,
    /// The model asked, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The fallback rule that gave it (`default` for the step default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Why the model was not used (`model network: missing`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The model's reasons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Value>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// No playbook's trigger matched: the event is not an alert for the SOAR stage.
    NoPlaybook,
    /// Scored below the trigger's `min_score`: stopped before enrichment.
    BelowThreshold,
    /// Routed: the caller opens or joins a ticket.
    Ticket,
}

/// An action a playbook proposes (containment waits for approval in the case store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedAction {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: ActionKind,
    /// What it acts on: `{"kind": "host", "key": "win-client-31"}`.
    pub target: Value,
    /// Parameters for the receiver.
    pub params: Value,
}

/// Everything a run decided, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The playbook that ran.
    pub playbook: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// `metadata.product.name` (or `unknown`).
    pub source: String,
    /// OCSF class.
    pub class_uid: i64,
    /// The ticket's entity.
    pub entity: Option<Entity>,
    /// ATT&CK technique (event, intel, or playbook default) or empty.
    pub technique: String,
    /// The score.
    pub score: Option<ScoreFacts>,
    /// Every provider result, in the order asked.
    pub enrichments: Vec<ProviderResult>,
    /// The risk.
    pub risk: Option<RiskResult>,
    /// The route.
    pub route: Option<RouteDecision>,
    /// Set when the new ticket is to be auto-closed: the reason.
    pub auto_close: Option<String>,
    /// Proposed actions.
    pub actions: Vec<PlannedAction>,
    /// What each step did, in words.
    pub trace: Vec<String>,
}

/// Playbooks plus the routing table.
#[derive(Debug, Clone)]
pub struct Engine {
    playbooks: Vec<Playbook>,
    routing: RoutingTable,
}

/// `metadata.product.name`, or `unknown`.
pub fn source_of(event: &Value) -> &str {
    event
        .pointer("/metadata/product/name")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
}

fn is_internal(ip: &str) -> bool {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v)) => v.is_private() || v.is_loopback() || v.is_link_local(),
        Ok(IpAddr::V6(v)) => {
            v.is_loopback()
                || (v.segments()[0] & 0xfe00) == 0xfc00
                || (v.segments()[0] & 0xffc0) == 0xfe80
        }
        Err(_) => false,
    }
}

/// The entity a ticket is about: the first kind in `prefer` the event has; among IPs the
/// internal (private) ones first.
pub fn choose_entity(all: &[Entity], prefer: &[EntityKind]) -> Option<Entity> {
    for kind in prefer {
        let mut of_kind = all.iter().filter(|e| e.kind == *kind);
        let pick = if *kind == EntityKind::Ip {
            all.iter()
                .filter(|e| e.kind == EntityKind::Ip)
                .find(|e| is_internal(&e.key))
                .or_else(|| of_kind.next())
        } else {
            of_kind.next()
        };
        if let Some(e) = pick {
            return Some(e.clone());
        }
    }
    None
}

/// The technique the event names (`finding_info.attacks`, `attacks`; sub-technique first).
fn event_technique(event: &Value) -> Option<String> {
    for path in [
        "finding_info.attacks.sub_technique.uid",
        "finding_info.attacks.technique.uid",
        "attacks.sub_technique.uid",
        "attacks.technique.uid",
    ] {
        if let Some(t) = field_first(event, path).and_then(Value::as_str) {
            if is_technique_id(t) {
                return Some(t.to_owned());
            }
        }
    }
    None
}

fn kind_name(k: EntityKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

/// Mutable state of one run.
struct Run<'a> {
    pb: &'a Playbook,
    event: &'a Value,
    source: String,
    class_uid: i64,
    view: AlertView,
    technique: String,
    hits: Vec<IntelHit>,
    asset: Option<AssetFacts>,
    rarity: Option<RarityFacts>,
    d: Decision,
}

impl Run<'_> {
    fn facts(&self) -> Facts<'_> {
        Facts {
            playbook: &self.pb.id,
            source: &self.source,
            class_uid: self.class_uid,
            event: self.event,
            score: self.d.score.as_ref().map(|s| (s.value, s.source)),
            risk: self.d.risk.as_ref().map(|r| r.risk),
            hits: &self.hits,
            asset: self.asset.as_ref(),
            rarity: self.rarity.as_ref(),
            technique: &self.technique,
            entity_kind: self.d.entity.as_ref().map_or("event", |e| match e.kind {
                EntityKind::User => "user",
                EntityKind::Host => "host",
                EntityKind::Ip => "ip",
                EntityKind::Process => "process",
                EntityKind::CloudPrincipal => "cloud_principal",
                EntityKind::Email => "email",
            }),
            enrichment_failed: self
                .d
                .enrichments
                .iter()
                .any(|r| matches!(r.status, crate::enrich::ProviderStatus::Failed { .. })),
        }
    }

    async fn enrich(&mut self, names: &[String], backend: &dyn EnrichBackend) {
        for name in names {
            if self.d.enrichments.iter().any(|r| &r.provider == name) {
                self.d.trace.push(format!("enrich {name}: already asked"));
                continue;
            }
            let r = backend.enrich(name, &self.view).await;
            self.d.trace.push(format!(
                "enrich {name}: {}",
                match &r.status {
                    crate::enrich::ProviderStatus::Ok => format!("ok ({} hits)", r.hits.len()),
                    crate::enrich::ProviderStatus::Failed { error } => format!("FAILED: {error}"),
                    crate::enrich::ProviderStatus::Skipped { reason } =>
                        format!("skipped: {reason}"),
                }
            ));
            self.hits.extend(r.hits.iter().cloned());
            if let Some(a) = &r.asset {
                // An IP subject the inventory knows becomes its host: alerts about the host by
                // name and by address then share one ticket.
                if let (Some(host), Some(subject)) = (&a.hostname, &self.d.entity) {
                    if subject.kind == EntityKind::Ip {
                        let entity = Entity {
                            kind: EntityKind::Host,
                            key: host.clone(),
                            role: "asset_inventory".into(),
                            aliases: vec![subject.key.clone()],
                        };
                        self.d.trace.push(format!(
                            "entity: ip {} is host {host} in the inventory",
                            subject.key
                        ));
                        self.view.subject = Some(entity.clone());
                        self.d.entity = Some(entity);
                    }
                }
                self.asset = Some(a.clone());
            }
            if let Some(rf) = &r.rarity {
                self.rarity = Some(rf.clone());
            }
            if self.technique.is_empty() {
                if let Some(t) = r
                    .hits
                    .iter()
                    .flat_map(|h| h.attack.iter())
                    .find(|t| is_technique_id(t))
                {
                    self.technique = t.clone();
                }
            }
            self.d.enrichments.push(r);
        }
    }

    fn score(&mut self, s: &ScoreStep, models: &dyn Models) {
        let mut notes = Vec::new();
        if let Some(m) = &s.model {
            match models.score(m, self.event) {
                ModelAnswer::Scored { score, reasons } if score.is_finite() => {
                    self.set_score(ScoreFacts {
                        value: score.clamp(0.0, 1.0),
                        source: ScoreSource::Model,
                        model: Some(m.clone()),
                        rule: None,
                        notes,
                        reasons,
                    });
                    return;
                }
                ModelAnswer::Scored { .. } => notes.push(format!("model {m}: non-finite score")),
                ModelAnswer::Missing => notes.push(format!("model {m}: missing")),
                ModelAnswer::Unhealthy(why) => notes.push(format!("model {m}: unhealthy ({why})")),
            }
        }
        if let Some(path) = &s.field {
            match field_first(self.event, path).and_then(Value::as_f64) {
                Some(v) if (v * s.scale).is_finite() => {
                    self.set_score(ScoreFacts {
                        value: (v * s.scale).clamp(0.0, 1.0),
                        source: ScoreSource::Field,
                        model: s.model.clone(),
                        rule: Some(path.clone()),
                        notes,
                        reasons: Vec::new(),
                    });
                    return;
                }
                _ => notes.push(format!("field {path}: absent or not a number")),
            }
        }
        // Fallback rules see the score as not yet known.
        let facts = self.facts();
        let rule = s.fallback.iter().find(|r| r.when.holds(&facts));
        let (value, rule) = match rule {
            Some(r) => (r.score, r.name.clone()),
            None => (s.default, "default".to_owned()),
        };
        self.set_score(ScoreFacts {
            value,
            source: ScoreSource::Fallback,
            model: s.model.clone(),
            rule: Some(rule),
            notes,
            reasons: Vec::new(),
        });
    }

    fn set_score(&mut self, s: ScoreFacts) {
        self.d.trace.push(format!(
            "score: {:.3} from {}{}{}",
            s.value,
            match s.source {
                ScoreSource::Model => "model",
                ScoreSource::Field => "event field",
                ScoreSource::Fallback => "fallback rule",
            },
            s.rule
                .as_deref()
                .map(|r| format!(" {r}"))
                .unwrap_or_default(),
            if s.notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", s.notes.join("; "))
            }
        ));
        self.d.score = Some(s);
    }

    fn action_target(&self, t: ActionTarget) -> Option<Value> {
        match t {
            ActionTarget::Subject => self
                .d
                .entity
                .as_ref()
                .map(|e| json!({"kind": kind_name(e.kind), "key": e.key})),
            ActionTarget::IntelIp => self
                .hits
                .iter()
                .filter(|h| !shrike_intel::store::is_suppressed(h))
                .find(|h| h.indicator.value.parse::<IpAddr>().is_ok())
                .map(|h| json!({"kind": "ip", "key": h.indicator.value})),
            ActionTarget::IntelDomain => self
                .hits
                .iter()
                .filter(|h| !shrike_intel::store::is_suppressed(h))
                .find(|h| h.indicator.kind == shrike_intel::IndicatorKind::Domain)
                .map(|h| json!({"kind": "domain", "key": h.indicator.value})),
        }
    }
}

impl Engine {
    /// Playbooks (sorted by order, then id) and a routing table.
    pub fn new(mut playbooks: Vec<Playbook>, routing: RoutingTable) -> Engine {
        playbooks.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.id.cmp(&b.id)));
        Engine { playbooks, routing }
    }

    /// The bundled playbooks and routing table.
    ///
    /// # Errors
    /// Only if the bundled content is broken.
    pub fn embedded() -> Result<Engine, PlaybookError> {
        Ok(Engine::new(
            embedded()?,
            RoutingTable::from_yaml(EMBEDDED_ROUTING, Path::new("content/routing.yaml"))?,
        ))
    }

    /// Playbooks from `dir` and the routing table from `routing` (each bundled when `None`).
    ///
    /// # Errors
    /// Unreadable, unparsable or invalid files.
    pub fn load(dir: Option<&Path>, routing: Option<&Path>) -> Result<Engine, PlaybookError> {
        let playbooks = match dir {
            Some(d) => load_dir(d)?,
            None => embedded()?,
        };
        let routing = match routing {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| PlaybookError::Io {
                    path: p.display().to_string(),
                    source: e,
                })?;
                RoutingTable::from_yaml(&text, p)?
            }
            None => RoutingTable::from_yaml(EMBEDDED_ROUTING, Path::new("content/routing.yaml"))?,
        };
        Ok(Engine::new(playbooks, routing))
    }

    /// The playbooks, in the order they are tried.
    pub fn playbooks(&self) -> &[Playbook] {
        &self.playbooks
    }

    /// The routing table.
    pub fn routing(&self) -> &RoutingTable {
        &self.routing
    }

    /// The first playbook whose trigger (sources, classes, `when`) matches.
    pub fn select(&self, event: &Value) -> Option<&Playbook> {
        let source = source_of(event);
        let class_uid = event.get("class_uid").and_then(Value::as_i64).unwrap_or(0);
        self.playbooks.iter().find(|pb| {
            let t = &pb.trigger;
            (t.sources.is_empty() || t.sources.iter().any(|s| s.eq_ignore_ascii_case(source)))
                && (t.class_uids.is_empty() || t.class_uids.contains(&class_uid))
                && (t.when.is_empty()
                    || t.when
                        .holds(&Facts::of_event(&pb.id, source, class_uid, event)))
        })
    }

    /// Selects a playbook and runs it.
    pub async fn run(
        &self,
        event: &Value,
        models: &dyn Models,
        backend: &dyn EnrichBackend,
    ) -> Decision {
        match self.select(event) {
            Some(pb) => self.run_playbook(pb, event, models, backend).await,
            None => Decision::start(event, None, vec!["no playbook's trigger matched".into()]),
        }
    }

    /// Runs `pb` over `event` (its trigger is not re-checked).
    pub async fn run_playbook(
        &self,
        pb: &Playbook,
        event: &Value,
        models: &dyn Models,
        backend: &dyn EnrichBackend,
    ) -> Decision {
        let entity = choose_entity(&entities(event), &pb.entity.prefer);
        let technique = event_technique(event)
            .or_else(|| pb.technique.clone())
            .unwrap_or_default();
        let mut run = Run {
            pb,
            event,
            source: source_of(event).to_owned(),
            class_uid: event.get("class_uid").and_then(Value::as_i64).unwrap_or(0),
            view: AlertView::from_event(event.clone(), entity.clone()),
            technique,
            hits: Vec::new(),
            asset: None,
            rarity: None,
            d: Decision {
                entity,
                ..Decision::start(event, Some(&pb.id), vec![format!("playbook {}", pb.id)])
            },
        };
        for step in &pb.steps {
            match step {
                Step::Enrich(names) => run.enrich(names, backend).await,
                Step::Score(s) => {
                    run.score(s, models);
                    let score = run.d.score.as_ref().map_or(0.0, |s| s.value);
                    if let Some(min) = pb.trigger.min_score {
                        if score < min {
                            run.d.trace.push(format!(
                                "stop: score {score:.3} is below the trigger's min_score {min}"
                            ));
                            run.d.outcome = Outcome::BelowThreshold;
                            break;
                        }
                    }
                }
                Step::Risk(r) => {
                    let score = run.d.score.as_ref().map_or(0.0, |s| s.value);
                    let res = combine(r, score, &run.d.enrichments, &run.facts());
                    run.d.trace.push(format!("risk: {:.2}", res.risk));
                    run.d.risk = Some(res);
                }
                Step::Route(r) => {
                    let dec = self.routing.route(r, &run.facts());
                    run.d.trace.push(format!(
                        "route: {} {} ({})",
                        dec.queue, dec.priority, dec.reason
                    ));
                    run.d.route = Some(dec);
                }
                Step::AutoClose(a) => {
                    let risk = run.d.risk.as_ref().map_or(0.0, |r| r.risk);
                    if risk < a.below_risk {
                        let why = format!(
                            "risk {risk:.2} is below the auto-close threshold {}",
                            a.below_risk
                        );
                        run.d.trace.push(format!("auto_close: {why}"));
                        run.d.auto_close = Some(why);
                    }
                }
                Step::Action(a) => {
                    if a.when.holds(&run.facts()) {
                        match run.action_target(a.target) {
                            Some(target) => {
                                run.d.trace.push(format!(
                                    "action {} on {target}: proposed, waits for approval",
                                    a.name
                                ));
                                run.d.actions.push(PlannedAction {
                                    name: a.name.clone(),
                                    kind: a.kind,
                                    target,
                                    params: a.params.clone(),
                                });
                            }
                            None => run
                                .d
                                .trace
                                .push(format!("action {}: no target in this alert", a.name)),
                        }
                    }
                }
            }
        }
        let mut d = run.d;
        d.technique = run.technique;
        d
    }
}

impl Decision {
    /// A decision before any step: `NoPlaybook` without a playbook, `Ticket` (until a step
    /// says otherwise) with one.
    fn start(event: &Value, playbook: Option<&str>, trace: Vec<String>) -> Decision {
        Decision {
            playbook: playbook.map(str::to_owned),
            outcome: if playbook.is_some() {
                Outcome::Ticket
            } else {
                Outcome::NoPlaybook
            },
            source: source_of(event).to_owned(),
            class_uid: event.get("class_uid").and_then(Value::as_i64).unwrap_or(0),
            entity: None,
            technique: String::new(),
            score: None,
            enrichments: Vec::new(),
            risk: None,
            route: None,
            auto_close: None,
            actions: Vec::new(),
            trace,
        }
    }

    /// The alert to store for a `Ticket` outcome (`None` otherwise). `uid` is the event's
    /// `metadata.uid`; the ticket entity falls back to the event itself (`event:<uid>`, never
    /// de-duplicated) when the event names no identity.
    pub fn new_alert(&self, event: &Value, uid: &str, received_ms: i64) -> Option<NewAlert> {
        if self.outcome != Outcome::Ticket {
            return None;
        }
        let route = self.route.as_ref()?;
        let risk = self.risk.as_ref()?;
        let score = self.score.as_ref()?;
        let (entity_kind, entity_key) = match &self.entity {
            Some(e) => (kind_name(e.kind), e.key.clone()),
            None => ("event".to_owned(), uid.to_owned()),
        };
        let hit = self
            .enrichments
            .iter()
            .flat_map(|r| r.hits.iter())
            .filter(|h| !shrike_intel::store::is_suppressed(h))
            .max_by_key(|h| (h.family.is_some(), h.confidence));
        let what = event
            .pointer("/finding_info/title")
            .and_then(Value::as_str)
            .or_else(|| event.get("message").and_then(Value::as_str))
            .map(str::to_owned)
            .unwrap_or_else(|| match hit {
                Some(h) => format!("{} contact with {}", h.threat, h.indicator.value),
                None => format!("{} event (OCSF class {})", self.source, self.class_uid),
            });
        let title = format!(
            "{}{} on {entity_kind} {entity_key}",
            hit.and_then(|h| h.family.as_deref())
                .map(|f| format!("[{f}] "))
                .unwrap_or_default(),
            truncate(&what, 160)
        );
        let enrichments: Vec<EnrichmentOutcome> = self
            .enrichments
            .iter()
            .map(|r| EnrichmentOutcome {
                provider: r.provider.clone(),
                outcome: serde_json::to_value(r).unwrap_or(Value::Null),
            })
            .collect();
        Some(NewAlert {
            uid: uid.to_owned(),
            entity_kind,
            entity_key,
            technique: self.technique.clone(),
            source: self.source.clone(),
            class_uid: self.class_uid,
            model_score: score.value,
            payload: event.clone(),
            received_ms,
            enrichments,
            proposed: Routing {
                queue: route.queue.clone(),
                priority: route.priority,
                sla_ms: route.sla_ms,
                combined_risk: risk.risk,
                risk_explanation: json!({
                    "playbook": self.playbook,
                    "risk": risk.explanation,
                    "score": score,
                    "route": route,
                    "auto_close": self.auto_close,
                }),
                title,
            },
        })
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

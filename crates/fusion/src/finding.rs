//! Entity risk as an OCSF 1.8.0 Detection Finding (class 2004).

use serde_json::{json, Map, Value};
use shrike_detect::attack::AttackTable;
use shrike_normalize::entities::EntityKind;

use crate::fuser::EntityReport;
use crate::state::fnv64;

/// Most `attacks[]` and `related_events[]` entries in one finding.
const MAX_LIST: usize = 32;

/// Deterministic finding uid from the entity and its routing window: `shrike-fusion-` + 16 hex
/// digits of FNV-1a over `kind`, `key` and the window start (`crossed_ms`, else the first alert).
pub fn finding_uid(report: &EntityReport) -> String {
    let window = report.crossed_ms.unwrap_or(report.first_alert_ms);
    let h = fnv64(&format!(
        "{}\u{1f}{}\u{1f}{window}",
        report.entity.kind_str(),
        report.entity.key
    ));
    format!("shrike-fusion-{h:016x}")
}

fn severity_id(level: &str) -> (u8, &'static str, u8, &'static str) {
    // (severity_id, severity, risk_level_id, risk_level)
    match level {
        "critical" => (5, "Critical", 4, "Critical"),
        "high" => (4, "High", 3, "High"),
        "medium" => (3, "Medium", 2, "Medium"),
        "low" => (2, "Low", 1, "Low"),
        _ => (1, "Informational", 0, "Info"),
    }
}

fn analytic_type(strategy: &str) -> (u8, &'static str) {
    match strategy {
        "sum_severity" => (1, "Rule"),
        "stacked" => (4, "Learning (ML/DL)"),
        _ => (3, "Statistical"),
    }
}

/// OCSF 1.8.0 Detection Finding for an entity's risk at `time_ms`: `finding_info` (uid from
/// [`finding_uid`], title `Entity risk: host win-client-31`, analytic `shrike-fusion
/// <strategy>`, ATT&CK `attacks[]`, the contributing alerts as `related_events[]`), `risk_score`
/// 0-100, `risk_level(_id)`, `severity_id` from the level, the entity as `resources[]` and as
/// `device` (host, IP) or `actor.user` (user, cloud principal), and the full report under
/// `unmapped.shrike_fusion`.
pub fn detection_finding(report: &EntityReport, time_ms: i64) -> Value {
    let (sev_id, sev, risk_id, risk) = severity_id(&report.level);
    let (a_type_id, a_type) = analytic_type(&report.strategy);
    let table = AttackTable::embedded();
    let kind = report.entity.kind_str();
    let key = report.entity.key.as_str();
    let uid = finding_uid(report);
    let mut attacks = Vec::new();
    for tech in report.techniques.iter().take(MAX_LIST) {
        let (parent, sub) = match tech.split_once('.') {
            Some((p, _)) => (p, Some(tech.as_str())),
            None => (tech.as_str(), None),
        };
        let mut a = Map::new();
        let pname = table.technique(parent).map(|t| t.name.clone());
        let mut t = json!({"uid": parent});
        if let (Some(n), Some(o)) = (pname, t.as_object_mut()) {
            o.insert("name".into(), json!(n));
        }
        a.insert("technique".into(), t);
        if let Some(s) = sub {
            let mut st = json!({"uid": s});
            if let (Some(n), Some(o)) = (
                table.technique(s).map(|t| t.name.clone()),
                st.as_object_mut(),
            ) {
                o.insert("name".into(), json!(n));
            }
            a.insert("sub_technique".into(), st);
        }
        // The technique's first tactic that the entity showed, else its first tactic.
        let tactics = table.tactics_of([tech.as_str()]);
        let tactic = tactics
            .iter()
            .find(|x| report.tactics.contains(x))
            .or_else(|| tactics.first())
            .and_then(|x| table.tactic(x));
        if let Some(tc) = tactic {
            a.insert("tactic".into(), json!({"uid": tc.id, "name": tc.name}));
        }
        a.insert("version".into(), json!("18.1"));
        attacks.push(Value::Object(a));
    }
    // Tactics without a technique (rules tagged with a tactic only).
    for tname in &report.tactics {
        if attacks.len() >= MAX_LIST {
            break;
        }
        let covered = attacks.iter().any(|a| {
            table
                .tactic(tname)
                .is_some_and(|t| a.pointer("/tactic/uid").and_then(Value::as_str) == Some(&t.id))
        });
        if let (false, Some(t)) = (covered, table.tactic(tname)) {
            attacks.push(json!({"tactic": {"uid": t.id, "name": t.name}, "version": "18.1"}));
        }
    }
    let mut related = Vec::new();
    for c in report
        .contributions
        .iter()
        .filter(|c| !c.alert_uid.is_empty())
        .take(MAX_LIST)
    {
        let mut r = json!({"uid": c.alert_uid, "title": c.title, "type": c.source});
        if let (Some(t), Some(o)) = (c.time_ms, r.as_object_mut()) {
            o.insert("first_seen_time".into(), json!(t));
        }
        related.push(r);
    }
    let mut resource = json!({"uid": key, "name": key, "type": kind});
    if let Some(o) = resource.as_object_mut() {
        match report.entity.kind {
            EntityKind::Host => {
                o.insert("hostname".into(), json!(key));
            }
            EntityKind::Ip => {
                o.insert("ip".into(), json!(key));
            }
            _ => {}
        }
        if let Some(c) = report.criticality {
            o.insert("criticality".into(), json!(c.to_string()));
        }
        if !report.aliases.is_empty() {
            o.insert("labels".into(), json!(report.aliases));
        }
    }
    let title = format!("Entity risk: {kind} {key}");
    let mut finding_info = json!({
        "uid": uid,
        "title": title,
        "desc": describe(report),
        "types": ["Entity Risk"],
        "analytic": {
            "name": format!("shrike-fusion {}", report.strategy),
            "uid": format!("shrike-fusion-{}", report.strategy),
            "type_id": a_type_id,
            "type": a_type,
        },
        "first_seen_time": report.first_alert_ms,
        "last_seen_time": report.last_alert_ms,
        "related_events_count": report.alerts,
    });
    if let Some(fi) = finding_info.as_object_mut() {
        if !attacks.is_empty() {
            fi.insert("attacks".into(), Value::Array(attacks));
        }
        if !related.is_empty() {
            fi.insert("related_events".into(), Value::Array(related));
        }
    }
    let risk_score = (report.score * 100.0).round().clamp(0.0, 100.0) as u8;
    let mut event = json!({
        "activity_id": 1,
        "activity_name": "Create",
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "time": time_ms,
        "start_time": report.first_alert_ms,
        "end_time": report.last_alert_ms,
        "severity_id": sev_id,
        "severity": sev,
        "risk_score": risk_score,
        "risk_level_id": risk_id,
        "risk_level": risk,
        "status_id": 1,
        "status": "New",
        "is_alert": report.above_threshold,
        "count": report.alerts,
        "message": format!("{title}: {:.3} ({}) from {} alerts", report.score, report.level, report.alerts),
        "metadata": {
            "version": "1.8.0",
            "uid": uid,
            "log_name": "entity_risk",
            "product": {
                "name": "Shrike",
                "vendor_name": "Shrike",
                "version": env!("CARGO_PKG_VERSION"),
                "feature": {"name": "fusion"},
            },
        },
        "finding_info": finding_info,
        "resources": [resource],
        "unmapped": {"shrike_fusion": serde_json::to_value(report).unwrap_or(Value::Null)},
    });
    if let Some(o) = event.as_object_mut() {
        match report.entity.kind {
            EntityKind::Host => {
                o.insert(
                    "device".into(),
                    json!({"type_id": 0, "hostname": key, "name": key}),
                );
            }
            EntityKind::Ip => {
                o.insert("device".into(), json!({"type_id": 0, "ip": key}));
            }
            EntityKind::User => {
                o.insert("actor".into(), json!({"user": {"name": key}}));
            }
            EntityKind::CloudPrincipal => {
                o.insert("actor".into(), json!({"user": {"name": key, "uid": key}}));
            }
            _ => {}
        }
    }
    event
}

/// One sentence: the top contributions by share.
fn describe(report: &EntityReport) -> String {
    let top: Vec<String> = report
        .contributions
        .iter()
        .filter(|c| c.kind != "term" && c.share > 0.0)
        .take(3)
        .map(|c| format!("{} ({}, +{:.2} {})", c.title, c.source, c.share, c.unit))
        .collect();
    let mut s = format!(
        "Score {:.3} by {} over {} alerts",
        report.score, report.strategy, report.alerts
    );
    if report.kill_chain > 1 {
        s.push_str(&format!("; {} ATT&CK tactics", report.kill_chain));
    }
    if !top.is_empty() {
        s.push_str("; top: ");
        s.push_str(&top.join(", "));
    }
    s
}

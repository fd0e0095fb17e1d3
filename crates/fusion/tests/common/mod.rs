//! Alert builders shared by the fusion tests.

#![allow(dead_code)]

use shrike_detect::{Alert, Domain, Hit, Origin};
use shrike_normalize::entities::Entity;

/// An endpoint alert raised by one Sigma rule (`rule`), with the given techniques and tactic.
pub fn sigma_alert(
    uid: &str,
    t: i64,
    rule: &str,
    sev: u8,
    techniques: &[&str],
    tactic: &str,
    entities: Vec<Entity>,
) -> Alert {
    let techniques: Vec<String> = techniques.iter().map(|s| (*s).to_string()).collect();
    Alert {
        uid: uid.into(),
        time_ms: t,
        domain: Domain::Endpoint,
        hits: vec![Hit {
            origin: Origin::Sigma {
                rule_id: rule.into(),
                title: format!("Rule {rule}"),
                author: "test".into(),
                level: "high".into(),
                path: String::new(),
            },
            title: format!("Rule {rule}"),
            severity_id: sev,
            techniques: techniques.clone(),
            tactics: vec![tactic.into()],
        }],
        score: None,
        title: format!("Rule {rule}"),
        severity_id: sev,
        techniques,
        tactics: vec![tactic.into()],
        event_uid: format!("ev-{uid}"),
        class_uid: 1007,
        entities,
    }
}

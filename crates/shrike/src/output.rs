//! Result shapes for SIEM/SOAR playbooks: Shrike's own JSON, an OCSF 1.8.0 Detection Finding
//! (class 2004), ECS-style JSON, and a Splunk HEC event envelope.
//!
//! Only this module knows these wire formats. Every shape carries the same facts: the calibrated
//! score, the verdict, the reasons, the model (id, version, SHA-256) and the email's identity.

use serde_json::{json, Map, Value};
use shrike_score::{Reason, ScoreResult, Verdict};
use shrike_types::{AuthVerdict, EmailRecord, Mailbox};

/// OCSF schema version the findings follow.
pub const OCSF_VERSION: &str = "1.8.0";

/// Which shape to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Shrike's own compact JSON: id, score, verdict, reasons, model.
    Shrike,
    /// OCSF 1.8.0 Detection Finding (class_uid 2004) with the email as evidence.
    Ocsf,
    /// Elastic Common Schema style document.
    Ecs,
    /// Splunk HTTP Event Collector envelope around Shrike's JSON.
    Hec,
}

/// The model that produced a score, as reported with it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelRef {
    /// Model id.
    pub id: String,
    /// Model version.
    pub version: String,
    /// SHA-256 of the model file.
    pub sha256: String,
    /// `model` for the tree ensemble; `rules` for the rule-based fallback.
    pub engine: &'static str,
}

/// One scored email, ready to render.
pub struct Scored<'a> {
    /// The email.
    pub rec: &'a EmailRecord,
    /// The score.
    pub result: &'a ScoreResult,
    /// The model.
    pub model: &'a ModelRef,
    /// When it was scored, Unix milliseconds (the finding time).
    pub scored_at_ms: i64,
}

/// An ATT&CK technique attached to non-benign verdicts.
struct Attack {
    technique_id: &'static str,
    technique_name: &'static str,
    sub_id: Option<&'static str>,
    sub_name: Option<&'static str>,
}

const TACTIC_ID: &str = "TA0001";
const TACTIC_NAME: &str = "Initial Access";

impl Scored<'_> {
    /// Renders in the chosen shape.
    pub fn render(&self, format: OutputFormat) -> Value {
        match format {
            OutputFormat::Shrike => self.shrike_json(),
            OutputFormat::Ocsf => self.ocsf(),
            OutputFormat::Ecs => self.ecs(),
            OutputFormat::Hec => self.hec(),
        }
    }

    /// ATT&CK: phishing is T1566 (Initial Access); attachments make it .001, links .002.
    fn attacks(&self) -> Vec<Attack> {
        if self.result.verdict == Verdict::Benign {
            return Vec::new();
        }
        let mut out = Vec::new();
        if !self.rec.attachments.is_empty() {
            out.push(Attack {
                technique_id: "T1566",
                technique_name: "Phishing",
                sub_id: Some("T1566.001"),
                sub_name: Some("Spearphishing Attachment"),
            });
        }
        if self.has_links() {
            out.push(Attack {
                technique_id: "T1566",
                technique_name: "Phishing",
                sub_id: Some("T1566.002"),
                sub_name: Some("Spearphishing Link"),
            });
        }
        if out.is_empty() {
            out.push(Attack {
                technique_id: "T1566",
                technique_name: "Phishing",
                sub_id: None,
                sub_name: None,
            });
        }
        out
    }

    fn has_links(&self) -> bool {
        !self.rec.urls.is_empty()
            || [&self.rec.body_text, &self.rec.body_html]
                .into_iter()
                .flatten()
                .any(|b| b.contains("http://") || b.contains("https://"))
    }

    fn reasons_json(&self) -> Value {
        Value::Array(self.result.reasons.iter().map(reason_json).collect())
    }

    fn model_json(&self) -> Value {
        json!({
            "id": self.model.id,
            "version": self.model.version,
            "sha256": self.model.sha256,
            "engine": self.model.engine,
        })
    }

    /// Shrike's own shape.
    pub fn shrike_json(&self) -> Value {
        let mut email = Map::new();
        if let Some(f) = &self.rec.from {
            email.insert("from".into(), Value::String(mailbox_string(f)));
        }
        if let Some(s) = &self.rec.subject {
            email.insert("subject".into(), Value::String(s.clone()));
        }
        if let Some(m) = &self.rec.message_id {
            email.insert("message_id".into(), Value::String(m.clone()));
        }
        if let Some(d) = self.rec.date {
            email.insert("date".into(), json!(d));
        }
        json!({
            "id": self.rec.id,
            "score": round6(self.result.score),
            "verdict": self.result.verdict.as_str(),
            "reasons": self.reasons_json(),
            "model": self.model_json(),
            "email": email,
            "auth": auth_json(self.rec),
        })
    }

    fn severity_id(&self) -> u8 {
        match self.result.verdict {
            Verdict::Phishing => 4,   // High
            Verdict::Suspicious => 3, // Medium
            Verdict::Benign => 1,     // Informational
        }
    }

    /// OCSF 1.8.0 Detection Finding.
    pub fn ocsf(&self) -> Value {
        let rec = self.rec;
        let sev = self.severity_id();
        let attacks: Vec<Value> = self
            .attacks()
            .iter()
            .map(|a| {
                let mut v = json!({
                    "technique": {"uid": a.technique_id, "name": a.technique_name},
                    "tactic": {"uid": TACTIC_ID, "name": TACTIC_NAME},
                    "version": "18.1",
                });
                if let (Some(id), Some(name), Some(obj)) = (a.sub_id, a.sub_name, v.as_object_mut())
                {
                    obj.insert("sub_technique".into(), json!({"uid": id, "name": name}));
                }
                v
            })
            .collect();
        let mut email = Map::new();
        if let Some(f) = &rec.from {
            email.insert("from".into(), json!(f.address));
            if let Some(n) = &f.name {
                email.insert("from_mailbox".into(), json!(format!("{n} <{}>", f.address)));
            }
        }
        if !rec.to.is_empty() {
            email.insert("to".into(), json!(addresses(&rec.to)));
        }
        if !rec.cc.is_empty() {
            email.insert("cc".into(), json!(addresses(&rec.cc)));
        }
        if let Some(r) = rec.reply_to.first() {
            email.insert("reply_to".into(), json!(r.address));
        }
        if let Some(rp) = &rec.return_path {
            email.insert("return_path".into(), json!(rp));
            email.insert("smtp_from".into(), json!(rp));
        }
        if let Some(s) = &rec.subject {
            email.insert("subject".into(), json!(s));
        }
        if let Some(m) = &rec.message_id {
            email.insert("message_uid".into(), json!(m));
        }
        email.insert("uid".into(), json!(rec.id));
        if rec.raw_size > 0 {
            email.insert("size".into(), json!(rec.raw_size));
        }
        let files: Vec<Value> = rec
            .attachments
            .iter()
            .map(|a| {
                let mut f = Map::new();
                f.insert("name".into(), json!(a.name.clone().unwrap_or_default()));
                f.insert("type_id".into(), json!(1));
                f.insert("size".into(), json!(a.size));
                if let Some(ct) = &a.content_type {
                    f.insert("mime_type".into(), json!(ct));
                }
                if let Some(h) = &a.sha256 {
                    f.insert(
                        "hashes".into(),
                        json!([{"algorithm_id": 3, "algorithm": "SHA-256", "value": h}]),
                    );
                }
                Value::Object(f)
            })
            .collect();
        if !files.is_empty() {
            email.insert("files".into(), Value::Array(files));
        }
        let mut observables = Vec::new();
        if let Some(f) = &rec.from {
            observables
                .push(json!({"name": "evidences[0].email.from", "type_id": 5, "value": f.address}));
        }
        if let Some(s) = &rec.subject {
            observables
                .push(json!({"name": "evidences[0].email.subject", "type_id": 99, "value": s}));
        }
        for a in &rec.attachments {
            if let Some(h) = &a.sha256 {
                observables.push(json!({"name": "evidences[0].email.files.hashes.value", "type_id": 8, "value": h}));
            }
        }
        let confidence = (self.result.score * 100.0).round().clamp(0.0, 100.0) as u8;
        let title = match self.result.verdict {
            Verdict::Phishing => "Phishing email",
            Verdict::Suspicious => "Suspicious email",
            Verdict::Benign => "Email scored benign",
        };
        let mut event = json!({
            "activity_id": 1,
            "activity_name": "Create",
            "category_uid": 2,
            "category_name": "Findings",
            "class_uid": 2004,
            "class_name": "Detection Finding",
            "type_uid": 200401,
            "type_name": "Detection Finding: Create",
            "time": self.scored_at_ms,
            "severity_id": sev,
            "severity": severity_name(sev),
            "status_id": 1,
            "status": "New",
            "is_alert": self.result.verdict != Verdict::Benign,
            "confidence_score": confidence,
            "message": format!("{title}: score {:.3}", self.result.score),
            "metadata": {
                "version": OCSF_VERSION,
                "product": {"name": "Shrike", "vendor_name": "Shrike", "version": env!("CARGO_PKG_VERSION")},
                "log_name": "email_triage",
                "original_event_uid": rec.message_id.clone().unwrap_or_else(|| rec.id.clone()),
            },
            "finding_info": {
                "uid": format!("shrike-email-{}", finding_uid(rec, &self.model.sha256)),
                "title": title,
                "desc": reasons_sentence(&self.result.reasons),
                "types": ["Phishing"],
                "analytic": {
                    "name": self.model.id,
                    "uid": self.model.sha256,
                    "version": self.model.version,
                    "type_id": if self.model.engine == "rules" { 1 } else { 4 },
                    "type": if self.model.engine == "rules" { "Rule" } else { "Learning (ML/DL)" },
                },
                "attacks": attacks,
            },
            "evidences": [{"email": Value::Object(email)}],
            "observables": observables,
            "unmapped": {
                "shrike": {"score": round6(self.result.score), "verdict": self.result.verdict.as_str(), "reasons": self.reasons_json()},
            },
        });
        if attacks_empty(&event) {
            if let Some(fi) = event.get_mut("finding_info").and_then(Value::as_object_mut) {
                fi.remove("attacks");
            }
        }
        event
    }

    /// ECS-style document.
    pub fn ecs(&self) -> Value {
        let rec = self.rec;
        let attacks = self.attacks();
        let mut email = Map::new();
        if let Some(f) = &rec.from {
            email.insert("from".into(), json!({"address": [f.address]}));
            if let Some(d) = f.domain() {
                email.insert("sender".into(), json!({"address": f.address, "domain": d}));
            }
        }
        if !rec.to.is_empty() {
            email.insert("to".into(), json!({"address": addresses(&rec.to)}));
        }
        if !rec.cc.is_empty() {
            email.insert("cc".into(), json!({"address": addresses(&rec.cc)}));
        }
        if !rec.reply_to.is_empty() {
            email.insert(
                "reply_to".into(),
                json!({"address": addresses(&rec.reply_to)}),
            );
        }
        if let Some(s) = &rec.subject {
            email.insert("subject".into(), json!(s));
        }
        if let Some(m) = &rec.message_id {
            email.insert("message_id".into(), json!(m));
        }
        if let Some(d) = rec.date {
            email.insert("origination_timestamp".into(), json!(rfc3339_ms(d * 1000)));
        }
        let atts: Vec<Value> = rec
            .attachments
            .iter()
            .map(|a| {
                json!({"file": {
                    "name": a.name,
                    "mime_type": a.content_type,
                    "size": a.size,
                    "hash": {"sha256": a.sha256},
                }})
            })
            .collect();
        if !atts.is_empty() {
            email.insert("attachments".into(), Value::Array(atts));
        }
        let mut doc = json!({
            "@timestamp": rfc3339_ms(self.scored_at_ms),
            "ecs": {"version": "8.11.0"},
            "event": {
                "kind": if self.result.verdict == Verdict::Benign { "event" } else { "alert" },
                "category": ["email", "threat"],
                "type": ["indicator"],
                "module": "shrike",
                "dataset": "shrike.email",
                "risk_score": round6(self.result.score * 100.0),
                "severity": self.severity_id(),
                "outcome": "success",
            },
            "email": Value::Object(email),
            "rule": {"name": self.model.id, "version": self.model.version, "ruleset": "shrike-email"},
            "shrike": {
                "id": rec.id,
                "score": round6(self.result.score),
                "verdict": self.result.verdict.as_str(),
                "reasons": self.reasons_json(),
                "model": self.model_json(),
                "auth": auth_json(rec),
            },
        });
        if !attacks.is_empty() {
            let mut ids: Vec<&str> = attacks.iter().map(|a| a.technique_id).collect();
            ids.dedup();
            let subs: Vec<&str> = attacks.iter().filter_map(|a| a.sub_id).collect();
            let sub_names: Vec<&str> = attacks.iter().filter_map(|a| a.sub_name).collect();
            let mut threat = json!({
                "framework": "MITRE ATT&CK",
                "tactic": {"id": [TACTIC_ID], "name": [TACTIC_NAME]},
                "technique": {"id": ids, "name": ["Phishing"]},
            });
            if !subs.is_empty() {
                if let Some(t) = threat.get_mut("technique").and_then(Value::as_object_mut) {
                    t.insert(
                        "subtechnique".into(),
                        json!({"id": subs, "name": sub_names}),
                    );
                }
            }
            if let Some(o) = doc.as_object_mut() {
                o.insert("threat".into(), threat);
            }
        }
        doc
    }

    /// Splunk HEC envelope.
    pub fn hec(&self) -> Value {
        json!({
            "time": self.scored_at_ms as f64 / 1000.0,
            "host": "shrike",
            "source": "shrike:email",
            "sourcetype": "shrike:email:score",
            "event": self.shrike_json(),
        })
    }
}

fn attacks_empty(event: &Value) -> bool {
    event
        .pointer("/finding_info/attacks")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
}

fn severity_name(id: u8) -> &'static str {
    match id {
        1 => "Informational",
        2 => "Low",
        3 => "Medium",
        4 => "High",
        5 => "Critical",
        _ => "Unknown",
    }
}

/// JSON for one reason; a missing feature value is `null`.
pub fn reason_json(r: &Reason) -> Value {
    let value = if r.value.is_finite() {
        json!(round6(f64::from(r.value)))
    } else {
        Value::Null
    };
    json!({
        "feature": r.feature,
        "value": value,
        "contribution": round6(r.contribution),
        "description": r.description,
    })
}

fn reasons_sentence(reasons: &[Reason]) -> String {
    let parts: Vec<String> = reasons
        .iter()
        .filter(|r| r.contribution > 0.0)
        .take(3)
        .map(|r| r.description.clone())
        .collect();
    if parts.is_empty() {
        "No feature raised the score.".to_string()
    } else {
        format!("Raised by: {}.", parts.join("; "))
    }
}

fn auth_json(rec: &EmailRecord) -> Value {
    let v = |a: Option<AuthVerdict>| a.map(|a| serde_json::to_value(a).unwrap_or(Value::Null));
    json!({"spf": v(rec.auth.spf), "dkim": v(rec.auth.dkim), "dmarc": v(rec.auth.dmarc)})
}

fn mailbox_string(m: &Mailbox) -> String {
    match &m.name {
        Some(n) if !n.is_empty() => format!("{n} <{}>", m.address),
        _ => m.address.clone(),
    }
}

fn addresses(list: &[Mailbox]) -> Vec<String> {
    list.iter().map(|m| m.address.clone()).collect()
}

/// A stable finding id: the same email scored by the same model gets the same id.
fn finding_uid(rec: &EmailRecord, model_sha: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(rec.message_id.as_deref().unwrap_or(&rec.id).as_bytes());
    h.update(b"\0");
    h.update(model_sha.as_bytes());
    shrike_score::features::hex(&h.finalize()[..12])
}

/// Rounds to 6 decimals so outputs stay readable and stable.
pub fn round6(v: f64) -> f64 {
    if v.is_finite() {
        (v * 1e6).round() / 1e6
    } else {
        0.0
    }
}

/// Formats Unix milliseconds as RFC 3339 UTC (`2024-05-01T12:00:00.123Z`).
pub fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shrike_types::Attachment;

    fn sample() -> (EmailRecord, ScoreResult, ModelRef) {
        let rec = EmailRecord {
            id: "m1.eml".into(),
            from: Some(Mailbox {
                name: Some("PayPal".into()),
                address: "service@paypa1.com".into(),
            }),
            to: vec![Mailbox {
                name: None,
                address: "victim@example.org".into(),
            }],
            subject: Some("Verify your account".into()),
            message_id: Some("abc@paypa1.com".into()),
            body_text: Some("Click https://paypa1.com/login now".into()),
            attachments: vec![Attachment {
                name: Some("invoice.pdf.exe".into()),
                size: 10,
                sha256: Some("ab".repeat(32)),
                ..Default::default()
            }],
            ..Default::default()
        };
        let result = ScoreResult {
            score: 0.97,
            raw: 3.4,
            verdict: Verdict::Phishing,
            reasons: vec![Reason {
                feature: "display_name_brand_mismatch".into(),
                value: 1.0,
                contribution: 1.5,
                description: "display name names a brand the sender domain does not belong to"
                    .into(),
            }],
        };
        let model = ModelRef {
            id: "shrike-email-gbdt".into(),
            version: "1".into(),
            sha256: "00".repeat(32),
            engine: "model",
        };
        (rec, result, model)
    }

    #[test]
    fn ocsf_finding_has_required_fields_and_attack_labels() {
        let (rec, result, model) = sample();
        let s = Scored {
            rec: &rec,
            result: &result,
            model: &model,
            scored_at_ms: 1_700_000_000_123,
        };
        let v = s.ocsf();
        assert_eq!(v["class_uid"], 2004);
        assert_eq!(v["type_uid"], 200401);
        assert_eq!(v["severity_id"], 4);
        assert_eq!(v["metadata"]["version"], "1.8.0");
        assert_eq!(v["evidences"][0]["email"]["from"], "service@paypa1.com");
        assert_eq!(v["confidence_score"], 97);
        let attacks = v["finding_info"]["attacks"].as_array().expect("attacks");
        let subs: Vec<&str> = attacks
            .iter()
            .filter_map(|a| a["sub_technique"]["uid"].as_str())
            .collect();
        assert_eq!(subs, vec!["T1566.001", "T1566.002"]);
    }

    #[test]
    fn benign_findings_carry_no_attack_and_are_not_alerts() {
        let (rec, mut result, model) = sample();
        result.verdict = Verdict::Benign;
        result.score = 0.01;
        let s = Scored {
            rec: &rec,
            result: &result,
            model: &model,
            scored_at_ms: 0,
        };
        let v = s.ocsf();
        assert_eq!(v["is_alert"], false);
        assert!(v["finding_info"].get("attacks").is_none());
        assert!(s.ecs().get("threat").is_none());
    }

    #[test]
    fn hec_wraps_shrike_json() {
        let (rec, result, model) = sample();
        let s = Scored {
            rec: &rec,
            result: &result,
            model: &model,
            scored_at_ms: 1_500,
        };
        let v = s.hec();
        assert_eq!(v["time"], 1.5);
        assert_eq!(v["sourcetype"], "shrike:email:score");
        assert_eq!(v["event"]["verdict"], "phishing");
        assert_eq!(
            v["event"]["reasons"][0]["feature"],
            "display_name_brand_mismatch"
        );
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}

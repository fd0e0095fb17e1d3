//! Case store: de-duplication, analyst flows with audit, concurrency, transitions, listing,
//! feedback, restart safety and invariants over random ingest sequences.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{HashMap, HashSet};
use std::path::Path;

use proptest::prelude::*;
use serde_json::json;
use shrike_triage::cases::{
    CaseError, CaseStore, Disposition, EnrichmentOutcome, Filter, NewAlert, Priority, Routing,
    Status, TicketId,
};

type R = Result<(), Box<dyn std::error::Error>>;

const W: i64 = 60_000;

fn alert(uid: &str, key: &str, technique: &str, at: i64) -> NewAlert {
    NewAlert {
        uid: uid.into(),
        entity_kind: "ip".into(),
        entity_key: key.into(),
        technique: technique.into(),
        source: "zeek".into(),
        class_uid: 4001,
        model_score: 0.9,
        payload: json!({ "metadata": { "uid": uid } }),
        received_ms: at,
        enrichments: vec![],
        proposed: Routing {
            queue: "network".into(),
            priority: Priority::P3,
            sla_ms: 3_600_000,
            combined_risk: 50.0,
            risk_explanation: json!({ "model_score": 0.9 }),
            title: format!("C2 traffic from {key}"),
        },
    }
}

fn store(dir: &Path) -> CaseStore {
    CaseStore::open(&dir.join("cases.db")).unwrap()
}

fn audit_count(s: &CaseStore, t: TicketId, action: &str) -> usize {
    s.get(t)
        .unwrap()
        .audit
        .iter()
        .filter(|a| a.action == action)
        .count()
}

#[test]
fn create_join_window_and_after_resolution() -> R {
    let dir = tempfile::tempdir()?;
    let mut s = store(dir.path());
    let a = s.ingest_alert(&alert("a1", "10.0.0.5", "T1071", 1_000), W)?;
    assert!(a.created && !a.duplicate_alert);
    // Same entity+technique within the window joins.
    let b = s.ingest_alert(&alert("a2", "10.0.0.5", "T1071", 1_000 + W), W)?;
    assert_eq!(b.ticket_id, a.ticket_id);
    assert!(!b.created);
    // Window slides with the last alert.
    let c = s.ingest_alert(&alert("a3", "10.0.0.5", "T1071", 1_000 + 2 * W), W)?;
    assert_eq!(c.ticket_id, a.ticket_id);
    // Other technique, other entity: new tickets.
    let d = s.ingest_alert(&alert("a4", "10.0.0.5", "T1059", 1_000), W)?;
    let e = s.ingest_alert(&alert("a5", "10.0.0.6", "T1071", 1_000), W)?;
    assert!(d.created && e.created);
    assert_ne!(d.ticket_id, a.ticket_id);
    // Beyond the window: new ticket.
    let f = s.ingest_alert(&alert("a6", "10.0.0.5", "T1071", 1_000 + 3 * W + 1), W)?;
    assert!(f.created);
    // A later alert joins the newest matching ticket.
    let g = s.ingest_alert(&alert("a7", "10.0.0.5", "T1071", 1_000 + 3 * W + 2), W)?;
    assert_eq!(g.ticket_id, f.ticket_id);
    let t = s.get(a.ticket_id)?;
    assert_eq!(t.alerts.len(), 3);
    assert_eq!(t.summary.first_alert_ms, 1_000);
    assert_eq!(t.summary.last_alert_ms, 1_000 + 2 * W);
    assert_eq!(audit_count(&s, a.ticket_id, "created"), 1);
    assert_eq!(audit_count(&s, a.ticket_id, "alert_joined"), 2);
    // After resolution a matching alert opens a new ticket.
    s.disposition(f.ticket_id, Disposition::TruePositive, "c2", "alice")?;
    let h = s.ingest_alert(&alert("a8", "10.0.0.5", "T1071", 1_000 + 3 * W + 3), W)?;
    assert!(h.created);
    assert_ne!(h.ticket_id, f.ticket_id);
    Ok(())
}

#[test]
fn duplicate_uid_is_a_noop_and_join_escalates() -> R {
    let dir = tempfile::tempdir()?;
    let mut s = store(dir.path());
    let mut first = alert("u1", "host1", "", 0);
    first.enrichments = vec![EnrichmentOutcome {
        provider: "intel".into(),
        outcome: json!({ "error": "timeout" }),
    }];
    let a = s.ingest_alert(&first, W)?;
    let before = s.get(a.ticket_id)?;
    let again = s.ingest_alert(&first, W)?;
    assert_eq!(again.ticket_id, a.ticket_id);
    assert!(again.duplicate_alert && !again.created);
    assert_eq!(s.get(a.ticket_id)?, before);
    assert_eq!(before.enrichments.len(), 1);
    assert_eq!(before.enrichments[0].outcome["error"], "timeout");

    let mut hot = alert("u2", "host1", "", 10);
    hot.proposed.priority = Priority::P1;
    hot.proposed.sla_ms = 60_000;
    hot.proposed.combined_risk = 95.0;
    hot.proposed.risk_explanation = json!({ "intel_hit": 40 });
    assert!(!a.escalated && !again.escalated);
    let joined = s.ingest_alert(&hot, W)?;
    assert!(joined.escalated && !joined.created);
    let t = s.get(a.ticket_id)?;
    assert_eq!(t.summary.priority, Priority::P1);
    assert_eq!(t.summary.sla_due_ms, 60_010);
    assert_eq!(t.summary.combined_risk, 95.0);
    assert_eq!(t.summary.risk_explanation, json!({ "intel_hit": 40 }));
    assert_eq!(t.summary.version, before.summary.version + 1);
    let esc = t.audit.iter().find(|e| e.action == "escalated").unwrap();
    assert_eq!(esc.before.as_ref().unwrap()["priority"], "P3");
    assert_eq!(esc.after.as_ref().unwrap()["priority"], "P1");
    // A lower alert does not lower anything.
    s.ingest_alert(&alert("u3", "host1", "", 20), W)?;
    let t2 = s.get(a.ticket_id)?;
    assert_eq!(t2.summary.priority, Priority::P1);
    assert_eq!(t2.summary.combined_risk, 95.0);
    assert_eq!(t2.summary.version, t.summary.version);
    Ok(())
}

#[test]
fn analyst_flow_is_audited_with_before_and_after() -> R {
    let dir = tempfile::tempdir()?;
    let mut s = store(dir.path());
    let id = s.ingest_alert(&alert("x1", "h", "T1", 0), W)?.ticket_id;
    let v = s.get(id)?.summary.version;
    let v = s.claim(id, "alice", v)?;
    s.comment(id, "alice", "looking")?;
    s.add_enrichment(id, "virustotal", &json!({ "malicious": 12 }))?;
    s.override_route(id, "tier2", Priority::P2, "alice", "needs tier 2")?;
    s.override_risk(id, 80.0, "alice", "known campaign")?;
    s.disposition(id, Disposition::TruePositive, "confirmed C2", "alice")?;
    let t = s.get(id)?;
    assert_eq!(t.summary.status, Status::Resolved);
    assert_eq!(t.summary.assignee.as_deref(), Some("alice"));
    assert_eq!(t.summary.queue, "tier2");
    assert_eq!(t.summary.priority, Priority::P2);
    assert_eq!(t.summary.combined_risk, 80.0);
    assert_eq!(t.summary.risk_explanation["previous_risk"], 50.0);
    assert_eq!(t.summary.risk_explanation["computed"]["model_score"], 0.9);
    assert_eq!(t.summary.version, v + 3);
    assert_eq!(t.comments.len(), 1);
    assert_eq!(t.enrichments.len(), 1);
    let d = t.disposition.as_ref().unwrap();
    assert_eq!(d.disposition, Disposition::TruePositive);
    assert_eq!(d.analyst, "alice");
    let actions: Vec<&str> = t.audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "created",
            "claimed",
            "commented",
            "enriched",
            "route_overridden",
            "risk_overridden",
            "dispositioned"
        ]
    );
    let route = &t.audit[4];
    assert_eq!(route.actor, "alice");
    assert_eq!(route.before.as_ref().unwrap()["queue"], "network");
    assert_eq!(route.after.as_ref().unwrap()["queue"], "tier2");
    assert_eq!(route.after.as_ref().unwrap()["reason"], "needs tier 2");
    let risk = &t.audit[5];
    assert_eq!(risk.before.as_ref().unwrap()["combined_risk"], 50.0);
    assert_eq!(risk.after.as_ref().unwrap()["combined_risk"], 80.0);
    let claim = &t.audit[1];
    assert_eq!(claim.before.as_ref().unwrap()["status"], "new");
    assert_eq!(claim.after.as_ref().unwrap()["status"], "in_progress");
    assert_eq!(claim.after.as_ref().unwrap()["assignee"], "alice");
    Ok(())
}

#[test]
fn version_conflict_and_invalid_transitions() -> R {
    let dir = tempfile::tempdir()?;
    let mut s = store(dir.path());
    let id = s.ingest_alert(&alert("y1", "h", "T1", 0), W)?.ticket_id;
    let v = s.get(id)?.summary.version;
    s.claim(id, "alice", v)?;
    let err = s.claim(id, "bob", v).unwrap_err();
    assert!(matches!(err, CaseError::VersionConflict { found, .. } if found == v + 1));
    assert!(err.to_string().contains("changed by someone else"), "{err}");
    assert_eq!(s.get(id)?.summary.assignee.as_deref(), Some("alice"));

    assert!(matches!(
        s.claim(TicketId(999), "bob", 1),
        Err(CaseError::NotFound(TicketId(999)))
    ));
    assert!(matches!(
        s.comment(TicketId(999), "bob", "hi"),
        Err(CaseError::NotFound(_))
    ));
    // An in-progress ticket cannot be auto-closed or set to resolved directly.
    assert!(matches!(
        s.auto_close(id, "low"),
        Err(CaseError::InvalidTransition { .. })
    ));
    assert!(matches!(
        s.set_status(id, Status::Resolved, "alice"),
        Err(CaseError::InvalidTransition { .. })
    ));
    s.set_status(id, Status::Closed, "alice")?;
    let v = s.get(id)?.summary.version;
    let err = s.claim(id, "bob", v).unwrap_err();
    assert!(matches!(
        err,
        CaseError::InvalidTransition {
            from: Status::Closed,
            ..
        }
    ));
    assert!(err.to_string().contains("cannot claim"), "{err}");
    assert!(s
        .disposition(id, Disposition::FalsePositive, "x", "bob")
        .is_err());
    assert!(s.override_risk(id, 1.0, "bob", "x").is_err());
    assert!(s.set_status(id, Status::InProgress, "bob").is_err());
    // Comments are still fine.
    s.comment(id, "bob", "post-mortem note")?;

    // Release to new clears the assignee; auto-closed is not reopened but takes a disposition.
    let id2 = s.ingest_alert(&alert("y2", "h2", "T1", 0), W)?.ticket_id;
    s.claim(id2, "bob", 1)?;
    s.set_status(id2, Status::New, "bob")?;
    assert_eq!(s.get(id2)?.summary.assignee, None);
    s.auto_close(id2, "risk below 20")?;
    assert_eq!(s.get(id2)?.summary.status, Status::AutoClosed);
    let v2 = s.get(id2)?.summary.version;
    assert!(matches!(
        s.claim(id2, "bob", v2),
        Err(CaseError::InvalidTransition { .. })
    ));
    s.disposition(
        id2,
        Disposition::TruePositive,
        "auto-close was wrong",
        "bob",
    )?;
    assert_eq!(s.get(id2)?.summary.status, Status::Resolved);
    assert!(matches!(
        s.override_risk(id2, f64::NAN, "bob", "x"),
        Err(CaseError::Invalid(_))
    ));
    let mut bad = alert("", "h", "T1", 0);
    assert!(matches!(
        s.ingest_alert(&bad, W),
        Err(CaseError::Invalid(_))
    ));
    bad.uid = "z".into();
    bad.model_score = f64::INFINITY;
    assert!(matches!(
        s.ingest_alert(&bad, W),
        Err(CaseError::Invalid(_))
    ));
    Ok(())
}

#[test]
fn listing_queues_and_feedback() -> R {
    let dir = tempfile::tempdir()?;
    let mut s = store(dir.path());
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut a = alert(&format!("l{i}"), &format!("h{i}"), "T1", 0);
        if i >= 3 {
            a.proposed.queue = "phishing".into();
        }
        ids.push(s.ingest_alert(&a, W)?.ticket_id);
    }
    s.claim(ids[0], "alice", 1)?;
    s.disposition(ids[1], Disposition::FalsePositive, "scanner", "bob")?;
    s.auto_close(ids[4], "low")?;
    assert_eq!(
        s.queues()?,
        vec![("network".to_owned(), 2), ("phishing".to_owned(), 1)]
    );
    let all = s.list(&Filter::default())?;
    assert_eq!(all.len(), 5);
    let net_new = s.list(&Filter {
        queue: Some("network".into()),
        status: Some(Status::New),
        ..Filter::default()
    })?;
    assert_eq!(net_new.iter().map(|t| t.id).collect::<Vec<_>>(), [ids[2]]);
    let mine = s.list(&Filter {
        assignee: Some("alice".into()),
        ..Filter::default()
    })?;
    assert_eq!(mine.len(), 1);
    let page1 = s.list(&Filter {
        limit: Some(2),
        ..Filter::default()
    })?;
    let page2 = s.list(&Filter {
        limit: Some(2),
        after_id: page1.last().map(|t| t.id),
        ..Filter::default()
    })?;
    assert_eq!(page1.len(), 2);
    assert_eq!(page2[0].id, ids[2]);

    s.ingest_alert(&alert("l0b", "h0", "T1", 5), W)?;
    s.disposition(ids[0], Disposition::TruePositive, "c2", "alice")?;
    let fb = s.feedback(0)?;
    assert_eq!(fb.len(), 2);
    let tp = fb.iter().find(|f| f.ticket_id == ids[0]).unwrap();
    assert_eq!(tp.disposition, Disposition::TruePositive);
    assert_eq!(
        tp.alerts.iter().map(|a| a.uid.as_str()).collect::<Vec<_>>(),
        ["l0", "l0b"]
    );
    assert_eq!(tp.alerts[0].model_score, 0.9);
    assert_eq!(tp.entity_key, "h0");
    assert!(s.feedback(i64::MAX)?.is_empty());
    Ok(())
}

/// Counts `tickets` or `alerts` in the store under `dir` through the public API (re-opened).
fn count(dir: &Path, what: &str) -> i64 {
    count_in(dir, what).unwrap()
}

fn count_in(dir: &Path, what: &str) -> Result<i64, CaseError> {
    let s = store(dir);
    let mut after = None;
    let mut n = 0i64;
    loop {
        let page = s.list(&Filter {
            limit: Some(1000),
            after_id: after,
            ..Filter::default()
        })?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for t in &page {
            n += match what {
                "tickets" => 1,
                "alerts" => s.get(t.id)?.alerts.len() as i64,
                _ => 0,
            };
        }
    }
    Ok(n)
}

#[test]
fn restart_mid_run_then_full_replay_loses_and_duplicates_nothing() -> R {
    let dir = tempfile::tempdir()?;
    let n = 300;
    let alerts: Vec<NewAlert> = (0..n)
        .map(|i| alert(&format!("r{i}"), &format!("h{}", i % 7), "T1071", i * 1_000))
        .collect();
    // Reference: one uninterrupted run.
    let ref_dir = tempfile::tempdir()?;
    {
        let mut s = store(ref_dir.path());
        for a in &alerts {
            s.ingest_alert(a, 10_000)?;
        }
    }
    // Crash after 137 alerts (the store is dropped between alerts), restart, replay all.
    {
        let mut s = store(dir.path());
        for a in &alerts[..137] {
            s.ingest_alert(a, 10_000)?;
        }
    }
    let mut s = store(dir.path());
    let mut dup = 0;
    for a in &alerts {
        if s.ingest_alert(a, 10_000)?.duplicate_alert {
            dup += 1;
        }
    }
    assert_eq!(dup, 137);
    drop(s);
    assert_eq!(count(dir.path(), "alerts"), n);
    assert_eq!(
        count(dir.path(), "tickets"),
        count(ref_dir.path(), "tickets")
    );
    assert_eq!(count(ref_dir.path(), "tickets"), 7);
    // Same ticket contents (minus wall-clock times).
    let (a, b) = (store(dir.path()), store(ref_dir.path()));
    for (x, y) in a
        .list(&Filter::default())?
        .iter()
        .zip(b.list(&Filter::default())?.iter())
    {
        assert_eq!(x.dedup_key, y.dedup_key);
        assert_eq!(
            (x.first_alert_ms, x.last_alert_ms),
            (y.first_alert_ms, y.last_alert_ms)
        );
        let ua: Vec<_> = a.get(x.id)?.alerts.into_iter().map(|a| a.uid).collect();
        let ub: Vec<_> = b.get(y.id)?.alerts.into_iter().map(|a| a.uid).collect();
        assert_eq!(ua, ub);
    }
    Ok(())
}

#[test]
fn ingest_throughput() -> R {
    let dir = tempfile::tempdir()?;
    let mut s = store(dir.path());
    let n = 5_000;
    let start = std::time::Instant::now();
    for i in 0..n {
        let a = alert(
            &format!("t{i}"),
            &format!("10.0.{}.{}", i % 50, i % 200),
            "T1071",
            i64::from(i) * 10,
        );
        s.ingest_alert(&a, W)?;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "case store ingest: {n} alerts in {secs:.3}s = {:.0} alerts/s (one transaction each, WAL, synchronous=NORMAL)",
        f64::from(n) / secs
    );
    Ok(())
}

#[derive(Debug, Clone)]
enum Op {
    Ingest {
        entity: u8,
        technique: u8,
        dt: u16,
        uid: u16,
    },
    Claim(u8),
    Resolve(u8),
    AutoClose(u8),
    Close(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..4, 0u8..3, 0u16..3_000, 0u16..200).prop_map(|(entity, technique, dt, uid)| {
            Op::Ingest { entity, technique, dt, uid }
        }),
        1 => any::<u8>().prop_map(Op::Claim),
        1 => any::<u8>().prop_map(Op::Resolve),
        1 => any::<u8>().prop_map(Op::AutoClose),
        1 => any::<u8>().prop_map(Op::Close),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_sequences_keep_invariants(ops in prop::collection::vec(op(), 1..80)) {
        let w = 1_000i64;
        let mut s = CaseStore::open(Path::new(":memory:")).unwrap();
        let mut now = 0i64;
        let mut seen_uids: HashMap<String, TicketId> = HashMap::new();
        let mut tickets: Vec<TicketId> = Vec::new();
        let mut changes: HashMap<TicketId, usize> = HashMap::new();
        for o in ops {
            let pick = |i: u8, t: &Vec<TicketId>| t.get(usize::from(i) % t.len().max(1)).copied();
            match o {
                Op::Ingest { entity, technique, dt, uid } => {
                    now += i64::from(dt);
                    let uid = format!("u{uid}");
                    let a = alert(&uid, &format!("e{entity}"), &format!("T{technique}"), now);
                    let r = s.ingest_alert(&a, w).unwrap();
                    if let Some(prev) = seen_uids.get(&uid) {
                        prop_assert!(r.duplicate_alert);
                        prop_assert_eq!(*prev, r.ticket_id);
                    } else {
                        prop_assert!(!r.duplicate_alert);
                        seen_uids.insert(uid, r.ticket_id);
                        *changes.entry(r.ticket_id).or_default() += 1;
                        if r.created { tickets.push(r.ticket_id); }
                    }
                }
                Op::Claim(i) => if let Some(t) = pick(i, &tickets) {
                    let v = s.get(t).unwrap().summary.version;
                    if s.claim(t, "a", v).is_ok() { *changes.entry(t).or_default() += 1; }
                },
                Op::Resolve(i) => if let Some(t) = pick(i, &tickets) {
                    if s.disposition(t, Disposition::BenignPositive, "r", "a").is_ok() {
                        *changes.entry(t).or_default() += 1;
                    }
                },
                Op::AutoClose(i) => if let Some(t) = pick(i, &tickets) {
                    if s.auto_close(t, "low").is_ok() { *changes.entry(t).or_default() += 1; }
                },
                Op::Close(i) => if let Some(t) = pick(i, &tickets) {
                    if s.set_status(t, Status::Closed, "a").is_ok() {
                        *changes.entry(t).or_default() += 1;
                    }
                },
            }
        }
        // Every alert in exactly one ticket, the one ingest reported.
        let all = s.list(&Filter { limit: Some(1000), ..Filter::default() }).unwrap();
        prop_assert_eq!(all.len(), tickets.len());
        let mut stored: HashSet<String> = HashSet::new();
        let mut open: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
        for t in &all {
            let full = s.get(t.id).unwrap();
            prop_assert!(!full.alerts.is_empty());
            for a in &full.alerts {
                prop_assert!(stored.insert(a.uid.clone()), "alert {} twice", a.uid);
                prop_assert_eq!(seen_uids.get(&a.uid).copied(), Some(t.id));
            }
            prop_assert!(full.audit.len() >= changes.get(&t.id).copied().unwrap_or(0));
            if t.status == Status::Resolved {
                prop_assert!(full.disposition.is_some());
            }
            if t.status.is_open() {
                prop_assert!(full.disposition.is_none());
            }
            if t.status.is_open() {
                open.entry(t.dedup_key.clone()).or_default()
                    .push((t.first_alert_ms, t.last_alert_ms));
            }
        }
        prop_assert_eq!(stored.len(), seen_uids.len());
        // No two open tickets with the same key have windows that touch.
        for spans in open.values_mut() {
            spans.sort_unstable();
            for pair in spans.windows(2) {
                prop_assert!(pair[1].0 - pair[0].1 > w, "overlapping open tickets {:?}", pair);
            }
        }
        let open_total: i64 = s.queues().unwrap().iter().map(|q| q.1).sum();
        prop_assert_eq!(open_total as usize, open.values().map(Vec::len).sum::<usize>());
    }
}

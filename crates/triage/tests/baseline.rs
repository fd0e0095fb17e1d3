//! Baselines: first-seen, rarity, persistence, replay idempotence, pruning.

use std::path::Path;
use std::time::Instant;

use shrike_triage::baseline::{Baseline, BaselineKind, Event, Status};

type R = Result<(), Box<dyn std::error::Error>>;

const HD: BaselineKind = BaselineKind::HostDestination;

fn mem() -> Result<Baseline, Box<dyn std::error::Error>> {
    Ok(Baseline::open(Path::new(":memory:"))?)
}

fn ev<'a>(kind: BaselineKind, s: &'a str, o: &'a str, t_ms: i64) -> Event<'a> {
    Event {
        kind,
        subject: s,
        object: o,
        t_ms,
        event_id: None,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn first_seen_then_repeat() -> R {
    let mut b = mem()?;
    let o = b.observe(HD, "ws01", "192.0.2.80", 1_000)?;
    assert_eq!(o.status, Status::Recorded);
    assert!(o.is_first_seen);
    assert_eq!(
        (o.first_seen_ms, o.last_seen_ms, o.count),
        (Some(1_000), Some(1_000), 1)
    );
    assert_eq!(
        (
            o.subject_total,
            o.subject_distinct_objects,
            o.object_distinct_subjects
        ),
        (1, 1, 1)
    );
    assert!(close(o.rarity, 1.0) && close(o.global_rarity, 1.0));

    let o = b.observe(HD, "ws01", "192.0.2.80", 2_000)?;
    assert!(!o.is_first_seen);
    assert_eq!(
        (o.first_seen_ms, o.last_seen_ms, o.count),
        (Some(1_000), Some(2_000), 2)
    );
    assert!(close(o.rarity, 0.0));

    // An out-of-order event moves first_seen back but is not "first seen".
    let o = b.observe(HD, "ws01", "192.0.2.80", 500)?;
    assert!(!o.is_first_seen);
    assert_eq!(
        (o.first_seen_ms, o.last_seen_ms, o.count),
        (Some(500), Some(2_000), 3)
    );

    // Kinds are separate namespaces.
    let o = b.observe(BaselineKind::UserHost, "ws01", "192.0.2.80", 3_000)?;
    assert!(o.is_first_seen);
    assert!(b.observe(HD, "", "x", 1).is_err());
    assert!(b.observe(HD, "x", "", 1).is_err());
    Ok(())
}

#[test]
fn rarity_on_a_hand_computed_example() -> R {
    let mut b = mem()?;
    let (dns, rare) = ("192.0.2.53", "198.51.100.7");
    // ws01: dns ×3, rare ×1; then dc01: dns; then ws01: rare again.
    let got: Vec<(bool, f64, f64)> = [
        ("ws01", dns, 1),
        ("ws01", dns, 2),
        ("ws01", dns, 3),
        ("ws01", rare, 4),
        ("dc01", dns, 5),
        ("ws01", rare, 6),
    ]
    .into_iter()
    .map(|(s, o, t)| {
        b.observe(HD, s, o, t)
            .map(|x| (x.is_first_seen, x.rarity, x.global_rarity))
    })
    .collect::<Result<_, _>>()?;
    let want = [
        (true, 1.0, 1.0),   // nothing seen yet
        (false, 0.0, 0.0),  // 1 − 1/1; dns seen by 1 of 1 hosts
        (false, 0.0, 0.0),  // 1 − 2/2
        (true, 1.0, 1.0),   // new pair; no host has seen rare
        (true, 1.0, 0.0),   // new for dc01; dns seen by 1 of 1 hosts (ws01)
        (false, 0.75, 0.5), // 1 − 1/4; rare seen by 1 of 2 hosts
    ];
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.0, w.0, "event {i}");
        assert!(
            close(g.1, w.1) && close(g.2, w.2),
            "event {i}: {g:?} vs {w:?}"
        );
    }
    // Lookups answer for the next event and record nothing.
    let l = b.lookup(HD, "ws01", dns)?;
    assert_eq!(l.status, Status::Lookup);
    assert!(close(l.rarity, 1.0 - 3.0 / 5.0) && close(l.global_rarity, 0.0));
    assert_eq!(
        (l.count, l.subject_total, l.subject_distinct_objects),
        (3, 5, 2)
    );
    let l = b.lookup(HD, "dc01", rare)?;
    assert!(l.is_first_seen && l.first_seen_ms.is_none() && l.count == 0);
    assert!(close(l.rarity, 1.0) && close(l.global_rarity, 0.5));
    let again = b.lookup(HD, "dc01", rare)?;
    assert_eq!(again, l);
    // lookup then observe agree.
    let o = b.observe(HD, "dc01", rare, 7)?;
    assert!(o.is_first_seen && close(o.rarity, l.rarity) && close(o.global_rarity, 0.5));
    assert_eq!(o.object_distinct_subjects, 2);
    Ok(())
}

#[test]
fn persists_across_reopen() -> R {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("baseline.db");
    {
        let mut b = Baseline::open(&path)?;
        b.observe(
            BaselineKind::UserApi,
            "aws:123456789012:role/admin",
            "iam:CreateAccessKey",
            10,
        )?;
        b.observe(BaselineKind::UserHost, "alice@corp", "ws01", 20)?;
        b.observe(BaselineKind::UserHost, "alice@corp", "ws01", 30)?;
    }
    let mut b = Baseline::open(&path)?;
    let l = b.lookup(BaselineKind::UserHost, "alice@corp", "ws01")?;
    assert_eq!(
        (l.count, l.first_seen_ms, l.last_seen_ms),
        (2, Some(20), Some(30))
    );
    let o = b.observe(
        BaselineKind::UserApi,
        "aws:123456789012:role/admin",
        "iam:CreateAccessKey",
        40,
    )?;
    assert!(!o.is_first_seen);
    assert_eq!(o.count, 2);
    let o = b.observe(BaselineKind::UserHost, "alice@corp", "dc01", 50)?;
    assert!(o.is_first_seen);
    assert!(close(o.rarity, 1.0));
    Ok(())
}

#[test]
fn replay_after_a_crash_counts_nothing_twice() -> R {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("baseline.db");
    let batch = [
        ev(HD, "ws01", "192.0.2.80", 100),
        ev(HD, "ws01", "192.0.2.80", 200),
        ev(HD, "ws01", "c2.example.net", 300),
        ev(HD, "dc01", "192.0.2.80", 300),
    ];
    let first = {
        let mut b = Baseline::open(&path)?;
        b.observe_many(&batch)?
    }; // "crash": the process goes away after the commit
    let mut b = Baseline::open(&path)?;
    let replay = b.observe_many(&batch)?;
    for (a, r) in first.iter().zip(&replay) {
        assert_eq!(a.status, Status::Recorded);
        assert_eq!(r.status, Status::Replayed);
        assert_eq!(
            (a.is_first_seen, a.rarity, a.global_rarity),
            (r.is_first_seen, r.rarity, r.global_rarity)
        );
    }
    let l = b.lookup(HD, "ws01", "192.0.2.80")?;
    assert_eq!((l.count, l.subject_total), (2, 3));
    assert_eq!(b.lookup(HD, "dc01", "192.0.2.80")?.count, 1);
    assert_eq!(b.lookup(HD, "x", "192.0.2.80")?.object_distinct_subjects, 2);

    // Event ids tell apart two events of one pair in the same millisecond…
    let a = Event {
        event_id: Some("evt-1"),
        ..ev(HD, "ws02", "192.0.2.80", 400)
    };
    let c = Event {
        event_id: Some("evt-2"),
        ..a
    };
    let out = b.observe_many(&[a, c, a])?;
    assert_eq!(
        out.iter().map(|o| o.status).collect::<Vec<_>>(),
        [Status::Recorded, Status::Recorded, Status::Replayed]
    );
    assert_eq!(b.lookup(HD, "ws02", "192.0.2.80")?.count, 2);
    // …and without one the same (pair, time) counts once.
    b.observe(HD, "ws03", "192.0.2.80", 400)?;
    assert_eq!(
        b.observe(HD, "ws03", "192.0.2.80", 400)?.status,
        Status::Replayed
    );
    assert_eq!(b.lookup(HD, "ws03", "192.0.2.80")?.count, 1);

    // A batch with a bad event records nothing.
    assert!(b
        .observe_many(&[ev(HD, "ws04", "192.0.2.80", 500), ev(HD, "ws04", "", 501)])
        .is_err());
    assert!(b.lookup(HD, "ws04", "192.0.2.80")?.is_first_seen);
    Ok(())
}

#[test]
fn prune_forgets_old_pairs_and_refuses_older_events() -> R {
    let mut b = mem()?;
    b.observe_many(&[
        ev(HD, "ws01", "old.example", 100),
        ev(HD, "ws01", "new.example", 100),
        ev(HD, "ws01", "new.example", 900),
        ev(HD, "dc01", "old.example", 200),
    ])?;
    assert_eq!(b.prune_older_than(500)?, 2);
    let l = b.lookup(HD, "ws01", "old.example")?;
    assert!(l.is_first_seen);
    assert_eq!(l.object_distinct_subjects, 0);
    // ws01's totals were recomputed from what remains: new.example ×2 (pairs keep their count).
    let l = b.lookup(HD, "ws01", "new.example")?;
    assert_eq!(
        (l.count, l.subject_total, l.subject_distinct_objects),
        (2, 2, 1)
    );
    assert!(close(l.rarity, 0.0));
    // dc01 is gone entirely: one subject left in the kind.
    assert!(close(
        b.lookup(HD, "dc01", "new.example")?.global_rarity,
        0.0
    ));
    // Events older than the horizon are refused, newer ones counted.
    let o = b.observe(HD, "ws01", "old.example", 400)?;
    assert_eq!(o.status, Status::TooOld);
    assert!(b.lookup(HD, "ws01", "old.example")?.is_first_seen);
    let o = b.observe(HD, "ws01", "old.example", 600)?;
    assert_eq!(o.status, Status::Recorded);
    assert!(o.is_first_seen);
    // A lower prune later does not lower the horizon.
    b.prune_older_than(10)?;
    assert_eq!(
        b.observe(HD, "ws09", "x.example", 450)?.status,
        Status::TooOld
    );
    Ok(())
}

#[test]
fn throughput_of_batched_observations() -> R {
    // Not asserted: timing belongs in benches; this prints a rough number for the report.
    let dir = tempfile::tempdir()?;
    let mut b = Baseline::open(&dir.path().join("b.db"))?;
    let subjects: Vec<String> = (0..500).map(|i| format!("ws{i:03}")).collect();
    let objects: Vec<String> = (0..200)
        .map(|i| format!("10.{}.{}.1", i / 250, i % 250))
        .collect();
    let n = 50_000usize;
    let events: Vec<Event<'_>> = (0..n)
        .map(|i| ev(HD, &subjects[i % 500], &objects[(i * 7919) % 200], i as i64))
        .collect();
    let start = Instant::now();
    for chunk in events.chunks(1_000) {
        b.observe_many(chunk)?;
    }
    let secs = start.elapsed().as_secs_f64();
    let start = Instant::now();
    for chunk in events.chunks(1_000) {
        b.observe_many(chunk)?;
    }
    let replay_secs = start.elapsed().as_secs_f64();
    eprintln!(
        "baseline: {n} observations in {secs:.2}s = {:.0}/s; replay {:.0}/s",
        n as f64 / secs,
        n as f64 / replay_secs
    );
    assert_eq!(
        b.lookup(HD, "ws000", &objects[0])?.subject_total,
        (n / 500) as u64
    );
    Ok(())
}

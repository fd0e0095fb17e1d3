//! The provider guard with a scripted in-process provider: backoff schedule, jitter bounds,
//! retry rules, breaker transitions, cache bounds, dyn providers. Time is a `FakeClock`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shrike_intel::provider::{
    BoxFuture, BreakerState, FakeClock, Guarded, Origin, Policy, Provider, ProviderError, Status,
};
use shrike_intel::{Indicator, IndicatorKind, IntelHit};

/// Answers from a script (then `Ok(vec![])` forever), counting calls.
struct Scripted {
    script: Mutex<VecDeque<Result<Vec<IntelHit>, ProviderError>>>,
    calls: AtomicUsize,
}

impl Scripted {
    fn new(script: Vec<Result<Vec<IntelHit>, ProviderError>>) -> Scripted {
        Scripted {
            script: Mutex::new(script.into()),
            calls: AtomicUsize::new(0),
        }
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Provider for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    fn supports(&self, kind: IndicatorKind) -> bool {
        kind == IndicatorKind::Ipv4
    }
    fn lookup<'a>(
        &'a self,
        _indicator: &'a Indicator,
    ) -> BoxFuture<'a, Result<Vec<IntelHit>, ProviderError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let next = self
            .script
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or(Ok(vec![]));
        Box::pin(std::future::ready(next))
    }
}

fn upstream() -> ProviderError {
    ProviderError::Upstream {
        status: Some(502),
        message: "bad gateway".into(),
    }
}

fn ip(last: u8) -> Indicator {
    Indicator::new(IndicatorKind::Ipv4, &format!("192.0.2.{last}")).expect("ip")
}

fn hit(i: &Indicator) -> IntelHit {
    IntelHit {
        indicator: i.clone(),
        source: "scripted".into(),
        family: Some("IcedID".into()),
        threat: "c2".into(),
        confidence: 80,
        first_seen: None,
        last_seen: None,
        tags: vec![],
        attack: vec![],
        reference: None,
    }
}

fn guard(
    script: Vec<Result<Vec<IntelHit>, ProviderError>>,
    policy: Policy,
) -> (Guarded<Arc<Scripted>>, Arc<Scripted>, FakeClock) {
    let clock = FakeClock::new();
    let p = Arc::new(Scripted::new(script));
    (
        Guarded::new(Arc::clone(&p), policy, Arc::new(clock.clone())),
        p,
        clock,
    )
}

fn base_policy() -> Policy {
    Policy {
        max_attempts: 4,
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_millis(250),
        breaker_threshold: 100,
        jitter_seed: Some(42),
        ..Policy::default()
    }
}

#[tokio::test]
async fn backoff_is_exponential_capped_with_equal_jitter_and_seeded() {
    let script = || vec![Err(upstream()), Err(upstream()), Err(upstream())];
    let (g, p, clock) = guard(script(), base_policy());
    let o = g.lookup(&ip(1)).await;
    assert_eq!(o.attempts, 4);
    assert_eq!(p.calls(), 4);
    assert_eq!(o.origin(), Some(Origin::Network));
    let sleeps = clock.sleeps();
    let ms = |m| Duration::from_millis(m);
    // Full delays 100, 200, 250 (capped); each sleep is in [full/2, full].
    assert_eq!(sleeps.len(), 3);
    for (s, full) in sleeps.iter().zip([100, 200, 250]) {
        assert!(ms(full / 2) <= *s && *s <= ms(full), "{sleeps:?}");
    }
    assert_eq!(
        o.elapsed_ms,
        sleeps.iter().sum::<Duration>().as_millis() as u64
    );
    // Same seed, same schedule; another seed, another one.
    let (g2, _, clock2) = guard(script(), base_policy());
    g2.lookup(&ip(1)).await;
    assert_eq!(clock2.sleeps(), sleeps);
    let (g3, _, clock3) = guard(
        script(),
        Policy {
            jitter_seed: Some(43),
            ..base_policy()
        },
    );
    g3.lookup(&ip(1)).await;
    assert_ne!(clock3.sleeps(), sleeps);
}

#[tokio::test]
async fn retries_stop_at_max_attempts_and_report_the_last_error() {
    let (g, p, _clock) = guard(vec![Err(upstream()); 10], base_policy());
    let o = g.lookup(&ip(1)).await;
    assert_eq!(o.error(), Some(&upstream()));
    assert_eq!((o.attempts, p.calls()), (4, 4));
    assert_eq!(g.cache_len(), 0, "errors are not cached");
}

#[tokio::test]
async fn non_retryable_errors_are_not_retried_nor_trip_the_breaker() {
    let auth = ProviderError::Auth {
        message: "bad key".into(),
    };
    let pol = Policy {
        breaker_threshold: 1,
        ..base_policy()
    };
    let (g, p, clock) = guard(vec![Err(auth.clone()), Err(auth.clone())], pol);
    assert_eq!(g.lookup(&ip(1)).await.error(), Some(&auth));
    assert_eq!(g.lookup(&ip(1)).await.error(), Some(&auth));
    assert_eq!(p.calls(), 2);
    assert!(clock.sleeps().is_empty());
    assert_eq!(g.breaker_state(), BreakerState::Closed);
}

#[tokio::test]
async fn a_long_retry_after_fails_at_once() {
    let limited = ProviderError::RateLimited {
        retry_after_ms: Some(30_000),
    };
    let (g, p, clock) = guard(vec![Err(limited.clone())], base_policy());
    let o = g.lookup(&ip(1)).await;
    assert_eq!(o.error(), Some(&limited));
    assert_eq!((o.attempts, p.calls()), (1, 1));
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn half_open_probe_failure_reopens_the_breaker() {
    let pol = Policy {
        max_attempts: 1,
        breaker_threshold: 2,
        breaker_cool_down: Duration::from_secs(10),
        ..base_policy()
    };
    let (g, p, clock) = guard(vec![Err(upstream()); 3], pol);
    g.lookup(&ip(1)).await;
    g.lookup(&ip(2)).await;
    assert_eq!(g.breaker_state(), BreakerState::Open);
    let o = g.lookup(&ip(3)).await;
    assert_eq!(
        o.error(),
        Some(&ProviderError::Unavailable {
            retry_in_ms: 10_000
        })
    );
    assert_eq!(p.calls(), 2);

    clock.advance(Duration::from_secs(10));
    // The probe fails: open again for a full cool-down.
    assert_eq!(g.lookup(&ip(4)).await.error(), Some(&upstream()));
    assert_eq!(p.calls(), 3);
    assert_eq!(g.breaker_state(), BreakerState::Open);
    clock.advance(Duration::from_secs(9));
    assert_eq!(
        g.lookup(&ip(5)).await.error().map(|e| e.reason()),
        Some("unavailable")
    );
    assert_eq!(p.calls(), 3);
    // Then a probe that succeeds closes it.
    clock.advance(Duration::from_secs(1));
    assert_eq!(g.lookup(&ip(6)).await.origin(), Some(Origin::Network));
    assert_eq!(g.breaker_state(), BreakerState::Closed);
}

#[tokio::test]
async fn success_resets_the_consecutive_failure_count() {
    let pol = Policy {
        max_attempts: 1,
        breaker_threshold: 2,
        ..base_policy()
    };
    let (g, _p, _clock) = guard(
        vec![Err(upstream()), Ok(vec![]), Err(upstream()), Ok(vec![])],
        pol,
    );
    for i in 1..=4 {
        g.lookup(&ip(i)).await;
        assert_eq!(g.breaker_state(), BreakerState::Closed, "after call {i}");
    }
}

#[tokio::test]
async fn cache_is_bounded_and_keeps_hits_and_negatives() {
    let i1 = ip(1);
    let pol = Policy {
        cache_capacity: 2,
        ..base_policy()
    };
    let (g, p, _clock) = guard(
        vec![Ok(vec![hit(&i1)]), Err(ProviderError::NotFound), Ok(vec![])],
        pol,
    );
    assert_eq!(g.lookup(&i1).await.hits(), &[hit(&i1)]);
    assert_eq!(
        g.lookup(&ip(2)).await.status,
        Status::NotFound {
            origin: Origin::Network
        }
    );
    assert_eq!(g.cache_len(), 2);
    // Cached: hit and negative.
    assert_eq!(g.lookup(&i1).await.origin(), Some(Origin::Cache));
    assert_eq!(g.lookup(&ip(2)).await.origin(), Some(Origin::Cache));
    assert_eq!(p.calls(), 2);
    // A third indicator evicts the oldest (192.0.2.1).
    g.lookup(&ip(3)).await;
    assert_eq!(g.cache_len(), 2);
    assert_eq!(g.lookup(&ip(2)).await.origin(), Some(Origin::Cache));
    assert_eq!(g.lookup(&i1).await.origin(), Some(Origin::Network));
    assert_eq!(p.calls(), 4);
}

#[tokio::test]
async fn cache_capacity_zero_disables_caching() {
    let pol = Policy {
        cache_capacity: 0,
        ..base_policy()
    };
    let (g, p, _clock) = guard(vec![], pol);
    g.lookup(&ip(1)).await;
    assert_eq!(g.lookup(&ip(1)).await.origin(), Some(Origin::Network));
    assert_eq!(p.calls(), 2);
}

#[tokio::test]
async fn unsupported_kinds_are_not_asked_and_dyn_providers_work() {
    let p: Arc<dyn Provider> = Arc::new(Scripted::new(vec![]));
    let clock = FakeClock::new();
    let g = Guarded::new(Arc::clone(&p), base_policy(), Arc::new(clock));
    let d = Indicator::new(IndicatorKind::Domain, "evil.example").expect("domain");
    let o = g.lookup(&d).await;
    assert_eq!(o.status, Status::Unsupported);
    assert_eq!(o.attempts, 0);
    assert_eq!(o.provider, "scripted");
    assert_eq!(
        g.lookup(&ip(1)).await.status,
        Status::Answered {
            origin: Origin::Network,
            hits: vec![]
        }
    );
}

#[test]
fn errors_have_bounded_reasons_and_serialize_tagged() {
    let cases = [
        (
            ProviderError::Unsupported {
                kind: IndicatorKind::Email,
            },
            "unsupported",
        ),
        (ProviderError::NotFound, "not_found"),
        (
            ProviderError::RateLimited {
                retry_after_ms: None,
            },
            "rate_limited",
        ),
        (ProviderError::Unavailable { retry_in_ms: 5 }, "unavailable"),
        (ProviderError::Timeout { after_ms: 5 }, "timeout"),
        (
            ProviderError::BadResponse {
                message: "x".into(),
            },
            "bad_response",
        ),
        (
            ProviderError::Auth {
                message: "x".into(),
            },
            "auth",
        ),
        (upstream(), "upstream"),
        (ProviderError::Offline, "offline"),
    ];
    for (e, reason) in cases {
        assert_eq!(e.reason(), reason);
        let v = serde_json::to_value(&e).expect("serializes");
        assert_eq!(v["reason"], reason, "{v}");
        let back: ProviderError = serde_json::from_value(v).expect("round-trips");
        assert_eq!(back, e);
    }
    assert_eq!(
        ProviderError::Timeout { after_ms: 5000 }.to_string(),
        "timed out after 5000 ms"
    );
}

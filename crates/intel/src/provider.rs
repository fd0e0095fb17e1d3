//! One trait for enrichment providers, and the guard every provider runs behind.
//!
//! - [`Provider`]: what a source of intel implements (`name`, `supports`, `lookup`). It is
//!   dyn-compatible (`lookup` returns a boxed future), so providers can be held as
//!   `Arc<dyn Provider>` / `Box<dyn Provider>`.
//! - [`Guarded`]: wraps a provider and adds, the same way for all of them: a bounded cache with
//!   TTLs (positive and negative answers), a per-attempt timeout, retries with exponential
//!   backoff and jitter (timeouts, upstream 5xx / transport errors, 429 honouring `Retry-After`),
//!   and a circuit breaker. Its [`Guarded::lookup`] never fails: it returns an [`Outcome`] saying
//!   whether the answer came from the cache or the network, or why the lookup failed, so a ticket
//!   can say which enrichment failed.
//! - [`Clock`]: time and waiting are injected. [`SystemClock`] is tokio's; [`FakeClock`] is a
//!   virtual clock for deterministic tests (waits complete at once and move virtual time;
//!   deadlines fire only when virtual time reaches them).
//!
//! Rules the guard applies (see [`Policy`] for the numbers):
//! - Cached: answers with hits (`ttl_hit`), answers without hits and `not_found` (`ttl_negative`).
//!   Errors are never cached. At capacity the oldest inserted entry is evicted (expired entries
//!   first).
//! - Retried: `timeout`, `upstream` (5xx, connection errors) and `rate_limited`. A
//!   `rate_limited` with a `Retry-After` waits exactly that long, unless it is longer than
//!   `max_retry_after`, in which case the lookup fails at once (a pipeline must not stall a
//!   minute on a quota). Others wait `backoff_base × 2^(attempt-1)` capped at `backoff_max`,
//!   with "equal jitter": half of it fixed, the other half uniform random.
//! - Breaker: counts consecutive failed *attempts* whose error says the upstream is unhealthy
//!   (`timeout`, `upstream`, `bad_response`); `rate_limited`, `auth`, `not_found`, `offline`
//!   neither count nor reset it. At `breaker_threshold` it opens: calls fail fast with
//!   `unavailable` without reaching the provider. After `breaker_cool_down` one probe call is
//!   let through (half-open); success closes the breaker, failure re-opens it for another
//!   cool-down.
//!
//! Nothing here does I/O itself; providers do.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::{Indicator, IndicatorKind, IntelHit};

/// A boxed, sendable future (what [`Provider::lookup`] and [`Clock`] return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a provider call did not give an answer.
///
/// `not_found` is a *negative answer* (the source does not know the indicator), not a failure;
/// [`Guarded`] caches it and reports it as [`Status::NotFound`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProviderError {
    /// The provider does not handle this kind of indicator.
    #[error("provider does not support {kind:?} indicators")]
    Unsupported {
        /// The kind asked for.
        kind: IndicatorKind,
    },
    /// The indicator is not well-formed for its kind (it was built without normalizing).
    #[error("invalid indicator: {message}")]
    Invalid {
        /// What is wrong.
        message: String,
    },
    /// The source does not know the indicator (a negative answer).
    #[error("not found")]
    NotFound,
    /// A quota was hit (HTTP 429, or the client-side quota).
    #[error("rate limited{}", fmt_retry(*retry_after_ms))]
    RateLimited {
        /// How long the source asks to wait, when it says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    /// The circuit breaker is open: the provider was not called.
    #[error("unavailable: circuit breaker open for {retry_in_ms} ms more")]
    Unavailable {
        /// When the breaker lets a probe through.
        retry_in_ms: u64,
    },
    /// An attempt took longer than the policy's timeout.
    #[error("timed out after {after_ms} ms")]
    Timeout {
        /// The timeout that elapsed.
        after_ms: u64,
    },
    /// The upstream failed: HTTP 5xx, or a connection/transport error (`status` is `None`).
    #[error("upstream error{}: {message}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Upstream {
        /// The HTTP status, when there was one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        /// What failed.
        message: String,
    },
    /// The answer could not be understood (unexpected status, body not in the documented shape).
    #[error("bad response: {message}")]
    BadResponse {
        /// What was wrong.
        message: String,
    },
    /// Credentials missing or refused (HTTP 401/403, no API key configured).
    #[error("authentication failed: {message}")]
    Auth {
        /// Why.
        message: String,
    },
    /// The provider is in offline mode and the answer was not cached.
    #[error("offline: not in cache")]
    Offline,
}

fn fmt_retry(ms: Option<u64>) -> String {
    ms.map(|ms| format!(" (retry after {ms} ms)"))
        .unwrap_or_default()
}

impl ProviderError {
    /// A bounded, stable reason code (usable as a metric label).
    pub fn reason(&self) -> &'static str {
        match self {
            ProviderError::Unsupported { .. } => "unsupported",
            ProviderError::Invalid { .. } => "invalid",
            ProviderError::NotFound => "not_found",
            ProviderError::RateLimited { .. } => "rate_limited",
            ProviderError::Unavailable { .. } => "unavailable",
            ProviderError::Timeout { .. } => "timeout",
            ProviderError::Upstream { .. } => "upstream",
            ProviderError::BadResponse { .. } => "bad_response",
            ProviderError::Auth { .. } => "auth",
            ProviderError::Offline => "offline",
        }
    }

    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::Timeout { .. }
                | ProviderError::Upstream { .. }
                | ProviderError::RateLimited { .. }
        )
    }

    /// Whether this failure says the upstream is unhealthy (counts towards the breaker).
    pub fn counts_for_breaker(&self) -> bool {
        matches!(
            self,
            ProviderError::Timeout { .. }
                | ProviderError::Upstream { .. }
                | ProviderError::BadResponse { .. }
        )
    }
}

/// A source of threat intel that can be asked about one indicator at a time.
pub trait Provider: Send + Sync {
    /// Stable name (`virustotal`); used in outcomes and as `IntelHit::source`.
    fn name(&self) -> &str;
    /// Whether the provider handles this kind of indicator.
    fn supports(&self, kind: IndicatorKind) -> bool;
    /// Looks `indicator` up. `Ok(vec![])` means "known, nothing against it";
    /// `Err(NotFound)` means "unknown to this source".
    fn lookup<'a>(
        &'a self,
        indicator: &'a Indicator,
    ) -> BoxFuture<'a, Result<Vec<IntelHit>, ProviderError>>;
}

impl<T: Provider + ?Sized> Provider for Box<T> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn supports(&self, kind: IndicatorKind) -> bool {
        (**self).supports(kind)
    }
    fn lookup<'a>(
        &'a self,
        indicator: &'a Indicator,
    ) -> BoxFuture<'a, Result<Vec<IntelHit>, ProviderError>> {
        (**self).lookup(indicator)
    }
}

impl<T: Provider + ?Sized> Provider for Arc<T> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn supports(&self, kind: IndicatorKind) -> bool {
        (**self).supports(kind)
    }
    fn lookup<'a>(
        &'a self,
        indicator: &'a Indicator,
    ) -> BoxFuture<'a, Result<Vec<IntelHit>, ProviderError>> {
        (**self).lookup(indicator)
    }
}

// ---------------------------------------------------------------------------------------------
// Clock

/// Time source and waiting, injected so tests are deterministic.
///
/// Times are durations since an arbitrary, fixed origin (monotonic).
pub trait Clock: Send + Sync {
    /// Now, since the clock's origin.
    fn now(&self) -> Duration;
    /// Waits `d` (backoff, `Retry-After`): the caller has nothing else to do.
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()>;
    /// Completes when `d` has passed; raced against other work (timeouts).
    fn deadline(&self, d: Duration) -> BoxFuture<'static, ()>;
}

/// The real clock: `Instant` and tokio timers.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose origin is now.
    pub fn new() -> SystemClock {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(d))
    }
    fn deadline(&self, d: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// A virtual clock for tests.
///
/// Virtual time moves only through [`FakeClock::advance`] and [`Clock::sleep`] (a sleep
/// completes at once and moves time forward by its length, as if the wait had happened).
/// A [`Clock::deadline`] completes when virtual time reaches it, so a timeout fires only when
/// the test (or another task's sleep) moves time past it, never because the network was slow.
#[derive(Debug, Clone, Default)]
pub struct FakeClock {
    state: Arc<Mutex<FakeState>>,
}

#[derive(Debug, Default)]
struct FakeState {
    now: Duration,
    timers: Vec<(Duration, Waker)>,
    sleeps: Vec<Duration>,
}

impl FakeClock {
    /// A virtual clock at time zero.
    pub fn new() -> FakeClock {
        FakeClock::default()
    }

    /// Moves virtual time forward by `d`, firing the deadlines it passes.
    pub fn advance(&self, d: Duration) {
        let wake = {
            let mut s = lock(&self.state);
            s.now = s.now.saturating_add(d);
            let now = s.now;
            let (due, keep): (Vec<_>, Vec<_>) = s.timers.drain(..).partition(|(at, _)| *at <= now);
            s.timers = keep;
            due
        };
        for (_, w) in wake {
            w.wake();
        }
    }

    /// Every [`Clock::sleep`] so far, in order (the backoff schedule actually used).
    pub fn sleeps(&self) -> Vec<Duration> {
        lock(&self.state).sleeps.clone()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        lock(&self.state).now
    }
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        lock(&self.state).sleeps.push(d);
        self.advance(d);
        Box::pin(std::future::ready(()))
    }
    fn deadline(&self, d: Duration) -> BoxFuture<'static, ()> {
        let at = self.now().saturating_add(d);
        let state = Arc::clone(&self.state);
        Box::pin(std::future::poll_fn(move |cx| {
            let mut s = lock(&state);
            if s.now >= at {
                Poll::Ready(())
            } else {
                s.timers.push((at, cx.waker().clone()));
                Poll::Pending
            }
        }))
    }
}

/// Locks, ignoring poisoning: every critical section here leaves the data consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------------------------
// Policy and outcome

/// The numbers [`Guarded`] applies. `Default` suits a remote API.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// Attempts per lookup, first included (at least 1).
    pub max_attempts: u32,
    /// First backoff.
    pub backoff_base: Duration,
    /// Backoff cap.
    pub backoff_max: Duration,
    /// Longest `Retry-After` that is waited for; longer ones fail the lookup as `rate_limited`.
    pub max_retry_after: Duration,
    /// Consecutive unhealthy attempts that open the breaker (at least 1).
    pub breaker_threshold: u32,
    /// How long the breaker stays open before a probe.
    pub breaker_cool_down: Duration,
    /// TTL of cached answers with hits.
    pub ttl_hit: Duration,
    /// TTL of cached negative answers (no hits, not found).
    pub ttl_negative: Duration,
    /// Most cached indicators; 0 disables the cache.
    pub cache_capacity: usize,
    /// Seed of the jitter generator; `None` seeds it randomly.
    pub jitter_seed: Option<u64>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            timeout: Duration::from_secs(10),
            max_attempts: 3,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(10),
            breaker_threshold: 5,
            breaker_cool_down: Duration::from_secs(30),
            ttl_hit: Duration::from_secs(24 * 3600),
            ttl_negative: Duration::from_secs(3600),
            cache_capacity: 10_000,
            jitter_seed: None,
        }
    }
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The guard's cache.
    Cache,
    /// The provider, just now.
    Network,
}

/// What one guarded lookup came to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// The provider answered; `hits` may be empty (known, nothing against it).
    Answered {
        /// Cache or network.
        origin: Origin,
        /// What it said.
        hits: Vec<IntelHit>,
    },
    /// The provider does not know the indicator (a negative answer).
    NotFound {
        /// Cache or network.
        origin: Origin,
    },
    /// The provider does not handle this kind; it was not asked.
    Unsupported,
    /// The lookup failed; `error` says why.
    Failed {
        /// The last error (for a breaker that is open: `unavailable`).
        error: ProviderError,
    },
}

/// One provider's answer for one indicator, as attached to a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The provider's name.
    pub provider: String,
    /// The indicator looked up.
    pub indicator: Indicator,
    /// What happened.
    #[serde(flatten)]
    pub status: Status,
    /// Calls made to the provider (0: cache, unsupported, or breaker open).
    pub attempts: u32,
    /// Time spent, by the guard's clock.
    pub elapsed_ms: u64,
}

impl Outcome {
    /// The hits (empty unless answered with hits).
    pub fn hits(&self) -> &[IntelHit] {
        match &self.status {
            Status::Answered { hits, .. } => hits,
            _ => &[],
        }
    }

    /// The error, when the lookup failed.
    pub fn error(&self) -> Option<&ProviderError> {
        match &self.status {
            Status::Failed { error } => Some(error),
            _ => None,
        }
    }

    /// Where the answer came from, when there was one.
    pub fn origin(&self) -> Option<Origin> {
        match &self.status {
            Status::Answered { origin, .. } | Status::NotFound { origin } => Some(*origin),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cache

#[derive(Debug, Clone)]
enum Cached {
    Hits(Vec<IntelHit>),
    NotFound,
}

#[derive(Debug)]
struct Entry {
    value: Cached,
    expires: Duration,
    generation: u64,
}

/// Bounded TTL cache; eviction: expired first, then oldest inserted.
#[derive(Debug, Default)]
struct Cache {
    map: HashMap<Indicator, Entry>,
    order: VecDeque<(Indicator, u64)>,
    next_generation: u64,
}

impl Cache {
    fn get(&mut self, key: &Indicator, now: Duration) -> Option<Cached> {
        let expired = match self.map.get(key) {
            None => return None,
            Some(e) if e.expires > now => return Some(e.value.clone()),
            Some(_) => true,
        };
        if expired {
            self.map.remove(key);
        }
        None
    }

    fn insert(
        &mut self,
        key: Indicator,
        value: Cached,
        expires: Duration,
        now: Duration,
        cap: usize,
    ) {
        if cap == 0 {
            return;
        }
        if !self.map.contains_key(&key) && self.map.len() >= cap {
            self.map.retain(|_, e| e.expires > now);
            while self.map.len() >= cap {
                let Some((old, generation)) = self.order.pop_front() else {
                    break;
                };
                if self
                    .map
                    .get(&old)
                    .is_some_and(|e| e.generation == generation)
                {
                    self.map.remove(&old);
                }
            }
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        self.order.push_back((key.clone(), generation));
        self.map.insert(
            key,
            Entry {
                value,
                expires,
                generation,
            },
        );
        // Re-inserted and expired keys leave stale entries in `order`; compact it so it stays
        // proportional to the map.
        if self.order.len() > 2 * cap.max(16) {
            let map = &self.map;
            self.order
                .retain(|(k, g)| map.get(k).is_some_and(|e| e.generation == *g));
        }
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

// ---------------------------------------------------------------------------------------------
// Breaker

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Breaker {
    Closed {
        failures: u32,
    },
    Open {
        until: Duration,
    },
    /// One probe is in flight since `since`; a probe older than a cool-down is presumed lost
    /// (its future dropped) and another is let through.
    HalfOpen {
        since: Duration,
    },
}

/// The breaker's state, for health reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls fail fast.
    Open,
    /// A probe is in flight, or the cool-down is over and the next call is the probe.
    HalfOpen,
}

// ---------------------------------------------------------------------------------------------
// Guarded

/// A provider behind cache, timeout, retries and a circuit breaker (see the module docs).
pub struct Guarded<P> {
    provider: P,
    policy: Policy,
    clock: Arc<dyn Clock>,
    cache: Mutex<Cache>,
    breaker: Mutex<Breaker>,
    rng: Mutex<u64>,
}

impl<P: Provider> Guarded<P> {
    /// Guards `provider` with `policy`, timing with `clock`.
    pub fn new(provider: P, policy: Policy, clock: Arc<dyn Clock>) -> Guarded<P> {
        let seed = policy.jitter_seed.unwrap_or_else(|| {
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        });
        Guarded {
            provider,
            policy,
            clock,
            cache: Mutex::new(Cache::default()),
            breaker: Mutex::new(Breaker::Closed { failures: 0 }),
            rng: Mutex::new(seed),
        }
    }

    /// The wrapped provider.
    pub fn provider(&self) -> &P {
        &self.provider
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Cached indicators (expired ones included until touched or evicted).
    pub fn cache_len(&self) -> usize {
        lock(&self.cache).len()
    }

    /// The breaker's state now.
    pub fn breaker_state(&self) -> BreakerState {
        let now = self.clock.now();
        match *lock(&self.breaker) {
            Breaker::Closed { .. } => BreakerState::Closed,
            Breaker::Open { until } if now < until => BreakerState::Open,
            Breaker::Open { .. } | Breaker::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Looks `indicator` up: cache, else the provider under timeout, retries and breaker.
    pub async fn lookup(&self, indicator: &Indicator) -> Outcome {
        let started = self.clock.now();
        let (status, attempts) = self.run(indicator).await;
        let elapsed = self.clock.now().saturating_sub(started);
        Outcome {
            provider: self.provider.name().to_string(),
            indicator: indicator.clone(),
            status,
            attempts,
            elapsed_ms: millis(elapsed),
        }
    }

    async fn run(&self, indicator: &Indicator) -> (Status, u32) {
        if !self.provider.supports(indicator.kind) {
            return (Status::Unsupported, 0);
        }
        let now = self.clock.now();
        match lock(&self.cache).get(indicator, now) {
            Some(Cached::Hits(hits)) => {
                return (
                    Status::Answered {
                        origin: Origin::Cache,
                        hits,
                    },
                    0,
                )
            }
            Some(Cached::NotFound) => {
                return (
                    Status::NotFound {
                        origin: Origin::Cache,
                    },
                    0,
                )
            }
            None => {}
        }

        let max_attempts = self.policy.max_attempts.max(1);
        let mut attempts = 0u32;
        let mut last_error: Option<ProviderError> = None;
        loop {
            if let Err(open) = self.admit() {
                // Report the real failure when this lookup already reached the provider.
                let error = last_error.unwrap_or(open);
                return (Status::Failed { error }, attempts);
            }
            attempts += 1;
            let result = self.attempt(indicator).await;
            self.record(&result);
            let error = match result {
                Ok(hits) => {
                    let ttl = if hits.is_empty() {
                        self.policy.ttl_negative
                    } else {
                        self.policy.ttl_hit
                    };
                    self.store(indicator, Cached::Hits(hits.clone()), ttl);
                    let origin = Origin::Network;
                    return (Status::Answered { origin, hits }, attempts);
                }
                Err(ProviderError::NotFound) => {
                    self.store(indicator, Cached::NotFound, self.policy.ttl_negative);
                    let origin = Origin::Network;
                    return (Status::NotFound { origin }, attempts);
                }
                Err(e) => e,
            };
            if !error.is_retryable() || attempts >= max_attempts {
                return (Status::Failed { error }, attempts);
            }
            let wait = match &error {
                ProviderError::RateLimited {
                    retry_after_ms: Some(ms),
                } => {
                    let wait = Duration::from_millis(*ms);
                    if wait > self.policy.max_retry_after {
                        return (Status::Failed { error }, attempts);
                    }
                    wait
                }
                _ => self.backoff(attempts),
            };
            last_error = Some(error);
            self.clock.sleep(wait).await;
        }
    }

    /// One call to the provider, raced against the timeout.
    async fn attempt(&self, indicator: &Indicator) -> Result<Vec<IntelHit>, ProviderError> {
        let timeout = self.policy.timeout;
        let mut call = self.provider.lookup(indicator);
        let mut deadline = self.clock.deadline(timeout);
        std::future::poll_fn(|cx: &mut Context<'_>| {
            if let Poll::Ready(r) = call.as_mut().poll(cx) {
                return Poll::Ready(r);
            }
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(ProviderError::Timeout {
                    after_ms: millis(timeout),
                }));
            }
            Poll::Pending
        })
        .await
    }

    fn store(&self, indicator: &Indicator, value: Cached, ttl: Duration) {
        let now = self.clock.now();
        lock(&self.cache).insert(
            indicator.clone(),
            value,
            now.saturating_add(ttl),
            now,
            self.policy.cache_capacity,
        );
    }

    /// Lets a call through, or says why not.
    fn admit(&self) -> Result<(), ProviderError> {
        let now = self.clock.now();
        let cool_down = self.policy.breaker_cool_down;
        let mut b = lock(&self.breaker);
        match *b {
            Breaker::Closed { .. } => Ok(()),
            Breaker::Open { until } if now < until => Err(ProviderError::Unavailable {
                retry_in_ms: millis(until - now),
            }),
            Breaker::Open { .. } => {
                *b = Breaker::HalfOpen { since: now };
                Ok(())
            }
            Breaker::HalfOpen { since } if now.saturating_sub(since) >= cool_down => {
                *b = Breaker::HalfOpen { since: now };
                Ok(())
            }
            Breaker::HalfOpen { since } => Err(ProviderError::Unavailable {
                retry_in_ms: millis((since + cool_down).saturating_sub(now)),
            }),
        }
    }

    /// Feeds one attempt's result to the breaker.
    fn record(&self, result: &Result<Vec<IntelHit>, ProviderError>) {
        let now = self.clock.now();
        let threshold = self.policy.breaker_threshold.max(1);
        let open = Breaker::Open {
            until: now.saturating_add(self.policy.breaker_cool_down),
        };
        let mut b = lock(&self.breaker);
        let healthy = match result {
            Ok(_) | Err(ProviderError::NotFound) => true,
            Err(e) if e.counts_for_breaker() => false,
            // Quota, auth, offline...: says nothing about the upstream's health. A half-open
            // probe ending so frees the slot for the next probe.
            Err(_) => {
                if let Breaker::HalfOpen { .. } = *b {
                    *b = Breaker::Open { until: now };
                }
                return;
            }
        };
        *b = match (*b, healthy) {
            (_, true) => Breaker::Closed { failures: 0 },
            (Breaker::Closed { failures }, false) if failures + 1 < threshold => Breaker::Closed {
                failures: failures + 1,
            },
            (_, false) => open,
        };
    }

    /// Backoff before attempt `attempts + 1`: equal jitter over the exponential delay.
    fn backoff(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(31);
        let full = self
            .policy
            .backoff_base
            .saturating_mul(1u32 << exp)
            .min(self.policy.backoff_max);
        let half = full / 2;
        let r = next_random(&mut lock(&self.rng));
        // r / 2^64 in [0, 1): the random half.
        let jitter = half.as_nanos().saturating_mul(u128::from(r)) >> 64;
        let jitter_nanos = u64::try_from(jitter).unwrap_or(u64::MAX);
        half + Duration::from_nanos(jitter_nanos)
    }
}

/// splitmix64: small, good enough for jitter, no dependency.
fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ind(v: &str) -> Indicator {
        Indicator::guess(v).expect("valid indicator")
    }

    #[test]
    fn cache_evicts_expired_then_oldest() {
        let mut c = Cache::default();
        let s = Duration::from_secs;
        c.insert(ind("192.0.2.1"), Cached::NotFound, s(10), s(0), 2);
        c.insert(ind("192.0.2.2"), Cached::NotFound, s(100), s(0), 2);
        // At t=20 the first has expired: it goes, the second stays.
        c.insert(ind("192.0.2.3"), Cached::NotFound, s(100), s(20), 2);
        assert!(c.get(&ind("192.0.2.2"), s(20)).is_some());
        assert!(c.get(&ind("192.0.2.1"), s(20)).is_none());
        // Full, nothing expired: the oldest inserted (192.0.2.2) goes.
        c.insert(ind("192.0.2.4"), Cached::NotFound, s(100), s(21), 2);
        assert!(c.get(&ind("192.0.2.2"), s(21)).is_none());
        assert!(c.get(&ind("192.0.2.3"), s(21)).is_some());
        assert!(c.get(&ind("192.0.2.4"), s(21)).is_some());
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn cache_order_stays_bounded_under_reinserts() {
        let mut c = Cache::default();
        for i in 0..10_000u64 {
            c.insert(
                ind("192.0.2.1"),
                Cached::NotFound,
                Duration::from_secs(i + 1),
                Duration::from_secs(i),
                4,
            );
        }
        assert_eq!(c.len(), 1);
        assert!(
            c.order.len() <= 2 * 16 + 1,
            "order grew to {}",
            c.order.len()
        );
    }

    #[test]
    fn random_is_deterministic_per_seed() {
        let (mut a, mut b) = (7u64, 7u64);
        let xs: Vec<u64> = (0..4).map(|_| next_random(&mut a)).collect();
        let ys: Vec<u64> = (0..4).map(|_| next_random(&mut b)).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs[0], xs[1]);
    }
}

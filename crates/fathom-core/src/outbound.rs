//! The policy of every outbound call (mail, webhooks, brokers) in one place: a circuit
//! [`Breaker`] per destination, the [`Backoff`] schedule of retries (exponential with full
//! jitter), and [`retry_after`], the parsing of an HTTP `Retry-After` header.
//!
//! Nothing here does I/O or reads a clock: callers pass `Instant`s, the current time and the
//! random draw, so the policy is the same in production and in tests.

use std::time::{Duration, Instant};

use time::OffsetDateTime;

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through; failures are counted.
    Closed,
    /// Calls are refused until the cool-down ends.
    Open,
    /// The cool-down ended: one probe call may go through; its outcome closes or reopens.
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }

    /// The state as the `fathom_outbound_breaker_state` gauge reports it: 0 closed, 1
    /// half-open, 2 open (higher is worse, so an alert can compare).
    pub fn gauge(self) -> i64 {
        match self {
            Self::Closed => 0,
            Self::HalfOpen => 1,
            Self::Open => 2,
        }
    }

    /// The state named by [`BreakerState::as_str`] (a broker sink's report keeps the name);
    /// anything else reads closed.
    pub fn from_name(name: &str) -> Self {
        match name {
            "open" => Self::Open,
            "half_open" => Self::HalfOpen,
            _ => Self::Closed,
        }
    }
}

/// A circuit breaker for one destination: opens after `threshold` consecutive failures, lets
/// one probe through once `cooldown` has passed (half-open), closes on that probe's success and
/// reopens (for another cool-down) on its failure. Not synchronised: wrap it in a lock to share.
#[derive(Debug, Clone)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    failures: u32,
    opened_at: Option<Instant>,
    probing: bool,
}

impl Breaker {
    /// `threshold` is at least 1.
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            failures: 0,
            opened_at: None,
            probing: false,
        }
    }

    /// The state at `now` (an open breaker whose cool-down has passed reads half-open).
    pub fn state(&self, now: Instant) -> BreakerState {
        match self.opened_at {
            None => BreakerState::Closed,
            Some(at) if self.probing || now.saturating_duration_since(at) >= self.cooldown => {
                BreakerState::HalfOpen
            }
            Some(_) => BreakerState::Open,
        }
    }

    /// Consecutive failures since the last success.
    pub fn consecutive_failures(&self) -> u32 {
        self.failures
    }

    /// When an open breaker will let a probe through (`None` unless open).
    pub fn retry_at(&self, now: Instant) -> Option<Instant> {
        match (self.state(now), self.opened_at) {
            (BreakerState::Open, Some(at)) => Some(at + self.cooldown),
            _ => None,
        }
    }

    /// Asks to make a call at `now`. Closed: yes. Open: no. Half-open: yes for the first caller
    /// (the probe), no for the others until the probe's outcome is reported.
    pub fn try_call(&mut self, now: Instant) -> bool {
        match self.state(now) {
            BreakerState::Closed => true,
            BreakerState::Open => false,
            BreakerState::HalfOpen if self.probing => false,
            BreakerState::HalfOpen => {
                self.probing = true;
                true
            }
        }
    }

    /// Reports a successful call: the breaker closes and the failure count restarts.
    pub fn success(&mut self) {
        self.failures = 0;
        self.opened_at = None;
        self.probing = false;
    }

    /// Reports a failed call at `now`: a failed probe reopens the breaker; a closed breaker
    /// opens once the consecutive failures reach the threshold.
    pub fn failure(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        if self.probing || self.opened_at.is_some() || self.failures >= self.threshold {
            self.opened_at = Some(now);
        }
        self.probing = false;
    }
}

/// A retry schedule: retry `n` (0 for the first retry) waits a uniformly random time in
/// `[0, min(cap, base * 2^n)]` ("full jitter"), for at most `retries` retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    pub retries: u32,
}

impl Backoff {
    /// The longest wait before retry `n`: `min(cap, base * 2^n)`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The wait before retry `n` for a random draw `unit` in `[0, 1)`; `None` once the retries
    /// are spent.
    pub fn delay(&self, retry: u32, unit: f64) -> Option<Duration> {
        (retry < self.retries).then(|| self.ceiling(retry).mul_f64(unit.clamp(0.0, 1.0)))
    }

    /// [`Backoff::delay`] with a draw from the operating system's random source.
    pub fn jittered(&self, retry: u32) -> Option<Duration> {
        self.delay(retry, random_unit())
    }

    /// The longest the whole schedule can take (every wait at its ceiling); on average it
    /// takes half of this.
    pub fn max_span(&self) -> Duration {
        (0..self.retries).map(|n| self.ceiling(n)).sum()
    }
}

/// A uniform draw in `[0, 1)` from the operating system's random source (0 if it fails, which
/// only shortens one wait).
pub fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.0;
    }
    // 53 random bits: every value is exact in an f64.
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// Parses a `Retry-After` value (RFC 9110 §10.2.3): delta-seconds, or an HTTP-date (the
/// preferred IMF-fixdate form, and the obsolete RFC 850 and asctime forms), as a wait from
/// `now`. A date in the past is no wait; anything else is `None`.
pub fn retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long values saturate rather than fail: the caller caps the wait anyway.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = http_date(value)?;
    let wait = at - now;
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

fn http_date(value: &str) -> Option<OffsetDateTime> {
    use time::format_description::FormatItem;
    use time::macros::format_description;
    const FORMS: [&[FormatItem<'static>]; 2] = [
        // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        ),
        // asctime: Sun Nov  6 08:49:37 1994
        format_description!(
            "[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] [year]"
        ),
    ];
    FORMS
        .iter()
        .find_map(|form| time::PrimitiveDateTime::parse(value, form).ok())
        .map(time::PrimitiveDateTime::assume_utc)
        .or_else(|| rfc850(value))
}

/// RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) dates carry two-digit years; RFC 9110 reads one
/// more than 50 years ahead as the past century. `time` cannot parse a two-digit year into a date, so the year is fixed here.
fn rfc850(value: &str) -> Option<OffsetDateTime> {
    let (_, rest) = value.split_once(", ")?;
    let mut parts = rest.splitn(3, ' ');
    let date = parts.next()?;
    let clock = parts.next()?;
    if parts.next()? != "GMT" {
        return None;
    }
    let mut fields = date.split('-');
    let (day, month, year) = (fields.next()?, fields.next()?, fields.next()?);
    if year.len() != 2 {
        return None;
    }
    let year: i32 = year.parse().ok()?;
    let now_year = OffsetDateTime::now_utc().year();
    let mut full = now_year - now_year % 100 + year;
    if full > now_year + 50 {
        full -= 100;
    }
    let rebuilt = format!("{day} {month} {full} {clock}");
    let form = time::macros::format_description!(
        "[day] [month repr:short] [year] [hour]:[minute]:[second]"
    );
    time::PrimitiveDateTime::parse(&rebuilt, &form)
        .ok()
        .map(|t| t.assume_utc())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use time::macros::datetime;

    #[test]
    fn breaker_opens_after_the_threshold_probes_once_after_the_cooldown_and_closes() {
        let t0 = Instant::now();
        let mut b = Breaker::new(3, Duration::from_secs(10));
        for _ in 0..2 {
            assert!(b.try_call(t0));
            b.failure(t0);
        }
        assert_eq!(b.state(t0), BreakerState::Closed);
        assert!(b.try_call(t0));
        b.failure(t0);
        assert_eq!(b.state(t0), BreakerState::Open);
        assert_eq!(b.consecutive_failures(), 3);
        assert!(!b.try_call(t0 + Duration::from_secs(9)));
        assert_eq!(b.retry_at(t0), Some(t0 + Duration::from_secs(10)));
        let later = t0 + Duration::from_secs(10);
        assert_eq!(b.state(later), BreakerState::HalfOpen);
        assert!(b.try_call(later), "one probe goes through");
        assert!(!b.try_call(later), "only one");
        b.success();
        assert_eq!(b.state(later), BreakerState::Closed);
        assert_eq!(b.consecutive_failures(), 0);
    }

    #[test]
    fn a_failed_probe_reopens_for_another_cooldown() {
        let t0 = Instant::now();
        let mut b = Breaker::new(1, Duration::from_secs(5));
        b.failure(t0);
        let probe = t0 + Duration::from_secs(6);
        assert!(b.try_call(probe));
        b.failure(probe);
        assert_eq!(b.state(probe), BreakerState::Open);
        assert!(!b.try_call(probe + Duration::from_secs(4)));
        assert!(b.try_call(probe + Duration::from_secs(5)));
    }

    #[test]
    fn states_read_back_from_their_names_and_order_as_gauge_values() {
        for state in [
            BreakerState::Closed,
            BreakerState::HalfOpen,
            BreakerState::Open,
        ] {
            assert_eq!(BreakerState::from_name(state.as_str()), state);
        }
        assert_eq!(BreakerState::from_name("nonsense"), BreakerState::Closed);
        assert_eq!(
            [
                BreakerState::Closed,
                BreakerState::HalfOpen,
                BreakerState::Open
            ]
            .map(BreakerState::gauge),
            [0, 1, 2]
        );
    }

    #[test]
    fn a_success_between_failures_resets_the_count() {
        let t0 = Instant::now();
        let mut b = Breaker::new(2, Duration::from_secs(5));
        b.failure(t0);
        b.success();
        b.failure(t0);
        assert_eq!(b.state(t0), BreakerState::Closed);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_full_jitter_and_ends() {
        let b = Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(10),
            retries: 6,
        };
        let ceilings: Vec<u64> = (0..6).map(|n| b.ceiling(n).as_secs()).collect();
        assert_eq!(ceilings, [1, 2, 4, 8, 10, 10]);
        assert_eq!(b.delay(3, 0.0), Some(Duration::ZERO));
        assert_eq!(b.delay(3, 0.5), Some(Duration::from_secs(4)));
        assert_eq!(b.delay(6, 0.5), None);
        assert_eq!(b.max_span(), Duration::from_secs(35));
        for n in 0..6 {
            let d = b.jittered(n).unwrap();
            assert!(d <= b.ceiling(n));
        }
        // Huge retry numbers saturate instead of overflowing.
        let long = Backoff { retries: 100, ..b };
        assert_eq!(long.ceiling(99), Duration::from_secs(10));
    }

    #[test]
    fn random_unit_draws_are_in_range_and_vary() {
        let draws: Vec<f64> = (0..64).map(|_| random_unit()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        assert!(draws.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn retry_after_reads_seconds_and_every_http_date_form() {
        let now = datetime!(1994-11-06 08:49:00 UTC);
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        let in_37 = Some(Duration::from_secs(37));
        assert_eq!(retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), in_37);
        assert_eq!(retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), in_37);
        assert_eq!(retry_after("Sun Nov  6 08:49:37 1994", now), in_37);
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO),
            "a past date is no wait"
        );
        for bad in [
            "",
            "-1",
            "1.5",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "99999999999999999999x",
        ] {
            assert_eq!(retry_after(bad, now), None, "{bad:?}");
        }
        assert_eq!(
            retry_after("99999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }
}

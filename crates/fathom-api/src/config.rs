//! The HTTP-level settings the router needs (a slice of the server's configuration).

use std::time::Duration;

use crate::metrics::MetricsToken;

/// Limits and policies applied to every request.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// Deepest accepted nesting of arrays and objects in a JSON body.
    pub json_depth_limit: usize,
    /// A request that takes longer is answered with 503 `request_timeout`.
    pub request_timeout: Duration,
    /// A request whose write has reached the database is given this long in all (at least
    /// `request_timeout`) to learn the write's outcome; past it, 504 `write_outcome_unknown`.
    pub write_timeout: Duration,
    /// Origins allowed by CORS. Empty denies every cross-origin request; `*` allows any origin.
    pub cors_origins: Vec<String>,
    /// Send `Strict-Transport-Security` (turn on when clients reach Fathom over TLS).
    pub hsts: bool,
    /// Page size when a list request gives no `limit`.
    pub default_page_size: u32,
    /// The largest `limit` a list request may ask for.
    pub max_page_size: u32,
    /// How long the response to a write with an `Idempotency-Key` is kept for replay.
    pub idempotency_ttl: Duration,
    /// Whether metrics are recorded, and whether the main listener serves `/metrics`.
    pub metrics: MetricsExposure,
    /// Which requests get a log line (`log.requests`).
    pub request_log: RequestLog,
    /// The most bytes of answers the result cache holds (`cache.max_bytes`); `0` caches nothing
    /// whatever the schema says.
    pub cache_max_bytes: u64,
    /// How client advice records reads and when it flags a pattern (`architect.clients`).
    pub client_advice: crate::ClientAdviceSettings,
}

/// How this node exposes its metrics.
#[derive(Debug, Clone, Default)]
pub enum MetricsExposure {
    /// No metrics are recorded, and there is no `/metrics`.
    #[default]
    Off,
    /// Recorded, and served on a listener of their own (`metrics.listen`), not by the router.
    Listener,
    /// Recorded, and served at `/metrics` on the main listener behind this bearer token
    /// (`metrics.token_file`); also on the metrics listener when `listen` is set too.
    Token { token: MetricsToken, listener: bool },
}

impl MetricsExposure {
    pub fn enabled(&self) -> bool {
        !matches!(self, Self::Off)
    }
}

/// Which requests get their log line (`log.requests`); other log lines are not affected. A 5xx
/// is always logged, whatever the setting: its line carries the internal cause, logged nowhere
/// else.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum RequestLog {
    /// Every request.
    #[default]
    All,
    /// None (5xx aside).
    Off,
    /// Only answers with a status of 400 or more, and time-limit answers.
    Errors,
    /// This fraction of requests (0 < f < 1), evenly spread: every (1/f)-th request, so the
    /// volume is exact and no random number is drawn per request.
    Sample(f64),
}

impl RequestLog {
    /// Parses `all`, `off`, `errors` or a fraction such as `0.1`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "all" => Ok(Self::All),
            "off" => Ok(Self::Off),
            "errors" => Ok(Self::Errors),
            other => match other.parse::<f64>() {
                Ok(f) if f >= 1.0 => Ok(Self::All),
                Ok(f) if f <= 0.0 => Ok(Self::Off),
                Ok(f) if f.is_finite() => Ok(Self::Sample(f)),
                _ => Err(format!(
                    "{other:?} is not a request log setting; use \"all\", \"off\", \"errors\" or a fraction between 0 and 1 such as \"0.1\""
                )),
            },
        }
    }

    /// Whether the `n`-th request (counting from 1) with this `status` is logged.
    pub fn logs(self, n: u64, status: u16, timed_out: bool) -> bool {
        if status >= 500 {
            return true;
        }
        match self {
            Self::All => true,
            Self::Off => false,
            Self::Errors => status >= 400 || timed_out,
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss
            )]
            Self::Sample(f) => {
                // Logged when the running total of `f` crosses an integer.
                ((n as f64) * f).floor() as u64 != (((n - 1) as f64) * f).floor() as u64
            }
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit_bytes: 1024 * 1024,
            json_depth_limit: 32,
            request_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(60),
            cors_origins: Vec::new(),
            hsts: false,
            default_page_size: 20,
            max_page_size: 100,
            idempotency_ttl: Duration::from_secs(24 * 3600),
            metrics: MetricsExposure::Off,
            request_log: RequestLog::All,
            cache_max_bytes: 64 * 1024 * 1024,
            client_advice: crate::ClientAdviceSettings::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_log_settings_parse_and_sample_evenly() {
        assert_eq!(RequestLog::parse("all"), Ok(RequestLog::All));
        assert_eq!(RequestLog::parse("off"), Ok(RequestLog::Off));
        assert_eq!(RequestLog::parse("errors"), Ok(RequestLog::Errors));
        assert_eq!(RequestLog::parse("0.25"), Ok(RequestLog::Sample(0.25)));
        assert_eq!(RequestLog::parse("1"), Ok(RequestLog::All));
        assert_eq!(RequestLog::parse("0"), Ok(RequestLog::Off));
        assert!(RequestLog::parse("some").is_err());
        let sampled = (1..=1000)
            .filter(|&n| RequestLog::Sample(0.1).logs(n, 200, false))
            .count();
        assert_eq!(sampled, 100);
        assert!(
            RequestLog::Off.logs(7, 500, false),
            "a 5xx is always logged"
        );
        assert!(!RequestLog::Off.logs(7, 404, false));
        assert!(RequestLog::Errors.logs(7, 404, false));
        assert!(!RequestLog::Errors.logs(7, 200, false));
        assert!(RequestLog::Errors.logs(7, 200, true));
    }
}

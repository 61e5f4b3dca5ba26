//! [`Throttle`]: the guessing defence as the handlers use it. With `redis.url` set its counts
//! live in Redis, so that a guesser spreading attempts over the nodes of a cluster meets one
//! defence, not one per node: per account (keyed by a SHA-256 of the email, so Redis holds no
//! addresses of accounts) a hash of `address → "failures:last ms"`, the account's failures from
//! unknown addresses, and a marker per address that signed in. Each step is one Lua script on
//! Redis's clock with the windows of [`LoginThrottle`], and the decision is the same `judge`.
//! Redis down (or none): the node's own [`LoginThrottle`].

use std::net::IpAddr;
use std::sync::LazyLock;
use std::time::Duration;

use fathom_limits::{Limiter, Script};
use sha2::{Digest, Sha256};

use super::{Gate, KNOWN_FOR, LoginThrottle, address, judge};

/// `live(v)`: the failure count in `"count:last"` if its last failure is within the window.
const PRELUDE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
local function live(v)
  if not v then return 0 end
  local count, last = string.match(v, '(%d+):(%d+)')
  if count and now - tonumber(last) < window then return tonumber(count) end
  return 0
end
";

/// KEYS: pairs hash, known marker, account counter; ARGV: address, window ms.
static GATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{PRELUDE}
return {{live(redis.call('HGET', KEYS[1], ARGV[1])), redis.call('EXISTS', KEYS[2]),
        live(redis.call('GET', KEYS[3]))}}"
    ))
});

/// KEYS: pairs hash, account counter; ARGV: address, window ms, 1 to count for the account.
static FAILED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{PRELUDE}
local pair = live(redis.call('HGET', KEYS[1], ARGV[1])) + 1
redis.call('HSET', KEYS[1], ARGV[1], pair .. ':' .. now)
redis.call('PEXPIRE', KEYS[1], window)
if ARGV[3] == '1' then
  local account = live(redis.call('GET', KEYS[2])) + 1
  redis.call('SET', KEYS[2], account .. ':' .. now, 'PX', window)
end
return {{pair}}"
    ))
});

/// KEYS: pairs hash, known marker; ARGV: address, known-for ms.
static SUCCEEDED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return {1}",
    )
});

/// KEYS: pairs hash, account counter.
static FORGET: LazyLock<Script> =
    LazyLock::new(|| Script::new("redis.call('DEL', KEYS[1], KEYS[2])\nreturn {1}"));

/// The guessing defence: in Redis when configured and answering, on the node otherwise.
pub struct Throttle {
    local: LoginThrottle,
    limiter: Limiter,
}

/// The Redis keys of an account: its pairs hash and its counter of unknown-address failures.
struct Keys {
    pairs: String,
    account: String,
    account_hash: String,
}

impl Keys {
    fn of(email: &str) -> Self {
        let digest = Sha256::digest(email.as_bytes());
        let account_hash: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            pairs: format!("thr:p:{account_hash}"),
            account: format!("thr:a:{account_hash}"),
            account_hash,
        }
    }

    fn known(&self, ip: IpAddr) -> String {
        format!("thr:k:{}:{ip}", self.account_hash)
    }
}

fn millis(d: Duration) -> String {
    d.as_millis().to_string()
}

fn count(value: Option<&i64>) -> u32 {
    value.map_or(0, |v| u32::try_from(*v).unwrap_or(u32::MAX))
}

impl Throttle {
    pub fn new(local: LoginThrottle, limiter: Limiter) -> Self {
        Self { local, limiter }
    }

    /// How to treat a guess for `email` from `ip`.
    pub async fn gate(&self, email: &str, ip: Option<IpAddr>) -> Gate {
        let keys = Keys::of(email);
        let ip = address(ip);
        let known = keys.known(ip);
        let args = [ip.to_string(), millis(self.local.window)];
        match self
            .limiter
            .run(&GATE, &[&keys.pairs, &known, &keys.account], &args)
            .await
        {
            Some(values) => judge(
                self.local.threshold,
                count(values.first()),
                count(values.get(1)) > 0,
                count(values.get(2)),
            ),
            None => self.local.gate(email, Some(ip)),
        }
    }

    /// Records a wrong password for `email` from `ip`; `true` when it makes this address
    /// refused for the account (once per lock, for the audit log).
    pub async fn failed(&self, email: &str, ip: Option<IpAddr>, known: bool) -> bool {
        let keys = Keys::of(email);
        let ip = address(ip);
        let args = [
            ip.to_string(),
            millis(self.local.window),
            if known { "0" } else { "1" }.to_owned(),
        ];
        match self
            .limiter
            .run(&FAILED, &[&keys.pairs, &keys.account], &args)
            .await
        {
            Some(values) => count(values.first()) == self.local.threshold,
            None => self.local.failed(email, Some(ip), known),
        }
    }

    /// Records a sign-in to `email` from `ip`: the address is the owner's from now on, and its
    /// own failures are forgotten.
    pub async fn succeeded(&self, email: &str, ip: Option<IpAddr>) {
        let keys = Keys::of(email);
        let ip = address(ip);
        let known = keys.known(ip);
        let args = [ip.to_string(), millis(KNOWN_FOR)];
        if self
            .limiter
            .run(&SUCCEEDED, &[&keys.pairs, &known], &args)
            .await
            .is_none()
        {
            self.local.succeeded(email, Some(ip));
        }
    }

    /// Forgets every failure counted for `email` (after a password reset), wherever counted.
    pub async fn forget_account(&self, email: &str) {
        let keys = Keys::of(email);
        self.limiter
            .run(&FORGET, &[&keys.pairs, &keys.account], &[])
            .await;
        self.local.forget_account(email);
    }
}

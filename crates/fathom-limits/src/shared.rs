//! [`Shared`]: limits counted in Redis, so that every node of a cluster draws on one budget.
//! Each check is one call of one Lua script (the GCRA of `gcra.rs`, on Redis's own clock, so
//! the nodes' clocks do not matter), atomic by Redis's nature.
//!
//! Redis down: the first call that fails (or takes longer than [`TIMEOUT`]) marks it down, logs
//! it once and starts a probe; until the probe gets an answer every check is counted on the node
//! alone ([`crate::LocalTable`]), so requests are never refused, or slowed, for want of Redis.
//! When Redis answers again the probe marks it up and logs that too.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::Quota;
use crate::gcra::Outcome;

/// The longest a check waits for Redis before counting on the node instead.
pub const TIMEOUT: Duration = Duration::from_millis(250);
/// How often a probe asks a Redis that is down.
const PROBE_EVERY: Duration = Duration::from_millis(500);

/// The GCRA of `gcra::decide`, in microseconds on Redis's clock. KEYS[1]: the client's TAT;
/// ARGV: the period and the window. Returns allowed (0/1), remaining, reset and retry-after.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local period = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + period
local used = new_tat - now
if used > window then
  return {0, 0, tat - now, used - window}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.floor(used / 1000) + 1)
return {1, math.floor((window - used) / period), used, 0}
";

pub struct Shared {
    manager: ConnectionManager,
    prefix: String,
    gcra: redis::Script,
    up: AtomicBool,
    probing: AtomicBool,
    /// Times Redis was found down.
    outages: AtomicU64,
}

impl Shared {
    /// A handle on the Redis at `url`, connected on first use. Keys start with `prefix:`.
    pub fn open(url: &str, prefix: &str) -> Result<Arc<Self>, String> {
        let client = redis::Client::open(url)
            .map_err(|e| format!("redis.url is not a Redis URL ({})", e.category()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(TIMEOUT);
        let manager = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| format!("redis.url cannot be used ({})", e.category()))?;
        Ok(Arc::new(Self {
            manager,
            prefix: prefix.to_owned(),
            gcra: redis::Script::new(GCRA),
            up: AtomicBool::new(true),
            probing: AtomicBool::new(false),
            outages: AtomicU64::new(0),
        }))
    }

    /// Whether Redis answered the last call.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Times Redis was found down since start.
    pub fn outages(&self) -> u64 {
        self.outages.load(Ordering::Relaxed)
    }

    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.prefix)
    }

    /// Counts one request under `key`; `None` when Redis is down (count on the node).
    pub async fn check(self: &Arc<Self>, key: &str, quota: &Quota) -> Option<Outcome> {
        if !self.is_up() {
            return None;
        }
        let mut invocation = self.gcra.key(self.key(key));
        invocation
            .arg(quota.period_micros())
            .arg(quota.window_micros());
        let mut connection = self.manager.clone();
        let (allowed, remaining, reset, retry): (u8, u64, u64, u64) = self
            .within(invocation.invoke_async(&mut connection))
            .await?;
        Some(Outcome::from_parts(allowed == 1, remaining, reset, retry))
    }

    /// Runs `script` on `keys` (each given the prefix) and `args`; `None` when Redis is down.
    pub async fn run(
        self: &Arc<Self>,
        script: &redis::Script,
        keys: &[&str],
        args: &[String],
    ) -> Option<Vec<i64>> {
        if !self.is_up() {
            return None;
        }
        let mut invocation = script.prepare_invoke();
        for key in keys {
            invocation.key(self.key(key));
        }
        for arg in args {
            invocation.arg(arg);
        }
        let mut connection = self.manager.clone();
        self.within(invocation.invoke_async(&mut connection)).await
    }

    /// Runs a Redis call under [`TIMEOUT`]; a failure marks Redis down.
    async fn within<T>(
        self: &Arc<Self>,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Option<T> {
        match tokio::time::timeout(TIMEOUT, call).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(e)) => {
                self.down(e.category());
                None
            }
            Err(_) => {
                self.down("timed out");
                None
            }
        }
    }

    fn down(self: &Arc<Self>, why: &str) {
        if self.up.swap(false, Ordering::AcqRel) {
            self.outages.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                reason = why,
                "Redis is unreachable: rate limits and the sign-in throttle are counted per node until it answers again"
            );
        }
        if !self.probing.swap(true, Ordering::AcqRel) {
            let shared = Arc::clone(self);
            tokio::spawn(async move { shared.probe().await });
        }
    }

    /// Asks Redis every [`PROBE_EVERY`] until it answers, then marks it up. Holds the handle
    /// weakly, so it ends with the server.
    async fn probe(self: Arc<Self>) {
        let weak = Arc::downgrade(&self);
        drop(self);
        loop {
            tokio::time::sleep(PROBE_EVERY).await;
            let Some(shared) = weak.upgrade() else { return };
            let mut connection = shared.manager.clone();
            let ping = redis::cmd("PING");
            let answer = tokio::time::timeout(TIMEOUT, ping.query_async::<String>(&mut connection));
            if let Ok(Ok(_)) = answer.await {
                shared.probing.store(false, Ordering::Release);
                shared.up.store(true, Ordering::Release);
                tracing::info!("Redis answers again: rate limits are shared by every node again");
                return;
            }
        }
    }
}

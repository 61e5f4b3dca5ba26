//! `[realtime]`: limits of realtime connections (SSE and WebSocket, `docs/REALTIME.md`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RealtimeConfig {
    /// Events a connection may have waiting; a client that falls further behind receives a
    /// `lagged` frame with its resume point and is disconnected.
    pub queue: usize,
    /// Subscriptions one connection may hold.
    pub max_subscriptions: usize,
    /// The largest client message in bytes (a WebSocket frame, or the SSE `subscriptions`
    /// parameter).
    pub max_message_bytes: usize,
    /// Seconds between heartbeats on an idle connection (SSE comment, WebSocket ping).
    pub heartbeat_secs: u64,
    /// The most records a subscription's snapshot may ask for.
    pub max_snapshot: u32,
    /// The most records one subscription remembers having announced (to tell `update` from
    /// `enter` and to announce `leave`); past it the subscription is closed with
    /// `subscription_overflow`.
    pub max_tracked: usize,
    /// Seconds a single-use SSE ticket stays valid.
    pub ticket_ttl_secs: u64,
    /// Realtime connections (SSE and WebSocket) one node holds at most; more are answered 503.
    pub max_connections: usize,
    /// Threads that run realtime connections, at a lower scheduling priority than requests
    /// (`None`: one per CPU; `0`: on the request threads).
    pub threads: Option<usize>,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        Self {
            queue: 1024,
            max_subscriptions: 100,
            max_message_bytes: 16 * 1024,
            heartbeat_secs: 15,
            max_snapshot: 1000,
            max_tracked: 10_000,
            ticket_ttl_secs: 30,
            max_connections: 20_000,
            threads: None,
        }
    }
}

impl RealtimeConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if !(16..=1_000_000).contains(&self.queue) {
            return invalid("realtime.queue must be between 16 and 1000000");
        }
        if !(1..=10_000).contains(&self.max_subscriptions) {
            return invalid("realtime.max_subscriptions must be between 1 and 10000");
        }
        if !(1024..=1024 * 1024).contains(&self.max_message_bytes) {
            return invalid("realtime.max_message_bytes must be between 1024 and 1048576");
        }
        if !(1..=300).contains(&self.heartbeat_secs) {
            return invalid("realtime.heartbeat_secs must be between 1 and 300");
        }
        if !(1..=10_000).contains(&self.max_snapshot) {
            return invalid("realtime.max_snapshot must be between 1 and 10000");
        }
        if self.max_tracked < self.max_snapshot as usize {
            return invalid(
                "realtime.max_tracked must be at least realtime.max_snapshot; hint: raise max_tracked or lower max_snapshot",
            );
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return invalid("realtime.max_connections must be between 1 and 1000000");
        }
        if !(1..=600).contains(&self.ticket_ttl_secs) {
            return invalid("realtime.ticket_ttl_secs must be between 1 and 600");
        }
        if self.threads.is_some_and(|t| t > 256) {
            return invalid("realtime.threads must be between 0 and 256");
        }
        Ok(())
    }

    /// The realtime threads to start: as configured, or one per CPU (their lower priority, not
    /// their number, keeps them from taking CPU that requests need).
    pub fn threads(&self) -> usize {
        self.threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    pub fn settings(&self) -> fathom_api::RealtimeSettings {
        fathom_api::RealtimeSettings {
            queue: self.queue,
            max_subscriptions: self.max_subscriptions,
            max_message_bytes: self.max_message_bytes,
            heartbeat: Duration::from_secs(self.heartbeat_secs),
            max_snapshot: self.max_snapshot,
            max_tracked: self.max_tracked,
            ticket_ttl: Duration::from_secs(self.ticket_ttl_secs),
            max_connections: self.max_connections,
            ..fathom_api::RealtimeSettings::default()
        }
    }
}

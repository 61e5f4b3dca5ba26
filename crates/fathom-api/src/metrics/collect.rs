//! [`Live`]: the metrics read at scrape time from the parts that keep their own counts (the
//! store's queues and pool, the sign-in outcomes, the rate limiters, the result cache, the
//! realtime hub, webhooks, broker sinks and mail: `outbound.rs`; after-commit hooks: `hooks.rs`), so that none of them depends on the metrics or pays for them between scrapes.

use std::sync::Arc;

use fathom_store::{Store, StoreStats};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

use crate::auth::AuthState;
use crate::realtime::Realtime;

/// Reads the node's live state on every scrape.
pub(super) struct Live {
    pub store: Store,
    pub auth: Arc<AuthState>,
    pub realtime: Arc<Realtime>,
    pub cache: Arc<crate::cache::ResultCache>,
    pub webhooks: Arc<fathom_webhooks::Webhooks>,
    pub brokers: Arc<super::outbound::BrokersSlot>,
    pub hooks: Arc<super::hooks::HooksSlot>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Live")
    }
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// One unlabelled gauge.
fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> std::fmt::Result {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// One counter (`_total` is appended), one sample per `(label value, count)`.
pub(super) fn counters(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &'static str,
    samples: &[(&str, u64)],
) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(
        name,
        help,
        None,
        prometheus_client::metrics::MetricType::Counter,
    )?;
    for (value, count) in samples {
        let labels = [(label, *value)];
        ConstCounter::new(*count).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for Live {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        self.store_metrics(&mut encoder)?;
        self.shape_metrics(&mut encoder)?;
        let sign_ins = self.auth.sign_ins.snapshot();
        counters(
            &mut encoder,
            "fathom_auth_sign_ins",
            "Password sign-ins by outcome",
            "outcome",
            &sign_ins,
        )?;
        counters(
            &mut encoder,
            "fathom_auth_throttle_events",
            "Sign-in guesses delayed by the guessing defence (throttled), and lockouts begun (lockout)",
            "kind",
            &self.auth.sign_ins.throttle_snapshot(),
        )?;
        counters(
            &mut encoder,
            "fathom_rate_limit_rejections",
            "Requests refused with 429 by a rate-limit policy",
            "policy",
            &self.auth.limiters.rejections(),
        )?;
        counters(
            &mut encoder,
            "fathom_api_rate_limit_rejections",
            "Requests refused with 429 by the data API's limits ([rate_limits]), by route class",
            "class",
            &self.auth.api_rejections.snapshot(),
        )?;
        let limiter = self.auth.limiter();
        gauge(
            &mut encoder,
            "fathom_rate_limit_shared",
            "1 while rate limits are counted in Redis for the whole cluster; 0 while counted on this node (no redis.url, or Redis down)",
            i64::from(limiter.status() == fathom_limits::Status::Shared),
        )?;
        counters(
            &mut encoder,
            "fathom_rate_limit_redis_outages",
            "Times Redis was found unreachable, so that limits fell back to per-node counts",
            "store",
            &[("redis", limiter.outages())],
        )?;
        self.cache_metrics(&mut encoder)?;
        self.realtime_metrics(&mut encoder)
    }
}

impl Live {
    /// The store's shape book (the architect): shapes held, and shapes evicted to make room.
    fn shape_metrics(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let book = self.store.shape_book();
        gauge(
            encoder,
            "fathom_query_shapes",
            "Query shapes this node's store holds in memory (at most architect.max_shapes)",
            to_i64(book.len()),
        )?;
        let evicted = ConstCounter::new(book.evicted());
        evicted.encode(encoder.encode_descriptor(
            "fathom_query_shapes_evicted",
            "Query shapes evicted from this node's book to make room for new ones (least-used first)",
            None,
            evicted.metric_type(),
        )?)
    }

    fn store_metrics(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        match self.store.stats() {
            StoreStats::Sqlite {
                writer_queue,
                reader_queue,
                writer,
            } => {
                gauge(
                    encoder,
                    "fathom_db_writer_queue_depth",
                    "Write jobs waiting for the SQLite writer thread",
                    to_i64(writer_queue),
                )?;
                gauge(
                    encoder,
                    "fathom_db_reader_queue_depth",
                    "Read jobs waiting for a SQLite reader thread",
                    to_i64(reader_queue),
                )?;
                writer.group_size.encode(encoder.encode_descriptor(
                    "fathom_db_group_commit_size",
                    "Write jobs per SQLite group transaction",
                    None,
                    writer.group_size.metric_type(),
                )?)?;
                writer.commit_seconds.encode(encoder.encode_descriptor(
                    "fathom_db_group_commit_duration",
                    "Duration of a SQLite group transaction, from BEGIN to the end of COMMIT",
                    Some(&Unit::Seconds),
                    writer.commit_seconds.metric_type(),
                )?)
            }
            StoreStats::Postgres {
                size,
                available,
                waiting,
                max_size,
            } => {
                // The OpenTelemetry database-client connection metrics.
                let mut family = encoder.encode_descriptor(
                    "db_client_connection_count",
                    "PostgreSQL connections open, by state",
                    None,
                    prometheus_client::metrics::MetricType::Gauge,
                )?;
                for (state, n) in [
                    ("idle", available),
                    ("used", size.saturating_sub(available)),
                ] {
                    ConstGauge::new(to_i64(n))
                        .encode(family.encode_family(&[("db_client_connection_state", state)])?)?;
                }
                gauge(
                    encoder,
                    "db_client_connection_max",
                    "The most PostgreSQL connections the pool opens",
                    to_i64(max_size),
                )?;
                gauge(
                    encoder,
                    "db_client_connection_pending_requests",
                    "Requests waiting for a PostgreSQL connection",
                    to_i64(waiting),
                )
            }
        }
    }

    fn cache_metrics(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let counts = self.cache.counts();
        let hits: Vec<(&str, u64)> = counts.iter().map(|(c, h, _)| (c.as_str(), *h)).collect();
        let misses: Vec<(&str, u64)> = counts.iter().map(|(c, _, m)| (c.as_str(), *m)).collect();
        counters(
            encoder,
            "fathom_cache_hits",
            "Reads of cached collections (cache = \"...\") answered from this node's result cache, by collection",
            "collection",
            &hits,
        )?;
        counters(
            encoder,
            "fathom_cache_misses",
            "Reads of cached collections that the result cache could not answer (absent, expired or invalidated), by collection",
            "collection",
            &misses,
        )
    }

    fn realtime_metrics(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let hub = &self.realtime.hub;
        gauge(
            encoder,
            "fathom_realtime_connections",
            "Realtime connections (SSE and WebSocket) joined to this node's hub",
            to_i64(hub.connections()),
        )?;
        gauge(
            encoder,
            "fathom_realtime_subscriptions",
            "Subscriptions open on this node's realtime connections",
            to_i64(self.realtime.subscriptions()),
        )?;
        let stats = hub.stats();
        counters(
            encoder,
            "fathom_realtime_events",
            "Events realtime connections took from the hub's log (delivered), and connections that fell further behind than the log keeps (dropped)",
            "outcome",
            &[("delivered", stats.delivered), ("dropped", stats.dropped)],
        )?;
        let latest = *self.store.event_watch().borrow();
        let lag = latest.saturating_sub(hub.position()).max(0);
        self.outbound_metrics(encoder, latest, lag)
    }
}

//! The outbound calls' metrics, read at scrape time: webhook attempts by outcome, the state of
//! every circuit breaker this node keeps (webhook endpoints, broker sinks, the SMTP relay), and
//! the outbox lag of the webhook endpoints and broker sinks this node delivers for.
//!
//! Destinations are endpoint ids, sink names and `smtp`, never URLs (a URL may hold a secret),
//! so the series are as many as the configured destinations.

use std::sync::{Mutex, PoisonError};

use fathom_core::outbound::BreakerState;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

use super::collect::{Live, counters};

/// The broker sinks, set once the server has built them ([`super::Metrics::set_brokers`]).
pub(crate) type BrokersSlot = Mutex<fathom_brokers::Brokers>;

/// One breaker's sample: its kind, its destination and its state.
type BreakerSample = (&'static str, String, BreakerState);

/// One lag sample: the consumer and its lag.
type LagSample = (String, i64);

impl Live {
    /// Every breaker this node keeps, as `(kind, destination, state)`.
    fn breakers(&self) -> Vec<BreakerSample> {
        let mut samples: Vec<BreakerSample> = self
            .webhooks
            .breaker_states()
            .into_iter()
            .map(|(id, state)| ("webhook", id, state))
            .collect();
        samples.extend(broker_breakers(&self.brokers()));
        if let Some(smtp) = &self.auth.smtp {
            samples.push(("mail", "smtp".to_owned(), smtp.breaker_state()));
        }
        samples
    }

    /// The lag of every webhook endpoint and broker sink this node delivers for now, behind
    /// `latest` (the newest committed sequence this node knows).
    fn outbound_lags(&self, latest: i64) -> Vec<LagSample> {
        let lag = |position: i64| latest.saturating_sub(position).max(0);
        let mut samples: Vec<LagSample> = self
            .webhooks
            .positions()
            .into_iter()
            .map(|(id, position)| (format!("webhook:{id}"), lag(position)))
            .collect();
        samples.extend(broker_lags(&self.brokers(), latest));
        samples.extend(super::hooks::hook_lags(&self.hooks, latest));
        samples
    }

    fn brokers(&self) -> fathom_brokers::Brokers {
        self.brokers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(super) fn outbound_metrics(
        &self,
        encoder: &mut DescriptorEncoder,
        latest: i64,
        realtime_lag: i64,
    ) -> std::fmt::Result {
        counters(
            encoder,
            "fathom_webhook_deliveries",
            "Webhook delivery attempts made by this node, by outcome: delivered, failed (retried later; SSRF refusals included), dead_lettered (retries spent), gone (410: endpoint disabled)",
            "outcome",
            &self.webhooks.delivery_counts(),
        )?;
        encode_breakers(encoder, &self.breakers())?;
        super::hooks::encode_hooks(encoder, &self.hooks)?;
        let mut lags = vec![("realtime".to_owned(), realtime_lag)];
        lags.extend(self.outbound_lags(latest));
        let mut family = encoder.encode_descriptor(
            "fathom_outbox_lag_events",
            "Committed events a consumer on this node has yet to process (realtime, and the webhook endpoints, broker sinks and after-commit hooks this node delivers for)",
            None,
            MetricType::Gauge,
        )?;
        for (consumer, lag) in &lags {
            ConstGauge::new(*lag)
                .encode(family.encode_family(&[("consumer", consumer.as_str())])?)?;
        }
        Ok(())
    }
}

/// The breaker of every broker sink, as its task last reported it.
fn broker_breakers(brokers: &fathom_brokers::Brokers) -> Vec<BreakerSample> {
    brokers
        .reports()
        .into_iter()
        .map(|r| ("broker", r.name, BreakerState::from_name(r.breaker)))
        .collect()
}

/// The lag of the sinks this node publishes for: a standby node does not publish, so the
/// position it last saw does not move here and is not reported.
fn broker_lags(brokers: &fathom_brokers::Brokers, latest: i64) -> Vec<LagSample> {
    brokers
        .reports()
        .into_iter()
        .filter(|r| r.role == fathom_brokers::Role::Publishing)
        .map(|r| {
            (
                format!("broker:{}", r.name),
                latest.saturating_sub(r.position).max(0),
            )
        })
        .collect()
}

fn encode_breakers(encoder: &mut DescriptorEncoder, samples: &[BreakerSample]) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(
        "fathom_outbound_breaker_state",
        "Circuit breaker of an outbound destination on this node: 0 closed, 1 half-open, 2 open",
        None,
        MetricType::Gauge,
    )?;
    for (kind, destination, state) in samples {
        let labels = [("kind", *kind), ("destination", destination.as_str())];
        ConstGauge::new(state.gauge()).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fathom_brokers::{Brokers, SinkStatus};

    #[test]
    fn broker_sinks_report_their_breaker_by_name_and_no_lag_until_publishing() {
        let brokers = Brokers::new(vec![
            SinkStatus::new("orders", "nats"),
            SinkStatus::new("audit", "rabbitmq"),
        ]);
        assert_eq!(
            broker_breakers(&brokers),
            [
                ("broker", "orders".to_owned(), BreakerState::Closed),
                ("broker", "audit".to_owned(), BreakerState::Closed),
            ]
        );
        assert!(
            broker_lags(&brokers, 10).is_empty(),
            "a sink that is starting (or standing by) publishes nothing here"
        );
        assert!(broker_breakers(&Brokers::default()).is_empty());
    }
}

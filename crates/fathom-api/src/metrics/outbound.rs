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
        for report in self.brokers().reports() {
            samples.push((
                "broker",
                report.name,
                BreakerState::from_name(report.breaker),
            ));
        }
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
        for report in self.brokers().reports() {
            // A standby node does not publish: the position it last saw is not moving here.
            if report.role == fathom_brokers::Role::Publishing {
                samples.push((format!("broker:{}", report.name), lag(report.position)));
            }
        }
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
        let mut lags = vec![("realtime".to_owned(), realtime_lag)];
        lags.extend(self.outbound_lags(latest));
        let mut family = encoder.encode_descriptor(
            "fathom_outbox_lag_events",
            "Committed events a consumer on this node has yet to process (realtime, and the webhook endpoints and broker sinks this node delivers for)",
            None,
            MetricType::Gauge,
        )?;
        for (consumer, lag) in &lags {
            ConstGauge::new(*lag).encode(family.encode_family(&[("consumer", consumer.as_str())])?)?;
        }
        Ok(())
    }
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

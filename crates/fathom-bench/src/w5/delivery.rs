//! Adding up what the subscribers of W5 received, phase after phase, into the figures the report
//! shows: counts of lost, out-of-order and duplicate events, and the latency percentiles of every
//! delivery together.

use hdrhistogram::Histogram;

use crate::loadgen::new_histogram;
use crate::results::Delivery;
use crate::subscriber::Tally;

/// The deliveries of one or more phases with the same subscriber count.
pub struct DeliveryTotal {
    /// Subscribers that went live (the most of any one phase, once phases are added).
    subscribers: u64,
    connect_failures: u64,
    first_connect_error: Option<String>,
    expected_each: u64,
    received: u64,
    lost: u64,
    out_of_order: u64,
    duplicates: u64,
    ended_early: u64,
    first_end: Option<String>,
    latencies: Histogram<u64>,
}

impl Default for DeliveryTotal {
    fn default() -> Self {
        Self {
            subscribers: 0,
            connect_failures: 0,
            first_connect_error: None,
            expected_each: 0,
            received: 0,
            lost: 0,
            out_of_order: 0,
            duplicates: 0,
            ended_early: 0,
            first_end: None,
            latencies: new_histogram(),
        }
    }
}

impl DeliveryTotal {
    /// One phase in which every subscriber should receive `expected_each` events.
    pub fn expecting(expected_each: u64) -> Self {
        Self {
            expected_each,
            ..Self::default()
        }
    }

    /// Subscribers that never went live.
    pub fn connect_failed(&mut self, count: u64, first: Option<String>) {
        self.connect_failures += count;
        if self.first_connect_error.is_none() {
            self.first_connect_error = first;
        }
    }

    /// One subscriber's tally.
    pub fn subscriber(&mut self, tally: &Tally) {
        self.subscribers += 1;
        self.received += tally.received;
        self.lost += self.expected_each.saturating_sub(tally.received);
        self.out_of_order += tally.out_of_order;
        self.duplicates += tally.duplicates;
        if let Some(end) = &tally.ended {
            self.ended_early += 1;
            self.first_end.get_or_insert_with(|| end.clone());
        }
        tally.record_latencies(&mut self.latencies);
    }

    /// Adds a later phase with the same subscriber count: each subscriber of it should have
    /// received that phase's events too.
    pub fn add(&mut self, later: DeliveryTotal) {
        self.subscribers = self.subscribers.max(later.subscribers);
        self.expected_each += later.expected_each;
        self.connect_failures += later.connect_failures;
        if self.first_connect_error.is_none() {
            self.first_connect_error = later.first_connect_error;
        }
        self.received += later.received;
        self.lost += later.lost;
        self.out_of_order += later.out_of_order;
        self.duplicates += later.duplicates;
        self.ended_early += later.ended_early;
        if self.first_end.is_none() {
            self.first_end = later.first_end;
        }
        merge(&mut self.latencies, &later.latencies);
    }

    pub fn figures(&self) -> Delivery {
        let h = &self.latencies;
        let ms = |micros: u64| micros as f64 / 1000.0;
        Delivery {
            subscribers: self.subscribers,
            connect_failures: self.connect_failures,
            first_connect_error: self.first_connect_error.clone(),
            expected_each: self.expected_each,
            received: self.received,
            lost: self.lost,
            out_of_order: self.out_of_order,
            duplicates: self.duplicates,
            ended_early: self.ended_early,
            first_end: self.first_end.clone(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

/// Adds `more` into `total` (same bounds, so adding cannot fail; values are clamped if it did).
fn merge(total: &mut Histogram<u64>, more: &Histogram<u64>) {
    if total.add(more).is_err() {
        for value in more.iter_recorded() {
            total.saturating_record_n(value.value_iterated_to(), value.count_at_value());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(received: u64, ended: Option<&str>) -> Tally {
        let mut tally = Tally::live_at(0);
        for n in 0..received {
            let seq = i64::try_from(n + 1).expect("small");
            tally.event(seq, Some(0), 1_000 * seq);
        }
        tally.event(0, Some(0), 1);
        tally.ended = ended.map(str::to_owned);
        tally
    }

    #[test]
    fn counts_lost_events_per_subscriber_across_phases() {
        let mut first = DeliveryTotal::expecting(3);
        first.subscriber(&tally(3, None));
        first.subscriber(&tally(1, Some("lagged")));
        first.connect_failed(1, Some("refused".into()));
        let mut second = DeliveryTotal::expecting(2);
        second.subscriber(&tally(2, None));
        second.subscriber(&tally(2, None));
        let mut total = DeliveryTotal::default();
        total.add(first);
        total.add(second);
        let figures = total.figures();
        assert_eq!(figures.subscribers, 2);
        assert_eq!(figures.expected_each, 5);
        assert_eq!(figures.received, 8);
        assert_eq!(figures.lost, 2);
        assert_eq!(figures.out_of_order, 4);
        assert_eq!(figures.ended_early, 1);
        assert_eq!(figures.first_end.as_deref(), Some("lagged"));
        assert_eq!(figures.connect_failures, 1);
        assert_eq!(figures.first_connect_error.as_deref(), Some("refused"));
        assert!((figures.max_ms - 3.0).abs() < 0.01, "{}", figures.max_ms);
    }
}

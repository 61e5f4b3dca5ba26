//! The payment provider's ledger: charges keyed by their idempotency key, refunds keyed by the
//! charge they return, and the lookups the end-to-end test uses to prove nothing was charged
//! twice. Pure data behind one lock; the HTTP layer (`mod.rs`) decides when to consult it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One charge as the provider records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Charge {
    pub id: Uuid,
    /// The idempotency key the charge was made under (the commerce client sends the order id).
    pub idempotency_key: String,
    /// The merchant's reference (the order id).
    pub order: String,
    /// The amount in minor units (cents), so that the ledger never rounds.
    pub amount_cents: i64,
    pub refunded: bool,
}

/// What a charge request led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// A new charge was made.
    Created(Charge),
    /// The key was seen before with the same order and amount: the original charge, unchanged.
    Replayed(Charge),
    /// The key was seen before with another order or amount: refused, nothing charged.
    KeyReused(Charge),
}

/// What a refund request led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    /// The charge is refunded now (or already was: refunds are idempotent per charge).
    Refunded(Charge),
    /// No charge holds this order: there is nothing to give back.
    NothingCharged,
}

/// Every charge ever made, by idempotency key, with an index by order.
#[derive(Debug, Default)]
pub struct Ledger {
    by_key: HashMap<String, Charge>,
    by_order: HashMap<String, Vec<String>>,
    /// Calls answered with a new charge, a replay, or a refund (for the figures a run prints).
    pub replays: u64,
}

impl Ledger {
    /// Charges `amount_cents` for `order` under `key`, unless the key was used before.
    pub fn charge(&mut self, key: &str, order: &str, amount_cents: i64) -> ChargeOutcome {
        if let Some(existing) = self.by_key.get(key) {
            if existing.order == order && existing.amount_cents == amount_cents {
                self.replays += 1;
                return ChargeOutcome::Replayed(existing.clone());
            }
            return ChargeOutcome::KeyReused(existing.clone());
        }
        let charge = Charge {
            id: Uuid::now_v7(),
            idempotency_key: key.to_owned(),
            order: order.to_owned(),
            amount_cents,
            refunded: false,
        };
        self.by_key.insert(key.to_owned(), charge.clone());
        self.by_order
            .entry(order.to_owned())
            .or_default()
            .push(key.to_owned());
        ChargeOutcome::Created(charge)
    }

    /// Refunds every charge of `order` (at most one when clients use the order as the key).
    pub fn refund(&mut self, order: &str) -> RefundOutcome {
        let keys = self.by_order.get(order).cloned().unwrap_or_default();
        let mut last = None;
        for key in keys {
            if let Some(charge) = self.by_key.get_mut(&key) {
                charge.refunded = true;
                last = Some(charge.clone());
            }
        }
        last.map_or(RefundOutcome::NothingCharged, RefundOutcome::Refunded)
    }

    /// The charges made for `order`, oldest first.
    pub fn charges_for(&self, order: &str) -> Vec<Charge> {
        self.by_order
            .get(order)
            .into_iter()
            .flatten()
            .filter_map(|key| self.by_key.get(key).cloned())
            .collect()
    }

    /// Every charge, in no particular order.
    pub fn all(&self) -> Vec<Charge> {
        self.by_key.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_repeated_key_reports_the_original_charge_and_charges_nothing_more() {
        let mut ledger = Ledger::default();
        let ChargeOutcome::Created(first) = ledger.charge("k1", "o1", 1250) else {
            panic!("the first charge is new");
        };
        assert_eq!(
            ledger.charge("k1", "o1", 1250),
            ChargeOutcome::Replayed(first.clone())
        );
        assert_eq!(ledger.charges_for("o1"), vec![first.clone()]);
        assert!(matches!(
            ledger.charge("k1", "o2", 1250),
            ChargeOutcome::KeyReused(c) if c == first
        ));
        assert_eq!(ledger.all().len(), 1);
    }

    #[test]
    fn a_refund_marks_the_orders_charge_and_is_idempotent() {
        let mut ledger = Ledger::default();
        assert_eq!(ledger.refund("o1"), RefundOutcome::NothingCharged);
        ledger.charge("o1", "o1", 500);
        let RefundOutcome::Refunded(once) = ledger.refund("o1") else {
            panic!("refunded");
        };
        assert!(once.refunded);
        assert_eq!(ledger.refund("o1"), RefundOutcome::Refunded(once));
        assert_eq!(ledger.charges_for("o1").len(), 1);
    }
}

//! Before an order is updated: its state machine. The server (the flow, as the system) moves
//! `reserved` → `paid` → `fulfilled`, `reserved` → `payment_failed` and `cancelled` →
//! `refunded`; the order's customer (or the store's staff) may only cancel a `reserved` or
//! `paid` order, and change nothing else. Each move settles the order's stock in the same
//! transaction: a failed payment or a cancellation gives the held stock back, fulfilment
//! consumes it. Terminal states never change.

use async_trait::async_trait;
use fathom_engine::{BeforeWrite, HookRefusal, PendingWrite, Principal};
use fathom_store::Scope;
use serde_json::Value as Json;

use super::stock::{Settle, settle_reservations};
use super::{INVALID_TRANSITION, ORDER_LOCKED};
use crate::records::Fields;

pub struct OrderStates;

/// The moves the server makes (as the system).
const SERVER_MOVES: &[(&str, &str)] = &[
    ("pending", "reserved"),
    ("reserved", "paid"),
    ("reserved", "payment_failed"),
    ("paid", "fulfilled"),
    ("cancelled", "refunded"),
    // The shop's cancel route, after reading the order as its caller.
    ("reserved", "cancelled"),
    ("paid", "cancelled"),
];

/// The moves a customer or staff member may make.
const CALLER_MOVES: &[(&str, &str)] = &[("reserved", "cancelled"), ("paid", "cancelled")];

#[async_trait]
impl BeforeWrite for OrderStates {
    async fn before(&self, write: &mut PendingWrite<'_>) -> Result<(), HookRefusal> {
        let Some(stored) = write.stored() else {
            return Ok(());
        };
        let order = stored.id;
        let scope = stored.tenant.clone().map_or(Scope::NoTenant, Scope::Tenant);
        let from = Fields::of(stored)
            .text("status")
            .unwrap_or_default()
            .to_owned();
        let by_server = matches!(write.caller(), Principal::System);
        let to = write
            .value("status")
            .and_then(Json::as_str)
            .map(str::to_owned);
        if !by_server {
            let other = write
                .values()
                .into_iter()
                .flat_map(|v| v.keys())
                .find(|k| k.as_str() != "status")
                .cloned();
            if let Some(field) = other {
                return Err(ORDER_LOCKED.refuse(
                    format!("An order's `{field}` is set by the shop, not by its customer."),
                    "Send only {\"status\": \"cancelled\"} to cancel an order.",
                ));
            }
        }
        let Some(to) = to.filter(|to| *to != from) else {
            return Ok(());
        };
        let moves = if by_server {
            SERVER_MOVES
        } else {
            CALLER_MOVES
        };
        if !moves.contains(&(from.as_str(), to.as_str())) {
            return Err(INVALID_TRANSITION.refuse(
                format!("The order {order} is {from}; it cannot become {to}."),
                "Only reserved and paid orders can be cancelled; the shop moves every other state.",
            ));
        }
        match to.as_str() {
            "payment_failed" | "cancelled" => {
                settle_reservations(write, &scope, order, Settle::Release).await?
            }
            "fulfilled" => settle_reservations(write, &scope, order, Settle::Consume).await?,
            _ => {}
        }
        Ok(())
    }
}

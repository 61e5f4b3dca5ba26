//! The after-commit side of the flow: [`OrderSteps`] hands every committed change of an order to
//! [`OrderFlow::advance`]. The orders are split into partitions by id, one named hook (one
//! persisted position, one task) per partition: each partition keeps the outbox's order for its
//! orders (an order's events never overtake each other) while a slow payment in one partition
//! does not hold up the others.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use fathom::embed::{AfterCommit, CommittedEvent, HookContext, HookFailure};

use crate::flow::OrderFlow;

/// The flow, set once the server is built (the hooks are registered before it exists).
pub type FlowCell = Arc<OnceLock<OrderFlow>>;

/// One partition of the orders' after-commit hook.
pub struct OrderSteps {
    pub flow: FlowCell,
    pub partition: u32,
    pub partitions: u32,
}

impl OrderSteps {
    /// The hook's name, which is also its persisted position's: keep it stable.
    pub fn name(partition: u32, partitions: u32) -> String {
        format!("commerce-orders-{partition}-of-{partitions}")
    }

    fn mine(&self, event: &CommittedEvent) -> bool {
        // Order ids are UUIDv7: their low bits are random, so the split is even.
        let slot = event.record_id.as_u128() % u128::from(self.partitions.max(1));
        event.collection == "orders" && slot == u128::from(self.partition)
    }
}

#[async_trait]
impl AfterCommit for OrderSteps {
    async fn handle(&self, event: &CommittedEvent, _ctx: &HookContext) -> Result<(), HookFailure> {
        if !self.mine(event) {
            return Ok(());
        }
        let Some(flow) = self.flow.get() else {
            return Err(HookFailure::new("the order flow is not started yet"));
        };
        flow.advance(event.record_id)
            .await
            .map_err(|e| HookFailure::new(e.to_string()))
    }
}

//! Stock moves shared by the hooks: taking an order's quantities off its products (placing an
//! order) and settling its held reservations (giving stock back, or consuming it). Every product
//! update carries the version read, so two orders racing for the last units cannot both win:
//! the loser's unit fails and the engine runs its hooks again from fresh reads.

use std::collections::BTreeMap;

use fathom_engine::{As, EngineError, PendingWrite};
use fathom_store::{Record, Scope};
use serde_json::{Value as Json, json};
use uuid::Uuid;

use crate::records::{Fields, list_by, object};

/// How a held reservation is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// The stock goes back on the shelf (failed payment, cancellation).
    Release,
    /// The stock leaves with the order (fulfilment).
    Consume,
}

/// Adds `delta` to the stock of each product, as the system, with the version read.
pub async fn move_stock(
    write: &mut PendingWrite<'_>,
    deltas: &BTreeMap<Uuid, i64>,
) -> Result<(), EngineError> {
    let mut read = Vec::with_capacity(deltas.len());
    // Products in id order, so that concurrent units lock them in one order on PostgreSQL.
    for (&product, &delta) in deltas {
        if let Some(record) = write.get(As::System, "products", product).await? {
            read.push((record, delta));
        }
    }
    move_read_stock(write, &read).await
}

/// Adds `delta` to the stock of each product as it was read (`record`), guarded by the version
/// read: the stock written is the one the caller checked, or the unit fails as a whole.
pub async fn move_read_stock(
    write: &mut PendingWrite<'_>,
    products: &[(Record, i64)],
) -> Result<(), EngineError> {
    for (record, delta) in products {
        let stock = Fields::of(record).integer("stock").unwrap_or(0);
        write
            .update(
                As::System,
                "products",
                record.id,
                object([("stock", json!(stock + delta))]),
                Some(record.version),
            )
            .await?;
    }
    Ok(())
}

/// Settles every reservation of `order` that is still held; a release puts the quantities back
/// on their products. Reservations already settled are left alone, so settling twice changes
/// nothing more.
pub async fn settle_reservations(
    write: &mut PendingWrite<'_>,
    scope: &Scope,
    order: Uuid,
    how: Settle,
) -> Result<(), EngineError> {
    let held = list_by(write.engine(), scope, "reservations", "order", order).await?;
    let mut deltas = BTreeMap::new();
    let status = match how {
        Settle::Release => "released",
        Settle::Consume => "consumed",
    };
    for reservation in held {
        let fields = Fields::of(&reservation);
        if fields.text("status") != Some("held") {
            continue;
        }
        write
            .update(
                As::System,
                "reservations",
                reservation.id,
                object([("status", Json::from(status))]),
                Some(reservation.version),
            )
            .await?;
        if let (Settle::Release, Some(product), Some(quantity)) =
            (how, fields.uuid("product"), fields.integer("quantity"))
        {
            *deltas.entry(product).or_insert(0) += quantity;
        }
    }
    move_stock(write, &deltas).await
}

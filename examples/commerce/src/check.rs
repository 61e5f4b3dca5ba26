//! What must hold after a run, read straight from the store (every tenant) and the provider's
//! ledger: no product below zero or oversold (its stock plus what its held and consumed
//! reservations took is what it started with), every order in a terminal state with no stock
//! still held for it, no order charged twice, and money matching states (a fulfilled order
//! holds one charge, a failed, cancelled or refunded one holds none that was not given back).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use fathom_store::{ListQuery, Record, Scope, Store};
use uuid::Uuid;

use crate::provider::Charge;
use crate::records::{Fields, cents};

/// Order states nothing moves on from.
pub const TERMINAL: &[&str] = &["fulfilled", "payment_failed", "cancelled", "refunded"];

/// Every record of `collection` in every tenant.
pub async fn all(
    store: &Store,
    schema: &fathom_schema::Schema,
    collection: &str,
) -> anyhow::Result<Vec<Record>> {
    all_in(store, schema, &Scope::AllTenants, collection).await
}

/// Every record of `collection` in `scope`, page by page.
pub async fn all_in(
    store: &Store,
    schema: &fathom_schema::Schema,
    scope: &Scope,
    collection: &str,
) -> anyhow::Result<Vec<Record>> {
    let target = schema
        .collection(collection)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no collection {collection}"))?;
    let mut records = Vec::new();
    loop {
        let query = ListQuery {
            offset: records.len() as u64,
            ..ListQuery::first(1_000)
        };
        let page = store
            .list(scope, target.clone(), query)
            .await
            .map_err(|e| anyhow::anyhow!("listing {collection}: {}", e.detail))?;
        let done = page.len() < 1_000;
        records.extend(page);
        if done {
            return Ok(records);
        }
    }
}

/// Orders by state.
pub async fn states(
    store: &Store,
    schema: &fathom_schema::Schema,
) -> anyhow::Result<BTreeMap<String, usize>> {
    let mut counts = BTreeMap::new();
    for order in all(store, schema, "orders").await? {
        let status = Fields::of(&order)
            .text("status")
            .unwrap_or_default()
            .to_owned();
        *counts.entry(status).or_insert(0) += 1;
    }
    Ok(counts)
}

/// Waits until every invariant holds (the after-commit steps run behind the requests), at most
/// `limit`; how long it took, or the problems that remained.
pub async fn settle(
    store: &Store,
    schema: &fathom_schema::Schema,
    initial_stock: &HashMap<Uuid, i64>,
    provider: &crate::provider::Provider,
    limit: Duration,
) -> anyhow::Result<Result<Duration, Vec<String>>> {
    let started = Instant::now();
    loop {
        let problems = verify(store, schema, initial_stock, &provider.charges()).await?;
        if problems.is_empty() {
            return Ok(Ok(started.elapsed()));
        }
        if started.elapsed() > limit {
            return Ok(Err(problems));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every broken invariant, one sentence each (empty: the run is sound).
pub async fn verify(
    store: &Store,
    schema: &fathom_schema::Schema,
    initial_stock: &HashMap<Uuid, i64>,
    charges: &[Charge],
) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    let reservations = all(store, schema, "reservations").await?;
    let mut taken: HashMap<Uuid, i64> = HashMap::new();
    let mut held_by_order: HashMap<Uuid, usize> = HashMap::new();
    for reservation in &reservations {
        let r = Fields::of(reservation);
        let (Some(product), Some(quantity), Some(order)) =
            (r.uuid("product"), r.integer("quantity"), r.uuid("order"))
        else {
            problems.push(format!("reservation {} is incomplete", reservation.id));
            continue;
        };
        match r.text("status") {
            Some("held") => {
                *taken.entry(product).or_insert(0) += quantity;
                *held_by_order.entry(order).or_insert(0) += 1;
            }
            Some("consumed") => *taken.entry(product).or_insert(0) += quantity,
            _ => {}
        }
    }
    for product in all(store, schema, "products").await? {
        let stock = Fields::of(&product).integer("stock").unwrap_or(i64::MIN);
        if stock < 0 {
            problems.push(format!("product {} has negative stock {stock}", product.id));
        }
        if let Some(&initial) = initial_stock.get(&product.id) {
            let out = taken.get(&product.id).copied().unwrap_or(0);
            if stock + out != initial {
                problems.push(format!(
                    "product {} started with {initial}, has {stock} and {out} reserved or sold: {} units unaccounted",
                    product.id,
                    initial - stock - out
                ));
            }
        }
    }
    let mut by_order: HashMap<String, Vec<&Charge>> = HashMap::new();
    for charge in charges {
        by_order
            .entry(charge.order.clone())
            .or_default()
            .push(charge);
    }
    for order in all(store, schema, "orders").await? {
        let fields = Fields::of(&order);
        let status = fields.text("status").unwrap_or_default();
        let id = order.id;
        if !TERMINAL.contains(&status) {
            problems.push(format!("order {id} is {status}, not terminal"));
        }
        if let Some(held) = held_by_order.get(&id) {
            problems.push(format!(
                "order {id} ({status}) still holds {held} reservations"
            ));
        }
        let charged = by_order.get(&id.to_string()).cloned().unwrap_or_default();
        if charged.len() > 1 {
            problems.push(format!("order {id} was charged {} times", charged.len()));
        }
        let live: Vec<_> = charged.iter().filter(|c| !c.refunded).collect();
        match status {
            "fulfilled" => {
                let expected = fields.decimal("total").and_then(cents);
                if live.len() != 1 || Some(live[0].amount_cents) != expected {
                    problems.push(format!(
                        "fulfilled order {id} (total {expected:?} cents) holds charges {charged:?}"
                    ));
                }
            }
            "refunded" if charged.is_empty() || !live.is_empty() => {
                problems.push(format!("refunded order {id} holds charges {charged:?}"))
            }
            "payment_failed" | "cancelled" if !live.is_empty() => problems.push(format!(
                "{status} order {id} holds a charge that was not refunded: {live:?}"
            )),
            _ => {}
        }
    }
    Ok(problems)
}

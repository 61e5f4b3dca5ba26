//! Before-write hooks driven through the engine on a real store (SQLite, or PostgreSQL with
//! `FATHOM_TEST_BACKEND=postgres`): a refusal writes nothing (no record, no event); a hook's
//! extra writes commit with the request and roll back with it; a hook's change to the record
//! is validated and stored; extra writes as the caller meet the rules; a conflict on a hook's
//! expected version runs the hook pass again.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use fathom_engine::{
    As, BeforeWrite, EngineError, HookRefusal, Hooks, PendingWrite, Planned, Principal,
    WriteOptions,
};
use fathom_store::{Record, Scope, WriteOp};
use serde_json::{Value, json};
use support::{World, admin, object, user, value};
use uuid::Uuid;

const SCHEMA: &str = r#"
[collections.products]
rules = { list = true, view = true, create = "auth.id != null", update = "auth.id != null" }
fields.name  = { type = "text", required = true, unique = true }
fields.stock = { type = "integer", required = true }

[collections.orders]
rules = { list = "auth.id != null", view = "auth.id != null", create = "auth.id != null", update = "auth.id != null", delete = "auth.id != null" }
fields.product  = { type = "relation", collection = "products", required = true }
fields.quantity = { type = "integer", required = true }
fields.note     = { type = "text" }
fields.code     = { type = "text", unique = true }

[collections.ledger]
fields.entry = { type = "text", required = true }
"#;

/// Reserves stock for a new order: refuses 409 `out_of_stock` when there is too little, else
/// takes the quantity off the product (as the system, at the version it read).
struct Reserve {
    runs: Arc<AtomicUsize>,
    /// On its first run, writes the product itself after reading it (a competing writer).
    compete: bool,
}

#[async_trait]
impl BeforeWrite for Reserve {
    async fn before(&self, write: &mut PendingWrite<'_>) -> Result<(), HookRefusal> {
        let run = self.runs.fetch_add(1, Ordering::SeqCst);
        let product: Uuid = write
            .value("product")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| HookRefusal::new(422, "no_product", "No product.", "Name one."))?;
        let quantity = write.value("quantity").and_then(Value::as_i64).unwrap_or(0);
        let Some(stored) = write.get(As::System, "products", product).await? else {
            return Err(HookRefusal::new(
                404,
                "unknown_product",
                "The product does not exist.",
                "Order a listed product.",
            ));
        };
        let stock = stored.column("stock");
        let stock = match stock {
            fathom_schema::Value::Integer(n) => n,
            _ => 0,
        };
        if stock < quantity {
            return Err(HookRefusal::new(
                409,
                "out_of_stock",
                format!("Only {stock} left."),
                "Order fewer.",
            )
            .with_field("quantity", "too_many", "More than the stock."));
        }
        if self.compete && run == 0 {
            let products = write.engine().collection("products")?;
            write
                .engine()
                .update(
                    &fathom_engine::Principal::System,
                    &products,
                    product,
                    &object(json!({"stock": stock - 1})),
                    None,
                    WriteOptions::default(),
                )
                .await?;
        }
        let mut patch = serde_json::Map::new();
        patch.insert("stock".into(), json!(stock - quantity));
        write
            .update(As::System, "products", product, patch, Some(stored.version))
            .await?;
        Ok(())
    }
}

/// Sets the order's note to a value of its own (`note`), or sets a field to a wrong value.
struct Stamp(Value);

#[async_trait]
impl BeforeWrite for Stamp {
    async fn before(&self, write: &mut PendingWrite<'_>) -> Result<(), HookRefusal> {
        match &self.0 {
            Value::Object(fields) => {
                for (field, value) in fields {
                    write.set(field, Some(value.clone()));
                }
            }
            other => write.set("note", Some(other.clone())),
        }
        Ok(())
    }
}

/// Records a deleted order in the ledger (administrators only), as `by`.
struct Ledger(As);

#[async_trait]
impl BeforeWrite for Ledger {
    async fn before(&self, write: &mut PendingWrite<'_>) -> Result<(), HookRefusal> {
        let id = write.id().expect("a delete names its record");
        let quantity = write
            .stored()
            .map(|r| r.column("quantity"))
            .expect("a delete sees the stored record");
        let entry = format!("order {id} of {quantity:?} deleted");
        write
            .create(self.0, "ledger", object(json!({ "entry": entry })))
            .await?;
        Ok(())
    }
}

fn reserving(compete: bool) -> (Hooks, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let mut hooks = Hooks::new();
    hooks.before_create(
        "orders",
        Reserve {
            runs: runs.clone(),
            compete,
        },
    );
    (hooks, runs)
}

async fn new_product(world: &World, stock: i64) -> Uuid {
    let name = format!("p-{}", Uuid::now_v7());
    world
        .create(&admin(), "products", json!({"name": name, "stock": stock}))
        .await
        .unwrap()
        .id
}

/// `principal` orders `quantity` of `product`.
async fn place_order(
    world: &World,
    principal: &Principal,
    product: Uuid,
    quantity: i64,
) -> Result<Record, EngineError> {
    let body = json!({"product": product.to_string(), "quantity": quantity});
    world.create(principal, "orders", body).await
}

#[tokio::test]
async fn a_refusal_writes_nothing_and_answers_the_hooks_problem() {
    let (hooks, runs) = reserving(false);
    let world = World::new("refusal", SCHEMA, hooks).await;
    let product = new_product(&world, 1).await;
    let before = world.latest_event().await;
    let refused = place_order(&world, &user(None), product, 5)
        .await
        .unwrap_err();
    assert_eq!(refused.code.as_str(), "out_of_stock");
    assert_eq!(refused.status(), 409);
    assert_eq!(refused.detail, "Only 1 left.");
    assert_eq!(refused.hint, "Order fewer.");
    assert_eq!(refused.errors[0].field, "quantity");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(world.count("orders").await, 0, "no order was written");
    assert_eq!(world.latest_event().await, before, "no event was written");
    let stored = world.stored("products", product).await.unwrap();
    assert_eq!(value(&stored, "stock"), json!(1));
}

#[tokio::test]
async fn a_hooks_extra_writes_commit_with_the_request() {
    let (hooks, _) = reserving(false);
    let world = World::new("extras", SCHEMA, hooks).await;
    let product = new_product(&world, 10).await;
    let before = world.latest_event().await;
    let order = place_order(&world, &user(None), product, 3).await.unwrap();
    assert_eq!(value(&order, "quantity"), json!(3));
    let stored = world.stored("products", product).await.unwrap();
    assert_eq!(value(&stored, "stock"), json!(7));
    let page = world
        .fixture
        .store
        .events_after(before, 10, None)
        .await
        .unwrap();
    let written: Vec<(&str, Uuid)> = page
        .events
        .iter()
        .map(|e| (e.collection.as_str(), e.record_id))
        .collect();
    assert_eq!(written, [("orders", order.id), ("products", product)]);
    assert!(
        page.events.iter().all(|e| e.actor == page.events[0].actor),
        "one unit, one origin"
    );
}

#[tokio::test]
async fn a_hooks_extra_writes_roll_back_when_the_requests_own_write_fails() {
    let (hooks, _) = reserving(false);
    let world = World::new("rollback", SCHEMA, hooks).await;
    let product = new_product(&world, 10).await;
    let body = json!({"product": product.to_string(), "quantity": 2, "code": "A-1"});
    world
        .create(&user(None), "orders", body.clone())
        .await
        .unwrap();
    let before = world.latest_event().await;
    let refused = world.create(&user(None), "orders", body).await.unwrap_err();
    assert_eq!(refused.code.as_str(), "unique_violation");
    assert_eq!(refused.errors[0].field, "code");
    let stored = world.stored("products", product).await.unwrap();
    assert_eq!(
        value(&stored, "stock"),
        json!(8),
        "the second reservation rolled back with its order"
    );
    assert_eq!(world.count("orders").await, 1);
    assert_eq!(world.latest_event().await, before);
}

#[tokio::test]
async fn a_conflict_on_a_hooks_expected_version_runs_the_hooks_again() {
    let (hooks, runs) = reserving(true);
    let world = World::new("conflict", SCHEMA, hooks).await;
    let product = new_product(&world, 10).await;
    place_order(&world, &user(None), product, 4).await.unwrap();
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "the first pass lost the race"
    );
    let stored = world.stored("products", product).await.unwrap();
    // The competing writer took 1 (10 -> 9); the retried pass read 9 and took 4.
    assert_eq!(value(&stored, "stock"), json!(5));
    assert_eq!(world.count("orders").await, 1);
}

#[tokio::test]
async fn a_hooks_change_is_validated_and_stored() {
    let mut hooks = Hooks::new();
    hooks.before_create("orders", Stamp(json!("stamped by the hook")));
    hooks.before_update("orders", Stamp(json!({"note": "updated by the hook"})));
    let world = World::new("change", SCHEMA, hooks).await;
    let product = new_product(&world, 10).await;
    let order = world
        .create(
            &user(None),
            "orders",
            json!({"product": product.to_string(), "quantity": 1, "note": "mine"}),
        )
        .await
        .unwrap();
    assert_eq!(value(&order, "note"), json!("stamped by the hook"));
    let stored = world.stored("orders", order.id).await.unwrap();
    assert_eq!(value(&stored, "note"), json!("stamped by the hook"));
    let updated = world
        .update(&user(None), "orders", order.id, json!({"quantity": 2}))
        .await
        .unwrap();
    assert_eq!(value(&updated, "note"), json!("updated by the hook"));
    assert_eq!(value(&updated, "quantity"), json!(2));

    // A change that breaks the schema is refused like a bad body, and nothing is written.
    let mut hooks = Hooks::new();
    hooks.before_create("orders", Stamp(json!({"quantity": "many"})));
    let world = World::new("bad_change", SCHEMA, hooks).await;
    let product = new_product(&world, 10).await;
    let before = world.latest_event().await;
    let refused = place_order(&world, &user(None), product, 1)
        .await
        .unwrap_err();
    assert_eq!(refused.code.as_str(), "validation_failed");
    assert_eq!(refused.errors[0].field, "quantity");
    assert_eq!(world.count("orders").await, 0);
    assert_eq!(world.latest_event().await, before);
}

#[tokio::test]
async fn extra_writes_as_the_caller_meet_the_rules_and_as_the_system_do_not() {
    let mut hooks = Hooks::new();
    hooks.before_delete("orders", Ledger(As::Caller));
    let world = World::new("as_caller", SCHEMA, hooks).await;
    let product = new_product(&world, 10).await;
    let customer = user(None);
    let order = place_order(&world, &customer, product, 1).await.unwrap();
    let refused = world
        .delete(&customer, "orders", order.id)
        .await
        .unwrap_err();
    assert_eq!(refused.code.as_str(), "forbidden", "{refused:?}");
    assert!(world.stored("orders", order.id).await.is_some());
    assert_eq!(world.count("ledger").await, 0);

    let mut hooks = Hooks::new();
    hooks.before_delete("orders", Ledger(As::System));
    let world = World::new("as_system", SCHEMA, hooks).await;
    let product = new_product(&world, 10).await;
    let order = place_order(&world, &customer, product, 1).await.unwrap();
    world.delete(&customer, "orders", order.id).await.unwrap();
    assert!(world.stored("orders", order.id).await.is_none());
    assert_eq!(world.count("ledger").await, 1);
}

#[tokio::test]
async fn a_batch_runs_every_operations_hooks_in_one_unit() {
    let (hooks, runs) = reserving(false);
    let world = World::new("batch", SCHEMA, hooks).await;
    let product = new_product(&world, 5).await;
    let customer = user(None);
    let orders = world.engine.collection("orders").unwrap();
    let plan = |quantity: i64| {
        let body = object(json!({"product": product.to_string(), "quantity": quantity}));
        let mut planned = world.engine.plan_create(&customer, &orders, &body).unwrap();
        if let WriteOp::Create { id, .. } = &mut planned.op {
            *id = Some(Uuid::now_v7());
        }
        Planned::new(planned.op, Some(body), Scope::NoTenant)
    };
    // 2 + 2 fit the stock of 5; the second pass reads the stock as stored, so both reserve
    // from 5 and the second update conflicts with the first: the whole batch runs again and
    // fails the same way, since the unit sees its own first update only after commit.
    let both = vec![plan(2), plan(2)];
    let outcome = world
        .engine
        .write(&customer, Scope::NoTenant, both, WriteOptions::default())
        .await;
    let refused = outcome.unwrap_err();
    assert_eq!(
        refused.operation,
        Some(1),
        "the second operation's hook wrote stale"
    );
    assert!(runs.load(Ordering::SeqCst) >= 2);
    assert_eq!(
        world.count("orders").await,
        0,
        "nothing of the batch was written"
    );
    let stored = world.stored("products", product).await.unwrap();
    assert_eq!(value(&stored, "stock"), json!(5));

    // One operation alone goes through, with its hook's extra write.
    let outcome = world
        .engine
        .write(
            &customer,
            Scope::NoTenant,
            vec![plan(2)],
            WriteOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        outcome.len(),
        2,
        "the order, then the hook's product update"
    );
    let stored = world.stored("products", product).await.unwrap();
    assert_eq!(value(&stored, "stock"), json!(3));
}

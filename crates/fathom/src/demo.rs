//! The bundled demo: a small shop schema and its seed data, for `fathom serve --demo`.

use std::sync::Arc;

use anyhow::{Context, anyhow};
use fathom_api::AppState;
use fathom_schema::{Collection, Schema, validate_create};
use fathom_store::{Scope, UnitOfWork, WriteOp, WriteResult};
use serde_json::{Value, json};
use uuid::Uuid;

/// The demo keeps its own database file, so it never touches a real one in the same data dir.
pub const DATABASE_FILE: &str = "demo.db";

const SCHEMA: &str = include_str!("../demo/schema.toml");

pub fn schema() -> anyhow::Result<Schema> {
    fathom_schema::parse_schema("demo/schema.toml", SCHEMA)
        .map_err(|e| anyhow!("the bundled demo schema is invalid:\n{e}"))
}

fn collection(state: &AppState, name: &str) -> anyhow::Result<Arc<Collection>> {
    state
        .schema
        .collection(name)
        .cloned()
        .with_context(|| format!("the demo schema lacks `{name}`"))
}

/// Creates records through the same validation and unit of work the API uses; returns their ids.
async fn create_all(state: &AppState, name: &str, bodies: Vec<Value>) -> anyhow::Result<Vec<Uuid>> {
    let collection = collection(state, name)?;
    let scope = if collection.tenant_scoped {
        Scope::Tenant(DEMO_TENANT.into())
    } else {
        Scope::AllTenants
    };
    let mut work = UnitOfWork::new(scope);
    for body in bodies {
        let object = body
            .as_object()
            .with_context(|| format!("a demo {name} body is not an object"))?;
        let values = validate_create(&collection, object)
            .map_err(|e| anyhow!("demo {name} is invalid: {e:?}"))?;
        work.ops.push(WriteOp::Create {
            id: None,
            collection: collection.clone(),
            values,
            tenant: None,
        });
    }
    let results = state
        .store
        .execute(work)
        .await
        .map_err(|e| anyhow!("seeding {name}: {}", e.detail))?;
    Ok(results
        .into_iter()
        .filter_map(|r| match r {
            WriteResult::Created(record) => Some(record.id),
            _ => None,
        })
        .collect())
}

/// The shop (tenant) the demo's customers and orders belong to.
pub const DEMO_TENANT: &str = "demo-shop";

/// The demo's administrator. Demo data only: the password is public.
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "demo administrator passphrase";

/// Seeds the shop on first start (when it has no categories yet).
pub async fn seed_if_empty(state: &AppState) -> anyhow::Result<()> {
    let categories = collection(state, "categories")?;
    if state
        .store
        .count(&Scope::AllTenants, categories, None)
        .await
        .map_err(|e| anyhow!("{}", e.detail))?
        > 0
    {
        return Ok(());
    }
    let cat = create_all(
        state,
        "categories",
        vec![
            json!({"name": "Lighting", "slug": "lighting"}),
            json!({"name": "Furniture", "slug": "furniture"}),
            json!({"name": "Kitchen", "slug": "kitchen"}),
        ],
    )
    .await?;
    let product = create_all(state, "products", vec![
        json!({"name": "Brass desk lamp", "sku": "LAMP-001", "price": "89.00", "stock": 12, "category": cat[0], "status": "active", "attributes": {"finish": "brass", "bulb": "E27"}}),
        json!({"name": "Paper floor lamp", "sku": "LAMP-002", "price": "129.50", "stock": 4, "category": cat[0], "status": "active"}),
        json!({"name": "Oak side table", "sku": "TBL-010", "price": "240.00", "stock": 3, "category": cat[1], "status": "active"}),
        json!({"name": "Walnut bookshelf", "sku": "SHF-020", "price": "610.00", "stock": 0, "category": cat[1], "status": "draft"}),
        json!({"name": "Cast iron pan", "sku": "KIT-100", "price": "45.90", "stock": 30, "category": cat[2], "status": "active"}),
        json!({"name": "Linen apron", "sku": "KIT-101", "price": "24.00", "stock": 18, "category": cat[2], "status": "archived"}),
    ])
    .await?;
    let customer = create_all(state, "customers", vec![
        json!({"email": "ada@example.com", "name": "Ada Lovelace", "tier": "gold", "website": "https://example.com/ada", "phone": "+44 20 7946 0018", "notes": "Prefers letters to calls."}),
        json!({"email": "grace@example.com", "name": "Grace Hopper", "tier": "vip", "birthday": "1906-12-09"}),
    ])
    .await?;
    let order = create_all(state, "orders", vec![
        json!({"customer": customer[0], "status": "paid", "total": "178.00", "placed_at": "2026-11-01T10:15:00Z"}),
        json!({"customer": customer[1], "status": "pending", "total": "45.90", "placed_at": "2026-11-20T16:40:00Z", "gift": true}),
    ])
    .await?;
    create_all(
        state,
        "order_items",
        vec![
            json!({"order": order[0], "product": product[0], "quantity": 2, "unit_price": "89.00"}),
            json!({"order": order[1], "product": product[4], "quantity": 1, "unit_price": "45.90"}),
        ],
    )
    .await?;
    let hash = state
        .auth
        .hasher
        .hash(ADMIN_PASSWORD)
        .await
        .map_err(|e| anyhow!("hashing the demo password: {e}"))?;
    let admin = fathom_store::NewUser {
        email: ADMIN_EMAIL.into(),
        password_hash: hash,
        roles: vec!["admin".into()],
        tenant: None,
        verified: true,
    };
    state
        .store
        .create_user(admin)
        .await
        .map_err(|e| anyhow!("creating the demo administrator: {}", e.detail))?;
    tracing::info!(
        admin = ADMIN_EMAIL,
        "seeded the demo shop and its administrator"
    );
    Ok(())
}

//! Before an order is created: the cart must be the caller's, open and not empty, and every
//! product must have the stock asked for. The hook then, in the order's own transaction, takes
//! the quantities off the products (with the versions it read: never oversold, never negative),
//! holds a reservation per product, checks the cart out, and fills in the order's customer,
//! total and status `reserved`. A shortage refuses the order with `out_of_stock` (409) and
//! nothing is written.

use std::collections::BTreeMap;

use async_trait::async_trait;
use fathom_engine::{As, BeforeWrite, HookRefusal, PendingWrite, Principal};
use fathom_store::Scope;
use rust_decimal::Decimal;
use serde_json::{Value as Json, json};
use uuid::Uuid;

use super::stock::move_read_stock;
use super::{
    CART_CHECKED_OUT, CART_EMPTY, CART_NOT_FOUND, CART_REQUIRED, CUSTOMER_REQUIRED, OUT_OF_STOCK,
    PRODUCT_UNAVAILABLE,
};
use crate::records::{Fields, list_by, object};

pub struct PlaceOrder;

#[async_trait]
impl BeforeWrite for PlaceOrder {
    async fn before(&self, write: &mut PendingWrite<'_>) -> Result<(), HookRefusal> {
        // A customer's own request, or the shop's route writing as the system for the
        // customer its token names (`customer`).
        let customer = match write.caller() {
            Principal::System => write
                .value("customer")
                .and_then(Json::as_str)
                .and_then(|s| Uuid::parse_str(s).ok()),
            caller => caller.account().map(|c| c.user_id),
        };
        let Some(customer) = customer else {
            return Err(CUSTOMER_REQUIRED.refuse(
                "Only a signed-in customer places orders.",
                "Sign in with a customer account of this store.",
            ));
        };
        let cart_id = write
            .value("cart")
            .and_then(Json::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| {
                CART_REQUIRED.refuse(
                    "An order names the cart it buys.",
                    "Send {\"cart\": \"<cart id>\"}.",
                )
            })?;
        let cart = write
            .get(As::System, "carts", cart_id)
            .await?
            .filter(|c| Fields::of(c).uuid("customer") == Some(customer))
            .ok_or_else(|| {
                CART_NOT_FOUND.refuse(
                    format!("No cart of yours has the id {cart_id}."),
                    "Order one of your own open carts.",
                )
            })?;
        if Fields::of(&cart).text("status") != Some("open") {
            return Err(CART_CHECKED_OUT.refuse(
                format!("The cart {cart_id} was ordered already."),
                "Start a new cart for another order.",
            ));
        }
        let scope = cart.tenant.clone().map_or(Scope::NoTenant, Scope::Tenant);
        let lines = list_by(write.engine(), &scope, "cart_lines", "cart", cart_id).await?;
        let mut wanted: BTreeMap<Uuid, i64> = BTreeMap::new();
        for line in &lines {
            let line = Fields::of(line);
            if let (Some(product), Some(quantity)) =
                (line.uuid("product"), line.integer("quantity"))
            {
                *wanted.entry(product).or_insert(0) += quantity;
            }
        }
        if wanted.is_empty() {
            return Err(CART_EMPTY.refuse(
                format!("The cart {cart_id} has no lines."),
                "Add products to the cart (POST /api/v1/cart_lines) before ordering it.",
            ));
        }
        let mut total = Decimal::ZERO;
        let mut taken = Vec::with_capacity(wanted.len());
        for (&product, &quantity) in &wanted {
            let Some(record) = write.get(As::System, "products", product).await? else {
                return Err(unavailable(product));
            };
            let fields = Fields::of(&record);
            if fields.boolean("active") == Some(false) {
                return Err(unavailable(product));
            }
            let stock = fields.integer("stock").unwrap_or(0);
            if stock < quantity {
                let name = fields.text("name").unwrap_or_default();
                return Err(OUT_OF_STOCK.refuse(
                    format!(
                        "Only {stock} of \"{name}\" ({product}) are left; the cart asks for {quantity}."
                    ),
                    "Lower the quantity in the cart or remove the line, then order again.",
                )
                .with_field("cart", "out_of_stock", format!("{product}: {stock} left")));
            }
            total += fields.decimal("price").unwrap_or_default() * Decimal::from(quantity);
            taken.push((record, -quantity));
        }
        // The order's id is fixed here, so that its reservations can name it in the same unit.
        let order = write.id().unwrap_or_else(Uuid::now_v7);
        // The stock checked above is the stock written: the versions read guard it.
        move_read_stock(write, &taken).await?;
        for (&product, &quantity) in &wanted {
            write
                .create(
                    As::System,
                    "reservations",
                    object([
                        ("order", json!(order)),
                        ("product", json!(product)),
                        ("quantity", json!(quantity)),
                        ("status", json!("held")),
                    ]),
                )
                .await?;
        }
        write
            .update(
                As::System,
                "carts",
                cart_id,
                object([("status", json!("checked_out"))]),
                Some(cart.version),
            )
            .await?;
        write.set("id", Some(json!(order)));
        write.set("customer", Some(json!(customer)));
        write.set("total", Some(json!(total.round_dp(2).to_string())));
        write.set("status", Some(json!("reserved")));
        write.set("reason", None);
        Ok(())
    }
}

fn unavailable(product: Uuid) -> HookRefusal {
    PRODUCT_UNAVAILABLE.refuse(
        format!("The product {product} is no longer sold."),
        "Remove it from the cart and order again.",
    )
}

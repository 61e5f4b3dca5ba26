//! The shop's before-write hooks: each runs inside the write's transaction, so what it adds
//! (stock taken or given back, reservations, a checked-out cart) commits or rolls back with the
//! request. Refusals are problems with the shop's own codes (`out_of_stock`, `cart_empty`, ...).

mod cart_lines;
mod order_states;
mod place_order;
mod stock;

use fathom_engine::HookCode;

pub use cart_lines::GuardCartLine;
pub use order_states::OrderStates;
pub use place_order::PlaceOrder;

const CUSTOMER_REQUIRED: HookCode = HookCode::new("customer_required", 403, "Customers only");
const CART_REQUIRED: HookCode = HookCode::new("cart_required", 400, "No cart named");
const CART_NOT_FOUND: HookCode = HookCode::new("cart_not_found", 404, "No such cart of yours");
const CART_CHECKED_OUT: HookCode =
    HookCode::new("cart_checked_out", 409, "The cart was ordered already");
const CART_EMPTY: HookCode = HookCode::new("cart_empty", 422, "The cart has no lines");
const OUT_OF_STOCK: HookCode = HookCode::new("out_of_stock", 409, "Not enough stock");
const PRODUCT_UNAVAILABLE: HookCode =
    HookCode::new("product_unavailable", 409, "The product is not sold");
const ORDER_LOCKED: HookCode =
    HookCode::new("order_locked", 403, "The shop sets this field of an order");
const INVALID_TRANSITION: HookCode = HookCode::new(
    "invalid_transition",
    409,
    "The order cannot move to that state",
);

/// The shop's own codes, declared to the builder so that the OpenAPI document lists them.
pub const CODES: &[HookCode] = &[
    CUSTOMER_REQUIRED,
    CART_REQUIRED,
    CART_NOT_FOUND,
    CART_CHECKED_OUT,
    CART_EMPTY,
    OUT_OF_STOCK,
    PRODUCT_UNAVAILABLE,
    ORDER_LOCKED,
    INVALID_TRANSITION,
];

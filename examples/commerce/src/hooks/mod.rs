//! The shop's before-write hooks: each runs inside the write's transaction, so what it adds
//! (stock taken or given back, reservations, a checked-out cart) commits or rolls back with the
//! request. Refusals are problems with the shop's own codes (`out_of_stock`, `cart_empty`, ...).

mod cart_lines;
mod order_states;
mod place_order;
mod stock;

use fathom_engine::HookRefusal;

pub use cart_lines::GuardCartLine;
pub use order_states::OrderStates;
pub use place_order::PlaceOrder;

/// A refusal with the shop's own code.
fn refuse(status: u16, code: &str, detail: String, hint: &str) -> HookRefusal {
    HookRefusal::new(status, code, detail, hint)
}

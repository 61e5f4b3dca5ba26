//! Before a cart line is created: the cart must be the caller's own and still open. The create
//! rule cannot say so itself (a create rule sees the incoming record, not the cart it names).

use async_trait::async_trait;
use fathom_engine::{As, BeforeWrite, HookRefusal, PendingWrite};

use super::{CART_CHECKED_OUT, CART_NOT_FOUND};
use crate::records::Fields;

pub struct GuardCartLine;

#[async_trait]
impl BeforeWrite for GuardCartLine {
    async fn before(&self, write: &mut PendingWrite<'_>) -> Result<(), HookRefusal> {
        let Some(cart_id) = write
            .value("cart")
            .and_then(|v| v.as_str())
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
        else {
            return Ok(()); // Validation already refused a line without a cart.
        };
        // Read as the caller: a cart they may not view answers as missing.
        let cart = write.get(As::Caller, "carts", cart_id).await?;
        let caller = write.caller().account().map(|c| c.user_id);
        let cart = cart.map(|c| Fields::of(&c));
        match cart {
            Some(cart) if cart.uuid("customer") == caller && caller.is_some() => {
                if cart.text("status") != Some("open") {
                    return Err(CART_CHECKED_OUT.refuse(
                        format!("The cart {cart_id} was checked out already."),
                        "Start a new cart for another order.",
                    ));
                }
                Ok(())
            }
            _ => Err(CART_NOT_FOUND.refuse(
                format!("No cart of yours has the id {cart_id}."),
                "Create a cart (POST /api/v1/carts with your user id as customer) and add lines to it.",
            )),
        }
    }
}

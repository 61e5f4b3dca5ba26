//! The shop's custom route on Fathom's router, `GET /api/v1/shop/summary`: a store's orders by
//! state and its stock, for its staff.

use fathom::embed::FathomBuilder;

/// Adds the shop's routes to `builder`.
pub fn add(builder: FathomBuilder) -> FathomBuilder {
    builder
}

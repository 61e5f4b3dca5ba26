//! [`Shop`]: the commerce server, built with Fathom's builder: the schema, the before-write
//! hooks, the after-commit steps (one per partition of the orders) and the custom routes, then
//! the order flow handed the engine the server runs on.

use std::sync::Arc;

use anyhow::Context;
use fathom::embed::Fathom;
use fathom::{Application, Config};

use crate::flow::OrderFlow;
use crate::hooks::{CODES, GuardCartLine, OrderStates, PlaceOrder};
use crate::payments::{PaymentClient, PaymentSettings};
use crate::steps::{FlowCell, OrderSteps};

/// The shop's schema file, compiled in.
pub const SCHEMA: &str = include_str!("../schema.toml");

/// How to build the shop.
pub struct ShopOptions {
    pub config: Config,
    pub payments: PaymentSettings,
    /// Partitions of the order flow (after-commit hooks running side by side).
    pub partitions: u32,
}

/// The built shop: the server (not serving yet) and its order flow.
pub struct Shop {
    pub app: Application,
    pub flow: OrderFlow,
}

/// The shop's schema, parsed.
pub fn schema() -> anyhow::Result<fathom_schema::Schema> {
    fathom_schema::parse_schema("examples/commerce/schema.toml", SCHEMA)
        .map_err(|e| anyhow::anyhow!("the commerce schema has problems:\n{e}"))
}

impl Shop {
    pub async fn build(options: ShopOptions) -> anyhow::Result<Self> {
        let cell = FlowCell::default();
        let partitions = options.partitions.max(1);
        // The hooks run on every door: the shop's routes, Fathom's REST API and batch.
        let mut builder = Fathom::builder()
            .config(options.config)
            .schema(schema()?)
            .before_create("orders", PlaceOrder)
            .before_update("orders", OrderStates)
            .before_create("cart_lines", GuardCartLine)
            .error_codes(CODES);
        for partition in 0..partitions {
            builder = builder.after_commit_on(
                OrderSteps::name(partition, partitions),
                ["orders"],
                OrderSteps {
                    flow: cell.clone(),
                    partition,
                    partitions,
                },
            );
        }
        builder = crate::routes::add(builder, &cell);
        let app = builder.build().await?;
        // The server's own engine, with the shop's before-write hooks: the shop's routes and
        // the order flow write through it as the REST API does.
        let engine = app.state().engine.clone();
        let flow = OrderFlow {
            engine,
            payments: Arc::new(
                PaymentClient::new(options.payments).context("building the payment client")?,
            ),
        };
        // Set once, here: the cell was made above and is not shared with any other build.
        let _ = cell.set(flow.clone());
        Ok(Self { app, flow })
    }
}

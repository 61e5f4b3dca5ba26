//! The order flow after commit: every committed change of an order moves it one step on, from
//! what the order is now (not what the event said), so running a step twice changes nothing
//! more. `reserved`: charge it through the payment client (idempotency key = the order id) and
//! record the payment with the order `paid`, or mark it `payment_failed` (its hook gives the
//! stock back in the same transaction). `paid`: `fulfilled` (its hook consumes the
//! reservations). `payment_failed`: void whatever the provider may have charged before the
//! client gave up (a timed-out call). `cancelled`: refund, and `refunded` if there was a charge.
//! Every state change goes through the engine with the version read, so a step that lost a race
//! (a customer cancelled meanwhile) writes nothing and leaves the order to its next event.

use std::sync::Arc;

use fathom_engine::{Engine, EngineError, Principal, WriteOptions};
use fathom_store::Scope;
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use crate::payments::{PaymentClient, PaymentError, Receipt};
use crate::records::{Fields, cents, list_by, object};

/// Why a step could not finish; the after-commit machinery retries the event later.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("the engine refused a step: {0}")]
    Engine(#[from] EngineError),
    #[error("the payment provider could not be reached: {0}")]
    Payment(#[from] PaymentError),
}

/// The flow's dependencies: the engine (writes as the system) and the payment client.
#[derive(Clone)]
pub struct OrderFlow {
    pub engine: Engine,
    pub payments: Arc<PaymentClient>,
}

/// Whether a write lost a race: the record moved on (another version, another state) or went
/// away. The step is then done: the change that won has its own event.
fn lost_race(error: &EngineError) -> bool {
    matches!(error.status(), 404 | 409 | 412)
}

impl OrderFlow {
    /// Moves order `id` one step on from its current state.
    pub async fn advance(&self, id: Uuid) -> Result<(), StepError> {
        let orders = self.engine.collection("orders")?;
        let Some(order) = self.engine.get(&Principal::System, &orders, id).await? else {
            return Ok(());
        };
        let fields = Fields::of(&order);
        let scope = order.tenant.clone().map_or(Scope::NoTenant, Scope::Tenant);
        match fields.text("status").unwrap_or_default() {
            "reserved" => self.pay(id, order.version, &fields, scope).await,
            "paid" => {
                self.set_status(id, order.version, object([("status", json!("fulfilled"))]))
                    .await
            }
            "payment_failed" => {
                // A call that timed out may have been charged all the same: give it back.
                self.payments.refund(id).await?;
                Ok(())
            }
            "cancelled" => self.refund(id, order.version, scope).await,
            _ => Ok(()),
        }
    }

    async fn pay(
        &self,
        id: Uuid,
        version: i64,
        order: &Fields,
        scope: Scope,
    ) -> Result<(), StepError> {
        let total = order.decimal("total").unwrap_or_default();
        let Some(amount) = cents(total).filter(|c| *c > 0) else {
            // Nothing to charge: the order is paid as it stands.
            return self
                .set_status(id, version, object([("status", json!("paid"))]))
                .await;
        };
        match self.payments.charge(id, amount).await {
            Ok(receipt) => self.record_payment(id, version, &receipt, scope).await,
            // The provider refused (4xx), failed every retry or is shut off by the breaker: the
            // payment failed, and the order's hook gives its stock back with the new state.
            Err(error) => {
                let reason = error.to_string();
                self.set_status(
                    id,
                    version,
                    object([
                        ("status", json!("payment_failed")),
                        ("reason", json!(reason)),
                    ]),
                )
                .await
            }
        }
    }

    /// The order `paid` and its payment recorded, in one unit.
    async fn record_payment(
        &self,
        id: Uuid,
        version: i64,
        receipt: &Receipt,
        scope: Scope,
    ) -> Result<(), StepError> {
        let payment = object([
            ("order", json!(id)),
            ("charge", json!(receipt.id)),
            ("amount", json!(format_cents(receipt.amount_cents))),
            ("status", json!("charged")),
        ]);
        let paid = object([("status", json!("paid"))]);
        self.unit(scope, id, version, &paid, &payment).await
    }

    /// Refunds a cancelled order; with a charge given back the order is `refunded` and its
    /// payment marked so (or recorded, when the charge landed after the cancellation).
    async fn refund(&self, id: Uuid, version: i64, scope: Scope) -> Result<(), StepError> {
        if !self.payments.refund(id).await? {
            return Ok(()); // Never charged: `cancelled` is where it ends.
        }
        let refunded = object([("status", json!("refunded"))]);
        let payments = self.engine.collection("payments")?;
        let existing = list_by(&self.engine, &scope, "payments", "order", id).await?;
        let Some(payment) = existing.first() else {
            let charges = self.payments.charges_for(id).await?;
            let Some(charge) = charges.first() else {
                return self.set_status(id, version, refunded).await;
            };
            let record = object([
                ("order", json!(id)),
                ("charge", json!(charge.id)),
                ("amount", json!(format_cents(charge.amount_cents))),
                ("status", json!("refunded")),
            ]);
            return self.unit(scope, id, version, &refunded, &record).await;
        };
        let orders = self.engine.collection("orders")?;
        let planned = vec![
            self.engine
                .plan_update(&Principal::System, &orders, id, &refunded, Some(version))?,
            self.engine.plan_update(
                &Principal::System,
                &payments,
                payment.id,
                &object([("status", json!("refunded"))]),
                None,
            )?,
        ];
        self.write(scope, (id, version), planned).await
    }

    /// The order updated with `change` (at `version`) and a payment created, in one unit.
    async fn unit(
        &self,
        scope: Scope,
        id: Uuid,
        version: i64,
        change: &Map<String, Json>,
        payment: &Map<String, Json>,
    ) -> Result<(), StepError> {
        let orders = self.engine.collection("orders")?;
        let payments = self.engine.collection("payments")?;
        let planned = vec![
            self.engine
                .plan_update(&Principal::System, &orders, id, change, Some(version))?,
            self.engine
                .plan_create(&Principal::System, &payments, payment)?,
        ];
        self.write(scope, (id, version), planned).await
    }

    /// Runs `planned` (the order's update at `version` first) as one unit.
    async fn write(
        &self,
        scope: Scope,
        (id, version): (Uuid, i64),
        planned: Vec<fathom_engine::Planned>,
    ) -> Result<(), StepError> {
        match self
            .engine
            .write(&Principal::System, scope, planned, WriteOptions::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(error) => self.unless_moved_on(id, version, error).await,
        }
    }

    /// A failed write is done with when the order moved on meanwhile (another version: the
    /// change that won has its own event); any other failure (a product's stock contended past
    /// the engine's retries, the database away) is the step's, to be retried.
    async fn unless_moved_on(
        &self,
        id: Uuid,
        version: i64,
        error: EngineError,
    ) -> Result<(), StepError> {
        if !lost_race(&error) {
            return Err(error.into());
        }
        let orders = self.engine.collection("orders")?;
        match self.engine.get(&Principal::System, &orders, id).await? {
            Some(order) if order.version == version => Err(error.into()),
            _ => Ok(()),
        }
    }

    async fn set_status(
        &self,
        id: Uuid,
        version: i64,
        change: Map<String, Json>,
    ) -> Result<(), StepError> {
        let orders = self.engine.collection("orders")?;
        match self
            .engine
            .update(
                &Principal::System,
                &orders,
                id,
                &change,
                Some(version),
                WriteOptions::default(),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(error) => self.unless_moved_on(id, version, error).await,
        }
    }
}

fn format_cents(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, (cents % 100).abs())
}

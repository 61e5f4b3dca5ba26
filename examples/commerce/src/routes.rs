//! The shop's custom routes on Fathom's router, served with Fathom's caller extractor, rate
//! limits and OpenAPI document: `POST /api/v1/shop/orders` (a customer orders one of their
//! carts), `POST /api/v1/shop/orders/{id}/cancel` (the customer or the store's staff cancel),
//! and `GET /api/v1/shop/summary` (the store's orders by state, for its staff). Orders are
//! written through the shop's engine, whose before-write hooks reserve and settle the stock in
//! the order's transaction; the collection's own REST writes are for administrators only (see
//! `schema.toml`), so no order escapes the hooks.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fathom::embed::{FathomBuilder, OperationDoc, Principal};
use fathom_core::ErrorCode;
use fathom_engine::{EngineError, Principal as EnginePrincipal, WriteOptions};
use fathom_store::{Scope, WriteResult};
use serde_json::{Value as Json_, json};
use uuid::Uuid;

use crate::check::all_in;
use crate::records::{Fields, object};
use crate::steps::FlowCell;

/// Adds the shop's routes to `builder`; they reach the engine through `cell` once it is set.
pub fn add(builder: FathomBuilder, cell: &FlowCell) -> FathomBuilder {
    let (place_cell, cancel_cell, summary_cell) = (cell.clone(), cell.clone(), cell.clone());
    builder
        .route(
            "/api/v1/shop/orders",
            post(move |principal: Principal, body: Json<Json_>| {
                let cell = place_cell.clone();
                async move { place(&cell, principal, body.0).await }
            }),
            OperationDoc::post("Order a cart")
                .tag("Shop")
                .description("Orders one of the caller's open carts: the stock of every line is reserved in the order's transaction. 409 `out_of_stock` when a product has too little left (nothing is written).")
                .request(json!({"type": "object", "required": ["cart"], "properties": {"cart": {"type": "string", "format": "uuid"}}, "additionalProperties": false}))
                .response(201, "The order, `reserved`", Some(json!({"type": "object"})))
                .problems(&[400, 401, 403, 404, 409, 422])
                .authenticated(),
        )
        .route(
            "/api/v1/shop/orders/{id}/cancel",
            post(move |principal: Principal, Path(id): Path<String>| {
                let cell = cancel_cell.clone();
                async move { cancel(&cell, principal, &id).await }
            }),
            OperationDoc::post("Cancel an order")
                .tag("Shop")
                .description("Cancels a reserved or paid order of the caller's (or, for staff, of their store): the held stock goes back at once, a charge is refunded after commit. 409 `invalid_transition` for any other state.")
                .response(200, "The order, `cancelled`", Some(json!({"type": "object"})))
                .problems(&[400, 401, 404, 409])
                .authenticated(),
        )
        .route(
            "/api/v1/shop/summary",
            get(move |principal: Principal| {
                let cell = summary_cell.clone();
                async move { summary(&cell, principal).await }
            }),
            OperationDoc::get("The store's orders by state")
                .tag("Shop")
                .description("For the store's staff: how many of the store's orders are in each state.")
                .response(200, "Counts by state", Some(json!({"type": "object"})))
                .problems(&[401, 403])
                .authenticated(),
        )
}

/// A refusal of the shop's routes before the engine is reached, rendered by [`Refusal::answer`].
struct Refusal {
    status: u16,
    code: ErrorCode,
    detail: String,
    hint: &'static str,
}

impl Refusal {
    fn answer(&self) -> Response {
        problem(self.status, self.code.as_str(), &self.detail, self.hint)
    }
}

fn member(principal: &Principal, role: &str) -> Result<(Uuid, String), Refusal> {
    let caller = match principal {
        Principal::User(c) | Principal::Admin(c) => c,
        Principal::Anonymous | Principal::Service(_) | Principal::System => {
            return Err(Refusal {
                status: 401,
                code: ErrorCode::Unauthorized,
                detail: "Sign in to use the shop.".into(),
                hint: "Send an access token as `Authorization: Bearer <token>`.",
            });
        }
    };
    match &caller.claims.tenant {
        Some(tenant) if caller.claims.roles.iter().any(|r| r == role) => {
            Ok((caller.user_id, tenant.clone()))
        }
        _ => Err(Refusal {
            status: 403,
            code: ErrorCode::Forbidden,
            detail: format!("Only a {role} of a store may do this."),
            hint: "Sign in with an account of this store that has the role.",
        }),
    }
}

async fn place(cell: &FlowCell, principal: Principal, body: Json_) -> Response {
    let (customer, tenant) = match member(&principal, "customer") {
        Ok(member) => member,
        Err(refused) => return refused.answer(),
    };
    let Some(flow) = cell.get() else {
        return not_ready();
    };
    let Some(cart) = body.get("cart").cloned().filter(Json_::is_string) else {
        return problem(
            400,
            ErrorCode::ValidationFailed.as_str(),
            "The body names no cart.",
            "Send {\"cart\": \"<id of one of your open carts>\"}.",
        );
    };
    // Written as the system, since no REST caller may create orders (that would skip the
    // hooks); the hook checks the cart against the customer named here, from the token.
    let values = object([
        ("cart", cart),
        ("customer", json!(customer)),
        ("tenant", json!(tenant)),
    ]);
    let mut attempt = 0;
    let result = loop {
        attempt += 1;
        let result = async {
            let orders = flow.engine.collection("orders")?;
            flow.engine
                .create(
                    &EnginePrincipal::System,
                    &orders,
                    &values,
                    WriteOptions::default(),
                )
                .await
        }
        .await;
        // Another order took a product's version first, more often than the engine retries:
        // nothing was written, so the whole placement is run again from fresh reads.
        match result {
            Err(error) if contended(&error) && attempt < PLACE_ATTEMPTS => continue,
            result => break result,
        }
    };
    match result {
        Ok(results) => match results.first() {
            Some(WriteResult::Created(order)) => answer(StatusCode::CREATED, order.to_json()),
            _ => engine_problem(&EngineError::internal(
                "the order's write returned no order",
            )),
        },
        Err(error) => engine_problem(&error),
    }
}

/// How many times a placement is run when products' stock keeps being written by other orders
/// between its reads and its transaction (each run the engine retries a few times itself).
const PLACE_ATTEMPTS: usize = 8;

/// Whether a write failed only because a record changed since it was read.
fn contended(error: &EngineError) -> bool {
    error.code.known() == Some(ErrorCode::PreconditionFailed)
}

/// How often a cancel is tried again when the order changed between its read and its write
/// (the flow moved it on): each try reads it afresh.
const CANCEL_ATTEMPTS: usize = 5;

async fn cancel(cell: &FlowCell, principal: Principal, id: &str) -> Response {
    let Some(flow) = cell.get() else {
        return not_ready();
    };
    let Ok(id) = Uuid::parse_str(id) else {
        return problem(
            400,
            ErrorCode::InvalidId.as_str(),
            &format!("`{id}` is not an order id."),
            "Use the id of one of your orders.",
        );
    };
    let caller = principal;
    for _ in 0..CANCEL_ATTEMPTS {
        let result = async {
            let orders = flow.engine.collection("orders")?;
            // Read as the caller: an order they may not view answers 404.
            let Some(order) = flow.engine.get(&caller, &orders, id).await? else {
                return Err(EngineError::record_not_found("orders", &id.to_string()));
            };
            let change = object([("status", json!("cancelled"))]);
            flow.engine
                .update(
                    &EnginePrincipal::System,
                    &orders,
                    id,
                    &change,
                    Some(order.version),
                    WriteOptions::default(),
                )
                .await
        }
        .await;
        match result {
            Ok(results) => {
                if let Some(WriteResult::Updated(order)) = results.first() {
                    return answer(StatusCode::OK, order.to_json());
                }
            }
            // The flow moved the order between the read and the write: read it again.
            Err(error) if contended(&error) => {}
            Err(error) => return engine_problem(&error),
        }
    }
    problem(
        409,
        ErrorCode::PreconditionFailed.as_str(),
        "The order kept changing while it was being cancelled.",
        "Read the order and try again.",
    )
}

async fn summary(cell: &FlowCell, principal: Principal) -> Response {
    let tenant = match member(&principal, "staff") {
        Ok((_, tenant)) => tenant,
        Err(refused) => return refused.answer(),
    };
    let Some(flow) = cell.get() else {
        return not_ready();
    };
    let scope = Scope::Tenant(tenant.clone());
    match all_in(flow.engine.store(), flow.engine.schema(), &scope, "orders").await {
        Ok(orders) => {
            let mut states: BTreeMap<String, usize> = BTreeMap::new();
            for order in &orders {
                let status = Fields::of(order)
                    .text("status")
                    .unwrap_or_default()
                    .to_owned();
                *states.entry(status).or_insert(0) += 1;
            }
            answer(
                StatusCode::OK,
                object([("store", json!(tenant)), ("orders", json!(states))]),
            )
        }
        Err(error) => {
            tracing::error!(error = %error, "reading the store's orders");
            problem(
                503,
                ErrorCode::ServiceUnavailable.as_str(),
                "The orders could not be read.",
                "Retry shortly.",
            )
        }
    }
}

fn answer(status: StatusCode, data: serde_json::Map<String, Json_>) -> Response {
    (status, Json(json!({ "data": data }))).into_response()
}

fn not_ready() -> Response {
    problem(
        503,
        ErrorCode::ServiceUnavailable.as_str(),
        "The shop is still starting.",
        "Retry in a moment.",
    )
}

/// An engine refusal as problem+json, its code (the shop's own, like `out_of_stock`, or one of
/// Fathom's) kept.
fn engine_problem(error: &EngineError) -> Response {
    let status = error.code.status();
    if status >= 500 {
        tracing::error!(cause = ?error.cause, detail = %error.detail, "a shop route failed");
    }
    let errors: Vec<Json_> = error
        .errors
        .iter()
        .map(|e| json!({ "field": e.field, "code": e.code, "message": e.message }))
        .collect();
    let mut body = problem_body(status, error.code.as_str(), &error.detail, &error.hint);
    body["errors"] = json!(errors);
    problem_response(status, &body)
}

fn problem(status: u16, code: &str, detail: &str, hint: &str) -> Response {
    problem_response(status, &problem_body(status, code, detail, hint))
}

fn problem_body(status: u16, code: &str, detail: &str, hint: &str) -> Json_ {
    json!({
        "type": format!("urn:fathom:problem:{code}"),
        "title": code.replace('_', " "),
        "status": status,
        "detail": detail,
        "code": code,
        "hint": hint,
        "errors": [],
    })
}

fn problem_response(status: u16, body: &Json_) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

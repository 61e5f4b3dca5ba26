//! `POST /api/v1/{collection}`: validate the body, create the record, answer 201 with `Location`.
//! The body may name the new record's `id` (a UUID); one that exists already is 409.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fathom_schema::validate_create_with_id;
use fathom_store::{UnitOfWork, WriteOp, WriteResult};
use serde_json::Map;

use super::CollectionPath;
use super::access::{Principal, check_new_record, rule, visible_json};
use super::tenancy::{check_relation_tenants, create_scope, take_tenant};
use crate::AppState;
use crate::body::JsonObject;
use crate::envelope::envelope;
use crate::error::ApiError;

pub async fn create(
    State(state): State<AppState>,
    CollectionPath(collection): CollectionPath,
    principal: Principal,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let (fields, tenant) = take_tenant(&collection, &principal, &body)?;
    // Authorization comes first: a caller who may not create learns nothing from validation.
    let create_rule = rule(
        &state.schema,
        &collection,
        "create",
        &principal,
        Some(&fields),
    )?;
    let (id, values) =
        validate_create_with_id(&collection, &fields).map_err(ApiError::validation)?;
    check_new_record(&collection, &principal, create_rule.as_ref(), &values)?;
    let scope = create_scope(&principal, tenant.as_ref());
    check_relation_tenants(&state, &collection, &scope, None, &values).await?;
    let op = WriteOp::Create {
        id,
        collection: collection.clone(),
        values,
        tenant: None,
    };
    let mut results =
        super::write::execute(&state, &principal, UnitOfWork::single(scope, op)).await?;
    let Some(WriteResult::Created(record)) = results.pop() else {
        return Err(ApiError::internal("create returned no record"));
    };
    let location = format!("/api/v1/{}/{}", collection.name, record.id.hyphenated());
    let mut response = (
        StatusCode::CREATED,
        envelope(visible_json(&collection, &principal, &record), Map::new()),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

//! `PATCH /api/v1/{collection}/{id}`: a partial update of the supplied fields.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use fathom_schema::validate_patch;
use fathom_store::{UnitOfWork, WriteOp, WriteResult};
use serde_json::Map;

use super::RecordPath;
use super::access::{Principal, refused_change, rule, visible_json};
use super::tenancy::check_relation_tenants;
use crate::AppState;
use crate::body::JsonObject;
use crate::envelope::envelope;
use crate::error::ApiError;

pub async fn update(
    State(state): State<AppState>,
    path: RecordPath,
    principal: Principal,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let guard = rule(
        &state.schema,
        &path.collection,
        "update",
        &principal,
        Some(&body),
    )?;
    let values = validate_patch(&path.collection, &body).map_err(ApiError::validation)?;
    let scope = principal.scope();
    check_relation_tenants(&state, &path.collection, &scope, Some(path.id), &values).await?;
    let op = WriteOp::Update {
        collection: path.collection.clone(),
        id: path.id,
        values,
        guard,
    };
    let mut results = super::write::execute(&state, &principal, UnitOfWork::single(scope, op))
        .await
        .map_err(|e| {
            refused_change(&principal, &path.collection.name, e, |e| {
                path.write_error(e)
            })
        })?;
    let Some(WriteResult::Updated(record)) = results.pop() else {
        return Err(ApiError::internal("update returned no record"));
    };
    Ok(envelope(
        visible_json(&path.collection, &principal, &record),
        Map::new(),
    )
    .into_response())
}

//! `DELETE /api/v1/{collection}/{id}`: soft where the collection says so; answers 204.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fathom_store::{UnitOfWork, WriteOp};

use super::RecordPath;
use super::access::{Principal, rule};
use crate::AppState;
use crate::error::ApiError;

pub async fn delete(
    State(state): State<AppState>,
    path: RecordPath,
    principal: Principal,
) -> Result<Response, ApiError> {
    let guard = rule(&state.schema, &path.collection, "delete", &principal, None)?;
    let op = WriteOp::Delete {
        collection: path.collection.clone(),
        id: path.id,
        guard,
    };
    super::write::execute(
        &state,
        &principal,
        UnitOfWork::single(principal.scope(), op),
    )
    .await
    .map_err(|e| path.write_error(e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

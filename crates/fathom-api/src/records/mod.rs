//! The records API: `/api/v1/{collection}` and `/api/v1/{collection}/{id}`. One file per operation;
//! this module owns the router and the pieces they share (path extraction, record JSON).

pub(crate) mod access;
pub(crate) mod accounts;
mod batch;
pub(crate) mod conditional;
mod create;
mod delete;
mod expand;
pub(crate) mod fields;
mod get;
mod list;
pub(crate) mod params;
mod restore;
pub(crate) mod tenancy;
mod update;
pub(crate) mod write;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::routing::get as get_route;
use fathom_core::ErrorCode;
use fathom_schema::Collection;
use fathom_store::Record;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;


pub fn router() -> Router<AppState> {
    Router::new()
        .route("/batch", axum::routing::post(batch::batch))
        .route("/{collection}", get_route(list::list).post(create::create))
        .route(
            "/{collection}/{id}",
            get_route(get::get)
                .patch(update::update)
                .delete(delete::delete),
        )
        .route(
            "/{collection}/{id}/restore",
            axum::routing::post(restore::restore),
        )
}

/// The collection named by the path, resolved against the served schema.
pub struct CollectionPath(pub Arc<Collection>);

/// The collection and record id named by the path.
pub struct RecordPath {
    pub collection: Arc<Collection>,
    pub id: Uuid,
    pub raw_id: String,
}

pub(crate) fn resolve(state: &AppState, name: &str) -> Result<Arc<Collection>, ApiError> {
    Ok(state.engine.collection(name)?)
}

fn bad_path() -> ApiError {
    ApiError::new(
        ErrorCode::RouteNotFound,
        "The path could not be read.",
        "Use /api/v1/{collection}/{id}.",
    )
}

impl FromRequestParts<AppState> for CollectionPath {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Path(name) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| bad_path())?;
        resolve(state, &name).map(Self)
    }
}

impl FromRequestParts<AppState> for RecordPath {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Path((name, raw_id)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| bad_path())?;
        let collection = resolve(state, &name)?;
        let id = Uuid::parse_str(&raw_id).map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidId,
                format!("`{}` is not a record id.", raw_id.chars().take(64).collect::<String>()),
                "Record ids are UUIDs such as 0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12, as returned in `id`.",
            )
        })?;
        Ok(Self {
            collection,
            id,
            raw_id,
        })
    }
}

impl RecordPath {
    /// Maps a failed write to this record, naming the record when it does not exist.
    /// A failed `If-Match` answers 412 with the record's current ETag.
    pub fn write_error(&self, failure: write::WriteFailure) -> ApiError {
        match failure.store {
            Some(fathom_store::StoreErrorKind::NotFound) => {
                ApiError::record_not_found(&self.collection.name, &self.raw_id)
            }
            Some(fathom_store::StoreErrorKind::PreconditionFailed { current }) => {
                conditional::stale(self.id, current)
            }
            _ => failure.into(),
        }
    }
}

/// The JSON form of a record: system fields first, then the schema's fields in order.
pub fn record_json(record: &Record) -> Value {
    Value::Object(record.to_json())
}

/// Records as JSON, expanded and trimmed as the request's shape asks.
pub async fn shape_records(
    state: &AppState,
    collection: &Collection,
    principal: &access::Principal,
    records: &[Record],
    shape: &params::Shape,
) -> Result<Vec<Value>, ApiError> {
    let mut objects: Vec<Map<String, Value>> = records
        .iter()
        .map(|r| match record_json(r) {
            Value::Object(map) => map,
            _ => Map::new(),
        })
        .collect();
    objects
        .iter_mut()
        .for_each(|o| access::strip_hidden(collection, principal, o));
    expand::expand(state, principal, &mut objects, &shape.expand).await?;
    if let Some(fields) = &shape.fields {
        objects.iter_mut().for_each(|o| fields.apply(o));
    }
    Ok(objects.into_iter().map(Value::Object).collect())
}

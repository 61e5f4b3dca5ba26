//! The bare baseline: axum and rusqlite with nothing else — one table, no validation, no auth,
//! no rules, no envelope, no request logging. It shows the practical limit of Fathom's stack on
//! this machine, so each Fathom figure can be read as a share of it.
//!
//! Routes: `POST /items` (201, the item), `GET /items/{id}` (200 or 404),
//! `GET /items?status=&min_priority=&owner=&limit=` (a page, newest first), `GET /health`.

pub mod db;

use std::future::Future;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::data::NewItem;
pub use db::{Db, Item, PageQuery};

/// A failed request: a status and a plain-text reason.
struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure(StatusCode::INTERNAL_SERVER_ERROR, format!("{error:#}"))
    }
}

#[derive(Debug, Deserialize)]
struct PageParams {
    status: String,
    #[serde(default)]
    min_priority: i64,
    owner: Option<String>,
    limit: Option<i64>,
}

async fn create(State(db): State<Db>, Json(item): Json<NewItem>) -> Result<Response, Failure> {
    let item = db.insert(item).await?;
    Ok((StatusCode::CREATED, Json(item)).into_response())
}

async fn get_one(State(db): State<Db>, Path(id): Path<String>) -> Result<Json<Item>, Failure> {
    match db.get(id).await? {
        Some(item) => Ok(Json(item)),
        None => Err(Failure(StatusCode::NOT_FOUND, "no such item".into())),
    }
}

async fn page(
    State(db): State<Db>,
    Query(params): Query<PageParams>,
) -> Result<Json<Vec<Item>>, Failure> {
    let query = PageQuery {
        status: params.status,
        min_priority: params.min_priority,
        owner: params.owner,
        limit: params.limit.unwrap_or(20).clamp(1, 100),
    };
    Ok(Json(db.page(query).await?))
}

/// The baseline's routes over `db`.
pub fn router(db: Db) -> Router {
    Router::new()
        .route("/items", get(page).post(create))
        .route("/items/{id}", get(get_one))
        .route("/health", get(|| async { "ok" }))
        .with_state(db)
}

/// Serves the baseline on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    db: Db,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, router(db))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

//! `GET /api/v1/{collection}/{id}`: one record, with `expand` and `fields`, if the view rule lets
//! the caller see it (otherwise 404, as if it did not exist).

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::access::{Principal, reject_hidden};
use super::params::parse_get;
use super::{RecordPath, conditional, shape_records};
use crate::AppState;
use crate::advice::{self, ClientAddr};
use crate::cache::{Answer, Lookup, Read};
use crate::envelope::envelope;
use crate::error::ApiError;

pub async fn get(
    State(state): State<AppState>,
    path: RecordPath,
    principal: Principal,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    // Every get by id counts for client advice, answered from the cache or not, found or not:
    // an N+1 burst is the requests a client makes.
    state.client_advice.record(
        advice::caller_of(&principal, addr),
        &path.collection.name,
        advice::Read::get,
    );
    let pending = match state
        .cache
        .begin(
            &state.cache_plan,
            &path.collection.name,
            Read::Get(path.id),
            query.as_deref(),
            &principal,
        )
        .await
    {
        Lookup::Hit(answer) => {
            let if_none_match = conditional::if_none_match(&headers)?;
            return Ok(answer.respond(if_none_match.as_deref()));
        }
        Lookup::Miss(pending) => pending,
    };
    let shape = parse_get(query.as_deref(), &state, &path.collection)?;
    let if_none_match = conditional::if_none_match(&headers)?;
    reject_hidden(
        &state.schema,
        &path.collection,
        &principal,
        "expand",
        &shape.expand_paths(),
    )?;
    let not_found = || ApiError::record_not_found(&path.collection.name, &path.raw_id);
    // The engine joins the view rule: a record the caller may not see is not found.
    let record = state
        .engine
        .get(&principal, &path.collection, path.id)
        .await?;
    let record = record.ok_or_else(not_found)?;
    // The ETag names the record's state; with `expand` the answer also shows other records,
    // whose changes it does not track, so only an unexpanded read is answered 304.
    let etag = conditional::record_etag(record.id, record.version);
    if let Some(tags) = if_none_match
        && shape.expand.is_empty()
        && conditional::matches_any(&tags, &etag)
    {
        return Ok(conditional::not_modified(&etag));
    }
    let mut shaped = shape_records(
        &state,
        &path.collection,
        &principal,
        std::slice::from_ref(&record),
        &shape,
    )
    .await?;
    let data = shaped.pop().unwrap_or(Value::Null);
    // A record the caller may not see is a 404 and never stored: only answers are.
    state.cache.finish(pending, || {
        Answer::new(&data, None, etag.clone(), shape.expand.is_empty())
    });
    let response = envelope(data, Map::new()).into_response();
    Ok(conditional::with_etag(response, &record))
}

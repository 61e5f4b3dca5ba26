//! `GET /api/v1/{collection}`: a page of records chosen by `filter` (or `ids`), ordered by `sort`,
//! paged by `cursor` (keyset, stable while others write) or `offset` (for small tables), with
//! `count=true` for the total, and `expand`/`fields` shaping each record.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use fathom_engine::reads::check_deleted;
use fathom_engine::{Listing, Page};
use serde_json::{Map, Value, json};

use super::access::{Principal, reject_hidden};
use super::params::parse_list;
use super::{CollectionPath, shape_records};
use crate::AppState;
use crate::advice::{self, ClientAddr};
use crate::cache::{Answer, Lookup, Read};
use crate::envelope::envelope;
use crate::error::ApiError;

pub async fn list(
    State(state): State<AppState>,
    CollectionPath(collection): CollectionPath,
    principal: Principal,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let caller = advice::caller_of(&principal, addr);
    // A stored answer implies that the same query from the same caller was valid, so only the
    // header is checked before it is served.
    let pending = match state
        .cache
        .begin(
            &state.cache_plan,
            &collection.name,
            Read::List,
            query.as_deref(),
            &principal,
        )
        .await
    {
        Lookup::Hit(answer) => {
            state
                .client_advice
                .record(caller, &collection.name, |number| {
                    advice::cached_list(number, query.as_deref(), state.config.default_page_size)
                });
            let if_none_match = super::conditional::if_none_match(&headers)?;
            return Ok(answer.respond(if_none_match.as_deref()));
        }
        Lookup::Miss(pending) => pending,
    };
    let mut request = parse_list(query.as_deref(), &state, &collection)?;
    // The caller's own narrowing, before the list rule joins it.
    let filtered = request.filter.is_some();
    let if_none_match = super::conditional::if_none_match(&headers)?;
    check_deleted(&principal, request.deleted)?;
    if let Some(filter) = &request.filter {
        reject_hidden(
            &state.schema,
            &collection,
            &principal,
            "filter",
            &filter.paths(),
        )?;
    }
    let sort_paths: Vec<_> = request.sort.iter().map(|k| k.path.clone()).collect();
    reject_hidden(&state.schema, &collection, &principal, "sort", &sort_paths)?;
    reject_hidden(
        &state.schema,
        &collection,
        &principal,
        "expand",
        &request.shape.expand_paths(),
    )?;
    // The expanded paths are part of the read's recorded shape (the architect's N+1 and
    // index advice read them); the store does not see them otherwise.
    let mut expand = Vec::new();
    expanded_paths(&request.shape.expand, "", &mut expand);
    // The engine confines the caller's relation hops to what the caller may list there, and
    // joins the list rule (the schema's own, which reads every record it names).
    let Page {
        records,
        more,
        total,
    } = state
        .engine
        .list(
            &principal,
            &collection,
            Listing {
                filter: request.filter.take(),
                sort: &request.sort,
                after: request.after.as_deref(),
                limit: request.limit,
                offset: request.offset,
                deleted: request.deleted,
                count: request.count,
                expand: &expand,
            },
        )
        .await?;
    let next = match records.last() {
        Some(last) if more => Value::String(state.cursor_key.encode(
            &collection.name,
            &request.sort,
            &last.sort_values(&request.sort),
        )),
        _ => Value::Null,
    };
    // `offset` is on every page (0 on cursor pages, which take no other), so the shape is fixed.
    let mut page = json!({ "limit": request.limit, "offset": request.offset, "next": next });
    if let Some(counted) = total {
        page["total"] = json!(counted);
    }
    state
        .client_advice
        .record(caller, &collection.name, |number| {
            advice::answered_list(number, &request, filtered, records.len(), total)
        });
    let data = Value::Array(
        shape_records(&state, &collection, &principal, &records, &request.shape).await?,
    );
    let etag = super::conditional::list_etag(&data, &page);
    state.cache.finish(pending, || {
        Answer::new(&data, Some(&page), etag.clone(), true)
    });
    if if_none_match.is_some_and(|tags| super::conditional::matches_any(&tags, &etag)) {
        return Ok(super::conditional::not_modified(&etag));
    }
    let mut meta = Map::new();
    meta.insert("page".into(), page);
    let mut response = envelope(data, meta).into_response();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    Ok(response)
}

/// The dotted paths of an `expand` tree, as the client named them (`author`, `author.org`).
fn expanded_paths(nodes: &[super::expand::ExpandNode], prefix: &str, out: &mut Vec<String>) {
    for node in nodes {
        let path = if prefix.is_empty() {
            node.name.clone()
        } else {
            format!("{prefix}.{}", node.name)
        };
        out.push(path.clone());
        expanded_paths(&node.children, &path, out);
    }
}

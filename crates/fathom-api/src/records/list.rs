//! `GET /api/v1/{collection}`: a page of records with `limit` and `offset`, and `count=true` for
//! the total. Offset paging suits small tables; cursor paging arrives with the query language.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;
use fathom_store::Page;
use serde_json::{Map, Value, json};

use super::{CollectionPath, record_json};
use crate::AppState;
use crate::envelope::envelope;
use crate::error::ApiError;

const PARAMETERS: &[&str] = &["limit", "offset", "count"];

struct ListParams {
    page: Page,
    count: bool,
}

fn invalid(parameter: &str, detail: String, hint: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery, detail, hint).with_field(
        parameter,
        "invalid_parameter",
        "See `detail`.",
    )
}

fn parse_params(
    query: Option<&str>,
    default_limit: u32,
    max_limit: u32,
) -> Result<ListParams, ApiError> {
    let mut params = ListParams {
        page: Page {
            limit: default_limit,
            offset: 0,
        },
        count: false,
    };
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "limit" => {
                params.page.limit = value.parse::<u32>().ok().filter(|l| (1..=max_limit).contains(l)).ok_or_else(|| {
                    invalid("limit", format!("`limit` must be a whole number from 1 to {max_limit}, but got \"{value}\"."), format!("Use for example limit={default_limit}; page through more with offset."))
                })?;
            }
            "offset" => {
                params.page.offset = value.parse::<u64>().map_err(|_| {
                    invalid(
                        "offset",
                        format!(
                            "`offset` must be a whole number of 0 or more, but got \"{value}\"."
                        ),
                        "Use for example offset=40.".into(),
                    )
                })?;
            }
            "count" => {
                params.count = match value.as_ref() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => {
                        return Err(invalid(
                            "count",
                            format!("`count` must be true or false, but got \"{value}\"."),
                            "Use count=true to get the total.".into(),
                        ));
                    }
                };
            }
            other => {
                let shown: String = other.chars().take(64).collect();
                return Err(invalid(
                    other,
                    format!("Unknown query parameter `{shown}`."),
                    format!("This endpoint takes: {}.", PARAMETERS.join(", ")),
                ));
            }
        }
    }
    Ok(params)
}

pub async fn list(
    State(state): State<AppState>,
    CollectionPath(collection): CollectionPath,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = parse_params(
        query.as_deref(),
        state.config.default_page_size,
        state.config.max_page_size,
    )?;
    let records = state.store.list(collection.clone(), params.page).await?;
    let total = if params.count {
        Some(state.store.count(collection).await?)
    } else {
        None
    };
    let data: Vec<Value> = records.iter().map(record_json).collect();
    let mut page =
        json!({ "limit": params.page.limit, "offset": params.page.offset, "returned": data.len() });
    if let Some(total) = total {
        page["total"] = json!(total);
    }
    let mut meta = Map::new();
    meta.insert("page".into(), page);
    Ok(envelope(Value::Array(data), meta).into_response())
}

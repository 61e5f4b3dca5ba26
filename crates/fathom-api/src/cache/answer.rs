//! A cached answer: the serialized `data` of the envelope (and `meta.page` of a list), with its
//! ETag. Only `meta.requestId` differs from one request to the next, so the body is put back
//! together around the stored JSON without serializing the records again.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::records::conditional;

/// What a read answered, ready to be answered again.
#[derive(Debug)]
pub(crate) struct Answer {
    data: String,
    page: Option<String>,
    etag: String,
    /// Whether `If-None-Match` may be answered 304 (a read with `expand` shows other records,
    /// whose changes its ETag does not track).
    revalidate: bool,
}

impl Answer {
    pub(crate) fn new(data: &Value, page: Option<&Value>, etag: String, revalidate: bool) -> Self {
        Self {
            data: data.to_string(),
            page: page.map(Value::to_string),
            etag,
            revalidate,
        }
    }

    /// The bytes this answer holds, for the cache's bound.
    pub(crate) fn weight(&self) -> u32 {
        let bytes = self.data.len() + self.page.as_ref().map_or(0, String::len) + self.etag.len();
        u32::try_from(bytes.saturating_add(128)).unwrap_or(u32::MAX)
    }

    /// The response, as the handler would have written it for this request.
    pub(crate) fn respond(&self, if_none_match: Option<&[String]>) -> Response {
        if self.revalidate
            && if_none_match.is_some_and(|tags| conditional::matches_any(tags, &self.etag))
        {
            return conditional::not_modified(&self.etag);
        }
        let body = crate::envelope::envelope_text(
            &self.data,
            &crate::request_id::current(),
            self.page.as_deref().map(|page| ("page", page)),
        );
        let mut response = (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response();
        if let Ok(value) = HeaderValue::from_str(&self.etag) {
            response.headers_mut().insert(header::ETAG, value);
        }
        response
    }
}

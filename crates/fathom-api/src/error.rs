//! The one mapping from errors to RFC 9457 `application/problem+json` responses.
//!
//! Every error a client sees is an [`ApiError`]: a stable [`ErrorCode`], a sentence naming what
//! was wrong, a hint saying how to fix it, optional per-field details, and the request id. A 5xx
//! carries no internal detail; its cause rides along in a response extension and is logged once
//! by the request middleware.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;
use fathom_engine::{Code, EngineError};
use fathom_schema::FieldError;
use fathom_store::StoreError;
use serde_json::{Value, json};

use crate::request_id;

/// A problem to report to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: String,
    pub hint: String,
    pub errors: Vec<FieldProblem>,
    /// Response headers the problem carries (the current `ETag` of a failed `If-Match`); boxed,
    /// as most problems have none and every `Result` carries the error's size.
    headers: Option<Box<[(header::HeaderName, HeaderValue)]>>,
    /// The internal cause of a 5xx, for the log only (a boxed `str`: every `Result` carries the
    /// error's size, kept under clippy's large-error bound).
    cause: Option<Box<str>>,
    /// A before-write hook's own code and status, answered instead of `code`'s.
    custom: Option<Box<CustomCode>>,
}

/// A code of an application's own (a before-write hook's refusal).
#[derive(Debug, Clone)]
struct CustomCode {
    code: String,
    status: u16,
}

/// One field's problem inside `errors` (the records engine's type).
pub use fathom_engine::FieldProblem;

/// The internal cause of a server error, carried to the logging middleware.
#[derive(Debug, Clone)]
pub struct InternalCause(pub String);

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            hint: hint.into(),
            errors: Vec::new(),
            headers: None,
            cause: None,
            custom: None,
        }
    }

    /// The same problem, answered with `name: value` among its headers.
    #[must_use]
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        let mut headers = self.headers.take().map(Vec::from).unwrap_or_default();
        headers.push((name, value));
        self.headers = Some(headers.into_boxed_slice());
        self
    }

    /// A 500 whose cause is logged but never shown (the engine's problem, answered here).
    pub fn internal(cause: impl Into<String>) -> Self {
        EngineError::internal(cause).into()
    }

    /// A 400 listing every invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        EngineError::validation(errors).into()
    }

    pub fn with_field(mut self, field: &str, code: &str, message: impl Into<String>) -> Self {
        self.errors.push(FieldProblem {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        });
        self
    }

    /// Names operation `index` of a batch as the source of this error: every field is prefixed
    /// with `operations[index].` and the detail says which operation failed.
    pub fn for_operation(mut self, index: usize) -> Self {
        let code = self.code.as_str();
        fathom_engine::error::name_operation(&mut self.errors, &mut self.detail, code, index);
        self
    }

    /// The HTTP status: the code's, or a hook's own.
    pub fn status(&self) -> u16 {
        self.custom
            .as_ref()
            .map_or_else(|| self.code.http_status(), |custom| custom.status)
    }

    pub fn record_not_found(collection: &str, id: &str) -> Self {
        EngineError::record_not_found(collection, id).into()
    }

    /// The problem+json body, for responses built away from this type (a stored replay).
    pub(crate) fn body_json(&self) -> Value {
        self.body()
    }

    fn body(&self) -> Value {
        let errors: Vec<Value> = self
            .errors
            .iter()
            .map(|e| json!({ "field": e.field, "code": e.code, "message": e.message }))
            .collect();
        let (code, title) = match &self.custom {
            Some(custom) => (custom.code.as_str(), "Refused"),
            None => (self.code.as_str(), self.code.title()),
        };
        json!({
            "type": format!("urn:fathom:problem:{code}"),
            "title": title,
            "status": self.status(),
            "detail": self.detail,
            "code": code,
            "hint": self.hint,
            "errors": errors,
            "requestId": request_id::current(),
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, self.body().to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"fathom\""),
            );
        }
        for (name, value) in self.headers.map(Vec::from).unwrap_or_default() {
            response.headers_mut().insert(name, value);
        }
        if let Some(cause) = self.cause {
            response
                .extensions_mut()
                .insert(InternalCause(cause.into_string()));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    /// The store's errors are stated once, by the records engine, for every transport.
    fn from(error: StoreError) -> Self {
        Self::from(EngineError::from(error))
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        let problem = error.into_problem();
        let (code, custom) = match problem.code {
            Code::Known(code) => (code, None),
            // A hook's own code: answered with its status and code; `code` keeps the nearest
            // stable meaning (the input was refused) for this crate's own matching.
            Code::Custom { code, status } => (
                ErrorCode::ValidationFailed,
                Some(Box::new(CustomCode { code, status })),
            ),
        };
        Self {
            code,
            detail: problem.detail,
            hint: problem.hint,
            errors: problem.errors,
            headers: None,
            cause: problem.cause.map(String::into_boxed_str),
            custom,
        }
    }
}

/// Fallback for paths no route matches.
pub async fn route_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        ErrorCode::RouteNotFound,
        format!("No route matches `{}`.", uri.path()),
        "Records live under /api/v1/{collection}; the operations are listed in /api/v1/openapi.json and at /api/docs.",
    )
}

/// Fallback for a known path asked with a method it does not take.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("`{}` does not accept the method {method}.", uri.path()),
        "Collections take GET and POST; records take GET, PATCH and DELETE.",
    )
}

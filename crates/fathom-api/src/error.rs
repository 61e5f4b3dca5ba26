//! The one mapping from errors to RFC 9457 `application/problem+json` responses.
//!
//! Every error a client sees is an [`ApiError`]: a stable [`ErrorCode`], a sentence naming what
//! was wrong, a hint saying how to fix it, optional per-field details, and the request id. A 5xx
//! carries no internal detail; its cause rides along in a response extension and is logged once
//! by the request middleware.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fathom_core::ErrorCode;
use fathom_schema::FieldError;
use fathom_store::{StoreError, StoreErrorKind};
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
    /// The internal cause of a 5xx, for the log only.
    cause: Option<String>,
}

/// One field's problem inside `errors`.
#[derive(Debug, Clone)]
pub struct FieldProblem {
    pub field: String,
    pub code: String,
    pub message: String,
}

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

    /// A 500 whose cause is logged but never shown.
    pub fn internal(cause: impl Into<String>) -> Self {
        let mut error = Self::new(
            ErrorCode::Internal,
            "The server failed to handle the request.",
            "Retry later; if it keeps failing, report the request id to the operator.",
        );
        error.cause = Some(cause.into());
        error
    }

    /// A 400 listing every invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let count = errors.len();
        let mut error = Self::new(
            ErrorCode::ValidationFailed,
            format!(
                "The body has {count} invalid field{}.",
                if count == 1 { "" } else { "s" }
            ),
            "Fix the fields listed in `errors` and send the request again.",
        );
        error.errors = errors
            .into_iter()
            .map(|e| FieldProblem {
                field: e.field,
                code: e.code.to_owned(),
                message: e.message,
            })
            .collect();
        error
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
        let prefix = format!("operations[{index}]");
        if self.errors.is_empty() {
            self.errors.push(FieldProblem {
                field: prefix.clone(),
                code: self.code.as_str().to_owned(),
                message: self.detail.clone(),
            });
        } else {
            for problem in &mut self.errors {
                problem.field = format!("{prefix}.{}", problem.field);
            }
        }
        self.detail = format!(
            "Operation {index} failed, so no operation was applied: {}",
            self.detail
        );
        self
    }

    pub fn record_not_found(collection: &str, id: &str) -> Self {
        Self::new(
            ErrorCode::RecordNotFound,
            format!("The collection `{collection}` has no record with id `{id}`."),
            "Check the id; the record may have been deleted.",
        )
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
        json!({
            "type": format!("urn:fathom:problem:{}", self.code.as_str()),
            "title": self.code.title(),
            "status": self.code.http_status(),
            "detail": self.detail,
            "code": self.code.as_str(),
            "hint": self.hint,
            "errors": errors,
            "requestId": request_id::current(),
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
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
            response.extensions_mut().insert(InternalCause(cause));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match &error.kind {
            StoreErrorKind::NotFound => Self::new(
                ErrorCode::RecordNotFound,
                "The record does not exist.",
                "Check the id; the record may have been deleted.",
            ),
            StoreErrorKind::UniqueViolation { fields } => {
                let mut api = Self::new(
                    ErrorCode::UniqueViolation,
                    format!(
                        "Another record already has this value of {}.",
                        field_list(fields)
                    ),
                    "Choose a different value, or update the existing record instead.",
                );
                for field in fields {
                    api = api.with_field(
                        field,
                        "not_unique",
                        format!("The value of `{field}` is already taken."),
                    );
                }
                api
            }
            StoreErrorKind::ForeignKeyViolation => Self::new(
                ErrorCode::RelationViolation,
                "The write would break a relation: it points at a record that does not exist, or other records still point at this one.",
                "Check that related ids exist; to delete, first delete or re-point the records that refer to this one.",
            ),
            StoreErrorKind::CheckViolation => Self::new(
                ErrorCode::ValidationFailed,
                "The record breaks a constraint of the collection.",
                "Check required fields and send the request again.",
            ),
            StoreErrorKind::TenantRequired => Self::new(
                ErrorCode::ValidationFailed,
                "The collection is tenant-scoped, and the record has no tenant to belong to.",
                "Sign in as a member of a tenant; administrators name the tenant with `tenant` in the body.",
            )
            .with_field("tenant", "required", "A tenant is required."),
            StoreErrorKind::RuleViolation => Self::new(
                ErrorCode::RuleViolation,
                "The update rule does not allow the record as changed.",
                "Leave the fields the rule depends on (such as an owner) as they are.",
            ),
            StoreErrorKind::PreconditionFailed { current } => Self::new(
                ErrorCode::PreconditionFailed,
                format!(
                    "The record changed since the version `If-Match` names; it is now at version {current}. Nothing was written."
                ),
                "Read the record again (its `ETag` is current), reapply your change to it, and send the write with the new ETag in `If-Match`.",
            ),
            StoreErrorKind::IdempotencyConflict => Self::new(
                ErrorCode::IdempotencyKeyInFlight,
                "A request with this `Idempotency-Key` is still being processed.",
                "Retry in a moment with the same key to receive its response.",
            ),
            StoreErrorKind::Unavailable => {
                let mut api = Self::new(
                    ErrorCode::ServiceUnavailable,
                    "The database is busy or unreachable.",
                    "Retry the request after a short pause.",
                );
                api.cause = Some(error.detail.clone());
                api
            }
            StoreErrorKind::Unreadable { record } => {
                let mut api = Self::new(
                    ErrorCode::DataUnreadable,
                    format!(
                        "An encrypted value of record `{record}` cannot be decrypted: it was altered, or its key is not in the key ring."
                    ),
                    "Restore the key file that holds the key named in the value, or restore the record from a backup.",
                );
                api.cause = Some(error.detail.clone());
                api
            }
            StoreErrorKind::EncryptionUnavailable => {
                let mut api = Self::new(
                    ErrorCode::EncryptionUnavailable,
                    "The collection has encrypted fields, but the server has no encryption key ring.",
                    "Set `encryption.key_file` (or FATHOM_ENCRYPTION__KEY_FILE) and restart.",
                );
                api.cause = Some(error.detail.clone());
                api
            }
            StoreErrorKind::UnsafeMigration(_)
            | StoreErrorKind::ConcurrentMigration
            | StoreErrorKind::Internal => Self::internal(error.detail.clone()),
        }
    }
}

fn field_list(fields: &[String]) -> String {
    if fields.is_empty() {
        "a unique field".to_owned()
    } else {
        fields
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ")
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

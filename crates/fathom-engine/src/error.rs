//! [`EngineError`]: what the engine answers when it refuses or fails an operation, in domain
//! terms (a stable code, a status, a detail and a hint, the fields at fault). Transports turn it
//! into their own form (`fathom-api` into problem+json). The store's errors are stated here once,
//! so that every transport says the same thing about a unique violation or a busy database.

use fathom_core::ErrorCode;
use fathom_schema::FieldError;
use fathom_store::{StoreError, StoreErrorKind};

/// The code of a problem: one of the stable [`ErrorCode`]s, or a code of a hook's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    Known(ErrorCode),
    /// A before-write hook's refusal: its own code and status (always 4xx).
    Custom {
        code: String,
        status: u16,
    },
}

impl Code {
    /// The wire form of the code.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Known(code) => code.as_str(),
            Self::Custom { code, .. } => code,
        }
    }

    /// The HTTP status the code is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Known(code) => code.http_status(),
            Self::Custom { status, .. } => *status,
        }
    }

    /// The stable code, when it is one.
    pub fn known(&self) -> Option<ErrorCode> {
        match self {
            Self::Known(code) => Some(*code),
            Self::Custom { .. } => None,
        }
    }
}

/// One field's problem inside a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: String,
    pub code: String,
    pub message: String,
}

/// Why the engine did not do what it was asked: a [`Problem`], boxed so that every `Result`
/// of the engine stays one pointer wide on its error side. Its fields are reached through
/// `Deref` (`error.code`, `error.store`).
#[derive(Debug, Clone)]
pub struct EngineError(Box<Problem>);

/// The content of an [`EngineError`].
#[derive(Debug, Clone)]
pub struct Problem {
    pub code: Code,
    pub detail: String,
    pub hint: String,
    pub errors: Vec<FieldProblem>,
    /// The internal cause of a server error, for the log only (never shown).
    pub cause: Option<String>,
    /// When the store refused a write and nothing explained it better: what the store said, so
    /// that a transport can answer some kinds in its own way (a 404 naming the record, a 412
    /// with the record's current ETag).
    pub store: Option<StoreErrorKind>,
    /// In a unit of work, the index of the operation the store refused.
    pub operation: Option<usize>,
}

/// Names operation `index` of a batch as the source of a problem (its `errors`, `detail` and
/// `code`), for every transport's error type: every field is prefixed with
/// `operations[index].` (or, with none, the operation itself is the field) and the detail says
/// which operation failed.
pub fn name_operation(
    errors: &mut Vec<FieldProblem>,
    detail: &mut String,
    code: &str,
    index: usize,
) {
    let prefix = format!("operations[{index}]");
    if errors.is_empty() {
        errors.push(FieldProblem {
            field: prefix,
            code: code.to_owned(),
            message: detail.clone(),
        });
    } else {
        for problem in errors.iter_mut() {
            problem.field = format!("{prefix}.{}", problem.field);
        }
    }
    *detail = format!("Operation {index} failed, so no operation was applied: {detail}");
}

impl std::ops::Deref for EngineError {
    type Target = Problem;

    fn deref(&self) -> &Problem {
        &self.0
    }
}

impl std::ops::DerefMut for EngineError {
    fn deref_mut(&mut self) -> &mut Problem {
        &mut self.0
    }
}

impl EngineError {
    pub fn new(code: ErrorCode, detail: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::from_problem(Problem {
            code: Code::Known(code),
            detail: detail.into(),
            hint: hint.into(),
            errors: Vec::new(),
            cause: None,
            store: None,
            operation: None,
        })
    }

    pub fn from_problem(problem: Problem) -> Self {
        Self(Box::new(problem))
    }

    pub fn into_problem(self) -> Problem {
        *self.0
    }

    /// The status the problem is answered with.
    pub fn status(&self) -> u16 {
        self.code.status()
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

    #[must_use]
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
    #[must_use]
    pub fn for_operation(mut self, index: usize) -> Self {
        let problem = &mut *self.0;
        let code = problem.code.as_str().to_owned();
        name_operation(&mut problem.errors, &mut problem.detail, &code, index);
        self
    }

    pub fn record_not_found(collection: &str, id: &str) -> Self {
        Self::new(
            ErrorCode::RecordNotFound,
            format!("The collection `{collection}` has no record with id `{id}`."),
            "Check the id; the record may have been deleted.",
        )
    }

    /// The refusal of an unknown collection, naming the ones there are.
    pub fn collection_not_found<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Self {
        let known: Vec<&str> = known.collect();
        Self::new(
            ErrorCode::CollectionNotFound,
            format!(
                "There is no collection named `{}`.",
                name.chars().take(64).collect::<String>()
            ),
            format!("The collections are: {}.", known.join(", ")),
        )
    }
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

impl std::error::Error for EngineError {}

impl From<StoreError> for EngineError {
    fn from(error: StoreError) -> Self {
        let mut engine = stated(&error);
        engine.store = Some(error.kind);
        engine.operation = error.operation;
        engine
    }
}

/// The problem a store error states, the same for every transport.
fn stated(error: &StoreError) -> EngineError {
    let with_cause = |mut e: EngineError| {
        e.cause = Some(error.detail.clone());
        e
    };
    match &error.kind {
        StoreErrorKind::NotFound => EngineError::new(
            ErrorCode::RecordNotFound,
            "The record does not exist.",
            "Check the id; the record may have been deleted.",
        ),
        StoreErrorKind::UniqueViolation { fields } => fields.iter().fold(
            EngineError::new(
                ErrorCode::UniqueViolation,
                format!(
                    "Another record already has this value of {}.",
                    field_list(fields)
                ),
                "Choose a different value, or update the existing record instead.",
            ),
            |error, field| {
                error.with_field(
                    field,
                    "not_unique",
                    format!("The value of `{field}` is already taken."),
                )
            },
        ),
        StoreErrorKind::ForeignKeyViolation => EngineError::new(
            ErrorCode::RelationViolation,
            "The write would break a relation: it points at a record that does not exist, or other records still point at this one.",
            "Check that related ids exist; to delete, first delete or re-point the records that refer to this one.",
        ),
        StoreErrorKind::CheckViolation => EngineError::new(
            ErrorCode::ValidationFailed,
            "The record breaks a constraint of the collection.",
            "Check required fields and send the request again.",
        ),
        StoreErrorKind::TenantRequired => EngineError::new(
            ErrorCode::ValidationFailed,
            "The collection is tenant-scoped, and the record has no tenant to belong to.",
            "Sign in as a member of a tenant; administrators name the tenant with `tenant` in the body.",
        )
        .with_field("tenant", "required", "A tenant is required."),
        StoreErrorKind::RuleViolation => EngineError::new(
            ErrorCode::RuleViolation,
            "The update rule does not allow the record as changed.",
            "Leave the fields the rule depends on (such as an owner) as they are.",
        ),
        StoreErrorKind::PreconditionFailed { current } => EngineError::new(
            ErrorCode::PreconditionFailed,
            format!(
                "The record changed since the version `If-Match` names; it is now at version {current}. Nothing was written."
            ),
            "Read the record again (its `ETag` is current), reapply your change to it, and send the write with the new ETag in `If-Match`.",
        ),
        StoreErrorKind::IdempotencyConflict => EngineError::new(
            ErrorCode::IdempotencyKeyInFlight,
            "A request with this `Idempotency-Key` is still being processed.",
            "Retry in a moment with the same key to receive its response.",
        ),
        StoreErrorKind::Unavailable => with_cause(EngineError::new(
            ErrorCode::ServiceUnavailable,
            "The database is busy or unreachable.",
            "Retry the request after a short pause.",
        )),
        StoreErrorKind::Unreadable { record } => with_cause(EngineError::new(
            ErrorCode::DataUnreadable,
            format!(
                "An encrypted value of record `{record}` cannot be decrypted: it was altered, or its key is not in the key ring."
            ),
            "Restore the key file that holds the key named in the value, or restore the record from a backup.",
        )),
        StoreErrorKind::EncryptionUnavailable => with_cause(EngineError::new(
            ErrorCode::EncryptionUnavailable,
            "The collection has encrypted fields, but the server has no encryption key ring.",
            "Set `encryption.key_file` (or FATHOM_ENCRYPTION__KEY_FILE) and restart.",
        )),
        StoreErrorKind::UnsafeMigration(_)
        | StoreErrorKind::ConcurrentMigration
        | StoreErrorKind::Internal => EngineError::internal(error.detail.clone()),
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

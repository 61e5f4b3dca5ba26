//! Storage errors in neutral kinds. Drivers' error types are classified here, once, and never
//! leave the crate; the `detail` text is for the log only and must not reach a client.

use fathom_core::ErrorCode;

use crate::plan::MigrationPlan;

/// What went wrong, in terms the layers above can act on.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreErrorKind {
    /// The record (or the row an operation targets) does not exist.
    NotFound,
    /// A unique index would hold two equal values. Carries the field names involved.
    UniqueViolation { fields: Vec<String> },
    /// A relation points at a missing record, or a delete is restricted by referencing records.
    ForeignKeyViolation,
    /// A NOT NULL or CHECK constraint failed.
    CheckViolation,
    /// The database is busy, locked or unreachable; retrying may succeed.
    Unavailable,
    /// A migration has unsafe steps and was not allowed to run them.
    UnsafeMigration(Box<MigrationPlan>),
    /// The applied schema changed between planning and applying.
    ConcurrentMigration,
    /// An update's guard (the update rule) held for the stored row but not for the row as
    /// changed; the change was rolled back.
    RuleViolation,
    /// A record of a tenant-scoped collection was to be created without a tenant (the caller
    /// belongs to none, or an all-tenants caller named none).
    TenantRequired,
    /// A write expected the record at another version (`If-Match`): the record is visible to
    /// the caller and now stands at `current`. Nothing was written.
    PreconditionFailed { current: i64 },
    /// A live idempotency record of the same caller and key exists (committed by an earlier
    /// request, or by a concurrent one that committed first); nothing was written.
    IdempotencyConflict,
    /// A stored encrypted value of this record cannot be decrypted: tampered or truncated, or
    /// under a key the key ring does not hold.
    Unreadable { record: String },
    /// A write needs the field-encryption key ring and the store has none.
    EncryptionUnavailable,
    /// Anything else: a bug or a corrupt database.
    Internal,
}

/// A storage error: its kind plus an internal detail for the log.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{detail}")]
pub struct StoreError {
    pub kind: StoreErrorKind,
    pub detail: String,
    /// In a unit of work, the index of the operation that failed.
    pub operation: Option<usize>,
}

impl StoreError {
    pub fn new(kind: StoreErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            operation: None,
        }
    }

    /// Marks the error as raised by operation `index` of a unit of work.
    pub fn at_operation(mut self, index: usize) -> Self {
        self.operation = Some(index);
        self
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Internal, detail)
    }

    pub fn not_found() -> Self {
        Self::new(StoreErrorKind::NotFound, "no such record")
    }

    /// The record stands at version `current`, not the one the write expected.
    pub fn precondition_failed(current: i64) -> Self {
        Self::new(
            StoreErrorKind::PreconditionFailed { current },
            format!("the record is at version {current}, not the one expected"),
        )
    }

    pub fn rule_violation() -> Self {
        Self::new(
            StoreErrorKind::RuleViolation,
            "the update rule does not hold for the changed row",
        )
    }

    /// The stable error code this storage error surfaces as.
    pub fn code(&self) -> ErrorCode {
        match self.kind {
            StoreErrorKind::NotFound => ErrorCode::RecordNotFound,
            StoreErrorKind::UniqueViolation { .. } => ErrorCode::UniqueViolation,
            StoreErrorKind::ForeignKeyViolation => ErrorCode::RelationViolation,
            StoreErrorKind::CheckViolation | StoreErrorKind::TenantRequired => {
                ErrorCode::ValidationFailed
            }
            StoreErrorKind::RuleViolation => ErrorCode::RuleViolation,
            StoreErrorKind::PreconditionFailed { .. } => ErrorCode::PreconditionFailed,
            StoreErrorKind::IdempotencyConflict => ErrorCode::IdempotencyKeyInFlight,
            StoreErrorKind::Unavailable => ErrorCode::ServiceUnavailable,
            StoreErrorKind::Unreadable { .. } => ErrorCode::DataUnreadable,
            StoreErrorKind::EncryptionUnavailable => ErrorCode::EncryptionUnavailable,
            StoreErrorKind::UnsafeMigration(_)
            | StoreErrorKind::ConcurrentMigration
            | StoreErrorKind::Internal => ErrorCode::Internal,
        }
    }
}

/// Classifies a SQLite error by its extended result code.
pub(crate) fn from_sqlite(error: rusqlite::Error) -> StoreError {
    use rusqlite::ffi;
    let detail = error.to_string();
    let kind = match &error {
        rusqlite::Error::SqliteFailure(failure, message) => match failure.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                StoreErrorKind::UniqueViolation {
                    fields: unique_fields(message.as_deref()),
                }
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => StoreErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL | ffi::SQLITE_CONSTRAINT_CHECK => {
                StoreErrorKind::CheckViolation
            }
            // Some constraint failures (a RESTRICT action, for one) carry only the primary code;
            // SQLite's message prefix then says which constraint it was.
            _ if failure.code == rusqlite::ErrorCode::ConstraintViolation => {
                match message.as_deref() {
                    Some(m) if m.starts_with("FOREIGN KEY") => StoreErrorKind::ForeignKeyViolation,
                    Some(m) if m.starts_with("UNIQUE") => StoreErrorKind::UniqueViolation {
                        fields: unique_fields(Some(m)),
                    },
                    _ => StoreErrorKind::CheckViolation,
                }
            }
            // The schema changed under a running server (another process migrated it): the
            // server cannot serve this table until it runs the matching schema file.
            _ if message.as_deref().is_some_and(|m| {
                m.starts_with("no such column") || m.starts_with("no such table")
            }) =>
            {
                StoreErrorKind::Unavailable
            }
            _ => match failure.code {
                rusqlite::ErrorCode::DatabaseBusy
                | rusqlite::ErrorCode::DatabaseLocked
                | rusqlite::ErrorCode::CannotOpen
                | rusqlite::ErrorCode::SystemIoFailure
                | rusqlite::ErrorCode::DiskFull => StoreErrorKind::Unavailable,
                _ => StoreErrorKind::Internal,
            },
        },
        rusqlite::Error::QueryReturnedNoRows => StoreErrorKind::NotFound,
        _ => StoreErrorKind::Internal,
    };
    StoreError::new(kind, detail)
}

/// Classifies a PostgreSQL error by its SQLSTATE; errors without one (a closed connection, a
/// refused or timed-out connect, an I/O failure) mean the database is unreachable.
pub(crate) fn from_postgres(error: tokio_postgres::Error) -> StoreError {
    let Some(db) = error.as_db_error() else {
        return StoreError::new(StoreErrorKind::Unavailable, error.to_string());
    };
    let code = db.code().code();
    let detail = match db.detail() {
        Some(extra) => format!("{}: {} ({extra}) [{code}]", db.severity(), db.message()),
        None => format!("{}: {} [{code}]", db.severity(), db.message()),
    };
    let kind = match code {
        "23505" => StoreErrorKind::UniqueViolation {
            fields: key_columns(db.detail()),
        },
        "23503" | "23001" => StoreErrorKind::ForeignKeyViolation,
        "23502" | "23514" => StoreErrorKind::CheckViolation,
        // Bad data (a NUL byte in text, a number out of range): the input, not the server.
        code if code.starts_with("22") => StoreErrorKind::CheckViolation,
        // Serialization failures, deadlocks, lock timeouts, too many connections, shutting down,
        // cancelled statements: retrying may succeed.
        "40001" | "40P01" | "55P03" | "57014" => StoreErrorKind::Unavailable,
        code if code.starts_with("08") || code.starts_with("53") || code.starts_with("57P") => {
            StoreErrorKind::Unavailable
        }
        // The schema changed under a running server (another node migrated it): this server
        // cannot serve the table until it runs the matching schema file.
        "42P01" | "42703" => StoreErrorKind::Unavailable,
        // A cached statement's plan no longer matches a changed table; the caller drops the
        // cache and a retry succeeds.
        "0A000" if db.message().contains("cached plan") => StoreErrorKind::Unavailable,
        _ => StoreErrorKind::Internal,
    };
    StoreError::new(kind, detail)
}

/// Pulls the column names out of PostgreSQL's "Key (tenant, name)=(a, b) already exists.".
/// Column names are schema field names, which are public; the values are not kept.
fn key_columns(detail: Option<&str>) -> Vec<String> {
    detail
        .and_then(|d| d.strip_prefix("Key ("))
        .and_then(|d| d.split_once(")="))
        .map(|(columns, _)| {
            columns
                .split(", ")
                .map(|c| field_of_column(c.trim_matches('"')))
                .collect()
        })
        .unwrap_or_default()
}

/// Pulls the column names out of "UNIQUE constraint failed: products.name, products.sku".
/// The names are schema field names, which are public; nothing else of the message is kept.
fn unique_fields(message: Option<&str>) -> Vec<String> {
    message
        .and_then(|m| m.split_once(": "))
        .map(|(_, columns)| {
            columns
                .split(", ")
                .filter_map(|c| {
                    c.rsplit_once('.')
                        .map(|(_, column)| field_of_column(column))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The field a column belongs to: a blind index's HMAC column names its field.
fn field_of_column(column: &str) -> String {
    column
        .strip_suffix(fathom_schema::model::BLIND_SUFFIX)
        .unwrap_or(column)
        .to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn unique_fields_are_parsed_from_sqlite_messages() {
        assert_eq!(
            super::unique_fields(Some(
                "UNIQUE constraint failed: products.name, products.sku"
            )),
            vec!["name", "sku"]
        );
        assert!(super::unique_fields(None).is_empty());
    }

    #[test]
    fn key_columns_are_parsed_from_postgres_details() {
        assert_eq!(
            super::key_columns(Some("Key (tenant, name)=(acme, Ann) already exists.")),
            vec!["tenant", "name"]
        );
        assert_eq!(
            super::key_columns(Some("Key (name)=(a, b)) already exists.")),
            vec!["name"]
        );
        assert!(super::key_columns(None).is_empty());
    }
}

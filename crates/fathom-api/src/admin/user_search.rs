//! `GET /admin/users?filter=…`: users matching an expression over the account fields (`email`,
//! `tenant`, `verified`, `disabled`, `created_at`, `updated_at`, `id` and the `[users]` profile
//! fields), in the expression language of record filters (`email ~ "%@example.com" && verified =
//! false`). Accounts keep their profile as one JSON document, so the filter is evaluated in
//! memory over pages of accounts read in id order: at most [`SCAN_BUDGET`] accounts are read
//! per request, and a page cut short by the budget still names `next_after`, so a client pages
//! on until it comes back null.

use fathom_query::{Env, check, parse};
use fathom_schema::{Collection, Constraints, Field, FieldType, Rules, Schema};
use fathom_store::User;
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;

/// Accounts read at most to answer one filtered page.
pub const SCAN_BUDGET: usize = 10_000;
/// Accounts read per store call while scanning.
const CHUNK: u32 = 200;

fn field(name: &str, kind: FieldType) -> Field {
    Field {
        name: name.into(),
        kind,
        required: false,
        unique: false,
        default: None,
        constraints: Constraints::default(),
        hidden: false,
        encrypted: false,
        blind_index: false,
    }
}

/// The account fields a filter may name, as a collection the checker understands.
fn account_fields(schema: &Schema) -> Collection {
    let mut fields = vec![
        field("email", FieldType::Email),
        field("tenant", FieldType::Text),
        field("verified", FieldType::Boolean),
        field("disabled", FieldType::Boolean),
    ];
    fields.extend(schema.profile_fields().iter().cloned());
    Collection {
        name: fathom_schema::ACCOUNTS.into(),
        fields,
        indexes: Vec::new(),
        soft_delete: false,
        timestamps: true,
        tenant_scoped: false,
        require_if_match: false,
        audit: false,
        cache: None,
        rules: Rules::default(),
    }
}

/// An account as the filter reads it: flat, profile fields beside the account's own.
fn flat(user: &User) -> Map<String, Json> {
    let mut map = user.profile.clone();
    map.insert("id".into(), Json::String(user.id.hyphenated().to_string()));
    map.insert("email".into(), Json::String(user.email.clone()));
    map.insert(
        "tenant".into(),
        user.tenant.clone().map_or(Json::Null, Json::String),
    );
    map.insert("verified".into(), Json::Bool(user.verified));
    map.insert("disabled".into(), Json::Bool(user.disabled));
    map.insert("created_at".into(), Json::String(user.created_at.clone()));
    map.insert("updated_at".into(), Json::String(user.updated_at.clone()));
    map.insert("version".into(), Json::from(user.version));
    map
}

/// The users after `after` matching `text`, at most `limit`, and where the next page starts
/// (null once every account has been read).
pub async fn search(
    state: &AppState,
    text: &str,
    after: Option<Uuid>,
    limit: u32,
) -> Result<(Vec<User>, Option<Uuid>), ApiError> {
    let accounts = account_fields(&state.schema);
    let filter = parse(text)
        .and_then(|expr| check(&expr, text, &state.schema, &accounts, &Env::default()))
        .map_err(|e| {
            crate::records::params::invalid(
                "filter",
                format!("`filter` is invalid at column {}: {}", e.column, e.message),
                e.hint,
            )
        })?;
    let mut found = Vec::new();
    let mut cursor = after;
    let mut scanned = 0usize;
    loop {
        let page = state.store.users(cursor, CHUNK).await?;
        let exhausted = page.len() < CHUNK as usize;
        for user in page {
            scanned += 1;
            cursor = Some(user.id);
            let record = flat(&user);
            if filter.matches(&|path| fathom_events::record_lookup(&record, path)) {
                found.push(user);
                if found.len() == limit as usize {
                    return Ok((found, cursor));
                }
            }
        }
        if exhausted {
            return Ok((found, None));
        }
        if scanned >= SCAN_BUDGET {
            return Ok((found, cursor));
        }
    }
}

//! What `fathom migrate plan` and `apply` show beside the steps: the API changes of the
//! migration, from the OpenAPI documents of the applied and the desired schema (rendered as
//! `fathom openapi` renders them), with the rules and renames compared on the schemas.

use fathom_architect::api_diff::{self, ApiChange};
use fathom_schema::Schema;
use fathom_store::Store;

use crate::config::Config;

/// The API changes from the database's applied schema (none applied: the empty schema) to
/// `desired`, breaking ones first.
pub(super) async fn api_changes(
    store: &Store,
    config: &Config,
    desired: &Schema,
) -> anyhow::Result<Vec<ApiChange>> {
    let applied = store
        .applied()
        .await
        .map_err(|e| anyhow::anyhow!("reading the applied schema failed: {}", e.detail))?
        .map(|m| m.schema)
        .unwrap_or_default();
    let policy = fathom_auth::PasswordPolicy::new(config.auth.password_min_length)?;
    let http = config.http_config();
    let before = fathom_api::document(&applied, &http, &policy);
    let after = fathom_api::document(desired, &http, &policy);
    Ok(api_diff::api_changes(&before, &after, &applied, desired))
}

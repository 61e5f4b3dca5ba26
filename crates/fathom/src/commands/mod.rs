//! One module per CLI command family.

pub mod accounts;
pub mod advise;
pub mod audit;
pub mod backup;
pub mod convert;
pub mod data_keys;
pub mod init;
pub mod keys;
pub mod migrate;
mod migrate_review;
pub mod openapi;
pub mod purge;
pub mod schema;
pub mod serve;
pub mod users;
pub mod webhooks;

use std::path::Path;

use anyhow::Context;
use fathom_schema::Schema;

/// Reads and validates a schema file, its access rules included; the error lists every problem
/// with line and column.
pub fn load_schema(path: &Path) -> anyhow::Result<Schema> {
    let source = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the schema file {}; create one with `fathom init` or point to it with --schema",
            path.display()
        )
    })?;
    schema::parse_with_rules(&path.display().to_string(), &source).map_err(|errors| {
        anyhow::anyhow!(
            "the schema file has {} problem(s):\n{errors}",
            errors.errors.len()
        )
    })
}

//! What only PostgreSQL has: several nodes on one database, and the database going away under a
//! running server. These tests run in the PostgreSQL pass of `scripts/test.sh`
//! (`FATHOM_TEST_BACKEND=postgres`); on a SQLite run they skip with a note.

mod audit_nodes;
mod brokers;
mod cache_nodes;
mod cluster;
mod events;
mod idempotency_nodes;
mod multi_node;
mod outage;
mod realtime_nodes;
mod shared_limits;
mod webhook_breaker_nodes;
mod webhook_failover;

use crate::operations::support::Project;

/// A project on a scratch PostgreSQL database, or `None` (with a note) on a SQLite run.
fn pg_project() -> Option<Project> {
    let project = Project::new();
    if project.database.is_none() {
        eprintln!("SKIPPED: needs PostgreSQL; scripts/test.sh runs it in its PostgreSQL pass");
        return None;
    }
    Some(project)
}

/// A schema whose notes anyone may list, read and create.
const OPEN_NOTES: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.body = { type = "text", required = true }
"#;

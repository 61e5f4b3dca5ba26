//! What the architect tests share: a task collection seeded over HTTP, and query shapes built
//! by hand exactly as the store's recorder reports them.

use fathom_store::shapes::{Condition, QueryShape, ShapeKind, ShapeReport, ShapeStats, SortShape};
use serde_json::json;

use crate::helpers::{TestApp, json_with_status, spawn_app_with};

/// Tasks with one declared index, `(status, created_at, id)`, which serves the status page.
pub const TASKS: &str = r#"
[collections.tasks]
fields.title    = { type = "text", required = true }
fields.team     = { type = "text", required = true }
fields.priority = { type = "integer", required = true }
fields.status   = { type = "enum", values = ["open", "closed"], default = "open" }
indexes = [["status", "created_at", "id"]]
"#;

/// Records seeded: enough that a scan of the table costs the planner more than an index.
pub const RECORDS: usize = 6_000;
/// Distinct teams among them.
pub const TEAMS: usize = 60;

/// A server on `schema` (rate limits off: the seeding is a burst) with [`RECORDS`] tasks.
pub async fn seeded(schema: &str) -> TestApp {
    seeded_in(schema, &[]).await
}

/// [`seeded`], the records shared round-robin among `tenants` (a tenant-scoped collection;
/// the administrator names each record's tenant).
pub async fn seeded_in(schema: &str, tenants: &[&str]) -> TestApp {
    let app = spawn_app_with(schema, |c| c.rate_limits.enabled = false).await;
    for batch in 0..RECORDS / 100 {
        let operations: Vec<serde_json::Value> = (0..100)
            .map(|i| {
                let n = batch * 100 + i;
                let mut body = json!({
                    "title": format!("task {n}"),
                    "team": format!("team-{}", n % TEAMS),
                    "priority": n % 5,
                    "status": if n % 2 == 0 { "open" } else { "closed" },
                });
                if !tenants.is_empty() {
                    body["tenant"] = json!(tenants[n % tenants.len()]);
                }
                json!({"op": "create", "collection": "tasks", "body": body})
            })
            .collect();
        let response = app
            .post_json("/api/v1/batch", &json!({ "operations": operations }))
            .await;
        json_with_status(response, 200).await;
    }
    app
}

/// A list shape as the recorder reports it: `conditions` with their operators, `sort` ending
/// with `id` in the direction of the last key, a page size rounded to a power of two.
pub fn list_shape(filter: &str, conditions: &[(&str, &str)], sort: &[(&str, bool)]) -> QueryShape {
    QueryShape {
        collection: "tasks".into(),
        kind: ShapeKind::List,
        filter: filter.into(),
        conditions: conditions
            .iter()
            .map(|(path, op)| Condition {
                path: (*path).into(),
                op: (*op).into(),
            })
            .collect(),
        conjunctive: true,
        sort: sort
            .iter()
            .map(|(path, descending)| SortShape {
                path: (*path).into(),
                descending: *descending,
            })
            .collect(),
        expand: Vec::new(),
        page_size: Some(32),
        offset: false,
        cursor: false,
        tenant_scoped: false,
    }
}

/// A frequent shape: 500 calls, p95 9.9 ms.
pub fn frequent(shape: QueryShape) -> ShapeReport {
    ShapeReport {
        shape,
        stats: ShapeStats {
            calls: 500,
            total_micros: 500 * 6_000,
            max_micros: 14_000,
            p50_micros: 6_000,
            p95_micros: 9_900,
            p99_micros: 12_000,
            rows_returned: 500 * 20,
            rows_visited: None,
            sorts: None,
            last_seen_ms: 1_796_000_000_000,
        },
    }
}

/// The recorded `team = ? && priority > ?` page sorted by `-created_at,-id` (one way, so an
/// index can read it in order).
pub fn team_page() -> ShapeReport {
    frequent(list_shape(
        "team = ? && priority > ?",
        &[("team", "="), ("priority", ">")],
        &[("created_at", true), ("id", true)],
    ))
}

/// The recorded `status = ?` page sorted by `-created_at` (and `id` ascending, the default
/// tiebreaker), which the declared index serves.
pub fn status_page() -> ShapeReport {
    frequent(list_shape(
        "status = ?",
        &[("status", "=")],
        &[("created_at", true), ("id", false)],
    ))
}

/// On PostgreSQL: runs `sql` in the app's scratch database as the administrator (creating the
/// hypopg extension, refreshing the planner's statistics as autovacuum would). Nothing on
/// SQLite.
pub async fn as_admin(app: &TestApp, sql: &str) {
    if let Some(client) = admin_client(app).await {
        client
            .batch_execute(sql)
            .await
            .expect("the admin's statement");
    }
}

/// On PostgreSQL, creates the hypopg extension in the app's scratch database when the server
/// has it (scripts/test.sh installs the Debian package); whether it did. False on SQLite.
pub async fn enable_hypopg(app: &TestApp) -> bool {
    let Some(client) = admin_client(app).await else {
        return false;
    };
    let available = client
        .query_opt(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'",
            &[],
        )
        .await
        .expect("the available extensions")
        .is_some();
    if available {
        client
            .batch_execute("CREATE EXTENSION IF NOT EXISTS hypopg")
            .await
            .expect("hypopg is created");
    }
    available
}

async fn admin_client(app: &TestApp) -> Option<tokio_postgres::Client> {
    let database = app.database.as_ref()?;
    let admin = crate::helpers::pg_admin_url().expect("the admin URL");
    let mut config: tokio_postgres::Config = admin.parse().expect("the admin URL parses");
    config.dbname(database.name());
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("an admin connection to the scratch database");
    tokio::spawn(connection);
    Some(client)
}

//! Tenant isolation in depth, on a real PostgreSQL server (`FATHOM_TEST_PG_URL`; run by
//! `scripts/test.sh` in its PostgreSQL pass): with one pooled connection shared by two tenants,
//! statements that omit the tenant filter (the "faulty queries" row-level security guards
//! against) still see, change and create only their own tenant's rows, and the connection carries
//! no tenant from one transaction to the next, not even after a cancelled request.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::sync::Arc;
use std::time::Duration;

use fathom_schema::{Collection, Value};

use super::PgStore;
use super::scope;
use super::values::Sql;
use crate::{
    Backend, ListQuery, PostgresOptions, Scope, ScratchDatabase, Store, UnitOfWork, WriteOp,
};

const SCHEMA: &str = r#"
[collections.notes]
tenant_scoped = true
fields.body = { type = "text", required = true }
"#;

struct Fixture {
    store: Store,
    notes: Arc<Collection>,
    _database: ScratchDatabase,
}

/// A store with ONE pooled connection, so every statement below shares it.
async fn fixture() -> Option<Fixture> {
    let Ok(admin) = std::env::var("FATHOM_TEST_PG_URL") else {
        let on_postgres = std::env::var("FATHOM_TEST_BACKEND").is_ok_and(|b| b == "postgres");
        assert!(
            !on_postgres,
            "FATHOM_TEST_BACKEND=postgres needs FATHOM_TEST_PG_URL"
        );
        eprintln!("SKIPPED: no PostgreSQL (FATHOM_TEST_PG_URL is unset); scripts/test.sh runs it");
        return None;
    };
    let database = ScratchDatabase::create(&admin).await.unwrap();
    let mut options = PostgresOptions::new(database.url());
    options.max_connections = 1;
    let store = Store::open_postgres(options).await.unwrap();
    let schema = fathom_schema::parse_schema("rls.toml", SCHEMA).unwrap();
    store.migrate(&schema, false).await.unwrap();
    let notes = schema.collection("notes").unwrap().clone();
    Some(Fixture {
        store,
        notes,
        _database: database,
    })
}

impl Fixture {
    fn pg(&self) -> &PgStore {
        match &*self.store.backend {
            Backend::Postgres(p) => p,
            Backend::Sqlite(_) => unreachable!("the fixture opens PostgreSQL"),
        }
    }

    async fn create(&self, tenant: &str, body: &str) {
        let op = WriteOp::Create {
            id: None,
            collection: self.notes.clone(),
            values: vec![("body".into(), Value::Text(body.into()))],
            tenant: None,
        };
        self.store
            .execute(UnitOfWork::single(Scope::Tenant(tenant.into()), op))
            .await
            .unwrap();
    }

    /// Runs raw SQL in `scope`, as a statement that forgot the tenant filter would.
    async fn raw(&self, scope: &Scope, sql: &str) -> Vec<tokio_postgres::Row> {
        let mut client = self.pg().client().await.unwrap();
        scope::read(
            &mut client,
            scope,
            true,
            Sql {
                text: sql.to_owned(),
                values: vec![],
            },
        )
        .await
        .unwrap()
    }

    /// The tenants of the rows `sql` (selecting `tenant`) returns in `scope`.
    async fn tenants(&self, scope: &Scope, sql: &str) -> Vec<String> {
        self.raw(scope, sql)
            .await
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect()
    }

    async fn backend_pid(&self) -> i32 {
        let client = self.pg().client().await.unwrap();
        client
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0)
    }
}

#[tokio::test]
async fn two_tenants_through_one_pooled_connection_see_zero_cross_tenant_rows() {
    let Some(f) = fixture().await else { return };
    let pid = f.backend_pid().await;
    let (a, b) = (Scope::Tenant("acme".into()), Scope::Tenant("globex".into()));
    let mut cross_tenant_rows = 0;
    for round in 0..25 {
        f.create("acme", &format!("acme {round}")).await;
        f.create("globex", &format!("globex {round}")).await;
        // Alternate tenants on the one connection, through the store and through statements
        // without any tenant filter.
        for (scope, own) in [(&a, "acme"), (&b, "globex")] {
            let listed = f
                .store
                .list(scope, f.notes.clone(), ListQuery::first(1000))
                .await
                .unwrap();
            cross_tenant_rows += listed
                .iter()
                .filter(|r| r.tenant.as_deref() != Some(own))
                .count();
            let unfiltered = f.tenants(scope, "SELECT \"tenant\" FROM \"notes\"").await;
            assert_eq!(unfiltered.len(), round + 1, "{own} sees its own rows");
            cross_tenant_rows += unfiltered.iter().filter(|t| *t != own).count();
        }
    }
    assert_eq!(cross_tenant_rows, 0);
    assert_eq!(
        f.backend_pid().await,
        pid,
        "every statement used one connection"
    );

    // Between transactions the connection carries no tenant: an unscoped statement on it sees
    // nothing, and the settings are empty.
    let client = f.pg().client().await.unwrap();
    let visible = client
        .query("SELECT \"tenant\" FROM \"notes\"", &[])
        .await
        .unwrap();
    assert!(visible.is_empty(), "no tenant state leaks into the pool");
    let settings = client
        .query_one(
            "SELECT coalesce(current_setting('fathom.tenant', true), ''), coalesce(current_setting('fathom.all_tenants', true), '')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (settings.get::<_, String>(0), settings.get::<_, String>(1)),
        (String::new(), String::new())
    );
    drop(client);

    // Unfiltered writes in one tenant's transaction touch only that tenant's rows, and a row
    // for another tenant is refused.
    let updated = f
        .raw(
            &a,
            "UPDATE \"notes\" SET \"version\" = \"version\" + 1 RETURNING \"tenant\"",
        )
        .await;
    assert_eq!(updated.len(), 25);
    assert!(updated.iter().all(|r| r.get::<_, String>(0) == "acme"));
    let mut client = f.pg().client().await.unwrap();
    let smuggled = scope::read(
        &mut client,
        &a,
        true,
        Sql {
            text: "INSERT INTO \"notes\" (\"id\", \"tenant\", \"body\", \"created_at\", \"updated_at\") VALUES (gen_random_uuid(), 'globex', 'smuggled', now(), now()) RETURNING \"id\"".into(),
            values: vec![],
        },
    )
    .await;
    assert!(smuggled.is_err(), "the policy refuses another tenant's row");
    drop(client);
    let deleted = f
        .raw(&b, "DELETE FROM \"notes\" RETURNING \"tenant\"")
        .await;
    assert!(deleted.iter().all(|r| r.get::<_, String>(0) == "globex"));
    assert_eq!(
        f.tenants(&a, "SELECT \"tenant\" FROM \"notes\"")
            .await
            .len(),
        25
    );

    // No tenant: nothing; every tenant: everything.
    assert!(
        f.tenants(&Scope::NoTenant, "SELECT \"tenant\" FROM \"notes\"")
            .await
            .is_empty()
    );
    assert_eq!(
        f.tenants(&Scope::AllTenants, "SELECT \"tenant\" FROM \"notes\"")
            .await
            .len(),
        25
    );
}

#[tokio::test]
async fn a_cancelled_request_leaves_no_tenant_on_the_pooled_connection() {
    let Some(f) = fixture().await else { return };
    f.create("acme", "secret").await;
    let pid = f.backend_pid().await;
    // A request in tenant acme is abandoned mid-transaction (its future dropped by a timeout).
    let abandoned = tokio::time::timeout(
        Duration::from_millis(200),
        f.raw(
            &Scope::Tenant("acme".into()),
            "SELECT \"tenant\" FROM \"notes\", pg_sleep(2)",
        ),
    )
    .await;
    assert!(abandoned.is_err(), "the request was cancelled");
    // The same connection, next in line, carries nothing of it.
    let client = f.pg().client().await.unwrap();
    let pid_now: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(pid_now, pid);
    let visible = client
        .query("SELECT \"tenant\" FROM \"notes\"", &[])
        .await
        .unwrap();
    assert!(visible.is_empty(), "the abandoned tenant did not stick");
}

#[tokio::test]
async fn an_index_on_a_non_empty_table_builds_concurrently_and_a_failed_build_leaves_nothing() {
    let Some(f) = fixture().await else { return };
    f.create("acme", "same").await;
    f.create("acme", "same").await;
    // First a new column (in the migration's transaction), so that the next migrations change
    // indexes only: those build concurrently.
    let with_code = fathom_schema::parse_schema(
        "rls.toml",
        &SCHEMA.replace(
            "fields.body = { type = \"text\", required = true }",
            "fields.body = { type = \"text\", required = true }\nfields.code = { type = \"text\" }",
        ),
    )
    .unwrap();
    f.store.migrate(&with_code, false).await.unwrap();
    // A unique index over duplicates: the concurrent build fails, is dropped, nothing applies.
    let by_body = fathom_schema::parse_schema(
        "rls.toml",
        &SCHEMA.replace(
            "fields.body = { type = \"text\", required = true }",
            "fields.body = { type = \"text\", required = true, unique = true }\nfields.code = { type = \"text\" }",
        ),
    )
    .unwrap();
    let plan = f.store.plan(&by_body).await.unwrap();
    assert!(
        plan.statements()
            .any(|s| s.starts_with("CREATE UNIQUE INDEX CONCURRENTLY")),
        "{}",
        plan.render()
    );
    let version = f.store.applied().await.unwrap().unwrap().version;
    assert!(
        f.store.migrate(&by_body, true).await.is_err(),
        "duplicates refuse the index"
    );
    assert_eq!(f.store.applied().await.unwrap().unwrap().version, version);
    let client = f.pg().client().await.unwrap();
    let leftovers: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'notes' AND indexname LIKE 'uq_%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        leftovers, 0,
        "the failed concurrent build left no index behind"
    );
    drop(client);

    // A plain index on the same non-empty table builds concurrently and is valid.
    let by_code = fathom_schema::parse_schema(
        "rls.toml",
        &SCHEMA.replace(
            "fields.body = { type = \"text\", required = true }",
            "fields.body = { type = \"text\", required = true }\nfields.code = { type = \"text\" }\nindexes = [[\"code\"]]",
        ),
    )
    .unwrap();
    let plan = f.store.migrate(&by_code, false).await.unwrap();
    assert!(
        plan.statements()
            .any(|s| s.starts_with("CREATE INDEX CONCURRENTLY")),
        "{}",
        plan.render()
    );
    let client = f.pg().client().await.unwrap();
    let valid: bool = client
        .query_one(
            "SELECT bool_and(i.indisvalid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'idx_notes__tenant__code%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(valid);
}

/// A database from before API keys recorded their creator gets the column at start-up, filled
/// from the audit log for keys an administrator made; a key made with the CLI stays without one.
#[tokio::test]
async fn an_older_database_gets_the_api_key_creator_column_filled_from_the_audit_log() {
    let Some(fixture) = fixture().await else {
        return;
    };
    let admin = uuid::Uuid::now_v7();
    let (by_admin, by_cli) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let client = fixture.pg().client().await.unwrap();
    client
        .batch_execute(&format!(
            "ALTER TABLE \"_fathom_api_keys\" DROP COLUMN \"created_by\";
             INSERT INTO \"_fathom_api_keys\" (\"id\", \"prefix\", \"hash\", \"name\", \"scopes\", \"created_at\") VALUES
               ('{by_admin}', 'aaaaaaaa', 'hash', 'old key', '[\"*:*\"]', now()),
               ('{by_cli}', 'bbbbbbbb', 'hash', 'old key', '[\"*:*\"]', now());
             INSERT INTO \"_fathom_audit\" (\"seq\", \"at\", \"action\", \"outcome\", \"actor\", \"target\") VALUES
               (1001, now(), 'api_key_created', 'success', '{admin}', '{by_admin}'),
               (1002, now(), 'api_key_created', 'success', NULL, '{by_cli}');"
        ))
        .await
        .unwrap();
    drop(client);

    // What every start runs; twice, as a later start finds the column.
    for _ in 0..2 {
        super::migrate::ensure_system_tables(fixture.pg())
            .await
            .unwrap();
    }
    let keys = fixture.store.api_keys().await.unwrap();
    let creator_of = |id| keys.iter().find(|k| k.id == id).unwrap().created_by;
    assert_eq!(creator_of(by_admin), Some(admin));
    assert_eq!(creator_of(by_cli), None);
}

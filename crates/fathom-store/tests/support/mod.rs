//! The backend the store suites run against: SQLite in a temporary directory by default, or a
//! scratch PostgreSQL database on the server of `FATHOM_TEST_PG_URL` when
//! `FATHOM_TEST_BACKEND=postgres` (`scripts/test.sh` runs the suites both ways).

#![allow(dead_code)]

use std::sync::Arc;

use fathom_schema::{Collection, Schema};
use fathom_store::{PostgresOptions, ScratchDatabase, SqliteOptions, Store};

/// A store under test and what keeps its database alive (dropped after the store).
pub struct TestStore {
    pub store: Store,
    _database: Database,
}

enum Database {
    Sqlite(tempfile::TempDir),
    Postgres(ScratchDatabase),
}

impl TestStore {
    /// The URL of the scratch PostgreSQL database, so a test can open a second node on it.
    pub fn postgres_url(&self) -> Option<String> {
        match &self._database {
            Database::Postgres(database) => Some(database.url().to_owned()),
            Database::Sqlite(_) => None,
        }
    }

    /// The SQLite database file's path, so a test can open a second store on it.
    pub fn sqlite_path(&self, name: &str) -> Option<std::path::PathBuf> {
        match &self._database {
            Database::Sqlite(dir) => Some(dir.path().join(format!("{name}.db"))),
            Database::Postgres(_) => None,
        }
    }
}

/// Whether this run targets PostgreSQL.
pub fn postgres() -> bool {
    std::env::var("FATHOM_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// The admin URL of the test PostgreSQL server; a PostgreSQL run without one is a broken set-up.
pub fn pg_admin_url() -> String {
    std::env::var("FATHOM_TEST_PG_URL").unwrap_or_else(|_| {
        panic!("FATHOM_TEST_BACKEND=postgres needs FATHOM_TEST_PG_URL (a superuser's URL); scripts/test.sh sets both")
    })
}

/// Opens a fresh, empty store on the backend of this run.
pub async fn open(name: &str) -> TestStore {
    if postgres() {
        let database = ScratchDatabase::create(&pg_admin_url())
            .await
            .expect("a scratch database");
        let store = Store::open_postgres(PostgresOptions::new(database.url()))
            .await
            .expect("PostgreSQL store opens");
        TestStore {
            store,
            _database: Database::Postgres(database),
        }
    } else {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open_sqlite(SqliteOptions::new(dir.path().join(format!("{name}.db"))))
            .await
            .expect("SQLite store opens");
        TestStore {
            store,
            _database: Database::Sqlite(dir),
        }
    }
}

/// A store of a suite with its schema (TOML) migrated in, on a fresh database.
pub struct Fixture {
    pub store: Store,
    pub schema: Schema,
    _database: TestStore,
}

impl Fixture {
    /// `name` names the database and the schema file in messages.
    pub async fn migrated(name: &str, schema: &str) -> Self {
        let database = open(name).await;
        let store = database.store.clone();
        let schema = fathom_schema::parse_schema(&format!("{name}.toml"), schema).unwrap();
        store.migrate(&schema, false).await.unwrap();
        Self {
            store,
            schema,
            _database: database,
        }
    }

    pub fn collection(&self, name: &str) -> Arc<Collection> {
        self.schema.collection(name).unwrap().clone()
    }

    /// The URL of the scratch PostgreSQL database, so a test can open a second node on it.
    pub fn postgres_url(&self) -> Option<String> {
        self._database.postgres_url()
    }

    /// A second store (another node) on the same database as this fixture's, named `name`.
    pub async fn second_node(&self, name: &str) -> fathom_store::Store {
        match self.postgres_url() {
            Some(url) => fathom_store::Store::open_postgres(PostgresOptions::new(url))
                .await
                .unwrap(),
            None => Store::open_sqlite(SqliteOptions::new(
                self._database.sqlite_path(name).unwrap(),
            ))
            .await
            .unwrap(),
        }
    }
}

//! Scratch PostgreSQL databases for tests and benchmarks: each is created fresh on a server the
//! caller administers and dropped afterwards, and is owned by an ordinary role (`fathom_app`,
//! neither superuser nor BYPASSRLS) so that row-level security applies to Fathom as it would in
//! production.

use std::str::FromStr;

use tokio_postgres::NoTls;
use tokio_postgres::config::Host;

use crate::error::{StoreError, StoreErrorKind, from_postgres};

/// The role scratch databases belong to and Fathom connects as.
pub const SCRATCH_ROLE: &str = "fathom_app";

/// A database created for one test run, dropped when this value is dropped.
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
    dropped: bool,
}

async fn admin_client(admin_url: &str) -> Result<tokio_postgres::Client, StoreError> {
    let (client, connection) = tokio_postgres::connect(admin_url, NoTls)
        .await
        .map_err(|e| {
            let mut error = from_postgres(e);
            error.detail = format!("connecting with the admin URL: {}", error.detail);
            error
        })?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl ScratchDatabase {
    /// Creates `fathom_test_<random>` on the server `admin_url` points at (a role allowed to
    /// create roles and databases), owned by [`SCRATCH_ROLE`], which is created if missing.
    pub async fn create(admin_url: &str) -> Result<Self, StoreError> {
        let config = tokio_postgres::Config::from_str(admin_url).map_err(|e| {
            StoreError::new(
                StoreErrorKind::Internal,
                format!("the admin URL does not parse: {e}"),
            )
        })?;
        let client = admin_client(admin_url).await?;
        // Tests create databases in parallel: a concurrent CREATE ROLE may lose the race either
        // way PostgreSQL reports it.
        client
            .batch_execute(&format!(
                "DO $$ BEGIN
                   CREATE ROLE {SCRATCH_ROLE} LOGIN PASSWORD '{SCRATCH_ROLE}' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
                 END $$"
            ))
            .await
            .map_err(from_postgres)?;
        let mut random = [0u8; 8];
        getrandom::fill(&mut random)
            .map_err(|e| StoreError::internal(format!("the OS random source failed: {e}")))?;
        let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("fathom_test_{suffix}");
        client
            .batch_execute(&format!("CREATE DATABASE {name} OWNER {SCRATCH_ROLE}"))
            .await
            .map_err(from_postgres)?;
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(host)) => host.clone(),
            Some(Host::Unix(path)) => percent_encode(&path.display().to_string()),
            None => "localhost".to_owned(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let url = format!("postgres://{SCRATCH_ROLE}:{SCRATCH_ROLE}@{host}:{port}/{name}");
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
            url,
            dropped: false,
        })
    }

    /// The URL Fathom connects with (as [`SCRATCH_ROLE`]).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database now, ending every connection to it.
    pub async fn drop_database(mut self) -> Result<(), StoreError> {
        self.dropped = true;
        drop_named(&self.admin_url, &self.name).await
    }
}

async fn drop_named(admin_url: &str, name: &str) -> Result<(), StoreError> {
    let client = admin_client(admin_url).await?;
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .map_err(from_postgres)
}

impl Drop for ScratchDatabase {
    /// Drops the database on a thread of its own (Drop cannot await, and may run inside a
    /// runtime). Best effort: a failure is reported on stderr.
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let outcome = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| StoreError::internal(e.to_string()))?;
            runtime.block_on(drop_named(&admin_url, &name))
        })
        .join();
        if let Ok(Err(e)) = outcome {
            eprintln!(
                "could not drop the scratch database {}: {}",
                self.name, e.detail
            );
        }
    }
}

//! Fathom under test: a `fathom serve` child process on a fresh data directory with the bench
//! schema, an administrator created through the CLI first, and the settings the bench needs.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, ensure};
use tempfile::TempDir;

use crate::process::{ServerProcess, spawn_announcing};

/// The bench schema (also checked by `scripts/bench.sh` with `fathom schema check`).
pub const SCHEMA: &str = include_str!("../schema.toml");
pub const ADMIN_EMAIL: &str = "admin@bench.local";
/// A bench-only password for a throwaway database.
pub const ADMIN_PASSWORD: &str = "bench administrator passphrase";

/// How the Fathom process is configured.
#[derive(Debug, Clone)]
pub struct FathomOptions {
    /// The `fathom` binary (release build).
    pub bin: PathBuf,
    /// `full` or `normal` (`database.durability`).
    pub durability: String,
    /// `auth.rate_limit_per_minute`: raised so the bench's own logins are not refused.
    pub auth_rate_limit_per_minute: u32,
    /// `auth.lockout_threshold`: raised for the same reason.
    pub lockout_threshold: u32,
}

impl FathomOptions {
    /// The environment that configures the process (shown in the report).
    pub fn environment(&self) -> Vec<(String, String)> {
        vec![
            (
                "FATHOM_DATABASE__DURABILITY".into(),
                self.durability.clone(),
            ),
            // The workloads measure the API, not its rate limits: a handful of clients make
            // thousands of requests a second.
            ("FATHOM_RATE_LIMITS__ENABLED".into(), "false".into()),
            (
                "FATHOM_AUTH__RATE_LIMIT_PER_MINUTE".into(),
                self.auth_rate_limit_per_minute.to_string(),
            ),
            // Each family of auth routes has its own budget too; the bench's refreshes and
            // logins must not meet them either.
            (
                "FATHOM_AUTH__RATE_LIMITS__LOGIN".into(),
                self.auth_rate_limit_per_minute.to_string(),
            ),
            (
                "FATHOM_AUTH__RATE_LIMITS__REFRESH".into(),
                self.auth_rate_limit_per_minute.to_string(),
            ),
            // The bench registers its users from one address, faster than 10 a minute.
            (
                "FATHOM_AUTH__RATE_LIMITS__REGISTER".into(),
                self.auth_rate_limit_per_minute.to_string(),
            ),
            (
                "FATHOM_AUTH__LOCKOUT_THRESHOLD".into(),
                self.lockout_threshold.to_string(),
            ),
            ("FATHOM_LOG__FORMAT".into(), "json".into()),
        ]
    }
}

/// A running Fathom and its data directory (deleted when dropped, after the process).
pub struct FathomServer {
    pub process: ServerProcess,
    _data: TempDir,
}

/// Writes the schema, creates the administrator, then starts `fathom serve` on port 0.
pub fn start(options: &FathomOptions) -> anyhow::Result<FathomServer> {
    // Absolute, because the commands run in the data directory.
    let bin = std::fs::canonicalize(&options.bin).with_context(|| {
        format!(
            "the fathom binary {} does not exist; build it with `cargo build --release -p fathom`",
            options.bin.display()
        )
    })?;
    let data = tempfile::tempdir().context("creating a data directory")?;
    let schema = data.path().join("bench.schema.toml");
    std::fs::write(&schema, SCHEMA).context("writing the bench schema")?;
    let db_dir = data.path().join("data");
    let common = |command: &mut Command| {
        command
            .arg("--schema")
            .arg(&schema)
            .arg("--data-dir")
            .arg(&db_dir)
            // No fathom.toml from the caller's directory may leak into the run.
            .current_dir(data.path())
            .env_remove("RUST_LOG");
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("FATHOM_")) {
            command.env_remove(key);
        }
        command.envs(options.environment());
    };

    let mut create_admin = Command::new(&bin);
    create_admin.args(["users", "create-admin", "--email", ADMIN_EMAIL]);
    common(&mut create_admin);
    let output = create_admin
        .env("FATHOM_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .output()
        .context("running fathom users create-admin")?;
    ensure!(
        output.status.success(),
        "fathom users create-admin failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    let mut serve = Command::new(&bin);
    serve.args(["serve", "--listen", "127.0.0.1:0"]);
    common(&mut serve);
    let process = spawn_announcing(serve, Duration::from_secs(60))?;
    Ok(FathomServer {
        process,
        _data: data,
    })
}

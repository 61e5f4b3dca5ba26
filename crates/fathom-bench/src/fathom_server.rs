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
    /// More configuration, as environment variables (`--fathom-env`), after the bench's own.
    pub extra_environment: Vec<(String, String)>,
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
            // W7's webhook receiver listens on loopback.
            (
                "FATHOM_WEBHOOKS__ALLOW_NETWORKS".into(),
                "[\"127.0.0.0/8\"]".into(),
            ),
        ]
        .into_iter()
        .chain(self.extra_environment.iter().cloned())
        .collect()
    }
}

/// A running Fathom and its data directory (deleted when dropped, after the process).
pub struct FathomServer {
    pub process: ServerProcess,
    /// Runs a CLI command on this server's schema and data, with its environment.
    pub cli: Cli,
    _data: TempDir,
}

/// The `fathom` command line as a server was started: binary, schema, data directory and
/// environment.
#[derive(Debug, Clone)]
pub struct Cli {
    bin: PathBuf,
    schema: PathBuf,
    data_dir: PathBuf,
    home: PathBuf,
    environment: Vec<(String, String)>,
}

impl Cli {
    /// `fathom <args> --schema … --data-dir …` in the server's directory, without the
    /// caller's FATHOM_* variables.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = self.bare(args);
        command
            .arg("--schema")
            .arg(&self.schema)
            .arg("--data-dir")
            .arg(&self.data_dir);
        command
    }

    /// `fathom <args>` alone (for the commands that take no schema or data directory), in the
    /// server's directory and environment.
    pub fn bare(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .args(args)
            // No fathom.toml from the caller's directory may leak into the run.
            .current_dir(&self.home)
            .env_remove("RUST_LOG");
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("FATHOM_")) {
            command.env_remove(key);
        }
        command.envs(self.environment.iter().cloned());
        command
    }

    /// Runs `command` (made by [`Cli::command`] or [`Cli::bare`]) to completion; its output,
    /// or why it failed.
    pub fn run(&self, mut command: Command) -> anyhow::Result<String> {
        let shown: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let output = command
            .output()
            .with_context(|| format!("running fathom {}", shown.join(" ")))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        ensure!(
            output.status.success(),
            "fathom {} failed: {text}",
            shown.join(" ")
        );
        Ok(text)
    }
}

/// Writes the schema, creates the administrator, then starts `fathom serve` on port 0.
pub fn start(options: &FathomOptions) -> anyhow::Result<FathomServer> {
    start_with(options, SCHEMA, &[])
}

/// [`start`] with another schema and more environment (a key file, for one).
pub fn start_with(
    options: &FathomOptions,
    schema_text: &str,
    environment: &[(String, String)],
) -> anyhow::Result<FathomServer> {
    // Absolute, because the commands run in the data directory.
    let bin = std::fs::canonicalize(&options.bin).with_context(|| {
        format!(
            "the fathom binary {} does not exist; build it with `cargo build --release -p fathom`",
            options.bin.display()
        )
    })?;
    let data = tempfile::tempdir().context("creating a data directory")?;
    let schema = data.path().join("bench.schema.toml");
    std::fs::write(&schema, schema_text).context("writing the bench schema")?;
    let mut all_environment = options.environment();
    all_environment.extend(environment.iter().cloned());
    let cli = Cli {
        bin,
        schema,
        data_dir: data.path().join("data"),
        home: data.path().to_path_buf(),
        environment: all_environment,
    };
    let mut create_admin = cli.command(&["users", "create-admin", "--email", ADMIN_EMAIL]);
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

    let serve = cli.command(&["serve", "--listen", "127.0.0.1:0"]);
    let process = spawn_announcing(serve, Duration::from_secs(60))?;
    Ok(FathomServer {
        process,
        cli,
        _data: data,
    })
}

/// [`start_with`] off the async runtime's threads (it waits for the process to announce itself).
pub async fn start_async(
    options: FathomOptions,
    schema: String,
    environment: Vec<(String, String)>,
) -> anyhow::Result<FathomServer> {
    tokio::task::spawn_blocking(move || start_with(&options, &schema, &environment))
        .await
        .context("the start-up task failed")?
}

/// Owners of the bench's items (any uuid does: the field is not a relation).
pub fn owners() -> Vec<String> {
    (1..=20)
        .map(|n| format!("00000000-0000-7000-8000-{n:012}"))
        .collect()
}

/// Signs in as the administrator and seeds `records` items into `server`: the server as the
/// workloads see it, and the administrator's access token.
pub async fn seeded_side(
    server: &FathomServer,
    client: &reqwest::Client,
    records: u64,
    owners: &[String],
) -> anyhow::Result<(crate::workloads::Side, std::sync::Arc<str>)> {
    let base = server.process.url("");
    let admin = crate::client::login(client, &base, ADMIN_EMAIL, ADMIN_PASSWORD).await?;
    let seeded =
        crate::seed::seed_fathom(client, &base, &admin.access_token, records, owners).await?;
    let side = crate::workloads::Side {
        base,
        client: client.clone(),
        pid: server.process.pid(),
        ids: std::sync::Arc::new(seeded.ids),
    };
    Ok((side, std::sync::Arc::from(admin.access_token.as_str())))
}

/// How the two-server comparisons (`encryption`, `operations`, `cache`) run: the servers'
/// settings, the records seeded into each, and the workloads' bounds.
#[derive(Debug, Clone)]
pub struct PairSettings {
    pub fathom: FathomOptions,
    /// Records seeded into each server.
    pub records: u64,
    pub bounds: crate::loadgen::Bounds,
    pub rounds: u32,
    pub warmup: Duration,
    /// Workers of the closed-loop reads.
    pub concurrency: usize,
}

impl PairSettings {
    /// `measured` against `reference`, both seeded already (see [`seeded_side`]).
    pub fn bench(
        &self,
        measured: crate::workloads::Side,
        reference: crate::workloads::Side,
        measured_token: std::sync::Arc<str>,
    ) -> crate::workloads::Bench {
        crate::workloads::Bench::two_fathoms(
            measured,
            reference,
            measured_token,
            self.bounds,
            (self.rounds, self.warmup),
            self.concurrency,
        )
    }

    /// Seeds `measured` and `reference` alike and pairs them: the bench, and the reference's
    /// administrator token (the measured one's is the bench's `admin_token`).
    pub async fn seed_pair(
        &self,
        measured: &FathomServer,
        reference: &FathomServer,
    ) -> anyhow::Result<(crate::workloads::Bench, std::sync::Arc<str>)> {
        let client = crate::client::http_client()?;
        let owners = owners();
        let (measured_side, measured_token) =
            seeded_side(measured, &client, self.records, &owners).await?;
        let (reference_side, reference_token) =
            seeded_side(reference, &client, self.records, &owners).await?;
        Ok((
            self.bench(measured_side, reference_side, measured_token),
            reference_token,
        ))
    }
}

//! The command line: `serve`, `init`, `schema check`, `migrate plan|apply|status`, `openapi`,
//! `users create-admin`, `keys rotate|list|create|revoke|new-data-key|status|rotate-data`,
//! `purge`, `backup`, `restore`, `advise`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::commands;
use crate::config::{Config, DatabaseOverrides, Overrides, SchemaOverrides, ServerOverrides};

/// What `fathom --version` prints after the name: the package version and the commit it was
/// built from (`unknown` outside a git checkout; see `build.rs`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("FATHOM_GIT_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "fathom",
    version = VERSION,
    about = "A production backend from one schema file."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the REST API (applies additive migrations first).
    Serve(ServeArgs),
    /// Write a starter schema file and configuration into a directory.
    Init {
        /// Where to write `fathom.schema.toml` and `fathom.toml`.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Work with the schema file.
    Schema {
        #[command(subcommand)]
        command: SchemaCommand,
    },
    /// Plan, apply and inspect migrations.
    Migrate {
        #[command(subcommand)]
        command: MigrateCommand,
    },
    /// Print the OpenAPI 3.1 document for the schema file.
    Openapi(OpenapiArgs),
    /// Manage user accounts.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Manage keys: the signing keys of access tokens (rotate, list) and the API keys of
    /// services (create, list, revoke).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The hash-chained audit log: verify it, or print its head to anchor it elsewhere.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Copy the SQLite database to a new FILE while it serves, and check the copy
    /// (on PostgreSQL: explains pg_dump and base backups).
    Backup {
        #[command(flatten)]
        common: CommonArgs,
        /// The new file to write.
        file: PathBuf,
    },
    /// Replace the SQLite database with a backup FILE, after checking it; refuses while a
    /// server is serving the database unless --force.
    Restore {
        #[command(flatten)]
        common: CommonArgs,
        /// The backup to restore (from `fathom backup`).
        file: PathBuf,
        /// Restore even though a server seems to hold the database.
        #[arg(long)]
        force: bool,
    },
    /// Remove for good the records of soft-delete collections deleted more than an age ago.
    Purge {
        #[command(flatten)]
        common: CommonArgs,
        /// How long ago they were deleted, at least: 30d, 12h, 45m or 90s.
        #[arg(long)]
        older_than: String,
        /// Only this collection (default: every collection with soft_delete).
        #[arg(long)]
        collection: Option<String>,
    },
    /// Manage webhook endpoints (docs/WEBHOOKS.md).
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// The architect's advice (docs/ARCHITECT.md): indexes verified against the database's
    /// plans for the recorded query shapes; never changes the database.
    Advise {
        #[command(flatten)]
        common: CommonArgs,
        /// Print the findings as one JSON document.
        #[arg(long)]
        json: bool,
        /// Write the findings' schema patches into the schema file for review.
        #[arg(long)]
        apply: bool,
        /// Advise on the shapes in this JSON file (an array of `{shape, stats}`, as the
        /// recorder reports them) instead of those the store recorded.
        #[arg(long)]
        shapes: Option<PathBuf>,
        /// A shape called at least this often is worth an index.
        #[arg(long, default_value_t = 50)]
        min_calls: u64,
        /// A shape whose p95 latency reaches this many milliseconds is worth an index.
        #[arg(long, default_value_t = 5.0)]
        slow_ms: f64,
    },
}

/// Which events an endpoint takes.
#[derive(Debug, Args)]
pub struct WebhookSelection {
    /// A collection whose events are sent; repeat for several (none: all).
    #[arg(long = "collection")]
    pub collections: Vec<String>,
    /// An operation sent (create, update, delete); repeat for several (none: all).
    #[arg(long = "operation")]
    pub operations: Vec<String>,
    /// An expression over the record after the change (needs --collection; "" clears it).
    #[arg(long)]
    pub filter: Option<String>,
    /// Only this tenant's events ("" clears it).
    #[arg(long)]
    pub tenant: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Add an endpoint; its signing secret is printed once.
    Add {
        #[command(flatten)]
        common: CommonArgs,
        /// Where to send the events (http or https, a public address).
        url: String,
        #[command(flatten)]
        selection: WebhookSelection,
    },
    /// List the endpoints with their position, breaker and dead letters (never a secret).
    List(CommonArgs),
    /// Change an endpoint; only what is given changes.
    Update {
        #[command(flatten)]
        common: CommonArgs,
        id: String,
        #[arg(long)]
        url: Option<String>,
        /// Enable (also after a 410 Gone) or disable delivery.
        #[arg(long)]
        enabled: Option<bool>,
        #[command(flatten)]
        selection: WebhookSelection,
    },
    /// Remove an endpoint with its log, dead letters and position.
    Remove {
        #[command(flatten)]
        common: CommonArgs,
        id: String,
    },
    /// Send one signed `webhook.test` message now.
    Test {
        #[command(flatten)]
        common: CommonArgs,
        id: String,
    },
    /// Deliver messages again: one (--sequence), a range (--sequence and --to) or every dead letter.
    Replay {
        #[command(flatten)]
        common: CommonArgs,
        id: String,
        #[arg(long = "sequence")]
        from: Option<i64>,
        #[arg(long)]
        to: Option<i64>,
        #[arg(long)]
        dead_letters: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create an administrator (the only way to make the first one). The password is read from
    /// --password-file, else the FATHOM_ADMIN_PASSWORD variable, else one line of standard input.
    CreateAdmin {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long)]
        email: String,
        /// A file holding the password (trailing newline ignored).
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Create a user with any roles. The password is read from --password-file, else the
    /// FATHOM_USER_PASSWORD variable, else one line of standard input.
    Create {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long)]
        email: String,
        /// A role of the new user (repeatable); `user` when none is given.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// The tenant the user belongs to.
        #[arg(long)]
        tenant: Option<String>,
        /// Mark the email as verified.
        #[arg(long)]
        verified: bool,
        /// A file holding the password (trailing newline ignored).
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// List users in id order (oldest first), or the one with --email.
    List {
        #[command(flatten)]
        common: CommonArgs,
        /// Only the user with this email (exact, whatever the case).
        #[arg(long)]
        email: Option<String>,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete a user; records pointing at it follow each relation's `on_delete` (a `restrict`
    /// relation still holding it refuses the deletion).
    Delete {
        #[command(flatten)]
        common: CommonArgs,
        /// The user's id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the chain and report the first altered, removed or inserted entry (exit 1 if any).
    Verify {
        #[command(flatten)]
        common: CommonArgs,
        /// After a successful walk, write the head (`{"seq": .., "hash": ..}`) to FILE.
        #[arg(long, value_name = "FILE")]
        export_head: Option<PathBuf>,
        /// A head exported earlier: its entry must still be in the chain with that hash.
        #[arg(long, value_name = "FILE")]
        anchor: Option<PathBuf>,
    },
    /// Print the head (newest sequence and its hash) as JSON, to anchor the chain elsewhere.
    Head(CommonArgs),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Signing keys: make a new one; older keys stop signing but keep verifying their tokens.
    Rotate(CommonArgs),
    /// Signing keys and API keys: list both (ids, prefixes, RFC 3339 dates; never a secret).
    List(CommonArgs),
    /// API keys: create one for a service. The key is printed once; only its hash is stored.
    Create {
        #[command(flatten)]
        common: CommonArgs,
        /// What the key is for, e.g. "billing service".
        #[arg(long)]
        name: String,
        /// What it may do: `collection:operation,...` (operations: list, view, create, update,
        /// delete or *; collection * for all). Repeat for several.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Confine the key to one tenant (default: every tenant).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// API keys: revoke one by id; requests with it are refused at once.
    Revoke {
        #[command(flatten)]
        common: CommonArgs,
        /// The key's id, from `fathom keys list`.
        id: String,
    },
    /// Field encryption: add a new data key to a key file (creating the file, with a blind
    /// key, when it does not exist). The new key encrypts every value written after the
    /// servers restart; older keys keep decrypting.
    NewDataKey {
        /// The key file (`encryption.key_file`).
        #[arg(long)]
        file: std::path::PathBuf,
        /// The new key's id (default: `k` and the current Unix time).
        #[arg(long)]
        id: Option<String>,
    },
    /// Field encryption: how many stored values each data key protects, per encrypted field.
    Status(CommonArgs),
    /// Field encryption: re-encrypt every stored value under the writing key (the last data key
    /// of the key file), in batches, while servers keep serving. Resumable: run it again after
    /// an interruption.
    RotateData {
        #[command(flatten)]
        common: CommonArgs,
        /// Records per batch (one transaction each).
        #[arg(long, default_value_t = 500)]
        batch: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Validate the schema file and report every problem with its line and column.
    Check(CommonArgs),
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Print the SQL that would bring the database to the schema file, flagging unsafe steps.
    Plan {
        #[command(flatten)]
        common: CommonArgs,
        /// Exit with status 2 when any step is unsafe (for CI).
        #[arg(long)]
        check: bool,
        /// Exit with status 3 when the migration changes the API in a way existing clients
        /// break on, or one to review (a rule changed), for CI.
        #[arg(long)]
        deny_breaking: bool,
        /// Print the plan, its locks and rewrites, and its API changes as one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Apply the plan in one transaction, then convert the values of fields whose encryption
    /// changed, in batches (resumable: run it again).
    Apply {
        #[command(flatten)]
        common: CommonArgs,
        /// Also run steps flagged unsafe (data loss, narrowing, failing on existing data).
        #[arg(long)]
        allow_destructive: bool,
        /// Records per batch when converting the values of a field whose encryption changed
        /// (one transaction each).
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        batch_size: u32,
        /// Stop the conversion after this many batches (run again to resume).
        #[arg(long)]
        batches: Option<u64>,
    },
    /// Show applied versions and whether the schema file has pending changes.
    Status(CommonArgs),
}

/// Options every command that reads the configuration takes.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Configuration file (default: ./fathom.toml if it exists).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// The schema file (default: fathom.schema.toml).
    #[arg(long)]
    pub schema: Option<PathBuf>,
    /// Directory holding the embedded database (default: ./fathom_data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Address to listen on (default: 127.0.0.1:8090).
    #[arg(long)]
    pub listen: Option<String>,
    /// Serve the bundled demo (a small shop) with seed data; ignores --schema.
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, Clone, Args)]
pub struct OpenapiArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Print the document of the bundled demo schema; ignores --schema.
    #[arg(long)]
    pub demo: bool,
}

impl CommonArgs {
    /// Loads the layered configuration with these flags on top.
    pub fn load_config(&self, listen: Option<String>) -> anyhow::Result<Config> {
        let overrides = Overrides {
            server: listen.map(|listen| ServerOverrides {
                listen: Some(listen),
            }),
            database: self
                .data_dir
                .clone()
                .map(|d| DatabaseOverrides { data_dir: Some(d) }),
            schema: self
                .schema
                .clone()
                .map(|p| SchemaOverrides { path: Some(p) }),
        };
        Ok(Config::load(
            self.config.as_deref(),
            std::env::vars(),
            &overrides,
        )?)
    }
}

/// Runs a parsed command; the exit code says whether it succeeded.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => commands::serve::run(args).await,
        Command::Init { dir } => commands::init::run(&dir),
        Command::Schema {
            command: SchemaCommand::Check(args),
        } => commands::schema::check(&args),
        Command::Advise {
            common,
            json,
            apply,
            shapes,
            min_calls,
            slow_ms,
        } => {
            let args = commands::advise::AdviseArgs {
                json,
                apply,
                shapes,
                options: fathom_architect::IndexOptions {
                    min_calls,
                    slow_p95_micros: (slow_ms.max(0.0) * 1000.0) as u64,
                },
            };
            commands::advise::run(&common, &args).await
        }
        Command::Migrate { command } => match command {
            MigrateCommand::Plan {
                common,
                check,
                deny_breaking,
                json,
            } => {
                let options = commands::migrate::PlanOptions {
                    check,
                    deny_breaking,
                    json,
                };
                commands::migrate::plan(&common, options).await
            }
            MigrateCommand::Apply {
                common,
                allow_destructive,
                batch_size,
                batches,
            } => {
                let limits = commands::convert::Limits {
                    batch: batch_size,
                    max_batches: batches,
                };
                commands::migrate::apply(&common, allow_destructive, limits).await
            }
            MigrateCommand::Status(args) => commands::migrate::status(&args).await,
        },
        Command::Openapi(args) => commands::openapi::print(&args),
        Command::Users {
            command:
                UsersCommand::CreateAdmin {
                    common,
                    email,
                    password_file,
                },
        } => commands::users::create_admin(&common, &email, password_file.as_deref()).await,
        Command::Users {
            command:
                UsersCommand::Create {
                    common,
                    email,
                    roles,
                    tenant,
                    verified,
                    password_file,
                },
        } => {
            let account = commands::accounts::NewAccount {
                email,
                roles,
                tenant,
                verified,
            };
            commands::accounts::create(&common, account, password_file.as_deref()).await
        }
        Command::Users {
            command:
                UsersCommand::List {
                    common,
                    email,
                    json,
                },
        } => commands::accounts::list(&common, email.as_deref(), json).await,
        Command::Users {
            command: UsersCommand::Delete { common, id },
        } => commands::accounts::delete(&common, &id).await,
        Command::Keys { command } => match command {
            KeysCommand::Rotate(args) => commands::keys::rotate(&args).await,
            KeysCommand::List(args) => commands::keys::list(&args).await,
            KeysCommand::Create {
                common,
                name,
                scopes,
                tenant,
            } => commands::keys::create(&common, &name, &scopes, tenant).await,
            KeysCommand::Revoke { common, id } => commands::keys::revoke(&common, &id).await,
            KeysCommand::NewDataKey { file, id } => commands::data_keys::new_data_key(&file, id),
            KeysCommand::Status(args) => commands::data_keys::status(&args).await,
            KeysCommand::RotateData { common, batch } => {
                commands::data_keys::rotate_data(&common, batch).await
            }
        },
        Command::Audit { command } => match command {
            AuditCommand::Verify {
                common,
                export_head,
                anchor,
            } => commands::audit::verify(&common, export_head.as_deref(), anchor.as_deref()).await,
            AuditCommand::Head(common) => commands::audit::head(&common).await,
        },
        Command::Backup { common, file } => commands::backup::backup(&common, &file).await,
        Command::Restore {
            common,
            file,
            force,
        } => commands::backup::restore(&common, &file, force).await,
        Command::Purge {
            common,
            older_than,
            collection,
        } => commands::purge::run(&common, &older_than, collection.as_deref()).await,
        Command::Webhooks { command } => match command {
            WebhooksCommand::Add {
                common,
                url,
                selection,
            } => commands::webhooks::add(&common, &url, selection).await,
            WebhooksCommand::List(common) => commands::webhooks::list(&common).await,
            WebhooksCommand::Update {
                common,
                id,
                url,
                enabled,
                selection,
            } => commands::webhooks::update(&common, &id, url, enabled, selection).await,
            WebhooksCommand::Remove { common, id } => {
                commands::webhooks::remove(&common, &id).await
            }
            WebhooksCommand::Test { common, id } => commands::webhooks::test(&common, &id).await,
            WebhooksCommand::Replay {
                common,
                id,
                from,
                to,
                dead_letters,
            } => commands::webhooks::replay(&common, &id, from, to, dead_letters).await,
        },
    }
}

//! Layered, typed configuration: defaults < `fathom.toml` < environment (`FATHOM_SECTION__KEY`) <
//! command-line flags. Secrets are wrapped so they never print, and can be read from a file
//! (`database.url_file`). Everything is validated on load with messages that say how to fix it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod architect;
mod audit;
mod auth;
mod backup;
mod brokers;
mod cache;
mod encryption;
mod events;
mod idempotency;
mod mail;
mod metrics;
mod oauth;
mod otel;
mod passkeys;
mod purge;
mod rate_limits;
mod realtime;
mod report;
mod totp;
mod webhooks;

pub use architect::{ArchitectConfig, ClientAdviceConfig};
pub use audit::AuditConfig;
pub use auth::AuthConfig;
pub use backup::BackupConfig;
pub use brokers::{BrokersConfig, NatsSinkConfig, OperationName, RabbitmqSinkConfig};
pub use cache::CacheConfig;
pub use encryption::EncryptionConfig;
pub use events::EventsConfig;
pub use idempotency::IdempotencyConfig;
pub use mail::MailConfig;
pub use metrics::MetricsConfig;
pub use oauth::{OAuthConfig, ProviderConfig, ProviderKindConfig};
pub use otel::OtelConfig;
pub use passkeys::PasskeysConfig;
pub use purge::PurgeConfig;
pub use rate_limits::{ClassQuotaConfig, RateLimitsConfig, RedisConfig};
pub use realtime::RealtimeConfig;
pub use totp::TotpConfig;
pub use webhooks::WebhooksConfig;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub schema: SchemaConfig,
    pub log: LogConfig,
    pub auth: AuthConfig,
    pub mail: MailConfig,
    pub events: EventsConfig,
    pub realtime: RealtimeConfig,
    pub brokers: BrokersConfig,
    pub idempotency: IdempotencyConfig,
    pub purge: PurgeConfig,
    pub backup: BackupConfig,
    pub metrics: MetricsConfig,
    pub otel: OtelConfig,
    pub encryption: EncryptionConfig,
    pub webhooks: WebhooksConfig,
    pub audit: AuditConfig,
    pub rate_limits: RateLimitsConfig,
    pub redis: RedisConfig,
    pub cache: CacheConfig,
    pub oauth: OAuthConfig,
    pub architect: ArchitectConfig,
}

/// `[server]`: the HTTP listener and its limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on. Port 0 picks a free port.
    pub listen: String,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// Deepest accepted nesting of a JSON body.
    pub json_depth_limit: usize,
    /// Requests running longer are answered 503 `request_timeout`.
    pub request_timeout_secs: u64,
    /// A request whose write has reached the database by its time limit waits for the write's
    /// outcome up to this long in all (at least `request_timeout_secs`); past it, 504
    /// `write_outcome_unknown`.
    pub write_timeout_secs: u64,
    /// On SIGTERM or ctrl-c, in-flight requests get this long to finish.
    pub shutdown_timeout_secs: u64,
    /// Origins allowed by CORS; empty denies all cross-origin requests, `["*"]` allows any.
    pub cors_origins: Vec<String>,
    /// Send Strict-Transport-Security; turn on when clients reach Fathom over TLS.
    pub hsts: bool,
    /// Page size of a list request without `limit`.
    pub default_page_size: u32,
    /// Largest `limit` a list request may ask for.
    pub max_page_size: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8090".into(),
            body_limit_bytes: 1024 * 1024,
            json_depth_limit: 32,
            request_timeout_secs: 30,
            write_timeout_secs: 60,
            shutdown_timeout_secs: 30,
            cors_origins: Vec::new(),
            hsts: false,
            default_page_size: 20,
            max_page_size: 100,
        }
    }
}

/// `[database]`: where data lives and how it is written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Directory for the embedded database (`fathom.db`, or `demo.db` with `--demo`).
    pub data_dir: PathBuf,
    /// Optional database URL: `sqlite://PATH` picks the SQLite file directly;
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (or `postgresql://`) runs on PostgreSQL. A
    /// secret: it may carry credentials, so prefer `url_file`.
    pub url: Option<Secret>,
    /// A file whose contents (trimmed) are the database URL.
    pub url_file: Option<PathBuf>,
    /// Reader connections for SQLite.
    pub readers: usize,
    /// SQLite's page cache per connection (each reader and the writer), in MiB: the most of the
    /// database file each keeps in memory, allocated as pages are read.
    pub cache_mib: u32,
    /// The most connections to PostgreSQL this node keeps open.
    pub max_connections: usize,
    /// How long to wait on a database lock (SQLite) or to connect or get a pooled connection
    /// (PostgreSQL) before answering 503.
    pub busy_timeout_ms: u64,
    /// `full` (survives power loss) or `normal` (survives a process crash).
    pub durability: DurabilitySetting,
    /// Apply additive migrations when `serve` starts. Unsafe ones always need `migrate apply`.
    pub auto_migrate: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./fathom_data"),
            url: None,
            url_file: None,
            readers: 4,
            cache_mib: 32,
            max_connections: 16,
            busy_timeout_ms: 5000,
            durability: DurabilitySetting::Full,
            auto_migrate: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DurabilitySetting {
    Full,
    Normal,
}

/// `[schema]`: the schema file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchemaConfig {
    pub path: PathBuf,
}

impl Default for SchemaConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("fathom.schema.toml"),
        }
    }
}

/// `[log]`: log format and level.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `auto` (human-readable on a terminal, JSON otherwise), `json` or `pretty`.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `fathom=debug,info`; `RUST_LOG` overrides it.
    pub level: String,
    /// Lines are written to stdout in batches at least this often (and whenever 64 KiB have
    /// gathered); 0 writes every line at once, at a cost of one system call per line.
    pub flush_ms: u64,
    /// Which requests get their one log line: `all`, `off`, `errors` (status 400 and above) or a
    /// fraction such as `0.1` (every tenth request). A 5xx is always logged. Other lines are
    /// not affected.
    pub requests: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Auto,
            level: "info".into(),
            flush_ms: 100,
            requests: "all".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Auto,
    Json,
    Pretty,
}

/// A secret string: never printed by `Debug`, and serialised only as a placeholder.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
    }
}

/// Values given on the command line; they override every other layer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerOverrides>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseOverrides>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<SchemaOverrides>,
}

impl Overrides {
    /// `(key, flag)` for each flag given, so that errors can name the flag.
    fn given(&self) -> Vec<(&'static str, &'static str)> {
        let server = self.server.as_ref().and_then(|s| s.listen.as_ref());
        let database = self.database.as_ref().and_then(|d| d.data_dir.as_ref());
        let schema = self.schema.as_ref().and_then(|s| s.path.as_ref());
        [
            (server.is_some(), "server.listen", "--listen"),
            (database.is_some(), "database.data_dir", "--data-dir"),
            (schema.is_some(), "schema.path", "--schema"),
        ]
        .into_iter()
        .filter(|(given, ..)| *given)
        .map(|(_, key, flag)| (key, flag))
        .collect()
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DatabaseOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SchemaOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

/// A configuration that could not be loaded, with what to do about it: one line naming the key,
/// where its value came from, what was expected, and a hint.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Where the configuration file is looked for when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "fathom.toml";

impl Config {
    /// Loads every layer. `file` is `--config`; without it `./fathom.toml` is used if present.
    /// `env` is the environment to read (the process environment in production; a map in tests).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let mut sources = report::Sources::new();
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        let file = match file {
            Some(path) if !path.exists() => {
                return Err(ConfigError::Invalid(format!(
                    "the configuration file {} (from the flag --config) does not exist; hint: create it with `fathom init`, or drop --config",
                    path.display()
                )));
            }
            Some(path) => Some(path),
            None => Some(Path::new(DEFAULT_CONFIG_FILE)).filter(|p| p.exists()),
        };
        if let Some(path) = file {
            sources.read_file(path)?;
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = with_env(figment, env, &mut sources);
        for (key, flag) in overrides.given() {
            sources.flag(key, flag);
        }
        figment = figment.merge(Serialized::defaults(overrides));
        let mut config: Config = figment.extract().map_err(|e| sources.figment(&e))?;
        // Checks after deserialisation name their keys; the sources add where each came from.
        let annotated = |e: ConfigError| match e {
            ConfigError::Invalid(message) => ConfigError::Invalid(sources.annotate(&message)),
        };
        config.resolve_secret_files().map_err(annotated)?;
        config.validate().map_err(annotated)?;
        Ok(config)
    }

    fn resolve_secret_files(&mut self) -> Result<(), ConfigError> {
        if let Some(path) = &self.database.url_file {
            if self.database.url.is_some() {
                return Err(ConfigError::Invalid(
                    "both database.url and database.url_file are set; hint: keep only one".into(),
                ));
            }
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::Invalid(format!(
                    "database.url_file: cannot read {}: {e}; hint: check the path and its permissions",
                    path.display()
                ))
            })?;
            self.database.url = Some(Secret(text.trim().to_owned()));
        }
        self.brokers.resolve_secret_files()?;
        self.mail.resolve_secret_file()?;
        self.redis.resolve_secret_file()?;
        self.oauth.resolve_secret_files()?;
        self.metrics.resolve_secret_file()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.server.listen.parse::<SocketAddr>().is_err() {
            return invalid(format!(
                "server.listen is \"{}\", which is not an address; hint: use IP:PORT such as 127.0.0.1:8090 (port 0 picks a free port)",
                self.server.listen
            ));
        }
        if self.server.body_limit_bytes < 1024 {
            return invalid("server.body_limit_bytes must be at least 1024".into());
        }
        if !(1..=512).contains(&self.server.json_depth_limit) {
            return invalid("server.json_depth_limit must be between 1 and 512".into());
        }
        if self.server.request_timeout_secs == 0 {
            return invalid("server.request_timeout_secs must be at least 1".into());
        }
        if self.server.default_page_size == 0
            || self.server.default_page_size > self.server.max_page_size
        {
            return invalid(format!(
                "server.default_page_size is {}, but must be between 1 and server.max_page_size, which is {}; hint: lower the first or raise the second",
                self.server.default_page_size, self.server.max_page_size
            ));
        }
        if self.server.max_page_size > 1000 {
            return invalid("server.max_page_size must be at most 1000".into());
        }
        if !(1..=64).contains(&self.database.readers) {
            return invalid("database.readers must be between 1 and 64".into());
        }
        if !(1..=4096).contains(&self.database.cache_mib) {
            return invalid("database.cache_mib must be between 1 and 4096".into());
        }
        if !(1..=1000).contains(&self.database.max_connections) {
            return invalid("database.max_connections must be between 1 and 1000".into());
        }
        // Telemetry would fall back to `info` without a word; a typo must not silence debug logs.
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return invalid(format!(
                "log.level is {:?}, which is not a log filter; hint: use a level (error, warn, info, debug, trace) or directives such as fathom=debug,info",
                self.log.level
            ));
        }
        if let Some(url) = &self.database.url
            && !url.expose().starts_with("sqlite:")
            && self.postgres_url().is_none()
        {
            let scheme = url.expose().split(':').next().unwrap_or("");
            return invalid(format!(
                "database.url has the scheme `{scheme}`, which Fathom cannot serve; hint: use postgres://USER:PASSWORD@HOST:PORT/DATABASE, sqlite://PATH, or leave it unset to use database.data_dir"
            ));
        }
        if let Err(e) = fathom_api::RequestLog::parse(&self.log.requests) {
            return invalid(format!("log.requests: {e}"));
        }
        self.metrics.validate()?;
        self.otel.validate()?;
        self.events.validate()?;
        self.idempotency.validate()?;
        self.cache.validate()?;
        self.architect.validate()?;
        self.audit.validate()?;
        self.purge.validate()?;
        self.backup.validate()?;
        self.realtime.validate()?;
        self.webhooks.validate()?;
        self.rate_limits.validate()?;
        self.redis.validate()?;
        self.auth.validate()?;
        self.oauth.validate()?;
        self.brokers.validate()?;
        self.architect.validate()?;
        self.mail.validate()
    }

    /// The PostgreSQL URL, when `database.url` names a PostgreSQL database.
    pub fn postgres_url(&self) -> Option<&str> {
        self.database
            .url
            .as_ref()
            .map(Secret::expose)
            .filter(|url| url.starts_with("postgres://") || url.starts_with("postgresql://"))
    }

    /// How to reach PostgreSQL, when `database.url` names it.
    pub fn postgres_options(&self) -> Option<fathom_store::PostgresOptions> {
        self.postgres_url().map(|url| {
            let mut options = fathom_store::PostgresOptions::new(url);
            options.max_connections = self.database.max_connections;
            options.acquire_timeout = Duration::from_millis(self.database.busy_timeout_ms);
            options
        })
    }

    /// The SQLite database file: from `database.url`, else `<data_dir>/<name>`.
    pub fn sqlite_path(&self, default_name: &str) -> PathBuf {
        match &self.database.url {
            Some(url) => {
                let rest = url.expose().trim_start_matches("sqlite:");
                PathBuf::from(rest.strip_prefix("//").unwrap_or(rest))
            }
            None => self.database.data_dir.join(default_name),
        }
    }

    pub fn listen_addr(&self) -> SocketAddr {
        self.server
            .listen
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8090)))
    }

    pub fn store_options(&self, default_name: &str) -> fathom_store::SqliteOptions {
        let mut options = fathom_store::SqliteOptions::new(self.sqlite_path(default_name));
        options.readers = self.database.readers;
        options.cache_mib = self.database.cache_mib;
        options.busy_timeout = Duration::from_millis(self.database.busy_timeout_ms);
        options.durability = match self.database.durability {
            DurabilitySetting::Full => fathom_store::Durability::Full,
            DurabilitySetting::Normal => fathom_store::Durability::Normal,
        };
        options
    }

    pub fn http_config(&self) -> fathom_api::HttpConfig {
        let s = &self.server;
        fathom_api::HttpConfig {
            body_limit_bytes: s.body_limit_bytes,
            json_depth_limit: s.json_depth_limit,
            request_timeout: Duration::from_secs(s.request_timeout_secs),
            write_timeout: Duration::from_secs(s.write_timeout_secs),
            cors_origins: s.cors_origins.clone(),
            hsts: s.hsts,
            default_page_size: s.default_page_size,
            max_page_size: s.max_page_size,
            idempotency_ttl: Duration::from_secs(self.idempotency.ttl_secs),
            metrics: self.metrics.exposure(),
            request_log: fathom_api::RequestLog::parse(&self.log.requests).unwrap_or_default(),
            cache_max_bytes: self.cache.max_bytes,
            client_advice: self.architect.clients.settings(),
        }
    }
}

/// Merges `FATHOM_SECTION__KEY=value` variables: `__` separates section and key. A value is typed
/// by the key it sets: parsed (as figment parses environment values) where the default is a
/// number, boolean or array, kept as a string otherwise, so `FATHOM_DATABASE__DATA_DIR=2026` stays
/// a path. Taking the variables as an argument keeps loading testable without the process env.
fn with_env(
    mut figment: Figment,
    env: impl IntoIterator<Item = (String, String)>,
    sources: &mut report::Sources,
) -> Figment {
    use figment::value::Value;
    let defaults = Value::serialize(Config::default()).ok();
    for (key, value) in env {
        let Some(name) = key.strip_prefix("FATHOM_") else {
            continue;
        };
        // Only `FATHOM_<SECTION>__<KEY>` names are configuration; others (such as
        // FATHOM_ADMIN_PASSWORD, read by `users create-admin`) belong to commands.
        if !name.contains("__") {
            continue;
        }
        let path = name.to_ascii_lowercase().replace("__", ".");
        let typed = matches!(
            defaults.as_ref().and_then(|d| d.find_ref(&path)),
            Some(Value::Bool(..) | Value::Num(..) | Value::Array(..))
        );
        let parsed: Value = if typed {
            value.parse().unwrap_or_else(|_| value.clone().into())
        } else {
            value.into()
        };
        figment = figment.merge(Serialized::default(&path, parsed));
        sources.env(path, key);
    }
    figment
}

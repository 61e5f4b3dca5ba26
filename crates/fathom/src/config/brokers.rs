//! `[brokers]`, `[[brokers.nats]]` and `[[brokers.rabbitmq]]`: the sinks that publish the outbox
//! to message brokers (`fathom-brokers`, `docs/BROKERS.md`).

use std::path::PathBuf;
use std::time::Duration;

use fathom_brokers::{NatsTarget, RabbitmqTarget, Selection, SinkSpec, StreamSpec, Target};
use fathom_store::EventOperation;
use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

/// Every broker sink.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokersConfig {
    /// How long a node's hold on a sink lasts unless renewed (it renews about every third of
    /// it); when a node dies, another takes its sinks over after at most about this long.
    pub lease_ms: u64,
    pub nats: Vec<NatsSinkConfig>,
    pub rabbitmq: Vec<RabbitmqSinkConfig>,
}

impl Default for BrokersConfig {
    fn default() -> Self {
        Self {
            lease_ms: 10_000,
            nats: Vec::new(),
            rabbitmq: Vec::new(),
        }
    }
}

/// `[[brokers.nats]]`: one NATS JetStream sink.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsSinkConfig {
    /// Unique among the NATS sinks; names its cursor (`nats:<name>`).
    pub name: String,
    /// `nats://HOST:PORT` (or `tls://`). A secret: it may carry credentials.
    pub url: Option<Secret>,
    /// A file whose contents (trimmed) are the URL.
    pub url_file: Option<PathBuf>,
    /// Events go to `<subject_prefix>.<collection>.<operation>`.
    #[serde(default = "default_subject_prefix")]
    pub subject_prefix: String,
    /// A JetStream stream to create at connection (capturing `<subject_prefix>.>`) when it does
    /// not exist; without it, a stream capturing the subjects must exist.
    #[serde(default)]
    pub stream: Option<String>,
    /// The created stream's de-duplication window.
    #[serde(default = "default_duplicate_window_secs")]
    pub duplicate_window_secs: u64,
    /// How long to wait for JetStream's acknowledgement (and to connect).
    #[serde(default = "default_ack_timeout_ms")]
    pub ack_timeout_ms: u64,
    /// How many messages may await the broker's acknowledgement at once (1 to 1024).
    #[serde(default = "default_in_flight")]
    pub in_flight: usize,
    #[serde(default)]
    pub collections: Vec<String>,
    #[serde(default)]
    pub operations: Vec<OperationName>,
}

/// `[[brokers.rabbitmq]]`: one RabbitMQ sink.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RabbitmqSinkConfig {
    /// Unique among the RabbitMQ sinks; names its cursor (`rabbitmq:<name>`).
    pub name: String,
    /// `amqp://USER:PASSWORD@HOST:PORT/VHOST` (or `amqps://`). A secret.
    pub url: Option<Secret>,
    /// A file whose contents (trimmed) are the URL.
    pub url_file: Option<PathBuf>,
    /// The exchange every event is published to.
    #[serde(default = "default_exchange")]
    pub exchange: String,
    /// Declare the exchange (durable, `topic`) at connection.
    #[serde(default = "default_true")]
    pub declare_exchange: bool,
    /// Routing keys are `<routing_key_prefix><collection>.<operation>`.
    #[serde(default)]
    pub routing_key_prefix: String,
    /// How long to wait for the broker's confirm (and to connect).
    #[serde(default = "default_ack_timeout_ms")]
    pub confirm_timeout_ms: u64,
    /// How many messages may await the broker's acknowledgement at once (1 to 1024).
    #[serde(default = "default_in_flight")]
    pub in_flight: usize,
    #[serde(default)]
    pub collections: Vec<String>,
    #[serde(default)]
    pub operations: Vec<OperationName>,
}

/// An event operation as written in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OperationName {
    Create,
    Update,
    Delete,
}

impl OperationName {
    fn operation(self) -> EventOperation {
        match self {
            Self::Create => EventOperation::Create,
            Self::Update => EventOperation::Update,
            Self::Delete => EventOperation::Delete,
        }
    }
}

fn default_subject_prefix() -> String {
    "fathom".into()
}
fn default_exchange() -> String {
    "fathom".into()
}
fn default_duplicate_window_secs() -> u64 {
    120
}
fn default_ack_timeout_ms() -> u64 {
    5_000
}
fn default_in_flight() -> usize {
    64
}
fn default_true() -> bool {
    true
}

/// Whether `name` is a sink name: 1 to 64 of `a-z`, `0-9`, `_` and `-`.
fn is_sink_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Whether `prefix` is one or more NATS subject tokens (no wildcards, no spaces).
fn is_subject_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.split('.').all(|token| {
            !token.is_empty()
                && token
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'*' && b != b'>')
        })
}

/// Reads `url_file` into `url` (one of the two must be set).
fn resolve_url(
    key: &str,
    url: &mut Option<Secret>,
    url_file: &Option<PathBuf>,
) -> Result<(), ConfigError> {
    match (url.is_some(), url_file) {
        (true, Some(_)) => Err(ConfigError::Invalid(format!(
            "both {key}.url and {key}.url_file are set; hint: keep only one"
        ))),
        (false, None) => Err(ConfigError::Invalid(format!(
            "{key} has no url; hint: set url (or url_file, a file holding it)"
        ))),
        (true, None) => Ok(()),
        (false, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::Invalid(format!(
                    "{key}.url_file: cannot read {}: {e}; hint: check the path and its permissions",
                    path.display()
                ))
            })?;
            *url = Some(Secret::new(text.trim()));
            Ok(())
        }
    }
}

/// The URL's scheme must be one of `schemes`.
fn check_scheme(key: &str, url: Option<&Secret>, schemes: &[&str]) -> Result<(), ConfigError> {
    let url = url.map(Secret::expose).unwrap_or_default();
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    if scheme.is_some_and(|s| schemes.contains(&s)) {
        return Ok(());
    }
    Err(ConfigError::Invalid(format!(
        "{key}.url has the scheme `{}`, which is not a broker URL of this kind; hint: use {}://HOST:PORT",
        scheme.unwrap_or(""),
        schemes.join(":// or ")
    )))
}

impl BrokersConfig {
    pub fn resolve_secret_files(&mut self) -> Result<(), ConfigError> {
        for (i, sink) in self.nats.iter_mut().enumerate() {
            resolve_url(&format!("brokers.nats[{i}]"), &mut sink.url, &sink.url_file)?;
        }
        for (i, sink) in self.rabbitmq.iter_mut().enumerate() {
            resolve_url(
                &format!("brokers.rabbitmq[{i}]"),
                &mut sink.url,
                &sink.url_file,
            )?;
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if !(1_000..=600_000).contains(&self.lease_ms) {
            return invalid(format!(
                "brokers.lease_ms is {}, but must be between 1000 and 600000; hint: 10000 hands a dead node's sinks over within about ten seconds",
                self.lease_ms
            ));
        }
        let kinds: [(&str, Vec<&str>); 2] = [
            ("nats", self.nats.iter().map(|s| s.name.as_str()).collect()),
            (
                "rabbitmq",
                self.rabbitmq.iter().map(|s| s.name.as_str()).collect(),
            ),
        ];
        for (kind, names) in &kinds {
            if !names.is_empty() && !fathom_brokers::supports(kind) {
                return invalid(format!(
                    "brokers.{kind} is configured, but this build of fathom has no {kind} support; hint: build with `cargo build --features {kind}` (on by default), or remove the section"
                ));
            }
            for (i, name) in names.iter().enumerate() {
                if !is_sink_name(name) {
                    return invalid(format!(
                        "brokers.{kind}[{i}].name is {name:?}; hint: use 1 to 64 of a-z, 0-9, _ and -"
                    ));
                }
                if names[..i].contains(name) {
                    return invalid(format!(
                        "brokers.{kind}[{i}].name {name:?} is used by two {kind} sinks; hint: each sink needs its own name, which names its position in the outbox"
                    ));
                }
            }
        }
        for (i, sink) in self.nats.iter().enumerate() {
            let key = format!("brokers.nats[{i}]");
            check_scheme(&key, sink.url.as_ref(), &["nats", "tls"])?;
            if !is_subject_prefix(&sink.subject_prefix) {
                return invalid(format!(
                    "{key}.subject_prefix is {:?}, which is not a NATS subject; hint: use dot-separated tokens without spaces, `*` or `>`, such as fathom or acme.events",
                    sink.subject_prefix
                ));
            }
            if sink.stream.as_deref().is_some_and(|s| {
                s.is_empty()
                    || !s
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            }) {
                return invalid(format!(
                    "{key}.stream is {:?}, which is not a stream name; hint: use letters, digits, _ and -, such as FATHOM",
                    sink.stream.as_deref().unwrap_or_default()
                ));
            }
            check_timeout(&format!("{key}.ack_timeout_ms"), sink.ack_timeout_ms)?;
            check_in_flight(&key, sink.in_flight)?;
            if sink.duplicate_window_secs == 0 {
                return invalid(format!(
                    "{key}.duplicate_window_secs must be at least 1; hint: 120 discards a republished event for two minutes"
                ));
            }
        }
        for (i, sink) in self.rabbitmq.iter().enumerate() {
            let key = format!("brokers.rabbitmq[{i}]");
            check_scheme(&key, sink.url.as_ref(), &["amqp", "amqps"])?;
            if sink.exchange.is_empty() || sink.exchange.len() > 255 {
                return invalid(format!(
                    "{key}.exchange must be 1 to 255 characters; hint: fathom"
                ));
            }
            check_timeout(
                &format!("{key}.confirm_timeout_ms"),
                sink.confirm_timeout_ms,
            )?;
            check_in_flight(&key, sink.in_flight)?;
        }
        Ok(())
    }

    /// The sinks as `fathom-brokers` takes them.
    pub fn sinks(&self) -> Vec<SinkSpec> {
        let selection = |collections: &[String], operations: &[OperationName]| Selection {
            collections: collections.to_vec(),
            operations: operations.iter().map(|o| o.operation()).collect(),
        };
        let url = |url: &Option<Secret>| {
            url.as_ref()
                .map(|u| u.expose().to_owned())
                .unwrap_or_default()
        };
        let nats = self.nats.iter().map(|sink| SinkSpec {
            name: sink.name.clone(),
            target: Target::Nats(NatsTarget {
                url: url(&sink.url),
                subject_prefix: sink.subject_prefix.clone(),
                stream: sink.stream.as_ref().map(|name| StreamSpec {
                    name: name.clone(),
                    duplicate_window: Duration::from_secs(sink.duplicate_window_secs),
                }),
                ack_timeout: Duration::from_millis(sink.ack_timeout_ms),
            }),
            selection: selection(&sink.collections, &sink.operations),
            in_flight: sink.in_flight,
        });
        let rabbitmq = self.rabbitmq.iter().map(|sink| SinkSpec {
            name: sink.name.clone(),
            target: Target::Rabbitmq(RabbitmqTarget {
                url: url(&sink.url),
                exchange: sink.exchange.clone(),
                declare_exchange: sink.declare_exchange,
                routing_key_prefix: sink.routing_key_prefix.clone(),
                confirm_timeout: Duration::from_millis(sink.confirm_timeout_ms),
            }),
            selection: selection(&sink.collections, &sink.operations),
            in_flight: sink.in_flight,
        });
        nats.chain(rabbitmq).collect()
    }

    pub fn lease_ttl(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }
}

fn check_in_flight(key: &str, in_flight: usize) -> Result<(), ConfigError> {
    if (1..=1024).contains(&in_flight) {
        return Ok(());
    }
    Err(ConfigError::Invalid(format!(
        "{key}.in_flight is {in_flight}, but must be between 1 and 1024; hint: 64 keeps a window of 64 messages awaiting the broker; 1 waits for each"
    )))
}

fn check_timeout(key: &str, ms: u64) -> Result<(), ConfigError> {
    if (100..=120_000).contains(&ms) {
        return Ok(());
    }
    Err(ConfigError::Invalid(format!(
        "{key} is {ms}, but must be between 100 and 120000; hint: 5000 waits five seconds"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nats(name: &str, url: &str) -> NatsSinkConfig {
        NatsSinkConfig {
            name: name.into(),
            url: Some(Secret::new(url)),
            url_file: None,
            subject_prefix: default_subject_prefix(),
            stream: None,
            duplicate_window_secs: 120,
            ack_timeout_ms: 5_000,
            in_flight: default_in_flight(),
            collections: Vec::new(),
            operations: Vec::new(),
        }
    }

    fn error(config: &BrokersConfig) -> String {
        match config.validate() {
            Err(ConfigError::Invalid(message)) => message,
            Ok(()) => String::from("valid"),
        }
    }

    #[test]
    fn sinks_are_refused_with_the_key_and_a_hint() {
        let mut config = BrokersConfig::default();
        config.nats.push(nats("events", "nats://127.0.0.1:4222"));
        assert_eq!(error(&config), "valid");
        config.nats[0].url = Some(Secret::new("http://user:pw@127.0.0.1:4222"));
        let message = error(&config);
        assert!(
            message.starts_with("brokers.nats[0].url has the scheme `http`"),
            "{message}"
        );
        assert!(!message.contains("pw"), "{message}");
        config.nats[0].url = Some(Secret::new("nats://127.0.0.1:4222"));
        config.nats.push(nats("events", "nats://127.0.0.1:4222"));
        assert!(error(&config).contains("used by two nats sinks"));
        config.nats[1].name = "Events!".into();
        assert!(error(&config).starts_with("brokers.nats[1].name"));
        config.nats.pop();
        config.nats[0].subject_prefix = "a.*".into();
        assert!(error(&config).starts_with("brokers.nats[0].subject_prefix"));
        config.nats[0].subject_prefix = "fathom".into();
        config.nats[0].in_flight = 0;
        assert!(error(&config).starts_with("brokers.nats[0].in_flight is 0"));
        config.nats[0].in_flight = 1025;
        assert!(error(&config).contains("between 1 and 1024"));
        config.nats[0].in_flight = 1;
        assert_eq!(error(&config), "valid");
        config.lease_ms = 10;
        assert!(error(&config).starts_with("brokers.lease_ms is 10"));
    }

    #[test]
    fn a_sink_needs_exactly_one_of_url_and_url_file() {
        let mut config = BrokersConfig::default();
        config.nats.push(nats("events", "nats://127.0.0.1:4222"));
        config.nats[0].url_file = Some(PathBuf::from("/nonexistent"));
        assert!(
            matches!(config.resolve_secret_files(), Err(ConfigError::Invalid(m)) if m.contains("both brokers.nats[0].url and brokers.nats[0].url_file"))
        );
        config.nats[0].url = None;
        assert!(
            matches!(config.resolve_secret_files(), Err(ConfigError::Invalid(m)) if m.starts_with("brokers.nats[0].url_file: cannot read"))
        );
        config.nats[0].url_file = None;
        assert!(
            matches!(config.resolve_secret_files(), Err(ConfigError::Invalid(m)) if m.contains("has no url"))
        );
    }

    #[test]
    fn names_and_prefixes_are_checked() {
        assert!(is_sink_name("orders-v2_eu"));
        assert!(!is_sink_name("Orders"));
        assert!(!is_sink_name(""));
        assert!(is_subject_prefix("acme.events"));
        for bad in ["", "a..b", "a.*", "a.>", "a b", ".a"] {
            assert!(!is_subject_prefix(bad), "{bad}");
        }
    }
}

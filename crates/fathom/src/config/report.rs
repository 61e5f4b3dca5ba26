//! Configuration errors as people read them: one line naming the key, where its value came from
//! (the file and line, the `FATHOM_...` environment variable, or the flag), what was expected,
//! and a hint. Figment's own messages name Rust types and the source location of a provider, so
//! they are translated here rather than shown.

use std::path::Path;

use figment::error::{Actual, Kind};
use figment::value::Value;
use toml_edit::{ImDocument, TableLike};

use super::{Config, ConfigError};

/// Keys whose values are never echoed in a message: they may hold credentials.
const SECRET_KEYS: &[&str] = &["database.url", "mail.smtp_url"];

/// Where each layer set its keys, to say where a bad value came from.
pub(super) struct Sources {
    /// The configuration file as shown in messages, and its parsed text (for line numbers).
    file: Option<(String, ImDocument<String>)>,
    /// `(key, variable)` for every `FATHOM_SECTION__KEY` variable.
    env: Vec<(String, String)>,
    /// `(key, flag)` for every flag given.
    flags: Vec<(&'static str, &'static str)>,
}

impl Sources {
    pub(super) fn new() -> Self {
        Self {
            file: None,
            env: Vec::new(),
            flags: Vec::new(),
        }
    }

    /// Reads the configuration file's text. A file that is not valid TOML is reported here, with
    /// its line and column, before figment would report it across several lines.
    pub(super) fn read_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::Invalid(format!(
                "cannot read the configuration file {shown}: {e}; hint: check the path and its permissions"
            ))
        })?;
        match ImDocument::parse(text.clone()) {
            Ok(document) => {
                self.file = Some((shown, document));
                Ok(())
            }
            Err(error) => {
                let (line, column) = error
                    .span()
                    .map_or((1, 1), |span| line_and_column(&text, span.start));
                let what = error.message().lines().next().unwrap_or("").trim();
                Err(ConfigError::Invalid(format!(
                    "{shown} line {line}, column {column} is not valid TOML: {what}; hint: quote strings, keep an inline table {{ ... }} on one line, and write each setting as key = value under its [section]"
                )))
            }
        }
    }

    pub(super) fn env(&mut self, key: String, variable: String) {
        self.env.push((key, variable));
    }

    pub(super) fn flag(&mut self, key: &'static str, flag: &'static str) {
        self.flags.push((key, flag));
    }

    /// Where the value of `key` (or of a key inside the section `key`) came from: the highest
    /// layer that set it. `None` for a built-in default.
    fn describe(&self, key: &str) -> Option<String> {
        let within = |set: &str| set == key || set.starts_with(&format!("{key}."));
        if let Some((_, flag)) = self.flags.iter().find(|(set, _)| within(set)) {
            return Some(format!("from the flag {flag}"));
        }
        if let Some((_, variable)) = self.env.iter().find(|(set, _)| within(set)) {
            return Some(format!("from the environment variable {variable}"));
        }
        let (shown, document) = self.file.as_ref()?;
        let offset = key_offset(document, key)?;
        let (line, _) = line_and_column(document.raw(), offset);
        Some(format!("from {shown} line {line}"))
    }

    /// Whether the value of `key` came from the environment (hints are then written as `VAR=value`).
    fn env_variable(&self, key: &str) -> Option<&str> {
        if self.flags.iter().any(|(set, _)| *set == key) {
            return None;
        }
        self.env
            .iter()
            .find(|(set, _)| set == key)
            .map(|(_, variable)| variable.as_str())
    }

    /// Adds the source to the first mention of each configuration key set by some layer, and a
    /// hint when the message has none.
    pub(super) fn annotate(&self, message: &str) -> String {
        let mut text = message.to_owned();
        let mut first_key = None;
        for key in self.keys_mentioned(message) {
            if let Some(source) = self.describe(&key)
                && let Some(at) = mention(&text, &key)
            {
                text.insert_str(at + key.len(), &format!(" ({source})"));
            }
            first_key.get_or_insert(key);
        }
        if !text.contains("hint:") {
            let hint = first_key.map_or_else(
                || "see the Configuration section of the README".to_owned(),
                |key| default_hint(&key),
            );
            text.push_str(&format!("; hint: {hint}"));
        }
        text
    }

    /// The configuration keys named in `message`, in the order they appear.
    fn keys_mentioned(&self, message: &str) -> Vec<String> {
        let mut keys: Vec<(usize, String)> = leaf_keys()
            .into_iter()
            .filter_map(|key| mention(message, &key).map(|at| (at, key)))
            .collect();
        keys.sort();
        keys.into_iter().map(|(_, key)| key).collect()
    }

    /// Translates a figment error (the first one: each load reports one problem).
    pub(super) fn figment(&self, error: &figment::Error) -> ConfigError {
        let mut path: Vec<&str> = error.path.iter().map(String::as_str).collect();
        if path.first() == Some(&"default") {
            path.remove(0);
        }
        let key = |leaf: Option<&str>| {
            let mut parts = path.clone();
            parts.extend(leaf);
            parts.join(".")
        };
        let message = match &error.kind {
            Kind::UnknownField(field, expected) => {
                // Figment's path usually ends with the unknown name already.
                let leaf = (path.last() != Some(&field.as_str())).then_some(field.as_str());
                let key = key(leaf);
                let what = if key.contains('.') {
                    "setting"
                } else {
                    "section"
                };
                format!(
                    "{key}{} is not a {what} Fathom knows; expected one of {}; hint: check the spelling (every setting is listed in the Configuration section of the README)",
                    self.source_suffix(&key),
                    expected.join(", ")
                )
            }
            Kind::UnknownVariant(got, expected) => {
                let key = key(None);
                format!(
                    "{key}{} is {got:?}, but must be one of {}; hint: {}",
                    self.source_suffix(&key),
                    expected.join(", "),
                    default_hint(&key)
                )
            }
            Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
                let key = key(None);
                let got = if SECRET_KEYS.contains(&key.as_str()) {
                    "a value of another type".to_owned()
                } else {
                    describe_actual(actual)
                };
                format!(
                    "{key}{} must be {}, but is {got}; hint: {}",
                    self.source_suffix(&key),
                    expected_phrase(&key, expected),
                    self.example_hint(&key)
                )
            }
            other => {
                let key = key(None);
                format!(
                    "{key}{} has an invalid value ({}); hint: {}",
                    self.source_suffix(&key),
                    kind_phrase(other),
                    default_hint(&key)
                )
            }
        };
        ConfigError::Invalid(message)
    }

    fn source_suffix(&self, key: &str) -> String {
        self.describe(key)
            .map_or_else(String::new, |source| format!(" ({source})"))
    }

    /// An example of a valid setting, written the way the value was given.
    fn example_hint(&self, key: &str) -> String {
        let Some(default) = default_of(key) else {
            return "see the Configuration section of the README".to_owned();
        };
        match self.env_variable(key) {
            Some(variable) => format!(
                "for example {variable}={}",
                default.trim_matches('"').replace("\\\\", "\\")
            ),
            None => {
                let leaf = key.rsplit('.').next().unwrap_or(key);
                format!("for example {leaf} = {default} (the default) in its [section]")
            }
        }
    }
}

/// Where `key` (a dotted path) first appears in `text` as a whole key: not as part of a longer
/// one (`database.url` inside `database.url_file`).
fn mention(text: &str, key: &str) -> Option<usize> {
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    text.match_indices(key).map(|(at, _)| at).find(|&at| {
        let before = text[..at].chars().next_back();
        let after = text[at + key.len()..].chars().next();
        !before.is_some_and(is_key_char)
            && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// Every `section.key` of the configuration.
fn leaf_keys() -> Vec<String> {
    let Ok(Value::Dict(_, sections)) = Value::serialize(Config::default()) else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    for (section, value) in &sections {
        if let Value::Dict(_, fields) = value {
            keys.extend(fields.keys().map(|field| format!("{section}.{field}")));
        }
    }
    // Optional settings are absent from the defaults.
    for optional in [
        "database.url",
        "database.url_file",
        "mail.smtp_url",
        "mail.smtp_url_file",
        "otel.endpoint",
    ] {
        if !keys.iter().any(|k| k == optional) {
            keys.push(optional.to_owned());
        }
    }
    keys
}

/// The built-in default of `key`, written as TOML; `None` for a setting without one.
fn default_of(key: &str) -> Option<String> {
    let defaults = Value::serialize(Config::default()).ok()?;
    let value = defaults.find_ref(key)?;
    Some(match value {
        Value::String(_, s) => format!("{s:?}"),
        Value::Num(_, n) => n.to_u128()?.to_string(),
        Value::Bool(_, b) => b.to_string(),
        Value::Array(_, items) => {
            let items: Vec<String> = items
                .iter()
                .filter_map(Value::as_str)
                .map(|s| format!("{s:?}"))
                .collect();
            format!("[{}]", items.join(", "))
        }
        _ => return None,
    })
}

/// "remove it to use the default", with the default when there is one.
fn default_hint(key: &str) -> String {
    match default_of(key) {
        Some(default) => {
            format!("fix the value, or remove it to use the default ({key} = {default})")
        }
        None => format!("fix the value, or remove {key} to leave it unset"),
    }
}

/// What a setting must be, in words: from the default's type, else from serde's expectation.
fn expected_phrase(key: &str, expected: &str) -> String {
    let range = match expected {
        "u8" => Some(u128::from(u8::MAX)),
        "u16" => Some(u128::from(u16::MAX)),
        "u32" => Some(u128::from(u32::MAX)),
        _ => None,
    };
    if let Some(max) = range {
        return format!("a whole number from 0 to {max}");
    }
    if matches!(expected, "u64" | "usize") {
        return "a whole number, 0 or more".to_owned();
    }
    let defaults = Value::serialize(Config::default()).ok();
    match defaults.as_ref().and_then(|d| d.find_ref(key)) {
        Some(Value::Num(..)) => "a whole number".to_owned(),
        Some(Value::Bool(..)) => "true or false".to_owned(),
        Some(Value::Array(..)) => "a list of strings, such as [\"a\", \"b\"]".to_owned(),
        Some(Value::Dict(..)) => format!("a table ([{key}])"),
        Some(Value::String(..)) => "a string".to_owned(),
        _ if expected.contains("bool") => "true or false".to_owned(),
        _ if expected.contains("sequence") => "a list".to_owned(),
        _ if expected.contains("struct") || expected.contains("map") => {
            format!("a table ([{key}])")
        }
        _ => "a string".to_owned(),
    }
}

/// The value that was given, in words.
fn describe_actual(actual: &Actual) -> String {
    match actual {
        Actual::Bool(b) => format!("the boolean {b}"),
        Actual::Unsigned(n) => format!("the number {n}"),
        Actual::Signed(n) => format!("the number {n}"),
        Actual::Float(x) => format!("the number {x}"),
        Actual::Char(c) => format!("the text {:?}", c.to_string()),
        Actual::Str(s) => {
            let shown: String = s.chars().take(64).collect();
            format!("the text {shown:?}")
        }
        Actual::Seq => "a list".to_owned(),
        Actual::Map => "a table".to_owned(),
        _ => "a value of another type".to_owned(),
    }
}

/// Rare figment kinds, in words that name no Rust type.
fn kind_phrase(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => m.lines().next().unwrap_or("").to_owned(),
        Kind::InvalidLength(n, _) => format!("{n} items is the wrong number"),
        Kind::MissingField(field) => format!("`{field}` is missing"),
        Kind::DuplicateField(field) => format!("`{field}` is given twice"),
        Kind::ISizeOutOfRange(n) => format!("{n} is out of range"),
        Kind::USizeOutOfRange(n) => format!("{n} is out of range"),
        _ => "a value of an unsupported type".to_owned(),
    }
}

/// The byte offset of `key`'s name in the file, following tables, dotted keys and inline tables.
fn key_offset(document: &ImDocument<String>, key: &str) -> Option<usize> {
    let mut table: &dyn TableLike = document.as_table();
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            return table.key(part).and_then(|k| k.span()).map(|s| s.start);
        }
        table = table.get(part)?.as_table_like()?;
    }
    None
}

/// The 1-based line and column of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

//! `[rate_limits]`: the data API's rate limits, per route class (`read`, `write`, `auth`,
//! `admin`, `realtime`), for anonymous callers (per client address), signed-in users (per user,
//! `default` or their role's table under `roles`) and API keys (per key); and `[redis]`, which
//! shares them (and the sign-in throttle) between the nodes of a cluster.
//!
//! ```toml
//! [rate_limits.default]
//! read = "1200/min"
//! [rate_limits.roles.admin]
//! read = "6000/min"   # classes a role leaves unset come from `default`
//! ```

use std::collections::BTreeMap;

use fathom_api::{ApiRateLimits, ClassQuotas};
use fathom_limits::Quota;
use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

/// One quota per route class, each `"count/window"` (`"600/min"`, `"10/s"`, `"1000/hour"`) or
/// `"off"`; unset inherits (defaults for the three tables, `default` for a role).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassQuotaConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realtime: Option<String>,
}

impl ClassQuotaConfig {
    fn of(read: &str, write: &str, auth: &str, admin: &str, realtime: &str) -> Self {
        let s = |v: &str| Some(v.to_owned());
        Self {
            read: s(read),
            write: s(write),
            auth: s(auth),
            admin: s(admin),
            realtime: s(realtime),
        }
    }

    /// The quotas, each unset class taken from `inherit` (`key` names the table in errors).
    fn resolve(&self, key: &str, inherit: &ClassQuotas) -> Result<ClassQuotas, ConfigError> {
        let one = |class: &str, value: &Option<String>, inherited: Option<Quota>| match value {
            None => Ok(inherited),
            Some(text) => Quota::parse(text)
                .map_err(|e| ConfigError::Invalid(format!("rate_limits.{key}.{class}: {e}"))),
        };
        Ok(ClassQuotas {
            read: one("read", &self.read, inherit.read)?,
            write: one("write", &self.write, inherit.write)?,
            auth: one("auth", &self.auth, inherit.auth)?,
            admin: one("admin", &self.admin, inherit.admin)?,
            realtime: one("realtime", &self.realtime, inherit.realtime)?,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitsConfig {
    /// `false` counts nothing and sends no rate-limit fields (for load tests, or when a proxy
    /// in front already limits). The auth routes' own limits (`auth.rate_limits`) stay.
    pub enabled: bool,
    /// Per client address, for requests without credentials.
    pub anonymous: ClassQuotaConfig,
    /// Per user, for signed-in users none of whose roles has a table under `roles`.
    pub default: ClassQuotaConfig,
    /// Per API key.
    pub api_keys: ClassQuotaConfig,
    /// Per user, by role (`[rate_limits.roles.editor]`); a user with several listed roles gets
    /// the most generous quota of each class. Unset classes come from `default`.
    pub roles: BTreeMap<String, ClassQuotaConfig>,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            anonymous: ClassQuotaConfig::of("600/min", "120/min", "120/min", "60/min", "60/min"),
            default: ClassQuotaConfig::of("1200/min", "600/min", "300/min", "600/min", "120/min"),
            api_keys: ClassQuotaConfig::of("6000/min", "3000/min", "300/min", "60/min", "600/min"),
            // Administrators import, migrate and script: ten times a user's budget.
            roles: BTreeMap::from([(
                "admin".to_owned(),
                ClassQuotaConfig::of("12000/min", "6000/min", "300/min", "6000/min", "600/min"),
            )]),
        }
    }
}

impl RateLimitsConfig {
    /// The limits the API enforces, every quota parsed (errors name their key).
    pub fn resolve(&self) -> Result<ApiRateLimits, ConfigError> {
        let defaults = Self::default();
        let builtin = |table: &ClassQuotaConfig, key: &str| {
            let none = ApiRateLimits::off().default;
            table.resolve(key, &none)
        };
        let anonymous = self
            .anonymous
            .resolve("anonymous", &builtin(&defaults.anonymous, "anonymous")?)?;
        let default = self
            .default
            .resolve("default", &builtin(&defaults.default, "default")?)?;
        let api_keys = self
            .api_keys
            .resolve("api_keys", &builtin(&defaults.api_keys, "api_keys")?)?;
        let mut roles = BTreeMap::new();
        for (role, table) in &self.roles {
            roles.insert(
                role.clone(),
                table.resolve(&format!("roles.{role}"), &default)?,
            );
        }
        Ok(ApiRateLimits {
            enabled: self.enabled,
            anonymous,
            default,
            api_keys,
            roles,
        })
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.resolve().map(|_| ())
    }
}

/// `[redis]`: a Redis shared by the nodes of a cluster, so that rate limits and the sign-in
/// throttle count once for all of them. Without it each node counts on its own.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[:password@]host:port[/db]`. A secret: prefer `url_file`.
    pub url: Option<Secret>,
    /// A file whose contents (trimmed) are the URL.
    pub url_file: Option<std::path::PathBuf>,
    /// The start of every key Fathom writes (`<prefix>:rl:...`), so that several deployments
    /// can share one Redis.
    pub key_prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: None,
            url_file: None,
            key_prefix: "fathom".into(),
        }
    }
}

impl RedisConfig {
    pub fn resolve_secret_file(&mut self) -> Result<(), ConfigError> {
        let Some(path) = &self.url_file else {
            return Ok(());
        };
        if self.url.is_some() {
            return Err(ConfigError::Invalid(
                "both redis.url and redis.url_file are set; hint: keep only one".into(),
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::Invalid(format!(
                "redis.url_file: cannot read {}: {e}; hint: check the path and its permissions",
                path.display()
            ))
        })?;
        self.url = Some(Secret::new(text.trim()));
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.key_prefix.is_empty() || self.key_prefix.contains(char::is_whitespace) {
            return Err(ConfigError::Invalid(format!(
                "redis.key_prefix is {:?}; hint: use a short word without spaces such as \"fathom\"",
                self.key_prefix
            )));
        }
        if let Some(url) = &self.url {
            let text = url.expose();
            if !(text.starts_with("redis://") || text.starts_with("unix://")) {
                return Err(ConfigError::Invalid(
                    "redis.url must start with redis:// (or unix:// for a socket); hint: redis://127.0.0.1:6379".into(),
                ));
            }
            #[cfg(not(feature = "redis"))]
            return Err(ConfigError::Invalid(
                "redis.url is set but this fathom was built without the `redis` feature; hint: build with `--features redis` (on by default)".into(),
            ));
        }
        Ok(())
    }

    /// The limiter every rate limit and the sign-in throttle count with.
    pub fn limiter(&self) -> Result<fathom_limits::Limiter, ConfigError> {
        match &self.url {
            #[cfg(feature = "redis")]
            Some(url) => fathom_limits::Limiter::shared(url.expose(), &self.key_prefix)
                .map_err(ConfigError::Invalid),
            _ => Ok(fathom_limits::Limiter::local()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_inherit_unset_classes_from_default_and_bad_quotas_name_their_key() {
        let mut config = RateLimitsConfig::default();
        config.roles.insert(
            "admin".into(),
            ClassQuotaConfig {
                read: Some("6000/min".into()),
                ..ClassQuotaConfig::default()
            },
        );
        config.default.write = Some("off".into());
        let limits = config.resolve().unwrap();
        let admin = &limits.roles["admin"];
        assert_eq!(admin.read, Some(Quota::per_minute(6000)));
        assert_eq!(admin.write, None, "inherited from default, which is off");
        assert_eq!(
            RateLimitsConfig::default().resolve().unwrap().roles["admin"].write,
            Some(Quota::per_minute(6000)),
            "administrators have a table of their own by default"
        );
        assert_eq!(admin.auth, Some(Quota::per_minute(300)));
        assert_eq!(limits.anonymous.read, Some(Quota::per_minute(600)));
        config.anonymous.read = Some("lots".into());
        let ConfigError::Invalid(message) = config.resolve().unwrap_err();
        assert!(
            message.starts_with("rate_limits.anonymous.read:"),
            "{message}"
        );
    }
}

//! `[cache]`: the bound of this node's result cache (the collections it serves from it say so
//! in the schema, `cache = "30s"`).

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The most a node's result cache may hold.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// The most bytes of cached answers (their JSON text) a node keeps; the least recently
    /// and least often used go first. `0` turns the cache off on this node.
    pub max_bytes: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

impl CacheConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        // moka weighs entries in u32 and sums them in u64; beyond a terabyte is a typo.
        if self.max_bytes > 1 << 40 {
            return Err(ConfigError::Invalid(format!(
                "cache.max_bytes is {}, which is more than 1 TiB; hint: 67108864 (64 MiB, the default) holds thousands of pages, and 0 turns the cache off",
                self.max_bytes
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_is_validated_and_zero_is_allowed() {
        assert!(CacheConfig::default().validate().is_ok());
        assert!(CacheConfig { max_bytes: 0 }.validate().is_ok());
        let error = CacheConfig {
            max_bytes: u64::MAX,
        }
        .validate()
        .expect_err("over a terabyte");
        assert!(
            error
                .to_string()
                .contains("cache.max_bytes is 18446744073709551615"),
            "{error}"
        );
    }
}

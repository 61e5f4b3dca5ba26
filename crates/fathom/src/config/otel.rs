//! `[otel]`: OpenTelemetry traces exported over OTLP/HTTP (protobuf). Only a binary built with
//! the `otel` cargo feature exports them; any other refuses an `[otel]` endpoint rather than
//! ignore it, since an operator who configured traces would otherwise look for them in vain.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The standard OpenTelemetry variables that name an OTLP endpoint when `otel.endpoint` is unset.
pub const ENDPOINT_VARIABLES: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtelConfig {
    /// The OTLP/HTTP traces endpoint, for example `http://127.0.0.1:4318/v1/traces`. Unset,
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as it is) or `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// (`/v1/traces` appended) turns traces on instead; with none of them, traces are off.
    pub endpoint: Option<String>,
    /// The `service.name` of every span.
    pub service_name: String,
    /// The share of new traces recorded, from 0 to 1. A request whose caller sent a sampled
    /// `traceparent` is always recorded (and an unsampled one never), so one trace is whole.
    pub sampling_ratio: f64,
}

impl Default for OtelConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            service_name: "fathom".into(),
            sampling_ratio: 1.0,
        }
    }
}

impl OtelConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(endpoint) = &self.endpoint {
            if !cfg!(feature = "otel") {
                return Err(ConfigError::Invalid(format!(
                    "otel.endpoint is \"{endpoint}\", but this fathom binary was built without the `otel` feature, so it cannot export traces; hint: build it with `cargo build --release -p fathom --features otel`, or remove the [otel] section"
                )));
            }
            let parsed = url::Url::parse(endpoint).ok();
            if !parsed.is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host()) {
                return Err(ConfigError::Invalid(format!(
                    "otel.endpoint is \"{endpoint}\", which is not an http(s) URL; hint: use the collector's OTLP/HTTP traces URL, such as http://127.0.0.1:4318/v1/traces"
                )));
            }
        }
        if !(0.0..=1.0).contains(&self.sampling_ratio) {
            return Err(ConfigError::Invalid(format!(
                "otel.sampling_ratio is {}, but must be between 0 and 1; hint: 1 records every trace, 0.1 one in ten",
                self.sampling_ratio
            )));
        }
        if self.service_name.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "otel.service_name is empty; hint: leave it unset for \"fathom\", or name this deployment".into(),
            ));
        }
        Ok(())
    }

    /// Whether traces are exported: an endpoint is configured here or in the environment.
    pub fn enabled(&self) -> bool {
        self.endpoint.is_some()
            || ENDPOINT_VARIABLES
                .iter()
                .any(|v| std::env::var_os(v).is_some_and(|value| !value.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_endpoint(endpoint: &str) -> OtelConfig {
        OtelConfig {
            endpoint: Some(endpoint.into()),
            ..OtelConfig::default()
        }
    }

    /// A binary without the feature refuses the section instead of silently exporting nothing;
    /// one with it accepts an http(s) endpoint.
    #[test]
    fn an_endpoint_is_accepted_exactly_when_the_binary_can_export() {
        let verdict = with_endpoint("http://127.0.0.1:4318/v1/traces").validate();
        if cfg!(feature = "otel") {
            assert!(verdict.is_ok(), "{verdict:?}");
        } else {
            let message = verdict.expect_err("refused").to_string();
            assert!(message.contains("without the `otel` feature"), "{message}");
        }
    }

    #[test]
    fn bad_endpoints_ratios_and_names_are_refused_with_a_hint() {
        let mut bad = vec![
            OtelConfig {
                sampling_ratio: 1.5,
                ..OtelConfig::default()
            },
            OtelConfig {
                sampling_ratio: -0.1,
                ..OtelConfig::default()
            },
            OtelConfig {
                service_name: " ".into(),
                ..OtelConfig::default()
            },
        ];
        if cfg!(feature = "otel") {
            bad.push(with_endpoint("127.0.0.1:4318"));
            bad.push(with_endpoint("ftp://collector/v1/traces"));
        }
        for config in bad {
            let message = config.validate().expect_err("refused").to_string();
            assert!(message.contains(": otel."), "{message}");
            assert!(message.contains("hint:"), "{message}");
        }
        assert!(OtelConfig::default().validate().is_ok());
    }
}

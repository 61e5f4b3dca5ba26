//! [`WebhookError`]: what an administrator's request about webhooks did wrong (or that the
//! store failed), with the stable code, a sentence naming the offending value, and a hint. The
//! API turns it into problem+json; the CLI prints it.

use fathom_core::ErrorCode;
use fathom_store::StoreError;

#[derive(Debug, Clone)]
pub struct WebhookError {
    pub code: ErrorCode,
    pub message: String,
    pub hint: String,
    /// A storage failure, kept for the API's error mapping (its detail is for the log only).
    pub store: Option<Box<StoreError>>,
}

impl std::fmt::Display for WebhookError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.hint)
    }
}

impl std::error::Error for WebhookError {}

impl WebhookError {
    pub fn new(code: ErrorCode, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: hint.into(),
            store: None,
        }
    }

    pub fn not_found(id: &str) -> Self {
        Self::new(
            ErrorCode::WebhookNotFound,
            format!("No webhook endpoint has the id `{id}`."),
            "List the endpoints with GET /api/v1/admin/webhooks (or `fathom webhooks list`).",
        )
    }

    pub fn url_invalid(url: &str, why: &str) -> Self {
        Self::new(
            ErrorCode::WebhookUrlInvalid,
            format!("The webhook URL `{}` is not accepted: {why}.", shorten(url)),
            "Give an absolute http:// or https:// URL with a host, such as https://example.com/hooks/fathom.",
        )
    }

    pub fn destination_blocked(url: &str, ip: &str, why: &str) -> Self {
        Self::new(
            ErrorCode::WebhookDestinationBlocked,
            format!(
                "The webhook URL `{}` reaches {ip}, {why}; webhooks may only reach public addresses.",
                shorten(url)
            ),
            "Point the webhook at a public address. For a local receiver in development, add its network to `webhooks.allow_networks`.",
        )
    }

    pub fn unresolvable(url: &str, host: &str) -> Self {
        Self::new(
            ErrorCode::WebhookUrlUnresolvable,
            format!(
                "The host `{host}` of the webhook URL `{}` does not resolve.",
                shorten(url)
            ),
            "Check the host name's spelling and that its DNS records exist.",
        )
    }

    pub fn validation(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationFailed, message, hint)
    }

    pub fn store(error: StoreError) -> Self {
        Self {
            code: error.code(),
            message: "The webhook storage failed.".into(),
            hint: "Retry; if it persists, check the server log.".into(),
            store: Some(Box::new(error)),
        }
    }
}

impl From<StoreError> for WebhookError {
    fn from(error: StoreError) -> Self {
        Self::store(error)
    }
}

/// A URL as echoed in a message: at most 200 characters.
fn shorten(url: &str) -> String {
    if url.chars().count() <= 200 {
        url.to_owned()
    } else {
        format!("{}…", url.chars().take(200).collect::<String>())
    }
}

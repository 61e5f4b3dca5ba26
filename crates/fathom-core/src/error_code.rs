//! The single table of stable error codes, with the HTTP status and title of each.
//!
//! Codes are part of the public API: clients match on them, so a code is never renamed or reused.

/// A stable, machine-readable error code. The wire form is the snake_case name from [`ErrorCode::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request body or query failed validation against the schema.
    ValidationFailed,
    /// The body is not valid JSON, or not the JSON shape the endpoint takes.
    MalformedJson,
    /// The JSON body nests deeper than the configured limit.
    JsonTooDeep,
    /// The request body is larger than the configured limit.
    PayloadTooLarge,
    /// The `Content-Type` is not `application/json`.
    UnsupportedMediaType,
    /// The request target (path and query) is longer than the server takes.
    UriTooLong,
    /// The request carries more headers, or more header bytes, than the server takes.
    HeadersTooLarge,
    /// A query-string parameter is malformed or out of range.
    InvalidQuery,
    /// The collection named in the path does not exist.
    CollectionNotFound,
    /// No record has this id in this collection (or the caller may not see it).
    RecordNotFound,
    /// The record id in the path is not a UUID.
    InvalidId,
    /// No route matches the path.
    RouteNotFound,
    /// The route exists but not for this HTTP method.
    MethodNotAllowed,
    /// No valid credentials were presented (missing, malformed, expired or revoked token).
    Unauthorized,
    /// The email and password do not match an active account (never says which part was wrong).
    InvalidCredentials,
    /// The caller is known but not allowed to do this.
    Forbidden,
    /// An update would leave the record outside the update rule that let the caller change it
    /// (for example by giving it to another owner); nothing was written.
    RuleViolation,
    /// The password is right, but the server signs in only accounts whose email address is
    /// verified (`auth.require_verified_email`).
    EmailNotVerified,
    /// Too many requests from this client or for this account; retry after `Retry-After`.
    TooManyRequests,
    /// A unique constraint would be violated.
    UniqueViolation,
    /// A relation points at a record that does not exist, or a delete would orphan one.
    RelationViolation,
    /// The request took longer than the configured timeout.
    RequestTimeout,
    /// A write reached the database but its outcome did not arrive in time: it may or may not
    /// have been applied. Read the record before retrying.
    WriteOutcomeUnknown,
    /// The change feed no longer holds the events after the given position (they are past the
    /// outbox's retention); start again from the current records and `meta.latest`.
    EventsExpired,
    /// The database is busy or unreachable; the request may be retried.
    ServiceUnavailable,
    /// The server is not ready to serve (for example, migrations are pending).
    NotReady,
    /// A realtime message is not JSON, not an object, or not a message the protocol knows (an unknown `type`, a missing or mistyped field).
    InvalidMessage,
    /// A realtime message is larger than `realtime.max_message_bytes`.
    MessageTooLarge,
    /// A WebSocket binary frame: the realtime protocol speaks JSON text frames only.
    UnsupportedFrame,
    /// A connection already holds `realtime.max_subscriptions` subscriptions.
    TooManySubscriptions,
    /// A subscription with this id is already open on the connection.
    SubscriptionExists,
    /// No subscription with this id is open on the connection.
    SubscriptionNotFound,
    /// A subscription has announced more matching records than `realtime.max_tracked` and was closed; subscribe again with a narrower filter.
    SubscriptionOverflow,
    /// The resume sequence is later than the latest event: it was not issued by this deployment.
    ResumeFromFuture,
    /// The events after the resume point are no longer retained: reload the data (a snapshot) and subscribe afresh.
    ResyncRequired,
    /// The client read events slower than they arrived and its queue filled; it was disconnected and may resume from the sequence given.
    Lagged,
    /// The realtime ticket is unknown, already used, or expired.
    TicketInvalid,
    /// The account's roles, tenant or verification changed (or the credential now names another account): the stream ended; reconnect to continue under the new authority.
    AuthorityChanged,
    /// A WebSocket upgrade came from a browser origin that `server.cors_origins` does not allow.
    OriginNotAllowed,
    /// The node is stopping: the stream ended; reconnect (to any node) with the resume sequence given.
    ShuttingDown,
    /// A plain HTTP request reached the WebSocket endpoint, which takes only WebSocket upgrades.
    UpgradeRequired,
    // Safe writes (issue 14): conditional requests and idempotency keys.
    /// `If-Match` named a version of the record that is no longer current; nothing was written.
    /// The response's `ETag` is the current one.
    PreconditionFailed,
    /// The collection takes writes only with `If-Match` (`require_if_match = true`).
    PreconditionRequired,
    /// An `If-Match` or `If-None-Match` value is malformed, or a form Fathom does not take on
    /// this request (`*`, a list, or a weak ETag on a write).
    InvalidPrecondition,
    /// The `Idempotency-Key` header is malformed (not one structured-field string of 1 to 255
    /// characters), repeated, or sent without credentials (keys are scoped to a caller).
    InvalidIdempotencyKey,
    /// The `Idempotency-Key` was already used by this caller for a different request (another
    /// method, path or body); nothing was written.
    IdempotencyKeyReused,
    /// A request with this `Idempotency-Key` is still being processed; retry shortly to get its
    /// response.
    IdempotencyKeyInFlight,
    // Protection at rest (issue 15): encrypted fields.
    /// A stored encrypted value cannot be decrypted (tampered or truncated ciphertext, or a key
    /// the key ring does not hold). Names the record; never carries plaintext.
    DataUnreadable,
    /// A write needs an encryption key and the server has no key ring (`encryption.key_file`).
    EncryptionUnavailable,
    // Webhooks (issue 13).
    /// No webhook endpoint has this id.
    WebhookNotFound,
    /// The webhook URL is not an absolute http(s) URL with a host and without credentials.
    WebhookUrlInvalid,
    /// The webhook URL's host is, or resolves to, an address webhooks may not reach (loopback,
    /// private, link-local, carrier-grade NAT, multicast, unspecified, metadata, ...).
    WebhookDestinationBlocked,
    /// The webhook URL's host does not resolve.
    WebhookUrlUnresolvable,
    /// The webhook's event filter does not parse or does not check against a selected collection.
    WebhookFilterInvalid,
    // TOTP second factor (issue 19 part 2).
    /// The TOTP code or recovery code is wrong, or was already used (a code is accepted once).
    SecondFactorInvalid,
    /// The sign-in challenge is unknown, expired, already used, or out of attempts: sign in
    /// with the password again.
    ChallengeInvalid,
    /// Too many wrong second factors for this account: they are refused until `Retry-After`.
    SecondFactorLocked,
    /// The account has no TOTP factor on (disabling it, or new recovery codes, need one).
    TotpNotEnabled,
    /// No TOTP enrolment awaits confirmation (none was started, or it expired).
    TotpNotPending,
    /// No OAuth provider of this name is configured (`[oauth.providers]`).
    OAuthProviderUnknown,
    /// The redirect URI is not, character for character, one of `oauth.redirect_uris`.
    OAuthRedirectUriNotAllowed,
    /// The authorization request has no PKCE challenge, or one whose method is not `S256`.
    OAuthPkceRequired,
    /// The provider's callback carries a `state` that names no live flow (unknown, expired or already used).
    OAuthStateInvalid,
    /// The provider's `id_token` failed verification (signature, algorithm, issuer, audience, expiry or nonce).
    OAuthIdTokenInvalid,
    /// The OAuth provider refused the exchange, could not be reached, or answered something unreadable.
    OAuthProviderFailed,
    /// An account with the provider's email exists, but the email is not verified on both sides: sign in and link the identity explicitly.
    OAuthAccountExists,
    /// The provider reported no email address, which a new account needs.
    OAuthEmailUnavailable,
    /// Fathom's authorization code is unknown, expired, already used, or presented with another verifier or redirect URI.
    OAuthCodeInvalid,
    /// The provider identity is already linked to another account.
    OAuthIdentityTaken,
    /// The signed-in account has no linked identity with this id.
    OAuthIdentityNotFound,
    // Passkeys (issue 19, part 3).
    /// Passkeys are not enabled on this server (`[auth.passkeys]` is not configured).
    PasskeysDisabled,
    /// The passkey ceremony id is unknown, already used or expired: start the ceremony again.
    PasskeyCeremonyInvalid,
    /// The passkey response was made for an origin or relying party this server does not allow.
    PasskeyOriginMismatch,
    /// The passkey assertion or attestation does not verify (signature, challenge, flags or encoding).
    PasskeyInvalid,
    /// The credential that answered is not a passkey registered on this server (or it was removed).
    PasskeyUnknown,
    /// The authenticator's signature counter did not advance: it may have been cloned; refused.
    PasskeyCounterRegressed,
    /// This credential is already registered as a passkey.
    PasskeyAlreadyRegistered,
    /// The signed-in account has no passkey with this id.
    PasskeyNotFound,
    /// The account already has the most passkeys one account may register.
    PasskeyLimitReached,
    /// Removing this would leave the account no way to sign in (no usable password, no other passkey).
    LastSignInMethod,
    /// An unexpected server error. Carries no detail; the cause is logged with the request id.
    Internal,
}

impl ErrorCode {
    /// Every code, in table order. Used by docs and tests that pin the table.
    pub const ALL: &'static [ErrorCode] = &[
        Self::ValidationFailed,
        Self::MalformedJson,
        Self::JsonTooDeep,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::UriTooLong,
        Self::HeadersTooLarge,
        Self::InvalidQuery,
        Self::CollectionNotFound,
        Self::RecordNotFound,
        Self::InvalidId,
        Self::RouteNotFound,
        Self::MethodNotAllowed,
        Self::Unauthorized,
        Self::InvalidCredentials,
        Self::Forbidden,
        Self::RuleViolation,
        Self::EmailNotVerified,
        Self::TooManyRequests,
        Self::UniqueViolation,
        Self::RelationViolation,
        Self::RequestTimeout,
        Self::WriteOutcomeUnknown,
        Self::EventsExpired,
        Self::ServiceUnavailable,
        Self::NotReady,
        Self::InvalidMessage,
        Self::MessageTooLarge,
        Self::UnsupportedFrame,
        Self::TooManySubscriptions,
        Self::SubscriptionExists,
        Self::SubscriptionNotFound,
        Self::SubscriptionOverflow,
        Self::ResumeFromFuture,
        Self::ResyncRequired,
        Self::Lagged,
        Self::TicketInvalid,
        Self::AuthorityChanged,
        Self::OriginNotAllowed,
        Self::ShuttingDown,
        Self::UpgradeRequired,
        Self::PreconditionFailed,
        Self::PreconditionRequired,
        Self::InvalidPrecondition,
        Self::InvalidIdempotencyKey,
        Self::IdempotencyKeyReused,
        Self::IdempotencyKeyInFlight,
        Self::DataUnreadable,
        Self::EncryptionUnavailable,
        Self::WebhookNotFound,
        Self::WebhookUrlInvalid,
        Self::WebhookDestinationBlocked,
        Self::WebhookUrlUnresolvable,
        Self::WebhookFilterInvalid,
        Self::SecondFactorInvalid,
        Self::ChallengeInvalid,
        Self::SecondFactorLocked,
        Self::TotpNotEnabled,
        Self::TotpNotPending,
        Self::OAuthProviderUnknown,
        Self::OAuthRedirectUriNotAllowed,
        Self::OAuthPkceRequired,
        Self::OAuthStateInvalid,
        Self::OAuthIdTokenInvalid,
        Self::OAuthProviderFailed,
        Self::OAuthAccountExists,
        Self::OAuthEmailUnavailable,
        Self::OAuthCodeInvalid,
        Self::OAuthIdentityTaken,
        Self::OAuthIdentityNotFound,
        Self::PasskeysDisabled,
        Self::PasskeyCeremonyInvalid,
        Self::PasskeyOriginMismatch,
        Self::PasskeyInvalid,
        Self::PasskeyUnknown,
        Self::PasskeyCounterRegressed,
        Self::PasskeyAlreadyRegistered,
        Self::PasskeyNotFound,
        Self::PasskeyLimitReached,
        Self::LastSignInMethod,
        Self::Internal,
    ];

    /// The wire form of the code.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ValidationFailed => "validation_failed",
            Self::MalformedJson => "malformed_json",
            Self::JsonTooDeep => "json_too_deep",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::UriTooLong => "uri_too_long",
            Self::HeadersTooLarge => "request_headers_too_large",
            Self::InvalidQuery => "invalid_query",
            Self::CollectionNotFound => "collection_not_found",
            Self::RecordNotFound => "record_not_found",
            Self::InvalidId => "invalid_id",
            Self::RouteNotFound => "route_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Unauthorized => "unauthorized",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Forbidden => "forbidden",
            Self::RuleViolation => "rule_violation",
            Self::EmailNotVerified => "email_not_verified",
            Self::TooManyRequests => "too_many_requests",
            Self::UniqueViolation => "unique_violation",
            Self::RelationViolation => "relation_violation",
            Self::RequestTimeout => "request_timeout",
            Self::WriteOutcomeUnknown => "write_outcome_unknown",
            Self::EventsExpired => "events_expired",
            Self::ServiceUnavailable => "service_unavailable",
            Self::NotReady => "not_ready",
            Self::InvalidMessage => "invalid_message",
            Self::MessageTooLarge => "message_too_large",
            Self::UnsupportedFrame => "unsupported_frame",
            Self::TooManySubscriptions => "too_many_subscriptions",
            Self::SubscriptionExists => "subscription_exists",
            Self::SubscriptionNotFound => "subscription_not_found",
            Self::SubscriptionOverflow => "subscription_overflow",
            Self::ResumeFromFuture => "resume_from_future",
            Self::ResyncRequired => "resync_required",
            Self::Lagged => "lagged",
            Self::TicketInvalid => "ticket_invalid",
            Self::AuthorityChanged => "authority_changed",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::ShuttingDown => "shutting_down",
            Self::UpgradeRequired => "upgrade_required",
            Self::PreconditionFailed => "precondition_failed",
            Self::PreconditionRequired => "precondition_required",
            Self::InvalidPrecondition => "invalid_precondition",
            Self::InvalidIdempotencyKey => "invalid_idempotency_key",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::IdempotencyKeyInFlight => "idempotency_key_in_flight",
            Self::DataUnreadable => "data_unreadable",
            Self::EncryptionUnavailable => "encryption_unavailable",
            Self::WebhookNotFound => "webhook_not_found",
            Self::WebhookUrlInvalid => "webhook_url_invalid",
            Self::WebhookDestinationBlocked => "webhook_destination_blocked",
            Self::WebhookUrlUnresolvable => "webhook_url_unresolvable",
            Self::WebhookFilterInvalid => "webhook_filter_invalid",
            Self::SecondFactorInvalid => "second_factor_invalid",
            Self::ChallengeInvalid => "challenge_invalid",
            Self::SecondFactorLocked => "second_factor_locked",
            Self::TotpNotEnabled => "totp_not_enabled",
            Self::TotpNotPending => "totp_not_pending",
            Self::OAuthProviderUnknown => "oauth_provider_unknown",
            Self::OAuthRedirectUriNotAllowed => "oauth_redirect_uri_not_allowed",
            Self::OAuthPkceRequired => "oauth_pkce_required",
            Self::OAuthStateInvalid => "oauth_state_invalid",
            Self::OAuthIdTokenInvalid => "oauth_id_token_invalid",
            Self::OAuthProviderFailed => "oauth_provider_failed",
            Self::OAuthAccountExists => "oauth_account_exists",
            Self::OAuthEmailUnavailable => "oauth_email_unavailable",
            Self::OAuthCodeInvalid => "oauth_code_invalid",
            Self::OAuthIdentityTaken => "oauth_identity_taken",
            Self::OAuthIdentityNotFound => "oauth_identity_not_found",
            Self::PasskeysDisabled => "passkeys_disabled",
            Self::PasskeyCeremonyInvalid => "passkey_ceremony_invalid",
            Self::PasskeyOriginMismatch => "passkey_origin_mismatch",
            Self::PasskeyInvalid => "passkey_invalid",
            Self::PasskeyUnknown => "passkey_unknown",
            Self::PasskeyCounterRegressed => "passkey_counter_regressed",
            Self::PasskeyAlreadyRegistered => "passkey_already_registered",
            Self::PasskeyNotFound => "passkey_not_found",
            Self::PasskeyLimitReached => "passkey_limit_reached",
            Self::LastSignInMethod => "last_sign_in_method",
            Self::Internal => "internal_error",
        }
    }

    /// The HTTP status that carries this code.
    pub const fn http_status(self) -> u16 {
        match self {
            Self::ValidationFailed
            | Self::MalformedJson
            | Self::JsonTooDeep
            | Self::InvalidQuery
            | Self::InvalidId => 400,
            Self::CollectionNotFound | Self::RecordNotFound | Self::RouteNotFound => 404,
            Self::Unauthorized | Self::InvalidCredentials => 401,
            Self::Forbidden | Self::RuleViolation | Self::EmailNotVerified => 403,
            Self::MethodNotAllowed => 405,
            Self::TooManyRequests => 429,
            Self::UniqueViolation => 409,
            Self::RelationViolation => 409,
            Self::PayloadTooLarge => 413,
            Self::UriTooLong => 414,
            Self::HeadersTooLarge => 431,
            Self::UnsupportedMediaType => 415,
            Self::InvalidMessage => 400,
            Self::MessageTooLarge => 413,
            Self::UnsupportedFrame => 400,
            Self::TooManySubscriptions => 400,
            Self::SubscriptionExists => 409,
            Self::SubscriptionNotFound => 404,
            Self::SubscriptionOverflow => 413,
            Self::ResumeFromFuture => 400,
            Self::ResyncRequired => 410,
            Self::Lagged => 429,
            Self::TicketInvalid => 401,
            Self::AuthorityChanged => 401,
            Self::OriginNotAllowed => 403,
            Self::ShuttingDown => 503,
            Self::UpgradeRequired => 426,
            Self::PreconditionFailed => 412,
            Self::PreconditionRequired => 428,
            Self::InvalidPrecondition => 400,
            Self::InvalidIdempotencyKey => 400,
            Self::IdempotencyKeyReused => 422,
            Self::IdempotencyKeyInFlight => 409,
            Self::DataUnreadable => 500,
            Self::EncryptionUnavailable => 503,
            Self::WebhookNotFound => 404,
            Self::OAuthProviderUnknown => 404,
            Self::OAuthRedirectUriNotAllowed => 400,
            Self::OAuthPkceRequired => 400,
            Self::OAuthStateInvalid => 400,
            Self::OAuthIdTokenInvalid => 401,
            Self::OAuthProviderFailed => 502,
            Self::OAuthAccountExists => 409,
            Self::OAuthEmailUnavailable => 400,
            Self::OAuthCodeInvalid => 400,
            Self::OAuthIdentityTaken => 409,
            Self::OAuthIdentityNotFound => 404,
            Self::LastSignInMethod => 409,
            Self::WebhookUrlInvalid
            | Self::WebhookDestinationBlocked
            | Self::WebhookUrlUnresolvable
            | Self::WebhookFilterInvalid => 400,
            Self::SecondFactorInvalid | Self::ChallengeInvalid => 401,
            Self::SecondFactorLocked => 429,
            Self::TotpNotEnabled | Self::TotpNotPending => 409,
            Self::PasskeysDisabled => 404,
            Self::PasskeyCeremonyInvalid => 404,
            Self::PasskeyOriginMismatch => 400,
            Self::PasskeyInvalid => 401,
            Self::PasskeyUnknown => 401,
            Self::PasskeyCounterRegressed => 401,
            Self::PasskeyAlreadyRegistered => 409,
            Self::PasskeyNotFound => 404,
            Self::PasskeyLimitReached => 409,
            Self::Internal => 500,
            Self::WriteOutcomeUnknown => 504,
            Self::EventsExpired => 410,
            Self::RequestTimeout | Self::ServiceUnavailable | Self::NotReady => 503,
        }
    }

    /// A short, human-readable summary of the problem type (the problem+json `title`).
    pub const fn title(self) -> &'static str {
        match self {
            Self::ValidationFailed => "Validation failed",
            Self::MalformedJson => "Malformed JSON body",
            Self::JsonTooDeep => "JSON nested too deeply",
            Self::PayloadTooLarge => "Payload too large",
            Self::UriTooLong => "URI too long",
            Self::HeadersTooLarge => "Request header fields too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::InvalidQuery => "Invalid query parameter",
            Self::CollectionNotFound => "Collection not found",
            Self::RecordNotFound => "Record not found",
            Self::InvalidId => "Invalid record id",
            Self::RouteNotFound => "Route not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::Unauthorized => "Authentication required",
            Self::InvalidCredentials => "Invalid credentials",
            Self::Forbidden => "Forbidden",
            Self::RuleViolation => "Access rule violated by the change",
            Self::EmailNotVerified => "Email address not verified",
            Self::TooManyRequests => "Too many requests",
            Self::UniqueViolation => "Unique constraint violated",
            Self::RelationViolation => "Relation constraint violated",
            Self::RequestTimeout => "Request timed out",
            Self::WriteOutcomeUnknown => "Write outcome unknown",
            Self::EventsExpired => "Events expired",
            Self::ServiceUnavailable => "Service unavailable",
            Self::NotReady => "Not ready",
            Self::InvalidMessage => "Invalid realtime message",
            Self::MessageTooLarge => "Realtime message too large",
            Self::UnsupportedFrame => "Unsupported frame",
            Self::TooManySubscriptions => "Too many subscriptions",
            Self::SubscriptionExists => "Subscription id in use",
            Self::SubscriptionNotFound => "Subscription not found",
            Self::SubscriptionOverflow => "Subscription tracks too many records",
            Self::ResumeFromFuture => "Resume point from the future",
            Self::ResyncRequired => "Resync required",
            Self::Lagged => "Subscriber lagged",
            Self::TicketInvalid => "Invalid realtime ticket",
            Self::AuthorityChanged => "Authority changed",
            Self::OriginNotAllowed => "Origin not allowed",
            Self::ShuttingDown => "Server shutting down",
            Self::UpgradeRequired => "WebSocket upgrade required",
            Self::PreconditionFailed => "Precondition failed",
            Self::PreconditionRequired => "Precondition required",
            Self::InvalidPrecondition => "Invalid precondition header",
            Self::InvalidIdempotencyKey => "Invalid idempotency key",
            Self::IdempotencyKeyReused => "Idempotency key reused for another request",
            Self::IdempotencyKeyInFlight => "Request with this idempotency key in progress",
            Self::DataUnreadable => "Stored data unreadable",
            Self::EncryptionUnavailable => "Encryption unavailable",
            Self::WebhookNotFound => "Webhook endpoint not found",
            Self::WebhookUrlInvalid => "Invalid webhook URL",
            Self::WebhookDestinationBlocked => "Webhook destination blocked",
            Self::WebhookUrlUnresolvable => "Webhook host does not resolve",
            Self::WebhookFilterInvalid => "Invalid webhook filter",
            Self::SecondFactorInvalid => "Second factor not accepted",
            Self::ChallengeInvalid => "Sign-in challenge not valid",
            Self::SecondFactorLocked => "Second factor locked",
            Self::TotpNotEnabled => "TOTP not enabled",
            Self::TotpNotPending => "No TOTP enrolment pending",
            Self::OAuthProviderUnknown => "OAuth provider not configured",
            Self::OAuthRedirectUriNotAllowed => "Redirect URI not allowed",
            Self::OAuthPkceRequired => "PKCE challenge required",
            Self::OAuthStateInvalid => "Sign-in flow unknown or expired",
            Self::OAuthIdTokenInvalid => "Identity token invalid",
            Self::OAuthProviderFailed => "OAuth provider failed",
            Self::OAuthAccountExists => "Account exists",
            Self::OAuthEmailUnavailable => "Provider gave no email",
            Self::OAuthCodeInvalid => "Authorization code invalid",
            Self::OAuthIdentityTaken => "Identity linked to another account",
            Self::OAuthIdentityNotFound => "Identity not found",
            Self::PasskeysDisabled => "Passkeys not enabled",
            Self::PasskeyCeremonyInvalid => "Passkey ceremony unknown, used or expired",
            Self::PasskeyOriginMismatch => "Passkey origin not allowed",
            Self::PasskeyInvalid => "Passkey response invalid",
            Self::PasskeyUnknown => "Passkey not registered",
            Self::PasskeyCounterRegressed => "Passkey signature counter went back",
            Self::PasskeyAlreadyRegistered => "Passkey already registered",
            Self::PasskeyNotFound => "Passkey not found",
            Self::PasskeyLimitReached => "Too many passkeys",
            Self::LastSignInMethod => "Last way to sign in",
            Self::Internal => "Internal server error",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn codes_are_unique_and_statuses_are_errors() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
            assert!((400..600).contains(&code.http_status()));
        }
    }
}

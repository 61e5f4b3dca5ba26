//! Standard Webhooks signing (`standard-webhooks/standard-webhooks:spec/standard-webhooks.md`):
//! the signed content is `{webhook-id}.{webhook-timestamp}.{body}`, exactly the bytes sent; the
//! `webhook-signature` header lists `v1,<base64 HMAC-SHA256>` once per live secret, separated by
//! spaces, so a receiver that knows any one of them verifies the message during a rotation.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The `v1` signature of one message under one secret key (the decoded bytes of `whsec_...`).
pub fn sign_v1(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header value: one `v1,...` per key, space-separated.
pub fn signature_header<'k>(
    keys: impl IntoIterator<Item = &'k [u8]>,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    keys.into_iter()
        .map(|key| sign_v1(key, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SigningSecret;

    /// The test vector of the Standard Webhooks reference libraries (`webhook.test.ts`,
    /// `test_webhooks.py`): this secret, id, timestamp and payload sign to this value.
    #[test]
    fn the_specifications_test_vector_signs_as_published() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid");
        let body = br#"{"test": 2432232314}"#;
        let signature = sign_v1(
            secret.key(),
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            body,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn several_keys_give_space_separated_signatures_in_order() {
        let header = signature_header([b"one".as_slice(), b"two".as_slice()], "msg_1", 1, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], sign_v1(b"one", "msg_1", 1, b"{}"));
        assert_eq!(parts[1], sign_v1(b"two", "msg_1", 1, b"{}"));
        assert_ne!(parts[0], parts[1]);
    }
}

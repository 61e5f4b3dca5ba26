//! The TOTP second factor over HTTP (issue 19 part 2): enrolment and its confirmation, sign-in
//! through a challenge, replay, brute force per challenge and per account, recovery codes,
//! expired challenges, disabling with a fresh factor, and secrets sealed at rest. Codes are
//! computed in the tests with totp-rs from the secret in the `otpauth://` URI.

mod audit;
mod enrolment;
mod signin;
mod storage;
pub(super) mod support;

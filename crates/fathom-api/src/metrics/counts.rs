//! Counts kept by the parts that produce them (always on: one relaxed atomic add each), read
//! by `/metrics` at scrape time.

use std::sync::atomic::{AtomicU64, Ordering};

/// How a password sign-in ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignIn {
    Success,
    /// Unknown account, wrong password or disabled account (the client is told the same).
    Failure,
    /// Refused unchecked: this address is locked out of this account.
    LockedOut,
    /// The password was right but the email is not verified.
    Unverified,
}

/// Sign-in outcomes and the guessing defence's actions on one node.
#[derive(Debug, Default)]
pub(crate) struct SignInCounts {
    success: AtomicU64,
    failure: AtomicU64,
    locked_out: AtomicU64,
    unverified: AtomicU64,
    /// Guesses delayed because the account is under attack from new addresses.
    throttled: AtomicU64,
    /// Lockouts begun (an address reached the threshold for an account).
    lockouts: AtomicU64,
}

impl SignInCounts {
    pub fn record(&self, outcome: SignIn) {
        let counter = match outcome {
            SignIn::Success => &self.success,
            SignIn::Failure => &self.failure,
            SignIn::LockedOut => &self.locked_out,
            SignIn::Unverified => &self.unverified,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    pub fn locked(&self) {
        self.lockouts.fetch_add(1, Ordering::Relaxed);
    }

    /// `(outcome, count)` for every outcome.
    pub fn snapshot(&self) -> [(&'static str, u64); 4] {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("success", read(&self.success)),
            ("failure", read(&self.failure)),
            ("locked_out", read(&self.locked_out)),
            ("unverified", read(&self.unverified)),
        ]
    }

    /// `(kind, count)` of the guessing defence's actions.
    pub fn throttle_snapshot(&self) -> [(&'static str, u64); 2] {
        [
            ("throttled", self.throttled.load(Ordering::Relaxed)),
            ("lockout", self.lockouts.load(Ordering::Relaxed)),
        ]
    }
}

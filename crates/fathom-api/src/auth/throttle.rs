//! The guessing defence for passwords (sign-in and password change), kept per node in memory.
//!
//! Failures are counted per account *and* client address: after `lockout_threshold` of them an
//! address is refused for that account (for `lockout_minutes`), and no other address is
//! affected, so an attacker can lock out only themselves. Across addresses, an account that has
//! collected that many failures from addresses that never signed in to it slows such addresses
//! down (a growing delay, never a refusal), so a guesser spread over many addresses gains little
//! while the owner, from an address that has signed in before, is not slowed at all and, from a
//! new one, only waits. Everything is keyed by the email as typed, so known and unknown accounts
//! behave exactly alike and the defence reveals nothing about which accounts exist. Memory is
//! bounded: each table drops its stalest entries past [`CAPACITY`]. With `redis.url` set the same
//! counts live in Redis for the whole cluster ([`Throttle`], `throttle/shared.rs`), and this
//! table is the fallback while Redis is down.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod shared;

pub use shared::Throttle;

/// The first delay for a new address on an account under attack, doubled with every further
/// failure.
const BASE_DELAY: Duration = Duration::from_millis(250);
/// The longest delay.
const MAX_DELAY: Duration = Duration::from_secs(4);
/// How long an address that signed in to an account is remembered as the owner's.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// The most entries each table holds.
const CAPACITY: usize = 10_000;

/// What to do with a password guess before checking it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Check it now; `known` says the address has signed in to this account before.
    Open { known: bool },
    /// Wait this long, then check it (a new address while the account is under attack).
    Delay(Duration),
    /// Refuse it without checking: this address has failed too often for this account.
    Refused,
}

/// A failure count and when the latest failure happened.
#[derive(Clone, Copy)]
struct Count {
    failures: u32,
    last: Instant,
}

/// The defence's state.
pub struct LoginThrottle {
    threshold: u32,
    window: Duration,
    tables: Mutex<Tables>,
}

#[derive(Default)]
struct Tables {
    /// Failures per (email, address).
    pairs: HashMap<(String, IpAddr), Count>,
    /// Failures per email from addresses that never signed in to it.
    accounts: HashMap<String, Count>,
    /// Addresses that signed in to an email, and when they last did.
    known: HashMap<(String, IpAddr), Instant>,
}

/// The key of an address; requests without one (never over TCP) share the unspecified address.
fn address(ip: Option<IpAddr>) -> IpAddr {
    ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

impl LoginThrottle {
    /// `threshold` failures within `window` refuse an address for an account.
    pub fn new(threshold: u32, window: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            window,
            tables: Mutex::new(Tables::default()),
        }
    }

    /// How to treat a guess for `email` from `ip`.
    pub fn gate(&self, email: &str, ip: Option<IpAddr>) -> Gate {
        let Ok(tables) = self.tables.lock() else {
            return Gate::Open { known: false };
        };
        let now = Instant::now();
        let pair = (email.to_owned(), address(ip));
        let failures = |count: Option<Count>| count.map_or(0, |c| c.failures);
        let known = tables
            .known
            .get(&pair)
            .is_some_and(|last| now.duration_since(*last) < KNOWN_FOR);
        judge(
            self.threshold,
            failures(live(&tables.pairs, &pair, now, self.window)),
            known,
            failures(live(&tables.accounts, email, now, self.window)),
        )
    }

    /// Records a wrong password for `email` from `ip`; `true` when it makes this address refused
    /// for the account (once per lock, for the audit log).
    pub fn failed(&self, email: &str, ip: Option<IpAddr>, known: bool) -> bool {
        let Ok(mut tables) = self.tables.lock() else {
            return false;
        };
        let now = Instant::now();
        let pair = bump(
            &mut tables.pairs,
            (email.to_owned(), address(ip)),
            now,
            self.window,
        );
        if !known {
            bump(&mut tables.accounts, email.to_owned(), now, self.window);
        }
        pair == self.threshold
    }

    /// Records a sign-in to `email` from `ip`: the address is the owner's from now on, and its
    /// own failures are forgotten.
    pub fn succeeded(&self, email: &str, ip: Option<IpAddr>) {
        if let Ok(mut tables) = self.tables.lock() {
            let pair = (email.to_owned(), address(ip));
            tables.pairs.remove(&pair);
            let now = Instant::now();
            make_room(&mut tables.known, now, KNOWN_FOR, |last| *last);
            tables.known.insert(pair, now);
        }
    }
}

impl LoginThrottle {
    /// Forgets every failure counted for `email` (after a password reset: the old password is
    /// gone, and so is any reason to hold its guessers' attempts against the owner).
    pub fn forget_account(&self, email: &str) {
        if let Ok(mut tables) = self.tables.lock() {
            tables.pairs.retain(|(e, _), _| e != email);
            tables.accounts.remove(email);
        }
    }
}

/// The count under `key`, unless it has gone quiet for `window`.
fn live<K, Q>(table: &HashMap<K, Count>, key: &Q, now: Instant, window: Duration) -> Option<Count>
where
    K: Eq + Hash + std::borrow::Borrow<Q>,
    Q: Eq + Hash + ?Sized,
{
    table
        .get(key)
        .filter(|count| now.duration_since(count.last) < window)
        .copied()
}

/// Adds a failure under `key` (starting afresh after a quiet `window`) and returns the count.
fn bump<K: Eq + Hash + Clone>(
    table: &mut HashMap<K, Count>,
    key: K,
    now: Instant,
    window: Duration,
) -> u32 {
    if !table.contains_key(&key) {
        make_room(table, now, window, |count| count.last);
    }
    let count = table.entry(key).or_insert(Count {
        failures: 0,
        last: now,
    });
    if now.duration_since(count.last) >= window {
        count.failures = 0;
    }
    count.failures = count.failures.saturating_add(1);
    count.last = now;
    count.failures
}

/// Keeps `table` under [`CAPACITY`]: drops entries quiet for `window`, then the stalest one.
fn make_room<K: Eq + Hash + Clone, V>(
    table: &mut HashMap<K, V>,
    now: Instant,
    window: Duration,
    last: impl Fn(&V) -> Instant,
) {
    if table.len() < CAPACITY {
        return;
    }
    table.retain(|_, v| now.duration_since(last(v)) < window);
    if table.len() >= CAPACITY
        && let Some(stalest) = table
            .iter()
            .min_by_key(|(_, v)| last(v))
            .map(|(k, _)| k.clone())
    {
        table.remove(&stalest);
    }
}

/// The gate, from the failures of this address for the account (`pair`), whether the address
/// has signed in to it (`known`), and the account's failures from unknown addresses, all within
/// the window (the same rule whether they were counted on the node or in Redis).
fn judge(threshold: u32, pair: u32, known: bool, account: u32) -> Gate {
    if pair >= threshold {
        Gate::Refused
    } else if known {
        Gate::Open { known: true }
    } else if account >= threshold {
        Gate::Delay(delay_after(account - threshold))
    } else {
        Gate::Open { known: false }
    }
}

/// The delay for a new address after `beyond` failures past the threshold.
fn delay_after(beyond: u32) -> Duration {
    BASE_DELAY
        .saturating_mul(1u32 << beyond.min(8))
        .min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(900);

    fn ip(n: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, n)))
    }

    #[test]
    fn delays_double_and_cap() {
        let delays: Vec<u128> = (0..7).map(|n| delay_after(n).as_millis()).collect();
        assert_eq!(delays, vec![250, 500, 1000, 2000, 4000, 4000, 4000]);
    }

    #[test]
    fn an_address_is_refused_only_for_itself() {
        let throttle = LoginThrottle::new(3, WINDOW);
        for n in 1..=3 {
            assert_eq!(
                throttle.gate("a@example.com", ip(1)),
                Gate::Open { known: false }
            );
            assert_eq!(throttle.failed("a@example.com", ip(1), false), n == 3);
        }
        assert_eq!(throttle.gate("a@example.com", ip(1)), Gate::Refused);
        assert_eq!(
            throttle.gate("b@example.com", ip(1)),
            Gate::Open { known: false },
            "other accounts are unaffected"
        );
        assert_eq!(
            throttle.gate("a@example.com", ip(2)),
            Gate::Delay(BASE_DELAY),
            "a new address for an account under attack waits, but is not refused"
        );
    }

    #[test]
    fn the_owners_address_is_never_slowed_by_others_failures() {
        let throttle = LoginThrottle::new(3, WINDOW);
        throttle.succeeded("a@example.com", ip(1));
        for n in 2..=50 {
            throttle.failed("a@example.com", ip(n), false);
        }
        assert_eq!(
            throttle.gate("a@example.com", ip(1)),
            Gate::Open { known: true }
        );
        assert_eq!(
            throttle.gate("a@example.com", ip(51)),
            Gate::Delay(MAX_DELAY)
        );
    }

    #[test]
    fn memory_stays_bounded() {
        let throttle = LoginThrottle::new(3, WINDOW);
        for n in 0..CAPACITY + 50 {
            throttle.failed(&format!("user{n}@example.com"), ip(1), false);
        }
        let tables = throttle.tables.lock().unwrap();
        assert!(tables.pairs.len() <= CAPACITY && tables.accounts.len() <= CAPACITY);
    }
}

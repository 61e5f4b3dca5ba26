//! Delivery cursors: a named, persisted position in the outbox with a lease, for any consumer
//! that delivers events somewhere else (`webhook:<id>`, `nats:<name>`, ...).
//!
//! A consumer takes the lease with [`Store::cursor_acquire`] (free, expired, or already its
//! own), delivers the events after the lease's `position`, and records progress with
//! [`Store::cursor_advance`], which also renews the lease. Every takeover by another holder and
//! every [`Store::cursor_set`] (replay, rewind) bumps the cursor's `generation`, a fencing
//! token: an advance under an older generation is refused, so a holder that lost its lease (or
//! whose cursor was moved under it) can never overwrite the new position. On PostgreSQL the
//! lease is one conditional upsert, judged by the database's clock, so exactly one node holds a
//! cursor at a time whatever the nodes' clocks say.

use std::time::Duration;

use crate::error::StoreError;
use crate::{Backend, Store};

/// A held lease on a cursor: what a holder needs to advance it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    /// The fencing token this lease was granted under.
    pub generation: i64,
    /// The last sequence delivered (events after it are still to deliver).
    pub position: i64,
    /// When the lease ends unless renewed, in milliseconds since the Unix epoch (the database's
    /// clock on PostgreSQL).
    pub until_ms: i64,
    /// How long each renewal lasts.
    pub ttl: Duration,
}

/// A cursor as stored, for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorState {
    pub name: String,
    pub position: i64,
    pub generation: i64,
    /// Who holds (or last held) the lease; `None` once released.
    pub holder: Option<String>,
    /// When the holder's lease ends, in milliseconds since the Unix epoch.
    pub lease_until_ms: Option<i64>,
}

/// A lease's duration in whole milliseconds, at least one.
pub(crate) fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// The local clock in milliseconds since the Unix epoch (SQLite is one node: its clock is ours).
pub(crate) fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

impl Store {
    /// Creates the cursor `name` at `position` if it does not exist yet; returns its position
    /// (the existing one when it did). A consumer that should start "from now" passes the
    /// latest sequence.
    pub async fn cursor_init(&self, name: &str, position: i64) -> Result<i64, StoreError> {
        let name = name.to_owned();
        match &*self.backend {
            Backend::Sqlite(s) => {
                s.pool
                    .write(move |c| crate::sqlite::cursors::init(c, &name, position))
                    .await
            }
            Backend::Postgres(p) => crate::postgres::cursors::init(p, &name, position).await,
        }
    }

    /// Takes or renews the lease on `name` for `holder` when it is free, expired or already
    /// `holder`'s; `None` while another holder's lease runs. A missing cursor is created at 0.
    pub async fn cursor_acquire(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        match &*self.backend {
            Backend::Sqlite(s) => {
                s.pool
                    .write(move |c| crate::sqlite::cursors::acquire(c, &name, &holder, ttl))
                    .await
            }
            Backend::Postgres(p) => crate::postgres::cursors::acquire(p, &name, &holder, ttl).await,
        }
    }

    /// Moves the cursor to `position` and renews the lease, only if `lease` is still the
    /// current one (same holder and generation). Returns `false`, changing nothing, when the
    /// lease was lost or the cursor was set since; the holder should acquire again.
    /// On success `lease` carries the new position and expiry.
    #[must_use = "a refused advance means the lease is lost"]
    pub async fn cursor_advance(
        &self,
        lease: &mut Lease,
        position: i64,
    ) -> Result<bool, StoreError> {
        let current = lease.clone();
        let until = match &*self.backend {
            Backend::Sqlite(s) => {
                s.pool
                    .write(move |c| crate::sqlite::cursors::advance(c, &current, position))
                    .await?
            }
            Backend::Postgres(p) => {
                crate::postgres::cursors::advance(p, &current, position).await?
            }
        };
        Ok(match until {
            Some(until_ms) => {
                lease.position = position;
                lease.until_ms = until_ms;
                true
            }
            None => false,
        })
    }

    /// Gives the lease up (if still held under `lease`), so another holder may take it at once.
    pub async fn cursor_release(&self, lease: &Lease) -> Result<(), StoreError> {
        let lease = lease.clone();
        match &*self.backend {
            Backend::Sqlite(s) => {
                s.pool
                    .write(move |c| crate::sqlite::cursors::release(c, &lease))
                    .await
            }
            Backend::Postgres(p) => crate::postgres::cursors::release(p, &lease).await,
        }
    }

    /// Sets the cursor's position (replay, rewind, skip), creating it if missing, and bumps its
    /// generation so the current holder's next advance is refused and it re-reads the position.
    pub async fn cursor_set(&self, name: &str, position: i64) -> Result<(), StoreError> {
        let name = name.to_owned();
        match &*self.backend {
            Backend::Sqlite(s) => {
                s.pool
                    .write(move |c| crate::sqlite::cursors::set(c, &name, position))
                    .await
            }
            Backend::Postgres(p) => crate::postgres::cursors::set(p, &name, position).await,
        }
    }

    /// Removes the cursor (its consumer is gone). Returns whether it existed.
    pub async fn cursor_remove(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        match &*self.backend {
            Backend::Sqlite(s) => {
                s.pool
                    .write(move |c| crate::sqlite::cursors::remove(c, &name))
                    .await
            }
            Backend::Postgres(p) => crate::postgres::cursors::remove(p, &name).await,
        }
    }

    /// Every cursor, by name.
    pub async fn cursor_list(&self) -> Result<Vec<CursorState>, StoreError> {
        match &*self.backend {
            Backend::Sqlite(s) => s.pool.read(crate::sqlite::cursors::list).await,
            Backend::Postgres(p) => crate::postgres::cursors::list(p).await,
        }
    }

    /// One cursor by name.
    pub async fn cursor_get(&self, name: &str) -> Result<Option<CursorState>, StoreError> {
        Ok(self
            .cursor_list()
            .await?
            .into_iter()
            .find(|c| c.name == name))
    }
}

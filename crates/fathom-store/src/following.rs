//! Following the outbox under a held cursor lease ([`Following`]): the loop every consumer that
//! delivers events one node at a time shares (broker sinks, after-commit hooks). It reads the
//! events after the lease's position a page at a time, waits for a commit (or a poll) when
//! there is nothing new, renews the lease while it waits or retries, and says when the lease
//! was lost or the server is stopping. What a consumer does with each event is its own.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::error::StoreError;
use crate::{EventPage, Lease, Store};

/// With nothing new, the outbox is read again after this long even without a wake-up.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Why a consumer stopped following.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// Another holder took the lease, or the cursor was set under us: stand by, then acquire
    /// again.
    Lost,
    /// The server is stopping.
    Stopping,
}

/// Sleeps `pause`; true if `stop` turned true meanwhile.
pub async fn wait_or_stop(stop: &mut watch::Receiver<bool>, pause: Duration) -> bool {
    let _ = tokio::time::timeout(pause, stop.wait_for(|stopping| *stopping)).await;
    *stop.borrow()
}

/// A held lease as its consumer follows the outbox with it.
pub struct Following {
    store: Store,
    pub lease: Lease,
    /// When the lease was last renewed (an advance renews it too).
    renewed: Instant,
    wake: watch::Receiver<i64>,
    /// Who follows, for the log (`webhook:…`, `hook:…`, `nats:…`).
    who: String,
}

impl Following {
    /// Starts following with `lease`, just acquired.
    pub fn new(store: &Store, lease: Lease) -> Self {
        Self {
            store: store.clone(),
            who: lease.name.clone(),
            wake: store.event_watch(),
            renewed: Instant::now(),
            lease,
        }
    }

    /// The next page of at most `limit` events after the lease's position, waiting for one
    /// while there is none. A failed read is retried after a pause; the lease is renewed
    /// meanwhile.
    pub async fn next_page(
        &mut self,
        limit: usize,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<EventPage, Held> {
        loop {
            if *stop.borrow() {
                self.release().await;
                return Err(Held::Stopping);
            }
            let page = match self
                .store
                .events_after(self.lease.position, limit, None)
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(cursor = %self.who, error = %e.detail, "cannot read the outbox");
                    if !wait_or_stop(stop, IDLE_POLL).await {
                        self.renew_or_lost().await?;
                    }
                    continue;
                }
            };
            if page.oldest > self.lease.position + 1 {
                tracing::error!(
                    cursor = %self.who,
                    position = self.lease.position,
                    oldest = page.oldest,
                    "events were pruned from the outbox before this consumer handled them (raise events.retention_hours / retention_count); continuing from the oldest kept event"
                );
            }
            if !page.events.is_empty() {
                return Ok(page);
            }
            // Nothing new: renew the lease, then wait for a commit (or the poll).
            self.renew_or_lost().await?;
            let _ = self.wake.borrow_and_update();
            let poll = IDLE_POLL.min(self.lease.ttl / 3);
            tokio::select! {
                _ = tokio::time::timeout(poll, self.wake.changed()) => {}
                _ = stop.wait_for(|stopping| *stopping) => {}
            }
        }
    }

    /// Renews the lease once a third of it has passed since the last renewal; false when it was
    /// lost. While the database is unreachable it answers true: if the lease lapses meanwhile,
    /// the next renewal says so.
    pub async fn renew(&mut self) -> bool {
        if self.renewed.elapsed() < self.lease.ttl / 3 {
            return true;
        }
        let position = self.lease.position;
        match self.store.cursor_advance(&mut self.lease, position).await {
            Ok(renewed) => {
                self.renewed = Instant::now();
                renewed
            }
            Err(_) => true,
        }
    }

    /// [`Following::renew`] as a `Result`.
    pub async fn renew_or_lost(&mut self) -> Result<(), Held> {
        if self.renew().await {
            Ok(())
        } else {
            Err(Held::Lost)
        }
    }

    /// Moves the cursor to `position` (which renews the lease): `Ok(false)` when the lease was
    /// lost.
    pub async fn advance(&mut self, position: i64) -> Result<bool, StoreError> {
        let advanced = self.store.cursor_advance(&mut self.lease, position).await?;
        if advanced {
            self.renewed = Instant::now();
        }
        Ok(advanced)
    }

    /// Gives the lease up, so another node takes over at once.
    pub async fn release(&self) {
        let _ = self.store.cursor_release(&self.lease).await;
    }
}

//! A connection's subscriptions, and the key under which connections with the same ones share
//! what they make of a batch.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fathom_events::Subscription;

/// A connection's subscriptions, counted in the node's total (`Realtime::subscriptions`) while
/// they are open. Reads go through `Deref`; changes through `push` and `retain`, which keep the
/// count and forget the joined share key.
pub(super) struct Subscriptions {
    open: Vec<Subscription>,
    total: Arc<AtomicUsize>,
    /// The subscriptions' share keys joined (see [`Subscriptions::share_key`]), made once per
    /// set of subscriptions instead of once per batch.
    joined_key: Option<Arc<str>>,
}

impl Subscriptions {
    pub(super) fn new(total: Arc<AtomicUsize>) -> Self {
        Self {
            open: Vec::new(),
            total,
            joined_key: None,
        }
    }

    pub(super) fn push(&mut self, subscription: Subscription) {
        self.open.push(subscription);
        self.total.fetch_add(1, Ordering::Relaxed);
        self.joined_key = None;
    }

    pub(super) fn retain(&mut self, keep: impl FnMut(&Subscription) -> bool) {
        let before = self.open.len();
        self.open.retain(keep);
        self.total
            .fetch_sub(before - self.open.len(), Ordering::Relaxed);
        self.joined_key = None;
    }

    /// Each subscription, to judge an event with (what they are stays as it is).
    pub(super) fn iter_mut(&mut self) -> std::slice::IterMut<'_, Subscription> {
        self.open.iter_mut()
    }

    /// The key under which connections share what they make of a batch: every subscription's
    /// [`Subscription::share_key`], in order; `None` while one has none. (A subscription's key
    /// never changes, only whether it applies, so the joined key lasts until the set changes.)
    pub(super) fn share_key(&mut self) -> Option<Arc<str>> {
        if self.open.iter().any(|s| s.share_key().is_none()) {
            return None;
        }
        let open = &self.open;
        let key = self.joined_key.get_or_insert_with(|| {
            let mut key = String::from("run");
            for part in open.iter().filter_map(Subscription::share_key) {
                let _ = write!(key, "|{}:{part}", part.len());
            }
            key.into()
        });
        Some(Arc::clone(key))
    }
}

impl std::ops::Deref for Subscriptions {
    type Target = Vec<Subscription>;

    fn deref(&self) -> &Vec<Subscription> {
        &self.open
    }
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        self.total.fetch_sub(self.open.len(), Ordering::Relaxed);
    }
}

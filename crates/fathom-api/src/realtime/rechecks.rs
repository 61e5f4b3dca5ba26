//! Presenting every live connection's credential again, from one task per node: every
//! [`recheck_interval`] the task checks each registered connection's credential, once per distinct
//! credential, and tells a connection only when its stream must end (an expired token, an ended
//! session, a disabled account or revoked key, or a changed authority). A connection costs one
//! map entry between checks: no timer and no wake-up of its task, parked or not. (One timer per
//! connection woke 10,000 idle connections 20,000 times a second: a tenth of a CPU.)
//!
//! The task runs while any connection is registered and ends with the last one; the next
//! registration starts it again.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::{StreamExt, stream};
use tokio::runtime::Handle;
use tokio::sync::watch;

use super::credential::{Credential, Standing, authority_changed, recheck_interval, standing};
use crate::AppState;
use crate::error::ApiError;

/// Distinct credentials checked at once: an API key's check reads the database, and thousands
/// of keys checked one after the other would stretch the interval.
const CONCURRENT_CHECKS: usize = 16;

/// The node's registered connections.
#[derive(Default)]
pub struct Rechecks {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: AtomicU64,
    registry: Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    entries: HashMap<u64, Arc<Entry>>,
    /// Whether the task runs (it clears this, under the lock, when it finds no entry).
    running: bool,
}

/// One connection's credential (a token or API key) and the authority it was opened under.
struct Entry {
    token: Mutex<Arc<str>>,
    standing: Standing,
    /// Set once, with the problem that ends the stream.
    ended: watch::Sender<Option<ApiError>>,
}

impl Entry {
    fn token(&self) -> MutexGuard<'_, Arc<str>> {
        self.token.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Rechecks {
    /// Registers a connection's `credential`, opened under `standing`, to be presented again
    /// on `state`'s schedule until the returned handle is dropped. Anonymous connections have
    /// nothing to present: their handle never ends them.
    pub fn register(
        &self,
        state: &AppState,
        credential: &Credential,
        standing: Standing,
        runtime: Option<&Handle>,
    ) -> Presented {
        let Credential::Token(token) = credential else {
            return Presented::never();
        };
        let (ended, receiver) = watch::channel(None);
        let entry = Arc::new(Entry {
            token: Mutex::new(Arc::from(token.as_str())),
            standing,
            ended,
        });
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut registry = self.inner.registry();
        registry.entries.insert(id, Arc::clone(&entry));
        if !registry.running {
            registry.running = true;
            let task = run(Arc::clone(&self.inner), state.clone());
            match runtime {
                Some(runtime) => drop(runtime.spawn(task)),
                None => drop(tokio::spawn(task)),
            }
        }
        Presented {
            registered: Some(Registered {
                id,
                inner: Arc::clone(&self.inner),
                entry,
            }),
            ending: Ending(Some(receiver)),
        }
    }
}

/// A connection's registration: tells it when its credential no longer holds, and leaves the
/// registry when dropped.
pub struct Presented {
    registered: Option<Registered>,
    ending: Ending,
}

/// The word that a connection's credential no longer holds (`None`: never comes).
#[derive(Clone)]
pub struct Ending(Option<watch::Receiver<Option<ApiError>>>);

impl Ending {
    /// Completes with the problem that ends the stream; never, while the credential holds.
    pub async fn ended(&mut self) -> ApiError {
        if let Some(ended) = &mut self.0
            && let Ok(problem) = ended.wait_for(Option::is_some).await
            && let Some(problem) = &*problem
        {
            return problem.clone();
        }
        // Anonymous, or the registration is gone with its connection.
        std::future::pending().await
    }
}

struct Registered {
    id: u64,
    inner: Arc<Inner>,
    entry: Arc<Entry>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.inner.registry().entries.remove(&self.id);
    }
}

impl Presented {
    /// A handle that never ends its connection (an anonymous one).
    fn never() -> Self {
        Self {
            registered: None,
            ending: Ending(None),
        }
    }

    /// Completes with the problem that ends the stream; never, while the credential holds.
    pub async fn ended(&mut self) -> ApiError {
        self.ending.ended().await
    }

    /// The same word, for a loop whose connection (with this handle) is parked.
    pub fn ending(&self) -> Ending {
        self.ending.clone()
    }

    /// Presents `credential` from now on (a fresh token for the same authority: an anonymous
    /// connection never takes one, as its authority would change).
    pub fn replace(&self, credential: &Credential) {
        if let (Some(registered), Credential::Token(token)) = (&self.registered, credential) {
            *registered.entry.token() = Arc::from(token.as_str());
        }
    }
}

/// What presenting one credential gave: the authority it names now, the problem that ends its
/// streams, or nothing to act on (the check failed on the server's side and waits for the
/// next time).
enum Verdict {
    Holds(Standing),
    Ends(ApiError),
    Unknown,
}

async fn present(state: &AppState, token: &str) -> Verdict {
    match crate::records::access::authenticate(state, Some(token)).await {
        Err(error) if error.code.http_status() >= 500 => Verdict::Unknown,
        Err(error) => Verdict::Ends(error),
        Ok(principal) => Verdict::Holds(standing(&principal)),
    }
}

/// The task: every interval, each registered connection's credential (once per distinct one),
/// until none is registered. It checks through the state of the connection that started it,
/// whatever schema the others were opened under: the checks read only what every served state
/// shares (the auth state and the store).
async fn run(inner: Arc<Inner>, state: AppState) {
    let mut ticks = tokio::time::interval(recheck_interval(&state));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let presented: Vec<(Arc<Entry>, Arc<str>)> = {
            let mut registry = inner.registry();
            if registry.entries.is_empty() {
                registry.running = false;
                return;
            }
            registry
                .entries
                .values()
                .filter(|entry| entry.ended.borrow().is_none())
                .map(|entry| (Arc::clone(entry), Arc::clone(&*entry.token())))
                .collect()
        };
        let distinct: HashSet<Arc<str>> = presented.iter().map(|(_, t)| Arc::clone(t)).collect();
        let state = &state;
        let verdicts: HashMap<Arc<str>, Verdict> = stream::iter(distinct)
            .map(|token| async move {
                let verdict = present(state, &token).await;
                (token, verdict)
            })
            .buffer_unordered(CONCURRENT_CHECKS)
            .collect()
            .await;
        for (entry, token) in &presented {
            let problem = match verdicts.get(token) {
                Some(Verdict::Holds(now)) if *now != entry.standing => Some(authority_changed()),
                Some(Verdict::Ends(problem)) => Some(problem.clone()),
                Some(Verdict::Holds(_) | Verdict::Unknown) | None => None,
            };
            if let Some(problem) = problem {
                entry.ended.send_replace(Some(problem));
            }
        }
    }
}

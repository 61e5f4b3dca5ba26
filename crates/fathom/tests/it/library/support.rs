//! Building test servers through the builder, and hooks that record what they are handed.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use fathom::{AfterCommit, CommittedEvent, Config, FathomBuilder, HookContext, HookFailure};

use crate::helpers::{TestApp, scratch_database, start_built, test_config_on};

/// Serves `schema` through `fathom::Fathom::builder()` with the test configuration (adjusted by
/// `adjust`) and whatever `extend` adds.
pub async fn spawn_built(
    schema: &str,
    adjust: impl FnOnce(&mut Config),
    extend: impl FnOnce(FathomBuilder) -> FathomBuilder,
) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let database = scratch_database().await;
    let mut config = test_config_on(data_dir.path(), database.as_ref());
    adjust(&mut config);
    let schema = fathom_schema::parse_schema("test.schema.toml", schema).expect("valid schema");
    let builder = fathom::Fathom::builder().config(config).schema(schema);
    let app = extend(builder).build().await.expect("the application builds");
    start_built(app, data_dir, database).await
}

/// The sequences a hook handled, in the order it handled them.
#[derive(Clone, Default)]
pub struct Seen(Arc<Mutex<Vec<i64>>>);

impl Seen {
    pub fn push(&self, sequence: i64) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(sequence);
    }

    pub fn get(&self) -> Vec<i64> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Waits (up to 20 s) until `n` sequences were handled.
    pub async fn wait_for(&self, n: usize) -> Vec<i64> {
        let started = Instant::now();
        loop {
            let seen = self.get();
            if seen.len() >= n {
                return seen;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "only {} of {n} events were handled: {seen:?}",
                seen.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Records every event it is handed.
pub struct Recorder(pub Seen);

#[async_trait::async_trait]
impl AfterCommit for Recorder {
    async fn handle(&self, event: &CommittedEvent, _: &HookContext) -> Result<(), HookFailure> {
        self.0.push(event.sequence);
        Ok(())
    }
}

/// Fails its first two attempts at every third event and panics at its first attempt at every
/// fifth; records the events it handles in the end.
pub struct Flaky {
    pub seen: Seen,
    pub failures: Arc<AtomicU32>,
}

#[async_trait::async_trait]
impl AfterCommit for Flaky {
    async fn handle(&self, event: &CommittedEvent, ctx: &HookContext) -> Result<(), HookFailure> {
        if event.sequence % 3 == 0 && ctx.attempt() < 2 {
            self.failures.fetch_add(1, Ordering::SeqCst);
            return Err(HookFailure::new("a failure the test asked for"));
        }
        if event.sequence % 5 == 0 && ctx.attempt() == 0 {
            self.failures.fetch_add(1, Ordering::SeqCst);
            panic!("a panic the test asked for");
        }
        self.seen.push(event.sequence);
        Ok(())
    }
}

/// Fails every attempt until `open` turns true, then records.
pub struct Gated {
    pub open: Arc<AtomicBool>,
    pub attempts: Arc<AtomicU32>,
    pub seen: Seen,
}

#[async_trait::async_trait]
impl AfterCommit for Gated {
    async fn handle(&self, event: &CommittedEvent, _: &HookContext) -> Result<(), HookFailure> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if !self.open.load(Ordering::SeqCst) {
            return Err(HookFailure::new("the gate is closed"));
        }
        self.seen.push(event.sequence);
        Ok(())
    }
}

/// Every sequence the outbox holds, in order.
pub async fn outbox(app: &TestApp) -> Vec<i64> {
    app.store
        .events_after(0, 100_000, None)
        .await
        .expect("the outbox reads")
        .events
        .iter()
        .map(|e| e.sequence)
        .collect()
}

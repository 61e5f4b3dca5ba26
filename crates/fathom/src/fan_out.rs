//! The realtime fan-out's own threads. Realtime connections (judging each event against their
//! subscriptions, rendering frames, writing WebSocket sockets) and the hub's tailer run on a
//! runtime of their own, whose threads the kernel schedules at a lower priority than the
//! request threads and the database writer: however many subscribers a node holds, a write
//! request never waits in a run queue behind their work, and fan-out takes the CPU that
//! requests leave. SSE streams are written by their HTTP connection, on the request threads.

use std::future::Future;

use tokio::runtime::{Handle, Runtime};

/// How much lower the fan-out threads' priority is (a nice value: each step is about 10 % less
/// CPU when they compete with request threads; 5 gives them about a third of a contended core).
const NICENESS: i32 = 5;

/// The fan-out runtime; stopped (without waiting for its tasks) when dropped.
pub struct FanOut {
    runtime: Option<Runtime>,
}

impl FanOut {
    /// Starts `threads` fan-out threads; `0` runs the fan-out on the request threads.
    pub fn start(threads: usize) -> anyhow::Result<Self> {
        if threads == 0 {
            return Ok(Self { runtime: None });
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("fathom-realtime")
            .enable_all()
            .on_thread_start(lower_priority)
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    /// Where realtime tasks are spawned (`None`: the caller's runtime).
    pub fn handle(&self) -> Option<Handle> {
        self.runtime.as_ref().map(|r| r.handle().clone())
    }

    /// Spawns `task` on the fan-out threads (or the caller's runtime).
    pub fn spawn(
        &self,
        task: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        match &self.runtime {
            Some(runtime) => runtime.spawn(task),
            None => tokio::spawn(task),
        }
    }
}

impl Drop for FanOut {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Lowers the calling thread's scheduling priority (Linux applies a nice value per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let thread = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(thread), NICENESS) {
            tracing::debug!(error = %e, "could not lower the realtime threads' priority");
        }
    }
}

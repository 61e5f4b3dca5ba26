//! Runtimes of their own, beside the request threads, for the server's two kinds of background
//! traffic. The kernel schedules each runtime's threads apart from the request threads, so
//! neither kind waits in tokio's run queue behind the other:
//!
//! - **Realtime fan-out** ([`SideRuntime::realtime`]): realtime connections (judging each event
//!   against their subscriptions, rendering frames, writing WebSocket sockets) and the hub's
//!   tailer, on threads at a lower priority than the request threads and the database writer:
//!   however many subscribers a node holds, a write request never waits behind their work, and
//!   fan-out takes the CPU that requests leave. SSE streams are written by their HTTP
//!   connection, on the request threads.
//! - **Delivery** ([`SideRuntime::delivery`]): webhook endpoints and broker sinks, on one thread
//!   at the request threads' priority. A delivery is a chain of short wake-ups (read a page of
//!   the outbox, sign, send, wait for the answer); on the request threads each of them queued
//!   behind every request in flight, so under a write load delivery fell behind the writes. On
//!   its own thread the kernel runs it as soon as its answer arrives, and it never uses more
//!   than one CPU.

use std::future::Future;

use tokio::runtime::{Handle, Runtime};

/// How much lower the fan-out threads' priority is (a nice value: each step is about 10 % less
/// CPU when they compete with request threads; 5 gives them about a third of a contended core).
const FAN_OUT_NICENESS: i32 = 5;

/// A runtime of its own; stopped (without waiting for its tasks) when dropped. Without threads
/// (`realtime.threads = 0`) its work runs on the caller's runtime.
pub struct SideRuntime {
    runtime: Option<Runtime>,
}

impl SideRuntime {
    /// The realtime fan-out: `threads` threads at a lower priority; `0` runs the fan-out on the
    /// request threads.
    pub fn realtime(threads: usize) -> anyhow::Result<Self> {
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

    /// Webhook and broker delivery: one thread at the request threads' priority.
    pub fn delivery() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fathom-delivery")
            .enable_all()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    /// Where this runtime's tasks are spawned (`None`: the caller's runtime).
    pub fn handle(&self) -> Option<Handle> {
        self.runtime.as_ref().map(|r| r.handle().clone())
    }

    /// Spawns `task` on this runtime (or the caller's).
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

impl Drop for SideRuntime {
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
        if let Err(e) = rustix::process::setpriority_process(Some(thread), FAN_OUT_NICENESS) {
            tracing::debug!(error = %e, "could not lower the realtime threads' priority");
        }
    }
}

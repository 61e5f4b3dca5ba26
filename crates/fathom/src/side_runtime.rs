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
//!   at a higher priority than the request threads where the process may raise it
//!   (`CAP_SYS_NICE`, or root). A delivery in order is a chain of short wake-ups (read a page of
//!   the outbox, sign, send, wait for the answer); on the request threads each of them queued
//!   behind every request in flight, and at their priority each waited for a CPU behind the
//!   writers, so under a write flood delivery fell behind the writes. Raised, the kernel runs it
//!   as soon as its answer arrives; it never uses more than one CPU, so requests always keep
//!   the others.

use std::future::Future;

use tokio::runtime::{Handle, Runtime};

/// How much lower the fan-out threads' priority is (a nice value: each step is about 10 % less
/// CPU when they compete with request threads; 5 gives them about a third of a contended core).
const FAN_OUT_NICENESS: i32 = 5;

/// The delivery thread's nice value: ahead of the request threads (0) when it competes with
/// them. Lowering a nice value below 0 needs `CAP_SYS_NICE`; without it the thread stays at 0.
const DELIVERY_NICENESS: i32 = -10;

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

    /// Webhook and broker delivery: one thread, raised above the request threads where allowed.
    pub fn delivery() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fathom-delivery")
            .enable_all()
            .on_thread_start(raise_priority)
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

/// Lowers the calling thread's scheduling priority.
fn lower_priority() {
    if let Err(e) = set_niceness(FAN_OUT_NICENESS) {
        tracing::debug!(error = %e, "could not lower the realtime threads' priority");
    }
}

/// Raises the calling thread's scheduling priority, or says once why it could not.
fn raise_priority() {
    static TOLD: std::sync::Once = std::sync::Once::new();
    if let Err(e) = set_niceness(DELIVERY_NICENESS) {
        TOLD.call_once(|| {
            tracing::info!(error = %e, "webhook and broker delivery runs at the request threads' priority: raising it needs CAP_SYS_NICE; hint: without it, delivery in order can trail a flood of writes (docs/WEBHOOKS.md, \"Performance\")");
        });
    }
}

/// Sets the calling thread's nice value (Linux applies it per thread; elsewhere nothing).
fn set_niceness(niceness: i32) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let thread = rustix::thread::gettid();
        rustix::process::setpriority_process(Some(thread), niceness)?;
    }
    #[cfg(not(target_os = "linux"))]
    let _ = niceness;
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The nice value of the thread that runs a task on `runtime`.
    fn niceness_on(runtime: &SideRuntime) -> i32 {
        let handle = runtime.handle().expect("a runtime of its own");
        let (tx, rx) = std::sync::mpsc::channel();
        handle.spawn(async move {
            let thread = rustix::thread::gettid();
            let _ = tx.send(rustix::process::getpriority_process(Some(thread)));
        });
        rx.recv().expect("the task ran").expect("getpriority")
    }

    #[test]
    fn delivery_runs_ahead_of_the_request_threads_where_allowed_and_fan_out_behind() {
        let delivery = SideRuntime::delivery().expect("delivery runtime");
        // Lowering a nice value below 0 needs CAP_SYS_NICE, which root has (as in CI).
        let expected = if rustix::process::geteuid().is_root() {
            DELIVERY_NICENESS
        } else {
            0
        };
        assert_eq!(niceness_on(&delivery), expected);
        let realtime = SideRuntime::realtime(1).expect("realtime runtime");
        assert_eq!(niceness_on(&realtime), FAN_OUT_NICENESS);
    }
}

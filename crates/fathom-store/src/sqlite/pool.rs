//! Connections to one SQLite file: a single writer thread and a pool of reader threads.
//!
//! SQLite allows one writer at a time, so all writes queue for one thread that owns the write
//! connection. It drains whatever is queued into one transaction (group commit): each job runs in
//! its own savepoint, so one job's failure does not touch the others, and every job is answered
//! only after the shared COMMIT is durable. Readers never wait for the writer (WAL mode).

use std::time::Instant;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::{StoreError, from_sqlite};
use crate::stats::{StoreStats, WriterMetrics};

/// The most jobs one group commit takes; bounds the latency the first job in a group can see.
const MAX_GROUP: usize = 128;

type ReadJob = Box<dyn FnOnce(&Connection) + Send>;
/// Runs on the writer after every successful group COMMIT, before any job is answered (the
/// outbox advances the store's event watch from it).
pub(crate) type CommitHook = Box<dyn FnMut(&Connection) + Send>;
type ExclusiveJob = Box<dyn FnOnce(&mut Connection) + Send>;

enum WriterJob {
    /// Runs inside the shared group transaction, in a savepoint.
    Grouped(Box<dyn GroupedWrite>),
    /// Runs alone on the connection and manages its own transaction (migrations).
    Exclusive(ExclusiveJob),
}

/// A write that runs inside a group transaction and is answered after the commit.
trait GroupedWrite: Send {
    /// Runs the work; returns whether it succeeded (a failed job's savepoint is rolled back).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the group's outcome is known.
    fn finish(self: Box<Self>, commit: Result<(), StoreError>);
}

struct WriteTask<T, F> {
    work: Option<F>,
    outcome: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> GroupedWrite for WriteTask<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let outcome = match self.work.take() {
            // A panic in one job must not take the writer thread, and every later write, with it.
            Some(work) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(conn)))
                .unwrap_or_else(|_| Err(StoreError::internal("a write job panicked"))),
            None => Err(StoreError::internal("write job ran twice")),
        };
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), StoreError>) {
        let answer = match (commit, self.outcome) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(outcome)) => outcome,
            (Ok(()), None) => Err(StoreError::internal("write job never ran")),
        };
        // The caller may have gone away (request cancelled); the write stands either way.
        let _ = self.reply.send(answer);
    }
}

/// Handles to the writer and reader threads. Dropping it stops them once their queues drain.
pub(crate) struct Pool {
    writer: flume::Sender<WriterJob>,
    readers: flume::Sender<ReadJob>,
    metrics: WriterMetrics,
}

impl Pool {
    /// Starts the threads on connections already opened and configured by the caller.
    pub(crate) fn start(
        writer: Connection,
        readers: Vec<Connection>,
        on_commit: CommitHook,
    ) -> Result<Self, StoreError> {
        let (writer_tx, writer_rx) = flume::unbounded::<WriterJob>();
        let metrics = WriterMetrics::new();
        let observed = metrics.clone();
        std::thread::Builder::new()
            .name("fathom-sqlite-writer".into())
            .spawn(move || writer_loop(writer, writer_rx, on_commit, &observed))
            .map_err(|e| StoreError::internal(format!("spawning the writer thread: {e}")))?;
        let (reader_tx, reader_rx) = flume::unbounded::<ReadJob>();
        for (n, conn) in readers.into_iter().enumerate() {
            let rx = reader_rx.clone();
            std::thread::Builder::new()
                .name(format!("fathom-sqlite-reader-{n}"))
                .spawn(move || {
                    while let Ok(job) = rx.recv() {
                        job(&conn);
                    }
                })
                .map_err(|e| StoreError::internal(format!("spawning a reader thread: {e}")))?;
        }
        Ok(Self {
            writer: writer_tx,
            readers: reader_tx,
            metrics,
        })
    }

    /// The queues' lengths now and the writer's histograms.
    pub(crate) fn stats(&self) -> StoreStats {
        StoreStats::Sqlite {
            writer_queue: self.writer.len(),
            reader_queue: self.readers.len(),
            writer: self.metrics.clone(),
        }
    }

    /// Runs `work` on a reader connection.
    pub(crate) async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: ReadJob = Box::new(move |conn| {
            let _ = reply.send(work(conn));
        });
        self.readers.send(job).map_err(|_| stopped("reader"))?;
        answer.await.map_err(|_| stopped("reader"))?
    }

    /// Runs `work` in the writer's next group transaction; answers after the commit.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let task = WriteTask {
            work: Some(work),
            outcome: None,
            reply,
        };
        self.writer
            .send(WriterJob::Grouped(Box::new(task)))
            .map_err(|_| stopped("writer"))?;
        answer.await.map_err(|_| stopped("writer"))?
    }

    /// Runs `work` alone on the write connection; it manages its own transaction.
    pub(crate) async fn exclusive<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: ExclusiveJob = Box::new(move |conn| {
            let _ = reply.send(work(conn));
        });
        self.writer
            .send(WriterJob::Exclusive(job))
            .map_err(|_| stopped("writer"))?;
        answer.await.map_err(|_| stopped("writer"))?
    }
}

fn stopped(which: &str) -> StoreError {
    StoreError::internal(format!("the sqlite {which} thread has stopped"))
}

fn writer_loop(
    mut conn: Connection,
    jobs: flume::Receiver<WriterJob>,
    mut on_commit: CommitHook,
    metrics: &WriterMetrics,
) {
    while let Ok(first) = jobs.recv() {
        let mut group = match first {
            WriterJob::Exclusive(job) => {
                job(&mut conn);
                continue;
            }
            WriterJob::Grouped(task) => vec![task],
        };
        let mut exclusive_after = None;
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(WriterJob::Grouped(task)) => group.push(task),
                Ok(WriterJob::Exclusive(job)) => {
                    exclusive_after = Some(job);
                    break;
                }
                Err(_) => break,
            }
        }
        let started = Instant::now();
        #[allow(clippy::cast_precision_loss)] // at most MAX_GROUP
        let size = group.len() as f64;
        run_group(&conn, group, &mut on_commit);
        // Both after the group, together, so that a scrape never counts one without the other.
        metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        metrics.group_size.observe(size);
        if let Some(job) = exclusive_after {
            job(&mut conn);
        }
    }
}

fn run_group(conn: &Connection, mut group: Vec<Box<dyn GroupedWrite>>, on_commit: &mut CommitHook) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let error = from_sqlite(e);
        for task in group {
            task.finish(Err(error.clone()));
        }
        return;
    }
    for task in &mut group {
        let step = conn
            .execute_batch("SAVEPOINT job")
            .map_err(from_sqlite)
            .map(|()| task.run(conn))
            .and_then(|ok| {
                let undo = if ok {
                    "RELEASE job"
                } else {
                    "ROLLBACK TO job; RELEASE job"
                };
                conn.execute_batch(undo).map_err(from_sqlite)
            });
        if let Err(error) = step {
            // The transaction itself is broken: give up on the whole group.
            let _ = conn.execute_batch("ROLLBACK");
            for task in group {
                task.finish(Err(error.clone()));
            }
            return;
        }
    }
    let commit = conn.execute_batch("COMMIT").map_err(from_sqlite);
    if commit.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    } else {
        on_commit(conn);
    }
    for task in group {
        task.finish(commit.clone());
    }
}

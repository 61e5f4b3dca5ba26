//! Standard output written in batches: log lines gather in memory and reach the file descriptor
//! in one `write` per batch, once a batch is large or a short interval has passed (like nginx's
//! `access_log ... buffer= flush=`). A busy server then makes one system call (and wakes whoever
//! reads the pipe once) per few hundred lines instead of per line, which was a fifth of the CPU
//! of a record read. Lines keep their order, and none is dropped: a line waits at most the
//! flush interval, and [`BatchedStdout::flush`] writes what is left when the server stops.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// A batch this large is written at once, without waiting for the interval.
const BATCH_BYTES: usize = 64 * 1024;

/// A handle on the shared batch; clones write into the same one.
#[derive(Clone)]
pub struct BatchedStdout {
    batch: Arc<Mutex<Vec<u8>>>,
    /// Write every line at once (no interval, or no thread to keep it).
    line_by_line: bool,
}

impl BatchedStdout {
    /// Starts the batch and a thread that writes it every `interval` (a zero interval writes
    /// every line at once). The thread ends with the process; call [`BatchedStdout::flush`]
    /// before a planned exit.
    pub fn start(interval: Duration) -> Self {
        let mut writer = Self {
            batch: Arc::new(Mutex::new(Vec::with_capacity(BATCH_BYTES))),
            line_by_line: interval.is_zero(),
        };
        if !writer.line_by_line {
            let flusher = writer.clone();
            let spawned = std::thread::Builder::new()
                .name("fathom-log-flush".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(interval);
                        // A closed or broken stdout must not end logging for the rest of the
                        // process: that batch is lost and the next one is tried again.
                        let _ = flusher.flush();
                    }
                });
            // Without the thread, lines would wait for a full batch: write each one at once.
            writer.line_by_line = spawned.is_err();
        }
        writer
    }

    /// Writes whatever has gathered.
    pub fn flush(&self) -> io::Result<()> {
        let mut batch = self.lock();
        if batch.is_empty() {
            return Ok(());
        }
        // Stdout is locked before the batch is released, so batches reach it in the order
        // they were taken; loggers may start the next batch meanwhile.
        let mut out = io::stdout().lock();
        let full = std::mem::replace(&mut *batch, Vec::with_capacity(BATCH_BYTES));
        drop(batch);
        out.write_all(&full)?;
        out.flush()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        // A panic while appending leaves at worst a partial line; logging goes on.
        self.batch.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Write for BatchedStdout {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let mut batch = self.lock();
        batch.extend_from_slice(line);
        let due = self.line_by_line || batch.len() >= BATCH_BYTES;
        drop(batch);
        if due {
            self.flush()?;
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // `tracing-subscriber` flushes after every line; batching is the point, so a line is
        // written by the interval or by a full batch, and `BatchedStdout::flush` writes on demand.
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedStdout {
    type Writer = BatchedStdout;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

//! Log lines written in batches: lines gather in memory and reach the sink (stdout) in one
//! `write` per batch, once a batch is large or a short interval has passed (like nginx's
//! `access_log ... buffer= flush=`). A busy server then makes one system call (and wakes whoever
//! reads the pipe once) per few hundred lines instead of per line, which was a fifth of the CPU
//! of a record read. Lines keep their order, and none is dropped: a line waits at most the
//! flush interval, and [`BatchedWriter::flush`] writes what is left when the server stops.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// A batch this large is written at once, without waiting for the interval.
const BATCH_BYTES: usize = 64 * 1024;

/// A handle on the shared batch; clones write into the same one.
pub struct BatchedWriter<W> {
    batch: Arc<Mutex<Vec<u8>>>,
    sink: Arc<Mutex<W>>,
    /// Write every line at once (no interval, or no thread to keep it).
    line_by_line: bool,
}

impl<W> Clone for BatchedWriter<W> {
    fn clone(&self) -> Self {
        Self {
            batch: self.batch.clone(),
            sink: self.sink.clone(),
            line_by_line: self.line_by_line,
        }
    }
}

impl<W: Write + Send + 'static> BatchedWriter<W> {
    /// Starts the batch and a thread that writes it to `sink` every `interval` (a zero interval
    /// writes every line at once). The thread ends with the process; call
    /// [`BatchedWriter::flush`] before a planned exit.
    pub fn start(sink: W, interval: Duration) -> Self {
        let mut writer = Self {
            batch: Arc::new(Mutex::new(Vec::with_capacity(BATCH_BYTES))),
            sink: Arc::new(Mutex::new(sink)),
            line_by_line: interval.is_zero(),
        };
        if !writer.line_by_line {
            let flusher = writer.clone();
            let spawned = std::thread::Builder::new()
                .name("fathom-log-flush".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(interval);
                        // A closed or broken sink must not end logging for the rest of the
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
        let mut batch = locked(&self.batch);
        if batch.is_empty() {
            return Ok(());
        }
        // The sink is locked before the batch is released, so batches reach it in the order
        // they were taken; loggers may start the next batch meanwhile.
        let mut sink = locked(&self.sink);
        let full = std::mem::replace(&mut *batch, Vec::with_capacity(BATCH_BYTES));
        drop(batch);
        sink.write_all(&full)?;
        sink.flush()
    }
}

/// A panic while appending leaves at worst a partial line; logging goes on.
fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<W: Write + Send + 'static> Write for BatchedWriter<W> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let mut batch = locked(&self.batch);
        batch.extend_from_slice(line);
        let due = self.line_by_line || batch.len() >= BATCH_BYTES;
        drop(batch);
        if due {
            BatchedWriter::flush(self)?;
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // `tracing-subscriber` flushes after every line; batching is the point, so a line is
        // written by the interval or by a full batch, and `BatchedWriter::flush` writes on demand.
        Ok(())
    }
}

impl<'a, W: Write + Send + 'static> MakeWriter<'a> for BatchedWriter<W> {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// A sink the test can read while the writer owns it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            locked(&self.0).extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8_lossy(&locked(&self.0)).into_owned()
        }
    }

    #[test]
    fn lines_wait_in_memory_and_reach_the_sink_in_order_when_flushed() {
        let sink = Shared::default();
        let writer = BatchedWriter::start(sink.clone(), Duration::from_secs(3600));
        for n in 0..3 {
            writer
                .make_writer()
                .write_all(format!("line {n}\n").as_bytes())
                .unwrap();
        }
        assert_eq!(
            sink.text(),
            "",
            "nothing is written before the batch is due"
        );
        writer.flush().unwrap();
        assert_eq!(sink.text(), "line 0\nline 1\nline 2\n");
        writer.flush().unwrap();
        assert_eq!(
            sink.text(),
            "line 0\nline 1\nline 2\n",
            "a batch is written once"
        );
    }

    #[test]
    fn a_full_batch_is_written_without_waiting_for_the_interval() {
        let sink = Shared::default();
        let writer = BatchedWriter::start(sink.clone(), Duration::from_secs(3600));
        let line = format!("{}\n", "x".repeat(1023));
        for _ in 0..(BATCH_BYTES / line.len()) {
            writer.make_writer().write_all(line.as_bytes()).unwrap();
        }
        assert_eq!(sink.text().len(), BATCH_BYTES);
    }

    #[test]
    fn a_zero_interval_writes_every_line_at_once() {
        let sink = Shared::default();
        let writer = BatchedWriter::start(sink.clone(), Duration::ZERO);
        writer.make_writer().write_all(b"now\n").unwrap();
        assert_eq!(sink.text(), "now\n");
    }

    #[test]
    fn the_interval_writes_a_waiting_line_by_itself() {
        let sink = Shared::default();
        let writer = BatchedWriter::start(sink.clone(), Duration::from_millis(20));
        writer.make_writer().write_all(b"later\n").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while sink.text().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(sink.text(), "later\n");
    }
}

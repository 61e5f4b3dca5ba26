//! The floor under W5's crowd phase: what this machine spends, and the delivery latency it
//! reaches, to push N events a second to C loopback TCP connections and read them back with
//! nothing of Fathom in between: no HTTP, no JSON, no rules, no per-connection state, each batch
//! encoded once. One broadcaster appends each event (a 300-byte line that starts with its send
//! instant) to a buffer and, every `gather`, hands the buffer to every connection's writer task,
//! which writes what it has been handed with one syscall; C reader tasks, on a runtime of their
//! own in the same process, time each line. It runs in the bench's process, after Fathom's
//! crowd, with the same connections, rate and duration: a delivery target this floor misses on
//! this machine cannot be met by any server here.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::broadcast;

use crate::loadgen::new_histogram;
use crate::results::FloorRun;
use crate::subscriber::now_micros;

/// The shape of a floor run.
#[derive(Debug, Clone)]
pub struct FloorOptions {
    pub connections: usize,
    pub rate_per_sec: f64,
    /// How long events gather before they are handed to the connections.
    pub gather: Duration,
    pub seconds: f64,
    /// Local addresses the readers connect from (each has its own ephemeral ports).
    pub locals: Vec<IpAddr>,
    /// Threads of the writing side (the readers have one runtime thread).
    pub server_threads: usize,
}

/// Bytes of each event line, newline included.
const LINE_BYTES: usize = 300;

/// Runs the floor; blocking (it builds runtimes of its own): call it from `spawn_blocking`.
pub fn run(options: &FloorOptions) -> anyhow::Result<FloorRun> {
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.server_threads.max(1))
        .enable_all()
        .build()?;
    let readers_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let (tx, _) = broadcast::channel::<Arc<Vec<u8>>>(4096);
    let listener = server.block_on(listen())?;
    let address = listener.local_addr()?;
    let subscribe = tx.clone();
    server.spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut rx = subscribe.subscribe();
            tokio::spawn(async move {
                while let Ok(chunk) = rx.recv().await {
                    // Whatever else is queued goes out in the same write.
                    let mut out = chunk.to_vec();
                    while let Ok(more) = rx.try_recv() {
                        out.extend_from_slice(&more);
                    }
                    if socket.write_all(&out).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let readers: Vec<_> = (0..options.connections)
        .map(|i| {
            let local = SocketAddr::new(options.locals[i % options.locals.len()], 0);
            readers_runtime.spawn(read(local, address))
        })
        .collect();
    // Let every reader connect and subscribe.
    std::thread::sleep(Duration::from_secs(3));
    let (cpu_start, wall_start) = (
        crate::proc_stats::cpu_seconds(std::process::id()),
        Instant::now(),
    );
    let sent = server.block_on(broadcast_for(tx, options));
    let cpu = crate::proc_stats::cpu_seconds(std::process::id())
        .zip(cpu_start)
        .map(|(end, start)| end - start);
    let wall = wall_start.elapsed().as_secs_f64();
    server.shutdown_timeout(Duration::from_secs(1));
    // The server is gone, so every reader ends at once; one that does not (its connection
    // never opened) is left out rather than waited for.
    let latencies = readers_runtime.block_on(async {
        let deadline = tokio::time::Instant::now() + READERS_END;
        let mut ended = Vec::new();
        for reader in readers {
            match tokio::time::timeout_at(deadline, reader).await {
                Ok(Ok(latencies)) => ended.push(latencies),
                Ok(Err(_)) => {}
                Err(_) => break,
            }
        }
        ended
    });
    let mut all = new_histogram();
    let mut delivered = 0;
    for micros in latencies.into_iter().flatten() {
        delivered += 1;
        all.saturating_record(u64::from(micros));
    }
    readers_runtime.shutdown_timeout(Duration::from_secs(1));
    let ms = |us: u64| us as f64 / 1000.0;
    Ok(FloorRun {
        connections: options.connections,
        rate_per_sec: options.rate_per_sec,
        gather_ms: options.gather.as_secs_f64() * 1000.0,
        expected: sent * options.connections as u64,
        delivered,
        p50_ms: ms(all.value_at_quantile(0.5)),
        p95_ms: ms(all.value_at_quantile(0.95)),
        p99_ms: ms(all.value_at_quantile(0.99)),
        max_ms: ms(all.max()),
        cpu_per_sec: cpu.map(|c| c / wall),
    })
}

/// How long the readers get to end once the server side has stopped.
const READERS_END: Duration = Duration::from_secs(5);

/// Connections the listener queues before it accepts them: all of them (10,000 readers connect
/// at once, and tokio's default of 1,024 would leave some retrying their SYN for seconds).
const BACKLOG: u32 = 16 * 1024;

async fn listen() -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    socket.listen(BACKLOG)
}

/// Sends `rate_per_sec` lines a second for `seconds`, handed out every `gather`; then gives the
/// readers two seconds and closes. The number of lines sent.
async fn broadcast_for(tx: broadcast::Sender<Arc<Vec<u8>>>, options: &FloorOptions) -> u64 {
    let mut pending = Vec::new();
    let mut sent = 0;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / options.rate_per_sec));
    let mut flush = tokio::time::interval(options.gather);
    let end = Instant::now() + Duration::from_secs_f64(options.seconds);
    while Instant::now() < end {
        tokio::select! {
            _ = tick.tick() => {
                let stamp = format!("{:016}", now_micros());
                pending.extend_from_slice(stamp.as_bytes());
                pending.resize(pending.len() + LINE_BYTES - stamp.len() - 1, b'x');
                pending.push(b'\n');
                sent += 1;
            }
            _ = flush.tick() => {
                if !pending.is_empty() {
                    let _ = tx.send(Arc::new(std::mem::take(&mut pending)));
                }
            }
        }
    }
    if !pending.is_empty() {
        let _ = tx.send(Arc::new(pending));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    sent
}

/// The bytes a reader reads at most per read (as the crowd's subscribers: see
/// `subscriber::ws::READ_BUFFER`).
const READ_BUFFER: usize = 16 * 1024;

/// One reader: the latency (µs) of every line it receives until the connection closes, kept
/// as a list like the crowd's subscribers keep theirs (a histogram per reader would fault in
/// over a gigabyte at 10,000 readers).
async fn read(local: SocketAddr, address: SocketAddr) -> Vec<u32> {
    let mut latencies = Vec::new();
    let Ok(socket) = TcpSocket::new_v4() else {
        return latencies;
    };
    if socket.bind(local).is_err() {
        return latencies;
    }
    let Ok(mut stream) = socket.connect(address).await else {
        return latencies;
    };
    let mut buffer = vec![0u8; READ_BUFFER];
    let mut carry = Vec::new();
    loop {
        let n = match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return latencies,
            Ok(n) => n,
        };
        let received = now_micros();
        carry.extend_from_slice(&buffer[..n]);
        let mut start = 0;
        while let Some(end) = memchr::memchr(b'\n', &carry[start..]) {
            let stamp = carry
                .get(start..start + 16)
                .and_then(|s| std::str::from_utf8(s).ok());
            if let Some(sent) = stamp.and_then(|s| s.parse::<i64>().ok()) {
                let micros = u32::try_from(received - sent).unwrap_or(u32::MAX);
                latencies.push(micros.max(1));
            }
            start += end + 1;
        }
        carry.drain(..start);
    }
}

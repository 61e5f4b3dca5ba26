//! W5, realtime delivery: subscribers (half SSE, half WebSocket) on the `items` collection and one
//! writer creating items.
//!
//! - **Bursts**: for each subscriber count (0, 100, 1,000 by default; 0 is the writer's baseline)
//!   the subscribers connect and go live, the writer sends a burst of creates as fast as its
//!   workers can, and the phase waits until every subscriber has every event (or stops
//!   receiving). The counts take turns, round by round, like the other workloads.
//! - **Crowd**: many connections (10,000 by default) are opened and held idle, the server's RSS is
//!   read, one probe create checks that every one of them still delivers, then the writer creates
//!   at a steady rate (100 a second) and delivery to all of them is measured. Then the bare
//!   fan-out floor (`floor.rs`) runs with the same connections, rate and duration: what the
//!   machine itself allows, as the crowd's baseline.
//!
//! Latency is measured as `subscriber` describes: receive instant minus `committed_at`.

mod delivery;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::client::{expect_status, http_client};
use crate::data::{Lcg, item, mix};
use crate::floor::{self, FloorOptions};
use crate::loadgen::{self, Bounds, Load, Outcome};
use crate::proc_stats;
use crate::report::Summary;
use crate::results::{BurstRun, CrowdRun, FloorRun, PhaseCpu, RealtimeResults};
use crate::subscriber::{self, Counting, Subscriber, Target, Transports};
use delivery::DeliveryTotal;

/// How W5 runs.
#[derive(Debug, Clone)]
pub struct W5Options {
    /// Subscriber counts of the burst phases.
    pub subscribers: Vec<usize>,
    /// Creates in each burst.
    pub burst: u64,
    /// Concurrent workers of the writer in a burst.
    pub writers: usize,
    pub rounds: u32,
    /// Which transports the subscribers use.
    pub transports: Transports,
    /// Connections of the crowd phase (0 skips it).
    pub crowd: usize,
    /// Seconds the crowd is held idle before the probe.
    pub idle_seconds: f64,
    /// Creates a second sent to the crowd (0 skips the steady phase).
    pub crowd_rate: f64,
    /// Seconds the steady phase writes.
    pub crowd_seconds: f64,
    /// Local addresses 127.0.0.1 … 127.0.0.N the subscribers connect from (each has its own
    /// ephemeral ports).
    pub local_addresses: usize,
    /// Subscribers connecting at once.
    pub connect_concurrency: usize,
    /// A phase stops waiting for deliveries once none has arrived for this long.
    pub quiet: Duration,
    /// How long the bare fan-out floor (`floor.rs`), run after the crowd with its connections,
    /// rate and duration, lets events gather; zero skips it.
    pub floor_gather: Duration,
}

/// The server W5 runs against.
pub struct W5Server {
    pub address: SocketAddr,
    pub pid: u32,
    /// An administrator's access token: it may list every item, so every event is in view.
    pub token: Arc<str>,
    /// Owners for the created items.
    pub owners: Arc<Vec<String>>,
}

/// Sequence numbers for created items, apart from every other workload's.
const CREATE_OFFSET: u64 = 1 << 41;

pub async fn run(server: &W5Server, options: &W5Options) -> anyhow::Result<RealtimeResults> {
    let locals: Vec<IpAddr> = (1..=options.local_addresses.clamp(1, 250))
        .map(|n| IpAddr::V4(Ipv4Addr::new(127, 0, 0, n as u8)))
        .collect();
    let w5 = W5 {
        server,
        options,
        locals,
        target: Target {
            address: server.address,
            token: server.token.clone(),
            collection: "items".to_owned(),
        },
        next_create: Arc::new(AtomicU64::new(CREATE_OFFSET)),
    };
    let mut totals: Vec<CountTotal> = options
        .subscribers
        .iter()
        .map(|count| CountTotal {
            count: *count,
            outcome: Outcome::empty(),
            delivery: DeliveryTotal::default(),
            cpu: Some(0.0),
            rss: None,
            phase_cpu: Some(PhaseCpu {
                seconds: 0.0,
                server_cpu_seconds: 0.0,
                bench_cpu_seconds: 0.0,
            }),
        })
        .collect();
    for round in 0..options.rounds.max(1) {
        for total in &mut totals {
            println!(
                "W5 burst: {} subscribers, {} creates (round {})",
                total.count,
                options.burst,
                round + 1
            );
            total.add(w5.burst(total.count).await);
        }
    }
    let bursts = totals
        .into_iter()
        .map(|total| {
            let run = total.run(options.transports);
            announce_burst(&run);
            run
        })
        .collect();
    let crowd = if options.crowd > 0 {
        Some(w5.crowd().await)
    } else {
        None
    };
    Ok(RealtimeResults {
        writers: options.writers,
        burst: options.burst,
        rounds: options.rounds.max(1),
        local_addresses: w5.locals.len(),
        bursts,
        crowd,
    })
}

struct W5<'a> {
    server: &'a W5Server,
    options: &'a W5Options,
    locals: Vec<IpAddr>,
    target: Target,
    next_create: Arc<AtomicU64>,
}

/// What one burst measured.
struct Phase {
    outcome: Outcome,
    delivery: DeliveryTotal,
    /// Server CPU seconds while the writer ran (its CPU per create).
    cpu: Option<f64>,
    rss: Option<f64>,
    phase_cpu: Option<PhaseCpu>,
}

/// An outcome of one failure.
fn failed(error: String) -> Outcome {
    let mut outcome = Outcome::empty();
    outcome.errors = 1;
    outcome.first_error = Some(error);
    outcome
}

/// CPU seconds of the server and of this process, to take a phase's difference.
struct CpuMark {
    at: Instant,
    server: Option<f64>,
    bench: Option<f64>,
}

impl CpuMark {
    fn now(pid: u32) -> Self {
        Self {
            at: Instant::now(),
            server: proc_stats::cpu_seconds(pid),
            bench: proc_stats::cpu_seconds(std::process::id()),
        }
    }

    /// The CPU spent since `self`, if both processes could be read both times.
    fn since(&self, pid: u32) -> Option<PhaseCpu> {
        let later = Self::now(pid);
        Some(PhaseCpu {
            seconds: later.at.duration_since(self.at).as_secs_f64(),
            server_cpu_seconds: later.server? - self.server?,
            bench_cpu_seconds: later.bench? - self.bench?,
        })
    }
}

/// The bursts of one subscriber count, added up over the rounds.
struct CountTotal {
    count: usize,
    outcome: Outcome,
    delivery: DeliveryTotal,
    /// Server CPU seconds, `None` once any round could not read it.
    cpu: Option<f64>,
    /// The highest server RSS seen at the end of a burst.
    rss: Option<f64>,
    /// `None` once any round could not read it.
    phase_cpu: Option<PhaseCpu>,
}

impl CountTotal {
    fn add(&mut self, phase: Phase) {
        self.outcome.append(phase.outcome);
        self.delivery.add(phase.delivery);
        self.cpu = self.cpu.zip(phase.cpu).map(|(a, b)| a + b);
        self.phase_cpu = self.phase_cpu.zip(phase.phase_cpu).map(|(a, b)| a.plus(b));
        self.rss = match (self.rss, phase.rss) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    fn run(self, transports: Transports) -> BurstRun {
        let (sse, websocket) = transports.split(self.count);
        BurstRun {
            subscribers: self.count,
            sse,
            websocket,
            writer: Summary::from_outcome(&self.outcome, self.rss).with_server_cpu(self.cpu),
            delivery: self.delivery.figures(),
            cpu: self.phase_cpu,
        }
    }
}

/// Subscribers of one phase and the count of in-order events they have received together.
struct Crowd {
    subscribers: Vec<Subscriber>,
    counting: Arc<Counting>,
    failures: u64,
    first_failure: Option<String>,
}

impl W5<'_> {
    /// Connects `count` subscribers (their transports as the options say), a bounded number at a
    /// time, each from the next local address; answers once every one is live or has failed.
    async fn connect(&self, count: usize) -> Crowd {
        let counting = Arc::new(Counting::default());
        let gate = Arc::new(Semaphore::new(self.options.connect_concurrency.max(1)));
        let mut joining = JoinSet::new();
        for index in 0..count {
            let (target, counting, gate) = (self.target.clone(), counting.clone(), gate.clone());
            let transports = self.options.transports;
            let local = self.locals[index % self.locals.len()];
            joining.spawn(async move {
                let _permit = gate.acquire_owned().await;
                let transport = transports.of_index(index);
                subscriber::connect(transport, &target, local, counting).await
            });
        }
        let mut crowd = Crowd {
            subscribers: Vec::with_capacity(count),
            counting,
            failures: 0,
            first_failure: None,
        };
        while let Some(joined) = joining.join_next().await {
            match joined {
                Ok(Ok(subscriber)) => crowd.subscribers.push(subscriber),
                Ok(Err(error)) => {
                    crowd.failures += 1;
                    crowd.first_failure.get_or_insert(format!("{error:#}"));
                }
                Err(error) => {
                    crowd.failures += 1;
                    crowd
                        .first_failure
                        .get_or_insert(format!("a connecting task failed: {error}"));
                }
            }
        }
        let live = crowd.subscribers.iter().map(|s| s.live_seq).max();
        let floor = self.latest_sequence(live.unwrap_or(0)).await;
        crowd.counting.floor.store(floor, Ordering::Release);
        crowd
    }

    /// The latest committed event (from the change feed, read after `known`, a recent
    /// sequence), or `known` if the feed cannot be read: every event the phase writes from now
    /// on comes after it.
    async fn latest_sequence(&self, known: i64) -> i64 {
        let url = format!(
            "http://{}/api/v1/events?after={known}&limit=1",
            self.server.address
        );
        let latest = async {
            let response = http_client()?
                .get(url)
                .bearer_auth(&*self.server.token)
                .send()
                .await?
                .error_for_status()?;
            let page: serde_json::Value = response.json().await?;
            page["meta"]["latest"]
                .as_i64()
                .ok_or_else(|| anyhow::anyhow!("no meta.latest in {page}"))
        };
        match latest.await {
            Ok(latest) => latest.max(known),
            Err(error) => {
                eprintln!(
                    "W5: could not read the latest event ({error:#}); counting after {known}"
                );
                known
            }
        }
    }

    /// Runs the writer: creates under `load` within `bounds`, on a runtime and HTTP client of
    /// its own (on its own thread), so that its requests do not queue behind the subscribers'
    /// tasks in this process and its latency is the server's.
    async fn write(&self, load: Load, bounds: Bounds) -> Outcome {
        let url = format!("http://{}/api/v1/items", self.server.address);
        let (token, owners, next) = (
            self.server.token.clone(),
            self.server.owners.clone(),
            self.next_create.clone(),
        );
        let (done, outcome) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("the writer's runtime: {e}"))
                .and_then(|runtime| {
                    let client = http_client().map_err(|e| format!("{e:#}"))?;
                    let create = move |_| {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let body = item(n, &mut Lcg::new(mix(n)), &owners);
                        expect_status(client.post(&url).bearer_auth(&*token).json(&body), 201)
                    };
                    Ok(runtime.block_on(loadgen::run(load, bounds, create)))
                });
            let _ = done.send(result);
        });
        match outcome.await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(error)) => failed(error),
            Err(_) => failed("the writer's thread ended without an answer".to_owned()),
        }
    }

    /// Waits until the crowd has received `expected` events together, or none arrived for the
    /// quiet period, or every subscriber has ended.
    async fn settle(&self, crowd: &Crowd, expected: u64) {
        let mut last = crowd.counting.received.load(Ordering::Relaxed);
        let mut since = Instant::now();
        loop {
            let now = crowd.counting.received.load(Ordering::Relaxed);
            if now >= expected || crowd.subscribers.iter().all(Subscriber::has_ended) {
                return;
            }
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= self.options.quiet {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops every subscriber of `crowd` and adds up what they received.
    async fn finish(crowd: Crowd, expected_each: u64) -> DeliveryTotal {
        let mut total = DeliveryTotal::expecting(expected_each);
        total.connect_failed(crowd.failures, crowd.first_failure);
        let mut finishing: JoinSet<subscriber::Tally> = crowd
            .subscribers
            .into_iter()
            .map(Subscriber::finish)
            .collect();
        while let Some(tally) = finishing.join_next().await {
            match tally {
                Ok(tally) => total.subscriber(&tally),
                Err(error) => total.connect_failed(1, Some(format!("finishing failed: {error}"))),
            }
        }
        total
    }

    async fn burst(&self, count: usize) -> Phase {
        let crowd = self.connect(count).await;
        let pid = self.server.pid;
        let mark = CpuMark::now(pid);
        let bounds = Bounds {
            duration: Duration::from_secs(600),
            max_requests: self.options.burst,
        };
        let load = Load::Closed {
            concurrency: self.options.writers.max(1),
        };
        let outcome = self.write(load, bounds).await;
        let live = crowd.subscribers.len() as u64;
        self.settle(&crowd, live * outcome.ok()).await;
        let phase_cpu = mark.since(pid);
        let rss = proc_stats::rss_mib(pid);
        let delivery = Self::finish(crowd, outcome.ok()).await;
        Phase {
            outcome,
            delivery,
            cpu: phase_cpu.map(|c| c.server_cpu_seconds),
            rss,
            phase_cpu,
        }
    }

    async fn crowd(&self) -> CrowdRun {
        let (pid, asked) = (self.server.pid, self.options.crowd);
        let rss_before = proc_stats::rss_mib(pid);
        let (sse, websocket) = self.options.transports.split(asked);
        println!("W5 crowd: opening {asked} connections ({sse} SSE, {websocket} WebSocket)…");
        let started = Instant::now();
        let crowd = self.connect(asked).await;
        let connect_seconds = started.elapsed().as_secs_f64();
        println!(
            "    {} live in {connect_seconds:.1} s ({} failed{})",
            crowd.subscribers.len(),
            crowd.failures,
            crowd
                .first_failure
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
        let idle = Duration::from_secs_f64(self.options.idle_seconds.max(0.0));
        tokio::time::sleep(idle).await;
        let rss_held = proc_stats::rss_mib(pid);
        let open = crowd.subscribers.iter().filter(|s| !s.has_ended()).count() as u64;

        // One probe create: every connection still open should deliver it.
        let probe = self
            .write(
                Load::Closed { concurrency: 1 },
                Bounds {
                    duration: Duration::from_secs(60),
                    max_requests: 1,
                },
            )
            .await;
        self.settle(&crowd, open * probe.ok()).await;
        let held = crowd.counting.received.load(Ordering::Relaxed).min(open);
        println!(
            "    held idle {:.0} s; {held} delivered the probe",
            idle.as_secs_f64()
        );

        let (mut writer, mut phase_cpu) = (None, None);
        let mut expected_each = probe.ok();
        if self.options.crowd_rate > 0.0 && self.options.crowd_seconds > 0.0 {
            println!(
                "W5 crowd: {:.0} creates a second for {:.0} s to {open} subscribers…",
                self.options.crowd_rate, self.options.crowd_seconds
            );
            let load = Load::Open {
                rate_per_sec: self.options.crowd_rate,
                max_in_flight: 64,
            };
            let bounds = Bounds {
                duration: Duration::from_secs_f64(self.options.crowd_seconds),
                max_requests: u64::MAX,
            };
            let mark = CpuMark::now(pid);
            let outcome = self.write(load, bounds).await;
            expected_each += outcome.ok();
            self.settle(&crowd, open * expected_each).await;
            phase_cpu = mark.since(pid);
            let cpu = phase_cpu.map(|c| c.server_cpu_seconds);
            writer = Some(
                Summary::from_outcome(&outcome, proc_stats::rss_mib(pid)).with_server_cpu(cpu),
            );
        }
        let delivery = Self::finish(crowd, expected_each).await.figures();
        let floor = self.floor().await;
        let run = CrowdRun {
            asked,
            sse,
            websocket,
            connect_seconds,
            rss_before_mib: rss_before,
            rss_held_mib: rss_held,
            idle_seconds: idle.as_secs_f64(),
            held,
            rate_per_sec: self.options.crowd_rate,
            writer,
            delivery,
            cpu: phase_cpu,
            floor,
        };
        announce_crowd(&run);
        run
    }

    /// The bare fan-out floor with the crowd's connections, rate and duration.
    async fn floor(&self) -> Option<FloorRun> {
        let o = self.options;
        if o.floor_gather.is_zero() || o.crowd_rate <= 0.0 || o.crowd_seconds <= 0.0 {
            return None;
        }
        println!(
            "W5 floor: {} bare loopback connections, {:.0} lines a second for {:.0} s, gathered {} ms…",
            o.crowd,
            o.crowd_rate,
            o.crowd_seconds,
            o.floor_gather.as_millis()
        );
        let options = FloorOptions {
            connections: o.crowd,
            rate_per_sec: o.crowd_rate,
            gather: o.floor_gather,
            seconds: o.crowd_seconds,
            locals: self.locals.clone(),
            server_threads: 1,
        };
        // On a thread of its own, outside this runtime: the floor builds and stops runtimes.
        let thread = std::thread::spawn(move || floor::run(&options));
        let joined = tokio::task::spawn_blocking(move || thread.join()).await;
        match joined {
            Ok(Ok(Ok(run))) => Some(run),
            Ok(Ok(Err(e))) => {
                println!("    the floor could not run: {e:#}");
                None
            }
            _ => {
                println!("    the floor could not run: its thread failed");
                None
            }
        }
    }
}

fn announce_burst(run: &BurstRun) {
    let (w, d) = (&run.writer, &run.delivery);
    println!(
        "W5 {} subscribers: writer {:.0} creates/s (p99 {:.2} ms, errors {}); delivery p50 {:.2} \
         p95 {:.2} p99 {:.2} max {:.2} ms; lost {}, out of order {}, duplicates {}, ended early \
         {}, connect failures {}",
        run.subscribers,
        w.throughput,
        w.p99_ms,
        w.errors,
        d.p50_ms,
        d.p95_ms,
        d.p99_ms,
        d.max_ms,
        d.lost,
        d.out_of_order,
        d.duplicates,
        d.ended_early,
        d.connect_failures
    );
    for problem in [&d.first_end, &d.first_connect_error, &w.first_error]
        .into_iter()
        .flatten()
    {
        println!("    first problem: {problem}");
    }
}

fn announce_crowd(run: &CrowdRun) {
    if let Some(f) = &run.floor {
        println!(
            "W5 floor: {} of {} delivered; p50 {:.2} p95 {:.2} p99 {:.2} max {:.2} ms; bench CPU {:.2} s a second",
            f.delivered,
            f.expected,
            f.p50_ms,
            f.p95_ms,
            f.p99_ms,
            f.max_ms,
            f.cpu_per_sec.unwrap_or(f64::NAN)
        );
    }
    let d = &run.delivery;
    println!(
        "W5 crowd of {}: held {}, RSS {:?} -> {:?} MiB; delivery p50 {:.2} p95 {:.2} p99 {:.2} \
         max {:.2} ms; lost {}, out of order {}, duplicates {}, ended early {}",
        run.asked,
        run.held,
        run.rss_before_mib,
        run.rss_held_mib,
        d.p50_ms,
        d.p95_ms,
        d.p99_ms,
        d.max_ms,
        d.lost,
        d.out_of_order,
        d.duplicates,
        d.ended_early
    );
}

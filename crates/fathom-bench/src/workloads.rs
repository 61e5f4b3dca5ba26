//! The workloads, each run against Fathom and the baseline with the same load, in alternating
//! rounds:
//! W1 create, W2 get by id (closed and open loop), W3 a filtered, sorted page, W4 the same page
//! under the owner rule, W6 password logins and their effect on concurrent reads.
//! W5 (realtime) is in `w5.rs`: it has no baseline.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Client, Url};
use serde_json::json;

use crate::client::{Session, expect_status};
use crate::data::{Lcg, STATUSES, item, mix};
use crate::loadgen::{self, Bounds, Load, Outcome};
use crate::proc_stats;
use crate::report::{Ratio, Summary};
use crate::results::WorkloadResult;

/// One request's answer: `Err` describes a failure.
pub type Reply = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
/// One operation, called with the request's sequence number.
pub type Op = Arc<dyn Fn(u64) -> Reply + Send + Sync>;

fn op<F, Fut>(f: F) -> Op
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    Arc::new(move |n| Box::pin(f(n)))
}

/// The W3 page on a Fathom server as one of `users` (each sees only the rows they own); the user
/// and the filter are picked independently.
fn owner_page(side: &Side, users: Arc<Vec<Session>>) -> Op {
    let urls = Arc::new(fathom_page_urls(&side.base));
    let client = side.client.clone();
    op(move |n| {
        let user = pick(&users, n);
        let url = pick(&urls, mix(n));
        expect_status(client.get(url).bearer_auth(&user.access_token), 200)
    })
}

/// Warm-up requests use sequence numbers far from the measured ones.
const WARMUP_OFFSET: u64 = 1 << 40;
/// The minimum priorities the page workloads filter on.
const MIN_PRIORITIES: [i64; 4] = [0, 3, 5, 7];

/// One server as the workloads see it.
#[derive(Clone)]
pub struct Side {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub client: Client,
    /// The server process, for its RSS.
    pub pid: u32,
    /// Ids of the seeded records.
    pub ids: Arc<Vec<String>>,
}

/// Everything the workloads share.
pub struct Bench {
    pub fathom: Side,
    pub baseline: Side,
    pub admin_token: Arc<str>,
    /// The non-admin users who own the rows (W4) and log in (W6).
    pub users: Arc<Vec<Session>>,
    /// The bounds of one whole measurement, shared out over the rounds.
    pub bounds: Bounds,
    /// Fathom and the baseline take turns this many times in each workload.
    pub rounds: u32,
    pub warmup: Duration,
    /// Workers for the closed-loop read and page workloads.
    pub concurrency: usize,
    /// The rate of the open-loop read workload.
    pub open_rate: f64,
    /// Workers sending logins in W6.
    pub login_concurrency: usize,
    /// Workers reading during W6.
    pub flood_read_concurrency: usize,
}

impl Bench {
    /// Two Fathom servers of the same bench schema compared on the single-user workloads (W1,
    /// W2): no users, one closed loop of `concurrency` workers.
    pub fn two_fathoms(
        fathom: Side,
        baseline: Side,
        admin_token: Arc<str>,
        bounds: Bounds,
        (rounds, warmup): (u32, Duration),
        concurrency: usize,
    ) -> Self {
        Self {
            fathom,
            baseline,
            admin_token,
            users: Arc::new(Vec::new()),
            bounds,
            rounds,
            warmup,
            concurrency,
            open_rate: 0.0,
            login_concurrency: 1,
            flood_read_concurrency: 1,
        }
    }

    fn owners(&self) -> Arc<Vec<String>> {
        Arc::new(self.users.iter().map(|u| u.user_id.clone()).collect())
    }

    /// Warms up (if `warm`), then runs `op` under `load` for one round; returns what it
    /// measured and the CPU time `pid` spent meanwhile.
    async fn round(&self, load: Load, op: &Op, pid: u32, warm: bool) -> (Outcome, Option<f64>) {
        if warm && !self.warmup.is_zero() {
            let warm = op.clone();
            let bounds = Bounds {
                duration: self.warmup,
                max_requests: u64::MAX,
            };
            loadgen::run(load, bounds, move |n| warm(n + WARMUP_OFFSET)).await;
        }
        let rounds = self.rounds.max(1);
        let bounds = Bounds {
            duration: self.bounds.duration / rounds,
            max_requests: self.bounds.max_requests / u64::from(rounds),
        };
        let measured = op.clone();
        let cpu_before = proc_stats::cpu_seconds(pid);
        let outcome = loadgen::run(load, bounds, move |n| measured(n)).await;
        let cpu = proc_stats::cpu_seconds(pid)
            .zip(cpu_before)
            .map(|(after, before)| after - before);
        (outcome, cpu)
    }

    /// Runs one workload against Fathom and (if it has one) the baseline's equivalent, taking
    /// turns round by round (Fathom, baseline, Fathom, …) so that a machine whose speed drifts
    /// during the run weighs on both alike; each side's rounds are added up. The RSS of each
    /// server is read at the end.
    async fn compare(
        &self,
        (id, name): (&str, &str),
        load: Load,
        fathom: Op,
        baseline: Option<Op>,
    ) -> WorkloadResult {
        let mut fathom_total = Rounds::new();
        let mut baseline_total = baseline.as_ref().map(|_| Rounds::new());
        for round in 0..self.rounds.max(1) {
            let first = round == 0;
            fathom_total.add(self.round(load, &fathom, self.fathom.pid, first).await);
            if let (Some(op), Some(total)) = (&baseline, &mut baseline_total) {
                total.add(self.round(load, op, self.baseline.pid, first).await);
            }
        }
        let fathom = fathom_total.summary(self.fathom.pid);
        let baseline = baseline_total.map(|total| total.summary(self.baseline.pid));
        let result = WorkloadResult {
            id: id.into(),
            name: name.into(),
            load: load.describe(),
            ratio: baseline.as_ref().map(|b| Ratio::of(&fathom, b)),
            fathom,
            baseline,
        };
        announce(&result);
        result
    }

    /// W1: creates, one commit each on the baseline, group commit on Fathom.
    pub async fn w1_create(&self, concurrency: usize) -> WorkloadResult {
        let owners = self.owners();
        let fathom = fathom_create(&self.fathom, self.admin_token.clone(), owners.clone());
        let body = move |n: u64| item(n, &mut Lcg::new(mix(n)), &owners);
        let (client, url) = (
            self.baseline.client.clone(),
            format!("{}/items", self.baseline.base),
        );
        let baseline = op(move |n| expect_status(client.post(&url).json(&body(n)), 201));
        self.compare(
            ("W1", "create"),
            Load::Closed { concurrency },
            fathom,
            Some(baseline),
        )
        .await
    }

    /// W1 against two Fathom servers, `fathom` and `baseline` (another build of Fathom), each
    /// sent creates with its own administrator's token.
    pub async fn w1_create_fathoms(
        &self,
        concurrency: usize,
        baseline_token: Arc<str>,
        owners: Arc<Vec<String>>,
    ) -> WorkloadResult {
        let fathom = fathom_create(&self.fathom, self.admin_token.clone(), owners.clone());
        let baseline = fathom_create(&self.baseline, baseline_token, owners);
        self.compare(
            ("W1", "create"),
            Load::Closed { concurrency },
            fathom,
            Some(baseline),
        )
        .await
    }

    fn fathom_get(&self) -> Op {
        fathom_get(&self.fathom, self.admin_token.clone())
    }

    fn baseline_get(&self) -> Op {
        let (client, ids) = (self.baseline.client.clone(), self.baseline.ids.clone());
        let base = format!("{}/items/", self.baseline.base);
        op(move |n| expect_status(client.get(format!("{base}{}", pick(&ids, n))), 200))
    }

    /// W2 against two Fathom servers, `fathom` and `baseline` (another configuration of
    /// Fathom), each read with its own administrator's token.
    pub async fn w2_get_fathoms(&self, load: Load, baseline_token: Arc<str>) -> WorkloadResult {
        let fathom = self.fathom_get();
        let baseline = fathom_get(&self.baseline, baseline_token);
        self.compare(("W2", "get by id"), load, fathom, Some(baseline))
            .await
    }

    /// W2: a random existing record by id; Fathom's requests carry the admin's access token.
    pub async fn w2_get(&self, load: Load) -> WorkloadResult {
        let (fathom, baseline) = (self.fathom_get(), self.baseline_get());
        self.compare(("W2", "get by id"), load, fathom, Some(baseline))
            .await
    }

    /// W3: `status = S && priority >= P`, newest first, 20 a page, as the administrator.
    pub async fn w3_page(&self, load: Load) -> WorkloadResult {
        let fathom_urls = Arc::new(fathom_page_urls(&self.fathom.base));
        let baseline_urls = Arc::new(baseline_page_urls(&self.baseline.base, None));
        let (client, token) = (self.fathom.client.clone(), self.admin_token.clone());
        let fathom = op(move |n| {
            let url = pick(&fathom_urls, n);
            expect_status(client.get(url).bearer_auth(&*token), 200)
        });
        let client = self.baseline.client.clone();
        let baseline = op(move |n| expect_status(client.get(pick(&baseline_urls, n)), 200));
        self.compare(
            ("W3", "filtered, sorted page of 20"),
            load,
            fathom,
            Some(baseline),
        )
        .await
    }

    /// W3 with `count=true` against two Fathom servers, `fathom` and `baseline` (another
    /// configuration of Fathom: the result cache's comparison), each with its own
    /// administrator's token.
    pub async fn w3_count_fathoms(&self, load: Load, baseline_token: Arc<str>) -> WorkloadResult {
        self.w3_fathoms(
            "filtered, sorted page of 20 with count=true",
            &[("count", "true")],
            load,
            baseline_token,
        )
        .await
    }

    /// W3 as it is against two Fathom servers, `fathom` and `baseline` (another configuration
    /// of Fathom: shape recording's comparison), each with its own administrator's token.
    pub async fn w3_page_fathoms(&self, load: Load, baseline_token: Arc<str>) -> WorkloadResult {
        self.w3_fathoms("filtered, sorted page of 20", &[], load, baseline_token)
            .await
    }

    /// The W3 page with `extra` query parameters against two Fathom servers.
    async fn w3_fathoms(
        &self,
        name: &'static str,
        extra: &[(&str, &str)],
        load: Load,
        baseline_token: Arc<str>,
    ) -> WorkloadResult {
        let page = |side: &Side, token: Arc<str>| {
            let urls = Arc::new(fathom_page_urls_with(&side.base, extra));
            let client = side.client.clone();
            op(move |n| expect_status(client.get(pick(&urls, n)).bearer_auth(&*token), 200))
        };
        let fathom = page(&self.fathom, self.admin_token.clone());
        let baseline = page(&self.baseline, baseline_token);
        self.compare(("W3", name), load, fathom, Some(baseline))
            .await
    }

    /// W4: the W3 page as ordinary users, each seeing only the rows they own (the collection's
    /// list rule `owner = auth.id`); the baseline gets the owner as a plain parameter.
    pub async fn w4_owner_page(&self) -> WorkloadResult {
        let fathom = owner_page(&self.fathom, self.users.clone());
        let per_user: Arc<Vec<Vec<String>>> = Arc::new(
            self.users
                .iter()
                .map(|u| baseline_page_urls(&self.baseline.base, Some(&u.user_id)))
                .collect(),
        );
        let client = self.baseline.client.clone();
        let baseline = op(move |n| {
            let urls = pick(&per_user, n);
            expect_status(client.get(pick(urls, mix(n))), 200)
        });
        self.w4(fathom, baseline).await
    }

    /// W4 against two Fathom servers, `fathom` read by [`Bench::users`] and `baseline` (another
    /// build of Fathom) by `baseline_users`: the same users registered there, owning the same
    /// rows.
    pub async fn w4_owner_page_fathoms(&self, baseline_users: Arc<Vec<Session>>) -> WorkloadResult {
        let fathom = owner_page(&self.fathom, self.users.clone());
        let baseline = owner_page(&self.baseline, baseline_users);
        self.w4(fathom, baseline).await
    }

    async fn w4(&self, fathom: Op, baseline: Op) -> WorkloadResult {
        self.compare(
            ("W4", "page under the owner rule"),
            Load::Closed {
                concurrency: self.concurrency,
            },
            fathom,
            Some(baseline),
        )
        .await
    }

    /// W6: reads alone, then the same reads while a flood of password logins runs.
    pub async fn w6_logins(&self) -> Vec<WorkloadResult> {
        let reads = Load::Closed {
            concurrency: self.flood_read_concurrency,
        };
        let alone = self
            .compare(
                ("W6", "get by id, no logins"),
                reads,
                self.fathom_get(),
                Some(self.baseline_get()),
            )
            .await;

        let (client, users) = (self.fathom.client.clone(), self.users.clone());
        let url = format!("{}/api/v1/auth/login", self.fathom.base);
        let login = op(move |n| {
            let user = pick(&users, n);
            let body = json!({ "email": user.email, "password": user.password });
            expect_status(client.post(&url).json(&body), 200)
        });
        let logins_load = Load::Closed {
            concurrency: self.login_concurrency,
        };
        let bounds = self.bounds;
        let flood =
            tokio::spawn(async move { loadgen::run(logins_load, bounds, move |n| login(n)).await });
        let get = self.fathom_get();
        let during = loadgen::run(reads, bounds, move |n| get(n)).await;
        let flood = match flood.await {
            Ok(outcome) => outcome,
            Err(e) => {
                let mut failed = loadgen::Outcome::empty();
                failed.errors = 1;
                failed.first_error = Some(format!("the login flood panicked: {e}"));
                failed
            }
        };
        let rss = proc_stats::rss_mib(self.fathom.pid);
        let fathom_only = |name: &str, load: Load, summary: Summary| WorkloadResult {
            id: "W6".into(),
            name: name.into(),
            load: load.describe(),
            fathom: summary,
            baseline: None,
            ratio: None,
        };
        let during = fathom_only(
            "get by id, during the login flood",
            reads,
            Summary::from_outcome(&during, rss),
        );
        let logins = fathom_only(
            "password logins (the flood)",
            logins_load,
            Summary::from_outcome(&flood, rss),
        );
        announce(&during);
        announce(&logins);
        vec![alone, during, logins]
    }
}

/// One side's rounds of a workload, added up.
struct Rounds {
    outcome: Outcome,
    /// Server CPU seconds, `None` once any round could not read it.
    cpu: Option<f64>,
}

impl Rounds {
    fn new() -> Self {
        Self {
            outcome: Outcome::empty(),
            cpu: Some(0.0),
        }
    }

    fn add(&mut self, (outcome, cpu): (Outcome, Option<f64>)) {
        self.outcome.append(outcome);
        self.cpu = self.cpu.zip(cpu).map(|(sum, more)| sum + more);
    }

    /// The figures of all rounds; the RSS of `pid` is read now.
    fn summary(&self, pid: u32) -> Summary {
        Summary::from_outcome(&self.outcome, proc_stats::rss_mib(pid)).with_server_cpu(self.cpu)
    }
}

/// Fathom's create: `POST /api/v1/items` with an administrator's token.
fn fathom_create(side: &Side, token: Arc<str>, owners: Arc<Vec<String>>) -> Op {
    let (client, url) = (side.client.clone(), format!("{}/api/v1/items", side.base));
    op(move |n| {
        let body = item(n, &mut Lcg::new(mix(n)), &owners);
        expect_status(client.post(&url).bearer_auth(&*token).json(&body), 201)
    })
}

/// A random record of `side` by id, read with `token`.
fn fathom_get(side: &Side, token: Arc<str>) -> Op {
    let (client, ids) = (side.client.clone(), side.ids.clone());
    let base = format!("{}/api/v1/items/", side.base);
    op(move |n| {
        let id = pick(&ids, n);
        expect_status(client.get(format!("{base}{id}")).bearer_auth(&*token), 200)
    })
}

/// The element a request's sequence number picks, spread over the slice.
fn pick<T>(items: &[T], n: u64) -> &T {
    &items[(mix(n) % items.len().max(1) as u64) as usize]
}

/// Fathom's page URLs: every status and minimum priority in the filter language.
fn fathom_page_urls(base: &str) -> Vec<String> {
    fathom_page_urls_with(base, &[])
}

/// [`fathom_page_urls`] with more query parameters (`count=true` for the cache's W3).
fn fathom_page_urls_with(base: &str, more: &[(&str, &str)]) -> Vec<String> {
    page_filters()
        .map(|(status, min)| {
            let filter = format!("status = \"{status}\" && priority >= {min}");
            let mut params = vec![
                ("filter", filter.as_str()),
                ("sort", "-created_at"),
                ("limit", "20"),
            ];
            params.extend_from_slice(more);
            url_with(&format!("{base}/api/v1/items"), &params)
        })
        .collect()
}

/// The baseline's page URLs: the same filters as plain parameters, with `owner` for W4.
fn baseline_page_urls(base: &str, owner: Option<&str>) -> Vec<String> {
    page_filters()
        .map(|(status, min)| {
            let min = min.to_string();
            let mut params = vec![("status", status), ("min_priority", &min), ("limit", "20")];
            if let Some(owner) = owner {
                params.push(("owner", owner));
            }
            url_with(&format!("{base}/items"), &params)
        })
        .collect()
}

fn page_filters() -> impl Iterator<Item = (&'static str, i64)> {
    STATUSES
        .into_iter()
        .flat_map(|status| MIN_PRIORITIES.into_iter().map(move |min| (status, min)))
}

/// `base` with `params` form-encoded (an invalid base gives an empty URL, which then fails
/// loudly as a request error).
fn url_with(base: &str, params: &[(&str, &str)]) -> String {
    Url::parse_with_params(base, params)
        .map(String::from)
        .unwrap_or_default()
}

/// Prints one finished workload, so a long run shows progress.
fn announce(result: &WorkloadResult) {
    let show = |s: &Summary| {
        format!(
            "{:>9.0} req/s  p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  errors {}",
            s.throughput, s.p50_ms, s.p95_ms, s.p99_ms, s.errors
        )
    };
    println!("{} {} ({})", result.id, result.name, result.load);
    println!("    Fathom    {}", show(&result.fathom));
    if let Some(error) = &result.fathom.first_error {
        println!("    Fathom's first error: {error}");
    }
    if let Some(baseline) = &result.baseline {
        println!("    baseline  {}", show(baseline));
        if let Some(error) = &baseline.first_error {
            println!("    baseline's first error: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_urls_encode_the_same_filters() {
        let fathom = fathom_page_urls("http://127.0.0.1:1");
        let baseline = baseline_page_urls("http://127.0.0.1:2", Some("u-1"));
        assert_eq!(fathom.len(), STATUSES.len() * MIN_PRIORITIES.len());
        assert_eq!(fathom.len(), baseline.len());
        assert_eq!(
            fathom[1],
            "http://127.0.0.1:1/api/v1/items?filter=status+%3D+%22open%22+%26%26+priority+%3E%3D+3&sort=-created_at&limit=20"
        );
        assert_eq!(
            baseline[1],
            "http://127.0.0.1:2/items?status=open&min_priority=3&limit=20&owner=u-1"
        );
    }
}

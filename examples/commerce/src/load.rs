//! Drives a run over HTTP, as the shop's clients would: staff stock each store's catalog, then
//! every customer fills carts and places orders concurrently (and cancels some), while the
//! latency of each placement is measured. [`Report`] holds the figures.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fathom_api::AppState;
use fathom_core::outbound::random_unit;
use serde_json::{Value as Json, json};
use uuid::Uuid;

use crate::seed::{PASSWORD, account};

/// What a run does.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The stores (tenants); customers and products are split evenly between them.
    pub tenants: Vec<String>,
    pub customers: usize,
    pub products: usize,
    /// The stock each product starts with.
    pub stock: i64,
    /// Orders placed in all (each customer places its share one after another).
    pub orders: usize,
    /// Every n-th order a customer places is cancelled at once (0: none).
    pub cancel_every: usize,
}

impl Plan {
    /// The run: 1,000 orders by 50 customers across two stores, 100 products.
    pub fn standard() -> Self {
        Self {
            tenants: vec!["north".into(), "south".into()],
            customers: 50,
            products: 100,
            stock: 25,
            orders: 1_000,
            cancel_every: 10,
        }
    }
}

/// A signed-in account.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: Uuid,
    pub email: String,
    pub tenant: String,
    pub token: String,
}

/// A product as created.
#[derive(Debug, Clone)]
pub struct Product {
    pub id: Uuid,
    pub tenant: String,
    pub stock: i64,
}

/// Who and what a run made.
#[derive(Debug, Clone, Default)]
pub struct World {
    pub staff: Vec<Member>,
    pub customers: Vec<Member>,
    pub products: Vec<Product>,
    /// Every order placed, with its customer's index.
    pub orders: Vec<(Uuid, usize)>,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub placed: usize,
    /// Orders refused with `out_of_stock` (nothing reserved, nothing written).
    pub out_of_stock: usize,
    /// Placements sent again after a conflict (two orders raced for one product).
    pub conflicts: usize,
    pub cancel_requests: usize,
    pub elapsed: Duration,
    /// Every placement's latency (its retries included), sorted.
    pub latencies: Vec<Duration>,
}

impl Report {
    /// Placement requests answered (placed or refused) per second of the run.
    pub fn orders_per_second(&self) -> f64 {
        (self.placed + self.out_of_stock) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency below which `q` (0..1) of the placements were answered.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank =
            ((self.latencies.len() as f64 * q).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[rank - 1]
    }
}

/// A client of the shop's HTTP API.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    pub fn new(base: impl Into<String>) -> anyhow::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(128)
            .build()?;
        Ok(Self {
            http,
            base: base.into(),
        })
    }

    /// Sends `method path` with `body` as `token`; the status and the JSON answer.
    pub async fn call(
        &self,
        method: reqwest::Method,
        token: Option<&str>,
        path: &str,
        body: Option<&Json>,
    ) -> anyhow::Result<(u16, Json)> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("calling {path}"))?;
        let status = response.status().as_u16();
        let json = response.json::<Json>().await.unwrap_or(Json::Null);
        Ok((status, json))
    }

    pub async fn post(&self, token: &str, path: &str, body: &Json) -> anyhow::Result<(u16, Json)> {
        self.call(reqwest::Method::POST, Some(token), path, Some(body))
            .await
    }

    pub async fn get(&self, token: &str, path: &str) -> anyhow::Result<(u16, Json)> {
        self.call(reqwest::Method::GET, Some(token), path, None)
            .await
    }

    /// Creates a record, expecting 201; its id.
    pub async fn create(&self, token: &str, collection: &str, body: &Json) -> anyhow::Result<Uuid> {
        let (status, answer) = self
            .post(token, &format!("/api/v1/{collection}"), body)
            .await?;
        if status != 201 {
            bail!("creating a {collection} record answered {status}: {answer}");
        }
        record_id(&answer)
    }

    pub async fn login(&self, email: &str) -> anyhow::Result<String> {
        let body = json!({ "email": email, "password": PASSWORD });
        let (status, answer) = self
            .call(
                reqwest::Method::POST,
                None,
                "/api/v1/auth/login",
                Some(&body),
            )
            .await?;
        match answer["data"]["access_token"].as_str() {
            Some(token) if status == 200 => Ok(token.to_owned()),
            _ => bail!("signing in {email} answered {status}: {answer}"),
        }
    }
}

/// The id of a record in an answer (`{"data": {...}}` or the record itself).
pub fn record_id(answer: &Json) -> anyhow::Result<Uuid> {
    let record = if answer["data"].is_object() {
        &answer["data"]
    } else {
        answer
    };
    record["id"]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .with_context(|| format!("no record id in {answer}"))
}

/// Creates the accounts and the catalog of `plan`.
pub async fn prepare(state: &AppState, api: &Api, plan: &Plan) -> anyhow::Result<World> {
    let mut world = World::default();
    let run = Uuid::now_v7().simple().to_string();
    let run = &run[run.len() - 8..];
    for tenant in &plan.tenants {
        let email = format!("staff-{tenant}-{run}@example.com");
        let id = account(state, &email, "staff", tenant).await?;
        let token = api.login(&email).await?;
        world.staff.push(Member {
            id,
            email,
            tenant: tenant.clone(),
            token,
        });
    }
    for n in 0..plan.customers {
        let tenant = &plan.tenants[n % plan.tenants.len()];
        let email = format!("customer-{n}-{run}@example.com");
        let id = account(state, &email, "customer", tenant).await?;
        let token = api.login(&email).await?;
        world.customers.push(Member {
            id,
            email,
            tenant: tenant.clone(),
            token,
        });
    }
    for n in 0..plan.products {
        let staff = &world.staff[n % world.staff.len()];
        let price = format!("{}.{:02}", 2 + n % 40, (n * 37) % 100);
        let body = json!({
            "name": format!("Product {n}"),
            "sku": format!("SKU-{n:04}"),
            "price": price,
            "stock": plan.stock,
        });
        let id = api.create(&staff.token, "products", &body).await?;
        world.products.push(Product {
            id,
            tenant: staff.tenant.clone(),
            stock: plan.stock,
        });
    }
    Ok(world)
}

/// Every customer places its share of the orders at once; returns the figures and the orders.
pub async fn place_orders(api: &Api, plan: &Plan, world: &mut World) -> anyhow::Result<Report> {
    let share = plan.orders.div_ceil(world.customers.len().max(1));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (index, customer) in world.customers.iter().enumerate() {
        let products: Vec<Uuid> = world
            .products
            .iter()
            .filter(|p| p.tenant == customer.tenant)
            .map(|p| p.id)
            .collect();
        let count = share.min(plan.orders.saturating_sub(index * share));
        let (api, customer, cancel_every) = (api.clone(), customer.clone(), plan.cancel_every);
        tasks.spawn(async move {
            shopper(&api, &customer, &products, count, cancel_every)
                .await
                .map(|outcome| (index, outcome))
        });
    }
    let mut report = Report::default();
    while let Some(joined) = tasks.join_next().await {
        let (index, outcome) = joined.context("a shopper task panicked")??;
        report.placed += outcome.placed.len();
        report.out_of_stock += outcome.out_of_stock;
        report.conflicts += outcome.conflicts;
        report.cancel_requests += outcome.cancels;
        report.latencies.extend(outcome.latencies);
        world
            .orders
            .extend(outcome.placed.into_iter().map(|id| (id, index)));
    }
    report.elapsed = started.elapsed();
    report.latencies.sort();
    Ok(report)
}

#[derive(Default)]
struct Outcome {
    placed: Vec<Uuid>,
    out_of_stock: usize,
    conflicts: usize,
    cancels: usize,
    latencies: Vec<Duration>,
}

/// How often a placement that lost a race for a product is sent again.
const PLACEMENT_ATTEMPTS: usize = 20;

async fn shopper(
    api: &Api,
    customer: &Member,
    products: &[Uuid],
    orders: usize,
    cancel_every: usize,
) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::default();
    let pick = |n: usize| ((random_unit() * n as f64) as usize).min(n.saturating_sub(1));
    for n in 0..orders {
        let cart = api
            .create(
                &customer.token,
                "carts",
                &json!({ "customer": customer.id }),
            )
            .await?;
        for _ in 0..1 + pick(3) {
            let line = json!({
                "cart": cart,
                "product": products[pick(products.len())],
                "quantity": 1 + pick(3),
            });
            api.create(&customer.token, "cart_lines", &line).await?;
        }
        let started = Instant::now();
        let mut attempt = 0;
        let (status, answer) = loop {
            let (status, answer) = api
                .post(
                    &customer.token,
                    "/api/v1/shop/orders",
                    &json!({ "cart": cart }),
                )
                .await?;
            attempt += 1;
            // A conflict that is not the shop's own refusal: another order took the product's
            // version first and the engine's retries ran out. The customer tries again.
            let race =
                matches!(status, 409 | 412) && !answer["code"].as_str().is_some_and(shop_code);
            if race && attempt < PLACEMENT_ATTEMPTS {
                outcome.conflicts += 1;
                tokio::time::sleep(Duration::from_millis(5 * attempt as u64)).await;
                continue;
            }
            break (status, answer);
        };
        outcome.latencies.push(started.elapsed());
        match (status, answer["code"].as_str()) {
            (201, _) => {
                let order = record_id(&answer)?;
                outcome.placed.push(order);
                if cancel_every > 0 && n % cancel_every == cancel_every - 1 {
                    outcome.cancels += 1;
                    // Some time after placing: some orders are paid by then (a refund), some
                    // fulfilled (too late to cancel).
                    let pause = Duration::from_millis((random_unit() * 300.0) as u64);
                    tokio::time::sleep(pause).await;
                    cancel(api, customer, order).await?;
                }
            }
            (409, Some("out_of_stock")) => outcome.out_of_stock += 1,
            _ => bail!("placing an order answered {status}: {answer}"),
        }
    }
    Ok(outcome)
}

/// Cancels `order` as its customer; a cancel that comes after fulfilment is refused with
/// `invalid_transition`, which is an answer too.
async fn cancel(api: &Api, customer: &Member, order: Uuid) -> anyhow::Result<()> {
    let path = format!("/api/v1/shop/orders/{order}/cancel");
    for attempt in 1..=PLACEMENT_ATTEMPTS {
        let (status, answer) = api.post(&customer.token, &path, &json!({})).await?;
        let code = answer["code"].as_str().unwrap_or_default();
        if status == 200 || code == "invalid_transition" {
            return Ok(());
        }
        if !matches!(status, 409 | 412) || attempt == PLACEMENT_ATTEMPTS {
            bail!("cancelling {order} answered {status}: {answer}");
        }
        tokio::time::sleep(Duration::from_millis(5 * attempt as u64)).await;
    }
    Ok(())
}

/// The shop's own refusal codes (a 409 with one of them is an answer, not a race).
fn shop_code(code: &str) -> bool {
    matches!(
        code,
        "out_of_stock" | "cart_checked_out" | "product_unavailable" | "invalid_transition"
    )
}

/// Every record of `collection` that `token` may list, page by page.
pub async fn list_all(api: &Api, token: &str, collection: &str) -> anyhow::Result<Vec<Json>> {
    let mut records = Vec::new();
    let mut path = format!("/api/v1/{collection}?limit=100");
    loop {
        let (status, answer) = api.get(token, &path).await?;
        if status != 200 {
            bail!("listing {collection} answered {status}: {answer}");
        }
        records.extend(answer["data"].as_array().cloned().unwrap_or_default());
        match answer["meta"]["page"]["next"].as_str() {
            Some(next) => path = format!("/api/v1/{collection}?limit=100&cursor={next}"),
            None => return Ok(records),
        }
    }
}

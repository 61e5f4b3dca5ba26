//! The shop's hooks and routes one request at a time: a short order is refused with the shop's
//! own problem and writes nothing; an order reserves its stock in its own transaction; a cancel
//! gives the stock back at once and the charge made meanwhile is refunded after commit; the
//! provider never charges one idempotency key twice.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use commerce::check::all;
use commerce::load::{Api, Plan, list_all, prepare};
use commerce::provider::Chaos;
use commerce::records::Fields;
use commerce::scenario;
use serde_json::json;
use uuid::Uuid;

fn plan() -> Plan {
    Plan {
        tenants: vec!["corner".into()],
        customers: 1,
        products: 1,
        stock: 3,
        orders: 0,
        cancel_every: 0,
    }
}

/// Opens a cart for `customer` with `quantity` of `product` and places its order: the cart, and
/// the shop's answer.
async fn place(
    api: &Api,
    token: &str,
    customer: Uuid,
    product: Uuid,
    quantity: i64,
) -> (Uuid, u16, serde_json::Value) {
    let cart = api
        .create(token, "carts", &json!({ "customer": customer }))
        .await
        .unwrap();
    let line = json!({ "cart": cart, "product": product, "quantity": quantity });
    api.create(token, "cart_lines", &line).await.unwrap();
    let (status, answer) = api
        .post(token, "/api/v1/shop/orders", &json!({ "cart": cart }))
        .await
        .unwrap();
    (cart, status, answer)
}

/// Waits (30 s at most) until the order `order` is in `status`.
async fn wait_for_status(api: &Api, token: &str, order: &str, status: &str) {
    let started = Instant::now();
    loop {
        let (_, read) = api
            .get(token, &format!("/api/v1/orders/{order}"))
            .await
            .unwrap();
        if read["data"]["status"] == status {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{read}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_reserve_refuse_and_cancel_within_their_transaction() {
    let data = tempfile::tempdir().unwrap();
    let mut config = scenario::config(data.path());
    let database = scenario::scratch_database(&mut config).await.unwrap();
    let running = scenario::start(config).await.unwrap();
    let (api, state) = (&running.api, &running.state);
    let world = prepare(state, api, &plan()).await.unwrap();
    let customer = &world.customers[0];
    let token = customer.token.as_str();
    let product = world.products[0].id;
    let stock = |answer: serde_json::Value| answer["data"]["stock"].as_i64();

    // Five asked, three left: refused with the shop's code, and nothing written at all.
    let (short, status, answer) = place(api, token, customer.id, product, 5).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["code"], "out_of_stock");
    assert_eq!(answer["errors"][0]["field"], "cart");
    let (_, read) = api
        .get(token, &format!("/api/v1/products/{product}"))
        .await
        .unwrap();
    assert_eq!(stock(read), Some(3));
    let (_, cart) = api
        .get(token, &format!("/api/v1/carts/{short}"))
        .await
        .unwrap();
    assert_eq!(cart["data"]["status"], "open");
    assert!(list_all(api, token, "orders").await.unwrap().is_empty());
    assert!(
        all(&state.store, &state.schema, "reservations")
            .await
            .unwrap()
            .is_empty()
    );

    // The provider answers slowly (within the client's timeout), so the order is still
    // reserved when it is cancelled.
    running.provider.set_chaos(Chaos {
        delay_ms: 250,
        ..Chaos::default()
    });
    let (cart, status, placed) = place(api, token, customer.id, product, 2).await;
    assert_eq!(status, 201, "{placed}");
    assert_eq!(placed["data"]["status"], "reserved");
    assert_eq!(placed["data"]["customer"], customer.id.to_string());
    let order = placed["data"]["id"].as_str().unwrap().to_owned();
    let (status, cancelled) = api
        .post(
            token,
            &format!("/api/v1/shop/orders/{order}/cancel"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["data"]["status"], "cancelled");
    let (_, read) = api
        .get(token, &format!("/api/v1/products/{product}"))
        .await
        .unwrap();
    assert_eq!(
        stock(read),
        Some(3),
        "the cancel gives the stock back at once"
    );
    let reservations = all(&state.store, &state.schema, "reservations")
        .await
        .unwrap();
    assert_eq!(reservations.len(), 1);
    assert_eq!(
        Fields::of(&reservations[0]).text("status"),
        Some("released")
    );

    // The charge that was in flight lands, and the flow refunds it: the order ends refunded.
    wait_for_status(api, token, &order, "refunded").await;
    let charges = running.provider.charges();
    assert_eq!(charges.len(), 1);
    assert!(charges[0].refunded);
    // The same cart cannot be ordered twice.
    let (status, again) = api
        .post(token, "/api/v1/shop/orders", &json!({ "cart": cart }))
        .await
        .unwrap();
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("cart_checked_out"))
    );
    // The hooks run on Fathom's REST API too: no line joins a checked-out cart there.
    let line = json!({ "cart": cart, "product": product, "quantity": 1 });
    let (status, refused) = api.post(token, "/api/v1/cart_lines", &line).await.unwrap();
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("cart_checked_out")),
        "{refused}"
    );
    // The shop's codes are declared, so the OpenAPI document lists them.
    let (_, document) = api.get(token, "/api/v1/openapi.json").await.unwrap();
    let codes = &document["components"]["schemas"]["Problem"]["properties"]["code"]["enum"];
    for code in commerce::hooks::CODES {
        assert!(
            codes.as_array().unwrap().contains(&json!(code.code)),
            "{}",
            code.code
        );
    }

    // An order left alone is paid and fulfilled; its stock stays taken.
    let (_, status, placed) = place(api, token, customer.id, product, 1).await;
    assert_eq!(status, 201, "{placed}");
    let kept = placed["data"]["id"].as_str().unwrap().to_owned();
    let (_, read) = api
        .get(token, &format!("/api/v1/products/{product}"))
        .await
        .unwrap();
    assert_eq!(stock(read), Some(2), "the stock is taken with the order");
    wait_for_status(api, token, &kept, "fulfilled").await;
    let (_, read) = api
        .get(token, &format!("/api/v1/products/{product}"))
        .await
        .unwrap();
    assert_eq!(stock(read), Some(2));
    let charged: Vec<_> = running
        .provider
        .charges()
        .into_iter()
        .filter(|c| c.order == kept && !c.refunded)
        .collect();
    assert_eq!(charged.len(), 1);
    // A cancelled order cannot be cancelled again.
    let (status, again) = api
        .post(
            token,
            &format!("/api/v1/shop/orders/{order}/cancel"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("invalid_transition"))
    );
    running.stop().await.unwrap();
    drop(database);
}

#[tokio::test]
async fn the_provider_never_charges_one_key_twice() {
    let provider = commerce::provider::Provider::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(provider.clone().serve(listener));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let charge = |key: Option<&'static str>| {
        let mut request = http
            .post(format!("{base}/charges"))
            .json(&json!({ "order": "o-1", "amount_cents": 1250 }));
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send()
    };
    let first = charge(Some("k-1")).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: serde_json::Value = first.json().await.unwrap();
    let again = charge(Some("k-1")).await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    let missing = charge(None).await.unwrap();
    assert_eq!(missing.status(), 400);
    let ledger: serde_json::Value = http
        .get(format!("{base}/charges?order=o-1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ledger.as_array().map(Vec::len), Some(1));
    let bad = http
        .put(format!("{base}/control"))
        .json(&json!({ "fail_percent": 150 }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

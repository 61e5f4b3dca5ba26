//! Commerce, end to end (issue 18): 1,000 orders placed concurrently by 50 customers across two
//! stores against 100 products with limited stock, while the payment provider fails 20 % of
//! calls and times out 5 %. Inventory is never oversold or negative, every order ends in a
//! terminal state, no order is charged twice, every failed payment released its reservation,
//! and no store sees another's orders. Prints orders per second and the p99 order latency.
//!
//! Runs on SQLite, or on PostgreSQL with `FATHOM_TEST_BACKEND=postgres` and
//! `FATHOM_TEST_PG_URL` (a superuser's URL, for a scratch database).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use commerce::check::TERMINAL;
use commerce::load::{Plan, list_all};
use commerce::provider::Chaos;
use commerce::scenario;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_orders_under_a_failing_provider_keep_every_invariant() {
    let data = tempfile::tempdir().unwrap();
    let mut config = scenario::config(data.path());
    let database = scenario::scratch_database(&mut config).await.unwrap();
    let plan = Plan::standard();
    let chaos = Chaos {
        fail_percent: 20.0,
        timeout_percent: 5.0,
        timeout_ms: 1_000,
        ..Chaos::default()
    };
    let finished = scenario::run(config, &plan, chaos).await.unwrap();
    let report = &finished.report;
    println!(
        "commerce: {} placed, {} out of stock, {} conflicts retried in {:.1} s: {:.1} orders/s, p50 {:.1} ms, p99 {:.1} ms; states {:?}; provider {:?}",
        report.placed,
        report.out_of_stock,
        report.conflicts,
        report.elapsed.as_secs_f64(),
        report.orders_per_second(),
        report.quantile(0.5).as_secs_f64() * 1e3,
        report.quantile(0.99).as_secs_f64() * 1e3,
        finished.states,
        finished.counts,
    );
    if let Ok(settled) = &finished.settled {
        println!("commerce: every invariant held {settled:?} after the last placement");
    }

    // The invariants (stock, terminal states, reservations, charges) all held within the limit.
    if let Err(problems) = &finished.settled {
        panic!(
            "{} invariants still broken after {:?}:\n{}",
            problems.len(),
            scenario::SETTLE_LIMIT,
            problems.join("\n")
        );
    }
    assert_eq!(report.placed + report.out_of_stock, plan.orders);
    assert_eq!(finished.world.orders.len(), report.placed);
    // The stock was limited enough to refuse orders, and the chaos was felt.
    assert!(report.out_of_stock > 0, "no order ran out of stock");
    assert!(finished.counts.failed > 0 && finished.counts.timed_out > 0);
    let total: usize = finished.states.values().sum();
    assert_eq!(total, report.placed);
    for state in finished.states.keys() {
        assert!(TERMINAL.contains(&state.as_str()), "state {state}");
    }
    for state in ["fulfilled", "payment_failed", "cancelled"] {
        assert!(finished.states.contains_key(state), "no order is {state}");
    }
    // No charge twice: one charge at most per order in the provider's ledger, over HTTP too.
    let charges = finished.running.provider.charges();
    let orders: HashSet<_> = charges.iter().map(|c| c.order.clone()).collect();
    assert_eq!(orders.len(), charges.len(), "an order was charged twice");

    // No store sees another's orders: each staff member lists exactly their store's, each
    // customer exactly their own, and another store's order answers 404.
    let api = &finished.running.api;
    let placed: std::collections::HashMap<String, usize> = finished
        .world
        .orders
        .iter()
        .map(|(id, customer)| (id.to_string(), *customer))
        .collect();
    for staff in &finished.world.staff {
        let seen = list_all(api, &staff.token, "orders").await.unwrap();
        let expected = placed
            .values()
            .filter(|&&c| finished.world.customers[c].tenant == staff.tenant)
            .count();
        assert_eq!(
            seen.len(),
            expected,
            "{} sees {} orders",
            staff.email,
            seen.len()
        );
        for order in &seen {
            assert_eq!(order["tenant"], staff.tenant.as_str());
            let customer = placed[order["id"].as_str().unwrap()];
            assert_eq!(finished.world.customers[customer].tenant, staff.tenant);
        }
        let foreign = placed
            .iter()
            .find(|(_, c)| finished.world.customers[**c].tenant != staff.tenant)
            .map(|(id, _)| id.clone())
            .unwrap();
        let (status, _) = api
            .get(&staff.token, &format!("/api/v1/orders/{foreign}"))
            .await
            .unwrap();
        assert_eq!(status, 404, "staff of {} reached {foreign}", staff.tenant);
    }
    for (index, customer) in finished.world.customers.iter().enumerate().step_by(7) {
        let seen = list_all(api, &customer.token, "orders").await.unwrap();
        let expected = placed.values().filter(|&&c| c == index).count();
        assert_eq!(seen.len(), expected);
        for order in &seen {
            assert_eq!(order["customer"], customer.id.to_string());
        }
    }
    finished.running.stop().await.unwrap();
    drop(database);
}

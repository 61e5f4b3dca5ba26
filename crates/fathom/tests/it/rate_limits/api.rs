//! The data API's limits on one node.

use serde_json::json;

use super::support::{header, policy, remaining};
use crate::helpers::{
    assert_problem, client_builder, json_with_status, mint_user, send_as, spawn_app_with,
};

const SCHEMA: &str = r#"
[collections.posts]
fields.title = { type = "text", required = true }
rules = { list = true, view = true, create = true }
"#;

fn quota(text: &str) -> Option<String> {
    Some(text.to_owned())
}

#[tokio::test]
async fn anonymous_reads_carry_the_fields_and_the_quota_ends_in_a_429_naming_the_policy() {
    let app = spawn_app_with(SCHEMA, |c| {
        c.rate_limits.anonymous.read = quota("3/min");
    })
    .await;
    for left in [2, 1, 0] {
        let response = send_as(&app, "GET", "/api/v1/posts", None, None).await;
        assert_eq!(
            policy(&response),
            Some(("anonymous.read".into(), 3, 60)),
            "RateLimit-Policy"
        );
        let (name, r, t) = remaining(&response).expect("RateLimit");
        assert_eq!((name.as_str(), r), ("anonymous.read", left));
        assert!((1..=60).contains(&t), "t = {t}");
        assert_eq!(
            header(&response, "ratelimit-limit"),
            None,
            "not the old triple"
        );
        json_with_status(response, 200).await;
    }
    let refused = send_as(&app, "GET", "/api/v1/posts", None, None).await;
    let retry_after: u64 = header(&refused, "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in whole seconds");
    assert!((1..=20).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(remaining(&refused).map(|r| r.1), Some(0));
    let body = assert_problem(refused, 429, "too_many_requests").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("\"anonymous.read\""),
        "{body}"
    );

    // Another class has its own budget; the probes are not limited at all.
    let write = send_as(
        &app,
        "POST",
        "/api/v1/posts",
        None,
        Some(json!({"title": "still allowed"})),
    )
    .await;
    assert_eq!(policy(&write).map(|p| p.0), Some("anonymous.write".into()));
    json_with_status(write, 201).await;
    let health = send_as(&app, "GET", "/health", None, None).await;
    assert_eq!(header(&health, "ratelimit"), None);
}

#[tokio::test]
async fn users_are_counted_apart_under_their_roles_quota() {
    let app = spawn_app_with(SCHEMA, |c| {
        c.rate_limits.default.read = quota("2/min");
        c.rate_limits.roles.insert(
            "editor".into(),
            fathom::config::ClassQuotaConfig {
                read: quota("4/min"),
                ..Default::default()
            },
        );
    })
    .await;
    let (_, alice) = mint_user(&app.store, &app.auth, "alice@example.com", &["user"]).await;
    let (_, bob) = mint_user(&app.store, &app.auth, "bob@example.com", &["user"]).await;
    let (_, eve) = mint_user(
        &app.store,
        &app.auth,
        "eve@example.com",
        &["user", "editor"],
    )
    .await;
    let statuses = |token: String, n: usize| {
        let app = &app;
        async move {
            let mut statuses = Vec::new();
            for _ in 0..n {
                let response = send_as(app, "GET", "/api/v1/posts", Some(&token), None).await;
                statuses.push((response.status().as_u16(), policy(&response).map(|p| p.0)));
            }
            statuses
        }
    };
    let default = Some("default.read".to_owned());
    assert_eq!(
        statuses(alice.clone(), 3).await,
        vec![
            (200, default.clone()),
            (200, default.clone()),
            (429, default.clone())
        ]
    );
    assert_eq!(
        statuses(bob, 2).await,
        vec![(200, default.clone()), (200, default.clone())],
        "another user has a budget of their own"
    );
    let editor = Some("roles.editor.read".to_owned());
    let eve = statuses(eve, 5).await;
    assert_eq!(eve.iter().filter(|(s, _)| *s == 200).count(), 4, "{eve:?}");
    assert!(eve.iter().all(|(_, p)| *p == editor), "{eve:?}");
    // The user's writes are another class.
    let write = send_as(
        &app,
        "POST",
        "/api/v1/posts",
        Some(&alice),
        Some(json!({"title": "mine"})),
    )
    .await;
    assert_eq!(policy(&write).map(|p| p.0), Some("default.write".into()));
}

#[tokio::test]
async fn an_api_key_has_a_budget_of_its_own() {
    let app = spawn_app_with(SCHEMA, |c| {
        c.rate_limits.api_keys.read = quota("2/min");
        c.rate_limits.anonymous.read = quota("100/min");
    })
    .await;
    let created = json_with_status(
        app.post_json(
            "/api/v1/admin/api-keys",
            &json!({"name": "reports", "scopes": ["posts:list"]}),
        )
        .await,
        201,
    )
    .await;
    let key = created["data"]["key"].as_str().unwrap().to_owned();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = send_as(&app, "GET", "/api/v1/posts", Some(&key), None).await;
        assert_eq!(policy(&response).map(|p| p.0), Some("api_keys.read".into()));
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 429]);
    let anonymous = send_as(&app, "GET", "/api/v1/posts", None, None).await;
    assert_eq!(
        anonymous.status(),
        200,
        "the key's budget is not the address's"
    );
}

#[tokio::test]
async fn forwarded_for_counts_a_trusted_proxys_clients_apart_and_nobody_elses() {
    let limited = |trusted: bool| {
        spawn_app_with(SCHEMA, move |c| {
            c.rate_limits.anonymous.read = quota("1/min");
            if trusted {
                c.auth.trusted_proxies = vec!["127.0.0.1".into()];
            }
        })
    };
    let get_from = |app: &crate::helpers::TestApp, address: &str| {
        app.anonymous
            .get(app.url("/api/v1/posts"))
            .header("x-forwarded-for", address)
            .send()
    };
    let direct = limited(false).await;
    assert_eq!(
        get_from(&direct, "198.51.100.1").await.unwrap().status(),
        200
    );
    assert_eq!(
        get_from(&direct, "198.51.100.2").await.unwrap().status(),
        429,
        "an invented address does not escape the limit"
    );
    let proxied = limited(true).await;
    assert_eq!(
        get_from(&proxied, "198.51.100.1").await.unwrap().status(),
        200
    );
    assert_eq!(
        get_from(&proxied, "198.51.100.2").await.unwrap().status(),
        200
    );
    assert_eq!(
        get_from(&proxied, "198.51.100.1").await.unwrap().status(),
        429
    );
}

#[tokio::test]
async fn switched_off_nothing_is_counted_or_sent_and_metrics_count_rejections_by_class() {
    let off = spawn_app_with(SCHEMA, |c| {
        c.rate_limits.enabled = false;
        c.rate_limits.anonymous.read = quota("1/min");
    })
    .await;
    for _ in 0..3 {
        let response = send_as(&off, "GET", "/api/v1/posts", None, None).await;
        assert_eq!(header(&response, "ratelimit-policy"), None);
        assert_eq!(response.status(), 200);
    }

    let on = spawn_app_with(SCHEMA, |c| {
        c.rate_limits.anonymous.write = quota("1/min");
        c.metrics.listen = Some("127.0.0.1:0".into());
    })
    .await;
    for _ in 0..3 {
        send_as(
            &on,
            "POST",
            "/api/v1/posts",
            None,
            Some(json!({"title": "t"})),
        )
        .await;
    }
    let scrape = client_builder()
        .build()
        .unwrap()
        .get(format!("http://{}/metrics", on.metrics_address.unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        scrape.contains("fathom_api_rate_limit_rejections_total{class=\"write\"} 2"),
        "{scrape}"
    );
    assert!(scrape.contains("fathom_rate_limit_shared 0"), "{scrape}");
    let ready = json_with_status(send_as(&on, "GET", "/ready", None, None).await, 200).await;
    assert_eq!(
        ready.get("rate_limits"),
        None,
        "said only with redis.url: {ready}"
    );
}

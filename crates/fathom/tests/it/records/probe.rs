use super::support::post_raw;
use crate::helpers::{TEST_SCHEMA, spawn_app};
use serde_json::json;

#[tokio::test]
async fn probe() {
    let app = spawn_app(TEST_SCHEMA).await;
    for (f, v) in [
        ("seen_at", json!("0000-01-01T00:30:00+01:00")),
        ("seen_at", json!("9999-12-31T23:30:00-01:00")),
        ("seen_at", json!("2026-01-31T23:59:60Z")),
        ("seen_at", json!("2026-01-31t10:30:00z")),
        ("seen_at", json!("2026-01-31 10:30:00Z")),
        ("price", json!("1e2")),
        ("price", json!(1e2)),
        ("price", json!("-0")),
        ("price", json!("0.12345678901234567890123456789")),
        ("price", json!("123456789012345678901234567890")),
        ("price", json!(" 12.5")),
        ("price", json!("1_000")),
        ("price", json!("+5")),
        ("price", json!(1e-7)),
        ("price", json!(0.1)),
        ("weight", json!(1e-300)),
        ("qty", json!(null)),
        ("title", json!("a\u{0000}b")),
        (
            "ref",
            json!("urn:uuid:0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12"),
        ),
        ("ref", json!("{0190c8e4-7b7e-7c3a-9f1e-2b4d6a8c0e12}")),
        ("link", json!("https://")),
        ("link", json!("http://exa mple.com")),
        ("link", json!("HTTPS://Example.COM/a/../b")),
        ("contact", json!("a@b.c")),
        ("due", json!("0000-01-01")),
        ("due", json!("-001-01-01")),
    ] {
        let mut body = json!({"title": "Probe"});
        body[f] = v.clone();
        let r = app.post_json("/api/v1/items", &body).await;
        let s = r.status();
        let t: serde_json::Value = r.json().await.unwrap();
        println!(
            "{f}={v} -> {s} {}",
            if s == 201 {
                t["data"][f].to_string()
            } else {
                t.to_string()
            }
        );
    }
    for q in [
        "offset=18446744073709551615",
        "offset=9223372036854775808",
        "offset=18446744073709551616",
        "limit=20&limit=30",
    ] {
        let r = app.get(&format!("/api/v1/notes?{q}")).await;
        println!("{q} -> {} {}", r.status(), r.text().await.unwrap());
    }
    for b in [
        r#"{"title":"A1","title":"Desk"}"#,
        r#"{"title":"Desk","qty":1e2}"#,
        r#"{"title":"Desk","qty":-0}"#,
    ] {
        let r = post_raw(&app, "/api/v1/items", b).await;
        println!("{b} -> {} {}", r.status(), r.text().await.unwrap());
    }
    for p in [
        "/api/v1/notes/",
        "/api/v1/notes//",
        "/api/v1//notes",
        "/api/v1/it%65ms",
        "/health/",
        "/api/v1/notes?limit=1#x",
    ] {
        let r = app.get(p).await;
        println!(
            "{p} -> {} {}",
            r.status(),
            r.text()
                .await
                .unwrap()
                .chars()
                .take(200)
                .collect::<String>()
        );
    }
    let r = app
        .client
        .head(app.url("/api/v1/notes"))
        .send()
        .await
        .unwrap();
    println!("HEAD -> {} {:?}", r.status(), r.headers());
    let r = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/notes"))
        .send()
        .await
        .unwrap();
    let (s, a) = (r.status(), r.headers().get("allow").cloned());
    println!("OPTIONS -> {s} {a:?} {}", r.text().await.unwrap());
    app.stop().await;
}

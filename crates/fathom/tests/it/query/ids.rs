//! `ids=a,b,c`: a batch read of exactly the named records; missing ids are simply absent.

use serde_json::json;

use super::support::{assert_rejected, data, detail, encode, get_ok, id_where, ids, set};
use crate::helpers::spawn_demo;

fn sorted(mut values: Vec<String>) -> Vec<String> {
    values.sort();
    values
}

#[tokio::test]
async fn ids_returns_exactly_the_named_records() {
    let app = spawn_demo().await;
    let lamp = id_where(&app, "products", "sku", "LAMP-001").await;
    let pan = id_where(&app, "products", "sku", "KIT-100").await;
    let table = id_where(&app, "products", "sku", "TBL-010").await;
    let missing = uuid::Uuid::now_v7().to_string();

    let body = get_ok(&app, &format!("/api/v1/products?ids={lamp},{pan}")).await;
    assert_eq!(sorted(ids(&body)), set(&[&lamp, &pan]));
    let body = get_ok(
        &app,
        &format!("/api/v1/products?ids={pan},{missing},{table}&count=true"),
    )
    .await;
    assert_eq!(
        sorted(ids(&body)),
        set(&[&pan, &table]),
        "a missing id is simply absent"
    );
    assert_eq!(body["meta"]["page"]["total"], 2);
    let body = get_ok(&app, &format!("/api/v1/products?ids={missing}")).await;
    assert_eq!(body["data"], json!([]));

    // Repeated, upper-case and padded ids name the same records once.
    let body = get_ok(
        &app,
        &format!(
            "/api/v1/products?ids={}",
            encode(&format!("{lamp}, {} ,{lamp},", lamp.to_uppercase()))
        ),
    )
    .await;
    assert_eq!(ids(&body), std::slice::from_ref(&lamp));

    // The other spellings of a UUID that `GET /{collection}/{id}` accepts name the same record
    // here: a valid id of a live record is never silently dropped.
    let simple = lamp.replace('-', "");
    let single = get_ok(&app, &format!("/api/v1/products/{simple}")).await;
    assert_eq!(single["data"]["id"], lamp.as_str());
    let response = app.get(&format!("/api/v1/products?ids={simple}")).await;
    if response.status() == 400 {
        super::support::assert_invalid_query(response, "ids").await;
    } else {
        let body = crate::helpers::json_with_status(response, 200).await;
        assert_eq!(
            ids(&body),
            std::slice::from_ref(&lamp),
            "ids={simple} is accepted, so it must find the record GET /products/{simple} finds"
        );
    }

    // With a filter, sort, fields and paging.
    let body = get_ok(
        &app,
        &format!(
            "/api/v1/products?ids={lamp},{pan},{table}&filter={}&sort=-price&fields=name",
            encode("price < 200")
        ),
    )
    .await;
    assert_eq!(
        data(&body)
            .iter()
            .map(|r| r["name"].clone())
            .collect::<Vec<_>>(),
        [json!("Brass desk lamp"), json!("Cast iron pan")]
    );
    let body = get_ok(
        &app,
        &format!("/api/v1/products?ids={lamp},{pan},{table}&limit=2"),
    )
    .await;
    assert_eq!(data(&body).len(), 2);
    let next = body["meta"]["page"]["next"].as_str().expect("a next page");
    let body = get_ok(
        &app,
        &format!(
            "/api/v1/products?ids={lamp},{pan},{table}&limit=2&cursor={}",
            encode(next)
        ),
    )
    .await;
    assert_eq!(data(&body).len(), 1);

    // A soft-deleted record is not returned, and ids of another collection match nothing.
    assert_eq!(
        app.delete(&format!("/api/v1/products/{pan}"))
            .await
            .status(),
        204
    );
    let body = get_ok(&app, &format!("/api/v1/products?ids={lamp},{pan}")).await;
    assert_eq!(ids(&body), std::slice::from_ref(&lamp));
    let body = get_ok(&app, &format!("/api/v1/categories?ids={lamp}")).await;
    assert_eq!(body["data"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn malformed_or_too_many_ids_are_refused() {
    let app = spawn_demo().await;
    let lamp = id_where(&app, "products", "sku", "LAMP-001").await;
    let problem = assert_rejected(&app, &format!("/api/v1/products?ids={lamp},nope"), "ids").await;
    assert!(detail(&problem).contains("nope"), "{problem}");
    for bad in ["", ",", " , ", "123", &lamp[..30], &format!("{lamp}0")] {
        assert_rejected(
            &app,
            &format!("/api/v1/products?ids={}", encode(bad)),
            "ids",
        )
        .await;
    }
    assert_rejected(
        &app,
        &format!("/api/v1/products?ids={lamp}&ids={lamp}"),
        "ids",
    )
    .await;

    let hundred: Vec<String> = (0..100).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let body = get_ok(&app, &format!("/api/v1/products?ids={}", hundred.join(","))).await;
    assert_eq!(body["data"], json!([]), "exactly 100 ids are accepted");
    let mut hundred_and_one = hundred.clone();
    hundred_and_one.push(lamp.clone());
    let problem = assert_rejected(
        &app,
        &format!("/api/v1/products?ids={}", hundred_and_one.join(",")),
        "ids",
    )
    .await;
    assert!(detail(&problem).contains("100"), "{problem}");
    app.stop().await;
}

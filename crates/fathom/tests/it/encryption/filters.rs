//! Lookups on encrypted fields: `=`, `!=`, `in` and `unique` through the blind index, on both
//! databases; ranges, `~`, sorting, and any comparison of a field without a blind index are
//! refused with a hint.

use serde_json::json;

use super::support::{EMAIL, spawn_encrypted};
use crate::helpers::{assert_problem, json_with_status};
use crate::query::support::{assert_rejected, encode, hint};

#[tokio::test]
async fn equality_filters_and_unique_work_through_the_blind_index() {
    let (app, _keys, _path) = spawn_encrypted().await;
    app.create(
        "people",
        &json!({"name": "Canary", "email": EMAIL, "ssn": "1"}),
    )
    .await;
    app.create(
        "people",
        &json!({"name": "Other", "email": "other@example.com"}),
    )
    .await;
    app.create("people", &json!({"name": "Nobody"})).await;
    let names = |filter: &str| {
        let path = format!("/api/v1/people?sort=name&filter={}", encode(filter));
        let app = &app;
        async move {
            let body = json_with_status(app.get(&path).await, 200).await;
            body["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|r| r["name"].as_str().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names(&format!("email = \"{EMAIL}\"")).await, ["Canary"]);
    // Equality is exact, as on fields that are not encrypted.
    assert!(
        names(&format!("email = \"{}\"", EMAIL.to_uppercase()))
            .await
            .is_empty()
    );
    assert_eq!(names(&format!("email != \"{EMAIL}\"")).await, ["Other"]);
    assert_eq!(
        names(&format!("email in [\"{EMAIL}\", \"other@example.com\"]")).await,
        ["Canary", "Other"]
    );
    assert_eq!(names("email = null").await, ["Nobody"]);
    assert_eq!(names("ssn != null").await, ["Canary"]);
    let counted = json_with_status(
        app.get(&format!(
            "/api/v1/people?count=true&filter={}",
            encode(&format!("email = \"{EMAIL}\""))
        ))
        .await,
        200,
    )
    .await;
    assert_eq!(counted["meta"]["page"]["total"], 1, "{counted}");

    let duplicate = app
        .post_json("/api/v1/people", &json!({"name": "Twin", "email": EMAIL}))
        .await;
    let problem = assert_problem(duplicate, 409, "unique_violation").await;
    assert_eq!(problem["errors"][0]["field"], "email", "{problem}");
    app.stop().await;
}

#[tokio::test]
async fn what_cannot_work_on_ciphertext_is_refused_with_a_hint() {
    let (app, _keys, _path) = spawn_encrypted().await;
    for filter in [
        "email > \"a\"",
        "email ~ \"canary\"",
        "ssn = \"1\"",
        "ssn in [\"1\"]",
        "email = name",
        "name = email",
    ] {
        let path = format!("/api/v1/people?filter={}", encode(filter));
        let problem = assert_rejected(&app, &path, "filter").await;
        assert!(
            hint(&problem).contains("encrypted")
                || hint(&problem).contains("blind_index")
                || hint(&problem).contains("value"),
            "{filter}: {problem}"
        );
    }
    let problem = assert_rejected(&app, "/api/v1/people?sort=ssn", "sort").await;
    assert!(hint(&problem).contains("encrypted"), "{problem}");
    app.stop().await;
}

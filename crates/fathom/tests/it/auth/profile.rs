//! Profile fields: the schema's `[users]` table extends every account; `PATCH /api/v1/auth/me`
//! changes them with record-style validation, and nothing else about the account.

use serde_json::json;

use crate::helpers::{assert_problem, json_with_status, mint_user, send_as, spawn_app};

const SCHEMA: &str = r#"
[users]
fields.display_name = { type = "text", max_length = 40 }
fields.newsletter   = { type = "boolean", default = false }
fields.birthday     = { type = "date" }

[collections.notes]
fields.body = { type = "text" }
"#;

#[tokio::test]
async fn a_user_changes_their_own_profile_and_nothing_else() {
    let app = spawn_app(SCHEMA).await;
    let (_, token) = mint_user(&app.store, &app.auth, "ada@example.com", &["user"]).await;
    let me = json_with_status(
        send_as(&app, "GET", "/api/v1/auth/me", Some(&token), None).await,
        200,
    )
    .await;
    assert_eq!(me["data"]["profile"], json!({}));

    let changed = json_with_status(
        send_as(
            &app,
            "PATCH",
            "/api/v1/auth/me",
            Some(&token),
            Some(json!({"display_name": "Ada", "birthday": "1815-12-10"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        changed["data"]["profile"],
        json!({"display_name": "Ada", "birthday": "1815-12-10"})
    );
    let cleared = json_with_status(
        send_as(
            &app,
            "PATCH",
            "/api/v1/auth/me",
            Some(&token),
            Some(json!({"birthday": null, "newsletter": true})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        cleared["data"]["profile"],
        json!({"display_name": "Ada", "newsletter": true})
    );
    let me = json_with_status(
        send_as(&app, "GET", "/api/v1/auth/me", Some(&token), None).await,
        200,
    )
    .await;
    assert_eq!(me["data"]["profile"], cleared["data"]["profile"]);

    // Mass assignment and bad values are refused, field by field.
    for (body, field) in [
        (json!({"roles": ["admin"]}), "roles"),
        (json!({"tenant": "acme"}), "tenant"),
        (json!({"email": "x@example.com"}), "email"),
        (json!({"verified": true}), "verified"),
        (json!({"display_name": "x".repeat(41)}), "display_name"),
        (json!({"newsletter": "yes"}), "newsletter"),
        (json!({"birthday": "1815-13-40"}), "birthday"),
    ] {
        let problem = assert_problem(
            send_as(
                &app,
                "PATCH",
                "/api/v1/auth/me",
                Some(&token),
                Some(body.clone()),
            )
            .await,
            400,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    let me = json_with_status(
        send_as(&app, "GET", "/api/v1/auth/me", Some(&token), None).await,
        200,
    )
    .await;
    assert_eq!(me["data"]["roles"], json!(["user"]));
    assert_problem(
        send_as(
            &app,
            "PATCH",
            "/api/v1/auth/me",
            None,
            Some(json!({"display_name": "x"})),
        )
        .await,
        401,
        "unauthorized",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn without_profile_fields_there_is_nothing_to_patch() {
    let app = spawn_app("[collections.notes]\nfields.body = { type = \"text\" }\n").await;
    let (_, token) = mint_user(&app.store, &app.auth, "ada@example.com", &["user"]).await;
    let problem = assert_problem(
        send_as(
            &app,
            "PATCH",
            "/api/v1/auth/me",
            Some(&token),
            Some(json!({"display_name": "Ada"})),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    assert!(problem["hint"].as_str().unwrap().contains("[users]"));
    app.stop().await;
}

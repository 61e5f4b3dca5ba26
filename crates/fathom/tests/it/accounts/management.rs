//! Account management over HTTP: administrators create users with any roles (with a password,
//! or invited by a mailed set-password link), find them by email, set a password; users ask for
//! the verification mail again (answered alike for every address); and the CLI's `users
//! create`, `users list` and `users delete` on the same database.

use serde_json::{Value, json};

use crate::auth::support::{
    PASSWORD, await_mails, login, login_response, mailed_token, post_auth, register,
    spawn_auth_app, status_type_body, without_request_id,
};
use crate::helpers::{assert_problem, json_with_status, mint_user, send_as};

const NEW_PASSWORD: &str = "an administrator chose this 2026";

async fn admin_token(app: &crate::helpers::TestApp) -> String {
    mint_user(&app.store, &app.auth, "root@example.test", &["admin"])
        .await
        .1
}

#[tokio::test]
async fn administrators_create_users_with_any_roles_and_find_them_by_email() {
    let app = spawn_auth_app(|_| {}).await;
    let admin = admin_token(&app).await;
    let body = json!({"email": "Editor@Example.com", "password": PASSWORD, "roles": ["editor", "user"], "tenant": "acme", "verified": true});
    let created = json_with_status(
        send_as(
            &app,
            "POST",
            "/api/v1/admin/users",
            Some(&admin),
            Some(body.clone()),
        )
        .await,
        201,
    )
    .await;
    let user = &created["data"];
    assert_eq!(user["email"], "editor@example.com");
    assert_eq!(user["roles"], json!(["editor", "user"]));
    assert_eq!(user["tenant"], "acme");
    assert_eq!(user["verified"], true);
    assert!(user.get("password_hash").is_none(), "{user}");
    // The new user signs in with the password given.
    let session = login(&app, "editor@example.com", PASSWORD).await;
    assert_eq!(session["user"]["roles"], json!(["editor", "user"]));
    // A taken email: 409; bad input: 400 naming the field; non-administrators: 403.
    assert_problem(
        send_as(
            &app,
            "POST",
            "/api/v1/admin/users",
            Some(&admin),
            Some(body),
        )
        .await,
        409,
        "unique_violation",
    )
    .await;
    for (bad, field) in [
        (json!({"email": "x", "password": PASSWORD}), "email"),
        (
            json!({"email": "a@b.test", "password": "short"}),
            "password",
        ),
        (json!({"email": "a@b.test"}), "password"),
        (
            json!({"email": "a@b.test", "password": PASSWORD, "invite": true}),
            "password",
        ),
        (
            json!({"email": "a@b.test", "password": PASSWORD, "roles": ["Not A Role"]}),
            "roles",
        ),
        (
            json!({"email": "a@b.test", "password": PASSWORD, "tenant": ""}),
            "tenant",
        ),
        (
            json!({"email": "a@b.test", "password": PASSWORD, "password_hash": "x"}),
            "password_hash",
        ),
    ] {
        let refused = assert_problem(
            send_as(
                &app,
                "POST",
                "/api/v1/admin/users",
                Some(&admin),
                Some(bad.clone()),
            )
            .await,
            400,
            "validation_failed",
        )
        .await;
        assert_eq!(refused["errors"][0]["field"], field, "{bad}: {refused}");
    }
    let member = session["access_token"].as_str().unwrap();
    let anyone = json!({"email": "b@b.test", "password": PASSWORD});
    assert_problem(
        send_as(
            &app,
            "POST",
            "/api/v1/admin/users",
            Some(member),
            Some(anyone),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    // Found by email, exactly and whatever the case; an unknown one finds nothing.
    let found = json_with_status(
        send_as(
            &app,
            "GET",
            "/api/v1/admin/users?email=EDITOR%40example.com",
            Some(&admin),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    assert_eq!(found["data"][0]["id"], user["id"]);
    let none = json_with_status(
        send_as(
            &app,
            "GET",
            "/api/v1/admin/users?email=editor%40example",
            Some(&admin),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(none["data"], json!([]));
}

#[tokio::test]
async fn an_invited_user_sets_a_password_through_the_mailed_link() {
    let app = spawn_auth_app(|_| {}).await;
    let admin = admin_token(&app).await;
    let body = json!({"email": "new@example.com", "invite": true, "verified": true});
    json_with_status(
        send_as(
            &app,
            "POST",
            "/api/v1/admin/users",
            Some(&admin),
            Some(body),
        )
        .await,
        201,
    )
    .await;
    let token = mailed_token(&app, "new@example.com", "You are invited").await;
    // No password signs in before the link is used.
    assert_problem(
        login_response(&app, "new@example.com", "", None).await,
        400,
        "validation_failed",
    )
    .await;
    let response = post_auth(
        &app,
        "/password-reset/confirm",
        &json!({"token": token, "new_password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(response.status(), 204);
    login(&app, "new@example.com", PASSWORD).await;
    // The link is single use.
    let again = post_auth(
        &app,
        "/password-reset/confirm",
        &json!({"token": token, "new_password": NEW_PASSWORD}),
        None,
    )
    .await;
    assert_problem(again, 400, "validation_failed").await;
}

#[tokio::test]
async fn an_administrator_sets_a_password_and_the_old_sessions_end() {
    let app = spawn_auth_app(|_| {}).await;
    let admin = admin_token(&app).await;
    register(&app, "ada@example.com", PASSWORD).await;
    let session = login(&app, "ada@example.com", PASSWORD).await;
    let id = session["user"]["id"].as_str().unwrap().to_owned();
    let access = session["access_token"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/admin/users/{id}/password");
    assert_problem(
        send_as(
            &app,
            "PUT",
            &path,
            Some(&admin),
            Some(json!({"password": "short"})),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    assert_problem(
        send_as(
            &app,
            "PUT",
            &path,
            Some(&access),
            Some(json!({"password": NEW_PASSWORD})),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let unknown = format!("/api/v1/admin/users/{}/password", uuid::Uuid::now_v7());
    assert_problem(
        send_as(
            &app,
            "PUT",
            &unknown,
            Some(&admin),
            Some(json!({"password": NEW_PASSWORD})),
        )
        .await,
        404,
        "record_not_found",
    )
    .await;
    let answer = send_as(
        &app,
        "PUT",
        &path,
        Some(&admin),
        Some(json!({"password": NEW_PASSWORD})),
    )
    .await;
    assert_eq!(answer.status(), 204);
    assert_problem(
        send_as(&app, "GET", "/api/v1/auth/me", Some(&access), None).await,
        401,
        "unauthorized",
    )
    .await;
    assert_problem(
        login_response(&app, "ada@example.com", PASSWORD, None).await,
        401,
        "invalid_credentials",
    )
    .await;
    login(&app, "ada@example.com", NEW_PASSWORD).await;
}

#[tokio::test]
async fn the_verification_mail_is_sent_again_and_every_address_is_answered_alike() {
    let app = spawn_auth_app(|_| {}).await;
    let registered = register(&app, "ada@example.com", PASSWORD).await;
    assert!(registered["data"]["id"].is_string(), "{registered}");
    await_mails(&app, "ada@example.com", 1).await;
    let mut bodies = std::collections::BTreeSet::new();
    for email in ["ada@example.com", "nobody@example.com", "ADA@example.com"] {
        let response = post_auth(&app, "/verify/resend", &json!({"email": email}), None).await;
        let (status, _, body) = status_type_body(response).await;
        assert_eq!(status, 202);
        bodies.insert(without_request_id(body).to_string());
    }
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let mails = await_mails(&app, "ada@example.com", 3).await;
    assert!(
        mails
            .iter()
            .all(|m| m.subject == "Verify your email address"),
        "{mails:?}"
    );
    assert!(app.auth.mailbox.to("nobody@example.com").is_empty());
    // The newest token verifies the account; a verified account gets no more mail.
    let token = mailed_token(&app, "ada@example.com", "Verify").await;
    assert_eq!(
        post_auth(&app, "/verify", &json!({"token": token}), None)
            .await
            .status(),
        204
    );
    post_auth(
        &app,
        "/verify/resend",
        &json!({"email": "ada@example.com"}),
        None,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.auth.mailbox.to("ada@example.com").len(), 3);
    // Missing email: 400.
    assert_problem(
        post_auth(&app, "/verify/resend", &json!({}), None).await,
        400,
        "validation_failed",
    )
    .await;
}

fn run(
    app: &crate::helpers::TestApp,
    args: &[&str],
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let output = app.cli_with_env(args, env);
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_creates_lists_and_deletes_users() {
    let app = spawn_auth_app(|_| {}).await;
    let admin = admin_token(&app).await;
    let (code, out, err) = run(
        &app,
        &[
            "users",
            "create",
            "--email",
            "Cli@Example.com",
            "--role",
            "editor",
            "--tenant",
            "acme",
            "--verified",
        ],
        &[("FATHOM_USER_PASSWORD", PASSWORD)],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Created user cli@example.com"), "{out}");
    let session = login(&app, "cli@example.com", PASSWORD).await;
    assert_eq!(session["user"]["roles"], json!(["editor"]));
    assert_eq!(session["user"]["tenant"], "acme");
    // Refusals: a weak password, a bad role, a taken email.
    let (code, _, err) = run(
        &app,
        &["users", "create", "--email", "w@example.com"],
        &[("FATHOM_USER_PASSWORD", "short")],
    );
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = run(
        &app,
        &[
            "users",
            "create",
            "--email",
            "r@example.com",
            "--role",
            "Bad Role",
        ],
        &[("FATHOM_USER_PASSWORD", PASSWORD)],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not a role name"), "{err}");
    let (code, _, err) = run(
        &app,
        &["users", "create", "--email", "cli@example.com"],
        &[("FATHOM_USER_PASSWORD", PASSWORD)],
    );
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");

    let (code, out, _) = run(&app, &["users", "list", "--json"], &[]);
    assert_eq!(code, 0);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let emails: Vec<&str> = lines.iter().filter_map(|l| l["email"].as_str()).collect();
    // Oldest first: the harness's administrator, then ours, then the CLI's.
    assert_eq!(
        emails,
        [
            "test-admin@example.com",
            "root@example.test",
            "cli@example.com"
        ],
        "{out}"
    );
    assert!(!out.contains("argon2"), "{out}");
    let (code, out, _) = run(&app, &["users", "list", "--email", "CLI@example.com"], &[]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1, "{out}");
    let id = lines[2]["id"].as_str().unwrap().to_owned();

    let (code, out, err) = run(&app, &["users", "delete", &id], &[]);
    assert_eq!(code, 0, "{out}{err}");
    let path = format!("/api/v1/admin/users/{id}");
    assert_problem(
        send_as(&app, "GET", &path, Some(&admin), None).await,
        404,
        "record_not_found",
    )
    .await;
    let (code, _, err) = run(&app, &["users", "delete", &id], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("no user"), "{err}");
    let (code, _, _) = run(&app, &["users", "delete", "nope"], &[]);
    assert_eq!(code, 1);
}

#[tokio::test]
async fn a_user_changes_email_after_confirming_the_new_address() {
    let app = spawn_auth_app(|_| {}).await;
    register(&app, "old@example.com", PASSWORD).await;
    let session = login(&app, "old@example.com", PASSWORD).await;
    let access = session["access_token"].as_str().unwrap().to_owned();
    let change = |body: Value| {
        let app = &app;
        let access = access.clone();
        async move { send_as(app, "POST", "/api/v1/auth/email", Some(&access), Some(body)).await }
    };
    // The current password is required; a wrong one is a 401 like a failed login.
    assert_problem(
        change(json!({"new_email": "new@example.com", "password": "wrong one entirely"})).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_problem(
        change(json!({"new_email": "not an address", "password": PASSWORD})).await,
        400,
        "validation_failed",
    )
    .await;
    assert_problem(
        change(json!({"new_email": "OLD@example.com", "password": PASSWORD})).await,
        400,
        "validation_failed",
    )
    .await;
    assert_problem(
        send_as(
            &app,
            "POST",
            "/api/v1/auth/email",
            None,
            Some(json!({"new_email": "x@example.com", "password": PASSWORD})),
        )
        .await,
        401,
        "unauthorized",
    )
    .await;
    let answer = change(json!({"new_email": "New@Example.com", "password": PASSWORD})).await;
    assert_eq!(answer.status().as_u16(), 202);
    // The old address is told, with no token; the new one gets the confirmation link.
    let notices = await_mails(&app, "old@example.com", 2).await;
    assert!(
        notices
            .iter()
            .any(|m| m.subject == "Your email address is about to change"
                && !m.body.contains("#token=")),
        "{notices:?}"
    );
    let token = mailed_token(&app, "new@example.com", "Confirm your new email").await;
    // Until then the old address still signs in, and the new one does not.
    login(&app, "old@example.com", PASSWORD).await;
    assert_problem(
        login_response(&app, "new@example.com", PASSWORD, None).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        post_auth(&app, "/verify", &json!({"token": token}), None)
            .await
            .status(),
        204
    );
    let me = json_with_status(
        send_as(&app, "GET", "/api/v1/auth/me", Some(&access), None).await,
        200,
    )
    .await;
    assert_eq!(me["data"]["email"], "new@example.com", "{me}");
    assert_eq!(me["data"]["verified"], true, "{me}");
    login(&app, "new@example.com", PASSWORD).await;
    assert_problem(
        login_response(&app, "old@example.com", PASSWORD, None).await,
        401,
        "invalid_credentials",
    )
    .await;
    // The link is single use.
    assert_problem(
        post_auth(&app, "/verify", &json!({"token": token}), None).await,
        400,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn an_address_taken_meanwhile_is_not_given_away() {
    let app = spawn_auth_app(|_| {}).await;
    register(&app, "a@example.com", PASSWORD).await;
    let access = login(&app, "a@example.com", PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"new_email": "b@example.com", "password": PASSWORD});
    let answer = send_as(
        &app,
        "POST",
        "/api/v1/auth/email",
        Some(&access),
        Some(body),
    )
    .await;
    assert_eq!(answer.status().as_u16(), 202);
    let token = mailed_token(&app, "b@example.com", "Confirm your new email").await;
    // Someone registers the address before the link is used.
    register(&app, "b@example.com", NEW_PASSWORD).await;
    assert_problem(
        post_auth(&app, "/verify", &json!({"token": token}), None).await,
        409,
        "unique_violation",
    )
    .await;
    let me = json_with_status(
        send_as(&app, "GET", "/api/v1/auth/me", Some(&access), None).await,
        200,
    )
    .await;
    assert_eq!(me["data"]["email"], "a@example.com");
    // A taken address is answered alike and gets no link.
    let body = json!({"new_email": "b@example.com", "password": PASSWORD});
    let answer = send_as(
        &app,
        "POST",
        "/api/v1/auth/email",
        Some(&access),
        Some(body),
    )
    .await;
    assert_eq!(answer.status().as_u16(), 202);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let links = app
        .auth
        .mailbox
        .to("b@example.com")
        .iter()
        .filter(|m| m.subject.starts_with("Confirm your new email"))
        .count();
    assert_eq!(links, 1, "only the first request's link");
}

#[tokio::test]
async fn administrators_find_users_by_filter_expressions_over_account_fields() {
    let app = spawn_auth_app(|_| {}).await;
    let admin = admin_token(&app).await;
    for (email, verified, tenant) in [
        ("a@shop.test", true, Some("acme")),
        ("b@shop.test", false, Some("acme")),
        ("c@other.test", false, None),
    ] {
        let body =
            json!({"email": email, "password": PASSWORD, "verified": verified, "tenant": tenant});
        json_with_status(
            send_as(
                &app,
                "POST",
                "/api/v1/admin/users",
                Some(&admin),
                Some(body),
            )
            .await,
            201,
        )
        .await;
    }
    let found = |filter: &str, extra: &str| {
        let query: String = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect();
        let path = format!("/api/v1/admin/users?filter={query}{extra}");
        let app = &app;
        let admin = admin.clone();
        async move { json_with_status(send_as(app, "GET", &path, Some(&admin), None).await, 200).await }
    };
    let emails = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap().to_owned())
            .collect()
    };
    let page = found("email ~ \"%@shop.test\" && verified = false", "").await;
    assert_eq!(emails(&page), ["b@shop.test"]);
    assert_eq!(page["meta"]["page"]["next_after"], Value::Null);
    let page = found("tenant = \"acme\"", "").await;
    assert_eq!(emails(&page), ["a@shop.test", "b@shop.test"]);
    // Pages: one at a time, `next_after` leading on.
    let first = found("tenant = \"acme\"", "&limit=1").await;
    assert_eq!(emails(&first), ["a@shop.test"]);
    let after = first["meta"]["page"]["next_after"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = found("tenant = \"acme\"", &format!("&limit=1&after={after}")).await;
    assert_eq!(emails(&second), ["b@shop.test"]);
    let page = found("tenant = null && disabled = false", "").await;
    assert_eq!(
        emails(&page),
        [
            "test-admin@example.com",
            "root@example.test",
            "c@other.test"
        ]
    );
    // A broken expression or an unknown field: 400; never the password hash.
    for bad in ["email ~", "password_hash != null", "nope = 1"] {
        let query: String = url::form_urlencoded::byte_serialize(bad.as_bytes()).collect();
        let path = format!("/api/v1/admin/users?filter={query}");
        assert_problem(
            send_as(&app, "GET", &path, Some(&admin), None).await,
            400,
            "invalid_query",
        )
        .await;
    }
}

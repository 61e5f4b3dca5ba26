//! The `fathom serve` process over its life: migrating on start, refusing unsafe changes, and
//! shutting down gracefully on SIGTERM.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{Value, json};

use super::support::{Http, Project, stop, wait_for_exit};

const NOTES: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title = { type = "text", required = true }
fields.body  = { type = "text" }
"#;

const NOTES_WITH_PINNED: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title  = { type = "text", required = true }
fields.body   = { type = "text" }
fields.pinned = { type = "boolean" }
"#;

const NOTES_WITHOUT_BODY: &str = r#"
[collections.notes]
rules = { list = true, view = true, create = true, update = true, delete = true }
fields.title = { type = "text", required = true }
"#;

#[tokio::test]
async fn serve_applies_an_additive_change_on_start() {
    let project = Project::new();
    project.write("fathom.schema.toml", NOTES);
    let mut server = project.serve(&[]);
    let http = Http::new(&server);
    let old = http.create("notes", &json!({"title": "before"})).await;
    let (status, body) = http
        .post(
            "/api/v1/notes",
            &json!({"title": "too early", "pinned": true}),
        )
        .await;
    assert_eq!(status, 400, "the field does not exist yet: {body}");
    assert!(stop(&mut server).success());

    project.write("fathom.schema.toml", NOTES_WITH_PINNED);
    let mut server = project.serve(&[]);
    let http = Http::new(&server);
    assert_eq!(http.get("/ready").await.0, 200);
    let new = http
        .create("notes", &json!({"title": "after", "pinned": true}))
        .await;
    assert_eq!(new["pinned"], true);
    assert_eq!(http.record("notes", &new["id"]).await["pinned"], true);
    let old_now = http.record("notes", &old["id"]).await;
    assert_eq!(old_now["title"], "before");
    assert_eq!(
        old_now["pinned"],
        Value::Null,
        "existing records have no value for the new field"
    );
    assert!(stop(&mut server).success());

    let status = project.assert_nothing_pending();
    assert!(status.contains("version   2"), "{status}");
}

#[tokio::test]
async fn serve_refuses_to_start_when_the_change_is_unsafe() {
    let project = Project::new();
    project.write("fathom.schema.toml", NOTES);
    let mut server = project.serve(&[]);
    let http = Http::new(&server);
    let note = http
        .create("notes", &json!({"title": "keep", "body": "my body"}))
        .await;
    assert!(stop(&mut server).success());

    project.write("v2.toml", NOTES_WITHOUT_BODY);
    let refused = project.serve_expecting_exit(&["--schema", "v2.toml"]);
    assert_ne!(refused.code, Some(0), "{refused:?}");
    assert!(
        refused.stderr.contains("[UNSAFE]"),
        "the plan is shown: {}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("fathom migrate apply --allow-destructive"),
        "{}",
        refused.stderr
    );

    // Nothing changed: the old schema still serves the data.
    let mut server = project.serve(&[]);
    let http = Http::new(&server);
    assert_eq!(http.record("notes", &note["id"]).await["body"], "my body");
    assert!(stop(&mut server).success());
}

/// Reads one HTTP/1.1 response with a `Content-Length` body: status code and JSON body.
fn read_response(stream: &mut TcpStream) -> (u16, Value) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).expect("read the response");
        assert!(
            n > 0,
            "the connection closed before a full response: {}",
            String::from_utf8_lossy(&buffer)
        );
        buffer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buffer).into_owned();
        let Some(end) = text.find("\r\n\r\n") else {
            continue;
        };
        let head = &text[..end];
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .expect("a content-length header");
        if buffer.len() >= end + 4 + length {
            let status = head
                .split_whitespace()
                .nth(1)
                .expect("status code")
                .parse()
                .expect("numeric status");
            let body =
                serde_json::from_slice(&buffer[end + 4..end + 4 + length]).expect("json body");
            return (status, body);
        }
    }
}

fn connection_refused(address: SocketAddr) -> bool {
    TcpStream::connect_timeout(&address, Duration::from_secs(2)).is_err()
}

#[tokio::test]
async fn sigterm_drains_a_request_in_flight_and_refuses_new_connections() {
    let project = Project::new();
    project.write("fathom.schema.toml", NOTES);
    let mut server = project.serve(&[]);
    let address = server.address;

    let body = br#"{"title": "written while shutting down", "body": "half now, half later"}"#;
    let (first_half, second_half) = body.split_at(body.len() / 2);
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let head = format!(
        "POST /api/v1/notes HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("send headers");
    stream.write_all(first_half).expect("send half the body");
    stream.flush().expect("flush");
    // Let the server read the headers and start waiting on the body.
    std::thread::sleep(Duration::from_millis(300));

    server.terminate();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        connection_refused(address),
        "a stopping server must not accept new connections"
    );
    assert!(
        server.child.try_wait().expect("try_wait").is_none(),
        "the server must wait for the request in flight"
    );

    stream
        .write_all(second_half)
        .expect("send the rest of the body");
    let (status, response) = read_response(&mut stream);
    assert_eq!(status, 201, "{response}");
    assert_eq!(response["data"]["title"], "written while shutting down");
    let id = response["data"]["id"].clone();

    let exit = wait_for_exit(&mut server.child);
    assert!(
        exit.success(),
        "a graceful shutdown exits with success: {exit:?}"
    );
    assert!(connection_refused(address));

    // The write was committed, not just answered.
    let mut server = project.serve(&[]);
    let http = Http::new(&server);
    assert_eq!(
        http.record("notes", &id).await["body"],
        "half now, half later"
    );
    assert!(stop(&mut server).success());
}

#[tokio::test]
async fn sigterm_on_an_idle_server_exits_promptly_with_success() {
    let project = Project::new();
    project.write("fathom.schema.toml", NOTES);
    let mut server = project.serve(&[]);
    let http = Http::new(&server);
    // An idle keep-alive connection must not hold the shutdown up until the timeout.
    assert_eq!(http.get("/health").await.0, 200);
    let started = std::time::Instant::now();
    assert!(stop(&mut server).success());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn shutdown_gives_up_on_a_stalled_request_after_the_timeout() {
    let project = Project::new();
    project.write("fathom.schema.toml", NOTES);
    project.write("fathom.toml", "[server]\nshutdown_timeout_secs = 1\n");
    let mut server = project.serve(&[]);
    let mut stream = TcpStream::connect(server.address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let head = "POST /api/v1/notes HTTP/1.1\r\nHost: fathom\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"ti";
    stream.write_all(head.as_bytes()).expect("send");
    std::thread::sleep(Duration::from_millis(300));

    let started = std::time::Instant::now();
    server.terminate();
    let exit = wait_for_exit(&mut server.child);
    let waited = started.elapsed();
    assert!(exit.success(), "{exit:?}");
    assert!(
        waited >= Duration::from_millis(900),
        "the stalled request gets the whole timeout: {waited:?}"
    );
    assert!(waited < Duration::from_secs(10), "but no more: {waited:?}");
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert!(
        !String::from_utf8_lossy(&rest).contains("201"),
        "the unfinished request was not written"
    );
}

/// [`NOTES`] with listing closed to all but administrators and `body` hidden: no database change.
const NOTES_PRIVATE: &str = r#"
[collections.notes]
rules = { view = true, create = true, update = true, delete = true }
fields.title = { type = "text", required = true }
fields.body  = { type = "text", hidden = true }
"#;

/// Issue 11 item 7: SIGHUP re-reads the schema file, and a change of rules or hidden flags is
/// served at once (before, SIGHUP's default action ended the process).
#[tokio::test]
async fn sighup_serves_changed_rules_and_hidden_fields_at_once() {
    let project = Project::new();
    project.write("fathom.schema.toml", NOTES);
    let mut server = project.serve(&[]);
    let http = Http::new(&server);
    let note = http
        .create("notes", &json!({"title": "open", "body": "visible"}))
        .await;
    assert_eq!(http.list("notes").await.len(), 1);

    project.write("fathom.schema.toml", NOTES_PRIVATE);
    server.hangup();
    let logged = server.wait_for_log("schema reloaded", 1);
    let listed = http.get("/api/v1/notes").await;
    let read = http.record("notes", &note["id"]).await;
    let ready = http.get("/ready").await.0;
    let alive = server.child.try_wait().expect("try_wait").is_none();
    assert!(stop(&mut server).success());
    assert!(alive, "SIGHUP must not end the server");
    assert_eq!(logged["level"], "INFO", "{logged}");
    assert_eq!(
        (listed.0, listed.1["code"].as_str()),
        (401, Some("unauthorized")),
        "listing is now for administrators only: {}",
        listed.1
    );
    assert_eq!(read["title"], "open");
    assert_eq!(read.get("body"), None, "body is now hidden: {read}");
    assert_eq!(ready, 200);

    // No table changed for it (a hidden flag is recorded as a version without SQL).
    let status = project.cli(&["migrate", "status"]);
    assert!(
        status
            .stdout
            .lines()
            .filter(|line| line.trim_start().starts_with("version"))
            .skip(1)
            .all(|line| line.contains(" 0 statement(s)")),
        "{}",
        status.stdout
    );
}

#[tokio::test]
async fn sighup_migrates_an_additive_change_and_serves_it() {
    let project = Project::new();
    project.write("fathom.schema.toml", NOTES);
    let mut server = project.serve(&[]);
    let http = Http::new(&server);
    let (status, body) = http
        .post("/api/v1/notes", &json!({"title": "early", "pinned": true}))
        .await;
    assert_eq!(status, 400, "no such field yet: {body}");

    project.write("fathom.schema.toml", NOTES_WITH_PINNED);
    server.hangup();
    let logged = server.wait_for_log("schema reloaded", 1);
    let created = http
        .post("/api/v1/notes", &json!({"title": "late", "pinned": true}))
        .await;
    let ready = http.get("/ready").await.0;
    assert!(stop(&mut server).success());
    assert_eq!(logged["level"], "INFO", "{logged}");
    assert_eq!(
        (logged["from"].as_i64(), logged["to"].as_i64()),
        (Some(1), Some(2)),
        "{logged}"
    );
    assert_eq!(created.0, 201, "{}", created.1);
    assert_eq!(created.1["data"]["pinned"], true);
    assert_eq!(ready, 200);
    project.assert_nothing_pending();
}

#[tokio::test]
async fn sighup_refuses_an_unsafe_change_or_a_broken_file_and_keeps_serving_the_old_schema() {
    let project = Project::new();
    project.write("fathom.schema.toml", NOTES);
    let mut server = project.serve(&[]);
    let http = Http::new(&server);
    let note = http
        .create("notes", &json!({"title": "keep", "body": "my body"}))
        .await;

    project.write("fathom.schema.toml", NOTES_WITHOUT_BODY);
    server.hangup();
    let unsafe_refusal = server.wait_for_log("schema reload refused", 1);
    let kept = http.record("notes", &note["id"]).await;
    let ready = http.get("/ready").await.0;

    project.write("fathom.schema.toml", "[collections.notes\n");
    server.hangup();
    let broken_refusal = server.wait_for_log("schema reload refused", 2);
    let still = http.record("notes", &note["id"]).await;
    let alive = server.child.try_wait().expect("try_wait").is_none();
    assert!(stop(&mut server).success());

    assert!(alive);
    assert_eq!(unsafe_refusal["level"], "WARN", "{unsafe_refusal}");
    let message = unsafe_refusal["message"].as_str().unwrap_or_default();
    for part in [
        "[UNSAFE]",
        "notes.body",
        "fathom migrate apply --allow-destructive",
    ] {
        assert!(message.contains(part), "the plan is logged: {message}");
    }
    assert_eq!(kept["body"], "my body", "the old schema is still served");
    assert_eq!(ready, 200);
    assert_eq!(broken_refusal["level"], "WARN", "{broken_refusal}");
    assert!(
        broken_refusal["message"]
            .as_str()
            .is_some_and(|m| m.contains("fathom.schema.toml")),
        "{broken_refusal}"
    );
    assert_eq!(still["body"], "my body");
    project.write("v1.toml", NOTES);
    let status = project.migrate("status", "v1.toml", &[]);
    assert!(
        !status.stdout.contains("version   2"),
        "nothing was migrated: {}",
        status.stdout
    );
}

/// A reload swaps the schema, not the node: what it keeps per node (rate-limit buckets, signing
/// keys and the token and session caches) carries over, neither reset nor duplicated.
#[tokio::test]
async fn a_reload_keeps_rate_limit_buckets_and_sign_ins() {
    let project = Project::new();
    project.write("fathom.schema.toml", NOTES);
    let mut server = project.serve_with_env(&[], &[("FATHOM_AUTH__RATE_LIMITS__LOGIN", "2")]);
    let http = Http::new(&server);
    let account =
        json!({ "email": "ada@example.com", "password": "a long enough passphrase 2026" });
    let (status, body) = http.post("/api/v1/auth/register", &account).await;
    assert!(status == 201 || status == 202, "register: {status} {body}");
    let (status, body) = http.post("/api/v1/auth/login", &account).await;
    assert_eq!(status, 200, "login: {body}");
    let token = body["data"]["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("an access token in {body}"))
        .to_owned();

    project.write("fathom.schema.toml", NOTES_PRIVATE);
    server.hangup();
    server.wait_for_log("schema reloaded", 1);
    let me = crate::helpers::client_builder()
        .build()
        .unwrap()
        .get(server.url("/api/v1/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request sent")
        .status();
    let third = http.post("/api/v1/auth/login", &account).await;
    let fourth = http.post("/api/v1/auth/login", &account).await;
    assert!(stop(&mut server).success());
    assert_eq!(me, 200, "a token issued before the reload still signs in");
    assert_eq!(third.0, 200, "{}", third.1);
    assert_eq!(
        (fourth.0, fourth.1["code"].as_str()),
        (429, Some("too_many_requests")),
        "the client's login bucket (2 a minute) survived the reload: {}",
        fourth.1
    );
}

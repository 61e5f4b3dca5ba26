//! Account enumeration: a login or reset request for an unknown address is indistinguishable from
//! one for a known address, by status, headers, body and time (an unknown address still costs a
//! password verification; reset mail is looked up and written after the answer), and reset mail
//! is capped per recipient without the requester learning of it.

use std::collections::BTreeSet;
use std::time::Instant;

use serde_json::{Value, json};

use super::support::{
    PASSWORD, WRONG_PASSWORD, await_mails, login_response, percentile, post_auth, register,
    spawn_auth_app, status_type_body, without_request_id,
};

const KNOWN: &str = "known@example.com";
const UNKNOWN: &str = "unknown@example.com";

/// The names of a response's headers (their values, such as the request id, may differ).
fn header_names(response: &reqwest::Response) -> BTreeSet<String> {
    response
        .headers()
        .keys()
        .map(|k| k.as_str().to_owned())
        .collect()
}

async fn compare(unknown: reqwest::Response, known: reqwest::Response, what: &str) -> (u16, Value) {
    assert_eq!(
        header_names(&unknown),
        header_names(&known),
        "{what}: the same headers"
    );
    let unknown = status_type_body(unknown).await;
    let known = status_type_body(known).await;
    assert_eq!(unknown.0, known.0, "{what}: the same status");
    assert_eq!(unknown.1, known.1, "{what}: the same content type");
    let (a, b) = (without_request_id(unknown.2), without_request_id(known.2));
    assert_eq!(a, b, "{what}: the same body but for the request id");
    (known.0, b)
}

#[tokio::test]
async fn unknown_and_known_accounts_answer_alike() {
    let app = spawn_auth_app(|c| c.auth.lockout_threshold = 1_000).await;
    register(&app, KNOWN, PASSWORD).await;

    let (status, body) = compare(
        login_response(&app, UNKNOWN, WRONG_PASSWORD, None).await,
        login_response(&app, KNOWN, WRONG_PASSWORD, None).await,
        "login",
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "invalid_credentials", "{body}");

    // Case does not matter for the known address either way.
    compare(
        login_response(&app, "UNKNOWN@example.com", WRONG_PASSWORD, None).await,
        login_response(&app, "KNOWN@example.com", WRONG_PASSWORD, None).await,
        "login, upper case",
    )
    .await;

    // An oversized password (past the hasher's cap) is refused alike, not with a 5xx.
    let huge = "x".repeat(10_000);
    let (status, _) = compare(
        login_response(&app, UNKNOWN, &huge, None).await,
        login_response(&app, KNOWN, &huge, None).await,
        "login, oversized password",
    )
    .await;
    assert_eq!(status, 401);

    let (status, body) = compare(
        post_auth(&app, "/password-reset", &json!({"email": UNKNOWN}), None).await,
        post_auth(&app, "/password-reset", &json!({"email": KNOWN}), None).await,
        "password-reset request",
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(body["data"]["status"], "accepted", "{body}");
    assert_eq!(await_mails(&app, KNOWN, 2).await.len(), 2, "verify + reset");
    assert!(app.auth.mailbox.to(UNKNOWN).is_empty());
}

#[tokio::test]
async fn unknown_and_known_accounts_take_alike_to_refuse() {
    // Interleaved pairs; enough of them that the medians shrug off a scheduler stall on a busy
    // machine (with 5, one stall in three samples of a side flipped the verdict).
    const SAMPLES: usize = 15;
    let app = spawn_auth_app(|c| c.auth.lockout_threshold = 1_000).await;
    register(&app, KNOWN, PASSWORD).await;
    // Warm up both paths (connections, lazily built state) before measuring.
    login_response(&app, UNKNOWN, WRONG_PASSWORD, None).await;
    login_response(&app, KNOWN, WRONG_PASSWORD, None).await;

    let (mut unknown, mut known) = (Vec::new(), Vec::new());
    for _ in 0..SAMPLES {
        for (email, samples) in [(UNKNOWN, &mut unknown), (KNOWN, &mut known)] {
            let started = Instant::now();
            let response = login_response(&app, email, WRONG_PASSWORD, None).await;
            assert_eq!(response.status(), 401);
            response.bytes().await.unwrap();
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let (unknown_median, known_median) = (percentile(&unknown, 50.0), percentile(&known, 50.0));
    eprintln!(
        "login refusal medians: unknown {unknown_median:.1} ms {unknown:.1?}, known {known_median:.1} ms {known:.1?}"
    );
    let ratio = unknown_median.max(known_median) / unknown_median.min(known_median);
    assert!(
        ratio < 2.0,
        "an unknown address must cost about as much as a known one: unknown median {unknown_median:.1} ms, known median {known_median:.1} ms"
    );
}

/// However often a reset is requested, one address receives at most `mail.per_recipient_per_hour`
/// messages (verification mail included), and every request is answered alike.
#[tokio::test]
async fn reset_mail_is_capped_per_recipient() {
    let app = spawn_auth_app(|_| {}).await;
    register(&app, KNOWN, PASSWORD).await;
    let mut bodies = BTreeSet::new();
    for _ in 0..8 {
        let response = post_auth(&app, "/password-reset", &json!({"email": KNOWN}), None).await;
        let (status, _, body) = status_type_body(response).await;
        assert_eq!(status, 202);
        bodies.insert(without_request_id(body).to_string());
    }
    assert_eq!(
        bodies.len(),
        1,
        "every request is answered alike: {bodies:?}"
    );
    let mails = await_mails(&app, KNOWN, 5).await;
    // Give any ninth message time to arrive (it must not).
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mails_now = app.auth.mailbox.to(KNOWN);
    assert_eq!(
        mails_now.len(),
        5,
        "the default cap is 5 an hour: {mails_now:?}"
    );
    assert_eq!(mails[0].subject, "Verify your email address");
    let dropped = app
        .store
        .audit_log(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.entry.action == "mail_dropped")
        .count();
    assert_eq!(dropped, 4, "each dropped mail is audited");
}

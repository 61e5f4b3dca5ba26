//! The HTTP side of the bench: one client per server, the status check every operation ends
//! with, and Fathom's auth calls (register, login) used to set up and to flood.

use std::time::Duration;

use anyhow::{Context, ensure};
use reqwest::{Client, RequestBuilder};
use serde_json::{Value, json};

/// A client for load: keep-alive connections, no Nagle delay, a generous timeout so that
/// overload shows up as latency rather than as errors.
pub fn http_client() -> anyhow::Result<Client> {
    client_builder()
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .pool_max_idle_per_host(512)
        .build()
        .context("building the HTTP client")
}

/// A reqwest client builder with a rustls crypto provider installed first: built in one
/// workspace with `fathom-webhooks`, reqwest carries `rustls-no-provider`, and a client built
/// without an installed provider panics.
pub fn client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
}

/// Sends `request`, reads the whole body, and answers `Err` unless the status is `expected`.
pub async fn expect_status(request: RequestBuilder, expected: u16) -> Result<(), String> {
    let response = request.send().await.map_err(|e| format!("{e}"))?;
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(|e| format!("{e}"))?;
    if status == expected {
        Ok(())
    } else {
        let shown = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        Err(format!("status {status} (expected {expected}): {shown}"))
    }
}

/// A signed-in Fathom user.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub email: String,
    pub password: String,
    pub access_token: String,
}

/// `POST /api/v1/auth/login`; answers the session.
pub async fn login(
    client: &Client,
    base: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<Session> {
    let response = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .context("sending a login")?;
    let status = response.status();
    let text = response.text().await.context("reading the login answer")?;
    let body: Value = serde_json::from_str(&text)
        .with_context(|| format!("the login answer ({status}) is not JSON: {text:?}"))?;
    ensure!(
        status.is_success(),
        "login of {email} answered {status}: {body}"
    );
    let text = |pointer: &str| {
        body.pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("the login answer has no {pointer}: {body}"))
    };
    Ok(Session {
        user_id: text("/data/user/id")?,
        email: email.to_owned(),
        password: password.to_owned(),
        access_token: text("/data/access_token")?,
    })
}

/// `POST /api/v1/auth/register` (answers 202 whether or not the address is new).
pub async fn register(
    client: &Client,
    base: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<()> {
    let response = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .context("sending a registration")?;
    let status = response.status();
    ensure!(
        status.as_u16() == 202,
        "registering {email} answered {status}: {}",
        response.text().await.unwrap_or_default()
    );
    Ok(())
}

/// Registers and signs in `count` non-admin users (`user{n}@bench.local`).
pub async fn register_users(
    client: &Client,
    base: &str,
    count: usize,
) -> anyhow::Result<Vec<Session>> {
    let mut sessions = Vec::with_capacity(count);
    for n in 0..count {
        let email = format!("user{n}@bench.local");
        let password = format!("bench user passphrase {n}");
        register(client, base, &email, &password).await?;
        sessions.push(login(client, base, &email, &password).await?);
    }
    Ok(sessions)
}

//! Mail over SMTP: with `mail.smtp_url` set, verification mail goes to the relay (a minimal SMTP
//! sink speaking the real protocol on a local port) instead of the development mailbox, and the
//! token it carries works. A relay that is down does not change the answer a client gets.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fathom::config::Secret;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::support::{PASSWORD, post_auth, register, spawn_auth_app, token_in};

/// Accepts SMTP sessions and keeps each message's DATA.
async fn smtp_sink() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let messages = Arc::new(Mutex::new(Vec::new()));
    let received = messages.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let received = received.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            received.lock().unwrap().push(data.take().unwrap());
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.unwrap();
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (url, messages)
}

#[tokio::test]
async fn with_an_smtp_relay_mail_goes_out_over_smtp_and_its_token_works() {
    let (url, messages) = smtp_sink().await;
    let app = spawn_auth_app(|c| {
        c.mail.smtp_url = Some(Secret::new(url));
        c.mail.from = "Shop <no-reply@shop.test>".into();
    })
    .await;
    let email = "ada@example.com";
    register(&app, email, PASSWORD).await;
    let mut message = None;
    for _ in 0..200 {
        if let Some(m) = messages.lock().unwrap().first().cloned() {
            message = Some(m);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let message = message.expect("the relay received the verification mail");
    assert!(message.contains("To: ada@example.com"), "{message}");
    assert!(
        message.contains("From: Shop <no-reply@shop.test>"),
        "{message}"
    );
    assert!(
        message.contains("Subject: Verify your email address"),
        "{message}"
    );
    assert!(
        app.auth.mailbox.to(email).is_empty(),
        "nothing in the dev mailbox"
    );
    // The link line is longer than 76 characters, so the body goes quoted-printable: undo its
    // soft line breaks and its `=3D` before looking for the link.
    assert!(
        message.contains("Content-Transfer-Encoding: quoted-printable")
            || message.contains("Content-Transfer-Encoding: 7bit"),
        "{message}"
    );
    let body = message
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let token = token_in(&body);
    assert!(
        body.contains(&format!("http://localhost:8090/verify-email#token={token}")),
        "{body}"
    );
    let verified = post_auth(&app, "/verify", &json!({"token": token}), None).await;
    assert_eq!(verified.status(), 204);
    app.stop().await;
}

#[tokio::test]
async fn a_relay_that_is_down_does_not_change_the_answer() {
    // A port nobody listens on: delivery fails in the background, the client sees no difference.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = spawn_auth_app(|c| c.mail.smtp_url = Some(Secret::new(url))).await;
    let body = register(&app, "grace@example.com", PASSWORD).await;
    assert_eq!(body["data"]["status"], "accepted");
    let reset = post_auth(
        &app,
        "/password-reset",
        &json!({"email": "grace@example.com"}),
        None,
    )
    .await;
    assert_eq!(reset.status(), 202);
    app.stop().await;
}

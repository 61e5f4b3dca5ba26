//! Paging: keyset cursors walk exactly the sequence one big page returns, under every sort; they
//! are signed and bound to their collection and sort; they stay stable while others write; and
//! `offset` and `count=true` behave.

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::task::Poll;

use serde_json::{Value, json};

use super::support::{assert_rejected, data, encode, get_ok, ids, walk_pages};
use crate::helpers::{TEST_SCHEMA, TestApp, spawn_app};

/// The body of the `n`th generated item: many ties, nulls and decimals of differing scale.
fn item(n: usize) -> Value {
    let price = match n % 9 {
        0 => Value::Null,
        1 | 5 => json!("10.5"),
        2 | 6 => json!("10.50"),
        _ => json!(format!("{}.{:02}", (n * 13) % 50, n % 100)),
    };
    let seen_at = if n.is_multiple_of(3) {
        Value::Null
    } else {
        json!(format!(
            "2026-0{}-{:02}T10:00:00Z",
            1 + n % 5,
            1 + (n * 11) % 28
        ))
    };
    json!({
        "title": format!("item {n:02}"),
        "qty": (n * 7) % 5,
        "price": price,
        "seen_at": seen_at,
        "status": if n.is_multiple_of(2) { "new" } else { "done" },
        "weight": if n.is_multiple_of(5) { Value::Null } else { json!(0.5 + n as f64) },
        "active": !n.is_multiple_of(4),
    })
}

const ITEMS: usize = 45;

async fn items_app() -> TestApp {
    let app = spawn_app(TEST_SCHEMA).await;
    for n in 0..ITEMS {
        app.create("items", &item(n)).await;
    }
    app
}

#[tokio::test]
async fn walking_pages_yields_the_same_sequence_as_one_page_under_every_sort() {
    let app = items_app().await;
    let sorts = [
        "",
        "-qty",
        "qty,-price",
        "seen_at",
        "-seen_at",
        "price",
        "-price,title",
        "status,-seen_at,qty",
        "-created_at",
        "active,-weight",
        "-weight",
        "-title",
        "-id",
    ];
    for sort in sorts {
        for filter in [
            "",
            "qty >= 2 && status = \"done\"",
            "seen_at != null || price = null",
        ] {
            let mut params = Vec::new();
            if !sort.is_empty() {
                params.push(format!("sort={}", encode(sort)));
            }
            if !filter.is_empty() {
                params.push(format!("filter={}", encode(filter)));
            }
            let query = params.join("&");
            let whole = get_ok(&app, &format!("/api/v1/items?limit=100&{query}")).await;
            assert!(whole["meta"]["page"]["next"].is_null());
            let expected = ids(&whole);
            if filter.is_empty() {
                assert_eq!(expected.len(), ITEMS);
            }
            let walked = walk_pages(&app, &format!("/api/v1/items?limit=7&{query}")).await;
            assert_eq!(walked, expected, "sort {sort:?}, filter {filter:?}");
        }
    }
    // A page size that divides the total exactly (the last page is full and has no `next`), and
    // pages of one.
    let exact = walk_pages(&app, "/api/v1/items?limit=9&sort=-seen_at").await;
    let whole = ids(&get_ok(&app, "/api/v1/items?limit=100&sort=-seen_at").await);
    assert_eq!(exact, whole);
    let one = walk_pages(&app, "/api/v1/items?limit=1&sort=qty,-price").await;
    let whole = ids(&get_ok(&app, "/api/v1/items?limit=100&sort=qty,-price").await);
    assert_eq!(one, whole);
    app.stop().await;
}

#[tokio::test]
async fn cursors_on_number_fields_resume_exactly_after_the_last_value() {
    let app = spawn_app(TEST_SCHEMA).await;
    // Doubles with all 17 significant digits, some of them equal.
    for n in 0..40u32 {
        let weight = 0.5 + f64::from(n % 31).sqrt() * 1_234.567_890_123 / 7.0;
        app.create(
            "items",
            &json!({"title": format!("item {n:02}"), "weight": weight}),
        )
        .await;
    }
    for sort in ["weight", "-weight"] {
        let whole = ids(&get_ok(
            &app,
            &format!("/api/v1/items?limit=100&sort={}", encode(sort)),
        )
        .await);
        let walked = walk_pages(
            &app,
            &format!("/api/v1/items?limit=3&sort={}", encode(sort)),
        )
        .await;
        assert_eq!(walked, whole, "sort {sort}");
    }
    app.stop().await;
}

#[tokio::test]
async fn page_meta_has_limit_next_and_offset() {
    let app = items_app().await;
    let body = get_ok(&app, "/api/v1/items").await;
    assert_eq!(data(&body).len(), 20, "the default limit is 20");
    let page = body["meta"]["page"].as_object().expect("page");
    let mut keys: Vec<&str> = page.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["limit", "next", "offset"]);
    assert_eq!(page["limit"], 20);
    assert_eq!(page["offset"], 0);
    assert!(page["next"].is_string());

    let next = page["next"].as_str().expect("next");
    let body = get_ok(&app, &format!("/api/v1/items?cursor={}", encode(next))).await;
    let page = body["meta"]["page"].as_object().expect("page");
    let mut keys: Vec<&str> = page.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["limit", "next", "offset"],
        "offset is on cursor pages too"
    );
    assert_eq!(page["offset"], 0);

    let body = get_ok(&app, "/api/v1/items?limit=100&count=true").await;
    assert_eq!(body["meta"]["page"]["total"], ITEMS);
    assert!(body["meta"]["page"]["next"].is_null());
    let body = get_ok(&app, "/api/v1/items?limit=45").await;
    assert!(
        body["meta"]["page"]["next"].is_null(),
        "a page that ends exactly at the last record has no next: {}",
        body["meta"]
    );
    let body = get_ok(&app, "/api/v1/items?limit=44").await;
    assert!(body["meta"]["page"]["next"].is_string());
    app.stop().await;
}

#[tokio::test]
async fn offset_pages_slice_the_same_order() {
    let app = items_app().await;
    let whole = ids(&get_ok(&app, "/api/v1/items?limit=100&sort=-qty,price").await);
    let body = get_ok(&app, "/api/v1/items?limit=7&offset=14&sort=-qty,price").await;
    assert_eq!(ids(&body), whole[14..21]);
    assert_eq!(body["meta"]["page"]["offset"], 14);
    let body = get_ok(&app, "/api/v1/items?limit=10&offset=40&sort=-qty,price").await;
    assert_eq!(ids(&body), whole[40..]);
    assert!(body["meta"]["page"]["next"].is_null());
    let body = get_ok(&app, "/api/v1/items?offset=1000").await;
    assert_eq!(ids(&body), Vec::<String>::new());
    let body = get_ok(&app, &format!("/api/v1/items?offset={}", u64::MAX)).await;
    assert_eq!(ids(&body), Vec::<String>::new());
    app.stop().await;
}

#[tokio::test]
async fn count_true_counts_only_matching_records() {
    let app = items_app().await;
    let done = (0..ITEMS).filter(|n| n % 2 == 1).count();
    let filter = encode(r#"status = "done""#);
    let body = get_ok(
        &app,
        &format!("/api/v1/items?filter={filter}&count=true&limit=5"),
    )
    .await;
    assert_eq!(body["meta"]["page"]["total"], done);
    assert_eq!(data(&body).len(), 5, "the total does not change the page");
    let next = body["meta"]["page"]["next"].as_str().expect("next");
    let body = get_ok(
        &app,
        &format!(
            "/api/v1/items?filter={filter}&count=true&limit=5&cursor={}",
            encode(next)
        ),
    )
    .await;
    assert_eq!(
        body["meta"]["page"]["total"], done,
        "the total is the whole match, not what is left after the cursor"
    );
    let nulls = (0..ITEMS).filter(|n| n % 3 == 0).count();
    let body = get_ok(
        &app,
        &format!("/api/v1/items?filter={}&count=1", encode("seen_at = null")),
    )
    .await;
    assert_eq!(body["meta"]["page"]["total"], nulls);
    let body = get_ok(
        &app,
        &format!("/api/v1/items?filter={}&count=true", encode("qty > 1000")),
    )
    .await;
    assert_eq!(body["meta"]["page"]["total"], 0);
    let body = get_ok(&app, &format!("/api/v1/items?filter={filter}&count=false")).await;
    assert!(body["meta"]["page"].get("total").is_none());

    // Soft-deleted records are not counted.
    let first = ids(&get_ok(&app, &format!("/api/v1/items?filter={filter}&limit=2")).await);
    for id in &first {
        assert_eq!(
            app.delete(&format!("/api/v1/items/{id}")).await.status(),
            204
        );
    }
    let body = get_ok(&app, &format!("/api/v1/items?filter={filter}&count=true")).await;
    assert_eq!(body["meta"]["page"]["total"], done - 2);
    let body = get_ok(&app, "/api/v1/items?count=true").await;
    assert_eq!(body["meta"]["page"]["total"], ITEMS - 2);
    app.stop().await;
}

#[tokio::test]
async fn cursors_are_signed_and_bound_to_collection_and_sort() {
    let app = items_app().await;
    for n in 0..3 {
        app.create("notes", &json!({"body": format!("note {n}")}))
            .await;
    }
    let first = get_ok(&app, "/api/v1/items?limit=5&sort=-qty").await;
    let cursor = first["meta"]["page"]["next"]
        .as_str()
        .expect("next")
        .to_owned();
    // It works as given.
    get_ok(
        &app,
        &format!("/api/v1/items?limit=5&sort=-qty&cursor={}", encode(&cursor)),
    )
    .await;

    let (payload, tag) = cursor.split_once('.').expect("payload.tag");
    let flip = |text: &str, at: usize| -> String {
        let mut chars: Vec<char> = text.chars().collect();
        chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect()
    };
    let mut tampered = vec![
        format!("{}.{tag}", flip(payload, 3)),
        format!("{payload}.{}", flip(tag, 0)),
        format!("{payload}{tag}"),
        payload.to_owned(),
        "garbage".to_owned(),
        "".to_owned(),
        ".".to_owned(),
        format!("{cursor}x"),
    ];
    // A payload rewritten to jump elsewhere, keeping the old signature.
    let forged_payload = base64url(
        format!(
            r#"{{"c":"items","s":"-qty,id","v":[0,"{}"]}}"#,
            uuid::Uuid::nil()
        )
        .as_bytes(),
    );
    tampered.push(format!("{forged_payload}.{tag}"));
    for bad in &tampered {
        let problem = assert_rejected(
            &app,
            &format!("/api/v1/items?limit=5&sort=-qty&cursor={}", encode(bad)),
            "cursor",
        )
        .await;
        assert!(
            !problem["detail"].as_str().unwrap_or("").contains("HMAC"),
            "{problem}"
        );
    }

    // Another sort, or none.
    for sort in ["sort=qty", "sort=-qty,title", "sort=-price", ""] {
        assert_rejected(
            &app,
            &format!("/api/v1/items?limit=5&{sort}&cursor={}", encode(&cursor)),
            "cursor",
        )
        .await;
    }
    // Another collection.
    let notes = get_ok(&app, "/api/v1/notes?limit=1").await;
    let notes_cursor = notes["meta"]["page"]["next"].as_str().expect("next");
    assert_rejected(
        &app,
        &format!("/api/v1/items?cursor={}", encode(notes_cursor)),
        "cursor",
    )
    .await;
    // With a non-zero offset (`offset=0`, the default, goes with a cursor).
    let body = get_ok(
        &app,
        &format!(
            "/api/v1/items?sort=-qty&cursor={}&offset=0",
            encode(&cursor)
        ),
    )
    .await;
    assert_eq!(body["meta"]["page"]["offset"], 0);
    assert_rejected(
        &app,
        &format!(
            "/api/v1/items?offset=5&sort=-qty&cursor={}",
            encode(&cursor)
        ),
        "cursor",
    )
    .await;

    // Another server (another secret) does not accept it.
    let other = items_app().await;
    assert_rejected(
        &other,
        &format!("/api/v1/items?limit=5&sort=-qty&cursor={}", encode(&cursor)),
        "cursor",
    )
    .await;
    other.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn a_cursor_signature_cannot_be_shortened() {
    let app = spawn_app(TEST_SCHEMA).await;
    for n in 0..8 {
        app.create("items", &item(n)).await;
    }
    let first = get_ok(&app, "/api/v1/items?limit=5&sort=-qty").await;
    let cursor = first["meta"]["page"]["next"].as_str().expect("next");
    let (payload, tag) = cursor.split_once('.').expect("payload.tag");
    // Were a short signature enough, anyone could forge a cursor by trying 256 one-byte ones.
    let forged = base64url(
        format!(
            r#"{{"c":"items","s":"-qty,id","v":[0,"{}"]}}"#,
            uuid::Uuid::nil()
        )
        .as_bytes(),
    );
    let mut accepted = Vec::new();
    for byte in 0..=255u8 {
        let cursor = format!("{forged}.{}", base64url(&[byte]));
        let response = app
            .get(&format!(
                "/api/v1/items?limit=5&sort=-qty&cursor={}",
                encode(&cursor)
            ))
            .await;
        if response.status() != 400 {
            accepted.push((byte, response.status().as_u16()));
        }
    }
    assert!(
        accepted.is_empty(),
        "forged cursors with a one-byte signature were accepted (byte, status): {accepted:?}"
    );
    // Whole base64 quanta (4 characters = 3 bytes), so each prefix decodes cleanly.
    for keep in [20, 16, 4] {
        assert_rejected(
            &app,
            &format!(
                "/api/v1/items?limit=5&sort=-qty&cursor={}",
                encode(&format!("{payload}.{}", &tag[..keep]))
            ),
            "cursor",
        )
        .await;
    }
    app.stop().await;
}

/// The pre-existing notes in `sort` order, the first page, and the notes to delete (not yet seen).
async fn notes_scenario(app: &TestApp, sort: &str) -> (Vec<String>, Value, Vec<String>) {
    let all = ids(&get_ok(app, &format!("/api/v1/notes?limit=100&{sort}")).await);
    assert_eq!(all.len(), 60);
    let page = get_ok(app, &format!("/api/v1/notes?limit=10&{sort}")).await;
    assert_eq!(ids(&page), all[..10]);
    let doomed: Vec<String> = [10, 17, 29, 41, 59]
        .iter()
        .map(|&n| all[n].clone())
        .collect();
    (all, page, doomed)
}

async fn create_notes(app: &TestApp) {
    for n in 0..60 {
        app.create("notes", &json!({"body": format!("note {n:02}")}))
            .await;
    }
}

fn assert_each_survivor_once(seen: &[String], before: &[String], deleted: &[String], strict: bool) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in seen {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let repeated: Vec<_> = counts.iter().filter(|&(_, &n)| n > 1).collect();
    assert!(repeated.is_empty(), "records seen twice: {repeated:?}");
    let deleted: HashSet<&str> = deleted.iter().map(String::as_str).collect();
    for id in before {
        if deleted.contains(id.as_str()) {
            if strict {
                assert!(!counts.contains_key(id.as_str()), "deleted {id} was listed");
            }
        } else {
            assert_eq!(
                counts.get(id.as_str()),
                Some(&1),
                "{id} is seen exactly once"
            );
        }
    }
}

async fn rest_of_pages(app: &TestApp, first: &Value, sort: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut next = first["meta"]["page"]["next"].as_str().map(str::to_owned);
    while let Some(cursor) = next {
        let body = get_ok(
            app,
            &format!("/api/v1/notes?limit=10&{sort}&cursor={}", encode(&cursor)),
        )
        .await;
        seen.extend(ids(&body));
        next = body["meta"]["page"]["next"].as_str().map(str::to_owned);
        assert!(seen.len() < 1000, "paging does not end");
    }
    seen
}

#[tokio::test]
async fn cursor_pages_stay_stable_under_concurrent_writes() {
    for sort in ["", "sort=-body", "sort=body", "sort=-created_at"] {
        let app = spawn_app(TEST_SCHEMA).await;
        create_notes(&app).await;
        let (before, first, doomed) = notes_scenario(&app, sort).await;
        let creates = (0..20).map(|n| {
            let app = &app;
            async move {
                app.create("notes", &json!({"body": format!("new {n:02}")}))
                    .await;
            }
        });
        let deletes = doomed.iter().map(|id| {
            let app = &app;
            async move {
                let response = app.delete(&format!("/api/v1/notes/{id}")).await;
                assert_eq!(response.status(), 204);
            }
        });
        tokio::join!(join_all(creates.collect()), join_all(deletes.collect()));
        let mut seen = ids(&first);
        seen.extend(rest_of_pages(&app, &first, sort).await);
        assert_each_survivor_once(&seen, &before, &doomed, true);
        app.stop().await;
    }
}

#[tokio::test]
async fn cursor_pages_stay_stable_while_writes_run_during_the_walk() {
    let app = spawn_app(TEST_SCHEMA).await;
    create_notes(&app).await;
    let sort = "sort=-body";
    let (before, first, doomed) = notes_scenario(&app, sort).await;
    let writes = async {
        for (n, id) in doomed.iter().enumerate() {
            for k in 0..4 {
                app.create("notes", &json!({"body": format!("note {n}{k} new")}))
                    .await;
            }
            assert_eq!(
                app.delete(&format!("/api/v1/notes/{id}")).await.status(),
                204
            );
            tokio::task::yield_now().await;
        }
    };
    let (_, rest) = tokio::join!(writes, rest_of_pages(&app, &first, sort));
    let mut seen = ids(&first);
    seen.extend(rest);
    assert_each_survivor_once(&seen, &before, &doomed, false);
    app.stop().await;
}

/// Runs futures concurrently on this task (the suite does not depend on the `futures` crate).
async fn join_all<F: Future<Output = ()>>(futures: Vec<F>) {
    let mut pending: Vec<Option<Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    std::future::poll_fn(|cx| {
        for slot in &mut pending {
            if slot
                .as_mut()
                .is_some_and(|future| future.as_mut().poll(cx).is_ready())
            {
                *slot = None;
            }
        }
        if pending.iter().all(Option::is_none) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}

/// URL-safe base64 without padding, as cursors are written (the suite has no base64 dependency).
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

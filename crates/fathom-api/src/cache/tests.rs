//! The cache's rules without a server: what an answer depends on, and that an answer read
//! before an invalidation is never served after it.

use serde_json::json;

use super::*;

const SCHEMA: &str = r#"
[collections.authors]
cache = "30s"
fields.name = { type = "text" }

[collections.posts]
cache = "30s"
fields.title = { type = "text" }
fields.author = { type = "relation", collection = "authors" }

[collections.comments]
fields.post = { type = "relation", collection = "posts" }

[collections.tags]
cache = "1m"
fields.name = { type = "text" }
"#;

fn schema() -> Schema {
    fathom_schema::parse_schema("schema.toml", SCHEMA).expect("the test schema parses")
}

fn answer(n: i64) -> Answer {
    Answer::new(&json!([{ "n": n }]), None, format!("\"{n}\""), true)
}

async fn hit(cache: &ResultCache, plan: &CachePlan, collection: &str) -> Option<Arc<Answer>> {
    match cache
        .begin(plan, collection, Read::List, None, &Principal::Anonymous)
        .await
    {
        Lookup::Hit(answer) => Some(answer),
        Lookup::Miss(_) => None,
    }
}

async fn fill(cache: &ResultCache, plan: &CachePlan, collection: &str, n: i64) {
    match cache
        .begin(plan, collection, Read::List, None, &Principal::Anonymous)
        .await
    {
        Lookup::Miss(pending) => cache.finish(pending, || answer(n)),
        Lookup::Hit(_) => panic!("{collection}: expected a miss"),
    }
}

#[tokio::test]
async fn an_answer_depends_on_every_collection_its_relations_connect_it_to() {
    let schema = schema();
    let posts = schema.collection("posts").expect("declared");
    let reached: Vec<String> = reach(&schema, posts).into_iter().collect();
    assert_eq!(reached, ["authors", "comments", "posts"]);
    let tags = schema.collection("tags").expect("declared");
    assert_eq!(
        reach(&schema, tags).into_iter().collect::<Vec<_>>(),
        ["tags"]
    );
}

#[tokio::test]
async fn a_write_to_a_related_collection_drops_the_answer_and_an_unrelated_one_does_not() {
    let cache = ResultCache::new(1 << 20);
    let plan = cache.plan(&schema());
    fill(&cache, &plan, "posts", 1).await;
    fill(&cache, &plan, "tags", 2).await;
    assert!(hit(&cache, &plan, "posts").await.is_some());
    cache.invalidate("tags");
    assert!(
        hit(&cache, &plan, "posts").await.is_some(),
        "tags are not related to posts"
    );
    assert!(hit(&cache, &plan, "tags").await.is_none());
    cache.invalidate("comments");
    assert!(
        hit(&cache, &plan, "posts").await.is_none(),
        "comments can be expanded from posts (posts.comments_via_post)"
    );
    assert!(
        hit(&cache, &plan, "comments").await.is_none(),
        "comments are not cached at all"
    );
    let counts = cache.counts();
    assert!(counts.contains(&("posts".to_owned(), 2, 2)), "{counts:?}");
}

#[tokio::test]
async fn an_answer_read_before_an_invalidation_is_never_stored_after_it() {
    let cache = ResultCache::new(1 << 20);
    let plan = cache.plan(&schema());
    let Lookup::Miss(pending) = cache
        .begin(&plan, "posts", Read::List, None, &Principal::Anonymous)
        .await
    else {
        panic!("an empty cache misses");
    };
    // A write commits and invalidates while the read is under way.
    cache.invalidate("authors");
    cache.finish(pending, || answer(1));
    assert!(
        hit(&cache, &plan, "posts").await.is_none(),
        "the stale answer was kept"
    );
}

#[tokio::test]
async fn a_new_schema_never_serves_the_old_ones_answers_and_zero_bytes_caches_nothing() {
    let cache = ResultCache::new(1 << 20);
    let old = cache.plan(&schema());
    fill(&cache, &old, "tags", 1).await;
    let new = cache.plan(&schema());
    assert!(hit(&cache, &new, "tags").await.is_none());
    let off = ResultCache::new(0);
    let plan = off.plan(&schema());
    assert!(matches!(
        off.begin(&plan, "tags", Read::List, None, &Principal::Anonymous)
            .await,
        Lookup::Miss(None)
    ));
}

#[tokio::test]
async fn an_answer_lives_its_collections_duration_and_no_longer() {
    let schema = fathom_schema::parse_schema(
        "schema.toml",
        "[collections.ticks]\ncache = \"150ms\"\nfields.n = { type = \"integer\" }\n",
    )
    .expect("parses");
    let cache = ResultCache::new(1 << 20);
    let plan = cache.plan(&schema);
    fill(&cache, &plan, "ticks", 1).await;
    assert!(hit(&cache, &plan, "ticks").await.is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(hit(&cache, &plan, "ticks").await.is_none(), "expired");
    // Read again, it lives a full duration again.
    fill(&cache, &plan, "ticks", 2).await;
    assert!(hit(&cache, &plan, "ticks").await.is_some());
}

/// A cache shared by tasks, with a read of `tags` under way (missed and not yet finished).
async fn first_read_under_way() -> (Arc<ResultCache>, Arc<CachePlan>, Option<Box<Pending>>) {
    let cache = ResultCache::new(1 << 20);
    let plan = Arc::new(cache.plan(&schema()));
    let Lookup::Miss(leader) = cache
        .begin(&plan, "tags", Read::List, None, &Principal::Anonymous)
        .await
    else {
        panic!("an empty cache misses");
    };
    (cache, plan, leader)
}

#[tokio::test]
async fn concurrent_misses_of_one_key_wait_for_the_first_read_instead_of_reading_again() {
    let (cache, plan, leader) = first_read_under_way().await;
    let waiters: Vec<_> = (0..8)
        .map(|_| {
            let (cache, plan) = (Arc::clone(&cache), Arc::clone(&plan));
            tokio::spawn(async move { hit(&cache, &plan, "tags").await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        waiters.iter().all(|w| !w.is_finished()),
        "the waiters answered before the first read ended"
    );
    cache.finish(leader, || answer(7));
    for waiter in waiters {
        let served = waiter
            .await
            .expect("joins")
            .expect("a waiter got the first read's answer");
        assert_eq!(served.weight(), answer(7).weight());
    }
    assert!(cache.counts().contains(&("tags".to_owned(), 8, 1)));
}

#[tokio::test]
async fn when_the_first_read_fails_a_waiter_reads_itself() {
    let (cache, plan, leader) = first_read_under_way().await;
    let waiter = {
        let (cache, plan) = (Arc::clone(&cache), Arc::clone(&plan));
        tokio::spawn(async move {
            matches!(
                cache
                    .begin(&plan, "tags", Read::List, None, &Principal::Anonymous)
                    .await,
                Lookup::Miss(Some(_))
            )
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiter.is_finished(), "the waiter did not wait");
    // The first read fails: its pending read is dropped without an answer.
    drop(leader);
    assert!(waiter.await.expect("joins"), "the waiter reads for itself");
}

#[tokio::test]
async fn near_its_end_one_request_refreshes_an_answer_while_the_others_are_still_served_it() {
    let schema = fathom_schema::parse_schema(
        "schema.toml",
        "[collections.ticks]\ncache = \"2s\"\nfields.n = { type = \"integer\" }\n",
    )
    .expect("parses");
    let cache = ResultCache::new(1 << 20);
    let plan = cache.plan(&schema);
    fill(&cache, &plan, "ticks", 1).await;
    assert!(hit(&cache, &plan, "ticks").await.is_some(), "fresh");
    // Past three quarters of its life (1.5 s), before its end (2 s).
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    let Lookup::Miss(refresh) = cache
        .begin(&plan, "ticks", Read::List, None, &Principal::Anonymous)
        .await
    else {
        panic!("the first request after 1.5 s refreshes");
    };
    assert!(
        hit(&cache, &plan, "ticks").await.is_some(),
        "the others are served the answer meanwhile, without waiting"
    );
    cache.finish(refresh, || answer(2));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        hit(&cache, &plan, "ticks").await.is_some(),
        "the refreshed answer lives a full duration from its read"
    );
}

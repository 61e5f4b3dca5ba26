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

fn hit(cache: &ResultCache, plan: &CachePlan, collection: &str) -> Option<Arc<Answer>> {
    match cache.begin(plan, collection, Read::List, None, &Principal::Anonymous) {
        Lookup::Hit(answer) => Some(answer),
        Lookup::Miss(_) => None,
    }
}

fn fill(cache: &ResultCache, plan: &CachePlan, collection: &str, n: i64) {
    match cache.begin(plan, collection, Read::List, None, &Principal::Anonymous) {
        Lookup::Miss(pending) => cache.finish(pending, || answer(n)),
        Lookup::Hit(_) => panic!("{collection}: expected a miss"),
    }
}

#[test]
fn an_answer_depends_on_every_collection_its_relations_connect_it_to() {
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

#[test]
fn a_write_to_a_related_collection_drops_the_answer_and_an_unrelated_one_does_not() {
    let cache = ResultCache::new(1 << 20);
    let plan = cache.plan(&schema());
    fill(&cache, &plan, "posts", 1);
    fill(&cache, &plan, "tags", 2);
    assert!(hit(&cache, &plan, "posts").is_some());
    cache.invalidate("tags");
    assert!(
        hit(&cache, &plan, "posts").is_some(),
        "tags are not related to posts"
    );
    assert!(hit(&cache, &plan, "tags").is_none());
    cache.invalidate("comments");
    assert!(
        hit(&cache, &plan, "posts").is_none(),
        "comments can be expanded from posts (posts.comments_via_post)"
    );
    assert!(
        hit(&cache, &plan, "comments").is_none(),
        "comments are not cached at all"
    );
    let counts = cache.counts();
    assert!(counts.contains(&("posts".to_owned(), 2, 2)), "{counts:?}");
}

#[test]
fn an_answer_read_before_an_invalidation_is_never_stored_after_it() {
    let cache = ResultCache::new(1 << 20);
    let plan = cache.plan(&schema());
    let Lookup::Miss(pending) =
        cache.begin(&plan, "posts", Read::List, None, &Principal::Anonymous)
    else {
        panic!("an empty cache misses");
    };
    // A write commits and invalidates while the read is under way.
    cache.invalidate("authors");
    cache.finish(pending, || answer(1));
    assert!(
        hit(&cache, &plan, "posts").is_none(),
        "the stale answer was kept"
    );
}

#[test]
fn a_new_schema_never_serves_the_old_ones_answers_and_zero_bytes_caches_nothing() {
    let cache = ResultCache::new(1 << 20);
    let old = cache.plan(&schema());
    fill(&cache, &old, "tags", 1);
    let new = cache.plan(&schema());
    assert!(hit(&cache, &new, "tags").is_none());
    let off = ResultCache::new(0);
    let plan = off.plan(&schema());
    assert!(matches!(
        off.begin(&plan, "tags", Read::List, None, &Principal::Anonymous),
        Lookup::Miss(None)
    ));
}

#[test]
fn an_answer_lives_its_collections_duration_and_no_longer() {
    let schema = fathom_schema::parse_schema(
        "schema.toml",
        "[collections.ticks]\ncache = \"150ms\"\nfields.n = { type = \"integer\" }\n",
    )
    .expect("parses");
    let cache = ResultCache::new(1 << 20);
    let plan = cache.plan(&schema);
    fill(&cache, &plan, "ticks", 1);
    assert!(hit(&cache, &plan, "ticks").is_some());
    std::thread::sleep(Duration::from_millis(300));
    assert!(hit(&cache, &plan, "ticks").is_none(), "expired");
    // Read again, it lives a full duration again.
    fill(&cache, &plan, "ticks", 2);
    assert!(hit(&cache, &plan, "ticks").is_some());
}

//! The access matrix over the demo shop: six principals (anonymous; staff and a customer in each
//! of two shops; a staff user in no shop) × every demo collection × get, list, filter, count,
//! expand, filters through relations (counted and paged by cursor), update and delete. Each
//! answer is compared with a model of the demo's rules: tenant-scoped records are visible within
//! their tenant to staff, and to the customer they belong to; only staff of the tenant write
//! them; the catalogue is public to read and administrators-only to write. Zero cross-user or cross-tenant reads or writes; a record the
//! caller may not see answers 404 exactly as if it did not exist.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, json_with_status, mint_member, send_as, spawn_demo, spawn_demo_cached,
};
use crate::query::support::encode;

const SHOPS: [&str; 2] = ["north", "south"];
const SCOPED: [&str; 3] = ["customers", "orders", "order_items"];
const CATALOGUE: [&str; 2] = ["categories", "products"];

struct Principal {
    name: String,
    token: Option<String>,
    user: Option<String>,
    tenant: Option<&'static str>,
    staff: bool,
}

/// One record of the world: where it lives and whose it is.
struct Known {
    collection: &'static str,
    id: String,
    tenant: Option<String>,
    /// The user id of the customer the record belongs to (through its customer).
    owner: Option<String>,
}

impl Principal {
    fn sees(&self, record: &Known) -> bool {
        match &record.tenant {
            None => true,
            Some(tenant) => {
                self.tenant == Some(tenant.as_str())
                    && (self.staff || (self.user.is_some() && record.owner == self.user))
            }
        }
    }

    fn writes(&self, record: &Known) -> bool {
        record.tenant.is_some() && self.staff && self.tenant == record.tenant.as_deref()
    }

    /// The status of a write this principal may not make: a hidden or guarded record is 404;
    /// an operation without a rule (the catalogue) is 401 anonymous, 403 signed in.
    fn refusal(&self, record: &Known) -> u16 {
        match (&record.tenant, &self.token) {
            (Some(_), _) => 404,
            (None, None) => 401,
            (None, Some(_)) => 403,
        }
    }
}

async fn create(app: &TestApp, collection: &str, body: Value) -> String {
    let created = json_with_status(
        app.post_json(&format!("/api/v1/{collection}"), &body).await,
        201,
    )
    .await;
    created["data"]["id"].as_str().expect("id").to_owned()
}

/// Two shops, each with staff and a customer who has a login, and in each shop one customer
/// with orders and items of their own and one without a login.
async fn world(app: &TestApp) -> (Vec<Principal>, Vec<Known>) {
    let mut principals = vec![Principal {
        name: "anonymous".into(),
        token: None,
        user: None,
        tenant: None,
        staff: false,
    }];
    let product = json_with_status(app.get("/api/v1/products?limit=1").await, 200).await["data"][0]
        ["id"]
        .as_str()
        .expect("a seeded product")
        .to_owned();
    let mut known = Vec::new();
    for shop in SHOPS {
        let (_, staff) = mint_member(
            &app.store,
            &app.auth,
            &format!("staff@{shop}.test"),
            &["staff"],
            Some(shop),
        )
        .await;
        let (customer_user, customer) = mint_member(
            &app.store,
            &app.auth,
            &format!("buyer@{shop}.test"),
            &["customer"],
            Some(shop),
        )
        .await;
        let customer_user = customer_user.to_string();
        principals.push(Principal {
            name: format!("{shop} staff"),
            token: Some(staff),
            user: None,
            tenant: Some(shop),
            staff: true,
        });
        principals.push(Principal {
            name: format!("{shop} customer"),
            token: Some(customer),
            user: Some(customer_user.clone()),
            tenant: Some(shop),
            staff: false,
        });
        for (n, account) in [Some(customer_user.clone()), None].into_iter().enumerate() {
            let mut body = json!({
                "email": format!("c{n}@{shop}.test"),
                "name": format!("Customer {n} of {shop}"),
                "tenant": shop,
            });
            if let Some(account) = &account {
                body["account"] = json!(account);
            }
            let customer = create(app, "customers", body).await;
            let order = create(
                app,
                "orders",
                json!({"customer": customer, "total": "10.00", "placed_at": "2026-11-01T10:00:00Z", "tenant": shop}),
            )
            .await;
            let item = create(
                app,
                "order_items",
                json!({"order": order, "product": product, "quantity": 1, "unit_price": "10.00", "tenant": shop}),
            )
            .await;
            for (collection, id) in [
                ("customers", customer),
                ("orders", order),
                ("order_items", item),
            ] {
                known.push(Known {
                    collection,
                    id,
                    tenant: Some(shop.to_owned()),
                    owner: account.clone(),
                });
            }
        }
    }
    // A staff member who belongs to no shop sees no shop's records.
    let (_, loner) = mint_member(
        &app.store,
        &app.auth,
        "staff@nowhere.test",
        &["staff"],
        None,
    )
    .await;
    principals.push(Principal {
        name: "staff without a shop".into(),
        token: Some(loner),
        user: None,
        tenant: None,
        staff: true,
    });
    // Everything else already in the demo: the catalogue, and the seeded shop's records.
    for collection in CATALOGUE.into_iter().chain(SCOPED) {
        let all = json_with_status(
            app.get(&format!("/api/v1/{collection}?limit=100")).await,
            200,
        )
        .await;
        for record in all["data"].as_array().expect("array") {
            let id = record["id"].as_str().expect("id").to_owned();
            if known.iter().any(|k| k.id == id) {
                continue;
            }
            known.push(Known {
                collection,
                id,
                tenant: record["tenant"].as_str().map(str::to_owned),
                owner: None,
            });
        }
    }
    (principals, known)
}

async fn status(
    app: &TestApp,
    method: &str,
    path: &str,
    p: &Principal,
    body: Option<Value>,
) -> (u16, Value) {
    let response = send_as(app, method, path, p.token.as_deref(), body).await;
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn ids(page: &Value) -> BTreeSet<String> {
    page["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn patch_for(collection: &str) -> Value {
    match collection {
        "customers" => json!({"name": "Renamed"}),
        "orders" => json!({"gift": true}),
        "order_items" => json!({"quantity": 3}),
        "categories" => json!({"name": "Renamed category"}),
        _ => json!({"stock": 99}),
    }
}

#[tokio::test]
async fn no_principal_reads_or_writes_across_users_or_tenants() {
    matrix(spawn_demo().await, 1).await;
}

/// The same matrix with every collection's answers cached: each read is asked twice (the second
/// time from the cache), writes must reach the next reads at once, and no answer of one
/// principal reaches another.
#[tokio::test]
async fn no_principal_reads_or_writes_across_users_or_tenants_with_the_cache_on() {
    matrix(spawn_demo_cached().await, 2).await;
}

/// Runs the matrix on `app`, asking every read `passes` times.
async fn matrix(app: TestApp, passes: usize) {
    let (principals, known) = world(&app).await;
    assert!(known.len() >= 20, "a world of {} records", known.len());
    let mut checked = 0;
    for _ in 0..passes {
        checked += reads(&app, &principals, &known).await;
    }
    writes(&app, &principals, &known, checked).await;
    app.stop().await;
}

/// Every principal lists, counts, filters, gets and expands every collection; the number of
/// checks made.
async fn reads(app: &TestApp, principals: &[Principal], known: &[Known]) -> usize {
    let mut checked = 0;
    for p in principals {
        for collection in CATALOGUE.into_iter().chain(SCOPED) {
            let expected: BTreeSet<String> = known
                .iter()
                .filter(|k| k.collection == collection && p.sees(k))
                .map(|k| k.id.clone())
                .collect();
            let (code, page) = status(
                app,
                "GET",
                &format!("/api/v1/{collection}?limit=100&count=true"),
                p,
                None,
            )
            .await;
            assert_eq!(code, 200, "{} lists {collection}", p.name);
            assert_eq!(ids(&page), expected, "{} lists {collection}", p.name);
            assert_eq!(
                page["meta"]["page"]["total"],
                expected.len(),
                "{} counts {collection}",
                p.name
            );
            checked += 1;
            // Through one and two relation hops (each confined to what the caller may list
            // there), counted and paged by cursor in a sort: every record this principal sees
            // leads only to records it sees, so the filters find exactly the same records.
            if let Some(filter) = hop_filter(collection) {
                let query = format!(
                    "filter={}&count=true&sort=-created_at&limit=3",
                    encode(filter)
                );
                let (total, paged) = paged(app, collection, &query, p).await;
                assert_eq!(
                    total,
                    expected.len() as u64,
                    "{} counts {collection} by {filter}",
                    p.name
                );
                assert_eq!(paged, expected, "{} pages {collection} by {filter}", p.name);
                checked += 1;
            }
        }
        for record in known {
            let path = format!("/api/v1/{}/{}", record.collection, record.id);
            let visible = p.sees(record);
            let (code, _) = status(app, "GET", &path, p, None).await;
            assert_eq!(
                code,
                if visible { 200 } else { 404 },
                "{} gets {path}",
                p.name
            );
            let filter = format!(
                "/api/v1/{}?filter=id%20%3D%20%22{}%22&count=true",
                record.collection, record.id
            );
            let (code, page) = status(app, "GET", &filter, p, None).await;
            assert_eq!(code, 200, "{} filters {path}", p.name);
            assert_eq!(
                page["meta"]["page"]["total"],
                u64::from(visible),
                "{} filters {path}",
                p.name
            );
            checked += 2;
        }
        // Expansion never shows what a list would not: every expanded order and customer of the
        // visible items is itself visible to this principal.
        let (code, page) = status(
            app,
            "GET",
            "/api/v1/order_items?expand=order.customer&limit=100",
            p,
            None,
        )
        .await;
        assert_eq!(code, 200);
        for item in page["data"].as_array().expect("array") {
            let order = &item["expand"]["order"];
            let customer = &order["expand"]["customer"];
            for (expanded, collection) in [(order, "orders"), (customer, "customers")] {
                let id = expanded["id"]
                    .as_str()
                    .expect("an item's order and customer are visible with it");
                let record = known.iter().find(|k| k.id == id).expect("known");
                assert!(p.sees(record), "{} expanded {collection} {id}", p.name);
                assert_eq!(record.collection, collection);
            }
        }
    }
    checked
}

/// Every principal tries to change and then delete every record.
async fn writes(app: &TestApp, principals: &[Principal], known: &[Known], mut checked: usize) {
    let before = snapshot(app, known).await;
    let mut changed: BTreeMap<String, u64> = BTreeMap::new();
    for p in principals {
        for record in known {
            let path = format!("/api/v1/{}/{}", record.collection, record.id);
            let (code, _) =
                status(app, "PATCH", &path, p, Some(patch_for(record.collection))).await;
            if p.writes(record) {
                assert_eq!(code, 200, "{} updates {path}", p.name);
                *changed.entry(record.id.clone()).or_default() += 1;
            } else {
                assert_eq!(code, p.refusal(record), "{} updates {path}", p.name);
            }
            checked += 1;
        }
    }
    for p in principals.iter().filter(|p| !p.staff) {
        for record in known {
            let path = format!("/api/v1/{}/{}", record.collection, record.id);
            let (code, _) = status(app, "DELETE", &path, p, None).await;
            assert_eq!(code, p.refusal(record), "{} deletes {path}", p.name);
            checked += 1;
        }
    }
    // Staff delete only inside their own shop: try every item of the other shop, then one of
    // their own.
    for p in principals.iter().filter(|p| p.staff) {
        for record in known.iter().filter(|k| !p.writes(k)) {
            let path = format!("/api/v1/{}/{}", record.collection, record.id);
            let (code, _) = status(app, "DELETE", &path, p, None).await;
            assert_eq!(code, p.refusal(record), "{} deletes {path}", p.name);
            checked += 1;
        }
    }
    let after = snapshot(app, known).await;
    for record in known {
        let (was, now) = (&before[&record.id], &after[&record.id]);
        let versions = changed.get(&record.id).copied().unwrap_or(0);
        assert_eq!(
            now["version"].as_u64().expect("version"),
            was["version"].as_u64().expect("version") + versions,
            "{} {} changed only by its own staff",
            record.collection,
            record.id
        );
    }
    let own_item = known
        .iter()
        .find(|k| k.collection == "order_items" && k.tenant.as_deref() == Some("north"))
        .expect("a north item");
    let north_staff = &principals[1];
    let path = format!("/api/v1/order_items/{}", own_item.id);
    assert_eq!(status(app, "DELETE", &path, north_staff, None).await.0, 204);
    assert!(checked >= 600, "{checked} checks");
}

/// A filter through relations that every record of `collection` meets when its related records
/// are visible.
fn hop_filter(collection: &str) -> Option<&'static str> {
    match collection {
        "orders" => Some("customer.email != null"),
        "order_items" => Some(r#"order.customer.email ~ "@" && product.name != null"#),
        "products" => Some("category.name != null || category = null"),
        _ => None,
    }
}

/// The total and every record of a list query, following its cursors.
async fn paged(
    app: &TestApp,
    collection: &str,
    query: &str,
    p: &Principal,
) -> (u64, BTreeSet<String>) {
    let (mut seen, mut total) = (BTreeSet::new(), None);
    let mut path = format!("/api/v1/{collection}?{query}");
    loop {
        let (code, page) = status(app, "GET", &path, p, None).await;
        assert_eq!(code, 200, "{} {path}: {page}", p.name);
        total = total.or(page["meta"]["page"]["total"].as_u64());
        seen.extend(ids(&page));
        match page["meta"]["page"]["next"].as_str() {
            Some(next) => path = format!("/api/v1/{collection}?{query}&cursor={next}"),
            None => return (total.unwrap_or(0), seen),
        }
    }
}

/// Every known record as the administrator sees it.
async fn snapshot(app: &TestApp, known: &[Known]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for record in known {
        let path = format!("/api/v1/{}/{}", record.collection, record.id);
        let data = json_with_status(app.get(&path).await, 200).await["data"].clone();
        out.insert(record.id.clone(), data);
    }
    out
}

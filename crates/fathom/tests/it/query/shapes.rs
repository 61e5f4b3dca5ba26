//! Query shapes over HTTP (the architect): a filtered, sorted, expanded, counted list request is
//! recorded by the server's store under its shape, without the values, and reads with other
//! values count under the same shape (`app.store.query_shapes()`, the same store the server runs).

use fathom_store::shapes::ShapeKind;

use super::support::{data, encode, get_ok};
use crate::helpers::spawn_demo;

#[tokio::test]
async fn a_filtered_list_is_recorded_under_its_shape_without_its_values() {
    let app = spawn_demo().await;
    for (price, name) in [("10.5", "lamp"), ("77.25", "zebra-secret-value")] {
        let filter = encode(&format!("price > {price} || name ~ \"{name}\""));
        let body = get_ok(
            &app,
            &format!(
                "/api/v1/products?filter={filter}&sort=-price&expand=category&limit=5&count=true"
            ),
        )
        .await;
        assert!(data(&body).len() <= 5);
    }
    let reports = app.store.query_shapes().await.unwrap();
    let list = reports
        .iter()
        .find(|r| {
            r.shape.collection == "products"
                && r.shape.kind == ShapeKind::List
                && r.shape.filter.contains("price > ? || name ~ ?")
        })
        .unwrap_or_else(|| panic!("no list shape for the request in {reports:#?}"));
    assert_eq!(list.stats.calls, 2);
    assert_eq!(list.shape.expand, ["category"]);
    // Five asked, six read (the extra one tells whether a next page follows).
    assert_eq!(list.shape.page_size, Some(8));
    let sort: Vec<(&str, bool)> = list
        .shape
        .sort
        .iter()
        .map(|s| (s.path.as_str(), s.descending))
        .collect();
    assert_eq!(sort, [("price", true), ("id", false)]);
    assert!(!list.shape.conjunctive);
    let count = reports
        .iter()
        .find(|r| r.shape.kind == ShapeKind::Count && r.shape.filter == list.shape.filter)
        .expect("the count=true read has the list's filter shape");
    assert_eq!(count.stats.calls, 2);
    let recorded = serde_json::to_string(&reports).unwrap();
    for value in ["10.5", "77.25", "lamp", "zebra-secret-value"] {
        assert!(!recorded.contains(value), "{value} recorded in {recorded}");
    }
}

#[tokio::test]
async fn metrics_show_the_shapes_held_and_evicted() {
    let app = crate::helpers::spawn_app_with(crate::helpers::TEST_SCHEMA, |c| {
        c.metrics.listen = Some("127.0.0.1:0".into());
        c.architect.max_shapes = 10;
    })
    .await;
    // Twelve distinct shapes (one per sort field list) into a book of ten.
    let sorts = [
        "title", "-title", "qty", "-qty", "price", "-price", "due", "-due", "code", "-code",
        "status", "-status",
    ];
    for sort in sorts {
        get_ok(&app, &format!("/api/v1/items?sort={sort}")).await;
    }
    let (text, after) = crate::observability::metrics::scrape(&app).await;
    assert_eq!(after.value("fathom_query_shapes", &[]), 10.0, "{text}");
    // At least the two shapes past the bound were evicted (more if start-up read others).
    let evicted = after.value("fathom_query_shapes_evicted_total", &[]);
    assert!(evicted >= 2.0, "{text}");
    assert_eq!(
        u32::try_from(app.store.shape_book().evicted()).map(f64::from),
        Ok(evicted)
    );
}

//! DRF page links keep the request's other query parameters (API.md §1 Pagination): a filtered
//! list walked through `next` gives exactly the filtered rows, and back through `previous`.

use e2e::builders::ProductBuilder;
use e2e::{TestApp, TestAppBuilder};
use serde_json::Value;

/// The path and query of an absolute link (the links use `PUBLIC_BASE_URL`).
fn local(link: &str) -> String {
    let at = link.find("/api/").unwrap_or_else(|| panic!("not an API link: {link}"));
    link[at..].to_string()
}

async fn page(app: &TestApp, path: &str, token: Option<&str>) -> Value {
    let res = app.get(path, token).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

fn ids(page: &Value) -> Vec<i64> {
    let rows = page["results"].as_array().unwrap_or_else(|| panic!("no results: {page}"));
    rows.iter().map(|r| r["id"].as_i64().unwrap_or_else(|| panic!("no id: {r}"))).collect()
}

/// Walks `first` through `next` to the end, then back through `previous`; returns the ids met
/// going forward, checking every link keeps `must_keep` and the way back meets the same pages.
async fn walk(app: &TestApp, first: &str, token: Option<&str>, must_keep: &[&str]) -> Vec<i64> {
    let mut pages = vec![page(app, first, token).await];
    assert_eq!(pages[0]["previous"], Value::Null);
    while let Some(next) = pages.last().unwrap()["next"].as_str().map(str::to_string) {
        for kept in must_keep {
            assert!(next.contains(kept), "{next} keeps {kept}");
        }
        pages.push(page(app, &local(&next), token).await);
    }
    let mut back = vec![ids(pages.last().unwrap())];
    let mut at = pages.last().unwrap().clone();
    while let Some(previous) = at["previous"].as_str().map(str::to_string) {
        for kept in must_keep {
            assert!(previous.contains(kept), "{previous} keeps {kept}");
        }
        at = page(app, &local(&previous), token).await;
        back.push(ids(&at));
    }
    back.reverse();
    let forward: Vec<Vec<i64>> = pages.iter().map(ids).collect();
    assert_eq!(forward, back, "the way back meets the same pages");
    forward.concat()
}

async fn orders(app: &TestApp, customer: i64, assignee: Option<i64>, status: &str, n: usize, tag: &str) -> Vec<i64> {
    sqlx::query_scalar(
        "INSERT INTO orders (user_id, order_number, total_amount, status, assigned_to_id, created_at)
         SELECT $1, $2 || g, 100, $3, $4, now() - make_interval(mins => g)
         FROM generate_series(1, $5) g RETURNING id",
    )
    .bind(customer)
    .bind(format!("EC-{tag}-"))
    .bind(status)
    .bind(assignee)
    .bind(n as i32)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_filtered_order_list_walks_through_its_own_rows_only() {
    let app = TestAppBuilder::new().spawn().await;
    let (_, admin) = app.user_token("owner", "admin").await;
    let (ravi, ravi_token) = app.user_token("ravi", "staff").await;
    let (meena, _) = app.user_token("meena", "staff").await;
    let (customer, _) = app.user_token("voter", "customer").await;
    let mut mine = orders(&app, customer, Some(ravi), "in_progress", 45, "R").await;
    orders(&app, customer, Some(ravi), "completed", 7, "RC").await;
    orders(&app, customer, Some(meena), "in_progress", 10, "M").await;
    orders(&app, customer, None, "ready_for_processing", 5, "U").await;
    // Newest first: created a minute apart, the lowest id newest.
    mine.sort_unstable();

    let first = format!("/api/admin/orders/?assigned_to={ravi}&status=in_progress&page=1");
    let assigned = format!("assigned_to={ravi}");
    let seen = walk(&app, &first, Some(&admin), &[&assigned, "status=in_progress"]).await;
    assert_eq!(seen.len(), 45);
    assert_eq!(seen, mine, "every row of the filter, once, newest first");

    // Page 2's previous keeps the filters and, on this list, `page=1`: without `page` the list
    // answers a bare array of every row (§1), not page 1.
    let p2 =
        page(&app, &format!("/api/admin/orders/?status=in_progress&assigned_to={ravi}&page=2"), Some(&admin)).await;
    let previous = p2["previous"].as_str().unwrap();
    assert!(
        previous.ends_with(&format!("/api/admin/orders/?assigned_to={ravi}&page=1&status=in_progress")),
        "{previous}"
    );

    // The staff list, with its status filter.
    let seen =
        walk(&app, "/api/staff/orders/?status=in_progress&page=1", Some(&ravi_token), &["status=in_progress"]).await;
    assert_eq!(seen, mine);

    // Values are percent-encoded: a search with a space and an ampersand.
    let p = page(&app, "/api/admin/orders/?search=EC-R%20%26x&page=1", Some(&admin)).await;
    assert_eq!(p["count"], 0);
    let p = page(&app, "/api/admin/orders/?search=EC-R&page=1", Some(&admin)).await;
    let next = p["next"].as_str().unwrap_or_else(|| panic!("{p}"));
    assert!(next.contains("search=EC-R"), "{next}");
}

#[tokio::test]
async fn catalogue_links_keep_the_other_parameters_too() {
    let app = TestAppBuilder::new().spawn().await;
    for i in 0..25 {
        ProductBuilder::package(&format!("Kit {i:02}")).price("10.00").create(&app).await;
    }
    let plain = page(&app, "/api/packages/?page=1", None).await;
    assert!(plain["next"].as_str().unwrap().ends_with("/api/packages/?page=2"));
    let tagged = page(&app, "/api/packages/?utm_source=sms%20blast&page=1", None).await;
    assert!(tagged["next"].as_str().unwrap().ends_with("/api/packages/?page=2&utm_source=sms+blast"), "{tagged}");
    assert_eq!(tagged["results"], plain["results"]);
    let p2 = page(&app, &local(tagged["next"].as_str().unwrap()), None).await;
    assert!(p2["previous"].as_str().unwrap().ends_with("/api/packages/?utm_source=sms+blast"), "{p2}");
    assert_eq!(p2["next"], Value::Null);
    let walked: usize = [&tagged, &p2].iter().map(|p| p["results"].as_array().unwrap().len()).sum();
    assert_eq!(walked, 25);
}

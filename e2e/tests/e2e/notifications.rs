use common::notifications::notify_user;
use e2e::builders::{NotificationBuilder, OrderBuilder};
use e2e::{TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

const LIST: &str = "/api/admin/notifications/";

async fn notify(app: &TestApp, user: i64, kind: &str, title: &str, message: &str, order: Option<i64>) -> i64 {
    let mut conn = app.pool.acquire().await.unwrap();
    notify_user(&mut conn, user, kind, title, message, order).await.unwrap();
    sqlx::query_scalar("SELECT max(id) FROM notification WHERE user_id = $1")
        .bind(user)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn set_created(app: &TestApp, id: i64, at: &str) {
    sqlx::query("UPDATE notification SET created_at = $2::timestamptz WHERE id = $1")
        .bind(id)
        .bind(at)
        .execute(&app.pool)
        .await
        .unwrap();
}

async fn is_read(app: &TestApp, id: i64) -> bool {
    sqlx::query_scalar("SELECT is_read FROM notification WHERE id = $1").bind(id).fetch_one(&app.pool).await.unwrap()
}

async fn body(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

async fn list(app: &TestApp, query: &str, token: &str) -> (u16, Value) {
    body(app.get(&format!("{LIST}{query}"), Some(token)).await).await
}

fn titles(page: &Value) -> Vec<String> {
    page["results"].as_array().unwrap().iter().map(|n| n["title"].as_str().unwrap().to_string()).collect()
}

fn not_found() -> Value {
    json!({"success": false, "message": "Notification not found"})
}

#[tokio::test]
async fn notifications_exact_bodies_own_only_filter_and_marking() {
    let app = spawn_app().await;
    let (alice, alice_token) = app.user_token("alice", "admin").await;
    let (bob, bob_token) = app.user_token("bob", "staff").await;
    let order = OrderBuilder::for_user(bob).number("EC-20251103-ABCDEF12").create(&app).await;

    let system = notify(&app, alice, "system", "Welcome", "Hello there", None).await;
    let about_order =
        notify(&app, alice, "new_order", "New Order Ready for Processing", "Order EC-20251103-ABCDEF12 …", Some(order))
            .await;
    let bobs = notify(&app, bob, "order_assigned", "New Order Assigned", "Order assigned", Some(order)).await;
    // Same instant: the tie goes to the higher id.
    set_created(&app, system, "2025-11-03T14:23:45.123456Z").await;
    set_created(&app, about_order, "2025-11-03T14:23:45.123456Z").await;

    let (status, page) = list(&app, "", &alice_token).await;
    assert_eq!(status, 200);
    assert_eq!(
        page,
        json!({
            "count": 2,
            "next": null,
            "previous": null,
            "results": [
                {
                    "id": about_order,
                    "notification_type": "new_order",
                    "title": "New Order Ready for Processing",
                    "message": "Order EC-20251103-ABCDEF12 …",
                    "order": order,
                    "order_number": "EC-20251103-ABCDEF12",
                    "is_read": false,
                    "created_at": "2025-11-03T19:53:45.123456+05:30",
                    "type": "order",
                    "related_url": format!("/orders/{order}"),
                },
                {
                    "id": system,
                    "notification_type": "system",
                    "title": "Welcome",
                    "message": "Hello there",
                    "order": null,
                    "order_number": null,
                    "is_read": false,
                    "created_at": "2025-11-03T19:53:45.123456+05:30",
                    "type": "system",
                    "related_url": null,
                },
            ],
        })
    );

    // Bob sees only his own.
    let (_, page) = list(&app, "", &bob_token).await;
    assert_eq!(page["count"], 1);
    assert_eq!(page["results"][0]["id"], bobs);

    // Another user's notification counts as missing, by either method, and stays unread.
    let path = format!("{LIST}{system}/mark-read/");
    assert_eq!(body(app.post(&path, &json!({}), Some(&bob_token)).await).await, (404, not_found()));
    assert_eq!(body(app.send(Method::PATCH, &path, &json!({}), Some(&bob_token)).await).await, (404, not_found()));
    assert!(!is_read(&app, system).await);
    let missing = format!("{LIST}{}/mark-read/", bobs + 1000);
    assert_eq!(body(app.post(&missing, &json!({}), Some(&alice_token)).await).await, (404, not_found()));
    let (status, _) = body(app.post(&format!("{LIST}abc/mark-read/"), &json!({}), Some(&alice_token)).await).await;
    assert_eq!(status, 404);

    // Mark one read with POST, the other with PATCH; marking again still succeeds.
    let ok = json!({"success": true, "message": "Notification marked as read"});
    assert_eq!(body(app.post(&path, &json!({}), Some(&alice_token)).await).await, (200, ok.clone()));
    assert!(is_read(&app, system).await);
    for query in ["?unread_only=true", "?unread_only=1", "?unread_only=True"] {
        let (status, page) = list(&app, query, &alice_token).await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(page["count"], 1, "{query}");
        assert_eq!(page["results"][0]["id"], about_order, "{query}");
    }
    let (_, page) = list(&app, "?unread_only=false", &alice_token).await;
    assert_eq!(page["count"], 2);
    assert_eq!(page["results"][1]["is_read"], true);
    let order_path = format!("{LIST}{about_order}/mark-read/");
    let res = app.send(Method::PATCH, &order_path, &json!({}), Some(&alice_token)).await;
    assert_eq!(body(res).await, (200, ok.clone()));
    assert!(is_read(&app, about_order).await);
    assert_eq!(body(app.post(&order_path, &json!({}), Some(&alice_token)).await).await, (200, ok));
    let (_, page) = list(&app, "?unread_only=true", &alice_token).await;
    assert_eq!(page, json!({"count": 0, "next": null, "previous": null, "results": []}));

    // Mark all read: only the caller's unread ones, counted.
    for i in 0..3 {
        notify(&app, alice, "progress_update", "Order Progress Update", &format!("p{i}"), Some(order)).await;
    }
    let all = format!("{LIST}mark-all-read/");
    let msg = |n: u32| json!({"success": true, "message": format!("{n} notifications marked as read")});
    assert_eq!(body(app.post(&all, &json!({}), Some(&alice_token)).await).await, (200, msg(3)));
    assert_eq!(body(app.send(Method::PATCH, &all, &json!({}), Some(&alice_token)).await).await, (200, msg(0)));
    notify(&app, alice, "order_completed", "Order Completed", "done", Some(order)).await;
    notify(&app, alice, "system", "Note", "n", None).await;
    assert_eq!(body(app.send(Method::PATCH, &all, &json!({}), Some(&alice_token)).await).await, (200, msg(2)));
    let unread: i64 =
        sqlx::query_scalar("SELECT count(*) FROM notification WHERE NOT is_read").fetch_one(&app.pool).await.unwrap();
    assert_eq!(unread, 1, "bob's notification stays unread");
    assert!(!is_read(&app, bobs).await);
    assert_eq!(body(app.post(&all, &json!({}), Some(&bob_token)).await).await, (200, msg(1)));

    // No token → 401 with DRF's body on every route.
    let no_credentials = json!({"detail": "Authentication credentials were not provided."});
    let res = app.get(LIST, None).await;
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_eq!(body(res).await, (401, no_credentials.clone()));
    assert_eq!(body(app.post(&path, &json!({}), None).await).await, (401, no_credentials.clone()));
    assert_eq!(body(app.send(Method::PATCH, &path, &json!({}), None).await).await, (401, no_credentials.clone()));
    assert_eq!(body(app.post(&all, &json!({}), None).await).await, (401, no_credentials.clone()));
    assert_eq!(body(app.send(Method::PATCH, &all, &json!({}), None).await).await, (401, no_credentials));
}

#[tokio::test]
async fn notifications_paged_newest_first_with_links() {
    let app = spawn_app().await;
    let (carol, token) = app.user_token("carol", "user").await;
    let (dave, _) = app.user_token("dave", "user").await;
    // 25 for carol, N1 oldest … N25 newest (ids in the opposite order to be sure time decides),
    // and a few for dave that must not be counted.
    let start = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z").unwrap().to_utc();
    for i in (1..=25).rev() {
        NotificationBuilder::for_user(carol)
            .kind("system")
            .title(&format!("N{i}"))
            .message("m")
            .created_at(start + chrono::Duration::minutes(i))
            .create(&app)
            .await;
    }
    for _ in 0..3 {
        notify(&app, dave, "system", "D", "m", None).await;
    }

    let base = "http://127.0.0.1:8080/api/admin/notifications/";
    let (status, page) = list(&app, "", &token).await;
    assert_eq!(status, 200);
    assert_eq!(page["count"], 25);
    assert_eq!(page["next"], format!("{base}?page=2"));
    assert_eq!(page["previous"], Value::Null);
    let expected: Vec<String> = (6..=25).rev().map(|i| format!("N{i}")).collect();
    assert_eq!(titles(&page), expected);

    let (status, page2) = list(&app, "?page=2", &token).await;
    assert_eq!(status, 200);
    assert_eq!(page2["count"], 25);
    assert_eq!(page2["next"], Value::Null);
    assert_eq!(page2["previous"], base);
    assert_eq!(titles(&page2), vec!["N5", "N4", "N3", "N2", "N1"]);
    assert_eq!(list(&app, "?page=last", &token).await.1, page2);
    assert_eq!(list(&app, "?page=1", &token).await.1, page);

    let invalid = json!({"detail": "Invalid page."});
    for query in ["?page=9", "?page=3", "?page=0", "?page=abc"] {
        assert_eq!(list(&app, query, &token).await, (404, invalid.clone()), "{query}");
    }

    // The filter is kept in the links.
    sqlx::query("UPDATE notification SET is_read = true WHERE user_id = $1 AND title IN ('N1', 'N2', 'N3')")
        .bind(carol)
        .execute(&app.pool)
        .await
        .unwrap();
    let (_, page) = list(&app, "?unread_only=true", &token).await;
    assert_eq!(page["count"], 22);
    assert_eq!(page["next"], format!("{base}?page=2&unread_only=true"));
    let (_, page2) = list(&app, "?unread_only=true&page=2", &token).await;
    assert_eq!(titles(&page2), vec!["N5", "N4"]);
    assert_eq!(page2["previous"], format!("{base}?unread_only=true"));
}

#[tokio::test]
async fn notification_routes_are_documented_with_both_methods() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/schema/", None).await.json().await.unwrap();
    let paths = &doc["paths"];
    assert!(paths[LIST]["get"].is_object());
    for p in ["/api/admin/notifications/{id}/mark-read/", "/api/admin/notifications/mark-all-read/"] {
        assert!(paths[p]["post"].is_object(), "POST {p}");
        assert!(paths[p]["patch"].is_object(), "PATCH {p}");
    }
}

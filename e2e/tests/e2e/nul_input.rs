//! Issue 9 #9: a NUL character anywhere in the input reached PostgreSQL, which refuses it in text,
//! and every such request was a 500. Now: a body field → the endpoint's usual 400 and nothing
//! written; a search or filter value → matches nothing.

use e2e::builders::ProductBuilder;
use e2e::{TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

use crate::shop::{SAC, place};

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let res = app.get(path, Some(token)).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_nul_in_a_search_or_filter_matches_nothing() {
    let app = spawn_app().await;
    let (_, admin) = app.user_token("admin1", "admin").await;
    let (_, customer) = app.user_token("ab-customer", "user").await;
    ProductBuilder::package("ab Rally Kit").price("100.00").gst_rate("18").hsn_sac(SAC).create(&app).await;
    for (path, token, empty) in [
        ("/api/admin/search/?q=ab%00", &admin, json!({"orders": [], "users": [], "products": [], "staff": []})),
        ("/api/admin/products/?search=a%00", &admin, json!([])),
        ("/api/auth/users/?search=a%00", &admin, json!([])),
        ("/api/auth/users/?role=user%00", &admin, json!([])),
        ("/api/admin/orders/?status=pending%00", &admin, json!([])),
        ("/api/admin/orders/?search=%00", &admin, json!([])),
        ("/api/admin/customers/search/?q=ab%00", &admin, json!({"customers": []})),
        ("/api/orders/my-payments/?status=%00", &customer, json!({"count": 0, "payments": []})),
        ("/api/staff/orders/?status=%00", &admin, json!([])),
    ] {
        let (status, body) = get(&app, path, token).await;
        assert_eq!(status, 200, "{path}: {body}");
        if path.contains("/api/admin/search/") {
            for key in ["orders", "users", "products", "staff"] {
                assert_eq!(body[key], json!([]), "{path}");
            }
        } else {
            assert_eq!(body, empty, "{path}");
        }
    }
    // A type filter with a NUL is an unknown type, which this route ignores as it always has.
    let (status, with_nul) = get(&app, "/api/admin/products/?type=package%00", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(with_nul, get(&app, "/api/admin/products/?type=bogus", &admin).await.1);
    // A malformed date or page keeps the route's usual answer.
    let (status, body) = get(&app, "/api/orders/my-payments/?start_date=2026-01-01%00", &customer).await;
    assert_eq!(status, 400);
    assert_eq!(body, json!({"error": "Invalid start_date format. Use YYYY-MM-DD"}));
    let (status, _) = get(&app, "/api/packages/?page=1%00", &customer).await;
    assert_eq!(status, 404);
    let (status, _) = get(&app, "/api/admin/notifications/?unread_only=true%00", &admin).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_nul_in_a_body_field_is_that_endpoints_400_and_writes_nothing() {
    let app = spawn_app().await;
    let (_, admin) = app.user_token("admin1", "admin").await;
    let users_before: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.pool).await.unwrap();

    // JSON.
    let res = app.post("/api/auth/login/", &json!({"username": "admin1\u{0}", "password": "x"}), None).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Username and password are required"}));
    let res =
        app.post("/api/auth/signup/", &json!({"username": "new\u{0}user", "password": "pass-word-123"}), None).await;
    assert_eq!(res.status(), 400);
    let res = app
        .post("/api/auth/users/create/", &json!({"username": "bob", "phone_number": "90000\u{0}0000"}), Some(&admin))
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.json::<Value>().await.unwrap()["phone_number"].is_array());
    let res = app
        .post(
            "/api/admin/products/package/",
            &json!({"name": "Kit\u{0}", "price": "10.00", "description": "d", "features": ["a\u{0}"]}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(body["name"].is_array(), "{body}");
    // A key with a NUL is no field at all.
    let res = app.post("/api/auth/password-reset/", &json!({"email\u{0}": "a@b.co"}), None).await;
    assert_eq!(res.status(), 422);

    // Nested (manual order customer) and a list of strings.
    let pkg = ProductBuilder::package("Rally Kit").price("100.00").gst_rate("18").hsn_sac(SAC).create(&app).await;
    let res = app
        .post(
            "/api/admin/orders/manual/",
            &json!({"customer": {"name": "A\u{0}", "phone": "9876543210"},
                    "items": [{"product_type": "package", "product_id": pkg}], "order_source": "email"}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert!(body["errors"]["customer"]["name"].is_array(), "{body}");

    // Form-encoded.
    let res = app
        .client
        .post(app.url("/api/auth/login/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=admin1%00&password=x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // Multipart text part.
    let (_, customer) = app.user_token("cust", "user").await;
    crate::shop::add(&app, &customer, "package", pkg, 1).await;
    let order = place(&app, &customer).await;
    let id = order["order"]["id"].as_i64().unwrap();
    let form = reqwest::multipart::Form::new()
        .text("amount", "10.00")
        .text("payment_method", "cash")
        .text("notes", "paid\u{0}in cash");
    let res = app.post_multipart(&format!("/api/admin/orders/{id}/record-payment/"), form, Some(&admin)).await;
    assert_eq!(res.status(), 400);
    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM payment_record").fetch_one(&app.pool).await.unwrap();
    assert_eq!(records, 0);
    let form = reqwest::multipart::Form::new()
        .text("alt_text", "x\u{0}")
        .part("image", reqwest::multipart::Part::bytes(b"GIF89a".to_vec()).file_name("a.gif"));
    let res = app.post_multipart(&format!("/api/admin/products/package/{pkg}/images/"), form, Some(&admin)).await;
    assert_eq!(res.status(), 400);

    let res = app.send(Method::PATCH, "/api/auth/users/1/role/", &json!({"role": "staff\u{0}"}), Some(&admin)).await;
    assert!(res.status() == 400 || res.status() == 404);
    let users_after: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.pool).await.unwrap();
    assert_eq!(users_after, users_before + 1, "only the customer this test signed in");
}

use common::catalog::ProductType;
use common::orders::OrderStatus;
use e2e::builders::{ImageBuilder, OrderBuilder};
use e2e::{TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

async fn admin(app: &TestApp) -> String {
    app.user_token("catadmin", "admin").await.1
}

async fn create_package(app: &TestApp, token: &str, name: &str, price: Value) -> Value {
    let res = app
        .post(
            "/api/admin/products/package/",
            &json!({"name": name, "price": price, "description": "All you need", "features": ["a"], "deliverables": ["b"],
                    "items": [{"name": "Posters", "quantity": 100}, {"name": "Banners", "quantity": 5}]}),
            Some(token),
        )
        .await;
    assert_eq!(res.status(), 201, "create {name}");
    res.json().await.unwrap()
}

#[tokio::test]
async fn create_package_and_campaign_with_exact_shapes() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let p = create_package(&app, &token, "Booth Kit", json!(4999)).await;
    assert_eq!(p["price"], "4999.00");
    assert_eq!(p["type"], "package");
    assert_eq!(
        p["items"],
        json!([{"id": p["items"][0]["id"], "name": "Posters", "quantity": 100}, {"id": p["items"][1]["id"], "name": "Banners", "quantity": 5}])
    );
    assert_eq!(p["is_active"], true);
    assert_eq!(p["is_popular"], false);
    assert_eq!(p["popular_order"], 0);
    assert_eq!(p["created_by_name"], "catadmin");
    assert_eq!(p["images"], json!([]));
    assert_eq!(p["primary_image"], Value::Null);
    assert_eq!(p["gst_rate"], "18.00");
    assert_eq!(p["hsn_sac"], "");
    assert!(p.get("unit").is_none());

    let res = app
        .post(
            "/api/admin/products/campaign/",
            &json!({"name": "SMS Blast", "price": "0.50", "description": "Bulk SMS", "unit": "per 1000", "hsn_sac": "998361", "gst_rate": "12", "items": [{"name": "ignored"}]}),
            Some(&token),
        )
        .await;
    assert_eq!(res.status(), 201);
    let c: Value = res.json().await.unwrap();
    assert_eq!(c["unit"], "per 1000");
    assert_eq!(c["type"], "campaign");
    assert_eq!(c["price"], "0.50");
    assert_eq!(c["gst_rate"], "12.00");
    assert_eq!(c["hsn_sac"], "998361");
    assert!(c.get("items").is_none());
}

#[tokio::test]
async fn bad_product_input_gets_field_errors_and_writes_nothing() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    create_package(&app, &token, "Taken", json!("100")).await;
    let cases = [
        (json!({"name": "A", "price": 0, "description": "d"}), "price", "Price must be greater than zero."),
        (json!({"name": "A", "price": "-5", "description": "d"}), "price", "Price must be greater than zero."),
        (
            json!({"name": "A", "price": "123456789.12", "description": "d"}),
            "price",
            "Ensure that there are no more than 10 digits in total.",
        ),
        (
            json!({"name": "A", "price": "10.123", "description": "d"}),
            "price",
            "Ensure that there are no more than 2 decimal places.",
        ),
        (json!({"name": "A", "price": "ten", "description": "d"}), "price", "A valid number is required."),
        (json!({"name": "A", "price": 10, "description": "   "}), "description", "This field may not be blank."),
        (json!({"name": "A", "price": 10}), "description", "This field is required."),
        (json!({"name": "taken", "price": 10, "description": "d"}), "name", "A package with this name already exists."),
        (
            json!({"name": "x".repeat(201), "price": 10, "description": "d"}),
            "name",
            "Ensure this field has no more than 200 characters.",
        ),
        (
            json!({"name": "A", "price": 10, "description": "d", "features": "nope"}),
            "features",
            "Expected a list of items but got type \"str\".",
        ),
    ];
    for (body, field, message) in cases {
        let res = app.post("/api/admin/products/package/", &body, Some(&token)).await;
        assert_eq!(res.status(), 400, "{body}");
        let got: Value = res.json().await.unwrap();
        assert_eq!(got[field], json!([message]), "{body} → {got}");
    }
    let res = app
        .post("/api/admin/products/campaign/", &json!({"name": "C", "price": 10, "description": "d"}), Some(&token))
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["unit"], json!(["This field is required."]));
    let res = app.post("/api/admin/products/package/", &json!({"name": "I", "price": 10, "description": "d", "items": [{"name": ""}, {"name": "ok", "quantity": 0}]}), Some(&token)).await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["items"],
        json!([{"name": ["This field may not be blank."]}, {"quantity": ["Ensure this value is greater than or equal to 1."]}])
    );
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM package").fetch_one(&app.pool).await.unwrap();
    assert_eq!(n, 1);
    let audits: i64 = sqlx::query_scalar("SELECT count(*) FROM product_audit_log").fetch_one(&app.pool).await.unwrap();
    assert_eq!(audits, 1);
}

#[tokio::test]
async fn update_replaces_items_only_when_sent_and_audits_changes() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let p = create_package(&app, &token, "Rally Pack", json!("2500.00")).await;
    let id = p["id"].as_i64().unwrap();
    let path = format!("/api/admin/products/package/{id}/update/");
    // §5 #15: unknown keys ignored, price as number, no items → items kept.
    let res = app
        .send(
            Method::PUT,
            &path,
            &json!({"name": "Rally Pack XL", "price": 2600, "description": "Bigger", "unit": ""}),
            Some(&token),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["name"], "Rally Pack XL");
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    let res = app
        .send(Method::PUT, &path, &json!({"name": "Rally Pack XL", "price": 2600, "description": "Bigger", "items": [{"name": "Flags", "quantity": 50}]}), Some(&token))
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    assert_eq!(body["items"][0]["name"], "Flags");

    let logs: Vec<Value> =
        app.get(&format!("/api/admin/products/package/{id}/audit-logs/"), Some(&token)).await.json().await.unwrap();
    assert_eq!(logs.len(), 3);
    assert_eq!(logs[2]["action"], "create");
    assert_eq!(logs[2]["action_display"], "Created");
    assert_eq!(logs[2]["changes"], json!({"name": "Rally Pack", "price": "2500.00"}));
    assert_eq!(logs[1]["action"], "update");
    assert_eq!(
        logs[1]["changes"],
        json!({"name": {"old": "Rally Pack", "new": "Rally Pack XL"}, "price": {"old": "2500.00", "new": "2600.00"}})
    );
    assert_eq!(logs[1]["user_name"], "catadmin");
    assert_eq!(logs[1]["object_id"], id);
    assert_eq!(logs[0]["changes"], json!({}));
}

#[tokio::test]
async fn toggle_status_delete_and_the_pending_orders_rule() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let p = create_package(&app, &token, "Door Kit", json!(100)).await;
    let id = p["id"].as_i64().unwrap();
    let res = app
        .send(Method::PATCH, &format!("/api/admin/products/package/{id}/toggle-status/"), &json!({}), Some(&token))
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["is_active"], false);
    let logs: Vec<Value> =
        app.get(&format!("/api/admin/products/package/{id}/audit-logs/"), Some(&token)).await.json().await.unwrap();
    assert_eq!(logs[0]["action"], "deactivate");
    assert_eq!(logs[0]["changes"], json!({"is_active": {"old": true, "new": false}}));

    let (uid, _) = app.user_token("buyer", "user").await;
    // The (now inactive) product at its ₹100.00 price, in an order being worked on.
    OrderBuilder::for_user(uid)
        .item(ProductType::Package, id, 1)
        .number("EC-1")
        .status(OrderStatus::Assigned)
        .create(&app)
        .await;
    let del = format!("/api/admin/products/package/{id}/delete/");
    let res = app.send(Method::DELETE, &del, &json!({}), Some(&token)).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"error": "Cannot delete product with pending or in-progress orders. Please deactivate it instead."})
    );
    sqlx::query("UPDATE orders SET status = 'completed'").execute(&app.pool).await.unwrap();
    let res = app.send(Method::DELETE, &del, &json!({}), Some(&token)).await;
    assert_eq!(res.status(), 204);
    let res = app.get(&format!("/api/admin/products/package/{id}/"), Some(&token)).await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"detail": "No Package matches the given query."}));
    let logs: Vec<Value> =
        app.get(&format!("/api/admin/products/package/{id}/audit-logs/"), Some(&token)).await.json().await.unwrap();
    assert_eq!(logs[0]["action"], "delete");
    assert_eq!(logs[0]["changes"]["name"], "Door Kit");
    assert!(logs[0]["changes"]["deleted_at"].is_string());
}

#[tokio::test]
async fn roles_types_and_missing_products() {
    let app = spawn_app().await;
    let (_, customer) = app.user_token("cust", "user").await;
    let res = app.get("/api/admin/products/", Some(&customer)).await;
    assert_eq!(res.status(), 403);
    assert_eq!(app.get("/api/admin/products/", None).await.status(), 401);
    let res = app.post("/api/admin/products/package/", &json!({}), Some(&customer)).await;
    assert_eq!(res.status(), 403);
    let token = admin(&app).await;
    let res = app.get("/api/admin/products/widget/1/", Some(&token)).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"error": "Invalid product type. Must be \"package\" or \"campaign\""})
    );
    let res = app.get("/api/products/widget/1/images/", None).await;
    assert_eq!(res.status(), 400);
    let res =
        app.send(Method::PATCH, "/api/admin/products/packages/999/toggle-popular/", &json!({}), Some(&token)).await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Package not found"}));
    // Staff with the is_staff flag (admin*) may manage the catalogue; role staff alone may not.
    let (sid, staff) = app.user_token("stf", "staff").await;
    assert_eq!(app.get("/api/admin/products/", Some(&staff)).await.status(), 403);
    sqlx::query("UPDATE users SET is_staff = true WHERE id = $1").bind(sid).execute(&app.pool).await.unwrap();
    // A change made with plain SQL reaches the API's token cache through its NOTIFY within a second.
    let allowed = app
        .eventually(std::time::Duration::from_secs(1), || async {
            (app.get("/api/admin/products/", Some(&staff)).await.status() == 200).then_some(())
        })
        .await;
    assert!(allowed.is_some(), "the is_staff flag set with SQL takes effect within a second");
}

#[tokio::test]
async fn public_lists_are_paged_active_only_and_ordered() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let mut ids = Vec::new();
    for i in 0..22 {
        ids.push(create_package(&app, &token, &format!("Pack {i:02}"), json!(100 + i)).await["id"].as_i64().unwrap());
    }
    // One inactive, one popular.
    app.send(
        Method::PATCH,
        &format!("/api/admin/products/package/{}/toggle-status/", ids[0]),
        &json!({}),
        Some(&token),
    )
    .await;
    app.send(
        Method::PATCH,
        &format!("/api/admin/products/packages/{}/toggle-popular/", ids[5]),
        &json!({}),
        Some(&token),
    )
    .await;

    let page1: Value = app.get("/api/packages/", None).await.json().await.unwrap();
    assert_eq!(page1["count"], 21);
    assert_eq!(page1["previous"], Value::Null);
    assert_eq!(page1["next"], "http://127.0.0.1:8080/api/packages/?page=2");
    let results = page1["results"].as_array().unwrap();
    assert_eq!(results.len(), 20);
    // Non-popular (order 0) first, newest first; the popular one (order 1) last.
    assert_eq!(results[0]["name"], "Pack 21");
    assert!(results.iter().all(|p| p["id"] != json!(ids[0])));
    let page2: Value = app.get("/api/packages/?page=2", None).await.json().await.unwrap();
    assert_eq!(page2["results"].as_array().unwrap().len(), 1);
    assert_eq!(page2["results"][0]["id"], ids[5]);
    assert_eq!(page2["previous"], "http://127.0.0.1:8080/api/packages/");
    assert_eq!(page2["next"], Value::Null);
    for bad in ["3", "0", "abc"] {
        let res = app.get(&format!("/api/packages/?page={bad}"), None).await;
        assert_eq!(res.status(), 404);
        assert_eq!(res.json::<Value>().await.unwrap(), json!({"detail": "Invalid page."}));
    }
    let res = app.get(&format!("/api/packages/{}/", ids[0]), None).await;
    assert_eq!(res.status(), 404, "inactive products are not public");
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"detail": "No Package matches the given query."}));
    let popular: Vec<Value> = app.get("/api/packages/popular/", None).await.json().await.unwrap();
    assert_eq!(popular.len(), 1);
    let empty: Value = app.get("/api/campaigns/", None).await.json().await.unwrap();
    assert_eq!(empty, json!({"count": 0, "next": null, "previous": null, "results": []}));
}

#[tokio::test]
async fn a_change_is_visible_on_the_very_next_public_read() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let p = create_package(&app, &token, "Cached", json!(100)).await;
    let id = p["id"].as_i64().unwrap();
    for _ in 0..2 {
        let list: Value = app.get("/api/packages/", None).await.json().await.unwrap();
        assert_eq!(list["results"][0]["name"], "Cached");
        let one: Value = app.get(&format!("/api/packages/{id}/"), None).await.json().await.unwrap();
        assert_eq!(one["price"], "100.00");
    }
    app.send(
        Method::PUT,
        &format!("/api/admin/products/package/{id}/update/"),
        &json!({"name": "Renamed", "price": 150, "description": "d"}),
        Some(&token),
    )
    .await;
    let list: Value = app.get("/api/packages/", None).await.json().await.unwrap();
    assert_eq!(list["results"][0]["name"], "Renamed");
    let one: Value = app.get(&format!("/api/packages/{id}/"), None).await.json().await.unwrap();
    assert_eq!(one["price"], "150.00");
    app.send(Method::PATCH, &format!("/api/admin/products/package/{id}/toggle-status/"), &json!({}), Some(&token))
        .await;
    assert_eq!(app.get(&format!("/api/packages/{id}/"), None).await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_popular_toggles_never_exceed_three() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(create_package(&app, &token, &format!("Hot {i}"), json!(100)).await["id"].as_i64().unwrap());
    }
    let mut tasks = Vec::new();
    for id in &ids {
        let (client, url, token) =
            (app.client.clone(), app.url(&format!("/api/admin/products/packages/{id}/toggle-popular/")), token.clone());
        tasks.push(tokio::spawn(async move {
            client.patch(url).bearer_auth(token).send().await.unwrap().status().as_u16()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            400 => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 3);
    let orders: Vec<i32> =
        sqlx::query_scalar("SELECT popular_order FROM package WHERE is_popular ORDER BY popular_order")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(orders, vec![1, 2, 3]);
    let popular_ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM package WHERE is_popular ORDER BY popular_order")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    let outsider = *ids.iter().find(|id| !popular_ids.contains(id)).unwrap();
    let res = app
        .send(
            Method::PATCH,
            &format!("/api/admin/products/packages/{outsider}/toggle-popular/"),
            &json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"error": "Maximum 3 packages can be marked as popular. Please unmark one first."})
    );
    // Unmark the first: the others are renumbered 1..n; then reorder.
    let first = popular_ids[0];
    app.send(Method::PATCH, &format!("/api/admin/products/packages/{first}/toggle-popular/"), &json!({}), Some(&token))
        .await;
    let orders: Vec<i32> =
        sqlx::query_scalar("SELECT popular_order FROM package WHERE is_popular ORDER BY popular_order")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(orders, vec![1, 2]);
    let remaining: Vec<i64> = sqlx::query_scalar("SELECT id FROM package WHERE is_popular ORDER BY popular_order")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    let res = app
        .send(
            Method::PATCH,
            "/api/admin/products/packages/reorder-popular/",
            &json!({"order": [remaining[1], remaining[0]]}),
            Some(&token),
        )
        .await;
    assert_eq!(res.status(), 200);
    let list: Vec<Value> = res.json().await.unwrap();
    assert_eq!(list[0]["id"], remaining[1]);
    assert_eq!(list[0]["popular_order"], 1);
    let res = app.send(Method::PATCH, "/api/admin/products/packages/reorder-popular/", &json!({}), Some(&token)).await;
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Order array is required"}));
}

#[tokio::test]
async fn admin_list_search_and_type() {
    let app = spawn_app().await;
    let token = admin(&app).await;
    create_package(&app, &token, "Alpha Kit", json!(100)).await;
    app.post(
        "/api/admin/products/campaign/",
        &json!({"name": "Alpha Calls", "price": 1, "description": "d", "unit": "per call"}),
        Some(&token),
    )
    .await;
    create_package(&app, &token, "Beta Kit", json!(100)).await;
    let all: Vec<Value> = app.get("/api/admin/products/", Some(&token)).await.json().await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0]["name"], "Beta Kit");
    let alpha: Vec<Value> = app.get("/api/admin/products/?search=alpha", Some(&token)).await.json().await.unwrap();
    assert_eq!(alpha.len(), 2);
    let campaigns: Vec<Value> = app.get("/api/admin/products/?type=campaign", Some(&token)).await.json().await.unwrap();
    assert_eq!(campaigns.len(), 1);
    assert_eq!(campaigns[0]["type"], "campaign");
    assert_eq!(campaigns[0]["created_by_name"], "catadmin");
}

#[tokio::test]
async fn seed_makes_a_browsable_demo_catalogue_once() {
    let media = std::env::temp_dir().join(format!("ec-seed-media-{}", uuid_like()));
    let app = e2e::TestAppBuilder::new().var("MEDIA_DIR", media.display().to_string()).with_worker().spawn().await;
    api::cli::seed(&app.pool, &app.cfg).await.unwrap();
    api::cli::seed(&app.pool, &app.cfg).await.unwrap();
    let packages: Value = app.get("/api/packages/", None).await.json().await.unwrap();
    assert_eq!(packages["count"], 3);
    assert!(packages["results"][0]["items"].as_array().unwrap().len() >= 3);
    let campaigns: Value = app.get("/api/campaigns/", None).await.json().await.unwrap();
    assert_eq!(campaigns["count"], 4);
    assert!(!campaigns["results"][0]["unit"].as_str().unwrap().is_empty());
    let templates: i64 =
        sqlx::query_scalar("SELECT count(*) FROM checklist_template_item").fetch_one(&app.pool).await.unwrap();
    assert_eq!(templates, 7 * 5);
    let fields: i64 =
        sqlx::query_scalar("SELECT count(*) FROM resource_field_definition").fetch_one(&app.pool).await.unwrap();
    assert_eq!(fields, 7 * 5);
    let body = app.login("admin", "admin-demo-2026").await;
    assert_eq!(body["role"], "admin");
    // Two generated images per product, stored by the media worker with thumbnails.
    let stored = app
        .eventually(std::time::Duration::from_secs(30), || async {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM product_image WHERE image LIKE 'products/%' AND thumbnail IS NOT NULL",
            )
            .fetch_one(&app.pool)
            .await
            .unwrap();
            (n == 14).then_some(n)
        })
        .await;
    assert_eq!(stored, Some(14));
    let packages: Value = app.get("/api/packages/", None).await.json().await.unwrap();
    let primary = &packages["results"][0]["primary_image"];
    assert!(primary["thumbnail"].as_str().unwrap().contains("/media/products/thumbs/"));
    let res = app
        .client
        .get(primary["image"].as_str().unwrap().replace("http://127.0.0.1:8080", &app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // One paid demo order (seeded once), its invoice stored by the worker and downloadable.
    let orders: Vec<(i64, Option<String>)> =
        sqlx::query_as("SELECT id, invoice_number FROM orders").fetch_all(&app.pool).await.unwrap();
    assert_eq!(orders.len(), 1);
    assert!(orders[0].1.as_deref().is_some_and(|n| n.starts_with("EC/")), "{orders:?}");
    let stored = app
        .eventually(std::time::Duration::from_secs(30), || async {
            let n: i64 =
                sqlx::query_scalar("SELECT count(*) FROM invoice_document").fetch_one(&app.pool).await.unwrap();
            (n == 1).then_some(n)
        })
        .await;
    assert_eq!(stored, Some(1));
    let admin = body["token"].as_str().unwrap();
    let res = app.get(&format!("/api/admin/orders/{}/invoice/", orders[0].0), Some(admin)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let _ = std::fs::remove_dir_all(&media);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_product_removes_its_stored_images_through_the_media_worker() {
    let app = e2e::TestAppBuilder::new()
        .var("MEDIA_DIR", std::env::temp_dir().join(format!("ec-media-{}", uuid_like())).display().to_string())
        .with_worker()
        .spawn()
        .await;
    let token = admin(&app).await;
    let p = create_package(&app, &token, "Imaged", json!(100)).await;
    let id = p["id"].as_i64().unwrap();
    let dir = app.cfg.media_dir.join("products").join("thumbs");
    std::fs::create_dir_all(&dir).unwrap();
    let image = app.cfg.media_dir.join("products/abc123.png");
    let thumb = app.cfg.media_dir.join("products/thumbs/abc123.jpg");
    std::fs::write(&image, b"png").unwrap();
    std::fs::write(&thumb, b"jpg").unwrap();
    ImageBuilder::stored(ProductType::Package, id, "products/abc123.png")
        .thumbnail("products/thumbs/abc123.jpg")
        .primary()
        .create(&app)
        .await;
    let res =
        app.send(Method::DELETE, &format!("/api/admin/products/package/{id}/delete/"), &json!({}), Some(&token)).await;
    assert_eq!(res.status(), 204);
    let gone = app
        .eventually(std::time::Duration::from_secs(10), || async { (!image.exists() && !thumb.exists()).then_some(()) })
        .await;
    assert!(gone.is_some(), "stored files removed");
    let _ = std::fs::remove_dir_all(&app.cfg.media_dir);
}

fn uuid_like() -> String {
    format!("{}-{}", std::process::id(), chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0))
}

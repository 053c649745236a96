//! OWASP API3:2023 Broken Object Property Level Authorization (mass assignment). Every writable
//! body of customers and staff (sign-up, cart, checkout, password change, notifications, user
//! admin, products, templates, resource fields, images, the order desk's billing, status,
//! payment status, payments, manual orders, refunds, the staff checklist) is sent with extra
//! properties a client must never set (`role`, `is_staff`, `is_superuser`, `is_active`,
//! `total_amount`, `status`, `payment_status`, `user`/`user_id`, `id`, creators, invoice
//! numbers, timestamps, foreign keys) and the stored rows are read back from the database: the
//! extras are ignored (or the request refused) and only the route's own fields changed. Each
//! case lists the extras that are that route's own fields, which it leaves out.

use reqwest::Method;
use serde_json::{Value, json};

use super::{World, call_with};
use e2e::TestApp;
use e2e::builders::{DEFAULT_PASSWORD, OrderBuilder};
use e2e::spawn_app;

/// Properties no client may set, aimed at `victim` (another user) and `other` (another object).
fn extras(victim: i64, other: i64) -> Value {
    json!({
        "id": 999_999,
        "role": "admin",
        "is_staff": true,
        "is_superuser": true,
        "is_active": false,
        "total_amount": "1.00",
        "status": "completed",
        "payment_status": "paid",
        "user": victim,
        "user_id": victim,
        "owner": victim,
        "created_by": victim,
        "created_by_id": victim,
        "recorded_by": victim,
        "completed_by": victim,
        "assigned_to": victim,
        "order": other,
        "order_id": other,
        "product_id": other,
        "product_type": "campaign",
        "invoice_number": "HACK/00001",
        "payment_completed_at": "2020-01-01T00:00:00Z",
        "created_at": "2000-01-01T00:00:00Z",
        "is_manual_order": true,
        "razorpay_payment_id": "pay_hacked",
        "is_popular": true,
        "popular_order": 1,
        "method": "razorpay",
        "price": "1.00",
    })
}

/// `body` plus the extras, except `own` (the route's own fields).
fn with_extras(body: Value, extras: &Value, own: &[&str]) -> Value {
    let mut out = body;
    for (k, v) in extras.as_object().unwrap() {
        if !own.contains(&k.as_str()) && !out.as_object().unwrap().contains_key(k) {
            out[k.as_str()] = v.clone();
        }
    }
    out
}

/// A row as JSON.
async fn row(app: &TestApp, table: &str, id: i64) -> Value {
    sqlx::query_scalar::<_, Value>(sqlx::AssertSqlSafe(format!("SELECT to_jsonb(t) FROM {table} t WHERE id = $1")))
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap_or_else(|e| panic!("{table} {id}: {e}"))
}

/// The newest row of a table (by id) as JSON.
async fn newest(app: &TestApp, table: &str) -> Value {
    sqlx::query_scalar::<_, Value>(sqlx::AssertSqlSafe(format!(
        "SELECT to_jsonb(t) FROM {table} t ORDER BY id DESC LIMIT 1"
    )))
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// Asserts the columns of `after` equal those of `before`.
fn unchanged(case: &str, before: &Value, after: &Value, columns: &[&str]) {
    for c in columns {
        assert!(before.get(*c).is_some(), "{case}: no column {c} in {before}");
        assert_eq!(before[*c], after[*c], "{case}: {c} changed");
    }
}

/// Sends the case (`token` empty: anonymously); the answer must be a success or a refusal,
/// never a 5xx.
async fn send(app: &TestApp, case: &str, method: Method, path: &str, token: &str, body: Value) -> u16 {
    let token = (!token.is_empty()).then_some(token);
    let res = call_with(app, &method, path, token, &body).await;
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert!(status < 500, "{case}: {status} {text}");
    status
}

#[tokio::test]
async fn owasp_api3_customer_bodies_cannot_set_protected_properties() {
    let app = spawn_app().await;
    let w = World::new(&app).await;
    let x = extras(w.alice.id, w.campaign);

    // Sign-up: always a customer, active, without flags, with its own id.
    let body = with_extras(json!({"username": "mallory", "password": "pass-word-123"}), &x, &[]);
    assert_eq!(send(&app, "signup", Method::POST, "/api/auth/signup/", "", body).await, 201);
    let user = newest(&app, "users").await;
    assert_eq!(user["username"], "mallory");
    assert_eq!(
        (&user["role"], &user["is_staff"], &user["is_superuser"], &user["is_active"]),
        (&json!("user"), &json!(false), &json!(false), &json!(true)),
        "signup"
    );
    assert_ne!(user["id"], 999_999);

    // Cart: Bob's own line of the product he named, at its price.
    let body = with_extras(json!({"item_type": "package", "item_id": w.package, "quantity": 1}), &x, &[]);
    assert_eq!(send(&app, "cart add", Method::POST, "/api/cart/add/", &w.bob.token, body).await, 200);
    let line = newest(&app, "cart_item").await;
    assert_eq!(
        (&line["product_type"], &line["product_id"], &line["quantity"]),
        (&json!("package"), &json!(w.package), &json!(1))
    );
    let cart = row(&app, "cart", line["cart_id"].as_i64().unwrap()).await;
    assert_eq!(cart["user_id"], w.bob.id, "the line is in Bob's cart");
    let cart = app.get("/api/cart/", Some(&w.bob.token)).await.json::<Value>().await.unwrap();
    assert_eq!(cart["total"], 4999.0);

    // Checkout: Bob's order at the catalogue price, unpaid, not manual.
    let body = with_extras(json!({}), &x, &[]);
    assert_eq!(send(&app, "order create", Method::POST, "/api/orders/create/", &w.bob.token, body).await, 201);
    let order = newest(&app, "orders").await;
    assert_eq!(order["user_id"], w.bob.id);
    assert_eq!(order["total_amount"], 4999.0);
    assert_eq!((&order["status"], &order["payment_status"]), (&json!("pending_payment"), &json!("unpaid")));
    assert_eq!(
        (&order["payment_completed_at"], &order["invoice_number"], &order["is_manual_order"], &order["assigned_to_id"]),
        (&Value::Null, &Value::Null, &json!(false), &Value::Null)
    );
    assert_ne!(order["id"], 999_999);

    // Marking Alice's notification read changes nothing else of it.
    let before = row(&app, "notification", w.notification).await;
    let path = format!("/api/admin/notifications/{}/mark-read/", w.notification);
    assert_eq!(
        send(&app, "mark read", Method::POST, &path, &w.alice.token, with_extras(json!({}), &x, &[])).await,
        200
    );
    let after = row(&app, "notification", w.notification).await;
    unchanged("mark read", &before, &after, &["user_id", "order_id", "title", "message", "notification_type"]);
    assert_eq!(after["is_read"], true);

    // Password change: only the password.
    let before = row(&app, "users", w.bob.id).await;
    let body = with_extras(
        json!({"current_password": DEFAULT_PASSWORD, "new_password": "another-pass-456"}),
        &extras(w.alice.id, w.campaign),
        &[],
    );
    assert_eq!(
        send(&app, "password change", Method::POST, "/api/auth/password/change/", &w.bob.token, body).await,
        204
    );
    let after = row(&app, "users", w.bob.id).await;
    unchanged("password change", &before, &after, &["role", "is_staff", "is_superuser", "is_active", "username"]);
}

#[tokio::test]
async fn owasp_api3_admin_bodies_cannot_set_protected_properties() {
    let app = spawn_app().await;
    let w = World::new(&app).await;
    let other_order =
        OrderBuilder::for_user(w.bob.id).item(common::catalog::ProductType::Package, w.package, 1).create(&app).await;
    let x = extras(w.bob.id, other_order);
    let admin = w.admin.token.as_str();

    // users/create: the role asked for, nothing else.
    let body = with_extras(
        json!({"username": "newstaff", "phone_number": "9876500099", "role": "staff", "password": "pass-word-123"}),
        &x,
        &["role"],
    );
    assert_eq!(send(&app, "users/create", Method::POST, "/api/auth/users/create/", admin, body).await, 201);
    let user = newest(&app, "users").await;
    assert_eq!((&user["username"], &user["role"]), (&json!("newstaff"), &json!("staff")));
    assert_eq!((&user["is_superuser"], &user["is_active"]), (&json!(false), &json!(true)), "users/create");
    assert_ne!(user["id"], 999_999);

    // users/{id}/role: the role only.
    let before = row(&app, "users", w.alice.id).await;
    let body = with_extras(json!({"role": "staff"}), &x, &["role"]);
    let path = format!("/api/auth/users/{}/role/", w.alice.id);
    assert_eq!(send(&app, "role", Method::PATCH, &path, admin, body).await, 200);
    let after = row(&app, "users", w.alice.id).await;
    unchanged("role", &before, &after, &["is_superuser", "is_active", "username", "phone_number", "email"]);
    assert_eq!(after["role"], "staff");

    // Products: the creator is the caller; popularity has its own route.
    let body = with_extras(json!({"name": "Fresh Kit", "price": "100.00", "description": "d"}), &x, &["price"]);
    assert_eq!(send(&app, "package create", Method::POST, "/api/admin/products/package/", admin, body).await, 201);
    let product = newest(&app, "package").await;
    assert_eq!((&product["name"], &product["created_by_id"]), (&json!("Fresh Kit"), &json!(w.admin.id)));
    assert_eq!((&product["is_popular"], &product["popular_order"]), (&json!(false), &json!(0)));
    assert_ne!(product["id"], 999_999);
    let id = product["id"].as_i64().unwrap();
    let body = with_extras(json!({"name": "Fresh Kit 2", "price": "120.00", "description": "d"}), &x, &["price"]);
    let path = format!("/api/admin/products/package/{id}/update/");
    assert_eq!(send(&app, "package update", Method::PUT, &path, admin, body).await, 200);
    let after = row(&app, "package", id).await;
    unchanged("package update", &product, &after, &["created_by_id", "is_popular", "popular_order", "created_at"]);

    // Template items and resource fields belong to the product in the path.
    let body = with_extras(json!({"name": "Print", "description": "d"}), &x, &[]);
    let path = format!("/api/admin/products/package/{}/checklist-template/", w.package);
    assert_eq!(send(&app, "template", Method::POST, &path, admin, body).await, 201);
    let item = newest(&app, "checklist_template_item").await;
    assert_eq!((&item["product_type"], &item["product_id"]), (&json!("package"), &json!(w.package)));
    let body = with_extras(json!({"field_name": "Logo", "field_type": "image"}), &x, &[]);
    let path = format!("/api/admin/products/package/{}/resource-fields/", w.package);
    assert_eq!(send(&app, "resource field", Method::POST, &path, admin, body).await, 201);
    let field = newest(&app, "resource_field_definition").await;
    assert_eq!((&field["product_type"], &field["product_id"]), (&json!("package"), &json!(w.package)));

    // Image metadata: never the file or the product.
    let before = row(&app, "product_image", w.image).await;
    let body = with_extras(json!({"alt_text": "a"}), &x, &[]);
    let path = format!("/api/admin/products/images/{}/", w.image);
    send(&app, "image update", Method::PUT, &path, admin, body).await;
    let after = row(&app, "product_image", w.image).await;
    unchanged("image update", &before, &after, &["image", "thumbnail", "product_type", "product_id", "uploaded_at"]);

    // The order desk: each route changes its own field only.
    let order_cols =
        ["user_id", "total_amount", "assigned_to_id", "invoice_number", "is_manual_order", "created_by_id"];
    let path = format!("/api/admin/orders/{}/billing/", w.order.id);
    let before = row(&app, "orders", w.order.id).await;
    send(&app, "billing", Method::PATCH, &path, admin, with_extras(json!({"billing_name": "Alice A"}), &x, &[])).await;
    let after = row(&app, "orders", w.order.id).await;
    unchanged("billing", &before, &after, &order_cols);
    unchanged("billing", &before, &after, &["status", "payment_status", "payment_completed_at"]);

    let path = format!("/api/admin/orders/{}/update-status/", w.order.id);
    let body = with_extras(json!({"status": "on_hold", "reason": "r"}), &x, &["status"]);
    assert_eq!(send(&app, "update-status", Method::POST, &path, admin, body).await, 200);
    let after = row(&app, "orders", w.order.id).await;
    unchanged("update-status", &before, &after, &order_cols);
    unchanged("update-status", &before, &after, &["payment_status", "payment_completed_at"]);
    assert_eq!(after["status"], "on_hold");

    let path = format!("/api/admin/orders/{}/update-payment-status/", w.order.id);
    let body = with_extras(json!({"payment_status": "cod"}), &x, &["payment_status"]);
    let before = after;
    assert_eq!(send(&app, "update-payment-status", Method::POST, &path, admin, body).await, 200);
    let after = row(&app, "orders", w.order.id).await;
    unchanged("update-payment-status", &before, &after, &order_cols);
    unchanged("update-payment-status", &before, &after, &["status"]);
    assert_eq!(after["payment_status"], "cod");

    let path = format!("/api/admin/orders/{other_order}/record-payment/");
    let body = with_extras(json!({"amount": "1.00", "payment_method": "cash"}), &extras(w.bob.id, w.order.id), &[]);
    assert_eq!(send(&app, "record-payment", Method::POST, &path, admin, body).await, 200);
    let record = newest(&app, "payment_record").await;
    assert_eq!((&record["order_id"], &record["recorded_by_id"]), (&json!(other_order), &json!(w.admin.id)));
    assert_ne!(record["id"], 999_999);

    let path = format!("/api/admin/orders/{}/refund/", w.order.id);
    let body = with_extras(json!({"amount": "1.00", "reason": "r"}), &extras(w.bob.id, other_order), &[]);
    send(&app, "refund", Method::POST, &path, admin, body).await;
    if let Ok(refund) = sqlx::query_scalar::<_, Value>("SELECT to_jsonb(r) FROM refund r ORDER BY id DESC LIMIT 1")
        .fetch_one(&app.pool)
        .await
    {
        assert_eq!((&refund["order_id"], &refund["created_by_id"]), (&json!(w.order.id), &json!(w.admin.id)));
        assert_eq!((&refund["method"], &refund["razorpay_refund_id"]), (&json!("manual"), &Value::Null));
    }
}

#[tokio::test]
async fn owasp_api3_staff_bodies_cannot_set_protected_properties() {
    let app = spawn_app().await;
    let w = World::new(&app).await;
    let x = extras(w.bob.id, w.campaign);
    let staff = w.staff.token.as_str();

    // A manual order: priced from the catalogue, made by the caller, for the customer by phone.
    let body = with_extras(
        json!({
            "customer": {"name": "Walk In", "phone": "9876500077", "user_id": w.bob.id, "role": "admin"},
            "items": [{"product_type": "package", "product_id": w.package, "quantity": 1, "price": "1.00"}],
            "order_source": "walk_in",
        }),
        &x,
        &["payment_status", "assigned_to", "price"],
    );
    assert_eq!(send(&app, "manual order", Method::POST, "/api/admin/orders/manual/", staff, body).await, 201);
    let order = newest(&app, "orders").await;
    assert_eq!(order["total_amount"], 4999.0, "manual order total from the catalogue");
    assert_eq!((&order["created_by_id"], &order["is_manual_order"]), (&json!(w.staff.id), &json!(true)));
    assert_eq!(
        (&order["status"], &order["payment_completed_at"], &order["invoice_number"]),
        (&json!("ready_for_processing"), &Value::Null, &Value::Null)
    );
    assert_ne!(order["user_id"], w.bob.id, "the customer is found by phone, never named by id");
    let customer = row(&app, "users", order["user_id"].as_i64().unwrap()).await;
    assert_eq!(
        (&customer["role"], &customer["is_staff"], &customer["is_superuser"]),
        (&json!("customer"), &json!(false), &json!(false))
    );

    // The checklist: ticked by the caller, its text untouched.
    let before = row(&app, "checklist_item", w.checklist_item).await;
    let body = with_extras(
        json!({"completed": true, "description": "hacked", "order_index": 99, "is_optional": true}),
        &x,
        &[],
    );
    let path = format!("/api/staff/checklist/{}/", w.checklist_item);
    assert_eq!(send(&app, "checklist", Method::PATCH, &path, staff, body).await, 200);
    let after = row(&app, "checklist_item", w.checklist_item).await;
    unchanged("checklist", &before, &after, &["description", "order_index", "is_optional", "checklist_id"]);
    assert_eq!((&after["completed"], &after["completed_by_id"]), (&json!(true), &json!(w.staff.id)));
}

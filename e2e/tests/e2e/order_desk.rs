//! The order desk (API.md §4.6, §4.7 lists, §5, §7.1, §7.2): lists, manual orders, offline
//! payments, status changes, assignment, roles.

use common::orders::Actor;
use e2e::builders::{ProductBuilder, record_history};
use e2e::{TestApp, TestAppBuilder};
use reqwest::Method;
use serde_json::{Value, json};

use crate::shop::{SAC, count, place};

async fn notifications(app: &TestApp, user: i64) -> Vec<(String, String, Option<i64>)> {
    sqlx::query_as("SELECT notification_type, message, order_id FROM notification WHERE user_id = $1 ORDER BY id")
        .bind(user)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

async fn set_names(app: &TestApp, id: i64, first: &str, phone: &str) {
    sqlx::query("UPDATE users SET first_name = $2, phone_number = $3 WHERE id = $1")
        .bind(id)
        .bind(first)
        .bind(phone)
        .execute(&app.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn manual_orders_find_or_create_the_customer_and_record_the_first_payment() {
    let app = TestAppBuilder::new().spawn().await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let (staff_id, staff) = app.user_token("ravi", "staff").await;
    set_names(&app, staff_id, "Ravi", "9000000001").await;
    let pkg = ProductBuilder::package("Rally Kit").price("4999.00").gst_rate("18").hsn_sac(SAC).create(&app).await;
    let camp = ProductBuilder::campaign("Voice Calls").price("0.50").gst_rate("18").hsn_sac(SAC).create(&app).await;

    // The admin app's form: payment_status "unpaid", an item `price` key, email "" (§5 #8, #16).
    let body = json!({
        "customer": {"name": "Asha", "phone": "9876543210", "email": "", "city": "Mysuru"},
        "items": [{"product_type": "package", "product_id": pkg, "quantity": 2, "price": "1.00"},
                  {"product_type": "campaign", "product_id": camp, "quantity": 1000}],
        "order_source": "phone_call",
        "payment_status": "unpaid",
        "priority": "high",
        "notes": "Call after 6 pm",
    });
    let res = app.post("/api/admin/orders/manual/", &body, Some(&staff)).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["success"], true);
    assert_eq!(created["message"], "Manual order created successfully");
    let order = &created["order"];
    let id = order["id"].as_i64().unwrap();
    assert_eq!(order["total_amount"], "10498.00", "current prices, not the sent ones");
    assert_eq!(order["status"], "ready_for_processing");
    assert_eq!(order["payment_status"], "unpaid");
    assert_eq!(order["is_manual_order"], true);
    assert_eq!(order["order_source"], "phone_call");
    assert_eq!(order["priority"], "high");
    assert_eq!(order["admin_notes"], "Call after 6 pm");
    assert_eq!(order["created_by"]["username"], "ravi");
    assert_eq!(order["user"]["username"], "9876543210");
    assert_eq!(order["user"]["name"], "Asha");
    assert_eq!(order["user"]["phone"], "9876543210");
    assert_eq!(order["user"]["role"], "customer");
    assert_eq!(order["items"][0]["resources_uploaded"], true);
    assert_eq!(order["items"][0]["product_name"], "Rally Kit");
    assert_eq!(order["checklist"], Value::Null);
    assert_eq!(order["payment_records"], json!([]));
    assert_eq!(order["balance_due"], json!(10498.0));
    assert_eq!(order["status_history"][0]["old_status"], "");
    assert_eq!(order["status_history"][0]["new_status_display"], "Ready for Processing");
    assert_eq!(order["status_history"][0]["reason"], "Manual order created via phone_call");
    assert_eq!(order["status_history"][0]["changed_by"]["name"], "Ravi");

    // The same phone again, written another way: the customer is reused and left as it is (§6);
    // paid in full with UPI, assigned to staff: history "Assigned to Ravi", notification, no
    // checklist.
    let body = json!({
        "customer": {"name": "Asha Rao", "phone": "+91 98765 43210", "email": "asha@example.com"},
        "items": [{"product_type": "package", "product_id": pkg}],
        "order_source": "whatsapp",
        "payment_status": "paid",
        "payment_method": "upi",
        "payment_reference": "UPI-1",
        "assigned_to": staff_id,
    });
    let res = app.post("/api/admin/orders/manual/", &body, Some(&admin)).await;
    assert_eq!(res.status(), 201);
    let order = res.json::<Value>().await.unwrap()["order"].clone();
    let paid_id = order["id"].as_i64().unwrap();
    assert_eq!(order["user"]["id"], created["order"]["user"]["id"]);
    assert_eq!(order["user"]["name"], "Asha", "an existing account is never changed by the form");
    assert_eq!(order["user"]["email"], "");
    assert_eq!(order["status"], "assigned");
    assert_eq!(order["payment_status"], "paid");
    assert!(order["payment_completed_at"].is_string());
    assert!(order["invoice_number"].as_str().unwrap().ends_with("/00001"));
    assert_eq!(order["assigned_to"]["name"], "Ravi");
    assert_eq!(order["checklist"], Value::Null, "manual assignment builds no checklist");
    assert_eq!(order["payment_records"][0]["amount"], "4999.00");
    assert_eq!(order["payment_records"][0]["payment_method"], "upi");
    assert_eq!(order["payment_records"][0]["notes"], "Initial payment for manual order");
    assert_eq!(order["payment_records"][0]["recorded_by"]["username"], "boss");
    assert_eq!(order["total_paid"], json!(4999.0));
    assert_eq!(order["status_history"][0]["reason"], "Assigned to Ravi");
    assert_eq!(order["status_history"][0]["new_status_display"], "Assigned to Staff");
    assert_eq!(
        notifications(&app, staff_id).await,
        vec![(
            "order_assigned".to_string(),
            format!("Order {} has been assigned to you. Total items: 1", order["order_number"].as_str().unwrap()),
            Some(paid_id)
        )]
    );
    let customers: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE role = 'customer'").fetch_one(&app.pool).await.unwrap();
    assert_eq!(customers, 1);

    // Partial with an amount; `pending` is stored as unpaid; `refunded` and `cod` as sent.
    for (status, amount, expect, records) in [
        ("partial", json!("1000"), "partial", 1),
        ("pending", json!(null), "unpaid", 0),
        ("refunded", json!(null), "refunded", 0),
        ("cod", json!(null), "cod", 0),
    ] {
        let body = json!({
            "customer": {"name": "Walk In", "phone": "9123456780"},
            "items": [{"product_type": "package", "product_id": pkg}],
            "order_source": "walk_in", "payment_status": status, "payment_amount": amount,
        });
        let res = app.post("/api/admin/orders/manual/", &body, Some(&staff)).await;
        assert_eq!(res.status(), 201, "{status}");
        let order = res.json::<Value>().await.unwrap()["order"].clone();
        assert_eq!(order["payment_status"], expect);
        assert_eq!(order["payment_records"].as_array().unwrap().len(), records);
        assert_eq!(order["payment_completed_at"], Value::Null);
    }

    // Errors.
    sqlx::query("UPDATE campaign SET is_active = false WHERE id = $1").bind(camp).execute(&app.pool).await.unwrap();
    let res = app
        .post(
            "/api/admin/orders/manual/",
            &json!({"customer": {"name": "A", "phone": "1"}, "items": [{"product_type": "campaign", "product_id": camp}],
                    "order_source": "email"}),
            Some(&staff),
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"success": false, "message": "Product not found or inactive"})
    );
    let res = app
        .post(
            "/api/admin/orders/manual/",
            &json!({"customer": {"phone": "12345678901234567"}, "items": [], "order_source": "fax", "priority": "asap"}),
            Some(&staff),
        )
        .await;
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["success"], false);
    assert_eq!(err["errors"]["customer"]["name"], json!(["This field is required."]));
    assert_eq!(err["errors"]["customer"]["phone"], json!(["Ensure this field has no more than 15 characters."]));
    assert_eq!(err["errors"]["items"], json!(["This list may not be empty."]));
    assert_eq!(err["errors"]["order_source"], json!(["\"fax\" is not a valid choice."]));
    assert_eq!(err["errors"]["priority"], json!(["\"asap\" is not a valid choice."]));
    let res = app
        .post(
            "/api/admin/orders/manual/",
            &json!({"customer": {"name": "A", "phone": "2"}, "items": [{"product_type": "package", "product_id": pkg}],
                    "order_source": "other", "assigned_to": 999999}),
            Some(&staff),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["errors"]["assigned_to"], json!(["Staff member not found"]));
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&app.pool).await.unwrap();
    assert_eq!(orders, 6, "refused orders leave nothing behind");
    let _ = id;
}

#[tokio::test]
async fn record_payment_recomputes_the_payment_status() {
    let media = std::env::temp_dir().join(format!("ec-media-{}", uuid::Uuid::new_v4().simple()));
    let app = TestAppBuilder::new().var("MEDIA_DIR", media.display().to_string()).with_worker().spawn().await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let (_, token) = app.user_token("buyer", "user").await;
    let id = place(&app, &token).await["order_id"].as_i64().unwrap(); // ₹4999.00, pending_payment
    let path = format!("/api/admin/orders/{id}/record-payment/");

    let res = app.post(&path, &json!({"amount": "0", "payment_method": "gold"}), Some(&admin)).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"success": false, "errors": {
            "amount": ["Ensure this value is greater than or equal to 0.01."],
            "payment_method": ["\"gold\" is not a valid choice."]}})
    );
    sqlx::query("UPDATE orders SET payment_status = 'cod' WHERE id = $1").bind(id).execute(&app.pool).await.unwrap();
    let res =
        app.post(&path, &json!({"amount": 999, "payment_method": "cash", "notes": "advance"}), Some(&admin)).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "Payment recorded successfully");
    assert_eq!(body["payment"]["amount"], "999.00");
    assert_eq!(body["payment"]["payment_method"], "cash");
    assert_eq!(body["payment"]["notes"], "advance");
    assert_eq!(body["payment"]["recorded_by"]["username"], "boss");
    assert_eq!(body["payment"]["payment_proof"], Value::Null);
    assert_eq!(body["total_paid"], json!(999.0));
    assert_eq!(body["balance"], json!(4000.0));
    assert_eq!(body["fully_paid"], false);
    let detail: Value = app.get(&format!("/api/admin/orders/{id}/"), Some(&admin)).await.json().await.unwrap();
    assert_eq!(detail["payment_status"], "partial", "cod is overwritten");
    assert_eq!(detail["status"], "pending_payment");

    // The rest as multipart with a PNG proof: paid, pending_resources (a website order).
    let mut png = Vec::new();
    image::RgbImage::new(4, 4).write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    let form = reqwest::multipart::Form::new()
        .text("amount", "4000.00")
        .text("payment_method", "bank_transfer")
        .text("payment_reference", "NEFT-42")
        .part("payment_proof", reqwest::multipart::Part::bytes(png).file_name("proof.png"));
    let res = app.post_multipart(&path, form, Some(&admin)).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["fully_paid"], true);
    assert_eq!(body["balance"], json!(0.0));
    // The proof is private: the record names the secure-file route (issue 9 #5).
    let record = body["payment"]["id"].as_i64().unwrap();
    assert_eq!(body["payment"]["payment_proof"], format!("/api/secure-files/payment-proofs/{record}/"));
    // The media worker stores it under MEDIA_DIR/private/payment_proofs.
    let stored = app
        .eventually(std::time::Duration::from_secs(10), || async {
            let p: Option<String> = sqlx::query_scalar("SELECT payment_proof FROM payment_record WHERE id = $1")
                .bind(record)
                .fetch_one(&app.pool)
                .await
                .unwrap();
            p.filter(|p| p.starts_with("private/payment_proofs/"))
        })
        .await
        .expect("proof stored");
    assert!(media.join(&stored).is_file());
    let name = stored.rsplit('/').next().unwrap();
    // The worker points the record at the stored file, then removes the staged copy.
    let removed = app
        .eventually(std::time::Duration::from_secs(10), || async {
            (!media.join("private/staging").join(name).exists()).then_some(())
        })
        .await;
    assert!(removed.is_some(), "staged copy removed");
    let detail: Value = app.get(&format!("/api/admin/orders/{id}/"), Some(&admin)).await.json().await.unwrap();
    assert_eq!(detail["payment_status"], "paid");
    assert_eq!(detail["status"], "pending_resources");
    assert!(detail["invoice_number"].is_string());
    assert_eq!(detail["payment_records"][0]["payment_reference"], "NEFT-42", "newest first");

    // A fake "image": refused by content, nothing recorded.
    let form = reqwest::multipart::Form::new()
        .text("amount", "1")
        .text("payment_method", "cash")
        .part("payment_proof", reqwest::multipart::Part::bytes(b"MZ not an image".to_vec()).file_name("x.png"));
    let res = app.post_multipart(&path, form, Some(&admin)).await;
    assert_eq!(res.status(), 400);
    assert!(res.json::<Value>().await.unwrap()["errors"]["payment_proof"].is_array());
    assert_eq!(count(&app, "payment_record", id).await, 2);

    // Only the proof upload may exceed MAX_BODY_BYTES (1 MB): other desk routes answer 413.
    let big = json!({"status": "on_hold", "reason": "x".repeat(2 * 1024 * 1024)});
    let res = app.post(&format!("/api/admin/orders/{id}/update-status/"), &big, Some(&admin)).await;
    assert_eq!(res.status(), 413);

    let records: Value =
        app.get(&format!("/api/admin/orders/{id}/payment-records/"), Some(&admin)).await.json().await.unwrap();
    assert_eq!(records.as_array().unwrap().len(), 2);
    assert_eq!(records[1]["amount"], "999.00");
    let res = app.get("/api/admin/orders/999999/payment-records/", Some(&admin)).await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"detail": "No Order matches the given query."}));
}

#[tokio::test]
async fn status_payment_status_and_assignment_changes() {
    let app = TestAppBuilder::new().spawn().await;
    let (admin_id, admin) = app.user_token("boss", "admin").await;
    let (staff_id, _) = app.user_token("ravi", "staff").await;
    let (customer_id, token) = app.user_token("buyer", "user").await;
    set_names(&app, customer_id, "Buyer", "9000000009").await;
    let id = place(&app, &token).await["order_id"].as_i64().unwrap();
    let base = format!("/api/admin/orders/{id}");

    // update-payment-status.
    let res = app.post(&format!("{base}/update-payment-status/"), &json!({}), Some(&admin)).await;
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"success": false, "message": "payment_status is required"}));
    let res =
        app.post(&format!("{base}/update-payment-status/"), &json!({"payment_status": "gold"}), Some(&admin)).await;
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"success": false, "message": "Invalid payment status. Must be one of: unpaid, partial, paid, refunded, cod"})
    );
    let res =
        app.post(&format!("{base}/update-payment-status/"), &json!({"payment_status": "paid"}), Some(&admin)).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["message"], "Payment status updated from unpaid to paid");
    assert!(body["order"]["payment_completed_at"].is_string());

    // assign: errors, then success with the default checklist and a notification.
    let res = app.post(&format!("{base}/assign/"), &json!({}), Some(&admin)).await;
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"staff_id": ["This field is required."]}));
    let res = app.post(&format!("{base}/assign/"), &json!({"staff_id": 999999}), Some(&admin)).await;
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"staff_id": ["Staff member not found"]}));
    let res = app.post(&format!("{base}/assign/"), &json!({"staff_id": customer_id}), Some(&admin)).await;
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"staff_id": ["User must have staff or admin role"]}));
    let res = app.post(&format!("{base}/assign/"), &json!({"staff_id": staff_id}), Some(&admin)).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["message"], "Order assigned to ravi");
    assert_eq!(body["order"]["status"], "assigned");
    assert_eq!(body["order"]["assigned_to"]["id"], staff_id);
    let checklist = &body["order"]["checklist"];
    assert_eq!(checklist["progress_percentage"], 0);
    let number = body["order"]["order_number"].as_str().unwrap().to_string();
    assert_eq!(checklist["items"][0]["description"], format!("Review order {number} details and requirements"));
    assert_eq!(checklist["items"][1]["description"], "Contact customer at 9000000009 to confirm order");
    assert_eq!(notifications(&app, staff_id).await.len(), 1);

    // update-status: errors, on hold notifies the assignee, cancelled clears the assignee.
    let res = app.post(&format!("{base}/update-status/"), &json!({"status": "assigned"}), Some(&admin)).await;
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"success": false, "message": "Order is already in this status"})
    );
    let res = app.post(&format!("{base}/update-status/"), &json!({"status": "lost"}), Some(&admin)).await;
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"success": false, "errors": {"status": ["\"lost\" is not a valid choice."]}})
    );
    let res = app
        .post(
            &format!("{base}/update-status/"),
            &json!({"status": "on_hold", "reason": "Waiting for logo"}),
            Some(&admin),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["message"], "Order status updated to on_hold");
    let notes = notifications(&app, staff_id).await;
    assert_eq!(notes[1].0, "order_on_hold");
    assert!(notes[1].1.contains(&number) && notes[1].1.contains("Waiting for logo"));
    let res = app.post(&format!("{base}/update-status/"), &json!({"status": "cancelled"}), Some(&admin)).await;
    assert_eq!(res.json::<Value>().await.unwrap()["order"]["assigned_to"], Value::Null);

    // The whole history, newest first, with labels; the service's own changes show "System".
    let history: Value = app.get(&format!("{base}/status-history/"), Some(&admin)).await.json().await.unwrap();
    let rows = history.as_array().unwrap();
    assert_eq!(rows.len(), 4, "created, assigned, on hold, cancelled");
    assert_eq!(rows[0]["new_status"], "cancelled");
    assert_eq!(rows[0]["old_status_display"], "On Hold");
    assert_eq!(rows[0]["new_status_display"], "Cancelled");
    assert_eq!(rows[0]["is_manual_change"], true);
    assert_eq!(rows[0]["changed_by"]["id"], admin_id);
    assert_eq!(rows[1]["reason"], "Waiting for logo");
    assert_eq!(rows[3]["old_status"], "");
    assert_eq!(rows[3]["changed_by"]["username"], "buyer");

    // A payment applied by the service shows the System actor (§5 #19).
    let id2 = place(&app, &token).await["order_id"].as_i64().unwrap();
    record_history(&app, id2, "pending_payment", "pending_resources", Actor::System, "Payment received").await;
    let history: Value =
        app.get(&format!("/api/admin/orders/{id2}/status-history/"), Some(&admin)).await.json().await.unwrap();
    assert_eq!(
        history[0]["changed_by"],
        json!({"id": null, "username": "system", "name": "System", "phone": null, "phone_number": null,
               "email": "", "first_name": "System", "last_name": ""})
    );
}

#[tokio::test]
async fn lists_filters_statistics_and_roles() {
    let app = TestAppBuilder::new().spawn().await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let (staff_id, staff) = app.user_token("ravi", "staff").await;
    let (_, other_staff) = app.user_token("meena", "staff").await;
    let (customer_id, token) = app.user_token("buyer", "user").await;
    set_names(&app, customer_id, "Buyer", "9000000009").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(place(&app, &token).await["order_id"].as_i64().unwrap());
    }
    app.post(&format!("/api/admin/orders/{}/assign/", ids[0]), &json!({"staff_id": staff_id}), Some(&admin)).await;
    sqlx::query("UPDATE orders SET status = 'completed' WHERE id = $1").bind(ids[1]).execute(&app.pool).await.unwrap();

    let stats: Value = app.get("/api/admin/orders/statistics/", Some(&admin)).await.json().await.unwrap();
    assert_eq!(stats, json!({"pending": 1, "assigned": 1, "in_progress": 0, "completed": 1, "total": 3}));

    let all: Value = app.get("/api/admin/orders/", Some(&admin)).await.json().await.unwrap();
    let all = all.as_array().expect("bare array without ?page");
    assert_eq!(all.len(), 3);
    assert_eq!(all[0]["id"], ids[2], "newest first");
    assert_eq!(all[0]["user"]["phone"], "9000000009");
    assert_eq!(all[0]["payment_balance"], json!(4999.0));
    assert_eq!(all[2]["assigned_to"]["username"], "ravi");
    let paged: Value = app.get("/api/admin/orders/?page=1", Some(&admin)).await.json().await.unwrap();
    assert_eq!(paged["count"], 3);
    assert_eq!(paged["results"].as_array().unwrap().len(), 3);
    assert_eq!(app.get("/api/admin/orders/?page=2", Some(&admin)).await.status(), 404);
    for (query, expect) in [
        ("status=pending", vec![ids[2]]),
        ("status=completed", vec![ids[1]]),
        ("status=nonsense", vec![]),
        ("assigned_to=unassigned", vec![ids[2], ids[1]]),
        (&format!("assigned_to={staff_id}"), vec![ids[0]]),
        ("search=90000000", vec![ids[2], ids[1], ids[0]]),
        ("search=nobody", vec![]),
    ] {
        let list: Value = app.get(&format!("/api/admin/orders/?{query}"), Some(&admin)).await.json().await.unwrap();
        let got: Vec<i64> = list.as_array().unwrap().iter().map(|o| o["id"].as_i64().unwrap()).collect();
        assert_eq!(got, expect, "{query}");
    }

    // Staff see their orders only; others' → 404; admins see all on the staff routes.
    let mine: Value = app.get("/api/staff/orders/", Some(&staff)).await.json().await.unwrap();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["id"], ids[0]);
    assert_eq!(app.get("/api/staff/orders/", Some(&other_staff)).await.json::<Value>().await.unwrap(), json!([]));
    assert_eq!(app.get(&format!("/api/staff/orders/{}/", ids[0]), Some(&staff)).await.status(), 200);
    let res = app.get(&format!("/api/staff/orders/{}/", ids[0]), Some(&other_staff)).await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"detail": "No Order matches the given query."}));
    let everything: Value = app.get("/api/staff/orders/?page=1", Some(&admin)).await.json().await.unwrap();
    assert_eq!(everything["count"], 3);

    // Staff list: staff may read it (§5 #13); bare array and envelope.
    let list: Value = app.get("/api/admin/staff/", Some(&staff)).await.json().await.unwrap();
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|s| s["username"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["boss", "meena", "ravi"]);
    assert_eq!(list[2]["assigned_orders_count"], 1);
    assert!(list[2].get("role").is_none());
    let paged: Value = app.get("/api/admin/staff/?page=1", Some(&admin)).await.json().await.unwrap();
    assert_eq!(paged["count"], 3);

    // Customer tokens on every admin and staff route → 403; staff on admin-only routes → 403.
    let id = ids[0];
    let admin_only = [
        (Method::GET, "/api/admin/orders/statistics/".to_string()),
        (Method::GET, "/api/admin/orders/".to_string()),
        (Method::GET, format!("/api/admin/orders/{id}/")),
        (Method::POST, format!("/api/admin/orders/{id}/assign/")),
        (Method::POST, format!("/api/admin/orders/{id}/update-status/")),
        (Method::POST, format!("/api/admin/orders/{id}/update-payment-status/")),
        (Method::POST, format!("/api/admin/orders/{id}/record-payment/")),
        (Method::GET, format!("/api/admin/orders/{id}/payment-records/")),
        (Method::GET, format!("/api/admin/orders/{id}/status-history/")),
        (Method::PATCH, format!("/api/admin/orders/{id}/billing/")),
        (Method::POST, format!("/api/admin/orders/{id}/refund/")),
        (Method::GET, format!("/api/admin/orders/{id}/refunds/")),
    ];
    let staff_routes = [
        (Method::POST, "/api/admin/orders/manual/".to_string()),
        (Method::GET, "/api/admin/customers/search/?q=9".to_string()),
        (Method::GET, "/api/admin/products/for-order/".to_string()),
        (Method::GET, "/api/admin/staff/".to_string()),
        (Method::GET, "/api/admin/search/?q=EC".to_string()),
        (Method::GET, "/api/staff/orders/".to_string()),
        (Method::GET, format!("/api/staff/orders/{id}/")),
    ];
    let forbidden = json!({"detail": "You do not have permission to perform this action."});
    for (method, path) in admin_only.iter().chain(staff_routes.iter()) {
        let res = app.send(method.clone(), path, &json!({}), Some(&token)).await;
        assert_eq!(res.status(), 403, "customer on {method} {path}");
        assert_eq!(res.json::<Value>().await.unwrap(), forbidden);
    }
    for (method, path) in &admin_only {
        let res = app.send(method.clone(), path, &json!({}), Some(&staff)).await;
        assert_eq!(res.status(), 403, "staff on {method} {path}");
    }
}

#[tokio::test]
async fn customer_search_products_for_order_and_the_top_bar_search() {
    let app = TestAppBuilder::new().spawn().await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let (staff_id, staff) = app.user_token("ravi", "staff").await;
    let pkg = ProductBuilder::package("Rally Kit").price("4999.00").gst_rate("18").hsn_sac(SAC).create(&app).await;
    let camp = ProductBuilder::campaign("Rally Calls").price("0.50").gst_rate("18").hsn_sac(SAC).create(&app).await;
    ProductBuilder::package("Old Kit").price("10.00").gst_rate("18").hsn_sac(SAC).create(&app).await;
    sqlx::query("UPDATE package SET is_active = false WHERE name = 'Old Kit'").execute(&app.pool).await.unwrap();
    let body = json!({"customer": {"name": "Asha", "phone": "9876543210"},
                      "items": [{"product_type": "package", "product_id": pkg}], "order_source": "walk_in"});
    let mine = app
        .post(
            "/api/admin/orders/manual/",
            &json!({"assigned_to": staff_id, "customer": {"name": "Asha", "phone": "9876543210"},
        "items": [{"product_type": "package", "product_id": pkg}], "order_source": "walk_in"}),
            Some(&admin),
        )
        .await;
    let mine = mine.json::<Value>().await.unwrap()["order"]["id"].as_i64().unwrap();
    let other = app.post("/api/admin/orders/manual/", &body, Some(&admin)).await.json::<Value>().await.unwrap();
    let other = other["order"]["id"].as_i64().unwrap();

    let res: Value = app.get("/api/admin/customers/search/?q=Ash", Some(&staff)).await.json().await.unwrap();
    assert_eq!(res["customers"].as_array().unwrap().len(), 1);
    assert_eq!(res["customers"][0]["phone"], "9876543210");
    assert_eq!(res["customers"][0]["name"], "Asha");
    let res: Value = app.get("/api/admin/customers/search/?q=ravi", Some(&staff)).await.json().await.unwrap();
    assert_eq!(res, json!({"customers": []}), "customers only");
    let res: Value = app.get("/api/admin/customers/search/?q=", Some(&staff)).await.json().await.unwrap();
    assert_eq!(res, json!({"customers": []}));

    let res: Value = app.get("/api/admin/products/for-order/", Some(&staff)).await.json().await.unwrap();
    assert_eq!(
        res,
        json!({
            "campaigns": [{"id": camp, "name": "Rally Calls", "description": "d", "price": 0.5, "type": "campaign", "is_active": true}],
            "packages": [{"id": pkg, "name": "Rally Kit", "description": "d", "price": 4999.0, "type": "package", "is_active": true}],
        })
    );

    let res: Value = app.get("/api/admin/search/?q=rally", Some(&admin)).await.json().await.unwrap();
    let products = res["products"].as_array().unwrap();
    assert_eq!(products.len(), 2);
    assert_eq!(products[0]["type"], "product");
    assert_eq!(products[0]["url"], format!("/products/package/{pkg}"));
    let res: Value = app.get("/api/admin/search/?q=9876", Some(&admin)).await.json().await.unwrap();
    assert_eq!(res["orders"].as_array().unwrap().len(), 2);
    assert_eq!(res["orders"][0]["url"], format!("/orders/{other}"));
    assert_eq!(res["users"][0]["url"], "/users");
    assert_eq!(res["users"][0]["type"], "user");
    let res: Value = app.get("/api/admin/search/?q=ravi", Some(&admin)).await.json().await.unwrap();
    assert_eq!(res["staff"][0]["url"], "/staff");
    // Staff: only their orders, and no users or staff.
    let res: Value = app.get("/api/admin/search/?q=9876", Some(&staff)).await.json().await.unwrap();
    assert_eq!(res["orders"].as_array().unwrap().len(), 1);
    assert_eq!(res["orders"][0]["id"], mine);
    assert_eq!(res["users"], json!([]));
    let res: Value = app.get("/api/admin/search/?q=r", Some(&admin)).await.json().await.unwrap();
    assert_eq!(res, json!({"orders": [], "users": [], "products": [], "staff": []}));
}

#[tokio::test]
async fn billing_can_change_until_the_invoice_is_numbered() {
    let app = TestAppBuilder::new().spawn().await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let (_, token) = app.user_token("buyer", "user").await;
    let id = place(&app, &token).await["order_id"].as_i64().unwrap();
    let path = format!("/api/admin/orders/{id}/billing/");
    let res = app
        .send(
            Method::PATCH,
            &path,
            &json!({"billing_gstin": "27ABCDE1234F1Z5", "billing_name": "Asha Traders"}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), 200);
    let order: Value = res.json().await.unwrap();
    assert_eq!(order["billing_state_code"], "27");
    assert_eq!(order["place_of_supply"], "27-Maharashtra");
    assert_eq!(order["igst_amount"], "762.56");
    assert_eq!(order["cgst_amount"], "0.00");
    assert_eq!(order["total_amount"], "4999.00");
    let res = app.send(Method::PATCH, &path, &json!({"billing_state_code": "99"}), Some(&admin)).await;
    assert_eq!(res.status(), 422);
    app.post(
        &format!("/api/admin/orders/{id}/update-payment-status/"),
        &json!({"payment_status": "paid"}),
        Some(&admin),
    )
    .await;
    let res = app.send(Method::PATCH, &path, &json!({"billing_name": "Late"}), Some(&admin)).await;
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "invoice_issued");
}

#[tokio::test]
async fn manual_order_payments_recompute_through_unpaid_partial_paid_and_overwrite_refunded() {
    let app = TestAppBuilder::new().spawn().await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let pkg = ProductBuilder::package("Kit").price("3000.00").gst_rate("18").hsn_sac(SAC).create(&app).await;
    let manual = |status: &str| {
        json!({"customer": {"name": "Asha", "phone": "9876543210"}, "items": [{"product_type": "package", "product_id": pkg}],
               "order_source": "walk_in", "payment_status": status})
    };
    let res = app.post("/api/admin/orders/manual/", &manual("unpaid"), Some(&admin)).await;
    let id = res.json::<Value>().await.unwrap()["order"]["id"].as_i64().unwrap();
    let path = format!("/api/admin/orders/{id}/record-payment/");
    let mut seen = Vec::new();
    for amount in ["1000", "1500.50", "499.50"] {
        let res = app.post(&path, &json!({"amount": amount, "payment_method": "upi"}), Some(&admin)).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        let detail: Value = app.get(&format!("/api/admin/orders/{id}/"), Some(&admin)).await.json().await.unwrap();
        seen.push((body["total_paid"].clone(), body["fully_paid"].clone(), detail["payment_status"].clone()));
        assert_eq!(detail["status"], "ready_for_processing", "a manual order keeps its status");
    }
    assert_eq!(
        seen,
        vec![
            (json!(1000.0), json!(false), json!("partial")),
            (json!(2500.5), json!(false), json!("partial")),
            (json!(3000.0), json!(true), json!("paid")),
        ]
    );
    let detail: Value = app.get(&format!("/api/admin/orders/{id}/"), Some(&admin)).await.json().await.unwrap();
    assert!(detail["payment_completed_at"].is_string());
    assert_eq!(detail["balance_due"], json!(0.0));

    // `refunded` and `cod` as sent, then overwritten by the recomputation.
    for status in ["refunded", "cod"] {
        let res = app.post("/api/admin/orders/manual/", &manual(status), Some(&admin)).await;
        let id = res.json::<Value>().await.unwrap()["order"]["id"].as_i64().unwrap();
        let res = app
            .post(
                &format!("/api/admin/orders/{id}/record-payment/"),
                &json!({"amount": 10, "payment_method": "cash"}),
                Some(&admin),
            )
            .await;
        assert_eq!(res.status(), 200);
        let detail: Value = app.get(&format!("/api/admin/orders/{id}/"), Some(&admin)).await.json().await.unwrap();
        assert_eq!(detail["payment_status"], "partial", "{status} is overwritten");
    }
}

#[tokio::test]
async fn payment_proofs_go_to_cloudinary_when_configured() {
    let fake = e2e::cloudinary::FakeCloudinary::start("demo", "key", "secret").await;
    let media = std::env::temp_dir().join(format!("ec-media-{}", uuid::Uuid::new_v4().simple()));
    let app = TestAppBuilder::new()
        .var("MEDIA_DIR", media.display().to_string())
        .var("CLOUDINARY_URL", "cloudinary://key:secret@demo")
        .var("CLOUDINARY_API_BASE", fake.base.clone())
        .with_worker()
        .spawn()
        .await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let (_, token) = app.user_token("buyer", "user").await;
    let id = place(&app, &token).await["order_id"].as_i64().unwrap();
    let pdf = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec();
    let form = reqwest::multipart::Form::new()
        .text("amount", "100")
        .text("payment_method", "cheque")
        .part("payment_proof", reqwest::multipart::Part::bytes(pdf.clone()).file_name("cheque.pdf"));
    let res = app.post_multipart(&format!("/api/admin/orders/{id}/record-payment/"), form, Some(&admin)).await;
    assert_eq!(res.status(), 200);
    let record = res.json::<Value>().await.unwrap()["payment"]["id"].as_i64().unwrap();
    let key = app
        .eventually(std::time::Duration::from_secs(10), || async {
            let p: Option<String> = sqlx::query_scalar("SELECT payment_proof FROM payment_record WHERE id = $1")
                .bind(record)
                .fetch_one(&app.pool)
                .await
                .unwrap();
            p.filter(|p| p.starts_with("cloudinary:"))
        })
        .await
        .expect("proof uploaded");
    // Stored as a private asset: a storage key, never a public URL.
    assert!(key.starts_with("cloudinary:raw/payment_proofs/") && key.ends_with(".pdf"), "{key}");
    let public_id = fake.public_ids().into_iter().find(|p| p.starts_with("payment_proofs/")).unwrap();
    let asset = fake.asset(&public_id).unwrap();
    assert_eq!(asset.bytes, pdf);
    assert_eq!(asset.delivery_type, "authenticated");
    let records: Value =
        app.get(&format!("/api/admin/orders/{id}/payment-records/"), Some(&admin)).await.json().await.unwrap();
    let route = format!("/api/secure-files/payment-proofs/{record}/");
    assert_eq!(records[0]["payment_proof"], route.as_str());
    // The route answers with a short-lived signed download URL, which the fake honours.
    let res = app.get(&route, Some(&admin)).await;
    assert_eq!(res.status(), 302);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&format!("{}/v1_1/demo/raw/download?", fake.base)), "{location}");
    assert!(location.contains("type=authenticated") && location.contains("expires_at="), "{location}");
    let fetched = reqwest::get(&location).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.bytes().await.unwrap().to_vec(), pdf);
    // Tampered: refused by the provider.
    let tampered = location.replace("expires_at=", "expires_at=9");
    assert_eq!(reqwest::get(&tampered).await.unwrap().status(), 401);
}

/// Issue 9 #5: `/media/` served all of MEDIA_DIR, payment proofs and staged files included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_proofs_are_private_and_served_only_to_admins_staff_flag_and_the_assignee() {
    let media = std::env::temp_dir().join(format!("ec-media-{}", uuid::Uuid::new_v4().simple()));
    let app = TestAppBuilder::new().var("MEDIA_DIR", media.display().to_string()).with_worker().spawn().await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let (staff_id, staff) = app.user_token("ravi", "staff").await;
    let (_, flagged) = app.user_token("clerk", "user").await;
    sqlx::query("UPDATE users SET is_staff = true WHERE username = 'clerk'").execute(&app.pool).await.unwrap();
    let (_, customer) = app.user_token("buyer", "user").await;
    let id = place(&app, &customer).await["order_id"].as_i64().unwrap();
    let mut png = Vec::new();
    image::RgbImage::new(3, 3).write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    let form = reqwest::multipart::Form::new()
        .text("amount", "10")
        .text("payment_method", "upi")
        .part("payment_proof", reqwest::multipart::Part::bytes(png.clone()).file_name("proof.png"));
    let res = app.post_multipart(&format!("/api/admin/orders/{id}/record-payment/"), form, Some(&admin)).await;
    assert_eq!(res.status(), 200);
    let record = res.json::<Value>().await.unwrap()["payment"]["id"].as_i64().unwrap();
    let route = format!("/api/secure-files/payment-proofs/{record}/");
    // Served at once, from the private staging area, before the worker stores it.
    let res = app.get(&route, Some(&admin)).await;
    assert_eq!(res.status(), 200);
    let stored = app
        .eventually(std::time::Duration::from_secs(10), || async {
            let p: Option<String> = sqlx::query_scalar("SELECT payment_proof FROM payment_record WHERE id = $1")
                .bind(record)
                .fetch_one(&app.pool)
                .await
                .unwrap();
            p.filter(|p| p.starts_with("private/payment_proofs/"))
        })
        .await
        .expect("proof stored");
    let name = stored.rsplit('/').next().unwrap();

    // Nothing private is reachable under /media/, whatever the path.
    std::fs::create_dir_all(media.join("payment_proofs")).unwrap();
    std::fs::write(media.join("payment_proofs/legacy.png"), &png).unwrap();
    for path in [
        format!("/media/{stored}"),
        format!("/media/payment_proofs/{name}"),
        "/media/payment_proofs/legacy.png".to_string(),
        format!("/media/private/staging/{name}"),
        format!("/media/staging/../{stored}"),
        format!("/media/products/../{stored}"),
    ] {
        let res = app.get(&path, None).await;
        assert_eq!(res.status(), 404, "{path}");
    }

    // Admin (Bearer and ?token=) and the is_staff flag: 200, inline, private.
    for res in [
        app.get(&route, Some(&admin)).await,
        app.get(&format!("{route}?token={admin}"), None).await,
        app.get(&route, Some(&flagged)).await,
    ] {
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "image/png");
        assert_eq!(res.headers()["cache-control"], "private, no-store");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert_eq!(res.headers()["content-disposition"], format!("inline; filename=\"payment-proof-{record}.png\""));
        assert_eq!(res.bytes().await.unwrap().to_vec(), png);
    }
    // Anonymous, or a bad ?token=: 403 "Authentication required" (text).
    for res in [app.get(&route, None).await, app.get(&format!("{route}?token=not.a.jwt"), None).await] {
        assert_eq!(res.status(), 403);
        assert_eq!(res.text().await.unwrap(), "Authentication required");
    }
    // A bad Bearer header: the §1 401.
    assert_eq!(app.get(&route, Some("not.a.jwt")).await.status(), 401);
    // The customer, and staff not assigned: 403.
    for token in [&customer, &staff] {
        let res = app.get(&route, Some(token)).await;
        assert_eq!(res.status(), 403);
        assert_eq!(res.text().await.unwrap(), "You don't have permission to access this file");
    }
    // Once assigned, the staff member may.
    sqlx::query("UPDATE orders SET assigned_to_id = $2 WHERE id = $1")
        .bind(id)
        .bind(staff_id)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.get(&format!("{route}?token={staff}"), None).await.status(), 200);
    // No such record, or no proof: 404.
    let res = app.get("/api/secure-files/payment-proofs/999999/", Some(&admin)).await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"detail": "Not found."}));
}

/// Issue 9 #1: a staff member could point a manual order at an admin's phone and overwrite the
/// admin's email, then reset the admin's password through it.
#[tokio::test]
async fn a_manual_order_cannot_take_over_an_account_by_its_phone() {
    let app = TestAppBuilder::new().spawn().await;
    let (admin_id, _) = app.user_token("boss", "admin").await;
    sqlx::query("UPDATE users SET phone_number = '9876500011', email = 'boss@shop.example' WHERE id = $1")
        .bind(admin_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let (staff_id, staff) = app.user_token("ravi", "staff").await;
    set_names(&app, staff_id, "Ravi", "+919000000001").await;
    let pkg = ProductBuilder::package("Rally Kit").price("4999.00").gst_rate("18").hsn_sac(SAC).create(&app).await;
    let orders =
        || async { sqlx::query_scalar::<_, i64>("SELECT count(*) FROM orders").fetch_one(&app.pool).await.unwrap() };
    let orders_before = orders().await;
    for (phone, target) in [
        ("9876500011", admin_id),
        ("+919876500011", admin_id),
        ("+91 98765 00011", admin_id),
        ("09876500011", admin_id),
        ("9000000001", staff_id),
    ] {
        let body = json!({
            "customer": {"name": "Evil", "phone": phone, "email": "attacker@evil.example"},
            "items": [{"product_type": "package", "product_id": pkg}],
            "order_source": "phone_call",
        });
        let res = app.post("/api/admin/orders/manual/", &body, Some(&staff)).await;
        assert_eq!(res.status(), 400, "{phone}");
        assert_eq!(
            res.json::<Value>().await.unwrap(),
            json!({"success": false, "errors": {"customer": {"phone": ["This phone number belongs to a staff account"]}}}),
            "{phone}"
        );
        let (email, first): (String, String) = sqlx::query_as("SELECT email, first_name FROM users WHERE id = $1")
            .bind(target)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_ne!(email, "attacker@evil.example");
        assert_ne!(first, "Evil");
    }
    assert_eq!(orders().await, orders_before, "nothing written");
    // The reset the attacker wanted goes to the admin's own address.
    let res = app.post("/api/auth/password-reset/", &json!({"username": "boss"}), None).await;
    assert_eq!(res.status(), 202);
    let to: Vec<String> =
        sqlx::query_scalar("SELECT u.email FROM password_reset_token t JOIN users u ON u.id = t.user_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(to, vec!["boss@shop.example".to_string()]);

    // A customer account without an email (and with a password) is matched but never written.
    let cust = app.create_user("9447000001", "pass-word-123", "user", "").await;
    sqlx::query("UPDATE users SET phone_number = '9447000001' WHERE id = $1")
        .bind(cust)
        .execute(&app.pool)
        .await
        .unwrap();
    let body = json!({
        "customer": {"name": "Evil", "phone": "+91 94470 00001", "email": "attacker@evil.example"},
        "items": [{"product_type": "package", "product_id": pkg}],
        "order_source": "phone_call",
    });
    let res = app.post("/api/admin/orders/manual/", &body, Some(&staff)).await;
    assert_eq!(res.status(), 201);
    let order = res.json::<Value>().await.unwrap()["order"].clone();
    assert_eq!(order["user"]["id"], cust);
    let (email, first): (String, String) = sqlx::query_as("SELECT email, first_name FROM users WHERE id = $1")
        .bind(cust)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((email.as_str(), first.as_str()), ("", ""));
}

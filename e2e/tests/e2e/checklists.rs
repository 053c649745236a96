//! Order checklists (API.md §4.7, §7.1, §7.5, §7.7): building them, ticking them over HTTP, the
//! status moves and the progress notifications, also under concurrent ticks.

use api::routes::staff_checklist::checklist_json;
use common::catalog::ProductType;
use common::orders::{OrderStatus, PaymentStatus, checklist};
use e2e::builders::{LegacyOrderBuilder, ProductBuilder, TemplateItemBuilder, UserBuilder};
use e2e::{TestApp, spawn_app};
use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

/// A customer with an optional phone number.
async fn customer(app: &TestApp, username: &str, phone: Option<&str>) -> i64 {
    UserBuilder::new(username).phone_opt(phone).create(app).await
}

/// An `assigned`, paid order of `user` assigned to `staff` with lines `(product_type, product_id,
/// quantity)` at ₹4999.00, resources uploaded; returns its id. An imported row: the tests assert
/// the exact status history and notifications that ticking causes, which an order made through
/// `common` (its opening history row, the assignment's row and notification) would add to.
async fn order(app: &TestApp, user: i64, staff: Option<i64>, number: &str, lines: &[(ProductType, i64, i32)]) -> i64 {
    let mut order = LegacyOrderBuilder::for_user(user)
        .number(number)
        .total("4999")
        .status(OrderStatus::Assigned)
        .payment_status(PaymentStatus::Paid)
        .assigned_to_opt(staff)
        .resources_uploaded();
    for &(kind, product_id, quantity) in lines {
        order = order.line(kind, product_id, quantity, "4999");
    }
    order.create(app).await
}

/// Builds (or finds) the order's checklist.
async fn ensure(app: &TestApp, order_id: i64) -> i64 {
    let mut conn = app.pool.acquire().await.unwrap();
    checklist::ensure(&mut conn, order_id).await.unwrap()
}

/// The order's checklist.
async fn load(app: &TestApp, order_id: i64) -> checklist::Checklist {
    checklist::load(&app.pool, order_id).await.unwrap().expect("checklist")
}

/// PATCH an item; returns the status and body.
async fn patch(app: &TestApp, item: i64, body: &Value, token: &str) -> (u16, Value) {
    let res = app.send(Method::PATCH, &format!("/api/staff/checklist/{item}/"), body, Some(token)).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// `(user_id, notification_type, title, message)` of the order's notifications, oldest first.
async fn notifications(app: &TestApp, order_id: i64) -> Vec<(i64, String, String, String)> {
    sqlx::query_as(
        "SELECT user_id, notification_type, title, message FROM notification WHERE order_id = $1 ORDER BY user_id, id",
    )
    .bind(order_id)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

/// `(old_status, new_status, changed_by_id, is_manual_change, reason)`.
type Hist = (String, String, Option<i64>, bool, String);

/// The order's status history, oldest first.
async fn history(app: &TestApp, order_id: i64) -> Vec<Hist> {
    sqlx::query_as(
        "SELECT old_status, new_status, changed_by_id, is_manual_change, reason FROM order_status_history
         WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

async fn status_of(app: &TestApp, order_id: i64) -> String {
    sqlx::query_scalar("SELECT status FROM orders WHERE id = $1").bind(order_id).fetch_one(&app.pool).await.unwrap()
}

/// What each admin must have received for an order completed by `by`.
fn expected_notifications(admins: &[i64], number: &str, by: &str) -> Vec<(i64, String, String, String)> {
    let mut out = Vec::new();
    for admin in admins {
        for p in [25, 50, 75, 100] {
            out.push((
                *admin,
                "progress_update".to_string(),
                "Order Progress Update".to_string(),
                format!("Order {number} is now {p}% complete."),
            ));
        }
        out.push((
            *admin,
            "order_completed".to_string(),
            "Order Completed".to_string(),
            format!("Order {number} has been completed by {by}."),
        ));
    }
    out
}

fn assert_ist(v: &Value) {
    let s = v.as_str().unwrap_or_default();
    assert!(s.ends_with("+05:30") && s.len() == 32, "not an IST serializer time: {v}");
}

#[tokio::test]
async fn default_list_is_built_once_with_the_exact_texts() {
    let app = spawn_app().await;
    let voter = customer(&app, "voter", Some("9876543210")).await;
    let kit = ProductBuilder::package("Rally Kit").create(&app).await;
    let sms = ProductBuilder::campaign("SMS Blast").create(&app).await;
    let id = order(
        &app,
        voter,
        None,
        "EC-20261129-AAAA0001",
        &[(ProductType::Package, kit, 2), (ProductType::Campaign, sms, 1000)],
    )
    .await;

    let checklist_id = ensure(&app, id).await;
    assert_eq!(ensure(&app, id).await, checklist_id, "a second call finds the same checklist");
    let c = load(&app, id).await;
    assert_eq!(c.id, checklist_id);
    let texts: Vec<&str> = c.items.iter().map(|i| i.description.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Review order EC-20261129-AAAA0001 details and requirements",
            "Contact customer at 9876543210 to confirm order",
            "Review uploaded resources for Rally Kit (Qty: 2)",
            "Prepare all components for Rally Kit",
            "Customize materials with candidate information for Rally Kit",
            "Schedule delivery/installation for Rally Kit",
            "Coordinate with technical team for setup of Rally Kit",
            "Complete delivery and setup of Rally Kit",
            "Provide training/documentation for Rally Kit",
            "Review uploaded resources for SMS Blast (Qty: 1000)",
            "Schedule campaign execution for SMS Blast",
            "Coordinate with field team for SMS Blast",
            "Prepare campaign materials for SMS Blast",
            "Execute campaign activities for SMS Blast",
            "Document campaign execution and results for SMS Blast",
            "Provide campaign report to customer for SMS Blast",
            "Conduct final quality check on all deliverables",
            "Contact customer for final approval and feedback",
            "Mark order as completed and archive documentation",
        ]
    );
    assert_eq!(c.items.iter().map(|i| i.order_index).collect::<Vec<_>>(), (0..19).collect::<Vec<i32>>());
    assert!(c.items.iter().all(|i| !i.is_optional && i.template_item_id.is_none() && !i.completed));

    // The §3 shape the admin order detail shows.
    let shown = checklist_json(&c);
    assert_eq!(shown["id"], checklist_id);
    assert_eq!(shown["total_items"], 19);
    assert_eq!(shown["completed_items"], 0);
    assert_eq!(shown["required_items"], 19);
    assert_eq!(shown["completed_required"], 0);
    assert_eq!(shown["progress_percentage"], 0);
    assert_eq!(
        shown["items"][1],
        json!({
            "id": c.items[1].id, "description": "Contact customer at 9876543210 to confirm order", "completed": false,
            "completed_at": null, "completed_by": null, "order_index": 1, "is_optional": false,
            "template_item_id": null,
        })
    );

    // No phone → the username; a deleted product → "Unknown Product".
    let nophone = customer(&app, "no-phone", None).await;
    let other = order(&app, nophone, None, "EC-20261129-AAAA0002", &[(ProductType::Package, 999_999, 3)]).await;
    ensure(&app, other).await;
    let c = load(&app, other).await;
    assert_eq!(c.items[1].description, "Contact customer at no-phone to confirm order");
    assert_eq!(c.items[2].description, "Review uploaded resources for Unknown Product (Qty: 3)");
    assert_eq!(c.items[3].description, "Prepare all components for Unknown Product");
    assert_eq!(c.items.len(), 12);

    // Two concurrent builds of one order: one checklist, one set of items.
    let third = order(&app, voter, None, "EC-20261129-AAAA0003", &[(ProductType::Campaign, sms, 1)]).await;
    let (a, b) = tokio::join!(ensure(&app, third), ensure(&app, third));
    assert_eq!(a, b);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM checklist_item WHERE checklist_id = $1")
        .bind(a)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 12);
}

#[tokio::test]
async fn template_items_are_merged_across_products_and_sorted() {
    let app = spawn_app().await;
    let (staff, staff_token) = app.user_token("worker", "staff").await;
    let voter = customer(&app, "voter", Some("9876543210")).await;
    let a = ProductBuilder::package("Kit A").create(&app).await;
    let b = ProductBuilder::campaign("Camp B").create(&app).await;
    let plain = ProductBuilder::package("Plain").create(&app).await;
    let unrelated = ProductBuilder::package("Unrelated").create(&app).await;
    let mut ids = std::collections::HashMap::new();
    for (kind, pid, name, position, optional) in [
        (ProductType::Package, a, "A1", 2, false),
        (ProductType::Package, a, "A0", 0, false),
        (ProductType::Package, a, "A-optional", 1, true),
        (ProductType::Campaign, b, "B1", 1, false),
        (ProductType::Campaign, b, "B0", 0, false),
        (ProductType::Package, unrelated, "Elsewhere", 0, false),
    ] {
        let id = TemplateItemBuilder::new(kind, pid, name)
            .description("explained")
            .order(position)
            .optional(optional)
            .create(&app)
            .await;
        ids.insert(name, id);
    }
    let id = order(
        &app,
        voter,
        Some(staff),
        "EC-20261129-BBBB0001",
        &[(ProductType::Package, a, 1), (ProductType::Campaign, b, 5), (ProductType::Package, plain, 1)],
    )
    .await;
    ensure(&app, id).await;
    let c = load(&app, id).await;
    let got: Vec<(&str, i32, bool, Option<i64>)> =
        c.items.iter().map(|i| (i.description.as_str(), i.order_index, i.is_optional, i.template_item_id)).collect();
    assert_eq!(
        got,
        [
            ("A0", 0, false, Some(ids["A0"])),
            ("B0", 0, false, Some(ids["B0"])),
            ("A-optional", 1, true, Some(ids["A-optional"])),
            ("B1", 1, false, Some(ids["B1"])),
            ("A1", 2, false, Some(ids["A1"])),
        ]
    );

    // The optional item counts in completed_items but not towards progress.
    let (code, body) = patch(&app, c.items[2].id, &json!({"completed": true}), &staff_token).await;
    assert_eq!(code, 200);
    assert_eq!(
        body["order_progress"],
        json!({"total_items": 5, "completed_items": 1, "required_items": 4, "completed_required": 0,
               "progress_percentage": 0, "order_status": "assigned"})
    );
    assert_eq!(body["checklist_item"]["is_optional"], true);
    assert_eq!(status_of(&app, id).await, "assigned");
    assert!(history(&app, id).await.is_empty());
    let (code, body) = patch(&app, c.items[0].id, &json!({"completed": true}), &staff_token).await;
    assert_eq!(code, 200);
    assert_eq!(body["order_progress"]["progress_percentage"], 25);
    assert_eq!(body["order_progress"]["order_status"], "in_progress");

    // The §3 shape after ticking: UserBasic of who ticked.
    sqlx::query(
        "UPDATE users SET first_name = 'Wanda', last_name = 'Worker', phone_number = '9000000001' WHERE id = $1",
    )
    .bind(staff)
    .execute(&app.pool)
    .await
    .unwrap();
    let shown = checklist_json(&load(&app, id).await);
    assert_eq!(shown["completed_items"], 2);
    assert_eq!(shown["completed_required"], 1);
    assert_eq!(shown["required_items"], 4);
    assert_eq!(shown["progress_percentage"], 25);
    let first = &shown["items"][0];
    assert_ist(&first["completed_at"]);
    assert_eq!(first["template_item_id"], ids["A0"]);
    assert_eq!(
        first["completed_by"],
        json!({"id": staff, "username": "worker", "phone_number": "9000000001", "phone": "9000000001",
               "name": "Wanda Worker", "role": "staff", "email": "", "first_name": "Wanda", "last_name": "Worker"})
    );
    assert_eq!(shown["items"][1]["completed_by"], Value::Null);
}

#[tokio::test]
async fn ticking_moves_the_order_and_notifies_each_threshold_once() {
    let app = spawn_app().await;
    let (boss, boss_token) = app.user_token("boss", "admin").await;
    let (boss2, _) = app.user_token("boss2", "admin").await;
    let (staff, staff_token) = app.user_token("worker", "staff").await;
    let (_, other_token) = app.user_token("other-staff", "staff").await;
    let (_, customer_token) = app.user_token("buyer", "user").await;
    sqlx::query("UPDATE users SET phone_number = '9000000001' WHERE id = $1")
        .bind(staff)
        .execute(&app.pool)
        .await
        .unwrap();
    let voter = customer(&app, "voter", Some("9876543210")).await;
    let kit = ProductBuilder::package("Kit").create(&app).await;
    let number = "EC-20261129-CCCC0001";
    let id = order(&app, voter, Some(staff), number, &[(ProductType::Package, kit, 1)]).await;
    ensure(&app, id).await;
    let items: Vec<i64> = load(&app, id).await.items.iter().map(|i| i.id).collect();
    assert_eq!(items.len(), 12);
    let first = items[0];
    let path = format!("/api/staff/checklist/{first}/");

    // Who may call, and the error bodies.
    let res = app.send(Method::PATCH, &path, &json!({"completed": true}), None).await;
    assert_eq!(res.status(), 401);
    let (code, body) = patch(&app, first, &json!({"completed": true}), &customer_token).await;
    assert_eq!((code, body), (403, json!({"detail": "You do not have permission to perform this action."})));
    let not_found = json!({"detail": "No ChecklistItem matches the given query."});
    for body in [json!({"completed": true}), json!({})] {
        assert_eq!(patch(&app, 999_999, &body, &staff_token).await, (404, not_found.clone()));
    }
    let forbidden = json!({"success": false, "message": "You do not have permission to update this checklist"});
    for body in [json!({"completed": true}), json!({})] {
        assert_eq!(patch(&app, first, &body, &other_token).await, (403, forbidden.clone()));
    }
    let required = json!({"success": false, "message": "completed field is required"});
    for body in [json!({}), json!({"completed": null}), json!({"completed": "yes"}), json!({"completed": 1})] {
        assert_eq!(patch(&app, first, &body, &staff_token).await, (400, required.clone()), "{body}");
    }
    let res = app.client.patch(app.url(&path)).bearer_auth(&staff_token).send().await.unwrap();
    assert_eq!(res.status(), 400, "no body at all");
    assert_eq!(res.json::<Value>().await.unwrap(), required);
    assert_eq!(status_of(&app, id).await, "assigned");
    assert!(notifications(&app, id).await.is_empty());

    // Tick: the exact body; the order moves to in_progress with a system history row.
    let (code, body) = patch(&app, first, &json!({"completed": true}), &staff_token).await;
    assert_eq!(code, 200);
    let at = body["checklist_item"]["completed_at"].clone();
    assert_ist(&at);
    assert_eq!(
        body,
        json!({
            "success": true,
            "message": "Checklist item updated successfully",
            "checklist_item": {
                "id": first, "description": format!("Review order {number} details and requirements"),
                "completed": true, "completed_at": at,
                "completed_by": {"id": staff, "username": "worker", "phone_number": "9000000001"},
                "order_index": 0, "is_optional": false,
            },
            "order_progress": {
                "total_items": 12, "completed_items": 1, "required_items": 12, "completed_required": 1,
                "progress_percentage": 8, "order_status": "in_progress",
            },
        })
    );
    let progress_row: Hist =
        ("assigned".to_string(), "in_progress".to_string(), None, false, "Checklist progress 8%".into());
    assert_eq!(history(&app, id).await, std::slice::from_ref(&progress_row));

    // Untick clears the time and the user; the status stays.
    let (code, body) = patch(&app, first, &json!({"completed": false}), &staff_token).await;
    assert_eq!(code, 200);
    assert_eq!(
        body,
        json!({
            "success": true,
            "message": "Checklist item updated successfully",
            "checklist_item": {
                "id": first, "description": format!("Review order {number} details and requirements"),
                "completed": false, "completed_at": null, "completed_by": null, "order_index": 0, "is_optional": false,
            },
            "order_progress": {
                "total_items": 12, "completed_items": 0, "required_items": 12, "completed_required": 0,
                "progress_percentage": 0, "order_status": "in_progress",
            },
        })
    );

    // The strings "true"/"false" count; an admin who is not the assignee may tick too; a
    // form-encoded body works.
    let (code, body) = patch(&app, first, &json!({"completed": "true"}), &staff_token).await;
    assert_eq!((code, &body["checklist_item"]["completed"]), (200, &json!(true)));
    let (code, body) = patch(&app, items[1], &json!({"completed": true}), &boss_token).await;
    assert_eq!(code, 200);
    assert_eq!(body["checklist_item"]["completed_by"], json!({"id": boss, "username": "boss", "phone_number": null}));
    let res = app
        .client
        .patch(app.url(&format!("/api/staff/checklist/{}/", items[2])))
        .bearer_auth(&staff_token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("completed=true")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["order_progress"]["progress_percentage"], 25);
    let msgs: Vec<String> = notifications(&app, id).await.into_iter().map(|n| n.3).collect();
    assert_eq!(msgs, [format!("Order {number} is now 25% complete."), format!("Order {number} is now 25% complete.")]);

    let mut seen = Vec::new();
    for item in &items[3..] {
        let (code, body) = patch(&app, *item, &json!({"completed": "false"}), &staff_token).await;
        assert_eq!(code, 200);
        assert_eq!(body["checklist_item"]["completed"], false);
        let (code, body) = patch(&app, *item, &json!({"completed": true}), &staff_token).await;
        assert_eq!(code, 200);
        seen.push(body["order_progress"]["progress_percentage"].as_i64().unwrap());
    }
    assert_eq!(seen, [33, 41, 50, 58, 66, 75, 83, 91, 100]);
    assert_eq!(status_of(&app, id).await, "completed");
    let done_row: Hist =
        ("in_progress".to_string(), "completed".to_string(), None, false, "Checklist progress 100%".into());
    assert_eq!(history(&app, id).await, [progress_row.clone(), done_row.clone()]);
    let expected = expected_notifications(&[boss, boss2], number, "9000000001");
    assert_eq!(notifications(&app, id).await, expected);

    // Untick and tick again: the status stays completed, nothing is sent again.
    let (code, body) = patch(&app, items[11], &json!({"completed": false}), &staff_token).await;
    assert_eq!(code, 200);
    assert_eq!(body["order_progress"]["progress_percentage"], 91);
    assert_eq!(body["order_progress"]["order_status"], "completed");
    let (code, body) = patch(&app, items[11], &json!({"completed": true}), &staff_token).await;
    assert_eq!(code, 200);
    assert_eq!(body["order_progress"]["progress_percentage"], 100);
    assert_eq!(body["order_progress"]["order_status"], "completed");
    assert_eq!(history(&app, id).await, [progress_row, done_row]);
    assert_eq!(notifications(&app, id).await, expected);
    let c = load(&app, id).await;
    assert_eq!(c.progress(), checklist::Progress::from_counts(12, 12, 12, 12));
}

#[tokio::test]
async fn concurrent_ticks_serialize_and_notify_each_threshold_once() {
    let app = spawn_app().await;
    let (boss, boss_token) = app.user_token("boss", "admin").await;
    let (boss2, _) = app.user_token("boss2", "admin").await;
    let (staff, staff_token) = app.user_token("worker", "staff").await;
    let voter = customer(&app, "voter", None).await;
    let kit = ProductBuilder::package("Kit").create(&app).await;
    let number = "EC-20261129-DDDD0001";
    let id = order(&app, voter, Some(staff), number, &[(ProductType::Package, kit, 1)]).await;
    ensure(&app, id).await;
    let items: Vec<i64> = load(&app, id).await.items.iter().map(|i| i.id).collect();
    assert_eq!(items.len(), 12);

    let all = |completed: bool| {
        let app = &app;
        let (staff_token, boss_token) = (&staff_token, &boss_token);
        join_all(items.iter().enumerate().map(move |(n, item)| async move {
            let token = if n % 2 == 0 { staff_token } else { boss_token };
            patch(app, *item, &json!({"completed": completed}), token).await
        }))
    };

    let results = all(true).await;
    assert!(results.iter().all(|(code, _)| *code == 200), "{results:?}");
    // Serialized: every tick saw the previous ones.
    let mut seen: Vec<i64> =
        results.iter().map(|(_, b)| b["order_progress"]["progress_percentage"].as_i64().unwrap()).collect();
    seen.sort_unstable();
    assert_eq!(seen, [8, 16, 25, 33, 41, 50, 58, 66, 75, 83, 91, 100]);
    assert_eq!(results.iter().filter(|(_, b)| b["order_progress"]["order_status"] == "completed").count(), 1);
    assert_eq!(status_of(&app, id).await, "completed");
    let expected_history: [Hist; 2] = [
        ("assigned".to_string(), "in_progress".to_string(), None, false, "Checklist progress 8%".to_string()),
        ("in_progress".to_string(), "completed".to_string(), None, false, "Checklist progress 100%".to_string()),
    ];
    assert_eq!(history(&app, id).await, expected_history);
    let expected = expected_notifications(&[boss, boss2], number, "staff");
    assert_eq!(notifications(&app, id).await, expected);

    // All unticked at once, then all ticked again at once: nothing moves back, nothing is resent.
    let results = all(false).await;
    assert!(results.iter().all(|(code, b)| *code == 200 && b["order_progress"]["order_status"] == "completed"));
    let c = load(&app, id).await;
    assert_eq!(c.progress(), checklist::Progress::from_counts(12, 0, 12, 0));
    assert!(c.items.iter().all(|i| i.completed_at.is_none() && i.completed_by.is_none()));
    let results = all(true).await;
    assert!(results.iter().all(|(code, _)| *code == 200));
    assert_eq!(history(&app, id).await, expected_history);
    assert_eq!(notifications(&app, id).await, expected);
    let c = load(&app, id).await;
    assert_eq!(c.progress(), checklist::Progress::from_counts(12, 12, 12, 12));
    assert_eq!(c.progress().progress_percentage, 100);
    assert!(c.items.iter().all(|i| i.completed_at.is_some() && i.completed_by.is_some()));
    assert_eq!(status_of(&app, id).await, "completed");
    let milestones: Vec<i16> =
        sqlx::query_scalar("SELECT threshold FROM order_checklist_milestone WHERE order_id = $1 ORDER BY threshold")
            .bind(id)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(milestones, [25, 50, 75, 100]);
}

//! OWASP API1:2023 Broken Object Level Authorization. Every documented operation that takes an
//! id of something a user owns (an order and everything under it, a cart line, a notification,
//! an uploaded file, a payment proof, an invoice or credit note, a checklist item) is called
//! about Alice's object by Bob (another customer) and by a staff member who is not the order's
//! assignee; each gets the API.md answer for "not yours", and Alice (or the assignee) gets a
//! different answer, so the refusal is about ownership. An id-taking route that is not
//! classified below fails the test: new routes cannot slip through.

use reqwest::Method;
use serde_json::{Value, json};

use super::api5_function_level::{Need, need, privileged};
use super::{Op, World, answer, call, document, operations};
use e2e::spawn_app;

/// The answer a stranger gets for another user's object, per route (API.md §4.5, §4.4, §4.8,
/// §4.11, §4.7, §4.6), or `None` for routes whose objects are public (the catalogue).
fn strangers_answer(op: &Op) -> Option<(u16, Value)> {
    let order_not_found = (404, json!({"error": "Order not found"}));
    let file_forbidden = (403, Value::String("You don't have permission to access this file".into()));
    let p = op.path.as_str();
    Some(match p {
        // Public catalogue objects: anybody may read them.
        "/api/packages/{id}/" | "/api/campaigns/{id}/" | "/api/products/{type}/{id}/images/" => return None,
        // §4.11: a product image is readable by any signed-in user.
        "/api/secure-files/images/{image_id}/" => return None,
        // §4.5: the invoice has its own refusal, and so have its credit notes.
        "/api/orders/{id}/invoice/download/" | "/api/orders/{id}/credit-notes/{note_id}/download/" => {
            (403, json!({"error": "You do not have permission to download this invoice"}))
        }
        p if p.starts_with("/api/orders/{id}/") => order_not_found,
        // §4.4: the line is looked up in the caller's own cart ("Cart not found" if they have none).
        "/api/cart/remove/{item_id}/" => (404, json!({"error": "Cart item not found"})),
        p if p.starts_with("/api/admin/notifications/{id}/") => {
            (404, json!({"success": false, "message": "Notification not found"}))
        }
        p if p.starts_with("/api/secure-files/") => file_forbidden,
        _ => panic!("{}: an id-taking route no test classifies; add it to api1_object_level", op.key()),
    })
}

/// The answer a staff member who is not the assignee gets (§4.7, §4.6), for the staff routes
/// that take an order or a checklist item.
fn other_staffs_answer(op: &Op) -> Option<(u16, Value)> {
    Some(match op.path.as_str() {
        "/api/staff/orders/{id}/" => (404, json!({"detail": "No Order matches the given query."})),
        "/api/staff/checklist/{item_id}/" => {
            (403, json!({"success": false, "message": "You do not have permission to update this checklist"}))
        }
        "/api/admin/orders/{id}/invoice/" | "/api/admin/orders/{id}/credit-notes/{note_id}/" => {
            (403, json!({"error": "You can only download invoices for orders assigned to you"}))
        }
        "/api/secure-files/resources/{submission_id}/"
        | "/api/secure-files/orders/{order_id}/{resource_type}/"
        | "/api/secure-files/payment-proofs/{record_id}/" => {
            (403, Value::String("You don't have permission to access this file".into()))
        }
        _ => return None,
    })
}

/// Sends the call as `token`; `?token=` for secure files is covered by the Bearer header (§2).
async fn as_user(app: &e2e::TestApp, op: &Op, path: &str, token: &str) -> (u16, Value) {
    // A well-formed body, so that only ownership can stop the call.
    let body = match op.path.as_str() {
        "/api/staff/checklist/{item_id}/" => json!({"completed": true}),
        "/api/orders/{id}/payment-success/" => {
            json!({"razorpay_order_id": "order_X", "razorpay_payment_id": "pay_X", "razorpay_signature": "00"})
        }
        _ => json!({}),
    };
    answer(super::call_with(app, &op.method, path, Some(token), &body).await).await
}

#[tokio::test]
async fn owasp_api1_no_customer_reaches_another_customers_objects() {
    let app = spawn_app().await;
    let world = World::new(&app).await;
    let mut ops: Vec<Op> = operations(&document(&app).await)
        .into_iter()
        .filter(|o| o.has_params() && o.secured)
        // Staff-only routes refuse every customer outright (api5_function_level).
        .filter(|o| !privileged(&o.path) || need(o) == Need::User)
        .collect();
    // Alice's own calls must not destroy what the next calls name.
    ops.sort_by_key(|o| o.method == Method::DELETE);
    let mut checked = Vec::new();
    for op in &ops {
        let Some(expected) = strangers_answer(op) else { continue };
        let path = world.fill(&op.path);
        let bob = as_user(&app, op, &path, &world.bob.token).await;
        let no_cart = (404, json!({"error": "Cart not found"}));
        let bob = if op.path.starts_with("/api/cart/") && bob == no_cart { expected.clone() } else { bob };
        assert_eq!(bob, expected, "{} ({path}) as another customer", op.key());
        // §4.11: payment proofs are the desk's (admins, the assignee), not the customer's.
        if op.path != "/api/secure-files/payment-proofs/{record_id}/" {
            let alice = as_user(&app, op, &path, &world.alice.token).await;
            assert_ne!(alice, expected, "{} ({path}) as the owner must not be refused the same way", op.key());
        }
        checked.push(op.key());
    }
    for must in [
        "GET /api/orders/{id}/",
        "POST /api/orders/{id}/payment-success/",
        "POST /api/orders/{id}/submit-resources/",
        "GET /api/orders/{id}/invoice/download/",
        "GET /api/orders/{id}/credit-notes/{note_id}/download/",
        "DELETE /api/cart/remove/{item_id}/",
        "POST /api/admin/notifications/{id}/mark-read/",
        "GET /api/secure-files/resources/{submission_id}/",
        "GET /api/secure-files/payment-proofs/{record_id}/",
    ] {
        assert!(checked.iter().any(|k| k == must), "{must} not checked; checked: {checked:?}");
    }
}

#[tokio::test]
async fn owasp_api1_staff_reach_only_the_orders_assigned_to_them() {
    let app = spawn_app().await;
    let world = World::new(&app).await;
    let mut checked = 0;
    for op in operations(&document(&app).await).into_iter().filter(|o| o.has_params()) {
        let Some(expected) = other_staffs_answer(&op) else { continue };
        let path = world.fill(&op.path);
        let other = as_user(&app, &op, &path, &world.other_staff.token).await;
        assert_eq!(other, expected, "{} ({path}) as a staff member who is not the assignee", op.key());
        let assignee = as_user(&app, &op, &path, &world.staff.token).await;
        assert_ne!(assignee, expected, "{} ({path}) as the assignee must not be refused the same way", op.key());
        checked += 1;
    }
    assert_eq!(checked, 7);
    // The checklist item was ticked by the assignee only.
    let by: Option<i64> = sqlx::query_scalar("SELECT completed_by_id FROM checklist_item WHERE id = $1")
        .bind(world.checklist_item)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(by, Some(world.staff.id));
}

#[tokio::test]
async fn owasp_api1_a_strangers_writes_change_nothing() {
    let app = spawn_app().await;
    let world = World::new(&app).await;
    let bob = Some(world.bob.token.as_str());
    let res = call(&app, &Method::DELETE, &format!("/api/cart/remove/{}/", world.cart_item), bob).await;
    assert_eq!(res.status(), 404);
    let res =
        call(&app, &Method::PATCH, &format!("/api/admin/notifications/{}/mark-read/", world.notification), bob).await;
    assert_eq!(res.status(), 404);
    let (lines, read): (i64, bool) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM cart_item WHERE id = $1), (SELECT is_read FROM notification WHERE id = $2)",
    )
    .bind(world.cart_item)
    .bind(world.notification)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((lines, read), (1, false));
}

//! Helpers of the order and payment tests: a filled cart, a placed and a paid order.

use e2e::TestApp;
use e2e::builders::ProductBuilder;
use e2e::razorpay::FakeRazorpay;
use serde_json::{Value, json};

/// The SAC code of the shop's products (advertising services).
pub const SAC: &str = "998361";

/// Adds a line to the user's cart.
pub async fn add(app: &TestApp, token: &str, item_type: &str, id: i64, quantity: i64) {
    let res = app
        .post("/api/cart/add/", &json!({"item_type": item_type, "item_id": id, "quantity": quantity}), Some(token))
        .await;
    assert_eq!(res.status(), 200);
}

/// Places an order of one ₹4999.00 package (18 % GST); returns the create response body.
pub async fn place(app: &TestApp, token: &str) -> Value {
    let name = format!("Kit {}", uuid::Uuid::new_v4().simple());
    let pkg = ProductBuilder::package(&name).price("4999.00").gst_rate("18").hsn_sac(SAC).create(app).await;
    add(app, token, "package", pkg, 1).await;
    let res = app.post("/api/orders/create/", &json!({}), Some(token)).await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

/// The checkout callback body for a payment of `rzp_order`.
pub fn callback(fake: &FakeRazorpay, rzp_order: &str, payment: &str) -> Value {
    json!({
        "razorpay_order_id": rzp_order,
        "razorpay_payment_id": payment,
        "razorpay_signature": fake.checkout_signature(rzp_order, payment),
    })
}

/// Count of rows of a table for an order.
pub async fn count(app: &TestApp, table: &str, order_id: i64) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table} WHERE order_id = $1")))
        .bind(order_id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

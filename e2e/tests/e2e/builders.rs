//! The test-data builders of `e2e::builders` write what the service itself writes.

use common::catalog::ProductType;
use common::catalog::{checklist_templates, images, products};
use common::orders::admin::records::{self, PaymentMethod};
use common::orders::{self, OrderStatus, PaymentStatus};
use e2e::builders::{
    ImageBuilder, LegacyOrderBuilder, NotificationBuilder, OrderBuilder, PaymentBuilder, ProductBuilder,
    TemplateItemBuilder, UserBuilder,
};
use e2e::{TestApp, spawn_app};

/// `(old_status, new_status, changed_by_id, reason)` of the order's history, oldest first.
async fn history(app: &TestApp, order_id: i64) -> Vec<(String, String, Option<i64>, String)> {
    sqlx::query_as(
        "SELECT old_status, new_status, changed_by_id, reason FROM order_status_history WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

fn row(old: &str, new: &str, by: Option<i64>, reason: &str) -> (String, String, Option<i64>, String) {
    (old.to_string(), new.to_string(), by, reason.to_string())
}

#[tokio::test]
async fn users_and_products_are_made_as_the_service_makes_them() {
    let app = spawn_app().await;
    let (admin, _) = UserBuilder::new("boss").admin().create_with_token(&app).await;
    let legacy = common::accounts::password::django_pbkdf2_hash("old-pass", "salt1234", 1000);
    UserBuilder::new("old").password_hash(&legacy).phone("9000000001").create(&app).await;
    app.login("old", "old-pass").await;
    let boss = common::accounts::users::find(&app.pool, admin).await.unwrap().unwrap();
    assert_eq!((boss.role.as_str(), boss.is_staff), ("admin", true));

    let version = products::version(&app.pool).await.unwrap();
    let pkg = ProductBuilder::package("Rally Kit")
        .price("4999.00")
        .gst_rate("5")
        .hsn_sac("998361")
        .item("Posters", 100)
        .created_by(admin)
        .create_product(&app)
        .await;
    assert_eq!((pkg.price.as_str(), pkg.gst_rate.as_str(), pkg.hsn_sac.as_str()), ("4999.00", "5.00", "998361"));
    assert_eq!(pkg.items.len(), 1);
    assert_eq!(pkg.created_by_name.as_deref(), Some("boss"));
    let camp = ProductBuilder::campaign("SMS").price("0.50").inactive().create_product(&app).await;
    assert_eq!((camp.unit.as_str(), camp.is_active), ("per 1000", false));
    assert_eq!(products::version(&app.pool).await.unwrap(), version + 2, "catalogue version bumped");
    let audits = products::audit_logs(&app.pool, ProductType::Package, pkg.id).await.unwrap();
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].action, "create");

    let task =
        TemplateItemBuilder::new(ProductType::Package, pkg.id, "Print").order(3).optional(true).create(&app).await;
    let task = checklist_templates::find(&app.pool, task).await.unwrap().unwrap();
    assert_eq!((task.order, task.is_optional), (3, true));

    let image = ImageBuilder::stored(ProductType::Package, pkg.id, "products/a.png")
        .thumbnail("products/thumbs/a.jpg")
        .create(&app)
        .await;
    let image = images::get(&app.pool, image).await.unwrap().unwrap();
    assert_eq!(image.image, "products/a.png");
    assert_eq!(image.thumbnail.as_deref(), Some("products/thumbs/a.jpg"));
    assert!(image.is_primary, "the first image is primary");
}

#[tokio::test]
async fn an_order_placed_through_the_cart_then_paid_and_assigned() {
    let app = spawn_app().await;
    let admin = UserBuilder::new("boss").admin().create(&app).await;
    let staff = UserBuilder::new("ravi").staff().create(&app).await;
    let buyer = UserBuilder::new("buyer").phone("9876543210").create(&app).await;
    let pkg = ProductBuilder::package("Rally Kit").price("4999.00").create(&app).await;
    let camp = ProductBuilder::campaign("SMS").price("0.50").create(&app).await;

    let built = OrderBuilder::for_user(buyer)
        .item(ProductType::Package, pkg, 2)
        .item(ProductType::Campaign, camp, 1000)
        .paid()
        .assigned_to(staff)
        .by(admin)
        .build(&app)
        .await;
    assert_eq!(built.item_ids.len(), 2);
    assert!(built.number.starts_with("EC-"), "{}", built.number);
    let order = orders::get(&app.pool, built.id, None).await.unwrap().unwrap();
    assert_eq!(order.total_amount, 1_049_800);
    assert_eq!(order.taxable_amount + order.tax_amount, order.total_amount, "GST split per line");
    assert!(order.tax_amount > 0);
    assert_eq!((order.status.as_str(), order.payment_status.as_str()), ("assigned", "paid"));
    assert_eq!(order.assigned_to_id, Some(staff));
    assert!(order.invoice_number.is_some() && order.payment_completed_at.is_some());
    assert_eq!(order.balance(), 0);
    assert_eq!(
        history(&app, built.id).await,
        [
            row("", "pending_payment", Some(buyer), "Order created"),
            row("pending_payment", "pending_resources", Some(admin), "Payment recorded"),
            row("pending_resources", "assigned", Some(admin), "Assigned to ravi"),
        ]
    );
    let paid = records::payment_records(&app.pool, built.id).await.unwrap();
    assert_eq!(paid.len(), 1);
    assert_eq!(
        (paid[0].amount, paid[0].payment_method.as_str(), paid[0].recorded_by_id),
        (1_049_800, "cash", Some(admin))
    );
    let notified: Vec<String> =
        sqlx::query_scalar("SELECT notification_type FROM notification WHERE user_id = $1 AND order_id = $2")
            .bind(staff)
            .bind(built.id)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(notified, ["order_assigned"]);
    assert!(orders::checklist::load(&app.pool, built.id).await.unwrap().is_some(), "assignment builds the checklist");
    let in_cart: i64 = sqlx::query_scalar("SELECT count(*) FROM cart_item").fetch_one(&app.pool).await.unwrap();
    assert_eq!(in_cart, 0, "the order emptied the cart");
}

#[tokio::test]
async fn orders_with_a_number_a_status_or_partial_payments() {
    let app = spawn_app().await;
    let buyer = UserBuilder::new("buyer").create(&app).await;
    let admin = UserBuilder::new("boss").admin().create(&app).await;
    let old = ProductBuilder::package("Old Kit").price("100.00").inactive().create(&app).await;

    // A given number and status; an inactive product at its current price.
    let id = OrderBuilder::for_user(buyer)
        .item(ProductType::Package, old, 3)
        .number("EC-20261129-ABCD0001")
        .status(OrderStatus::InProgress)
        .with_checklist()
        .create(&app)
        .await;
    let order = orders::get(&app.pool, id, None).await.unwrap().unwrap();
    assert_eq!((order.order_number.as_str(), order.status.as_str()), ("EC-20261129-ABCD0001", "in_progress"));
    assert_eq!(order.total_amount, 30_000);
    assert_eq!(history(&app, id).await, [row("", "in_progress", Some(buyer), "Order created")]);
    assert!(orders::checklist::load(&app.pool, id).await.unwrap().is_some());

    // Offline payments: partial, then the rest by PaymentBuilder.
    let id = OrderBuilder::for_user(buyer)
        .line_at(ProductType::Campaign, 999_999, 2, "50.00")
        .payment("40.00", PaymentMethod::Upi)
        .by(admin)
        .create(&app)
        .await;
    let order = orders::get(&app.pool, id, None).await.unwrap().unwrap();
    assert_eq!((order.total_amount, order.total_paid, order.payment_status.as_str()), (10_000, 4_000, "partial"));
    assert_eq!(order.invoice_number, None);
    PaymentBuilder::for_order(id).by(admin).create(&app).await;
    let order = orders::get(&app.pool, id, None).await.unwrap().unwrap();
    assert_eq!(
        (order.total_paid, order.payment_status.as_str(), order.status.as_str()),
        (10_000, "paid", "pending_resources")
    );
    assert!(order.invoice_number.is_some());

    // The desk's payment status.
    let id = OrderBuilder::for_user(buyer).number("EC-2").payment_status(PaymentStatus::Cod).create(&app).await;
    let order = orders::get(&app.pool, id, None).await.unwrap().unwrap();
    assert_eq!((order.payment_status.as_str(), order.total_amount), ("cod", 0));
}

#[tokio::test]
async fn legacy_orders_and_back_dated_notifications_are_written_as_asked() {
    let app = spawn_app().await;
    let buyer = UserBuilder::new("buyer").create(&app).await;
    let staff = UserBuilder::new("ravi").staff().create(&app).await;
    let id = LegacyOrderBuilder::for_user(buyer)
        .number("EC-OLD-1")
        .status(OrderStatus::Assigned)
        .payment_status(PaymentStatus::Paid)
        .assigned_to(staff)
        .invoice_number("ECT/26-27/00001")
        .line(ProductType::Package, 1, 2, "10.00")
        .resources_uploaded()
        .create(&app)
        .await;
    let order = orders::get(&app.pool, id, None).await.unwrap().unwrap();
    assert_eq!(order.total_amount, 2_000);
    assert_eq!(order.invoice_number.as_deref(), Some("ECT/26-27/00001"));
    assert_eq!(order.payment_completed_at, None);
    assert!(history(&app, id).await.is_empty(), "no history");
    let items = orders::items(&app.pool, &[id]).await.unwrap();
    assert!(items[0].resources_uploaded);
    let notes: i64 = sqlx::query_scalar("SELECT count(*) FROM notification").fetch_one(&app.pool).await.unwrap();
    assert_eq!(notes, 0, "no notification");

    let at = chrono::DateTime::parse_from_rfc3339("2025-01-01T10:00:00Z").unwrap().to_utc();
    let note = NotificationBuilder::for_user(buyer).title("T").order(id).created_at(at).create(&app).await;
    let (_, rows) = common::notifications::list(&app.pool, buyer, false, 10, 0).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].id, rows[0].created_at, rows[0].order_number.as_deref()), (note, at, Some("EC-OLD-1")));
}

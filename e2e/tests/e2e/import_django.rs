//! `api import-django` (issue 16): the original's real schema and sample imported into a freshly
//! migrated database, then the API started on it and used as the old clients use it.

use std::collections::BTreeMap;

use api::import_django::{self, NoteKind, Report};
use e2e::{TestAppBuilder, django};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

/// Source table → our table (PaymentRecords made from PaymentHistory have negative ids).
const TABLES: [(&str, &str); 20] = [
    ("authentication_customuser", "users"),
    ("products_package", "package"),
    ("products_packageitem", "package_item"),
    ("products_campaign", "campaign"),
    ("products_productauditlog", "product_audit_log"),
    ("products_resourcefielddefinition", "resource_field_definition"),
    ("products_checklisttemplateitem", "checklist_template_item"),
    ("products_productimage", "product_image"),
    ("cart_cart", "cart"),
    ("cart_cartitem", "cart_item"),
    ("orders_order", "orders"),
    ("orders_orderitem", "order_item"),
    ("orders_orderresource", "order_resource"),
    ("orders_dynamicresourcesubmission", "dynamic_resource_submission"),
    ("orders_orderchecklist", "order_checklist"),
    ("orders_checklistitem", "checklist_item"),
    ("orders_orderstatushistory", "order_status_history"),
    ("orders_paymentrecord", "payment_record"),
    ("orders_paymenthistory", "payment_history"),
    ("admin_panel_notification", "notification"),
];

struct Dbs {
    source: String,
    target: String,
    media: std::path::PathBuf,
}

impl Dbs {
    async fn new() -> Dbs {
        let source = django::source_database().await;
        let target = e2e::fresh_database().await;
        let media = std::env::temp_dir().join(format!("ec-import-media-{target}"));
        Dbs { source, target, media }
    }

    fn options(&self) -> import_django::Options {
        django::options(&self.source, &self.target, self.media.clone())
    }

    async fn import(&self) -> Report {
        import_django::run(&self.options()).await.unwrap()
    }

    async fn source(&self) -> PgConnection {
        PgConnection::connect(&e2e::database_url_of(&self.source)).await.unwrap()
    }

    async fn target(&self) -> PgConnection {
        PgConnection::connect(&e2e::database_url_of(&self.target)).await.unwrap()
    }

    async fn drop(self) {
        e2e::drop_database(&self.source).await;
        e2e::drop_database(&self.target).await;
        let _ = std::fs::remove_dir_all(&self.media);
    }
}

async fn count(conn: &mut PgConnection, table: &str) -> i64 {
    let filter = if table == "payment_record" { " WHERE id > 0" } else { "" };
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}{filter}")))
        .fetch_one(conn)
        .await
        .unwrap()
}

/// md5 of every row of each of our tables, in id order: equal digests, equal contents.
async fn digests(conn: &mut PgConnection) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for table in TABLES.iter().map(|(_, t)| *t).chain(["refund"]) {
        let d: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT md5(string_agg(to_jsonb(t)::text, ',' ORDER BY id)) FROM {table} t"
        )))
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        out.insert(table.to_string(), d.unwrap_or_default());
    }
    out
}

fn paise(v: &Value) -> i64 {
    let n = match v {
        Value::String(s) => s.parse::<f64>().unwrap(),
        other => other.as_f64().unwrap(),
    };
    (n * 100.0).round() as i64
}

#[tokio::test]
async fn import_django_carries_the_sample_and_its_accounts_tokens_and_orders_work() {
    let dbs = Dbs::new().await;
    let report = dbs.import().await;
    assert_eq!(report.exit_code(), 0, "{}", report.render());
    assert!(report.refused.is_none());

    // Every count matches the fixture's, minus reported skips.
    let counts = django::counts();
    let mut target = dbs.target().await;
    for (src, ours) in TABLES {
        let stats = report.get(src).unwrap_or_else(|| panic!("no stats for {src}"));
        assert_eq!(stats.source as i64, counts[src], "{src} read");
        assert_eq!(count(&mut target, ours).await, counts[src] - stats.skipped as i64, "{src} → {ours}");
        assert_eq!(stats.imported + stats.skipped, stats.source, "{src}");
    }
    // Each completed Razorpay PaymentHistory got its PaymentRecord; the refunded one its refund.
    let derived: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM payment_record WHERE id < 0 AND payment_method = 'razorpay' AND payment_reference LIKE 'pay_%'",
    )
    .fetch_one(&mut target)
    .await
    .unwrap();
    assert_eq!(derived, 18);
    let refunds: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT order_id, amount::text, status FROM refund").fetch_all(&mut target).await.unwrap();
    assert_eq!(refunds, vec![(10, "8000.00".to_string(), "processed".to_string())]);
    // No job, no email, no new invoice number.
    let (jobs, counters, invoices): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM job), (SELECT count(*) FROM invoice_counter WHERE last_seq > 0),
                (SELECT count(*) FROM invoice)",
    )
    .fetch_one(&mut target)
    .await
    .unwrap();
    assert_eq!((jobs, counters, invoices), (0, 0, 0));
    // Old invoice numbers kept on the order too; Cloudinary public ids became URLs.
    let inv: Option<String> =
        sqlx::query_scalar("SELECT invoice_number FROM orders WHERE id = 1").fetch_one(&mut target).await.unwrap();
    assert!(inv.unwrap().starts_with("INV-"));
    let img: String =
        sqlx::query_scalar("SELECT image FROM product_image WHERE id = 1").fetch_one(&mut target).await.unwrap();
    assert_eq!(
        img,
        "https://res.cloudinary.com/ecart/image/upload/media/products/images/election_hungama_banner_5vax4m"
    );

    let app = TestAppBuilder::new().database(&dbs.target).var("RATE_LIMITS_ENABLED", "false").spawn().await;

    // Every account logs in with the password it had.
    let mut admin_token = String::new();
    for a in django::accounts() {
        let body = app.login(&a.username, &a.password).await;
        assert_eq!(body["user"]["id"], a.id, "{}", a.username);
        assert_eq!(body["user"]["role"], a.role.as_str(), "{}", a.username);
        if a.username == "admin" {
            admin_token = body["token"].as_str().unwrap().to_string();
        }
    }
    // The hashes were upgraded to argon2id at those logins.
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE password LIKE 'pbkdf2_sha256$%'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);

    // A token the old backend signed (djangorestframework-simplejwt, same key) still works.
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"token_type": "access", "exp": now + 7 * 86400, "iat": now, "jti": "5f0c3a1e9b7d4c2a8e6f", "user_id": 4});
    let old = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(e2e::TEST_JWT_SECRET.as_bytes()).unwrap(),
    )
    .unwrap();
    let res = app.get("/api/auth/me/", Some(&old)).await;
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!((me["id"].as_i64(), me["username"].as_str()), (Some(4), Some("rahul.nair")));

    // Every order shows through the admin routes what the source rows say.
    let mut src = dbs.source().await;
    let orders: Vec<(i64, String, String, String)> =
        sqlx::query_as("SELECT id, total_amount::text, status, payment_status FROM orders_order ORDER BY id")
            .fetch_all(&mut src)
            .await
            .unwrap();
    for (id, total, status, payment_status) in orders {
        let res = app.get(&format!("/api/admin/orders/{id}/"), Some(&admin_token)).await;
        assert_eq!(res.status(), 200, "order {id}");
        let d: Value = res.json().await.unwrap();
        assert_eq!(d["total_amount"], total.as_str(), "order {id}");
        assert_eq!(d["status"], status.as_str(), "order {id}");
        let expected_ps = if payment_status == "pending" { "unpaid" } else { payment_status.as_str() };
        assert_eq!(d["payment_status"], expected_ps, "order {id}");

        let items: Vec<(i64, i32, String)> =
            sqlx::query_as("SELECT id, quantity, price::text FROM orders_orderitem WHERE order_id = $1 ORDER BY id")
                .bind(id)
                .fetch_all(&mut src)
                .await
                .unwrap();
        let mut got: Vec<(i64, i32, String)> = d["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["id"].as_i64().unwrap(),
                    i["quantity"].as_i64().unwrap() as i32,
                    i["price"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(got, items, "items of order {id}");

        let history: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT id, old_status, new_status FROM orders_orderstatushistory WHERE order_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&mut src)
        .await
        .unwrap();
        let res = app.get(&format!("/api/admin/orders/{id}/status-history/"), Some(&admin_token)).await;
        assert_eq!(res.status(), 200);
        let got: Value = res.json().await.unwrap();
        let mut got: Vec<(i64, String, String)> = got
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["id"].as_i64().unwrap(),
                    h["old_status"].as_str().unwrap().to_string(),
                    h["new_status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(got, history, "status history of order {id}");

        // Payment records: the original's own, plus the Razorpay payment it never recorded.
        let mut expected: Vec<(String, i64)> = sqlx::query_as::<_, (String, String)>(
            "SELECT payment_method, amount::text FROM orders_paymentrecord WHERE order_id = $1
             UNION ALL
             SELECT 'razorpay', amount::text FROM orders_paymenthistory
             WHERE order_id = $1 AND status IN ('completed', 'refunded')",
        )
        .bind(id)
        .fetch_all(&mut src)
        .await
        .unwrap()
        .into_iter()
        .map(|(m, a)| (m, paise(&Value::String(a))))
        .collect();
        expected.sort();
        let res = app.get(&format!("/api/admin/orders/{id}/payment-records/"), Some(&admin_token)).await;
        assert_eq!(res.status(), 200);
        let got: Value = res.json().await.unwrap();
        let mut got: Vec<(String, i64)> = got
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["payment_method"].as_str().unwrap().to_string(), paise(&r["amount"])))
            .collect();
        got.sort();
        assert_eq!(got, expected, "payment records of order {id}");
        let paid: i64 = expected.iter().map(|(_, a)| a).sum();
        assert_eq!(paise(&d["total_paid"]), paid, "total_paid of order {id}");
    }

    // A product made after the import gets an id above the imported ones.
    let body = json!({"name": "After the move", "price": "1200.00", "description": "New", "items": []});
    let res = app.post("/api/admin/products/package/", &body, Some(&admin_token)).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert!(created["id"].as_i64().unwrap() > 4, "{created}");
    let notification_max: i64 =
        sqlx::query_scalar("SELECT max(id) FROM admin_panel_notification").fetch_one(&mut src).await.unwrap();
    let next: i64 = sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('notification', 'id'))")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(next > notification_max);

    drop(app);
    dbs.drop().await;
}

#[tokio::test]
async fn import_django_twice_changes_nothing_then_takes_source_changes_and_reports_deletions() {
    let dbs = Dbs::new().await;
    let first = dbs.import().await;
    assert_eq!(first.exit_code(), 0, "{}", first.render());
    let mut target = dbs.target().await;
    let before = digests(&mut target).await;

    let second = dbs.import().await;
    assert_eq!(second.exit_code(), 0);
    for t in &second.tables {
        assert_eq!((t.imported, t.updated), (0, 0), "{}: second run wrote", t.table);
        assert_eq!(t.unchanged + t.skipped, t.source, "{}", t.table);
    }
    assert_eq!(digests(&mut target).await, before, "a second run changes nothing");

    // The shop ran on for a week: an order moved on, a price changed, a notification went.
    let mut src = dbs.source().await;
    sqlx::raw_sql(
        "UPDATE orders_order SET status = 'completed', admin_notes = 'delivered', updated_at = now() WHERE id = 2;
         UPDATE products_package SET price = 19999.00 WHERE id = 1;
         DELETE FROM admin_panel_notification WHERE id = 3;",
    )
    .execute(&mut src)
    .await
    .unwrap();
    let third = dbs.import().await;
    assert_eq!(third.exit_code(), 0, "{}", third.render());
    assert_eq!(third.get("orders_order").unwrap().updated, 1);
    assert_eq!(third.get("products_package").unwrap().updated, 1);
    assert_eq!(third.get("orders_orderitem").unwrap().updated, 0);
    let (status, notes): (String, String) =
        sqlx::query_as("SELECT status, admin_notes FROM orders WHERE id = 2").fetch_one(&mut target).await.unwrap();
    assert_eq!((status.as_str(), notes.as_str()), ("completed", "delivered"));
    let price: String =
        sqlx::query_scalar("SELECT price::text FROM package WHERE id = 1").fetch_one(&mut target).await.unwrap();
    assert_eq!(price, "19999.00");
    // Deleted there: reported, kept here.
    assert!(third.notes.iter().any(|n| n.kind == NoteKind::DeletedInSource
        && n.source_table == "admin_panel_notification"
        && n.source_id == 3
        && n.allowed));
    let kept: i64 =
        sqlx::query_scalar("SELECT count(*) FROM notification WHERE id = 3").fetch_one(&mut target).await.unwrap();
    assert_eq!(kept, 1);
    dbs.drop().await;
}

#[tokio::test]
async fn import_django_interrupted_half_way_finishes_on_the_next_run() {
    let dbs = Dbs::new().await;
    let mut opts = dbs.options();
    opts.batch = 5;
    opts.fail_after_batches = Some(12);
    let err = import_django::run(&opts).await.unwrap_err();
    assert!(err.to_string().contains("interrupted"), "{err}");
    let mut target = dbs.target().await;
    let users = count(&mut target, "users").await;
    let orders = count(&mut target, "orders").await;
    assert!(users == 12 && orders < 30, "stopped half-way: {users} users, {orders} orders");

    opts.fail_after_batches = None;
    let resumed = import_django::run(&opts).await.unwrap();
    assert_eq!(resumed.exit_code(), 0, "{}", resumed.render());
    assert_eq!(resumed.get("authentication_customuser").unwrap().imported, 0);
    assert!(resumed.get("orders_order").unwrap().imported > 0);

    // Same contents as one uninterrupted run into another fresh database.
    let other = e2e::fresh_database().await;
    let clean = import_django::run(&django::options(&dbs.source, &other, dbs.media.clone())).await.unwrap();
    assert_eq!(clean.exit_code(), 0);
    let mut other_conn = PgConnection::connect(&e2e::database_url_of(&other)).await.unwrap();
    assert_eq!(digests(&mut target).await, digests(&mut other_conn).await);
    other_conn.close().await.unwrap();
    e2e::drop_database(&other).await;
    dbs.drop().await;
}

#[tokio::test]
async fn import_django_refuses_a_target_it_did_not_fill_and_a_dry_run_writes_nothing() {
    let dbs = Dbs::new().await;
    let mut target = dbs.target().await;

    let mut dry = dbs.options();
    dry.dry_run = true;
    let report = import_django::run(&dry).await.unwrap();
    assert_eq!(report.exit_code(), 0, "{}", report.render());
    assert_eq!(report.get("orders_order").unwrap().imported, 30, "a dry run counts what it would import");
    assert!(report.render().contains("dry run: nothing was written"));
    for (_, ours) in TABLES {
        assert_eq!(count(&mut target, ours).await, 0, "dry run wrote {ours}");
    }
    let ledger: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM django_import_row) + (SELECT count(*) FROM django_import_run)",
    )
    .fetch_one(&mut target)
    .await
    .unwrap();
    assert_eq!(ledger, 0);

    // A database the service already used is not a migration target.
    sqlx::query("INSERT INTO users (username, password, role) VALUES ('someone', '', 'user')")
        .execute(&mut target)
        .await
        .unwrap();
    let report = dbs.import().await;
    assert_eq!(report.exit_code(), 1);
    assert!(report.refused.as_deref().unwrap().contains("users: 1"), "{:?}", report.refused);
    assert_eq!(count(&mut target, "orders").await, 0);
    dbs.drop().await;
}

#[tokio::test]
async fn import_django_reports_rows_that_break_our_rules_and_copies_local_media() {
    let dbs = Dbs::new().await;
    let mut src = dbs.source().await;
    let local = "0123456789abcdef0123456789abcdef_89abcdef.png";
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO products_package (id, name, price, description, is_active, created_at, updated_at, created_by_id,
                                      deliverables, features, is_popular, popular_order)
         OVERRIDING SYSTEM VALUE
         VALUES (9, 'ELECTION HUNGAMA', 100.00, 'Same name, other case', true, now(), now(), NULL, '[]', '[]', false, 0);
         DELETE FROM products_campaign WHERE id = 4;
         UPDATE orders_orderitem SET content_type_id = (SELECT id FROM django_content_type WHERE model = 'customuser')
          WHERE id = 2;
         UPDATE orders_order SET payment_status = 'pending' WHERE id = 8;
         UPDATE orders_paymenthistory SET invoice_number = 'EC/25-26/00042' WHERE id = 1;
         UPDATE products_productimage SET image = 'products/images/{local}' WHERE id = 2;"
    )))
    .execute(&mut src)
    .await
    .unwrap();
    let media_from = std::env::temp_dir().join(format!("ec-django-media-{}", dbs.target));
    std::fs::create_dir_all(media_from.join("products/images")).unwrap();
    std::fs::write(media_from.join("products/images").join(local), b"\x89PNG fake").unwrap();
    let mut opts = dbs.options();
    opts.media_from = Some(media_from.clone());

    let report = import_django::run(&opts).await.unwrap();
    let text = report.render();
    // An order item pointing at no product is skipped without an allowed reason.
    assert_eq!(report.exit_code(), 3, "{text}");
    let bad: Vec<_> = report.notes.iter().filter(|n| !n.allowed).collect();
    assert_eq!(bad.len(), 1, "{text}");
    assert_eq!(
        (bad[0].source_table.as_str(), bad[0].source_id, bad[0].kind),
        ("orders_orderitem", 2, NoteKind::Skipped)
    );
    assert!(text.contains("orders_orderitem 2: skipped (NOT ALLOWED)"), "{text}");

    let mut target = dbs.target().await;
    // The duplicate name is carried over renamed, and reported.
    let name: String =
        sqlx::query_scalar("SELECT name FROM package WHERE id = 9").fetch_one(&mut target).await.unwrap();
    assert_eq!(name, "ELECTION HUNGAMA (#9)");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.source_table == "products_package" && n.source_id == 9 && n.kind == NoteKind::Changed)
    );
    // Lines of the deleted campaign keep their snapshot, reported.
    let lines: i64 =
        sqlx::query_scalar("SELECT count(*) FROM order_item WHERE product_type = 'campaign' AND product_id = 4")
            .fetch_one(&mut target)
            .await
            .unwrap();
    assert_eq!(lines, 11);
    assert_eq!(
        report.notes.iter().filter(|n| n.source_table == "orders_orderitem" && n.kind == NoteKind::Changed).count(),
        11
    );
    // `pending` is stored as `unpaid`, reported.
    let ps: String =
        sqlx::query_scalar("SELECT payment_status FROM orders WHERE id = 8").fetch_one(&mut target).await.unwrap();
    assert_eq!(ps, "unpaid");
    // The local file was copied where the row now points.
    let image: String =
        sqlx::query_scalar("SELECT image FROM product_image WHERE id = 2").fetch_one(&mut target).await.unwrap();
    assert_eq!(image, format!("products/{local}"));
    assert!(dbs.media.join("products").join(local).is_file());

    // A source invoice number shaped like ours moves our series past it; a second run still
    // finds the target its own.
    let last: i64 = sqlx::query_scalar("SELECT last_seq FROM invoice_counter WHERE fy_start_year = 2025")
        .fetch_one(&mut target)
        .await
        .unwrap();
    assert_eq!(last, 42);
    let again = import_django::run(&opts).await.unwrap();
    assert!(again.refused.is_none(), "{:?}", again.refused);
    assert_eq!(again.get("orders_order").unwrap().imported + again.get("orders_order").unwrap().updated, 0);

    let _ = std::fs::remove_dir_all(&media_from);
    dbs.drop().await;
}

//! GST invoices and credit notes (issue 11): issued with the payment, rendered and stored by the
//! `invoices` worker, downloaded by the people §4.5/§4.6 name, frozen against later changes.

use std::path::PathBuf;
use std::time::Duration;

use common::catalog::ProductType;
use common::orders::admin::records::PaymentMethod;
use common::orders::billing::BillingInput;
use common::orders::invoices::{self, InvoiceSettings, Stored};
use common::orders::{OrderStatus, PaymentStatus};
use e2e::builders::{LegacyOrderBuilder, OrderBuilder, PaymentBuilder, ProductBuilder, UserBuilder};
use e2e::razorpay::FakeRazorpay;
use e2e::smtp::SmtpServer;
use e2e::{TestApp, TestAppBuilder};
use serde_json::{Value, json};

use crate::shop::{callback, place};

const GSTIN: &str = "29ABCDE1234F1ZW";

fn media_dir() -> PathBuf {
    std::env::temp_dir().join(format!("ec-invoices-{}", uuid::Uuid::new_v4().simple()))
}

fn seller(builder: TestAppBuilder, media: &std::path::Path) -> TestAppBuilder {
    builder
        .var("SELLER_NAME", "Election Cart Private Limited")
        .var("SELLER_ADDRESS", "4th Floor, 12 MG Road\nBengaluru 560001")
        .var("SELLER_GSTIN", GSTIN)
        .var("SELLER_STATE_CODE", "29")
        .var("MEDIA_DIR", media.display().to_string())
}

/// The text of a PDF, whitespace collapsed.
pub fn pdf_text(bytes: &[u8]) -> String {
    let doc = lopdf::Document::load_mem(bytes).expect("a PDF");
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    doc.extract_text(&pages).expect("text").split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn download(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.get(path, Some(token)).await
}

async fn stored_documents(app: &TestApp) -> Vec<(i64, String, String, i32)> {
    sqlx::query_as("SELECT invoice_id, number, storage_key, bytes FROM invoice_document ORDER BY invoice_id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir.join("private/invoices"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_order_gets_its_tax_invoice_from_the_worker_and_the_right_people_download_it() {
    let fake = FakeRazorpay::start().await;
    let media = media_dir();
    let app = seller(TestAppBuilder::new().razorpay(&fake), &media).with_worker().spawn().await;
    let (_, token) = UserBuilder::new("asha").email("asha@example.com").create_with_token(&app).await;
    let (_, other) = app.user_token("ravi", "user").await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let (staff_id, staff) = app.user_token("sunil", "staff").await;
    let (_, stranger_staff) = app.user_token("kiran", "staff").await;

    let body = place(&app, &token).await;
    let id = body["order_id"].as_i64().unwrap();
    let rzp_order = body["razorpay_order_id"].as_str().unwrap();
    let customer_path = format!("/api/orders/{id}/invoice/download/");
    let desk_path = format!("/api/admin/orders/{id}/invoice/");

    // Unpaid: 400 with the exact body, for both apps.
    for (path, who) in [(&customer_path, &token), (&desk_path, &admin)] {
        let res = download(&app, path, who).await;
        assert_eq!(res.status(), 400);
        assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Invoice is only available for paid orders"}));
    }

    let payment = fake.capture_payment(rzp_order, None);
    let res = app
        .post(&format!("/api/orders/{id}/payment-success/"), &callback(&fake, rzp_order, &payment), Some(&token))
        .await;
    assert_eq!(res.status(), 200);
    let number = res.json::<Value>().await.unwrap()["invoice_number"].as_str().unwrap().to_string();
    assert!(number.starts_with("EC/") && number.ends_with("/00001"), "{number}");

    // The worker renders and stores it privately.
    let docs = app
        .eventually(Duration::from_secs(15), || async {
            let d = stored_documents(&app).await;
            (!d.is_empty()).then_some(d)
        })
        .await
        .expect("the invoices worker stored the document");
    assert_eq!(docs.len(), 1);
    let (_, doc_number, key, bytes) = &docs[0];
    assert_eq!(doc_number, &number);
    assert!(key.starts_with("private/invoices/"), "{key}");
    let stored = std::fs::read(media.join(key)).unwrap();
    assert_eq!(stored.len(), *bytes as usize);
    // `/media/` never serves it.
    assert_eq!(app.get(&format!("/media/{key}"), None).await.status(), 404);

    // Owner: 200, the stored bytes, the exact Content-Disposition.
    let res = download(&app, &customer_path, &token).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let date = (chrono::Utc::now() + chrono::Duration::minutes(330)).format("%Y%m%d").to_string();
    let file = format!("Invoice-{}-{date}.pdf", number.replace('/', "-"));
    assert_eq!(res.headers()["content-disposition"], format!("attachment; filename=\"{file}\"").as_str());
    let pdf = res.bytes().await.unwrap();
    assert_eq!(pdf.as_ref(), stored.as_slice(), "the stored document is served");
    let text = pdf_text(&pdf);
    for expected in [
        "TAX INVOICE",
        number.as_str(),
        "GSTIN: 29ABCDE1234F1ZW",
        "Election Cart Private Limited",
        "Kit ",
        "CGST",
        "SGST",
        "Reverse charge: No",
        "Razorpay",
        payment.as_str(),
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
    assert!(!text.contains("IGST ₹") || text.contains("IGST"), "intra-state: CGST + SGST");

    // Another customer: 403, exact body.
    let res = download(&app, &customer_path, &other).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"error": "You do not have permission to download this invoice"})
    );
    // Admin: 200 on both routes.
    assert_eq!(download(&app, &customer_path, &admin).await.status(), 200);
    assert_eq!(download(&app, &desk_path, &admin).await.status(), 200);
    // Staff not assigned: 403 with the desk's body; customers are not staff.
    let res = download(&app, &desk_path, &stranger_staff).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"error": "You can only download invoices for orders assigned to you"})
    );
    assert_eq!(download(&app, &desk_path, &token).await.status(), 403);
    assert_eq!(download(&app, &customer_path, &staff).await.status(), 403);
    // The assignee: 200 on both.
    let res = app.post(&format!("/api/admin/orders/{id}/assign/"), &json!({"staff_id": staff_id}), Some(&admin)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(download(&app, &customer_path, &staff).await.status(), 200);
    let res = download(&app, &desk_path, &staff).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-disposition"], format!("attachment; filename=\"{file}\"").as_str());
    // Unknown order; bad id.
    let res = download(&app, "/api/orders/999999/invoice/download/", &token).await;
    assert_eq!(res.status(), 404);
    assert_eq!(download(&app, "/api/admin/orders/abc/invoice/", &admin).await.status(), 404);

    let _ = std::fs::remove_dir_all(&media);
}

#[tokio::test]
async fn an_issued_invoice_never_changes_and_renders_from_its_snapshot_before_the_worker_stores_it() {
    let media = media_dir();
    let app = seller(TestAppBuilder::new(), &media).spawn().await;
    let (customer, token) = UserBuilder::new("neha").email("neha@example.com").create_with_token(&app).await;
    let pkg =
        ProductBuilder::package("Ward Starter").price("11800.00").gst_rate("18").hsn_sac("998361").create(&app).await;
    let billing = BillingInput {
        name: Some("Neha Patil".into()),
        state_code: Some("27".into()),
        address: Some("Shivaji Nagar, Pune".into()),
        ..BillingInput::default()
    };
    let id =
        OrderBuilder::for_user(customer).item(ProductType::Package, pkg, 2).billing(billing).paid().create(&app).await;
    let path = format!("/api/orders/{id}/invoice/download/");

    // No worker: the request renders from the snapshot.
    assert!(stored_documents(&app).await.is_empty());
    let res = download(&app, &path, &token).await;
    assert_eq!(res.status(), 200);
    let first = res.bytes().await.unwrap();
    let text = pdf_text(&first);
    for expected in [
        "TAX INVOICE",
        "Neha Patil",
        "Maharashtra (27)",
        "Ward Starter",
        "998361",
        "IGST",
        "₹23,600.00",
        "Rupees Twenty Three Thousand Six Hundred Only",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
    assert!(!text.contains("CGST"), "inter-state: IGST only");

    // Later changes to the product, the customer and the billing columns do not reach it.
    sqlx::query("UPDATE package SET name = 'Renamed' WHERE id = $1").bind(pkg).execute(&app.pool).await.unwrap();
    sqlx::query("UPDATE users SET first_name = 'Changed', email = 'x@example.com' WHERE id = $1")
        .bind(customer)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE orders SET billing_name = 'Someone Else' WHERE id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let again = download(&app, &path, &token).await.bytes().await.unwrap();
    assert_eq!(again, first, "same snapshot, same bytes");

    // The worker's store gives the same bytes; a second run stores nothing new.
    let invoice_id = invoices::invoice_id(&mut app.pool.acquire().await.unwrap(), id).await.unwrap().unwrap();
    let stored = invoices::store(&app.pool, &media, None, invoice_id, chrono::Utc::now()).await.unwrap();
    assert!(matches!(stored, Stored::Recorded { .. }));
    let docs = stored_documents(&app).await;
    assert_eq!(std::fs::read(media.join(&docs[0].2)).unwrap(), first.to_vec());
    assert_eq!(
        invoices::store(&app.pool, &media, None, invoice_id, chrono::Utc::now()).await.unwrap(),
        Stored::AlreadyRecorded
    );
    assert_eq!(files_in(&media).len(), 1);
    // Billing edits are refused once numbered.
    let res = app
        .send(
            reqwest::Method::PATCH,
            &format!("/api/admin/orders/{id}/billing/"),
            &json!({"billing_name": "X"}),
            Some(&app.user_token("boss", "admin").await.1),
        )
        .await;
    assert_eq!(res.status(), 409);
    let _ = std::fs::remove_dir_all(&media);
}

#[tokio::test]
async fn a_crash_between_storing_and_recording_leaves_one_document_after_the_retry() {
    let media = media_dir();
    let app = seller(TestAppBuilder::new(), &media).spawn().await;
    let customer = UserBuilder::new("om").create(&app).await;
    let id = OrderBuilder::for_user(customer).line_at(ProductType::Package, 1, 1, "999.00").paid().create(&app).await;
    let invoice_id = invoices::invoice_id(&mut app.pool.acquire().await.unwrap(), id).await.unwrap().unwrap();

    // First attempt: rendered and stored, then the process dies before recording.
    let issued = invoices::load(&mut app.pool.acquire().await.unwrap(), invoice_id).await.unwrap().unwrap();
    let bytes = invoices::render_blocking(issued.document.clone()).await.unwrap();
    invoices::put(&media, None, &issued, bytes).await.unwrap();
    assert!(stored_documents(&app).await.is_empty());
    assert_eq!(files_in(&media).len(), 1);

    // The retry (the worker's job, run through a real worker) stores over the same key and records once.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let cfg = app.cfg.clone();
    let worker = tokio::spawn(async move {
        let options =
            worker::Options { queues: vec![common::jobs::Queue::Invoices], scheduler: false, dispatcher: true };
        worker::run(cfg, options, async {
            let _ = stopped.await;
        })
        .await
    });
    let docs = app
        .eventually(Duration::from_secs(15), || async {
            let d = stored_documents(&app).await;
            (!d.is_empty()).then_some(d)
        })
        .await
        .expect("recorded after the retry");
    let _ = stop.send(());
    let _ = worker.await;
    assert_eq!(docs.len(), 1);
    assert_eq!(files_in(&media).len(), 1, "one stored document");
    let _ = std::fs::remove_dir_all(&media);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_payments_get_twenty_consecutive_numbers_documents_and_emails_across_a_worker_restart() {
    let fake = FakeRazorpay::start().await;
    let smtp = SmtpServer::start().await;
    let media = media_dir();
    let app = seller(TestAppBuilder::new().razorpay(&fake), &media)
        .var("SMTP_URL", &smtp.url)
        .var("RATE_LIMITS_ENABLED", "false")
        .spawn()
        .await;
    let start_worker = |cfg: common::Config| {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            worker::run(cfg, worker::Options::all(), async {
                let _ = stopped.await;
            })
            .await
        });
        (stop, task)
    };
    let (stop, task) = start_worker(app.cfg.clone());

    let mut buyers = Vec::new();
    for n in 0..20 {
        let (_, token) = UserBuilder::new(&format!("buyer{n}"))
            .email(&format!("buyer{n}@example.com"))
            .create_with_token(&app)
            .await;
        let body = place(&app, &token).await;
        buyers.push((
            token,
            body["order_id"].as_i64().unwrap(),
            body["razorpay_order_id"].as_str().unwrap().to_string(),
        ));
    }
    let pay = |(token, id, rzp_order): (String, i64, String)| {
        let (app, fake) = (&app, &fake);
        async move {
            let payment = fake.capture_payment(&rzp_order, None);
            let res = app
                .post(
                    &format!("/api/orders/{id}/payment-success/"),
                    &callback(fake, &rzp_order, &payment),
                    Some(&token),
                )
                .await;
            assert_eq!(res.status(), 200);
        }
    };
    let (first, second) = buyers.split_at(10);
    futures::future::join_all(first.iter().cloned().map(pay)).await;
    // The worker stops in the middle and comes back.
    let _ = stop.send(());
    let _ = task.await;
    futures::future::join_all(second.iter().cloned().map(pay)).await;
    let (stop, task) = start_worker(app.cfg.clone());

    let docs = app
        .eventually(Duration::from_secs(45), || async {
            let d = stored_documents(&app).await;
            (d.len() >= 20).then_some(d)
        })
        .await
        .unwrap_or_else(|| panic!("20 documents expected"));
    assert_eq!(docs.len(), 20);
    let mut numbers: Vec<String> = docs.iter().map(|d| d.1.clone()).collect();
    numbers.sort();
    let fy = common::gst::FinancialYear::of(chrono::Utc::now()).label();
    let expected: Vec<String> = (1..=20).map(|n| format!("EC/{fy}/{n:05}")).collect();
    assert_eq!(numbers, expected, "consecutive, gap-free");
    assert_eq!(files_in(&media).len(), 20);

    let mail = app
        .eventually(Duration::from_secs(45), || async {
            let m: Vec<_> = smtp.messages().into_iter().filter(|m| m.data.contains("Invoice-EC-")).collect();
            (m.len() >= 20).then_some(m)
        })
        .await
        .unwrap_or_else(|| panic!("20 payment emails expected"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again: Vec<_> = smtp.messages().into_iter().filter(|m| m.data.contains("Invoice-EC-")).collect();
    assert_eq!(again.len(), 20, "each sent once");
    let mut recipients: Vec<String> = mail.iter().flat_map(|m| m.to.clone()).collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), 20);
    let _ = stop.send(());
    let _ = task.await;
    let _ = std::fs::remove_dir_all(&media);
}

#[tokio::test]
async fn an_order_paid_before_this_release_gets_a_snapshot_with_its_old_number_on_first_download() {
    let media = media_dir();
    let app = seller(TestAppBuilder::new(), &media).spawn().await;
    let (customer, token) = UserBuilder::new("old").create_with_token(&app).await;
    let id = LegacyOrderBuilder::for_user(customer)
        .status(OrderStatus::Completed)
        .payment_status(PaymentStatus::Paid)
        .line(ProductType::Package, 1, 1, "4999.00")
        .create(&app)
        .await;
    sqlx::query(
        "INSERT INTO payment_history (order_id, payment_method, transaction_id, amount, currency, status, payment_date,
                                      invoice_number, metadata)
         VALUES ($1, 'Razorpay', 'pay_OLD123', 4999, 'INR', 'completed', '2025-11-03T09:00:00Z', 'INV-20251103-AB12CD34', '{}')",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
    let res = download(&app, &format!("/api/orders/{id}/invoice/download/"), &token).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"Invoice-INV-20251103-AB12CD34-20251103.pdf\""
    );
    let text = pdf_text(&res.bytes().await.unwrap());
    assert!(text.contains("INV-20251103-AB12CD34"));
    assert!(text.contains("INVOICE") && !text.contains("TAX INVOICE"), "{text}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM invoice WHERE order_id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    let _ = std::fs::remove_dir_all(&media);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_refund_issues_a_credit_note_reversing_each_line_in_proportion() {
    let smtp = SmtpServer::start().await;
    let media = media_dir();
    let app = seller(TestAppBuilder::new(), &media).var("SMTP_URL", &smtp.url).with_worker().spawn().await;
    let (customer, token) = UserBuilder::new("meena").email("meena@example.com").create_with_token(&app).await;
    let (admin_id, admin) = app.user_token("boss", "admin").await;
    let a = ProductBuilder::package("Banners").price("1180.00").gst_rate("18").hsn_sac("998361").create(&app).await;
    let b = ProductBuilder::campaign("Rally").price("590.00").gst_rate("18").hsn_sac("998596").create(&app).await;
    let id = OrderBuilder::for_user(customer)
        .item(ProductType::Package, a, 1)
        .item(ProductType::Campaign, b, 2)
        .paid()
        .by(admin_id)
        .create(&app)
        .await;
    let invoice_number: String = sqlx::query_scalar("SELECT invoice_number FROM orders WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();

    let res = app
        .post(
            &format!("/api/admin/orders/{id}/refund/"),
            &json!({"amount": "1180.00", "method": "manual", "reason": "half"}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), 201);
    let detail: Value = app.get(&format!("/api/admin/orders/{id}/"), Some(&admin)).await.json().await.unwrap();
    let notes = detail["credit_notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1);
    let fy = common::gst::FinancialYear::of(chrono::Utc::now()).label();
    assert_eq!(notes[0]["number"], format!("CN/{fy}/00001"));
    assert_eq!(notes[0]["amount"], "1180.00");
    let url = notes[0]["url"].as_str().unwrap().to_string();

    // Its lines: half of each line, taxable and tax reversed in proportion, summing to the refund.
    let snapshot: Value =
        sqlx::query_scalar("SELECT snapshot FROM invoice WHERE kind = 'credit_note' AND order_id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let lines = snapshot["lines"].as_array().unwrap();
    let totals: Vec<i64> = lines.iter().map(|l| l["total"].as_i64().unwrap()).collect();
    assert_eq!(totals, vec![59_000, 59_000]);
    assert_eq!(totals.iter().sum::<i64>(), 118_000);
    assert_eq!(lines[0]["taxable"], 50_000);
    assert_eq!(lines[0]["cgst"].as_i64().unwrap() + lines[0]["sgst"].as_i64().unwrap(), 9_000);
    assert_eq!(snapshot["kind"]["original_number"], invoice_number.as_str());

    // Downloadable by the desk and the owner; the text says what it is.
    let res = download(&app, &url, &admin).await;
    assert_eq!(res.status(), 200);
    let disposition = res.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(disposition.starts_with(&format!("attachment; filename=\"CreditNote-CN-{fy}-00001-")), "{disposition}");
    let text = pdf_text(&res.bytes().await.unwrap());
    assert!(text.contains("CREDIT NOTE") && text.contains(&invoice_number) && text.contains("₹1,180.00"), "{text}");
    let note_id = url.trim_end_matches('/').rsplit('/').next().unwrap();
    assert_eq!(
        download(&app, &format!("/api/orders/{id}/credit-notes/{note_id}/download/"), &token).await.status(),
        200
    );
    let (_, other) = app.user_token("ravi", "user").await;
    assert_eq!(
        download(&app, &format!("/api/orders/{id}/credit-notes/{note_id}/download/"), &other).await.status(),
        403
    );

    // The refund email carries it.
    let mail = app
        .eventually(Duration::from_secs(15), || async {
            smtp.messages().into_iter().find(|m| m.data.contains("CreditNote-CN-"))
        })
        .await
        .expect("refund email with the credit note");
    assert_eq!(mail.to, vec!["meena@example.com".to_string()]);

    // A second refund for the rest: the second number of the series.
    let res = app.post(&format!("/api/admin/orders/{id}/refund/"), &json!({"method": "manual"}), Some(&admin)).await;
    assert_eq!(res.status(), 201);
    let numbers: Vec<String> = sqlx::query_scalar("SELECT number FROM invoice WHERE kind = 'credit_note' ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(numbers, vec![format!("CN/{fy}/00001"), format!("CN/{fy}/00002")]);
    let _ = std::fs::remove_dir_all(&media);
}

#[tokio::test]
async fn a_refund_of_a_payment_that_never_had_an_invoice_gets_no_credit_note() {
    let media = media_dir();
    let app = seller(TestAppBuilder::new(), &media).spawn().await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let customer = UserBuilder::new("nopay").create(&app).await;
    // Cancelled before payment; money taken offline by mistake and given back.
    let id = OrderBuilder::for_user(customer)
        .line_at(ProductType::Package, 1, 1, "500.00")
        .status(OrderStatus::Cancelled)
        .create(&app)
        .await;
    PaymentBuilder::for_order(id).amount("200.00").method(PaymentMethod::Cash).create(&app).await;
    let res = app.post(&format!("/api/admin/orders/{id}/refund/"), &json!({"method": "manual"}), Some(&admin)).await;
    assert_eq!(res.status(), 201);
    let notes: i64 = sqlx::query_scalar("SELECT count(*) FROM invoice").fetch_one(&app.pool).await.unwrap();
    assert_eq!(notes, 0);
    let detail: Value = app.get(&format!("/api/admin/orders/{id}/"), Some(&admin)).await.json().await.unwrap();
    assert_eq!(detail["credit_notes"], json!([]));
    let _ = std::fs::remove_dir_all(&media);
}

/// `InvoiceSettings` follows the configuration.
#[tokio::test]
async fn settings_come_from_the_configuration() {
    let media = media_dir();
    let app = seller(TestAppBuilder::new(), &media).var("CREDIT_NOTE_PREFIX", "CR").spawn().await;
    let s = InvoiceSettings::of(&app.cfg);
    assert_eq!((s.invoice_prefix, s.credit_note_prefix, s.seller_gstin), ("EC", "CR", Some(GSTIN)));
}

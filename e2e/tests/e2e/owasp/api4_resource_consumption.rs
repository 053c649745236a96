//! OWASP API4:2023 Unrestricted Resource Consumption. Every documented operation with a JSON
//! body refuses a body over `MAX_BODY_BYTES` with 413 (read as admin, so no guard stops it
//! first), the upload routes refuse over-limit files with 413 and files that are not what they
//! claim with 400, no list answers more than 20 rows whatever `page_size`/`limit` asks, bad
//! pages are the DRF 404, and order creation is limited per user (429 + `Retry-After`, the
//! other users unaffected). The login/sign-up/reset limits are in `api6_sensitive_flows` and
//! `rate_limits.rs`.

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use super::{World, answer, call_with, document, operations};
use e2e::TestAppBuilder;
use e2e::builders::ProductBuilder;
use e2e::fixtures::png;

const TOO_LARGE: &str = "Request body is too large.";

/// The §1 or §9 shape of a 413.
fn is_too_large(body: &Value) -> bool {
    *body == json!({"detail": TOO_LARGE}) || body["error"]["code"] == "payload_too_large"
}

#[tokio::test]
async fn owasp_api4_every_json_body_over_the_limit_is_413() {
    let app = TestAppBuilder::new().var("MAX_BODY_BYTES", "4096").spawn().await;
    let world = World::new(&app).await;
    let big = json!({"padding": "x".repeat(16 * 1024)});
    let mut checked = 0;
    // Allow-list: a route whose document says its body is ignored never reads it.
    let reads_body = |o: &super::Op| !o.spec["requestBody"]["description"].as_str().unwrap_or("").contains("ignored");
    for op in operations(&document(&app).await).into_iter().filter(|o| o.json_body() && reads_body(o)) {
        let path = world.fill(&op.path);
        let (status, body) = answer(call_with(&app, &op.method, &path, Some(&world.admin.token), &big).await).await;
        assert_eq!(status, 413, "{} ({path}): {body}", op.key());
        assert!(is_too_large(&body), "{} ({path}): {body}", op.key());
        checked += 1;
    }
    assert!(checked > 30, "{checked}");
    // The webhook reads its raw body under the same limit.
    let res = app
        .client
        .post(app.url("/api/orders/razorpay/webhook/"))
        .header("content-type", "application/json")
        .body(vec![b' '; 16 * 1024])
        .send()
        .await
        .unwrap();
    assert!(matches!(res.status().as_u16(), 404 | 413), "{}", res.status());
}

async fn multipart(app: &e2e::TestApp, path: &str, token: &str, form: Form) -> (u16, Value) {
    answer(app.post_multipart(path, form, Some(token)).await).await
}

#[tokio::test]
async fn owasp_api4_uploads_are_bounded_in_size_and_kind() {
    let app = TestAppBuilder::new().spawn().await;
    let world = World::new(&app).await;
    let six_mb = vec![0u8; 6 * 1024 * 1024];
    let admin = world.admin.token.as_str();
    let images = format!("/api/admin/products/package/{}/images/", world.package);

    // Over the size limits: product image (5 MB), payment proof, the customer's forms.
    let form = Form::new().part("image", Part::bytes(six_mb.clone()).file_name("big.png"));
    let (status, body) = multipart(&app, &images, admin, form).await;
    assert!(status == 413 || (status == 400 && body["image"].is_array()), "image 6 MB: {status} {body}");
    let records = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM payment_record").fetch_one(&app.pool).await.unwrap()
    };
    let before = records().await;
    let form = Form::new()
        .text("amount", "1.00")
        .text("payment_method", "cash")
        .part("payment_proof", Part::bytes(vec![0u8; 12 * 1024 * 1024]).file_name("p.pdf"));
    let path = format!("/api/admin/orders/{}/record-payment/", world.order.id);
    let (status, body) = multipart(&app, &path, admin, form).await;
    assert!(status == 413 || status == 400, "proof 12 MB: {status} {body}");
    for path in ["submit-resources", "upload-resources"] {
        let form = Form::new()
            .text("order_item_id", world.order.item_ids[0].to_string())
            .part(format!("field_{}", world.field), Part::bytes(vec![0u8; 30 * 1024 * 1024]).file_name("a.png"))
            .part("candidate_photo", Part::bytes(six_mb.clone()).file_name("a.png"));
        let path = format!("/api/orders/{}/{path}/", world.order.id);
        let (status, body) = multipart(&app, &path, &world.alice.token, form).await;
        assert!(status == 413 || status == 400, "{path} 36 MB: {status} {body}");
    }
    assert_eq!(records().await, before, "no payment recorded");

    // Not what they claim: an executable named .png, a script, a decompression bomb header.
    for (name, bytes) in [
        ("x.png", b"MZ\x90\x00\x03\x00\x00\x00".repeat(64)),
        ("x.png", b"\x7fELF\x02\x01\x01".repeat(64)),
        ("x.gif", b"<script>alert(1)</script>".repeat(16)),
        ("x.exe", png(4, 4)),
    ] {
        let form = Form::new().part("image", Part::bytes(bytes).file_name(name));
        let (status, body) = multipart(&app, &images, admin, form).await;
        assert_eq!(status, 400, "{name}: {body}");
        assert!(body["image"].is_array(), "{name}: {body}");
    }
    let images: i64 = sqlx::query_scalar("SELECT count(*) FROM product_image").fetch_one(&app.pool).await.unwrap();
    assert_eq!(images, 1, "nothing stored but the world's image");
}

#[tokio::test]
async fn owasp_api4_page_sizes_are_capped_and_bad_pages_are_404() {
    let app = TestAppBuilder::new().spawn().await;
    let world = World::new(&app).await;
    for i in 0..25 {
        ProductBuilder::package(&format!("Bulk {i}")).create(&app).await;
    }
    for q in ["page_size=100000", "page_size=100000&page=1", "limit=100000&page=1", "per_page=100000&page=1"] {
        let body: Value = app.get(&format!("/api/packages/?{q}"), None).await.json().await.unwrap();
        assert_eq!(body["results"].as_array().unwrap().len(), 20, "{q}");
        assert_eq!(body["count"], 26, "{q}");
    }
    let admin = Some(world.admin.token.as_str());
    let body: Value = app.get("/api/admin/products/?page_size=100000", admin).await.json().await.unwrap();
    assert!(body.is_array(), "the unpaged admin list (§4.9)");
    for q in ["page=0", "page=-1", "page=abc", "page=99999999999999999999", "page=1000"] {
        let (status, body) = answer(app.get(&format!("/api/packages/?{q}"), None).await).await;
        assert_eq!((status, body), (404, json!({"detail": "Invalid page."})), "{q}");
    }
    for (path, q) in [
        ("/api/admin/analytics/top-products/", "limit=100000"),
        ("/api/admin/analytics/revenue-trend/", "months=100000"),
    ] {
        let res = app.get(&format!("{path}?{q}"), admin).await;
        assert_eq!(res.status(), 400, "{path}?{q}");
    }
}

#[tokio::test]
async fn owasp_api4_order_creation_is_limited_per_user() {
    let app = TestAppBuilder::new().spawn().await;
    let world = World::new(&app).await;
    let bob = Some(world.bob.token.as_str());
    for i in 0..10 {
        let res = call_with(&app, &Method::POST, "/api/orders/create/", bob, &json!({})).await;
        assert_ne!(res.status(), 429, "attempt {}", i + 1);
    }
    let res = call_with(&app, &Method::POST, "/api/orders/create/", bob, &json!({})).await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"error": "Too many requests. Please try again later.", "detail": "Rate limit exceeded"})
    );
    let res = call_with(&app, &Method::POST, "/api/orders/create/", Some(&world.alice.token), &json!({})).await;
    assert_ne!(res.status(), 429, "another user has their own budget");
}

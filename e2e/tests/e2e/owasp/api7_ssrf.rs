//! OWASP API7:2023 Server Side Request Forgery. The service fetches nothing a client names: the
//! document's request bodies have no URL-typed or URL-named field outside the allow-list (file
//! parts of uploads), and URLs of a local listener put into every URL-ish property a client
//! could try (images, proofs, avatars, callbacks, redirect targets, a `jku` token header, the
//! `Host`/`X-Forwarded-Host` of a password reset) reach no one: the listener receives no
//! connection, with the workers running, and the reset email links to `PASSWORD_RESET_URL` only.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::{World, call_with, document, operations};
use e2e::TestAppBuilder;
use e2e::builders::UserBuilder;
use e2e::smtp::SmtpServer;

/// Request properties that carry files, not URLs: the allow-list, with the route.
const FILE_PARTS: &[(&str, &str)] = &[
    ("/api/admin/orders/{id}/record-payment/", "payment_proof"),
    ("/api/admin/products/{type}/{id}/images/", "image"),
    ("/api/orders/{id}/upload-resources/", "candidate_photo"),
    ("/api/orders/{id}/upload-resources/", "party_logo"),
];

/// Property names of a schema (references resolved), nested ones as `a.b`.
fn properties(doc: &Value, schema: &Value, depth: usize, out: &mut Vec<(String, Value)>) {
    if depth > 6 {
        return;
    }
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        return properties(doc, &doc["components"]["schemas"][name], depth + 1, out);
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for s in schema[key].as_array().into_iter().flatten() {
            properties(doc, s, depth + 1, out);
        }
    }
    properties_of_items(doc, &schema["items"], depth, out);
    for (name, s) in schema["properties"].as_object().into_iter().flatten() {
        out.push((name.clone(), s.clone()));
        let mut nested = Vec::new();
        properties(doc, s, depth + 1, &mut nested);
        out.extend(nested.into_iter().map(|(n, s)| (format!("{name}.{n}"), s)));
    }
}

fn properties_of_items(doc: &Value, items: &Value, depth: usize, out: &mut Vec<(String, Value)>) {
    if items.is_object() {
        properties(doc, items, depth + 1, out);
    }
}

#[tokio::test]
async fn owasp_api7_no_request_body_takes_a_url() {
    let app = TestAppBuilder::new().spawn().await;
    let doc = document(&app).await;
    let url_ish = |name: &str| {
        let name = name.to_lowercase();
        [
            "url", "uri", "link", "href", "src", "callback", "webhook", "host", "domain", "redirect", "endpoint",
            "avatar", "logo", "photo", "image", "proof", "file",
        ]
        .iter()
        .any(|w| name.contains(w))
    };
    let mut found = Vec::new();
    for op in operations(&doc) {
        for (_, content) in op.spec["requestBody"]["content"].as_object().into_iter().flatten() {
            let mut props = Vec::new();
            properties(&doc, &content["schema"], 0, &mut props);
            for (name, schema) in props {
                let leaf = name.rsplit('.').next().unwrap().to_string();
                let uri_format = matches!(schema["format"].as_str(), Some("uri" | "url" | "uri-reference"));
                // Ids and sizes named after files are not URLs.
                let numeric = leaf.ends_with("_ids") || leaf.ends_with("_mb") || schema["type"] == "integer";
                if (url_ish(&leaf) && !numeric) || uri_format {
                    found.push((op.path.clone(), leaf));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    for (path, field) in &found {
        assert!(
            FILE_PARTS.iter().any(|(p, f)| p == path && f == field),
            "{path} takes `{field}`: if it is a URL the server must never fetch it; classify it in api7_ssrf"
        );
    }
    assert!(!found.is_empty(), "the upload parts are found");
}

/// A TCP listener that counts connections.
async fn listener() -> (String, Arc<AtomicUsize>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((_sock, _)) = l.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (url, hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owasp_api7_urls_in_bodies_and_headers_are_never_fetched() {
    let smtp = SmtpServer::start().await;
    let app = TestAppBuilder::new()
        .var("SMTP_URL", &smtp.url)
        .var("PASSWORD_RESET_URL", "https://shop.example/reset?token={token}")
        .with_worker()
        .spawn()
        .await;
    let world = World::new(&app).await;
    let (base, hits) = listener().await;
    let url = |p: &str| format!("{base}/{p}");
    let urls = json!({
        "url": url("url"), "image": url("image.png"), "image_url": url("image-url.png"),
        "thumbnail": url("t.png"), "avatar": url("a.png"), "photo_url": url("p.png"),
        "callback_url": url("cb"), "webhook_url": url("wh"), "redirect_url": url("r"),
        "next": url("next"), "logo": url("logo.png"), "payment_proof": url("proof.pdf"),
        "candidate_photo": url("c.png"), "party_logo": url("l.png"), "file": url("f.pdf"),
    });
    let merge = |body: Value| {
        let mut out = urls.clone();
        for (k, v) in body.as_object().unwrap() {
            out[k.as_str()] = v.clone();
        }
        out
    };
    let admin = Some(world.admin.token.as_str());
    let order = world.order.id;
    let cases: Vec<(Method, String, Option<&str>, Value)> = vec![
        (Method::POST, "/api/auth/signup/".into(), None, json!({"username": "ssrf", "password": "pass-word-123"})),
        (
            Method::POST,
            "/api/cart/add/".into(),
            Some(&world.bob.token),
            json!({"item_type": "package", "item_id": world.package}),
        ),
        (
            Method::POST,
            format!("/api/admin/orders/{order}/record-payment/"),
            admin,
            json!({"amount": "1.00", "payment_method": "upi"}),
        ),
        (Method::PUT, format!("/api/admin/products/images/{}/", world.image), admin, json!({"alt_text": "x"})),
        (
            Method::POST,
            "/api/admin/products/package/".into(),
            admin,
            json!({"name": "SSRF Kit", "price": "10.00", "description": "d"}),
        ),
        (
            Method::POST,
            "/api/admin/orders/manual/".into(),
            admin,
            json!({
            "customer": {"name": "C", "phone": "9876500055"},
            "items": [{"product_type": "package", "product_id": world.package, "quantity": 1}],
            "order_source": "walk_in"}),
        ),
        (Method::POST, "/api/auth/password-reset/".into(), None, json!({"username": "ssrf"})),
    ];
    for (method, path, token, body) in cases {
        let res = call_with(&app, &method, &path, token, &merge(body)).await;
        assert!(res.status().as_u16() < 500, "{method} {path}: {}", res.status());
    }
    // A multipart submission whose "file" is a URL string.
    let form = reqwest::multipart::Form::new()
        .text("order_item_id", world.order.item_ids[0].to_string())
        .text(format!("field_{}", world.field), url("field.png"));
    let res =
        app.post_multipart(&format!("/api/orders/{order}/submit-resources/"), form, Some(&world.alice.token)).await;
    assert!(res.status().as_u16() < 500);
    // A token whose header names a key URL.
    let header = base64_json(&json!({"alg": "HS256", "jku": url("jwks.json"), "x5u": url("x5u.pem")}));
    let claims = base64_json(&json!({"user_id": world.admin.id, "role": "admin", "exp": 9_999_999_999_i64}));
    let res = app.get("/api/auth/me/", Some(&format!("{header}.{claims}.c2ln"))).await;
    assert_eq!(res.status(), 401);

    // A reset asked with a foreign Host: the link is PASSWORD_RESET_URL's.
    UserBuilder::new("hosty").email("hosty@example.com").create(&app).await;
    let res = app
        .client
        .post(app.url("/api/auth/password-reset/"))
        .header("host", base.trim_start_matches("http://"))
        .header("x-forwarded-host", base.trim_start_matches("http://"))
        .json(&json!({"email": "hosty@example.com", "redirect_url": url("reset")}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let mail = app
        .eventually(Duration::from_secs(10), || async {
            smtp.messages().into_iter().find(|m| m.to[0] == "hosty@example.com")
        })
        .await
        .expect("the reset email");
    let data = mail.data.replace("=\r\n", "");
    assert!(data.contains("https://shop.example/reset?token="), "the configured link");
    assert!(!data.contains(&base), "no link to the caller's host");

    // Give the workers time to act on anything queued.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the service connected to a URL a client gave");
}

fn base64_json(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

//! The customer's campaign material (issue 12, upload side): `POST /api/orders/{id}/upload-resources/`
//! and `POST /api/orders/{id}/submit-resources/` (API.md §4.5, §7.1, §7.4, §7.7, §7.9), the
//! media worker storing the files privately, and the staging clean-up.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use common::catalog::ProductType;
use common::catalog::resource_fields::{self, FieldSpec, FieldType};
use e2e::builders::{OrderBuilder, ProductBuilder, UserBuilder};
use e2e::cloudinary::FakeCloudinary;
use e2e::{TestApp, TestAppBuilder, spawn_app};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The memory test measures the whole process: the other tests of this module wait for it.
static MEMORY: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

const RATE_LIMITED: &str = "Too many requests. Please try again later.";

fn submit_path(order: i64) -> String {
    format!("/api/orders/{order}/submit-resources/")
}

fn upload_path(order: i64) -> String {
    format!("/api/orders/{order}/upload-resources/")
}

/// A resource field of a package (required unless `edit` says otherwise).
async fn field(app: &TestApp, package: i64, name: &str, ty: FieldType, edit: impl FnOnce(&mut FieldSpec)) -> i64 {
    let mut spec = e2e::fixtures::field_spec(name, ty);
    edit(&mut spec);
    resource_fields::create(&app.pool, ProductType::Package, package, &spec).await.unwrap().unwrap().id
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb([200, 30, 30]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    out
}

/// A PNG whose (valid) IHDR claims `w`×`h`, with no pixel data behind it.
fn png_header(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    out.extend(chunk(b"IEND", &[]));
    out
}

fn pdf(text: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% {text}\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n").into_bytes()
}

fn file(bytes: Vec<u8>, name: &str) -> Part {
    Part::bytes(bytes).file_name(name.to_string())
}

async fn body(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn staging_dir(app: &TestApp) -> PathBuf {
    app.cfg.media_dir.join(common::media::PRIVATE_STAGING_DIR)
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&app.pool).await.unwrap()
}

/// Nothing of a refused request: no submission, no legacy row, the line not done, no staged file.
async fn nothing_stored(app: &TestApp, item: i64) {
    assert_eq!(count(app, "SELECT count(*) FROM dynamic_resource_submission").await, 0);
    assert_eq!(count(app, "SELECT count(*) FROM order_resource").await, 0);
    let done: bool = sqlx::query_scalar("SELECT resources_uploaded FROM order_item WHERE id = $1")
        .bind(item)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!done, "the line is not marked done");
    assert_eq!(files_in(&staging_dir(app)), Vec::<String>::new(), "no staged file is left");
}

/// A customer with a phone of their own, a paid order (pending_resources) of one line of `package`.
async fn customer_order(app: &TestApp, username: &str, package: i64) -> (i64, String, i64, i64) {
    static PHONES: AtomicU64 = AtomicU64::new(9_000_000_000);
    let phone = PHONES.fetch_add(1, Ordering::Relaxed).to_string();
    let (user, token) = UserBuilder::new(username).phone(&phone).create_with_token(app).await;
    let order = OrderBuilder::for_user(user).item(ProductType::Package, package, 1).paid().build(app).await;
    (user, token, order.id, order.item_ids[0])
}

async fn stored_value(app: &TestApp, submission: i64) -> Option<String> {
    sqlx::query_scalar("SELECT file_value FROM dynamic_resource_submission WHERE id = $1")
        .bind(submission)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn submission_id(app: &TestApp, item: i64, field: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT id FROM dynamic_resource_submission WHERE order_item_id = $1 AND field_definition_id = $2",
    )
    .bind(item)
    .bind(field)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn submit_resources_saves_every_type_and_readies_the_order_once() {
    let _guard = MEMORY.read().await;
    let app = spawn_app().await;
    let admin1 = UserBuilder::new("boss").admin().create(&app).await;
    let admin2 = UserBuilder::new("chief").admin().create(&app).await;
    let staff = UserBuilder::new("ravi").staff().create(&app).await;
    let gold = ProductBuilder::package("Gold").create(&app).await;
    let silver = ProductBuilder::package("Silver").price("999.00").create(&app).await;
    let slogan = field(&app, gold, "Slogan", FieldType::Text, |s| s.max_length = Some(40)).await;
    let posters = field(&app, gold, "Posters", FieldType::Number, |s| {
        s.min_value = Some(1);
        s.max_value = Some(500)
    })
    .await;
    let phone = field(&app, gold, "Phone", FieldType::Phone, |_| {}).await;
    let date = field(&app, gold, "Rally date", FieldType::Date, |_| {}).await;
    let photo = field(&app, gold, "Photo", FieldType::Image, |_| {}).await;
    let manifesto = field(&app, gold, "Manifesto", FieldType::Document, |s| s.max_file_size_mb = Some(20)).await;
    let optional = field(&app, gold, "Notes", FieldType::Text, |s| s.is_required = false).await;

    let (buyer, token) = UserBuilder::new("buyer").phone("9876543210").create_with_token(&app).await;
    let order = OrderBuilder::for_user(buyer)
        .item(ProductType::Package, gold, 1)
        .item(ProductType::Package, silver, 2)
        .paid()
        .build(&app)
        .await;
    let (gold_item, silver_item) = (order.item_ids[0], order.item_ids[1]);

    let form = Form::new()
        .text("order_item_id", gold_item.to_string())
        .text(format!("field_{slogan}"), "Vote for progress")
        .text(format!("field_{posters}"), "250")
        .text(format!("field_{phone}"), "+91 98765 43210")
        .text(format!("field_{date}"), "2026-03-01")
        .part(format!("field_{photo}"), file(png(40, 30), "Me.JPEG"))
        .part(format!("field_{manifesto}"), file(pdf("manifesto"), "manifesto.pdf"))
        .text("field_999999", "ignored")
        .text("unrelated", "ignored");
    let res = app.post_multipart(&submit_path(order.id), form, Some(&token)).await;
    assert_eq!(
        body(res).await,
        (
            201,
            json!({
                "success": true,
                "message": "Resources submitted successfully",
                "submissions_count": 6,
                "order_status": "pending_resources",
                "all_resources_uploaded": false,
                "pending_items": [{"id": silver_item, "item_type": "package", "item_name": "Silver", "quantity": 2}],
            })
        )
    );
    type Row = (i64, Option<String>, Option<i32>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT field_definition_id, text_value, number_value, file_value FROM dynamic_resource_submission
         WHERE order_item_id = $1 ORDER BY field_definition_id",
    )
    .bind(gold_item)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 6, "the optional field left out is not saved: {rows:?}");
    assert!(rows.iter().all(|r| r.0 != optional));
    let value = |id: i64| rows.iter().find(|r| r.0 == id).unwrap().clone();
    assert_eq!(value(slogan).1.as_deref(), Some("Vote for progress"));
    assert_eq!(value(posters).2, Some(250));
    assert_eq!(value(phone).1.as_deref(), Some("+91 98765 43210"));
    assert_eq!(value(date).1.as_deref(), Some("2026-03-01"));
    // Files: random names in the private staging directory, the content's extension.
    let photo_key = value(photo).3.unwrap();
    let doc_key = value(manifesto).3.unwrap();
    assert!(photo_key.starts_with("private/staging/") && photo_key.ends_with(".png"), "{photo_key}");
    assert!(doc_key.starts_with("private/staging/") && doc_key.ends_with(".pdf"), "{doc_key}");
    assert!(!photo_key.contains("Me") && !doc_key.contains("manifesto"));
    assert_eq!(std::fs::read(app.cfg.media_dir.join(&doc_key)).unwrap(), pdf("manifesto"));
    assert_eq!(count(&app, "SELECT count(*) FROM job WHERE kind = 'store_resource_file'").await, 2);
    assert_eq!(count(&app, "SELECT count(*) FROM notification").await, 0);
    // Private: nothing of it under /media/.
    for key in [&photo_key, &doc_key] {
        assert_eq!(app.get(&format!("/media/{key}"), None).await.status(), 404, "{key}");
    }

    // The second line has no fields: submitting it marks it done, and the order is ready.
    let form = Form::new().text("order_item_id", silver_item.to_string());
    let res = app.post_multipart(&submit_path(order.id), form, Some(&token)).await;
    assert_eq!(
        body(res).await,
        (
            201,
            json!({
                "success": true,
                "message": "Resources submitted successfully",
                "submissions_count": 0,
                "order_status": "ready_for_processing",
                "all_resources_uploaded": true,
                "pending_items": [],
            })
        )
    );
    let total: String = sqlx::query_scalar("SELECT total_amount::text FROM orders WHERE id = $1")
        .bind(order.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let message = format!("Order {} from 9876543210 is ready for processing. Total: ₹{total}", order.number);
    let notes = || async {
        sqlx::query_as::<_, (i64, String, String, String, Option<i64>)>(
            "SELECT user_id, notification_type, title, message, order_id FROM notification ORDER BY user_id, id",
        )
        .fetch_all(&app.pool)
        .await
        .unwrap()
    };
    let expected = |n: usize| {
        let mut out = Vec::new();
        for admin in [admin1, admin2] {
            for _ in 0..n {
                out.push((
                    admin,
                    "new_order".to_string(),
                    "New Order Ready for Processing".to_string(),
                    message.clone(),
                    Some(order.id),
                ));
            }
        }
        out
    };
    assert_eq!(notes().await, expected(1), "every admin once, no one else (staff {staff})");
    let history: Vec<(String, String, Option<i64>, bool)> = sqlx::query_as(
        "SELECT old_status, new_status, changed_by_id, is_manual_change FROM order_status_history
         WHERE order_id = $1 AND new_status = 'ready_for_processing'",
    )
    .bind(order.id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(history, vec![("pending_resources".into(), "ready_for_processing".into(), Some(buyer), false)]);

    // A later submission (replacing values) keeps the status, writes no history, and notifies
    // the admins again (§7.1).
    let form = Form::new()
        .text("order_item_id", gold_item.to_string())
        .text(format!("field_{slogan}"), "A better tomorrow")
        .text(format!("field_{posters}"), "300")
        .text(format!("field_{phone}"), "9876543210")
        .text(format!("field_{date}"), "2026-03-02")
        .text(format!("field_{optional}"), "  bring flags  ")
        .part(format!("field_{photo}"), file(png(10, 10), "me.png"))
        .part(format!("field_{manifesto}"), file(pdf("v2"), "v2.PDF"));
    let res = app.post_multipart(&submit_path(order.id), form, Some(&token)).await;
    let (status, answer) = body(res).await;
    assert_eq!(
        (status, answer["submissions_count"].clone(), answer["order_status"].clone()),
        (201, json!(7), json!("ready_for_processing"))
    );
    assert_eq!(count(&app, "SELECT count(*) FROM dynamic_resource_submission").await, 7);
    let text: String = sqlx::query_scalar(
        "SELECT text_value FROM dynamic_resource_submission WHERE order_item_id = $1 AND field_definition_id = $2",
    )
    .bind(gold_item)
    .bind(optional)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(text, "bring flags");
    assert_eq!(notes().await, expected(2));
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM order_status_history WHERE order_id = {} AND new_status = 'ready_for_processing'",
                order.id
            )
        )
        .await,
        1
    );
    // The two replaced files are to be deleted by the worker.
    let keys: Vec<Value> = sqlx::query_scalar("SELECT payload->'keys' FROM job WHERE kind = 'delete_private_files'")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    let mut keys: Vec<String> =
        keys.iter().flat_map(|k| k.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string())).collect();
    keys.sort();
    let mut old = vec![photo_key.clone(), doc_key.clone()];
    old.sort();
    assert_eq!(keys, old);
}

#[tokio::test]
async fn submit_resources_answers_every_rule_of_7_4_and_saves_nothing() {
    let _guard = MEMORY.read().await;
    let app = spawn_app().await;
    let gold = ProductBuilder::package("Gold").create(&app).await;
    let slogan = field(&app, gold, "Slogan", FieldType::Text, |s| s.max_length = Some(5)).await;
    let required = field(&app, gold, "Candidate name", FieldType::Text, |_| {}).await;
    let posters = field(&app, gold, "Posters", FieldType::Number, |s| {
        s.min_value = Some(1);
        s.max_value = Some(10)
    })
    .await;
    let banners = field(&app, gold, "Banners", FieldType::Number, |s| s.min_value = Some(1)).await;
    let flags = field(&app, gold, "Flags", FieldType::Number, |s| s.max_value = Some(10)).await;
    let photo = field(&app, gold, "Photo", FieldType::Image, |_| {}).await;
    let logo = field(&app, gold, "Logo", FieldType::Image, |_| {}).await;
    let manifesto = field(&app, gold, "Manifesto", FieldType::Document, |_| {}).await;
    let sheet = field(&app, gold, "Sheet", FieldType::Document, |s| s.allowed_extensions = vec![".txt".into()]).await;
    let (_, token, order, item) = customer_order(&app, "buyer", gold).await;

    let form = Form::new()
        .text("order_item_id", item.to_string())
        .text(format!("field_{slogan}"), "too long")
        .text(format!("field_{posters}"), "many")
        .text(format!("field_{banners}"), "0")
        .text(format!("field_{flags}"), "11")
        .text(format!("field_{photo}"), "not a file")
        .part(format!("field_{logo}"), file(png(4, 4), "logo.bmp"))
        .part(format!("field_{manifesto}"), file(pdf("x"), "manifesto.exe"))
        .part(format!("field_{sheet}"), file(b"hello".to_vec(), "notes.pdf"));
    let res = app.post_multipart(&submit_path(order), form, Some(&token)).await;
    assert_eq!(
        body(res).await,
        (
            400,
            json!({
                "success": false,
                "errors": {
                    format!("field_{slogan}"): "Slogan exceeds maximum length of 5",
                    format!("field_{required}"): "Candidate name is required",
                    format!("field_{posters}"): "Posters must be a valid number",
                    format!("field_{banners}"): "Banners must be at least 1",
                    format!("field_{flags}"): "Flags must be at most 10",
                    format!("field_{photo}"): "Photo must be a file",
                    format!("field_{logo}"): "Logo must be one of: .jpg, .jpeg, .png, .gif",
                    format!("field_{manifesto}"): "Manifesto must be one of: .pdf, .docx, .doc",
                    format!("field_{sheet}"): "Sheet must be one of: .txt",
                },
            })
        )
    );
    nothing_stored(&app, item).await;

    // An image over its field's limit (10 MB by default; here the field says 1 MB): cut off
    // while streaming, with the field's message.
    let small = field(&app, gold, "Thumb", FieldType::Image, |s| {
        s.max_file_size_mb = Some(1);
        s.is_required = false
    })
    .await;
    let mut big = png(2, 2);
    big.resize(1024 * 1024 + 1, 0);
    let form = Form::new().text("order_item_id", item.to_string()).part(format!("field_{small}"), file(big, "big.png"));
    let res = app.post_multipart(&submit_path(order), form, Some(&token)).await;
    let (status, answer) = body(res).await;
    assert_eq!(status, 400);
    assert_eq!(answer["errors"][format!("field_{small}")], "Thumb exceeds maximum size of 1MB");
    assert_eq!(answer["errors"][format!("field_{required}")], "Candidate name is required", "every field is reported");
    nothing_stored(&app, item).await;

    // A document over the default 10 MB.
    let mut big = pdf("big");
    big.resize(10 * 1024 * 1024 + 1, b' ');
    let form =
        Form::new().text("order_item_id", item.to_string()).part(format!("field_{manifesto}"), file(big, "big.pdf"));
    let res = app.post_multipart(&submit_path(order), form, Some(&token)).await;
    let (status, answer) = body(res).await;
    assert_eq!(status, 400);
    assert_eq!(answer["errors"][format!("field_{manifesto}")], "Manifesto exceeds maximum size of 10MB");
    nothing_stored(&app, item).await;

    // order_item_id: missing, or not a line of this order.
    let res = app.post_multipart(&submit_path(order), Form::new().text("x", "y"), Some(&token)).await;
    assert_eq!(body(res).await, (400, json!({"error": "order_item_id is required"})));
    let (_, _, _, other_item) = customer_order(&app, "someone", gold).await;
    for id in [other_item.to_string(), "abc".to_string()] {
        let res = app.post_multipart(&submit_path(order), Form::new().text("order_item_id", id), Some(&token)).await;
        assert_eq!(body(res).await, (404, json!({"error": "Order item not found or does not belong to this order"})));
    }
    // More than the line's fields allow in all: 413, before anything is kept.
    let plain = ProductBuilder::package("Plain").create(&app).await;
    field(&app, plain, "Motto", FieldType::Text, |_| {}).await;
    let (_, plain_token, plain_order, plain_item) = customer_order(&app, "plain", plain).await;
    let form = Form::new()
        .text("order_item_id", plain_item.to_string())
        .part("junk", Part::bytes(vec![b'x'; 400 * 1024]).file_name("junk.bin"));
    let res = app.post_multipart(&submit_path(plain_order), form, Some(&plain_token)).await;
    assert_eq!(body(res).await, (413, json!({"detail": "Request body is too large."})));
    // Not multipart.
    let res = app.post(&submit_path(order), &json!({"order_item_id": item}), Some(&token)).await;
    assert_eq!(body(res).await, (415, json!({"detail": "Unsupported media type \"application/json\" in request."})));
    nothing_stored(&app, item).await;
}

/// A multipart body written by hand, to send file names no client library would.
fn raw_form(boundary: &str, item: i64, field: &str, file_name: &[u8], content: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"order_item_id\"\r\n\r\n{item}\r\n--{boundary}\r\n\
         Content-Disposition: form-data; name=\"{field}\"; filename=\""
    )
    .into_bytes();
    body.extend_from_slice(file_name);
    body.extend_from_slice(b"\"\r\nContent-Type: application/octet-stream\r\n\r\n");
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

#[tokio::test]
async fn dangerous_files_and_names_are_refused_and_leave_nothing() {
    let _guard = MEMORY.read().await;
    let app = spawn_app().await;
    let gold = ProductBuilder::package("Gold").create(&app).await;
    let photo = field(&app, gold, "Photo", FieldType::Image, |_| {}).await;
    let manifesto = field(&app, gold, "Manifesto", FieldType::Document, |s| s.is_required = false).await;
    let (_, token, order, item) = customer_order(&app, "buyer", gold).await;
    let photo_key = format!("field_{photo}");
    let doc_key = format!("field_{manifesto}");

    let mut polyglot = png(16, 16);
    polyglot.extend_from_slice(b"<script>alert(document.cookie)</script>");
    let mut late_polyglot = png(8, 8);
    late_polyglot.extend(std::iter::repeat_n(b' ', 20_000));
    late_polyglot.extend_from_slice(b"<?php system($_GET['c']); ?>");
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff".to_vec();
    exe.resize(4096, 0);
    let mut truncated = png(64, 64);
    truncated.truncate(60);
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (&photo_key, "poster.png", polyglot, "Photo contains content that is not allowed"),
        (&photo_key, "poster.png", late_polyglot, "Photo contains content that is not allowed"),
        (&photo_key, "bomb.png", png_header(30_000, 30_000), "Photo is too large: 900000000 pixels (at most 89478485)"),
        (&photo_key, "broken.png", truncated, "Photo must be a valid image (JPEG, PNG or GIF)"),
        (&photo_key, "text.jpg", b"just some text".to_vec(), "Photo must be a valid image (JPEG, PNG or GIF)"),
        (&photo_key, "empty.png", Vec::new(), "Photo is empty"),
        (&photo_key, "../../etc/passwd.png", png(4, 4), "Photo has an invalid file name"),
        (&photo_key, "..\\..\\evil.png", png(4, 4), "Photo has an invalid file name"),
        (&doc_key, "manifesto.pdf", exe, "Manifesto contains content that is not allowed"),
        (&doc_key, "run.pdf", b"#!/bin/sh\nrm -rf /\n".to_vec(), "Manifesto contains content that is not allowed"),
        (
            &doc_key,
            "page.pdf",
            b"%PDF-1.4\n<html><SCRIPT>x()</SCRIPT>".to_vec(),
            "Manifesto contains content that is not allowed",
        ),
        (&doc_key, "fake.pdf", png(4, 4), "Manifesto content does not match its file extension"),
        (&doc_key, "fake.docx", pdf("x"), "Manifesto content does not match its file extension"),
        (&doc_key, "empty.pdf", Vec::new(), "Manifesto is empty"),
    ];
    for (key, name, bytes, message) in cases {
        let mut form = Form::new().percent_encode_noop().text("order_item_id", item.to_string());
        if key == doc_key {
            form = form.part(photo_key.clone(), file(png(4, 4), "fine.png"));
        }
        form = form.part(key.to_string(), file(bytes, name));
        let res = app.post_multipart(&submit_path(order), form, Some(&token)).await;
        assert_eq!(body(res).await, (400, json!({"success": false, "errors": {key: message}})), "{name}");
        nothing_stored(&app, item).await;
    }

    // CR, LF or NUL in a file name cannot even make a valid part header: a parse error, nothing kept.
    for name in [&b"evil\r\n.png"[..], b"evil\n.png", b"evil\r.png", b"ev\0il.png"] {
        let boundary = "XyZ0123456789";
        let raw = raw_form(boundary, item, &photo_key, name, &png(4, 4));
        let res = app
            .client
            .post(app.url(&submit_path(order)))
            .bearer_auth(&token)
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{:?}", String::from_utf8_lossy(name));
        nothing_stored(&app, item).await;
    }
    // The same hand-written body with a fine name is accepted (the test's body is well formed).
    let raw = raw_form("XyZ0123456789", item, &photo_key, b"fine.png", &png(4, 4));
    let res = app
        .client
        .post(app.url(&submit_path(order)))
        .bearer_auth(&token)
        .header("content-type", "multipart/form-data; boundary=XyZ0123456789")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_off_midway_leaves_nothing() {
    let _guard = MEMORY.read().await;
    let app = spawn_app().await;
    let gold = ProductBuilder::package("Gold").create(&app).await;
    let doc = field(&app, gold, "Doc", FieldType::Document, |s| s.max_file_size_mb = Some(20)).await;
    let (_, token, order, item) = customer_order(&app, "buyer", gold).await;
    let boundary = "cutBoundary42";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"order_item_id\"\r\n\r\n{item}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"field_{doc}\"; filename=\"a.pdf\"\r\n\r\n%PDF-1.4\n"
    );
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n{head}",
        submit_path(order),
        app.addr,
        10 * 1024 * 1024
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let filler = vec![b'%'; 64 * 1024];
    for _ in 0..32 {
        stream.write_all(&filler).await.unwrap();
    }
    // The file is being staged now: 2 MB of a promised 10 MB.
    let staged = app
        .eventually(Duration::from_secs(5), || async { (!files_in(&staging_dir(&app)).is_empty()).then_some(()) })
        .await;
    assert!(staged.is_some(), "the part is streamed to a staging file");
    drop(stream);
    let cleaned = app
        .eventually(Duration::from_secs(5), || async { files_in(&staging_dir(&app)).is_empty().then_some(()) })
        .await;
    assert!(cleaned.is_some(), "left behind: {:?}", files_in(&staging_dir(&app)));
    nothing_stored(&app, item).await;
}

#[tokio::test]
async fn orders_of_others_and_closed_orders_are_refused() {
    let _guard = MEMORY.read().await;
    let app = spawn_app().await;
    let gold = ProductBuilder::package("Gold").create(&app).await;
    let (_, owner_token, order, item) = customer_order(&app, "owner", gold).await;
    let (_, other_token) = UserBuilder::new("other").create_with_token(&app).await;
    for path in [submit_path(order), upload_path(order), submit_path(999_999), upload_path(999_999)] {
        let form = Form::new().text("order_item_id", item.to_string());
        let res = app.post_multipart(&path, form, Some(&other_token)).await;
        assert_eq!(body(res).await, (404, json!({"error": "Order not found"})), "{path}");
        let res = app.post_multipart(&path, Form::new().text("a", "b"), None).await;
        assert_eq!(
            body(res).await,
            (401, json!({"detail": "Authentication credentials were not provided."})),
            "{path}"
        );
    }
    let owner = sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE username = 'owner'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let unpaid = OrderBuilder::for_user(owner).item(ProductType::Package, gold, 1).build(&app).await;
    for path in [submit_path(unpaid.id), upload_path(unpaid.id)] {
        let form = Form::new().text("order_item_id", unpaid.item_ids[0].to_string());
        let res = app.post_multipart(&path, form, Some(&owner_token)).await;
        assert_eq!(
            body(res).await,
            (400, json!({"error": "Cannot upload resources for order with status: pending_payment"})),
            "{path}"
        );
    }
    nothing_stored(&app, item).await;
}

fn legacy_form(item: i64) -> Form {
    Form::new()
        .text("order_item_id", item.to_string())
        .part("candidate_photo", file(png(30, 40), "me.jpg"))
        .part("party_logo", file(png(20, 20), "logo.PNG"))
        .text("campaign_slogan", "Progress for all")
        .text("preferred_date", "2026-02-15")
        .text("whatsapp_number", "+91 98765 43210")
}

#[tokio::test]
async fn legacy_upload_resources_records_once_with_the_exact_bodies() {
    let _guard = MEMORY.read().await;
    let app = spawn_app().await;
    let boss = UserBuilder::new("boss").admin().create(&app).await;
    let gold = ProductBuilder::package("Gold").create(&app).await;
    let (_, token, order, item) = customer_order(&app, "buyer", gold).await;

    // Field errors in DRF's bare shape, nothing kept.
    let mut poly = png(8, 8);
    poly.extend_from_slice(b"<script>x</script>");
    let form = Form::new()
        .text("order_item_id", item.to_string())
        .part("candidate_photo", file(poly, "me.png"))
        .text("party_logo", "not a file")
        .text("campaign_slogan", "x".repeat(1001))
        .text("preferred_date", "15/02/2026")
        .text("whatsapp_number", "12345");
    let res = app.post_multipart(&upload_path(order), form, Some(&token)).await;
    assert_eq!(
        body(res).await,
        (
            400,
            json!({
                "candidate_photo": ["The file contains content that is not allowed."],
                "party_logo": ["The submitted data was not a file. Check the encoding type on the form."],
                "campaign_slogan": ["Ensure this field has no more than 1000 characters."],
                "preferred_date": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."],
                "whatsapp_number": ["Enter a valid WhatsApp number with at least 10 digits."],
            })
        )
    );
    nothing_stored(&app, item).await;
    let res = app
        .post_multipart(&upload_path(order), Form::new().text("order_item_id", item.to_string()), Some(&token))
        .await;
    assert_eq!(
        body(res).await,
        (
            400,
            json!({
                "candidate_photo": ["No file was submitted."],
                "party_logo": ["No file was submitted."],
                "campaign_slogan": ["This field is required."],
                "preferred_date": ["This field is required."],
                "whatsapp_number": ["This field is required."],
            })
        )
    );
    let form = legacy_form(item).part("party_logo", file(png_header(30_000, 30_000), "bomb.png"));
    let res = app.post_multipart(&upload_path(order), form, Some(&token)).await;
    assert_eq!(
        body(res).await,
        (400, json!({"party_logo": ["Image size (900000000 pixels) exceeds the limit of 89478485 pixels."]}))
    );
    let mut big = png(2, 2);
    big.resize(5 * 1024 * 1024 + 1, 0);
    let form = legacy_form(item).part("candidate_photo", file(big, "big.png"));
    let res = app.post_multipart(&upload_path(order), form, Some(&token)).await;
    assert_eq!(body(res).await, (400, json!({"candidate_photo": ["Image file too large. Maximum size is 5MB."]})));
    let res = app.post_multipart(&upload_path(order), Form::new().text("campaign_slogan", "x"), Some(&token)).await;
    assert_eq!(body(res).await, (400, json!({"order_item_id": ["This field is required."]})));
    let res = app.post_multipart(&upload_path(order), legacy_form(item + 1000), Some(&token)).await;
    assert_eq!(body(res).await, (404, json!({"error": "Order item not found or does not belong to this order"})));
    nothing_stored(&app, item).await;

    let res = app
        .post_multipart(&upload_path(order), legacy_form(item).text("additional_notes", "Call after 6"), Some(&token))
        .await;
    let (status, answer) = body(res).await;
    assert_eq!(status, 201, "{answer}");
    let id = answer["resource"]["id"].as_i64().unwrap();
    assert_eq!(
        answer,
        json!({
            "success": true,
            "message": "Resources uploaded successfully",
            "resource": {
                "id": id,
                "order_item": item,
                "candidate_photo": format!("/api/secure-files/orders/{order}/candidate_photo/"),
                "party_logo": format!("/api/secure-files/orders/{order}/party_logo/"),
                "campaign_slogan": "Progress for all",
                "preferred_date": "2026-02-15",
                "whatsapp_number": "+91 98765 43210",
                "additional_notes": "Call after 6",
                "uploaded_at": answer["resource"]["uploaded_at"],
            },
            "order_status": "ready_for_processing",
            "all_resources_uploaded": true,
            "pending_items": [],
        })
    );
    assert!(answer["resource"]["uploaded_at"].as_str().unwrap().ends_with("+05:30"));
    let (photo, logo): (String, String) =
        sqlx::query_as("SELECT candidate_photo, party_logo FROM order_resource WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(photo.starts_with("private/staging/") && photo.ends_with(".png"), "content decides: {photo}");
    assert!(logo.starts_with("private/staging/") && logo.ends_with(".png"), "{logo}");
    assert_eq!(count(&app, "SELECT count(*) FROM job WHERE kind = 'store_resource_file'").await, 2);
    let notes: Vec<(i64, String)> =
        sqlx::query_as("SELECT user_id, notification_type FROM notification").fetch_all(&app.pool).await.unwrap();
    assert_eq!(notes, vec![(boss, "new_order".to_string())]);

    // Once per line.
    let res = app.post_multipart(&upload_path(order), legacy_form(item), Some(&token)).await;
    assert_eq!(body(res).await, (400, json!({"error": "Resources already uploaded for this order item"})));
    assert_eq!(count(&app, "SELECT count(*) FROM order_resource").await, 1);
    assert_eq!(files_in(&staging_dir(&app)).len(), 2, "only the recorded upload's files are staged");

    // A second line's files are named with `?item=` (the bare path serves the first line's).
    let buyer = sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE username = 'buyer'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let silver = ProductBuilder::package("Silver").create(&app).await;
    let two = OrderBuilder::for_user(buyer)
        .item(ProductType::Package, gold, 1)
        .item(ProductType::Package, silver, 1)
        .paid()
        .build(&app)
        .await;
    let res = app.post_multipart(&upload_path(two.id), legacy_form(two.item_ids[0]), Some(&token)).await;
    let (status, first) = body(res).await;
    assert_eq!((status, first["order_status"].clone()), (201, json!("pending_resources")));
    assert_eq!(
        first["pending_items"],
        json!([{"id": two.item_ids[1], "item_type": "package", "item_name": "Silver", "quantity": 1}])
    );
    let res = app.post_multipart(&upload_path(two.id), legacy_form(two.item_ids[1]), Some(&token)).await;
    let (status, second) = body(res).await;
    assert_eq!(status, 201);
    assert_eq!(
        second["resource"]["party_logo"],
        format!("/api/secure-files/orders/{}/party_logo/?item={}", two.id, two.item_ids[1])
    );
    assert_eq!(
        (second["order_status"].clone(), second["all_resources_uploaded"].clone()),
        (json!("ready_for_processing"), json!(true))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_stores_files_under_private_resources_and_deletes_replaced_ones() {
    let _guard = MEMORY.read().await;
    let app = TestAppBuilder::new().with_worker().spawn().await;
    let gold = ProductBuilder::package("Gold").create(&app).await;
    let photo = field(&app, gold, "Photo", FieldType::Image, |_| {}).await;
    let manifesto = field(&app, gold, "Manifesto", FieldType::Document, |_| {}).await;
    let (_, token, order, item) = customer_order(&app, "buyer", gold).await;
    let form = Form::new()
        .text("order_item_id", item.to_string())
        .part(format!("field_{photo}"), file(png(12, 12), "me.gif"))
        .part(format!("field_{manifesto}"), file(pdf("one"), "m.pdf"));
    assert_eq!(app.post_multipart(&submit_path(order), form, Some(&token)).await.status(), 201);
    let photo_sub = submission_id(&app, item, photo).await;
    let doc_sub = submission_id(&app, item, manifesto).await;
    let stored = |sub: i64| {
        let app = &app;
        async move {
            app.eventually(Duration::from_secs(10), || async {
                stored_value(app, sub).await.filter(|v| v.starts_with("private/resources/"))
            })
            .await
            .expect("stored by the worker")
        }
    };
    let photo_key = stored(photo_sub).await;
    let doc_key = stored(doc_sub).await;
    assert!(photo_key.ends_with(".png") && doc_key.ends_with(".pdf"), "{photo_key} {doc_key}");
    assert_eq!(std::fs::read(app.cfg.media_dir.join(&doc_key)).unwrap(), pdf("one"));
    assert_eq!(std::fs::read(app.cfg.media_dir.join(&photo_key)).unwrap(), png(12, 12));
    assert!(
        app.eventually(Duration::from_secs(5), || async { files_in(&staging_dir(&app)).is_empty().then_some(()) })
            .await
            .is_some()
    );
    for key in [&photo_key, &doc_key] {
        assert_eq!(app.get(&format!("/media/{key}"), None).await.status(), 404, "{key}");
        let name = key.rsplit('/').next().unwrap();
        assert_eq!(app.get(&format!("/media/resources/{name}"), None).await.status(), 404);
    }
    // Only the secure-file route serves them, to the owner.
    let res = app.get(&format!("/api/secure-files/resources/{doc_sub}/"), Some(&token)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().to_vec(), pdf("one"));
    let (_, stranger) = UserBuilder::new("stranger").create_with_token(&app).await;
    assert_eq!(app.get(&format!("/api/secure-files/resources/{doc_sub}/"), Some(&stranger)).await.status(), 403);

    // Resubmitting the document replaces it; the worker stores the new one and deletes the old.
    let form = Form::new()
        .text("order_item_id", item.to_string())
        .part(format!("field_{photo}"), file(png(12, 12), "me.png"))
        .part(format!("field_{manifesto}"), file(pdf("two"), "m2.pdf"));
    assert_eq!(app.post_multipart(&submit_path(order), form, Some(&token)).await.status(), 201);
    assert_eq!(submission_id(&app, item, manifesto).await, doc_sub, "the value is replaced, not added");
    let new_doc = app
        .eventually(Duration::from_secs(10), || async {
            stored_value(&app, doc_sub).await.filter(|v| v.starts_with("private/resources/") && *v != doc_key)
        })
        .await
        .expect("the new document stored");
    assert_eq!(std::fs::read(app.cfg.media_dir.join(&new_doc)).unwrap(), pdf("two"));
    let idle = || async {
        app.eventually(Duration::from_secs(10), || async {
            (count(&app, "SELECT count(*) FROM job WHERE status <> 'done'").await == 0).then_some(())
        })
        .await
    };
    assert!(idle().await.is_some(), "every job done");
    assert!(!app.cfg.media_dir.join(&doc_key).exists() && !app.cfg.media_dir.join(&photo_key).exists());
    let resources = files_in(&app.cfg.media_dir.join(common::media::RESOURCES_DIR));
    assert_eq!(resources.len(), 2, "the new photo and document only: {resources:?}");
    assert!(files_in(&staging_dir(&app)).is_empty());

    // The legacy upload's images take the same way.
    let silver = ProductBuilder::package("Silver").create(&app).await;
    let (_, token2, order2, item2) = customer_order(&app, "buyer2", silver).await;
    assert_eq!(app.post_multipart(&upload_path(order2), legacy_form(item2), Some(&token2)).await.status(), 201);
    let both = app
        .eventually(Duration::from_secs(10), || async {
            let (p, l): (String, String) = sqlx::query_as("SELECT candidate_photo, party_logo FROM order_resource")
                .fetch_one(&app.pool)
                .await
                .unwrap();
            (p.starts_with("private/resources/") && l.starts_with("private/resources/")).then_some((p, l))
        })
        .await
        .expect("legacy images stored");
    assert_eq!(std::fs::read(app.cfg.media_dir.join(&both.0)).unwrap(), png(30, 40));
    assert!(idle().await.is_some(), "every job done");
    assert!(files_in(&staging_dir(&app)).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_go_to_cloudinary_as_authenticated_assets() {
    let _guard = MEMORY.read().await;
    let fake = FakeCloudinary::start("demo", "key", "secret").await;
    let app = TestAppBuilder::new()
        .var("CLOUDINARY_URL", "cloudinary://key:secret@demo")
        .var("CLOUDINARY_API_BASE", fake.base.clone())
        .with_worker()
        .spawn()
        .await;
    let gold = ProductBuilder::package("Gold").create(&app).await;
    let photo = field(&app, gold, "Photo", FieldType::Image, |_| {}).await;
    let manifesto = field(&app, gold, "Manifesto", FieldType::Document, |s| s.is_required = false).await;
    let (_, token, order, item) = customer_order(&app, "buyer", gold).await;
    let form = Form::new()
        .text("order_item_id", item.to_string())
        .part(format!("field_{photo}"), file(png(9, 9), "me.png"))
        .part(format!("field_{manifesto}"), file(pdf("cloud"), "m.pdf"));
    assert_eq!(app.post_multipart(&submit_path(order), form, Some(&token)).await.status(), 201);
    let photo_sub = submission_id(&app, item, photo).await;
    let doc_sub = submission_id(&app, item, manifesto).await;
    let cloud = |sub: i64| {
        let app = &app;
        async move {
            app.eventually(Duration::from_secs(10), || async {
                stored_value(app, sub).await.filter(|v| v.starts_with("cloudinary:"))
            })
            .await
            .expect("stored in Cloudinary")
        }
    };
    let photo_key = cloud(photo_sub).await;
    let doc_key = cloud(doc_sub).await;
    assert!(photo_key.starts_with("cloudinary:image/resources/") && photo_key.ends_with(".png"), "{photo_key}");
    assert!(doc_key.starts_with("cloudinary:raw/resources/") && doc_key.ends_with(".pdf"), "{doc_key}");
    let photo_id = photo_key.trim_start_matches("cloudinary:image/").trim_end_matches(".png").to_string();
    let doc_id = doc_key.trim_start_matches("cloudinary:raw/").to_string();
    let asset = fake.asset(&photo_id).expect("the photo asset");
    assert_eq!((asset.delivery_type.as_str(), asset.resource_type.as_str()), ("authenticated", "image"));
    assert_eq!(asset.bytes, png(9, 9));
    let asset = fake.asset(&doc_id).expect("the document asset");
    assert_eq!((asset.delivery_type.as_str(), asset.resource_type.as_str()), ("authenticated", "raw"));
    assert_eq!(asset.bytes, pdf("cloud"));
    assert!(
        app.eventually(Duration::from_secs(5), || async { files_in(&staging_dir(&app)).is_empty().then_some(()) })
            .await
            .is_some()
    );

    // Replacing the photo destroys the old asset (with invalidation); the document is kept.
    let form =
        Form::new().text("order_item_id", item.to_string()).part(format!("field_{photo}"), file(png(5, 5), "new.png"));
    assert_eq!(app.post_multipart(&submit_path(order), form, Some(&token)).await.status(), 201);
    let new_key = app
        .eventually(Duration::from_secs(10), || async {
            stored_value(&app, photo_sub).await.filter(|v| v.starts_with("cloudinary:") && *v != photo_key)
        })
        .await
        .expect("the new photo stored");
    let destroyed = app
        .eventually(Duration::from_secs(10), || async {
            fake.destroyed().contains(&(photo_id.clone(), true)).then_some(())
        })
        .await;
    assert!(destroyed.is_some(), "destroyed: {:?}", fake.destroyed());
    let new_id = new_key.trim_start_matches("cloudinary:image/").trim_end_matches(".png");
    let asset = fake.asset(new_id).unwrap();
    assert_eq!((asset.delivery_type.as_str(), asset.bytes.clone()), ("authenticated", png(5, 5)));
    assert!(fake.asset(&photo_id).is_none());
    assert_eq!(stored_value(&app, doc_sub).await, Some(doc_key.clone()));
    assert!(files_in(&staging_dir(&app)).is_empty());

    // Replacing the document destroys the old raw, authenticated asset too (the fake, like
    // Cloudinary, finds it only under `raw/destroy` with `type=authenticated`).
    let form = Form::new()
        .text("order_item_id", item.to_string())
        .part(format!("field_{photo}"), file(png(5, 5), "new.png"))
        .part(format!("field_{manifesto}"), file(pdf("second"), "m2.pdf"));
    assert_eq!(app.post_multipart(&submit_path(order), form, Some(&token)).await.status(), 201);
    let gone = app.eventually(Duration::from_secs(10), || async { fake.asset(&doc_id).is_none().then_some(()) }).await;
    assert!(gone.is_some(), "the old document asset is still there; destroyed: {:?}", fake.destroyed());
}

#[tokio::test]
async fn the_21st_upload_of_the_hour_is_429() {
    let _guard = MEMORY.read().await;
    let app = spawn_app().await;
    let gold = ProductBuilder::package("Gold").create(&app).await;
    let (_, token, order, item) = customer_order(&app, "buyer", gold).await;
    for i in 0..20 {
        // Both routes count against one bucket; refusals count too.
        let path = if i % 2 == 0 { submit_path(order) } else { upload_path(order) };
        let res = app.post_multipart(&path, Form::new().text("order_item_id", item.to_string()), Some(&token)).await;
        assert_ne!(res.status(), 429, "request {}", i + 1);
    }
    for path in [submit_path(order), upload_path(order)] {
        let res = app.post_multipart(&path, Form::new().text("order_item_id", item.to_string()), Some(&token)).await;
        assert_eq!(res.status(), 429);
        let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=3600).contains(&retry));
        assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": RATE_LIMITED, "detail": "Rate limit exceeded"}));
    }
    // Per user: another customer is not limited.
    let (_, other, other_order, other_item) = customer_order(&app, "other", gold).await;
    let form = Form::new().text("order_item_id", other_item.to_string());
    assert_eq!(app.post_multipart(&submit_path(other_order), form, Some(&other)).await.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prune_removes_old_unreferenced_staged_files_only() {
    let _guard = MEMORY.read().await;
    let app = TestAppBuilder::new().with_worker().spawn().await;
    let gold = ProductBuilder::package("Gold").create(&app).await;
    let doc = field(&app, gold, "Doc", FieldType::Document, |_| {}).await;
    let (_, _, _, item) = customer_order(&app, "buyer", gold).await;
    let dir = staging_dir(&app);
    std::fs::create_dir_all(&dir).unwrap();
    let old = SystemTime::now() - Duration::from_secs(25 * 3600);
    for name in ["orphan.pdf", "kept.pdf", "fresh.pdf"] {
        let f = std::fs::File::create(dir.join(name)).unwrap();
        if name != "fresh.pdf" {
            f.set_modified(old).unwrap();
        }
    }
    // A row still names `kept.pdf` (its store job has not run, or failed for good).
    sqlx::query(
        "INSERT INTO dynamic_resource_submission (order_item_id, field_definition_id, file_value)
         VALUES ($1, $2, 'private/staging/kept.pdf')",
    )
    .bind(item)
    .bind(doc)
    .execute(&app.pool)
    .await
    .unwrap();
    let mut tx = common::db::begin(&app.pool).await.unwrap();
    common::jobs::enqueue(&mut tx, &common::jobs::PruneExpired { keep_jobs_days: 14 }, None).await.unwrap();
    tx.commit().await.unwrap();
    let pruned =
        app.eventually(Duration::from_secs(10), || async { (!dir.join("orphan.pdf").exists()).then_some(()) }).await;
    assert!(pruned.is_some(), "the orphan is removed");
    assert!(dir.join("kept.pdf").exists() && dir.join("fresh.pdf").exists(), "{:?}", files_in(&dir));
}

// ---------------------------------------------------------------------------------------------
// Memory: ten 20 MB documents at once
// ---------------------------------------------------------------------------------------------

fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// POSTs a multipart form with one generated PDF of `size` bytes over a raw connection, writing
/// 64 KB at a time, so the test never holds the document; returns the status and body.
async fn post_streamed_pdf(
    app: &TestApp,
    path: &str,
    token: &str,
    item: i64,
    field: &str,
    size: usize,
) -> (u16, String) {
    let boundary = "----ecMemoryBoundary7d93";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"order_item_id\"\r\n\r\n{item}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"big.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let start = b"%PDF-1.4\n";
    let end = b"\n%%EOF\n";
    let length = head.len() + size + tail.len();
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n",
        app.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(start).await.unwrap();
    let filler: Vec<u8> =
        b"% filler line of a generated document, no scripts here\n".iter().copied().cycle().take(64 * 1024).collect();
    let mut left = size - start.len() - end.len();
    while left > 0 {
        let n = left.min(filler.len());
        stream.write_all(&filler[..n]).await.unwrap();
        left -= n;
    }
    stream.write_all(end).await.unwrap();
    stream.write_all(tail.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_20_mb_documents_at_once_stay_in_bounded_memory() {
    let _guard = MEMORY.write().await;
    let app = spawn_app().await;
    let gold = ProductBuilder::package("Gold").create(&app).await;
    let mut fields = Vec::new();
    for i in 0..10 {
        let id = field(&app, gold, &format!("Document {i}"), FieldType::Document, |s| {
            s.max_file_size_mb = Some(20);
            s.is_required = false
        })
        .await;
        fields.push(id);
    }
    let (_, token, order, item) = customer_order(&app, "buyer", gold).await;
    let size = 20 * 1024 * 1024 - 4096;
    let path = submit_path(order);
    // Warm up (pools, lazy statics, the first staging directory), then measure from here.
    let (status, answer) =
        post_streamed_pdf(&app, &path, &token, item, &format!("field_{}", fields[0]), 256 * 1024).await;
    assert_eq!(status, 201, "{answer}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let baseline = rss_kb();
    let peak = Arc::new(AtomicU64::new(baseline));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kb(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let started = std::time::Instant::now();
    let uploads: Vec<_> = fields
        .iter()
        .map(|f| {
            let (app, path, token, key) = (&app, path.clone(), token.clone(), format!("field_{f}"));
            async move { post_streamed_pdf(app, &path, &token, item, &key, size).await }
        })
        .collect();
    let results = futures::future::join_all(uploads).await;
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    sampler.await.unwrap();
    for (status, answer) in &results {
        assert_eq!(*status, 201, "{answer}");
    }
    let growth_mb = (peak.load(Ordering::Relaxed).saturating_sub(baseline)) as f64 / 1024.0;
    println!(
        "ten {:.2} MB documents in {:.1} s: RSS baseline {:.1} MB, peak growth {growth_mb:.1} MB",
        size as f64 / (1024.0 * 1024.0),
        elapsed.as_secs_f64(),
        baseline as f64 / 1024.0
    );
    assert!(growth_mb < 40.0, "RSS grew by {growth_mb:.1} MB while 200 MB were uploaded");
    // Every document is there, whole.
    let keys: Vec<String> = sqlx::query_scalar(
        "SELECT file_value FROM dynamic_resource_submission WHERE order_item_id = $1 AND file_value IS NOT NULL",
    )
    .bind(item)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(keys.len(), 10);
    for key in keys {
        let meta = std::fs::metadata(app.cfg.media_dir.join(&key)).unwrap();
        assert!(meta.len() == size as u64 || meta.len() == 256 * 1024, "{key}: {}", meta.len());
    }
}

/// Sends a multipart submission of one small PDF over a raw socket, slowly (`pause` between
/// chunks), and returns the status line.
async fn slow_submit(app: &TestApp, token: &str, order: i64, item: i64, doc: i64, pause: Duration) -> String {
    let boundary = "slowBoundary7";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"order_item_id\"\r\n\r\n{item}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"field_{doc}\"; filename=\"a.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n%PDF-1.4\n% slow upload\n%%EOF\r\n--{boundary}--\r\n"
    );
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        submit_path(order),
        app.addr,
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    for piece in body.as_bytes().chunks(body.len() / 4 + 1) {
        // The server may answer (503) and close before the body is all sent.
        if stream.write_all(piece).await.is_err() {
            break;
        }
        tokio::time::sleep(pause).await;
    }
    let mut answer = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer).await;
    String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_string()
}

/// Uploads get `UPLOAD_TIMEOUT_SECONDS`, not the 30 s of other requests: a slow link must not
/// turn a 20 MB document into a 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_uploads_get_the_upload_timeout_not_the_request_timeout() {
    for (upload_timeout, expected) in [("30", "201"), ("1", "503")] {
        let app = e2e::TestAppBuilder::new()
            .var("REQUEST_TIMEOUT_SECONDS", "1")
            .var("UPLOAD_TIMEOUT_SECONDS", upload_timeout)
            .spawn()
            .await;
        let gold = ProductBuilder::package("Gold").create(&app).await;
        let doc = field(&app, gold, "Doc", FieldType::Document, |_| {}).await;
        let (_, token, order, item) = customer_order(&app, "slowpoke", gold).await;
        let status = slow_submit(&app, &token, order, item, doc, Duration::from_millis(600)).await;
        assert!(status.contains(expected), "UPLOAD_TIMEOUT_SECONDS={upload_timeout}: {status}");
    }
}

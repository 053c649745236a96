//! Product images: upload validation by content, staging with URLs that work at once, the media
//! worker storing locally (with a thumbnail) or in (a fake) Cloudinary, retries, deletion of
//! stored files, primary/order management and roles.

use std::io::Cursor;
use std::path::PathBuf;
use std::time::Duration;

use common::media::{Cloudinary, CloudinaryCredentials, MediaError};
use e2e::cloudinary::FakeCloudinary;
use e2e::{TestApp, TestAppBuilder};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

fn media_dir() -> PathBuf {
    std::env::temp_dir().join(format!("ec-media-{}", uuid::Uuid::new_v4().simple()))
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, _| image::Rgb([10, (x % 256) as u8, 200]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// A valid PNG whose header claims `w`×`h` with 1×1 worth of data (a decompression bomb's shape).
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut bytes = png(1, 1);
    bytes[16..20].copy_from_slice(&w.to_be_bytes());
    bytes[20..24].copy_from_slice(&h.to_be_bytes());
    let mut crc = 0xFFFF_FFFFu32;
    for &b in &bytes[12..29] {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    bytes[29..33].copy_from_slice(&(!crc).to_be_bytes());
    bytes
}

async fn admin(app: &TestApp) -> String {
    app.user_token("imgadmin", "admin").await.1
}

async fn create_package(app: &TestApp, token: &str, name: &str) -> i64 {
    let res = app
        .post(
            "/api/admin/products/package/",
            &json!({"name": name, "price": "999", "description": "Kit", "items": [{"name": "Flags", "quantity": 10}]}),
            Some(token),
        )
        .await;
    assert_eq!(res.status(), 201, "create {name}");
    res.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

fn image_form(name: &str, bytes: Vec<u8>) -> Form {
    Form::new().part("image", Part::bytes(bytes).file_name(name.to_string()))
}

async fn upload(app: &TestApp, token: &str, product: i64, name: &str, bytes: Vec<u8>) -> Value {
    let res = app
        .post_multipart(&format!("/api/admin/products/package/{product}/images/"), image_form(name, bytes), Some(token))
        .await;
    assert_eq!(res.status(), 201, "upload {name}");
    res.json().await.unwrap()
}

/// The answered URL (based on `PUBLIC_BASE_URL`) on the test server.
fn local(app: &TestApp, url: &str) -> String {
    let path =
        url.strip_prefix(&app.cfg.public_base_url).unwrap_or_else(|| panic!("{url} is not under PUBLIC_BASE_URL"));
    app.url(path)
}

async fn fetch(app: &TestApp, url: &str) -> reqwest::Response {
    app.client.get(local(app, url)).send().await.unwrap()
}

async fn image_row(app: &TestApp, id: i64) -> Value {
    let res = app.get(&format!("/api/admin/products/images/{id}/"), None).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn job_status(app: &TestApp, kind: &str) -> Vec<(String, i32)> {
    sqlx::query_as("SELECT status, attempts FROM job WHERE kind = $1 ORDER BY id")
        .bind(kind)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn images_upload_is_served_at_once_then_stored_locally_with_a_thumbnail() {
    let dir = media_dir();
    let app = TestAppBuilder::new().var("MEDIA_DIR", dir.display().to_string()).with_worker().spawn().await;
    let token = admin(&app).await;
    let product = create_package(&app, &token, "Rally Kit").await;
    let original = png(640, 480);

    let first = upload(&app, &token, product, "photo.png", original.clone()).await;
    let id = first["id"].as_i64().unwrap();
    assert_eq!(first["is_primary"], true);
    assert_eq!(first["order"], 0);
    assert_eq!(first["alt_text"], "");
    assert_eq!(first["product_type"], "package");
    assert_eq!(first["product_id"], product);
    assert_eq!(first["image"], first["image_url"]);
    let staged_url = first["image"].as_str().unwrap().to_string();
    assert!(staged_url.starts_with(&format!("{}/media/staging/", app.cfg.public_base_url)), "{staged_url}");
    assert!(!staged_url.contains("photo"), "client names never reach a path: {staged_url}");
    assert!(staged_url.ends_with(".png"));

    // The answered URL works before the worker has run (or after: then it is the stored one).
    let res = fetch(&app, &staged_url).await;
    if res.status() == 200 {
        assert_eq!(res.headers()["content-type"], "image/png");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert_eq!(res.bytes().await.unwrap().to_vec(), original);
    }

    // The worker stores it under products/ with a 300×300 JPEG thumbnail.
    let stored = app
        .eventually(WAIT, || async {
            let row = image_row(&app, id).await;
            row["image"].as_str().unwrap().contains("/media/products/").then_some(row)
        })
        .await
        .expect("the media worker stores the image");
    let image_url = stored["image"].as_str().unwrap();
    let thumb_url = stored["thumbnail"].as_str().unwrap();
    assert_eq!(stored["thumbnail_url"], stored["thumbnail"]);
    assert!(thumb_url.contains("/media/products/thumbs/") && thumb_url.ends_with(".jpg"), "{thumb_url}");
    let res = fetch(&app, image_url).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().to_vec(), original);
    let res = fetch(&app, thumb_url).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    let thumb = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (300, 300));
    // The staged file is gone; the staged URL no longer answers.
    let staged_name = staged_url.rsplit('/').next().unwrap();
    let staged_file = dir.join("staging").join(staged_name);
    // The worker removes it right after updating the row: allow it that moment.
    let gone = app.eventually(WAIT, || async { (!staged_file.exists()).then_some(()) }).await;
    assert!(gone.is_some(), "staged file removed");
    assert_eq!(fetch(&app, &staged_url).await.status(), 404);

    // The public catalogue shows the stored image on the next read (version bumped).
    let res = app.get(&format!("/api/packages/{product}/"), None).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["primary_image"]["image"], stored["image"]);
    assert_eq!(body["primary_image"]["thumbnail"], stored["thumbnail"]);

    // A second run of the done job changes nothing.
    let mut tx = common::db::begin(&app.pool).await.unwrap();
    common::jobs::enqueue(&mut tx, &common::jobs::StoreProductImage { image_id: id }, None).await.unwrap();
    tx.commit().await.unwrap();
    app.eventually(WAIT, || async {
        let s = job_status(&app, "store_product_image").await;
        (s.len() == 2 && s.iter().all(|(st, _)| st == "done")).then_some(())
    })
    .await
    .expect("the repeated job completes");
    assert_eq!(image_row(&app, id).await, stored);

    // A JPEG goes after it, not primary.
    let second = upload(&app, &token, product, "poster.JPEG", jpeg(320, 200)).await;
    assert_eq!(second["is_primary"], false);
    assert_eq!(second["order"], 1);
    assert!(second["image"].as_str().unwrap().ends_with(".jpg"));
    let second_id = second["id"].as_i64().unwrap();

    // No directory listing, no escaping MEDIA_DIR.
    assert_eq!(app.get("/media/products/", None).await.status(), 404);
    assert_eq!(app.get("/media/", None).await.status(), 404);
    assert_ne!(app.get("/media/../Cargo.toml", None).await.status(), 200);
    assert_ne!(app.get("/media/%2e%2e/%2e%2e/etc/passwd", None).await.status(), 200);

    // Deleting the primary promotes the next one and removes the stored files.
    let image_file = dir.join("products").join(image_url.rsplit('/').next().unwrap());
    let thumb_file = dir.join("products/thumbs").join(thumb_url.rsplit('/').next().unwrap());
    assert!(image_file.exists() && thumb_file.exists());
    let res = app.send(Method::DELETE, &format!("/api/admin/products/images/{id}/"), &json!({}), Some(&token)).await;
    assert_eq!(res.status(), 204);
    assert_eq!(image_row(&app, second_id).await["is_primary"], true);
    assert_eq!(app.get(&format!("/api/admin/products/images/{id}/"), None).await.status(), 404);
    app.eventually(WAIT, || async { (!image_file.exists() && !thumb_file.exists()).then_some(()) })
        .await
        .expect("the stored files are removed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn images_uploads_are_validated_by_content_and_limited_to_ten() {
    let dir = media_dir();
    let app = TestAppBuilder::new().var("MEDIA_DIR", dir.display().to_string()).spawn().await;
    let token = admin(&app).await;
    let product = create_package(&app, &token, "Door Kit").await;
    let path = format!("/api/admin/products/package/{product}/images/");
    let refused = |res: reqwest::Response| async move {
        assert_eq!(res.status(), 400);
        let body: Value = res.json().await.unwrap();
        body["image"][0].as_str().unwrap_or_else(|| panic!("{body}")).to_string()
    };

    let msg = refused(
        app.post_multipart(&path, image_form("fake.png", b"MZ\x90\x00 this is no image".to_vec()), Some(&token)).await,
    )
    .await;
    assert!(msg.starts_with("Upload a valid image."), "{msg}");
    let msg =
        refused(app.post_multipart(&path, image_form("bomb.png", png_claiming(30_000, 30_000)), Some(&token)).await)
            .await;
    assert!(msg.contains("89478485"), "{msg}");
    let msg = refused(app.post_multipart(&path, image_form("photo.bmp", png(10, 10)), Some(&token)).await).await;
    assert!(msg.contains("bmp") && msg.contains("jpg, jpeg, png, gif"), "{msg}");
    let msg = refused(app.post_multipart(&path, image_form("noext", png(10, 10)), Some(&token)).await).await;
    assert!(msg.contains("not allowed"), "{msg}");
    let mut truncated = png(50, 50);
    truncated.truncate(60);
    let msg = refused(app.post_multipart(&path, image_form("cut.png", truncated), Some(&token)).await).await;
    assert!(msg.starts_with("Upload a valid image."), "{msg}");
    let mut big = png(10, 10);
    big.resize(5 * 1024 * 1024 + 10, 0);
    let msg = refused(app.post_multipart(&path, image_form("big.png", big), Some(&token)).await).await;
    assert!(msg.contains("5MB"), "{msg}");
    let msg = refused(app.post_multipart(&path, Form::new().text("alt_text", "x"), Some(&token)).await).await;
    assert_eq!(msg, "No file was submitted.");
    let res = app
        .post_multipart(&path, image_form("a.png", png(10, 10)).text("alt_text", "x".repeat(201)), Some(&token))
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"alt_text": ["Ensure this field has no more than 200 characters."]})
    );
    let res = app.post(&path, &json!({"image": "x"}), Some(&token)).await;
    assert_eq!(res.status(), 415);
    // Nothing refused was staged or recorded.
    assert!(std::fs::read_dir(dir.join("staging")).map(|d| d.count()).unwrap_or(0) == 0);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM product_image").fetch_one(&app.pool).await.unwrap();
    assert_eq!(rows, 0);

    // Type, product, roles.
    let res =
        app.post_multipart("/api/admin/products/gadget/1/images/", image_form("a.png", png(4, 4)), Some(&token)).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "Invalid product type. Must be \"package\" or \"campaign\""
    );
    let res = app
        .post_multipart("/api/admin/products/package/999999/images/", image_form("a.png", png(4, 4)), Some(&token))
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap()["detail"], "No Package matches the given query.");
    let (_, customer) = app.user_token("imgcustomer", "user").await;
    let res = app.post_multipart(&path, image_form("a.png", png(4, 4)), Some(&customer)).await;
    assert_eq!(res.status(), 403);
    let res = app.post_multipart(&path, image_form("a.png", png(4, 4)), None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["detail"], "Authentication credentials were not provided.");

    // With options: alt text, explicit order, a GIF.
    let gif = {
        let img = image::RgbaImage::from_pixel(8, 8, image::Rgba([1, 2, 3, 255]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Gif).unwrap();
        out.into_inner()
    };
    let res = app
        .post_multipart(
            &path,
            image_form("anim.gif", gif).text("alt_text", "Flag").text("order", "7").text("is_primary", "false"),
            Some(&token),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["alt_text"].as_str(), body["order"].as_i64(), body["is_primary"].as_bool()),
        (Some("Flag"), Some(7), Some(true))
    );
    assert!(body["image"].as_str().unwrap().ends_with(".gif"));
    assert_eq!(body["thumbnail"], Value::Null);
    // No worker runs here: the answered (staged) URL works at once.
    let res = fetch(&app, body["image"].as_str().unwrap()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/gif");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");

    // Twelve concurrent uploads onto the nine free places: exactly nine succeed.
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let req = app
                .client
                .post(app.url(&path))
                .bearer_auth(&token)
                .multipart(image_form(&format!("p{i}.png"), png(8, 8)));
            tokio::spawn(async move { req.send().await.unwrap() })
        })
        .collect();
    let mut created = 0;
    let mut limited = 0;
    for t in tasks {
        let res = t.await.unwrap();
        match res.status().as_u16() {
            201 => created += 1,
            400 => {
                assert_eq!(
                    res.json::<Value>().await.unwrap(),
                    json!({"error": "Maximum of 10 images allowed per product"})
                );
                limited += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((created, limited), (9, 3));
    let res = app.post_multipart(&path, image_form("eleven.png", png(4, 4)), Some(&token)).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Maximum of 10 images allowed per product"}));
    let (count, primaries): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(*) FILTER (WHERE is_primary) FROM product_image WHERE product_id = $1")
            .bind(product)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((count, primaries), (10, 1));
    // Only the ten accepted files were staged.
    assert_eq!(std::fs::read_dir(dir.join("staging")).unwrap().count(), 10);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn images_primary_order_alt_text_and_deletion_are_managed() {
    let dir = media_dir();
    let app = TestAppBuilder::new().var("MEDIA_DIR", dir.display().to_string()).spawn().await;
    let token = admin(&app).await;
    let product = create_package(&app, &token, "Stage Kit").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(upload(&app, &token, product, &format!("{i}.png"), png(6, 6)).await["id"].as_i64().unwrap());
    }
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    let primary_of = |app: &TestApp| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT id FROM product_image WHERE product_id = $1 AND is_primary")
                .bind(product)
                .fetch_all(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(primary_of(&app).await, vec![a]);

    // set-primary
    let res = app
        .send(Method::PATCH, &format!("/api/admin/products/images/{c}/set-primary/"), &json!({}), Some(&token))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["message"], "Image set as primary successfully");
    assert_eq!(body["image"]["id"], c);
    assert_eq!(body["image"]["is_primary"], true);
    assert_eq!(primary_of(&app).await, vec![c]);
    let res = app.send(Method::PATCH, "/api/admin/products/images/999999/set-primary/", &json!({}), Some(&token)).await;
    assert_eq!(res.status(), 404);

    // PUT alt text and order (JSON); PATCH is_primary through the update route.
    let res = app
        .send(
            Method::PUT,
            &format!("/api/admin/products/images/{a}/"),
            &json!({"alt_text": "Front view", "order": 5}),
            Some(&token),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!((body["alt_text"].as_str(), body["order"].as_i64()), (Some("Front view"), Some(5)));
    let res = app
        .send(Method::PATCH, &format!("/api/admin/products/images/{b}/"), &json!({"is_primary": true}), Some(&token))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(primary_of(&app).await, vec![b]);
    let res = app
        .send(
            Method::PATCH,
            &format!("/api/admin/products/images/{b}/"),
            &json!({"alt_text": "y".repeat(201)}),
            Some(&token),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.json::<Value>().await.unwrap()["alt_text"].is_array());
    let res = app
        .send(Method::PATCH, &format!("/api/admin/products/images/{b}/"), &json!({"order": "x"}), Some(&token))
        .await;
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"order": ["A valid integer is required."]}));

    // Replacing the file is refused; a multipart update without a file works.
    let res = app
        .client
        .put(app.url(&format!("/api/admin/products/images/{a}/")))
        .bearer_auth(&token)
        .multipart(image_form("new.png", png(5, 5)).text("alt_text", "z"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"error": "Cannot update image file. Delete and upload a new one instead."})
    );
    let res = app
        .client
        .put(app.url(&format!("/api/admin/products/images/{a}/")))
        .bearer_auth(&token)
        .multipart(Form::new().text("alt_text", "Side view"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["alt_text"], "Side view");

    // Reorder: {items} and {image_ids}.
    let res = app
        .send(
            Method::PATCH,
            "/api/admin/products/images/reorder/",
            &json!({"items": [{"id": a, "order": 2}, {"id": b, "order": 0}, {"id": c, "order": 1}]}),
            Some(&token),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["message"], "Successfully reordered 3 images");
    assert_eq!(
        body["items"].as_array().unwrap().iter().map(|i| i["order"].as_i64().unwrap()).collect::<Vec<_>>(),
        vec![2, 0, 1]
    );
    let res = app
        .send(Method::PATCH, "/api/admin/products/images/reorder/", &json!({"image_ids": [c, a, b]}), Some(&token))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["message"], "Successfully reordered 3 images");
    let orders: Vec<(i64, i32)> =
        sqlx::query_as(r#"SELECT id, "order" FROM product_image ORDER BY "order""#).fetch_all(&app.pool).await.unwrap();
    assert_eq!(orders, vec![(c, 0), (a, 1), (b, 2)]);
    let expected_error = json!({"error": "Items array is required with format: [{\"id\": 1, \"order\": 0}, ...]"});
    for bad in [
        json!({}),
        json!({"items": []}),
        json!({"items": "x"}),
        json!({"items": [{"id": a}]}),
        json!({"image_ids": ["q"]}),
    ] {
        let res = app.send(Method::PATCH, "/api/admin/products/images/reorder/", &bad, Some(&token)).await;
        assert_eq!(res.status(), 400, "{bad}");
        assert_eq!(res.json::<Value>().await.unwrap(), expected_error);
    }
    let res = app
        .send(
            Method::PATCH,
            "/api/admin/products/images/reorder/",
            &json!({"items": [{"id": a, "order": 9}, {"id": 999999, "order": 0}]}),
            Some(&token),
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "One or more images not found"}));
    assert_eq!(image_row(&app, a).await["order"], 1, "nothing changed");

    // Deleting the primary (b, order 2) promotes the first by order (c).
    let res = app.send(Method::DELETE, &format!("/api/admin/products/images/{b}/"), &json!({}), Some(&token)).await;
    assert_eq!(res.status(), 204);
    assert_eq!(primary_of(&app).await, vec![c]);
    let payload: Value = sqlx::query_scalar("SELECT payload FROM job WHERE kind = 'delete_stored_media'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(payload["paths"].as_array().unwrap().len(), 1);
    assert!(payload["paths"][0].as_str().unwrap().starts_with("staging/"));
    let res = app.send(Method::DELETE, &format!("/api/admin/products/images/{b}/"), &json!({}), Some(&token)).await;
    assert_eq!(res.status(), 404);

    // Roles: GET is anonymous; changes need admin*.
    let (_, customer) = app.user_token("imguser", "user").await;
    assert_eq!(app.get(&format!("/api/admin/products/images/{a}/"), None).await.status(), 200);
    assert_eq!(app.get(&format!("/api/admin/products/images/{a}/"), Some(&customer)).await.status(), 200);
    for (method, path) in [
        (Method::PUT, format!("/api/admin/products/images/{a}/")),
        (Method::PATCH, format!("/api/admin/products/images/{a}/")),
        (Method::DELETE, format!("/api/admin/products/images/{a}/")),
        (Method::PATCH, format!("/api/admin/products/images/{a}/set-primary/")),
        (Method::PATCH, "/api/admin/products/images/reorder/".to_string()),
    ] {
        let res = app.send(method.clone(), &path, &json!({"image_ids": [a]}), Some(&customer)).await;
        assert_eq!(res.status(), 403, "{method} {path}");
        let res = app.send(method.clone(), &path, &json!({"image_ids": [a]}), None).await;
        assert_eq!(res.status(), 401, "{method} {path}");
    }
    let res = app.get("/api/admin/products/images/abc/", None).await;
    assert_eq!(res.status(), 404);
    // Without the slash: the usual redirect.
    let res = app.get(&format!("/api/admin/products/images/{a}"), None).await;
    assert_eq!(res.status(), 301);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn images_fake_cloudinary_checks_our_signatures() {
    let fake = FakeCloudinary::start("demo", "key", "secret").await;
    let client = |url: &str| {
        Cloudinary::new(CloudinaryCredentials::parse(url).unwrap(), &fake.base, Duration::from_secs(10)).unwrap()
    };
    let good = client("cloudinary://key:secret@demo");
    let up = good.upload(png(4, 4), "x.png", "products/abc").await.unwrap();
    assert!(up.secure_url.starts_with("https://res.cloudinary.com/demo/image/upload/v"), "{}", up.secure_url);
    assert!(up.secure_url.ends_with("/products/abc.png"));
    assert_eq!(up.public_id, "products/abc");
    assert_eq!(fake.asset("products/abc").unwrap().format, "png");

    match client("cloudinary://key:wrong@demo").upload(png(4, 4), "x.png", "products/def").await {
        Err(MediaError::Rejected(m)) => assert!(m.contains("401") && m.contains("Invalid Signature"), "{m}"),
        other => panic!("wrong secret must be refused: {other:?}"),
    }
    match client("cloudinary://nokey:secret@demo").destroy("products/abc").await {
        Err(MediaError::Rejected(m)) => assert!(m.contains("401"), "{m}"),
        other => panic!("unknown key must be refused: {other:?}"),
    }
    assert!(fake.asset("products/def").is_none());

    fake.fail_next_uploads(1);
    assert!(matches!(good.upload(png(4, 4), "x.png", "products/ghi").await, Err(MediaError::Transient(_))));
    assert!(good.destroy("products/abc").await.unwrap());
    assert!(!good.destroy("products/abc").await.unwrap());
    assert_eq!(fake.destroyed(), vec![("products/abc".to_string(), true), ("products/abc".to_string(), true)]);
}

#[tokio::test]
async fn images_stored_in_cloudinary_after_a_failed_first_upload() {
    let fake = FakeCloudinary::start("demo", "key", "secret").await;
    fake.fail_next_uploads(1);
    let dir = media_dir();
    let app = TestAppBuilder::new()
        .var("MEDIA_DIR", dir.display().to_string())
        .var("CLOUDINARY_URL", "cloudinary://key:secret@demo")
        .var("CLOUDINARY_API_BASE", fake.base.clone())
        .with_worker()
        .spawn()
        .await;
    let token = admin(&app).await;
    let product = create_package(&app, &token, "Cloud Kit").await;
    let original = png(400, 300);
    let body = upload(&app, &token, product, "c.png", original.clone()).await;
    let id = body["id"].as_i64().unwrap();
    assert!(body["image"].as_str().unwrap().contains("/media/staging/"));

    let stored = app
        .eventually(WAIT, || async {
            let row = image_row(&app, id).await;
            row["image"].as_str().unwrap().starts_with("https://res.cloudinary.com/").then_some(row)
        })
        .await
        .expect("stored in Cloudinary after the retry");
    let url = stored["image"].as_str().unwrap();
    let public_id = fake.public_ids().pop().unwrap();
    assert!(public_id.starts_with("products/"));
    assert!(
        url.starts_with("https://res.cloudinary.com/demo/image/upload/v") && url.ends_with(&format!("{public_id}.png")),
        "{url}"
    );
    assert_eq!(stored["image_url"], stored["image"]);
    let thumb = stored["thumbnail"].as_str().unwrap();
    assert_eq!(thumb, url.replacen("/upload/", "/upload/c_fill,f_auto,g_auto,h_300,q_auto,w_300/", 1));
    assert_eq!(stored["thumbnail_url"], stored["thumbnail"]);
    assert_eq!(fake.asset(&public_id).unwrap().bytes, original);
    assert_eq!(fake.upload_calls(), 2, "one failure, one retry");
    // The row is updated before the job records its end: wait for that, then for the staged file.
    let jobs = app
        .eventually(WAIT, || async {
            let jobs = job_status(&app, "store_product_image").await;
            (jobs.first().is_some_and(|j| j.0 != "running")).then_some(jobs)
        })
        .await;
    assert_eq!(jobs, Some(vec![("done".to_string(), 2)]));
    let staged_gone = app
        .eventually(WAIT, || async { (std::fs::read_dir(dir.join("staging")).unwrap().count() == 0).then_some(()) })
        .await;
    assert!(staged_gone.is_some(), "staged file removed");

    // Deleting destroys the asset with invalidation.
    let res = app.send(Method::DELETE, &format!("/api/admin/products/images/{id}/"), &json!({}), Some(&token)).await;
    assert_eq!(res.status(), 204);
    app.eventually(WAIT, || async { fake.asset(&public_id).is_none().then_some(()) }).await.expect("asset destroyed");
    assert_eq!(fake.destroyed(), vec![(public_id, true)]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn images_a_job_that_fails_for_good_keeps_the_staged_url() {
    let fake = FakeCloudinary::start("demo", "key", "secret").await;
    let dir = media_dir();
    let app = TestAppBuilder::new()
        .var("MEDIA_DIR", dir.display().to_string())
        .var("CLOUDINARY_URL", "cloudinary://key:not-the-secret@demo")
        .var("CLOUDINARY_API_BASE", fake.base.clone())
        .with_worker()
        .spawn()
        .await;
    let token = admin(&app).await;
    let product = create_package(&app, &token, "Lost Kit").await;
    let original = png(30, 30);
    let body = upload(&app, &token, product, "c.png", original.clone()).await;
    let id = body["id"].as_i64().unwrap();
    app.eventually(WAIT, || async {
        let s = job_status(&app, "store_product_image").await;
        (s.first().map(|(st, _)| st.as_str()) == Some("failed")).then_some(())
    })
    .await
    .expect("the signature is refused: the job fails");
    let row = image_row(&app, id).await;
    assert_eq!(row["image"], body["image"]);
    let res = fetch(&app, row["image"].as_str().unwrap()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().to_vec(), original);
    assert!(fake.public_ids().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

//! Secure files (API.md §4.11) and the customer's resource pages (§4.5 `resources/`,
//! `resource-status/`, `resource-fields/`): who may fetch a customer's files, how they are sent,
//! that no public path reaches them, and that every answer names them by their secure-file path.

use common::catalog::ProductType;
use common::catalog::resource_fields::{self, FieldSpec, FieldType};
use common::media::{Cloudinary, RESOURCES_DIR};
use e2e::builders::{ImageBuilder, OrderBuilder, ProductBuilder, ResourceSubmission, UserBuilder};
use e2e::cloudinary::FakeCloudinary;
use e2e::fixtures::{field_spec, png, write_media};
use e2e::{TestApp, TestAppBuilder, spawn_app};
use serde_json::{Value, json};

const AUTH_REQUIRED: &str = "Authentication required";
const NO_PERMISSION: &str = "You don't have permission to access this file";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";
/// A fixed upload time and its Asia/Kolkata rendering.
const UPLOADED_AT: &str = "2025-11-03T14:23:45.123456Z";
const UPLOADED_AT_IST: &str = "2025-11-03T19:53:45.123456+05:30";

/// A customer file stored as the resource worker stores it (`private/resources/…`).
fn store_resource(app: &TestApp, ext: &str, bytes: &[u8]) -> String {
    write_media(app, RESOURCES_DIR, ext, bytes)
}

fn spec(name: &str, kind: FieldType, order: i32) -> FieldSpec {
    FieldSpec { order, ..field_spec(name, kind) }
}

async fn field(app: &TestApp, kind: ProductType, product: i64, spec: &FieldSpec) -> i64 {
    resource_fields::create(&app.pool, kind, product, spec).await.unwrap().expect("the product").id
}

/// A legacy upload (`order_resource`) of a line: written directly, as the importer of the old
/// database leaves it (the legacy upload route is not ported).
async fn legacy_upload(app: &TestApp, item: i64, photo: &str, logo: &str, slogan: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO order_resource (order_item_id, candidate_photo, party_logo, campaign_slogan, preferred_date,
                                     whatsapp_number, additional_notes, uploaded_at)
         VALUES ($1, $2, $3, $4, '2025-12-01', '9876543210', '', $5::timestamptz) RETURNING id",
    )
    .bind(item)
    .bind(photo)
    .bind(logo)
    .bind(slogan)
    .bind(UPLOADED_AT)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn mark_uploaded(app: &TestApp, item: i64) {
    sqlx::query("UPDATE order_item SET resources_uploaded = true WHERE id = $1")
        .bind(item)
        .execute(&app.pool)
        .await
        .unwrap();
}

async fn assign(app: &TestApp, order: i64, staff: i64) {
    sqlx::query("UPDATE orders SET assigned_to_id = $2 WHERE id = $1")
        .bind(order)
        .bind(staff)
        .execute(&app.pool)
        .await
        .unwrap();
}

/// Asserts a file answer: 200, its type, inline or attachment under `filename`, private and
/// not sniffable, and its bytes.
async fn assert_file(res: reqwest::Response, content_type: &str, disposition: &str, bytes: &[u8]) {
    let url = res.url().to_string();
    assert_eq!(res.status(), 200, "{url}");
    assert_eq!(res.headers()["content-type"], content_type, "{url}");
    assert_eq!(res.headers()["content-disposition"], disposition, "{url}");
    assert_eq!(res.headers()["cache-control"], "private, no-store", "{url}");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{url}");
    assert_eq!(res.bytes().await.unwrap().to_vec(), bytes, "{url}");
}

async fn assert_forbidden(res: reqwest::Response, text: &str) {
    let url = res.url().to_string();
    assert_eq!(res.status(), 403, "{url}");
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"), "{url}");
    assert_eq!(res.text().await.unwrap(), text, "{url}");
}

async fn assert_not_found(res: reqwest::Response) {
    let url = res.url().to_string();
    assert_eq!(res.status(), 404, "{url}");
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"detail": "Not found."}), "{url}");
}

#[tokio::test]
async fn submission_files_go_to_the_customer_the_assignee_and_admins_only() {
    // Six sign-ins: more than the login limit allows one address.
    let app = TestAppBuilder::new().var("RATE_LIMITS_ENABLED", "false").spawn().await;
    let (admin_id, admin) = app.user_token("boss", "admin").await;
    let (staff_id, staff) = app.user_token("ravi", "staff").await;
    let (_, other_staff) = app.user_token("meera", "staff").await;
    let (_, flagged) = UserBuilder::new("clerk").staff_flag(true).create_with_token(&app).await;
    let (customer_id, customer) = app.user_token("buyer", "user").await;
    let (_, stranger) = app.user_token("someone", "user").await;
    let pkg = ProductBuilder::package("Rally Kit").create(&app).await;
    let photo_field = field(&app, ProductType::Package, pkg, &spec("Photo", FieldType::Image, 0)).await;
    let doc_field = field(&app, ProductType::Package, pkg, &spec("Manifesto", FieldType::Document, 1)).await;
    let text_field = field(&app, ProductType::Package, pkg, &spec("Slogan", FieldType::Text, 2)).await;
    let order =
        OrderBuilder::for_user(customer_id).item(ProductType::Package, pkg, 1).paid().by(admin_id).build(&app).await;
    assign(&app, order.id, staff_id).await;
    let item = order.item_ids[0];
    let image = png(4, 3);
    let photo_key = store_resource(&app, "png", &image);
    let doc_key = store_resource(&app, "pdf", PDF);
    let photo = ResourceSubmission::file(item, photo_field, &photo_key).create(&app).await;
    let doc = ResourceSubmission::file(item, doc_field, &doc_key).create(&app).await;
    let text = ResourceSubmission::text(item, text_field, "Vote!").create(&app).await;
    let photo_route = format!("/api/secure-files/resources/{photo}/");
    let doc_route = format!("/api/secure-files/resources/{doc}/");
    let inline = format!("inline; filename=\"resource-{photo}.png\"");
    let attachment = format!("attachment; filename=\"resource-{doc}.pdf\"");

    // The customer, the assignee, role admin and the is_staff flag; Bearer or ?token=.
    for token in [&customer, &staff, &admin, &flagged] {
        assert_file(app.get(&photo_route, Some(token)).await, "image/png", &inline, &image).await;
        assert_file(app.get(&doc_route, Some(token)).await, "application/pdf", &attachment, PDF).await;
    }
    assert_file(app.get(&format!("{photo_route}?token={customer}"), None).await, "image/png", &inline, &image).await;
    assert_file(app.get(&format!("{doc_route}?token={staff}"), None).await, "application/pdf", &attachment, PDF).await;

    // Anonymous, or a bad ?token=: "Authentication required"; a bad Bearer header: the §1 401.
    assert_forbidden(app.get(&photo_route, None).await, AUTH_REQUIRED).await;
    assert_forbidden(app.get(&format!("{photo_route}?token=not.a.jwt"), None).await, AUTH_REQUIRED).await;
    assert_eq!(app.get(&photo_route, Some("not.a.jwt")).await.status(), 401);
    // Another customer, and a staff member the order is not assigned to.
    for token in [&stranger, &other_staff] {
        assert_forbidden(app.get(&photo_route, Some(token)).await, NO_PERMISSION).await;
        assert_forbidden(app.get(&format!("{doc_route}?token={token}"), None).await, NO_PERMISSION).await;
    }

    // No such submission, a submission without a file, a file gone from the disk.
    assert_not_found(app.get("/api/secure-files/resources/999999/", Some(&admin)).await).await;
    assert_not_found(app.get("/api/secure-files/resources/abc/", Some(&admin)).await).await;
    assert_not_found(app.get(&format!("/api/secure-files/resources/{text}/"), Some(&customer)).await).await;
    let gone = ResourceSubmission::file(item, photo_field, "private/resources/0123456789abcdef.png");
    sqlx::query("DELETE FROM dynamic_resource_submission WHERE id = $1").bind(photo).execute(&app.pool).await.unwrap();
    let gone = gone.create(&app).await;
    assert_not_found(app.get(&format!("/api/secure-files/resources/{gone}/"), Some(&customer)).await).await;
    // A stored value that is no path of ours is never opened.
    sqlx::query("UPDATE dynamic_resource_submission SET file_value = '../../etc/passwd' WHERE id = $1")
        .bind(gone)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_not_found(app.get(&format!("/api/secure-files/resources/{gone}/"), Some(&admin)).await).await;

    // Nothing of the customer's is reachable under /media/, whatever the path.
    let name = doc_key.rsplit('/').next().unwrap();
    for path in [
        format!("/media/{doc_key}"),
        format!("/media/{photo_key}"),
        format!("/media/resources/{name}"),
        format!("/media/private/resources/{name}"),
        format!("/media/staging/{name}"),
        format!("/media/products/{name}"),
        format!("/media/products/%2E%2E/{doc_key}"),
        format!("/media/staging/..%2F{doc_key}"),
    ] {
        let res = app.get(&path, None).await;
        assert_eq!(res.status(), 404, "{path}");
        let res = app.get(&path, Some(&admin)).await;
        assert_eq!(res.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn cloudinary_stored_files_are_redirected_to_a_short_lived_signed_url() {
    let fake = FakeCloudinary::start("demo", "key", "secret").await;
    let app = TestAppBuilder::new()
        .var("CLOUDINARY_URL", "cloudinary://key:secret@demo")
        .var("CLOUDINARY_API_BASE", fake.base.clone())
        .spawn()
        .await;
    let (admin_id, _) = app.user_token("boss", "admin").await;
    let (customer_id, customer) = app.user_token("buyer", "user").await;
    let (_, stranger) = app.user_token("someone", "user").await;
    let pkg = ProductBuilder::package("Rally Kit").create(&app).await;
    let photo_field = field(&app, ProductType::Package, pkg, &spec("Photo", FieldType::Image, 0)).await;
    let doc_field = field(&app, ProductType::Package, pkg, &spec("Manifesto", FieldType::Document, 1)).await;
    let order =
        OrderBuilder::for_user(customer_id).item(ProductType::Package, pkg, 1).paid().by(admin_id).build(&app).await;
    let item = order.item_ids[0];
    // Stored as the resource worker stores them: private (`authenticated`) assets.
    let cloud = Cloudinary::from_config(&app.cfg).unwrap().unwrap();
    let image = png(5, 5);
    let photo_key = cloud.upload_private("image", image.clone(), "photo.png", "resources/photo1").await.unwrap().key();
    let doc_key = cloud.upload_private("raw", PDF.to_vec(), "m.pdf", "resources/manifesto1.pdf").await.unwrap().key();
    assert_eq!(photo_key, "cloudinary:image/resources/photo1.png");
    assert_eq!(doc_key, "cloudinary:raw/resources/manifesto1.pdf");
    let photo = ResourceSubmission::file(item, photo_field, &photo_key).create(&app).await;
    let doc = ResourceSubmission::file(item, doc_field, &doc_key).create(&app).await;

    for (id, kind, bytes) in [(photo, "image", image.as_slice()), (doc, "raw", PDF)] {
        let route = format!("/api/secure-files/resources/{id}/");
        let res = app.get(&route, Some(&customer)).await;
        assert_eq!(res.status(), 302, "{route}");
        assert_eq!(res.headers()["cache-control"], "private, no-store");
        let location = res.headers()["location"].to_str().unwrap().to_string();
        assert!(location.starts_with(&format!("{}/v1_1/demo/{kind}/download?", fake.base)), "{location}");
        assert!(location.contains("type=authenticated") && location.contains("expires_at="), "{location}");
        let fetched = reqwest::get(&location).await.unwrap();
        assert_eq!(fetched.status(), 200, "{location}");
        assert_eq!(fetched.bytes().await.unwrap().to_vec(), bytes);
        // The check comes first: no signed URL for anyone else.
        assert_forbidden(app.get(&route, Some(&stranger)).await, NO_PERMISSION).await;
        assert_forbidden(app.get(&route, None).await, AUTH_REQUIRED).await;
    }
}

#[tokio::test]
async fn product_images_with_and_without_their_thumbnail() {
    let app = spawn_app().await;
    let (_, user) = app.user_token("buyer", "user").await;
    let pkg = ProductBuilder::package("Rally Kit").create(&app).await;
    let image = png(40, 20);
    let thumb = common::media::make_thumbnail(&image).unwrap();
    let image_key = write_media(&app, common::media::PRODUCTS_DIR, "png", &image);
    let thumb_key = write_media(&app, common::media::THUMBS_DIR, "jpg", &thumb);
    let with_thumb =
        ImageBuilder::stored(ProductType::Package, pkg, &image_key).thumbnail(&thumb_key).create(&app).await;
    let bare = ImageBuilder::stored(ProductType::Package, pkg, &image_key).create(&app).await;
    let remote = "https://res.cloudinary.com/demo/image/upload/v1700000000/products/abc.png";
    let cloudinary = ImageBuilder::stored(ProductType::Package, pkg, remote).create(&app).await;

    let route = format!("/api/secure-files/images/{with_thumb}/");
    let image_disposition = format!("inline; filename=\"image-{with_thumb}.png\"");
    assert_file(app.get(&route, Some(&user)).await, "image/png", &image_disposition, &image).await;
    assert_file(
        app.get(&format!("{route}?thumbnail=false"), Some(&user)).await,
        "image/png",
        &image_disposition,
        &image,
    )
    .await;
    let thumb_disposition = format!("inline; filename=\"image-{with_thumb}-thumbnail.jpg\"");
    assert_file(
        app.get(&format!("{route}?thumbnail=true"), Some(&user)).await,
        "image/jpeg",
        &thumb_disposition,
        &thumb,
    )
    .await;
    assert_file(
        app.get(&format!("{route}?thumbnail=true&token={user}"), None).await,
        "image/jpeg",
        &thumb_disposition,
        &thumb,
    )
    .await;
    // No thumbnail yet: the image itself.
    assert_file(
        app.get(&format!("/api/secure-files/images/{bare}/?thumbnail=true"), Some(&user)).await,
        "image/png",
        &format!("inline; filename=\"image-{bare}.png\""),
        &image,
    )
    .await;
    // A Cloudinary image is public: a redirect to it.
    let res = app.get(&format!("/api/secure-files/images/{cloudinary}/"), Some(&user)).await;
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], remote);

    // Any signed-in user, no one else.
    assert_forbidden(app.get(&route, None).await, AUTH_REQUIRED).await;
    assert_forbidden(app.get(&format!("{route}?token=bad"), None).await, AUTH_REQUIRED).await;
    assert_not_found(app.get("/api/secure-files/images/999999/", Some(&user)).await).await;
}

#[tokio::test]
async fn legacy_photo_and_logo_are_served_per_order() {
    let app = spawn_app().await;
    let (admin_id, admin) = app.user_token("boss", "admin").await;
    let (staff_id, staff) = app.user_token("ravi", "staff").await;
    let (customer_id, customer) = app.user_token("buyer", "user").await;
    let (stranger_id, stranger) = app.user_token("someone", "user").await;
    let kit = ProductBuilder::package("Rally Kit").create(&app).await;
    let calls = ProductBuilder::campaign("Voice Calls").create(&app).await;
    let order = OrderBuilder::for_user(customer_id)
        .item(ProductType::Package, kit, 1)
        .item(ProductType::Campaign, calls, 1)
        .paid()
        .by(admin_id)
        .build(&app)
        .await;
    let (first, second) = (order.item_ids[0], order.item_ids[1]);
    let photo1 = png(2, 2);
    let photo2 = png(3, 3);
    let logo2 = png(6, 6);
    let photo1_key = store_resource(&app, "png", &photo1);
    let photo2_key = store_resource(&app, "png", &photo2);
    let logo2_key = store_resource(&app, "png", &logo2);
    // The second line's upload is written first: "first" is by line, not by upload.
    legacy_upload(&app, second, &photo2_key, &logo2_key, "Second").await;
    legacy_upload(&app, first, &photo1_key, "", "First").await;
    let id = order.id;
    let photo_route = format!("/api/secure-files/orders/{id}/candidate_photo/");
    let logo_route = format!("/api/secure-files/orders/{id}/party_logo/");

    let disposition = format!("inline; filename=\"candidate-photo-{id}.png\"");
    assert_file(app.get(&photo_route, Some(&customer)).await, "image/png", &disposition, &photo1).await;
    assert_file(app.get(&format!("{photo_route}?token={admin}"), None).await, "image/png", &disposition, &photo1).await;
    // The first line has no logo.
    assert_not_found(app.get(&logo_route, Some(&customer)).await).await;
    // ?item= picks a line of the order.
    assert_file(
        app.get(&format!("{logo_route}?item={second}"), Some(&customer)).await,
        "image/png",
        &format!("inline; filename=\"party-logo-{id}.png\""),
        &logo2,
    )
    .await;
    assert_file(
        app.get(&format!("{photo_route}?item={second}"), Some(&customer)).await,
        "image/png",
        &disposition,
        &photo2,
    )
    .await;

    // Anything but the two files, an unknown order, a line of another order, a bad ?item=: 404.
    assert_not_found(app.get(&format!("/api/secure-files/orders/{id}/campaign_slogan/"), Some(&customer)).await).await;
    assert_not_found(app.get("/api/secure-files/orders/999999/candidate_photo/", Some(&admin)).await).await;
    assert_not_found(app.get("/api/secure-files/orders/abc/candidate_photo/", Some(&admin)).await).await;
    assert_not_found(app.get(&format!("{photo_route}?item=abc"), Some(&customer)).await).await;
    let other = OrderBuilder::for_user(stranger_id).item(ProductType::Package, kit, 1).build(&app).await;
    assert_not_found(app.get(&format!("{photo_route}?item={}", other.item_ids[0]), Some(&customer)).await).await;
    // An order without a legacy upload.
    assert_not_found(
        app.get(&format!("/api/secure-files/orders/{}/candidate_photo/", other.id), Some(&stranger)).await,
    )
    .await;

    // Who: the customer, the assignee, admins; not another customer nor unassigned staff.
    assert_forbidden(app.get(&photo_route, None).await, AUTH_REQUIRED).await;
    assert_forbidden(app.get(&photo_route, Some(&stranger)).await, NO_PERMISSION).await;
    assert_forbidden(app.get(&photo_route, Some(&staff)).await, NO_PERMISSION).await;
    assign(&app, id, staff_id).await;
    assert_eq!(app.get(&photo_route, Some(&staff)).await.status(), 200);
}

#[tokio::test]
async fn the_customer_reads_the_material_of_their_order() {
    let app = spawn_app().await;
    let (admin_id, admin) = app.user_token("boss", "admin").await;
    let (customer_id, customer) = app.user_token("buyer", "user").await;
    let (_, stranger) = app.user_token("someone", "user").await;
    let kit = ProductBuilder::package("Rally Kit").price("4999.00").create(&app).await;
    let calls = ProductBuilder::campaign("Voice Calls").price("999.00").create(&app).await;
    let banner = ProductBuilder::package("Banner").price("1500.00").create(&app).await;
    let photo_field = field(
        &app,
        ProductType::Package,
        kit,
        &FieldSpec { max_file_size_mb: Some(5), ..spec("Photo", FieldType::Image, 0) },
    )
    .await;
    let slogan_field = field(
        &app,
        ProductType::Package,
        kit,
        &FieldSpec { max_length: Some(100), ..spec("Slogan", FieldType::Text, 1) },
    )
    .await;
    let count_field = field(
        &app,
        ProductType::Package,
        kit,
        &FieldSpec {
            min_value: Some(1),
            max_value: Some(10),
            help_text: "How many".into(),
            ..spec("Count", FieldType::Number, 2)
        },
    )
    .await;
    let doc_field = field(
        &app,
        ProductType::Package,
        kit,
        &FieldSpec {
            is_required: false,
            allowed_extensions: vec![".pdf".into()],
            ..spec("Manifesto", FieldType::Document, 3)
        },
    )
    .await;
    let order = OrderBuilder::for_user(customer_id)
        .item(ProductType::Package, kit, 2)
        .item(ProductType::Campaign, calls, 1)
        .item(ProductType::Package, banner, 1)
        .paid()
        .by(admin_id)
        .build(&app)
        .await;
    let (id, number) = (order.id, order.number.clone());
    let (kit_line, calls_line, banner_line) = (order.item_ids[0], order.item_ids[1], order.item_ids[2]);

    // The kit's line: resource fields submitted; the calls' line: a legacy upload; the banner's
    // line: nothing yet.
    let image = png(4, 4);
    let photo_key = store_resource(&app, "png", &image);
    let photo = ResourceSubmission::file(kit_line, photo_field, &photo_key).create(&app).await;
    let slogan = ResourceSubmission::text(kit_line, slogan_field, "Vote for change").create(&app).await;
    let count = ResourceSubmission::number(kit_line, count_field, 7).create(&app).await;
    sqlx::query("UPDATE dynamic_resource_submission SET uploaded_at = $1::timestamptz")
        .bind(UPLOADED_AT)
        .execute(&app.pool)
        .await
        .unwrap();
    mark_uploaded(&app, kit_line).await;
    let legacy_photo = png(2, 2);
    let legacy_photo_key = store_resource(&app, "png", &legacy_photo);
    let legacy = legacy_upload(&app, calls_line, &legacy_photo_key, "", "Every voice counts").await;
    mark_uploaded(&app, calls_line).await;

    let res = app.get(&format!("/api/orders/{id}/resources/"), Some(&customer)).await;
    assert_eq!(res.status(), 200);
    let photo_url = format!("/api/secure-files/orders/{id}/candidate_photo/");
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({
            "order_id": id, "order_number": number, "status": "pending_resources",
            "items": [
                {"id": kit_line, "item_type": "package", "item_name": "Rally Kit", "quantity": 2,
                 "resources_uploaded": true, "resources": null},
                {"id": calls_line, "item_type": "campaign", "item_name": "Voice Calls", "quantity": 1,
                 "resources_uploaded": true, "resources": {
                    "id": legacy, "order_item": calls_line, "candidate_photo": photo_url, "party_logo": null,
                    "campaign_slogan": "Every voice counts", "preferred_date": "2025-12-01",
                    "whatsapp_number": "9876543210", "additional_notes": "", "uploaded_at": UPLOADED_AT_IST}},
                {"id": banner_line, "item_type": "package", "item_name": "Banner", "quantity": 1,
                 "resources_uploaded": false, "resources": null},
            ]
        })
    );

    let res = app.get(&format!("/api/orders/{id}/resource-status/"), Some(&customer)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({
            "order_id": id, "order_number": number, "status": "pending_resources",
            "total_items": 3, "progress_percentage": 66, "all_resources_uploaded": false,
            "pending_items": [
                {"id": banner_line, "item_type": "package", "item_name": "Banner", "quantity": 1, "price": 1500.0},
            ],
            "uploaded_items": [
                {"id": kit_line, "item_type": "package", "item_name": "Rally Kit", "quantity": 2,
                 "uploaded_at": UPLOADED_AT_IST},
                {"id": calls_line, "item_type": "campaign", "item_name": "Voice Calls", "quantity": 1,
                 "uploaded_at": UPLOADED_AT_IST},
            ]
        })
    );

    let res = app.get(&format!("/api/orders/{id}/resource-fields/?t=1700000000000"), Some(&customer)).await;
    assert_eq!(res.status(), 200);
    let field = |id: i64, name: &str, kind: &str, required: bool, order: i32| {
        json!({"id": id, "field_name": name, "field_type": kind, "is_required": required, "order": order,
               "help_text": "", "max_file_size_mb": null, "max_length": null, "min_value": null, "max_value": null,
               "allowed_extensions": []})
    };
    let with = |mut f: Value, extra: Value| {
        for (k, v) in extra.as_object().unwrap() {
            f[k] = v.clone();
        }
        f
    };
    let submission_url = format!("/api/secure-files/resources/{photo}/");
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({
            "order_id": id, "order_number": number, "status": "pending_resources",
            "items": [
                {"order_item_id": kit_line, "item_type": "package", "item_name": "Rally Kit", "quantity": 2,
                 "resources_uploaded": true, "fields": [
                    with(field(photo_field, "Photo", "image", true, 0),
                         json!({"max_file_size_mb": 5, "submitted": true, "submission_id": photo, "value": submission_url})),
                    with(field(slogan_field, "Slogan", "text", true, 1),
                         json!({"max_length": 100, "submitted": true, "submission_id": slogan, "value": "Vote for change"})),
                    with(field(count_field, "Count", "number", true, 2),
                         json!({"help_text": "How many", "min_value": 1, "max_value": 10, "submitted": true,
                                "submission_id": count, "value": 7})),
                    with(field(doc_field, "Manifesto", "document", false, 3),
                         json!({"allowed_extensions": [".pdf"], "submitted": false, "submission_id": null, "value": null})),
                 ]},
                {"order_item_id": calls_line, "item_type": "campaign", "item_name": "Voice Calls", "quantity": 1,
                 "resources_uploaded": true, "fields": []},
                {"order_item_id": banner_line, "item_type": "package", "item_name": "Banner", "quantity": 1,
                 "resources_uploaded": false, "fields": []},
            ]
        })
    );

    // Every file the answers name opens for the customer.
    assert_file(
        app.get(&submission_url, Some(&customer)).await,
        "image/png",
        &format!("inline; filename=\"resource-{photo}.png\""),
        &image,
    )
    .await;
    assert_file(
        app.get(&photo_url, Some(&customer)).await,
        "image/png",
        &format!("inline; filename=\"candidate-photo-{id}.png\""),
        &legacy_photo,
    )
    .await;

    // The admin detail names the same paths (the admin app opens `value + "?token=…"`).
    let detail: Value = app.get(&format!("/api/admin/orders/{id}/"), Some(&admin)).await.json().await.unwrap();
    let groups = detail["resources"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{groups:#?}");
    assert_eq!(groups[0]["order_item_id"], kit_line);
    let values: Vec<&Value> = groups[0]["dynamic"].as_array().unwrap().iter().map(|d| &d["value"]).collect();
    assert_eq!(values, [&json!(submission_url), &json!("Vote for change"), &json!(7)]);
    assert_eq!(groups[1]["static"]["candidate_photo"], photo_url.as_str());
    assert_eq!(groups[1]["static"]["party_logo"], Value::Null);
    assert_eq!(detail["items"][0]["resources"]["dynamic"][0]["value"], submission_url.as_str());
    assert_eq!(detail["items"][1]["resources"]["static"]["candidate_photo"], photo_url.as_str());
    for url in [&submission_url, &photo_url] {
        let res = app.get(&format!("{url}?token={admin}"), None).await;
        assert_eq!(res.status(), 200, "{url}");
    }
    let text = serde_json::to_string(&detail).unwrap();
    assert!(!text.contains(RESOURCES_DIR) && !text.contains("/media/"), "no storage key or media URL: {text}");

    // Another customer's order, an unknown one, no credentials.
    for path in ["resources", "resource-status", "resource-fields"] {
        let res = app.get(&format!("/api/orders/{id}/{path}/"), Some(&stranger)).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Order not found"}), "{path}");
        let res = app.get(&format!("/api/orders/999999/{path}/"), Some(&customer)).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Order not found"}), "{path}");
        let res = app.get(&format!("/api/orders/{id}/{path}/"), None).await;
        assert_eq!(res.status(), 401, "{path}");
    }
}

#[tokio::test]
async fn an_order_without_material_has_every_line_pending() {
    let app = spawn_app().await;
    let (customer_id, customer) = app.user_token("buyer", "user").await;
    let kit = ProductBuilder::package("Rally Kit").price("4999.00").create(&app).await;
    let order = OrderBuilder::for_user(customer_id).item(ProductType::Package, kit, 1).build(&app).await;
    let res = app.get(&format!("/api/orders/{}/resource-status/", order.id), Some(&customer)).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "pending_payment");
    assert_eq!(body["total_items"], 1);
    assert_eq!(body["progress_percentage"], 0);
    assert_eq!(body["all_resources_uploaded"], false);
    assert_eq!(body["pending_items"][0]["price"], 4999.0);
    assert_eq!(body["uploaded_items"], json!([]));
    let body: Value =
        app.get(&format!("/api/orders/{}/resource-fields/", order.id), Some(&customer)).await.json().await.unwrap();
    assert_eq!(body["items"][0]["fields"], json!([]));
}

//! OWASP API Security Top 10 (2023), one module per item. The tables are derived from the
//! OpenAPI document the binary serves (`/api/schema/`), so a new route is covered (or must be
//! classified) the day it is added; intentional exceptions are explicit, commented allow-lists.
//!
//! Shared here: the document's operations, a [`World`] of two customers, two staff members and
//! an admin with one object of every kind that belongs to a user (Alice's order, cart line,
//! notification, uploaded file, payment proof, checklist item), and the path filler that turns a
//! documented path into a concrete one about Alice's objects.

mod api10_unsafe_consumption;
mod api1_object_level;
mod api2_authentication;
mod api3_property_level;
mod api4_resource_consumption;
mod api5_function_level;
mod api6_sensitive_flows;
mod api7_ssrf;
mod api8_misconfiguration;
mod api9_inventory;

use common::catalog::ProductType;
use common::catalog::resource_fields::{self, FieldSpec, FieldType};
use common::media::{PROOFS_DIR, RESOURCES_DIR};
use e2e::TestApp;
use e2e::builders::{
    BuiltOrder, ImageBuilder, NotificationBuilder, OrderBuilder, ProductBuilder, ResourceSubmission,
    TemplateItemBuilder, UserBuilder, ensure_checklist,
};
use e2e::fixtures::{field_spec, png, write_media};
use reqwest::Method;
use serde_json::{Value, json};

/// The §1 body of a missing token.
pub fn not_provided() -> Value {
    json!({"detail": "Authentication credentials were not provided."})
}

/// The §1 body of a wrong role.
pub fn no_permission() -> Value {
    json!({"detail": "You do not have permission to perform this action."})
}

/// Status and body (JSON, else the text as a JSON string).
pub async fn answer(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// One documented operation.
#[derive(Debug, Clone)]
pub struct Op {
    /// HTTP method.
    pub method: Method,
    /// Documented path, with `{params}`.
    pub path: String,
    /// Whether the document says it takes a Bearer token at all.
    pub secured: bool,
    /// The operation object.
    pub spec: Value,
}

impl Op {
    /// `"METHOD /path"`, for messages and allow-lists.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Whether the path takes a parameter.
    pub fn has_params(&self) -> bool {
        self.path.contains('{')
    }

    /// Whether the request body is JSON (else multipart, form or none).
    pub fn json_body(&self) -> bool {
        self.spec["requestBody"]["content"].get("application/json").is_some()
    }
}

/// The OpenAPI document the app serves.
pub async fn document(app: &TestApp) -> Value {
    let res = app.get("/api/schema/", None).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Every operation of the document.
pub fn operations(doc: &Value) -> Vec<Op> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, spec) in item.as_object().expect("path item") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else { continue };
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str()) {
                continue;
            }
            let secured = spec["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.as_object().is_some_and(|o| o.contains_key("bearer"))));
            out.push(Op { method, path: path.clone(), secured, spec: spec.clone() });
        }
    }
    assert!(out.len() > 100, "the document lists every route ({})", out.len());
    out
}

/// Sends `method path` with an optional token: a JSON `{}` body for POST/PUT/PATCH.
pub async fn call(app: &TestApp, method: &Method, path: &str, token: Option<&str>) -> reqwest::Response {
    call_with(app, method, path, token, &json!({})).await
}

/// Sends `method path` with an optional token and a JSON body (none for GET/DELETE).
pub async fn call_with(
    app: &TestApp,
    method: &Method,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut req = app.client.request(method.clone(), app.url(path));
    if !matches!(*method, Method::GET | Method::DELETE) {
        req = req.json(body);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

/// An access token for the user, signed as the service signs them (no session: the old
/// backend's kind), without signing in, so building a world spends none of the login limit.
pub fn token_for(user_id: i64) -> String {
    let secret = secrecy::SecretString::from(e2e::TEST_JWT_SECRET);
    let keys = common::accounts::jwt::JwtKeys::new(&secret, std::time::Duration::from_secs(3_600)).unwrap();
    keys.issue(user_id, None, "user", None).unwrap()
}

/// A signed-in account.
#[derive(Debug, Clone)]
pub struct Account {
    /// `users.id`.
    pub id: i64,
    /// Access token.
    pub token: String,
}

/// Two customers, two staff members and an admin, and one object of every user-owned kind,
/// all Alice's (her order is paid and assigned to `staff`, not to `other_staff`).
pub struct World {
    /// Role admin.
    pub admin: Account,
    /// Role staff, Alice's order's assignee.
    pub staff: Account,
    /// Role staff, assigned nothing.
    pub other_staff: Account,
    /// The owner of everything below.
    pub alice: Account,
    /// Another customer.
    pub bob: Account,
    /// A package.
    pub package: i64,
    /// A campaign.
    pub campaign: i64,
    /// Alice's paid order, assigned, with a checklist.
    pub order: BuiltOrder,
    /// A line of Alice's cart.
    pub cart_item: i64,
    /// Alice's notification.
    pub notification: i64,
    /// A file Alice submitted for her order line.
    pub submission: i64,
    /// A payment record of Alice's order with a proof file.
    pub record: i64,
    /// An item of her order's checklist.
    pub checklist_item: i64,
    /// A product image.
    pub image: i64,
    /// A checklist template item of the package.
    pub template: i64,
    /// A resource field of the package.
    pub field: i64,
}

impl World {
    /// Builds the world in `app`'s database.
    pub async fn new(app: &TestApp) -> World {
        let account = |b: UserBuilder| async move {
            let id = b.create(app).await;
            Account { id, token: token_for(id) }
        };
        let admin = account(UserBuilder::new("owasp-admin").admin()).await;
        let staff = account(UserBuilder::new("owasp-staff").staff()).await;
        let other_staff = account(UserBuilder::new("owasp-staff-2").staff()).await;
        let alice = account(UserBuilder::new("alice").phone("9876500001")).await;
        let bob = account(UserBuilder::new("bob").phone("9876500002")).await;
        let package = ProductBuilder::package("OWASP Kit").price("4999.00").create(app).await;
        let campaign = ProductBuilder::campaign("OWASP Drive").price("999.00").create(app).await;
        let photo_field = FieldSpec { is_required: false, ..field_spec("Photo", FieldType::Image) };
        let field = resource_fields::create(&app.pool, ProductType::Package, package, &photo_field)
            .await
            .unwrap()
            .expect("the package")
            .id;
        let order = OrderBuilder::for_user(alice.id)
            .item(ProductType::Package, package, 1)
            .paid()
            .assigned_to(staff.id)
            .with_checklist()
            .build(app)
            .await;
        let checklist = ensure_checklist(app, order.id).await;
        let checklist_item: i64 =
            sqlx::query_scalar("SELECT id FROM checklist_item WHERE checklist_id = $1 ORDER BY order_index LIMIT 1")
                .bind(checklist)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        let key = write_media(app, RESOURCES_DIR, "png", &png(1, 1));
        let submission = ResourceSubmission::file(order.item_ids[0], field, &key).create(app).await;
        let photo = write_media(app, RESOURCES_DIR, "png", &png(1, 1));
        sqlx::query(
            "INSERT INTO order_resource (order_item_id, candidate_photo, party_logo, campaign_slogan, preferred_date,
                                         whatsapp_number, additional_notes)
             VALUES ($1, $2, $2, 'Vote', '2026-12-01', '9876543210', '')",
        )
        .bind(order.item_ids[0])
        .bind(&photo)
        .execute(&app.pool)
        .await
        .unwrap();
        let proof = write_media(app, PROOFS_DIR, "png", &png(1, 1));
        let record: i64 = sqlx::query_scalar(
            "INSERT INTO payment_record (order_id, amount, payment_method, payment_reference, payment_proof, notes)
             VALUES ($1, 1, 'upi', 'UTR1', $2, '') RETURNING id",
        )
        .bind(order.id)
        .bind(&proof)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        common::cart::add(&app.pool, alice.id, ProductType::Campaign, campaign, 1).await.unwrap();
        let cart_item: i64 = sqlx::query_scalar(
            "SELECT ci.id FROM cart_item ci JOIN cart c ON c.id = ci.cart_id WHERE c.user_id = $1 LIMIT 1",
        )
        .bind(alice.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        let notification = NotificationBuilder::for_user(alice.id).order(order.id).create(app).await;
        let image = ImageBuilder::stored(
            ProductType::Package,
            package,
            "https://res.cloudinary.com/demo/image/upload/v1/a.png",
        )
        .create(app)
        .await;
        let template = TemplateItemBuilder::new(ProductType::Package, package, "Print").create(app).await;
        World {
            admin,
            staff,
            other_staff,
            alice,
            bob,
            package,
            campaign,
            order,
            cart_item,
            notification,
            submission,
            record,
            checklist_item,
            image,
            template,
            field,
        }
    }

    /// A documented path made concrete: every parameter names Alice's object of that kind (or
    /// the package, for catalogue routes).
    pub fn fill(&self, path: &str) -> String {
        let id = if path.starts_with("/api/admin/notifications/") {
            self.notification
        } else if path.starts_with("/api/admin/products/images/") {
            self.image
        } else if path.starts_with("/api/admin/products/checklist-template/") {
            self.template
        } else if path.starts_with("/api/admin/products/resource-fields/") {
            self.field
        } else if path.starts_with("/api/admin/products/campaigns/") || path.starts_with("/api/campaigns/") {
            self.campaign
        } else if path.starts_with("/api/auth/users/") {
            self.alice.id
        } else if path.contains("/orders/") {
            self.order.id
        } else {
            self.package
        };
        path.replace("{id}", &id.to_string())
            .replace("{type}", "package")
            .replace(
                "{item_id}",
                &if path.starts_with("/api/cart/") { self.cart_item } else { self.checklist_item }.to_string(),
            )
            .replace("{note_id}", "1")
            .replace("{image_id}", &self.image.to_string())
            .replace("{submission_id}", &self.submission.to_string())
            .replace("{order_id}", &self.order.id.to_string())
            .replace("{resource_type}", "candidate_photo")
            .replace("{record_id}", &self.record.to_string())
            .replace("{queue}", "emails")
            .replace("{job_id}", "00000000000000000000000000")
    }
}

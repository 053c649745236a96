//! Checklist templates under `/api/admin/products/` (API.md §4.9, §5 #6, #9, #18).

use common::catalog::ProductType;
use e2e::builders::{OrderBuilder, ProductBuilder, ensure_checklist};
use e2e::{TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

/// An order of a new customer with one line of the product; returns (order id, order item id).
pub async fn order_with_line(app: &TestApp, kind: ProductType, product_id: i64) -> (i64, i64) {
    let user = app.create_user("buyer", "pw-pw-pw-pw", "user", "").await;
    let order = OrderBuilder::for_user(user).item(kind, product_id, 1).number("EC-20261129-CAFE0001").build(app).await;
    (order.id, order.item_ids[0])
}

/// A serializer timestamp: Asia/Kolkata with microseconds.
pub fn assert_ist(v: &Value) {
    let s = v.as_str().unwrap_or_default();
    assert!(
        s.len() == 32
            && s.ends_with("+05:30")
            && s.as_bytes()[19] == b'.'
            && chrono::DateTime::parse_from_rfc3339(s).is_ok(),
        "not an IST serializer timestamp: {v}"
    );
}

async fn json_of(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn base(product_type: &str, id: i64) -> String {
    format!("/api/admin/products/{product_type}/{id}/checklist-template/")
}

fn item_path(id: i64) -> String {
    format!("/api/admin/products/checklist-template/{id}/")
}

const REORDER: &str = "/api/admin/products/checklist-template/reorder/";

#[tokio::test]
async fn create_list_get_update_delete() {
    let app = spawn_app().await;
    let (_, admin) = app.user_token("admin1", "admin").await;
    let pkg = ProductBuilder::package("Gold").create(&app).await;

    let (status, body) = json_of(app.get(&base("package", pkg), Some(&admin)).await).await;
    assert_eq!((status, body), (200, json!([])));

    // First item: order 0; the second: max + 1.
    let res = app
        .post(&base("package", pkg), &json!({"name": "Print banners", "description": "Flex, 10x4"}), Some(&admin))
        .await;
    let (status, first) = json_of(res).await;
    assert_eq!(status, 201);
    let first_id = first["id"].as_i64().unwrap();
    assert_eq!(
        first,
        json!({
            "id": first_id, "name": "Print banners", "description": "Flex, 10x4", "order": 0, "is_optional": false,
            "estimated_duration_minutes": null, "created_at": first["created_at"], "product_type": "package",
            "product_id": pkg,
        })
    );
    assert_ist(&first["created_at"]);
    let (_, second) = json_of(
        app.post(
            &base("package", pkg),
            &json!({"name": "  Call customer  ", "description": "Confirm", "is_optional": true, "estimated_duration_minutes": 30}),
            Some(&admin),
        )
        .await,
    )
    .await;
    assert_eq!(second["order"], 1);
    assert_eq!(second["name"], "Call customer", "whitespace trimmed as DRF does");
    assert_eq!(second["is_optional"], true);
    assert_eq!(second["estimated_duration_minutes"], 30);
    let (_, tenth) = json_of(
        app.post(&base("package", pkg), &json!({"name": "Late", "description": "d", "order": "10"}), Some(&admin))
            .await,
    )
    .await;
    assert_eq!(tenth["order"], 10);
    let (_, next) =
        json_of(app.post(&base("package", pkg), &json!({"name": "Next", "description": "d"}), Some(&admin)).await)
            .await;
    assert_eq!(next["order"], 11);
    // A tie on `order` is broken by id.
    let (_, tie) = json_of(
        app.post(&base("package", pkg), &json!({"name": "Tie", "description": "d", "order": 1}), Some(&admin)).await,
    )
    .await;

    // Another product's items are counted separately.
    let camp = ProductBuilder::campaign("SMS").create(&app).await;
    let (status, other) = json_of(
        app.post(&base("campaign", camp), &json!({"name": "Send SMS", "description": "d"}), Some(&admin)).await,
    )
    .await;
    assert_eq!((status, other["order"].clone(), other["product_type"].clone()), (201, json!(0), json!("campaign")));

    let (status, list) = json_of(app.get(&base("package", pkg), Some(&admin)).await).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Print banners", "Call customer", "Tie", "Late", "Next"]);
    assert_eq!(list[0], first);

    // GET one: the same shape (the path is not taken for `{type}/{id}/`).
    let (status, got) = json_of(app.get(&item_path(first_id), Some(&admin)).await).await;
    assert_eq!((status, got), (200, first.clone()));

    // PUT without `order`, `is_optional`, `estimated_duration_minutes` keeps them (§5 #18).
    let second_id = second["id"].as_i64().unwrap();
    let res = app
        .send(
            Method::PUT,
            &item_path(second_id),
            &json!({"name": "Call the customer", "description": "Confirm all"}),
            Some(&admin),
        )
        .await;
    let (status, put) = json_of(res).await;
    assert_eq!(status, 200);
    assert_eq!(
        put,
        json!({
            "id": second_id, "name": "Call the customer", "description": "Confirm all", "order": 1, "is_optional": true,
            "estimated_duration_minutes": 30, "created_at": second["created_at"], "product_type": "package",
            "product_id": pkg,
        })
    );
    // PUT is a full update: name and description are required.
    let res = app.send(Method::PUT, &item_path(second_id), &json!({"order": 3}), Some(&admin)).await;
    assert_eq!(
        json_of(res).await,
        (400, json!({"name": ["This field is required."], "description": ["This field is required."]}))
    );
    // PUT with `order` moves it.
    let res = app
        .send(
            Method::PUT,
            &item_path(second_id),
            &json!({"name": "Call", "description": "C", "order": 7}),
            Some(&admin),
        )
        .await;
    assert_eq!(json_of(res).await.1["order"], 7);

    // PATCH: any subset; null clears the duration.
    let res = app
        .send(Method::PATCH, &item_path(second_id), &json!({"estimated_duration_minutes": null}), Some(&admin))
        .await;
    let (status, patched) = json_of(res).await;
    assert_eq!(status, 200);
    assert_eq!(patched["estimated_duration_minutes"], Value::Null);
    assert_eq!((patched["name"].clone(), patched["order"].clone()), (json!("Call"), json!(7)));
    let res = app
        .send(Method::PATCH, &item_path(second_id), &json!({"is_optional": "false", "description": ""}), Some(&admin))
        .await;
    assert_eq!(json_of(res).await, (400, json!({"description": ["This field may not be blank."]})));
    let res = app.send(Method::PATCH, &item_path(second_id), &json!({"is_optional": "false"}), Some(&admin)).await;
    assert_eq!(json_of(res).await.1["is_optional"], false);

    // DELETE → 204, then gone.
    let res = app.send(Method::DELETE, &item_path(tie["id"].as_i64().unwrap()), &json!({}), Some(&admin)).await;
    assert_eq!(res.status(), 204);
    assert!(res.bytes().await.unwrap().is_empty());
    let missing = json!({"detail": "No ChecklistTemplateItem matches the given query."});
    for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
        let res = app.send(method.clone(), &item_path(tie["id"].as_i64().unwrap()), &json!({}), Some(&admin)).await;
        assert_eq!(json_of(res).await, (404, missing.clone()), "{method}");
    }
    // An unknown id is a 404 even with a valid body.
    let res = app.send(Method::PUT, &item_path(999_999), &json!({"name": "n", "description": "d"}), Some(&admin)).await;
    assert_eq!(json_of(res).await, (404, missing));
    let res = app.get("/api/admin/products/checklist-template/abc/", Some(&admin)).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn validation_messages() {
    let app = spawn_app().await;
    let (_, admin) = app.user_token("admin1", "admin").await;
    let pkg = ProductBuilder::package("Gold").create(&app).await;
    let path = base("package", pkg);
    let cases = [
        (json!({}), json!({"name": ["This field is required."], "description": ["This field is required."]})),
        (
            json!({"name": "", "description": "   "}),
            json!({"name": ["This field may not be blank."], "description": ["This field may not be blank."]}),
        ),
        (
            json!({"name": "n".repeat(201), "description": "d"}),
            json!({"name": ["Ensure this field has no more than 200 characters."]}),
        ),
        (
            json!({"name": "n", "description": "d", "order": "first", "estimated_duration_minutes": "soon"}),
            json!({"order": ["A valid integer is required."], "estimated_duration_minutes": ["A valid integer is required."]}),
        ),
        (json!({"name": "n", "description": "d", "order": 1.5}), json!({"order": ["A valid integer is required."]})),
        (json!({"name": "n", "description": "d", "order": null}), json!({"order": ["This field may not be null."]})),
        (
            json!({"name": "n", "description": "d", "order": 3_000_000_000_i64}),
            json!({"order": ["Ensure this value is less than or equal to 2147483647."]}),
        ),
        (
            json!({"name": "n", "description": "d", "is_optional": "maybe"}),
            json!({"is_optional": ["Must be a valid boolean."]}),
        ),
        (json!({"name": ["n"], "description": "d"}), json!({"name": ["Not a valid string."]})),
    ];
    for (body, expected) in cases {
        let res = app.post(&path, &body, Some(&admin)).await;
        assert_eq!(json_of(res).await, (400, expected), "{body}");
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM checklist_template_item").fetch_one(&app.pool).await.unwrap();
    assert_eq!(n, 0, "refused requests wrote nothing");

    // Exactly 200 characters is fine.
    let res = app.post(&path, &json!({"name": "n".repeat(200), "description": "d"}), Some(&admin)).await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn product_type_and_missing_product() {
    let app = spawn_app().await;
    let (_, admin) = app.user_token("admin1", "admin").await;
    let pkg = ProductBuilder::package("Gold").create(&app).await;
    let invalid = json!({"error": "Invalid product type. Must be \"package\" or \"campaign\""});
    let res = app.get(&base("bundle", pkg), Some(&admin)).await;
    assert_eq!(json_of(res).await, (400, invalid.clone()));
    let res = app.post(&base("bundle", pkg), &json!({"name": "n", "description": "d"}), Some(&admin)).await;
    assert_eq!(json_of(res).await, (400, invalid));

    let res = app.get(&base("package", pkg + 100), Some(&admin)).await;
    assert_eq!(json_of(res).await, (404, json!({"detail": "No Package matches the given query."})));
    let res = app.get(&base("campaign", pkg), Some(&admin)).await;
    assert_eq!(json_of(res).await, (404, json!({"detail": "No Campaign matches the given query."})));
    // The product's 404 comes before the body's 400, and nothing is written.
    let res = app.post(&base("package", pkg + 100), &json!({}), Some(&admin)).await;
    assert_eq!(json_of(res).await, (404, json!({"detail": "No Package matches the given query."})));
    let res = app.post(&base("package", pkg + 100), &json!({"name": "n", "description": "d"}), Some(&admin)).await;
    assert_eq!(res.status(), 404);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM checklist_template_item").fetch_one(&app.pool).await.unwrap();
    assert_eq!(n, 0);
    // A non-integer product id is not a route.
    let res = app.get("/api/admin/products/package/abc/checklist-template/", Some(&admin)).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn only_admin_star_users() {
    let app = spawn_app().await;
    let (_, customer) = app.user_token("cust", "user").await;
    let (_, staff) = app.user_token("stf", "staff").await;
    let (flagged_id, flagged) = app.user_token("flagged", "staff").await;
    sqlx::query("UPDATE users SET is_staff = true WHERE id = $1").bind(flagged_id).execute(&app.pool).await.unwrap();
    let pkg = ProductBuilder::package("Gold").create(&app).await;
    let routes = [
        (Method::GET, base("package", pkg)),
        (Method::POST, base("package", pkg)),
        (Method::GET, item_path(1)),
        (Method::PUT, item_path(1)),
        (Method::PATCH, item_path(1)),
        (Method::DELETE, item_path(1)),
        (Method::PATCH, REORDER.to_string()),
    ];
    let forbidden = json!({"detail": "You do not have permission to perform this action."});
    for token in [&customer, &staff] {
        for (method, path) in &routes {
            let res = app.send(method.clone(), path, &json!({}), Some(token)).await;
            assert_eq!(json_of(res).await, (403, forbidden.clone()), "{method} {path}");
        }
    }
    for (method, path) in &routes {
        let res = app.send(method.clone(), path, &json!({}), None).await;
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        assert_eq!(
            json_of(res).await,
            (401, json!({"detail": "Authentication credentials were not provided."})),
            "{method} {path}"
        );
    }
    // `admin*`: the is_staff flag is enough.
    let res = app.post(&base("package", pkg), &json!({"name": "n", "description": "d"}), Some(&flagged)).await;
    assert_eq!(res.status(), 201);
    let res = app.get(&base("package", pkg), Some(&flagged)).await;
    assert_eq!(json_of(res).await.1.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn delete_of_an_item_used_by_an_order_checklist_is_refused() {
    let app = spawn_app().await;
    let (_, admin) = app.user_token("admin1", "admin").await;
    let pkg = ProductBuilder::package("Gold").create(&app).await;
    let (_, item) =
        json_of(app.post(&base("package", pkg), &json!({"name": "Print", "description": "d"}), Some(&admin)).await)
            .await;
    let id = item["id"].as_i64().unwrap();
    let (order, _) = order_with_line(&app, ProductType::Package, pkg).await;
    // Built from the product's template: one item, "Print", referring to the template item.
    let checklist = ensure_checklist(&app, order).await;
    let res = app.send(Method::DELETE, &item_path(id), &json!({}), Some(&admin)).await;
    assert_eq!(
        json_of(res).await,
        (409, json!({"error": "Cannot delete a checklist template item that is used by an order checklist"}))
    );
    let res = app.get(&item_path(id), Some(&admin)).await;
    assert_eq!(json_of(res).await, (200, item));
    // Once the order's checklist is gone, the item can go.
    sqlx::query("DELETE FROM order_checklist WHERE id = $1").bind(checklist).execute(&app.pool).await.unwrap();
    let res = app.send(Method::DELETE, &item_path(id), &json!({}), Some(&admin)).await;
    assert_eq!(res.status(), 204);
}

#[tokio::test]
async fn reorder_both_forms_all_or_nothing() {
    let app = spawn_app().await;
    let (_, admin) = app.user_token("admin1", "admin").await;
    let pkg = ProductBuilder::package("Gold").create(&app).await;
    let mut ids = Vec::new();
    for name in ["A", "B", "C"] {
        let (_, item) =
            json_of(app.post(&base("package", pkg), &json!({"name": name, "description": "d"}), Some(&admin)).await)
                .await;
        ids.push(item["id"].as_i64().unwrap());
    }
    let orders = || async {
        let rows: Vec<(i64, i32)> = sqlx::query_as(r#"SELECT id, "order" FROM checklist_template_item ORDER BY id"#)
            .fetch_all(&app.pool)
            .await
            .unwrap();
        rows
    };

    // `{items:[{id, order}]}`.
    let body = json!({"items": [{"id": ids[0], "order": 2}, {"id": ids[1], "order": 0}, {"id": ids[2], "order": 1}]});
    let res = app.send(Method::PATCH, REORDER, &body, Some(&admin)).await;
    let (status, reordered) = json_of(res).await;
    assert_eq!(status, 200);
    assert_eq!(reordered["message"], "Successfully reordered 3 items");
    let names: Vec<&str> = reordered["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["B", "C", "A"]);
    assert_eq!(reordered["items"][0]["product_type"], "package");
    assert_ist(&reordered["items"][0]["created_at"]);
    assert_eq!(orders().await, vec![(ids[0], 2), (ids[1], 0), (ids[2], 1)]);

    // §5 #9 `{item_ids:[…]}`: order = 0-based position.
    let res = app.send(Method::PATCH, REORDER, &json!({"item_ids": [ids[2], ids[0]]}), Some(&admin)).await;
    let (status, reordered) = json_of(res).await;
    assert_eq!(status, 200);
    assert_eq!(reordered["message"], "Successfully reordered 2 items");
    assert_eq!(reordered["items"].as_array().unwrap().len(), 2);
    assert_eq!(orders().await, vec![(ids[0], 1), (ids[1], 0), (ids[2], 0)]);
    let (_, list) = json_of(app.get(&base("package", pkg), Some(&admin)).await).await;
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["B", "C", "A"], "ties by id");

    // Bad bodies.
    let required = json!({"error": "Items array is required with format: [{\"id\": 1, \"order\": 0}, ...]"});
    for body in [
        json!({}),
        json!({"items": []}),
        json!({"item_ids": []}),
        json!({"items": "1,2"}),
        json!({"items": [{"id": ids[0]}]}),
        json!({"items": [{"id": "x", "order": 1}]}),
    ] {
        let res = app.send(Method::PATCH, REORDER, &body, Some(&admin)).await;
        assert_eq!(json_of(res).await, (400, required.clone()), "{body}");
    }
    // An unknown id: 404 and nothing changed, even for the known ones.
    let before = orders().await;
    let body = json!({"items": [{"id": ids[0], "order": 9}, {"id": 999_999, "order": 0}]});
    let res = app.send(Method::PATCH, REORDER, &body, Some(&admin)).await;
    assert_eq!(json_of(res).await, (404, json!({"error": "One or more checklist items not found"})));
    let res = app.send(Method::PATCH, REORDER, &json!({"item_ids": [ids[1], 999_999]}), Some(&admin)).await;
    assert_eq!(res.status(), 404);
    assert_eq!(orders().await, before);

    // `reorder` is its own route, not an `{id}`.
    let res = app.get(REORDER, Some(&admin)).await;
    assert_eq!(json_of(res).await, (405, json!({"detail": "Method \"GET\" not allowed."})));
}

#[tokio::test]
async fn every_route_is_documented() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/schema/", None).await.json().await.unwrap();
    for (path, methods) in [
        ("/api/admin/products/{type}/{id}/checklist-template/", &["get", "post"][..]),
        ("/api/admin/products/checklist-template/{id}/", &["get", "put", "patch", "delete"][..]),
        ("/api/admin/products/checklist-template/reorder/", &["patch"][..]),
    ] {
        for method in methods {
            assert!(doc["paths"][path][method].is_object(), "{method} {path} missing from the OpenAPI document");
        }
    }
    assert!(doc["components"]["schemas"]["ChecklistTemplateOut"].is_object());
}

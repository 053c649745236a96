//! Resource-field definitions under `/api/admin/products/` (API.md §4.9, §7.4, §5 #9).

use common::catalog::ProductType;
use e2e::builders::{ProductBuilder, ResourceSubmission};
use e2e::spawn_app;
use reqwest::Method;
use serde_json::{Value, json};

use super::admin_checklists::{assert_ist, order_with_line};

async fn json_of(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn base(product_type: &str, id: i64) -> String {
    format!("/api/admin/products/{product_type}/{id}/resource-fields/")
}

fn field_path(id: i64) -> String {
    format!("/api/admin/products/resource-fields/{id}/")
}

const REORDER: &str = "/api/admin/products/resource-fields/reorder/";

#[tokio::test]
async fn create_list_get_update_delete() {
    let app = spawn_app().await;
    let (_, admin) = app.user_token("admin1", "admin").await;
    let pkg = ProductBuilder::package("Gold").create(&app).await;

    let res = app.get(&base("package", pkg), Some(&admin)).await;
    assert_eq!(json_of(res).await, (200, json!({"success": true, "fields": []})));

    let res = app
        .post(&base("package", pkg), &json!({"field_name": "Candidate photo", "field_type": "image"}), Some(&admin))
        .await;
    let (status, created) = json_of(res).await;
    assert_eq!(status, 201);
    let photo = created["field"].clone();
    let photo_id = photo["id"].as_i64().unwrap();
    assert_eq!(
        created,
        json!({
            "success": true,
            "message": "Resource field created successfully",
            "field": {
                "id": photo_id, "product_type": "package", "product_id": pkg, "field_name": "Candidate photo",
                "field_type": "image", "is_required": true, "order": 0, "help_text": "", "max_file_size_mb": null,
                "max_length": null, "min_value": null, "max_value": null, "allowed_extensions": [],
                "created_at": photo["created_at"],
            },
        })
    );
    assert_ist(&photo["created_at"]);

    let full = json!({
        "field_name": "Manifesto", "field_type": "document", "is_required": false, "order": 2,
        "help_text": "PDF or Word", "max_file_size_mb": 20, "allowed_extensions": [".pdf", ".docx"],
    });
    let (status, created) = json_of(app.post(&base("package", pkg), &full, Some(&admin)).await).await;
    assert_eq!(status, 201);
    let doc = created["field"].clone();
    let doc_id = doc["id"].as_i64().unwrap();
    assert_eq!(
        doc,
        json!({
            "id": doc_id, "product_type": "package", "product_id": pkg, "field_name": "Manifesto",
            "field_type": "document", "is_required": false, "order": 2, "help_text": "PDF or Word",
            "max_file_size_mb": 20, "max_length": null, "min_value": null, "max_value": null,
            "allowed_extensions": [".pdf", ".docx"], "created_at": doc["created_at"],
        })
    );
    let (_, created) = json_of(
        app.post(
            &base("package", pkg),
            &json!({"field_name": "Voters", "field_type": "number", "order": "1", "min_value": 0, "max_value": 1000}),
            Some(&admin),
        )
        .await,
    )
    .await;
    let voters = created["field"].clone();
    assert_eq!(
        (voters["min_value"].clone(), voters["max_value"].clone(), voters["order"].clone()),
        (json!(0), json!(1000), json!(1))
    );
    // A tie on `order` is broken by id.
    let (_, created) = json_of(
        app.post(
            &base("package", pkg),
            &json!({"field_name": "Slogan", "field_type": "text", "max_length": 500}),
            Some(&admin),
        )
        .await,
    )
    .await;
    assert_eq!(created["field"]["max_length"], 500);

    let (status, list) = json_of(app.get(&base("package", pkg), Some(&admin)).await).await;
    assert_eq!(status, 200);
    assert_eq!(list["success"], true);
    let names: Vec<&str> =
        list["fields"].as_array().unwrap().iter().map(|f| f["field_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Candidate photo", "Slogan", "Voters", "Manifesto"]);
    assert_eq!(list["fields"][3], doc);

    let res = app.get(&field_path(doc_id), Some(&admin)).await;
    assert_eq!(
        json_of(res).await,
        (200, json!({"success": true, "message": "GET request successful - URL is working!", "field": doc.clone()}))
    );

    // PUT is a full update: a PUT without `order` resets it to 0 (§7.4), other absent fields to defaults.
    let res = app
        .send(
            Method::PUT,
            &field_path(doc_id),
            &json!({"field_name": "Manifesto PDF", "field_type": "document", "allowed_extensions": [".pdf"]}),
            Some(&admin),
        )
        .await;
    let (status, updated) = json_of(res).await;
    assert_eq!(status, 200);
    assert_eq!(
        updated,
        json!({
            "success": true,
            "message": "Resource field updated successfully",
            "field": {
                "id": doc_id, "product_type": "package", "product_id": pkg, "field_name": "Manifesto PDF",
                "field_type": "document", "is_required": true, "order": 0, "help_text": "", "max_file_size_mb": null,
                "max_length": null, "min_value": null, "max_value": null, "allowed_extensions": [".pdf"],
                "created_at": doc["created_at"],
            },
        })
    );
    // Keeping its own name is not a duplicate.
    let res = app
        .send(
            Method::PUT,
            &field_path(doc_id),
            &json!({"field_name": "Manifesto PDF", "field_type": "document", "order": 4}),
            Some(&admin),
        )
        .await;
    assert_eq!(json_of(res).await.1["field"]["order"], 4);

    let res = app.send(Method::DELETE, &field_path(photo_id), &json!({}), Some(&admin)).await;
    assert_eq!(json_of(res).await, (200, json!({"success": true, "message": "Resource field deleted successfully"})));
    let missing = json!({"success": false, "message": "Resource field not found"});
    for method in [Method::GET, Method::DELETE] {
        let res = app.send(method.clone(), &field_path(photo_id), &json!({}), Some(&admin)).await;
        assert_eq!(json_of(res).await, (404, missing.clone()), "{method}");
    }
    // An unknown id is a 404 with a valid or an invalid body.
    let res = app
        .send(Method::PUT, &field_path(photo_id), &json!({"field_name": "x", "field_type": "text"}), Some(&admin))
        .await;
    assert_eq!(json_of(res).await, (404, missing.clone()));
    let res = app.send(Method::PUT, &field_path(photo_id), &json!({}), Some(&admin)).await;
    assert_eq!(json_of(res).await, (404, missing));
}

#[tokio::test]
async fn names_are_unique_per_product() {
    let app = spawn_app().await;
    let (_, admin) = app.user_token("admin1", "admin").await;
    let pkg = ProductBuilder::package("Gold").create(&app).await;
    let camp = ProductBuilder::campaign("SMS").create(&app).await;
    let body = json!({"field_name": "Logo", "field_type": "image"});
    let res = app.post(&base("package", pkg), &body, Some(&admin)).await;
    assert_eq!(res.status(), 201);
    let duplicate = json!({"success": false, "message": "Field with name \"Logo\" already exists for this product"});
    let res =
        app.post(&base("package", pkg), &json!({"field_name": " Logo ", "field_type": "document"}), Some(&admin)).await;
    assert_eq!(json_of(res).await, (400, duplicate.clone()));
    // Another product may use the name.
    let res = app.post(&base("campaign", camp), &body, Some(&admin)).await;
    assert_eq!(res.status(), 201);
    // Renaming onto an existing name is refused too.
    let (_, other) = json_of(
        app.post(&base("package", pkg), &json!({"field_name": "Photo", "field_type": "image"}), Some(&admin)).await,
    )
    .await;
    let res = app.send(Method::PUT, &field_path(other["field"]["id"].as_i64().unwrap()), &body, Some(&admin)).await;
    assert_eq!(json_of(res).await, (400, duplicate));
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM resource_field_definition").fetch_one(&app.pool).await.unwrap();
    assert_eq!(n, 3);
}

#[tokio::test]
async fn definition_rules() {
    let app = spawn_app().await;
    let (_, admin) = app.user_token("admin1", "admin").await;
    let pkg = ProductBuilder::package("Gold").create(&app).await;
    let path = base("package", pkg);
    let refused = [
        (json!({}), json!({"field_name": ["This field is required."], "field_type": ["This field is required."]})),
        (
            json!({"field_name": "", "field_type": "video"}),
            json!({"field_name": ["This field may not be blank."], "field_type": ["\"video\" is not a valid choice."]}),
        ),
        (
            json!({"field_name": "n".repeat(101), "field_type": "text", "help_text": "h".repeat(201)}),
            json!({
                "field_name": ["Ensure this field has no more than 100 characters."],
                "help_text": ["Ensure this field has no more than 200 characters."],
            }),
        ),
        (
            json!({"field_name": "P", "field_type": "image", "max_file_size_mb": 11}),
            json!({"max_file_size_mb": ["Ensure this value is less than or equal to 10."]}),
        ),
        (
            json!({"field_name": "D", "field_type": "document", "max_file_size_mb": 21}),
            json!({"max_file_size_mb": ["Ensure this value is less than or equal to 20."]}),
        ),
        (
            json!({"field_name": "D", "field_type": "document", "max_file_size_mb": 0}),
            json!({"max_file_size_mb": ["Ensure this value is greater than or equal to 1."]}),
        ),
        (
            json!({"field_name": "T", "field_type": "text", "max_length": 501}),
            json!({"max_length": ["Ensure this value is less than or equal to 500."]}),
        ),
        (
            json!({"field_name": "N", "field_type": "number", "min_value": 10, "max_value": 5}),
            json!({"min_value": ["min_value cannot be greater than max_value."]}),
        ),
        (
            json!({"field_name": "N", "field_type": "number", "min_value": "low", "is_required": "sometimes", "order": "x"}),
            json!({
                "min_value": ["A valid integer is required."],
                "is_required": ["Must be a valid boolean."],
                "order": ["A valid integer is required."],
            }),
        ),
        (
            json!({"field_name": "D", "field_type": "document", "allowed_extensions": ".pdf"}),
            json!({"allowed_extensions": ["Expected a list of items but got type \"str\"."]}),
        ),
        (
            json!({"field_name": "D", "field_type": "document", "allowed_extensions": [".pdf", "docx"]}),
            json!({"allowed_extensions": ["Each extension must be a string starting with a dot, e.g. \".pdf\"."]}),
        ),
        (
            json!({"field_name": "D", "field_type": "document", "allowed_extensions": [".pdf", 7]}),
            json!({"allowed_extensions": ["Each extension must be a string starting with a dot, e.g. \".pdf\"."]}),
        ),
    ];
    for (body, errors) in &refused {
        let res = app.post(&path, body, Some(&admin)).await;
        assert_eq!(json_of(res).await, (400, json!({"success": false, "errors": errors})), "{body}");
    }
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM resource_field_definition").fetch_one(&app.pool).await.unwrap();
    assert_eq!(n, 0, "refused requests wrote nothing");

    // The limits themselves are accepted.
    let accepted = [
        json!({"field_name": "P", "field_type": "image", "max_file_size_mb": 10}),
        json!({"field_name": "D", "field_type": "document", "max_file_size_mb": 20, "allowed_extensions": [".pdf", ".DOCX"]}),
        json!({"field_name": "T", "field_type": "text", "max_length": 500}),
        json!({"field_name": "N", "field_type": "number", "min_value": 5, "max_value": 5}),
        json!({"field_name": "Ph", "field_type": "phone", "max_length": 15, "max_file_size_mb": null}),
        json!({"field_name": "Dt", "field_type": "date", "help_text": ""}),
    ];
    for body in &accepted {
        let res = app.post(&path, body, Some(&admin)).await;
        assert_eq!(res.status(), 201, "{body}");
    }

    // PUT errors carry `message: "Validation failed"`.
    let id: i64 = sqlx::query_scalar("SELECT id FROM resource_field_definition WHERE field_name = 'P'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let res = app
        .send(
            Method::PUT,
            &field_path(id),
            &json!({"field_name": "P", "field_type": "image", "max_file_size_mb": 15}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        json_of(res).await,
        (
            400,
            json!({
                "success": false,
                "errors": {"max_file_size_mb": ["Ensure this value is less than or equal to 10."]},
                "message": "Validation failed",
            })
        )
    );
    let res = app.send(Method::PUT, &field_path(id), &json!({"field_type": "image"}), Some(&admin)).await;
    assert_eq!(
        json_of(res).await,
        (
            400,
            json!({"success": false, "errors": {"field_name": ["This field is required."]}, "message": "Validation failed"})
        )
    );
    let stored: Option<i32> =
        sqlx::query_scalar("SELECT max_file_size_mb FROM resource_field_definition WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, Some(10), "a refused update changed nothing");
}

#[tokio::test]
async fn product_type_roles_and_missing_product() {
    let app = spawn_app().await;
    let (_, admin) = app.user_token("admin1", "admin").await;
    let (_, customer) = app.user_token("cust", "user").await;
    let (flagged_id, flagged) = app.user_token("flagged", "staff").await;
    sqlx::query("UPDATE users SET is_staff = true WHERE id = $1").bind(flagged_id).execute(&app.pool).await.unwrap();
    let pkg = ProductBuilder::package("Gold").create(&app).await;

    let invalid = json!({"success": false, "message": "Invalid product type. Must be package or campaign"});
    let res = app.get(&base("packages", pkg), Some(&admin)).await;
    assert_eq!(json_of(res).await, (400, invalid.clone()));
    let res = app.post(&base("bundle", pkg), &json!({"field_name": "x", "field_type": "text"}), Some(&admin)).await;
    assert_eq!(json_of(res).await, (400, invalid));
    let res = app.get(&base("campaign", pkg), Some(&admin)).await;
    assert_eq!(json_of(res).await, (404, json!({"detail": "No Campaign matches the given query."})));
    let res = app.post(&base("package", pkg + 1), &json!({}), Some(&admin)).await;
    assert_eq!(json_of(res).await, (404, json!({"detail": "No Package matches the given query."})));
    let res =
        app.post(&base("package", pkg + 1), &json!({"field_name": "x", "field_type": "text"}), Some(&admin)).await;
    assert_eq!(json_of(res).await, (404, json!({"detail": "No Package matches the given query."})));

    let routes = [
        (Method::GET, base("package", pkg)),
        (Method::POST, base("package", pkg)),
        (Method::GET, field_path(1)),
        (Method::PUT, field_path(1)),
        (Method::DELETE, field_path(1)),
        (Method::PATCH, REORDER.to_string()),
    ];
    // Role admin only: the is_staff flag is not enough here.
    let forbidden = json!({"detail": "You do not have permission to perform this action."});
    for token in [&customer, &flagged] {
        for (method, path) in &routes {
            let res = app.send(method.clone(), path, &json!({}), Some(token)).await;
            assert_eq!(json_of(res).await, (403, forbidden.clone()), "{method} {path}");
        }
    }
    for (method, path) in &routes {
        let res = app.send(method.clone(), path, &json!({}), None).await;
        assert_eq!(
            json_of(res).await,
            (401, json!({"detail": "Authentication credentials were not provided."})),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn delete_with_submitted_values_is_refused() {
    let app = spawn_app().await;
    let (_, admin) = app.user_token("admin1", "admin").await;
    let camp = ProductBuilder::campaign("SMS").create(&app).await;
    let (_, created) = json_of(
        app.post(&base("campaign", camp), &json!({"field_name": "Slogan", "field_type": "text"}), Some(&admin)).await,
    )
    .await;
    let id = created["field"]["id"].as_i64().unwrap();
    let (_, order_item) = order_with_line(&app, ProductType::Campaign, camp).await;
    ResourceSubmission::text(order_item, id, "Vote!").create(&app).await;
    let res = app.send(Method::DELETE, &field_path(id), &json!({}), Some(&admin)).await;
    assert_eq!(
        json_of(res).await,
        (409, json!({"success": false, "message": "Error deleting field: it has submitted values"}))
    );
    let res = app.get(&field_path(id), Some(&admin)).await;
    assert_eq!(res.status(), 200, "still there");
    sqlx::query("DELETE FROM dynamic_resource_submission").execute(&app.pool).await.unwrap();
    let res = app.send(Method::DELETE, &field_path(id), &json!({}), Some(&admin)).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn reorder_both_forms() {
    let app = spawn_app().await;
    let (_, admin) = app.user_token("admin1", "admin").await;
    let pkg = ProductBuilder::package("Gold").create(&app).await;
    let mut ids = Vec::new();
    for name in ["A", "B", "C"] {
        let (_, created) = json_of(
            app.post(&base("package", pkg), &json!({"field_name": name, "field_type": "text"}), Some(&admin)).await,
        )
        .await;
        ids.push(created["field"]["id"].as_i64().unwrap());
    }
    let names = || async {
        let (_, list) = json_of(app.get(&base("package", pkg), Some(&admin)).await).await;
        list["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field_name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let done = json!({"success": true, "message": "Resource fields reordered successfully"});

    // `{field_orders:[{id, order}]}`; unknown ids are ignored.
    let body =
        json!({"field_orders": [{"id": ids[0], "order": 5}, {"id": ids[2], "order": 1}, {"id": 999_999, "order": 0}]});
    let res = app.send(Method::PATCH, REORDER, &body, Some(&admin)).await;
    assert_eq!(json_of(res).await, (200, done.clone()));
    assert_eq!(names().await, ["B", "C", "A"]);

    // §5 #9 `{field_ids:[…]}`: order = 0-based position.
    let res =
        app.send(Method::PATCH, REORDER, &json!({"field_ids": [ids[0], ids[1], 999_999, ids[2]]}), Some(&admin)).await;
    assert_eq!(json_of(res).await, (200, done.clone()));
    let orders: Vec<i32> = sqlx::query_scalar(r#"SELECT "order" FROM resource_field_definition ORDER BY id"#)
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(orders, [0, 1, 3]);
    assert_eq!(names().await, ["A", "B", "C"]);

    let cases = [
        (json!({}), json!({"field_orders": ["This field is required."]})),
        (json!({"field_orders": "1,2"}), json!({"field_orders": ["Expected a list of items but got type \"str\"."]})),
        (
            json!({"field_orders": [{"id": ids[0]}]}),
            json!({"field_orders": ["Each item must have an integer \"id\" and \"order\"."]}),
        ),
        (json!({"field_ids": ["x"]}), json!({"field_ids": ["A valid integer is required."]})),
    ];
    for (body, errors) in cases {
        let res = app.send(Method::PATCH, REORDER, &body, Some(&admin)).await;
        assert_eq!(json_of(res).await, (400, json!({"success": false, "errors": errors})), "{body}");
    }
    assert_eq!(names().await, ["A", "B", "C"]);

    // `reorder` is its own route, not an `{id}`.
    let res = app.get(REORDER, Some(&admin)).await;
    assert_eq!(json_of(res).await, (405, json!({"detail": "Method \"GET\" not allowed."})));
    let res = app.send(Method::PATCH, &field_path(ids[0]), &json!({}), Some(&admin)).await;
    assert_eq!(res.status(), 405);
}

#[tokio::test]
async fn every_route_is_documented() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/schema/", None).await.json().await.unwrap();
    for (path, methods) in [
        ("/api/admin/products/{type}/{id}/resource-fields/", &["get", "post"][..]),
        ("/api/admin/products/resource-fields/{id}/", &["get", "put", "delete"][..]),
        ("/api/admin/products/resource-fields/reorder/", &["patch"][..]),
    ] {
        for method in methods {
            assert!(doc["paths"][path][method].is_object(), "{method} {path} missing from the OpenAPI document");
        }
    }
    assert!(doc["components"]["schemas"]["ResourceFieldOut"].is_object());
}

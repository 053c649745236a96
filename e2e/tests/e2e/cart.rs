use e2e::builders::ProductBuilder;
use e2e::spawn_app;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn cart_add_merge_remove_clear_with_exact_bodies() {
    let app = spawn_app().await;
    let (_, token) = app.user_token("shopper", "user").await;
    let pkg = ProductBuilder::package("Kit").price("4999.00").create(&app).await;
    let camp = ProductBuilder::campaign("SMS").price("0.50").create(&app).await;

    let empty: Value = app.get("/api/cart/", Some(&token)).await.json().await.unwrap();
    assert_eq!(empty["items"], json!([]));
    assert_eq!(empty["total"], json!(0.0));
    assert_eq!(empty["item_count"], 0);

    let res = app.post("/api/cart/add/", &json!({"item_type": "package", "item_id": pkg}), Some(&token)).await;
    assert_eq!(res.status(), 200);
    let res =
        app.post("/api/cart/add/", &json!({"item_type": "package", "item_id": pkg, "quantity": 2}), Some(&token)).await;
    let cart: Value = res.json().await.unwrap();
    assert_eq!(cart["items"].as_array().unwrap().len(), 1, "same product merges into one line");
    assert_eq!(cart["items"][0]["quantity"], 3);
    assert_eq!(cart["items"][0]["subtotal"], json!(14997.0));
    assert_eq!(cart["items"][0]["item_details"]["name"], "Kit");
    assert_eq!(cart["items"][0]["item_type"], "package");
    let res = app
        .post(
            "/api/cart/add/",
            &json!({"item_type": "campaign", "item_id": camp.to_string(), "quantity": "1000"}),
            Some(&token),
        )
        .await;
    let cart: Value = res.json().await.unwrap();
    assert_eq!(cart["total"], json!(15497.0));
    assert_eq!(cart["item_count"], 1003);
    assert_eq!(cart["items"][1]["item_details"]["unit"], "per 1000");

    let line = cart["items"][0]["id"].as_i64().unwrap();
    let res = app.send(Method::DELETE, &format!("/api/cart/remove/{line}/"), &json!({}), Some(&token)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["items"].as_array().unwrap().len(), 1);
    let res = app.send(Method::DELETE, &format!("/api/cart/remove/{line}/"), &json!({}), Some(&token)).await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Cart item not found"}));
    let res = app.send(Method::DELETE, "/api/cart/clear/", &json!({}), Some(&token)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["items"], json!([]));

    // Lines of deleted products are dropped from the answer.
    app.post("/api/cart/add/", &json!({"item_type": "campaign", "item_id": camp}), Some(&token)).await;
    sqlx::query("DELETE FROM campaign WHERE id = $1").bind(camp).execute(&app.pool).await.unwrap();
    let cart: Value = app.get("/api/cart/", Some(&token)).await.json().await.unwrap();
    assert_eq!(cart["items"], json!([]));
}

#[tokio::test]
async fn cart_bad_input_and_missing_things() {
    let app = spawn_app().await;
    let (_, token) = app.user_token("shopper", "user").await;
    let inactive = ProductBuilder::package("Old").price("10.00").inactive().create(&app).await;
    let res = app.post("/api/cart/add/", &json!({"item_type": "package", "item_id": inactive}), Some(&token)).await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Package not found"}));
    let res = app.post("/api/cart/add/", &json!({"item_type": "campaign", "item_id": 999}), Some(&token)).await;
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Campaign not found"}));
    let res =
        app.post("/api/cart/add/", &json!({"item_type": "widget", "item_id": "x", "quantity": 0}), Some(&token)).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"item_type": ["\"widget\" is not a valid choice."], "item_id": ["A valid integer is required."], "quantity": ["Ensure this value is greater than or equal to 1."]})
    );
    let res = app.post("/api/cart/add/", &json!({}), Some(&token)).await;
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"item_type": ["This field is required."], "item_id": ["This field is required."]})
    );
    // No cart yet for this user: remove and clear say so.
    let (_, other) = app.user_token("newbie", "user").await;
    let res = app.send(Method::DELETE, "/api/cart/clear/", &json!({}), Some(&other)).await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Cart not found"}));
    let res = app.send(Method::DELETE, "/api/cart/remove/1/", &json!({}), Some(&other)).await;
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Cart not found"}));
    assert_eq!(app.get("/api/cart/", None).await.status(), 401);
    // Another user's line is not theirs to remove.
    let pkg = ProductBuilder::package("Kit").price("10.00").create(&app).await;
    let cart: Value = app
        .post("/api/cart/add/", &json!({"item_type": "package", "item_id": pkg}), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let line = cart["items"][0]["id"].as_i64().unwrap();
    app.get("/api/cart/", Some(&other)).await;
    let res = app.send(Method::DELETE, &format!("/api/cart/remove/{line}/"), &json!({}), Some(&other)).await;
    assert_eq!(res.status(), 404);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM cart_item").fetch_one(&app.pool).await.unwrap();
    assert_eq!(n, 1);
}

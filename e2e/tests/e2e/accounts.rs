use e2e::builders::UserBuilder;
use e2e::spawn_app;
use serde_json::{Value, json};

#[tokio::test]
async fn signup_then_login_then_me() {
    let app = spawn_app().await;
    let res = app
        .post("/api/auth/signup/", &json!({"username": "asha", "password": "x", "phone_number": "9876543210"}), None)
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["message"], "Account created successfully");
    assert_eq!(body["role"], "user");
    assert_eq!(body["user"]["username"], "asha");
    assert_eq!(body["user"]["phone_number"], "9876543210");
    assert_eq!(body["user"]["order_count"], 0);
    assert_eq!(body["expires_in"], 604800);
    assert!(body["refresh_token"].as_str().unwrap().len() >= 40);
    let created_at = body["user"]["created_at"].as_str().unwrap();
    assert!(created_at.ends_with("+05:30") && created_at.contains('.'), "{created_at}");

    let login = app.login("asha", "x").await;
    assert_eq!(login["role"], "user");
    assert!(login.get("message").is_none());
    let token = login["token"].as_str().unwrap();
    let me: Value = app.get("/api/auth/me/", Some(token)).await.json().await.unwrap();
    assert_eq!(me["username"], "asha");
    assert_eq!(me["order_count"], 0);
    assert_eq!(
        me.as_object().unwrap().keys().cloned().collect::<Vec<_>>(),
        vec!["created_at", "id", "order_count", "phone_number", "role", "username"]
    );
}

#[tokio::test]
async fn signup_bad_input() {
    let app = e2e::TestAppBuilder::new().var("RATE_LIMITS_ENABLED", "false").spawn().await;
    let required = json!({"error": "Username and password are required"});
    for body in
        [json!({}), json!({"username": "a"}), json!({"password": "p"}), json!({"username": "", "password": "p"})]
    {
        let res = app.post("/api/auth/signup/", &body, None).await;
        assert_eq!(res.status(), 400);
        assert_eq!(res.json::<Value>().await.unwrap(), required);
    }
    let res = app.post("/api/auth/signup/", &json!({"username": "u".repeat(151), "password": "p"}), None).await;
    assert_eq!(res.status(), 400);
    assert!(res.json::<Value>().await.unwrap()["error"].as_str().unwrap().contains("150"));
    let res = app.post("/api/auth/signup/", &json!({"username": "ok", "password": "p".repeat(129)}), None).await;
    assert_eq!(res.status(), 400);
    let res =
        app.post("/api/auth/signup/", &json!({"username": "ok", "password": "p", "email": "not-an-email"}), None).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Enter a valid email address"}));
    let res = app
        .post("/api/auth/signup/", &json!({"username": "ok", "password": "p", "phone_number": "1".repeat(16)}), None)
        .await;
    assert_eq!(res.status(), 400);
    // Nothing was written by the refused requests.
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&app.pool).await.unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn duplicate_username_and_empty_phone() {
    let app = e2e::TestAppBuilder::new().var("RATE_LIMITS_ENABLED", "false").spawn().await;
    // §6: an empty phone is stored as null, so two such signups both work.
    for name in ["one", "two"] {
        let res =
            app.post("/api/auth/signup/", &json!({"username": name, "password": "p", "phone_number": ""}), None).await;
        assert_eq!(res.status(), 201);
        assert_eq!(res.json::<Value>().await.unwrap()["user"]["phone_number"], Value::Null);
    }
    let res = app.post("/api/auth/signup/", &json!({"username": "one", "password": "q"}), None).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Username already exists"}));
    let res = app
        .post("/api/auth/signup/", &json!({"username": "three", "password": "q", "phone_number": "999"}), None)
        .await;
    assert_eq!(res.status(), 201);
    let res =
        app.post("/api/auth/signup/", &json!({"username": "four", "password": "q", "phone_number": "999"}), None).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Phone number already exists"}));
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let app = spawn_app().await;
    app.create_user("ravi", "right-password", "user", "").await;
    let wrong = app.post("/api/auth/login/", &json!({"username": "ravi", "password": "nope"}), None).await;
    let unknown = app.post("/api/auth/login/", &json!({"username": "ghost", "password": "nope"}), None).await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    let (a, b): (Value, Value) = (wrong.json().await.unwrap(), unknown.json().await.unwrap());
    assert_eq!(a, json!({"error": "Invalid username or password"}));
    assert_eq!(a, b);
    let res = app.post("/api/auth/login/", &json!({"username": "ravi"}), None).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Username and password are required"}));
}

#[tokio::test]
async fn inactive_user_cannot_log_in() {
    let app = spawn_app().await;
    let id = app.create_user("gone", "pass-word-1", "user", "").await;
    sqlx::query("UPDATE users SET is_active = false WHERE id = $1").bind(id).execute(&app.pool).await.unwrap();
    let res = app.post("/api/auth/login/", &json!({"username": "gone", "password": "pass-word-1"}), None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"error": "Invalid username or password"}));
}

#[tokio::test]
async fn django_pbkdf2_hash_logs_in_and_is_upgraded_to_argon2id() {
    let app = spawn_app().await;
    let hash = common::accounts::password::django_pbkdf2_hash("old-django-pass", "Zx8sQ1pL0aRt", 260_000);
    UserBuilder::new("legacy").password_hash(&hash).create(&app).await;
    let res = app.post("/api/auth/login/", &json!({"username": "legacy", "password": "wrong"}), None).await;
    assert_eq!(res.status(), 401);
    app.login("legacy", "old-django-pass").await;
    let stored: String =
        sqlx::query_scalar("SELECT password FROM users WHERE username = 'legacy'").fetch_one(&app.pool).await.unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    app.login("legacy", "old-django-pass").await;
}

#[tokio::test]
async fn create_admin_command_makes_a_working_admin() {
    let app = spawn_app().await;
    let spec = api::cli::AdminSpec {
        username: "boss".into(),
        email: Some("boss@example.com".into()),
        phone: Some("9000000001".into()),
    };
    api::cli::create_admin(&app.pool, &spec, "Str0ng-Admin-Pass".into()).await.unwrap();
    let body = app.login("boss", "Str0ng-Admin-Pass").await;
    assert_eq!(body["role"], "admin");
    let token = body["token"].as_str().unwrap();
    assert_eq!(app.get("/api/auth/users/", Some(token)).await.status(), 200);
    // Again with the same name: refused, nothing changed.
    assert!(api::cli::create_admin(&app.pool, &spec, "An0ther-Pass".into()).await.is_err());
    // A weak password is refused.
    let weak = api::cli::AdminSpec { username: "boss2".into(), email: None, phone: None };
    assert!(api::cli::create_admin(&app.pool, &weak, "short".into()).await.is_err());
}

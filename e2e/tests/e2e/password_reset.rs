use std::time::Duration;

use e2e::proxy::Proxy;
use e2e::smtp::SmtpServer;
use e2e::{TestApp, TestAppBuilder};
use serde_json::{Value, json};

const RESET_URL: &str = "http://reset.test/t/{token}/end";

fn token_from(data: &str) -> String {
    let unfolded = data.replace("=\r\n", "");
    let start = unfolded.find("reset.test/t/").expect("reset link in the email") + "reset.test/t/".len();
    unfolded[start..].split('/').next().unwrap().to_string()
}

async fn app_with_smtp(smtp: &SmtpServer) -> TestApp {
    TestAppBuilder::new().var("SMTP_URL", &smtp.url).var("PASSWORD_RESET_URL", RESET_URL).with_worker().spawn().await
}

async fn wait_for_mail(app: &TestApp, smtp: &SmtpServer, count: usize) -> Vec<e2e::smtp::Received> {
    app.eventually(Duration::from_secs(10), || async {
        let m = smtp.messages();
        (m.len() >= count).then_some(m)
    })
    .await
    .unwrap_or_else(|| panic!("expected {count} email(s), got {}", smtp.messages().len()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_email_goes_through_smtp_and_the_token_works_once() {
    let smtp = SmtpServer::start().await;
    let app = app_with_smtp(&smtp).await;
    app.create_user("meera", "old-password-1", "user", "meera@example.com").await;
    let other = app.login("meera", "old-password-1").await;

    let res = app.post("/api/auth/password-reset/", &json!({"email": "MEERA@example.com"}), None).await;
    assert_eq!(res.status(), 202);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"detail": "If the account exists, a reset link has been sent."})
    );
    let mail = wait_for_mail(&app, &smtp, 1).await;
    assert_eq!(mail[0].to, vec!["meera@example.com".to_string()]);
    assert!(mail[0].data.contains("Subject: Reset your Election Cart password"));
    assert!(mail[0].data.contains("text/html"), "HTML alternative present");
    let token = token_from(&mail[0].data);

    let res =
        app.post("/api/auth/password-reset/confirm/", &json!({"token": token, "new_password": "short"}), None).await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "weak_password");

    let res = app
        .post("/api/auth/password-reset/confirm/", &json!({"token": token, "new_password": "brand-new-pass-9"}), None)
        .await;
    assert_eq!(res.status(), 204);
    app.login("meera", "brand-new-pass-9").await;
    // Every session from before is gone.
    let res = app.post("/api/auth/token/refresh/", &json!({"refresh_token": other["refresh_token"]}), None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(app.get("/api/auth/me/", Some(other["token"].as_str().unwrap())).await.status(), 401);

    // Used once: the second use is refused.
    let res = app
        .post("/api/auth/password-reset/confirm/", &json!({"token": token, "new_password": "another-pass-7"}), None)
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "invalid_token");
    assert_eq!(smtp.messages().len(), 1, "one email for one request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_accounts_get_the_same_answer_and_no_email() {
    let smtp = SmtpServer::start().await;
    let app = app_with_smtp(&smtp).await;
    app.create_user("noemail", "pw-pw-pw-pw", "user", "").await;
    for body in [json!({"email": "nobody@example.com"}), json!({"username": "ghost"}), json!({"username": "noemail"})] {
        let res = app.post("/api/auth/password-reset/", &body, None).await;
        assert_eq!(res.status(), 202);
        assert_eq!(
            res.json::<Value>().await.unwrap(),
            json!({"detail": "If the account exists, a reset link has been sent."})
        );
    }
    let res = app.post("/api/auth/password-reset/", &json!({}), None).await;
    assert_eq!(res.status(), 422);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(smtp.messages().is_empty());
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM job").fetch_one(&app.pool).await.unwrap();
    assert_eq!(jobs, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_is_refused() {
    let smtp = SmtpServer::start().await;
    let app = app_with_smtp(&smtp).await;
    app.create_user("late", "pw-pw-pw-pw", "user", "late@example.com").await;
    app.post("/api/auth/password-reset/", &json!({"username": "late"}), None).await;
    let mail = wait_for_mail(&app, &smtp, 1).await;
    let token = token_from(&mail[0].data);
    sqlx::query("UPDATE password_reset_token SET expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let res = app
        .post("/api/auth/password-reset/confirm/", &json!({"token": token, "new_password": "fresh-pass-55"}), None)
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "invalid_token");
    app.login("late", "pw-pw-pw-pw").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_reset_still_answers_and_the_email_goes_out_once_redis_is_back() {
    let smtp = SmtpServer::start().await;
    let proxy = Proxy::start("127.0.0.1:6379".into()).await;
    let app = TestAppBuilder::new()
        .var("SMTP_URL", &smtp.url)
        .var("PASSWORD_RESET_URL", RESET_URL)
        .var("REDIS_URL", format!("redis://{}", proxy.addr))
        .with_worker()
        .spawn()
        .await;
    app.create_user("patient", "pw-pw-pw-pw", "user", "patient@example.com").await;
    // Let the worker connect, then take Redis away.
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.down();

    let res = app.post("/api/auth/password-reset/", &json!({"email": "patient@example.com"}), None).await;
    assert_eq!(res.status(), 202);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(smtp.messages().is_empty(), "nothing can be sent while Redis is down");
    let status: String = sqlx::query_scalar("SELECT status FROM job").fetch_one(&app.pool).await.unwrap();
    assert_eq!(status, "pending", "the job waits in the outbox");

    proxy.up();
    let mail = wait_for_mail(&app, &smtp, 1).await;
    assert_eq!(mail[0].to, vec!["patient@example.com".to_string()]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(smtp.messages().len(), 1, "sent exactly once");
    let token = token_from(&mail[0].data);
    let res = app
        .post("/api/auth/password-reset/confirm/", &json!({"token": token, "new_password": "after-outage-1"}), None)
        .await;
    assert_eq!(res.status(), 204);
}

async fn hashes_so_far(app: &TestApp) -> u64 {
    let text = app.get("/metrics", None).await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("electioncart_password_hashes_total "))
        .expect("hash counter in /metrics")
        .trim()
        .parse()
        .unwrap()
}

/// Issue 9 #3: the new password used to be hashed before the token was looked at, on a route
/// without a limit, so anonymous floods cost 19 MiB and a core each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_calls_with_bad_tokens_hash_nothing_and_are_limited() {
    let app = TestAppBuilder::new().spawn().await;
    let before = hashes_so_far(&app).await;
    let bodies: Vec<Value> =
        (0..30).map(|i| json!({"token": format!("not-a-token-{i}"), "new_password": "a-Strong-passw0rd"})).collect();
    let calls = bodies.iter().map(|b| app.post("/api/auth/password-reset/confirm/", b, None));
    let answers = futures::future::join_all(calls).await;
    let mut invalid = 0;
    let mut limited = 0;
    for res in answers {
        match res.status().as_u16() {
            422 => {
                assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "invalid_token");
                invalid += 1;
            }
            429 => limited += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((invalid, limited), (10, 20), "10 an hour per address");
    assert_eq!(hashes_so_far(&app).await, before, "no argon2 work for a bad token");
}

/// Issue 9 #6: the reset link with its raw token sat in the job payload for two weeks and in
/// Redis for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_raw_reset_token_is_kept_in_the_job_table_or_redis() {
    let smtp = SmtpServer::start().await;
    let app = app_with_smtp(&smtp).await;
    app.create_user("meera", "old-password-1", "user", "meera@example.com").await;
    let res = app.post("/api/auth/password-reset/", &json!({"username": "meera"}), None).await;
    assert_eq!(res.status(), 202);
    let mail = wait_for_mail(&app, &smtp, 1).await;
    let token = token_from(&mail[0].data);
    assert!(token.len() >= 40, "{token}");
    let job: (String, String, String) =
        sqlx::query_as("SELECT kind, status, payload::text FROM job WHERE queue = 'emails'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(job.0, "send_password_reset");
    assert!(!job.2.contains(&token), "payload {}", job.2);
    assert!(!job.2.contains("reset.test"), "no link in the payload: {}", job.2);
    // Nothing in Redis carries it either (the finished job's data is vacuumed too).
    let redis = redis::Client::open(e2e::redis_url()).unwrap();
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{}:*", app.prefix)).query_async(&mut conn).await.unwrap();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut conn).await.unwrap();
        let dump: String = match kind.as_str() {
            "hash" => {
                let v: Vec<String> = redis::cmd("HGETALL").arg(&key).query_async(&mut conn).await.unwrap();
                v.join(" ")
            }
            "string" => redis::cmd("GET").arg(&key).query_async(&mut conn).await.unwrap(),
            _ => String::new(),
        };
        assert!(!dump.contains(&token), "{key} holds the token");
    }
    // The link works.
    let res = app
        .post("/api/auth/password-reset/confirm/", &json!({"token": token, "new_password": "brand-new-pass-9"}), None)
        .await;
    assert_eq!(res.status(), 204);
}

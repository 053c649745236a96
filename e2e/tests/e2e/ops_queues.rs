//! The queue dashboard (API.md §9.6): `/api/ops/queues/…` and the page `/ops/queues/`.

use std::time::Duration;

use common::jobs::{Queue, redis_queue};
use e2e::{TestApp, TestAppBuilder, spawn_app};
use serde_json::{Value, json};

const NO_CREDENTIALS: &str = "Authentication credentials were not provided.";
const NO_PERMISSION: &str = "You do not have permission to perform this action.";

/// Writes a job row straight into the table: `status`, `run_at` as seconds from now.
async fn job(app: &TestApp, queue: &str, kind: &str, status: &str, run_in_secs: i64, payload: Value) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO job (queue, kind, payload, status, attempts, max_attempts, last_error, run_at, finished_at)
         VALUES ($1, $2, $3, $4, CASE WHEN $4 IN ('failed', 'dead') THEN 3 ELSE 0 END, 3,
                 CASE WHEN $4 IN ('failed', 'dead') THEN 'smtp: 550 mailbox unavailable' END,
                 now() + make_interval(secs => $5),
                 CASE WHEN $4 IN ('done', 'failed', 'dead') THEN now() END)
         RETURNING id",
    )
    .bind(queue)
    .bind(kind)
    .bind(payload)
    .bind(status)
    .bind(run_in_secs as f64)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn status_of(app: &TestApp, id: i64) -> Option<(String, i32)> {
    sqlx::query_as("SELECT status, attempts FROM job WHERE id = $1").bind(id).fetch_optional(&app.pool).await.unwrap()
}

async fn audit_rows(app: &TestApp, id: i64) -> Vec<(String, String, String, Option<i64>, Value)> {
    sqlx::query_as("SELECT queue, kind, action, admin_id, details FROM job_audit WHERE job_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

async fn delete(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client.delete(app.url(path)).bearer_auth(token).send().await.unwrap()
}

async fn json_of(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn only_admins_get_in() {
    let app = spawn_app().await;
    let (_, staff) = app.user_token("st", "staff").await;
    let (_, customer) = app.user_token("cu", "customer").await;
    let id = job(&app, "emails", "send_email", "failed", 0, json!({})).await;
    let gets = ["/api/ops/queues/", "/api/ops/queues/throughput/", "/api/ops/queues/emails/jobs/"];
    for path in gets {
        assert_eq!(json_of(app.get(path, None).await).await, (401, json!({"detail": NO_CREDENTIALS})), "{path}");
        for token in [&staff, &customer] {
            assert_eq!(json_of(app.get(path, Some(token)).await).await, (403, json!({"detail": NO_PERMISSION})));
        }
    }
    let retry = format!("/api/ops/queues/emails/jobs/{id}/retry/");
    let one = format!("/api/ops/queues/emails/jobs/{id}/");
    let res = app.post(&retry, &json!({}), None).await;
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_eq!(json_of(res).await, (401, json!({"detail": NO_CREDENTIALS})));
    assert_eq!(json_of(app.post(&retry, &json!({}), Some(&staff)).await).await.0, 403);
    assert_eq!(json_of(delete(&app, &one, &customer).await).await, (403, json!({"detail": NO_PERMISSION})));
    assert_eq!(
        json_of(app.get("/api/ops/queues/", Some("not-a-jwt")).await).await,
        (401, json!({"detail": "Invalid token"}))
    );
    // Nothing changed.
    assert_eq!(status_of(&app, id).await.unwrap().0, "failed");
    // The page: no token, a bad one, a staff one.
    assert_eq!(json_of(app.get("/ops/queues/", None).await).await, (401, json!({"detail": NO_CREDENTIALS})));
    assert_eq!(
        json_of(app.get("/ops/queues/?token=nope", None).await).await,
        (401, json!({"detail": "Invalid token"}))
    );
    let res = app.get(&format!("/ops/queues/?token={staff}"), None).await;
    assert_eq!(json_of(res).await, (403, json!({"detail": NO_PERMISSION})));
}

#[tokio::test]
async fn counts_every_queue_by_state() {
    let app = spawn_app().await;
    let (_, admin) = app.user_token("boss", "admin").await;
    // `queued` rows: a due `pending` one would be pushed by the API's dispatcher meanwhile.
    job(&app, "emails", "send_email", "queued", -100, json!({})).await;
    job(&app, "emails", "send_email", "queued", -5, json!({})).await;
    job(&app, "emails", "send_email", "pending", 300, json!({})).await;
    job(&app, "emails", "send_email", "running", 0, json!({})).await;
    for _ in 0..3 {
        job(&app, "emails", "send_email", "done", 0, json!({})).await;
    }
    job(&app, "emails", "send_email", "failed", 0, json!({})).await;
    job(&app, "invoices", "render_invoice", "dead", 0, json!({})).await;
    let (status, body) = json_of(app.get("/api/ops/queues/", Some(&admin)).await).await;
    assert_eq!(status, 200);
    let age = body["queues"][0]["oldest_pending_age_seconds"].as_i64().unwrap();
    assert!((100..200).contains(&age), "{age}");
    let generated = body["generated_at"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(generated).is_ok() && generated.ends_with('Z'));
    let zero = |name: &str| {
        json!({"name": name, "pending": 0, "running": 0, "scheduled": 0, "done": 0, "failed": 0, "dead": 0,
               "oldest_pending_age_seconds": null, "redis_depth": 0})
    };
    let mut invoices = zero("invoices");
    invoices["dead"] = json!(1);
    assert_eq!(
        body["queues"],
        json!([
            {"name": "emails", "pending": 2, "running": 1, "scheduled": 1, "done": 3, "failed": 1, "dead": 0,
             "oldest_pending_age_seconds": age, "redis_depth": 0},
            invoices, zero("media"), zero("payments"), zero("maintenance"),
        ])
    );
}

#[tokio::test]
async fn lists_a_queue_by_state_newest_first_with_payloads_redacted() {
    let app = spawn_app().await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let payload = json!({"to": "a@example.com", "template": "welcome", "message_key": "k1",
                         "context": {"name": "N", "reset_token": "s3cret", "html": "<p>hi</p>"}});
    let old = job(&app, "emails", "send_email", "failed", 0, payload.clone()).await;
    let new = job(&app, "emails", "send_email", "dead", 0, json!({"password": "x", "n": 1})).await;
    let waiting = job(&app, "emails", "send_email", "queued", 0, json!({})).await;
    let later = job(&app, "emails", "send_email", "pending", 600, json!({})).await;
    job(&app, "media", "store_product_image", "failed", 0, json!({})).await;

    let (status, body) = json_of(app.get("/api/ops/queues/emails/jobs/?state=failed", Some(&admin)).await).await;
    assert_eq!(status, 200);
    let row: (String, String, String) = sqlx::query_as(
        "SELECT to_char(run_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM job WHERE id = $1",
    )
    .bind(old)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        body,
        json!({"count": 1, "next": null, "previous": null, "results": [{
            "id": old, "queue": "emails", "kind": "send_email", "state": "failed", "attempts": 3, "max_attempts": 3,
            "last_error": "smtp: 550 mailbox unavailable", "run_at": row.0, "created_at": row.1, "updated_at": row.2,
            "payload": {"to": "a@example.com", "template": "welcome", "message_key": "[redacted]",
                        "context": {"name": "N", "reset_token": "[redacted]", "html": "[redacted]"}},
        }]})
    );
    // All states, newest first.
    let (_, body) = json_of(app.get("/api/ops/queues/emails/jobs/", Some(&admin)).await).await;
    let ids: Vec<i64> = body["results"].as_array().unwrap().iter().map(|j| j["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![later, waiting, new, old]);
    let states: Vec<&str> = body["results"].as_array().unwrap().iter().map(|j| j["state"].as_str().unwrap()).collect();
    assert_eq!(states, vec!["scheduled", "pending", "dead", "failed"]);
    assert_eq!(body["results"][2]["payload"], json!({"password": "[redacted]", "n": 1}));
    for (state, want) in [("pending", vec![waiting]), ("scheduled", vec![later]), ("dead", vec![new]), ("done", vec![])]
    {
        let (_, body) =
            json_of(app.get(&format!("/api/ops/queues/emails/jobs/?state={state}"), Some(&admin)).await).await;
        let ids: Vec<i64> = body["results"].as_array().unwrap().iter().map(|j| j["id"].as_i64().unwrap()).collect();
        assert_eq!(ids, want, "{state}");
    }
    // Errors.
    assert_eq!(
        json_of(app.get("/api/ops/queues/emails/jobs/?state=queued", Some(&admin)).await).await,
        (
            400,
            json!({"error": {"code": "invalid_state",
            "message": "Unknown state; one of pending, scheduled, running, done, failed, dead.",
            "details": {"state": "queued", "states": ["pending", "scheduled", "running", "done", "failed", "dead"]}}})
        )
    );
    assert_eq!(
        json_of(app.get("/api/ops/queues/nope/jobs/", Some(&admin)).await).await,
        (
            404,
            json!({"error": {"code": "unknown_queue", "message": "No queue named `nope`.",
            "details": {"queues": ["emails", "invoices", "media", "payments", "maintenance"]}}})
        )
    );
    assert_eq!(
        json_of(app.get("/api/ops/queues/emails/jobs/?page=2", Some(&admin)).await).await,
        (404, json!({"detail": "Invalid page."}))
    );
}

#[tokio::test]
async fn retry_and_discard_take_only_failed_or_dead_jobs_and_are_audited() {
    let app = spawn_app().await;
    let (admin_id, admin) = app.user_token("boss", "admin").await;
    let done = job(&app, "emails", "send_email", "done", 0, json!({})).await;
    let running = job(&app, "emails", "send_email", "running", 0, json!({})).await;
    let failed = job(&app, "emails", "send_email", "failed", 0, json!({"to": "x@example.com"})).await;
    let dead = job(&app, "emails", "send_email", "dead", 0, json!({})).await;

    let conflict = |code: &str, verb: &str, status: &str| {
        json!({"error": {"code": code, "message": format!("Only failed or dead jobs can be {verb}."),
                         "details": {"status": status}}})
    };
    let res = app.post(&format!("/api/ops/queues/emails/jobs/{done}/retry/"), &json!({}), Some(&admin)).await;
    assert_eq!(json_of(res).await, (409, conflict("not_retryable", "retried", "done")));
    let res = delete(&app, &format!("/api/ops/queues/emails/jobs/{running}/"), &admin).await;
    assert_eq!(json_of(res).await, (409, conflict("not_discardable", "discarded", "running")));
    let not_found = json!({"error": {"code": "job_not_found", "message": "No such job in this queue.", "details": {}}});
    // The job exists, but in another queue.
    let res = app.post(&format!("/api/ops/queues/media/jobs/{failed}/retry/"), &json!({}), Some(&admin)).await;
    assert_eq!(json_of(res).await, (404, not_found.clone()));
    let res = app.post("/api/ops/queues/emails/jobs/999999/retry/", &json!({}), Some(&admin)).await;
    assert_eq!(json_of(res).await, (404, not_found.clone()));
    assert!(audit_rows(&app, done).await.is_empty() && audit_rows(&app, running).await.is_empty());

    // Retry: pending, due now, attempts reset, last error kept.
    let (status, body) =
        json_of(app.post(&format!("/api/ops/queues/emails/jobs/{failed}/retry/"), &json!({}), Some(&admin)).await)
            .await;
    assert_eq!(status, 200);
    assert_eq!(
        (&body["id"], &body["state"], &body["attempts"], &body["last_error"], &body["payload"]),
        (
            &json!(failed),
            &json!("pending"),
            &json!(0),
            &json!("smtp: 550 mailbox unavailable"),
            &json!({"to": "x@example.com"})
        )
    );
    // Waiting to run: still in the outbox, or already pushed by the dispatcher the retry woke
    // (both are the `pending` state of §9.6).
    let stored = status_of(&app, failed).await;
    assert!(matches!(stored.as_ref(), Some((s, 0)) if s == "pending" || s == "queued"), "{stored:?}");
    let audits = audit_rows(&app, failed).await;
    assert_eq!(audits.len(), 1);
    assert_eq!(
        (&audits[0].0[..], &audits[0].1[..], &audits[0].2[..], audits[0].3),
        ("emails", "send_email", "retry", Some(admin_id))
    );
    assert_eq!(audits[0].4["previous_status"], "failed");
    assert_eq!(audits[0].4["last_error"], "smtp: 550 mailbox unavailable");
    // Now pending (or already pushed by the API's dispatcher): a second retry is refused.
    let res = app.post(&format!("/api/ops/queues/emails/jobs/{failed}/retry/"), &json!({}), Some(&admin)).await;
    let (status, body) = json_of(res).await;
    let now = body["error"]["details"]["status"].as_str().unwrap().to_string();
    assert!(now == "pending" || now == "queued", "{now}");
    assert_eq!((status, body), (409, conflict("not_retryable", "retried", &now)));

    // Discard: gone, audited; a second discard is 404.
    let res = delete(&app, &format!("/api/ops/queues/emails/jobs/{dead}/"), &admin).await;
    assert_eq!(res.status(), 204);
    assert_eq!(res.text().await.unwrap(), "");
    assert_eq!(status_of(&app, dead).await, None);
    let audits = audit_rows(&app, dead).await;
    assert_eq!(audits.len(), 1);
    assert_eq!((&audits[0].2[..], audits[0].3, &audits[0].4["status"]), ("discard", Some(admin_id), &json!("dead")));
    let res = delete(&app, &format!("/api/ops/queues/emails/jobs/{dead}/"), &admin).await;
    assert_eq!(json_of(res).await, (404, not_found));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_retried_from_the_api_runs_again_and_succeeds() {
    let app = TestAppBuilder::new().with_worker().spawn().await;
    let (_, admin) = app.user_token("boss", "admin").await;
    // Failed for good earlier; its handler (noop) succeeds now.
    let id = job(&app, "maintenance", "noop", "failed", 0, json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status_of(&app, id).await.unwrap().0, "failed", "a failed job stays failed by itself");
    let res = app.post(&format!("/api/ops/queues/maintenance/jobs/{id}/retry/"), &json!({}), Some(&admin)).await;
    assert_eq!(res.status(), 200);
    let done = app
        .eventually(Duration::from_secs(15), || async { status_of(&app, id).await.filter(|(s, _)| s == "done") })
        .await
        .expect("the retried job ran");
    assert_eq!(done, ("done".into(), 1));
    let (_, body) = json_of(app.get("/api/ops/queues/maintenance/jobs/?state=done", Some(&admin)).await).await;
    assert_eq!(body["results"][0]["id"], json!(id));
    assert_eq!(body["results"][0]["last_error"], Value::Null);
}

#[tokio::test]
async fn discard_removes_the_job_from_redis_and_the_table() {
    let app = spawn_app().await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let id = job(&app, "emails", "send_email", "failed", 0, json!({})).await;
    sqlx::query("UPDATE job SET pushes = 2 WHERE id = $1").bind(id).execute(&app.pool).await.unwrap();
    let redis = redis::Client::open(e2e::redis_url()).unwrap();
    let conn = redis::aio::ConnectionManager::new(redis).await.unwrap();
    let mut storage = common::jobs::storage(conn.clone(), &app.prefix, Queue::Emails);
    // Both pushes of the row sit in Redis (as after a lost acknowledgement and a second push).
    for push in 1..=2 {
        redis_queue::push(&mut storage, id, push, "send_email".into(), json!({})).await.unwrap();
    }
    let cfg = storage.get_config().clone();
    let mut c = conn.clone();
    let held: i64 = redis::cmd("HLEN").arg(cfg.job_data_hash()).query_async(&mut c).await.unwrap();
    assert_eq!(held, 2);
    assert_eq!(redis_queue::backlog(&conn, &app.prefix, Queue::Emails).await.unwrap(), 2);

    let res = delete(&app, &format!("/api/ops/queues/emails/jobs/{id}/"), &admin).await;
    assert_eq!(res.status(), 204);
    assert_eq!(status_of(&app, id).await, None);
    assert_eq!(redis_queue::backlog(&conn, &app.prefix, Queue::Emails).await.unwrap(), 0);
    let held: i64 = redis::cmd("HLEN").arg(cfg.job_data_hash()).query_async(&mut c).await.unwrap();
    assert_eq!(held, 0);
    let metas: Vec<String> =
        redis::cmd("KEYS").arg(format!("{}:job-{id}-*", cfg.job_meta_hash())).query_async(&mut c).await.unwrap();
    assert!(metas.is_empty(), "{metas:?}");
    let audits = audit_rows(&app, id).await;
    assert_eq!(audits[0].4["redis_entries_removed"], json!(6));
}

#[tokio::test]
async fn throughput_counts_the_last_hour_per_minute() {
    let app = spawn_app().await;
    let (_, admin) = app.user_token("boss", "admin").await;
    for _ in 0..2 {
        job(&app, "emails", "send_email", "done", 0, json!({})).await;
    }
    job(&app, "media", "store_product_image", "failed", 0, json!({})).await;
    let old = job(&app, "emails", "send_email", "done", 0, json!({})).await;
    sqlx::query("UPDATE job SET finished_at = now() - interval '2 hours' WHERE id = $1")
        .bind(old)
        .execute(&app.pool)
        .await
        .unwrap();
    let (status, body) = json_of(app.get("/api/ops/queues/throughput/", Some(&admin)).await).await;
    assert_eq!(status, 200);
    let minutes = body["minutes"].as_array().unwrap();
    assert_eq!(minutes.len(), 60);
    let total = |k: &str| minutes.iter().map(|m| m[k].as_i64().unwrap()).sum::<i64>();
    // The rows were written a moment ago: in the current minute, or the one before it.
    assert_eq!((total("done"), total("failed")), (2, 1));
    assert!(minutes[58..].iter().map(|m| m["done"].as_i64().unwrap()).sum::<i64>() == 2);
    assert!(minutes[59]["minute"].as_str().unwrap().ends_with(":00.000000Z"));
}

#[tokio::test]
async fn the_page_is_self_contained_with_a_nonce_policy() {
    let app = spawn_app().await;
    let (_, admin) = app.user_token("boss", "admin").await;
    for res in
        [app.get(&format!("/ops/queues/?token={admin}"), None).await, app.get("/ops/queues/", Some(&admin)).await]
    {
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(res.headers()["cache-control"], "no-store");
        let csp = res.headers()["content-security-policy"].to_str().unwrap().to_string();
        let html = res.text().await.unwrap();
        let nonce = csp.split("'nonce-").nth(1).and_then(|s| s.split('\'').next()).unwrap().to_string();
        assert!(csp.starts_with("default-src 'self'; script-src 'nonce-"), "{csp}");
        assert!(!csp.contains("unsafe-inline"));
        assert!(
            html.contains(&format!("<script nonce=\"{nonce}\">"))
                && html.contains(&format!("<style nonce=\"{nonce}\">"))
        );
        for external in ["http://", "https://", "//fonts", "src=\"//"] {
            assert!(!html.contains(external), "{external}");
        }
        assert!(html.contains("name=\"viewport\""));
        for q in ["emails", "invoices", "media", "payments", "maintenance"] {
            assert!(html.contains(&format!("data-queue=\"{q}\"")));
        }
    }
}

/// A chromedriver on a free local port, stopped when dropped.
struct Chromedriver {
    child: std::process::Child,
    port: u16,
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn chromedriver() -> Chromedriver {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver (Debian packages chromium and chromium-driver; scripts/test installs them)");
    let driver = Chromedriver { child, port };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on {port}");
}

async fn browser(driver: &Chromedriver) -> fantoccini::Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--window-size=390,844", "--no-first-run", "--disable-extensions"]}),
    );
    fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a headless Chromium session")
}

async fn text_of(client: &fantoccini::Client, css: &str) -> String {
    match client.find(fantoccini::Locator::Css(css)).await {
        Ok(el) => el.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_the_page_shows_counts_and_its_retry_button_runs_the_job() {
    let driver = chromedriver().await;
    let app = TestAppBuilder::new().with_worker().spawn().await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let id = job(&app, "maintenance", "noop", "failed", 0, json!({"api_key": "hidden"})).await;
    for _ in 0..2 {
        job(&app, "emails", "send_email", "done", 0, json!({})).await;
    }
    // The last backup failed: the page says so.
    sqlx::query(
        "INSERT INTO backup_run (kind, status, started_at, finished_at, error)
         VALUES ('scheduled', 'failed', now() - interval '1 minute', now(), 'pg_dump: connection refused')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let client = browser(&driver).await;
    client.goto(&app.url(&format!("/ops/queues/?token={admin}"))).await.unwrap();

    // The counts come from the inline script (so the nonce policy let it run).
    let counts = app
        .eventually(Duration::from_secs(15), || async {
            let failed = text_of(&client, r#"tr[data-queue="maintenance"] td[data-k="failed"]"#).await;
            let done = text_of(&client, r#"tr[data-queue="emails"] td[data-k="done"]"#).await;
            (failed == "1" && done == "2").then_some((failed, done))
        })
        .await;
    assert!(counts.is_some(), "counts never shown");
    let alert = app
        .eventually(Duration::from_secs(15), || async {
            let text = text_of(&client, "#backup-alert").await;
            (!text.is_empty()).then_some(text)
        })
        .await
        .unwrap_or_default();
    assert!(alert.contains("failed or did not verify: pg_dump: connection refused"), "{alert}");

    // The failure's detail shows the payload redacted.
    let details = format!(r#"button.details[data-job="{id}"]"#);
    let button = client.wait().at_most(Duration::from_secs(15)).for_element(fantoccini::Locator::Css(&details)).await;
    button.unwrap().click().await.unwrap();
    let payload = text_of(&client, "#payload").await;
    assert!(payload.contains("[redacted]") && !payload.contains("hidden"), "{payload}");

    // Retry, accepting the confirm() dialog: the job runs again.
    let retry = format!(r#"button.retry[data-job="{id}"]"#);
    client.find(fantoccini::Locator::Css(&retry)).await.unwrap().click().await.unwrap();
    let question = client.get_alert_text().await.unwrap();
    assert_eq!(question, format!("Retry job #{id} (maintenance)?"));
    client.accept_alert().await.unwrap();
    let done = app
        .eventually(Duration::from_secs(15), || async { status_of(&app, id).await.filter(|(s, _)| s == "done") })
        .await;
    assert_eq!(done, Some(("done".into(), 1)));

    // Nothing was fetched from another host.
    let origin = client.execute("return location.origin", vec![]).await.unwrap();
    assert_eq!(origin, json!(app.base));
    let resources = client
        .execute("return performance.getEntriesByType('resource').map(function (e) { return e.name; })", vec![])
        .await
        .unwrap();
    let resources = resources.as_array().unwrap();
    assert!(!resources.is_empty());
    for r in resources {
        assert!(r.as_str().unwrap().starts_with(&format!("{}/", app.base)), "{r}");
    }
    client.close().await.unwrap();
}

/// An SMTP server that refuses every recipient with `reply` (e.g. `550 5.1.1 No such user here`).
async fn refusing_smtp(reply: &'static str) -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 refusing.test ESMTP\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let command = line.to_ascii_uppercase();
                    let answer = if command.starts_with("EHLO") || command.starts_with("HELO") {
                        "250 refusing.test".to_string()
                    } else if command.starts_with("RCPT") {
                        reply.to_string()
                    } else if command.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        "250 ok".to_string()
                    };
                    if write.write_all(format!("{answer}\r\n").as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_refusal_fails_the_email_job_at_once_with_the_servers_message() {
    let port = refusing_smtp("550 5.1.1 No such user here").await;
    let app = TestAppBuilder::new().var("SMTP_URL", format!("smtp://127.0.0.1:{port}")).with_worker().spawn().await;
    let email = common::jobs::SendEmail {
        message_key: "refused-1".into(),
        to: "nobody@example.com".into(),
        template: "password_reset".into(),
        context: json!({"name": "N", "username": "u", "reset_url": "http://x.test/r", "valid_minutes": 60}),
        attachments: Vec::new(),
    };
    let mut conn = app.pool.acquire().await.unwrap();
    let id = common::jobs::enqueue(&mut conn, &email, Some("refused-1")).await.unwrap().unwrap();
    drop(conn);
    let failed: (String, i32, Option<String>) = app
        .eventually(Duration::from_secs(15), || async {
            let row: (String, i32, Option<String>) =
                sqlx::query_as("SELECT status, attempts, last_error FROM job WHERE id = $1")
                    .bind(id)
                    .fetch_one(&app.pool)
                    .await
                    .unwrap();
            (row.0 == "failed").then_some(row)
        })
        .await
        .expect("failed for good");
    assert_eq!(failed.1, 1, "no second attempt after a permanent refusal");
    let error = failed.2.unwrap();
    assert!(error.starts_with("smtp refused:") && error.contains("No such user here"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_smtp_reply_retries_the_email_job() {
    let port = refusing_smtp("450 4.2.1 Mailbox busy, try later").await;
    let app = TestAppBuilder::new().var("SMTP_URL", format!("smtp://127.0.0.1:{port}")).with_worker().spawn().await;
    let email = common::jobs::SendEmail {
        message_key: "busy-1".into(),
        to: "busy@example.com".into(),
        template: "password_reset".into(),
        context: json!({"name": "N", "username": "u", "reset_url": "http://x.test/r", "valid_minutes": 60}),
        attachments: Vec::new(),
    };
    let mut conn = app.pool.acquire().await.unwrap();
    let id = common::jobs::enqueue(&mut conn, &email, Some("busy-1")).await.unwrap().unwrap();
    drop(conn);
    let retried: (String, i32, Option<String>) = app
        .eventually(Duration::from_secs(20), || async {
            let row: (String, i32, Option<String>) =
                sqlx::query_as("SELECT status, attempts, last_error FROM job WHERE id = $1")
                    .bind(id)
                    .fetch_one(&app.pool)
                    .await
                    .unwrap();
            (row.1 >= 2).then_some(row)
        })
        .await
        .expect("attempted again");
    assert_ne!(retried.0, "failed");
    let error = retried.2.unwrap();
    assert!(error.starts_with("transport:") && error.contains("Mailbox busy"), "{error}");
}

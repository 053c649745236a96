//! Error tracking (`SENTRY_DSN`, issue 15 #6): a 5xx answer and a job that fails for good each
//! reach a fake Sentry as one event with the request or job id, and nothing of the caller's
//! credentials.

use std::time::Duration;

use common::jobs::{self, SendEmail};
use e2e::TestAppBuilder;
use e2e::sentry::FakeSentry;
use serde_json::json;

#[tokio::test]
async fn a_server_error_is_reported_once_without_the_callers_token() {
    let sentry = FakeSentry::start().await;
    let app = TestAppBuilder::new().var("SENTRY_DSN", sentry.dsn()).spawn().await;
    let (_, admin) = app.user_token("owner", "admin").await;
    // The notifications table is gone: the list fails inside the handler.
    sqlx::query("ALTER TABLE notification RENAME TO notification_moved").execute(&app.pool).await.unwrap();
    let res = app.get("/api/admin/notifications/", Some(&admin)).await;
    assert_eq!(res.status(), 500);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body, json!({"detail": "A server error occurred."}));

    let received = app
        .eventually(Duration::from_secs(10), || async {
            let r = sentry.received();
            (!r.is_empty()).then_some(r)
        })
        .await
        .expect("an event reached Sentry");
    // No second event comes for the same failure.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received_after = sentry.received();
    assert_eq!(received_after.len(), 1, "{received_after:?}");
    let event = received[0].event().unwrap_or_else(|| panic!("an event item: {:?}", received[0]));
    // `error` is Sentry's default level, left out of the payload.
    assert!(event.get("level").is_none_or(|l| l == "error"), "{event}");
    assert_eq!(event["tags"]["request_id"], request_id.as_str());
    assert_eq!(event["tags"]["http.status_code"], "500");
    let message = event["message"].as_str().or_else(|| event["message"]["formatted"].as_str()).unwrap_or("");
    assert!(message.contains("500 on GET /api/admin/notifications/"), "{event}");
    for r in &received_after {
        assert!(!r.body.contains(&admin), "the token never leaves: {}", r.body);
        assert!(!r.headers.contains(&admin));
        assert!(!r.body.to_ascii_lowercase().contains("bearer"), "{}", r.body);
        assert!(r.event().is_some_and(|e| e.get("request").is_none()), "no request data");
    }

    // A 4xx is not an error to track.
    let res = app.get("/api/admin/orders/999999/", Some(&admin)).await;
    assert_eq!(res.status(), 404);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sentry.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_failing_for_good_is_reported_with_its_id() {
    let sentry = FakeSentry::start().await;
    // SMTP on a closed port: every attempt fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = TestAppBuilder::new()
        .var("SENTRY_DSN", sentry.dsn())
        .var("SMTP_URL", format!("smtp://127.0.0.1:{port}"))
        .with_worker()
        .spawn()
        .await;
    let job = SendEmail {
        message_key: "sentry-failing".into(),
        to: "someone@example.com".into(),
        template: "password_reset".into(),
        context: json!({"name": "N", "username": "u", "reset_url": "http://x.test/r", "valid_minutes": 60}),
        attachments: Vec::new(),
    };
    let id = {
        let mut conn = app.pool.acquire().await.unwrap();
        jobs::enqueue(&mut conn, &job, Some(&job.message_key)).await.unwrap().unwrap()
    };
    let id_text = id.to_string();
    // Two attempts at most.
    sqlx::query("UPDATE job SET max_attempts = 2 WHERE id = $1").bind(id).execute(&app.pool).await.unwrap();
    let event = app
        .eventually(Duration::from_secs(30), || async {
            sentry.received().iter().filter_map(|r| r.event()).find(|e| e["tags"]["job_id"] == id_text.as_str())
        })
        .await
        .expect("the failed job reached Sentry");
    let status: String =
        sqlx::query_scalar("SELECT status FROM job WHERE id = $1").bind(id).fetch_one(&app.pool).await.unwrap();
    assert_eq!(status, "failed");
    assert_eq!(event["tags"]["job_kind"], "send_email");
    let message = event["message"].as_str().or_else(|| event["message"]["formatted"].as_str()).unwrap_or("");
    assert!(message.contains(&format!("#{id} failed for good")), "{event}");
    // Only the final failure is reported, not the retry before it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reports =
        sentry.received().iter().filter_map(|r| r.event()).filter(|e| e["tags"]["job_id"] == id_text.as_str()).count();
    assert_eq!(reports, 1);
}

/// The value of a metric line `name{labels} value` in `/metrics`.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_queues_job_durations_failures_and_payment_issues() {
    let app = TestAppBuilder::new().with_worker().spawn().await;
    // A job that runs (a no-op on the maintenance queue) and one that cannot run (dead).
    let id = {
        let mut conn = app.pool.acquire().await.unwrap();
        jobs::enqueue(&mut conn, &jobs::Noop {}, None).await.unwrap().unwrap()
    };
    sqlx::raw_sql(
        "INSERT INTO job (queue, kind, payload) VALUES ('maintenance', 'no_such_kind', '{}'); NOTIFY job_outbox",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    // A job marked queued ten minutes ago that is in no Redis list: it waits, and its age shows
    // (the stale check re-pushes only after JOB_STALE_SECONDS, 15 minutes).
    sqlx::query(
        "INSERT INTO job (queue, kind, payload, status, run_at, queued_at)
         VALUES ('media', 'store_product_image', '{}', 'queued', now() - interval '10 minutes', now() - interval '10 minutes')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let text = app
        .eventually(Duration::from_secs(20), || async {
            let text = app.get("/metrics", None).await.text().await.unwrap();
            let done = metric(&text, "electioncart_job_duration_seconds_count{kind=\"noop\"}").unwrap_or(0.0) >= 1.0;
            let dead = metric(&text, "electioncart_job_failures_total{kind=\"no_such_kind\",outcome=\"dead\"}")
                .unwrap_or(0.0)
                >= 1.0;
            (done && dead).then_some(text)
        })
        .await
        .expect("job figures reach /metrics");
    let status: String =
        sqlx::query_scalar("SELECT status FROM job WHERE id = $1").bind(id).fetch_one(&app.pool).await.unwrap();
    assert_eq!(status, "done");
    assert!(metric(&text, "electioncart_job_duration_seconds_bucket{kind=\"noop\",le=\"+Inf\"}").unwrap() >= 1.0);
    for q in ["emails", "invoices", "media", "payments", "maintenance"] {
        assert!(metric(&text, &format!("electioncart_queue_depth{{queue=\"{q}\"}}")).is_some(), "{q}: {text}");
    }
    let age = metric(&text, "electioncart_queue_oldest_pending_seconds{queue=\"media\"}").unwrap();
    assert!(age >= 590.0, "{age}");
    assert_eq!(metric(&text, "electioncart_payment_issues{state=\"open\"}"), Some(0.0));
}

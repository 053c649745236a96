//! Prometheus metrics of one API process (`GET /metrics`, API.md §9.1): HTTP responses and
//! latencies counted here, job and pool figures read at scrape time.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::AppState;

/// Upper bounds (seconds) of the latency histogram.
const BUCKETS: [f64; 11] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Counters of this process.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    by_class: [AtomicU64; 5],
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl HttpMetrics {
    /// Counts one response.
    pub fn observe(&self, status: u16, elapsed: Duration) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

/// The `/metrics` route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(expected) = &state.cfg.metrics_token else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    given.as_bytes().ct_eq(expected.expose_secret().as_bytes()).into()
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses(
        (status = 200, description = "Prometheus text exposition (version 0.0.4)", body = String, content_type = "text/plain"),
        (status = 401, description = "`METRICS_TOKEN` is set and the Bearer token differs"),
    ))]
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        return ApiError::Unauthorized("Authentication credentials were not provided.").into_response();
    }
    let mut out = String::with_capacity(4096);
    let m = &state.http_metrics;
    let _ = writeln!(out, "# HELP electioncart_http_requests_total HTTP responses by status class.");
    let _ = writeln!(out, "# TYPE electioncart_http_requests_total counter");
    for (i, class) in CLASSES.iter().enumerate() {
        let _ = writeln!(
            out,
            "electioncart_http_requests_total{{class=\"{class}\"}} {}",
            m.by_class[i].load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(out, "# HELP electioncart_http_request_duration_seconds Time to answer a request.");
    let _ = writeln!(out, "# TYPE electioncart_http_request_duration_seconds histogram");
    for (i, le) in BUCKETS.iter().enumerate() {
        let _ = writeln!(
            out,
            "electioncart_http_request_duration_seconds_bucket{{le=\"{le}\"}} {}",
            m.buckets[i].load(Ordering::Relaxed)
        );
    }
    let count = m.count.load(Ordering::Relaxed);
    let _ = writeln!(out, "electioncart_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(
        out,
        "electioncart_http_request_duration_seconds_sum {}",
        m.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
    );
    let _ = writeln!(out, "electioncart_http_request_duration_seconds_count {count}");
    let _ =
        writeln!(out, "# HELP electioncart_password_hashes_total argon2 computations (login, signup, reset, change).");
    let _ = writeln!(out, "# TYPE electioncart_password_hashes_total counter");
    let _ = writeln!(out, "electioncart_password_hashes_total {}", state.hasher.computed());

    let jobs = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query_as::<_, (String, String, i64)>(
            "SELECT queue, status, count(*) FROM job GROUP BY 1, 2 ORDER BY 1, 2",
        )
        .fetch_all(&state.pool),
    )
    .await;
    let database_up = matches!(jobs, Ok(Ok(_)));
    if let Ok(Ok(rows)) = jobs {
        let _ = writeln!(out, "# HELP electioncart_jobs Jobs in the outbox table by queue and status.");
        let _ = writeln!(out, "# TYPE electioncart_jobs gauge");
        for (queue, status, n) in rows {
            let _ = writeln!(out, "electioncart_jobs{{queue=\"{queue}\",status=\"{status}\"}} {n}");
        }
    }
    let waiting = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query_as::<_, (String, i64, Option<f64>)>(
            "SELECT queue, count(*),
                    extract(epoch FROM now() - min(CASE WHEN status = 'queued' THEN LEAST(run_at, coalesce(queued_at, run_at))
                                                        ELSE run_at END))::float8
             FROM job
             WHERE status = 'queued' OR (status = 'pending' AND run_at <= now())
             GROUP BY queue",
        )
        .fetch_all(&state.pool),
    )
    .await;
    if let Ok(Ok(rows)) = waiting {
        let by_queue: std::collections::HashMap<String, (i64, f64)> =
            rows.into_iter().map(|(q, n, age)| (q, (n, age.unwrap_or(0.0).max(0.0)))).collect();
        let _ =
            writeln!(out, "# HELP electioncart_queue_depth Jobs due and not started, per queue (outbox and Redis).");
        let _ = writeln!(out, "# TYPE electioncart_queue_depth gauge");
        for q in common::jobs::Queue::ALL {
            let n = by_queue.get(q.as_str()).map_or(0, |v| v.0);
            let _ = writeln!(out, "electioncart_queue_depth{{queue=\"{}\"}} {n}", q.as_str());
        }
        let _ = writeln!(
            out,
            "# HELP electioncart_queue_oldest_pending_seconds Age of the oldest job due and not started, per queue."
        );
        let _ = writeln!(out, "# TYPE electioncart_queue_oldest_pending_seconds gauge");
        for q in common::jobs::Queue::ALL {
            let age = by_queue.get(q.as_str()).map_or(0.0, |v| v.1);
            let _ = writeln!(out, "electioncart_queue_oldest_pending_seconds{{queue=\"{}\"}} {age:.3}", q.as_str());
        }
    }
    let issues = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query_as::<_, (i64, i64)>(
            "SELECT count(*) FILTER (WHERE resolved_at IS NULL), count(*) FROM payment_issue",
        )
        .fetch_one(&state.pool),
    )
    .await;
    if let Ok(Ok((open, all))) = issues {
        let _ = writeln!(
            out,
            "# HELP electioncart_payment_issues Payment issues recorded (wrong amount, cancelled or already paid order…)."
        );
        let _ = writeln!(out, "# TYPE electioncart_payment_issues gauge");
        let _ = writeln!(out, "electioncart_payment_issues{{state=\"open\"}} {open}");
        let _ = writeln!(out, "electioncart_payment_issues{{state=\"all\"}} {all}");
    }
    let backups = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query_as::<_, (Option<f64>, Option<bool>)>(
            "SELECT (SELECT extract(epoch FROM max(finished_at))::float8 FROM backup_run
                     WHERE status = 'ok' AND verified),
                    (SELECT status = 'ok' AND verified FROM backup_run
                     WHERE status IN ('ok', 'failed') ORDER BY finished_at DESC NULLS LAST, id DESC LIMIT 1)",
        )
        .fetch_one(&state.pool),
    )
    .await;
    if let Ok(Ok((last_ok, last_status))) = backups {
        if let Some(at) = last_ok {
            let _ = writeln!(
                out,
                "# HELP electioncart_backup_last_success_timestamp_seconds When the last verified backup finished."
            );
            let _ = writeln!(out, "# TYPE electioncart_backup_last_success_timestamp_seconds gauge");
            let _ = writeln!(out, "electioncart_backup_last_success_timestamp_seconds {at:.3}");
        }
        if let Some(ok) = last_status {
            let _ = writeln!(
                out,
                "# HELP electioncart_backup_last_status_ok 1 when the last finished backup verified, else 0."
            );
            let _ = writeln!(out, "# TYPE electioncart_backup_last_status_ok gauge");
            let _ = writeln!(out, "electioncart_backup_last_status_ok {}", u8::from(ok));
        }
    }
    let mut redis = state.redis.clone();
    let redis_up = common::kv::ping(&mut redis).await;
    if redis_up {
        let mut job_text = String::new();
        let rendered = tokio::time::timeout(
            Duration::from_secs(2),
            common::job_metrics::render(&mut redis, &state.cfg.queue_prefix, &mut job_text),
        )
        .await;
        if let Ok(Ok(())) = rendered {
            out.push_str(&job_text);
        }
    }
    let _ = writeln!(out, "# HELP electioncart_dependency_up Whether a dependency answered during this scrape.");
    let _ = writeln!(out, "# TYPE electioncart_dependency_up gauge");
    let _ = writeln!(out, "electioncart_dependency_up{{dependency=\"database\"}} {}", u8::from(database_up));
    let _ = writeln!(out, "electioncart_dependency_up{{dependency=\"redis\"}} {}", u8::from(redis_up));
    let _ = writeln!(out, "# HELP electioncart_db_pool_connections Connections of this process's pool.");
    let _ = writeln!(out, "# TYPE electioncart_db_pool_connections gauge");
    let _ = writeln!(out, "electioncart_db_pool_connections{{state=\"open\"}} {}", state.pool.size());
    let _ = writeln!(out, "electioncart_db_pool_connections{{state=\"idle\"}} {}", state.pool.num_idle());
    let _ = writeln!(out, "# HELP process_resident_memory_bytes Resident memory of this process.");
    let _ = writeln!(out, "# TYPE process_resident_memory_bytes gauge");
    let _ = writeln!(out, "process_resident_memory_bytes {}", crate::routes::health::resident_bytes());
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}

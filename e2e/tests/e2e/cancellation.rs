//! A request dropped while its transaction starts (the client gone, a timeout) must not leave
//! its pooled connection inside a transaction that the next borrower's statements would run in,
//! uncommitted.

use std::time::Duration;

use e2e::TestAppBuilder;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// Whether the pool's connection is inside a transaction: `now()` is the transaction's start,
/// so two statements a moment apart see the same one only inside a transaction.
async fn inside_a_transaction(pool: &PgPool) -> bool {
    let first: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()").fetch_one(pool).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2)).await;
    let second: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()").fetch_one(pool).await.unwrap();
    first == second
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_dropped_while_it_begins_leaves_no_open_transaction_behind() {
    let app = TestAppBuilder::new().spawn().await;
    // One connection, so that every attempt and every check uses the same one.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(app.pool.connect_options().as_ref().clone())
        .await
        .unwrap();
    let mut stale = 0;
    for attempt in 0..1000u64 {
        // Cut off at every point between "acquiring" and "BEGIN answered".
        let cut = Duration::from_micros(attempt * 2);
        if let Ok(tx) = tokio::time::timeout(cut, common::db::begin(&pool)).await {
            drop(tx.unwrap());
        }
        if inside_a_transaction(&pool).await {
            stale += 1;
            sqlx::query("ROLLBACK").execute(&pool).await.unwrap();
        }
    }
    assert_eq!(stale, 0, "connections left inside a transaction after a dropped BEGIN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_connection_cut_while_idle_is_replaced_before_it_is_lent() {
    let app = TestAppBuilder::new().spawn().await;
    let mut cfg = app.cfg.clone();
    cfg.database_max_connections = 1;
    let pool = common::db::pool(&cfg).unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&pool).await.unwrap();
    // PostgreSQL ends the pooled connection's backend (as a restart or a proxy would) while it
    // sits idle past the retest delay.
    let ended: bool =
        sqlx::query_scalar("SELECT pg_terminate_backend($1)").bind(pid).fetch_one(&app.pool).await.unwrap();
    assert!(ended);
    tokio::time::sleep(common::db::RETEST_IDLE_AFTER + Duration::from_millis(200)).await;
    // The dead connection is found by the test before lending and replaced: no error reaches
    // the borrower.
    let next: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&pool).await.unwrap();
    assert_ne!(next, pid);
}

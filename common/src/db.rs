//! PostgreSQL pool and migrations.

use std::str::FromStr;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::Config;

/// The migrations of `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Opens a pool with the configured size and timeouts. Connections are made lazily, so the
/// service starts (and answers `/ready/` with 503) while PostgreSQL is down.
pub fn pool(cfg: &Config) -> Result<PgPool, sqlx::Error> {
    let mut options = PgConnectOptions::from_str(cfg.database_url.expose())?.application_name("electioncart");
    let timeout_ms = cfg.database_statement_timeout.as_millis();
    if timeout_ms > 0 {
        options = options.options([("statement_timeout", timeout_ms.to_string())]);
    }
    Ok(PgPoolOptions::new()
        .max_connections(cfg.database_max_connections)
        .acquire_timeout(cfg.database_acquire_timeout)
        // sqlx tests every connection it takes back (a round trip on its release) and, by
        // default, again before lending it: two round trips beside every checkout's own
        // statements. Under load a connection is lent again within milliseconds of that first
        // test, so only one that has sat idle is tested again (PostgreSQL may have restarted or
        // cut it meanwhile); a broken one is closed and another is lent.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= RETEST_IDLE_AFTER {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(options))
}

/// A pooled connection idle this long is tested before it is lent again.
pub const RETEST_IDLE_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Applies pending migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// `%text%` for `ILIKE`, with `\`, `%` and `_` in the text matched literally.
pub fn like_pattern(text: &str) -> String {
    format!("%{}%", text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

/// True when the error says PostgreSQL cannot be reached or is not serving (down, restarting,
/// cut off, out of connections, no connection within `DATABASE_ACQUIRE_TIMEOUT_SECONDS`), as
/// opposed to a fault of the statement: the API answers 503 for these, never 500.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        // A connection cut while it was being made: sqlx reads the closed socket as a bad
        // answer to its SSL request.
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        // Class 08: connection exceptions; 57P01-57P03: the server is shutting down, crashed or
        // starting up; 53300: too many connections.
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")),
        _ => false,
    }
}

/// True when the error is a unique violation of the named constraint.
pub fn is_unique_violation(err: &sqlx::Error, constraint: &str) -> bool {
    match err {
        sqlx::Error::Database(db) => db.is_unique_violation() && db.constraint() == Some(constraint),
        _ => false,
    }
}

/// Starts a transaction on a pooled connection, in a task of its own so that `BEGIN` completes
/// even when the caller is dropped while it is in flight (a client gone, a timeout).
///
/// sqlx 0.9 counts a transaction only once the server has answered its `BEGIN`: a caller dropped
/// in between returns the connection to the pool inside a transaction sqlx does not know of, and
/// the next borrower's statements run in it, uncommitted until someone's `COMMIT` on that
/// connection, lost if it closes first. Seen under `scripts/bench` (wrk closes its connections
/// mid-request at the end of a run: PostgreSQL's "there is already a transaction in progress").
/// In its own task the `BEGIN` is answered and counted, and a transaction nobody takes is
/// dropped, so rolled back, like any other. Use it instead of `Pool::begin` (clippy.toml).
pub async fn begin(pool: &PgPool) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let pool = pool.clone();
    #[allow(clippy::disallowed_methods)]
    let started = tokio::spawn(async move { pool.begin().await }).await;
    started.unwrap_or_else(|e| Err(sqlx::Error::Protocol(format!("the task starting a transaction failed: {e}"))))
}

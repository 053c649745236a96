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
        .connect_lazy_with(options))
}

/// Applies pending migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// `%text%` for `ILIKE`, with `\`, `%` and `_` in the text matched literally.
pub fn like_pattern(text: &str) -> String {
    format!("%{}%", text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

/// True when the error is a unique violation of the named constraint.
pub fn is_unique_violation(err: &sqlx::Error, constraint: &str) -> bool {
    match err {
        sqlx::Error::Database(db) => db.is_unique_violation() && db.constraint() == Some(constraint),
        _ => false,
    }
}

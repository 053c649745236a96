//! What the binary-level tests share: throwaway PostgreSQL databases on the test server
//! (`TEST_DATABASE_URL`, default the local one).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::process::Command;

use sqlx::{Connection, PgConnection};

/// The maintenance database of the test server.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The URL of database `db` on the test server.
pub fn url_of(db: &str) -> String {
    let admin = admin_url();
    match admin.rfind('/') {
        Some(i) => format!("{}/{db}", &admin[..i]),
        None => panic!("TEST_DATABASE_URL has no database: {admin}"),
    }
}

/// A database created for one test (`ec_test_<group>_<tag>_…`, names the test script clears)
/// and dropped when it ends.
pub struct Db {
    /// Its name.
    pub name: String,
}

impl Db {
    /// An empty database.
    pub async fn create(group: &str, tag: &str) -> Db {
        let name = format!("ec_test_{group}_{tag}_{}_{}", std::process::id(), uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url()).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&mut admin).await.unwrap();
        Db { name }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        url_of(&self.name)
    }

    /// A connection to it.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url()).await.unwrap()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let _ = Command::new("psql")
                .args([admin_url().as_str(), "-qc", &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")])
                .output();
        })
        .join();
    }
}

/// The `api` binary, set up to run a command against database `db_url` (development settings,
/// media under `media_dir`, JSON logs at `warn`): the caller adds the arguments and runs it.
pub fn api_command(db_url: &str, media_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_api"));
    cmd.env("APP_ENV", "development")
        .env("DATABASE_URL", db_url)
        .env("MEDIA_DIR", media_dir)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "warn");
    cmd
}

/// What a finished command printed, stdout then stderr.
pub fn output_text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

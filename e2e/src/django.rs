//! The original Django backend's database for the importer's tests: its real schema and sample
//! (`e2e/fixtures/django/`, copied from the shared fixtures so that CI has them).

use std::path::PathBuf;

use serde::Deserialize;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// Directory of the fixture files.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/django")
}

/// An account of the sample with its plain password.
#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    /// Login name.
    pub username: String,
    /// Plain password.
    pub password: String,
    /// Role in the original.
    pub role: String,
    /// Id.
    pub id: i64,
}

/// Every account of the sample.
pub fn accounts() -> Vec<Account> {
    let text = std::fs::read_to_string(fixtures().join("sample-accounts.json")).expect("sample-accounts.json");
    serde_json::from_str(&text).expect("accounts parse")
}

/// Row counts per source table of the sample.
pub fn counts() -> std::collections::BTreeMap<String, i64> {
    let text = std::fs::read_to_string(fixtures().join("counts.json")).expect("counts.json");
    serde_json::from_str(&text).expect("counts parse")
}

/// A new database holding the original's schema and sample; returns its name (drop it with
/// [`crate::drop_database`]).
pub async fn source_database() -> String {
    let name = format!("ec_django_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&crate::admin_database_url()).await.unwrap();
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
    // One connection of its own: the dump sets search_path to '' for its session.
    let mut conn = PgConnection::connect(&crate::database_url_of(&name)).await.unwrap();
    for file in ["schema.sql", "sample-data.sql"] {
        let sql = std::fs::read_to_string(fixtures().join(file)).expect("fixture file");
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await.unwrap_or_else(|e| panic!("load {file}: {e}"));
    }
    conn.close().await.unwrap();
    name
}

/// Import options from a source database into a target database, in a test's media directory.
pub fn options(source: &str, target: &str, media_dir: PathBuf) -> api::import_django::Options {
    api::import_django::Options {
        from: crate::database_url_of(source),
        into: crate::database_url_of(target),
        dry_run: false,
        batch: 500,
        media_from: None,
        media_dir,
        cloud_name: Some("ecart".into()),
        progress: false,
        fail_after_batches: None,
    }
}

//! `api import-django` as ops run it: the real binary, the original's schema and sample
//! (`e2e/fixtures/django/`) in a scratch database, a freshly migrated target. The API-level
//! checks (logins, tokens, orders through the admin routes, resume) are in the e2e tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Output;

use sqlx::Connection;

mod support;

use support::Db;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../e2e/fixtures/django")
}

/// The original's schema and sample.
async fn django_db() -> Db {
    let db = Db::create("imp", "src").await;
    let mut conn = db.connect().await;
    for file in ["schema.sql", "sample-data.sql"] {
        let sql = std::fs::read_to_string(fixtures().join(file)).unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();
    db
}

/// A freshly migrated target (`api migrate`).
async fn our_db() -> Db {
    let db = Db::create("imp", "dst").await;
    let out = api(&db.url(), &["migrate"]);
    assert!(out.status.success(), "{}", text(&out));
    db
}

fn api(db_url: &str, args: &[&str]) -> Output {
    let media = std::env::temp_dir().join(format!("ec-imp-media-{}", std::process::id()));
    support::api_command(db_url, &media).env_remove("CLOUDINARY_URL").args(args).output().expect("run api")
}

fn text(out: &Output) -> String {
    support::output_text(out)
}

/// The summary row of a table: source, imported, updated, unchanged.
fn row(out: &Output, table: &str) -> Vec<u64> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(table))
        .unwrap_or_else(|| panic!("no summary row for {table}:\n{stdout}"));
    line.split_whitespace().skip(1).take(4).map(|n| n.parse().unwrap()).collect()
}

#[test]
fn import_django_help_explains_the_flags() {
    let out = api("postgres://unused@127.0.0.1:1/none", &["import-django", "--help"]);
    assert!(out.status.success());
    let help = text(&out);
    for flag in ["--from <POSTGRES_URL>", "--dry-run", "--batch <N>", "--media-from <DIR>", "--cloud-name", "--into"] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    assert!(help.contains("REPEATABLE READ"), "{help}");
}

#[tokio::test]
async fn import_django_binary_imports_the_sample_once_and_then_finds_it_unchanged() {
    let src = django_db().await;
    let dst = our_db().await;
    let args = ["import-django", "--from", &src.url(), "--cloud-name", "ecart", "--batch", "7"];

    let dry = api(&dst.url(), &[&args[..], &["--dry-run"]].concat());
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    assert!(text(&dry).contains("dry run: nothing was written"));
    assert_eq!(row(&dry, "orders_order"), vec![30, 30, 0, 0]);
    let mut conn = dst.connect().await;
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&mut conn).await.unwrap();
    assert_eq!(users, 0, "the dry run wrote");

    let first = api(&dst.url(), &args);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert_eq!(row(&first, "authentication_customuser"), vec![12, 12, 0, 0]);
    assert_eq!(row(&first, "orders_checklistitem"), vec![143, 143, 0, 0]);
    assert!(text(&first).contains("django_admin_log"), "the admin log is reported as not carried");

    let second = api(&dst.url(), &args);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    assert_eq!(row(&second, "orders_order"), vec![30, 0, 0, 30]);
    assert_eq!(row(&second, "admin_panel_notification"), vec![55, 0, 0, 55]);

    let runs: Vec<String> =
        sqlx::query_scalar("SELECT status FROM django_import_run ORDER BY id").fetch_all(&mut conn).await.unwrap();
    assert_eq!(runs, ["ok", "ok"]);
}

#[tokio::test]
async fn import_django_binary_refuses_a_database_the_service_already_uses() {
    let src = django_db().await;
    let dst = our_db().await;
    let mut conn = dst.connect().await;
    sqlx::query("INSERT INTO package (name, price, description) VALUES ('Ours', 10, 'x')")
        .execute(&mut conn)
        .await
        .unwrap();
    let out = api(&dst.url(), &["import-django", "--from", &src.url(), "--cloud-name", "ecart"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("package: 1"), "{}", text(&out));
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&mut conn).await.unwrap();
    assert_eq!(orders, 0);

    // An unmigrated target is refused too, with what to do.
    let bare = Db::create("imp", "bare").await;
    let out = api(&bare.url(), &["import-django", "--from", &src.url()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("api migrate"), "{}", text(&out));
}

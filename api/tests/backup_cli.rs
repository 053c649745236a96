//! `api backup` and `api restore` as ops run them: the real binary against real PostgreSQL
//! (`TEST_DATABASE_URL`, default the local server), each run on databases of its own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Output;

use sqlx::PgConnection;

mod support;

use support::Db;

fn api(db_url: &str, backup_dir: &Path, args: &[&str]) -> Output {
    support::api_command(db_url, &backup_dir.join("media"))
        .env("BACKUP_DIR", backup_dir)
        .args(args)
        .output()
        .expect("run api")
}

fn text(out: &Output) -> String {
    support::output_text(out)
}

async fn counts(conn: &mut PgConnection) -> (i64, i64, String, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM orders),
                (SELECT coalesce(sum(total_amount), 0)::text FROM orders),
                (SELECT coalesce(max(last_seq), 0) FROM invoice_counter)",
    )
    .fetch_one(conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn backup_then_restore_into_an_empty_database_with_the_binary() {
    let dir = std::env::temp_dir().join(format!("ec-backup-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = Db::create("cli", "src").await;
    let out = api(&source.url(), &dir, &["migrate"]);
    assert!(out.status.success(), "{}", text(&out));
    let mut conn = source.connect().await;
    sqlx::raw_sql(
        "INSERT INTO users (password, username) SELECT '!', 'cli_user_' || g FROM generate_series(1, 5) g;
         INSERT INTO orders (user_id, order_number, total_amount, status, invoice_number)
         SELECT (SELECT min(id) FROM users), 'EC-CLI-' || g, 100 * g + 0.5, 'completed',
                CASE WHEN g = 3 THEN 'INV/26-27/00042' END
         FROM generate_series(1, 3) g;
         INSERT INTO invoice_counter (fy_start_year, last_seq) VALUES (2026, 42);",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let before = counts(&mut conn).await;

    // `api backup`: dumped, test-restored, recorded.
    let out = api(&source.url(), &dir, &["backup"]);
    assert!(out.status.success(), "{}", text(&out));
    let printed = text(&out);
    assert!(printed.contains("ok, verified"), "{printed}");
    let file = printed
        .lines()
        .find_map(|l| l.trim().strip_prefix("file").map(|f| PathBuf::from(f.trim())))
        .unwrap_or_else(|| panic!("no file in {printed}"));
    assert!(file.exists(), "{}", file.display());

    // After the dump the live database issued up to number 50: restoring the dump alone would
    // rewind the counter to 42 and issue 43…50 again.
    sqlx::raw_sql(
        "INSERT INTO orders (user_id, order_number, total_amount, status, invoice_number)
         VALUES ((SELECT min(id) FROM users), 'EC-CLI-LATE', 10, 'completed', 'INV/26-27/00050');
         UPDATE invoice_counter SET last_seq = 50;",
    )
    .execute(&mut conn)
    .await
    .unwrap();

    // `api restore` into an empty database: the same rows, the counter past the numbers seen.
    let target = Db::create("cli", "dst").await;
    let from = file.to_string_lossy().to_string();
    let out = api(
        &source.url(),
        &dir,
        &["restore", "--from", &from, "--into", &target.url(), "--issued-from", &source.url()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let mut restored = target.connect().await;
    let after = counts(&mut restored).await;
    // The dump's rows (the late order is not in it).
    assert_eq!((after.0, after.1, after.2.clone()), (before.0, before.1, before.2.clone()));
    // Issued up to 42 in the dump, 50 in the live database: the restored counter continues at 51.
    assert_eq!(after.3, 50, "{}", text(&out));
    let report = text(&out);
    assert!(report.contains("42") && report.contains("50"), "{report}");

    // Into a database that has tables: refused without --force, done with it.
    let out = api(&source.url(), &dir, &["restore", "--from", &from, "--into", &target.url()]);
    assert!(!out.status.success(), "{}", text(&out));
    let out = api(&source.url(), &dir, &["restore", "--from", &from, "--into", &target.url(), "--force"]);
    assert!(out.status.success(), "{}", text(&out));

    // A damaged file is refused before anything is restored.
    let damaged = dir.join("damaged.dump");
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&damaged, &bytes).unwrap();
    let empty = Db::create("cli", "dmg").await;
    let out = api(
        &source.url(),
        &dir,
        &["restore", "--from", &damaged.to_string_lossy(), "--into", &empty.url(), "--sha256", &sha_of(&file)],
    );
    assert!(!out.status.success(), "{}", text(&out));
    let mut e = empty.connect().await;
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        .fetch_one(&mut e)
        .await
        .unwrap();
    assert_eq!(tables, 0);
    drop(e);
    drop(conn);
    drop(restored);
    let _ = std::fs::remove_dir_all(&dir);
}

fn sha_of(path: &Path) -> String {
    let sidecar = std::fs::read_to_string(format!("{}.sha256", path.display())).unwrap();
    sidecar.split_whitespace().next().unwrap().to_string()
}

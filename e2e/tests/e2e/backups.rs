//! Backups and restore (API.md §9.6, issue 15): a verified backup of a seeded database, one run
//! at a time, verification that catches missing rows, checksums, restore into an empty or a
//! non-empty database, the invoice counters after a restore, encryption, retention and the
//! scheduler's tick. Each test has its own database and its own BACKUP_DIR.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use common::backup::restore::{self, RestoreError, RestoreOptions};
use common::backup::{self, Counts, RunKind};
use common::catalog::ProductType;
use common::config::SecretUrl;
use e2e::builders::{OrderBuilder, ProductBuilder};
use e2e::{TestApp, TestAppBuilder};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

fn temp_dir(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ec-backups-{tag}-{}", uuid::Uuid::new_v4().simple()))
}

fn builder() -> TestAppBuilder {
    TestAppBuilder::new().var("BACKUP_DIR", temp_dir("dir").display().to_string())
}

/// Removes the test's BACKUP_DIR when the test ends.
struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn spawn(builder: TestAppBuilder) -> (TestApp, RemoveDir) {
    let app = builder.spawn().await;
    let dir = RemoveDir(app.cfg.backup_dir.clone());
    (app, dir)
}

/// Three customers and an admin, two products, three orders (two paid, so invoice numbers).
async fn seed(app: &TestApp) -> i64 {
    let admin = app.create_user("boss", "pass-word-123", "admin", "boss@example.com").await;
    let mut buyers = Vec::new();
    for name in ["asha", "bala", "chitra"] {
        buyers.push(app.create_user(name, "pass-word-123", "user", "").await);
    }
    let pkg = ProductBuilder::package("Ward kit").price("14999.00").create(app).await;
    let camp = ProductBuilder::campaign("SMS blast").price("499.00").create(app).await;
    OrderBuilder::for_user(buyers[0]).item(ProductType::Package, pkg, 1).paid().create(app).await;
    OrderBuilder::for_user(buyers[1]).item(ProductType::Campaign, camp, 3).paid().create(app).await;
    OrderBuilder::for_user(buyers[2]).item(ProductType::Package, pkg, 2).create(app).await;
    admin
}

fn url_of(app: &TestApp, db: &str) -> String {
    let mut url = url::Url::parse(app.cfg.database_url.expose()).unwrap();
    url.set_path(&format!("/{db}"));
    url.to_string()
}

/// An empty database on the test server; dropped by the caller with [`drop_database`].
async fn empty_database(app: &TestApp) -> String {
    let name = format!("ec_restore_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(app.cfg.database_url.expose()).await.unwrap();
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
    name
}

async fn drop_database(app: &TestApp, name: &str) {
    let mut conn = PgConnection::connect(app.cfg.database_url.expose()).await.unwrap();
    let _ = sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut conn).await;
}

async fn counts_of(url: &str) -> Counts {
    let mut conn = PgConnection::connect(url).await.unwrap();
    Counts::read(&mut conn).await.unwrap()
}

fn options(from: &Path, into: String) -> RestoreOptions {
    RestoreOptions {
        from: from.to_path_buf(),
        into: SecretUrl::new(into),
        force: false,
        sha256: None,
        issued_from: None,
        key: None,
        timeout: Duration::from_secs(120),
    }
}

async fn run_cli_backup(app: &TestApp) -> Result<backup::BackupRun, String> {
    let id = backup::request(&app.pool, RunKind::Cli, None, None).await.unwrap().unwrap();
    backup::execute(&app.cfg, &app.pool, id).await
}

#[tokio::test]
async fn a_backup_of_a_seeded_database_verifies_with_its_counts() {
    let (app, _dir) = spawn(builder()).await;
    seed(&app).await;
    std::fs::create_dir_all(app.cfg.media_dir.join("products")).unwrap();
    std::fs::write(app.cfg.media_dir.join("products/a.jpg"), b"jpeg").unwrap();
    let run = run_cli_backup(&app).await.expect("backup ok");
    assert_eq!((run.status.as_str(), run.verified, run.kind.as_str()), ("ok", true, "cli"));
    let location = PathBuf::from(run.location.clone().unwrap());
    let name = location.file_name().unwrap().to_str().unwrap().to_string();
    assert!(name.starts_with("electioncart-") && name.ends_with("Z.dump"), "{name}");
    let (sha, size) = backup::hash_file(&location).unwrap();
    assert_eq!((run.sha256.as_deref(), run.size_bytes), (Some(sha.as_str()), Some(size)));
    let sidecar = std::fs::read_to_string(backup::sidecar_path(&location)).unwrap();
    assert_eq!(sidecar, format!("{sha}  {name}\n"));
    // The counts were read in the dump's snapshot: the seeded rows are there.
    let counts: Counts = serde_json::from_value(run.counts.clone().unwrap()).unwrap();
    assert_eq!(counts.tables["users"], 4);
    assert_eq!(counts.tables["orders"], 3);
    let total: String =
        sqlx::query_scalar("SELECT sum(total_amount)::text FROM orders").fetch_one(&app.pool).await.unwrap();
    assert_eq!(counts.orders_total_amount, total);
    // The media archive sits beside it; the scratch database is gone.
    let media = run.media_location.clone().expect("media archive");
    assert!(Path::new(&media).metadata().unwrap().len() > 0);
    let scratch: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(format!("{}_backup_verify", app.db_name))
        .fetch_optional(&app.pool)
        .await
        .unwrap();
    assert!(scratch.is_none());
    // /metrics shows when it finished, and that the last backup verified.
    let text = app.get("/metrics", None).await.text().await.unwrap();
    let finished: f64 =
        sqlx::query_scalar("SELECT extract(epoch FROM finished_at)::float8 FROM backup_run WHERE id = $1")
            .bind(run.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let shown: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("electioncart_backup_last_success_timestamp_seconds "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("backup time in {text}"));
    assert!((shown - finished).abs() < 0.01, "{shown} vs {finished}");
    assert!(text.lines().any(|l| l == "electioncart_backup_last_status_ok 1"), "{text}");
}

#[tokio::test]
async fn two_requests_give_one_202_and_one_409_and_the_worker_runs_it() {
    let (app, _dir) = spawn(builder().with_worker()).await;
    seed(&app).await;
    let (_, admin) = app.user_token("ops", "admin").await;
    let (_, customer) = app.user_token("cust", "user").await;
    assert_eq!(app.post("/api/ops/backups/", &json!({}), Some(&customer)).await.status(), 403);
    assert_eq!(app.get("/api/ops/backups/", None).await.status(), 401);
    let empty = json!({});
    let (a, b) = tokio::join!(
        app.post("/api/ops/backups/", &empty, Some(&admin)),
        app.post("/api/ops/backups/", &empty, Some(&admin))
    );
    let mut statuses = vec![a.status().as_u16(), b.status().as_u16()];
    let bodies: Vec<Value> = vec![a.json().await.unwrap(), b.json().await.unwrap()];
    statuses.sort_unstable();
    assert_eq!(statuses, vec![202, 409], "{bodies:?}");
    let queued = bodies.iter().find(|b| b.get("id").is_some()).unwrap();
    assert_eq!(queued["status"], "queued");
    let refused = bodies.iter().find(|b| b.get("error").is_some()).unwrap();
    assert_eq!(refused["error"]["code"], "backup_running");
    let id = queued["id"].as_i64().unwrap();
    let done = app
        .eventually(Duration::from_secs(60), || async {
            let page: Value = app.get("/api/ops/backups/", Some(&admin)).await.json().await.ok()?;
            let row = page["results"].as_array()?.iter().find(|r| r["id"] == id)?.clone();
            (row["status"] == "ok" || row["status"] == "failed").then_some((page, row))
        })
        .await
        .expect("the backup finished");
    let (page, row) = done;
    assert_eq!(page["count"], 1);
    assert_eq!((row["status"].as_str(), row["verified"].as_bool()), (Some("ok"), Some(true)), "{row}");
    assert_eq!(row["kind"], "manual");
    assert!(row["sha256"].as_str().unwrap().len() == 64 && row["size_bytes"].as_i64().unwrap() > 0);
    // Finished: another may be asked for.
    assert_eq!(app.post("/api/ops/backups/", &json!({}), Some(&admin)).await.status(), 202);
}

#[tokio::test]
async fn verification_reports_missing_rows_and_a_failed_run_notifies_admins() {
    let (app, _dir) = spawn(builder()).await;
    let admin = seed(&app).await;
    let stored = backup::dump(&app.cfg, Utc::now()).await.unwrap();
    assert!(backup::verify(&app.cfg, &stored.path, &stored.counts).await.is_ok());
    // The dump holds fewer rows than expected: reported, table by table.
    let mut expected = stored.counts.clone();
    *expected.tables.get_mut("orders").unwrap() += 1;
    expected.orders_total_amount = "1.00".into();
    let err = backup::verify(&app.cfg, &stored.path, &expected).await.unwrap_err();
    assert!(err.contains("table orders: 3 rows, expected 4") && err.contains("orders.total_amount"), "{err}");
    // A run that cannot be verified is failed, and every admin hears of it.
    let mut broken = app.cfg.clone();
    broken.backup_verify_database_url = Some(SecretUrl::new(url_of(&app, "ec_no_such_database_for_verify")));
    let id = backup::request(&app.pool, RunKind::Cli, None, None).await.unwrap().unwrap();
    let err = backup::execute(&broken, &app.pool, id).await.unwrap_err();
    assert!(err.contains("verify database"), "{err}");
    let run = backup::get(&app.pool, id).await.unwrap().unwrap();
    assert_eq!((run.status.as_str(), run.verified), ("failed", false));
    assert!(run.error.unwrap().contains("verify database") && run.location.is_some());
    let notes: Vec<String> = sqlx::query_scalar(
        "SELECT message FROM notification WHERE user_id = $1 AND notification_type = 'backup_failed'",
    )
    .bind(admin)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(notes.len(), 1);
    assert!(notes[0].starts_with(&format!("Backup #{id} failed")));
    assert!(!notes[0].contains("postgres://"), "{}", notes[0]);
}

#[tokio::test]
async fn restore_checks_the_checksum_refuses_a_non_empty_target_and_moves_the_counters() {
    let (app, _dir) = spawn(builder()).await;
    seed(&app).await;
    // The counter behind the numbers issued (as an older dump could be): the restore fixes it.
    sqlx::query("UPDATE invoice_counter SET last_seq = 0").execute(&app.pool).await.unwrap();
    let stored = backup::dump(&app.cfg, Utc::now()).await.unwrap();

    // A damaged copy is refused before anything is restored.
    let damaged = stored.path.with_file_name("damaged.dump");
    let mut bytes = std::fs::read(&stored.path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&damaged, &bytes).unwrap();
    let target = empty_database(&app).await;
    let mut opts = options(&damaged, url_of(&app, &target));
    assert!(matches!(restore::restore(&opts, &|_, _| {}).await, Err(RestoreError::NoChecksum(_))));
    opts.sha256 = Some(stored.sha256.clone());
    let err = restore::restore(&opts, &|_, _| {}).await.unwrap_err();
    assert!(matches!(err, RestoreError::Checksum { .. }), "{err}");
    assert_eq!(counts_of(&url_of(&app, &target)).await.tables.len(), 0);

    // After the dump, one more invoice is issued in the live database (its counter put back).
    sqlx::query("UPDATE invoice_counter SET last_seq = 2").execute(&app.pool).await.unwrap();
    let buyer = app.create_user("late", "pass-word-123", "user", "").await;
    OrderBuilder::for_user(buyer).line_at(ProductType::Campaign, 1, 1, "100.00").paid().create(&app).await;

    // Into an empty database, with the sidecar's checksum: the same rows as the snapshot.
    let opts = RestoreOptions {
        issued_from: Some(app.cfg.database_url.clone()),
        ..options(&stored.path, url_of(&app, &target))
    };
    let seen = std::sync::Mutex::new((0u64, 0u64));
    let report = restore::restore(&opts, &|d, t| *seen.lock().unwrap() = (d, t)).await.unwrap();
    let (done, total) = *seen.lock().unwrap();
    assert!(total > 0 && done == total, "progress {done}/{total}");
    assert_eq!(report.sha256, stored.sha256);
    let mut expected = stored.counts.tables.clone();
    let mut got = report.counts.tables.clone();
    // The counter rows are what the restore changes, on purpose.
    for t in [&mut expected, &mut got] {
        t.remove("invoice_counter");
        t.remove("credit_note_counter");
    }
    assert_eq!(got, expected);
    assert_eq!(report.counts.orders_total_amount, stored.counts.orders_total_amount);
    let invoice = report.counters.iter().find(|c| c.series == "invoice").expect("invoice series");
    assert_eq!((invoice.highest_restored, invoice.highest_issued), (2, 3));
    assert_eq!((invoice.counter_before, invoice.counter_after), (0, 3));
    assert_eq!(invoice.missing_documents(), 1);
    let lines = restore::describe_counters(&report.counters).join("\n");
    assert!(lines.contains("the next number is 00004") && lines.contains("GAP: 1 number(s) 00003-00003"), "{lines}");
    let counter: i64 = {
        let mut conn = PgConnection::connect(&url_of(&app, &target)).await.unwrap();
        sqlx::query_scalar("SELECT max(last_seq) FROM invoice_counter").fetch_one(&mut conn).await.unwrap()
    };
    assert_eq!(counter, 3);

    // The target now has tables: refused without --force, replaced with it.
    let again = options(&stored.path, url_of(&app, &target));
    assert!(matches!(restore::restore(&again, &|_, _| {}).await, Err(RestoreError::NotEmpty(n)) if n > 0));
    let forced = RestoreOptions { force: true, ..again };
    let report = restore::restore(&forced, &|_, _| {}).await.unwrap();
    assert_eq!(report.counts.tables["orders"], 3);
    // Counters never move backwards: the dump's 0 became at least the 2 restored numbers.
    let invoice = report.counters.iter().find(|c| c.series == "invoice").unwrap();
    assert_eq!(invoice.counter_after, 2);
    drop_database(&app, &target).await;
}

#[tokio::test]
async fn encrypted_backups_verify_and_restore_only_with_the_key() {
    let key = "5a".repeat(32);
    let (app, _dir) = spawn(builder().var("BACKUP_ENCRYPTION_KEY", key.as_str())).await;
    seed(&app).await;
    let run = run_cli_backup(&app).await.expect("encrypted backup verified");
    assert!(run.encrypted && run.verified);
    let path = PathBuf::from(run.location.unwrap());
    assert!(path.to_str().unwrap().ends_with(".dump.enc"));
    assert!(common::backup::crypt::is_encrypted(&path).unwrap());
    let target = empty_database(&app).await;
    let opts = options(&path, url_of(&app, &target));
    let err = restore::restore(&opts, &|_, _| {}).await.unwrap_err();
    assert!(err.to_string().contains("BACKUP_ENCRYPTION_KEY"), "{err}");
    let keyed = RestoreOptions { key: app.cfg.backup_encryption_key.clone(), ..opts };
    let report = restore::restore(&keyed, &|_, _| {}).await.unwrap();
    assert_eq!(report.counts.tables["users"], 4);
    drop_database(&app, &target).await;
}

#[tokio::test]
async fn retention_deletes_old_files_and_marks_their_rows() {
    let (app, _dir) = spawn(builder().var("BACKUP_KEEP_MONTHS", "0")).await;
    let dir = &app.cfg.backup_dir;
    std::fs::create_dir_all(dir).unwrap();
    let now = Utc::now();
    let mut ids = Vec::new();
    for (i, (days, status)) in [(20i64, "ok"), (1, "ok"), (20, "failed"), (1, "failed")].into_iter().enumerate() {
        let file = dir.join(format!("b{i}.dump"));
        std::fs::write(&file, b"x").unwrap();
        std::fs::write(backup::sidecar_path(&file), b"y").unwrap();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO backup_run (kind, status, started_at, location, verified) VALUES ('cli', $3, $1, $2, true)
             RETURNING id",
        )
        .bind(now - chrono::Duration::days(days))
        .bind(file.display().to_string())
        .bind(status)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        ids.push((id, file));
    }
    // The old good one and the old failed one go; the young ones stay.
    assert_eq!(backup::prune(&app.cfg, &app.pool, now).await.unwrap(), 2);
    assert!(!ids[2].1.exists() && ids[3].1.exists());
    let old = backup::get(&app.pool, ids[0].0).await.unwrap().unwrap();
    assert!(old.location.is_none() && old.pruned_at.is_some());
    assert!(!ids[0].1.exists() && !backup::sidecar_path(&ids[0].1).exists());
    let young = backup::get(&app.pool, ids[1].0).await.unwrap().unwrap();
    assert!(young.location.is_some() && ids[1].1.exists());
}

#[tokio::test]
async fn the_backup_tick_enqueues_once_across_schedulers() {
    let (app, _dir) = spawn(builder()).await;
    let cron = common::backup::cron::CronSchedule::parse("30 2 * * *").unwrap();
    // 02:30 in Asia/Kolkata is 21:00 UTC the day before.
    let tick = Utc.with_ymd_and_hms(2026, 12, 5, 21, 0, 10).unwrap();
    let (a, b) = tokio::join!(
        worker::scheduler::fire_backup(&app.pool, &cron, tick),
        worker::scheduler::fire_backup(&app.pool, &cron, tick)
    );
    let created: Vec<i64> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(created.len(), 1);
    assert!(
        worker::scheduler::fire_backup(&app.pool, &cron, tick + chrono::Duration::minutes(1)).await.unwrap().is_none()
    );
    let jobs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM job WHERE kind = 'backup'").fetch_one(&app.pool).await.unwrap();
    let runs: Vec<(String, String)> =
        sqlx::query_as("SELECT kind, status FROM backup_run").fetch_all(&app.pool).await.unwrap();
    assert_eq!((jobs, runs), (1, vec![("scheduled".to_string(), "queued".to_string())]));
}

#[tokio::test]
async fn a_dump_without_a_tables_rows_fails_verification() {
    let (app, _dir) = spawn(builder()).await;
    seed(&app).await;
    let stored = backup::dump(&app.cfg, Utc::now()).await.unwrap();
    // A dump like it but without the rows of one table that no other references: its table of
    // contents less that entry, restored into a database that is dumped again.
    let leaf = ["notification", "order_status_history", "payment_history", "payment_record"]
        .into_iter()
        .find(|t| stored.counts.tables.get(*t).is_some_and(|n| *n > 0))
        .expect("a seeded leaf table");
    let rows = stored.counts.tables[leaf];
    let list = std::process::Command::new("pg_restore").arg("--list").arg(&stored.path).output().unwrap();
    let toc: String = String::from_utf8(list.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.contains(&format!("TABLE DATA public {leaf} ")))
        .map(|l| format!("{l}\n"))
        .collect();
    let toc_file = stored.path.with_extension("toc");
    std::fs::write(&toc_file, toc).unwrap();
    let partial = empty_database(&app).await;
    let status = std::process::Command::new("pg_restore")
        .args(["--no-owner", "--exit-on-error", "--use-list"])
        .arg(&toc_file)
        .arg(format!("--dbname={}", url_of(&app, &partial)))
        .arg(&stored.path)
        .status()
        .unwrap();
    assert!(status.success());
    let short = stored.path.with_file_name("short.dump");
    let status = std::process::Command::new("pg_dump")
        .args(["--format=custom", "--file"])
        .arg(&short)
        .arg(format!("--dbname={}", url_of(&app, &partial)))
        .status()
        .unwrap();
    assert!(status.success());
    drop_database(&app, &partial).await;
    let err = backup::verify(&app.cfg, &short, &stored.counts).await.unwrap_err();
    assert!(err.contains(&format!("table {leaf}: 0 rows, expected {rows}")), "{err}");
}

#[tokio::test]
async fn a_given_verify_database_is_emptied_and_used() {
    let (app, _dir) = spawn(builder()).await;
    seed(&app).await;
    let scratch = empty_database(&app).await;
    {
        let mut conn = PgConnection::connect(&url_of(&app, &scratch)).await.unwrap();
        sqlx::query("CREATE TABLE leftover (id int)").execute(&mut conn).await.unwrap();
    }
    let app_cfg = {
        let mut cfg = app.cfg.clone();
        cfg.backup_verify_database_url = Some(SecretUrl::new(url_of(&app, &scratch)));
        cfg
    };
    let id = backup::request(&app.pool, RunKind::Cli, None, None).await.unwrap().unwrap();
    let run = backup::execute(&app_cfg, &app.pool, id).await.expect("verified in the given database");
    assert!(run.verified);
    // Left empty afterwards, and not dropped.
    assert!(counts_of(&url_of(&app, &scratch)).await.tables.is_empty());
    drop_database(&app, &scratch).await;
}

#[tokio::test]
async fn an_abandoned_run_does_not_block_backups_for_ever() {
    let (app, _dir) = spawn(builder()).await;
    let first = backup::request(&app.pool, RunKind::Cli, None, None).await.unwrap().unwrap();
    assert!(matches!(
        backup::request(&app.pool, RunKind::Manual, None, None).await,
        Err(backup::RequestError::Running)
    ));
    sqlx::query("UPDATE backup_run SET started_at = now() - interval '7 hours' WHERE id = $1")
        .bind(first)
        .execute(&app.pool)
        .await
        .unwrap();
    let second = backup::request(&app.pool, RunKind::Manual, None, None).await.unwrap().unwrap();
    let old = backup::get(&app.pool, first).await.unwrap().unwrap();
    assert_eq!(old.status, "failed");
    assert!(old.error.unwrap().starts_with("abandoned"));
    assert_ne!(first, second);
    // The sha256 of a file is found by its name too (for `api restore` without the sidecar).
    sqlx::query("UPDATE backup_run SET sha256 = repeat('a', 64), location = '/srv/b/x.dump' WHERE id = $1")
        .bind(first)
        .execute(&app.pool)
        .await
        .unwrap();
    let found = backup::recorded_sha256(&app.pool, Path::new("/elsewhere/x.dump")).await.unwrap();
    assert_eq!(found, Some("a".repeat(64)));
}

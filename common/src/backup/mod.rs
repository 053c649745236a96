//! Database backups (API.md §9.6): a `pg_dump` taken in an exported snapshot, checked by
//! restoring it into a scratch database and comparing row counts with the snapshot's, recorded
//! in `backup_run`, pruned by [`retention`], optionally encrypted ([`crypt`]), and restored by
//! [`restore`] (`api restore`).
//!
//! One run at a time across the cluster: the partial unique index `backup_run_one_active`
//! admits a single queued or running row, so a second request is refused
//! ([`RequestError::Running`]).

pub mod cron;
pub mod crypt;
pub mod restore;
pub mod retention;
pub mod tools;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};

use crate::config::{Config, SecretUrl};
use crate::jobs::{self, Backup};

/// What asked for a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// `BACKUP_CRON`.
    Scheduled,
    /// `POST /api/ops/backups/`.
    Manual,
    /// `api backup`.
    Cli,
}

impl RunKind {
    /// The `backup_run.kind` value.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Scheduled => "scheduled",
            RunKind::Manual => "manual",
            RunKind::Cli => "cli",
        }
    }
}

/// A `backup_run` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BackupRun {
    /// Id.
    pub id: i64,
    /// `scheduled`, `manual` or `cli`.
    pub kind: String,
    /// `queued`, `running`, `ok` or `failed`.
    pub status: String,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When the dump started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Size of the stored file.
    pub size_bytes: Option<i64>,
    /// SHA-256 (hex) of the stored file.
    pub sha256: Option<String>,
    /// Path of the stored file (cleared once pruned).
    pub location: Option<String>,
    /// Stored encrypted.
    pub encrypted: bool,
    /// Path of the media archive, if one was taken.
    pub media_location: Option<String>,
    /// Test-restored and found complete.
    pub verified: bool,
    /// The snapshot's [`Counts`] as JSON.
    pub counts: Option<serde_json::Value>,
    /// What went wrong.
    pub error: Option<String>,
    /// When retention deleted its file.
    pub pruned_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, kind, status, created_at, started_at, finished_at, size_bytes, sha256::text AS sha256, \
                       location, encrypted, media_location, verified, counts, error, pruned_at";

/// Row counts of every table of the `public` schema and the sum of `orders.total_amount`, as
/// read in one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Table name → rows.
    pub tables: BTreeMap<String, i64>,
    /// `sum(orders.total_amount)` as PostgreSQL prints it.
    pub orders_total_amount: String,
}

impl Counts {
    /// Reads the counts on `conn` (in whatever snapshot its transaction has).
    pub async fn read(conn: &mut PgConnection) -> Result<Self, sqlx::Error> {
        let names: Vec<String> =
            sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
                .fetch_all(&mut *conn)
                .await?;
        let mut tables = BTreeMap::new();
        for name in names {
            let sql: String = sqlx::query_scalar("SELECT format('SELECT count(*) FROM public.%I', $1::text)")
                .bind(&name)
                .fetch_one(&mut *conn)
                .await?;
            let rows: i64 = sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&mut *conn).await?;
            tables.insert(name, rows);
        }
        let orders_total_amount = if tables.contains_key("orders") {
            sqlx::query_scalar("SELECT COALESCE(sum(total_amount), 0)::text FROM public.orders")
                .fetch_one(&mut *conn)
                .await?
        } else {
            "0".to_string()
        };
        Ok(Self { tables, orders_total_amount })
    }

    /// Every difference between `self` (expected) and `actual`, one line each; empty when equal.
    pub fn differences(&self, actual: &Counts) -> Vec<String> {
        let mut out = Vec::new();
        for (name, rows) in &self.tables {
            match actual.tables.get(name) {
                None => out.push(format!("table {name} missing (expected {rows} rows)")),
                Some(got) if got != rows => out.push(format!("table {name}: {got} rows, expected {rows}")),
                Some(_) => {}
            }
        }
        for name in actual.tables.keys().filter(|n| !self.tables.contains_key(*n)) {
            out.push(format!("unexpected table {name}"));
        }
        if self.orders_total_amount != actual.orders_total_amount {
            out.push(format!(
                "sum of orders.total_amount: {}, expected {}",
                actual.orders_total_amount, self.orders_total_amount
            ));
        }
        out
    }
}

/// Why a backup could not be asked for.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Another backup is queued or running.
    #[error("a backup is already queued or running")]
    Running,
    /// The database.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Hours after which a queued or running backup is taken as abandoned ([`request`] marks it
/// failed): well past `BACKUP_TIMEOUT_SECONDS` (3600) for the dump, the test restore and the tar.
pub const ABANDONED_AFTER_HOURS: i32 = 6;

/// Records a queued backup and, except for [`RunKind::Cli`] (run by the caller at once, the row
/// created `running`), enqueues its job in the same transaction. With a `dedupe_key` (a
/// scheduler tick) a second request for the same key creates nothing and returns `Ok(None)`.
pub async fn request(
    pool: &PgPool,
    kind: RunKind,
    requested_by: Option<i64>,
    dedupe_key: Option<&str>,
) -> Result<Option<i64>, RequestError> {
    // A run left queued or running for hours belongs to a process that died (a killed `api
    // backup`, a lost job): it would block every backup after it.
    sqlx::query(
        "UPDATE backup_run SET status = 'failed', finished_at = now(),
                error = 'abandoned: still ' || status || ' after ' || $1::int || ' hours (its process stopped)'
         WHERE status IN ('queued', 'running') AND COALESCE(started_at, created_at) < now() - make_interval(hours => $1::int)",
    )
    .bind(ABANDONED_AFTER_HOURS)
    .execute(pool)
    .await?;
    let mut tx = crate::db::begin(pool).await?;
    let status = if kind == RunKind::Cli { "running" } else { "queued" };
    let inserted = sqlx::query_scalar::<_, i64>(
        "INSERT INTO backup_run (kind, status, requested_by, started_at)
         VALUES ($1, $2, $3, CASE WHEN $2 = 'running' THEN now() END) RETURNING id",
    )
    .bind(kind.as_str())
    .bind(status)
    .bind(requested_by)
    .fetch_one(&mut *tx)
    .await;
    let id = match inserted {
        Ok(id) => id,
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("backup_run_one_active") => {
            return Err(RequestError::Running);
        }
        Err(e) => return Err(e.into()),
    };
    if kind != RunKind::Cli && jobs::enqueue(&mut tx, &Backup { run_id: id }, dedupe_key).await?.is_none() {
        return Ok(None);
    }
    tx.commit().await?;
    Ok(Some(id))
}

/// One page of runs, newest first, and the total count.
pub async fn list(pool: &PgPool, limit: i64, offset: i64) -> Result<(i64, Vec<BackupRun>), sqlx::Error> {
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM backup_run").fetch_one(pool).await?;
    let rows = sqlx::query_as::<_, BackupRun>(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM backup_run ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2"
    )))
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    Ok((count, rows))
}

/// The SHA-256 recorded for a backup file, looked up by its path or its file name.
pub async fn recorded_sha256(pool: &PgPool, file: &Path) -> Result<Option<String>, sqlx::Error> {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    sqlx::query_scalar(
        "SELECT sha256::text FROM backup_run
         WHERE sha256 IS NOT NULL AND (location = $1 OR (location LIKE '%/' || $2 AND $2 <> ''))
         ORDER BY id DESC LIMIT 1",
    )
    .bind(file.display().to_string())
    .bind(name)
    .fetch_optional(pool)
    .await
}

/// One run.
pub async fn get(pool: &PgPool, id: i64) -> Result<Option<BackupRun>, sqlx::Error> {
    sqlx::query_as::<_, BackupRun>(AssertSqlSafe(format!("SELECT {COLUMNS} FROM backup_run WHERE id = $1")))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// What a finished dump left on disk.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The stored file (`.dump` or `.dump.enc`).
    pub path: PathBuf,
    /// Its size.
    pub size_bytes: i64,
    /// Its SHA-256, hex.
    pub sha256: String,
    /// Encrypted with `BACKUP_ENCRYPTION_KEY`.
    pub encrypted: bool,
    /// The media archive, if taken.
    pub media: Option<PathBuf>,
    /// The counts read in the dump's snapshot.
    pub counts: Counts,
}

/// SHA-256 and size of a file, streamed (blocking: run it on a blocking thread).
pub fn hash_file(path: &Path) -> std::io::Result<(String, i64)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size: i64 = 0;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as i64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// The sidecar `FILE.sha256` next to a stored file, in `sha256sum` format.
pub fn sidecar_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(f).await.map_err(|e| format!("blocking task failed: {e}"))?
}

/// Takes a dump of the service's database into `BACKUP_DIR` (and the media archive when media
/// are on local disk): snapshot, counts, `pg_dump`, encryption, checksum and sidecar. Does not
/// verify ([`verify`]) nor record anything.
pub async fn dump(cfg: &Config, now: DateTime<Utc>) -> Result<Stored, String> {
    tokio::fs::create_dir_all(&cfg.backup_dir)
        .await
        .map_err(|e| format!("cannot create BACKUP_DIR {}: {e}", cfg.backup_dir.display()))?;
    let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();
    let plain = cfg.backup_dir.join(format!("electioncart-{stamp}.dump"));
    let partial = cfg.backup_dir.join(format!("electioncart-{stamp}.dump.partial"));

    // The snapshot stays exported while its transaction is open: the counts and pg_dump read
    // the very same data.
    let mut conn = PgConnection::connect(cfg.database_url.expose()).await.map_err(|e| format!("connect: {e}"))?;
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut conn)
        .await
        .map_err(|e| format!("begin snapshot: {e}"))?;
    let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| format!("export snapshot: {e}"))?;
    let counts = Counts::read(&mut conn).await.map_err(|e| format!("count rows: {e}"))?;
    let dumped = tools::pg_dump(&cfg.database_url, &snapshot, &partial, cfg.backup_timeout).await;
    let _ = sqlx::query("COMMIT").execute(&mut conn).await;
    let _ = conn.close().await;
    if let Err(e) = dumped {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(e);
    }

    let (path, encrypted) = match &cfg.backup_encryption_key {
        Some(key) => {
            let enc = cfg.backup_dir.join(format!("electioncart-{stamp}.dump.enc"));
            let (key, from, to) = (key.clone(), partial.clone(), enc.clone());
            let result =
                blocking(move || crypt::encrypt_file(&key, &from, &to).map_err(|e| format!("encrypt: {e}"))).await;
            let _ = tokio::fs::remove_file(&partial).await;
            result?;
            (enc, true)
        }
        None => {
            tokio::fs::rename(&partial, &plain).await.map_err(|e| format!("rename dump: {e}"))?;
            (plain, false)
        }
    };
    let hashed = path.clone();
    let (sha256, size_bytes) = blocking(move || hash_file(&hashed).map_err(|e| format!("hash: {e}"))).await?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    tokio::fs::write(sidecar_path(&path), format!("{sha256}  {file_name}\n"))
        .await
        .map_err(|e| format!("write checksum file: {e}"))?;

    let media = if cfg.cloudinary_url.is_none() && tokio::fs::metadata(&cfg.media_dir).await.is_ok() {
        let tar = cfg.backup_dir.join(format!("electioncart-{stamp}-media.tar"));
        if let Err(e) = tools::tar(&cfg.media_dir, &tar, cfg.backup_timeout).await {
            // Nothing left behind that no row names (retention would never see it).
            for file in [tar, sidecar_path(&path), path] {
                let _ = tokio::fs::remove_file(file).await;
            }
            return Err(format!("media archive: {e}"));
        }
        Some(tar)
    } else {
        None
    };
    Ok(Stored { path, size_bytes, sha256, encrypted, media, counts })
}

/// The scratch database a backup is test-restored into.
enum Scratch {
    /// `BACKUP_VERIFY_DATABASE_URL`: emptied before use, left empty-ish after.
    Given(SecretUrl),
    /// `<dbname>_backup_verify` on the service's server: created, then dropped.
    Created { name: String, url: SecretUrl },
}

impl Scratch {
    fn url(&self) -> &SecretUrl {
        match self {
            Scratch::Given(url) | Scratch::Created { url, .. } => url,
        }
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn prepare_scratch(cfg: &Config) -> Result<Scratch, String> {
    if let Some(url) = &cfg.backup_verify_database_url {
        let mut conn =
            PgConnection::connect(url.expose()).await.map_err(|e| format!("connect to verify database: {e}"))?;
        sqlx::raw_sql("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
            .execute(&mut conn)
            .await
            .map_err(|e| format!("empty verify database: {e}"))?;
        let _ = conn.close().await;
        return Ok(Scratch::Given(url.clone()));
    }
    let mut url = cfg.database_url.parsed().ok_or("DATABASE_URL does not parse")?;
    let db = url.path().trim_start_matches('/').to_string();
    let name = format!("{db}_backup_verify");
    url.set_path(&format!("/{name}"));
    let mut conn = PgConnection::connect(cfg.database_url.expose()).await.map_err(|e| format!("connect: {e}"))?;
    for sql in [
        format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(&name)),
        format!("CREATE DATABASE {}", quote_ident(&name)),
    ] {
        sqlx::query(AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .map_err(|e| format!("scratch database {name}: {e}"))?;
    }
    let _ = conn.close().await;
    Ok(Scratch::Created { name, url: SecretUrl::new(url.to_string()) })
}

async fn drop_scratch(cfg: &Config, scratch: &Scratch) {
    let result = async {
        match scratch {
            Scratch::Given(url) => {
                let mut conn = PgConnection::connect(url.expose()).await?;
                sqlx::raw_sql("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;").execute(&mut conn).await?;
                conn.close().await
            }
            Scratch::Created { name, .. } => {
                let mut conn = PgConnection::connect(cfg.database_url.expose()).await?;
                sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name))))
                    .execute(&mut conn)
                    .await?;
                conn.close().await
            }
        }
    };
    if let Err(e) = result.await {
        tracing::warn!(error = %e, "could not clean the backup verify database");
    }
}

/// Restores `file` (decrypting it first when it is encrypted) into the scratch database and
/// compares its counts with `expected`; `Ok` with the restored counts when they match, else a
/// description of every difference.
pub async fn verify(cfg: &Config, file: &Path, expected: &Counts) -> Result<Counts, String> {
    let encrypted = {
        let f = file.to_path_buf();
        blocking(move || crypt::is_encrypted(&f).map_err(|e| format!("read dump: {e}"))).await?
    };
    let mut decrypted = None;
    let source = if encrypted {
        let key =
            cfg.backup_encryption_key.clone().ok_or("the dump is encrypted and BACKUP_ENCRYPTION_KEY is unset")?;
        let tmp = std::env::temp_dir().join(format!("ec-verify-{}.dump", uuid::Uuid::new_v4().simple()));
        let (from, to) = (file.to_path_buf(), tmp.clone());
        decrypted = Some(tmp.clone());
        blocking(move || crypt::decrypt_file(&key, &from, &to).map_err(|e| format!("decrypt: {e}"))).await?;
        tmp
    } else {
        file.to_path_buf()
    };
    let scratch = prepare_scratch(cfg).await;
    let result = match &scratch {
        Err(e) => Err(e.clone()),
        Ok(scratch) => {
            let restored = async {
                tools::pg_restore(scratch.url(), &source, false, cfg.backup_timeout, &|_, _| {}).await?;
                let mut conn =
                    PgConnection::connect(scratch.url().expose()).await.map_err(|e| format!("connect: {e}"))?;
                let counts = Counts::read(&mut conn).await.map_err(|e| format!("count restored rows: {e}"));
                let _ = conn.close().await;
                counts
            }
            .await;
            drop_scratch(cfg, scratch).await;
            restored
        }
    };
    if let Some(tmp) = decrypted {
        let _ = tokio::fs::remove_file(tmp).await;
    }
    let actual = result?;
    let diffs = expected.differences(&actual);
    if diffs.is_empty() { Ok(actual) } else { Err(format!("verification failed: {}", diffs.join("; "))) }
}

/// Runs the backup of row `run_id` (queued by [`request`], or created running for the CLI):
/// dump, verify, record, prune; a failure is recorded, notified to every admin and returned.
/// A run already finished is left alone (`Ok` with its row): a job delivered twice runs once.
pub async fn execute(cfg: &Config, pool: &PgPool, run_id: i64) -> Result<BackupRun, String> {
    let claimed: Option<i64> = sqlx::query_scalar(
        "UPDATE backup_run SET status = 'running', started_at = COALESCE(started_at, now())
         WHERE id = $1 AND status IN ('queued', 'running') RETURNING id",
    )
    .bind(run_id)
    .fetch_optional(pool)
    .await
    .map_err(|e| format!("database: {e}"))?;
    if claimed.is_none() {
        return get(pool, run_id).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("no backup run {run_id}"));
    }
    let started = std::time::Instant::now();
    let outcome = match dump(cfg, Utc::now()).await {
        Err(e) => Err((None, e)),
        Ok(stored) => match verify(cfg, &stored.path, &stored.counts).await {
            Ok(_) => Ok(stored),
            Err(e) => Err((Some(stored), e)),
        },
    };
    let (stored, error) = match outcome {
        Ok(stored) => (Some(stored), None),
        Err((stored, e)) => (stored, Some(e)),
    };
    let counts = stored.as_ref().and_then(|s| serde_json::to_value(&s.counts).ok());
    sqlx::query(
        "UPDATE backup_run SET status = $2, finished_at = now(), size_bytes = $3, sha256 = $4, location = $5,
                encrypted = $6, media_location = $7, verified = $8, counts = $9, error = $10
         WHERE id = $1",
    )
    .bind(run_id)
    .bind(if error.is_none() { "ok" } else { "failed" })
    .bind(stored.as_ref().map(|s| s.size_bytes))
    .bind(stored.as_ref().map(|s| s.sha256.clone()))
    .bind(stored.as_ref().map(|s| s.path.display().to_string()))
    .bind(stored.as_ref().is_some_and(|s| s.encrypted))
    .bind(stored.as_ref().and_then(|s| s.media.as_ref().map(|m| m.display().to_string())))
    .bind(error.is_none())
    .bind(counts)
    .bind(error.as_deref())
    .execute(pool)
    .await
    .map_err(|e| format!("record backup: {e}"))?;
    match &error {
        None => {
            tracing::info!(run_id, elapsed_ms = started.elapsed().as_millis() as u64, "backup verified");
            if let Err(e) = prune(cfg, pool, Utc::now()).await {
                tracing::warn!(error = %e, "backup retention failed");
            }
        }
        Some(e) => {
            tracing::error!(run_id, error = %e, "backup failed");
            let message = format!("Backup #{run_id} failed: {e}");
            let notified = async {
                let mut conn = pool.acquire().await?;
                crate::orders::notify_admins(&mut conn, "backup_failed", "Backup failed", &message, None).await
            };
            if let Err(e) = notified.await {
                tracing::warn!(error = %e, "could not notify admins of the failed backup");
            }
        }
    }
    let run = get(pool, run_id).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("no backup run {run_id}"))?;
    match error {
        None => Ok(run),
        Some(e) => Err(e),
    }
}

/// Applies [`retention::Retention`] to the successful runs whose files are still there: deletes
/// the files (dump, sidecar, media archive) of those it does not keep and marks their rows. The
/// files of failed runs (kept for a look at what went wrong) go once older than
/// `BACKUP_RETENTION_DAYS`; they never count as a month's first backup. Returns how many runs
/// were pruned.
pub async fn prune(cfg: &Config, pool: &PgPool, now: DateTime<Utc>) -> Result<usize, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Kept {
        id: i64,
        taken_at: DateTime<Utc>,
        location: String,
        media_location: Option<String>,
        status: String,
    }
    let rows: Vec<Kept> = sqlx::query_as(
        "SELECT id, COALESCE(started_at, created_at) AS taken_at, location, media_location, status FROM backup_run
         WHERE status IN ('ok', 'failed') AND location IS NOT NULL",
    )
    .fetch_all(pool)
    .await?;
    let policy = retention::Retention { days: cfg.backup_retention_days, months: cfg.backup_keep_months };
    let good: Vec<(i64, DateTime<Utc>)> =
        rows.iter().filter(|r| r.status == "ok").map(|r| (r.id, r.taken_at)).collect();
    let mut doomed = policy.to_delete(&good, now);
    let cutoff = now - chrono::Duration::days(i64::from(cfg.backup_retention_days));
    doomed.extend(rows.iter().filter(|r| r.status == "failed" && r.taken_at <= cutoff).map(|r| r.id));
    for row in rows.iter().filter(|r| doomed.contains(&r.id)) {
        let path = PathBuf::from(&row.location);
        let media = row.media_location.as_ref().map(PathBuf::from);
        for file in [Some(sidecar_path(&path)), Some(path), media].into_iter().flatten() {
            if let Err(e) = tokio::fs::remove_file(&file).await
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(file = %file.display(), error = %e, "could not delete an old backup file");
            }
        }
        sqlx::query("UPDATE backup_run SET location = NULL, media_location = NULL, pruned_at = now() WHERE id = $1")
            .bind(row.id)
            .execute(pool)
            .await?;
    }
    Ok(doomed.len())
}

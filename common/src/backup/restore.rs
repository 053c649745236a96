//! `api restore`: checks a backup file's SHA-256, refuses a non-empty target without `force`,
//! decrypts, runs `pg_restore`, then moves the invoice and credit-note counters past every number
//! already issued, so a restored older dump never issues a number twice.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use sqlx::{Connection, PgConnection};

use super::crypt::{self, BackupKey};
use super::{Counts, hash_file, sidecar_path, tools};
use crate::config::SecretUrl;

/// What to restore, and where.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// The backup file (`.dump` or `.dump.enc`).
    pub from: PathBuf,
    /// Target database.
    pub into: SecretUrl,
    /// Restore over a database that already has tables (`pg_restore --clean --if-exists`).
    pub force: bool,
    /// Expected SHA-256 (hex); else the `FILE.sha256` sidecar's.
    pub sha256: Option<String>,
    /// Another database whose issued numbers the counters must also pass (e.g. the damaged
    /// database the backup replaces, if it can still be read).
    pub issued_from: Option<SecretUrl>,
    /// `BACKUP_ENCRYPTION_KEY`, for an encrypted file.
    pub key: Option<BackupKey>,
    /// Limit for each tool run.
    pub timeout: Duration,
}

/// One number series of one financial year after the restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterReport {
    /// `invoice` or `credit_note`.
    pub series: &'static str,
    /// Financial year (April to March) starting in this year.
    pub fy_start_year: i32,
    /// Highest sequence number found on an issued document (restored or `--issued-from`).
    pub highest_issued: i64,
    /// Highest found in the restored database alone.
    pub highest_restored: i64,
    /// The counter as restored.
    pub counter_before: i64,
    /// The counter now (never below `highest_issued`).
    pub counter_after: i64,
}

impl CounterReport {
    /// Numbers issued elsewhere (`--issued-from`) that this database has no document for.
    pub fn missing_documents(&self) -> i64 {
        (self.highest_issued - self.highest_restored).max(0)
    }
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// SHA-256 of the file, checked.
    pub sha256: String,
    /// Row counts of the restored database.
    pub counts: Counts,
    /// The counters, per series and financial year.
    pub counters: Vec<CounterReport>,
}

/// Why a restore stopped.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// No checksum to check against.
    #[error("no checksum: pass --sha256 HEX or keep the {0} file next to the backup")]
    NoChecksum(String),
    /// The file is not the one backed up.
    #[error(
        "checksum mismatch: the file's SHA-256 is {actual}, expected {expected}; the file is damaged or not this backup"
    )]
    Checksum {
        /// What was expected.
        expected: String,
        /// What the file has.
        actual: String,
    },
    /// The target has tables and `force` was not given.
    #[error("the target database is not empty ({0} tables); pass --force to replace its contents")]
    NotEmpty(i64),
    /// Anything else.
    #[error("{0}")]
    Failed(String),
}

/// The expected SHA-256: the option, else the sidecar's first word.
async fn expected_sha256(opts: &RestoreOptions) -> Result<String, RestoreError> {
    if let Some(s) = &opts.sha256 {
        return Ok(s.trim().to_ascii_lowercase());
    }
    let sidecar = sidecar_path(&opts.from);
    match tokio::fs::read_to_string(&sidecar).await {
        Ok(text) => text
            .split_whitespace()
            .next()
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| RestoreError::NoChecksum(sidecar.display().to_string())),
        Err(_) => Err(RestoreError::NoChecksum(sidecar.display().to_string())),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, RestoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RestoreError::Failed(format!("blocking task failed: {e}")))?
        .map_err(RestoreError::Failed)
}

/// Checks the file's SHA-256 against the expected one.
pub async fn check_sha256(opts: &RestoreOptions) -> Result<String, RestoreError> {
    let expected = expected_sha256(opts).await?;
    let from = opts.from.clone();
    let (actual, _) = blocking(move || hash_file(&from).map_err(|e| format!("read {}: {e}", from.display()))).await?;
    if actual != expected {
        return Err(RestoreError::Checksum { expected, actual });
    }
    Ok(actual)
}

/// Restores a backup; `progress(done, total)` follows `pg_restore`.
pub async fn restore(
    opts: &RestoreOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<RestoreReport, RestoreError> {
    let fail = |what: &str| {
        let what = what.to_string();
        move |e: sqlx::Error| RestoreError::Failed(format!("{what}: {e}"))
    };
    let sha256 = check_sha256(opts).await?;
    let mut conn = PgConnection::connect(opts.into.expose()).await.map_err(fail("connect to the target"))?;
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        .fetch_one(&mut conn)
        .await
        .map_err(fail("inspect the target"))?;
    let _ = conn.close().await;
    if tables > 0 && !opts.force {
        return Err(RestoreError::NotEmpty(tables));
    }
    let from = opts.from.clone();
    let encrypted = blocking(move || crypt::is_encrypted(&from).map_err(|e| e.to_string())).await?;
    let mut decrypted: Option<PathBuf> = None;
    let source: PathBuf = if encrypted {
        let key = opts.key.clone().ok_or_else(|| {
            RestoreError::Failed("the file is encrypted: set BACKUP_ENCRYPTION_KEY to the key it was made with".into())
        })?;
        let tmp = std::env::temp_dir().join(format!("ec-restore-{}.dump", uuid::Uuid::new_v4().simple()));
        let (f, t) = (opts.from.clone(), tmp.clone());
        decrypted = Some(tmp.clone());
        if let Err(e) = blocking(move || crypt::decrypt_file(&key, &f, &t).map_err(|e| format!("decrypt: {e}"))).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        tmp
    } else {
        opts.from.clone()
    };
    let restored = tools::pg_restore(&opts.into, &source, tables > 0, opts.timeout, progress).await;
    if let Some(tmp) = decrypted {
        let _ = tokio::fs::remove_file(tmp).await;
    }
    restored.map_err(RestoreError::Failed)?;

    let mut conn = PgConnection::connect(opts.into.expose()).await.map_err(fail("connect to the target"))?;
    let mut issued_elsewhere = BTreeMap::new();
    if let Some(other) = &opts.issued_from {
        let mut o = PgConnection::connect(other.expose()).await.map_err(fail("connect to --issued-from"))?;
        issued_elsewhere = highest_issued(&mut o).await.map_err(fail("read numbers of --issued-from"))?;
        let _ = o.close().await;
    }
    let counters = advance_counters(&mut conn, &issued_elsewhere).await.map_err(fail("advance the counters"))?;
    let counts = Counts::read(&mut conn).await.map_err(fail("count restored rows"))?;
    let _ = conn.close().await;
    Ok(RestoreReport { sha256, counts, counters })
}

/// (series, financial-year start) → highest sequence number issued, read from every invoice and
/// credit note and every order's invoice number. Numbers end in `YY-YY/NNNNN`
/// ([`crate::gst::invoice_number`]); any other shape is ignored.
pub async fn highest_issued(conn: &mut PgConnection) -> Result<BTreeMap<(&'static str, i32), i64>, sqlx::Error> {
    let rows: Vec<(String, i32, i64)> = sqlx::query_as(
        r"WITH nums AS (
              SELECT CASE WHEN kind = 'credit_note' THEN 'credit_note' ELSE 'invoice' END AS series, number
              FROM invoice
              UNION ALL
              SELECT 'invoice', invoice_number FROM orders WHERE invoice_number IS NOT NULL),
          parsed AS (SELECT series, regexp_match(number, '(\d{2})-\d{2}/(\d{1,18})$') AS m FROM nums)
          SELECT series, 2000 + m[1]::int, max(m[2]::bigint) FROM parsed WHERE m IS NOT NULL GROUP BY 1, 2",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(series, fy, seq)| ((if series == "credit_note" { "credit_note" } else { "invoice" }, fy), seq))
        .collect())
}

/// Moves each counter to at least the highest number issued (in this database or in
/// `elsewhere`), never backwards; returns a report for every series and year seen.
pub async fn advance_counters(
    conn: &mut PgConnection,
    elsewhere: &BTreeMap<(&'static str, i32), i64>,
) -> Result<Vec<CounterReport>, sqlx::Error> {
    let here = highest_issued(conn).await?;
    let mut keys: Vec<(&'static str, i32)> = here.keys().chain(elsewhere.keys()).copied().collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for (series, fy) in keys {
        let table = if series == "credit_note" { "credit_note_counter" } else { "invoice_counter" };
        let highest_restored = here.get(&(series, fy)).copied().unwrap_or(0);
        let highest_issued = highest_restored.max(elsewhere.get(&(series, fy)).copied().unwrap_or(0));
        let before: Option<i64> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT last_seq FROM {table} WHERE fy_start_year = $1")))
                .bind(fy)
                .fetch_optional(&mut *conn)
                .await?;
        let after: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {table} (fy_start_year, last_seq) VALUES ($1, $2)
             ON CONFLICT (fy_start_year) DO UPDATE SET last_seq = GREATEST({table}.last_seq, EXCLUDED.last_seq)
             RETURNING last_seq"
        )))
        .bind(fy)
        .bind(highest_issued)
        .fetch_one(&mut *conn)
        .await?;
        out.push(CounterReport {
            series,
            fy_start_year: fy,
            highest_issued,
            highest_restored,
            counter_before: before.unwrap_or(0),
            counter_after: after,
        });
    }
    Ok(out)
}

/// The lines `api restore` prints about the counters.
pub fn describe_counters(reports: &[CounterReport]) -> Vec<String> {
    if reports.is_empty() {
        return vec!["counters: no invoice or credit note numbers issued in this database".into()];
    }
    reports
        .iter()
        .map(|r| {
            let fy = format!("{:02}-{:02}", r.fy_start_year.rem_euclid(100), (r.fy_start_year + 1).rem_euclid(100));
            let mut line = format!(
                "{} FY {fy}: highest number issued {:05}; counter {} -> {}",
                r.series, r.highest_issued, r.counter_before, r.counter_after
            );
            if r.counter_after > r.counter_before {
                line.push_str(&format!(
                    " (moved forward by {}: the next number is {:05})",
                    r.counter_after - r.counter_before,
                    r.counter_after + 1
                ));
            } else {
                line.push_str(" (already past every issued number)");
            }
            if r.missing_documents() > 0 {
                line.push_str(&format!(
                    "; GAP: {} number(s) {:05}-{:05} were issued after this backup and their documents are not in it",
                    r.missing_documents(),
                    r.highest_restored + 1,
                    r.highest_issued
                ));
            }
            line
        })
        .collect()
}

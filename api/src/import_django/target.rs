//! Writing our database: the fresh-target check, batches with their ledger rows, sequences.

use std::collections::HashMap;

use sqlx::{AssertSqlSafe, Connection, PgConnection};

use super::map::{self, TargetRow};
use super::{Ledger, Report};

/// Refuses a database that `api migrate` has not brought up to this release.
pub async fn check_migrated(dst: &mut PgConnection) -> anyhow::Result<()> {
    let ledger: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('public.django_import_row')::text").fetch_one(&mut *dst).await?;
    anyhow::ensure!(ledger.is_some(), "the target database is not migrated: run `api migrate` on it first");
    Ok(())
}

/// Tables that must hold nothing but what the importer wrote: every table it writes and the
/// business tables that only a running service fills.
const GUARDED: [&str; 4] = ["invoice", "payment_event", "payment_issue", "order_checklist_milestone"];

/// Why the target is not ours to write, if it holds rows the importer did not write (rows that
/// migrations insert, such as `catalog_version`, are not in the guarded tables).
pub async fn foreign_rows(dst: &mut PgConnection) -> anyhow::Result<Option<String>> {
    let mut found = Vec::new();
    for table in map::TARGETS.iter().map(|t| t.table).chain(GUARDED) {
        // Table names are the importer's own constants.
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} x WHERE NOT EXISTS
               (SELECT 1 FROM django_import_row r WHERE r.target_table = '{table}' AND r.target_id = x.id)"
        )))
        .fetch_one(&mut *dst)
        .await?;
        if n > 0 {
            found.push(format!("{table}: {n}"));
        }
    }
    // The invoice series may only have moved past numbers the importer brought (see `finish`).
    let issued = common::backup::restore::highest_issued(dst).await?;
    for (table, series) in [("invoice_counter", "invoice"), ("credit_note_counter", "credit_note")] {
        let rows: Vec<(i32, i64)> =
            sqlx::query_as(AssertSqlSafe(format!("SELECT fy_start_year, last_seq FROM {table} WHERE last_seq > 0")))
                .fetch_all(&mut *dst)
                .await?;
        for (fy, seq) in rows {
            if seq > issued.get(&(series, fy)).copied().unwrap_or(0) {
                found.push(format!("{table} {fy}: {seq} numbers issued"));
            }
        }
    }
    Ok((!found.is_empty()).then(|| {
        format!(
            "the target database holds rows the importer did not write ({}); import into a freshly migrated database",
            found.join(", ")
        )
    }))
}

/// What earlier runs wrote for a source table.
pub async fn ledger(dst: &mut PgConnection, source_table: &str) -> anyhow::Result<Ledger> {
    let rows: Vec<(String, i64, String)> =
        sqlx::query_as("SELECT target_table, source_id, fingerprint FROM django_import_row WHERE source_table = $1")
            .bind(source_table)
            .fetch_all(&mut *dst)
            .await?;
    Ok(rows.into_iter().map(|(t, s, f)| ((t, s), f)).collect())
}

/// Records the start of a run.
pub async fn start_run(dst: &mut PgConnection, from: &str) -> anyhow::Result<i64> {
    let source = common::config::SecretUrl::new(from).redacted();
    Ok(sqlx::query_scalar("INSERT INTO django_import_run (source) VALUES ($1) RETURNING id")
        .bind(source)
        .fetch_one(&mut *dst)
        .await?)
}

/// Records the end of a run: its counts and report.
pub async fn end_run(dst: &mut PgConnection, id: i64, report: &Report) -> anyhow::Result<()> {
    let status = if report.exit_code() == 0 { "ok" } else { "skipped" };
    sqlx::query(
        "UPDATE django_import_run SET finished_at = now(), status = $2, counts = $3, report = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(serde_json::to_value(&report.tables)?)
    .bind(serde_json::to_value(&report.notes)?)
    .execute(&mut *dst)
    .await?;
    Ok(())
}

/// Writes the new and changed rows of one batch and their ledger rows in one transaction.
pub async fn write_batch(
    dst: &mut PgConnection,
    source_table: &str,
    writes: &[TargetRow],
    ledger_rows: &[(i64, TargetRow, String)],
) -> anyhow::Result<()> {
    let mut tx = dst.begin().await?;
    for spec in map::TARGETS {
        let rows: Vec<&serde_json::Value> = writes.iter().filter(|w| w.table == spec.table).map(|w| &w.value).collect();
        if rows.is_empty() {
            continue;
        }
        sqlx::query(AssertSqlSafe(spec.upsert_sql()))
            .bind(serde_json::Value::Array(rows.into_iter().cloned().collect()))
            .execute(&mut *tx)
            .await
            .map_err(|e| anyhow::anyhow!("writing {} (from {source_table}): {e}", spec.table))?;
    }
    let mut source_ids = Vec::with_capacity(ledger_rows.len());
    let mut tables = Vec::with_capacity(ledger_rows.len());
    let mut target_ids = Vec::with_capacity(ledger_rows.len());
    let mut fingerprints = Vec::with_capacity(ledger_rows.len());
    for (source_id, row, fp) in ledger_rows {
        source_ids.push(*source_id);
        tables.push(row.table.to_string());
        target_ids.push(row.id);
        fingerprints.push(fp.clone());
    }
    sqlx::query(
        "INSERT INTO django_import_row (source_table, source_id, target_table, target_id, fingerprint)
         SELECT $1, s, t, i, f FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::text[]) AS u (s, t, i, f)
         ON CONFLICT (source_table, source_id, target_table)
         DO UPDATE SET target_id = EXCLUDED.target_id, fingerprint = EXCLUDED.fingerprint, updated_at = now()",
    )
    .bind(source_table)
    .bind(&source_ids)
    .bind(&tables)
    .bind(&target_ids)
    .bind(&fingerprints)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// End of a run: every sequence past the highest id imported or seen in the source, unpaid
/// Razorpay orders past the reconciliation sweep's horizon left alone as the migrations leave
/// them, and the catalogue version bumped when the catalogue changed (API caches drop it).
pub async fn finish(dst: &mut PgConnection, source_max: &HashMap<String, i64>, catalog: bool) -> anyhow::Result<()> {
    for spec in map::TARGETS {
        let seen = map::STEPS
            .iter()
            .filter(|s| map::primary_target(s.source) == Some(spec.table))
            .filter_map(|s| source_max.get(s.source))
            .copied()
            .max()
            .unwrap_or(0);
        // Table names are the importer's own constants.
        sqlx::query(AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence('{t}', 'id'),
                           GREATEST((SELECT coalesce(max(id), 0) FROM {t}), $1, 1), true)",
            t = spec.table
        )))
        .bind(seen)
        .execute(&mut *dst)
        .await?;
    }
    sqlx::query(
        "UPDATE orders SET reconcile_due_at = 'infinity'
         WHERE id IN (SELECT target_id FROM django_import_row WHERE target_table = 'orders')
           AND razorpay_order_id <> '' AND payment_completed_at IS NULL
           AND created_at <= now() - interval '30 days' AND reconcile_due_at IS DISTINCT FROM 'infinity'",
    )
    .execute(&mut *dst)
    .await?;
    // Old numbers are `INV-YYYYMMDD-XXXXXXXX` and never look like ours; should one of the
    // source's numbers have our shape, the series moves past it so it is never issued again.
    common::backup::restore::advance_counters(dst, &std::collections::BTreeMap::new()).await?;
    if catalog {
        sqlx::query("UPDATE catalog_version SET version = version + 1").execute(&mut *dst).await?;
    }
    Ok(())
}

//! `api import-django`: moves the data of the original Django backend into this service's
//! database (issue 16).
//!
//! The source is read in one `REPEATABLE READ READ ONLY` transaction on one connection, so a live
//! shop keeps running during a rehearsal and every table is read from the same snapshot. Each
//! source table is read in id order, in batches; every row is mapped to the rows of ours it
//! becomes ([`map`]), and each batch is written in one target transaction together with its
//! ledger rows (`django_import_row`), so an interruption anywhere leaves a state that the next
//! run finishes. The ledger's fingerprint of each written row tells a later run what is
//! unchanged (skipped), what changed in the source (updated) and what was deleted there
//! (reported, kept here). Ids are kept; sequences are moved past them at the end of every run.
//!
//! Nothing is enqueued or sent: no job, no email, no notification, no invoice number. Old
//! invoices keep their `INV-…` numbers (PaymentHistory and the order's `invoice_number`), which
//! never look like ours (`<PREFIX>/<YY>-<YY>/<seq>`), so the invoice counter cannot clash.

mod map;
mod media;
mod report;
mod source;
mod target;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use anyhow::Context as _;
use serde_json::{Map, Value};
use sqlx::{Connection, PgConnection};

pub use report::{Note, NoteKind, Report, TableStats};

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// PostgreSQL URL of the Django database (read only).
    pub from: String,
    /// PostgreSQL URL of our database (migrated).
    pub into: String,
    /// Read, map and report without writing anything.
    pub dry_run: bool,
    /// Source rows per batch (one target transaction each).
    pub batch: usize,
    /// Directory holding the original's local media files (`<32 hex>_<8 hex>.<ext>` names).
    pub media_from: Option<PathBuf>,
    /// Our `MEDIA_DIR`, where local files are copied to.
    pub media_dir: PathBuf,
    /// Cloudinary cloud name that public ids stored by the original resolve against.
    pub cloud_name: Option<String>,
    /// Draw a progress bar per table on standard error (when it is a terminal).
    pub progress: bool,
    /// Tests only: fail (as an interrupted run would) before committing the batch after this
    /// many committed batches.
    pub fail_after_batches: Option<usize>,
}

/// Runs the import. `Ok` carries the report (a refused target is a report with `refused` set);
/// `Err` is a failure the report could not be completed for (connection lost, interrupted).
pub async fn run(opts: &Options) -> anyhow::Result<Report> {
    let batch = opts.batch.clamp(1, 50_000);
    let mut src = PgConnection::connect(&opts.from).await.context("cannot connect to the source (--from)")?;
    let mut dst = PgConnection::connect(&opts.into).await.context("cannot connect to the target database")?;
    let mut report = Report { dry_run: opts.dry_run, ..Report::default() };

    target::check_migrated(&mut dst).await?;
    if let Some(why) = target::foreign_rows(&mut dst).await? {
        report.refused = Some(why);
        return Ok(report);
    }

    sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut src).await?;
    let result = import(opts, batch, &mut src, &mut dst, &mut report).await;
    // Read only: nothing to keep either way.
    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut src).await;
    result?;
    Ok(report)
}

async fn import(
    opts: &Options,
    batch: usize,
    src: &mut PgConnection,
    dst: &mut PgConnection,
    report: &mut Report,
) -> anyhow::Result<()> {
    source::check_schema(src).await?;
    let mut ctx = map::Ctx::new(source::content_types(src).await?, opts.cloud_name.clone());
    let run_id = if opts.dry_run { None } else { Some(target::start_run(dst, &opts.from).await?) };
    let bars = report::Bars::new(opts.progress);
    let mut batches_done = 0usize;
    let mut wrote_catalog = false;

    for step in map::STEPS {
        let total = source::count(src, step.source).await?;
        let bar = bars.table(step.source, total);
        let ledger = target::ledger(dst, step.source).await?;
        let mut seen: HashSet<i64> = HashSet::new();
        let mut max_id = 0i64;
        let mut last = 0i64;
        loop {
            let rows = source::batch(src, step.sql, last, batch).await?;
            let Some(&(id, _)) = rows.last() else { break };
            last = id;
            let mut writes: Vec<map::TargetRow> = Vec::new();
            let mut ledger_rows: Vec<(i64, map::TargetRow, String)> = Vec::new();
            for (id, row) in &rows {
                seen.insert(*id);
                max_id = max_id.max(*id);
                let out = (step.map)(&mut ctx, *id, row);
                report.notes.extend(out.notes.iter().cloned());
                let stats = report.stats(step.source);
                stats.source += 1;
                if out.rows.is_empty() {
                    stats.skipped += 1;
                    if !out.allowed_skip {
                        stats.skipped_not_allowed += 1;
                    }
                    continue;
                }
                ctx.accept(step.source, *id);
                for row in out.rows {
                    let fp = row.fingerprint();
                    let label = row.label;
                    let old = ledger.get(&(row.table.to_string(), *id));
                    let stats = report.stats(label);
                    if label != step.source {
                        stats.source += 1;
                    }
                    match old {
                        Some(f) if *f == fp => stats.unchanged += 1,
                        Some(_) => {
                            stats.updated += 1;
                            writes.push(row.clone());
                        }
                        None => {
                            stats.imported += 1;
                            writes.push(row.clone());
                        }
                    }
                    if old.is_none_or(|f| *f != fp) {
                        ledger_rows.push((*id, row, fp));
                    }
                }
            }
            if !opts.dry_run && !writes.is_empty() {
                if opts.fail_after_batches.is_some_and(|n| batches_done >= n) {
                    anyhow::bail!("interrupted (test) after {batches_done} batches");
                }
                target::write_batch(dst, step.source, &writes, &ledger_rows).await?;
                batches_done += 1;
                wrote_catalog |= writes.iter().any(|w| map::CATALOG_TABLES.contains(&w.table));
            }
            bar.inc(rows.len() as u64);
        }
        bar.finish();
        for (target_table, source_id) in ledger.keys().map(|(t, s)| (t.as_str(), *s)) {
            if !seen.contains(&source_id) && map::primary_target(step.source) == Some(target_table) {
                report.notes.push(Note {
                    source_table: step.source.to_string(),
                    source_id,
                    kind: NoteKind::DeletedInSource,
                    allowed: true,
                    message: format!(
                        "deleted in the source since an earlier run; {target_table} {source_id} is kept here"
                    ),
                });
            }
        }
        report.source_max.insert(step.source.to_string(), max_id);
    }

    for (table, reason) in map::NOT_CARRIED {
        let n = source::count(src, table).await?;
        let stats = report.stats(table);
        stats.source = n;
        stats.skipped = n;
        if n > 0 {
            report.notes.push(Note {
                source_table: (*table).to_string(),
                source_id: 0,
                kind: NoteKind::Skipped,
                allowed: true,
                message: format!("{n} row(s) not carried: {reason}"),
            });
        }
    }

    let copies = std::mem::take(&mut ctx.media);
    report.notes.extend(media::copy_all(&copies, opts.media_from.as_deref(), &opts.media_dir, opts.dry_run));

    if !opts.dry_run {
        target::finish(dst, &report.source_max, wrote_catalog).await?;
        if let Some(id) = run_id {
            target::end_run(dst, id, report).await?;
        }
    }
    Ok(())
}

/// A row read from the source: its id and `to_jsonb` of the row.
pub(crate) type SourceRow = (i64, Map<String, Value>);

/// The ledger of one source table: (target table, source id) → fingerprint.
pub(crate) type Ledger = HashMap<(String, i64), String>;

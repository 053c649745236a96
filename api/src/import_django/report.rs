//! What a run did: counts per table, report lines, the exit code, and the progress bars.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::Serialize;

/// Counts of one source table (or of rows derived from one).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TableStats {
    /// Source table, or `source → ours` for derived rows.
    pub table: String,
    /// Rows read (derived: rows made).
    pub source: u64,
    /// Written for the first time.
    pub imported: u64,
    /// Written again because the source row changed since the last run.
    pub updated: u64,
    /// Already here as the source has it.
    pub unchanged: u64,
    /// Not carried over (each has a report line).
    pub skipped: u64,
    /// Of the skipped, those without an allowed reason.
    pub skipped_not_allowed: u64,
}

/// The kind of a report line.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// The row is not carried over.
    Skipped,
    /// The row is carried over with a value changed to fit our rules.
    Changed,
    /// The row was imported before and is gone from the source; it is kept here.
    DeletedInSource,
    /// A file the row names.
    Media,
}

/// One report line: a source row and what happened to it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Note {
    /// Source table.
    pub source_table: String,
    /// Source id (0: the whole table).
    pub source_id: i64,
    /// What happened.
    pub kind: NoteKind,
    /// Whether the contract allows it (a line that is not makes the exit code non-zero).
    pub allowed: bool,
    /// Why.
    pub message: String,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Nothing was written.
    pub dry_run: bool,
    /// Why the target was refused, if it was.
    pub refused: Option<String>,
    /// Counts in step order.
    pub tables: Vec<TableStats>,
    /// Report lines in step order.
    pub notes: Vec<Note>,
    /// Highest id seen per source table (sequences are moved past them).
    pub source_max: HashMap<String, i64>,
}

impl Report {
    /// The counts of a table, added on first use.
    pub fn stats(&mut self, table: &str) -> &mut TableStats {
        let i = match self.tables.iter().position(|t| t.table == table) {
            Some(i) => i,
            None => {
                self.tables.push(TableStats { table: table.to_string(), ..TableStats::default() });
                self.tables.len() - 1
            }
        };
        &mut self.tables[i]
    }

    /// The counts of a table, if it was read.
    pub fn get(&self, table: &str) -> Option<&TableStats> {
        self.tables.iter().find(|t| t.table == table)
    }

    /// 0: done, every skip and change has an allowed reason; 1: refused; 3: done, but some
    /// line has no allowed reason.
    pub fn exit_code(&self) -> u8 {
        if self.refused.is_some() {
            1
        } else if self.notes.iter().any(|n| !n.allowed) {
            3
        } else {
            0
        }
    }

    /// The summary table and the report lines, as printed on standard output.
    pub fn render(&self) -> String {
        let mut s = String::new();
        if let Some(why) = &self.refused {
            let _ = writeln!(s, "refused: {why}");
            return s;
        }
        if self.dry_run {
            let _ = writeln!(s, "dry run: nothing was written");
        }
        let width = self.tables.iter().map(|t| t.table.chars().count()).max().unwrap_or(5).max(5);
        let _ = writeln!(
            s,
            "{:<width$}  {:>8}  {:>8}  {:>8}  {:>9}  skipped",
            "table", "source", "imported", "updated", "unchanged"
        );
        for t in &self.tables {
            let skipped = match (t.skipped, t.skipped_not_allowed) {
                (0, _) => "0".to_string(),
                (n, 0) => format!("{n} (allowed, see report)"),
                (n, bad) => format!("{n} ({bad} NOT allowed, see report)"),
            };
            let _ = writeln!(
                s,
                "{:<width$}  {:>8}  {:>8}  {:>8}  {:>9}  {skipped}",
                t.table, t.source, t.imported, t.updated, t.unchanged
            );
        }
        if self.notes.is_empty() {
            let _ = writeln!(s, "\nreport: nothing to report");
        } else {
            let _ = writeln!(s, "\nreport ({} lines):", self.notes.len());
            for n in &self.notes {
                let kind = match n.kind {
                    NoteKind::Skipped => "skipped",
                    NoteKind::Changed => "changed",
                    NoteKind::DeletedInSource => "deleted in source",
                    NoteKind::Media => "media",
                };
                let allowed = if n.allowed { "allowed" } else { "NOT ALLOWED" };
                let _ = writeln!(s, "  {} {}: {kind} ({allowed}): {}", n.source_table, n.source_id, n.message);
            }
        }
        let verdict = match self.exit_code() {
            0 => "every row carried over or reported with an allowed reason",
            _ => "some rows were skipped or changed without an allowed reason (exit code 3)",
        };
        let _ = writeln!(s, "\n{verdict}");
        s
    }
}

/// One progress bar per table on standard error (drawn only on a terminal).
pub struct Bars {
    multi: Option<indicatif::MultiProgress>,
}

impl Bars {
    /// Bars, or none at all.
    pub fn new(enabled: bool) -> Self {
        Self {
            multi: enabled.then(|| indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr())),
        }
    }

    /// The bar of one table.
    pub fn table(&self, name: &str, total: u64) -> indicatif::ProgressBar {
        let Some(multi) = &self.multi else { return indicatif::ProgressBar::hidden() };
        let bar = multi.add(indicatif::ProgressBar::new(total));
        bar.set_style(
            indicatif::ProgressStyle::with_template("{prefix:>34} [{bar:30}] {pos}/{len}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_prefix(name.to_string());
        bar
    }
}

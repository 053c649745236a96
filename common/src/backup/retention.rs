//! Which backups to keep: every backup younger than `BACKUP_RETENTION_DAYS` days, plus the
//! first backup of each calendar month (Asia/Kolkata) for `BACKUP_KEEP_MONTHS` months.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Datelike, Duration, Utc};
use chrono_tz::Asia::Kolkata;

/// How long backups are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Every backup younger than this many days is kept.
    pub days: u32,
    /// The first backup of each of this many months (the current one included) is kept.
    pub months: u32,
}

fn month_index(at: DateTime<Utc>) -> i64 {
    let local = at.with_timezone(&Kolkata);
    i64::from(local.year()) * 12 + i64::from(local.month0())
}

impl Retention {
    /// The ids among `backups` (id, time taken) to delete at `now`.
    pub fn to_delete(&self, backups: &[(i64, DateTime<Utc>)], now: DateTime<Utc>) -> Vec<i64> {
        let mut firsts: BTreeMap<i64, (DateTime<Utc>, i64)> = BTreeMap::new();
        for &(id, at) in backups {
            let slot = firsts.entry(month_index(at)).or_insert((at, id));
            if (at, id) < *slot {
                *slot = (at, id);
            }
        }
        let this_month = month_index(now);
        let keep_monthly: HashSet<i64> = firsts
            .iter()
            .filter(|(month, _)| this_month - **month < i64::from(self.months))
            .map(|(_, (_, id))| *id)
            .collect();
        let daily_cutoff = now - Duration::days(i64::from(self.days));
        let mut out: Vec<i64> = backups
            .iter()
            .filter(|(id, at)| *at <= daily_cutoff && !keep_monthly.contains(id))
            .map(|(id, _)| *id)
            .collect();
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn keeps_recent_dailies_and_the_first_of_each_month() {
        // A backup every day at 02:30 IST (21:00 UTC the day before) from 1 Jan 2025 to 6 Dec 2026.
        let start = Utc.with_ymd_and_hms(2024, 12, 31, 21, 0, 0).unwrap();
        let backups: Vec<(i64, DateTime<Utc>)> = (0..705).map(|i| (i, start + Duration::days(i))).collect();
        let now = Utc.with_ymd_and_hms(2026, 12, 5, 22, 0, 0).unwrap(); // 6 Dec 2026 03:30 IST
        let r = Retention { days: 14, months: 12 };
        let deleted: HashSet<i64> = r.to_delete(&backups, now).into_iter().collect();
        let kept: Vec<DateTime<Utc>> =
            backups.iter().filter(|(id, _)| !deleted.contains(id)).map(|(_, at)| *at).collect();
        let local = |d: &DateTime<Utc>| d.with_timezone(&Kolkata).date_naive();
        // The last 14 days (22 Nov–6 Dec: the one of 22 Nov 02:30 is exactly 14 days old + 1 h).
        let recent: Vec<_> = kept.iter().filter(|d| now - **d < Duration::days(14)).collect();
        assert_eq!(recent.len(), 14);
        // Plus the 1st of each month of the 12-month window, Jan–Nov 2026 (1 Dec is among the
        // last 14 days, counted there).
        let monthly: Vec<_> = kept.iter().filter(|d| now - **d >= Duration::days(14)).map(local).collect();
        assert_eq!(monthly.len(), 11, "{monthly:?}");
        assert!(monthly.iter().all(|d| d.day() == 1 && d.year() == 2026));
        assert_eq!(kept.len(), 25);
    }

    #[test]
    fn first_of_month_is_the_earliest_even_when_not_on_the_first() {
        let a = Utc.with_ymd_and_hms(2026, 3, 10, 5, 0, 0).unwrap();
        let b = Utc.with_ymd_and_hms(2026, 3, 20, 5, 0, 0).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        let r = Retention { days: 14, months: 84 };
        assert_eq!(r.to_delete(&[(2, b), (1, a)], now), vec![2]);
        // Out of the monthly window: both go.
        assert_eq!(Retention { days: 14, months: 2 }.to_delete(&[(2, b), (1, a)], now), vec![1, 2]);
        // Nothing at all is deleted while young.
        assert!(r.to_delete(&[(1, now - Duration::hours(1))], now).is_empty());
    }
}

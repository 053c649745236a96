//! Standard five-field cron expressions (`minute hour day-of-month month day-of-week`), matched
//! against a wall-clock time (the scheduler passes Asia/Kolkata). Each field takes `*`, numbers,
//! ranges `a-b`, steps `*/n` and `a-b/n`, and comma lists; day of week is 0–7 (0 and 7 are
//! Sunday). As in Vixie cron, when both day fields are restricted a day matching either runs.

use std::fmt;

use chrono::{Datelike, Timelike};

/// A parsed cron expression.
#[derive(Clone, PartialEq, Eq)]
pub struct CronSchedule {
    source: String,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_restricted: bool,
    weekdays_restricted: bool,
}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CronSchedule({:?})", self.source)
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Parses one field into a bit set of the values in `min..=max`.
fn field(text: &str, min: u32, max: u32, name: &str) -> Result<u64, String> {
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().map_err(|_| format!("{name}: bad step `{s}`"))?;
                if step == 0 {
                    return Err(format!("{name}: step 0"));
                }
                (r, step)
            }
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let a: u32 = a.parse().map_err(|_| format!("{name}: bad value `{a}`"))?;
            let b: u32 = b.parse().map_err(|_| format!("{name}: bad value `{b}`"))?;
            (a, b)
        } else {
            let v: u32 = range.parse().map_err(|_| format!("{name}: bad value `{range}`"))?;
            // `5/15` means from 5 to the end by 15.
            if part.contains('/') { (v, max) } else { (v, v) }
        };
        if lo < min || hi > max || lo > hi {
            return Err(format!("{name}: `{part}` outside {min}-{max}"));
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

impl CronSchedule {
    /// Parses `minute hour day-of-month month day-of-week`.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let parts: Vec<&str> = expr.split_whitespace().collect();
        let [m, h, dom, mon, dow] = parts.as_slice() else {
            return Err(format!("`{expr}`: expected 5 fields (minute hour day month weekday)"));
        };
        let mut weekdays = field(dow, 0, 7, "day of week")?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        Ok(Self {
            source: parts.join(" "),
            minutes: field(m, 0, 59, "minute")?,
            hours: field(h, 0, 23, "hour")?,
            days: field(dom, 1, 31, "day of month")?,
            months: field(mon, 1, 12, "month")?,
            weekdays,
            days_restricted: !dom.starts_with('*'),
            weekdays_restricted: !dow.starts_with('*'),
        })
    }

    /// Whether the minute of `at` (a wall-clock time in the schedule's zone) is a tick.
    pub fn matches<T: Datelike + Timelike>(&self, at: &T) -> bool {
        let bit = |set: u64, v: u32| set & (1 << v) != 0;
        let day = bit(self.days, at.day());
        let weekday = bit(self.weekdays, at.weekday().num_days_from_sunday());
        let day_ok = match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => day || weekday,
            _ => day && weekday,
        };
        bit(self.minutes, at.minute()) && bit(self.hours, at.hour()) && bit(self.months, at.month()) && day_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> chrono::NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d).and_then(|x| x.and_hms_opt(h, mi, 0)).expect("valid test date")
    }

    #[test]
    fn daily_at_half_past_two() {
        let c = CronSchedule::parse("30 2 * * *").expect("parses");
        assert!(c.matches(&at(2026, 12, 6, 2, 30)));
        assert!(!c.matches(&at(2026, 12, 6, 2, 31)));
        assert!(!c.matches(&at(2026, 12, 6, 14, 30)));
    }

    #[test]
    fn steps_ranges_lists_and_sunday_as_seven() {
        let c = CronSchedule::parse("*/15 9-17 * * 1-5").expect("parses");
        assert!(c.matches(&at(2026, 12, 7, 9, 45))); // a Monday
        assert!(!c.matches(&at(2026, 12, 6, 9, 45))); // a Sunday
        assert!(!c.matches(&at(2026, 12, 7, 9, 50)));
        let s = CronSchedule::parse("0 0 * * 7").expect("parses");
        assert!(s.matches(&at(2026, 12, 6, 0, 0)));
        let l = CronSchedule::parse("5,10 0 1 1,6 *").expect("parses");
        assert!(l.matches(&at(2026, 6, 1, 0, 10)) && !l.matches(&at(2026, 7, 1, 0, 10)));
    }

    #[test]
    fn both_day_fields_restricted_means_either() {
        let c = CronSchedule::parse("0 3 1 * 0").expect("parses");
        assert!(c.matches(&at(2026, 12, 1, 3, 0))); // the 1st, a Tuesday
        assert!(c.matches(&at(2026, 12, 6, 3, 0))); // a Sunday
        assert!(!c.matches(&at(2026, 12, 7, 3, 0)));
    }

    #[test]
    fn bad_expressions_are_refused() {
        for bad in ["", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "*/0 * * * *", "a * * * *", "5-1 * * * *"] {
            assert!(CronSchedule::parse(bad).is_err(), "{bad}");
        }
    }
}

//! Time formats of the API: serializer fields in Asia/Kolkata with microseconds.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Asia::Kolkata;

/// The time rules that depend on the date (invoice series per financial year) read it here, so
/// tests can set it. The system clock unless made with [`Clock::fixed`].
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<Mutex<DateTime<Utc>>>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that stays at `at` until [`Clock::set`].
    pub fn fixed(at: DateTime<Utc>) -> Clock {
        Clock(Some(Arc::new(Mutex::new(at))))
    }

    /// Moves a fixed clock (no effect on the system clock).
    pub fn set(&self, at: DateTime<Utc>) {
        if let Some(cell) = &self.0
            && let Ok(mut now) = cell.lock()
        {
            *now = at;
        }
    }

    /// Now.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.0 {
            Some(cell) => cell.lock().map(|t| *t).unwrap_or_else(|_| Utc::now()),
            None => Utc::now(),
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_some() { write!(f, "Clock::fixed({})", self.now()) } else { f.write_str("Clock::system") }
    }
}

/// `2025-11-03T19:53:45.123456+05:30`, as Django REST framework renders `DateTimeField`s.
pub fn ist(ts: DateTime<Utc>) -> String {
    ts.with_timezone(&Kolkata).to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// Optional variant of [`ist`].
pub fn ist_opt(ts: Option<DateTime<Utc>>) -> Option<String> {
    ts.map(ist)
}

/// UTC with `Z`, for hand-built fields.
pub fn utc(ts: DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ist_has_offset_and_micros() {
        let t = Utc.with_ymd_and_hms(2025, 11, 3, 14, 23, 45).unwrap() + chrono::Duration::microseconds(123_456);
        assert_eq!(ist(t), "2025-11-03T19:53:45.123456+05:30");
    }
}

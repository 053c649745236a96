//! Time formats of the API: serializer fields in Asia/Kolkata with microseconds.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Asia::Kolkata;

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

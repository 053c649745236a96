//! How the invoice writes amounts, rates and dates: `₹1,00,000.00`, `18%`, `November 03, 2025`,
//! `November 03, 2025 at 02:30 PM` (always in IST).

use chrono::{DateTime, FixedOffset, NaiveDate};
use chrono_tz::Asia::Kolkata;

use crate::money::Money;

/// `₹1,234.00`, `₹1,00,000.00`, `₹12,34,56,789.10`: rupees with the Indian digit grouping (the
/// last three digits, then groups of two) and two decimals; negative amounts as `-₹1,234.00`.
pub fn inr(amount: Money) -> String {
    let sign = if amount.paise() < 0 { "-" } else { "" };
    let abs = amount.paise().unsigned_abs();
    format!("{sign}₹{}.{:02}", group_indian(abs / 100), abs % 100)
}

/// `1,00,000` for 100000: Indian digit grouping of a whole number.
pub fn group_indian(n: u64) -> String {
    let digits = n.to_string();
    if digits.len() <= 3 {
        return digits;
    }
    let (head, last3) = digits.split_at(digits.len() - 3);
    let mut out = String::with_capacity(digits.len() + digits.len() / 2);
    // The head goes in pairs from the right: an odd-length head starts with a single digit.
    let first = head.len() % 2;
    if first == 1 {
        out.push_str(&head[..1]);
    }
    for (i, pair) in head.as_bytes()[first..].chunks(2).enumerate() {
        if i > 0 || first == 1 {
            out.push(',');
        }
        out.extend(pair.iter().map(|&b| char::from(b)));
    }
    out.push(',');
    out.push_str(last3);
    out
}

/// `18%`, `12.5%`, `0.25%` from the stored decimal string (`"18.00"`); anything that is not a plain
/// decimal is shown as given, followed by `%`.
pub fn rate(rate: &str) -> String {
    let r = rate.trim();
    let plain = !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit() || b == b'.') && r.matches('.').count() <= 1;
    let shown = if plain && r.contains('.') { r.trim_end_matches('0').trim_end_matches('.') } else { r };
    let shown = if shown.is_empty() { "0" } else { shown };
    format!("{shown}%")
}

/// `November 03, 2025`.
pub fn long_date(date: NaiveDate) -> String {
    date.format("%B %d, %Y").to_string()
}

/// `November 03, 2025 at 02:30 PM`, in IST whatever the offset of `at`.
pub fn long_date_time_ist(at: DateTime<FixedOffset>) -> String {
    at.with_timezone(&Kolkata).format("%B %d, %Y at %I:%M %p").to_string()
}

/// `20251103`, for file names.
pub fn compact_date(date: NaiveDate) -> String {
    date.format("%Y%m%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inr_uses_indian_grouping() {
        for (paise, text) in [
            (0, "₹0.00"),
            (50, "₹0.50"),
            (5, "₹0.05"),
            (99_900, "₹999.00"),
            (123_400, "₹1,234.00"),
            (499_900, "₹4,999.00"),
            (1_000_000, "₹10,000.00"),
            (10_000_000, "₹1,00,000.00"),
            (99_999_999, "₹9,99,999.99"),
            (123_456_700, "₹12,34,567.00"),
            (1_000_000_000, "₹1,00,00,000.00"),
            (12_345_678_910, "₹12,34,56,789.10"),
            (999_999_999_999, "₹9,99,99,99,999.99"),
            (-123_400, "-₹1,234.00"),
            (-10_000_000, "-₹1,00,000.00"),
        ] {
            assert_eq!(inr(Money(paise)), text, "{paise}");
        }
        assert_eq!(inr(Money(i64::MIN)), "-₹92,23,37,20,36,85,47,758.08");
    }

    #[test]
    fn group_indian_edges() {
        assert_eq!(group_indian(0), "0");
        assert_eq!(group_indian(999), "999");
        assert_eq!(group_indian(1_000), "1,000");
        assert_eq!(group_indian(10_000), "10,000");
        assert_eq!(group_indian(100_000), "1,00,000");
        assert_eq!(group_indian(1_000_000), "10,00,000");
        assert_eq!(group_indian(10_000_000), "1,00,00,000");
    }

    #[test]
    fn rates_and_dates() {
        assert_eq!(rate("18.00"), "18%");
        assert_eq!(rate("12.50"), "12.5%");
        assert_eq!(rate("0.25"), "0.25%");
        assert_eq!(rate("0.00"), "0%");
        assert_eq!(rate("5"), "5%");
        assert_eq!(rate("exempt"), "exempt%");
        let d = NaiveDate::from_ymd_opt(2025, 11, 3).unwrap();
        assert_eq!(long_date(d), "November 03, 2025");
        assert_eq!(compact_date(d), "20251103");
        let at = DateTime::parse_from_rfc3339("2025-11-03T09:00:00Z").unwrap();
        assert_eq!(long_date_time_ist(at), "November 03, 2025 at 02:30 PM");
        let at = DateTime::parse_from_rfc3339("2025-11-03T23:59:00+05:30").unwrap();
        assert_eq!(long_date_time_ist(at), "November 03, 2025 at 11:59 PM");
    }
}

//! Money in paise (`i64`), parsed from and rendered to the API's decimal strings.

use std::fmt;

/// An amount in paise. No floating point ever touches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(pub i64);

/// Why a decimal input was refused, with DRF's `DecimalField` messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not a number.
    #[error("A valid number is required.")]
    Invalid,
    /// More than 2 decimals.
    #[error("Ensure that there are no more than 2 decimal places.")]
    TooManyDecimals,
    /// More than `max_digits` digits in all.
    #[error("Ensure that there are no more than {0} digits in total.")]
    TooManyDigits(u32),
    /// More than `max_digits - 2` digits before the point.
    #[error("Ensure that there are no more than {0} digits before the decimal point.")]
    TooManyWholeDigits(u32),
}

impl Money {
    /// Parses `"4999"`, `"4999.5"`, `"4999.50"` (or the JSON number's text) with at most
    /// `max_digits` digits in all, as `numeric(max_digits, 2)` stores it.
    pub fn parse(raw: &str, max_digits: u32) -> Result<Money, MoneyError> {
        let s = raw.trim();
        let (negative, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let (whole, frac) = match digits.split_once('.') {
            Some((w, f)) => (w, f),
            None => (digits, ""),
        };
        if whole.is_empty() && frac.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(MoneyError::Invalid);
        }
        let frac_trimmed = frac.trim_end_matches('0');
        if frac_trimmed.len() > 2 {
            return Err(MoneyError::TooManyDecimals);
        }
        let whole_trimmed = whole.trim_start_matches('0');
        let whole_len = whole_trimmed.len() as u32;
        if whole_len + frac_trimmed.len() as u32 > max_digits {
            return Err(MoneyError::TooManyDigits(max_digits));
        }
        if whole_len + 2 > max_digits {
            return Err(MoneyError::TooManyWholeDigits(max_digits.saturating_sub(2)));
        }
        let whole_value: i64 =
            if whole_trimmed.is_empty() { 0 } else { whole_trimmed.parse().map_err(|_| MoneyError::Invalid)? };
        let mut frac_value: i64 = 0;
        for (i, b) in frac_trimmed.bytes().enumerate() {
            frac_value += i64::from(b - b'0') * if i == 0 { 10 } else { 1 };
        }
        let paise = whole_value.checked_mul(100).and_then(|v| v.checked_add(frac_value)).ok_or(MoneyError::Invalid)?;
        Ok(Money(if negative { -paise } else { paise }))
    }

    /// Parses a JSON value: a number or a numeric string.
    pub fn from_json(value: &serde_json::Value, max_digits: u32) -> Result<Money, MoneyError> {
        match value {
            serde_json::Value::String(s) => Money::parse(s, max_digits),
            serde_json::Value::Number(n) => Money::parse(&n.to_string(), max_digits),
            _ => Err(MoneyError::Invalid),
        }
    }

    /// Paise.
    pub fn paise(self) -> i64 {
        self.0
    }

    /// As a JSON number (for computed fields): rupees with two decimals.
    pub fn as_f64_for_json(self) -> serde_json::Value {
        // Formatting through the decimal string keeps the value exact to the paisa.
        serde_json::from_str(&self.to_string()).unwrap_or(serde_json::Value::Null)
    }
}

impl fmt::Display for Money {
    /// `4999.00`, the decimal string of DRF's `DecimalField`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders() {
        assert_eq!(Money::parse("4999", 10), Ok(Money(499_900)));
        assert_eq!(Money::parse("4999.5", 10), Ok(Money(499_950)));
        assert_eq!(Money::parse("0.05", 10), Ok(Money(5)));
        assert_eq!(Money::parse("12.340", 10), Ok(Money(1_234)));
        assert_eq!(Money(499_900).to_string(), "4999.00");
        assert_eq!(Money(5).to_string(), "0.05");
        assert_eq!(Money(-150).to_string(), "-1.50");
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(Money::parse("abc", 10), Err(MoneyError::Invalid));
        assert_eq!(Money::parse("", 10), Err(MoneyError::Invalid));
        assert_eq!(Money::parse("1.234", 10), Err(MoneyError::TooManyDecimals));
        assert_eq!(Money::parse("123456789", 10), Err(MoneyError::TooManyWholeDigits(8)));
        assert_eq!(Money::parse("123456789.12", 10), Err(MoneyError::TooManyDigits(10)));
        assert_eq!(Money::parse("99999999.99", 10), Ok(Money(9_999_999_999)));
        assert_eq!(Money::parse("1e5", 10), Err(MoneyError::Invalid));
    }
}

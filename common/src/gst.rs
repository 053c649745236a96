//! GST (API.md §9.5): GSTINs and state codes, rates, per-line tax in paise (half-up), financial
//! years (1 April – 31 March, Asia/Kolkata), invoice numbers and amounts in words.
//!
//! All arithmetic is on integers: paise and hundredths of a percent. No floating point.

use std::fmt;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use chrono_tz::Asia::Kolkata;

use crate::money::Money;

/// Why a GST input was refused, with the API's field messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GstError {
    /// Not a GSTIN (pattern or state code).
    #[error("Enter a valid GSTIN.")]
    InvalidGstin,
    /// Not a GST state code.
    #[error("Enter a valid GST state code (01-38 or 97).")]
    InvalidStateCode,
    /// Not a rate from 0 to 100 with at most 2 decimals.
    #[error("Enter a valid GST rate.")]
    InvalidRate,
}

/// GST state/UT codes and their names, in code order.
pub const STATE_CODES: [(&str, &str); 39] = [
    ("01", "Jammu and Kashmir"),
    ("02", "Himachal Pradesh"),
    ("03", "Punjab"),
    ("04", "Chandigarh"),
    ("05", "Uttarakhand"),
    ("06", "Haryana"),
    ("07", "Delhi"),
    ("08", "Rajasthan"),
    ("09", "Uttar Pradesh"),
    ("10", "Bihar"),
    ("11", "Sikkim"),
    ("12", "Arunachal Pradesh"),
    ("13", "Nagaland"),
    ("14", "Manipur"),
    ("15", "Mizoram"),
    ("16", "Tripura"),
    ("17", "Meghalaya"),
    ("18", "Assam"),
    ("19", "West Bengal"),
    ("20", "Jharkhand"),
    ("21", "Odisha"),
    ("22", "Chhattisgarh"),
    ("23", "Madhya Pradesh"),
    ("24", "Gujarat"),
    ("25", "Daman and Diu"),
    ("26", "Dadra and Nagar Haveli and Daman and Diu"),
    ("27", "Maharashtra"),
    ("28", "Andhra Pradesh (Old)"),
    ("29", "Karnataka"),
    ("30", "Goa"),
    ("31", "Lakshadweep"),
    ("32", "Kerala"),
    ("33", "Tamil Nadu"),
    ("34", "Puducherry"),
    ("35", "Andaman and Nicobar Islands"),
    ("36", "Telangana"),
    ("37", "Andhra Pradesh"),
    ("38", "Ladakh"),
    ("97", "Other Territory"),
];

/// A GST state code, always two digits: `"01"`–`"38"` or `"97"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StateCode(String);

impl StateCode {
    /// Parses `"07"`, `"7"` or `" 7 "` (a JSON number's text too) into `"07"`.
    pub fn parse(s: &str) -> Result<Self, GstError> {
        let s = s.trim();
        if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(GstError::InvalidStateCode);
        }
        let code = format!("{s:0>2}");
        if STATE_CODES.iter().any(|(c, _)| *c == code) { Ok(StateCode(code)) } else { Err(GstError::InvalidStateCode) }
    }

    /// The two-digit code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The state's or union territory's name.
    pub fn name(&self) -> &'static str {
        STATE_CODES.iter().find(|(c, _)| *c == self.0).map_or("", |(_, name)| name)
    }
}

impl fmt::Display for StateCode {
    /// The two-digit code.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The check character of a GSTIN's first 14 characters; `None` for a character outside
/// `0-9A-Z`.
pub fn gstin_check_char(first14: &str) -> Option<char> {
    const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut sum = 0u32;
    for (i, c) in first14.bytes().enumerate() {
        let value = ALPHABET.iter().position(|&a| a == c)? as u32;
        let product = value * if i % 2 == 0 { 1 } else { 2 };
        sum += product / 36 + product % 36;
    }
    Some(ALPHABET[((36 - sum % 36) % 36) as usize] as char)
}

/// A GSTIN matching `^[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z][1-9A-Z]Z[0-9A-Z]$` with a valid state code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Gstin(String);

impl Gstin {
    /// Trims and uppercases, then checks the pattern and the state code (the check digit is not verified).
    pub fn parse(s: &str) -> Result<Self, GstError> {
        let s = s.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        let digit = |c: u8| c.is_ascii_digit();
        let upper = |c: u8| c.is_ascii_uppercase();
        let ok = b.len() == 15
            && b[0..2].iter().all(|&c| digit(c))
            && b[2..7].iter().all(|&c| upper(c))
            && b[7..11].iter().all(|&c| digit(c))
            && upper(b[11])
            && (upper(b[12]) || (b'1'..=b'9').contains(&b[12]))
            && b[13] == b'Z'
            && (upper(b[14]) || digit(b[14]));
        if !ok || StateCode::parse(&s[0..2]).is_err() {
            return Err(GstError::InvalidGstin);
        }
        Ok(Gstin(s))
    }

    /// The normalised (uppercase) GSTIN.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the 15th character is the check character of the first 14 (GSTN's mod-36
    /// scheme: alternate weights 1 and 2, each product folded as quotient + remainder of 36).
    pub fn check_char_ok(&self) -> bool {
        gstin_check_char(&self.0[..14]) == self.0.as_bytes().get(14).map(|&b| b as char)
    }

    /// The state code in the first two digits.
    pub fn state_code(&self) -> StateCode {
        StateCode(self.0[0..2].to_owned())
    }
}

impl fmt::Display for Gstin {
    /// The normalised GSTIN.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A GST rate in hundredths of a percent (18% = 1800), from 0 to 10000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate(u32);

impl Rate {
    /// Parses `"18"`, `"18.00"`, `"5"`, `"0.25"`: a decimal from 0 to 100 with at most 2 decimals.
    pub fn parse(s: &str) -> Result<Self, GstError> {
        // A percentage with 2 decimals has the shape of an amount in rupees: reuse its parser
        // (at most 5 digits, so at most 3 before the point), then check the range.
        let hundredths = Money::parse(s, 5).map_err(|_| GstError::InvalidRate)?.paise();
        match u32::try_from(hundredths) {
            Ok(v) if v <= 10_000 => Ok(Rate(v)),
            _ => Err(GstError::InvalidRate),
        }
    }

    /// Hundredths of a percent (18% = 1800).
    pub fn basis_points(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Rate {
    /// `18.00`, `0.25`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// One line's tax, in paise. Always `gross = taxable + tax` and `tax = cgst + sgst + igst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineTax {
    /// What the customer pays for the line.
    pub gross: Money,
    /// The taxable value.
    pub taxable: Money,
    /// The whole GST.
    pub tax: Money,
    /// Central GST (intra-state only).
    pub cgst: Money,
    /// State GST (intra-state only).
    pub sgst: Money,
    /// Integrated GST (inter-state only).
    pub igst: Money,
}

/// `numerator / denominator` rounded to the nearest integer, halves up. Meant for a non-negative
/// numerator and a positive denominator (a negative numerator rounds its halves away from zero);
/// panics on a zero denominator.
pub fn half_up_div(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator / denominator;
    let remainder = (numerator % denominator).unsigned_abs();
    let divisor = denominator.unsigned_abs();
    if remainder != 0 && remainder >= divisor - remainder {
        quotient + numerator.signum() * denominator.signum()
    } else {
        quotient
    }
}

/// Paise from an `i128` intermediate, saturating at the ends of `i64`.
fn money(paise: i128) -> Money {
    Money(i64::try_from(paise).unwrap_or(if paise < 0 { i64::MIN } else { i64::MAX }))
}

/// Tax on `quantity` units at `unit_price`, per line and half-up (API.md §9.5). With
/// `prices_include_gst` the price is gross and the taxable value is backed out of it; otherwise
/// the price is taxable and the tax is added. `intra_state` splits the tax into CGST and SGST
/// (CGST takes the odd paisa), else it is all IGST.
pub fn line_tax(unit_price: Money, quantity: i64, rate: Rate, prices_include_gst: bool, intra_state: bool) -> LineTax {
    let amount = i128::from(unit_price.paise()) * i128::from(quantity);
    let bp = i128::from(rate.basis_points());
    let (gross, taxable) = if prices_include_gst {
        (amount, half_up_div(amount * 10_000, 10_000 + bp))
    } else {
        (amount + half_up_div(amount * bp, 10_000), amount)
    };
    let tax = gross - taxable;
    let (cgst, sgst, igst) = if intra_state {
        let cgst = half_up_div(tax, 2);
        (cgst, tax - cgst, 0)
    } else {
        (0, 0, tax)
    };
    LineTax {
        gross: money(gross),
        taxable: money(taxable),
        tax: money(tax),
        cgst: money(cgst),
        sgst: money(sgst),
        igst: money(igst),
    }
}

/// An Indian financial year, 1 April to 31 March in Asia/Kolkata, named by the year it starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FinancialYear {
    /// The calendar year of its 1 April (2026 for 2026-27).
    pub start_year: i32,
}

impl FinancialYear {
    /// The financial year containing `at` (judged by the date in Asia/Kolkata).
    pub fn of(at: DateTime<Utc>) -> FinancialYear {
        let local = at.with_timezone(&Kolkata);
        let start_year = if local.month() >= 4 { local.year() } else { local.year() - 1 };
        FinancialYear { start_year }
    }

    /// `26-27` for the year starting April 2026.
    pub fn label(self) -> String {
        format!("{:02}-{:02}", self.start_year.rem_euclid(100), (self.start_year + 1).rem_euclid(100))
    }

    /// 1 April 00:00 IST of `start_year`, in UTC (31 March 18:30Z); saturates outside chrono's range.
    pub fn starts_at(self) -> DateTime<Utc> {
        match Kolkata.with_ymd_and_hms(self.start_year, 4, 1, 0, 0, 0).single() {
            Some(t) => t.with_timezone(&Utc),
            None if self.start_year < 0 => DateTime::<Utc>::MIN_UTC,
            None => DateTime::<Utc>::MAX_UTC,
        }
    }
}

/// Whether `prefix` is 1–4 characters of `[A-Z0-9]`, so that invoice numbers fit 16 characters.
pub fn valid_invoice_prefix(prefix: &str) -> bool {
    (1..=4).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// `EC/26-27/00001`: prefix, financial year label and the sequence zero-padded to 5 digits (a
/// longer sequence keeps all its digits). Validate the prefix with [`valid_invoice_prefix`].
pub fn invoice_number(prefix: &str, fy: FinancialYear, seq: i64) -> String {
    format!("{prefix}/{}/{seq:05}", fy.label())
}

const ONES: [&str; 20] = [
    "Zero",
    "One",
    "Two",
    "Three",
    "Four",
    "Five",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
];

const TENS: [&str; 10] = ["", "", "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety"];

/// Words for 1..=99.
fn below_hundred(n: u64, out: &mut Vec<&'static str>) {
    if n < 20 {
        out.push(ONES[n as usize]);
    } else {
        out.push(TENS[(n / 10) as usize]);
        if !n.is_multiple_of(10) {
            out.push(ONES[(n % 10) as usize]);
        }
    }
}

/// Words for a positive number in the Indian system; above 99 crore the crores are themselves
/// spelt out ("One Hundred Crore").
fn indian_words(n: u64, out: &mut Vec<&'static str>) {
    if n >= 10_000_000 {
        indian_words(n / 10_000_000, out);
        out.push("Crore");
    }
    let n = n % 10_000_000;
    for (unit, name, modulo) in [(100_000, "Lakh", 100), (1_000, "Thousand", 100), (100, "Hundred", 10)] {
        let part = n / unit % modulo;
        if part != 0 {
            below_hundred(part, out);
            out.push(name);
        }
    }
    if !n.is_multiple_of(100) {
        below_hundred(n % 100, out);
    }
}

/// "Rupees Four Thousand Nine Hundred Ninety Nine and Fifty Paise Only", in the Indian system
/// (thousand, lakh, crore); negative amounts start with "Minus".
pub fn amount_in_words(amount: Money) -> String {
    let abs = amount.paise().unsigned_abs();
    let (rupees, paise) = (abs / 100, abs % 100);
    let mut words: Vec<&'static str> = Vec::new();
    if amount.paise() < 0 {
        words.push("Minus");
    }
    words.push("Rupees");
    if rupees == 0 {
        words.push(ONES[0]);
    } else {
        indian_words(rupees, &mut words);
    }
    if paise != 0 {
        words.push("and");
        below_hundred(paise, &mut words);
        words.push("Paise");
    }
    words.push("Only");
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn rate(s: &str) -> Rate {
        Rate::parse(s).unwrap()
    }

    #[test]
    fn gstin_accepts_good_ones() {
        let g = Gstin::parse("29ABCDE1234F1Z5").unwrap();
        assert_eq!(g.as_str(), "29ABCDE1234F1Z5");
        assert_eq!(g.state_code().as_str(), "29");
        assert_eq!(g.state_code().name(), "Karnataka");
        assert_eq!(Gstin::parse("  29abcde1234f1z5 ").unwrap().as_str(), "29ABCDE1234F1Z5");
        assert_eq!(Gstin::parse("07AAACB1234CAZ9").unwrap().state_code().name(), "Delhi");
        assert_eq!(Gstin::parse("97ABCDE1234F9ZZ").unwrap().state_code().as_str(), "97");
        assert_eq!(Gstin::parse("38ABCDE1234F1Z0").unwrap().state_code().name(), "Ladakh");
    }

    #[test]
    fn gstin_refuses_bad_ones() {
        for bad in [
            "",
            "29ABCDE1234F1Z",   // too short
            "29ABCDE1234F1Z55", // too long
            "29ABCDE1234F1X5",  // no Z
            "00ABCDE1234F1Z5",  // state 00
            "39ABCDE1234F1Z5",  // state 39
            "99ABCDE1234F1Z5",  // state 99
            "29ABCDE1234F0Z5",  // 13th char 0
            "2XABCDE1234F1Z5",  // state not digits
            "29ABCD51234F1Z5",  // digit among the letters
            "29ABCDE12A4F1Z5",  // letter among the digits
            "29ABCDE1234 1Z5",  // space inside
            "29ABCDE123451Z5",  // 12th char a digit
            "29ABCDE1234F1Z-",  // last char not alphanumeric
            "29ÀBCDE1234F1Z5",  // non-ASCII
        ] {
            assert_eq!(Gstin::parse(bad), Err(GstError::InvalidGstin), "{bad:?}");
        }
        assert_eq!(GstError::InvalidGstin.to_string(), "Enter a valid GSTIN.");
    }

    #[test]
    fn state_codes() {
        assert_eq!(StateCode::parse("07").unwrap().as_str(), "07");
        assert_eq!(StateCode::parse("7").unwrap().as_str(), "07");
        assert_eq!(StateCode::parse(" 7 ").unwrap().name(), "Delhi");
        assert_eq!(StateCode::parse("01").unwrap().name(), "Jammu and Kashmir");
        assert_eq!(StateCode::parse("28").unwrap().name(), "Andhra Pradesh (Old)");
        assert_eq!(StateCode::parse("37").unwrap().name(), "Andhra Pradesh");
        assert_eq!(StateCode::parse("38").unwrap().name(), "Ladakh");
        assert_eq!(StateCode::parse("97").unwrap().name(), "Other Territory");
        assert_eq!(StateCode::parse(&29.to_string()).unwrap().name(), "Karnataka");
        for bad in ["", "0", "00", "39", "96", "98", "99", "007", "7a", "-7", "+7", "7.0", "٠٧"] {
            assert_eq!(StateCode::parse(bad), Err(GstError::InvalidStateCode), "{bad:?}");
        }
        assert_eq!(GstError::InvalidStateCode.to_string(), "Enter a valid GST state code (01-38 or 97).");
        for (i, (code, name)) in STATE_CODES.iter().enumerate() {
            assert_eq!(StateCode::parse(code).unwrap().name(), *name);
            if i < 38 {
                assert_eq!(*code, format!("{:02}", i + 1));
            }
        }
    }

    #[test]
    fn rates_parse_and_display() {
        assert_eq!(rate("18").basis_points(), 1800);
        assert_eq!(rate("18.00").basis_points(), 1800);
        assert_eq!(rate(" 18.0 ").basis_points(), 1800);
        assert_eq!(rate("5").basis_points(), 500);
        assert_eq!(rate("0.25").basis_points(), 25);
        assert_eq!(rate("28").basis_points(), 2800);
        assert_eq!(rate("0").basis_points(), 0);
        assert_eq!(rate("100").basis_points(), 10_000);
        assert_eq!(rate("100.00").basis_points(), 10_000);
        assert_eq!(rate("18").to_string(), "18.00");
        assert_eq!(rate("0.25").to_string(), "0.25");
        assert_eq!(rate("5").to_string(), "5.00");
        assert_eq!(rate("12.5").to_string(), "12.50");
        assert_eq!(rate("0").to_string(), "0.00");
        for bad in ["", "abc", "-1", "-0.01", "100.01", "101", "1000", "0.125", "1e1", "18%", "NaN"] {
            assert_eq!(Rate::parse(bad), Err(GstError::InvalidRate), "{bad:?}");
        }
        assert_eq!(GstError::InvalidRate.to_string(), "Enter a valid GST rate.");
    }

    #[test]
    fn half_up_division() {
        assert_eq!(half_up_div(0, 7), 0);
        assert_eq!(half_up_div(1, 3), 0);
        assert_eq!(half_up_div(2, 3), 1);
        assert_eq!(half_up_div(1, 2), 1); // banker's: 0
        assert_eq!(half_up_div(3, 2), 2);
        assert_eq!(half_up_div(5, 2), 3); // banker's: 2
        assert_eq!(half_up_div(849_999, 100_000), 8);
        assert_eq!(half_up_div(850_000, 100_000), 9); // truncation: 8
        assert_eq!(half_up_div(-5, 2), -3);
        assert_eq!(half_up_div(-4, 2), -2);
    }

    #[test]
    fn inclusive_tax_rounds_half_up() {
        // ₹100.00 at 18%: 10000 × 100 / 118 = 8474.576 → 8475; tax 1525 → CGST 762.5 → 763, SGST 762.
        let l = line_tax(Money(10_000), 1, rate("18"), true, true);
        assert_eq!(
            l,
            LineTax {
                gross: Money(10_000),
                taxable: Money(8_475),
                tax: Money(1_525),
                cgst: Money(763),
                sgst: Money(762),
                igst: Money(0),
            }
        );
        // 16 paise at 28%: 16 / 1.28 = 12.5 → 13 (banker's and truncation: 12).
        let l = line_tax(Money(16), 1, rate("28"), true, true);
        assert_eq!((l.taxable, l.tax, l.cgst, l.sgst), (Money(13), Money(3), Money(2), Money(1)));
        // ₹1000.00 at 28%: exactly 78125; tax 21875 → CGST 10937.5 → 10938.
        let l = line_tax(Money(50_000), 2, rate("28"), true, true);
        assert_eq!(
            (l.gross, l.taxable, l.tax, l.cgst, l.sgst),
            (Money(100_000), Money(78_125), Money(21_875), Money(10_938), Money(10_937))
        );
        // ₹10.00 at 28%: 781.25 → 781.
        let l = line_tax(Money(1_000), 1, rate("28"), true, false);
        assert_eq!((l.taxable, l.tax, l.igst), (Money(781), Money(219), Money(219)));
        // Price ₹4999.50 × 3 at 5%: 1499850 / 1.05 = 1428428.57 → 1428429.
        let l = line_tax(Money(499_950), 3, rate("5"), true, true);
        assert_eq!((l.gross, l.taxable, l.tax), (Money(1_499_850), Money(1_428_429), Money(71_421)));
        assert_eq!((l.cgst, l.sgst), (Money(35_711), Money(35_710)));
        // 0%: no tax.
        let l = line_tax(Money(12_345), 2, rate("0"), true, true);
        assert_eq!(
            (l.gross, l.taxable, l.tax, l.cgst, l.sgst),
            (Money(24_690), Money(24_690), Money(0), Money(0), Money(0))
        );
    }

    #[test]
    fn exclusive_tax_rounds_half_up() {
        // ₹0.50 at 18%: 9.0 → 9.
        let l = line_tax(Money(50), 1, rate("18"), false, true);
        assert_eq!((l.gross, l.taxable, l.tax, l.cgst, l.sgst), (Money(59), Money(50), Money(9), Money(5), Money(4)));
        // ₹0.10 at 5%: 0.5 → 1 (banker's and truncation: 0).
        let l = line_tax(Money(10), 1, rate("5"), false, true);
        assert_eq!((l.gross, l.taxable, l.tax, l.cgst, l.sgst), (Money(11), Money(10), Money(1), Money(1), Money(0)));
        // ₹0.25 at 18%: 4.5 → 5 (banker's: 4).
        let l = line_tax(Money(25), 1, rate("18"), false, false);
        assert_eq!((l.gross, l.tax, l.igst), (Money(30), Money(5), Money(5)));
        // ₹100.00 × 2 at 0.25%: 50 exactly.
        let l = line_tax(Money(10_000), 2, rate("0.25"), false, true);
        assert_eq!(
            (l.gross, l.taxable, l.tax, l.cgst, l.sgst),
            (Money(20_050), Money(20_000), Money(50), Money(25), Money(25))
        );
        // ₹3.33 at 28%: 93.24 → 93.
        let l = line_tax(Money(333), 1, rate("28"), false, true);
        assert_eq!((l.gross, l.tax, l.cgst, l.sgst), (Money(426), Money(93), Money(47), Money(46)));
    }

    #[test]
    fn inter_state_is_all_igst() {
        for include in [true, false] {
            let intra = line_tax(Money(10_000), 3, rate("18"), include, true);
            let inter = line_tax(Money(10_000), 3, rate("18"), include, false);
            assert_eq!((inter.gross, inter.taxable, inter.tax), (intra.gross, intra.taxable, intra.tax));
            assert_eq!((inter.cgst, inter.sgst, inter.igst), (Money(0), Money(0), inter.tax));
            assert_eq!(intra.igst, Money(0));
        }
    }

    #[test]
    fn parts_always_add_up() {
        for r in ["0", "0.25", "3", "5", "12", "18", "28"] {
            let r = rate(r);
            for price in 1..5_000 {
                for qty in 1..=3 {
                    for include in [true, false] {
                        for intra in [true, false] {
                            let l = line_tax(Money(price), qty, r, include, intra);
                            assert_eq!(l.gross.0, l.taxable.0 + l.tax.0);
                            assert_eq!(l.tax.0, l.cgst.0 + l.sgst.0 + l.igst.0);
                            assert!(l.taxable.0 >= 0 && l.tax.0 >= 0 && l.sgst.0 >= 0);
                            assert!(l.cgst.0 - l.sgst.0 <= 1 && l.cgst.0 >= l.sgst.0);
                            if include {
                                assert_eq!(l.gross.0, price * qty);
                                // The taxable value is the nearest paisa to gross / (1 + rate).
                                let exact2 = 2 * i128::from(l.gross.0) * 10_000;
                                let den = 10_000 + i128::from(r.basis_points());
                                assert!((2 * i128::from(l.taxable.0) * den - exact2).abs() <= den);
                            } else {
                                assert_eq!(l.taxable.0, price * qty);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn financial_years() {
        let fy = FinancialYear::of(t("2027-03-31T18:29:59Z")); // 31 March 23:59:59 IST
        assert_eq!(fy, FinancialYear { start_year: 2026 });
        assert_eq!(fy.label(), "26-27");
        let fy = FinancialYear::of(t("2027-03-31T18:30:00Z")); // 1 April 00:00 IST
        assert_eq!(fy, FinancialYear { start_year: 2027 });
        assert_eq!(fy.label(), "27-28");
        assert_eq!(FinancialYear::of(t("2026-04-01T00:00:00+05:30")).start_year, 2026);
        assert_eq!(FinancialYear::of(t("2026-12-31T23:00:00Z")).start_year, 2026);
        assert_eq!(FinancialYear::of(t("2027-01-15T00:00:00Z")).start_year, 2026);
        assert_eq!(FinancialYear { start_year: 2026 }.starts_at(), t("2026-03-31T18:30:00Z"));
        assert_eq!(FinancialYear { start_year: 2099 }.label(), "99-00");
        assert_eq!(FinancialYear { start_year: 2009 }.label(), "09-10");
        let fy = FinancialYear { start_year: 2030 };
        assert_eq!(FinancialYear::of(fy.starts_at()), fy);
        assert_eq!(FinancialYear::of(fy.starts_at() - chrono::Duration::seconds(1)).start_year, 2029);
    }

    #[test]
    fn gstin_check_characters() {
        for good in ["29ABCDE1234F1ZW", "27AAPFU0939F1ZV", "33AAACR4849R1ZS"] {
            assert!(Gstin::parse(good).unwrap().check_char_ok(), "{good}");
        }
        for bad in ["29ABCDE1234F1Z5", "27AAPFU0939F1ZA"] {
            assert!(!Gstin::parse(bad).unwrap().check_char_ok(), "{bad}");
        }
    }

    #[test]
    fn invoice_numbers() {
        let fy = FinancialYear { start_year: 2026 };
        assert_eq!(invoice_number("EC", fy, 1), "EC/26-27/00001");
        assert_eq!(invoice_number("EC", fy, 42), "EC/26-27/00042");
        assert_eq!(invoice_number("ABCD", fy, 99_999), "ABCD/26-27/99999");
        assert_eq!(invoice_number("ABCD", fy, 99_999).len(), 16);
        assert_eq!(invoice_number("EC", fy, 123_456), "EC/26-27/123456");
        assert_eq!(invoice_number("E1", FinancialYear { start_year: 2027 }, 7), "E1/27-28/00007");
        for good in ["E", "EC", "INV1", "2026"] {
            assert!(valid_invoice_prefix(good), "{good:?}");
        }
        for bad in ["", "ABCDE", "ec", "E-C", "E/C", "E C", " EC", "É", "EC_"] {
            assert!(!valid_invoice_prefix(bad), "{bad:?}");
        }
    }

    #[test]
    fn amounts_in_words() {
        assert_eq!(
            amount_in_words(Money(499_950)),
            "Rupees Four Thousand Nine Hundred Ninety Nine and Fifty Paise Only"
        );
        assert_eq!(amount_in_words(Money(100)), "Rupees One Only");
        assert_eq!(amount_in_words(Money(0)), "Rupees Zero Only");
        assert_eq!(
            amount_in_words(Money(12_345_678_900)),
            "Rupees Twelve Crore Thirty Four Lakh Fifty Six Thousand Seven Hundred Eighty Nine Only"
        );
        assert_eq!(amount_in_words(Money(5)), "Rupees Zero and Five Paise Only");
        assert_eq!(amount_in_words(Money(1_100_000)), "Rupees Eleven Thousand Only");
        assert_eq!(amount_in_words(Money(10_000_000)), "Rupees One Lakh Only");
        assert_eq!(amount_in_words(Money(1_000_000_000)), "Rupees One Crore Only");
        assert_eq!(amount_in_words(Money(1_000_010_000)), "Rupees One Crore One Hundred Only");
        assert_eq!(amount_in_words(Money(2_000_000)), "Rupees Twenty Thousand Only");
        assert_eq!(amount_in_words(Money(1_901)), "Rupees Nineteen and One Paise Only");
        assert_eq!(amount_in_words(Money(11_000)), "Rupees One Hundred Ten Only");
        assert_eq!(amount_in_words(Money(100_000_000_000)), "Rupees One Hundred Crore Only");
        assert_eq!(amount_in_words(Money(-250)), "Minus Rupees Two and Fifty Paise Only");
        assert!(
            amount_in_words(Money(i64::MIN))
                .starts_with("Minus Rupees Nine Hundred Twenty Two Crore Thirty Three Lakh")
        );
        assert_eq!(
            amount_in_words(Money(i64::MAX)),
            "Rupees Nine Hundred Twenty Two Crore Thirty Three Lakh Seventy Two Thousand Thirty Six Crore Eighty Five \
             Lakh Forty Seven Thousand Seven Hundred Fifty Eight and Seven Paise Only"
        );
    }
}

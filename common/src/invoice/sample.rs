//! A realistic sample document: the renderer's tests, `api bench-invoice` and the demo use it.
// Constant inputs only: the parses below cannot fail.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, NaiveDate};

use super::*;
use crate::gst::{Rate, line_tax};

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn seller() -> Seller {
    Seller {
        name: "Election Cart Private Limited".into(),
        address: "4th Floor, 12 MG Road\nBengaluru, Karnataka 560001".into(),
        gstin: Some("29ABCDE1234F1Z5".into()),
        state_code: "29".into(),
        state_name: "Karnataka".into(),
    }
}

pub fn buyer(state_code: &str, state_name: &str) -> Buyer {
    Buyer {
        name: "Asha Rao".into(),
        gstin: Some(format!("{state_code}AAACB1234C1Z9")),
        address: "22 Residency Road\nNear City Bus Stand".into(),
        state_code: state_code.into(),
        state_name: state_name.into(),
        place_of_supply: format!("{state_name} ({state_code})"),
        email: Some("asha@example.com".into()),
        phone: Some("+91 98450 12345".into()),
    }
}

/// A line priced GST-inclusive, as the catalogue does by default.
pub fn line(description: &str, item_type: &str, price_paise: i64, quantity: i64, intra: bool) -> Line {
    let tax = line_tax(Money(price_paise), quantity, Rate::parse("18.00").unwrap(), true, intra);
    Line {
        description: description.into(),
        item_type: item_type.into(),
        hsn_sac: "998361".into(),
        quantity,
        unit_price: Money(price_paise),
        taxable: tax.taxable,
        gst_rate: "18.00".into(),
        cgst: tax.cgst,
        sgst: tax.sgst,
        igst: tax.igst,
        total: tax.gross,
    }
}

pub fn totals(lines: &[Line]) -> Totals {
    let sum = |f: fn(&Line) -> Money| Money(lines.iter().map(|l| f(l).paise()).sum());
    let (cgst, sgst, igst) = (sum(|l| l.cgst), sum(|l| l.sgst), sum(|l| l.igst));
    Totals {
        taxable: sum(|l| l.taxable),
        cgst,
        sgst,
        igst,
        tax: Money(cgst.0 + sgst.0 + igst.0),
        total: sum(|l| l.total),
    }
}

pub fn document(intra: bool, lines: Vec<Line>) -> InvoiceDocument {
    let totals = totals(&lines);
    InvoiceDocument {
        kind: DocumentKind::TaxInvoice,
        number: "ECT/26-27/00001".into(),
        issued_on: date(2025, 11, 3),
        order_number: "ORD-20251103-0042".into(),
        order_date: date(2025, 11, 2),
        seller: seller(),
        buyer: if intra { buyer("29", "Karnataka") } else { buyer("27", "Maharashtra") },
        payment: Some(PaymentDetails {
            method: "Razorpay".into(),
            transaction_id: "pay_IH4NVgf4Dreq1l".into(),
            status_label: "Completed".into(),
            paid_at: DateTime::parse_from_rfc3339("2025-11-03T09:00:00Z").unwrap(),
            amount: totals.total,
            currency: "INR".into(),
        }),
        lines,
        totals,
        order_status_label: "Completed".into(),
        support_email: "support@electioncart.com".into(),
    }
}

pub fn typical(intra: bool) -> InvoiceDocument {
    document(
        intra,
        vec![
            line("Ward Campaign Starter Package", "Package", 499_900, 1, intra),
            line("Social Media Campaign – 30 days", "Campaign", 1_250_000, 2, intra),
            line("Door-to-door Pamphlets (5,000)", "Campaign", 350_000, 3, intra),
        ],
    )
}

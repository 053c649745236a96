//! The invoice document (API.md §7.10, §9.5): a pure function from an [`InvoiceDocument`] to
//! PDF bytes. No database, no I/O, no clock: everything printed comes from the document, which
//! the caller freezes (it is serde-serializable, e.g. as a jsonb snapshot at payment time) so a
//! later re-render prints the same text (with the same build, the same bytes).
//!
//! Layout: US Letter, DejaVu Sans embedded and subset (it has ₹), amounts right-aligned from the
//! glyph advances, the items table continued over as many pages as needed with its header
//! repeated, and "Page n of m" on every page. See [`render`] and [`file_name`].
//!
//! Rendering is CPU-bound (about 0.6 ms for a typical invoice, release build, one core; the first
//! call in a process also parses the fonts, about 5 ms): call it from `spawn_blocking` in async
//! code. Scripts DejaVu Sans lacks (e.g. Devanagari) print as empty boxes.

mod compose;
mod fonts;
pub mod format;
mod layout;
pub mod sample;
#[cfg(test)]
mod tests;

use chrono::{DateTime, FixedOffset, NaiveDate};
use printpdf::{PdfDocument, PdfPage, PdfParseErrorSeverity, PdfSaveOptions, Pt, Rect};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::money::Money;

/// What the document is; decides the title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DocumentKind {
    /// "TAX INVOICE": the seller has a GSTIN.
    TaxInvoice,
    /// "INVOICE": no seller GSTIN (and the original's legacy invoices).
    Invoice,
    /// "CREDIT NOTE" against an earlier invoice.
    CreditNote {
        /// The invoice it reverses.
        original_number: String,
        /// That invoice's date.
        original_date: NaiveDate,
    },
}

/// The business that issues the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seller {
    /// Legal or trade name.
    pub name: String,
    /// Postal address; `\n` separates lines.
    pub address: String,
    /// GSTIN, when registered.
    pub gstin: Option<String>,
    /// Two-digit GST state code, e.g. `"29"`.
    pub state_code: String,
    /// The state's name, e.g. `"Karnataka"`.
    pub state_name: String,
}

/// Who is billed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buyer {
    /// Billing name (full name or username by default).
    pub name: String,
    /// The buyer's GSTIN, when given.
    pub gstin: Option<String>,
    /// Billing address; `\n` separates lines; may be empty.
    pub address: String,
    /// Two-digit GST state code; may be empty for legacy orders.
    pub state_code: String,
    /// The state's name; may be empty for legacy orders.
    pub state_name: String,
    /// Place of supply as printed, e.g. `"Maharashtra (27)"`.
    pub place_of_supply: String,
    /// Email ("N/A" when absent).
    pub email: Option<String>,
    /// Phone ("N/A" when absent).
    pub phone: Option<String>,
}

/// One row of the items table. Amounts are in paise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Product name (long names wrap, then end with "…").
    pub description: String,
    /// "Package" or "Campaign".
    pub item_type: String,
    /// HSN/SAC code; may be empty.
    pub hsn_sac: String,
    /// Quantity.
    pub quantity: i64,
    /// Unit price as charged (paise).
    #[serde(with = "paise")]
    pub unit_price: Money,
    /// Taxable value (paise).
    #[serde(with = "paise")]
    pub taxable: Money,
    /// GST rate in percent as stored, e.g. `"18.00"`.
    pub gst_rate: String,
    /// CGST (paise).
    #[serde(with = "paise")]
    pub cgst: Money,
    /// SGST (paise).
    #[serde(with = "paise")]
    pub sgst: Money,
    /// IGST (paise).
    #[serde(with = "paise")]
    pub igst: Money,
    /// Taxable value plus tax (paise).
    #[serde(with = "paise")]
    pub total: Money,
}

/// The document's totals (paise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Σ taxable value.
    #[serde(with = "paise")]
    pub taxable: Money,
    /// Σ CGST.
    #[serde(with = "paise")]
    pub cgst: Money,
    /// Σ SGST.
    #[serde(with = "paise")]
    pub sgst: Money,
    /// Σ IGST.
    #[serde(with = "paise")]
    pub igst: Money,
    /// Σ tax.
    #[serde(with = "paise")]
    pub tax: Money,
    /// Grand total: what was charged.
    #[serde(with = "paise")]
    pub total: Money,
}

/// The payment the invoice is for (the original's PaymentHistory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentDetails {
    /// e.g. "Razorpay".
    pub method: String,
    /// The gateway's payment id; empty prints "N/A".
    pub transaction_id: String,
    /// e.g. "Completed".
    pub status_label: String,
    /// When it was paid; printed in IST.
    pub paid_at: DateTime<FixedOffset>,
    /// Amount paid (paise).
    #[serde(with = "paise")]
    pub amount: Money,
    /// ISO currency, printed after the amount.
    #[serde(default = "inr_code")]
    pub currency: String,
}

fn inr_code() -> String {
    "INR".to_owned()
}

/// Everything an invoice or credit note prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceDocument {
    /// Title and credit-note reference.
    pub kind: DocumentKind,
    /// `ECT/26-27/00001`, or a legacy `INV-…`.
    pub number: String,
    /// Invoice date (the payment date, IST).
    pub issued_on: NaiveDate,
    /// The order's number.
    pub order_number: String,
    /// The order's date (IST).
    pub order_date: NaiveDate,
    /// The issuing business.
    pub seller: Seller,
    /// The billed party.
    pub buyer: Buyer,
    /// One per order item.
    pub lines: Vec<Line>,
    /// Totals.
    pub totals: Totals,
    /// The payment; without one the order status and amount are printed instead (§7.10).
    pub payment: Option<PaymentDetails>,
    /// The order status label printed when there is no payment, e.g. "Completed".
    #[serde(default)]
    pub order_status_label: String,
    /// Printed in the footer.
    pub support_email: String,
}

impl InvoiceDocument {
    /// "TAX INVOICE", "INVOICE" or "CREDIT NOTE".
    pub fn title(&self) -> &'static str {
        match self.kind {
            DocumentKind::TaxInvoice => "TAX INVOICE",
            DocumentKind::Invoice => "INVOICE",
            DocumentKind::CreditNote { .. } => "CREDIT NOTE",
        }
    }
}

/// Why a document could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The embedded font could not be read.
    #[error("invoice font: {0}")]
    Font(String),
    /// The PDF could not be written.
    #[error("writing the invoice PDF: {0}")]
    Write(String),
}

/// The PDF of `doc`. Same document, same text; with the same build, the same bytes.
pub fn render(doc: &InvoiceDocument) -> Result<Vec<u8>, RenderError> {
    let (bytes, problems) = render_reporting(doc)?;
    for problem in problems {
        tracing::warn!(invoice = %doc.number, problem, "invoice PDF rendered with a problem");
    }
    Ok(bytes)
}

/// [`render`], also returning printpdf's error-level messages (e.g. a font that could not be
/// subset and was embedded whole): none is fatal, all are bugs to look at.
fn render_reporting(doc: &InvoiceDocument) -> Result<(Vec<u8>, Vec<String>), RenderError> {
    render_at(doc, DEFLATE_LEVEL)
}

/// [`render_reporting`] with streams deflated at `level` (0–9).
fn render_at(doc: &InvoiceDocument, level: u32) -> Result<(Vec<u8>, Vec<String>), RenderError> {
    let fonts = fonts::Fonts::get()?;
    let pdf = pdf_document(fonts, doc);
    let mut warnings = Vec::new();
    let mut out = printpdf::to_lopdf_doc(&pdf, &save_options(), &mut warnings);
    finish(&mut out, fonts, doc);
    compress_streams(&mut out, fonts, level)?;
    let mut bytes = Vec::with_capacity(48 * 1024);
    out.save_to(&mut bytes).map_err(|e| RenderError::Write(e.to_string()))?;
    let problems = warnings.into_iter().filter(|w| w.severity == PdfParseErrorSeverity::Error).map(|w| w.msg).collect();
    Ok((bytes, problems))
}

/// The printpdf document: metadata, the two fonts under fixed ids, the composed pages.
fn pdf_document(fonts: &fonts::Fonts, doc: &InvoiceDocument) -> PdfDocument {
    let pages = compose::compose(fonts, doc);
    let mut pdf = PdfDocument::new(&format!("{} {}", title_case(doc.title()), doc.number));
    let info = &mut pdf.metadata.info;
    info.author = "Election Cart".to_owned();
    info.creator = "Election Cart".to_owned();
    info.producer = "Election Cart".to_owned();
    info.subject = format!("Order {}", doc.order_number);
    if let Some(issued) = doc.issued_on.and_hms_opt(0, 0, 0)
        && let Ok(at) = printpdf::OffsetDateTime::from_unix_timestamp(issued.and_utc().timestamp())
    {
        info.creation_date = at;
        info.modification_date = at;
        info.metadata_date = at;
    }
    for (id, font) in fonts.pdf_fonts(&pages) {
        pdf.resources.fonts.map.insert(id, font);
    }
    let page_box = Rect::from_wh(Pt(layout::PAGE_WIDTH), Pt(layout::PAGE_HEIGHT));
    pdf.pages = pages
        .into_iter()
        .map(|ops| PdfPage { media_box: page_box.clone(), trim_box: page_box.clone(), crop_box: page_box.clone(), ops })
        .collect();
    pdf
}

/// Fonts subset to the glyphs used (but a core cut, embedded whole: [`fonts::Fonts::pdf_fonts`]);
/// streams are compressed by [`compress_streams`] instead.
fn save_options() -> PdfSaveOptions {
    PdfSaveOptions { optimize: false, subset_fonts: true, secure: true, image_optimization: None }
}

/// printpdf writes a random trailer ID; derive it from the document instead (as the PDF
/// specification suggests), so a re-render is byte-identical. And the core cuts it embedded
/// whole get their subset tag.
fn finish(out: &mut lopdf::Document, fonts: &fonts::Fonts, doc: &InvoiceDocument) {
    for object in out.objects.values_mut() {
        tag_core_font_names(object, fonts);
    }
    let id = document_id(doc);
    out.trailer.set(
        "ID",
        lopdf::Object::Array(vec![
            lopdf::Object::String(id.clone(), lopdf::StringFormat::Hexadecimal),
            lopdf::Object::String(id, lopdf::StringFormat::Hexadecimal),
        ]),
    );
}

/// Gives a core cut's PostScript name its subset tag wherever a font dictionary (`/BaseFont`,
/// also in its inline descendant font) or font descriptor (`/FontName`) names it.
fn tag_core_font_names(object: &mut lopdf::Object, fonts: &fonts::Fonts) {
    match object {
        lopdf::Object::Dictionary(dict) => {
            for (key, value) in dict.iter_mut() {
                if let lopdf::Object::Name(name) = value
                    && matches!(key.as_slice(), b"BaseFont" | b"FontName")
                    && let Some(tagged) = fonts.tagged_core_name(name)
                {
                    *name = tagged;
                } else {
                    tag_core_font_names(value, fonts);
                }
            }
        }
        lopdf::Object::Array(items) => items.iter_mut().for_each(|item| tag_core_font_names(item, fonts)),
        _ => {}
    }
}

/// Deflate level for the PDF's streams but the core cuts' font programs (deflated once per
/// process at level 9): content streams, CMaps, and the font programs of faces subset per
/// document. Measured on the typical invoice (zlib-rs, core cuts): level 4 gives 0.58 ms and
/// 44.5 KB, level 6 0.60 ms and 44.3 KB, level 9 0.71 ms and 44.3 KB, level 1 0.52 ms and
/// 46.3 KB.
const DEFLATE_LEVEL: u32 = 4;

/// Deflates every stream that has no filter yet (content streams, font programs, CMaps); a core
/// cut's font program gets the copy deflated once per process.
fn compress_streams(pdf: &mut lopdf::Document, fonts: &fonts::Fonts, level: u32) -> Result<(), RenderError> {
    for object in pdf.objects.values_mut() {
        let lopdf::Object::Stream(stream) = object else { continue };
        if stream.dict.has(b"Filter") || stream.content.len() < 64 {
            continue;
        }
        if let Some(deflated) = fonts.deflated_core_program(&stream.content) {
            stream.dict.set("Filter", "FlateDecode");
            stream.set_content(deflated.to_vec());
            continue;
        }
        let compressed = deflate(&stream.content, level).map_err(|e| RenderError::Write(e.to_string()))?;
        if compressed.len() < stream.content.len() {
            stream.dict.set("Filter", "FlateDecode");
            stream.set_content(compressed);
        }
    }
    Ok(())
}

/// `bytes` zlib-deflated at `level` (0–9).
fn deflate(bytes: &[u8], level: u32) -> std::io::Result<Vec<u8>> {
    use std::io::Write;

    let mut encoder =
        flate2::write::ZlibEncoder::new(Vec::with_capacity(bytes.len() / 2), flate2::Compression::new(level));
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// 16 bytes of SHA-256 over the document's JSON.
fn document_id(doc: &InvoiceDocument) -> Vec<u8> {
    let json = serde_json::to_vec(doc).unwrap_or_default();
    Sha256::digest(&json)[..16].to_vec()
}

/// "Tax Invoice" from "TAX INVOICE".
fn title_case(title: &str) -> String {
    title
        .split(' ')
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map(|c| c.to_string() + &chars.as_str().to_lowercase()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `Invoice-ECT-26-27-00001-20251103.pdf` (§7.10, §9.5: `/` becomes `-`), or `CreditNote-…` for
/// a credit note; the date is the document's date. Characters other than letters, digits, `-`
/// and `_` become `-`, so the name is safe in a `Content-Disposition` header.
pub fn file_name(doc: &InvoiceDocument) -> String {
    let prefix = match doc.kind {
        DocumentKind::CreditNote { .. } => "CreditNote",
        DocumentKind::TaxInvoice | DocumentKind::Invoice => "Invoice",
    };
    let number: String =
        doc.number.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    format!("{prefix}-{number}-{}.pdf", format::compact_date(doc.issued_on))
}

/// Money as integer paise in the snapshot.
mod paise {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::money::Money;

    pub fn serialize<S: Serializer>(value: &Money, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(value.paise())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
        i64::deserialize(deserializer).map(Money)
    }
}

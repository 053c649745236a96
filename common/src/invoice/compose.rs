//! What goes where: the invoice's blocks, from the letterhead to the footer, stacked on pages.

use super::fonts::{Face, Fonts};
use super::format::{inr, long_date, long_date_time_ist, rate};
use super::layout::{Block, CONTENT_WIDTH, Colour, FOOTER_BASELINE, LEFT, Pager, RIGHT, Style};
use super::{DocumentKind, InvoiceDocument, Line};
use crate::gst::amount_in_words;
use printpdf::Op;

const BRAND_NAME: Style = Style::new(Face::Bold, 22.0, Colour::BRAND);
const TAGLINE_TEXT: &str = "Your Complete Election Campaign Solution";
const TAGLINE: Style = Style::new(Face::Regular, 9.5, Colour::MUTED);
const DOC_TITLE: Style = Style::new(Face::Bold, 18.0, Colour::TEXT);
const HEADING: Style = Style::new(Face::Bold, 10.5, Colour::BRAND);
const BODY: Style = Style::new(Face::Regular, 9.0, Colour::TEXT);
const BODY_BOLD: Style = Style::new(Face::Bold, 9.0, Colour::TEXT);
const LABEL: Style = Style::new(Face::Regular, 9.0, Colour::MUTED);
const SMALL: Style = Style::new(Face::Regular, 8.0, Colour::MUTED);
const TH: Style = Style::new(Face::Bold, 7.5, Colour::TEXT);
const TD: Style = Style::new(Face::Regular, 8.0, Colour::TEXT);

/// Distance between body baselines.
const LEADING: f32 = 12.5;
/// Where the right-hand column of the two-column blocks starts.
const RIGHT_COLUMN: f32 = LEFT + 292.0;
/// Width of the left-hand column.
const LEFT_COLUMN_WIDTH: f32 = 272.0;

/// Table cell padding, line height, limits.
const PAD: f32 = 3.0;
const TH_LEADING: f32 = 9.0;
const TD_LEADING: f32 = 10.0;
const DESCRIPTION_MAX_LINES: usize = 3;
const ITEM_MIN_WIDTH: f32 = 120.0;
const MIN_AMOUNT_SIZE: f32 = 5.0;
/// Smallest size a long label/value value is set at.
const MIN_VALUE_SIZE: f32 = 6.5;

/// The pages' operations.
pub fn compose(fonts: &Fonts, doc: &InvoiceDocument) -> Vec<Vec<Op>> {
    let mut pager = Pager::new(continuation_header(fonts, doc));
    pager.place(&letterhead(fonts, doc));
    pager.place(&seller_and_details(fonts, doc));
    pager.gap(14.0);
    pager.place(&bill_to(fonts, doc));
    pager.gap(16.0);

    let table = Table::new(fonts, doc);
    let heading = heading_block("Order Items");
    let header = table.header(fonts);
    let rows: Vec<Block> = doc.lines.iter().map(|line| table.row(fonts, line)).collect();
    let first_row = rows.first().map_or(0.0, |r| r.height);
    pager.ensure(heading.height + header.height + first_row);
    pager.place(&heading);
    pager.place(&header);
    for row in &rows {
        if !pager.fits(row.height) {
            pager.new_page();
            pager.place(&header);
        }
        pager.place(row);
    }
    pager.gap(10.0);

    let summary = summary(fonts, doc, &table);
    pager.ensure(summary.height);
    pager.place(&summary);
    pager.gap(16.0);

    let payment = payment(fonts, doc);
    pager.ensure(payment.height);
    pager.place(&payment);
    pager.gap(18.0);

    let footer = footer(fonts, doc);
    pager.ensure(footer.height);
    pager.place(&footer);

    let pages = pager.page_count();
    for index in 0..pages {
        let block = page_footer(fonts, doc, index + 1, pages);
        pager.overlay(index, FOOTER_BASELINE, &block);
    }
    pager.into_ops()
}

/// "Election Cart", the tagline, the title and, for a credit note, the invoice it is against.
fn letterhead(fonts: &Fonts, doc: &InvoiceDocument) -> Block {
    let mut b = Block::new();
    b.text(LEFT, 20.0, BRAND_NAME, "Election Cart");
    b.text(LEFT, 35.0, TAGLINE, TAGLINE_TEXT);
    b.text_right(fonts, RIGHT, 20.0, DOC_TITLE, doc.title());
    let mut rule = 46.0;
    if let DocumentKind::CreditNote { original_number, original_date } = &doc.kind {
        // Beside the tagline when there is room, else on a line of its own.
        let against = format!("Against invoice {original_number} dated {}", long_date(*original_date));
        let beside = CONTENT_WIDTH - fonts.width(TAGLINE.face, TAGLINE.size, TAGLINE_TEXT) - 16.0;
        if fonts.width(BODY.face, BODY.size, &against) <= beside {
            b.text_right(fonts, RIGHT, 35.0, BODY, against);
        } else {
            b.text_right(fonts, RIGHT, 50.0, BODY, fonts.ellipsize(BODY.face, BODY.size, CONTENT_WIDTH, &against));
            rule += 15.0;
        }
    }
    b.rule(LEFT, RIGHT, rule, 1.2, Colour::BRAND);
    b.height = rule + 16.0;
    b
}

/// The seller (left) and the document's numbers and dates (right).
fn seller_and_details(fonts: &Fonts, doc: &InvoiceDocument) -> Block {
    let seller = &doc.seller;
    let mut left = Block::new();
    let name = BODY_BOLD.sized(10.5);
    let mut dy = 10.0 - LEADING;
    for line in fonts.wrap(name.face, name.size, LEFT_COLUMN_WIDTH, &seller.name, 2) {
        dy += LEADING;
        left.text(LEFT, dy, name, line);
    }
    for line in fonts.wrap(BODY.face, BODY.size, LEFT_COLUMN_WIDTH, &seller.address, 4) {
        dy += LEADING;
        left.text(LEFT, dy, BODY, line);
    }
    if let Some(gstin) = seller.gstin.as_deref().filter(|g| !g.is_empty()) {
        dy += LEADING;
        left.text(LEFT, dy, BODY, format!("GSTIN: {gstin}"));
    }
    if let Some(state) = state_line(&seller.state_name, &seller.state_code) {
        dy += LEADING;
        left.text(LEFT, dy, BODY, fonts.ellipsize(BODY.face, BODY.size, LEFT_COLUMN_WIDTH, &state));
    }
    left.height = dy + 4.0;

    let rows: Vec<(&str, String)> = match &doc.kind {
        DocumentKind::CreditNote { original_number, original_date } => vec![
            ("Credit Note Number", doc.number.clone()),
            ("Credit Note Date", long_date(doc.issued_on)),
            ("Original Invoice", original_number.clone()),
            ("Original Invoice Date", long_date(*original_date)),
            ("Order Number", doc.order_number.clone()),
            ("Order Date", long_date(doc.order_date)),
        ],
        DocumentKind::TaxInvoice | DocumentKind::Invoice => vec![
            ("Invoice Number", doc.number.clone()),
            ("Order Number", doc.order_number.clone()),
            ("Invoice Date", long_date(doc.issued_on)),
            ("Order Date", long_date(doc.order_date)),
        ],
    };
    let right = key_values(fonts, RIGHT_COLUMN, RIGHT, 10.0, &rows, true);

    let mut b = Block::new();
    b.append(left, 0.0);
    b.append(right, 0.0);
    b
}

/// "State: Karnataka, State Code: 29", or whichever half is known.
fn state_line(name: &str, code: &str) -> Option<String> {
    match (name.trim(), code.trim()) {
        ("", "") => None,
        (name, "") => Some(format!("State: {name}")),
        ("", code) => Some(format!("State Code: {code}")),
        (name, code) => Some(format!("State: {name}, State Code: {code}")),
    }
}

/// Label/value rows between `x` and `right`, the first baseline `dy`, values bold and
/// right-aligned (`values_right`) or regular after a fixed label column. A value too long for
/// its room is set smaller (down to [`MIN_VALUE_SIZE`]); a right-aligned one that still does not
/// fit gets a line of its own under the label, in the regular face; only then is it cut.
fn key_values(fonts: &Fonts, x: f32, right: f32, dy: f32, rows: &[(&str, String)], values_right: bool) -> Block {
    let mut b = Block::new();
    let mut dy = dy;
    let label_width = rows.iter().map(|(label, _)| fonts.width(LABEL.face, LABEL.size, label)).fold(0.0, f32::max);
    for (label, value) in rows {
        b.text(x, dy, LABEL, *label);
        if values_right {
            let room = right - x - fonts.width(LABEL.face, LABEL.size, label) - 10.0;
            let size = fonts.fit_size(BODY_BOLD.face, BODY_BOLD.size, MIN_VALUE_SIZE, room, value);
            if fonts.width(BODY_BOLD.face, size, value) <= room {
                b.text_right(fonts, right, dy, BODY_BOLD.sized(size), value.clone());
            } else {
                dy += LEADING;
                let room = right - x;
                let style = BODY.sized(fonts.fit_size(BODY.face, BODY.size, MIN_VALUE_SIZE, room, value));
                b.text_right(fonts, right, dy, style, fonts.ellipsize(style.face, style.size, room, value));
            }
        } else {
            let value_x = x + label_width + 12.0;
            let room = right - value_x;
            let style = BODY.sized(fonts.fit_size(BODY.face, BODY.size, MIN_VALUE_SIZE, room, value));
            b.text(value_x, dy, style, fonts.ellipsize(style.face, style.size, room, value));
        }
        dy += LEADING;
    }
    b.height = dy - LEADING + 4.0;
    b
}

/// A section heading.
fn heading_block(text: &str) -> Block {
    let mut b = Block::new();
    b.text(LEFT, 11.0, HEADING, text);
    b.height = 18.0;
    b
}

/// The buyer (left) and place of supply, email and phone (right).
fn bill_to(fonts: &Fonts, doc: &InvoiceDocument) -> Block {
    let buyer = &doc.buyer;
    let mut left = Block::new();
    left.text(LEFT, 11.0, HEADING, "Bill To");
    let name = BODY_BOLD.sized(10.0);
    let mut dy = 11.0 + 2.0;
    for line in fonts.wrap(name.face, name.size, LEFT_COLUMN_WIDTH, &buyer.name, 2) {
        dy += LEADING;
        left.text(LEFT, dy, name, line);
    }
    if let Some(gstin) = buyer.gstin.as_deref().filter(|g| !g.is_empty()) {
        dy += LEADING;
        left.text(LEFT, dy, BODY, format!("GSTIN: {gstin}"));
    }
    for line in fonts.wrap(BODY.face, BODY.size, LEFT_COLUMN_WIDTH, &buyer.address, 4) {
        dy += LEADING;
        left.text(LEFT, dy, BODY, line);
    }
    if let Some(state) = state_line(&buyer.state_name, &buyer.state_code) {
        dy += LEADING;
        left.text(LEFT, dy, BODY, fonts.ellipsize(BODY.face, BODY.size, LEFT_COLUMN_WIDTH, &state));
    }
    left.height = dy + 4.0;

    let or_na = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).unwrap_or("N/A").to_owned();
    let place = if buyer.place_of_supply.trim().is_empty() { "N/A".to_owned() } else { buyer.place_of_supply.clone() };
    let rows = [("Place of Supply", place), ("Email", or_na(&buyer.email)), ("Phone", or_na(&buyer.phone))];
    let right = key_values(fonts, RIGHT_COLUMN, RIGHT, 11.0 + 2.0 + LEADING, &rows, true);

    let mut b = Block::new();
    b.append(left, 0.0);
    b.append(right, 0.0);
    b
}

/// Left or right alignment of a table column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// What a column shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Item,
    Type,
    Hsn,
    Qty,
    UnitPrice,
    Taxable,
    Rate,
    Cgst,
    Sgst,
    Igst,
    Total,
}

impl Col {
    fn header(self, with_gst: bool) -> &'static str {
        match self {
            Col::Item => "Item",
            Col::Type => "Type",
            Col::Hsn => "HSN/SAC",
            Col::Qty if with_gst => "Qty",
            Col::Qty => "Quantity",
            Col::UnitPrice => "Unit Price",
            Col::Taxable => "Taxable Value",
            Col::Rate => "GST Rate",
            Col::Cgst => "CGST",
            Col::Sgst => "SGST",
            Col::Igst => "IGST",
            Col::Total if with_gst => "Total",
            Col::Total => "Subtotal",
        }
    }

    fn align(self) -> Align {
        match self {
            Col::Item | Col::Type | Col::Hsn => Align::Left,
            _ => Align::Right,
        }
    }

    /// The smallest size a cell is shrunk to before it is cut with "…": numbers and codes
    /// shrink further than words.
    fn min_size(self) -> f32 {
        match self {
            Col::Item | Col::Type => MIN_VALUE_SIZE,
            _ => MIN_AMOUNT_SIZE,
        }
    }

    /// Widest a text column may get before its content is cut.
    fn max_width(self) -> f32 {
        match self {
            Col::Type => 64.0,
            Col::Hsn => 56.0,
            _ => f32::MAX,
        }
    }

    fn cell(self, line: &Line) -> String {
        match self {
            Col::Item => line.description.clone(),
            Col::Type => line.item_type.clone(),
            Col::Hsn if line.hsn_sac.trim().is_empty() => "-".to_owned(),
            Col::Hsn => line.hsn_sac.clone(),
            Col::Qty => line.quantity.to_string(),
            Col::UnitPrice => inr(line.unit_price),
            Col::Taxable => inr(line.taxable),
            Col::Rate => rate(&line.gst_rate),
            Col::Cgst => inr(line.cgst),
            Col::Sgst => inr(line.sgst),
            Col::Igst => inr(line.igst),
            Col::Total => inr(line.total),
        }
    }
}

/// Which tax columns the document shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TaxColumns {
    gst: bool,
    split: bool,
    igst: bool,
}

impl TaxColumns {
    /// GST columns when the seller has a GSTIN or any tax was charged (or it is a tax invoice);
    /// CGST+SGST when any line has them, IGST when any line has it, and for a document without
    /// either (zero-rated) whichever the buyer's state calls for.
    fn of(doc: &InvoiceDocument) -> TaxColumns {
        let t = &doc.totals;
        let split = doc.lines.iter().any(|l| l.cgst.0 != 0 || l.sgst.0 != 0) || t.cgst.0 != 0 || t.sgst.0 != 0;
        let igst = doc.lines.iter().any(|l| l.igst.0 != 0) || t.igst.0 != 0;
        let gst = split
            || igst
            || t.tax.0 != 0
            || matches!(doc.kind, DocumentKind::TaxInvoice)
            || doc.seller.gstin.as_deref().is_some_and(|g| !g.is_empty());
        if split || igst {
            return TaxColumns { gst, split, igst };
        }
        let buyer = doc.buyer.state_code.trim();
        let intra = buyer.is_empty() || buyer == doc.seller.state_code.trim();
        TaxColumns { gst, split: intra, igst: !intra }
    }
}

/// The items table's columns and their widths.
struct Table {
    cols: Vec<(Col, f32)>,
    taxes: TaxColumns,
}

impl Table {
    fn new(fonts: &Fonts, doc: &InvoiceDocument) -> Table {
        let taxes = TaxColumns::of(doc);
        let mut kinds = vec![Col::Item, Col::Type];
        if taxes.gst {
            kinds.extend([Col::Hsn, Col::Qty, Col::UnitPrice, Col::Taxable, Col::Rate]);
            if taxes.split {
                kinds.extend([Col::Cgst, Col::Sgst]);
            }
            if taxes.igst {
                kinds.push(Col::Igst);
            }
        } else {
            kinds.extend([Col::Qty, Col::UnitPrice]);
        }
        kinds.push(Col::Total);

        // Every column but the item's as wide as its widest word of header or cell needs.
        let natural = |col: Col| -> f32 {
            let header = col.header(taxes.gst).split(' ').map(|w| fonts.width(TH.face, TH.size, w)).fold(0.0, f32::max);
            let cells = doc.lines.iter().map(|l| fonts.width(TD.face, TD.size, &col.cell(l))).fold(0.0, f32::max);
            header.max(cells).min(col.max_width()) + 2.0 * PAD
        };
        let mut cols: Vec<(Col, f32)> =
            kinds.iter().map(|&c| (c, if c == Col::Item { 0.0 } else { natural(c) })).collect();
        let others: f32 = cols.iter().map(|(_, w)| w).sum();
        let room = CONTENT_WIDTH - ITEM_MIN_WIDTH;
        if others > room {
            // Too wide: narrow the other columns alike; their amounts shrink to fit.
            for (_, w) in cols.iter_mut() {
                *w *= room / others;
            }
        }
        let others: f32 = cols.iter().map(|(_, w)| w).sum();
        if let Some((_, w)) = cols.iter_mut().find(|(c, _)| *c == Col::Item) {
            *w = CONTENT_WIDTH - others;
        }
        Table { cols, taxes }
    }

    /// Left edges of the columns.
    fn edges(&self) -> impl Iterator<Item = (Col, f32, f32)> + '_ {
        self.cols.iter().scan(LEFT, |x, &(col, w)| {
            let left = *x;
            *x += w;
            Some((col, left, w))
        })
    }

    /// The shaded header row; headers wrap onto two lines.
    fn header(&self, fonts: &Fonts) -> Block {
        // Words are never broken: a header word wider than its (narrowed) column is set smaller.
        let wrapped: Vec<(Col, f32, f32, Style, Vec<String>)> = self
            .edges()
            .map(|(col, x, w)| {
                let header = col.header(self.taxes.gst);
                let room = w - 2.0 * PAD;
                let widest = header.split(' ').map(|word| fonts.width(TH.face, TH.size, word)).fold(0.0, f32::max);
                let style = if widest > room { TH.sized((TH.size * room / widest).max(MIN_AMOUNT_SIZE)) } else { TH };
                (col, x, w, style, fonts.wrap(style.face, style.size, room, header, 2))
            })
            .collect();
        let lines = wrapped.iter().map(|(.., l)| l.len()).max().unwrap_or(1).max(1);
        let height = lines as f32 * TH_LEADING + 2.0 * PAD + 2.0;
        let mut b = Block::new();
        b.fill(LEFT, 0.0, CONTENT_WIDTH, height, Colour::SHADE);
        for (col, x, w, style, text) in wrapped {
            for (i, line) in text.into_iter().enumerate() {
                let dy = PAD + 7.0 + i as f32 * TH_LEADING;
                match col.align() {
                    Align::Left => b.text(x + PAD, dy, style, line),
                    Align::Right => b.text_right(fonts, x + w - PAD, dy, style, line),
                }
            }
        }
        b.rule(LEFT, RIGHT, height, 0.8, Colour::BRAND);
        b.height = height;
        b
    }

    /// One item's row: the description wraps, other texts are cut, amounts shrink to fit.
    fn row(&self, fonts: &Fonts, line: &Line) -> Block {
        let mut b = Block::new();
        let mut lines = 1;
        let first = PAD + 7.5;
        for (col, x, w) in self.edges() {
            let room = w - 2.0 * PAD;
            let text = col.cell(line);
            if col == Col::Item {
                let wrapped = fonts.wrap(TD.face, TD.size, room, &text, DESCRIPTION_MAX_LINES);
                lines = lines.max(wrapped.len());
                for (i, part) in wrapped.into_iter().enumerate() {
                    b.text(x + PAD, first + i as f32 * TD_LEADING, TD, part);
                }
            } else {
                let style = TD.sized(fonts.fit_size(TD.face, TD.size, col.min_size(), room, &text));
                let text = fonts.ellipsize(style.face, style.size, room, &text);
                match col.align() {
                    Align::Left => b.text(x + PAD, first, style, text),
                    Align::Right => b.text_right(fonts, x + w - PAD, first, style, text),
                }
            }
        }
        let height = lines as f32 * TD_LEADING + 2.0 * PAD + 1.0;
        b.rule(LEFT, RIGHT, height, 0.4, Colour::RULE);
        b.height = height;
        b
    }
}

/// Totals (right), then the amount in words and the reverse-charge line.
fn summary(fonts: &Fonts, doc: &InvoiceDocument, table: &Table) -> Block {
    let t = &doc.totals;
    let x = RIGHT - 250.0;
    let mut rows: Vec<(&str, String)> = Vec::new();
    if table.taxes.gst {
        rows.push(("Taxable Value", inr(t.taxable)));
        if table.taxes.split {
            rows.push(("CGST", inr(t.cgst)));
            rows.push(("SGST", inr(t.sgst)));
        }
        if table.taxes.igst {
            rows.push(("IGST", inr(t.igst)));
        }
        rows.push(("Total Tax", inr(t.tax)));
    }
    let mut b = Block::new();
    let mut dy = 0.0;
    for (label, value) in rows {
        dy += 14.0;
        b.text(x + 6.0, dy - 3.5, LABEL, label);
        let size = fonts.fit_size(BODY.face, BODY.size, MIN_AMOUNT_SIZE, 150.0, &value);
        b.text_right(fonts, RIGHT - 6.0, dy - 3.5, BODY.sized(size), value);
    }
    let total_label = if table.taxes.gst { "Grand Total" } else { "Total" };
    let total = inr(t.total);
    let total_style = BODY_BOLD.sized(10.5);
    b.fill(x, dy + 2.0, RIGHT - x, 18.0, Colour::SHADE);
    b.rule(x, RIGHT, dy + 2.0, 0.8, Colour::BRAND);
    dy += 2.0 + 13.0;
    b.text(x + 6.0, dy, total_style, total_label);
    let size = fonts.fit_size(total_style.face, total_style.size, MIN_AMOUNT_SIZE, 150.0, &total);
    b.text_right(fonts, RIGHT - 6.0, dy, total_style.sized(size), total);
    dy += 5.0 + 14.0;

    let words = format!("Amount in words: {}", amount_in_words(t.total));
    for line in fonts.wrap(BODY.face, BODY.size, CONTENT_WIDTH, &words, 3) {
        b.text(LEFT, dy, BODY, line);
        dy += LEADING;
    }
    if table.taxes.gst {
        b.text(LEFT, dy, BODY, "Reverse charge: No");
        dy += LEADING;
    }
    b.height = dy - LEADING + 4.0;
    b
}

/// Payment Information (§7.10): the payment's details, or without one the order status and
/// amount.
fn payment(fonts: &Fonts, doc: &InvoiceDocument) -> Block {
    let rows: Vec<(&str, String)> = match &doc.payment {
        Some(p) => {
            let transaction = if p.transaction_id.trim().is_empty() { "N/A" } else { p.transaction_id.trim() };
            let currency = if p.currency.trim().is_empty() { "INR" } else { p.currency.trim() };
            vec![
                ("Payment Method", p.method.clone()),
                ("Transaction ID", transaction.to_owned()),
                ("Payment Status", p.status_label.clone()),
                ("Payment Date", long_date_time_ist(p.paid_at)),
                ("Amount Paid", format!("{} {currency}", inr(p.amount))),
            ]
        }
        None => {
            let status = if doc.order_status_label.trim().is_empty() { "N/A" } else { doc.order_status_label.trim() };
            vec![("Payment Status", status.to_owned()), ("Amount", format!("{} INR", inr(doc.totals.total)))]
        }
    };
    let mut b = heading_block("Payment Information");
    let values = key_values(fonts, LEFT, RIGHT, 10.0, &rows, false);
    let top = b.height;
    b.append(values, top);
    b
}

/// The thanks and the computer-generated notice.
fn footer(fonts: &Fonts, doc: &InvoiceDocument) -> Block {
    let mut b = Block::new();
    let centre = LEFT + CONTENT_WIDTH / 2.0;
    b.rule(LEFT, RIGHT, 0.0, 0.6, Colour::RULE);
    b.text_centred(fonts, centre, 18.0, Style::new(Face::Bold, 11.0, Colour::BRAND), "Thank you for your business!");
    let what = if matches!(doc.kind, DocumentKind::CreditNote { .. }) { "credit note" } else { "invoice" };
    let notice = format!(
        "This is a computer-generated {what} and does not require a signature. For any queries, please contact us at {}",
        doc.support_email
    );
    let mut dy = 32.0;
    for line in fonts.wrap(SMALL.face, SMALL.size, CONTENT_WIDTH, &notice, 3) {
        b.text_centred(fonts, centre, dy, SMALL, line);
        dy += 10.5;
    }
    b.height = dy;
    b
}

/// The top of every page after the first.
fn continuation_header(fonts: &Fonts, doc: &InvoiceDocument) -> Block {
    let mut b = Block::new();
    b.text(LEFT, 12.0, Style::new(Face::Bold, 12.0, Colour::BRAND), "Election Cart");
    let title = format!("{} {} (continued)", doc.title(), doc.number);
    let title = fonts.ellipsize(BODY_BOLD.face, BODY_BOLD.size, CONTENT_WIDTH - 110.0, &title);
    b.text_right(fonts, RIGHT, 12.0, BODY_BOLD, title);
    b.rule(LEFT, RIGHT, 20.0, 0.8, Colour::BRAND);
    b.height = 32.0;
    b
}

/// The bottom line of page `n` of `m`: the document, and "Page n of m".
fn page_footer(fonts: &Fonts, doc: &InvoiceDocument, n: usize, m: usize) -> Block {
    let mut b = Block::new();
    let left =
        fonts.ellipsize(SMALL.face, SMALL.size, CONTENT_WIDTH - 100.0, &format!("{} {}", doc.title(), doc.number));
    b.text(LEFT, 0.0, SMALL, left);
    b.text_right(fonts, RIGHT, 0.0, SMALL, format!("Page {n} of {m}"));
    b
}

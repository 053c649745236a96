//! Issued invoices and credit notes: the snapshot frozen when the number is allocated, the stored
//! PDF, and what downloads and emails read.
//!
//! - [`issue`] runs in the transaction that first makes an order paid (checkout, webhook, sweep,
//!   a completing offline payment, `update-payment-status` to paid, a manual order created paid),
//!   right after the invoice number is allocated: it freezes the order's invoice content as an
//!   [`InvoiceDocument`] in the `invoice` row, enqueues [`RenderInvoice`] and the "payment
//!   received" email. Later changes to the order, the customer or the settings never reach an
//!   issued invoice: everything prints from the snapshot.
//! - [`refund_processed`] runs in the transaction that marks a refund processed: an invoiced
//!   order gets a credit note of its own gap-free series, the refunded value reversed line by
//!   line in proportion, and the refund email.
//! - [`store`] (the `invoices` worker) renders a snapshot, stores the PDF privately under a key
//!   derived from the invoice (a retry overwrites the same file) and records `invoice_document`.
//! - [`ensure_invoice`] gives orders paid before this release their snapshot on first download,
//!   with their existing number; [`pdf`] reads the stored PDF, or renders the snapshot when the
//!   worker has not stored it yet.

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Asia::Kolkata;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

use crate::config::Config;
use crate::gst::{self, StateCode};
use crate::invoice::{self, Buyer, DocumentKind, InvoiceDocument, Line, PaymentDetails, RenderError, Seller, Totals};
use crate::jobs::{self, RenderInvoice};
use crate::media::{Cloudinary, MediaError, PrivateFile};
use crate::money::Money;

/// The settings an invoice or credit note is issued with (borrowed from [`Config`]).
#[derive(Debug, Clone, Copy)]
pub struct InvoiceSettings<'a> {
    /// `INVOICE_PREFIX`.
    pub invoice_prefix: &'a str,
    /// `CREDIT_NOTE_PREFIX`.
    pub credit_note_prefix: &'a str,
    /// `SELLER_NAME`.
    pub seller_name: &'a str,
    /// `SELLER_ADDRESS`.
    pub seller_address: &'a str,
    /// `SELLER_GSTIN`.
    pub seller_gstin: Option<&'a str>,
    /// `SELLER_STATE_CODE`.
    pub seller_state_code: &'a str,
    /// `SUPPORT_EMAIL`.
    pub support_email: &'a str,
}

impl<'a> InvoiceSettings<'a> {
    /// The settings of `cfg`.
    pub fn of(cfg: &'a Config) -> Self {
        Self {
            invoice_prefix: &cfg.invoice_prefix,
            credit_note_prefix: &cfg.credit_note_prefix,
            seller_name: &cfg.seller_name,
            seller_address: &cfg.seller_address,
            seller_gstin: cfg.seller_gstin.as_deref().map(str::trim).filter(|g| !g.is_empty()),
            seller_state_code: &cfg.seller_state_code,
            support_email: &cfg.support_email,
        }
    }

    fn seller(&self) -> Seller {
        Seller {
            name: self.seller_name.to_owned(),
            address: self.seller_address.to_owned(),
            gstin: self.seller_gstin.map(str::to_owned),
            state_code: self.seller_state_code.to_owned(),
            state_name: state_name(self.seller_state_code),
        }
    }
}

/// Why a document could not be produced or stored.
#[derive(Debug, thiserror::Error)]
pub enum InvoiceError {
    /// PostgreSQL.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The snapshot does not decode (a bug or a hand-edited row).
    #[error("invoice snapshot: {0}")]
    Snapshot(#[from] serde_json::Error),
    /// The renderer failed.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// Writing or reading the stored file failed.
    #[error("invoice storage: {0}")]
    Storage(String),
    /// Cloudinary refused or could not be reached.
    #[error("invoice storage: {0}")]
    Cloudinary(#[from] MediaError),
}

impl InvoiceError {
    /// True when another attempt may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            InvoiceError::Database(_) | InvoiceError::Storage(_) => true,
            InvoiceError::Cloudinary(e) => matches!(e, MediaError::Transient(_)),
            InvoiceError::Snapshot(_) | InvoiceError::Render(_) => false,
        }
    }
}

/// `"Karnataka"` for `"29"`; empty when unknown or blank.
fn state_name(code: &str) -> String {
    StateCode::parse(code).map(|c| c.name().to_owned()).unwrap_or_default()
}

fn ist_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Kolkata).date_naive()
}

/// An order's columns the snapshot prints.
#[derive(sqlx::FromRow)]
struct OrderRow {
    order_number: String,
    status: String,
    created_at: DateTime<Utc>,
    total: i64,
    taxable: i64,
    cgst: i64,
    sgst: i64,
    igst: i64,
    tax: i64,
    billing_name: String,
    billing_gstin: Option<String>,
    billing_state_code: String,
    billing_address: String,
    place_of_supply: String,
    username: String,
    first_name: String,
    last_name: String,
    email: String,
    phone_number: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    product_type: String,
    product_name: Option<String>,
    hsn_sac: String,
    quantity: i64,
    price: i64,
    gst_rate: String,
    taxable: i64,
    tax: i64,
    cgst: i64,
    sgst: i64,
    igst: i64,
}

#[derive(sqlx::FromRow)]
struct HistoryRow {
    payment_method: String,
    transaction_id: String,
    status: String,
    payment_date: DateTime<Utc>,
    amount: i64,
    currency: String,
    invoice_number: String,
}

/// The columns of [`OrderRow`], of `orders o JOIN users u`.
const ORDER_ROW: &str = "o.order_number, o.status, o.created_at, (o.total_amount * 100)::bigint AS total,
    (o.taxable_amount * 100)::bigint AS taxable, (o.cgst_amount * 100)::bigint AS cgst,
    (o.sgst_amount * 100)::bigint AS sgst, (o.igst_amount * 100)::bigint AS igst,
    (o.tax_amount * 100)::bigint AS tax, o.billing_name, o.billing_gstin, o.billing_state_code,
    o.billing_address, o.place_of_supply,
    u.username, u.first_name, u.last_name, u.email, u.phone_number";

async fn order_row(conn: &mut PgConnection, order_id: i64) -> Result<Option<OrderRow>, sqlx::Error> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!("SELECT {ORDER_ROW} FROM orders o JOIN users u ON u.id = o.user_id WHERE o.id = $1")
    });
    sqlx::query_as(sqlx::AssertSqlSafe(SQL.as_str())).bind(order_id).fetch_optional(conn).await
}

/// The order row of an invoice about to be prepared, with what else [`prepare`] needs, in one
/// read: the order's invoice if it has one, an id reserved for a new one, and the customer's
/// address for the "payment received" email (`None`: inactive or no address).
#[derive(sqlx::FromRow)]
struct PrepareRow {
    #[sqlx(flatten)]
    order: OrderRow,
    existing_invoice: Option<i64>,
    reserved_id: i64,
    recipient_email: Option<String>,
    recipient_name: String,
}

async fn prepare_row(conn: &mut PgConnection, order_id: i64) -> Result<Option<PrepareRow>, sqlx::Error> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT {ORDER_ROW},
                    (SELECT id FROM invoice WHERE order_id = o.id AND kind = 'invoice') AS existing_invoice,
                    nextval(pg_get_serial_sequence('invoice', 'id')) AS reserved_id,
                    CASE WHEN u.is_active AND btrim(u.email) <> '' THEN btrim(u.email) END AS recipient_email,
                    {} AS recipient_name
             FROM orders o JOIN users u ON u.id = o.user_id WHERE o.id = $1",
            crate::notices::DISPLAY_NAME
        )
    });
    sqlx::query_as(sqlx::AssertSqlSafe(SQL.as_str())).bind(order_id).fetch_optional(conn).await
}

async fn item_rows(conn: &mut PgConnection, order_id: i64) -> Result<Vec<ItemRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT i.product_type,
                CASE WHEN i.product_type = 'package' THEN (SELECT name FROM package WHERE id = i.product_id)
                     ELSE (SELECT name FROM campaign WHERE id = i.product_id) END AS product_name,
                i.hsn_sac, i.quantity::bigint AS quantity, (i.price * 100)::bigint AS price, i.gst_rate::text AS gst_rate,
                (i.taxable_amount * 100)::bigint AS taxable, (i.tax_amount * 100)::bigint AS tax,
                (i.cgst_amount * 100)::bigint AS cgst, (i.sgst_amount * 100)::bigint AS sgst,
                (i.igst_amount * 100)::bigint AS igst
         FROM order_item i WHERE i.order_id = $1 ORDER BY i.id",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await
}

async fn history_row(conn: &mut PgConnection, order_id: i64) -> Result<Option<HistoryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT payment_method, transaction_id, status, payment_date, (amount * 100)::bigint AS amount, currency,
                invoice_number
         FROM payment_history WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_optional(conn)
    .await
}

/// The offline payments of an order: (latest method, latest reference, latest time, Σ paise).
async fn records_summary(
    conn: &mut PgConnection,
    order_id: i64,
) -> Result<Option<(String, String, DateTime<Utc>, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT (array_agg(payment_method ORDER BY recorded_at DESC, id DESC))[1],
                (array_agg(payment_reference ORDER BY recorded_at DESC, id DESC))[1],
                max(recorded_at), (sum(amount) * 100)::bigint
         FROM payment_record WHERE order_id = $1 HAVING count(*) > 0",
    )
    .bind(order_id)
    .fetch_optional(conn)
    .await
}

/// "Bank Transfer" for `bank_transfer`, "UPI" for `upi`.
fn method_label(method: &str) -> String {
    match method.to_ascii_lowercase().as_str() {
        "upi" => "UPI".to_owned(),
        "razorpay" => "Razorpay".to_owned(),
        "cod" => "Cash on Delivery".to_owned(),
        other => other
            .split(['_', ' '])
            .filter(|w| !w.is_empty())
            .map(|w| {
                let mut c = w.chars();
                c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn title_status(status: &str) -> String {
    crate::orders::OrderStatus::parse(status).map(|s| s.label().to_owned()).unwrap_or_else(|| method_label(status))
}

/// Builds the document of an order's invoice from its current rows: `number` and `issued_at`
/// given. Orders from before GST (no taxable value stored) print their lines without tax as an
/// "INVOICE".
async fn compose(
    conn: &mut PgConnection,
    order_id: i64,
    number: &str,
    issued_at: DateTime<Utc>,
    s: &InvoiceSettings<'_>,
    known_payment: Option<PaymentDetails>,
) -> Result<Option<InvoiceDocument>, sqlx::Error> {
    let Some(o) = order_row(conn, order_id).await? else { return Ok(None) };
    compose_with(conn, order_id, o, number, issued_at, s, known_payment).await.map(Some)
}

/// [`compose`] for an order row already read.
async fn compose_with(
    conn: &mut PgConnection,
    order_id: i64,
    o: OrderRow,
    number: &str,
    issued_at: DateTime<Utc>,
    s: &InvoiceSettings<'_>,
    known_payment: Option<PaymentDetails>,
) -> Result<InvoiceDocument, sqlx::Error> {
    let items = item_rows(conn, order_id).await?;
    let history = match known_payment {
        Some(_) => None,
        None => history_row(conn, order_id).await?,
    };
    let legacy_tax = o.taxable == 0 && o.tax == 0 && o.total > 0;
    let lines: Vec<Line> = items
        .into_iter()
        .map(|i| {
            let gross = i.price.saturating_mul(i.quantity);
            let (taxable, tax, cgst, sgst, igst) =
                if legacy_tax { (gross, 0, 0, 0, 0) } else { (i.taxable, i.tax, i.cgst, i.sgst, i.igst) };
            Line {
                description: i.product_name.unwrap_or_else(|| crate::orders::checklist::UNKNOWN_PRODUCT.to_owned()),
                item_type: if i.product_type == "package" { "Package".to_owned() } else { "Campaign".to_owned() },
                hsn_sac: i.hsn_sac,
                quantity: i.quantity,
                unit_price: Money(i.price),
                taxable: Money(taxable),
                gst_rate: if legacy_tax { "0.00".to_owned() } else { i.gst_rate },
                cgst: Money(cgst),
                sgst: Money(sgst),
                igst: Money(igst),
                total: Money(taxable + tax),
            }
        })
        .collect();
    let totals = if legacy_tax {
        Totals {
            taxable: Money(o.total),
            cgst: Money(0),
            sgst: Money(0),
            igst: Money(0),
            tax: Money(0),
            total: Money(o.total),
        }
    } else {
        Totals {
            taxable: Money(o.taxable),
            cgst: Money(o.cgst),
            sgst: Money(o.sgst),
            igst: Money(o.igst),
            tax: Money(o.tax),
            total: Money(o.total),
        }
    };
    let payment = match (known_payment, history) {
        (Some(known), _) => Some(known),
        (None, Some(h)) => Some(PaymentDetails {
            method: h.payment_method,
            transaction_id: h.transaction_id,
            status_label: title_status(&h.status),
            paid_at: h.payment_date.with_timezone(&Kolkata).fixed_offset(),
            amount: Money(h.amount),
            currency: h.currency,
        }),
        (None, None) => records_summary(conn, order_id).await?.map(|(method, reference, at, amount)| PaymentDetails {
            method: method_label(&method),
            transaction_id: reference,
            status_label: "Completed".to_owned(),
            paid_at: at.with_timezone(&Kolkata).fixed_offset(),
            amount: Money(amount),
            currency: "INR".to_owned(),
        }),
    };
    let full_name = format!("{} {}", o.first_name.trim(), o.last_name.trim()).trim().to_owned();
    let name = [o.billing_name.trim(), full_name.as_str(), o.username.as_str()]
        .into_iter()
        .find(|n| !n.is_empty())
        .unwrap_or_default()
        .to_owned();
    let buyer_state = state_name(&o.billing_state_code);
    let place_of_supply = if buyer_state.is_empty() {
        o.place_of_supply.clone()
    } else {
        format!("{buyer_state} ({})", o.billing_state_code)
    };
    let kind = if s.seller_gstin.is_some() && !legacy_tax && !number.starts_with("INV-") {
        DocumentKind::TaxInvoice
    } else {
        DocumentKind::Invoice
    };
    Ok(InvoiceDocument {
        kind,
        number: number.to_owned(),
        issued_on: ist_date(issued_at),
        order_number: o.order_number,
        order_date: ist_date(o.created_at),
        seller: s.seller(),
        buyer: Buyer {
            name,
            gstin: o.billing_gstin.filter(|g| !g.trim().is_empty()),
            address: o.billing_address,
            state_code: o.billing_state_code,
            state_name: buyer_state,
            place_of_supply,
            email: Some(o.email.trim().to_owned()).filter(|e| !e.is_empty()),
            phone: o.phone_number.filter(|p| !p.trim().is_empty()),
        },
        lines,
        totals,
        payment,
        order_status_label: title_status(&o.status),
        support_email: s.support_email.to_owned(),
    })
}

/// Inserts an invoice row unless the order has one; `Some(id)` when this call created it.
async fn insert_invoice(
    conn: &mut PgConnection,
    order_id: i64,
    doc: &InvoiceDocument,
    issued_at: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    let snapshot = serde_json::to_value(doc).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query_scalar(
        "INSERT INTO invoice (order_id, kind, number, amount, issued_at, snapshot)
         VALUES ($1, 'invoice', $2, $3::numeric / 100, $4, $5)
         ON CONFLICT (order_id) WHERE kind = 'invoice' DO NOTHING RETURNING id",
    )
    .bind(order_id)
    .bind(&doc.number)
    .bind(doc.totals.total.paise())
    .bind(issued_at)
    .bind(snapshot)
    .fetch_optional(conn)
    .await
}

/// Freezes the invoice of an order whose number was just allocated (in the caller's
/// transaction, the order row locked), enqueues its rendering and the "payment received"
/// email. Returns the invoice id; an order that already has its invoice keeps it.
pub async fn issue(conn: &mut PgConnection, order_id: i64, s: &InvoiceSettings<'_>) -> Result<i64, sqlx::Error> {
    if let Some(id) = invoice_id(conn, order_id).await? {
        return Ok(id);
    }
    let numbered: Option<(Option<String>, Option<DateTime<Utc>>)> =
        sqlx::query_as("SELECT invoice_number, invoice_date FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((Some(number), issued_at)) = numbered else {
        return Err(sqlx::Error::Protocol(format!("order {order_id} has no invoice number to issue")));
    };
    let issued_at = issued_at.unwrap_or_else(Utc::now);
    let Some(doc) = compose(conn, order_id, &number, issued_at, s, None).await? else {
        return Err(sqlx::Error::RowNotFound);
    };
    let Some(id) = insert_invoice(conn, order_id, &doc, issued_at).await? else {
        return invoice_id(conn, order_id).await?.ok_or(sqlx::Error::RowNotFound);
    };
    jobs::enqueue(conn, &RenderInvoice { invoice_id: id }, Some(&render_key(id))).await?;
    crate::notices::payment_received(conn, order_id, id).await?;
    tracing::info!(order_id, invoice_id = id, number = %doc.number, "invoice issued");
    Ok(id)
}

/// An invoice composed in the paying transaction before its number is allocated: the invoice
/// counter row is locked by the allocation until the commit, so everything that can be done
/// before it is ([`prepare`]); the invoice row and the email are written by the statement that
/// allocates the number ([`Prepared::rows`]).
#[derive(Debug)]
pub struct Prepared {
    invoice_id: i64,
    issued_at: DateTime<Utc>,
    doc: InvoiceDocument,
    email: Option<crate::notices::PaymentReceived>,
}

/// The payment block of an invoice paid by Razorpay payment `payment_id` of `amount` paise at
/// `at`: what its PaymentHistory row (method `Razorpay`, status `completed`) prints.
pub fn razorpay_payment(payment_id: &str, amount: i64, at: DateTime<Utc>) -> PaymentDetails {
    PaymentDetails {
        method: "Razorpay".to_owned(),
        transaction_id: payment_id.to_owned(),
        status_label: title_status("completed"),
        paid_at: at.with_timezone(&Kolkata).fixed_offset(),
        amount: Money(amount),
        currency: "INR".to_owned(),
    }
}

/// Composes the invoice of an order being paid now by `payment` (its PaymentHistory, written
/// with the number), with an id reserved for it, its rendering job and its email, in two reads.
/// `None` when the order already has its invoice.
pub async fn prepare(
    conn: &mut PgConnection,
    order_id: i64,
    issued_at: DateTime<Utc>,
    payment: PaymentDetails,
    s: &InvoiceSettings<'_>,
) -> Result<Option<Prepared>, sqlx::Error> {
    let Some(row) = prepare_row(conn, order_id).await? else {
        return Err(sqlx::Error::RowNotFound);
    };
    if row.existing_invoice.is_some() {
        return Ok(None);
    }
    let email = row.recipient_email.map(|email| {
        crate::notices::PaymentReceived::new(order_id, row.order.order_number.clone(), email, row.recipient_name)
    });
    let invoice_id = row.reserved_id;
    let doc = compose_with(conn, order_id, row.order, "", issued_at, s, Some(payment)).await?;
    Ok(Some(Prepared { invoice_id, issued_at, doc, email }))
}

/// What the statement allocating a [`Prepared`] invoice's number writes with it.
#[derive(Debug)]
pub struct PreparedRows {
    /// The reserved `invoice.id`.
    pub invoice_id: i64,
    /// The invoice's amount in paise.
    pub amount: i64,
    /// Its date.
    pub issued_at: DateTime<Utc>,
    /// `invoice.snapshot` with an empty `number`, which the statement sets.
    pub snapshot: serde_json::Value,
    /// The jobs to write with the invoice: its rendering, and the "payment received" email
    /// (unless the customer has no address) whose empty `context.invoice_number` the statement
    /// sets (`true` beside it).
    pub jobs: Vec<(jobs::OutboxRow, bool)>,
}

impl Prepared {
    /// Its rows, for a number of the series `series` (`ECT/26-27/`): the statement that
    /// allocates the number writes them under it, while the counter row is locked.
    pub fn rows(self, series: &str) -> Result<PreparedRows, sqlx::Error> {
        let Prepared { invoice_id, issued_at, mut doc, email } = self;
        if series.starts_with("INV-") {
            doc.kind = DocumentKind::Invoice;
        }
        let amount = doc.totals.total;
        let snapshot = serde_json::to_value(&doc).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let mut jobs =
            vec![(jobs::OutboxRow::of(&RenderInvoice { invoice_id }, Some(&render_key(invoice_id)))?, false)];
        if let Some(email) = email {
            jobs.push((email.job(invoice_id, "", amount)?, true));
        }
        Ok(PreparedRows { invoice_id, amount: amount.paise(), issued_at, snapshot, jobs })
    }
}

fn render_key(invoice_id: i64) -> String {
    format!("render_invoice:{invoice_id}")
}

/// The order's invoice id, if issued.
pub async fn invoice_id(conn: &mut PgConnection, order_id: i64) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM invoice WHERE order_id = $1 AND kind = 'invoice'")
        .bind(order_id)
        .fetch_optional(conn)
        .await
}

/// Whether an order can have an invoice: it was paid (a payment completed it, it has a number
/// or a PaymentHistory) or its invoice is already issued.
pub async fn invoiceable(pool: &PgPool, order_id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT o.payment_completed_at IS NOT NULL OR o.invoice_number IS NOT NULL
                OR EXISTS (SELECT 1 FROM payment_history h WHERE h.order_id = o.id)
                OR EXISTS (SELECT 1 FROM invoice i WHERE i.order_id = o.id AND i.kind = 'invoice')
         FROM orders o WHERE o.id = $1",
    )
    .bind(order_id)
    .fetch_optional(pool)
    .await
    .map(|v| v.unwrap_or(false))
}

/// The invoice of an invoiceable order, issuing it now for an order paid before this release
/// (with its existing number: the PaymentHistory's `INV-…`, else the order's, else
/// `INV-<order number>`; dated at the payment, else now). `None` when the order is not
/// invoiceable.
pub async fn ensure_invoice(
    pool: &PgPool,
    order_id: i64,
    s: &InvoiceSettings<'_>,
    now: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    if let Some(id) = invoice_id(&mut conn, order_id).await? {
        return Ok(Some(id));
    }
    drop(conn);
    if !invoiceable(pool, order_id).await? {
        return Ok(None);
    }
    let mut tx = crate::db::begin(pool).await?;
    let id = legacy_issue(&mut tx, order_id, s, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// Issues the snapshot of an order paid before this release; no email (the customer was told
/// then).
async fn legacy_issue(
    conn: &mut PgConnection,
    order_id: i64,
    s: &InvoiceSettings<'_>,
    now: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    type Row = (String, Option<String>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT order_number, invoice_number, invoice_date, payment_completed_at FROM orders WHERE id = $1 FOR UPDATE",
    )
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((order_number, order_invoice, invoice_date, completed_at)) = row else { return Ok(None) };
    if let Some(id) = invoice_id(conn, order_id).await? {
        return Ok(Some(id));
    }
    let history = history_row(conn, order_id).await?;
    let number = history
        .as_ref()
        .map(|h| h.invoice_number.clone())
        .filter(|n| !n.trim().is_empty())
        .or(order_invoice)
        .unwrap_or_else(|| format!("INV-{order_number}"));
    let issued_at = history.as_ref().map(|h| h.payment_date).or(invoice_date).or(completed_at).unwrap_or(now);
    let Some(doc) = compose(conn, order_id, &number, issued_at, s, None).await? else { return Ok(None) };
    let id = match insert_invoice(conn, order_id, &doc, issued_at).await? {
        Some(id) => id,
        None => return invoice_id(conn, order_id).await,
    };
    jobs::enqueue(conn, &RenderInvoice { invoice_id: id }, Some(&render_key(id))).await?;
    tracing::info!(order_id, invoice_id = id, number = %doc.number, "invoice snapshot made for an order paid before");
    Ok(Some(id))
}

/// A credit note as listed on the admin order detail.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CreditNoteRow {
    /// `invoice.id`.
    pub id: i64,
    /// `CN/26-27/00001`.
    pub number: String,
    /// Paise.
    pub amount: i64,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// The refund it reverses.
    pub refund_id: i64,
}

/// The order's credit notes, oldest first.
pub async fn credit_notes(conn: &mut PgConnection, order_id: i64) -> Result<Vec<CreditNoteRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, number, (amount * 100)::bigint AS amount, issued_at AS created_at, refund_id FROM invoice
         WHERE order_id = $1 AND kind = 'credit_note' ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(conn)
    .await
}

/// Splits `amount` over `weights` in proportion, half-up, the rounding remainder given to the
/// largest weights first, so the parts sum to `amount` exactly.
pub fn apportion(amount: i64, weights: &[i64]) -> Vec<i64> {
    let total: i128 = weights.iter().map(|&w| i128::from(w.max(0))).sum();
    if total == 0 {
        let mut out = vec![0; weights.len()];
        if let Some(first) = out.first_mut() {
            *first = amount;
        }
        return out;
    }
    let mut parts: Vec<i64> = weights
        .iter()
        .map(|&w| i64::try_from(i128::from(amount) * i128::from(w.max(0)) / total).unwrap_or(0))
        .collect();
    let mut left = amount - parts.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // Largest fractional remainder first; ties to the larger weight, then the earlier line.
    order.sort_by_key(|&i| {
        let rem = (i128::from(amount) * i128::from(weights[i].max(0))) % total;
        (std::cmp::Reverse(rem), std::cmp::Reverse(weights[i]), i)
    });
    for &i in order.iter().cycle().take(weights.len() * 2) {
        if left == 0 {
            break;
        }
        if weights[i] > 0 || total == 0 {
            parts[i] += left.signum();
            left -= left.signum();
        }
    }
    parts
}

/// The lines of a credit note for `amount` (paise) of an invoice whose lines are `lines`: each
/// line's total in proportion to the invoice's, its taxable value and tax in the line's own
/// proportion, CGST/SGST or IGST as the line had them. The lines sum to `amount`.
pub fn credit_lines(lines: &[Line], amount: i64) -> Vec<Line> {
    let weights: Vec<i64> = lines.iter().map(|l| l.total.paise()).collect();
    let shares = apportion(amount, &weights);
    lines
        .iter()
        .zip(shares)
        .map(|(line, share)| {
            let full = line.total.paise();
            let taxable = if full == 0 {
                share
            } else {
                i64::try_from(gst::half_up_div(i128::from(share) * i128::from(line.taxable.paise()), i128::from(full)))
                    .unwrap_or(share)
            };
            let tax = share - taxable;
            let intra = line.igst.paise() == 0 && (line.cgst.paise() > 0 || line.sgst.paise() > 0);
            let (cgst, sgst, igst) = if intra {
                let c = i64::try_from(gst::half_up_div(i128::from(tax), 2)).unwrap_or(0);
                (c, tax - c, 0)
            } else {
                (0, 0, tax)
            };
            let quantity = line.quantity.max(1);
            Line {
                description: line.description.clone(),
                item_type: line.item_type.clone(),
                hsn_sac: line.hsn_sac.clone(),
                quantity: line.quantity,
                unit_price: Money(
                    i64::try_from(gst::half_up_div(i128::from(taxable), i128::from(quantity))).unwrap_or(0),
                ),
                taxable: Money(taxable),
                gst_rate: line.gst_rate.clone(),
                cgst: Money(cgst),
                sgst: Money(sgst),
                igst: Money(igst),
                total: Money(share),
            }
        })
        .collect()
}

fn totals_of(lines: &[Line]) -> Totals {
    let sum = |f: fn(&Line) -> Money| Money(lines.iter().map(|l| f(l).paise()).sum());
    let cgst = sum(|l| l.cgst);
    let sgst = sum(|l| l.sgst);
    let igst = sum(|l| l.igst);
    Totals {
        taxable: sum(|l| l.taxable),
        cgst,
        sgst,
        igst,
        tax: Money(cgst.paise() + sgst.paise() + igst.paise()),
        total: sum(|l| l.total),
    }
}

/// A processed refund: issues its credit note when the order is invoiced (and the refunded
/// payment is not one recorded as an issue, which never had an invoice) and queues the refund
/// email with the credit note attached. In the transaction that marks the refund processed.
pub async fn refund_processed(
    conn: &mut PgConnection,
    refund_id: i64,
    s: &InvoiceSettings<'_>,
    now: DateTime<Utc>,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    let note = credit_note(conn, refund_id, s, now).await?;
    crate::notices::refund_processed(conn, refund_id, note.clone()).await?;
    Ok(note)
}

async fn credit_note(
    conn: &mut PgConnection,
    refund_id: i64,
    s: &InvoiceSettings<'_>,
    now: DateTime<Utc>,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    type RefundRow = (i64, i64, String, Option<String>, Option<String>, Option<DateTime<Utc>>);
    let refund: Option<RefundRow> = sqlx::query_as(
        "SELECT order_id, (amount * 100)::bigint, method, razorpay_payment_id, razorpay_refund_id, processed_at
         FROM refund WHERE id = $1 AND status = 'processed'",
    )
    .bind(refund_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((order_id, amount, method, payment_id, rzp_refund_id, processed_at)) = refund else {
        return Ok(None);
    };
    if let Some(existing) = sqlx::query_as::<_, (i64, String)>("SELECT id, number FROM invoice WHERE refund_id = $1")
        .bind(refund_id)
        .fetch_optional(&mut *conn)
        .await?
    {
        return Ok(Some(existing));
    }
    if let Some(payment_id) = &payment_id {
        let issue: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM payment_issue WHERE razorpay_payment_id = $1)")
                .bind(payment_id)
                .fetch_one(&mut *conn)
                .await?;
        if issue {
            return Ok(None);
        }
    }
    // The order row orders concurrent refunds of one order (the caller usually holds it already).
    let numbered: Option<Option<String>> =
        sqlx::query_scalar("SELECT invoice_number FROM orders WHERE id = $1 FOR UPDATE")
            .bind(order_id)
            .fetch_optional(&mut *conn)
            .await?;
    let invoice = match invoice_id(conn, order_id).await? {
        Some(id) => Some(id),
        None if matches!(numbered, Some(Some(_))) => legacy_issue(conn, order_id, s, now).await?,
        None => None,
    };
    let Some(invoice) = invoice else { return Ok(None) };
    let (snapshot, invoice_amount): (serde_json::Value, i64) =
        sqlx::query_as("SELECT snapshot, (amount * 100)::bigint FROM invoice WHERE id = $1")
            .bind(invoice)
            .fetch_one(&mut *conn)
            .await?;
    let original: InvoiceDocument = serde_json::from_value(snapshot).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let credited: i64 = sqlx::query_scalar(
        "SELECT (COALESCE(SUM(amount), 0) * 100)::bigint FROM invoice WHERE order_id = $1 AND kind = 'credit_note'",
    )
    .bind(order_id)
    .fetch_one(&mut *conn)
    .await?;
    let value = amount.min(invoice_amount - credited);
    if value <= 0 {
        return Ok(None);
    }
    let issued_at = processed_at.unwrap_or(now);
    let number =
        super::payments::allocate_number(conn, super::payments::Series::CreditNote, s.credit_note_prefix, issued_at)
            .await?;
    let lines = credit_lines(&original.lines, value);
    let doc = InvoiceDocument {
        kind: DocumentKind::CreditNote { original_number: original.number.clone(), original_date: original.issued_on },
        number: number.clone(),
        issued_on: ist_date(issued_at),
        totals: totals_of(&lines),
        lines,
        payment: Some(PaymentDetails {
            method: if method == "razorpay" { "Refund via Razorpay".to_owned() } else { "Refund (offline)".to_owned() },
            transaction_id: rzp_refund_id.unwrap_or_default(),
            status_label: "Processed".to_owned(),
            paid_at: issued_at.with_timezone(&Kolkata).fixed_offset(),
            amount: Money(value),
            currency: "INR".to_owned(),
        }),
        ..original
    };
    let snapshot = serde_json::to_value(&doc).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO invoice (order_id, kind, number, refund_id, amount, issued_at, snapshot)
         VALUES ($1, 'credit_note', $2, $3, $4::numeric / 100, $5, $6) RETURNING id",
    )
    .bind(order_id)
    .bind(&number)
    .bind(refund_id)
    .bind(value)
    .bind(issued_at)
    .bind(snapshot)
    .fetch_one(&mut *conn)
    .await?;
    jobs::enqueue(conn, &RenderInvoice { invoice_id: id }, Some(&render_key(id))).await?;
    tracing::info!(order_id, refund_id, credit_note = %number, amount = value, "credit note issued");
    Ok(Some((id, number)))
}

/// An issued document's snapshot and what is stored of it.
#[derive(Debug, Clone)]
pub struct Issued {
    /// `invoice.id`.
    pub id: i64,
    /// The order.
    pub order_id: i64,
    /// `invoice` or `credit_note`.
    pub kind: String,
    /// The frozen content.
    pub document: InvoiceDocument,
    /// The stored PDF, once the worker recorded it: (storage key, sha256).
    pub stored: Option<(String, String)>,
}

/// Loads an issued document.
pub async fn load(conn: &mut PgConnection, invoice_id: i64) -> Result<Option<Issued>, InvoiceError> {
    type Row = (i64, i64, String, serde_json::Value, Option<String>, Option<String>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT i.id, i.order_id, i.kind, i.snapshot, d.storage_key, d.sha256
         FROM invoice i LEFT JOIN invoice_document d ON d.invoice_id = i.id WHERE i.id = $1",
    )
    .bind(invoice_id)
    .fetch_optional(conn)
    .await?;
    let Some((id, order_id, kind, snapshot, key, sha)) = row else { return Ok(None) };
    Ok(Some(Issued { id, order_id, kind, document: serde_json::from_value(snapshot)?, stored: key.zip(sha) }))
}

/// Renders a document on a blocking thread (CPU-bound, about 0.6 ms), at most one per core at a
/// time in the process: more would not finish sooner, only hold more threads and memory (the
/// `invoices` queue runs `INVOICE_WORKER_CONCURRENCY` jobs at once).
pub async fn render_blocking(doc: InvoiceDocument) -> Result<Vec<u8>, InvoiceError> {
    static RENDERS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map(usize::from).unwrap_or(2))
    });
    let _render = RENDERS.acquire().await.map_err(|e| InvoiceError::Storage(format!("render slot: {e}")))?;
    tokio::task::spawn_blocking(move || invoice::render(&doc))
        .await
        .map_err(|e| InvoiceError::Storage(format!("render task: {e}")))?
        .map_err(InvoiceError::from)
}

/// The PDF of an issued document and its file name: the stored file when it is on local disk
/// and intact, else rendered from the snapshot (the same bytes). `None` for an unknown id.
pub async fn pdf(pool: &PgPool, media_dir: &Path, invoice_id: i64) -> Result<Option<(String, Vec<u8>)>, InvoiceError> {
    let mut conn = pool.acquire().await?;
    let Some(issued) = load(&mut conn, invoice_id).await? else { return Ok(None) };
    drop(conn);
    let name = invoice::file_name(&issued.document);
    if let Some((key, sha)) = &issued.stored
        && let Some(PrivateFile::Local(rel)) = PrivateFile::parse(key)
        && let Some(path) = crate::media::resolve_media_path(media_dir, &rel)
        && let Ok(bytes) = tokio::fs::read(&path).await
    {
        if hex::encode(Sha256::digest(&bytes)) == *sha {
            return Ok(Some((name, bytes)));
        }
        tracing::error!(invoice_id, path = %path.display(), "stored invoice does not match its sha256; rendering");
    }
    Ok(Some((name, render_blocking(issued.document).await?)))
}

/// The storage key of a document: derived from the invoice only, so a retried store
/// overwrites the same file.
pub fn storage_path(issued: &Issued) -> String {
    let stem: String =
        issued.document.number.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
    format!("{}/order{}-{}-{stem}.pdf", crate::media::INVOICES_DIR, issued.order_id, issued.id)
}

/// What [`store`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Rendered, stored and recorded now.
    Recorded {
        /// Storage key.
        key: String,
        /// Size.
        bytes: usize,
    },
    /// Already recorded: nothing stored.
    AlreadyRecorded,
    /// No such invoice.
    Missing,
}

/// Renders an issued document, stores it privately (Cloudinary `raw`, `authenticated`, when
/// configured, else `MEDIA_DIR/private/invoices/…`) and records `invoice_document`. No
/// connection is held while rendering or uploading.
pub async fn store(
    pool: &PgPool,
    media_dir: &Path,
    cloudinary: Option<&Cloudinary>,
    invoice_id: i64,
    now: DateTime<Utc>,
) -> Result<Stored, InvoiceError> {
    let mut conn = pool.acquire().await?;
    let Some(issued) = load(&mut conn, invoice_id).await? else { return Ok(Stored::Missing) };
    drop(conn);
    if issued.stored.is_some() {
        return Ok(Stored::AlreadyRecorded);
    }
    let bytes = render_blocking(issued.document.clone()).await?;
    let key = put(media_dir, cloudinary, &issued, bytes.clone()).await?;
    record(pool, &issued, &key, &bytes, now).await?;
    Ok(Stored::Recorded { key, bytes: bytes.len() })
}

/// Stores the bytes under the document's key; returns the storage key.
pub async fn put(
    media_dir: &Path,
    cloudinary: Option<&Cloudinary>,
    issued: &Issued,
    bytes: Vec<u8>,
) -> Result<String, InvoiceError> {
    let rel = storage_path(issued);
    if let Some(cloud) = cloudinary {
        let name = invoice::file_name(&issued.document);
        let public_id = rel.trim_start_matches("private/");
        let file = cloud.upload_private("raw", bytes, &name, public_id).await?;
        return Ok(file.key());
    }
    let path = crate::media::resolve_media_path(media_dir, &rel)
        .ok_or_else(|| InvoiceError::Storage(format!("bad invoice path {rel}")))?;
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(|e| InvoiceError::Storage(e.to_string()))?;
    }
    let tmp = path.with_extension("pdf.tmp");
    tokio::fs::write(&tmp, &bytes).await.map_err(|e| InvoiceError::Storage(e.to_string()))?;
    tokio::fs::rename(&tmp, &path).await.map_err(|e| InvoiceError::Storage(e.to_string()))?;
    Ok(PrivateFile::Local(rel).key())
}

/// Records a stored document (once: a second record is ignored).
pub async fn record(
    pool: &PgPool,
    issued: &Issued,
    key: &str,
    bytes: &[u8],
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO invoice_document (invoice_id, order_id, number, storage_key, sha256, bytes, rendered_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (invoice_id) DO NOTHING",
    )
    .bind(issued.id)
    .bind(issued.order_id)
    .bind(&issued.document.number)
    .bind(key)
    .bind(hex::encode(Sha256::digest(bytes)))
    .bind(i32::try_from(bytes.len()).unwrap_or(i32::MAX))
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_sums_exactly_and_follows_the_weights() {
        assert_eq!(apportion(100, &[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(apportion(0, &[5, 7]), vec![0, 0]);
        assert_eq!(apportion(1000, &[250, 750]), vec![250, 750]);
        let parts = apportion(123_457, &[499_900, 2_500_000, 1_050_000]);
        assert_eq!(parts.iter().sum::<i64>(), 123_457);
        assert_eq!(apportion(10, &[0, 0]), vec![10, 0]);
    }

    fn line(total: i64, taxable: i64, intra: bool) -> Line {
        let tax = total - taxable;
        let (c, s, i) = if intra { (tax / 2, tax - tax / 2, 0) } else { (0, 0, tax) };
        Line {
            description: "x".into(),
            item_type: "Package".into(),
            hsn_sac: "998361".into(),
            quantity: 2,
            unit_price: Money(total / 2),
            taxable: Money(taxable),
            gst_rate: "18.00".into(),
            cgst: Money(c),
            sgst: Money(s),
            igst: Money(i),
            total: Money(total),
        }
    }

    #[test]
    fn credit_lines_reverse_taxable_and_tax_in_proportion() {
        let lines = vec![line(118_000, 100_000, true), line(59_000, 50_000, true)];
        let cn = credit_lines(&lines, 88_500);
        assert_eq!(cn.iter().map(|l| l.total.paise()).sum::<i64>(), 88_500);
        assert_eq!(cn[0].total.paise(), 59_000);
        assert_eq!(cn[0].taxable.paise(), 50_000);
        assert_eq!(cn[0].cgst.paise() + cn[0].sgst.paise(), 9_000);
        assert_eq!(cn[1].taxable.paise(), 25_000);
        for l in &cn {
            assert_eq!(l.taxable.paise() + l.cgst.paise() + l.sgst.paise() + l.igst.paise(), l.total.paise());
            assert_eq!(l.igst.paise(), 0);
        }
        let inter = credit_lines(&[line(118_000, 100_000, false)], 118_000);
        assert_eq!((inter[0].taxable.paise(), inter[0].igst.paise()), (100_000, 18_000));
        let t = totals_of(&cn);
        assert_eq!(t.total.paise(), 88_500);
        assert_eq!(t.taxable.paise() + t.tax.paise(), t.total.paise());
    }

    #[test]
    fn method_labels() {
        assert_eq!(method_label("bank_transfer"), "Bank Transfer");
        assert_eq!(method_label("upi"), "UPI");
        assert_eq!(method_label("cash"), "Cash");
    }
}

//! `orders/create/`: the order, its lines with GST, and the Razorpay order, made together.
//!
//! The Razorpay order is created first, with the order number reserved as its receipt and no
//! database connection held; then one short transaction writes the order with its Razorpay id and
//! empties the cart ([`from_cart`]). If Razorpay fails nothing is written, so no order is left
//! behind and the cart is kept. If the commit fails after Razorpay answered, the Razorpay order
//! is orphaned but harmless (nobody knows its id, so it is never paid).

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{AssertSqlSafe, PgPool};

use super::billing::Billing;
use super::{Actor, OrderStatus};
use crate::catalog::ProductType;
use crate::gst::{self, LineTax, Rate, StateCode};
use crate::jobs::Doorbell;
use crate::money::Money;
use crate::razorpay::{Razorpay, RazorpayError};

/// Razorpay's smallest order: ₹1.00.
pub const MIN_ONLINE_AMOUNT: i64 = 100;

/// Tax settings of the deployment.
#[derive(Debug, Clone)]
pub struct TaxSettings {
    /// `PRICES_INCLUDE_GST`.
    pub prices_include_gst: bool,
    /// `SELLER_STATE_CODE`.
    pub seller_state: StateCode,
}

/// Why no order was made.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The user has no cart.
    #[error("cart not found")]
    CartNotFound,
    /// The cart has no lines of existing products.
    #[error("cart is empty")]
    CartEmpty,
    /// Below Razorpay's minimum.
    #[error("order total below the online minimum")]
    BelowMinimum,
    /// Razorpay failed; nothing was kept.
    #[error(transparent)]
    Provider(#[from] RazorpayError),
    /// A product's stored GST rate does not parse (the schema's check should prevent it).
    #[error("bad stored GST rate: {0}")]
    BadRate(#[from] gst::GstError),
    /// The cart kept changing while the order was being made.
    #[error("cart changed during checkout")]
    CartChanged,
    /// Database failure.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A made order.
#[derive(Debug, Clone)]
pub struct Created {
    /// Order id.
    pub order_id: i64,
    /// `""` when Razorpay is not configured.
    pub razorpay_order_id: String,
    /// Total in paise.
    pub amount: i64,
}

/// One priced line.
#[derive(Debug, Clone)]
pub struct PricedLine {
    /// Product type.
    pub kind: ProductType,
    /// Product id.
    pub product_id: i64,
    /// Quantity.
    pub quantity: i32,
    /// Unit price.
    pub price: Money,
    /// HSN/SAC.
    pub hsn_sac: String,
    /// GST rate.
    pub rate: Rate,
    /// Its tax.
    pub tax: LineTax,
}

/// Order totals: Σ of the lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Σ gross = Σ taxable + Σ tax.
    pub total: i64,
    /// Σ taxable.
    pub taxable: i64,
    /// Σ CGST.
    pub cgst: i64,
    /// Σ SGST.
    pub sgst: i64,
    /// Σ IGST.
    pub igst: i64,
    /// Σ tax.
    pub tax: i64,
}

/// Sums the lines.
pub fn totals(lines: &[PricedLine]) -> Totals {
    lines.iter().fold(Totals::default(), |t, l| Totals {
        total: t.total + l.tax.taxable.0 + l.tax.tax.0,
        taxable: t.taxable + l.tax.taxable.0,
        cgst: t.cgst + l.tax.cgst.0,
        sgst: t.sgst + l.tax.sgst.0,
        igst: t.igst + l.tax.igst.0,
        tax: t.tax + l.tax.tax.0,
    })
}

/// Prices a line with its product's stored GST rate.
#[allow(clippy::too_many_arguments)]
pub fn price_line(
    kind: ProductType,
    product_id: i64,
    quantity: i32,
    price: Money,
    hsn_sac: String,
    rate: &str,
    include_gst: bool,
    intra_state: bool,
) -> Result<PricedLine, gst::GstError> {
    let rate = Rate::parse(rate)?;
    let tax = gst::line_tax(price, i64::from(quantity), rate, include_gst, intra_state);
    Ok(PricedLine { kind, product_id, quantity, price, hsn_sac, rate, tax })
}

/// A new order number: `EC-YYYYMMDD-` + 8 upper-case hex digits (the date in Asia/Kolkata).
pub fn new_order_number(now: DateTime<Utc>) -> String {
    let day = now.with_timezone(&chrono_tz::Asia::Kolkata).format("%Y%m%d");
    let hex = uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase();
    format!("EC-{day}-{hex}")
}

/// Writes the order (status, totals, billing), its lines, its first status-history row and the
/// customer's "order placed" email with the dispatcher's wake-up in one statement; returns the
/// order id.
#[allow(clippy::too_many_arguments)]
pub async fn insert_order(
    conn: &mut sqlx::PgConnection,
    user_id: i64,
    order_number: &str,
    status: OrderStatus,
    billing: &Billing,
    lines: &[PricedLine],
    actor: Actor,
    reason: &str,
) -> Result<i64, sqlx::Error> {
    Ok(insert_order_with(conn, user_id, order_number, status, billing, lines, actor, reason, "", None).await?.0)
}

/// Where a checkout's order comes from: its cart (emptied by the statement writing the order)
/// and the `Idempotency-Key` row that gets the order's id.
#[derive(Debug, Clone, Copy)]
struct Source {
    cart_id: i64,
    idempotency_slot: Option<i64>,
}

/// [`insert_order`] with the Razorpay order id already known (`""`: none), and for a checkout
/// its [`Source`]; returns the order id and the number of jobs written.
#[allow(clippy::too_many_arguments)]
async fn insert_order_with(
    conn: &mut sqlx::PgConnection,
    user_id: i64,
    order_number: &str,
    status: OrderStatus,
    billing: &Billing,
    lines: &[PricedLine],
    actor: Actor,
    reason: &str,
    razorpay_order_id: &str,
    source: Option<Source>,
) -> Result<(i64, i64), sqlx::Error> {
    // One round trip: the order, its lines (in cart order: `ORDINALITY` keeps ids ascending),
    // the history row that opens its timeline, the "order placed" email, and for a checkout the
    // emptied cart and the idempotency key's order. The dispatcher's wake-up: a checkout's
    // caller rings the doorbell after the commit (`jobs::doorbell`: a notifying commit is
    // serialized with every other one); an order written by staff notifies here, once per
    // written job.
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH o AS (
                 INSERT INTO orders (user_id, order_number, total_amount, status, payment_status, billing_name,
                                     billing_gstin, billing_state_code, billing_address, place_of_supply,
                                     taxable_amount, cgst_amount, sgst_amount, igst_amount, tax_amount,
                                     razorpay_order_id)
                 VALUES ($1, $2, $3::numeric / 100, $4, 'unpaid', $5, $6, $7, $8, $9, $10::numeric / 100,
                         $11::numeric / 100, $12::numeric / 100, $13::numeric / 100, $14::numeric / 100, $15)
                 RETURNING id),
             l AS (
                 INSERT INTO order_item (order_id, product_type, product_id, quantity, price, hsn_sac, gst_rate,
                                         taxable_amount, tax_amount, cgst_amount, sgst_amount, igst_amount)
                 SELECT o.id, u.kind, u.product_id, u.quantity, u.price::numeric / 100, u.hsn, u.rate::numeric,
                        u.taxable::numeric / 100, u.tax::numeric / 100, u.cgst::numeric / 100,
                        u.sgst::numeric / 100, u.igst::numeric / 100
                 FROM o, unnest($16::text[], $17::bigint[], $18::int[], $19::bigint[], $20::text[], $21::text[],
                                $22::bigint[], $23::bigint[], $24::bigint[], $25::bigint[], $26::bigint[])
                         WITH ORDINALITY AS u(kind, product_id, quantity, price, hsn, rate, taxable, tax, cgst, sgst,
                                              igst, n)
                 ORDER BY u.n
                 RETURNING id, product_type, product_id, quantity),
             h AS (
                 INSERT INTO order_status_history (order_id, old_status, new_status, changed_by_id, reason,
                                                   is_manual_change)
                 SELECT o.id, '', $4, $27, $28, false FROM o),
             e AS ({email}),
             j AS (
                 INSERT INTO job (queue, kind, payload, dedupe_key, max_attempts)
                 SELECT $30, $31, e.payload, e.dedupe_key, $32 FROM e
                 ON CONFLICT (dedupe_key) DO NOTHING
                 RETURNING queue),
             d AS (DELETE FROM cart_item WHERE cart_id = $35),
             c AS (UPDATE cart SET updated_at = now() WHERE id = $35),
             k AS (UPDATE idempotency_key SET order_id = (SELECT id FROM o) WHERE id = $36)
             SELECT o.id, (SELECT count(*) FROM j), (SELECT count(pg_notify($33, j.queue)::text) FROM j WHERE $37)
             FROM o",
            email = crate::notices::OrderPlaced::select("$29", "$34")
        )
    });
    let t = totals(lines);
    let email = crate::notices::OrderPlaced::row(order_number, Money(t.total), status)?;
    let kinds: Vec<&str> = lines.iter().map(|l| l.kind.as_str()).collect();
    let product_ids: Vec<i64> = lines.iter().map(|l| l.product_id).collect();
    let quantities: Vec<i32> = lines.iter().map(|l| l.quantity).collect();
    let prices: Vec<i64> = lines.iter().map(|l| l.price.0).collect();
    let hsn: Vec<&str> = lines.iter().map(|l| l.hsn_sac.as_str()).collect();
    let rates: Vec<String> = lines.iter().map(|l| l.rate.to_string()).collect();
    let taxable: Vec<i64> = lines.iter().map(|l| l.tax.taxable.0).collect();
    let tax: Vec<i64> = lines.iter().map(|l| l.tax.tax.0).collect();
    let cgst: Vec<i64> = lines.iter().map(|l| l.tax.cgst.0).collect();
    let sgst: Vec<i64> = lines.iter().map(|l| l.tax.sgst.0).collect();
    let igst: Vec<i64> = lines.iter().map(|l| l.tax.igst.0).collect();
    let (id, jobs, _): (i64, i64, i64) = sqlx::query_as(AssertSqlSafe(SQL.as_str()))
        .bind(user_id)
        .bind(order_number)
        .bind(t.total)
        .bind(status.as_str())
        .bind(&billing.name)
        .bind(billing.gstin.as_ref().map(|g| g.as_str().to_string()))
        .bind(billing.state_code.as_str())
        .bind(&billing.address)
        .bind(billing.place_of_supply())
        .bind(t.taxable)
        .bind(t.cgst)
        .bind(t.sgst)
        .bind(t.igst)
        .bind(t.tax)
        .bind(razorpay_order_id)
        .bind(&kinds)
        .bind(&product_ids)
        .bind(&quantities)
        .bind(&prices)
        .bind(&hsn)
        .bind(&rates)
        .bind(&taxable)
        .bind(&tax)
        .bind(&cgst)
        .bind(&sgst)
        .bind(&igst)
        .bind(actor.user_id())
        .bind(reason)
        .bind(email.payload)
        .bind(email.queue)
        .bind(email.kind)
        .bind(email.max_attempts)
        .bind(crate::jobs::NOTIFY_CHANNEL)
        .bind(super::checklist::UNKNOWN_PRODUCT)
        .bind(source.map(|s| s.cart_id))
        .bind(source.and_then(|s| s.idempotency_slot))
        .bind(source.is_none())
        .fetch_one(&mut *conn)
        .await?;
    Ok((id, jobs))
}

/// A cart line with its product's price (paise), HSN/SAC and rate; `None`s when the product is gone.
type CartRow = (i64, Option<String>, Option<i64>, Option<i32>, Option<i64>, Option<String>, Option<String>);

/// The user's cart id and its lines at the products' current prices (lines of deleted products
/// dropped), in one statement; with `lock`, the cart row is locked until the transaction ends.
async fn priced_cart(
    conn: &mut sqlx::PgConnection,
    user_id: i64,
    billing: &Billing,
    tax: &TaxSettings,
    lock: bool,
) -> Result<(i64, Vec<PricedLine>), CreateError> {
    let sql = format!(
        "SELECT k.id, c.product_type, c.product_id, c.quantity,
                (COALESCE(p.price, m.price) * 100)::bigint, COALESCE(p.hsn_sac, m.hsn_sac),
                COALESCE(p.gst_rate, m.gst_rate)::text
         FROM cart k
         LEFT JOIN cart_item c ON c.cart_id = k.id
         LEFT JOIN package p ON c.product_type = 'package' AND p.id = c.product_id
         LEFT JOIN campaign m ON c.product_type = 'campaign' AND m.id = c.product_id
         WHERE k.user_id = $1 ORDER BY c.added_at, c.id{}",
        if lock { " FOR UPDATE OF k" } else { "" }
    );
    let rows: Vec<CartRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(user_id).fetch_all(&mut *conn).await?;
    let cart_id = rows.first().map(|r| r.0).ok_or(CreateError::CartNotFound)?;
    let intra = billing.intra_state(&tax.seller_state);
    let mut lines: Vec<PricedLine> = Vec::with_capacity(rows.len());
    for (_, kind, product_id, quantity, price, hsn, rate) in rows {
        // Lines of deleted products are dropped, as the cart shows them.
        let (Some(kind), Some(product_id), Some(quantity), Some(price)) =
            (kind.as_deref().and_then(ProductType::parse), product_id, quantity, price)
        else {
            continue;
        };
        lines.push(price_line(
            kind,
            product_id,
            quantity,
            Money(price),
            hsn.unwrap_or_default(),
            rate.as_deref().unwrap_or("0"),
            tax.prices_include_gst,
            intra,
        )?);
    }
    Ok((cart_id, lines))
}

/// What an order is made of: the same lines at the same prices give the same order.
fn fingerprint(lines: &[PricedLine]) -> Vec<(ProductType, i64, i32, i64, String, i64)> {
    lines.iter().map(|l| (l.kind, l.product_id, l.quantity, l.price.0, l.rate.to_string(), l.tax.tax.0)).collect()
}

/// Times the cart may change between pricing and writing before `create/` gives up.
const ATTEMPTS: usize = 3;

/// Makes an order from the user's cart: lines at the products' current prices (lines of deleted
/// products are dropped), GST per line, the Razorpay order when Razorpay is configured, and the
/// cart emptied — all or nothing.
///
/// No connection is held while Razorpay is called: the cart is priced (one read), the Razorpay
/// order is created with the order number reserved as its receipt, and only then one short
/// transaction locks the cart, checks it still prices the same, writes the order with its
/// Razorpay id and empties the cart. A Razorpay failure writes nothing (the cart is kept); a
/// crash before the commit leaves a Razorpay order that no order row and no client knows, which
/// can never be paid; a cart changed meanwhile is priced again (a new Razorpay order).
///
/// Under an `Idempotency-Key`, the order's id is written onto the key's row
/// (`idempotency_key.id = idempotency_slot`) in the order's own transaction, so a retry whose
/// first answer was lost after the commit finds the order instead of an empty cart. The
/// "order placed" email's job is written without a notice; `doorbell` is rung after the commit.
#[allow(clippy::too_many_arguments)]
pub async fn from_cart(
    pool: &PgPool,
    doorbell: &Doorbell,
    user_id: i64,
    billing: &Billing,
    tax: &TaxSettings,
    razorpay: Option<&Razorpay>,
    now: DateTime<Utc>,
    idempotency_slot: Option<i64>,
) -> Result<Created, CreateError> {
    for _ in 0..ATTEMPTS {
        let lines = {
            let mut conn = pool.acquire().await?;
            priced_cart(&mut conn, user_id, billing, tax, false).await?.1
        };
        if lines.is_empty() {
            return Err(CreateError::CartEmpty);
        }
        let t = totals(&lines);
        if razorpay.is_some() && t.total < MIN_ONLINE_AMOUNT {
            return Err(CreateError::BelowMinimum);
        }
        let order_number = new_order_number(now);
        let mut razorpay_order_id = String::new();
        if let Some(rzp) = razorpay {
            let rzp_order = rzp.create_order(t.total, &order_number, json!({"order_number": order_number})).await?;
            rzp_order.check(t.total).map_err(CreateError::Provider)?;
            razorpay_order_id = rzp_order.id;
        }
        let mut tx = crate::db::begin(pool).await?;
        let (cart_id, now_lines) = priced_cart(&mut tx, user_id, billing, tax, true).await?;
        if fingerprint(&now_lines) != fingerprint(&lines) {
            tx.rollback().await?;
            tracing::info!(user_id, order_number, "cart changed during checkout; pricing it again");
            continue;
        }
        let (order_id, jobs) = insert_order_with(
            &mut tx,
            user_id,
            &order_number,
            OrderStatus::PendingPayment,
            billing,
            &lines,
            Actor::User(user_id),
            "Order created",
            &razorpay_order_id,
            Some(Source { cart_id, idempotency_slot }),
        )
        .await?;
        tx.commit().await?;
        if jobs > 0 {
            doorbell.ring();
        }
        tracing::info!(order_id, order_number, amount = t.total, razorpay_order_id, "order created");
        return Ok(Created { order_id, razorpay_order_id, amount: t.total });
    }
    Err(CreateError::CartChanged)
}

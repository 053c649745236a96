//! `orders/create/`: the order, its lines with GST, and the Razorpay order, made together.
//!
//! The cart row is locked for the whole transaction and the Razorpay order is created inside it:
//! if Razorpay fails nothing is committed, so no order is left behind and the cart is kept. If
//! the commit fails after Razorpay answered, the Razorpay order is orphaned but harmless (nobody
//! knows its id, so it is never paid).

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::billing::Billing;
use super::{Actor, OrderStatus, record_history};
use crate::catalog::ProductType;
use crate::gst::{self, LineTax, Rate, StateCode};
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

/// Writes the order (status, totals, billing) and its lines, and enqueues the customer's
/// "order placed" email; returns the order id.
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
    let t = totals(lines);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO orders (user_id, order_number, total_amount, status, payment_status, billing_name, billing_gstin,
                             billing_state_code, billing_address, place_of_supply, taxable_amount, cgst_amount,
                             sgst_amount, igst_amount, tax_amount)
         VALUES ($1, $2, $3::numeric / 100, $4, 'unpaid', $5, $6, $7, $8, $9, $10::numeric / 100, $11::numeric / 100,
                 $12::numeric / 100, $13::numeric / 100, $14::numeric / 100)
         RETURNING id",
    )
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
    .fetch_one(&mut *conn)
    .await?;
    for l in lines {
        sqlx::query(
            "INSERT INTO order_item (order_id, product_type, product_id, quantity, price, hsn_sac, gst_rate,
                                     taxable_amount, tax_amount, cgst_amount, sgst_amount, igst_amount)
             VALUES ($1, $2, $3, $4, $5::numeric / 100, $6, $7::numeric, $8::numeric / 100, $9::numeric / 100,
                     $10::numeric / 100, $11::numeric / 100, $12::numeric / 100)",
        )
        .bind(id)
        .bind(l.kind.as_str())
        .bind(l.product_id)
        .bind(l.quantity)
        .bind(l.price.0)
        .bind(&l.hsn_sac)
        .bind(l.rate.to_string())
        .bind(l.tax.taxable.0)
        .bind(l.tax.tax.0)
        .bind(l.tax.cgst.0)
        .bind(l.tax.sgst.0)
        .bind(l.tax.igst.0)
        .execute(&mut *conn)
        .await?;
    }
    record_history(conn, id, "", status.as_str(), actor, reason, false).await?;
    crate::notices::order_placed(conn, id).await?;
    Ok(id)
}

/// A cart line with its product's price (paise), HSN/SAC and rate; `None`s when the product is gone.
type CartRow = (String, i64, i32, Option<i64>, Option<String>, Option<String>);

/// Makes an order from the user's cart: lines at the products' current prices (lines of deleted
/// products are dropped), GST per line, the Razorpay order when Razorpay is configured, and the
/// cart emptied — all or nothing.
pub async fn from_cart(
    pool: &PgPool,
    user_id: i64,
    billing: &Billing,
    tax: &TaxSettings,
    razorpay: Option<&Razorpay>,
    now: DateTime<Utc>,
) -> Result<Created, CreateError> {
    let mut tx = pool.begin().await?;
    let cart_id: i64 = sqlx::query_scalar("SELECT id FROM cart WHERE user_id = $1 FOR UPDATE")
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(CreateError::CartNotFound)?;
    let rows: Vec<CartRow> = sqlx::query_as(
        "SELECT c.product_type, c.product_id, c.quantity,
                (COALESCE(p.price, m.price) * 100)::bigint, COALESCE(p.hsn_sac, m.hsn_sac),
                COALESCE(p.gst_rate, m.gst_rate)::text
         FROM cart_item c
         LEFT JOIN package p ON c.product_type = 'package' AND p.id = c.product_id
         LEFT JOIN campaign m ON c.product_type = 'campaign' AND m.id = c.product_id
         WHERE c.cart_id = $1 ORDER BY c.added_at, c.id",
    )
    .bind(cart_id)
    .fetch_all(&mut *tx)
    .await?;
    let intra = billing.intra_state(&tax.seller_state);
    let mut lines: Vec<PricedLine> = Vec::with_capacity(rows.len());
    for (kind, product_id, quantity, price, hsn, rate) in rows {
        // Lines of deleted products are dropped, as the cart shows them.
        let (Some(kind), Some(price)) = (ProductType::parse(&kind), price) else { continue };
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
    if lines.is_empty() {
        return Err(CreateError::CartEmpty);
    }
    let t = totals(&lines);
    if razorpay.is_some() && t.total < MIN_ONLINE_AMOUNT {
        return Err(CreateError::BelowMinimum);
    }
    let order_number = new_order_number(now);
    let order_id = insert_order(
        &mut tx,
        user_id,
        &order_number,
        OrderStatus::PendingPayment,
        billing,
        &lines,
        Actor::User(user_id),
        "Order created",
    )
    .await?;
    let mut razorpay_order_id = String::new();
    if let Some(rzp) = razorpay {
        let rzp_order = rzp
            .create_order(
                t.total,
                &order_number,
                json!({"order_id": order_id.to_string(), "order_number": order_number}),
            )
            .await?;
        if rzp_order.amount != t.total {
            return Err(CreateError::Provider(RazorpayError::Malformed(format!(
                "order amount {} differs from {}",
                rzp_order.amount, t.total
            ))));
        }
        sqlx::query("UPDATE orders SET razorpay_order_id = $2 WHERE id = $1")
            .bind(order_id)
            .bind(&rzp_order.id)
            .execute(&mut *tx)
            .await?;
        razorpay_order_id = rzp_order.id;
    }
    sqlx::query("DELETE FROM cart_item WHERE cart_id = $1").bind(cart_id).execute(&mut *tx).await?;
    sqlx::query("UPDATE cart SET updated_at = now() WHERE id = $1").bind(cart_id).execute(&mut *tx).await?;
    tx.commit().await?;
    tracing::info!(order_id, order_number, amount = t.total, razorpay_order_id, "order created");
    Ok(Created { order_id, razorpay_order_id, amount: t.total })
}

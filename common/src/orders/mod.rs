//! Orders: their statuses (API.md §7.1–§7.2), reads, creation from the cart, payments, refunds,
//! the order desk ([`admin`]) and the reconciliation sweep. Every status change goes through
//! [`set_status`], which writes the status-history row.

pub mod admin;
pub mod billing;
pub mod checklist;
pub mod create;
pub mod invoices;
pub mod payments;
pub mod reconcile;
pub mod refunds;
pub mod resource_views;
pub mod resources;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool};

use crate::catalog::ProductType;
use crate::catalog::products::{self, Product};

/// Order status (§7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    /// Waiting for the payment.
    PendingPayment,
    /// Paid; waiting for the customer's material.
    PendingResources,
    /// Everything in; waiting for assignment.
    ReadyForProcessing,
    /// A staff member has it.
    Assigned,
    /// Checklist started.
    InProgress,
    /// Delivered.
    Completed,
    /// Cancelled.
    Cancelled,
    /// Paused by an admin.
    OnHold,
}

impl OrderStatus {
    /// All values in the order of §7.1.
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::PendingPayment,
        OrderStatus::PendingResources,
        OrderStatus::ReadyForProcessing,
        OrderStatus::Assigned,
        OrderStatus::InProgress,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
        OrderStatus::OnHold,
    ];

    /// Parses the stored value.
    pub fn parse(value: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::PendingResources => "pending_resources",
            OrderStatus::ReadyForProcessing => "ready_for_processing",
            OrderStatus::Assigned => "assigned",
            OrderStatus::InProgress => "in_progress",
            OrderStatus::Completed => "completed",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::OnHold => "on_hold",
        }
    }

    /// Display label.
    pub fn label(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "Pending Payment",
            OrderStatus::PendingResources => "Pending Resources",
            OrderStatus::ReadyForProcessing => "Ready for Processing",
            OrderStatus::Assigned => "Assigned to Staff",
            OrderStatus::InProgress => "In Progress",
            OrderStatus::Completed => "Completed",
            OrderStatus::Cancelled => "Cancelled",
            OrderStatus::OnHold => "On Hold",
        }
    }
}

/// Payment status (§7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Nothing paid (old manual orders may store `pending`).
    Unpaid,
    /// Some paid.
    Partial,
    /// Fully paid.
    Paid,
    /// Paid back in full.
    Refunded,
    /// Cash on delivery.
    Cod,
}

impl PaymentStatus {
    /// All values in the order of §7.2.
    pub const ALL: [PaymentStatus; 5] = [
        PaymentStatus::Unpaid,
        PaymentStatus::Partial,
        PaymentStatus::Paid,
        PaymentStatus::Refunded,
        PaymentStatus::Cod,
    ];

    /// One of the five values as written (`pending`, which old orders may hold, is not one).
    pub fn parse_exact(value: &str) -> Option<PaymentStatus> {
        PaymentStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Parses the stored value; `pending` reads as unpaid.
    pub fn parse(value: &str) -> Option<PaymentStatus> {
        match value {
            "unpaid" | "pending" => Some(PaymentStatus::Unpaid),
            "partial" => Some(PaymentStatus::Partial),
            "paid" => Some(PaymentStatus::Paid),
            "refunded" => Some(PaymentStatus::Refunded),
            "cod" => Some(PaymentStatus::Cod),
            _ => None,
        }
    }

    /// Stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Unpaid => "unpaid",
            PaymentStatus::Partial => "partial",
            PaymentStatus::Paid => "paid",
            PaymentStatus::Refunded => "refunded",
            PaymentStatus::Cod => "cod",
        }
    }

    /// Display label.
    pub fn label(self) -> &'static str {
        match self {
            PaymentStatus::Unpaid => "Unpaid",
            PaymentStatus::Partial => "Partially Paid",
            PaymentStatus::Paid => "Fully Paid",
            PaymentStatus::Refunded => "Refunded",
            PaymentStatus::Cod => "Cash on Delivery",
        }
    }

    /// The status Σ payments gives (§7.2 record-payment): 0 → unpaid, ≥ total → paid, else partial.
    pub fn from_paid(paid: i64, total: i64) -> PaymentStatus {
        if paid <= 0 {
            PaymentStatus::Unpaid
        } else if paid >= total {
            PaymentStatus::Paid
        } else {
            PaymentStatus::Partial
        }
    }
}

/// Where an order came from (§7.1 `order_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderSource {
    /// Placed by the customer on the site.
    Website,
    /// Taken on the phone.
    PhoneCall,
    /// Taken on WhatsApp.
    Whatsapp,
    /// Taken at the counter.
    WalkIn,
    /// Taken by email.
    Email,
    /// Referred.
    Referral,
    /// Anything else.
    Other,
}

impl OrderSource {
    /// The sources a manual order may name (all but `website`).
    pub const MANUAL: [OrderSource; 6] = [
        OrderSource::PhoneCall,
        OrderSource::Whatsapp,
        OrderSource::WalkIn,
        OrderSource::Email,
        OrderSource::Referral,
        OrderSource::Other,
    ];

    /// Stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderSource::Website => "website",
            OrderSource::PhoneCall => "phone_call",
            OrderSource::Whatsapp => "whatsapp",
            OrderSource::WalkIn => "walk_in",
            OrderSource::Email => "email",
            OrderSource::Referral => "referral",
            OrderSource::Other => "other",
        }
    }

    /// One of the sources of a manual order.
    pub fn parse_manual(value: &str) -> Option<OrderSource> {
        OrderSource::MANUAL.into_iter().find(|s| s.as_str() == value)
    }
}

/// How urgent an order is (§7.1 `priority`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Priority {
    /// Low.
    Low,
    /// The default.
    #[default]
    Normal,
    /// High.
    High,
    /// Urgent.
    Urgent,
}

impl Priority {
    /// All values.
    pub const ALL: [Priority; 4] = [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent];

    /// Stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// Parses the stored value.
    pub fn parse(value: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.as_str() == value)
    }
}

/// Money columns are read as paise: `(col * 100)::bigint`.
const ORDER_COLUMNS: &str = "o.id, o.user_id, o.order_number, (o.total_amount * 100)::bigint AS total_amount, o.status,
    o.payment_status, o.razorpay_order_id, o.razorpay_payment_id, o.payment_completed_at, o.assigned_to_id,
    o.is_manual_order, o.order_source, o.created_by_id, o.payment_reference, o.priority, o.admin_notes,
    o.created_at, o.updated_at, o.billing_name, o.billing_gstin, o.billing_state_code, o.billing_address,
    o.place_of_supply, (o.taxable_amount * 100)::bigint AS taxable_amount, (o.cgst_amount * 100)::bigint AS cgst_amount,
    (o.sgst_amount * 100)::bigint AS sgst_amount, (o.igst_amount * 100)::bigint AS igst_amount,
    (o.tax_amount * 100)::bigint AS tax_amount, o.invoice_number, o.invoice_date,
    (SELECT COALESCE(SUM(r.amount), 0) * 100 FROM payment_record r WHERE r.order_id = o.id)::bigint AS total_paid,
    (SELECT COALESCE(SUM(f.amount), 0) * 100 FROM refund f WHERE f.order_id = o.id AND f.status = 'processed')::bigint
        AS refunded_amount,
    (SELECT COALESCE(SUM(i.quantity), 0) FROM order_item i WHERE i.order_id = o.id)::bigint AS total_items";

/// An order row; amounts in paise.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Order {
    /// Id.
    pub id: i64,
    /// Customer.
    pub user_id: i64,
    /// `EC-YYYYMMDD-XXXXXXXX`.
    pub order_number: String,
    /// Total (what Razorpay charges).
    pub total_amount: i64,
    /// §7.1 value.
    pub status: String,
    /// §7.2 value.
    pub payment_status: String,
    /// `""` when none.
    pub razorpay_order_id: String,
    /// The applied Razorpay payment.
    pub razorpay_payment_id: Option<String>,
    /// When fully paid.
    pub payment_completed_at: Option<DateTime<Utc>>,
    /// Assignee.
    pub assigned_to_id: Option<i64>,
    /// Taken by staff.
    pub is_manual_order: bool,
    /// website, phone_call, …
    pub order_source: String,
    /// Staff member who took a manual order.
    pub created_by_id: Option<i64>,
    /// Offline payment reference.
    pub payment_reference: String,
    /// low, normal, high, urgent.
    pub priority: String,
    /// Notes.
    pub admin_notes: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Buyer name on the invoice.
    pub billing_name: String,
    /// Buyer GSTIN.
    pub billing_gstin: Option<String>,
    /// Buyer state code.
    pub billing_state_code: String,
    /// Buyer address.
    pub billing_address: String,
    /// `29-Karnataka`.
    pub place_of_supply: String,
    /// Σ line taxable values.
    pub taxable_amount: i64,
    /// Σ line CGST.
    pub cgst_amount: i64,
    /// Σ line SGST.
    pub sgst_amount: i64,
    /// Σ line IGST.
    pub igst_amount: i64,
    /// Σ line tax.
    pub tax_amount: i64,
    /// GST invoice number, once paid.
    pub invoice_number: Option<String>,
    /// When the invoice number was allocated.
    pub invoice_date: Option<DateTime<Utc>>,
    /// Σ payment records.
    pub total_paid: i64,
    /// Σ processed refunds.
    pub refunded_amount: i64,
    /// Σ line quantities.
    pub total_items: i64,
}

impl Order {
    /// What is still to pay: total − Σ payment records.
    pub fn balance(&self) -> i64 {
        self.total_amount - self.total_paid
    }
}

/// An order line; amounts in paise.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderItem {
    /// Id.
    pub id: i64,
    /// Order.
    pub order_id: i64,
    /// `package` or `campaign`.
    pub product_type: String,
    /// Product id (the product may be gone).
    pub product_id: i64,
    /// Quantity.
    pub quantity: i32,
    /// Unit price at order time.
    pub price: i64,
    /// Material submitted.
    pub resources_uploaded: bool,
    /// HSN/SAC at order time.
    pub hsn_sac: String,
    /// GST rate at order time, e.g. `18.00`.
    pub gst_rate: String,
    /// Taxable value.
    pub taxable_amount: i64,
    /// Tax.
    pub tax_amount: i64,
    /// CGST.
    pub cgst_amount: i64,
    /// SGST.
    pub sgst_amount: i64,
    /// IGST.
    pub igst_amount: i64,
    /// The product's current name (`None` when deleted).
    pub product_name: Option<String>,
}

impl OrderItem {
    /// Parsed product type.
    pub fn kind(&self) -> Option<ProductType> {
        ProductType::parse(&self.product_type)
    }

    /// The name shown for the line: the product's, or `Unknown Product` once it is deleted.
    pub fn name(&self) -> &str {
        self.product_name.as_deref().unwrap_or(checklist::UNKNOWN_PRODUCT)
    }

    /// `price × quantity`.
    pub fn subtotal(&self) -> i64 {
        self.price.saturating_mul(i64::from(self.quantity))
    }
}

/// The products of some order lines, as they are now; deleted ones are absent.
#[derive(Debug, Clone, Default)]
pub struct LineProducts(HashMap<(ProductType, i64), Product>);

impl LineProducts {
    /// Loads the products of `items`: one batch per product type, whatever the number of lines.
    pub async fn load(conn: &mut PgConnection, items: &[OrderItem]) -> Result<Self, sqlx::Error> {
        let mut out = HashMap::new();
        for kind in [ProductType::Package, ProductType::Campaign] {
            let mut ids: Vec<i64> = items.iter().filter(|i| i.kind() == Some(kind)).map(|i| i.product_id).collect();
            ids.sort_unstable();
            ids.dedup();
            for product in products::get_many(conn, kind, &ids).await? {
                out.insert((kind, product.id), product);
            }
        }
        Ok(Self(out))
    }

    /// The product of a line, unless it was deleted.
    pub fn of(&self, item: &OrderItem) -> Option<(ProductType, &Product)> {
        let kind = item.kind()?;
        self.0.get(&(kind, item.product_id)).map(|p| (kind, p))
    }
}

/// Orders with their lines and the lines' products: everything the §3 Order shape shows.
#[derive(Debug, Clone, Default)]
pub struct OrdersWithLines {
    /// The orders, in the order asked for.
    pub orders: Vec<Order>,
    /// Their lines, by order, in insertion order.
    pub lines: HashMap<i64, Vec<OrderItem>>,
    /// The lines' products.
    pub products: LineProducts,
}

impl OrdersWithLines {
    /// Loads the lines and products of `orders` (three or four queries in all, on one
    /// connection).
    pub async fn load(conn: &mut PgConnection, orders: Vec<Order>) -> Result<Self, sqlx::Error> {
        let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
        let items = items(&mut *conn, &ids).await?;
        let products = LineProducts::load(conn, &items).await?;
        let mut lines: HashMap<i64, Vec<OrderItem>> = HashMap::new();
        for item in items {
            lines.entry(item.order_id).or_default().push(item);
        }
        Ok(Self { orders, lines, products })
    }

    /// The lines of one order.
    pub fn lines_of(&self, order_id: i64) -> &[OrderItem] {
        self.lines.get(&order_id).map(Vec::as_slice).unwrap_or(&[])
    }
}

const ITEM_COLUMNS: &str =
    "i.id, i.order_id, i.product_type, i.product_id, i.quantity, (i.price * 100)::bigint AS price,
    i.resources_uploaded, i.hsn_sac, i.gst_rate::text AS gst_rate, (i.taxable_amount * 100)::bigint AS taxable_amount,
    (i.tax_amount * 100)::bigint AS tax_amount, (i.cgst_amount * 100)::bigint AS cgst_amount,
    (i.sgst_amount * 100)::bigint AS sgst_amount, (i.igst_amount * 100)::bigint AS igst_amount,
    CASE i.product_type WHEN 'package' THEN (SELECT name FROM package WHERE id = i.product_id)
                        ELSE (SELECT name FROM campaign WHERE id = i.product_id) END AS product_name";

/// One order by id, only if it belongs to `user_id` when given (ownership in the query).
pub async fn get<'e>(db: impl PgExecutor<'e>, id: i64, user_id: Option<i64>) -> Result<Option<Order>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders o WHERE o.id = $1 AND ($2::bigint IS NULL OR o.user_id = $2)"
    )))
    .bind(id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// A user's orders, newest first.
pub async fn list_for_user<'e>(db: impl PgExecutor<'e>, user_id: i64) -> Result<Vec<Order>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM orders o WHERE o.user_id = $1 ORDER BY o.created_at DESC, o.id DESC"
    )))
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// The lines of some orders, in insertion order.
///
/// One order's lines (every checkout, payment and order page) are read by `= $1`: PostgreSQL
/// keeps a generic plan for it, where `= ANY($1)` is planned again on every execution (a custom
/// plan knows the array's length), and that planning cost more than the read itself.
pub async fn items<'e>(db: impl PgExecutor<'e>, order_ids: &[i64]) -> Result<Vec<OrderItem>, sqlx::Error> {
    match order_ids {
        [id] => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {ITEM_COLUMNS} FROM order_item i WHERE i.order_id = $1 ORDER BY i.id"
            )))
            .bind(id)
            .fetch_all(db)
            .await
        }
        _ => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {ITEM_COLUMNS} FROM order_item i WHERE i.order_id = ANY($1) ORDER BY i.order_id, i.id"
            )))
            .bind(order_ids)
            .fetch_all(db)
            .await
        }
    }
}

/// A PaymentHistory row (§3); amount in paise.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaymentHistory {
    /// Id.
    pub id: i64,
    /// Order.
    pub order_id: i64,
    /// Order number.
    pub order_number: String,
    /// `Razorpay`, …
    pub payment_method: String,
    /// Provider payment id.
    pub transaction_id: String,
    /// Amount.
    pub amount: i64,
    /// `INR`.
    pub currency: String,
    /// pending, completed, failed, refunded.
    pub status: String,
    /// When paid.
    pub payment_date: DateTime<Utc>,
    /// When the invoice was generated.
    pub invoice_generated_at: Option<DateTime<Utc>>,
    /// Invoice number.
    pub invoice_number: String,
    /// Provider details.
    pub metadata: serde_json::Value,
    /// Created.
    pub created_at: DateTime<Utc>,
}

const HISTORY_COLUMNS: &str = "h.id, h.order_id, o.order_number, h.payment_method, h.transaction_id,
    (h.amount * 100)::bigint AS amount, h.currency, h.status, h.payment_date, h.invoice_generated_at,
    h.invoice_number, h.metadata, h.created_at";

/// The payment history of one of the user's orders.
pub async fn payment_history(pool: &PgPool, order_id: i64) -> Result<Option<PaymentHistory>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {HISTORY_COLUMNS} FROM payment_history h JOIN orders o ON o.id = h.order_id WHERE h.order_id = $1"
    )))
    .bind(order_id)
    .fetch_optional(pool)
    .await
}

/// Filters of `my-payments/`.
#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    /// Inclusive first day (Asia/Kolkata).
    pub start: Option<chrono::NaiveDate>,
    /// Inclusive last day (Asia/Kolkata).
    pub end: Option<chrono::NaiveDate>,
    /// PaymentHistory status.
    pub status: Option<String>,
}

/// The user's payment histories, newest first.
pub async fn payments_of_user(
    pool: &PgPool,
    user_id: i64,
    filter: &PaymentFilter,
) -> Result<Vec<PaymentHistory>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {HISTORY_COLUMNS} FROM payment_history h JOIN orders o ON o.id = h.order_id
         WHERE o.user_id = $1
           AND ($2::date IS NULL OR (h.payment_date AT TIME ZONE 'Asia/Kolkata')::date >= $2)
           AND ($3::date IS NULL OR (h.payment_date AT TIME ZONE 'Asia/Kolkata')::date <= $3)
           AND ($4::text IS NULL OR h.status = $4)
         ORDER BY h.payment_date DESC, h.id DESC"
    )))
    .bind(user_id)
    .bind(filter.start)
    .bind(filter.end)
    .bind(filter.status.as_deref())
    .fetch_all(pool)
    .await
}

/// Who made a change: a user, or the service itself (payments, webhooks, the sweep).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user.
    User(i64),
    /// The service.
    System,
}

impl Actor {
    fn user_id(self) -> Option<i64> {
        match self {
            Actor::User(id) => Some(id),
            Actor::System => None,
        }
    }
}

/// Moves an order to `new` (when it differs) and writes the status-history row. The caller
/// holds the order row locked.
pub async fn set_status(
    conn: &mut PgConnection,
    order_id: i64,
    old: &str,
    new: OrderStatus,
    actor: Actor,
    reason: &str,
    manual: bool,
) -> Result<bool, sqlx::Error> {
    if old == new.as_str() {
        return Ok(false);
    }
    sqlx::query("UPDATE orders SET status = $2, updated_at = now() WHERE id = $1")
        .bind(order_id)
        .bind(new.as_str())
        .execute(&mut *conn)
        .await?;
    record_history(conn, order_id, old, new.as_str(), actor, reason, manual).await?;
    Ok(true)
}

/// Writes a status-history row and, for a change to a status customers are told about, enqueues
/// the customer's email ([`crate::notices::status_changed`]) in the same transaction (not for
/// the opening row of a new order, `old` empty: that order gets its "order placed" email).
/// Returns the row's id.
pub async fn record_history(
    conn: &mut PgConnection,
    order_id: i64,
    old: &str,
    new: &str,
    actor: Actor,
    reason: &str,
    manual: bool,
) -> Result<i64, sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO order_status_history (order_id, old_status, new_status, changed_by_id, reason, is_manual_change)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(order_id)
    .bind(old)
    .bind(new)
    .bind(actor.user_id())
    .bind(reason)
    .bind(manual)
    .fetch_one(&mut *conn)
    .await?;
    if !old.is_empty() {
        crate::notices::status_changed(conn, order_id, id, new, reason).await?;
    }
    Ok(id)
}

/// Writes a notification to every role-admin user.
pub async fn notify_admins(
    conn: &mut PgConnection,
    kind: &str,
    title: &str,
    message: &str,
    order_id: Option<i64>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO notification (user_id, notification_type, title, message, order_id)
         SELECT id, $1, $2, $3, $4 FROM users WHERE role = 'admin' AND is_active",
    )
    .bind(kind)
    .bind(title)
    .bind(message)
    .bind(order_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_pending_reads_as_unpaid() {
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(PaymentStatus::parse("pending"), Some(PaymentStatus::Unpaid));
        assert_eq!(PaymentStatus::from_paid(0, 100), PaymentStatus::Unpaid);
        assert_eq!(PaymentStatus::from_paid(50, 100), PaymentStatus::Partial);
        assert_eq!(PaymentStatus::from_paid(100, 100), PaymentStatus::Paid);
    }
}

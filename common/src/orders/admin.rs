//! The order desk (API.md §4.6, §7.1, §7.2): lists and statistics, manual status and payment
//! status changes, assignment, offline payments and manual orders. Each change locks the order
//! row and writes its status history in the same transaction.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::payments::allocate_invoice_number;
use super::{Actor, ORDER_COLUMNS, Order, OrderStatus, PaymentStatus, get, notify_admins, set_status};
use crate::notifications::notify_user;

/// `?status` of the admin list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// No filter.
    Any,
    /// `pending`: pending_payment + pending_resources (§5 #21).
    Pending,
    /// One status.
    Is(OrderStatus),
    /// An unknown value: nothing matches.
    Nothing,
}

impl StatusFilter {
    /// Parses `?status` (absent or empty: any).
    pub fn parse(raw: Option<&str>) -> StatusFilter {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            None => StatusFilter::Any,
            Some("pending") => StatusFilter::Pending,
            Some(s) => OrderStatus::parse(s).map_or(StatusFilter::Nothing, StatusFilter::Is),
        }
    }

    fn statuses(self) -> Option<Vec<String>> {
        match self {
            StatusFilter::Any => None,
            StatusFilter::Pending => {
                Some(vec![OrderStatus::PendingPayment.as_str().into(), OrderStatus::PendingResources.as_str().into()])
            }
            StatusFilter::Is(s) => Some(vec![s.as_str().into()]),
            StatusFilter::Nothing => Some(Vec::new()),
        }
    }
}

/// `?assigned_to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    /// No filter.
    Any,
    /// `unassigned`.
    Unassigned,
    /// That user's orders.
    User(i64),
    /// An unusable value: nothing matches.
    Nothing,
}

impl AssigneeFilter {
    /// Parses `?assigned_to` (an id or `unassigned`).
    pub fn parse(raw: Option<&str>) -> AssigneeFilter {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            None => AssigneeFilter::Any,
            Some("unassigned") => AssigneeFilter::Unassigned,
            Some(s) => s.parse().map_or(AssigneeFilter::Nothing, AssigneeFilter::User),
        }
    }
}

/// Filters of the admin and staff order lists.
#[derive(Debug, Clone)]
pub struct ListFilter {
    /// `?status`.
    pub status: StatusFilter,
    /// `?assigned_to`.
    pub assigned: AssigneeFilter,
    /// `?search`: order number, customer phone or username.
    pub search: Option<String>,
    /// Staff see only the orders assigned to them.
    pub only_assignee: Option<i64>,
}

/// Orders newest first, with the total count; `page` = (limit, offset), `None` = all.
pub async fn list(pool: &PgPool, f: &ListFilter, page: Option<(i64, i64)>) -> Result<(i64, Vec<Order>), sqlx::Error> {
    let statuses = f.status.statuses();
    if f.assigned == AssigneeFilter::Nothing || statuses.as_ref().is_some_and(Vec::is_empty) {
        return Ok((0, Vec::new()));
    }
    let (unassigned, assignee) = match f.assigned {
        AssigneeFilter::Unassigned => (true, None),
        AssigneeFilter::User(id) => (false, Some(id)),
        _ => (false, None),
    };
    let search = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(crate::db::like_pattern);
    let filter = "FROM orders o JOIN users u ON u.id = o.user_id
        WHERE ($1::text[] IS NULL OR o.status = ANY($1))
          AND (NOT $2 OR o.assigned_to_id IS NULL)
          AND ($3::bigint IS NULL OR o.assigned_to_id = $3)
          AND ($4::text IS NULL OR o.order_number ILIKE $4 OR u.phone_number ILIKE $4 OR u.username ILIKE $4)
          AND ($5::bigint IS NULL OR o.assigned_to_id = $5)";
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) {filter}")))
        .bind(&statuses)
        .bind(unassigned)
        .bind(assignee)
        .bind(&search)
        .bind(f.only_assignee)
        .fetch_one(pool)
        .await?;
    let (limit, offset) = page.unwrap_or((i64::MAX, 0));
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} {filter} ORDER BY o.created_at DESC, o.id DESC LIMIT $6 OFFSET $7"
    )))
    .bind(&statuses)
    .bind(unassigned)
    .bind(assignee)
    .bind(&search)
    .bind(f.only_assignee)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    Ok((count, rows))
}

/// `orders/statistics/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Statistics {
    /// pending_payment + pending_resources.
    pub pending: i64,
    /// assigned.
    pub assigned: i64,
    /// in_progress.
    pub in_progress: i64,
    /// completed.
    pub completed: i64,
    /// All orders.
    pub total: i64,
}

/// Counts by status.
pub async fn statistics(pool: &PgPool) -> Result<Statistics, sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status IN ('pending_payment', 'pending_resources')) AS pending,
                count(*) FILTER (WHERE status = 'assigned') AS assigned,
                count(*) FILTER (WHERE status = 'in_progress') AS in_progress,
                count(*) FILTER (WHERE status = 'completed') AS completed,
                count(*) AS total
         FROM orders",
    )
    .fetch_one(pool)
    .await
}

#[derive(sqlx::FromRow)]
struct Locked {
    order_number: String,
    status: String,
    payment_status: String,
    total: i64,
    assigned_to_id: Option<i64>,
    is_manual_order: bool,
    payment_completed_at: Option<DateTime<Utc>>,
    invoice_number: Option<String>,
}

async fn lock(conn: &mut PgConnection, id: i64) -> Result<Option<Locked>, sqlx::Error> {
    sqlx::query_as(
        "SELECT order_number, status, payment_status, (total_amount * 100)::bigint AS total, assigned_to_id,
                is_manual_order, payment_completed_at, invoice_number
         FROM orders WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Why a desk change was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// No such order.
    #[error("order not found")]
    NotFound,
    /// The order already has that status.
    #[error("order is already in this status")]
    SameStatus,
    /// The named staff member does not exist.
    #[error("staff member not found")]
    StaffNotFound,
    /// The named user is not staff or admin.
    #[error("user must have staff or admin role")]
    NotStaff,
    /// Database failure.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Sets `payment_completed_at` once and allocates the invoice number once: the order is fully
/// paid for the first time.
async fn first_paid(
    conn: &mut PgConnection,
    id: i64,
    order: &Locked,
    prefix: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if order.payment_completed_at.is_none() {
        sqlx::query("UPDATE orders SET payment_completed_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    if order.invoice_number.is_none() {
        let number = allocate_invoice_number(conn, prefix, now).await?;
        sqlx::query("UPDATE orders SET invoice_number = $2, invoice_date = $3 WHERE id = $1")
            .bind(id)
            .bind(number)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// `update-status/`: any status, recorded as a manual change. Cancelled clears the assignee;
/// assigned with an assignee builds a missing checklist; on hold notifies the assignee (§6).
pub async fn update_status(
    pool: &PgPool,
    id: i64,
    new: OrderStatus,
    reason: &str,
    actor: i64,
) -> Result<(), DeskError> {
    let mut tx = pool.begin().await?;
    let order = lock(&mut tx, id).await?.ok_or(DeskError::NotFound)?;
    if order.status == new.as_str() {
        return Err(DeskError::SameStatus);
    }
    let reason = if reason.trim().is_empty() {
        format!("Status changed from {} to {}", order.status, new.as_str())
    } else {
        reason.trim().to_string()
    };
    set_status(&mut tx, id, &order.status, new, Actor::User(actor), &reason, true).await?;
    match new {
        OrderStatus::Cancelled => {
            sqlx::query("UPDATE orders SET assigned_to_id = NULL WHERE id = $1").bind(id).execute(&mut *tx).await?;
        }
        OrderStatus::Assigned if order.assigned_to_id.is_some() => {
            super::checklist::ensure(&mut tx, id).await?;
        }
        OrderStatus::OnHold => {
            if let Some(assignee) = order.assigned_to_id {
                notify_user(
                    &mut tx,
                    assignee,
                    "order_on_hold",
                    "Order On Hold",
                    &format!("Order {} has been put on hold. Reason: {reason}", order.order_number),
                    Some(id),
                )
                .await?;
            }
        }
        _ => {}
    }
    tx.commit().await?;
    Ok(())
}

/// `update-payment-status/`: sets the value; `paid` sets `payment_completed_at` (and the invoice
/// number) if missing. Returns the previous value.
pub async fn update_payment_status(
    pool: &PgPool,
    id: i64,
    new: PaymentStatus,
    prefix: &str,
    now: DateTime<Utc>,
) -> Result<String, DeskError> {
    let mut tx = pool.begin().await?;
    let order = lock(&mut tx, id).await?.ok_or(DeskError::NotFound)?;
    sqlx::query("UPDATE orders SET payment_status = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(new.as_str())
        .execute(&mut *tx)
        .await?;
    if new == PaymentStatus::Paid {
        first_paid(&mut tx, id, &order, prefix, now).await?;
    }
    tx.commit().await?;
    Ok(order.payment_status)
}

/// The assignee's display name for history reasons: first name, else username.
async fn staff_member(conn: &mut PgConnection, staff_id: i64) -> Result<(String, String, String), DeskError> {
    let row: Option<(String, String, String)> =
        sqlx::query_as("SELECT username, first_name, role FROM users WHERE id = $1 AND is_active")
            .bind(staff_id)
            .fetch_optional(conn)
            .await?;
    let (username, first_name, role) = row.ok_or(DeskError::StaffNotFound)?;
    if role != "staff" && role != "admin" {
        return Err(DeskError::NotStaff);
    }
    Ok((username, first_name, role))
}

/// Σ quantities of an order's lines (`total_items`).
async fn total_items(conn: &mut PgConnection, id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(SUM(quantity), 0)::bigint FROM order_item WHERE order_id = $1")
        .bind(id)
        .fetch_one(conn)
        .await
}

async fn assign_in(
    conn: &mut PgConnection,
    id: i64,
    order: &Locked,
    staff_id: i64,
    actor: i64,
    with_checklist: bool,
) -> Result<String, DeskError> {
    let (username, first_name, _) = staff_member(conn, staff_id).await?;
    sqlx::query("UPDATE orders SET assigned_to_id = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(staff_id)
        .execute(&mut *conn)
        .await?;
    let shown = if first_name.trim().is_empty() { username.clone() } else { first_name.trim().to_string() };
    set_status(
        conn,
        id,
        &order.status,
        OrderStatus::Assigned,
        Actor::User(actor),
        &format!("Assigned to {shown}"),
        false,
    )
    .await?;
    if with_checklist {
        super::checklist::ensure(conn, id).await?;
    }
    let count = total_items(conn, id).await?;
    notify_user(
        conn,
        staff_id,
        "order_assigned",
        "New Order Assigned",
        &format!("Order {} has been assigned to you. Total items: {count}", order.order_number),
        Some(id),
    )
    .await?;
    Ok(username)
}

/// `assign/`: sets the assignee, moves to assigned, builds the checklist if missing, notifies
/// the assignee. Returns the assignee's username.
pub async fn assign(pool: &PgPool, id: i64, staff_id: i64, actor: i64) -> Result<String, DeskError> {
    let mut tx = pool.begin().await?;
    let order = lock(&mut tx, id).await?.ok_or(DeskError::NotFound)?;
    let username = assign_in(&mut tx, id, &order, staff_id, actor, true).await?;
    tx.commit().await?;
    Ok(username)
}

/// An offline payment.
#[derive(Debug, Clone)]
pub struct NewPayment {
    /// Paise (> 0).
    pub amount: i64,
    /// cash, upi, bank_transfer, card, cheque, razorpay, other.
    pub method: String,
    /// Reference (≤ 100).
    pub reference: String,
    /// Stored proof (path under `MEDIA_DIR`).
    pub proof: Option<String>,
    /// Notes.
    pub notes: String,
}

/// What recording a payment did.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The new record's id.
    pub record_id: i64,
    /// Σ records.
    pub total_paid: i64,
    /// total − Σ records.
    pub balance: i64,
    /// Σ records ≥ total.
    pub fully_paid: bool,
}

/// `record-payment/`: adds a PaymentRecord and recomputes payment_status from Σ records (§7.2);
/// reaching paid moves pending_payment to pending_resources (website) or ready_for_processing
/// (manual) and allocates the invoice number.
pub async fn record_payment(
    pool: &PgPool,
    id: i64,
    p: &NewPayment,
    actor: i64,
    prefix: &str,
    now: DateTime<Utc>,
) -> Result<Recorded, DeskError> {
    let mut tx = pool.begin().await?;
    let order = lock(&mut tx, id).await?.ok_or(DeskError::NotFound)?;
    let record_id = insert_record(&mut tx, id, p, Some(actor), now).await?;
    if p.proof.as_deref().is_some_and(|proof| proof.starts_with(&format!("{}/", crate::media::PRIVATE_STAGING_DIR))) {
        crate::jobs::enqueue(&mut tx, &crate::jobs::StorePaymentProof { record_id }, None).await?;
    }
    let paid: i64 =
        sqlx::query_scalar("SELECT (COALESCE(SUM(amount), 0) * 100)::bigint FROM payment_record WHERE order_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    let status = PaymentStatus::from_paid(paid, order.total);
    sqlx::query("UPDATE orders SET payment_status = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(status.as_str())
        .execute(&mut *tx)
        .await?;
    if status == PaymentStatus::Paid {
        first_paid(&mut tx, id, &order, prefix, now).await?;
        if order.status == OrderStatus::PendingPayment.as_str() {
            let next =
                if order.is_manual_order { OrderStatus::ReadyForProcessing } else { OrderStatus::PendingResources };
            set_status(&mut tx, id, &order.status, next, Actor::User(actor), "Payment recorded", false).await?;
        }
    }
    tx.commit().await?;
    Ok(Recorded { record_id, total_paid: paid, balance: order.total - paid, fully_paid: paid >= order.total })
}

async fn insert_record(
    conn: &mut PgConnection,
    id: i64,
    p: &NewPayment,
    actor: Option<i64>,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO payment_record (order_id, amount, payment_method, payment_reference, payment_proof, recorded_by_id,
                                     recorded_at, notes)
         VALUES ($1, $2::numeric / 100, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(id)
    .bind(p.amount)
    .bind(&p.method)
    .bind(&p.reference)
    .bind(&p.proof)
    .bind(actor)
    .bind(now)
    .bind(&p.notes)
    .fetch_one(conn)
    .await
}

/// The stored proof of a record, if any.
pub async fn proof_of(pool: &PgPool, record_id: i64) -> Result<Option<Option<String>>, sqlx::Error> {
    sqlx::query_scalar("SELECT payment_proof FROM payment_record WHERE id = $1")
        .bind(record_id)
        .fetch_optional(pool)
        .await
}

/// A record's stored proof and its order's assignee, for the secure-file route.
pub async fn proof_access(pool: &PgPool, record_id: i64) -> Result<Option<(Option<String>, Option<i64>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.payment_proof, o.assigned_to_id FROM payment_record r JOIN orders o ON o.id = r.order_id WHERE r.id = $1",
    )
    .bind(record_id)
    .fetch_optional(pool)
    .await
}

/// Points a record at its stored proof, if it still points at the staged file.
pub async fn finish_proof(pool: &PgPool, record_id: i64, staged: &str, stored: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE payment_record SET payment_proof = $3 WHERE id = $1 AND payment_proof = $2")
        .bind(record_id)
        .bind(staged)
        .bind(stored)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A PaymentRecord row; amount in paise.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaymentRecord {
    /// Id.
    pub id: i64,
    /// Order.
    pub order_id: i64,
    /// Amount.
    pub amount: i64,
    /// Method.
    pub payment_method: String,
    /// Reference.
    pub payment_reference: String,
    /// Stored proof.
    pub payment_proof: Option<String>,
    /// Who recorded it (`None`: the service).
    pub recorded_by_id: Option<i64>,
    /// When.
    pub recorded_at: DateTime<Utc>,
    /// Notes.
    pub notes: String,
}

/// An order's payment records, newest first.
pub async fn payment_records(pool: &PgPool, order_id: i64) -> Result<Vec<PaymentRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, order_id, (amount * 100)::bigint AS amount, payment_method, payment_reference, payment_proof,
                recorded_by_id, recorded_at, notes
         FROM payment_record WHERE order_id = $1 ORDER BY recorded_at DESC, id DESC",
    )
    .bind(order_id)
    .fetch_all(pool)
    .await
}

/// A status-history row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StatusChange {
    /// Id.
    pub id: i64,
    /// Order.
    pub order_id: i64,
    /// `""` at creation.
    pub old_status: String,
    /// New status.
    pub new_status: String,
    /// Who (`None`: the service).
    pub changed_by_id: Option<i64>,
    /// When.
    pub changed_at: DateTime<Utc>,
    /// Why.
    pub reason: String,
    /// An admin's manual change.
    pub is_manual_change: bool,
}

/// An order's status history, newest first (`limit` rows at most).
pub async fn status_history(pool: &PgPool, order_id: i64, limit: i64) -> Result<Vec<StatusChange>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, order_id, old_status, new_status, changed_by_id, changed_at, reason, is_manual_change
         FROM order_status_history WHERE order_id = $1 ORDER BY changed_at DESC, id DESC LIMIT $2",
    )
    .bind(order_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Loads an order for the desk (staff: only when assigned to them).
pub async fn get_for_desk(pool: &PgPool, id: i64, only_assignee: Option<i64>) -> Result<Option<Order>, sqlx::Error> {
    let order = get(pool, id, None).await?;
    Ok(order.filter(|o| only_assignee.is_none() || o.assigned_to_id == only_assignee))
}

/// The admins are told an order is ready (§7.1, §7.7 `new_order`).
pub async fn notify_new_order(
    conn: &mut PgConnection,
    id: i64,
    order_number: &str,
    phone: &str,
    total: i64,
) -> Result<(), sqlx::Error> {
    notify_admins(
        conn,
        "new_order",
        "New Order Ready for Processing",
        &format!("Order {order_number} from {phone} is ready for processing. Total: ₹{}", crate::money::Money(total)),
        Some(id),
    )
    .await?;
    Ok(())
}

/// The customer of a manual order (§7.2).
#[derive(Debug, Clone)]
pub struct ManualCustomer {
    /// Name (first_name of a new account).
    pub name: String,
    /// Phone: finds a customer account (never changed), or is the new account's username and phone.
    pub phone: String,
    /// Email, when given.
    pub email: Option<String>,
}

/// One requested line.
#[derive(Debug, Clone)]
pub struct ManualItem {
    /// Product type.
    pub kind: crate::catalog::ProductType,
    /// Product id.
    pub product_id: i64,
    /// Quantity ≥ 1.
    pub quantity: i32,
}

/// A manual order (§7.2), validated.
#[derive(Debug, Clone)]
pub struct ManualOrder {
    /// Customer.
    pub customer: ManualCustomer,
    /// Lines.
    pub items: Vec<ManualItem>,
    /// phone_call, whatsapp, walk_in, email, referral, other.
    pub order_source: String,
    /// Stored as sent (`pending` → `unpaid`).
    pub payment_status: PaymentStatus,
    /// cash, upi, … (default cash).
    pub payment_method: Option<String>,
    /// Reference.
    pub payment_reference: String,
    /// Paise of the initial payment (default: the total).
    pub payment_amount: Option<i64>,
    /// Assignee (staff or admin).
    pub assigned_to: Option<i64>,
    /// low, normal, high, urgent.
    pub priority: String,
    /// admin_notes.
    pub notes: String,
    /// Billing fields (the customer's name and the seller's state by default).
    pub billing: super::billing::BillingInput,
}

/// Why a manual order was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManualError {
    /// A product is missing or inactive.
    #[error("product not found or inactive")]
    ProductNotFound,
    /// The phone belongs to a staff or admin account.
    #[error("the phone number belongs to a staff account")]
    StaffPhone,
    /// Field errors (`customer.phone` taken by an account with another phone, billing, assignee).
    #[error("invalid fields")]
    Fields(serde_json::Value),
    /// A stored GST rate does not parse.
    #[error(transparent)]
    BadRate(#[from] crate::gst::GstError),
    /// Database failure.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Finds the customer by phone or creates one (role `customer`, no usable password). Phones are
/// compared by `phone_key` (one key per number however it is written). Only customer accounts
/// (roles `user` and `customer`) are matched, and an existing account is never changed: writing
/// the form's email into an account would let whoever fills the form reset its password.
async fn customer(conn: &mut PgConnection, c: &ManualCustomer) -> Result<i64, ManualError> {
    let phone = c.phone.trim();
    let found: Vec<(i64, bool)> = sqlx::query_as(
        "SELECT id, (role IN ('staff', 'admin') OR is_staff OR is_superuser) AS privileged FROM users
         WHERE phone_key(phone_number) = phone_key($1)
         ORDER BY (phone_number = $1) DESC, id",
    )
    .bind(phone)
    .fetch_all(&mut *conn)
    .await?;
    if found.iter().any(|(_, privileged)| *privileged) {
        return Err(ManualError::StaffPhone);
    }
    if let Some((id, _)) = found.first() {
        return Ok(*id);
    }
    let created: Result<i64, sqlx::Error> = sqlx::query_scalar(
        "INSERT INTO users (username, password, first_name, email, phone_number, role)
         VALUES ($1, '!', $2, $3, $1, 'customer') RETURNING id",
    )
    .bind(phone)
    .bind(c.name.trim())
    .bind(c.email.clone().unwrap_or_default())
    .fetch_one(&mut *conn)
    .await;
    match created {
        Ok(id) => Ok(id),
        Err(e) if crate::db::is_unique_violation(&e, "users_username_key") => {
            Err(ManualError::Fields(serde_json::json!({
                "customer": {"phone": ["An account with this phone number as its username already exists."]}
            })))
        }
        Err(e) => Err(e.into()),
    }
}

/// Creates a manual order (§7.1, §7.2, §6): the customer found or created by phone, current prices
/// of active products, items with resources marked uploaded, status ready_for_processing (then
/// assigned when an assignee is given, without checklist), the initial payment. Returns the id.
pub async fn create_manual(
    pool: &PgPool,
    m: &ManualOrder,
    tax: &super::create::TaxSettings,
    actor: i64,
    prefix: &str,
    now: DateTime<Utc>,
) -> Result<i64, ManualError> {
    let mut tx = pool.begin().await?;
    let billing = super::billing::validate(&m.billing, m.customer.name.trim(), &tax.seller_state)
        .map_err(|e| ManualError::Fields(serde_json::json!({ "billing": e })))?;
    let intra = billing.intra_state(&tax.seller_state);
    let mut lines = Vec::with_capacity(m.items.len());
    for item in &m.items {
        let row: Option<(i64, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT (price * 100)::bigint, hsn_sac, gst_rate::text FROM {} WHERE id = $1 AND is_active",
            item.kind.table()
        )))
        .bind(item.product_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (price, hsn, rate) = row.ok_or(ManualError::ProductNotFound)?;
        lines.push(super::create::price_line(
            item.kind,
            item.product_id,
            item.quantity,
            crate::money::Money(price),
            hsn,
            &rate,
            tax.prices_include_gst,
            intra,
        )?);
    }
    if let Some(staff) = m.assigned_to {
        match staff_member(&mut tx, staff).await {
            Ok(_) => {}
            Err(DeskError::StaffNotFound) => {
                return Err(ManualError::Fields(serde_json::json!({"assigned_to": ["Staff member not found"]})));
            }
            Err(DeskError::NotStaff) => {
                return Err(ManualError::Fields(
                    serde_json::json!({"assigned_to": ["User must have staff or admin role"]}),
                ));
            }
            Err(DeskError::Database(e)) => return Err(e.into()),
            Err(_) => {}
        }
    }
    let customer_id = customer(&mut tx, &m.customer).await?;
    let number = super::create::new_order_number(now);
    let reason = format!("Manual order created via {}", m.order_source);
    let id = super::create::insert_order(
        &mut tx,
        customer_id,
        &number,
        OrderStatus::ReadyForProcessing,
        &billing,
        &lines,
        Actor::User(actor),
        &reason,
    )
    .await?;
    sqlx::query(
        "UPDATE orders SET is_manual_order = true, order_source = $2, created_by_id = $3, payment_reference = $4,
                payment_status = $5, priority = $6, admin_notes = $7
         WHERE id = $1",
    )
    .bind(id)
    .bind(&m.order_source)
    .bind(actor)
    .bind(&m.payment_reference)
    .bind(m.payment_status.as_str())
    .bind(&m.priority)
    .bind(&m.notes)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE order_item SET resources_uploaded = true WHERE order_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let total = super::create::totals(&lines).total;
    if matches!(m.payment_status, PaymentStatus::Paid | PaymentStatus::Partial) {
        let amount = m.payment_amount.unwrap_or(total);
        let payment = NewPayment {
            amount,
            method: m.payment_method.clone().unwrap_or_else(|| "cash".into()),
            reference: m.payment_reference.clone(),
            proof: None,
            notes: "Initial payment for manual order".into(),
        };
        insert_record(&mut tx, id, &payment, Some(actor), now).await?;
        if amount >= total {
            let order = lock(&mut tx, id).await?.ok_or(DeskError::NotFound).map_err(|_| sqlx::Error::RowNotFound)?;
            first_paid(&mut tx, id, &order, prefix, now).await?;
        }
    }
    if let Some(staff) = m.assigned_to {
        let order = lock(&mut tx, id).await?.ok_or(sqlx::Error::RowNotFound)?;
        assign_in(&mut tx, id, &order, staff, actor, false).await.map_err(|e| match e {
            DeskError::Database(e) => ManualError::Database(e),
            other => ManualError::Fields(serde_json::json!({"assigned_to": [other.to_string()]})),
        })?;
    }
    tx.commit().await?;
    Ok(id)
}

/// Legacy resources of an order line (`order_resource`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StaticResource {
    /// Id.
    pub id: i64,
    /// Line.
    pub order_item_id: i64,
    /// Stored photo.
    pub candidate_photo: String,
    /// Stored logo.
    pub party_logo: String,
    /// Slogan.
    pub campaign_slogan: String,
    /// Date.
    pub preferred_date: Option<chrono::NaiveDate>,
    /// WhatsApp number.
    pub whatsapp_number: String,
    /// Notes.
    pub additional_notes: String,
    /// When.
    pub uploaded_at: DateTime<Utc>,
}

/// A submitted resource-field value.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DynamicResource {
    /// Submission id.
    pub id: i64,
    /// Line.
    pub order_item_id: i64,
    /// Field definition.
    pub field_id: i64,
    /// Field name.
    pub field_name: String,
    /// Field type.
    pub field_type: String,
    /// When.
    pub uploaded_at: DateTime<Utc>,
    /// Text, phone or date value.
    pub text_value: Option<String>,
    /// Number value.
    pub number_value: Option<i32>,
    /// Stored file.
    pub file_value: Option<String>,
}

/// The resources of an order's lines.
pub async fn resources(
    pool: &PgPool,
    order_id: i64,
) -> Result<(Vec<StaticResource>, Vec<DynamicResource>), sqlx::Error> {
    let statics = sqlx::query_as(
        "SELECT r.id, r.order_item_id, r.candidate_photo, r.party_logo, r.campaign_slogan, r.preferred_date,
                r.whatsapp_number, r.additional_notes, r.uploaded_at
         FROM order_resource r JOIN order_item i ON i.id = r.order_item_id WHERE i.order_id = $1",
    )
    .bind(order_id)
    .fetch_all(pool)
    .await?;
    let dynamics = sqlx::query_as(
        "SELECT s.id, s.order_item_id, s.field_definition_id AS field_id, d.field_name, d.field_type, s.uploaded_at,
                s.text_value, s.number_value, s.file_value
         FROM dynamic_resource_submission s
         JOIN order_item i ON i.id = s.order_item_id
         JOIN resource_field_definition d ON d.id = s.field_definition_id
         WHERE i.order_id = $1 ORDER BY d.\"order\", d.id",
    )
    .bind(order_id)
    .fetch_all(pool)
    .await?;
    Ok((statics, dynamics))
}

/// `PATCH billing/`: new billing details, taxes re-split per line (the totals do not change:
/// only CGST+SGST versus IGST can). Refused once the invoice is numbered.
pub async fn update_billing(
    pool: &PgPool,
    id: i64,
    billing: &super::billing::Billing,
    tax: &super::create::TaxSettings,
) -> Result<bool, DeskError> {
    let mut tx = pool.begin().await?;
    let order = lock(&mut tx, id).await?.ok_or(DeskError::NotFound)?;
    if order.invoice_number.is_some() {
        return Ok(false);
    }
    let intra = billing.intra_state(&tax.seller_state);
    let lines: Vec<(i64, i64, i32, String)> = sqlx::query_as(
        "SELECT id, (price * 100)::bigint, quantity, gst_rate::text FROM order_item WHERE order_id = $1",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    let (mut cgst, mut sgst, mut igst) = (0i64, 0i64, 0i64);
    for (line_id, price, quantity, rate) in lines {
        let rate =
            crate::gst::Rate::parse(&rate).map_err(|e| DeskError::Database(sqlx::Error::Protocol(e.to_string())))?;
        let t =
            crate::gst::line_tax(crate::money::Money(price), i64::from(quantity), rate, tax.prices_include_gst, intra);
        cgst += t.cgst.0;
        sgst += t.sgst.0;
        igst += t.igst.0;
        sqlx::query(
            "UPDATE order_item SET cgst_amount = $2::numeric / 100, sgst_amount = $3::numeric / 100,
                    igst_amount = $4::numeric / 100 WHERE id = $1",
        )
        .bind(line_id)
        .bind(t.cgst.0)
        .bind(t.sgst.0)
        .bind(t.igst.0)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "UPDATE orders SET billing_name = $2, billing_gstin = $3, billing_state_code = $4, billing_address = $5,
                place_of_supply = $6, cgst_amount = $7::numeric / 100, sgst_amount = $8::numeric / 100,
                igst_amount = $9::numeric / 100, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(&billing.name)
    .bind(billing.gstin.as_ref().map(|g| g.as_str().to_string()))
    .bind(billing.state_code.as_str())
    .bind(&billing.address)
    .bind(billing.place_of_supply())
    .bind(cgst)
    .bind(sgst)
    .bind(igst)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

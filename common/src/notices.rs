//! Transactional emails about orders and accounts: each function enqueues one `send_email` (or,
//! for the welcome email, `send_password_reset`) job in the caller's transaction, so the email
//! exists exactly when the fact it reports is committed.
//!
//! * The recipient must be an active account with a non-blank email address; otherwise nothing
//!   is enqueued (an account without an address simply gets no email).
//! * Every email has a key naming its fact (`order_placed:{order id}`, `order_status:{history
//!   id}` …), used both as the job's dedupe key (a second enqueue is a no-op) and as the
//!   message key (the worker sends each key once, `sent_email`).
//! * The template context is built here from the database, so the email says what was true
//!   when the fact was recorded; the worker adds `support_email` (`SUPPORT_EMAIL`) when it sends.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use sqlx::PgConnection;

use crate::accounts::reset;
use crate::invoice::format::inr;
use crate::jobs::{self, Attachment, SendEmail, SendPasswordReset};
use crate::money::Money;
use crate::orders::{OrderStatus, Priority, checklist};

/// The statuses the customer is told about by [`status_changed`].
pub const NOTIFIED_STATUSES: [OrderStatus; 4] =
    [OrderStatus::InProgress, OrderStatus::Completed, OrderStatus::Cancelled, OrderStatus::OnHold];

/// An account that can receive email.
#[derive(Debug)]
struct Recipient {
    email: String,
    name: String,
}

/// The name emails greet user `u` by: first and last name, else the username (SQL).
pub const DISPLAY_NAME: &str =
    "COALESCE(NULLIF(btrim(btrim(u.first_name) || ' ' || btrim(u.last_name)), ''), u.username)";

/// The account `user_id` when it is active and has an address: its address and display name
/// (first and last name, else the username).
async fn recipient(conn: &mut PgConnection, user_id: i64) -> Result<Option<Recipient>, sqlx::Error> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!("SELECT btrim(email), {DISPLAY_NAME} FROM users u WHERE id = $1 AND is_active AND btrim(email) <> ''")
    });
    let row: Option<(String, String)> =
        sqlx::query_as(sqlx::AssertSqlSafe(SQL.as_str())).bind(user_id).fetch_optional(conn).await?;
    Ok(row.map(|(email, name)| Recipient { email, name }))
}

/// What the order emails print about an order.
struct OrderFacts {
    user_id: i64,
    number: String,
    total: Money,
    priority: String,
    assigned_to_id: Option<i64>,
}

async fn order(conn: &mut PgConnection, order_id: i64) -> Result<Option<OrderFacts>, sqlx::Error> {
    let row: Option<(i64, String, i64, String, Option<i64>)> = sqlx::query_as(
        "SELECT user_id, order_number, (total_amount * 100)::bigint, priority, assigned_to_id
         FROM orders WHERE id = $1",
    )
    .bind(order_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(user_id, number, total, priority, assigned_to_id)| OrderFacts {
        user_id,
        number,
        total: Money(total),
        priority,
        assigned_to_id,
    }))
}

/// The order's lines as `[{name, quantity}]` (a deleted product shows as `Unknown Product`).
async fn lines(conn: &mut PgConnection, order_id: i64) -> Result<serde_json::Value, sqlx::Error> {
    let rows: Vec<(String, i32)> = sqlx::query_as(
        "SELECT COALESCE(CASE i.product_type WHEN 'package' THEN (SELECT name FROM package WHERE id = i.product_id)
                                             ELSE (SELECT name FROM campaign WHERE id = i.product_id) END, $2),
                i.quantity
         FROM order_item i WHERE i.order_id = $1 ORDER BY i.id",
    )
    .bind(order_id)
    .bind(checklist::UNKNOWN_PRODUCT)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(name, quantity)| json!({"name": name, "quantity": quantity})).collect())
}

/// Enqueues one email under `key` (the job's dedupe key and the message key).
async fn enqueue(
    conn: &mut PgConnection,
    key: String,
    to: Recipient,
    template: &str,
    context: serde_json::Value,
    attachments: Vec<Attachment>,
) -> Result<(), sqlx::Error> {
    let job = email(&key, to, template, context, attachments);
    jobs::enqueue(conn, &job, Some(&key)).await?;
    Ok(())
}

/// The email job `key` to `to`, its context with the recipient's name added.
fn email(
    key: &str,
    to: Recipient,
    template: &str,
    mut context: serde_json::Value,
    attachments: Vec<Attachment>,
) -> SendEmail {
    if let Some(map) = context.as_object_mut() {
        map.insert("name".into(), json!(to.name));
    }
    SendEmail { message_key: key.to_owned(), to: to.email, template: template.into(), context, attachments }
}

/// "We have received your order" to the customer of a new order (website and manual orders),
/// written by the statement that writes the order (`orders::create`), so it costs no round
/// trip of its own. Key `order_placed:{order id}`.
///
/// What Rust knows ahead (number, total, whether payment is awaited) is in [`Self::row`]'s
/// payload; [`Self::select`] fills in the rest from the statement's own rows.
#[derive(Debug)]
pub struct OrderPlaced;

impl OrderPlaced {
    /// A `SELECT` of `(payload, dedupe_key)` for the statement writing the order: `$1` the
    /// customer's id, CTE `o` the written order (`id`), CTE `l` its written lines (`id`,
    /// `product_type`, `product_id`, `quantity`), `{payload}` and `{unknown}` the parameters
    /// holding [`Self::row`]'s payload and [`checklist::UNKNOWN_PRODUCT`]. No row when the
    /// customer is inactive or has no address (nothing is sent).
    pub fn select(payload: &str, unknown: &str) -> String {
        format!(
            "SELECT jsonb_set(jsonb_set(jsonb_set(jsonb_set({payload}::jsonb,
                        '{{message_key}}', to_jsonb('order_placed:' || o.id)),
                        '{{to}}', to_jsonb(btrim(u.email))),
                        '{{context,name}}', to_jsonb({DISPLAY_NAME})),
                        '{{context,items}}', COALESCE((
                            SELECT jsonb_agg(jsonb_build_object(
                                       'name', COALESCE(CASE l.product_type
                                           WHEN 'package' THEN (SELECT name FROM package WHERE id = l.product_id)
                                           ELSE (SELECT name FROM campaign WHERE id = l.product_id) END, {unknown}),
                                       'quantity', l.quantity) ORDER BY l.id)
                            FROM l), '[]'::jsonb)) AS payload,
                    'order_placed:' || o.id AS dedupe_key
             FROM o JOIN users u ON u.id = $1 AND u.is_active AND btrim(u.email) <> ''"
        )
    }

    /// The outbox row, its key, address, name and lines left for [`Self::select`] to fill.
    pub fn row(order_number: &str, total: Money, status: OrderStatus) -> Result<jobs::OutboxRow, sqlx::Error> {
        let context = json!({
            "order_number": order_number,
            "total": inr(total),
            "awaiting_payment": status == OrderStatus::PendingPayment,
        });
        let job = SendEmail {
            message_key: String::new(),
            to: String::new(),
            template: "order_placed".into(),
            context,
            attachments: Vec::new(),
        };
        jobs::OutboxRow::of(&job, None)
    }
}

/// "Payment received", with the invoice `invoice_id` attached, to the customer. Key
/// `payment_received:{order_id}`. Nothing is sent when the invoice is not the order's.
pub async fn payment_received(conn: &mut PgConnection, order_id: i64, invoice_id: i64) -> Result<(), sqlx::Error> {
    let invoice: Option<(String, i64)> =
        sqlx::query_as("SELECT number, (amount * 100)::bigint FROM invoice WHERE id = $1 AND order_id = $2")
            .bind(invoice_id)
            .bind(order_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((invoice_number, amount)) = invoice else {
        tracing::warn!(order_id, invoice_id, "payment email: the invoice is not this order's; nothing sent");
        return Ok(());
    };
    let Some(email) = PaymentReceived::prepare(conn, order_id).await? else { return Ok(()) };
    jobs::enqueue_row(conn, email.job(invoice_id, &invoice_number, Money(amount))?).await?;
    Ok(())
}

/// The "payment received" email of an order, its order and recipient read ahead, so that the
/// paying transaction only has to enqueue it once the invoice number is allocated.
#[derive(Debug)]
pub struct PaymentReceived {
    order_id: i64,
    order_number: String,
    to: Recipient,
}

impl PaymentReceived {
    /// The email of order `order_id` (`order_number`) to `email`, greeting `name`.
    pub fn new(order_id: i64, order_number: String, email: String, name: String) -> Self {
        Self { order_id, order_number, to: Recipient { email, name } }
    }

    /// `None` when the order is gone or its customer has no address (nothing is sent).
    pub async fn prepare(conn: &mut PgConnection, order_id: i64) -> Result<Option<Self>, sqlx::Error> {
        let Some(order) = order(conn, order_id).await? else { return Ok(None) };
        let Some(to) = recipient(conn, order.user_id).await? else { return Ok(None) };
        Ok(Some(Self { order_id, order_number: order.number, to }))
    }

    /// Its outbox row for the invoice `invoice_id` numbered `invoice_number` of `amount`. The
    /// paying transaction passes an empty number, which the statement allocating it fills in
    /// (`jsonb_set(payload, '{context,invoice_number}', …)`).
    pub fn job(self, invoice_id: i64, invoice_number: &str, amount: Money) -> Result<jobs::OutboxRow, sqlx::Error> {
        let context = json!({
            "order_number": self.order_number,
            "invoice_number": invoice_number,
            "amount": inr(amount),
        });
        let key = format!("payment_received:{}", self.order_id);
        let job = email(&key, self.to, "payment_received", context, vec![Attachment::Invoice { invoice_id }]);
        jobs::OutboxRow::of(&job, Some(&key))
    }
}

/// The reason an on-hold email shows: the admin's words, not the text written when they gave
/// none (`Status changed from … to …`, which names internal status codes).
fn customer_reason(reason: &str) -> &str {
    let reason = reason.trim();
    if reason.starts_with("Status changed from ") { "" } else { reason }
}

/// "Your order is in progress / complete / cancelled / on hold" to the customer, for the
/// status-history row `history_id`; other statuses send nothing. Only on hold shows the reason.
/// Key `order_status:{history_id}`.
pub async fn status_changed(
    conn: &mut PgConnection,
    order_id: i64,
    history_id: i64,
    new_status: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let Some(status) = OrderStatus::parse(new_status).filter(|s| NOTIFIED_STATUSES.contains(s)) else {
        return Ok(());
    };
    let Some(order) = order(conn, order_id).await? else { return Ok(()) };
    let Some(to) = recipient(conn, order.user_id).await? else { return Ok(()) };
    let context = json!({
        "order_number": order.number,
        "status": status.as_str(),
        "status_label": status.label(),
        "reason": if status == OrderStatus::OnHold { customer_reason(reason) } else { "" },
    });
    enqueue(conn, format!("order_status:{history_id}"), to, "order_status", context, Vec::new()).await
}

fn priority_label(priority: &str) -> &'static str {
    match Priority::parse(priority).unwrap_or_default() {
        Priority::Low => "Low",
        Priority::Normal => "Normal",
        Priority::High => "High",
        Priority::Urgent => "Urgent",
    }
}

/// "Order assigned to you" to the staff member `staff_id`. `event_id` is a number unique to
/// this assignment (the assign path passes the id of the assignee's in-app notification of it,
/// since a reassignment of an already assigned order writes no status-history row). Key
/// `order_assigned:{order_id}:{event_id}`.
pub async fn assigned(conn: &mut PgConnection, order_id: i64, staff_id: i64, event_id: i64) -> Result<(), sqlx::Error> {
    let Some(order) = order(conn, order_id).await? else { return Ok(()) };
    if order.assigned_to_id != Some(staff_id) {
        return Ok(());
    }
    let Some(to) = recipient(conn, staff_id).await? else { return Ok(()) };
    let customer: Option<String> = sqlx::query_scalar(
        "SELECT COALESCE(NULLIF(btrim(o.billing_name), ''),
                         NULLIF(btrim(btrim(u.first_name) || ' ' || btrim(u.last_name)), ''), u.username)
         FROM orders o JOIN users u ON u.id = o.user_id WHERE o.id = $1",
    )
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await?;
    let items = lines(conn, order_id).await?;
    let context = json!({
        "order_number": order.number,
        "customer_name": customer.unwrap_or_default(),
        "priority": priority_label(&order.priority),
        "items": items,
        "total": inr(order.total),
    });
    enqueue(conn, format!("order_assigned:{order_id}:{event_id}"), to, "order_assigned", context, Vec::new()).await
}

/// "Refund processed" to the customer, with the credit note (`(invoice id, number)`) attached
/// when there is one. Key `refund_processed:{refund_id}`.
pub async fn refund_processed(
    conn: &mut PgConnection,
    refund_id: i64,
    credit_note: Option<(i64, String)>,
) -> Result<(), sqlx::Error> {
    let refund: Option<(i64, i64)> =
        sqlx::query_as("SELECT order_id, (amount * 100)::bigint FROM refund WHERE id = $1")
            .bind(refund_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((order_id, amount)) = refund else { return Ok(()) };
    let Some(order) = order(conn, order_id).await? else { return Ok(()) };
    let Some(to) = recipient(conn, order.user_id).await? else { return Ok(()) };
    let (number, attachments) = match credit_note {
        Some((invoice_id, number)) => (Some(number), vec![Attachment::Invoice { invoice_id }]),
        None => (None, Vec::new()),
    };
    let context = json!({
        "order_number": order.number,
        "amount": inr(Money(amount)),
        "credit_note_number": number,
    });
    enqueue(conn, format!("refund_processed:{refund_id}"), to, "refund_processed", context, attachments).await
}

/// The welcome email of an account an admin created: a password-set link (a reset token valid
/// for `ttl`, derived with `secret`) and the username, never a password. Key `welcome:{user_id}`;
/// the token row is only written when the email is enqueued.
pub async fn welcome(
    conn: &mut PgConnection,
    user_id: i64,
    secret: &SecretString,
    ttl: Duration,
) -> Result<(), sqlx::Error> {
    if recipient(conn, user_id).await?.is_none() {
        return Ok(());
    }
    let key = reset::welcome_key(user_id);
    let already: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM job WHERE dedupe_key = $1)")
        .bind(&key)
        .fetch_one(&mut *conn)
        .await?;
    if already {
        return Ok(());
    }
    let reset_id = reset::create_token_row(conn, user_id, secret, ttl, "").await?;
    jobs::enqueue(conn, &SendPasswordReset { reset_id, welcome: true }, Some(&key)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_reasons_are_not_shown_to_customers() {
        assert_eq!(customer_reason("  Waiting for your logo "), "Waiting for your logo");
        assert_eq!(customer_reason("Status changed from assigned to on_hold"), "");
        assert_eq!(customer_reason(""), "");
    }

    #[test]
    fn priorities_have_labels() {
        assert_eq!(priority_label("urgent"), "Urgent");
        assert_eq!(priority_label("odd"), "Normal");
    }
}

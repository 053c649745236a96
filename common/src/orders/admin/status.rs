//! Status changes by an admin (API.md §4.6 `update-status/`, `update-payment-status/`,
//! `assign/`, §6 on hold, §7.1).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::{AssigneeError, DeskError, first_paid, lock, staff_member};
use crate::notifications::notify_user;
use crate::orders::invoices::InvoiceSettings;
use crate::orders::{Actor, OrderStatus, PaymentStatus, set_status};

/// `update-status/`: any status, recorded as a manual change. Cancelled clears the assignee;
/// assigned with an assignee builds a missing checklist; on hold notifies the assignee (§6).
pub async fn update_status(
    pool: &PgPool,
    id: i64,
    new: OrderStatus,
    reason: &str,
    actor: i64,
) -> Result<(), DeskError> {
    let mut tx = crate::db::begin(pool).await?;
    let order = lock(&mut tx, id).await?;
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
            crate::orders::checklist::ensure(&mut tx, id).await?;
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
    inv: &InvoiceSettings<'_>,
    now: DateTime<Utc>,
) -> Result<String, DeskError> {
    let mut tx = crate::db::begin(pool).await?;
    let order = lock(&mut tx, id).await?;
    sqlx::query("UPDATE orders SET payment_status = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(new.as_str())
        .execute(&mut *tx)
        .await?;
    if new == PaymentStatus::Paid {
        first_paid(&mut tx, id, order.paid_marks(), inv, now).await?;
    }
    tx.commit().await?;
    Ok(order.payment_status)
}

/// The order an assignment moves: its number and status now.
pub(super) struct Assignment<'a> {
    pub(super) id: i64,
    pub(super) order_number: &'a str,
    pub(super) status: &'a str,
}

/// Assigns a locked order to `staff_id` (history "Assigned to <first name or username>"),
/// builds its checklist if asked and missing, and notifies the assignee (in the app and by
/// email). Returns the assignee's
/// username; `Ok(Err(…))` when `staff_id` cannot take orders (nothing written).
pub(super) async fn assign_in(
    conn: &mut PgConnection,
    order: Assignment<'_>,
    staff_id: i64,
    actor: i64,
    with_checklist: bool,
) -> Result<Result<String, AssigneeError>, sqlx::Error> {
    let staff = match staff_member(conn, staff_id).await? {
        Ok(staff) => staff,
        Err(e) => return Ok(Err(e)),
    };
    let id = order.id;
    sqlx::query("UPDATE orders SET assigned_to_id = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(staff_id)
        .execute(&mut *conn)
        .await?;
    let reason = format!("Assigned to {}", staff.shown());
    set_status(conn, id, order.status, OrderStatus::Assigned, Actor::User(actor), &reason, false).await?;
    if with_checklist {
        crate::orders::checklist::ensure(conn, id).await?;
    }
    let count: i64 =
        sqlx::query_scalar("SELECT COALESCE(SUM(quantity), 0)::bigint FROM order_item WHERE order_id = $1")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
    notify_user(
        conn,
        staff_id,
        "order_assigned",
        "New Order Assigned",
        &format!("Order {} has been assigned to you. Total items: {count}", order.order_number),
        Some(id),
    )
    .await?;
    // The notification just written (the order row is locked) numbers this assignment.
    let event: i64 = sqlx::query_scalar(
        "SELECT max(id) FROM notification WHERE user_id = $1 AND order_id = $2 AND notification_type = 'order_assigned'",
    )
    .bind(staff_id)
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    crate::notices::assigned(conn, id, staff_id, event).await?;
    Ok(Ok(staff.username))
}

/// `assign/`: sets the assignee, moves to assigned, builds the checklist if missing, notifies
/// the assignee. Returns the assignee's username.
pub async fn assign(pool: &PgPool, id: i64, staff_id: i64, actor: i64) -> Result<String, DeskError> {
    let mut tx = crate::db::begin(pool).await?;
    let order = lock(&mut tx, id).await?;
    let assignment = Assignment { id, order_number: &order.order_number, status: &order.status };
    let username = assign_in(&mut tx, assignment, staff_id, actor, true).await??;
    tx.commit().await?;
    Ok(username)
}

//! The admin and staff order lists (API.md §4.6, §4.7, §5 #7, #21) and the dashboard
//! statistics: a page of orders and the users they name, in three queries whatever its size.

use std::collections::HashMap;

use sqlx::PgPool;

use crate::accounts::users::{self, User};
use crate::orders::{ORDER_COLUMNS, Order, OrderStatus};

/// `?status` of the lists.
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

/// Some orders of a list, with the count of all that match and the users they name (customers
/// and assignees).
#[derive(Debug, Clone, Default)]
pub struct OrderRows {
    /// Orders matching the filter, on every page.
    pub count: i64,
    /// The orders asked for, newest first.
    pub orders: Vec<Order>,
    /// Their customers and assignees by id.
    pub people: HashMap<i64, User>,
}

/// Orders newest first (ties by id, descending) with the count of all that match; `page` =
/// (limit, offset), `None` = all.
pub async fn list(pool: &PgPool, f: &ListFilter, page: Option<(i64, i64)>) -> Result<OrderRows, sqlx::Error> {
    let statuses = f.status.statuses();
    if f.assigned == AssigneeFilter::Nothing || statuses.as_ref().is_some_and(Vec::is_empty) {
        return Ok(OrderRows::default());
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
    if limit <= 0 || offset >= count {
        return Ok(OrderRows { count, ..OrderRows::default() });
    }
    let orders: Vec<Order> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
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
    let ids: Vec<i64> = orders.iter().flat_map(|o| [Some(o.user_id), o.assigned_to_id]).flatten().collect();
    let people = users::find_many(pool, &ids).await?;
    Ok(OrderRows { count, orders, people })
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

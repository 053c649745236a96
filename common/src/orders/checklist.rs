//! Order checklists (API.md §7.1, §7.5, §7.7): built once per order from the products'
//! checklist templates (or the default task list), ticked by the assignee or an admin. Ticking
//! moves the order forward (assigned → in_progress → completed) and announces the progress
//! thresholds 25/50/75/100 to the admins, each once per order.

use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection, PgPool};

use super::{Actor, OrderStatus, notify_admins, set_status};
use crate::accounts::users::User;
use crate::role::Role;

/// Progress thresholds announced with a `progress_update` notification (§7.7).
pub const THRESHOLDS: [i16; 4] = [25, 50, 75, 100];

/// Name shown for an order line whose product was deleted.
pub const UNKNOWN_PRODUCT: &str = "Unknown Product";

/// The user who ticked an item (the columns UserBasic needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedBy {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Phone number.
    pub phone_number: Option<String>,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Email, `""` when none.
    pub email: String,
    /// Stored role.
    pub role: String,
}

/// A row of `checklist_item`, with the user who completed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecklistItem {
    /// Id.
    pub id: i64,
    /// The task.
    pub description: String,
    /// Done.
    pub completed: bool,
    /// When it was ticked (`None` while open).
    pub completed_at: Option<DateTime<Utc>>,
    /// Who ticked it (`None` while open, or when that user was deleted).
    pub completed_by: Option<CompletedBy>,
    /// Position in the list.
    pub order_index: i32,
    /// Optional tasks do not count towards required progress.
    pub is_optional: bool,
    /// The template item it was built from, if any.
    pub template_item_id: Option<i64>,
}

/// An order's checklist with its items (by `order_index`, then id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checklist {
    /// Id.
    pub id: i64,
    /// The order.
    pub order_id: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Items by `order_index`, then id.
    pub items: Vec<ChecklistItem>,
}

/// Counts and percentage of a checklist (§7.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// All items.
    pub total_items: i64,
    /// Ticked items.
    pub completed_items: i64,
    /// Non-optional items.
    pub required_items: i64,
    /// Ticked non-optional items.
    pub completed_required: i64,
    /// floor(completed required ÷ required × 100); with none required floor(completed ÷ all ×
    /// 100); 0 for an empty list.
    pub progress_percentage: i64,
}

impl Progress {
    /// Progress from the four counts.
    pub fn from_counts(total_items: i64, completed_items: i64, required_items: i64, completed_required: i64) -> Self {
        let progress_percentage = if required_items > 0 {
            completed_required * 100 / required_items
        } else if total_items > 0 {
            completed_items * 100 / total_items
        } else {
            0
        };
        Progress { total_items, completed_items, required_items, completed_required, progress_percentage }
    }

    /// Progress of a list of items.
    pub fn of(items: &[ChecklistItem]) -> Self {
        let count = |f: &dyn Fn(&ChecklistItem) -> bool| items.iter().filter(|i| f(i)).count() as i64;
        Progress::from_counts(
            items.len() as i64,
            count(&|i| i.completed),
            count(&|i| !i.is_optional),
            count(&|i| i.completed && !i.is_optional),
        )
    }
}

impl Checklist {
    /// The checklist's progress (§7.5).
    pub fn progress(&self) -> Progress {
        Progress::of(&self.items)
    }
}

/// What a tick did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticked {
    /// The order of the checklist.
    pub order_id: i64,
    /// The item after the change.
    pub item: ChecklistItem,
    /// The checklist's progress after the change.
    pub progress: Progress,
    /// The order's status after the change (§7.1 value).
    pub order_status: String,
}

/// Why a tick was refused.
#[derive(Debug, thiserror::Error)]
pub enum TickError {
    /// No such checklist item.
    #[error("checklist item not found")]
    NotFound,
    /// The actor is neither an admin nor the order's assignee.
    #[error("not allowed to update this checklist")]
    Forbidden,
    /// Database failure.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    id: i64,
    description: String,
    completed: bool,
    completed_at: Option<DateTime<Utc>>,
    order_index: i32,
    is_optional: bool,
    template_item_id: Option<i64>,
    user_id: Option<i64>,
    username: Option<String>,
    phone_number: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    role: Option<String>,
}

impl From<ItemRow> for ChecklistItem {
    fn from(r: ItemRow) -> Self {
        let completed_by = r.user_id.map(|id| CompletedBy {
            id,
            username: r.username.unwrap_or_default(),
            phone_number: r.phone_number,
            first_name: r.first_name.unwrap_or_default(),
            last_name: r.last_name.unwrap_or_default(),
            email: r.email.unwrap_or_default(),
            role: r.role.unwrap_or_default(),
        });
        ChecklistItem {
            id: r.id,
            description: r.description,
            completed: r.completed,
            completed_at: r.completed_at,
            completed_by,
            order_index: r.order_index,
            is_optional: r.is_optional,
            template_item_id: r.template_item_id,
        }
    }
}

const ITEM_SELECT: &str = "SELECT i.id, i.description, i.completed, i.completed_at, i.order_index, i.is_optional,
        i.template_item_id, u.id AS user_id, u.username, u.phone_number, u.first_name, u.last_name, u.email, u.role
    FROM checklist_item i LEFT JOIN users u ON u.id = i.completed_by_id";

/// A task to insert: description, order_index, is_optional, template item.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NewItem {
    description: String,
    order_index: i32,
    is_optional: bool,
    template_item_id: Option<i64>,
}

/// An order line as the default list needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    product_type: String,
    name: String,
    quantity: i32,
}

const PACKAGE_TASKS: [&str; 6] = [
    "Prepare all components for",
    "Customize materials with candidate information for",
    "Schedule delivery/installation for",
    "Coordinate with technical team for setup of",
    "Complete delivery and setup of",
    "Provide training/documentation for",
];

const CAMPAIGN_TASKS: [&str; 6] = [
    "Schedule campaign execution for",
    "Coordinate with field team for",
    "Prepare campaign materials for",
    "Execute campaign activities for",
    "Document campaign execution and results for",
    "Provide campaign report to customer for",
];

/// The default task list of §7.5.
fn default_descriptions(order_number: &str, contact: &str, lines: &[Line]) -> Vec<String> {
    let mut out = vec![
        format!("Review order {order_number} details and requirements"),
        format!("Contact customer at {contact} to confirm order"),
    ];
    for line in lines {
        out.push(format!("Review uploaded resources for {} (Qty: {})", line.name, line.quantity));
        let tasks = if line.product_type == "campaign" { &CAMPAIGN_TASKS } else { &PACKAGE_TASKS };
        out.extend(tasks.iter().map(|t| format!("{t} {}", line.name)));
    }
    out.extend(
        [
            "Conduct final quality check on all deliverables",
            "Contact customer for final approval and feedback",
            "Mark order as completed and archive documentation",
        ]
        .map(String::from),
    );
    out
}

/// The tasks of a new checklist: the template items of the order's products, else the default
/// list.
async fn plan(conn: &mut PgConnection, order_id: i64) -> Result<Vec<NewItem>, sqlx::Error> {
    // Key-share locks keep the template items from being deleted before the checklist refers to
    // them; an item deleted meanwhile is skipped.
    let templates: Vec<(i64, String, i32, bool)> = sqlx::query_as(
        r#"SELECT t.id, t.name, t."order", t.is_optional FROM checklist_template_item t
           WHERE EXISTS (SELECT 1 FROM order_item i
                         WHERE i.order_id = $1 AND i.product_type = t.product_type AND i.product_id = t.product_id)
           ORDER BY t."order", t.id
           FOR KEY SHARE OF t"#,
    )
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?;
    if !templates.is_empty() {
        return Ok(templates
            .into_iter()
            .map(|(id, name, order, is_optional)| NewItem {
                description: name,
                order_index: order,
                is_optional,
                template_item_id: Some(id),
            })
            .collect());
    }
    let (order_number, contact): (String, String) = sqlx::query_as(
        "SELECT o.order_number, COALESCE(NULLIF(u.phone_number, ''), u.username)
         FROM orders o JOIN users u ON u.id = o.user_id WHERE o.id = $1",
    )
    .bind(order_id)
    .fetch_one(&mut *conn)
    .await?;
    let lines: Vec<(String, Option<String>, i32)> = sqlx::query_as(
        "SELECT i.product_type,
                CASE i.product_type WHEN 'package' THEN (SELECT name FROM package WHERE id = i.product_id)
                                    ELSE (SELECT name FROM campaign WHERE id = i.product_id) END,
                i.quantity
         FROM order_item i WHERE i.order_id = $1 ORDER BY i.id",
    )
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?;
    let lines: Vec<Line> = lines
        .into_iter()
        .map(|(product_type, name, quantity)| Line {
            product_type,
            name: name.unwrap_or_else(|| UNKNOWN_PRODUCT.to_string()),
            quantity,
        })
        .collect();
    Ok(default_descriptions(&order_number, &contact, &lines)
        .into_iter()
        .enumerate()
        .map(|(i, description)| NewItem {
            description,
            order_index: i32::try_from(i).unwrap_or(i32::MAX),
            is_optional: false,
            template_item_id: None,
        })
        .collect())
}

/// The order's checklist id, building the checklist (§7.5) when it has none. Runs in a
/// savepoint of the caller's transaction (or its own transaction), so the checklist and its
/// items appear together; a checklist made concurrently by someone else is returned as is
/// (`order_checklist.order_id` is unique).
pub async fn ensure(conn: &mut PgConnection, order_id: i64) -> Result<i64, sqlx::Error> {
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM order_checklist WHERE order_id = $1")
        .bind(order_id)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let mut tx = Connection::begin(&mut *conn).await?;
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO order_checklist (order_id) VALUES ($1) ON CONFLICT (order_id) DO NOTHING RETURNING id",
    )
    .bind(order_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = inserted else {
        // Another transaction built it and committed while we waited on the unique key.
        let id = sqlx::query_scalar("SELECT id FROM order_checklist WHERE order_id = $1")
            .bind(order_id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(id);
    };
    let items = plan(&mut tx, order_id).await?;
    let descriptions: Vec<&str> = items.iter().map(|i| i.description.as_str()).collect();
    let indexes: Vec<i32> = items.iter().map(|i| i.order_index).collect();
    let optional: Vec<bool> = items.iter().map(|i| i.is_optional).collect();
    let templates: Vec<Option<i64>> = items.iter().map(|i| i.template_item_id).collect();
    sqlx::query(
        "INSERT INTO checklist_item (checklist_id, description, order_index, is_optional, template_item_id)
         SELECT $1, v.description, v.order_index, v.is_optional, v.template_item_id
         FROM unnest($2::varchar[], $3::int[], $4::bool[], $5::bigint[]) WITH ORDINALITY
              AS v(description, order_index, is_optional, template_item_id, n)
         ORDER BY v.n",
    )
    .bind(id)
    .bind(&descriptions)
    .bind(&indexes)
    .bind(&optional)
    .bind(&templates)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The order's checklist, if it has one.
pub async fn load(pool: &PgPool, order_id: i64) -> Result<Option<Checklist>, sqlx::Error> {
    let head: Option<(i64, DateTime<Utc>)> =
        sqlx::query_as("SELECT id, created_at FROM order_checklist WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(pool)
            .await?;
    let Some((id, created_at)) = head else { return Ok(None) };
    let rows: Vec<ItemRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ITEM_SELECT} WHERE i.checklist_id = $1 ORDER BY i.order_index, i.id"
    )))
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(Some(Checklist { id, order_id, created_at, items: rows.into_iter().map(ChecklistItem::from).collect() }))
}

/// Whether `actor` may tick items of an order assigned to `assigned_to_id`: admins always,
/// anyone else only as the assignee.
fn may_tick(actor: &User, assigned_to_id: Option<i64>) -> bool {
    actor.role() == Role::Admin || assigned_to_id == Some(actor.id)
}

/// The checks of [`tick`] without the change: `NotFound` when there is no such item,
/// `Forbidden` when `actor` may not tick it.
pub async fn check_access(pool: &PgPool, item_id: i64, actor: &User) -> Result<(), TickError> {
    let assigned: Option<(Option<i64>,)> = sqlx::query_as(
        "SELECT o.assigned_to_id FROM checklist_item i
         JOIN order_checklist c ON c.id = i.checklist_id JOIN orders o ON o.id = c.order_id
         WHERE i.id = $1",
    )
    .bind(item_id)
    .fetch_optional(pool)
    .await?;
    match assigned {
        None => Err(TickError::NotFound),
        Some((assigned,)) if !may_tick(actor, assigned) => Err(TickError::Forbidden),
        Some(_) => Ok(()),
    }
}

/// The thresholds `progress` has reached.
fn reached(progress: i64) -> Vec<i16> {
    THRESHOLDS.into_iter().filter(|t| i64::from(*t) <= progress).collect()
}

#[derive(sqlx::FromRow)]
struct LockedOrder {
    id: i64,
    order_number: String,
    status: String,
    assigned_to_id: Option<i64>,
    checklist_id: i64,
}

/// Ticks (`completed`) or unticks an item as `actor`, in one transaction that first locks the
/// order row, so ticks of one checklist run one after another. Then (§7.1) progress > 0 moves an
/// `assigned` order to `in_progress`, progress 100 moves any other status to `completed` and
/// notifies the admins (`order_completed`); each threshold of [`THRESHOLDS`] reached for the
/// first time is announced to the admins (`progress_update`). Unticking never moves the status
/// back and never announces again.
pub async fn tick(pool: &PgPool, item_id: i64, completed: bool, actor: &User) -> Result<Ticked, TickError> {
    let mut tx = crate::db::begin(pool).await?;
    let order: Option<LockedOrder> = sqlx::query_as(
        "SELECT o.id, o.order_number, o.status, o.assigned_to_id, c.id AS checklist_id
         FROM checklist_item i JOIN order_checklist c ON c.id = i.checklist_id JOIN orders o ON o.id = c.order_id
         WHERE i.id = $1
         FOR UPDATE OF o",
    )
    .bind(item_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(order) = order else { return Err(TickError::NotFound) };
    if !may_tick(actor, order.assigned_to_id) {
        return Err(TickError::Forbidden);
    }
    let updated = sqlx::query(
        "UPDATE checklist_item
         SET completed = $2,
             completed_at = CASE WHEN $2 THEN now() END,
             completed_by_id = CASE WHEN $2 THEN $3::bigint END
         WHERE id = $1",
    )
    .bind(item_id)
    .bind(completed)
    .bind(actor.id)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(TickError::NotFound);
    }
    let item: ChecklistItem =
        sqlx::query_as::<_, ItemRow>(sqlx::AssertSqlSafe(format!("{ITEM_SELECT} WHERE i.id = $1")))
            .bind(item_id)
            .fetch_one(&mut *tx)
            .await?
            .into();
    let (total, done, required, done_required): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE completed), count(*) FILTER (WHERE NOT is_optional),
                count(*) FILTER (WHERE completed AND NOT is_optional)
         FROM checklist_item WHERE checklist_id = $1",
    )
    .bind(order.checklist_id)
    .fetch_one(&mut *tx)
    .await?;
    let progress = Progress::from_counts(total, done, required, done_required);
    let percent = progress.progress_percentage;

    let reason = format!("Checklist progress {percent}%");
    let mut status = order.status.clone();
    if percent > 0 && status == OrderStatus::Assigned.as_str() {
        set_status(&mut tx, order.id, &status, OrderStatus::InProgress, Actor::System, &reason, false).await?;
        status = OrderStatus::InProgress.as_str().to_string();
    }
    let mut completed_now = false;
    if percent >= 100 && status != OrderStatus::Completed.as_str() {
        set_status(&mut tx, order.id, &status, OrderStatus::Completed, Actor::System, &reason, false).await?;
        status = OrderStatus::Completed.as_str().to_string();
        completed_now = true;
    }

    let reached = reached(percent);
    if !reached.is_empty() {
        let mut fresh: Vec<i16> = sqlx::query_scalar(
            "INSERT INTO order_checklist_milestone (order_id, threshold)
             SELECT $1, t FROM unnest($2::smallint[]) AS t
             ON CONFLICT (order_id, threshold) DO NOTHING
             RETURNING threshold",
        )
        .bind(order.id)
        .bind(&reached)
        .fetch_all(&mut *tx)
        .await?;
        fresh.sort_unstable();
        for threshold in fresh {
            let message = format!("Order {} is now {threshold}% complete.", order.order_number);
            notify_admins(&mut tx, "progress_update", "Order Progress Update", &message, Some(order.id)).await?;
        }
    }
    if completed_now {
        let phone: Option<String> = match order.assigned_to_id {
            Some(id) => sqlx::query_scalar("SELECT phone_number FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .flatten(),
            None => None,
        };
        let by = phone.filter(|p| !p.is_empty()).unwrap_or_else(|| "staff".to_string());
        let message = format!("Order {} has been completed by {by}.", order.order_number);
        notify_admins(&mut tx, "order_completed", "Order Completed", &message, Some(order.id)).await?;
    }
    tx.commit().await?;
    Ok(Ticked { order_id: order.id, item, progress, order_status: status })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(completed: bool, is_optional: bool) -> ChecklistItem {
        ChecklistItem {
            id: 1,
            description: String::new(),
            completed,
            completed_at: None,
            completed_by: None,
            order_index: 0,
            is_optional,
            template_item_id: None,
        }
    }

    #[test]
    fn progress_counts_required_items_and_floors() {
        assert_eq!(Progress::of(&[]).progress_percentage, 0);
        // 1 of 3 required done → 33; the optional one does not count.
        let items = [item(true, false), item(false, false), item(false, false), item(true, true)];
        assert_eq!(Progress::of(&items), Progress::from_counts(4, 2, 3, 1));
        assert_eq!(Progress::of(&items).progress_percentage, 33);
        // Only optional items: completed ÷ all.
        let optional = [item(true, true), item(false, true), item(false, true)];
        assert_eq!(Progress::of(&optional).progress_percentage, 33);
        assert_eq!(Progress::from_counts(12, 11, 12, 11).progress_percentage, 91);
        assert_eq!(Progress::from_counts(12, 12, 12, 12).progress_percentage, 100);
    }

    #[test]
    fn thresholds_reached() {
        assert!(reached(0).is_empty());
        assert!(reached(24).is_empty());
        assert_eq!(reached(50), vec![25, 50]);
        assert_eq!(reached(99), vec![25, 50, 75]);
        assert_eq!(reached(100), vec![25, 50, 75, 100]);
    }

    #[test]
    fn default_list_has_the_exact_texts() {
        let lines = [
            Line { product_type: "package".into(), name: "Kit".into(), quantity: 2 },
            Line { product_type: "campaign".into(), name: "SMS".into(), quantity: 1000 },
        ];
        let got = default_descriptions("EC-1", "9876543210", &lines);
        let expected = [
            "Review order EC-1 details and requirements",
            "Contact customer at 9876543210 to confirm order",
            "Review uploaded resources for Kit (Qty: 2)",
            "Prepare all components for Kit",
            "Customize materials with candidate information for Kit",
            "Schedule delivery/installation for Kit",
            "Coordinate with technical team for setup of Kit",
            "Complete delivery and setup of Kit",
            "Provide training/documentation for Kit",
            "Review uploaded resources for SMS (Qty: 1000)",
            "Schedule campaign execution for SMS",
            "Coordinate with field team for SMS",
            "Prepare campaign materials for SMS",
            "Execute campaign activities for SMS",
            "Document campaign execution and results for SMS",
            "Provide campaign report to customer for SMS",
            "Conduct final quality check on all deliverables",
            "Contact customer for final approval and feedback",
            "Mark order as completed and archive documentation",
        ];
        assert_eq!(got, expected);
        assert_eq!(default_descriptions("EC-2", "bob", &[]).len(), 5);
    }
}

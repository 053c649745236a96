//! Checklist template items of a product (`checklist_template_item`, API.md §4.9, §7.5): the
//! tasks an order's checklist is built from.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgExecutor, PgPool};

use super::ProductType;

/// A row of `checklist_template_item`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TemplateItem {
    /// Id.
    pub id: i64,
    /// `package` or `campaign`.
    pub product_type: String,
    /// Id of the product.
    pub product_id: i64,
    /// Task name (≤ 200 characters); becomes the checklist item's description.
    pub name: String,
    /// Longer explanation.
    pub description: String,
    /// Position among the product's items; ties are broken by id.
    pub order: i32,
    /// Optional tasks do not count towards required progress.
    pub is_optional: bool,
    /// Expected effort, if known.
    pub estimated_duration_minutes: Option<i32>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str =
    r#"id, product_type, product_id, name, description, "order", is_optional, estimated_duration_minutes, created_at"#;

/// Fields of a new template item.
#[derive(Debug, Clone)]
pub struct NewTemplateItem {
    /// Task name.
    pub name: String,
    /// Explanation.
    pub description: String,
    /// Position; `None` → after the product's last item (0 when it has none).
    pub order: Option<i32>,
    /// Optional task.
    pub is_optional: bool,
    /// Expected effort.
    pub estimated_duration_minutes: Option<i32>,
}

/// A change to a template item: `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct TemplatePatch {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New position.
    pub order: Option<i32>,
    /// New optional flag.
    pub is_optional: Option<bool>,
    /// New effort; `Some(None)` clears it.
    pub estimated_duration_minutes: Option<Option<i32>>,
}

/// What a delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The row is gone.
    Deleted,
    /// No such row.
    NotFound,
    /// An order's checklist item refers to it (`checklist_item_template_item_id_fkey`).
    InUse,
}

/// The product's items by `order`, then id.
pub async fn list<'e>(
    db: impl PgExecutor<'e>,
    kind: ProductType,
    product_id: i64,
) -> Result<Vec<TemplateItem>, sqlx::Error> {
    sqlx::query_as::<_, TemplateItem>(AssertSqlSafe(format!(
        r#"SELECT {COLUMNS} FROM checklist_template_item
           WHERE product_type = $1 AND product_id = $2 ORDER BY "order", id"#
    )))
    .bind(kind.as_str())
    .bind(product_id)
    .fetch_all(db)
    .await
}

/// One item by id.
pub async fn find<'e>(db: impl PgExecutor<'e>, id: i64) -> Result<Option<TemplateItem>, sqlx::Error> {
    sqlx::query_as::<_, TemplateItem>(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM checklist_template_item WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Adds an item to a product; `None` when the product does not exist. One statement: the
/// product row is key-share locked while the item is inserted, so a concurrent product delete
/// cannot leave the item orphaned, and the default `order` is computed in the same statement.
pub async fn create<'e>(
    db: impl PgExecutor<'e>,
    kind: ProductType,
    product_id: i64,
    new: &NewTemplateItem,
) -> Result<Option<TemplateItem>, sqlx::Error> {
    let table = kind.table();
    sqlx::query_as::<_, TemplateItem>(AssertSqlSafe(format!(
        r#"INSERT INTO checklist_template_item
               (product_type, product_id, name, description, "order", is_optional, estimated_duration_minutes)
           SELECT $1, $2, $3, $4,
                  COALESCE($5, (SELECT LEAST(COALESCE(MAX(t."order")::bigint + 1, 0), 2147483647)::int
                                FROM checklist_template_item t
                                WHERE t.product_type = $1 AND t.product_id = $2)),
                  $6, $7
           WHERE EXISTS (SELECT 1 FROM {table} WHERE id = $2 FOR KEY SHARE)
           RETURNING {COLUMNS}"#
    )))
    .bind(kind.as_str())
    .bind(product_id)
    .bind(&new.name)
    .bind(&new.description)
    .bind(new.order)
    .bind(new.is_optional)
    .bind(new.estimated_duration_minutes)
    .fetch_optional(db)
    .await
}

/// Applies a change; `None` when the item does not exist.
pub async fn update<'e>(
    db: impl PgExecutor<'e>,
    id: i64,
    patch: &TemplatePatch,
) -> Result<Option<TemplateItem>, sqlx::Error> {
    let (set_duration, duration) = match patch.estimated_duration_minutes {
        Some(v) => (true, v),
        None => (false, None),
    };
    sqlx::query_as::<_, TemplateItem>(AssertSqlSafe(format!(
        r#"UPDATE checklist_template_item SET
               name = COALESCE($2, name),
               description = COALESCE($3, description),
               "order" = COALESCE($4, "order"),
               is_optional = COALESCE($5, is_optional),
               estimated_duration_minutes = CASE WHEN $6 THEN $7 ELSE estimated_duration_minutes END
           WHERE id = $1
           RETURNING {COLUMNS}"#
    )))
    .bind(id)
    .bind(&patch.name)
    .bind(&patch.description)
    .bind(patch.order)
    .bind(patch.is_optional)
    .bind(set_duration)
    .bind(duration)
    .fetch_optional(db)
    .await
}

/// Deletes an item unless an order checklist refers to it. The foreign key (`ON DELETE
/// RESTRICT`) decides, in the delete itself, so no checklist can be created in between.
pub async fn delete<'e>(db: impl PgExecutor<'e>, id: i64) -> Result<DeleteOutcome, sqlx::Error> {
    match sqlx::query("DELETE FROM checklist_template_item WHERE id = $1").bind(id).execute(db).await {
        Ok(done) if done.rows_affected() == 0 => Ok(DeleteOutcome::NotFound),
        Ok(_) => Ok(DeleteOutcome::Deleted),
        Err(e) if is_fk_violation(&e, "checklist_item_template_item_id_fkey") => Ok(DeleteOutcome::InUse),
        Err(e) => Err(e),
    }
}

/// Sets each `(id, order)` in one transaction and returns the items (by `order`, then id);
/// `None`, with nothing changed, when any id does not exist. A repeated id takes its last order.
pub async fn reorder(pool: &PgPool, orders: &[(i64, i32)]) -> Result<Option<Vec<TemplateItem>>, sqlx::Error> {
    let (ids, positions) = last_wins(orders);
    let mut tx = crate::db::begin(pool).await?;
    let updated = sqlx::query(
        r#"UPDATE checklist_template_item t SET "order" = v.position
           FROM unnest($1::bigint[], $2::int[]) AS v(id, position)
           WHERE t.id = v.id"#,
    )
    .bind(&ids)
    .bind(&positions)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated != ids.len() as u64 {
        tx.rollback().await?;
        return Ok(None);
    }
    let items = sqlx::query_as::<_, TemplateItem>(AssertSqlSafe(format!(
        r#"SELECT {COLUMNS} FROM checklist_template_item WHERE id = ANY($1) ORDER BY "order", id"#
    )))
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(items))
}

/// Distinct ids with the last position given for each, in first-seen order.
pub(crate) fn last_wins(orders: &[(i64, i32)]) -> (Vec<i64>, Vec<i32>) {
    let mut index: HashMap<i64, usize> = HashMap::with_capacity(orders.len());
    let mut ids: Vec<i64> = Vec::with_capacity(orders.len());
    let mut positions: Vec<i32> = Vec::with_capacity(orders.len());
    for &(id, position) in orders {
        match index.get(&id) {
            Some(&i) => positions[i] = position,
            None => {
                index.insert(id, ids.len());
                ids.push(id);
                positions.push(position);
            }
        }
    }
    (ids, positions)
}

/// True when the error is a foreign-key violation of the named constraint.
pub(crate) fn is_fk_violation(err: &sqlx::Error, constraint: &str) -> bool {
    match err {
        sqlx::Error::Database(db) => db.is_foreign_key_violation() && db.constraint() == Some(constraint),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::last_wins;

    #[test]
    fn repeated_ids_keep_their_last_position() {
        assert_eq!(last_wins(&[(3, 0), (1, 1), (3, 2)]), (vec![3, 1], vec![2, 1]));
        assert_eq!(last_wins(&[]), (vec![], vec![]));
    }
}

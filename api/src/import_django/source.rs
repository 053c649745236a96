//! Reading the Django database, inside the caller's read-only snapshot.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection};

use super::SourceRow;

/// Tables the importer reads; a database without them is not the original's.
const REQUIRED: [&str; 5] =
    ["authentication_customuser", "django_content_type", "products_package", "orders_order", "orders_paymenthistory"];

/// Refuses a source that is not the original's schema.
pub async fn check_schema(src: &mut PgConnection) -> anyhow::Result<()> {
    for table in REQUIRED {
        let found: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
            .bind(format!("public.{table}"))
            .fetch_one(&mut *src)
            .await?;
        anyhow::ensure!(found.is_some(), "the source has no table {table}: is --from the Django backend's database?");
    }
    Ok(())
}

/// `django_content_type` id → `package` / `campaign` (app `products`); other content types are
/// absent from the map.
pub async fn content_types(src: &mut PgConnection) -> anyhow::Result<HashMap<i64, &'static str>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id::bigint, model FROM public.django_content_type WHERE app_label = 'products' AND model IN ('package', 'campaign')",
    )
    .fetch_all(&mut *src)
    .await?;
    Ok(rows.into_iter().map(|(id, model)| (id, if model == "package" { "package" } else { "campaign" })).collect())
}

/// Rows in a source table (0 when the table does not exist).
pub async fn count(src: &mut PgConnection, table: &str) -> anyhow::Result<u64> {
    let exists: Option<String> =
        sqlx::query_scalar("SELECT to_regclass($1)::text").bind(format!("public.{table}")).fetch_one(&mut *src).await?;
    if exists.is_none() {
        return Ok(0);
    }
    // `table` is one of the importer's own constants, never input.
    let n: i64 =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM public.{table}"))).fetch_one(&mut *src).await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The next batch of a step's query (`$1` = last id read, `$2` = batch size), in id order.
pub async fn batch(
    src: &mut PgConnection,
    sql: &'static str,
    after: i64,
    size: usize,
) -> anyhow::Result<Vec<SourceRow>> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as(sql).bind(after).bind(i64::try_from(size).unwrap_or(500)).fetch_all(&mut *src).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, text) in rows {
        match serde_json::from_str::<Value>(&text)? {
            Value::Object(map) => out.push((id, map)),
            _ => anyhow::bail!("row {id} did not read as an object"),
        }
    }
    Ok(out)
}

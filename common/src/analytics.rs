//! The analytics figures (API.md §7.8), exact to the paisa and fast at millions of orders.
//!
//! A date range is split into the whole Asia/Kolkata days it covers, summed from the rollups
//! the database triggers keep (migration `20261207000001_analytics.sql`), and the parts of a day
//! at either end, read from the orders through partial indexes. Sums are taken in SQL `numeric`
//! and returned in paise.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Asia::Kolkata;
use sqlx::PgPool;

/// A paid order (§7.8) of the table alias `$o`, written as the partial index
/// `orders_paid_at_idx` writes it so the planner uses it; a literal, so the queries stay `'static`.
macro_rules! paid {
    ($o:literal) => {
        concat!(
            $o,
            ".payment_completed_at IS NOT NULL AND ",
            $o,
            ".status IN ('ready_for_processing', 'assigned', 'in_progress', 'completed')"
        )
    };
}

/// An inclusive range of instants: `start ≤ t ≤ end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First instant counted.
    pub start: DateTime<Utc>,
    /// Last instant counted.
    pub end: DateTime<Utc>,
}

/// Midnight starting an Asia/Kolkata day (India keeps no daylight saving time).
fn midnight(day: NaiveDate) -> DateTime<Utc> {
    match Kolkata.from_local_datetime(&day.and_time(NaiveTime::MIN)).earliest() {
        Some(t) => t.with_timezone(&Utc),
        None => Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN)) - Duration::minutes(330),
    }
}

/// The Asia/Kolkata day of an instant.
pub fn ist_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&Kolkata).date_naive()
}

/// The first day of `day`'s month.
fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// A range as the rollups read it: whole days `[from, to)` and two half-open stretches of raw
/// orders before and after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Split {
    from: NaiveDate,
    to: NaiveDate,
    head: (DateTime<Utc>, DateTime<Utc>),
    tail: (DateTime<Utc>, DateTime<Utc>),
}

impl Range {
    fn split(self) -> Split {
        // Half-open: [start, end + 1 µs).
        let end = self.end + Duration::microseconds(1);
        let first = ist_day(self.start);
        let from = if midnight(first) == self.start { first } else { first.succ_opt().unwrap_or(first) };
        let to = ist_day(end);
        if self.start >= end {
            return Split { from, to: from, head: (self.start, self.start), tail: (self.start, self.start) };
        }
        if from >= to {
            return Split { from, to: from, head: (self.start, end), tail: (end, end) };
        }
        Split { from, to, head: (self.start, midnight(from)), tail: (midnight(to), end) }
    }

    /// The calendar months (Asia/Kolkata) the range touches, each as its first day.
    pub fn months(self) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        if self.start > self.end {
            return out;
        }
        let last = month_of(ist_day(self.end));
        let mut m = month_of(ist_day(self.start));
        while m <= last {
            out.push(m);
            m = m.checked_add_months(chrono::Months::new(1)).unwrap_or(NaiveDate::MAX);
        }
        out
    }
}

/// Revenue of paid orders by `payment_completed_at` (§7.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Revenue {
    /// Σ `total_amount`, paise.
    pub total: i64,
    /// Paid orders.
    pub orders: i64,
}

impl Revenue {
    /// The mean order value in paise, rounded half up (0 without orders).
    pub fn average(&self) -> i64 {
        if self.orders == 0 {
            return 0;
        }
        let (q, r) = (self.total / self.orders, self.total % self.orders);
        q + i64::from(2 * r.abs() >= self.orders) * self.total.signum()
    }
}

/// Paid orders' revenue in the range.
pub async fn revenue(pool: &PgPool, range: Range) -> Result<Revenue, sqlx::Error> {
    let s = range.split();
    let sql = concat!(
        "SELECT coalesce(sum(orders), 0)::bigint, coalesce(sum(revenue) * 100, 0)::bigint FROM (
            SELECT orders, revenue FROM analytics_paid_day WHERE day >= $1 AND day < $2
            UNION ALL
            SELECT 1, o.total_amount FROM orders o WHERE ",
        paid!("o"),
        " AND o.payment_completed_at >= $3 AND o.payment_completed_at < $4
            UNION ALL
            SELECT 1, o.total_amount FROM orders o WHERE ",
        paid!("o"),
        " AND o.payment_completed_at >= $5 AND o.payment_completed_at < $6
        ) x"
    );
    let (orders, total): (i64, i64) = sqlx::query_as(sql)
        .bind(s.from)
        .bind(s.to)
        .bind(s.head.0)
        .bind(s.head.1)
        .bind(s.tail.0)
        .bind(s.tail.1)
        .fetch_one(pool)
        .await?;
    Ok(Revenue { total, orders })
}

/// One calendar month of revenue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthRevenue {
    /// The month's first day.
    pub month: NaiveDate,
    /// Σ `total_amount` of the month's paid orders in the range, paise.
    pub total: i64,
    /// Paid orders.
    pub orders: i64,
}

/// Paid orders' revenue per Asia/Kolkata calendar month, every month the range touches (months
/// without orders as zero), oldest first.
pub async fn monthly_revenue(pool: &PgPool, range: Range) -> Result<Vec<MonthRevenue>, sqlx::Error> {
    let s = range.split();
    let sql = concat!(
        "SELECT month, sum(orders)::bigint, (sum(revenue) * 100)::bigint FROM (
            SELECT date_trunc('month', day)::date AS month, orders, revenue
            FROM analytics_paid_day WHERE day >= $1 AND day < $2
            UNION ALL
            SELECT date_trunc('month', analytics_day(o.payment_completed_at))::date, 1, o.total_amount
            FROM orders o WHERE ",
        paid!("o"),
        " AND o.payment_completed_at >= $3 AND o.payment_completed_at < $4
            UNION ALL
            SELECT date_trunc('month', analytics_day(o.payment_completed_at))::date, 1, o.total_amount
            FROM orders o WHERE ",
        paid!("o"),
        " AND o.payment_completed_at >= $5 AND o.payment_completed_at < $6
        ) x GROUP BY month"
    );
    let rows: Vec<(NaiveDate, i64, i64)> = sqlx::query_as(sql)
        .bind(s.from)
        .bind(s.to)
        .bind(s.head.0)
        .bind(s.head.1)
        .bind(s.tail.0)
        .bind(s.tail.1)
        .fetch_all(pool)
        .await?;
    let found: BTreeMap<NaiveDate, (i64, i64)> = rows.into_iter().map(|(m, o, t)| (m, (o, t))).collect();
    Ok(range
        .months()
        .into_iter()
        .map(|month| {
            let (orders, total) = found.get(&month).copied().unwrap_or_default();
            MonthRevenue { month, total, orders }
        })
        .collect())
}

/// Orders created in a range (§7.8 conversion and distribution).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Created {
    /// Orders per status (only statuses with orders).
    pub by_status: BTreeMap<String, i64>,
    /// All orders.
    pub total: i64,
    /// Orders with `payment_completed_at` set.
    pub paid: i64,
}

/// Orders by `created_at` in the range.
pub async fn created(pool: &PgPool, range: Range) -> Result<Created, sqlx::Error> {
    let s = range.split();
    let rows: Vec<(String, bool, i64)> = sqlx::query_as(
        "SELECT status, paid, sum(orders)::bigint FROM (
            SELECT status, paid, orders FROM analytics_created_day WHERE day >= $1 AND day < $2
            UNION ALL
            SELECT status, payment_completed_at IS NOT NULL, 1 FROM orders WHERE created_at >= $3 AND created_at < $4
            UNION ALL
            SELECT status, payment_completed_at IS NOT NULL, 1 FROM orders WHERE created_at >= $5 AND created_at < $6
        ) x GROUP BY status, paid HAVING sum(orders) <> 0",
    )
    .bind(s.from)
    .bind(s.to)
    .bind(s.head.0)
    .bind(s.head.1)
    .bind(s.tail.0)
    .bind(s.tail.1)
    .fetch_all(pool)
    .await?;
    let mut out = Created::default();
    for (status, paid, n) in rows {
        *out.by_status.entry(status).or_default() += n;
        out.total += n;
        if paid {
            out.paid += n;
        }
    }
    Ok(out)
}

/// A product's sales.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSales {
    /// `package` or `campaign`.
    pub product_type: String,
    /// The product's id.
    pub product_id: i64,
    /// Its name; `None` when the product was deleted.
    pub name: Option<String>,
    /// Σ quantity.
    pub quantity: i64,
    /// Σ price × quantity, paise.
    pub revenue: i64,
}

/// The lines of paid orders (by `payment_completed_at`) per product, most sold first (then
/// highest revenue, then type and id), at most `limit`.
pub async fn top_products(pool: &PgPool, range: Range, limit: i64) -> Result<Vec<ProductSales>, sqlx::Error> {
    let s = range.split();
    let sql = concat!(
        "SELECT t.product_type::text, t.product_id, coalesce(p.name, c.name)::text, t.quantity, t.revenue FROM (
            SELECT product_type, product_id, sum(quantity)::bigint AS quantity,
                   (sum(revenue) * 100)::bigint AS revenue
            FROM (
                SELECT product_type, product_id, quantity, revenue
                FROM analytics_product_day WHERE day >= $1 AND day < $2
                UNION ALL
                SELECT i.product_type, i.product_id, i.quantity, i.price * i.quantity
                FROM orders o JOIN order_item i ON i.order_id = o.id
                WHERE ",
        paid!("o"),
        " AND o.payment_completed_at >= $3 AND o.payment_completed_at < $4
                UNION ALL
                SELECT i.product_type, i.product_id, i.quantity, i.price * i.quantity
                FROM orders o JOIN order_item i ON i.order_id = o.id
                WHERE ",
        paid!("o"),
        " AND o.payment_completed_at >= $5 AND o.payment_completed_at < $6
            ) x
            GROUP BY product_type, product_id
            HAVING sum(quantity) <> 0 OR sum(revenue) <> 0
            ORDER BY quantity DESC, revenue DESC, product_type, product_id
            LIMIT $7
        ) t
        LEFT JOIN package p ON t.product_type = 'package' AND p.id = t.product_id
        LEFT JOIN campaign c ON t.product_type = 'campaign' AND c.id = t.product_id
        ORDER BY t.quantity DESC, t.revenue DESC, t.product_type, t.product_id"
    );
    let rows: Vec<(String, i64, Option<String>, i64, i64)> = sqlx::query_as(sql)
        .bind(s.from)
        .bind(s.to)
        .bind(s.head.0)
        .bind(s.head.1)
        .bind(s.tail.0)
        .bind(s.tail.1)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(product_type, product_id, name, quantity, revenue)| ProductSales {
            product_type,
            product_id,
            name,
            quantity,
            revenue,
        })
        .collect())
}

/// A staff member's orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffFigures {
    /// User id.
    pub id: i64,
    /// Username.
    pub username: String,
    /// Phone number.
    pub phone_number: Option<String>,
    /// `staff` or `admin`.
    pub role: String,
    /// Orders assigned to them, by `updated_at` in the range.
    pub assigned: i64,
    /// Of those, completed.
    pub completed: i64,
}

/// Every staff and admin user with the orders assigned to them whose `updated_at` is in the
/// range; most assigned first, then by id.
pub async fn staff(pool: &PgPool, range: Range) -> Result<Vec<StaffFigures>, sqlx::Error> {
    let s = range.split();
    let rows: Vec<(i64, String, Option<String>, String, i64, i64)> = sqlx::query_as(
        "SELECT u.id, u.username::text, u.phone_number::text, u.role::text,
                coalesce(a.assigned, 0), coalesce(a.completed, 0)
         FROM users u
         LEFT JOIN (
             SELECT staff_id, sum(orders)::bigint AS assigned,
                    coalesce(sum(orders) FILTER (WHERE completed), 0)::bigint AS completed
             FROM (
                 SELECT staff_id, completed, orders FROM analytics_staff_day WHERE day >= $1 AND day < $2
                 UNION ALL
                 SELECT assigned_to_id, status = 'completed', 1 FROM orders
                 WHERE assigned_to_id IS NOT NULL AND updated_at >= $3 AND updated_at < $4
                 UNION ALL
                 SELECT assigned_to_id, status = 'completed', 1 FROM orders
                 WHERE assigned_to_id IS NOT NULL AND updated_at >= $5 AND updated_at < $6
             ) x
             GROUP BY staff_id
         ) a ON a.staff_id = u.id
         WHERE u.role IN ('staff', 'admin')
         ORDER BY coalesce(a.assigned, 0) DESC, u.id",
    )
    .bind(s.from)
    .bind(s.to)
    .bind(s.head.0)
    .bind(s.head.1)
    .bind(s.tail.0)
    .bind(s.tail.1)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, username, phone_number, role, assigned, completed)| StaffFigures {
            id,
            username,
            phone_number,
            role,
            assigned,
            completed,
        })
        .collect())
}

/// `part ÷ whole × 100` in hundredths of a percent, rounded half up (0 when `whole` is 0).
pub fn rate_hundredths(part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        return 0;
    }
    let scaled = i128::from(part) * 10_000;
    let whole = i128::from(whole);
    i64::try_from((2 * scaled + whole) / (2 * whole)).unwrap_or(i64::MAX)
}

/// Folds the rollups' rows (the triggers only insert); run by the hourly housekeeping job.
pub async fn compact(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT analytics_compact()").execute(pool).await?;
    Ok(())
}

/// Builds the rollups again from the orders (after a bulk load made with triggers off).
pub async fn rebuild(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT analytics_rebuild()").execute(pool).await?;
    Ok(())
}

/// The first instant of the month `t` falls in, in UTC (the default start of §4.10).
pub fn utc_month_start(t: DateTime<Utc>) -> DateTime<Utc> {
    let day = t.date_naive().with_day(1).unwrap_or(t.date_naive());
    Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN))
}

/// Midnight (Asia/Kolkata) of a day.
pub fn ist_midnight(day: NaiveDate) -> DateTime<Utc> {
    midnight(day)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_range_splits_into_whole_ist_days_and_raw_ends() {
        // 1 Nov 00:00 UTC = 05:30 IST: 1 Nov is partial; whole days 2 Nov … 5 Nov.
        let r = Range { start: at("2026-11-01T00:00:00Z"), end: at("2026-11-06T01:00:00Z") };
        let s = r.split();
        assert_eq!((s.from, s.to), (d("2026-11-02"), d("2026-11-06")));
        assert_eq!(s.head, (r.start, at("2026-11-01T18:30:00Z")));
        assert_eq!(s.tail, (at("2026-11-05T18:30:00Z"), at("2026-11-06T01:00:00.000001Z")));
        // From IST midnight to the last microsecond of a day: whole days only.
        let r = Range { start: at("2026-10-31T18:30:00Z"), end: at("2026-11-02T18:29:59.999999Z") };
        let s = r.split();
        assert_eq!((s.from, s.to), (d("2026-11-01"), d("2026-11-03")));
        assert_eq!(s.head.0, s.head.1);
        assert_eq!(s.tail.0, s.tail.1);
        // Inside one day: raw only.
        let r = Range { start: at("2026-11-01T01:00:00Z"), end: at("2026-11-01T02:00:00Z") };
        let s = r.split();
        assert_eq!(s.from, s.to);
        assert_eq!(s.head, (r.start, at("2026-11-01T02:00:00.000001Z")));
        // Reversed: nothing.
        let s = Range { start: r.end, end: r.start }.split();
        assert_eq!((s.from, s.head.0), (s.to, s.head.1));
    }

    #[test]
    fn months_cover_the_range_in_ist() {
        let r = Range { start: at("2025-12-31T18:30:00Z"), end: at("2026-02-01T00:00:00Z") };
        assert_eq!(r.months(), vec![d("2026-01-01"), d("2026-02-01")]);
    }

    #[test]
    fn rates_and_averages_round_half_up() {
        assert_eq!(rate_hundredths(2, 3), 6667);
        assert_eq!(rate_hundredths(1, 8), 1250);
        assert_eq!(rate_hundredths(0, 0), 0);
        assert_eq!(Revenue { total: 1001, orders: 2 }.average(), 501);
        assert_eq!(Revenue { total: 1000, orders: 3 }.average(), 333);
        assert_eq!(Revenue::default().average(), 0);
    }
}

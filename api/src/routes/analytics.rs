//! Analytics for the admin app (API.md §4.10, §5 #4, §7.8): role admin only, figures from
//! [`common::analytics`] (rollups kept by triggers, so every route is a handful of index reads
//! at any number of orders), money as JSON numbers exact to the paisa.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Asia::Kolkata;
use common::analytics::{self, Created, MonthRevenue, ProductSales, Range, Revenue, StaffFigures};
use common::orders::OrderStatus;
use serde::{Deserialize, Serialize, Serializer};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::secure_files::FileBytes;
use crate::error::{ApiError, ApiResult};
use crate::extract::Admin;
use crate::state::AppState;
use crate::views::Num;

/// The analytics routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(dashboard))
        .routes(routes!(overview))
        .routes(routes!(revenue_trend))
        .routes(routes!(top_products))
        .routes(routes!(staff_performance))
        .routes(routes!(order_distribution))
        .routes(routes!(export))
}

/// `?start_date&end_date`: an ISO date (`2026-11-01`, Asia/Kolkata: a start date from its
/// midnight, an end date to its last instant) or date-time (`2026-11-01T10:00:00`, with `Z` or
/// an offset; without one Asia/Kolkata).
#[derive(Debug, Default, Deserialize, IntoParams)]
struct Dates {
    /// Start (default: the 1st of the current month, 00:00 UTC).
    start_date: Option<String>,
    /// End (default: now).
    end_date: Option<String>,
}

/// `?months` of the trend.
#[derive(Debug, Deserialize, IntoParams)]
struct TrendQuery {
    /// 1–24 (default 12): the trend covers the last `months` × 30 days.
    months: Option<String>,
}

/// `?limit` and the dates of the top products.
#[derive(Debug, Deserialize, IntoParams)]
struct TopQuery {
    /// 1–100 (default 5).
    limit: Option<String>,
    /// As [`Dates`].
    start_date: Option<String>,
    /// As [`Dates`].
    end_date: Option<String>,
}

/// A percentage with two places, as a JSON number (`66.67`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(value_type = f64, example = 66.67)]
pub struct Percent(pub i64);

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.0 as f64 / 100.0).serialize(s)
    }
}

impl Percent {
    fn of(part: i64, whole: i64) -> Self {
        Percent(analytics::rate_hundredths(part, whole))
    }

    fn text(self) -> String {
        format!("{}.{:02}%", self.0 / 100, self.0 % 100)
    }
}

/// `{success: true, data}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Envelope<T> {
    /// Always true.
    pub success: bool,
    /// The figures.
    pub data: T,
}

fn ok<T>(data: T) -> Json<Envelope<T>> {
    Json(Envelope { success: true, data })
}

/// Revenue of paid orders by payment time.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RevenueFigures {
    /// Σ total_amount.
    pub total_revenue: Num,
    /// Paid orders.
    pub order_count: i64,
    /// Mean total_amount (0 without orders).
    pub average_order_value: Num,
}

impl From<Revenue> for RevenueFigures {
    fn from(r: Revenue) -> Self {
        Self { total_revenue: Num(r.total), order_count: r.orders, average_order_value: Num(r.average()) }
    }
}

/// Orders by creation time that were paid.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Conversion {
    /// Orders created in the range.
    pub total_orders: i64,
    /// Of those, with payment_completed_at set.
    pub paid_orders: i64,
    /// paid ÷ total × 100, two places.
    pub conversion_rate: Percent,
}

impl From<&Created> for Conversion {
    fn from(c: &Created) -> Self {
        Self { total_orders: c.total, paid_orders: c.paid, conversion_rate: Percent::of(c.paid, c.total) }
    }
}

/// One status of the distribution.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusCount {
    /// §7.1 label.
    pub label: String,
    /// Orders created in the range with this status now.
    pub count: i64,
}

/// `{<status>: {label, count}}` for every status, keys sorted.
fn distribution(c: &Created) -> BTreeMap<String, StatusCount> {
    OrderStatus::ALL
        .iter()
        .map(|s| {
            let count = c.by_status.get(s.as_str()).copied().unwrap_or(0);
            (s.as_str().to_string(), StatusCount { label: s.label().to_string(), count })
        })
        .collect()
}

/// The range the figures cover.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DateRange {
    /// ISO 8601, UTC.
    pub start_date: String,
    /// ISO 8601, UTC.
    pub end_date: String,
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// The overview's figures.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OverviewData {
    /// Revenue.
    pub revenue: RevenueFigures,
    /// Conversion.
    pub conversion: Conversion,
    /// `{<status>: {label, count}}`.
    pub order_distribution: BTreeMap<String, StatusCount>,
    /// The range.
    pub date_range: DateRange,
}

/// A month of the trend.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrendMonth {
    /// `YYYY-MM`.
    pub month: String,
    /// `November 2025`.
    pub month_label: String,
    /// Σ total_amount of the month's paid orders.
    pub revenue: Num,
    /// Paid orders.
    pub order_count: i64,
}

impl From<MonthRevenue> for TrendMonth {
    fn from(m: MonthRevenue) -> Self {
        Self {
            month: m.month.format("%Y-%m").to_string(),
            month_label: m.month.format("%B %Y").to_string(),
            revenue: Num(m.total),
            order_count: m.orders,
        }
    }
}

/// A product's sales.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TopProduct {
    /// Product id.
    pub product_id: i64,
    /// `package`, `campaign`, or `unknown` for a deleted product.
    pub product_type: String,
    /// Name, or `Unknown Product`.
    pub product_name: String,
    /// Σ quantity.
    pub quantity_sold: i64,
    /// Σ price × quantity.
    pub revenue: Num,
}

impl From<ProductSales> for TopProduct {
    fn from(p: ProductSales) -> Self {
        let (product_type, product_name) = match p.name {
            Some(name) => (p.product_type, name),
            None => ("unknown".to_string(), "Unknown Product".to_string()),
        };
        Self {
            product_id: p.product_id,
            product_type,
            product_name,
            quantity_sold: p.quantity,
            revenue: Num(p.revenue),
        }
    }
}

/// A staff member's figures.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StaffPerformance {
    /// User id.
    pub staff_id: i64,
    /// Username.
    pub staff_name: String,
    /// Phone number.
    pub phone_number: Option<String>,
    /// `staff` or `admin`.
    pub role: String,
    /// Orders assigned to them, by updated_at in the range.
    pub assigned_orders: i64,
    /// Of those, completed.
    pub completed_orders: i64,
    /// completed ÷ assigned × 100, two places.
    pub completion_rate: Percent,
}

impl From<StaffFigures> for StaffPerformance {
    fn from(s: StaffFigures) -> Self {
        Self {
            staff_id: s.id,
            staff_name: s.username,
            phone_number: s.phone_number,
            role: s.role,
            assigned_orders: s.assigned,
            completed_orders: s.completed,
            completion_rate: Percent::of(s.completed, s.assigned),
        }
    }
}

/// The admin app's analytics page (§5 #4).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Dashboard {
    /// Revenue of the current month.
    pub total_revenue: Num,
    /// Orders created this month.
    pub total_orders: i64,
    /// Mean paid order value this month.
    pub avg_order_value: Num,
    /// Completed ÷ orders created this month × 100.
    pub completion_rate: Percent,
    /// The last six calendar months, oldest first.
    pub revenue_trend: Vec<DashboardMonth>,
    /// Orders created this month per status.
    pub order_distribution: Vec<DashboardStatus>,
}

/// A month of the page's trend.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DashboardMonth {
    /// `Jan` … `Dec`.
    pub date: String,
    /// Revenue.
    pub revenue: Num,
}

/// A status of the page's distribution.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DashboardStatus {
    /// §7.1 label.
    pub status: String,
    /// Orders.
    pub count: i64,
}

/// Which route parses the dates: the overview's message says which formats it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wording {
    Overview,
    Plain,
}

/// Parses an ISO date or date-time. A `+` of an offset sent unencoded arrives as a space and is
/// read as `+`. `end` makes a bare date mean its last instant.
fn parse_instant(raw: &str, end: bool) -> Option<DateTime<Utc>> {
    let mut s = raw.trim().to_string();
    if let Some(i) = s.rfind(' ')
        && i > 10
    {
        s.replace_range(i..=i, "+");
    }
    if s.ends_with('Z') || s.ends_with('z') {
        s.truncate(s.len() - 1);
        s.push_str("+00:00");
    }
    let s = s.replacen(' ', "T", 1);
    for f in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M%:z", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z"] {
        if let Ok(t) = DateTime::parse_from_str(&s, f) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&s, f) {
            return Kolkata.from_local_datetime(&t).earliest().map(|t| t.with_timezone(&Utc));
        }
    }
    let day = NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok()?;
    if end {
        let next = day.succ_opt()?;
        Some(analytics::ist_midnight(next) - Duration::microseconds(1))
    } else {
        Some(analytics::ist_midnight(day))
    }
}

fn bad_date(name: &str, wording: Wording) -> ApiError {
    let message = match wording {
        Wording::Overview => format!("Invalid {name} format. Use ISO format (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)"),
        Wording::Plain => format!("Invalid {name} format"),
    };
    ApiError::message(StatusCode::BAD_REQUEST, message)
}

/// The requested range; by default from the 1st of the current month (00:00 UTC) to now.
fn range(state: &AppState, start: Option<&str>, end: Option<&str>, wording: Wording) -> ApiResult<Range> {
    let now = state.clock.now();
    fn present(v: Option<&str>) -> Option<&str> {
        v.filter(|s| !s.trim().is_empty())
    }
    let start = match present(start) {
        Some(raw) => parse_instant(raw, false).ok_or_else(|| bad_date("start_date", wording))?,
        None => analytics::utc_month_start(now),
    };
    let end = match present(end) {
        Some(raw) => parse_instant(raw, true).ok_or_else(|| bad_date("end_date", wording))?,
        None => now,
    };
    Ok(Range { start, end })
}

/// A whole-number parameter in `lo..=hi`; missing → `default`.
fn bounded(raw: Option<&str>, default: i64, lo: i64, hi: i64, message: &str) -> ApiResult<i64> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (lo..=hi).contains(&n) => Ok(n),
            _ => Err(ApiError::message(StatusCode::BAD_REQUEST, message)),
        },
    }
}

const BAD_MONTHS: &str = "Months parameter must be between 1 and 24";
const BAD_LIMIT: &str = "Limit parameter must be between 1 and 100";

/// The analytics page of the admin app (§5 #4): this month's figures (as the overview), the
/// last six calendar months of revenue and the status distribution.
#[utoipa::path(get, path = "/api/admin/analytics/", tag = "analytics", security(("bearer" = [])),
    responses((status = 200, body = Dashboard), (status = 401), (status = 403)))]
async fn dashboard(State(state): State<AppState>, _admin: Admin) -> ApiResult<Json<Dashboard>> {
    let month = range(&state, None, None, Wording::Overview)?;
    let now = month.end;
    let this_month = ist_first_of_month(now);
    let first = this_month.checked_sub_months(chrono::Months::new(5)).unwrap_or(this_month);
    let trend_range = Range { start: analytics::ist_midnight(first), end: now };
    let (revenue, created, trend) = tokio::try_join!(
        analytics::revenue(&state.pool, month),
        analytics::created(&state.pool, month),
        analytics::monthly_revenue(&state.pool, trend_range),
    )?;
    let completed = created.by_status.get(OrderStatus::Completed.as_str()).copied().unwrap_or(0);
    Ok(Json(Dashboard {
        total_revenue: Num(revenue.total),
        total_orders: created.total,
        avg_order_value: Num(revenue.average()),
        completion_rate: Percent::of(completed, created.total),
        revenue_trend: trend
            .into_iter()
            .map(|m| DashboardMonth { date: m.month.format("%b").to_string(), revenue: Num(m.total) })
            .collect(),
        order_distribution: OrderStatus::ALL
            .iter()
            .map(|s| DashboardStatus {
                status: s.label().to_string(),
                count: created.by_status.get(s.as_str()).copied().unwrap_or(0),
            })
            .collect(),
    }))
}

fn ist_first_of_month(t: DateTime<Utc>) -> NaiveDate {
    let day = analytics::ist_day(t);
    day.with_day(1).unwrap_or(day)
}

/// Revenue, conversion and the status distribution of a range (§4.10).
#[utoipa::path(get, path = "/api/admin/analytics/overview/", tag = "analytics", security(("bearer" = [])),
    params(Dates),
    responses((status = 200, body = inline(Envelope<OverviewData>)),
        (status = 400, description = "`{\"success\":false,\"message\":\"Invalid start_date format. Use ISO format (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)\"}` (end_date alike)"),
        (status = 401), (status = 403)))]
async fn overview(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<Dates>,
) -> ApiResult<Json<Envelope<OverviewData>>> {
    let r = range(&state, q.start_date.as_deref(), q.end_date.as_deref(), Wording::Overview)?;
    let (revenue, created) = tokio::try_join!(analytics::revenue(&state.pool, r), analytics::created(&state.pool, r))?;
    Ok(ok(OverviewData {
        revenue: revenue.into(),
        conversion: (&created).into(),
        order_distribution: distribution(&created),
        date_range: DateRange { start_date: iso(r.start), end_date: iso(r.end) },
    }))
}

/// Paid orders' revenue per calendar month (Asia/Kolkata) over the last `months` × 30 days,
/// every month of that window, oldest first.
#[utoipa::path(get, path = "/api/admin/analytics/revenue-trend/", tag = "analytics", security(("bearer" = [])),
    params(TrendQuery),
    responses((status = 200, body = inline(Envelope<Vec<TrendMonth>>)),
        (status = 400, description = "`{\"success\":false,\"message\":\"Months parameter must be between 1 and 24\"}`"),
        (status = 401), (status = 403)))]
async fn revenue_trend(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<TrendQuery>,
) -> ApiResult<Json<Envelope<Vec<TrendMonth>>>> {
    let months = bounded(q.months.as_deref(), 12, 1, 24, BAD_MONTHS)?;
    let now = state.clock.now();
    let r = Range { start: now - Duration::days(30 * months), end: now };
    let trend = analytics::monthly_revenue(&state.pool, r).await?;
    Ok(ok(trend.into_iter().map(TrendMonth::from).collect()))
}

/// The products most sold in paid orders (by payment time), deleted ones as `Unknown Product`.
#[utoipa::path(get, path = "/api/admin/analytics/top-products/", tag = "analytics", security(("bearer" = [])),
    params(TopQuery),
    responses((status = 200, body = inline(Envelope<Vec<TopProduct>>)),
        (status = 400, description = "`{\"success\":false,\"message\":\"Invalid start_date format\"}` / `Limit parameter must be between 1 and 100`"),
        (status = 401), (status = 403)))]
async fn top_products(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<TopQuery>,
) -> ApiResult<Json<Envelope<Vec<TopProduct>>>> {
    let r = range(&state, q.start_date.as_deref(), q.end_date.as_deref(), Wording::Plain)?;
    let limit = bounded(q.limit.as_deref(), 5, 1, 100, BAD_LIMIT)?;
    let top = analytics::top_products(&state.pool, r, limit).await?;
    Ok(ok(top.into_iter().map(TopProduct::from).collect()))
}

/// Every staff and admin user with the orders assigned to them (by `updated_at`), most first.
#[utoipa::path(get, path = "/api/admin/analytics/staff-performance/", tag = "analytics",
    security(("bearer" = [])), params(Dates),
    responses((status = 200, body = inline(Envelope<Vec<StaffPerformance>>)),
        (status = 400, description = "`{\"success\":false,\"message\":\"Invalid start_date format\"}`"),
        (status = 401), (status = 403)))]
async fn staff_performance(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<Dates>,
) -> ApiResult<Json<Envelope<Vec<StaffPerformance>>>> {
    let r = range(&state, q.start_date.as_deref(), q.end_date.as_deref(), Wording::Plain)?;
    let staff = analytics::staff(&state.pool, r).await?;
    Ok(ok(staff.into_iter().map(StaffPerformance::from).collect()))
}

/// Orders created in the range per current status.
#[utoipa::path(get, path = "/api/admin/analytics/order-distribution/", tag = "analytics",
    security(("bearer" = [])), params(Dates),
    responses((status = 200, body = inline(Envelope<BTreeMap<String, StatusCount>>)),
        (status = 400, description = "`{\"success\":false,\"message\":\"Invalid start_date format\"}`"),
        (status = 401), (status = 403)))]
async fn order_distribution(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<Dates>,
) -> ApiResult<Json<Envelope<BTreeMap<String, StatusCount>>>> {
    let r = range(&state, q.start_date.as_deref(), q.end_date.as_deref(), Wording::Plain)?;
    let created = analytics::created(&state.pool, r).await?;
    Ok(ok(distribution(&created)))
}

/// The §7.8 sections as CSV (UTF-8 with a byte-order mark, so spreadsheet programs read `₹`
/// and Indian names right), cells that a spreadsheet would read as a formula neutralised.
#[utoipa::path(get, path = "/api/admin/analytics/export/", tag = "analytics", security(("bearer" = [])),
    params(Dates),
    responses(
        (status = 200, description = "`attachment; filename=\"analytics_export_<YYYYmmdd_HHMMSS>.csv\"`",
            content((FileBytes = "text/csv"))),
        (status = 400, description = "`{\"success\":false,\"message\":\"Invalid start_date format\"}`"),
        (status = 401), (status = 403)))]
async fn export(State(state): State<AppState>, _admin: Admin, Query(q): Query<Dates>) -> ApiResult<Response> {
    let r = range(&state, q.start_date.as_deref(), q.end_date.as_deref(), Wording::Plain)?;
    let (revenue, created, top, staff) = tokio::try_join!(
        analytics::revenue(&state.pool, r),
        analytics::created(&state.pool, r),
        analytics::top_products(&state.pool, r, 10),
        analytics::staff(&state.pool, r),
    )?;
    let generated = state.clock.now().with_timezone(&Kolkata);
    let body =
        csv_export(&CsvFigures { range: r, generated, revenue, created, top, staff }).map_err(ApiError::internal)?;
    let filename = format!("analytics_export_{}.csv", generated.format("%Y%m%d_%H%M%S"));
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")).map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// What the export writes.
struct CsvFigures {
    range: Range,
    generated: DateTime<chrono_tz::Tz>,
    revenue: Revenue,
    created: Created,
    top: Vec<ProductSales>,
    staff: Vec<StaffFigures>,
}

/// A text cell a spreadsheet would take for a formula (`=`, `+`, `-`, `@`, or a tab or carriage
/// return before one) gets a leading `'`.
fn cell(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

fn rupees(paise: i64) -> String {
    common::money::Money(paise).to_string()
}

fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

/// The export: sections of rows, a blank line between sections, after a byte-order mark.
fn csv_export(f: &CsvFigures) -> Result<Vec<u8>, csv::Error> {
    let mut sections: Vec<Vec<Vec<String>>> = Vec::new();
    sections.push(vec![
        row(["Election Cart Analytics Export"]),
        row(["Generated", &f.generated.format("%Y-%m-%d %H:%M:%S IST").to_string()]),
        row(["Date Range", &format!("{} to {}", iso(f.range.start), iso(f.range.end))]),
    ]);
    sections.push(vec![
        row(["REVENUE METRICS"]),
        row(["Total Revenue (₹)", &rupees(f.revenue.total)]),
        row(["Paid Orders", &f.revenue.orders.to_string()]),
        row(["Average Order Value (₹)", &rupees(f.revenue.average())]),
    ]);
    sections.push(vec![
        row(["CONVERSION METRICS"]),
        row(["Total Orders", &f.created.total.to_string()]),
        row(["Paid Orders", &f.created.paid.to_string()]),
        row(["Conversion Rate", &Percent::of(f.created.paid, f.created.total).text()]),
    ]);
    let mut top = vec![row(["TOP PRODUCTS"]), row(["Product", "Type", "Quantity Sold", "Revenue (₹)"])];
    for p in &f.top {
        let p = TopProduct::from(p.clone());
        top.push(vec![cell(&p.product_name), cell(&p.product_type), p.quantity_sold.to_string(), rupees(p.revenue.0)]);
    }
    sections.push(top);
    let mut staff = vec![
        row(["STAFF PERFORMANCE"]),
        row(["Staff", "Phone Number", "Role", "Assigned Orders", "Completed Orders", "Completion Rate"]),
    ];
    for s in &f.staff {
        let s = StaffPerformance::from(s.clone());
        staff.push(vec![
            cell(&s.staff_name),
            cell(s.phone_number.as_deref().unwrap_or("")),
            cell(&s.role),
            s.assigned_orders.to_string(),
            s.completed_orders.to_string(),
            s.completion_rate.text(),
        ]);
    }
    sections.push(staff);
    let mut dist = vec![row(["ORDER STATUS DISTRIBUTION"]), row(["Status", "Label", "Count"])];
    for (status, c) in distribution(&f.created) {
        dist.push(vec![status, c.label, c.count.to_string()]);
    }
    sections.push(dist);

    let mut out = Vec::from("\u{feff}".as_bytes());
    for (i, rows) in sections.iter().enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        let mut w =
            csv::WriterBuilder::new().flexible(true).terminator(csv::Terminator::Any(b'\n')).from_writer(&mut out);
        for r in rows {
            w.write_record(r)?;
        }
        w.flush()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn dates_parse_as_iso_dates_and_date_times() {
        assert_eq!(parse_instant("2026-11-01", false), Some(at("2026-10-31T18:30:00Z")));
        assert_eq!(parse_instant("2026-11-01", true), Some(at("2026-11-01T18:29:59.999999Z")));
        assert_eq!(parse_instant("2026-11-01T10:00:00Z", false), Some(at("2026-11-01T10:00:00Z")));
        assert_eq!(parse_instant("2026-11-01T10:00:00+05:30", false), Some(at("2026-11-01T04:30:00Z")));
        assert_eq!(parse_instant("2026-11-01T10:00:00 05:30", false), Some(at("2026-11-01T04:30:00Z")));
        assert_eq!(parse_instant("2026-11-01T10:00:00", false), Some(at("2026-11-01T04:30:00Z")));
        assert_eq!(parse_instant("2026-11-01 10:00", false), Some(at("2026-11-01T04:30:00Z")));
        assert_eq!(parse_instant("2026-11-01T10:00:00.5Z", true), Some(at("2026-11-01T10:00:00.5Z")));
        for bad in ["", "yesterday", "2026-13-01", "2026-11-31", "01/11/2026", "2026-11-01T25:00:00"] {
            assert_eq!(parse_instant(bad, false), None, "{bad}");
        }
    }

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("+91 98"), "'+91 98");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell("Ward Kit"), "Ward Kit");
    }

    #[test]
    fn percents_keep_two_places() {
        assert_eq!(Percent::of(2, 3).text(), "66.67%");
        assert_eq!(Percent::of(1, 20).text(), "5.00%");
        assert_eq!(serde_json::to_string(&Percent::of(2, 3)).unwrap(), "66.67");
    }
}

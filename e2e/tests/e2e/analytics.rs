//! Analytics (API.md §4.10, §5 #4, §7.8) on a data set whose figures are worked out by hand
//! below, on a fixed clock: 2026-01-20 10:00 UTC (15:30 IST). Orders are written with SQL, so the
//! rollups are kept by the database triggers alone, as for any other writer.

use chrono::{DateTime, Utc};
use common::time::Clock;
use e2e::builders::ProductBuilder;
use e2e::{TestApp, TestAppBuilder};
use reqwest::Method;
use serde_json::{Value, json};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// An order as stored: status, total, creation, payment and last update times, assignee, lines
/// `(type, product id, quantity, unit price)`.
struct Row<'a> {
    status: &'a str,
    total: &'a str,
    created: &'a str,
    paid: Option<&'a str>,
    assignee: Option<i64>,
    updated: Option<&'a str>,
    lines: &'a [(&'a str, i64, i32, &'a str)],
}

async fn insert(app: &TestApp, customer: i64, n: usize, r: &Row<'_>) -> i64 {
    let created = at(r.created);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO orders (user_id, order_number, total_amount, status, payment_completed_at, assigned_to_id,
                             created_at, updated_at)
         VALUES ($1, $2, $3::numeric, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(customer)
    .bind(format!("EC-AN-{n:03}"))
    .bind(r.total)
    .bind(r.status)
    .bind(r.paid.map(at))
    .bind(r.assignee)
    .bind(created)
    .bind(r.updated.map(at).unwrap_or(created))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    for (kind, product, qty, price) in r.lines {
        sqlx::query(
            "INSERT INTO order_item (order_id, product_type, product_id, quantity, price) VALUES ($1, $2, $3, $4, $5::numeric)",
        )
        .bind(id)
        .bind(kind)
        .bind(product)
        .bind(qty)
        .bind(price)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    id
}

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let res = app.get(path, Some(token)).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

struct Shop {
    app: TestApp,
    admin: String,
    staff_token: String,
    ids: Ids,
}

struct Ids {
    admin: i64,
    s1: i64,
    s2: i64,
    s3: i64,
    rally: i64,
    calls: i64,
    formula: i64,
    gone: i64,
    o2: i64,
}

async fn shop() -> Shop {
    let clock = Clock::fixed(at("2026-01-20T10:00:00Z"));
    let app = TestAppBuilder::new().clock(clock).spawn().await;
    let (admin_id, admin) = app.user_token("owner", "admin").await;
    let (s1, staff_token) = app.user_token("ravi", "staff").await;
    let (s2, _) = app.user_token("meena", "staff").await;
    let (s3, _) = app.user_token("arjun", "staff").await;
    sqlx::query("UPDATE users SET phone_number = '+919000000001' WHERE id = $1")
        .bind(s1)
        .execute(&app.pool)
        .await
        .unwrap();
    let (customer, _) = app.user_token("voter", "customer").await;
    let rally = ProductBuilder::package("Rally Kit").price("500.25").create(&app).await;
    let calls = ProductBuilder::campaign("Voice Calls").price("400.05").create(&app).await;
    let formula = ProductBuilder::package("=HYPERLINK(\"http://evil.test\",\"x\")").price("1234.56").create(&app).await;
    let gone = ProductBuilder::package("Old Banner").price("3.33").create(&app).await;

    let rows = [
        // In January (the default range starts 2026-01-01 00:00 UTC).
        Row {
            status: "completed",
            total: "1000.50",
            created: "2026-01-02T05:00:00Z",
            paid: Some("2026-01-02T06:00:00Z"),
            assignee: Some(s1),
            updated: Some("2026-01-05T00:00:00Z"),
            lines: &[("package", rally, 2, "500.25")],
        },
        Row {
            status: "in_progress",
            total: "2000.25",
            created: "2026-01-10T04:00:00Z",
            paid: Some("2026-01-10T04:10:00Z"),
            assignee: Some(s1),
            updated: Some("2026-01-11T00:00:00Z"),
            lines: &[("campaign", calls, 5, "400.05")],
        },
        // Paid, but not yet counted as revenue (§7.8: judged by its current status).
        Row {
            status: "pending_resources",
            total: "700.00",
            created: "2026-01-12T04:00:00Z",
            paid: Some("2026-01-12T04:05:00Z"),
            assignee: None,
            updated: None,
            lines: &[("package", rally, 1, "700.00")],
        },
        Row {
            status: "pending_payment",
            total: "300.00",
            created: "2026-01-15T04:00:00Z",
            paid: None,
            assignee: None,
            updated: None,
            lines: &[("package", rally, 9, "300.00")],
        },
        Row {
            status: "cancelled",
            total: "999.99",
            created: "2026-01-03T04:00:00Z",
            paid: Some("2026-01-03T04:30:00Z"),
            assignee: None,
            updated: None,
            lines: &[("campaign", calls, 50, "19.99")],
        },
        // Created before the range, paid at its first instant.
        Row {
            status: "ready_for_processing",
            total: "1234.56",
            created: "2025-12-31T20:00:00Z",
            paid: Some("2026-01-01T00:00:00Z"),
            assignee: None,
            updated: None,
            lines: &[("package", formula, 1, "1234.56")],
        },
        // Paid a microsecond before the range (UTC), but on 1 January in India: outside the
        // overview, inside January of the trend.
        Row {
            status: "completed",
            total: "99.99",
            created: "2025-12-31T22:00:00Z",
            paid: Some("2025-12-31T23:59:59.999999Z"),
            assignee: None,
            updated: None,
            lines: &[("package", rally, 1, "99.99")],
        },
        Row {
            status: "assigned",
            total: "10.02",
            created: "2026-01-20T09:00:00Z",
            paid: Some("2026-01-20T09:59:59Z"),
            assignee: Some(s2),
            updated: Some("2026-01-20T09:59:59Z"),
            lines: &[("package", gone, 3, "3.33")],
        },
        // Arjun: three updated in January (two completed), one in December.
        Row {
            status: "completed",
            total: "100.00",
            created: "2025-12-10T04:00:00Z",
            paid: Some("2025-12-10T04:00:00Z"),
            assignee: Some(s3),
            updated: Some("2026-01-06T00:00:00Z"),
            lines: &[],
        },
        Row {
            status: "completed",
            total: "200.00",
            created: "2025-12-11T04:00:00Z",
            paid: Some("2025-12-11T04:00:00Z"),
            assignee: Some(s3),
            updated: Some("2026-01-07T00:00:00Z"),
            lines: &[],
        },
        Row {
            status: "in_progress",
            total: "300.00",
            created: "2025-12-12T04:00:00Z",
            paid: Some("2025-12-12T04:00:00Z"),
            assignee: Some(s3),
            updated: Some("2026-01-08T00:00:00Z"),
            lines: &[],
        },
        Row {
            status: "completed",
            total: "400.00",
            created: "2025-12-05T04:00:00Z",
            paid: Some("2025-12-05T04:00:00Z"),
            assignee: Some(s3),
            updated: Some("2025-12-20T00:00:00Z"),
            lines: &[],
        },
        // Either side of midnight IST between November and December.
        Row {
            status: "completed",
            total: "111.11",
            created: "2025-11-30T18:00:00Z",
            paid: Some("2025-11-30T18:29:59Z"),
            assignee: None,
            updated: None,
            lines: &[],
        },
        Row {
            status: "completed",
            total: "222.22",
            created: "2025-11-30T18:00:00Z",
            paid: Some("2025-11-30T18:30:00Z"),
            assignee: None,
            updated: None,
            lines: &[],
        },
        // Before the two-month trend window (2025-11-21 10:00 UTC), inside the six-month page.
        Row {
            status: "completed",
            total: "5000.00",
            created: "2025-11-21T09:00:00Z",
            paid: Some("2025-11-21T09:00:00Z"),
            assignee: None,
            updated: None,
            lines: &[],
        },
    ];
    let mut o2 = 0;
    for (n, r) in rows.iter().enumerate() {
        let id = insert(&app, customer, n, r).await;
        if n == 1 {
            o2 = id;
        }
    }
    // A product deleted after it sold.
    sqlx::query("DELETE FROM package WHERE id = $1").bind(gone).execute(&app.pool).await.unwrap();
    let ids = Ids { admin: admin_id, s1, s2, s3, rally, calls, formula, gone, o2 };
    Shop { app, admin, staff_token, ids }
}

fn dist(counts: &[(&str, i64)]) -> Value {
    let labels = [
        ("assigned", "Assigned to Staff"),
        ("cancelled", "Cancelled"),
        ("completed", "Completed"),
        ("in_progress", "In Progress"),
        ("on_hold", "On Hold"),
        ("pending_payment", "Pending Payment"),
        ("pending_resources", "Pending Resources"),
        ("ready_for_processing", "Ready for Processing"),
    ];
    let mut m = serde_json::Map::new();
    for (status, label) in labels {
        let count = counts.iter().find(|(s, _)| *s == status).map(|(_, c)| *c).unwrap_or(0);
        m.insert(status.into(), json!({"label": label, "count": count}));
    }
    Value::Object(m)
}

#[tokio::test]
async fn every_route_gives_the_hand_computed_figures() {
    let Shop { app, admin, ids, .. } = shop().await;
    let january = dist(&[
        ("completed", 1),
        ("in_progress", 1),
        ("pending_resources", 1),
        ("pending_payment", 1),
        ("cancelled", 1),
        ("assigned", 1),
    ]);

    // Revenue: 1000.50 + 2000.25 + 1234.56 + 10.02 = 4245.33 over 4 orders, mean 1061.3325.
    // Conversion: 6 orders created in January, 5 of them with a payment: 83.33 %.
    let (status, body) = get(&app, "/api/admin/analytics/overview/", &admin).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"success": true, "data": {
            "revenue": {"total_revenue": 4245.33, "order_count": 4, "average_order_value": 1061.33},
            "conversion": {"total_orders": 6, "paid_orders": 5, "conversion_rate": 83.33},
            "order_distribution": january,
            "date_range": {"start_date": "2026-01-01T00:00:00+00:00", "end_date": "2026-01-20T10:00:00+00:00"},
        }})
    );

    // Dates as IST days: 2 January … 10 January holds the first two paid orders only.
    let (_, body) = get(&app, "/api/admin/analytics/overview/?start_date=2026-01-02&end_date=2026-01-10", &admin).await;
    assert_eq!(
        body["data"]["revenue"],
        json!({"total_revenue": 3000.75, "order_count": 2, "average_order_value": 1500.38})
    );
    assert_eq!(body["data"]["date_range"]["start_date"], "2026-01-01T18:30:00+00:00");
    assert_eq!(body["data"]["date_range"]["end_date"], "2026-01-10T18:29:59.999999+00:00");
    // A range inside one day, with Z.
    let (_, body) = get(
        &app,
        "/api/admin/analytics/overview/?start_date=2026-01-02T05:59:59Z&end_date=2026-01-02T06:00:00Z",
        &admin,
    )
    .await;
    assert_eq!(body["data"]["revenue"]["total_revenue"], json!(1000.5));

    // Trend over 2 × 30 days (from 2025-11-21 10:00 UTC): Nov 111.11 (its 5000.00 falls before
    // the window), Dec 222.22 + 100 + 200 + 300 + 400, Jan (IST) 99.99 + 1234.56 + 1000.50 +
    // 2000.25 + 10.02.
    let (status, body) = get(&app, "/api/admin/analytics/revenue-trend/?months=2", &admin).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"success": true, "data": [
            {"month": "2025-11", "month_label": "November 2025", "revenue": 111.11, "order_count": 1},
            {"month": "2025-12", "month_label": "December 2025", "revenue": 1222.22, "order_count": 5},
            {"month": "2026-01", "month_label": "January 2026", "revenue": 4345.32, "order_count": 5},
        ]})
    );
    let (_, body) = get(&app, "/api/admin/analytics/revenue-trend/", &admin).await;
    let months: Vec<&str> = body["data"].as_array().unwrap().iter().map(|m| m["month"].as_str().unwrap()).collect();
    assert_eq!(months.len(), 13, "{months:?}");
    assert_eq!((months[0], months[12]), ("2025-01", "2026-01"));

    // Top products of January's paid orders, most sold first; the deleted one as unknown.
    let (status, body) = get(&app, "/api/admin/analytics/top-products/", &admin).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"success": true, "data": [
            {"product_id": ids.calls, "product_type": "campaign", "product_name": "Voice Calls", "quantity_sold": 5, "revenue": 2000.25},
            {"product_id": ids.gone, "product_type": "unknown", "product_name": "Unknown Product", "quantity_sold": 3, "revenue": 9.99},
            {"product_id": ids.rally, "product_type": "package", "product_name": "Rally Kit", "quantity_sold": 2, "revenue": 1000.5},
            {"product_id": ids.formula, "product_type": "package", "product_name": "=HYPERLINK(\"http://evil.test\",\"x\")", "quantity_sold": 1, "revenue": 1234.56},
        ]})
    );
    let (_, body) = get(&app, "/api/admin/analytics/top-products/?limit=1", &admin).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);

    // Staff by updated_at in January: Arjun 3 (2 completed), Ravi 2 (1), Meena 1 (0), the owner 0.
    let (status, body) = get(&app, "/api/admin/analytics/staff-performance/", &admin).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"success": true, "data": [
            {"staff_id": ids.s3, "staff_name": "arjun", "phone_number": null, "role": "staff", "assigned_orders": 3, "completed_orders": 2, "completion_rate": 66.67},
            {"staff_id": ids.s1, "staff_name": "ravi", "phone_number": "+919000000001", "role": "staff", "assigned_orders": 2, "completed_orders": 1, "completion_rate": 50.0},
            {"staff_id": ids.s2, "staff_name": "meena", "phone_number": null, "role": "staff", "assigned_orders": 1, "completed_orders": 0, "completion_rate": 0.0},
            {"staff_id": ids.admin, "staff_name": "owner", "phone_number": null, "role": "admin", "assigned_orders": 0, "completed_orders": 0, "completion_rate": 0.0},
        ]})
    );

    let (status, body) = get(&app, "/api/admin/analytics/order-distribution/", &admin).await;
    assert_eq!((status, &body), (200, &json!({"success": true, "data": january})));

    // The admin app's page: this month, the last six calendar months (the 5000.00 counts now).
    let (status, body) = get(&app, "/api/admin/analytics/", &admin).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "total_revenue": 4245.33, "total_orders": 6, "avg_order_value": 1061.33, "completion_rate": 16.67,
            "revenue_trend": [
                {"date": "Aug", "revenue": 0.0}, {"date": "Sep", "revenue": 0.0}, {"date": "Oct", "revenue": 0.0},
                {"date": "Nov", "revenue": 5111.11}, {"date": "Dec", "revenue": 1222.22}, {"date": "Jan", "revenue": 4345.32},
            ],
            "order_distribution": [
                {"status": "Pending Payment", "count": 1}, {"status": "Pending Resources", "count": 1},
                {"status": "Ready for Processing", "count": 0}, {"status": "Assigned to Staff", "count": 1},
                {"status": "In Progress", "count": 1}, {"status": "Completed", "count": 1},
                {"status": "Cancelled", "count": 1}, {"status": "On Hold", "count": 0},
            ],
        })
    );

    // Folding the rollups changes no figure.
    let before = get(&app, "/api/admin/analytics/revenue-trend/?months=24", &admin).await;
    let rows_before: i64 =
        sqlx::query_scalar("SELECT count(*) FROM analytics_created_day").fetch_one(&app.pool).await.unwrap();
    common::analytics::compact(&app.pool).await.unwrap();
    let rows_after: i64 =
        sqlx::query_scalar("SELECT count(*) FROM analytics_created_day").fetch_one(&app.pool).await.unwrap();
    assert!(rows_after <= rows_before);
    assert_eq!(get(&app, "/api/admin/analytics/revenue-trend/?months=24", &admin).await, before);
    // Rebuilt from the orders, the same again.
    common::analytics::rebuild(&app.pool).await.unwrap();
    assert_eq!(get(&app, "/api/admin/analytics/revenue-trend/?months=24", &admin).await, before);
}

#[tokio::test]
async fn a_status_change_moves_the_figures_at_once() {
    let Shop { app, admin, ids, .. } = shop().await;
    // The desk cancels the 2000.25 order: out of revenue, into the cancelled count.
    let res = app
        .send(
            Method::POST,
            &format!("/api/admin/orders/{}/update-status/", ids.o2),
            &json!({"status": "cancelled"}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (_, body) = get(&app, "/api/admin/analytics/overview/", &admin).await;
    assert_eq!(
        body["data"]["revenue"],
        json!({"total_revenue": 2245.08, "order_count": 3, "average_order_value": 748.36})
    );
    assert_eq!(body["data"]["order_distribution"]["cancelled"]["count"], 2);
    assert_eq!(body["data"]["order_distribution"]["in_progress"]["count"], 0);
    let (_, body) = get(&app, "/api/admin/analytics/top-products/", &admin).await;
    assert!(
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["product_id"] != ids.calls || p["product_type"] != "campaign")
    );
    // Back in progress: counted again.
    let res = app
        .send(
            Method::POST,
            &format!("/api/admin/orders/{}/update-status/", ids.o2),
            &json!({"status": "in_progress"}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (_, body) = get(&app, "/api/admin/analytics/overview/", &admin).await;
    assert_eq!(body["data"]["revenue"]["total_revenue"], json!(4245.33));
    // A customer deleted with their orders: all of it leaves the figures.
    let customer: i64 =
        sqlx::query_scalar("SELECT user_id FROM orders WHERE id = $1").bind(ids.o2).fetch_one(&app.pool).await.unwrap();
    sqlx::query("DELETE FROM users WHERE id = $1").bind(customer).execute(&app.pool).await.unwrap();
    let (_, body) = get(&app, "/api/admin/analytics/overview/", &admin).await;
    assert_eq!(body["data"]["revenue"], json!({"total_revenue": 0.0, "order_count": 0, "average_order_value": 0.0}));
    assert_eq!(body["data"]["conversion"], json!({"total_orders": 0, "paid_orders": 0, "conversion_rate": 0.0}));
    let (_, body) = get(&app, "/api/admin/analytics/top-products/?start_date=2020-01-01", &admin).await;
    assert_eq!(body["data"], json!([]));
    let left: i64 = sqlx::query_scalar(
        "SELECT ((SELECT coalesce(sum(orders), 0) FROM analytics_paid_day) + (SELECT coalesce(sum(orders), 0) FROM analytics_created_day)
                + (SELECT coalesce(sum(quantity), 0) FROM analytics_product_day)
                + (SELECT coalesce(sum(orders), 0) FROM analytics_staff_day))::bigint",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn bad_parameters_and_callers_are_refused() {
    let Shop { app, admin, staff_token, .. } = shop().await;
    let cases: &[(&str, &str)] = &[
        (
            "/api/admin/analytics/overview/?start_date=yesterday",
            "Invalid start_date format. Use ISO format (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)",
        ),
        (
            "/api/admin/analytics/overview/?end_date=2026-02-30",
            "Invalid end_date format. Use ISO format (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)",
        ),
        ("/api/admin/analytics/top-products/?start_date=01/01/2026", "Invalid start_date format"),
        ("/api/admin/analytics/staff-performance/?end_date=2026-13-01", "Invalid end_date format"),
        ("/api/admin/analytics/order-distribution/?start_date=2026-01-01T25:00", "Invalid start_date format"),
        ("/api/admin/analytics/export/?start_date=x", "Invalid start_date format"),
        ("/api/admin/analytics/revenue-trend/?months=0", "Months parameter must be between 1 and 24"),
        ("/api/admin/analytics/revenue-trend/?months=25", "Months parameter must be between 1 and 24"),
        ("/api/admin/analytics/revenue-trend/?months=six", "Months parameter must be between 1 and 24"),
        ("/api/admin/analytics/top-products/?limit=0", "Limit parameter must be between 1 and 100"),
        ("/api/admin/analytics/top-products/?limit=2.5", "Limit parameter must be between 1 and 100"),
    ];
    for (path, message) in cases {
        let (status, body) = get(&app, path, &admin).await;
        assert_eq!((status, body), (400, json!({"success": false, "message": message})), "{path}");
    }
    let forbidden = json!({"detail": "You do not have permission to perform this action."});
    for path in [
        "/api/admin/analytics/",
        "/api/admin/analytics/overview/",
        "/api/admin/analytics/revenue-trend/",
        "/api/admin/analytics/top-products/",
        "/api/admin/analytics/staff-performance/",
        "/api/admin/analytics/order-distribution/",
        "/api/admin/analytics/export/",
    ] {
        assert_eq!(get(&app, path, &staff_token).await, (403, forbidden.clone()), "{path}");
        let res = app.get(path, None).await;
        assert_eq!(res.status(), 401, "{path}");
    }
}

#[tokio::test]
async fn the_export_is_csv_with_every_section_and_no_formulas() {
    let Shop { app, admin, .. } = shop().await;
    let res = app.get("/api/admin/analytics/export/", Some(&admin)).await;
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(headers["content-disposition"], "attachment; filename=\"analytics_export_20260120_153000.csv\"");
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with("\u{feff}".as_bytes()), "UTF-8 byte-order mark");
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let rows: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
    let find = |first: &str| rows.iter().position(|r| r.first().map(String::as_str) == Some(first));
    assert_eq!(rows[0], vec!["Election Cart Analytics Export"]);
    assert_eq!(rows[1], vec!["Generated", "2026-01-20 15:30:00 IST"]);
    assert_eq!(rows[2], vec!["Date Range", "2026-01-01T00:00:00+00:00 to 2026-01-20T10:00:00+00:00"]);
    for section in
        ["REVENUE METRICS", "CONVERSION METRICS", "TOP PRODUCTS", "STAFF PERFORMANCE", "ORDER STATUS DISTRIBUTION"]
    {
        assert!(find(section).is_some(), "{section} in {rows:?}");
    }
    let revenue = find("REVENUE METRICS").unwrap();
    assert_eq!(rows[revenue + 1], vec!["Total Revenue (₹)", "4245.33"]);
    assert_eq!(rows[revenue + 2], vec!["Paid Orders", "4"]);
    assert_eq!(rows[revenue + 3], vec!["Average Order Value (₹)", "1061.33"]);
    let conversion = find("CONVERSION METRICS").unwrap();
    assert_eq!(rows[conversion + 3], vec!["Conversion Rate", "83.33%"]);
    let top = find("TOP PRODUCTS").unwrap();
    assert_eq!(rows[top + 1], vec!["Product", "Type", "Quantity Sold", "Revenue (₹)"]);
    assert_eq!(rows[top + 2], vec!["Voice Calls", "campaign", "5", "2000.25"]);
    assert_eq!(rows[top + 3], vec!["Unknown Product", "unknown", "3", "9.99"]);
    // The formula is text: prefixed with a quote, so a spreadsheet never evaluates it.
    assert_eq!(rows[top + 5], vec!["'=HYPERLINK(\"http://evil.test\",\"x\")", "package", "1", "1234.56"]);
    assert!(rows.iter().flatten().all(|c| !c.starts_with(['=', '+', '-', '@'])), "{rows:?}");
    let staff = find("STAFF PERFORMANCE").unwrap();
    assert_eq!(rows[staff + 2], vec!["arjun", "", "staff", "3", "2", "66.67%"]);
    assert_eq!(rows[staff + 3], vec!["ravi", "'+919000000001", "staff", "2", "1", "50.00%"]);
    let dist = find("ORDER STATUS DISTRIBUTION").unwrap();
    assert_eq!(rows[dist + 1], vec!["Status", "Label", "Count"]);
    assert_eq!(rows[dist + 2], vec!["assigned", "Assigned to Staff", "1"]);
    // CORS: the admin app reads the file name.
    let res = reqwest::Client::new()
        .get(app.url("/api/admin/analytics/export/"))
        .bearer_auth(&admin)
        .header("Origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    let exposed = res.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(exposed.contains("content-disposition"), "{exposed}");
}

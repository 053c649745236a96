//! Transactional emails (issue 11 #5): order placed, status changes, assignment and welcome mails
//! go through the `emails` queue to a real SMTP server, once each, and only to active accounts
//! with an address.

use std::time::Duration;

use base64::Engine;
use e2e::builders::{ProductBuilder, UserBuilder};
use e2e::smtp::{Received, SmtpServer};
use e2e::{TestApp, TestAppBuilder};
use serde_json::{Value, json};

use crate::shop::place;

const RESET_URL: &str = "http://reset.test/t/{token}/end";
const SUPPORT: &str = "help@electioncart.test";

async fn app_with_smtp(smtp: &SmtpServer) -> TestApp {
    TestAppBuilder::new()
        .var("SMTP_URL", &smtp.url)
        .var("PASSWORD_RESET_URL", RESET_URL)
        .var("SUPPORT_EMAIL", SUPPORT)
        .with_worker()
        .spawn()
        .await
}

// ---------------------------------------------------------------------------------------------
// Reading the raw messages the SMTP sink received.

/// One leaf part of a message, its body decoded.
#[derive(Debug, Clone)]
struct Part {
    content_type: String,
    body: String,
}

/// A received message: its subject, recipients and leaf parts.
#[derive(Debug, Clone)]
struct Mail {
    to: Vec<String>,
    subject: String,
    raw: String,
    parts: Vec<Part>,
}

impl Mail {
    fn part(&self, content_type: &str) -> &str {
        self.parts
            .iter()
            .find(|p| p.content_type.starts_with(content_type))
            .map(|p| p.body.as_str())
            .unwrap_or_else(|| panic!("no {content_type} part in:\n{}", self.raw))
    }

    fn text(&self) -> &str {
        self.part("text/plain")
    }

    fn html(&self) -> &str {
        self.part("text/html")
    }

    /// Subject, text and HTML together, for "contains nowhere" checks.
    fn everything(&self) -> String {
        format!("{}\n{}\n{}", self.subject, self.text(), self.html())
    }
}

/// Header block and body of an entity; header lines unfolded.
fn split_entity(entity: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = entity.split_once("\r\n\r\n").unwrap_or((entity, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    (headers, body)
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn quoted_printable(body: &str) -> Vec<u8> {
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        if bytes[i] == b'='
            && let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn leaf_parts(entity: &str, out: &mut Vec<Part>) {
    let (headers, body) = split_entity(entity);
    let content_type = header(&headers, "content-type").unwrap_or("text/plain").to_string();
    if content_type.starts_with("multipart/") {
        let boundary = content_type
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .map(|b| b.trim_matches('"').to_string())
            .expect("multipart boundary");
        let delimiter = format!("--{boundary}");
        for chunk in body.split(&delimiter).skip(1) {
            if chunk.starts_with("--") {
                break;
            }
            leaf_parts(chunk.trim_start_matches("\r\n"), out);
        }
        return;
    }
    let bytes = match header(&headers, "content-transfer-encoding").map(str::to_ascii_lowercase).as_deref() {
        Some("base64") => base64::engine::general_purpose::STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .expect("base64 body"),
        Some("quoted-printable") => quoted_printable(body),
        _ => body.as_bytes().to_vec(),
    };
    let body = if content_type.starts_with("text/") {
        String::from_utf8(bytes).expect("UTF-8 text part").replace("\r\n", "\n")
    } else {
        format!("<{} bytes>", bytes.len())
    };
    out.push(Part { content_type, body });
}

/// A subject as sent: an RFC 2047 encoded-word (`=?utf-8?b?…?=`) decoded, else as written.
fn decode_subject(value: &str) -> String {
    value
        .split_whitespace()
        .map(|word| {
            let lower = word.to_ascii_lowercase();
            if let Some(b64) = lower.strip_prefix("=?utf-8?b?").and_then(|_| word.get(10..word.len() - 2)) {
                String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).expect("subject"))
                    .expect("UTF-8 subject")
            } else if lower.starts_with("=?utf-8?q?") {
                let q = word.get(10..word.len() - 2).unwrap_or_default().replace('_', " ");
                String::from_utf8(quoted_printable(&q)).expect("UTF-8 subject")
            } else {
                format!(" {word} ")
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse(received: &Received) -> Mail {
    let (headers, _) = split_entity(&received.data);
    let mut parts = Vec::new();
    leaf_parts(&received.data, &mut parts);
    Mail {
        to: received.to.clone(),
        subject: decode_subject(header(&headers, "subject").unwrap_or_default()),
        raw: received.data.clone(),
        parts,
    }
}

fn mails(smtp: &SmtpServer) -> Vec<Mail> {
    smtp.messages().iter().map(parse).collect()
}

/// Waits until a mail to `to` whose subject contains `subject` has arrived; returns it.
async fn wait_for(app: &TestApp, smtp: &SmtpServer, to: &str, subject: &str) -> Mail {
    app.eventually(Duration::from_secs(15), || async {
        mails(smtp).into_iter().find(|m| m.to.iter().any(|t| t == to) && m.subject.contains(subject))
    })
    .await
    .unwrap_or_else(|| {
        let seen: Vec<(Vec<String>, String)> = mails(smtp).into_iter().map(|m| (m.to, m.subject)).collect();
        panic!("no mail to {to} about {subject:?}; received {seen:?}")
    })
}

/// The mails to `to` so far.
fn mails_to(smtp: &SmtpServer, to: &str) -> Vec<Mail> {
    mails(smtp).into_iter().filter(|m| m.to.iter().any(|t| t == to)).collect()
}

/// Lets a worker finish anything still queued, so "nothing more arrived" means something.
async fn settle(app: &TestApp) {
    app.eventually(Duration::from_secs(15), || async {
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM job WHERE queue = 'emails' AND status IN ('pending', 'queued', 'running')",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        (open == 0).then_some(())
    })
    .await
    .expect("email jobs finish");
    tokio::time::sleep(Duration::from_millis(300)).await;
}

async fn jobs_with_key(app: &TestApp, key: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM job WHERE dedupe_key = $1").bind(key).fetch_one(&app.pool).await.unwrap()
}

async fn customer(app: &TestApp, username: &str, email: &str, first_name: &str) -> (i64, String) {
    let (id, token) = UserBuilder::new(username).email(email).create_with_token(app).await;
    sqlx::query("UPDATE users SET first_name = $2 WHERE id = $1")
        .bind(id)
        .bind(first_name)
        .execute(&app.pool)
        .await
        .unwrap();
    (id, token)
}

async fn update_status(app: &TestApp, admin: &str, order_id: i64, status: &str, reason: &str) {
    let res = app
        .post(
            &format!("/api/admin/orders/{order_id}/update-status/"),
            &json!({"status": status, "reason": reason}),
            Some(admin),
        )
        .await;
    assert_eq!(res.status(), 200, "update-status to {status}");
}

async fn assign(app: &TestApp, admin: &str, order_id: i64, staff_id: i64) {
    let res =
        app.post(&format!("/api/admin/orders/{order_id}/assign/"), &json!({"staff_id": staff_id}), Some(admin)).await;
    assert_eq!(res.status(), 200, "assign");
}

fn placed_ids(body: &Value) -> (i64, String) {
    (body["order_id"].as_i64().unwrap(), body["order"]["order_number"].as_str().unwrap().to_string())
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_placed_email_arrives_once_with_text_and_html() {
    let smtp = SmtpServer::start().await;
    let app = app_with_smtp(&smtp).await;
    let (_, token) = customer(&app, "asha", "asha@example.com", "Asha <Rao>").await;
    let (order_id, number) = placed_ids(&place(&app, &token).await);

    let mail = wait_for(&app, &smtp, "asha@example.com", &number).await;
    assert_eq!(mail.subject, format!("We have received your order {number}"));
    assert!(mail.raw.contains("multipart/alternative"));
    let (text, html) = (mail.text(), mail.html());
    for part in [text, html] {
        assert!(part.contains(&number), "{part}");
        assert!(part.contains("₹4,999.00"), "the total: {part}");
        assert!(part.contains("Kit "), "the line: {part}");
        assert!(part.contains(SUPPORT), "the support address: {part}");
        assert!(part.contains("as soon as the payment is confirmed"), "{part}");
    }
    assert!(text.contains("Hello Asha <Rao>,"));
    assert!(html.contains("Hello Asha &lt;Rao&gt;,"), "escaped in HTML: {html}");

    // One job under the fact's key, and the worker sent one message.
    assert_eq!(jobs_with_key(&app, &format!("order_placed:{order_id}")).await, 1);
    settle(&app).await;
    assert_eq!(mails_to(&smtp, "asha@example.com").len(), 1, "sent once");
}

/// A manual order's "order placed" email is written by the statement that writes the order: its
/// lines by product name in order, the customer's address and name, and no "awaiting payment"
/// for an order that is not.
#[tokio::test]
async fn a_manual_order_writes_its_order_placed_email_with_it() {
    let app = TestAppBuilder::new().spawn().await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let kit = ProductBuilder::package("Rally Kit").price("4999.00").create(&app).await;
    let calls = ProductBuilder::campaign("Voice Calls").price("0.50").create(&app).await;
    let body = json!({
        "customer": {"name": "Meena Iyer", "phone": "9876500000", "email": "meena@example.com"},
        "items": [{"product_type": "package", "product_id": kit, "quantity": 2},
                  {"product_type": "campaign", "product_id": calls, "quantity": 1000}],
        "order_source": "phone_call",
        "payment_status": "unpaid",
    });
    let res = app.post("/api/admin/orders/manual/", &body, Some(&admin)).await;
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.unwrap();
    let (id, number) = (order["order"]["id"].as_i64().unwrap(), order["order"]["order_number"].clone());
    let (payload, queue): (Value, String) =
        sqlx::query_as("SELECT payload, queue FROM job WHERE dedupe_key = $1 AND kind = 'send_email'")
            .bind(format!("order_placed:{id}"))
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(queue, "emails");
    assert_eq!(payload["message_key"], format!("order_placed:{id}"));
    assert_eq!(payload["to"], "meena@example.com");
    assert_eq!(payload["template"], "order_placed");
    let context = &payload["context"];
    assert_eq!(context["order_number"], number);
    assert_eq!(context["name"], "Meena Iyer");
    assert_eq!(context["total"], "₹10,498.00");
    assert_eq!(context["awaiting_payment"], false);
    assert_eq!(
        context["items"],
        json!([{"name": "Rally Kit", "quantity": 2}, {"name": "Voice Calls", "quantity": 1000}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_notified_status_change_sends_one_email() {
    let smtp = SmtpServer::start().await;
    let app = app_with_smtp(&smtp).await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let (_, token) = customer(&app, "meera", "meera@example.com", "Meera").await;
    let (a, number_a) = placed_ids(&place(&app, &token).await);
    let (b, number_b) = placed_ids(&place(&app, &token).await);

    // Not a notified status: no email.
    update_status(&app, &admin, a, "ready_for_processing", "").await;
    update_status(&app, &admin, a, "in_progress", "").await;
    update_status(&app, &admin, a, "on_hold", "Waiting for your <logo>").await;
    update_status(&app, &admin, a, "completed", "").await;
    // On hold without a reason shows none (not the text written in its place).
    update_status(&app, &admin, b, "on_hold", "").await;
    update_status(&app, &admin, b, "cancelled", "internal note").await;

    let to = "meera@example.com";
    let started = wait_for(&app, &smtp, to, &format!("Work has started on your order {number_a}")).await;
    assert!(started.text().contains("started work on your order") && started.html().contains(&number_a));
    let hold = wait_for(&app, &smtp, to, &format!("Your order {number_a} is on hold")).await;
    assert!(hold.text().contains("Reason: Waiting for your <logo>"), "{}", hold.text());
    assert!(hold.html().contains("Waiting for your &lt;logo&gt;"), "{}", hold.html());
    let done = wait_for(&app, &smtp, to, &format!("Your order {number_a} is complete")).await;
    assert!(done.text().contains(SUPPORT) && done.html().contains(&number_a));
    let hold_b = wait_for(&app, &smtp, to, &format!("Your order {number_b} is on hold")).await;
    assert!(!hold_b.everything().contains("Reason"), "{}", hold_b.text());
    assert!(!hold_b.everything().contains("Status changed from"));
    let cancelled = wait_for(&app, &smtp, to, &format!("Your order {number_b} has been cancelled")).await;
    assert!(!cancelled.everything().contains("internal note"), "only on hold shows the reason");

    settle(&app).await;
    let subjects: Vec<String> = mails_to(&smtp, to).into_iter().map(|m| m.subject).collect();
    assert_eq!(subjects.len(), 7, "two placed, five status mails: {subjects:?}");
    for expected in [
        format!("Work has started on your order {number_a}"),
        format!("Your order {number_a} is on hold"),
        format!("Your order {number_a} is complete"),
        format!("Your order {number_b} is on hold"),
        format!("Your order {number_b} has been cancelled"),
    ] {
        assert_eq!(subjects.iter().filter(|s| **s == expected).count(), 1, "{expected} once");
    }
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM job WHERE dedupe_key LIKE 'order_status:%'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(keys, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assignment_emails_the_staff_member_each_time() {
    let smtp = SmtpServer::start().await;
    let app = app_with_smtp(&smtp).await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let ravi = UserBuilder::new("ravi").staff().email("ravi@example.com").create(&app).await;
    let lata = UserBuilder::new("lata").staff().email("lata@example.com").create(&app).await;
    let (_, token) = customer(&app, "kiran", "kiran@example.com", "Kiran").await;
    let (order, number) = placed_ids(&place(&app, &token).await);
    sqlx::query("UPDATE orders SET billing_name = 'Kiran for Ward 12' WHERE id = $1")
        .bind(order)
        .execute(&app.pool)
        .await
        .unwrap();

    assign(&app, &admin, order, ravi).await;
    let subject = format!("Order {number} has been assigned to you");
    let mail = wait_for(&app, &smtp, "ravi@example.com", &subject).await;
    assert_eq!(mail.subject, subject);
    for part in [mail.text(), mail.html()] {
        assert!(part.contains("Hello ravi,"), "{part}");
        assert!(part.contains("Kiran for Ward 12") && part.contains("Normal") && part.contains("₹4,999.00"), "{part}");
        assert!(part.contains(SUPPORT));
    }

    // A reassignment (the order is already `assigned`: no history row) still tells the new
    // assignee, and assigning back tells the first one again.
    assign(&app, &admin, order, lata).await;
    wait_for(&app, &smtp, "lata@example.com", &subject).await;
    assign(&app, &admin, order, ravi).await;
    app.eventually(Duration::from_secs(15), || async {
        (mails_to(&smtp, "ravi@example.com").len() == 2).then_some(())
    })
    .await
    .expect("a second assignment mail to ravi");

    settle(&app).await;
    assert_eq!(mails_to(&smtp, "ravi@example.com").len(), 2);
    assert_eq!(mails_to(&smtp, "lata@example.com").len(), 1);
    // The customer hears of the order, not of its assignment.
    let customer_mails: Vec<String> = mails_to(&smtp, "kiran@example.com").into_iter().map(|m| m.subject).collect();
    assert_eq!(customer_mails, vec![format!("We have received your order {number}")]);
}

fn token_from(mail: &Mail) -> String {
    let text = mail.text();
    let start = text.find("reset.test/t/").expect("set-password link") + "reset.test/t/".len();
    text[start..].split('/').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_made_account_gets_a_welcome_link_that_sets_its_password() {
    let smtp = SmtpServer::start().await;
    let app = app_with_smtp(&smtp).await;
    let (_, admin) = app.user_token("boss", "admin").await;

    // First an account without an address: it gets nothing (checked once the other's mail is in).
    let res = app
        .post("/api/auth/users/create/", &json!({"username": "no_mail", "password": "Given-pass-4321"}), Some(&admin))
        .await;
    assert_eq!(res.status(), 201);
    let no_mail = res.json::<Value>().await.unwrap()["user"]["id"].as_i64().unwrap();

    let given = "Given-pass-9876";
    let res = app
        .post(
            "/api/auth/users/create/",
            &json!({"username": "newstaff", "email": "newstaff@example.com", "role": "staff", "password": given}),
            Some(&admin),
        )
        .await;
    assert_eq!(res.status(), 201);
    let user_id = res.json::<Value>().await.unwrap()["user"]["id"].as_i64().unwrap();

    let mail = wait_for(&app, &smtp, "newstaff@example.com", "Your Election Cart account is ready").await;
    let everything = mail.everything();
    assert!(!everything.contains(given), "never a password: {everything}");
    // HTML escapes `/` as `&#x2f;`, which a browser reads back as `/`.
    let html = mail.html().replace("&#x2f;", "/");
    for part in [mail.text(), html.as_str()] {
        assert!(part.contains("created an account for you"), "{part}");
        assert!(part.contains("newstaff"), "the username: {part}");
        assert!(part.contains("72 hours"), "WELCOME_LINK_HOURS' default: {part}");
        assert!(part.contains(&format!("reset.test/t/{}/end", token_from(&mail))), "the link: {part}");
        assert!(part.contains(SUPPORT));
    }
    let valid_hours: f64 = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM expires_at - created_at)::float8 / 3600 FROM password_reset_token WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!((valid_hours - 72.0).abs() < 0.01, "{valid_hours}");

    // The link's token sets the password (once), through the reset confirm endpoint.
    let token = token_from(&mail);
    let res = app
        .post("/api/auth/password-reset/confirm/", &json!({"token": token, "new_password": "my-own-pass-55"}), None)
        .await;
    assert_eq!(res.status(), 204);
    app.login("newstaff", "my-own-pass-55").await;
    let res = app
        .post("/api/auth/password-reset/confirm/", &json!({"token": token, "new_password": "again-pass-66"}), None)
        .await;
    assert_eq!(res.status(), 422);

    settle(&app).await;
    assert_eq!(smtp.messages().len(), 1, "one welcome mail, none for the account without an address");
    assert_eq!(jobs_with_key(&app, &format!("welcome:{no_mail}")).await, 0);
    let tokens: i64 = sqlx::query_scalar("SELECT count(*) FROM password_reset_token WHERE user_id = $1")
        .bind(no_mail)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(tokens, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_without_an_address_or_inactive_get_nothing() {
    let smtp = SmtpServer::start().await;
    let app = app_with_smtp(&smtp).await;
    let (_, admin) = app.user_token("boss", "admin").await;
    let silent_staff = UserBuilder::new("silent_staff").staff().create(&app).await;
    let (_, no_mail_token) = customer(&app, "no_mail", "", "Nomail").await;
    let (_, blank_token) = customer(&app, "blank_mail", "   ", "Blank").await;
    let (gone_id, gone_token) = customer(&app, "gone", "gone@example.com", "Gone").await;

    let (a, _) = placed_ids(&place(&app, &no_mail_token).await);
    let (b, _) = placed_ids(&place(&app, &blank_token).await);
    assign(&app, &admin, a, silent_staff).await;
    update_status(&app, &admin, a, "in_progress", "").await;
    update_status(&app, &admin, b, "on_hold", "Waiting").await;
    // An inactive account gets nothing either (its placed mail is the one before).
    let (c, number_c) = placed_ids(&place(&app, &gone_token).await);
    wait_for(&app, &smtp, "gone@example.com", &number_c).await;
    sqlx::query("UPDATE users SET is_active = false WHERE id = $1").bind(gone_id).execute(&app.pool).await.unwrap();
    update_status(&app, &admin, c, "cancelled", "").await;

    // Positive control, sent after all of the above.
    let (_, control_token) = customer(&app, "control", "control@example.com", "Control").await;
    let (_, control_number) = placed_ids(&place(&app, &control_token).await);
    wait_for(&app, &smtp, "control@example.com", &control_number).await;

    settle(&app).await;
    let seen: Vec<(Vec<String>, String)> = mails(&smtp).into_iter().map(|m| (m.to, m.subject)).collect();
    assert_eq!(seen.len(), 2, "only gone's order-placed mail and the control: {seen:?}");
    let for_them: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM job WHERE kind = 'send_email'
           AND (dedupe_key IN ($1, $2) OR dedupe_key LIKE $3 OR dedupe_key LIKE 'order_status:%')",
    )
    .bind(format!("order_placed:{a}"))
    .bind(format!("order_placed:{b}"))
    .bind(format!("order_assigned:{a}:%"))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(for_them, 0, "no job is even written");
}

/// PostgreSQL going away just after the SMTP server accepted a message (a restart) must not lose
/// the record of the send: it is written once the database answers again, so no retry sends the
/// message a second time after the claim goes stale. Found by `scripts/chaos` (a PostgreSQL
/// restart under load gave two copies of a `payment_received` email). The copy carries the
/// `Message-ID` derived from its dedupe key.
#[tokio::test]
async fn a_send_is_recorded_through_a_short_database_outage() {
    let smtp = SmtpServer::start().await;
    smtp.set_data_delay(Duration::from_millis(400));
    let app = TestAppBuilder::new().var("SMTP_URL", &smtp.url).spawn().await;
    let mut url = url::Url::parse(&e2e::admin_database_url()).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let proxy = e2e::proxy::Proxy::start(upstream).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.addr.port())).unwrap();
    url.set_path(&format!("/{}", app.db_name));
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_millis(300))
        .connect(url.as_str())
        .await
        .unwrap();
    let mailer = common::mail::Mailer::from_config(&app.cfg).unwrap();
    let job = common::jobs::SendEmail {
        message_key: "password_reset:4242".into(),
        to: "asha@x.test".into(),
        template: "password_reset".into(),
        context: json!({"name": "Asha", "username": "asha", "valid_minutes": 60, "reset_url": "https://x.test/r"}),
        attachments: vec![],
    };
    let from = app.cfg.mail_from.clone();
    let send = {
        let (pool, job, from) = (pool.clone(), job.clone(), from.clone());
        tokio::spawn(async move {
            common::mail::deliver_once(&pool, &mailer, &from, &job, &[], Duration::from_secs(20)).await
        })
    };
    // The message is in DATA (claimed): PostgreSQL goes away until after the server accepts it.
    for _ in 0..200 {
        if smtp.in_data() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(smtp.in_data(), 1);
    proxy.down();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(smtp.messages().len(), 1, "accepted while the database was away");
    proxy.up();
    let delivery = send.await.unwrap();
    assert!(matches!(delivery, Ok(common::mail::Delivery::Sent)), "{delivery:?}");
    let status: String = sqlx::query_scalar("SELECT status FROM sent_email WHERE message_key = $1")
        .bind(&job.message_key)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "sent");
    // A retry of the job now skips it.
    let again = common::mail::deliver_once(
        &app.pool,
        &common::mail::Mailer::from_config(&app.cfg).unwrap(),
        &from,
        &job,
        &[],
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    assert_eq!(again, common::mail::Delivery::AlreadySent);
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].message_id.as_deref(), Some(common::mail::message_id(&job.message_key, &from).as_str()));
}

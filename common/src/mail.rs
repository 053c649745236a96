//! Email: templates, the SMTP and file-outbox transports, and once-only delivery.

use std::path::PathBuf;

use lettre::message::header::ContentType;
use lettre::message::{Attachment as MimeAttachment, Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::Environment;
use sqlx::PgPool;

use crate::config::Config;
use crate::jobs::SendEmail;

/// Templates compiled into the binary: (name, subject, text body, html body).
const TEMPLATES: &[(&str, &str, &str, &str)] = &[
    (
        "password_reset",
        include_str!("../../templates/email/password_reset.subject.txt"),
        include_str!("../../templates/email/password_reset.txt"),
        include_str!("../../templates/email/password_reset.html"),
    ),
    (
        "welcome",
        include_str!("../../templates/email/welcome.subject.txt"),
        include_str!("../../templates/email/welcome.txt"),
        include_str!("../../templates/email/welcome.html"),
    ),
    (
        "order_placed",
        include_str!("../../templates/email/order_placed.subject.txt"),
        include_str!("../../templates/email/order_placed.txt"),
        include_str!("../../templates/email/order_placed.html"),
    ),
    (
        "payment_received",
        include_str!("../../templates/email/payment_received.subject.txt"),
        include_str!("../../templates/email/payment_received.txt"),
        include_str!("../../templates/email/payment_received.html"),
    ),
    (
        "order_status",
        include_str!("../../templates/email/order_status.subject.txt"),
        include_str!("../../templates/email/order_status.txt"),
        include_str!("../../templates/email/order_status.html"),
    ),
    (
        "order_assigned",
        include_str!("../../templates/email/order_assigned.subject.txt"),
        include_str!("../../templates/email/order_assigned.txt"),
        include_str!("../../templates/email/order_assigned.html"),
    ),
    (
        "refund_processed",
        include_str!("../../templates/email/refund_processed.subject.txt"),
        include_str!("../../templates/email/refund_processed.txt"),
        include_str!("../../templates/email/refund_processed.html"),
    ),
];

/// A message ready to send.
#[derive(Debug, Clone)]
pub struct RenderedEmail {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// Mail failures; `permanent` ones are not retried.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Unknown template or bad template data: retrying will not help.
    #[error("template: {0}")]
    Template(String),
    /// Bad address: retrying will not help.
    #[error("address: {0}")]
    Address(String),
    /// The transport failed (connection, timeout, a transient 4yz reply); a later attempt may
    /// succeed.
    #[error("transport: {0}")]
    Transport(String),
    /// The SMTP server refused the message for good (a permanent 5yz reply).
    #[error("smtp refused: {0}")]
    Refused(String),
    /// Bookkeeping in PostgreSQL failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl MailError {
    /// True when another attempt cannot succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(self, MailError::Template(_) | MailError::Address(_) | MailError::Refused(_))
    }
}

/// Classifies an SMTP failure by the server's reply code, if it sent one: a permanent 5yz reply
/// (no such mailbox, message refused) is [`MailError::Refused`]; a transient 4yz reply, a
/// connection error or a timeout (no code) is [`MailError::Transport`], retried with back-off.
/// `message` (the server's text) is kept for the job's `last_error`.
pub fn smtp_failure(code: Option<u16>, message: String) -> MailError {
    match code {
        Some(500..=599) => MailError::Refused(message),
        _ => MailError::Transport(message),
    }
}

/// Renders a named template with `context`; HTML values are escaped.
pub fn render(template: &str, context: &serde_json::Value) -> Result<RenderedEmail, MailError> {
    let (_, subject, text, html) = TEMPLATES
        .iter()
        .find(|(name, ..)| *name == template)
        .ok_or_else(|| MailError::Template(format!("no template `{template}`")))?;
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") { minijinja::AutoEscape::Html } else { minijinja::AutoEscape::None }
    });
    let tpl = |name: &str, src: &str| -> Result<String, MailError> {
        env.render_named_str(name, src, context).map_err(|e| MailError::Template(e.to_string()))
    };
    Ok(RenderedEmail {
        subject: tpl("subject.txt", subject)?.trim().to_string(),
        text: tpl("body.txt", text)?,
        html: tpl("body.html", html)?,
    })
}

/// Where mail goes: SMTP when `SMTP_URL` is set, else `.eml` files in `MAIL_OUTBOX_DIR`.
#[derive(Clone)]
pub enum Mailer {
    /// lettre over SMTP (plain relay, STARTTLS or TLS by URL).
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Files in a directory, one per message.
    File(PathBuf),
}

impl Mailer {
    /// The transport the configuration asks for.
    pub fn from_config(cfg: &Config) -> Result<Self, MailError> {
        match &cfg.smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .map_err(|e| MailError::Transport(format!("SMTP_URL: {e}")))?
                    .timeout(Some(cfg.smtp_timeout))
                    .build();
                Ok(Mailer::Smtp(transport))
            }
            None => Ok(Mailer::File(cfg.mail_outbox_dir.clone())),
        }
    }

    async fn send(&self, message: Message, key: &str) -> Result<(), MailError> {
        match self {
            Mailer::Smtp(transport) => {
                transport.send(message).await.map_err(|e| smtp_failure(e.status().map(u16::from), e.to_string()))?;
            }
            Mailer::File(dir) => {
                tokio::fs::create_dir_all(dir).await.map_err(|e| MailError::Transport(e.to_string()))?;
                let safe: String =
                    key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
                let name = format!("{}-{}.eml", chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"), safe);
                let tmp = dir.join(format!(".{name}.tmp"));
                tokio::fs::write(&tmp, message.formatted()).await.map_err(|e| MailError::Transport(e.to_string()))?;
                tokio::fs::rename(&tmp, dir.join(name)).await.map_err(|e| MailError::Transport(e.to_string()))?;
            }
        }
        Ok(())
    }
}

/// A resolved attachment: file name and PDF bytes.
pub type PdfAttachment = (String, Vec<u8>);

/// The `Message-ID` of the message with dedupe key `key` sent from `from`: the same for every
/// attempt, so a resend after a worker died mid-send (its first copy possibly delivered) is
/// recognisable as the same message by the receiving side and by the chaos run's SMTP sink.
/// `<` + the key with characters outside `[A-Za-z0-9_-]` as `.` + `.` + the first 12 hex digits
/// of its SHA-256 + `@` + the domain of `from` (`electioncart.invalid` without one) + `>`.
pub fn message_id(key: &str, from: &str) -> String {
    use sha2::{Digest, Sha256};
    let readable: String =
        key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '.' }).collect();
    let readable: Vec<&str> = readable.split('.').filter(|p| !p.is_empty()).collect();
    let hash = hex::encode(Sha256::digest(key.as_bytes()));
    let domain = from
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').trim())
        .filter(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        .unwrap_or("electioncart.invalid");
    let mut left: String = readable.join(".").chars().take(120).collect();
    if !left.is_empty() {
        left.push('.');
    }
    format!("<{left}{}@{domain}>", &hash[..12])
}

/// Builds the MIME message: text and HTML alternatives, inside `multipart/mixed` with the
/// attachments (`application/pdf`) when there are any. With a `key`, its `Message-ID` is
/// [`message_id`] of it (else lettre makes a random one).
pub fn build_message(
    from: &str,
    to: &str,
    email: &RenderedEmail,
    attachments: &[PdfAttachment],
    key: Option<&str>,
) -> Result<Message, MailError> {
    let id = key.map(|k| message_id(k, from));
    let from: Mailbox = from.parse().map_err(|e| MailError::Address(format!("MAIL_FROM: {e}")))?;
    let to: Mailbox = to.parse().map_err(|e| MailError::Address(format!("{to}: {e}")))?;
    let alternative = MultiPart::alternative_plain_html(email.text.clone(), email.html.clone());
    let body = if attachments.is_empty() {
        alternative
    } else {
        let pdf = ContentType::parse("application/pdf").map_err(|e| MailError::Template(e.to_string()))?;
        attachments.iter().fold(MultiPart::mixed().multipart(alternative), |mixed, (name, bytes)| {
            mixed.singlepart(MimeAttachment::new(name.clone()).body(bytes.clone(), pdf.clone()))
        })
    };
    Message::builder()
        .message_id(id)
        .from(from)
        .to(to)
        .subject(email.subject.clone())
        .multipart(body)
        .map_err(|e| MailError::Template(e.to_string()))
}

/// Whether the message `key` has been sent (lets a rerun skip fetching attachments).
pub async fn was_sent(pool: &PgPool, key: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sent_email WHERE message_key = $1 AND status = 'sent')")
        .bind(key)
        .fetch_one(pool)
        .await
}

/// Outcome of [`deliver_once`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Sent now.
    Sent,
    /// This message key was sent before: nothing done.
    AlreadySent,
}

/// Sends `job` with its resolved `attachments` unless its message key was already sent. A claim
/// row taken before sending makes a concurrent second run of the same message skip; a claim older
/// than `claim_stale` (`MAIL_CLAIM_STALE_SECONDS`, ten minutes by default: a worker that died
/// mid-send) may be taken over. The resend carries the same `Message-ID` ([`message_id`]).
pub async fn deliver_once(
    pool: &PgPool,
    mailer: &Mailer,
    from: &str,
    job: &SendEmail,
    attachments: &[PdfAttachment],
    claim_stale: std::time::Duration,
) -> Result<Delivery, MailError> {
    let email = render(&job.template, &job.context)?;
    let message = build_message(from, &job.to, &email, attachments, Some(&job.message_key))?;
    let subject: String = email.subject.chars().take(300).collect();
    let claimed: Option<String> = sqlx::query_scalar(
        "INSERT INTO sent_email (message_key, recipient, subject, status) VALUES ($1, $2, $3, 'sending')
         ON CONFLICT (message_key) DO UPDATE SET claimed_at = now()
             WHERE sent_email.status = 'sending' AND sent_email.claimed_at < now() - make_interval(secs => $4)
         RETURNING message_key",
    )
    .bind(&job.message_key)
    .bind(&job.to)
    .bind(&subject)
    .bind(claim_stale.as_secs_f64())
    .fetch_optional(pool)
    .await?;
    if claimed.is_none() {
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM sent_email WHERE message_key = $1")
            .bind(&job.message_key)
            .fetch_optional(pool)
            .await?;
        return match status.as_deref() {
            Some("sent") => Ok(Delivery::AlreadySent),
            _ => Err(MailError::Transport("another worker is sending this message".into())),
        };
    }
    if let Err(e) = mailer.send(message, &job.message_key).await {
        // Release the claim so the retry can send.
        sqlx::query("DELETE FROM sent_email WHERE message_key = $1 AND status = 'sending'")
            .bind(&job.message_key)
            .execute(pool)
            .await?;
        return Err(e);
    }
    mark_sent(pool, &job.message_key, (claim_stale / 2).min(std::time::Duration::from_secs(60))).await?;
    Ok(Delivery::Sent)
}

/// Records that the message `key` went out. The SMTP server has accepted it: if this record were
/// lost to a short database outage (a restart), the claim would stay `sending`, a retry would take
/// it over after `MAIL_CLAIM_STALE_SECONDS` and send the message a second time. So the update is
/// retried for up to `patience` (half that time, at most a minute) before giving up.
async fn mark_sent(pool: &PgPool, key: &str, patience: std::time::Duration) -> Result<(), sqlx::Error> {
    let deadline = std::time::Instant::now() + patience;
    let mut wait = std::time::Duration::from_millis(100);
    loop {
        match sqlx::query("UPDATE sent_email SET status = 'sent', sent_at = now() WHERE message_key = $1")
            .bind(key)
            .execute(pool)
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if std::time::Instant::now() + wait < deadline => {
                tracing::warn!(message_key = %key, error = %e, "email sent but not yet recorded; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_reset_renders_and_escapes_html() -> Result<(), MailError> {
        let ctx = serde_json::json!({
            "name": "<b>Asha</b>", "username": "asha", "valid_minutes": 60,
            "reset_url": "https://x.test/reset?token=abc",
        });
        let email = render("password_reset", &ctx)?;
        assert_eq!(email.subject, "Reset your Election Cart password");
        assert!(email.text.contains("https://x.test/reset?token=abc"));
        assert!(email.text.contains("<b>Asha</b>"));
        assert!(email.html.contains("&lt;b&gt;Asha&lt;&#x2f;b&gt;") || email.html.contains("&lt;b&gt;Asha"));
        Ok(())
    }

    const EVIL: &str = "<b>Asha & Co</b>";

    /// Checks both parts: the text has `EVIL` as written, the HTML only escaped, and each part
    /// contains every `needle`.
    fn check_parts(email: &RenderedEmail, needles: &[&str]) {
        assert!(email.text.contains(EVIL), "text keeps the name as written:\n{}", email.text);
        assert!(!email.html.contains(EVIL), "HTML escapes the name:\n{}", email.html);
        assert!(email.html.contains("&lt;b&gt;Asha &amp; Co&lt;"), "{}", email.html);
        assert!(email.html.starts_with("<!doctype html>"));
        for needle in needles {
            assert!(email.text.contains(needle), "text lacks {needle:?}:\n{}", email.text);
            assert!(email.html.contains(needle), "HTML lacks {needle:?}:\n{}", email.html);
        }
        assert!(!email.subject.contains('\n'), "one-line subject: {:?}", email.subject);
        assert!(!email.text.contains("{{") && !email.html.contains("{{"));
    }

    #[test]
    fn every_template_is_registered_once() {
        let mut names: Vec<&str> = TEMPLATES.iter().map(|(name, ..)| *name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before);
        for name in [
            "password_reset",
            "welcome",
            "order_placed",
            "payment_received",
            "order_status",
            "order_assigned",
            "refund_processed",
        ] {
            assert!(names.contains(&name), "{name}");
        }
    }

    #[test]
    fn order_placed_lists_the_lines_and_total() -> Result<(), MailError> {
        let ctx = serde_json::json!({
            "name": EVIL, "order_number": "EC-20261205-ABCDEF12", "total": "₹5,898.82",
            "items": [{"name": "Rally Kit", "quantity": 2}, {"name": "Voice <Calls>", "quantity": 1000}],
            "awaiting_payment": true, "support_email": "help@electioncart.test",
        });
        let email = render("order_placed", &ctx)?;
        assert_eq!(email.subject, "We have received your order EC-20261205-ABCDEF12");
        check_parts(
            &email,
            &[
                "EC-20261205-ABCDEF12",
                "₹5,898.82",
                "Rally Kit",
                "help@electioncart.test",
                "as soon as the payment is confirmed",
            ],
        );
        assert!(email.text.contains("- Rally Kit x 2\n- Voice <Calls> x 1000\n"), "{}", email.text);
        assert!(email.html.contains("Voice &lt;Calls&gt;"));
        let paid = render("order_placed", &serde_json::json!({"awaiting_payment": false, "name": EVIL, "items": []}))?;
        assert!(!paid.text.contains("payment is confirmed") && paid.text.contains("keep you informed"));
        Ok(())
    }

    #[test]
    fn payment_received_names_the_attached_invoice() -> Result<(), MailError> {
        let ctx = serde_json::json!({
            "name": EVIL, "order_number": "EC-20261205-ABCDEF12", "amount": "₹1,234.00",
            "invoice_number": "EC/26-27/00042", "support_email": "help@electioncart.test",
        });
        let email = render("payment_received", &ctx)?;
        assert_eq!(email.subject, "Payment received for order EC-20261205-ABCDEF12");
        check_parts(&email, &["EC-20261205-ABCDEF12", "₹1,234.00", "attached", "help@electioncart.test"]);
        assert!(email.text.contains("invoice EC/26-27/00042"));
        // `/` is escaped in HTML, which a browser shows as written.
        assert!(email.html.contains("EC&#x2f;26-27&#x2f;00042") || email.html.contains("EC/26-27/00042"));
        Ok(())
    }

    #[test]
    fn order_status_has_one_wording_per_status_and_the_hold_reason() -> Result<(), MailError> {
        let cases = [
            ("in_progress", "Work has started on your order EC-1", "started work"),
            ("completed", "Your order EC-1 is complete", "is complete"),
            ("cancelled", "Your order EC-1 has been cancelled", "has been cancelled"),
            ("on_hold", "Your order EC-1 is on hold", "put on hold"),
        ];
        for (status, subject, phrase) in cases {
            let ctx = serde_json::json!({
                "name": EVIL, "order_number": "EC-1", "status": status, "status_label": "x",
                "reason": if status == "on_hold" { "Waiting for <your> logo" } else { "" },
                "support_email": "help@electioncart.test",
            });
            let email = render("order_status", &ctx)?;
            assert_eq!(email.subject, subject);
            check_parts(&email, &["EC-1", phrase, "help@electioncart.test"]);
            if status == "on_hold" {
                assert!(email.text.contains("Reason: Waiting for <your> logo"), "{}", email.text);
                assert!(email.html.contains("Waiting for &lt;your&gt; logo"));
            } else {
                assert!(!email.text.contains("Reason:"));
            }
        }
        let hold = serde_json::json!({"name": EVIL, "order_number": "EC-1", "status": "on_hold", "reason": ""});
        assert!(!render("order_status", &hold)?.text.contains("Reason:"));
        Ok(())
    }

    #[test]
    fn order_assigned_tells_the_staff_member_what_to_do() -> Result<(), MailError> {
        let ctx = serde_json::json!({
            "name": EVIL, "order_number": "EC-7", "customer_name": "Meera <M>", "priority": "High",
            "items": [{"name": "Rally Kit", "quantity": 3}], "total": "₹14,997.00",
            "support_email": "help@electioncart.test",
        });
        let email = render("order_assigned", &ctx)?;
        assert_eq!(email.subject, "Order EC-7 has been assigned to you");
        check_parts(&email, &["EC-7", "Rally Kit", "High", "₹14,997.00", "help@electioncart.test"]);
        assert!(email.text.contains("Customer: Meera <M>"));
        assert!(email.html.contains("Meera &lt;M&gt;"));
        Ok(())
    }

    #[test]
    fn refund_processed_mentions_the_credit_note_only_when_there_is_one() -> Result<(), MailError> {
        let ctx = serde_json::json!({
            "name": EVIL, "order_number": "EC-9", "amount": "₹1,00,000.00",
            "credit_note_number": "CN/26-27/00003", "support_email": "help@electioncart.test",
        });
        let email = render("refund_processed", &ctx)?;
        assert_eq!(email.subject, "Refund processed for order EC-9");
        check_parts(&email, &["EC-9", "₹1,00,000.00", "help@electioncart.test", "Credit note"]);
        assert!(email.text.contains("Credit note CN/26-27/00003"));
        let none =
            serde_json::json!({"name": EVIL, "order_number": "EC-9", "amount": "₹1.00", "credit_note_number": null});
        let email = render("refund_processed", &none)?;
        assert!(!email.text.contains("Credit note") && !email.html.contains("Credit note"));
        Ok(())
    }

    #[test]
    fn welcome_gives_the_username_and_link_and_no_password() -> Result<(), MailError> {
        let ctx = serde_json::json!({
            "name": EVIL, "username": "meera_k", "valid_hours": 72,
            "set_password_url": "https://x.test/reset?token=abc&x=1", "support_email": "help@electioncart.test",
        });
        let email = render("welcome", &ctx)?;
        assert_eq!(email.subject, "Your Election Cart account is ready: set your password");
        check_parts(&email, &["meera_k", "72 hours", "help@electioncart.test", "created an account for you"]);
        assert!(email.text.contains("https://x.test/reset?token=abc&x=1"));
        assert!(email.html.contains("token=abc&amp;x=1"), "{}", email.html);
        for part in [&email.subject, &email.text, &email.html] {
            assert!(!part.to_lowercase().contains("your password is"), "{part}");
        }
        Ok(())
    }

    fn unfold(raw: &str) -> String {
        raw.replace("\r\n", "\n")
    }

    #[test]
    fn a_message_with_an_attachment_is_mixed_with_the_pdf_in_base64() -> Result<(), MailError> {
        use base64::Engine;
        let email = RenderedEmail { subject: "S".into(), text: "plain body".into(), html: "<p>html body</p>".into() };
        let pdf: Vec<u8> = b"%PDF-1.7\n\x00\x01\xff\xfe binary \x80\x81 %%EOF".repeat(8);
        let files = vec![("EC_26-27_00042.pdf".to_string(), pdf.clone())];
        let message = build_message("Election Cart <no-reply@x.test>", "meera@x.test", &email, &files, None)?;
        let raw = unfold(&String::from_utf8_lossy(&message.formatted()));
        assert!(raw.contains("Content-Type: multipart/mixed"), "{raw}");
        assert!(raw.contains("Content-Type: multipart/alternative"), "{raw}");
        assert!(raw.contains("Content-Type: text/plain") && raw.contains("Content-Type: text/html"));
        assert!(raw.contains("Content-Type: application/pdf"), "{raw}");
        assert!(raw.contains("Content-Disposition: attachment; filename=\"EC_26-27_00042.pdf\""), "{raw}");
        assert!(raw.contains("Content-Transfer-Encoding: base64"));
        // The attachment's body: the base64 lines after its headers, up to the next boundary.
        let start = raw.find("Content-Type: application/pdf").map(|i| &raw[i..]).unwrap_or_default();
        let body = start.split("\n\n").nth(1).unwrap_or_default();
        let encoded: String = body.lines().take_while(|l| !l.starts_with("--")).collect();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|e| MailError::Template(e.to_string()))?;
        assert_eq!(decoded, pdf);
        Ok(())
    }

    #[test]
    fn a_message_without_attachments_stays_alternative() -> Result<(), MailError> {
        let email = RenderedEmail { subject: "S".into(), text: "t".into(), html: "<p>h</p>".into() };
        let raw =
            unfold(&String::from_utf8_lossy(&build_message("a@x.test", "b@x.test", &email, &[], None)?.formatted()));
        assert!(raw.contains("Content-Type: multipart/alternative"));
        assert!(!raw.contains("multipart/mixed") && !raw.contains("application/pdf"));
        Ok(())
    }

    #[test]
    fn the_message_id_is_derived_from_the_dedupe_key() -> Result<(), MailError> {
        let id = message_id("order_placed:42", "Election Cart <no-reply@x.test>");
        assert!(id.starts_with("<order_placed.42.") && id.ends_with("@x.test>"), "{id}");
        assert_eq!(id, message_id("order_placed:42", "other@x.test"), "the same key, the same id");
        assert_ne!(id, message_id("order_placed:43", "no-reply@x.test"));
        assert_ne!(message_id("a:b", "x@y.test"), message_id("a.b", "x@y.test"), "the hash tells them apart");
        assert!(message_id("k", "no domain").ends_with("@electioncart.invalid>"));
        let email = RenderedEmail { subject: "S".into(), text: "t".into(), html: "<p>h</p>".into() };
        let message = build_message("no-reply@x.test", "b@x.test", &email, &[], Some("order_placed:42"))?;
        let raw = String::from_utf8_lossy(&message.formatted()).into_owned();
        assert!(raw.contains(&format!("Message-ID: {id}")), "{raw}");
        Ok(())
    }

    #[test]
    fn smtp_replies_are_classified_by_code() {
        assert!(smtp_failure(Some(550), "5.1.1 no such user".into()).is_permanent());
        assert!(smtp_failure(Some(554), "rejected".into()).is_permanent());
        for transient in [Some(421), Some(450), Some(451), Some(452), None] {
            let e = smtp_failure(transient, "try later".into());
            assert!(!e.is_permanent(), "{transient:?}");
            assert_eq!(e.to_string(), "transport: try later");
        }
        assert_eq!(
            smtp_failure(Some(550), "5.1.1 no such user".into()).to_string(),
            "smtp refused: 5.1.1 no such user"
        );
    }

    #[test]
    fn unknown_template_is_permanent() {
        let err = render("nope", &serde_json::json!({})).err();
        assert!(err.is_some_and(|e| e.is_permanent()));
    }
}

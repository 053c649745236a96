//! Email: templates, the SMTP and file-outbox transports, and once-only delivery.

use std::path::PathBuf;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::Environment;
use sqlx::PgPool;

use crate::config::Config;
use crate::jobs::SendEmail;

/// Templates compiled into the binary: (name, subject, text body, html body).
const TEMPLATES: &[(&str, &str, &str, &str)] = &[(
    "password_reset",
    include_str!("../../templates/email/password_reset.subject.txt"),
    include_str!("../../templates/email/password_reset.txt"),
    include_str!("../../templates/email/password_reset.html"),
)];

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
    /// The transport failed; a later attempt may succeed.
    #[error("transport: {0}")]
    Transport(String),
    /// Bookkeeping in PostgreSQL failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl MailError {
    /// True when another attempt cannot succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(self, MailError::Template(_) | MailError::Address(_))
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
                transport.send(message).await.map_err(|e| MailError::Transport(e.to_string()))?;
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

/// Builds the MIME message (text and HTML alternatives).
pub fn build_message(from: &str, to: &str, email: &RenderedEmail) -> Result<Message, MailError> {
    let from: Mailbox = from.parse().map_err(|e| MailError::Address(format!("MAIL_FROM: {e}")))?;
    let to: Mailbox = to.parse().map_err(|e| MailError::Address(format!("{to}: {e}")))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(email.subject.clone())
        .multipart(MultiPart::alternative_plain_html(email.text.clone(), email.html.clone()))
        .map_err(|e| MailError::Template(e.to_string()))
}

/// Outcome of [`deliver_once`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Sent now.
    Sent,
    /// This message key was sent before: nothing done.
    AlreadySent,
}

/// Sends `job` unless its message key was already sent. A claim row taken before sending makes a
/// concurrent second run of the same message skip; a claim older than ten minutes (a worker that
/// died mid-send) may be taken over.
pub async fn deliver_once(pool: &PgPool, mailer: &Mailer, from: &str, job: &SendEmail) -> Result<Delivery, MailError> {
    let email = render(&job.template, &job.context)?;
    let message = build_message(from, &job.to, &email)?;
    let subject: String = email.subject.chars().take(300).collect();
    let claimed: Option<String> = sqlx::query_scalar(
        "INSERT INTO sent_email (message_key, recipient, subject, status) VALUES ($1, $2, $3, 'sending')
         ON CONFLICT (message_key) DO UPDATE SET claimed_at = now()
             WHERE sent_email.status = 'sending' AND sent_email.claimed_at < now() - interval '10 minutes'
         RETURNING message_key",
    )
    .bind(&job.message_key)
    .bind(&job.to)
    .bind(&subject)
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
    sqlx::query("UPDATE sent_email SET status = 'sent', sent_at = now() WHERE message_key = $1")
        .bind(&job.message_key)
        .execute(pool)
        .await?;
    Ok(Delivery::Sent)
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

    #[test]
    fn unknown_template_is_permanent() {
        let err = render("nope", &serde_json::json!({})).err();
        assert!(err.is_some_and(|e| e.is_permanent()));
    }
}

//! Error tracking (`SENTRY_DSN`, off when unset): 5xx answers and panics of the API with the
//! request id, and jobs that fail for good with the job id, sent to Sentry through the `sentry`
//! crate's client. Events carry no request headers, bodies, cookies or user data
//! (`send_default_pii` off, nothing attached), and every text is scrubbed of bearer tokens,
//! JWTs, passwords and card-like numbers before it leaves ([`scrub`]).
//!
//! The client is per process (held by the API state and the worker context, not a global hub),
//! and its transport posts envelopes with the project's own HTTP client on the tokio runtime,
//! with a timeout, never from the request's task.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sentry::protocol::{Event, Level};
use sentry::types::Dsn;
use sentry::{ClientOptions, Transport, TransportFactory, TransportOptions};

/// Time allowed for one envelope to reach Sentry.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Reports errors to Sentry, or does nothing when `SENTRY_DSN` is unset.
#[derive(Clone, Default)]
pub struct ErrorReporter(Option<Arc<sentry::Client>>);

impl std::fmt::Debug for ErrorReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "ErrorReporter(on)" } else { "ErrorReporter(off)" })
    }
}

impl ErrorReporter {
    /// A reporter for `dsn` (none: off). `component` is `api` or `worker`; `environment` the
    /// `APP_ENV` name.
    pub fn new(dsn: Option<&SecretString>, component: &'static str, environment: &str) -> Self {
        let Some(dsn) = dsn else { return Self(None) };
        let Ok(parsed) = dsn.expose_secret().parse::<Dsn>() else {
            tracing::warn!("SENTRY_DSN does not parse; error tracking off");
            return Self(None);
        };
        let mut options = ClientOptions::default();
        options.dsn = Some(parsed);
        options.release = Some(format!("electioncart-{component}@{}", env!("CARGO_PKG_VERSION")).into());
        options.environment = Some(environment.to_string().into());
        options.server_name = Some(component.into());
        options.send_default_pii = false;
        options.default_integrations = false;
        options.attach_stacktrace = false;
        options.transport = Some(Arc::new(HttpTransportFactory));
        options.before_send = Some(Arc::new(|mut event| {
            scrub_event(&mut event);
            Some(event)
        }));
        Self(Some(Arc::new(sentry::Client::with_options(options))))
    }

    /// Whether events are sent.
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// A 5xx answer (or a panic turned into one) of the API.
    pub fn http_error(&self, request_id: &str, method: &str, path: &str, status: u16, cause: Option<&str>) {
        let Some(client) = &self.0 else { return };
        let mut tags = BTreeMap::new();
        tags.insert("request_id".to_string(), request_id.to_string());
        tags.insert("http.method".to_string(), method.to_string());
        tags.insert("http.status_code".to_string(), status.to_string());
        let message = match cause {
            Some(c) => format!("{status} on {method} {path}: {c}"),
            None => format!("{status} on {method} {path}"),
        };
        client.capture_event(
            Event {
                level: Level::Error,
                message: Some(message),
                logger: Some("electioncart.api".into()),
                transaction: Some(format!("{method} {path}")),
                tags,
                ..Event::default()
            },
            None,
        );
    }

    /// A job that failed for good (attempts exhausted, a permanent failure, or unrunnable).
    pub fn job_failed(&self, job_id: i64, kind: &str, attempts: i32, error: &str) {
        let Some(client) = &self.0 else { return };
        let mut tags = BTreeMap::new();
        tags.insert("job_id".to_string(), job_id.to_string());
        tags.insert("job_kind".to_string(), kind.to_string());
        tags.insert("attempts".to_string(), attempts.to_string());
        client.capture_event(
            Event {
                level: Level::Error,
                message: Some(format!("job {kind} #{job_id} failed for good: {error}")),
                logger: Some("electioncart.worker".into()),
                transaction: Some(format!("job {kind}")),
                tags,
                ..Event::default()
            },
            None,
        );
    }

    /// Waits up to `timeout` for events in flight (at shutdown, and in tests).
    pub fn flush(&self, timeout: Duration) -> bool {
        self.0.as_ref().is_none_or(|c| c.flush(Some(timeout)))
    }
}

/// Removes what must never reach a third party from an event: request data and user (never
/// set here, dropped in case), and secrets in every text.
fn scrub_event(event: &mut Event<'static>) {
    event.request = None;
    event.user = None;
    if let Some(m) = event.message.as_mut() {
        *m = scrub(m);
    }
    for v in event.tags.values_mut() {
        *v = scrub(v);
    }
    for e in event.exception.values.iter_mut() {
        if let Some(v) = e.value.as_mut() {
            *v = scrub(v);
        }
    }
}

/// A text with bearer tokens, JWTs, `password=`/`token=`/`secret=`/`key=` values and runs of
/// 13–19 digits (card numbers, with spaces or dashes) replaced by `[redacted]`.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let words: Vec<&str> = text.split_inclusive(char::is_whitespace).collect();
    let mut redact_next = false;
    for word in &words {
        let bare = word.trim_end();
        let tail = &word[bare.len()..];
        if redact_next && !bare.is_empty() {
            out.push_str("[redacted]");
            out.push_str(tail);
            redact_next = false;
            continue;
        }
        let lower = bare.to_ascii_lowercase();
        if lower == "bearer" || lower == "basic" {
            redact_next = true;
            out.push_str(word);
            continue;
        }
        if looks_like_jwt(bare) {
            out.push_str("[redacted]");
        } else if let Some(pos) = secret_assignment(&lower) {
            out.push_str(&bare[..pos]);
            out.push_str("[redacted]");
            // `authorization=Basic <credentials>`: the scheme, then the secret.
            redact_next = matches!(&lower[pos..], "bearer" | "basic");
        } else {
            out.push_str(bare);
        }
        out.push_str(tail);
    }
    redact_digit_runs(&out)
}

fn looks_like_jwt(word: &str) -> bool {
    let w = word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_' && c != '.');
    w.starts_with("eyJ") && w.matches('.').count() == 2
}

/// Where the value of `password=…`, `token: …` and the like starts in `lower`.
fn secret_assignment(lower: &str) -> Option<usize> {
    const NAMES: [&str; 7] = ["password", "passwd", "token", "secret", "api_key", "authorization", "signature"];
    for name in NAMES {
        if let Some(at) = lower.find(name) {
            let rest = &lower[at + name.len()..];
            let Some(sep) = rest.find(['=', ':']) else { continue };
            if rest[..sep].chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '"' || c == '\'') {
                let start = at + name.len() + sep + 1;
                if start < lower.len() {
                    return Some(start);
                }
            }
        }
    }
    None
}

/// Replaces runs of 13–19 digits (spaces and dashes inside allowed) with `[redacted]`; a run
/// with a letter right before or after it is part of a word (a hexadecimal request id), not a
/// card number.
fn redact_digit_runs(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let mut j = i;
            let mut digits = 0;
            let mut last_digit = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == ' ' || chars[j] == '-') {
                if chars[j].is_ascii_digit() {
                    digits += 1;
                    last_digit = j;
                }
                j += 1;
            }
            let glued = |k: Option<&char>| k.is_some_and(|c| c.is_alphanumeric());
            let in_word = glued(i.checked_sub(1).and_then(|k| chars.get(k))) || glued(chars.get(last_digit + 1));
            if (13..=19).contains(&digits) && !in_word {
                out.push_str("[redacted]");
                i = last_digit + 1;
                continue;
            }
            out.extend(&chars[i..=last_digit]);
            i = last_digit + 1;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Builds [`HttpTransport`]s.
struct HttpTransportFactory;

impl TransportFactory for HttpTransportFactory {
    fn create_transport_with_options(&self, options: TransportOptions) -> Arc<dyn Transport> {
        let dsn = Some(options.dsn);
        let client = reqwest::Client::builder().timeout(SEND_TIMEOUT).build().unwrap_or_default();
        Arc::new(HttpTransport { dsn, client, in_flight: Arc::new(AtomicUsize::new(0)) })
    }
}

/// Posts each envelope to the DSN's envelope endpoint on the tokio runtime.
struct HttpTransport {
    dsn: Option<Dsn>,
    client: reqwest::Client,
    in_flight: Arc<AtomicUsize>,
}

impl Transport for HttpTransport {
    fn send_envelope(&self, envelope: sentry::Envelope) {
        let Some(dsn) = &self.dsn else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("error report dropped: no async runtime");
            return;
        };
        let mut body = Vec::new();
        if envelope.to_writer(&mut body).is_err() {
            return;
        }
        let url = dsn.envelope_api_url().to_string();
        let auth = dsn.to_auth(Some(concat!("electioncart/", env!("CARGO_PKG_VERSION")))).to_string();
        let client = self.client.clone();
        let in_flight = self.in_flight.clone();
        in_flight.fetch_add(1, Ordering::SeqCst);
        runtime.spawn(async move {
            let sent = client
                .post(url)
                .header("X-Sentry-Auth", auth)
                .header("Content-Type", "application/x-sentry-envelope")
                .body(body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => tracing::warn!(status = r.status().as_u16(), "Sentry refused an error report"),
                Err(e) => tracing::warn!(error = %e, "error report not delivered"),
            }
            in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }

    fn flush(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while self.in_flight.load(Ordering::SeqCst) > 0 {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_scrubbed() {
        assert_eq!(scrub("Authorization: Bearer abc.def-123 failed"), "Authorization: Bearer [redacted] failed");
        assert_eq!(scrub("authorization=Basic dXNlcjpwYXNz"), "authorization=[redacted] [redacted]");
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.sig_nature-x";
        assert_eq!(scrub(&format!("token {jwt} expired")), "token [redacted] expired");
        assert_eq!(scrub("password=hunter2 rejected"), "password=[redacted] rejected");
        assert_eq!(scrub("card 4111 1111 1111 1111 declined"), "card [redacted] declined");
        assert_eq!(scrub("order EC-20261206-0042 total 4999.00"), "order EC-20261206-0042 total 4999.00");
        assert_eq!(scrub("phone 9876543210"), "phone 9876543210");
        assert_eq!(scrub("card:4111111111111111."), "card:[redacted].");
        // A request id whose hexadecimal digits happen to hold a long run of decimal ones.
        let id = "request ae739855873249409040f43cc2371cbf failed";
        assert_eq!(scrub(id), id);
    }

    #[test]
    fn off_without_a_dsn() {
        let r = ErrorReporter::new(None, "api", "test");
        assert!(!r.is_on());
        r.http_error("id", "GET", "/x/", 500, None);
        assert!(r.flush(Duration::from_millis(1)));
    }
}

//! A minimal real SMTP server for tests: speaks enough of RFC 5321 for lettre and keeps every
//! message it receives. It also keeps transfers a client abandoned (its process killed in the
//! middle of DATA, or before the server's reply to it): [`SmtpServer::all_messages`] lists them
//! with `complete: false`, each with its `Message-ID`, so a resend of the same message is
//! recognisable.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One received message.
#[derive(Debug, Clone)]
pub struct Received {
    /// `MAIL FROM`.
    pub from: String,
    /// `RCPT TO` addresses.
    pub to: Vec<String>,
    /// The raw DATA (headers and body), dot-unstuffed; the part received when cut.
    pub data: String,
    /// The `Message-ID` header's value, if the received part has one.
    pub message_id: Option<String>,
    /// The final `.` of DATA arrived.
    pub data_ended: bool,
    /// Accepted: DATA ended and the client was still connected when the `250` went out. A
    /// message with `complete: false` was cut (the client vanished mid-DATA or before the reply).
    pub complete: bool,
    /// When the `250` for it went out (accepted messages).
    pub accepted_at: Option<Instant>,
    /// When the session that carried it ended, once it has.
    pub session_ended: Option<Instant>,
    /// That session ended with `QUIT`. One that ended without (its client killed, or a dropped
    /// connection) may have died before its sender could note an acceptance: a copy sent again
    /// after such an end is a resend after a cut, not a duplicate.
    pub quit: bool,
}

/// A listening SMTP server.
pub struct SmtpServer {
    /// `smtp://127.0.0.1:PORT` for `SMTP_URL`.
    pub url: String,
    /// Messages received so far.
    pub received: Arc<Mutex<Vec<Received>>>,
    /// Delay before answering the end of DATA (simulates a slow server).
    pub data_delay: Arc<Mutex<Duration>>,
    /// Transfers between `DATA` and the reply to its end right now.
    pub in_data: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpServer {
    /// Starts on a random port.
    pub async fn start() -> SmtpServer {
        Self::start_on(0).await
    }

    /// Starts on the given port (0: any).
    pub async fn start_on(port: u16) -> SmtpServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind smtp");
        let port = listener.local_addr().expect("addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let data_delay = Arc::new(Mutex::new(Duration::ZERO));
        let in_data = Arc::new(AtomicUsize::new(0));
        let (r, d, n) = (received.clone(), data_delay.clone(), in_data.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (r, d, n) = (r.clone(), d.clone(), n.clone());
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    let mut quit = false;
                    let _ = session(stream, r.clone(), d, n, &mut mine, &mut quit).await;
                    if let Ok(mut r) = r.lock() {
                        let now = Instant::now();
                        for i in mine {
                            if let Some(m) = r.get_mut(i) {
                                m.session_ended = Some(now);
                                m.quit = quit;
                            }
                        }
                    }
                });
            }
        });
        SmtpServer { url: format!("smtp://127.0.0.1:{port}"), received, data_delay, in_data, task }
    }

    /// Messages accepted so far (complete ones).
    pub fn messages(&self) -> Vec<Received> {
        self.all_messages().into_iter().filter(|m| m.complete).collect()
    }

    /// Every transfer so far, cut ones (`complete: false`) included, in arrival order.
    pub fn all_messages(&self) -> Vec<Received> {
        self.received.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Holds the reply to the end of DATA back this long (0: answer at once).
    pub fn set_data_delay(&self, delay: Duration) {
        if let Ok(mut d) = self.data_delay.lock() {
            *d = delay;
        }
    }

    /// Transfers between `DATA` and the reply to its end right now.
    pub fn in_data(&self) -> usize {
        self.in_data.load(Ordering::SeqCst)
    }
}

/// The `Message-ID` header of raw message data (unfolded, trimmed).
pub fn message_id_of(data: &str) -> Option<String> {
    let mut lines = data.lines().take_while(|l| !l.is_empty()).peekable();
    while let Some(line) = lines.next() {
        let Some((name, value)) = line.split_once(':') else { continue };
        if !name.trim().eq_ignore_ascii_case("message-id") {
            continue;
        }
        let mut value = value.trim().to_string();
        while let Some(next) = lines.peek() {
            if !next.starts_with([' ', '\t']) {
                break;
            }
            value.push_str(next.trim());
            lines.next();
        }
        return Some(value);
    }
    None
}

/// Decrements the in-DATA count when a transfer ends, however it ends.
struct InData(Arc<AtomicUsize>);

impl Drop for InData {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Keeps a transfer; returns its index.
fn record(
    received: &Mutex<Vec<Received>>,
    from: &str,
    to: &[String],
    data: String,
    ended: bool,
    complete: bool,
) -> Option<usize> {
    let mut r = received.lock().ok()?;
    let message_id = message_id_of(&data);
    r.push(Received {
        from: from.to_string(),
        to: to.to_vec(),
        data,
        message_id,
        data_ended: ended,
        complete,
        accepted_at: complete.then(Instant::now),
        session_ended: None,
        quit: false,
    });
    Some(r.len() - 1)
}

async fn session(
    stream: tokio::net::TcpStream,
    received: Arc<Mutex<Vec<Received>>>,
    delay: Arc<Mutex<Duration>>,
    in_data: Arc<AtomicUsize>,
    mine: &mut Vec<usize>,
    quit: &mut bool,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 e2e.test ESMTP ready\r\n").await?;
    let mut from = String::new();
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            write.write_all(b"250-e2e.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n").await?;
        } else if upper.starts_with("HELO") {
            write.write_all(b"250 e2e.test\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            from = cmd[10..].trim().trim_matches(['<', '>']).split_whitespace().next().unwrap_or("").to_string();
            to.clear();
            write.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(cmd[8..].trim().trim_matches(['<', '>']).to_string());
            write.write_all(b"250 OK\r\n").await?;
        } else if upper == "DATA" {
            in_data.fetch_add(1, Ordering::SeqCst);
            let _in_data = InData(in_data.clone());
            write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                // A read error is a client gone as well as EOF: the transfer was cut.
                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                    mine.extend(record(&received, &from, &to, data, false, false));
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                let l = line.strip_prefix('.').unwrap_or(&line);
                data.push_str(l);
            }
            let wait = delay.lock().map(|d| *d).unwrap_or_default();
            if !wait.is_zero() {
                // A client that leaves while the reply is held back never learns the outcome.
                line.clear();
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    n = lines.read_line(&mut line) => {
                        if n.unwrap_or(0) == 0 {
                            mine.extend(record(&received, &from, &to, data, true, false));
                            return Ok(());
                        }
                    }
                }
            }
            if write.write_all(b"250 OK queued\r\n").await.is_err() {
                mine.extend(record(&received, &from, &to, data, true, false));
                return Ok(());
            }
            mine.extend(record(&received, &from, &to, data, true, true));
        } else if upper == "QUIT" {
            *quit = true;
            write.write_all(b"221 Bye\r\n").await?;
            return Ok(());
        } else {
            write.write_all(b"250 OK\r\n").await?;
        }
    }
}

//! A minimal real SMTP server for tests: speaks enough of RFC 5321 for lettre and keeps every
//! message it receives.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One received message.
#[derive(Debug, Clone)]
pub struct Received {
    /// `MAIL FROM`.
    pub from: String,
    /// `RCPT TO` addresses.
    pub to: Vec<String>,
    /// The raw DATA (headers and body), dot-unstuffed.
    pub data: String,
}

/// A listening SMTP server.
pub struct SmtpServer {
    /// `smtp://127.0.0.1:PORT` for `SMTP_URL`.
    pub url: String,
    /// Messages received so far.
    pub received: Arc<Mutex<Vec<Received>>>,
    /// Delay before answering the end of DATA (simulates a slow server).
    pub data_delay: Arc<Mutex<Duration>>,
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
        let (r, d) = (received.clone(), data_delay.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (r, d) = (r.clone(), d.clone());
                tokio::spawn(async move {
                    let _ = session(stream, r, d).await;
                });
            }
        });
        SmtpServer { url: format!("smtp://127.0.0.1:{port}"), received, data_delay, task }
    }

    /// Messages so far.
    pub fn messages(&self) -> Vec<Received> {
        self.received.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    received: Arc<Mutex<Vec<Received>>>,
    delay: Arc<Mutex<Duration>>,
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
            write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
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
                tokio::time::sleep(wait).await;
            }
            if let Ok(mut r) = received.lock() {
                r.push(Received { from: from.clone(), to: to.clone(), data });
            }
            write.write_all(b"250 OK queued\r\n").await?;
        } else if upper == "QUIT" {
            write.write_all(b"221 Bye\r\n").await?;
            return Ok(());
        } else {
            write.write_all(b"250 OK\r\n").await?;
        }
    }
}

//! A TCP proxy that can be switched off, to take a dependency (Redis, PostgreSQL) away from the
//! service and give it back — also at a chosen moment of a PostgreSQL conversation
//! ([`Proxy::cut_after_commit_of`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

/// Shared switch: up or down, the cut of the open connections, and the armed trigger.
struct Switch {
    up: AtomicBool,
    kill: broadcast::Sender<()>,
    trigger: Mutex<Option<Vec<u8>>>,
}

impl Switch {
    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        let _ = self.kill.send(());
    }

    fn trigger(&self) -> Option<Vec<u8>> {
        self.trigger.lock().map(|t| t.clone()).unwrap_or(None)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Copies both ways; with a trigger armed, the first `COMMIT` the server confirms on a
/// connection that sent the trigger's text is passed on, and then everything is cut.
async fn pump(client: TcpStream, server: TcpStream, switch: Arc<Switch>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let committing = Arc::new(AtomicBool::new(false));
    let to_server = {
        let (switch, committing) = (switch.clone(), committing.clone());
        async move {
            let mut seen = false;
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match cr.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if let Some(marker) = switch.trigger() {
                    seen |= contains(&buf[..n], &marker);
                    if seen && contains(&buf[..n], b"COMMIT") {
                        committing.store(true, Ordering::SeqCst);
                    }
                }
                if sw.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    };
    let to_client = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if cw.write_all(&buf[..n]).await.is_err() {
                return;
            }
            // `CommandComplete` of the commit: it has happened, and the client is told so.
            if committing.load(Ordering::SeqCst) && contains(&buf[..n], b"COMMIT\0") {
                let _ = cw.flush().await;
                if let Ok(mut t) = switch.trigger.lock() {
                    *t = None;
                }
                switch.down();
                return;
            }
        }
    };
    tokio::select! {
        _ = to_server => {}
        _ = to_client => {}
    }
}

/// A running proxy.
pub struct Proxy {
    /// `127.0.0.1:PORT`.
    pub addr: std::net::SocketAddr,
    switch: Arc<Switch>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        let _ = self.switch.kill.send(());
    }
}

impl Proxy {
    /// Forwards a random local port to `upstream` (host:port).
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let (kill, _) = broadcast::channel(4);
        let switch = Arc::new(Switch { up: AtomicBool::new(true), kill, trigger: Mutex::new(None) });
        let s = switch.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !s.up.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let mut killed = s.kill.subscribe();
                let s = s.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else { return };
                    tokio::select! {
                        _ = pump(client, server, s) => {}
                        _ = killed.recv() => {}
                    }
                });
            }
        });
        Proxy { addr, switch, task }
    }

    /// Refuses new connections and cuts the open ones.
    pub fn down(&self) {
        self.switch.down();
    }

    /// Accepts connections again.
    pub fn up(&self) {
        self.switch.up.store(true, Ordering::SeqCst);
    }

    /// Whether the proxy passes connections.
    pub fn is_up(&self) -> bool {
        self.switch.up.load(Ordering::SeqCst)
    }

    /// Arms a cut for a PostgreSQL proxy: on the first connection that sends `marker` (a piece of
    /// a statement's text) and then `COMMIT`, the server's confirmation of the commit is passed
    /// on, and right after it the proxy goes [`down`](Self::down): the transaction is committed
    /// and the client knows it, but nothing it does next reaches the database. The client must
    /// connect in clear (`sslmode=disable`).
    pub fn cut_after_commit_of(&self, marker: &[u8]) {
        if let Ok(mut t) = self.switch.trigger.lock() {
            *t = Some(marker.to_vec());
        }
    }
}

//! The fake Razorpay API as a process, for the benchmark: `fake-razorpay 127.0.0.1:18090 [DELAY_MS]`
//! (answers held back by DELAY_MS, e.g. 300 for a normal day of the real API). Keys are those of
//! `e2e::razorpay` (KEY_ID, KEY_SECRET, WEBHOOK_SECRET).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18090".to_string());
    let delay_ms: u64 = args.next().map(|d| d.parse().expect("DELAY_MS is a number of milliseconds")).unwrap_or(0);
    let fake = e2e::razorpay::FakeRazorpay::start_on(&addr).await;
    fake.set_delay(std::time::Duration::from_millis(delay_ms));
    println!("fake Razorpay on {} (key id {}, answers after {delay_ms} ms)", fake.base, fake.key_id);
    tokio::signal::ctrl_c().await.expect("signal handler");
}

//! The fake Razorpay API as a process, for the benchmark: `fake-razorpay 127.0.0.1:18090`.
//! Keys are those of `e2e::razorpay` (KEY_ID, KEY_SECRET, WEBHOOK_SECRET).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18090".to_string());
    let fake = e2e::razorpay::FakeRazorpay::start_on(&addr).await;
    println!("fake Razorpay on {} (key id {})", fake.base, fake.key_id);
    tokio::signal::ctrl_c().await.expect("signal handler");
}

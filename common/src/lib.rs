//! Election Cart's shared library: configuration, domain rules, database access, job definitions
//! and the enqueue path, and clients of third-party services. It knows nothing of HTTP or of the
//! worker runtime.

pub mod accounts;
pub mod analytics;
pub mod backup;
pub mod cart;
pub mod catalog;
pub mod config;
pub mod db;
pub mod deploy_check;
pub mod error_report;
pub mod gst;
pub mod invoice;
pub mod job_metrics;
pub mod jobs;
pub mod kv;
pub mod mail;
pub mod media;
pub mod money;
pub mod notices;
pub mod notifications;
pub mod orders;
pub mod process;
pub mod ratelimit;
pub mod razorpay;
pub mod role;
pub mod time;
pub mod uploads;

pub use config::Config;

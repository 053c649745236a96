//! End-to-end tests: the API over HTTP on a random port, real PostgreSQL and Redis, a database
//! and a Redis prefix per test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod admin_checklists;
mod admin_resource_fields;
mod analytics;
mod auth_cache;
mod auth_tokens;
mod backups;
mod builders;
mod cancellation;
mod cart;
mod catalog;
mod catalog_cache;
mod checklists;
mod conventions;
mod emails;
mod error_tracking;
mod fuzz;
mod health;
mod images;
mod import_django;
mod invoices;
mod isolation;
mod job_backlog;
mod jobs;
mod notifications;
mod nul_input;
mod ops_queues;
mod order_desk;
mod orders;
mod outbox_wake;
mod owasp;
mod page_links;
mod password_reset;
mod payments;
mod rate_limits;
mod refunds;
mod resource_uploads;
mod secure_files;
mod shop;
mod users_admin;

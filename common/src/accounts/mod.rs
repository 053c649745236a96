//! Accounts: users, passwords, access and refresh tokens, password reset.

pub mod jwt;
pub mod password;
pub mod reset;
pub mod sessions;
pub mod users;

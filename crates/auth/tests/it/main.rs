//! The auth crate against other implementations: password hashes made by Django's own hashers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod django;

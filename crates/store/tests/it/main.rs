//! The storage conformance suite against SQLite, plus SQLite-specific checks.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    reason = "tests"
)]

mod sqlite;

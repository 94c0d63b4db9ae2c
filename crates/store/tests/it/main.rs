//! tessera-store's integration tests: the storage conformance suite on every backend, plus
//! backend-specific checks. One binary, so one link.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    reason = "tests"
)]

mod postgres;
mod redis;
mod sqlite;

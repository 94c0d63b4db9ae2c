//! # tessera-store
//!
//! Storage backends for `tessera-auth`'s traits. SQLite is the embedded default: one file, created
//! and migrated on open, private to its owner (mode 0600), every write committed with
//! `synchronous = FULL` before the call returns.
//!
//! [`conformance`] holds the storage conformance suite, written once against the traits, so every
//! backend runs the same cases.

pub mod conformance;
mod sqlite;

pub use sqlite::{SqliteOptions, SqliteStore};

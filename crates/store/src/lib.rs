//! # tessera-store
//!
//! Storage backends for the traits in [`tessera_auth::store`].
//!
//! ## Overview
//! - [`SqliteStore`] is the embedded default: one file, created and migrated on open, shared
//!   safely by a running server and the `tessera` CLI. [`SqliteOptions`] tunes its pool and
//!   timeouts.
//! - [`read_django_users`] reads a Django site's users for `tessera import django`.
//! - `conformance` (behind the `conformance` feature) is the storage conformance suite, written
//!   once against the traits; every backend runs all of it through `conformance_tests!`.
//!
//! ## Example
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tessera_auth::store::{NewUser, StoreError, UserStore as _};
//! use tessera_store::SqliteStore;
//!
//! let dir = tempfile::tempdir()?;
//! let store = SqliteStore::open(&dir.path().join("tessera.db")).await?;
//! let ann = NewUser {
//!     username: "ann".into(),
//!     password_hash: "$argon2id$v=19$m=19456,t=2,p=1$...".into(),
//!     is_active: true,
//!     ..NewUser::default()
//! };
//! assert_eq!(store.create_user(&ann, 1_700_000_000, &[]).await?.id.0, 1);
//! assert!(matches!(
//!     store.create_user(&ann, 1_700_000_001, &[]).await,
//!     Err(StoreError::Conflict(_))
//! ));
//! # Ok(())
//! # }
//! ```
//!
//! ## Security considerations
//! - The database holds password hashes and private signing keys: the SQLite file is created
//!   with mode 0600 (and an existing file is narrowed to it); SQLite gives its `-wal` and `-shm`
//!   files the same mode. Back it up as a secret.
//! - Refresh tokens are stored only as SHA-256 hashes, never in a usable form.
//! - Rotation is a conditional update inside a write transaction: of concurrent rotations of one
//!   refresh token exactly one succeeds, so a stolen token raced against its owner cannot fork
//!   the session.
//! - Writes use `synchronous = FULL`: a revocation or rotation is on disk before the call
//!   returns, so a crash cannot resurrect a revoked session or a rotated token.
//! - A store never reads the clock: every time comes from the caller.

#[cfg(feature = "conformance")]
pub mod conformance;
mod django;
mod postgres;
mod redis;
mod rows;
mod sqlite;
#[cfg(feature = "conformance")]
pub mod testing;

pub use django::{DjangoDatabase, read_django_users};
pub use postgres::{PostgresNotifications, PostgresOptions, PostgresStore, REVOCATION_CHANNEL};
pub use redis::{RedisOptions, SharedRedis};
pub use sqlite::{SqliteOptions, SqliteStore};

//! # tessera-auth
//!
//! The authentication domain, independent of HTTP and of any database.
//!
//! ## Overview
//! - [`AuthService`] logs users in (argon2id through [`PasswordHasher`]'s bounded pool), issues
//!   access/refresh pairs, rotates refresh tokens with reuse detection, verifies access tokens,
//!   and revokes sessions and users.
//! - [`RevocationState`] holds revocations in memory so verifying an access token costs no storage
//!   round-trip; it is loaded from, and kept current with, the store's revocation log.
//! - [`KeyRing`] holds the signing key and every key still verifying tokens.
//! - Storage is reached only through the traits in [`store`].
//!
//! ## Security considerations
//! Refresh tokens are stored only as SHA-256 hashes; the store is an allow-list, so a validly signed
//! refresh token it never issued is refused. Access and refresh tokens carry different `typ` headers
//! and are checked by separate validators, so one can never pass as the other.

pub mod audit;
pub mod claims;
/// Time, injected (the `tessera-clock` crate, shared with `tessera-guard`).
pub use tessera_clock as clock;
pub mod config;
pub mod counters;
pub mod django_import;
pub mod django_password;
mod error;
pub mod ids;
mod keyring;
#[cfg(any(test, feature = "test-support"))]
pub mod memory;
mod password;
mod revocation;
mod sealing;
mod service;
pub mod store;
mod throttle;
mod tokens;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::AuthConfig;
pub use error::{AuthError, Chain, OAuthProblem, TokenProblem};
pub use ids::{SessionId, UserId};
pub use keyring::KeyRing;
pub use password::{Checked, PasswordHasher, PasswordPolicy};
pub use revocation::RevocationState;
pub use sealing::MasterKey;
pub use service::{
    AuthService, Bearer, Builder, FeedEntry, Grant, Introspection, IssuedClient, KeyStatus,
    LoginContext, NewAccount, OAuthTokens, RefreshOutcome, Revoked, SlidingToken, TokenPair,
    UserChange, VerifiedAccess, VerifiedClientAccess,
};
pub use store::{Conflict, Counter, FailureLog, KeyInfo, RevocationBus, Store, StoreError};
pub use throttle::{Attempt, LocalFailures, LoginThrottle, ThrottleConfig};
pub use tokens::{ACCESS_TYP, ClaimNames, REFRESH_TYP, SLIDING_TYP, TokenClasses, TokenKind};

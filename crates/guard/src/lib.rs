//! # tessera-guard
//!
//! Verifies a JWT issuer's access tokens inside any Rust service on tokio (axum extractors, a
//! tower layer), with the issuer's keys fetched and cached from its JWKS and, for Tessera, its
//! revocations applied live: a user who logs out at Tessera is refused by every guarded service
//! within moments, with no call back per request.
//!
//! ## Overview
//! - [`Guard::builder`] takes the issuer's URL. The key set's address comes from the issuer's
//!   metadata (`/.well-known/oauth-authorization-server`, RFC 8414) or is
//!   `{issuer}/.well-known/jwks.json`. Plain `http` is accepted only to loopback hosts unless
//!   allowed.
//! - Keys are cached per the response's `Cache-Control` (bounded below and above) and refreshed
//!   in the background; a token naming an unknown `kid` causes one refetch per cooldown at most;
//!   the last good set is kept while the issuer is unreachable.
//! - Validation goes through tessera-jwt: the algorithm is the key's, `typ` must be an access
//!   token's, `iss` must name the issuer, `aud` the configured audience, `exp`/`nbf` with leeway.
//! - With a feed token, the guard follows Tessera's revocation feed (Server-Sent Events), resumes
//!   from its cursor after any disconnect, and may fail closed (503) after `max_staleness`.
//! - [`Authenticated`] (a user's token), [`Bearer`] (a user's or a client's own), [`Claims`],
//!   [`RequireRole`] and [`RequireScope`] extract a verified token in axum; [`GuardLayer`] does the same for any tower stack. Refusals are Tessera's own bodies.
//!
//! ## Example
//! ```no_run
//! use axum::{Json, Router, extract::FromRef, routing::get};
//! use tessera_guard::{Admin, Authenticated, Guard, RequireRole};
//!
//! #[derive(Clone, FromRef)]
//! struct AppState { guard: Guard }
//!
//! async fn whoami(Authenticated(token): Authenticated) -> Json<Option<String>> {
//!     Json(token.user_id.clone())
//! }
//! async fn admin_only(_: RequireRole<Admin>) -> &'static str { "hello, admin" }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let guard = Guard::builder("https://auth.example.com").start().await?;
//! let app: Router = Router::new()
//!     .route("/whoami", get(whoami))
//!     .route("/admin-only", get(admin_only))
//!     .with_state(AppState { guard });
//! # let _ = app; Ok(()) }
//! ```
//!
//! ## Security considerations
//! - A key set that publishes a symmetric or private key is refused whole: a published secret
//!   verifies forgeries. Keys for other uses are skipped.
//! - Redirects are not followed, and every request to the issuer is bounded in time and size.
//! - Without a feed, a revoked token is accepted until it expires, as with any stateless
//!   verifier. With a feed but no `max_staleness`, a guard cut off from the feed keeps accepting
//!   tokens revoked meanwhile; set `max_staleness` to refuse instead.
//! - A feed entry of an unknown kind cannot be enforced: it is logged as an error.

mod error;
mod extract;
mod feed;
mod guard;
mod http;
mod issuer;
mod keys;
mod revocations;
pub mod sse;
mod token;

pub use error::{ConfigError, Rejection, TokenProblem, Unavailable, WWW_AUTHENTICATE};
pub use extract::{
    Admin, Authenticated, Bearer, Claims, GuardLayer, GuardService, RequireRole, RequireScope,
    RoleRequirement, ScopeRequirement,
};
pub use guard::{Guard, GuardBuilder, GuardStatus};
pub use keys::parse_key_set;
pub use tessera_clock::{Clock, ManualClock, SystemClock};
pub use token::AccessToken;

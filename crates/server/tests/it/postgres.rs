//! The same server tests over PostgreSQL: a database of its own per test.

pub(crate) type TestServer = crate::Server<true>;
pub(crate) use crate::{decode_part, json_request, mint};

#[path = "audit.rs"]
mod audit;
#[path = "feed.rs"]
mod feed;
#[path = "interop.rs"]
mod interop;
#[path = "metrics.rs"]
mod metrics;
#[path = "oauth.rs"]
mod oauth;
#[path = "protected.rs"]
mod protected;
#[path = "roles.rs"]
mod roles;
#[path = "sessions.rs"]
mod sessions;
#[path = "sliding.rs"]
mod sliding;
#[path = "token_api.rs"]
mod token_api;

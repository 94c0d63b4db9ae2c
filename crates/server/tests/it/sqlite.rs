//! The server tests over the embedded default: an SQLite file per test.

pub(crate) type TestServer = crate::Server<false>;
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

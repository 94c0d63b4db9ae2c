//! The revocation feed for downstream services (`tessera-guard` or any verifier): the log of what
//! was revoked, in pages (`GET /api/revocations/`) or live as Server-Sent Events
//! (`GET /api/revocations/stream`), each entry with a cursor to resume from. Read with the
//! `revocation_feed_token`, or an OAuth token granted the `tessera:revocations` scope.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tessera_auth::{AuthError, FeedEntry};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::AppState;

/// The scope an OAuth token needs to read the feed.
pub const FEED_SCOPE: &str = "tessera:revocations";

/// Largest page of `GET /api/revocations/` (and the default).
const MAX_PAGE: usize = 1_000;

/// The feed routes, to be merged into the main router.
pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(page))
        .routes(routes!(stream))
}

/// A secret that reads the feed; never printed by `Debug`.
#[derive(Clone)]
pub struct FeedToken(pub zeroize::Zeroizing<String>);

impl std::fmt::Debug for FeedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FeedToken(..)")
    }
}

/// A request allowed to read the feed: it presents the feed token, or an access token granted
/// [`FEED_SCOPE`]. A missing or invalid token is 401; a valid one without the scope (a user's,
/// say) is 403. An access token's reader may read until the token expires.
#[derive(Debug)]
pub struct FeedReader {
    /// When the credential expires (Unix seconds); `None` for the feed token.
    until: Option<i64>,
}

impl FromRequestParts<Arc<AppState>> for FeedReader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = crate::extract::bearer_token(parts, &crate::state::AuthHeader::default())?;
        if let Some(FeedToken(expected)) = &state.feed_token
            && aws_lc_rs::constant_time::verify_slices_are_equal(
                token.as_bytes(),
                expected.as_bytes(),
            )
            .is_ok()
        {
            return Ok(FeedReader { until: None });
        }
        let bearer = crate::extract::verified_bearer(parts, state).await?;
        if !bearer.has_scope(FEED_SCOPE) {
            return Err(ApiError::Auth(AuthError::Forbidden));
        }
        Ok(FeedReader {
            until: Some(bearer.expires_at()),
        })
    }
}

#[derive(Debug, Deserialize)]
struct Position {
    after: Option<String>,
    limit: Option<String>,
}

/// `?after=` as a cursor; anything that is not one is a 400 naming the parameter.
fn cursor(text: Option<&str>, name: &str) -> Result<Option<i64>, ApiError> {
    text.map(|t| {
        t.trim()
            .parse::<i64>()
            .map_err(|_| ApiError::field(name, "A valid integer is required."))
    })
    .transpose()
}

#[utoipa::path(
    get,
    path = "/api/revocations/",
    tag = "feed",
    security(("bearer" = [])),
    params(("after" = Option<String>, Query, description = "Cursor to read after"), ("limit" = Option<String>, Query, description = "Page size (1 to 1000)")),
    responses((status = 200, description = "Entries after the cursor", body = crate::openapi::RevocationPage), crate::openapi::Refusals)
)]
async fn page(
    State(state): State<Arc<AppState>>,
    _: FeedReader,
    Query(position): Query<Position>,
) -> Result<Response, ApiError> {
    let after = cursor(position.after.as_deref(), "after")?;
    let limit = cursor(position.limit.as_deref(), "limit")?.map_or(MAX_PAGE, |l| {
        usize::try_from(l.clamp(1, MAX_PAGE as i64)).unwrap_or(MAX_PAGE)
    });
    let (results, cursor) = state.auth.revocation_feed(after, limit).await?;
    Ok(Json(json!({ "results": results, "cursor": cursor })).into_response())
}

/// Where a live feed stands: the entries read and not yet sent, the cursor after them, the signal
/// that the log grew, and until when the reader's credential holds.
struct Live {
    state: Arc<AppState>,
    cursor: i64,
    queue: VecDeque<FeedEntry>,
    grown: tokio::sync::watch::Receiver<i64>,
    until: Option<i64>,
}

impl Live {
    /// Waits for the log to grow, or (after a failed read) a second to retry; `false` once the
    /// reader's credential has expired (the client reconnects with a fresh one).
    async fn wait(&mut self, failed: bool) -> bool {
        let clock = Arc::clone(self.state.auth.clock());
        let left = self.until.map(|until| until.saturating_sub(clock.now()));
        if left.is_some_and(|left| left <= 0) {
            return false;
        }
        let retry = async {
            match failed {
                true => clock.sleep(Duration::from_secs(1)).await,
                false => std::future::pending().await,
            }
        };
        let expiry = async {
            match left {
                Some(left) => clock.sleep(Duration::from_secs(left.unsigned_abs())).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            grown = self.grown.changed() => grown.is_ok(),
            () = retry => true,
            () = expiry => false,
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/revocations/stream",
    tag = "feed",
    security(("bearer" = [])),
    params(("after" = Option<String>, Query, description = "Cursor to read after")),
    responses((status = 200, description = "Server-Sent Events, one per entry, its id the cursor", content_type = "text/event-stream", body = String), crate::openapi::Refusals)
)]
async fn stream(
    State(state): State<Arc<AppState>>,
    reader: FeedReader,
    headers: HeaderMap,
    Query(position): Query<Position>,
) -> Result<Response, ApiError> {
    // `?after=` wins; a reconnecting EventSource sends `Last-Event-ID` instead.
    let last_event = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let after = match cursor(position.after.as_deref(), "after")? {
        Some(after) => after,
        None => cursor(last_event.as_deref(), "Last-Event-ID")?.unwrap_or(0),
    };
    let grown = state.auth.revocations_grown()?;
    let live = Live {
        state,
        cursor: after,
        queue: VecDeque::new(),
        grown,
        until: reader.until,
    };
    let events = futures_util::stream::unfold(live, |mut live| async move {
        loop {
            if let Some(entry) = live.queue.pop_front() {
                let event = Event::default()
                    .id(entry.cursor.to_string())
                    .event("revocation")
                    .json_data(&entry)
                    .unwrap_or_else(|_| Event::default().comment("unencodable entry"));
                return Some((Ok::<_, Infallible>(event), live));
            }
            let failed = match live
                .state
                .auth
                .revocation_feed(Some(live.cursor), MAX_PAGE)
                .await
            {
                Ok((entries, cursor)) if cursor > live.cursor => {
                    live.cursor = cursor;
                    live.queue.extend(entries);
                    continue;
                }
                Ok(_) => false,
                // Storage is down: retried every second (and at once when the log grows).
                Err(error) => {
                    tracing::debug!(%error, "revocation feed: reading the log failed");
                    true
                }
            };
            if !live.wait(failed).await {
                return None;
            }
        }
    });
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

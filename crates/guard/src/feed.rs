//! The subscription to Tessera's revocation feed: one long-lived Server-Sent Events request,
//! resumed from the last cursor after any disconnect, with a record of since when the guard has
//! been cut off (for `max_staleness`).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zeroize::Zeroizing;

use crate::error::FetchError;
use crate::http::Http;
use crate::issuer::Issuer;
use crate::revocations::{FeedEntry, Revocations};
use crate::sse::SseDecoder;

/// Tessera sends a keep-alive comment every 15 s: three missed ones mean the connection is dead.
const IDLE_LIMIT: Duration = Duration::from_secs(45);
/// Largest event line accepted.
const MAX_EVENT_BYTES: usize = 64 * 1024;
/// Waits between reconnections: from the first to the last, doubling.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_LAST: Duration = Duration::from_secs(5);

/// Where the subscription stands, shared with the request path.
#[derive(Debug)]
pub(crate) struct FeedStatus {
    /// The last cursor applied.
    cursor: AtomicI64,
    /// Monotonic time since which the guard has had no live connection; `None` while connected.
    cut_off_since: Mutex<Option<Duration>>,
    /// Signalled after each applied entry and each change of connection (tests wait on it).
    changed: tokio::sync::watch::Sender<i64>,
}

impl FeedStatus {
    /// Not connected yet: cut off since `now`.
    pub(crate) fn new(now: Duration) -> FeedStatus {
        FeedStatus {
            cursor: AtomicI64::new(0),
            cut_off_since: Mutex::new(Some(now)),
            changed: tokio::sync::watch::channel(0).0,
        }
    }

    pub(crate) fn cursor(&self) -> i64 {
        self.cursor.load(Ordering::Acquire)
    }

    /// How long the guard has been cut off at monotonic time `now` (zero while connected).
    pub(crate) fn cut_off_for(&self, now: Duration) -> Duration {
        self.cut_off_since
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map_or(Duration::ZERO, |since| now.saturating_sub(since))
    }

    pub(crate) fn subscribe(&self) -> tokio::sync::watch::Receiver<i64> {
        self.changed.subscribe()
    }

    fn set_connected(&self, connected: bool, now: Duration) {
        let mut since = self.cut_off_since.lock().unwrap_or_else(|e| e.into_inner());
        match (connected, *since) {
            (true, _) => *since = None,
            (false, None) => *since = Some(now),
            (false, Some(_)) => {}
        }
        drop(since);
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// The subscription task's parts.
pub(crate) struct Subscription {
    pub(crate) http: Http,
    pub(crate) issuer: Issuer,
    pub(crate) token: Zeroizing<String>,
    pub(crate) revocations: Arc<Revocations>,
    pub(crate) status: Arc<FeedStatus>,
}

/// How a connection ended.
#[derive(Debug, thiserror::Error)]
enum Ended {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("the issuer closed the feed")]
    Closed,
    #[error("no keep-alive from the feed for {0:?}")]
    Idle(Duration),
    #[error("the feed refused the token (HTTP {0}): check the feed token")]
    Refused(u16),
    #[error(transparent)]
    Format(#[from] crate::sse::SseError),
}

impl Subscription {
    /// Runs until the guard is dropped (the task is aborted then).
    pub(crate) async fn run(self) {
        let clock = Arc::clone(self.http.clock());
        let mut retry = RETRY_FIRST;
        loop {
            let ended = self.connect_once(&mut retry).await;
            self.status.set_connected(false, clock.monotonic());
            match &ended {
                Ended::Refused(_) => tracing::error!(error = %ended, "guard: revocation feed"),
                _ => {
                    tracing::warn!(error = %ended, retry_in = ?retry, "guard: revocation feed disconnected")
                }
            }
            clock.sleep(retry).await;
            retry = (retry * 2).min(RETRY_LAST);
        }
    }

    async fn connect_once(&self, retry: &mut Duration) -> Ended {
        let clock = Arc::clone(self.http.clock());
        let cursor = self.status.cursor();
        let url = self.issuer.feed_url(cursor);
        let mut response = match self.http.open_stream(&url, &self.token, Some(cursor)).await {
            Ok(response) => response,
            Err(error) => return error.into(),
        };
        match response.status().as_u16() {
            200 => {}
            status @ (401 | 403) => return Ended::Refused(status),
            status => {
                return FetchError::Status {
                    url: url.to_string(),
                    status,
                }
                .into();
            }
        }
        self.status.set_connected(true, clock.monotonic());
        *retry = RETRY_FIRST;
        tracing::info!(cursor, "guard: revocation feed connected");
        let mut decoder = SseDecoder::new(MAX_EVENT_BYTES);
        loop {
            let chunk = tokio::select! {
                chunk = response.chunk() => chunk,
                () = clock.sleep(IDLE_LIMIT) => return Ended::Idle(IDLE_LIMIT),
            };
            let chunk = match chunk {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return Ended::Closed,
                Err(source) => {
                    return FetchError::Request {
                        url: url.to_string(),
                        source,
                    }
                    .into();
                }
            };
            let events = match decoder.push(&chunk) {
                Ok(events) => events,
                Err(error) => return error.into(),
            };
            for event in events {
                self.apply(&event.data, clock.now());
            }
        }
    }

    fn apply(&self, data: &str, now: i64) {
        match serde_json::from_str::<FeedEntry>(data) {
            Ok(entry) => {
                self.revocations.apply(&entry, now);
                self.status.cursor.fetch_max(entry.cursor, Ordering::AcqRel);
                self.status.changed.send_modify(|n| *n = n.wrapping_add(1));
            }
            // An entry of a kind this guard does not know (a newer issuer): it cannot be
            // enforced here, which an operator must hear about.
            Err(error) => {
                tracing::error!(%error, "guard: a revocation feed entry was not understood")
            }
        }
    }
}

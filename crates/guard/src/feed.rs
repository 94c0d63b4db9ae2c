//! The subscription to Tessera's revocation feed.
//!
//! Each connection first catches up through the paged endpoint (`GET /api/revocations/?after=`)
//! until a page comes back empty, then follows the live stream (`GET /api/revocations/stream`) from
//! that cursor. The guard counts as in sync only from the end of a catch-up until the connection is
//! lost or falls silent, so "fresh" always means "knows every revocation the issuer had logged when
//! it last heard from it".

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::error::FetchError;
use crate::http::Http;
use crate::issuer::Issuer;
use crate::revocations::{FeedEntry, Revocations};
use crate::sse::SseDecoder;

/// Tessera sends a keep-alive comment every 15 s: a connection silent for longer is counted as
/// cut off from its last byte plus this, and dropped after three missed keep-alives.
const SILENCE_ALLOWED: Duration = Duration::from_secs(20);
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
    /// Whether a catch-up ever completed.
    synced: AtomicBool,
    link: Mutex<Link>,
    /// Signalled after each applied entry and each change of connection (tests wait on it).
    changed: tokio::sync::watch::Sender<i64>,
}

#[derive(Clone, Copy, Debug)]
enum Link {
    /// In sync and following the stream; monotonic time of the last byte heard.
    Live { heard: Duration },
    /// Not in sync since this monotonic time.
    CutOff { since: Duration },
}

impl FeedStatus {
    /// Not in sync yet: cut off since `now`.
    pub(crate) fn new(now: Duration) -> FeedStatus {
        FeedStatus {
            cursor: AtomicI64::new(0),
            synced: AtomicBool::new(false),
            link: Mutex::new(Link::CutOff { since: now }),
            changed: tokio::sync::watch::channel(0).0,
        }
    }

    pub(crate) fn cursor(&self) -> i64 {
        self.cursor.load(Ordering::Acquire)
    }

    /// Whether the guard ever caught up with the feed.
    pub(crate) fn synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// How long the guard has been out of sync at monotonic time `now`: zero while the stream
    /// is live and heard from within the keep-alive allowance.
    pub(crate) fn cut_off_for(&self, now: Duration) -> Duration {
        match *self.link.lock().unwrap_or_else(|e| e.into_inner()) {
            Link::Live { heard } => now.saturating_sub(heard.saturating_add(SILENCE_ALLOWED)),
            Link::CutOff { since } => now.saturating_sub(since),
        }
    }

    pub(crate) fn subscribe(&self) -> tokio::sync::watch::Receiver<i64> {
        self.changed.subscribe()
    }

    fn set(&self, link: Link) {
        let mut held = self.link.lock().unwrap_or_else(|e| e.into_inner());
        *held = match (*held, link) {
            // Cut off since the last byte heard (plus the allowance), not since the drop was noticed.
            (Link::Live { heard }, Link::CutOff { since }) => Link::CutOff {
                since: since.min(heard.saturating_add(SILENCE_ALLOWED)),
            },
            (Link::CutOff { since }, Link::CutOff { .. }) => Link::CutOff { since },
            (_, live) => live,
        };
        drop(held);
        if matches!(link, Link::Live { .. }) {
            self.synced.store(true, Ordering::Release);
        }
        self.notify();
    }

    fn heard(&self, now: Duration) {
        let mut held = self.link.lock().unwrap_or_else(|e| e.into_inner());
        if let Link::Live { heard } = &mut *held {
            *heard = now;
        }
    }

    fn notify(&self) {
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
pub(crate) enum Ended {
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
    #[error(
        "a revocation feed entry was not understood ({0}); it cannot be enforced, so the guard stays out of sync"
    )]
    Unknown(String),
}

/// A page of `GET /api/revocations/`.
#[derive(Deserialize)]
struct Page {
    results: Vec<serde_json::Value>,
    cursor: i64,
}

impl Subscription {
    /// Runs until the guard is dropped (the task is aborted then).
    pub(crate) async fn run(self) {
        let clock = Arc::clone(self.http.clock());
        let mut retry = RETRY_FIRST;
        loop {
            let ended = self.connect_once(&mut retry).await;
            self.status.set(Link::CutOff {
                since: clock.monotonic(),
            });
            match &ended {
                Ended::Refused(_) | Ended::Unknown(_) => {
                    tracing::error!(error = %ended, "guard: revocation feed");
                }
                _ => {
                    tracing::warn!(error = %ended, retry_in = ?retry, "guard: revocation feed disconnected");
                }
            }
            clock.sleep(retry).await;
            retry = (retry * 2).min(RETRY_LAST);
        }
    }

    /// Reads pages from the cursor until one is empty: afterwards the guard knows every
    /// revocation logged when that page was read.
    pub(crate) async fn catch_up(&self) -> Result<(), Ended> {
        loop {
            let cursor = self.status.cursor();
            let url = self.issuer.feed_page_url(cursor);
            let fetched = self
                .http
                .get_with_bearer(&url, "application/json", &self.token)
                .await?;
            match fetched.status.as_u16() {
                200 => {}
                status @ (401 | 403) => return Err(Ended::Refused(status)),
                status => {
                    return Err(FetchError::Status {
                        url: url.to_string(),
                        status,
                    }
                    .into());
                }
            }
            let page: Page =
                serde_json::from_slice(&fetched.body).map_err(|e| FetchError::Invalid {
                    url: url.to_string(),
                    reason: e.to_string(),
                })?;
            let now = self.http.clock().now();
            for entry in &page.results {
                self.apply(&entry.to_string(), now)?;
            }
            // Entries that matter to no verifier still move the cursor.
            self.status.cursor.fetch_max(page.cursor, Ordering::AcqRel);
            if page.cursor <= cursor {
                return Ok(());
            }
        }
    }

    async fn connect_once(&self, retry: &mut Duration) -> Ended {
        let clock = Arc::clone(self.http.clock());
        if let Err(ended) = self.catch_up().await {
            return ended;
        }
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
        self.status.set(Link::Live {
            heard: clock.monotonic(),
        });
        *retry = RETRY_FIRST;
        tracing::info!(cursor, "guard: revocation feed in sync");
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
            self.status.heard(clock.monotonic());
            let events = match decoder.push(&chunk) {
                Ok(events) => events,
                Err(error) => return error.into(),
            };
            for event in events {
                if let Err(ended) = self.apply(&event.data, clock.now()) {
                    return ended;
                }
            }
        }
    }

    /// Applies one entry; one this guard does not understand stops the feed at its cursor.
    fn apply(&self, data: &str, now: i64) -> Result<(), Ended> {
        let entry =
            serde_json::from_str::<FeedEntry>(data).map_err(|e| Ended::Unknown(e.to_string()))?;
        self.revocations.apply(&entry, now);
        self.status.cursor.fetch_max(entry.cursor, Ordering::AcqRel);
        self.status.notify();
        Ok(())
    }
}

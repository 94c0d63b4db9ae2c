//! The revocation feed: catch-up before counting as in sync, live entries, resume from the cursor,
//! and failing closed when cut off, refused, never synced, or handed an entry it cannot enforce.
#![allow(
    clippy::disallowed_methods,
    reason = "the guard's network reads happen in real time: the tests give them a few milliseconds between moves of the manual clock"
)]

use std::time::Duration;

use serde_json::json;
use tessera_guard::{Guard, ManualClock, Rejection, TokenProblem, Unavailable};

use crate::{EPOCH, FEED_TOKEN, TestIssuer, access_token, guard_of, key, one_key_issuer};

const REVOKED: Result<(), Rejection> = Err(Rejection::InvalidToken(TokenProblem::Revoked));
const STALE: Result<(), Rejection> = Err(Rejection::Unavailable(Unavailable::RevocationsStale));

async fn verdict(guard: &Guard, token: &str) -> Result<(), Rejection> {
    guard.verify(token).await.map(|_| ())
}

/// Waits (at most 10 s of real time) until the guard's feed cursor reaches `cursor`.
async fn wait_for_cursor(guard: &Guard, cursor: i64) {
    let waiting = async {
        while guard.status().feed_cursor < Some(cursor) {
            guard.feed_changed().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .unwrap_or_else(|_| panic!("cursor {cursor} not reached: {:?}", guard.status()));
}

/// Waits until `done` holds, moving `clock` by `step` between looks (at most 10 s of real time).
async fn until(clock: &ManualClock, step: Duration, mut done: impl AsyncFnMut() -> bool) {
    let waiting = async {
        while !done().await {
            clock.advance(step);
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("condition not reached");
}

#[tokio::test]
async fn catches_up_before_serving_then_applies_live_entries() {
    let signer = key("k1");
    let issuer = TestIssuer::start(vec![signer.clone()]).await;
    // Logged before the guard starts, more than one page's worth (the test issuer pages by two).
    issuer.revoke(json!({ "type": "session", "sid": "s-old", "expires_at": EPOCH + 300 }));
    issuer.revoke(json!({ "type": "token", "jti": "j-old", "expires_at": EPOCH + 300 }));
    issuer.revoke(json!({ "type": "user", "user_id": "9", "not_after": EPOCH, "only_without_sid": false, "expires_at": EPOCH + 300 }));
    let clock = ManualClock::at(EPOCH);
    let guard = guard_of(&issuer, &clock)
        .feed_token(FEED_TOKEN)
        .max_staleness(Duration::from_secs(10))
        .start()
        .await
        .unwrap();
    // In sync when `start` returns: every earlier revocation already applies.
    assert_eq!(guard.status().feed_cursor, Some(3));
    let token = |claims: serde_json::Value| access_token(&signer, claims);
    assert_eq!(
        verdict(&guard, &token(json!({ "sid": "s-old", "jti": "a" }))).await,
        REVOKED
    );
    assert_eq!(
        verdict(&guard, &token(json!({ "sid": "s-2", "jti": "j-old" }))).await,
        REVOKED
    );
    assert_eq!(
        verdict(
            &guard,
            &token(json!({ "sid": "s-3", "jti": "b", "user_id": "9" }))
        )
        .await,
        REVOKED
    );
    let live = token(json!({ "sid": "s-live", "jti": "c" }));
    assert_eq!(verdict(&guard, &live).await, Ok(()));
    let requests = issuer.feed.lock().unwrap().requests.clone();
    assert_eq!(
        &requests[..3],
        [("page", 0), ("page", 2), ("page", 3)],
        "paged from the start"
    );
    assert_eq!(
        requests[3],
        ("stream", 3),
        "then the stream from the cursor"
    );

    // A logout at the issuer: refused with no request to it.
    let cursor =
        issuer.revoke(json!({ "type": "session", "sid": "s-live", "expires_at": EPOCH + 300 }));
    wait_for_cursor(&guard, cursor).await;
    assert_eq!(verdict(&guard, &live).await, REVOKED);
    assert_eq!(guard.status().revocations, 4);
    // Entries leave once their tokens have all expired.
    clock.advance(Duration::from_secs(361));
    until(&clock, Duration::from_secs(1), async || {
        guard.status().revocations == 0
    })
    .await;
}

#[tokio::test]
async fn resumes_from_its_cursor_after_a_dropped_connection() {
    let signer = key("k1");
    let issuer = TestIssuer::start(vec![signer.clone()]).await;
    issuer.revoke(json!({ "type": "session", "sid": "s1", "expires_at": EPOCH + 300 }));
    let clock = ManualClock::at(EPOCH);
    let guard = guard_of(&issuer, &clock)
        .feed_token(FEED_TOKEN)
        .start()
        .await
        .unwrap();
    let token = access_token(&signer, json!({ "sid": "s2" }));
    assert_eq!(verdict(&guard, &token).await, Ok(()));
    issuer.drop_streams();
    // Revoked while the guard is away; it reconnects (after its backoff) from cursor 1.
    issuer.revoke(json!({ "type": "session", "sid": "s2", "expires_at": EPOCH + 300 }));
    until(&clock, Duration::from_millis(100), async || {
        guard.status().feed_cursor == Some(2)
    })
    .await;
    assert_eq!(verdict(&guard, &token).await, REVOKED);
    let requests = issuer.feed.lock().unwrap().requests.clone();
    assert!(
        requests.contains(&("page", 1)),
        "resumed after its cursor: {requests:?}"
    );
    assert!(
        !requests[2..].contains(&("page", 0)),
        "never from the start again: {requests:?}"
    );
}

#[tokio::test]
async fn fails_closed_after_max_staleness_and_recovers() {
    let (signer, issuer, clock) = one_key_issuer().await;
    let guard = guard_of(&issuer, &clock)
        .feed_token(FEED_TOKEN)
        .max_staleness(Duration::from_secs(10))
        .start()
        .await
        .unwrap();
    let token = access_token(&signer, json!({ "exp": EPOCH + 3_600 }));
    assert_eq!(verdict(&guard, &token).await, Ok(()));
    // The issuer refuses the guard from now on, and the connection drops.
    issuer.feed.lock().unwrap().refuse = true;
    issuer.drop_streams();
    until(&clock, Duration::from_millis(100), async || {
        guard.status().feed_cut_off_for > Some(Duration::ZERO)
    })
    .await;
    assert_eq!(
        verdict(&guard, &token).await,
        Ok(()),
        "within max_staleness"
    );
    until(&clock, Duration::from_secs(1), async || {
        verdict(&guard, &token).await == STALE
    })
    .await;
    assert!(guard.status().feed_cut_off_for > Some(Duration::from_secs(10)));
    // Back: in sync again after the next retry.
    issuer.feed.lock().unwrap().refuse = false;
    until(&clock, Duration::from_secs(1), async || {
        verdict(&guard, &token).await.is_ok()
    })
    .await;
}

#[tokio::test]
async fn a_guard_that_never_caught_up_fails_closed() {
    let signer = key("k1");
    let issuer = TestIssuer::start(vec![signer.clone()]).await;
    issuer.feed.lock().unwrap().refuse = true;
    let clock = ManualClock::at(EPOCH);
    let starting = tokio::spawn(
        guard_of(&issuer, &clock)
            .feed_token(FEED_TOKEN)
            .max_staleness(Duration::from_secs(3_600))
            .start(),
    );
    // `start` waits one request timeout (5 s) for the feed, then returns anyway.
    let guard = loop {
        clock.advance(Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(5)).await;
        if starting.is_finished() {
            break starting.await.unwrap().unwrap();
        }
    };
    let token = access_token(&signer, json!({}));
    assert_eq!(
        verdict(&guard, &token).await,
        STALE,
        "before any catch-up, however recent"
    );
}

#[tokio::test]
async fn an_entry_it_cannot_enforce_stops_the_feed_at_its_cursor() {
    let (signer, issuer, clock) = one_key_issuer().await;
    let guard = guard_of(&issuer, &clock)
        .feed_token(FEED_TOKEN)
        .max_staleness(Duration::from_secs(10))
        .start()
        .await
        .unwrap();
    issuer.revoke(json!({ "type": "tenant", "tenant": "acme", "expires_at": EPOCH + 300 }));
    issuer.revoke(json!({ "type": "session", "sid": "s9", "expires_at": EPOCH + 300 }));
    let token = access_token(&signer, json!({ "exp": EPOCH + 3_600 }));
    until(&clock, Duration::from_secs(1), async || {
        verdict(&guard, &token).await == STALE
    })
    .await;
    assert_eq!(
        guard.status().feed_cursor,
        Some(0),
        "not moved past what it could not apply"
    );
}

//! The Redis adapters against a real Redis, each test under a key prefix of its own: the
//! broadcast (announce on one connection, hear on another, survive health pings) and the shared
//! failure log (window, cap, isolation between prefixes), plus fast failure when Redis is absent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera_auth::store::{FailureLog as _, RevocationBus as _, StoreError};
use tessera_store::testing::{redis_url, unique_name};
use tessera_store::{RedisOptions, SharedRedis};

use crate::Listening;

fn shared(url: &str, prefix: &str) -> SharedRedis {
    SharedRedis::new(
        url,
        RedisOptions {
            prefix: prefix.to_owned(),
            timeout: Duration::from_secs(1),
            health_check: Duration::from_millis(50),
        },
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announcements_reach_listeners_and_pings_keep_them_subscribed() {
    let Some(url) = redis_url().await else {
        return;
    };
    let prefix = format!("{}:", unique_name("t"));
    let listener = shared(&url, &prefix);
    let announcer = shared(&url, &prefix);
    let other_deployment = shared(&url, &format!("{}:", unique_name("t")));
    let mut listening = Listening::start(listener);
    listening.next().await; // subscribed
    // Several health pings go by (every 50 ms) without breaking the subscription.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!listening.task.is_finished(), "{:?}", listening.task.await);
    other_deployment.announce().await.unwrap();
    announcer.announce().await.unwrap();
    listening.next().await;
    assert!(
        listening.heard.try_recv().is_err(),
        "another prefix is another channel"
    );
    announcer.ping().await.unwrap();
    listening.task.abort();
}

#[tokio::test]
async fn the_failure_log_keeps_the_newest_within_the_window_per_prefix() {
    let Some(url) = redis_url().await else {
        return;
    };
    let log = shared(&url, &format!("{}:", unique_name("t")));
    let other = shared(&url, &format!("{}:", unique_name("t")));
    for at in [100, 100, 150, 200, 250] {
        log.record("u:ann", at, 120, 3).await.unwrap();
    }
    // At 250 with a 120 s window, 100 has left it; of the rest only the newest 3 are kept.
    assert_eq!(
        log.recent("u:ann", 250 - 120, 10).await.unwrap(),
        [150, 200, 250]
    );
    assert_eq!(log.recent("u:ann", 150, 10).await.unwrap(), [200, 250]);
    assert_eq!(log.recent("u:ann", 0, 2).await.unwrap(), [200, 250]);
    assert!(log.recent("u:bob", 0, 10).await.unwrap().is_empty());
    assert!(other.recent("u:ann", 0, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_absent_redis_fails_fast_as_unavailable() {
    // Port 1 on loopback: nothing listens there.
    let absent = Arc::new(shared("redis://127.0.0.1:1", "t:"));
    let started = Instant::now();
    assert!(matches!(
        absent.announce().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        absent.recent("u:ann", 0, 5).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        absent.listen(&|| {}).await,
        StoreError::Unavailable(_)
    ));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(
        SharedRedis::new("http://example", RedisOptions::default()),
        Err(StoreError::Internal(_))
    ));
}

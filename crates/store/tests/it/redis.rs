//! The Redis adapters against a real Redis, each test under a key prefix of its own: the
//! broadcast (announce on one connection, hear on another, survive health pings) and the shared
//! failure log (window, cap, isolation between prefixes), plus fast failure when Redis is absent.
#![allow(
    clippy::disallowed_methods,
    reason = "a real Redis pings and times out in real time"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera_auth::store::{Counter, FailureLog as _, RevocationBus as _, StoreError};
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

fn counters(pairs: &[(&str, usize)]) -> Vec<Counter> {
    pairs
        .iter()
        .map(|(key, limit)| Counter {
            key: (*key).to_owned(),
            limit: *limit,
        })
        .collect()
}

#[tokio::test]
async fn the_failure_log_admits_up_to_the_limit_within_the_window_per_prefix() {
    let Some(url) = redis_url().await else {
        return;
    };
    let log = shared(&url, &format!("{}:", unique_name("t")));
    let other = shared(&url, &format!("{}:", unique_name("t")));
    let ann = counters(&[("u:ann", 3), ("i:1.2.3.4", 10)]);
    let fail = |id: &'static str, at: i64| {
        let (log, ann) = (&log, &ann);
        async move {
            assert_eq!(log.admit(ann, id, at, 120).await.unwrap(), None, "{id}");
            log.settle(ann, id, true, at, 120).await.unwrap();
        }
    };
    fail("a0", 100).await;
    fail("a1", 150).await;
    fail("a2", 200).await;
    // Full: the oldest failure (100) leaves the 120 s window at 220.
    assert_eq!(log.admit(&ann, "a3", 210, 120).await.unwrap(), Some(10));
    assert_eq!(
        log.admit(&ann, "a4", 220, 120).await.unwrap(),
        None,
        "100 has left the window"
    );
    // a4 is in flight: the counter is full, but only for as long as a password check takes.
    assert_eq!(log.admit(&ann, "a5", 221, 120).await.unwrap(), Some(1));
    // a4 succeeds and is forgotten.
    log.settle(&ann, "a4", false, 220, 120).await.unwrap();
    fail("a6", 221).await;
    assert_eq!(log.admit(&ann, "a7", 221, 120).await.unwrap(), Some(49));
    // The refused attempts counted nowhere: the IP holds a1, a2 and a6.
    let ip_only = counters(&[("i:1.2.3.4", 4)]);
    assert_eq!(log.admit(&ip_only, "b0", 221, 120).await.unwrap(), None);
    log.settle(&ip_only, "b0", true, 221, 120).await.unwrap();
    assert_eq!(log.admit(&ip_only, "b1", 221, 120).await.unwrap(), Some(49));
    // An attempt whose instance died is in flight for a minute at most.
    assert_eq!(log.admit(&ip_only, "b2", 300, 120).await.unwrap(), None);
    assert_eq!(log.admit(&ip_only, "b3", 301, 120).await.unwrap(), Some(1));
    assert_eq!(log.admit(&ip_only, "b4", 360, 120).await.unwrap(), None);
    // A check holds nothing in flight: only failures fill a counter it checks.
    let client = counters(&[("c:gateway", 1)]);
    for _ in 0..3 {
        assert_eq!(log.check(&client, 400, 120).await.unwrap(), None);
    }
    log.settle(&client, "g0", true, 400, 120).await.unwrap();
    assert_eq!(log.check(&client, 401, 120).await.unwrap(), Some(119));
    assert_eq!(
        other.admit(&ann, "c0", 221, 120).await.unwrap(),
        None,
        "another prefix is another deployment"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_attempts_from_many_connections_are_admitted_only_up_to_the_limit() {
    let Some(url) = redis_url().await else {
        return;
    };
    let prefix = format!("{}:", unique_name("t"));
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let log = shared(&url, &prefix);
            tokio::spawn(async move {
                log.admit(&counters(&[("u:ann", 5)]), &format!("a{i}"), 100, 900)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        if task.await.unwrap().is_none() {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 5);
}

#[tokio::test]
async fn an_absent_redis_fails_fast_as_unavailable() {
    // Port 1 on loopback: nothing listens there.
    let absent = Arc::new(shared("redis://127.0.0.1:1", "t:"));
    let started = Instant::now();
    assert!(matches!(
        absent.announce().await,
        Err(StoreError::Unavailable { .. })
    ));
    assert!(matches!(
        absent.admit(&counters(&[("u:ann", 5)]), "a", 0, 60).await,
        Err(StoreError::Unavailable { .. })
    ));
    assert!(matches!(
        absent.listen(&|| {}).await,
        StoreError::Unavailable { .. }
    ));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(
        SharedRedis::new("http://example", RedisOptions::default()),
        Err(StoreError::Internal { .. })
    ));
}

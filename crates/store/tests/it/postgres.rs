//! The conformance suite on PostgreSQL, each case in a database of its own, and what only the
//! shared backend has: explicit migrations, the ordered revocation log and its notifications, and
//! rotation raced from separate pools (as separate instances would).

use std::sync::Arc;
use std::time::Duration;

use tessera_auth::ids::{SessionId, UserId};
use tessera_auth::store::{
    RotateOutcome, Session, SessionStore as _, Store, StoreError, UserStore as _,
};
use tessera_store::testing::TestDatabase;

use crate::{Listening, NOW, ann, record};
use tessera_store::{PostgresNotifications, PostgresOptions, PostgresStore};

/// Small pools: tests run side by side on one PostgreSQL (100 connections by default).
async fn connect(database: &TestDatabase) -> PostgresStore {
    connect_with_pool(database, 4).await
}

async fn connect_with_pool(database: &TestDatabase, connections: u32) -> PostgresStore {
    let options = PostgresOptions {
        max_connections: connections,
        ..PostgresOptions::default()
    };
    PostgresStore::connect(&database.url, &options)
        .await
        .unwrap()
}

async fn fresh() -> Option<(TestDatabase, Arc<dyn Store>)> {
    let database = TestDatabase::create().await?;
    let store = connect(&database).await;
    store.migrate().await.unwrap();
    Some((database, Arc::new(store)))
}

mod conformance {
    tessera_store::conformance_tests!(optional super::fresh());
}

#[tokio::test]
async fn migrations_are_explicit_and_idempotent() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let store = connect(&database).await;
    let message = store.check_schema().await.unwrap_err().to_string();
    assert!(message.contains("tessera migrate"), "{message}");
    assert!(store.migrate().await.unwrap() >= 1);
    assert_eq!(
        store.migrate().await.unwrap(),
        0,
        "second run applies nothing"
    );
    store.check_schema().await.unwrap();
}

#[tokio::test]
async fn a_bad_url_or_an_absent_server_is_a_clear_error() {
    assert!(matches!(
        PostgresStore::connect("postgres://[::1", &PostgresOptions::default()).await,
        Err(StoreError::Internal { .. })
    ));
    let options = PostgresOptions {
        acquire_timeout: Duration::from_millis(500),
        ..PostgresOptions::default()
    };
    // Port 1 on loopback: nothing listens there.
    assert!(matches!(
        PostgresStore::connect("postgres://postgres@127.0.0.1:1/test", &options).await,
        Err(StoreError::Unavailable { .. })
    ));
}

async fn session(store: &PostgresStore, user: UserId, sid: &str, first: u8) {
    let session = Session {
        id: SessionId(sid.into()),
        user_id: user,
        created_at: NOW,
        last_used_at: NOW,
        expires_at: NOW + 86_400,
        user_agent: None,
        ip: None,
        revoked_at: None,
    };
    store
        .create_session(&session, Some(&record(first, sid)), &[])
        .await
        .unwrap();
}

/// Two pools stand for two instances: of 16 concurrent rotations of one token spread over both,
/// exactly one wins, and the session's chain has exactly one successor.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_raced_across_pools_has_one_winner() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let a = connect(&database).await;
    a.migrate().await.unwrap();
    let b = connect(&database).await;
    let ann = a.create_user(&ann(), NOW, &[]).await.unwrap().id;
    session(&a, ann, "s", 1).await;
    let mut racers = Vec::new();
    for n in 0..16u8 {
        let store = if n % 2 == 0 { a.clone() } else { b.clone() };
        racers.push(tokio::spawn(async move {
            store
                .rotate_refresh(&[1; 32], &record(100 + n, "s"), NOW + 1, &[])
                .await
        }));
    }
    let mut winners = 0;
    for racer in racers {
        match racer.await.unwrap().unwrap() {
            RotateOutcome::Rotated => winners += 1,
            RotateOutcome::NotActive(Some(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners, 1);
}

/// 120 concurrent appends from separate pools: every reader that has seen id N has seen all ids below
/// N (the advisory lock orders commits), so a poller that remembers only the last id loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revocation_log_ids_become_visible_in_order() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    // Enough connections for many appends to be in flight at once (24 of the server's 100).
    let a = connect_with_pool(&database, 12).await;
    a.migrate().await.unwrap();
    let b = connect_with_pool(&database, 12).await;
    let ann = a.create_user(&ann(), NOW, &[]).await.unwrap().id;
    for n in 0..120u8 {
        session(&a, ann, &format!("s{n}"), n + 1).await;
    }
    let writers: Vec<_> = (0..120u8)
        .map(|n| {
            let store = if n % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                store
                    .revoke_sessions(&[SessionId(format!("s{n}"))], NOW, NOW + 600, &[])
                    .await
            })
        })
        .collect();
    // Poll while they write, as an instance would: never see a gap.
    let mut seen = 0i64;
    let mut entries = 0;
    while entries < 120 {
        for entry in b.revocations_page(seen, NOW, usize::MAX).await.unwrap() {
            assert_eq!(
                entry.id,
                seen + 1,
                "a later id was visible before an earlier one"
            );
            seen = entry.id;
            entries += 1;
        }
        tokio::task::yield_now().await;
    }
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_appends_notify_listeners_on_commit() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let store = connect(&database).await;
    store.migrate().await.unwrap();
    let ann = store.create_user(&ann(), NOW, &[]).await.unwrap().id;
    session(&store, ann, "s", 1).await;
    let mut listening = Listening::start(PostgresNotifications::new(store.clone()));
    listening.next().await; // subscribed
    store
        .revoke_sessions(&[SessionId("s".into())], NOW, NOW + 600, &[])
        .await
        .unwrap();
    listening.next().await;
    listening.task.abort();
}

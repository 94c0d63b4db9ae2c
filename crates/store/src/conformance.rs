//! The storage conformance suite: every backend must pass every case.
//!
//! Each case takes a fresh, empty store. A backend's tests instantiate them all with
//! [`conformance_tests!`](crate::conformance_tests), giving it an async expression that builds a
//! fresh `Arc<dyn Store>`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use std::sync::Arc;

use tessera_auth::ids::{SessionId, UserId};
use tessera_auth::store::{
    NewUser, RefreshRecord, RefreshState, RevocationKind, RotateOutcome, Session, Store,
    StoreError, StoredKey,
};

const NOW: i64 = 1_700_000_000;
const LOG_UNTIL: i64 = NOW + 86_400;

fn hash(n: u8) -> [u8; 32] {
    [n; 32]
}

fn session(id: &str, user: UserId, expires_at: i64) -> Session {
    Session {
        id: SessionId(id.into()),
        user_id: user,
        created_at: NOW,
        last_used_at: NOW,
        expires_at,
        user_agent: Some("agent".into()),
        ip: Some("127.0.0.1".into()),
        revoked_at: None,
    }
}

fn record(n: u8, sid: &str) -> RefreshRecord {
    RefreshRecord {
        token_hash: hash(n),
        jti: format!("jti-{n}"),
        session_id: SessionId(sid.into()),
        issued_at: NOW,
        expires_at: NOW + 3_600,
    }
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        password_hash: "hash".into(),
        is_active: true,
        ..NewUser::default()
    }
}

async fn user(store: &dyn Store, name: &str) -> UserId {
    store.create_user(&new_user(name), NOW).await.unwrap().id
}

/// Ids start at 1 and follow creation order; names are unique.
pub async fn users_get_ids_in_order_and_unique_names(store: Arc<dyn Store>) {
    assert_eq!(user(store.as_ref(), "ann").await, UserId(1));
    assert_eq!(user(store.as_ref(), "bob").await, UserId(2));
    assert!(matches!(
        store.create_user(&new_user("ann"), NOW).await,
        Err(StoreError::Conflict(_))
    ));
    let names: Vec<_> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["ann", "bob"]);
    let ann = store.user_by_name("ann").await.unwrap().unwrap();
    assert_eq!(store.user_by_id(ann.id).await.unwrap().unwrap(), ann);
    assert!(store.user_by_name("nobody").await.unwrap().is_none());
    assert!(store.set_password_hash(ann.id, "new").await.unwrap());
    assert_eq!(
        store
            .user_by_id(ann.id)
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "new"
    );
    assert!(!store.set_password_hash(UserId(99), "x").await.unwrap());
}

/// Roles and claims are stored as given, replaced independently, and paged.
pub async fn roles_claims_and_pages(store: Arc<dyn Store>) {
    let claims: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(r#"{"name":"Joker","email":"j@example.com","n":[1,{"a":null}]}"#)
            .unwrap();
    let created = store
        .create_user(
            &NewUser {
                roles: vec!["joker".into(), "admin".into()],
                claims: claims.clone(),
                ..new_user("ann")
            },
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(created.roles, ["joker", "admin"]);
    assert_eq!(created.claims, claims);
    assert!(
        store
            .set_roles_and_claims(created.id, Some(&["staff".into()]), None)
            .await
            .unwrap()
    );
    let ann = store.user_by_id(created.id).await.unwrap().unwrap();
    assert_eq!(
        (ann.roles.as_slice(), &ann.claims),
        (&["staff".to_owned()][..], &claims)
    );
    let empty = serde_json::Map::new();
    assert!(
        store
            .set_roles_and_claims(created.id, None, Some(&empty))
            .await
            .unwrap()
    );
    assert!(
        store
            .user_by_id(created.id)
            .await
            .unwrap()
            .unwrap()
            .claims
            .is_empty()
    );
    assert!(
        !store
            .set_roles_and_claims(UserId(99), None, None)
            .await
            .unwrap()
    );
    for name in ["b", "c", "d", "e"] {
        user(store.as_ref(), name).await;
    }
    let (count, page) = store.users_page(2, 1).await.unwrap();
    assert_eq!(count, 5);
    let names: Vec<_> = page.into_iter().map(|u| u.username).collect();
    assert_eq!(names, ["b", "c"]);
    assert!(store.users_page(10, 10).await.unwrap().1.is_empty());
}

/// Disabling, enabling and deleting are logged in the revocation log.
pub async fn user_status_changes_are_logged(store: Arc<dyn Store>) {
    let ann = user(store.as_ref(), "ann").await;
    let bob = user(store.as_ref(), "bob").await;
    assert!(store.set_user_active(ann, false, LOG_UNTIL).await.unwrap());
    assert_eq!(store.inactive_user_ids().await.unwrap(), [ann]);
    assert!(store.set_user_active(ann, true, LOG_UNTIL).await.unwrap());
    assert!(store.inactive_user_ids().await.unwrap().is_empty());
    store
        .create_session(&session("s1", bob, NOW + 100), &record(1, "s1"))
        .await
        .unwrap();
    assert!(store.delete_user(bob, LOG_UNTIL).await.unwrap());
    assert!(!store.delete_user(bob, LOG_UNTIL).await.unwrap());
    assert!(
        !store
            .set_user_active(UserId(99), false, LOG_UNTIL)
            .await
            .unwrap()
    );
    assert!(
        store
            .session(&SessionId("s1".into()))
            .await
            .unwrap()
            .is_none(),
        "sessions go with the user"
    );
    assert!(store.refresh_token(&hash(1)).await.unwrap().is_none());
    let kinds: Vec<_> = store
        .revocations_since(0, NOW)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            RevocationKind::UserDisabled(ann),
            RevocationKind::UserEnabled(ann),
            RevocationKind::UserDeleted(bob)
        ]
    );
}

/// Sessions are created with their first token, listed while active, and revoked with their tokens.
pub async fn sessions_list_and_revoke(store: Arc<dyn Store>) {
    let ann = user(store.as_ref(), "ann").await;
    store
        .create_session(&session("s1", ann, NOW + 100), &record(1, "s1"))
        .await
        .unwrap();
    store
        .create_session(&session("s2", ann, NOW + 100), &record(2, "s2"))
        .await
        .unwrap();
    store
        .create_session(&session("old", ann, NOW - 1), &record(3, "old"))
        .await
        .unwrap();
    let active: Vec<_> = store
        .active_sessions(ann, NOW)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id.0)
        .collect();
    assert_eq!(active, ["s1", "s2"]);
    let stored = store.refresh_token(&hash(1)).await.unwrap().unwrap();
    assert_eq!(stored.state, RefreshState::Active);
    assert_eq!(stored.record, record(1, "s1"));

    let revoked = store
        .revoke_sessions(
            &[SessionId("s1".into()), SessionId("nope".into())],
            NOW,
            LOG_UNTIL,
        )
        .await
        .unwrap();
    assert_eq!(revoked, [SessionId("s1".into())]);
    let again = store
        .revoke_sessions(&[SessionId("s1".into())], NOW, LOG_UNTIL)
        .await
        .unwrap();
    assert!(
        again.is_empty(),
        "already revoked sessions are not reported twice"
    );
    assert_eq!(
        store.refresh_token(&hash(1)).await.unwrap().unwrap().state,
        RefreshState::Revoked
    );
    assert_eq!(
        store
            .session(&SessionId("s1".into()))
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(NOW)
    );
    let active: Vec<_> = store
        .active_sessions(ann, NOW)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id.0)
        .collect();
    assert_eq!(active, ["s2"]);
    let log = store.revocations_since(0, NOW).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].kind, RevocationKind::Session(SessionId("s1".into())));
}

/// Rotation moves the session to the new token; older tokens report how they stand.
pub async fn rotation_and_reuse_states(store: Arc<dyn Store>) {
    let ann = user(store.as_ref(), "ann").await;
    store
        .create_session(&session("s", ann, NOW + 100), &record(1, "s"))
        .await
        .unwrap();
    assert_eq!(
        store
            .rotate_refresh(&hash(1), &record(2, "s"), NOW + 5)
            .await
            .unwrap(),
        RotateOutcome::Rotated
    );
    assert_eq!(
        store
            .rotate_refresh(&hash(2), &record(3, "s"), NOW + 6)
            .await
            .unwrap(),
        RotateOutcome::Rotated
    );
    let current = store
        .session(&SessionId("s".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.last_used_at, NOW + 6);

    let predecessor = store.refresh_token(&hash(2)).await.unwrap().unwrap();
    assert_eq!(predecessor.state, RefreshState::Rotated { at: NOW + 6 });
    assert!(predecessor.successor_is_current);
    assert_eq!(predecessor.replaced_by, Some(hash(3)));
    let older = store.refresh_token(&hash(1)).await.unwrap().unwrap();
    assert_eq!(older.state, RefreshState::Rotated { at: NOW + 5 });
    assert!(!older.successor_is_current);

    match store
        .rotate_refresh(&hash(1), &record(9, "s"), NOW + 7)
        .await
        .unwrap()
    {
        RotateOutcome::NotActive(Some(stored)) => {
            assert_eq!(stored.state, RefreshState::Rotated { at: NOW + 5 })
        }
        other => panic!("reuse must not rotate: {other:?}"),
    }
    assert!(
        store.refresh_token(&hash(9)).await.unwrap().is_none(),
        "nothing stored on a failed rotation"
    );
    assert_eq!(
        store
            .rotate_refresh(&hash(42), &record(10, "s"), NOW)
            .await
            .unwrap(),
        RotateOutcome::NotActive(None)
    );
    store
        .revoke_sessions(&[SessionId("s".into())], NOW + 8, LOG_UNTIL)
        .await
        .unwrap();
    match store
        .rotate_refresh(&hash(3), &record(11, "s"), NOW + 9)
        .await
        .unwrap()
    {
        RotateOutcome::NotActive(Some(stored)) => assert_eq!(stored.state, RefreshState::Revoked),
        other => panic!("a revoked session must not rotate: {other:?}"),
    }
    // Past the session's absolute expiry, no rotation either.
    store
        .create_session(&session("t", ann, NOW + 10), &record(20, "t"))
        .await
        .unwrap();
    assert!(matches!(
        store
            .rotate_refresh(&hash(20), &record(21, "t"), NOW + 10)
            .await
            .unwrap(),
        RotateOutcome::NotActive(_)
    ));
}

/// Of many concurrent rotations of one token, exactly one succeeds.
pub async fn concurrent_rotation_has_one_winner(store: Arc<dyn Store>) {
    let ann = user(store.as_ref(), "ann").await;
    store
        .create_session(&session("s", ann, NOW + 100), &record(1, "s"))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for n in 0..16u8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store
                .rotate_refresh(&hash(1), &record(100 + n, "s"), NOW + 1)
                .await
        }));
    }
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            RotateOutcome::Rotated => winners += 1,
            RotateOutcome::NotActive(stored) => {
                assert!(matches!(
                    stored.unwrap().state,
                    RefreshState::Rotated { .. }
                ));
            }
        }
    }
    assert_eq!(winners, 1);
}

/// Revoking a user's sessions can keep one, and logs a cut-off for tokens without `sid`.
pub async fn revoke_user_sessions_keeps_one(store: Arc<dyn Store>) {
    let ann = user(store.as_ref(), "ann").await;
    let bob = user(store.as_ref(), "bob").await;
    for (sid, n, who) in [
        ("a1", 1, ann),
        ("a2", 2, ann),
        ("a3", 3, ann),
        ("b1", 4, bob),
    ] {
        store
            .create_session(&session(sid, who, NOW + 100), &record(n, sid))
            .await
            .unwrap();
    }
    let mut revoked = store
        .revoke_user_sessions(ann, Some(&SessionId("a2".into())), NOW, LOG_UNTIL)
        .await
        .unwrap();
    revoked.sort();
    assert_eq!(revoked, [SessionId("a1".into()), SessionId("a3".into())]);
    let active: Vec<_> = store
        .active_sessions(ann, NOW)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id.0)
        .collect();
    assert_eq!(active, ["a2"]);
    assert_eq!(store.active_sessions(bob, NOW).await.unwrap().len(), 1);
    let log = store.revocations_since(0, NOW).await.unwrap();
    assert!(log.iter().any(|r| r.kind
        == RevocationKind::UserTokensBefore {
            user: ann,
            before: NOW
        }));
    assert_eq!(
        log.iter()
            .filter(|r| matches!(r.kind, RevocationKind::Session(_)))
            .count(),
        2
    );
}

/// The log is read in order from a position, and expired entries are not returned.
pub async fn revocation_log_order_and_expiry(store: Arc<dyn Store>) {
    let ann = user(store.as_ref(), "ann").await;
    for (sid, n) in [("x", 1), ("y", 2), ("z", 3)] {
        store
            .create_session(&session(sid, ann, NOW + 100), &record(n, sid))
            .await
            .unwrap();
    }
    store
        .revoke_sessions(&[SessionId("x".into())], NOW, NOW + 10)
        .await
        .unwrap();
    store
        .revoke_sessions(&[SessionId("y".into())], NOW, NOW + 1_000)
        .await
        .unwrap();
    let all = store.revocations_since(0, NOW).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].id < all[1].id);
    let after_first = store.revocations_since(all[0].id, NOW).await.unwrap();
    assert_eq!(after_first.len(), 1);
    assert_eq!(
        after_first[0].kind,
        RevocationKind::Session(SessionId("y".into()))
    );
    let later = store.revocations_since(0, NOW + 10).await.unwrap();
    assert_eq!(later.len(), 1, "the entry that expired at NOW + 10 is gone");
    store
        .revoke_sessions(&[SessionId("z".into())], NOW, NOW + 1_000)
        .await
        .unwrap();
    let newest = store.revocations_since(all[1].id, NOW).await.unwrap();
    assert_eq!(newest.len(), 1);
    assert!(newest[0].id > all[1].id);
}

/// Expired rows are deleted; live ones stay.
pub async fn flush_expired_removes_only_what_expired(store: Arc<dyn Store>) {
    let ann = user(store.as_ref(), "ann").await;
    store
        .create_session(&session("live", ann, NOW + 10_000), &record(1, "live"))
        .await
        .unwrap();
    store
        .create_session(&session("dead", ann, NOW + 10), &record(2, "dead"))
        .await
        .unwrap();
    store
        .revoke_sessions(&[SessionId("dead".into())], NOW, NOW + 5)
        .await
        .unwrap();
    store.rotate_in(&key("k1", NOW), NOW + 100).await.unwrap();
    store
        .rotate_in(&key("k2", NOW + 1), NOW + 100)
        .await
        .unwrap();
    let stats = store.flush_expired(NOW + 3_600).await.unwrap();
    assert_eq!(stats.refresh_tokens, 2, "both tokens expired at NOW + 3600");
    assert_eq!(stats.sessions, 1);
    assert_eq!(stats.revocations, 1);
    assert_eq!(stats.keys, 1);
    assert!(
        store
            .session(&SessionId("live".into()))
            .await
            .unwrap()
            .is_some()
    );
    let kids: Vec<_> = store
        .keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["k2"]);
}

fn key(kid: &str, created_at: i64) -> StoredKey {
    StoredKey {
        kid: kid.into(),
        alg: "ES256".into(),
        private_jwk: "{}".into(),
        created_at,
        retired_at: None,
        expires_at: None,
    }
}

/// A new key retires every current one, which then expires at the given time.
pub async fn keys_rotate_in_retires_the_previous(store: Arc<dyn Store>) {
    assert!(store.keys().await.unwrap().is_empty());
    store.rotate_in(&key("k1", NOW), NOW + 50).await.unwrap();
    store
        .rotate_in(&key("k2", NOW + 10), NOW + 60)
        .await
        .unwrap();
    let keys = store.keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(
        (keys[0].kid.as_str(), keys[0].retired_at, keys[0].expires_at),
        ("k1", Some(NOW + 10), Some(NOW + 60))
    );
    assert_eq!(
        (keys[1].kid.as_str(), keys[1].retired_at, keys[1].expires_at),
        ("k2", None, None)
    );
    assert!(matches!(
        store.rotate_in(&key("k2", NOW + 20), 0).await,
        Err(StoreError::Conflict(_))
    ));
    store.ping().await.unwrap();
}

/// Instantiates every conformance case as a `#[tokio::test]` for a backend. `$store` is an async
/// block evaluating to a fresh `Arc<dyn Store>`.
#[macro_export]
macro_rules! conformance_tests {
    ($store:expr) => {
        $crate::conformance_tests!(@cases $store;
            users_get_ids_in_order_and_unique_names,
            roles_claims_and_pages,
            user_status_changes_are_logged,
            sessions_list_and_revoke,
            rotation_and_reuse_states,
            concurrent_rotation_has_one_winner,
            revoke_user_sessions_keeps_one,
            revocation_log_order_and_expiry,
            flush_expired_removes_only_what_expired,
            keys_rotate_in_retires_the_previous,
        );
    };
    (@cases $store:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let store: std::sync::Arc<dyn tessera_auth::store::Store> = $store.await;
                $crate::conformance::$case(store).await;
            }
        )+
    };
}

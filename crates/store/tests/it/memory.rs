//! The conformance suite on the in-memory store of `tessera-auth` (feature `test-support`), and
//! what only it has: closing it as an outage, and clones sharing one store.

use crate::{NOW, ann, record, session};
use std::sync::Arc;

use tessera_auth::ids::{SessionId, UserId};
use tessera_auth::memory::MemoryStore;
use tessera_auth::store::{
    Conflict, KeyInfo, KeyStore as _, NewUser, PrivateJwk, RefreshState, RotateOutcome,
    SessionStore as _, Store, StoreError, UserStore as _,
};

async fn fresh() -> ((), Arc<dyn Store>) {
    ((), Arc::new(MemoryStore::default()))
}

mod conformance {
    tessera_store::conformance_tests!(super::fresh());
}

fn unavailable<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Unavailable { .. }))
}

#[tokio::test]
async fn a_closed_store_is_unavailable_to_every_call_and_clone() {
    let store = MemoryStore::default();
    let ann = store.create_user(&ann(), NOW, &[]).await.unwrap().id;
    store
        .create_session(&session("s", ann), Some(&record(1, "s")), &[])
        .await
        .unwrap();
    let clone = store.clone();
    clone.close();
    let s = SessionId("s".into());
    let key = KeyInfo {
        kid: "k".into(),
        alg: "ES256".into(),
        created_at: NOW,
        retired_at: None,
        expires_at: None,
    };
    assert!(unavailable(store.ping().await));
    assert!(unavailable(
        store.create_user(&NewUser::default(), NOW, &[]).await
    ));
    assert!(unavailable(store.user_by_name("ann").await));
    assert!(unavailable(store.user_by_id(ann).await));
    assert!(unavailable(store.list_users().await));
    assert!(unavailable(store.users_page(10, 0).await));
    assert!(unavailable(
        store.set_roles_and_claims(ann, None, None, &[]).await
    ));
    assert!(unavailable(store.inactive_user_ids().await));
    assert!(unavailable(
        store.set_user_active(ann, false, NOW, &[]).await
    ));
    assert!(unavailable(store.set_password_hash(ann, "x", &[]).await));
    assert!(unavailable(store.delete_user(ann, NOW, &[]).await));
    assert!(unavailable(
        store
            .create_session(&session("t", ann), Some(&record(2, "t")), &[])
            .await
    ));
    assert!(unavailable(store.session(&s).await));
    assert!(unavailable(store.active_sessions(ann, NOW).await));
    assert!(unavailable(store.refresh_token(&[1; 32]).await));
    assert!(unavailable(
        store
            .rotate_refresh(&[1; 32], &record(3, "s"), NOW, &[])
            .await
    ));
    assert!(unavailable(
        store.add_refresh(&record(4, "s"), NOW, &[]).await
    ));
    assert!(unavailable(
        store
            .revoke_sessions(std::slice::from_ref(&s), NOW, NOW, &[])
            .await
    ));
    assert!(unavailable(
        store.revoke_user_sessions(ann, None, NOW, NOW, &[]).await
    ));
    assert!(unavailable(
        store.revocations_page(0, NOW, usize::MAX).await
    ));
    assert!(unavailable(store.revocations_page(0, NOW, 10).await));
    assert!(unavailable(store.flush_expired(NOW).await));
    assert!(unavailable(store.keys().await));
    assert!(unavailable(store.private_key("k").await));
    assert!(unavailable(
        store
            .rotate_in(&key, &PrivateJwk::new("{}"), NOW, &[])
            .await
    ));
    // An unrelated store is untouched.
    MemoryStore::default().ping().await.unwrap();
}

#[tokio::test]
async fn clones_share_one_store() {
    let store = MemoryStore::default();
    let other = store.clone();
    let ann = store.create_user(&ann(), NOW, &[]).await.unwrap().id;
    assert_eq!(
        other.user_by_id(ann).await.unwrap().unwrap().username,
        "ann"
    );
    assert!(matches!(
        other.create_user(&self::ann(), NOW, &[]).await,
        Err(StoreError::Conflict(Conflict::Username))
    ));
}

#[tokio::test]
async fn rotating_into_another_session_is_refused_as_a_bug() {
    let store = MemoryStore::default();
    let ann = store.create_user(&ann(), NOW, &[]).await.unwrap().id;
    for (sid, n) in [("a", 1), ("b", 2)] {
        store
            .create_session(&session(sid, ann), Some(&record(n, sid)), &[])
            .await
            .unwrap();
    }
    assert!(matches!(
        store
            .rotate_refresh(&[1; 32], &record(3, "b"), NOW, &[])
            .await,
        Err(StoreError::Internal { .. })
    ));
    let old = store.refresh_token(&[1; 32]).await.unwrap().unwrap();
    assert_eq!(old.state, RefreshState::Active, "nothing changed");
    assert!(store.refresh_token(&[3; 32]).await.unwrap().is_none());
}

/// Calls refused by a constraint change nothing, as a rolled-back transaction would.
#[tokio::test]
async fn refused_writes_change_nothing() {
    refusals(&MemoryStore::default()).await;
}

/// The same refusals, answered the same way, by SQLite: the reference semantics.
#[tokio::test]
async fn refused_writes_match_sqlite() {
    refusals(&tessera_store::SqliteStore::in_memory().await.unwrap()).await;
}

async fn refusals(store: &dyn Store) {
    let ann = store.create_user(&ann(), NOW, &[]).await.unwrap().id;
    store
        .create_session(&session("s", ann), Some(&record(1, "s")), &[])
        .await
        .unwrap();

    // A session whose first token's hash is taken is not stored either.
    assert!(matches!(
        store
            .create_session(&session("t", ann), Some(&record(1, "t")), &[])
            .await,
        Err(StoreError::Conflict(Conflict::Other))
    ));
    assert_eq!(store.session(&SessionId("t".into())).await.unwrap(), None);
    // A session of a user who does not exist is a bug in the caller.
    assert!(matches!(
        store
            .create_session(&session("u", UserId(99)), Some(&record(5, "u")), &[])
            .await,
        Err(StoreError::Internal { .. })
    ));
    assert!(store.refresh_token(&[5; 32]).await.unwrap().is_none());

    // A rotation to a taken hash does not rotate the old token.
    assert!(matches!(
        store
            .rotate_refresh(&[1; 32], &record(1, "s"), NOW + 1, &[])
            .await,
        Err(StoreError::Conflict(Conflict::Other))
    ));
    let old = store.refresh_token(&[1; 32]).await.unwrap().unwrap();
    assert_eq!(old.state, RefreshState::Active);
    assert_eq!(old.replaced_by, None);
    assert_eq!(
        store
            .rotate_refresh(&[1; 32], &record(2, "s"), NOW + 1, &[])
            .await
            .unwrap(),
        RotateOutcome::Rotated
    );
    // A token for a session that does not exist is refused.
    assert!(matches!(
        store.add_refresh(&record(6, "nope"), NOW, &[]).await,
        Err(StoreError::Internal { .. })
    ));
    assert!(store.refresh_token(&[6; 32]).await.unwrap().is_none());
}

//! The storage conformance suite: every backend must pass every case.
//!
//! Each case is an async function taking a fresh, empty store. A backend's integration tests
//! instantiate them all as `#[tokio::test]`s with [`conformance_tests!`](crate::conformance_tests),
//! so a case added here runs on every backend.
//!
//! Times are fixed numbers around [`NOW`]: stores never read the clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use std::sync::Arc;

use tessera_auth::ids::{SessionId, UserId};
use tessera_auth::store::{
    Client, Conflict, ImportedPassword, ImportedUser, KeyInfo, NewUser, PrivateJwk, RefreshRecord,
    RefreshState, Revocation, RevocationKind, RotateOutcome, Session, Store, StoreError,
    StoredRefresh,
};

/// The time the cases pretend it is.
pub const NOW: i64 = 1_700_000_000;
/// When log entries written by the cases expire, unless a case says otherwise.
const LOG_UNTIL: i64 = NOW + 86_400;

fn hash(n: u8) -> [u8; 32] {
    [n; 32]
}

fn sid(id: &str) -> SessionId {
    SessionId(id.into())
}

fn session(id: &str, user: UserId, created_at: i64, expires_at: i64) -> Session {
    Session {
        id: sid(id),
        user_id: user,
        created_at,
        last_used_at: created_at,
        expires_at,
        user_agent: Some("agent/1.0".into()),
        ip: Some("192.0.2.7".into()),
        revoked_at: None,
    }
}

/// Refresh token number `n` of session `id`, valid for an hour from [`NOW`].
fn record(n: u8, id: &str) -> RefreshRecord {
    RefreshRecord {
        token_hash: hash(n),
        jti: format!("jti-{n}"),
        session_id: sid(id),
        issued_at: NOW,
        expires_at: NOW + 3_600,
    }
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        password_hash: format!("$argon2id$hash-of-{name}"),
        is_active: true,
        ..NewUser::default()
    }
}

async fn user(store: &dyn Store, name: &str) -> UserId {
    store
        .create_user(&new_user(name), NOW, &[])
        .await
        .unwrap()
        .id
}

/// A session `id` of `owner` from [`NOW`] for 100 s, with token `n` as its first.
async fn login(store: &dyn Store, owner: UserId, id: &str, n: u8) {
    store
        .create_session(
            &session(id, owner, NOW, NOW + 100),
            Some(&record(n, id)),
            &[],
        )
        .await
        .unwrap();
}

async fn token(store: &dyn Store, n: u8) -> Option<StoredRefresh> {
    store.refresh_token(&hash(n)).await.unwrap()
}

async fn state(store: &dyn Store, n: u8) -> RefreshState {
    token(store, n).await.expect("token is stored").state
}

async fn active_ids(store: &dyn Store, user: UserId, now: i64) -> Vec<String> {
    store
        .active_sessions(user, now)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id.0)
        .collect()
}

async fn log_kinds(store: &dyn Store) -> Vec<RevocationKind> {
    store
        .revocations_page(0, NOW, usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect()
}

fn not_active(outcome: RotateOutcome) -> StoredRefresh {
    match outcome {
        RotateOutcome::NotActive(Some(stored)) => stored,
        other => panic!("expected NotActive with the stored token, got {other:?}"),
    }
}

/// Ids start at 1, follow creation order and are never reused; names are unique; a user reads back
/// as created.
pub async fn users_get_ids_in_order_and_unique_names(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let ann = store
        .create_user(
            &NewUser {
                is_active: false,
                ..new_user("ann")
            },
            NOW - 5,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(ann.id, UserId(1));
    assert_eq!(
        (
            ann.username.as_str(),
            ann.password_hash.as_str(),
            ann.is_active,
            ann.created_at
        ),
        ("ann", "$argon2id$hash-of-ann", false, NOW - 5)
    );
    assert_eq!(user(store, "bob").await, UserId(2));
    assert!(matches!(
        store.create_user(&new_user("ann"), NOW, &[]).await,
        Err(StoreError::Conflict(Conflict::Username))
    ));
    // The highest id is deleted: a store that reused ids would hand out 2 again. (A refused
    // insert may use up an id, as a PostgreSQL sequence does: gaps are allowed, reuse is not.)
    assert!(store.delete_user(UserId(2), LOG_UNTIL, &[]).await.unwrap());
    let carol = user(store, "carol").await;
    assert!(carol.0 > 2, "id {} reused", carol.0);
    let names: Vec<_> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect();
    assert_eq!(
        names,
        [(UserId(1), "ann".to_owned()), (carol, "carol".to_owned())]
    );
    assert_eq!(store.user_by_name("ann").await.unwrap(), Some(ann.clone()));
    assert_eq!(store.user_by_id(ann.id).await.unwrap(), Some(ann.clone()));
    assert_eq!(store.user_by_name("bob").await.unwrap(), None);
    assert_eq!(store.user_by_id(UserId(2)).await.unwrap(), None);
    assert!(store.set_password_hash(ann.id, "new", &[]).await.unwrap());
    let ann = store.user_by_id(ann.id).await.unwrap().unwrap();
    assert_eq!(ann.password_hash, "new");
    assert!(!store.set_password_hash(UserId(99), "x", &[]).await.unwrap());
    // A re-hash after login replaces only the hash it verified.
    assert!(
        !store
            .upgrade_password_hash(ann.id, "old", "upgraded")
            .await
            .unwrap(),
        "changed meanwhile: kept"
    );
    assert!(
        store
            .upgrade_password_hash(ann.id, "new", "upgraded")
            .await
            .unwrap()
    );
    let ann = store.user_by_id(ann.id).await.unwrap().unwrap();
    assert_eq!(ann.password_hash, "upgraded");
}

/// Django imports keep their ids, later ids continue after them, and a re-import without a
/// password keeps the stored hash.
pub async fn imported_users_keep_their_ids(store: Arc<dyn Store>) {
    let ann = store.create_user(&new_user("ann"), NOW, &[]).await.unwrap();
    assert_eq!(ann.id, UserId(1));
    let digest = hash(7);
    let mut bob = ImportedUser {
        id: UserId(40),
        username: "bob".into(),
        is_active: true,
        roles: vec!["staff".into()],
        claims: serde_json::from_str(r#"{"email":"bob@example.com"}"#).unwrap(),
        password: Some(ImportedPassword {
            hash: "pbkdf2_sha256$1$s$h".into(),
            source_digest: digest,
        }),
    };
    store.save_imported_user(&bob, NOW, &[]).await.unwrap();
    let stored = store.user_by_id(UserId(40)).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.username.as_str(),
            stored.password_hash.as_str(),
            stored.created_at
        ),
        ("bob", "pbkdf2_sha256$1$s$h", NOW)
    );
    assert_eq!(stored.roles, ["staff"]);
    assert_eq!(
        store.django_imports().await.unwrap(),
        [(UserId(40), digest)]
    );
    // The next user created gets an id past the imported one.
    let carol = store
        .create_user(&new_user("carol"), NOW, &[])
        .await
        .unwrap();
    assert_eq!(carol.id, UserId(41));

    // An update without a password keeps the stored hash (a re-hash after login, say).
    assert!(
        store
            .set_password_hash(bob.id, "$argon2id$rehashed", &[])
            .await
            .unwrap()
    );
    bob.username = "robert".into();
    bob.is_active = false;
    bob.roles = Vec::new();
    bob.password = None;
    store.save_imported_user(&bob, NOW + 5, &[]).await.unwrap();
    let stored = store.user_by_id(UserId(40)).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.username.as_str(),
            stored.password_hash.as_str(),
            stored.is_active
        ),
        ("robert", "$argon2id$rehashed", false)
    );
    assert!(stored.roles.is_empty());
    assert_eq!(stored.created_at, NOW, "creation time kept");
    assert_eq!(
        store.django_imports().await.unwrap(),
        [(UserId(40), digest)]
    );

    // A name held by another user is a conflict, and nothing is written.
    let clash = ImportedUser {
        id: UserId(50),
        username: "ann".into(),
        ..bob.clone()
    };
    assert!(matches!(
        store.save_imported_user(&clash, NOW, &[]).await,
        Err(StoreError::Conflict(Conflict::Username))
    ));
    assert_eq!(store.user_by_id(UserId(50)).await.unwrap(), None);

    // The record outlives the user, so a later import can tell they were deleted.
    assert!(store.delete_user(bob.id, LOG_UNTIL, &[]).await.unwrap());
    assert_eq!(
        store.django_imports().await.unwrap(),
        [(UserId(40), digest)]
    );
}

/// Audit events are stored with the change they record and only with it; they are filtered,
/// paged both ways and deleted by age.
pub async fn audit_events_commit_with_their_change(store: Arc<dyn Store>) {
    use tessera_auth::audit::{Acting, AuditFilter, AuditKind};
    let event = |kind, at| Acting::cli().event(at, kind).with("n", at);
    let ann = store
        .create_user(&new_user("ann"), NOW, &[event(AuditKind::UserCreated, NOW)])
        .await
        .unwrap();
    // A change that does not happen leaves no event.
    assert!(matches!(
        store
            .create_user(
                &new_user("ann"),
                NOW,
                &[event(AuditKind::UserCreated, NOW + 1)]
            )
            .await,
        Err(StoreError::Conflict(Conflict::Username))
    ));
    assert!(
        !store
            .set_password_hash(
                UserId(99),
                "x",
                &[event(AuditKind::UserPasswordChanged, NOW + 2)]
            )
            .await
            .unwrap()
    );
    store
        .set_password_hash(
            ann.id,
            "new",
            &[event(AuditKind::UserPasswordChanged, NOW + 3).about(ann.id, "ann")],
        )
        .await
        .unwrap();
    store
        .append_audit(&[
            event(AuditKind::LoginFailure, NOW + 4),
            event(AuditKind::LoginFailure, NOW + 5).about(UserId(77), "77"),
        ])
        .await
        .unwrap();

    let all = AuditFilter::default();
    let (total, newest) = store.audit_events(&all, true, 10, 0).await.unwrap();
    assert_eq!(total, 4);
    let times: Vec<i64> = newest.iter().map(|r| r.event.time).collect();
    assert_eq!(times, [NOW + 5, NOW + 4, NOW + 3, NOW]);
    // The new user's id was filled in; the record reads back as written.
    let created = &newest[3].event;
    assert_eq!(created.kind, AuditKind::UserCreated);
    assert_eq!(
        created
            .subject
            .as_ref()
            .map(|s| (s.id, s.username.as_str())),
        Some((ann.id, "ann"))
    );
    assert_eq!(created.actor, tessera_auth::audit::Actor::cli());
    assert_eq!(created.detail.get("n"), Some(&serde_json::json!(NOW)));

    let (_, oldest) = store.audit_events(&all, false, 2, 1).await.unwrap();
    let times: Vec<i64> = oldest.iter().map(|r| r.event.time).collect();
    assert_eq!(times, [NOW + 3, NOW + 4], "oldest first, from the offset");
    let filtered = |filter: AuditFilter| {
        let store = Arc::clone(&store);
        async move {
            let (total, records) = store.audit_events(&filter, true, 10, 0).await.unwrap();
            assert_eq!(total, u64::try_from(records.len()).unwrap());
            records.iter().map(|r| r.event.time).collect::<Vec<_>>()
        }
    };
    let failures = AuditFilter {
        kind: Some(AuditKind::LoginFailure),
        ..AuditFilter::default()
    };
    assert_eq!(filtered(failures).await, [NOW + 5, NOW + 4]);
    // `user` matches the subject's id or name: "77" is both here.
    let by_name_or_id = AuditFilter {
        subject_id: Some(ann.id),
        subject_name: Some("77".into()),
        ..AuditFilter::default()
    };
    assert_eq!(filtered(by_name_or_id).await, [NOW + 5, NOW + 3, NOW]);
    let since = AuditFilter {
        since: Some(NOW + 4),
        ..AuditFilter::default()
    };
    assert_eq!(filtered(since).await, [NOW + 5, NOW + 4]);
    let after = AuditFilter {
        after_id: Some(newest[1].id),
        ..AuditFilter::default()
    };
    assert_eq!(filtered(after).await, [NOW + 5]);
    let (past_end, empty) = store.audit_events(&all, true, 10, 10).await.unwrap();
    assert_eq!(
        (past_end, empty.len()),
        (4, 0),
        "the count holds past the end"
    );

    assert_eq!(store.delete_audit_before(NOW + 4).await.unwrap(), 2);
    assert_eq!(filtered(AuditFilter::default()).await, [NOW + 5, NOW + 4]);
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
            &[],
        )
        .await
        .unwrap();
    assert_eq!(created.roles, ["joker", "admin"]);
    assert_eq!(created.claims, claims);
    assert!(
        store
            .set_roles_and_claims(created.id, Some(&["staff".into()]), None, &[])
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
            .set_roles_and_claims(created.id, None, Some(&empty), &[])
            .await
            .unwrap()
    );
    let ann = store.user_by_id(created.id).await.unwrap().unwrap();
    assert_eq!(ann.roles, ["staff"], "roles untouched when not given");
    assert!(ann.claims.is_empty());
    assert!(
        !store
            .set_roles_and_claims(UserId(99), None, None, &[])
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
    let (count, page) = store.users_page(10, 10).await.unwrap();
    assert_eq!((count, page.len()), (5, 0));
}

/// Disabling, enabling and deleting are logged; deleting takes the user's sessions and tokens.
pub async fn user_status_changes_are_logged(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let ann = user(store, "ann").await;
    let bob = user(store, "bob").await;
    assert!(
        store
            .set_user_active(ann, false, LOG_UNTIL, &[])
            .await
            .unwrap()
    );
    assert!(!store.user_by_id(ann).await.unwrap().unwrap().is_active);
    assert_eq!(store.inactive_user_ids().await.unwrap(), [ann]);
    assert!(
        store
            .set_user_active(ann, true, LOG_UNTIL, &[])
            .await
            .unwrap()
    );
    assert!(store.user_by_id(ann).await.unwrap().unwrap().is_active);
    assert!(store.inactive_user_ids().await.unwrap().is_empty());
    login(store, bob, "s1", 1).await;
    assert!(store.delete_user(bob, LOG_UNTIL, &[]).await.unwrap());
    assert!(!store.delete_user(bob, LOG_UNTIL, &[]).await.unwrap());
    assert!(
        !store
            .set_user_active(UserId(99), false, LOG_UNTIL, &[])
            .await
            .unwrap()
    );
    assert_eq!(store.user_by_id(bob).await.unwrap(), None);
    assert_eq!(
        store.session(&sid("s1")).await.unwrap(),
        None,
        "sessions go with the user"
    );
    assert_eq!(token(store, 1).await, None, "and so do refresh tokens");
    let log = store.revocations_page(0, NOW, usize::MAX).await.unwrap();
    let kinds: Vec<_> = log.iter().map(|r| r.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            RevocationKind::UserDisabled(ann),
            RevocationKind::UserEnabled(ann),
            RevocationKind::UserDeleted(bob)
        ],
        "failed changes are not logged"
    );
    assert!(log.iter().all(|r| r.expires_at == LOG_UNTIL));
}

/// Sessions read back as created, are listed while active (oldest first, one user's only), and
/// are revoked with their tokens.
pub async fn sessions_list_and_revoke(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let ann = user(store, "ann").await;
    let bob = user(store, "bob").await;
    // Created out of order, to show the listing sorts by creation time.
    let late = session("late", ann, NOW - 10, NOW + 100);
    store
        .create_session(&late, Some(&record(1, "late")), &[])
        .await
        .unwrap();
    let early = Session {
        user_agent: None,
        ip: None,
        ..session("early", ann, NOW - 20, NOW + 100)
    };
    store
        .create_session(&early, Some(&record(2, "early")), &[])
        .await
        .unwrap();
    let ended = session("ended", ann, NOW - 30, NOW);
    store
        .create_session(&ended, Some(&record(3, "ended")), &[])
        .await
        .unwrap();
    login(store, bob, "bobs", 4).await;
    assert_eq!(store.session(&sid("late")).await.unwrap(), Some(late));
    assert_eq!(store.session(&sid("early")).await.unwrap(), Some(early));
    assert_eq!(store.session(&sid("nope")).await.unwrap(), None);
    assert_eq!(
        active_ids(store, ann, NOW).await,
        ["early", "late"],
        "not past the absolute expiry"
    );
    assert_eq!(
        active_ids(store, ann, NOW - 1).await,
        ["ended", "early", "late"]
    );
    let stored = token(store, 1).await.unwrap();
    assert_eq!(stored.state, RefreshState::Active);
    assert_eq!(stored.record, record(1, "late"));
    assert!(!stored.successor_is_current);
    assert_eq!(stored.replaced_by, None);
    assert_eq!(token(store, 99).await, None);
    // A second token in the session, added without rotation.
    store
        .add_refresh(&record(5, "late"), NOW + 1, &[])
        .await
        .unwrap();
    assert_eq!(state(store, 5).await, RefreshState::Active);
    assert_eq!(
        state(store, 1).await,
        RefreshState::Active,
        "adding retires nothing"
    );

    let revoked = store
        .revoke_sessions(&[sid("late"), sid("nope")], NOW + 2, LOG_UNTIL, &[])
        .await
        .unwrap();
    assert_eq!(revoked, [sid("late")]);
    let again = store
        .revoke_sessions(&[sid("late")], NOW + 3, LOG_UNTIL, &[])
        .await
        .unwrap();
    assert!(again.is_empty(), "revoked sessions are not reported twice");
    assert_eq!(state(store, 1).await, RefreshState::Revoked);
    assert_eq!(state(store, 5).await, RefreshState::Revoked);
    assert_eq!(state(store, 2).await, RefreshState::Active);
    assert_eq!(
        store
            .session(&sid("late"))
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(NOW + 2),
        "the first revocation's time stays"
    );
    assert_eq!(active_ids(store, ann, NOW).await, ["early"]);
    assert_eq!(active_ids(store, bob, NOW).await, ["bobs"]);
    assert_eq!(
        log_kinds(store).await,
        [RevocationKind::Session(sid("late"))]
    );
}

/// Rotation retires the presented token, stores its successor as the session's current token and
/// marks the session used.
pub async fn rotation_happy_path(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let ann = user(store, "ann").await;
    login(store, ann, "s", 1).await;
    let second = RefreshRecord {
        issued_at: NOW + 5,
        expires_at: NOW + 90,
        ..record(2, "s")
    };
    assert_eq!(
        store
            .rotate_refresh(&hash(1), &second, NOW + 5, &[])
            .await
            .unwrap(),
        RotateOutcome::Rotated
    );
    let stored = token(store, 2).await.unwrap();
    assert_eq!(
        (stored.record, stored.state),
        (second, RefreshState::Active)
    );
    let old = token(store, 1).await.unwrap();
    assert_eq!(old.state, RefreshState::Rotated { at: NOW + 5 });
    assert_eq!(old.replaced_by, Some(hash(2)));
    assert!(old.successor_is_current);
    assert_eq!(old.record, record(1, "s"), "the record itself is unchanged");
    let session = store.session(&sid("s")).await.unwrap().unwrap();
    assert_eq!((session.created_at, session.last_used_at), (NOW, NOW + 5));
    assert_eq!(
        store
            .rotate_refresh(&hash(2), &record(3, "s"), NOW + 6, &[])
            .await
            .unwrap(),
        RotateOutcome::Rotated,
        "the successor rotates in turn"
    );
    assert_eq!(state(store, 3).await, RefreshState::Active);
}

/// A rotated token does not rotate again; it reports when it was rotated, and whether it is the
/// immediate predecessor of the session's current token.
pub async fn rotating_a_rotated_token_is_refused(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let ann = user(store, "ann").await;
    login(store, ann, "s", 1).await;
    store
        .rotate_refresh(&hash(1), &record(2, "s"), NOW + 5, &[])
        .await
        .unwrap();
    store
        .rotate_refresh(&hash(2), &record(3, "s"), NOW + 6, &[])
        .await
        .unwrap();

    let predecessor = not_active(
        store
            .rotate_refresh(&hash(2), &record(8, "s"), NOW + 7, &[])
            .await
            .unwrap(),
    );
    assert_eq!(predecessor.state, RefreshState::Rotated { at: NOW + 6 });
    assert!(predecessor.successor_is_current);
    assert_eq!(predecessor.replaced_by, Some(hash(3)));
    assert_eq!(predecessor.record, record(2, "s"));

    let older = not_active(
        store
            .rotate_refresh(&hash(1), &record(9, "s"), NOW + 7, &[])
            .await
            .unwrap(),
    );
    assert_eq!(older.state, RefreshState::Rotated { at: NOW + 5 });
    assert!(!older.successor_is_current);
    assert_eq!(older.replaced_by, Some(hash(2)));

    assert_eq!(token(store, 8).await, None, "nothing stored on a refusal");
    assert_eq!(token(store, 9).await, None);
    assert_eq!(state(store, 3).await, RefreshState::Active);
    assert!(
        token(store, 2).await.unwrap().successor_is_current,
        "a refusal leaves the current token alone"
    );
    assert_eq!(
        store
            .session(&sid("s"))
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        NOW + 6
    );
    assert_eq!(
        store
            .rotate_refresh(&hash(42), &record(10, "s"), NOW, &[])
            .await
            .unwrap(),
        RotateOutcome::NotActive(None),
        "unknown tokens are reported as such"
    );
}

/// A revoked session, or one past its absolute expiry, refuses rotation of any of its tokens.
pub async fn revoked_or_ended_session_blocks_rotation(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let ann = user(store, "ann").await;
    login(store, ann, "s", 1).await;
    store
        .rotate_refresh(&hash(1), &record(2, "s"), NOW + 1, &[])
        .await
        .unwrap();
    store
        .revoke_sessions(&[sid("s")], NOW + 2, LOG_UNTIL, &[])
        .await
        .unwrap();
    let current = not_active(
        store
            .rotate_refresh(&hash(2), &record(3, "s"), NOW + 3, &[])
            .await
            .unwrap(),
    );
    assert_eq!(current.state, RefreshState::Revoked);
    let previous = token(store, 1).await.unwrap();
    assert_eq!(
        (previous.state, previous.successor_is_current),
        (RefreshState::Revoked, false),
        "a rotated token of a revoked session reads as revoked"
    );
    assert_eq!(token(store, 3).await, None);

    // The session ends at NOW + 100: rotating at that second is refused and changes nothing.
    login(store, ann, "t", 20).await;
    let ended = not_active(
        store
            .rotate_refresh(&hash(20), &record(21, "t"), NOW + 100, &[])
            .await
            .unwrap(),
    );
    assert_eq!(ended.record, record(20, "t"));
    assert_eq!(token(store, 21).await, None);
    assert_eq!(
        store
            .session(&sid("t"))
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        NOW
    );
    assert_eq!(
        store
            .rotate_refresh(&hash(20), &record(22, "t"), NOW + 99, &[])
            .await
            .unwrap(),
        RotateOutcome::Rotated,
        "one second earlier it rotates"
    );
}

/// Of many concurrent rotations of one token exactly one succeeds, and the session ends up on the
/// winner's token.
pub async fn concurrent_rotation_has_one_winner(store: Arc<dyn Store>) {
    const RACERS: u8 = 16;
    let ann = user(store.as_ref(), "ann").await;
    login(store.as_ref(), ann, "s", 1).await;
    // Every task waits at the barrier, so the calls really overlap.
    let start = Arc::new(tokio::sync::Barrier::new(usize::from(RACERS)));
    let mut tasks = Vec::new();
    for n in 0..RACERS {
        let store = Arc::clone(&store);
        let start = Arc::clone(&start);
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let outcome = store
                .rotate_refresh(&hash(1), &record(100 + n, "s"), NOW + 1, &[])
                .await;
            (100 + n, outcome)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (n, outcome) = task.await.unwrap();
        match outcome.unwrap() {
            RotateOutcome::Rotated => winners.push(n),
            RotateOutcome::NotActive(stored) => {
                let stored = stored.expect("the raced token exists");
                assert_eq!(stored.state, RefreshState::Rotated { at: NOW + 1 });
            }
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let winner = winners[0];
    let old = token(store.as_ref(), 1).await.unwrap();
    assert_eq!(old.replaced_by, Some(hash(winner)));
    assert!(old.successor_is_current);
    for n in 100..100 + RACERS {
        let stored = token(store.as_ref(), n).await;
        assert_eq!(stored.is_some(), n == winner, "token {n}");
    }
}

/// Revoking a user's sessions can keep one, reports only sessions it revoked, and logs a cut-off
/// for tokens without `sid`.
pub async fn revoke_user_sessions_keeps_one(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let ann = user(store, "ann").await;
    let bob = user(store, "bob").await;
    for (id, n, who) in [
        ("a1", 1, ann),
        ("a2", 2, ann),
        ("a3", 3, ann),
        ("b1", 4, bob),
    ] {
        login(store, who, id, n).await;
    }
    store
        .revoke_sessions(&[sid("a3")], NOW, LOG_UNTIL, &[])
        .await
        .unwrap();
    let revoked = store
        .revoke_user_sessions(ann, Some(&sid("a2")), NOW + 1, LOG_UNTIL, &[])
        .await
        .unwrap();
    assert_eq!(revoked, [sid("a1")], "a3 was already revoked, a2 is kept");
    assert_eq!(active_ids(store, ann, NOW).await, ["a2"]);
    assert_eq!(state(store, 1).await, RefreshState::Revoked);
    assert_eq!(state(store, 2).await, RefreshState::Active);
    assert_eq!(state(store, 4).await, RefreshState::Active, "bob untouched");
    assert_eq!(active_ids(store, bob, NOW).await, ["b1"]);
    let log = log_kinds(store).await;
    assert_eq!(
        log.iter()
            .filter(|kind| matches!(kind, RevocationKind::UserTokensBefore { .. }))
            .collect::<Vec<_>>(),
        [&RevocationKind::UserTokensBefore {
            user: ann,
            before: NOW + 1
        }]
    );
    let mut sessions: Vec<_> = log
        .iter()
        .filter_map(|kind| match kind {
            RevocationKind::Session(id) => Some(id.0.as_str()),
            _ => None,
        })
        .collect();
    sessions.sort_unstable();
    assert_eq!(sessions, ["a1", "a3"]);

    let all = store
        .revoke_user_sessions(bob, None, NOW + 2, LOG_UNTIL, &[])
        .await
        .unwrap();
    assert_eq!(all, [sid("b1")], "without a session to keep, all go");
    assert!(active_ids(store, bob, NOW).await.is_empty());
    assert_eq!(state(store, 4).await, RefreshState::Revoked);
}

/// The log is read in order from a position, and expired entries are not returned.
pub async fn revocation_log_order_and_expiry(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let ann = user(store, "ann").await;
    for (id, n) in [("x", 1), ("y", 2), ("z", 3)] {
        login(store, ann, id, n).await;
    }
    assert!(
        store
            .revocations_page(0, NOW, usize::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .revoke_sessions(&[sid("x")], NOW, NOW + 10, &[])
        .await
        .unwrap();
    store
        .revoke_sessions(&[sid("y")], NOW, NOW + 1_000, &[])
        .await
        .unwrap();
    store
        .set_user_active(ann, false, NOW + 500, &[])
        .await
        .unwrap();
    let all = store.revocations_page(0, NOW, usize::MAX).await.unwrap();
    let summary: Vec<_> = all.iter().map(|r| (r.kind.clone(), r.expires_at)).collect();
    assert_eq!(
        summary,
        [
            (RevocationKind::Session(sid("x")), NOW + 10),
            (RevocationKind::Session(sid("y")), NOW + 1_000),
            (RevocationKind::UserDisabled(ann), NOW + 500),
        ]
    );
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "ids increase");
    let after_first = store
        .revocations_page(all[0].id, NOW, usize::MAX)
        .await
        .unwrap();
    assert_eq!(after_first, all[1..]);
    // Pages are the same entries, cut to size.
    assert_eq!(store.revocations_page(0, NOW, 2).await.unwrap(), all[..2]);
    assert_eq!(
        store.revocations_page(all[1].id, NOW, 2).await.unwrap(),
        all[2..]
    );
    assert!(store.revocations_page(0, NOW, 0).await.unwrap().is_empty());
    assert!(
        store
            .revocations_page(all[2].id, NOW, usize::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    let later: Vec<Revocation> = store
        .revocations_page(0, NOW + 10, usize::MAX)
        .await
        .unwrap();
    assert_eq!(
        later,
        all[1..],
        "the entry expiring at NOW + 10 is gone then"
    );
    store
        .revoke_sessions(&[sid("z")], NOW, NOW + 1_000, &[])
        .await
        .unwrap();
    let newest = store
        .revocations_page(all[2].id, NOW, usize::MAX)
        .await
        .unwrap();
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].kind, RevocationKind::Session(sid("z")));
    assert!(newest[0].id > all[2].id);
}

/// A sweep deletes exactly what expired, counts it, and a second sweep finds nothing.
pub async fn flush_expired_removes_only_what_expired(store: Arc<dyn Store>) {
    const SWEEP: i64 = NOW + 3_600;
    let store = store.as_ref();
    let ann = user(store, "ann").await;
    let with_token = async |id: &str, session_ends: i64, n: u8, token_ends: i64| {
        let first = RefreshRecord {
            expires_at: token_ends,
            ..record(n, id)
        };
        store
            .create_session(&session(id, ann, NOW, session_ends), Some(&first), &[])
            .await
            .unwrap();
    };
    with_token("live", NOW + 10_000, 1, SWEEP + 1).await;
    with_token("stale-token", NOW + 10_000, 5, SWEEP).await;
    // Its token outlives it, which cannot happen through the domain; it goes with the session.
    with_token("ended", NOW + 10, 2, SWEEP + 1).await;
    with_token("revoked-spent", NOW + 10_000, 3, NOW + 100).await;
    with_token("revoked-pending", NOW + 10_000, 4, NOW + 7_200).await;
    store
        .set_user_active(ann, true, NOW + 5, &[])
        .await
        .unwrap();
    store
        .revoke_sessions(
            &[sid("revoked-spent"), sid("revoked-pending")],
            NOW,
            NOW + 10_000,
            &[],
        )
        .await
        .unwrap();
    // Each rotation sets the expiry of the key it retires: k1 leaves at SWEEP, k2 one second later.
    store
        .rotate_in(&key("k1", NOW), &private("k1"), 0, &[])
        .await
        .unwrap();
    store
        .rotate_in(&key("k2", NOW + 1), &private("k2"), SWEEP, &[])
        .await
        .unwrap();
    store
        .rotate_in(&key("k3", NOW + 2), &private("k3"), SWEEP + 1, &[])
        .await
        .unwrap();

    let stats = store.flush_expired(SWEEP).await.unwrap();
    assert_eq!(
        stats.refresh_tokens, 3,
        "tokens 3 and 5 expired, token 2's session ended"
    );
    assert_eq!(stats.sessions, 2, "ended, and revoked-spent");
    assert_eq!(stats.revocations, 1);
    assert_eq!(stats.keys, 1, "k1");
    for (id, kept) in [
        ("live", true),
        ("stale-token", true),
        ("ended", false),
        ("revoked-spent", false),
        ("revoked-pending", true),
    ] {
        assert_eq!(
            store.session(&sid(id)).await.unwrap().is_some(),
            kept,
            "{id}"
        );
    }
    for (n, kept) in [(1, true), (2, false), (3, false), (4, true), (5, false)] {
        assert_eq!(token(store, n).await.is_some(), kept, "token {n}");
    }
    assert_eq!(
        log_kinds(store).await,
        [
            RevocationKind::Session(sid("revoked-spent")),
            RevocationKind::Session(sid("revoked-pending"))
        ]
    );
    let kids: Vec<_> = store
        .keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["k2", "k3"]);
    assert_eq!(
        store.flush_expired(SWEEP).await.unwrap(),
        Default::default(),
        "nothing left to flush"
    );
}

fn key(kid: &str, created_at: i64) -> KeyInfo {
    KeyInfo {
        kid: kid.into(),
        alg: "ES256".into(),
        created_at,
        retired_at: None,
        expires_at: None,
    }
}

fn private(kid: &str) -> PrivateJwk {
    PrivateJwk::new(format!(r#"{{"kty":"EC","kid":"{kid}"}}"#))
}

/// A new key retires every current one, which then expires at the given time; older retirements
/// stay as they were; keys list oldest first.
pub async fn keys_rotate_in_retires_the_previous(store: Arc<dyn Store>) {
    assert!(store.keys().await.unwrap().is_empty());
    store
        .rotate_in(&key("k1", NOW), &private("k1"), NOW + 50, &[])
        .await
        .unwrap();
    assert_eq!(store.keys().await.unwrap(), [key("k1", NOW)]);
    store
        .rotate_in(&key("k2", NOW + 10), &private("k2"), NOW + 60, &[])
        .await
        .unwrap();
    let retired_k1 = KeyInfo {
        retired_at: Some(NOW + 10),
        expires_at: Some(NOW + 60),
        ..key("k1", NOW)
    };
    assert_eq!(
        store.keys().await.unwrap(),
        [retired_k1.clone(), key("k2", NOW + 10)]
    );

    // The private half is read on its own, by kid.
    assert_eq!(store.private_key("k1").await.unwrap(), Some(private("k1")));
    assert_eq!(store.private_key("nope").await.unwrap(), None);

    // A failed rotation (duplicate kid) changes nothing: k2 is still the signing key.
    assert!(matches!(
        store
            .rotate_in(&key("k2", NOW + 20), &private("k2"), NOW + 70, &[])
            .await,
        Err(StoreError::Conflict(Conflict::KeyId))
    ));
    assert_eq!(
        store.keys().await.unwrap(),
        [retired_k1.clone(), key("k2", NOW + 10)]
    );

    // Two keys made in the same second list by kid.
    store
        .rotate_in(&key("k3", NOW + 20), &private("k3"), NOW + 80, &[])
        .await
        .unwrap();
    store
        .rotate_in(&key("j3", NOW + 20), &private("j3"), NOW + 90, &[])
        .await
        .unwrap();
    let keys = store.keys().await.unwrap();
    let summary: Vec<_> = keys
        .iter()
        .map(|k| (k.kid.as_str(), k.retired_at, k.expires_at))
        .collect();
    assert_eq!(
        summary,
        [
            ("k1", Some(NOW + 10), Some(NOW + 60)),
            ("k2", Some(NOW + 20), Some(NOW + 80)),
            ("j3", None, None),
            ("k3", Some(NOW + 20), Some(NOW + 90)),
        ]
    );
    store.ping().await.unwrap();
}

fn client(id: &str, name: &str) -> Client {
    Client {
        id: id.into(),
        name: name.into(),
        secret_hash: [id.len() as u8; 32],
        scopes: vec!["read".into(), "write".into()],
        grants: vec!["client_credentials".into()],
        created_at: NOW,
    }
}

/// Clients: unique names, lookups by id and name, listing by name, a new secret, and deletion
/// logged for every instance; a single access token can be revoked by its id.
pub async fn clients_register_rotate_and_delete(store: Arc<dyn Store>) {
    store
        .create_client(&client("id-b", "billing"), &[])
        .await
        .unwrap();
    store
        .create_client(&client("id-a", "zebra"), &[])
        .await
        .unwrap();
    assert!(matches!(
        store.create_client(&client("id-c", "billing"), &[]).await,
        Err(StoreError::Conflict(Conflict::ClientName))
    ));
    assert_eq!(
        store.client("id-b").await.unwrap(),
        Some(client("id-b", "billing"))
    );
    assert_eq!(
        store.client_by_name("zebra").await.unwrap().map(|c| c.id),
        Some("id-a".into())
    );
    assert_eq!(store.client("nope").await.unwrap(), None);
    let names: Vec<String> = store
        .clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["billing", "zebra"]);
    assert!(
        store
            .set_client_secret("id-b", &[9; 32], &[])
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_client_secret("nope", &[9; 32], &[])
            .await
            .unwrap()
    );
    assert_eq!(
        store.client("id-b").await.unwrap().unwrap().secret_hash,
        [9; 32]
    );
    assert!(store.delete_client("id-b", NOW + 100, &[]).await.unwrap());
    assert!(!store.delete_client("id-b", NOW + 100, &[]).await.unwrap());
    assert_eq!(store.client("id-b").await.unwrap(), None);
    store.revoke_access_token("jti-1", NOW + 50).await.unwrap();
    let kinds: Vec<RevocationKind> = store
        .revocations_page(0, NOW, usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            RevocationKind::ClientDeleted("id-b".into()),
            RevocationKind::Token("jti-1".into())
        ]
    );
}

/// Instantiates every conformance case as a multi-threaded `#[tokio::test]` for one backend.
///
/// `$fresh` is an async expression evaluating to `(guard, Arc<dyn Store>)`: a fresh, empty store
/// and whatever must outlive the case (a temporary directory, a database to drop). The calling
/// crate needs `tokio` with the `macros` and `rt-multi-thread` features.
///
/// ```no_run
/// use std::sync::Arc;
///
/// use tessera_auth::store::Store;
/// use tessera_store::SqliteStore;
///
/// async fn fresh() -> (tempfile::TempDir, Arc<dyn Store>) {
///     let dir = tempfile::tempdir().unwrap();
///     let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
///     (dir, Arc::new(store))
/// }
///
/// tessera_store::conformance_tests!(fresh());
/// # fn main() {}
/// ```
///
/// A backend whose server may be absent writes `conformance_tests!(optional fresh())` with a
/// `fresh` that returns `Option<(guard, store)>`: `None` skips the case (the fixture prints why,
/// and under `CI=true` fails instead; see [`crate::testing`]).
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:expr) => {
        $crate::conformance_tests!(@each [required] $fresh);
    };
    (optional $fresh:expr) => {
        $crate::conformance_tests!(@each [optional] $fresh);
    };
    (@each [$mode:ident] $fresh:expr) => {
        $crate::conformance_tests!(@cases [$mode] $fresh;
            users_get_ids_in_order_and_unique_names,
            roles_claims_and_pages,
            imported_users_keep_their_ids,
            audit_events_commit_with_their_change,
            user_status_changes_are_logged,
            sessions_list_and_revoke,
            rotation_happy_path,
            rotating_a_rotated_token_is_refused,
            revoked_or_ended_session_blocks_rotation,
            concurrent_rotation_has_one_winner,
            revoke_user_sessions_keeps_one,
            revocation_log_order_and_expiry,
            flush_expired_removes_only_what_expired,
            keys_rotate_in_retires_the_previous,
            clients_register_rotate_and_delete,
        );
    };
    (@cases [required] $fresh:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let (_guard, store) = $fresh.await;
                $crate::conformance::$case(store).await;
            }
        )+
    };
    (@cases [optional] $fresh:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                // `None`: the backend's service is unreachable and the fixture said so.
                let Some((_guard, store)) = $fresh.await else {
                    return;
                };
                $crate::conformance::$case(store).await;
            }
        )+
    };
}

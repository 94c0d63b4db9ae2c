//! The conformance suite on SQLite (a file, and in memory), and what only SQLite has: a file on
//! disk, its mode, reopening, and two processes sharing it.

use crate::{NOW, ann, record, session};
use std::path::Path;
use std::sync::Arc;

use tempfile::TempDir;
use tessera_auth::ids::{SessionId, UserId};
use tessera_auth::store::{
    KeyInfo, KeyStore as _, PrivateJwk, RefreshState, RevocationKind, RotateOutcome,
    SessionStore as _, Store, StoreError, UserStore as _,
};
use tessera_store::{SqliteOptions, SqliteStore};

/// A fresh database file in a temporary directory removed after the case.
async fn fresh_file() -> (TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("tessera.db"))
        .await
        .unwrap();
    (dir, Arc::new(store))
}

async fn fresh_memory() -> ((), Arc<dyn Store>) {
    ((), Arc::new(SqliteStore::in_memory().await.unwrap()))
}

mod file {
    tessera_store::conformance_tests!(super::fresh_file());
}

/// In memory the pool has a single connection, so this also proves no method waits for a second
/// connection while holding one (it would time out).
mod memory {
    tessera_store::conformance_tests!(super::fresh_memory());
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/tessera.db");
    let key = KeyInfo {
        kid: "k1".into(),
        alg: "ES256".into(),
        created_at: NOW,
        retired_at: None,
        expires_at: None,
    };
    {
        // Dropped without `close`: every call committed before it returned, so nothing may be lost.
        let store = SqliteStore::open(&path).await.unwrap();
        let ann = store.create_user(&ann(), NOW, &[]).await.unwrap().id;
        store
            .create_session(&session("s", ann), Some(&record(1, "s")), &[])
            .await
            .unwrap();
        store
            .rotate_refresh(&[1; 32], &record(2, "s"), NOW + 1, &[])
            .await
            .unwrap();
        store
            .set_user_active(ann, false, NOW + 100, &[])
            .await
            .unwrap();
        store
            .rotate_in(&key, &PrivateJwk::new("{}"), 0, &[])
            .await
            .unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let stored = store.user_by_name("ann").await.unwrap().unwrap();
    assert_eq!((stored.id, stored.is_active), (UserId(1), false));
    assert_eq!(
        store.refresh_token(&[1; 32]).await.unwrap().unwrap().state,
        RefreshState::Rotated { at: NOW + 1 }
    );
    assert_eq!(
        store.refresh_token(&[2; 32]).await.unwrap().unwrap().state,
        RefreshState::Active
    );
    assert_eq!(
        store
            .revocations_page(0, NOW, usize::MAX)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.kind)
            .collect::<Vec<_>>(),
        [RevocationKind::UserDisabled(UserId(1))]
    );
    assert_eq!(store.keys().await.unwrap(), [key]);
    assert_eq!(
        store.private_key("k1").await.unwrap(),
        Some(PrivateJwk::new("{}"))
    );
    store.close().await;

    let url = format!("sqlite://{}", path.display());
    let again = SqliteStore::open_url(&url).await.unwrap();
    assert_eq!(again.list_users().await.unwrap().len(), 1);
    assert!(matches!(
        again.create_user(&ann(), NOW, &[]).await,
        Err(StoreError::Conflict(_))
    ));
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_its_journal_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.db");
    let store = SqliteStore::open(&fresh).await.unwrap();
    store.create_user(&ann(), NOW, &[]).await.unwrap();
    assert_eq!(mode(&fresh), 0o600);
    let wal = dir.path().join("fresh.db-wal");
    assert!(wal.exists(), "WAL journaling is on");
    assert_eq!(mode(&wal), 0o600);

    // A file someone created world-readable is narrowed on open.
    let loose = dir.path().join("loose.db");
    std::fs::write(&loose, b"").unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    SqliteStore::open(&loose).await.unwrap();
    assert_eq!(mode(&loose), 0o600);
}

/// The server and the CLI each open the file with their own pool: rotation stays exclusive across
/// them, and a write by one is visible to the other at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_share_state_and_race_safely() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tessera.db");
    let options = SqliteOptions {
        max_connections: 4,
        ..SqliteOptions::default()
    };
    let server = SqliteStore::open_with(&path, &options).await.unwrap();
    let cli = SqliteStore::open_with(&path, &options).await.unwrap();
    let ann = cli.create_user(&ann(), NOW, &[]).await.unwrap().id;
    assert!(server.user_by_id(ann).await.unwrap().is_some());
    server
        .create_session(&session("s", ann), Some(&record(1, "s")), &[])
        .await
        .unwrap();

    let start = Arc::new(tokio::sync::Barrier::new(16));
    let mut tasks = Vec::new();
    for n in 0..16u8 {
        let store = if n % 2 == 0 {
            server.clone()
        } else {
            cli.clone()
        };
        let start = Arc::clone(&start);
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            store
                .rotate_refresh(&[1; 32], &record(100 + n, "s"), NOW + 1, &[])
                .await
        }));
    }
    let mut winners = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() == RotateOutcome::Rotated {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);

    let revoked = cli
        .revoke_sessions(&[SessionId("s".into())], NOW + 2, NOW + 100, &[])
        .await
        .unwrap();
    assert_eq!(revoked.len(), 1);
    assert!(
        server
            .active_sessions(ann, NOW + 2)
            .await
            .unwrap()
            .is_empty()
    );
}

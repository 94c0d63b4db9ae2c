use std::sync::Arc;

use tessera_auth::ids::UserId;
use tessera_auth::store::{Store, UserStore as _};
use tessera_store::SqliteStore;

/// A fresh database in a directory that lives as long as the test process.
async fn fresh() -> Arc<dyn Store> {
    let dir = tempfile::tempdir().unwrap().keep();
    Arc::new(SqliteStore::open(&dir.join("tessera.db")).await.unwrap())
}

tessera_store::conformance_tests!(fresh());

#[tokio::test]
async fn data_survives_reopening_and_the_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/tessera.db");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        let ann = tessera_auth::store::NewUser {
            username: "ann".into(),
            password_hash: "hash".into(),
            is_active: true,
            ..Default::default()
        };
        store.create_user(&ann, 1).await.unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        store.user_by_id(UserId(1)).await.unwrap().unwrap().username,
        "ann"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let url = format!("sqlite://{}", path.display());
    let again = SqliteStore::open_url(&url).await.unwrap();
    assert_eq!(again.list_users().await.unwrap().len(), 1);
}

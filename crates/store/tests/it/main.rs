//! tessera-store's integration tests: the storage conformance suite on every backend, plus
//! backend-specific checks. One binary, so one link.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    reason = "tests"
)]

mod memory;
mod postgres;
mod redis;
mod sqlite;

use std::time::Duration;

use tessera_auth::ids::{SessionId, UserId};
use tessera_auth::store::{NewUser, RefreshRecord, RevocationBus, Session, StoreError};

/// The conformance suite's "now".
pub(crate) const NOW: i64 = tessera_store::conformance::NOW;

/// A user to create.
pub(crate) fn ann() -> NewUser {
    NewUser {
        username: "ann".into(),
        password_hash: "hash".into(),
        is_active: true,
        ..NewUser::default()
    }
}

/// Refresh token `n` (its hash is `[n; 32]`) of session `sid`.
pub(crate) fn record(n: u8, sid: &str) -> RefreshRecord {
    RefreshRecord {
        token_hash: [n; 32],
        jti: format!("jti-{n}"),
        session_id: SessionId(sid.into()),
        issued_at: NOW,
        expires_at: NOW + 3_600,
    }
}

/// Session `id` of `user`, made now and lasting an hour.
pub(crate) fn session(id: &str, user: UserId) -> Session {
    Session {
        id: SessionId(id.into()),
        user_id: user,
        created_at: NOW,
        last_used_at: NOW,
        expires_at: NOW + 3_600,
        user_agent: None,
        ip: None,
        revoked_at: None,
    }
}

/// A revocation bus listening in the background; what it hears arrives on `heard`.
pub(crate) struct Listening {
    pub(crate) task: tokio::task::JoinHandle<StoreError>,
    pub(crate) heard: tokio::sync::mpsc::UnboundedReceiver<()>,
}

impl Listening {
    pub(crate) fn start(bus: impl RevocationBus + 'static) -> Listening {
        let (heard_tx, heard) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            bus.listen(&move || {
                let _ = heard_tx.send(());
            })
            .await
        });
        Listening { task, heard }
    }

    /// Waits (up to 5 s) for the next call of `heard`: the subscription, then each announcement.
    pub(crate) async fn next(&mut self) {
        tokio::time::timeout(Duration::from_secs(5), self.heard.recv())
            .await
            .expect("heard within 5 s")
            .expect("listener alive");
    }
}

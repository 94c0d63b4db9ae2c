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

use tessera_auth::store::{RevocationBus, StoreError};

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

//! Shutdown lets the requests in flight finish, within `shutdown_grace`, on a real socket. The
//! grace is timed by a manual clock: no test waits for real time.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tessera_auth::ManualClock;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};

/// A server whose `/slow` route signals `started` and answers `done` once `release` is notified.
struct Slow {
    addr: std::net::SocketAddr,
    started: Arc<Notify>,
    release: Arc<Notify>,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn slow_server(clock: &ManualClock) -> Slow {
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let (in_route, out_route) = (Arc::clone(&started), Arc::clone(&release));
    let app = Router::new().route(
        "/slow",
        get(move || {
            let (started, release) = (Arc::clone(&in_route), Arc::clone(&out_route));
            async move {
                started.notify_one();
                release.notified().await;
                "done"
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(tessera_server::serve_until(
        listener,
        app,
        Arc::new(clock.clone()),
        Duration::from_secs(10),
        async move {
            let _ = stopped.await;
        },
    ));
    Slow {
        addr,
        started,
        release,
        stop: Some(stop),
        server,
    }
}

impl Slow {
    /// Starts a request to `/slow`, waits until the handler runs, then asks the server to stop and
    /// waits until it times its grace (so moving the clock cannot race it).
    async fn stop_with_a_request_in_flight(
        &mut self,
        clock: &ManualClock,
    ) -> tokio::task::JoinHandle<String> {
        let client = get_slow(self.addr);
        self.started.notified().await;
        self.stop.take().unwrap().send(()).unwrap();
        while clock.sleepers() == 0 {
            tokio::task::yield_now().await;
        }
        client
    }
}

fn get_slow(addr: std::net::SocketAddr) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response).await;
        response
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_requests_in_flight_finish() {
    let clock = ManualClock::at(1_000_000);
    let mut slow = slow_server(&clock).await;
    let client = slow.stop_with_a_request_in_flight(&clock).await;
    clock.advance(Duration::from_secs(9));
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(
        !slow.server.is_finished(),
        "the server waits for the request in flight"
    );
    slow.release.notify_one();
    let response = client.await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("done"), "{response}");
    slow.server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drops_requests_still_running_after_the_grace() {
    let clock = ManualClock::at(1_000_000);
    let mut slow = slow_server(&clock).await;
    let client = slow.stop_with_a_request_in_flight(&clock).await;
    clock.advance(Duration::from_secs(10));
    // The server returns although the request never finishes (the process then exits, and the
    // runtime drops whatever is still running).
    slow.server.await.unwrap().unwrap();
    assert!(!client.is_finished(), "the request was still in flight");
    client.abort();
}

//! Several `tessera serve` processes sharing one PostgreSQL database (and Redis), as behind a load
//! balancer: what one instance does, every other enforces. Each test has a database of its own and
//! a Redis prefix of its own; the fault tests cut the connections through a proxy of their own, so
//! they never disturb the shared servers other tests are using.
//!
//! The broadcast tests set `sync_interval = 60s`: an effect seen within a second or two on another
//! instance can only have come through the broadcast, not the poll.
#![allow(
    clippy::disallowed_methods,
    reason = "these tests drive separate `tessera serve` processes over real sockets and real databases: their time is the real one"
)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tessera_store::testing::{TestDatabase, redis_url, unique_name};
use tokio::runtime::Runtime;

use crate::support::{Server, add_user_at, http, kid_of, within};
use crate::{stdout, tessera};

const MASTER_KEY: &str = "7f3c0a9e51b2d4c6e8f0a1b3c5d7e9f1023456789abcdef0123456789abcdef0";

/// One PostgreSQL database (and maybe a Redis prefix) for the instances of one test.
struct Cluster {
    database: TestDatabase,
    redis: Option<String>,
    prefix: String,
    runtime: Runtime,
}

impl Cluster {
    /// A migrated database with user `ann` (password `pw`), or `None` if a service is missing
    /// outside CI (printed).
    fn new(with_redis: bool) -> Option<Cluster> {
        let runtime = Runtime::new().unwrap();
        let database = runtime.block_on(TestDatabase::create())?;
        let redis = if with_redis {
            Some(runtime.block_on(redis_url())?)
        } else {
            None
        };
        let cluster = Cluster {
            database,
            redis,
            prefix: format!("{}:", unique_name("tessera_t")),
            runtime,
        };
        stdout(&tessera(
            &["migrate", "--database-url", &cluster.database.url],
            "",
        ));
        add_user_at(&["--database-url", &cluster.database.url], "ann", "pw\n");
        Some(cluster)
    }

    fn env(&self, sync_interval: &str) -> Vec<(&'static str, String)> {
        vec![
            ("TESSERA_REDIS_PREFIX", self.prefix.clone()),
            ("TESSERA_MASTER_KEY", MASTER_KEY.to_owned()),
            ("TESSERA_SYNC_INTERVAL", sync_interval.to_owned()),
            ("TESSERA_DATABASE_TIMEOUT", "1s".to_owned()),
            // Tests run side by side on one PostgreSQL (100 connections by default).
            ("TESSERA_DATABASE_MAX_CONNECTIONS", "4".to_owned()),
            ("TESSERA_REDIS_TIMEOUT", "500ms".to_owned()),
        ]
    }

    /// An instance on `database_url` (the test database, or a proxy to it) and `redis_url`.
    fn instance_on(
        &self,
        database_url: &str,
        redis_url: Option<&str>,
        sync_interval: &str,
    ) -> Server {
        let mut args = vec!["--database-url", database_url];
        if let Some(redis) = redis_url {
            args.extend(["--redis-url", redis]);
        }
        Server::start(&args, &self.env(sync_interval))
    }

    fn instance(&self, sync_interval: &str) -> Server {
        self.instance_on(&self.database.url, self.redis.as_deref(), sync_interval)
    }

    /// Runs the CLI against this cluster's database and Redis.
    fn cli(&self, args: &[&str]) -> String {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--database-url", &self.database.url]);
        if let Some(redis) = &self.redis {
            all.extend(["--redis-url", redis]);
        }
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(&all)
            .envs(self.env("1s"))
            .output()
            .unwrap();
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        stdout(&output)
    }
}

fn login(server: &Server) -> (String, String) {
    let (status, pair) = http(
        &server.addr,
        "POST",
        "/api/token/",
        None,
        Some(&json!({"username": "ann", "password": "pw"})),
    );
    assert_eq!(status, 200, "{pair}");
    (
        pair["access"].as_str().unwrap().to_owned(),
        pair["refresh"].as_str().unwrap().to_owned(),
    )
}

fn refresh(server: &Server, token: &str) -> (u16, Value) {
    http(
        &server.addr,
        "POST",
        "/api/token/refresh/",
        None,
        Some(&json!({ "refresh": token })),
    )
}

fn verify(server: &Server, token: &str) -> u16 {
    http(
        &server.addr,
        "POST",
        "/api/token/verify/",
        None,
        Some(&json!({ "token": token })),
    )
    .0
}

fn me(server: &Server, access: &str) -> u16 {
    http(&server.addr, "GET", "/api/me/", Some(access), None).0
}

#[test]
fn login_on_a_refresh_on_b_logout_on_c_and_keys_rotated_anywhere() {
    let Some(cluster) = Cluster::new(true) else {
        return;
    };
    let [a, b, c] = [(); 3].map(|()| cluster.instance("60s"));

    let (first_access, first_refresh) = login(&a);
    assert_eq!(me(&b, &first_access), 200, "B verifies A's token");
    let (status, pair) = refresh(&b, &first_refresh);
    assert_eq!(status, 200, "{pair}");
    let access = pair["access"].as_str().unwrap().to_owned();
    let refresh_token = pair["refresh"].as_str().unwrap().to_owned();
    assert_eq!(me(&a, &access), 200);
    assert_eq!(me(&c, &access), 200);

    let (status, body) = http(&c.addr, "POST", "/api/logout/", Some(&access), None);
    assert!(status == 200 || status == 204, "{status} {body}");
    assert_eq!(me(&c, &access), 401, "C enforces its own logout at once");
    for (name, server) in [("A", &a), ("B", &b)] {
        let took = within(Duration::from_secs(2), name, || {
            me(server, &access) == 401 && me(server, &first_access) == 401
        });
        eprintln!("logout on C enforced on {name} after {took:?}");
    }
    assert_eq!(refresh(&a, &refresh_token).0, 401);

    // A rotation by the CLI reaches every instance through the broadcast.
    let old_kid = kid_of(&login(&a).0);
    let rotated = cluster.cli(&["keys", "rotate"]);
    let new_kid = rotated.split_whitespace().nth(3).unwrap().to_owned();
    assert_ne!(new_kid, old_kid, "{rotated}");
    within(Duration::from_secs(3), "A signs with the new key", || {
        kid_of(&login(&a).0) == new_kid
    });
    let (signed_by_new, _) = login(&a);
    assert_eq!(verify(&b, &signed_by_new), 200, "B verifies the new key");
    assert_eq!(me(&c, &signed_by_new), 200, "C verifies the new key");
    let (_, jwks) = http(&c.addr, "GET", "/.well-known/jwks.json", None, None);
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&new_kid.as_str()) && kids.contains(&old_kid.as_str()),
        "{kids:?}"
    );

    // Keys are sealed at rest under the master key.
    let listing = cluster.cli(&["keys", "list"]);
    assert!(listing.contains(&new_kid), "{listing}");
    let sealed = cluster.runtime.block_on(async {
        let store = tessera_store::PostgresStore::connect(
            &cluster.database.url,
            &tessera_store::PostgresOptions::default(),
        )
        .await
        .unwrap();
        use tessera_auth::store::KeyStore as _;
        let mut private = Vec::new();
        for key in store.keys().await.unwrap() {
            private.push(store.private_key(&key.kid).await.unwrap().unwrap());
        }
        private
    });
    assert!(sealed.iter().all(|k| k.expose().starts_with("sealed:v1:")));

    // Throttling is shared: failures spread over three instances add up.
    for (i, server) in [&a, &b, &c, &a, &b].into_iter().enumerate() {
        let (status, _) = http(
            &server.addr,
            "POST",
            "/api/token/",
            None,
            Some(&json!({"username": "ann", "password": format!("wrong{i}")})),
        );
        assert_eq!(status, 401);
    }
    let (status, body) = http(
        &c.addr,
        "POST",
        "/api/token/",
        None,
        Some(&json!({"username": "ann", "password": "pw"})),
    );
    assert_eq!(status, 429, "{body}");
}

/// The same refresh token sent to three instances at once succeeds on exactly one; the other two
/// are replays, and reuse detection revokes the session everywhere. Without Redis: PostgreSQL's
/// notifications carry the revocation.
#[test]
fn concurrent_refresh_across_instances_has_one_winner_and_replays_revoke() {
    let Some(cluster) = Cluster::new(false) else {
        return;
    };
    let servers = Arc::new([(); 3].map(|()| cluster.instance("60s")));
    for round in 0..5 {
        let (access, refresh_token) = login(&servers[0]);
        let barrier = Arc::new(Barrier::new(3));
        let racers: Vec<_> = (0..3)
            .map(|i| {
                let (servers, barrier, token) = (
                    Arc::clone(&servers),
                    Arc::clone(&barrier),
                    refresh_token.clone(),
                );
                std::thread::spawn(move || {
                    barrier.wait();
                    refresh(&servers[i], &token)
                })
            })
            .collect();
        let outcomes: Vec<(u16, Value)> = racers.into_iter().map(|r| r.join().unwrap()).collect();
        let winners: Vec<&Value> = outcomes
            .iter()
            .filter(|(status, _)| *status == 200)
            .map(|(_, body)| body)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        assert!(
            outcomes.iter().all(|(s, _)| *s == 200 || *s == 401),
            "{outcomes:?}"
        );
        // The losers presented a rotated token: the session is revoked on every instance, the
        // winner's new tokens included.
        let new_access = winners[0]["access"].as_str().unwrap().to_owned();
        let new_refresh = winners[0]["refresh"].as_str().unwrap().to_owned();
        for server in servers.iter() {
            within(Duration::from_secs(2), "reuse revokes everywhere", || {
                me(server, &new_access) == 401 && me(server, &access) == 401
            });
        }
        assert_eq!(refresh(&servers[round % 3], &new_refresh).0, 401);
    }

    // A single replay, seen by a different instance than the rotation.
    let (_, original) = login(&servers[0]);
    let (status, pair) = refresh(&servers[1], &original);
    assert_eq!(status, 200);
    let current = pair["refresh"].as_str().unwrap().to_owned();
    let access = pair["access"].as_str().unwrap().to_owned();
    assert_eq!(refresh(&servers[2], &original).0, 401, "replay on C");
    assert_eq!(
        refresh(&servers[0], &current).0,
        401,
        "session revoked for A"
    );
    within(Duration::from_secs(2), "B drops the access token", || {
        me(&servers[1], &access) == 401
    });
}

/// A TCP proxy that can cut every connection through it and refuse new ones, standing for a
/// database or Redis that goes away and comes back.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    fn start(runtime: &Runtime, target: String) -> Proxy {
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let (accept_up, accept_connections) = (Arc::clone(&up), Arc::clone(&connections));
        runtime.spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if !accept_up.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                accept_connections.lock().unwrap().push(task.abort_handle());
            }
        });
        Proxy {
            addr,
            up,
            connections,
        }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// `host:port` of a `scheme://[user@]host:port/...` URL.
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap().to_owned()
}

/// Verifies `token` on each server in a loop until stopped (a few hundred requests a second each:
/// steady traffic through the fault, not a saturation test that would starve PostgreSQL of CPU on
/// a small machine), keeping the answers that were not 200.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<(usize, Vec<String>)>>,
}

impl Load {
    fn start(addrs: Vec<String>, token: String) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = addrs
            .into_iter()
            .map(|addr| {
                let (stop, token) = (Arc::clone(&stop), token.clone());
                std::thread::spawn(move || {
                    let (mut count, mut wrong) = (0, Vec::new());
                    while !stop.load(Ordering::SeqCst) {
                        let (status, body) = http(
                            &addr,
                            "POST",
                            "/api/token/verify/",
                            None,
                            Some(&json!({ "token": token })),
                        );
                        count += 1;
                        if status != 200 {
                            wrong.push(format!("{status} {body}"));
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    (count, wrong)
                })
            })
            .collect();
        Load { stop, threads }
    }

    /// Stops; returns how many verifications ran and the ones that failed.
    fn finish(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        let mut total = 0;
        let mut wrong = Vec::new();
        for thread in self.threads {
            let (count, failures) = thread.join().unwrap();
            total += count;
            wrong.extend(failures);
        }
        (total, wrong)
    }
}

/// PostgreSQL goes away under load and comes back: access tokens keep verifying throughout,
/// login/refresh answer 503 quickly with a clear body, `/readyz` names the database, the
/// instances reconnect by themselves, and a revocation made before the fault still holds after.
#[test]
fn database_outage_under_load() {
    let Some(cluster) = Cluster::new(false) else {
        return;
    };
    let proxy = Proxy::start(&cluster.runtime, host_port(&cluster.database.url));
    let via_proxy = cluster
        .database
        .url
        .replace(&host_port(&cluster.database.url), &proxy.addr.to_string());
    let a = cluster.instance_on(&via_proxy, None, "1s");
    let b = cluster.instance_on(&via_proxy, None, "1s");

    let (revoked_access, revoked_refresh) = login(&a);
    assert_eq!(
        http(&b.addr, "POST", "/api/logout/", Some(&revoked_access), None).0,
        200
    );
    let (access, refresh_token) = login(&a);
    within(Duration::from_secs(3), "A applies B's logout", || {
        me(&a, &revoked_access) == 401
    });
    let load = Load::start(vec![a.addr.clone(), b.addr.clone()], access.clone());

    proxy.cut();
    std::thread::sleep(Duration::from_millis(300));
    for server in [&a, &b] {
        let started = Instant::now();
        let (status, body) = http(
            &server.addr,
            "POST",
            "/api/token/",
            None,
            Some(&json!({"username": "ann", "password": "pw"})),
        );
        assert_eq!(status, 503, "{body}");
        assert_eq!(
            body["detail"], "Service temporarily unavailable, try again later.",
            "{body}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(refresh(server, &refresh_token).0, 503);
        let (status, ready) = http(&server.addr, "GET", "/readyz", None, None);
        assert_eq!(status, 503, "{ready}");
        assert!(
            ready["checks"]["database"]
                .as_str()
                .unwrap()
                .starts_with("down"),
            "{ready}"
        );
        assert_eq!(
            verify(server, &revoked_access),
            401,
            "revoked stays revoked"
        );
        assert_eq!(
            verify(server, &access),
            200,
            "verification needs no database"
        );
    }

    proxy.restore();
    for server in [&a, &b] {
        within(Duration::from_secs(10), "reconnected", || {
            http(&server.addr, "GET", "/readyz", None, None).0 == 200
        });
        login(server);
        assert_eq!(verify(server, &revoked_access), 401);
        assert_eq!(refresh(server, &revoked_refresh).0, 401);
    }
    let (total, wrong) = load.finish();
    assert!(total > 20, "the load ran ({total} verifications)");
    assert!(
        wrong.is_empty(),
        "{} of {total} failed: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(3)]
    );
    assert_eq!(
        refresh(&b, &refresh_token).0,
        200,
        "the session survived the outage"
    );
}

/// Redis goes away under load: revocations fall back to polling the database (shown in
/// `/readyz`), nothing is lost, and the broadcast comes back by itself.
#[test]
fn redis_outage_falls_back_to_polling() {
    let Some(cluster) = Cluster::new(true) else {
        return;
    };
    let redis = cluster.redis.clone().unwrap();
    let proxy = Proxy::start(&cluster.runtime, host_port(&redis));
    let via_proxy = format!("redis://{}", proxy.addr);
    let a = cluster.instance_on(&cluster.database.url, Some(&via_proxy), "1s");
    let b = cluster.instance_on(&cluster.database.url, Some(&via_proxy), "1s");
    let feed = |server: &Server| {
        let (_, ready) = http(&server.addr, "GET", "/readyz", None, None);
        (
            ready["status"].as_str().unwrap_or_default().to_owned(),
            ready["checks"]["revocation_feed"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    };
    for server in [&a, &b] {
        within(Duration::from_secs(5), "listening on Redis", || {
            feed(server) == ("ok".into(), "redis (listening)".into())
        });
    }
    let (access, _) = login(&a);
    let load = Load::start(vec![a.addr.clone(), b.addr.clone()], access);

    proxy.cut();
    for server in [&a, &b] {
        within(Duration::from_secs(10), "falls back to polling", || {
            let (status, feed) = feed(server);
            status == "degraded" && feed.starts_with("polling (redis down")
        });
    }
    // Logins still work (throttling counts locally) and revocations still spread, by polling.
    let (doomed, _) = login(&b);
    assert_eq!(
        http(&b.addr, "POST", "/api/logout/", Some(&doomed), None).0,
        200
    );
    let took = within(Duration::from_secs(4), "A polls B's logout", || {
        me(&a, &doomed) == 401
    });
    eprintln!("logout on B enforced on A by polling after {took:?}");

    proxy.restore();
    for server in [&a, &b] {
        within(Duration::from_secs(10), "back on Redis", || {
            feed(server) == ("ok".into(), "redis (listening)".into())
        });
    }
    let (total, wrong) = load.finish();
    assert!(total > 20, "the load ran ({total} verifications)");
    assert!(wrong.is_empty(), "{:?}", &wrong[..wrong.len().min(3)]);
}

/// `serve` migrates a fresh PostgreSQL database unless told not to; every other command refuses
/// an outdated schema with the command that fixes it.
#[test]
fn migrations_are_applied_by_migrate_or_serve_and_required_by_the_rest() {
    let runtime = Runtime::new().unwrap();
    let Some(database) = runtime.block_on(TestDatabase::create()) else {
        return;
    };
    let url = database.url.as_str();
    for args in [
        vec!["users", "list", "--database-url", url],
        vec![
            "serve",
            "--no-migrate",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            url,
        ],
    ] {
        let output = tessera(&args, "");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let message = crate::stderr(&output);
        assert!(
            message.contains("run `tessera migrate`"),
            "{args:?}: {message}"
        );
    }
    let server = Server::start(&["--database-url", url], &[]);
    add_user_at(&["--database-url", url], "ann", "pw\n");
    let (status, _) = http(
        &server.addr,
        "POST",
        "/api/token/",
        None,
        Some(&json!({"username": "ann", "password": "pw"})),
    );
    assert_eq!(status, 200);
    assert_eq!(
        stdout(&tessera(&["migrate", "--database-url", url], "")).trim(),
        "database schema is up to date"
    );
    let bad = tessera(
        &[
            "migrate",
            "--database-url",
            "postgres://postgres@127.0.0.1:1/x",
        ],
        "",
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        crate::stderr(&bad).contains("cannot connect to PostgreSQL"),
        "{}",
        crate::stderr(&bad)
    );
}

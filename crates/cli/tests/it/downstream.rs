//! `tessera serve` and a downstream service guarded by `tessera-guard` (its `downstream` example,
//! as a user would run it): tokens verified from the published keys, rotation seen without a
//! restart, and every kind of revocation refused downstream through the live feed, which resumes
//! after the server restarts and fails closed while it is away.
#![allow(
    clippy::disallowed_methods,
    reason = "these tests drive separate processes over real sockets: their time is the real one"
)]

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{
    Server, add_user_at, http, kid_of, server_logs, spawn_for_first_line, within,
};
use crate::{stdout, tessera};

const FEED_TOKEN: &str = "feed-token-for-the-downstream-tests-0123456789";

/// The `downstream` example, killed on drop.
struct Downstream {
    child: Child,
    addr: String,
}

impl Drop for Downstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where cargo put the example: `target/<profile>/examples/`, beside this test's `deps/`.
fn example_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join("examples").join("downstream");
    path.exists().then_some(path)
}

impl Downstream {
    /// Starts the example against `issuer`; `None` (after saying why) when it was not built, which
    /// under CI is a failure.
    fn start(issuer: &str, args: &[&str]) -> Option<Downstream> {
        let Some(binary) = example_binary() else {
            let why = "the downstream example is not built (cargo test --workspace builds it)";
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            eprintln!("skipped: {why}");
            return None;
        };
        let mut command = Command::new(binary);
        command
            .args([
                "--issuer",
                &format!("http://{issuer}"),
                "--listen",
                "127.0.0.1:0",
            ])
            .args(args)
            .env("DOWNSTREAM_LOG", "tessera_guard=debug")
            .stderr(server_logs());
        let (child, line) = spawn_for_first_line(command);
        let addr = line
            .trim()
            .strip_prefix("downstream listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Some(Downstream { child, addr })
    }

    fn whoami(&self, access: &str) -> (u16, Value) {
        http(&self.addr, "GET", "/whoami", Some(access), None)
    }
}

/// A data dir with `ann` (admin) and `bob`, and a server on it with the feed token set.
struct Setup {
    _dir: tempfile::TempDir,
    data: String,
    server: Server,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap().to_owned();
        add_user_at(&["--data-dir", &data, "--role", "admin"], "ann", "ann-pw\n");
        add_user_at(&["--data-dir", &data], "bob", "bob-pw\n");
        let server = Setup::serve(&data, "127.0.0.1:0");
        Setup {
            _dir: dir,
            data,
            server,
        }
    }

    fn serve(data: &str, listen: &str) -> Server {
        Server::start_on(
            listen,
            &["--data-dir", data],
            &[("TESSERA_REVOCATION_FEED_TOKEN", FEED_TOKEN.to_owned())],
        )
    }

    fn login(&self, user: &str) -> (String, String) {
        let (status, pair) = http(
            &self.server.addr,
            "POST",
            "/api/token/",
            None,
            Some(&json!({ "username": user, "password": format!("{user}-pw") })),
        );
        assert_eq!(status, 200, "{pair}");
        (
            pair["access"].as_str().unwrap().to_owned(),
            pair["refresh"].as_str().unwrap().to_owned(),
        )
    }

    fn post(&self, path: &str, access: &str, body: Value) -> (u16, Value) {
        http(&self.server.addr, "POST", path, Some(access), Some(&body))
    }

    fn cli(&self, args: &[&str]) -> String {
        let mut args = args.to_vec();
        args.extend(["--data-dir", &self.data]);
        stdout(&tessera(&args, ""))
    }
}

const REVOKED: &str = "Token is blacklisted";

/// Waits until `downstream` refuses `access` as revoked; returns how long that took.
fn refused_within(downstream: &Downstream, access: &str, limit: Duration, what: &str) -> Duration {
    within(limit, what, || {
        let (status, body) = downstream.whoami(access);
        status == 401 && body["messages"][0]["message"] == REVOKED
    })
}

#[test]
fn downstream_verifies_tesseras_tokens_guards_roles_and_sees_rotation() {
    let setup = Setup::new();
    let Some(downstream) = Downstream::start(&setup.server.addr, &[]) else {
        return;
    };
    let (ann, _) = setup.login("ann");
    let (bob, _) = setup.login("bob");
    assert_eq!(
        downstream.whoami(&ann),
        (
            200,
            json!({ "user_id": "1", "roles": ["admin"], "scope": null })
        )
    );
    assert_eq!(
        downstream.whoami(&bob),
        (200, json!({ "user_id": "2", "roles": [], "scope": null }))
    );
    assert_eq!(
        http(&downstream.addr, "GET", "/admin-only", Some(&ann), None).0,
        200
    );
    assert_eq!(
        http(&downstream.addr, "GET", "/admin-only", Some(&bob), None),
        (
            403,
            json!({ "detail": "You do not have permission to perform this action." })
        )
    );
    assert_eq!(
        http(&downstream.addr, "GET", "/whoami", None, None),
        (
            401,
            json!({ "detail": "Authentication credentials were not provided." })
        )
    );
    let (status, body) = downstream.whoami(&format!("{ann}x"));
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("token_not_valid"))
    );
    assert_eq!(
        http(&downstream.addr, "GET", "/healthz", None, None),
        (200, json!({ "status": "ok" }))
    );

    // A key rotated in at Tessera (from the CLI, while both run) verifies downstream within 10 s.
    let old_kid = kid_of(&ann);
    setup.cli(&["keys", "rotate"]);
    let rotated_at = Instant::now();
    let mut fresh = String::new();
    within(
        Duration::from_secs(5),
        "Tessera signs with the new key",
        || {
            fresh = setup.login("ann").0;
            kid_of(&fresh) != old_kid
        },
    );
    within(
        Duration::from_secs(10),
        "the new key verifies downstream",
        || downstream.whoami(&fresh).0 == 200,
    );
    assert!(rotated_at.elapsed() < Duration::from_secs(10));
    assert_eq!(downstream.whoami(&ann).0, 200, "the old key still verifies");
}

#[test]
fn every_kind_of_revocation_at_tessera_is_refused_downstream() {
    let setup = Setup::new();
    let Some(downstream) = Downstream::start(&setup.server.addr, &["--feed-token", FEED_TOKEN])
    else {
        return;
    };
    let limit = Duration::from_secs(2);

    // Logout ends its own session only.
    let (first, _) = setup.login("bob");
    let (second, _) = setup.login("bob");
    assert_eq!(downstream.whoami(&first).0, 200);
    assert_eq!(setup.post("/api/logout/", &first, json!({})).0, 200);
    let took = refused_within(&downstream, &first, limit, "logout");
    eprintln!("logout reached the downstream in {took:?}");
    assert_eq!(downstream.whoami(&second).0, 200);

    // Logout-all ends every session.
    let (third, _) = setup.login("bob");
    assert_eq!(setup.post("/api/logout-all/", &third, json!({})).0, 200);
    refused_within(&downstream, &second, limit, "logout-all (other session)");
    refused_within(&downstream, &third, limit, "logout-all (own session)");

    // Refresh-token reuse ends the session the stolen token belongs to.
    let (access, refresh) = setup.login("bob");
    let (status, rotated) = http(
        &setup.server.addr,
        "POST",
        "/api/token/refresh/",
        None,
        Some(&json!({ "refresh": refresh })),
    );
    assert_eq!(status, 200, "{rotated}");
    let rotated_access = rotated["access"].as_str().unwrap().to_owned();
    assert_eq!(downstream.whoami(&rotated_access).0, 200);
    let (status, _) = http(
        &setup.server.addr,
        "POST",
        "/api/token/refresh/",
        None,
        Some(&json!({ "refresh": refresh })),
    );
    assert_eq!(status, 401, "the reuse is detected");
    refused_within(&downstream, &rotated_access, limit, "reuse detection");
    refused_within(
        &downstream,
        &access,
        limit,
        "reuse detection (first access)",
    );

    // A password change ends the other sessions.
    let (keeper, _) = setup.login("bob");
    let (other, _) = setup.login("bob");
    let (status, body) = setup.post(
        "/api/password/",
        &keeper,
        json!({ "old_password": "bob-pw", "new_password": "bob-pw-2" }),
    );
    assert_eq!(status, 200, "{body}");
    refused_within(&downstream, &other, limit, "password change");

    // Disabling a user from the CLI ends every token; the server polls every second.
    let (ann, _) = setup.login("ann");
    assert_eq!(downstream.whoami(&ann).0, 200);
    setup.cli(&["users", "disable", "ann"]);
    refused_within(
        &downstream,
        &ann,
        Duration::from_millis(1_100 + 1_000),
        "disabled from the CLI",
    );
}

#[test]
fn the_feed_resumes_after_a_restart_and_fails_closed_while_cut_off() {
    let mut setup = Setup::new();
    // A fixed port, so that the restarted server is where the downstream looks.
    let listen = setup.server.addr.clone();
    let Some(downstream) = Downstream::start(
        &listen,
        &["--feed-token", FEED_TOKEN, "--max-staleness", "2s"],
    ) else {
        return;
    };
    let (ann, _) = setup.login("ann");
    let (bob, _) = setup.login("bob");
    within(Duration::from_secs(5), "connected to the feed", || {
        downstream.whoami(&ann).0 == 200
    });

    // The connection drops with the server: after max_staleness, the downstream fails closed.
    setup.server.stop();
    let cut_off = Instant::now();
    within(Duration::from_secs(5), "fails closed", || {
        downstream.whoami(&bob)
            == (
                503,
                json!({ "detail": "Service temporarily unavailable, try again later." }),
            )
    });
    assert!(
        cut_off.elapsed() >= Duration::from_secs(2),
        "not before max_staleness"
    );
    assert_eq!(http(&downstream.addr, "GET", "/healthz", None, None).0, 200);

    // Revoked while the server is down; the restarted server's feed carries it from the cursor.
    setup.cli(&["users", "disable", "ann"]);
    setup.server = Setup::serve(&setup.data, &listen);
    refused_within(
        &downstream,
        &ann,
        Duration::from_secs(10),
        "resumed after restart",
    );
    assert_eq!(downstream.whoami(&bob).0, 200);
}

//! What the end-to-end tests share: running servers, a tiny HTTP client, users added by the CLI.
#![allow(
    clippy::disallowed_methods,
    reason = "waits on other processes, whose time is the real one"
)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `tessera serve`, killed on drop.
pub(crate) struct Server {
    child: Child,
    pub(crate) addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Argon2 parameters that keep tests fast (never use these in production).
pub(crate) fn cheap_hashing() -> [(&'static str, &'static str); 2] {
    [
        ("TESSERA_PASSWORD_HASH_MEMORY_KIB", "64"),
        ("TESSERA_PASSWORD_HASH_ITERATIONS", "1"),
    ]
}

impl Server {
    /// Starts `tessera serve` on an ephemeral port with `args` and `env`, and waits for its
    /// "listening" line.
    pub(crate) fn start(args: &[&str], env: &[(&str, String)]) -> Server {
        Server::start_on("127.0.0.1:0", args, env)
    }

    /// Kills the server (its connections drop) and waits for it to be gone.
    pub(crate) fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// [`Server::start`] on the address `listen`.
    pub(crate) fn start_on(listen: &str, args: &[&str], env: &[(&str, String)]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
        command
            .args(["serve", "--listen", listen])
            .args(args)
            .envs(cheap_hashing())
            .env("TESSERA_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            // Servers' logs only when asked for: the fault tests provoke many warnings.
            .stderr(server_logs());
        let (child, line) = spawn_for_first_line(command);
        // Without a terminal the server writes JSON, its start-up line included.
        let start: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("unexpected first line {line:?}: {e}"));
        assert_eq!(
            start["message"].as_str(),
            Some(
                format!(
                    "Tessera listening on http://{}",
                    start["addr"].as_str().unwrap()
                )
                .as_str()
            )
        );
        Server {
            child,
            addr: start["addr"].as_str().unwrap().to_owned(),
        }
    }
}

/// Where a server process's standard error goes: the test's own when `TESSERA_TEST_SERVER_LOGS` is
/// set, nowhere otherwise.
pub(crate) fn server_logs() -> Stdio {
    if std::env::var_os("TESSERA_TEST_SERVER_LOGS").is_some() {
        Stdio::inherit()
    } else {
        Stdio::null()
    }
}

/// Spawns `command` with its standard output piped and returns it with its first line, which a
/// server writes once it listens.
pub(crate) fn spawn_for_first_line(mut command: Command) -> (Child, String) {
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

/// One HTTP/1.1 request; returns the status and the JSON body.
pub(crate) fn http(
    addr: &str,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, payload) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(payload).unwrap_or(Value::Null))
}

/// `tessera users add NAME --password-stdin` with `location` (`--data-dir D` or
/// `--database-url U`), the password given on standard input.
pub(crate) fn add_user_at(location: &[&str], name: &str, password_line: &str) {
    let mut args = vec!["users", "add", name, "--password-stdin"];
    args.extend(location);
    crate::stdout(&crate::tessera_with_env(
        &args,
        password_line,
        &cheap_hashing(),
    ));
}

/// Polls `done` every 5 ms for up to `limit`; returns how long it took.
pub(crate) fn within(limit: Duration, what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
    start.elapsed()
}

/// The claims of a token, unverified.
pub(crate) fn payload_of(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

pub(crate) fn kid_of(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

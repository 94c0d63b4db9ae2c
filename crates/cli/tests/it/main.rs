//! End-to-end tests of the `tessera` binary: exit codes, stdout and stderr as other tools see them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod audit;
mod clients;
mod cluster;
mod console;
mod django_import;
mod django_recipes;
mod downstream;
mod keys_and_tokens;
mod openapi;
mod serve;
mod simplejwt_settings;
mod support;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

/// Runs `tessera` with `args`, feeding `stdin`.
pub(crate) fn tessera(args: &[&str], stdin: &str) -> Output {
    tessera_with_env(args, stdin, &[])
}

/// Runs `tessera` with `args` and extra environment variables, feeding `stdin`.
pub(crate) fn tessera_with_env(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    command.args(args).envs(env.iter().copied());
    output_with_stdin(command, stdin)
}

/// Runs `command` to its end, feeding `stdin`; its output and status.
pub(crate) fn output_with_stdin(mut command: Command, stdin: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

pub(crate) fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

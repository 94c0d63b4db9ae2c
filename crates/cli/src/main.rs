//! `tessera`: the JWT authentication server's command-line tool.
//!
//! Exit codes: 0 success, 1 a token failed verification, 2 bad arguments or unreadable input.

mod admin;
mod audit;
mod backend;
mod clients;
mod config;
mod import;
mod input;
mod keys;
mod simplejwt;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tessera: JWT authentication server and JOSE tool.
#[derive(Parser)]
#[command(name = "tessera", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the authentication server (embedded SQLite by default).
    Serve(admin::ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    Users(admin::UsersCommand),
    /// Manage OAuth 2.0 clients (service accounts, gateways).
    #[command(subcommand)]
    Clients(clients::ClientsCommand),
    /// Generate, derive, rotate and list keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Encode, verify and decode tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Delete expired refresh tokens, sessions, revocation entries and keys.
    FlushExpired(admin::DataArgs),
    /// Print the security audit log, one JSON object per line (oldest first).
    Audit(audit::AuditArgs),
    /// Import users from another system (a Django site).
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Apply pending database migrations (PostgreSQL; an SQLite file is migrated on open).
    Migrate(admin::DataArgs),
}

/// How a command failed, which decides the exit code.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad arguments or unreadable input: exit 2.
    Usage(String),
    /// The token is not valid: exit 1, reported as `code: message`.
    Invalid(tessera_jwt::Error),
    /// Already reported (as a JSON log line by `serve`): exit with this code, printing nothing.
    Reported(u8),
}

impl Failure {
    pub(crate) fn usage(message: impl Into<String>) -> Failure {
        Failure::Usage(message.into())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        // Warnings (a revocation not announced to running servers, say) reach the operator.
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
            .with_writer(std::io::stderr)
            .without_time()
            .with_target(false)
            .init();
    }
    let outcome = match cli.command {
        Command::Serve(args) => admin::serve(args),
        Command::Users(command) => admin::users(command),
        Command::FlushExpired(data) => admin::flush_expired(data),
        Command::Migrate(data) => admin::migrate(data),
        Command::Keys(command) => keys::run(command),
        Command::Clients(command) => clients::run(command),
        Command::Token(command) => token::run(command),
        Command::Import(command) => import::run(command),
        Command::Audit(args) => audit::run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid(error)) => {
            eprintln!("{}: {}", error.code(), error);
            ExitCode::from(1)
        }
        Err(Failure::Usage(message)) => {
            eprintln!("tessera: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Reported(code)) => ExitCode::from(code),
    }
}

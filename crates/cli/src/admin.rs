//! Commands that work on the server's data: `serve`, `users`, `keys rotate|list`, `flush-expired`.

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use tessera_auth::{
    AuthError, AuthService, Chain, KeyStatus, NewAccount, PasswordHasher, SystemClock, UserChange,
};
use tessera_server::Backend;
use tessera_server::LogFormat;
use tessera_server::views::rfc3339;
use zeroize::Zeroizing;

use crate::Failure;
use crate::backend::{self, Schema};
use crate::config::{Config, SETTINGS};

/// Where the data lives; shared by every command that opens the database.
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct DataArgs {
    /// TOML configuration file.
    #[arg(long, env = "TESSERA_CONFIG")]
    config: Option<PathBuf>,
    /// Directory of the embedded SQLite database [default: ./tessera-data].
    #[arg(long)]
    data_dir: Option<String>,
    /// Database URL (sqlite://PATH or postgres://USER@HOST/DB) [default: DATA_DIR/tessera.db].
    #[arg(long)]
    database_url: Option<String>,
    /// Redis URL (redis://HOST:PORT) for revocation broadcast and shared throttling.
    #[arg(long)]
    redis_url: Option<String>,
}

/// `tessera serve` flags; every other setting comes from the file or the environment.
#[derive(Args, Clone, Debug)]
#[command(after_long_help = settings_help(), after_help = settings_help())]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Address to listen on [default: 127.0.0.1:8000].
    #[arg(long)]
    listen: Option<String>,
    /// Private JWK or PEM key to sign with instead of generated keys.
    #[arg(long)]
    signing_key: Option<String>,
    /// Do not apply pending migrations on start; refuse an outdated schema instead.
    #[arg(long)]
    no_migrate: bool,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long)]
    metrics_listen: Option<String>,
    /// Log format: json or pretty [default: pretty on a terminal, json otherwise].
    #[arg(long)]
    log_format: Option<String>,
}

fn settings_help() -> String {
    let mut text = String::from(
        "Settings (TOML file keys; environment TESSERA_<KEY uppercased>; flags win over the \
         environment, which wins over the file):\n",
    );
    for (name, default, what) in SETTINGS {
        let default = default.filter(|text| !text.is_empty()).unwrap_or("(none)");
        text.push_str(&format!("  {name:<30} {what} [default: {default}]\n"));
    }
    text
}

#[derive(Subcommand)]
pub(crate) enum UsersCommand {
    /// Create a user; the password is read from standard input.
    Add {
        /// Username.
        name: String,
        /// Read the password from standard input (one trailing newline is stripped).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// A role (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Custom claims as a JSON object, e.g. '{"name":"Joker"}'.
        #[arg(long)]
        claims: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List users.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Disable a user and revoke their sessions.
    Disable {
        /// Username.
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Enable a disabled user.
    Enable {
        /// Username.
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Delete a user with their sessions.
    Delete {
        /// Username.
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Replace a user's roles (none given: no roles). Reaches their next access token at refresh.
    SetRoles {
        /// Username.
        name: String,
        /// The roles.
        roles: Vec<String>,
        /// Revoke the user's sessions now instead of waiting for their next refresh.
        #[arg(long)]
        revoke_sessions: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Replace a user's custom claims with a JSON object. Reaches their next access token at refresh.
    SetClaims {
        /// Username.
        name: String,
        /// The claims, as a JSON object.
        claims: String,
        /// Revoke the user's sessions now instead of waiting for their next refresh.
        #[arg(long)]
        revoke_sessions: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Set a user's password (read from standard input) and revoke their sessions.
    SetPassword {
        /// Username.
        name: String,
        /// Read the password from standard input (one trailing newline is stripped).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        data: DataArgs,
    },
}

fn load_config(data: &DataArgs, extra: &[(&str, Option<String>)]) -> Result<Config, Failure> {
    let mut flags: Vec<(&str, String)> = Vec::new();
    for (name, value) in [
        ("data_dir", &data.data_dir),
        ("database_url", &data.database_url),
        ("redis_url", &data.redis_url),
    ]
    .into_iter()
    .chain(extra.iter().map(|(n, v)| (*n, v)))
    {
        if let Some(value) = value {
            flags.push((name, value.clone()));
        }
    }
    Config::load(data.config.as_deref(), std::env::vars(), &flags)
        .map_err(|e| Failure::usage(e.to_string()))
}

/// What loading the configuration noticed, as warnings in the log's format.
fn report_warnings(config: &Config) {
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::usage(format!("cannot start the runtime: {e}")))
}

pub(crate) fn domain(error: AuthError) -> Failure {
    Failure::usage(Chain(&error).to_string())
}

fn claims_object(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, Failure> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(Failure::usage("claims must be a JSON object")),
        Err(e) => Err(Failure::usage(format!("claims are not valid JSON: {e}"))),
    }
}

fn read_password() -> Result<Zeroizing<String>, Failure> {
    let mut text = Zeroizing::new(String::new());
    std::io::stdin().read_to_string(&mut text).map_err(|e| {
        Failure::usage(format!("cannot read the password from standard input: {e}"))
    })?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

pub(crate) fn serve(args: ServeArgs) -> Result<(), Failure> {
    let config = load_config(
        &args.data,
        &[
            ("listen", args.listen.clone()),
            ("signing_key", args.signing_key.clone()),
            ("migrate", args.no_migrate.then(|| "false".to_owned())),
            ("metrics_listen", args.metrics_listen.clone()),
            ("log_format", args.log_format.clone()),
        ],
    )?;
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .map_err(|e| Failure::usage(format!("invalid configuration: log: {e}")))?;
    // Lines are written by a thread of their own, so a request never waits on standard error.
    // Not lossy: under a flood the request threads wait for room rather than lose lines. The
    // guard flushes what is queued when `serve` returns.
    let (writer, _flush_on_return) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let format = config.log_format();
    match format {
        LogFormat::Pretty => logs.init(),
        // One JSON object per line, the event's fields at the top level.
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
    }
    report_warnings(&config);
    if format == LogFormat::Json {
        // A panic, too, is one JSON line.
        std::panic::set_hook(Box::new(|panic| {
            tracing::error!(panic = %panic, "panic");
        }));
    }
    let outcome = runtime()?.block_on(async {
        let schema = if config.migrate {
            Schema::Migrate
        } else {
            Schema::Check
        };
        let from_file = config
            .signing_key
            .as_deref()
            .map(|path| crate::input::signing_key(&path.to_string_lossy(), None))
            .transpose()
            .map_err(|failure| match failure {
                Failure::Usage(why) => Failure::usage(format!("signing_key: {why}")),
                other => other,
            })?;
        let inline = config
            .inline_signing_key()
            .map_err(|e| Failure::usage(e.to_string()))?;
        let signing_key = from_file.or(inline);
        let settings = config
            .settings(signing_key)
            .map_err(|e| Failure::usage(e.to_string()))?;
        let backend = backend::open(&config, schema).await?;
        tessera_server::run(settings, backend, Arc::new(SystemClock::new()))
            .await
            .map_err(|e| Failure::usage(e.to_string()))
    });
    match (format, outcome) {
        // In JSON mode every line is JSON, the reason the server stopped included.
        (LogFormat::Json, Err(Failure::Usage(message))) => {
            tracing::error!(error = %message, "tessera serve stopped");
            Err(Failure::Reported(2))
        }
        (_, outcome) => outcome,
    }
}

/// The domain opened for administration over the backend `data` names (its schema checked).
pub(crate) async fn open_service(data: &DataArgs) -> Result<AuthService, Failure> {
    let config = load_config(data, &[])?;
    report_warnings(&config);
    let backend = backend::open(&config, Schema::Check).await?;
    service(&config, &backend)
}

/// The domain, opened for administration over the configured backend: changes are announced to
/// running servers.
fn service(config: &Config, backend: &Backend) -> Result<AuthService, Failure> {
    let hasher = PasswordHasher::new(
        config.password_policy(),
        PasswordHasher::default_concurrency(),
    )
    .map_err(domain)?;
    let auth = config.auth().map_err(|e| Failure::usage(e.to_string()))?;
    Ok(AuthService::builder(
        Arc::clone(&backend.store),
        auth,
        hasher,
        Arc::new(SystemClock::new()),
    )
    .bus(backend.bus.clone())
    .administer())
}

pub(crate) fn users(command: UsersCommand) -> Result<(), Failure> {
    let data = match &command {
        UsersCommand::Add { data, .. }
        | UsersCommand::List { data }
        | UsersCommand::Disable { data, .. }
        | UsersCommand::Enable { data, .. }
        | UsersCommand::Delete { data, .. }
        | UsersCommand::SetRoles { data, .. }
        | UsersCommand::SetClaims { data, .. }
        | UsersCommand::SetPassword { data, .. } => data.clone(),
    };
    runtime()?.block_on(async {
        let admin = open_service(&data).await?;
        let missing = |name: String| {
            move |e: AuthError| match e {
                AuthError::NotFound => Failure::usage(format!("no user named {name:?}")),
                other => domain(other),
            }
        };
        match command {
            UsersCommand::Add {
                name,
                roles,
                claims,
                ..
            } => {
                let claims = claims_object(claims.as_deref().unwrap_or("{}"))?;
                let user = admin
                    .add_user(
                        NewAccount {
                            username: name.clone(),
                            password: read_password()?,
                            roles,
                            claims,
                            is_active: true,
                        },
                        &tessera_auth::audit::Acting::cli(),
                    )
                    .await
                    .map_err(|e| match e {
                        AuthError::UsernameTaken => {
                            Failure::usage(format!("a user named {name:?} already exists"))
                        }
                        other => domain(other),
                    })?;
                println!("created user {} with id {}", user.username, user.id);
            }
            UsersCommand::SetRoles {
                name,
                roles,
                revoke_sessions,
                ..
            } => {
                let user = admin
                    .find_user(&name)
                    .await
                    .map_err(missing(name.clone()))?;
                let change = UserChange {
                    roles: Some(roles),
                    revoke_sessions,
                    ..UserChange::default()
                };
                let user = admin
                    .update_user(user.id, &change, &tessera_auth::audit::Acting::cli())
                    .await
                    .map_err(domain)?;
                println!("roles of {name}: {}", user.roles.join(", "));
            }
            UsersCommand::SetClaims {
                name,
                claims,
                revoke_sessions,
                ..
            } => {
                let user = admin
                    .find_user(&name)
                    .await
                    .map_err(missing(name.clone()))?;
                let change = UserChange {
                    claims: Some(claims_object(&claims)?),
                    revoke_sessions,
                    ..UserChange::default()
                };
                let user = admin
                    .update_user(user.id, &change, &tessera_auth::audit::Acting::cli())
                    .await
                    .map_err(domain)?;
                println!(
                    "claims of {name}: {}",
                    serde_json::Value::Object(user.claims)
                );
            }
            UsersCommand::List { .. } => {
                println!(
                    "{:>6}  {:<6}  {:<20}  {:<24}  {:<20}  claims",
                    "id", "active", "username", "roles", "last login"
                );
                for user in admin.list_users().await.map_err(domain)? {
                    println!(
                        "{:>6}  {:<6}  {:<20}  {:<24}  {:<20}  {}",
                        user.id.0,
                        if user.is_active { "yes" } else { "no" },
                        user.username,
                        user.roles.join(","),
                        user.last_login.map_or_else(|| "-".to_owned(), rfc3339),
                        serde_json::Value::Object(user.claims),
                    );
                }
            }
            UsersCommand::Disable { name, .. } => {
                admin
                    .disable_user(&name, &tessera_auth::audit::Acting::cli())
                    .await
                    .map_err(missing(name.clone()))?;
                println!("disabled {name}; their sessions are revoked");
            }
            UsersCommand::Enable { name, .. } => {
                admin
                    .enable_user(&name, &tessera_auth::audit::Acting::cli())
                    .await
                    .map_err(missing(name.clone()))?;
                println!("enabled {name}");
            }
            UsersCommand::Delete { name, .. } => {
                let user = admin
                    .find_user(&name)
                    .await
                    .map_err(missing(name.clone()))?;
                admin
                    .delete_user(user.id, &tessera_auth::audit::Acting::cli())
                    .await
                    .map_err(missing(name.clone()))?;
                println!("deleted {name}");
            }
            UsersCommand::SetPassword { name, .. } => {
                admin
                    .set_password(&name, read_password()?, &tessera_auth::audit::Acting::cli())
                    .await
                    .map_err(missing(name.clone()))?;
                println!("password of {name} changed; their sessions are revoked");
            }
        }
        Ok(())
    })
}

pub(crate) fn keys_rotate(data: DataArgs) -> Result<(), Failure> {
    runtime()?.block_on(async {
        let service = open_service(&data).await?;
        let key = service
            .rotate_key(&tessera_auth::audit::Acting::cli())
            .await
            .map_err(domain)?;
        if key.created_at > service.now() {
            println!(
                "new signing key {} ({}), published now, signs from {}",
                key.kid,
                key.alg,
                rfc3339(key.created_at)
            );
        } else {
            println!("new signing key {} ({})", key.kid, key.alg);
        }
        Ok(())
    })
}

pub(crate) fn keys_list(data: DataArgs) -> Result<(), Failure> {
    runtime()?.block_on(async {
        let service = open_service(&data).await?;
        println!("{:<44}  {:<6}  {:<20}  status", "kid", "alg", "signs from");
        for (key, status) in service.keys().await.map_err(domain)? {
            let status = match status {
                KeyStatus::Published => "published, not signing yet".to_owned(),
                KeyStatus::Signing => "signing".to_owned(),
                KeyStatus::SigningUntil(retired) => format!("signing until {}", rfc3339(retired)),
                KeyStatus::Expired => "expired".to_owned(),
                KeyStatus::Verifying(Some(until)) => format!("verifying until {}", rfc3339(until)),
                KeyStatus::Verifying(None) => "verifying".to_owned(),
            };
            println!(
                "{:<44}  {:<6}  {:<20}  {status}",
                key.kid,
                key.alg,
                rfc3339(key.created_at)
            );
        }
        Ok(())
    })
}

pub(crate) fn flush_expired(data: DataArgs) -> Result<(), Failure> {
    runtime()?.block_on(async {
        let stats = open_service(&data)
            .await?
            .flush_expired()
            .await
            .map_err(domain)?;
        println!(
            "removed {} refresh tokens, {} sessions, {} revocation entries, {} keys, {} audit events",
            stats.refresh_tokens, stats.sessions, stats.revocations, stats.keys, stats.audit_events
        );
        Ok(())
    })
}

pub(crate) fn migrate(data: DataArgs) -> Result<(), Failure> {
    let config = load_config(&data, &[])?;
    runtime()?.block_on(async {
        backend::open(&config, Schema::Migrate).await?;
        println!("database schema is up to date");
        Ok(())
    })
}

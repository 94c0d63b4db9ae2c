//! `tessera audit`: the security audit log, one JSON object per line, oldest first; `--follow`
//! keeps printing new events as they are written (by any instance on the same database).

use std::time::Duration;

use clap::Args;
use tessera_auth::UserId;
use tessera_auth::audit::{AuditFilter, AuditKind};
use tessera_server::views::{audit_json, parse_rfc3339};

use crate::Failure;
use crate::admin::{DataArgs, domain, open_service, runtime};

/// How many events one read returns; a longer log is read in pages.
const PAGE: u64 = 500;
/// How often `--follow` looks for new events.
const POLL: Duration = Duration::from_secs(1);

#[derive(Args)]
pub(crate) struct AuditArgs {
    /// Only this event (login.success, login.failure, token.refresh, user.deleted, ...).
    #[arg(long)]
    event: Option<String>,
    /// Only events about this user (username or id).
    #[arg(long)]
    user: Option<String>,
    /// Only events at or after this time (RFC 3339, e.g. 2026-12-01T10:00:00Z).
    #[arg(long)]
    since: Option<String>,
    /// Keep printing new events as they come.
    #[arg(long)]
    follow: bool,
    #[command(flatten)]
    data: DataArgs,
}

pub(crate) fn run(args: AuditArgs) -> Result<(), Failure> {
    let mut filter = AuditFilter::default();
    if let Some(name) = &args.event {
        filter.kind = Some(AuditKind::parse(name).ok_or_else(|| {
            let known: Vec<&str> = AuditKind::ALL.iter().map(|k| k.name()).collect();
            Failure::usage(format!(
                "--event {name:?} is not an event ({})",
                known.join(", ")
            ))
        })?);
    }
    if let Some(user) = &args.user {
        filter.subject_id = user.parse::<i64>().ok().map(UserId);
        filter.subject_name = Some(user.clone());
    }
    if let Some(since) = &args.since {
        filter.since = Some(parse_rfc3339(since).ok_or_else(|| {
            Failure::usage(format!(
                "--since {since:?} is not an RFC 3339 time (e.g. 2026-12-01T10:00:00Z)"
            ))
        })?);
    }
    runtime()?.block_on(async {
        let service = open_service(&args.data).await?;
        loop {
            let (_, page) = service
                .audit_events(&filter, false, PAGE, 0)
                .await
                .map_err(domain)?;
            for record in &page {
                println!("{}", audit_json(record));
                filter.after_id = Some(record.id);
            }
            if u64::try_from(page.len()).unwrap_or(0) == PAGE {
                continue;
            }
            if !args.follow {
                return Ok(());
            }
            service.clock().sleep(POLL).await;
        }
    })
}

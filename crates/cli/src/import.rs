//! `tessera import django`: a Django site's users, passwords and groups, on the configured backend.

use clap::{Args, Subcommand};
use tessera_auth::django_import::{ImportAction, ImportSummary};
use tessera_auth::{AuthError, Chain};
use tessera_store::{DjangoDatabase, read_django_users};

use crate::Failure;
use crate::admin::{DataArgs, domain, open_service, runtime};

#[derive(Subcommand)]
pub(crate) enum ImportCommand {
    /// Users from a Django site's database (django.contrib.auth): ids, usernames, active flags,
    /// password hashes as they are, roles (admin for superusers, staff, each group) and the
    /// email/first_name/last_name claims. Running it again brings changes over.
    Django(DjangoArgs),
}

#[derive(Args)]
pub(crate) struct DjangoArgs {
    /// The Django database, as dj-database-url writes it: sqlite:///relative.db,
    /// sqlite:////absolute/db.sqlite3 or postgres://USER@HOST/DB.
    #[arg(long = "from", value_name = "URL")]
    from: String,
    /// Say what would be done, and write nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    data: DataArgs,
}

pub(crate) fn run(command: ImportCommand) -> Result<(), Failure> {
    let ImportCommand::Django(args) = command;
    let source = DjangoDatabase::parse(&args.from).map_err(Failure::usage)?;
    runtime()?.block_on(async {
        let service = open_service(&args.data).await?;
        let django = read_django_users(&source)
            .await
            .map_err(|e| Failure::usage(format!("cannot read {}: {}", args.from, Chain(&e))))?;
        let plan = service.plan_django_import(django).await.map_err(domain)?;
        let mut summary = ImportSummary::default();
        for planned in &plan.users {
            let mut action = planned.action.clone();
            if !args.dry_run
                && let Err(error) = service
                    .apply_django_import(planned, &tessera_auth::audit::Acting::cli())
                    .await
            {
                action = match error {
                    // Taken since the plan was made (a rename in the same run, say).
                    AuthError::UsernameTaken => {
                        ImportAction::Skip("the username is taken by another Tessera user".into())
                    }
                    other => return Err(domain(other)),
                };
            }
            summary.count(&action);
            let (id, name) = (planned.id, &planned.username);
            match &action {
                ImportAction::Create => println!("created {id} {name}"),
                ImportAction::Update(fields) => {
                    println!("updated {id} {name}: {}", fields.join(", "))
                }
                ImportAction::Unchanged => println!("unchanged {id} {name}"),
                ImportAction::Skip(why) => println!("skipped {id} {name}: {why}"),
            }
            if let Some(warning) = &planned.warning
                && !matches!(action, ImportAction::Skip(_))
            {
                println!("warning {id} {name}: {warning}");
            }
        }
        for user in &plan.left_alone {
            println!("left alone {} {}: {}", user.id, user.username, user.why);
        }
        if args.dry_run {
            println!("dry run: nothing was written");
        }
        println!("{summary}");
        Ok(())
    })
}

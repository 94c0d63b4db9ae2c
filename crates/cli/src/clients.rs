//! `tessera clients`: OAuth 2.0 clients (service accounts, gateways) that get tokens from
//! `/oauth/token`. A secret is printed once, when it is made, and never again.

use clap::Subcommand;
use tessera_auth::{AuthError, Grant};
use tessera_server::views::issued_client_json;

use crate::Failure;
use crate::admin::{DataArgs, domain, open_service, runtime};

#[derive(Subcommand)]
pub(crate) enum ClientsCommand {
    /// Register a confidential client; prints its client_id and client_secret (shown once) as JSON.
    Add {
        /// A unique label.
        name: String,
        /// A scope the client may ask for (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// A grant the client may use: client_credentials, password or refresh_token (repeatable;
        /// none given: client_credentials).
        #[arg(long = "grant")]
        grants: Vec<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List clients (never their secrets).
    List {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Delete a client: its tokens stop working at once, on every running server.
    Delete {
        /// The client's name.
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Give a client a new secret (printed as by `add`); tokens already issued stay valid.
    RotateSecret {
        /// The client's name.
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

pub(crate) fn run(command: ClientsCommand) -> Result<(), Failure> {
    let data = match &command {
        ClientsCommand::Add { data, .. }
        | ClientsCommand::List { data }
        | ClientsCommand::Delete { data, .. }
        | ClientsCommand::RotateSecret { data, .. } => data.clone(),
    };
    runtime()?.block_on(async {
        let service = open_service(&data).await?;
        let missing = |name: &str| {
            let name = name.to_owned();
            move |e: AuthError| match e {
                AuthError::NotFound => Failure::usage(format!("no client named {name:?}")),
                other => domain(other),
            }
        };
        match command {
            ClientsCommand::Add {
                name,
                scopes,
                grants,
                ..
            } => {
                let grants = grants
                    .iter()
                    .map(|g| {
                        Grant::parse(g).ok_or_else(|| {
                            Failure::usage(format!(
                                "--grant {g:?}: expected client_credentials, password or refresh_token"
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let issued = service
                    .register_client(&name, scopes, grants, &tessera_auth::audit::Acting::cli())
                    .await
                    .map_err(domain)?;
                println!("{}", issued_client_json(&issued));
            }
            ClientsCommand::List { .. } => {
                println!("{:<24}  {:<43}  {:<40}  scopes", "name", "client_id", "grants");
                for client in service.clients().await.map_err(domain)? {
                    println!(
                        "{:<24}  {:<43}  {:<40}  {}",
                        client.name,
                        client.id,
                        client.grants.join(","),
                        client.scopes.join(" ")
                    );
                }
            }
            ClientsCommand::Delete { name, .. } => {
                let client = service.client_named(&name).await.map_err(missing(&name))?;
                service
                    .delete_client(&client.id, &tessera_auth::audit::Acting::cli())
                    .await
                    .map_err(missing(&name))?;
                println!("deleted client {name}; its tokens are refused from now on");
            }
            ClientsCommand::RotateSecret { name, .. } => {
                let client = service.client_named(&name).await.map_err(missing(&name))?;
                let issued = service
                    .rotate_client_secret(&client.id, &tessera_auth::audit::Acting::cli())
                    .await
                    .map_err(missing(&name))?;
                println!("{}", issued_client_json(&issued));
            }
        }
        Ok(())
    })
}

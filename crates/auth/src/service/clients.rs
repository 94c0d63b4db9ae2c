//! OAuth 2.0 clients (RFC 6749 §2): registration, secrets, deletion. A client's secret is shown
//! once, when it is made, and stored only as its SHA-256.

use zeroize::Zeroizing;

use super::AuthService;
use crate::audit::{Acting, AuditEvent, AuditKind};
use crate::counters::RevocationReason;
use crate::error::AuthError;
use crate::ids::{random_token, token_hash};
use crate::store::{Client, Conflict, StoreError};

/// A grant type (RFC 6749 §1.3) a client may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// §4.4: a token for the client itself.
    ClientCredentials,
    /// §4.3: a user's username and password, exchanged by a trusted client.
    Password,
    /// §6: a refresh token exchanged for a new pair.
    RefreshToken,
}

impl Grant {
    /// Every grant type.
    pub const ALL: [Grant; 3] = [
        Grant::ClientCredentials,
        Grant::Password,
        Grant::RefreshToken,
    ];

    /// The name used on the wire (`grant_type`) and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Grant::ClientCredentials => "client_credentials",
            Grant::Password => "password",
            Grant::RefreshToken => "refresh_token",
        }
    }

    /// The grant named `name`, if there is one.
    pub fn parse(name: &str) -> Option<Grant> {
        Grant::ALL.into_iter().find(|grant| grant.as_str() == name)
    }
}

/// A client as registered, with the secret it was given: shown once, never stored.
#[derive(Debug)]
pub struct IssuedClient {
    /// The client.
    pub client: Client,
    /// Its secret (URL-safe characters only).
    pub secret: Zeroizing<String>,
}

/// Whether `scope` is a valid scope token (RFC 6749 §3.3: printable ASCII, no space, quote or
/// backslash).
fn valid_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

impl AuthService {
    /// Registers a confidential client named `name` (unique) with the scopes it may ask for and
    /// the grants it may use (none given: `client_credentials`).
    pub async fn register_client(
        &self,
        name: &str,
        scopes: Vec<String>,
        grants: Vec<Grant>,
        acting: &Acting,
    ) -> Result<IssuedClient, AuthError> {
        if name.trim().is_empty() || name.chars().count() > 150 {
            return Err(AuthError::InvalidInput(
                "a client name is 1 to 150 characters".into(),
            ));
        }
        if let Some(bad) = scopes.iter().find(|s| !valid_scope(s)) {
            return Err(AuthError::InvalidInput(format!(
                "scope {bad:?} is not a valid scope token (RFC 6749 §3.3)"
            )));
        }
        let mut grants = if grants.is_empty() {
            vec![Grant::ClientCredentials]
        } else {
            grants
        };
        grants.dedup();
        let mut scopes = scopes;
        scopes.sort();
        scopes.dedup();
        let secret = Zeroizing::new(random_token());
        let client = Client {
            id: random_token(),
            name: name.to_owned(),
            secret_hash: token_hash(&secret),
            scopes,
            grants: grants.iter().map(|g| g.as_str().to_owned()).collect(),
            created_at: self.now(),
        };
        let audit = [self
            .client_event(acting, AuditKind::ClientCreated, &client)
            .with("scopes", client.scopes.clone())
            .with("grants", client.grants.clone())];
        self.store
            .create_client(&client, &audit)
            .await
            .map_err(|error| match error {
                StoreError::Conflict(Conflict::ClientName) => {
                    AuthError::InvalidInput(format!("a client named {name:?} already exists"))
                }
                other => other.into(),
            })?;
        self.log_audit(&audit);
        Ok(IssuedClient { client, secret })
    }

    /// An event about `client` (named in the detail; never its secret).
    fn client_event(&self, acting: &Acting, kind: AuditKind, client: &Client) -> AuditEvent {
        acting
            .event(self.now(), kind)
            .with("client_id", client.id.as_str())
            .with("name", client.name.as_str())
    }

    /// Every client, by name (secrets are never shown again).
    pub async fn clients(&self) -> Result<Vec<Client>, AuthError> {
        Ok(self.store.clients().await?)
    }

    /// The client named `name`.
    pub async fn client_named(&self, name: &str) -> Result<Client, AuthError> {
        self.store
            .client_by_name(name)
            .await?
            .ok_or(AuthError::NotFound)
    }

    /// The client with id `id`.
    pub async fn client(&self, id: &str) -> Result<Client, AuthError> {
        self.store.client(id).await?.ok_or(AuthError::NotFound)
    }

    /// Deletes a client: every token issued to it stops working at once, on every instance.
    pub async fn delete_client(&self, id: &str, acting: &Acting) -> Result<(), AuthError> {
        let client = self.client(id).await?;
        let audit = [self.client_event(acting, AuditKind::ClientDeleted, &client)];
        if !self
            .store
            .delete_client(id, self.log_until(self.now()), &audit)
            .await?
        {
            return Err(AuthError::NotFound);
        }
        self.log_audit(&audit);
        self.counters.revocations.add(RevocationReason::OAuth);
        self.revocations_written().await
    }

    /// Gives a client a new secret; the old one stops working, tokens already issued stay valid.
    pub async fn rotate_client_secret(
        &self,
        id: &str,
        acting: &Acting,
    ) -> Result<IssuedClient, AuthError> {
        let client = self.client(id).await?;
        let audit = [self.client_event(acting, AuditKind::ClientSecretRotated, &client)];
        let secret = Zeroizing::new(random_token());
        if !self
            .store
            .set_client_secret(id, &token_hash(&secret), &audit)
            .await?
        {
            return Err(AuthError::NotFound);
        }
        self.log_audit(&audit);
        Ok(IssuedClient {
            client: self.client(id).await?,
            secret,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_have_their_wire_names() {
        for grant in Grant::ALL {
            assert_eq!(Grant::parse(grant.as_str()), Some(grant));
        }
        assert_eq!(Grant::parse("implicit"), None);
    }

    #[test]
    fn scopes_are_rfc_6749_tokens() {
        for good in ["read", "tessera:revocations", "a/b.c!~"] {
            assert!(valid_scope(good), "{good}");
        }
        for bad in ["", "two words", "quo\"te", "back\\slash", "é"] {
            assert!(!valid_scope(bad), "{bad}");
        }
    }
}

//! User administration, shared by the CLI and the admin API: accounts, roles, claims, status,
//! passwords and sessions. Every change that affects tokens is logged as a revocation, applied on
//! this instance before the call returns, and announced to the others.

use zeroize::Zeroizing;

use super::AuthService;
use crate::audit::{Acting, AuditKind, about_new_user};
use crate::claims::check_profile;
use crate::counters::RevocationReason;
use crate::django_import::{DjangoUser, ImportAction, ImportPlan, PlannedImport, plan_import};
use crate::error::AuthError;
use crate::ids::UserId;
use crate::store::{NewUser, Session, User};

/// A user to create.
#[derive(Debug, Default)]
pub struct NewAccount {
    /// Unique login name (1 to 150 characters).
    pub username: String,
    /// The password, hashed before it is stored.
    pub password: Zeroizing<String>,
    /// Role names.
    pub roles: Vec<String>,
    /// Custom claims carried in access tokens.
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// Whether the user may log in.
    pub is_active: bool,
}

/// A change to a user made by an administrator; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UserChange {
    /// New roles.
    pub roles: Option<Vec<String>>,
    /// New custom claims (replacing all of them).
    pub claims: Option<serde_json::Map<String, serde_json::Value>>,
    /// Enable or disable (disabling revokes every session).
    pub is_active: Option<bool>,
    /// Revoke the user's sessions at once, so the change reaches tokens now rather than at refresh.
    pub revoke_sessions: bool,
}

impl AuthService {
    /// A user by name.
    pub async fn find_user(&self, username: &str) -> Result<User, AuthError> {
        self.store
            .user_by_name(username)
            .await?
            .ok_or(AuthError::NotFound)
    }

    /// A user by id.
    pub async fn get_user(&self, id: UserId) -> Result<User, AuthError> {
        self.store.user_by_id(id).await?.ok_or(AuthError::NotFound)
    }

    /// All users, by id.
    pub async fn list_users(&self) -> Result<Vec<User>, AuthError> {
        Ok(self.store.list_users().await?)
    }

    /// A page of users by id, and the total count.
    pub async fn users_page(&self, limit: u64, offset: u64) -> Result<(u64, Vec<User>), AuthError> {
        Ok(self.store.users_page(limit, offset).await?)
    }

    /// A page of the users whose name contains `text` (case-insensitive), by id, and how many
    /// match. Read in full and filtered here: an operator's search, not a hot path.
    pub async fn search_users(
        &self,
        text: &str,
        limit: u64,
        offset: u64,
    ) -> Result<(u64, Vec<User>), AuthError> {
        let needle = text.to_lowercase();
        let matching: Vec<User> = self
            .store
            .list_users()
            .await?
            .into_iter()
            .filter(|user| user.username.to_lowercase().contains(&needle))
            .collect();
        let total = u64::try_from(matching.len()).unwrap_or(u64::MAX);
        let page = matching
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect();
        Ok((total, page))
    }

    /// Creates a user, checking the name, the password and the profile (reserved claim names, the
    /// token size limit).
    pub async fn add_user(&self, account: NewAccount, acting: &Acting) -> Result<User, AuthError> {
        let NewAccount {
            username,
            password,
            roles,
            claims,
            is_active,
        } = account;
        if username.trim().is_empty() || username.chars().count() > 150 {
            return Err(AuthError::InvalidInput(
                "a username is 1 to 150 characters".into(),
            ));
        }
        if password.is_empty() {
            return Err(AuthError::InvalidInput(
                "the password must not be empty".into(),
            ));
        }
        check_profile(&roles, &claims, self.config.max_token_bytes)?;
        let user = NewUser {
            username,
            password_hash: self.hasher.hash(password).await?,
            is_active,
            roles,
            claims,
        };
        let now = self.now();
        let audit = [acting
            .event(now, AuditKind::UserCreated)
            .with("roles", user.roles.clone())
            .with("is_active", user.is_active)];
        // A user created disabled has no tokens to revoke: one write suffices.
        let created = self.store.create_user(&user, now, &audit).await?;
        self.log_audit(&about_new_user(&audit, created.id, &created.username));
        Ok(created)
    }

    /// Applies `change`: roles and claims are checked first; disabling revokes every session.
    pub async fn update_user(
        &self,
        id: UserId,
        change: &UserChange,
        acting: &Acting,
    ) -> Result<User, AuthError> {
        let now = self.now();
        let current = self.get_user(id).await?;
        let roles = change.roles.as_ref().unwrap_or(&current.roles);
        let claims = change.claims.as_ref().unwrap_or(&current.claims);
        check_profile(roles, claims, self.config.max_token_bytes)?;
        let event = |kind| acting.event(now, kind).about(id, &current.username);
        if change.roles.is_some() || change.claims.is_some() {
            // What changed, by name: claim values are profile data, kept out of the log.
            let mut updated = event(AuditKind::UserUpdated);
            if let Some(roles) = &change.roles {
                updated = updated.with("roles", roles.clone());
            }
            if let Some(claims) = &change.claims {
                updated = updated.with("claims", claims.keys().cloned().collect::<Vec<_>>());
            }
            let audit = [updated];
            self.store
                .set_roles_and_claims(id, change.roles.as_deref(), change.claims.as_ref(), &audit)
                .await?;
            self.log_audit(&audit);
        }
        let mut revoked = false;
        if let Some(active) = change.is_active
            && active != current.is_active
        {
            let audit = [event(if active {
                AuditKind::UserEnabled
            } else {
                AuditKind::UserDisabled
            })];
            self.store
                .set_user_active(id, active, self.log_until(now), &audit)
                .await?;
            self.log_audit(&audit);
            revoked = true;
        }
        if change.revoke_sessions || change.is_active == Some(false) {
            let audit = [event(AuditKind::UserLogoutAll).with("reason", "admin")];
            self.store
                .revoke_user_sessions(id, None, now, self.log_until(now), &audit)
                .await?;
            self.log_audit(&audit);
            revoked = true;
        }
        self.user_changed(id);
        if revoked {
            self.counters.revocations.add(RevocationReason::Admin);
            self.revocations_written().await?;
        }
        self.get_user(id).await
    }

    /// Disables a user and revokes their sessions.
    pub async fn disable_user(&self, username: &str, acting: &Acting) -> Result<User, AuthError> {
        self.set_active(username, false, acting).await
    }

    /// Enables a disabled user.
    pub async fn enable_user(&self, username: &str, acting: &Acting) -> Result<User, AuthError> {
        self.set_active(username, true, acting).await
    }

    async fn set_active(
        &self,
        username: &str,
        active: bool,
        acting: &Acting,
    ) -> Result<User, AuthError> {
        let user = self.find_user(username).await?;
        let change = UserChange {
            is_active: Some(active),
            ..UserChange::default()
        };
        self.update_user(user.id, &change, acting).await
    }

    /// Deletes a user (sessions and refresh tokens go with them).
    pub async fn delete_user(&self, id: UserId, acting: &Acting) -> Result<(), AuthError> {
        let user = self.get_user(id).await?;
        let now = self.now();
        let audit = [acting
            .event(now, AuditKind::UserDeleted)
            .about(id, &user.username)];
        if !self
            .store
            .delete_user(id, self.log_until(now), &audit)
            .await?
        {
            return Err(AuthError::NotFound);
        }
        self.log_audit(&audit);
        self.user_changed(id);
        self.counters.revocations.add(RevocationReason::Admin);
        self.revocations_written().await
    }

    /// Sets a new password and revokes every session of the user.
    pub async fn set_password(
        &self,
        username: &str,
        password: Zeroizing<String>,
        acting: &Acting,
    ) -> Result<(), AuthError> {
        if password.is_empty() {
            return Err(AuthError::InvalidInput(
                "the password must not be empty".into(),
            ));
        }
        let user = self.find_user(username).await?;
        let hash = self.hasher.hash(password).await?;
        let now = self.now();
        let event = |kind| acting.event(now, kind).about(user.id, &user.username);
        let audit = [event(AuditKind::UserPasswordChanged)];
        self.store.set_password_hash(user.id, &hash, &audit).await?;
        self.log_audit(&audit);
        self.user_changed(user.id);
        let audit = [event(AuditKind::UserLogoutAll).with("reason", "password")];
        self.store
            .revoke_user_sessions(user.id, None, now, self.log_until(now), &audit)
            .await?;
        self.log_audit(&audit);
        self.counters.revocations.add(RevocationReason::Admin);
        self.revocations_written().await
    }

    /// The user's active sessions.
    pub async fn user_sessions(&self, id: UserId) -> Result<Vec<Session>, AuthError> {
        self.get_user(id).await?;
        Ok(self.store.active_sessions(id, self.now()).await?)
    }

    /// Revokes every session of the user (an administrator's logout-all).
    pub async fn logout_user(&self, id: UserId, acting: &Acting) -> Result<(), AuthError> {
        self.get_user(id).await?;
        self.revoke_user_tokens(id, None, self.now(), RevocationReason::Admin, acting)
            .await
    }

    /// What importing `django` would do, from the users and imports stored now.
    pub async fn plan_django_import(
        &self,
        django: Vec<DjangoUser>,
    ) -> Result<ImportPlan, AuthError> {
        let users = self.store.list_users().await?;
        let imports = self.store.django_imports().await?;
        Ok(plan_import(
            django,
            &users,
            &imports,
            self.config.max_token_bytes,
        ))
    }

    /// Carries out one user's line of an import plan. A user who is disabled, or whose password
    /// is replaced, loses their sessions as when an administrator does it.
    pub async fn apply_django_import(
        &self,
        planned: &PlannedImport,
        acting: &Acting,
    ) -> Result<(), AuthError> {
        let Some(write) = &planned.write else {
            return Ok(());
        };
        if let Some(active) = planned.revokes.active {
            let change = UserChange {
                is_active: Some(active),
                ..UserChange::default()
            };
            self.update_user(planned.id, &change, acting).await?;
        }
        let now = self.now();
        let (kind, fields) = match &planned.action {
            ImportAction::Update(fields) => (AuditKind::UserUpdated, fields.clone()),
            _ => (AuditKind::UserCreated, Vec::new()),
        };
        let audit = [acting
            .event(now, kind)
            .about(planned.id, &write.username)
            .with("source", "django")
            .with("fields", fields)];
        self.store.save_imported_user(write, now, &audit).await?;
        self.log_audit(&audit);
        self.user_changed(planned.id);
        if planned.revokes.password && write.is_active {
            let reason = RevocationReason::Admin;
            self.revoke_user_tokens(planned.id, None, now, reason, acting)
                .await?;
        }
        Ok(())
    }
}

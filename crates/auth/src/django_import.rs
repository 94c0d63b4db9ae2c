//! Importing a Django site's users (`tessera import django`): which Tessera user each Django user
//! becomes, and what a re-run changes. Reading Django's tables is the store crate's job; printing
//! the report is the CLI's. Django stays the source of truth for the fields it owns (name, active
//! flag, roles, `email`/`first_name`/`last_name`) until the switch; the password is the exception:
//! it is taken again only when Django's hash changed since the last import, so neither the re-hash
//! at first login nor a password changed in Tessera is ever undone.

use std::collections::HashMap;

use crate::claims::check_profile;
use crate::django_password::DjangoHash;
use crate::ids::UserId;
use crate::store::{ImportedPassword, ImportedUser, User};

/// A row of Django's `auth_user`, with the names of the user's groups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DjangoUser {
    /// `auth_user.id`, kept as the Tessera user id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// The stored password (`algorithm$...`, or `!...` when unusable).
    pub password: String,
    /// Superusers get the `admin` role.
    pub is_superuser: bool,
    /// Staff get the `staff` role.
    pub is_staff: bool,
    /// Inactive users are imported disabled.
    pub is_active: bool,
    /// Carried as the `email` claim when not empty.
    pub email: String,
    /// Carried as the `first_name` claim when not empty.
    pub first_name: String,
    /// Carried as the `last_name` claim when not empty.
    pub last_name: String,
    /// Names of the user's groups, each a role.
    pub groups: Vec<String>,
}

/// The claims a Django user's profile fills; other claims a Tessera user has are kept.
const PROFILE_CLAIMS: [&str; 3] = ["email", "first_name", "last_name"];

impl DjangoUser {
    /// `admin` for a superuser, `staff` for staff, then each group's name; no duplicates.
    pub fn roles(&self) -> Vec<String> {
        let mut roles = Vec::new();
        let flagged = [("admin", self.is_superuser), ("staff", self.is_staff)];
        for (role, held) in flagged {
            if held {
                roles.push(role.to_owned());
            }
        }
        let mut groups = self.groups.clone();
        groups.sort();
        for group in groups {
            if !roles.contains(&group) {
                roles.push(group);
            }
        }
        roles
    }

    /// `claims` with the profile claims set from Django: a value that is empty in Django is removed.
    fn profile_over(&self, claims: &serde_json::Map<String, serde_json::Value>) -> ProfileClaims {
        let mut claims = claims.clone();
        let values = [&self.email, &self.first_name, &self.last_name];
        for (name, value) in PROFILE_CLAIMS.into_iter().zip(values) {
            if value.is_empty() {
                claims.remove(name);
            } else {
                claims.insert(name.to_owned(), value.as_str().into());
            }
        }
        claims
    }

    /// The password to store and, for a format Tessera cannot verify, a warning naming it. Such
    /// a user is imported with an unusable password and must reset it; the hash is not kept.
    fn password(&self) -> (ImportedPassword, Option<String>) {
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.password.as_bytes());
        let mut source_digest = [0u8; 32];
        source_digest.copy_from_slice(digest.as_ref());
        let (hash, warning) = match DjangoHash::of(&self.password) {
            DjangoHash::Supported(_) => (self.password.clone(), None),
            DjangoHash::Unusable if !self.password.is_empty() => (self.password.clone(), None),
            DjangoHash::Unusable => ("!".to_owned(), None),
            DjangoHash::Unsupported(format) => (
                "!".to_owned(),
                Some(format!(
                    "password hash format {format:?} is not supported: imported as unusable, \
                     the user must reset the password"
                )),
            ),
        };
        let password = ImportedPassword {
            hash,
            source_digest,
        };
        (password, warning)
    }
}

type ProfileClaims = serde_json::Map<String, serde_json::Value>;

/// What an import does with one Django user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportAction {
    /// A new Tessera user with the Django id.
    Create,
    /// The Tessera user is brought up to date; the fields that differed.
    Update(Vec<&'static str>),
    /// Nothing differs.
    Unchanged,
    /// Left out, for the reason given.
    Skip(String),
}

/// One Django user's line in the plan.
#[derive(Clone, Debug)]
pub struct PlannedImport {
    /// The Django (and Tessera) id.
    pub id: UserId,
    /// The Django username.
    pub username: String,
    /// What happens.
    pub action: ImportAction,
    /// About the password, when one is imported in a format Tessera cannot verify.
    pub warning: Option<String>,
    /// What is written, for a create or an update.
    pub(crate) write: Option<ImportedUser>,
    /// Whether a Tessera user that exists changes its active flag or its password: its sessions
    /// end then, as when an administrator does it.
    pub(crate) revokes: Revokes,
}

/// The side effects of an update on the user's sessions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Revokes {
    /// The active flag changes to this (logged as the admin API's enable/disable is).
    pub(crate) active: Option<bool>,
    /// The password is replaced.
    pub(crate) password: bool,
}

/// A Tessera user the import does not touch, reported so nobody is surprised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftAlone {
    /// The Tessera user.
    pub id: UserId,
    /// Their username.
    pub username: String,
    /// Why they are not in the import.
    pub why: &'static str,
}

/// Everything an import would do, worked out before anything is written.
#[derive(Clone, Debug, Default)]
pub struct ImportPlan {
    /// Each Django user, by id.
    pub users: Vec<PlannedImport>,
    /// Tessera users the import leaves as they are.
    pub left_alone: Vec<LeftAlone>,
}

/// The report's last line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Users created.
    pub created: usize,
    /// Users updated.
    pub updated: usize,
    /// Users that already matched.
    pub unchanged: usize,
    /// Users left out.
    pub skipped: usize,
}

impl ImportSummary {
    /// Counts one outcome.
    pub fn count(&mut self, action: &ImportAction) {
        match action {
            ImportAction::Create => self.created += 1,
            ImportAction::Update(_) => self.updated += 1,
            ImportAction::Unchanged => self.unchanged += 1,
            ImportAction::Skip(_) => self.skipped += 1,
        }
    }
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "created {}, updated {}, unchanged {}, skipped {}",
            self.created, self.updated, self.unchanged, self.skipped
        )
    }
}

/// Works out what importing `django` into a Tessera holding `tessera` does. `imports` are the
/// users imported before, with the digest of their Django password hash as it was then.
pub fn plan_import(
    mut django: Vec<DjangoUser>,
    tessera: &[User],
    imports: &[(UserId, [u8; 32])],
    max_token_bytes: usize,
) -> ImportPlan {
    django.sort_by_key(|user| user.id);
    let by_id: HashMap<UserId, &User> = tessera.iter().map(|u| (u.id, u)).collect();
    let by_name: HashMap<&str, &User> = tessera.iter().map(|u| (u.username.as_str(), u)).collect();
    let imported: HashMap<UserId, [u8; 32]> = imports.iter().copied().collect();
    let users = django
        .iter()
        .map(|user| {
            let context = Context {
                existing: by_id.get(&UserId(user.id)).copied(),
                last_digest: imported.get(&UserId(user.id)),
                by_name: &by_name,
                max_token_bytes,
            };
            plan_user(user, &context)
        })
        .collect();
    let in_django: HashMap<i64, &DjangoUser> = django.iter().map(|u| (u.id, u)).collect();
    let left_alone = tessera
        .iter()
        .filter(|user| {
            in_django
                .get(&user.id.0)
                .is_none_or(|django| !same_person(user, django, imported.contains_key(&user.id)))
        })
        .map(|user| LeftAlone {
            id: user.id,
            username: user.username.clone(),
            why: if imported.contains_key(&user.id) {
                "imported before, no longer in Django"
            } else {
                "exists only in Tessera"
            },
        })
        .collect();
    ImportPlan { users, left_alone }
}

/// Whether the Tessera user with a Django user's id is that person: imported before, or (the
/// first time) the same username.
fn same_person(existing: &User, django: &DjangoUser, imported_before: bool) -> bool {
    imported_before || existing.username == django.username
}

/// What deciding one user's fate looks at.
struct Context<'a> {
    /// The Tessera user with the Django id.
    existing: Option<&'a User>,
    /// The digest recorded when this id was last imported.
    last_digest: Option<&'a [u8; 32]>,
    by_name: &'a HashMap<&'a str, &'a User>,
    max_token_bytes: usize,
}

fn plan_user(user: &DjangoUser, context: &Context<'_>) -> PlannedImport {
    let id = UserId(user.id);
    let mut planned = PlannedImport {
        id,
        username: user.username.clone(),
        action: ImportAction::Unchanged,
        warning: None,
        write: None,
        revokes: Revokes::default(),
    };
    let skip = |mut planned: PlannedImport, why: String| {
        planned.action = ImportAction::Skip(why);
        planned
    };
    if id.0 < 1 {
        return skip(planned, format!("id {} is not a positive integer", id.0));
    }
    if user.username.trim().is_empty() || user.username.chars().count() > 150 {
        return skip(planned, "a username is 1 to 150 characters".into());
    }
    let name_holder = context
        .by_name
        .get(user.username.as_str())
        .filter(|holder| holder.id != id);
    if let Some(holder) = name_holder {
        return skip(
            planned,
            format!("the username is taken by Tessera user {}", holder.id),
        );
    }
    let roles = user.roles();
    let claims = user.profile_over(
        context
            .existing
            .map(|existing| &existing.claims)
            .unwrap_or(&serde_json::Map::new()),
    );
    if let Err(error) = check_profile(&roles, &claims, context.max_token_bytes) {
        return skip(planned, error.to_string());
    }
    let (password, warning) = user.password();
    let password_changed = context.last_digest != Some(&password.source_digest);
    let write = |password: Option<ImportedPassword>| ImportedUser {
        id,
        username: user.username.clone(),
        is_active: user.is_active,
        roles: roles.clone(),
        claims: claims.clone(),
        password,
    };
    match context.existing {
        None if context.last_digest.is_some() => skip(
            planned,
            "deleted in Tessera after an earlier import: left deleted".into(),
        ),
        None => {
            planned.action = ImportAction::Create;
            planned.warning = warning;
            planned.write = Some(write(Some(password)));
            planned
        }
        Some(existing) if !same_person(existing, user, context.last_digest.is_some()) => skip(
            planned,
            format!(
                "id {} belongs to Tessera user {:?}, who was not imported from Django",
                id, existing.username
            ),
        ),
        Some(existing) => {
            let differing = [
                ("username", existing.username != user.username),
                ("active", existing.is_active != user.is_active),
                ("roles", existing.roles != roles),
                ("claims", existing.claims != claims),
                ("password", password_changed),
            ];
            let fields: Vec<&'static str> = differing
                .into_iter()
                .filter_map(|(field, differs)| differs.then_some(field))
                .collect();
            if fields.is_empty() {
                return planned;
            }
            planned.revokes = Revokes {
                active: (existing.is_active != user.is_active).then_some(user.is_active),
                password: password_changed,
            };
            if password_changed {
                planned.warning = warning;
            }
            planned.write = Some(write(password_changed.then_some(password)));
            planned.action = ImportAction::Update(fields);
            planned
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const PBKDF2: &str = "pbkdf2_sha256$1000000$salt$aGFzaA==";

    fn django(id: i64, username: &str) -> DjangoUser {
        DjangoUser {
            id,
            username: username.into(),
            password: PBKDF2.into(),
            is_active: true,
            ..DjangoUser::default()
        }
    }

    fn tessera(id: i64, username: &str) -> User {
        User {
            id: UserId(id),
            username: username.into(),
            password_hash: PBKDF2.into(),
            is_active: true,
            created_at: 0,
            last_login: None,
            roles: Vec::new(),
            claims: serde_json::Map::new(),
        }
    }

    fn digest(text: &str) -> [u8; 32] {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
        digest.as_ref().try_into().unwrap()
    }

    fn plan(django: Vec<DjangoUser>, tessera: &[User], imports: &[(i64, &str)]) -> ImportPlan {
        let imports: Vec<(UserId, [u8; 32])> = imports
            .iter()
            .map(|(id, hash)| (UserId(*id), digest(hash)))
            .collect();
        plan_import(django, tessera, &imports, 8192)
    }

    fn actions(plan: &ImportPlan) -> Vec<ImportAction> {
        plan.users.iter().map(|u| u.action.clone()).collect()
    }

    #[test]
    fn roles_come_from_the_flags_then_the_groups_without_duplicates() {
        let user = DjangoUser {
            is_superuser: true,
            is_staff: true,
            groups: vec!["editors".into(), "admin".into(), "authors".into()],
            ..django(1, "root")
        };
        assert_eq!(user.roles(), ["admin", "staff", "authors", "editors"]);
        assert!(django(2, "plain").roles().is_empty());
    }

    #[test]
    fn profile_claims_are_set_when_not_empty_and_other_claims_are_kept() {
        let user = DjangoUser {
            email: "ann@example.com".into(),
            first_name: "Ann".into(),
            ..django(1, "ann")
        };
        let current = json!({"last_name": "Old", "team": "blue"});
        let claims = user.profile_over(current.as_object().unwrap());
        assert_eq!(
            serde_json::Value::Object(claims),
            json!({"email": "ann@example.com", "first_name": "Ann", "team": "blue"})
        );
    }

    #[test]
    fn a_new_id_is_created_with_the_django_hash_as_it_is() {
        let plan = plan(vec![django(7, "ann")], &[], &[]);
        assert_eq!(actions(&plan), [ImportAction::Create]);
        let write = plan.users[0].write.as_ref().unwrap();
        assert_eq!(write.id, UserId(7));
        let password = write.password.as_ref().unwrap();
        assert_eq!(password.hash, PBKDF2);
        assert_eq!(password.source_digest, digest(PBKDF2));
        assert_eq!(plan.users[0].warning, None);
    }

    #[test]
    fn unusable_and_unsupported_passwords_are_imported_unusable() {
        let unusable = DjangoUser {
            password: "!Xy7unusable".into(),
            ..django(1, "ann")
        };
        let md5 = DjangoUser {
            password: "md5$salt$0123456789abcdef".into(),
            ..django(2, "bob")
        };
        let plan = plan(vec![unusable, md5], &[], &[]);
        let hashes: Vec<&str> = plan
            .users
            .iter()
            .map(|u| {
                u.write
                    .as_ref()
                    .unwrap()
                    .password
                    .as_ref()
                    .unwrap()
                    .hash
                    .as_str()
            })
            .collect();
        assert_eq!(hashes, ["!Xy7unusable", "!"]);
        assert_eq!(plan.users[0].warning, None);
        let warning = plan.users[1].warning.as_deref().unwrap();
        assert!(warning.contains("\"md5\""), "{warning}");
        assert!(!warning.contains("0123456789abcdef"), "{warning}");
    }

    #[test]
    fn a_second_run_changes_nothing() {
        let imported = DjangoUser {
            is_staff: true,
            email: "ann@example.com".into(),
            ..django(3, "ann")
        };
        let mut user = tessera(3, "ann");
        user.roles = vec!["staff".into()];
        user.claims = json!({"email": "ann@example.com"})
            .as_object()
            .unwrap()
            .clone();
        let plan = plan(vec![imported], &[user], &[(3, PBKDF2)]);
        assert_eq!(actions(&plan), [ImportAction::Unchanged]);
        assert!(plan.users[0].write.is_none());
    }

    #[test]
    fn a_tessera_rehash_is_kept_until_the_django_hash_changes() {
        let mut rehashed = tessera(3, "ann");
        rehashed.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into();
        let plan_same = plan(vec![django(3, "ann")], &[rehashed.clone()], &[(3, PBKDF2)]);
        assert_eq!(actions(&plan_same), [ImportAction::Unchanged]);

        let changed = DjangoUser {
            password: "pbkdf2_sha256$1000000$other$aGFzaA==".into(),
            ..django(3, "ann")
        };
        let plan_changed = plan(vec![changed], &[rehashed], &[(3, PBKDF2)]);
        assert_eq!(
            actions(&plan_changed),
            [ImportAction::Update(vec!["password"])]
        );
        assert!(plan_changed.users[0].revokes.password);
    }

    #[test]
    fn changes_in_django_are_listed_and_disabling_ends_sessions() {
        let changed = DjangoUser {
            username: "ann2".into(),
            is_active: false,
            groups: vec!["editors".into()],
            ..django(3, "ann")
        };
        let plan = plan(vec![changed], &[tessera(3, "ann")], &[(3, PBKDF2)]);
        assert_eq!(
            actions(&plan),
            [ImportAction::Update(vec!["username", "active", "roles"])]
        );
        let write = plan.users[0].write.as_ref().unwrap();
        assert_eq!(write.password, None);
        assert_eq!(plan.users[0].revokes.active, Some(false));
    }

    #[test]
    fn an_id_held_by_someone_else_and_a_taken_username_are_skipped() {
        let plan = plan(
            vec![django(1, "ann"), django(2, "carol")],
            &[tessera(1, "admin"), tessera(5, "carol")],
            &[],
        );
        let actions = actions(&plan);
        let ImportAction::Skip(why) = &actions[0] else {
            panic!("{actions:?}")
        };
        assert!(why.contains("belongs to Tessera user \"admin\""), "{why}");
        let ImportAction::Skip(why) = &actions[1] else {
            panic!("{actions:?}")
        };
        assert!(why.contains("taken by Tessera user 5"), "{why}");
    }

    #[test]
    fn the_same_name_at_the_same_id_is_the_same_person() {
        let plan = plan(vec![django(1, "admin")], &[tessera(1, "admin")], &[]);
        assert_eq!(actions(&plan), [ImportAction::Update(vec!["password"])]);
    }

    #[test]
    fn a_user_deleted_in_tessera_stays_deleted() {
        let plan = plan(vec![django(4, "dan")], &[], &[(4, PBKDF2)]);
        assert!(matches!(&actions(&plan)[0], ImportAction::Skip(why) if why.contains("deleted")));
    }

    #[test]
    fn invalid_profiles_are_skipped_with_the_reason() {
        let long_group = DjangoUser {
            groups: vec!["g".repeat(100)],
            ..django(1, "ann")
        };
        let plan = plan(vec![long_group, django(0, "zero")], &[], &[]);
        let reasons: Vec<String> = actions(&plan)
            .into_iter()
            .map(|a| match a {
                ImportAction::Skip(why) => why,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(
            reasons.iter().any(|why| why.contains("Role name")),
            "{reasons:?}"
        );
        assert!(
            reasons.iter().any(|why| why.contains("id 0")),
            "{reasons:?}"
        );
    }

    #[test]
    fn tessera_users_outside_the_import_are_reported() {
        let clash = plan(vec![django(9, "root")], &[tessera(9, "local")], &[]);
        assert_eq!(clash.left_alone[0].why, "exists only in Tessera");
        let plan = plan(
            vec![django(1, "ann")],
            &[tessera(1, "ann"), tessera(2, "gone"), tessera(9, "local")],
            &[(1, PBKDF2), (2, PBKDF2)],
        );
        let whys: Vec<(i64, &str)> = plan.left_alone.iter().map(|l| (l.id.0, l.why)).collect();
        assert_eq!(
            whys,
            [
                (2, "imported before, no longer in Django"),
                (9, "exists only in Tessera")
            ]
        );
    }

    #[test]
    fn the_summary_counts_each_outcome() {
        let mut summary = ImportSummary::default();
        for action in [
            ImportAction::Create,
            ImportAction::Create,
            ImportAction::Unchanged,
            ImportAction::Skip("x".into()),
            ImportAction::Update(vec!["roles"]),
        ] {
            summary.count(&action);
        }
        assert_eq!(
            summary.to_string(),
            "created 2, updated 1, unchanged 1, skipped 1"
        );
    }
}

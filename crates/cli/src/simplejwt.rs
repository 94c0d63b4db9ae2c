//! The `[simplejwt]` table: a Django site's `SIMPLE_JWT` settings, by their names, so the dict can
//! be pasted into Tessera's TOML file. Each key that changes tokens or the wire becomes the Tessera
//! setting with the same meaning; keys that only configure Django are accepted with a warning; a
//! key simplejwt does not have (a typo) is an error naming it.

/// `SIMPLE_JWT` key → Tessera setting, for the keys whose value carries over as it is.
const SAME_VALUE: &[(&str, &str)] = &[
    ("ACCESS_TOKEN_LIFETIME", "access_token_lifetime"),
    ("REFRESH_TOKEN_LIFETIME", "refresh_token_lifetime"),
    ("ROTATE_REFRESH_TOKENS", "rotate_refresh_tokens"),
    ("BLACKLIST_AFTER_ROTATION", "blacklist_after_rotation"),
    ("UPDATE_LAST_LOGIN", "update_last_login"),
    ("ALGORITHM", "signing_algorithm"),
    ("SIGNING_KEY", "signing_key_secret"),
    ("VERIFYING_KEY", "verifying_key"),
    ("AUDIENCE", "audience"),
    ("ISSUER", "issuer"),
    ("LEEWAY", "leeway"),
    ("AUTH_HEADER_TYPES", "auth_header_types"),
    ("USER_ID_CLAIM", "user_id_claim"),
    ("TOKEN_TYPE_CLAIM", "token_type_claim"),
    ("JTI_CLAIM", "jti_claim"),
    ("SLIDING_TOKEN_LIFETIME", "sliding_token_lifetime"),
    (
        "SLIDING_TOKEN_REFRESH_LIFETIME",
        "sliding_token_refresh_lifetime",
    ),
    (
        "SLIDING_TOKEN_REFRESH_EXP_CLAIM",
        "sliding_token_refresh_exp_claim",
    ),
];

/// Keys of simplejwt 5.5 that only configure Django (classes, serializers, the user model's
/// field): accepted, with a warning that they have no effect here.
const DJANGO_ONLY: &[&str] = &[
    "JSON_ENCODER",
    "JWK_URL",
    "USER_ID_FIELD",
    "USER_AUTHENTICATION_RULE",
    "TOKEN_USER_CLASS",
    "TOKEN_OBTAIN_SERIALIZER",
    "TOKEN_REFRESH_SERIALIZER",
    "TOKEN_VERIFY_SERIALIZER",
    "TOKEN_BLACKLIST_SERIALIZER",
    "SLIDING_TOKEN_OBTAIN_SERIALIZER",
    "SLIDING_TOKEN_REFRESH_SERIALIZER",
    "CHECK_REVOKE_TOKEN",
    "REVOKE_TOKEN_CLAIM",
    "CHECK_USER_IS_ACTIVE",
];

/// Keys simplejwt itself refuses, with what replaced them.
const REMOVED: &[(&str, &str)] = &[
    ("AUTH_HEADER_TYPE", "AUTH_HEADER_TYPES"),
    ("AUTH_TOKEN_CLASS", "AUTH_TOKEN_CLASSES"),
    ("SECRET_KEY", "SIGNING_KEY"),
    ("TOKEN_BACKEND_CLASS", "ALGORITHM and SIGNING_KEY"),
];

/// What the table amounts to: Tessera settings (name, value) and warnings for the operator.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Translated {
    pub(crate) settings: Vec<(&'static str, toml::Value)>,
    pub(crate) warnings: Vec<String>,
}

/// Translates a `[simplejwt]` table; the error names the key.
pub(crate) fn translate(table: &toml::Table) -> Result<Translated, String> {
    let mut out = Translated::default();
    for (key, value) in table {
        let invalid = |why: String| format!("[simplejwt] {key}: {why}");
        if let Some((_, setting)) = SAME_VALUE.iter().find(|(name, _)| name == key) {
            // simplejwt's "unset" spellings: an empty VERIFYING_KEY, AUDIENCE or ISSUER.
            if value.as_str() == Some("") {
                continue;
            }
            out.settings.push((setting, value.clone()));
        } else if key == "AUTH_HEADER_NAME" {
            let text = value.as_str().ok_or_else(|| {
                invalid("expected a string such as \"HTTP_AUTHORIZATION\"".into())
            })?;
            out.settings.push((
                "auth_header_name",
                header_of_meta(text).map_err(invalid)?.into(),
            ));
        } else if key == "AUTH_TOKEN_CLASSES" {
            let classes = token_classes(value).map_err(invalid)?;
            out.settings
                .push(("auth_token_classes", toml::Value::Array(classes)));
        } else if DJANGO_ONLY.contains(&key.as_str()) {
            out.warnings.push(format!(
                "[simplejwt] {key} configures Django only; it has no effect in Tessera"
            ));
        } else if let Some((_, instead)) = REMOVED.iter().find(|(name, _)| name == key) {
            return Err(invalid(format!(
                "removed from simplejwt; use {instead} instead"
            )));
        } else {
            return Err(format!(
                "[simplejwt] {key} is not a simplejwt setting (a typo?)"
            ));
        }
    }
    Ok(out)
}

/// Django's `request.META` name of a header (`HTTP_X_ACCESS_TOKEN`) as the header
/// (`X-Access-Token`).
fn header_of_meta(meta: &str) -> Result<String, String> {
    let words = meta
        .strip_prefix("HTTP_")
        .filter(|rest| !rest.is_empty())
        .ok_or_else(|| format!("{meta:?} is not a request header's META name (HTTP_...)"))?;
    let header = words
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => {
                    first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
                }
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-");
    axum_header_ok(&header)
        .then_some(header.clone())
        .ok_or_else(|| format!("{meta:?} does not name a valid header"))
}

fn axum_header_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .split('-')
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// `AUTH_TOKEN_CLASSES` (import paths, as in Django) as Tessera's class names.
fn token_classes(value: &toml::Value) -> Result<Vec<toml::Value>, String> {
    let paths: Vec<&str> = match value {
        toml::Value::String(one) => vec![one.as_str()],
        toml::Value::Array(many) => many
            .iter()
            .map(|v| v.as_str().ok_or_else(|| "expected strings".to_owned()))
            .collect::<Result<_, _>>()?,
        _ => return Err("expected a list of token classes".into()),
    };
    paths
        .into_iter()
        .map(|path| match path.rsplit('.').next() {
            Some("AccessToken") => Ok("access".into()),
            Some("SlidingToken") => Ok("sliding".into()),
            _ => Err(format!(
                "{path:?}: Tessera's token classes are rest_framework_simplejwt.tokens.AccessToken and .SlidingToken"
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn keys_become_tessera_settings() {
        let translated = translate(&table(
            r#"
            ACCESS_TOKEN_LIFETIME = 600
            AUTH_HEADER_NAME = "HTTP_X_ACCESS_TOKEN"
            AUTH_TOKEN_CLASSES = ["rest_framework_simplejwt.tokens.SlidingToken"]
            VERIFYING_KEY = ""
            "#,
        ))
        .unwrap();
        assert_eq!(
            translated.settings,
            [
                ("access_token_lifetime", toml::Value::Integer(600)),
                ("auth_header_name", "X-Access-Token".into()),
                (
                    "auth_token_classes",
                    toml::Value::Array(vec!["sliding".into()])
                ),
            ]
        );
        assert!(translated.warnings.is_empty());
    }

    #[test]
    fn django_only_keys_warn_and_unknown_or_removed_ones_fail() {
        let translated = translate(&table(
            "USER_ID_FIELD = \"id\"\nTOKEN_OBTAIN_SERIALIZER = \"x.Y\"\n",
        ))
        .unwrap();
        assert_eq!(translated.warnings.len(), 2);
        assert!(translated.warnings[0].contains("TOKEN_OBTAIN_SERIALIZER"));
        let typo = translate(&table("ACESS_TOKEN_LIFETIME = 1")).unwrap_err();
        assert!(typo.contains("ACESS_TOKEN_LIFETIME"), "{typo}");
        let removed = translate(&table("SECRET_KEY = \"x\"")).unwrap_err();
        assert!(removed.contains("use SIGNING_KEY"), "{removed}");
    }

    #[test]
    fn header_names_and_classes_are_checked() {
        assert_eq!(
            header_of_meta("HTTP_AUTHORIZATION").unwrap(),
            "Authorization"
        );
        assert!(header_of_meta("AUTHORIZATION").is_err());
        assert!(header_of_meta("HTTP_").is_err());
        assert!(header_of_meta("HTTP_X__Y").is_err());
        assert!(token_classes(&"app.tokens.RefreshToken".into()).is_err());
    }
}

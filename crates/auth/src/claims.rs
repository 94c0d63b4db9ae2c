//! What a user's access token says about them: roles and custom claims, and the rules that keep
//! those from interfering with the claims the server relies on.

use serde_json::{Map, Value};

use crate::error::AuthError;

/// Claims the server writes itself; custom claims may never set them.
pub const RESERVED_CLAIMS: [&str; 14] = [
    "exp",
    "iat",
    "nbf",
    "jti",
    "iss",
    "aud",
    "sub",
    "sid",
    "user_id",
    "token_type",
    "roles",
    "role",
    "scope",
    "client_id",
];

/// Room kept in the size budget for the header, the signature (up to RSA-4096) and the registered
/// claims of an access token, in bytes of the compact token.
const FIXED_OVERHEAD: usize = 1_200;

/// Checks roles and custom claims before they are stored: role names are non-empty strings without
/// surrounding space, no custom claim uses a reserved name, and the access token they make stays
/// under `max_token_bytes` (so it is refused here, not discovered at login).
pub fn check_profile(
    roles: &[String],
    claims: &Map<String, Value>,
    max_token_bytes: usize,
) -> Result<(), AuthError> {
    if let Some(bad) = roles
        .iter()
        .find(|r| r.is_empty() || r.trim() != r.as_str() || r.len() > 64)
    {
        return Err(AuthError::InvalidProfile {
            field: "roles",
            message: format!(
                "Role name {bad:?} must be 1 to 64 characters without surrounding spaces."
            ),
        });
    }
    if let Some(name) = claims
        .keys()
        .find(|k| RESERVED_CLAIMS.contains(&k.as_str()))
    {
        return Err(AuthError::InvalidProfile {
            field: "claims",
            message: format!("Claim \"{name}\" is reserved and cannot be set."),
        });
    }
    let payload =
        serde_json::to_string(&(roles, claims)).map_err(|e| AuthError::Internal(e.to_string()))?;
    let estimated = FIXED_OVERHEAD + payload.len().div_ceil(3) * 4;
    if estimated > max_token_bytes {
        return Err(AuthError::InvalidProfile {
            field: "claims",
            message: format!(
                "Roles and claims would make access tokens about {estimated} bytes, over the {max_token_bytes}-byte limit."
            ),
        });
    }
    Ok(())
}

/// The claims an access token adds for a user: `roles`, `role` when there is exactly one, and the
/// custom claims (all of them, or only those named in `only`). Reserved names are skipped even if
/// they slipped into storage.
pub fn access_claims(
    roles: &[String],
    claims: &Map<String, Value>,
    only: Option<&[String]>,
) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("roles".into(), Value::from(roles.to_vec()));
    if let [single] = roles {
        out.insert("role".into(), Value::from(single.clone()));
    }
    for (name, value) in claims {
        let allowed = only.is_none_or(|names| names.iter().any(|n| n == name));
        if allowed && !RESERVED_CLAIMS.contains(&name.as_str()) {
            out.insert(name.clone(), value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn reserved_names_are_refused_by_name() {
        for name in RESERVED_CLAIMS {
            let error = check_profile(&[], &map(json!({ name: 1 })), 8192).unwrap_err();
            assert!(error.to_string().contains(name), "{error}");
        }
        assert!(check_profile(&["admin".into()], &map(json!({"name": "Joker"})), 8192).is_ok());
        assert!(check_profile(&[" admin".into()], &Map::new(), 8192).is_err());
        assert!(check_profile(&[String::new()], &Map::new(), 8192).is_err());
    }

    #[test]
    fn oversized_profiles_are_refused_up_front() {
        let big = map(json!({"bio": "x".repeat(6_000)}));
        assert!(check_profile(&[], &big, 8192).is_err());
        assert!(check_profile(&[], &big, 16_384).is_ok());
    }

    #[test]
    fn access_claims_carry_roles_role_and_chosen_claims() {
        let claims = map(json!({"name": "Joker", "email": "j@example.com", "exp": 1}));
        let one = access_claims(&["joker".into()], &claims, None);
        assert_eq!(
            Value::Object(one),
            json!({"roles": ["joker"], "role": "joker", "name": "Joker", "email": "j@example.com"})
        );
        let two = access_claims(&["a".into(), "b".into()], &claims, Some(&["name".into()]));
        assert_eq!(
            Value::Object(two),
            json!({"roles": ["a", "b"], "name": "Joker"})
        );
    }
}

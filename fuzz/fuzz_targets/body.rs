//! HTTP request bodies (JSON and form) as the handlers read them, and the OAuth endpoints' forms:
//! any bytes under any media type must give the fields or an error (DRF's, or RFC 6749's), never a
//! panic; a field read never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_server::extract::Body;
use tessera_server::oauth::OAuthForm;

const MEDIA_TYPES: [Option<&str>; 6] = [
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    Some("application/merge-patch+json"),
    Some("text/plain"),
    None,
    Some("application/"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let media_type = MEDIA_TYPES[usize::from(selector) % MEDIA_TYPES.len()];
    if let Ok(form) = OAuthForm::parse(media_type, bytes) {
        for name in ["grant_type", "client_id", "client_secret", "scope", "token"] {
            assert!(form.get(name).is_none_or(|value| !value.is_empty()));
        }
    }
    let Ok(mut body) = Body::parse(media_type, bytes) else {
        return;
    };
    let username = body.char_field("username", true);
    let password = body.char_field("password", false);
    assert!(username.trim() == username.as_str(), "a trimmed field keeps spaces");
    let _ = (password, body.optional_char_field("refresh"));
    let _ = body.optional_string_list("roles");
    let _ = body.optional_object("claims");
    let _ = body.optional_bool("is_active");
    let _ = body.finish();
});

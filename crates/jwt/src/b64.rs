//! Strict base64url (RFC 7515 §2): no padding, no `+` or `/`, no whitespace, no non-canonical
//! trailing bits. The `base64` crate's URL-safe no-pad engine already refuses all of those.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Decodes strict base64url into a new vector; `None` on any deviation.
pub(crate) fn decode(input: &[u8]) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(input).ok()
}

/// Decodes strict base64url into `out`, returning the decoded length; `None` on any deviation or
/// if `out` is too small.
pub(crate) fn decode_into(input: &[u8], out: &mut [u8]) -> Option<usize> {
    URL_SAFE_NO_PAD.decode_slice(input, out).ok()
}

/// Encodes as unpadded base64url.
pub(crate) fn encode(input: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(input)
}

/// Appends unpadded base64url to `out`.
pub(crate) fn encode_to(input: &[u8], out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(input, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_padding_alphabet_and_trailing_bits() {
        assert_eq!(decode(b"YQ").as_deref(), Some(&b"a"[..]));
        assert!(decode(b"YQ==").is_none(), "padding");
        assert!(decode(b"YR").is_none(), "non-canonical trailing bits");
        assert!(decode(b"+/8").is_none(), "standard alphabet");
        assert!(decode(b"Y Q").is_none(), "whitespace");
        assert!(decode(b"Y").is_none(), "impossible length");
        assert_eq!(decode(b"-_8").as_deref(), Some(&[0xfb, 0xff][..]));
    }
}

//! Strict base64url (RFC 7515 §2): no padding, no `+` or `/`, no whitespace, no non-canonical
//! trailing bits. Decoding, on the verification path, uses `base64-simd` (several times faster on
//! token-sized input); encoding uses the `base64` crate. Both refuse every deviation above, and the
//! tests below hold the decoder to the `base64` crate's verdict on arbitrary input.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Decodes strict base64url into a new vector; `None` on any deviation.
pub(crate) fn decode(input: &[u8]) -> Option<Vec<u8>> {
    base64_simd::URL_SAFE_NO_PAD.decode_to_vec(input).ok()
}

/// Decodes strict base64url into `out`, returning the decoded length; `None` on any deviation or
/// if `out` is too small.
pub(crate) fn decode_into(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let engine = base64_simd::URL_SAFE_NO_PAD;
    let len = engine.decoded_length(input).ok()?;
    let out = out.get_mut(..len)?;
    engine
        .decode(input, base64_simd::Out::from_slice(out))
        .ok()
        .map(|decoded| decoded.len())
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
        let mut small = [0u8; 1];
        assert_eq!(decode_into(b"YQ", &mut small), Some(1));
        assert_eq!(decode_into(b"YWI", &mut small), None, "too small a buffer");
    }

    proptest::proptest! {
        /// The SIMD decoder agrees with the `base64` crate's strict engine on any input, valid or
        /// not, and round-trips what the encoder writes.
        #[test]
        fn the_decoder_agrees_with_the_base64_crate(
            input in "[A-Za-z0-9_+/= -]{0,80}",
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        ) {
            proptest::prop_assert_eq!(decode(input.as_bytes()), URL_SAFE_NO_PAD.decode(&input).ok());
            proptest::prop_assert_eq!(decode(encode(&bytes).as_bytes()), Some(bytes));
        }
    }
}

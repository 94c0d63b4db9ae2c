//! A minimal DER reader: just enough to take apart the structures aws-lc-rs hands back (PKCS#8,
//! PKCS#1 `RSAPrivateKey`, `SubjectPublicKeyInfo`) so their parts can be written as JWK members.
//! It reads only well-formed output of the crypto library, never token input.

/// One tag-length-value element.
pub(crate) struct Tlv<'a> {
    pub(crate) tag: u8,
    pub(crate) value: &'a [u8],
}

/// Reads consecutive DER elements from a buffer.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const BIT_STRING: u8 = 0x03;

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Reader { rest: input }
    }

    /// The next element, or `None` if the input is exhausted or not DER.
    pub(crate) fn next(&mut self) -> Option<Tlv<'a>> {
        let (&tag, rest) = self.rest.split_first()?;
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let (len_bytes, after) = rest.split_at(count);
            rest = after;
            len_bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        if rest.len() < len {
            return None;
        }
        let (value, after) = rest.split_at(len);
        self.rest = after;
        Some(Tlv { tag, value })
    }

    /// The next element, required to carry `tag`.
    pub(crate) fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        self.next()
            .filter(|tlv| tlv.tag == tag)
            .map(|tlv| tlv.value)
    }

    /// The next INTEGER as unsigned big-endian bytes without leading zeros.
    pub(crate) fn unsigned(&mut self) -> Option<&'a [u8]> {
        let mut value = self.expect(INTEGER)?;
        while value.len() > 1 && value[0] == 0 {
            value = &value[1..];
        }
        Some(value)
    }
}

/// The inner contents of a SEQUENCE that makes up all of `input`.
pub(crate) fn sequence(input: &[u8]) -> Option<Reader<'_>> {
    Reader::new(input).expect(SEQUENCE).map(Reader::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        let mut long = vec![SEQUENCE, 0x81, 0x83, INTEGER, 0x81, 0x80];
        long.extend(std::iter::repeat_n(0u8, 0x80));
        let mut outer = sequence(&long).unwrap();
        assert_eq!(outer.unsigned().unwrap(), &[0]);
        assert!(outer.next().is_none());
        assert!(sequence(&[SEQUENCE, 0x05, 1]).is_none(), "truncated");
        assert!(sequence(&[SEQUENCE, 0x80]).is_none(), "indefinite length");
    }
}

//! Structural checks of untrusted JSON that `serde_json` does not make: duplicate members, and
//! lone UTF-16 surrogate escapes in strings it skips.
//!
//! `serde_json` silently keeps the last of two members with one name, so `{"alg":"RS256","alg":"none"}`
//! would mean different things to different parsers. RFC 7515 §5.2 and RFC 7519 §7.2 let us reject
//! such input, and we do, at every depth, before any value is used. This is a structural scan only:
//! it never decides whether the JSON is valid (the parser that runs next does), so it only needs to be
//! right on valid JSON and must not panic on anything else.

use std::borrow::Cow;

enum Frame<'a> {
    Object {
        keys: Vec<Cow<'a, [u8]>>,
        expect_key: bool,
    },
    Array,
}

/// Returns the first member name that occurs twice in one object, anywhere in `json`.
pub(crate) fn find_duplicate_member(json: &[u8]) -> Option<String> {
    let mut stack: Vec<Frame<'_>> = Vec::new();
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => {
                let start = i + 1;
                let mut escaped = false;
                let mut j = start;
                // Jump from quote-or-backslash to quote-or-backslash: strings are most of the bytes.
                while let Some(offset) = json
                    .get(j..)
                    .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
                {
                    j += offset;
                    if json[j] == b'"' {
                        break;
                    }
                    escaped = true;
                    j += 2;
                }
                if j > json.len() || json.get(j) != Some(&b'"') {
                    j = json.len();
                }
                let end = j.min(json.len());
                if let Some(Frame::Object { keys, expect_key }) = stack.last_mut()
                    && *expect_key
                {
                    *expect_key = false;
                    let raw = &json[start..end];
                    let name: Cow<'_, [u8]> = if escaped {
                        // Compare names as the parser will see them: "\u0061" is "a".
                        match json
                            .get(i..=end)
                            .and_then(|quoted| serde_json::from_slice::<String>(quoted).ok())
                        {
                            Some(unescaped) => Cow::Owned(unescaped.into_bytes()),
                            None => return None,
                        }
                    } else {
                        Cow::Borrowed(raw)
                    };
                    if keys.contains(&name) {
                        return Some(String::from_utf8_lossy(&name).into_owned());
                    }
                    keys.push(name);
                }
                i = end + 1;
                continue;
            }
            b'{' => stack.push(Frame::Object {
                keys: Vec::with_capacity(16),
                expect_key: true,
            }),
            b'[' => stack.push(Frame::Array),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => {
                if let Some(Frame::Object { expect_key, .. }) = stack.last_mut() {
                    *expect_key = true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Whether `json` holds a `\uXXXX` escape of a UTF-16 surrogate that is not half of a pair.
///
/// `serde_json` refuses `"\ud800"` in a string it decodes, but not in one it skips (a member the
/// target type ignores), so the same bytes would be valid or not depending on who reads them. RFC
/// 8259 §8.2 leaves such strings' meaning unpredictable; we refuse them wherever they are. Outside
/// strings a backslash is already invalid JSON, so every backslash is looked at.
pub(crate) fn has_lone_surrogate(json: &[u8]) -> bool {
    let hex4 = |at: usize| -> Option<u16> {
        let digits = json.get(at..at + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        u16::from_str_radix(text, 16)
            .ok()
            .filter(|_| digits.iter().all(u8::is_ascii_hexdigit))
    };
    let mut i = 0;
    while let Some(offset) = json.get(i..).and_then(|rest| memchr::memchr(b'\\', rest)) {
        i += offset;
        if json.get(i + 1) != Some(&b'u') {
            // `\\`, `\"` and the rest: skip the escaped character with its backslash.
            i += 2;
            continue;
        }
        match hex4(i + 2) {
            Some(0xD800..=0xDBFF) => {
                let low = (json.get(i + 6..i + 8) == Some(b"\\u"))
                    .then(|| hex4(i + 8))
                    .flatten();
                if !matches!(low, Some(0xDC00..=0xDFFF)) {
                    return true;
                }
                i += 12;
            }
            Some(0xDC00..=0xDFFF) => return true,
            _ => i += 6,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::find_duplicate_member as dup;

    #[test]
    fn finds_duplicates_at_any_depth() {
        assert_eq!(dup(br#"{"a":1,"a":2}"#).as_deref(), Some("a"));
        assert_eq!(dup(br#"{"x":{"b":1,"b":2}}"#).as_deref(), Some("b"));
        assert_eq!(
            dup(br#"{"x":[{"c":1},{"c":1,"c":2}]}"#).as_deref(),
            Some("c")
        );
        assert_eq!(dup(br#"{"a":1,"\u0061":2}"#).as_deref(), Some("a"));
    }

    #[test]
    fn values_and_sibling_objects_are_not_keys() {
        assert_eq!(dup(br#"{"a":"a","b":{"a":1},"c":[{"a":1},{"a":2}]}"#), None);
        assert_eq!(dup(br#"{"a\"b":1,"a":2}"#), None);
        assert_eq!(dup(br#"{"s":"x,\"y\":{","y":1}"#), None);
        assert_eq!(dup(br#"["a","a"]"#), None);
    }

    #[test]
    fn lone_surrogates_are_found_and_pairs_are_not() {
        use super::has_lone_surrogate as lone;
        assert!(lone(br#"{"x":"\ud800"}"#));
        assert!(lone(br#"{"x":"\uDC00"}"#));
        assert!(lone(br#"{"x":"\ud800\u0041"}"#));
        assert!(lone(br#"{"x":"\ud800\ud800"}"#));
        assert!(
            lone(br#"{"x":"a\\\ud800"}"#),
            "an escaped backslash, then the escape"
        );
        assert!(!lone(br#"{"x":"\ud83d\ude00"}"#));
        assert!(
            !lone(br#"{"x":"\\ud800"}"#),
            "an escaped backslash, then text"
        );
        assert!(!lone(br#"{"x":"\u00e9\n\"q\""}"#));
        for garbage in [&b"\\"[..], b"\\u", b"\\ud8", b"\\ud800\\", b"\\ud800\\u12"] {
            let _ = lone(garbage);
        }
    }

    #[test]
    fn garbage_never_panics() {
        for input in [&b"\"\\"[..], b"{\"", b"}}}]]", b"{\"a\\", b"{,,\"a\":1,\"a"] {
            let _ = dup(input);
        }
    }
}

//! Duplicate member detection for untrusted JSON.
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
    fn garbage_never_panics() {
        for input in [&b"\"\\"[..], b"{\"", b"}}}]]", b"{\"a\\", b"{,,\"a\":1,\"a"] {
            let _ = dup(input);
        }
    }
}

//! Short texts from untrusted requests and operators: RFC 3339 times (the audit log's `since`) and
//! Django database URLs (`tessera import django --from`). Any text gives a value or `None`/an
//! error, never a panic; a time that parses prints back to the same instant.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_server::views::{parse_rfc3339, rfc3339};
use tessera_store::DjangoDatabase;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(unix) = parse_rfc3339(text) {
        if unix >= 0 {
            assert_eq!(parse_rfc3339(&rfc3339(unix)), Some(unix), "{text:?}");
        }
    }
    let _ = DjangoDatabase::parse(text);
});

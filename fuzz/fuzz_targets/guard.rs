//! What tessera-guard reads from the network: the revocation feed's event stream, cut into
//! arbitrary chunks, and remote key sets. Any bytes give events or an error, never a panic, and
//! the decoder never holds more than its limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_guard::parse_key_set;
use tessera_guard::sse::SseDecoder;

const LIMIT: usize = 256;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    if selector & 1 == 0 {
        if let Ok(text) = std::str::from_utf8(bytes)
            && let Ok(keys) = parse_key_set(text)
        {
            assert!(!keys.keys().is_empty());
            assert!(keys.keys().iter().all(|k| !k.is_symmetric()));
        }
        return;
    }
    // The selector's other bits cut the stream into chunks of 1..=128 bytes.
    let chunk = usize::from(selector >> 1).max(1);
    let mut decoder = SseDecoder::new(LIMIT);
    for piece in bytes.chunks(chunk) {
        match decoder.push(piece) {
            Ok(events) => {
                for event in events {
                    assert!(event.data.len() <= LIMIT);
                    let _ = serde_json::from_str::<serde_json::Value>(&event.data);
                }
            }
            Err(_) => return,
        }
    }
});

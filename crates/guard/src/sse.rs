//! A Server-Sent Events decoder (the WHATWG HTML "event stream" format), bounded: a line or an
//! event longer than the limit is an error, so a misbehaving peer cannot grow our memory.

/// One dispatched event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// `id:`, when the event set one.
    pub id: Option<String>,
    /// `event:` (`message` when absent).
    pub event: Option<String>,
    /// The `data:` lines joined by `\n`.
    pub data: String,
}

/// The stream broke the format or the limit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// A line or an event's data is longer than the limit.
    #[error("an event stream line or event is longer than {0} bytes")]
    TooLong(usize),
    /// The stream is not UTF-8.
    #[error("the event stream is not UTF-8")]
    NotUtf8,
}

/// Decodes an event stream fed in arbitrary chunks.
#[derive(Debug)]
pub struct SseDecoder {
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` opening the next one ends no new line.
    after_cr: bool,
    pending: SseEvent,
    has_data: bool,
    limit: usize,
    /// Whether the first line (which may open with a byte-order mark) is done.
    started: bool,
}

impl SseDecoder {
    /// A decoder refusing lines and events longer than `limit` bytes.
    pub fn new(limit: usize) -> SseDecoder {
        SseDecoder {
            line: Vec::new(),
            after_cr: false,
            pending: SseEvent::default(),
            has_data: false,
            limit,
            started: false,
        }
    }

    /// Feeds `bytes` and returns the events they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        let mut events = Vec::new();
        for &byte in bytes {
            match byte {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if let Some(event) = self.line_done(&line)? {
                        events.push(event);
                    }
                }
                _ => {
                    self.after_cr = false;
                    if self.line.len() >= self.limit {
                        return Err(SseError::TooLong(self.limit));
                    }
                    self.line.push(byte);
                }
            }
        }
        Ok(events)
    }

    fn line_done(&mut self, line: &[u8]) -> Result<Option<SseEvent>, SseError> {
        // A byte-order mark may open the stream, however the first chunks were cut.
        let line = match std::mem::replace(&mut self.started, true) {
            false => line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line),
            true => line,
        };
        if line.is_empty() {
            let event = std::mem::take(&mut self.pending);
            let had_data = std::mem::replace(&mut self.has_data, false);
            // Events without data are not dispatched; the id they set still counts.
            if !had_data {
                self.pending.id = event.id;
                return Ok(None);
            }
            let mut event = event;
            self.pending.id = event.id.clone();
            event.event.get_or_insert_with(|| "message".to_owned());
            return Ok(Some(event));
        }
        let line = std::str::from_utf8(line).map_err(|_| SseError::NotUtf8)?;
        if line.starts_with(':') {
            return Ok(None);
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.pending.data.len() + value.len() + 1 > self.limit {
                    return Err(SseError::TooLong(self.limit));
                }
                if self.has_data {
                    self.pending.data.push('\n');
                }
                self.pending.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.pending.event = Some(value.to_owned()),
            // An id with NUL is ignored, as the standard says.
            "id" if !value.contains('\0') => self.pending.id = Some(value.to_owned()),
            _ => {}
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode(chunks: &[&[u8]]) -> Result<Vec<SseEvent>, SseError> {
        let mut decoder = SseDecoder::new(1_024);
        let mut all = Vec::new();
        for chunk in chunks {
            all.extend(decoder.push(chunk)?);
        }
        Ok(all)
    }

    #[test]
    fn events_as_axum_writes_them() {
        let events = decode(&[
            b": keep-alive\n\nid: 3\nevent: revocation\ndata: {\"a\":1}\n\nid:4\ndata: x\ndata: y\n\n",
        ])
        .unwrap();
        assert_eq!(
            events,
            [
                SseEvent {
                    id: Some("3".into()),
                    event: Some("revocation".into()),
                    data: "{\"a\":1}".into()
                },
                SseEvent {
                    id: Some("4".into()),
                    event: Some("message".into()),
                    data: "x\ny".into()
                },
            ]
        );
    }

    #[test]
    fn line_endings_split_anywhere() {
        let events = decode(&[b"\xEF\xBB", b"\xBFdata: a\r", b"\n\r", b"\ndata: b\r\r"]).unwrap();
        let data: Vec<_> = events.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(data, ["a", "b"]);
    }

    #[test]
    fn limits_and_encoding() {
        let mut decoder = SseDecoder::new(8);
        assert_eq!(
            decoder.push(b"data: 0123456789\n"),
            Err(SseError::TooLong(8))
        );
        let mut decoder = SseDecoder::new(8);
        assert_eq!(
            decoder.push(b"data:1234\ndata:5678\n"),
            Err(SseError::TooLong(8)),
            "the event's data is bounded too"
        );
        assert_eq!(decode(&[b"data: \xff\n\n"]), Err(SseError::NotUtf8));
    }

    proptest! {
        /// Whatever the chunking, the same events come out.
        #[test]
        fn chunking_does_not_matter(
            payloads in proptest::collection::vec("[a-z0-9{}\":,]{0,20}", 0..6),
            cuts in proptest::collection::vec(0usize..200, 0..8),
            crlf in any::<bool>(),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let text: String = payloads
                .iter()
                .enumerate()
                .map(|(i, p)| format!("id: {i}{eol}data: {p}{eol}{eol}"))
                .collect();
            let bytes = text.as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut start = 0;
            for cut in cuts {
                chunks.push(&bytes[start..cut]);
                start = cut;
            }
            chunks.push(&bytes[start..]);
            let events = decode(&chunks).unwrap();
            prop_assert_eq!(events.len(), payloads.len());
            for (i, (event, payload)) in events.iter().zip(&payloads).enumerate() {
                prop_assert_eq!(event.id.clone(), Some(i.to_string()));
                prop_assert_eq!(&event.data, payload);
            }
        }

        /// Arbitrary bytes never panic and never hold more than the limit.
        #[test]
        fn arbitrary_input_is_bounded(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut decoder = SseDecoder::new(64);
            let _ = decoder.push(&bytes);
            prop_assert!(decoder.line.len() <= 64 && decoder.pending.data.len() <= 64);
        }
    }
}

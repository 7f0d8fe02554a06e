//! The end marker a connector's stdout ends with when a helper proves it was read whole (see
//! `runtime::docker::init`): `"\n" TOKEN " " STATUS "\n"`, found at the very end of the byte
//! stream and kept from the consumer. Pure: bytes in, bytes out.
use bytes::Bytes;

/// Finds the end marker (`"\n" TOKEN " " STATUS "\n"`) at the end of a stdout byte stream and
/// keeps it from the consumer. Holds back the last bytes that could be its beginning, so that a
/// marker cut across chunks is never half forwarded; the rest passes through without a copy.
pub struct EndMarker {
    needle: Vec<u8>,
    held: Vec<u8>,
    status: Option<i64>,
}

impl EndMarker {
    pub fn new(token: &str) -> EndMarker {
        let mut needle = Vec::with_capacity(token.len() + 2);
        needle.push(b'\n');
        needle.extend_from_slice(token.as_bytes());
        needle.push(b' ');
        EndMarker {
            needle,
            held: Vec::new(),
            status: None,
        }
    }

    /// Longest marker: the needle, a status of up to 20 digits, and the newline.
    fn max_len(&self) -> usize {
        self.needle.len() + 21
    }

    /// The exit status the marker carries, once it was seen.
    pub fn status(&self) -> Option<i64> {
        self.status
    }

    /// Takes the next stdout chunks; returns those to forward.
    pub fn filter(&mut self, batch: Vec<Bytes>) -> Vec<Bytes> {
        if self.status.is_some() {
            return batch;
        }
        let mut all = Vec::with_capacity(batch.len() + 1);
        if !self.held.is_empty() {
            all.push(Bytes::from(std::mem::take(&mut self.held)));
        }
        all.extend(batch);
        // Hold back the last max_len bytes.
        let mut keep = self.max_len();
        let mut tail = Vec::new();
        while keep > 0 {
            let Some(last) = all.pop() else { break };
            if last.len() <= keep {
                keep -= last.len();
                tail.push(last);
            } else {
                let split = last.len() - keep;
                tail.push(last.slice(split..));
                all.push(last.slice(..split));
                keep = 0;
            }
        }
        for piece in tail.iter().rev() {
            self.held.extend_from_slice(piece);
        }
        if let Some((start, status)) = self.find() {
            if start > 0 {
                all.push(Bytes::copy_from_slice(&self.held[..start]));
            }
            self.held.clear();
            self.status = Some(status);
        }
        all
    }

    /// The stream ended: the bytes still held back (no marker came, or output followed it).
    pub fn finish(&mut self) -> Option<Bytes> {
        (!self.held.is_empty()).then(|| Bytes::from(std::mem::take(&mut self.held)))
    }

    /// The marker, if the held bytes end with one: where it starts and its status.
    fn find(&self) -> Option<(usize, i64)> {
        let body = self.held.strip_suffix(b"\n")?;
        let at = memchr::memmem::rfind(body, &self.needle)?;
        let digits = &body[at + self.needle.len()..];
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let status = std::str::from_utf8(digits).ok()?.parse().ok()?;
        Some((at, status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(token: &str, chunks: &[&[u8]]) -> (Vec<u8>, Option<i64>) {
        let mut m = EndMarker::new(token);
        let mut out = Vec::new();
        for c in chunks {
            for b in m.filter(vec![Bytes::copy_from_slice(c)]) {
                out.extend_from_slice(&b);
            }
        }
        if let Some(rest) = m.finish() {
            out.extend_from_slice(&rest);
        }
        (out, m.status())
    }

    #[test]
    fn the_marker_is_found_and_removed_however_it_is_cut() {
        let body = b"{\"type\":\"RECORD\"}\n{\"type\":\"STATE\"}\n".to_vec();
        let mut stream = body.clone();
        stream.extend_from_slice(b"\nTOK 0\n");
        for cut in 0..stream.len() {
            for cut2 in cut..stream.len() {
                let (out, status) = run(
                    "TOK",
                    &[&stream[..cut], &stream[cut..cut2], &stream[cut2..]],
                );
                assert_eq!(out, body, "cut at {cut}/{cut2}");
                assert_eq!(status, Some(0));
            }
        }
    }

    #[test]
    fn the_status_is_read_and_a_missing_newline_is_kept_as_is() {
        let (out, status) = run("TOK", &[b"{\"a\":1}", b"\nTOK 137\n"]);
        assert_eq!(out, b"{\"a\":1}");
        assert_eq!(status, Some(137));
    }

    #[test]
    fn without_the_marker_everything_is_forwarded_and_no_status() {
        for input in [
            &b""[..],
            b"x\n",
            b"\nTOK \n",
            b"\nTOK 1",
            b"\nTOK x\n",
            b"\nTOKEN 1\n",
        ] {
            let (out, status) = run("TOK", &[input]);
            assert_eq!(out, input);
            assert_eq!(status, None, "{input:?}");
        }
    }

    #[test]
    fn a_marker_in_the_middle_is_not_the_end() {
        let input = b"a\nTOK 0\nmore output\n";
        let (out, status) = run("TOK", &[input]);
        assert_eq!(out, input);
        assert_eq!(status, None);
    }

    #[test]
    fn big_chunks_pass_through_and_only_the_tail_is_held() {
        let mut m = EndMarker::new("TOK");
        let big = Bytes::from(vec![b'x'; 100_000]);
        let out = m.filter(vec![big.clone()]);
        let forwarded: usize = out.iter().map(Bytes::len).sum();
        assert_eq!(forwarded, 100_000 - m.max_len());
        // The forwarded part is a slice of the chunk, not a copy.
        assert_eq!(out[0].as_ptr(), big.as_ptr());
    }
}

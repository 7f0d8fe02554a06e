//! The end marker a connector's stdout ends with when a helper proves it was read whole (see
//! `runtime::docker::init`): the helper writes `"\n" TOKEN " " STATUS "\n"` after the connector's
//! last byte and after every other process of the container is gone, so the marker is the stream's
//! last line. Found there and kept from the consumer. Pure: bytes in, bytes out.
use bytes::Bytes;

/// Most digits of a status.
const MAX_DIGITS: usize = 20;

/// Finds the end marker line (`TOKEN " " STATUS`) at the end of a stdout byte stream and keeps it
/// from the consumer. Complete lines pass at once and without a copy; only a trailing piece of a
/// line that could be the start of the marker is held back until its line completes, so nothing a
/// connector wrote waits for more output.
pub struct EndMarker {
    /// `TOKEN " "`.
    prefix: Vec<u8>,
    held: Vec<u8>,
    status: Option<i64>,
    /// Whether the bytes forwarded so far end with a newline (the marker line starts after one).
    after_newline: bool,
}

impl EndMarker {
    pub fn new(token: &str) -> EndMarker {
        let mut prefix = token.as_bytes().to_vec();
        prefix.push(b' ');
        EndMarker {
            prefix,
            held: Vec::new(),
            status: None,
            after_newline: false,
        }
    }

    /// Longest marker line with its newline.
    fn max_line(&self) -> usize {
        self.prefix.len() + MAX_DIGITS + 1
    }

    /// The exit status the marker carries, once it was seen.
    pub fn status(&self) -> Option<i64> {
        self.status
    }

    /// Could these bytes (a line without its newline, or its beginning) be the marker line?
    fn could_start_marker(&self, partial: &[u8]) -> bool {
        let n = partial.len().min(self.prefix.len());
        partial[..n] == self.prefix[..n]
            && partial.len() <= self.prefix.len() + MAX_DIGITS
            && partial[n..].iter().all(u8::is_ascii_digit)
    }

    /// Takes the next stdout chunks; returns those to forward.
    pub fn filter(&mut self, batch: Vec<Bytes>) -> Vec<Bytes> {
        if self.status.is_some() {
            return batch;
        }
        let mut all = Vec::with_capacity(batch.len() + 1);
        let after_newline = self.after_newline;
        if !self.held.is_empty() {
            all.push(Bytes::from(std::mem::take(&mut self.held)));
        }
        all.extend(batch.into_iter().filter(|b| !b.is_empty()));
        // The trailing piece of a line: held back only when it could be the marker's beginning.
        let tail = last_bytes(&all, self.max_line() + 1);
        let partial_len = match memchr::memrchr(b'\n', &tail) {
            Some(nl) => tail.len() - nl - 1,
            None if tail.len() <= self.max_line() => tail.len(),
            None => 0, // longer than any marker: not one
        };
        if partial_len > 0 && self.could_start_marker(&tail[tail.len() - partial_len..]) {
            self.held = tail[tail.len() - partial_len..].to_vec();
            truncate_end(&mut all, partial_len);
        }
        // The last complete line, when it is the marker (after a newline: the helper writes one
        // before it).
        let tail = last_bytes(&all, self.max_line() + 1);
        if let Some(body) = tail.strip_suffix(b"\n") {
            let line_start = match memchr::memrchr(b'\n', body) {
                Some(nl) => Some(nl + 1),
                None if tail.len() == total_len(&all) && after_newline => Some(0),
                None => None,
            };
            if let Some(start) = line_start {
                let line = &body[start..];
                if let Some(digits) = line.strip_prefix(self.prefix.as_slice()) {
                    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
                        if let Some(status) = std::str::from_utf8(digits)
                            .ok()
                            .and_then(|d| d.parse().ok())
                        {
                            self.status = Some(status);
                            truncate_end(&mut all, line.len() + 1);
                        }
                    }
                }
            }
        }
        if let Some(last) = all.last().and_then(|b| b.last()) {
            self.after_newline = *last == b'\n';
        }
        all
    }

    /// The stream ended (or the run stops): the bytes still held back.
    pub fn finish(&mut self) -> Option<Bytes> {
        (!self.held.is_empty()).then(|| Bytes::from(std::mem::take(&mut self.held)))
    }
}

/// The last `n` bytes of a chunk list (fewer when there are fewer), copied.
fn last_bytes(chunks: &[Bytes], n: usize) -> Vec<u8> {
    let mut pieces = Vec::new();
    let mut need = n;
    for chunk in chunks.iter().rev() {
        if need == 0 {
            break;
        }
        let take = chunk.len().min(need);
        pieces.push(&chunk[chunk.len() - take..]);
        need -= take;
    }
    pieces
        .iter()
        .rev()
        .flat_map(|p| p.iter().copied())
        .collect()
}

fn total_len(chunks: &[Bytes]) -> usize {
    chunks.iter().map(Bytes::len).sum()
}

/// Drops the last `n` bytes of a chunk list (slicing, not copying).
fn truncate_end(chunks: &mut Vec<Bytes>, mut n: usize) {
    while n > 0 {
        let Some(last) = chunks.pop() else { return };
        if last.len() <= n {
            n -= last.len();
        } else {
            chunks.push(last.slice(..last.len() - n));
            n = 0;
        }
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
        // What is left is the connector's output and the newline the helper writes first.
        let mut expected = body.clone();
        expected.push(b'\n');
        for cut in 0..stream.len() {
            for cut2 in cut..stream.len() {
                let (out, status) = run(
                    "TOK",
                    &[&stream[..cut], &stream[cut..cut2], &stream[cut2..]],
                );
                assert_eq!(out, expected, "cut at {cut}/{cut2}");
                assert_eq!(status, Some(0));
            }
        }
    }

    #[test]
    fn the_status_is_read_and_a_last_line_without_newline_is_completed() {
        let (out, status) = run("TOK", &[b"{\"a\":1}", b"\nTOK 137\n"]);
        assert_eq!(out, b"{\"a\":1}\n");
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
            b"TOK 1\n",
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
    fn complete_lines_are_never_held_back() {
        let mut m = EndMarker::new("TOK");
        let out = m.filter(vec![Bytes::from_static(b"{\"type\":\"STATE\"}\n")]);
        assert_eq!(out.concat(), b"{\"type\":\"STATE\"}\n");
        // A piece of a line that cannot be the marker passes too; one that could waits.
        let out = m.filter(vec![Bytes::from_static(b"{\"type\":")]);
        assert_eq!(out.concat(), b"{\"type\":");
        let out = m.filter(vec![Bytes::from_static(b"\nTO")]);
        assert_eq!(out.concat(), b"\n");
        assert_eq!(m.finish().as_deref(), Some(&b"TO"[..]));
    }

    #[test]
    fn big_chunks_pass_through_without_a_copy() {
        let mut m = EndMarker::new("TOK");
        let big = Bytes::from(vec![b'x'; 100_000]);
        let out = m.filter(vec![big.clone()]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].as_ptr(), big.as_ptr());
        assert_eq!(out[0].len(), 100_000);
    }
}

//! Cuts a byte stream into lines. Docker output frames do not line up with lines (a frame may hold
//! a piece of a line or many lines), so lines are reassembled here, with a maximum length.
//!
//! Complete lines inside a chunk are handed out as slices of that chunk (no copy); only a line
//! that spans chunks is gathered in a buffer, which grows to the longest such line and no further.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LineError {
    #[error(
        "the connector wrote a line longer than {max} bytes (max_line_bytes); raise `max_line_bytes` if records \
         this large are expected"
    )]
    TooLong { max: usize },
}

/// Capacity the line buffer keeps between lines; a larger one (left by a huge record) is freed.
const KEEP_CAPACITY: usize = 1024 * 1024;

pub struct LineFramer {
    partial: Vec<u8>,
    max: usize,
    /// Cut lines longer than `max` to their first `max` bytes instead of failing (for logs).
    truncate: bool,
}

impl LineFramer {
    pub fn new(max: usize) -> LineFramer {
        LineFramer {
            partial: Vec::new(),
            max,
            truncate: false,
        }
    }

    /// A framer that hands out only the first `max` bytes of a longer line, never an error: for
    /// text that is logged, not parsed.
    pub fn truncating(max: usize) -> LineFramer {
        LineFramer {
            truncate: true,
            ..LineFramer::new(max)
        }
    }

    /// Changes the longest line kept (a truncating framer's window can grow).
    pub fn set_max(&mut self, max: usize) {
        self.max = max;
    }

    /// Feeds a chunk; `on_line` gets every line it completes, without the newline.
    pub fn push<E: From<LineError>>(
        &mut self,
        chunk: &[u8],
        mut on_line: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut rest = chunk;
        if !self.partial.is_empty() {
            match memchr::memchr(b'\n', rest) {
                Some(nl) => {
                    self.extend(&rest[..nl])?;
                    on_line(&self.partial)?;
                    self.partial.clear();
                    if self.partial.capacity() > KEEP_CAPACITY {
                        // A very large record passed: give its memory back.
                        self.partial = Vec::new();
                    }
                    rest = &rest[nl + 1..];
                }
                None => return self.extend(rest).map_err(E::from),
            }
        }
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', rest) {
            let mut line = &rest[start..nl];
            if line.len() > self.max {
                if !self.truncate {
                    return Err(LineError::TooLong { max: self.max }.into());
                }
                line = &line[..self.max];
            }
            on_line(line)?;
            start = nl + 1;
        }
        self.extend(&rest[start..]).map_err(E::from)
    }

    fn extend(&mut self, bytes: &[u8]) -> Result<(), LineError> {
        if self.truncate {
            let room = self.max.saturating_sub(self.partial.len());
            self.partial
                .extend_from_slice(&bytes[..bytes.len().min(room)]);
            return Ok(());
        }
        if self.partial.len() + bytes.len() > self.max {
            self.partial = Vec::new();
            return Err(LineError::TooLong { max: self.max });
        }
        self.partial.extend_from_slice(bytes);
        Ok(())
    }

    /// The last line if the stream did not end with a newline (a torn last line).
    pub fn finish(self) -> Option<Vec<u8>> {
        (!self.partial.is_empty()).then_some(self.partial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(chunks: &[&[u8]], max: usize) -> Result<(Vec<String>, Option<Vec<u8>>), LineError> {
        let mut f = LineFramer::new(max);
        let mut lines = vec![];
        for c in chunks {
            f.push::<LineError>(c, |l| {
                lines.push(String::from_utf8(l.to_vec()).unwrap());
                Ok(())
            })?;
        }
        Ok((lines, f.finish()))
    }

    #[test]
    fn frames_split_and_join_lines() {
        let (lines, rest) = frame(&[b"a\nb", b"c", b"d\n\ne\nf"], 100).unwrap();
        assert_eq!(lines, ["a", "bcd", "", "e"]);
        assert_eq!(rest.as_deref(), Some(&b"f"[..]));
        let (lines, rest) = frame(&[b"x", b"y", b"\n"], 100).unwrap();
        assert_eq!((lines, rest), (vec!["xy".to_string()], None));
    }

    #[test]
    fn every_split_point_gives_the_same_lines() {
        let input = b"{\"a\":1}\nsecond line\n\nthird\n";
        for cut in 0..input.len() {
            let (lines, rest) = frame(&[&input[..cut], &input[cut..]], 100).unwrap();
            assert_eq!(
                lines,
                ["{\"a\":1}", "second line", "", "third"],
                "cut at {cut}"
            );
            assert_eq!(rest, None);
        }
    }

    #[test]
    fn a_truncating_framer_cuts_long_lines_and_never_fails() {
        let mut f = LineFramer::truncating(4);
        let mut lines = vec![];
        for c in [
            &b"123456
ab"[..],
            b"cdefg",
            b"h
xy
",
            b"tail",
        ] {
            f.push::<LineError>(c, |l| {
                lines.push(String::from_utf8(l.to_vec()).unwrap());
                Ok(())
            })
            .unwrap();
        }
        assert_eq!(lines, ["1234", "abcd", "xy"]);
        assert_eq!(f.finish().as_deref(), Some(&b"tail"[..]));
    }

    #[test]
    fn long_lines_are_an_error_inside_and_across_chunks() {
        assert_eq!(frame(&[b"12345\n"], 4), Err(LineError::TooLong { max: 4 }));
        assert_eq!(
            frame(&[b"12", b"345"], 4),
            Err(LineError::TooLong { max: 4 })
        );
        assert_eq!(
            frame(&[b"1234\n12", b"34\n"], 4).unwrap().0,
            ["1234", "1234"]
        );
    }
}

//! The connector's stderr: cut into lines, masked, logged as they complete; the last lines are kept
//! for error reports. A line longer than [`MAX_STDERR_LINE`] is cut, after masking: a secret that
//! straddles the cut is masked whole.
use crate::translate::redact::Redactor;
use std::collections::VecDeque;

/// How many of the connector's last stderr lines are kept for error reports.
const STDERR_TAIL: usize = 20;
/// Longest stderr line logged; the rest is cut.
const MAX_STDERR_LINE: usize = 16 * 1024;

/// The connector's stderr, cut into lines and logged as they complete; the last lines are kept.
#[derive(Default)]
pub(crate) struct StderrLines {
    partial: Vec<u8>,
    pub(crate) tail: VecDeque<String>,
    redactor: Redactor,
}

impl StderrLines {
    pub(crate) fn new(redactor: Redactor) -> StderrLines {
        StderrLines {
            redactor,
            ..StderrLines::default()
        }
    }
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        // Kept past the cut: the most a secret that begins before the cut needs to be recognised.
        let keep = MAX_STDERR_LINE + self.redactor.lookahead();
        let mut rest = chunk;
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            let room = keep.saturating_sub(self.partial.len());
            self.partial.extend_from_slice(&rest[..nl.min(room)]);
            self.line();
            rest = &rest[nl + 1..];
        }
        let room = keep.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&rest[..rest.len().min(room)]);
    }

    fn line(&mut self) {
        let (text, _) = self
            .redactor
            .redact_truncated(&self.partial, MAX_STDERR_LINE);
        self.partial.clear();
        let text = text.trim_end();
        if text.is_empty() {
            return;
        }
        tracing::info!(target: "connector::stderr", "{text}");
        if self.tail.len() == STDERR_TAIL {
            self.tail.pop_front();
        }
        self.tail.push_back(text.to_string());
    }

    pub(crate) fn finish(&mut self) {
        if !self.partial.is_empty() {
            self.line();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::redact::MASK;

    #[test]
    fn stderr_lines_are_reassembled_cut_and_tailed() {
        let mut s = StderrLines::default();
        s.push(b"one\ntw");
        s.push(b"o\n");
        let long = vec![b'x'; MAX_STDERR_LINE * 2];
        s.push(&long);
        s.push(b"\nlast");
        s.finish();
        let tail: Vec<&String> = s.tail.iter().collect();
        assert_eq!(tail[0], "one");
        assert_eq!(tail[1], "two");
        assert_eq!(tail[2].len(), MAX_STDERR_LINE);
        assert_eq!(tail[3], "last");
        for i in 0..50 {
            s.push(format!("l{i}\n").as_bytes());
        }
        assert_eq!(s.tail.len(), STDERR_TAIL);
        assert_eq!(s.tail.back().unwrap(), "l49");
    }

    #[test]
    fn a_secret_at_the_cut_is_masked_whole() {
        let secret = "Zq7-cut-secret";
        let config = serde_json::json!({"api_key": secret});
        let redactor = Redactor::new(config.as_object().unwrap(), &Default::default());
        for before_cut in 1..secret.len() {
            let mut s = StderrLines::new(redactor.clone());
            let mut line = vec![b'x'; MAX_STDERR_LINE - before_cut];
            line.extend_from_slice(secret.as_bytes());
            line.extend_from_slice(b" and more\n");
            // In frames that split the secret.
            for frame in line.chunks(MAX_STDERR_LINE - 3) {
                s.push(frame);
            }
            let shown = &s.tail[0];
            assert!(
                !shown.contains("Zq"),
                "{before_cut}: …{}",
                &shown[shown.len() - 20..]
            );
            assert!(
                shown.ends_with(MASK),
                "{before_cut}: …{}",
                &shown[shown.len() - 20..]
            );
        }
    }
}

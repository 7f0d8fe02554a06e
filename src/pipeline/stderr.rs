//! The connector's stderr: cut into lines, masked, logged as they complete; the last lines are kept
//! for error reports. A line longer than [`MAX_STDERR_LINE`] is cut, after masking: a secret that
//! straddles the cut is masked whole.
use super::lines::{LineError, LineFramer};
use crate::translate::redact::Redactor;
use std::collections::VecDeque;

/// How many of the connector's last stderr lines are kept for error reports.
const STDERR_TAIL: usize = 20;
/// Longest stderr line logged; the rest is cut.
const MAX_STDERR_LINE: usize = 16 * 1024;

/// The connector's stderr, cut into lines (by the pipeline's one [`LineFramer`], truncating) and
/// logged as they complete; the last lines are kept.
pub(crate) struct StderrLines {
    framer: LineFramer,
    pub(crate) tail: VecDeque<String>,
    redactor: Redactor,
}

impl Default for StderrLines {
    fn default() -> StderrLines {
        StderrLines::new(Redactor::default())
    }
}

impl StderrLines {
    pub(crate) fn new(redactor: Redactor) -> StderrLines {
        StderrLines {
            framer: LineFramer::truncating(MAX_STDERR_LINE + redactor.lookahead()),
            tail: VecDeque::new(),
            redactor,
        }
    }

    pub(crate) fn push(&mut self, chunk: &[u8]) {
        // Kept past the cut: the most a secret that begins before the cut needs to be recognised
        // (a secret the connector issues later makes it longer).
        self.framer
            .set_max(MAX_STDERR_LINE + self.redactor.lookahead());
        let StderrLines {
            framer,
            tail,
            redactor,
        } = self;
        let _ = framer.push::<LineError>(chunk, |line| {
            log_line(redactor, tail, line);
            Ok(())
        });
    }

    pub(crate) fn finish(&mut self) {
        let framer = std::mem::replace(&mut self.framer, LineFramer::truncating(0));
        if let Some(last) = framer.finish() {
            log_line(&self.redactor, &mut self.tail, &last);
        }
    }
}

/// Masks, cuts and logs one stderr line, and keeps it in the tail.
fn log_line(redactor: &Redactor, tail: &mut VecDeque<String>, line: &[u8]) {
    let (text, _) = redactor.redact_truncated(line, MAX_STDERR_LINE);
    let text = text.trim_end();
    if text.is_empty() {
        return;
    }
    tracing::info!(target: "connector::stderr", "{text}");
    if tail.len() == STDERR_TAIL {
        tail.pop_front();
    }
    tail.push_back(text.to_string());
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

//! The read path between the Docker runtime and stdout: stdout chunks from a bounded channel are cut
//! into lines and translated on a dedicated thread, which writes the Singer stream synchronously.
//!
//! Back-pressure: when the target reads slowly, writes to stdout block this thread, the bounded
//! channel fills, the Docker runtime stops reading the attach stream, and the connector blocks on
//! its own stdout. Memory stays bounded by the channel, the line buffer, and the output buffer.
pub mod lines;
pub mod stderr;

use crate::translate::reader::{Outcome, Reader};
use crate::translate::redact::Redactor;
use bytes::Bytes;
use lines::{LineError, LineFramer};
use std::io::{self, Write};
use stderr::StderrLines;
use tokio::sync::{mpsc, oneshot};

/// Batches in flight between the Docker runtime and the translating thread (a batch holds the
/// frames that were ready together, at most about 256 KiB): a few MiB at most.
pub const CHANNEL_CHUNKS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Line(#[from] LineError),
    #[error("stdout was closed by its reader")]
    OutputClosed,
    #[error("cannot write to stdout: {0}")]
    Output(io::Error),
}

impl From<io::Error> for PipelineError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            PipelineError::OutputClosed
        } else {
            PipelineError::Output(e)
        }
    }
}

/// A piece of the connector's output, in the order it came: stdout bytes go to the translator,
/// stderr bytes to masked log lines. One ordered channel for both means a secret the connector
/// rotates (CONTROL, on stdout) is known before any stderr line that came after it is logged.
#[derive(Debug)]
pub enum Piece {
    Stdout(Bytes),
    Stderr(Bytes),
}

/// What the translating thread returns: the outcome so far, the connector's last stderr lines
/// (masked), and why it stopped early if it did.
pub struct Finished {
    pub outcome: Outcome,
    pub stderr_tail: Vec<String>,
    pub error: Option<PipelineError>,
}

/// Starts the translating thread. It ends when the channel closes (the run is over) or on an error;
/// either way the receiver is dropped, so the Docker runtime stops too. Once the channel closes it
/// waits for the run's verdict: `true` (the connector succeeded and its whole output was read) ends
/// the sync with its final STATE ([`Reader::end_of_sync`]).
pub fn spawn<W: Write + Send + 'static>(
    mut reader: Reader,
    redactor: Redactor,
    mut chunks: mpsc::Receiver<Vec<Piece>>,
    verdict: oneshot::Receiver<bool>,
    max_line: usize,
    mut out: W,
) -> std::thread::JoinHandle<Finished> {
    std::thread::Builder::new()
        .name("translate".into())
        .spawn(move || {
            let mut stderr = StderrLines::new(redactor.clone());
            let result = (|| -> Result<(), PipelineError> {
                reader.begin(&mut out)?;
                let mut framer = LineFramer::new(max_line);
                while let Some(batch) = chunks.blocking_recv() {
                    for piece in batch {
                        match piece {
                            Piece::Stdout(chunk) => framer.push::<PipelineError>(&chunk, |line| Ok(reader.on_line(line, &mut out)?))?,
                            Piece::Stderr(chunk) => stderr.push(&chunk),
                        }
                    }
                }
                if let Some(last) = framer.finish() {
                    tracing::warn!("the connector's output did not end with a newline; reading its last line as is");
                    reader.on_line(&last, &mut out)?;
                }
                if verdict.blocking_recv() == Ok(true) && reader.outcome().errors.is_empty() {
                    reader.end_of_sync(&mut out)?;
                } else {
                    reader.end_of_failed_run(&mut out)?;
                }
                out.flush()?;
                Ok(())
            })();
            drop(chunks);
            stderr.finish();
            // Masked again now that every secret the connector issued (CONTROL) is known: a line
            // logged before its CONTROL was read is not quoted with the secret in an error.
            let stderr_tail = stderr.tail.iter().map(|l| redactor.redact(l).into_owned()).collect();
            Finished { outcome: reader.finish(), stderr_tail, error: result.err() }
        })
        .expect("a thread can be started")
}

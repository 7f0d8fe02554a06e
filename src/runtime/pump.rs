//! The one loop that drives a started connector, whatever runs it: stdout and stderr chunks, in the
//! order they came, into the bounded channel to the translating thread (a slow consumer slows the
//! connector down; see [`crate::pipeline::Piece`]), the exit status,
//! and two timers: the connector's silence (`idle_timeout_seconds`) and the stream's silence after
//! the exit (some engines keep an attach stream open after the container exits).
use super::marker::EndMarker;
use super::{Completeness, Exit, Output, RunError};
use crate::pipeline::Piece;
use bytes::Bytes;
use futures_util::{FutureExt, Stream, StreamExt};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// Most stdout bytes handed to the consumer at once.
const BATCH_BYTES: usize = 256 * 1024;
/// Where a run holds small batches ([`Started::hold`]), a batch smaller than this waits up to the
/// hold for more output before it is handed over.
const HOLD_BYTES: usize = 128 * 1024;
/// After the exit: how long the output may stay silent before it is given up.
const SILENCE_AFTER_EXIT: Duration = Duration::from_secs(5);

/// How a run proves its output complete.
pub enum Completion {
    /// A helper ends stdout with an end marker and waits for an acknowledgement on `ack`.
    Marker {
        marker: EndMarker,
        ack: Pin<Box<dyn AsyncWrite + Send>>,
    },
    /// stdout is a pipe: its end of file means every writer closed it.
    EndOfFile,
    /// Nothing proves it (an image the helper cannot run in).
    Unverifiable,
}

/// A started connector: its output as one stream (both pipes, in arrival order), its exit status,
/// and how completeness is proven. `what` names it in logs (a container id, a pid).
pub struct Started<O, E> {
    pub what: String,
    pub output: O,
    pub exit: E,
    pub completion: Completion,
    /// How long a batch smaller than 128 KiB may wait for more before it is handed to the
    /// translating thread, if at all. The engine writes an attach stream in frames of a few KiB to
    /// 32 KiB, slower than the tap reads them: without a wait the translating thread would sleep and
    /// wake once per frame. A connector's pipe comes in 64 KiB reads from a writer that can
    /// outrun the translator; there, waiting would only idle it (measured: 11 % more wall time).
    pub hold: Option<Duration>,
}

/// Pumps a started connector to its end. Does not stop or remove it: the caller does, on every path.
pub async fn pump<O, E>(
    started: Started<O, E>,
    pieces: mpsc::Sender<Vec<Piece>>,
    idle_timeout: Option<Duration>,
) -> Result<Exit, RunError>
where
    O: Stream<Item = Result<Output, RunError>> + Unpin,
    E: Future<Output = Result<i64, RunError>>,
{
    let Started {
        what,
        mut output,
        exit: exit_future,
        completion,
        hold: hold_time,
    } = started;
    let (proof, mut marker, mut ack) = match completion {
        Completion::Marker { marker, ack } => (Proof::Marker, Some(marker), Some(ack)),
        Completion::EndOfFile => (Proof::EndOfFile, None, None),
        Completion::Unverifiable => (Proof::None, None, None),
    };
    let mut exit_future = std::pin::pin!(exit_future.fuse());
    let mut exit: Option<i64> = None;
    let mut ended = false;
    let mut held = Held::default();
    let mut holding = false;
    let hold = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(hold);
    let far = Duration::from_secs(86_400 * 365);
    let after_exit = tokio::time::sleep(far);
    tokio::pin!(after_exit);
    // Time without any output from the connector (waiting on a slow consumer does not count).
    let silence = tokio::time::sleep(idle_timeout.unwrap_or(far));
    tokio::pin!(silence);
    loop {
        tokio::select! {
            item = output.next() => {
                // Chunks that are already there travel together: one hand-over per batch, not per
                // chunk (an engine cuts output into frames as small as a few bytes).
                let mut next = Some(item);
                while let Some(item) = next.take() {
                    match item {
                        Some(Ok(Output::Stdout(bytes))) => {
                            held.bytes += bytes.len();
                            held.stdout_run.push(bytes);
                        }
                        Some(Ok(Output::Stderr(bytes))) => {
                            held.bytes += bytes.len();
                            flush_stdout(&mut held.stdout_run, &mut held.batch, marker.as_mut(), false);
                            held.batch.push(Piece::Stderr(bytes));
                        }
                        Some(Err(e)) => return Err(e),
                        None => ended = true,
                    }
                    if !ended && held.bytes < BATCH_BYTES {
                        next = output.next().now_or_never();
                    }
                }
                if ended || held.bytes >= HOLD_BYTES || hold_time.is_none() {
                    holding = false;
                    hand_over(&mut held, &pieces, marker.as_mut(), ended).await?;
                } else if !holding {
                    // A small batch waits a moment for more: the translating thread wakes once
                    // per HOLD_BYTES, not once per engine frame.
                    holding = true;
                    hold.as_mut().reset(tokio::time::Instant::now() + hold_time.unwrap_or_default());
                }
            }
            () = &mut hold, if holding => {
                holding = false;
                hand_over(&mut held, &pieces, marker.as_mut(), false).await?;
            }
            status = &mut exit_future, if exit.is_none() => {
                exit = Some(status?);
                tracing::debug!(connector = what, code = exit, "exited");
            }
            () = &mut silence, if exit.is_none() && idle_timeout.is_some() => {
                return Err(RunError::Idle(idle_timeout.unwrap_or(far)));
            }
            () = &mut after_exit, if exit.is_some() || ack.is_none() && marker.is_some() => {
                if exit.is_some() {
                    tracing::warn!(connector = what, "the connector exited but its output stayed open; closing it");
                }
                break;
            }
        }
        if !holding && marker.as_ref().is_some_and(|m| m.status().is_some()) {
            if let Some(mut writer) = ack.take() {
                // Everything before the marker is in the tap: let the helper end.
                if let Err(e) = async {
                    writer.write_all(b"\n").await?;
                    writer.flush().await
                }
                .await
                {
                    tracing::debug!(connector = what, error = %e, "cannot acknowledge the end marker; it is stopped anyway");
                }
                tracing::debug!(connector = what, "read the end marker");
            }
        }
        if ended {
            break;
        }
        // After the exit, or once the end marker is acknowledged, the output has nothing more to
        // say: its silence is bounded.
        if exit.is_some() || ack.is_none() && marker.is_some() {
            after_exit
                .as_mut()
                .reset(tokio::time::Instant::now() + SILENCE_AFTER_EXIT);
        }
        if let Some(limit) = idle_timeout {
            silence.as_mut().reset(tokio::time::Instant::now() + limit);
        }
    }
    if holding {
        hand_over(&mut held, &pieces, marker.as_mut(), false).await?;
    }
    let code = match (exit, marker.as_ref().and_then(EndMarker::status)) {
        (Some(c), _) => c,
        // The marker carries the connector's status: the container's own end need not be awaited
        // for long (it is removed anyway).
        (None, Some(status)) => {
            match tokio::time::timeout(SILENCE_AFTER_EXIT, &mut exit_future).await {
                Ok(code) => code?,
                Err(_) => status,
            }
        }
        (None, None) => exit_future.await?,
    };
    let complete = match proof {
        Proof::Marker if marker.as_ref().is_some_and(|m| m.status().is_some()) => {
            Completeness::Proven
        }
        Proof::EndOfFile if ended => Completeness::Proven,
        Proof::None => Completeness::Unverifiable,
        _ => Completeness::Missing,
    };
    // The helper passes the connector's status on; the marker's is the connector's own.
    let code = match marker.as_ref().and_then(EndMarker::status) {
        Some(status) if status != code => {
            tracing::debug!(
                connector = what,
                status,
                code,
                "the exit status differs from the connector's"
            );
            if code == 0 {
                status
            } else {
                code
            }
        }
        _ => code,
    };
    tracing::debug!(connector = what, code, ?complete, "ended");
    Ok(Exit { code, complete })
}

/// Output read but not yet handed to the translating thread.
#[derive(Default)]
struct Held {
    batch: Vec<Piece>,
    stdout_run: Vec<Bytes>,
    bytes: usize,
}

/// Hands what is held to the translating thread (waiting while its channel is full).
async fn hand_over(
    held: &mut Held,
    pieces: &mpsc::Sender<Vec<Piece>>,
    marker: Option<&mut EndMarker>,
    ended: bool,
) -> Result<(), RunError> {
    flush_stdout(&mut held.stdout_run, &mut held.batch, marker, ended);
    held.bytes = 0;
    let batch = std::mem::take(&mut held.batch);
    if !batch.is_empty() {
        pieces
            .send(batch)
            .await
            .map_err(|_| RunError::ConsumerGone)?;
    }
    Ok(())
}

/// Moves a run of stdout chunks into the batch, through the end-marker filter when there is one
/// (which also gives back what it held when the stream `ended`).
fn flush_stdout(
    run: &mut Vec<Bytes>,
    batch: &mut Vec<Piece>,
    marker: Option<&mut EndMarker>,
    ended: bool,
) {
    let chunks = std::mem::take(run);
    let chunks = match marker {
        Some(m) => {
            let mut kept = m.filter(chunks);
            if ended {
                kept.extend(m.finish());
            }
            kept
        }
        None => chunks,
    };
    batch.extend(chunks.into_iter().map(Piece::Stdout));
}

enum Proof {
    Marker,
    EndOfFile,
    None,
}

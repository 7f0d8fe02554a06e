//! Where a connector runs, behind one seam: what a run needs wherever it runs (the files handed in,
//! the arguments, stdout and stderr as byte streams, the exit status, stopping and removal) and the
//! one loop that drives it ([`pump`]).
//!
//! - [`docker`]: a container through the Docker Engine API; the only module that uses bollard.
//! - [`process`]: a child process in its own process group, its files in a private folder.
//! - [`venv`]: Python connectors from PyPI in managed virtualenvs (for [`process`]).
//! - [`pump`]: stdout and stderr into the pipeline's bounded channel, in order, the exit status,
//!   the idle and after-exit timers, and the proof that the output was read whole.
//! - [`marker`]: the end marker a helper writes after the connector's last byte.
//!
//! Not here: what the output means (`translate`) and which files and arguments a command needs
//! (`app`).
pub mod docker;
pub mod marker;
pub mod process;
pub mod pump;
pub mod venv;

use bytes::{Bytes, BytesMut};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// What one read of a connector's output may take: most of what a pipe or the engine has ready.
const READ_BYTES: usize = 256 * 1024;
/// Below this much room, the next read goes to a fresh buffer (the old one lives on in the chunks
/// already handed out, which share it without a copy).
const MIN_ROOM: usize = 64 * 1024;

/// Reads more of `reader` onto the end of `buf`, which holds what is not yet handed out; returns
/// how many bytes came (0 at the end). The buffer is allocated once per 256 KiB of output and
/// never zeroed; chunks are split off it, not copied.
pub async fn read_more<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
) -> std::io::Result<usize> {
    if buf.capacity() - buf.len() < MIN_ROOM {
        let mut fresh = BytesMut::with_capacity(READ_BYTES.max(buf.len() * 2));
        fresh.extend_from_slice(buf);
        *buf = fresh;
    }
    reader.read_buf(buf).await
}

/// A piece of a connector's output.
#[derive(Debug)]
pub enum Output {
    Stdout(Bytes),
    Stderr(Bytes),
}

/// How a run ended.
#[derive(Debug)]
pub struct Exit {
    pub code: i64,
    /// Whether the whole output is known to have been read.
    pub complete: Completeness,
}

/// Whether a run's output is known to have been read to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completeness {
    /// The end of the output was seen (an end marker, or the end of a pipe).
    Proven,
    /// The output ended without that proof: bytes may be missing.
    Missing,
    /// Nothing proves or disproves it.
    Unverifiable,
}

/// Why a run stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Docker(#[from] docker::DockerError),
    #[error(transparent)]
    Process(#[from] process::ProcessError),
    /// The consumer of stdout went away (the pipeline stopped); the connector is still there.
    #[error("the output consumer stopped")]
    ConsumerGone,
    /// The connector wrote nothing for this long (`idle_timeout_seconds`).
    #[error("the connector wrote nothing for {} s (idle_timeout_seconds); stopped it", .0.as_secs_f64())]
    Idle(Duration),
}

/// Which process `pid` is, across pid reuse: this boot's id and the process's start time in clock
/// ticks since boot (`/proc/PID/stat`, field 22). Empty when the process does not exist.
pub fn process_identity(pid: u32) -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let start = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(19));
    match start {
        Some(ticks) => format!("{}:{ticks}", boot.trim()),
        None => String::new(),
    }
}

/// The pid namespace this process lives in (`pid:[4026531836]`, the link `/proc/self/ns/pid`):
/// a pid, and so [`process_identity`], means something only inside its own pid namespace. A tap
/// in a container has its own (it is pid 1 there). Empty when it cannot be read.
pub fn pid_namespace() -> String {
    std::fs::read_link("/proc/self/ns/pid")
        .map(|l| l.to_string_lossy().into_owned())
        .unwrap_or_default()
}

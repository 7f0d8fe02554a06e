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

/// A read shorter than this is followed by the [`Pace`]'s pause (when it has one).
const SHORT_READ: usize = READ_BYTES / 2;

/// How a reader paces its reads: at once, or after a short read (less than 128 KiB) a pause
/// first, so the next read finds several of the writer's writes in the kernel's buffer instead of
/// waking the tap for each one.
///
/// For a connector's stdout pipe of 1 MiB: a connector writing through a 64 KiB buffer made
/// about 6,000 reads of 64 KiB over a 1M-record sync, each one a wake-up of the tap and a hand-over
/// to the translating thread. The pause is a blocking sleep on the runtime's thread: tokio's timers
/// count whole milliseconds, and nothing else on that thread needs an answer within it (stderr and
/// the exit status wait in the kernel). It also holds back what was read before it: the pump asks
/// for more before it hands a batch over, so a batch reaches the translating thread one pause
/// later (as a small hold would). A read cut short by the buffer's free space (64 to 128 KiB left)
/// counts as short too: at most one needless pause per 256 KiB buffer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pace {
    pause: Option<Duration>,
    last: usize,
}

impl Pace {
    /// Every read at once.
    pub fn none() -> Pace {
        Pace::default()
    }

    /// A pause of `pause` before the read that follows a short one. The writer's buffer must hold
    /// what it writes meanwhile (1 MiB for a pipe, 0.5 ms at 2 GB/s), or the pause slows it down.
    pub fn after_short_reads(pause: Duration) -> Pace {
        Pace {
            pause: Some(pause),
            last: 0,
        }
    }

    /// [`read_more`], paced.
    pub async fn read_more<R: AsyncRead + Unpin>(
        &mut self,
        reader: &mut R,
        buf: &mut BytesMut,
    ) -> std::io::Result<usize> {
        if let Some(pause) = self.pause {
            if self.last > 0 && self.last < SHORT_READ {
                std::thread::sleep(pause);
            }
        }
        let n = read_more(reader, buf).await?;
        self.last = n;
        Ok(n)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;
    use tokio::io::AsyncWriteExt;

    /// Reads `reader` to its end with `pace`: the number of reads that brought bytes, and the bytes.
    async fn read_all(mut reader: impl AsyncRead + Unpin, mut pace: Pace) -> (usize, Vec<u8>) {
        let (mut reads, mut buf) = (0, BytesMut::new());
        while pace.read_more(&mut reader, &mut buf).await.unwrap() > 0 {
            reads += 1;
        }
        (reads, buf.to_vec())
    }

    #[tokio::test]
    async fn a_short_read_is_followed_by_a_pause_that_gathers_the_next_writes() {
        // A writer in another thread, as a connector is another process.
        let (mut writer, reader) = std::os::unix::net::UnixStream::pair().unwrap();
        let written = std::thread::spawn(move || {
            for k in 0..10u8 {
                std::io::Write::write_all(&mut writer, &[k; 1024]).unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        reader.set_nonblocking(true).unwrap();
        let reader = tokio::net::UnixStream::from_std(reader).unwrap();
        // The first read finds the first write alone (short); the pause outlasts the other nine.
        let (reads, bytes) =
            read_all(reader, Pace::after_short_reads(Duration::from_millis(300))).await;
        written.join().unwrap();
        let want: Vec<u8> = (0..10u8).flat_map(|k| [k; 1024]).collect();
        assert_eq!(bytes, want);
        assert!(reads <= 3, "{reads} reads");
    }

    #[tokio::test]
    async fn a_long_read_is_not_followed_by_a_pause() {
        let (mut writer, reader) = tokio::io::duplex(1024 * 1024);
        writer.write_all(&vec![7u8; SHORT_READ]).await.unwrap();
        drop(writer);
        let started = Instant::now();
        let (reads, bytes) =
            read_all(reader, Pace::after_short_reads(Duration::from_secs(5))).await;
        assert_eq!((reads, bytes.len()), (1, SHORT_READ));
        assert!(started.elapsed() < Duration::from_secs(4));
    }
}

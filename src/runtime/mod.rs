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
/// never zeroed; chunks are split off it, not copied. For a connector's output, see [`Intake`],
/// which also reuses the buffers.
pub async fn read_more<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
) -> std::io::Result<usize> {
    make_room(buf, &mut None);
    reader.read_buf(buf).await
}

/// Gives `buf` room for a read: below [`MIN_ROOM`] a fresh buffer of [`READ_BYTES`] (or twice
/// what it holds) takes over what `buf` holds, and `buf`'s old allocation becomes the `spare`. The
/// spare from the swap before is reused as the fresh buffer when every chunk split off it has been
/// dropped by now (its pages are already the process's: the kernel's copy into a new buffer faults
/// its pages in, which was about 5 % of the tap's CPU during a sync) and it is not more than twice
/// the size wanted (a buffer grown for one huge frame is let go).
fn make_room(buf: &mut BytesMut, spare: &mut Option<BytesMut>) {
    if buf.capacity() - buf.len() >= MIN_ROOM {
        return;
    }
    let want = READ_BYTES.max(buf.len() * 2);
    // `try_reclaim` takes the whole allocation back only when nothing else shares it.
    let mut fresh = match spare.take() {
        Some(mut old) if old.is_empty() => {
            if old.try_reclaim(want) && old.capacity() <= 2 * want {
                old
            } else {
                BytesMut::with_capacity(want)
            }
        }
        _ => BytesMut::with_capacity(want),
    };
    fresh.extend_from_slice(buf);
    let mut old = std::mem::replace(buf, fresh);
    old.clear();
    *spare = Some(old);
}

/// A read shorter than this is followed by the [`Intake`]'s pause (when it has one).
const SHORT_READ: usize = READ_BYTES / 2;

/// How one stream of a connector's output is read: into 256 KiB buffers, each reused two buffers
/// on if the chunks split off it have been dropped by then ([`make_room`]), at once or paced.
///
/// Paced, a read shorter than 128 KiB is followed by a pause, so the next read finds several of
/// the writer's writes in the kernel's buffer instead of waking the tap for each one. For a
/// connector's stdout pipe of 1 MiB: a connector writing through a 64 KiB buffer made about 6,000
/// reads of 64 KiB over a 1M-record sync, each one a wake-up of the tap and a hand-over to the
/// translating thread; the engine's attach stream comes in frames of at most 32 KiB. The pause is
/// a blocking sleep on the runtime's thread: tokio's timers count whole milliseconds, and nothing
/// else on that thread needs an answer within it (stderr and the exit status wait in the kernel).
/// It also holds back what was read before it: the pump asks for more before it hands a batch
/// over, so a batch reaches the translating thread one pause later (as a small hold would). A read
/// cut short by the buffer's free space (64 to 128 KiB left) counts as short too: at most one
/// needless pause per 256 KiB buffer.
#[derive(Debug, Default)]
pub struct Intake {
    pause: Option<Duration>,
    last: usize,
    spare: Option<BytesMut>,
}

impl Intake {
    /// Every read at once.
    pub fn unpaced() -> Intake {
        Intake::default()
    }

    /// A pause of `pause` before the read that follows a short one. The writer's buffer must hold
    /// what it writes meanwhile (1 MiB for a pipe, 0.5 ms at 2 GB/s), or the pause slows it down.
    pub fn paced(pause: Duration) -> Intake {
        Intake {
            pause: Some(pause),
            ..Intake::default()
        }
    }

    /// Reads more of `reader` onto the end of `buf`, as [`read_more`] does, paced and with the
    /// buffers reused.
    pub async fn read<R: AsyncRead + Unpin>(
        &mut self,
        reader: &mut R,
        buf: &mut BytesMut,
    ) -> std::io::Result<usize> {
        if let Some(pause) = self.pause {
            if self.last > 0 && self.last < SHORT_READ {
                std::thread::sleep(pause);
            }
        }
        make_room(buf, &mut self.spare);
        let n = reader.read_buf(buf).await?;
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

    /// Reads `reader` to its end through `intake`: the number of reads that brought bytes, and the
    /// bytes.
    async fn read_all(mut reader: impl AsyncRead + Unpin, mut intake: Intake) -> (usize, Vec<u8>) {
        let (mut reads, mut buf) = (0, BytesMut::new());
        while intake.read(&mut reader, &mut buf).await.unwrap() > 0 {
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
        let (reads, bytes) = read_all(reader, Intake::paced(Duration::from_millis(300))).await;
        written.join().unwrap();
        let want: Vec<u8> = (0..10u8).flat_map(|k| [k; 1024]).collect();
        assert_eq!(bytes, want);
        assert!(reads <= 3, "{reads} reads");
    }

    #[tokio::test]
    async fn a_buffer_is_reused_once_its_chunks_are_dropped_and_not_before() {
        // Reads fill whole buffers here (a slice reader gives all the room asks for).
        let data: Vec<u8> = (0..4 * READ_BYTES).map(|i| (i % 251) as u8).collect();
        let mut reader = &data[..];
        let (mut intake, mut buf) = (Intake::unpaced(), BytesMut::new());
        let mut read = || {
            let n = futures_util::FutureExt::now_or_never(intake.read(&mut reader, &mut buf));
            assert_eq!(n.unwrap().unwrap(), READ_BYTES);
            buf.split().freeze()
        };
        // The translating thread still holds the first chunk when the third buffer is needed.
        let first = read();
        let second = read();
        let second_at = second.as_ptr();
        drop(second);
        let third = read();
        assert_ne!(
            third.as_ptr(),
            first.as_ptr(),
            "a buffer still shared was reused"
        );
        assert_eq!(first, &data[..READ_BYTES]);
        assert_eq!(third, &data[2 * READ_BYTES..3 * READ_BYTES]);
        // What would take a freed buffer's place: the second buffer is the spare, not freed.
        let other = vec![1u8; READ_BYTES];
        let fourth = read();
        assert_eq!(
            fourth.as_ptr(),
            second_at,
            "the spare buffer was not reused"
        );
        assert_eq!(fourth, &data[3 * READ_BYTES..]);
        drop(other);
    }

    #[test]
    fn a_buffer_grown_for_a_huge_piece_is_let_go() {
        let data = vec![5u8; 32 * READ_BYTES];
        let mut reader = &data[..];
        let (mut intake, mut buf) = (Intake::unpaced(), BytesMut::new());
        // Each read fills the buffer's room: then it brings as much as the buffer it went into.
        let mut read = |buf: &mut BytesMut| {
            let n = futures_util::FutureExt::now_or_never(intake.read(&mut reader, buf));
            n.unwrap().unwrap()
        };
        // 1 MiB that is not split off (one engine frame that large) grows the buffer to 1 MiB.
        while buf.len() < 4 * READ_BYTES {
            read(&mut buf);
        }
        drop(buf.split());
        // Then everything is split off as it comes: the 1 MiB buffer is not reused.
        let sizes: Vec<usize> = (0..10).map(|_| (read(&mut buf), buf.split()).0).collect();
        assert!(
            sizes[2..].iter().all(|&n| n <= 2 * READ_BYTES),
            "buffers read into: {sizes:?}"
        );
    }

    #[tokio::test]
    async fn a_long_read_is_not_followed_by_a_pause() {
        let (mut writer, reader) = tokio::io::duplex(1024 * 1024);
        writer.write_all(&vec![7u8; SHORT_READ]).await.unwrap();
        drop(writer);
        let started = Instant::now();
        let (reads, bytes) = read_all(reader, Intake::paced(Duration::from_secs(5))).await;
        assert_eq!((reads, bytes.len()), (1, SHORT_READ));
        assert!(started.elapsed() < Duration::from_secs(4));
    }
}

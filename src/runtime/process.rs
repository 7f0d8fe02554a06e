//! A connector as a child process, with no Docker at all: the only module that starts connector
//! processes.
//!
//! The child runs in its own process group with stdin from /dev/null and stdout and stderr piped
//! into the same [`super::pump`] as a container's. Its files (config, catalog, state) are written
//! into a private directory (0700, files 0600) that is removed on every path; directories that a
//! killed tap left are removed by the next run. The config never travels in argv or the environment.
//! Stopping sends SIGTERM to the whole group, then SIGKILL after a grace period: no process outlives
//! the tap.
use super::pump::{Completion, Started};
use super::{Intake, Output, RunError};
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use std::future::Future;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncRead;

/// How long a stopped group has between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot create the connector's private directory {path}: {source}")]
    Files { path: String, source: io::Error },
    #[error("cannot start the connector `{program}`: {source}")]
    Spawn { program: String, source: io::Error },
    #[error("lost the output of the connector (pid {pid}): {source}")]
    Output { pid: u32, source: io::Error },
    #[error("cannot wait for the connector (pid {pid}): {source}")]
    Wait { pid: u32, source: io::Error },
}

/// The private directory of one run: created 0700, its files 0600, removed when dropped (on every
/// path, panics included). Its name carries the tap's pid and start time, so the next run can tell
/// a directory whose tap is gone.
pub struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    pub fn create(root: &Path) -> Result<PrivateDir, ProcessError> {
        let files_error = |path: &Path, source| ProcessError::Files {
            path: path.display().to_string(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(|e| files_error(root, e))?;
        let pid = std::process::id();
        let start = super::process_identity(pid);
        let start = start.rsplit(':').next().unwrap_or("0");
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let path = root.join(format!("run-{pid}-{start}-{}", &unique[..12]));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|e| files_error(&path, e))?;
        Ok(PrivateDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a file readable by this user only; returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, ProcessError> {
        use std::io::Write;
        let path = self.path.join(name);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(bytes))
            .map_err(|e| ProcessError::Files {
                path: path.display().to_string(),
                source: e,
            })?;
        Ok(path)
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot remove the connector's private directory");
            }
        }
    }
}

/// Removes the private directories under `root` whose tap is gone (killed before it could clean up).
pub fn remove_stale_dirs(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("run-") else {
            continue;
        };
        let mut parts = rest.splitn(3, '-');
        let (Some(pid), Some(start)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let identity = super::process_identity(pid);
        let alive = identity.rsplit(':').next() == Some(start) && !identity.is_empty();
        if !alive {
            tracing::info!(path = %entry.path().display(), "removing a connector directory left by an earlier run that did not end cleanly");
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A started connector process: its process group, for stopping it.
#[derive(Debug, Clone, Copy)]
pub struct Group {
    pub pgid: i32,
}

impl Group {
    /// Whether any process of the group is still there.
    fn alive(self) -> bool {
        // SAFETY: kill with signal 0 only checks whether the group exists.
        #[allow(unsafe_code)]
        let r = unsafe { libc::kill(-self.pgid, 0) };
        r == 0
    }

    fn signal(self, sig: i32) {
        // SAFETY: sends a signal to our own child's process group; no memory is touched.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(-self.pgid, sig);
        }
    }

    /// SIGTERM to the whole group, SIGKILL to what is left after the grace period. Returns once
    /// the group is gone (or after the SIGKILL).
    pub async fn stop(self) {
        if !self.alive() {
            return;
        }
        self.signal(libc::SIGTERM);
        let deadline = tokio::time::Instant::now() + GRACE;
        while self.alive() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if self.alive() {
            tracing::warn!(
                pgid = self.pgid,
                "the connector did not end on SIGTERM; killing it"
            );
            self.signal(libc::SIGKILL);
        }
    }
}

/// Starts `program args…` in `dir` as its own process group, without the environment variables
/// named in `remove_env`.
#[allow(clippy::type_complexity)]
pub fn start(
    program: &str,
    args: &[String],
    dir: &Path,
    remove_env: &[String],
) -> Result<
    (
        Group,
        Started<
            impl Stream<Item = Result<Output, RunError>> + Unpin + use<>,
            impl Future<Output = Result<i64, RunError>> + use<>,
        >,
    ),
    ProcessError,
> {
    let mut command = tokio::process::Command::new(program);
    for name in remove_env {
        command.env_remove(name);
    }
    // If the tap itself is killed outright, the connector goes with it (Linux's parent-death
    // signal): no process outlives the tap.
    // SAFETY: the closure runs in the child between fork and exec and calls only prctl, which is
    // async-signal-safe and touches no memory of ours.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| ProcessError::Spawn {
            program: program.to_string(),
            source: e,
        })?;
    let pid = child.id().unwrap_or(0);
    let stdout = child.stdout.take().expect("stdout is piped");
    // Reads of a grown pipe are paced; a 64 KiB pipe would fill during the pause.
    let intake = if grow_pipe(&stdout) {
        Intake::paced(PIPE_PAUSE)
    } else {
        Intake::unpaced()
    };
    let stderr = child.stderr.take().expect("stderr is piped");
    let output = futures_util::stream::select(
        pipe(stdout, pid, Output::Stdout, intake),
        pipe(stderr, pid, Output::Stderr, Intake::unpaced()),
    );
    let exit = async move {
        let status = child
            .wait()
            .await
            .map_err(|e| ProcessError::Wait { pid, source: e })?;
        Ok(match (status.code(), status.signal()) {
            (Some(code), _) => i64::from(code),
            (None, Some(sig)) => 128 + i64::from(sig),
            (None, None) => -1,
        })
    };
    tracing::debug!(pid, program, "started the connector");
    Ok((
        Group { pgid: pid as i32 },
        Started {
            what: format!("pid {pid}"),
            output: Box::pin(output),
            exit,
            completion: Completion::EndOfFile,
            hold: None,
        },
    ))
}

/// The connector's stdout pipe, asked for in place of the kernel's 64 KiB: with the translator
/// faster than the connector, reads of at most 64 KiB woke it once per read. With the larger pipe,
/// futex calls over a 1M-record native sync fell from 6,746–7,831 to 3,407–3,788, and the wall time
/// from 0.271 to 0.247 s (24 rotated rounds; connector alone 0.151 s).
const PIPE_BYTES: i32 = 1024 * 1024;

/// The pause after a short read of the grown stdout pipe ([`Intake`]): what a connector writes
/// meanwhile stays well inside the pipe (0.5 MiB at 1 GB/s).
const PIPE_PAUSE: Duration = Duration::from_micros(500);

/// Asks for a larger pipe ([`PIPE_BYTES`]); where the system refuses (a lower
/// `/proc/sys/fs/pipe-max-size`), the pipe keeps its size: `false`.
fn grow_pipe(pipe: &impl std::os::fd::AsRawFd) -> bool {
    // SAFETY: fcntl(F_SETPIPE_SZ) on a pipe this process owns changes only the kernel's buffer
    // size; no memory of ours is touched.
    #[allow(unsafe_code)]
    let r = unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BYTES) };
    if r == -1 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "cannot grow the connector's stdout pipe");
    }
    r >= PIPE_BYTES
}

/// A pipe as a stream of chunks, ending at its end of file.
fn pipe<R: AsyncRead + Unpin + Send + 'static>(
    reader: R,
    pid: u32,
    wrap: fn(Bytes) -> Output,
    intake: Intake,
) -> impl Stream<Item = Result<Output, RunError>> + Send {
    let state = Some((reader, BytesMut::new(), intake));
    futures_util::stream::unfold(state, move |state| async move {
        let (mut reader, mut buf, mut intake) = state?;
        match intake.read(&mut reader, &mut buf).await {
            Ok(0) => None,
            Ok(_) => Some((Ok(wrap(buf.split().freeze())), Some((reader, buf, intake)))),
            Err(e) => Some((
                Err(RunError::from(ProcessError::Output { pid, source: e })),
                None,
            )),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_private_dir_is_private_and_goes_away() {
        let root = tempfile::tempdir().unwrap();
        let dir = PrivateDir::create(root.path()).unwrap();
        let file = dir.write("config.json", b"{}").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.path()), 0o700);
        assert_eq!(mode(&file), 0o600);
        let path = dir.path().to_path_buf();
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn stale_dirs_are_those_whose_tap_is_gone() {
        let root = tempfile::tempdir().unwrap();
        let live = PrivateDir::create(root.path()).unwrap();
        // pid 1's start time is not 12345; a pid that cannot exist is gone.
        let dead = root.path().join("run-1-12345-abcdef");
        let gone = root.path().join("run-4194305-1-abcdef");
        let other = root.path().join("not-ours");
        for d in [&dead, &gone, &other] {
            std::fs::create_dir(d).unwrap();
        }
        remove_stale_dirs(root.path());
        assert!(live.path().exists());
        assert!(!dead.exists() && !gone.exists());
        assert!(other.exists());
    }
}

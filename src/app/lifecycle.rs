//! The tap's own lifecycle: SIGTERM and SIGINT, the container being run (what a signal must
//! remove), and containers that earlier taps on this host left behind when they were killed.
use crate::docker::Engine;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// The container being run, if any: what a signal must remove.
#[derive(Clone, Default)]
pub(super) struct Running(std::sync::Arc<std::sync::Mutex<Option<(Engine, String)>>>);

impl Running {
    pub(super) fn set(&self, engine: &Engine, id: &str) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((engine.clone(), id.to_string()));
    }
    pub(super) fn clear(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
    /// Removes the running container; returns whether there was one.
    pub(super) async fn remove(&self) -> bool {
        let current = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        match current {
            Some((engine, id)) => {
                engine.remove(&id).await;
                true
            }
            None => false,
        }
    }
}

/// Removes containers that an earlier tap on this host left behind when it died without cleaning
/// up (killed, crashed): their owner process is gone. Failures are only logged.
pub(super) async fn remove_stale(engine: &Engine) {
    let ours = match engine.list_ours().await {
        Ok(list) => list,
        Err(e) => {
            tracing::debug!(error = %e, "cannot look for containers left by earlier runs");
            return;
        }
    };
    let host = crate::docker::host_name();
    for c in ours
        .into_iter()
        .filter(|c| c.host == host && !tap_alive(c.pid))
    {
        tracing::warn!(
            container = &c.id[..12.min(c.id.len())],
            pid = c.pid,
            "removing a container left by an earlier run that did not end cleanly"
        );
        engine.remove(&c.id).await;
    }
}

/// Is process `pid` a running tap-airbyte?
fn tap_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|comm| comm.trim() == "tap-airbyte")
}

/// SIGTERM and SIGINT, caught so the container is removed before the tap dies by the same signal.
pub(super) struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    pub(super) fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    pub(super) async fn recv(&mut self) -> i32 {
        tokio::select! {
            _ = self.term.recv() => libc::SIGTERM,
            _ = self.int.recv() => libc::SIGINT,
        }
    }
}

/// Dies by `sig` with its default action, as a process that never caught it would.
#[allow(unsafe_code)]
pub(super) fn die_by(sig: i32) -> ! {
    // SAFETY: restoring the default disposition and raising a signal are async-signal-safe libc
    // calls with no memory effects; nothing runs after the process is terminated.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
    std::process::exit(128 + sig)
}

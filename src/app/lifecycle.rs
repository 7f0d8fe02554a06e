//! The tap's own lifecycle: SIGTERM, SIGINT, SIGHUP and SIGQUIT, the container being run (what a
//! signal must remove), and containers that earlier taps on this host left behind when they were
//! killed.
use crate::runtime::docker::Engine;
use crate::runtime::process::Group;
use crate::runtime::{pid_namespace, process_identity};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// The connector being run, if any: what a signal must stop and remove. A container is known by
/// its name from before the create request is sent, so a signal during the create or the upload
/// removes it too; a process by its group and its private folder.
#[derive(Clone, Default)]
pub(super) struct Running(std::sync::Arc<std::sync::Mutex<Option<Target>>>);

enum Target {
    /// The create request is under way: the engine may or may not have the container yet.
    Creating(Engine, String),
    Created(Engine, String),
    Process(Group, PathBuf),
}

impl Running {
    fn put(&self, target: Option<Target>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = target;
    }
    /// Registers a container about to be created with this name.
    pub(super) fn creating(&self, engine: &Engine, name: &str) {
        self.put(Some(Target::Creating(engine.clone(), name.to_string())));
    }
    pub(super) fn set(&self, engine: &Engine, id: &str) {
        self.put(Some(Target::Created(engine.clone(), id.to_string())));
    }
    /// Registers a connector process group and its private folder.
    pub(super) fn set_process(&self, group: Group, dir: &Path) {
        self.put(Some(Target::Process(group, dir.to_path_buf())));
    }
    pub(super) fn clear(&self) {
        self.put(None);
    }
    /// Stops and removes the running connector; returns whether there was one.
    pub(super) async fn remove(&self) -> bool {
        let current = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        match current {
            Some(Target::Created(engine, id)) => {
                engine.remove(&id).await;
                true
            }
            Some(Target::Process(group, dir)) => {
                group.stop().await;
                let _ = std::fs::remove_dir_all(dir);
                true
            }
            Some(Target::Creating(engine, name)) => {
                // The engine may still be creating it: look for it by name for a moment.
                for _ in 0..20 {
                    if engine.try_remove(&name).await {
                        return true;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                false
            }
            None => false,
        }
    }
}

/// Removes containers that an earlier tap on this host, in this pid namespace, left behind when it
/// died without cleaning up (killed, crashed): their owner process is gone. Containers of taps
/// elsewhere (another machine sharing the engine, another container) are left alone: their owner
/// pid means nothing here. Failures are only logged.
pub(super) async fn remove_stale(engine: &Engine) {
    let ours = match engine.list_ours().await {
        Ok(list) => list,
        Err(e) => {
            tracing::debug!(error = %e, "cannot look for containers left by earlier runs");
            return;
        }
    };
    let host = crate::runtime::docker::host_name();
    let pidns = pid_namespace();
    for c in ours {
        let short = c.id.get(..12).unwrap_or(&c.id);
        if !judged_here(&c.host, c.pidns.as_deref(), &host, &pidns) {
            tracing::debug!(
                container = short,
                host = c.host,
                pidns = c.pidns.as_deref().unwrap_or(""),
                "leaving a container of a tap on another host or in another pid namespace alone"
            );
            continue;
        }
        if owner_alive(c.pid, c.started.as_deref()) {
            continue;
        }
        tracing::warn!(
            container = short,
            pid = c.pid,
            "removing a container left by an earlier run that did not end cleanly"
        );
        engine.remove(&c.id).await;
    }
}

/// Can this tap (on `host`, in pid namespace `pidns`) judge whether a container's owner is alive?
/// Only when the owner ran on the same host and in the same pid namespace: a tap in a container is
/// pid 1 in its own namespace, and its pid names another process (or none) here. A container from
/// a tap that recorded no pid namespace (an earlier version) is judged by its host, as then.
fn judged_here(owner_host: &str, owner_pidns: Option<&str>, host: &str, pidns: &str) -> bool {
    owner_host == host
        && match owner_pidns {
            None => true,
            Some(ns) => !ns.is_empty() && ns == pidns,
        }
}

/// Is the process that created a container still alive? Decided by pid and start time (whatever
/// the binary is called: Meltano may run the tap through another name or a wrapper script); a
/// container from a tap that set no start time is kept while any process has its pid.
fn owner_alive(pid: u32, started: Option<&str>) -> bool {
    match started {
        Some(started) => !started.is_empty() && process_identity(pid) == started,
        None => std::path::Path::new(&format!("/proc/{pid}")).exists(),
    }
}

/// SIGTERM, SIGINT, SIGHUP and SIGQUIT, caught so the container is removed before the tap dies by
/// the same signal.
pub(super) struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
    quit: Signal,
}

impl Signals {
    pub(super) fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
            quit: signal(SignalKind::quit())?,
        })
    }

    pub(super) async fn recv(&mut self) -> i32 {
        tokio::select! {
            _ = self.term.recv() => libc::SIGTERM,
            _ = self.int.recv() => libc::SIGINT,
            _ = self.hup.recv() => libc::SIGHUP,
            _ = self.quit.recv() => libc::SIGQUIT,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_containers_of_taps_on_this_host_and_in_this_pid_namespace_are_judged() {
        let ns = "pid:[4026531836]";
        assert!(judged_here("h", Some(ns), "h", ns));
        // A tap in a container (its own pid namespace, maybe the host's name with --network host).
        assert!(!judged_here("h", Some("pid:[4026532500]"), "h", ns));
        // Another machine sharing the engine: the initial namespace has the same number everywhere.
        assert!(!judged_here("other", Some(ns), "h", ns));
        // An earlier tap that recorded no namespace: judged by its host, as before.
        assert!(judged_here("h", None, "h", ns));
        assert!(!judged_here("other", None, "h", ns));
        // A namespace nobody could read is never taken for ours.
        assert!(!judged_here("h", Some(""), "h", ""));
        assert!(!judged_here("h", Some(ns), "h", ""));
    }

    #[test]
    fn this_process_has_a_pid_namespace() {
        let ns = pid_namespace();
        assert!(ns.starts_with("pid:["), "{ns}");
        assert_eq!(ns, pid_namespace());
    }
}

//! The tap's own image (docker/tap): the tap as pid 1 in a container, driving connectors through
//! the engine's socket mounted into it (docker-in-docker by socket), and natively in a Python base
//! image without any socket. Real engine, real images (docker/build-images.sh tap, tap-python).
use crate::util::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const TAP_IMAGE: &str = "tap-airbyte:dev";
const TAP_PYTHON_IMAGE: &str = "tap-airbyte-python:dev";
const SOCKET: &str = "/var/run/docker.sock:/var/run/docker.sock";

fn build(which: &str) {
    let status = Command::new("timeout")
        .arg("1800")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/build-images.sh"))
        .arg(which)
        .status()
        .expect("docker/build-images.sh runs");
    assert!(status.success(), "building the {which} image failed");
}

/// The tap's image, built once per test run (cached by input hash).
fn tap_image() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| build("tap"));
}

/// The tap in the faker image (a Python base image), built once per test run.
fn tap_python_image() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| build("tap-python"));
}

/// A tap container by name (and host name, which its connectors' `io.tap-airbyte.host` label
/// records); on drop, on every path (a failed assertion too), it and every connector container it
/// left are removed.
struct TapContainer {
    name: String,
    hostname: String,
    /// Whether the host name is this test's own (not the host's, shared with other taps).
    own_hostname: bool,
    /// Its pid namespace, once known: the label of its connectors.
    pidns: OnceLock<String>,
}

impl TapContainer {
    fn new(hostname: Option<&str>) -> TapContainer {
        let unique = uuid_ish();
        TapContainer {
            name: format!("tap-airbyte-test-{unique}"),
            hostname: hostname
                .map(str::to_string)
                .unwrap_or_else(|| format!("tap-{unique}")),
            own_hostname: hostname.is_none(),
            pidns: OnceLock::new(),
        }
    }

    /// `timeout 300 docker run --rm --name … --hostname … <docker_args> IMAGE <tap_args>`.
    fn command(&self, docker_args: &[&str], image: &str, tap_args: &[&str]) -> Command {
        let mut cmd = Command::new("timeout");
        cmd.args(["300", "docker", "run", "--rm", "--name", &self.name])
            .args(["--hostname", &self.hostname])
            .args(docker_args)
            .arg(image)
            .args(tap_args)
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, docker_args: &[&str], image: &str, tap_args: &[&str]) -> Run {
        let out: Output = self
            .command(docker_args, image, tap_args)
            .output()
            .expect("docker run runs");
        Run {
            code: out.status.code(),
            signal: std::os::unix::process::ExitStatusExt::signal(&out.status),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            pid: 0,
        }
    }

    /// Connector containers whose tap ran under this container's host name.
    fn connectors(&self) -> Vec<String> {
        labelled(&format!("io.tap-airbyte.host={}", self.hostname))
    }
}

impl Drop for TapContainer {
    fn drop(&mut self) {
        let _ = Command::new("timeout")
            .args(["60", "docker", "rm", "-f", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if self.own_hostname {
            let host = format!("io.tap-airbyte.host={}", self.hostname);
            remove_containers(&try_labelled(&host).unwrap_or_default());
        }
        if let Some(pidns) = self.pidns.get() {
            let pidns = format!("io.tap-airbyte.pidns={pidns}");
            remove_containers(&try_labelled(&pidns).unwrap_or_default());
        }
    }
}

/// A short unique suffix for names.
fn uuid_ish() -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{}-{n}-{nanos:08x}", std::process::id())
}

/// Containers (any state) carrying this label (`key=value`).
fn labelled(label: &str) -> Vec<String> {
    try_labelled(label).expect("docker ps lists containers")
}

/// The same, None when `docker ps` fails (for cleanup, which must not panic).
fn try_labelled(label: &str) -> Option<Vec<String>> {
    let out = Command::new("timeout")
        .args(["60", "docker", "ps", "-aq", "--filter"])
        .arg(format!("label={label}"))
        .output()
        .ok()
        .filter(|out| out.status.success())?;
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

/// Removes these containers (cleanup of a failed test; the assertions have already been made).
fn remove_containers(ids: &[String]) {
    if !ids.is_empty() {
        let _ = Command::new("timeout")
            .args(["60", "docker", "rm", "-f"])
            .args(ids)
            .stdout(Stdio::null())
            .status();
    }
}

/// A work dir the tap in a container can read whatever user it runs as (mounted on /work).
fn shared_workdir(settings: &Value) -> Workdir {
    let w = Workdir::new();
    w.json("config.json", settings);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(w.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        w.path().join("config.json"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    w
}

fn work_mount(w: &Workdir) -> String {
    format!("{}:/work:ro", w.path().display())
}

#[test]
fn the_image_discovers_and_syncs_through_the_mounted_socket() {
    tap_image();
    let settings = scripted(json!({
        "streams": [{"name": "users", "records": 25}, {"name": "items", "records": 7}],
        "state_every": 10
    }));
    let w = shared_workdir(&settings);
    let mount = work_mount(&w);
    let tap = TapContainer::new(None);
    let args = ["-v", SOCKET, "-v", mount.as_str()];

    let discover = tap.run(
        &args,
        TAP_IMAGE,
        &["--config", "/work/config.json", "--discover"],
    );
    discover.assert_code(0);
    let catalog: Value = serde_json::from_str(&discover.stdout).expect("a catalog on stdout");
    let streams: Vec<&str> = catalog["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["tap_stream_id"].as_str().unwrap())
        .collect();
    assert_eq!(streams, ["users", "items"], "{catalog}");

    let sync = tap.run(&args, TAP_IMAGE, &["--config", "/work/config.json"]);
    sync.assert_code(0);
    assert_eq!(sync.records("users").len(), 25);
    assert_eq!(sync.records("items").len(), 7);
    assert_eq!(
        sync.messages().last().unwrap()["type"],
        "STATE",
        "the sync ends with its STATE"
    );
    assert_eq!(
        sync.last_state()["airbyte_state"].as_array().unwrap().len(),
        2
    );
    sync.assert_stderr_has(&["sync finished"]);
    let left = tap.connectors();
    remove_containers(&left);
    assert!(left.is_empty(), "connector containers left: {left:?}");
}

/// A tap container running a slow sync, read up to its first RECORD (the connector must emit a
/// STATE after every record: the tap flushes its buffered stdout at STATEs). stderr is read by a
/// thread, so that the `docker run` client never blocks on a full pipe.
fn slow_sync_in_a_container(
    tap: &TapContainer,
    w: &Workdir,
) -> (
    std::process::Child,
    BufReader<std::process::ChildStdout>,
    std::thread::JoinHandle<String>,
) {
    let mount = work_mount(w);
    let mut child = tap
        .command(
            &["-v", SOCKET, "-v", mount.as_str()],
            TAP_IMAGE,
            &["--config", "/work/config.json"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker run starts");
    let err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || std::io::read_to_string(err).unwrap_or_default());
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("\"RECORD\"") {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 {
            let _ = child.wait();
            panic!("stdout ended before a RECORD:\n{}", stderr.join().unwrap());
        }
    }
    (child, out, stderr)
}

/// Inside its container the tap is pid 1, for which the kernel ignores signals left at their
/// default action: `docker stop` (SIGTERM) must still end it at once, with 128+15, its connector
/// container removed.
#[test]
fn docker_stop_ends_the_tap_as_pid_1_promptly_and_removes_the_connector() {
    tap_image();
    let w = shared_workdir(&scripted(
        json!({"streams": [{"name": "s", "records": 600}], "sleep_ms": 100, "state_every": 1}),
    ));
    let tap = TapContainer::new(None);
    let (mut child, out, stderr) = slow_sync_in_a_container(&tap, &w);
    assert_eq!(tap.connectors().len(), 1, "the connector runs");
    let started = Instant::now();
    // Grace of 30 s before docker's SIGKILL: an exit within it is the tap's own doing.
    let stop = Command::new("timeout")
        .args(["60", "docker", "stop", "-t", "30", &tap.name])
        .output()
        .expect("docker stop runs");
    let took = started.elapsed();
    assert!(stop.status.success(), "{stop:?}");
    let rest = std::io::read_to_string(out).unwrap();
    let status = child.wait().unwrap();
    let stderr = stderr.join().unwrap();
    let left = tap.connectors();
    remove_containers(&left);
    assert_eq!(
        status.code(),
        Some(128 + libc::SIGTERM),
        "{status:?}\n{stderr}"
    );
    assert!(took < Duration::from_secs(10), "docker stop took {took:?}");
    assert!(left.is_empty(), "connector containers left: {left:?}");
    assert!(
        rest.matches("\"type\":\"RECORD\"").count() < 500,
        "the sync was cut short"
    );
    assert!(stderr.contains("interrupted"), "{stderr}");
}

/// The pid namespace of a running container's first process, as its tap records it.
fn pid_namespace_of(container: &str) -> String {
    let out = Command::new("timeout")
        .args([
            "60",
            "docker",
            "inspect",
            "--format",
            "{{.State.Pid}}",
            container,
        ])
        .output()
        .expect("docker inspect runs");
    let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    std::fs::read_link(format!("/proc/{pid}/ns/pid"))
        .unwrap_or_else(|e| panic!("pid namespace of {container} (pid {pid}): {e}"))
        .to_string_lossy()
        .into_owned()
}

/// A tap in a container is pid 1 in its own pid namespace: a tap on the host, even under the same
/// host name, must not take that pid for its own host's pid 1 (alive or not) and remove the live
/// sibling's connector container.
#[test]
fn a_tap_on_the_host_leaves_the_connector_of_a_tap_in_a_container_alone() {
    tap_image();
    let records = 100;
    let w = shared_workdir(&scripted(
        json!({"streams": [{"name": "s", "records": records}], "sleep_ms": 100, "state_every": 1}),
    ));
    // The host's own name (as with --network host or --uts host): only the pid namespace tells
    // the two taps apart.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let sibling = TapContainer::new(Some(&host));
    let (mut child, out, stderr) = slow_sync_in_a_container(&sibling, &w);
    let pidns = sibling
        .pidns
        .get_or_init(|| pid_namespace_of(&sibling.name))
        .clone();
    let theirs = labelled(&format!("io.tap-airbyte.pidns={pidns}"));
    assert_eq!(theirs.len(), 1, "the in-container tap's connector runs");

    let here = Workdir::new();
    let config = here.json(
        "config.json",
        &scripted(json!({"streams": [{"name": "s", "records": 1}]})),
    );
    let discover = tap(
        &["--config", &config, "--discover"],
        &[("TAP_AIRBYTE_LOG_LEVEL", "debug")],
    );
    discover.assert_code(0);
    assert!(
        !discover.stderr.contains("left by an earlier run"),
        "the host tap removed a live sibling's container:\n{}",
        discover.stderr
    );
    discover.assert_stderr_has(&["another pid namespace"]);
    assert_eq!(
        labelled(&format!("io.tap-airbyte.pidns={pidns}")),
        theirs,
        "the sibling's connector is still there, its sync under way"
    );

    let rest = std::io::read_to_string(out).unwrap();
    let status = child.wait().unwrap();
    let stderr = stderr.join().unwrap();
    let left = labelled(&format!("io.tap-airbyte.pidns={pidns}"));
    remove_containers(&left);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(
        rest.matches("\"type\":\"RECORD\"").count() + 1,
        records,
        "every record"
    );
    assert!(
        rest.trim_end()
            .lines()
            .last()
            .unwrap()
            .contains("\"type\":\"STATE\""),
        "the sync ends with its STATE"
    );
    assert!(left.is_empty(), "connector containers left: {left:?}");
}

/// In a Python base image the tap runs an installed connector natively: no Docker socket, no
/// network.
#[test]
fn in_a_python_base_image_an_installed_connector_runs_natively_without_docker() {
    tap_python_image();
    let w = shared_workdir(&json!({
        "airbyte_spec": {"executable": "/airbyte/venv/bin/source-faker"},
        "airbyte_config": {"count": 20, "seed": 1}
    }));
    let mount = work_mount(&w);
    let tap = TapContainer::new(None);
    let run = tap.run(
        &["--network", "none", "-v", mount.as_str()],
        TAP_PYTHON_IMAGE,
        &["--config", "/work/config.json"],
    );
    run.assert_code(0);
    assert_eq!(run.records("users").len(), 20, "{}", run.stderr);
    assert!(!run.records("products").is_empty());
    assert_eq!(run.messages().last().unwrap()["type"], "STATE");
    assert!(tap.connectors().is_empty());
}

/// `force_native` inside the container: the tap builds a virtualenv in its cache folder and pip
/// installs the connector from PyPI (no uv in the image), over the engine's bridge network. The
/// cache folder is a host folder owned by the image's user (uid 1000), kept across runs of the
/// suite: the first install takes a minute or two.
#[test]
fn in_a_python_base_image_force_native_installs_the_connector_from_pypi() {
    tap_python_image();
    let w = shared_workdir(&json!({
        "airbyte_spec": {"image": "airbyte/source-faker", "tag": "7.2.1"},
        "force_native": true,
        "airbyte_config": {"count": 20, "seed": 1}
    }));
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("image-native-cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::os::unix::fs::chown(&cache, Some(1000), Some(1000)).unwrap();
    let mount = work_mount(&w);
    let cache_mount = format!("{}:/cache", cache.display());
    let tap = TapContainer::new(None);
    let started = Instant::now();
    let run = tap.run(
        &[
            "-v",
            mount.as_str(),
            "-v",
            cache_mount.as_str(),
            "-e",
            "TAP_AIRBYTE_CACHE_DIR=/cache",
        ],
        TAP_PYTHON_IMAGE,
        &["--config", "/work/config.json"],
    );
    eprintln!("force_native in a container: {:?}", started.elapsed());
    run.assert_code(0);
    assert_eq!(run.records("users").len(), 20, "{}", run.stderr);
    assert_eq!(run.messages().last().unwrap()["type"], "STATE");
    assert!(
        std::fs::read_dir(cache.join("venvs"))
            .unwrap()
            .flatten()
            .any(|e| e
                .file_name()
                .to_string_lossy()
                .starts_with("airbyte-source-faker__7.2.1")),
        "the virtualenv is in the cache folder"
    );
}

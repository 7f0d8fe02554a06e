//! Helpers shared by the integration tests: images, running the tap binary, reading its output,
//! and checking the engine for containers left behind. Docker here is the real engine.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

pub const SCRIPTED: &str = "airbyte/source-scripted";
pub const FAKER: &str = "airbyte/source-faker";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn build_image(which: &str) {
    let status = Command::new("timeout")
        .arg("1800")
        .arg(repo().join("docker/build-images.sh"))
        .arg(which)
        .status()
        .expect("docker/build-images.sh runs");
    assert!(status.success(), "building the {which} image failed");
}

/// Builds the bundled connector's image once per test run (cached: seconds when up to date).
pub fn scripted_image() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| build_image("scripted"));
}

/// Builds the PyPI faker image once per test run (cached; minutes the first time).
pub fn faker_image() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| build_image("faker"));
}

/// One invocation of the tap.
pub struct Run {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub pid: u32,
}

impl Run {
    /// stdout as JSON lines; panics (failing the test) on any line that is not JSON.
    pub fn messages(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!(
                        "stdout line is not JSON ({e}): {l}\nstderr:\n{}",
                        self.stderr
                    )
                })
            })
            .collect()
    }

    pub fn of_type(&self, t: &str) -> Vec<Value> {
        self.messages()
            .into_iter()
            .filter(|m| m["type"] == t)
            .collect()
    }

    pub fn records(&self, stream: &str) -> Vec<Value> {
        self.of_type("RECORD")
            .into_iter()
            .filter(|m| m["stream"] == stream)
            .map(|m| m["record"].clone())
            .collect()
    }

    pub fn last_state(&self) -> Value {
        self.of_type("STATE").last().expect("a STATE was emitted")["value"].clone()
    }

    /// Fails unless stderr holds every one of these texts.
    #[track_caller]
    pub fn assert_stderr_has(&self, texts: &[&str]) {
        for t in texts {
            assert!(
                self.stderr.contains(t),
                "stderr lacks {t:?}:\n{}",
                self.stderr
            );
        }
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
    }
}

/// A temporary directory holding the tap's input files.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Workdir {
        Workdir {
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    pub fn file(&self, name: &str, content: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).expect("write a test file");
        path.display().to_string()
    }

    pub fn json(&self, name: &str, value: &Value) -> String {
        self.file(name, &value.to_string())
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Tap settings running the scripted connector with this connector config.
pub fn scripted(config: Value) -> Value {
    scripted_image();
    json!({"airbyte_spec": {"image": SCRIPTED, "tag": "dev"}, "airbyte_config": config})
}

/// Runs the tap on the bundled connector with this connector config, plus arguments that name no
/// file of their own.
pub fn tap_scripted(config: Value, more: &[&str]) -> Run {
    let w = Workdir::new();
    tap_with(&w, &scripted(config), more)
}

/// Runs the tap binary with these arguments and environment, to its end.
pub fn tap(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tap-airbyte"));
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("the tap starts");
    let pid = child.id();
    // No run of the tap may hang a test: killed after 10 minutes.
    let watchdog = Watchdog::new(pid, 600);
    let out: Output = child.wait_with_output().expect("the tap runs");
    drop(watchdog);
    let run = Run {
        code: out.status.code(),
        signal: std::os::unix::process::ExitStatusExt::signal(&out.status),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        pid,
    };
    assert_no_containers(pid);
    run
}

/// Runs the tap with a settings file (and more arguments).
pub fn tap_with(w: &Workdir, settings: &Value, more: &[&str]) -> Run {
    let config = w.json("config.json", settings);
    let mut args = vec!["--config", config.as_str()];
    args.extend_from_slice(more);
    tap(&args, &[])
}

/// Containers (any state) labelled as created by the tap process `pid`.
pub fn containers_of(pid: u32) -> Vec<String> {
    containers_on(None, pid)
}

/// Containers labelled as created by the tap process `pid`, on the engine at `docker_host`
/// (the default engine when None).
pub fn containers_on(docker_host: Option<&str>, pid: u32) -> Vec<String> {
    let mut cmd = Command::new("docker");
    cmd.args([
        "ps",
        "-aq",
        "--filter",
        &format!("label=io.tap-airbyte.owner={pid}"),
    ]);
    if let Some(host) = docker_host {
        cmd.env("DOCKER_HOST", host);
    }
    let out = cmd.output().expect("docker ps runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[track_caller]
pub fn assert_no_containers(pid: u32) {
    let left = containers_of(pid);
    assert!(
        left.is_empty(),
        "the tap (pid {pid}) left containers behind: {left:?}"
    );
}

/// A raw `docker run` of an image, the reference the tap is compared with.
pub fn docker_run(image: &str, args: &[&str], mount_dir: &Path) -> Output {
    Command::new("timeout")
        .args([
            "300",
            "docker",
            "run",
            "--rm",
            "-v",
            &format!("{}:/data", mount_dir.display()),
            image,
        ])
        .args(args)
        .output()
        .expect("docker run runs")
}

/// Runs the tap to its end with stdout discarded; returns (exit code, peak RSS in KiB).
/// The peak is the tap's own `VmHWM`, read from /proc while it runs (it only grows): `ru_maxrss`
/// would also count the test process, whose memory the child shares until it execs.
pub fn tap_peak_rss(args: &[&str]) -> (i32, u64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tap-airbyte"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the tap starts");
    let pid = child.id();
    let _watchdog = Watchdog::new(pid, 600);
    let mut peak = 0;
    let status = loop {
        peak = peak.max(proc_status_kib(pid, "VmHWM:"));
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert_no_containers(pid);
    (status.code().unwrap_or(-1), peak)
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resident memory of a running process, in KiB, from /proc.
pub fn rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:")
}

/// The child processes of `pid` (of any of its threads), from /proc.
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut found = vec![];
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            found.push(child);
        }
    }
    found
}

/// The tap that `timeout` runs as its child (the pid the tap's containers carry).
pub fn child_of_timeout(timeout_pid: u32) -> u32 {
    for _ in 0..1000 {
        if let Some(pid) = children_of(timeout_pid).first() {
            return *pid;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("timeout (pid {timeout_pid}) did not start the tap");
}

/// Kills a process (SIGKILL) that is still running after `seconds`, unless dropped first: for
/// tests that spawn the tap themselves, so that none can hang the suite.
pub struct Watchdog(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Watchdog {
    pub fn new(pid: u32, seconds: u64) -> Watchdog {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = done.clone();
        // The process's program, to never kill another process that got the same pid later.
        let exe = |pid: u32| std::fs::read_link(format!("/proc/{pid}/exe")).ok();
        let program = exe(pid);
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                if std::time::Instant::now() > deadline {
                    if program.is_some() && exe(pid) == program {
                        let _ = Command::new("kill")
                            .args(["-KILL", &pid.to_string()])
                            .status();
                    }
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
        Watchdog(done)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The tap's wheel, built once per test run by docker/build-wheel.sh (cached; minutes the first
/// time): its absolute path, the script's one stdout line.
pub fn wheel() -> &'static Path {
    static WHEEL: OnceLock<PathBuf> = OnceLock::new();
    WHEEL.get_or_init(|| {
        let out = Command::new("timeout")
            .arg("3600")
            .arg(repo().join("docker/build-wheel.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("docker/build-wheel.sh runs");
        assert!(out.status.success(), "building the wheel failed");
        let stdout = String::from_utf8(out.stdout).expect("UTF-8 stdout");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "one stdout line, the wheel's path: {stdout:?}"
        );
        let path = PathBuf::from(lines[0]);
        assert!(path.is_absolute() && path.is_file(), "{}", path.display());
        path
    })
}

/// The head of every test's meltano.yml.
pub const MELTANO_HEADER: &str = "default_environment: dev
project_id: tap-airbyte-e2e
send_anonymous_usage_stats: false
environments:
  - name: dev
";

/// The folder with the Meltano and target-jsonl venvs (tests/meltano/venv.sh, cached).
pub fn meltano_venv() -> String {
    let out = Command::new("timeout")
        .arg("900")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/meltano/venv.sh"))
        .output()
        .expect("venv.sh runs");
    assert!(
        out.status.success(),
        "building the Meltano venv failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs a Meltano command (with a timeout) that must succeed, with these extra variables; returns
/// its stdout and stderr and prints them (`--nocapture` shows what Meltano said).
pub fn meltano_ok(venv: &str, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let out = Command::new("timeout")
        .arg("900")
        .arg(format!("{venv}/meltano/bin/meltano"))
        .args(args)
        .current_dir(dir)
        .env("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env("MELTANO_DISABLE_TRACKING", "true")
        .envs(env.iter().copied())
        .output()
        .expect("meltano runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    eprintln!("$ meltano {}\n{stdout}{stderr}", args.join(" "));
    assert!(
        out.status.success(),
        "meltano {args:?} failed:\n{stdout}\n{stderr}"
    );
    (stdout, stderr)
}

//! Connectors without Docker: the bundled connector as a local executable, and the real
//! airbyte-source-faker from PyPI in a managed virtualenv, with no engine to reach
//! (`DOCKER_HOST` points at a socket that does not exist). Signals, a closed stdout and the end
//! leave no process and no private folder behind.
use crate::util::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NO_ENGINE: (&str, &str) = ("DOCKER_HOST", "unix:///nonexistent/docker.sock");

/// The bundled connector's static binary (built with its image).
fn scripted_binary() -> String {
    scripted_image();
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/connector/x86_64-unknown-linux-gnu/release/source-scripted")
        .display()
        .to_string()
}

fn native_settings(config: Value) -> Value {
    json!({"airbyte_spec": {"executable": scripted_binary()}, "airbyte_config": config})
}

/// A folder for the private run folders, to look into (`XDG_RUNTIME_DIR`).
fn runtime_dir(w: &Workdir) -> PathBuf {
    let d = w.path().join("xdg-runtime");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn leftovers(runtime: &Path) -> Vec<String> {
    std::fs::read_dir(runtime.join("tap-airbyte"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Processes in the process group `pgid`, from /proc.
fn group_members(pgid: u32) -> Vec<u32> {
    let mut found = vec![];
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, r)| r.split_whitespace().collect())
            .unwrap_or_default();
        // state, ppid, pgrp
        if fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid) && fields[0] != "Z" {
            found.push(pid);
        }
    }
    found
}

#[test]
fn a_local_executable_syncs_without_docker_like_the_image_does() {
    let w = Workdir::new();
    let xdg = runtime_dir(&w);
    let xdg_s = xdg.display().to_string();
    let config = json!({"streams": [{"name": "users", "records": 25}, {"name": "items", "records": 7, "incremental": false}], "state_every": 10, "api_key": "native-secret-value"});
    let settings = w.json("native.json", &native_settings(config.clone()));
    let run = tap(
        &["--config", &settings],
        &[NO_ENGINE, ("XDG_RUNTIME_DIR", &xdg_s)],
    );
    run.assert_code(0);
    let docker = tap_with(&w, &scripted(config), &[]);
    docker.assert_code(0);
    for stream in ["users", "items"] {
        assert_eq!(run.records(stream), docker.records(stream), "{stream}");
    }
    assert_eq!(run.last_state(), docker.last_state());
    assert!(run.stderr.contains("sync finished"));
    assert!(!run.stderr.contains("native-secret-value"));
    assert!(
        leftovers(&xdg).is_empty(),
        "private folders left: {:?}",
        leftovers(&xdg)
    );
    // discover and check too.
    let disc = tap(
        &["--config", &settings, "--discover"],
        &[NO_ENGINE, ("XDG_RUNTIME_DIR", &xdg_s)],
    );
    disc.assert_code(0);
    let catalog: Value = serde_json::from_str(&disc.stdout).unwrap();
    assert_eq!(catalog["streams"].as_array().unwrap().len(), 2);
    tap(
        &["--config", &settings, "--test"],
        &[NO_ENGINE, ("XDG_RUNTIME_DIR", &xdg_s)],
    )
    .assert_code(0);
}

#[test]
fn the_config_reaches_a_native_connector_only_as_a_private_file() {
    let w = Workdir::new();
    let xdg = runtime_dir(&w);
    let xdg_s = xdg.display().to_string();
    let settings = w.json(
        "native.json",
        &native_settings(
            json!({"streams": [{"name": "s", "records": 20}], "sleep_ms": 100, "state_every": 1, "api_key": "argv-secret"}),
        ),
    );
    let mut child = Command::new("timeout")
        .args([
            "60",
            env!("CARGO_BIN_EXE_tap-airbyte"),
            "--config",
            &settings,
        ])
        .env("DOCKER_HOST", NO_ENGINE.1)
        .env("XDG_RUNTIME_DIR", &xdg_s)
        .env("TAP_AIRBYTE_SOMETHING", "env-secret")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let tap_pid = child_of_timeout(child.id());
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("\"RECORD\"") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0);
    }
    let connector = children_of(tap_pid)[0];
    let cmdline = std::fs::read(format!("/proc/{connector}/cmdline")).unwrap();
    let environ = std::fs::read(format!("/proc/{connector}/environ")).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline);
    assert!(!cmdline.contains("argv-secret"), "{cmdline}");
    assert!(!String::from_utf8_lossy(&environ).contains("env-secret"));
    let dirs = leftovers(&xdg);
    assert_eq!(dirs.len(), 1);
    let dir = xdg.join("tap-airbyte").join(&dirs[0]);
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("config.json")), 0o600);
    let rest = std::io::read_to_string(out).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(rest.contains("\"STATE\""));
    assert!(leftovers(&xdg).is_empty());
}

/// TERM, INT, HUP, QUIT, a closed stdout, and a kill -9 of the tap followed by the next run: no
/// connector process outlives the tap, no private folder stays.
#[test]
fn signals_and_a_closed_stdout_leave_no_process_and_no_folder() {
    let w = Workdir::new();
    let xdg = runtime_dir(&w);
    let xdg_s = xdg.display().to_string();
    let settings = w.json(
        "native.json",
        &native_settings(
            json!({"streams": [{"name": "s", "records": 200}], "sleep_ms": 50, "state_every": 1}),
        ),
    );
    let start = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tap-airbyte"))
            .args(["--config", &settings])
            .env("DOCKER_HOST", NO_ENGINE.1)
            .env("XDG_RUNTIME_DIR", &xdg_s)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(w.path().join("tap.log")).unwrap())
            .spawn()
            .unwrap();
        let watchdog = Watchdog::new(child.id(), 120);
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("\"RECORD\"") {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "no RECORD");
        }
        let pid = child.id();
        let connector = children_of(pid);
        assert_eq!(
            connector.len(),
            1,
            "one connector process under {pid} ({:?}):\n{}",
            child.try_wait(),
            std::fs::read_to_string(w.path().join("tap.log")).unwrap()
        );
        (child, out, connector[0], watchdog)
    };
    let gone = |pgid: u32| {
        let t = Instant::now();
        while !group_members(pgid).is_empty() && t.elapsed() < Duration::from_secs(15) {
            std::thread::sleep(Duration::from_millis(50));
        }
        group_members(pgid).is_empty()
    };
    for (sig, name) in [
        (libc::SIGTERM, "TERM"),
        (libc::SIGINT, "INT"),
        (libc::SIGHUP, "HUP"),
        (libc::SIGQUIT, "QUIT"),
    ] {
        let (mut child, _out, connector, _watchdog) = start();
        Command::new("kill")
            .args([&format!("-{name}"), &child.id().to_string()])
            .status()
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(sig),
            "{name}"
        );
        assert!(gone(connector), "SIG{name} left the connector running");
        assert!(
            leftovers(&xdg).is_empty(),
            "SIG{name}: {:?}",
            leftovers(&xdg)
        );
    }
    // The reader goes away.
    let (mut child, out, connector, _watchdog) = start();
    drop(out);
    assert_eq!(child.wait().unwrap().code(), Some(4));
    assert!(
        gone(connector),
        "a closed stdout left the connector running"
    );
    assert!(leftovers(&xdg).is_empty());
    // Killed outright: the connector goes with the tap (parent-death signal); the folder stays
    // and the next run removes it.
    let (mut child, _out, connector, _watchdog) = start();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(gone(connector), "the connector outlived a killed tap");
    assert_eq!(leftovers(&xdg).len(), 1);
    let next = tap(
        &["--config", &settings, "--discover"],
        &[NO_ENGINE, ("XDG_RUNTIME_DIR", &xdg_s)],
    );
    next.assert_code(0);
    assert!(
        leftovers(&xdg).is_empty(),
        "the next run did not remove the folder"
    );
}

#[test]
fn bad_native_settings_are_clear_errors() {
    let w = Workdir::new();
    let cases = [
        (
            json!({"airbyte_spec": {"executable": "/nonexistent/source-x"}}),
            2,
            "is not a file nor a command on PATH",
        ),
        (
            json!({"airbyte_spec": {"image": "airbyte/source-faker", "pip_url": "x"}, "skip_native_check": true}),
            2,
            "skip_native_check",
        ),
        (
            json!({"airbyte_spec": {"image": "airbyte/source-faker"}, "force_native": "maybe"}),
            2,
            "force_native",
        ),
    ];
    for (settings, code, says) in cases {
        let run = tap_with_env(&w, &settings, &["--discover"], &[NO_ENGINE]);
        run.assert_code(code);
        run.assert_stderr_has(&[says]);
    }
}

/// Runs the tap with a settings file, extra arguments and environment.
fn tap_with_env(w: &Workdir, settings: &Value, more: &[&str], env: &[(&str, &str)]) -> Run {
    let config = w.json("settings.json", settings);
    let mut args = vec!["--config", config.as_str()];
    args.extend_from_slice(more);
    tap(&args, env)
}

/// A package folder of source-tiny (tests/native/source_tiny.py) at this version, for pip.
fn tiny_package(dir: &Path, version: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/native/source_tiny.py"),
        dir.join("source_tiny.py"),
    )
    .unwrap();
    std::fs::write(
        dir.join("pyproject.toml"),
        format!(
            r#"[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "airbyte-source-tiny"
version = "{version}"

[project.scripts]
source-tiny = "source_tiny:main"

[tool.setuptools]
py-modules = ["source_tiny"]
"#
        ),
    )
    .unwrap();
    dir.display().to_string()
}

fn tiny_settings(pip_url: &str) -> Value {
    json!({"airbyte_spec": {"image": "airbyte/source-tiny", "pip_url": pip_url}, "airbyte_config": {"count": 4, "token": "tiny-secret"}})
}

/// One venv per requirement, built once and reused; a changed pin is built anew; two first runs at
/// once both succeed (one waits for the other's install); no engine anywhere.
#[test]
fn python_connectors_install_once_rebuild_on_a_new_pin_and_do_not_race() {
    let w = Workdir::new();
    let cache = w.path().join("cache");
    let cache_s = cache.display().to_string();
    let env = [
        NO_ENGINE,
        ("TAP_AIRBYTE_CACHE_DIR", cache_s.as_str()),
        ("TAP_AIRBYTE_LOG_LEVEL", "info"),
    ];
    let v1 = tiny_package(&w.path().join("v1"), "1.0.0");
    let settings = w.json("tiny.json", &tiny_settings(&v1));
    // Two first runs at once.
    let spawn = || {
        Command::new("timeout")
            .args([
                "600",
                env!("CARGO_BIN_EXE_tap-airbyte"),
                "--config",
                &settings,
            ])
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let started = Instant::now();
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let first = started.elapsed();
    let mut waited = 0;
    for out in [&a, &b] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.matches("\"type\":\"RECORD\"").count(), 4, "{stderr}");
        assert!(stdout.contains("\"1.0.0\""), "{stdout}");
        assert!(!stderr.contains("tiny-secret"));
        waited += stderr.contains("another run is installing") as usize;
    }
    assert_eq!(waited, 1, "exactly one run waited for the other's install");
    let venvs = || {
        std::fs::read_dir(cache.join("venvs"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .count()
    };
    assert_eq!(venvs(), 1);
    // Again: the venv is reused.
    let started = Instant::now();
    let again = tap(&["--config", &settings], &env);
    let second = started.elapsed();
    again.assert_code(0);
    assert!(
        !again.stderr.contains("installing the connector"),
        "{}",
        again.stderr
    );
    eprintln!("first runs (install) {first:?}, a run reusing the venv {second:?}");
    // A new pin: another venv, and the new version runs.
    let v2 = tiny_package(&w.path().join("v2"), "2.0.0");
    let settings2 = w.json("tiny2.json", &tiny_settings(&v2));
    let run = tap(&["--config", &settings2], &env);
    run.assert_code(0);
    assert!(run.stdout.contains("\"2.0.0\""), "{}", run.stdout);
    assert_eq!(venvs(), 2);
}

/// A requirement pip cannot install: a clear error, and no half-built venv is left to be used.
#[test]
fn a_failed_install_is_a_clear_error_and_leaves_no_venv() {
    let w = Workdir::new();
    let cache = w.path().join("cache");
    let cache_s = cache.display().to_string();
    let missing = w.path().join("no-such-package").display().to_string();
    let run = tap_with_env(
        &w,
        &tiny_settings(&missing),
        &["--discover"],
        &[NO_ENGINE, ("TAP_AIRBYTE_CACHE_DIR", &cache_s)],
    );
    run.assert_code(2);
    run.assert_stderr_has(&["installing", "failed"]);
    let left: Vec<_> = std::fs::read_dir(cache.join("venvs"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    assert!(left.is_empty(), "a half-built venv was left: {left:?}");
}

/// The real airbyte-source-faker from PyPI, run natively, gives the same records per stream as the
/// same version in its image through Docker.
#[test]
fn faker_from_pypi_natively_matches_faker_through_docker() {
    faker_image();
    let w = Workdir::new();
    // Kept across runs of the suite: the first install takes about half a minute.
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("native-cache");
    let cache_s = cache.display().to_string();
    let config = json!({"count": 300, "seed": 7, "records_per_slice": 100});
    let native = json!({"airbyte_spec": {"image": "airbyte/source-faker", "tag": "7.2.1"}, "force_native": true, "airbyte_config": config});
    let started = Instant::now();
    let run = tap_with_env(
        &w,
        &native,
        &[],
        &[NO_ENGINE, ("TAP_AIRBYTE_CACHE_DIR", &cache_s)],
    );
    eprintln!("native faker run: {:?}", started.elapsed());
    run.assert_code(0);
    let docker = json!({"airbyte_spec": {"image": FAKER, "tag": "dev"}, "skip_native_check": true, "airbyte_config": config});
    let through_docker = tap_with_env(&w, &docker, &[], &[]);
    through_docker.assert_code(0);
    for stream in ["users", "products", "purchases"] {
        let (n, d) = (
            run.records(stream).len(),
            through_docker.records(stream).len(),
        );
        assert!(n > 0, "{stream}: no records natively");
        assert_eq!(n, d, "{stream}: {n} natively, {d} through Docker");
    }
}

/// The loopback API of tests/manifest/api.py, stopped when dropped.
struct Api {
    child: std::process::Child,
    port: u16,
}

impl Api {
    fn start(w: &Workdir, items: u32) -> Api {
        let port_file = w.path().join("api-port");
        let child = Command::new("timeout")
            .args(["600", "python3"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifest/api.py"))
            .arg(&port_file)
            .arg(items.to_string())
            .stderr(std::fs::File::create(w.path().join("api.log")).unwrap())
            .spawn()
            .expect("python3 runs the test API");
        let started = Instant::now();
        let port = loop {
            if let Ok(p) = std::fs::read_to_string(&port_file) {
                break p.trim().parse().unwrap();
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the test API did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Api { child, port }
    }

    fn grow(&self, to: u32) {
        let ok = Command::new("curl")
            .args(["-sf", "-m", "10", "-X", "POST"])
            .arg(format!("http://127.0.0.1:{}/grow?to={to}", self.port))
            .status()
            .unwrap()
            .success();
        assert!(ok, "the test API did not grow");
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        // TERM, which `timeout` passes on to the server (a KILL would leave the server behind).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// A declarative (manifest-only) connector, run by airbyte-cdk's `source-declarative-manifest` from
/// PyPI, against a paginated API on loopback: the manifest's own spec masks its secret, and a
/// second run resumes from the first one's state.
#[test]
fn a_declarative_manifest_syncs_incrementally_from_a_loopback_api() {
    let w = Workdir::new();
    let api = Api::start(&w, 12);
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("native-cache");
    let cache_s = cache.display().to_string();
    let env = [NO_ENGINE, ("TAP_AIRBYTE_CACHE_DIR", cache_s.as_str())];
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifest/items.yaml");
    let settings = json!({
        "airbyte_spec": {"manifest": manifest.display().to_string(), "pip_url": "airbyte-cdk==6.61.6"},
        "airbyte_config": {"port": api.port, "api_key": "k3y-manifest-secret"}
    });
    // The secret the API wants is `k3y`: first a wrong one, masked in what the check reports.
    let wrong = tap_with_env(&w, &settings, &["--test"], &env);
    assert_ne!(wrong.code, Some(0));
    assert!(
        !wrong.stderr.contains("k3y-manifest-secret"),
        "{}",
        wrong.stderr
    );
    let mut settings = settings;
    settings["airbyte_config"]["api_key"] = json!("k3y");
    tap_with_env(&w, &settings, &["--test"], &env).assert_code(0);
    let about = tap_with_env(&w, &settings, &["--about", "--format", "json"], &env);
    about.assert_code(0);
    assert!(
        about.stdout.contains("api_key"),
        "the manifest's own spec: {}",
        about.stdout
    );

    let first = tap_with_env(&w, &settings, &[], &env);
    first.assert_code(0);
    let ids = |run: &Run| -> Vec<i64> {
        run.records("items")
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ids(&first), (1..=12).collect::<Vec<_>>(), "three pages");
    let state = w.json("state.json", &first.last_state());
    api.grow(15);
    let second = tap_with_env(&w, &settings, &["--state", &state], &env);
    second.assert_code(0);
    let resumed = ids(&second);
    assert!(
        resumed.ends_with(&[13, 14, 15]) && resumed.iter().all(|id| *id >= 12),
        "the second run resumed from the first one's state: {resumed:?}"
    );
}

/// An interpreter that is not there: a clear configuration error naming it, before anything runs.
#[test]
fn a_missing_interpreter_is_named() {
    let w = Workdir::new();
    let cache = w.path().join("cache").display().to_string();
    let v1 = tiny_package(&w.path().join("v1"), "1.0.0");
    let mut settings = tiny_settings(&v1);
    settings["native_source_python"] = json!("/nonexistent/python3.99");
    // Without uv on PATH the tap creates the venv with the interpreter itself.
    let run = tap_with_env(
        &w,
        &settings,
        &["--discover"],
        &[
            NO_ENGINE,
            ("TAP_AIRBYTE_CACHE_DIR", &cache),
            ("PATH", "/usr/bin:/bin"),
        ],
    );
    run.assert_code(2);
    run.assert_stderr_has(&["/nonexistent/python3.99", "native_source_python"]);
}

/// With `uv` on PATH the venv is built by uv (uv from PyPI, installed here into a venv of its own).
#[test]
fn uv_builds_the_venv_when_it_is_on_path() {
    let w = Workdir::new();
    let tools = Path::new(env!("CARGO_TARGET_TMPDIR")).join("uv-venv");
    if !tools.join("bin/uv").exists() {
        let ok = Command::new("timeout")
            .args(["300", "python3", "-m", "venv"])
            .arg(&tools)
            .status()
            .unwrap()
            .success()
            && Command::new("timeout")
                .arg("300")
                .arg(tools.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "uv"])
                .status()
                .unwrap()
                .success();
        assert!(ok, "installing uv from PyPI failed");
    }
    let path = format!(
        "{}:{}",
        tools.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let cache = w.path().join("cache").display().to_string();
    let v1 = tiny_package(&w.path().join("v1"), "1.0.0");
    let run = tap_with_env(
        &w,
        &tiny_settings(&v1),
        &[],
        &[
            NO_ENGINE,
            ("TAP_AIRBYTE_CACHE_DIR", &cache),
            ("PATH", &path),
        ],
    );
    run.assert_code(0);
    assert_eq!(run.records("t").len(), 4);
    // uv's venvs have no pip: that is how we know uv made it.
    let venv = std::fs::read_dir(Path::new(&cache).join("venvs"))
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .unwrap()
        .path();
    assert!(venv.join("bin/source-tiny").exists());
    assert!(
        !venv.join("bin/pip").exists(),
        "the venv was not made by uv"
    );
}

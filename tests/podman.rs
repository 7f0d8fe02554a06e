//! Podman through its Docker-compatible API (tests/engines/podman.sh), as rootless and RHEL CI
//! runners use it: spec, check, discover, read with the config upload and the completeness helper,
//! cleanup, and a signal mid-sync, with `DOCKER_HOST` pointing at Podman's socket.
use crate::util::*;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

fn podman() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        scripted_image();
        let out = Command::new("timeout")
            .arg("600")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/engines/podman.sh"))
            .arg("start")
            .output()
            .expect("podman.sh runs");
        assert!(
            out.status.success(),
            "Podman's service did not start:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    })
}

/// Podman's containers (any state) labelled with the tap process `pid`.
fn podman_containers_of(pid: u32) -> Vec<String> {
    let out = Command::new("timeout")
        .args(["60", "podman", "ps", "-aq", "--filter"])
        .arg(format!("label=io.tap-airbyte.owner={pid}"))
        .output()
        .expect("podman ps runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn settings(config: serde_json::Value) -> serde_json::Value {
    json!({"airbyte_spec": {"image": SCRIPTED, "tag": "dev"}, "skip_native_check": true, "airbyte_config": config})
}

#[test]
fn spec_check_discover_and_read_through_podman() {
    let host = podman();
    let w = Workdir::new();
    let config = w.json(
        "config.json",
        &settings(json!({"streams": [{"name": "users", "records": 250}, {"name": "items", "records": 7}], "state_every": 50, "api_key": "podman-secret"})),
    );
    let env = [("DOCKER_HOST", host), ("TAP_AIRBYTE_LOG_LEVEL", "debug")];
    let about = tap(&["--config", &config, "--about", "--format", "json"], &env);
    about.assert_code(0);
    assert!(about.stdout.contains("state_every"), "the connector's spec");
    tap(&["--config", &config, "--test"], &env).assert_code(0);
    let discover = tap(&["--config", &config, "--discover"], &env);
    discover.assert_code(0);
    let catalog: serde_json::Value = serde_json::from_str(&discover.stdout).unwrap();
    assert_eq!(catalog["streams"].as_array().unwrap().len(), 2);
    let run = tap(&["--config", &config], &env);
    run.assert_code(0);
    assert_eq!(run.records("users").len(), 250);
    assert_eq!(run.records("items").len(), 7);
    assert_eq!(
        run.last_state()["airbyte_state"].as_array().unwrap().len(),
        2
    );
    run.assert_stderr_has(&["read the end marker", "complete=Proven", "sync finished"]);
    assert!(!run.stderr.contains("podman-secret"));
    for r in [&about, &discover, &run] {
        assert!(
            podman_containers_of(r.pid).is_empty(),
            "containers left in Podman"
        );
    }
}

#[test]
fn a_signal_mid_sync_removes_the_podman_container() {
    let host = podman();
    let w = Workdir::new();
    let config = w.json(
        "config.json",
        &settings(
            json!({"streams": [{"name": "s", "records": 100}], "sleep_ms": 100, "state_every": 1}),
        ),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_tap-airbyte"))
        .args(["--config", &config])
        .env("DOCKER_HOST", host)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let _watchdog = Watchdog::new(pid, 120);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("\"RECORD\"") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "no RECORD");
    }
    assert_eq!(
        podman_containers_of(pid).len(),
        1,
        "the connector runs in Podman"
    );
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGTERM)
    );
    assert!(
        podman_containers_of(pid).is_empty(),
        "the container was left in Podman"
    );
}

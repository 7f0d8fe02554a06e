//! The connector's container never outlives the tap: a reader that goes away, signals, a hanging
//! connector, and a tap that was killed without a chance to clean up.
use crate::util::*;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn spawn_tap(config: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_tap-airbyte"))
        .args(["--config", config])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tap starts")
}

/// A tap on a slow connector (100 records, 100 ms apart), read up to its first RECORD.
fn slow_sync_under_way(
    w: &Workdir,
) -> (
    std::process::Child,
    u32,
    BufReader<std::process::ChildStdout>,
) {
    let config = w.json(
        "config.json",
        &scripted(json!({"streams": [{"name": "s", "records": 100}], "sleep_ms": 100})),
    );
    let mut child = spawn_tap(&config);
    let pid = child.id();
    let out = first_record(&mut child);
    (child, pid, out)
}

/// Reads stdout until the first RECORD.
fn first_record(child: &mut std::process::Child) -> BufReader<std::process::ChildStdout> {
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("\"RECORD\"") {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "stdout ended before a RECORD"
        );
    }
    out
}

#[test]
fn a_reader_that_goes_away_stops_the_sync_with_exit_4() {
    let w = Workdir::new();
    // Like `tap-airbyte … | head -n 5`.
    let config = w.json(
        "config.json",
        &scripted(json!({"streams": [{"name": "s", "records": 2_000_000}]})),
    );
    let mut child = spawn_tap(&config);
    let pid = child.id();
    let out = first_record(&mut child);
    let started = Instant::now();
    drop(out);
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(4),
        "an unfinished sync is not a success"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the tap stopped at once"
    );
    assert_no_containers(pid);
}

#[test]
fn sigterm_and_sigint_remove_the_container_and_the_tap_dies_by_the_same_signal() {
    for (sig, name) in [(libc::SIGTERM, "TERM"), (libc::SIGINT, "INT")] {
        let w = Workdir::new();
        let (mut child, pid, _out) = slow_sync_under_way(&w);
        assert_eq!(containers_of(pid).len(), 1, "the connector runs");
        // What Meltano's `config test` does at the first RECORD.
        Command::new("kill")
            .args([&format!("-{name}"), &pid.to_string()])
            .status()
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(sig),
            "SIG{name}: {status:?}"
        );
        assert_no_containers(pid);
    }
}

#[test]
fn a_hanging_connector_ends_by_the_idle_timeout() {
    let w = Workdir::new();
    let mut settings =
        scripted(json!({"streams": [{"name": "s", "records": 3}], "hang_ms": 60_000}));
    settings["idle_timeout_seconds"] = json!(2);
    let started = Instant::now();
    let run = tap_with(&w, &settings, &[]);
    run.assert_code(1);
    assert!(started.elapsed() < Duration::from_secs(30));
    run.assert_stderr_has(&["idle_timeout_seconds"]);
    assert_eq!(
        run.records("s").len(),
        3,
        "what came before the hang is delivered"
    );
}

#[test]
fn containers_left_by_a_killed_tap_are_removed_by_the_next_run() {
    let w = Workdir::new();
    let (mut child, pid, _out) = slow_sync_under_way(&w);
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    assert_eq!(containers_of(pid).len(), 1, "SIGKILL leaves the container");
    let next = tap_with(
        &w,
        &scripted(json!({"streams": [{"name": "s", "records": 1}]})),
        &["--discover"],
    );
    next.assert_code(0);
    next.assert_stderr_has(&["left by an earlier run"]);
    assert_no_containers(pid);
}

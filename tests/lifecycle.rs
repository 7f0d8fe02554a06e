//! The connector's container never outlives the tap: a reader that goes away, signals, a hanging
//! connector, and a tap that was killed without a chance to clean up.
use crate::util::*;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The tap on this config, killed by a watchdog if it still runs after two minutes.
fn spawn_tap(config: &str) -> std::process::Child {
    let child = Command::new(env!("CARGO_BIN_EXE_tap-airbyte"))
        .args(["--config", config])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tap starts");
    std::mem::forget(Watchdog::new(child.id(), 120));
    child
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
fn term_int_hup_and_quit_remove_the_container_and_the_tap_dies_by_the_same_signal() {
    for (sig, name) in [
        (libc::SIGTERM, "TERM"),
        (libc::SIGINT, "INT"),
        (libc::SIGHUP, "HUP"),
        (libc::SIGQUIT, "QUIT"),
    ] {
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

/// A signal while the container is being created or its files uploaded (a 40 MB config makes the
/// upload long) still removes it.
#[test]
fn a_signal_during_create_or_upload_leaves_no_container() {
    let w = Workdir::new();
    let mut settings = scripted(json!({"streams": [{"name": "s", "records": 5}]}));
    settings["airbyte_config"]["blob"] = json!("x".repeat(40 << 20));
    let config = w.json("config.json", &settings);
    // First during the upload: as soon as the container exists. Then at fixed points after start,
    // which fall in the spec run's create, upload or start.
    let mut moments: Vec<Option<u64>> = vec![None, None];
    moments.extend([40, 80, 120, 160, 240, 320].map(Some));
    for moment in moments {
        let child = Command::new("timeout")
            .args([
                "120",
                env!("CARGO_BIN_EXE_tap-airbyte"),
                "--config",
                &config,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the tap starts");
        let pid = child_of_timeout(child.id());
        match moment {
            None => {
                let started = Instant::now();
                while containers_of(pid).is_empty() && started.elapsed() < Duration::from_secs(60) {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            Some(ms) => std::thread::sleep(Duration::from_millis(ms)),
        }
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let by_term = out.status.code() == Some(128 + libc::SIGTERM)
            || std::os::unix::process::ExitStatusExt::signal(&out.status) == Some(libc::SIGTERM);
        assert!(
            by_term,
            "at {moment:?}: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_no_containers(pid);
    }
}

/// Meltano may run the tap through another name or a wrapper script: a second tap must not take
/// the first one's live container for a dead tap's.
#[test]
fn a_tap_under_another_name_keeps_its_container_while_another_tap_starts() {
    let w = Workdir::new();
    let renamed = w.path().join("my-extractor");
    std::fs::copy(env!("CARGO_BIN_EXE_tap-airbyte"), &renamed).unwrap();
    let config = w.json(
        "config.json",
        &scripted(json!({"streams": [{"name": "s", "records": 50}], "sleep_ms": 100})),
    );
    let mut first = Command::new("timeout")
        .args(["120"])
        .arg(&renamed)
        .args(["--config", &config])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first_pid = child_of_timeout(first.id());
    let out = first_record(&mut first);
    let second = tap_with(
        &w,
        &scripted(json!({"streams": [{"name": "s", "records": 1}]})),
        &["--discover"],
    );
    second.assert_code(0);
    assert!(
        !second.stderr.contains("left by an earlier run"),
        "the second tap removed a live tap's container:\n{}",
        second.stderr
    );
    let rest = std::io::read_to_string(out).unwrap();
    let status = first.wait().unwrap();
    // Its container was left alone: the first sync ends well, with every record.
    assert_eq!(status.code(), Some(0));
    assert_eq!(rest.matches("\"type\":\"RECORD\"").count() + 1, 50);
    assert_no_containers(first_pid);
}

/// stdout closed before the run (`>&-`) or on a full disk: the tap's own output failure (exit 4),
/// never exit 0 and never "the connector failed".
#[test]
fn stdout_closed_before_the_run_or_full_is_the_taps_own_output_failure() {
    let w = Workdir::new();
    let config = w.json(
        "config.json",
        &scripted(json!({"streams": [{"name": "s", "records": 50_000}]})),
    );
    let closed = Command::new("timeout")
        .args(["120", "sh", "-c", "exec \"$0\" --config \"$1\" >&-"])
        .arg(env!("CARGO_BIN_EXE_tap-airbyte"))
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&closed.stderr);
    assert_eq!(closed.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("stdout is closed"), "{stderr}");

    let full = Command::new("timeout")
        .args([
            "120",
            env!("CARGO_BIN_EXE_tap-airbyte"),
            "--config",
            &config,
        ])
        .stdout(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&full.stderr);
    assert_eq!(full.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(
        !stderr.contains("`read` failed") && !stderr.contains("the connector exited"),
        "not the connector's failure: {stderr}"
    );
}

//! Completeness: a sync is reported complete only when the connector's whole output was delivered.
//!
//! The engine closes a container's attach stream two seconds after the container exits, whatever is
//! still pending (moby's `handleContainerExit`: `StreamConfig.Wait` with a 2 s timeout, then
//! `Reset`). A slow reader of the tap's stdout keeps the tap from reading the attach stream, so the
//! connector's last bytes (what sat in its stdout pipe and the engine's copy buffer when it exited)
//! were lost, and the run still ended with exit 0. These tests read the tap's stdout slowly at
//! several speeds, stall right when the connector exits (the worst moment), and demand every record
//! and the final STATE, many times.
use crate::util::*;
use serde_json::json;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sets `exited` as soon as the process the tap's `read` container runs exits, so the reader can
/// stall at the worst moment: right after the connector's last write, before the engine's grace ends.
fn watch_exit(pid: u32, exited: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let started = Instant::now();
        let id = loop {
            if let Some(id) = containers_of(pid).into_iter().find(|_| true) {
                // The first container may be `spec`'s: wait for the one that reads.
                let cmd = Command::new("docker")
                    .args([
                        "inspect",
                        "-f",
                        "{{index .Config.Labels \"io.tap-airbyte.command\"}}",
                        &id,
                    ])
                    .output()
                    .expect("docker inspect runs");
                if String::from_utf8_lossy(&cmd.stdout).trim() == "read" {
                    break id;
                }
            }
            if started.elapsed() > Duration::from_secs(120) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The engine's own record of the exit (`docker wait`, events) comes only after its grace
        // period: watch the container's main process itself.
        let pid = loop {
            let out = Command::new("docker")
                .args(["inspect", "-f", "{{.State.Pid}}", &id])
                .output()
                .expect("docker inspect runs");
            match String::from_utf8_lossy(&out.stdout).trim().parse::<u32>() {
                Ok(0) if started.elapsed() < Duration::from_secs(120) => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Ok(pid) if pid > 0 => break pid,
                _ => return,
            }
        };
        while std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        }) {
            std::thread::sleep(Duration::from_millis(1));
        }
        exited.store(true, Ordering::SeqCst);
    })
}

struct SlowRun {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    stalled: bool,
}

/// Runs a sync, reading stdout `sip` bytes at a time with `pause` between sips. Once the connector's
/// container has exited (or the tap's first records are in and the container is gone), the reader
/// stalls for 3 s — longer than the engine's grace — then reads the rest at full speed.
fn slow_sync(config: &str, sip: usize, pause: Duration) -> SlowRun {
    let stderr_path = std::env::temp_dir().join(format!(
        "tap-airbyte-slow-{}-{}.log",
        std::process::id(),
        uuid_like()
    ));
    let mut child = Command::new("timeout")
        .args(["300", &tap_binary(), "--config", config])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).expect("a log file"))
        .spawn()
        .expect("the tap starts");
    let tap_pid = child_of_timeout(child.id());
    let mut out = child.stdout.take().expect("stdout");
    let mut stdout = Vec::new();
    let mut buf = vec![0u8; sip];
    let mut stalled = false;
    let exited = Arc::new(AtomicBool::new(false));
    let watcher = watch_exit(tap_pid, exited.clone());
    loop {
        let n = out.read(&mut buf).expect("read stdout");
        if n == 0 {
            break;
        }
        stdout.extend_from_slice(&buf[..n]);
        std::thread::sleep(pause);
        if exited.load(Ordering::SeqCst) {
            stalled = true;
            // ~20 KB/s for 4 s (past the engine's grace), then the rest at full speed.
            for _ in 0..40 {
                let n = out.read(&mut buf[..2048.min(sip)]).expect("read stdout");
                stdout.extend_from_slice(&buf[..n]);
                std::thread::sleep(Duration::from_millis(100));
            }
            out.read_to_end(&mut stdout).expect("read the rest");
            break;
        }
    }
    let status = child.wait().expect("the tap ends");
    let _ = watcher.join();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = std::fs::remove_file(&stderr_path);
    assert_no_containers(tap_pid);
    SlowRun {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr,
        stalled,
    }
}

/// The tap under test: this build, or another one (`TAP_AIRBYTE_TEST_BIN`), to show what an
/// earlier build did under the same reader.
fn tap_binary() -> String {
    std::env::var("TAP_AIRBYTE_TEST_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_tap-airbyte").to_string())
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Every record and the final STATE arrive, whatever the reader's speed and however it stalls.
/// Before the end marker, about one run in ten lost its tail here (some with exit 0, some as a torn
/// last line); `TAP_AIRBYTE_SLOW_REPEATS` sets the rounds (three speeds each), and
/// `TAP_AIRBYTE_TEST_BIN` runs another build of the tap under the same readers.
#[test]
fn a_slow_reader_gets_every_record_and_the_final_state() {
    let records: u64 = std::env::var("TAP_AIRBYTE_SLOW_RECORDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20_000);
    let w = Workdir::new();
    let config = w.json(
        "config.json",
        &scripted(json!({
            "streams": [{"name": "s", "records": records, "padding": 150, "incremental": true, "cursor": ["id"]}],
            "state_every": 10_000,
        })),
    );
    let speeds: [(usize, u64); 3] = [(2048, 10), (8192, 10), (32768, 20)];
    let repeats: usize = std::env::var("TAP_AIRBYTE_SLOW_REPEATS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let mut failures = Vec::new();
    for round in 0..repeats {
        for (sip, pause_ms) in speeds {
            let run = slow_sync(&config, sip, Duration::from_millis(pause_ms));
            let got = run
                .stdout
                .lines()
                .filter(|l| l.starts_with("{\"type\":\"RECORD\""))
                .count() as u64;
            let last_state = run
                .stdout
                .lines()
                .rev()
                .find(|l| l.starts_with("{\"type\":\"STATE\""))
                .unwrap_or("");
            // The connector succeeded: so must the sync, with every record and the final STATE.
            let whole = got == records
                && last_state.contains(&format!(":{records}"))
                && run.code == Some(0)
                && run.stderr.contains("sync finished");
            eprintln!(
                "round {round}, {sip} B every {pause_ms} ms (stalled when the container's first process exited: {}): exit {:?}, {got} records",
                run.stalled, run.code
            );
            if !whole {
                let tail: Vec<&str> = run.stderr.lines().rev().take(5).collect();
                failures.push(format!(
                    "round {round}, {sip} B every {pause_ms} ms: exit {:?}, {got} of {records} records, last STATE {last_state:?}; stderr ends {tail:?}",
                    run.code
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} runs did not deliver the whole sync:\n{}",
        failures.len(),
        repeats * speeds.len(),
        failures.join("\n")
    );
}

/// A connector that leaves a process writing to its stdout after it exits: the end marker is still
/// the stream's last line (the helper ends such processes first, as the connector's own exit ended
/// them when it was the container's first process), so the run ends at once and whole.
#[test]
fn output_after_the_connector_exits_does_not_hold_the_run() {
    let started = Instant::now();
    let run = tap_scripted(
        json!({"streams": [{"name": "s", "records": 50}], "background_writer_ms": 60_000}),
        &[],
    );
    run.assert_code(0);
    assert_eq!(run.records("s").len(), 50);
    assert!(run.stderr.contains("sync finished"));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the run waited for the background writer: {:?}",
        started.elapsed()
    );
}

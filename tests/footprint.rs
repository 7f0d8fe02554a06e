//! Footprint: the tap's memory does not grow with the volume of records, and a slow reader slows
//! the connector down instead of filling the tap's memory (back-pressure).
use crate::util::*;
use serde_json::json;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

fn settings(records: u64) -> serde_json::Value {
    scripted(
        json!({"streams": [{"name": "s", "records": records, "padding": 900, "incremental": false}], "state_every": 5000}),
    )
}

#[test]
fn memory_does_not_grow_with_the_number_of_records() {
    let w = Workdir::new();
    let small = w.json("small.json", &settings(10_000));
    let large = w.json("large.json", &settings(300_000));
    let (code, rss_small) = tap_peak_rss(&["--config", &small]);
    assert_eq!(code, 0);
    let (code, rss_large) = tap_peak_rss(&["--config", &large]);
    assert_eq!(code, 0);
    // 10 MB against 300 MB of records through the tap: the peak must stay about the same.
    assert!(
        rss_large < rss_small + 8 * 1024,
        "peak RSS grew with volume: {rss_small} KiB -> {rss_large} KiB"
    );
    assert!(rss_large < 40 * 1024, "peak RSS {rss_large} KiB");
}

#[test]
fn a_slow_reader_slows_the_connector_instead_of_filling_memory() {
    let w = Workdir::new();
    // 100 MB of records: the connector writes them in well under a second when nothing holds it.
    let config = w.json("config.json", &settings(100_000));
    let mut child = Command::new(env!("CARGO_BIN_EXE_tap-airbyte"))
        .args(["--config", &config])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let _watchdog = Watchdog::new(pid, 300);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("\"RECORD\"") {
        line.clear();
        out.read_line(&mut line).unwrap();
    }
    // Stop reading. The tap must hold only bounded buffers, and the connector must be blocked.
    std::thread::sleep(Duration::from_secs(3));
    let rss = rss_kib(pid);
    assert!(
        rss > 0 && rss < 40 * 1024,
        "the tap buffered the backlog: RSS {rss} KiB"
    );
    let ids = containers_of(pid);
    assert_eq!(ids.len(), 1);
    let running = Command::new("docker")
        .args(["inspect", "-f", "{{.State.Running}}", &ids[0]])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&running.stdout).trim(),
        "true",
        "the connector was not held back"
    );
    // Read the rest: nothing was lost.
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let records = rest
        .lines()
        .filter(|l| l.contains("\"type\":\"RECORD\""))
        .count()
        + 1;
    assert_eq!(records, 100_000);
    assert!(child.wait().unwrap().success());
    assert_no_containers(pid);
}

//! A connector that writes garbage, damaged messages, a torn last line, or a 100 MB line: a clear
//! message, the right exit code, no panic, and nothing on stdout a target could take for data.
use crate::util::*;
use serde_json::json;

/// Every stdout line is a Singer message of a known type.
#[track_caller]
fn assert_clean_stdout(run: &Run) {
    for m in run.messages() {
        assert!(
            ["SCHEMA", "RECORD", "STATE"].contains(&m["type"].as_str().unwrap_or("")),
            "{m}"
        );
    }
}

#[test]
fn garbage_that_is_not_a_message_is_logged_and_the_sync_succeeds() {
    let run = tap_scripted(
        json!({"streams": [{"name": "s", "records": 4}], "garbage": true}),
        &[],
    );
    run.assert_code(0);
    assert_clean_stdout(&run);
    assert_eq!(run.records("s").len(), 4);
    for shown in [
        "plain text on stdout",
        "latin-1 text",
        "a JSON log line",
        "binary",
    ] {
        assert!(
            run.stderr.contains(shown),
            "{shown} is logged:\n{}",
            run.stderr
        );
    }
}

#[test]
fn a_damaged_record_fails_the_run_and_no_state_claims_it() {
    let w = Workdir::new();
    let config =
        json!({"streams": [{"name": "s", "records": 20}], "state_every": 3, "damage_after": 7});
    let run = tap_with(&w, &scripted(config), &[]);
    run.assert_code(1);
    assert_clean_stdout(&run);
    run.assert_stderr_has(&["could not be read", "not valid UTF-8"]);
    let ids: Vec<i64> = run
        .records("s")
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert!(!ids.contains(&8), "record 8 was damaged");
    assert_eq!(
        run.last_state()["stream_state"]["cursor"],
        6,
        "the last STATE is the one before the damage"
    );
}

#[test]
fn a_torn_last_line_fails_the_run() {
    let run = tap_scripted(
        json!({"streams": [{"name": "s", "records": 3}], "torn_end": true}),
        &[],
    );
    run.assert_code(1);
    assert_clean_stdout(&run);
    assert_eq!(run.records("s").len(), 3);
    // The torn line is damage (the helper's end marker starts on a line of its own, so the torn
    // line ends there rather than at the end of the stream).
    run.assert_stderr_has(&["could not be read"]);
}

#[test]
fn a_100_mb_line_is_a_clear_error_under_the_default_limit() {
    let run = tap_scripted(
        json!({"streams": [{"name": "s", "records": 1}], "big_record_bytes": 100_000_000}),
        &[],
    );
    run.assert_code(1);
    assert_clean_stdout(&run);
    run.assert_stderr_has(&["longer than 67108864 bytes", "max_line_bytes"]);
}

#[test]
fn a_rerun_from_the_last_state_before_a_failure_loses_nothing() {
    let w = Workdir::new();
    let failing = json!({"streams": [{"name": "s", "records": 30}], "state_every": 4,
                         "trace_error": {"after_records": 17, "failure_type": "transient_error", "message": "boom"}});
    let first = tap_with(&w, &scripted(failing), &[]);
    first.assert_code(1);
    let mut delivered: Vec<i64> = first
        .records("s")
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    let state = w.json("state.json", &first.last_state());
    let second = tap_with(
        &w,
        &scripted(json!({"streams": [{"name": "s", "records": 30}], "state_every": 4})),
        &["--state", &state],
    );
    second.assert_code(0);
    delivered.extend(
        second
            .records("s")
            .iter()
            .map(|r| r["id"].as_i64().unwrap()),
    );
    delivered.sort();
    delivered.dedup();
    assert_eq!(
        delivered,
        (1..=30).collect::<Vec<_>>(),
        "at least once: every record arrives"
    );
}

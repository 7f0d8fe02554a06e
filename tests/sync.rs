//! Syncs with the bundled connector: translation, ordering, state, resumption, mounts, files.
use crate::util::*;
use serde_json::{json, Value};

fn two_streams() -> Value {
    json!({"streams": [{"name": "users", "records": 25}, {"name": "items", "namespace": "shop", "records": 7, "incremental": false}],
           "state_every": 10})
}

#[test]
fn sync_without_catalog_emits_schema_records_state() {
    let run = tap_scripted(two_streams(), &[]);
    run.assert_code(0);
    let messages = run.messages();
    assert_eq!(run.records("users").len(), 25);
    assert_eq!(run.records("items").len(), 7);
    // SCHEMA for a stream comes before its first RECORD.
    for stream in ["users", "items"] {
        let schema = messages
            .iter()
            .position(|m| m["type"] == "SCHEMA" && m["stream"] == stream)
            .unwrap();
        let record = messages
            .iter()
            .position(|m| m["type"] == "RECORD" && m["stream"] == stream)
            .unwrap();
        assert!(schema < record, "{stream}");
    }
    let first = &run.of_type("RECORD")[0];
    assert_eq!(first["record"]["id"], 1);
    assert!(first["time_extracted"].as_str().unwrap().ends_with('Z'));
    let state = run.last_state();
    let airbyte_state = state["airbyte_state"].as_array().unwrap();
    assert_eq!(airbyte_state.len(), 2, "the whole merged state: {state}");
    assert!(run.stderr.contains("sync finished"));
}

#[test]
fn catalog_selection_and_resume_from_state() {
    let w = Workdir::new();
    let settings = scripted(two_streams());
    let discover = tap_with(&w, &settings, &["--discover"]);
    discover.assert_code(0);
    let mut catalog: Value = serde_json::from_str(&discover.stdout).unwrap();
    // Deselect `items` the way Meltano does: `selected: false` in its stream metadata.
    for entry in catalog["streams"].as_array_mut().unwrap() {
        if entry["tap_stream_id"] == "items" {
            let top = entry["metadata"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .find(|m| m["breadcrumb"] == json!([]))
                .unwrap();
            top["metadata"]["selected"] = json!(false);
        }
    }
    let catalog_path = w.json("catalog.json", &catalog);
    let first = tap_with(&w, &settings, &["--catalog", &catalog_path]);
    first.assert_code(0);
    assert_eq!(first.records("users").len(), 25);
    assert!(first.records("items").is_empty());
    assert!(
        !first.stderr.contains("command=\"discover\""),
        "our catalog needs no second discover:\n{}",
        first.stderr
    );

    // Resume: the connector gets the state and emits only what is new.
    let mut more = two_streams();
    more["streams"][0]["records"] = json!(30);
    let settings = scripted(more);
    let state_path = w.json("state.json", &first.last_state());
    let second = tap_with(
        &w,
        &settings,
        &["--properties", &catalog_path, "--state", &state_path],
    );
    second.assert_code(0);
    let ids: Vec<i64> = second
        .records("users")
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, (26..=30).collect::<Vec<_>>());
}

#[test]
fn state_is_never_ahead_of_its_records() {
    let run = tap_scripted(
        json!({"streams": [{"name": "s", "records": 300}], "state_every": 7}),
        &[],
    );
    run.assert_code(0);
    let mut seen = 0i64;
    for m in run.messages() {
        match m["type"].as_str().unwrap() {
            "RECORD" => seen = m["record"]["id"].as_i64().unwrap(),
            "STATE" => {
                let cursor = m["value"]["stream_state"]["cursor"].as_i64().unwrap();
                assert_eq!(cursor, seen, "a STATE covers exactly the records before it");
            }
            _ => {}
        }
    }
    assert_eq!(seen, 300);
}

#[test]
fn global_and_legacy_states_round_trip() {
    for kind in ["GLOBAL", "LEGACY"] {
        let w = Workdir::new();
        let config = json!({"streams": [{"name": "a", "records": 4}, {"name": "b", "records": 3}], "state_type": kind});
        let first = tap_with(&w, &scripted(config.clone()), &[]);
        first.assert_code(0);
        let state = first.last_state();
        assert_eq!(
            state["airbyte_state"].as_array().unwrap().len(),
            1,
            "{kind}: one message holds it all: {state}"
        );
        let mut more = config;
        more["streams"][0]["records"] = json!(6);
        let state_path = w.json("state.json", &state);
        let second = tap_with(&w, &scripted(more), &["--state", &state_path]);
        second.assert_code(0);
        assert_eq!(second.records("a").len(), 2, "{kind}");
        assert_eq!(second.records("b").len(), 0, "{kind}");
    }
}

#[test]
fn logs_chatter_and_garbage_stay_off_stdout() {
    let w = Workdir::new();
    let config =
        json!({"streams": [{"name": "s", "records": 3}], "chatter": true, "stderr_lines": 50});
    let run = tap_with(&w, &scripted(config), &[]);
    run.assert_code(0);
    run.messages(); // every stdout line is JSON
    assert_eq!(run.records("s").len(), 3);
    assert!(run
        .stderr
        .contains("Starting source-scripted (a plain text line on stdout)"));
    assert!(run.stderr.contains("stderr line 49 from source-scripted"));
    assert!(
        !run.stderr.contains("debug chatter"),
        "DEBUG connector logs are below the default level"
    );
    let debug = tap(
        &[
            "--config",
            &w.json("c2.json", &scripted(json!({"chatter": true}))),
        ],
        &[("TAP_AIRBYTE_LOG_LEVEL", "debug")],
    );
    debug.assert_code(0);
    assert!(debug.stderr.contains("debug chatter"));
}

#[test]
fn very_large_records_pass_and_a_line_limit_is_a_clear_error() {
    let w = Workdir::new();
    let config = json!({"streams": [{"name": "s", "records": 2}], "big_record_bytes": 20_000_000});
    let run = tap_with(&w, &scripted(config.clone()), &[]);
    run.assert_code(0);
    let records = run.records("s");
    assert_eq!(records.len(), 3);
    assert_eq!(records[0]["name"].as_str().unwrap().len(), 20_000_000);

    let mut limited = scripted(config);
    limited["max_line_bytes"] = json!(1_000_000);
    let run = tap_with(&w, &limited, &[]);
    run.assert_code(1);
    run.assert_stderr_has(&["longer than 1000000 bytes"]);
}

#[test]
fn slow_output_is_complete() {
    let run = tap_scripted(
        json!({"streams": [{"name": "s", "records": 20}], "sleep_ms": 25, "state_every": 5}),
        &[],
    );
    run.assert_code(0);
    assert_eq!(run.records("s").len(), 20);
    assert_eq!(run.of_type("STATE").len(), 4);
}

#[test]
fn mounts_bind_and_tmpfs() {
    let w = Workdir::new();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("lines.txt"), "alpha\nbeta\ngamma\n").unwrap();
    // The connector runs as uid 1000: make the mounted directory readable for it.
    std::process::Command::new("chmod")
        .args(["-R", "a+rX", &data.path().display().to_string()])
        .status()
        .unwrap();
    let mut settings = scripted(
        json!({"streams": [], "file_stream": {"name": "lines", "path": "/mnt/data/lines.txt"}}),
    );
    settings["docker_mounts"] = json!([
        {"source": data.path().display().to_string(), "target": "/mnt/data", "type": "bind"},
        {"target": "/scratch", "type": "tmpfs"}
    ]);
    let run = tap_with(&w, &settings, &[]);
    run.assert_code(0);
    let lines: Vec<Value> = run
        .records("lines")
        .iter()
        .map(|r| r["line"].clone())
        .collect();
    assert_eq!(lines, [json!("alpha"), json!("beta"), json!("gamma")]);

    // A bind mount whose source does not exist is an error, not an empty directory.
    settings["docker_mounts"] =
        json!([{"source": "/nonexistent/tap-airbyte-test", "target": "/mnt/data"}]);
    let run = tap_with(&w, &settings, &[]);
    run.assert_code(3);
    run.assert_stderr_has(&["/nonexistent/tap-airbyte-test"]);
}

#[test]
fn config_file_is_writable_by_the_image_user() {
    // Python connectors write migrated configs back to --config; the image runs as uid 1000.
    let run = tap_scripted(
        json!({"streams": [{"name": "s", "records": 1}], "write_config_back": true}),
        &[],
    );
    run.assert_code(0);
    assert_eq!(run.records("s").len(), 1);
}

#[test]
fn control_messages_are_reported_without_their_secrets() {
    let run = tap_scripted(
        json!({"streams": [{"name": "s", "records": 2}], "control": true, "api_key": "first-secret"}),
        &[],
    );
    run.assert_code(0);
    run.assert_stderr_has(&["CONTROL"]);
    assert!(
        !run.stderr.contains("rotated-secret-value")
            && !run.stdout.contains("rotated-secret-value")
    );
    assert_eq!(run.records("s").len(), 2);
}

#[test]
fn a_config_issued_by_the_connector_is_kept_and_used_next_run() {
    let w = Workdir::new();
    let kept = w.path().join("kept").join("connector-config.json");
    std::fs::create_dir_all(kept.parent().unwrap()).unwrap();
    let mut settings = scripted(
        json!({"streams": [{"name": "s", "records": 2}], "control": true, "api_key": "first-secret"}),
    );
    settings["connector_config_path"] = json!(kept.display().to_string());
    let first = tap_with(&w, &settings, &[]);
    first.assert_code(0);
    first.assert_stderr_has(&["saved the connector's new config"]);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&kept).unwrap()).unwrap();
    assert_eq!(saved["api_key"], "rotated-secret-value");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let second = tap_with(&w, &settings, &[]);
    second.assert_code(0);
    assert!(
        second
            .stderr
            .contains("the config carries the rotated api_key"),
        "{}",
        second.stderr
    );
    assert!(
        !second.stderr.contains("saved the connector's new config"),
        "the kept config turned `control` off"
    );
    for run in [&first, &second] {
        assert!(
            !run.stderr.contains("rotated-secret-value") && !run.stderr.contains("first-secret")
        );
    }
}

#[test]
fn deselected_properties_are_not_emitted() {
    let w = Workdir::new();
    let settings = scripted(json!({"streams": [{"name": "users", "records": 3}]}));
    let discover = tap_with(&w, &settings, &["--discover"]);
    discover.assert_code(0);
    let mut catalog: Value = serde_json::from_str(&discover.stdout).unwrap();
    for m in catalog["streams"][0]["metadata"].as_array_mut().unwrap() {
        if m["breadcrumb"] == json!(["properties", "name"])
            || m["breadcrumb"] == json!(["properties", "meta"])
        {
            m["metadata"]["selected"] = json!(false);
        }
    }
    let catalog_path = w.json("catalog.json", &catalog);
    let run = tap_with(&w, &settings, &["--catalog", &catalog_path]);
    run.assert_code(0);
    let records = run.records("users");
    assert_eq!(records.len(), 3);
    assert_eq!(
        records[0],
        json!({"id": 1, "updated_at": "2024-01-01T00:00:00Z"})
    );
    let schema = &run.of_type("SCHEMA")[0]["schema"]["properties"];
    assert!(
        schema.get("name").is_none() && schema.get("meta").is_none() && schema.get("id").is_some()
    );
}

#[test]
fn every_state_input_shape_resumes() {
    let w = Workdir::new();
    let settings = scripted(
        json!({"streams": [{"name": "a", "records": 6}, {"name": "b", "namespace": "n", "records": 4}]}),
    );
    let a3 = json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": "a"}, "stream_state": {"cursor": 3}}});
    let b4 = json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": "b", "namespace": "n"}, "stream_state": {"cursor": 4}}});
    let shapes = [
        ("ours", json!({"stream_descriptor": {"name": "a"}, "stream_state": {"cursor": 3}, "airbyte_state": [a3, b4]}).to_string(), 3, 0),
        ("wrapper", json!({"airbyte_state": [a3, b4]}).to_string(), 3, 0),
        ("bare array", json!([a3, b4]).to_string(), 3, 0),
        ("empty file", String::new(), 6, 4),
    ];
    for (name, text, a, b) in shapes {
        let state = w.file("state.json", &text);
        let run = tap_with(&w, &settings, &["--state", &state]);
        run.assert_code(0);
        assert_eq!(
            (run.records("a").len(), run.records("b").len()),
            (a, b),
            "{name}"
        );
    }
}

/// A connector that emits no STATE: a successful sync still ends with one (the state it started
/// from), so Meltano records that the run happened; a failed one does not claim it.
#[test]
fn a_sync_without_connector_state_still_ends_with_a_state() {
    let w = Workdir::new();
    let config = json!({"streams": [{"name": "s", "records": 4, "incremental": false}]});
    let input = w.json(
        "state.json",
        &json!({"airbyte_state": [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "other"}, "stream_state": {"cursor": 7}}}]}),
    );
    let run = tap_with(&w, &scripted(config.clone()), &["--state", &input]);
    run.assert_code(0);
    let messages = run.messages();
    let last = messages.last().expect("output");
    assert_eq!(last["type"], "STATE", "the sync ends with a STATE: {last}");
    assert_eq!(
        last["value"]["airbyte_state"][0]["stream"]["stream_state"]["cursor"], 7,
        "the state it started from, unchanged: {last}"
    );
    assert_eq!(run.of_type("STATE").len(), 1);

    let mut failing = config;
    failing["exit_code"] = json!(1);
    let run = tap_with(&w, &scripted(failing), &["--state", &input]);
    run.assert_code(1);
    assert!(
        run.of_type("STATE").is_empty(),
        "a failed run claims no state"
    );
}

/// A run that ends badly (here by the idle timeout) still keeps the config the connector issued,
/// and the rotated secret is masked in the connector's stderr lines and the errors quoting them.
#[test]
fn a_config_issued_before_an_idle_timeout_is_kept_and_masked_on_stderr() {
    let w = Workdir::new();
    let kept = w.path().join("connector-config.json");
    let mut settings = scripted(json!({
        "streams": [{"name": "s", "records": 2}],
        "control": true,
        "stderr_new_key": true,
        "hang_ms": 60_000,
        "api_key": "first-secret"
    }));
    settings["connector_config_path"] = json!(kept.display().to_string());
    settings["idle_timeout_seconds"] = json!(2);
    let run = tap_with(&w, &settings, &[]);
    run.assert_code(1);
    run.assert_stderr_has(&[
        "idle_timeout_seconds",
        "saved the connector's new config",
        "now using api_key=**********",
    ]);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&kept).unwrap()).unwrap();
    assert_eq!(saved["api_key"], "rotated-secret-value");
    assert!(
        !run.stderr.contains("rotated-secret-value"),
        "{}",
        run.stderr
    );
}

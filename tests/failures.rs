//! Failures: connector exit codes, TRACE ERROR, bad settings, unknown images, an unreachable engine.
use crate::util::*;
use serde_json::json;

#[test]
fn non_zero_exit_is_a_connector_failure_after_the_output_is_drained() {
    let run = tap_scripted(
        json!({"streams": [{"name": "s", "records": 5}], "exit_code": 7, "stderr_lines": 2}),
        &[],
    );
    run.assert_code(1);
    assert_eq!(
        run.records("s").len(),
        5,
        "output before the failure is still delivered"
    );
    run.assert_stderr_has(&["exited with code 7"]);
    run.assert_stderr_has(&["stderr line 1 from source-scripted"]);
}

#[test]
fn trace_error_keeps_earlier_records_and_states_and_names_its_failure_type() {
    let w = Workdir::new();
    let config = json!({"streams": [{"name": "s", "records": 50}], "state_every": 4,
                        "trace_error": {"after_records": 10, "failure_type": "transient_error", "message": "rate limited", "exit_code": 1}});
    let run = tap_with(&w, &scripted(config), &[]);
    run.assert_code(1);
    assert_eq!(run.records("s").len(), 10);
    assert_eq!(run.last_state()["stream_state"]["cursor"], 8);
    run.assert_stderr_has(&["transient_error", "rate limited"]);
}

#[test]
fn trace_config_error_exits_as_a_config_error_even_when_the_connector_exits_zero() {
    let w = Workdir::new();
    let config = json!({"streams": [{"name": "s", "records": 5}],
                        "trace_error": {"after_records": 0, "failure_type": "config_error", "message": "bad api key", "exit_code": 0}});
    let run = tap_with(&w, &scripted(config), &[]);
    run.assert_code(2);
    run.assert_stderr_has(&["config_error", "bad api key"]);
}

#[test]
fn bad_settings_are_clear_errors_before_any_container() {
    let w = Workdir::new();
    let cases = [
        (json!({}), "airbyte_spec.image"),
        (json!({"airbyte_spec": {"image": 3}}), "airbyte_spec.image"),
        (
            json!({"airbyte_spec": {"image": "x"}, "airbyte_config": "nope"}),
            "airbyte_config",
        ),
        (
            json!({"airbyte_spec": {"image": "x"}, "docker_mounts": [{"type": "bind"}]}),
            "docker_mounts[0].target",
        ),
    ];
    for (settings, key) in cases {
        let run = tap_with(&w, &settings, &[]);
        run.assert_code(2);
        assert!(run.stderr.contains(key), "{settings}: {}", run.stderr);
        assert!(run.stdout.is_empty());
    }
    let run = tap(&["--config", "/nonexistent/config.json"], &[]);
    run.assert_code(2);
    assert!(run.stderr.contains("/nonexistent/config.json"));
    let not_json = w.file("bad.json", "{not json");
    let run = tap(&["--config", &not_json], &[]);
    run.assert_code(2);
    let catalog = w.file("catalog.json", "[]");
    let run = tap_with(&w, &scripted(json!({})), &["--catalog", &catalog]);
    run.assert_code(2);
    run.assert_stderr_has(&["Singer catalog"]);
    let state = w.file("state.json", "\"x\"");
    let run = tap_with(&w, &scripted(json!({})), &["--state", &state]);
    run.assert_code(2);
    run.assert_stderr_has(&["state"]);
    let run = tap(&["--bogus-flag"], &[]);
    run.assert_code(2);
}

#[test]
fn unknown_image_names_the_image() {
    let w = Workdir::new();
    let settings =
        json!({"airbyte_spec": {"image": "tap-airbyte-test/does-not-exist", "tag": "0"}});
    let run = tap_with(&w, &settings, &["--discover"]);
    run.assert_code(3);
    run.assert_stderr_has(&["tap-airbyte-test/does-not-exist:0"]);
    assert!(run.stdout.is_empty());
}

#[test]
fn unreachable_engine_says_where_and_what_to_do() {
    let w = Workdir::new();
    let config = w.json("config.json", &json!({"airbyte_spec": {"image": "x"}}));
    let run = tap(
        &["--config", &config, "--discover"],
        &[("DOCKER_HOST", "tcp://127.0.0.1:1")],
    );
    run.assert_code(3);
    run.assert_stderr_has(&["tcp://127.0.0.1:1", "DOCKER_HOST"]);
    let run = tap(
        &["--config", &config, "--discover"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    run.assert_code(3);
    run.assert_stderr_has(&["/nonexistent/docker.sock"]);
}

#[test]
fn settings_from_the_environment() {
    scripted_image();
    let env = [
        ("TAP_AIRBYTE_AIRBYTE_SPEC_IMAGE", SCRIPTED),
        ("TAP_AIRBYTE_AIRBYTE_SPEC_TAG", "dev"),
        (
            "TAP_AIRBYTE_AIRBYTE_CONFIG",
            r#"{"streams": [{"name": "e", "records": 3}]}"#,
        ),
    ];
    let run = tap(&["--config", "ENV"], &env);
    run.assert_code(0);
    assert_eq!(run.records("e").len(), 3);
}

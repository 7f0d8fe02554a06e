//! `--version`, `--help`, `--about`, `--test` (check) and `--discover` against the real engine;
//! what the tap refuses before it asks the engine anything (modes that exclude each other, settings
//! it cannot honour), and log levels it cannot read.
use crate::util::*;
use serde_json::{json, Value};

#[test]
fn version_and_help() {
    let v = tap(&["--version"], &[]);
    v.assert_code(0);
    assert!(v.stdout.starts_with("tap-airbyte "), "{}", v.stdout);
    let h = tap(&["--help"], &[]);
    h.assert_code(0);
    for flag in [
        "--config",
        "--discover",
        "--catalog",
        "--state",
        "--about",
        "--format",
        "--test",
        "Exit codes",
    ] {
        assert!(h.stdout.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn about_without_config_needs_no_engine() {
    // An unreachable engine proves no Docker call is made.
    let run = tap(
        &["--about", "--format", "json"],
        &[("DOCKER_HOST", "tcp://127.0.0.1:1")],
    );
    run.assert_code(0);
    let about: Value = serde_json::from_str(&run.stdout).expect("stdout is one JSON document");
    assert_eq!(about["name"], "tap-airbyte");
    assert_eq!(about["settings"]["required"], json!(["airbyte_spec"]));
    let md = tap(&["--about", "--format", "markdown"], &[]);
    md.assert_code(0);
    assert!(
        md.stdout.contains("| airbyte_spec.image | string |"),
        "{}",
        md.stdout
    );
}

/// The plugin definition in examples/ is what `--about --format meltano` prints (regenerate it with
/// `TAP_AIRBYTE_BLESS=1`), and it names every setting `--about --format json` lists.
#[test]
fn the_meltano_plugin_definition_is_generated_from_about() {
    let yml = tap(&["--about", "--format", "meltano"], &[]);
    yml.assert_code(0);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/meltano-plugin.yml");
    if std::env::var_os("TAP_AIRBYTE_BLESS").is_some() {
        std::fs::write(&path, &yml.stdout).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        committed, yml.stdout,
        "examples/meltano-plugin.yml is stale: rerun with TAP_AIRBYTE_BLESS=1"
    );
    let about: Value =
        serde_json::from_str(&tap(&["--about", "--format", "json"], &[]).stdout).unwrap();
    let mut from_json = vec![];
    for (name, s) in about["settings"]["properties"].as_object().unwrap() {
        match s["properties"].as_object() {
            Some(inner) if name == "airbyte_spec" || name == "registry_auth" => {
                from_json.extend(inner.keys().map(|k| format!("{name}.{k}")))
            }
            _ => from_json.push(name.clone()),
        }
    }
    let from_yml: Vec<String> = committed
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- name: "))
        .skip(1) // the plugin's own name
        .map(str::to_string)
        .collect();
    assert_eq!(from_yml, from_json);
    assert_eq!(
        about["capabilities"],
        json!([
            "about",
            "batch",
            "catalog",
            "discover",
            "schema-flattening",
            "state",
            "stream-maps"
        ])
    );
    for secret in ["registry_auth.password", "registry_auth.identitytoken"] {
        assert!(
            committed.contains(&format!("- name: {secret}\n      kind: string\n")),
            "{secret}"
        );
    }
    assert_eq!(committed.matches("sensitive: true").count(), 2);
}

/// Meltano Hub's scripts run `--about --format json --config …` and parse what comes before
/// `Setup Instructions:` as JSON; a connector whose spec says those words must not break that.
#[test]
fn about_json_parses_as_the_hubs_scripts_parse_it() {
    let w = Workdir::new();
    let run = tap_with(&w, &scripted(json!({})), &["--about", "--format", "json"]);
    run.assert_code(0);
    let before = run.stdout.split("Setup Instructions:").next().unwrap();
    let about: Value = serde_json::from_str(before).expect("the Hub's split parses");
    assert_eq!(about["name"], "tap-airbyte");
    assert_eq!(
        about["settings"]["properties"]["airbyte_config"]["description"],
        "The bundled test connector. Setup Instructions: none, it needs no account."
    );
}

#[test]
fn about_with_config_runs_spec_and_shows_the_connector_settings() {
    let w = Workdir::new();
    let run = tap_with(
        &w,
        &scripted(json!({"api_key": "s3cr3t-value"})),
        &["--about", "--format", "json"],
    );
    run.assert_code(0);
    let about: Value =
        serde_json::from_str(&run.stdout).expect("stdout is one JSON document and nothing else");
    let key = &about["settings"]["properties"]["airbyte_config"]["properties"]["api_key"];
    assert_eq!(key["airbyte_secret"], true);
    assert!(!run.stdout.contains("s3cr3t-value") && !run.stderr.contains("s3cr3t-value"));
    let text = tap_with(&w, &scripted(json!({})), &["--about"]);
    text.assert_code(0);
    assert!(
        text.stdout.contains("airbyte_config.state_every (integer)"),
        "{}",
        text.stdout
    );
}

#[test]
fn check_succeeds() {
    let run = tap_scripted(json!({"check": "succeed"}), &["--test"]);
    run.assert_code(0);
    assert!(
        run.stdout.is_empty(),
        "check prints nothing on stdout: {}",
        run.stdout
    );
    run.assert_stderr_has(&["connection check succeeded"]);
}

#[test]
fn check_failed_is_a_config_error() {
    let run = tap_scripted(json!({"check": "fail"}), &["--test"]);
    run.assert_code(2);
    run.assert_stderr_has(&["scripted failure: bad credentials"]);
}

#[test]
fn check_crash_is_a_connector_failure_with_its_failure_type() {
    let run = tap_scripted(json!({"check": "crash", "stderr_lines": 3}), &["--test"]);
    run.assert_code(1);
    run.assert_stderr_has(&["system_error"]);
    run.assert_stderr_has(&["scripted crash during check"]);
    assert!(
        run.stderr.contains("stderr line 2 from source-scripted"),
        "stderr tail is reported: {}",
        run.stderr
    );
}

#[test]
fn discover_prints_only_the_singer_catalog() {
    let w = Workdir::new();
    let config = json!({
        "chatter": true, "stderr_lines": 5,
        "streams": [
            {"name": "users", "records": 1},
            {"name": "items", "namespace": "a", "records": 1, "incremental": false},
            {"name": "items", "namespace": "b", "records": 1, "primary_key": [["id"], ["meta", "seq"]]}
        ]
    });
    let run = tap_with(&w, &scripted(config.clone()), &["--discover"]);
    run.assert_code(0);
    // As Singer SDK taps do, a catalog given with --discover (`meltano invoke tap --discover`
    // passes the one Meltano keeps) is not read.
    let kept = w.file("kept.json", "not even JSON");
    let again = tap_with(&w, &scripted(config), &["--discover", "--catalog", &kept]);
    again.assert_code(0);
    assert_eq!(again.stdout, run.stdout);
    let catalog: Value =
        serde_json::from_str(&run.stdout).expect("stdout is the catalog and nothing else");
    let streams = catalog["streams"].as_array().unwrap();
    let ids: Vec<&str> = streams
        .iter()
        .map(|s| s["tap_stream_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["users", "a-items", "b-items"]);
    let users = &streams[0];
    assert_eq!(users["key_properties"], json!(["id"]));
    assert_eq!(users["replication_method"], "INCREMENTAL");
    assert_eq!(users["replication_key"], "id");
    let top = users["metadata"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["breadcrumb"] == json!([]))
        .unwrap();
    assert_eq!(top["metadata"]["selected-by-default"], true);
    assert_eq!(top["metadata"]["valid-replication-keys"], json!(["id"]));
    assert_eq!(top["metadata"]["table-key-properties"], json!(["id"]));
    assert_eq!(top["metadata"]["inclusion"], "available");
    assert_eq!(streams[1]["replication_method"], "FULL_TABLE");
    assert_eq!(
        streams[2]["key_properties"],
        json!(["id", "meta"]),
        "a nested key is keyed by its top-level property"
    );
    let b_top = streams[2]["metadata"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["breadcrumb"] == json!([]))
        .unwrap();
    assert_eq!(
        b_top["metadata"]["airbyte-primary-key"],
        json!([["id"], ["meta", "seq"]]),
        "the exact paths are kept"
    );
    assert_eq!(
        users["schema"]["properties"]["name"]["type"],
        json!(["null", "string"])
    );
    assert_eq!(
        users["schema"]["properties"]["id"]["type"],
        json!(["integer", "null"])
    );
    assert!(
        run.stderr.contains("chatter on stdout"),
        "connector logs reach stderr"
    );
}

/// An engine address where nothing listens: a run that gets that far exits 3.
const NO_ENGINE: (&str, &str) = ("DOCKER_HOST", "tcp://127.0.0.1:1");

#[test]
fn modes_that_would_ignore_each_other_are_usage_errors() {
    let w = Workdir::new();
    let config = w.json("config.json", &json!({"airbyte_spec": {"image": "a/b"}}));
    let catalog = w.json("catalog.json", &json!({"streams": []}));
    for mode in [
        &["--discover", "--test"][..],
        &["--test", "--catalog", catalog.as_str()],
        &["--test", "--properties", catalog.as_str()],
    ] {
        let mut args = vec!["--config", config.as_str()];
        args.extend_from_slice(mode);
        let run = tap(&args, &[NO_ENGINE]);
        run.assert_code(2);
        run.assert_stderr_has(&["cannot be used with"]);
        assert!(run.stdout.is_empty(), "{mode:?}: {}", run.stdout);
    }
}

#[test]
fn settings_the_tap_cannot_honour_are_configuration_errors() {
    let with = |extra: Value| {
        let mut settings =
            json!({"airbyte_spec": {"image": "airbyte/source-scripted", "tag": "dev"}});
        for (k, v) in extra.as_object().unwrap() {
            settings[k] = v.clone();
        }
        settings
    };
    let mount = |target: &str| json!({"docker_mounts": [{"source": "/tmp", "target": target}]});
    let cases = [
        (
            json!({"airbyte_spec": {"image": "Airbyte/Source-Faker"}}),
            "lower case",
        ),
        (
            json!({"airbyte_spec": {"image": "airbyte/source faker"}}),
            "white space",
        ),
        (
            json!({"airbyte_spec": {"image": "airbyte//source-faker"}}),
            "empty part",
        ),
        (
            json!({"airbyte_spec": {"image": "a/b", "tag": "Not A Tag"}}),
            "airbyte_spec.tag",
        ),
        (mount("/config"), "config.json"),
        (mount("/"), "config.json"),
        (mount("/config/sub"), "config.json"),
        (
            json!({"stream_maps": {"users": {"email": "lambda x: x"}}}),
            "lambda",
        ),
        (json!({"stream_maps": {"__bogus__": null}}), "__bogus__"),
        (json!({"flattening_enabled": true}), "flattening_max_depth"),
        (
            json!({"idle_timeout_seconds": 1e300}),
            "idle_timeout_seconds",
        ),
        (
            json!({"idle_timeout_seconds": 1e19}),
            "idle_timeout_seconds",
        ),
        (json!({"idle_timeout_seconds": -1}), "idle_timeout_seconds"),
    ];
    for (extra, says) in cases {
        let w = Workdir::new();
        let run = tap_with_env(&w, &with(extra.clone()), &["--test"], &[NO_ENGINE]);
        run.assert_code(2);
        run.assert_stderr_has(&[says]);
        assert!(!run.stderr.contains("panicked"), "{extra}: {}", run.stderr);
    }
    let run = tap(
        &["--config", "ENV", "--test"],
        &[
            NO_ENGINE,
            ("TAP_AIRBYTE_AIRBYTE_SPEC_IMAGE", "a/b"),
            ("TAP_AIRBYTE_IDLE_TIMEOUT_SECONDS", "NaN"),
        ],
    );
    run.assert_code(2);
    run.assert_stderr_has(&["TAP_AIRBYTE_IDLE_TIMEOUT_SECONDS"]);
    // What Meltano passes by default gets past the settings: to the (absent) engine.
    let w = Workdir::new();
    let defaults = with(
        json!({"stream_maps": {}, "stream_map_config": {}, "flattening_enabled": false,
                               "docker_mounts": [{"source": "/tmp", "target": "/data/config"}]}),
    );
    tap_with_env(&w, &defaults, &["--test"], &[NO_ENGINE]).assert_code(3);
}

#[test]
fn log_level_aliases_and_bad_values() {
    let w = Workdir::new();
    let no_image = w.json("none.json", &json!({}));
    for (level, warns) in [
        ("warning", false),
        ("critical", false),
        ("fatal", false),
        ("off", false),
        ("bogus", true),
        ("tap_airbyte=loud", true),
    ] {
        let run = tap(
            &["--config", &no_image],
            &[("TAP_AIRBYTE_LOG_LEVEL", level)],
        );
        run.assert_code(2);
        run.assert_stderr_has(&["setting `airbyte_spec.image` is required"]);
        assert_eq!(
            run.stderr.contains(&format!(
                "TAP_AIRBYTE_LOG_LEVEL={level:?} is not a log level"
            )),
            warns,
            "{level}: {}",
            run.stderr
        );
    }
    // `warning` is warn (info hidden), a bad value is info (shown).
    let settings = scripted(json!({"check": "succeed"}));
    for (level, info) in [("warning", false), ("bogus", true)] {
        let run = tap_with_env(
            &w,
            &settings,
            &["--test"],
            &[("TAP_AIRBYTE_LOG_LEVEL", level)],
        );
        run.assert_code(0);
        assert_eq!(
            run.stderr.contains("connection check succeeded"),
            info,
            "{level}: {}",
            run.stderr
        );
    }
}

/// Runs the tap with a settings file, more arguments and an environment.
fn tap_with_env(w: &Workdir, settings: &Value, more: &[&str], env: &[(&str, &str)]) -> Run {
    let config = w.json("config.json", settings);
    let mut args = vec!["--config", config.as_str()];
    args.extend_from_slice(more);
    tap(&args, env)
}

/// An error says each of its causes once (errors that quote their cause are not followed by it).
#[test]
fn errors_say_their_cause_once() {
    let w = Workdir::new();
    let bad = w.path().join("bad.json");
    std::fs::write(&bad, "{bad").unwrap();
    let missing = w.path().join("missing.json");
    for (file, cause) in [(&bad, "key must be a string"), (&missing, "No such file")] {
        let run = tap(&["--config", file.to_str().unwrap(), "--discover"], &[]);
        run.assert_code(2);
        assert_eq!(run.stderr.matches(cause).count(), 1, "{}", run.stderr);
    }
    let unreachable = w.path().join("c.json");
    std::fs::write(
        &unreachable,
        r#"{"airbyte_spec": {"image": "airbyte/source-scripted", "tag": "dev"}, "skip_native_check": true}"#,
    )
    .unwrap();
    let run = tap(
        &["--config", unreachable.to_str().unwrap(), "--discover"],
        &[("DOCKER_HOST", "tcp://127.0.0.1:1")],
    );
    run.assert_code(3);
    assert_eq!(
        run.stderr.matches("client error (Connect)").count(),
        1,
        "{}",
        run.stderr
    );
}

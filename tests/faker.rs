//! A real Airbyte connector from PyPI (airbyte-source-faker, Python CDK, runs as user `airbyte`),
//! compared with a raw `docker run … read` of the same image, config and configured catalog.
use crate::util::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn faker_settings() -> Value {
    faker_image();
    json!({"airbyte_spec": {"image": FAKER, "tag": "dev"},
           "airbyte_config": {"count": 300, "seed": 11, "records_per_slice": 100, "always_updated": false}})
}

#[test]
fn faker_sync_matches_a_raw_docker_run() {
    let w = Workdir::new();
    let settings = faker_settings();
    let image = format!("{FAKER}:dev");
    std::process::Command::new("chmod")
        .args(["a+rx", &w.path().display().to_string()])
        .status()
        .unwrap();

    // The reference: raw docker run, discover then read, with a configured catalog of every stream.
    w.json("connector.json", &settings["airbyte_config"]);
    let discovered = docker_run(
        &image,
        &["discover", "--config", "/data/connector.json"],
        w.path(),
    );
    assert!(
        discovered.status.success(),
        "{}",
        String::from_utf8_lossy(&discovered.stderr)
    );
    let catalog = String::from_utf8_lossy(&discovered.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["type"] == "CATALOG")
        .expect("a CATALOG")["catalog"]
        .clone();
    let configured: Vec<Value> = catalog["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| json!({"stream": s, "sync_mode": "incremental", "destination_sync_mode": "append",
                        "cursor_field": s["default_cursor_field"], "primary_key": s["source_defined_primary_key"]}))
        .collect();
    w.json("configured.json", &json!({"streams": configured}));
    for f in ["connector.json", "configured.json"] {
        std::process::Command::new("chmod")
            .args(["a+r", &w.path().join(f).display().to_string()])
            .status()
            .unwrap();
    }
    let raw = docker_run(
        &image,
        &[
            "read",
            "--config",
            "/data/connector.json",
            "--catalog",
            "/data/configured.json",
        ],
        w.path(),
    );
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for m in String::from_utf8_lossy(&raw.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        if m["type"] == "RECORD" {
            *expected
                .entry(m["record"]["stream"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    assert_eq!(expected.len(), 3, "{expected:?}");

    // The tap, discover then sync with its own catalog.
    let discover = tap_with(&w, &settings, &["--discover"]);
    discover.assert_code(0);
    let catalog_path = w.file("catalog.json", &discover.stdout);
    let run = tap_with(&w, &settings, &["--catalog", &catalog_path]);
    run.assert_code(0);
    let messages = run.messages(); // all stdout is JSON
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    let mut schema_seen = std::collections::HashSet::new();
    for m in &messages {
        let stream = m["stream"].as_str().unwrap_or_default().to_string();
        match m["type"].as_str().unwrap() {
            "SCHEMA" => {
                schema_seen.insert(stream);
            }
            "RECORD" => {
                assert!(
                    schema_seen.contains(&stream),
                    "SCHEMA before RECORD for {stream}"
                );
                *got.entry(stream).or_default() += 1;
            }
            _ => {}
        }
    }
    assert_eq!(got, expected);
    assert!(!run.of_type("STATE").is_empty());

    // And it resumes: with the last state nothing is read again.
    let state = w.json("state.json", &run.last_state());
    let again = tap_with(
        &w,
        &settings,
        &["--catalog", &catalog_path, "--state", &state],
    );
    again.assert_code(0);
    let total: usize = expected.values().sum();
    assert!(
        again.of_type("RECORD").len() < total,
        "the state was used: {} records again",
        again.of_type("RECORD").len()
    );
}

#[test]
fn faker_check_and_spec() {
    let w = Workdir::new();
    let settings = faker_settings();
    tap_with(&w, &settings, &["--test"]).assert_code(0);
    let about = tap_with(&w, &settings, &["--about", "--format", "json"]);
    about.assert_code(0);
    let v: Value = serde_json::from_str(&about.stdout).unwrap();
    assert!(v["settings"]["properties"]["airbyte_config"]["properties"]["count"].is_object());
}

//! Stream maps and flattening through the tap itself, with the Singer SDK as the oracle: for every
//! case of `tests/maps/corpus`, the tap runs a connector that replays the case's input
//! (`tests/maps/source_replay.py`, a local executable: no Docker needed) twice, without maps and
//! with the case's settings; the output without maps goes through meltano-map-transform (the
//! SDK's own mapper, from PyPI) with the same settings. SCHEMA (schema and key properties) and
//! RECORD messages must be the same, numbers compared as numbers (Python writes `1e+16` where
//! Rust writes `1e16`). Cases that are errors must stop the tap at start (exit 2), naming the
//! stream, the property and the construct.
use crate::util::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn map_transform_venv() -> PathBuf {
    let out = Command::new("timeout")
        .arg("1200")
        .arg(repo().join("tests/maps/venv.sh"))
        .output()
        .expect("venv.sh runs");
    assert!(
        out.status.success(),
        "building the meltano-map-transform venv failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// The tap on the replay connector with these extra settings: (exit code, stdout, stderr).
fn tap_on(w: &Workdir, input: &Path, extra: &Value) -> (Option<i32>, String, String) {
    let mut config = json!({
        "airbyte_spec": {"executable": repo().join("tests/maps/source_replay.py")},
        "airbyte_config": {"input": input},
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    let config = w.json("config.json", &config);
    let out = Command::new("timeout")
        .args([
            "120",
            env!("CARGO_BIN_EXE_tap-airbyte"),
            "--config",
            &config,
        ])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .expect("the tap runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn oracle(venv: &Path, singer: &str, config: &Value, w: &Workdir) -> String {
    let config = w.json("oracle-config.json", config);
    let mut child = Command::new("timeout")
        .arg("120")
        .arg(venv.join("bin/python"))
        .arg(repo().join("tests/maps/map_oracle.py"))
        .args(["--config", &config])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the oracle runs");
    let mut stdin = child.stdin.take().unwrap();
    let input = singer.to_string();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "meltano-map-transform failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Numbers as f64, so `1e+16` and `1e16`, `12.50` and `12.5` compare equal.
fn numbers_as_floats(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(a) => Value::Array(a.iter().map(numbers_as_floats).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), numbers_as_floats(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Per stream: its SCHEMA (schema, key properties) and its records in order.
type Streams = BTreeMap<String, (Value, Vec<Value>)>;

fn messages(singer: &str) -> Streams {
    let mut out: Streams = BTreeMap::new();
    for line in singer.lines().filter(|l| !l.trim().is_empty()) {
        let m: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let stream = m["stream"].as_str().unwrap_or_default().to_string();
        match m["type"].as_str() {
            Some("SCHEMA") => {
                let keys = match &m["key_properties"] {
                    Value::Null => json!([]),
                    k => k.clone(),
                };
                out.entry(stream).or_default().0 =
                    numbers_as_floats(&json!({"schema": m["schema"], "key_properties": keys}));
            }
            Some("RECORD") => out
                .entry(stream)
                .or_default()
                .1
                .push(numbers_as_floats(&m["record"])),
            _ => {}
        }
    }
    out
}

#[test]
fn the_taps_maps_give_what_the_sdks_mapper_gives_on_the_taps_own_output() {
    let venv = map_transform_venv();
    let corpus = repo().join("tests/maps/corpus");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let w = Workdir::new();
    let mut failures = vec![];
    let mut compared = 0;
    let mut plain_cache: BTreeMap<String, String> = BTreeMap::new();
    for path in &cases {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let input = corpus.join("inputs").join(case["input"].as_str().unwrap());
        let config = &case["config"];
        if let Some(error) = case["error"].as_str() {
            let (code, stdout, stderr) = tap_on(&w, &input, config);
            if code != Some(2) || !stdout.is_empty() || !stderr.contains(error) {
                failures.push(format!(
                    "{name}: expected exit 2 with '{error}', got {code:?}:\n{stderr}"
                ));
            }
            continue;
        }
        let plain = plain_cache
            .entry(input.display().to_string())
            .or_insert_with(|| {
                let (code, stdout, stderr) = tap_on(&w, &input, &json!({}));
                assert_eq!(code, Some(0), "the tap without maps:\n{stderr}");
                stdout
            })
            .clone();
        let expected = messages(&oracle(&venv, &plain, config, &w));
        let (code, stdout, stderr) = tap_on(&w, &input, config);
        if code != Some(0) {
            failures.push(format!("{name}: the tap exited {code:?}:\n{stderr}"));
            continue;
        }
        let ours = messages(&stdout);
        if ours != expected {
            failures.push(format!(
                "{name}:\n  tap: {}\n  sdk: {}",
                serde_json::to_string(&ours).unwrap(),
                serde_json::to_string(&expected).unwrap()
            ));
        }
        compared += 1;
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
    assert!(compared >= 30, "{compared} cases compared");
}

/// A map that hashes a column and drops another: the records carry only the hash; an expression
/// the tap cannot evaluate exactly stops it before the connector runs.
#[test]
fn a_map_hashes_and_drops_and_an_unsupported_expression_stops_the_tap() {
    let w = Workdir::new();
    let input = repo().join("tests/maps/corpus/inputs/shop.jsonl");
    let maps = json!({"stream_maps": {"customers": {"email": "sha256(email) if email else None", "name": null}}});
    let (code, stdout, stderr) = tap_on(&w, &input, &maps);
    assert_eq!(code, Some(0), "{stderr}");
    let records: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|m| m["type"] == "RECORD" && m["stream"] == "customers")
        .map(|m| m["record"].clone())
        .collect();
    assert!(!records.is_empty());
    for r in &records {
        assert!(r.get("name").is_none(), "{r}");
        if let Some(email) = r["email"].as_str() {
            assert_eq!(email.len(), 64, "a sha256 hex digest: {r}");
            assert!(!email.contains('@'), "{r}");
        }
    }
    assert!(
        !stdout.contains("@example.com"),
        "no raw email reaches stdout"
    );
    let (code, stdout, stderr) = tap_on(
        &w,
        &input,
        &json!({"stream_maps": {"customers": {"email": "(lambda e: e)(email)"}}}),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stdout.is_empty());
    for says in ["customers", "email", "lambda"] {
        assert!(stderr.contains(says), "the error names {says}:\n{stderr}");
    }
    assert!(!stderr.contains("running the connector"), "{stderr}");
}

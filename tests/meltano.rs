//! Meltano, for real: Meltano and target-jsonl from PyPI (tests/meltano/venv.sh), a project whose
//! extractor is the built binary (`executable:`, no `pip_url`) with `select:` rules, and two
//! `meltano run`s: the second resumes from the state Meltano stored after the first.
use crate::util::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn meltano_venv() -> String {
    let out = Command::new("timeout")
        .arg("900")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/meltano/venv.sh"))
        .output()
        .expect("venv.sh runs");
    assert!(
        out.status.success(),
        "building the Meltano venv failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A project shaped like examples/meltano.yml, on the bundled connector.
fn project(tap: &str, venv: &str, out_dir: &Path, users: u64) -> String {
    format!(
        r#"version: 1
default_environment: dev
project_id: tap-airbyte-e2e
send_anonymous_usage_stats: false
environments:
  - name: dev
plugins:
  extractors:
    - name: tap-airbyte
      namespace: tap_airbyte
      executable: {tap}
      capabilities: [catalog, discover, state, about]
      settings:
        - name: airbyte_spec.image
        - name: airbyte_spec.tag
        - name: airbyte_config
          kind: object
      config:
        airbyte_spec:
          image: {SCRIPTED}
          tag: dev
        airbyte_config:
          state_every: 2
          streams:
            - {{name: users, records: {users}}}
            - {{name: orders, records: 3, incremental: false}}
            - {{name: ignored, records: 3}}
      select:
        - users.*
        - orders.id
        - orders.updated_at
  loaders:
    - name: target-jsonl
      namespace: target_jsonl
      executable: {venv}/target-jsonl/bin/target-jsonl
      settings:
        - name: destination_path
        - name: do_timestamp_file
          kind: boolean
      config:
        destination_path: {out}
        do_timestamp_file: false
"#,
        out = out_dir.display()
    )
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("target-jsonl wrote JSON"))
        .collect()
}

fn meltano(venv: &str, dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("timeout")
        .arg("900")
        .arg(format!("{venv}/meltano/bin/meltano"))
        .args(args)
        .current_dir(dir)
        .env("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env("MELTANO_DISABLE_TRACKING", "true")
        .output()
        .expect("meltano runs")
}

#[test]
fn meltano_runs_twice_and_resumes_from_its_stored_state() {
    scripted_image();
    let venv = meltano_venv();
    let w = Workdir::new();
    let tap = env!("CARGO_BIN_EXE_tap-airbyte");
    let (out1, out2) = (w.path().join("out1"), w.path().join("out2"));
    std::fs::create_dir_all(&out1).unwrap();
    std::fs::create_dir_all(&out2).unwrap();

    std::fs::write(w.path().join("meltano.yml"), project(tap, &venv, &out1, 5)).unwrap();
    let first = meltano(&venv, w.path(), &["run", "tap-airbyte", "target-jsonl"]);
    assert!(
        first.status.success(),
        "first meltano run:\n{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let log = String::from_utf8_lossy(&first.stderr);
    assert!(
        log.contains("command=\"read\""),
        "Meltano shows the tap's logs:\n{log}"
    );
    assert!(
        !log.contains("running discover once"),
        "the catalog Meltano kept carries the connector's streams:\n{log}"
    );
    let users = jsonl(&out1.join("users.jsonl"));
    let ids: Vec<i64> = users.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    let orders = jsonl(&out1.join("orders.jsonl"));
    assert_eq!(orders.len(), 3);
    for o in &orders {
        let keys: Vec<&String> = o.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["id", "updated_at"],
            "only the selected properties: {o}"
        );
    }
    assert!(
        !out1.join("ignored.jsonl").exists(),
        "an unselected stream is not synced"
    );

    let state = meltano(
        &venv,
        w.path(),
        &["state", "get", "dev:tap-airbyte-to-target-jsonl"],
    );
    assert!(
        state.status.success(),
        "{}",
        String::from_utf8_lossy(&state.stderr)
    );
    let stored: Value = serde_json::from_slice(&state.stdout).expect("the stored state is JSON");
    let airbyte_state = stored["singer_state"]["airbyte_state"]
        .as_array()
        .expect("Meltano stored the tap's state");
    assert!(
        airbyte_state
            .iter()
            .any(|m| m["stream"]["stream_descriptor"]["name"] == "users"),
        "{stored}"
    );

    // More users at the source; the second run must read only the new ones.
    std::fs::write(w.path().join("meltano.yml"), project(tap, &venv, &out2, 8)).unwrap();
    let second = meltano(&venv, w.path(), &["run", "tap-airbyte", "target-jsonl"]);
    assert!(
        second.status.success(),
        "second meltano run:\n{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let ids: Vec<i64> = jsonl(&out2.join("users.jsonl"))
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        [6, 7, 8],
        "the second run resumed from the state Meltano kept"
    );
    assert_eq!(
        jsonl(&out2.join("orders.jsonl")).len(),
        3,
        "a full-refresh stream is read whole again"
    );
}

/// A project whose extractor runs the real airbyte-source-faker from PyPI without Docker
/// (`force_native: true`, the wrapper's setting), with no engine to reach: two `meltano run`s, the
/// second resuming from the state Meltano stored (faker with `always_updated: false` emits nothing
/// new then).
#[test]
fn meltano_runs_a_native_connector_twice_without_docker() {
    let venv = meltano_venv();
    let w = Workdir::new();
    let tap = env!("CARGO_BIN_EXE_tap-airbyte");
    // Shared with the native faker test: the install happens once per suite run.
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("native-cache");
    let (out1, out2) = (w.path().join("out1"), w.path().join("out2"));
    let yml = |out: &Path| {
        format!(
            r#"version: 1
default_environment: dev
project_id: tap-airbyte-native-e2e
send_anonymous_usage_stats: false
environments:
  - name: dev
plugins:
  extractors:
    - name: tap-airbyte
      namespace: tap_airbyte
      executable: {tap}
      capabilities: [catalog, discover, state, about]
      settings:
        - name: airbyte_spec.image
        - name: airbyte_spec.tag
        - name: force_native
          kind: boolean
        - name: airbyte_config
          kind: object
      config:
        airbyte_spec:
          image: airbyte/source-faker
          tag: 7.2.1
        force_native: true
        airbyte_config:
          count: 20
          seed: 3
          always_updated: false
  loaders:
    - name: target-jsonl
      namespace: target_jsonl
      executable: {venv}/target-jsonl/bin/target-jsonl
      settings:
        - name: destination_path
        - name: do_timestamp_file
          kind: boolean
      config:
        destination_path: {out}
        do_timestamp_file: false
"#,
            out = out.display()
        )
    };
    let run = |out: &Path| {
        std::fs::create_dir_all(out).unwrap();
        std::fs::write(w.path().join("meltano.yml"), yml(out)).unwrap();
        Command::new("timeout")
            .args([
                "900",
                &format!("{venv}/meltano/bin/meltano"),
                "run",
                "tap-airbyte",
                "target-jsonl",
            ])
            .current_dir(w.path())
            .env("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
            .env("MELTANO_DISABLE_TRACKING", "true")
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .env("TAP_AIRBYTE_CACHE_DIR", &cache)
            .output()
            .expect("meltano runs")
    };
    let first = run(&out1);
    assert!(
        first.status.success(),
        "first meltano run:\n{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(jsonl(&out1.join("users.jsonl")).len(), 20);
    assert_eq!(jsonl(&out1.join("purchases.jsonl")).len(), 20);
    let second = run(&out2);
    assert!(
        second.status.success(),
        "second meltano run:\n{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(
        jsonl(&out2.join("users.jsonl")).is_empty(),
        "the second run resumed from the state Meltano kept"
    );
}

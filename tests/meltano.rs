//! Meltano, for real: Meltano and target-jsonl from PyPI (tests/meltano/venv.sh), and the tap
//! installed the Meltano way, from its binary wheel (`docker/build-wheel.sh`) as `pip_url`:
//! - a project built from the plugin definition `--about --format meltano` prints
//!   (examples/meltano-plugin.yml): `meltano install`, `config test`, `select --list --all`,
//!   `invoke --discover`, and two `meltano run`s, the second resuming from the stored state;
//! - a project set up for tap-airbyte-wrapper as Meltano Hub defines it, with a state the wrapper
//!   left, that switches by changing only `pip_url`;
//! - a project whose extractor runs a connector natively, from PyPI, with no engine.
use crate::util::*;
use serde_json::Value;
use std::path::Path;

fn target_jsonl(venv: &str, out: &Path) -> String {
    format!(
        r#"  loaders:
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
}

/// The plugin definition as `--about --format meltano` prints it, installed from the wheel, with
/// a config on the bundled connector and `select:` rules.
fn project(venv: &str, out_dir: &Path, users: u64) -> String {
    let definition = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/meltano-plugin.yml"),
    )
    .unwrap();
    let pip_url = definition
        .lines()
        .find_map(|l| l.trim().strip_prefix("pip_url: "))
        .expect("the definition has a pip_url")
        .to_string();
    let definition = definition.replace(&pip_url, &wheel().display().to_string());
    format!(
        r#"{MELTANO_HEADER}{definition}    config:
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
{loaders}"#,
        loaders = target_jsonl(venv, out_dir)
    )
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("target-jsonl wrote JSON"))
        .collect()
}

#[test]
fn meltano_installs_the_wheel_and_runs_twice_resuming_from_its_stored_state() {
    scripted_image();
    let venv = meltano_venv();
    let w = Workdir::new();
    let (out1, out2) = (w.path().join("out1"), w.path().join("out2"));
    std::fs::create_dir_all(&out1).unwrap();
    std::fs::create_dir_all(&out2).unwrap();
    std::fs::write(w.path().join("meltano.yml"), project(&venv, &out1, 5)).unwrap();

    let (_, log) = meltano_ok(&venv, w.path(), &["install"], &[]);
    assert!(log.contains("tap-airbyte"), "{log}");
    let installed = w
        .path()
        .join(".meltano/extractors/tap-airbyte/venv/bin/tap-airbyte");
    assert!(
        installed.exists(),
        "the wheel put tap-airbyte on the venv's PATH"
    );

    let (stdout, stderr) = meltano_ok(&venv, w.path(), &["config", "test", "tap-airbyte"], &[]);
    assert!(
        format!("{stdout}{stderr}").contains("Plugin configuration is valid"),
        "{stdout}{stderr}"
    );
    let (list, _) = meltano_ok(
        &venv,
        w.path(),
        &["select", "tap-airbyte", "--list", "--all"],
        &[],
    );
    for line in [
        "[automatic  ] users.id",
        "[selected   ] users.name",
        "[automatic  ] orders.id",
        "[selected   ] orders.updated_at",
        "[excluded   ] orders.name",
        "[excluded   ] ignored.id",
    ] {
        assert!(
            list.contains(line),
            "select --list --all lacks {line:?}:\n{list}"
        );
    }
    let (catalog, _) = meltano_ok(
        &venv,
        w.path(),
        &["invoke", "tap-airbyte", "--discover"],
        &[],
    );
    let catalog: Value = serde_json::from_str(&catalog).expect("--discover prints the catalog");
    let streams: Vec<&str> = catalog["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["tap_stream_id"].as_str().unwrap())
        .collect();
    assert_eq!(streams, ["users", "orders", "ignored"]);

    let (_, log) = meltano_ok(
        &venv,
        w.path(),
        &["run", "tap-airbyte", "target-jsonl"],
        &[],
    );
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

    let (state, _) = meltano_ok(
        &venv,
        w.path(),
        &["state", "get", "dev:tap-airbyte-to-target-jsonl"],
        &[],
    );
    let stored: Value = serde_json::from_str(&state).expect("the stored state is JSON");
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
    std::fs::write(w.path().join("meltano.yml"), project(&venv, &out2, 8)).unwrap();
    meltano_ok(
        &venv,
        w.path(),
        &["run", "tap-airbyte", "target-jsonl"],
        &[],
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

/// A project set up for tap-airbyte-wrapper the way Meltano Hub defines its Airbyte extractors
/// (namespace, executable, capabilities, settings with their kinds, image as the setting's value),
/// holding a state the wrapper left (its shape: the last Airbyte state unpacked at top level, and
/// `airbyte_state`), switches to this tap by changing `pip_url` alone; the next run resumes.
#[test]
fn a_wrapper_project_switches_by_changing_only_pip_url() {
    scripted_image();
    let venv = meltano_venv();
    let w = Workdir::new();
    let out = w.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let hub = |pip_url: &str| {
        format!(
            r#"{MELTANO_HEADER}plugins:
  extractors:
    - name: tap-scripted
      variant: airbyte
      label: Scripted
      namespace: tap_airbyte
      pip_url: {pip_url}
      executable: tap-airbyte
      capabilities:
        - about
        - catalog
        - discover
        - schema-flattening
        - state
        - stream-maps
      settings:
        - name: airbyte_config.api_key
          kind: password
          sensitive: true
        - name: airbyte_config.state_every
          kind: integer
        - name: airbyte_config.streams
          kind: array
        - name: airbyte_spec.image
          kind: string
          value: {SCRIPTED}
        - name: airbyte_spec.tag
          kind: string
          value: latest
        - name: docker_mounts
          kind: array
        - name: stream_map_config
          kind: object
        - name: stream_maps
          kind: object
        - name: flattening_enabled
          kind: boolean
        - name: flattening_max_depth
          kind: integer
      settings_group_validation:
        - - airbyte_spec.image
      config:
        airbyte_spec:
          tag: dev
        airbyte_config:
          api_key: hub-s3cr3t-key
          state_every: 2
          streams:
            - {{name: users, records: 8}}
      select:
        - users.*
{loaders}"#,
            loaders = target_jsonl(&venv, &out)
        )
    };
    // The state the wrapper left after reading users 1..5.
    let users5 = serde_json::json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"cursor": 5}}});
    let wrapper_state = serde_json::json!({"singer_state": {
        "stream_descriptor": {"name": "users"}, "stream_state": {"cursor": 5},
        "airbyte_state": [users5]
    }});
    std::fs::write(
        w.path().join("meltano.yml"),
        hub("git+https://github.com/MeltanoLabs/tap-airbyte-wrapper.git"),
    )
    .unwrap();
    meltano_ok(
        &venv,
        w.path(),
        &[
            "state",
            "set",
            "--force",
            "dev:tap-scripted-to-target-jsonl",
            &wrapper_state.to_string(),
        ],
        &[],
    );

    // The switch: pip_url only.
    std::fs::write(
        w.path().join("meltano.yml"),
        hub(&wheel().display().to_string()),
    )
    .unwrap();
    meltano_ok(
        &venv,
        w.path(),
        &["install", "extractor", "tap-scripted"],
        &[],
    );
    let (_, log) = meltano_ok(
        &venv,
        w.path(),
        &["run", "tap-scripted", "target-jsonl"],
        &[],
    );
    assert!(!log.contains("hub-s3cr3t-key"), "{log}");
    let ids: Vec<i64> = jsonl(&out.join("users.jsonl"))
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [6, 7, 8], "the run resumed from the wrapper's state");
    let (state, _) = meltano_ok(
        &venv,
        w.path(),
        &["state", "get", "dev:tap-scripted-to-target-jsonl"],
        &[],
    );
    let stored: Value = serde_json::from_str(&state).unwrap();
    assert_eq!(
        stored["singer_state"]["airbyte_state"][0]["stream"]["stream_state"]["cursor"], 8,
        "{stored}"
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
            r#"{MELTANO_HEADER}plugins:
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
{loaders}"#,
            loaders = target_jsonl(&venv, out)
        )
    };
    let env = [
        ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ("TAP_AIRBYTE_CACHE_DIR", cache.to_str().unwrap()),
    ];
    let run = |out: &Path| {
        std::fs::create_dir_all(out).unwrap();
        std::fs::write(w.path().join("meltano.yml"), yml(out)).unwrap();
        meltano_ok(
            &venv,
            w.path(),
            &["run", "tap-airbyte", "target-jsonl"],
            &env,
        );
    };
    run(&out1);
    assert_eq!(jsonl(&out1.join("users.jsonl")).len(), 20);
    assert_eq!(jsonl(&out1.join("purchases.jsonl")).len(), 20);
    run(&out2);
    assert!(
        jsonl(&out2.join("users.jsonl")).is_empty(),
        "the second run resumed from the state Meltano kept"
    );
}

/// A Meltano project whose extractor hashes a column and drops another with a stream map (the
/// Singer SDK's `stream_maps` setting, with `stream_map_config` as the salt): target-jsonl writes
/// only the hashes. The connector replays tests/maps/corpus/inputs/shop.jsonl natively.
#[test]
fn meltano_loads_only_what_the_stream_map_leaves() {
    let venv = meltano_venv();
    let w = Workdir::new();
    let out = w.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let yml = format!(
        r#"{MELTANO_HEADER}plugins:
  extractors:
    - name: tap-shop
      namespace: tap_airbyte
      executable: {tap}
      capabilities: [about, catalog, discover, schema-flattening, state, stream-maps]
      settings:
        - name: airbyte_spec.executable
        - name: airbyte_config
          kind: object
        - name: stream_maps
          kind: object
        - name: stream_map_config
          kind: object
      config:
        airbyte_spec:
          executable: {replay}
        airbyte_config:
          input: {input}
        stream_maps:
          customers:
            email: "sha256(config['salt'] + email) if email else None"
            # Meltano leaves nulls out of the config it writes: "__NULL__" is the SDK's null.
            name: __NULL__
        stream_map_config:
          salt: "pepper-"
      select:
        - customers.*
{loaders}"#,
        tap = env!("CARGO_BIN_EXE_tap-airbyte"),
        replay = repo.join("tests/maps/source_replay.py").display(),
        input = repo.join("tests/maps/corpus/inputs/shop.jsonl").display(),
        loaders = target_jsonl(&venv, &out)
    );
    std::fs::write(w.path().join("meltano.yml"), yml).unwrap();
    meltano_ok(&venv, w.path(), &["run", "tap-shop", "target-jsonl"], &[]);
    let customers = jsonl(&out.join("customers.jsonl"));
    assert!(!customers.is_empty());
    let mut hashed = 0;
    for c in &customers {
        assert!(c.get("name").is_none(), "the dropped column is gone: {c}");
        match &c["email"] {
            Value::Null => {}
            Value::String(h) => {
                assert!(
                    h.len() == 64 && h.chars().all(|ch| ch.is_ascii_hexdigit()),
                    "{c}"
                );
                hashed += 1;
            }
            other => panic!("email is neither a hash nor null: {other}"),
        }
    }
    assert!(hashed > 0);
    let written = std::fs::read_to_string(out.join("customers.jsonl")).unwrap();
    assert!(
        !written.contains('@'),
        "no raw email was loaded:\n{written}"
    );
}

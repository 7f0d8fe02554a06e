//! End to end into a real database: the tap's output piped into MeltanoLabs' target-postgres from
//! PyPI (tests/postgres/venv.sh), writing to a PostgreSQL cluster the tests start on loopback
//! (tests/engines/postgres.sh, stopped by tests/engines/stop-all.sh). The rows are read back with
//! psql and compared with the RECORD messages the tap wrote (tee'd off the pipe); a second,
//! incremental run, from the state the target emitted, adds exactly the new rows.
use crate::util::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs one of the repository's scripts (with a timeout) and returns its trimmed stdout.
fn script(path: &str, args: &[&str], seconds: u32) -> String {
    let out = Command::new("timeout")
        .arg(seconds.to_string())
        .arg(repo().join(path))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{path} runs: {e}"));
    assert!(
        out.status.success(),
        "{path} {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The test cluster's URL (postgresql://tap:tap@127.0.0.1:55432/postgres), started once per run.
fn server() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| script("tests/engines/postgres.sh", &["start"], 300))
}

/// The venv holding target-postgres (cached under target/).
fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| PathBuf::from(script("tests/postgres/venv.sh", &[], 900)))
}

/// psql on a database of the test cluster, in UTC: the query's unaligned, tuples-only output.
fn psql(database: &str, sql: &str) -> String {
    let url = server().replace("/postgres", &format!("/{database}"));
    let out = Command::new("timeout")
        .args([
            "60",
            "psql",
            &url,
            "-X",
            "-q",
            "-tA",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .env("PGTZ", "UTC")
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql {sql:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A database of its own for one test (a fresh name per run, so reruns and parallel runs never
/// meet), dropped when the test passes.
struct Database(String);

impl Database {
    fn new(test: &str) -> Database {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("tap_e2e_{test}_{}_{nanos}", std::process::id());
        psql("postgres", &format!("CREATE DATABASE {name}"));
        Database(name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            psql(
                "postgres",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0),
            );
        }
    }
}

/// What one pipeline run left: the tap's stdout (tee'd) and the target's stdout (its STATEs).
struct Piped {
    tap: Run,
    target_stdout: String,
}

/// `tap | tee tap.jsonl | target-postgres`, every process under its own timeout (and the whole
/// pipeline under one more), with pipefail: a hang anywhere is killed, a failure anywhere fails.
fn pipeline(
    w: &Workdir,
    label: &str,
    settings: &Value,
    target: &Value,
    more: &[&str],
    env: &[(&str, &str)],
) -> Piped {
    let config = w.json(&format!("{label}-tap.json"), settings);
    let target_config = w.json(&format!("{label}-target.json"), target);
    let tee = w.path().join(format!("{label}-tap.jsonl"));
    let tap_err = w.path().join(format!("{label}-tap.err"));
    let mut tap_args = vec!["--config".to_string(), config];
    tap_args.extend(more.iter().map(|s| s.to_string()));
    let quoted: Vec<String> = tap_args.iter().map(|a| format!("'{a}'")).collect();
    let line = format!(
        "timeout 600 '{tap}' {args} 2>'{tap_err}' | timeout 600 tee '{tee}' | \
         timeout 600 '{target}' --config '{target_config}'",
        tap = env!("CARGO_BIN_EXE_tap-airbyte"),
        args = quoted.join(" "),
        tap_err = tap_err.display(),
        tee = tee.display(),
        target = venv().join("bin/target-postgres").display(),
    );
    let out = Command::new("timeout")
        .args(["700", "bash", "-o", "pipefail", "-c", &line])
        .envs(env.iter().copied())
        .output()
        .expect("the pipeline runs");
    let tap_stderr = std::fs::read_to_string(&tap_err).unwrap_or_default();
    let target_stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tap | target-postgres failed ({:?})\ntap stderr:\n{tap_stderr}\ntarget stderr:\n{target_stderr}",
        out.status
    );
    Piped {
        tap: Run {
            code: Some(0),
            signal: None,
            stdout: std::fs::read_to_string(&tee).expect("the tee'd tap output"),
            stderr: tap_stderr,
            pid: 0,
        },
        target_stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

/// The target's config: the test cluster, one schema for every stream.
fn target_config(database: &str) -> Value {
    json!({"host": "127.0.0.1", "port": 55432, "user": "tap", "password": "tap",
           "database": database, "default_target_schema": "tap_e2e",
           "add_record_metadata": true})
}

/// A table's rows as the tap's records look: id → {id, name, updated_at, meta}, from Postgres.
fn rows(database: &str, table: &str) -> BTreeMap<i64, Value> {
    let sql = format!(
        "SELECT coalesce(json_agg(json_build_object('id', id, 'name', name, \
         'updated_at', to_char(updated_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), \
         'meta', meta) ORDER BY id), '[]') FROM tap_e2e.{table}"
    );
    let all: Vec<Value> = serde_json::from_str(&psql(database, &sql)).expect("json_agg's JSON");
    let mut by_id = BTreeMap::new();
    for row in all {
        let id = row["id"].as_i64().expect("an integer id");
        assert!(by_id.insert(id, row).is_none(), "{table}: id {id} twice");
    }
    by_id
}

/// An RFC 3339 timestamp as Postgres prints it above: UTC, microseconds, no zone.
fn normalized_time(ts: &str) -> String {
    let out = psql(
        "postgres",
        &format!("SELECT to_char('{ts}'::timestamptz, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"),
    );
    assert!(!out.is_empty(), "{ts}");
    out
}

/// Checks that the table holds exactly these records (the tap's RECORD data), column by column.
#[track_caller]
fn assert_table_is(database: &str, table: &str, records: &[Value]) {
    let rows = rows(database, table);
    let ids: Vec<i64> = records.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(
        rows.keys().copied().collect::<Vec<_>>(),
        ids,
        "{table}: the same ids as the RECORD messages"
    );
    // Timestamps: every distinct one normalized once (psql per value would be slow).
    let mut times = BTreeMap::new();
    for record in records {
        let ts = record["updated_at"].as_str().expect("updated_at");
        times
            .entry(ts.to_string())
            .or_insert_with(|| normalized_time(ts));
    }
    for record in records {
        let row = &rows[&record["id"].as_i64().unwrap()];
        assert_eq!(row["name"], record["name"], "{table}: name of {record}");
        assert_eq!(row["meta"], record["meta"], "{table}: meta of {record}");
        assert_eq!(
            row["updated_at"],
            json!(times[record["updated_at"].as_str().unwrap()]),
            "{table}: updated_at of {record}"
        );
    }
}

fn source(users: u64, orders: u64) -> Value {
    json!({"streams": [{"name": "users", "records": users, "padding": 12},
                       {"name": "orders", "namespace": "shop", "records": orders}],
           "state_every": 100})
}

#[test]
fn records_into_postgres_then_incremental() {
    let db = Database::new("records");
    let target = target_config(&db.0);
    let w = Workdir::new();

    // First run: 600 + 400 records into empty tables.
    let first = pipeline(&w, "first", &scripted(source(600, 400)), &target, &[], &[]);
    let users = first.tap.records("users");
    let orders = first.tap.records("orders");
    assert_eq!(users.len(), 600);
    assert_eq!(orders.len(), 400);
    assert_eq!(users[0]["name"], "pppppppppppp");
    assert_table_is(&db.0, "users", &users);
    assert_table_is(&db.0, "orders", &orders);

    // The target emits the tap's last STATE once its rows are committed: that is what the next
    // run starts from, as an orchestrator would store it.
    let target_state: Value = serde_json::from_str(
        first
            .target_stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .expect("target-postgres emitted a state"),
    )
    .expect("the target's state is JSON");
    assert_eq!(target_state, first.tap.last_state());
    let batched = psql(
        &db.0,
        "SELECT count(DISTINCT _sdc_batched_at) || ' ' || max(_sdc_batched_at) FROM tap_e2e.users",
    );

    // Second run: the source has 150 + 50 more; from the state, only they travel.
    let state = w.json("state.json", &target_state);
    let second = pipeline(
        &w,
        "second",
        &scripted(source(750, 450)),
        &target,
        &["--state", &state],
        &[],
    );
    let new_users = second.tap.records("users");
    let new_orders = second.tap.records("orders");
    let ids = |records: &[Value]| -> Vec<i64> {
        records.iter().map(|r| r["id"].as_i64().unwrap()).collect()
    };
    assert_eq!(ids(&new_users), (601..=750).collect::<Vec<_>>());
    assert_eq!(ids(&new_orders), (401..=450).collect::<Vec<_>>());
    let all_users: Vec<Value> = users.iter().chain(&new_users).cloned().collect();
    let all_orders: Vec<Value> = orders.iter().chain(&new_orders).cloned().collect();
    assert_table_is(&db.0, "users", &all_users);
    assert_table_is(&db.0, "orders", &all_orders);
    // The first run's rows were not written again.
    let old = psql(
        &db.0,
        "SELECT count(DISTINCT _sdc_batched_at) || ' ' || max(_sdc_batched_at) FROM tap_e2e.users WHERE id <= 600",
    );
    assert_eq!(old, batched, "the first run's rows are untouched");
}

/// The real airbyte-source-faker from PyPI, run natively (examples/faker-native.json, no engine),
/// through the same pipe: every stream's rows are its RECORD messages' ids, and the same sync
/// through BATCH files gives the same rows. (target-postgres used
/// to crash writing the final STATE back out, "Object of type Decimal is not JSON serializable",
/// on the CDK's `sourceStats.recordCount: 100.0`: the tap's STATE values leave the counts out.)
#[test]
fn faker_natively_into_postgres() {
    let db = Database::new("faker");
    let w = Workdir::new();
    // The venv cache the native tests keep across runs (the first install takes ~half a minute).
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("native-cache");
    let cache = cache.display().to_string();
    let mut settings: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("examples/faker-native.json")).unwrap(),
    )
    .unwrap();
    settings["airbyte_config"]["count"] = json!(300);
    let run = pipeline(
        &w,
        "faker",
        &settings,
        &target_config(&db.0),
        &[],
        &[
            ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
            ("TAP_AIRBYTE_CACHE_DIR", &cache),
        ],
    );
    for stream in ["users", "products", "purchases"] {
        let mut sent: Vec<i64> = run
            .tap
            .records(stream)
            .iter()
            .map(|r| r["id"].as_i64().expect("an integer id"))
            .collect();
        sent.sort();
        sent.dedup();
        assert!(!sent.is_empty(), "{stream}: no records");
        let stored: Vec<i64> = psql(
            &db.0,
            &format!("SELECT id FROM tap_e2e.{stream} ORDER BY id"),
        )
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
        assert_eq!(stored, sent, "{stream}: the rows are the records' ids");
    }

    // The same sync through BATCH files (jsonl.gz, then parquet) into fresh databases gives the
    // same rows.
    for (label, format) in [("faker_batch", "jsonl"), ("faker_parquet", "parquet")] {
        let batched = Database::new(label);
        settings["batch_config"] = json!({
            "encoding": {"format": format, "compression": "gzip"},
            "storage": {"root": format!("file://{}", w.path().join(label).display())}
        });
        let run = pipeline(
            &w,
            label,
            &settings,
            &target_config(&batched.0),
            &[],
            &[
                ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
                ("TAP_AIRBYTE_CACHE_DIR", &cache),
            ],
        );
        assert!(
            run.tap
                .messages()
                .iter()
                .any(|m| m["type"] == "BATCH" && m["encoding"]["format"] == format),
            "{label}: BATCH messages in {format}"
        );
        for stream in ["users", "products", "purchases"] {
            // Faker's values differ from run to run (and `updated_at` is the run's time): the
            // ids are the same, and so are the JSON types each column holds (`address` an
            // object, not text; numbers numbers).
            let ids = format!("SELECT id FROM tap_e2e.{stream} ORDER BY id");
            assert_eq!(
                psql(&batched.0, &ids),
                psql(&db.0, &ids),
                "{label} {stream}: ids"
            );
            let types = format!(
                "SELECT string_agg(DISTINCT k || ' ' || jsonb_typeof(v), ', ') FROM \
                 tap_e2e.{stream} t, jsonb_each(to_jsonb(t)) e(k, v) \
                 WHERE jsonb_typeof(v) <> 'null' AND k NOT LIKE '\\_sdc\\_%'"
            );
            let found = psql(&batched.0, &types);
            assert!(found.contains("id number"), "{label} {stream}: {found}");
            assert_eq!(
                found,
                psql(&db.0, &types),
                "{stream}: BATCH ({format}) columns hold the RECORD path's types"
            );
        }
    }
}

/// BATCH output (`batch_config`, gzipped JSONL files) into target-postgres gives the rows of the
/// RECORD path; files are announced before every STATE (a STATE never covers a record in no
/// announced file); an incremental second run through BATCH adds exactly the new rows.
#[test]
fn batch_files_into_postgres_give_the_rows_of_the_record_path() {
    batch_into_postgres("batch", json!({"format": "jsonl", "compression": "gzip"}));
}

/// The same through parquet files (columns from the streams' schemas: `meta`, an object with
/// properties, is a struct that target-postgres's pyarrow reads back as the object it was).
#[test]
fn parquet_batch_files_into_postgres_give_the_rows_of_the_record_path() {
    batch_into_postgres(
        "batch_parquet",
        json!({"format": "parquet", "compression": "gzip"}),
    );
}

/// The records in one announced BATCH file.
fn records_in(path: &str, encoding: &Value) -> usize {
    if encoding["format"] == "parquet" {
        use parquet::file::reader::FileReader;
        assert!(path.ends_with(".parquet"), "{path}");
        let file = std::fs::File::open(path).unwrap();
        let reader = parquet::file::serialized_reader::SerializedFileReader::new(file).unwrap();
        return reader.metadata().file_metadata().num_rows() as usize;
    }
    let out = Command::new("timeout")
        .args(["60", "gzip", "-dc", path])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn batch_into_postgres(label: &str, encoding: Value) {
    let db = Database::new(label);
    let target = target_config(&db.0);
    let w = Workdir::new();
    let batches = w.path().join("batches");
    let with_batch = |source: Value| {
        let mut settings = scripted(source);
        settings["batch_config"] = json!({
            "encoding": encoding,
            "storage": {"root": format!("file://{}", batches.display()), "prefix": "e2e-"},
            "batch_size": 250
        });
        settings
    };
    // What the RECORD path delivers for the same source.
    let plain = tap_with(&w, &scripted(source(600, 400)), &[]);
    plain.assert_code(0);
    let (users, orders) = (plain.records("users"), plain.records("orders"));

    let first = pipeline(
        &w,
        "first",
        &with_batch(source(600, 400)),
        &target,
        &[],
        &[],
    );
    let messages = first.tap.messages();
    assert!(
        messages.iter().all(|m| m["type"] != "RECORD"),
        "records travel in files only"
    );
    // Every record is in a file announced before the STATE that covers it.
    let mut announced = 0usize;
    for m in &messages {
        match m["type"].as_str() {
            Some("BATCH") => {
                assert_eq!(m["encoding"], encoding);
                for url in m["manifest"].as_array().unwrap() {
                    let path = url.as_str().unwrap().strip_prefix("file://").unwrap();
                    announced += records_in(path, &encoding);
                }
            }
            Some("STATE") => {
                let cursor: i64 = m["value"]["airbyte_state"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|s| s["stream"]["stream_state"]["cursor"].as_i64())
                    .sum();
                assert!(
                    announced as i64 >= cursor,
                    "a STATE at cursor sum {cursor} after {announced} announced records"
                );
            }
            _ => {}
        }
    }
    assert_eq!(announced, 1000);
    assert_table_is(&db.0, "users", &users);
    assert_table_is(&db.0, "orders", &orders);
    let leftovers: Vec<_> = std::fs::read_dir(&batches)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Second run through BATCH, from the state the target emitted.
    let target_state = first
        .target_stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .expect("target-postgres emitted a state")
        .to_string();
    let state = w.file("state.json", &target_state);
    pipeline(
        &w,
        "second",
        &with_batch(source(750, 450)),
        &target,
        &["--state", &state],
        &[],
    );
    let more = tap_with(&w, &scripted(source(750, 450)), &[]);
    assert_table_is(&db.0, "users", &more.records("users"));
    assert_table_is(&db.0, "orders", &more.records("orders"));
}

/// The connector fails mid-sync (a TRACE ERROR after 350 records, exit 1) with BATCH output: the
/// tap exits 1, the target loads what was announced and emits the last STATE it covers; the rows
/// in Postgres and that STATE agree (every row the STATE claims is there), and a rerun from it
/// loses nothing: every record once.
#[test]
fn a_failure_mid_sync_leaves_postgres_and_the_state_consistent() {
    let db = Database::new("failure");
    let target = target_config(&db.0);
    let w = Workdir::new();
    let batches = w.path().join("batches");
    let settings = |fail: bool| {
        let mut source =
            json!({"streams": [{"name": "users", "records": 600}], "state_every": 100});
        if fail {
            source["trace_error"] = json!({"after_records": 350, "failure_type": "system_error",
                                           "message": "the API went away"});
        }
        let mut s = scripted(source);
        s["batch_config"] = json!({"encoding": {"format": "jsonl", "compression": "none"},
                                   "storage": {"root": format!("file://{}", batches.display())},
                                   "batch_size": 1000});
        s
    };
    let config = w.json("failing.json", &settings(true));
    let target_config = w.json("target.json", &target);
    let tee = w.path().join("failing.jsonl");
    let line = format!(
        "timeout 600 '{tap}' --config '{config}' 2>/dev/null | timeout 600 tee '{tee}' | \
         timeout 600 '{target}' --config '{target_config}'; echo \"tap=${{PIPESTATUS[0]}} target=${{PIPESTATUS[2]}}\" >&2",
        tap = env!("CARGO_BIN_EXE_tap-airbyte"),
        tee = tee.display(),
        target = venv().join("bin/target-postgres").display(),
    );
    let out = Command::new("timeout")
        .args(["700", "bash", "-c", &line])
        .output()
        .expect("the pipeline runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tap=1 target=0"), "{stderr}");
    let last_state: Value = serde_json::from_str(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .expect("the target emitted the last state it committed"),
    )
    .unwrap();
    let cursor = last_state["airbyte_state"][0]["stream"]["stream_state"]["cursor"]
        .as_i64()
        .expect("a cursor");
    let loaded = rows(&db.0, "users");
    assert!(cursor >= 300, "{last_state}");
    assert!(
        (1..=cursor).all(|id| loaded.contains_key(&id)),
        "every row the STATE claims is in Postgres (cursor {cursor}, {} rows)",
        loaded.len()
    );
    // The rerun from the target's state, with the connector healthy.
    let state = w.json("state.json", &last_state);
    pipeline(
        &w,
        "rerun",
        &settings(false),
        &target,
        &["--state", &state],
        &[],
    );
    let all = rows(&db.0, "users");
    assert_eq!(
        all.keys().copied().collect::<Vec<_>>(),
        (1..=600).collect::<Vec<_>>(),
        "every record once after the rerun"
    );
}

/// Meltano with `batch_config` in the extractor's config and target-postgres as the loader: the
/// rows arrive through BATCH files.
#[test]
fn meltano_runs_batch_into_postgres() {
    let db = Database::new("meltano");
    let meltano = meltano_venv();
    let w = Workdir::new();
    let batches = w.path().join("batches");
    let target = target_config(&db.0);
    let yml = format!(
        r#"{MELTANO_HEADER}plugins:
  extractors:
    - name: tap-airbyte
      namespace: tap_airbyte
      executable: {tap}
      capabilities: [about, batch, catalog, discover, state]
      settings:
        - name: airbyte_spec.image
        - name: airbyte_spec.tag
        - name: airbyte_config
          kind: object
        - name: batch_config
          kind: object
      config:
        airbyte_spec: {{image: {SCRIPTED}, tag: dev}}
        airbyte_config:
          streams: [{{name: users, records: 500}}]
          state_every: 100
        batch_config:
          encoding: {{format: jsonl, compression: gzip}}
          storage: {{root: "file://{batches}"}}
          batch_size: 200
  loaders:
    - name: target-postgres
      namespace: target_postgres
      executable: {target}
      config: {target_json}
"#,
        tap = env!("CARGO_BIN_EXE_tap-airbyte"),
        batches = batches.display(),
        target = venv().join("bin/target-postgres").display(),
        target_json = target,
    );
    std::fs::write(w.path().join("meltano.yml"), yml).unwrap();
    meltano_ok(
        &meltano,
        w.path(),
        &["run", "tap-airbyte", "target-postgres"],
        &[],
    );
    let loaded = rows(&db.0, "users");
    assert_eq!(
        loaded.keys().copied().collect::<Vec<_>>(),
        (1..=500).collect::<Vec<_>>()
    );
    let files = std::fs::read_dir(&batches).unwrap().count();
    assert!(files >= 3, "the rows came through batch files ({files})");
}

//! Reliability of the translation through the real tap binary (issue 8): records that are not
//! delivered fail the run and withhold later STATEs whatever their shape, state files that mix
//! STREAM and GLOBAL states resume both, catalogs that cannot be meant are refused, SCHEMAs describe
//! what connectors send, connector texts stay on one stderr line, and a large state is not copied
//! into every STATE.
//!
//! Lines no real connector writes on purpose come from `source-replay` (tests/replay/connector.rs),
//! which prints the bytes its config holds; it is compiled with `rustc` and put in an image here.
//! The rest uses the bundled scripted connector. `scale_100k_streams` (ignored) measures the
//! translation core with 100,000 streams.
use crate::util::*;
use serde_json::{json, Value};
use std::process::Command;
use std::sync::OnceLock;

const REPLAY: &str = "tap-airbyte-test/source-replay";

/// Builds the replay connector's image once per test run: a static binary in an empty image.
fn replay_image() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let ctx = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("source-replay");
        std::fs::create_dir_all(&ctx).unwrap();
        let source = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/replay/connector.rs");
        let status = Command::new("timeout")
            .args([
                "300",
                "rustc",
                "--edition",
                "2021",
                "-O",
                "-C",
                "target-feature=+crt-static",
            ])
            .args(["--target", "x86_64-unknown-linux-gnu", "-o"])
            .arg(ctx.join("source-replay"))
            .arg(source)
            .status()
            .expect("rustc runs");
        assert!(status.success(), "compiling {source} failed");
        std::fs::write(
            ctx.join("Dockerfile"),
            "FROM scratch\nCOPY source-replay /airbyte/source-replay\n\
             ENV AIRBYTE_ENTRYPOINT=/airbyte/source-replay\nUSER 1000:1000\n\
             ENTRYPOINT [\"/airbyte/source-replay\"]\n",
        )
        .unwrap();
        let status = Command::new("timeout")
            .args([
                "300",
                "docker",
                "build",
                "--quiet",
                "-t",
                &format!("{REPLAY}:dev"),
            ])
            .arg(&ctx)
            .env("DOCKER_BUILDKIT", "0")
            .stdout(std::process::Stdio::null())
            .status()
            .expect("docker build runs");
        assert!(status.success(), "building the replay image failed");
    });
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Three streams: `a` (incremental on `c`, key `id`), and `items` in namespaces `x` and `y`.
fn discovered() -> Vec<u8> {
    let stream = |name: &str, ns: Option<&str>| {
        let mut s = json!({"name": name, "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}, "c": {"type": "integer"}}},
            "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": true,
            "default_cursor_field": ["c"], "source_defined_primary_key": [["id"]]});
        if let Some(ns) = ns {
            s["namespace"] = json!(ns);
        }
        s
    };
    let catalog = json!({"type": "CATALOG", "catalog": {"streams": [stream("a", None), stream("items", Some("x")), stream("items", Some("y"))]}});
    format!("{catalog}\n").into_bytes()
}

/// Tap settings running the replay connector, which writes these lines on `read`.
fn replay(lines: &[&[u8]]) -> Value {
    replay_image();
    let mut read = Vec::new();
    for l in lines {
        read.extend_from_slice(l);
        read.push(b'\n');
    }
    json!({"airbyte_spec": {"image": REPLAY, "tag": "dev"},
           "airbyte_config": {"discover": hex(&discovered()), "read": hex(&read)}})
}

const RECORD_1: &[u8] =
    br#"{"type":"RECORD","record":{"stream":"a","data":{"id":1,"c":1},"emitted_at":0}}"#;
const STATE_1: &[u8] = br#"{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"a"},"stream_state":{"c":1}}}}"#;
const RECORD_3: &[u8] =
    br#"{"type":"RECORD","record":{"stream":"a","data":{"id":3,"c":3},"emitted_at":0}}"#;
const STATE_3: &[u8] = br#"{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"a"},"stream_state":{"c":3}}}}"#;

/// A sync of a record, a STATE, the line under test, a record, a STATE.
fn sync_around(line: &[u8]) -> Run {
    let w = Workdir::new();
    tap_with(
        &w,
        &replay(&[RECORD_1, STATE_1, line, RECORD_3, STATE_3]),
        &[],
    )
}

#[test]
fn a_record_that_is_not_delivered_fails_the_run_whatever_its_shape() {
    let lost: &[(&str, &[u8])] = &[
        (
            "torn, `type` last",
            br#"{"record":{"stream":"a","data":{"id":2,"c":2}},"type":"RECORD""#,
        ),
        (
            "invalid JSON, `type` last",
            br#"{"record":{"stream":"a","data":{"id":2,"c":2},},"type":"RECORD"}"#,
        ),
        (
            "a NUL byte first",
            b"\0{\"type\":\"RECORD\",\"record\":{\"stream\":\"a\",\"data\":{\"id\":2,\"c\":2}}}",
        ),
        (
            "a misspelt stream",
            br#"{"type":"RECORD","record":{"stream":"A","data":{"id":2,"c":2}}}"#,
        ),
        (
            "a name several namespaces share, without namespace",
            br#"{"type":"RECORD","record":{"stream":"items","data":{"id":2}}}"#,
        ),
        (
            "data that is not an object",
            br#"{"type":"RECORD","record":{"stream":"a","data":[1,2]}}"#,
        ),
        (
            "data that is null",
            br#"{"type":"RECORD","record":{"stream":"a","data":null}}"#,
        ),
    ];
    for (what, line) in lost {
        let run = sync_around(line);
        assert_eq!(run.code, Some(1), "{what}: exit code\n{}", run.stderr);
        run.assert_stderr_has(&["could not be read"]);
        let ids: Vec<i64> = run
            .records("a")
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [1, 3], "{what}: nothing else delivered");
        let states = run.of_type("STATE");
        assert_eq!(states.len(), 1, "{what}: no STATE after the damage");
        assert_eq!(
            states[0]["value"]["stream_state"],
            json!({"c": 1}),
            "{what}"
        );
        assert!(run.records("x-items").is_empty() && run.records("y-items").is_empty());
    }
}

#[test]
fn a_json_log_line_is_not_damage() {
    let run = sync_around(br#"{"level":"info","message":"a JSON log line","record_count":2}"#);
    run.assert_code(0);
    run.assert_stderr_has(&["a JSON log line"]);
    assert_eq!(run.last_state()["stream_state"], json!({"c": 3}));
}

#[test]
fn multi_line_connector_texts_stay_on_prefixed_stderr_lines() {
    let w = Workdir::new();
    let log = br#"{"type":"LOG","log":{"level":"WARN","message":"first log line\nsecond log line","stack_trace":"Traceback:\n  frame log"}}"#;
    let trace = br#"{"type":"TRACE","trace":{"type":"ERROR","emitted_at":1,"error":{"message":"first error line\nsecond error line","stack_trace":"Traceback:\n  frame error","failure_type":"system_error"}}}"#;
    let run = tap(
        &[
            "--config",
            &w.json("config.json", &replay(&[RECORD_1, log, trace])),
        ],
        &[("TAP_AIRBYTE_LOG_LEVEL", "debug")],
    );
    run.assert_code(1);
    run.assert_stderr_has(&[
        r"first log line\nsecond log line",
        r"Traceback:\n  frame log",
        r"first error line\nsecond error line",
        r"Traceback:\n  frame error",
    ]);
    for line in run.stderr.lines() {
        for spilled in [
            "second log line",
            "  frame log",
            "second error line",
            "  frame error",
        ] {
            assert!(
                !line.trim_start().starts_with(spilled.trim_start()),
                "a connector text spilled onto its own stderr line: {line:?}\n{}",
                run.stderr
            );
        }
    }
}

#[test]
fn a_state_file_mixing_stream_and_global_states_resumes_both() {
    let w = Workdir::new();
    let settings =
        scripted(json!({"streams": [{"name": "a", "records": 6}, {"name": "b", "records": 5}]}));
    let a3 = json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": "a"}, "stream_state": {"cursor": 3}}});
    let global = json!({"type": "GLOBAL", "global": {"shared_state": {"lsn": 9},
        "stream_states": [{"stream_descriptor": {"name": "b"}, "stream_state": {"cursor": 2}}]}});
    for (name, text) in [
        ("list", json!([a3, global])),
        ("wrapper", json!({"airbyte_state": [a3, global]})),
    ] {
        let state = w.json("state.json", &text);
        let run = tap_with(&w, &settings, &["--state", &state]);
        run.assert_code(0);
        let ids = |s: &str| -> Vec<i64> {
            run.records(s)
                .iter()
                .map(|r| r["id"].as_i64().unwrap())
                .collect()
        };
        assert_eq!(
            ids("a"),
            [4, 5, 6],
            "{name}: `a` resumes from its STREAM state"
        );
        assert_eq!(
            ids("b"),
            [3, 4, 5],
            "{name}: `b` resumes from the GLOBAL state"
        );
        let kept = run.last_state()["airbyte_state"].clone();
        assert!(
            kept.as_array().unwrap().contains(&global),
            "{name}: the GLOBAL part is carried on: {kept}"
        );
    }
}

/// The scripted connector's discovered catalog, through the tap.
fn discover(w: &Workdir, settings: &Value) -> Value {
    let run = tap_with(w, settings, &["--discover"]);
    run.assert_code(0);
    serde_json::from_str(&run.stdout).unwrap()
}

#[test]
fn a_catalog_with_a_duplicate_tap_stream_id_is_refused() {
    let w = Workdir::new();
    let settings = scripted(
        json!({"streams": [{"name": "users", "records": 3}, {"name": "items", "records": 2}]}),
    );
    let mut catalog = discover(&w, &settings);
    let mut copy = catalog["streams"][1].clone();
    copy["tap_stream_id"] = json!("users");
    catalog["streams"].as_array_mut().unwrap().push(copy);
    let path = w.json("catalog.json", &catalog);
    let run = tap_with(&w, &settings, &["--catalog", &path]);
    run.assert_code(2);
    run.assert_stderr_has(&["more than one entry with tap_stream_id `users`"]);
    assert!(run.stdout.is_empty(), "nothing synced: {}", run.stdout);
}

#[test]
fn a_selected_property_the_stream_lacks_is_warned_about() {
    let w = Workdir::new();
    let settings = scripted(json!({"streams": [{"name": "users", "records": 2}]}));
    let mut catalog = discover(&w, &settings);
    catalog["streams"][0]["metadata"]
        .as_array_mut()
        .unwrap()
        .push(json!({"breadcrumb": ["properties", "nmae"], "metadata": {"selected": true}}));
    let path = w.json("catalog.json", &catalog);
    let run = tap_with(&w, &settings, &["--catalog", &path]);
    run.assert_code(0);
    run.assert_stderr_has(&[
        "WARN",
        "`nmae` is selected but is not in the stream's schema",
    ]);
    assert_eq!(run.records("users").len(), 2);
}

#[test]
fn schemas_require_nothing_and_claim_no_format_without_a_time_zone() {
    let w = Workdir::new();
    let schema = json!({"type": "object", "required": ["id", "name", "meta"], "properties": {
        "id": {"type": "integer"},
        "updated_at": {"type": "string", "format": "date-time", "airbyte_type": "timestamp_without_timezone"},
        "name": {"type": "string"},
        "meta": {"type": "object", "required": ["seq"], "properties": {"seq": {"type": "integer"}, "tag": {"type": "string"}}}}});
    let settings = scripted(json!({"streams": [{"name": "s", "records": 2, "schema": schema}]}));
    let catalog = discover(&w, &settings);
    let run = tap_with(&w, &settings, &[]);
    run.assert_code(0);
    let emitted = run.of_type("SCHEMA")[0]["schema"].clone();
    for (what, schema) in [
        ("--discover", &catalog["streams"][0]["schema"]),
        ("SCHEMA", &emitted),
    ] {
        assert!(
            !schema.to_string().contains("\"required\""),
            "{what}: {schema}"
        );
        let at = &schema["properties"]["updated_at"];
        assert!(at.get("format").is_none(), "{what}: {at}");
        assert_eq!(at["airbyte_type"], "timestamp_without_timezone", "{what}");
    }
    assert_eq!(run.of_type("SCHEMA")[0]["key_properties"], json!(["id"]));
}

#[test]
fn a_large_input_state_is_not_copied_into_every_state() {
    let w = Workdir::new();
    // About 4 MB of state for other streams, then a sync with a STATE after every record.
    let others: Vec<Value> = (0..8000)
        .map(|i| json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": format!("old_{i}")}, "stream_state": {"pad": "p".repeat(500)}}}))
        .collect();
    let state_text = Value::from(others).to_string();
    let state = w.file("state.json", &state_text);
    let settings = scripted(json!({"streams": [{"name": "s", "records": 5}], "state_every": 1}));
    let run = tap_with(&w, &settings, &["--state", &state]);
    run.assert_code(0);
    assert_eq!(run.records("s").len(), 5);
    assert!(
        run.stdout.len() < 2 * state_text.len(),
        "{} bytes of output for 5 records and a {}-byte state",
        run.stdout.len(),
        state_text.len()
    );
    // Whatever STATE is written is whole: the old streams are all in it.
    for s in run.of_type("STATE") {
        assert_eq!(s["value"]["airbyte_state"].as_array().unwrap().len(), 8001);
    }
}

/// Runs `f`, printing its time and the peak resident memory it added (`VmHWM` is reset first
/// through `/proc/self/clear_refs`).
fn phase<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let kib = |field: &str| -> i64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = kib("VmRSS:");
    let t = std::time::Instant::now();
    let value = f();
    eprintln!(
        "{what}: {:?}, peak +{} MB",
        t.elapsed(),
        (kib("VmHWM:") - before) >> 10
    );
    value
}

/// Measures the translation core with 100,000 streams (`SCALE_STREAMS` to change): reading the
/// Singer catalog, catalog planning, the reader, a record and a STATE per stream; then a 50 MB
/// input state with 5 records and 5 STATEs. Run with
/// `cargo test --release --test translate_reliability scale_100k_streams -- --ignored --nocapture`.
#[test]
#[ignore]
fn scale_100k_streams() {
    use serde_json::value::RawValue;
    use std::io::{self, Write};
    use tap_airbyte::translate::catalog::{self, SingerCatalog};
    use tap_airbyte::translate::reader::Reader;
    use tap_airbyte::translate::state::StateStore;

    /// Counts bytes and STATE lines written.
    struct Count(u64, u64);
    impl Write for Count {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0 += b.len() as u64;
            if b.starts_with(b"{\"type\":\"STATE\"") {
                self.1 += 1;
            }
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let n: usize = std::env::var("SCALE_STREAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let raw: Vec<Box<RawValue>> = (0..n)
        .map(|i| {
            RawValue::from_string(
                json!({"name": format!("table_{i}"), "namespace": "public",
                "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}, "updated_at": {"type": "string", "format": "date-time"},
                    "name": {"type": ["null", "string"]}, "amount": {"type": "number"}, "tags": {"type": "array", "items": {"type": "string"}}}},
                "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": true,
                "default_cursor_field": ["updated_at"], "source_defined_primary_key": [["id"]]})
                .to_string(),
            )
            .unwrap()
        })
        .collect();
    let text =
        serde_json::to_vec(&catalog::to_singer(&catalog::parse_streams(&raw).unwrap())).unwrap();
    drop(raw);
    eprintln!("{n} streams, a {} MB Singer catalog", text.len() >> 20);
    let singer: SingerCatalog = phase("reading the Singer catalog (serde)", || {
        serde_json::from_slice(&text).unwrap()
    });
    drop(text);
    let plan = phase("catalog::plan", || {
        catalog::plan(Some(&singer), None).unwrap()
    });
    drop(singer);
    let mut out = Count(0, 0);
    let mut reader = phase("Reader::sync + SCHEMAs", || {
        let mut reader = Reader::sync(&plan.streams, StateStore::default());
        reader.begin(&mut out).unwrap();
        reader
    });
    let schemas = out.0;
    phase(&format!("{n} records + {n} STATEs + end_of_sync"), || {
        for i in 0..n {
            let line = format!(
                r#"{{"type":"RECORD","record":{{"stream":"table_{i}","namespace":"public","data":{{"id":1,"updated_at":"2024-01-01T00:00:00Z","name":"x","amount":1.5,"tags":[]}},"emitted_at":1700000000000}}}}"#
            );
            reader.on_line(line.as_bytes(), &mut out).unwrap();
            let line = format!(
                r#"{{"type":"STATE","state":{{"type":"STREAM","stream":{{"stream_descriptor":{{"name":"table_{i}","namespace":"public"}},"stream_state":{{"updated_at":"2024-01-01T00:00:00Z"}}}}}}}}"#
            );
            reader.on_line(line.as_bytes(), &mut out).unwrap();
        }
        reader.end_of_sync(&mut out).unwrap();
    });
    eprintln!(
        "  {} MB written after the SCHEMAs, {} Singer STATEs",
        (out.0 - schemas) >> 20,
        out.1
    );
    drop(reader);

    let mut big = String::from("[");
    let mut i = 0;
    while big.len() < 50_000_000 {
        if i > 0 {
            big.push(',');
        }
        big.push_str(&json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": format!("t{i}")}, "stream_state": {"cursor": "2024-01-01T00:00:00Z", "pad": "p".repeat(400)}}}).to_string());
        i += 1;
    }
    big.push(']');
    let state = StateStore::from_input(big.as_bytes()).unwrap();
    let mut reader = Reader::sync(&plan.streams[..1], state);
    let mut out = Count(0, 0);
    let what = format!(
        "a {} MB input state, 5 records + 5 STATEs + end_of_sync",
        big.len() >> 20
    );
    phase(&what, || {
        for k in 1..=5 {
            let record = format!(
                r#"{{"type":"RECORD","record":{{"stream":"table_0","namespace":"public","data":{{"id":{k}}},"emitted_at":0}}}}"#
            );
            reader.on_line(record.as_bytes(), &mut out).unwrap();
            let state = format!(
                r#"{{"type":"STATE","state":{{"type":"STREAM","stream":{{"stream_descriptor":{{"name":"table_0","namespace":"public"}},"stream_state":{{"cursor":{k}}}}}}}}}"#
            );
            reader.on_line(state.as_bytes(), &mut out).unwrap();
        }
        reader.end_of_sync(&mut out).unwrap();
    });
    eprintln!("  {} MB written, {} Singer STATEs", out.0 >> 20, out.1);
}

//! `source-scripted`: a small Airbyte source whose behaviour is scripted by its config.
//!
//! It speaks the Airbyte protocol on stdout like any connector (`spec`, `check`, `discover`, `read`)
//! and exists so that tap-airbyte's tests can drive every path a real connector can take: streams and
//! record counts, state every K records, resuming from a state, namespaces, composite and nested keys,
//! exit codes, TRACE ERROR, LOG chatter on stdout and stderr, non-JSON lines, very large records, slow
//! output, CONTROL messages, files from mounts.
//!
//! Like Airbyte's Java images it rejects any argument it does not know, including a leading `--`.
//!
//! Config (all keys optional):
//! ```json
//! {
//!   "streams": [{"name": "users", "namespace": "public", "records": 10, "padding": 200,
//!                "primary_key": [["id"]], "cursor": ["id"], "incremental": true}],
//!   "state_every": 5, "state_type": "STREAM" | "GLOBAL" | "LEGACY",
//!   "exit_code": 0 (of check and read), "trace_error": {"after_records": 3, "failure_type": "config_error", "message": "…"},
//!   "check": "succeed" | "fail" | "crash",
//!   "chatter": true, "stderr_lines": 100, "big_record_bytes": 10000000, "sleep_ms": 10,
//!   "control": true, "stderr_new_key": true (logs the rotated key on stderr), "write_config_back": true, "file_stream": {"name": "lines", "path": "/data/x.txt"},
//!   "hang_ms": 0 (after read), "background_writer_ms": 0 (after read, a child process goes on
//!   writing LOG lines to stdout for this long after the connector exits), "api_key": "secret"
//! }
//! ```
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, ms] = args.as_slice() {
        if flag == "__background_writer" {
            background_writer(ms.parse().unwrap_or(0));
            return ExitCode::SUCCESS;
        }
    }
    match run(&args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("source-scripted: {e}");
            ExitCode::from(2)
        }
    }
}

struct Args {
    command: String,
    config: Option<String>,
    catalog: Option<String>,
    state: Option<String>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let command = args
        .first()
        .ok_or("usage: source-scripted spec|check|discover|read ...")?;
    if !matches!(command.as_str(), "spec" | "check" | "discover" | "read") {
        return Err(format!(
            "unknown command {command:?} (a leading `--` is not accepted)"
        ));
    }
    let mut parsed = Args {
        command: command.clone(),
        config: None,
        catalog: None,
        state: None,
    };
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or(format!("{flag} needs a value"))?.clone();
        match flag.as_str() {
            "--config" => parsed.config = Some(value),
            "--catalog" => parsed.catalog = Some(value),
            "--state" => parsed.state = Some(value),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(parsed)
}

fn read_json(path: &str) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path} is not JSON: {e}"))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn run(args: &[String]) -> Result<u8, String> {
    let args = parse_args(args)?;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    if args.command == "spec" {
        emit(&mut out, &json!({"type": "SPEC", "spec": spec()}))?;
        return Ok(0);
    }
    let config_path = args.config.as_deref().ok_or("--config is required")?;
    let config = read_json(config_path)?;
    let config = config
        .as_object()
        .ok_or("config must be an object")?
        .clone();
    let script = Script { config: &config };
    if script.bool("chatter") {
        writeln!(
            out,
            "Starting source-scripted (a plain text line on stdout)"
        )
        .map_err(io_err)?;
        emit(
            &mut out,
            &json!({"type": "LOG", "log": {"level": "INFO", "message": "chatter on stdout"}}),
        )?;
        emit(
            &mut out,
            &json!({"type": "LOG", "log": {"level": "DEBUG", "message": "debug chatter"}}),
        )?;
        emit(
            &mut out,
            &json!({"type": "SOMETHING_NEW", "something_new": {"x": 1}}),
        )?;
        out.flush().map_err(io_err)?;
    }
    if script.bool("leak") {
        // A careless connector: its whole config, secrets included, everywhere it can write.
        let all = Value::Object(config.clone()).to_string();
        eprintln!("stderr: config is {all}");
        writeln!(out, "plain stdout: config is {all}").map_err(io_err)?;
        emit(
            &mut out,
            &json!({"type": "LOG", "log": {"level": "DEBUG", "message": format!("config is {all}"), "stack_trace": all}}),
        )?;
        emit(
            &mut out,
            &json!({"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": 1.0, "error": {
            "message": format!("failed with {all}"), "internal_message": all, "stack_trace": all, "failure_type": "system_error"}}}),
        )?;
        out.flush().map_err(io_err)?;
        return Ok(1);
    }
    for i in 0..script.u64("stderr_lines") {
        eprintln!("stderr line {i} from source-scripted");
    }
    let code = match args.command.as_str() {
        "check" => check(&mut out, &script)?,
        "discover" => {
            emit(
                &mut out,
                &json!({"type": "CATALOG", "catalog": {"streams": script.catalog()}}),
            )?;
            0 // exit_code applies to check and read
        }
        "read" => {
            let catalog = read_json(args.catalog.as_deref().ok_or("--catalog is required")?)?;
            let state = match args.state.as_deref() {
                Some(path) => Some(read_json(path)?),
                None => None,
            };
            if script.bool("write_config_back") {
                let mut migrated = config.clone();
                migrated.insert("migrated".into(), json!(true));
                std::fs::write(config_path, Value::Object(migrated).to_string())
                    .map_err(|e| format!("cannot write the config back to {config_path}: {e}"))?;
            }
            read(&mut out, &script, &catalog, state.as_ref())?
        }
        _ => unreachable!("checked in parse_args"),
    };
    out.flush().map_err(io_err)?;
    if config.get("stderr_new_key") == Some(&json!(true)) && args.command == "read" {
        // A connector that logs its new credentials on stderr, a moment after its CONTROL.
        std::thread::sleep(Duration::from_millis(300));
        eprintln!("source-scripted: now using api_key=rotated-secret-value");
        eprintln!("source-scripted: and fails with api_key=rotated-secret-value");
    }
    if let Some(ms) = config
        .get("hang_ms")
        .and_then(Value::as_u64)
        .filter(|_| args.command == "read")
    {
        std::thread::sleep(Duration::from_millis(ms));
    }
    if let Some(ms) = config
        .get("background_writer_ms")
        .and_then(Value::as_u64)
        .filter(|_| args.command == "read")
    {
        // An orphan that outlives the connector and keeps writing to its stdout.
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        std::process::Command::new(exe)
            .args(["__background_writer", &ms.to_string()])
            .spawn()
            .map_err(|e| format!("cannot start the background writer: {e}"))?;
    }
    Ok(code)
}

/// Writes a LOG line to stdout every 10 ms for `ms` milliseconds.
fn background_writer(ms: u64) {
    let started = std::time::Instant::now();
    let mut out = io::stdout();
    while started.elapsed() < Duration::from_millis(ms) {
        let line = b"{\"type\":\"LOG\",\"log\":{\"level\":\"INFO\",\"message\":\"background\"}}\n";
        if out.write_all(line).and_then(|()| out.flush()).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn io_err(e: io::Error) -> String {
    format!("stdout: {e}")
}

fn emit(out: &mut impl Write, message: &Value) -> Result<(), String> {
    serde_json::to_writer(&mut *out, message).map_err(|e| e.to_string())?;
    out.write_all(b"\n").map_err(io_err)
}

fn spec() -> Value {
    json!({
        "documentationUrl": "https://example.invalid/source-scripted",
        "connectionSpecification": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "Scripted Source Spec",
            "description": "The bundled test connector. Setup Instructions: none, it needs no account.",
            "type": "object",
            "required": [],
            "properties": {
                "streams": {"type": "array", "description": "Streams to emit"},
                "state_every": {"type": "integer", "description": "Emit a STATE every K records"},
                "api_key": {"type": "string", "airbyte_secret": true, "description": "A secret, never logged"},
                "opaque": {"type": "string", "airbyte_secret": true, "description": "A secret whose name does not say so"},"exit_code": {"type": "integer", "description": "Exit code after a read"}
            }
        }
    })
}

struct Script<'a> {
    config: &'a Map<String, Value>,
}

impl Script<'_> {
    fn bool(&self, key: &str) -> bool {
        self.config
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
    fn u64(&self, key: &str) -> u64 {
        self.config.get(key).and_then(Value::as_u64).unwrap_or(0)
    }
    fn exit_code(&self) -> u8 {
        self.u64("exit_code") as u8
    }
    fn streams(&self) -> Vec<Value> {
        let mut streams = match self.config.get("streams").and_then(Value::as_array) {
            Some(list) => list.clone(),
            None => vec![json!({"name": "items", "records": 10})],
        };
        if let Some(file) = self.config.get("file_stream") {
            let name = file.get("name").and_then(Value::as_str).unwrap_or("lines");
            streams.push(json!({"name": name, "file": file.get("path").cloned().unwrap_or(Value::Null), "incremental": false, "primary_key": []}));
        }
        streams
    }
    fn catalog(&self) -> Vec<Value> {
        self.streams().iter().map(airbyte_stream).collect()
    }
}

fn airbyte_stream(s: &Value) -> Value {
    let incremental = s
        .get("incremental")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let mut stream = json!({
        "name": s["name"],
        "json_schema": s.get("schema").cloned().unwrap_or_else(|| json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "updated_at": {"type": "string", "format": "date-time", "airbyte_type": "timestamp_with_timezone"},
                "name": {"type": ["null", "string"]},
                "meta": {"type": "object", "properties": {"seq": {"type": "integer"}, "tag": {"type": "string"}}}
            }
        })),
        "supported_sync_modes": if incremental { json!(["full_refresh", "incremental"]) } else { json!(["full_refresh"]) },
        "source_defined_primary_key": s.get("primary_key").cloned().unwrap_or(json!([["id"]])),
    });
    if incremental {
        stream["source_defined_cursor"] = json!(true);
        stream["default_cursor_field"] = s.get("cursor").cloned().unwrap_or(json!(["id"]));
    }
    if let Some(ns) = s.get("namespace").filter(|v| !v.is_null()) {
        stream["namespace"] = ns.clone();
    }
    stream
}

fn check(out: &mut impl Write, script: &Script) -> Result<u8, String> {
    match script
        .config
        .get("check")
        .and_then(Value::as_str)
        .unwrap_or("succeed")
    {
        "succeed" => emit(
            out,
            &json!({"type": "CONNECTION_STATUS", "connectionStatus": {"status": "SUCCEEDED"}}),
        )?,
        "fail" => emit(
            out,
            &json!({"type": "CONNECTION_STATUS", "connectionStatus": {"status": "FAILED", "message": "scripted failure: bad credentials"}}),
        )?,
        _ => {
            trace_error(out, "scripted crash during check", "system_error")?;
            return Ok(1);
        }
    }
    Ok(script.exit_code())
}

fn trace_error(out: &mut impl Write, message: &str, failure_type: &str) -> Result<(), String> {
    emit(
        out,
        &json!({"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": now_ms() as f64 + 0.5,
            "error": {"message": message, "internal_message": "internal detail", "failure_type": failure_type,
                      "stack_trace": "Traceback: scripted"}}}),
    )
}

/// Key of a stream in state and catalogs: (namespace, name).
fn descriptor(v: &Value) -> (Option<String>, String) {
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let ns = v
        .get("namespace")
        .and_then(Value::as_str)
        .map(str::to_string);
    (ns, name)
}

/// The cursor (last id) each stream resumes from, whatever the state type.
fn resume_points(state: Option<&Value>) -> Result<HashMap<(Option<String>, String), u64>, String> {
    let mut points = HashMap::new();
    let Some(state) = state else {
        return Ok(points);
    };
    let messages = state
        .as_array()
        .ok_or("state must be a JSON array of state messages")?;
    let mut take = |sd: &Value, st: &Value| {
        if let Some(cursor) = st.get("cursor").and_then(Value::as_u64) {
            points.insert(descriptor(sd), cursor);
        }
    };
    for m in messages {
        match m.get("type").and_then(Value::as_str).unwrap_or("LEGACY") {
            "STREAM" => take(
                &m["stream"]["stream_descriptor"],
                &m["stream"]["stream_state"],
            ),
            "GLOBAL" => {
                for s in m["global"]["stream_states"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    take(&s["stream_descriptor"], &s["stream_state"]);
                }
            }
            _ => {
                for (name, st) in m["data"].as_object().into_iter().flatten() {
                    take(&json!({"name": name}), st);
                }
            }
        }
    }
    Ok(points)
}

fn read(
    out: &mut impl Write,
    script: &Script,
    catalog: &Value,
    state: Option<&Value>,
) -> Result<u8, String> {
    let configured = catalog["streams"]
        .as_array()
        .ok_or("catalog has no streams")?;
    let resume = resume_points(state)?;
    let defined = script.streams();
    let state_every = script.u64("state_every");
    let state_type = script
        .config
        .get("state_type")
        .and_then(Value::as_str)
        .unwrap_or("STREAM");
    let sleep = Duration::from_millis(script.u64("sleep_ms"));
    let trace = script.config.get("trace_error");
    let trace_after = trace
        .and_then(|t| t.get("after_records"))
        .and_then(Value::as_u64);
    let mut emitted = 0u64;
    let mut cursors: Vec<(Value, u64)> = Vec::new();

    if script.config.get("api_key").and_then(Value::as_str) == Some("rotated-secret-value") {
        emit(
            out,
            &json!({"type": "LOG", "log": {"level": "INFO", "message": "the config carries the rotated api_key"}}),
        )?;
    }
    if script.bool("control") {
        let mut new_config = script.config.clone();
        new_config.insert("api_key".into(), json!("rotated-secret-value"));
        new_config.insert("control".into(), json!(false));
        emit(
            out,
            &json!({"type": "CONTROL", "control": {"type": "CONNECTOR_CONFIG", "emitted_at": now_ms(),
            "connectorConfig": {"config": new_config}}}),
        )?;
    }
    if script.bool("garbage") {
        // Not Airbyte messages, and not damaged ones either: logs of all sorts.
        out.write_all(b"plain text on stdout\n").map_err(io_err)?;
        out.write_all(b"latin-1 text \xe9t\xe9 \xff\n")
            .map_err(io_err)?;
        out.write_all(b"{\"level\":\"info\",\"message\":\"a JSON log line\"}\n")
            .map_err(io_err)?;
        out.write_all(b"{\n  \"pretty\": true\n}\n")
            .map_err(io_err)?;
        out.write_all(b"\x00\x01\x02 binary\n").map_err(io_err)?;
    }
    if let Some(bytes) = script
        .config
        .get("big_record_bytes")
        .and_then(Value::as_u64)
    {
        let first = &configured.first().ok_or("empty catalog")?["stream"];
        let big = "x".repeat(bytes as usize);
        emit(
            out,
            &json!({"type": "RECORD", "record": {"stream": first["name"], "data": {"id": 0, "name": big}, "emitted_at": now_ms()}}),
        )?;
    }

    for entry in configured {
        let stream = &entry["stream"];
        let key = descriptor(stream);
        let def = defined
            .iter()
            .find(|d| descriptor(d) == key)
            .ok_or(format!(
                "stream {key:?} is not one of this source's streams"
            ))?;
        let incremental = entry["sync_mode"] == "incremental";
        let supported = stream["supported_sync_modes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !supported.iter().any(|m| m == &entry["sync_mode"]) {
            return Err(format!(
                "sync_mode {} is not supported by {key:?}",
                entry["sync_mode"]
            ));
        }
        let sd = match &key.0 {
            Some(ns) => json!({"name": key.1, "namespace": ns}),
            None => json!({"name": key.1}),
        };
        emit(
            out,
            &json!({"type": "TRACE", "trace": {"type": "STREAM_STATUS", "emitted_at": now_ms(),
            "stream_status": {"stream_descriptor": sd, "status": "STARTED"}}}),
        )?;
        let lines: Option<Vec<String>> = match def.get("file").and_then(Value::as_str) {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {path}: {e}"))?
                    .lines()
                    .map(str::to_string)
                    .collect(),
            ),
            None => None,
        };
        let total = lines
            .as_ref()
            .map(|l| l.len() as u64)
            .unwrap_or_else(|| def.get("records").and_then(Value::as_u64).unwrap_or(10));
        let start = if incremental {
            resume.get(&key).copied().unwrap_or(0)
        } else {
            0
        };
        let padding = "p".repeat(def.get("padding").and_then(Value::as_u64).unwrap_or(0) as usize);
        let ns_field = match &key.0 {
            Some(ns) => format!(",\"namespace\":{}", Value::from(ns.as_str())),
            None => String::new(),
        };
        let name_json = Value::from(key.1.as_str()).to_string();
        let mut last = start;
        for id in (start + 1)..=total {
            if let Some(after) = trace_after {
                if emitted == after {
                    let t = trace.expect("trace_after implies trace");
                    out.flush().map_err(io_err)?;
                    trace_error(
                        out,
                        t.get("message")
                            .and_then(Value::as_str)
                            .unwrap_or("scripted error"),
                        t.get("failure_type")
                            .and_then(Value::as_str)
                            .unwrap_or("system_error"),
                    )?;
                    out.flush().map_err(io_err)?;
                    return Ok(t.get("exit_code").and_then(Value::as_u64).unwrap_or(1) as u8);
                }
            }
            if script.config.get("damage_after").and_then(Value::as_u64) == Some(emitted) {
                // A RECORD with invalid UTF-8 inside: it cannot be read, so it is lost.
                write!(out, "{{\"type\":\"RECORD\",\"record\":{{\"stream\":{name_json},\"data\":{{\"id\":{id},\"name\":\"").map_err(io_err)?;
                out.write_all(b"\xff\xfe\"}}}\n").map_err(io_err)?;
                emitted += 1;
                last = id;
                continue;
            }
            let data = match &lines {Some(l) => json!({"line": l[(id - 1) as usize]}).to_string(),
                None => format!(
                    "{{\"id\":{id},\"updated_at\":\"2024-01-01T00:00:00Z\",\"name\":\"{padding}\",\"meta\":{{\"seq\":{id},\"tag\":\"t\"}}}}"
                ),
            };
            writeln!(out, "{{\"type\":\"RECORD\",\"record\":{{\"stream\":{name_json}{ns_field},\"data\":{data},\"emitted_at\":{}}}}}", now_ms())
                .map_err(io_err)?;
            emitted += 1;
            last = id;
            if !sleep.is_zero() {
                out.flush().map_err(io_err)?;
                std::thread::sleep(sleep);
            }
            if state_every > 0 && (id - start) % state_every == 0 && id != total {
                emit_state(out, state_type, &sd, last, &cursors, emitted)?;
            }
        }
        if incremental || state_every > 0 {
            cursors.retain(|(d, _)| d != &sd);
            cursors.push((sd.clone(), last));
            emit_state(out, state_type, &sd, last, &cursors, emitted)?;
        }
        emit(
            out,
            &json!({"type": "TRACE", "trace": {"type": "STREAM_STATUS", "emitted_at": now_ms(),
            "stream_status": {"stream_descriptor": sd, "status": "COMPLETE"}}}),
        )?;
    }
    if script.bool("torn_end") {
        // The connector dies in the middle of a line.
        let first = &configured.first().ok_or("empty catalog")?["stream"]["name"];
        write!(
            out,
            "{{\"type\":\"RECORD\",\"record\":{{\"stream\":{first},\"data\":{{\"id\":99"
        )
        .map_err(io_err)?;
        out.flush().map_err(io_err)?;
        return Ok(1);
    }
    Ok(script.exit_code())
}

fn emit_state(
    out: &mut impl Write,
    state_type: &str,
    sd: &Value,
    cursor: u64,
    done: &[(Value, u64)],
    count: u64,
) -> Result<(), String> {
    let message = match state_type {
        "GLOBAL" => {
            let mut states: Vec<Value> = done
                .iter()
                .filter(|(d, _)| d != sd)
                .map(|(d, c)| json!({"stream_descriptor": d, "stream_state": {"cursor": c}}))
                .collect();
            states.push(json!({"stream_descriptor": sd, "stream_state": {"cursor": cursor}}));
            json!({"type": "GLOBAL", "global": {"shared_state": {"lsn": count}, "stream_states": states}})
        }
        "LEGACY" => {
            let mut data = Map::new();
            for (d, c) in done {
                data.insert(
                    d["name"].as_str().unwrap_or_default().to_string(),
                    json!({"cursor": c}),
                );
            }
            data.insert(
                sd["name"].as_str().unwrap_or_default().to_string(),
                json!({"cursor": cursor}),
            );
            json!({"data": data})
        }
        _ => {
            json!({"type": "STREAM", "stream": {"stream_descriptor": sd, "stream_state": {"cursor": cursor}},
                    "sourceStats": {"recordCount": count}})
        }
    };
    emit(out, &json!({"type": "STATE", "state": message}))
}

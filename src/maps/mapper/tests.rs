use super::*;
use serde_json::json;

#[test]
fn globs_match_as_fnmatch() {
    assert!(fnmatch("customers", "cust*"));
    assert!(fnmatch("orders", "?rders"));
    assert!(fnmatch("a1", "a[0-9]"));
    assert!(!fnmatch("ab", "a[!b]"));
    assert!(fnmatch("a[", "a["));
    assert!(!fnmatch("customers", "orders"));
}

#[test]
fn else_null_keeps_keys_and_mapped_properties() {
    let maps = Maps::new(
        Some(&json!({"s": {"__else__": null, "id": "id", "n": "str(x)"}})),
        None,
        Flattening::default(),
    )
    .unwrap();
    let schema = json!({"type": "object", "properties": {"id": {"type": "integer"}, "x": {"type": "integer"}}});
    let out = maps.for_stream("s", &schema, &["id".into()]).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].schema["properties"],
        json!({"id": {"type": ["integer", "null"]}, "n": {"type": ["string", "null"]}})
    );
    let record = json!({"id": 1, "x": 5}).as_object().unwrap().clone();
    assert_eq!(
        Value::Object(out[0].transform(&record).unwrap().unwrap()),
        json!({"id": 1, "n": "5"})
    );
    assert!(!out[0].is_passthrough());
    assert!(Maps::new(None, None, Flattening::default())
        .unwrap()
        .is_identity());
}

#[test]
fn written_order_is_kept_from_json_text() {
    let maps =
        StreamMapsConfig::from_json(r#"{"zz": {"__source__": "s"}, "aa": {"__source__": "s"}}"#)
            .unwrap();
    let maps = Maps::with_config(&maps, None, Flattening::default()).unwrap();
    let names: Vec<String> = maps
        .for_stream("s", &json!({"properties": {}}), &[])
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["s", "zz", "aa"]);
}

/// One case of `tests/maps/corpus`.
#[derive(serde::Deserialize)]
struct Case {
    config: CaseConfig,
    input: String,
    error: Option<String>,
    sdk_error: Option<bool>,
}

#[derive(serde::Deserialize)]
struct CaseConfig {
    stream_maps: Option<StreamMapsConfig>,
    stream_map_config: Option<Value>,
}

/// Singer messages reduced to what the mapper decides: (type, stream, payload).
type Message = (String, String, Value);

/// Numbers as f64 (Python and serde_json write some differently), everything else as is.
fn normalize(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), normalize(v))).collect())
        }
        other => other.clone(),
    }
}

fn ours(maps: &Maps, input: &str) -> Result<Vec<Message>, MapError> {
    let mut out = Vec::new();
    let mut streams: std::collections::HashMap<String, Vec<StreamMapper>> = Default::default();
    for line in input.lines() {
        let m: Value = serde_json::from_str(line).expect("input JSON");
        let stream = m["stream"].as_str().unwrap_or_default().to_string();
        match m["type"].as_str() {
            Some("SCHEMA") => {
                let keys: Vec<String> =
                    serde_json::from_value(m["key_properties"].clone()).unwrap();
                let mappers = maps.for_stream(&stream, &m["schema"], &keys)?;
                for mapper in &mappers {
                    out.push((
                        "SCHEMA".into(),
                        mapper.name.clone(),
                        json!({"schema": mapper.schema, "key_properties": mapper.key_properties}),
                    ));
                }
                streams.insert(stream, mappers);
            }
            Some("RECORD") => {
                for mapper in &streams[&stream] {
                    if let Some(r) = mapper.transform(m["record"].as_object().unwrap())? {
                        out.push(("RECORD".into(), mapper.name.clone(), Value::Object(r)));
                    }
                }
            }
            _ => out.push(("STATE".into(), String::new(), m["value"].clone())),
        }
    }
    Ok(out)
}

fn oracle(repo: &std::path::Path, case: &std::path::Path) -> Result<Vec<Message>, String> {
    let out = std::process::Command::new("timeout")
        .args(["900", "bash"])
        .arg(repo.join("tests/maps/map_oracle.sh"))
        .arg(case)
        .output()
        .expect("runs tests/maps/map_oracle.sh");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(2).collect();
        return Err(tail.join(" / "));
    }
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    Ok(text
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            let m: Value = serde_json::from_str(l).expect("oracle JSON");
            let stream = m["stream"].as_str().unwrap_or_default().to_string();
            match m["type"].as_str() {
                Some("SCHEMA") => (
                    "SCHEMA".into(),
                    stream,
                    json!({"schema": m["schema"], "key_properties": m.get("key_properties").cloned().unwrap_or(json!([]))}),
                ),
                Some("RECORD") => ("RECORD".into(), stream, m["record"].clone()),
                _ => ("STATE".into(), String::new(), m["value"].clone()),
            }
        })
        .collect())
}

/// Every corpus case against meltano-map-transform (the SDK's mapper): the same SCHEMA and
/// RECORD messages, or, for error cases, a start-up error here naming the stream and property.
#[test]
fn oracle_meltano_map_transform_gives_the_same_messages() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: python3 is not installed; the stream-map oracle test needs it");
        return;
    }
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = repo.join("tests/maps/corpus");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 30);
    let mut failures = Vec::new();
    for path in &paths {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let case: Case = serde_json::from_str(&text).expect("case JSON");
        let raw: Value = serde_json::from_str(&text).unwrap();
        let built = Flattening::from_settings(&raw["config"]).and_then(|f| {
            Maps::with_config(
                &case.config.stream_maps.clone().unwrap_or_default(),
                case.config.stream_map_config.as_ref(),
                f,
            )
        });
        let input = std::fs::read_to_string(dir.join("inputs").join(&case.input)).unwrap();
        let result = built.and_then(|maps| ours(&maps, &input));
        if let Some(expected) = &case.error {
            match &result {
                Err(e) if e.to_string().contains(expected.as_str()) => {}
                other => failures.push(format!(
                    "{name}: expected an error with '{expected}', got {other:?}"
                )),
            }
            if case.sdk_error == Some(true) && oracle(repo, path).is_ok() {
                failures.push(format!("{name}: the SDK accepts this case"));
            }
            continue;
        }
        let python = match oracle(repo, path) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{name}: the oracle failed: {e}"));
                continue;
            }
        };
        let ours = match result {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let norm = |ms: &[Message]| -> Vec<Message> {
            ms.iter()
                .map(|(t, s, v)| (t.clone(), s.clone(), normalize(v)))
                .collect()
        };
        let (a, b) = (norm(&ours), norm(&python));
        if a != b {
            let first = a
                .iter()
                .zip(&b)
                .position(|(x, y)| x != y)
                .unwrap_or(a.len().min(b.len()));
            failures.push(format!(
                "{name}: {} messages here, {} from the SDK; first difference at {first}:\n  ours:   {}\n  python: {}",
                a.len(),
                b.len(),
                a.get(first).map(|m| format!("{m:?}")).unwrap_or_default(),
                b.get(first).map(|m| format!("{m:?}")).unwrap_or_default()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n")
    );
}

//! The one list of the tap's settings, as a JSON Schema: `--about` prints it, the Meltano plugin
//! definition is generated from it, `TAP_AIRBYTE_*` variables are read by it, and a key outside it
//! is warned about. The parser in [`super`] checks the values.
use serde_json::{json, Map, Value};

/// The settings schema; with the connector's spec, `airbyte_config` is its `connectionSpecification`.
pub fn schema(connector_spec: Option<&Value>) -> Value {
    let airbyte_config = connector_spec
        .and_then(|s| s.get("connectionSpecification"))
        .cloned()
        .unwrap_or_else(|| {
            json!({
                "type": "object",
                "description": "The connector's own config, handed to it as config.json. Run --about with a config naming the connector to see its settings."
            })
        });
    let secret = |description: &str| json!({"type": "string", "secret": true, "writeOnly": true, "description": description});
    json!({
        "type": "object",
        "required": ["airbyte_spec"],
        "properties": {
            "airbyte_spec": {
                "type": "object",
                "description": "Which connector to run and how: an image (through Docker, or natively from PyPI), a pip requirement, a local executable or a declarative manifest.",
                "properties": {
                    "image": {"type": "string", "description": "The Airbyte source image, e.g. airbyte/source-faker; natively, its PyPI package (airbyte-source-faker)."},
                    "tag": {"type": "string", "default": "latest", "description": "The image tag, or a sha256: digest; natively, the package version."},
                    "pip_url": {"type": "string", "description": "Run natively, installed with this pip requirement (a version range, a git URL, a local folder or wheel) into a managed virtualenv."},
                    "executable": {"type": "string", "description": "Run natively: a connector command already installed (on PATH, or a path). No image needed."},
                    "manifest": {"type": "string", "description": "Run natively: a declarative connector's YAML manifest, run by airbyte-cdk's source-declarative-manifest. No image needed."}
                }
            },
            "airbyte_config": airbyte_config,
            "docker_mounts": {
                "type": "array",
                "description": "Mounts for the connector's container: [{source, target, type (bind, volume or tmpfs), read_only}]. A target may not touch /config (the tap's files).",
                "items": {"type": "object", "required": ["target"], "properties": {
                    "source": {"type": "string"}, "target": {"type": "string"},
                    "type": {"type": "string", "enum": ["bind", "volume", "tmpfs"], "default": "bind"},
                    "read_only": {"type": "boolean", "default": false}
                }}
            },
            "registry_auth": {
                "type": "object",
                "description": "Credentials for pulling the image; without them, those ~/.docker/config.json holds for its registry.",
                "properties": {
                    "username": {"type": "string", "description": "Registry user name."},
                    "password": secret("Registry password."),
                    "identitytoken": secret("Registry identity token (instead of a user name and password).")
                }
            },
            "connector_config_path": {"type": "string", "description": "File where the config the connector issues itself (CONTROL: rotated credentials, migrations) is kept, 0600; laid over airbyte_config on the next run."},
            "idle_timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": super::MAX_IDLE_TIMEOUT_SECONDS, "description": "End the run (exit 1) when the connector writes nothing for this long (at most 7 days); waiting on a slow target does not count."},
            "max_line_bytes": {"type": "integer", "default": super::DEFAULT_MAX_LINE_BYTES, "description": "Longest line (one message) accepted from the connector."},
            "force_native": {"type": "boolean", "default": false, "description": "Run the image's connector natively (its PyPI package in a managed virtualenv), never through Docker."},
            "skip_native_check": {"type": "boolean", "default": false, "description": "Run through Docker only; never fall back to running natively."},
            "native_source_python": {"type": "string", "default": "python3", "description": "The Python interpreter for native virtualenvs."},
            "stream_maps": {"type": "object", "description": "Singer SDK stream maps: streams (names or globs) to drop, rename (__alias__), copy (__source__), filter (__filter__), re-key (__key_properties__), and properties to drop (null) or compute (a Python expression: md5(email), config['salt'] + id, …). Every expression is checked at start; one the tap cannot evaluate exactly is an error, never ignored."},
            "stream_map_config": {"type": "object", "description": "Values stream map expressions read as `config` (a salt for hashes, …)."},
            "flattening_enabled": {"type": "boolean", "default": false, "description": "Singer SDK schema flattening: nested objects become parent__child properties, down to flattening_max_depth; deeper objects and arrays become JSON text."},
            "flattening_max_depth": {"type": "integer", "description": "How deep flattening goes (required with flattening_enabled)."},
            "flattening_separator": {"type": "string", "default": "__", "description": "What joins the names of flattened properties."},
            "batch_config": {"type": "object", "description": "Singer SDK BATCH output: records go into files announced by BATCH messages before every STATE. {encoding: {format: jsonl|parquet, compression: gzip|none (jsonl, default gzip) or snappy|gzip|none (parquet, default snappy)}, storage: {root: file:///folder, prefix}, batch_size}. Parquet columns follow each stream's schema. Storage other than file:// is refused (not implemented yet).", "properties": {
                "encoding": {"type": "object", "properties": {"format": {"type": "string", "enum": ["jsonl", "parquet"]}, "compression": {"type": "string", "enum": ["gzip", "none", "snappy"]}}},
                "storage": {"type": "object", "properties": {"root": {"type": "string"}, "prefix": {"type": "string"}}},
                "batch_size": {"type": "integer", "default": crate::translate::batch::DEFAULT_BATCH_SIZE}
            }},
            "flattening_max_key_length": {"type": "integer", "default": 255, "description": "Longest flattened property name; longer ones have their parents abbreviated, as the Singer SDK does."}
        }
    })
}

/// The settings' names: top-level keys, and `parent.child` for the keys of a group
/// ([`is_group`]: `airbyte_spec`, `registry_auth`).
pub fn names() -> Vec<String> {
    let schema = schema(None);
    let mut out = vec![];
    for (name, s) in properties(&schema) {
        out.push(name.clone());
        if is_group(&name) {
            for inner in properties(&s).keys() {
                out.push(format!("{name}.{inner}"));
            }
        }
    }
    out
}

/// Settings whose keys are settings of their own (`airbyte_spec.image`): Meltano sets them one by
/// one. Other objects (`airbyte_config`, `batch_config`, `stream_maps`) are set whole.
pub fn is_group(name: &str) -> bool {
    name == "airbyte_spec" || name == "registry_auth"
}

/// Keys of a raw config the tap does not read (to be warned about: a typo is otherwise silent).
pub fn unknown(raw: &Map<String, Value>) -> Vec<String> {
    let known = names();
    let mut out = vec![];
    for (k, v) in raw {
        if !known.contains(k) {
            out.push(k.clone());
            continue;
        }
        if let (Value::Object(o), true) = (v, is_group(k)) {
            out.extend(
                o.keys()
                    .map(|inner| format!("{k}.{inner}"))
                    .filter(|n| !known.contains(n)),
            );
        }
    }
    out
}

pub fn properties(schema: &Value) -> Map<String, Value> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// `airbyte_spec.image` → `TAP_AIRBYTE_AIRBYTE_SPEC_IMAGE`.
pub fn env_name(setting: &str) -> String {
    format!(
        "{}{}",
        super::ENV_PREFIX,
        setting.replace('.', "_").to_ascii_uppercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_nested_settings_and_unknown_keys_are_found() {
        let names = names();
        for n in [
            "airbyte_spec.image",
            "airbyte_spec.pip_url",
            "registry_auth.password",
            "force_native",
            "stream_maps",
        ] {
            assert!(names.contains(&n.to_string()), "{n}");
        }
        let raw = json!({"airbyte_spec": {"image": "a", "imgae": "b"}, "airbyte_config": {"x": 1}, "idle_timeout": 5})
            .as_object()
            .cloned()
            .unwrap();
        assert_eq!(unknown(&raw), ["airbyte_spec.imgae", "idle_timeout"]);
        assert_eq!(
            env_name("airbyte_spec.image"),
            "TAP_AIRBYTE_AIRBYTE_SPEC_IMAGE"
        );
    }
}

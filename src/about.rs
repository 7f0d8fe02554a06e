//! `--about`: what the tap is, its capabilities and settings (JSON Schema), and with a config the
//! connector's own settings (its spec's `connectionSpecification`, which holds no values).
use crate::cli::AboutFormat;
use crate::output;
use serde_json::{json, Value};

pub fn describe(spec: Option<&Value>) -> Value {
    let mut airbyte_config = json!({
        "type": "object",
        "description": "The connector's own config, passed to it as config.json. Run --about with a config naming the image to see its settings."
    });
    if let Some(cs) = spec.and_then(|s| s.get("connectionSpecification")) {
        airbyte_config = cs.clone();
    }
    json!({
        "name": "tap-airbyte",
        "description": "Runs any Airbyte source connector as a Singer tap, through the Docker Engine API.",
        "version": env!("CARGO_PKG_VERSION"),
        "capabilities": ["catalog", "discover", "state", "about"],
        "settings": {
            "type": "object",
            "required": ["airbyte_spec"],
            "properties": {
                "airbyte_spec": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {"type": "string", "description": "The Airbyte source image, e.g. airbyte/source-faker"},
                        "tag": {"type": "string", "default": "latest", "description": "The image tag, or a sha256: digest"}
                    }
                },
                "airbyte_config": airbyte_config,
                "docker_mounts": {
                    "type": "array",
                    "description": "Mounts for the connector container; a target may not be or overlap /config (the tap's files)",
                    "items": {"type": "object", "required": ["target"], "properties": {
                        "source": {"type": "string"}, "target": {"type": "string"},
                        "type": {"type": "string", "enum": ["bind", "volume", "tmpfs"], "default": "bind"},
                        "read_only": {"type": "boolean", "default": false}
                    }}
                },
                "connector_config_path": {"type": "string", "description": "File where the config the connector issues itself (CONTROL: rotated credentials, migrations) is kept; laid over airbyte_config on the next run"},
                "idle_timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": crate::settings::MAX_IDLE_TIMEOUT_SECONDS, "description": "End the run (exit 1) when the connector writes nothing for this long (at most 7 days); waiting on a slow target does not count"},
                "max_line_bytes": {"type": "integer", "default": crate::settings::DEFAULT_MAX_LINE_BYTES, "description": "Longest line (one message) accepted from the connector"}
            }
        }
    })
}

pub fn print(format: AboutFormat, spec: Option<&Value>) -> std::io::Result<()> {
    let about = describe(spec);
    match format {
        AboutFormat::Json => output::json_document(&about),
        AboutFormat::Markdown => output::text(&markdown(&about)),
        AboutFormat::Text => output::text(&text(&about)),
    }
}

fn settings_rows(about: &Value) -> Vec<(String, String, String)> {
    let mut rows = vec![];
    let props = about["settings"]["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (name, schema) in props {
        let nested = schema
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if nested.is_empty() || name == "docker_mounts" {
            rows.push((name, type_of(&schema), describe_of(&schema)));
        } else {
            for (inner, s) in nested {
                rows.push((format!("{name}.{inner}"), type_of(&s), describe_of(&s)));
            }
        }
    }
    rows
}

fn type_of(s: &Value) -> String {
    match s.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("|"),
        _ => "any".into(),
    }
}

fn describe_of(s: &Value) -> String {
    let mut d = s
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .replace('\n', " ");
    if s.get("airbyte_secret").and_then(Value::as_bool) == Some(true) {
        d.push_str(" (secret)");
    }
    d
}

fn markdown(about: &Value) -> String {
    let mut out = format!(
        "# {}\n\n{}\n\nVersion: {}\n\n## Capabilities\n\n",
        about["name"].as_str().unwrap_or_default(),
        about["description"].as_str().unwrap_or_default(),
        about["version"].as_str().unwrap_or_default()
    );
    for c in about["capabilities"].as_array().into_iter().flatten() {
        out.push_str(&format!("- `{}`\n", c.as_str().unwrap_or_default()));
    }
    out.push_str("\n## Settings\n\n| Setting | Type | Description |\n|:--|:--|:--|\n");
    for (name, ty, desc) in settings_rows(about) {
        out.push_str(&format!(
            "| {name} | {ty} | {} |\n",
            desc.replace('|', "\\|")
        ));
    }
    out
}

fn text(about: &Value) -> String {
    let mut out = format!(
        "Name: {}\nDescription: {}\nVersion: {}\nCapabilities: {}\nSettings:\n",
        about["name"].as_str().unwrap_or_default(),
        about["description"].as_str().unwrap_or_default(),
        about["version"].as_str().unwrap_or_default(),
        about["capabilities"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (name, ty, desc) in settings_rows(about) {
        out.push_str(&format!("  {name} ({ty}): {desc}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_settings_show_up_with_secrets_marked() {
        let spec = json!({"connectionSpecification": {"type": "object", "properties": {"api_key": {"type": "string", "airbyte_secret": true, "description": "key"}}}});
        let about = describe(Some(&spec));
        assert_eq!(
            about["settings"]["properties"]["airbyte_config"]["properties"]["api_key"]["type"],
            "string"
        );
        let md = markdown(&about);
        assert!(
            md.contains("| airbyte_config.api_key | string | key (secret) |"),
            "{md}"
        );
        assert!(text(&about).contains("airbyte_spec.image (string)"));
    }
}

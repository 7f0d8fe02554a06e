//! `--about`: what the tap is, its capabilities and settings (the schema in
//! [`crate::settings::schema`]), and with a config the connector's own settings (its spec's
//! `connectionSpecification`, which holds no values) under `airbyte_config`.
//!
//! Formats: `json` (the Singer SDK's keys; Meltano Hub's scripts split stdout on `Setup
//! Instructions:` and parse what comes before, so that text never appears literally in it),
//! `markdown`, `text`, and `meltano`: a plugin definition for `meltano.yml` generated from the same
//! description, so the two cannot drift.
use crate::cli::AboutFormat;
use crate::output;
use crate::settings::schema;
use serde_json::{json, Value};

/// What the tap supports, as Meltano names capabilities.
pub const CAPABILITIES: [&str; 7] = [
    "about",
    "batch",
    "catalog",
    "discover",
    "schema-flattening",
    "state",
    "stream-maps",
];

/// The distribution name on PyPI (`tap-airbyte` there is another project).
pub const DISTRIBUTION: &str = "tap-airbyte-rs";

pub fn describe(spec: Option<&Value>) -> Value {
    json!({
        "name": "tap-airbyte",
        "description": "Runs any Airbyte source connector as a Singer tap: its Docker image through the Docker Engine API, or natively (a PyPI package, a local executable, a declarative manifest).",
        "version": env!("CARGO_PKG_VERSION"),
        "capabilities": CAPABILITIES,
        "settings": schema::schema(spec),
    })
}

/// Prints `--about`; `airbyte_spec` is the config's, for the Meltano definition's `config:`.
pub fn print(
    format: AboutFormat,
    spec: Option<&Value>,
    airbyte_spec: Option<&Value>,
) -> std::io::Result<()> {
    let about = describe(spec);
    match format {
        AboutFormat::Json => output::text(&json_text(&about)),
        AboutFormat::Markdown => output::text(&markdown(&about)),
        AboutFormat::Text => output::text(&text(&about)),
        AboutFormat::Meltano => output::text(&meltano(&about, airbyte_spec)),
    }
}

/// Pretty JSON in which `Setup Instructions:` (the Hub's separator) is written with its colon
/// escaped, so a connector's description that contains it cannot cut the document.
fn json_text(about: &Value) -> String {
    let text = serde_json::to_string_pretty(about).unwrap_or_default();
    // Outside strings JSON has no letters, so the text can only be inside one, where `\u003a`
    // is the same colon.
    format!(
        "{}\n",
        text.replace("Setup Instructions:", "Setup Instructions\\u003a")
    )
}

/// One setting as a flat row: its dotted name and schema.
struct Setting {
    name: String,
    schema: Value,
}

/// The settings a user sets, flat: `airbyte_spec.image`, `registry_auth.password`, and the
/// connector's own `airbyte_config.<path>` (nested objects expanded) when its spec is known.
fn flat_settings(about: &Value) -> Vec<Setting> {
    let mut rows = vec![];
    for (name, s) in schema::properties(&about["settings"]) {
        match name.as_str() {
            group if schema::is_group(group) => {
                for (inner, is) in schema::properties(&s) {
                    rows.push(Setting {
                        name: format!("{name}.{inner}"),
                        schema: is,
                    });
                }
            }
            "airbyte_config" if !schema::properties(&s).is_empty() => expand(&name, &s, &mut rows),
            _ => rows.push(Setting { name, schema: s }),
        }
    }
    rows
}

fn expand(prefix: &str, s: &Value, rows: &mut Vec<Setting>) {
    for (inner, is) in schema::properties(s) {
        let name = format!("{prefix}.{inner}");
        if schema::properties(&is).is_empty() {
            rows.push(Setting { name, schema: is });
        } else {
            expand(&name, &is, rows);
        }
    }
}

fn type_of(s: &Value) -> String {
    match s.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join("|"),
        _ if s.get("oneOf").is_some() || s.get("anyOf").is_some() => "object".into(),
        _ => "any".into(),
    }
}

fn is_secret(s: &Value) -> bool {
    ["airbyte_secret", "secret"]
        .iter()
        .any(|k| s.get(*k).and_then(Value::as_bool) == Some(true))
}

fn describe_of(s: &Value) -> String {
    let mut d = s
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .replace('\n', " ");
    if is_secret(s) {
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
    for s in flat_settings(about) {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            s.name,
            type_of(&s.schema),
            describe_of(&s.schema).replace('|', "\\|")
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
    for s in flat_settings(about) {
        out.push_str(&format!(
            "  {} ({}): {}\n",
            s.name,
            type_of(&s.schema),
            describe_of(&s.schema)
        ));
    }
    out
}

/// Meltano's setting kind for a JSON Schema type.
fn kind_of(s: &Value) -> &'static str {
    match type_of(s).as_str() {
        "string" => "string",
        "integer" => "integer",
        "number" => "decimal",
        "boolean" => "boolean",
        "array" => "array",
        _ => "object",
    }
}

/// A YAML scalar: JSON's quoting is YAML's double-quoted style.
fn yaml(v: &str) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// A `meltano.yml` extractor definition: what `meltano add --custom` asks for, with every
/// setting's kind and description, and `sensitive: true` on secrets. With a config naming an
/// image, the extractor is named after it (`airbyte/source-github` → `tap-github`) and its
/// `airbyte_spec` goes under `config:`.
fn meltano(about: &Value, airbyte_spec: Option<&Value>) -> String {
    let image = airbyte_spec
        .and_then(|s| s.get("image"))
        .and_then(Value::as_str);
    let name = image
        .and_then(|i| i.rsplit('/').next())
        .and_then(|i| i.strip_prefix("source-"))
        .map(|s| format!("tap-{s}"))
        .unwrap_or_else(|| "tap-airbyte".into());
    let version = about["version"].as_str().unwrap_or_default();
    let mut out = format!(
        "# A Meltano extractor definition for tap-airbyte {version}, printed by\n\
         # `tap-airbyte --about --format meltano`. Merge it into meltano.yml, then `meltano install`.\n\
         plugins:\n  extractors:\n  - name: {name}\n    namespace: tap_airbyte\n    \
         pip_url: {DISTRIBUTION}=={version}\n    executable: tap-airbyte\n    capabilities:\n"
    );
    for c in about["capabilities"].as_array().into_iter().flatten() {
        out.push_str(&format!("    - {}\n", c.as_str().unwrap_or_default()));
    }
    out.push_str("    settings:\n");
    for s in flat_settings(about) {
        out.push_str(&format!(
            "    - name: {}\n      kind: {}\n",
            s.name,
            kind_of(&s.schema)
        ));
        let description = describe_of(&s.schema);
        let description = description.trim_end_matches(" (secret)");
        if !description.is_empty() {
            out.push_str(&format!("      description: {}\n", yaml(description)));
        }
        if is_secret(&s.schema) {
            out.push_str("      sensitive: true\n");
        }
    }
    if let Some(Value::Object(spec)) = airbyte_spec {
        out.push_str("    config:\n      airbyte_spec:\n");
        for (k, v) in spec {
            let v = match v {
                Value::String(s) => yaml(s),
                other => other.to_string(),
            };
            out.push_str(&format!("        {k}: {v}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_settings_show_up_with_secrets_marked() {
        let spec = json!({"connectionSpecification": {"type": "object", "properties": {
            "api_key": {"type": "string", "airbyte_secret": true, "description": "key"},
            "credentials": {"type": "object", "properties": {"token": {"type": "string", "airbyte_secret": true}}}
        }}});
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
        assert!(md.contains("| registry_auth.password | string | Registry password. (secret) |"));
        assert!(text(&about).contains("airbyte_spec.image (string)"));
        let yml = meltano(
            &about,
            Some(&json!({"image": "airbyte/source-github", "tag": "1.2"})),
        );
        assert!(yml.contains("  - name: tap-github\n"), "{yml}");
        assert!(
            yml.contains("    - name: airbyte_config.credentials.token\n      kind: string\n      sensitive: true\n"),
            "{yml}"
        );
        assert!(
            yml.contains("        image: \"airbyte/source-github\"\n"),
            "{yml}"
        );
    }

    #[test]
    fn the_hubs_separator_never_appears_in_the_json() {
        let spec = json!({"connectionSpecification": {"type": "object", "description": "Setup Instructions: do this", "properties": {}}});
        let out = json_text(&describe(Some(&spec)));
        let before = out.split("Setup Instructions:").next().unwrap();
        let parsed: Value = serde_json::from_str(before).expect("what comes before parses");
        assert_eq!(
            parsed["settings"]["properties"]["airbyte_config"]["description"],
            "Setup Instructions: do this"
        );
    }
}

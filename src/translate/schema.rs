//! Airbyte's JSON Schema dialect into schemas Singer targets handle well, losing nothing.
//!
//! - `$ref` to Airbyte's `WellKnownTypes.json#/definitions/<T>` (protocol v1) becomes the plain JSON
//!   Schema it stands for, with `format` where there is one (`date`, `date-time`, `time`) and the
//!   original name kept as `airbyte_type`.
//! - No `format: date-time` / `time` for `timestamp_without_timezone` / `time_without_timezone`:
//!   their values carry no offset (`2024-01-15T10:30:00`), which format-checking targets reject as
//!   `date-time`. The `airbyte_type` says what they are.
//! - No `required`, at any depth: Airbyte connectors leave out keys whose value is null, so a
//!   `required` list would make targets reject real records. `key_properties` are unaffected.
//! - `airbyte_type: integer` on a `number` becomes `type: integer`; other `airbyte_type` annotations
//!   (`timestamp_without_timezone`, `big_integer`, …) are kept: targets ignore keywords they do not know.
//! - Every property (at any depth) and array item admits `null`: Airbyte sources emit nulls for
//!   fields their schemas type without it, and Singer targets validate against the schema.
use serde_json::{json, Map, Value};

/// The Singer schema for an Airbyte stream's `json_schema`.
pub fn to_singer(schema: &Value) -> Value {
    let mut out = schema.clone();
    convert(&mut out, false);
    out
}

fn well_known(name: &str) -> Option<Value> {
    Some(match name {
        "String" => json!({"type": "string"}),
        "BinaryData" => {
            json!({"type": "string", "contentEncoding": "base64", "airbyte_type": "binary_data"})
        }
        "Boolean" => json!({"type": "boolean"}),
        "Date" => json!({"type": "string", "format": "date", "airbyte_type": "date"}),
        "TimestampWithTimezone" => {
            json!({"type": "string", "format": "date-time", "airbyte_type": "timestamp_with_timezone"})
        }
        "TimestampWithoutTimezone" => {
            json!({"type": "string", "airbyte_type": "timestamp_without_timezone"})
        }
        "TimeWithTimezone" => {
            json!({"type": "string", "format": "time", "airbyte_type": "time_with_timezone"})
        }
        "TimeWithoutTimezone" => {
            json!({"type": "string", "airbyte_type": "time_without_timezone"})
        }
        "Number" => json!({"type": "number"}),
        "Integer" => json!({"type": "integer"}),
        _ => return None,
    })
}

fn convert(node: &mut Value, nullable: bool) {
    let Value::Object(obj) = node else { return };
    if let Some(Value::String(r)) = obj.get("$ref") {
        if let Some(name) = r
            .split_once("WellKnownTypes.json#/definitions/")
            .map(|(_, n)| n.to_string())
        {
            if let Some(Value::Object(known)) = well_known(&name) {
                obj.remove("$ref");
                for (k, v) in known {
                    obj.entry(k).or_insert(v);
                }
            }
        }
    }
    if obj.get("airbyte_type").and_then(Value::as_str) == Some("integer") {
        retype(obj, "number", "integer");
    }
    relax_node(obj);
    if nullable {
        add_null(obj);
    }
    if let Some(Value::Object(props)) = obj.get_mut("properties") {
        for v in props.values_mut() {
            convert(v, true);
        }
    }
    if let Some(Value::Object(props)) = obj.get_mut("patternProperties") {
        for v in props.values_mut() {
            convert(v, true);
        }
    }
    match obj.get_mut("items") {
        Some(v @ Value::Object(_)) => convert(v, true),
        Some(Value::Array(list)) => list.iter_mut().for_each(|v| convert(v, true)),
        _ => {}
    }
    if let Some(v @ Value::Object(_)) = obj.get_mut("additionalProperties") {
        convert(v, true);
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(list)) = obj.get_mut(key) {
            list.iter_mut().for_each(|v| convert(v, false));
        }
    }
    for key in ["definitions", "$defs"] {
        if let Some(Value::Object(defs)) = obj.get_mut(key) {
            defs.values_mut().for_each(|v| convert(v, false));
        }
    }
}

/// Makes a schema that is already Singer-shaped (a catalog entry's, perhaps from an older
/// `--discover`) describe what connectors really send: no `required` at any depth, no `format` on
/// values without a time zone. Nothing else changes.
pub fn relax(schema: &mut Value) {
    let Value::Object(obj) = schema else { return };
    relax_node(obj);
    for key in ["properties", "patternProperties", "definitions", "$defs"] {
        if let Some(Value::Object(map)) = obj.get_mut(key) {
            map.values_mut().for_each(relax);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        match obj.get_mut(key) {
            Some(v @ Value::Object(_)) => relax(v),
            Some(Value::Array(list)) => list.iter_mut().for_each(relax),
            _ => {}
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(list)) = obj.get_mut(key) {
            list.iter_mut().for_each(relax);
        }
    }
}

/// One schema node: `required` goes; `format` goes where the value has no time zone.
fn relax_node(obj: &mut Map<String, Value>) {
    if obj.get("required").is_some_and(Value::is_array) {
        obj.remove("required");
    }
    let no_zone = matches!(
        obj.get("airbyte_type").and_then(Value::as_str),
        Some("timestamp_without_timezone" | "time_without_timezone")
    );
    if no_zone && obj.get("format").is_some_and(Value::is_string) {
        obj.remove("format");
    }
}

fn retype(obj: &mut Map<String, Value>, from: &str, to: &str) {
    match obj.get_mut("type") {
        Some(Value::String(t)) if t == from => *t = to.to_string(),
        Some(Value::Array(list)) => list
            .iter_mut()
            .filter(|t| *t == from)
            .for_each(|t| *t = json!(to)),
        _ => {}
    }
}

fn add_null(obj: &mut Map<String, Value>) {
    match obj.get_mut("type") {
        Some(Value::String(t)) if t != "null" => {
            let t = std::mem::take(t);
            obj.insert("type".into(), json!([t, "null"]));
        }
        Some(Value::Array(list)) if !list.iter().any(|t| t == "null") => list.push(json!("null")),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_refs_airbyte_types_and_nulls() {
        let airbyte = json!({
            "type": "object",
            "properties": {
                "id": {"$ref": "WellKnownTypes.json#/definitions/Integer"},
                "at": {"$ref": "WellKnownTypes.json#/definitions/TimestampWithoutTimezone"},
                "day": {"type": "string", "format": "date", "airbyte_type": "date"},
                "n": {"type": "number", "airbyte_type": "integer"},
                "big": {"type": "string", "airbyte_type": "big_integer"},
                "tags": {"type": "array", "items": {"$ref": "WellKnownTypes.json#/definitions/String"}},
                "obj": {"type": "object", "properties": {"x": {"type": ["null", "boolean"]}, "y": {"type": "number"}}},
                "any": {"anyOf": [{"type": "string"}, {"$ref": "WellKnownTypes.json#/definitions/Date"}]},
                "other": {"$ref": "#/definitions/Local"}
            }
        });
        let singer = to_singer(&airbyte);
        let p = &singer["properties"];
        assert_eq!(singer["type"], "object", "the root stays an object");
        assert_eq!(p["id"], json!({"type": ["integer", "null"]}));
        assert_eq!(
            p["at"],
            json!({"type": ["string", "null"], "airbyte_type": "timestamp_without_timezone"})
        );
        assert_eq!(
            p["day"],
            json!({"type": ["string", "null"], "format": "date", "airbyte_type": "date"})
        );
        assert_eq!(
            p["n"],
            json!({"type": ["integer", "null"], "airbyte_type": "integer"})
        );
        assert_eq!(
            p["big"],
            json!({"type": ["string", "null"], "airbyte_type": "big_integer"})
        );
        assert_eq!(p["tags"]["items"], json!({"type": ["string", "null"]}));
        assert_eq!(
            p["obj"]["properties"]["x"],
            json!({"type": ["null", "boolean"]})
        );
        assert_eq!(
            p["obj"]["properties"]["y"],
            json!({"type": ["number", "null"]})
        );
        assert_eq!(
            p["any"]["anyOf"][1],
            json!({"type": "string", "format": "date", "airbyte_type": "date"})
        );
        assert_eq!(
            p["other"],
            json!({"$ref": "#/definitions/Local"}),
            "other refs are left alone"
        );
    }

    #[test]
    fn required_goes_at_every_depth_and_key_like_names_stay() {
        let airbyte = json!({
            "type": "object",
            "required": ["id", "category"],
            "properties": {
                "id": {"type": "integer"},
                "category": {"type": "string"},
                "required": {"type": "boolean"},
                "obj": {"type": "object", "required": ["x"], "properties": {"x": {"type": "string"}}},
                "list": {"type": "array", "items": {"type": "object", "required": ["y"], "properties": {"y": {"type": "string"}}}},
                "any": {"anyOf": [{"type": "object", "required": ["z"]}, {"type": "null"}]}
            },
            "definitions": {"D": {"type": "object", "required": ["w"]}}
        });
        for singer in [to_singer(&airbyte), {
            let mut v = airbyte.clone();
            relax(&mut v);
            v
        }] {
            let text = singer.to_string();
            assert!(!text.contains("\"required\":["), "{text}");
            assert!(
                singer["properties"].get("required").is_some(),
                "a property named `required` stays"
            );
            // A record that leaves out a null key validates: nothing is required.
            assert!(singer.get("required").is_none());
        }
    }

    #[test]
    fn values_without_a_time_zone_claim_no_format() {
        let airbyte = json!({"type": "object", "properties": {
            "ts": {"$ref": "WellKnownTypes.json#/definitions/TimestampWithoutTimezone"},
            "t": {"$ref": "WellKnownTypes.json#/definitions/TimeWithoutTimezone"},
            "ts2": {"type": "string", "format": "date-time", "airbyte_type": "timestamp_without_timezone"},
            "t2": {"type": "string", "format": "time", "airbyte_type": "time_without_timezone"},
            "tz": {"type": "string", "format": "date-time", "airbyte_type": "timestamp_with_timezone"},
            "ttz": {"$ref": "WellKnownTypes.json#/definitions/TimeWithTimezone"},
            "nested": {"type": "array", "items": {"type": "string", "format": "date-time", "airbyte_type": "timestamp_without_timezone"}}
        }});
        let singer = to_singer(&airbyte);
        let p = &singer["properties"];
        for (k, airbyte_type) in [
            ("ts", "timestamp_without_timezone"),
            ("t", "time_without_timezone"),
            ("ts2", "timestamp_without_timezone"),
            ("t2", "time_without_timezone"),
        ] {
            assert!(p[k].get("format").is_none(), "{k}: {}", p[k]);
            assert_eq!(p[k]["airbyte_type"], airbyte_type, "{k}: kept");
        }
        assert!(p["nested"]["items"].get("format").is_none());
        assert_eq!(p["tz"]["format"], "date-time");
        assert_eq!(p["ttz"]["format"], "time");
        // An older catalog's schema is fixed the same way.
        let mut old = json!({"type": "object", "properties": {"ts": {"type": ["string", "null"], "format": "date-time", "airbyte_type": "timestamp_without_timezone"}}});
        relax(&mut old);
        assert_eq!(
            old["properties"]["ts"],
            json!({"type": ["string", "null"], "airbyte_type": "timestamp_without_timezone"})
        );
    }
}

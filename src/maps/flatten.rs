//! Schema and record flattening as the Singer SDK does it (`singer_sdk/helpers/_flattening.py`):
//! nested objects become `parent__child` properties down to a maximum depth; arrays and deeper
//! objects become strings holding their JSON text.
//!
//! Known difference: this crate's JSON objects keep their keys sorted, where Python keeps the
//! record's order, so the JSON text of a nested object lists its keys sorted.
use serde_json::{Map, Value};

use super::expr::dumps_compact;
use super::MapError;

/// The SDK's `flattening_max_key_length` default.
pub const DEFAULT_MAX_KEY_LENGTH: usize = 255;

/// The flattening settings: `flattening_enabled`, `flattening_max_depth`, `flattening_separator`,
/// `flattening_max_key_length`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flattening {
    pub enabled: bool,
    pub max_depth: Option<usize>,
    /// `__` by default.
    pub separator: String,
    /// 255 when `None`.
    pub max_key_length: Option<usize>,
}

impl Default for Flattening {
    fn default() -> Self {
        Flattening {
            enabled: false,
            max_depth: None,
            separator: "__".into(),
            max_key_length: None,
        }
    }
}

impl Flattening {
    /// Reads the four `flattening_*` keys of a settings object (null or missing: the default).
    pub fn from_settings(settings: &Value) -> Result<Flattening, MapError> {
        let bad = |key: &str, what: &str| MapError::Flattening(format!("{key} must be {what}"));
        let get = |key: &str| settings.get(key).filter(|v| !v.is_null());
        let enabled = match get("flattening_enabled") {
            None => false,
            Some(v) => v
                .as_bool()
                .ok_or_else(|| bad("flattening_enabled", "a boolean"))?,
        };
        let count = |key: &str| -> Result<Option<usize>, MapError> {
            match get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .map(Some)
                    .ok_or_else(|| bad(key, "a non-negative integer")),
            }
        };
        let separator = match get("flattening_separator") {
            None => "__".to_string(),
            Some(v) => v
                .as_str()
                .ok_or_else(|| bad("flattening_separator", "a string"))?
                .to_string(),
        };
        Ok(Flattening {
            enabled,
            max_depth: count("flattening_max_depth")?,
            separator,
            max_key_length: count("flattening_max_key_length")?,
        })
    }

    /// The SDK's check (`FlatteningOptions.__post_init__`): enabled needs a depth.
    pub fn validate(&self) -> Result<(), MapError> {
        if self.enabled && self.max_depth.is_none() {
            return Err(MapError::Flattening(
                "flattening_max_depth is required when flattening_enabled is true".into(),
            ));
        }
        Ok(())
    }

    /// Flattening happens: enabled with a depth above 0 (a depth of 0 leaves streams as they are).
    pub fn is_active(&self) -> bool {
        self.enabled && self.max_depth.unwrap_or(0) > 0
    }

    fn max_level(&self) -> usize {
        self.max_depth.unwrap_or(0)
    }

    fn key_limit(&self) -> usize {
        self.max_key_length.unwrap_or(DEFAULT_MAX_KEY_LENGTH)
    }

    /// `flatten_schema`: the stream's schema with nested object properties expanded.
    pub fn flatten_schema(&self, schema: &Value) -> Result<Value, MapError> {
        let mut out = schema.clone();
        let properties = self.flatten_node(schema, &[], 0)?;
        if let Value::Object(map) = &mut out {
            map.insert("properties".into(), Value::Object(properties));
        }
        Ok(out)
    }

    fn flatten_node(
        &self,
        node: &Value,
        parents: &[String],
        level: usize,
    ) -> Result<Map<String, Value>, MapError> {
        let mut items: Vec<(String, Value)> = Vec::new();
        let Some(Value::Object(properties)) = node.get("properties") else {
            return Ok(Map::new());
        };
        let max_level = self.max_level();
        for (name, field) in properties {
            let key = flatten_key(name, parents, &self.separator, self.key_limit());
            if let Some(ty) = field.get("type") {
                if type_has(ty, "object") && field.get("properties").is_some() && level < max_level
                {
                    let mut path = parents.to_vec();
                    path.push(name.clone());
                    items.extend(self.flatten_node(field, &path, level + 1)?);
                } else if type_has(ty, "array") || (type_has(ty, "object") && max_level > 0) {
                    let types = if type_has(ty, "null") {
                        serde_json::json!(["string", "null"])
                    } else {
                        Value::from("string")
                    };
                    items.push((key, serde_json::json!({ "type": types })));
                } else {
                    items.push((key, field.clone()));
                }
            } else if let Some(first) = composite_first(field) {
                // anyOf/oneOf/...: the first option, nullable, when it is a string, array or
                // object; other first options drop the property (as the SDK does).
                let mut first = first.clone();
                let ty = first
                    .get("type")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                if let (Some(ty), Value::Object(map)) = (ty, &mut first) {
                    if ty == "string" || ty == "array" || ty == "object" {
                        map.insert("type".into(), serde_json::json!(["null", ty]));
                        items.push((key, first));
                    }
                }
            } else {
                items.push((key, serde_json::json!({ "type": ["null", "string"] })));
            }
        }
        let mut out = Map::new();
        for (key, value) in items {
            if out.contains_key(&key) {
                return Err(MapError::Flattening(format!(
                    "two properties flatten to the same column name '{key}'"
                )));
            }
            out.insert(key, value);
        }
        Ok(out)
    }

    /// `flatten_record`: the record with nested objects expanded as the flattened schema says;
    /// arrays and objects not expanded become their JSON text.
    pub fn flatten_record(
        &self,
        record: &Map<String, Value>,
        flat_schema: &Value,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        let empty = Map::new();
        let properties = flat_schema
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        self.flatten_record_node(record, properties, &[], 0, &mut out);
        out
    }

    fn flatten_record_node(
        &self,
        node: &Map<String, Value>,
        properties: &Map<String, Value>,
        parents: &[String],
        level: usize,
        out: &mut Map<String, Value>,
    ) {
        for (k, v) in node {
            let key = flatten_key(k, parents, &self.separator, self.key_limit());
            match v {
                Value::Object(inner)
                    if !properties.contains_key(&key) && level < self.max_level() =>
                {
                    let mut path = parents.to_vec();
                    path.push(k.clone());
                    self.flatten_record_node(inner, properties, &path, level + 1, out);
                }
                Value::Object(_) | Value::Array(_) => {
                    out.insert(key, Value::String(dumps_compact(v)));
                }
                _ => {
                    out.insert(key, v.clone());
                }
            }
        }
    }
}

/// `"object" in field_schema["type"]`: membership in a list, substring of a string.
fn type_has(ty: &Value, name: &str) -> bool {
    match ty {
        Value::String(s) => s.contains(name),
        Value::Array(items) => items.iter().any(|t| t.as_str() == Some(name)),
        _ => false,
    }
}

/// The first option of a typeless property whose first value is a non-empty list (`anyOf`,
/// `oneOf`, ...), when that option is an object.
fn composite_first(field: &Value) -> Option<&Value> {
    let first_value = field.as_object()?.values().next()?;
    let first = first_value.as_array()?.first()?;
    match first {
        Value::Object(m) if !m.is_empty() => Some(first),
        _ => None,
    }
}

/// `flatten_key`: parents and key joined by the separator; while the result is at least
/// `max_key_length` characters long, the parts are abbreviated from the first on (the capitals
/// of their CamelCase form, or their first three characters), lowercased.
pub fn flatten_key(
    key: &str,
    parents: &[String],
    separator: &str,
    max_key_length: usize,
) -> String {
    let mut parts: Vec<String> = parents.to_vec();
    parts.push(key.to_string());
    let mut index = 0;
    while parts.join(separator).chars().count() >= max_key_length && index < parts.len() {
        let reduced: String = camelize(&parts[index])
            .chars()
            .filter(|c| !c.is_ascii_lowercase())
            .collect();
        let chosen = if reduced.chars().count() > 1 {
            reduced
        } else {
            parts[index].chars().take(3).collect()
        };
        parts[index] = py_lower(&chosen);
        index += 1;
    }
    parts.join(separator)
}

/// `inflection.camelize`: `re.sub(r"(?:^|_)(.)", lambda m: m.group(1).upper(), s)`.
fn camelize(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let at_start = i == 0;
        if at_start && chars[0] != '\n' {
            out.extend(chars[0].to_uppercase());
            i += 1;
        } else if chars[i] == '_' && i + 1 < chars.len() && chars[i + 1] != '\n' {
            out.extend(chars[i + 1].to_uppercase());
            i += 2;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn py_lower(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn depth(n: usize) -> Flattening {
        Flattening {
            enabled: true,
            max_depth: Some(n),
            ..Flattening::default()
        }
    }

    #[test]
    fn sdk_doc_examples() {
        let schema = json!({"type": "object", "properties": {
            "id": {"type": "string"},
            "foo": {"type": ["object", "null"], "properties": {
                "bar": {"type": ["object", "null"], "properties": {
                    "baz": {"type": ["object", "null"], "properties": {"qux": {"type": "string"}}}}}}}}});
        assert_eq!(
            depth(1).flatten_schema(&schema).unwrap()["properties"],
            json!({"id": {"type": "string"}, "foo__bar": {"type": ["string", "null"]}})
        );
        assert_eq!(
            depth(3).flatten_schema(&schema).unwrap()["properties"],
            json!({"id": {"type": "string"}, "foo__bar__baz__qux": {"type": "string"}})
        );
        let flat = depth(1).flatten_schema(&schema).unwrap();
        let record = json!({"id": "1", "foo": {"bar": {"baz": {"qux": "é"}}}});
        assert_eq!(
            Value::Object(depth(1).flatten_record(record.as_object().unwrap(), &flat)),
            json!({"id": "1", "foo__bar": "{\"baz\":{\"qux\":\"\\u00e9\"}}"})
        );
    }

    #[test]
    fn keys_are_abbreviated() {
        assert_eq!(
            flatten_key("foo", &["bar".into(), "baz".into()], "__", 255),
            "bar__baz__foo"
        );
        assert_eq!(
            flatten_key("some_value", &["customer_address".into()], "__", 10),
            "ca__sv"
        );
        assert_eq!(flatten_key("x", &["ab".into()], "__", 3), "ab__x");
    }

    #[test]
    fn enabled_without_depth_is_an_error() {
        let f = Flattening::from_settings(&json!({"flattening_enabled": true})).unwrap();
        assert!(f
            .validate()
            .unwrap_err()
            .to_string()
            .contains("flattening_max_depth"));
    }
}

//! Stream maps as the Singer SDK applies them (`singer_sdk/mapper.py`: `PluginMapper`,
//! `CustomStreamMap`), pure and synchronous: [`Maps`] reads the settings once (every expression
//! parsed there), [`Maps::for_stream`] gives the output streams of one input stream with their
//! SCHEMA, [`StreamMapper::transform`] maps one record.
//!
//! Differences from the SDK, all deliberate or structural:
//! - Errors the SDK raises only when a stream meets a bad map (a string stream definition, a bad
//!   `__else__`, a non-string property) are start-up errors here, and so is an expression
//!   tap-airbyte's evaluator does not support (see [`super::expr`]).
//! - `__key_properties__: null` gives an empty list (the SDK omits `key_properties`).
//! - Records and nested objects keep this crate's sorted key order (see [`super::flatten`]).
//! - With [`Maps::new`] maps and properties apply in the `Value`'s key order, which is sorted in
//!   this crate; [`StreamMapsConfig`] read from the JSON text keeps the written order, as the SDK.
use std::sync::Arc;

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::expr::{self, Context, EvalError, Expr, ExprError, InferredType};
use super::flatten::Flattening;

const NULL_STRING: &str = "__NULL__";
const ELSE: &str = "__else__";

/// A stream-map configuration error (found by [`Maps::new`] or [`Maps::for_stream`]) or a failed
/// record transform.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    #[error("stream_maps: {0}")]
    Config(String),
    #[error("stream_maps: stream '{stream}', {property}: cannot parse '{text}': {error}")]
    Parse {
        stream: String,
        property: String,
        text: String,
        error: ExprError,
    },
    #[error("stream_maps: stream '{stream}', {property}: '{text}' failed: {error}")]
    Eval {
        stream: String,
        property: String,
        text: String,
        error: EvalError,
    },
    #[error("flattening: {0}")]
    Flattening(String),
}

/// `stream_maps` with its keys in the written order (the SDK applies stream maps and their
/// properties in that order). Deserialize it from the settings' JSON text to keep that order;
/// from a `serde_json::Value` the order is the `Value`'s.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamMapsConfig(pub Vec<(String, StreamDef)>);

/// One stream's definition: an object (its keys in order) or another JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamDef {
    Object(Vec<(String, Value)>),
    Other(Value),
}

impl From<&Value> for StreamMapsConfig {
    fn from(value: &Value) -> Self {
        let Some(map) = value.as_object() else {
            return StreamMapsConfig::default();
        };
        StreamMapsConfig(
            map.iter()
                .map(|(k, v)| {
                    let def = match v {
                        Value::Object(m) => StreamDef::Object(
                            m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                        ),
                        other => StreamDef::Other(other.clone()),
                    };
                    (k.clone(), def)
                })
                .collect(),
        )
    }
}

impl StreamMapsConfig {
    /// From the JSON text of the `stream_maps` object (or `null`), keeping its order.
    pub fn from_json(text: &str) -> Result<StreamMapsConfig, MapError> {
        let parsed: Option<StreamMapsConfig> = serde_json::from_str(text)
            .map_err(|e| MapError::Config(format!("stream_maps is not a JSON object: {e}")))?;
        Ok(parsed.unwrap_or_default())
    }
}

impl<'de> Deserialize<'de> for StreamMapsConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StreamMapsConfig;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of stream maps")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, StreamDef>()? {
                    out.push((k, v));
                }
                Ok(StreamMapsConfig(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for StreamDef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StreamDef;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a stream map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(StreamDef::Object(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = a.next_element::<Value>()? {
                    out.push(v);
                }
                Ok(StreamDef::Other(Value::Array(out)))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(StreamDef::Other(Value::Null))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(StreamDef::Other(Value::Null))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(StreamDef::Other(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(StreamDef::Other(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(StreamDef::Other(Value::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(StreamDef::Other(Value::from(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StreamDef::Other(Value::String(v.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

/// The stream maps and flattening of a tap's settings.
#[derive(Debug, Clone)]
pub struct Maps {
    entries: Vec<Entry>,
    /// Top-level `__else__: null`: streams no entry names are dropped.
    drop_unnamed: bool,
    config: Arc<Value>,
    flattening: Flattening,
}

#[derive(Debug, Clone)]
struct Entry {
    key: String,
    kind: EntryKind,
}

#[derive(Debug, Clone)]
enum EntryKind {
    Remove,
    Custom(Arc<CustomDef>),
}

#[derive(Debug)]
struct CustomDef {
    /// `__source__`: this entry is a new stream copied from the source stream(s).
    source: Option<String>,
    /// `__alias__` (without `__source__`).
    alias: Option<Expr>,
    filter: Option<Expr>,
    /// `__key_properties__`: `Some(None)` for null.
    key_properties: Option<Vec<String>>,
    keys_overridden: bool,
    /// `__else__: null`.
    only_mapped: bool,
    properties: Vec<(String, Option<Expr>)>,
}

fn is_null(v: &Value) -> bool {
    v.is_null() || v.as_str() == Some(NULL_STRING)
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn parse_expr(stream: &str, property: &str, text: &str) -> Result<Expr, MapError> {
    expr::parse(text).map_err(|error| MapError::Parse {
        stream: stream.into(),
        property: property.into(),
        text: text.into(),
        error,
    })
}

impl CustomDef {
    fn read(stream: &str, def: &[(String, Value)]) -> Result<CustomDef, MapError> {
        let config = |msg: String| MapError::Config(format!("stream '{stream}': {msg}"));
        let mut rest: Vec<(String, Value)> = def.to_vec();
        let mut take = |key: &str| {
            rest.iter()
                .position(|(k, _)| k == key)
                .map(|i| rest.remove(i).1)
        };
        let mut source = None;
        let mut alias = None;
        if let Some(v) = take("__source__") {
            source = Some(
                v.as_str()
                    .ok_or_else(|| config(format!("__source__ must be a stream name, not {v}")))?
                    .to_string(),
            );
        } else if let Some(v) = take("__alias__") {
            let text = v
                .as_str()
                .ok_or_else(|| config(format!("__alias__ must be text, not {v}")))?;
            alias = Some(parse_expr(stream, "__alias__", text)?);
        }
        let filter = match take("__filter__") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(parse_expr(stream, "__filter__", &s)?),
            Some(v) => return Err(config(format!("__filter__ must be an expression, not {v}"))),
        };
        let (keys_overridden, key_properties) = match take("__key_properties__") {
            None => (false, None),
            Some(Value::Null) => (true, None),
            Some(Value::Array(items)) => {
                let keys = items
                    .iter()
                    .map(|k| k.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| config("__key_properties__ must list property names".into()))?;
                (true, Some(keys))
            }
            Some(v) => {
                return Err(config(format!(
                    "__key_properties__ must be a list of property names or null, not {v}"
                )))
            }
        };
        let only_mapped = match take(ELSE) {
            None => false,
            Some(v) if is_null(&v) => true,
            Some(v) => {
                return Err(config(format!(
                    "__else__ can only be null or \"__NULL__\" (drop unmapped properties), not {v}"
                )))
            }
        };
        let mut properties = Vec::new();
        for (name, value) in rest {
            let expr = match &value {
                v if is_null(v) => None,
                Value::String(text) => {
                    Some(parse_expr(stream, &format!("property '{name}'"), text)?)
                }
                other => {
                    return Err(config(format!(
                        "property '{name}' must be an expression (text) or null, not {other}"
                    )))
                }
            };
            properties.push((name, expr));
        }
        Ok(CustomDef {
            source,
            alias,
            filter,
            key_properties,
            keys_overridden,
            only_mapped,
            properties,
        })
    }
}

/// No maps and no flattening.
impl Default for Maps {
    fn default() -> Maps {
        Maps {
            entries: Vec::new(),
            drop_unnamed: false,
            config: Arc::new(Value::Null),
            flattening: Flattening::default(),
        }
    }
}

impl Maps {
    /// From the tap's settings: `stream_maps` (object or null), `stream_map_config` (object or
    /// null; `config` in expressions), flattening. Maps apply in the `Value`'s key order; see
    /// [`Maps::with_config`] to keep the written order.
    pub fn new(
        stream_maps: Option<&Value>,
        stream_map_config: Option<&Value>,
        flattening: Flattening,
    ) -> Result<Maps, MapError> {
        let maps = stream_maps.map(StreamMapsConfig::from).unwrap_or_default();
        Maps::with_config(&maps, stream_map_config, flattening)
    }

    /// [`Maps::new`] with the stream maps in their written order.
    pub fn with_config(
        stream_maps: &StreamMapsConfig,
        stream_map_config: Option<&Value>,
        flattening: Flattening,
    ) -> Result<Maps, MapError> {
        flattening.validate()?;
        let mut drop_unnamed = false;
        let mut entries = Vec::new();
        for (key, def) in &stream_maps.0 {
            if key == ELSE {
                match def {
                    StreamDef::Other(v) if is_null(v) => drop_unnamed = true,
                    _ => {
                        return Err(MapError::Config(
                            "top-level __else__ can only be null or \"__NULL__\" (drop the \
                             streams not named)"
                                .into(),
                        ))
                    }
                }
                continue;
            }
            if key.starts_with("__") {
                return Err(MapError::Config(format!(
                    "'{key}' is not a stream-map option (the options are __else__ at the top \
                     level; __alias__, __source__, __filter__, __key_properties__, __else__ in a \
                     stream's map)"
                )));
            }
            let kind = match def {
                StreamDef::Other(v) if is_null(v) => EntryKind::Remove,
                StreamDef::Object(props) => {
                    EntryKind::Custom(Arc::new(CustomDef::read(key, props)?))
                }
                StreamDef::Other(v) => {
                    return Err(MapError::Config(format!(
                        "stream '{key}': a stream map is an object of properties, or null to drop \
                         the stream, not {v}"
                    )))
                }
            };
            entries.push(Entry {
                key: key.clone(),
                kind,
            });
        }
        Ok(Maps {
            entries,
            drop_unnamed,
            config: Arc::new(stream_map_config.cloned().unwrap_or_else(|| json!({}))),
            flattening,
        })
    }

    /// No maps and no flattening: callers keep their zero-copy path.
    pub fn is_identity(&self) -> bool {
        self.entries.is_empty() && !self.drop_unnamed && !self.flattening.is_active()
    }

    /// The output streams of one input stream, in the order the SDK emits them: the stream itself
    /// (possibly aliased; absent when dropped), then the copies made by `__source__`.
    pub fn for_stream(
        &self,
        stream: &str,
        schema: &Value,
        key_properties: &[String],
    ) -> Result<Vec<StreamMapper>, MapError> {
        let active = self.flattening.is_active().then(|| self.flattening.clone());
        let mut mappers: Vec<Option<StreamMapper>> = vec![if self.drop_unnamed {
            None
        } else {
            let flat = match &active {
                Some(f) => f.flatten_schema(schema)?,
                None => schema.clone(),
            };
            Some(StreamMapper {
                name: stream.to_string(),
                schema: flat,
                key_properties: key_properties.to_vec(),
                original_name: stream.to_string(),
                custom: None,
                config: self.config.clone(),
                flattening: active.clone(),
            })
        }];
        for entry in &self.entries {
            let mut source = entry.key.clone();
            let mut alias = entry.key.clone();
            let mut primary = true;
            if let EntryKind::Custom(def) = &entry.kind {
                if let Some(s) = &def.source {
                    source = s.clone();
                    primary = false;
                } else if let Some(a) = &def.alias {
                    alias = eval_alias(&entry.key, a, stream)?;
                }
            }
            if stream != source {
                if !fnmatch(stream, &source) {
                    continue;
                }
                if alias == source {
                    alias = stream.to_string();
                }
            }
            let mapper = match &entry.kind {
                EntryKind::Remove => None,
                EntryKind::Custom(def) => Some(self.custom_mapper(
                    alias,
                    stream,
                    schema,
                    key_properties,
                    def.clone(),
                    active.clone(),
                )?),
            };
            if primary {
                mappers[0] = mapper;
            } else {
                mappers.push(mapper);
            }
        }
        Ok(mappers.into_iter().flatten().collect())
    }

    fn custom_mapper(
        &self,
        alias: String,
        stream: &str,
        raw: &Value,
        key_properties: &[String],
        def: Arc<CustomDef>,
        flattening: Option<Flattening>,
    ) -> Result<StreamMapper, MapError> {
        let keys: Vec<String> = if def.keys_overridden {
            def.key_properties.clone().unwrap_or_default()
        } else {
            key_properties.to_vec()
        };
        let empty = Map::new();
        let raw_props = raw
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let mut schema: Map<String, Value> = if def.only_mapped {
            let mut m = Map::new();
            m.insert("type".into(), json!("object"));
            m.insert("properties".into(), json!({}));
            m.insert(
                "$schema".into(),
                json!("https://json-schema.org/draft/2020-12/schema"),
            );
            m
        } else {
            raw.as_object().cloned().unwrap_or_default()
        };
        if !schema.get("properties").is_some_and(Value::is_object) {
            schema.insert("properties".into(), json!({}));
        }
        for (name, expr) in &def.properties {
            match expr {
                None => {
                    if keys.contains(name) {
                        return Err(MapError::Config(format!(
                            "stream '{alias}': removing key property '{name}' is not permitted; \
                             set __key_properties__ to the new key properties (or null for none)"
                        )));
                    }
                    props_mut(&mut schema).remove(name);
                    if let Some(Value::Array(required)) = schema.get_mut("required") {
                        required.retain(|r| r.as_str() != Some(name.as_str()));
                    }
                }
                Some(expr) => {
                    // The SDK's raw schema shares its `properties` with the transformed one
                    // unless `__else__` is null: lookups see the changes made so far.
                    let lookup = if def.only_mapped {
                        raw_props.clone()
                    } else {
                        props_mut(&mut schema).clone()
                    };
                    let existing = props_mut(&mut schema)
                        .get(name)
                        .filter(|v| truthy(v))
                        .or_else(|| lookup.get(expr.source()).filter(|v| truthy(v)))
                        .cloned();
                    let type_dict = match expr::inferred_type(expr.source()) {
                        InferredType::Record => {
                            let mut r = raw.as_object().cloned().unwrap_or_default();
                            r.insert("properties".into(), Value::Object(lookup));
                            Value::Object(r)
                        }
                        InferredType::Number => json!({"type": ["number"]}),
                        InferredType::Integer => json!({"type": ["integer"]}),
                        InferredType::String => json!({"type": ["string"]}),
                        InferredType::Boolean => json!({"type": ["boolean"]}),
                        InferredType::Date => json!({"type": ["string"], "format": "date"}),
                        InferredType::DateTime => {
                            json!({"type": ["string"], "format": "date-time"})
                        }
                        InferredType::Default => {
                            existing.unwrap_or_else(|| json!({"type": ["string"]}))
                        }
                    };
                    props_mut(&mut schema).insert(name.clone(), append_null(type_dict));
                }
            }
        }
        for key in &keys {
            if !props_mut(&mut schema).contains_key(key) {
                return Err(MapError::Config(format!(
                    "stream '{alias}': invalid key properties [{}]: property '{key}' is not in \
                     the mapped schema",
                    keys.join(",")
                )));
            }
        }
        let mut schema = Value::Object(schema);
        if let Some(f) = &flattening {
            schema = f.flatten_schema(&schema)?;
        }
        Ok(StreamMapper {
            name: alias,
            schema,
            key_properties: keys,
            original_name: stream.to_string(),
            custom: Some(def),
            config: self.config.clone(),
            flattening,
        })
    }
}

fn props_mut(schema: &mut Map<String, Value>) -> &mut Map<String, Value> {
    schema
        .get_mut("properties")
        .and_then(Value::as_object_mut)
        .expect("properties is an object")
}

/// The SDK's `append_type(type_dict, "null")` (`Property.to_dict` of an optional property).
fn append_null(mut t: Value) -> Value {
    let Value::Object(m) = &mut t else {
        return t;
    };
    if let Some(any_of) = m.get_mut("anyOf") {
        match any_of {
            Value::Array(items) => {
                if !items.iter().any(|i| i == "null") {
                    items.push(json!("null"));
                }
            }
            other => {
                if *other != json!("null") {
                    *other = json!([other.clone(), "null"]);
                }
            }
        }
        return t;
    }
    if let Some(Value::Array(items)) = m.get_mut("oneOf") {
        items.push(json!({"type": "null"}));
        return t;
    }
    if let Some(ty) = m.get_mut("type") {
        let mut list = match &*ty {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        if !list.iter().any(|i| i == "null") {
            list.push(json!("null"));
        }
        *ty = Value::Array(list);
    }
    t
}

/// `PluginMapper._eval_stream`: an undefined name keeps the text itself as the alias.
fn eval_alias(key: &str, alias: &Expr, stream: &str) -> Result<String, MapError> {
    match alias.eval_alias(stream) {
        Ok(Value::String(s)) => Ok(s),
        Ok(other) => Err(MapError::Config(format!(
            "stream '{key}': __alias__ '{}' must give a stream name, not {other}",
            alias.source()
        ))),
        Err(e) if e.kind == "NameNotDefined" => Ok(alias.source().to_string()),
        Err(error) => Err(MapError::Eval {
            stream: key.into(),
            property: "__alias__".into(),
            text: alias.source().into(),
            error,
        }),
    }
}

/// Python's `fnmatch.fnmatch` on POSIX: `*`, `?`, `[seq]`, `[!seq]`; an unclosed `[` is literal.
pub fn fnmatch(name: &str, pattern: &str) -> bool {
    let n: Vec<char> = name.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    glob(&n, &p)
}

fn glob(n: &[char], p: &[char]) -> bool {
    let Some(&first) = p.first() else {
        return n.is_empty();
    };
    match first {
        '*' => (0..=n.len()).any(|i| glob(&n[i..], &p[1..])),
        '?' => !n.is_empty() && glob(&n[1..], &p[1..]),
        '[' => match class_end(p) {
            None => !n.is_empty() && n[0] == '[' && glob(&n[1..], &p[1..]),
            Some(end) => {
                !n.is_empty() && class_matches(&p[1..end], n[0]) && glob(&n[1..], &p[end + 1..])
            }
        },
        c => !n.is_empty() && n[0] == c && glob(&n[1..], &p[1..]),
    }
}

/// The index of the `]` closing the class opened at `p[0]` (a `]` right after `[` or `[!` is a
/// member).
fn class_end(p: &[char]) -> Option<usize> {
    let mut j = 1;
    if p.get(j) == Some(&'!') {
        j += 1;
    }
    if p.get(j) == Some(&']') {
        j += 1;
    }
    while j < p.len() && p[j] != ']' {
        j += 1;
    }
    (j < p.len()).then_some(j)
}

fn class_matches(class: &[char], c: char) -> bool {
    let (negate, class) = match class.first() {
        Some('!') => (true, &class[1..]),
        _ => (false, class),
    };
    let mut i = 0;
    let mut found = false;
    while i < class.len() {
        if i + 2 < class.len() && class[i + 1] == '-' {
            if class[i] <= c && c <= class[i + 2] {
                found = true;
            }
            i += 3;
        } else {
            if class[i] == c {
                found = true;
            }
            i += 1;
        }
    }
    found != negate
}

/// One output stream of an input stream.
#[derive(Debug, Clone)]
pub struct StreamMapper {
    /// The output stream's name.
    pub name: String,
    /// Its SCHEMA's schema.
    pub schema: Value,
    /// Its SCHEMA's key properties.
    pub key_properties: Vec<String>,
    original_name: String,
    custom: Option<Arc<CustomDef>>,
    config: Arc<Value>,
    /// Present when flattening is active.
    flattening: Option<Flattening>,
}

impl StreamMapper {
    /// True when this output is the input unchanged (no map entries, no flattening, same name):
    /// callers may splice raw bytes.
    pub fn is_passthrough(&self) -> bool {
        self.custom.is_none() && self.flattening.is_none() && self.name == self.original_name
    }

    /// The transformed record, or `None` when `__filter__` drops it (or, as in the SDK, when the
    /// mapped record is empty). Flattening applies after mapping.
    pub fn transform(
        &self,
        record: &Map<String, Value>,
    ) -> Result<Option<Map<String, Value>>, MapError> {
        let Some(def) = &self.custom else {
            return Ok(Some(match &self.flattening {
                Some(f) => f.flatten_record(record, &self.schema),
                None => record.clone(),
            }));
        };
        let eval = |property: &str, expr: &Expr, self_value: Option<&Value>| {
            let ctx = Context {
                record,
                config: &self.config,
                self_value,
                stream_name: &self.name,
                original_stream_name: &self.original_name,
            };
            expr.eval(&ctx).map_err(|error| MapError::Eval {
                stream: self.name.clone(),
                property: property.into(),
                text: expr.source().into(),
                error,
            })
        };
        if let Some(filter) = &def.filter {
            if !truthy(&eval("__filter__", filter, None)?) {
                return Ok(None);
            }
        }
        let mut out = if def.only_mapped {
            let mut m = Map::new();
            for key in &self.key_properties {
                if let Some(v) = record.get(key) {
                    m.insert(key.clone(), v.clone());
                }
            }
            m
        } else {
            record.clone()
        };
        for (name, expr) in &def.properties {
            match expr {
                None => {
                    out.remove(name);
                }
                Some(expr) => {
                    let value = eval(&format!("property '{name}'"), expr, record.get(name))?;
                    out.insert(name.clone(), value);
                }
            }
        }
        if out.is_empty() {
            return Ok(None);
        }
        Ok(Some(match &self.flattening {
            Some(f) => f.flatten_record(&out, &self.schema),
            None => out,
        }))
    }
}

#[cfg(test)]
mod tests;

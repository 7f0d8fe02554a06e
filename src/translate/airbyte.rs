//! The Airbyte side of the wire: borrowed views of connector output.
//!
//! A line is read into [`Envelope`], a struct with the message `type` and one optional payload per
//! message type, as the protocol itself is shaped. Payloads the tap passes on untouched (record
//! `data`, state messages, specs, catalogs) stay [`RawValue`]s: they are validated but never parsed
//! into trees. Unknown fields and unknown message types are tolerated.
//!
//! Not here: what the tap does with a message (see [`super::reader`]).
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// One line of connector output, with only the payload fields the tap looks at.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub record: Option<RecordView<'a>>,
    #[serde(borrow, default)]
    pub state: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub log: Option<LogView<'a>>,
    #[serde(borrow, default)]
    pub trace: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub control: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub spec: Option<&'a RawValue>,
    #[serde(rename = "connectionStatus", default)]
    pub connection_status: Option<ConnectionStatus>,
    #[serde(borrow, default)]
    pub catalog: Option<&'a RawValue>,
}

/// The parts of a RECORD the tap needs; `data` is passed through byte for byte.
#[derive(Debug, Deserialize)]
pub struct RecordView<'a> {
    #[serde(borrow)]
    pub stream: Cow<'a, str>,
    #[serde(borrow, default)]
    pub namespace: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub data: &'a RawValue,
    #[serde(default)]
    pub emitted_at: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub struct LogView<'a> {
    #[serde(borrow, default)]
    pub level: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub stack_trace: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ConnectionStatus {
    pub status: String,
    #[serde(default)]
    pub message: Option<String>,
}

/// The top-level fields of a record's `data`, in order, values kept raw: for leaving some out.
#[derive(Debug)]
pub struct Fields<'a>(pub Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Fields<'a>, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'a RawValue>()? {
                    fields.push(entry);
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// A TRACE payload, parsed (traces are rare).
#[derive(Debug, Deserialize)]
pub struct Trace {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub error: Option<TraceError>,
    #[serde(default)]
    pub estimate: Option<serde_json::Value>,
    #[serde(default)]
    pub stream_status: Option<StreamStatus>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct TraceError {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub internal_message: Option<String>,
    #[serde(default)]
    pub stack_trace: Option<String>,
    #[serde(default)]
    pub failure_type: Option<String>,
    #[serde(default)]
    pub stream_descriptor: Option<StreamDescriptor>,
}

#[derive(Debug, Deserialize)]
pub struct StreamStatus {
    #[serde(default)]
    pub stream_descriptor: Option<StreamDescriptor>,
    #[serde(default)]
    pub status: Option<String>,
}

/// A stream's identity on the Airbyte side: (namespace, name).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamDescriptor {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl std::fmt::Display for StreamDescriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A discovered stream (AirbyteStream), the fields the tap reads; the whole object is kept raw too.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Stream {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default)]
    pub json_schema: serde_json::Value,
    #[serde(default)]
    pub supported_sync_modes: Vec<String>,
    #[serde(default)]
    pub source_defined_cursor: Option<bool>,
    #[serde(default)]
    pub default_cursor_field: Option<Vec<String>>,
    #[serde(default)]
    pub source_defined_primary_key: Option<Vec<Vec<String>>>,
}

impl Stream {
    pub fn descriptor(&self) -> StreamDescriptor {
        StreamDescriptor {
            name: self.name.clone(),
            namespace: self.namespace.clone(),
        }
    }
    pub fn supports_incremental(&self) -> bool {
        self.supported_sync_modes.iter().any(|m| m == "incremental")
    }
}

/// A CATALOG payload: streams kept both parsed and raw (the raw object goes back verbatim).
#[derive(Debug, Deserialize)]
pub struct Catalog {
    pub streams: Vec<Box<RawValue>>,
}

/// A STATE message, the fields needed to merge it; the message itself is kept raw.
#[derive(Debug, Deserialize)]
pub struct StateView {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub stream: Option<StreamStateView>,
}

#[derive(Debug, Deserialize)]
pub struct StreamStateView {
    pub stream_descriptor: StreamDescriptor,
}

/// A CONTROL payload.
#[derive(Debug, Deserialize)]
pub struct Control<'a> {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(rename = "connectorConfig", borrow, default)]
    pub connector_config: Option<ConnectorConfig<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct ConnectorConfig<'a> {
    #[serde(borrow)]
    pub config: &'a RawValue,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_data_is_kept_byte_for_byte() {
        let line = br#"{"type":"RECORD","record":{"stream":"s\"x","data":{"a": 1.000000000000000000001, "b":"\u00e9"},"emitted_at":1700000000000}}"#;
        let env: Envelope = serde_json::from_slice(line).unwrap();
        let rec = env.record.unwrap();
        assert_eq!(rec.stream, "s\"x");
        assert_eq!(
            rec.data.get(),
            r#"{"a": 1.000000000000000000001, "b":"\u00e9"}"#
        );
        assert_eq!(rec.emitted_at, Some(1.7e12));
    }

    #[test]
    fn unknown_types_and_fields_are_tolerated() {
        let env: Envelope =
            serde_json::from_slice(br#"{"type":"NEW_THING","new_thing":{"x":[1]},"extra":true}"#)
                .unwrap();
        assert_eq!(env.kind, "NEW_THING");
        assert!(env.record.is_none());
    }
}

//! Airbyte state, both ways: what the connector is given with `read --state`, and the Singer STATE
//! value the tap emits.
//!
//! Input (the file Meltano or a user passes with `--state`) may be:
//! - the tap's own STATE value, or tap-airbyte-wrapper's: an object with `airbyte_state`, a list of
//!   Airbyte state messages;
//! - a bare Airbyte state array;
//! - an older wrapper's unpacked state object (a legacy `data` blob, or one unpacked STREAM/GLOBAL);
//! - an empty file, `{}` or `null`: no state.
//!
//! Input lists may mix per-stream (STREAM) states and a GLOBAL state: both are kept, handed to the
//! connector and carried into every Singer STATE (nothing is dropped).
//!
//! Output: a Singer STATE value holds the *whole merged* state:
//! `{"airbyte_state": [<latest message per stream>…, <latest GLOBAL>] | [<latest LEGACY>], …}` plus,
//! at top level, the fields of the last Airbyte state unpacked (the wrapper's shape, which it can read).
//! Whichever STATE a target commits last is therefore a complete resume point. When such values are
//! written is the reader's business (see [`super::reader`]).
use super::airbyte::{StateView, StreamDescriptor};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the state is not valid JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("the state must be a JSON object or array, found {0}")]
    WrongShape(&'static str),
    #[error("`airbyte_state` must be a list of Airbyte state messages")]
    AirbyteStateNotList,
    #[error("a state message is not an object: {0}")]
    BadMessage(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    Stream,
    Global,
    Legacy,
}

/// Which message of the store was merged last.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    Stream(StreamDescriptor),
    Global,
    Legacy,
}

/// What merging one message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Merged {
    /// The merged state differs from what it was (the message is not the one already held).
    pub changed: bool,
    /// The message moved the state between LEGACY and typed (STREAM/GLOBAL) states, which replace
    /// each other.
    pub replaced_kind: bool,
}

/// The merged Airbyte state of a sync: the latest STREAM message per stream and the latest GLOBAL
/// (which may coexist), or the latest LEGACY.
#[derive(Debug, Default)]
pub struct StateStore {
    streams: BTreeMap<StreamDescriptor, Box<RawValue>>,
    global: Option<Box<RawValue>>,
    legacy: Option<Box<RawValue>>,
    last: Option<Slot>,
    /// Bytes of all the messages held.
    bytes: usize,
}

fn kind_of(message: &RawValue) -> Result<(StateKind, Option<StreamDescriptor>), StateError> {
    let view: StateView =
        serde_json::from_str(message.get()).map_err(|e| StateError::BadMessage(e.to_string()))?;
    Ok(match view.kind.as_deref() {
        Some("STREAM") => {
            let sd = view
                .stream
                .ok_or_else(|| StateError::BadMessage("a STREAM state without `stream`".into()))?;
            (StateKind::Stream, Some(sd.stream_descriptor))
        }
        Some("GLOBAL") => (StateKind::Global, None),
        _ => (StateKind::Legacy, None),
    })
}

impl StateStore {
    /// Reads a `--state` file in any of the accepted shapes. Every message of a list is kept (the
    /// latest per stream, the latest GLOBAL, the latest LEGACY), whatever the mix of types.
    pub fn from_input(bytes: &[u8]) -> Result<StateStore, StateError> {
        let mut store = StateStore::default();
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(store);
        }
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(StateError::NotJson)?;
        let messages: Vec<serde_json::Value> = match value {
            serde_json::Value::Null => vec![],
            serde_json::Value::Array(list) => list,
            serde_json::Value::Object(mut obj) => match obj.remove("airbyte_state") {
                Some(serde_json::Value::Array(list)) => list,
                Some(serde_json::Value::Null) => vec![],
                Some(_) => return Err(StateError::AirbyteStateNotList),
                None if obj.is_empty() => vec![],
                // An older wrapper stored the unpacked state alone.
                None if obj.contains_key("stream_descriptor")
                    && obj.contains_key("stream_state") =>
                {
                    vec![serde_json::json!({"type": "STREAM", "stream": obj})]
                }
                None if obj.contains_key("stream_states") => {
                    vec![serde_json::json!({"type": "GLOBAL", "global": obj})]
                }
                None => vec![serde_json::json!({"type": "LEGACY", "data": obj})],
            },
            serde_json::Value::Bool(_) => return Err(StateError::WrongShape("a boolean")),
            serde_json::Value::Number(_) => return Err(StateError::WrongShape("a number")),
            serde_json::Value::String(_) => return Err(StateError::WrongShape("a string")),
        };
        for m in messages {
            if !m.is_object() {
                return Err(StateError::BadMessage(m.to_string()));
            }
            let raw = RawValue::from_string(m.to_string())
                .map_err(|e| StateError::BadMessage(e.to_string()))?;
            store.merge(&raw, false)?;
        }
        Ok(store)
    }

    pub fn is_empty(&self) -> bool {
        self.last.is_none()
    }

    /// The kinds of state held, in the order they are handed on.
    pub fn kinds(&self) -> Vec<StateKind> {
        let mut kinds = Vec::new();
        if !self.streams.is_empty() {
            kinds.push(StateKind::Stream);
        }
        if self.global.is_some() {
            kinds.push(StateKind::Global);
        }
        if self.legacy.is_some() {
            kinds.push(StateKind::Legacy);
        }
        kinds
    }

    /// Bytes of the merged state: about the size of [`StateStore::connector_input`].
    pub fn len_bytes(&self) -> usize {
        self.bytes
    }

    /// Merges one Airbyte state message from the connector: the latest STREAM message per stream,
    /// the latest GLOBAL, which coexist; a LEGACY message replaces typed ones and the other way
    /// round (the connector has moved to a new state type).
    ///
    /// `sourceStats` and `destinationStats` (counts of the records a message covers) are left out:
    /// they say nothing about where to resume, and Singer SDK targets fail to write a STATE back
    /// whose numbers have decimals (`"recordCount": 100.0`, as Airbyte's CDK writes them).
    pub fn update(&mut self, message: &RawValue) -> Result<Merged, StateError> {
        let text = message.get();
        if text.contains("\"sourceStats\"") || text.contains("\"destinationStats\"") {
            let stats: std::collections::HashSet<String> =
                ["sourceStats".to_string(), "destinationStats".to_string()].into();
            let mut bytes = Vec::with_capacity(text.len());
            super::route::without(&stats, text.as_bytes(), &mut bytes);
            let stripped = String::from_utf8(bytes)
                .ok()
                .and_then(|s| RawValue::from_string(s).ok());
            if let Some(stripped) = stripped {
                return self.merge(&stripped, true);
            }
        }
        self.merge(message, true)
    }

    fn merge(&mut self, message: &RawValue, exclusive_legacy: bool) -> Result<Merged, StateError> {
        let (kind, descriptor) = kind_of(message)?;
        let mut merged = Merged::default();
        if exclusive_legacy {
            let typed = !self.streams.is_empty() || self.global.is_some();
            if kind == StateKind::Legacy && typed {
                self.streams.clear();
                self.global = None;
                merged.replaced_kind = true;
            } else if kind != StateKind::Legacy && self.legacy.is_some() {
                self.legacy = None;
                merged.replaced_kind = true;
            }
            if merged.replaced_kind {
                self.bytes = self.messages().map(|m| m.get().len()).sum();
            }
        }
        let slot = match descriptor {
            Some(sd) => Slot::Stream(sd),
            None if kind == StateKind::Global => Slot::Global,
            None => Slot::Legacy,
        };
        let held = match &slot {
            Slot::Stream(sd) => self.streams.get_mut(sd),
            Slot::Global => self.global.as_mut(),
            Slot::Legacy => self.legacy.as_mut(),
        };
        match held {
            Some(held) if held.get() == message.get() => {}
            Some(held) => {
                self.bytes = self.bytes - held.get().len() + message.get().len();
                *held = message.to_owned();
                merged.changed = true;
            }
            None => {
                self.bytes += message.get().len();
                let owned = message.to_owned();
                match &slot {
                    Slot::Stream(sd) => {
                        self.streams.insert(sd.clone(), owned);
                    }
                    Slot::Global => self.global = Some(owned),
                    Slot::Legacy => self.legacy = Some(owned),
                }
                merged.changed = true;
            }
        }
        merged.changed |= merged.replaced_kind;
        self.last = Some(slot);
        Ok(merged)
    }

    /// The JSON array handed to the connector with `read --state`, or None when there is no state.
    pub fn connector_input(&self) -> Option<String> {
        self.last.as_ref()?;
        let mut out = String::with_capacity(self.bytes + self.streams.len() + 3);
        out.push('[');
        for (i, m) in self.messages().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(m.get());
        }
        out.push(']');
        Some(out)
    }

    fn messages(&self) -> impl Iterator<Item = &RawValue> {
        self.streams
            .values()
            .map(|m| &**m)
            .chain(self.global.as_deref())
            .chain(self.legacy.as_deref())
    }

    fn last_message(&self) -> Option<&RawValue> {
        match self.last.as_ref()? {
            Slot::Stream(sd) => self.streams.get(sd).map(|m| &**m),
            Slot::Global => self.global.as_deref(),
            Slot::Legacy => self.legacy.as_deref(),
        }
    }

    /// The Singer STATE value: the message merged last unpacked at top level (as tap-airbyte-wrapper
    /// wrote it) and `airbyte_state`, the whole merged state (`[]` when there is none).
    pub fn singer_value(&self) -> Box<RawValue> {
        let unpacked = self.last_message().map(unpack).unwrap_or_default();
        let mut out = String::with_capacity(self.bytes + self.streams.len() + 64);
        out.push('{');
        for (k, v) in unpacked
            .iter()
            .filter(|(k, _)| k.as_str() != "airbyte_state")
        {
            out.push_str(&serde_json::to_string(k).expect("strings serialize"));
            out.push(':');
            out.push_str(v.get());
            out.push(',');
        }
        out.push_str("\"airbyte_state\":");
        match self.connector_input() {
            Some(list) => out.push_str(&list),
            None => out.push_str("[]"),
        }
        out.push('}');
        RawValue::from_string(out).expect("assembled from valid JSON parts")
    }
}

/// The payload of a state message, as the wrapper put it at the top of its STATE value.
fn unpack(message: &RawValue) -> BTreeMap<String, Box<RawValue>> {
    let mut fields: BTreeMap<String, Box<RawValue>> =
        serde_json::from_str(message.get()).unwrap_or_default();
    for key in ["data", "stream", "global", "legacy"] {
        if let Some(inner) = fields.remove(key) {
            if let Ok(map) = serde_json::from_str::<BTreeMap<String, Box<RawValue>>>(inner.get()) {
                return map;
            }
        }
    }
    BTreeMap::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn raw(v: Value) -> Box<RawValue> {
        RawValue::from_string(v.to_string()).unwrap()
    }
    fn stream_msg(name: &str, ns: Option<&str>, cursor: u64) -> Value {
        let mut sd = json!({"name": name});
        if let Some(ns) = ns {
            sd["namespace"] = json!(ns);
        }
        json!({"type": "STREAM", "stream": {"stream_descriptor": sd, "stream_state": {"cursor": cursor}}})
    }
    fn input(store: &StateStore) -> Value {
        serde_json::from_str(&store.connector_input().unwrap()).unwrap()
    }

    #[test]
    fn empty_inputs_mean_no_state() {
        for text in [
            "",
            "  \n",
            "{}",
            "null",
            "[]",
            r#"{"airbyte_state": []}"#,
            r#"{"airbyte_state": null}"#,
        ] {
            let store = StateStore::from_input(text.as_bytes()).unwrap();
            assert!(store.is_empty(), "{text:?}");
            assert_eq!(store.connector_input(), None);
        }
    }

    #[test]
    fn four_input_shapes() {
        let a = stream_msg("a", None, 3);
        let b = stream_msg("b", Some("ns"), 4);
        let ours = json!({"stream_descriptor": {"name": "b", "namespace": "ns"}, "stream_state": {"cursor": 4}, "airbyte_state": [a, b]});
        let bare = json!([a, b]);
        for text in [ours.to_string(), bare.to_string()] {
            let store = StateStore::from_input(text.as_bytes()).unwrap();
            assert_eq!(input(&store), json!([a, b]), "{text}");
        }
        let legacy = StateStore::from_input(br#"{"users": {"cursor": 7}}"#).unwrap();
        assert_eq!(
            input(&legacy),
            json!([{"type": "LEGACY", "data": {"users": {"cursor": 7}}}])
        );
        let unpacked = StateStore::from_input(
            br#"{"stream_descriptor": {"name": "a"}, "stream_state": {"c": 1}}"#,
        )
        .unwrap();
        assert_eq!(
            input(&unpacked),
            json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "a"}, "stream_state": {"c": 1}}}])
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        for text in [
            "nope",
            "1",
            "\"x\"",
            "true",
            r#"{"airbyte_state": {}}"#,
            "[1]",
            r#"[{"type":"STREAM"}]"#,
        ] {
            assert!(StateStore::from_input(text.as_bytes()).is_err(), "{text}");
        }
    }

    #[test]
    fn latest_per_stream_namespaces_apart() {
        let mut store = StateStore::default();
        store.update(&raw(stream_msg("a", None, 1))).unwrap();
        store.update(&raw(stream_msg("a", Some("x"), 1))).unwrap();
        store.update(&raw(stream_msg("a", None, 2))).unwrap();
        assert_eq!(
            input(&store),
            json!([stream_msg("a", None, 2), stream_msg("a", Some("x"), 1)])
        );
    }

    #[test]
    fn global_keeps_the_latest_and_a_type_change_replaces() {
        let mut store = StateStore::from_input(br#"{"legacy_stream": {"cursor": 1}}"#).unwrap();
        let g1 =
            json!({"type": "GLOBAL", "global": {"shared_state": {"lsn": 1}, "stream_states": []}});
        let g2 =
            json!({"type": "GLOBAL", "global": {"shared_state": {"lsn": 2}, "stream_states": []}});
        assert!(store.update(&raw(g1)).unwrap().replaced_kind);
        assert!(!store.update(&raw(g2.clone())).unwrap().replaced_kind);
        assert_eq!(input(&store), json!([g2]));
    }

    #[test]
    fn record_counts_are_not_kept() {
        let mut store = StateStore::default();
        let m = raw(
            json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": "a"}, "stream_state": {"cursor": 1}}, "sourceStats": {"recordCount": 100.0}, "destinationStats": {"recordCount": 1.0}}),
        );
        assert!(store.update(&m).unwrap().changed);
        let again = raw(
            json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": "a"}, "stream_state": {"cursor": 1}}, "sourceStats": {"recordCount": 200.0}}),
        );
        assert!(
            !store.update(&again).unwrap().changed,
            "only the counts differ"
        );
        assert_eq!(
            store.connector_input().unwrap(),
            r#"[{"type":"STREAM","stream":{"stream_descriptor":{"name":"a"},"stream_state":{"cursor":1}}}]"#
        );
    }

    #[test]
    fn singer_value_is_whole_and_wrapper_shaped() {
        let mut store = StateStore::default();
        store.update(&raw(stream_msg("a", None, 1))).unwrap();
        let last = raw(stream_msg("b", None, 9));
        store.update(&last).unwrap();
        let value: Value = serde_json::from_str(store.singer_value().get()).unwrap();
        assert_eq!(value["stream_descriptor"], json!({"name": "b"}));
        assert_eq!(value["stream_state"], json!({"cursor": 9}));
        assert_eq!(
            value["airbyte_state"],
            json!([stream_msg("a", None, 1), stream_msg("b", None, 9)])
        );
        // The tap reads its own output back to the same state.
        let again = StateStore::from_input(value.to_string().as_bytes()).unwrap();
        assert_eq!(input(&again), value["airbyte_state"]);
    }

    #[test]
    fn legacy_value_unpacks_data() {
        let mut store = StateStore::default();
        let m = raw(json!({"data": {"users": {"cursor": 5}}}));
        store.update(&m).unwrap();
        let value: Value = serde_json::from_str(store.singer_value().get()).unwrap();
        assert_eq!(value["users"], json!({"cursor": 5}));
        assert_eq!(store.kinds(), [StateKind::Legacy]);
    }

    #[test]
    fn stream_and_global_states_coexist_and_nothing_is_dropped() {
        let a = stream_msg("a", None, 3);
        let g = json!({"type": "GLOBAL", "global": {"shared_state": {"lsn": 7}, "stream_states": [
            {"stream_descriptor": {"name": "b"}, "stream_state": {"cursor": 4}}]}});
        for text in [
            json!([a, g]).to_string(),
            json!([g, a]).to_string(),
            json!({"airbyte_state": [a, g]}).to_string(),
        ] {
            let mut store = StateStore::from_input(text.as_bytes()).unwrap();
            assert_eq!(
                store.kinds(),
                [StateKind::Stream, StateKind::Global],
                "{text}"
            );
            assert_eq!(
                input(&store),
                json!([a, g]),
                "both go to the connector: {text}"
            );
            let value: Value = serde_json::from_str(store.singer_value().get()).unwrap();
            assert_eq!(
                value["airbyte_state"],
                json!([a, g]),
                "both in the Singer STATE"
            );
            // The connector moves one stream on: the GLOBAL part stays, and the other way round.
            let a5 = stream_msg("a", None, 5);
            let merged = store.update(&raw(a5.clone())).unwrap();
            assert!(merged.changed && !merged.replaced_kind);
            let value: Value = serde_json::from_str(store.singer_value().get()).unwrap();
            assert_eq!(value["airbyte_state"], json!([a5, g]));
            assert_eq!(
                value["stream_state"],
                json!({"cursor": 5}),
                "the last message unpacked"
            );
            let g8 = json!({"type": "GLOBAL", "global": {"shared_state": {"lsn": 8}, "stream_states": []}});
            store.update(&raw(g8.clone())).unwrap();
            assert_eq!(input(&store), json!([a5, g8]));
            // The tap reads its own output back to the same state.
            let value: Value = serde_json::from_str(store.singer_value().get()).unwrap();
            let again = StateStore::from_input(value.to_string().as_bytes()).unwrap();
            assert_eq!(input(&again), json!([a5, g8]));
        }
    }

    #[test]
    fn an_unchanged_message_changes_nothing_and_sizes_are_tracked() {
        let mut store =
            StateStore::from_input(json!([stream_msg("a", None, 1)]).to_string().as_bytes())
                .unwrap();
        let size = |s: &StateStore| s.connector_input().map_or(0, |t| t.len());
        assert_eq!(store.len_bytes() + 2, size(&store));
        assert!(
            !store
                .update(&raw(stream_msg("a", None, 1)))
                .unwrap()
                .changed
        );
        assert!(
            store
                .update(&raw(stream_msg("b", None, 10)))
                .unwrap()
                .changed
        );
        assert!(
            store
                .update(&raw(stream_msg("a", None, 100)))
                .unwrap()
                .changed
        );
        assert_eq!(store.len_bytes() + 3, size(&store));
        let legacy = raw(json!({"data": {"x": 1}}));
        assert!(store.update(&legacy).unwrap().replaced_kind);
        assert_eq!(store.len_bytes() + 2, size(&store));
        assert_eq!(store.kinds(), [StateKind::Legacy]);
    }

    #[test]
    fn no_state_gives_an_empty_singer_value() {
        let store = StateStore::default();
        assert_eq!(store.singer_value().get(), r#"{"airbyte_state":[]}"#);
        assert!(
            StateStore::from_input(store.singer_value().get().as_bytes())
                .unwrap()
                .is_empty()
        );
    }
}

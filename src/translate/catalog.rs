//! Catalogs both ways: the connector's Airbyte CATALOG becomes a Singer catalog (`--discover`), and
//! a Singer catalog with its selection becomes the configured Airbyte catalog for `read` plus the
//! [`StreamPlan`]s the reader needs to emit SCHEMA and RECORD messages.
//!
//! Stream identity: Airbyte streams are (namespace, name). The Singer `tap_stream_id` is the name
//! alone when no other stream has that name (what tap-airbyte-wrapper used, so existing `select:`
//! rules keep working), else `<namespace>-<name>`. Every entry also carries, in its stream-level
//! metadata, `airbyte-stream`: the discovered Airbyte stream verbatim. A sync with our own catalog
//! therefore never needs the connector's `discover` again.
use super::airbyte::{Stream, StreamDescriptor};
use super::schema;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};

/// Metadata key (stream level) holding the discovered Airbyte stream verbatim.
pub const AIRBYTE_STREAM_KEY: &str = "airbyte-stream";

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("the connector's catalog has a stream that is not valid: {0}")]
    BadAirbyteStream(serde_json::Error),
    #[error("the catalog is not a valid Singer catalog: {0}")]
    BadSingerCatalog(serde_json::Error),
    #[error("catalog entry `{0}` matches no stream of the connector (run --discover again?)")]
    UnknownStream(String),
    #[error("the catalog has more than one entry with tap_stream_id `{0}`; each stream must appear once")]
    DuplicateStreamId(String),
    #[error(
        "catalog entries `{first}` and `{second}` are both the connector's stream `{stream}`; select it once"
    )]
    DuplicateStream {
        stream: String,
        first: String,
        second: String,
    },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SingerCatalog {
    pub streams: Vec<CatalogEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CatalogEntry {
    pub tap_stream_id: String,
    #[serde(default)]
    pub stream: Option<String>,
    #[serde(default)]
    pub schema: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_properties: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_method: Option<String>,
    #[serde(default)]
    pub metadata: Vec<MetadataEntry>,
    /// Anything else an entry carries is kept.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MetadataEntry {
    #[serde(default)]
    pub breadcrumb: Vec<String>,
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// Metadata key (stream level): the primary key as Airbyte paths, exactly (`[["obj","id"],["b"]]`).
pub const AIRBYTE_PRIMARY_KEY: &str = "airbyte-primary-key";
/// Metadata key (stream level): the default cursor as an Airbyte path, exactly (`["meta","updated_at"]`).
pub const AIRBYTE_CURSOR_FIELD: &str = "airbyte-cursor-field";

/// A path joined for Singer's `replication_key`: `["a","b"]` → `a.b`.
pub fn join_path(path: &[String]) -> String {
    path.join(".")
}

/// Singer `key_properties` for an Airbyte primary key: the top-level property of each path, in
/// order, once. A composite key stays composite (`[["a"],["b"]]` → `a, b`); a nested path is keyed by
/// its top-level property (`[["obj","id"]]` → `obj`), since Singer keys name top-level properties
/// that targets can find in the record. The exact paths are kept in `airbyte-primary-key` metadata
/// and go to the connector unchanged.
pub fn key_properties(primary_key: &[Vec<String>]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for first in primary_key.iter().filter_map(|p| p.first()) {
        if !keys.contains(first) {
            keys.push(first.clone());
        }
    }
    keys
}

/// Parses the streams of an Airbyte CATALOG message.
pub fn parse_streams(raw: &[Box<RawValue>]) -> Result<Vec<(Stream, Value)>, CatalogError> {
    raw.iter()
        .map(|r| {
            let stream: Stream =
                serde_json::from_str(r.get()).map_err(CatalogError::BadAirbyteStream)?;
            let verbatim: Value =
                serde_json::from_str(r.get()).map_err(CatalogError::BadAirbyteStream)?;
            Ok((stream, verbatim))
        })
        .collect()
}

/// Stable, readable Singer ids for a list of Airbyte streams (see the module doc).
pub fn tap_stream_ids(streams: &[StreamDescriptor]) -> Vec<String> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for s in streams {
        *count.entry(s.name.as_str()).or_default() += 1;
    }
    streams
        .iter()
        .map(|s| match &s.namespace {
            Some(ns) if count[s.name.as_str()] > 1 => format!("{ns}-{}", s.name),
            _ => s.name.clone(),
        })
        .collect()
}

/// The cursor a stream uses when the user picks none.
fn default_cursor(stream: &Stream) -> Option<Vec<String>> {
    stream
        .default_cursor_field
        .clone()
        .filter(|c| !c.is_empty())
}

/// Airbyte CATALOG → Singer catalog.
pub fn to_singer(streams: &[(Stream, Value)]) -> SingerCatalog {
    let ids = tap_stream_ids(
        &streams
            .iter()
            .map(|(s, _)| s.descriptor())
            .collect::<Vec<_>>(),
    );
    let entries = streams
        .iter()
        .zip(ids)
        .map(|((stream, verbatim), id)| {
            let keys = key_properties(
                stream
                    .source_defined_primary_key
                    .as_deref()
                    .unwrap_or_default(),
            );
            let cursor = default_cursor(stream);
            let incremental = stream.supports_incremental();
            let replication_key = cursor
                .as_ref()
                .filter(|_| incremental)
                .map(|c| join_path(c));
            let method = if incremental {
                "INCREMENTAL"
            } else {
                "FULL_TABLE"
            };
            let mut top = Map::new();
            top.insert("inclusion".into(), json!("available"));
            top.insert("selected-by-default".into(), json!(true));
            top.insert("table-key-properties".into(), json!(keys));
            top.insert(
                "valid-replication-keys".into(),
                json!(replication_key.iter().collect::<Vec<_>>()),
            );
            top.insert("replication-method".into(), json!(method));
            if let Some(k) = &replication_key {
                top.insert("replication-key".into(), json!(k));
            }
            if !incremental {
                top.insert("forced-replication-method".into(), json!("FULL_TABLE"));
            }
            if let Some(ns) = &stream.namespace {
                top.insert("schema-name".into(), json!(ns));
            }
            if let Some(pk) = &stream.source_defined_primary_key {
                top.insert(AIRBYTE_PRIMARY_KEY.into(), json!(pk));
            }
            if let Some(c) = &cursor {
                top.insert(AIRBYTE_CURSOR_FIELD.into(), json!(c));
            }
            top.insert(AIRBYTE_STREAM_KEY.into(), verbatim.clone());
            let mut metadata = vec![MetadataEntry {
                breadcrumb: vec![],
                metadata: top,
            }];
            let automatic: Vec<&str> = stream
                .source_defined_primary_key
                .iter()
                .flatten()
                .chain(cursor.iter())
                .filter_map(|p| p.first().map(String::as_str))
                .collect();
            if let Some(props) = stream
                .json_schema
                .get("properties")
                .and_then(Value::as_object)
            {
                for name in props.keys() {
                    let inclusion = if automatic.contains(&name.as_str()) {
                        "automatic"
                    } else {
                        "available"
                    };
                    let mut m = Map::new();
                    m.insert("inclusion".into(), json!(inclusion));
                    m.insert("selected-by-default".into(), json!(true));
                    metadata.push(MetadataEntry {
                        breadcrumb: vec!["properties".into(), name.clone()],
                        metadata: m,
                    });
                }
            }
            CatalogEntry {
                stream: Some(stream.name.clone()),
                tap_stream_id: id,
                schema: schema::to_singer(&stream.json_schema),
                key_properties: Some(keys),
                replication_key,
                replication_method: Some(method.into()),
                metadata,
                other: Map::new(),
            }
        })
        .collect();
    SingerCatalog { streams: entries }
}

impl CatalogEntry {
    fn stream_metadata(&self) -> Option<&Map<String, Value>> {
        self.metadata
            .iter()
            .find(|m| m.breadcrumb.is_empty())
            .map(|m| &m.metadata)
    }

    /// Meltano SDK selection rules: `unsupported` never, `automatic` always, else `selected`, else
    /// `selected-by-default`, else selected.
    pub fn is_selected(&self) -> bool {
        let Some(m) = self.stream_metadata() else {
            return true;
        };
        match m.get("inclusion").and_then(Value::as_str) {
            Some("unsupported") => false,
            Some("automatic") => true,
            _ => m
                .get("selected")
                .and_then(Value::as_bool)
                .or_else(|| m.get("selected-by-default").and_then(Value::as_bool))
                .unwrap_or(true),
        }
    }

    /// Top-level properties the selection leaves out (Meltano SDK rules: `unsupported` never,
    /// `automatic` always, else `selected`, else `selected-by-default`, else kept).
    pub fn excluded_properties(&self) -> Vec<String> {
        self.metadata
            .iter()
            .filter(|m| m.breadcrumb.len() == 2 && m.breadcrumb[0] == "properties")
            .filter(
                |m| match m.metadata.get("inclusion").and_then(Value::as_str) {
                    Some("unsupported") => true,
                    Some("automatic") => false,
                    _ => !m
                        .metadata
                        .get("selected")
                        .and_then(Value::as_bool)
                        .or_else(|| {
                            m.metadata
                                .get("selected-by-default")
                                .and_then(Value::as_bool)
                        })
                        .unwrap_or(true),
                },
            )
            .map(|m| m.breadcrumb[1].clone())
            .collect()
    }

    /// Top-level properties whose metadata says `selected: true`.
    fn explicitly_selected_properties(&self) -> impl Iterator<Item = &str> {
        self.metadata
            .iter()
            .filter(|m| m.breadcrumb.len() == 2 && m.breadcrumb[0] == "properties")
            .filter(|m| m.metadata.get("selected").and_then(Value::as_bool) == Some(true))
            .map(|m| m.breadcrumb[1].as_str())
    }

    /// The Airbyte stream this entry was discovered from, when it carries it.
    pub fn embedded_stream(&self) -> Option<&Value> {
        self.stream_metadata()?.get(AIRBYTE_STREAM_KEY)
    }

    fn replication_method(&self) -> Option<&str> {
        self.stream_metadata()
            .and_then(|m| m.get("replication-method"))
            .and_then(Value::as_str)
            .or(self.replication_method.as_deref())
    }

    fn replication_key(&self) -> Option<&str> {
        self.stream_metadata()
            .and_then(|m| m.get("replication-key"))
            .and_then(Value::as_str)
            .or(self.replication_key.as_deref())
    }
}

/// Does syncing with this catalog need the connector's `discover`? Only when a selected entry does
/// not carry its Airbyte stream.
pub fn needs_discover(catalog: Option<&SingerCatalog>) -> bool {
    match catalog {
        None => true,
        Some(c) => c
            .streams
            .iter()
            .any(|e| e.is_selected() && e.embedded_stream().is_none()),
    }
}

/// What the reader needs to know about one synced stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamPlan {
    pub descriptor: StreamDescriptor,
    pub singer_name: String,
    pub schema: Value,
    pub key_properties: Vec<String>,
    pub bookmark_properties: Vec<String>,
    /// Top-level properties to leave out of every record (deselected).
    pub excluded: Vec<String>,
}

/// The configured Airbyte catalog and the plans of the streams it syncs.
#[derive(Debug, Clone)]
pub struct SyncPlan {
    pub configured_catalog: Value,
    pub streams: Vec<StreamPlan>,
    /// Things worth telling the user (a requested mode the stream cannot do, …).
    pub notes: Vec<String>,
}

/// Builds the sync plan from a Singer catalog (or, without one, from every discovered stream with its
/// defaults). `discovered` is needed only when [`needs_discover`] says so.
///
/// A catalog with two entries of the same `tap_stream_id`, or two selected entries of the same
/// Airbyte stream, is an error: which one the user meant cannot be known.
pub fn plan(
    catalog: Option<&SingerCatalog>,
    discovered: Option<&[(Stream, Value)]>,
) -> Result<SyncPlan, CatalogError> {
    let owned;
    let catalog = match catalog {
        Some(c) => c,
        None => {
            owned = to_singer(discovered.unwrap_or_default());
            &owned
        }
    };
    // tap_stream_id → discovered stream, for entries that do not carry their stream.
    let by_id: HashMap<String, &(Stream, Value)> = match discovered {
        Some(d) => {
            let ids = tap_stream_ids(&d.iter().map(|(s, _)| s.descriptor()).collect::<Vec<_>>());
            ids.into_iter().zip(d.iter()).collect()
        }
        None => HashMap::new(),
    };
    let mut ids: HashSet<&str> = HashSet::with_capacity(catalog.streams.len());
    for entry in &catalog.streams {
        if !ids.insert(entry.tap_stream_id.as_str()) {
            return Err(CatalogError::DuplicateStreamId(entry.tap_stream_id.clone()));
        }
    }
    let mut planned: HashMap<StreamDescriptor, &str> = HashMap::new();
    let mut configured = Vec::new();
    let mut plans = Vec::new();
    let mut notes = Vec::new();
    for entry in catalog.streams.iter().filter(|e| e.is_selected()) {
        let (stream, verbatim) = match entry.embedded_stream() {
            Some(v) => (
                Stream::deserialize(v).map_err(CatalogError::BadSingerCatalog)?,
                v.clone(),
            ),
            None => {
                let found = by_id
                    .get(&entry.tap_stream_id)
                    .ok_or_else(|| CatalogError::UnknownStream(entry.tap_stream_id.clone()))?;
                (found.0.clone(), found.1.clone())
            }
        };
        if let Some(first) = planned.insert(stream.descriptor(), &entry.tap_stream_id) {
            return Err(CatalogError::DuplicateStream {
                stream: stream.descriptor().to_string(),
                first: first.to_string(),
                second: entry.tap_stream_id.clone(),
            });
        }
        let wants_incremental = match entry.replication_method() {
            Some(m) => m.eq_ignore_ascii_case("INCREMENTAL") || m.eq_ignore_ascii_case("LOG_BASED"),
            None => true,
        };
        let cursor = entry
            .replication_key()
            .map(|k| match default_cursor(&stream) {
                Some(d) if join_path(&d) == k => d,
                _ => vec![k.to_string()],
            })
            .or_else(|| default_cursor(&stream));
        let incremental = wants_incremental
            && stream.supports_incremental()
            && (stream.source_defined_cursor == Some(true) || cursor.is_some());
        if wants_incremental && !incremental && entry.replication_method().is_some() {
            notes.push(format!(
                "stream `{}`: incremental was asked for but the connector cannot do it here; syncing it with full_refresh",
                entry.tap_stream_id
            ));
        }
        let primary_key = stream
            .source_defined_primary_key
            .clone()
            .unwrap_or_default();
        let mut c = json!({
            "stream": verbatim,
            "sync_mode": if incremental { "incremental" } else { "full_refresh" },
            "destination_sync_mode": "append",
            "primary_key": primary_key,
        });
        if incremental {
            c["cursor_field"] = json!(cursor.clone().unwrap_or_default());
        }
        configured.push(c);
        if let Some(known) = stream
            .json_schema
            .get("properties")
            .and_then(Value::as_object)
        {
            for name in entry.explicitly_selected_properties() {
                if !known.contains_key(name) {
                    notes.push(format!(
                        "stream `{}`: property `{name}` is selected but is not in the stream's schema; \
                         the connector will not send it (misspelt, or run --discover again?)",
                        entry.tap_stream_id
                    ));
                }
            }
        }
        let excluded = entry.excluded_properties();
        let mut singer_schema = entry.schema.clone();
        if !excluded.is_empty() {
            let gone: HashSet<&str> = excluded.iter().map(String::as_str).collect();
            if let Some(props) = singer_schema
                .get_mut("properties")
                .and_then(Value::as_object_mut)
            {
                props.retain(|k, _| !gone.contains(k.as_str()));
            }
        }
        // Connectors leave out keys whose value is null: nothing is `required` in what is emitted.
        schema::relax(&mut singer_schema);
        plans.push(StreamPlan {
            descriptor: stream.descriptor(),
            singer_name: entry.tap_stream_id.clone(),
            schema: singer_schema,
            excluded,
            key_properties: entry
                .key_properties
                .clone()
                .unwrap_or_else(|| key_properties(&primary_key)),
            bookmark_properties: if incremental {
                cursor.iter().map(|c| join_path(c)).collect()
            } else {
                vec![]
            },
        });
    }
    Ok(SyncPlan {
        configured_catalog: json!({"streams": configured}),
        streams: plans,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streams(v: Value) -> Vec<(Stream, Value)> {
        let raw: Vec<Box<RawValue>> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|s| RawValue::from_string(s.to_string()).unwrap())
            .collect();
        parse_streams(&raw).unwrap()
    }

    fn sample() -> Vec<(Stream, Value)> {
        streams(json!([
            {"name": "users", "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}, "updated_at": {"type": "string"}, "name": {"type": "string"}}},
             "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": true,
             "default_cursor_field": ["updated_at"], "source_defined_primary_key": [["id"]]},
            {"name": "items", "namespace": "a", "json_schema": {"type": "object", "properties": {}}, "supported_sync_modes": ["full_refresh"]},
            {"name": "items", "namespace": "b", "json_schema": {"type": "object", "properties": {}}, "supported_sync_modes": ["full_refresh"]}
        ]))
    }

    #[test]
    fn discover_gives_singer_entries() {
        let catalog = to_singer(&sample());
        let ids: Vec<&str> = catalog
            .streams
            .iter()
            .map(|e| e.tap_stream_id.as_str())
            .collect();
        assert_eq!(ids, ["users", "a-items", "b-items"]);
        let users = &catalog.streams[0];
        assert_eq!(users.key_properties, Some(vec!["id".to_string()]));
        assert_eq!(users.replication_key.as_deref(), Some("updated_at"));
        assert_eq!(users.replication_method.as_deref(), Some("INCREMENTAL"));
        let top = users.stream_metadata().unwrap();
        assert_eq!(top["selected-by-default"], json!(true));
        assert_eq!(top["valid-replication-keys"], json!(["updated_at"]));
        assert_eq!(top["table-key-properties"], json!(["id"]));
        let id_meta = users
            .metadata
            .iter()
            .find(|m| m.breadcrumb == ["properties", "id"])
            .unwrap();
        assert_eq!(id_meta.metadata["inclusion"], json!("automatic"));
        let items = &catalog.streams[1];
        assert_eq!(
            items.stream_metadata().unwrap()["forced-replication-method"],
            json!("FULL_TABLE")
        );
        assert!(!needs_discover(Some(&catalog)));
    }

    #[test]
    fn selection_rules() {
        let mut catalog = to_singer(&sample());
        let set = |e: &mut CatalogEntry, k: &str, v: Value| {
            e.metadata
                .iter_mut()
                .find(|m| m.breadcrumb.is_empty())
                .unwrap()
                .metadata
                .insert(k.into(), v);
        };
        set(&mut catalog.streams[1], "selected", json!(false));
        set(&mut catalog.streams[2], "selected-by-default", json!(false));
        set(&mut catalog.streams[0], "selected", json!(false));
        set(&mut catalog.streams[0], "inclusion", json!("automatic"));
        let selected: Vec<bool> = catalog
            .streams
            .iter()
            .map(CatalogEntry::is_selected)
            .collect();
        assert_eq!(selected, [true, false, false]);
        set(&mut catalog.streams[0], "inclusion", json!("unsupported"));
        assert!(!catalog.streams[0].is_selected());
        // No metadata at all: selected.
        catalog.streams[1].metadata.clear();
        assert!(catalog.streams[1].is_selected());
    }

    #[test]
    fn plan_from_our_catalog_needs_no_discover() {
        let catalog = to_singer(&sample());
        let plan = plan(Some(&catalog), None).unwrap();
        let c = &plan.configured_catalog["streams"];
        assert_eq!(c.as_array().unwrap().len(), 3);
        assert_eq!(c[0]["sync_mode"], "incremental");
        assert_eq!(c[0]["cursor_field"], json!(["updated_at"]));
        assert_eq!(c[0]["primary_key"], json!([["id"]]));
        assert_eq!(c[0]["stream"], sample()[0].1);
        assert_eq!(c[1]["sync_mode"], "full_refresh");
        assert_eq!(c[2]["stream"]["namespace"], "b");
        assert_eq!(plan.streams[2].singer_name, "b-items");
        assert_eq!(plan.streams[0].bookmark_properties, ["updated_at"]);
    }

    #[test]
    fn plan_with_a_foreign_catalog_uses_discover_and_falls_back_to_full_refresh() {
        let mut catalog = to_singer(&sample());
        for e in &mut catalog.streams {
            e.metadata.clear();
        }
        catalog.streams[1].replication_method = Some("INCREMENTAL".into());
        assert!(needs_discover(Some(&catalog)));
        assert!(matches!(
            plan(Some(&catalog), None),
            Err(CatalogError::UnknownStream(_))
        ));
        let p = plan(Some(&catalog), Some(&sample())).unwrap();
        assert_eq!(
            p.configured_catalog["streams"][1]["sync_mode"],
            "full_refresh"
        );
        assert_eq!(p.notes.len(), 1, "{:?}", p.notes);
    }

    #[test]
    fn composite_and_nested_keys_and_cursors_stay_whole() {
        let s = streams(
            json!([{"name": "t", "json_schema": {"type": "object", "properties": {"obj": {"type": "object"}, "b": {"type": "string"}, "meta": {"type": "object"}}},
            "supported_sync_modes": ["incremental"], "source_defined_cursor": false,
            "default_cursor_field": ["meta", "updated_at"], "source_defined_primary_key": [["obj", "id"], ["b"], ["obj", "region"]]}]),
        );
        let catalog = to_singer(&s);
        let e = &catalog.streams[0];
        assert_eq!(
            e.key_properties,
            Some(vec!["obj".to_string(), "b".to_string()])
        );
        assert_eq!(e.replication_key.as_deref(), Some("meta.updated_at"));
        let top = e.stream_metadata().unwrap();
        assert_eq!(
            top[AIRBYTE_PRIMARY_KEY],
            json!([["obj", "id"], ["b"], ["obj", "region"]])
        );
        assert_eq!(top[AIRBYTE_CURSOR_FIELD], json!(["meta", "updated_at"]));
        let p = plan(Some(&catalog), None).unwrap();
        let c = &p.configured_catalog["streams"][0];
        assert_eq!(
            c["primary_key"],
            json!([["obj", "id"], ["b"], ["obj", "region"]])
        );
        assert_eq!(c["cursor_field"], json!(["meta", "updated_at"]));
        assert_eq!(p.streams[0].bookmark_properties, ["meta.updated_at"]);
    }

    #[test]
    fn deselected_properties_leave_schema_and_plan() {
        let mut catalog = to_singer(&sample());
        for m in &mut catalog.streams[0].metadata {
            if m.breadcrumb == ["properties", "name"] {
                m.metadata.insert("selected".into(), json!(false));
            }
            // A key property cannot be deselected: its inclusion is automatic.
            if m.breadcrumb == ["properties", "id"] {
                m.metadata.insert("selected".into(), json!(false));
            }
        }
        let p = plan(Some(&catalog), None).unwrap();
        assert_eq!(p.streams[0].excluded, ["name"]);
        let props = p.streams[0].schema["properties"].as_object().unwrap();
        assert!(props.contains_key("id") && !props.contains_key("name"));
    }

    #[test]
    fn no_catalog_syncs_everything() {
        let p = plan(None, Some(&sample())).unwrap();
        assert_eq!(p.streams.len(), 3);
    }

    #[test]
    fn a_duplicate_tap_stream_id_is_rejected() {
        let mut catalog = to_singer(&sample());
        let mut copy = catalog.streams[0].clone();
        copy.metadata.clear(); // no embedded stream, and selected
        catalog.streams.push(copy);
        let err = plan(Some(&catalog), Some(&sample())).unwrap_err();
        assert!(
            matches!(&err, CatalogError::DuplicateStreamId(id) if id == "users"),
            "{err}"
        );
        assert!(err
            .to_string()
            .contains("more than one entry with tap_stream_id `users`"));
        // Even when the second one is not selected: which entry the user meant is unknown.
        let mut catalog = to_singer(&sample());
        let mut copy = catalog.streams[1].clone();
        for m in &mut copy.metadata {
            if m.breadcrumb.is_empty() {
                m.metadata.insert("selected".into(), json!(false));
            }
        }
        catalog.streams.push(copy);
        assert!(matches!(
            plan(Some(&catalog), None),
            Err(CatalogError::DuplicateStreamId(_))
        ));
    }

    #[test]
    fn two_selected_entries_of_one_stream_are_rejected() {
        let mut catalog = to_singer(&sample());
        let mut copy = catalog.streams[0].clone();
        copy.tap_stream_id = "users_again".into();
        catalog.streams.push(copy);
        let err = plan(Some(&catalog), None).unwrap_err();
        assert!(
            err.to_string().contains("`users` and `users_again`"),
            "{err}"
        );
    }

    #[test]
    fn a_selected_property_the_schema_lacks_is_noted() {
        let mut catalog = to_singer(&sample());
        catalog.streams[0].metadata.push(MetadataEntry {
            breadcrumb: vec!["properties".into(), "nmae".into()],
            metadata: json!({"selected": true}).as_object().unwrap().clone(),
        });
        for m in &mut catalog.streams[0].metadata {
            if m.breadcrumb == ["properties", "name"] {
                m.metadata.insert("selected".into(), json!(true));
            }
        }
        let p = plan(Some(&catalog), None).unwrap();
        assert_eq!(p.notes.len(), 1, "{:?}", p.notes);
        assert!(p.notes[0].contains("`users`") && p.notes[0].contains("`nmae`"));
    }

    #[test]
    fn the_emitted_schema_requires_nothing_even_from_an_older_catalog() {
        let s = streams(
            json!([{"name": "t", "json_schema": {"type": "object", "required": ["id", "category"],
            "properties": {"id": {"type": "integer"}, "category": {"type": "string"},
                           "at": {"type": "string", "format": "date-time", "airbyte_type": "timestamp_without_timezone"},
                           "obj": {"type": "object", "required": ["x"], "properties": {"x": {"type": "string"}}}}},
            "supported_sync_modes": ["full_refresh"], "source_defined_primary_key": [["id"]]}]),
        );
        let mut catalog = to_singer(&s);
        assert!(!catalog.streams[0].schema.to_string().contains("required"));
        // A catalog written by an older version still has them: the plan drops them too.
        catalog.streams[0].schema = s[0].0.json_schema.clone();
        let p = plan(Some(&catalog), None).unwrap();
        let schema = &p.streams[0].schema;
        assert!(!schema.to_string().contains("required"), "{schema}");
        assert!(schema["properties"]["at"].get("format").is_none());
        assert_eq!(
            p.streams[0].key_properties,
            ["id"],
            "key properties are kept"
        );
    }
}

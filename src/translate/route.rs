//! Where one synced stream's records go between the reader and the Singer writer: the stages
//! after translation. The reader finds a record's stream and hands its `data` to the stream's
//! [`Route`]; the route writes zero or more Singer RECORD lines.
//!
//! - [`Route::Raw`], the default: `data` is spliced into the RECORD byte for byte (never parsed
//!   into a tree), re-encoded only to leave deselected properties out.
//! - [`Route::Mapped`], for a stream that stream maps or flattening change: `data` is parsed, the
//!   deselected properties removed, then each output stream's mapper (the stream itself, possibly
//!   renamed, and copies made with `__source__`) transforms it, in the Singer SDK's order.
//!
//! Streams without maps keep the raw path and its speed whatever other streams do. With
//! `batch_config`, either route appends the record to its output stream's batch file
//! ([`super::batch`]) instead of writing a RECORD line.
use super::airbyte::Fields;
use super::batch::Batcher;
use super::parquet::Misfit;
use super::singer::{self, RecordEnd};
use crate::maps::mapper::{MapError, Maps, StreamMapper};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::io::{self, Write};

pub enum Route {
    Raw {
        name: String,
        prefix: Vec<u8>,
        excluded: HashSet<String>,
        /// The stream's SCHEMA (the columns of its parquet BATCH files).
        schema: Value,
    },
    Mapped {
        excluded: HashSet<String>,
        outputs: Vec<(Vec<u8>, StreamMapper)>,
    },
}

/// A record the stream's maps could not transform (the run fails: the record is not delivered).
#[derive(Debug)]
pub struct Undelivered(pub String);

impl Route {
    /// The route of a stream named `singer_name` with this (selected) schema, and its SCHEMA lines.
    pub fn new(
        maps: &Maps,
        singer_name: &str,
        schema: &Value,
        key_properties: &[String],
        bookmark_properties: &[String],
        excluded: HashSet<String>,
    ) -> Result<(Route, Vec<u8>), MapError> {
        let raw = |excluded| {
            (
                Route::Raw {
                    name: singer_name.to_string(),
                    prefix: singer::record_prefix(singer_name),
                    excluded,
                    schema: schema.clone(),
                },
                singer::schema_line(singer_name, schema, key_properties, bookmark_properties),
            )
        };
        if maps.is_identity() {
            return Ok(raw(excluded));
        }
        let outputs = maps.for_stream(singer_name, schema, key_properties)?;
        if let [only] = outputs.as_slice() {
            if only.is_passthrough() {
                return Ok(raw(excluded));
            }
        }
        let mut schema_lines = vec![];
        for o in &outputs {
            // A replication key the map keeps (same stream name, property still there) stays.
            let bookmarks: Vec<String> = bookmark_properties
                .iter()
                .filter(|b| {
                    o.name == singer_name && o.schema["properties"].get(b.as_str()).is_some()
                })
                .cloned()
                .collect();
            schema_lines.extend(singer::schema_line(
                &o.name,
                &o.schema,
                &o.key_properties,
                &bookmarks,
            ));
        }
        let outputs = outputs
            .into_iter()
            .map(|m| (singer::record_prefix(&m.name), m))
            .collect();
        Ok((Route::Mapped { excluded, outputs }, schema_lines))
    }

    /// The output streams' names and schemas (as their SCHEMA lines say).
    pub fn outputs(&self) -> Vec<(&str, &Value)> {
        match self {
            Route::Raw { name, schema, .. } => vec![(name.as_str(), schema)],
            Route::Mapped { outputs, .. } => outputs
                .iter()
                .map(|(_, m)| (m.name.as_str(), &m.schema))
                .collect(),
        }
    }

    /// Writes the RECORD lines of one record, or with `batch` appends it to its stream's batch
    /// file; returns the bytes of data written (for the STATE throttle). `scratch` is a reused
    /// buffer.
    pub fn deliver(
        &self,
        data: &[u8],
        emitted_at: Option<i64>,
        scratch: &mut Vec<u8>,
        end: &mut RecordEnd,
        batch: Option<&mut Batcher>,
        out: &mut impl Write,
    ) -> io::Result<Result<usize, Undelivered>> {
        match self {
            Route::Raw {
                name,
                prefix,
                excluded,
                ..
            } => {
                let bytes = if excluded.is_empty() {
                    data
                } else {
                    without(excluded, data, scratch);
                    scratch.as_slice()
                };
                match batch {
                    Some(b) => {
                        if let Err(Misfit(why)) = b.record(name, bytes)? {
                            return Ok(Err(Undelivered(why)));
                        }
                    }
                    None => singer::write_record(out, prefix, bytes, emitted_at, end)?,
                }
                Ok(Ok(prefix.len() + bytes.len()))
            }
            Route::Mapped { excluded, outputs } => {
                let mut batch = batch;
                let mut record: Map<String, Value> = match serde_json::from_slice(data) {
                    Ok(r) => r,
                    Err(e) => return Ok(Err(Undelivered(format!("unreadable data: {e}")))),
                };
                record.retain(|k, _| !excluded.contains(k));
                let mut written = 0;
                for (prefix, mapper) in outputs {
                    let mapped = match mapper.transform(&record) {
                        Ok(Some(m)) => m,
                        Ok(None) => continue,
                        Err(e) => {
                            return Ok(Err(Undelivered(format!(
                                "the stream map of `{}` failed: {e}",
                                mapper.name
                            ))))
                        }
                    };
                    scratch.clear();
                    serde_json::to_writer(&mut *scratch, &mapped)
                        .expect("writing a JSON value to a Vec cannot fail");
                    match batch.as_deref_mut() {
                        Some(b) => {
                            if let Err(Misfit(why)) = b.record(&mapper.name, scratch)? {
                                return Ok(Err(Undelivered(format!("`{}`: {why}", mapper.name))));
                            }
                        }
                        None => singer::write_record(out, prefix, scratch, emitted_at, end)?,
                    }
                    written += prefix.len() + scratch.len();
                }
                Ok(Ok(written))
            }
        }
    }
}

/// `data` re-encoded without the `excluded` top-level properties (values untouched), into `buf`.
/// Data that is not an object is passed on as it is.
pub(crate) fn without(excluded: &HashSet<String>, data: &[u8], buf: &mut Vec<u8>) {
    buf.clear();
    let Ok(fields) = serde_json::from_slice::<Fields>(data) else {
        buf.extend_from_slice(data);
        return;
    };
    buf.push(b'{');
    for (key, value) in fields
        .0
        .iter()
        .filter(|(k, _)| !excluded.contains(k.as_str()))
    {
        if buf.len() > 1 {
            buf.push(b',');
        }
        serde_json::to_writer(&mut *buf, key).expect("writing to a Vec cannot fail");
        buf.push(b':');
        buf.extend_from_slice(value.get().as_bytes());
    }
    buf.push(b'}');
}

//! What happens to the records on their way out, as settings: the Singer SDK's stream maps and
//! flattening (checked into [`Maps`] at start) and `batch_config` (BATCH output).
use super::{wrong, SettingsError};
use crate::maps::flatten::Flattening;
use crate::maps::mapper::Maps;
use crate::translate::batch::{BatchConfig, Encoding};
use crate::translate::parquet::Codec;
use serde_json::{Map, Value};

/// Stream maps and flattening (the Singer SDK's settings), every expression parsed: a map the tap
/// cannot apply exactly is an error here, before anything runs, never ignored. The empty values
/// Meltano passes by default (`{}`, `false`, null) mean no maps.
pub(super) fn stream_maps(raw: &Map<String, Value>) -> Result<StreamMaps, SettingsError> {
    // A dotted key would otherwise be an unknown setting, ignored: maps never are.
    if let Some(k) = raw
        .keys()
        .find(|k| k.starts_with("stream_maps.") || k.starts_with("stream_map_config."))
    {
        return Err(SettingsError::Invalid {
            key: k.clone(),
            message: "write stream maps nested (`{\"stream_maps\": {\"users\": {…}}}`)".into(),
        });
    }
    let object = |k: &str| match raw.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(v) => Err(wrong(k, "an object", v)),
    };
    let number = |k: &str| -> Result<Option<usize>, SettingsError> {
        match raw.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64().map(|n| n as usize)),
            Some(Value::String(t)) if t.trim().parse::<usize>().is_ok() => {
                Ok(t.trim().parse().ok())
            }
            Some(v) => Err(wrong(k, "a whole number", v)),
        }
    };
    let enabled = match raw.get("flattening_enabled") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(t)) if t.eq_ignore_ascii_case("true") => true,
        Some(Value::String(t)) if t.eq_ignore_ascii_case("false") || t.is_empty() => false,
        Some(v) => return Err(wrong("flattening_enabled", "true or false", v)),
    };
    let separator = match raw.get("flattening_separator") {
        None | Some(Value::Null) => "__".to_string(),
        Some(Value::String(t)) => t.clone(),
        Some(v) => return Err(wrong("flattening_separator", "a string", v)),
    };
    let flattening = Flattening {
        enabled,
        max_depth: number("flattening_max_depth")?,
        separator,
        max_key_length: number("flattening_max_key_length")?,
    };
    let maps = Maps::new(
        object("stream_maps")?,
        object("stream_map_config")?,
        flattening,
    )
    .map_err(|e| SettingsError::Invalid {
        key: "stream_maps".into(),
        message: e.to_string(),
    })?;
    Ok(StreamMaps(std::sync::Arc::new(maps)))
}

/// `batch_config` as the Singer SDK defines it: `encoding.format` (`jsonl` or `parquet`),
/// `encoding.compression` (`gzip` or `none`; for parquet also `snappy`, the default there as in
/// the SDK, whose pyarrow writes snappy unless told gzip), `storage.root` (a `file://` folder),
/// `storage.prefix`, `batch_size` (records per file).
pub(super) fn batch_config(raw: &Map<String, Value>) -> Result<Option<BatchConfig>, SettingsError> {
    let config = match raw.get("batch_config") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) if o.is_empty() => return Ok(None),
        Some(Value::Object(o)) => o,
        Some(v) => return Err(wrong("batch_config", "an object", v)),
    };
    let invalid = |key: &str, message: String| SettingsError::Invalid {
        key: format!("batch_config.{key}"),
        message,
    };
    let text = |path: &[&str]| -> Option<&Value> {
        let mut v = config.get(path[0])?;
        for k in &path[1..] {
            v = v.get(k)?;
        }
        Some(v)
    };
    let compression = text(&["encoding", "compression"]).and_then(Value::as_str);
    let encoding = match text(&["encoding", "format"]).and_then(Value::as_str) {
        Some("jsonl") => match compression {
            None | Some("gzip") => Encoding::Jsonl { gzip: true },
            Some("none") => Encoding::Jsonl { gzip: false },
            Some(other) => {
                return Err(invalid(
                    "encoding.compression",
                    format!("must be \"gzip\" or \"none\" for jsonl, found {other:?}"),
                ))
            }
        },
        Some("parquet") => Encoding::Parquet(match compression {
            None | Some("snappy") => Codec::Snappy,
            Some("gzip") => Codec::Gzip,
            Some("none") => Codec::None,
            Some(other) => {
                return Err(invalid(
                    "encoding.compression",
                    format!(
                        "must be \"snappy\", \"gzip\" or \"none\" for parquet, found {other:?}"
                    ),
                ))
            }
        }),
        other => {
            return Err(invalid(
                "encoding.format",
                format!("must be \"jsonl\" or \"parquet\", found {other:?}"),
            ))
        }
    };
    let root = match text(&["storage", "root"]).and_then(Value::as_str) {
        Some(r) if r.starts_with("file://") => {
            let path = std::path::PathBuf::from(&r["file://".len()..]);
            if path.is_absolute() {
                path
            } else {
                std::env::current_dir().unwrap_or_default().join(path)
            }
        }
        other => {
            return Err(invalid(
                "storage.root",
                format!(
                    "must be a file:// folder (other storage is not implemented), found {other:?}"
                ),
            ))
        }
    };
    let prefix = match text(&["storage", "prefix"]) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(p)) if !p.contains('/') => p.clone(),
        Some(v) => {
            return Err(invalid(
                "storage.prefix",
                format!("must be a file name prefix, found {v}"),
            ))
        }
    };
    let batch_size = match config.get("batch_size") {
        None | Some(Value::Null) => crate::translate::batch::DEFAULT_BATCH_SIZE,
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n > 0) => n.as_u64().unwrap_or(1),
        Some(v) => {
            return Err(invalid(
                "batch_size",
                format!("must be a whole number above 0, found {v}"),
            ))
        }
    };
    Ok(Some(BatchConfig {
        encoding,
        root,
        prefix,
        batch_size,
    }))
}

/// The checked stream maps, shared by the runs of one command.
#[derive(Clone, Default)]
pub struct StreamMaps(pub std::sync::Arc<Maps>);

impl std::fmt::Debug for StreamMaps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_identity() {
            "StreamMaps(none)"
        } else {
            "StreamMaps(..)"
        })
    }
}

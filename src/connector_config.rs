//! The connector config the connector itself issued, kept between runs.
//!
//! Connectors emit CONTROL `CONNECTOR_CONFIG` messages with their whole new config when it changes
//! under them: a rotated OAuth refresh token (often single-use), a migrated config layout. The
//! Airbyte platform stores it and uses it next time; the tap does the same with the setting
//! `connector_config_path`: after any run that issued one, the last issued config is written there
//! (mode 0600, replaced atomically), and at start a config found there is laid over `airbyte_config`
//! key by key. Values are never logged.
use serde_json::{Map, Value};
use std::io::Write;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ConnectorConfigError {
    #[error("cannot read the connector config kept at {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the connector config kept at {path} is not a JSON object")]
    NotObject { path: String },
    #[error("cannot save the connector's new config to {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// Lays the kept config (if the file exists) over `config`. Returns whether one was found.
pub fn apply_kept(
    path: &str,
    config: &mut Map<String, Value>,
) -> Result<bool, ConnectorConfigError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(ConnectorConfigError::Read {
                path: path.into(),
                source: e,
            })
        }
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(kept)) => {
            config.extend(kept);
            Ok(true)
        }
        _ => Err(ConnectorConfigError::NotObject { path: path.into() }),
    }
}

/// Saves the connector's latest config: a temporary file beside `path` (0600), then a rename.
pub fn save(path: &str, config: &str) -> Result<(), ConnectorConfigError> {
    let err = |e| ConnectorConfigError::Write {
        path: path.into(),
        source: e,
    };
    let target = Path::new(path);
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("config"),
        std::process::id()
    ));
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(err)?
    };
    file.write_all(config.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(err)?;
    std::fs::rename(&tmp, target).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn save_then_apply() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kept.json").display().to_string();
        let mut config = json!({"a": 1, "token": "old"}).as_object().unwrap().clone();
        assert!(!apply_kept(&path, &mut config).unwrap());
        save(&path, r#"{"token": "new", "b": 2}"#).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(apply_kept(&path, &mut config).unwrap());
        assert_eq!(
            Value::Object(config),
            json!({"a": 1, "token": "new", "b": 2})
        );
        std::fs::write(&path, "[]").unwrap();
        assert!(apply_kept(&path, &mut Map::new()).is_err());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file is left"
        );
    }
}

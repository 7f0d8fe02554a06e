//! The tap's settings: read from `--config` files (later files win key by key) and, with
//! `--config ENV`, from `TAP_AIRBYTE_*` variables; checked into [`Settings`] with no side effects.
//!
//! Keys are tap-airbyte-wrapper's, so Meltano projects switch without edits:
//! `airbyte_spec.image` (required), `airbyte_spec.tag` (default `latest`, a `sha256:` digest works),
//! `airbyte_config` (the connector's config), `docker_mounts` (`[{source, target, type}]`, type
//! `bind` | `volume` | `tmpfs`). The tap's own: `max_line_bytes`, `connector_config_path`, `idle_timeout_seconds`,
//! `registry_auth`. Unknown keys are tolerated (the
//! wrapper's `skip_native_check`, `force_native`, stream maps … are accepted and ignored).
use serde_json::{Map, Value};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid JSON: {source}")]
    NotJson {
        path: String,
        source: serde_json::Error,
    },
    #[error("config file {path} must hold a JSON object")]
    NotObject { path: String },
    #[error("environment variable {name} must hold JSON ({what}): {source}")]
    EnvNotJson {
        name: String,
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("setting `{0}` is required (the Airbyte source image, e.g. airbyte/source-faker)")]
    Missing(&'static str),
    #[error("setting `{key}` must be {expected}, found {found}")]
    WrongType {
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("setting `{key}`: {message}")]
    Invalid { key: String, message: String },
}

/// A mount the user asks for (`docker_mounts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    pub source: Option<String>,
    pub target: String,
    pub kind: MountKind,
    pub read_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    Bind,
    Volume,
    Tmpfs,
}

/// Checked settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub image: String,
    pub tag: String,
    pub airbyte_config: Map<String, Value>,
    pub docker_mounts: Vec<MountSpec>,
    pub max_line_bytes: usize,
    /// Where the connector config issued by the connector itself (CONTROL) is kept between runs.
    pub connector_config_path: Option<String>,
    /// End the run when the connector writes nothing for this long.
    pub idle_timeout: Option<std::time::Duration>,
    /// Credentials for pulling the image; without them, `~/.docker/config.json` is asked.
    pub registry_auth: Option<RegistryAuth>,
}

/// Registry credentials from the settings (`registry_auth`).
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    pub username: Option<String>,
    pub password: Option<String>,
    pub identity_token: Option<String>,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

pub const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024 * 1024;
const ENV_PREFIX: &str = "TAP_AIRBYTE_";

impl Settings {
    /// The image reference to run: `image:tag`, `image@sha256:…` for a digest, or `image` itself when
    /// it already names a tag or digest and no tag was set.
    pub fn image_reference(&self) -> String {
        if self.tag.starts_with("sha256:") {
            format!("{}@{}", self.image, self.tag)
        } else {
            format!("{}:{}", self.image, self.tag)
        }
    }
}

/// Reads and merges the raw config: files in order (later wins key by key), then the environment.
pub fn load_raw(
    sources: &[String],
    env: &[(String, String)],
) -> Result<Map<String, Value>, SettingsError> {
    let mut merged = Map::new();
    let mut use_env = false;
    for source in sources {
        if source == "ENV" {
            use_env = true;
            continue;
        }
        let text = std::fs::read(Path::new(source)).map_err(|e| SettingsError::Read {
            path: source.clone(),
            source: e,
        })?;
        let value: Value = if text.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Map::new())
        } else {
            serde_json::from_slice(&text).map_err(|e| SettingsError::NotJson {
                path: source.clone(),
                source: e,
            })?
        };
        let Value::Object(obj) = value else {
            return Err(SettingsError::NotObject {
                path: source.clone(),
            });
        };
        merge(&mut merged, obj);
    }
    if use_env {
        merge(&mut merged, from_env(env)?);
    }
    Ok(merged)
}

/// Later sources win key by key; `airbyte_spec` is two settings (`image`, `tag`) and merges per field.
fn merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(Value::Object(old)), Value::Object(new)) if k == "airbyte_spec" => {
                old.extend(new)
            }
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// Settings from `TAP_AIRBYTE_*` variables: `TAP_AIRBYTE_AIRBYTE_SPEC` (JSON object) or
/// `TAP_AIRBYTE_AIRBYTE_SPEC_IMAGE` / `_TAG`; `TAP_AIRBYTE_AIRBYTE_CONFIG` and
/// `TAP_AIRBYTE_DOCKER_MOUNTS` (JSON); `TAP_AIRBYTE_MAX_LINE_BYTES`.
fn from_env(env: &[(String, String)]) -> Result<Map<String, Value>, SettingsError> {
    let get = |k: &str| {
        env.iter()
            .rev()
            .find(|(n, _)| n == &format!("{ENV_PREFIX}{k}"))
            .map(|(_, v)| v.as_str())
    };
    let json = |k: &str, what: &'static str| -> Result<Option<Value>, SettingsError> {
        get(k)
            .map(|v| {
                serde_json::from_str(v).map_err(|e| SettingsError::EnvNotJson {
                    name: format!("{ENV_PREFIX}{k}"),
                    what,
                    source: e,
                })
            })
            .transpose()
    };
    let mut out = Map::new();
    let mut spec = match json("AIRBYTE_SPEC", "an object")? {
        Some(Value::Object(o)) => o,
        Some(_) => {
            return Err(SettingsError::WrongType {
                key: format!("{ENV_PREFIX}AIRBYTE_SPEC"),
                expected: "an object",
                found: "another JSON value",
            })
        }
        None => Map::new(),
    };
    if let Some(image) = get("AIRBYTE_SPEC_IMAGE") {
        spec.insert("image".into(), Value::String(image.into()));
    }
    if let Some(tag) = get("AIRBYTE_SPEC_TAG") {
        spec.insert("tag".into(), Value::String(tag.into()));
    }
    if !spec.is_empty() {
        out.insert("airbyte_spec".into(), Value::Object(spec));
    }
    if let Some(v) = json("AIRBYTE_CONFIG", "an object")? {
        out.insert("airbyte_config".into(), v);
    }
    if let Some(v) = json("DOCKER_MOUNTS", "a list")? {
        out.insert("docker_mounts".into(), v);
    }
    if let Some(v) = get("CONNECTOR_CONFIG_PATH") {
        out.insert("connector_config_path".into(), Value::String(v.into()));
    }
    if let Some(v) = get("IDLE_TIMEOUT_SECONDS") {
        let n: f64 = v.parse().map_err(|_| SettingsError::Invalid {
            key: format!("{ENV_PREFIX}IDLE_TIMEOUT_SECONDS"),
            message: format!("{v:?} is not a number"),
        })?;
        out.insert("idle_timeout_seconds".into(), serde_json::json!(n));
    }
    if let Some(v) = get("MAX_LINE_BYTES") {
        let n: u64 = v.parse().map_err(|_| SettingsError::Invalid {
            key: format!("{ENV_PREFIX}MAX_LINE_BYTES"),
            message: format!("{v:?} is not a number"),
        })?;
        out.insert("max_line_bytes".into(), Value::from(n));
    }
    Ok(out)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn wrong(key: &str, expected: &'static str, v: &Value) -> SettingsError {
    SettingsError::WrongType {
        key: key.into(),
        expected,
        found: type_name(v),
    }
}

/// Checks the merged raw config. Meltano may also write nested settings flat (`airbyte_spec.image`).
pub fn check(raw: &Map<String, Value>) -> Result<Settings, SettingsError> {
    let mut spec = match raw.get("airbyte_spec") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(v) => return Err(wrong("airbyte_spec", "an object", v)),
    };
    for k in ["image", "tag"] {
        if let Some(v) = raw.get(&format!("airbyte_spec.{k}")) {
            spec.insert(k.into(), v.clone());
        }
    }
    let image = match spec.get("image") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(SettingsError::Missing("airbyte_spec.image"))
        }
        Some(v) => return Err(wrong("airbyte_spec.image", "a string", v)),
    };
    let tag = match spec.get("tag") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::String(_)) => None,
        Some(v) => return Err(wrong("airbyte_spec.tag", "a string", v)),
    };
    let (image, tag) = split_reference(&image, tag)?;
    let airbyte_config = match raw.get("airbyte_config") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(v) => return Err(wrong("airbyte_config", "an object", v)),
    };
    let docker_mounts = match raw.get("docker_mounts") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, m)| mount(i, m))
            .collect::<Result<_, _>>()?,
        Some(v) => return Err(wrong("docker_mounts", "a list", v)),
    };
    let connector_config_path = match raw.get("connector_config_path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if !p.trim().is_empty() => Some(p.trim().to_string()),
        Some(Value::String(_)) => None,
        Some(v) => return Err(wrong("connector_config_path", "a string", v)),
    };
    let registry_auth = match raw.get("registry_auth") {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => {
            let field = |k: &str| -> Result<Option<String>, SettingsError> {
                match o.get(k) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(v) => Err(wrong(&format!("registry_auth.{k}"), "a string", v)),
                }
            };
            let auth = RegistryAuth {
                username: field("username")?,
                password: field("password")?,
                identity_token: field("identitytoken")?,
            };
            if auth.identity_token.is_none() && (auth.username.is_none() || auth.password.is_none())
            {
                return Err(SettingsError::Invalid {
                    key: "registry_auth".into(),
                    message: "needs `username` and `password`, or `identitytoken`".into(),
                });
            }
            Some(auth)
        }
        Some(v) => return Err(wrong("registry_auth", "an object", v)),
    };
    let idle_timeout = match raw.get("idle_timeout_seconds") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(secs) if secs > 0.0 && secs.is_finite() => {
                Some(std::time::Duration::from_secs_f64(secs))
            }
            _ => {
                return Err(SettingsError::Invalid {
                    key: "idle_timeout_seconds".into(),
                    message: "must be a positive number of seconds".into(),
                })
            }
        },
        Some(v) => return Err(wrong("idle_timeout_seconds", "a number", v)),
    };
    let max_line_bytes = match raw.get("max_line_bytes") {
        None | Some(Value::Null) => DEFAULT_MAX_LINE_BYTES,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(n) if n >= 1024 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => {
                return Err(SettingsError::Invalid {
                    key: "max_line_bytes".into(),
                    message: "must be a whole number of at least 1024".into(),
                })
            }
        },
        Some(v) => return Err(wrong("max_line_bytes", "a number", v)),
    };
    Ok(Settings {
        image,
        tag,
        airbyte_config,
        docker_mounts,
        max_line_bytes,
        connector_config_path,
        idle_timeout,
        registry_auth,
    })
}

/// Splits `repo[:tag][@digest]` when the image names its own tag and `tag` is not set.
fn split_reference(image: &str, tag: Option<String>) -> Result<(String, String), SettingsError> {
    let last_part_start = image.rfind('/').map_or(0, |i| i + 1);
    let (repo, own) = if let Some(at) = image.find('@') {
        (&image[..at], Some(image[at + 1..].to_string()))
    } else if let Some(colon) = image[last_part_start..].find(':') {
        let colon = last_part_start + colon;
        (&image[..colon], Some(image[colon + 1..].to_string()))
    } else {
        (image, None)
    };
    match (own, tag) {
        (Some(own), Some(tag)) if own != tag => Err(SettingsError::Invalid {
            key: "airbyte_spec".into(),
            message: format!(
                "the image `{image}` names its own tag or digest and `tag` says `{tag}`; keep one"
            ),
        }),
        (Some(own), _) => Ok((repo.to_string(), own)),
        (None, tag) => Ok((repo.to_string(), tag.unwrap_or_else(|| "latest".into()))),
    }
}

fn mount(i: usize, m: &Value) -> Result<MountSpec, SettingsError> {
    let key = |k: &str| format!("docker_mounts[{i}].{k}");
    let obj = m
        .as_object()
        .ok_or_else(|| wrong(&format!("docker_mounts[{i}]"), "an object", m))?;
    let string = |k: &str| -> Result<Option<String>, SettingsError> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(wrong(&key(k), "a string", v)),
        }
    };
    let kind = match string("type")?.as_deref().unwrap_or("bind") {
        "bind" => MountKind::Bind,
        "volume" => MountKind::Volume,
        "tmpfs" => MountKind::Tmpfs,
        other => {
            return Err(SettingsError::Invalid {
                key: key("type"),
                message: format!("`{other}` is not one of bind, volume, tmpfs"),
            })
        }
    };
    let target = string("target")?
        .filter(|t| t.starts_with('/'))
        .ok_or_else(|| SettingsError::Invalid {
            key: key("target"),
            message: "an absolute path inside the container is required".into(),
        })?;
    let source = string("source")?;
    if kind != MountKind::Tmpfs && source.as_deref().is_none_or(str::is_empty) {
        return Err(SettingsError::Invalid {
            key: key("source"),
            message: "required for bind and volume mounts".into(),
        });
    }
    let read_only = match obj.get("read_only") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => return Err(wrong(&key("read_only"), "a boolean", v)),
    };
    Ok(MountSpec {
        source,
        target,
        kind,
        read_only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(v: Value) -> Result<Settings, SettingsError> {
        check(v.as_object().unwrap())
    }

    #[test]
    fn wrapper_keys() {
        let s = settings(json!({"airbyte_spec": {"image": "airbyte/source-faker"}, "airbyte_config": {"count": 5}, "stream_maps": {}})).unwrap();
        assert_eq!(s.image_reference(), "airbyte/source-faker:latest");
        assert_eq!(s.airbyte_config["count"], 5);
        let s = settings(json!({"airbyte_spec": {"image": "a/b", "tag": "sha256:abc"}})).unwrap();
        assert_eq!(s.image_reference(), "a/b@sha256:abc");
        let s = settings(json!({"airbyte_spec.image": "localhost:5000/a/b:1.2"})).unwrap();
        assert_eq!(s.image_reference(), "localhost:5000/a/b:1.2");
        let s = settings(json!({"airbyte_spec": {"image": "localhost:5000/a/b"}})).unwrap();
        assert_eq!(s.image_reference(), "localhost:5000/a/b:latest");
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (json!({}), "airbyte_spec.image"),
            (json!({"airbyte_spec": "x"}), "airbyte_spec"),
            (json!({"airbyte_spec": {"image": 5}}), "airbyte_spec.image"),
            (
                json!({"airbyte_spec": {"image": "a", "tag": 1}}),
                "airbyte_spec.tag",
            ),
            (
                json!({"airbyte_spec": {"image": "a:1", "tag": "2"}}),
                "airbyte_spec",
            ),
            (
                json!({"airbyte_spec": {"image": "a"}, "airbyte_config": []}),
                "airbyte_config",
            ),
            (
                json!({"airbyte_spec": {"image": "a"}, "docker_mounts": {}}),
                "docker_mounts",
            ),
            (
                json!({"airbyte_spec": {"image": "a"}, "docker_mounts": [{"source": "/x"}]}),
                "docker_mounts[0].target",
            ),
            (
                json!({"airbyte_spec": {"image": "a"}, "docker_mounts": [{"source": "/x", "target": "/y", "type": "nfs"}]}),
                "docker_mounts[0].type",
            ),
            (
                json!({"airbyte_spec": {"image": "a"}, "max_line_bytes": 5}),
                "max_line_bytes",
            ),
        ];
        for (v, key) in cases {
            let e = settings(v.clone()).unwrap_err().to_string();
            assert!(e.contains(key), "{v}: {e}");
        }
    }

    #[test]
    fn files_merge_key_by_key_then_env() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        let b = dir.path().join("b.json");
        std::fs::write(
            &a,
            r#"{"airbyte_spec": {"image": "one"}, "airbyte_config": {"x": 1}}"#,
        )
        .unwrap();
        std::fs::write(&b, r#"{"airbyte_config": {"y": 2}}"#).unwrap();
        let files = [
            a.display().to_string(),
            b.display().to_string(),
            "ENV".to_string(),
        ];
        let env = [("TAP_AIRBYTE_AIRBYTE_SPEC_TAG".to_string(), "7".to_string())];
        let s = check(&load_raw(&files, &env).unwrap()).unwrap();
        assert_eq!(s.image_reference(), "one:7");
        assert_eq!(
            s.airbyte_config,
            json!({"y": 2}).as_object().unwrap().clone()
        );
        let env = [(
            "TAP_AIRBYTE_AIRBYTE_SPEC".to_string(),
            r#"{"image":"two","tag":"3"}"#.to_string(),
        )];
        let s = check(&load_raw(&["ENV".into()], &env).unwrap()).unwrap();
        assert_eq!(s.image_reference(), "two:3");
        let bad = [("TAP_AIRBYTE_AIRBYTE_CONFIG".to_string(), "{".to_string())];
        assert!(load_raw(&["ENV".into()], &bad)
            .unwrap_err()
            .to_string()
            .contains("TAP_AIRBYTE_AIRBYTE_CONFIG"));
        std::fs::write(&a, "[1]").unwrap();
        assert!(matches!(
            load_raw(&[a.display().to_string()], &[]),
            Err(SettingsError::NotObject { .. })
        ));
        assert!(matches!(
            load_raw(&["/nonexistent/x.json".into()], &[]),
            Err(SettingsError::Read { .. })
        ));
    }
}

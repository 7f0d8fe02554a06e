//! The tap's settings: read from `--config` files (later files win key by key) and, with
//! `--config ENV`, from `TAP_AIRBYTE_*` variables; checked into [`Settings`] with no side effects.
//!
//! Keys are tap-airbyte-wrapper's, so Meltano projects switch without edits:
//! `airbyte_spec.image` (required), `airbyte_spec.tag` (default `latest`, a `sha256:` digest works),
//! `airbyte_config` (the connector's config), `docker_mounts` (`[{source, target, type}]`, type
//! `bind` | `volume` | `tmpfs`). The tap's own: `max_line_bytes`, `connector_config_path`, `idle_timeout_seconds`,
//! `registry_auth`; where the connector runs: `force_native`, `skip_native_check`,
//! `native_source_python`, `airbyte_spec.pip_url` / `executable` / `manifest`. [`schema`] lists
//! them all (unknown keys are warned about). Stream maps and flattening, which would change the
//! records, are refused when they ask for anything: they are not implemented, and ignoring them
//! would load the records untransformed.
//!
//! Checked here, before any container exists: the image reference against Docker's grammar, mount
//! targets against the paths the tap keeps for itself ([`RESERVED_TARGETS`]), the idle timeout's
//! range.
mod records;
pub mod schema;

use crate::runtime::docker::FILES_DIR;
use crate::translate::batch::BatchConfig;
pub use records::StreamMaps;
use records::{batch_config, stream_maps};
use serde_json::{Map, Value};
use std::path::Path;
use std::time::Duration;

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
    /// Where the connector runs.
    pub launch: Launch,
    /// Stream maps and flattening (none: records are spliced as they are).
    pub maps: StreamMaps,
    /// BATCH output (`batch_config`): records into files, announced by BATCH messages.
    pub batch: Option<BatchConfig>,
}

/// Where the connector runs: the settings' choice, made before anything runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// Docker when an engine answers, else natively from PyPI (nothing chosen).
    Auto,
    /// The image through a Docker engine (`skip_native_check: true`).
    Docker,
    /// No Docker (`force_native: true`, `airbyte_spec.pip_url` or `airbyte_spec.executable`).
    Native(Native),
}

/// A connector run as a local process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Native {
    /// A command the user installed (`airbyte_spec.executable`), on PATH or a path.
    Executable(String),
    /// A declarative (manifest-only) connector: its YAML manifest, run by `airbyte-cdk`'s
    /// `source-declarative-manifest` from a managed virtualenv.
    Manifest {
        /// The manifest file.
        path: String,
        /// The CDK's pip requirement (`airbyte-cdk`, or `airbyte_spec.pip_url`).
        requirement: String,
        /// `native_source_python`.
        python: Option<String>,
    },
    /// A Python package installed into a managed virtualenv.
    Python {
        /// A pip requirement: from the image and tag (`airbyte-source-faker==7.2.1`), or
        /// `airbyte_spec.pip_url` as given.
        requirement: String,
        /// The command it installs (`source-faker`).
        command: String,
        /// `native_source_python`.
        python: Option<String>,
    },
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

/// Longest `idle_timeout_seconds`: a week.
pub const MAX_IDLE_TIMEOUT_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// Paths in the connector's container that belong to the tap, and why. No `docker_mounts` target may
/// be one of them, lie under one or hold one (`/` holds them all): a mount there would send the tap's
/// files into the mount's source, or hide them from the connector.
pub const RESERVED_TARGETS: &[(&str, &str)] = &[
    (
        FILES_DIR,
        "the tap writes the connector's config.json there, secrets included, and its helper \
         tap-airbyte-init; a mount would put them in the mount's source (a host folder or a volume)",
    ),
];

impl Settings {
    /// The image reference to run: `image:tag`, `image@sha256:…` for a digest, or `image` itself when
    /// it already names a tag or digest and no tag was set.
    pub fn image_reference(&self) -> String {
        if self.tag.contains(':') {
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

/// Settings from `TAP_AIRBYTE_*` variables, one per setting of [`schema::schema`]:
/// `TAP_AIRBYTE_<SETTING>` (JSON for objects and lists, else the text of the value), and for the
/// keys inside `airbyte_spec` and `registry_auth` also `TAP_AIRBYTE_AIRBYTE_SPEC_IMAGE` and so on,
/// which win over the JSON object's fields.
fn from_env(env: &[(String, String)]) -> Result<Map<String, Value>, SettingsError> {
    let get = |name: &str| {
        env.iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let mut out = Map::new();
    for (name, s) in schema::properties(&schema::schema(None)) {
        let var = schema::env_name(&name);
        let mut value = get(&var).map(|v| env_value(&var, &s, v)).transpose()?;
        let nested = schema::properties(&s);
        if schema::is_group(&name) && !nested.is_empty() {
            let mut obj = match value {
                Some(Value::Object(o)) => o,
                Some(_) => {
                    return Err(SettingsError::WrongType {
                        key: var,
                        expected: "an object",
                        found: "another JSON value",
                    })
                }
                None => Map::new(),
            };
            for (inner, is) in nested {
                let var = schema::env_name(&format!("{name}.{inner}"));
                if let Some(v) = get(&var) {
                    obj.insert(inner, env_value(&var, &is, v)?);
                }
            }
            value = (!obj.is_empty()).then_some(Value::Object(obj));
        }
        if let Some(v) = value {
            out.insert(name, v);
        }
    }
    Ok(out)
}

/// A variable's text as the setting's type: JSON for objects and lists, numbers checked.
fn env_value(var: &str, schema: &Value, text: &str) -> Result<Value, SettingsError> {
    let invalid = |message: String| SettingsError::Invalid {
        key: var.to_string(),
        message,
    };
    Ok(match schema.get("type").and_then(Value::as_str) {
        Some(ty @ ("object" | "array")) => {
            serde_json::from_str(text).map_err(|e| SettingsError::EnvNotJson {
                name: var.to_string(),
                what: if ty == "object" {
                    "an object"
                } else {
                    "a list"
                },
                source: e,
            })?
        }
        // `NaN` and `inf` parse, and would become JSON null (no timeout at all).
        Some("number") => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(|n| serde_json::json!(n))
            .ok_or_else(|| invalid(format!("{text:?} is not a finite number")))?,
        Some("integer") => text
            .trim()
            .parse::<u64>()
            .map(Value::from)
            .map_err(|_| invalid(format!("{text:?} is not a number")))?,
        _ => Value::String(text.to_string()),
    })
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
    for k in ["image", "tag", "pip_url", "executable", "manifest"] {
        if let Some(v) = raw.get(&format!("airbyte_spec.{k}")) {
            spec.insert(k.into(), v.clone());
        }
    }
    let spec_string = |k: &str| -> Result<Option<String>, SettingsError> {
        match spec.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(v) => Err(wrong(&format!("airbyte_spec.{k}"), "a string", v)),
        }
    };
    let executable = spec_string("executable")?;
    let pip_url = spec_string("pip_url")?;
    let manifest = spec_string("manifest")?;
    let image = match spec.get("image") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        // A local executable or a manifest needs no image.
        Some(Value::String(_)) | None | Some(Value::Null) if executable.is_some() => {
            "airbyte/local-executable".to_string()
        }
        Some(Value::String(_)) | None | Some(Value::Null) if manifest.is_some() => {
            "airbyte/source-declarative-manifest".to_string()
        }
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
    let tag_set = tag.is_some();
    let (image, tag) = split_reference(&image, tag)?;
    check_reference(&image, &tag, tag_set)?;
    let maps = stream_maps(raw)?;
    let launch = launch(raw, &image, &tag, executable, pip_url, manifest)?;
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
        Some(Value::Number(n)) => Some(idle_timeout(n.as_f64())?),
        // Meltano passes settings of kind `string` as text.
        Some(Value::String(s)) if s.trim().parse::<f64>().is_ok() => {
            Some(idle_timeout(s.trim().parse::<f64>().ok())?)
        }
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
        launch,
        maps,
        batch: batch_config(raw)?,
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

/// A finite number of seconds, more than zero and at most [`MAX_IDLE_TIMEOUT_SECONDS`].
fn idle_timeout(secs: Option<f64>) -> Result<Duration, SettingsError> {
    secs.filter(|s| *s > 0.0 && *s <= MAX_IDLE_TIMEOUT_SECONDS)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| SettingsError::Invalid {
            key: "idle_timeout_seconds".into(),
            message: format!(
                "must be a number of seconds more than 0 and at most {MAX_IDLE_TIMEOUT_SECONDS} \
                 (7 days)"
            ),
        })
}

/// Where the connector runs, from the wrapper's keys (`force_native`, `skip_native_check`,
/// `native_source_python`) and ours (`airbyte_spec.pip_url`, `airbyte_spec.executable`).
fn launch(
    raw: &Map<String, Value>,
    image: &str,
    tag: &str,
    executable: Option<String>,
    pip_url: Option<String>,
    manifest: Option<String>,
) -> Result<Launch, SettingsError> {
    let flag = |k: &str| -> Result<bool, SettingsError> {
        match raw.get(k) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") || s.is_empty() => Ok(false),
            Some(v) => Err(wrong(k, "true or false", v)),
        }
    };
    let force_native = flag("force_native")?;
    let skip_native = flag("skip_native_check")?;
    let python = match raw.get("native_source_python") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(v) => return Err(wrong("native_source_python", "a string", v)),
    };
    let native_asked =
        force_native || executable.is_some() || pip_url.is_some() || manifest.is_some();
    if skip_native && native_asked {
        return Err(SettingsError::Invalid {
            key: "skip_native_check".into(),
            message: "asks for Docker, while `force_native`, `airbyte_spec.pip_url` or \
                      `airbyte_spec.executable` asks to run without it; keep one"
                .into(),
        });
    }
    if executable.is_some() && (pip_url.is_some() || manifest.is_some()) {
        return Err(SettingsError::Invalid {
            key: "airbyte_spec.executable".into(),
            message:
                "and `airbyte_spec.pip_url` or `airbyte_spec.manifest` both name the connector; \
                      keep one"
                    .into(),
        });
    }
    // The connector's name: the image's last path part (`airbyte/source-faker` → `source-faker`).
    let name = image.rsplit('/').next().unwrap_or(image).to_string();
    Ok(if let Some(exe) = executable {
        Launch::Native(Native::Executable(exe))
    } else if let Some(path) = manifest {
        Launch::Native(Native::Manifest {
            path,
            requirement: pip_url.unwrap_or_else(|| "airbyte-cdk".into()),
            python,
        })
    } else if let Some(requirement) = pip_url {
        Launch::Native(Native::Python {
            requirement,
            command: name,
            python,
        })
    } else if force_native {
        Launch::Native(python_from_image(&name, tag, python))
    } else if skip_native {
        Launch::Docker
    } else {
        Launch::Auto
    })
}

/// The PyPI package of an Airbyte image, pinned to its tag (`airbyte/source-faker:7.2.1` →
/// `airbyte-source-faker==7.2.1`; `latest` takes the newest).
pub fn python_from_image(name: &str, tag: &str, python: Option<String>) -> Native {
    let package = format!("airbyte-{name}");
    let requirement = if tag == "latest" || tag.contains(':') {
        package
    } else {
        format!("{package}=={tag}")
    };
    Native::Python {
        requirement,
        command: name.to_string(),
        python,
    }
}

/// Which part of an image reference is wrong.
#[derive(Debug, PartialEq, Eq)]
enum RefPart {
    Name,
    Tag,
    Digest,
}

/// Checks `image` and `tag` (from [`split_reference`]) against Docker's reference grammar, so that
/// a bad name is a configuration error (exit 2), not a failed pull.
fn check_reference(image: &str, tag: &str, tag_set: bool) -> Result<(), SettingsError> {
    let reference = if tag.contains(':') {
        format!("{image}@{tag}")
    } else {
        format!("{image}:{tag}")
    };
    parse_reference(&reference).map_err(|(part, why)| SettingsError::Invalid {
        key: match part {
            RefPart::Tag | RefPart::Digest if tag_set => "airbyte_spec.tag",
            _ => "airbyte_spec.image",
        }
        .into(),
        message: format!("`{reference}` is not a valid image reference: {why}"),
    })
}

/// `name[:tag][@digest]` as the Docker reference grammar (distribution/reference) has it.
fn parse_reference(reference: &str) -> Result<(), (RefPart, String)> {
    let (name_tag, digest) = match reference.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (reference, None),
    };
    if let Some(d) = digest {
        check_digest(d).map_err(|why| (RefPart::Digest, why))?;
    }
    let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_tag[last_slash..].rfind(':') {
        Some(i) => (
            &name_tag[..last_slash + i],
            Some(&name_tag[last_slash + i + 1..]),
        ),
        None => (name_tag, None),
    };
    if let Some(t) = tag {
        if t.contains(char::is_whitespace) {
            return Err((RefPart::Tag, format!("the tag `{t}` contains white space")));
        }
        let mut chars = t.chars();
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        if t.len() > 128
            || !chars.next().is_some_and(word)
            || !chars.all(|c| word(c) || c == '.' || c == '-')
        {
            return Err((
                RefPart::Tag,
                format!(
                    "the tag `{t}` must be 1 to 128 letters, digits, `_`, `.` and `-`, \
                     not starting with `.` or `-`"
                ),
            ));
        }
    }
    check_name(name).map_err(|why| (RefPart::Name, why))
}

fn check_name(name: &str) -> Result<(), String> {
    if name.contains(char::is_whitespace) {
        return Err(format!("the name `{name}` contains white space"));
    }
    if name.len() > 255 {
        return Err("the repository name is longer than 255 characters".into());
    }
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    };
    if let Some(domain) = domain {
        check_domain(domain)?;
    }
    for part in path.split('/') {
        if part.is_empty() {
            return Err(format!(
                "`{name}` has an empty part (`//`, or `/` at an end)"
            ));
        }
        if part.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(format!(
                "the repository name `{path}` must be lower case (`{part}`)"
            ));
        }
        if !path_component(part) {
            return Err(format!(
                "`{part}` in `{name}` must be lower case letters and digits, separated by \
                 `.`, `_`, `__` or dashes"
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn path_component(part: &str) -> bool {
    let bytes = part.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        let sep = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let ok = match &part[sep..i] {
            "." | "_" | "__" => true,
            s => s.bytes().all(|b| b == b'-'),
        };
        if !ok {
            return false;
        }
    }
}

/// `host[:port]`: DNS labels joined by `.`, or `[IPv6]`.
fn check_domain(domain: &str) -> Result<(), String> {
    let bad = || format!("`{domain}` is not a valid registry host (`host[:port]`)");
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or_else(bad)?;
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad());
        }
        match after {
            "" => return Ok(()),
            p => ("", Some(p.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
    }
    let label = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !host.is_empty() && !host.split('.').all(label) {
        return Err(bad());
    }
    Ok(())
}

/// `algorithm:hex`, `sha256` with 64 hex digits.
fn check_digest(digest: &str) -> Result<(), String> {
    let bad = |why: &str| format!("the digest `{digest}` {why}");
    let (algorithm, hex) = digest
        .split_once(':')
        .ok_or_else(|| bad("must be algorithm:hex, e.g. sha256:…"))?;
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.starts_with(|c: char| c.is_ascii_alphabetic())
        && algorithm
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+._-".contains(c));
    if !algorithm_ok {
        return Err(bad("has no valid algorithm"));
    }
    if hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("must end in at least 32 hex digits"));
    }
    if algorithm == "sha256" && (hex.len() != 64 || hex.bytes().any(|b| b.is_ascii_uppercase())) {
        return Err(bad("must end in 64 lower case hex digits"));
    }
    Ok(())
}

/// A mount target as the engine reads it: `.` and `..` resolved, no trailing or double `/`.
fn clean_target(target: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Whether one path is the other or lies under it.
fn overlaps(a: &str, b: &str) -> bool {
    let under = |inner: &str, outer: &str| {
        outer == "/"
            || inner == outer
            || inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    under(a, b) || under(b, a)
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
    let clean = clean_target(&target);
    if let Some((reserved, why)) = RESERVED_TARGETS.iter().find(|(r, _)| overlaps(&clean, r)) {
        return Err(SettingsError::Invalid {
            key: key("target"),
            message: format!(
                "`{target}` overlaps {reserved}, which the tap keeps for itself: {why}. \
                 Choose another target"
            ),
        });
    }
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
        let digest = format!("sha256:{}", "ab12".repeat(16));
        let s = settings(json!({"airbyte_spec": {"image": "a/b", "tag": digest}})).unwrap();
        assert_eq!(s.image_reference(), format!("a/b@{digest}"));
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

    /// The key and message of the error these settings give.
    fn error(v: Value) -> (String, String) {
        match settings(v.clone()) {
            Err(SettingsError::Invalid { key, message }) => (key, message),
            other => panic!("{v}: {other:?}"),
        }
    }

    #[test]
    fn image_references_follow_docker_s_grammar() {
        let digest = format!("sha256:{}", "0f".repeat(32));
        for (image, tag) in [
            ("airbyte/source-faker", None),
            ("source-faker", Some("1.2.3")),
            ("localhost:5000/a/b", Some("dev_1-x.y")),
            ("registry.example.com:443/team/a.b__c---d", None),
            ("Registry.Example.COM/a", None),
            ("[::1]:5000/a", None),
            ("a/b:1", None),
            ("a/b", Some(digest.as_str())),
            (&format!("a/b:1@{digest}"), None),
        ] {
            let spec = json!({"airbyte_spec": {"image": image, "tag": tag}});
            let s = settings(spec.clone()).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert!(s
                .image_reference()
                .starts_with(image.split('@').next().unwrap()));
        }
        for (image, tag, key, says) in [
            (
                "Airbyte/Source-Faker",
                None,
                "airbyte_spec.image",
                "lower case",
            ),
            (
                "airbyte/source-FAKER",
                None,
                "airbyte_spec.image",
                "lower case",
            ),
            ("SOURCE", None, "airbyte_spec.image", "lower case"),
            (
                "airbyte/source faker",
                None,
                "airbyte_spec.image",
                "white space",
            ),
            (
                "airbyte//source-faker",
                None,
                "airbyte_spec.image",
                "empty part",
            ),
            (
                "airbyte/source-faker/",
                None,
                "airbyte_spec.image",
                "empty part",
            ),
            ("/source-faker", None, "airbyte_spec.image", "empty part"),
            (":latest", None, "airbyte_spec.image", "empty part"),
            (
                "airbyte/-faker",
                None,
                "airbyte_spec.image",
                "lower case letters",
            ),
            (
                "airbyte/faker.",
                None,
                "airbyte_spec.image",
                "lower case letters",
            ),
            (
                "bad_host:5000/a",
                None,
                "airbyte_spec.image",
                "registry host",
            ),
            ("host:port/a", None, "airbyte_spec.image", "registry host"),
            ("a/b", Some("v 1"), "airbyte_spec.tag", "white space"),
            ("a/b", Some("-x"), "airbyte_spec.tag", "tag"),
            ("a/b", Some("sha256:abc"), "airbyte_spec.tag", "digest"),
            ("a/b:-x", None, "airbyte_spec.image", "tag"),
            ("a/b@sha256:xyz", None, "airbyte_spec.image", "digest"),
        ] {
            let spec = json!({"airbyte_spec": {"image": image, "tag": tag}});
            let (k, message) = error(spec.clone());
            assert_eq!(k, key, "{spec}: {message}");
            assert!(message.contains(says), "{spec}: {message}");
        }
        let long = format!("a/{}", "b".repeat(300));
        assert!(settings(json!({"airbyte_spec": {"image": long}})).is_err());
    }

    #[test]
    fn mount_targets_that_touch_the_tap_s_files_are_refused() {
        let with_target = |target: &str| {
            json!({"airbyte_spec": {"image": "a"},
                   "docker_mounts": [{"source": "/host/dir", "target": target}]})
        };
        for (target, says) in [
            ("/config", "config.json"),
            ("/config/", "config.json"),
            ("/config/x", "config.json"),
            ("/", "config.json"),
            ("//config", "config.json"),
            ("/data/../config", "config.json"),
            ("/./config/.", "config.json"),
        ] {
            let (key, message) = error(with_target(target));
            assert_eq!(key, "docker_mounts[0].target", "{target}");
            assert!(
                message.contains(says) && message.contains(target),
                "{target}: {message}"
            );
        }
        for target in [
            "/data",
            "/configs",
            "/config-x",
            "/data/config",
            "/.tap-airbyte",
        ] {
            let s = settings(with_target(target)).unwrap();
            assert_eq!(s.docker_mounts[0].target, target);
        }
        let reserved: Vec<&str> = RESERVED_TARGETS.iter().map(|(p, _)| *p).collect();
        assert_eq!(reserved, [FILES_DIR]);
    }

    #[test]
    fn batch_config_is_checked() {
        use crate::translate::batch::Encoding;
        use crate::translate::parquet::Codec;
        let with =
            |batch: Value| settings(json!({"airbyte_spec": {"image": "a"}, "batch_config": batch}));
        let b = with(
            json!({"encoding": {"format": "jsonl", "compression": "none"},
                            "storage": {"root": "file:///tmp/x", "prefix": "p-"}, "batch_size": 5}),
        )
        .unwrap()
        .batch
        .unwrap();
        assert_eq!(
            b,
            BatchConfig {
                encoding: Encoding::Jsonl { gzip: false },
                root: "/tmp/x".into(),
                prefix: "p-".into(),
                batch_size: 5
            }
        );
        for (compression, codec) in [
            (json!(null), Codec::Snappy),
            (json!("snappy"), Codec::Snappy),
            (json!("gzip"), Codec::Gzip),
            (json!("none"), Codec::None),
        ] {
            let b = with(
                json!({"encoding": {"format": "parquet", "compression": compression},
                                "storage": {"root": "file:///x"}}),
            )
            .unwrap()
            .batch
            .unwrap();
            assert_eq!(b.encoding, Encoding::Parquet(codec), "{compression}");
        }
        assert!(with(json!({})).unwrap().batch.is_none());
        for (bad, says) in [
            (
                json!({"encoding": {"format": "parquet", "compression": "zstd"}, "storage": {"root": "file:///x"}}),
                "encoding.compression",
            ),
            (
                json!({"encoding": {"format": "jsonl", "compression": "snappy"}, "storage": {"root": "file:///x"}}),
                "encoding.compression",
            ),
            (
                json!({"encoding": {"format": "csv"}, "storage": {"root": "file:///x"}}),
                "encoding.format",
            ),
            (
                json!({"encoding": {"format": "jsonl"}, "storage": {"root": "s3://b/x"}}),
                "storage.root",
            ),
            (
                json!({"encoding": {"format": "jsonl"}, "storage": {"root": "file:///x"}, "batch_size": 0}),
                "batch_size",
            ),
        ] {
            let e = with(bad.clone()).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn stream_maps_are_checked_before_anything_runs() {
        let with = |extra: Value| {
            let mut v = json!({"airbyte_spec": {"image": "a"}});
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            settings(v)
        };
        let s = with(
            json!({"stream_maps": {"users": {"email": "md5(email)", "ssn": null}},
                            "stream_map_config": {"salt": "x"},
                            "flattening_enabled": true, "flattening_max_depth": 2}),
        )
        .unwrap();
        assert!(!s.maps.0.is_identity());
        for (extra, says) in [
            (
                json!({"stream_maps": {"users": {"email": "lambda x: x"}}}),
                &["users", "email", "lambda"][..],
            ),
            (json!({"stream_maps": {"__bogus__": null}}), &["__bogus__"]),
            (
                json!({"flattening_enabled": true}),
                &["flattening_max_depth"],
            ),
            (
                json!({"stream_maps": "{\"users\": null}"}),
                &["stream_maps", "an object"],
            ),
            (
                json!({"stream_maps.users": {"id": "id"}}),
                &["stream_maps.users", "nested"],
            ),
            (
                json!({"flattening_max_depth": "deep"}),
                &["flattening_max_depth"],
            ),
        ] {
            let e = with(extra.clone()).unwrap_err().to_string();
            for s in says {
                assert!(e.contains(s), "{extra}: {e} lacks {s}");
            }
        }
        // What Meltano passes by default: no maps.
        for empty in [
            json!({"stream_maps": {}, "stream_map_config": {}, "flattening_enabled": false,
                   "flattening_max_depth": 3}),
            json!({"stream_maps": null, "stream_map_config": null, "flattening_enabled": null}),
        ] {
            assert!(with(empty).unwrap().maps.0.is_identity());
        }
    }

    #[test]
    fn idle_timeout_is_a_finite_positive_number_up_to_a_week() {
        let timeout = |secs: Value| {
            settings(json!({"airbyte_spec": {"image": "a"}, "idle_timeout_seconds": secs}))
                .map(|s| s.idle_timeout)
        };
        for bad in [
            json!(1e300),
            json!(1e19),
            json!(u64::MAX),
            json!(-1),
            json!(0),
            json!(1e-300),
            json!(MAX_IDLE_TIMEOUT_SECONDS + 1.0),
        ] {
            let e = timeout(bad.clone()).unwrap_err().to_string();
            assert!(e.contains("idle_timeout_seconds"), "{bad}: {e}");
        }
        assert_eq!(
            timeout(json!(0.5)).unwrap(),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            timeout(json!(604800)).unwrap(),
            Some(Duration::from_secs(604800))
        );
        for bad in ["NaN", "inf", "-inf", "x"] {
            let env = [(
                "TAP_AIRBYTE_IDLE_TIMEOUT_SECONDS".to_string(),
                bad.to_string(),
            )];
            let e = load_raw(&["ENV".into()], &env).unwrap_err().to_string();
            assert!(e.contains("IDLE_TIMEOUT_SECONDS"), "{bad}: {e}");
        }
        let env = [(
            "TAP_AIRBYTE_IDLE_TIMEOUT_SECONDS".to_string(),
            "1e300".to_string(),
        )];
        let mut raw = load_raw(&["ENV".into()], &env).unwrap();
        raw.insert("airbyte_spec".into(), json!({"image": "a"}));
        assert!(check(&raw).is_err());
    }

    #[test]
    fn every_setting_has_its_variable() {
        let env: Vec<(String, String)> = [
            ("AIRBYTE_SPEC_IMAGE", "airbyte/source-x"),
            ("AIRBYTE_SPEC_PIP_URL", "airbyte-source-x==1"),
            ("REGISTRY_AUTH", r#"{"username": "u"}"#),
            ("REGISTRY_AUTH_PASSWORD", "p4ss"),
            ("FORCE_NATIVE", "true"),
            ("NATIVE_SOURCE_PYTHON", "python3.12"),
            ("IDLE_TIMEOUT_SECONDS", "2.5"),
            ("MAX_LINE_BYTES", "4096"),
            ("STREAM_MAPS", "{}"),
        ]
        .iter()
        .map(|(k, v)| (format!("TAP_AIRBYTE_{k}"), v.to_string()))
        .collect();
        let raw = load_raw(&["ENV".into()], &env).unwrap();
        assert_eq!(
            Value::Object(raw.clone()),
            json!({"airbyte_spec": {"image": "airbyte/source-x", "pip_url": "airbyte-source-x==1"},
                   "registry_auth": {"username": "u", "password": "p4ss"},
                   "force_native": "true", "native_source_python": "python3.12",
                   "idle_timeout_seconds": 2.5, "max_line_bytes": 4096, "stream_maps": {}})
        );
        assert!(schema::unknown(&raw).is_empty());
        let s = check(&raw).unwrap();
        assert_eq!(s.idle_timeout, Some(Duration::from_millis(2500)));
        // Meltano passes a setting of kind `string` as text.
        let s = settings(json!({"airbyte_spec": {"image": "a"}, "idle_timeout_seconds": "30"}))
            .unwrap();
        assert_eq!(s.idle_timeout, Some(Duration::from_secs(30)));
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

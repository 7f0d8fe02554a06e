//! The connector and where it runs: chosen once per command from the settings (a Docker image, or
//! a local process: a command the user installed, or a Python package in a managed virtualenv), then
//! one run per connector command, driven by the one pump and cleaned up on every path.
use super::lifecycle::{remove_stale, Running};
use crate::error::{AppError, Kind};
use crate::pipeline::{self, Finished};
use crate::runtime::docker::{self, Engine, ImageInfo, RunSpec, FILES_DIR};
use crate::runtime::process::{self, PrivateDir};
use crate::runtime::pump::{self, Started};
use crate::runtime::venv::{self, PythonConnector};
use crate::runtime::{Completeness, Exit, Output, RunError};
use crate::settings::{self, Launch, Native, Settings};
use crate::translate::reader::Reader;
use crate::translate::redact::Redactor;
use anyhow::anyhow;
use futures_util::Stream;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the connector runs. One per command, so the size of the Docker client does not matter.
#[allow(clippy::large_enum_variant)]
pub(super) enum Backend {
    Docker {
        engine: Engine,
        image: String,
        info: ImageInfo,
    },
    Process {
        program: PathBuf,
        /// What identifies this connector's build, for the spec cache.
        cache_key: String,
        /// A declarative connector's manifest, handed to the CDK with each command.
        manifest: Option<Manifest>,
    },
}

/// A declarative connector's manifest and the interpreter of the CDK's virtualenv.
pub(super) struct Manifest {
    yaml: Vec<u8>,
    python: PathBuf,
}

/// Prints a manifest's own spec as an Airbyte SPEC message (the CDK's `source-declarative-manifest
/// spec` prints a generic one): read with the CDK's own YAML parser, so both agree on the manifest.
const MANIFEST_SPEC: &str = r#"
import json, sys, yaml
with open(sys.argv[1]) as f:
    manifest = yaml.safe_load(f)
spec = manifest.get("spec") or {}
message = {"type": "SPEC", "spec": {"connectionSpecification": spec.get("connection_specification", {})}}
if "documentation_url" in spec:
    message["spec"]["documentationUrl"] = spec["documentation_url"]
print(json.dumps(message))
"#;

/// One connector command: its name and the files it reads (`config.json`, `catalog.json`,
/// `state.json`), each passed with its flag.
pub(super) struct Invocation {
    pub command: &'static str,
    pub files: Vec<(String, Vec<u8>)>,
}

impl Invocation {
    /// The connector's arguments with its files in `dir`.
    fn args(&self, dir: &str) -> Vec<String> {
        let mut args = vec![self.command.to_string()];
        for (name, _) in &self.files {
            let flag = match name.as_str() {
                "config.json" => "--config",
                "catalog.json" => "--catalog",
                "state.json" => "--state",
                _ => continue,
            };
            args.extend([flag.to_string(), format!("{dir}/{name}")]);
        }
        args
    }
}

/// A finished connector run: what the translator made of it (kept whatever happened: a config the
/// connector issued must be saved on every path), and how the run ended.
pub(super) struct RunEnd {
    pub finished: Finished,
    pub exit: Result<Exit, RunError>,
}

impl Backend {
    /// Chooses and prepares where the connector runs: connects to the engine and makes sure the
    /// image is there, or installs the Python connector, or finds the local command.
    pub(super) async fn prepare(settings: &Settings) -> Result<Backend, AppError> {
        match &settings.launch {
            Launch::Docker => Backend::docker(settings).await,
            Launch::Native(native) => Backend::native(settings, native).await,
            Launch::Auto => match Engine::connect().await {
                Ok(engine) => Backend::docker_with(engine, settings).await,
                Err(e) => {
                    let native = settings::python_from_image(
                        settings.image.rsplit('/').next().unwrap_or(&settings.image),
                        &settings.tag,
                        None,
                    );
                    tracing::info!(
                        "no Docker engine answers ({e}); running the connector without Docker, from PyPI \
                         (set `skip_native_check: true` to require Docker, `force_native: true` to skip this check)"
                    );
                    Backend::native(settings, &native).await.map_err(|native_error| {
                        AppError::new(
                            Kind::Docker,
                            anyhow!(
                                "{e}\n  Without Docker the connector could not run either: {native_error}"
                            ),
                        )
                    })
                }
            },
        }
    }

    async fn docker(settings: &Settings) -> Result<Backend, AppError> {
        let engine = Engine::connect().await?;
        Backend::docker_with(engine, settings).await
    }

    async fn docker_with(engine: Engine, settings: &Settings) -> Result<Backend, AppError> {
        remove_stale(&engine).await;
        let image = settings.image_reference();
        let info = engine
            .ensure_image(&image, settings.registry_auth.as_ref())
            .await?;
        tracing::debug!(
            image,
            user = info.user,
            id = info.id,
            os = info.os,
            architecture = info.architecture,
            "image ready"
        );
        Ok(Backend::Docker {
            engine,
            image,
            info,
        })
    }

    async fn native(settings: &Settings, native: &Native) -> Result<Backend, AppError> {
        process::remove_stale_dirs(&files_root());
        if !settings.docker_mounts.is_empty() {
            tracing::warn!("`docker_mounts` has no meaning without Docker: the connector runs as a local process and sees this machine's files; ignored");
        }
        let (program, cache_key, manifest) = match native {
            Native::Executable(exe) => {
                let program = venv::which(exe).ok_or_else(|| {
                    AppError::new(
                        Kind::Config,
                        anyhow!(
                            "airbyte_spec.executable: `{exe}` is not a file nor a command on PATH"
                        ),
                    )
                })?;
                let modified = std::fs::metadata(&program)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let key = format!("exe {} {modified}", program.display());
                (program, key, None)
            }
            Native::Python {
                requirement,
                command,
                python,
            } => {
                let connector = PythonConnector {
                    requirement: requirement.clone(),
                    command: command.clone(),
                    python: python.clone(),
                };
                let program = venv::ensure(&connector)
                    .await
                    .map_err(|e| AppError::new(Kind::Config, e))?;
                (program, format!("pypi {requirement}"), None)
            }
            Native::Manifest {
                path,
                requirement,
                python,
            } => {
                let yaml = std::fs::read(path).map_err(|e| {
                    AppError::new(
                        Kind::Config,
                        anyhow!("airbyte_spec.manifest: cannot read {path}: {e}"),
                    )
                })?;
                let connector = PythonConnector {
                    requirement: requirement.clone(),
                    command: "source-declarative-manifest".into(),
                    python: python.clone(),
                };
                let program = venv::ensure(&connector)
                    .await
                    .map_err(|e| AppError::new(Kind::Config, e))?;
                let python = program.with_file_name("python");
                let key = format!("manifest {requirement} {}", String::from_utf8_lossy(&yaml));
                (program, key, Some(Manifest { yaml, python }))
            }
        };
        tracing::debug!(program = %program.display(), "the connector runs as a local process");
        Ok(Backend::Process {
            program,
            cache_key,
            manifest,
        })
    }

    /// The key under which this connector's spec is cached.
    pub(super) fn spec_key(&self) -> String {
        match self {
            Backend::Docker { info, .. } => info.id.clone(),
            Backend::Process { cache_key, .. } => {
                let hash = cache_key.bytes().fold(0xcbf29ce484222325u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
                });
                format!("native{hash:016x}")
            }
        }
    }

    /// What the connector is, for logs.
    fn label(&self) -> String {
        match self {
            Backend::Docker { image, .. } => image.clone(),
            Backend::Process { program, .. } => program.display().to_string(),
        }
    }

    /// Runs one connector command to its end. Whatever happens, the container or process group is
    /// gone and the files are removed when this returns.
    pub(super) async fn run<W: Write + Send + 'static>(
        &self,
        settings: &Settings,
        running: &Running,
        redactor: &Redactor,
        invocation: Invocation,
        reader: Reader,
        out: W,
    ) -> Result<RunEnd, AppError> {
        let command = invocation.command;
        match self {
            Backend::Docker {
                engine,
                image,
                info,
            } => {
                let spec = RunSpec {
                    image,
                    args: invocation.args(FILES_DIR),
                    files: invocation.files,
                    mounts: &settings.docker_mounts,
                };
                // Known for removal by its name before the engine is asked to create it: a signal
                // during the create or the upload removes it too.
                let name = docker::container_name(command);
                running.creating(engine, &name);
                let created = match engine.create(&spec, info, &name).await {
                    Ok(created) => created,
                    Err(e) => {
                        running.clear();
                        return Err(e.into());
                    }
                };
                running.set(engine, &created.id);
                let short = created.id.get(..12).unwrap_or(&created.id);
                tracing::info!(image = %image, command, container = short, "running the connector");
                let result = match engine.upload(&created, &spec, info).await {
                    Ok(()) => {
                        let start = async { Ok(engine.start(&created, image).await?) };
                        drive(settings, redactor, start, reader, out).await
                    }
                    Err(e) => Err(e.into()),
                };
                engine.remove(&created.id).await;
                running.clear();
                result
            }
            Backend::Process {
                program, manifest, ..
            } => {
                let dir = PrivateDir::create(&files_root()).map_err(process_error)?;
                for (name, bytes) in &invocation.files {
                    dir.write(name, bytes).map_err(process_error)?;
                }
                let dir_str = dir.path().display().to_string();
                let mut args = invocation.args(&dir_str);
                let mut program_str = program.display().to_string();
                if let Some(m) = manifest {
                    let path = dir.write("manifest.yaml", &m.yaml).map_err(process_error)?;
                    let path = path.display().to_string();
                    if command == "spec" {
                        program_str = m.python.display().to_string();
                        args = vec!["-c".into(), MANIFEST_SPEC.into(), path];
                    } else {
                        args.extend(["--manifest-path".into(), path]);
                    }
                }
                let (group, started) =
                    process::start(&program_str, &args, dir.path(), &tap_env_names())
                        .map_err(process_error)?;
                running.set_process(group, dir.path());
                tracing::info!(connector = %self.label(), command, pid = group.pgid, "running the connector");
                let result = drive(settings, redactor, async { Ok(started) }, reader, out).await;
                group.stop().await;
                running.clear();
                drop(dir);
                result
            }
        }
    }
}

/// Pumps a started connector through the translating thread; returns when both are done.
async fn drive<W, O, E>(
    settings: &Settings,
    redactor: &Redactor,
    start: impl Future<Output = Result<Started<O, E>, RunError>>,
    reader: Reader,
    out: W,
) -> Result<RunEnd, AppError>
where
    W: Write + Send + 'static,
    O: Stream<Item = Result<Output, RunError>> + Unpin,
    E: Future<Output = Result<i64, RunError>>,
{
    let (tx, rx) = tokio::sync::mpsc::channel(pipeline::CHANNEL_CHUNKS);
    let (verdict, verdict_rx) = tokio::sync::oneshot::channel();
    let thread = pipeline::spawn(
        reader,
        redactor.clone(),
        rx,
        verdict_rx,
        settings.max_line_bytes,
        out,
    );
    let exit = match start.await {
        Ok(started) => pump::pump(started, tx, settings.idle_timeout).await,
        Err(e) => Err(e),
    };
    // Only a run that ended well and was read to its end closes the sync with a STATE.
    let _ =
        verdict.send(matches!(&exit, Ok(e) if e.code == 0 && e.complete != Completeness::Missing));
    let finished = tokio::task::spawn_blocking(move || thread.join())
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| AppError::new(Kind::Connector, anyhow!("the translating thread failed")))?;
    Ok(RunEnd { finished, exit })
}

fn process_error(e: impl Into<anyhow::Error>) -> AppError {
    AppError::new(Kind::Connector, e)
}

/// Names of the tap's own variables, which may carry the connector's config: kept from the
/// connector's environment.
fn tap_env_names() -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("TAP_AIRBYTE_"))
        .collect()
}

/// Where native runs keep their private folders: `$XDG_RUNTIME_DIR/tap-airbyte` (a per-user tmpfs)
/// when there is one, else `tap-airbyte-<uid>` in the temporary folder.
pub(super) fn files_root() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return Path::new(&d).join("tap-airbyte");
    }
    // SAFETY: getuid has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    let uid = unsafe { libc::getuid() };
    std::env::temp_dir().join(format!("tap-airbyte-{uid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_name_each_file_with_its_flag() {
        let inv = Invocation {
            command: "read",
            files: vec![
                ("config.json".into(), vec![]),
                ("catalog.json".into(), vec![]),
                ("state.json".into(), vec![]),
            ],
        };
        assert_eq!(
            inv.args("/d"),
            [
                "read",
                "--config",
                "/d/config.json",
                "--catalog",
                "/d/catalog.json",
                "--state",
                "/d/state.json"
            ]
        );
        let spec = Invocation {
            command: "spec",
            files: vec![],
        };
        assert_eq!(spec.args("/d"), ["spec"]);
    }
}

//! The Docker runtime: the only module that talks to the Docker Engine (through bollard).
//!
//! One connector run is: [`Engine::create`] (create the container, upload its files as a tar),
//! [`Engine::run`] (attach, start, pump stdout into a bounded channel and stderr into logs, wait for
//! the exit code), and [`Engine::remove`] (always, whatever happened). The caller owns that sequence
//! so that removal happens in one explicit place (see `app`).
//!
//! Not here: what the output means (that is `translate`), and the choice of files and arguments.
pub mod archive;
pub mod init;
mod registry;
mod stderr;

use crate::settings::{MountKind, MountSpec, RegistryAuth};
use crate::translate::redact::Redactor;
use archive::Access;
use bollard::auth::DockerCredentials;
use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig, Mount, MountType};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    DownloadFromContainerOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bollard::Docker;
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt, TryStreamExt};
pub use registry::registry_of;
use registry::{credentials_from_docker_config, registry_auth_base64url};
use std::collections::HashMap;
use std::time::Duration;
use stderr::StderrLines;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// Label that marks every container the tap creates; its value is the tap's process id.
pub const LABEL: &str = "io.tap-airbyte.owner";
/// Label holding the host name of the machine the tap ran on (pids mean something only there).
pub const LABEL_HOST: &str = "io.tap-airbyte.host";
/// Label telling which process the owner pid was: its boot id and start time (`boot:ticks`), so a
/// reused pid is never taken for the tap that created the container.
pub const LABEL_STARTED: &str = "io.tap-airbyte.started";
/// Label holding the connector command (`spec`, `check`, `discover`, `read`).
pub const LABEL_COMMAND: &str = "io.tap-airbyte.command";
/// Where the connector's files are put inside the container.
pub const FILES_DIR: &str = "/config";
/// Most stdout bytes handed to the consumer at once.
const BATCH_BYTES: usize = 256 * 1024;
/// After the container exits, how long the attach stream may stay silent before it is given up.
const SILENCE_AFTER_EXIT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "cannot reach the Docker engine at {address}: {source}\n  Is the engine running and can this user use it? \
         Set DOCKER_HOST to its address (unix:///var/run/docker.sock, tcp://HOST:2375, or tcp://HOST:2376 with \
         DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH)."
    )]
    Connect {
        address: String,
        source: BollardError,
    },
    #[error("timed out after {seconds} s reaching the Docker engine at {address}; check DOCKER_HOST and the network")]
    ConnectTimeout { address: String, seconds: u64 },
    #[error("cannot inspect image {image}: {source}")]
    Inspect { image: String, source: BollardError },
    #[error("image {image} is not present and pulling it failed: {message}")]
    Pull { image: String, message: String },
    #[error("cannot create a container from {image}: {source}")]
    Create { image: String, source: BollardError },
    #[error("cannot upload the connector's files into container {id}: {source}")]
    Upload { id: String, source: BollardError },
    #[error("cannot attach to container {id}: {source}")]
    Attach { id: String, source: BollardError },
    #[error("cannot start container {id} ({image}): {source}")]
    Start {
        id: String,
        image: String,
        source: BollardError,
    },
    #[error("lost the output stream of container {id}: {source}")]
    Output { id: String, source: BollardError },
    #[error("cannot wait for container {id}: {source}")]
    Wait { id: String, source: BollardError },
    #[error("cannot list containers: {source}")]
    List { source: BollardError },
}

/// A connected Docker engine.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    address: String,
}

/// What to run.
pub struct RunSpec<'a> {
    pub image: &'a str,
    /// The connector command and its flags, after the image's entrypoint.
    pub args: Vec<String>,
    /// Files placed in [`FILES_DIR`], readable and writable by the image's user.
    pub files: Vec<(String, Vec<u8>)>,
    pub mounts: &'a [MountSpec],
}

/// How a run ended.
#[derive(Debug)]
pub struct Exit {
    pub code: i64,
    /// Whether the whole output is known to have been read.
    pub complete: Completeness,
    /// The connector's last stderr lines.
    pub stderr_tail: Vec<String>,
}

/// Whether a run's output is known to have been read to its end (see [`init`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completeness {
    /// The end marker came after the connector's last byte.
    Proven,
    /// The output ended without the end marker: bytes may be missing.
    Missing,
    /// The image's platform cannot run the helper: nothing proves or disproves it.
    Unverifiable,
}

/// A created container, and the end-marker token its helper writes (when it runs one).
pub struct Created {
    pub id: String,
    token: Option<String>,
}

/// Why [`Engine::run`] stopped early.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// The consumer of stdout went away (the pipeline stopped); the container is still there.
    #[error("the output consumer stopped")]
    ConsumerGone,
    /// The connector wrote nothing for this long (`idle_timeout_seconds`).
    #[error("the connector wrote nothing for {} s (idle_timeout_seconds); stopped it", .0.as_secs_f64())]
    Idle(Duration),
}

impl Engine {
    /// Connects the way the Docker CLI does: `DOCKER_HOST` (unix, tcp, TLS with `DOCKER_TLS_VERIFY` and
    /// `DOCKER_CERT_PATH`), else the default socket; negotiates the API version.
    pub async fn connect() -> Result<Engine, DockerError> {
        let address = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string());
        let docker = Docker::connect_with_defaults()
            .map_err(|e| DockerError::Connect {
                address: address.clone(),
                source: e,
            })?
            .with_request_modifier(registry_auth_base64url);
        const SECONDS: u64 = 20;
        let docker =
            match tokio::time::timeout(Duration::from_secs(SECONDS), docker.negotiate_version())
                .await
            {
                Ok(Ok(d)) => d,
                Ok(Err(e)) => return Err(DockerError::Connect { address, source: e }),
                Err(_) => {
                    return Err(DockerError::ConnectTimeout {
                        address,
                        seconds: SECONDS,
                    })
                }
            };
        tracing::debug!(address, "connected to the Docker engine");
        Ok(Engine { docker, address })
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Makes sure the image is present, pulling it (progress on stderr) when it is not, with these
    /// credentials or else those `~/.docker/config.json` has for the image's registry.
    pub async fn ensure_image(
        &self,
        image: &str,
        auth: Option<&RegistryAuth>,
    ) -> Result<ImageInfo, DockerError> {
        match self.docker.inspect_image(image).await {
            Ok(info) => return Ok(ImageInfo::from(info)),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => {
                return Err(DockerError::Inspect {
                    image: image.to_string(),
                    source: e,
                })
            }
        }

        let registry = registry_of(image);
        let credentials = match auth {
            Some(a) => Some(DockerCredentials {
                username: a.username.clone(),
                password: a.password.clone(),
                identitytoken: a.identity_token.clone(),
                serveraddress: Some(registry.clone()),
                ..Default::default()
            }),
            None => credentials_from_docker_config(&registry).await,
        };
        tracing::info!(
            image,
            registry,
            with_credentials = credentials.is_some(),
            "image not present; pulling it"
        );
        let options = CreateImageOptionsBuilder::new().from_image(image).build();
        let mut progress = self.docker.create_image(Some(options), None, credentials);
        let mut last_status = String::new();
        while let Some(item) = progress.next().await {
            let info = item.map_err(|e| DockerError::Pull {
                image: image.to_string(),
                message: e.to_string(),
            })?;
            if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                let lower = detail.to_ascii_lowercase();
                let hint = if [
                    "unauthorized",
                    "denied",
                    "authentication required",
                    "no basic auth",
                ]
                .iter()
                .any(|w| lower.contains(w))
                {
                    " (check the credentials: `registry_auth` in the settings, or `docker login` into ~/.docker/config.json)"
                } else {
                    ""
                };
                return Err(DockerError::Pull {
                    image: image.to_string(),
                    message: format!("{detail}{hint}"),
                });
            }
            if let Some(status) = info.status {
                let line = match info.id {
                    Some(id) => format!("{id}: {status}"),
                    None => status,
                };
                if line != last_status
                    && !line.contains("Downloading")
                    && !line.contains("Extracting")
                {
                    tracing::info!(image, "pull: {line}");
                    last_status = line;
                }
            }
        }
        match self.docker.inspect_image(image).await {
            Ok(info) => Ok(ImageInfo::from(info)),
            Err(e) => Err(DockerError::Pull {
                image: image.to_string(),
                message: format!("the pull ended but the image is not there: {e}"),
            }),
        }
    }

    /// Creates the container (named `name`, see [`container_name`]) with the helper that proves its
    /// output complete as its first process when the image's platform can run it. Files are
    /// uploaded separately ([`Engine::upload`]), so the caller can register the container for
    /// removal in between.
    pub async fn create(
        &self,
        spec: &RunSpec<'_>,
        image: &ImageInfo,
        name: &str,
    ) -> Result<Created, DockerError> {
        let command = spec.args.first().cloned().unwrap_or_default();
        let labels = HashMap::from([
            (LABEL.to_string(), std::process::id().to_string()),
            (
                LABEL_STARTED.to_string(),
                process_identity(std::process::id()),
            ),
            (LABEL_COMMAND.to_string(), command.clone()),
            (LABEL_HOST.to_string(), host_name()),
        ]);
        let helper = init::helper_for(&image.os, &image.architecture);
        let token = helper.map(|_| init::new_token());
        let (entrypoint, cmd) = match &token {
            Some(token) => {
                let path = format!("{FILES_DIR}/{}", init::HELPER_NAME);
                let mut full = init::command(&path, token, &image.entrypoint, &spec.args);
                let entrypoint: Vec<String> = full.drain(..2).collect();
                (Some(entrypoint), full)
            }
            None => {
                tracing::warn!(
                    image = spec.image,
                    os = image.os,
                    architecture = image.architecture,
                    "this tap cannot run its completeness helper in images of this platform: \
                     a connector's output cut short by the engine would go unnoticed"
                );
                (None, spec.args.clone())
            }
        };
        let body = ContainerCreateBody {
            image: Some(spec.image.to_string()),
            entrypoint,
            cmd: Some(cmd),
            tty: Some(false),
            // stdin carries only the tap's acknowledgement of the end marker (see `init`).
            open_stdin: Some(token.is_some()),
            stdin_once: Some(token.is_some()),
            attach_stdin: Some(token.is_some()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            labels: Some(labels),
            host_config: Some(HostConfig {
                mounts: Some(spec.mounts.iter().map(mount).collect()),
                // The tap reads the output; the engine need not keep a second copy on disk.
                log_config: Some(HostConfigLogConfig {
                    typ: Some("none".into()),
                    config: None,
                }),
                auto_remove: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(name).build();
        let id = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| DockerError::Create {
                image: spec.image.to_string(),
                source: e,
            })?
            .id;
        tracing::debug!(container = %id, name, "created container");
        Ok(Created { id, token })
    }

    /// Uploads the connector's files (and the helper) into a created container. Does not remove
    /// the container on failure: the caller does, on every path.
    pub async fn upload(
        &self,
        created: &Created,
        spec: &RunSpec<'_>,
        image: &ImageInfo,
    ) -> Result<(), DockerError> {
        let id = created.id.as_str();
        let helper = created
            .token
            .as_ref()
            .and_then(|_| init::helper_for(&image.os, &image.architecture))
            .map(|bytes| (init::HELPER_NAME, bytes));
        if spec.files.is_empty() && helper.is_none() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let access = match archive::numeric_user(&image.user) {
            Some(owner) => Access::Owned(owner),
            None => self.resolve_user(id, &image.user).await,
        };
        let tar = archive::build(
            FILES_DIR.trim_start_matches('/'),
            &spec.files,
            helper,
            access,
        )
        .map_err(|e| DockerError::Upload {
            id: id.to_string(),
            source: BollardError::IOError { err: e },
        })?;
        let options = UploadToContainerOptionsBuilder::new().path("/").build();
        self.docker
            .upload_to_container(id, Some(options), bollard::body_full(Bytes::from(tar)))
            .await
            .map_err(|e| DockerError::Upload {
                id: id.to_string(),
                source: e,
            })?;
        tracing::debug!(container = %id, ms = started.elapsed().as_millis() as u64, "uploaded the connector's files");
        Ok(())
    }

    /// Looks a user name up in the image's `/etc/passwd`; files are opened to anyone when that fails.
    async fn resolve_user(&self, id: &str, user: &str) -> Access {
        let options = DownloadFromContainerOptionsBuilder::new()
            .path("/etc/passwd")
            .build();
        let bytes: Result<Vec<Bytes>, _> = self
            .docker
            .download_from_container(id, Some(options))
            .try_collect()
            .await;
        match bytes
            .ok()
            .and_then(|chunks| archive::user_from_passwd_tar(user, &chunks.concat()))
        {
            Some(owner) => Access::Owned(owner),
            None => {
                tracing::debug!(
                    user,
                    "cannot resolve the image user; the connector's files are readable by any user"
                );
                Access::Anyone
            }
        }
    }

    /// Attaches, starts, and pumps the container's output until it exits: stdout chunks go to
    /// `stdout` (a bounded channel: a slow consumer slows the connector down), stderr lines to the
    /// log. Acknowledges the end marker once it is read, so that the helper lets the container
    /// exit. Returns the exit code and whether the output is proven complete. Does not remove the
    /// container.
    pub async fn run(
        &self,
        created: &Created,
        image: &str,
        stdout: mpsc::Sender<Vec<Bytes>>,
        idle_timeout: Option<Duration>,
        redactor: &Redactor,
    ) -> Result<Exit, RunError> {
        let id = created.id.as_str();
        let mut end = created.token.as_deref().map(init::EndMarker::new);
        let options = AttachContainerOptionsBuilder::new()
            .stream(true)
            .stdin(end.is_some())
            .stdout(true)
            .stderr(true)
            .build();
        let attached = self
            .docker
            .attach_container(id, Some(options))
            .await
            .map_err(|e| DockerError::Attach {
                id: id.to_string(),
                source: e,
            })?;
        let mut output = attached.output;
        let mut input = attached.input;
        tracing::debug!(container = id, "attached");
        self.docker
            .start_container(id, None::<bollard::query_parameters::StartContainerOptions>)
            .await
            .map_err(|e| DockerError::Start {
                id: id.to_string(),
                image: image.to_string(),
                source: e,
            })?;
        tracing::debug!(container = id, "started");
        let mut wait = Box::pin(
            self.docker
                .wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>),
        );
        let mut stderr = StderrLines::new(redactor.clone());
        let mut exit: Option<i64> = None;
        let mut acknowledged = false;
        let far = Duration::from_secs(86_400 * 365);
        // After the exit: how long the attach stream may stay silent before it is given up.
        let after_exit = tokio::time::sleep(far);
        tokio::pin!(after_exit);
        // Time without any output from the connector (waiting on a slow consumer does not count).
        let silence = tokio::time::sleep(idle_timeout.unwrap_or(far));
        tokio::pin!(silence);
        loop {
            tokio::select! {
                frame = output.next() => {
                    // Frames that are already there travel together: one hand-over per batch, not per
                    // frame (the engine cuts output into frames as small as a few bytes).
                    let mut batch = Vec::new();
                    let mut batch_bytes = 0;
                    let mut next = Some(frame);
                    let mut ended = false;
                    while let Some(frame) = next.take() {
                        match frame {
                            Some(Ok(LogOutput::StdOut { message })) => {
                                batch_bytes += message.len();
                                batch.push(message);
                            }
                            Some(Ok(LogOutput::StdErr { message })) => stderr.push(&message),
                            Some(Ok(_)) => {}
                            Some(Err(e)) => return Err(DockerError::Output { id: id.to_string(), source: e }.into()),
                            None => ended = true,
                        }
                        if !ended && batch_bytes < BATCH_BYTES {
                            next = output.next().now_or_never();
                        }
                    }
                    if let Some(end) = end.as_mut() {
                        batch = end.filter(batch);
                        if ended {
                            batch.extend(end.finish());
                        }
                    }
                    if !batch.is_empty() {
                        stdout.send(batch).await.map_err(|_| RunError::ConsumerGone)?;
                    }
                    if !acknowledged && end.as_ref().is_some_and(|e| e.status().is_some()) {
                        // Everything before the marker is in the tap: let the helper end.
                        acknowledged = true;
                        if let Err(e) = async { input.write_all(b"\n").await?; input.flush().await }.await {
                            tracing::debug!(container = id, error = %e, "cannot acknowledge the end marker; the container is removed anyway");
                        }
                        tracing::debug!(container = id, "read the end marker");
                    }
                    if ended {
                        break;
                    }
                }
                status = wait.next(), if exit.is_none() => {
                    exit = Some(exit_code(id, status)?);
                    tracing::debug!(container = id, code = exit, "exited");
                    after_exit.as_mut().reset(tokio::time::Instant::now() + SILENCE_AFTER_EXIT);
                }
                () = &mut silence, if exit.is_none() && idle_timeout.is_some() => {
                    return Err(RunError::Idle(idle_timeout.unwrap_or(far)));
                }
                () = &mut after_exit, if exit.is_some() => {
                    tracing::warn!(container = id, "the container exited but its output stream stayed open; closing it");
                    break;
                }
            }
            if exit.is_some() {
                after_exit
                    .as_mut()
                    .reset(tokio::time::Instant::now() + SILENCE_AFTER_EXIT);
            }
            if let Some(limit) = idle_timeout {
                silence.as_mut().reset(tokio::time::Instant::now() + limit);
            }
        }
        let code = match exit {
            Some(c) => c,
            None => exit_code(id, wait.next().await)?,
        };
        stderr.finish();
        let complete = match &end {
            None => Completeness::Unverifiable,
            Some(e) if e.status().is_some() => Completeness::Proven,
            Some(_) => Completeness::Missing,
        };
        // The helper passes the connector's status on; the marker's is the connector's own.
        let code = match end.as_ref().and_then(init::EndMarker::status) {
            Some(status) if code == status => code,
            Some(status) => {
                tracing::debug!(
                    container = id,
                    status,
                    code,
                    "the container's status differs from the connector's"
                );
                if code == 0 {
                    status
                } else {
                    code
                }
            }
            None => code,
        };
        tracing::debug!(container = id, code, ?complete, "exited");
        Ok(Exit {
            code,
            complete,
            stderr_tail: stderr.tail.into_iter().collect(),
        })
    }

    /// Removes a container, stopping it first if it runs. Never fails: a failure is logged.
    pub async fn remove(&self, id: &str) {
        self.try_remove(id).await;
    }

    /// Removes a container (by id or name); returns false when there is no such container.
    pub async fn try_remove(&self, id: &str) -> bool {
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => {
                tracing::debug!(container = id, "removed container");
                true
            }
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => false,
            Err(e) => {
                tracing::error!(container = id, error = %e, "could not remove the container; remove it with `docker rm -f {id}`");
                true
            }
        }
    }

    /// The containers that carry the tap's label, running or not.
    pub async fn list_ours(&self) -> Result<Vec<Ours>, DockerError> {
        let filters = HashMap::from([("label", vec![LABEL])]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| DockerError::List { source: e })?;
        Ok(list
            .into_iter()
            .filter_map(|c| {
                let labels = c.labels.unwrap_or_default();
                Some(Ours {
                    id: c.id?,
                    pid: labels.get(LABEL)?.parse().ok()?,
                    host: labels.get(LABEL_HOST).cloned().unwrap_or_default(),
                    started: labels.get(LABEL_STARTED).cloned(),
                })
            })
            .collect())
    }
}

/// What the tap needs to know of an image.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    /// The content-addressed id (`sha256:…`).
    pub id: String,
    /// The user the image runs as (`""`, `uid[:gid]`, `name[:group]`).
    pub user: String,
    /// What the image runs before the command's arguments.
    pub entrypoint: Vec<String>,
    /// Its platform, in Docker's names (`linux`, `amd64`).
    pub os: String,
    pub architecture: String,
}

impl From<bollard::models::ImageInspect> for ImageInfo {
    fn from(info: bollard::models::ImageInspect) -> Self {
        let config = info.config.unwrap_or_default();
        ImageInfo {
            id: info.id.unwrap_or_default(),
            user: config.user.unwrap_or_default(),
            entrypoint: config.entrypoint.unwrap_or_default(),
            os: info.os.unwrap_or_default(),
            architecture: info.architecture.unwrap_or_default(),
        }
    }
}

/// A container the tap created (see [`LABEL`]).
#[derive(Debug)]
pub struct Ours {
    pub id: String,
    pub pid: u32,
    pub host: String,
    /// [`LABEL_STARTED`], when the tap that created it set one.
    pub started: Option<String>,
}

/// A name for a new container running `command`.
pub fn container_name(command: &str) -> String {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    format!("tap-airbyte-{command}-{}", &unique[..12])
}

/// Which process `pid` is, across pid reuse: this boot's id and the process's start time in clock
/// ticks since boot (`/proc/PID/stat`, field 22). Empty when the process does not exist.
pub fn process_identity(pid: u32) -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let start = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(19));
    match start {
        Some(ticks) => format!("{}:{ticks}", boot.trim()),
        None => String::new(),
    }
}

/// This machine's host name, as labels record it.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

fn exit_code(
    id: &str,
    status: Option<Result<bollard::models::ContainerWaitResponse, BollardError>>,
) -> Result<i64, DockerError> {
    match status {
        Some(Ok(r)) => Ok(r.status_code),
        // bollard reports a non-zero exit as an error: it is the connector's exit code.
        Some(Err(BollardError::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(e)) => Err(DockerError::Wait {
            id: id.to_string(),
            source: e,
        }),
        None => Err(DockerError::Wait {
            id: id.to_string(),
            source: BollardError::IOError {
                err: std::io::ErrorKind::UnexpectedEof.into(),
            },
        }),
    }
}

fn mount(m: &MountSpec) -> Mount {
    Mount {
        target: Some(m.target.clone()),
        source: m.source.clone(),
        typ: Some(match m.kind {
            MountKind::Bind => MountType::BIND,
            MountKind::Volume => MountType::VOLUME,
            MountKind::Tmpfs => MountType::TMPFS,
        }),
        read_only: Some(m.read_only),
        ..Default::default()
    }
}

//! The Docker runtime: the only module that talks to the Docker Engine (through bollard).
//!
//! One connector run is: [`Engine::create`] (create the container, upload its files as a tar),
//! [`Engine::run`] (attach, start, pump stdout into a bounded channel and stderr into logs, wait for
//! the exit code), and [`Engine::remove`] (always, whatever happened). The caller owns that sequence
//! so that removal happens in one explicit place (see `app`).
//!
//! Not here: what the output means (that is `translate`), and the choice of files and arguments.
pub mod archive;
mod attach;
pub mod init;
mod registry;

use super::marker::EndMarker;
use super::pump::{Completion, Started};
use super::{pid_namespace, process_identity, Output, RunError};
use crate::settings::{MountKind, MountSpec, RegistryAuth};
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
use futures_util::{StreamExt, TryStreamExt};
pub use registry::registry_of;
use registry::{credentials_from_docker_config, registry_auth_base64url};
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

/// Label that marks every container the tap creates; its value is the tap's process id.
pub const LABEL: &str = "io.tap-airbyte.owner";
/// Label holding the host name of the machine the tap ran on (pids mean something only there).
pub const LABEL_HOST: &str = "io.tap-airbyte.host";
/// Label telling which process the owner pid was: its boot id and start time (`boot:ticks`), so a
/// reused pid is never taken for the tap that created the container.
pub const LABEL_STARTED: &str = "io.tap-airbyte.started";
/// Label holding the tap's pid namespace ([`pid_namespace`]): the owner pid and
/// [`LABEL_STARTED`] can be judged only by a tap in the same pid namespace.
pub const LABEL_PIDNS: &str = "io.tap-airbyte.pidns";
/// Label holding the connector command (`spec`, `check`, `discover`, `read`).
pub const LABEL_COMMAND: &str = "io.tap-airbyte.command";
/// Where the connector's files are put inside the container.
pub const FILES_DIR: &str = "/config";

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

/// A created container, and the end-marker token its helper writes (when it runs one).
pub struct Created {
    pub id: String,
    token: Option<String>,
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
            (LABEL_PIDNS.to_string(), pid_namespace()),
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

    /// Attaches (stdin too when the helper waits for its acknowledgement there) and starts the
    /// container: its output and exit status, for [`super::pump::pump`]. Attaching before the
    /// start loses no early output.
    pub async fn start(
        &self,
        created: &Created,
        image: &str,
    ) -> Result<
        Started<
            impl futures_util::Stream<Item = Result<Output, RunError>> + Unpin + use<>,
            impl Future<Output = Result<i64, RunError>> + use<>,
        >,
        DockerError,
    > {
        let id = created.id.clone();
        let stdin = created.token.is_some();
        let attached = match self.address.strip_prefix("unix://") {
            Some(socket) => {
                let version = self.docker.client_version();
                let version = format!("{}.{}", version.major_version, version.minor_version);
                attach::attach(socket, &version, &id, stdin).await?
            }
            None => self.attach_through_bollard(&id, stdin).await?,
        };
        tracing::debug!(container = id, "attached");
        self.docker
            .start_container(
                &id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .map_err(|e| DockerError::Start {
                id: id.clone(),
                image: image.to_string(),
                source: e,
            })?;
        tracing::debug!(container = id, "started");
        let mut wait = self
            .docker
            .wait_container(&id, None::<bollard::query_parameters::WaitContainerOptions>);
        let wait_id = id.clone();
        let exit = async move { Ok(exit_code(&wait_id, wait.next().await)?) };
        let completion = match &created.token {
            Some(token) => match attached.input {
                Some(ack) => Completion::Marker {
                    marker: EndMarker::new(token),
                    ack,
                },
                None => Completion::Unverifiable,
            },
            None => Completion::Unverifiable,
        };
        Ok(Started {
            what: id.get(..12).unwrap_or(&id).to_string(),
            output: attached.output,
            exit,
            completion,
            hold: Some(Duration::from_millis(1)),
        })
    }

    /// Attaches through bollard (engines over TCP or TLS).
    async fn attach_through_bollard(
        &self,
        id: &str,
        stdin: bool,
    ) -> Result<attach::Attached, DockerError> {
        let options = AttachContainerOptionsBuilder::new()
            .stream(true)
            .stdin(stdin)
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
        let output_id = id.to_string();
        let output = attached.output.filter_map(move |frame| {
            let item = match frame {
                Ok(LogOutput::StdOut { message }) => Some(Ok(Output::Stdout(message))),
                Ok(LogOutput::StdErr { message }) => Some(Ok(Output::Stderr(message))),
                Ok(_) => None,
                Err(e) => Some(Err(RunError::from(DockerError::Output {
                    id: output_id.clone(),
                    source: e,
                }))),
            };
            std::future::ready(item)
        });
        Ok(attach::Attached {
            output: Box::pin(output),
            input: stdin.then_some(attached.input),
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
                    pidns: labels.get(LABEL_PIDNS).cloned(),
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
    /// [`LABEL_PIDNS`], when the tap that created it set one.
    pub pidns: Option<String>,
}

/// A name for a new container running `command`.
pub fn container_name(command: &str) -> String {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    format!("tap-airbyte-{command}-{}", &unique[..12])
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

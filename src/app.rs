//! The commands: `--about`, `--discover`, `--test` and the sync. Each one reads its inputs first
//! (settings, catalog, state: errors before any container exists), then runs the connector through
//! [`Session::run_connector`], the one place where a container is created, driven and removed, on
//! every path: success, error, broken pipe, or signal.
use crate::cli::Args;
use crate::docker::{Engine, RunError, RunSpec, FILES_DIR};
use crate::error::{AppError, Kind};
use crate::pipeline::{self, Finished, PipelineError};
use crate::settings::{self, Settings};
use crate::translate::airbyte::Catalog;
use crate::translate::catalog::{self, SingerCatalog};
use crate::translate::reader::{Outcome, Reader};
use crate::translate::redact::{secret_keys_of_spec, Redactor};
use crate::translate::state::StateStore;
use crate::{about, connector_config, output, spec_cache};
use anyhow::{anyhow, Context};
use std::collections::HashSet;
use std::io::Write;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Runs the command the arguments ask for. SIGTERM and SIGINT at any point remove the connector's
/// container if one exists, then end the tap by the same signal.
pub async fn run(args: Args) -> Result<(), AppError> {
    let mut signals = Signals::install().map_err(|e| AppError::new(Kind::Connector, e))?;
    let running = Running::default();
    tokio::select! {
        result = command(args, running.clone()) => result,
        sig = signals.recv() => {
            let removed = running.remove().await;
            tracing::warn!(signal = sig, removed_container = removed, "interrupted");
            die_by(sig)
        }
    }
}

/// The container being run, if any: what a signal must remove.
#[derive(Clone, Default)]
struct Running(std::sync::Arc<std::sync::Mutex<Option<(Engine, String)>>>);

impl Running {
    fn set(&self, engine: &Engine, id: &str) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((engine.clone(), id.to_string()));
    }
    fn clear(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
    /// Removes the running container; returns whether there was one.
    async fn remove(&self) -> bool {
        let current = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        match current {
            Some((engine, id)) => {
                engine.remove(&id).await;
                true
            }
            None => false,
        }
    }
}

async fn command(args: Args, running: Running) -> Result<(), AppError> {
    if args.about && args.config.is_empty() {
        return about::print(args.format, None).map_err(output_error);
    }
    let env: Vec<(String, String)> = std::env::vars().collect();
    let raw = settings::load_raw(&args.config, &env)?;
    if args.about {
        return about_with_config(&args, &raw, running).await;
    }
    let settings = settings::check(&raw)?;
    let catalog = args.catalog_path().map(read_catalog).transpose()?;
    let state = match &args.state {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read the state file {path}"))
                .map_err(config)?;
            StateStore::from_input(&bytes)
                .with_context(|| format!("state file {path}"))
                .map_err(config)?
        }
        None => StateStore::default(),
    };
    let mut session = Session::start(settings, running).await?;
    session.learn_secrets().await;
    if args.discover {
        return session.discover().await;
    }
    if args.test {
        return session.test().await;
    }
    session.sync(catalog.as_ref(), state).await
}

fn config(e: anyhow::Error) -> AppError {
    AppError::new(Kind::Config, e)
}

fn output_error(e: std::io::Error) -> AppError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        AppError::new(
            Kind::OutputClosed,
            anyhow!("stdout was closed by its reader"),
        )
    } else {
        AppError::new(
            Kind::Connector,
            anyhow!(e).context("cannot write to stdout"),
        )
    }
}

fn read_catalog(path: &str) -> Result<SingerCatalog, AppError> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the catalog file {path}"))
        .map_err(config)?;
    serde_json::from_slice(&bytes)
        .with_context(|| {
            format!("the catalog file {path} is not a Singer catalog (`{{\"streams\": [...]}}`)")
        })
        .map_err(config)
}

async fn about_with_config(
    args: &Args,
    raw: &serde_json::Map<String, serde_json::Value>,
    running: Running,
) -> Result<(), AppError> {
    let spec = async {
        let settings = settings::check(raw)?;
        let session = Session::start(settings, running).await?;
        let spec = session.spec().await?;
        spec_cache::put(&session.image_id, &spec);
        Ok::<_, AppError>(spec)
    }
    .await;
    match spec {
        Ok(spec) => about::print(args.format, Some(&spec)).map_err(output_error),
        Err(e) => {
            tracing::warn!(
                "cannot get the connector's spec, printing the tap's own settings only: {e}"
            );
            about::print(args.format, None).map_err(output_error)
        }
    }
}

/// Removes containers that an earlier tap on this host left behind when it died without cleaning
/// up (killed, crashed): their owner process is gone. Failures are only logged.
async fn remove_stale(engine: &Engine) {
    let ours = match engine.list_ours().await {
        Ok(list) => list,
        Err(e) => {
            tracing::debug!(error = %e, "cannot look for containers left by earlier runs");
            return;
        }
    };
    let host = crate::docker::host_name();
    for c in ours
        .into_iter()
        .filter(|c| c.host == host && !tap_alive(c.pid))
    {
        tracing::warn!(
            container = &c.id[..12.min(c.id.len())],
            pid = c.pid,
            "removing a container left by an earlier run that did not end cleanly"
        );
        engine.remove(&c.id).await;
    }
}

fn add_registry_secrets(redactor: &mut Redactor, settings: &Settings) {
    if let Some(auth) = &settings.registry_auth {
        let secrets = serde_json::json!({"password": auth.password, "token": auth.identity_token});
        redactor.add_config(secrets.as_object().expect("an object"), &HashSet::new());
    }
}

/// Is process `pid` a running tap-airbyte?
fn tap_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|comm| comm.trim() == "tap-airbyte")
}

/// SIGTERM and SIGINT, caught so the container is removed before the tap dies by the same signal.
struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn recv(&mut self) -> i32 {
        tokio::select! {
            _ = self.term.recv() => libc::SIGTERM,
            _ = self.int.recv() => libc::SIGINT,
        }
    }
}

/// Dies by `sig` with its default action, as a process that never caught it would.
#[allow(unsafe_code)]
fn die_by(sig: i32) -> ! {
    // SAFETY: restoring the default disposition and raising a signal are async-signal-safe libc
    // calls with no memory effects; nothing runs after the process is terminated.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
    std::process::exit(128 + sig)
}

/// A connected engine and the image, ready to run connector commands.
struct Session {
    engine: Engine,
    settings: Settings,
    image: String,
    image_id: String,
    user: String,
    running: Running,
    redactor: Redactor,
    spec_secret_keys: HashSet<String>,
}

/// Files handed to the connector, by name inside [`FILES_DIR`].
struct Files(Vec<(String, Vec<u8>)>);

impl Files {
    fn path(name: &str) -> String {
        format!("{FILES_DIR}/{name}")
    }
}

impl Session {
    async fn start(mut settings: Settings, running: Running) -> Result<Session, AppError> {
        if let Some(path) = &settings.connector_config_path {
            if connector_config::apply_kept(path, &mut settings.airbyte_config)
                .map_err(|e| AppError::new(Kind::Config, e))?
            {
                tracing::info!(path, "using the connector config the connector last issued (CONTROL), laid over airbyte_config");
            }
        }
        let engine = Engine::connect().await?;
        remove_stale(&engine).await;
        let image = settings.image_reference();
        let info = engine
            .ensure_image(&image, settings.registry_auth.as_ref())
            .await?;
        tracing::debug!(image, user = info.user, id = info.id, "image ready");
        let mut redactor = Redactor::new(&settings.airbyte_config, &HashSet::new());
        add_registry_secrets(&mut redactor, &settings);
        Ok(Session {
            engine,
            settings,
            image,
            image_id: info.id,
            user: info.user,
            running,
            redactor,
            spec_secret_keys: HashSet::new(),
        })
    }

    /// Learns which config values the connector's spec marks secret (spec cached per image id;
    /// asked from the connector once), so that they are masked too.
    async fn learn_secrets(&mut self) {
        let spec = match spec_cache::get(&self.image_id) {
            Some(spec) => spec,
            None => match self.spec().await {
                Ok(spec) => {
                    spec_cache::put(&self.image_id, &spec);
                    spec
                }
                Err(e) => {
                    tracing::debug!(
                        "no spec, so secrets are recognised by their key names only: {e}"
                    );
                    return;
                }
            },
        };
        self.spec_secret_keys = secret_keys_of_spec(&spec);
        self.redactor = Redactor::new(&self.settings.airbyte_config, &self.spec_secret_keys);
        add_registry_secrets(&mut self.redactor, &self.settings);
    }

    fn config_file(&self) -> (String, Vec<u8>) {
        let bytes =
            serde_json::to_vec(&self.settings.airbyte_config).expect("a JSON map serializes");
        ("config.json".to_string(), bytes)
    }

    /// Runs one connector command to its end; the container is removed on every path.
    async fn run_connector<W: Write + Send + 'static>(
        &self,
        args: Vec<String>,
        files: Files,
        reader: Reader,
        out: W,
    ) -> Result<Ran, AppError> {
        let command = args[0].clone();
        let spec = RunSpec {
            image: &self.image,
            args,
            files: files.0,
            mounts: &self.settings.docker_mounts,
        };
        let id = self.engine.create(&spec, &self.user).await?;
        self.running.set(&self.engine, &id);
        tracing::info!(image = %self.image, command, container = &id[..12], "running the connector");
        let reader = reader.with_redactor(self.redactor.clone(), self.spec_secret_keys.clone());
        let result = self.drive(&id, reader, out).await;
        self.engine.remove(&id).await;
        self.running.clear();
        if let Ok(ran) = &result {
            self.keep_control_config(&ran.finished.outcome)?;
        }
        result
    }

    /// Saves the last config the connector issued, if it issued one (see [`connector_config`]).
    fn keep_control_config(&self, outcome: &Outcome) -> Result<(), AppError> {
        let Some(config) = outcome.control_configs.last() else {
            return Ok(());
        };
        match &self.settings.connector_config_path {
            Some(path) => {
                connector_config::save(path, config.get()).map_err(|e| AppError::new(Kind::Config, e))?;
                tracing::info!(path, "saved the connector's new config; the next run uses it");
            }
            None => tracing::warn!(
                "the connector issued a new config (e.g. rotated credentials) that this run cannot keep; \
                 set `connector_config_path` so the next run uses it"
            ),
        }
        Ok(())
    }

    async fn drive<W: Write + Send + 'static>(
        &self,
        id: &str,
        reader: Reader,
        out: W,
    ) -> Result<Ran, AppError> {
        let (tx, rx) = tokio::sync::mpsc::channel(pipeline::CHANNEL_CHUNKS);
        let thread = pipeline::spawn(reader, rx, self.settings.max_line_bytes, out);
        let exit = self
            .engine
            .run(
                id,
                &self.image,
                tx,
                self.settings.idle_timeout,
                &self.redactor,
            )
            .await;
        let finished = tokio::task::spawn_blocking(move || thread.join())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| {
                AppError::new(Kind::Connector, anyhow!("the translating thread failed"))
            })?;
        match exit {
            Ok(exit) => Ok(Ran {
                finished,
                code: exit.code,
                stderr_tail: exit.stderr_tail,
            }),
            // The pipeline stopped first: its error is the one to report.
            Err(RunError::ConsumerGone) => Ok(Ran {
                finished,
                code: -1,
                stderr_tail: vec![],
            }),
            Err(RunError::Docker(e)) => Err(e.into()),
            Err(e @ RunError::Idle(_)) => Err(AppError::new(Kind::Connector, e)),
        }
    }

    async fn spec(&self) -> Result<serde_json::Value, AppError> {
        let ran = self
            .run_connector(
                vec!["spec".into()],
                Files(vec![]),
                Reader::command(),
                std::io::sink(),
            )
            .await?;
        ran.check_ended("spec")?;
        let spec = ran
            .finished
            .outcome
            .spec
            .as_ref()
            .ok_or_else(|| ran.failure("spec", "the connector printed no SPEC message"))?;
        serde_json::from_str(spec.get()).map_err(|e| {
            AppError::new(
                Kind::Connector,
                anyhow!("the connector's SPEC is not valid: {e}"),
            )
        })
    }

    async fn discover(&self) -> Result<(), AppError> {
        let streams = self.discover_streams().await?;
        output::json_document(&catalog::to_singer(&streams)).map_err(output_error)
    }

    async fn discover_streams(
        &self,
    ) -> Result<Vec<(crate::translate::airbyte::Stream, serde_json::Value)>, AppError> {
        let args = vec![
            "discover".into(),
            "--config".into(),
            Files::path("config.json"),
        ];
        let ran = self
            .run_connector(
                args,
                Files(vec![self.config_file()]),
                Reader::command(),
                std::io::sink(),
            )
            .await?;
        ran.check_ended("discover")?;
        let raw =
            ran.finished.outcome.catalog.as_ref().ok_or_else(|| {
                ran.failure("discover", "the connector printed no CATALOG message")
            })?;
        let parsed: Catalog = serde_json::from_str(raw.get()).map_err(|e| {
            AppError::new(
                Kind::Connector,
                anyhow!("the connector's CATALOG is not valid: {e}"),
            )
        })?;
        catalog::parse_streams(&parsed.streams).map_err(|e| AppError::new(Kind::Connector, e))
    }

    async fn test(&self) -> Result<(), AppError> {
        let args = vec![
            "check".into(),
            "--config".into(),
            Files::path("config.json"),
        ];
        let ran = self
            .run_connector(
                args,
                Files(vec![self.config_file()]),
                Reader::command(),
                std::io::sink(),
            )
            .await?;
        ran.check_ended("check")?;
        match &ran.finished.outcome.connection_status {
            Some(s) if s.status == "SUCCEEDED" => {
                tracing::info!("connection check succeeded");
                Ok(())
            }
            Some(s) => Err(AppError::new(
                Kind::Config,
                anyhow!(
                    "the connection check failed: {}",
                    s.message.as_deref().unwrap_or("(no message)")
                ),
            )),
            None => Err(ran.failure(
                "check",
                "the connector printed no CONNECTION_STATUS message",
            )),
        }
    }

    async fn sync(
        &self,
        singer_catalog: Option<&SingerCatalog>,
        state: StateStore,
    ) -> Result<(), AppError> {
        let discovered = if catalog::needs_discover(singer_catalog) {
            if singer_catalog.is_some() {
                tracing::info!(
                    "the catalog does not carry the connector's streams; running discover once"
                );
            }
            Some(self.discover_streams().await?)
        } else {
            None
        };
        let plan = catalog::plan(singer_catalog, discovered.as_deref())
            .map_err(|e| AppError::new(Kind::Config, e))?;
        for note in &plan.notes {
            tracing::warn!("{note}");
        }
        if plan.streams.is_empty() {
            tracing::warn!("no stream is selected; nothing to sync");
            return Ok(());
        }
        let mut files = vec![
            self.config_file(),
            (
                "catalog.json".to_string(),
                plan.configured_catalog.to_string().into_bytes(),
            ),
        ];
        let mut args = vec![
            "read".into(),
            "--config".into(),
            Files::path("config.json"),
            "--catalog".into(),
            Files::path("catalog.json"),
        ];
        if let Some(input) = state.connector_input() {
            files.push(("state.json".to_string(), input.into_bytes()));
            args.extend(["--state".to_string(), Files::path("state.json")]);
        }
        let reader = Reader::sync(&plan.streams, state);
        let ran = self
            .run_connector(args, Files(files), reader, output::singer_stream())
            .await?;
        ran.check_ended("read")?;
        let o = &ran.finished.outcome;
        tracing::info!(
            records = o.records,
            states = o.states,
            streams = plan.streams.len(),
            "sync finished"
        );
        Ok(())
    }
}

/// A finished connector run.
struct Ran {
    finished: Finished,
    code: i64,
    stderr_tail: Vec<String>,
}

impl Ran {
    /// Errors for a run that did not end well: the pipeline's own error first (stdout closed, a line
    /// too long), then TRACE errors, then a non-zero exit code.
    fn check_ended(&self, command: &str) -> Result<(), AppError> {
        match &self.finished.error {
            Some(PipelineError::OutputClosed) => {
                return Err(AppError::new(
                    Kind::OutputClosed,
                    anyhow!("stdout was closed by its reader; the sync did not finish"),
                ))
            }
            Some(e @ PipelineError::Output(_)) => {
                return Err(AppError::new(Kind::Connector, anyhow!("{e}")))
            }
            Some(e @ PipelineError::Line(_)) => return Err(self.failure(command, &e.to_string())),
            None => {}
        }
        let o: &Outcome = &self.finished.outcome;
        if let Some(first) = o.errors.first() {
            let kind = if o
                .errors
                .iter()
                .any(|e| e.failure_type.as_deref() == Some("config_error"))
            {
                Kind::Config
            } else {
                Kind::Connector
            };
            let mut text = format!(
                "the connector reported {} error{} ({}): {}",
                o.errors.len(),
                if o.errors.len() == 1 { "" } else { "s" },
                first
                    .failure_type
                    .as_deref()
                    .unwrap_or("unknown failure type"),
                first.message.as_deref().unwrap_or("(no message)")
            );
            if self.code != 0 {
                text.push_str(&format!("; it exited with code {}", self.code));
            }
            return Err(AppError {
                kind,
                error: anyhow!(self.with_stderr(text)),
            });
        }
        if let Some(first) = &o.first_damage {
            let what = format!(
                "the connector wrote {} line{} that looked like Airbyte messages but could not be read \
                 (no STATE was emitted after the first; the next run resumes before it). First: {first}",
                o.damaged_lines,
                if o.damaged_lines == 1 { "" } else { "s" }
            );
            return Err(self.failure(command, &what));
        }
        if self.code != 0 {
            return Err(self.failure(
                command,
                &format!("the connector exited with code {}", self.code),
            ));
        }
        Ok(())
    }

    fn failure(&self, command: &str, what: &str) -> AppError {
        AppError::new(
            Kind::Connector,
            anyhow!(self.with_stderr(format!("`{command}` failed: {what}"))),
        )
    }

    fn with_stderr(&self, mut text: String) -> String {
        if !self.stderr_tail.is_empty() {
            text.push_str("\n  last lines of the connector's stderr:");
            for line in &self.stderr_tail {
                text.push_str("\n    ");
                text.push_str(line);
            }
        }
        text
    }
}

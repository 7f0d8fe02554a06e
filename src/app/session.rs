//! The commands as connector runs: `spec`, `check`, `discover` and `read` through a [`Backend`],
//! and what each run's outcome means for the exit code.
use super::connector::{Backend, Invocation};
use super::lifecycle::Running;
use super::output_error;
use super::verdict::Report;
use crate::error::{AppError, Kind};
use crate::settings::Settings;
use crate::translate::airbyte::Catalog;
use crate::translate::catalog::{self, SingerCatalog};
use crate::translate::reader::{Outcome, Reader};
use crate::translate::redact::{secret_keys_of_spec, Redactor};
use crate::translate::state::StateStore;
use crate::{connector_config, output, spec_cache};
use anyhow::{anyhow, Context};
use std::collections::HashSet;
use std::io::Write;

fn add_registry_secrets(redactor: &mut Redactor, settings: &Settings) {
    if let Some(auth) = &settings.registry_auth {
        let secrets = serde_json::json!({"password": auth.password, "token": auth.identity_token});
        redactor.add_config(secrets.as_object().expect("an object"), &HashSet::new());
    }
}

/// The connector, ready to run commands wherever it runs.
pub(super) struct Session {
    backend: Backend,
    settings: Settings,
    running: Running,
    redactor: Redactor,
    spec_secret_keys: HashSet<String>,
}

impl Session {
    pub(super) async fn start(
        mut settings: Settings,
        running: Running,
    ) -> Result<Session, AppError> {
        if let Some(path) = &settings.connector_config_path {
            if connector_config::apply_kept(path, &mut settings.airbyte_config)
                .map_err(|e| AppError::new(Kind::Config, e))?
            {
                tracing::info!(path, "using the connector config the connector last issued (CONTROL), laid over airbyte_config");
            }
        }
        let backend = Backend::prepare(&settings).await?;
        let mut redactor = Redactor::new(&settings.airbyte_config, &HashSet::new());
        add_registry_secrets(&mut redactor, &settings);
        Ok(Session {
            backend,
            settings,
            running,
            redactor,
            spec_secret_keys: HashSet::new(),
        })
    }

    /// Learns which config values the connector's spec marks secret (spec cached per image id or
    /// native build; asked from the connector once), so that they are masked too.
    pub(super) async fn learn_secrets(&mut self) {
        let spec = match spec_cache::get(&self.backend.spec_key()) {
            Some(spec) => spec,
            None => match self.spec().await {
                Ok(spec) => spec,
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

    /// Runs one connector command to its end; the container or process is gone on every path.
    async fn run_connector<W: Write + Send + 'static>(
        &self,
        invocation: Invocation,
        reader: Reader,
        out: W,
    ) -> Result<Report, AppError> {
        let reader = reader.with_redactor(self.redactor.clone(), self.spec_secret_keys.clone());
        let end = self
            .backend
            .run(
                &self.settings,
                &self.running,
                &self.redactor,
                invocation,
                reader,
                out,
            )
            .await?;
        // Whatever ended the run (an idle timeout, an engine error), a config the connector issued
        // is kept: single-use refresh tokens would be lost otherwise.
        self.keep_control_config(&end.finished.outcome)?;
        Report::from_end(end)
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

    /// Runs the connector's `spec` (and caches it for the image).
    pub(super) async fn spec(&self) -> Result<serde_json::Value, AppError> {
        let ran = self
            .run_connector(
                Invocation {
                    command: "spec",
                    files: vec![],
                },
                Reader::command(),
                std::io::sink(),
            )
            .await?;
        ran.verdict("spec")?;
        let spec = ran
            .finished
            .outcome
            .spec
            .as_ref()
            .ok_or_else(|| ran.failure("spec", "the connector printed no SPEC message"))?;
        let spec: serde_json::Value = serde_json::from_str(spec.get()).map_err(|e| {
            AppError::new(
                Kind::Connector,
                anyhow!("the connector's SPEC is not valid: {e}"),
            )
        })?;
        spec_cache::put(&self.backend.spec_key(), &spec);
        Ok(spec)
    }

    /// Runs `check` or `discover`: the command with `--config`, its output collected, not emitted.
    async fn config_command(&self, command: &'static str) -> Result<Report, AppError> {
        let ran = self
            .run_connector(
                Invocation {
                    command,
                    files: vec![self.config_file()],
                },
                Reader::command(),
                std::io::sink(),
            )
            .await?;
        ran.verdict(command)?;
        Ok(ran)
    }

    pub(super) async fn discover(&self) -> Result<(), AppError> {
        let streams = self.discover_streams().await?;
        output::json_document(&catalog::to_singer(&streams)).map_err(output_error)
    }

    async fn discover_streams(
        &self,
    ) -> Result<Vec<(crate::translate::airbyte::Stream, serde_json::Value)>, AppError> {
        let ran = self.config_command("discover").await?;
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

    pub(super) async fn test(&self) -> Result<(), AppError> {
        let ran = self.config_command("check").await?;
        match &ran.finished.outcome.connection_status {
            Some(s) if s.status == "SUCCEEDED" => {
                tracing::info!("connection check succeeded");
                Ok(())
            }
            Some(s) => Err(AppError::new(
                Kind::Config,
                anyhow!(
                    "the connection check failed: {}",
                    self.redactor
                        .redact(s.message.as_deref().unwrap_or("(no message)"))
                ),
            )),
            None => Err(ran.failure(
                "check",
                "the connector printed no CONNECTION_STATUS message",
            )),
        }
    }

    pub(super) async fn sync(
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
        if let Some(input) = state.connector_input() {
            files.push(("state.json".to_string(), input.into_bytes()));
        }
        let reader = Reader::sync_mapped(&plan.streams, state, &self.settings.maps.0)
            .map_err(|e| AppError::new(Kind::Config, e))?
            .with_batch(self.settings.batch.clone());
        if let Some(batch) = &self.settings.batch {
            std::fs::create_dir_all(&batch.root)
                .with_context(|| format!("cannot create the batch folder {}", batch.root.display()))
                .map_err(|e| AppError::new(Kind::Config, e))?;
        }
        let ran = self
            .run_connector(
                Invocation {
                    command: "read",
                    files,
                },
                reader,
                output::singer_stream(),
            )
            .await?;
        ran.verdict("read")?;
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

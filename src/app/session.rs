//! The commands as connector runs: `spec`, `check`, `discover` and `read` through a [`Backend`],
//! and what each run's outcome means for the exit code.
use super::connector::{Backend, Invocation, RunEnd};
use super::lifecycle::Running;
use super::output_error;
use crate::error::{AppError, Kind};
use crate::pipeline::{Finished, PipelineError};
use crate::runtime::{Completeness, RunError};
use crate::settings::Settings;
use crate::translate::airbyte::Catalog;
use crate::translate::catalog::{self, SingerCatalog};
use crate::translate::reader::{Outcome, Reader};
use crate::translate::redact::{secret_keys_of_spec, Redactor};
use crate::translate::state::StateStore;
use crate::{connector_config, output, spec_cache};
use anyhow::anyhow;
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
    ) -> Result<Ran, AppError> {
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
        Ran::from_end(end)
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
        ran.check_ended("spec")?;
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
    async fn config_command(&self, command: &'static str) -> Result<Ran, AppError> {
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
        ran.check_ended(command)?;
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
        let reader = Reader::sync(&plan.streams, state);
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
    complete: Completeness,
}

impl Ran {
    fn from_end(end: RunEnd) -> Result<Ran, AppError> {
        match end.exit {
            Ok(exit) => Ok(Ran {
                finished: end.finished,
                code: exit.code,
                complete: exit.complete,
            }),
            // The translator stopped first (its error is reported): the run was cut short.
            Err(RunError::ConsumerGone) => Ok(Ran {
                finished: end.finished,
                code: -1,
                complete: Completeness::Missing,
            }),
            Err(RunError::Docker(e)) => Err(e.into()),
            Err(e @ RunError::Process(_)) => Err(AppError::new(Kind::Connector, e)),
            Err(e @ RunError::Idle(_)) => Err(AppError::new(Kind::Connector, e)),
        }
    }
}

impl Ran {
    /// Errors for a run that did not end well: the pipeline's own error first (stdout closed, a line
    /// too long), then TRACE errors, then a non-zero exit code.
    fn check_ended(&self, command: &str) -> Result<(), AppError> {
        match &self.finished.error {
            Some(PipelineError::OutputClosed) => {
                return Err(AppError::new(
                    Kind::Output,
                    anyhow!("stdout was closed by its reader; the sync did not finish"),
                ))
            }
            Some(e @ PipelineError::Output(_)) => {
                return Err(AppError::new(
                    Kind::Output,
                    anyhow!("{e}; the sync did not finish"),
                ))
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
            return Err(self.failure(command, &exit_text(self.code)));
        }
        if self.complete == Completeness::Missing {
            return Err(self.failure(
                command,
                "the connector's output ended without its end marker: the engine closed the stream \
                 early or the container was killed, so output after what was delivered may be missing (every \
                 STATE emitted covers only delivered records; the next run resumes from the last one)",
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
        if !self.finished.stderr_tail.is_empty() {
            text.push_str("\n  last lines of the connector's stderr:");
            for line in &self.finished.stderr_tail {
                text.push_str("\n    ");
                text.push_str(line);
            }
        }
        text
    }
}

/// What an exit status says: a code, or the signal that killed the connector (statuses above 128
/// are signals, as shells and engines report them).
fn exit_text(code: i64) -> String {
    let signal = match code - 128 {
        6 => Some("SIGABRT"),
        9 => Some("SIGKILL: out of memory, or killed from outside"),
        11 => Some("SIGSEGV"),
        15 => Some("SIGTERM"),
        _ => None,
    };
    match signal {
        Some(name) => format!(
            "the connector was killed by signal {} ({name}; exit status {code})",
            code - 128
        ),
        None => format!("the connector exited with code {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_name_the_signal_that_killed_the_connector() {
        assert_eq!(exit_text(1), "the connector exited with code 1");
        assert!(exit_text(137).contains("killed by signal 9 (SIGKILL"));
        assert!(exit_text(143).contains("signal 15 (SIGTERM"));
        assert_eq!(exit_text(200), "the connector exited with code 200");
    }
}

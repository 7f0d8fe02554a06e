//! The commands: `--about`, `--discover`, `--test` and the sync. Each one reads its inputs first
//! (settings, catalog, state: errors before any connector runs), then runs the connector through
//! [`connector::Backend::run`], the one place where a container or process is started, driven and
//! removed, on every path: success, error, broken pipe; on a signal [`run`] removes it.
//!
//! - [`connector`]: where the connector runs (Docker, or a local process) and one run of it.
//! - [`session`]: the connector commands.
//! - [`verdict`]: one report of a finished run and the pure verdict over it (the exit code).
//! - [`lifecycle`]: signals, the running connector, what killed taps left.
mod connector;
mod lifecycle;
mod session;
mod verdict;

use crate::about;
use crate::cli::Args;
use crate::error::{AppError, Kind};
use crate::settings;
use crate::translate::catalog::SingerCatalog;
use crate::translate::state::StateStore;
use anyhow::{anyhow, Context};
use lifecycle::{die_by, Running, Signals};
use session::Session;

/// Runs the command the arguments ask for. SIGTERM, SIGINT, SIGHUP and SIGQUIT at any point stop and
/// remove the connector if one runs, then end the tap by the same signal.
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

async fn command(args: Args, running: Running) -> Result<(), AppError> {
    if args.about && args.config.is_empty() {
        return about::print(args.format, None, None).map_err(output_error);
    }
    let env: Vec<(String, String)> = std::env::vars().collect();
    let raw = settings::load_raw(&args.config, &env)?;
    for key in settings::schema::unknown(&raw) {
        tracing::warn!(
            setting = %key,
            "unknown setting, ignored (`tap-airbyte --about` lists the settings)"
        );
    }
    if args.about {
        return about_with_config(&args, &raw, running).await;
    }
    let settings = settings::check(&raw)?;
    // `meltano invoke tap --discover` passes the catalog it keeps; discovery does not read it.
    let catalog = match args.catalog_path() {
        Some(_) if args.discover => None,
        path => path.map(read_catalog).transpose()?,
    };
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
        AppError::new(Kind::Output, anyhow!("stdout was closed by its reader"))
    } else {
        AppError::new(Kind::Output, anyhow!(e).context("cannot write to stdout"))
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
        session.spec().await
    }
    .await;
    match spec {
        Ok(spec) => {
            about::print(args.format, Some(&spec), raw.get("airbyte_spec")).map_err(output_error)
        }
        Err(e) => {
            tracing::warn!(
                "cannot get the connector's spec, printing the tap's own settings only: {e}"
            );
            about::print(args.format, None, raw.get("airbyte_spec")).map_err(output_error)
        }
    }
}

//! tap-airbyte: runs an Airbyte source connector image through the Docker Engine API and turns its
//! Airbyte messages into Singer messages on stdout.
//!
//! Dependencies go one way: `main → app → {runtime, pipeline, output} → translate`.
//!
//! - [`cli`]: the command line (parsing only).
//! - [`settings`]: config files and `TAP_AIRBYTE_*` variables into checked [`settings::Settings`].
//! - [`app`]: the commands; `app::session` holds the one place where a connector container is
//!   created, driven and removed, `app::lifecycle` the signals and stale containers.
//! - [`connector_config`]: the connector config issued by the connector (CONTROL), kept between runs.
//! - [`runtime`]: where a connector runs (a Docker container today), behind one seam, and the one
//!   loop that drives a run; `runtime::docker` is the only module that uses bollard.
//! - [`pipeline`]: connector stdout chunks → lines → translator, on its own thread, with back-pressure.
//! - [`spec_cache`]: connector specs cached per image id (which config values are secret).
//! - [`translate`]: the pure, synchronous Airbyte → Singer translation core.
//! - [`output`]: stdout; the only module that writes to it.
//! - [`about`]: the `--about` output.
//! - [`error`]: failure kinds and exit codes.
//! - [`logging`]: logs to stderr.
pub mod about;
pub mod app;
pub mod cli;
pub mod connector_config;
pub mod error;
pub mod logging;
pub mod output;
pub mod pipeline;
pub mod runtime;
pub mod settings;
pub mod spec_cache;
pub mod translate;

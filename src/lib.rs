//! tap-airbyte: runs an Airbyte source connector (an image through the Docker Engine API, or a
//! local process: a PyPI package in a managed virtualenv, or a command the user installed) and turns
//! its Airbyte messages into Singer messages on stdout.
//!
//! Dependencies go one way: `main → app → {runtime, pipeline, output} → translate`.
//!
//! - [`cli`]: the command line (parsing only).
//! - [`settings`]: config files and `TAP_AIRBYTE_*` variables into checked [`settings::Settings`].
//! - [`app`]: the commands; `app::connector` holds the one place where a connector (container or
//!   process) is started, driven and removed, `app::session` the commands and their verdicts,
//!   `app::lifecycle` the signals and what killed taps left.
//! - [`connector_config`]: the connector config issued by the connector (CONTROL), kept between runs.
//! - [`runtime`]: where a connector runs (a container, a child process), behind one seam, and the
//!   one loop that drives a run; `runtime::docker` is the only module that uses bollard,
//!   `runtime::process` the only one that starts connector processes.
//! - [`pipeline`]: connector stdout chunks → lines → translator, stderr → masked log lines, on its
//!   own thread, with back-pressure.
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
pub mod maps;
pub mod output;
pub mod pipeline;
pub mod runtime;
pub mod settings;
pub mod spec_cache;
pub mod translate;

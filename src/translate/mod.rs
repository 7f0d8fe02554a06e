//! The translation core: Airbyte protocol in, Singer protocol out. Pure and synchronous: no tokio,
//! no Docker, no stdout; output goes to any `std::io::Write` given by the caller.
//!
//! - [`airbyte`]: borrowed views of connector messages.
//! - [`singer`]: encoding of Singer lines.
//! - [`catalog`]: Airbyte CATALOG ⇄ Singer catalog, and the configured catalog for `read`.
//! - [`state`]: state input shapes, merging, and the Singer STATE value.
//! - [`schema`]: Airbyte JSON Schema dialect → Singer-friendly schemas.
//! - [`redact`]: secrets kept off logs and errors.
//! - [`scan`]: the reader's fast path, one validating pass over a RECORD line.
//! - [`reader`]: the per-line translator and what a run produced ([`reader::Outcome`]).
//! - [`batch`]: BATCH output: records in files announced before every STATE.
//! - [`parquet`]: BATCH files in parquet: a stream's JSON Schema as Arrow columns.
//! - [`route`]: where a stream's records go after translation: spliced as they are (minus
//!   deselected properties), or through stream maps and flattening ([`crate::maps`]).
pub mod airbyte;
pub mod batch;
pub mod catalog;
pub mod parquet;
pub mod reader;
pub mod redact;
pub mod route;
pub mod scan;
pub mod schema;
pub mod singer;
pub mod state;

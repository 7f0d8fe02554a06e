//! stdout, the Singer channel: the only module that writes to it. Everything else logs to stderr.
#![allow(clippy::print_stdout)]

use std::io::{self, BufWriter, Stdout, Write};

/// Size of the stdout buffer: records are flushed in blocks and at every STATE.
pub const BUFFER_BYTES: usize = 256 * 1024;

/// The buffered Singer stream.
pub fn singer_stream() -> BufWriter<Stdout> {
    BufWriter::with_capacity(BUFFER_BYTES, io::stdout())
}

/// Writes one JSON document (a catalog, `--about --format json`) and a newline.
pub fn json_document<T: serde::Serialize + ?Sized>(value: &T) -> io::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Writes text as it is (`--version`, `--about` in text or markdown).
pub fn text(s: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(s.as_bytes())?;
    out.flush()
}

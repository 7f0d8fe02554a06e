//! BATCH output, as the Singer SDK defines it (`batch_config`): a stream's records go into files
//! (`jsonl`: the record objects, one per line, not Singer messages; `parquet`: the columns of the
//! stream's schema, [`super::parquet`]), and a BATCH message
//! `{"type":"BATCH","stream":S,"encoding":{"format":"jsonl","compression":"gzip"},"manifest":[URL…]}`
//! names the files once they are complete.
//!
//! Ordering: before every Singer STATE the reader writes, [`Batcher::announce`] closes the open
//! file of every stream and announces it, so a STATE never covers a record that is in no
//! announced file. A file is written under a temporary name (`….part`) and renamed when it is
//! complete; a file that is never completed (the tap dies, stdout fails) is removed, or left with
//! its `.part` name, never announced. Memory stays bounded: records are streamed to the file.
use super::parquet::{Codec, Layout, Misfit, ParquetFile};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `batch_config.encoding`: the files' format and compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// JSON Lines, gzipped (`.json.gz`) or not (`.json`).
    Jsonl { gzip: bool },
    /// Parquet (`.parquet`), its pages compressed with this codec.
    Parquet(Codec),
}

impl Encoding {
    /// The `encoding` object of the BATCH message.
    fn message(self) -> Value {
        let (format, compression) = match self {
            Encoding::Jsonl { gzip: true } => ("jsonl", "gzip"),
            Encoding::Jsonl { gzip: false } => ("jsonl", "none"),
            Encoding::Parquet(Codec::Gzip) => ("parquet", "gzip"),
            Encoding::Parquet(Codec::Snappy) => ("parquet", "snappy"),
            Encoding::Parquet(Codec::None) => ("parquet", "none"),
        };
        serde_json::json!({"format": format, "compression": compression})
    }

    fn extension(self) -> &'static str {
        match self {
            Encoding::Jsonl { gzip: true } => "json.gz",
            Encoding::Jsonl { gzip: false } => "json",
            Encoding::Parquet(_) => "parquet",
        }
    }
}

/// `batch_config`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchConfig {
    pub encoding: Encoding,
    /// The folder of `storage.root` (`file://…`).
    pub root: PathBuf,
    pub prefix: String,
    /// Records per file; a stream's file is also closed at every STATE.
    pub batch_size: u64,
}

/// The SDK's default `batch_size`.
pub const DEFAULT_BATCH_SIZE: u64 = 10_000;

enum Sink {
    Plain(BufWriter<File>),
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
    Parquet(Box<ParquetFile>),
}

impl Sink {
    /// Appends one record.
    fn append(&mut self, data: &[u8]) -> io::Result<Result<(), Misfit>> {
        let w: &mut dyn Write = match self {
            Sink::Plain(w) => w,
            Sink::Gzip(w) => w,
            Sink::Parquet(p) => return p.append(data),
        };
        w.write_all(data)?;
        w.write_all(b"\n")?;
        Ok(Ok(()))
    }

    fn finish(self) -> io::Result<()> {
        let mut inner = match self {
            Sink::Plain(w) => w,
            Sink::Gzip(w) => w.finish()?,
            Sink::Parquet(p) => return p.finish(),
        };
        inner.flush()?;
        inner.get_ref().sync_all()
    }
}

struct OpenFile {
    part: PathBuf,
    done: PathBuf,
    sink: Sink,
    records: u64,
}

/// The batch files of one sync.
pub struct Batcher {
    config: BatchConfig,
    /// A name shared by this sync's files.
    run: String,
    files: u64,
    open: BTreeMap<String, OpenFile>,
    /// Completed files not announced yet, per stream, in order.
    complete: BTreeMap<String, Vec<PathBuf>>,
    /// Parquet: each output stream's columns, from its SCHEMA ([`Batcher::declare`]).
    layouts: HashMap<String, Arc<Layout>>,
    /// Parquet: undeclared properties already logged as left out, per stream.
    dropped: HashSet<(String, String)>,
}

impl Batcher {
    pub fn new(config: BatchConfig) -> Batcher {
        Batcher {
            config,
            run: uuid::Uuid::new_v4().simple().to_string(),
            files: 0,
            open: BTreeMap::new(),
            complete: BTreeMap::new(),
            layouts: HashMap::new(),
            dropped: HashSet::new(),
        }
    }

    /// The schema (the Singer SCHEMA's `schema`) of an output stream: its parquet columns.
    pub fn declare(&mut self, stream: &str, schema: &Value) {
        self.layouts
            .insert(stream.to_string(), Arc::new(Layout::new(schema)));
    }

    /// Appends one record (a JSON object) to the stream's open file, opening one if needed. A
    /// record that does not fit the stream's parquet columns is not written ([`Misfit`]).
    pub fn record(&mut self, stream: &str, data: &[u8]) -> io::Result<Result<(), Misfit>> {
        if !self.open.contains_key(stream) {
            let file = self.create(stream)?;
            self.open.insert(stream.to_string(), file);
        }
        let file = self.open.get_mut(stream).expect("opened above");
        if let Err(m) = file.sink.append(data)? {
            return Ok(Err(m));
        }
        if let Sink::Parquet(p) = &mut file.sink {
            for path in p.take_dropped() {
                let key = (stream.to_string(), path);
                if !self.dropped.contains(&key) {
                    tracing::warn!(
                        stream,
                        property = key.1.as_str(),
                        "a property the stream's schema does not declare has no parquet column: \
                         left out of the BATCH files"
                    );
                    self.dropped.insert(key);
                }
            }
        }
        file.records += 1;
        if file.records >= self.config.batch_size {
            self.close(stream)?;
        }
        Ok(Ok(()))
    }

    fn create(&mut self, stream: &str) -> io::Result<OpenFile> {
        self.files += 1;
        let safe: String = stream
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let ext = self.config.encoding.extension();
        let name = format!(
            "{}tap-airbyte--{safe}-{}-{}.{ext}",
            self.config.prefix, self.run, self.files
        );
        let done = self.config.root.join(name);
        let mut part = done.clone().into_os_string();
        part.push(".part");
        let part = PathBuf::from(part);
        let file = File::create(&part)?;
        let sink = match self.config.encoding {
            Encoding::Jsonl { gzip } => {
                let writer = BufWriter::with_capacity(256 * 1024, file);
                if gzip {
                    Sink::Gzip(flate2::write::GzEncoder::new(
                        writer,
                        flate2::Compression::fast(),
                    ))
                } else {
                    Sink::Plain(writer)
                }
            }
            Encoding::Parquet(codec) => {
                let layout = self
                    .layouts
                    .entry(stream.to_string())
                    .or_insert_with(|| Arc::new(Layout::new(&Value::Null)))
                    .clone();
                match ParquetFile::create(file, layout, codec) {
                    Ok(p) => Sink::Parquet(Box::new(p)),
                    Err(e) => {
                        let _ = std::fs::remove_file(&part);
                        return Err(e);
                    }
                }
            }
        };
        Ok(OpenFile {
            part,
            done,
            sink,
            records: 0,
        })
    }

    fn close(&mut self, stream: &str) -> io::Result<()> {
        if let Some(file) = self.open.remove(stream) {
            file.sink.finish()?;
            std::fs::rename(&file.part, &file.done)?;
            self.complete
                .entry(stream.to_string())
                .or_default()
                .push(file.done);
        }
        Ok(())
    }

    /// Closes every open file and writes a BATCH message per stream for the files completed since
    /// the last announcement. Called before every STATE and at the end of a run.
    pub fn announce(&mut self, out: &mut impl Write) -> io::Result<()> {
        let streams: Vec<String> = self.open.keys().cloned().collect();
        for s in streams {
            self.close(&s)?;
        }
        let encoding = self.config.encoding.message();
        for (stream, files) in std::mem::take(&mut self.complete) {
            let manifest: Vec<String> = files.iter().map(|p| file_url(p)).collect();
            serde_json::to_writer(
                &mut *out,
                &serde_json::json!({
                    "type": "BATCH",
                    "stream": stream,
                    "encoding": encoding,
                    "manifest": manifest,
                }),
            )?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// Files still open when the batcher goes away (a run that ended without announcing them) are
/// removed: nothing announced them, and nothing will.
impl Drop for Batcher {
    fn drop(&mut self) {
        for file in self.open.values() {
            let _ = std::fs::remove_file(&file.part);
        }
    }
}

/// `file:///abs/path`, with the characters a URL cannot hold percent-encoded.
fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn config(dir: &Path, gzip: bool, batch_size: u64) -> BatchConfig {
        BatchConfig {
            encoding: Encoding::Jsonl { gzip },
            root: dir.to_path_buf(),
            prefix: "p-".into(),
            batch_size,
        }
    }

    fn read(url: &str, gzip: bool) -> String {
        let path = url.strip_prefix("file://").unwrap();
        let mut text = String::new();
        let file = File::open(path).unwrap();
        if gzip {
            flate2::read::GzDecoder::new(file)
                .read_to_string(&mut text)
                .unwrap();
        } else {
            let mut f = file;
            f.read_to_string(&mut text).unwrap();
        }
        text
    }

    #[test]
    fn files_are_announced_complete_and_rotate_at_the_batch_size() {
        let dir = tempfile::tempdir().unwrap();
        for gzip in [true, false] {
            let mut b = Batcher::new(config(dir.path(), gzip, 2));
            for i in 0..3 {
                b.record("a/b", format!("{{\"id\":{i}}}").as_bytes())
                    .unwrap()
                    .unwrap();
            }
            b.record("c", b"{\"id\":9}").unwrap().unwrap();
            let mut out = Vec::new();
            b.announce(&mut out).unwrap();
            let messages: Vec<serde_json::Value> = String::from_utf8(out)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(messages.len(), 2);
            assert_eq!(messages[0]["stream"], "a/b");
            let manifest = messages[0]["manifest"].as_array().unwrap();
            assert_eq!(manifest.len(), 2, "two records per file");
            let text: String = manifest
                .iter()
                .map(|u| read(u.as_str().unwrap(), gzip))
                .collect();
            assert_eq!(text, "{\"id\":0}\n{\"id\":1}\n{\"id\":2}\n");
            assert_eq!(
                messages[1]["encoding"]["compression"],
                if gzip { "gzip" } else { "none" }
            );
            let mut again = Vec::new();
            b.announce(&mut again).unwrap();
            assert!(again.is_empty(), "nothing new to announce");
        }
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("p-tap-airbyte--") && !n.ends_with(".part")),
            "{names:?}"
        );
    }

    #[test]
    fn a_file_never_completed_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Batcher::new(config(dir.path(), true, 100));
        b.record("a", b"{}").unwrap().unwrap();
        drop(b);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn parquet_files_hold_the_declared_columns_and_are_announced_as_parquet() {
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let dir = tempfile::tempdir().unwrap();
        let mut b = Batcher::new(BatchConfig {
            encoding: Encoding::Parquet(Codec::Gzip),
            ..config(dir.path(), false, 2)
        });
        b.declare(
            "s",
            &serde_json::json!({"properties": {"id": {"type": "integer"}}}),
        );
        for i in 0..3 {
            let r = format!("{{\"id\":{i},\"undeclared\":1}}");
            b.record("s", r.as_bytes()).unwrap().unwrap();
        }
        let why = b.record("s", br#"{"id":"x"}"#).unwrap().unwrap_err();
        assert!(why.0.contains("`id`"), "{why:?}");
        let mut out = Vec::new();
        b.announce(&mut out).unwrap();
        let m: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            m["encoding"],
            serde_json::json!({"format": "parquet", "compression": "gzip"})
        );
        let mut ids = vec![];
        for url in m["manifest"].as_array().unwrap() {
            let path = url.as_str().unwrap().strip_prefix("file://").unwrap();
            assert!(path.ends_with(".parquet"), "{path}");
            let file = File::open(path).unwrap();
            let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
            let names: Vec<String> = reader
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            assert_eq!(names, ["id"]);
            for batch in reader.build().unwrap() {
                let batch = batch.unwrap();
                let col = batch.column(0);
                let col = arrow_array::cast::AsArray::as_primitive::<arrow_array::types::Int64Type>(
                    col.as_ref(),
                );
                ids.extend(col.values().iter().copied());
            }
        }
        assert_eq!(ids, [0, 1, 2], "two files: two records, then one");

        // An unfinished parquet file is removed too.
        let mut b = Batcher::new(BatchConfig {
            encoding: Encoding::Parquet(Codec::Snappy),
            ..config(dir.path(), false, 100)
        });
        b.record("t", b"{}").unwrap().unwrap();
        drop(b);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}

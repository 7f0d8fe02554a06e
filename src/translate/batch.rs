//! BATCH output, as the Singer SDK defines it (`batch_config`): a stream's records go into files
//! (the record objects, one per line, not Singer messages), and a BATCH message
//! `{"type":"BATCH","stream":S,"encoding":{"format":"jsonl","compression":"gzip"},"manifest":[URL…]}`
//! names the files once they are complete.
//!
//! Ordering: before every Singer STATE the reader writes, [`Batcher::announce`] closes the open
//! file of every stream and announces it, so a STATE never covers a record that is in no
//! announced file. A file is written under a temporary name (`….part`) and renamed when it is
//! complete; a file that is never completed (the tap dies, stdout fails) is removed, or left with
//! its `.part` name, never announced. Memory stays bounded: records are streamed to the file.
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// `batch_config`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchConfig {
    pub gzip: bool,
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
}

impl Sink {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Sink::Plain(w) => w,
            Sink::Gzip(w) => w,
        }
    }

    fn finish(self) -> io::Result<()> {
        let mut inner = match self {
            Sink::Plain(w) => w,
            Sink::Gzip(w) => w.finish()?,
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
}

impl Batcher {
    pub fn new(config: BatchConfig) -> Batcher {
        Batcher {
            config,
            run: uuid::Uuid::new_v4().simple().to_string(),
            files: 0,
            open: BTreeMap::new(),
            complete: BTreeMap::new(),
        }
    }

    /// Appends one record (a JSON object) to the stream's open file, opening one if needed.
    pub fn record(&mut self, stream: &str, data: &[u8]) -> io::Result<()> {
        if !self.open.contains_key(stream) {
            let file = self.create(stream)?;
            self.open.insert(stream.to_string(), file);
        }
        let file = self.open.get_mut(stream).expect("opened above");
        let w = file.sink.writer();
        w.write_all(data)?;
        w.write_all(b"\n")?;
        file.records += 1;
        if file.records >= self.config.batch_size {
            self.close(stream)?;
        }
        Ok(())
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
        let ext = if self.config.gzip { "json.gz" } else { "json" };
        let name = format!(
            "{}tap-airbyte--{safe}-{}-{}.{ext}",
            self.config.prefix, self.run, self.files
        );
        let done = self.config.root.join(name);
        let mut part = done.clone().into_os_string();
        part.push(".part");
        let part = PathBuf::from(part);
        let writer = BufWriter::with_capacity(256 * 1024, File::create(&part)?);
        let sink = if self.config.gzip {
            Sink::Gzip(flate2::write::GzEncoder::new(
                writer,
                flate2::Compression::fast(),
            ))
        } else {
            Sink::Plain(writer)
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
        let compression = if self.config.gzip { "gzip" } else { "none" };
        for (stream, files) in std::mem::take(&mut self.complete) {
            let manifest: Vec<String> = files.iter().map(|p| file_url(p)).collect();
            serde_json::to_writer(
                &mut *out,
                &serde_json::json!({
                    "type": "BATCH",
                    "stream": stream,
                    "encoding": {"format": "jsonl", "compression": compression},
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
            gzip,
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
                    .unwrap();
            }
            b.record("c", b"{\"id\":9}").unwrap();
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
        b.record("a", b"{}").unwrap();
        drop(b);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

//! The translator alone, without Docker or a connector: connector output in, Singer out to a sink,
//! in MB/s of connector output. So a regression in the read path shows on any machine:
//!
//!     cargo bench --bench translate
//!
//! Inputs: the bundled connector's RECORD lines as `docker/bench.py` configures it (253 bytes, one
//! STATE every 10,000 records), and the real faker connector's output in `tests/corpus` (records of
//! three streams, logs, traces and states) repeated. Each is read as the pipeline reads it: 64 KiB
//! chunks, cut into lines ([`LineFramer`]), each line through [`Reader::on_line`], and the Singer
//! lines into a buffer the size of the tap's stdout buffer, flushed to a sink.
use divan::counter::BytesCount;
use divan::Bencher;
use serde_json::json;
use std::io;
use tap_airbyte::output::BUFFER_BYTES;
use tap_airbyte::pipeline::lines::LineFramer;
use tap_airbyte::pipeline::PipelineError;
use tap_airbyte::translate::airbyte::StreamDescriptor;
use tap_airbyte::translate::catalog::StreamPlan;
use tap_airbyte::translate::reader::Reader;
use tap_airbyte::translate::state::StateStore;

fn main() {
    divan::main();
}

/// About 25 MB of connector output.
const TARGET_BYTES: usize = 25_000_000;

fn plan(name: &str) -> StreamPlan {
    StreamPlan {
        descriptor: StreamDescriptor {
            name: name.into(),
            namespace: None,
        },
        singer_name: name.into(),
        schema: json!({"type": "object"}),
        key_properties: vec!["id".into()],
        bookmark_properties: vec![],
        excluded: vec![],
    }
}

/// The bundled connector's output, as `docker/bench.py` runs it.
fn scripted() -> Vec<u8> {
    let mut out = Vec::with_capacity(TARGET_BYTES + 4096);
    let mut id = 0u64;
    while out.len() < TARGET_BYTES {
        id += 1;
        out.extend_from_slice(
            format!(
                "{{\"type\":\"RECORD\",\"record\":{{\"stream\":\"bench\",\"data\":{{\"id\":{id},\"updated_at\":\"2024-01-01T00:00:00Z\",\"name\":\"{}\",\"meta\":{{\"seq\":{id},\"tag\":\"t\"}}}},\"emitted_at\":1796007979159}}}}\n",
                "p".repeat(81)
            )
            .as_bytes(),
        );
        if id.is_multiple_of(10_000) {
            out.extend_from_slice(
                format!("{{\"type\":\"STATE\",\"state\":{{\"type\":\"STREAM\",\"stream\":{{\"stream_descriptor\":{{\"name\":\"bench\"}},\"stream_state\":{{\"id\":{id}}}}}}}}}\n").as_bytes(),
            );
        }
    }
    out
}

/// The faker connector's recorded output (tests/corpus/faker-read.jsonl), repeated.
fn faker() -> Vec<u8> {
    let one = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/corpus/faker-read.jsonl"
    ))
    .expect("the corpus is there");
    let mut out = Vec::with_capacity(TARGET_BYTES + one.len());
    while out.len() < TARGET_BYTES {
        out.extend_from_slice(&one);
    }
    out
}

fn translate(bencher: Bencher, input: Vec<u8>, streams: &[&str]) {
    let plans: Vec<StreamPlan> = streams.iter().map(|s| plan(s)).collect();
    bencher
        .counter(BytesCount::new(input.len()))
        .with_inputs(|| Reader::sync(&plans, StateStore::default()))
        .bench_local_values(|mut reader| {
            // Written as the tap writes stdout: copied into a buffer of its size, then flushed.
            let mut out = io::BufWriter::with_capacity(BUFFER_BYTES, io::sink());
            let mut framer = LineFramer::new(64 * 1024 * 1024);
            for chunk in input.chunks(64 * 1024) {
                framer
                    .push::<PipelineError>(chunk, |line| Ok(reader.on_line(line, &mut out)?))
                    .expect("a sink cannot fail");
            }
            assert!(reader.outcome().errors.is_empty() && reader.outcome().damaged_lines == 0);
            reader
        });
}

#[divan::bench(sample_count = 10)]
fn scripted_records(bencher: Bencher) {
    translate(bencher, scripted(), &["bench"]);
}

#[divan::bench(sample_count = 10)]
fn faker_output(bencher: Bencher) {
    translate(bencher, faker(), &["products", "users", "purchases"]);
}

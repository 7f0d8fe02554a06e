//! Property tests (fuzzing) of the production pipeline (`pipeline::spawn`: channel, translating
//! thread, line framing, translation, end of run), fed the corpus in
//! tests/corpus (real outputs of the PyPI faker connector and of the bundled one with chatter,
//! garbage, CONTROL, TRACE ERROR, a damaged record and a torn end, plus protocol edge cases),
//! mutated and cut into random chunks, and arbitrary bytes. Whatever comes in: no panic, stdout
//! holds only Singer SCHEMA/RECORD/STATE lines, the output does not depend on how the input was
//! chunked, and every STATE holds the merged `airbyte_state`. Failing cases that proptest finds are kept in
//! tests/fuzz.proptest-regressions (the first one found: a record with an unpaired surrogate escape,
//! grammatical JSON that is passed through as written). `PROPTEST_RNG_SEED` fixes the cases, as
//! .ci/run does; `PROPTEST_CASES` raises their number.
use proptest::prelude::*;
use tap_airbyte::pipeline::{self, Piece};
use tap_airbyte::translate::airbyte::StreamDescriptor;
use tap_airbyte::translate::catalog::StreamPlan;
use tap_airbyte::translate::reader::{Outcome, Reader};
use tap_airbyte::translate::redact::Redactor;
use tap_airbyte::translate::state::StateStore;

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/corpus")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

fn plans(exclude: bool) -> Vec<StreamPlan> {
    let plan = |name: &str, ns: Option<&str>| StreamPlan {
        descriptor: StreamDescriptor {
            name: name.into(),
            namespace: ns.map(Into::into),
        },
        singer_name: name.into(),
        schema: serde_json::json!({"type": "object"}),
        key_properties: vec!["id".into()],
        bookmark_properties: vec![],
        excluded: if exclude {
            vec!["name".into(), "email".into()]
        } else {
            vec![]
        },
    };
    vec![
        plan("users", None),
        plan("products", None),
        plan("purchases", None),
        plan("items", Some("shop")),
    ]
}

/// A writer the test keeps a handle on while the translating thread owns it.
#[derive(Clone, Default)]
struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `input`, cut at `cuts`, through the production pipeline (`pipeline::spawn`: the channel,
/// the translating thread, framing, the reader, the end of the run); returns stdout, the pipeline's
/// error if any, the outcome.
fn translate(
    input: &[u8],
    cuts: &[usize],
    max_line: usize,
    exclude: bool,
) -> (Vec<u8>, Option<String>, Outcome) {
    let reader = Reader::sync(&plans(exclude), StateStore::default());
    let out = Shared::default();
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let (verdict, verdict_rx) = tokio::sync::oneshot::channel();
    let thread = pipeline::spawn(
        reader,
        Redactor::default(),
        rx,
        verdict_rx,
        max_line,
        out.clone(),
    );
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.sort();
    points.push(input.len());
    let mut start = 0;
    for p in points {
        let chunk = &input[start..p.max(start)];
        start = p.max(start);
        let piece = Piece::Stdout(bytes::Bytes::copy_from_slice(chunk));
        if tx.blocking_send(vec![piece]).is_err() {
            break; // the pipeline stopped (a line too long)
        }
    }
    drop(tx);
    // Not a proven, successful run: only what the connector's own STATEs allow is claimed.
    let _ = verdict.send(false);
    let finished = thread.join().expect("the translating thread ends");
    let bytes = out.0.lock().unwrap().clone();
    (
        bytes,
        finished.error.map(|e| e.to_string()),
        finished.outcome,
    )
}

/// One stdout line, read as JSON grammar only: record data is passed through as the connector wrote
/// it, and JSON's grammar allows what a strict parser into strings refuses (an unpaired surrogate
/// escape such as `"\ud837"`, RFC 8259 section 8.2), so values stay raw.
#[derive(serde::Deserialize)]
struct SingerLine<'a> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(borrow, default)]
    value: Option<&'a serde_json::value::RawValue>,
}

/// Every stdout line is a Singer message; STATE values hold `airbyte_state`.
fn check_output(out: &[u8], outcome: &Outcome) {
    let text = std::str::from_utf8(out).expect("stdout is UTF-8");
    let mut states = 0;
    for line in text.lines() {
        let m: SingerLine = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        match m.kind.as_str() {
            "SCHEMA" | "RECORD" => {}
            "STATE" => {
                states += 1;
                #[derive(serde::Deserialize)]
                struct StateValue<'a> {
                    #[serde(borrow)]
                    airbyte_state: Vec<&'a serde_json::value::RawValue>,
                }
                let value = m.value.expect("a STATE has a value").get();
                let parsed: StateValue =
                    serde_json::from_str(value).unwrap_or_else(|e| panic!("{e}: {line}"));
                assert!(
                    parsed
                        .airbyte_state
                        .iter()
                        .all(|m| m.get().starts_with('{')),
                    "{line}"
                );
            }
            _ => panic!("not a Singer message: {line}"),
        }
    }
    assert_eq!(states as u64, outcome.states);
}

fn mutate(mut input: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(at, op, byte) in edits {
        if input.is_empty() {
            input.push(byte);
            continue;
        }
        let at = at % input.len();
        match op % 5 {
            0 => input[at] = byte,
            1 => input.insert(at, byte),
            2 => {
                input.remove(at);
            }
            3 => input.truncate(at),
            _ => {
                let end = (at + byte as usize).min(input.len());
                let piece = input[at..end].to_vec();
                input.splice(at..at, piece);
            }
        }
    }
    input
}

#[test]
fn the_corpus_translates_the_same_however_it_is_chunked() {
    for input in corpus() {
        let (whole, err, outcome) = translate(&input, &[], 1 << 20, false);
        assert!(err.is_none());
        check_output(&whole, &outcome);
        for step in [1, 2, 3, 7, 64, 4096] {
            let cuts: Vec<usize> = (step..input.len()).step_by(step).collect();
            assert_eq!(
                translate(&input, &cuts, 1 << 20, false).0,
                whole,
                "cut every {step} bytes"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(3000), failure_persistence: Some(Box::new(
        proptest::test_runner::FileFailurePersistence::Direct(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz.proptest-regressions")))),
        ..ProptestConfig::default() })]

    #[test]
    fn mutated_corpus_never_breaks_the_reader(
        which in 0usize..16,
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..12),
        cuts in prop::collection::vec(any::<usize>(), 0..24),
        small_limit in any::<bool>(),
        exclude in any::<bool>(),
    ) {
        let corpus = corpus();
        let input = mutate(corpus[which % corpus.len()].clone(), &edits);
        let max = if small_limit { 300 } else { 1 << 20 };
        let (out, err, outcome) = translate(&input, &cuts, max, exclude);
        check_output(&out, &outcome);
        if err.is_none() {
            // Chunking never changes the result.
            prop_assert_eq!(translate(&input, &[], max, exclude).0, out);
        } else {
            prop_assert!(err.unwrap().contains("longer than 300 bytes"));
        }
    }

    #[test]
    fn arbitrary_bytes_never_break_the_reader(input in prop::collection::vec(any::<u8>(), 0..2048), cuts in prop::collection::vec(any::<usize>(), 0..8)) {
        let (out, _, outcome) = translate(&input, &cuts, 1 << 20, false);
        check_output(&out, &outcome);
    }
}

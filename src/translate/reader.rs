//! The translator: one line of connector output in, Singer messages and logs out.
//!
//! [`Reader::on_line`] is pure and synchronous: it writes Singer lines into any [`Write`] and reports
//! the connector's own logs through `tracing`. What a command needs from the run (the SPEC, the
//! CATALOG, the CONNECTION_STATUS, TRACE errors, CONTROL configs, counts) is collected in [`Outcome`].
//!
//! Ordering contract: output is written in the order the connector wrote its lines, through one
//! writer. A STATE is written after every record that preceded it, and the writer is flushed right
//! after it, so a STATE never reaches stdout before the records it covers.
//!
//! Damage: a line that could have been a RECORD (or STATE) and is not delivered — unreadable, torn,
//! prefixed with junk, `data` that is not an object, a stream that is not being synced or that a
//! name without namespace cannot pick — is counted in [`Outcome::damaged_lines`]. After the first,
//! no STATE is written (it could claim a lost record) and the run fails.
//!
//! STATE output: every Singer STATE holds the whole merged state, so writing one per connector
//! STATE would be quadratic when the state is large (many streams, a big input state). A changed
//! state is written at once while it is small (≤ [`SMALL_STATE_BYTES`]); a larger one only once the
//! records written since the last STATE amount to 1/[`STATE_TO_RECORD_RATIO`] of its size, so
//! STATE output stays within a constant factor of record output. What is held back is written by
//! [`Reader::end_of_sync`] (or before the first damage): the last STATE of a run is always the
//! latest state.
use super::airbyte::{ConnectionStatus, Control, Envelope, StreamDescriptor, Trace, TraceError};
use super::batch::{BatchConfig, Batcher};
use super::catalog::StreamPlan;
use super::redact::Redactor;
use super::route::{Route, Undelivered};
use super::scan;
use super::singer::{self, RecordEnd};
use super::state::StateStore;
use crate::maps::mapper::{MapError, Maps};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

/// A merged state up to this size is written at every change.
pub const SMALL_STATE_BYTES: usize = 8 * 1024;
/// Above [`SMALL_STATE_BYTES`], STATE bytes written stay within this factor of record bytes.
pub const STATE_TO_RECORD_RATIO: u64 = 4;

/// What a run of the connector produced besides the Singer stream.
#[derive(Debug, Default)]
pub struct Outcome {
    pub spec: Option<Box<RawValue>>,
    pub catalog: Option<Box<RawValue>>,
    pub connection_status: Option<ConnectionStatus>,
    pub errors: Vec<TraceError>,
    /// New connector configs from CONTROL messages, oldest first.
    pub control_configs: Vec<Box<RawValue>>,
    pub records: u64,
    /// Singer STATE messages written.
    pub states: u64,
    /// RECORDs not delivered because their stream is not being synced (also counted as damage
    /// during a sync).
    pub records_dropped: u64,
    pub not_json_lines: u64,
    /// Lines that looked like Airbyte messages but could not be read (after the first, no STATE
    /// is emitted), and what was wrong with the first.
    pub damaged_lines: u64,
    pub first_damage: Option<String>,
}

struct OutStream {
    descriptor: StreamDescriptor,
    /// Where its records go: spliced as they are, or through its stream maps.
    route: Route,
    /// Its SCHEMA lines: one, or one per output stream of its maps (none when they drop it).
    schema_lines: Vec<u8>,
    records: u64,
}

/// Translates the output of one connector run.
pub struct Reader {
    streams: Vec<OutStream>,
    /// Stream name → indexes in `streams` (several when namespaces differ).
    by_name: HashMap<String, Vec<usize>>,
    last: usize,
    /// A sync (records are expected) rather than `spec`, `check` or `discover`.
    syncing: bool,
    state: StateStore,
    /// The merged state changed since the last STATE written (or since the start).
    state_pending: bool,
    /// Bytes of RECORD lines written since the last STATE.
    record_bytes_since_state: u64,
    outcome: Outcome,
    unknown_streams: HashSet<StreamDescriptor>,
    /// Reused buffer for records re-encoded without their deselected properties.
    scratch: Vec<u8>,
    record_end: RecordEnd,
    redactor: Redactor,
    spec_secret_keys: HashSet<String>,
    /// BATCH output (`batch_config`): records go to files, announced before every STATE.
    batch: Option<Batcher>,
}

/// Longest piece of a non-JSON line that is logged.
const MAX_LOGGED_LINE: usize = 2000;

impl Reader {
    /// A reader for `spec`, `check` and `discover`, which emit no Singer messages.
    pub fn command() -> Reader {
        let mut r = Reader::sync(&[], StateStore::default());
        r.syncing = false;
        r
    }

    /// A reader for `read`, with the streams being synced and the state the sync started from.
    pub fn sync(plans: &[StreamPlan], state: StateStore) -> Reader {
        Reader::sync_mapped(plans, state, &Maps::default())
            .expect("streams without maps always have a route")
    }

    /// A reader for `read` whose streams go through stream maps and flattening; an error (a map
    /// that does not fit a stream's schema) is found here, before the connector runs.
    pub fn sync_mapped(
        plans: &[StreamPlan],
        state: StateStore,
        maps: &Maps,
    ) -> Result<Reader, MapError> {
        let streams = plans
            .iter()
            .map(|p| {
                let (route, schema_lines) = Route::new(
                    maps,
                    &p.singer_name,
                    &p.schema,
                    &p.key_properties,
                    &p.bookmark_properties,
                    p.excluded.iter().cloned().collect(),
                )?;
                Ok(OutStream {
                    descriptor: p.descriptor.clone(),
                    route,
                    schema_lines,
                    records: 0,
                })
            })
            .collect::<Result<Vec<_>, MapError>>()?;
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::with_capacity(streams.len());
        for (i, s) in streams.iter().enumerate() {
            by_name
                .entry(s.descriptor.name.clone())
                .or_default()
                .push(i);
        }
        Ok(Reader {
            streams,
            by_name,
            last: 0,
            syncing: true,
            state,
            state_pending: false,
            record_bytes_since_state: 0,
            outcome: Outcome::default(),
            unknown_streams: HashSet::new(),
            redactor: Redactor::default(),
            spec_secret_keys: HashSet::new(),
            scratch: Vec::new(),
            record_end: RecordEnd::default(),
            batch: None,
        })
    }

    /// Records go into batch files instead of RECORD lines.
    pub fn with_batch(mut self, batch: Option<BatchConfig>) -> Reader {
        self.batch = batch.map(|config| {
            let mut b = Batcher::new(config);
            for s in &self.streams {
                for (name, schema) in s.route.outputs() {
                    b.declare(name, schema);
                }
            }
            b
        });
        self
    }

    /// Masks these secrets in everything the connector says that is logged or reported; the secret
    /// keys of the spec also apply to configs the connector issues (CONTROL).
    pub fn with_redactor(
        mut self,
        redactor: Redactor,
        spec_secret_keys: HashSet<String>,
    ) -> Reader {
        self.redactor = redactor;
        self.spec_secret_keys = spec_secret_keys;
        self
    }

    /// Writes a SCHEMA for every synced stream: before the first RECORD of any of them.
    pub fn begin(&mut self, out: &mut impl Write) -> io::Result<()> {
        for s in &self.streams {
            out.write_all(&s.schema_lines)?;
        }
        Ok(())
    }

    /// Ends a sync that is known to be complete and successful: writes the latest merged state as
    /// a STATE if no STATE was written yet (a connector that emits none: the state it started from)
    /// or if the latest one was held back, unless a line was damaged. Flushes `out`.
    /// Does nothing but flush for `spec`, `check` and `discover`.
    pub fn end_of_sync(&mut self, out: &mut impl Write) -> io::Result<()> {
        self.announce_batches(out)?;
        if self.syncing
            && self.outcome.damaged_lines == 0
            && (self.outcome.states == 0 || self.state_pending)
        {
            self.write_state(out)?;
        }
        out.flush()
    }

    /// Ends a run that did not succeed: a STATE the throttle held back covers only records already
    /// written, so it is written (unless a line was damaged); nothing else is claimed. Flushes.
    pub fn end_of_failed_run(&mut self, out: &mut impl Write) -> io::Result<()> {
        // Records the connector wrote are delivered, as RECORD lines would have been.
        self.announce_batches(out)?;
        if self.outcome.damaged_lines == 0 && self.state_pending {
            self.write_state(out)?;
        }
        out.flush()
    }

    pub fn finish(self) -> Outcome {
        self.outcome
    }

    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    /// Handles one line (without its newline). Errors are only those of `out`.
    pub fn on_line(&mut self, line: &[u8], out: &mut impl Write) -> io::Result<()> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let start = line.iter().position(|b| !b.is_ascii_whitespace());
        let Some(start) = start else { return Ok(()) };
        if line[start] != b'{' {
            if could_carry_data(line) {
                // `\0{"type":"RECORD",…}`: bytes before the message; what else is wrong is unknown.
                return self.damaged(line, "a message with bytes before its `{`", out);
            }
            self.not_json(line, None);
            return Ok(());
        }
        if let Some(r) = scan::record(line) {
            return self.on_record(line, r, out);
        }
        // Validating UTF-8 once for the whole line lets the parser skip it for every string in it.
        let text = match std::str::from_utf8(line) {
            Ok(t) => t,
            Err(_) if could_carry_data(line) => {
                return self.damaged(line, "it is not valid UTF-8", out);
            }
            Err(_) => {
                self.not_json(line, None);
                return Ok(());
            }
        };
        let envelope: Envelope = match serde_json::from_str(text) {
            Ok(e) => e,
            Err(e) if unreadable_could_be_message(text) => {
                return self.damaged(line, &e.to_string(), out);
            }
            Err(e) => {
                self.not_json(line, Some(e));
                return Ok(());
            }
        };
        match envelope.kind.as_ref() {
            "RECORD" => match envelope.record {
                Some(r) => {
                    let r = scan::Record {
                        stream: r.stream.as_bytes(),
                        namespace: r.namespace.as_deref().map(str::as_bytes),
                        data: r.data.get().as_bytes(),
                        emitted_at: r.emitted_at.map(|f| f as i64),
                    };
                    self.on_record(line, r, out)?
                }
                None => self.damaged(line, "a RECORD without `record`", out)?,
            },
            "STATE" => match envelope.state {
                Some(raw) => self.on_state(raw, out)?,
                None => {
                    tracing::warn!(target: "connector", "a STATE message without `state`; ignored")
                }
            },
            "LOG" => {
                if let Some(log) = envelope.log {
                    let message = self.redactor.redact(log.message.as_deref().unwrap_or(""));
                    connector_log(log.level.as_deref().unwrap_or("INFO"), &message);
                    if let Some(st) = log.stack_trace.as_deref() {
                        let st = self.redactor.redact(st);
                        let st = one_line(&st);
                        tracing::debug!(target: "connector", stack_trace = %st, "stack trace of the previous log line");
                    }
                }
            }
            "TRACE" => {
                if let Some(raw) = envelope.trace {
                    self.on_trace(raw);
                }
            }
            "CONTROL" => {
                if let Some(raw) = envelope.control {
                    self.on_control(raw);
                }
            }
            "SPEC" => self.outcome.spec = envelope.spec.map(RawValue::to_owned),
            "CATALOG" => self.outcome.catalog = envelope.catalog.map(RawValue::to_owned),
            "CONNECTION_STATUS" => self.outcome.connection_status = envelope.connection_status,
            other => {
                tracing::debug!(target: "connector", message_type = other, "a message of a type the tap does not use; ignored")
            }
        }
        Ok(())
    }

    fn on_record(
        &mut self,
        line: &[u8],
        r: scan::Record<'_>,
        out: &mut impl Write,
    ) -> io::Result<()> {
        if r.data.first() != Some(&b'{') {
            return self.damaged(line, "a RECORD whose `data` is not a JSON object", out);
        }
        let i = match self.find(r.stream, r.namespace) {
            Ok(i) => i,
            Err(miss) => return self.unknown_stream(r.stream, r.namespace, miss, out),
        };
        let s = &mut self.streams[i];
        match s.route.deliver(
            r.data,
            r.emitted_at,
            &mut self.scratch,
            &mut self.record_end,
            self.batch.as_mut(),
            out,
        )? {
            Ok(written) => {
                s.records += 1;
                self.outcome.records += 1;
                self.record_bytes_since_state += (written + 40) as u64;
                Ok(())
            }
            Err(Undelivered(why)) => self.damaged(line, &why, out),
        }
    }

    /// The synced stream a record belongs to: (namespace, name) exactly, or, for a record without a
    /// namespace, the one stream of that name.
    fn find(&mut self, name: &[u8], namespace: Option<&[u8]>) -> Result<usize, Miss> {
        let hit = |s: &OutStream| {
            s.descriptor.name.as_bytes() == name
                && s.descriptor.namespace.as_deref().map(str::as_bytes) == namespace
        };
        if self.streams.get(self.last).is_some_and(hit) {
            return Ok(self.last);
        }
        // The scanner and serde give valid UTF-8; anything else matches no stream.
        let (Ok(name), Ok(namespace)) = (
            std::str::from_utf8(name),
            namespace.map(std::str::from_utf8).transpose(),
        ) else {
            return Err(Miss::Unknown);
        };
        let same_name = self.by_name.get(name).map_or(&[][..], Vec::as_slice);
        let found = match same_name
            .iter()
            .find(|&&i| self.streams[i].descriptor.namespace.as_deref() == namespace)
        {
            Some(&i) => i,
            // A connector that leaves `namespace` off its records: match on the name when unambiguous.
            None => match (namespace, same_name) {
                (None, [i]) => *i,
                (None, [_, _, ..]) => return Err(Miss::Ambiguous),
                _ => return Err(Miss::Unknown),
            },
        };
        self.last = found;
        Ok(found)
    }

    /// A RECORD of no synced stream. During a sync it is damage: a misspelt stream or namespace,
    /// or a name that several namespaces share, means records the user asked for are not delivered.
    fn unknown_stream(
        &mut self,
        name: &[u8],
        namespace: Option<&[u8]>,
        miss: Miss,
        out: &mut impl Write,
    ) -> io::Result<()> {
        self.outcome.records_dropped += 1;
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let sd = StreamDescriptor {
            name: text(name),
            namespace: namespace.map(text),
        };
        let name = sd.name.as_str();
        let first_of_stream = self.unknown_streams.insert(sd.clone());
        if !self.syncing {
            if first_of_stream {
                tracing::warn!(stream = %sd, "records outside a sync; dropping them");
            }
            return Ok(());
        }
        let why = match miss {
            Miss::Unknown => format!("a RECORD of `{sd}`, a stream that is not being synced"),
            Miss::Ambiguous => {
                let mut candidates: Vec<String> = self.by_name[name]
                    .iter()
                    .map(|&i| self.streams[i].descriptor.to_string())
                    .collect();
                candidates.sort();
                format!(
                    "a RECORD of `{name}` without a namespace, which matches several synced streams ({})",
                    candidates.join(", ")
                )
            }
        };
        self.damage(out, first_of_stream, || why)
    }

    fn on_state(&mut self, raw: &RawValue, out: &mut impl Write) -> io::Result<()> {
        if self.outcome.damaged_lines > 0 {
            // A record may have been lost: no STATE may claim it. The next run resumes from the
            // last STATE emitted before the damage (at least once).
            tracing::warn!("STATE withheld: an earlier line from the connector could not be read");
            return Ok(());
        }
        match self.state.update(raw) {
            Ok(merged) => {
                if merged.replaced_kind {
                    tracing::warn!("the connector changed its state type (LEGACY ⇄ STREAM/GLOBAL); the state held so far is replaced");
                }
                self.state_pending |= merged.changed;
                let size = self.state.len_bytes();
                if self.state_pending
                    && (size <= SMALL_STATE_BYTES
                        || self.record_bytes_since_state * STATE_TO_RECORD_RATIO >= size as u64)
                {
                    self.write_state(out)?;
                }
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "a STATE message the tap cannot use; not emitted");
                Ok(())
            }
        }
    }

    /// Writes the merged state as a Singer STATE, then flushes: the STATE and every record before
    /// it reach the reader of stdout now.
    fn write_state(&mut self, out: &mut impl Write) -> io::Result<()> {
        self.announce_batches(out)?;
        singer::write_state(out, &self.state.singer_value())?;
        self.outcome.states += 1;
        self.state_pending = false;
        self.record_bytes_since_state = 0;
        out.flush()
    }

    /// Closes the open batch files and announces them (BATCH messages): before every STATE, so a
    /// STATE never covers a record in no announced file, and at the end of a run.
    fn announce_batches(&mut self, out: &mut impl Write) -> io::Result<()> {
        match &mut self.batch {
            Some(b) => b.announce(out),
            None => Ok(()),
        }
    }

    fn on_trace(&mut self, raw: &RawValue) {
        let trace: Trace = match serde_json::from_str(raw.get()) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(target: "connector", error = %e, "a TRACE message the tap cannot read; ignored");
                return;
            }
        };
        match trace.kind.as_str() {
            "ERROR" => {
                let mut error = trace.error.unwrap_or(TraceError {
                    message: None,
                    internal_message: None,
                    stack_trace: None,
                    failure_type: None,
                    stream_descriptor: None,
                });
                for text in [
                    &mut error.message,
                    &mut error.internal_message,
                    &mut error.stack_trace,
                ]
                .into_iter()
                .flatten()
                {
                    // Masked, and on one line: the message is logged and reported as it is kept.
                    if let Cow::Owned(masked) = self.redactor.redact(text) {
                        *text = masked;
                    }
                    if let Cow::Owned(single) = one_line(text) {
                        *text = single;
                    }
                }
                tracing::error!(
                    target: "connector",
                    failure_type = error.failure_type.as_deref().unwrap_or("unknown"),
                    stream = error.stream_descriptor.as_ref().map(ToString::to_string),
                    "{}",
                    error.message.as_deref().unwrap_or("(no message)")
                );
                if let Some(m) = error.internal_message.as_deref() {
                    tracing::debug!(target: "connector", internal_message = %m);
                }
                if let Some(st) = error.stack_trace.as_deref() {
                    tracing::debug!(target: "connector", stack_trace = %st);
                }
                self.outcome.errors.push(error);
            }
            "STREAM_STATUS" => {
                if let Some(s) = trace.stream_status {
                    let stream = s
                        .stream_descriptor
                        .map(|d| d.to_string())
                        .unwrap_or_default();
                    tracing::info!(target: "connector", stream, status = s.status.as_deref().unwrap_or("?"), "stream status");
                }
            }
            "ESTIMATE" => {
                let e = trace.estimate.unwrap_or_default();
                tracing::info!(target: "connector", estimate = %e, "estimate");
            }
            other => tracing::debug!(target: "connector", trace_type = other, "trace"),
        }
    }

    fn on_control(&mut self, raw: &RawValue) {
        match serde_json::from_str::<Control>(raw.get()) {
            Ok(Control {
                kind,
                connector_config: Some(c),
            }) if kind.as_deref().is_none_or(|k| k == "CONNECTOR_CONFIG") => {
                // The config holds secrets: never log it.
                tracing::warn!(
                    target: "connector",
                    "the connector emitted a new config (CONTROL CONNECTOR_CONFIG, e.g. rotated credentials)"
                );
                if let Ok(new) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(
                    c.config.get(),
                ) {
                    // The new config's secrets (a rotated token) are as secret as the old ones.
                    self.redactor.add_config(&new, &self.spec_secret_keys);
                }
                self.outcome.control_configs.push(c.config.to_owned());
            }
            Ok(c) => {
                tracing::warn!(target: "connector", control_type = c.kind.as_deref().unwrap_or("?"), "a CONTROL message the tap does not know; ignored")
            }
            Err(e) => {
                tracing::warn!(target: "connector", error = %e, "a CONTROL message the tap cannot read; ignored")
            }
        }
    }

    /// A line that looks like an Airbyte message but cannot be read: data may be lost.
    fn damaged(&mut self, line: &[u8], why: &str, out: &mut impl Write) -> io::Result<()> {
        let (shown, _) = self.redactor.redact_truncated(line, 200);
        let shown = one_line(&shown).into_owned();
        self.damage(out, true, || format!("{why}: {shown}"))
    }

    /// Counts a line of damage (logged when `log`). Before the first, a STATE held back is written:
    /// it covers only records before the damage, all delivered.
    fn damage(
        &mut self,
        out: &mut impl Write,
        log: bool,
        what: impl FnOnce() -> String,
    ) -> io::Result<()> {
        if self.outcome.damaged_lines == 0 && self.state_pending {
            self.write_state(out)?;
        }
        self.outcome.damaged_lines += 1;
        if log || self.outcome.first_damage.is_none() {
            let what = what();
            tracing::error!(target: "connector", "an Airbyte message that cannot be read or delivered ({what})");
            self.outcome.first_damage.get_or_insert(what);
        }
        Ok(())
    }

    fn not_json(&mut self, line: &[u8], error: Option<serde_json::Error>) {
        self.outcome.not_json_lines += 1;
        let (text, was_cut) = self.redactor.redact_truncated(line, MAX_LOGGED_LINE);
        let text = one_line(&text);
        let cut = if was_cut { " […]" } else { "" };
        match error {
            Some(e) => {
                tracing::warn!(target: "connector", error = %e, "not a valid Airbyte message: {text}{cut}")
            }
            None => tracing::info!(target: "connector", "{text}{cut}"),
        }
    }
}

/// Why a record was not matched to a synced stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Miss {
    Unknown,
    Ambiguous,
}

/// The fields of a line that is valid JSON but no readable Airbyte message.
#[derive(serde::Deserialize)]
struct Loose<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a RawValue>,
    #[serde(borrow, default)]
    record: Option<&'a RawValue>,
}

/// Could this line, which is not a readable Airbyte message but starts with `{` and is UTF-8,
/// have been one? Valid JSON: when its `type` is RECORD or STATE, when `type` is its first key
/// (as the CDKs write messages), or when it has no `type` but a `record` object. Not JSON: see
/// [`could_carry_data`]. Other JSON (a connector's JSON log lines) is only logged.
fn unreadable_could_be_message(text: &str) -> bool {
    match serde_json::from_str::<Loose>(text) {
        Ok(loose) => {
            type_first(text.as_bytes())
                || loose
                    .kind
                    .is_some_and(|k| matches!(k.get(), "\"RECORD\"" | "\"STATE\""))
                || (loose.kind.is_none() && loose.record.is_some_and(|r| r.get().starts_with('{')))
        }
        Err(_) => could_carry_data(text.as_bytes()),
    }
}

/// Could these bytes (torn, invalid, or with junk before the message) have been an Airbyte
/// message carrying data? `{"type"` first, a `"type"` key whose value is `"RECORD"` or `"STATE"`,
/// or a `"record"` key whose value is an object, whatever the field order and spacing.
fn could_carry_data(line: &[u8]) -> bool {
    let start = line.iter().position(|&b| b == b'{').unwrap_or(line.len());
    if type_first(&line[start..]) {
        return true;
    }
    let value_after = |key: &[u8], accept: &dyn Fn(&[u8]) -> bool| {
        memchr::memmem::find_iter(line, key).any(|at| {
            let rest = skip_ws(&line[at + key.len()..]);
            rest.first() == Some(&b':') && accept(skip_ws(&rest[1..]))
        })
    };
    value_after(b"\"type\"", &|v| {
        v.starts_with(b"\"RECORD\"") || v.starts_with(b"\"STATE\"")
    }) || value_after(b"\"record\"", &|v| v.first() == Some(&b'{'))
}

/// `{` then `"type"` (after optional whitespace).
fn type_first(line: &[u8]) -> bool {
    line.first() == Some(&b'{') && skip_ws(&line[1..]).starts_with(b"\"type\"")
}

fn skip_ws(bytes: &[u8]) -> &[u8] {
    let n = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[n..]
}

/// A connector's text as one log line: line breaks become `\n` (and `\r`), so a multi-line message
/// or stack trace cannot spill onto stderr lines without the tap's prefix.
fn one_line(text: &str) -> Cow<'_, str> {
    if !text.contains(['\n', '\r']) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.replace("\r\n", "\\n")
            .replace('\n', "\\n")
            .replace('\r', "\\r"),
    )
}

fn connector_log(level: &str, message: &str) {
    let message = one_line(message);
    match level {
        "FATAL" | "ERROR" => tracing::error!(target: "connector", "{message}"),
        "WARN" | "WARNING" => tracing::warn!(target: "connector", "{message}"),
        "DEBUG" => tracing::debug!(target: "connector", "{message}"),
        "TRACE" => tracing::trace!(target: "connector", "{message}"),
        _ => tracing::info!(target: "connector", "{message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn plan(name: &str, ns: Option<&str>) -> StreamPlan {
        StreamPlan {
            descriptor: StreamDescriptor {
                name: name.into(),
                namespace: ns.map(Into::into),
            },
            singer_name: match ns {
                Some(ns) => format!("{ns}-{name}"),
                None => name.into(),
            },
            schema: json!({"type": "object"}),
            key_properties: vec!["id".into()],
            bookmark_properties: vec![],
            excluded: vec![],
        }
    }

    fn run(reader: &mut Reader, input: &str) -> Vec<Value> {
        let mut out = Vec::new();
        reader.begin(&mut out).unwrap();
        for line in input.lines() {
            reader.on_line(line.as_bytes(), &mut out).unwrap();
        }
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn read_translates_in_order() {
        let mut r = Reader::sync(
            &[plan("a", None), plan("a", Some("x"))],
            StateStore::default(),
        );
        let out = run(
            &mut r,
            concat!(
                "plain text from a Java connector\n",
                r#"{"type":"LOG","log":{"level":"INFO","message":"hi"}}"#,
                "\n",
                r#"{"type":"RECORD","record":{"stream":"a","data":{"id":1},"emitted_at":0}}"#,
                "\n",
                r#"{"type":"RECORD","record":{"stream":"a","namespace":"x","data":{"id":2},"emitted_at":1000}}"#,
                "\n",
                r#"{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"a"},"stream_state":{"c":1}}}}"#,
                "\n",
                r#"{"type":"RECORD","record":{"stream":"zzz","data":{"id":3},"emitted_at":0}}"#,
                "\n",
                "{broken json\n",
                r#"{"type":"TRACE","trace":{"type":"ERROR","emitted_at":1.5,"error":{"message":"boom","failure_type":"config_error"}}}"#,
                "\n",
            ),
        );
        let kinds: Vec<&str> = out.iter().map(|m| m["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["SCHEMA", "SCHEMA", "RECORD", "RECORD", "STATE"]);
        assert_eq!(out[2]["stream"], "a");
        assert_eq!(out[2]["record"], json!({"id": 1}));
        assert_eq!(out[3]["stream"], "x-a");
        assert_eq!(out[3]["time_extracted"], "1970-01-01T00:00:01.000Z");
        assert_eq!(
            out[4]["value"]["airbyte_state"][0]["stream"]["stream_state"],
            json!({"c": 1})
        );
        let o = r.finish();
        assert_eq!(
            (o.records, o.records_dropped, o.states, o.not_json_lines),
            (2, 1, 1, 2)
        );
        assert_eq!(
            o.damaged_lines, 1,
            "a record of a stream not synced is damage"
        );
        assert_eq!(o.errors[0].failure_type.as_deref(), Some("config_error"));
    }

    #[test]
    fn records_without_namespace_match_a_unique_name() {
        let mut r = Reader::sync(&[plan("users", Some("public"))], StateStore::default());
        let out = run(
            &mut r,
            r#"{"type":"RECORD","record":{"stream":"users","data":{},"emitted_at":0}}"#,
        );
        assert_eq!(out[1]["stream"], "public-users");
    }

    #[test]
    fn deselected_properties_are_left_out_and_the_rest_kept_as_written() {
        let mut p = plan("a", None);
        p.excluded = vec!["secret".into(), "gone".into()];
        let mut r = Reader::sync(&[p], StateStore::default());
        let out = run(
            &mut r,
            r#"{"type":"RECORD","record":{"stream":"a","data":{"id":1,"secret":"x","n":1.50,"q\"k":{"gone":1}, "gone": null}}}"#,
        );
        let mut bytes = Vec::new();
        let data =
            RawValue::from_string(r#"{"id":1,"secret":"x","n":1.50,"q\"k":{"gone":1}}"#.into())
                .unwrap();
        let excluded = HashSet::from(["secret".to_string(), "gone".to_string()]);
        crate::translate::route::without(&excluded, data.get().as_bytes(), &mut bytes);
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"id":1,"n":1.50,"q\"k":{"gone":1}}"#
        );
        assert_eq!(
            out[1]["record"],
            json!({"id": 1, "n": 1.5, "q\"k": {"gone": 1}})
        );
    }

    #[test]
    fn damaged_messages_withhold_later_states_but_logs_that_are_json_do_not() {
        let mut r = Reader::sync(&[plan("a", None)], StateStore::default());
        let out = run(
            &mut r,
            concat!(
                r#"{"level":"info","msg":"a JSON log line"}"#,
                "\n",
                "{\n",
                r#"{"type":"RECORD","record":{"stream":"a","data":{"id":1}}}"#,
                "\n",
                r#"{"type":"STATE","state":{"data":{"c":1}}}"#,
                "\n",
                r#"{"type":"RECORD","record":{"stream":"a","da"#,
                "\n",
                r#"{"type":"RECORD","record":{"stream":"a","data":{"id":3}}}"#,
                "\n",
                r#"{"type":"STATE","state":{"data":{"c":3}}}"#,
                "\n",
            ),
        );
        let kinds: Vec<&str> = out.iter().map(|m| m["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["SCHEMA", "RECORD", "STATE", "RECORD"]);
        let o = r.finish();
        assert_eq!((o.damaged_lines, o.not_json_lines), (1, 2));
        assert!(o.first_damage.unwrap().contains("EOF"));
        let mut r = Reader::sync(&[plan("a", None)], StateStore::default());
        let mut sink = Vec::new();
        r.on_line(
            b"{\"type\":\"RECORD\",\"record\":{\"stream\":\"a\",\"data\":{\"s\":\"\xff\"}}}",
            &mut sink,
        )
        .unwrap();
        r.on_line(b"plain \xff text", &mut sink).unwrap();
        assert_eq!(
            (r.outcome().damaged_lines, r.outcome().not_json_lines),
            (1, 1)
        );
    }

    #[test]
    fn secrets_are_masked_in_everything_reported() {
        let config = json!({"api_key": "old-secret-1"});
        let redactor = Redactor::new(config.as_object().unwrap(), &HashSet::new());
        let mut r =
            Reader::command().with_redactor(redactor, HashSet::from(["opaque".to_string()]));
        let mut sink = Vec::new();
        for line in [
            r#"{"type":"CONTROL","control":{"type":"CONNECTOR_CONFIG","connectorConfig":{"config":{"opaque":"new-secret-2"}}}}"#,
            r#"{"type":"TRACE","trace":{"type":"ERROR","error":{"message":"bad key old-secret-1","internal_message":"new-secret-2"}}}"#,
        ] {
            r.on_line(line.as_bytes(), &mut sink).unwrap();
        }
        let o = r.finish();
        assert_eq!(o.errors[0].message.as_deref(), Some("bad key **********"));
        assert_eq!(o.errors[0].internal_message.as_deref(), Some("**********"));
    }

    #[test]
    fn a_secret_across_the_damaged_line_limit_is_masked_whole() {
        let secret = "Zq7-cut-secret";
        let config = json!({"api_key": secret});
        for before_cut in 1..secret.len() {
            let redactor = Redactor::new(config.as_object().unwrap(), &HashSet::new());
            let mut reader = Reader::command().with_redactor(redactor, HashSet::new());
            let start = r#"{"type":"RECORD","record":{"stream":"s","data":{"x":""#;
            let mut line = start.as_bytes().to_vec();
            line.resize(200 - before_cut, b'x');
            line.extend_from_slice(secret.as_bytes());
            line.extend_from_slice(b"\xff\"}}}");
            reader.on_line(&line, &mut Vec::new()).unwrap();
            let damage = reader.finish().first_damage.unwrap();
            assert!(!damage.contains("Zq"), "{before_cut}: {damage}");
        }
    }

    #[test]
    fn command_replies_are_captured() {
        let mut r = Reader::command();
        let out = run(
            &mut r,
            concat!(
                r#"{"type":"SPEC","spec":{"connectionSpecification":{}}}"#,
                "\n",
                r#"{"type":"CONNECTION_STATUS","connectionStatus":{"status":"FAILED","message":"no"}}"#,
                "\n",
                r#"{"type":"CATALOG","catalog":{"streams":[]}}"#,
                "\n",
                r#"{"type":"CONTROL","control":{"type":"CONNECTOR_CONFIG","emitted_at":1,"connectorConfig":{"config":{"k":"secret"}}}}"#,
                "\n",
            ),
        );
        assert!(out.is_empty());
        let o = r.finish();
        assert!(o.spec.is_some() && o.catalog.is_some());
        assert_eq!(o.connection_status.unwrap().status, "FAILED");
        assert_eq!(o.control_configs[0].get(), r#"{"k":"secret"}"#);
    }

    #[test]
    fn every_state_is_flushed_after_its_records() {
        struct Probe {
            buf: Vec<u8>,
            flushed_at: Vec<usize>,
        }
        impl Write for Probe {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.buf.extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                self.flushed_at.push(self.buf.len());
                Ok(())
            }
        }
        let mut r = Reader::sync(&[plan("a", None)], StateStore::default());
        let mut p = Probe {
            buf: vec![],
            flushed_at: vec![],
        };
        r.on_line(
            br#"{"type":"RECORD","record":{"stream":"a","data":{"id":1}}}"#,
            &mut p,
        )
        .unwrap();
        r.on_line(br#"{"type":"STATE","state":{"data":{"x":1}}}"#, &mut p)
            .unwrap();
        assert_eq!(p.flushed_at, [p.buf.len()]);
        let text = String::from_utf8(p.buf).unwrap();
        assert!(text.find("RECORD").unwrap() < text.find("STATE").unwrap());
        assert!(!text.contains("time_extracted"));
    }

    fn kinds(out: &[Value]) -> Vec<&str> {
        out.iter().map(|m| m["type"].as_str().unwrap()).collect()
    }

    /// A record, a STATE, the line under test, a record, a STATE: when the line could have been a
    /// record, it is damage and the second STATE is withheld.
    fn around(bad: &[u8]) -> (Vec<Value>, Outcome) {
        let mut r = Reader::sync(
            &[
                plan("a", None),
                plan("items", Some("x")),
                plan("items", Some("y")),
            ],
            StateStore::default(),
        );
        let mut out = Vec::new();
        r.begin(&mut out).unwrap();
        let lines: [&[u8]; 5] = [
            br#"{"type":"RECORD","record":{"stream":"a","data":{"id":1}}}"#,
            br#"{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"a"},"stream_state":{"c":1}}}}"#,
            bad,
            br#"{"type":"RECORD","record":{"stream":"a","data":{"id":3}}}"#,
            br#"{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"a"},"stream_state":{"c":3}}}}"#,
        ];
        for line in lines {
            r.on_line(line, &mut out).unwrap();
        }
        r.end_of_sync(&mut out).unwrap();
        let values = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (values, r.finish())
    }

    #[test]
    fn a_line_that_could_have_been_a_record_is_damage_whatever_the_field_order() {
        let damaged: &[&[u8]] = &[
            // Torn, `type` last or never reached.
            br#"{"record":{"stream":"a","data":{"id":2}},"type":"RECORD""#,
            br#"{"record":{"stream":"a","data":{"id":2}}"#,
            br#"{"record":{"stream":"a","data":{"id":"#,
            // Invalid JSON, `type` not first, any spacing.
            br#"{"record":{"stream":"a","data":{"id":2},},"type":"RECORD"}"#,
            br#"{ "record" : {"stream":"a","data":{"id":2}} , "type" : "RECORD" , }"#,
            br#"{"emitted_at":1,"type"	:	"RECORD","record":{"stream":"a","data":{"id":2}}"#,
            // Valid JSON that is no readable RECORD.
            br#"{"record":{"stream":"a","data":{"id":2}}}"#,
            br#"{"emitted_at":1,"type":"RECORD","record":{"stream":"a"}}"#,
            br#"{"record":{"stream":"a","data":{"id":2}},"type":"RECORD","type":"RECORD"}"#,
            br#"{"type":"RECORD","record":{"stream":"a","data":{"id":2}},"type":"RECORD"}"#,
            br#"{"record":{"stream":"a","data":{"id":2},"emitted_at":"x"},"type":"RECORD"}"#,
            // Bytes before the message.
            b"\0{\"type\":\"RECORD\",\"record\":{\"stream\":\"a\",\"data\":{\"id\":2}}}",
            b"\xef\xbb\xbf{\"type\":\"RECORD\",\"record\":{\"stream\":\"a\",\"data\":{\"id\":2}}}",
            b"\x1b[0m{\"record\":{\"stream\":\"a\",\"data\":{\"id\":2}},\"type\":\"RECORD\"}",
            // Invalid UTF-8, `type` last.
            b"{\"record\":{\"stream\":\"a\",\"data\":{\"s\":\"\xff\"}},\"type\":\"RECORD\"}",
            // A stream that is not synced: misspelt, wrong namespace, or ambiguous without one.
            br#"{"type":"RECORD","record":{"stream":"A","data":{"id":2}}}"#,
            br#"{"type":"RECORD","record":{"stream":"a","namespace":"public","data":{"id":2}}}"#,
            br#"{"type":"RECORD","record":{"stream":"items","data":{"id":2}}}"#,
            br#"{"type":"RECORD","record":{"stream":"items","namespace":"z","data":{"id":2}}}"#,
        ];
        for bad in damaged {
            let (out, o) = around(bad);
            let shown = String::from_utf8_lossy(bad);
            assert_eq!(
                kinds(&out),
                ["SCHEMA", "SCHEMA", "SCHEMA", "RECORD", "STATE", "RECORD"],
                "{shown}"
            );
            assert_eq!(out[3]["record"]["id"], 1, "{shown}");
            assert_eq!(o.damaged_lines, 1, "{shown}");
            assert_eq!((o.records, o.states), (2, 1), "{shown}");
            assert!(o.first_damage.is_some(), "{shown}");
        }
        let (_, o) = around(br#"{"type":"RECORD","record":{"stream":"items","data":{"id":2}}}"#);
        let first = o.first_damage.unwrap();
        assert!(first.contains("x.items, y.items"), "{first}");
        let (_, o) = around(br#"{"type":"RECORD","record":{"stream":"A","data":{"id":2}}}"#);
        assert!(o
            .first_damage
            .unwrap()
            .contains("`A`, a stream that is not being synced"));
        assert_eq!(o.records_dropped, 1);
    }

    #[test]
    fn lines_that_could_not_have_been_records_are_only_logged() {
        let logged: &[&[u8]] = &[
            b"plain text from a Java connector",
            b"{",
            b"}",
            br#"{"level":"info","message":"a JSON log line"}"#,
            br#"{"level":"info","message":"a JSON log line with a record","record":5}"#,
            br#"{"msg":"{\"type\":\"RECORD\",\"record\":{}}"}"#,
            br#"{"level":"warn","type":"log","log":"not a LOG payload"}"#,
            b"\x00\x01\x02 binary",
            b"latin-1 \xe9t\xe9 {\"level\": 1}",
            br#"{"level":"info","message":"torn JSON log"#,
        ];
        for line in logged {
            let (out, o) = around(line);
            let shown = String::from_utf8_lossy(line);
            assert_eq!(o.damaged_lines, 0, "{shown}: {:?}", o.first_damage);
            assert_eq!(
                kinds(&out),
                ["SCHEMA", "SCHEMA", "SCHEMA", "RECORD", "STATE", "RECORD", "STATE"],
                "{shown}"
            );
        }
    }

    #[test]
    fn a_record_whose_data_is_not_an_object_is_damage_and_not_delivered() {
        for data in ["[1,2]", r#""s""#, "null", "5", "true", " [ ]"] {
            let line = format!(r#"{{"type":"RECORD","record":{{"stream":"a","data":{data}}}}}"#);
            let (out, o) = around(line.as_bytes());
            assert!(
                out.iter()
                    .all(|m| m["type"] != "RECORD" || m["record"].is_object()),
                "{data}"
            );
            assert_eq!((o.damaged_lines, o.records, o.states), (1, 2, 1), "{data}");
            assert!(o.first_damage.unwrap().contains("not a JSON object"));
        }
        let (out, o) = around(br#"{"type":"RECORD","record":{"stream":"a","data": {"id":2}}}"#);
        assert_eq!((o.damaged_lines, o.records), (0, 3));
        assert_eq!(out[5]["record"], json!({"id": 2}));
    }

    #[test]
    fn records_outside_a_sync_are_not_damage() {
        let mut r = Reader::command();
        let mut sink = Vec::new();
        r.on_line(
            br#"{"type":"RECORD","record":{"stream":"a","data":{"id":1}}}"#,
            &mut sink,
        )
        .unwrap();
        r.end_of_sync(&mut sink).unwrap();
        let o = r.finish();
        assert_eq!((o.damaged_lines, o.records_dropped, o.states), (0, 1, 0));
        assert!(sink.is_empty(), "no STATE either");
    }

    fn state_msg(name: &str, cursor: usize) -> String {
        format!(
            r#"{{"type":"STATE","state":{{"type":"STREAM","stream":{{"stream_descriptor":{{"name":"{name}"}},"stream_state":{{"c":{cursor}}}}}}}}}"#
        )
    }

    fn lines_of(out: &[u8]) -> Vec<Value> {
        String::from_utf8_lossy(out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn end_of_sync_writes_the_state_of_a_connector_that_emits_none() {
        let input = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "a"}, "stream_state": {"c": 7}}}]);
        let mut r = Reader::sync(
            &[plan("a", None)],
            StateStore::from_input(input.to_string().as_bytes()).unwrap(),
        );
        let mut out = Vec::new();
        r.begin(&mut out).unwrap();
        r.on_line(
            br#"{"type":"RECORD","record":{"stream":"a","data":{"id":1}}}"#,
            &mut out,
        )
        .unwrap();
        r.end_of_sync(&mut out).unwrap();
        r.end_of_sync(&mut out).unwrap();
        let out = lines_of(&out);
        assert_eq!(
            kinds(&out),
            ["SCHEMA", "RECORD", "STATE"],
            "one STATE, after the records"
        );
        assert_eq!(
            out[2]["value"]["airbyte_state"], input,
            "the state it started from"
        );
        assert_eq!(out[2]["value"]["stream_state"], json!({"c": 7}));
        assert_eq!(r.outcome().states, 1);

        // No state at all: an empty one, which reads back as no state.
        let mut r = Reader::sync(&[plan("a", None)], StateStore::default());
        let mut out = Vec::new();
        r.end_of_sync(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"type\":\"STATE\",\"value\":{\"airbyte_state\":[]}}\n"
        );

        // STATEs were written and nothing is held back: nothing more.
        let mut r = Reader::sync(&[plan("a", None)], StateStore::default());
        let mut out = Vec::new();
        r.on_line(state_msg("a", 1).as_bytes(), &mut out).unwrap();
        r.on_line(state_msg("a", 1).as_bytes(), &mut out).unwrap();
        r.end_of_sync(&mut out).unwrap();
        assert_eq!(
            kinds(&lines_of(&out)),
            ["STATE"],
            "an unchanged state is not written again"
        );

        // Damage: no STATE at all.
        let mut r = Reader::sync(&[plan("a", None)], StateStore::default());
        let mut out = Vec::new();
        r.on_line(
            br#"{"type":"RECORD","record":{"stream":"b","data":{}}}"#,
            &mut out,
        )
        .unwrap();
        r.end_of_sync(&mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn end_of_sync_flushes() {
        struct Flushes(usize);
        impl Write for Flushes {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                self.0 += 1;
                Ok(())
            }
        }
        let mut r = Reader::sync(&[plan("a", None)], StateStore::default());
        let mut out = Flushes(0);
        r.on_line(state_msg("a", 1).as_bytes(), &mut out).unwrap();
        assert_eq!(out.0, 1);
        r.end_of_sync(&mut out).unwrap();
        assert_eq!(out.0, 2, "flushed though there was nothing to write");
    }

    #[test]
    fn a_large_input_state_is_written_once_not_per_connector_state() {
        // A 1 MB input state, then 5 records each followed by a STATE.
        let big: Vec<Value> = (0..2000)
            .map(|i| json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": format!("t{i}")}, "stream_state": {"pad": "p".repeat(500)}}}))
            .collect();
        let state = StateStore::from_input(Value::from(big).to_string().as_bytes()).unwrap();
        let size = state.len_bytes();
        let mut r = Reader::sync(&[plan("a", None)], state);
        let mut out = Vec::new();
        for k in 1..=5 {
            let record =
                format!(r#"{{"type":"RECORD","record":{{"stream":"a","data":{{"id":{k}}}}}}}"#);
            r.on_line(record.as_bytes(), &mut out).unwrap();
            r.on_line(state_msg("a", k).as_bytes(), &mut out).unwrap();
        }
        assert_eq!(
            r.outcome().states,
            0,
            "held back: 5 tiny records do not pay for 1 MB"
        );
        r.end_of_sync(&mut out).unwrap();
        assert!(
            out.len() < 2 * size,
            "{} bytes written for a {size}-byte state",
            out.len()
        );
        let out = lines_of(&out);
        assert_eq!(
            kinds(&out),
            ["RECORD", "RECORD", "RECORD", "RECORD", "RECORD", "STATE"]
        );
        let value = &out[5]["value"];
        assert_eq!(value["stream_state"], json!({"c": 5}), "the latest state");
        assert_eq!(
            value["airbyte_state"].as_array().unwrap().len(),
            2001,
            "all of it"
        );
    }

    #[test]
    fn state_output_stays_linear_in_record_output_with_many_streams() {
        let n = 1000;
        let plans: Vec<StreamPlan> = (0..n).map(|i| plan(&format!("s{i}"), None)).collect();
        let mut r = Reader::sync(&plans, StateStore::default());
        let mut out = Vec::new();
        let (mut record_bytes, mut state_bytes, mut seen) = (0, 0, 0usize);
        for i in 0..n {
            let record = format!(
                r#"{{"type":"RECORD","record":{{"stream":"s{i}","data":{{"id":{i},"name":"some text of a record"}}}}}}"#
            );
            let before = out.len();
            r.on_line(record.as_bytes(), &mut out).unwrap();
            record_bytes += out.len() - before;
            seen += 1;
            let before = out.len();
            r.on_line(state_msg(&format!("s{i}"), i).as_bytes(), &mut out)
                .unwrap();
            if out.len() > before {
                state_bytes += out.len() - before;
                // Never ahead of its records: it covers exactly the streams seen so far.
                let value: Value = serde_json::from_slice(&out[before..]).unwrap();
                assert_eq!(
                    value["value"]["airbyte_state"].as_array().unwrap().len(),
                    seen
                );
            }
        }
        let before = out.len();
        r.end_of_sync(&mut out).unwrap();
        let last = out.len() - before;
        assert!(last > 0, "the latest state is written at the end");
        let last_value: Value = serde_json::from_slice(&out[before..]).unwrap();
        assert_eq!(
            last_value["value"]["airbyte_state"]
                .as_array()
                .unwrap()
                .len(),
            n
        );
        // Written at every STATE, this would be about n²/2 state messages (~50× the records).
        assert!(
            state_bytes as u64
                <= STATE_TO_RECORD_RATIO * record_bytes as u64 + SMALL_STATE_BYTES as u64 * 64,
            "{state_bytes} bytes of STATE for {record_bytes} bytes of records"
        );
    }

    #[test]
    fn a_held_back_state_is_written_before_the_first_damage() {
        let big: Vec<Value> = (0..200)
            .map(|i| json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": format!("t{i}")}, "stream_state": {"pad": "p".repeat(500)}}}))
            .collect();
        let state = StateStore::from_input(Value::from(big).to_string().as_bytes()).unwrap();
        let mut r = Reader::sync(&[plan("a", None)], state);
        let mut out = Vec::new();
        r.on_line(
            br#"{"type":"RECORD","record":{"stream":"a","data":{"id":1}}}"#,
            &mut out,
        )
        .unwrap();
        r.on_line(state_msg("a", 1).as_bytes(), &mut out).unwrap();
        assert_eq!(r.outcome().states, 0);
        r.on_line(br#"{"record":{"stream":"a","data":{"id":2}}"#, &mut out)
            .unwrap();
        r.on_line(state_msg("a", 2).as_bytes(), &mut out).unwrap();
        r.end_of_sync(&mut out).unwrap();
        let out = lines_of(&out);
        assert_eq!(kinds(&out), ["RECORD", "STATE"]);
        assert_eq!(out[1]["value"]["stream_state"], json!({"c": 1}));
    }

    #[test]
    fn a_failed_run_writes_the_held_back_state_of_delivered_records_and_nothing_more() {
        let big: Vec<Value> = (0..200)
            .map(|i| json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": format!("t{i}")}, "stream_state": {"pad": "p".repeat(500)}}}))
            .collect();
        let input = Value::from(big).to_string();
        let mut r = Reader::sync(
            &[plan("a", None)],
            StateStore::from_input(input.as_bytes()).unwrap(),
        );
        let mut out = Vec::new();
        r.on_line(
            br#"{"type":"RECORD","record":{"stream":"a","data":{"id":1}}}"#,
            &mut out,
        )
        .unwrap();
        r.on_line(state_msg("a", 1).as_bytes(), &mut out).unwrap();
        assert_eq!(r.outcome().states, 0, "held back by the throttle");
        r.end_of_failed_run(&mut out).unwrap();
        let lines = lines_of(&out);
        assert_eq!(kinds(&lines), ["RECORD", "STATE"]);
        assert_eq!(lines[1]["value"]["stream_state"], json!({"c": 1}));

        // Nothing held back and no state from the connector: a failed run claims nothing.
        let mut r = Reader::sync(&[plan("a", None)], StateStore::default());
        let mut out = Vec::new();
        r.on_line(
            br#"{"type":"RECORD","record":{"stream":"a","data":{"id":1}}}"#,
            &mut out,
        )
        .unwrap();
        r.end_of_failed_run(&mut out).unwrap();
        assert_eq!(kinds(&lines_of(&out)), ["RECORD"]);
    }

    #[test]
    fn stream_lookup_takes_namespaces_apart_among_many_streams() {
        let mut plans: Vec<StreamPlan> = (0..5000)
            .map(|i| plan(&format!("s{i}"), Some("ns")))
            .collect();
        plans.push(plan("s7", Some("other")));
        let mut r = Reader::sync(&plans, StateStore::default());
        assert_eq!(r.find(b"s4999", Some(&b"ns"[..])), Ok(4999));
        assert_eq!(r.find(b"s7", Some(&b"other"[..])), Ok(5000));
        assert_eq!(r.find(b"s7", Some(&b"ns"[..])), Ok(7));
        assert_eq!(
            r.find(b"s8", None),
            Ok(8),
            "a unique name without namespace"
        );
        assert_eq!(r.find(b"s7", None), Err(Miss::Ambiguous));
        assert_eq!(r.find(b"s7", Some(&b"nope"[..])), Err(Miss::Unknown));
        assert_eq!(r.find(b"zzz", None), Err(Miss::Unknown));
    }

    /// Everything logged while `f` runs, as the tap's fmt layer writes it.
    fn logged(f: impl FnOnce()) -> String {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl Write for Buf {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buf.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn multi_line_connector_messages_are_logged_as_one_line_each() {
        let text = logged(|| {
            let mut r = Reader::sync(&[plan("a", None)], StateStore::default());
            let mut sink = Vec::new();
            for line in [
                r#"{"type":"LOG","log":{"level":"ERROR","message":"first line\nsecond line\r\nthird","stack_trace":"Traceback:\n  File x\n  boom"}}"#,
                r#"{"type":"LOG","log":{"level":"INFO","message":"info\nmore"}}"#,
                r#"{"type":"TRACE","trace":{"type":"ERROR","emitted_at":1,"error":{"message":"failed:\nbecause","internal_message":"a\nb","stack_trace":"at x\nat y","failure_type":"system_error"}}}"#,
                "plain text with a carriage\rreturn",
            ] {
                r.on_line(line.as_bytes(), &mut sink).unwrap();
            }
            let o = r.finish();
            assert_eq!(o.errors[0].message.as_deref(), Some("failed:\\nbecause"));
        });
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() >= 6, "{text}");
        for l in &lines {
            assert!(
                ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"]
                    .iter()
                    .any(|lvl| l.contains(lvl)),
                "every stderr line is a prefixed log event: {l:?}\n{text}"
            );
        }
        assert!(text.contains(r"first line\nsecond line\nthird"), "{text}");
        assert!(text.contains(r"Traceback:\n  File x\n  boom"), "{text}");
        assert!(text.contains(r"failed:\nbecause"), "{text}");
        assert!(text.contains(r"at x\nat y"), "{text}");
    }
}

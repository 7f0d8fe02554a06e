//! The translator: one line of connector output in, Singer messages and logs out.
//!
//! [`Reader::on_line`] is pure and synchronous: it writes Singer lines into any [`Write`] and reports
//! the connector's own logs through `tracing`. What a command needs from the run (the SPEC, the
//! CATALOG, the CONNECTION_STATUS, TRACE errors, CONTROL configs, counts) is collected in [`Outcome`].
//!
//! Ordering contract: output is written in the order the connector wrote its lines, through one
//! writer. A STATE is written after every record that preceded it, and the writer is flushed right
//! after it, so a STATE never reaches stdout before the records it covers.
use super::airbyte::{
    ConnectionStatus, Control, Envelope, Fields, StreamDescriptor, Trace, TraceError,
};
use super::catalog::StreamPlan;
use super::redact::Redactor;
use super::singer;
use super::state::StateStore;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::HashSet;
use std::io::{self, Write};

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
    pub states: u64,
    pub records_dropped: u64,
    pub not_json_lines: u64,
    /// Lines that looked like Airbyte messages but could not be read (after the first, no STATE
    /// is emitted), and what was wrong with the first.
    pub damaged_lines: u64,
    pub first_damage: Option<String>,
}

struct OutStream {
    descriptor: StreamDescriptor,
    excluded: Vec<String>,
    prefix: Vec<u8>,
    schema_line: Vec<u8>,
    records: u64,
}

/// Translates the output of one connector run.
pub struct Reader {
    streams: Vec<OutStream>,
    last: usize,
    state: StateStore,
    outcome: Outcome,
    unknown_streams: HashSet<StreamDescriptor>,
    /// Reused buffer for records re-encoded without their deselected properties.
    scratch: Vec<u8>,
    redactor: Redactor,
    spec_secret_keys: HashSet<String>,
}

/// Longest piece of a non-JSON line that is logged.
const MAX_LOGGED_LINE: usize = 2000;

impl Reader {
    /// A reader for `spec`, `check` and `discover`, which emit no Singer messages.
    pub fn command() -> Reader {
        Reader::sync(&[], StateStore::default())
    }

    /// A reader for `read`, with the streams being synced and the state the sync started from.
    pub fn sync(plans: &[StreamPlan], state: StateStore) -> Reader {
        let streams = plans
            .iter()
            .map(|p| OutStream {
                descriptor: p.descriptor.clone(),
                excluded: p.excluded.clone(),
                prefix: singer::record_prefix(&p.singer_name),
                schema_line: singer::schema_line(
                    &p.singer_name,
                    &p.schema,
                    &p.key_properties,
                    &p.bookmark_properties,
                ),
                records: 0,
            })
            .collect();
        Reader {
            streams,
            last: 0,
            state,
            outcome: Outcome::default(),
            unknown_streams: HashSet::new(),
            redactor: Redactor::default(),
            spec_secret_keys: HashSet::new(),
            scratch: Vec::new(),
        }
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
            out.write_all(&s.schema_line)?;
        }
        Ok(())
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
            self.not_json(line, None);
            return Ok(());
        }
        let envelope_like = looks_like_envelope(&line[start..]);
        // Validating UTF-8 once for the whole line lets the parser skip it for every string in it.
        let text = match std::str::from_utf8(line) {
            Ok(t) => t,
            Err(_) if envelope_like => {
                self.damaged(line, "it is not valid UTF-8");
                return Ok(());
            }
            Err(_) => {
                self.not_json(line, None);
                return Ok(());
            }
        };
        let envelope: Envelope = match serde_json::from_str(text) {
            Ok(e) => e,
            Err(e) if envelope_like => {
                self.damaged(line, &e.to_string());
                return Ok(());
            }
            Err(e) => {
                self.not_json(line, Some(e));
                return Ok(());
            }
        };
        match envelope.kind.as_ref() {
            "RECORD" => match envelope.record {
                Some(r) => {
                    let namespace = r.namespace.as_deref();
                    match self.find(&r.stream, namespace) {
                        Some(i) => {
                            let s = &mut self.streams[i];
                            s.records += 1;
                            self.outcome.records += 1;
                            let at = r.emitted_at.map(|f| f as i64);
                            if s.excluded.is_empty() {
                                singer::write_record(out, &s.prefix, r.data.get().as_bytes(), at)?;
                            } else {
                                without(&s.excluded, r.data, &mut self.scratch);
                                singer::write_record(out, &s.prefix, &self.scratch, at)?;
                            }
                        }
                        None => self.unknown_stream(&r.stream, namespace),
                    }
                }
                None => self.damaged(line, "a RECORD without `record`"),
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

    fn find(&mut self, name: &str, namespace: Option<&str>) -> Option<usize> {
        let hit = |s: &OutStream| {
            s.descriptor.name == name && s.descriptor.namespace.as_deref() == namespace
        };
        if self.streams.get(self.last).is_some_and(hit) {
            return Some(self.last);
        }
        let found = self.streams.iter().position(hit).or_else(|| {
            // A connector that leaves `namespace` off its records: match on the name when unambiguous.
            let mut same_name = self
                .streams
                .iter()
                .enumerate()
                .filter(|(_, s)| s.descriptor.name == name);
            match (namespace, same_name.next(), same_name.next()) {
                (None, Some((i, _)), None) => Some(i),
                _ => None,
            }
        })?;
        self.last = found;
        Some(found)
    }

    fn unknown_stream(&mut self, name: &str, namespace: Option<&str>) {
        self.outcome.records_dropped += 1;
        let sd = StreamDescriptor {
            name: name.to_string(),
            namespace: namespace.map(str::to_string),
        };
        if !self.unknown_streams.contains(&sd) {
            tracing::warn!(stream = %sd, "records of a stream that is not being synced; dropping them");
            self.unknown_streams.insert(sd);
        }
    }

    fn on_state(&mut self, raw: &RawValue, out: &mut impl Write) -> io::Result<()> {
        if self.outcome.damaged_lines > 0 {
            // A record may have been lost: no STATE may claim it. The next run resumes from the
            // last STATE emitted before the damage (at least once).
            tracing::warn!("STATE withheld: an earlier line from the connector could not be read");
            return Ok(());
        }
        match self.state.update(raw) {
            Ok(changed) => {
                if changed {
                    tracing::warn!("the connector changed its state type; the state given at start is replaced");
                }
                singer::write_state(out, &self.state.singer_value(raw))?;
                self.outcome.states += 1;
                // The STATE and every record before it reach the reader of stdout now.
                out.flush()
            }
            Err(e) => {
                tracing::error!(error = %e, "a STATE message the tap cannot use; not emitted");
                Ok(())
            }
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
                    if let Cow::Owned(masked) = self.redactor.redact(text) {
                        *text = masked;
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
                    tracing::debug!(target: "connector", internal_message = m);
                }
                if let Some(st) = error.stack_trace.as_deref() {
                    tracing::debug!(target: "connector", stack_trace = st);
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
    fn damaged(&mut self, line: &[u8], why: &str) {
        self.outcome.damaged_lines += 1;
        let shown = self
            .redactor
            .redact(&String::from_utf8_lossy(&line[..line.len().min(200)]))
            .into_owned();
        tracing::error!(target: "connector", "an Airbyte message that cannot be read ({why}): {shown}");
        self.outcome
            .first_damage
            .get_or_insert_with(|| format!("{why}: {shown}"));
    }

    fn not_json(&mut self, line: &[u8], error: Option<serde_json::Error>) {
        self.outcome.not_json_lines += 1;
        let shown = &line[..line.len().min(MAX_LOGGED_LINE)];
        let text = String::from_utf8_lossy(shown);
        let text = self.redactor.redact(&text);
        let cut = if line.len() > MAX_LOGGED_LINE {
            " […]"
        } else {
            ""
        };
        match error {
            Some(e) => {
                tracing::warn!(target: "connector", error = %e, "not a valid Airbyte message: {text}{cut}")
            }
            None => tracing::info!(target: "connector", "{text}{cut}"),
        }
    }
}

/// `data` re-encoded without the `excluded` top-level properties (values untouched), into `buf`.
/// Data that is not an object is passed on as it is.
fn without(excluded: &[String], data: &RawValue, buf: &mut Vec<u8>) {
    buf.clear();
    let Ok(fields) = serde_json::from_str::<Fields>(data.get()) else {
        buf.extend_from_slice(data.get().as_bytes());
        return;
    };
    buf.push(b'{');
    for (key, value) in fields.0.iter().filter(|(k, _)| !excluded.contains(k)) {
        if buf.len() > 1 {
            buf.push(b',');
        }
        serde_json::to_writer(&mut *buf, key).expect("writing to a Vec cannot fail");
        buf.push(b':');
        buf.extend_from_slice(value.get().as_bytes());
    }
    buf.push(b'}');
}

/// Does a line that starts with `{` look like an Airbyte message: `{"type"` first (as the Python
/// and Java CDKs write them), or a RECORD or STATE type anywhere? Other JSON (a connector's JSON
/// log lines, pretty-printed fragments) is only logged.
fn looks_like_envelope(line: &[u8]) -> bool {
    let rest = &line[1..];
    let start = rest
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(rest.len());
    rest[start..].starts_with(b"\"type\"")
        || [
            &b"\"type\":\"RECORD\""[..],
            b"\"type\": \"RECORD\"",
            b"\"type\":\"STATE\"",
            b"\"type\": \"STATE\"",
        ]
        .iter()
        .any(|needle| memchr::memmem::find(line, needle).is_some())
}

fn connector_log(level: &str, message: &str) {
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
                r#"{"type":"RECORD","record":{"stream":"zzz","data":{"id":3},"emitted_at":0}}"#,
                "\n",
                r#"{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"a"},"stream_state":{"c":1}}}}"#,
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
        without(&["secret".into(), "gone".into()], &data, &mut bytes);
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
}

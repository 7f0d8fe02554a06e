//! What a finished connector run means for the tap: one report of the run ([`Report`]: what the
//! translator made of it and how the connector ended), and one pure verdict over it, in a fixed
//! order: the tap's own output failure first (stdout closed or unwritable, exit 4), then a line too
//! long, then the connector's TRACE errors (`config_error` is a configuration error, exit 2), then
//! damaged output, then the exit status, then output not proven complete.
use super::connector::RunEnd;
use crate::error::{AppError, Kind};
use crate::pipeline::{Finished, PipelineError};
use crate::runtime::{Completeness, RunError};
use anyhow::anyhow;

/// A finished connector run.
pub(super) struct Report {
    pub finished: Finished,
    pub ending: Ending,
}

/// How the connector's side of a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    /// It exited with this status; its output was or was not proven read whole.
    Exited { code: i64, complete: Completeness },
    /// The translator stopped reading first (its own error says why): the run was cut short.
    CutShort,
}

impl Report {
    /// The report of a run, or the runtime's error (engine, process, idle timeout) as the tap's.
    pub(super) fn from_end(end: RunEnd) -> Result<Report, AppError> {
        let ending = match end.exit {
            Ok(exit) => Ending::Exited {
                code: exit.code,
                complete: exit.complete,
            },
            Err(RunError::ConsumerGone) => Ending::CutShort,
            Err(RunError::Docker(e)) => return Err(e.into()),
            Err(e @ RunError::Process(_)) => return Err(AppError::new(Kind::Connector, e)),
            Err(e @ RunError::Idle(_)) => return Err(AppError::new(Kind::Connector, e)),
        };
        Ok(Report {
            finished: end.finished,
            ending,
        })
    }

    /// Ok for a run that ended well; else the error the tap exits with.
    pub(super) fn verdict(&self, command: &str) -> Result<(), AppError> {
        match &self.finished.error {
            Some(PipelineError::OutputClosed) => {
                return Err(AppError::new(
                    Kind::Output,
                    anyhow!("stdout was closed by its reader; the sync did not finish"),
                ))
            }
            Some(e @ PipelineError::Output(_)) => {
                return Err(AppError::new(
                    Kind::Output,
                    anyhow!("{e}; the sync did not finish"),
                ))
            }
            Some(e @ PipelineError::Line(_)) => return Err(self.failure(command, &e.to_string())),
            None => {}
        }
        let code = match self.ending {
            Ending::Exited { code, .. } => code,
            Ending::CutShort => {
                return Err(self.failure(command, "the run was cut short before its end"))
            }
        };
        let o = &self.finished.outcome;
        if let Some(first) = o.errors.first() {
            let kind = if o
                .errors
                .iter()
                .any(|e| e.failure_type.as_deref() == Some("config_error"))
            {
                Kind::Config
            } else {
                Kind::Connector
            };
            let mut text = format!(
                "the connector reported {} error{} ({}): {}",
                o.errors.len(),
                if o.errors.len() == 1 { "" } else { "s" },
                first
                    .failure_type
                    .as_deref()
                    .unwrap_or("unknown failure type"),
                first.message.as_deref().unwrap_or("(no message)")
            );
            if code != 0 {
                text.push_str(&format!("; {}", exit_text(code)));
            }
            return Err(AppError::new(kind, anyhow!(self.with_stderr(text))));
        }
        if let Some(first) = &o.first_damage {
            let what = format!(
                "the connector wrote {} line{} that looked like Airbyte messages but could not be read \
                 (no STATE was emitted after the first; the next run resumes before it). First: {first}",
                o.damaged_lines,
                if o.damaged_lines == 1 { "" } else { "s" }
            );
            return Err(self.failure(command, &what));
        }
        if code != 0 {
            return Err(self.failure(command, &exit_text(code)));
        }
        if self.ending
            == (Ending::Exited {
                code,
                complete: Completeness::Missing,
            })
        {
            return Err(self.failure(
                command,
                "the connector's output ended without its end marker: the engine closed the stream \
                 early or the container was killed, so output after what was delivered may be missing \
                 (every STATE emitted covers only delivered records; the next run resumes from the \
                 last one)",
            ));
        }
        Ok(())
    }

    /// A connector failure of `command`, with the connector's last stderr lines.
    pub(super) fn failure(&self, command: &str, what: &str) -> AppError {
        AppError::new(
            Kind::Connector,
            anyhow!(self.with_stderr(format!("`{command}` failed: {what}"))),
        )
    }

    fn with_stderr(&self, mut text: String) -> String {
        if !self.finished.stderr_tail.is_empty() {
            text.push_str("\n  last lines of the connector's stderr:");
            for line in &self.finished.stderr_tail {
                text.push_str("\n    ");
                text.push_str(line);
            }
        }
        text
    }
}

/// What an exit status says: a code, or the signal that killed the connector (statuses above 128
/// are signals, as shells and engines report them).
fn exit_text(code: i64) -> String {
    let signal = match code - 128 {
        6 => Some("SIGABRT"),
        9 => Some("SIGKILL: out of memory, or killed from outside"),
        11 => Some("SIGSEGV"),
        15 => Some("SIGTERM"),
        _ => None,
    };
    match signal {
        Some(name) => format!(
            "the connector was killed by signal {} ({name}; exit status {code})",
            code - 128
        ),
        None => format!("the connector exited with code {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::lines::LineError;
    use crate::translate::airbyte::TraceError;
    use crate::translate::reader::Outcome;

    fn report(error: Option<PipelineError>, outcome: Outcome, ending: Ending) -> Report {
        Report {
            finished: Finished {
                outcome,
                stderr_tail: vec!["last words".into()],
                error,
            },
            ending,
        }
    }

    fn exited(code: i64, complete: Completeness) -> Ending {
        Ending::Exited { code, complete }
    }

    fn trace(failure_type: &str) -> TraceError {
        serde_json::from_value(serde_json::json!({"message": "boom", "failure_type": failure_type}))
            .unwrap()
    }

    fn kind(r: &Report) -> Option<Kind> {
        r.verdict("read").err().map(|e| e.kind)
    }

    #[test]
    fn a_clean_run_passes_and_an_unverifiable_one_too() {
        for complete in [Completeness::Proven, Completeness::Unverifiable] {
            assert_eq!(
                kind(&report(None, Outcome::default(), exited(0, complete))),
                None
            );
        }
    }

    #[test]
    fn the_taps_own_output_failure_comes_first() {
        let mut o = Outcome::default();
        o.errors.push(trace("config_error"));
        let r = report(
            Some(PipelineError::OutputClosed),
            o,
            exited(1, Completeness::Missing),
        );
        assert_eq!(kind(&r), Some(Kind::Output));
        let full = std::io::Error::from_raw_os_error(28);
        let r = report(
            Some(PipelineError::Output(full)),
            Outcome::default(),
            Ending::CutShort,
        );
        assert_eq!(kind(&r), Some(Kind::Output));
    }

    #[test]
    fn connector_errors_in_order() {
        let line = report(
            Some(PipelineError::Line(LineError::TooLong { max: 5 })),
            Outcome::default(),
            Ending::CutShort,
        );
        assert_eq!(kind(&line), Some(Kind::Connector));
        let mut o = Outcome::default();
        o.errors.push(trace("config_error"));
        assert_eq!(
            kind(&report(None, o, exited(0, Completeness::Proven))),
            Some(Kind::Config)
        );
        let mut o = Outcome::default();
        o.errors.push(trace("system_error"));
        let r = report(None, o, exited(1, Completeness::Proven));
        let e = r.verdict("read").unwrap_err();
        assert_eq!(e.kind, Kind::Connector);
        assert!(
            e.to_string().contains("exited with code 1") && e.to_string().contains("last words")
        );
        let o = Outcome {
            damaged_lines: 2,
            first_damage: Some("torn".into()),
            ..Outcome::default()
        };
        let e = report(None, o, exited(0, Completeness::Proven))
            .verdict("read")
            .unwrap_err();
        assert!(e.to_string().contains("2 lines") && e.to_string().contains("torn"));
        let e = report(None, Outcome::default(), exited(137, Completeness::Proven))
            .verdict("read")
            .unwrap_err();
        assert!(e.to_string().contains("killed by signal 9"));
    }

    #[test]
    fn output_not_proven_whole_fails_and_a_run_cut_short_too() {
        let e = report(None, Outcome::default(), exited(0, Completeness::Missing))
            .verdict("read")
            .unwrap_err();
        assert_eq!(e.kind, Kind::Connector);
        assert!(e.to_string().contains("end marker"));
        assert_eq!(
            kind(&report(None, Outcome::default(), Ending::CutShort)),
            Some(Kind::Connector)
        );
    }

    #[test]
    fn exit_statuses_name_the_signal_that_killed_the_connector() {
        assert_eq!(exit_text(1), "the connector exited with code 1");
        assert!(exit_text(137).contains("killed by signal 9 (SIGKILL"));
        assert!(exit_text(143).contains("signal 15 (SIGTERM"));
        assert_eq!(exit_text(200), "the connector exited with code 200");
    }
}

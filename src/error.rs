//! The tap's failure kinds and their exit codes (documented in the README and `--help`).
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The connector failed: non-zero exit, TRACE ERROR, output it cannot be read from.
    Connector,
    /// The configuration is wrong: ours (settings, catalog, state files) or, by the connector's own
    /// judgement, the connector's (CONNECTION_STATUS FAILED, TRACE ERROR `config_error`).
    Config,
    /// The Docker engine cannot be reached or refused an operation; the image cannot be had.
    Docker,
    /// The tap's own output failed: stdout closed before the run or by its reader during it, or
    /// not writable (a full disk). Not the connector's fault.
    Output,
}

impl Kind {
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Connector => 1,
            Kind::Config => 2,
            Kind::Docker => 3,
            Kind::Output => 4,
        }
    }
}

/// An error that knows its exit code.
#[derive(Debug)]
pub struct AppError {
    pub kind: Kind,
    pub error: anyhow::Error,
}

impl AppError {
    pub fn new(kind: Kind, error: impl Into<anyhow::Error>) -> AppError {
        AppError {
            kind,
            error: error.into(),
        }
    }
}

/// The message and its causes, each said once: an error whose text already quotes its cause (as
/// `thiserror`'s `{source}` does) does not have the cause appended again.
impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&chain_text(self.error.chain().map(|c| c.to_string())))
    }
}

fn chain_text(chain: impl Iterator<Item = String>) -> String {
    let mut text = String::new();
    for cause in chain {
        if cause.is_empty() || text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

impl From<crate::runtime::docker::DockerError> for AppError {
    fn from(e: crate::runtime::docker::DockerError) -> Self {
        AppError::new(Kind::Docker, e)
    }
}

impl From<crate::settings::SettingsError> for AppError {
    fn from(e: crate::settings::SettingsError) -> Self {
        AppError::new(Kind::Config, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_is_said_once() {
        let chain = |v: &[&str]| chain_text(v.iter().map(|s| s.to_string()));
        assert_eq!(
            chain(&[
                "config file /x is not valid JSON: key must be a string at line 1",
                "key must be a string at line 1"
            ]),
            "config file /x is not valid JSON: key must be a string at line 1"
        );
        assert_eq!(
            chain(&[
                "cannot reach the engine: client error (Connect)\n  hint",
                "client error (Connect)",
                "tcp connect error: refused"
            ]),
            "cannot reach the engine: client error (Connect)\n  hint: tcp connect error: refused"
        );
        assert_eq!(chain(&["outer", "inner"]), "outer: inner");
    }
}

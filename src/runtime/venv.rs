//! Python connectors from PyPI in managed virtualenvs: one per requirement (package and version, or
//! any pip requirement), under the tap's cache folder, created once and reused.
//!
//! `uv` builds it when it is on PATH, else `python3 -m venv` and pip. A lock file keeps two taps
//! starting at once from building the same venv together; the venv counts as built only once a
//! marker file naming its requirement is written last, so a failed or interrupted install is
//! removed and built again, never used half done. A changed pin is another requirement, hence
//! another venv. Install output goes to the log (stderr), never to stdout.
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Written into a venv once its install succeeded; holds the requirement.
const MARKER: &str = ".tap-airbyte-installed";

#[derive(Debug, thiserror::Error)]
pub enum VenvError {
    #[error("no cache folder for connector virtualenvs: set TAP_AIRBYTE_CACHE_DIR (or HOME)")]
    NoCache,
    #[error("cannot prepare the virtualenv folder {path}: {source}")]
    Folder { path: String, source: io::Error },
    #[error(
        "`{python}` is not there ({source}): native connectors need Python 3.10 or later; install \
         it, or name an interpreter with `native_source_python`"
    )]
    NoPython { python: String, source: io::Error },
    #[error("creating the virtualenv failed (`{command}` exited with {code}): {last}{hint}")]
    Create {
        command: String,
        code: String,
        last: String,
        hint: &'static str,
    },
    #[error("installing `{requirement}` failed (`{command}` exited with {code}): {last}")]
    Install {
        requirement: String,
        command: String,
        code: String,
        last: String,
    },
    #[error("`{requirement}` installed no `{command}` command into {venv}")]
    NoCommand {
        requirement: String,
        command: String,
        venv: String,
    },
}

/// A connector to install from PyPI (or any pip requirement) and the command it installs.
#[derive(Debug, Clone)]
pub struct PythonConnector {
    /// A pip requirement: `airbyte-source-faker==7.2.1`, a version range, a URL, a local wheel.
    pub requirement: String,
    /// The console script the package installs (`source-faker`).
    pub command: String,
    /// The interpreter for the venv (`python3` when not set).
    pub python: Option<String>,
}

impl PythonConnector {
    /// Its venv folder: readable name plus a hash of everything that makes it what it is.
    fn folder(&self, cache: &Path) -> PathBuf {
        let key = format!(
            "{}\n{}",
            self.requirement,
            self.python.as_deref().unwrap_or("")
        );
        let readable: String = self
            .requirement
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(60)
            .collect();
        cache
            .join("venvs")
            .join(format!("{readable}-{:016x}", fnv1a(key.as_bytes())))
    }
}

/// A small stable hash (FNV-1a, 64 bits) for folder names: the same on every run and machine.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

/// Makes sure the connector is installed; returns the path of its command.
pub async fn ensure(connector: &PythonConnector) -> Result<PathBuf, VenvError> {
    let cache = crate::spec_cache::cache_dir().ok_or(VenvError::NoCache)?;
    let venv = connector.folder(&cache);
    let command = venv.join("bin").join(&connector.command);
    let folder_error = |path: &Path, source| VenvError::Folder {
        path: path.display().to_string(),
        source,
    };
    let parent = venv.parent().unwrap_or(&cache).to_path_buf();
    std::fs::create_dir_all(&parent).map_err(|e| folder_error(&parent, e))?;
    // One tap builds a venv at a time; the others wait, then find it built.
    let lock_path = PathBuf::from(format!("{}.lock", venv.display()));
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| folder_error(&lock_path, e))?;
    let lock = match lock.try_lock() {
        Ok(()) => lock,
        Err(_) => {
            tracing::info!(venv = %venv.display(), "another run is installing this connector; waiting for it");
            tokio::task::spawn_blocking(move || lock.lock().map(|()| lock))
                .await
                .map_err(|e| folder_error(&lock_path, io::Error::other(e)))?
                .map_err(|e| folder_error(&lock_path, e))?
        }
    };
    let installed = std::fs::read_to_string(venv.join(MARKER)).ok();
    if installed.as_deref() == Some(connector.requirement.as_str()) && command.exists() {
        tracing::debug!(venv = %venv.display(), "reusing the connector's virtualenv");
        drop(lock);
        return Ok(command);
    }
    if venv.exists() {
        tracing::info!(venv = %venv.display(), "removing an incomplete virtualenv");
        std::fs::remove_dir_all(&venv).map_err(|e| folder_error(&venv, e))?;
    }
    let started = Instant::now();
    tracing::info!(requirement = connector.requirement, venv = %venv.display(), "installing the connector into a virtualenv (once)");
    let result = build(connector, &venv).await;
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&venv);
        return Err(e);
    }
    if !command.exists() {
        let _ = std::fs::remove_dir_all(&venv);
        return Err(VenvError::NoCommand {
            requirement: connector.requirement.clone(),
            command: connector.command.clone(),
            venv: venv.display().to_string(),
        });
    }
    std::fs::write(venv.join(MARKER), &connector.requirement)
        .map_err(|e| folder_error(&venv, e))?;
    tracing::info!(
        requirement = connector.requirement,
        seconds = started.elapsed().as_secs_f64(),
        "installed the connector"
    );
    drop(lock);
    Ok(command)
}

async fn build(connector: &PythonConnector, venv: &Path) -> Result<(), VenvError> {
    let python = connector.python.as_deref().unwrap_or("python3");
    let venv_str = venv.display().to_string();
    let uv = which("uv");
    let create: Vec<String> = match &uv {
        Some(uv) => vec![
            uv.display().to_string(),
            "venv".into(),
            "--quiet".into(),
            "--python".into(),
            python.into(),
            venv_str.clone(),
        ],
        None => vec![python.into(), "-m".into(), "venv".into(), venv_str.clone()],
    };
    match run_logged(&create).await {
        Ok(None) => {}
        Ok(Some((code, last))) => {
            let hint = if last.contains("ensurepip") || last.contains("venv") {
                " (on Debian and Ubuntu, the `python3-venv` package provides venv)"
            } else {
                ""
            };
            return Err(VenvError::Create {
                command: create.join(" "),
                code,
                last,
                hint,
            });
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound && uv.is_none() => {
            return Err(VenvError::NoPython {
                python: python.into(),
                source: e,
            })
        }
        Err(e) => {
            return Err(VenvError::Create {
                command: create.join(" "),
                code: "an error".into(),
                last: e.to_string(),
                hint: "",
            })
        }
    }
    let venv_python = venv.join("bin").join("python").display().to_string();
    let install: Vec<String> = match &uv {
        Some(uv) => vec![
            uv.display().to_string(),
            "pip".into(),
            "install".into(),
            "--python".into(),
            venv_python,
            connector.requirement.clone(),
        ],
        None => vec![
            venv.join("bin").join("pip").display().to_string(),
            "install".into(),
            "--disable-pip-version-check".into(),
            "--progress-bar".into(),
            "off".into(),
            connector.requirement.clone(),
        ],
    };
    match run_logged(&install).await {
        Ok(None) => Ok(()),
        Ok(Some((code, last))) => Err(VenvError::Install {
            requirement: connector.requirement.clone(),
            command: install.join(" "),
            code,
            last,
        }),
        Err(e) => Err(VenvError::Install {
            requirement: connector.requirement.clone(),
            command: install.join(" "),
            code: "an error".into(),
            last: e.to_string(),
        }),
    }
}

/// Runs a command with its output logged line by line (stderr of the tap, never stdout). Returns
/// None on success, else the exit code and the last line it printed.
async fn run_logged(argv: &[String]) -> io::Result<Option<(String, String)>> {
    let mut child = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut out = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut err = BufReader::new(child.stderr.take().expect("piped")).lines();
    let mut last = String::new();
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        let line = tokio::select! {
            l = out.next_line(), if out_open => l.unwrap_or(None).or_else(|| { out_open = false; None }),
            l = err.next_line(), if err_open => l.unwrap_or(None).or_else(|| { err_open = false; None }),
        };
        if let Some(line) = line {
            let line = line.trim_end();
            if !line.is_empty() {
                tracing::info!(target: "tap_airbyte::install", "{line}");
                last = line.to_string();
            }
        }
    }
    let status = child.wait().await?;
    Ok((!status.success()).then(|| {
        let code = status
            .code()
            .map(|c| c.to_string())
            .unwrap_or_else(|| "a signal".into());
        (code, last)
    }))
}

/// A command on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_differ_by_requirement_and_interpreter_and_stay_stable() {
        let c = |req: &str, py: Option<&str>| PythonConnector {
            requirement: req.into(),
            command: "source-faker".into(),
            python: py.map(String::from),
        };
        let cache = Path::new("/c");
        let a = c("airbyte-source-faker==7.2.1", None).folder(cache);
        assert_eq!(a, c("airbyte-source-faker==7.2.1", None).folder(cache));
        assert_ne!(a, c("airbyte-source-faker==7.2.0", None).folder(cache));
        assert_ne!(
            a,
            c("airbyte-source-faker==7.2.1", Some("python3.12")).folder(cache)
        );
        assert!(a
            .display()
            .to_string()
            .starts_with("/c/venvs/airbyte-source-faker__7.2.1-"));
        let odd = c("git+https://x/y.git#egg=z", None).folder(cache);
        assert!(!odd.file_name().unwrap().to_string_lossy().contains('/'));
    }
}

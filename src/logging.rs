//! Logs go to stderr, never stdout. `TAP_AIRBYTE_LOG_LEVEL` (or `RUST_LOG`) sets the level or the
//! filter (`debug`, `tap_airbyte=debug,connector=info`; default `info`); `TAP_AIRBYTE_LOG_FORMAT=json`
//! gives one JSON object per line.
//!
//! Three rules hold whatever the filter says:
//! - Other crates than the tap's own (bollard, hyper, h2, rustls, tokio, …, and their sub-targets
//!   such as `bollard::docker`) never log above warn: their trace logs show HTTP bodies, and the
//!   body that uploads the connector's files carries its config with the secrets. A separate filter
//!   enforces it, so no directive a user writes can lift it.
//! - The tap's fatal error (an ERROR from the binary's root, `main.rs`) is always printed.
//! - Level aliases are understood (`warning`, `critical`, `fatal`); a value that is not a filter
//!   falls back to `info` with one warning naming it, rather than silencing everything.
use tracing::{Level, Metadata};
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt, LevelFilter};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// Targets that may log at any level: the tap's own modules and the connector's output.
const OWN_TARGETS: &[&str] = &["tap_airbyte", "connector"];

/// The target of the binary's root module (`main.rs`), where the fatal error is logged.
const FATAL_TARGET: &str = "tap_airbyte";

pub fn init() {
    let (variable, value) = match std::env::var("TAP_AIRBYTE_LOG_LEVEL") {
        Ok(v) => ("TAP_AIRBYTE_LOG_LEVEL", v),
        Err(_) => ("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_default()),
    };
    let (filter, problem) = match parse_filter(&value) {
        Ok(filter) => (filter, None),
        Err(why) => (EnvFilter::new("info"), Some(why)),
    };
    let json =
        std::env::var("TAP_AIRBYTE_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    Registry::default()
        .with(layer(filter, json, std::io::stderr))
        .init();
    if let Some(why) = problem {
        tracing::warn!(
            "{variable}={value:?} is not a log level or filter ({why}); logging at info"
        );
    }
}

/// The stderr layer: the user's filter (or the fatal error), held under the cap for other crates.
fn layer<W>(user: EnvFilter, json: bool, writer: W) -> impl Layer<Registry>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer);
    let fmt = if json {
        fmt.json().flatten_event(true).boxed()
    } else {
        fmt.with_ansi(false).boxed()
    };
    let fatal = filter_fn(|m| *m.level() == Level::ERROR && m.target() == FATAL_TARGET);
    let cap = filter_fn(|m| *m.level() <= Level::WARN || is_own(m));
    fmt.with_filter(user.or(fatal).and(cap))
}

fn is_own(m: &Metadata<'_>) -> bool {
    let target = m.target();
    OWN_TARGETS.iter().any(|own| {
        target
            .strip_prefix(own)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// The filter a user wrote, with level aliases spelled as tracing knows them. An empty value is
/// `info`. A bare word must be a level or one of the tap's own targets: `EnvFilter` would read
/// `warning` as "everything from a target named warning" and silence all the rest.
fn parse_filter(value: &str) -> Result<EnvFilter, String> {
    if value.trim().is_empty() {
        return Ok(EnvFilter::new("info"));
    }
    let mut directives = Vec::new();
    for d in value.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let directive = match d.rsplit_once('=') {
            // `=` inside a span's fields (`target[span{f=1}]`) is not the level's.
            Some((target, level)) if !level.contains([']', '}']) => {
                format!("{target}={}", alias(level))
            }
            _ if is_level(alias(d)) => alias(d).to_string(),
            _ if d.contains('[') || OWN_TARGETS.iter().any(|t| d.starts_with(t)) => d.to_string(),
            _ => {
                return Err(format!(
                "`{d}` is neither a level (trace, debug, info, warn, error, off) nor target=level"
            ))
            }
        };
        directives.push(directive);
    }
    EnvFilter::builder()
        .parse(directives.join(","))
        .map_err(|e| e.to_string())
}

fn alias(level: &str) -> &str {
    match level.trim().to_ascii_lowercase().as_str() {
        "warning" => "warn",
        "critical" | "fatal" => "error",
        _ => level.trim(),
    }
}

fn is_level(word: &str) -> bool {
    word.parse::<LevelFilter>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What a run logs with this filter: events of several targets and levels.
    fn logged(filter: &str) -> String {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let filter = parse_filter(filter).unwrap_or_else(|_| EnvFilter::new("info"));
        let subscriber = Registry::default().with(layer(filter, false, move || writer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "bollard::docker", "request: body-trace");
            tracing::debug!(target: "bollard", "body-debug");
            tracing::trace!(target: "hyper_util::client::legacy", "hyper-trace");
            tracing::trace!(target: "h2::codec", "h2-trace");
            tracing::warn!(target: "bollard::docker", "bollard-warn");
            tracing::debug!(target: "tap_airbyte::app", "tap-debug");
            tracing::info!(target: "connector", "connector-info");
            tracing::error!(target: "tap_airbyte", "fatal-error");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text
    }

    #[test]
    fn client_crates_stay_at_warn_whatever_the_filter() {
        for filter in [
            "trace",
            "bollard::docker=trace",
            "bollard=trace,hyper_util::client=trace,h2=trace,trace",
            "info,bollard::docker=trace",
        ] {
            let out = logged(filter);
            for hidden in ["body-trace", "body-debug", "hyper-trace", "h2-trace"] {
                assert!(!out.contains(hidden), "{filter}: {hidden} in\n{out}");
            }
            assert!(out.contains("bollard-warn"), "{filter}: {out}");
        }
        assert!(logged("debug").contains("tap-debug"));
    }

    #[test]
    fn the_fatal_error_is_always_printed() {
        for filter in [
            "off",
            "tap_airbyte=off",
            "connector=trace",
            "warning",
            "nonsense",
        ] {
            assert!(logged(filter).contains("fatal-error"), "{filter}");
        }
        let quiet = logged("off");
        assert!(!quiet.contains("bollard-warn") && !quiet.contains("connector-info"));
    }

    #[test]
    fn level_aliases_and_bad_values() {
        let shown = |filter: &str| {
            let out = logged(filter);
            (out.contains("connector-info"), out.contains("tap-debug"))
        };
        assert_eq!(shown("warning"), (false, false));
        assert_eq!(shown("WARNING"), (false, false));
        assert_eq!(shown("critical"), (false, false));
        assert_eq!(shown("connector=fatal,tap_airbyte=debug"), (false, true));
        assert_eq!(shown("info"), (true, false));
        assert_eq!(shown(""), (true, false));
        assert_eq!(shown("tap_airbyte"), (false, true));
        for bad in ["warning!", "nonsense", "verbose", "tap_airbyte=loud"] {
            let why = parse_filter(bad).unwrap_err();
            assert!(!why.is_empty(), "{bad}");
        }
        assert!(parse_filter("warning").is_ok());
        assert!(parse_filter("tap_airbyte::app[run{id=1}]=debug").is_ok());
    }
}

//! Logs go to stderr, never stdout. The client crates (bollard, hyper, …) are held at warn: their
//! trace logs would show request bodies, which carry the connector's config. `TAP_AIRBYTE_LOG_LEVEL` (or `RUST_LOG`) sets the level (default
//! `info`); `TAP_AIRBYTE_LOG_FORMAT=json` gives one JSON object per line.
use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = std::env::var("TAP_AIRBYTE_LOG_LEVEL")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".into());
    // The HTTP and Docker client crates log request bodies at trace level, and those bodies carry
    // the connector's config: they stay at warn whatever the level asked for.
    let quiet = "bollard=warn,hyper=warn,hyper_util=warn,h2=warn,rustls=warn,mio=warn,tokio=warn,tower=warn";
    let filter = EnvFilter::try_new(format!("{filter},{quiet}"))
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{quiet}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("TAP_AIRBYTE_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().flatten_event(true).init();
    } else {
        builder.with_ansi(false).init();
    }
}

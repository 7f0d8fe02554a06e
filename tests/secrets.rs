//! Secrets: config reaches the connector only inside the container, and values the spec marks
//! `airbyte_secret` or that sit under credential keys never reach logs, errors or `--about`: not in
//! the connector's JSON (escaped), not when short, not in part where a line is cut, not in
//! `--test`'s failure message, not through a log filter that asks the HTTP client for its bodies.
use crate::util::*;
use serde_json::json;

const MASK: &str = "**********";

/// Runs the tap on settings for the bundled connector, with this environment.
fn tap_env(config: serde_json::Value, more: &[&str], env: &[(&str, &str)]) -> Run {
    let w = Workdir::new();
    let settings = w.json("config.json", &scripted(config));
    let mut args = vec!["--config", settings.as_str()];
    args.extend_from_slice(more);
    tap(&args, env)
}

const SECRETS: [&str; 4] = [
    "api-key-value-1",
    "opaque-value-2",
    "db-password-3",
    "url-pass-4",
];

fn leaky_config() -> serde_json::Value {
    json!({"leak": true, "api_key": SECRETS[0], "opaque": SECRETS[1],
           "database": {"host": "db.internal", "password": SECRETS[2]},
           "dsn": format!("postgres://reader:{}@db.internal/x", SECRETS[3]),
           "streams": [{"name": "s", "records": 1}]})
}

#[test]
fn secrets_never_reach_logs_or_errors_at_any_level() {
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().display().to_string();
    for command in [vec!["--discover"], vec!["--test"], vec![]] {
        for level in ["trace", "info"] {
            let w = Workdir::new();
            let config = w.json("config.json", &scripted(leaky_config()));
            let mut args = vec!["--config", config.as_str()];
            args.extend(&command);
            let run = tap(
                &args,
                &[
                    ("TAP_AIRBYTE_LOG_LEVEL", level),
                    ("TAP_AIRBYTE_CACHE_DIR", &cache_dir),
                ],
            );
            assert_ne!(run.code, Some(0), "the leaky connector fails");
            assert!(
                run.stderr.contains("db.internal"),
                "the connector's output is logged:\n{}",
                run.stderr
            );
            for secret in SECRETS {
                assert!(
                    !run.stderr.contains(secret),
                    "{secret} leaked at {level} in {command:?}:\n{}",
                    run.stderr
                );
                assert!(
                    !run.stdout.contains(secret),
                    "{secret} on stdout in {command:?}"
                );
            }
            assert!(run.stderr.contains("**********"));
        }
    }
    // The spec was asked once and cached for the image.
    assert_eq!(
        std::fs::read_dir(cache.path().join("specs"))
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn about_shows_no_config_values() {
    let run = tap_scripted(
        json!({"api_key": SECRETS[0], "opaque": SECRETS[1]}),
        &["--about", "--format", "json"],
    );
    run.assert_code(0);
    for secret in SECRETS {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
    }
}

#[test]
fn config_never_travels_in_argv_or_env_nor_stays_on_the_host() {
    let w = Workdir::new();
    let tmp = tempfile::tempdir().unwrap();
    let before: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    let config = w.json("config.json", &scripted(json!({"api_key": SECRETS[0], "streams": [{"name": "s", "records": 50}], "sleep_ms": 20})));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tap-airbyte"))
        .args(["--config", &config])
        .env("TMPDIR", tmp.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let _watchdog = crate::util::Watchdog::new(pid, 300);
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("RECORD") {
        line.clear();
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    }
    let ids = containers_of(pid);
    let inspect = std::process::Command::new("docker")
        .args(["inspect", &ids[0]])
        .output()
        .unwrap();
    let inspect = String::from_utf8_lossy(&inspect.stdout);
    assert!(
        !inspect.contains(SECRETS[0]),
        "the container's argv, env and labels hold no config"
    );
    assert!(
        inspect.contains("/config/config.json"),
        "the connector reads its config from the uploaded file"
    );
    std::io::Read::read_to_string(&mut out, &mut String::new()).unwrap();
    assert!(child.wait().unwrap().success());
    let after: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(before.len(), after.len(), "no host file was left behind");
}

#[test]
fn the_failed_check_message_is_masked() {
    // The connector answers `scripted failure: bad credentials`: with these secrets, both halves of
    // that are secrets (an api_key, and a password inside a URL).
    let run = tap_scripted(
        json!({"check": "fail", "api_key": "bad credentials",
               "dsn": "postgres://reader:scripted@db.internal/x"}),
        &["--test"],
    );
    run.assert_code(2);
    run.assert_stderr_has(&[&format!(
        "the connection check failed: {MASK} failure: {MASK}"
    )]);
    assert!(!run.stderr.contains("bad credentials"), "{}", run.stderr);
}

#[test]
fn secrets_are_masked_json_escaped_and_short_ones_where_they_stand_alone() {
    // A quote, a backslash, a slash and non-ASCII characters: the leaky connector's JSON escapes them.
    let escaped = "Qx\"7\\\u{e4}/\u{20ac}Zz";
    let config = json!({"leak": true, "api_key": escaped, "password": "ab",
                        "dsn": "postgres://reader:xy@db.internal/x"});
    for format in ["text", "json"] {
        let run = tap_env(
            config.clone(),
            &["--test"],
            &[
                ("TAP_AIRBYTE_LOG_LEVEL", "trace"),
                ("TAP_AIRBYTE_LOG_FORMAT", format),
            ],
        );
        run.assert_code(1);
        run.assert_stderr_has(&["db.internal"]);
        for part in ["Qx", "Zz"] {
            assert!(!run.stderr.contains(part), "{part} leaked:\n{}", run.stderr);
        }
        for short in [
            r#""password":"ab""#,
            r#"\"password\":\"ab\""#,
            r#"\\\"password\\\":\\\"ab\\\""#,
            ":xy@",
        ] {
            assert!(
                !run.stderr.contains(short),
                "{short} leaked:\n{}",
                run.stderr
            );
        }
    }
    let run = tap_scripted(config, &["--test"]);
    run.assert_stderr_has(&[&format!(r#""password":"{MASK}""#), &format!(":{MASK}@")]);
}

#[test]
fn a_secret_across_the_stderr_line_limit_is_masked_whole() {
    // The leaky connector prints `stderr: config is {"aaa":"xx…","api_key":"…",…}` on stderr, where
    // the tap cuts lines at 16 KiB; the filler puts the secret across the cut.
    const MAX_STDERR_LINE: usize = 16 * 1024;
    let secret = "Qx7-straddling-secret-Zz";
    let before = r#"stderr: config is {"aaa":""#.len() + r#"","api_key":""#.len();
    for before_cut in [1, 5, 12] {
        let filler = "x".repeat(MAX_STDERR_LINE - before - before_cut);
        let run = tap_scripted(
            json!({"aaa": filler, "api_key": secret, "leak": true}),
            &["--test"],
        );
        run.assert_code(1);
        assert!(
            run.stderr
                .contains(&format!("xxx\",\"api_key\":\"{MASK}\n")),
            "{before_cut}: the line is cut right after the mask"
        );
        assert!(!run.stderr.contains("Qx7"), "{before_cut}: a part leaked");
    }
}

#[test]
fn no_log_filter_shows_the_uploaded_config() {
    // bollard logs request bodies at trace, and one body is the tar holding config.json.
    for (variable, filter) in [
        ("TAP_AIRBYTE_LOG_LEVEL", "bollard::docker=trace"),
        (
            "TAP_AIRBYTE_LOG_LEVEL",
            "trace,bollard::docker=trace,hyper_util=trace,h2=trace",
        ),
        ("RUST_LOG", "bollard=trace"),
    ] {
        let run = tap_env(
            json!({"check": "succeed", "api_key": SECRETS[0]}),
            &["--test"],
            &[(variable, filter)],
        );
        run.assert_code(0);
        assert!(
            !run.stderr.contains(SECRETS[0]),
            "{variable}={filter}:\n{}",
            run.stderr
        );
    }
}

//! Secrets: config reaches the connector only inside the container, and values the spec marks
//! `airbyte_secret` or that sit under credential keys never reach logs, errors or `--about`.
use crate::util::*;
use serde_json::json;

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

//! A remote engine: a second dockerd reached over TCP (tests/engines/remote-dockerd.sh), in its
//! own mount namespace where the host's temp dirs do not exist. A full sync works with no host
//! path shared, because the connector's files travel as an archive upload; and the same engine over
//! TLS with client certificates (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH).
use crate::util::*;
use serde_json::{json, Value};
use std::process::Command;
use std::sync::OnceLock;

const PORT: &str = "23751";
const TLS_PORT: &str = "23761";

fn remote_engine() -> String {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        scripted_image();
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/engines/remote-dockerd.sh");
        let out = Command::new("timeout")
            .arg("300")
            .arg(script)
            .args(["start", PORT])
            .output()
            .expect("remote-dockerd.sh runs");
        assert!(
            out.status.success(),
            "the remote engine did not start:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    format!("tcp://127.0.0.1:{PORT}")
}

#[test]
fn a_full_sync_on_a_remote_engine_shares_no_host_path() {
    let host = remote_engine();
    let w = Workdir::new();

    // What a bind-mount based wrapper does fails there: the host's temp dir is not the engine's.
    std::fs::write(w.path().join("config.json"), "{}").unwrap();
    let bind = Command::new("docker")
        .args([
            "run",
            "--rm",
            "-v",
            &format!("{}:/cfg", w.path().display()),
            "airbyte/source-scripted:dev",
            "check",
            "--config",
            "/cfg/config.json",
        ])
        .env("DOCKER_HOST", &host)
        .output()
        .unwrap();
    assert!(
        !bind.status.success(),
        "the remote engine must not see host paths"
    );

    let settings = scripted(
        json!({"streams": [{"name": "users", "records": 12}, {"name": "items", "namespace": "shop", "records": 5}], "state_every": 4}),
    );
    let config = w.json("settings.json", &settings);
    let env = [("DOCKER_HOST", host.as_str())];
    let test = tap(&["--config", &config, "--test"], &env);
    test.assert_code(0);
    let discover = tap(&["--config", &config, "--discover"], &env);
    discover.assert_code(0);
    let catalog = w.file("catalog.json", &discover.stdout);
    let first = tap(&["--config", &config, "--catalog", &catalog], &env);
    first.assert_code(0);
    assert_eq!(
        (first.records("users").len(), first.records("items").len()),
        (12, 5)
    );
    assert!(
        containers_on(Some(&host), first.pid).is_empty(),
        "no container left on the remote engine"
    );

    let mut more = settings.clone();
    more["airbyte_config"]["streams"][0]["records"] = json!(15);
    let config = w.json("settings2.json", &more);
    let state = w.json("state.json", &first.last_state());
    let second = tap(
        &[
            "--config",
            &config,
            "--catalog",
            &catalog,
            "--state",
            &state,
        ],
        &env,
    );
    second.assert_code(0);
    let ids: Vec<Value> = second
        .records("users")
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(
        ids,
        [json!(13), json!(14), json!(15)],
        "state travels to the remote engine too"
    );
    assert!(containers_on(Some(&host), second.pid).is_empty());
}

#[test]
fn tls_with_client_certificates_as_the_docker_cli_reads_them() {
    let host = remote_engine();
    let certs = tempfile::tempdir().unwrap();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/engines/remote-dockerd.sh");
    let out = Command::new("timeout")
        .arg("300")
        .arg(script)
        .args(["tls", PORT, TLS_PORT, &certs.path().display().to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = host;
    let tls_host = format!("tcp://127.0.0.1:{TLS_PORT}");
    let cert_path = certs.path().display().to_string();
    let w = Workdir::new();
    let config = w.json(
        "settings.json",
        &scripted(json!({"streams": [{"name": "s", "records": 4}]})),
    );
    let env = [
        ("DOCKER_HOST", tls_host.as_str()),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", cert_path.as_str()),
    ];
    let run = tap(&["--config", &config], &env);
    run.assert_code(0);
    assert_eq!(run.records("s").len(), 4);
    assert!(containers_on(Some(&host), run.pid).is_empty());
    // Plain HTTP to a TLS engine is refused, and the message says what to set.
    let plain = tap(
        &["--config", &config],
        &[("DOCKER_HOST", tls_host.as_str())],
    );
    plain.assert_code(3);
    plain.assert_stderr_has(&["DOCKER_TLS_VERIFY"]);
}

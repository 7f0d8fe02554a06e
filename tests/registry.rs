//! Pulling from a real registry on loopback (Debian's docker-registry, tests/engines/registry.sh),
//! without and with htpasswd auth: credentials from the settings, from `~/.docker/config.json`
//! `auths`, from a credential helper, a wrong password, and none.
use crate::util::*;
use serde_json::json;
use std::process::Command;
use std::sync::OnceLock;

const OPEN: &str = "5051";
const LOCKED: &str = "5052";
const USER: &str = "tapuser";
/// Its base64 in X-Registry-Auth has `+` and `/`, which the engine reads as base64url.
const PASSWORD: &str = "p~~~???~~~???>>>~~~?";

fn registry(port: &'static str, auth: bool) {
    static OPEN_ONCE: OnceLock<()> = OnceLock::new();
    static LOCKED_ONCE: OnceLock<()> = OnceLock::new();
    let once = if auth { &LOCKED_ONCE } else { &OPEN_ONCE };
    once.get_or_init(|| {
        scripted_image();
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/engines/registry.sh");
        let mut cmd = Command::new("timeout");
        cmd.arg("300").arg(script).args(["start", port]);
        if auth {
            cmd.args([USER, PASSWORD]);
        }
        let out = cmd.output().expect("registry.sh runs");
        assert!(
            out.status.success(),
            "the registry did not start:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// The image reference, removed from the engine so that the tap must pull it.
fn pulled_image(port: &'static str, name: &str) -> String {
    registry(port, port == LOCKED);
    let image = format!("127.0.0.1:{port}/tap-test/source-scripted-{name}");
    Command::new("docker")
        .args(["rmi", "-f", &format!("{image}:dev")])
        .output()
        .unwrap();
    image
}

fn settings(image: &str) -> serde_json::Value {
    json!({"airbyte_spec": {"image": image, "tag": "dev"}, "airbyte_config": {"check": "succeed"}})
}

/// A Docker config folder holding this config.json.
fn docker_config(w: &Workdir, config: serde_json::Value) -> String {
    let dir = w.path().join("docker-config");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    dir.display().to_string()
}

fn check(w: &Workdir, settings: &serde_json::Value, env: &[(&str, &str)]) -> Run {
    let config = w.json("settings.json", settings);
    tap(&["--config", &config, "--test"], env)
}

#[test]
fn pull_from_an_open_registry() {
    let w = Workdir::new();
    let image = pulled_image(OPEN, "a");
    let empty = docker_config(&w, json!({}));
    let run = check(&w, &settings(&image), &[("DOCKER_CONFIG", &empty)]);
    run.assert_code(0);
    run.assert_stderr_has(&["pulling"]);
}

#[test]
fn pull_with_credentials_from_the_settings() {
    let w = Workdir::new();
    let image = pulled_image(LOCKED, "a");
    let empty = docker_config(&w, json!({}));
    let mut s = settings(&image);
    s["registry_auth"] = json!({"username": USER, "password": PASSWORD});
    let run = check(&w, &s, &[("DOCKER_CONFIG", &empty)]);
    run.assert_code(0);
    assert!(!run.stderr.contains(PASSWORD));
}

#[test]
fn pull_with_credentials_from_docker_config_auths() {
    let w = Workdir::new();
    let image = pulled_image(LOCKED, "b");
    let auth = base64(&format!("{USER}:{PASSWORD}"));
    let dir = docker_config(
        &w,
        json!({"auths": {format!("127.0.0.1:{LOCKED}"): {"auth": auth}}}),
    );
    let run = check(&w, &settings(&image), &[("DOCKER_CONFIG", &dir)]);
    run.assert_code(0);
}

#[test]
fn pull_with_credentials_from_a_credential_helper() {
    let w = Workdir::new();
    let image = pulled_image(LOCKED, "c");
    let bin = w.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-taptest");
    std::fs::write(&helper, format!("#!/bin/sh\nread server\necho '{{\"ServerURL\":\"'$server'\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}'\n")).unwrap();
    Command::new("chmod")
        .args(["+x", &helper.display().to_string()])
        .status()
        .unwrap();
    let dir = docker_config(
        &w,
        json!({"credHelpers": {format!("127.0.0.1:{LOCKED}"): "taptest"}}),
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = check(
        &w,
        &settings(&image),
        &[("DOCKER_CONFIG", &dir), ("PATH", &path)],
    );
    run.assert_code(0);
}

#[test]
fn a_wrong_password_or_none_is_a_clear_docker_error() {
    let w = Workdir::new();
    let empty = docker_config(&w, json!({}));
    let image = pulled_image(LOCKED, "d");
    let mut s = settings(&image);
    s["registry_auth"] = json!({"username": USER, "password": "wrong-password-x"});
    let run = check(&w, &s, &[("DOCKER_CONFIG", &empty)]);
    run.assert_code(3);
    run.assert_stderr_has(&[&image, "credentials"]);
    assert!(!run.stderr.contains("wrong-password-x"));
    let image = pulled_image(LOCKED, "e");
    let run = check(&w, &settings(&image), &[("DOCKER_CONFIG", &empty)]);
    run.assert_code(3);
    run.assert_stderr_has(&[&image]);
}

fn base64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

//! The README's examples run as written: every ```sh block after a `<!-- tested: tests/readme.rs -->`
//! line runs with bash (`-euo pipefail`) from the repository's root, with the tap under test on
//! PATH, and must succeed; what a block says it prints is checked here too.
use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The tested blocks, in README order.
fn blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut out = vec![];
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "<!-- tested: tests/readme.rs -->" {
            continue;
        }
        assert_eq!(lines.next(), Some("```sh"), "a tested block is a sh block");
        let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        out.push(block.join("\n"));
    }
    out
}

fn run_block(block: &str) -> String {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_tap-airbyte"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The native example's virtualenv is shared with the native tests: installed once per suite.
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("native-cache");
    let out = Command::new("timeout")
        .args(["1800", "bash", "-euo", "pipefail", "-c", block])
        .current_dir(repo())
        .env("PATH", path)
        .env("TAP_AIRBYTE_CACHE_DIR", cache)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "this README block failed ({}):\n{block}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        stdout.chars().take(4000).collect::<String>(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_readme_examples_run_as_written() {
    faker_image();
    wheel();
    let blocks = blocks();
    assert_eq!(blocks.len(), 6, "the README's tested blocks: {blocks:#?}");
    let before = untracked();
    let install = run_block(&blocks[0]);
    assert_eq!(
        install,
        format!("tap-airbyte {}\n", env!("CARGO_PKG_VERSION"))
    );
    let image = run_block(&blocks[1]);
    assert_eq!(
        image, "3 streams\n",
        "the tap's image discovered faker's streams"
    );
    let direct = run_block(&blocks[3]);
    assert!(
        direct.contains("| airbyte_config.count |"),
        "--about shows faker's settings:\n{direct}"
    );
    assert!(
        direct.ends_with("first run: 300 records; resumed run: 0 records\n"),
        "{direct}"
    );
    let meltano = run_block(&blocks[2]);
    assert!(meltano.contains("  - name: tap-faker\n"), "{meltano}");
    assert!(
        meltano.contains("    - name: airbyte_config.count\n      kind: integer\n"),
        "{meltano}"
    );
    let maps = run_block(&blocks[5]);
    let hash = maps
        .trim()
        .strip_prefix("\"email\":\"")
        .and_then(|h| h.strip_suffix('"'))
        .unwrap_or_else(|| panic!("a hashed email: {maps}"));
    assert!(
        hash.len() == 32 && hash.chars().all(|c| c.is_ascii_hexdigit()),
        "{maps}"
    );
    let native = run_block(&blocks[4]);
    assert_eq!(native, "300 records\n");
    let new: Vec<String> = untracked()
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    assert!(
        new.is_empty(),
        "the examples wrote into the repository: {new:?}"
    );
}

/// Files git does not track and does not ignore (`target/` is ignored).
fn untracked() -> Vec<String> {
    let out = Command::new("timeout")
        .args(["60", "git", "ls-files", "--others", "--exclude-standard"])
        .current_dir(repo())
        .output()
        .expect("git runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

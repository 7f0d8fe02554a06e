//! The pip-installable wheel (pyproject.toml, docker/build-wheel.sh), built once per run: its name
//! carries the manylinux2014 tag old pips accept, it holds the one static `tap-airbyte` binary and
//! nothing else, and `pip install --no-index` puts that binary on the PATH of fresh venvs of Debian's
//! own python3 with its own pip, and of the oldest and newest pyenv Pythons, where it tells its
//! version, describes itself, and syncs the bundled connector exactly as the tap cargo built does.
use crate::util::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const TAG: &str = "py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64";

/// Runs a command to its end, killed by `timeout` after `seconds`; fails the test unless it succeeds.
#[track_caller]
fn run_ok(seconds: u32, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Output {
    let program = program.as_ref().to_owned();
    let out = Command::new("timeout")
        .arg(seconds.to_string())
        .arg(&program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("timeout runs");
    assert!(
        out.status.success(),
        "{program:?} {args:?}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A fresh venv of this interpreter in `w`, with the wheel installed by the venv's own pip, offline.
fn venv_with_the_wheel(w: &Workdir, python: &str) -> PathBuf {
    assert!(
        Path::new(python).is_file(),
        "{python} is not installed: this test installs the wheel with it"
    );
    let venv = w.path().join("venv");
    let venv_s = venv.display().to_string();
    run_ok(300, python, &["-m", "venv", &venv_s]);
    let pip = venv.join("bin/pip");
    let wheel = wheel().display().to_string();
    let pip_version = run_ok(120, &pip, &["--version"]);
    eprintln!(
        "{python}: {}",
        String::from_utf8_lossy(&pip_version.stdout).trim()
    );
    run_ok(
        600,
        &pip,
        &[
            "install",
            "--no-index",
            "--disable-pip-version-check",
            "--quiet",
            &wheel,
        ],
    );
    venv
}

/// Runs the installed tap to its end (a watchdog kills it after 10 minutes); it must leave no
/// container behind.
fn installed_tap(venv: &Path, args: &[&str]) -> Run {
    let child = Command::new(venv.join("bin/tap-airbyte"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the installed tap starts");
    let pid = child.id();
    let watchdog = Watchdog::new(pid, 600);
    let out = child.wait_with_output().expect("the installed tap runs");
    drop(watchdog);
    assert_no_containers(pid);
    Run {
        code: out.status.code(),
        signal: std::os::unix::process::ExitStatusExt::signal(&out.status),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        pid,
    }
}

/// What every install must give: `tap-airbyte` in the venv's bin, the static binary, the Cargo
/// version, and `--about` as JSON (no engine asked).
fn assert_the_installed_tap_works(venv: &Path) {
    let bin = venv.join("bin/tap-airbyte");
    assert!(
        bin.is_file(),
        "pip put no tap-airbyte in {}",
        venv.display()
    );
    assert_static(&bin);
    let version = installed_tap(venv, &["--version"]);
    version.assert_code(0);
    assert_eq!(version.stdout.trim(), format!("tap-airbyte {VERSION}"));
    let about = installed_tap(venv, &["--about", "--format", "json"]);
    about.assert_code(0);
    let about: Value = serde_json::from_str(&about.stdout).expect("--about is one JSON document");
    assert_eq!(about["name"], "tap-airbyte");
    assert_eq!(about["settings"]["required"], json!(["airbyte_spec"]));
}

/// A statically linked executable: no program interpreter (PT_INTERP) in its ELF program headers,
/// and `ldd` finds no shared library.
#[track_caller]
fn assert_static(bin: &Path) {
    let elf = std::fs::read(bin).expect("read the binary");
    assert_eq!(&elf[..5], b"\x7fELF\x02", "a 64-bit ELF file");
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    let interp = (0..phnum).any(|i| {
        let at = phoff + i * phentsize;
        u32::from_le_bytes(elf[at..at + 4].try_into().unwrap()) == 3
    });
    assert!(!interp, "{} has a program interpreter", bin.display());
    // The oldest kernel the linked-in glibc runs on (its ELF ABI note) must be no newer than
    // manylinux2014's (CentOS 7, Linux 3.10): the tag promises those systems.
    let kernel = (0..phnum)
        .map(|i| phoff + i * phentsize)
        .filter(|at| u32::from_le_bytes(elf[*at..at + 4].try_into().unwrap()) == 4)
        .find_map(|at| {
            let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap()) as usize;
            let (mut note, end) = (u64_at(at + 8), u64_at(at + 8) + u64_at(at + 32));
            while note + 12 <= end {
                let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap());
                let (namesz, descsz, kind) = (u32_at(note), u32_at(note + 4), u32_at(note + 8));
                let name = note + 12;
                let desc = name + (namesz as usize).next_multiple_of(4);
                if kind == 1 && &elf[name..name + namesz as usize] == b"GNU\0" && u32_at(desc) == 0
                {
                    return Some((u32_at(desc + 4), u32_at(desc + 8), u32_at(desc + 12)));
                }
                note = desc + (descsz as usize).next_multiple_of(4);
            }
            None
        })
        .expect("a GNU ABI note: the oldest Linux the binary runs on");
    assert!(
        kernel <= (3, 10, 0),
        "{} needs Linux {kernel:?}, newer than manylinux2014's 3.10",
        bin.display()
    );
    eprintln!("{}: static, runs on Linux >= {kernel:?}", bin.display());
    let ldd = Command::new("timeout")
        .args(["60", "ldd"])
        .arg(bin)
        .output()
        .expect("ldd runs");
    let said = String::from_utf8_lossy(&ldd.stdout) + String::from_utf8_lossy(&ldd.stderr);
    assert!(
        !said.contains("=>")
            && (said.contains("statically linked") || said.contains("not a dynamic")),
        "ldd {}: {said}",
        bin.display()
    );
}

/// The wheel's files, read with Python's zipfile (any python3 will do).
fn wheel_entry(name: &str) -> String {
    let script = "import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode())";
    let wheel = wheel().display().to_string();
    let out = run_ok(60, "python3", &["-c", script, &wheel, name]);
    String::from_utf8(out.stdout).unwrap()
}

fn wheel_names() -> Vec<String> {
    let script = "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))";
    let wheel = wheel().display().to_string();
    let out = run_ok(60, "python3", &["-c", script, &wheel]);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_wheel_is_tagged_manylinux2014_and_holds_only_the_tap() {
    let name = wheel().file_name().unwrap().to_string_lossy().into_owned();
    // maturin writes the tag's two platform names in either order.
    let swapped = "py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64";
    assert!(
        [TAG, swapped]
            .iter()
            .any(|tag| name == format!("tap_airbyte_rs-{VERSION}-{tag}.whl")),
        "{name}"
    );
    let data = format!("tap_airbyte_rs-{VERSION}.data");
    let dist_info = format!("tap_airbyte_rs-{VERSION}.dist-info");
    let names = wheel_names();
    // One program (the test connector of the workspace is not in it), no Python code.
    let scripts: Vec<&String> = names.iter().filter(|n| n.starts_with(&data)).collect();
    assert_eq!(
        scripts,
        [&format!("{data}/scripts/tap-airbyte")],
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .all(|n| n.starts_with(&data) || n.starts_with(&dist_info)),
        "{names:?}"
    );
    let wheel_file = wheel_entry(&format!("{dist_info}/WHEEL"));
    for line in [
        "Root-Is-Purelib: false",
        "Tag: py3-none-manylinux_2_17_x86_64",
        "Tag: py3-none-manylinux2014_x86_64",
    ] {
        assert!(
            wheel_file.lines().any(|l| l == line),
            "WHEEL lacks {line:?}:\n{wheel_file}"
        );
    }
    let metadata = wheel_entry(&format!("{dist_info}/METADATA"));
    for line in [
        "Name: tap-airbyte-rs".to_string(),
        format!("Version: {VERSION}"),
        "Requires-Python: >=3.8".to_string(),
        "License: Apache-2.0".to_string(),
        "Description-Content-Type: text/markdown; charset=UTF-8; variant=GFM".to_string(),
    ] {
        assert!(
            metadata.lines().any(|l| l == line),
            "METADATA lacks {line:?}:\n{}",
            metadata.lines().take(30).collect::<Vec<_>>().join("\n")
        );
    }
    assert!(metadata.contains("Keywords: airbyte,singer,meltano"));
    assert!(
        metadata.contains("# tap-airbyte"),
        "the README is the description"
    );
}

/// Debian's own python3 and pip (the stock pip of the distribution) install the wheel, and the
/// installed tap syncs the bundled connector through Docker with the same records and final
/// state as the tap cargo built.
#[test]
fn debian_pip_installs_the_wheel_and_the_installed_tap_syncs() {
    let w = Workdir::new();
    let venv = venv_with_the_wheel(&w, "/usr/bin/python3");
    assert_the_installed_tap_works(&venv);

    let config = json!({"streams": [{"name": "users", "records": 25}, {"name": "items", "namespace": "shop", "records": 7, "incremental": false}],
                        "state_every": 10});
    let settings = scripted(config);
    let config_path = w.json("config.json", &settings);
    let run = installed_tap(&venv, &["--config", &config_path]);
    run.assert_code(0);
    assert_eq!(run.records("users").len(), 25);
    assert_eq!(run.records("items").len(), 7);
    let messages = run.messages();
    assert_eq!(
        messages.last().unwrap()["type"],
        "STATE",
        "the last message is the final STATE"
    );
    assert_eq!(
        run.last_state()["airbyte_state"].as_array().unwrap().len(),
        2
    );
    assert!(run.stderr.contains("sync finished"), "{}", run.stderr);
    let reference = tap_with(&w, &settings, &[]);
    reference.assert_code(0);
    for stream in ["users", "items"] {
        assert_eq!(run.records(stream), reference.records(stream), "{stream}");
    }
    assert_eq!(run.last_state(), reference.last_state());
}

/// pyenv's python3 of this minor version (e.g. "3.8"), the newest patch release installed.
fn pyenv_python(minor: &str) -> String {
    let root = std::env::var("PYENV_ROOT")
        .unwrap_or_else(|_| format!("{}/.pyenv", std::env::var("HOME").unwrap_or_default()));
    let versions = Path::new(&root).join("versions");
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(&versions)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let patch = name.strip_prefix(minor)?.strip_prefix('.')?.parse().ok()?;
            Some((patch, e.path().join("bin/python3")))
        })
        .collect();
    found.sort();
    let (_, python) = found
        .pop()
        .unwrap_or_else(|| panic!("no pyenv Python {minor} in {}", versions.display()));
    python.display().to_string()
}

#[test]
fn python_3_8_installs_the_wheel() {
    let w = Workdir::new();
    let venv = venv_with_the_wheel(&w, &pyenv_python("3.8"));
    assert_the_installed_tap_works(&venv);
}

#[test]
fn python_3_13_installs_the_wheel() {
    let w = Workdir::new();
    let venv = venv_with_the_wheel(&w, &pyenv_python("3.13"));
    assert_the_installed_tap_works(&venv);
}

//! Builds `tap-airbyte-init` (src/runtime/docker/init/init.c), the static helper that runs first in every
//! connector container and proves the connector's output was read to its end. It is embedded in
//! the tap and uploaded with the connector's files. No libc: the one binary runs in any Linux image
//! of the architecture the tap is built for. On Linux x86_64 and aarch64 a failure to build it fails
//! the build; on other targets an empty file is embedded and the tap says, at run time, that it
//! cannot verify completeness.
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let source = "src/runtime/docker/init/init.c";
    println!("cargo:rerun-if-changed={source}");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("tap-airbyte-init");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let built =
        (os == "linux" && matches!(arch.as_str(), "x86_64" | "aarch64")) && compile(source, &out);
    if !built {
        println!("cargo:warning=tap-airbyte-init not built for {arch}-{os}: connector output completeness cannot be verified");
        std::fs::write(&out, b"").expect("write an empty helper");
    }
}

fn compile(source: &str, out: &PathBuf) -> bool {
    // The cc crate finds the C compiler for the target (cross compilers included).
    let compiler = cc::Build::new().pic(false).get_compiler();
    let mut cmd: Command = compiler.to_command();
    cmd.args([
        "-static",
        "-nostdlib",
        "-ffreestanding",
        "-fno-stack-protector",
        "-fno-builtin",
        "-fno-tree-loop-distribute-patterns",
        "-fno-asynchronous-unwind-tables",
        "-fno-pie",
        "-no-pie",
        "-Os",
        "-s",
        "-Wall",
        "-Wl,--build-id=none",
        "-o",
    ])
    .arg(out)
    .arg(source);
    match cmd.output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            println!(
                "cargo:warning=compiling {source} failed: {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .next()
                    .unwrap_or("")
            );
            false
        }
        Err(e) => {
            println!("cargo:warning=cannot run the C compiler for {source}: {e}");
            false
        }
    }
}

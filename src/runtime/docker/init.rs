//! Proof that a connector's output was read to its end.
//!
//! The engine closes a container's output streams two seconds after its first process exits,
//! whatever is still pending (moby's `handleContainerExit`: `StreamConfig.Wait` with a 2 s timeout,
//! then `Reset`, which closes the streams). A slow reader downstream of the tap keeps the tap from
//! reading the attach stream, so the connector's last bytes were lost and nothing told so.
//!
//! So the container's first process is `tap-airbyte-init` (`init/init.c`, built by build.rs and
//! uploaded with the connector's files): it runs the connector as its child on the same stdout,
//! writes an end marker with the exit status after the connector's last byte, and stays alive until
//! the tap acknowledges the marker on stdin. The engine's exit handling starts only then, with
//! nothing left to lose. [`crate::runtime::marker::EndMarker`] finds the marker at the end of
//! stdout and keeps it out of what the translator sees. Airbyte's own Kubernetes runner works the same way with its exit-code
//! file.

/// The helper, for the architecture the tap was built for (empty when it could not be built).
const HELPER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tap-airbyte-init"));

/// Its name inside the files directory.
pub const HELPER_NAME: &str = "tap-airbyte-init";

/// The helper's bytes, when it runs on images of this platform (`os`/`architecture` of the image,
/// in Docker's names).
pub fn helper_for(os: &str, architecture: &str) -> Option<&'static [u8]> {
    let ours = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let os_ok = os.is_empty() || os == "linux";
    let arch_ok = architecture.is_empty() || architecture == ours;
    (!HELPER.is_empty() && os_ok && arch_ok).then_some(HELPER)
}

/// A fresh marker token for one run: the connector cannot write it by chance.
pub fn new_token() -> String {
    format!("TAP_AIRBYTE_END_{}", uuid::Uuid::new_v4().simple())
}

/// The container's command: the helper, its token, then what the image would have run
/// (its entrypoint, then the connector's arguments).
pub fn command(
    helper_path: &str,
    token: &str,
    entrypoint: &[String],
    args: &[String],
) -> Vec<String> {
    let mut cmd = vec![helper_path.to_string(), token.to_string()];
    cmd.extend(entrypoint.iter().cloned());
    cmd.extend(args.iter().cloned());
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    fn the_helper_is_built_in_for_this_platform() {
        assert!(
            HELPER.starts_with(b"\x7fELF"),
            "tap-airbyte-init is missing"
        );
        let arch = if cfg!(target_arch = "x86_64") {
            "amd64"
        } else {
            "arm64"
        };
        assert!(helper_for("linux", arch).is_some());
        assert!(helper_for("linux", "s390x").is_none());
        assert!(helper_for("windows", arch).is_none());
    }

    #[test]
    fn the_command_wraps_the_entrypoint_and_arguments() {
        assert_eq!(
            command("/config/i", "T", &["/bin/src".into()], &["read".into()]),
            ["/config/i", "T", "/bin/src", "read"]
        );
    }
}

//! The connector's spec, cached per image id: it tells which config values are secrets
//! (`airbyte_secret`), and an image's spec never changes, so it is asked once per image.
//!
//! Folder: `TAP_AIRBYTE_CACHE_DIR`, else `$XDG_CACHE_HOME/tap-airbyte`, else `~/.cache/tap-airbyte`.
use serde_json::Value;
use std::path::PathBuf;

/// The tap's cache folder (specs, connector virtualenvs).
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("TAP_AIRBYTE_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("tap-airbyte"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".cache").join("tap-airbyte"))
}

fn path(image_id: &str) -> Option<PathBuf> {
    let id: String = image_id
        .trim_start_matches("sha256:")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    (!id.is_empty()).then(|| cache_dir().map(|d| d.join("specs").join(format!("{id}.json"))))?
}

/// The cached spec of this image, if there is one.
pub fn get(image_id: &str) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path(image_id)?).ok()?).ok()
}

/// Caches a spec; failures are only logged (the cache is an optimisation).
pub fn put(image_id: &str, spec: &Value) {
    let Some(target) = path(image_id) else { return };
    let result = (|| -> std::io::Result<()> {
        std::fs::create_dir_all(target.parent().expect("a cache file has a folder"))?;
        let tmp = target.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::write(&tmp, spec.to_string())?;
        std::fs::rename(&tmp, &target)
    })();
    if let Err(e) = result {
        tracing::debug!(path = %target.display(), error = %e, "cannot cache the connector's spec");
    }
}

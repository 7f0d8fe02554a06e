//! Registry credentials for pulls: from `~/.docker/config.json` as the Docker CLI finds them, and
//! the `X-Registry-Auth` header in the alphabet the engine decodes.
use bollard::auth::DockerCredentials;

/// The registry an image reference names, as `~/.docker/config.json` keys it: the first path
/// part when it is a host (has a `.` or `:`, or is `localhost`), else Docker Hub.
pub fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first.to_string()
        }
        _ => "https://index.docker.io/v1/".to_string(),
    }
}

/// Credentials for `registry` from `~/.docker/config.json` (`auths`, `credsStore`, `credHelpers`;
/// `DOCKER_CONFIG` moves the folder). Helpers are programs, so this runs off the async threads.
pub(super) async fn credentials_from_docker_config(registry: &str) -> Option<DockerCredentials> {
    let server = registry.to_string();
    let found = tokio::task::spawn_blocking(move || docker_credential::get_credential(&server))
        .await
        .ok()?;
    match found {
        Ok(docker_credential::DockerCredential::UsernamePassword(user, password)) => {
            Some(DockerCredentials {
                username: Some(user),
                password: Some(password),
                serveraddress: Some(registry.to_string()),
                ..Default::default()
            })
        }
        Ok(docker_credential::DockerCredential::IdentityToken(token)) => Some(DockerCredentials {
            identitytoken: Some(token),
            serveraddress: Some(registry.to_string()),
            ..Default::default()
        }),
        Err(e) => {
            tracing::debug!(registry, error = ?e, "no credentials for the registry in the Docker config");
            None
        }
    }
}

/// The engine decodes `X-Registry-Auth` as base64url; bollard encodes it with the standard
/// alphabet, and an engine that cannot decode it pulls anonymously. Rewrite `+` and `/`.
pub(super) fn registry_auth_base64url(mut req: bollard::BollardRequest) -> bollard::BollardRequest {
    if let Some(value) = req
        .headers()
        .get("X-Registry-Auth")
        .and_then(|v| v.to_str().ok())
    {
        let fixed = to_base64url(value);
        if let Ok(v) = fixed.parse() {
            req.headers_mut().insert("X-Registry-Auth", v);
        }
    }
    req
}

fn to_base64url(standard: &str) -> String {
    standard.replace('+', "-").replace('/', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_and_the_auth_header_alphabet() {
        assert_eq!(
            registry_of("airbyte/source-faker:1"),
            "https://index.docker.io/v1/"
        );
        assert_eq!(registry_of("source-faker"), "https://index.docker.io/v1/");
        assert_eq!(registry_of("127.0.0.1:5000/a/b:dev"), "127.0.0.1:5000");
        assert_eq!(registry_of("ghcr.io/org/x@sha256:00"), "ghcr.io");
        assert_eq!(registry_of("localhost/x"), "localhost");
        assert_eq!(to_base64url("ab+/cd=="), "ab-_cd==");
    }
}

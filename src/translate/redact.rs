//! Keeps secrets off logs and error messages.
//!
//! The secret values are collected from the connector's config: values under keys the connector's
//! spec marks `airbyte_secret`, values under keys that obviously hold credentials (`password`,
//! `token`, `api_key`, `client_secret`, …), and passwords inside URLs (`scheme://user:PASS@host`).
//! Every text that reaches a log or an error from the connector (LOG and TRACE messages, stderr,
//! lines that are not messages) goes through [`Redactor::redact`].
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashSet;

/// What stands in for a secret.
pub const MASK: &str = "**********";

/// Shortest value treated as a secret (shorter ones would mask ordinary words).
const MIN_SECRET_LEN: usize = 4;

const CREDENTIAL_WORDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "private_key",
    "privatekey",
    "access_key",
    "accesskey",
    "credential",
    "client_secret",
    "session",
    "cookie",
    "passphrase",
    "jwt",
];

#[derive(Debug, Default, Clone)]
pub struct Redactor {
    secrets: Vec<String>,
}

/// Key names the spec marks `airbyte_secret: true`, at any depth (properties, oneOf branches, …).
pub fn secret_keys_of_spec(spec: &Value) -> HashSet<String> {
    let mut keys = HashSet::new();
    fn walk(node: &Value, keys: &mut HashSet<String>) {
        match node {
            Value::Object(obj) => {
                if let Some(Value::Object(props)) = obj.get("properties") {
                    for (k, v) in props {
                        if v.get("airbyte_secret").and_then(Value::as_bool) == Some(true) {
                            keys.insert(k.clone());
                        }
                    }
                }
                obj.values().for_each(|v| walk(v, keys));
            }
            Value::Array(list) => list.iter().for_each(|v| walk(v, keys)),
            _ => {}
        }
    }
    walk(spec, &mut keys);
    keys
}

fn obviously_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    CREDENTIAL_WORDS.iter().any(|w| key.contains(w))
}

impl Redactor {
    /// A redactor for this connector config; `spec_secret_keys` from [`secret_keys_of_spec`].
    pub fn new(config: &Map<String, Value>, spec_secret_keys: &HashSet<String>) -> Redactor {
        let mut r = Redactor::default();
        r.add_config(config, spec_secret_keys);
        r
    }

    /// Adds the secrets of another config (one the connector issued with CONTROL).
    pub fn add_config(&mut self, config: &Map<String, Value>, spec_secret_keys: &HashSet<String>) {
        let mut found = Vec::new();
        collect(config, spec_secret_keys, false, &mut found);
        for s in found {
            if s.len() >= MIN_SECRET_LEN && !self.secrets.contains(&s) {
                self.secrets.push(s);
            }
        }
        // Longest first, so a secret that contains another is masked whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every secret replaced by [`MASK`].
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), MASK));
            }
        }
        out
    }
}

fn collect(
    obj: &Map<String, Value>,
    spec_keys: &HashSet<String>,
    all: bool,
    found: &mut Vec<String>,
) {
    for (k, v) in obj {
        let secret = all || spec_keys.contains(k) || obviously_secret(k);
        collect_value(v, spec_keys, secret, found);
    }
}

fn collect_value(v: &Value, spec_keys: &HashSet<String>, secret: bool, found: &mut Vec<String>) {
    match v {
        Value::String(s) if secret => found.push(s.clone()),
        Value::String(s) => {
            if let Some(p) = url_password(s) {
                found.push(p.to_string());
            }
        }
        Value::Number(n) if secret => found.push(n.to_string()),
        Value::Object(o) => collect(o, spec_keys, secret, found),
        Value::Array(list) => list
            .iter()
            .for_each(|x| collect_value(x, spec_keys, secret, found)),
        _ => {}
    }
}

/// The password of `scheme://user:password@host…`.
fn url_password(s: &str) -> Option<&str> {
    let rest = &s[s.find("://")? + 3..];
    let userinfo = &rest[..rest.find('@')?];
    if userinfo.contains('/') {
        return None;
    }
    userinfo
        .split_once(':')
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spec_marked_obvious_nested_and_url_secrets_are_masked() {
        let config = json!({
            "host": "db.example.com", "port": 5432, "user": "alice",
            "password": "hunter2-pw", "opaque": "spec-says-secret",
            "credentials": {"auth_type": "OAuth", "client_secret": "cs-123456", "refresh_token": "rt-abcdef"},
            "dsn": "postgres://alice:url-pass-99@db:5432/x",
            "keys": [{"api_key": "k-1111"}], "pin": {"secret_number": 987654}
        });
        let spec = json!({"connectionSpecification": {"properties": {"opaque": {"type": "string", "airbyte_secret": true}}}});
        let r = Redactor::new(config.as_object().unwrap(), &secret_keys_of_spec(&spec));
        let text = config.to_string();
        let masked = r.redact(&text);
        for secret in [
            "hunter2-pw",
            "spec-says-secret",
            "cs-123456",
            "rt-abcdef",
            "url-pass-99",
            "k-1111",
            "987654",
        ] {
            assert!(!masked.contains(secret), "{secret} in {masked}");
        }
        // Everything under a credentials object counts, `auth_type` too: masking too much is the safe side.
        for kept in ["db.example.com", "alice", "5432"] {
            assert!(masked.contains(kept), "{kept} masked in {masked}");
        }
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_secret_inside_a_longer_one_does_not_leave_a_tail() {
        let r = Redactor::new(
            json!({"token": "abcd", "password": "abcdefgh"})
                .as_object()
                .unwrap(),
            &HashSet::new(),
        );
        assert_eq!(r.redact("x abcdefgh y abcd"), format!("x {MASK} y {MASK}"));
    }
}

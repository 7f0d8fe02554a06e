//! Keeps secrets off logs and error messages.
//!
//! The secret values are collected from the connector's config: values under keys the connector's
//! spec marks `airbyte_secret`, values under keys that obviously hold credentials (`password`,
//! `token`, `api_key`, `client_secret`, …), and passwords inside URLs (`scheme://user:PASS@host`).
//! Every text that reaches a log or an error from the connector (LOG and TRACE messages, stderr,
//! lines that are not messages) goes through [`Redactor::redact`], or through
//! [`Redactor::redact_truncated`] where a log line is cut: masking comes first, so a secret that
//! straddles the cut is masked whole, never shown in part.
//!
//! Each secret is looked for as written and in the forms a connector that logs JSON gives it: JSON
//! string escaping (`\"`, `\\`, control characters), ASCII-only escaping of non-ASCII characters
//! (`\u00e4`, lower or upper case hex, surrogate pairs), an escaped slash (`\/`), and JSON inside a
//! JSON string (escaped twice). Secrets shorter than [`MIN_SECRET_LEN`] characters are masked only
//! where they stand alone, bounded by characters that are not letters or digits (`"password": "ab"`,
//! `user:ab@host`), so that `ab` in `about` stays; a short secret with no letter or digit in it is
//! not masked at all (it would mask the punctuation of every line).
//!
//! Not a redactor for arbitrary transformations: a secret that a connector encodes otherwise
//! (base64, URL encoding, cut in two) is not recognised.
use memchr::memmem::Finder;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;

/// What stands in for a secret.
pub const MASK: &str = "**********";

/// Secrets with fewer characters are masked only as whole tokens (anywhere, they would mask parts
/// of ordinary words).
pub const MIN_SECRET_LEN: usize = 4;

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

/// Masks secrets. Clones share their secrets: one the connector issues later (CONTROL) and that
/// the translator adds is masked by every clone from then on: in stderr lines and the errors that
/// quote them too.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    secrets: std::sync::Arc<std::sync::RwLock<Secrets>>,
}

#[derive(Debug, Default)]
struct Secrets {
    /// The secret values, as the config holds them.
    secrets: Vec<String>,
    /// What is looked for: every form of every secret (see the module docs).
    needles: Vec<Needle>,
}

#[derive(Debug, Clone)]
struct Needle {
    finder: Finder<'static>,
    /// A form of a short secret: masked only where it is not part of a longer word.
    whole_token: bool,
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
        let r = Redactor::default();
        r.add_config(config, spec_secret_keys);
        r
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Secrets> {
        self.secrets.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds the secrets of another config (one the connector issued with CONTROL), for every clone.
    pub fn add_config(&self, config: &Map<String, Value>, spec_secret_keys: &HashSet<String>) {
        self.secrets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .add_config(config, spec_secret_keys);
    }

    pub fn is_empty(&self) -> bool {
        self.read().secrets.is_empty()
    }

    /// The longest text a secret can take (in bytes, in any of its forms): to mask the first `n`
    /// bytes of a text safely, a redactor must see `n + lookahead()` of them.
    pub fn lookahead(&self) -> usize {
        self.read().lookahead()
    }

    /// `text` with every secret replaced by [`MASK`].
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        self.read().redact(text)
    }

    /// The first `limit` bytes of `bytes` (read as UTF-8, invalid bytes replaced), secrets masked
    /// before the cut: a secret that begins before the cut is masked whole, its mask shown whole.
    /// Also says whether anything was cut. Only `limit + lookahead()` bytes are looked at.
    pub fn redact_truncated(&self, bytes: &[u8], limit: usize) -> (String, bool) {
        self.read().redact_truncated(bytes, limit)
    }
}

impl Secrets {
    /// Adds the secrets of another config (one the connector issued with CONTROL).
    pub fn add_config(&mut self, config: &Map<String, Value>, spec_secret_keys: &HashSet<String>) {
        let mut found = Vec::new();
        collect(config, spec_secret_keys, false, &mut found);
        for s in found {
            let short = s.chars().count() < MIN_SECRET_LEN;
            if s.is_empty()
                || (short && !s.chars().any(char::is_alphanumeric))
                || self.secrets.contains(&s)
            {
                continue;
            }
            for form in forms(&s) {
                if !self
                    .needles
                    .iter()
                    .any(|n| n.finder.needle() == form.as_bytes())
                {
                    self.needles.push(Needle {
                        finder: Finder::new(form.as_bytes()).into_owned(),
                        whole_token: short,
                    });
                }
            }
            self.secrets.push(s);
        }
    }

    /// The longest text a secret can take (in bytes, in any of its forms): to mask the first `n`
    /// bytes of a text safely, a redactor must see `n + lookahead()` of them.
    pub fn lookahead(&self) -> usize {
        self.needles
            .iter()
            .map(|n| n.finder.needle().len())
            .max()
            .unwrap_or(0)
    }

    /// `text` with every secret replaced by [`MASK`].
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let found = self.find(text);
        if found.is_empty() {
            return Cow::Borrowed(text);
        }
        Cow::Owned(masked(text, &found))
    }

    /// The first `limit` bytes of `bytes` (read as UTF-8, invalid bytes replaced), secrets masked
    /// before the cut: a secret that begins before the cut is masked whole, its mask shown whole.
    /// Also says whether anything was cut. Only `limit + lookahead()` bytes are looked at.
    pub fn redact_truncated(&self, bytes: &[u8], limit: usize) -> (String, bool) {
        let window = &bytes[..bytes.len().min(limit.saturating_add(self.lookahead()))];
        let text = String::from_utf8_lossy(window);
        let found = self.find(&text);
        // Lossy decoding only ever makes the text longer, so a position in it is never before the
        // byte it came from: nothing past `limit` bytes is shown but a mask.
        let mut cut = limit.min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        if let Some(straddling) = found.iter().find(|r| r.start < cut && r.end > cut) {
            cut = straddling.end;
        }
        let kept: Vec<Range<usize>> = found.into_iter().filter(|r| r.start < cut).collect();
        let was_cut = cut < text.len() || window.len() < bytes.len();
        (masked(&text[..cut], &kept), was_cut)
    }

    /// Where the secrets are in `text`: sorted, overlapping matches merged (so that two secrets
    /// that overlap leave no tail of either).
    fn find(&self, text: &str) -> Vec<Range<usize>> {
        let hay = text.as_bytes();
        let mut found = Vec::new();
        for n in &self.needles {
            let len = n.finder.needle().len();
            let mut at = 0;
            while let Some(i) = n.finder.find(&hay[at..]) {
                let start = at + i;
                let end = start + len;
                if !n.whole_token || stands_alone(text, start, end) {
                    found.push(start..end);
                }
                at = start + 1;
            }
        }
        found.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
        let mut merged: Vec<Range<usize>> = Vec::with_capacity(found.len());
        for r in found {
            match merged.last_mut() {
                Some(last) if r.start < last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        merged
    }
}

/// `text` with these (sorted, disjoint) ranges replaced by [`MASK`].
fn masked(text: &str, ranges: &[Range<usize>]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for r in ranges {
        out.push_str(&text[from..r.start]);
        out.push_str(MASK);
        from = r.end;
    }
    out.push_str(&text[from..]);
    out
}

/// Whether `text[start..end]` is not part of a longer word: no letter or digit right before or
/// right after it.
fn stands_alone(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
}

/// How non-ASCII characters are written in a JSON string.
#[derive(Clone, Copy)]
enum NonAscii {
    /// As they are (serde_json, most encoders).
    Kept,
    /// `\u00e4` (Python's `json.dumps`, `ensure_ascii`).
    Lower,
    /// `\u00E4` (Jackson's `ESCAPE_NON_ASCII`).
    Upper,
}

/// The forms of a secret that can appear in a log: see the module docs.
fn forms(secret: &str) -> Vec<String> {
    fn add(forms: &mut Vec<String>, form: String) {
        if !forms.contains(&form) {
            forms.push(form);
        }
    }
    let mut forms = vec![secret.to_string()];
    let escaped =
        [NonAscii::Kept, NonAscii::Lower, NonAscii::Upper].map(|mode| json_escaped(secret, mode));
    // JSON inside a JSON string: a config logged as JSON, inside a JSON log line.
    let twice = [
        json_escaped(&escaped[0], NonAscii::Kept),
        json_escaped(&escaped[1], NonAscii::Kept),
    ];
    for form in escaped.into_iter().chain(twice) {
        add(&mut forms, form);
    }
    // JSON allows `\/` for `/`, and some encoders write it.
    for form in forms.clone() {
        if form.contains('/') {
            add(&mut forms, form.replace('/', "\\/"));
        }
    }
    forms
}

/// `s` escaped as inside a JSON string (without the quotes).
fn json_escaped(s: &str, non_ascii: NonAscii) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    let hex = |out: &mut String, unit: u16| {
        let text = match non_ascii {
            NonAscii::Upper => format!("\\u{unit:04X}"),
            NonAscii::Kept | NonAscii::Lower => format!("\\u{unit:04x}"),
        };
        out.push_str(&text);
    };
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => hex(&mut out, c as u16),
            '\u{7f}' if !matches!(non_ascii, NonAscii::Kept) => hex(&mut out, 0x7f),
            c if c.is_ascii() => out.push(c),
            c => match non_ascii {
                NonAscii::Kept => out.push(c),
                NonAscii::Lower | NonAscii::Upper => {
                    for unit in c.encode_utf16(&mut [0; 2]) {
                        hex(&mut out, *unit);
                    }
                }
            },
        }
    }
    out
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

    fn redactor(config: Value) -> Redactor {
        Redactor::new(config.as_object().unwrap(), &HashSet::new())
    }

    /// `secret` as serde_json writes it inside a string.
    fn serde_form(secret: &str) -> String {
        let quoted = serde_json::to_string(secret).unwrap();
        quoted[1..quoted.len() - 1].to_string()
    }

    #[test]
    fn json_escaped_forms_are_masked() {
        let secret = "q\"uo\\te-\u{e4}/\u{20ac}\u{1F600}\n";
        let r = redactor(json!({"password": secret}));
        let serde = serde_form(secret);
        assert_ne!(serde, secret);
        let forms = [
            secret.to_string(),
            serde.clone(),
            // Python's json.dumps (ensure_ascii): lower case hex, surrogate pairs.
            r#"q\"uo\\te-\u00e4/\u20ac\ud83d\ude00\n"#.to_string(),
            // Jackson's ESCAPE_NON_ASCII: upper case hex.
            r#"q\"uo\\te-\u00E4/\u20AC\uD83D\uDE00\n"#.to_string(),
            serde.replace('/', "\\/"),
            r#"q\"uo\\te-\u00e4\/\u20ac\ud83d\ude00\n"#.to_string(),
            // A JSON config inside a JSON log line: escaped twice.
            serde_form(&serde),
        ];
        for form in forms {
            let line = format!(
                "{{\"message\": \"config is {{\\\"password\\\": \\\"{form}\\\"}}\"}} {form}!"
            );
            let masked = r.redact(&line);
            assert!(!masked.contains(&form), "{form} in {masked}");
            assert!(!masked.contains("uo"), "a part of the secret in {masked}");
            assert_eq!(masked.matches(MASK).count(), 2, "{masked}");
        }
    }

    #[test]
    fn json_escaping_is_serde_json_s() {
        for s in [
            "plain",
            "a\"b\\c",
            "tab\tnl\nnul\u{0}\u{1f}\u{7f}",
            "\u{e4}\u{1F600}/",
        ] {
            assert_eq!(json_escaped(s, NonAscii::Kept), serde_form(s), "{s:?}");
        }
    }

    #[test]
    fn short_secrets_are_masked_where_they_stand_alone() {
        let r = redactor(json!({"password": "ab", "dsn": "postgres://u:x9@db/x", "token": ":"}));
        assert_eq!(
            r.redact(r#"{"password": "ab"} password=ab&user=u u:x9@db"#),
            format!(r#"{{"password": "{MASK}"}} password={MASK}&user=u u:{MASK}@db"#)
        );
        // Parts of words stay, and so does punctuation that happens to be a secret.
        let ordinary = "about a cab: abc lab x9y";
        assert_eq!(r.redact(ordinary), ordinary);
        assert_eq!(
            r.redact(r#"{\"password\": \"ab\"}"#),
            format!(r#"{{\"password\": \"{MASK}\"}}"#)
        );
    }

    #[test]
    fn overlapping_secrets_leave_no_tail() {
        let r = redactor(json!({"token": "abcd", "password": "cdef"}));
        assert_eq!(r.redact("x abcdef y"), format!("x {MASK} y"));
        let r = redactor(json!({"token": "aaaa"}));
        assert_eq!(r.redact("aaaaa"), MASK);
    }

    #[test]
    fn truncation_never_shows_part_of_a_secret() {
        let secret = "Zq7-cut-secret";
        let long = "L".repeat(60);
        let r = redactor(json!({"api_key": secret, "password": long}));
        assert!(r.lookahead() >= secret.len());
        // The secret at every position around the cut, after a longer secret that masking shortens,
        // after invalid UTF-8 and a multi-byte character.
        for before in ["", long.as_str()] {
            for at in 0..40 {
                let mut line = Vec::new();
                line.extend_from_slice(before.as_bytes());
                line.extend_from_slice(b"\xff\xfe \xc3\xa4 ");
                line.extend(std::iter::repeat_n(b'x', at));
                line.extend_from_slice(secret.as_bytes());
                line.extend_from_slice(b" tail");
                for limit in [20, 30, before.len() + 25] {
                    let (shown, cut) = r.redact_truncated(&line, limit);
                    assert!(!shown.contains("Zq"), "limit {limit}: {shown}");
                    assert!(!shown.contains("LLL"), "limit {limit}: {shown}");
                    assert!(cut || line.len() <= limit, "limit {limit}: {shown}");
                }
            }
        }
        let (shown, cut) = r.redact_truncated(format!("a {secret} b").as_bytes(), 1000);
        assert_eq!(
            (shown.as_str(), cut),
            (format!("a {MASK} b").as_str(), false)
        );
        let (shown, cut) = Redactor::default().redact_truncated(b"abcdef", 3);
        assert_eq!((shown.as_str(), cut), ("abc", true));
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

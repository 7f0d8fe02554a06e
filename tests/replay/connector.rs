//! `source-replay`: an Airbyte source that prints, byte for byte, what its config says, so tests can
//! make a connector write any line at all (torn, misordered, prefixed with NUL, multi-line logs).
//!
//! Config: `{"discover": HEX, "read": HEX, "read_exit_code": N}`: the output of each command as hex
//! (hex needs no JSON unescaping, so this stays a std-only file the tests compile with `rustc`).
//! `spec` prints a fixed SPEC and `check` a SUCCEEDED status unless the config says otherwise.
use std::io::Write;
use std::process::ExitCode;

fn field<'a>(config: &'a str, key: &str) -> Option<&'a str> {
    let needle = format!("\"{key}\":");
    let at = config.find(&needle)? + needle.len();
    let rest = config[at..].trim_start();
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    let end = rest.find(|c: char| c == '"' || c == ',' || c == '}')?;
    Some(&rest[..end])
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().map(String::as_str).unwrap_or("");
    let mut out = std::io::stdout().lock();
    if command == "spec" {
        let _ = out.write_all(b"{\"type\":\"SPEC\",\"spec\":{\"connectionSpecification\":{\"type\":\"object\",\"properties\":{}}}}\n");
        return ExitCode::SUCCESS;
    }
    let config = args
        .iter()
        .position(|a| a == "--config")
        .and_then(|i| args.get(i + 1))
        .and_then(|path| std::fs::read_to_string(path).ok())
        .unwrap_or_default();
    match field(&config, command) {
        Some(hex) => {
            let _ = out.write_all(&unhex(hex));
        }
        None if command == "check" => {
            let _ = out.write_all(b"{\"type\":\"CONNECTION_STATUS\",\"connectionStatus\":{\"status\":\"SUCCEEDED\"}}\n");
        }
        None => {}
    }
    let _ = out.flush();
    let code = field(&config, &format!("{command}_exit_code"))
        .and_then(|c| c.parse::<u8>().ok())
        .unwrap_or(0);
    ExitCode::from(code)
}

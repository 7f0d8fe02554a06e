//! The command line, Meltano SDK style. Parsing only: no side effects. `--discover` and `--test`
//! exclude each other, and `--test` takes no catalog (clap refuses such a line with exit code 2).
//! `--discover` accepts a catalog and ignores it, as Singer SDK taps do: `meltano invoke tap
//! --discover` passes the catalog Meltano keeps.
use clap::{Parser, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "tap-airbyte",
    version,
    about = "Run any Airbyte source connector as a Singer tap: through the Docker Engine API, or natively.",
    long_about = None,
    after_help = "Exit codes: 0 success; 1 connector failure; 2 configuration or usage error; \
                  3 Docker engine problem; 4 the tap's own output failed (stdout closed before or \
                  during the run, or not writable). On SIGTERM/SIGINT/SIGHUP/SIGQUIT the \
                  connector container is removed and the tap dies by the same signal."
)]
pub struct Args {
    /// Config file (JSON). May repeat: later files win key by key. `ENV` reads TAP_AIRBYTE_* variables.
    #[arg(long = "config", value_name = "PATH")]
    pub config: Vec<String>,

    /// Print the Singer catalog of the connector's streams to stdout (nothing else goes to stdout).
    /// A --catalog given with it is not read.
    #[arg(long, conflicts_with = "test")]
    pub discover: bool,

    /// Singer catalog: which streams and properties to sync, and how.
    #[arg(long, value_name = "PATH", conflicts_with = "properties")]
    pub catalog: Option<String>,

    /// Legacy name of --catalog.
    #[arg(long, value_name = "PATH", hide = true)]
    pub properties: Option<String>,

    /// State to resume from (the value of the last Singer STATE, or tap-airbyte-wrapper's).
    #[arg(long, value_name = "PATH")]
    pub state: Option<String>,

    /// Print what the tap is and its settings; with a config, also the connector's own settings.
    #[arg(long)]
    pub about: bool,

    /// Format of --about.
    #[arg(long, value_enum, default_value_t = AboutFormat::Text, requires = "about")]
    pub format: AboutFormat,

    /// Run the connector's `check`; exit 0 only when it reports SUCCEEDED.
    #[arg(long, conflicts_with_all = ["catalog", "properties"])]
    pub test: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AboutFormat {
    Text,
    Json,
    Markdown,
    /// A Meltano plugin definition (YAML) for `meltano.yml`.
    Meltano,
}

impl Args {
    pub fn catalog_path(&self) -> Option<&str> {
        self.catalog.as_deref().or(self.properties.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("tap-airbyte").chain(args.iter().copied()))
    }

    #[test]
    fn modes_that_would_ignore_each_other_are_refused() {
        for args in [
            &["--discover", "--test"][..],
            &["--test", "--catalog", "c.json"],
            &["--test", "--properties", "c.json"],
            &["--catalog", "a.json", "--properties", "b.json"],
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ArgumentConflict, "{args:?}");
            assert_eq!(e.exit_code(), 2, "{args:?}");
        }
        for args in [
            &["--discover", "--config", "c.json"][..],
            &["--discover", "--catalog", "c.json", "--state", "s.json"],
            &["--discover", "--properties", "c.json"],
            &["--test", "--config", "c.json"],
            &["--catalog", "c.json", "--state", "s.json"],
            &["--properties", "c.json"],
        ] {
            parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        }
    }
}

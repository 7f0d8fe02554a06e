use clap::Parser;
use std::process::ExitCode;
use tap_airbyte::{app, cli::Args, logging};

fn main() -> ExitCode {
    let args = Args::parse();
    logging::init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(app::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(e.kind.exit_code())
        }
    }
}

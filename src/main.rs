use clap::Parser;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU8, Ordering};
use tap_airbyte::error::Kind;
use tap_airbyte::{app, cli::Args, logging};

/// Which of stdin, stdout and stderr were closed when the process started (bit per descriptor).
/// Rust's start-up points closed ones at /dev/null before `main`, so a tap started with stdout
/// closed (`>&-`) would write its Singer stream nowhere and exit 0: this is read before that.
static CLOSED_AT_START: AtomicU8 = AtomicU8::new(0);

#[cfg(target_os = "linux")]
extern "C" fn record_closed_fds() {
    for fd in 0..3 {
        #[allow(unsafe_code)]
        // SAFETY: fcntl(F_GETFD) only queries the descriptor table.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags == -1 {
            CLOSED_AT_START.fetch_or(1 << fd, Ordering::SeqCst);
        }
    }
}

/// Runs before Rust's runtime start-up (an ELF constructor).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
#[used]
#[link_section = ".init_array"]
static RECORD_CLOSED_FDS: extern "C" fn() = record_closed_fds;

fn main() -> ExitCode {
    let args = Args::parse();
    logging::init();
    if CLOSED_AT_START.load(Ordering::SeqCst) & 0b010 != 0 {
        tracing::error!("stdout is closed: the tap has nowhere to write the Singer stream");
        return ExitCode::from(Kind::Output.exit_code());
    }
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

//! SIGINT and SIGTERM: the first one asks the run to stop (it still writes its report, with
//! outcome `interrupted`); a second one exits at once. Installed before anything is loaded, so
//! a signal during start-up is not lost.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering::SeqCst};

/// Set by the first signal; the run polls it.
pub static INTERRUPT: AtomicBool = AtomicBool::new(false);
/// The first signal's number (0 before any).
static FIRST: AtomicI32 = AtomicI32::new(0);
/// Under mpirun a second signal does not exit: mpirun itself follows its SIGTERM with SIGKILL,
/// and a Ctrl-C reaches the ranks both directly and through mpirun.
static PATIENT: AtomicBool = AtomicBool::new(false);

/// Let every signal after the first one pass (see [`PATIENT`]).
#[cfg(feature = "mpi")]
pub fn patient() {
    PATIENT.store(true, SeqCst);
}

/// Start the thread that receives SIGINT and SIGTERM.
pub fn install() -> Result<(), String> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| format!("cannot install the signal handlers: {e}"))?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if FIRST.compare_exchange(0, sig, SeqCst, SeqCst).is_ok() {
                    INTERRUPT.store(true, SeqCst);
                    eprintln!(
                        "\ntrainer: {}: stopping (the report is written); again to exit at once",
                        name(sig)
                    );
                } else if !PATIENT.load(SeqCst) {
                    eprintln!("\ntrainer: {}: exiting now, without a report", name(sig));
                    std::process::exit(128 + sig);
                }
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(())
}

fn name(sig: i32) -> &'static str {
    if sig == signal_hook::consts::SIGTERM {
        "SIGTERM"
    } else {
        "SIGINT"
    }
}

/// The exit code of an interrupted run: 128 + the signal (130 for SIGINT, 143 for SIGTERM), or
/// 130 when it was interrupted otherwise.
pub fn exit_code() -> u8 {
    match FIRST.load(SeqCst) {
        0 => 130,
        s => (128 + s) as u8,
    }
}

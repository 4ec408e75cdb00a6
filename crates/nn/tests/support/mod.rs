//! Shared by the kernel tests: run a check once per instruction set this CPU has, and name the
//! others as not run.

use nn::Isa;
use std::io::Write;

/// Run `check` for every [`Isa`] this CPU has (portable always), fastest first, and report each
/// one it lacks as NOT RUN on the real stderr (written around the test harness's capture, so it
/// shows in `cargo test`'s output whatever the test's outcome). Returns how many ran.
#[allow(dead_code)] // every test file uses one of the two helpers
pub fn each_isa(test: &str, mut check: impl FnMut(Isa)) -> usize {
    let mut ran = 0;
    for isa in Isa::ALL {
        if isa.available() {
            check(isa);
            ran += 1;
        } else {
            not_run(test, isa);
        }
    }
    assert!(ran >= 1, "{test}: the portable kernels always run");
    ran
}

/// Report that `test` could not run `isa` on this CPU.
pub fn not_run(test: &str, isa: Isa) {
    let why = match Isa::cap() {
        Some(max) if isa.hidden() && isa.detected() => {
            format!("hidden by {}={max}", nn::kernels::isa::MAX_ENV)
        }
        _ => format!("this CPU, {}, lacks {}", nn::cpu_model(), isa.needs()),
    };
    let line = format!("NOT RUN: {test} on {isa} ({why})\n");
    // `eprintln!` would be captured by the harness and shown only on failure.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

//! `cargo xtask <command>`: project automation.
//!
//! - `cargo xtask bench [--quick]`: run every crate's criterion benches (issue #8 adds the
//!   experiment suite and the generated report).
//! - `cargo xtask loom [--preemptions N]`: model-check `pvec`'s Leashed-SGD publish loop with loom
//!   (its own target dir, since `--cfg loom` rebuilds everything).
//! - `cargo xtask miri`: run `pvec`'s tests under miri (nightly; installs the component if missing;
//!   exits 3 if it cannot, 1 if a test fails).

use std::process::{Command, ExitCode};
use std::time::Instant;

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(mut cmd: Command, what: &str) -> ExitCode {
    eprintln!("xtask: {what}: {cmd:?}");
    let t = Instant::now();
    match cmd.status() {
        Ok(s) if s.success() => {
            eprintln!("xtask: {what} passed in {:.1}s", t.elapsed().as_secs_f64());
            ExitCode::SUCCESS
        }
        Ok(s) => {
            eprintln!("xtask: {what} FAILED ({s})");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("xtask: cannot run {what}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn loom(args: &[String]) -> ExitCode {
    let preemptions = match args.iter().position(|a| a == "--preemptions") {
        Some(i) => match args.get(i + 1).and_then(|v| v.parse::<u32>().ok()) {
            Some(n) => n,
            None => {
                eprintln!("xtask: --preemptions needs a number");
                return ExitCode::from(2);
            }
        },
        None => 3,
    };
    let mut cmd = cargo();
    let flags = format!(
        "{} --cfg loom",
        std::env::var("RUSTFLAGS").unwrap_or_default()
    );
    cmd.env("RUSTFLAGS", flags.trim())
        .env("LOOM_MAX_PREEMPTIONS", preemptions.to_string())
        .args([
            "test",
            "-p",
            "pvec",
            "--test",
            "loom",
            "--release",
            "--target-dir",
            "target/loom",
        ]);
    run(cmd, &format!("loom (preemption bound {preemptions})"))
}

/// Exit code of `cargo xtask miri` when miri cannot be installed (as opposed to failing tests).
const MIRI_UNAVAILABLE: u8 = 3;

fn miri() -> ExitCode {
    let have = Command::new("cargo")
        .args(["+nightly", "miri", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !have {
        eprintln!("xtask: installing miri for the nightly toolchain");
        let ok = Command::new("rustup")
            .args([
                "component",
                "add",
                "--toolchain",
                "nightly",
                "miri",
                "rust-src",
            ])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            eprintln!(
                "xtask: miri is not available (needs a nightly toolchain with the miri component)"
            );
            return ExitCode::from(MIRI_UNAVAILABLE);
        }
    }
    let mut cmd = Command::new("cargo");
    cmd.env("MIRIFLAGS", "-Zmiri-disable-isolation").args([
        "+nightly",
        "miri",
        "test",
        "-p",
        "pvec",
        "--target-dir",
        "target/miri",
    ]);
    run(cmd, "miri")
}

fn bench(args: &[String]) -> ExitCode {
    let mut cmd = cargo();
    cmd.args(["bench", "--workspace", "--benches"]);
    if args.iter().any(|a| a == "--quick") {
        cmd.args(["--", "--warm-up-time", "1", "--measurement-time", "3"]);
    }
    run(cmd, "criterion benches")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bench") => bench(&args[1..]),
        Some("loom") => loom(&args[1..]),
        Some("miri") => miri(),
        _ => {
            eprintln!("usage: cargo xtask bench [--quick] | loom [--preemptions N] | miri");
            ExitCode::from(2)
        }
    }
}

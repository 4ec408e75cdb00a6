//! `cargo xtask <command>`: project automation.
//!
//! - `cargo xtask bench [--quick]`: run the criterion benches of every crate (issue #8 adds the
//!   experiment suite and the generated report).

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bench") => {
            let quick = args.iter().any(|a| a == "--quick");
            let mut cmd = Command::new(env!("CARGO"));
            cmd.args(["bench", "--workspace", "--benches"]);
            if quick {
                cmd.args(["--", "--warm-up-time", "1", "--measurement-time", "3"]);
            }
            eprintln!("xtask: {cmd:?}");
            match cmd.status() {
                Ok(s) if s.success() => ExitCode::SUCCESS,
                Ok(_) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("xtask: cannot run cargo: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!("usage: cargo xtask bench [--quick]");
            ExitCode::from(2)
        }
    }
}

//! `cargo xtask <command>`: project automation.
//!
//! - `cargo xtask bench [--quick] [--filter a,b] [--repeats N] [--fresh] [--no-report]`: the
//!   experiment suite that reproduces the thesis' tables next to its numbers, plus every crate's
//!   criterion benches; writes the generated part of `docs/results.md` and figures under
//!   `docs/img/`. Experiments (one file each under `experiments/`): `tt50` (time to 50 % vs the
//!   thesis' C++), `s1` (§B.5 S1 and the §B.4 fixed point), `s2` (S2/S3 high precision, S5
//!   memory), `a1` (Table A.1 / Fig. A.2 fits), `mpi` (Table A.1 on the MPI parameter server,
//!   skipped where `mpirun` is missing), `c2` (Table C.2 with the TAIL-τ decomposition),
//!   `d2` (Table D.2), `s1sim`, `a1sim`, `c2sim`, `d2sim` (S1 at m ≤ 68, Table A.1, C.2 and
//!   D.2 with M = 36 on the simulated executor, in virtual time), `criterion`. Runs are limited by updates (wall clock only as a safety
//!   cap); comparisons carry bootstrap intervals (`--repeats`, default 5). Each trainer run is
//!   cached under `out/bench/runs/`, so an interrupted suite resumes where it stopped (`--fresh`
//!   ignores the cache). `--quick` scales every experiment down.
//! - `cargo xtask loom [--preemptions N]`: model-check `pvec`'s Leashed-SGD publish loop with loom
//!   (its own target dir, since `--cfg loom` rebuilds everything).
//! - `cargo xtask miri`: run `pvec`'s tests and `nn`'s packed-GEMM and direct-convolution tests (AVX-512 enabled)
//!   under miri (nightly; installs the component if missing; exits 3 if it cannot, 1 if a test
//!   fails).
#![forbid(unsafe_code)]

mod chart;
mod criterion;
mod experiments;
mod suite;

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
    // Its own target dir (`--cfg loom` rebuilds everything), so a lighter release profile than
    // the workspace's (no LTO, parallel codegen, no debug info) costs nothing elsewhere and
    // halves the build; the model checks still run optimised.
    cmd.env("RUSTFLAGS", flags.trim())
        .env("LOOM_MAX_PREEMPTIONS", preemptions.to_string())
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
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

/// Where and with what flags `cargo xtask miri` builds (shared by its pvec and nn runs).
const MIRI_TARGET: &str = "target/miri";
const MIRI_RUSTFLAGS: &str = "-C target-feature=+avx512f,+avx2,+fma";

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
    // Both runs share one target dir and one set of flags, so the dependencies (criterion,
    // proptest) are interpreted-built once: the flags only matter to nn, whose kernels are
    // built with AVX-512 enabled so that miri (which answers feature detection from the
    // compile-time features) runs the intrinsics paths as well as the portable ones.
    let mut cmd = Command::new("cargo");
    cmd.env("MIRIFLAGS", "-Zmiri-disable-isolation")
        .env("RUSTFLAGS", MIRI_RUSTFLAGS)
        .args([
            "+nightly",
            "miri",
            "test",
            "-p",
            "pvec",
            "--target-dir",
            MIRI_TARGET,
        ]);
    let pvec = run(cmd, "miri (pvec)");
    if pvec != ExitCode::SUCCESS {
        return pvec;
    }
    let mut cmd = Command::new("cargo");
    cmd.env("MIRIFLAGS", "-Zmiri-disable-isolation")
        .env("RUSTFLAGS", MIRI_RUSTFLAGS)
        .args([
            "+nightly",
            "miri",
            "test",
            "-p",
            "nn",
            "--test",
            "packed",
            "--test",
            "direct",
            "--target-dir",
            MIRI_TARGET,
        ]);
    run(
        cmd,
        "miri (nn packed GEMM and direct convolution, AVX-512, AVX2 and portable kernels)",
    )
}

/// The value after `flag` in `args`.
fn flag_value(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// The experiments, in report order (one list: the report's order is the CLI's).
const EXPERIMENTS: &[&str] = suite::ORDER;

fn bench(args: &[String]) -> ExitCode {
    let quick = args.iter().any(|a| a == "--quick");
    let repeats = match flag_value(args, "--repeats").map(|v| v.parse::<usize>()) {
        None => 5,
        Some(Ok(n)) if n >= 1 => n,
        _ => {
            eprintln!("xtask: --repeats needs a positive number");
            return ExitCode::from(2);
        }
    };
    let filter: Vec<String> = flag_value(args, "--filter")
        .map(|f| {
            f.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if let Some(bad) = filter.iter().find(|f| !EXPERIMENTS.contains(&f.as_str())) {
        eprintln!(
            "xtask: unknown experiment `{bad}` (known: {})",
            EXPERIMENTS.join(", ")
        );
        return ExitCode::from(2);
    }
    let known = ["--quick", "--fresh", "--no-report", "--filter", "--repeats"];
    let mut i = 0;
    while i < args.len() {
        if !known.contains(&args[i].as_str()) {
            eprintln!("xtask: unknown bench option `{}`", args[i]);
            return ExitCode::from(2);
        }
        if matches!(args[i].as_str(), "--filter" | "--repeats") {
            if args.get(i + 1).is_none_or(|v| v.starts_with("--")) {
                eprintln!("xtask: {} needs a value", args[i]);
                return ExitCode::from(2);
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    let opts = suite::Opts {
        quick,
        repeats,
        filter,
        fresh: args.iter().any(|a| a == "--fresh"),
        command: std::iter::once("cargo xtask bench".to_string())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" "),
    };
    let started = Instant::now();
    let prov = suite::Provenance::collect(&opts.command);
    let experiments = EXPERIMENTS
        .iter()
        .filter(|e| **e != "criterion" && opts.wants(e));
    let needs_trainer = experiments.clone().count() > 0;
    if needs_trainer {
        let mut build = cargo();
        build.args(["build", "--release", "-p", "trainer", "--bin", "trainer"]);
        if run(build, "build trainer") != ExitCode::SUCCESS {
            return ExitCode::FAILURE;
        }
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| std::path::PathBuf::from("target"), Into::into);
    let mut runner = experiments::runner::Runner::new(
        opts.clone(),
        target.join("release/trainer"),
        "out/bench/runs".into(),
    );
    // `--no-report` leaves docs/ alone: figures and sections go to a scratch dir instead.
    let no_report = args.iter().any(|a| a == "--no-report");
    let (img, sections) = if no_report {
        (
            std::path::Path::new("out/bench/scratch/img"),
            std::path::Path::new("out/bench/scratch/sections"),
        )
    } else {
        (
            std::path::Path::new("docs/img"),
            std::path::Path::new("out/bench/sections"),
        )
    };
    if let Err(e) = std::fs::create_dir_all(img) {
        eprintln!("xtask: cannot create {}: {e}", img.display());
        return ExitCode::FAILURE;
    }
    let mut failed = false;
    for &exp in experiments {
        let t = Instant::now();
        let (ran0, reused0) = (runner.ran, runner.reused);
        eprintln!("xtask bench: experiment {exp}");
        // Planning passes draw their (empty) figures where nobody reads them.
        let plan_img = std::path::Path::new("out/bench/scratch/plan-img");
        let _ = std::fs::create_dir_all(plan_img);
        let section = runner.interleaved(|r, planning| {
            experiments::run(exp, r, if planning { plan_img } else { img })
        });
        let Some(mut section) = section else {
            unreachable!("filtered to EXPERIMENTS without criterion")
        };
        let line = prov.line(
            quick,
            repeats,
            t.elapsed().as_secs_f64(),
            runner.ran - ran0,
            runner.reused - reused0,
        );
        section.markdown = insert_after_heading(&section.markdown, &line);
        let verdicts = experiments::stats::take_recorded();
        if let Err(e) = suite::save_section(sections, &section)
            .and_then(|()| suite::save_verdicts(sections, exp, &line, verdicts))
        {
            eprintln!("xtask: cannot save section {exp}: {e}");
            failed = true;
        }
        eprintln!(
            "xtask bench: {exp} done in {:.0} s",
            t.elapsed().as_secs_f64()
        );
    }
    if opts.wants("criterion") {
        let t = Instant::now();
        match criterion::run(quick, &target) {
            Some(mut section) => {
                let line = prov.line(quick, 1, t.elapsed().as_secs_f64(), 0, 0);
                section.markdown = insert_after_heading(&section.markdown, &line);
                if let Err(e) = suite::save_section(sections, &section) {
                    eprintln!("xtask: cannot save section criterion: {e}");
                    failed = true;
                }
            }
            None => failed = true,
        }
    }
    match suite::assemble_verdicts(sections, &prov) {
        Ok(path) => eprintln!("xtask bench: verdicts in {}", path.display()),
        Err(e) => {
            eprintln!("xtask: cannot write the verdicts summary: {e}");
            failed = true;
        }
    }
    if !no_report {
        let header = format!(
            "# Reproduction report (`cargo xtask bench`)\n\nGenerated; each section says the command, \
             commit, machine and mode it came from (a `--filter` run replaces only its own sections). \
             Runs are cached under `out/bench/runs/`; the figures are in `docs/img/`. Last run: `{}` at \
             commit `{}`, {}, {} ({} cores).",
            prov.command, prov.commit, prov.date, prov.cpu, prov.cores
        );
        match suite::assemble(std::path::Path::new("docs/results.md"), sections, &header) {
            Ok(()) => eprintln!("xtask bench: docs/results.md updated"),
            Err(e) => {
                eprintln!("xtask: cannot write docs/results.md: {e}");
                failed = true;
            }
        }
    }
    eprintln!(
        "xtask bench: {} trainer runs, {} reused, {} without a report, {:.1} min",
        runner.ran,
        runner.reused,
        runner.failed,
        started.elapsed().as_secs_f64() / 60.0
    );
    if failed || runner.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `line` as the paragraph after the section's first heading.
fn insert_after_heading(md: &str, line: &str) -> String {
    match md.find("\n\n") {
        Some(i) => format!("{}\n\n{line}{}", &md[..i], &md[i..]),
        None => format!("{md}\n\n{line}\n"),
    }
}

fn main() -> ExitCode {
    // Paths (out/, docs/, target/) are relative to the workspace root.
    if let Some(root) = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent() {
        let _ = std::env::set_current_dir(root);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bench") => bench(&args[1..]),
        Some("loom") => loom(&args[1..]),
        Some("miri") => miri(),
        Some("tt50") => {
            bench(&[vec!["--filter".into(), "tt50".into()], args[1..].to_vec()].concat())
        }
        Some("d2") => bench(&[vec!["--filter".into(), "d2".into()], args[1..].to_vec()].concat()),
        _ => {
            eprintln!("usage: cargo xtask bench [--quick] [--filter {}] [--repeats N] [--fresh] [--no-report] | loom [--preemptions N] | miri", EXPERIMENTS.join(","));
            ExitCode::from(2)
        }
    }
}

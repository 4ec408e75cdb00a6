//! `cargo xtask <command>`: project automation.
//!
//! - `cargo xtask bench [--quick]`: run every crate's criterion benches (issue #8 adds the
//!   experiment suite and the generated report).
//! - `cargo xtask loom [--preemptions N]`: model-check `pvec`'s Leashed-SGD publish loop with loom
//!   (its own target dir, since `--cfg loom` rebuilds everything).
//! - `cargo xtask tt50 [--repeats N] [--filter S]`: time to 50 % of the initial loss with the
//!   thesis preset, every algorithm at m = 1 and 2, MLP / CNN / LeNet, next to the thesis' C++
//!   figures (issue #6); medians of N runs (default 3), written to `out/tt50/table.md`.
//! - `cargo xtask d2 [--repeats N] [--seconds S]`: Table D.2 — ELAsyncSGD with M = 8 against a
//!   static sweep m ∈ {1, 2, 4, 8} (lock-based and HOGWILD!), same wall-clock budget.
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

/// (name, arch, batch, algorithm, threads, thesis updates, thesis seconds)
type Cell = (
    &'static str,
    &'static str,
    usize,
    &'static str,
    usize,
    Option<u32>,
    Option<f64>,
);

const TT50: &[Cell] = &[
    ("MLP b=512", "mlp", 512, "seq", 1, Some(185), Some(5.3)),
    ("MLP b=512", "mlp", 512, "async", 1, None, None),
    ("MLP b=512", "mlp", 512, "hogwild", 1, None, None),
    ("MLP b=512", "mlp", 512, "leashed", 1, None, None),
    ("MLP b=512", "mlp", 512, "async", 2, Some(205), Some(2.6)),
    ("MLP b=512", "mlp", 512, "hogwild", 2, Some(205), Some(2.6)),
    ("MLP b=512", "mlp", 512, "leashed", 2, Some(205), Some(2.6)),
    ("CNN b=512", "cnn", 512, "seq", 1, Some(320), Some(33.5)),
    ("CNN b=512", "cnn", 512, "async", 1, None, None),
    ("CNN b=512", "cnn", 512, "hogwild", 1, None, None),
    ("CNN b=512", "cnn", 512, "leashed", 1, None, None),
    ("CNN b=512", "cnn", 512, "async", 2, None, None),
    ("CNN b=512", "cnn", 512, "hogwild", 2, None, None),
    ("CNN b=512", "cnn", 512, "leashed", 2, None, None),
    ("LeNet b=128", "lenet", 128, "seq", 1, Some(139), Some(6.2)),
    (
        "LeNet b=128",
        "lenet",
        128,
        "leashed",
        2,
        Some(155),
        Some(4.0),
    ),
];

fn median_min_max(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let med = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (med, v[0], v[n - 1])
}

/// The value after `flag` in `args`.
fn flag_value(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// Build the release `trainer` binary the experiments run.
fn build_trainer() -> bool {
    let mut build = cargo();
    build.args(["build", "--release", "-p", "trainer", "--bin", "trainer"]);
    run(build, "build trainer") == ExitCode::SUCCESS
}

fn tt50(args: &[String]) -> ExitCode {
    let value = |flag: &str| flag_value(args, flag);
    let repeats: usize = value("--repeats").and_then(|v| v.parse().ok()).unwrap_or(3);
    let filter = value("--filter").unwrap_or_default();
    if !build_trainer() {
        return ExitCode::FAILURE;
    }
    let bin = std::path::Path::new("target/release/trainer");
    let out = std::path::Path::new("out/tt50");
    if let Err(e) = std::fs::create_dir_all(out) {
        eprintln!("xtask: cannot create {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    let mut rows = Vec::new();
    for &(name, arch, batch, alg, m, t_upd, t_sec) in TT50 {
        let label = format!("{name} {alg} m={m}");
        if !label.contains(&filter) {
            continue;
        }
        let (mut secs, mut upds, mut failed) = (Vec::new(), Vec::new(), 0);
        for r in 0..repeats {
            let json = out.join(format!("{arch}-{alg}-m{m}-r{r}.json"));
            let status = Command::new(bin)
                .args([
                    "--preset",
                    "thesis",
                    "--arch",
                    arch,
                    "--batch",
                    &batch.to_string(),
                    "--algorithm",
                    alg,
                    "--threads",
                    &m.to_string(),
                ])
                .args([
                    "--eps",
                    "0.5",
                    "--stop-at-eps",
                    "--epochs",
                    "30",
                    "--quiet",
                    "--seed",
                    &(r + 1).to_string(),
                    "--json",
                ])
                .arg(&json)
                .stdout(std::process::Stdio::null())
                .status();
            let v: Option<serde_json::Value> = std::fs::read_to_string(&json)
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok());
            match (status, v) {
                (Ok(s), Some(v)) if s.success() && v["eps"][0]["seconds"].is_number() => {
                    secs.push(v["eps"][0]["seconds"].as_f64().unwrap_or(f64::NAN));
                    upds.push(v["eps"][0]["updates"].as_f64().unwrap_or(f64::NAN));
                }
                _ => failed += 1,
            }
            eprintln!("xtask: tt50 {label} run {}/{repeats} done", r + 1);
        }
        rows.push((label, secs, upds, failed, t_upd, t_sec));
    }
    let mut md = String::from(
        "| run | updates to 50 % (median) | time to 50 %: median [min, max] | thesis' C++ updates | thesis' C++ time | speed-up (thesis time / our median) | failed runs |\n|---|---|---|---|---|---|---|\n",
    );
    for (label, mut secs, mut upds, failed, t_upd, t_sec) in rows {
        let (cell_u, cell_t, speed) = if secs.is_empty() {
            ("–".to_string(), "–".to_string(), "–".to_string())
        } else {
            let (su, _, _) = median_min_max(&mut upds);
            let (s, lo, hi) = median_min_max(&mut secs);
            (
                format!("{su:.0}"),
                format!("{s:.2} s [{lo:.2}, {hi:.2}]"),
                t_sec.map_or("–".into(), |t| format!("{:.1}×", t / s)),
            )
        };
        md.push_str(&format!(
            "| {label} | {cell_u} | {cell_t} | {} | {} | {speed} | {failed} |\n",
            t_upd.map_or("–".into(), |u| format!("{u}")),
            t_sec.map_or("–".into(), |t| format!("{t} s"))
        ));
    }
    let path = out.join("table.md");
    if let Err(e) = std::fs::write(&path, &md) {
        eprintln!("xtask: cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    println!("{md}");
    eprintln!("xtask: table written to {}", path.display());
    ExitCode::SUCCESS
}

/// Run the trainer and parse its report.
fn trainer_report(args: &[String], json: &std::path::Path) -> Option<serde_json::Value> {
    let status = Command::new("target/release/trainer")
        .args(args)
        .arg("--json")
        .arg(json)
        .stdout(std::process::Stdio::null())
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    serde_json::from_str(&std::fs::read_to_string(json).ok()?).ok()
}

/// Table D.2: ELAsyncSGD (M = 8) against the best static m of a sweep, same wall-clock budget.
fn d2(args: &[String]) -> ExitCode {
    let value = |flag: &str| flag_value(args, flag);
    let repeats: usize = value("--repeats").and_then(|v| v.parse().ok()).unwrap_or(3);
    let seconds: f64 = value("--seconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(6.0);
    if !build_trainer() {
        return ExitCode::FAILURE;
    }
    let out = std::path::Path::new("out/d2");
    if std::fs::create_dir_all(out).is_err() {
        return ExitCode::FAILURE;
    }
    let mut md = String::from("| algorithm | run | time to 50 % | time to 15 % | final loss | mean ‖ξ‖ | worker-seconds | vs best static |\n|---|---|---|---|---|---|---|---|\n");
    for alg in ["async", "hogwild"] {
        // (label, extra args, m for R^S)
        let mut cells: Vec<(String, Vec<String>, usize)> = [1usize, 2, 4, 8]
            .iter()
            .map(|&m| {
                (
                    format!("static m={m}"),
                    vec!["--threads".into(), m.to_string(), "--ain".into()],
                    m,
                )
            })
            .collect();
        cells.push((
            "ELAsyncSGD M=8".into(),
            vec!["--threads".into(), "8".into(), "--elastic".into()],
            8,
        ));
        let mut rows = Vec::new();
        for (label, extra, _) in &cells {
            let (mut t50, mut t15, mut fl, mut xi, mut ws) =
                (vec![], vec![], vec![], vec![], vec![]);
            for r in 0..repeats {
                let json = out.join(format!(
                    "{alg}-{}-r{r}.json",
                    label.replace([' ', '='], "_")
                ));
                let mut a: Vec<String> = [
                    "--algorithm",
                    alg,
                    "--epochs",
                    "1000",
                    "--max-seconds",
                    &seconds.to_string(),
                    "--eps",
                    "0.5,0.15",
                    "--eval-every",
                    "0.1",
                    "--quiet",
                    "--seed",
                    &(r + 1).to_string(),
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                a.extend(extra.iter().cloned());
                eprintln!("xtask: d2 {alg} {label} run {}/{repeats}", r + 1);
                let Some(v) = trainer_report(&a, &json) else {
                    continue;
                };
                let secs = v["seconds"].as_f64().unwrap_or(f64::NAN);
                t50.push(v["eps"][0]["seconds"].as_f64().unwrap_or(f64::INFINITY));
                t15.push(v["eps"][1]["seconds"].as_f64().unwrap_or(f64::INFINITY));
                fl.push(v["final"]["train_loss"].as_f64().unwrap_or(f64::NAN));
                xi.push(v["ain"]["mean_norm"].as_f64().unwrap_or(f64::NAN));
                let m = v["config"]["threads"].as_f64().unwrap_or(f64::NAN);
                ws.push(v["elastic"]["worker_seconds"].as_f64().unwrap_or(m * secs));
            }
            if t50.is_empty() {
                rows.push((label.clone(), None));
                continue;
            }
            let med = |v: &mut Vec<f64>| median_min_max(v).0;
            rows.push((
                label.clone(),
                Some((
                    med(&mut t50),
                    med(&mut t15),
                    med(&mut fl),
                    med(&mut xi),
                    med(&mut ws),
                )),
            ));
        }
        // Best static m: the smallest median time to 15 %.
        let best = rows
            .iter()
            .filter(|r| r.0.starts_with("static"))
            .filter_map(|r| r.1.map(|x| (r.0.clone(), x)))
            .min_by(|a, b| a.1 .1.total_cmp(&b.1 .1));
        for (label, x) in &rows {
            let Some((t50, t15, fl, xi, ws)) = x else {
                md.push_str(&format!("| {alg} | {label} | failed | | | | | |\n"));
                continue;
            };
            let vs = match &best {
                Some((b, bx)) if label != b => format!(
                    "{:+.0} % worker-seconds, {:.2}× time to 15 % (vs {b})",
                    100.0 * (ws / bx.4 - 1.0),
                    t15 / bx.1
                ),
                Some(_) => "best static".into(),
                None => "–".into(),
            };
            let f = |t: f64| {
                if t.is_finite() {
                    format!("{t:.2} s")
                } else {
                    "not reached".into()
                }
            };
            md.push_str(&format!(
                "| {alg} | {label} | {} | {} | {fl:.4} | {xi:.3e} | {ws:.1} | {vs} |\n",
                f(*t50),
                f(*t15)
            ));
        }
    }
    let path = out.join("table.md");
    let _ = std::fs::write(&path, &md);
    println!("{md}");
    eprintln!("xtask: table written to {}", path.display());
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bench") => bench(&args[1..]),
        Some("loom") => loom(&args[1..]),
        Some("miri") => miri(),
        Some("tt50") => tt50(&args[1..]),
        Some("d2") => d2(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask bench [--quick] | loom [--preemptions N] | miri | tt50 [--repeats N] [--filter S] | d2 [--repeats N] [--seconds S]");
            ExitCode::from(2)
        }
    }
}

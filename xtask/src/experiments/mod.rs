//! The experiments of `cargo xtask bench`, one file each: small tables of cells scaled to this
//! machine, each writing one section of the report and its figures under `docs/img/`.
//!
//! Shared here: the executors a cell can run on, run budgets in updates (wall clock only as a
//! safety cap), the algorithms of Ch. B, per-cell summaries over typed reports, and outcome
//! counts that keep `diverged` and `not_converged` apart. A run's launching and caching is in
//! [`runner`], the bootstrap verdicts in [`stats`].

pub mod a1;
pub mod c2;
pub mod d2;
pub mod mpi;
pub mod runner;
pub mod s1;
pub mod s2;
pub mod sim;
pub mod stats;
pub mod tt50;

use crate::chart::Chart;
use crate::suite::Section;
use runner::{Runner, Runs};
use std::fmt::Write as _;
use std::path::Path;
use trainer::report::{Outcome, StopReason};
use trainer::Report;

/// Run experiment `name` (one of `EXPERIMENTS` but `criterion`).
pub fn run(name: &str, r: &mut Runner, img: &Path) -> Option<Section> {
    Some(match name {
        "tt50" => tt50::run(r, img),
        "s1" => s1::run(r, img, &THREADS, &s1::plan(r.opts.quick)),
        "s2" => s2::run(r, img),
        "a1" => a1::run(r, img, &THREADS, &s1::plan(r.opts.quick), "a1"),
        "c2" => c2::run(r, img, &THREADS, &c2::setting(r.opts.quick)),
        "d2" => d2::run(r, img, &THREADS, &d2::plan(r.opts.quick)),
        "mpi" => mpi::run(r),
        _ => return sim::run(name, r, img),
    })
}

/// Who runs the workers of a cell. S1, A1, C2 and D2 take one, so a variant on another
/// executor is one more `Exec` (its `--executor` word, its thread counts) passed to them.
pub struct Exec {
    /// Label in the report and part of each cell's cache key.
    pub name: &'static str,
    /// Trainer options that select it.
    pub args: &'static [&'static str],
    /// Whether m above the core count time-shares the cores (real threads do; a simulated
    /// executor would not).
    pub oversubscribes: bool,
}

/// Real threads on this machine (`--executor threads`, the trainer's default).
pub const THREADS: Exec = Exec {
    name: "threads",
    args: &[],
    oversubscribes: true,
};

/// Virtual workers in virtual time (`--executor simulated`, `docs/simulator.md`), with the
/// thesis' MLP durations at b = 512 (`sim::TIMING`).
pub const SIMULATED: Exec = Exec {
    name: "simulated",
    args: &[
        "--executor",
        "simulated",
        "--sim-timing",
        "lognormal",
        "--sim-tc-ms",
        "40",
        "--sim-tu-us",
        "600",
    ],
    oversubscribes: false,
};

impl Exec {
    /// The note on oversubscription for thread counts `ms` (empty when none is).
    pub fn note(&self, ms: &[usize]) -> String {
        if !self.oversubscribes {
            return format!(" Executor: {}.", self.name);
        }
        let c = cores();
        let over: Vec<String> = ms
            .iter()
            .filter(|&&m| m > c)
            .map(|m| m.to_string())
            .collect();
        if over.is_empty() {
            String::new()
        } else {
            format!(
                " This machine has {c} cores: m = {} oversubscribe them (threads time-share \
                 cores, which is how staleness grows here; the thesis had 36 cores).",
                over.join(", ")
            )
        }
    }

    /// `label` with the executor named when it is not the default.
    pub fn label(&self, label: &str) -> String {
        if self.args.is_empty() {
            label.to_string()
        } else {
            format!("{label} [{}]", self.name)
        }
    }
}

/// Training-set size of MNIST: converts an update budget to the trainer's `--epochs`.
const MNIST_TRAIN: f64 = 60_000.0;

/// A run's budget: `updates` update calls (as the thesis limits runs, by epochs), with the wall
/// clock only as a safety cap against a hung or pathologically slow run.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub updates: u64,
    pub batch: usize,
    pub cap_seconds: f64,
}

impl Budget {
    pub fn epochs(&self) -> f64 {
        self.updates as f64 * self.batch as f64 / MNIST_TRAIN
    }

    pub fn args(&self) -> Vec<String> {
        let mut a = s(&[
            "--batch",
            &self.batch.to_string(),
            "--epochs",
            &format!("{:.6}", self.epochs()),
        ]);
        // Infinite: no cap (a simulation's clock is virtual; its runs end by their updates).
        if self.cap_seconds.is_finite() {
            a.extend(s(&["--max-seconds", &format!("{}", self.cap_seconds)]));
        }
        a
    }

    pub fn describe(&self) -> String {
        let cap = if self.cap_seconds.is_finite() {
            format!("wall-clock safety cap {} s", self.cap_seconds)
        } else {
            "no time cap".into()
        };
        format!(
            "budget {} updates ({:.1} epochs at b = {}), {cap}",
            self.updates,
            self.epochs(),
            self.batch
        )
    }
}

pub fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The asynchronous algorithms of Ch. B: (label, --algorithm, --persistence).
pub const ALGS_B: &[(&str, &str, Option<&str>)] = &[
    ("ASYNC", "async", None),
    ("HOG", "hogwild", None),
    ("LSH_ps∞", "leashed", Some("inf")),
    ("LSH_ps1", "leashed", Some("1")),
    ("LSH_ps0", "leashed", Some("0")),
];

pub fn alg_args(alg: &str, persistence: Option<&str>, m: usize) -> Vec<String> {
    let mut a = s(&["--algorithm", alg, "--threads", &m.to_string()]);
    if let Some(p) = persistence {
        a.extend(s(&["--persistence", p]));
    }
    a
}

/// Where the thesis' C++ figures come from (`../shared/reference/anchors.md`).
pub const CPP_SOURCE: &str = "the thesis' C++ code, dcs-chalmers/shared-memory-sgd at commit \
     ddf760e, built with `g++ -std=c++14 -O3 -march=native -fopenmp` (Eigen products \
     single-threaded), measured outside this repository on a 2-core Intel Xeon of the Sapphire \
     Rapids class (AVX-512), 2026-11-21: reference figures, not measured in this run";

/// Seconds to the i-th ε target.
pub fn eps_s(i: usize) -> impl Fn(&Report) -> Option<f64> {
    move |r| r.eps.get(i)?.seconds
}

/// Updates to the i-th ε target.
pub fn eps_u(i: usize) -> impl Fn(&Report) -> Option<f64> {
    move |r| r.eps.get(i)?.updates.map(|u| u as f64)
}

/// The finite values of `f` over the runs that have one.
pub fn values(runs: &[Option<Report>], f: impl Fn(&Report) -> Option<f64>) -> Vec<f64> {
    runs.iter()
        .flatten()
        .filter_map(f)
        .filter(|x| x.is_finite())
        .collect()
}

/// The median of `f` over the runs (runs without it are skipped).
pub fn median_by(runs: &[Option<Report>], f: impl Fn(&Report) -> Option<f64>) -> Option<f64> {
    stats::median(&values(runs, f))
}

/// `x` with `d` decimals, or "–".
pub fn opt(x: Option<f64>, d: usize) -> String {
    x.map_or("–".into(), |x| format!("{x:.d$}"))
}

/// "median [min, max] k/n" of `f` over the runs (runs without it did not reach it).
pub fn mmm(
    runs: &[Option<Report>],
    f: impl Fn(&Report) -> Option<f64>,
    unit: &str,
    d: usize,
) -> String {
    let mut v = values(runs, f);
    let n = runs.len();
    if v.is_empty() {
        return format!("not reached 0/{n}");
    }
    let k = v.len();
    let (m, lo, hi) = stats::median_min_max(&mut v);
    format!("{m:.d$}{unit} [{lo:.d$}, {hi:.d$}] {k}/{n}")
}

/// How many runs ended without reaching their target, by kind: `diverged` (non-finite loss, or
/// the loss past its bound) and `not_converged` (budget spent; "at the safety cap" when the
/// wall clock, not the update budget, ended it) are never merged. "–" when none.
pub fn outcomes(runs: &[Option<Report>]) -> String {
    let count = |f: &dyn Fn(&Report) -> bool| runs.iter().flatten().filter(|r| f(r)).count();
    let diverged = count(&|r| r.outcome == Outcome::Diverged);
    let not_conv = count(&|r| r.outcome == Outcome::NotConverged);
    let capped =
        count(&|r| r.outcome == Outcome::NotConverged && r.stopped_by == StopReason::TimeLimit);
    let interrupted = count(&|r| r.outcome == Outcome::Interrupted);
    let missing = runs.iter().filter(|r| r.is_none()).count();
    let mut parts = Vec::new();
    if not_conv > 0 {
        parts.push(if capped > 0 {
            format!("{not_conv} not_converged ({capped} at the safety cap)")
        } else {
            format!("{not_conv} not_converged")
        });
    }
    for (n, what) in [
        (diverged, "diverged"),
        (interrupted, "interrupted"),
        (missing, "no report"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    if parts.is_empty() {
        "–".into()
    } else {
        parts.join(", ")
    }
}

/// The staleness histograms of the runs, summed (counts by τ; overflow separately).
pub fn merged_staleness(runs: &[Option<Report>]) -> (Vec<u64>, u64) {
    let mut counts: Vec<u64> = Vec::new();
    let mut overflow = 0;
    for r in runs.iter().flatten() {
        let c = &r.staleness.counts;
        if counts.len() < c.len() {
            counts.resize(c.len(), 0);
        }
        for (i, x) in c.iter().enumerate() {
            counts[i] += x;
        }
        overflow += r.staleness.overflow;
    }
    while counts.len() > 1 && counts.last() == Some(&0) {
        counts.pop();
    }
    (counts, overflow)
}

/// Draw `c` into `img/file` (and a PNG with `XTASK_PNG`) and link it from `md`.
pub fn chart(img: &Path, file: &str, c: Chart, md: &mut String) {
    if std::env::var_os("XTASK_PNG").is_some() {
        let _ = c.write(&img.join(file.replace(".svg", ".png")));
    }
    match c.write(&img.join(file)) {
        Ok(()) => {
            let _ = writeln!(md, "\n![{}](img/{file})", c.title);
        }
        Err(e) => eprintln!("xtask bench: cannot draw {file}: {e}"),
    }
}

/// At most `n` points, evenly picked (the plots need no more).
pub fn thin(v: Vec<(f64, f64)>, n: usize) -> Vec<(f64, f64)> {
    if v.len() <= n {
        return v;
    }
    let step = v.len() as f64 / n as f64;
    (0..n).map(|i| v[(i as f64 * step) as usize]).collect()
}

/// ε fraction as a percentage label ("50", "2.5").
pub fn pct(e: f64) -> String {
    format!("{}", (e * 1000.0).round() / 10.0)
}

/// The runs of all cells, kept for a later experiment (A.1 reads S1's histograms).
pub type Cells = Vec<(&'static str, usize, Runs)>;

#[cfg(test)]
mod tests {
    use super::*;

    /// A report read back as the trainer writes it, with the fields a test sets.
    fn report(outcome: &str, stopped_by: &str, eps_seconds: Option<f64>) -> Report {
        let mut v: serde_json::Value =
            serde_json::from_str(include_str!("testdata/report.json")).unwrap();
        v["outcome"] = outcome.into();
        v["stopped_by"] = stopped_by.into();
        v["eps"][0]["seconds"] = eps_seconds.map_or(serde_json::Value::Null, Into::into);
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn outcomes_keep_diverged_and_not_converged_apart() {
        let runs = vec![
            Some(report("converged", "eps", Some(2.0))),
            Some(report("diverged", "divergence", None)),
            Some(report("not_converged", "budget", None)),
            Some(report("not_converged", "time_limit", None)),
            Some(report("converged", "eps", Some(1.0))),
            Some(report("converged", "eps", Some(4.0))),
            None,
        ];
        assert_eq!(
            outcomes(&runs),
            "2 not_converged (1 at the safety cap), 1 diverged, 1 no report"
        );
        assert_eq!(mmm(&runs, eps_s(0), " s", 1), "2.0 s [1.0, 4.0] 3/7");
        assert_eq!(mmm(&runs[1..2], eps_s(0), " s", 1), "not reached 0/1");
        assert_eq!(outcomes(&runs[..1]), "–");
        assert_eq!(
            runner::ending(runs[3].as_ref().unwrap()),
            "not_converged (safety cap)"
        );
    }

    #[test]
    fn staleness_histograms_merge() {
        let mut a = report("converged", "eps", None);
        a.staleness.counts = vec![1, 2, 0, 0];
        a.staleness.overflow = 1;
        let mut b = a.clone();
        b.staleness.counts = vec![0, 1, 3];
        b.staleness.overflow = 0;
        assert_eq!(merged_staleness(&[Some(a), Some(b)]), (vec![1, 3, 3], 1));
    }

    #[test]
    fn budgets_are_updates() {
        let b = Budget {
            updates: 1200,
            batch: 500,
            cap_seconds: 60.0,
        };
        assert_eq!(b.epochs(), 10.0);
        assert_eq!(b.args()[3], "10.000000");
        assert_eq!(pct(0.025), "2.5");
    }
}

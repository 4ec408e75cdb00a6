//! Table A.1 on the MPI parameter server: the staleness models fitted to the τ histograms of
//! `trainer --executor mpi` (Alg. A.1, one server rank and m worker ranks) at m = 2, 4, 8 —
//! the thesis' own setting (a parameter server with worker processes, §A.6), where A1 fits the
//! threaded executor's histograms.
//!
//! The MPI trainer is a build of its own (`--features mpi`, needs an MPI library), copied to
//! `target/release/trainer-mpi` so that the other experiments keep the plain binary at
//! `target/release/trainer`. Where `mpirun` is missing the section says so and the suite goes on.

use super::runner::{Runner, Runs};
use super::{median_by, merged_staleness, opt, outcomes, s, Budget};
use crate::suite::Section;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use trainer::Report;

/// Worker counts of the section (Table A.1's first three columns).
pub const WORKERS: [usize; 3] = [2, 4, 8];

/// The thesis' Table A.1 at m = 2, 4, 8: (m, p (Geom), τ̂ (Unif), λ (Pois), ν (CMP, A.13)).
// ν = 6.28 at m = 2 is the thesis' figure, not 2π.
#[allow(clippy::approx_constant)]
pub const TABLE_A1: [(usize, f64, f64, f64, f64); 3] = [
    (2, 0.34, 2.0, 2.0, 6.28),
    (4, 0.21, 5.0, 4.0, 5.26),
    (8, 0.12, 11.0, 8.0, 4.18),
];

/// The line printed, and written as the section, where MPI is missing.
pub const NOT_INSTALLED: &str = "MPI not installed: section NOT RUN";

/// One fitted model: its parameters and D_B, or the parameters that ended on a search bound
/// (then it is no fit: the optimum lies beyond the bound).
#[derive(Clone, Debug, PartialEq)]
pub enum Fitted {
    Fit { params: Vec<f64>, distance: f64 },
    OnBound(Vec<&'static str>),
}

impl Fitted {
    fn of(f: &staleness::Fit, keep: &[&str]) -> Self {
        if !f.at_bound.is_empty() {
            return Fitted::OnBound(f.at_bound.iter().map(|b| b.param).collect());
        }
        Fitted::Fit {
            params: f
                .model
                .params()
                .iter()
                .filter(|(n, _)| keep.is_empty() || keep.contains(n))
                .map(|(_, v)| *v)
                .collect(),
            distance: f.bhattacharyya,
        }
    }

    /// The first parameter of a fit.
    #[cfg(test)]
    fn param(&self) -> Option<f64> {
        match self {
            Fitted::Fit { params, .. } => params.first().copied(),
            Fitted::OnBound(_) => None,
        }
    }

    fn show(&self) -> String {
        match self {
            Fitted::Fit { params, distance } => {
                // τ̂ (Unif) is an integer.
                let p: Vec<String> = params
                    .iter()
                    .map(|v| {
                        if v.fract() == 0.0 {
                            format!("{v}")
                        } else {
                            format!("{v:.3}")
                        }
                    })
                    .collect();
                format!("{} ({distance:.3})", p.join(", "))
            }
            Fitted::OnBound(b) => format!("{} on a search bound, no fit", b.join(", ")),
        }
    }
}

/// The fits of one worker count, by the Table A.1 procedure (`staleness::fit`, as A1).
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub m: usize,
    pub updates: u64,
    pub overflow: u64,
    pub mean: f64,
    /// The most frequent τ and its share of the updates.
    pub mode: (usize, f64),
    pub geometric: Option<Fitted>,
    pub uniform: Option<Fitted>,
    pub poisson: Option<Fitted>,
    pub cmp: Option<Fitted>,
    /// CMP under (A.13), λ = m^ν: ν only.
    pub cmp_a13: Option<Fitted>,
    /// The family with the least D_B (A.13 aside), and whether its fit is on a search bound.
    pub best: Option<(&'static str, bool)>,
}

/// Fit the four families and the A.13 CMP to the histogram `counts` (by τ) of m workers.
/// None for an empty histogram.
pub fn fit_row(m: usize, counts: Vec<u64>, overflow: u64) -> Option<Row> {
    let counts = staleness::Counts::from_counts(counts);
    if counts.total() == 0 {
        return None;
    }
    let fits = staleness::fit::fit_families(&counts);
    let of = |fam: staleness::Family| {
        fits.iter()
            .find(|f| f.model.family() == fam)
            .map(|f| Fitted::of(f, &[]))
    };
    Some(Row {
        m,
        updates: counts.total(),
        overflow,
        mean: counts.mean(),
        mode: (
            counts.mode(),
            counts.count(counts.mode()) as f64 / counts.total() as f64,
        ),
        geometric: of(staleness::Family::Geometric),
        uniform: of(staleness::Family::Uniform),
        poisson: of(staleness::Family::Poisson),
        cmp: of(staleness::Family::Cmp),
        cmp_a13: staleness::fit::fit_cmp_a13(&counts, m as f64).map(|f| Fitted::of(&f, &["nu"])),
        best: fits
            .first()
            .map(|f| (f.model.family().name(), !f.at_bound.is_empty())),
    })
}

/// "ours / thesis" for one Table A.1 cell.
fn beside(ours: &Option<Fitted>, thesis: f64, decimals: usize) -> String {
    format!(
        "{} / {thesis:.decimals$}",
        ours.as_ref().map_or("–".into(), Fitted::show)
    )
}

/// The section's table: our fits beside the thesis' Table A.1, one row per worker count, with
/// the runs' throughput and the server's cost per update.
pub fn table(rows: &[(Row, String)]) -> String {
    let mut md = String::from(
        "| m | updates | τ mean | mode of τ (share) | p (Geom): ours (D_B) / Table A.1 | τ̂ (Unif) | \
         λ (Pois) | λ, ν (CMP) | ν (CMP, A.13) | best | updates/s · server µs/update (p50) |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (row, extra) in rows {
        let t = TABLE_A1.iter().find(|t| t.0 == row.m);
        let th = |i: usize| t.map_or(f64::NAN, |t| [t.1, t.2, t.3, t.4][i]);
        let _ = writeln!(
            md,
            "| {} | {}{} | {:.2} | {} ({:.0} %) | {} | {} | {} | {} | {} | {} | {extra} |",
            row.m,
            row.updates,
            if row.overflow > 0 {
                format!(" (+{} > τ_max)", row.overflow)
            } else {
                String::new()
            },
            row.mean,
            row.mode.0,
            100.0 * row.mode.1,
            beside(&row.geometric, th(0), 2),
            beside(&row.uniform, th(1), 0),
            beside(&row.poisson, th(2), 1),
            row.cmp.as_ref().map_or("–".into(), Fitted::show),
            beside(&row.cmp_a13, th(3), 2),
            match row.best {
                Some((f, false)) => f.to_string(),
                Some((f, true)) => format!("{f} (on a bound)"),
                None => "–".into(),
            },
        );
    }
    md
}

/// `mpirun` on PATH.
pub fn mpirun() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("mpirun"))
        .find(|p| p.is_file())
}

/// Build the trainer with `--features mpi` and keep its binary as `trainer-mpi`; then build the
/// plain one again, which puts the other experiments' `target/release/trainer` back (cargo
/// keeps both builds, so this only relinks).
fn build(target: &Path) -> Result<PathBuf, String> {
    let cargo = || Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    let base = ["build", "--release", "-p", "trainer", "--bin", "trainer"];
    let ok = |c: &mut Command| c.status().map(|s| s.success()).unwrap_or(false);
    if !ok(cargo().args(base).args(["--features", "mpi"])) {
        return Err("`cargo build --release -p trainer --features mpi` failed".into());
    }
    let bin = target.join("release/trainer");
    let mpi = target.join("release/trainer-mpi");
    // A copy, not a link: the next build replaces `trainer`.
    std::fs::copy(&bin, &mpi).map_err(|e| format!("cannot copy {}: {e}", bin.display()))?;
    if !ok(cargo().args(base)) {
        return Err("rebuilding the plain trainer after the MPI one failed".into());
    }
    Ok(mpi)
}

/// Open MPI's options for this machine: root allowed (containers), more ranks than cores.
fn launcher_args(mpirun: &Path) -> Vec<String> {
    let open_mpi = Command::new(mpirun)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("Open MPI"));
    if open_mpi {
        s(&["--allow-run-as-root", "--oversubscribe"])
    } else {
        Vec::new()
    }
}

/// b = 128 as Ch. A's runs; a fixed update budget (no ε stop), so that every histogram has the
/// same number of updates.
fn budget(quick: bool) -> Budget {
    Budget {
        updates: if quick { 600 } else { 3_000 },
        batch: 128,
        cap_seconds: if quick { 120.0 } else { 600.0 },
    }
}

fn not_run(why: &str) -> Section {
    eprintln!("xtask bench: [mpi] {why}");
    Section {
        name: "mpi",
        markdown: format!("{HEADING}\n\n{why}.\n"),
    }
}

const HEADING: &str = "## Table A.1 on the MPI parameter server (Alg. A.1, 2, 4, 8 workers)";

pub fn run(r: &mut Runner) -> Section {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), Into::into);
    let Some(mpirun) = mpirun() else {
        return not_run(&format!(
            "{NOT_INSTALLED} (no `mpirun` on PATH; docs/mpi.md, Set-up, says what to install)"
        ));
    };
    let bin = match build(&target) {
        Ok(b) => b,
        Err(e) => {
            r.failed += 1;
            return not_run(&format!("MPI build failed: section NOT RUN ({e})"));
        }
    };
    let mut mr = r.child(mpirun.clone());
    let launch = launcher_args(&mpirun);
    let b = budget(r.opts.quick);
    let mut rows = Vec::new();
    let mut missing = String::new();
    for m in WORKERS {
        let mut args = launch.clone();
        args.extend(s(&["-np", &(m + 1).to_string()]));
        args.push(bin.display().to_string());
        args.extend(s(&[
            "--executor",
            "mpi",
            "--algorithm",
            "async",
            "--preset",
            "thesis",
            "--arch",
            "mlp",
            "--eval-points",
            "0",
        ]));
        args.extend(b.args());
        let runs = mr.cell("mpi", &format!("ASYNC [mpi] m={m}"), &args);
        let (c, over) = merged_staleness(&runs);
        match fit_row(m, c, over) {
            Some(row) => rows.push((row, extra(&runs))),
            None => {
                let _ = write!(missing, " m = {m}: no histogram ({}).", outcomes(&runs));
            }
        }
    }
    r.absorb(mr);
    let library = mpi_library(&mpirun).unwrap_or_else(|| "unknown MPI library".into());
    let mut md = format!(
        "{HEADING}\n\n\
         `mpirun -np m+1 trainer --executor mpi --algorithm async` ({library}): rank 0 the \
         parameter server, m worker ranks, MLP 3×128, thesis preset, {}, no evaluations; τ as the \
         server counts it (updates applied between a worker's read of θ and its gradient's \
         application), the histograms of all repeats of a cell summed and fitted by minimum \
         Bhattacharyya distance as Table A.1 (`staleness::fit`, the code A1 uses); CMP also \
         under (A.13) λ = m^ν. Each cell: our parameter (D_B) / the thesis' Table A.1 (§A.6: \
         CNN on CIFAR-10, Python worker processes on a 36-thread Xeon). This machine has {} \
         cores: m + 1 ranks time-share them.{missing}\n\n",
        b.describe(),
        super::cores()
    );
    md.push_str(&table(&rows));
    md.push_str(&note(&rows));
    Section {
        name: "mpi",
        markdown: md,
    }
}

/// What the histograms' shape says, from the rows: where τ is a near point mass at m − 1
/// (at least 80 % of the updates there).
pub fn note(rows: &[(Row, String)]) -> String {
    let turns: Vec<&Row> = rows
        .iter()
        .map(|r| &r.0)
        .filter(|r| r.mode.0 + 1 == r.m && r.mode.1 >= 0.8)
        .collect();
    if turns.is_empty() {
        return String::new();
    }
    let share =
        |f: fn(f64, f64) -> f64| 100.0 * turns.iter().map(|r| r.mode.1).fold(turns[0].mode.1, f);
    let ms: Vec<String> = turns.iter().map(|r| r.m.to_string()).collect();
    let (lo, hi) = (share(f64::min).round(), share(f64::max).round());
    let range = if lo == hi {
        format!("{lo}")
    } else {
        format!("{lo}–{hi}")
    };
    format!(
        "\nAt m = {}, τ = m − 1 for {range} % of the updates: the workers take turns at the \
         server (ranks on one machine have nearly the same T_c, and the server serves in \
         arrival order), so a gradient follows exactly the other m − 1 workers' updates. A near \
         point mass is CMP's limit ν → ∞ (ν then ends on its search bound) and fits a Poisson \
         badly; Table A.1's fits (λ ≈ m, ν of 4–6 under A.13, P[τ = 0] = p of 0.12–0.34) are of \
         the wider histograms of the thesis' Python worker processes.\n",
        ms.join(", "),
    )
}

/// Updates/s and the server's per-update cost (median over the runs).
fn extra(runs: &Runs) -> String {
    let cost = |v: &Report| v.mpi.as_ref().map(|m| m.server.total_us.p50);
    format!(
        "{} · {}",
        opt(median_by(runs, |v| Some(v.updates.per_second)), 0),
        opt(median_by(runs, cost), 0)
    )
}

/// The first line of `mpirun --version`.
fn mpi_library(mpirun: &Path) -> Option<String> {
    let o = Command::new(mpirun).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&o.stdout);
    let line = text.lines().next()?.trim();
    // "mpirun (Open MPI) 4.1.4" → "Open MPI 4.1.4"
    let name = line.trim_start_matches("mpirun").replace(['(', ')'], "");
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A histogram of `n` draws shaped as `pmf` (rounded).
    fn counts(pmf: impl Fn(usize) -> f64, n: f64, len: usize) -> Vec<u64> {
        (0..len).map(|k| (pmf(k) * n).round() as u64).collect()
    }

    fn poisson(lambda: f64) -> impl Fn(usize) -> f64 {
        move |k| {
            let lf: f64 = (1..=k).map(|i| (i as f64).ln()).sum();
            (k as f64 * lambda.ln() - lambda - lf).exp()
        }
    }

    #[test]
    fn a_poisson_histogram_fits_its_lambda_and_poisson_beats_geometric() {
        let row = fit_row(4, counts(poisson(4.0), 100_000.0, 30), 0).unwrap();
        let lambda = row.poisson.as_ref().and_then(Fitted::param).unwrap();
        assert!((lambda - 4.0).abs() < 0.05, "{row:?}");
        let d = |f: &Option<Fitted>| match f {
            Some(Fitted::Fit { distance, .. }) => *distance,
            _ => f64::INFINITY,
        };
        assert!(d(&row.poisson) < 1e-3, "{row:?}");
        assert!(d(&row.poisson) < d(&row.geometric), "{row:?}");
        assert!(matches!(row.best, Some(("poisson" | "cmp", _))), "{row:?}");
        assert_eq!(row.mode.0, 3); // P[3] = P[4] for Poisson(4): the mode is the smaller
        assert!((row.mode.1 - 0.195).abs() < 0.001, "{row:?}");
        assert!((row.mean - 4.0).abs() < 0.01);
        assert!(fit_row(2, vec![0, 0, 0], 0).is_none());
    }

    #[test]
    fn a_geometric_histogram_fits_its_p() {
        let p: f64 = 0.3;
        let row = fit_row(
            2,
            counts(|k| p * (1.0 - p).powi(k as i32), 100_000.0, 60),
            0,
        )
        .unwrap();
        let fitted = row.geometric.as_ref().and_then(Fitted::param).unwrap();
        assert!((fitted - p).abs() < 0.01, "{row:?}");
    }

    #[test]
    fn the_table_puts_the_thesis_values_beside_ours() {
        let c = counts(poisson(2.0), 10_000.0, 20);
        let total: u64 = c.iter().sum();
        let row = fit_row(2, c, 3).unwrap();
        let md = table(&[(row, "120 · 45".into())]);
        let line = md.lines().nth(2).unwrap();
        // P[1] = P[2] for Poisson(2): the mode is the smaller.
        let head = format!("| 2 | {total} (+3 > τ_max) | 2.00 | 1 (27 %) |");
        assert!(line.starts_with(&head), "{line}");
        assert!(line.contains(" / 0.34 |"), "{line}"); // p (Geom) at m = 2
        assert!(line.contains(" / 2.0 |"), "{line}"); // λ (Pois)
        assert!(line.contains(" / 6.28 |"), "{line}"); // ν (CMP, A.13)
        assert!(line.ends_with("| 120 · 45 |"), "{line}");
        assert!(
            note(&[(fit_row(2, vec![3, 97], 0).unwrap(), String::new())])
                .contains("At m = 2, τ = m − 1 for 97 %")
        );
        assert_eq!(
            note(&[(fit_row(4, vec![3, 97], 0).unwrap(), String::new())]),
            ""
        );
        assert_eq!(
            note(&[(fit_row(2, vec![30, 70], 0).unwrap(), String::new())]),
            ""
        );
        assert_eq!(
            Fitted::OnBound(vec!["nu"]).show(),
            "nu on a search bound, no fit"
        );
    }
}
